//! Blob uploads: monolithic (POST with `digest`), chunked (POST, PATCH…, PUT),
//! status, cancel, and cross-repository mount.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use portcullis_blob::UploadId;
use portcullis_core::Actions;
use portcullis_types::{ErrorCode, RangeError, RepoName, parse_content_range};

use super::{Ctx, parse_digest};
use crate::auth::base_url;
use crate::error::{ApiError, ApiResult};

type ByteStream = std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

fn stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

/// The body as a stream, or `None` when it is empty (so no empty chunk is written).
async fn non_empty(body: Body) -> ApiResult<Option<ByteStream>> {
    let mut s = stream(body);
    loop {
        match s.next().await {
            None => return Ok(None),
            Some(Ok(b)) if b.is_empty() => continue,
            Some(Ok(b)) => {
                return Ok(Some(Box::pin(
                    futures::stream::once(async move { Ok(b) }).chain(s),
                )));
            }
            Some(Err(e)) => {
                return Err(ApiError::new(
                    ErrorCode::BlobUploadInvalid,
                    format!("reading the request body failed: {e}"),
                ));
            }
        }
    }
}

fn location(ctx: &Ctx, path: String) -> String {
    match &ctx.reg.settings.external_url {
        Some(_) => format!("{}{}", base_url(&ctx.reg, &ctx.headers), path),
        None => path,
    }
}

fn upload_response(
    ctx: &Ctx,
    status: StatusCode,
    repo: &RepoName,
    id: &UploadId,
    size: u64,
) -> ApiResult<Response> {
    let loc = location(ctx, format!("/v2/{repo}/blobs/uploads/{id}"));
    let end = size.saturating_sub(1);
    let mut resp = status.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&loc).map_err(portcullis_core::Error::internal)?,
    );
    h.insert(
        header::RANGE,
        HeaderValue::from_str(&format!("0-{end}")).map_err(portcullis_core::Error::internal)?,
    );
    h.insert(
        "docker-upload-uuid",
        HeaderValue::from_str(&id.to_string()).map_err(portcullis_core::Error::internal)?,
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    Ok(resp)
}

fn created(ctx: &Ctx, repo: &RepoName, digest: &portcullis_types::Digest) -> ApiResult<Response> {
    let loc = location(ctx, format!("/v2/{repo}/blobs/{digest}"));
    let mut resp = StatusCode::CREATED.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&loc).map_err(portcullis_core::Error::internal)?,
    );
    h.insert(
        "docker-content-digest",
        HeaderValue::from_str(digest.as_str()).map_err(portcullis_core::Error::internal)?,
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    Ok(resp)
}

fn upload_id(id: &str) -> ApiResult<UploadId> {
    id.parse::<UploadId>()
        .map_err(|_| ApiError::code(ErrorCode::BlobUploadUnknown))
}

/// `Content-Range: <start>-<end>` of a PATCH, checked against `Content-Length`.
fn content_range(ctx: &Ctx) -> ApiResult<Option<(u64, u64)>> {
    let Some(v) = ctx.headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let bad = |e: RangeError| {
        let msg = match e {
            RangeError::LengthMismatch => "Content-Range does not match Content-Length",
            RangeError::Malformed | RangeError::Unsatisfiable => "malformed Content-Range",
        };
        ApiError::new(ErrorCode::RangeInvalid, msg)
    };
    let v = v.to_str().map_err(|_| bad(RangeError::Malformed))?;
    let len = ctx
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    parse_content_range(v, len).map(Some).map_err(bad)
}

pub(super) async fn start(ctx: &Ctx, repo: &RepoName, body: Body) -> ApiResult<Response> {
    // A mount's challenge names the source too, or the token the client comes back
    // with cannot read it and the mount quietly turns into a new upload.
    let source: Vec<String> = match (ctx.q("mount"), ctx.q("from")) {
        (Some(_), Some(from)) => RepoName::parse(from)
            .map(|f| vec![format!("repository:{f}:pull")])
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let project = ctx.authorize_with(repo, Actions::PUSH, &source).await?;
    // Every upload can finish under either algorithm (the content is hashed again for
    // one that was not followed while it arrived), so the hint needs only checking.
    if let Some(a) = ctx.q("digest-algorithm")
        && !matches!(a, "sha256" | "sha512")
    {
        return Err(ApiError::new(
            ErrorCode::DigestInvalid,
            format!("unsupported digest algorithm {a:?}; sha256 and sha512 are supported"),
        ));
    }
    if let (Some(mount), Some(from)) = (ctx.q("mount"), ctx.q("from")) {
        // Any failure to mount (bad name, no access, unknown blob) falls back to a new
        // session, as the spec asks; nothing about the source is revealed.
        if let (Ok(digest), Ok(from)) = (
            portcullis_types::Digest::parse(mount),
            RepoName::parse(from),
        ) && ctx
            .reg
            .access
            .authorize(&ctx.principal, &from, Actions::PULL)
            .await
            .is_ok()
            && ctx
                .reg
                .uploads
                .mount(&uploader(ctx, &project), repo, &from, &digest)
                .await?
        {
            return created(ctx, repo, &digest);
        }
    }
    if let Some(d) = ctx.q("digest") {
        let digest = parse_digest(d)?;
        let body = non_empty(body)
            .await?
            .unwrap_or_else(|| Box::pin(futures::stream::empty()));
        ctx.reg
            .uploads
            .put_blob(&uploader(ctx, &project), repo, &digest, body)
            .await?;
        return created(ctx, repo, &digest);
    }
    let id = ctx.reg.uploads.start_upload(repo).await?;
    upload_response(ctx, StatusCode::ACCEPTED, repo, &id, 0)
}

pub(super) async fn status(ctx: &Ctx, repo: &RepoName, id: &str) -> ApiResult<Response> {
    // Reading where an upload stands changes nothing, and its id is the capability:
    // pull is enough, as in Distribution (clients reuse a pull token here).
    ctx.authorize(repo, Actions::PULL).await?;
    let id = upload_id(id)?;
    let st = ctx.reg.uploads.upload_status(repo, &id).await?;
    upload_response(ctx, StatusCode::NO_CONTENT, repo, &id, st.size)
}

pub(super) async fn patch(ctx: &Ctx, repo: &RepoName, id: &str, body: Body) -> ApiResult<Response> {
    ctx.authorize(repo, Actions::PUSH).await?;
    let id = upload_id(id)?;
    let range = content_range(ctx)?;
    let st = ctx.reg.uploads.upload_status(repo, &id).await?;
    if let Some((start, _)) = range
        && start != st.size
    {
        return Err(ApiError::new(
            ErrorCode::RangeInvalid,
            format!("chunk starts at {start}; the upload has {} bytes", st.size),
        )
        .header(header::RANGE, format!("0-{}", st.size.saturating_sub(1))));
    }
    let size = match non_empty(body).await? {
        Some(s) => {
            ctx.reg
                .uploads
                .append_upload(repo, &id, Some(st.size), s)
                .await?
        }
        None => st.size,
    };
    upload_response(ctx, StatusCode::ACCEPTED, repo, &id, size)
}

pub(super) async fn finish(
    ctx: &Ctx,
    repo: &RepoName,
    id: &str,
    body: Body,
) -> ApiResult<Response> {
    let project = ctx.authorize(repo, Actions::PUSH).await?;
    let id = upload_id(id)?;
    let digest = parse_digest(ctx.q("digest").ok_or_else(|| {
        ApiError::new(
            ErrorCode::DigestInvalid,
            "the digest query parameter is required",
        )
    })?)?;
    let range = content_range(ctx)?;
    let st = ctx.reg.uploads.upload_status(repo, &id).await?;
    if let Some(s) = non_empty(body).await? {
        if let Some((start, _)) = range
            && start != st.size
        {
            return Err(ApiError::new(
                ErrorCode::RangeInvalid,
                format!("chunk starts at {start}; the upload has {} bytes", st.size),
            ));
        }
        ctx.reg
            .uploads
            .append_upload(repo, &id, Some(st.size), s)
            .await?;
    }
    ctx.reg
        .uploads
        .complete_upload(&uploader(ctx, &project), repo, &id, &digest)
        .await?;
    created(ctx, repo, &digest)
}

pub(super) async fn cancel(ctx: &Ctx, repo: &RepoName, id: &str) -> ApiResult<Response> {
    ctx.authorize(repo, Actions::PUSH).await?;
    let id = upload_id(id)?;
    ctx.reg.uploads.cancel_upload(repo, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The project and the account an upload counts for, named in its quota events.
fn uploader<'a>(
    ctx: &'a Ctx,
    project: &'a portcullis_core::ProjectInfo,
) -> portcullis_core::uploads::Uploader<'a> {
    portcullis_core::uploads::Uploader {
        project,
        operator: ctx.principal.username().unwrap_or("anonymous"),
    }
}
