//! The service-level error: an entry of the shared error-code table, the message the
//! client sees, and (kept apart, logged once, never shown) the internal cause.

use std::fmt;

use portcullis_types::{ErrorCode, NameError};

#[derive(Debug)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub detail: Option<serde_json::Value>,
    /// Internal cause: logged by the HTTP layer, never sent to the client.
    pub cause: Option<anyhow::Error>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            detail: None,
            cause: None,
        }
    }

    pub fn code(code: ErrorCode) -> Self {
        Error::new(code, code.default_message())
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Error {
            code: ErrorCode::Internal,
            message: ErrorCode::Internal.default_message().into(),
            detail: None,
            cause: Some(cause.into()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        if let Some(c) = &self.cause {
            write!(f, " ({c:#})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<portcullis_meta::Error> for Error {
    fn from(e: portcullis_meta::Error) -> Self {
        use portcullis_meta::Error as M;
        match e {
            M::NotFound => Error::code(ErrorCode::NotFound),
            M::Conflict(m) => Error::new(ErrorCode::Conflict, m),
            M::Invalid(m) => Error::new(ErrorCode::BadRequest, m),
            M::NotEmpty => Error::new(ErrorCode::PreconditionFailed, "the resource is not empty"),
            M::MissingBlobs(d) => Error::code(ErrorCode::ManifestBlobUnknown)
                .with_detail(serde_json::json!({ "digest": d.first().map(|x| x.to_string()) })),
            M::MissingManifests(d) => Error::new(ErrorCode::ManifestBlobUnknown, "manifest references a manifest unknown to the repository")
                .with_detail(serde_json::json!({ "digest": d.first().map(|x| x.to_string()) })),
            M::Referenced(p) => Error::new(
                ErrorCode::PreconditionFailed,
                "the manifest is referenced by an index in the repository; delete the index first",
            )
            .with_detail(serde_json::json!({ "referenced_by": p.iter().map(|x| x.to_string()).collect::<Vec<_>>() })),
            M::QuotaExceeded {
                hard,
                used,
                requested,
            } => quota_exceeded_error(hard, used, requested),
            M::Immutable(tag) => Error::new(
                ErrorCode::Denied,
                format!("Failed to process request due to tag '{tag}' configured as immutable."),
            ),
            other => Error::internal(other),
        }
    }
}

impl From<portcullis_blob::BlobError> for Error {
    fn from(e: portcullis_blob::BlobError) -> Self {
        use portcullis_blob::BlobError as B;
        match e {
            B::NotFound => Error::code(ErrorCode::BlobUnknown),
            B::UploadNotFound => Error::code(ErrorCode::BlobUploadUnknown),
            B::RangeMismatch { expected_offset } => Error::code(ErrorCode::RangeInvalid)
                .with_detail(serde_json::json!({ "expected_offset": expected_offset })),
            B::DigestMismatch { .. } => Error::code(ErrorCode::DigestInvalid),
            B::InvalidRange => {
                Error::new(ErrorCode::RangeInvalid, "requested range not satisfiable")
            }
            other => Error::internal(other),
        }
    }
}

impl From<NameError> for Error {
    fn from(e: NameError) -> Self {
        match e {
            NameError::Tag(_) => Error::new(ErrorCode::ManifestInvalid, e.to_string()),
            NameError::Digest(_) => Error::new(ErrorCode::DigestInvalid, e.to_string()),
            _ => Error::new(ErrorCode::NameInvalid, e.to_string()),
        }
    }
}

impl From<portcullis_types::DigestError> for Error {
    fn from(e: portcullis_types::DigestError) -> Self {
        Error::new(ErrorCode::DigestInvalid, e.to_string())
    }
}

/// Harbor's refusal of a commit over the storage limit (`403 DENIED`).
pub fn quota_exceeded_error(hard: i64, used: i64, requested: i64) -> Error {
    Error::new(
        ErrorCode::Denied,
        portcullis_policy::quota::exceeded_message(hard, used, requested),
    )
    .with_detail(serde_json::json!({
        "hard": { "storage": hard },
        "used": { "storage": used },
        "requested": { "storage": requested },
    }))
}
