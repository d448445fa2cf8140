//! RubyGems version ordering after `Gem::Version#<=>`: numeric and alphabetic segments,
//! any letter making a pre-release, trailing zeros insignificant.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Num(String),
    Str(String),
}

impl Segment {
    fn is_zero(&self) -> bool {
        matches!(self, Segment::Num(d) if d.is_empty())
    }
}

fn cmp_segment(a: &Segment, b: &Segment) -> Ordering {
    match (a, b) {
        (Segment::Num(x), Segment::Num(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
        (Segment::Str(x), Segment::Str(y)) => x.cmp(y),
        (Segment::Str(_), Segment::Num(_)) => Ordering::Less,
        (Segment::Num(_), Segment::Str(_)) => Ordering::Greater,
    }
}

/// Checks RubyGems' version pattern: `N(.X)*(-X(.X)*)?` with alphanumeric X.
fn valid(v: &str) -> bool {
    let (release, pre) = match v.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (v, None),
    };
    let mut parts = release.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    first_ok && rest_ok && pre_ok
}

/// Numeric segments, then (from the first string on) the rest, each with trailing zeros
/// removed, as `canonical_segments` does.
fn canonical(v: &str) -> Option<Vec<Segment>> {
    let v = v.trim();
    if !valid(v) {
        return None;
    }
    let v = v.replace('-', ".pre.");
    let mut segments = Vec::new();
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if bytes[i].is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            segments.push(Segment::Num(
                v[start..i].trim_start_matches('0').to_string(),
            ));
        } else if bytes[i].is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            segments.push(Segment::Str(v[start..i].to_string()));
        } else {
            i += 1;
        }
    }
    let split = segments
        .iter()
        .position(|s| matches!(s, Segment::Str(_)))
        .unwrap_or(segments.len());
    let mut strings = segments.split_off(split);
    let mut numbers = segments;
    while numbers.last().is_some_and(Segment::is_zero) {
        numbers.pop();
    }
    while strings.last().is_some_and(Segment::is_zero) {
        strings.pop();
    }
    numbers.append(&mut strings);
    Some(numbers)
}

/// Compares two RubyGems versions; `None` when either does not match RubyGems' pattern.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (canonical(a)?, canonical(b)?);
    let zero = Segment::Num(String::new());
    for k in 0..a.len().max(b.len()) {
        let ord = cmp_segment(a.get(k).unwrap_or(&zero), b.get(k).unwrap_or(&zero));
        if ord.is_ne() {
            return Some(ord);
        }
    }
    Some(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_orderings() {
        let ordered = [
            "1.0.a",
            "1.0.b1",
            "1.0.rc1",
            "1.0",
            "1.0.1",
            "1.1.pre",
            "1.1",
            "1.10",
            "2.0.0-beta",
            "2.0.0",
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
        assert_eq!(compare("1.0.0", "1"), Some(Ordering::Equal));
        assert_eq!(compare("1.0.0-rc1", "1.0.0.pre.rc1"), Some(Ordering::Equal));
        assert_eq!(compare("6.1.7.7", "6.1.7.10"), Some(Ordering::Less));
        assert_eq!(compare("a.1", "1"), None);
        assert_eq!(compare("1..2", "1"), None);
    }

    fn version() -> impl Strategy<Value = String> {
        "[0-9]{1,2}(\\.([0-9]{1,2}|rc|pre|a|b[0-9])){0,4}(-[a-z0-9]{1,3})?"
    }

    proptest! {
        #[test]
        fn total_order(a in version(), b in version(), c in version()) {
            super::super::tests::check_total_order(compare, &a, &b, &c)?;
        }
    }
}
