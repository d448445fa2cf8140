//! Cron schedules stored as rows and fired once per due time.

use std::time::Duration;

use futures::future::join_all;
use portcullis_meta::{FireOutcome, JobState, MetaStore, NewSchedule};
use serde_json::json;
use time::OffsetDateTime;

fn schedule(name: &str, next_run_at: OffsetDateTime) -> NewSchedule {
    NewSchedule {
        name: name.to_string(),
        kind: "scan-all".to_string(),
        payload: json!({"trigger": "schedule"}),
        cron: "0 0 * * * *".to_string(),
        max_attempts: 2,
        enabled: true,
        next_run_at,
    }
}

fn ago(secs: u64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - Duration::from_secs(secs)
}

pub async fn schedules_are_upserted_and_listed(store: MetaStore) {
    let later = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    let created = store
        .schedules()
        .put_schedule(&schedule("scan-all", later))
        .await
        .unwrap();
    assert_eq!(created.cron, "0 0 * * * *");
    let mut edited = schedule("scan-all", later);
    edited.cron = "0 30 2 * * *".to_string();
    edited.enabled = false;
    let updated = store.schedules().put_schedule(&edited).await.unwrap();
    assert_eq!(updated.id, created.id);
    assert!(!updated.enabled);
    assert_eq!(updated.cron, "0 30 2 * * *");
    store
        .schedules()
        .put_schedule(&schedule("gc", later))
        .await
        .unwrap();
    let names: Vec<_> = store
        .schedules()
        .list_schedules()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["gc", "scan-all"]);
    assert_eq!(
        store.schedules().get_schedule("scan-all").await.unwrap(),
        Some(updated)
    );
    assert!(store.schedules().delete_schedule("gc").await.unwrap());
    assert!(!store.schedules().delete_schedule("gc").await.unwrap());
    assert_eq!(store.schedules().get_schedule("gc").await.unwrap(), None);
    let mut bad = schedule("x", later);
    bad.cron = " ".to_string();
    assert!(store.schedules().put_schedule(&bad).await.is_err());
}

pub async fn a_due_schedule_fires_once(store: MetaStore) {
    let later = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    store
        .schedules()
        .put_schedule(&schedule("later", later))
        .await
        .unwrap();
    let mut disabled = schedule("off", ago(10));
    disabled.enabled = false;
    store.schedules().put_schedule(&disabled).await.unwrap();
    store
        .schedules()
        .put_schedule(&schedule("due", ago(10)))
        .await
        .unwrap();
    let due = store.schedules().due_schedules(10).await.unwrap();
    assert_eq!(
        due.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["due"]
    );
    let FireOutcome::Enqueued(job) = store
        .schedules()
        .fire_schedule(&due[0], later)
        .await
        .unwrap()
    else {
        panic!("expected a job");
    };
    assert_eq!(job.kind, "scan-all");
    assert_eq!(job.payload, json!({"trigger": "schedule"}));
    assert_eq!(job.max_attempts, 2);
    assert_eq!(job.dedup_key.as_deref(), Some("schedule:due"));
    // The same due time cannot fire twice.
    assert_eq!(
        store
            .schedules()
            .fire_schedule(&due[0], later)
            .await
            .unwrap(),
        FireOutcome::NotDue
    );
    let after = store
        .schedules()
        .get_schedule("due")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.next_run_at, time_us(later));
    assert_eq!(after.last_job_id, Some(job.id));
    assert!(after.last_run_at.is_some());
    assert!(
        store
            .schedules()
            .due_schedules(10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn concurrent_fires_enqueue_one_job(store: MetaStore) {
    store
        .schedules()
        .put_schedule(&schedule("due", ago(5)))
        .await
        .unwrap();
    let due = store.schedules().due_schedules(1).await.unwrap().remove(0);
    let next = OffsetDateTime::now_utc() + Duration::from_secs(60);
    let tasks = (0..8).map(|_| {
        let store = store.clone();
        let due = due.clone();
        tokio::spawn(async move { store.schedules().fire_schedule(&due, next).await.unwrap() })
    });
    let outcomes: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let fired = outcomes
        .iter()
        .filter(|o| matches!(o, FireOutcome::Enqueued(_)))
        .count();
    assert_eq!(fired, 1);
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == FireOutcome::NotDue)
            .count(),
        7
    );
    let (_, total) = store
        .jobs()
        .list_jobs(&portcullis_meta::JobQuery {
            kind: Some("scan-all".into()),
            page: 1,
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 1);
}

pub async fn an_unfinished_run_is_not_doubled(store: MetaStore) {
    store
        .schedules()
        .put_schedule(&schedule("due", ago(5)))
        .await
        .unwrap();
    let first = store.schedules().due_schedules(1).await.unwrap().remove(0);
    let FireOutcome::Enqueued(job) = store
        .schedules()
        .fire_schedule(&first, ago(1))
        .await
        .unwrap()
    else {
        panic!("expected a job");
    };
    let second = store.schedules().due_schedules(1).await.unwrap().remove(0);
    let later = OffsetDateTime::now_utc() + Duration::from_secs(60);
    match store
        .schedules()
        .fire_schedule(&second, later)
        .await
        .unwrap()
    {
        FireOutcome::StillRunning(existing) => {
            assert_eq!(existing.id, job.id);
            assert_eq!(existing.state, JobState::Pending);
        }
        other => panic!("expected StillRunning, got {other:?}"),
    }
    assert_eq!(
        store
            .schedules()
            .get_schedule("due")
            .await
            .unwrap()
            .unwrap()
            .next_run_at,
        time_us(later),
        "the schedule moved on anyway"
    );
}

/// `t` as both backends store it: UTC, whole microseconds.
fn time_us(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap()
}
