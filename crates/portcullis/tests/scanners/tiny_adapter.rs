//! A minimal scanner adapter written for these tests, independent of Portcullis's own:
//! it checks its credential, pulls the manifest with the registry token it is given (and
//! checks that the token cannot push), answers the first report poll with `302` +
//! `Refresh-After`, then a canned report. Under `/broken` every report poll fails.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub const TOKEN: &str = "tiny-adapter-token";
pub const CVE: &str = "CVE-2099-0001";
pub const NAME: &str = "TinyScanner";
const REPORT_MIME: &str = "application/vnd.security.vulnerability.report; version=1.1";

/// What the adapter saw, for the test to check.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub scans: Vec<Value>,
    /// Status of pulling the manifest with the given credential.
    pub pull_status: Vec<u16>,
    /// Status of trying to start an upload with it.
    pub push_status: Vec<u16>,
    pub report_polls: usize,
}

#[derive(Clone)]
struct Adapter {
    seen: Arc<Mutex<Seen>>,
    http: reqwest::Client,
}

pub struct TinyAdapter {
    pub base: String,
    pub seen: Arc<Mutex<Seen>>,
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": { "message": "bad token" } })),
    )
        .into_response()
}

async fn metadata(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    Json(json!({
        "scanner": { "name": NAME, "vendor": "Tests", "version": "0.1" },
        "capabilities": [{
            "consumes_mime_types": ["application/vnd.oci.image.manifest.v1+json",
                                    "application/vnd.docker.distribution.manifest.v2+json"],
            "produces_mime_types": [REPORT_MIME],
        }],
        "properties": { "harbor.scanner-adapter/scanner-type": "os-package-vulnerability" },
    }))
    .into_response()
}

async fn scan(State(a): State<Adapter>, headers: HeaderMap, Json(req): Json<Value>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let registry = req["registry"]["url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let auth = req["registry"]["authorization"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let repo = req["artifact"]["repository"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let digest = req["artifact"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let pull = a
        .http
        .get(format!("{registry}/v2/{repo}/manifests/{digest}"))
        .header("authorization", &auth)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    let push = a
        .http
        .post(format!("{registry}/v2/{repo}/blobs/uploads/"))
        .header("authorization", &auth)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    let mut seen = a.seen.lock().unwrap();
    seen.pull_status.push(pull);
    seen.push_status.push(push);
    seen.scans.push(req);
    let id = format!("tiny-{}", seen.scans.len());
    (StatusCode::ACCEPTED, Json(json!({ "id": id }))).into_response()
}

async fn report(State(a): State<Adapter>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let (polls, req) = {
        let mut seen = a.seen.lock().unwrap();
        seen.report_polls += 1;
        let n: usize = id.trim_start_matches("tiny-").parse().unwrap_or(0);
        match seen.scans.get(n.wrapping_sub(1)) {
            Some(r) => (seen.report_polls, r.clone()),
            None => return StatusCode::NOT_FOUND.into_response(),
        }
    };
    // Every other poll is "not yet", so each scan sees at least one 302 round.
    if polls % 2 == 1 {
        return (StatusCode::FOUND, [("Refresh-After", "1")]).into_response();
    }
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(accept.contains("vulnerability.report"), "accept: {accept}");
    let report = json!({
        "generated_at": "2026-11-23T08:00:00Z",
        "artifact": req["artifact"],
        "scanner": { "name": NAME, "vendor": "Tests", "version": "0.1" },
        "severity": "Critical",
        "vulnerabilities": [{
            "id": CVE, "package": "tinylib", "version": "1.0", "fix_version": "1.1",
            "severity": "Critical", "description": "a canned finding", "links": [],
        }],
    });
    ([("content-type", REPORT_MIME)], report.to_string()).into_response()
}

async fn broken_report(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": { "message": "the tiny scanner broke" } })),
    )
        .into_response()
}

impl TinyAdapter {
    /// Starts the adapter on a free loopback port.
    pub async fn start() -> TinyAdapter {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = Adapter {
            seen: seen.clone(),
            http: reqwest::Client::new(),
        };
        let app = Router::new()
            .route("/api/v1/metadata", get(metadata))
            .route("/api/v1/scan", post(scan))
            .route("/api/v1/scan/{id}/report", get(report))
            .route("/broken/api/v1/metadata", get(metadata))
            .route("/broken/api/v1/scan", post(scan))
            .route("/broken/api/v1/scan/{id}/report", get(broken_report))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TinyAdapter {
            base: format!("http://{addr}"),
            seen,
        }
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
}
