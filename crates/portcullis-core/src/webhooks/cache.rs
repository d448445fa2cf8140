//! The enabled policies in memory, so that deciding whether an event is wanted (on every
//! pull) never touches the database. Reloaded after local changes at once and every few
//! seconds otherwise (changes made on other nodes).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::RwLock;
use portcullis_meta::{MetaStore, WebhookPolicy};

use crate::events::EventType;

/// The enabled policies, by project.
#[derive(Default)]
pub struct Snapshot {
    by_project: HashMap<i64, Vec<Arc<WebhookPolicy>>>,
    wanted: HashSet<(i64, EventType)>,
}

impl Snapshot {
    fn build(policies: Vec<WebhookPolicy>) -> Snapshot {
        let mut s = Snapshot::default();
        for p in policies.into_iter().filter(|p| p.enabled) {
            for t in p.event_types.iter().filter_map(|t| EventType::parse(t)) {
                s.wanted.insert((p.project_id.0, t));
            }
            s.by_project
                .entry(p.project_id.0)
                .or_default()
                .push(Arc::new(p));
        }
        s
    }

    /// The enabled policies of `project` that subscribe to `kind`.
    pub fn matching(&self, project: i64, kind: EventType) -> Vec<Arc<WebhookPolicy>> {
        self.by_project
            .get(&project)
            .map(|list| {
                list.iter()
                    .filter(|p| p.event_types.iter().any(|t| t == kind.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Shared between the bus's interest check, the dispatcher and the policy service.
#[derive(Default, Clone)]
pub struct PolicyCache {
    inner: Arc<RwLock<Arc<Snapshot>>>,
}

impl PolicyCache {
    /// Whether an enabled policy of `project` subscribes to `kind`.
    pub fn wants(&self, project: i64, kind: EventType) -> bool {
        self.inner.read().wanted.contains(&(project, kind))
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.read().clone()
    }

    /// Reads every policy again.
    pub async fn reload(&self, meta: &MetaStore) -> portcullis_meta::Result<()> {
        let all = meta.webhooks().list_webhook_policies(None).await?;
        *self.inner.write() = Arc::new(Snapshot::build(all));
        Ok(())
    }
}
