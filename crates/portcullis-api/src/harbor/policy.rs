//! Harbor's policy APIs: immutable tag rules (`/projects/{p}/immutabletagrules`), quotas
//! (`/quotas`) and the system CVE allowlist (`/system/CVEAllowlist`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use portcullis_core::Registry;
use portcullis_core::policy::allowlist::AllowlistInput;
use portcullis_core::policy::immutable::ImmutableRule;
use portcullis_meta::{CveAllowlist, ProjectId, Quota, QuotaQuery, QuotaSort};
use portcullis_types::ErrorCode;
use serde::Deserialize;

use super::HarborJson;
use super::{Acting, Paging, harbor_time, is_name, json_body};
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Router<Arc<Registry>> {
    Router::new()
        .route(
            "/api/v2.0/projects/{project_name_or_id}/immutabletagrules",
            get(list_rules).post(create_rule),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}",
            put(update_rule).delete(delete_rule),
        )
        .route("/api/v2.0/quotas", get(list_quotas))
        .route("/api/v2.0/quotas/{id}", get(get_quota).put(update_quota))
        .route(
            "/api/v2.0/system/CVEAllowlist",
            get(system_allowlist).put(set_system_allowlist),
        )
}

type JsonResult<T> = Result<HarborJson<T>, ApiError>;

fn rule_id(s: &str) -> ApiResult<i64> {
    s.parse().map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            "the immutable rule id must be an integer",
        )
    })
}

async fn list_rules(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = Paging::from_params(&params)?;
    let rules = reg
        .policy
        .list_immutable_rules(&ctx, &project, is_name(&headers))
        .await?;
    let total = rules.len() as u64;
    let start = ((paging.page - 1) * paging.page_size).min(total) as usize;
    let end = (start + paging.page_size as usize).min(rules.len());
    let mut resp = Json(&rules[start..end]).into_response();
    let path = format!("/api/v2.0/projects/{project}/immutabletagrules");
    paging.headers(
        &mut resp,
        &path,
        &super::kept_query(&params, &["q", "sort"]),
        total,
    );
    Ok(resp)
}

async fn create_rule(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
    body: JsonResult<ImmutableRule>,
) -> ApiResult<Response> {
    let rule = json_body(body)?;
    let (_, id) = reg
        .policy
        .create_immutable_rule(&ctx, &project, is_name(&headers), rule)
        .await?;
    let mut resp = StatusCode::CREATED.into_response();
    let location = format!("/api/v2.0/projects/{project}/immutabletagrules/{id}");
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn update_rule(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
    body: JsonResult<ImmutableRule>,
) -> ApiResult<Response> {
    let id = rule_id(&id)?;
    let rule = json_body(body)?;
    reg.policy
        .update_immutable_rule(&ctx, &project, is_name(&headers), id, rule)
        .await?;
    Ok(StatusCode::OK.into_response())
}

async fn delete_rule(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = rule_id(&id)?;
    reg.policy
        .delete_immutable_rule(&ctx, &project, is_name(&headers), id)
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// Harbor's quota JSON.
fn quota_json(q: &Quota) -> serde_json::Value {
    serde_json::json!({
        "id": q.id.0,
        "ref": { "id": q.project_id.0, "name": q.project_name, "owner_name": q.owner_name },
        "hard": { "storage": q.hard },
        "used": { "storage": q.used },
        "creation_time": harbor_time(q.creation_time),
        "update_time": harbor_time(q.update_time),
    })
}

fn parse_sort(s: &str) -> ApiResult<(QuotaSort, bool)> {
    let (desc, key) = match s.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, s),
    };
    let key = match key {
        "hard.storage" => QuotaSort::Hard,
        "used.storage" => QuotaSort::Used,
        "creation_time" => QuotaSort::CreationTime,
        "update_time" => QuotaSort::UpdateTime,
        other => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!(
                    "invalid sort {other:?}: use hard.storage, used.storage, creation_time or \
                     update_time, with '-' for descending order"
                ),
            ));
        }
    };
    Ok((key, desc))
}

async fn list_quotas(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = Paging::from_params(&params)?;
    let mut query = QuotaQuery::default();
    let mut nothing = false;
    if let Some(r) = params.get("reference").filter(|s| !s.is_empty()) {
        // Projects are the only quota owners.
        nothing = r != "project";
    }
    if let Some(id) = params.get("reference_id").filter(|s| !s.is_empty()) {
        let id = id.parse::<i64>().map_err(|_| {
            ApiError::new(ErrorCode::BadRequest, "reference_id must be a project id")
        })?;
        query.project_id = Some(ProjectId(id));
    }
    if let Some(s) = params.get("sort").filter(|s| !s.is_empty()) {
        query.sort = Some(parse_sort(s)?);
    }
    let (quotas, total) = reg
        .policy
        .list_quotas(&ctx, &query, paging.page, paging.page_size)
        .await?;
    let (quotas, total) = if nothing {
        (Vec::new(), 0)
    } else {
        (quotas, total)
    };
    let mut resp = Json(quotas.iter().map(quota_json).collect::<Vec<_>>()).into_response();
    let extra = super::kept_query(&params, &["reference", "reference_id", "sort"]);
    paging.headers(&mut resp, "/api/v2.0/quotas", &extra, total);
    Ok(resp)
}

fn quota_id(s: &str) -> ApiResult<i64> {
    s.parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the quota id must be an integer"))
}

async fn get_quota(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let q = reg.policy.get_quota(&ctx, quota_id(&id)?).await?;
    Ok(Json(quota_json(&q)).into_response())
}

#[derive(Debug, Deserialize)]
struct QuotaUpdate {
    #[serde(default)]
    hard: HashMap<String, i64>,
}

async fn update_quota(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<String>,
    body: JsonResult<QuotaUpdate>,
) -> ApiResult<Response> {
    let id = quota_id(&id)?;
    let req = json_body(body)?;
    if let Some(k) = req.hard.keys().find(|k| *k != "storage") {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("unsupported quota resource {k:?}: the only resource is storage"),
        ));
    }
    let Some(&hard) = req.hard.get("storage") else {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "hard.storage is required",
        ));
    };
    reg.policy.update_quota(&ctx, id, hard).await?;
    Ok(StatusCode::OK.into_response())
}

/// Harbor's allowlist JSON; `project_id` 0 is the system's.
pub(super) fn allowlist_json(l: &CveAllowlist) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": l.id,
        "project_id": l.project_id.map_or(0, |p| p.0),
        "items": l.items.iter().map(|i| serde_json::json!({ "cve_id": i })).collect::<Vec<_>>(),
        "creation_time": harbor_time(l.creation_time),
        "update_time": harbor_time(l.update_time),
    });
    if let Some(t) = l.expires_at {
        v["expires_at"] = t.into();
    }
    v
}

async fn system_allowlist(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
) -> ApiResult<Response> {
    let l = reg.policy.system_allowlist(&ctx).await?;
    Ok(Json(allowlist_json(&l)).into_response())
}

async fn set_system_allowlist(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    body: JsonResult<AllowlistInput>,
) -> ApiResult<Response> {
    let input = json_body(body)?;
    reg.policy.set_system_allowlist(&ctx, &input).await?;
    Ok(StatusCode::OK.into_response())
}
