//! `/api/v2.0/projects/{p}/webhook/…`: policies, supported events, executions, tasks and
//! task logs, with Harbor's field names.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portcullis_core::webhooks::{PolicyInput, execution_status, task_status};
use portcullis_core::{EventType, Registry};
use portcullis_meta::{
    WebhookAttempt, WebhookExecution, WebhookPolicy, WebhookTarget, WebhookTask,
};
use portcullis_types::ErrorCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::HarborJson;
use super::{Acting, Paging, harbor_time, is_name, json_body};
use crate::error::{ApiError, ApiResult};

const BASE: &str = "/api/v2.0/projects/{project_name_or_id}/webhook";

pub fn routes() -> Router<Arc<Registry>> {
    Router::new()
        .route(&format!("{BASE}/policies"), get(list).post(create))
        .route(
            &format!("{BASE}/policies/{{policy_id}}"),
            get(get_one).put(update).delete(delete),
        )
        .route(
            &format!("{BASE}/policies/{{policy_id}}/executions"),
            get(executions),
        )
        .route(
            &format!("{BASE}/policies/{{policy_id}}/executions/{{execution_id}}/tasks"),
            get(tasks),
        )
        .route(
            &format!(
                "{BASE}/policies/{{policy_id}}/executions/{{execution_id}}/tasks/{{task_id}}/log"
            ),
            get(task_log),
        )
        .route(&format!("{BASE}/events"), get(events))
        .route(&format!("{BASE}/jobs"), get(jobs))
        .route(&format!("{BASE}/lasttrigger"), get(last_trigger))
}

fn id(s: &str, what: &str) -> ApiResult<i64> {
    s.parse().map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("the {what} must be an integer"),
        )
    })
}

/// A policy as Harbor shows it, plus whether a signing key is set (never the key).
fn policy_json(p: &WebhookPolicy) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "project_id": p.project_id.0,
        "targets": p.targets,
        "event_types": p.event_types,
        "creator": p.creator,
        "creation_time": harbor_time(p.creation_time),
        "update_time": harbor_time(p.update_time),
        "enabled": p.enabled,
        "has_secret": p.secret.is_some(),
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct TargetReq {
    #[serde(rename = "type", default)]
    notify_type: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    auth_header: String,
    #[serde(default)]
    skip_cert_verify: bool,
    #[serde(default)]
    payload_format: String,
}

#[derive(Debug, Deserialize)]
pub struct PolicyReq {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    event_types: Vec<String>,
    #[serde(default)]
    targets: Vec<TargetReq>,
    /// Beyond Harbor: the key that signs each body (HMAC-SHA256); `""` removes it.
    #[serde(default)]
    secret: Option<String>,
}

impl From<PolicyReq> for PolicyInput {
    fn from(r: PolicyReq) -> Self {
        PolicyInput {
            name: r.name,
            description: r.description,
            enabled: r.enabled,
            event_types: r.event_types,
            targets: r
                .targets
                .into_iter()
                .map(|t| WebhookTarget {
                    notify_type: t.notify_type,
                    address: t.address,
                    auth_header: t.auth_header,
                    skip_cert_verify: t.skip_cert_verify,
                    payload_format: t.payload_format,
                })
                .collect(),
            secret: r.secret,
        }
    }
}

type Body = Result<HarborJson<PolicyReq>, ApiError>;

pub async fn list(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = Paging::from_params(&q)?;
    let all = reg
        .webhooks
        .list_webhook_policies(&ctx, &project, is_name(&headers))
        .await?;
    let total = all.len() as u64;
    let page: Vec<Value> = all
        .iter()
        .skip(((paging.page - 1) * paging.page_size) as usize)
        .take(paging.page_size as usize)
        .map(policy_json)
        .collect();
    let mut resp = Json(page).into_response();
    let path = format!("/api/v2.0/projects/{project}/webhook/policies");
    paging.headers(
        &mut resp,
        &path,
        &super::kept_query(&q, &["q", "sort"]),
        total,
    );
    Ok(resp)
}

pub async fn get_one(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((project, policy)): Path<(String, String)>,
) -> ApiResult<Response> {
    let found = reg
        .webhooks
        .get_webhook_policy(&ctx, &project, is_name(&headers), id(&policy, "policy id")?)
        .await?;
    Ok(Json(policy_json(&found)).into_response())
}

pub async fn create(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let input = json_body(body)?.into();
    let created = reg
        .webhooks
        .create_webhook_policy(&ctx, &project, is_name(&headers), input)
        .await?;
    let mut resp = StatusCode::CREATED.into_response();
    let location = format!(
        "/api/v2.0/projects/{}/webhook/policies/{}",
        created.project_id.0, created.id
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn update(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((project, policy)): Path<(String, String)>,
    body: Body,
) -> ApiResult<Response> {
    let policy = id(&policy, "policy id")?;
    let input = json_body(body)?.into();
    reg.webhooks
        .update_webhook_policy(&ctx, &project, is_name(&headers), policy, input)
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn delete(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((project, policy)): Path<(String, String)>,
) -> ApiResult<Response> {
    let policy = id(&policy, "policy id")?;
    reg.webhooks
        .delete_webhook_policy(&ctx, &project, is_name(&headers), policy)
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn events(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    reg.webhooks
        .webhook_event_types(&ctx, &project, is_name(&headers))
        .await?;
    let types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    Ok(Json(json!({
        "event_type": types,
        "notify_type": ["http", "slack"],
        "payload_formats": [
            { "notify_type": "http", "formats": ["Default", "CloudEvents"] },
            { "notify_type": "slack", "formats": ["Default"] },
        ],
    }))
    .into_response())
}

pub async fn last_trigger(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    let (policies, triggers) = reg
        .webhooks
        .webhook_last_triggers(&ctx, &project, is_name(&headers))
        .await?;
    let mut out = Vec::new();
    for policy in &policies {
        for event in &policy.event_types {
            let last = triggers
                .iter()
                .find(|(pid, e, _)| *pid == policy.id && e == event)
                .map(|(_, _, t)| harbor_time(*t));
            out.push(json!({
                "policy_name": policy.name,
                "event_type": event,
                "enabled": policy.enabled,
                "creation_time": harbor_time(policy.creation_time),
                "last_trigger_time": last,
            }));
        }
    }
    Ok(Json(out).into_response())
}

fn task_json(t: &WebhookTask, event_type: &str) -> Value {
    json!({
        "id": t.id,
        "execution_id": t.execution_id,
        "status": task_status(t),
        // The job keeps its last error after a retry succeeds; only failures show it.
        "status_message": match task_status(t) {
            "Success" | "Pending" => String::new(),
            _ => t.last_error.clone().unwrap_or_default(),
        },
        "run_count": t.attempts,
        "extra_attrs": {
            "event_type": event_type,
            "notify_type": t.notify_type,
            "address": t.address,
            "payload_format": t.payload_format,
        },
        "creation_time": harbor_time(t.creation_time),
        "start_time": harbor_time(t.creation_time),
        "update_time": harbor_time(t.update_time),
        "end_time": t.end_time.map(harbor_time),
    })
}

fn execution_json(e: &WebhookExecution) -> Value {
    let count = |s: &str| e.tasks.iter().filter(|t| task_status(t) == s).count();
    let status = execution_status(e);
    let end = match status {
        "Running" | "Pending" => None,
        _ => e
            .tasks
            .iter()
            .filter_map(|t| t.end_time)
            .max()
            .map(harbor_time),
    };
    json!({
        "id": e.id,
        "vendor_type": "WEBHOOK",
        "vendor_id": e.policy_id,
        "status": status,
        "status_message": "",
        "trigger": "EVENT",
        "extra_attrs": { "event_type": e.event_type },
        "metrics": {
            "task_count": e.tasks.len(),
            "success_task_count": count("Success"),
            "error_task_count": count("Error"),
            "pending_task_count": count("Pending"),
            "running_task_count": count("Running"),
            "scheduled_task_count": 0,
            "stopped_task_count": count("Stopped"),
        },
        "start_time": harbor_time(e.start_time),
        "end_time": end,
    })
}

pub async fn executions(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((project, policy)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = Paging::from_params(&q)?;
    let policy = id(&policy, "policy id")?;
    let (list, total) = reg
        .webhooks
        .list_webhook_executions(
            &ctx,
            &project,
            is_name(&headers),
            policy,
            paging.page,
            paging.page_size,
        )
        .await?;
    let mut resp = Json(list.iter().map(execution_json).collect::<Vec<_>>()).into_response();
    let path = format!("/api/v2.0/projects/{project}/webhook/policies/{policy}/executions");
    paging.headers(
        &mut resp,
        &path,
        &super::kept_query(&q, &["q", "sort"]),
        total,
    );
    Ok(resp)
}

pub async fn tasks(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((project, policy, execution)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let e = reg
        .webhooks
        .get_webhook_execution(
            &ctx,
            &project,
            is_name(&headers),
            id(&policy, "policy id")?,
            id(&execution, "execution id")?,
        )
        .await?;
    let list: Vec<Value> = e
        .tasks
        .iter()
        .map(|t| task_json(t, &e.event_type))
        .collect();
    let mut resp = Json(list).into_response();
    resp.headers_mut()
        .insert("x-total-count", HeaderValue::from(e.tasks.len()));
    Ok(resp)
}

/// One line per attempt: when, the outcome, how long it took and what the receiver said.
fn log_text(task: &WebhookTask, attempts: &[WebhookAttempt]) -> String {
    let mut out = String::new();
    for a in attempts {
        let outcome = match (a.status_code, &a.error) {
            (Some(code), _) => format!("HTTP {code}"),
            (None, Some(e)) => format!("error: {e}"),
            (None, None) => "no answer".to_string(),
        };
        out.push_str(&format!(
            "{} attempt {}: POST {} -> {} in {} ms",
            harbor_time(a.at),
            a.attempt,
            task.address,
            outcome,
            a.duration_ms
        ));
        if !a.response.is_empty() {
            out.push_str(&format!("; response: {:?}", a.response));
        }
        out.push('\n');
    }
    out.push_str(&format!("status: {}\n", task_status(task)));
    out
}

pub async fn task_log(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((project, policy, execution, task)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let ids = (
        id(&policy, "policy id")?,
        id(&execution, "execution id")?,
        id(&task, "task id")?,
    );
    let (task, attempts) = reg
        .webhooks
        .webhook_task_attempts(&ctx, &project, is_name(&headers), ids)
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        log_text(&task, &attempts),
    )
        .into_response())
}

/// `GET /projects/{p}/webhook/jobs?policy_id=N[&status=…]`: Harbor's older view of
/// deliveries, one job per delivery task, newest execution first.
pub async fn jobs(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = Paging::from_params(&q)?;
    let policy = id(
        q.get("policy_id").ok_or_else(|| {
            ApiError::new(ErrorCode::BadRequest, "the policy_id parameter is required")
        })?,
        "policy_id",
    )?;
    let wanted: Vec<String> = q
        .get("status")
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let mut all = Vec::new();
    for page in 1.. {
        let (list, total) = reg
            .webhooks
            .list_webhook_executions(&ctx, &project, is_name(&headers), policy, page, 100)
            .await?;
        for e in &list {
            for t in &e.tasks {
                let status = task_status(t).to_ascii_lowercase();
                if wanted.is_empty() || wanted.contains(&status) {
                    all.push(json!({
                        "id": t.id,
                        "policy_id": policy,
                        "event_type": e.event_type,
                        "notify_type": t.notify_type,
                        "status": status,
                        "job_detail": t.last_error.clone().unwrap_or_default(),
                        "creation_time": harbor_time(t.creation_time),
                        "update_time": harbor_time(t.update_time),
                    }));
                }
            }
        }
        if list.is_empty() || page * 100 >= total {
            break;
        }
    }
    let total = all.len() as u64;
    let page: Vec<&Value> = paging.window(&all).collect();
    let mut resp = Json(page).into_response();
    let path = format!("/api/v2.0/projects/{project}/webhook/jobs");
    paging.headers(
        &mut resp,
        &path,
        &super::kept_query(&q, &["policy_id", "status"]),
        total,
    );
    Ok(resp)
}
