//! Storage quotas: Harbor's quota API, the refusal of commits over the limit, and the
//! decision to raise QUOTA_EXCEED / QUOTA_WARNING events.

use portcullis_meta::{Quota, QuotaId, QuotaQuery, QuotaUsage};
use portcullis_types::{ErrorCode, RepoName};

use super::rules::immutable_error;
use crate::access::ProjectInfo;
use crate::context::RequestCtx;
use crate::events::{Event, EventType};

use super::Policy;
use crate::access::forbidden;
use crate::error::{Error, Result};

pub use portcullis_policy::quota::format_bytes;
use portcullis_policy::quota::{valid_limit, warning_reached};

pub use crate::error::quota_exceeded_error;

/// The manifest commit a quota outcome belongs to, for its event.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    pub project: &'a ProjectInfo,
    pub repo: &'a RepoName,
    pub digest: &'a str,
    pub tag: Option<&'a str>,
    pub operator: &'a str,
}

/// A quota event for webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaEvent {
    /// A commit was refused (Harbor's QUOTA_EXCEED).
    Exceeded {
        project: String,
        hard: i64,
        used: i64,
        requested: i64,
    },
    /// A commit left usage at or above the warning threshold (Harbor's QUOTA_WARNING).
    Warning {
        project: String,
        hard: i64,
        used: i64,
    },
}

impl QuotaEvent {
    /// Harbor's event type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            QuotaEvent::Exceeded { .. } => "QUOTA_EXCEED",
            QuotaEvent::Warning { .. } => "QUOTA_WARNING",
        }
    }
}

/// Where the quota events are decided: a refused commit is always an `Exceeded` event;
/// a commit that grew usage to `warning_percent` of a finite limit or more is a
/// `Warning` (every such commit, as Harbor does, so that a full project keeps saying so).
pub fn quota_event(
    project: &str,
    outcome: std::result::Result<QuotaUsage, (i64, i64, i64)>,
    warning_percent: u8,
) -> Option<QuotaEvent> {
    match outcome {
        Err((hard, used, requested)) => Some(QuotaEvent::Exceeded {
            project: project.to_string(),
            hard,
            used,
            requested,
        }),
        Ok(u) => warning_reached(u.hard, u.before, u.after, warning_percent).then(|| {
            QuotaEvent::Warning {
                project: project.to_string(),
                hard: u.hard,
                used: u.after,
            }
        }),
    }
}

impl Policy {
    /// The client's error for a manifest commit the store refused, raising QUOTA_EXCEED
    /// when the quota was the reason.
    pub(crate) fn refused_commit(
        &self,
        commit: &Commit<'_>,
        immutable_rule: Option<i64>,
        e: portcullis_meta::Error,
    ) -> Error {
        match e {
            portcullis_meta::Error::QuotaExceeded {
                hard,
                used,
                requested,
            } => {
                self.quota_outcome(commit, Err((hard, used, requested)));
                quota_exceeded_error(hard, used, requested)
            }
            portcullis_meta::Error::Immutable(tag) => {
                immutable_error(commit.repo, &tag, immutable_rule.unwrap_or_default())
            }
            other => other.into(),
        }
    }

    /// Raises the event a commit's quota outcome calls for, if any.
    pub(crate) fn quota_outcome(
        &self,
        commit: &Commit<'_>,
        outcome: std::result::Result<QuotaUsage, (i64, i64, i64)>,
    ) {
        let warning = self.quota_warning_percent;
        if let Some(event) = quota_event(&commit.project.name, outcome, warning) {
            self.emit_quota_event(commit, event);
        }
    }

    /// Hands a quota event to the event bus (webhooks), with Harbor's `Details` text, and
    /// logs it.
    pub(crate) fn emit_quota_event(&self, commit: &Commit<'_>, event: QuotaEvent) {
        tracing::info!(event = event.event_type(), ?event, "storage quota");
        let (kind, details) = match &event {
            QuotaEvent::Exceeded {
                hard,
                used,
                requested,
                ..
            } => (
                EventType::QuotaExceed,
                quota_exceeded_error(*hard, *used, *requested).message,
            ),
            QuotaEvent::Warning { hard, used, .. } => (
                EventType::QuotaWarning,
                format!(
                    "quota usage reaches the warning threshold: {} of {} used",
                    format_bytes(*used),
                    format_bytes(*hard)
                ),
            ),
        };
        self.events.emit_with(commit.project.id, kind, || {
            Event::artifact(
                kind,
                commit.project.into(),
                commit.repo.as_str(),
                commit.digest,
                commit.tag,
                commit.operator,
            )
            .with_attribute("Details", details)
        });
    }

    /// One page of quotas (system administrators only, as in Harbor).
    pub async fn list_quotas(
        &self,
        ctx: &RequestCtx,
        query: &QuotaQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Quota>, u64)> {
        require_admin(ctx)?;
        Ok(self
            .meta
            .quotas()
            .list_quotas(query, page, page_size)
            .await?)
    }

    /// One quota (system administrators only).
    pub async fn get_quota(&self, ctx: &RequestCtx, id: i64) -> Result<Quota> {
        require_admin(ctx)?;
        self.meta
            .quotas()
            .get_quota(QuotaId(id))
            .await?
            .ok_or_else(|| quota_missing(id))
    }

    /// Sets a quota's storage limit (system administrators only): -1 or a size in bytes.
    pub async fn update_quota(&self, ctx: &RequestCtx, id: i64, hard: i64) -> Result<Quota> {
        require_admin(ctx)?;
        check_limit(hard)?;
        let q = self
            .meta
            .quotas()
            .get_quota(QuotaId(id))
            .await?
            .ok_or_else(|| quota_missing(id))?;
        self.meta
            .quotas()
            .set_quota_limit(q.project_id, hard)
            .await?;
        let (resource, project) = (q.project_name.as_str(), Some(q.project_id.0));
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "quota",
            resource,
            project,
            true,
        );
        Ok(Quota { hard, ..q })
    }
}

/// A storage limit is -1 (unlimited) or a size in bytes.
pub fn check_limit(hard: i64) -> Result<()> {
    if !valid_limit(hard) {
        return Err(Error::new(
            ErrorCode::BadRequest,
            format!("invalid storage limit {hard}: use -1 (unlimited) or a size in bytes"),
        ));
    }
    Ok(())
}

fn require_admin(ctx: &RequestCtx) -> Result<()> {
    if ctx.principal.is_sysadmin() {
        Ok(())
    } else {
        Err(forbidden(&ctx.principal))
    }
}

fn quota_missing(id: i64) -> Error {
    Error::new(ErrorCode::NotFound, format!("quota {id} not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceeded_message() {
        let e = quota_exceeded_error(1024, 1000, 1100);
        assert_eq!(e.code, ErrorCode::Denied);
        assert_eq!(
            e.message,
            "Quota exceeded when processing the request of adding 100B of storage resource, \
             which when updated to current usage of 1000B will exceed the configured upper \
             limit of 1KiB."
        );
    }

    #[test]
    fn events() {
        let usage = |hard, before, after| QuotaUsage {
            hard,
            before,
            after,
        };
        assert!(quota_event("p", Ok(usage(-1, 0, 10_000)), 85).is_none());
        assert!(quota_event("p", Ok(usage(100, 0, 84)), 85).is_none());
        assert_eq!(
            quota_event("p", Ok(usage(100, 0, 85)), 85).map(|e| e.event_type()),
            Some("QUOTA_WARNING")
        );
        // Deletes and re-pushes that add nothing stay quiet.
        assert!(quota_event("p", Ok(usage(100, 90, 90)), 85).is_none());
        assert!(quota_event("p", Ok(usage(100, 95, 90)), 85).is_none());
        assert_eq!(
            quota_event("p", Err((100, 90, 120)), 85).map(|e| e.event_type()),
            Some("QUOTA_EXCEED")
        );
    }
}
