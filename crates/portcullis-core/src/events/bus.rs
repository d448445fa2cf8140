//! The in-memory event bus: best-effort events (pulls, scan outcomes) go through
//! [`EventBus::emit`] to the subscribers, each behind its own bounded queue.
//!
//! Emitting never waits: a subscriber whose queue is full misses the event, which is
//! counted and logged, so that a stalled database or receiver cannot slow a push or a
//! pull. Each subscriber also says which (project, event type) pairs it wants, so that
//! an event nobody wants (most pulls) costs one lookup and no allocation. State changes
//! that must not be lost go through the outbox instead (see [`super::outbox`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use serde::Serialize;
use tokio::sync::mpsc;

use super::{Event, EventType};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::tests::project;

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
