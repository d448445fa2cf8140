//! Blob HEAD, GET (with `Range`) and DELETE.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::Actions;
use portcullis_types::{ErrorCode, RepoName};

use super::{Ctx, parse_digest};
use crate::error::{ApiError, ApiResult};

pub(super) async fn get(ctx: &Ctx, repo: &RepoName, digest: &str) -> ApiResult<Response> {
    ctx.authorize(repo, Actions::PULL).await?;
    let digest = parse_digest(digest)?;
    let size = ctx.reg.uploads.blob_size(repo, &digest).await?;
    let range_header = ctx.headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range = range_header
        .map(|v| portcullis_types::parse_range(v, size))
        .transpose()
        .map_err(|_| {
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
