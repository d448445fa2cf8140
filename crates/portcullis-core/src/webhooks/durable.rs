//! Webhooks as a durable subscriber: the deliveries of a push or a delete are written in
//! the transaction that completes the event, so they exist exactly once whatever the
//! number of handovers, and a crash before that leaves the event pending, not lost.

use std::sync::Arc;

use futures::future::BoxFuture;
use portcullis_meta::OutboxEffects;

use super::dispatch::Renderer;
use crate::events::{DurableSubscriber, Event};

pub(crate) struct WebhookSubscriber {
    renderer: Arc<Renderer>,
}

impl WebhookSubscriber {
    pub(crate) fn new(renderer: Arc<Renderer>) -> Self {
        WebhookSubscriber { renderer }
    }
}

impl DurableSubscriber for WebhookSubscriber {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    fn wants<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, bool> {
        // Before the policies were read once, any event may be wanted.
        let wanted =
            !self.renderer.is_loaded() || self.renderer.cache.wants(event.project.id, event.kind);
        Box::pin(std::future::ready(wanted))
    }

    fn handle<'a>(
        &'a self,
        event: &'a Event,
        effects: &'a mut OutboxEffects,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.renderer.ensure_loaded().await;
            // Matching against policies never read would drop the event's deliveries:
            // better to leave it pending until the database answers.
            if !self.renderer.is_loaded() {
                anyhow::bail!("webhook policies could not be read");
            }
            effects
                .webhooks
                .extend(self.renderer.deliveries(event).await);
            Ok(())
        })
    }
}
