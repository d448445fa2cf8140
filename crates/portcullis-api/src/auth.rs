//! Reading the caller's identity from `Authorization`: Basic credentials or a registry
//! bearer token. Absent credentials mean the anonymous principal.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use portcullis_core::{Principal, Registry};

/// Credentials were presented but are not valid.
#[derive(Debug)]
pub struct BadCredentials;

/// Splits `Basic …` into username and password.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

pub async fn principal(reg: &Registry, headers: &HeaderMap) -> Result<Principal, BadCredentials> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Principal::Anonymous);
    };
    let value = value.to_str().map_err(|_| BadCredentials)?;
    let (scheme, rest) = value.split_once(' ').ok_or(BadCredentials)?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return reg.tokens.verify(rest.trim()).ok_or(BadCredentials);
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let (u, p) = basic_credentials(headers).ok_or(BadCredentials)?;
        return match reg.authenticate_basic(&u, &p).await {
            Ok(Some(user)) => Ok(Principal::User(user)),
            Ok(None) => Err(BadCredentials),
            Err(e) => {
                tracing::error!(error = %e, "authentication failed");
                Err(BadCredentials)
            }
        };
    }
    Err(BadCredentials)
}

/// The base URL clients reach us at: the configured external URL, else the request's
/// `Host` (with the forwarded scheme when a proxy says so).
pub fn base_url(reg: &Registry, headers: &HeaderMap) -> String {
    if let Some(u) = &reg.settings.external_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The `WWW-Authenticate` value of a token challenge.
pub fn challenge(reg: &Registry, headers: &HeaderMap, scope: Option<&str>) -> String {
    let realm = format!("{}/service/token", base_url(reg, headers));
    match scope {
        Some(s) => format!(
            r#"Bearer realm="{realm}",service="{}",scope="{s}""#,
            reg.tokens.service()
        ),
        None => format!(
            r#"Bearer realm="{realm}",service="{}""#,
            reg.tokens.service()
        ),
    }
}
