//! Fuzz harnesses for the credentials every request may carry (docs/fuzzing.md): the
//! bearer tokens the registry issued and Basic credentials. Under `cargo test` each
//! replays its corpus (`src/__fuzz__/<target>/corpus`) and then runs random inputs for
//! a second.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use serde_json::Value;

use crate::auth::{TokenService, parse_basic};

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const SERVICE: &str = "harbor-registry";

/// The input is tried twice: as the bearer string a client sends, and, when it is a
/// JSON object, as the claims of a token signed with the registry's key (with the
/// claims validation requires filled in when missing), so that the claims decoding and
/// the access entries behind the signature check are reached too.
#[test]
fn bearer_token() {
    let service = TokenService::new(KEY, SERVICE, Duration::from_secs(60));
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 600;
    bolero::check!().for_each(|input: &[u8]| {
        let text = String::from_utf8_lossy(input);
        if let Some(p) = service.verify(&text) {
            let _ = p.token_actions("repository", "p/r");
        }
        let Ok(Value::Object(mut claims)) = serde_json::from_slice::<Value>(input) else {
            return;
        };
        claims
            .entry("iss")
            .or_insert_with(|| "portcullis-token-issuer".into());
        claims.entry("aud").or_insert_with(|| SERVICE.into());
        claims.entry("exp").or_insert_with(|| exp.into());
        let token =
            jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(KEY))
                .expect("an object of JSON values serializes");
        if let Some(p) = service.verify(&token) {
            for entry in claims
                .get("access")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(kind), Some(name)) = (entry["type"].as_str(), entry["name"].as_str())
                else {
                    continue;
                };
                assert!(p.token_actions(kind, name).is_some());
            }
            let _ = p.username();
        }
    });
}

/// `Authorization` values; whatever parses must come from the Basic scheme.
#[test]
fn basic_authorization() {
    bolero::check!().for_each(|input: &[u8]| {
        let value = String::from_utf8_lossy(input);
        if parse_basic(&value).is_some() {
            assert!(
                value
                    .get(..6)
                    .is_some_and(|s| s.eq_ignore_ascii_case("basic "))
            );
        }
    });
}
