//! The registry's bearer tokens (Docker token flow): signed JWTs with `access` claims.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{AccessEntry, Principal};

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
    use crate::auth::Actions;

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
}
