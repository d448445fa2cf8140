//! CVSS scores of 900 generated vectors (v3.0, v3.1, v4.0 with and without threat and
//! environmental metrics) against scores from an independent implementation.

use portcullis_vulndb::cvss::{score_v3, score_v4};

#[test]
fn scores_match_reference_values() {
    let text = include_str!("fixtures/cvss-scores.txt");
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (vector, expected) = line.rsplit_once(' ').expect("vector and score");
        let expected: f64 = expected.parse().expect("score");
        let got = if vector.starts_with("CVSS:4.0/") {
            score_v4(vector)
        } else {
            score_v3(vector)
        };
        if got != Some(expected) {
            mismatches.push(format!("{vector}: expected {expected}, got {got:?}"));
        }
        checked += 1;
    }
    assert_eq!(checked, 900);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
