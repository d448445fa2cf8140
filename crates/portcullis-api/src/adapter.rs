//! The built-in scanner as a Harbor scanner adapter (`/api/v1/metadata`, `/api/v1/scan`,
//! `/api/v1/scan/{id}/report`), so that a Harbor (or another Portcullis) can register
//! `<this server's URL>` as a scanner. Errors use the adapter API's own body,
//! `{"error":{"message":…}}`, as that API requires.
//!
//! The API pulls images on behalf of its callers, so it is off unless an API key is
//! configured; callers send it as `X-ScannerAdapter-API-Key`, as a Bearer token, or as
//! the password of Basic credentials.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use portcullis_core::Registry;
use portcullis_core::scanners::adapter::{Refused, ScanProgress};
use portcullis_core::scanners::mime;

/// Seconds a caller is asked to wait before polling a running scan again.
const REFRESH_AFTER_SECS: u64 = 2;

pub fn routes() -> Router<Arc<Registry>> {
    Router::new()
        .route("/api/v1/metadata", get(metadata))
        .route("/api/v1/scan", post(scan))
        .route("/api/v1/scan/{scan_request_id}/report", get(report))
}

/// An error in the adapter API's shape.
struct AdapterError {
    status: StatusCode,
    message: String,
}

impl AdapterError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        AdapterError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for AdapterError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "message": self.message } });
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime::ERROR));
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"portcullis-scanner-adapter\""),
            );
        }
        resp
    }
}

/// The API key the caller presented, in any of the accepted forms.
fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(k) = headers
        .get("x-scanneradapter-api-key")
        .and_then(|v| v.to_str().ok())
    {
        return Some(k.trim().to_string());
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    if let Some(t) = auth.strip_prefix("Bearer ") {
        return Some(t.trim().to_string());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.strip_prefix("Basic ")?.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(match text.split_once(':') {
        Some((_, password)) => password.to_string(),
        None => text,
    })
}

fn authorize(reg: &Registry, headers: &HeaderMap) -> Result<(), AdapterError> {
    if !reg.scanners.adapter_enabled() {
        return Err(AdapterError::new(
            StatusCode::NOT_FOUND,
            "the scanner adapter API is off: set --scanner-adapter-api-key to serve it",
        ));
    }
    match presented_key(headers) {
        Some(k) if reg.scanners.adapter_key_matches(&k) => Ok(()),
        _ => Err(AdapterError::new(
            StatusCode::UNAUTHORIZED,
            "a valid scanner adapter API key is required",
        )),
    }
}

/// A MIME type without spaces, lower case, for comparison.
fn normalized(m: &str) -> String {
    m.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

async fn metadata(
    State(reg): State<Arc<Registry>>,
    headers: HeaderMap,
) -> Result<Response, AdapterError> {
    authorize(&reg, &headers)?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(normalized)
        .unwrap_or_default();
    // Version 1.0 is answered only to callers that ask for it alone.
    let content_type = if accept.contains(&normalized(mime::METADATA_1_0))
        && !accept.contains(&normalized(mime::METADATA_1_1))
    {
        mime::METADATA_1_0
    } else {
        mime::METADATA_1_1
    };
    let body = serde_json::to_string(&reg.scanners.builtin_metadata())
        .map_err(|e| AdapterError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(resp)
}

async fn scan(
    State(reg): State<Arc<Registry>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AdapterError> {
    authorize(&reg, &headers)?;
    let id = reg
        .scanners
        .accept_adapter_scan(&body)
        .await
        .map_err(|r| match r {
            Refused::Malformed(m) => AdapterError::new(StatusCode::BAD_REQUEST, m),
            Refused::Invalid(m) => AdapterError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            Refused::Unsupported(m) => AdapterError::new(StatusCode::NOT_IMPLEMENTED, m),
            Refused::Failed(e) => internal(e),
        })?;
    let mut resp = (
        StatusCode::ACCEPTED,
        serde_json::json!({ "id": id }).to_string(),
    )
        .into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(mime::SCAN_RESPONSE),
    );
    Ok(resp)
}

fn internal(e: portcullis_core::Error) -> AdapterError {
    if let Some(cause) = &e.cause {
        tracing::error!(
            error = format!("{cause:#}"),
            "scanner adapter request failed"
        );
    }
    AdapterError::new(StatusCode::INTERNAL_SERVER_ERROR, e.message)
}

/// The report type to answer with, from `Accept`; `None` when none we produce is acceptable.
fn report_type(headers: &HeaderMap) -> Option<&'static str> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(mime::REPORT_1_1);
    };
    // Each media range keeps its parameters (`; version=1.1`), so split on commas only.
    for range in accept.split(',').map(normalized) {
        let range = range.split(";q=").next().unwrap_or("").to_string();
        if range == normalized(mime::REPORT_1_1)
            || range == "*/*"
            || range == "application/*"
            || range == "application/json"
        {
            return Some(mime::REPORT_1_1);
        }
        if range == normalized(mime::REPORT_HARBOR_1_0) {
            return Some(mime::REPORT_HARBOR_1_0);
        }
    }
    None
}

async fn report(
    State(reg): State<Arc<Registry>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AdapterError> {
    authorize(&reg, &headers)?;
    if params.contains_key("sbom_media_type") {
        return Err(AdapterError::new(
            StatusCode::NOT_IMPLEMENTED,
            "this scanner does not produce SBOM reports",
        ));
    }
    let Some(content_type) = report_type(&headers) else {
        return Err(AdapterError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "unsupported report MIME type: use {:?} or {:?}",
                mime::REPORT_1_1,
                mime::REPORT_HARBOR_1_0
            ),
        ));
    };
    let progress = reg
        .scanners
        .adapter_scan_progress(&id)
        .await
        .map_err(internal)?;
    match progress {
        None => Err(AdapterError::new(
            StatusCode::NOT_FOUND,
            format!("scan request {id} not found"),
        )),
        Some(ScanProgress::Running) => {
            let mut resp = StatusCode::FOUND.into_response();
            resp.headers_mut()
                .insert("refresh-after", HeaderValue::from(REFRESH_AFTER_SECS));
            Ok(resp)
        }
        Some(ScanProgress::Failed(message)) => Err(AdapterError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            message,
        )),
        Some(ScanProgress::Done(report)) => {
            let mut resp = (StatusCode::OK, report).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            Ok(resp)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn keys_come_in_three_forms() {
        assert_eq!(
            presented_key(&with("x-scanneradapter-api-key", "k1")).as_deref(),
            Some("k1")
        );
        assert_eq!(
            presented_key(&with("authorization", "Bearer k2")).as_deref(),
            Some("k2")
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("harbor:k3");
        assert_eq!(
            presented_key(&with("authorization", &format!("Basic {basic}"))).as_deref(),
            Some("k3")
        );
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }

    #[test]
    fn report_types_are_negotiated() {
        assert_eq!(report_type(&HeaderMap::new()), Some(mime::REPORT_1_1));
        assert_eq!(
            report_type(&with(
                "accept",
                "application/vnd.scanner.adapter.vuln.report.harbor+json;version=1.0"
            )),
            Some(mime::REPORT_HARBOR_1_0)
        );
        assert_eq!(
            report_type(&with("accept", mime::REPORT_1_1)),
            Some(mime::REPORT_1_1)
        );
        assert_eq!(
            report_type(&with(
                "accept",
                "application/vnd.scanner.adapter.vuln.report.raw"
            )),
            None
        );
    }
}
