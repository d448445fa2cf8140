//! SemVer 2.0 precedence (npm, crates.io, Go, Hex, Pub, …), lenient about the spellings
//! advisories and package metadata use: a `v` or `=` prefix, missing minor or patch
//! (`1.0`), leading zeros. Build metadata (`+incompatible`) never affects precedence.

use std::cmp::Ordering;

/// Parses a version leniently; `None` when no SemVer reading exists.
pub fn parse(v: &str) -> Option<semver::Version> {
    let v = v.trim();
    let v = v.strip_prefix(['v', 'V', '=']).unwrap_or(v);
    if let Ok(parsed) = semver::Version::parse(v) {
        return Some(parsed);
    }
    let split = v.find(['-', '+']).unwrap_or(v.len());
    let (core, rest) = v.split_at(split);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut numbers: Vec<&str> = parts
        .iter()
        .map(|p| {
            let t = p.trim_start_matches('0');
            if t.is_empty() { "0" } else { t }
        })
        .collect();
    numbers.resize(3, "0");
    semver::Version::parse(&format!("{}{rest}", numbers.join("."))).ok()
}

/// Compares by SemVer precedence; `None` when either side is not a version.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(parse(a)?.cmp_precedence(&parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_orderings() {
        let ordered = [
            "0.0.0-0",
            "0.0.0-20191109021931-daa7c04131f5",
            "0.0.0-20200622213623-75b288015ac9",
            "0.1.0",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "v1.0.0",
            "1.0.1-0.20200101000000-abcdefabcdef",
            "1.0.1",
            "1.2",
            "2.0.0+incompatible",
            "v2.1.0",
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
        assert_eq!(compare("1.0", "1.0.0"), Some(Ordering::Equal));
        assert_eq!(compare("v1", "1.0.0"), Some(Ordering::Equal));
        assert_eq!(
            compare("2.0.0+incompatible", "2.0.0"),
            Some(Ordering::Equal)
        );
        assert_eq!(compare("1.0.0.1", "1.0.0"), None);
        assert_eq!(compare("latest", "1.0.0"), None);
    }

    fn version() -> impl Strategy<Value = String> {
        "v?[0-9]{1,2}(\\.[0-9]{1,2}){0,2}(-(alpha|beta|rc|0|[1-9][0-9]?)(\\.(0|[1-9][0-9]?|[a-z]{1,2})){0,2})?(\\+[a-z0-9]{1,4})?"
    }

    proptest! {
        #[test]
        fn total_order(a in version(), b in version(), c in version()) {
            super::super::tests::check_total_order(compare, &a, &b, &c)?;
        }
    }
}
