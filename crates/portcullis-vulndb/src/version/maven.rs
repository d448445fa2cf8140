//! Maven version ordering after `org.apache.maven.artifact.versioning.ComparableVersion`:
//! `.`-separated items, `-` and digit/letter transitions open nested lists, well-known
//! qualifiers ordered `alpha < beta < milestone < rc < snapshot < "" (release) < sp`,
//! unknown qualifiers after them alphabetically.

use std::cmp::Ordering;

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Decimal digits without leading zeros ("" is zero), so any length compares exactly.
    Int(String),
    /// Qualifier after alias resolution (`ga`, `final`, `release` → "", `cr` → `rc`).
    Str(String),
    List(Vec<Item>),
}

fn int_item(digits: &str) -> Item {
    Item::Int(digits.trim_start_matches('0').to_string())
}

fn str_item(s: &str, followed_by_digit: bool) -> Item {
    let s = match (followed_by_digit, s) {
        (true, "a") => "alpha",
        (true, "b") => "beta",
        (true, "m") => "milestone",
        (_, "ga" | "final" | "release") => "",
        (_, "cr") => "rc",
        (_, other) => other,
    };
    Item::Str(s.to_string())
}

/// Sort key of a qualifier: its index among the known ones, else after all of them.
fn qualifier_key(q: &str) -> (usize, &str) {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => (i, ""),
        None => (QUALIFIERS.len(), q),
    }
}

const RELEASE_KEY: (usize, &str) = (5, "");

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(d) => d.is_empty(),
            Item::Str(s) => s.is_empty(),
            Item::List(l) => l.is_empty(),
        }
    }

    fn cmp_item(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Int(d), None) => {
                if d.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Int(a), Some(Item::Int(b))) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Item::Int(_), Some(_)) => Ordering::Greater,
            (Item::Str(s), None) => qualifier_key(s).cmp(&RELEASE_KEY),
            (Item::Str(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::Str(_), Some(list @ Item::List(_))) => list.cmp_item(Some(self)).reverse(),
            (Item::Str(a), Some(Item::Str(b))) => qualifier_key(a).cmp(&qualifier_key(b)),
            (Item::List(l), None) => l
                .iter()
                .map(|i| i.cmp_item(None))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal),
            (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
            // Maven ranks every list above every qualifier, which makes `1-SNAPSHOT` newer
            // than `1.SP1` and the order cyclic (`1-SNAPSHOT < 1 < 1.SP1`). Ranking by the
            // side of the release each falls on first keeps Maven's order otherwise.
            (Item::List(l), Some(s @ Item::Str(_))) => {
                let list_side = self.cmp_item(None);
                let str_side = s.cmp_item(None);
                if list_side != str_side || l.is_empty() {
                    list_side.cmp(&str_side)
                } else {
                    Ordering::Greater
                }
            }
            (Item::List(a), Some(Item::List(b))) => {
                for k in 0..a.len().max(b.len()) {
                    let ord = match (a.get(k), b.get(k)) {
                        (Some(x), y) => x.cmp_item(y),
                        (None, Some(y)) => y.cmp_item(None).reverse(),
                        (None, None) => Ordering::Equal,
                    };
                    if ord.is_ne() {
                        return ord;
                    }
                }
                Ordering::Equal
            }
        }
    }
}

/// Removes null items (0, release qualifiers, empty lists) from the end, looking past
/// non-null nested lists, and (as Maven 3.9 does) a null item directly before a qualifier:
/// `1.0-alpha` and `1.0.0.Alpha1` read as `1-alpha` and `1.Alpha1`.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            let before_qualifier = match list.get(i + 1) {
                None | Some(Item::Str(_)) => true,
                Some(Item::List(l)) => matches!(l.first(), Some(Item::Str(_))),
                Some(Item::Int(_)) => false,
            };
            if before_qualifier {
                list.remove(i);
            }
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

fn item(buf: &str, is_digit: bool) -> Item {
    if is_digit {
        int_item(buf)
    } else {
        str_item(buf, false)
    }
}

/// Builds the item tree. Nested lists are kept as a stack of open lists; closing one
/// normalises it and appends it to its parent, as Maven's parser does.
fn parse(version: &str) -> Option<Item> {
    if version.is_empty()
        || version.len() > 256
        || version.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let v = version.to_lowercase();
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut is_digit = false;
    let mut start = 0;
    let chars: Vec<(usize, char)> = v.char_indices().collect();
    for &(i, c) in &chars {
        let top = stack.last_mut()?;
        if c == '.' || c == '-' {
            if i == start {
                top.push(Item::Int(String::new()));
            } else {
                top.push(item(&v[start..i], is_digit));
            }
            start = i + c.len_utf8();
            if c == '-' {
                stack.push(Vec::new());
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                top.push(str_item(&v[start..i], true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                top.push(item(&v[start..i], true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if v.len() > start {
        stack.last_mut()?.push(item(&v[start..], is_digit));
    }
    while stack.len() > 1 {
        let mut list = stack.pop()?;
        normalize(&mut list);
        stack.last_mut()?.push(Item::List(list));
    }
    let mut root = stack.pop()?;
    normalize(&mut root);
    Some(Item::List(root))
}

/// Compares two Maven versions; every non-empty string without whitespace is a version.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (parse(a)?, parse(b)?);
    Some(a.cmp_item(Some(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_orderings() {
        let ordered = [
            "1.0-alpha",
            "1.0-alpha-2",
            "1.0-beta",
            "1.0-milestone-1",
            "1.0-rc1",
            "1.0-SNAPSHOT",
            "1.0",
            "1.0-sp1",
            "1.0-abc",
            "1.0-1",
            "1.0.1",
            "1.1",
            "1.10",
            "2.0.0.Final-1",
            "10.0",
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
        for (a, b) in [
            ("1", "1.0.0"),
            ("1.0-ga", "1.0"),
            ("1.0.FINAL", "1"),
            ("1-cr1", "1-rc1"),
            ("1a1", "1-alpha-1"),
            ("1.0-RC1", "1.0-rc1"),
        ] {
            assert_eq!(compare(a, b), Some(Ordering::Equal), "{a} = {b}");
        }
        assert_eq!(
            compare("2.13.4.2", "2.13.4"),
            Some(Ordering::Greater),
            "jackson-databind style fourth component"
        );
        assert_eq!(compare("", "1"), None);
    }

    fn version() -> impl Strategy<Value = String> {
        "[0-9]{1,2}(\\.[0-9]{1,2}){0,3}([.-](alpha|beta|rc|sp|ga|snapshot|final|[a-c])[0-9]?)?(-[0-9]{1,2})?"
    }

    proptest! {
        #[test]
        fn total_order(a in version(), b in version(), c in version()) {
            super::super::tests::check_total_order(compare, &a, &b, &c)?;
        }
    }
}
