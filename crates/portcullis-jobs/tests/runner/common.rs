//! Workers and helpers shared by the cases.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use portcullis_jobs::{Backoff, JobContext, JobError, JobId, Outcome, RunnerConfig, Worker};
use portcullis_meta::{Job, JobState, MetaStore};

/// Fast polls, short leases and backoff, so that the cases run in about a second.
pub fn config(node: &str) -> RunnerConfig {
    RunnerConfig {
        node_id: node.to_string(),
        poll_interval: Duration::from_millis(25),
        lease: Duration::from_millis(600),
        heartbeat: Duration::from_millis(150),
        default_concurrency: 4,
        backoff: Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
            jitter: 0.0,
        },
        ..Default::default()
    }
}

/// Polls until `job` satisfies `done`, for at most 15 seconds.
pub async fn wait_for(store: &MetaStore, id: JobId, done: impl Fn(&Job) -> bool) -> Job {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let job = store.jobs().get_job(id).await.unwrap().expect("job exists");
        if done(&job) {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id} never got there: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the job is finished.
pub async fn finished(store: &MetaStore, id: JobId) -> Job {
    wait_for(store, id, |j| j.state.is_finished()).await
}

/// Waits until the job runs.
pub async fn running(store: &MetaStore, id: JobId) -> Job {
    wait_for(store, id, |j| j.state == JobState::Running).await
}

/// A worker made of a closure returning a future.
pub struct FnWorker<F>(pub F);

impl<F, Fut> Worker for FnWorker<F>
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Outcome, JobError>> + Send,
{
    fn run(&self, job: &JobContext) -> impl Future<Output = Result<Outcome, JobError>> + Send {
        (self.0)(job.clone())
    }
}

/// Counts runs.
#[derive(Clone, Default)]
pub struct Counter(pub Arc<AtomicUsize>);

impl Counter {
    pub fn bump(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}
