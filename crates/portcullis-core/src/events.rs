//! The event bus: every registry event goes through [`EventBus::emit`] to the subscribers
//! (webhook delivery today), each behind its own bounded queue.
//!
//! Emitting never waits: a subscriber whose queue is full misses the event, which is
//! counted and logged, so that a stalled database or receiver cannot slow a push or a
//! pull. Each subscriber also says which (project, event type) pairs it wants, so that
//! an event nobody wants (most pulls) costs one lookup and no allocation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// Harbor's webhook event types, all of them (some are emitted by features that come later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventResource {
    pub digest: String,
    /// The tag used, when there was one.
    pub tag: Option<String>,
    /// Harbor's scan overview (scan events), keyed by report media type.
    pub scan_overview: Option<serde_json::Value>,
}

/// One thing that happened in the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
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

    /// Names the request that caused the event.
    pub fn with_request_id(mut self, id: Option<String>) -> Event {
        self.request_id = id;
        self
    }
}

/// Decides cheaply whether a subscriber wants events of a type in a project.
pub type Interest = Arc<dyn Fn(i64, EventType) -> bool + Send + Sync>;

struct Sink {
    name: &'static str,
    tx: mpsc::Sender<Arc<Event>>,
    interest: Interest,
    capacity: usize,
    dropped: AtomicU64,
}

impl Sink {
    fn dropped(&self, kind: EventType) {
        let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        // One line per power of two keeps a flood from flooding the log too.
        if n.is_power_of_two() {
            tracing::warn!(subscriber = self.name, event = %kind, dropped = n,
                "event queue full; event dropped");
        }
    }
}

/// Counters of one subscriber, for metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    pub name: &'static str,
    /// Events waiting in its queue.
    pub backlog: u64,
    pub capacity: u64,
    /// Events it missed because its queue was full.
    pub dropped: u64,
}

/// The bus. Subscribers are added at start-up; emitting is lock-free in practice (a read
/// lock nobody writes after start-up).
#[derive(Default)]
pub struct EventBus {
    sinks: RwLock<Vec<Arc<Sink>>>,
    emitted: AtomicU64,
}

impl EventBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a subscriber with a queue of `capacity` events and returns its receiving end.
    pub fn subscribe(
        &self,
        name: &'static str,
        capacity: usize,
        interest: Interest,
    ) -> mpsc::Receiver<Arc<Event>> {
        let capacity = capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        self.sinks.write().push(Arc::new(Sink {
            name,
            tx,
            interest,
            capacity,
            dropped: AtomicU64::new(0),
        }));
        rx
    }

    /// Whether any subscriber wants `kind` events of `project`.
    pub fn wants(&self, project: i64, kind: EventType) -> bool {
        self.sinks
            .read()
            .iter()
            .any(|s| (s.interest)(project, kind))
    }

    /// Hands `event` to every subscriber that wants it. Never waits.
    pub fn emit(&self, event: Event) {
        let (project, kind) = (event.project.id, event.kind);
        self.emit_with(project, kind, move || event);
    }

    /// Like [`EventBus::emit`], but builds the event only when someone wants it (the
    /// pull path uses this, so that unwatched pulls allocate nothing).
    pub fn emit_with(&self, project: i64, kind: EventType, build: impl FnOnce() -> Event) {
        let sinks = self.sinks.read();
        let mut event: Option<Arc<Event>> = None;
        let mut build = Some(build);
        for sink in sinks.iter().filter(|s| (s.interest)(project, kind)) {
            self.emitted.fetch_add(1, Ordering::Relaxed);
            // A full queue drops the event: do not build it only to drop it.
            if sink.tx.capacity() == 0 {
                sink.dropped(kind);
                continue;
            }
            let e = match (&event, build.take()) {
                (Some(e), _) => e.clone(),
                (None, Some(b)) => event.insert(Arc::new(b())).clone(),
                (None, None) => return,
            };
            if sink.tx.try_send(e).is_err() {
                sink.dropped(kind);
            }
        }
    }

    /// Events handed to subscribers since start.
    pub fn emitted(&self) -> u64 {
        self.emitted.load(Ordering::Relaxed)
    }

    /// Each subscriber's backlog and drop count.
    pub fn stats(&self) -> Vec<SinkStats> {
        self.sinks
            .read()
            .iter()
            .map(|s| SinkStats {
                name: s.name,
                backlog: (s.capacity - s.tx.capacity()) as u64,
                capacity: s.capacity as u64,
                dropped: s.dropped.load(Ordering::Relaxed),
            })
            .collect()
    }
}

impl crate::registry::Registry {
    /// Emits an artifact event; nothing is built unless a subscriber wants it (pulls).
    #[allow(clippy::too_many_arguments)]
    pub fn artifact_event(
        &self,
        kind: EventType,
        project: &crate::ProjectInfo,
        repository: &str,
        digest: &str,
        tag: Option<&str>,
        operator: &str,
        host: Option<&str>,
    ) {
        self.events.emit_with(project.id, kind, || {
            Event::artifact(kind, project.into(), repository, digest, tag, operator)
                .with_host(host.map(str::to_string))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> EventProject {
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

    #[tokio::test]
    async fn only_wanted_events_are_built_and_full_queues_drop() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe(
            "test",
            1,
            Arc::new(|p, k| p == 7 && k == EventType::PushArtifact),
        );
        bus.emit_with(7, EventType::PullArtifact, || panic!("nobody wants pulls"));
        assert!(!bus.wants(8, EventType::PushArtifact));
        let push = || {
            Event::artifact(
                EventType::PushArtifact,
                project(),
                "lib/a",
                "sha256:00",
                Some("1"),
                "admin",
            )
        };
        bus.emit(push());
        bus.emit(push());
        let stats = bus.stats();
        assert_eq!((stats[0].backlog, stats[0].dropped), (1, 1));
        let got = rx.recv().await.unwrap();
        assert_eq!(got.resources[0].tag.as_deref(), Some("1"));
        assert_eq!(bus.emitted(), 2);
    }
}
