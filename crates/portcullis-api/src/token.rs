//! `GET /service/token`: the Docker token flow. The token grants, for each requested
//! scope, the intersection of the requested and the allowed actions.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use portcullis_core::auth::{AccessEntry, Scope};
use portcullis_core::{Actions, Principal, Registry};
use portcullis_types::{ErrorCode, RepoName};

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::v2::parse_query;

pub async fn token(State(reg): State<Arc<Registry>>, req: Request) -> Response {
    issue(&reg, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn issue(reg: &Registry, req: Request) -> ApiResult<Response> {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let ip = auth::client_ip(req.headers(), peer, reg.settings.trust_proxy_headers);
    let principal = auth::principal(reg, req.headers(), &ip)
        .await
        .map_err(|e| match e {
            auth::BadCredentials::Limited(e) => ApiError::from(e),
            auth::BadCredentials::Invalid => {
                ApiError::new(ErrorCode::Unauthorized, "invalid username or password").challenge(
                    format!(
                        r#"Basic realm="{}/service/token""#,
                        auth::base_url(reg, req.headers())
                    ),
                )
            }
        })?;
    // A bearer token cannot mint another token.
    if matches!(principal, Principal::Token { .. }) {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "present a username and password to obtain a token",
        ));
    }
    let query = parse_query(req.uri().query());
    if let Some(service) = query.get("service").and_then(|v| v.first())
        && service != reg.access.tokens.service()
    {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("unknown service {service:?}"),
        ));
    }
    let mut access = Vec::new();
    for raw in query
        .get("scope")
        .into_iter()
        .flatten()
        .flat_map(|s| s.split(' '))
    {
        let Some(scope) = Scope::parse(raw) else {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("invalid scope {raw:?}"),
            ));
        };
        let requested = Actions::parse_list(&scope.actions.join(","));
        let granted = match scope.kind.as_str() {
            "repository" => match RepoName::parse(&scope.name) {
                Ok(repo) => reg
                    .access
                    .allowed_on(&principal, &repo)
                    .await?
                    .intersect(requested),
                Err(_) => Actions::NONE,
            },
            "registry" if scope.name == "catalog" && principal.is_sysadmin() => {
                access.push(AccessEntry {
                    kind: "registry".into(),
                    name: "catalog".into(),
                    actions: vec!["*".into()],
                });
                continue;
            }
            _ => Actions::NONE,
        };
        if !granted.is_empty() {
            access.push(AccessEntry {
                kind: scope.kind,
                name: scope.name,
                actions: granted.names(),
            });
        }
    }
    let issued = reg
        .access
        .tokens
        .issue(principal.username(), access)
        .map_err(portcullis_core::Error::internal)?;
    let issued_at = issued
        .issued_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(axum::Json(serde_json::json!({
        "token": issued.token,
        "access_token": issued.token,
        "expires_in": issued.expires_in,
        "issued_at": issued_at,
    }))
    .into_response())
}
