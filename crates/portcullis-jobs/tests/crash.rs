//! kill -9 during a job: a child process (this test binary, re-run as `crash_child`)
//! claims a slow job and is killed with SIGKILL mid-run; a new runner completes the job
//! once the dead process's lease runs out. On both backends.

use std::process::Stdio;
use std::time::Duration;

use portcullis_jobs::{JobContext, JobError, JobState, Outcome, Runner, RunnerConfig, Worker};
use portcullis_meta::testing::temp_pg_database_or_panic;
use portcullis_meta::{Job, JobId, MetaStore, NewJob};
use serde_json::json;

/// Names the database the child process works on.
const URL_ENV: &str = "PORTCULLIS_JOBS_CRASH_URL";
const CHILD_NODE: &str = "doomed";

struct Slow;

impl Worker for Slow {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        job.progress(30, "started").await?;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(Outcome::Done)
    }
}

struct Quick;

impl Worker for Quick {
    async fn run(&self, _job: &JobContext) -> Result<Outcome, JobError> {
        Ok(Outcome::Done)
    }
}

fn config(node: &str) -> RunnerConfig {
    RunnerConfig {
        node_id: node.to_string(),
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_secs(1),
        heartbeat: Duration::from_millis(250),
        ..Default::default()
    }
}

/// The child's side: runs slow jobs until killed. Started only by the crash tests.
#[tokio::test]
#[ignore = "run as a child process by the crash tests"]
async fn crash_child() {
    let url = std::env::var(URL_ENV).expect("started by a crash test, which sets the URL");
    let store = MetaStore::connect(&url).await.unwrap();
    let _runner = Runner::new(store, config(CHILD_NODE))
        .register("slow", Slow)
        .start();
    // Killed long before this; the bound keeps a stray child from living forever.
    tokio::time::sleep(Duration::from_secs(120)).await;
    panic!("the crash test never killed this process");
}

async fn wait_for(store: &MetaStore, id: JobId, what: &str, done: impl Fn(&Job) -> bool) -> Job {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = store.jobs().get_job(id).await.unwrap().expect("job exists");
        if done(&job) {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job never {what}: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn job_survives_kill_9(url: &str) {
    let store = MetaStore::connect(url).await.unwrap();
    let job = store
        .jobs()
        .enqueue_job(&NewJob::new("slow", json!({"artifact": 1})))
        .await
        .unwrap()
        .job;
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--ignored", "--nocapture"])
        .env(URL_ENV, url)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the child process");
    let claimed = wait_for(&store, job.id, "started in the child", |j| {
        j.progress_message == "started"
    })
    .await;
    assert_eq!(claimed.lease_owner.as_deref(), Some(CHILD_NODE));
    // SIGKILL: the child gets no chance to release anything.
    child.kill().await.unwrap();
    let orphan = store.jobs().get_job(job.id).await.unwrap().unwrap();
    assert_eq!(orphan.state, JobState::Running);
    assert_eq!(orphan.lease_owner.as_deref(), Some(CHILD_NODE));

    let survivor = Runner::new(store.clone(), config("survivor"))
        .register("slow", Quick)
        .start();
    let done = wait_for(&store, job.id, "finished", |j| j.state.is_finished()).await;
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.attempts, 2);
    survivor.shutdown(Duration::from_secs(1)).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_job_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("meta.db").display());
    job_survives_kill_9(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_job_survives_kill_9() {
    let Some((url, guard)) = temp_pg_database_or_panic().await else {
        return;
    };
    job_survives_kill_9(&url).await;
    guard.drop_database().await.unwrap();
}
