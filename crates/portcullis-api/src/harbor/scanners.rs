//! `/api/v2.0/scanners…` and `/api/v2.0/projects/{p}/scanner…`: scanner registrations,
//! the system default, and each project's scanner, as Harbor serves them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis_core::Registry;
use portcullis_core::scanners::registrations::{RegistrationRequest, RegistrationView};
use portcullis_meta::ScannerQuery;
use portcullis_types::ErrorCode;
use serde::Deserialize;

use super::HarborJson;
use super::{Acting, Paging, harbor_time, is_name, json_body};
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Router<Arc<Registry>> {
    Router::new()
        .route("/api/v2.0/scanners", get(list).post(create))
        .route("/api/v2.0/scanners/ping", post(ping))
        .route(
            "/api/v2.0/scanners/{registration_id}",
            get(get_one).put(update).delete(delete).patch(set_default),
        )
        .route(
            "/api/v2.0/scanners/{registration_id}/metadata",
            get(metadata),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/scanner",
            get(project_scanner).put(set_project_scanner),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/scanner/candidates",
            get(candidates),
        )
}

/// A registration in Harbor's shape; the stored credential is never shown.
fn registration_json(v: &RegistrationView) -> serde_json::Value {
    let r = &v.registration;
    let mut body = serde_json::json!({
        "uuid": r.uuid,
        "name": r.name,
        "description": r.description,
        "url": r.url,
        "disabled": r.disabled,
        "is_default": r.is_default,
        "auth": r.auth,
        "access_credential": "",
        "skip_certVerify": r.skip_cert_verify,
        "use_internal_addr": r.use_internal_addr,
        "create_time": harbor_time(r.create_time),
        "update_time": harbor_time(r.update_time),
        "health": v.health,
    });
    if let Some(m) = &v.metadata {
        body["adapter"] = m.scanner.name.clone().into();
        body["vendor"] = m.scanner.vendor.clone().into();
        body["version"] = m.scanner.version.clone().into();
        body["capabilities"] = serde_json::json!({
            "support_vulnerability": m.supports("vulnerability"),
            "support_sbom": m.supports("sbom"),
        });
    }
    body
}

/// `q=name=~tri,url=http://…` and the older `name`, `description`, `url` (substrings)
/// and `ex_name`, `ex_url` (exact) parameters.
fn scanner_query(params: &HashMap<String, String>) -> ApiResult<ScannerQuery> {
    let mut q = ScannerQuery::default();
    let set = |q: &mut ScannerQuery, key: &str, value: (String, bool)| -> bool {
        match key {
            "name" => q.name = Some(value),
            "description" => q.description = Some(value),
            "url" => q.url = Some(value),
            _ => return false,
        }
        true
    };
    for part in params
        .get("q")
        .into_iter()
        .flat_map(|q| q.split(','))
        .filter(|p| !p.trim().is_empty())
    {
        let Some((k, v)) = part.split_once('=') else {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("invalid query {part:?}: use key=value or key=~value"),
            ));
        };
        let value = match v.strip_prefix('~') {
            Some(fuzzy) => (fuzzy.to_string(), true),
            None => (v.to_string(), false),
        };
        if !set(&mut q, k.trim(), value) {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("unsupported query key {k:?}: use name, description or url"),
            ));
        }
    }
    for key in ["name", "description", "url"] {
        if let Some(v) = params.get(key).filter(|v| !v.is_empty()) {
            set(&mut q, key, (v.clone(), true));
        }
    }
    for key in ["ex_name", "ex_url"] {
        if let Some(v) = params.get(key).filter(|v| !v.is_empty()) {
            set(&mut q, &key[3..], (v.clone(), false));
        }
    }
    Ok(q)
}

fn listing(
    list: &[RegistrationView],
    total: u64,
    paging: Paging,
    path: &str,
    params: &HashMap<String, String>,
) -> Response {
    let mut resp = Json(list.iter().map(registration_json).collect::<Vec<_>>()).into_response();
    paging.headers(
        &mut resp,
        path,
        &super::kept_query(params, &["q", "sort"]),
        total,
    );
    resp
}

fn paging(params: &HashMap<String, String>) -> ApiResult<Paging> {
    Paging::from_params(params)
}

pub async fn list(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = paging(&params)?;
    let q = scanner_query(&params)?;
    let (list, total) = reg
        .scanners
        .list_scanners(&ctx, &q, paging.page, paging.page_size)
        .await?;
    Ok(listing(&list, total, paging, "/api/v2.0/scanners", &params))
}

pub async fn create(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    body: Result<HarborJson<RegistrationRequest>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    let r = reg.scanners.create_scanner(&ctx, req).await?;
    let mut resp = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v2.0/scanners/{}", r.uuid)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn get_one(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let v = reg.scanners.get_scanner(&ctx, &id).await?;
    Ok(Json(registration_json(&v)).into_response())
}

pub async fn update(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<String>,
    body: Result<HarborJson<RegistrationRequest>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    reg.scanners.update_scanner(&ctx, &id, req).await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn delete(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let v = reg.scanners.delete_scanner(&ctx, &id).await?;
    Ok(Json(registration_json(&v)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct IsDefault {
    #[serde(default)]
    is_default: bool,
}

pub async fn set_default(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<String>,
    body: Result<HarborJson<IsDefault>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    reg.scanners
        .set_default_scanner(&ctx, &id, req.is_default)
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn metadata(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let m = reg.scanners.scanner_metadata(&ctx, &id).await?;
    Ok(Json(m).into_response())
}

pub async fn ping(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    body: Result<HarborJson<RegistrationRequest>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    reg.scanners.ping_scanner(&ctx, req).await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn project_scanner(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    let v = reg
        .scanners
        .project_scanner(&ctx, &project, is_name(&headers))
        .await?;
    Ok(Json(registration_json(&v)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ProjectScanner {
    #[serde(default)]
    uuid: String,
}

pub async fn set_project_scanner(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
    body: Result<HarborJson<ProjectScanner>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    reg.scanners
        .set_project_scanner(&ctx, &project, is_name(&headers), &req.uuid)
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn candidates(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = paging(&params)?;
    let q = scanner_query(&params)?;
    let (list, total) = reg
        .scanners
        .project_scanner_candidates(
            &ctx,
            &project,
            is_name(&headers),
            &q,
            paging.page,
            paging.page_size,
        )
        .await?;
    let path = format!("/api/v2.0/projects/{project}/scanner/candidates");
    Ok(listing(&list, total, paging, &path, &params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn queries() {
        let q = scanner_query(&params(&[("q", "name=~tri,url=http://x")])).unwrap();
        assert_eq!(q.name, Some(("tri".into(), true)));
        assert_eq!(q.url, Some(("http://x".into(), false)));
        let q = scanner_query(&params(&[("ex_name", "Trivy"), ("description", "free")])).unwrap();
        assert_eq!(q.name, Some(("Trivy".into(), false)));
        assert_eq!(q.description, Some(("free".into(), true)));
        assert!(scanner_query(&params(&[("q", "vendor=x")])).is_err());
        assert!(scanner_query(&params(&[("q", "name")])).is_err());
    }
}
