//! The audit purge schedule (`/api/v2.0/system/purgeaudit/schedule`): a cron row of the
//! durable job runner, kind `purge-audit`, whose payload carries Harbor's parameters.

use portcullis_meta::NewSchedule;
use portcullis_types::ErrorCode;

use crate::error::{Error, Result};

/// Name and job kind of the schedule.
pub const PURGE_AUDIT: &str = "purge-audit";

/// Harbor's schedule types as cron expressions (seconds first, UTC).
pub fn cron_of(kind: &str, custom: Option<&str>) -> Result<Option<String>> {
    Ok(Some(match kind {
        "Hourly" => "0 0 * * * *".to_string(),
        "Daily" => "0 0 0 * * *".to_string(),
        "Weekly" => "0 0 0 * * 0".to_string(),
        "Custom" => {
            let c = custom.filter(|c| !c.trim().is_empty()).ok_or_else(|| {
                Error::new(
                    ErrorCode::BadRequest,
                    "a Custom schedule needs a cron expression",
                )
            })?;
            portcullis_jobs::validate_cron(c).map_err(|e| {
                Error::new(
                    ErrorCode::BadRequest,
                    format!("invalid cron expression {c:?}: {e}"),
                )
            })?;
            c.to_string()
        }
        "None" | "Manual" => return Ok(None),
        other => {
            return Err(Error::new(
                ErrorCode::BadRequest,
                format!("unknown schedule type {other:?}"),
            ));
        }
    }))
}

/// The default: daily, keeping what the retention setting says.
pub fn default_schedule(retention_days: u32) -> NewSchedule {
    let cron = "0 0 3 * * *";
    NewSchedule {
        name: PURGE_AUDIT.into(),
        kind: PURGE_AUDIT.into(),
        payload: serde_json::json!({ "audit_retention_hour": u64::from(retention_days) * 24 }),
        cron: cron.into(),
        max_attempts: 3,
        enabled: retention_days > 0,
        next_run_at: portcullis_jobs::next_run_after(cron, time::OffsetDateTime::now_utc())
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc()),
    }
}

/// Harbor's purge parameters: `audit_retention_hour`, and which operations to purge from
/// `include_operations` (`create,delete,pull`) or, as newer Harbor clients send it,
/// `include_event_types` (`create_artifact,pull_artifact,…`, whose operation is the part
/// before the first `_`). `None` for either means "not given".
pub fn purge_parameters(params: &serde_json::Value) -> (Option<u64>, Option<Vec<String>>) {
    let hours = params
        .get("audit_retention_hour")
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
    let list = |key: &str| {
        params
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.split(',').map(str::trim).filter(|o| !o.is_empty()))
    };
    let ops = match list("include_operations") {
        Some(ops) => Some(ops.map(str::to_string).collect::<Vec<_>>()),
        None => list("include_event_types").map(|types| {
            let mut ops: Vec<String> = types
                .map(|t| t.split('_').next().unwrap_or(t).to_string())
                .collect();
            ops.sort();
            ops.dedup();
            ops
        }),
    };
    (hours, ops)
}

/// Harbor's `dry_run` purge parameter: count what would go, remove nothing.
pub fn purge_dry_run(params: &serde_json::Value) -> bool {
    match params.get("dry_run") {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[cfg(test)]
mod parameter_tests {
    use super::purge_parameters;

    #[test]
    fn both_spellings_of_the_operations() {
        let (h, ops) = purge_parameters(&serde_json::json!({
            "audit_retention_hour": "48", "include_operations": "pull, delete" }));
        assert_eq!(h, Some(48));
        assert_eq!(ops.unwrap(), ["pull", "delete"]);
        let (h, ops) = purge_parameters(&serde_json::json!({
            "audit_retention_hour": 2,
            "include_event_types": "create_artifact,delete_artifact,pull_artifact,delete_tag" }));
        assert_eq!(h, Some(2));
        assert_eq!(ops.unwrap(), ["create", "delete", "pull"]);
        assert_eq!(purge_parameters(&serde_json::json!({})), (None, None));
    }
}
