//! Alpine apk version ordering, following apk-tools' tokeniser:
//! `1.2.3[a][_suffix[N]]...[-rN]`, e.g. `1.1.1d-r3`, `6.1_p20191130-r0`.

use std::cmp::Ordering;

/// Token kinds in apk-tools' order; a version may only move forward through them, with
/// the few backward steps listed in `allowed_transition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

const PRE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    value: i64,
}

impl Token {
    /// Position of this token's kind when two versions diverge in kind: a pre-release
    /// suffix sorts lowest, then the end of the string, then the later kinds first.
    fn rank(self) -> i64 {
        if self.kind == Kind::Suffix && self.value < 0 {
            -1
        } else {
            100 - self.kind as i64
        }
    }
}

fn allowed_transition(from: Kind, to: Kind) -> bool {
    to >= from
        || (to == Kind::DigitOrZero && from == Kind::Digit)
        || (to == Kind::Suffix && from == Kind::SuffixNo)
        || (to == Kind::Digit && from == Kind::Letter)
}

/// Splits a version into tokens ending with `End`; `None` for anything apk would call invalid.
fn tokenize(v: &str) -> Option<Vec<Token>> {
    let s = v.as_bytes();
    if s.is_empty() || !s[0].is_ascii_digit() {
        return None;
    }
    let mut tokens = Vec::new();
    let mut kind = Kind::Digit;
    let mut i = 0;
    // After a run of leading zeros apk reads a digit token next, even an empty one.
    let mut after_zeros = false;
    loop {
        let mut next_forced = None;
        let value = match kind {
            Kind::End => {
                tokens.push(Token { kind, value: 0 });
                return Some(tokens);
            }
            Kind::DigitOrZero if s.get(i) == Some(&b'0') => {
                let start = i;
                while s.get(i) == Some(&b'0') {
                    i += 1;
                }
                next_forced = Some(Kind::Digit);
                -i64::try_from(i - start).ok()?
            }
            Kind::DigitOrZero | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => {
                let start = i;
                while s.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                if i == start && !after_zeros {
                    return None;
                }
                if i == start {
                    0
                } else {
                    // Dates and commit counts fit easily; anything longer is not a real version.
                    std::str::from_utf8(&s[start..i]).ok()?.parse().ok()?
                }
            }
            Kind::Letter => {
                i += 1;
                i64::from(s[i - 1])
            }
            Kind::Suffix => {
                let rest = &v[i..];
                if let Some(n) = PRE_SUFFIXES.iter().position(|p| rest.starts_with(p)) {
                    i += PRE_SUFFIXES[n].len();
                    n as i64 - PRE_SUFFIXES.len() as i64
                } else if let Some(n) = POST_SUFFIXES.iter().position(|p| rest.starts_with(p)) {
                    i += POST_SUFFIXES[n].len();
                    n as i64
                } else {
                    return None;
                }
            }
        };
        tokens.push(Token { kind, value });
        after_zeros = next_forced.is_some();
        let next = if i >= s.len() {
            Kind::End
        } else if let Some(forced) = next_forced {
            forced
        } else {
            let c = s[i];
            let n = if matches!(kind, Kind::Digit | Kind::DigitOrZero) && c.is_ascii_lowercase() {
                Kind::Letter
            } else if kind == Kind::Letter && c.is_ascii_digit() {
                Kind::Digit
            } else if kind == Kind::Suffix && c.is_ascii_digit() {
                Kind::SuffixNo
            } else {
                i += 1;
                match c {
                    b'.' => Kind::DigitOrZero,
                    b'_' => Kind::Suffix,
                    b'-' if s.get(i) == Some(&b'r') => {
                        i += 1;
                        Kind::RevisionNo
                    }
                    _ => return None,
                }
            };
            if !allowed_transition(kind, n) {
                return None;
            }
            n
        };
        kind = next;
    }
}

/// Compares two apk versions; `None` when either is not a valid apk version.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (ta, tb) = (tokenize(a)?, tokenize(b)?);
    for (x, y) in ta.iter().zip(&tb) {
        let ord = if x.kind == y.kind {
            x.value.cmp(&y.value)
        } else {
            x.rank().cmp(&y.rank())
        };
        if ord != Ordering::Equal || x.kind == Kind::End {
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
            "1.0",
            "1.2",
            "1.2.3_alpha",
            "1.2.3_beta2",
            "1.2.3_pre1",
            "1.2.3_rc1",
            "1.2.3",
            "1.2.3-r1",
            "1.2.3-r10",
            "1.2.3_p1",
            "1.2.3a",
            "1.2.3.1",
            "1.2.10",
            "6.1_p20191130-r0",
            "6.1_p20200118-r0",
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
        assert_eq!(compare("1.1.1d-r3", "1.1.1d-r3"), Some(Ordering::Equal));
        assert_eq!(compare("1.1.1d-r3", "1.1.1g-r0"), Some(Ordering::Less));
        assert_eq!(compare("1.1.1-r3", "1.1.1d-r0"), Some(Ordering::Less));
        // A leading zero makes the component compare like a decimal fraction.
        assert_eq!(compare("1.05", "1.5"), Some(Ordering::Less));
        assert_eq!(compare("1.0", "1"), Some(Ordering::Greater));
        assert_eq!(compare("2.0_git20200101", "2.0"), Some(Ordering::Greater));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "", "a1", "1.2a.3", "1.0-x", "1.0_foo", "1.0ab", "1..0", "1.0-r",
        ] {
            assert_eq!(compare(bad, "1.0"), None, "{bad:?}");
        }
    }

    fn version() -> impl Strategy<Value = String> {
        "[0-9]{1,2}(\\.0?[0-9]{1,2}){0,3}[a-c]?(_(alpha|beta|rc|p|git)[0-9]{0,2}){0,2}(-r[0-9]{1,2})?"
    }

    proptest! {
        #[test]
        fn total_order(a in version(), b in version(), c in version()) {
            super::super::tests::check_total_order(compare, &a, &b, &c)?;
        }
    }
}
