//! The one error response of every endpoint: the shared code table's status and body,
//! plus a `WWW-Authenticate` challenge where a client should log in. Internal causes
//! are logged here, once, and never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::Error;
use portcullis_types::{ErrorBody, ErrorCode};

#[derive(Debug)]
pub struct ApiError {
    pub error: Error,
    pub challenge: Option<String>,
    /// Extra headers some errors carry (e.g. `Content-Range` on a 416).
    pub headers: Vec<(header::HeaderName, String)>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::new(code, message).into()
    }

    pub fn code(code: ErrorCode) -> Self {
        Error::code(code).into()
    }

    pub fn challenge(mut self, value: String) -> Self {
        self.challenge = Some(value);
        self
    }

    pub fn header(mut self, name: header::HeaderName, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError {
            error,
            challenge: None,
            headers: Vec::new(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.error;
        if let Some(cause) = &e.cause {
            tracing::error!(
                code = e.code.as_str(),
                error = format!("{cause:#}"),
                "request failed"
            );
        }
        let status =
            StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody::single(e.code, e.message, e.detail);
        let mut resp = (status, axum::Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(
            "docker-distribution-api-version",
            HeaderValue::from_static("registry/2.0"),
        );
        if let Some(c) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert(header::WWW_AUTHENTICATE, c);
        }
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        }
        resp
    }
}
