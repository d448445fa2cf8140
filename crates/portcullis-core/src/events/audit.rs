//! The audit log as a durable subscriber of events: its entry is a pure function of the
//! event, so it is written in the change's own transaction and needs no handover.

use futures::future::BoxFuture;
use portcullis_meta::{EventWrites, NewAuditEntry, ProjectId};

use super::Event;

/// The audit log as a durable subscriber: a state change is on record in the change's
/// own transaction, so a crash after the client's success cannot lose the entry.
pub(crate) struct AuditSubscriber;

impl super::DurableSubscriber for AuditSubscriber {
    fn name(&self) -> &'static str {
        "audit"
    }

    fn at_commit(&self, event: &Event, writes: &mut EventWrites) {
        writes.audit.extend(entry_of(event));
    }

    fn wants<'a>(&'a self, _event: &'a Event) -> BoxFuture<'a, bool> {
        Box::pin(std::future::ready(false))
    }

    fn handle<'a>(
        &'a self,
        _event: &'a Event,
        _effects: &'a mut portcullis_meta::OutboxEffects,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
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
