//! CVSS v2 base score (specification section 3.2.1), for old records that carry nothing newer.

use super::{metrics, round1};

/// Base score of a v2 vector (`AV:N/AC:L/Au:N/C:P/I:P/A:P`, optionally wrapped in `(…)`
/// or prefixed `CVSS:2.0/`); `None` if it is not one.
pub fn score_v2(vector: &str) -> Option<f64> {
    let v = vector.trim().trim_start_matches('(').trim_end_matches(')');
    let v = v.strip_prefix("CVSS:2.0/").unwrap_or(v);
    let m = metrics(v)?;
    if m.len() != 6 {
        return None;
    }
    let av = match *m.get("AV")? {
        "L" => 0.395,
        "A" => 0.646,
        "N" => 1.0,
        _ => return None,
    };
    let ac = match *m.get("AC")? {
        "H" => 0.35,
        "M" => 0.61,
        "L" => 0.71,
        _ => return None,
    };
    let au = match *m.get("Au")? {
        "M" => 0.45,
        "S" => 0.56,
        "N" => 0.704,
        _ => return None,
    };
    let cia = |k: &str| match *m.get(k)? {
        "N" => Some(0.0),
        "P" => Some(0.275),
        "C" => Some(0.660),
        _ => None,
    };
    let impact = 10.41 * (1.0 - (1.0 - cia("C")?) * (1.0 - cia("I")?) * (1.0 - cia("A")?));
    let exploitability = 20.0 * av * ac * au;
    let f = if impact == 0.0 { 0.0 } else { 1.176 };
    Some(round1(((0.6 * impact) + (0.4 * exploitability) - 1.5) * f).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_scores() {
        assert_eq!(score_v2("AV:N/AC:L/Au:N/C:C/I:C/A:C"), Some(10.0));
        assert_eq!(score_v2("AV:N/AC:L/Au:N/C:P/I:P/A:P"), Some(7.5));
        assert_eq!(score_v2("(AV:N/AC:M/Au:N/C:N/I:P/A:N)"), Some(4.3));
        assert_eq!(score_v2("AV:L/AC:L/Au:N/C:N/I:N/A:N"), Some(0.0));
        assert_eq!(score_v2("AV:N/AC:L/Au:N/C:P/I:P"), None);
    }
}
