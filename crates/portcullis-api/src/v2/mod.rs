//! The OCI distribution API. One handler takes every `/v2/…` request, parses the path
//! into an `Endpoint`, authenticates and authorizes, then calls one of the small
//! handlers in the submodules.

mod blobs;
mod drain;
mod manifests;
pub mod path;
mod uploads;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::{Actions, ProjectInfo, Refusal, Registry};
use portcullis_types::{Digest, ErrorCode, RepoName, media};

use crate::auth;
use crate::error::{ApiError, ApiResult};
use path::{Endpoint, PathError};

/// Everything a handler needs about the request it serves.
pub(crate) struct Ctx {
    pub reg: Arc<Registry>,
    pub method: Method,
    pub headers: HeaderMap,
    pub query: HashMap<String, Vec<String>>,
    pub principal: portcullis_core::Principal,
    pub client_ip: String,
}

impl Ctx {
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// The service-level context of this request: who, from where, through which host.
    pub fn request(&self) -> portcullis_core::RequestCtx {
        let host = self
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        portcullis_core::RequestCtx::new(self.principal.clone(), self.client_ip.clone(), host)
    }

    /// Authorizes `needed` on `repo`, turning a refusal into the right response.
    pub async fn authorize(&self, repo: &RepoName, needed: Actions) -> ApiResult<ProjectInfo> {
        self.authorize_with(repo, needed, &[]).await
    }

    /// `authorize`, where a challenge also names `also` (the source of a mount), so that
    /// the token the client fetches covers the whole request.
    pub async fn authorize_with(
        &self,
        repo: &RepoName,
        needed: Actions,
        also: &[String],
    ) -> ApiResult<ProjectInfo> {
        let refusal = match self
            .reg
            .access
            .authorize(&self.principal, repo, needed)
            .await
        {
            Ok(p) => return Ok(p),
            Err(r) => r,
        };
        // Ask for pull alongside push, as clients do, so one token serves both.
        let wanted = if needed.contains(Actions::PUSH) {
            needed.union(Actions::PULL)
        } else {
            needed
        };
        let mut scope = format!("repository:{repo}:{wanted}");
        for s in also {
            scope.push(' ');
            scope.push_str(s);
        }
        match refusal {
            Refusal::Challenge => Err(self.challenge(&scope, None)),
            Refusal::InsufficientScope => Err(self.challenge(&scope, Some("insufficient_scope"))),
            Refusal::Denied => Err(ApiError::code(ErrorCode::Denied)),
            Refusal::NotFound(e) => Err(e.into()),
        }
    }

    /// A 401 asking for a token with `scope`; `error` is the RFC 6750 error, if any.
    pub fn challenge(&self, scope: &str, error: Option<&str>) -> ApiError {
        let mut value = auth::challenge(&self.reg, &self.headers, Some(scope));
        let err = match error {
            Some(e) => {
                value.push_str(&format!(r#",error="{e}""#));
                ApiError::new(
                    ErrorCode::Unauthorized,
                    "the token does not grant the access this request needs",
                )
            }
            None => ApiError::code(ErrorCode::Unauthorized),
        };
        err.challenge(value)
    }
}

pub(crate) fn parse_query(q: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in form_pairs(q.unwrap_or("")) {
        map.entry(k).or_default().push(v);
    }
    map
}

fn form_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    q.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k), decode(v))
    })
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Adds the header every `/v2/` response carries.
pub(crate) fn with_api_version(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}

pub(crate) fn parse_digest(s: &str) -> ApiResult<Digest> {
    Digest::parse(s).map_err(|e| ApiError::new(ErrorCode::DigestInvalid, e.to_string()))
}

pub async fn dispatch(State(reg): State<Arc<Registry>>, req: Request) -> Response {
    // Only methods that carry bodies need their leftovers drained; reads (the hot path)
    // skip the wrapper and its lock.
    if !matches!(req.method(), &Method::PUT | &Method::POST | &Method::PATCH) {
        return handle(reg, req).await;
    }
    let version = req.version();
    let leftover = drain::Leftover::default();
    let req = req.map(|b| leftover.track(b));
    let resp = handle(reg, req).await;
    leftover.settle(version, resp).await
}

async fn handle(reg: Arc<Registry>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let rest = parts
        .uri
        .path()
        .strip_prefix("/v2")
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string();
    let endpoint = match path::parse(&rest) {
        Ok(e) => e,
        Err(PathError::NotFound) => {
            return ApiError::new(ErrorCode::NotFound, "unknown /v2/ endpoint").into_response();
        }
        Err(PathError::Name(e)) => {
            return ApiError::new(ErrorCode::NameInvalid, e.to_string()).into_response();
        }
    };
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let client_ip = auth::client_ip(&parts.headers, peer, reg.settings.trust_proxy_headers);
    let principal = match auth::principal(&reg, &parts.headers, &client_ip).await {
        Ok(p) => p,
        Err(auth::BadCredentials::Limited(e)) => {
            return with_api_version(ApiError::from(e).into_response());
        }
        Err(auth::BadCredentials::Invalid) => {
            return ApiError::new(
                ErrorCode::Unauthorized,
                "invalid username, password or token",
            )
            .challenge(auth::challenge(&reg, &parts.headers, None))
            .into_response();
        }
    };
    let ctx = Ctx {
        reg,
        method: parts.method,
        query: parse_query(parts.uri.query()),
        headers: parts.headers,
        principal,
        client_ip,
    };
    let result = route(&ctx, endpoint, body).await;
    with_api_version(result.unwrap_or_else(IntoResponse::into_response))
}

async fn route(ctx: &Ctx, endpoint: Endpoint, body: Body) -> ApiResult<Response> {
    use Method as M;
    let m = ctx.method.clone();
    match (endpoint, m) {
        (Endpoint::Base, M::GET | M::HEAD) => base(ctx),
        (Endpoint::Catalog, M::GET) => catalog(ctx).await,
        (Endpoint::Tags(repo), M::GET) => tags(ctx, &repo).await,
        (Endpoint::Referrers(repo, d), M::GET) => referrers(ctx, &repo, &d).await,
        (Endpoint::Manifest(repo, r), M::GET | M::HEAD) => manifests::get(ctx, &repo, &r).await,
        (Endpoint::Manifest(repo, r), M::PUT) => manifests::put(ctx, &repo, &r, body).await,
        (Endpoint::Manifest(repo, r), M::DELETE) => manifests::delete(ctx, &repo, &r).await,
        (Endpoint::Blob(repo, d), M::GET | M::HEAD) => blobs::get(ctx, &repo, &d).await,
        (Endpoint::Blob(repo, d), M::DELETE) => blobs::delete(ctx, &repo, &d).await,
        (Endpoint::UploadStart(repo), M::POST) => uploads::start(ctx, &repo, body).await,
        (Endpoint::Upload(repo, id), M::GET) => uploads::status(ctx, &repo, &id).await,
        (Endpoint::Upload(repo, id), M::PATCH) => uploads::patch(ctx, &repo, &id, body).await,
        (Endpoint::Upload(repo, id), M::PUT) => uploads::finish(ctx, &repo, &id, body).await,
        (Endpoint::Upload(repo, id), M::DELETE) => uploads::cancel(ctx, &repo, &id).await,
        _ => Err(ApiError::new(
            ErrorCode::Unsupported,
            "the method is not supported on this endpoint",
        )),
    }
}

fn base(ctx: &Ctx) -> ApiResult<Response> {
    if ctx.principal.is_anonymous() {
        return Err(
            ApiError::code(ErrorCode::Unauthorized).challenge(auth::challenge(
                &ctx.reg,
                &ctx.headers,
                None,
            )),
        );
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{}",
    )
        .into_response())
}

/// `n` and `last` of the listing endpoints; `n` is capped so one request stays cheap.
fn paging(ctx: &Ctx) -> ApiResult<(Option<u32>, Option<String>)> {
    let n = match ctx.q("n") {
        Some(s) => Some(
            s.parse::<u32>()
                .map_err(|_| {
                    ApiError::new(ErrorCode::BadRequest, "n must be a non-negative integer")
                })?
                .min(10_000),
        ),
        None => None,
    };
    Ok((n, ctx.q("last").map(str::to_string)))
}

fn link_next(path: &str, n: u32, last: &str) -> String {
    let enc = percent_encoding::utf8_percent_encode(last, percent_encoding::NON_ALPHANUMERIC);
    format!("<{path}?n={n}&last={enc}>; rel=\"next\"")
}

async fn tags(ctx: &Ctx, repo: &RepoName) -> ApiResult<Response> {
    ctx.authorize(repo, Actions::PULL).await?;
    let (n, last) = paging(ctx)?;
    let tags = if n == Some(0) {
        Vec::new()
    } else {
        ctx.reg.tags(repo, last.as_deref(), n).await?
    };
    let body = serde_json::json!({ "name": repo.as_str(), "tags": tags });
    let mut resp = axum::Json(body).into_response();
    if let (Some(n), Some(last)) = (n, tags.last())
        && n > 0
        && tags.len() as u32 == n
    {
        let link = link_next(&format!("/v2/{repo}/tags/list"), n, last);
        resp.headers_mut().insert(
            header::LINK,
            HeaderValue::from_str(&link).map_err(portcullis_core::Error::internal)?,
        );
    }
    Ok(resp)
}

async fn catalog(ctx: &Ctx) -> ApiResult<Response> {
    if ctx.principal.is_anonymous() {
        return Err(ctx.challenge("registry:catalog:*", None));
    }
    let (n, last) = paging(ctx)?;
    let n = n.unwrap_or(1000);
    let only = ctx.reg.access.visible_project_ids(&ctx.principal).await?;
    let repos = if n == 0 {
        Vec::new()
    } else {
        ctx.reg.catalog(last.as_deref(), n, only.as_deref()).await?
    };
    let mut resp = axum::Json(serde_json::json!({ "repositories": repos })).into_response();
    if let Some(l) = repos.last()
        && repos.len() as u32 == n
    {
        let link = link_next("/v2/_catalog", n, l);
        resp.headers_mut().insert(
            header::LINK,
            HeaderValue::from_str(&link).map_err(portcullis_core::Error::internal)?,
        );
    }
    Ok(resp)
}

async fn referrers(ctx: &Ctx, repo: &RepoName, digest: &str) -> ApiResult<Response> {
    ctx.authorize(repo, Actions::PULL).await?;
    let digest = parse_digest(digest)?;
    let filter = ctx.q("artifactType").filter(|s| !s.is_empty());
    let list = ctx.reg.referrers(repo, &digest, filter).await?;
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": list,
    });
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, media::OCI_INDEX)],
        body.to_string(),
    )
        .into_response();
    if filter.is_some() {
        resp.headers_mut().insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(resp)
}
