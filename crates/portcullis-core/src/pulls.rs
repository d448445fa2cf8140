//! Pull times are written in batches off the request path: a pull only pushes an id into
//! a bounded channel; a background task writes what accumulated once a second.

use std::time::Duration;

use portcullis_meta::{ArtifactId, MetaStore};
use tokio::sync::{mpsc, oneshot};

enum Msg {
    Pull(i64, time::OffsetDateTime),
    Flush(oneshot::Sender<()>),
}

pub struct PullRecorder {
    tx: mpsc::Sender<Msg>,
}

impl PullRecorder {
    pub fn start(meta: MetaStore) -> Self {
        let (tx, mut rx) = mpsc::channel::<Msg>(65_536);
        tokio::spawn(async move {
            let mut pending: Vec<(ArtifactId, time::OffsetDateTime)> = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    msg = rx.recv() => match msg {
                        Some(Msg::Pull(id, at)) => pending.push((ArtifactId(id), at)),
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
        PullRecorder { tx }
    }

    /// Never blocks: when the backlog is full the pull time is dropped, which only
    /// makes `pull_time` slightly stale.
    pub fn record(&self, artifact_id: i64) {
        let _ = self
            .tx
            .try_send(Msg::Pull(artifact_id, time::OffsetDateTime::now_utc()));
    }

    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// One entry per pull, so that a repository's pull count rises once per pull.
async fn write(meta: &MetaStore, pending: &mut Vec<(ArtifactId, time::OffsetDateTime)>) {
    if pending.is_empty() {
        return;
    }
    let batch = std::mem::take(pending);
    if let Err(e) = meta.artifacts().record_pulls(&batch).await {
        tracing::warn!(error = %e, "recording pull times failed");
    }
}
