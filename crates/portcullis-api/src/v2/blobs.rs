//! Blob HEAD, GET (with `Range`) and DELETE.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::Actions;
use portcullis_types::{ErrorCode, RepoName};

use super::{Ctx, parse_digest};
use crate::error::{ApiError, ApiResult};

/// Parses a single `bytes=` range against a blob of `size` bytes. `Ok(None)`: no range.
pub(crate) fn parse_range(
    value: Option<&str>,
    size: u64,
) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(v) = value else { return Ok(None) };
    let spec = v.trim().strip_prefix("bytes=").ok_or(())?;
    if spec.contains(',') {
        return Err(());
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size)
        }
        (s, "") => (s.parse().map_err(|_| ())?, size),
        (s, e) => {
            let s: u64 = s.parse().map_err(|_| ())?;
            let e: u64 = e.parse().map_err(|_| ())?;
            if e < s {
                return Err(());
            }
            (s, (e + 1).min(size))
        }
    };
    if start >= size {
        return Err(());
    }
    Ok(Some(start..end))
}

pub(super) async fn get(ctx: &Ctx, repo: &RepoName, digest: &str) -> ApiResult<Response> {
    ctx.authorize(repo, Actions::PULL).await?;
    let digest = parse_digest(digest)?;
    let size = ctx.reg.uploads.blob_size(repo, &digest).await?;
    let range_header = ctx.headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range = parse_range(range_header, size).map_err(|_| {
        ApiError::new(ErrorCode::RangeInvalid, "requested range not satisfiable")
            .header(header::CONTENT_RANGE, format!("bytes */{size}"))
    })?;
    let (status, len) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, size),
    };
    let body = if ctx.method == axum::http::Method::HEAD {
        Body::empty()
    } else {
        Body::from_stream(
            ctx.reg
                .uploads
                .open_blob(repo, &digest, range.clone())
                .await?
                .stream,
        )
    };
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{digest}\""))
            .map_err(portcullis_core::Error::internal)?,
    );
    h.insert(
        "docker-content-digest",
        HeaderValue::from_str(digest.as_str()).map_err(portcullis_core::Error::internal)?,
    );
    if let Some(r) = range {
        let cr = format!("bytes {}-{}/{}", r.start, r.end - 1, size);
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&cr).map_err(portcullis_core::Error::internal)?,
        );
    }
    Ok(resp)
}

pub(super) async fn delete(ctx: &Ctx, repo: &RepoName, digest: &str) -> ApiResult<Response> {
    ctx.authorize(repo, Actions::DELETE).await?;
    let digest = parse_digest(digest)?;
    ctx.reg.uploads.delete_blob(repo, &digest).await?;
    Ok((
        StatusCode::ACCEPTED,
        [("docker-content-digest", digest.to_string())],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-3"), 10), Ok(Some(0..4)));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Ok(Some(5..10)));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Ok(Some(7..10)));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Ok(Some(8..10)));
        assert!(parse_range(Some("bytes=10-"), 10).is_err());
        assert!(parse_range(Some("bytes=4-2"), 10).is_err());
        assert!(parse_range(Some("bytes=0-1,3-4"), 10).is_err());
        assert!(parse_range(Some("items=0-1"), 10).is_err());
    }
}
