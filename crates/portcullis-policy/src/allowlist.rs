//! CVE allowlists as the decision sees them: which list applies to a project (the
//! system's or its own) and whether it is in force. An expired list is ignored as a whole.

use std::collections::{BTreeMap, HashSet};

/// The project metadata key that makes a project use the system allowlist.
pub const REUSE_SYS_KEY: &str = "reuse_sys_cve_allowlist";

/// The CVE ids a decision exempts.
pub type CveIds = HashSet<String>;

/// An allowlist's contents: its CVE ids and when it stops applying (seconds since the
/// epoch; `None` for never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListRef<'a> {
    pub items: &'a [String],
    pub expires_at: Option<i64>,
}

/// Whether a list expiring at `expires_at` applies at `now` (seconds since the epoch):
/// it does until its expiry time, not at it, as in Harbor.
pub fn in_force(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_none_or(|t| t > now)
}

/// The CVE ids a project's pulls may ignore: the system list when the project reuses it
/// (the default), its own otherwise; nothing from an expired or missing list. The lists
/// are never merged: a project's own list replaces the system's.
pub fn effective(
    reuse_system: bool,
    system: Option<ListRef<'_>>,
    project: Option<ListRef<'_>>,
    now: i64,
) -> CveIds {
    let chosen = if reuse_system { system } else { project };
    chosen
        .filter(|l| in_force(l.expires_at, now))
        .map(|l| l.items.iter().cloned().collect())
        .unwrap_or_default()
}

/// Whether the project's metadata says to use the system list ("true" unless set
/// otherwise).
pub fn reuses_system(metadata: &BTreeMap<String, String>) -> bool {
    metadata.get(REUSE_SYS_KEY).is_none_or(|v| v != "false")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn expiry() {
        assert!(in_force(None, i64::MAX));
        assert!(in_force(Some(100), 99));
        // Expired at its expiry time, as Harbor's `IsExpired` (now >= expires_at).
        assert!(!in_force(Some(100), 100));
        assert!(!in_force(Some(100), 101));
        assert!(!in_force(Some(0), 1));
    }

    #[test]
    fn expiry_and_choice() {
        let (sys_ids, proj_ids) = (ids(&["CVE-1"]), ids(&["CVE-2"]));
        let sys = ListRef {
            items: &sys_ids,
            expires_at: None,
        };
        let proj = ListRef {
            items: &proj_ids,
            expires_at: Some(100),
        };
        let only = |set: CveIds, id: &str| set.len() == 1 && set.contains(id);
        assert!(only(effective(true, Some(sys), Some(proj), 50), "CVE-1"));
        assert!(only(effective(false, Some(sys), Some(proj), 50), "CVE-2"));
        assert!(effective(false, Some(sys), Some(proj), 100).is_empty());
        assert!(effective(false, Some(sys), None, 0).is_empty());
        assert!(effective(true, None, Some(proj), 0).is_empty());
    }

    #[test]
    fn reuse_flag() {
        let meta = |v: Option<&str>| -> BTreeMap<String, String> {
            v.map(|v| (REUSE_SYS_KEY.to_string(), v.to_string()))
                .into_iter()
                .collect()
        };
        assert!(reuses_system(&meta(None)));
        assert!(reuses_system(&meta(Some("true"))));
        assert!(!reuses_system(&meta(Some("false"))));
    }
}
