//! Enqueueing, claiming, leases and transitions.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use portcullis_meta::{Error, JobQuery, JobState, MetaStore, NewJob, StopRequest};
use serde_json::json;
use time::OffsetDateTime;

const LEASE: Duration = Duration::from_secs(30);

pub async fn enqueue_claim_complete(store: MetaStore) {
    let queued = store
        .jobs()
        .enqueue_job(&NewJob::new("scan", json!({"artifact": 7})))
        .await
        .unwrap();
    assert!(queued.created);
    let job = queued.job;
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.attempts, 0);
    assert_eq!(job.max_attempts, NewJob::DEFAULT_MAX_ATTEMPTS);
    assert_eq!(job.payload, json!({"artifact": 7}));

    assert!(
        store
            .jobs()
            .claim_jobs("webhook", "a", 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store
        .jobs()
        .claim_jobs("scan", "a", 10, LEASE)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let running = &claimed[0];
    assert_eq!(running.id, job.id);
    assert_eq!(running.state, JobState::Running);
    assert_eq!(running.attempts, 1);
    assert_eq!(running.lease_owner.as_deref(), Some("a"));
    let deadline = running.lease_deadline.unwrap();
    assert!(deadline > OffsetDateTime::now_utc() + Duration::from_secs(20));
    assert!(
        store
            .jobs()
            .claim_jobs("scan", "b", 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(
        !store.jobs().complete_job(job.id, "b").await.unwrap(),
        "not b's job"
    );
    assert!(store.jobs().complete_job(job.id, "a").await.unwrap());
    let done = store.jobs().get_job(job.id).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.progress_percent, 100);
    assert!(done.finished_at.is_some());
    assert_eq!(done.lease_owner, None);
    assert!(
        !store.jobs().complete_job(job.id, "a").await.unwrap(),
        "only once"
    );
    assert_eq!(
        store
            .jobs()
            .get_job(portcullis_meta::JobId(job.id.0 + 1000))
            .await
            .unwrap(),
        None
    );
}

pub async fn dedup_key_holds_while_unfinished(store: MetaStore) {
    let new = NewJob::new("scan", json!(1)).dedup_key("artifact:1");
    let first = store.jobs().enqueue_job(&new).await.unwrap();
    let again = store.jobs().enqueue_job(&new).await.unwrap();
    assert!(first.created);
    assert!(!again.created);
    assert_eq!(again.job.id, first.job.id);
    // Same key under another kind is another piece of work.
    let other = store
        .jobs()
        .enqueue_job(&NewJob::new("sbom", json!(1)).dedup_key("artifact:1"))
        .await
        .unwrap();
    assert!(other.created);
    // Running still holds the key; finished releases it.
    store
        .jobs()
        .claim_jobs("scan", "a", 1, LEASE)
        .await
        .unwrap();
    assert!(!store.jobs().enqueue_job(&new).await.unwrap().created);
    store.jobs().complete_job(first.job.id, "a").await.unwrap();
    let fresh = store.jobs().enqueue_job(&new).await.unwrap();
    assert!(fresh.created);
    assert_ne!(fresh.job.id, first.job.id);
    // Jobs without a key never collide.
    let a = store
        .jobs()
        .enqueue_job(&NewJob::new("scan", json!(2)))
        .await
        .unwrap();
    let b = store
        .jobs()
        .enqueue_job(&NewJob::new("scan", json!(2)))
        .await
        .unwrap();
    assert!(a.created && b.created);
}

pub async fn invalid_jobs_are_refused(store: MetaStore) {
    let err = store
        .jobs()
        .enqueue_job(&NewJob::new("", json!(null)))
        .await;
    assert!(matches!(err, Err(Error::Invalid(_))));
    let err = store
        .jobs()
        .enqueue_job(&NewJob::new("scan", json!(null)).max_attempts(0))
        .await;
    assert!(matches!(err, Err(Error::Invalid(_))));
}

pub async fn future_jobs_wait(store: MetaStore) {
    let later = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    store
        .jobs()
        .enqueue_job(&NewJob::new("gc", json!(null)).run_at(later))
        .await
        .unwrap();
    let now = store
        .jobs()
        .enqueue_job(&NewJob::new("gc", json!(null)))
        .await
        .unwrap();
    let claimed = store.jobs().claim_jobs("gc", "a", 10, LEASE).await.unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        [now.job.id]
    );
    assert!(
        store
            .jobs()
            .claim_jobs("gc", "a", 0, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn retry_counts_attempts_reschedule_does_not(store: MetaStore) {
    let job = store
        .jobs()
        .enqueue_job(&NewJob::new("hook", json!(null)).max_attempts(2))
        .await
        .unwrap()
        .job;
    store
        .jobs()
        .claim_jobs("hook", "a", 1, LEASE)
        .await
        .unwrap();
    let soon = OffsetDateTime::now_utc() + Duration::from_millis(200);
    assert!(
        store
            .jobs()
            .retry_job(job.id, "a", "HTTP 503", soon)
            .await
            .unwrap()
    );
    let pending = store.jobs().get_job(job.id).await.unwrap().unwrap();
    assert_eq!(pending.state, JobState::Pending);
    assert_eq!(pending.attempts, 1);
    assert_eq!(pending.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(pending.lease_owner, None);
    assert!(
        store
            .jobs()
            .claim_jobs("hook", "a", 1, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "backing off"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = store
        .jobs()
        .claim_jobs("hook", "a", 1, LEASE)
        .await
        .unwrap();
    assert_eq!(second[0].attempts, 2);
    // "Run me again later" gives the attempt back.
    assert!(
        store
            .jobs()
            .reschedule_job(job.id, "a", OffsetDateTime::now_utc())
            .await
            .unwrap()
    );
    let again = store
        .jobs()
        .claim_jobs("hook", "a", 1, LEASE)
        .await
        .unwrap();
    assert_eq!(again[0].attempts, 2);
    assert!(
        store
            .jobs()
            .fail_job(job.id, "a", "gone for good")
            .await
            .unwrap()
    );
    let failed = store.jobs().get_job(job.id).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("gone for good"));
    assert!(failed.finished_at.is_some());
}

pub async fn expired_lease_is_claimable_by_another_owner(store: MetaStore) {
    let job = store
        .jobs()
        .enqueue_job(&NewJob::new("scan", json!(null)))
        .await
        .unwrap()
        .job;
    let short = Duration::from_millis(100);
    store
        .jobs()
        .claim_jobs("scan", "dead", 1, short)
        .await
        .unwrap();
    assert!(
        store
            .jobs()
            .claim_jobs("scan", "b", 1, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    // A live owner keeps the job by renewing.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let renewed = store
        .jobs()
        .renew_job_lease(job.id, "dead", short)
        .await
        .unwrap();
    assert_eq!(renewed.map(|r| r.stop_requested), Some(false));
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(
        store
            .jobs()
            .claim_jobs("scan", "b", 1, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    // Then it stops renewing, as a killed node would.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let taken = store
        .jobs()
        .claim_jobs("scan", "b", 1, LEASE)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].lease_owner.as_deref(), Some("b"));
    assert_eq!(taken[0].attempts, 2);
    // The old owner learns it lost the job and can no longer record anything.
    assert_eq!(
        store
            .jobs()
            .renew_job_lease(job.id, "dead", short)
            .await
            .unwrap(),
        None
    );
    assert!(!store.jobs().complete_job(job.id, "dead").await.unwrap());
    assert!(
        !store
            .jobs()
            .set_job_progress(job.id, "dead", 50, "x")
            .await
            .unwrap()
    );
    assert!(store.jobs().complete_job(job.id, "b").await.unwrap());
}

pub async fn exhausted_expired_jobs_fail(store: MetaStore) {
    let last = store
        .jobs()
        .enqueue_job(&NewJob::new("scan", json!(1)).max_attempts(1))
        .await
        .unwrap()
        .job;
    let stopping = store
        .jobs()
        .enqueue_job(&NewJob::new("scan", json!(2)))
        .await
        .unwrap()
        .job;
    store
        .jobs()
        .claim_jobs("scan", "dead", 2, Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(
        store.jobs().request_job_stop(stopping.id).await.unwrap(),
        StopRequest::Requested
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        store
            .jobs()
            .claim_jobs("scan", "b", 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let failed = store.jobs().get_job(last.id).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert!(failed.last_error.unwrap().contains("lease expired"));
    let stopped = store.jobs().get_job(stopping.id).await.unwrap().unwrap();
    assert_eq!(stopped.state, JobState::Stopped);
}

pub async fn stop_requests_follow_the_state(store: MetaStore) {
    let pending = store
        .jobs()
        .enqueue_job(&NewJob::new("scan", json!(1)))
        .await
        .unwrap()
        .job;
    assert_eq!(
        store.jobs().request_job_stop(pending.id).await.unwrap(),
        StopRequest::Stopped
    );
    assert_eq!(
        store
            .jobs()
            .get_job(pending.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        JobState::Stopped
    );
    assert_eq!(
        store.jobs().request_job_stop(pending.id).await.unwrap(),
        StopRequest::AlreadyFinished(JobState::Stopped)
    );
    let running = store
        .jobs()
        .enqueue_job(&NewJob::new("scan", json!(2)))
        .await
        .unwrap()
        .job;
    store
        .jobs()
        .claim_jobs("scan", "a", 1, LEASE)
        .await
        .unwrap();
    assert_eq!(
        store.jobs().request_job_stop(running.id).await.unwrap(),
        StopRequest::Requested
    );
    let renewal = store
        .jobs()
        .renew_job_lease(running.id, "a", LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(renewal.stop_requested);
    // A retry that races the stop request ends stopped, not pending.
    assert!(
        store
            .jobs()
            .retry_job(running.id, "a", "cancelled", OffsetDateTime::now_utc())
            .await
            .unwrap()
    );
    let job = store.jobs().get_job(running.id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Stopped);
    assert!(job.finished_at.is_some());
    assert!(matches!(
        store
            .jobs()
            .request_job_stop(portcullis_meta::JobId(999_999))
            .await,
        Err(Error::NotFound)
    ));
    let marked = store
        .jobs()
        .enqueue_job(&NewJob::new("scan", json!(3)))
        .await
        .unwrap()
        .job;
    store
        .jobs()
        .claim_jobs("scan", "a", 1, LEASE)
        .await
        .unwrap();
    assert!(store.jobs().mark_job_stopped(marked.id, "a").await.unwrap());
    assert_eq!(
        store.jobs().request_job_stop(marked.id).await.unwrap(),
        StopRequest::AlreadyFinished(JobState::Stopped)
    );
}

pub async fn release_gives_the_job_back_at_once(store: MetaStore) {
    let job = store
        .jobs()
        .enqueue_job(&NewJob::new("scan", json!(1)))
        .await
        .unwrap()
        .job;
    store
        .jobs()
        .claim_jobs("scan", "a", 1, LEASE)
        .await
        .unwrap();
    assert!(store.jobs().release_job(job.id, "a").await.unwrap());
    let taken = store
        .jobs()
        .claim_jobs("scan", "b", 1, LEASE)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].attempts, 1, "a released attempt does not count");
}

pub async fn progress_listing_counts_and_purge(store: MetaStore) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let kind = if i < 3 { "scan" } else { "gc" };
        ids.push(
            store
                .jobs()
                .enqueue_job(&NewJob::new(kind, json!(i)))
                .await
                .unwrap()
                .job
                .id,
        );
    }
    let claimed = store
        .jobs()
        .claim_jobs("scan", "a", 1, LEASE)
        .await
        .unwrap();
    let first = claimed[0].id;
    assert_eq!(first, ids[0], "oldest due job first");
    assert!(
        store
            .jobs()
            .set_job_progress(first, "a", 140, "layer 3/4")
            .await
            .unwrap()
    );
    let job = store.jobs().get_job(first).await.unwrap().unwrap();
    assert_eq!(
        (job.progress_percent, job.progress_message.as_str()),
        (100, "layer 3/4")
    );
    store.jobs().complete_job(first, "a").await.unwrap();

    let q = |kind: Option<&str>, state, page, page_size| JobQuery {
        kind: kind.map(str::to_string),
        state,
        page,
        page_size,
    };
    let (all, total) = store.jobs().list_jobs(&q(None, None, 1, 10)).await.unwrap();
    assert_eq!(total, 5);
    let listed: Vec<_> = all.iter().map(|j| j.id).collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    let (page2, total) = store
        .jobs()
        .list_jobs(&q(Some("scan"), None, 2, 2))
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(page2.iter().map(|j| j.id).collect::<Vec<_>>(), [ids[0]]);
    let (pending, total) = store
        .jobs()
        .list_jobs(&q(Some("scan"), Some(JobState::Pending), 1, 10))
        .await
        .unwrap();
    assert_eq!((pending.len(), total), (2, 2));

    let counts: Vec<_> = store
        .jobs()
        .job_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.state, c.count))
        .collect();
    assert_eq!(
        counts,
        [
            ("gc".to_string(), JobState::Pending, 2),
            ("scan".to_string(), JobState::Pending, 2),
            ("scan".to_string(), JobState::Succeeded, 1),
        ]
    );
    let past = OffsetDateTime::now_utc() - Duration::from_secs(60);
    assert_eq!(store.jobs().purge_finished_jobs(past).await.unwrap(), 0);
    let future = OffsetDateTime::now_utc() + Duration::from_secs(60);
    assert_eq!(store.jobs().purge_finished_jobs(future).await.unwrap(), 1);
    assert_eq!(store.jobs().get_job(first).await.unwrap(), None);
}

pub async fn concurrent_claims_never_share_a_job(store: MetaStore) {
    for i in 0..40 {
        store
            .jobs()
            .enqueue_job(&NewJob::new("scan", json!(i)))
            .await
            .unwrap();
    }
    let tasks = (0..8).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let owner = format!("node-{n}");
            let mut mine = Vec::new();
            loop {
                let got = store
                    .jobs()
                    .claim_jobs("scan", &owner, 3, LEASE)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
        })
    });
    let claimed: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .flat_map(|r| r.expect("task"))
        .collect();
    let distinct: HashSet<_> = claimed.iter().collect();
    assert_eq!(claimed.len(), 40);
    assert_eq!(distinct.len(), 40);
}
