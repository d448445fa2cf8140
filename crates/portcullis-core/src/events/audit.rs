//! The audit log as a durable subscriber of events.

use portcullis_meta::{NewAuditEntry, ProjectId};

use super::Event;

/// The audit log as a durable subscriber: a state change is on record once its event is
/// completed, in the same transaction, so a crash after the client's success cannot lose
/// the entry.
pub(crate) struct AuditSubscriber;

impl super::DurableSubscriber for AuditSubscriber {
    fn name(&self) -> &'static str {
        "audit"
    }

    fn handle<'a>(
        &'a self,
        event: &'a Event,
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
