//! Scan on push as a durable subscriber: a pushed image of a project with `auto_scan`
//! (or `auto_sbom_generation`) gets its scan queued even when the node that took the push
//! died right after answering. Queueing is idempotent (one pending scan per scanner,
//! digest and kind), so an event handed over twice queues one scan.

use std::sync::Arc;

use futures::future::BoxFuture;
use portcullis_meta::{MetaStore, OutboxEffects, ProjectId};
use portcullis_types::{Digest, RepoName};

use super::Scanning;
use super::service::scannable;
use crate::events::{DurableSubscriber, Event, EventType};

pub(crate) struct ScanOnPush {
    meta: MetaStore,
    scanning: Arc<Scanning>,
}

impl ScanOnPush {
    pub(crate) fn new(meta: MetaStore, scanning: Arc<Scanning>) -> Self {
        ScanOnPush { meta, scanning }
    }

    /// Whether the project scans (`.0`) or makes SBOMs (`.1`) of what is pushed to it.
    async fn automatic(&self, project: i64) -> anyhow::Result<(bool, bool)> {
        let Some(project) = self.meta.projects().get_project(ProjectId(project)).await? else {
            return Ok((false, false));
        };
        let on = |k: &str| project.metadata.get(k).is_some_and(|v| v == "true");
        Ok((on("auto_scan"), on("auto_sbom_generation")))
    }

    async fn on_push(&self, e: &Event) -> anyhow::Result<()> {
        let (scan, sbom) = self.automatic(e.project.id).await?;
        if !scan && !sbom {
            return Ok(());
        }
        let (Ok(repo), Some(resource)) = (RepoName::parse(&e.repository), e.resources.first())
        else {
            return Ok(());
        };
        let Ok(digest) = Digest::parse(&resource.digest) else {
            return Ok(());
        };
        // Gone already (deleted right after the push): nothing to scan.
        let Some(r) = self.meta.repositories().get_repository(&repo).await? else {
            return Ok(());
        };
        let Some(artifact) = self.meta.artifacts().get_artifact(r.id, &digest).await? else {
            return Ok(());
        };
        if !scannable(&artifact) {
            return Ok(());
        }
        let Some(scanner) = self.scanning.resolver().scanner_id_for(e.project.id).await else {
            return Ok(());
        };
        self.scanning
            .queue_scan(
                &scanner,
                artifact.digest.as_str(),
                &artifact.media_type,
                repo.as_str(),
                sbom,
                None,
            )
            .await?;
        Ok(())
    }
}

impl DurableSubscriber for ScanOnPush {
    fn name(&self) -> &'static str {
        "scan-on-push"
    }

    fn wants<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            // A project that cannot be read now may scan: let the handover decide.
            event.kind == EventType::PushArtifact
                && !matches!(self.automatic(event.project.id).await, Ok((false, false)))
        })
    }

    fn handle<'a>(
        &'a self,
        event: &'a Event,
        _effects: &'a mut OutboxEffects,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            if event.kind != EventType::PushArtifact {
                return Ok(());
            }
            self.on_push(event).await
        })
    }
}
