//! `/schedules` and `/schedules/{job_type}/paused`: the periodic jobs of the durable
//! runner. Schedules are never paused as a whole here (there is no pause), so `paused`
//! is always false, and says so truthfully.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use portcullis_core::Registry;

use super::{Acting, Paging, harbor_time};
use crate::error::ApiResult;

pub async fn list(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = Paging::from_params(&params)?;
    let all = portcullis_core::schedules::list(&reg.meta, &ctx).await?;
    let total = all.len() as u64;
    let body: Vec<_> = paging
        .window(&all)
        .map(|s| {
            serde_json::json!({
                "id": s.id.0,
                "vendor_type": portcullis_core::schedules::vendor_type(s),
                "vendor_id": 0,
                "cron": s.cron,
                "update_time": harbor_time(s.updated_at),
            })
        })
        .collect();
    let mut resp = Json(body).into_response();
    paging.headers(&mut resp, "/api/v2.0/schedules", "", total);
    Ok(resp)
}

pub async fn paused(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(_job_type): Path<String>,
) -> ApiResult<Response> {
    portcullis_core::schedules::list(&reg.meta, &ctx).await?;
    Ok(Json(serde_json::json!({ "paused": false })).into_response())
}
