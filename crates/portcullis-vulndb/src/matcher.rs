//! Whether a package version is affected by an OSV `affected` entry, with OSV's evaluation
//! algorithm: the explicit `versions` list first, then each `ECOSYSTEM`/`SEMVER` range with
//! its events sorted by version and walked in order. `GIT` ranges name commits, not package
//! versions, and are ignored here.

use crate::osv::{Affected, Event, Range};
use crate::version::Scheme;
use std::cmp::Ordering;

/// The verdict for one affected entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    /// The first fixed version after the queried one, from the range that matched (or from
    /// any range when only the `versions` list matched).
    pub fixed: Option<String>,
}

enum Kind<'a> {
    Introduced(&'a str),
    Fixed(&'a str),
    LastAffected(&'a str),
}

impl<'a> Kind<'a> {
    fn version(&self) -> &'a str {
        match self {
            Kind::Introduced(v) | Kind::Fixed(v) | Kind::LastAffected(v) => v,
        }
    }
}

/// `introduced: "0"` means "from the very first version" in every ecosystem; it is below
/// anything, including versions the comparator cannot read.
fn cmp_event(scheme: Scheme, a: &str, b: &str) -> Option<Ordering> {
    match (a == "0", b == "0") {
        (true, true) => Some(Ordering::Equal),
        (true, false) => Some(Ordering::Less),
        (false, true) => Some(Ordering::Greater),
        (false, false) => scheme.compare(a, b),
    }
}

fn flatten<'a>(events: impl Iterator<Item = &'a Event>) -> (Vec<Kind<'a>>, Vec<&'a str>) {
    let mut kinds = Vec::new();
    let mut limits = Vec::new();
    for e in events {
        if let Some(v) = &e.introduced {
            kinds.push(Kind::Introduced(v));
        }
        if let Some(v) = &e.fixed {
            kinds.push(Kind::Fixed(v));
        }
        if let Some(v) = &e.last_affected {
            kinds.push(Kind::LastAffected(v));
        }
        if let Some(v) = &e.limit {
            limits.push(v.as_str());
        }
    }
    (kinds, limits)
}

/// Evaluates one range. `None` when a version in it cannot be compared (the caller logs
/// and skips); `Some(None)` when not affected; `Some(Some(fixed))` when affected.
fn evaluate(
    scheme: Scheme,
    range: &Range,
    implied: Option<&Event>,
    version: &str,
) -> Option<Option<Option<String>>> {
    let open_ended = range
        .events
        .iter()
        .all(|e| e.fixed.is_none() && e.last_affected.is_none() && e.limit.is_none());
    let extra = implied.filter(|_| open_ended);
    let (mut events, limits) = flatten(range.events.iter().chain(extra));
    // Sorting needs every pair comparable: check first, then sort (the comparators are total
    // orders on what they accept).
    for e in &events {
        cmp_event(scheme, e.version(), version)?;
    }
    events.sort_by(|a, b| cmp_event(scheme, a.version(), b.version()).unwrap_or(Ordering::Equal));

    if !limits.is_empty() {
        let mut below_some_limit = false;
        for l in &limits {
            if *l == "*" || cmp_event(scheme, version, l)? == Ordering::Less {
                below_some_limit = true;
            }
        }
        if !below_some_limit {
            return Some(None);
        }
    }

    let mut affected = false;
    for e in &events {
        let ord = cmp_event(scheme, version, e.version())?;
        match e {
            Kind::Introduced(_) if ord != Ordering::Less => affected = true,
            Kind::Fixed(_) if ord != Ordering::Less => affected = false,
            Kind::LastAffected(_) if ord == Ordering::Greater => affected = false,
            _ => {}
        }
    }
    if !affected {
        return Some(None);
    }
    let fixed = events.iter().find_map(|e| match e {
        Kind::Fixed(f) if cmp_event(scheme, version, f) == Some(Ordering::Less) => {
            Some((*f).to_string())
        }
        _ => None,
    });
    Some(Some(fixed))
}

/// GHSA exports some ranges without an upper event and keep the bound in
/// `database_specific.last_known_affected_version_range` (`<= 1.2.3` or `< 1.2.3`);
/// reading it avoids reporting every later version as affected.
fn implied_bound(affected: &Affected) -> Option<Event> {
    let text = affected
        .database_specific
        .as_ref()?
        .get("last_known_affected_version_range")?
        .as_str()?
        .trim();
    let mut event = Event::default();
    if let Some(v) = text.strip_prefix("<=") {
        event.last_affected = Some(v.trim().to_string());
    } else if let Some(v) = text.strip_prefix('<') {
        event.limit = Some(v.trim().to_string());
    } else {
        return None;
    }
    Some(event)
}

/// The smallest fixed version above `version` in any comparable range.
fn next_fixed(scheme: Scheme, ranges: &[&Range], version: &str) -> Option<String> {
    ranges
        .iter()
        .flat_map(|r| r.events.iter().filter_map(|e| e.fixed.as_deref()))
        .filter(|f| cmp_event(scheme, f, version) == Some(Ordering::Greater))
        .min_by(|a, b| cmp_event(scheme, a, b).unwrap_or(Ordering::Equal))
        .map(str::to_string)
}

/// Checks one affected entry (already known to name the queried package).
pub(crate) fn check(affected: &Affected, ecosystem: &str, version: &str, id: &str) -> Option<Hit> {
    let eco_scheme = Scheme::for_ecosystem(ecosystem);
    let usable: Vec<(&Range, Scheme)> = affected
        .ranges
        .iter()
        .filter_map(|r| match r.kind.as_str() {
            "ECOSYSTEM" => Some((r, eco_scheme)),
            "SEMVER" => Some((
                r,
                if eco_scheme == Scheme::Go {
                    Scheme::Go
                } else {
                    Scheme::SemVer
                },
            )),
            _ => None,
        })
        .collect();

    // An exact listing is authoritative even when the version cannot be parsed.
    if affected.versions.iter().any(|v| v == version) {
        let ranges: Vec<&Range> = usable.iter().map(|(r, _)| *r).collect();
        return Some(Hit {
            fixed: next_fixed(eco_scheme, &ranges, version),
        });
    }
    let implied = implied_bound(affected);
    for (range, scheme) in &usable {
        match evaluate(*scheme, range, implied.as_ref(), version) {
            Some(Some(fixed)) => return Some(Hit { fixed }),
            Some(None) => {}
            None => tracing::debug!(
                record = id,
                ecosystem,
                version,
                "version range not comparable in this ecosystem; skipped"
            ),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::Package;

    fn ev(kind: &str, v: &str) -> Event {
        let mut e = Event::default();
        let v = Some(v.to_string());
        match kind {
            "i" => e.introduced = v,
            "f" => e.fixed = v,
            "l" => e.last_affected = v,
            _ => e.limit = v,
        }
        e
    }

    fn entry(kind: &str, events: Vec<Event>, versions: &[&str]) -> Affected {
        Affected {
            package: Some(Package::default()),
            ranges: vec![Range {
                kind: kind.to_string(),
                events,
            }],
            versions: versions.iter().map(|s| s.to_string()).collect(),
            ..Affected::default()
        }
    }

    fn hit(a: &Affected, eco: &str, v: &str) -> Option<Option<String>> {
        check(a, eco, v, "T").map(|h| h.fixed)
    }

    #[test]
    fn introduced_fixed_and_reintroduced() {
        let a = entry(
            "ECOSYSTEM",
            vec![ev("i", "0"), ev("f", "1.2"), ev("i", "2.0"), ev("f", "2.3")],
            &[],
        );
        assert_eq!(hit(&a, "PyPI", "1.0"), Some(Some("1.2".into())));
        assert_eq!(hit(&a, "PyPI", "1.2"), None);
        assert_eq!(hit(&a, "PyPI", "1.5"), None);
        assert_eq!(hit(&a, "PyPI", "2.1"), Some(Some("2.3".into())));
        assert_eq!(hit(&a, "PyPI", "3.0"), None);
    }

    #[test]
    fn unsorted_events_are_sorted_first() {
        let a = entry("SEMVER", vec![ev("f", "1.5.0"), ev("i", "1.0.0")], &[]);
        assert_eq!(hit(&a, "npm", "1.2.0"), Some(Some("1.5.0".into())));
        assert_eq!(hit(&a, "npm", "0.9.0"), None);
    }

    #[test]
    fn last_affected_and_limit() {
        let a = entry("ECOSYSTEM", vec![ev("i", "1.0"), ev("l", "1.4")], &[]);
        assert_eq!(hit(&a, "Maven", "1.4"), Some(None));
        assert_eq!(hit(&a, "Maven", "1.4.1"), None);
        let b = entry("SEMVER", vec![ev("i", "0"), ev("x", "2.0.0")], &[]);
        assert_eq!(hit(&b, "crates.io", "1.9.0"), Some(None));
        assert_eq!(hit(&b, "crates.io", "2.0.0"), None);
    }

    #[test]
    fn ghsa_last_known_affected_range_bounds_open_ranges() {
        let mut a = entry("ECOSYSTEM", vec![ev("i", "0")], &[]);
        a.database_specific =
            Some(serde_json::json!({"last_known_affected_version_range": "<= 29.0"}));
        assert_eq!(hit(&a, "Maven", "29.0"), Some(None));
        assert_eq!(hit(&a, "Maven", "30.0"), None);
        a.database_specific =
            Some(serde_json::json!({"last_known_affected_version_range": "< 2.0"}));
        assert_eq!(hit(&a, "Maven", "1.9"), Some(None));
        assert_eq!(hit(&a, "Maven", "2.0"), None);
        // An explicit upper event wins over the hint.
        let mut b = entry("ECOSYSTEM", vec![ev("i", "0"), ev("f", "9.0.0")], &[]);
        b.database_specific =
            Some(serde_json::json!({"last_known_affected_version_range": "<= 8.5.1"}));
        assert_eq!(hit(&b, "npm", "8.9.0"), Some(Some("9.0.0".into())));
    }

    #[test]
    fn versions_list_and_git_ranges() {
        let a = entry(
            "GIT",
            vec![ev("i", "abc123"), ev("f", "def456")],
            &["1.0", "weird-ver"],
        );
        assert_eq!(hit(&a, "PyPI", "1.0"), Some(None));
        assert_eq!(
            hit(&a, "PyPI", "weird-ver"),
            Some(None),
            "listed exactly though unparsable"
        );
        assert_eq!(
            hit(&a, "PyPI", "1.1"),
            None,
            "GIT ranges never match versions"
        );
    }

    #[test]
    fn unparsable_version_skips_the_range() {
        let a = entry("ECOSYSTEM", vec![ev("i", "0"), ev("f", "1.2.3-r0")], &[]);
        assert_eq!(hit(&a, "Alpine:v3.19", "not a version"), None);
        assert_eq!(
            hit(&a, "Alpine:v3.19", "1.2.2-r5"),
            Some(Some("1.2.3-r0".into()))
        );
    }

    #[test]
    fn dpkg_epochs() {
        let a = entry(
            "ECOSYSTEM",
            vec![ev("i", "0"), ev("f", "1:1.2.11.dfsg-2+deb11u2")],
            &[],
        );
        assert!(hit(&a, "Debian:11", "1:1.2.11.dfsg-2").is_some());
        assert!(
            hit(&a, "Debian:11", "1.2.13").is_some(),
            "no epoch sorts below epoch 1"
        );
        assert!(hit(&a, "Debian:11", "1:1.2.11.dfsg-2+deb11u2").is_none());
    }
}
