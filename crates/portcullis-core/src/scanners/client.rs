//! Talking to a scanner adapter over Harbor's pluggable scanner API (`<url>/api/v1`):
//! its metadata, scan requests, and reports polled until ready.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use portcullis_meta::ScannerRegistration;
use serde::{Deserialize, Serialize};

use super::mime;

/// Where an adapter is and how to authenticate to it.
#[derive(Clone)]
pub struct AdapterEndpoint {
    /// Base URL; the API is under `<url>/api/v1`.
    pub url: String,
    /// `""`, `"Basic"`, `"Bearer"` or `"X-ScannerAdapter-API-Key"`.
    pub auth: String,
    pub credential: String,
    pub skip_cert_verify: bool,
}

impl AdapterEndpoint {
    pub fn of(r: &ScannerRegistration) -> Self {
        AdapterEndpoint {
            url: r.url.trim_end_matches('/').to_string(),
            auth: r.auth.clone(),
            credential: r.access_credential.clone(),
            skip_cert_verify: r.skip_cert_verify,
        }
    }
}

/// `scanner` of the metadata and of reports.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScannerProduct {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub vendor: String,
    #[serde(default)]
    pub version: String,
}

/// One capability of an adapter.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Capability {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub consumes_mime_types: Vec<String>,
    #[serde(default)]
    pub produces_mime_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_attributes: Option<serde_json::Value>,
}

/// What `GET /api/v1/metadata` answers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AdapterMetadata {
    pub scanner: ScannerProduct,
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl AdapterMetadata {
    /// Whether a capability of this type is declared (a capability without a type is
    /// a vulnerability one, per the API's compatibility rule).
    pub fn supports(&self, kind: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.kind.as_deref().unwrap_or("vulnerability") == kind)
    }
}

/// Why a call to an adapter failed.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The adapter could not be reached or timed out: worth another try.
    #[error("scanner adapter unreachable: {0}")]
    Unreachable(String),
    /// The adapter answered with an error status.
    #[error("scanner adapter answered {status}: {message}")]
    Status { status: u16, message: String },
    /// The adapter answered something that does not follow the API.
    #[error("scanner adapter answered unexpectedly: {0}")]
    Protocol(String),
}

impl AdapterError {
    /// Whether a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            AdapterError::Unreachable(_) => true,
            AdapterError::Status { status, .. } => *status >= 500 && *status != 501,
            AdapterError::Protocol(_) => false,
        }
    }
}

/// What a report poll found.
#[derive(Debug, Clone)]
pub enum ReportPoll {
    /// The report, in the requested MIME type.
    Ready(serde_json::Value),
    /// Not done yet; ask again after this long (`Refresh-After`).
    NotYet(Duration),
}

/// An HTTP client for adapters; one verifying and one non-verifying connection pool.
pub struct AdapterClient {
    verifying: reqwest::Client,
    lenient: reqwest::Client,
}

impl Default for AdapterClient {
    fn default() -> Self {
        Self::new()
    }
}

fn build(skip_verify: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        // A 302 from the report endpoint means "not ready"; it must not be followed.
        .redirect(reqwest::redirect::Policy::none())
        .tls_danger_accept_invalid_certs(skip_verify)
        .build()
        .unwrap_or_default()
}

/// The `Refresh-After` of a 302, in seconds, within sane bounds.
fn refresh_after(resp: &reqwest::Response) -> Duration {
    let secs = resp
        .headers()
        .get("refresh-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(5);
    Duration::from_secs(secs.clamp(1, 300))
}

/// The message of an adapter error body (`{"error":{"message":…}}`), or the text.
async fn error_of(resp: reqwest::Response) -> AdapterError {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(300).collect());
    AdapterError::Status { status, message }
}

fn unreachable(e: reqwest::Error) -> AdapterError {
    AdapterError::Unreachable(e.without_url().to_string())
}

impl AdapterClient {
    pub fn new() -> Self {
        AdapterClient {
            verifying: build(false),
            lenient: build(true),
        }
    }

    fn request(
        &self,
        ep: &AdapterEndpoint,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let client = if ep.skip_cert_verify {
            &self.lenient
        } else {
            &self.verifying
        };
        let req = client.request(method, format!("{}/api/v1{path}", ep.url));
        match ep.auth.as_str() {
            "Basic" => req.header(
                "authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(&ep.credential)
                ),
            ),
            "Bearer" => req.header("authorization", format!("Bearer {}", ep.credential)),
            "X-ScannerAdapter-API-Key" => req.header("x-scanneradapter-api-key", &ep.credential),
            _ => req,
        }
    }

    /// `GET /api/v1/metadata`.
    pub async fn metadata(&self, ep: &AdapterEndpoint) -> Result<AdapterMetadata, AdapterError> {
        let resp = self
            .request(ep, reqwest::Method::GET, "/metadata")
            .header(
                "accept",
                format!("{}, {}", mime::METADATA_1_1, mime::METADATA_1_0),
            )
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(unreachable)?;
        if !resp.status().is_success() {
            return Err(error_of(resp).await);
        }
        resp.json()
            .await
            .map_err(|e| AdapterError::Protocol(format!("metadata: {}", e.without_url())))
    }

    /// `POST /api/v1/scan`: returns the scan request id.
    pub async fn submit(
        &self,
        ep: &AdapterEndpoint,
        request: &serde_json::Value,
    ) -> Result<String, AdapterError> {
        let resp = self
            .request(ep, reqwest::Method::POST, "/scan")
            .header("content-type", mime::SCAN_REQUEST_1_1)
            .header("accept", mime::SCAN_RESPONSE)
            .body(request.to_string())
            .send()
            .await
            .map_err(unreachable)?;
        if resp.status().as_u16() != 202 && !resp.status().is_success() {
            return Err(error_of(resp).await);
        }
        let body: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| AdapterError::Protocol(format!("scan response: {}", e.without_url())))?;
        body["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| AdapterError::Protocol("scan response without an id".into()))
    }

    /// `GET /api/v1/scan/{id}/report` in `mime_type`: the report, or when to ask again.
    pub async fn report(
        &self,
        ep: &AdapterEndpoint,
        id: &str,
        mime_type: &str,
    ) -> Result<ReportPoll, AdapterError> {
        let id = percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC);
        let resp = self
            .request(ep, reqwest::Method::GET, &format!("/scan/{id}/report"))
            .header("accept", mime_type)
            .send()
            .await
            .map_err(unreachable)?;
        match resp.status().as_u16() {
            302 => Ok(ReportPoll::NotYet(refresh_after(&resp))),
            200 => {
                let body = resp
                    .json()
                    .await
                    .map_err(|e| AdapterError::Protocol(format!("report: {}", e.without_url())))?;
                Ok(ReportPoll::Ready(body))
            }
            _ => Err(error_of(resp).await),
        }
    }
}
