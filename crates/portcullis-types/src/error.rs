//! The one table of error codes: OCI distribution codes for `/v2/` and Harbor's codes for
//! `/api/v2.0/`, each with its HTTP status. Both APIs share the body shape
//! `{"errors":[{"code":…,"message":…,"detail":…}]}`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // OCI distribution-spec codes.
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    /// A chunk out of order or overlapping what was written (416, per the spec).
    RangeInvalid,
    /// A manifest over the configured size limit (413).
    ManifestTooLarge,
    // Harbor API codes.
    BadRequest,
    HarborUnauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PreconditionFailed,
    ProjectPolicyViolation,
    UnsupportedMediaType,
    /// The request is understood but cannot be done in this state (422): an artifact
    /// that cannot be scanned, a scan already running.
    UnprocessableEntity,
    Internal,
    ServiceUnavailable,
    /// A Harbor feature Portcullis does not provide (answered plainly, never faked).
    NotImplemented,
}

impl ErrorCode {
    /// The code string clients match on.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BlobUnknown => "BLOB_UNKNOWN",
            BlobUploadInvalid | RangeInvalid => "BLOB_UPLOAD_INVALID",
            BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            DigestInvalid => "DIGEST_INVALID",
            ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ManifestInvalid => "MANIFEST_INVALID",
            ManifestTooLarge => "SIZE_INVALID",
            ManifestUnknown => "MANIFEST_UNKNOWN",
            NameInvalid => "NAME_INVALID",
            NameUnknown => "NAME_UNKNOWN",
            SizeInvalid => "SIZE_INVALID",
            Unauthorized | HarborUnauthorized => "UNAUTHORIZED",
            Denied => "DENIED",
            Unsupported => "UNSUPPORTED",
            TooManyRequests => "TOOMANYREQUESTS",
            BadRequest => "BAD_REQUEST",
            Forbidden => "FORBIDDEN",
            NotFound => "NOT_FOUND",
            MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Conflict => "CONFLICT",
            PreconditionFailed => "PRECONDITION",
            ProjectPolicyViolation => "PROJECTPOLICYVIOLATION",
            UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            UnprocessableEntity => "UNPROCESSABLE_ENTITY",
            Internal => "INTERNAL_SERVER_ERROR",
            ServiceUnavailable => "SERVICE_UNAVAILABLE",
            NotImplemented => "NOT_IMPLEMENTED",
        }
    }

    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            BlobUnknown | BlobUploadUnknown | ManifestUnknown | NameUnknown | NotFound => 404,
            BlobUploadInvalid | DigestInvalid | ManifestBlobUnknown | ManifestInvalid
            | NameInvalid | SizeInvalid | BadRequest => 400,
            Unauthorized | HarborUnauthorized => 401,
            Denied | Forbidden => 403,
            Unsupported | MethodNotAllowed => 405,
            Conflict => 409,
            PreconditionFailed | ProjectPolicyViolation => 412,
            ManifestTooLarge => 413,
            UnsupportedMediaType => 415,
            UnprocessableEntity => 422,
            RangeInvalid => 416,
            TooManyRequests => 429,
            Internal => 500,
            ServiceUnavailable => 503,
            NotImplemented => 501,
        }
    }

    /// The message used when the caller has nothing more specific to say.
    pub fn default_message(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BlobUnknown => "blob unknown to registry",
            BlobUploadInvalid => "blob upload invalid",
            RangeInvalid => "chunk out of order or overlapping the data already uploaded",
            BlobUploadUnknown => "blob upload unknown to registry",
            DigestInvalid => "provided digest did not match uploaded content",
            ManifestBlobUnknown => "manifest references a blob unknown to the repository",
            ManifestInvalid => "manifest invalid",
            ManifestTooLarge => "manifest is larger than the registry accepts",
            ManifestUnknown => "manifest unknown",
            NameInvalid => "invalid repository name",
            NameUnknown => "repository name not known to registry",
            SizeInvalid => "provided length did not match content length",
            Unauthorized | HarborUnauthorized => "authentication required",
            Denied => "requested access to the resource is denied",
            Unsupported => "the operation is unsupported",
            TooManyRequests => "too many requests",
            BadRequest => "bad request",
            Forbidden => "forbidden",
            NotFound => "not found",
            MethodNotAllowed => "method not allowed",
            Conflict => "conflict",
            PreconditionFailed => "precondition failed",
            ProjectPolicyViolation => "the artifact is blocked by the project's policy",
            UnsupportedMediaType => "unsupported media type",
            UnprocessableEntity => "the request cannot be processed in the current state",
            Internal => "internal server error",
            ServiceUnavailable => "service unavailable",
            NotImplemented => "not implemented",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEntry {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub errors: Vec<ErrorEntry>,
}

impl ErrorBody {
    pub fn single(
        code: ErrorCode,
        message: impl Into<String>,
        detail: Option<serde_json::Value>,
    ) -> Self {
        ErrorBody {
            errors: vec![ErrorEntry {
                code: code.as_str().to_string(),
                message: message.into(),
                detail,
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_shape() {
        let b = ErrorBody::single(ErrorCode::BlobUnknown, "blob unknown to registry", None);
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#
        );
        assert_eq!(ErrorCode::RangeInvalid.status(), 416);
        assert_eq!(
            ErrorCode::ProjectPolicyViolation.as_str(),
            "PROJECTPOLICYVIOLATION"
        );
    }
}
