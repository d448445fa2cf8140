//! PEP 440 ordering (PyPI) through `pep440_rs`.

use std::cmp::Ordering;
use std::str::FromStr;

/// Compares two PEP 440 versions; `None` for legacy, non-PEP 440 spellings.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let a = pep440_rs::Version::from_str(a.trim()).ok()?;
    let b = pep440_rs::Version::from_str(b.trim()).ok()?;
    Some(a.cmp(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_orderings() {
        let ordered = [
            "1.0.dev1",
            "1.0a1",
            "1.0b2",
            "1.0rc1",
            "1.0",
            "1.0.post1",
            "1.0.1",
            "1.10",
            "1!0.5",
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
        assert_eq!(compare("1.0RC1", "1.0rc1"), Some(Ordering::Equal));
        assert_eq!(compare("v1.0", "1.0"), Some(Ordering::Equal));
        assert_eq!(compare("not a version", "1.0"), None);
    }

    fn version() -> impl Strategy<Value = String> {
        "([0-2]!)?[0-9]{1,2}(\\.[0-9]{1,2}){0,3}((a|b|rc)[0-9]{1,2})?(\\.post[0-9])?(\\.dev[0-9])?(\\+[a-z0-9]{1,3})?"
    }

    proptest! {
        #[test]
        fn total_order(a in version(), b in version(), c in version()) {
            super::super::tests::check_total_order(compare, &a, &b, &c)?;
        }
    }
}
