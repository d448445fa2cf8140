//! Who is calling and what they may do: principals, token scopes, passwords and the
//! registry bearer tokens of the Docker token flow.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

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

/// argon2id with OWASP's 7 MiB / 5 passes profile (as strong as the 19 MiB / 2 passes
/// default, by their analysis) so that each computation holds less memory.
fn argon2() -> Argon2<'static> {
    let params = argon2::Params::new(7 * 1024, 5, 1, None).unwrap_or_default();
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

type ArgonJob = Box<dyn FnOnce() + Send>;

/// argon2 runs on a few dedicated threads: a burst of logins (or a brute-force attempt)
/// queues instead of costing memory without bound, and the allocator's per-thread
/// caches of those multi-megabyte buffers exist on these threads only, which keeps the
/// resident size of an idle server small. More threads than cores buy no throughput.
static ARGON_POOL: std::sync::LazyLock<std::sync::mpsc::SyncSender<ArgonJob>> =
    std::sync::LazyLock::new(|| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<ArgonJob>(4096);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        // Half the cores: logins queue briefly in a burst, while the rest of the registry keeps
        // serving; each thread keeps its 7 MiB of working memory for reuse.
        let workers = (std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            / 2)
        .clamp(1, 4);
        for i in 0..workers {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start an argon2 thread");
            }
        }
        tx
    });

/// Runs `f` on the argon2 threads and waits for its result (call from blocking code).
fn on_argon_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    ARGON_POOL
        .send(Box::new(move || {
            let _ = tx.send(f());
        }))
        .ok()?;
    rx.recv().ok()
}

thread_local! {
    /// argon2's working memory, allocated once per argon2 thread and reused: allocating
    /// it afresh for each computation makes the allocator keep one more copy each time.
    static ARGON_BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn argon2_into(
    alg: argon2::Algorithm,
    ver: argon2::Version,
    params: argon2::Params,
    pwd: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    ARGON_BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        let n = params.block_count();
        if blocks.len() < n {
            blocks.resize(n, argon2::Block::default());
        }
        Argon2::new(alg, ver, params).hash_password_into_with_memory(
            pwd,
            salt,
            out,
            &mut blocks[..n],
        )
    })
}

fn b64(data: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, data)
}

/// Hashes a password or secret with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let password = password.to_string();
    on_argon_thread(move || {
        let params = argon2().params().clone();
        let mut salt = [0u8; 16];
        rand::fill(&mut salt);
        let mut out = [0u8; 32];
        argon2_into(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params.clone(),
            password.as_bytes(),
            &salt,
            &mut out,
        )
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            b64(&salt),
            b64(&out)
        ))
    })
    .unwrap_or_else(|| Err(anyhow::anyhow!("argon2 threads are not running")))
}

/// Checks a password against a PHC string (whatever parameters it was made with),
/// comparing in constant time.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let (phc, password) = (phc.to_string(), password.to_string());
    on_argon_thread(move || {
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt.as_ref(), parsed.hash.as_ref()) else {
            return false;
        };
        let Ok(alg) = argon2::Algorithm::try_from(parsed.algorithm.as_str()) else {
            return false;
        };
        let ver = match parsed.version {
            Some(v) => match argon2::Version::try_from(v) {
                Ok(v) => v,
                Err(_) => return false,
            },
            None => argon2::Version::V0x13,
        };
        let Ok(params) = argon2::Params::try_from(&parsed) else {
            return false;
        };
        let expected: &[u8] = expected.as_ref();
        let mut out = vec![0u8; expected.len()];
        if argon2_into(
            alg,
            ver,
            params,
            password.as_bytes(),
            salt.as_ref(),
            &mut out,
        )
        .is_err()
        {
            return false;
        }
        out.ct_eq(expected).into()
    })
    .unwrap_or(false)
}

/// A random printable secret (passwords generated at first start, robot secrets).
pub fn random_secret(len: usize) -> String {
    // 56 symbols without look-alikes (0/O, 1/l/I). Draws are redone until Harbor's
    // password rule (upper, lower, digit) holds, rather than fixing any position.
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    loop {
        // Twice as many draws as needed, so that dropping some rarely leaves too few.
        let mut bytes = vec![0u8; 2 * len + 16];
        rand::fill(&mut bytes[..]);
        // 256 is not a multiple of 56: drop the top draws so every symbol is equally likely.
        let s: String = bytes
            .iter()
            .filter(|b| (**b as usize) < 256 - 256 % ALPHABET.len())
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .take(len)
            .collect();
        let ok = s.len() == len
            && (len < 3
                || (s.bytes().any(|c| c.is_ascii_uppercase())
                    && s.bytes().any(|c| c.is_ascii_lowercase())
                    && s.bytes().any(|c| c.is_ascii_digit())));
        if ok {
            return s;
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
        self.issue_for(subject, access, self.ttl)
    }

    /// A token with its own lifetime, for credentials handed to other services (a
    /// scanner adapter pulling one image) that should not outlive their use.
    pub fn issue_for(
        &self,
        subject: Option<&str>,
        access: Vec<AccessEntry>,
        ttl: Duration,
    ) -> anyhow::Result<IssuedToken> {
        let now = time::OffsetDateTime::now_utc();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: subject.unwrap_or("").to_string(),
            aud: self.service.clone(),
            exp: now.unix_timestamp() + ttl.as_secs() as i64,
            nbf: now.unix_timestamp() - 1,
            iat: now.unix_timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            access,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_in: ttl.as_secs(),
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
        // Our PHC strings are standard: argon2's own verifier accepts them, and we accept
        // its hashes made with other parameters.
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"Harbor12345", &parsed)
                .is_ok()
        );
        let theirs = Argon2::default()
            .hash_password(b"s3cret")
            .unwrap()
            .to_string();
        assert!(verify_password(&theirs, "s3cret"));
        assert!(!verify_password(&theirs, "s3cre7"));
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
