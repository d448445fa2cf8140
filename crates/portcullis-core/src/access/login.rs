//! Logging in with Basic credentials: users and robot accounts, brute-force limits per
//! username and per client address, and an audit entry for every real verification.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use portcullis_types::ErrorCode;
use sha2::Digest as _;
use subtle::ConstantTimeEq;

use super::Access;
use crate::audit::Actor;
use crate::auth::{Principal, RobotGrant, RobotPrincipal, UserPrincipal, verify_password};
use crate::error::{Error, Result};

/// The prefix of every robot account name.
pub const ROBOT_PREFIX: &str = "robot$";

/// Counts failed logins per key in a sliding window.
pub struct LoginLimiter {
    per_user: u32,
    per_address: u32,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// At most `per_user` failures per username and `per_address` per client address
    /// within `window`; 0 disables a limit.
    pub fn new(per_user: u32, per_address: u32, window: Duration) -> Self {
        LoginLimiter {
            per_user,
            per_address,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn count(&self, map: &mut HashMap<String, VecDeque<Instant>>, key: &str) -> u32 {
        let Some(q) = map.get_mut(key) else { return 0 };
        while q.front().is_some_and(|t| t.elapsed() > self.window) {
            q.pop_front();
        }
        u32::try_from(q.len()).unwrap_or(u32::MAX)
    }

    /// Whether another attempt for `user` from `address` must be refused now.
    pub fn blocked(&self, user: &str, address: &str) -> bool {
        let mut map = self.failures.lock();
        (self.per_user > 0 && self.count(&mut map, &format!("u:{user}")) >= self.per_user)
            || (self.per_address > 0
                && self.count(&mut map, &format!("a:{address}")) >= self.per_address)
    }

    /// Notes a failed attempt.
    pub fn failed(&self, user: &str, address: &str) {
        let mut map = self.failures.lock();
        if map.len() > 100_000 {
            map.clear();
        }
        let now = Instant::now();
        for key in [format!("u:{user}"), format!("a:{address}")] {
            map.entry(key).or_default().push_back(now);
        }
    }

    /// Forgets the username's failures after a successful login.
    pub fn succeeded(&self, user: &str) {
        self.failures.lock().remove(&format!("u:{user}"));
    }
}

/// Secret fingerprint, when it was verified, and the robot it belongs to.
type CachedRobot = (
    Vec<u8>,
    Instant,
    RobotPrincipal,
    Option<time::OffsetDateTime>,
);

/// Recently verified robot secrets, so that argon2 runs once per secret and minute.
pub struct RobotCredentials {
    ttl: Duration,
    entries: Mutex<HashMap<String, CachedRobot>>,
}

impl RobotCredentials {
    /// A cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        RobotCredentials {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, name: &str, secret: &str) -> Option<RobotPrincipal> {
        let entries = self.entries.lock();
        let (fp, at, robot, expires) = entries.get(name)?;
        let same: bool = fp.ct_eq(&sha2::Sha256::digest(secret.as_bytes())).into();
        let live = expires.is_none_or(|e| e > time::OffsetDateTime::now_utc());
        (same && live && at.elapsed() < self.ttl).then(|| robot.clone())
    }

    fn put(&self, secret: &str, robot: RobotPrincipal, expires: Option<time::OffsetDateTime>) {
        let mut entries = self.entries.lock();
        if entries.len() > 10_000 {
            entries.clear();
        }
        let fp = sha2::Sha256::digest(secret.as_bytes()).to_vec();
        entries.insert(robot.name.clone(), (fp, Instant::now(), robot, expires));
    }

    /// Forgets a robot (secret refreshed, disabled, changed or deleted).
    pub fn forget(&self, name: &str) {
        self.entries.lock().remove(name);
    }
}

/// A robot's grants from its stored Harbor permission list: the allowed entries, and
/// the denied ones (`"effect": "deny"`), which win over any allow they match.
pub fn robot_grants(permissions: &serde_json::Value) -> (Vec<RobotGrant>, Vec<RobotGrant>) {
    let mut allowed = Vec::new();
    let mut denied = Vec::new();
    for p in permissions.as_array().into_iter().flatten() {
        let namespace = p["namespace"].as_str().unwrap_or_default();
        for a in p["access"].as_array().into_iter().flatten() {
            if let (Some(resource), Some(action)) = (a["resource"].as_str(), a["action"].as_str()) {
                let grant = RobotGrant {
                    namespace: namespace.to_string(),
                    resource: resource.to_string(),
                    action: action.to_string(),
                };
                if a["effect"]
                    .as_str()
                    .is_some_and(|e| e.eq_ignore_ascii_case("deny"))
                {
                    denied.push(grant);
                } else {
                    allowed.push(grant);
                }
            }
        }
    }
    (allowed, denied)
}

impl Access {
    /// Verifies Basic credentials of a user or robot. `Ok(None)`: wrong name or secret,
    /// disabled or expired robot. `Err` with `TOOMANYREQUESTS` while the name or the
    /// address is over its failure limit. Verifications that reach the database are
    /// recorded in the audit log.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client_ip: &str,
    ) -> Result<Option<Principal>> {
        if username.starts_with(ROBOT_PREFIX) {
            if let Some(r) = self.robot_credentials.get(username, password) {
                return Ok(Some(Principal::Robot(r)));
            }
        } else if let Some(u) = self.credentials.get(username, password) {
            return Ok(Some(Principal::User(u)));
        }
        let actor = Actor {
            username: username.to_string(),
            client_ip: client_ip.to_string(),
        };
        if self.login_limiter.blocked(username, client_ip) {
            self.audit_log
                .action(&actor, "login", "user", username, None, false);
            return Err(Error::new(
                ErrorCode::TooManyRequests,
                "too many failed login attempts; try again later",
            ));
        }
        let found = if username.starts_with(ROBOT_PREFIX) {
            self.verify_robot(username, password).await?
        } else {
            self.authenticate_basic(username, password)
                .await?
                .map(Principal::User)
        };
        match &found {
            Some(_) => self.login_limiter.succeeded(username),
            None => self.login_limiter.failed(username, client_ip),
        }
        self.audit_log
            .action(&actor, "login", "user", username, None, found.is_some());
        Ok(found)
    }

    async fn verify_robot(&self, name: &str, secret: &str) -> Result<Option<Principal>> {
        let Some(robot) = self.meta.robots().get_robot_by_name(name).await? else {
            return Ok(None);
        };
        let now = time::OffsetDateTime::now_utc();
        if robot.disabled || robot.expires_at.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        let hash = robot.secret_hash.clone();
        let pw = secret.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &pw))
            .await
            .map_err(Error::internal)?;
        if !ok {
            return Ok(None);
        }
        let p = robot_principal(&robot);
        self.robot_credentials
            .put(secret, p.clone(), robot.expires_at);
        Ok(Some(Principal::Robot(p)))
    }
}

fn robot_principal(robot: &portcullis_meta::Robot) -> RobotPrincipal {
    let (grants, denials) = robot_grants(&robot.permissions);
    RobotPrincipal {
        id: robot.id,
        name: robot.name.clone(),
        project_id: robot.project_id.map(|p| p.0),
        grants,
        denials,
    }
}

impl Access {
    /// The account a bearer token was issued to, as it stands now (`None` when it no
    /// longer exists or may no longer log in): what a token's holder may list is what
    /// its account may see.
    pub async fn subject_principal(&self, principal: &Principal) -> Result<Option<Principal>> {
        let Principal::Token {
            subject: Some(name),
            ..
        } = principal
        else {
            return Ok(None);
        };
        if name.starts_with(ROBOT_PREFIX) {
            let Some(robot) = self.meta.robots().get_robot_by_name(name).await? else {
                return Ok(None);
            };
            let now = time::OffsetDateTime::now_utc();
            if robot.disabled || robot.expires_at.is_some_and(|e| e <= now) {
                return Ok(None);
            }
            return Ok(Some(Principal::Robot(robot_principal(&robot))));
        }
        Ok(self.meta.users().get_user_by_name(name).await?.map(|user| {
            Principal::User(UserPrincipal {
                id: user.id.0,
                name: user.username.clone(),
                sysadmin: user.sysadmin,
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_failures_per_user_and_address() {
        let l = LoginLimiter::new(3, 5, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(!l.blocked("alice", "10.0.0.1"));
            l.failed("alice", "10.0.0.1");
        }
        assert!(l.blocked("alice", "10.0.0.9"));
        assert!(!l.blocked("bob", "10.0.0.2"));
        l.failed("bob", "10.0.0.1");
        l.failed("carol", "10.0.0.1");
        assert!(l.blocked("dave", "10.0.0.1"));
        l.succeeded("alice");
        assert!(!l.blocked("alice", "10.0.0.3"));
        let short = LoginLimiter::new(1, 0, Duration::from_millis(1));
        short.failed("x", "y");
        std::thread::sleep(Duration::from_millis(5));
        assert!(!short.blocked("x", "y"));
    }

    #[test]
    fn grants_come_from_harbor_permissions() {
        let perms = serde_json::json!([{"kind": "project", "namespace": "team",
            "access": [{"resource": "repository", "action": "pull"},
                       {"resource": "repository", "action": "push"}]}]);
        let (grants, denials) = robot_grants(&perms);
        let r = RobotPrincipal {
            id: 1,
            name: "robot$team+ci".into(),
            project_id: Some(1),
            grants,
            denials,
        };
        assert!(r.holds("team", "repository", "push"));
        assert!(!r.holds("team", "artifact", "delete"));
        assert!(!r.holds("other", "repository", "pull"));
        assert!(r.holds_any("team"));
    }

    #[test]
    fn a_denied_entry_wins_over_a_wider_allow() {
        let perms = serde_json::json!([{"kind": "project", "namespace": "*",
            "access": [{"resource": "repository", "action": "*"},
                       {"resource": "repository", "action": "push", "effect": "deny"}]}]);
        let (grants, denials) = robot_grants(&perms);
        let r = RobotPrincipal {
            id: 2,
            name: "robot$ci".into(),
            project_id: None,
            grants,
            denials,
        };
        assert!(r.holds("any", "repository", "pull"));
        assert!(!r.holds("any", "repository", "push"));
    }
}
