//! `/api/v2.0/audit-logs`, `/api/v2.0/projects/{p}/logs` and `/api/v2.0/system/purgeaudit`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use portcullis_core::Registry;
use portcullis_meta::{AuditEntry, AuditQuery};
use portcullis_types::ErrorCode;
use serde::Deserialize;

use super::HarborJson;
use super::{Acting, Paging, harbor_time, is_name, json_body};
use crate::error::{ApiError, ApiResult};

fn entry_json(e: &AuditEntry) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "username": e.username,
        "resource": e.resource,
        "resource_type": e.resource_type,
        "operation": e.operation,
        "operation_description": e.description,
        "operation_result": e.success,
        "client_ip": e.client_ip,
        "op_time": harbor_time(e.op_time),
    })
}

fn parse_time(v: &str) -> ApiResult<time::OffsetDateTime> {
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .or_else(|_| {
            time::PrimitiveDateTime::parse(
                v,
                time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
            )
            .map(|t| t.assume_utc())
        })
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, format!("invalid time {v:?}")))
}

/// Harbor's `q`: `username=alice,operation=pull,resource=~app,resource_type=artifact,
/// op_time=[2026-01-01 00:00:00~2026-02-01 00:00:00]`.
fn audit_query(q: Option<&String>) -> ApiResult<AuditQuery> {
    let mut out = AuditQuery::default();
    for part in q.into_iter().flat_map(|q| q.split(',')) {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "username" => out.username = Some(v.trim_start_matches('~').to_string()),
            "operation" => out.operation = Some(v.to_string()),
            "resource_type" => out.resource_type = Some(v.to_string()),
            "resource" => out.resource_contains = Some(v.trim_start_matches('~').to_string()),
            "op_time" => {
                let inner = v.trim_start_matches('[').trim_end_matches(']');
                let (from, to) = inner.split_once('~').unwrap_or((inner, ""));
                if !from.trim().is_empty() {
                    out.from = Some(parse_time(from.trim())?);
                }
                if !to.trim().is_empty() {
                    out.to = Some(parse_time(to.trim())?);
                }
            }
            other => {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("unsupported query key {other:?}"),
                ));
            }
        }
    }
    Ok(out)
}

async fn page(
    reg: &Registry,
    p: &portcullis_core::RequestCtx,
    q: AuditQuery,
    params: &HashMap<String, String>,
    path: &str,
) -> ApiResult<Response> {
    let paging = Paging::from_params(params)?;
    let (entries, total) = reg
        .audit
        .list_audit(p, q, paging.page, paging.page_size)
        .await?;
    let mut resp = Json(entries.iter().map(entry_json).collect::<Vec<_>>()).into_response();
    paging.headers(
        &mut resp,
        path,
        &super::kept_query(params, &["q", "sort"]),
        total,
    );
    Ok(resp)
}

/// `GET /audit-logs`, and `GET /auditlog-exts` (Harbor 2.13's name for the same log).
pub async fn list(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    uri: axum::http::Uri,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let q = audit_query(params.get("q"))?;
    page(&reg, &ctx, q, &params, uri.path()).await
}

/// `GET /auditlog-exts/events`: the event types the log holds.
pub async fn event_types(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
) -> ApiResult<Response> {
    let types = reg.audit.event_types(&ctx).await?;
    Ok(Json(
        types
            .iter()
            .map(|t| serde_json::json!({ "event_type": t }))
            .collect::<Vec<_>>(),
    )
    .into_response())
}

/// `GET /projects/{p}/logs` and `GET /projects/{p}/auditlog-exts`.
pub async fn project_logs(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path(project): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let (project, _) = reg
        .access
        .project_for(&ctx.principal, &project, is_name(&headers), "log", "list")
        .await?;
    let mut q = audit_query(params.get("q"))?;
    q.projects = Some(vec![project.id]);
    page(&reg, &ctx, q, &params, uri.path()).await
}

#[derive(Debug, Deserialize)]
pub struct PurgeReq {
    #[serde(default)]
    parameters: HashMap<String, serde_json::Value>,
}

/// Runs a purge now: `parameters.audit_retention_hour` (default 30 days) and the
/// operations to purge (`include_operations` or `include_event_types`; default all).
pub async fn purge(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    body: Result<HarborJson<PurgeReq>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    let params = serde_json::Value::Object(req.parameters.into_iter().collect());
    purge_now(&reg, &ctx, &params).await
}

async fn purge_now(
    reg: &Registry,
    p: &portcullis_core::RequestCtx,
    params: &serde_json::Value,
) -> ApiResult<Response> {
    let (hours, ops) = portcullis_core::purge::purge_parameters(params);
    let dry_run = portcullis_core::purge::purge_dry_run(params);
    let hours = u32::try_from(hours.unwrap_or(24 * 30)).unwrap_or(u32::MAX);
    let removed = reg.audit.purge_audit(p, hours, ops, dry_run).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(serde_json::json!({ "job_status": "Success", "deleted": removed })),
    )
        .into_response())
}

/// The retention the server applies on its own, as Harbor's purge schedule.
fn schedule_type(cron: &str) -> &'static str {
    match cron {
        "0 0 * * * *" => "Hourly",
        "0 0 0 * * *" => "Daily",
        "0 0 0 * * 0" => "Weekly",
        _ => "Custom",
    }
}

pub async fn schedule(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
) -> ApiResult<Response> {
    if !ctx.principal.is_sysadmin() {
        return Err(portcullis_core::access::forbidden(&ctx.principal).into());
    }
    // No schedule: 200 with an empty body, as Harbor answers (clients such as the
    // Terraform provider tell "create" from "update" by it).
    let Some(row) = reg.audit.purge_schedule().await? else {
        return Ok(axum::http::StatusCode::OK.into_response());
    };
    let schedule = if row.enabled {
        serde_json::json!({ "type": schedule_type(&row.cron), "cron": row.cron, "next_scheduled_time": harbor_time(row.next_run_at) })
    } else {
        serde_json::json!({ "type": "None" })
    };
    // Harbor's ExecHistory: the job's parameters as a JSON string.
    Ok(Json(serde_json::json!({
        "id": row.id.0,
        "job_name": "PURGE_AUDIT_LOG",
        "job_kind": "SCHEDULE",
        "job_parameters": row.payload.to_string(),
        "job_status": "",
        "deleted": false,
        "schedule": schedule,
        "parameters": row.payload,
        "creation_time": harbor_time(row.created_at),
        "update_time": harbor_time(row.updated_at),
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct ScheduleBody {
    schedule: ScheduleSpec,
    #[serde(default)]
    parameters: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct ScheduleSpec {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    cron: Option<String>,
}

/// `PUT` (200) and `POST` (201) of the purge schedule, as Harbor: a `Manual` schedule
/// purges now with the given parameters and leaves the schedule as it was.
pub async fn set_schedule(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    method: axum::http::Method,
    body: Result<HarborJson<ScheduleBody>, ApiError>,
) -> ApiResult<Response> {
    let body = super::json_body(body)?;
    if body.schedule.kind.eq_ignore_ascii_case("manual") {
        // A run now, as a job: 201 with where to follow it, as Harbor answers.
        let params = body.parameters.unwrap_or_else(|| serde_json::json!({}));
        let id = reg.audit.request_purge(&ctx, params).await?;
        return Ok((
            axum::http::StatusCode::CREATED,
            [(
                axum::http::header::LOCATION,
                format!("/api/v2.0/system/purgeaudit/{}", id.0),
            )],
        )
            .into_response());
    }
    let cron = portcullis_core::purge::cron_of(&body.schedule.kind, body.schedule.cron.as_deref())?;
    let parameters = body.parameters.unwrap_or_else(|| serde_json::json!({}));
    if !parameters.is_object() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "parameters must be an object",
        ));
    }
    reg.audit.set_purge_schedule(&ctx, cron, parameters).await?;
    Ok(if method == axum::http::Method::POST {
        (
            axum::http::StatusCode::CREATED,
            [(
                axum::http::header::LOCATION,
                "/api/v2.0/system/purgeaudit/schedule",
            )],
        )
            .into_response()
    } else {
        axum::http::StatusCode::OK.into_response()
    })
}

/// Harbor's `ExecHistory` of a purge run.
fn run_json(j: &portcullis_meta::Job) -> serde_json::Value {
    use portcullis_meta::JobState;
    let manual = j.payload.get("trigger").and_then(|v| v.as_str()) == Some("Manual");
    let status = match j.state {
        JobState::Pending => "Pending",
        JobState::Running => "Running",
        JobState::Succeeded => "Success",
        JobState::Failed => "Error",
        JobState::Stopped => "Stopped",
    };
    let mut params = j.payload.clone();
    if let Some(m) = params.as_object_mut() {
        m.remove("trigger");
    }
    serde_json::json!({
        "id": j.id.0,
        "job_name": "PURGE_AUDIT_LOG",
        "job_kind": if manual { "MANUAL" } else { "SCHEDULE" },
        "job_parameters": params.to_string(),
        "job_status": status,
        "deleted": false,
        "creation_time": harbor_time(j.created_at),
        "update_time": harbor_time(j.updated_at),
    })
}

/// `GET /system/purgeaudit`: purge runs, newest first.
pub async fn history(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = super::Paging::from_params(&params)?;
    let (runs, total) = reg
        .audit
        .purge_runs(&ctx, paging.page, paging.page_size)
        .await?;
    let mut resp = Json(runs.iter().map(run_json).collect::<Vec<_>>()).into_response();
    paging.headers(&mut resp, "/api/v2.0/system/purgeaudit", "", total);
    Ok(resp)
}

pub async fn run(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(Json(run_json(&reg.audit.purge_run(&ctx, id).await?)).into_response())
}

/// The run's log: what it was asked, how it went.
pub async fn run_log(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let j = reg.audit.purge_run(&ctx, id).await?;
    let mut log = format!(
        "{} purge run {} with parameters {}\n",
        harbor_time(j.created_at),
        j.id.0,
        j.payload
    );
    if let Some(e) = &j.last_error {
        log.push_str(&format!("error: {e}\n"));
    }
    if !j.progress_message.is_empty() {
        log.push_str(&format!("{}\n", j.progress_message));
    }
    if let Some(t) = j.finished_at {
        log.push_str(&format!("{} finished: {:?}\n", harbor_time(t), j.state));
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        log,
    )
        .into_response())
}

pub async fn stop(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    reg.audit.stop_purge(&ctx, id).await?;
    Ok(axum::http::StatusCode::OK.into_response())
}
