//! Events: what happened in the registry, and the two ways it reaches subscribers.
//!
//! - State changes (pushes, deletes) are durable: the change writes its events to the
//!   outbox in its own transaction, and [`outbox::Outbox`] hands them to the durable
//!   subscribers (audit log, webhooks, scan on push) after commit, at least once.
//! - Pulls and other high-rate, best-effort events go through the in-memory
//!   [`bus::EventBus`], which never slows the request that emits them.

pub(crate) mod audit;
pub mod bus;
pub mod outbox;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use bus::{EventBus, Interest, SinkStats};
pub use outbox::{DurableSubscriber, Outbox};

/// Harbor's webhook event types, all of them (some are emitted by features that come later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    PushArtifact,
    PullArtifact,
    DeleteArtifact,
    QuotaExceed,
    QuotaWarning,
    ScanningFailed,
    ScanningStopped,
    ScanningCompleted,
    Replication,
    TagRetention,
}

impl EventType {
    /// Every type, in the order Harbor lists them.
    pub const ALL: [EventType; 10] = [
        EventType::DeleteArtifact,
        EventType::PullArtifact,
        EventType::PushArtifact,
        EventType::QuotaExceed,
        EventType::QuotaWarning,
        EventType::Replication,
        EventType::ScanningFailed,
        EventType::ScanningStopped,
        EventType::ScanningCompleted,
        EventType::TagRetention,
    ];

    /// Harbor's name (`PUSH_ARTIFACT`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PushArtifact => "PUSH_ARTIFACT",
            EventType::PullArtifact => "PULL_ARTIFACT",
            EventType::DeleteArtifact => "DELETE_ARTIFACT",
            EventType::QuotaExceed => "QUOTA_EXCEED",
            EventType::QuotaWarning => "QUOTA_WARNING",
            EventType::ScanningFailed => "SCANNING_FAILED",
            EventType::ScanningStopped => "SCANNING_STOPPED",
            EventType::ScanningCompleted => "SCANNING_COMPLETED",
            EventType::Replication => "REPLICATION",
            EventType::TagRetention => "TAG_RETENTION",
        }
    }

    /// The CloudEvents `type` Harbor uses for it.
    pub fn cloudevents_type(self) -> &'static str {
        match self {
            EventType::PushArtifact => "harbor.artifact.pushed",
            EventType::PullArtifact => "harbor.artifact.pulled",
            EventType::DeleteArtifact => "harbor.artifact.deleted",
            EventType::QuotaExceed => "harbor.quota.exceeded",
            EventType::QuotaWarning => "harbor.quota.warned",
            EventType::ScanningFailed => "harbor.scan.failed",
            EventType::ScanningStopped => "harbor.scan.stopped",
            EventType::ScanningCompleted => "harbor.scan.completed",
            EventType::Replication => "harbor.replication.status.changed",
            EventType::TagRetention => "harbor.tag_retention.finished",
        }
    }

    /// The type named `s` (Harbor's spelling).
    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The project an event happened in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventProject {
    pub id: i64,
    pub name: String,
    pub public: bool,
}

impl From<&crate::ProjectInfo> for EventProject {
    fn from(p: &crate::ProjectInfo) -> Self {
        EventProject {
            id: p.id,
            name: p.name.clone(),
            public: p.public,
        }
    }
}

/// An artifact an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EventResource {
    pub digest: String,
    /// The tag used, when there was one.
    pub tag: Option<String>,
    /// Harbor's scan overview (scan events), keyed by report media type.
    pub scan_overview: Option<serde_json::Value>,
}

/// One thing that happened in the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique: durable subscribers act on an event once, whatever the number of handovers.
    pub id: String,
    pub kind: EventType,
    pub occur_at: OffsetDateTime,
    /// Username of whoever caused it (`anonymous`, a robot's name, or a system actor).
    pub operator: String,
    pub project: EventProject,
    /// Full repository name (`project/path`); empty for project-wide events.
    pub repository: String,
    pub resources: Vec<EventResource>,
    /// Harbor's `custom_attributes` (quota details, replication and retention summaries).
    pub custom_attributes: BTreeMap<String, String>,
    /// The request that caused it, when there was one (CloudEvents `requestid`).
    pub request_id: Option<String>,
    /// Host (and port) the client reached the registry at, for `resource_url` when no
    /// external URL is configured.
    pub host: Option<String>,
    /// Address of the client that caused it (the audit log records it).
    #[serde(default)]
    pub client_ip: Option<String>,
    /// How the audit log records the action, for events it records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditNote>,
}

/// How the audit log names an event's action (Harbor's operation, resource type and
/// resource), decided by the service that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditNote {
    pub operation: String,
    pub resource_type: String,
    pub resource: String,
}

impl Event {
    /// An artifact event (push, pull, delete, scan): one resource in `repository`.
    pub fn artifact(
        kind: EventType,
        project: EventProject,
        repository: &str,
        digest: &str,
        tag: Option<&str>,
        operator: &str,
    ) -> Event {
        Event {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            occur_at: OffsetDateTime::now_utc(),
            operator: operator.to_string(),
            project,
            repository: repository.to_string(),
            resources: vec![EventResource {
                digest: digest.to_string(),
                tag: tag.map(str::to_string),
                scan_overview: None,
            }],
            custom_attributes: BTreeMap::new(),
            request_id: crate::request_id::current(),
            host: None,
            client_ip: None,
            audit: None,
        }
    }

    /// Adds Harbor's scan overview to every resource (scan events).
    pub fn with_scan_overview(mut self, overview: serde_json::Value) -> Event {
        for r in &mut self.resources {
            r.scan_overview = Some(overview.clone());
        }
        self
    }

    /// Adds a custom attribute (Harbor puts quota details under `details`).
    pub fn with_attribute(mut self, key: &str, value: impl Into<String>) -> Event {
        self.custom_attributes.insert(key.to_string(), value.into());
        self
    }

    /// Records the host the client used.
    pub fn with_host(mut self, host: Option<String>) -> Event {
        self.host = host;
        self
    }

    /// Records who caused the event, from where, through which request and host.
    pub fn caused_by(mut self, ctx: &crate::RequestCtx) -> Event {
        self.operator = ctx.actor.clone();
        self.client_ip = Some(ctx.client_ip.clone());
        self.host = ctx.host.clone();
        if ctx.request_id.is_some() {
            self.request_id = ctx.request_id.clone();
        }
        self
    }

    /// Has the audit log record the event as `operation` on `resource`.
    pub fn audited(mut self, operation: &str, resource_type: &str, resource: &str) -> Event {
        self.audit = Some(AuditNote {
            operation: operation.into(),
            resource_type: resource_type.into(),
            resource: resource.into(),
        });
        self
    }

    /// Names the request that caused the event.
    pub fn with_request_id(mut self, id: Option<String>) -> Event {
        self.request_id = id;
        self
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn project() -> EventProject {
        EventProject {
            id: 7,
            name: "lib".into(),
            public: true,
        }
    }

    #[test]
    fn names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert!(t.cloudevents_type().starts_with("harbor."));
        }
        assert_eq!(EventType::parse("PUSH_IMAGE"), None);
    }

    #[test]
    fn events_survive_the_outbox() {
        let e = Event::artifact(
            EventType::PushArtifact,
            project(),
            "lib/a",
            "sha256:00",
            Some("1"),
            "admin",
        )
        .with_attribute("k", "v")
        .audited("create", "artifact", "lib/a:1");
        let row = Outbox::record(&e);
        assert_eq!((row.kind.as_str(), row.project_id), ("PUSH_ARTIFACT", 7));
        let back: Event = serde_json::from_str(&row.payload).unwrap();
        assert_eq!(back, e);
        assert_ne!(
            Event::artifact(EventType::PushArtifact, project(), "lib/a", "x", None, "a").id,
            e.id
        );
    }
}
