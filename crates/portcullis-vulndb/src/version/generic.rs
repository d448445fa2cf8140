//! A SemVer-like order for ecosystems without a comparator of their own (NuGet, Packagist,
//! Hackage, …): any number of numeric release components (zero-padded), then an optional
//! `-pre.release` that sorts before the release, identifiers compared case-insensitively.

use std::cmp::Ordering;

struct Parsed {
    release: Vec<String>,
    pre: Option<Vec<String>>,
}

fn parse(v: &str) -> Option<Parsed> {
    let v = v.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let v = v.split_once('+').map_or(v, |(core, _)| core);
    let (release, pre) = match v.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (v, None),
    };
    let release: Vec<String> = release
        .split('.')
        .map(|p| {
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.trim_start_matches('0').to_string())
        })
        .collect::<Option<_>>()?;
    let pre = match pre {
        None => None,
        Some(p) => Some(
            p.split(['.', '-'])
                .map(|s| {
                    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()))
                        .then(|| s.to_ascii_lowercase())
                })
                .collect::<Option<Vec<_>>>()?,
        ),
    };
    Some(Parsed { release, pre })
}

fn cmp_numeric(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_identifier(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    match (numeric(a), numeric(b)) {
        (true, true) => cmp_numeric(a.trim_start_matches('0'), b.trim_start_matches('0')),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

/// Compares two versions; `None` when a release component is not numeric.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (parse(a)?, parse(b)?);
    for k in 0..a.release.len().max(b.release.len()) {
        let x = a.release.get(k).map_or("", String::as_str);
        let y = b.release.get(k).map_or("", String::as_str);
        let ord = cmp_numeric(x, y);
        if ord.is_ne() {
            return Some(ord);
        }
    }
    Some(match (&a.pre, &b.pre) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            for (p, q) in x.iter().zip(y) {
                let ord = cmp_identifier(p, q);
                if ord.is_ne() {
                    return Some(ord);
                }
            }
            x.len().cmp(&y.len())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_orderings() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-Beta.2",
            "1.0.0-beta.11",
            "1.0.0-RC1",
            "1.0",
            "1.0.0.1",
            "v1.2",
            "4.0.0.0",
            "13.0.1",
        ];
        for w in ordered.windows(2) {
            assert_eq!(
                compare(w[0], w[1]),
                Some(Ordering::Less),
                "{} < {}",
                w[0],
                w[1]
            );
            assert_eq!(compare(w[1], w[0]), Some(Ordering::Greater));
        }
        assert_eq!(compare("1.0", "1.0.0.0"), Some(Ordering::Equal));
        assert_eq!(compare("dev-master", "1.0"), None);
    }

    fn version() -> impl Strategy<Value = String> {
        "v?[0-9]{1,2}(\\.[0-9]{1,2}){0,3}(-[a-zA-Z0-9]{1,3}(\\.[a-z0-9]{1,2}){0,2})?"
    }

    proptest! {
        #[test]
        fn total_order(a in version(), b in version(), c in version()) {
            super::super::tests::check_total_order(compare, &a, &b, &c)?;
        }
    }
}
