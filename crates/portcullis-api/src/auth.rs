//! Reading the caller's identity from `Authorization`: Basic credentials or a registry
//! bearer token. Absent credentials mean the anonymous principal.

use axum::http::{HeaderMap, header};
use portcullis_core::{Principal, Registry};

/// Credentials were presented but are not valid, or login attempts are rate limited.
#[derive(Debug)]
pub enum BadCredentials {
    /// Wrong name or secret, malformed header, disabled or expired robot.
    Invalid,
    /// Too many failed attempts for this name or address.
    Limited(portcullis_core::Error),
}

/// The client's address: the peer address of the connection, unless the registry is
/// configured to sit behind a proxy (`--trust-proxy-headers`): then the first
/// `X-Forwarded-For` hop, else `X-Real-IP`. Trusting those headers from anyone would let
/// a client choose its own address and escape per-address login limits.
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
    trust_proxy_headers: bool,
) -> String {
    if !trust_proxy_headers {
        return peer.map(|p| p.ip().to_string()).unwrap_or_default();
    }
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let real = headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    forwarded
        .or(real)
        .map(str::to_string)
        .or_else(|| peer.map(|p| p.ip().to_string()))
        .unwrap_or_default()
}

/// Splits `Basic …` into username and password.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    portcullis_core::auth::parse_basic(value)
}

/// The caller of a request from `client_ip`: anonymous, a user or robot (Basic), or a
/// registry bearer token.
pub async fn principal(
    reg: &Registry,
    headers: &HeaderMap,
    client_ip: &str,
) -> Result<Principal, BadCredentials> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Principal::Anonymous);
    };
    let value = value.to_str().map_err(|_| BadCredentials::Invalid)?;
    let (scheme, rest) = value.split_once(' ').ok_or(BadCredentials::Invalid)?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return reg
            .access
            .tokens
            .verify(rest.trim())
            .ok_or(BadCredentials::Invalid);
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let (u, p) = basic_credentials(headers).ok_or(BadCredentials::Invalid)?;
        return match reg.access.login(&u, &p, client_ip).await {
            Ok(Some(who)) => Ok(who),
            Ok(None) => Err(BadCredentials::Invalid),
            Err(e) if e.code == portcullis_types::ErrorCode::TooManyRequests => {
                Err(BadCredentials::Limited(e))
            }
            Err(e) => {
                tracing::error!(error = %e, "authentication failed");
                Err(BadCredentials::Invalid)
            }
        };
    }
    Err(BadCredentials::Invalid)
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
    let own = if reg.settings.https { "https" } else { "http" };
    let scheme = headers
        .get("x-forwarded-proto")
        .filter(|_| reg.settings.trust_proxy_headers)
        .and_then(|h| h.to_str().ok())
        .unwrap_or(own);
    format!("{scheme}://{host}")
}

/// The `WWW-Authenticate` value of a token challenge.
pub fn challenge(reg: &Registry, headers: &HeaderMap, scope: Option<&str>) -> String {
    let realm = format!("{}/service/token", base_url(reg, headers));
    match scope {
        Some(s) => format!(
            r#"Bearer realm="{realm}",service="{}",scope="{s}""#,
            reg.access.tokens.service()
        ),
        None => format!(
            r#"Bearer realm="{realm}",service="{}""#,
            reg.access.tokens.service()
        ),
    }
}
