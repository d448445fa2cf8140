//! CVSS base scores computed from vector strings: v2, v3.0/v3.1 and v4.0.
//!
//! Advisories carry vectors, rarely scores, and the scores they do carry disagree between
//! sources; computing from the vector gives one answer everywhere.

mod v2;
mod v3;
mod v4;
mod v4_table;

pub use v2::score_v2;
pub use v3::score_v3;
pub use v4::score_v4;

use std::collections::HashMap;

/// Splits `K:V/K:V/...` into a map; `None` on a malformed or repeated metric.
fn metrics(body: &str) -> Option<HashMap<&str, &str>> {
    let mut map = HashMap::new();
    for part in body.split('/') {
        let (k, v) = part.split_once(':')?;
        if k.is_empty() || v.is_empty() || map.insert(k, v).is_some() {
            return None;
        }
    }
    Some(map)
}

/// Rounds half away from zero to one decimal, absorbing float noise such as
/// `8.6 - 7.15 = 1.4499999999999993`.
fn round1(x: f64) -> f64 {
    ((x + 1e-6) * 10.0).round() / 10.0
}
