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

/// Failed logins in a sliding window, counted per (account, client address) and per
/// client address — never per account alone, so that nobody can lock another person
/// out by failing on purpose from elsewhere. Checking and counting are one step under
/// one lock: an attempt takes its place before the password is verified, so that
/// parallel guesses cannot all slip through before the first failure is counted.
pub struct LoginLimiter {
    per_account: u32,
    per_address: u32,
    window: Duration,
    exempt: Vec<ipnet::IpNet>,
    keys: Mutex<HashMap<String, Tally>>,
}

#[derive(Default)]
struct Tally {
    failures: VecDeque<Instant>,
    /// Attempts being verified now; they count as failures until they are decided.
    pending: u32,
}

/// An attempt that has its place in the counts; report how it ended, or drop it.
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    keys: Option<[String; 2]>,
}

impl LoginLimiter {
    /// At most `per_account` failures per account and address and `per_address` per
    /// address within `window` (0 disables a limit); addresses in `exempt` are never
    /// throttled.
    pub fn new(
        per_account: u32,
        per_address: u32,
        window: Duration,
        exempt: Vec<ipnet::IpNet>,
    ) -> Self {
        LoginLimiter {
            per_account,
            per_address,
            window,
            exempt,
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn keys(user: &str, address: &str) -> [String; 2] {
        [format!("{user}\n{address}"), format!("\n{address}")]
    }

    /// Takes a place for one attempt of `user` from `address`, or `None` while either
    /// count is at its limit.
    pub fn begin(&self, user: &str, address: &str) -> Option<Attempt<'_>> {
        let ip = address.parse::<std::net::IpAddr>().ok();
        if ip.is_some_and(|ip| self.exempt.iter().any(|n| n.contains(&ip))) {
            return Some(Attempt {
                limiter: self,
                keys: None,
            });
        }
        let keys = Self::keys(user, address);
        let mut map = self.keys.lock();
        if map.len() > 100_000 {
            // Bounded memory: forget what has left the window, and if that is not
            // enough, everything not being verified right now.
            let window = self.window;
            map.retain(|_, t| {
                t.pending > 0 || t.failures.back().is_some_and(|at| at.elapsed() <= window)
            });
            if map.len() > 100_000 {
                map.retain(|_, t| t.pending > 0);
            }
        }
        for (key, limit) in keys.iter().zip([self.per_account, self.per_address]) {
            let Some(t) = map.get_mut(key) else { continue };
            while t
                .failures
                .front()
                .is_some_and(|at| at.elapsed() > self.window)
            {
                t.failures.pop_front();
            }
            let used = t.failures.len().saturating_add(t.pending as usize);
            if limit > 0 && used >= limit as usize {
                return None;
            }
        }
        for key in &keys {
            map.entry(key.clone()).or_default().pending += 1;
        }
        Some(Attempt {
            limiter: self,
            keys: Some(keys),
        })
    }

    /// Ends an attempt: a failure is counted on both keys; a success forgets the
    /// failures of that account from that address.
    fn end(&self, keys: &[String; 2], failed: Option<bool>) {
        let mut map = self.keys.lock();
        let now = Instant::now();
        for (i, key) in keys.iter().enumerate() {
            let Some(t) = map.get_mut(key) else { continue };
            t.pending = t.pending.saturating_sub(1);
            match failed {
                Some(true) => t.failures.push_back(now),
                Some(false) if i == 0 => t.failures.clear(),
                _ => {}
            }
            if t.pending == 0 && t.failures.is_empty() {
                map.remove(key);
            }
        }
    }
}

impl Attempt<'_> {
    pub fn failed(mut self) {
        if let Some(keys) = self.keys.take() {
            self.limiter.end(&keys, Some(true));
        }
    }

    pub fn succeeded(mut self) {
        if let Some(keys) = self.keys.take() {
            self.limiter.end(&keys, Some(false));
        }
    }
}

impl Drop for Attempt<'_> {
    /// An attempt that ended in an error (the database was down) counts as neither.
    fn drop(&mut self) {
        if let Some(keys) = self.keys.take() {
            self.limiter.end(&keys, None);
        }
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
        let Some(attempt) = self.login_limiter.begin(username, client_ip) else {
            self.audit_log
                .action(&actor, "login", "user", username, None, false);
            return Err(Error::new(
                ErrorCode::TooManyRequests,
                "too many failed login attempts from this address; try again later",
            ));
        };
        let found = if username.starts_with(ROBOT_PREFIX) {
            self.verify_robot(username, password).await?
        } else {
            self.authenticate_basic(username, password)
                .await?
                .map(Principal::User)
        };
        match &found {
            Some(_) => attempt.succeeded(),
            None => attempt.failed(),
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

    fn fail(l: &LoginLimiter, user: &str, address: &str) {
        l.begin(user, address).expect("not throttled yet").failed();
    }

    #[test]
    fn failures_count_per_account_and_address_and_per_address() {
        let l = LoginLimiter::new(3, 5, Duration::from_secs(60), vec![]);
        for _ in 0..3 {
            fail(&l, "admin", "10.0.0.66");
        }
        assert!(l.begin("admin", "10.0.0.66").is_none());
        // The attacker's failures do not lock the account for anyone else.
        l.begin("admin", "10.0.0.1").unwrap().succeeded();
        // Per address: two more accounts' failures reach the address limit of 5.
        fail(&l, "bob", "10.0.0.66");
        fail(&l, "carol", "10.0.0.66");
        assert!(l.begin("dave", "10.0.0.66").is_none());
        assert!(l.begin("dave", "10.0.0.2").is_some());
        let short = LoginLimiter::new(1, 0, Duration::from_millis(1), vec![]);
        fail(&short, "x", "y");
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.begin("x", "y").is_some());
    }

    #[test]
    fn attempts_in_flight_take_their_place_before_they_are_decided() {
        let l = LoginLimiter::new(10, 50, Duration::from_secs(60), vec![]);
        let held: Vec<_> = (0..300)
            .filter_map(|_| l.begin("admin", "10.0.0.66"))
            .collect();
        assert_eq!(
            held.len(),
            10,
            "parallel guesses beyond the limit were let through"
        );
        held.into_iter().for_each(Attempt::failed);
        assert!(l.begin("admin", "10.0.0.66").is_none());
        // An attempt that ended in an error gives its place back.
        let l = LoginLimiter::new(1, 0, Duration::from_secs(60), vec![]);
        drop(l.begin("a", "b").unwrap());
        assert!(l.begin("a", "b").is_some());
    }

    #[test]
    fn a_success_forgets_that_addresses_failures_and_exempt_addresses_pass() {
        let l = LoginLimiter::new(
            2,
            0,
            Duration::from_secs(60),
            vec!["10.9.0.0/16".parse().unwrap()],
        );
        fail(&l, "u", "10.0.0.1");
        l.begin("u", "10.0.0.1").unwrap().succeeded();
        fail(&l, "u", "10.0.0.1");
        assert!(l.begin("u", "10.0.0.1").is_some());
        for _ in 0..10 {
            fail(&l, "admin", "10.9.1.1");
        }
        assert!(l.begin("admin", "10.9.1.1").is_some());
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
