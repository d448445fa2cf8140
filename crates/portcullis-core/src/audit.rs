//! The audit log. Recording never waits on the database: entries go into a bounded
//! channel and a background task writes what accumulated once a second (or every 500
//! entries) in one transaction. Purging past the retention period is a scheduled job
//! (see the binary's `maintenance` module).

use std::time::Duration;

use portcullis_meta::{AuditEntry, AuditQuery, MetaStore, NewAuditEntry, ProjectId};
use tokio::sync::{mpsc, oneshot};

use crate::auth::Principal;
use crate::error::Result;
use crate::registry::Registry;

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
    if let Err(e) = meta.record_audit(&batch).await {
        tracing::warn!(error = %e, entries = batch.len(), "writing audit entries failed");
    }
}

/// The audit log as a durable subscriber: a state change is on record once its event is
/// completed, in the same transaction, so a crash after the client's success cannot lose
/// the entry.
pub(crate) struct AuditSubscriber;

impl crate::events::DurableSubscriber for AuditSubscriber {
    fn name(&self) -> &'static str {
        "audit"
    }

    fn handle<'a>(
        &'a self,
        event: &'a crate::Event,
        effects: &'a mut portcullis_meta::OutboxEffects,
    ) -> futures::future::BoxFuture<'a, anyhow::Result<()>> {
        effects.audit.extend(entry_of(event));
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The audit entry of an event that asks for one.
pub(crate) fn entry_of(e: &crate::Event) -> Option<NewAuditEntry> {
    let note = e.audit.as_ref()?;
    Some(NewAuditEntry {
        op_time: e.occur_at,
        username: e.operator.clone(),
        operation: note.operation.clone(),
        resource_type: note.resource_type.clone(),
        resource: note.resource.clone(),
        project_id: Some(ProjectId(e.project.id)),
        client_ip: e.client_ip.clone().unwrap_or_default(),
        success: true,
        description: format!("{} {}", note.operation, note.resource_type),
    })
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

impl Registry {
    /// Records an action in the audit log (off the request path).
    pub fn audit(
        &self,
        actor: &Actor,
        operation: &str,
        resource_type: &str,
        resource: &str,
        project_id: Option<i64>,
        success: bool,
    ) {
        self.audit_log.action(
            actor,
            operation,
            resource_type,
            resource,
            project_id,
            success,
        );
    }

    /// Writes queued audit entries now (tests, shutdown).
    pub async fn flush_audit(&self) {
        self.audit_log.flush().await;
    }

    /// A page of the audit log. System admins see every entry; others see the entries
    /// of the projects whose logs they may list, and nothing else.
    pub async fn list_audit(
        &self,
        principal: &Principal,
        mut q: AuditQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<AuditEntry>, u64)> {
        if !principal.is_sysadmin() {
            let mut allowed = Vec::new();
            for id in self.access.member_project_ids(principal).await? {
                let Some(p) = self.meta.get_project(ProjectId(id)).await? else {
                    continue;
                };
                let info = crate::ProjectInfo {
                    id,
                    name: p.name.to_string(),
                    public: p.public,
                };
                if self
                    .access
                    .project_access(principal, &info, None)
                    .await?
                    .can("log", "list")
                {
                    allowed.push(ProjectId(id));
                }
            }
            q.projects = Some(match q.projects {
                Some(wanted) => wanted.into_iter().filter(|p| allowed.contains(p)).collect(),
                None => allowed,
            });
        }
        Ok(self.meta.list_audit(&q, page, page_size).await?)
    }

    /// Purges entries older than `retain_hours`, optionally only some operations
    /// (`/api/v2.0/system/purgeaudit`); system admins only. Returns how many went.
    pub async fn purge_audit(
        &self,
        principal: &Principal,
        retain_hours: u32,
        operations: Option<Vec<String>>,
    ) -> Result<u64> {
        if !principal.is_sysadmin() {
            return Err(crate::Error::code(portcullis_types::ErrorCode::Forbidden));
        }
        self.flush_audit().await;
        let before =
            time::OffsetDateTime::now_utc() - time::Duration::hours(i64::from(retain_hours));
        Ok(self.meta.purge_audit(before, operations.as_deref()).await?)
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
