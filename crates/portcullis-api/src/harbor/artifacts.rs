//! `/api/v2.0/projects/{p}/repositories/{r}/artifacts…`: artifacts, their tags and
//! accessories, and promotion by copy (`POST …/artifacts?from=`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::Registry;
use portcullis_core::artifacts::{ArtifactView, accessory_type, harbor_type};
use portcullis_core::signatures::SignatureStatus;
use portcullis_meta::{ArtifactFilter, TagRecord};
use portcullis_types::ErrorCode;
use serde::Deserialize;

use super::HarborJson;
use super::params::flag;
use super::repositories::{encode_twice, repo_path};
use super::{Acting, Paging, harbor_time, json_body};
use crate::error::{ApiError, ApiResult};

/// What Harbor shows for a time that never happened (an artifact never pulled).
const NEVER: &str = "0001-01-01T00:00:00.000Z";

fn tag_json(t: &TagRecord, immutable: bool) -> serde_json::Value {
    serde_json::json!({
        "id": t.id.0,
        "repository_id": t.repository_id.0,
        "artifact_id": t.artifact_id.0,
        "name": t.name,
        "push_time": harbor_time(t.push_time),
        "pull_time": t.pull_time.map(harbor_time).unwrap_or_else(|| NEVER.into()),
        "immutable": immutable,
    })
}

/// What an artifact's JSON includes besides its own fields (Harbor's `with_*` flags).
#[derive(Debug, Clone, Copy)]
struct Include {
    tags: bool,
    labels: bool,
    signature: bool,
    immutable: bool,
}

impl Include {
    fn from_params(params: &HashMap<String, String>) -> ApiResult<Self> {
        Ok(Include {
            tags: flag(params, "with_tag", true)?,
            labels: flag(params, "with_label", false)?,
            signature: flag(params, "with_signature", false)?,
            immutable: flag(params, "with_immutable_status", false)?,
        })
    }
}

/// Harbor's label JSON.
pub fn label_json(l: &portcullis_meta::Label) -> serde_json::Value {
    serde_json::json!({
        "id": l.id,
        "name": l.name,
        "description": l.description,
        "color": l.color,
        "scope": l.scope,
        "project_id": l.project_id.map(|p| p.0).unwrap_or(0),
        "creation_time": harbor_time(l.creation_time),
        "update_time": harbor_time(l.update_time),
    })
}

/// Harbor's artifact JSON; tags and labels only when asked for, as Harbor does.
fn artifact_json(
    v: &ArtifactView,
    include: Include,
    signatures: Option<&SignatureStatus>,
    immutable: &HashSet<String>,
) -> serde_json::Value {
    let a = &v.artifact;
    let references: Vec<_> = v
        .references
        .iter()
        .map(|(r, child)| {
            serde_json::json!({
                "parent_id": a.id.0,
                "child_id": child.map(|c| c.0),
                "child_digest": r.digest,
                "platform": r.platform,
            })
        })
        .collect();
    let mut json = serde_json::json!({
        "id": a.id.0,
        "type": harbor_type(a),
        // Harbor's `media_type` is the config's; indexes have none and show their own.
        "media_type": a.effective_type().unwrap_or(&a.media_type),
        "manifest_media_type": a.media_type,
        "artifact_type": a.effective_type(),
        "project_id": v.project_id.0,
        "repository_id": a.repository_id.0,
        "digest": a.digest,
        "size": a.size,
        "icon": "",
        "push_time": harbor_time(a.push_time),
        "pull_time": a.pull_time.map(harbor_time).unwrap_or_else(|| NEVER.into()),
        "extra_attrs": a.extra_attrs,
        "annotations": a.annotations,
        "references": references,
        "labels": if include.labels {
            v.labels.iter().map(label_json).collect()
        } else {
            serde_json::Value::Null
        },
        "addition_links": {},
    });
    if let Some(sig) = signatures {
        // Not in Harbor: whether cosign and notation signatures are attached and verified.
        json["signatures"] = serde_json::to_value(sig).unwrap_or_default();
    }
    if include.tags {
        json["tags"] = v
            .tags
            .iter()
            .map(|t| tag_json(t, immutable.contains(t.name.as_str())))
            .collect();
    }
    json
}

async fn immutable_of(
    reg: &Registry,
    v: &ArtifactView,
    include: Include,
) -> ApiResult<HashSet<String>> {
    if include.immutable && include.tags {
        Ok(reg.policy.immutable_tags(&v.tags).await?)
    } else {
        Ok(HashSet::new())
    }
}

async fn signatures_of(
    reg: &Registry,
    v: &ArtifactView,
    include: Include,
) -> ApiResult<Option<SignatureStatus>> {
    if !include.signature {
        return Ok(None);
    }
    Ok(Some(
        reg.policy
            .signature_status(v.project_id, v.artifact.repository_id, &v.artifact.digest)
            .await?,
    ))
}

/// Label ids of a `labels=` query value: one id, `(a b)` for all of them, `{a b}` for
/// any of them (Harbor's and-list and or-list).
fn label_ids(v: &str) -> ApiResult<(Vec<i64>, bool)> {
    let bad = || {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("invalid labels {v:?}: use an id, (id id) or {{id id}}"),
        )
    };
    let (inner, any) = if let Some(i) = v.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        (i, false)
    } else if let Some(i) = v.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        (i, true)
    } else {
        (v, false)
    };
    let ids = inner
        .split_whitespace()
        .map(|x| x.parse::<i64>().map_err(|_| bad()))
        .collect::<ApiResult<Vec<_>>>()?;
    if ids.is_empty() {
        return Err(bad());
    }
    Ok((ids, any))
}

/// Harbor's `q` and `sort` for artifacts: `digest=`, `tags=` (exact, `~` fuzzy, `*` any
/// tag, `nil` untagged), `media_type=`, `labels=`; sort by `push_time` or `-push_time`.
fn artifact_filter(params: &HashMap<String, String>) -> ApiResult<ArtifactFilter> {
    let mut f = ArtifactFilter::default();
    for part in params
        .get("q")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.trim().is_empty())
    {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            ApiError::new(ErrorCode::BadRequest, format!("invalid query {part:?}"))
        })?;
        match (k.trim(), v) {
            ("digest", v) => f.digest = Some(v.to_string()),
            ("media_type", v) => f.media_type = Some(v.to_string()),
            ("labels", v) => match label_ids(v)? {
                (ids, true) => f.any_label = ids,
                (ids, false) => f.all_labels = ids,
            },
            ("tags", "*") => f.tagged = Some(true),
            ("tags", "nil") => f.tagged = Some(false),
            ("tags", v) => match v.strip_prefix('~') {
                Some(needle) => f.tag_contains = Some(needle.to_string()),
                None => f.tag = Some(v.to_string()),
            },
            (other, _) => {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("unsupported query key {other:?}"),
                ));
            }
        }
    }
    match params.get("sort").map(String::as_str) {
        None | Some("") | Some("-push_time") => {}
        Some("push_time") => f.oldest_first = true,
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("unsupported sort {other:?}: use push_time or -push_time"),
            ));
        }
    }
    Ok(f)
}

fn paging(params: &HashMap<String, String>) -> ApiResult<Paging> {
    Paging::from_params(params)
}

fn location(path: String) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(&path).map_err(|e| portcullis_core::Error::internal(e).into())
}

pub async fn list(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = paging(&params)?;
    let mut filter = artifact_filter(&params)?;
    // Accessories hang under their subject, never in the list itself (as in Harbor).
    filter.without_accessories = true;
    let include = Include::from_params(&params)?;
    let with_accessory = flag(&params, "with_accessory", false)?;
    let with_scan = flag(&params, "with_scan_overview", false)?;
    let with_sbom = flag(&params, "with_sbom_overview", false)?;
    let path = repo_path(&repo)?;
    let (list, total) = reg
        .list_artifacts(
            &ctx,
            &project,
            &path,
            &filter,
            paging.page,
            paging.page_size,
        )
        .await?;
    let mut body = Vec::with_capacity(list.len());
    for v in &list {
        let sig = signatures_of(&reg, v, include).await?;
        let immutable = immutable_of(&reg, v, include).await?;
        body.push(artifact_json(v, include, sig.as_ref(), &immutable));
    }
    super::scanning::add_overviews(&reg, &list, &mut body, with_scan, with_sbom).await?;
    if with_accessory {
        add_accessories(&reg, &ctx, &project, &path, &list, &mut body).await?;
    }
    let mut resp = Json(body).into_response();
    let extra = super::kept_query(
        &params,
        &[
            "q",
            "sort",
            "with_tag",
            "with_label",
            "with_signature",
            "with_immutable_status",
            "with_accessory",
            "with_scan_overview",
            "with_sbom_overview",
        ],
    );
    let here = format!(
        "/api/v2.0/projects/{project}/repositories/{}/artifacts",
        encode_twice(&path)
    );
    paging.headers(&mut resp, &here, &extra, total);
    Ok(resp)
}

/// `GET /projects/{p}/artifacts`: artifacts of every repository of the project, each
/// with its `repository_name`; `latest_in_repository` keeps each repository's newest.
pub async fn list_of_project(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: axum::http::HeaderMap,
    Path(project): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = paging(&params)?;
    let mut filter = artifact_filter(&params)?;
    filter.without_accessories = true;
    let include = Include::from_params(&params)?;
    let latest = flag(&params, "latest_in_repository", false)?;
    let with_accessory = flag(&params, "with_accessory", false)?;
    let with_scan = flag(&params, "with_scan_overview", false)?;
    let with_sbom = flag(&params, "with_sbom_overview", false)?;
    let (list, total) = reg
        .list_project_artifacts(
            &ctx,
            &project,
            super::is_name(&headers),
            &filter,
            latest,
            paging.page,
            paging.page_size,
        )
        .await?;
    let views: Vec<ArtifactView> = list.iter().map(|(v, _)| v.clone()).collect();
    let mut body = Vec::with_capacity(list.len());
    for (v, repo) in &list {
        let sig = signatures_of(&reg, v, include).await?;
        let immutable = immutable_of(&reg, v, include).await?;
        let mut json = artifact_json(v, include, sig.as_ref(), &immutable);
        json["repository_name"] = repo.clone().into();
        body.push(json);
    }
    super::scanning::add_overviews(&reg, &views, &mut body, with_scan, with_sbom).await?;
    if with_accessory {
        for ((v, repo), json) in list.iter().zip(body.iter_mut()) {
            let path = repo.split_once('/').map(|(_, r)| r).unwrap_or(repo);
            let mut one = [json.take()];
            let project_name = repo.split('/').next().unwrap_or_default();
            add_accessories(
                &reg,
                &ctx,
                project_name,
                path,
                std::slice::from_ref(v),
                &mut one,
            )
            .await?;
            let [j] = one;
            *json = j;
        }
    }
    let mut resp = Json(body).into_response();
    let extra = super::kept_query(
        &params,
        &[
            "q",
            "sort",
            "with_tag",
            "with_label",
            "latest_in_repository",
        ],
    );
    paging.headers(
        &mut resp,
        &format!("/api/v2.0/projects/{project}/artifacts"),
        &extra,
        total,
    );
    Ok(resp)
}

pub async fn copy(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let from = params
        .get("from")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "the from parameter is required"))?;
    let path = repo_path(&repo)?;
    let (proj, copy) = reg.copy_artifact(&ctx, &project, &path, from).await?;
    let mut resp = StatusCode::CREATED.into_response();
    resp.headers_mut().insert(
        header::LOCATION,
        location(format!(
            "/api/v2.0/projects/{}/repositories/{}/artifacts/{}",
            proj.name,
            encode_twice(&path),
            copy.digest
        ))?,
    );
    Ok(resp)
}

pub async fn get_one(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo, reference)): Path<(String, String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let include = Include::from_params(&params)?;
    let with_scan = flag(&params, "with_scan_overview", false)?;
    let with_sbom = flag(&params, "with_sbom_overview", false)?;
    let with_accessory = flag(&params, "with_accessory", false)?;
    let path = repo_path(&repo)?;
    let v = reg.get_artifact(&ctx, &project, &path, &reference).await?;
    let sig = signatures_of(&reg, &v, include).await?;
    let immutable = immutable_of(&reg, &v, include).await?;
    let mut body = [artifact_json(&v, include, sig.as_ref(), &immutable)];
    super::scanning::add_overviews(
        &reg,
        std::slice::from_ref(&v),
        &mut body,
        with_scan,
        with_sbom,
    )
    .await?;
    if with_accessory {
        add_accessories(
            &reg,
            &ctx,
            &project,
            &path,
            std::slice::from_ref(&v),
            &mut body,
        )
        .await?;
    }
    let [body] = body;
    Ok(Json(body).into_response())
}

pub async fn delete(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo, reference)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    reg.delete_artifact(&ctx, &project, &repo_path(&repo)?, &reference)
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn list_tags(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo, reference)): Path<(String, String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = paging(&params)?;
    let with_immutable = flag(&params, "with_immutable_status", false)?;
    let tags = reg
        .artifact_tags(&ctx, &project, &repo_path(&repo)?, &reference)
        .await?;
    let immutable = if with_immutable {
        reg.policy.immutable_tags(&tags).await?
    } else {
        HashSet::new()
    };
    let total = tags.len() as u64;
    let body: Vec<_> = paging
        .window(&tags)
        .map(|t| tag_json(t, immutable.contains(t.name.as_str())))
        .collect();
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert("x-total-count", HeaderValue::from(total));
    Ok(resp)
}

#[derive(Debug, Deserialize)]
pub struct NewTag {
    name: String,
}

pub async fn create_tag(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo, reference)): Path<(String, String, String)>,
    body: Result<HarborJson<NewTag>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    let path = repo_path(&repo)?;
    reg.create_tag(&ctx, &project, &path, &reference, &req.name)
        .await?;
    let mut resp = StatusCode::CREATED.into_response();
    resp.headers_mut().insert(
        header::LOCATION,
        location(format!(
            "/api/v2.0/projects/{project}/repositories/{}/artifacts/{reference}/tags/{}",
            encode_twice(&path),
            req.name
        ))?,
    );
    Ok(resp)
}

pub async fn delete_tag(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo, reference, tag)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    reg.delete_tag(&ctx, &project, &repo_path(&repo)?, &reference, &tag)
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// Harbor's `Accessory`.
fn accessory_json(
    a: &portcullis_meta::Artifact,
    subject: &portcullis_meta::Artifact,
    repo: &str,
) -> serde_json::Value {
    serde_json::json!({
        "id": a.id.0,
        "artifact_id": a.id.0,
        "subject_artifact_id": subject.id.0,
        "subject_artifact_digest": subject.digest,
        "subject_artifact_repo": repo,
        "size": a.size,
        "digest": a.digest,
        "type": accessory_type(a),
        "icon": "",
        "creation_time": harbor_time(a.push_time),
    })
}

/// With `with_accessory`, each artifact's `accessories` (signatures, SBOMs …).
async fn add_accessories(
    reg: &Registry,
    ctx: &portcullis_core::RequestCtx,
    project: &str,
    path: &str,
    views: &[ArtifactView],
    body: &mut [serde_json::Value],
) -> ApiResult<()> {
    for (v, json) in views.iter().zip(body.iter_mut()) {
        let (r, subject, list) = reg
            .accessories(ctx, project, path, v.artifact.digest.as_str())
            .await?;
        json["accessories"] = list
            .iter()
            .map(|a| accessory_json(a, &subject, r.name.as_str()))
            .collect();
    }
    Ok(())
}

pub async fn accessories(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo, reference)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (r, subject, list) = reg
        .accessories(&ctx, &project, &repo_path(&repo)?, &reference)
        .await?;
    let body: Vec<_> = list
        .iter()
        .map(|a| accessory_json(a, &subject, r.name.as_str()))
        .collect();
    let total = body.len();
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert("x-total-count", HeaderValue::from(total));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn harbor_query_of_artifacts() {
        let f = artifact_filter(&params(&[
            ("q", "tags=~rc,media_type=x"),
            ("sort", "push_time"),
        ]))
        .unwrap();
        assert_eq!(f.tag_contains.as_deref(), Some("rc"));
        assert_eq!(f.media_type.as_deref(), Some("x"));
        assert!(f.oldest_first);
        assert_eq!(
            artifact_filter(&params(&[("q", "tags=nil")]))
                .unwrap()
                .tagged,
            Some(false)
        );
        assert!(artifact_filter(&params(&[("q", "colour=red")])).is_err());
        let f = artifact_filter(&params(&[("q", "labels=(3 5)")])).unwrap();
        assert_eq!((f.all_labels, f.any_label), (vec![3, 5], vec![]));
        let f = artifact_filter(&params(&[("q", "labels={3 5}")])).unwrap();
        assert_eq!((f.all_labels, f.any_label), (vec![], vec![3, 5]));
        let f = artifact_filter(&params(&[("q", "labels=7")])).unwrap();
        assert_eq!(f.all_labels, vec![7]);
        assert!(artifact_filter(&params(&[("q", "labels=()")])).is_err());
        assert!(artifact_filter(&params(&[("q", "labels=(a)")])).is_err());
        assert!(artifact_filter(&params(&[("sort", "size")])).is_err());
    }
}
