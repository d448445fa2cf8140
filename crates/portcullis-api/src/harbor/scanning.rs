//! Scanning in Harbor's API: scan, stop and log of an artifact, its vulnerability
//! report (`…/additions/vulnerabilities`), and scan-all schedule, stop and metrics.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis_core::Registry;
use portcullis_core::artifacts::ArtifactView;
use portcullis_core::scanning::service::ScanType;
use portcullis_core::scanning::{VULN_MIME, VULN_MIME_V1};
use portcullis_types::ErrorCode;
use serde::Deserialize;
use serde_json::Value;

use super::Acting;
use super::HarborJson;
use super::repositories::repo_path;
use crate::error::{ApiError, ApiResult};

const ARTIFACT: &str =
    "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}";

pub fn routes() -> Router<Arc<Registry>> {
    Router::new()
        .route(&format!("{ARTIFACT}/scan"), post(scan))
        .route(&format!("{ARTIFACT}/scan/stop"), post(stop))
        .route(&format!("{ARTIFACT}/scan/{{report_id}}/log"), get(log))
        .route(&format!("{ARTIFACT}/additions/{{addition}}"), get(addition))
        .route(
            "/api/v2.0/system/scanAll/schedule",
            get(schedule).put(set_schedule).post(create_schedule),
        )
        .route("/api/v2.0/system/scanAll/stop", post(stop_all))
        .route("/api/v2.0/scans/all/metrics", get(all_metrics))
        .route("/api/v2.0/scans/schedule/metrics", get(schedule_metrics))
}

#[derive(Debug, Default, Deserialize)]
pub struct ScanTypeBody {
    #[serde(default)]
    scan_type: Option<String>,
}

/// The optional `{"scan_type": …}` body; an empty body means a vulnerability scan.
fn scan_type(body: &axum::body::Bytes) -> ApiResult<ScanType> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ScanType::Vulnerability);
    }
    let b: ScanTypeBody = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("invalid body: {e}")))?;
    Ok(ScanType::parse(b.scan_type.as_deref())?)
}

pub async fn scan(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo, reference)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let kind = scan_type(&body)?;
    reg.scanning
        .request_artifact_scan(&ctx, &project, &repo_path(&repo)?, &reference, kind)
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn stop(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo, reference)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let kind = scan_type(&body)?;
    reg.scanning
        .stop_artifact_scan(&ctx, &project, &repo_path(&repo)?, &reference, kind)
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn log(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo, reference, report_id)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let text = reg
        .scanning
        .scan_log(&ctx, &project, &repo_path(&repo)?, &reference, &report_id)
        .await?;
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(resp)
}

/// The MIME types of `X-Accept-Vulnerabilities` (comma separated, parameters kept);
/// Harbor's default when absent.
fn accepted(headers: &HeaderMap) -> Vec<String> {
    let raw = headers
        .get("x-accept-vulnerabilities")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty());
    let Some(raw) = raw else {
        return vec![VULN_MIME.to_string(), VULN_MIME_V1.to_string()];
    };
    // "a; version=1.1, b; version=1.0": split on commas, normalise spaces after ';'.
    raw.split(',')
        .map(|m| m.split(';').map(str::trim).collect::<Vec<_>>().join("; "))
        .filter(|m| !m.is_empty())
        .collect()
}

pub async fn addition(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo, reference, addition)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if addition != "vulnerabilities" {
        let a = portcullis_core::additions::addition(
            &reg,
            &ctx,
            &project,
            &repo_path(&repo)?,
            &reference,
            &addition,
        )
        .await?;
        return Ok(([(header::CONTENT_TYPE, a.content_type)], a.body).into_response());
    }
    let map = reg
        .scanning
        .vulnerabilities_addition(
            &ctx,
            &project,
            &repo_path(&repo)?,
            &reference,
            &accepted(&headers),
        )
        .await?;
    Ok(Json(Value::Object(map)).into_response())
}

/// Adds `scan_overview` and/or `sbom_overview` to artifact JSON, as Harbor's
/// `with_scan_overview` and `with_sbom_overview` ask.
pub async fn add_overviews(
    reg: &Registry,
    views: &[ArtifactView],
    json: &mut [Value],
    scan: bool,
    sbom: bool,
) -> ApiResult<()> {
    let Some(first) = views.first() else {
        return Ok(());
    };
    let digests: Vec<String> = views
        .iter()
        .map(|v| v.artifact.digest.to_string())
        .collect();
    for (wanted, is_sbom, field) in [
        (scan, false, "scan_overview"),
        (sbom, true, "sbom_overview"),
    ] {
        if !wanted {
            continue;
        }
        let overviews: HashMap<String, Value> = reg
            .scanning
            .scan_overviews(first.project_id.0, &digests, is_sbom)
            .await?;
        for (v, j) in views.iter().zip(json.iter_mut()) {
            if let Some(o) = overviews.get(v.artifact.digest.as_str()) {
                j[field] = o.clone();
            }
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
pub struct ScheduleBody {
    schedule: ScheduleSpec,
}

#[derive(Debug, Deserialize)]
pub struct ScheduleSpec {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    cron: Option<String>,
}

pub async fn schedule(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
) -> ApiResult<Response> {
    Ok(match reg.scanning.scan_all_schedule(&ctx).await? {
        Some(v) => Json(v).into_response(),
        None => StatusCode::OK.into_response(),
    })
}

async fn apply_schedule(
    reg: &Registry,
    p: &portcullis_core::RequestCtx,
    body: Result<HarborJson<ScheduleBody>, ApiError>,
) -> ApiResult<()> {
    let body = super::json_body(body)?;
    reg.scanning
        .set_scan_all_schedule(p, &body.schedule.kind, body.schedule.cron.as_deref())
        .await?;
    Ok(())
}

pub async fn set_schedule(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    body: Result<HarborJson<ScheduleBody>, ApiError>,
) -> ApiResult<Response> {
    apply_schedule(&reg, &ctx, body).await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn create_schedule(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    body: Result<HarborJson<ScheduleBody>, ApiError>,
) -> ApiResult<Response> {
    apply_schedule(&reg, &ctx, body).await?;
    Ok(StatusCode::CREATED.into_response())
}

pub async fn stop_all(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
) -> ApiResult<Response> {
    reg.scanning.stop_scan_all(&ctx).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn all_metrics(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
) -> ApiResult<Response> {
    Ok(Json(reg.scanning.scan_all_metrics(&ctx, false).await?).into_response())
}

pub async fn schedule_metrics(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
) -> ApiResult<Response> {
    Ok(Json(reg.scanning.scan_all_metrics(&ctx, true).await?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_mime_types_are_split_and_normalised() {
        let mut h = HeaderMap::new();
        assert_eq!(
            accepted(&h),
            vec![VULN_MIME.to_string(), VULN_MIME_V1.to_string()]
        );
        h.insert(
            "x-accept-vulnerabilities",
            HeaderValue::from_static(
                "application/vnd.security.vulnerability.report;version=1.1, application/x",
            ),
        );
        assert_eq!(
            accepted(&h),
            vec![VULN_MIME.to_string(), "application/x".to_string()]
        );
    }

    #[test]
    fn scan_type_bodies() {
        assert_eq!(scan_type(&"".into()).unwrap(), ScanType::Vulnerability);
        assert_eq!(
            scan_type(&r#"{"scan_type":"sbom"}"#.into()).unwrap(),
            ScanType::Sbom
        );
        assert!(scan_type(&r#"{"scan_type":"x"}"#.into()).is_err());
        assert!(scan_type(&"{".into()).is_err());
    }
}
