//! The one permission table: Harbor's five project roles × resource × action, the
//! read-only view everyone gets of a public project, and the system-level permissions.

use serde::Serialize;

/// A project role, with Harbor's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Role {
    ProjectAdmin,
    Developer,
    Guest,
    Maintainer,
    LimitedGuest,
}

impl Role {
    /// Every role, by id.
    pub const ALL: [Role; 5] = [
        Role::ProjectAdmin,
        Role::Developer,
        Role::Guest,
        Role::Maintainer,
        Role::LimitedGuest,
    ];

    /// The role with Harbor's id (1 projectAdmin, 2 developer, 3 guest, 4 maintainer,
    /// 5 limitedGuest).
    pub fn from_id(id: i32) -> Option<Role> {
        Role::ALL
            .get(usize::try_from(id).ok()?.checked_sub(1)?)
            .copied()
    }

    /// Harbor's role id.
    pub fn id(self) -> i32 {
        match self {
            Role::ProjectAdmin => 1,
            Role::Developer => 2,
            Role::Guest => 3,
            Role::Maintainer => 4,
            Role::LimitedGuest => 5,
        }
    }

    /// Harbor's role name.
    pub fn name(self) -> &'static str {
        match self {
            Role::ProjectAdmin => "projectAdmin",
            Role::Developer => "developer",
            Role::Guest => "guest",
            Role::Maintainer => "maintainer",
            Role::LimitedGuest => "limitedGuest",
        }
    }

    fn bit(self) -> u8 {
        1 << (self.id() - 1)
    }
}

/// One `resource` × `action` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Permission {
    pub resource: &'static str,
    pub action: &'static str,
}

const A: u8 = 1; // projectAdmin
const D: u8 = 2; // developer
const G: u8 = 4; // guest
const M: u8 = 8; // maintainer
const L: u8 = 16; // limitedGuest
/// Granted to everyone (anonymous included) on a public project.
const P: u8 = 32;

/// Harbor's project policy: resource, action, and the roles granted it.
const TABLE: &[(&str, &str, u8)] = &[
    ("project", "read", A | M | D | G | L | P),
    ("project", "update", A),
    ("project", "delete", A),
    ("member", "create", A),
    ("member", "read", A | M | D | G),
    ("member", "update", A),
    ("member", "delete", A),
    ("member", "list", A | M | D | G),
    ("metadata", "create", A),
    ("metadata", "read", A | M | D | G | L),
    ("metadata", "update", A),
    ("metadata", "delete", A),
    ("metadata", "list", A | M | D | G | L),
    ("log", "list", A | M | D | G),
    ("quota", "read", A | M | D | G | L),
    ("label", "create", A | M),
    ("label", "read", A | M | D | G | L | P),
    ("label", "update", A | M),
    ("label", "delete", A | M),
    ("label", "list", A | M | D | G | L | P),
    ("repository", "create", A | M | D),
    ("repository", "read", A | M | D | G | L | P),
    ("repository", "update", A | M | D),
    ("repository", "delete", A | M),
    ("repository", "list", A | M | D | G | L | P),
    ("repository", "pull", A | M | D | G | L | P),
    ("repository", "push", A | M | D),
    ("tag-retention", "create", A | M),
    ("tag-retention", "read", A | M | D),
    ("tag-retention", "update", A | M),
    ("tag-retention", "delete", A | M),
    ("tag-retention", "list", A | M | D),
    ("tag-retention", "operate", A | M),
    ("immutable-tag", "create", A | M),
    ("immutable-tag", "update", A | M),
    ("immutable-tag", "delete", A | M),
    ("immutable-tag", "list", A | M | D),
    ("robot", "create", A),
    ("robot", "read", A | M | D | G),
    ("robot", "update", A),
    ("robot", "delete", A),
    ("robot", "list", A | M | D | G),
    ("notification-policy", "create", A),
    ("notification-policy", "read", A | M),
    ("notification-policy", "update", A),
    ("notification-policy", "delete", A),
    ("notification-policy", "list", A | M),
    ("scan", "create", A | M | D),
    ("scan", "read", A | M | D | G | L | P),
    ("scan", "stop", A | M),
    ("sbom", "create", A | M | D),
    ("sbom", "read", A | M | D | G | L | P),
    ("sbom", "stop", A | M),
    ("scanner", "create", A),
    ("scanner", "read", A | M | D | G | L),
    ("artifact", "create", A | M | D),
    ("artifact", "read", A | M | D | G | L | P),
    ("artifact", "delete", A | M),
    ("artifact", "list", A | M | D | G | L | P),
    ("tag", "create", A | M | D),
    ("tag", "delete", A | M),
    ("tag", "list", A | M | D | G | L | P),
    ("accessory", "list", A | M | D | G | L | P),
    ("artifact-addition", "read", A | M | D | G | L | P),
    ("artifact-label", "create", A | M | D),
    ("artifact-label", "delete", A | M | D),
    ("preheat-policy", "create", A),
    ("preheat-policy", "read", A | M),
    ("preheat-policy", "update", A),
    ("preheat-policy", "delete", A),
    ("preheat-policy", "list", A | M),
];

/// Harbor's system-level resources and actions (granted to system admins and, as
/// listed, to system robots).
const SYSTEM: &[(&str, &str)] = &[
    ("audit-log", "list"),
    ("user", "create"),
    ("user", "read"),
    ("user", "update"),
    ("user", "delete"),
    ("user", "list"),
    ("project", "create"),
    ("project", "list"),
    ("robot", "create"),
    ("robot", "read"),
    ("robot", "update"),
    ("robot", "delete"),
    ("robot", "list"),
    ("catalog", "read"),
    ("purge-audit", "create"),
    ("purge-audit", "read"),
    ("purge-audit", "list"),
    ("purge-audit", "stop"),
];

/// Whether `role` may do `action` on `resource` in its project.
pub fn role_allows(role: Role, resource: &str, action: &str) -> bool {
    TABLE
        .iter()
        .any(|(r, a, roles)| *r == resource && *a == action && roles & role.bit() != 0)
}

/// Whether anyone, anonymous included, may do `action` on `resource` of a public project.
pub fn public_allows(resource: &str, action: &str) -> bool {
    TABLE
        .iter()
        .any(|(r, a, roles)| *r == resource && *a == action && roles & P != 0)
}

/// Every permission `role` holds, in table order.
pub fn role_permissions(role: Role) -> Vec<Permission> {
    TABLE
        .iter()
        .filter(|(_, _, roles)| roles & role.bit() != 0)
        .map(|(resource, action, _)| Permission { resource, action })
        .collect()
}

/// Every project-level permission there is (what a project robot may be given).
pub fn project_permissions() -> Vec<Permission> {
    TABLE
        .iter()
        .map(|(resource, action, _)| Permission { resource, action })
        .collect()
}

/// Every system-level permission there is.
pub fn system_permissions() -> Vec<Permission> {
    SYSTEM
        .iter()
        .map(|(resource, action)| Permission { resource, action })
        .collect()
}

/// Whether a `resource`/`action` pair exists at system level.
pub fn is_system_permission(resource: &str, action: &str) -> bool {
    SYSTEM.iter().any(|(r, a)| *r == resource && *a == action)
}

/// Whether a `resource`/`action` pair exists at project level (`"*"` matches any).
pub fn is_project_permission(resource: &str, action: &str) -> bool {
    TABLE
        .iter()
        .any(|(r, a, _)| (resource == "*" || *r == resource) && (action == "*" || *a == action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_ids_follow_harbor() {
        for (id, name) in [
            (1, "projectAdmin"),
            (2, "developer"),
            (3, "guest"),
            (4, "maintainer"),
            (5, "limitedGuest"),
        ] {
            let r = Role::from_id(id).unwrap();
            assert_eq!((r.id(), r.name()), (id, name));
        }
        assert_eq!(Role::from_id(0), None);
        assert_eq!(Role::from_id(6), None);
    }

    #[test]
    fn registry_actions_by_role() {
        use Role::*;
        let cases = [
            (ProjectAdmin, [true, true, true]),
            (Maintainer, [true, true, true]),
            (Developer, [true, true, false]),
            (Guest, [true, false, false]),
            (LimitedGuest, [true, false, false]),
        ];
        for (role, [pull, push, delete]) in cases {
            assert_eq!(role_allows(role, "repository", "pull"), pull, "{role:?}");
            assert_eq!(role_allows(role, "repository", "push"), push, "{role:?}");
            assert_eq!(role_allows(role, "artifact", "delete"), delete, "{role:?}");
        }
    }

    #[test]
    fn membership_and_logs_are_hidden_from_limited_guests() {
        assert!(role_allows(Role::Guest, "member", "list"));
        assert!(!role_allows(Role::LimitedGuest, "member", "list"));
        assert!(!role_allows(Role::LimitedGuest, "log", "list"));
        assert!(role_allows(Role::ProjectAdmin, "robot", "create"));
        assert!(!role_allows(Role::Maintainer, "robot", "create"));
        assert!(!role_allows(Role::Maintainer, "member", "create"));
    }

    #[test]
    fn public_projects_are_read_only() {
        assert!(public_allows("repository", "pull"));
        assert!(public_allows("artifact", "list"));
        assert!(!public_allows("repository", "push"));
        assert!(!public_allows("member", "list"));
        assert!(!public_allows("log", "list"));
        let all = project_permissions();
        assert!(
            all.iter()
                .all(|p| role_allows(Role::ProjectAdmin, p.resource, p.action))
        );
        assert!(is_project_permission("repository", "*"));
        assert!(!is_project_permission("repository", "fly"));
    }
}
