//! The durable runner's schedules as Harbor's `/schedules` lists them: which periodic
//! jobs exist and their cron, for system admins.

use portcullis_meta::{MetaStore, Schedule};

use crate::context::RequestCtx;
use crate::error::Result;

/// Harbor's vendor type of a schedule (`SCAN_ALL`, `PURGE_AUDIT_LOG`, …); jobs Harbor
/// has no name for keep theirs, upper-cased.
pub fn vendor_type(s: &Schedule) -> String {
    match s.kind.as_str() {
        "scan-all" => "SCAN_ALL".into(),
        "purge-audit" => "PURGE_AUDIT_LOG".into(),
        other => other.replace('-', "_").to_ascii_uppercase(),
    }
}

/// Every enabled schedule (needs a system admin).
pub async fn list(meta: &MetaStore, ctx: &RequestCtx) -> Result<Vec<Schedule>> {
    if !ctx.principal.is_sysadmin() {
        return Err(crate::access::forbidden(&ctx.principal));
    }
    Ok(meta
        .schedules()
        .list_schedules()
        .await?
        .into_iter()
        .filter(|s| s.enabled)
        .collect())
}
