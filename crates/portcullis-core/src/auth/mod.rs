//! Who is calling and what they may do: principals, token scopes, passwords and the
//! registry bearer tokens of the Docker token flow.

mod basic;
mod password;
mod tokens;

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use subtle::ConstantTimeEq;

pub use basic::parse_basic;
pub use password::{hash_password, random_secret, verify_password};
pub use tokens::{IssuedToken, TokenService};

/// Actions on a repository, as a small bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Actions(u8);

impl Actions {
    pub const NONE: Actions = Actions(0);
    pub const PULL: Actions = Actions(1);
    pub const PUSH: Actions = Actions(2);
    pub const DELETE: Actions = Actions(4);
    pub const ALL: Actions = Actions(7);

    pub fn contains(self, other: Actions) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: Actions) -> Actions {
        Actions(self.0 | other.0)
    }

    pub fn intersect(self, other: Actions) -> Actions {
        Actions(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses the action list of a scope; `*` means every action. Unknown words are
    /// dropped, as Distribution does.
    pub fn parse_list(s: &str) -> Actions {
        s.split(',').fold(Actions::NONE, |acc, a| {
            acc.union(match a.trim() {
                "pull" => Actions::PULL,
                "push" => Actions::PUSH,
                "delete" => Actions::DELETE,
                "*" => Actions::ALL,
                _ => Actions::NONE,
            })
        })
    }

    pub fn names(self) -> Vec<String> {
        let mut v = Vec::new();
        if self.contains(Actions::PULL) {
            v.push("pull".to_string());
        }
        if self.contains(Actions::PUSH) {
            v.push("push".to_string());
        }
        if self.contains(Actions::DELETE) {
            v.push("delete".to_string());
        }
        v
    }
}

impl fmt::Display for Actions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

/// One `type:name:actions` scope of a token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Scope {
    /// `repository:team/app:pull,push` or `registry:catalog:*`. The name sits between the
    /// first and the last colon.
    pub fn parse(s: &str) -> Option<Scope> {
        let (kind, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        // "repository(plugin)" is a legacy spelling of the same type.
        let kind = kind.split('(').next().unwrap_or(kind).to_string();
        Some(Scope {
            kind,
            name: name.to_string(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

/// A granted access entry in a registry token, in the Docker token format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// A local user as the request layer sees it after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPrincipal {
    pub id: i64,
    pub name: String,
    pub sysadmin: bool,
}

/// One `resource`/`action` a robot was given in one namespace (a project name, or `*`
/// for every project of a system robot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotGrant {
    pub namespace: String,
    pub resource: String,
    pub action: String,
}

/// A robot account as the request layer sees it after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotPrincipal {
    pub id: i64,
    pub name: String,
    /// The project of a project-level robot.
    pub project_id: Option<i64>,
    pub grants: Vec<RobotGrant>,
    /// Entries given with `"effect": "deny"`: they take away what a grant gives.
    pub denials: Vec<RobotGrant>,
}

impl RobotGrant {
    fn matches(&self, project: &str, resource: &str, action: &str) -> bool {
        (self.namespace == project || self.namespace == "*")
            && (self.resource == resource || self.resource == "*")
            && (self.action == action || self.action == "*")
    }
}

impl RobotPrincipal {
    /// Whether the robot holds `resource`/`action` in `project` (`*` matches anything):
    /// a grant gives it and no denial takes it away.
    pub fn holds(&self, project: &str, resource: &str, action: &str) -> bool {
        self.grants
            .iter()
            .any(|g| g.matches(project, resource, action))
            && !self
                .denials
                .iter()
                .any(|g| g.matches(project, resource, action))
    }

    /// Whether the robot holds anything at all in `project`.
    pub fn holds_any(&self, project: &str) -> bool {
        self.grants
            .iter()
            .any(|g| g.namespace == project || g.namespace == "*")
    }
}

/// The subject of registry tokens issued to external scanners; `$` keeps it apart from
/// every user name (which may not contain one) and robot name (`robot$…`).
pub const SCANNER_TOKEN_SUBJECT: &str = "scanner$adapter";

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    User(UserPrincipal),
    /// A robot account (Basic credentials `robot$…`); only `/v2/` and `/service/token`
    /// accept it.
    Robot(RobotPrincipal),
    /// A bearer token: it carries exactly what it grants.
    Token {
        subject: Option<String>,
        access: Vec<AccessEntry>,
    },
}

impl Principal {
    /// Whether the caller presented no identity at all (anonymous, or an anonymous token):
    /// such callers get a 401 challenge so that they may log in.
    pub fn is_anonymous(&self) -> bool {
        match self {
            Principal::Anonymous => true,
            Principal::Token { subject, .. } => subject.is_none(),
            Principal::User(_) | Principal::Robot(_) => false,
        }
    }

    /// Whether this is the short-lived pull credential the registry gives an external
    /// scanner for one scan (its subject cannot be a user's or robot's name).
    pub fn is_scanner(&self) -> bool {
        matches!(self, Principal::Token { subject: Some(s), .. } if s == SCANNER_TOKEN_SUBJECT)
    }

    pub fn username(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::User(u) => Some(&u.name),
            Principal::Robot(r) => Some(&r.name),
            Principal::Token { subject, .. } => subject.as_deref(),
        }
    }

    pub fn is_sysadmin(&self) -> bool {
        matches!(self, Principal::User(u) if u.sysadmin)
    }

    /// Whether the caller holds the system-level permission `resource:action`: a system
    /// admin holds all of them, a system robot those of its `system` grants.
    pub fn may_system(&self, resource: &str, action: &str) -> bool {
        match self {
            Principal::User(u) => u.sysadmin,
            Principal::Robot(r) => {
                // Only entries of namespace "/" are system-level: a project wildcard
                // (`*`) must not reach them.
                let system = |g: &&RobotGrant| g.namespace == "/";
                r.project_id.is_none()
                    && r.grants
                        .iter()
                        .filter(system)
                        .any(|g| g.matches("/", resource, action))
                    && !r
                        .denials
                        .iter()
                        .filter(system)
                        .any(|g| g.matches("/", resource, action))
            }
            _ => false,
        }
    }

    /// For token principals, what the token grants on `kind:name`.
    pub fn token_actions(&self, kind: &str, name: &str) -> Option<Actions> {
        match self {
            Principal::Token { access, .. } => Some(
                access
                    .iter()
                    .filter(|a| a.kind == kind && a.name == name)
                    .fold(Actions::NONE, |acc, a| {
                        acc.union(Actions::parse_list(&a.actions.join(",")))
                    }),
            ),
            _ => None,
        }
    }
}
/// Password fingerprint, when it was verified, and who it belongs to.
type CachedCredential = (Vec<u8>, Instant, UserPrincipal);

/// Remembers recently verified Basic credentials so that argon2 (tens of milliseconds by
/// design) runs once per credential and minute, not once per request. Only a SHA-256 of
/// the password is kept, and it is compared in constant time.
pub struct CredentialCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, CachedCredential>>,
}

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        CredentialCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn fingerprint(password: &str) -> Vec<u8> {
        sha2::Sha256::digest(password.as_bytes()).to_vec()
    }

    pub fn get(&self, username: &str, password: &str) -> Option<UserPrincipal> {
        let entries = self.entries.lock();
        let (fp, at, user) = entries.get(username)?;
        let same: bool = fp.ct_eq(&Self::fingerprint(password)).into();
        (same && at.elapsed() < self.ttl).then(|| user.clone())
    }

    pub fn put(&self, username: &str, password: &str, user: UserPrincipal) {
        let mut entries = self.entries.lock();
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert(
            username.to_string(),
            (Self::fingerprint(password), Instant::now(), user),
        );
    }

    /// Forget a user's cached credential (password changed, user deleted).
    pub fn forget(&self, username: &str) {
        self.entries.lock().remove(username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let s = Scope::parse("repository:team/app:pull,push").unwrap();
        assert_eq!(s.kind, "repository");
        assert_eq!(s.name, "team/app");
        assert_eq!(s.actions, vec!["pull", "push"]);
        let c = Scope::parse("registry:catalog:*").unwrap();
        assert_eq!(c.name, "catalog");
        assert!(Scope::parse("repository").is_none());
        assert!(Scope::parse("repository::pull").is_none());
        assert_eq!(Actions::parse_list("pull,bogus"), Actions::PULL);
        assert_eq!(Actions::parse_list("*"), Actions::ALL);
        assert_eq!(Actions::ALL.to_string(), "pull,push,delete");
    }

    #[test]
    fn credential_cache() {
        let c = CredentialCache::new(Duration::from_secs(60));
        let u = UserPrincipal {
            id: 1,
            name: "admin".into(),
            sysadmin: true,
        };
        c.put("admin", "pw", u.clone());
        assert_eq!(c.get("admin", "pw"), Some(u));
        assert_eq!(c.get("admin", "other"), None);
        c.forget("admin");
        assert_eq!(c.get("admin", "pw"), None);
    }
}
