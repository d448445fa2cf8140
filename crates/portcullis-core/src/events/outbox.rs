//! The durable half of events. A state change writes its events to the outbox in its own
//! transaction ([`Outbox::record`]); after commit the writer hands them to the durable
//! subscribers at once ([`Outbox::hand_over`]), and a background dispatcher takes up
//! whatever a writer could not finish (it crashed, the database was down), once the
//! writer's lease has run out.
//!
//! Each subscriber adds its database effects (audit rows, webhook deliveries) to the
//! event's [`OutboxEffects`], which are written in the transaction that deletes the event:
//! exactly once. Effects outside that transaction (queueing a scan) happen while the
//! subscriber handles the event and must be idempotent, since after a crash an event can
//! be handed over again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use parking_lot::RwLock;
use portcullis_meta::{EventWrites, MetaStore, NewOutboxEvent, OutboxEffects, OutboxEvent};
use serde::Serialize;
use tokio::sync::Notify;

use super::Event;

/// Events the background dispatcher claims per round.
const BATCH: u32 = 100;
/// How long a claimed event is kept from other dispatchers.
const LEASE: Duration = Duration::from_secs(60);
/// How often the background dispatcher looks for events left by writers.
const POLL: Duration = Duration::from_secs(1);
/// The longest wait before an event whose subscribers failed is tried again.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Handovers after which a subscriber that keeps failing is passed over for an event, so
/// that it cannot hold back the others' effects for ever (about half an hour of retries).
const MAX_ATTEMPTS: u32 = 12;

/// An event to put back: its id and how many times it was claimed.
type Retry = (String, u32);

/// A subscriber that must see every state change.
pub trait DurableSubscriber: Send + Sync {
    fn name(&self) -> &'static str;

    /// Effects written in the change's own transaction: pure functions of the event (the
    /// audit entry), which need no handover.
    fn at_commit(&self, _event: &Event, _writes: &mut EventWrites) {}

    /// Whether [`DurableSubscriber::handle`] has work for `event` after commit. An event
    /// no subscriber wants gets no outbox row, so a push that triggers nothing costs one
    /// transaction. When unsure, say yes.
    fn wants<'a>(&'a self, _event: &'a Event) -> BoxFuture<'a, bool> {
        Box::pin(std::future::ready(true))
    }

    /// Handles `event`: database writes go into `effects` (committed with the event's
    /// completion); anything else happens here and must be idempotent. An error leaves
    /// the event pending, to be handed over again later.
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        effects: &'a mut OutboxEffects,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// Counters of the outbox, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxStats {
    /// Events completed by the request that wrote them.
    pub handed_over: u64,
    /// Events completed by the background dispatcher (after a crash or a failure).
    pub recovered: u64,
    /// Handovers that failed and were put back.
    pub failed: u64,
}

/// The outbox service: records events, hands them over, and runs the dispatcher.
pub struct Outbox {
    meta: MetaStore,
    subscribers: RwLock<Vec<Arc<dyn DurableSubscriber>>>,
    wake: Notify,
    handed_over: AtomicU64,
    recovered: AtomicU64,
    failed: AtomicU64,
}

impl Outbox {
    pub fn new(meta: MetaStore) -> Arc<Self> {
        Arc::new(Outbox {
            meta,
            subscribers: RwLock::new(Vec::new()),
            wake: Notify::new(),
            handed_over: AtomicU64::new(0),
            recovered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    /// Adds a durable subscriber. All of them are added before [`Outbox::start`], so that
    /// events left by a crash reach every one.
    pub fn subscribe(&self, s: Arc<dyn DurableSubscriber>) {
        self.subscribers.write().push(s);
    }

    /// The outbox row of `event`, to be written in the transaction of its change.
    pub fn record(event: &Event) -> NewOutboxEvent {
        NewOutboxEvent {
            event_id: event.id.clone(),
            kind: event.kind.as_str().to_string(),
            project_id: event.project.id,
            // An event is plain data: serialising it cannot fail.
            payload: serde_json::to_string(event).unwrap_or_default(),
        }
    }

    /// What `events` write in their change's transaction (their subscribers' effects at
    /// commit, and an outbox row for each event some subscriber has work for after
    /// commit), and the events to hand over once it committed.
    pub async fn prepare(&self, events: Vec<Event>) -> (EventWrites, Vec<Event>) {
        let subscribers = self.subscribers.read().clone();
        let mut writes = EventWrites::default();
        let mut after = Vec::new();
        for event in events {
            let mut wanted = false;
            for s in &subscribers {
                s.at_commit(&event, &mut writes);
                wanted = wanted || s.wants(&event).await;
            }
            if wanted {
                writes.outbox.push(Self::record(&event));
                after.push(event);
            }
        }
        (writes, after)
    }

    /// Hands events whose change just committed to the subscribers. The writer holds
    /// their lease, so no other dispatcher competes; whatever fails here is put back for
    /// the background dispatcher.
    pub async fn hand_over(&self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        let (done, failed) = self.effects(events.iter().map(|e| (e, 1))).await;
        let n = self.complete(done, failed).await;
        self.handed_over.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Runs subscribers over events, returning the effects of those all subscribers
    /// handled and the ids and attempt counts of the others.
    async fn effects<'a>(
        &self,
        events: impl Iterator<Item = (&'a Event, u32)>,
    ) -> (Vec<OutboxEffects>, Vec<Retry>) {
        let subscribers = self.subscribers.read().clone();
        let mut done = Vec::new();
        let mut failed = Vec::new();
        'events: for (event, attempts) in events {
            let mut effects = OutboxEffects {
                event_id: event.id.clone(),
                ..Default::default()
            };
            for s in &subscribers {
                let Err(e) = s.handle(event, &mut effects).await else {
                    continue;
                };
                if attempts >= MAX_ATTEMPTS {
                    tracing::error!(subscriber = s.name(), event = %event.kind, id = %event.id,
                        attempts, error = %e, "a durable subscriber keeps failing; \
                        the event is completed without it");
                    continue;
                }
                tracing::warn!(subscriber = s.name(), event = %event.kind, id = %event.id,
                    error = %e, "a durable subscriber failed; the event stays pending");
                failed.push((event.id.clone(), attempts));
                continue 'events;
            }
            done.push(effects);
        }
        (done, failed)
    }

    /// Writes the effects of `done` and puts `failed` back with a backoff. Returns how
    /// many events were completed.
    async fn complete(&self, done: Vec<OutboxEffects>, mut failed: Vec<Retry>) -> usize {
        let mut completed = 0;
        if !done.is_empty() {
            match self.meta.outbox().complete_outbox(&done).await {
                Ok(n) => completed = n,
                Err(e) => {
                    tracing::warn!(error = %e, events = done.len(),
                        "completing events failed; they stay pending");
                    failed.extend(done.into_iter().map(|d| (d.event_id, 1)));
                }
            }
        }
        for (id, attempts) in failed {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let backoff = Duration::from_secs(1u64 << attempts.min(9)).min(MAX_BACKOFF);
            if let Err(e) = self.meta.outbox().release_outbox(&[id], backoff).await {
                tracing::warn!(error = %e, "putting an event back failed; its lease will expire");
            }
        }
        completed
    }

    /// Starts the background dispatcher, which takes up events no writer completed.
    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let outbox = self.clone();
        tokio::spawn(async move {
            loop {
                let n = outbox.recover().await;
                if n < BATCH as usize {
                    tokio::select! {
                        _ = outbox.wake.notified() => {}
                        _ = tokio::time::sleep(POLL) => {}
                    }
                }
            }
        })
    }

    /// One round of the background dispatcher; returns how many events it claimed.
    pub async fn recover(&self) -> usize {
        let claimed = match self.meta.outbox().claim_outbox(BATCH, LEASE).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "claiming pending events failed");
                return 0;
            }
        };
        let n = claimed.len();
        if n == 0 {
            return 0;
        }
        let (events, undecodable) = decode(claimed);
        let (done, mut failed) = self.effects(events.iter().map(|(e, a)| (e, *a))).await;
        failed.extend(undecodable);
        let completed = self.complete(done, failed).await;
        self.recovered
            .fetch_add(completed as u64, Ordering::Relaxed);
        n
    }

    /// Wakes the background dispatcher (after a failed handover, or in tests).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn stats(&self) -> OutboxStats {
        OutboxStats {
            handed_over: self.handed_over.load(Ordering::Relaxed),
            recovered: self.recovered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// Events of claimed rows; a row that does not decode (written by another version) is
/// put back with its attempt count, and logged, rather than dropped.
fn decode(rows: Vec<OutboxEvent>) -> (Vec<(Event, u32)>, Vec<Retry>) {
    let mut events = Vec::with_capacity(rows.len());
    let mut bad = Vec::new();
    for row in rows {
        match serde_json::from_str::<Event>(&row.payload) {
            Ok(e) => events.push((e, row.attempts)),
            Err(e) => {
                tracing::error!(id = %row.event_id, kind = %row.kind, error = %e,
                    "a pending event cannot be read");
                bad.push((row.event_id, row.attempts));
            }
        }
    }
    (events, bad)
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use crate::events::{EventProject, EventType};

    pub(super) fn push(n: u32) -> Event {
        let project = EventProject {
            id: 1,
            name: "library".into(),
            public: true,
        };
        Event::artifact(
            EventType::PushArtifact,
            project,
            "library/app",
            &format!("sha256:{n:064}"),
            None,
            "admin",
        )
        .audited("create", "artifact", &format!("library/app:{n}"))
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::push;
    use std::sync::atomic::AtomicBool;

    use parking_lot::Mutex;

    use super::*;

    /// Records the events it sees; fails while `failing` is set.
    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<String>>,
        failing: AtomicBool,
    }

    impl DurableSubscriber for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }

        fn handle<'a>(
            &'a self,
            event: &'a Event,
            effects: &'a mut OutboxEffects,
        ) -> BoxFuture<'a, anyhow::Result<()>> {
            Box::pin(async move {
                if self.failing.load(Ordering::SeqCst) {
                    anyhow::bail!("down");
                }
                self.seen.lock().push(event.id.clone());
                effects.audit.extend(crate::events::audit::entry_of(event));
                Ok(())
            })
        }
    }

    async fn store() -> (tempfile::TempDir, MetaStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("meta.db").display());
        (dir, MetaStore::connect(&url).await.unwrap())
    }

    #[tokio::test]
    async fn events_a_crash_left_are_recovered_once_with_their_effects() {
        let (_dir, meta) = store().await;
        // The writer committed two events and died before handing them over.
        let events = [push(1), push(2)];
        let rows: Vec<_> = events.iter().map(Outbox::record).collect();
        meta.outbox().insert_outbox(&rows).await.unwrap();
        let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();

        // A new process: nothing is taken while the dead writer's lease runs.
        let outbox = Outbox::new(meta.clone());
        let rec = Arc::new(Recorder::default());
        outbox.subscribe(rec.clone());
        assert_eq!(outbox.recover().await, 0);

        // The lease runs out; a failing subscriber keeps the events pending.
        meta.outbox()
            .release_outbox(&ids, Duration::ZERO)
            .await
            .unwrap();
        rec.failing.store(true, Ordering::SeqCst);
        assert_eq!(outbox.recover().await, 2);
        assert_eq!(meta.outbox().outbox_backlog().await.unwrap().pending, 2);
        assert_eq!(outbox.stats().failed, 2);

        // Once it works again, each event is handled and completed with its audit entry.
        rec.failing.store(false, Ordering::SeqCst);
        meta.outbox()
            .release_outbox(&ids, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(outbox.recover().await, 2);
        assert_eq!(*rec.seen.lock(), ids);
        assert_eq!(meta.outbox().outbox_backlog().await.unwrap().pending, 0);
        assert_eq!(outbox.stats().recovered, 2);
        let (entries, total) = meta
            .audit()
            .list_audit(&Default::default(), 1, 10)
            .await
            .unwrap();
        assert_eq!(total, 2);
        assert!(entries.iter().all(|e| e.username == "admin" && e.success));
    }

    #[tokio::test]
    async fn a_handover_completes_at_once_and_leaves_nothing_to_recover() {
        let (_dir, meta) = store().await;
        let e = push(3);
        meta.outbox()
            .insert_outbox(&[Outbox::record(&e)])
            .await
            .unwrap();
        let outbox = Outbox::new(meta.clone());
        let rec = Arc::new(Recorder::default());
        outbox.subscribe(rec.clone());
        outbox.hand_over(std::slice::from_ref(&e)).await;
        assert_eq!(outbox.stats().handed_over, 1);
        assert_eq!(meta.outbox().outbox_backlog().await.unwrap().pending, 0);
        // Handing the same event over again (a slow writer racing recovery) adds nothing.
        outbox.hand_over(std::slice::from_ref(&e)).await;
        let (_, total) = meta
            .audit()
            .list_audit(&Default::default(), 1, 10)
            .await
            .unwrap();
        assert_eq!(total, 1);
    }
}

#[cfg(test)]
mod prepare_tests {
    use super::tests_support::push;
    use super::*;

    #[tokio::test]
    async fn an_event_nobody_has_work_for_gets_no_outbox_row() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("meta.db").display());
        let outbox = Outbox::new(MetaStore::connect(&url).await.unwrap());
        outbox.subscribe(Arc::new(crate::events::audit::AuditSubscriber));
        let (writes, after) = outbox.prepare(vec![push(1)]).await;
        assert_eq!(
            (writes.outbox.len(), writes.audit.len(), after.len()),
            (0, 1, 0)
        );
        assert_eq!(writes.audit[0].resource, "library/app:1");
    }
}
