//! Harbor's REST API v2.0 (`/api/v2.0/`): same paths, field names, status codes and
//! error bodies as Harbor, so that tools written for Harbor work unchanged.

mod artifacts;
mod audit;
mod cve_export;
mod declined;
mod go_json;
mod labels;
mod members;
pub(crate) mod params;
mod policy;
mod project_extras;
mod projects;
mod repositories;
mod robots;
mod scanners;
mod scanning;
mod schedules;
mod search;
mod security;
mod system;
mod trusted_keys;
mod users;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, put};
use portcullis_core::{Principal, Registry, RequestCtx};
use portcullis_types::ErrorCode;

pub(crate) use go_json::HarborJson;

use crate::auth;
use crate::error::ApiError;

pub fn router() -> Router<Arc<Registry>> {
    Router::new()
        .merge(labels::routes())
        .merge(project_extras::routes())
        .merge(declined::routes())
        .merge(scanners::routes())
        .merge(trusted_keys::routes())
        .merge(policy::routes())
        .merge(scanning::routes())
        .merge(cve_export::routes())
        .route("/api/v2.0/ping", get(system::ping))
        .route("/api/v2.0/health", get(system::health))
        .route("/api/v2.0/systeminfo", get(system::systeminfo))
        .route("/api/v2.0/systeminfo/volumes", get(system::volumes))
        .route("/api/v2.0/jobservice/queues", get(system::job_queues))
        .route(
            "/api/v2.0/jobservice/queues/{job_type}",
            put(system::queue_action),
        )
        .route("/api/v2.0/jobservice/jobs/{job_id}", put(system::stop_job))
        .route(
            "/api/v2.0/jobservice/jobs/{job_id}/log",
            get(system::job_log),
        )
        .route(
            "/api/v2.0/projects",
            get(projects::list)
                .post(projects::create)
                .head(projects::head),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}",
            get(projects::get_one)
                .put(projects::update)
                .delete(projects::delete),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/members",
            get(members::list).post(members::add),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/members/{mid}",
            get(members::get_one)
                .put(members::update)
                .delete(members::remove),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/logs",
            get(audit::project_logs),
        )
        .route("/api/v2.0/audit-logs", get(audit::list))
        .route("/api/v2.0/schedules", get(schedules::list))
        .route(
            "/api/v2.0/schedules/{job_type}/paused",
            get(schedules::paused),
        )
        .route("/api/v2.0/auditlog-exts", get(audit::list))
        .route("/api/v2.0/auditlog-exts/events", get(audit::event_types))
        .route(
            "/api/v2.0/projects/{project_name_or_id}/auditlog-exts",
            get(audit::project_logs),
        )
        .route(
            "/api/v2.0/system/purgeaudit",
            get(audit::history).post(audit::purge),
        )
        .route(
            "/api/v2.0/system/purgeaudit/{purge_id}",
            get(audit::run).put(audit::stop),
        )
        .route(
            "/api/v2.0/system/purgeaudit/{purge_id}/log",
            get(audit::run_log),
        )
        .route(
            "/api/v2.0/system/purgeaudit/schedule",
            get(audit::schedule).put(audit::set_schedule).post(audit::set_schedule),
        )
        .route("/api/v2.0/users", get(users::list).post(users::create))
        .route("/api/v2.0/users/current", get(users::current))
        .route(
            "/api/v2.0/users/current/permissions",
            get(users::current_permissions),
        )
        .route("/api/v2.0/users/search", get(users::search))
        .route(
            "/api/v2.0/users/{user_id}",
            get(users::get_one).put(users::update).delete(users::delete),
        )
        .route("/api/v2.0/users/{user_id}/password", put(users::password))
        .route("/api/v2.0/users/{user_id}/sysadmin", put(users::sysadmin))
        .route("/api/v2.0/robots", get(robots::list).post(robots::create))
        .route(
            "/api/v2.0/robots/{robot_id}",
            get(robots::get_one)
                .put(robots::update)
                .patch(robots::refresh)
                .delete(robots::delete),
        )
        .route("/api/v2.0/permissions", get(robots::permissions))
        .route("/api/v2.0/search", get(search::search))
        .route("/api/v2.0/security/summary", get(security::summary))
        .route("/api/v2.0/security/vul", get(security::vulnerabilities))
        .route("/api/v2.0/repositories", get(repositories::list_all))
        .route(
            "/api/v2.0/projects/{project_name_or_id}/artifacts",
            get(artifacts::list_of_project),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/summary",
            get(repositories::summary),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories",
            get(repositories::list),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}",
            get(repositories::get_one)
                .put(repositories::update)
                .delete(repositories::delete),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts",
            get(artifacts::list).post(artifacts::copy),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}",
            get(artifacts::get_one).delete(artifacts::delete),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/tags",
            get(artifacts::list_tags).post(artifacts::create_tag),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}",
            axum::routing::delete(artifacts::delete_tag),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/accessories",
            get(artifacts::accessories),
        )
        .merge(webhooks::routes())
}

/// Whether `X-Is-Resource-Name: true` says the path's project is a name, not an id.
pub fn is_name(headers: &HeaderMap) -> bool {
    headers
        .get("x-is-resource-name")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| params::go_bool("X-Is-Resource-Name", v).unwrap_or(false))
}

/// A JSON body, or Harbor's `400` naming what is wrong with it.
pub fn json_body<T>(body: Result<HarborJson<T>, ApiError>) -> Result<T, ApiError> {
    body.map(|b| b.0)
}

/// The authenticated caller of a Harbor API request.
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<Registry>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        reg: &Arc<Registry>,
    ) -> Result<Self, Self::Rejection> {
        let ip = peer_ip(parts, reg);
        match auth::principal(reg, &parts.headers, &ip).await {
            // Registry tokens are for /v2/ only. Robots use the API within their grants,
            // which every project-scoped check applies; user endpoints take `UserCaller`.
            Ok(Principal::Token { .. }) | Err(auth::BadCredentials::Invalid) => {
                Err(ApiError::new(ErrorCode::HarborUnauthorized, "UnAuthorized"))
            }
            Err(auth::BadCredentials::Limited(e)) => Err(e.into()),
            Ok(p) => Ok(Caller(p)),
        }
    }
}

/// The caller of an endpoint that concerns user accounts or robot management: robots
/// are refused there (as Harbor does), so a leaked robot secret can neither change
/// accounts nor mint further robots.
pub struct UserCaller(pub Principal);

impl FromRequestParts<Arc<Registry>> for UserCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        reg: &Arc<Registry>,
    ) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, reg).await? {
            Caller(Principal::Robot(_)) => {
                Err(ApiError::new(ErrorCode::HarborUnauthorized, "UnAuthorized"))
            }
            Caller(p) => Ok(UserCaller(p)),
        }
    }
}

/// `UserCaller` as the request context services take.
pub struct UserActing(pub RequestCtx);

impl FromRequestParts<Arc<Registry>> for UserActing {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        reg: &Arc<Registry>,
    ) -> Result<Self, Self::Rejection> {
        let UserCaller(p) = UserCaller::from_request_parts(parts, reg).await?;
        Ok(UserActing(request_ctx(parts, reg, p)))
    }
}

/// The caller's address as the audit log records it.
pub fn peer_ip(parts: &Parts, reg: &Registry) -> String {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    auth::client_ip(&parts.headers, peer, reg.settings.trust_proxy_headers)
}

/// The request context of a call: the caller, who the audit log says acted, from where.
pub struct Acting(pub RequestCtx);

/// The context services take for a request by `principal`.
pub(crate) fn request_ctx(parts: &Parts, reg: &Registry, principal: Principal) -> RequestCtx {
    let host = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    RequestCtx::new(principal, peer_ip(parts, reg), host)
}

impl FromRequestParts<Arc<Registry>> for Acting {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        reg: &Arc<Registry>,
    ) -> Result<Self, Self::Rejection> {
        let Caller(p) = Caller::from_request_parts(parts, reg).await?;
        Ok(Acting(request_ctx(parts, reg, p)))
    }
}

/// Harbor's `page` / `page_size` (page_size capped at 100, as Harbor does).
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: u64,
    pub page_size: u64,
}

impl Paging {
    pub fn from_query(page: Option<&str>, page_size: Option<&str>) -> Result<Self, ApiError> {
        let parse = |v: Option<&str>, default: u64, name: &str| -> Result<u64, ApiError> {
            match v {
                None | Some("") => Ok(default),
                Some(s) => s.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::BadRequest,
                        format!("{name} must be a positive integer"),
                    )
                }),
            }
        };
        Ok(Paging {
            page: parse(page, 1, "page")?,
            page_size: parse(page_size, 10, "page_size")?.min(100),
        })
    }

    /// `page` and `page_size` of a request's query parameters.
    pub fn from_params(
        params: &std::collections::HashMap<String, String>,
    ) -> Result<Self, ApiError> {
        Self::from_query(
            params.get("page").map(String::as_str),
            params.get("page_size").map(String::as_str),
        )
    }

    /// This page of a list held in memory (short lists the store returns whole).
    pub fn window<'a, T>(&self, items: &'a [T]) -> impl Iterator<Item = &'a T> + 'a {
        let start =
            usize::try_from((self.page - 1).saturating_mul(self.page_size)).unwrap_or(usize::MAX);
        let size = usize::try_from(self.page_size).unwrap_or(usize::MAX);
        items.iter().skip(start).take(size)
    }

    /// `X-Total-Count` and the `Link` header with prev/next pages.
    pub fn headers(&self, resp: &mut Response, path: &str, extra_query: &str, total: u64) {
        let h: &mut HeaderMap = resp.headers_mut();
        h.insert("x-total-count", HeaderValue::from(total));
        let mut links = Vec::new();
        let sep = if extra_query.is_empty() {
            String::new()
        } else {
            format!("&{extra_query}")
        };
        if self.page > 1 {
            links.push(format!(
                "<{path}?page={}&page_size={}{sep}>; rel=\"prev\"",
                self.page - 1,
                self.page_size
            ));
        }
        if self.page * self.page_size < total {
            links.push(format!(
                "<{path}?page={}&page_size={}{sep}>; rel=\"next\"",
                self.page + 1,
                self.page_size
            ));
        }
        if !links.is_empty()
            && let Ok(v) = HeaderValue::from_str(&links.join(" , "))
        {
            h.insert(header::LINK, v);
        }
    }
}

/// Harbor time format: RFC 3339 in UTC with milliseconds.
pub fn harbor_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).unwrap_or_default()
}

/// The query parameters among `keys` that a list's `Link` pages must keep (a filtered
/// list's next page is filtered too), percent-encoded and joined with `&`.
pub(crate) fn kept_query(
    params: &std::collections::HashMap<String, String>,
    keys: &[&str],
) -> String {
    keys.iter()
        .filter_map(|k| {
            params.get(*k).map(|v| {
                format!(
                    "{k}={}",
                    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                )
            })
        })
        .collect::<Vec<_>>()
        .join("&")
}
