//! `POST /admission/validate`: a Kubernetes validating admission webhook
//! (`admission.k8s.io/v1` AdmissionReview). Malformed reviews get `400`; every review
//! that can be read gets an answer, allowing or denying with the image and reason.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use portcullis_core::Registry;
use portcullis_core::admission::images_of;
use serde_json::{Value, json};

pub fn routes() -> Router<Arc<Registry>> {
    Router::new().route("/admission/validate", post(validate))
}

fn problem(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "errors": [{ "code": "BAD_REQUEST", "message": message }] })),
    )
        .into_response()
}

/// Constant-time comparison, so the token cannot be guessed byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn validate(
    State(reg): State<Arc<Registry>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(token) = &reg.settings.admission.token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same(presented.as_bytes(), token.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "errors": [{ "code": "UNAUTHORIZED", "message": "a valid admission token is required" }] })),
            )
                .into_response();
        }
    }
    let Ok(review) = serde_json::from_slice::<Value>(&body) else {
        return problem(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    if review.get("kind").and_then(Value::as_str) != Some("AdmissionReview") {
        return problem(StatusCode::BAD_REQUEST, "expected an AdmissionReview");
    }
    let api_version = review
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("admission.k8s.io/v1")
        .to_string();
    let Some(request) = review.get("request") else {
        return problem(
            StatusCode::BAD_REQUEST,
            "the AdmissionReview has no request",
        );
    };
    let uid = request.get("uid").cloned().unwrap_or(Value::Null);
    let kind = request
        .pointer("/kind/kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let object = request.get("object").cloned().unwrap_or(Value::Null);
    let mut reasons = Vec::new();
    // Kinds that run no pods are none of this webhook's business: they are allowed.
    if let Ok(images) = images_of(kind, &object) {
        for image in images {
            if let Some(why) = reg.admission_refusal(&image).await {
                reasons.push(why);
            }
        }
    }
    let mut response = json!({ "uid": uid, "allowed": reasons.is_empty() });
    if !reasons.is_empty() {
        response["status"] = json!({
            "code": 403,
            "reason": "Forbidden",
            "message": reasons.join("; "),
        });
    }
    Json(json!({
        "apiVersion": api_version,
        "kind": "AdmissionReview",
        "response": response,
    }))
    .into_response()
}
