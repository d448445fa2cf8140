//! Webhooks: project policies (Harbor's `/webhook/policies`), the dispatcher that turns
//! bus events into durable deliveries, and the job worker that sends them.

mod cache;
mod deliver;
mod dispatch;
mod durable;
pub mod payload;

use std::sync::Arc;

pub use cache::PolicyCache;
pub use deliver::{COUNTERS, DELIVERY_HEADER, SIGNATURE_HEADER, WebhookWorker, signature};
pub use dispatch::WebhookSettings;

use portcullis_meta::{
    NewWebhookPolicy, Project, WebhookAttempt, WebhookExecution, WebhookPolicy, WebhookTarget,
    WebhookTask,
};
use portcullis_types::ErrorCode;
use tokio::sync::{mpsc, oneshot};

use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::events::{EventBus, EventType};

/// The webhook side of the registry: the policy cache and the dispatcher's flush handle.
pub struct Webhooks {
    pub cache: PolicyCache,
    flush: mpsc::Sender<dispatch::FlushRequest>,
    renderer: Arc<dispatch::Renderer>,
    meta: portcullis_meta::MetaStore,
    access: Arc<crate::access::Access>,
    audit_log: Arc<crate::audit::AuditRecorder>,
}

impl Webhooks {
    /// Subscribes the dispatcher to `bus` and starts it.
    pub(crate) fn start(
        bus: &EventBus,
        meta: portcullis_meta::MetaStore,
        settings: WebhookSettings,
        access: Arc<crate::access::Access>,
        audit_log: Arc<crate::audit::AuditRecorder>,
    ) -> Webhooks {
        let cache = PolicyCache::default();
        let interest = {
            let cache = cache.clone();
            Arc::new(move |project, kind| cache.wants(project, kind))
        };
        let rx = bus.subscribe("webhooks", settings.backlog, interest);
        let renderer = Arc::new(dispatch::Renderer::new(
            meta.clone(),
            cache.clone(),
            settings,
        ));
        let flush = dispatch::start(renderer.clone(), rx);
        Webhooks {
            cache,
            flush,
            renderer,
            meta,
            access,
            audit_log,
        }
    }

    /// The subscriber that turns durable events (pushes, deletes) into deliveries.
    pub(crate) fn durable(&self) -> Arc<dyn crate::events::DurableSubscriber> {
        Arc::new(durable::WebhookSubscriber::new(self.renderer.clone()))
    }

    /// Waits until the events emitted so far are written as deliveries.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.flush.send(tx).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// A policy as given to create or update.
#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub name: String,
    pub description: String,
    /// Enabled unless said otherwise.
    pub enabled: Option<bool>,
    pub event_types: Vec<String>,
    pub targets: Vec<WebhookTarget>,
    /// `None` keeps the current signing key (on update), `Some("")` removes it.
    pub secret: Option<String>,
}

fn bad(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::BadRequest, message)
}

/// Checks a policy the way Harbor does, and a little more (addresses must be URLs).
fn validate(input: &mut PolicyInput) -> Result<()> {
    input.name = input.name.trim().to_string();
    if input.name.is_empty() {
        return Err(bad("the webhook policy needs a name"));
    }
    if input.name.len() > 256 {
        return Err(bad("the webhook policy name is longer than 256 characters"));
    }
    if input.event_types.is_empty() {
        return Err(bad("the webhook policy needs at least one event type"));
    }
    for t in &input.event_types {
        if EventType::parse(t).is_none() {
            return Err(bad(format!("unknown event type {t:?}")));
        }
    }
    input.event_types.sort();
    input.event_types.dedup();
    if input.targets.is_empty() {
        return Err(bad("the webhook policy needs at least one target"));
    }
    for t in &mut input.targets {
        if t.notify_type.is_empty() {
            t.notify_type = "http".into();
        }
        if t.notify_type != "http" && t.notify_type != "slack" {
            return Err(bad(format!(
                "unsupported target type {:?}: use http or slack",
                t.notify_type
            )));
        }
        if t.payload_format.is_empty() {
            t.payload_format = "Default".into();
        }
        match (t.notify_type.as_str(), t.payload_format.as_str()) {
            (_, "Default") | ("http", "CloudEvents") => {}
            ("slack", _) => return Err(bad("slack targets take the Default payload format")),
            (_, f) => {
                return Err(bad(format!(
                    "unsupported payload format {f:?}: use Default or CloudEvents"
                )));
            }
        }
        t.address = t.address.trim().to_string();
        let scheme_ok = t.address.starts_with("http://") || t.address.starts_with("https://");
        let host = t.address.split("://").nth(1).unwrap_or("");
        if !scheme_ok || host.is_empty() || host.starts_with('/') {
            return Err(bad(format!(
                "invalid target address {:?}: use an http:// or https:// URL",
                t.address
            )));
        }
    }
    Ok(())
}

/// Harbor's status of a task from its job's state (`Running` while retries remain).
pub fn task_status(t: &WebhookTask) -> &'static str {
    use portcullis_meta::JobState as S;
    match t.state {
        Some(S::Pending) if t.attempts == 0 => "Pending",
        Some(S::Pending | S::Running) => "Running",
        Some(S::Succeeded) => "Success",
        Some(S::Failed) | None => "Error",
        Some(S::Stopped) => "Stopped",
    }
}

/// Harbor's status of an execution from its tasks.
pub fn execution_status(e: &WebhookExecution) -> &'static str {
    let statuses: Vec<_> = e.tasks.iter().map(task_status).collect();
    ["Running", "Pending", "Error", "Stopped"]
        .into_iter()
        .find(|s| statuses.contains(s))
        .unwrap_or("Success")
}

impl Webhooks {
    async fn webhook_project(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        action: &str,
    ) -> Result<Project> {
        let (p, _) = self
            .access
            .project_for(
                &ctx.principal,
                project,
                is_name,
                "notification-policy",
                action,
            )
            .await?;
        Ok(p)
    }

    async fn reload_policies(&self) {
        if let Err(e) = self.cache.reload(&self.meta).await {
            tracing::warn!(error = %e, "reloading webhook policies failed");
        }
    }

    /// The project's policies (needs `notification-policy:list`).
    pub async fn list_webhook_policies(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
    ) -> Result<Vec<WebhookPolicy>> {
        let p = self.webhook_project(ctx, project, is_name, "list").await?;
        Ok(self
            .meta
            .webhooks()
            .list_webhook_policies(Some(p.id))
            .await?)
    }

    /// One policy (needs `notification-policy:read`).
    pub async fn get_webhook_policy(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        id: i64,
    ) -> Result<WebhookPolicy> {
        let p = self.webhook_project(ctx, project, is_name, "read").await?;
        self.policy_of(&p, id).await
    }

    async fn policy_of(&self, p: &Project, id: i64) -> Result<WebhookPolicy> {
        self.meta
            .webhooks()
            .get_webhook_policy(p.id, id)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    format!("webhook policy {id} not found"),
                )
            })
    }

    /// Creates a policy (needs `notification-policy:create`); audited.
    pub async fn create_webhook_policy(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        mut input: PolicyInput,
    ) -> Result<WebhookPolicy> {
        let p = self
            .webhook_project(ctx, project, is_name, "create")
            .await?;
        validate(&mut input)?;
        let res = self
            .meta
            .webhooks()
            .create_webhook_policy(&NewWebhookPolicy {
                project_id: p.id,
                name: input.name.clone(),
                description: input.description,
                enabled: input.enabled.unwrap_or(true),
                event_types: input.event_types,
                targets: input.targets,
                secret: input.secret.filter(|s| !s.is_empty()),
                creator: ctx.actor.clone(),
            })
            .await;
        self.reload_policies().await;
        let resource = format!("{}:{}", p.name, input.name);
        self.audit_log.action(
            &ctx.audit_actor(),
            "create",
            "webhook_policy",
            &resource,
            Some(p.id.0),
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Replaces a policy (needs `notification-policy:update`); audited.
    pub async fn update_webhook_policy(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        id: i64,
        mut input: PolicyInput,
    ) -> Result<()> {
        let p = self
            .webhook_project(ctx, project, is_name, "update")
            .await?;
        let current = self.policy_of(&p, id).await?;
        validate(&mut input)?;
        let secret = match input.secret {
            None => current.secret,
            Some(s) if s.is_empty() => None,
            Some(s) => Some(s),
        };
        let res = self
            .meta
            .webhooks()
            .update_webhook_policy(
                id,
                &NewWebhookPolicy {
                    project_id: p.id,
                    name: input.name.clone(),
                    description: input.description,
                    enabled: input.enabled.unwrap_or(true),
                    event_types: input.event_types,
                    targets: input.targets,
                    secret,
                    creator: current.creator,
                },
            )
            .await;
        self.reload_policies().await;
        let resource = format!("{}:{}", p.name, input.name);
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "webhook_policy",
            &resource,
            Some(p.id.0),
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Deletes a policy with its delivery records (needs `notification-policy:delete`).
    pub async fn delete_webhook_policy(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        id: i64,
    ) -> Result<()> {
        let p = self
            .webhook_project(ctx, project, is_name, "delete")
            .await?;
        let current = self.policy_of(&p, id).await?;
        let res = self.meta.webhooks().delete_webhook_policy(p.id, id).await;
        self.reload_policies().await;
        let resource = format!("{}:{}", p.name, current.name);
        self.audit_log.action(
            &ctx.audit_actor(),
            "delete",
            "webhook_policy",
            &resource,
            Some(p.id.0),
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Checks that the caller may see webhooks of the project (`webhook/events`).
    pub async fn webhook_event_types(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
    ) -> Result<()> {
        self.webhook_project(ctx, project, is_name, "list").await?;
        Ok(())
    }

    /// Latest execution per policy and event type, with the policies (`lasttrigger`).
    pub async fn webhook_last_triggers(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
    ) -> Result<(Vec<WebhookPolicy>, Vec<(i64, String, time::OffsetDateTime)>)> {
        let p = self.webhook_project(ctx, project, is_name, "list").await?;
        let policies = self
            .meta
            .webhooks()
            .list_webhook_policies(Some(p.id))
            .await?;
        Ok((
            policies,
            self.meta.webhooks().webhook_last_triggers(p.id).await?,
        ))
    }

    /// A page of a policy's executions (needs `notification-policy:read`).
    pub async fn list_webhook_executions(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        policy: i64,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<WebhookExecution>, u64)> {
        let p = self.webhook_project(ctx, project, is_name, "read").await?;
        self.policy_of(&p, policy).await?;
        Ok(self
            .meta
            .webhooks()
            .list_webhook_executions(policy, page, page_size)
            .await?)
    }

    /// One execution of a policy with its tasks (needs `notification-policy:read`).
    pub async fn get_webhook_execution(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        policy: i64,
        execution: i64,
    ) -> Result<WebhookExecution> {
        let p = self.webhook_project(ctx, project, is_name, "read").await?;
        self.policy_of(&p, policy).await?;
        self.meta
            .webhooks()
            .get_webhook_execution(policy, execution)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    format!("execution {execution} not found"),
                )
            })
    }

    /// A task with its attempts (needs `notification-policy:read`).
    pub async fn webhook_task_attempts(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        ids: (i64, i64, i64),
    ) -> Result<(WebhookTask, Vec<WebhookAttempt>)> {
        let (policy, execution, task) = ids;
        self.get_webhook_execution(ctx, project, is_name, policy, execution)
            .await?;
        self.meta
            .webhooks()
            .webhook_task_attempts(execution, task)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("task {task} not found")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(kind: &str, address: &str, format: &str) -> WebhookTarget {
        WebhookTarget {
            notify_type: kind.into(),
            address: address.into(),
            auth_header: String::new(),
            skip_cert_verify: false,
            payload_format: format.into(),
        }
    }

    fn input(targets: Vec<WebhookTarget>, events: &[&str]) -> PolicyInput {
        PolicyInput {
            name: " hook ".into(),
            event_types: events.iter().map(|s| s.to_string()).collect(),
            targets,
            ..Default::default()
        }
    }

    #[test]
    fn validation_fills_defaults_and_refuses_nonsense() {
        let mut ok = input(
            vec![target("", "https://ci.example/hook", "")],
            &["PUSH_ARTIFACT", "PUSH_ARTIFACT"],
        );
        validate(&mut ok).unwrap();
        assert_eq!(ok.name, "hook");
        assert_eq!(ok.event_types, ["PUSH_ARTIFACT"]);
        assert_eq!(ok.targets[0].notify_type, "http");
        assert_eq!(ok.targets[0].payload_format, "Default");
        for (t, events) in [
            (target("http", "https://x/", "Default"), vec!["PUSH_IMAGE"]),
            (target("http", "https://x/", "Default"), vec![]),
            (
                target("email", "https://x/", "Default"),
                vec!["PUSH_ARTIFACT"],
            ),
            (
                target("slack", "https://x/", "CloudEvents"),
                vec!["PUSH_ARTIFACT"],
            ),
            (target("http", "https://x/", "Xml"), vec!["PUSH_ARTIFACT"]),
            (target("http", "ftp://x/", "Default"), vec!["PUSH_ARTIFACT"]),
            (target("http", "http://", "Default"), vec!["PUSH_ARTIFACT"]),
        ] {
            let mut i = input(vec![t.clone()], &events);
            assert!(validate(&mut i).is_err(), "{t:?} {events:?}");
        }
        let mut none = input(vec![], &["PUSH_ARTIFACT"]);
        assert!(validate(&mut none).is_err());
    }
}
