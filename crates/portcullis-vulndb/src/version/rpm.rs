//! RPM version ordering: `[epoch:]version[-release]`, each part compared with `rpmvercmp`
//! (including `~` for pre-releases and `^` for post-release snapshots).

use std::cmp::Ordering;

fn is_sep(c: u8) -> bool {
    !c.is_ascii_alphanumeric() && c != b'~' && c != b'^'
}

/// rpm's segment comparison; separators are skipped, so `1.0` and `1_0` are equal.
fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && is_sep(a[i]) {
            i += 1;
        }
        while j < b.len() && is_sep(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // `^` sorts after the end of the string but before any further segment.
        if ca == Some(b'^') || cb == Some(b'^') {
            match (ca, cb) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(x), _) if x != b'^' => return Ordering::Greater,
                (_, Some(y)) if y != b'^' => return Ordering::Less,
                _ => {}
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else {
            break;
        };
        let numeric = ca.is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let (si, sj) = (i, j);
        while i < a.len() && class(&a[i]) {
            i += 1;
        }
        while j < b.len() && class(&b[j]) {
            j += 1;
        }
        if j == sj {
            // Different segment kinds: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut x, mut y) = (&a[si..i], &b[sj..j]);
        let ord = if numeric {
            while x.len() > 1 && x[0] == b'0' {
                x = &x[1..];
            }
            while y.len() > 1 && y[0] == b'0' {
                y = &y[1..];
            }
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        } else {
            x.cmp(y)
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    match (i < a.len(), j < b.len()) {
        (false, false) => Ordering::Equal,
        (true, _) => Ordering::Greater,
        (false, true) => Ordering::Less,
    }
}

struct Evr<'a> {
    epoch: u64,
    version: &'a str,
    release: &'a str,
}

fn parse(v: &str) -> Option<Evr<'_>> {
    if v.is_empty()
        || v.bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return None;
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) => {
            if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (e.parse().ok()?, rest)
        }
        None => (0, v),
    };
    let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
    if !version.bytes().any(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(Evr {
        epoch,
        version,
        release,
    })
}

/// Compares two RPM EVR strings; `None` when either has no version at all.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (parse(a)?, parse(b)?);
    Some(
        a.epoch
            .cmp(&b.epoch)
            .then_with(|| rpmvercmp(a.version, b.version))
            .then_with(|| rpmvercmp(a.release, b.release)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_orderings() {
        let ordered = [
            "1.0~rc1",
            "1.0~rc2",
            "1.0",
            "1.0^post",
            "1.0^post1",
            "1.0a",
            "1.0.1",
            "1.2",
            "1.10",
            "2.0-1.el9",
            "2.0-1.el9_2",
            "2.0-2.el9",
            "1:0.5",
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
        assert_eq!(compare("1.0", "1_0"), Some(Ordering::Equal));
        assert_eq!(compare("1.01", "1.1"), Some(Ordering::Equal));
        assert_eq!(compare("0:1.0-1", "1.0-1"), Some(Ordering::Equal));
        assert_eq!(compare("a", "1"), Some(Ordering::Less));
        assert_eq!(
            compare("1.1.1k-7.el8_6", "1:1.1.1k-7.el8_6"),
            Some(Ordering::Less)
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "x:1", "1 0", "...", "-1"] {
            assert_eq!(compare(bad, "1.0"), None, "{bad:?}");
        }
    }

    fn version() -> impl Strategy<Value = String> {
        "([0-2]:)?[0-9a-c]{1,2}([._~^+][0-9a-c]{1,2}){0,3}(-[0-9][0-9a-c._~^]{0,4})?"
    }

    proptest! {
        #[test]
        fn total_order(a in version(), b in version(), c in version()) {
            super::super::tests::check_total_order(compare, &a, &b, &c)?;
        }
    }
}
