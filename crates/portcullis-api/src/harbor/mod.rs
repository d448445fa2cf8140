//! Harbor's REST API v2.0 (`/api/v2.0/`): same paths, field names, status codes and
//! error bodies as Harbor, so that tools written for Harbor work unchanged.

mod projects;
mod system;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use portcullis_core::{Principal, Registry};
use portcullis_types::ErrorCode;

use crate::auth;
use crate::error::ApiError;

pub fn router() -> Router<Arc<Registry>> {
    Router::new()
        .route("/api/v2.0/ping", get(system::ping))
        .route("/api/v2.0/health", get(system::health))
        .route("/api/v2.0/systeminfo", get(system::systeminfo))
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
}

/// The authenticated caller of a Harbor API request.
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<Registry>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        reg: &Arc<Registry>,
    ) -> Result<Self, Self::Rejection> {
        match auth::principal(reg, &parts.headers).await {
            // Registry tokens are for /v2/ only.
            Ok(Principal::Token { .. }) | Err(_) => {
                Err(ApiError::new(ErrorCode::HarborUnauthorized, "UnAuthorized"))
            }
            Ok(p) => Ok(Caller(p)),
        }
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
