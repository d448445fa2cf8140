//! The audit log. Recording never waits on the database: entries go into a bounded
//! channel and a background task writes what accumulated once a second (or every 500
//! entries) in one transaction. Purging past the retention period is a scheduled job
//! (see the binary's `maintenance` module).

use std::time::Duration;

use portcullis_meta::{MetaStore, NewAuditEntry, ProjectId};
use tokio::sync::{mpsc, oneshot};

use crate::auth::Principal;

/// Entries written per transaction at most.
const BATCH: usize = 500;

enum Msg {
    Entry(NewAuditEntry),
    Flush(oneshot::Sender<()>),
}

/// The batching writer of the audit log.
pub struct AuditRecorder {
    tx: mpsc::Sender<Msg>,
}

impl AuditRecorder {
    /// Starts the writer.
    pub fn start(meta: MetaStore) -> Self {
        let (tx, mut rx) = mpsc::channel::<Msg>(65_536);
        tokio::spawn(async move {
            let mut pending = Pending::default();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    msg = rx.recv() => match msg {
                        Some(Msg::Entry(e)) => {
                            pending.add(e);
                            if pending.rows.len() >= BATCH {
                                write(&meta, &mut pending).await;
                            }
                        }
                        Some(Msg::Flush(done)) => {
                            write(&meta, &mut pending).await;
                            let _ = done.send(());
                        }
                        None => { write(&meta, &mut pending).await; break; }
                    },
                    _ = tick.tick() => write(&meta, &mut pending).await,
                }
            }
        });
        AuditRecorder { tx }
    }

    /// Queues an entry. Never blocks; when the backlog is full the entry is logged
    /// instead, so that a stalled database cannot stall requests.
    pub fn record(&self, entry: NewAuditEntry) {
        if let Err(mpsc::error::TrySendError::Full(Msg::Entry(e))) =
            self.tx.try_send(Msg::Entry(entry))
        {
            tracing::warn!(username = %e.username, operation = %e.operation,
                resource = %e.resource, "audit backlog full; entry not stored");
        }
    }

    /// Queues the entry of an action by `actor` (off the request path).
    pub fn action(
        &self,
        actor: &Actor,
        operation: &str,
        resource_type: &str,
        resource: &str,
        project_id: Option<i64>,
        success: bool,
    ) {
        self.record(NewAuditEntry {
            op_time: time::OffsetDateTime::now_utc(),
            username: actor.username.clone(),
            operation: operation.to_string(),
            resource_type: resource_type.to_string(),
            resource: resource.to_string(),
            project_id: project_id.map(ProjectId),
            client_ip: actor.client_ip.clone(),
            success,
            description: format!("{operation} {resource_type}"),
        });
    }

    /// Waits until everything queued so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Entries waiting to be written. Identical actions (same user, address, operation,
/// resource and result) arriving before the next write become one row whose description
/// says how many times it happened: a client pulling the same manifest thousands of times a
/// second is still on record, without the log costing more than the pulls.
/// User, address, operation, resource type, resource, project and result.
type ActionKey = (String, String, String, String, String, Option<i64>, bool);

#[derive(Default)]
struct Pending {
    rows: Vec<(NewAuditEntry, u64)>,
    index: std::collections::HashMap<ActionKey, usize>,
}

impl Pending {
    fn add(&mut self, e: NewAuditEntry) {
        let key = (
            e.username.clone(),
            e.client_ip.clone(),
            e.operation.clone(),
            e.resource_type.clone(),
            e.resource.clone(),
            e.project_id.map(|p| p.0),
            e.success,
        );
        match self.index.get(&key) {
            Some(&i) => self.rows[i].1 += 1,
            None => {
                self.index.insert(key, self.rows.len());
                self.rows.push((e, 1));
            }
        }
    }

    fn take(&mut self) -> Vec<NewAuditEntry> {
        self.index.clear();
        std::mem::take(&mut self.rows)
            .into_iter()
            .map(|(mut e, n)| {
                if n > 1 {
                    let times = format!("{n} times within a second");
                    e.description = if e.description.is_empty() {
                        times
                    } else {
                        format!("{} ({times})", e.description)
                    };
                }
                e
            })
            .collect()
    }
}

async fn write(meta: &MetaStore, pending: &mut Pending) {
    if pending.rows.is_empty() {
        return;
    }
    let batch = pending.take();
    if let Err(e) = meta.audit().record_audit(&batch).await {
        tracing::warn!(error = %e, entries = batch.len(), "writing audit entries failed");
    }
}

/// Who acted and from where, as the audit log records it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub username: String,
    pub client_ip: String,
}

impl Actor {
    /// The actor of a request by `principal` from `client_ip`.
    pub fn new(principal: &Principal, client_ip: &str) -> Self {
        Actor {
            username: principal.username().unwrap_or("anonymous").to_string(),
            client_ip: client_ip.to_string(),
        }
    }
}

#[cfg(test)]
mod pending_tests {
    use super::*;

    fn entry(user: &str, op: &str, resource: &str) -> NewAuditEntry {
        NewAuditEntry {
            op_time: time::OffsetDateTime::now_utc(),
            username: user.into(),
            operation: op.into(),
            resource_type: "artifact".into(),
            resource: resource.into(),
            project_id: Some(ProjectId(1)),
            client_ip: "10.0.0.1".into(),
            success: true,
            description: "pull artifact".into(),
        }
    }

    #[test]
    fn identical_actions_become_one_counted_row() {
        let mut p = Pending::default();
        for _ in 0..3 {
            p.add(entry("anonymous", "pull", "lib/a:1"));
        }
        p.add(entry("alice", "pull", "lib/a:1"));
        p.add(entry("anonymous", "delete", "lib/a:1"));
        let rows = p.take();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0].description,
            "pull artifact (3 times within a second)"
        );
        assert_eq!(rows[1].description, "pull artifact");
        assert_eq!(rows[2].operation, "delete");
        assert!(p.take().is_empty());
    }
}
