//! Debian package version ordering (`deb-version(7)`): `[epoch:]upstream[-revision]`.

use std::cmp::Ordering;

struct DebVersion<'a> {
    epoch: u64,
    upstream: &'a str,
    revision: &'a str,
}

fn parse(v: &str) -> Option<DebVersion<'_>> {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) => {
            if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (e.parse().ok()?, rest)
        }
        None => (0, v),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => {
            if r.is_empty()
                || !r
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+.~".contains(&b))
            {
                return None;
            }
            (u, r)
        }
        None => (rest, ""),
    };
    // dpkg itself only warns about a non-digit start; advisories always start with one, and
    // accepting anything would let prose ("unfixed") masquerade as a version.
    if !upstream.as_bytes().first()?.is_ascii_digit()
        || !upstream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+.~-:".contains(&b))
    {
        return None;
    }
    Some(DebVersion {
        epoch,
        upstream,
        revision,
    })
}

/// Weight of one character in a non-digit run: `~` sorts before everything, even the end
/// of the string; letters sort before other symbols.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let si = i;
        let sj = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        // Leading zeros are gone, so a longer digit run is the larger number.
        let ord = (i - si)
            .cmp(&(j - sj))
            .then_with(|| a[si..i].cmp(&b[sj..j]));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Compares two dpkg versions; `None` when either is not a valid dpkg version.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (parse(a)?, parse(b)?);
    Some(
        a.epoch
            .cmp(&b.epoch)
            .then_with(|| verrevcmp(a.upstream, b.upstream))
            .then_with(|| verrevcmp(a.revision, b.revision)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_orderings() {
        let ordered = [
            "0.9",
            "1.0~rc1",
            "1.0~rc2",
            "1.0",
            "1.0-1",
            "1.0-1+deb11u1",
            "1.0-2",
            "1.0a",
            "1.0+dfsg",
            "1.0.1",
            "1.10",
            "2.0",
            "1:0.9",
            "1:1.2.11.dfsg-2+deb11u2",
            "2:0.1",
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
        assert_eq!(compare("1.0", "1.0-0"), Some(Ordering::Equal));
        assert_eq!(compare("01.0", "1.0"), Some(Ordering::Equal));
        assert_eq!(
            compare("5.2.5-2.1~deb11u1", "5.2.5-2.1"),
            Some(Ordering::Less)
        );
        assert_eq!(compare("1.0-1", "1.0-1~bpo1"), Some(Ordering::Greater));
        // Hyphens in upstream are allowed when a revision follows.
        assert_eq!(compare("1.2-3-4", "1.2-3-5"), Some(Ordering::Less));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "x:1.0", "1.0-", "1.0 beta", ":1.0", "1.0-ü"] {
            assert_eq!(compare(bad, "1.0"), None, "{bad:?}");
        }
    }

    fn version() -> impl Strategy<Value = String> {
        "([0-3]:)?[0-9]{1,2}([.+~][0-9a-c]{1,2}){0,3}(-[0-9a-c~+.]{1,4})?"
    }

    proptest! {
        #[test]
        fn total_order(a in version(), b in version(), c in version()) {
            super::super::tests::check_total_order(compare, &a, &b, &c)?;
        }
    }
}
