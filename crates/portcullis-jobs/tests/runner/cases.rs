//! Each case runs on both backends (see `main.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use portcullis_jobs::{
    JobContext, JobError, JobState, NewJob, Outcome, Runner, StopRequest, Worker,
};
use portcullis_meta::{JobQuery, MetaStore};
use serde_json::json;

use crate::common::{Counter, FnWorker, config, finished, running, wait_for};

pub async fn enqueue_run_complete(store: MetaStore) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let runner = Runner::new(store.clone(), config("a"))
        .register(
            "scan",
            FnWorker(move |job: portcullis_jobs::JobContext| {
                let log = log.clone();
                async move {
                    let artifact: u64 = job.payload_as::<serde_json::Value>()?["artifact"]
                        .as_u64()
                        .ok_or_else(|| JobError::permanent("no artifact"))?;
                    job.progress(50, "half way").await?;
                    log.lock().unwrap().push((artifact, job.attempt()));
                    Ok(Outcome::Done)
                }
            }),
        )
        .start();
    let job = runner
        .enqueue(&NewJob::new("scan", json!({"artifact": 42})))
        .await
        .unwrap()
        .job;
    let done = finished(&store, job.id).await;
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.attempts, 1);
    assert_eq!(done.progress_percent, 100);
    assert_eq!(done.progress_message, "half way");
    assert_eq!(*seen.lock().unwrap(), [(42, 1)]);
    assert!(
        runner
            .shutdown(Duration::from_secs(1))
            .await
            .released
            .is_empty()
    );
}

pub async fn retries_back_off_then_fail(store: MetaStore) {
    let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let times = runs.clone();
    let runner = Runner::new(store.clone(), config("a"))
        .register(
            "hook",
            FnWorker(move |job: portcullis_jobs::JobContext| {
                let times = times.clone();
                async move {
                    times.lock().unwrap().push(Instant::now());
                    Err(JobError::retry(format!(
                        "HTTP 503 on attempt {}",
                        job.attempt()
                    )))
                }
            }),
        )
        .start();
    let job = runner
        .enqueue(&NewJob::new("hook", json!(null)).max_attempts(3))
        .await
        .unwrap()
        .job;
    let failed = finished(&store, job.id).await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.attempts, 3);
    assert_eq!(failed.last_error.as_deref(), Some("HTTP 503 on attempt 3"));
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 3);
    // Backoff 100 ms, then 200 ms (no jitter in this configuration).
    assert!(runs[1] - runs[0] >= Duration::from_millis(100));
    assert!(runs[2] - runs[1] >= Duration::from_millis(200));
    runner.shutdown(Duration::from_secs(1)).await;
}

pub async fn a_retry_can_succeed(store: MetaStore) {
    let runner = Runner::new(store.clone(), config("a"))
        .register(
            "hook",
            FnWorker(|job: portcullis_jobs::JobContext| async move {
                if job.attempt() == 1 {
                    Err(JobError::retry("connection refused"))
                } else {
                    Ok(Outcome::Done)
                }
            }),
        )
        .start();
    let job = runner
        .enqueue(&NewJob::new("hook", json!(null)))
        .await
        .unwrap()
        .job;
    let done = finished(&store, job.id).await;
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.attempts, 2);
    assert_eq!(done.last_error.as_deref(), Some("connection refused"));
    runner.shutdown(Duration::from_secs(1)).await;
}

pub async fn permanent_errors_and_panics(store: MetaStore) {
    let runs = Counter::default();
    let count = runs.clone();
    // A panic stops the run's task while the hook prints its backtrace, heartbeat
    // included; on a loaded machine that outlasts a short lease, the job is taken over
    // and the panic's outcome (asserted below) is never recorded.
    let mut cfg = config("a");
    cfg.lease = Duration::from_secs(30);
    let runner = Runner::new(store.clone(), cfg)
        .register(
            "gone",
            FnWorker(move |_job: portcullis_jobs::JobContext| {
                count.bump();
                async { Err(JobError::permanent("artifact deleted")) }
            }),
        )
        .register(
            "panics",
            FnWorker(|job: portcullis_jobs::JobContext| async move {
                if job.attempt() == 1 {
                    panic!("detector bug");
                }
                Ok(Outcome::Done)
            }),
        )
        .start();
    let gone = runner
        .enqueue(&NewJob::new("gone", json!(null)).max_attempts(5))
        .await
        .unwrap()
        .job;
    let panics = runner
        .enqueue(&NewJob::new("panics", json!(null)))
        .await
        .unwrap()
        .job;
    let failed = finished(&store, gone.id).await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("artifact deleted"));
    assert_eq!(runs.get(), 1);
    let recovered = finished(&store, panics.id).await;
    assert_eq!(recovered.state, JobState::Succeeded);
    assert_eq!(recovered.attempts, 2);
    assert!(recovered.last_error.unwrap().contains("detector bug"));
    runner.shutdown(Duration::from_secs(1)).await;
}

pub async fn again_does_not_count_an_attempt(store: MetaStore) {
    let runs = Counter::default();
    let count = runs.clone();
    let runner = Runner::new(store.clone(), config("a"))
        .register(
            "poll",
            FnWorker(move |_job: portcullis_jobs::JobContext| {
                let n = count.bump();
                async move {
                    if n < 4 {
                        Ok(Outcome::Again {
                            after: Duration::from_millis(30),
                        })
                    } else {
                        Ok(Outcome::Done)
                    }
                }
            }),
        )
        .start();
    let job = runner
        .enqueue(&NewJob::new("poll", json!(null)).max_attempts(1))
        .await
        .unwrap()
        .job;
    let done = finished(&store, job.id).await;
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.attempts, 1);
    assert_eq!(runs.get(), 4);
    runner.shutdown(Duration::from_secs(1)).await;
}

pub async fn dead_runner_job_is_taken_over(store: MetaStore) {
    let hang = FnWorker(|job: portcullis_jobs::JobContext| async move {
        job.progress(10, "working").await?;
        std::future::pending::<()>().await;
        Ok(Outcome::Done)
    });
    let dead = Runner::new(store.clone(), config("dead"))
        .register("scan", hang)
        .start();
    let job = dead
        .enqueue(&NewJob::new("scan", json!(null)))
        .await
        .unwrap()
        .job;
    wait_for(&store, job.id, |j| j.progress_message == "working").await;
    dead.abort().await;
    let orphan = store.jobs().get_job(job.id).await.unwrap().unwrap();
    assert_eq!(orphan.state, JobState::Running, "nothing was recorded");
    assert_eq!(orphan.lease_owner.as_deref(), Some("dead"));

    let heir = Runner::new(store.clone(), config("heir"))
        .register(
            "scan",
            FnWorker(|_job: portcullis_jobs::JobContext| async { Ok(Outcome::Done) }),
        )
        .start();
    let done = finished(&store, job.id).await;
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.attempts, 2);
    heir.shutdown(Duration::from_secs(1)).await;
}

pub async fn concurrency_limit_per_kind(store: MetaStore) {
    let mut cfg = config("a");
    cfg.concurrency.insert("scan".into(), 2);
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (n, p) = (now.clone(), peak.clone());
    let runner = Runner::new(store.clone(), cfg)
        .register(
            "scan",
            FnWorker(move |_job: portcullis_jobs::JobContext| {
                let (n, p) = (n.clone(), p.clone());
                async move {
                    let current = n.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(current, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    n.fetch_sub(1, Ordering::SeqCst);
                    Ok(Outcome::Done)
                }
            }),
        )
        .start();
    let mut ids = Vec::new();
    for i in 0..6 {
        let job = runner
            .enqueue(&NewJob::new("scan", json!(i)))
            .await
            .unwrap()
            .job;
        ids.push(job.id);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(runner.running().len() <= 2);
    for id in ids {
        assert_eq!(finished(&store, id).await.state, JobState::Succeeded);
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    runner.shutdown(Duration::from_secs(1)).await;
}

/// Runs until cancelled, then reports the cancellation as an error.
struct UntilCancelled;

impl Worker for UntilCancelled {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        job.progress(1, "started").await?;
        job.cancelled().await;
        Err(JobError::retry("cancelled"))
    }
}

fn until_cancelled() -> UntilCancelled {
    UntilCancelled
}

pub async fn stop_a_running_job(store: MetaStore) {
    let runner = Runner::new(store.clone(), config("a"))
        .register("scan", until_cancelled())
        .start();
    let job = runner
        .enqueue(&NewJob::new("scan", json!(null)))
        .await
        .unwrap()
        .job;
    wait_for(&store, job.id, |j| j.progress_message == "started").await;
    assert_eq!(runner.stop(job.id).await.unwrap(), StopRequest::Requested);
    let stopped = finished(&store, job.id).await;
    assert_eq!(stopped.state, JobState::Stopped);
    assert_eq!(
        runner.stop(job.id).await.unwrap(),
        StopRequest::AlreadyFinished(JobState::Stopped)
    );
    // A job that has not started stops without running.
    let later = runner
        .enqueue(
            &NewJob::new("scan", json!(2))
                .run_at(time::OffsetDateTime::now_utc() + Duration::from_secs(60)),
        )
        .await
        .unwrap()
        .job;
    assert_eq!(runner.stop(later.id).await.unwrap(), StopRequest::Stopped);
    runner.shutdown(Duration::from_secs(1)).await;
}

pub async fn stop_reaches_another_node(store: MetaStore) {
    let runner = Runner::new(store.clone(), config("worker-node"))
        .register("scan", until_cancelled())
        .start();
    let job = runner
        .enqueue(&NewJob::new("scan", json!(null)))
        .await
        .unwrap()
        .job;
    running(&store, job.id).await;
    // The API node has no runner of its own: only the row carries the request.
    assert_eq!(
        store.jobs().request_job_stop(job.id).await.unwrap(),
        StopRequest::Requested
    );
    let stopped = finished(&store, job.id).await;
    assert_eq!(stopped.state, JobState::Stopped);
    runner.shutdown(Duration::from_secs(1)).await;
}

pub async fn graceful_shutdown_releases_unfinished_jobs(store: MetaStore) {
    let runner = Runner::new(store.clone(), config("leaving"))
        .register(
            "quick",
            FnWorker(|_job: portcullis_jobs::JobContext| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(Outcome::Done)
            }),
        )
        .register(
            "stubborn",
            FnWorker(|job: portcullis_jobs::JobContext| async move {
                job.progress(5, "started").await?;
                // Ignores cancellation, as a worker stuck in a long read would.
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Outcome::Done)
            }),
        )
        .start();
    let quick = runner
        .enqueue(&NewJob::new("quick", json!(null)))
        .await
        .unwrap()
        .job;
    let stubborn = runner
        .enqueue(&NewJob::new("stubborn", json!(null)))
        .await
        .unwrap()
        .job;
    running(&store, quick.id).await;
    wait_for(&store, stubborn.id, |j| j.progress_message == "started").await;
    let started = Instant::now();
    let report = runner.shutdown(Duration::from_millis(500)).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(report.released, [stubborn.id]);
    assert_eq!(
        store.jobs().get_job(quick.id).await.unwrap().unwrap().state,
        JobState::Succeeded,
        "finished within the deadline"
    );
    let released = store.jobs().get_job(stubborn.id).await.unwrap().unwrap();
    assert_eq!(released.state, JobState::Pending);
    assert_eq!(released.attempts, 0);
    // Another node takes it at once, without waiting for a lease to run out.
    let mut cfg = config("staying");
    cfg.lease = Duration::from_secs(3600);
    let next = Runner::new(store.clone(), cfg)
        .register(
            "stubborn",
            FnWorker(|_job: portcullis_jobs::JobContext| async { Ok(Outcome::Done) }),
        )
        .start();
    let done = finished(&store, stubborn.id).await;
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.attempts, 1);
    next.shutdown(Duration::from_secs(1)).await;
}

pub async fn cron_schedule_fires_once_across_two_runners(store: MetaStore) {
    let runs = Counter::default();
    let start = |node: &str| {
        let count = runs.clone();
        Runner::new(store.clone(), config(node))
            .register(
                "scan-all",
                FnWorker(move |_job: portcullis_jobs::JobContext| {
                    count.bump();
                    async { Ok(Outcome::Done) }
                }),
            )
            .start()
    };
    let a = start("a");
    let b = start("b");
    // Every second: over ~2.5 s, two or three due times, each fired exactly once.
    // The next run is after the moment the schedule was set (compared with a time taken
    // before the call, not after it: on a loaded machine the call alone can take a
    // second, and "now" would then be past the computed time).
    let before = time::OffsetDateTime::now_utc();
    let schedule = a
        .set_schedule("scan-all", "scan-all", json!({}), "* * * * * *", true)
        .await
        .unwrap();
    assert!(schedule.next_run_at > before);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    a.set_schedule("scan-all", "scan-all", json!({}), "0 0 0 1 1 *", false)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (jobs, total) = store
        .jobs()
        .list_jobs(&JobQuery {
            kind: Some("scan-all".into()),
            page: 1,
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    // Two or three on a quiet machine; a loaded one may fire later, never twice per
    // due time (checked below), which is what this test is about.
    assert!((1..=4).contains(&total), "fired {total} times in 2.5 s");
    for job in &jobs {
        assert_eq!(finished(&store, job.id).await.state, JobState::Succeeded);
    }
    assert_eq!(runs.get() as u64, total);
    // Each firing was a distinct job, created at a distinct second.
    let mut seconds: Vec<_> = jobs.iter().map(|j| j.created_at.unix_timestamp()).collect();
    seconds.dedup();
    assert_eq!(seconds.len() as u64, total);
    a.shutdown(Duration::from_secs(1)).await;
    b.shutdown(Duration::from_secs(1)).await;
}
