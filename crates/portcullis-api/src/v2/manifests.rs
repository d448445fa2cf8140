//! Manifest HEAD, GET, PUT and DELETE by tag or digest.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::Actions;
use portcullis_types::{ErrorCode, NameError, Reference, RepoName, Tag};

use super::Ctx;
use crate::error::{ApiError, ApiResult};

fn reference(r: &str, unknown_tag: ErrorCode) -> ApiResult<Reference> {
    Reference::parse(r).map_err(|e| match e {
        NameError::Digest(d) => ApiError::new(ErrorCode::DigestInvalid, d.to_string()),
        other => ApiError::new(unknown_tag, other.to_string()),
    })
}

fn hv(s: &str) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(s).map_err(|e| portcullis_core::Error::internal(e).into())
}

pub(super) async fn get(ctx: &Ctx, repo: &RepoName, r: &str) -> ApiResult<Response> {
    let project = ctx.authorize(repo, Actions::PULL).await?;
    let reference = reference(r, ErrorCode::ManifestUnknown)?;
    let head = ctx.method == Method::HEAD;
    let user_agent = ctx
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let (resolved, bytes) = ctx
        .reg
        .pull_manifest(&ctx.request(), &project, repo, &reference, head, user_agent)
        .await?;
    let len = bytes.len() as u64;
    let body = if head {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, hv(&resolved.media_type)?);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert("docker-content-digest", hv(resolved.digest.as_str())?);
    h.insert(header::ETAG, hv(&format!("\"{}\"", resolved.digest))?);
    Ok(resp)
}

pub(super) async fn put(ctx: &Ctx, repo: &RepoName, r: &str, body: Body) -> ApiResult<Response> {
    let project = ctx.authorize(repo, Actions::PUSH).await?;
    let reference = reference(r, ErrorCode::ManifestInvalid)?;
    let limit = ctx.reg.settings.max_manifest_size;
    if let Some(len) = ctx
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(too_large(len, limit));
    }
    let bytes = axum::body::to_bytes(body, limit + 1)
        .await
        .map_err(|_| too_large(limit + 1, limit))?;
    if bytes.len() > limit {
        return Err(too_large(bytes.len(), limit));
    }
    let content_type = ctx
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let tags = tag_params(ctx, &reference)?;
    let (pushed, tagged) = ctx
        .reg
        .put_manifest(
            &ctx.request(),
            &project,
            repo,
            &reference,
            &tags,
            content_type,
            bytes,
        )
        .await?;
    let mut resp = StatusCode::CREATED.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::LOCATION,
        hv(&format!("/v2/{repo}/manifests/{}", pushed.digest))?,
    );
    h.insert("docker-content-digest", hv(pushed.digest.as_str())?);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    if let Some(s) = &pushed.subject {
        h.insert("oci-subject", hv(s.as_str())?);
    }
    if matches!(reference, Reference::Digest(_)) {
        for t in &tagged {
            h.append("oci-tag", hv(t.as_str())?);
        }
    }
    Ok(resp)
}

/// Most `tag` parameters one push by digest may carry (the spec asks for at least 10).
const MAX_TAG_PARAMS: usize = 100;

/// The `tag` query parameters of a push by digest, checked and without repeats.
fn tag_params(ctx: &Ctx, reference: &Reference) -> ApiResult<Vec<Tag>> {
    let raw = ctx.query.get("tag").map(Vec::as_slice).unwrap_or_default();
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    if matches!(reference, Reference::Tag(_)) {
        return Err(ApiError::new(
            ErrorCode::ManifestInvalid,
            "tag parameters go with a push by digest, not by tag",
        ));
    }
    if raw.len() > MAX_TAG_PARAMS {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("at most {MAX_TAG_PARAMS} tag parameters per push"),
        ));
    }
    let mut tags: Vec<Tag> = Vec::with_capacity(raw.len());
    for t in raw {
        let tag =
            Tag::parse(t).map_err(|e| ApiError::new(ErrorCode::ManifestInvalid, e.to_string()))?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// Harbor's audit resource: `repo:tag` or `repo@digest`.
fn too_large(len: usize, limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::ManifestTooLarge,
        format!("manifest of {len} bytes or more exceeds the limit of {limit} bytes"),
    )
    .header(header::CONNECTION, "close".into())
}

pub(super) async fn delete(ctx: &Ctx, repo: &RepoName, r: &str) -> ApiResult<Response> {
    let project = ctx.authorize(repo, Actions::DELETE).await?;
    let reference = reference(r, ErrorCode::ManifestUnknown)?;
    ctx.reg
        .delete_manifest(&ctx.request(), &project, repo, &reference)
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
