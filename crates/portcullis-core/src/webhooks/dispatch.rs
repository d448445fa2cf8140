//! Turns events into durable deliveries, off the request path: a background task takes
//! events from the bus in batches, matches them against the cached policies, renders one
//! body per target and writes executions, tasks and their jobs in one transaction.
//!
//! This path carries the best-effort events of the in-memory bus (pulls, scan outcomes):
//! one still in the queue when the process dies is lost, as in Harbor, whose notification
//! queue lives in memory too. Pushes and deletes come through the outbox instead
//! ([`super::durable`]), rendered by the same [`Renderer`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use portcullis_meta::{MetaStore, NewWebhookDelivery, NewWebhookTask, WebhookPolicy};
use portcullis_types::RepoName;
use tokio::sync::{mpsc, oneshot};

use super::cache::PolicyCache;
use super::payload::{self, CLOUDEVENTS_CONTENT_TYPE, Context};
use crate::events::Event;

/// Events written per transaction at most.
const BATCH: usize = 256;

/// Settings of webhook delivery.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Attempts per delivery (Harbor: 3).
    pub max_attempts: u32,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Events waiting for the dispatcher at most; more are dropped and counted.
    pub backlog: usize,
    /// How often policies are reloaded (changes made on other nodes).
    pub refresh: Duration,
    /// Host clients pull from, for `resource_url`, when events do not carry one.
    pub host: Option<String>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            max_attempts: 3,
            timeout: Duration::from_secs(3),
            backlog: 10_000,
            refresh: Duration::from_secs(5),
            host: None,
        }
    }
}

/// Asks the dispatcher to write everything queued so far.
pub(crate) type FlushRequest = oneshot::Sender<()>;

pub(crate) fn start(
    renderer: Arc<Renderer>,
    mut events: mpsc::Receiver<Arc<Event>>,
) -> mpsc::Sender<FlushRequest> {
    let (flush_tx, mut flush_rx) = mpsc::channel::<FlushRequest>(16);
    tokio::spawn(async move {
        let r = renderer;
        r.ensure_loaded().await;
        let mut refresh = tokio::time::interval(r.settings.refresh);
        let mut buf = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                n = events.recv_many(&mut buf, BATCH) => {
                    if n == 0 { break; }
                    write(&r, std::mem::take(&mut buf)).await;
                }
                Some(done) = flush_rx.recv() => {
                    while let Ok(e) = events.try_recv() {
                        buf.push(e);
                        if buf.len() >= BATCH {
                            write(&r, std::mem::take(&mut buf)).await;
                        }
                    }
                    write(&r, std::mem::take(&mut buf)).await;
                    let _ = done.send(());
                }
                _ = refresh.tick() => r.reload().await,
            }
        }
    });
    flush_tx
}

async fn write(r: &Renderer, events: Vec<Arc<Event>>) {
    if events.is_empty() {
        return;
    }
    let mut batch = Vec::new();
    for e in &events {
        batch.extend(r.deliveries(e).await);
    }
    // A busy or restarting database gets a few chances before the batch is lost.
    for attempt in 0..4u32 {
        match r.meta.webhooks().create_webhook_deliveries(&batch).await {
            Ok(_) => return,
            Err(e) if attempt < 3 => {
                tracing::warn!(error = %e, "writing webhook deliveries failed; retrying");
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            }
            Err(e) => {
                tracing::error!(error = %e, deliveries = batch.len(),
                    "writing webhook deliveries failed; events lost");
            }
        }
    }
}

/// Turns an event into the deliveries its matching policies want, one body per target,
/// rendered once so that every attempt sends the same bytes.
pub struct Renderer {
    pub(crate) meta: MetaStore,
    pub(crate) cache: PolicyCache,
    pub(crate) settings: WebhookSettings,
    /// Repository creation times (Unix seconds), which never change.
    created: Mutex<HashMap<String, i64>>,
    loaded: AtomicBool,
}

impl Renderer {
    pub(crate) fn new(meta: MetaStore, cache: PolicyCache, settings: WebhookSettings) -> Self {
        Renderer {
            meta,
            cache,
            settings,
            created: Mutex::new(HashMap::new()),
            loaded: AtomicBool::new(false),
        }
    }

    async fn reload(&self) {
        match self.cache.reload(&self.meta).await {
            Ok(()) => self.loaded.store(true, Ordering::Release),
            Err(e) => tracing::warn!(error = %e, "loading webhook policies failed"),
        }
    }

    /// Loads the policies unless they were loaded already: events handed over at start-up
    /// (left by a crash) must not be matched against an empty cache.
    pub(crate) async fn ensure_loaded(&self) {
        if !self.loaded.load(Ordering::Acquire) {
            self.reload().await;
        }
    }

    /// Whether the policies could be read at least once.
    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// The deliveries of `e`: one per matching policy, with a task per target.
    pub(crate) async fn deliveries(&self, e: &Event) -> Vec<NewWebhookDelivery> {
        let policies = self.cache.snapshot().matching(e.project.id, e.kind);
        if policies.is_empty() {
            return Vec::new();
        }
        let repo_created = self.repo_created(&e.repository).await;
        let host = self
            .settings
            .host
            .clone()
            .or_else(|| e.host.clone())
            .unwrap_or_else(|| "localhost".into());
        let ctx = Context {
            host: &host,
            repo_created,
        };
        let data = payload::event_data(e, &ctx);
        policies
            .iter()
            .map(|p| self.delivery(e, p, &data))
            .collect()
    }

    fn delivery(
        &self,
        e: &Event,
        p: &WebhookPolicy,
        data: &serde_json::Value,
    ) -> NewWebhookDelivery {
        let tasks = p
            .targets
            .iter()
            .map(|t| {
                let (format, content_type, body) = if t.notify_type == "slack" {
                    ("Default", "application/json", payload::slack(e, data))
                } else if t.payload_format == "CloudEvents" {
                    (
                        "CloudEvents",
                        CLOUDEVENTS_CONTENT_TYPE,
                        payload::cloudevent(e, data.clone(), p.project_id.0, p.id),
                    )
                } else {
                    (
                        "Default",
                        "application/json",
                        payload::default_payload(e, data.clone()),
                    )
                };
                NewWebhookTask {
                    notify_type: t.notify_type.clone(),
                    address: t.address.clone(),
                    payload_format: format.into(),
                    content_type: content_type.into(),
                    body: body.to_string(),
                }
            })
            .collect();
        NewWebhookDelivery {
            policy_id: p.id,
            event_type: e.kind.as_str().into(),
            max_attempts: self.settings.max_attempts,
            tasks,
        }
    }

    async fn repo_created(&self, repo: &str) -> Option<i64> {
        if repo.is_empty() {
            return None;
        }
        if let Some(t) = self.created.lock().get(repo) {
            return Some(*t);
        }
        let name = RepoName::parse(repo).ok()?;
        let r = self
            .meta
            .repositories()
            .get_repository(&name)
            .await
            .ok()
            .flatten()?;
        let t = r.creation_time.unix_timestamp();
        let mut created = self.created.lock();
        if created.len() > 100_000 {
            created.clear();
        }
        created.insert(repo.to_string(), t);
        Some(t)
    }
}
