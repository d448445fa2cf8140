//! CVSS v4.0 score (specification section 8.2): the MacroVector's score from the lookup
//! table, lowered by the vector's mean proportional distance from the MacroVector's
//! highest-severity vectors, as the FIRST reference calculator computes it.

use super::v4_table::lookup;
use super::{metrics, round1};
use std::collections::HashMap;

/// Allowed values of every metric; base metrics first (all mandatory).
const METRICS: [(&str, &[&str]); 32] = [
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("AT", &["N", "P"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "P", "A"]),
    ("VC", &["H", "L", "N"]),
    ("VI", &["H", "L", "N"]),
    ("VA", &["H", "L", "N"]),
    ("SC", &["H", "L", "N"]),
    ("SI", &["H", "L", "N"]),
    ("SA", &["H", "L", "N"]),
    ("E", &["X", "A", "P", "U"]),
    ("CR", &["X", "H", "M", "L"]),
    ("IR", &["X", "H", "M", "L"]),
    ("AR", &["X", "H", "M", "L"]),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MAT", &["X", "N", "P"]),
    ("MPR", &["X", "N", "L", "H"]),
    ("MUI", &["X", "N", "P", "A"]),
    ("MVC", &["X", "H", "L", "N"]),
    ("MVI", &["X", "H", "L", "N"]),
    ("MVA", &["X", "H", "L", "N"]),
    ("MSC", &["X", "H", "L", "N"]),
    ("MSI", &["X", "S", "H", "L", "N"]),
    ("MSA", &["X", "S", "H", "L", "N"]),
    ("S", &["X", "N", "P"]),
    ("AU", &["X", "N", "Y"]),
    ("R", &["X", "A", "U", "I"]),
    ("V", &["X", "D", "C"]),
    ("RE", &["X", "L", "M", "H"]),
    ("U", &["X", "Clear", "Green", "Amber", "Red"]),
];
const MANDATORY: usize = 11;

/// Highest-severity vectors of each EQ level (`max_composed` of the reference).
const EQ1_MAX: [&[&str]; 3] = [
    &["AV:N/PR:N/UI:N"],
    &["AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"],
    &["AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P"],
];
const EQ2_MAX: [&[&str]; 2] = [&["AC:L/AT:N"], &["AC:H/AT:N", "AC:L/AT:P"]];
/// Indexed by `[eq3][eq6]`.
const EQ3_EQ6_MAX: [[&[&str]; 2]; 3] = [
    [
        &["VC:H/VI:H/VA:H/CR:H/IR:H/AR:H"],
        &[
            "VC:H/VI:H/VA:L/CR:M/IR:M/AR:H",
            "VC:H/VI:H/VA:H/CR:M/IR:M/AR:M",
        ],
    ],
    [
        &[
            "VC:L/VI:H/VA:H/CR:H/IR:H/AR:H",
            "VC:H/VI:L/VA:H/CR:H/IR:H/AR:H",
        ],
        &[
            "VC:L/VI:H/VA:L/CR:H/IR:M/AR:H",
            "VC:L/VI:H/VA:H/CR:H/IR:M/AR:M",
            "VC:H/VI:L/VA:H/CR:M/IR:H/AR:M",
            "VC:H/VI:L/VA:L/CR:M/IR:H/AR:H",
            "VC:L/VI:L/VA:H/CR:H/IR:H/AR:M",
        ],
    ],
    [&[], &["VC:L/VI:L/VA:L/CR:H/IR:H/AR:H"]],
];
const EQ4_MAX: [&[&str]; 3] = [
    &["SC:H/SI:S/SA:S"],
    &["SC:H/SI:H/SA:H"],
    &["SC:L/SI:L/SA:L"],
];

/// Depth of each MacroVector level in severity-distance steps (`maxSeverity`).
const EQ1_DEPTH: [f64; 3] = [1.0, 4.0, 5.0];
const EQ2_DEPTH: [f64; 2] = [1.0, 2.0];
const EQ3_EQ6_DEPTH: [[f64; 2]; 3] = [[7.0, 6.0], [8.0, 8.0], [f64::NAN, 10.0]];
const EQ4_DEPTH: [f64; 3] = [6.0, 5.0, 4.0];

/// Severity level of a metric value: 0.0 is the most severe.
fn level(metric: &str, value: &str) -> Option<f64> {
    let v = match (metric, value) {
        ("AV", "N") | ("PR", "N") | ("UI", "N") | ("AC", "L") | ("AT", "N") => 0.0,
        ("AV", "A") | ("PR", "L") | ("UI", "P") | ("AC", "H") | ("AT", "P") => 0.1,
        ("AV", "L") | ("PR", "H") | ("UI", "A") => 0.2,
        ("AV", "P") => 0.3,
        ("VC" | "VI" | "VA" | "CR" | "IR" | "AR", "H") => 0.0,
        ("VC" | "VI" | "VA", "L") | ("CR" | "IR" | "AR", "M") => 0.1,
        ("VC" | "VI" | "VA", "N") | ("CR" | "IR" | "AR", "L") => 0.2,
        ("SI" | "SA", "S") => 0.0,
        ("SC" | "SI" | "SA", "H") => 0.1,
        ("SC" | "SI" | "SA", "L") => 0.2,
        ("SC" | "SI" | "SA", "N") => 0.3,
        _ => return None,
    };
    Some(v)
}

/// A parsed vector with the reference calculator's effective values.
struct Vector<'a>(HashMap<&'a str, &'a str>);

impl<'a> Vector<'a> {
    fn parse(vector: &'a str) -> Option<Self> {
        let m = metrics(vector.trim().strip_prefix("CVSS:4.0/")?)?;
        for (k, v) in &m {
            let (_, allowed) = METRICS.iter().find(|(name, _)| name == k)?;
            if !allowed.contains(v) {
                return None;
            }
        }
        if METRICS[..MANDATORY].iter().any(|(k, _)| !m.contains_key(k)) {
            return None;
        }
        Some(Vector(m))
    }

    /// The value that scores: threat and requirement metrics default to their worst
    /// case, and a modified metric overrides its base metric.
    fn m(&self, metric: &str) -> &'a str {
        let selected = self.0.get(metric).copied().unwrap_or("X");
        match (metric, selected) {
            ("E", "X") => return "A",
            ("CR" | "IR" | "AR", "X") => return "H",
            _ => {}
        }
        let modified = format!("M{metric}");
        match self.0.get(modified.as_str()) {
            Some(v) if *v != "X" => v,
            _ => selected,
        }
    }

    fn is(&self, metric: &str, value: &str) -> bool {
        self.m(metric) == value
    }

    fn macro_vector(&self) -> [u8; 6] {
        let eq1 = if self.is("AV", "N") && self.is("PR", "N") && self.is("UI", "N") {
            0
        } else if (self.is("AV", "N") || self.is("PR", "N") || self.is("UI", "N"))
            && !self.is("AV", "P")
        {
            1
        } else {
            2
        };
        let eq2 = if self.is("AC", "L") && self.is("AT", "N") {
            0
        } else {
            1
        };
        let eq3 = if self.is("VC", "H") && self.is("VI", "H") {
            0
        } else if self.is("VC", "H") || self.is("VI", "H") || self.is("VA", "H") {
            1
        } else {
            2
        };
        let eq4 = if self.is("SI", "S") || self.is("SA", "S") {
            0
        } else if self.is("SC", "H") || self.is("SI", "H") || self.is("SA", "H") {
            1
        } else {
            2
        };
        let eq5 = match self.m("E") {
            "A" => 0,
            "P" => 1,
            _ => 2,
        };
        let eq6 = if (self.is("CR", "H") && self.is("VC", "H"))
            || (self.is("IR", "H") && self.is("VI", "H"))
            || (self.is("AR", "H") && self.is("VA", "H"))
        {
            0
        } else {
            1
        };
        [eq1, eq2, eq3, eq4, eq5, eq6]
    }

    /// Per-metric distance from the first highest-severity vector of the MacroVector
    /// that this vector does not exceed.
    fn distances(&self, eq: [u8; 6]) -> Option<HashMap<&'static str, f64>> {
        let [e1, e2, e3, e4, _, e6] = eq.map(usize::from);
        let eq5_max = ["E:A", "E:P", "E:U"][usize::from(eq[4])];
        for a in EQ1_MAX[e1] {
            for b in EQ2_MAX[e2] {
                for c in EQ3_EQ6_MAX[e3][e6] {
                    for d in EQ4_MAX[e4] {
                        let max = format!("{a}/{b}/{c}/{d}/{eq5_max}");
                        let max = metrics(&max)?;
                        let mut dist = HashMap::new();
                        for metric in [
                            "AV", "PR", "UI", "AC", "AT", "VC", "VI", "VA", "SC", "SI", "SA", "CR",
                            "IR", "AR",
                        ] {
                            let own = level(metric, self.m(metric))?;
                            let top = level(metric, max.get(metric)?)?;
                            dist.insert(metric, own - top);
                        }
                        if dist.values().all(|d| *d >= 0.0) {
                            return Some(dist);
                        }
                    }
                }
            }
        }
        None
    }
}

fn bump(eq: [u8; 6], i: usize) -> [u8; 6] {
    let mut e = eq;
    e[i] += 1;
    e
}

/// Score of a `CVSS:4.0/…` vector (base, threat and environmental metrics as given);
/// `None` if it is not a valid v4.0 vector.
pub fn score_v4(vector: &str) -> Option<f64> {
    let v = Vector::parse(vector)?;
    if ["VC", "VI", "VA", "SC", "SI", "SA"]
        .iter()
        .all(|m| v.is(m, "N"))
    {
        return Some(0.0);
    }
    let eq = v.macro_vector();
    let value = lookup(eq)?;
    let [_, _, e3, _, _, e6] = eq;

    let lower_eq3eq6 = match (e3, e6) {
        (0, 0) => {
            let left = lookup(bump(eq, 5));
            let right = lookup(bump(eq, 2));
            match (left, right) {
                (Some(l), Some(r)) => Some(l.max(r)),
                (l, r) => l.or(r),
            }
        }
        (1, 0) => lookup(bump(eq, 5)),
        (0 | 1, 1) => lookup(bump(eq, 2)),
        _ => None,
    };
    let lower = [
        lookup(bump(eq, 0)),
        lookup(bump(eq, 1)),
        lower_eq3eq6,
        lookup(bump(eq, 3)),
        lookup(bump(eq, 4)),
    ];

    let d = v.distances(eq)?;
    let current = [
        d["AV"] + d["PR"] + d["UI"],
        d["AC"] + d["AT"],
        d["VC"] + d["VI"] + d["VA"] + d["CR"] + d["IR"] + d["AR"],
        d["SC"] + d["SI"] + d["SA"],
        0.0,
    ];
    let step = 0.1;
    let depth = [
        EQ1_DEPTH[usize::from(eq[0])] * step,
        EQ2_DEPTH[usize::from(eq[1])] * step,
        EQ3_EQ6_DEPTH[usize::from(e3)][usize::from(e6)] * step,
        EQ4_DEPTH[usize::from(eq[3])] * step,
        1.0,
    ];

    let mut existing = 0u32;
    let mut total = 0.0;
    for k in 0..5 {
        if let Some(next) = lower[k] {
            existing += 1;
            // The reference gives EQ5 no proportional share: its distance is always 0.
            total += (value - next) * (current[k] / depth[k]);
        }
    }
    let mean = if existing == 0 {
        0.0
    } else {
        total / f64::from(existing)
    };
    Some(round1((value - mean).clamp(0.0, 10.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_sorted() {
        use super::super::v4_table::LOOKUP;
        assert!(LOOKUP.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(lookup([0, 0, 0, 0, 0, 0]), Some(10.0));
        assert_eq!(lookup([0, 0, 2, 0, 0, 0]), None);
        assert_eq!(lookup([2, 1, 2, 2, 2, 1]), Some(0.1));
    }

    #[test]
    fn known_scores() {
        let cases = [
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
                10.0,
            ),
            (
                "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                8.5,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N",
                0.0,
            ),
        ];
        for (v, s) in cases {
            assert_eq!(score_v4(v), Some(s), "{v}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for v in [
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/Q:1",
        ] {
            assert_eq!(score_v4(v), None, "{v}");
        }
    }
}
