//! Harbor's security hub: `/security/summary` and `/security/vul`, over every
//! artifact's latest vulnerability report (system admins only).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use portcullis_core::Registry;

use super::params::flag;
use super::{Acting, Paging};
use crate::error::ApiResult;

pub async fn summary(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let cves = flag(&params, "with_dangerous_cve", false)?;
    let artifacts = flag(&params, "with_dangerous_artifact", false)?;
    Ok(Json(reg.scanning.security_summary(&ctx, cves, artifacts).await?).into_response())
}

pub async fn vulnerabilities(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = Paging::from_params(&params)?;
    let with_tag = flag(&params, "with_tag", false)?;
    // Harbor's tune_count trades an exact total for speed; the total here is exact.
    flag(&params, "tune_count", false)?;
    let q = portcullis_core::scanning::hub::vul_query(
        params.get("q").map(String::as_str).unwrap_or(""),
    )?;
    let (list, total) = reg
        .scanning
        .security_vulnerabilities(&ctx, &q, paging.page, paging.page_size)
        .await?;
    let body: Vec<_> = list
        .iter()
        .map(|f| {
            let mut v = serde_json::json!({
                "project_id": f.project_id,
                "repository_name": f.repository,
                "digest": f.digest,
                "cve_id": f.cve,
                "severity": f.severity,
                "cvss_v3_score": f.cvss_v3.unwrap_or(0.0),
                "package": f.package,
                "version": f.version,
                "fixed_version": f.fix_version,
                "desc": f.description,
                "links": f.links,
            });
            if with_tag {
                v["tags"] = f.tags.clone().into();
            }
            v
        })
        .collect();
    let mut resp = Json(body).into_response();
    paging.headers(
        &mut resp,
        "/api/v2.0/security/vul",
        &super::kept_query(&params, &["q", "with_tag"]),
        total,
    );
    Ok(resp)
}
