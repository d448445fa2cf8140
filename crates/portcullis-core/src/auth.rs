//! Who is calling and what they may do: principals, token scopes, passwords and the
//! registry bearer tokens of the Docker token flow.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use subtle::ConstantTimeEq;

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
}

impl RobotPrincipal {
    /// Whether the robot holds `resource`/`action` in `project` (`*` matches anything).
    pub fn holds(&self, project: &str, resource: &str, action: &str) -> bool {
        self.grants.iter().any(|g| {
            (g.namespace == project || g.namespace == "*")
                && (g.resource == resource || g.resource == "*")
                && (g.action == action || g.action == "*")
        })
    }

    /// Whether the robot holds anything at all in `project`.
    pub fn holds_any(&self, project: &str) -> bool {
        self.grants
            .iter()
            .any(|g| g.namespace == project || g.namespace == "*")
    }
}

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

/// Bounds how many argon2 computations run at once. Each one takes about 19 MiB by
/// design, so a burst of logins (or a brute-force attempt) would otherwise cost memory
/// without bound; beyond the number of cores, more at once buys no throughput anyway.
struct ArgonSlot;

static ARGON_SLOTS: std::sync::LazyLock<(std::sync::Mutex<usize>, std::sync::Condvar)> =
    std::sync::LazyLock::new(|| (std::sync::Mutex::new(0), std::sync::Condvar::new()));

impl ArgonSlot {
    fn acquire() -> ArgonSlot {
        let max = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let (lock, cvar) = &*ARGON_SLOTS;
        let mut busy = lock.lock().unwrap_or_else(|p| p.into_inner());
        while *busy >= max {
            busy = cvar.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy += 1;
        ArgonSlot
    }
}

impl Drop for ArgonSlot {
    fn drop(&mut self) {
        let (lock, cvar) = &*ARGON_SLOTS;
        let mut busy = lock.lock().unwrap_or_else(|p| p.into_inner());
        *busy -= 1;
        cvar.notify_one();
    }
}

/// Hashes a password or secret with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let _slot = ArgonSlot::acquire();
    // argon2's default salt comes from the operating system's random source.
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(hash.to_string())
}

/// Checks a password against a PHC string; argon2's verifier compares in constant time.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let _slot = ArgonSlot::acquire();
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A random printable secret (passwords generated at first start, robot secrets).
pub fn random_secret(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = vec![0u8; len];
    rand::fill(&mut bytes[..]);
    // Guarantee Harbor's password rule (upper, lower, digit) regardless of the draw.
    let mut s: String = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    if len >= 3 {
        s.replace_range(0..3, "Aa2");
    }
    s
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

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    sub: String,
    aud: String,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    #[serde(default)]
    access: Vec<AccessEntry>,
}

/// A token as handed to clients by `/service/token`.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_in: u64,
    pub issued_at: time::OffsetDateTime,
}

/// Issues and verifies registry bearer tokens (HS256 with a key kept in the data dir).
pub struct TokenService {
    issuer: String,
    service: String,
    ttl: Duration,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenService {
    pub fn new(key: &[u8], service: &str, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[service]);
        validation.set_issuer(&["portcullis-token-issuer"]);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        TokenService {
            issuer: "portcullis-token-issuer".to_string(),
            service: service.to_string(),
            ttl,
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn issue(
        &self,
        subject: Option<&str>,
        access: Vec<AccessEntry>,
    ) -> anyhow::Result<IssuedToken> {
        let now = time::OffsetDateTime::now_utc();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: subject.unwrap_or("").to_string(),
            aud: self.service.clone(),
            exp: now.unix_timestamp() + self.ttl.as_secs() as i64,
            nbf: now.unix_timestamp() - 1,
            iat: now.unix_timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            access,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl.as_secs(),
            issued_at: now,
        })
    }

    /// The principal a token stands for, or `None` when it is invalid or expired.
    pub fn verify(&self, token: &str) -> Option<Principal> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let c = data.claims;
        Some(Principal::Token {
            subject: (!c.sub.is_empty()).then_some(c.sub),
            access: c.access,
        })
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
    fn passwords() {
        let h = hash_password("Harbor12345").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "Harbor12345"));
        assert!(!verify_password(&h, "harbor12345"));
        assert!(!verify_password("not a hash", "x"));
        let s = random_secret(20);
        assert_eq!(s.len(), 20);
        assert_ne!(random_secret(20), random_secret(20));
    }

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let ts = TokenService::new(
            b"0123456789abcdef0123456789abcdef",
            "harbor-registry",
            Duration::from_secs(60),
        );
        let access = vec![AccessEntry {
            kind: "repository".into(),
            name: "p/r".into(),
            actions: vec!["pull".into()],
        }];
        let t = ts.issue(Some("admin"), access).unwrap();
        let p = ts.verify(&t.token).unwrap();
        assert_eq!(p.username(), Some("admin"));
        assert_eq!(p.token_actions("repository", "p/r"), Some(Actions::PULL));
        assert_eq!(
            p.token_actions("repository", "p/other"),
            Some(Actions::NONE)
        );
        let other = TokenService::new(
            b"another key another key another!",
            "harbor-registry",
            Duration::from_secs(60),
        );
        assert!(other.verify(&t.token).is_none());
        let anon = ts.issue(None, vec![]).unwrap();
        assert!(ts.verify(&anon.token).unwrap().is_anonymous());
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
