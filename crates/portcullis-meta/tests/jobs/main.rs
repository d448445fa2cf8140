//! The job queue's store methods, run against every backend: SQLite (a temporary file)
//! and PostgreSQL (a throwaway database on `PORTCULLIS_TEST_PG_URL`).

mod queue;
mod schedules;

use std::future::Future;

use portcullis_meta::MetaStore;
use portcullis_meta::testing::temp_pg_database_or_panic;

/// Runs `case` on a fresh SQLite store in a temporary directory.
pub async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(MetaStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite:{}", dir.path().join("meta.db").display());
    let store = MetaStore::connect(&url).await.expect("open SQLite store");
    case(store.clone()).await;
    store.close().await;
}

/// Runs `case` on a fresh PostgreSQL database, dropped afterwards (also on panic).
pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(MetaStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((url, guard)) = temp_pg_database_or_panic().await else {
        return;
    };
    let store = MetaStore::connect(&url)
        .await
        .expect("open PostgreSQL store");
    case(store.clone()).await;
    store.close().await;
    guard.drop_database().await.expect("drop test database");
}

/// Declares each case once per backend: `sqlite::<case>` and `postgres::<case>`.
macro_rules! backend_suite {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::on_sqlite(crate::$module::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::on_postgres(crate::$module::$case).await;
                }
            )*
        }
    };
}

backend_suite!(
    queue::enqueue_claim_complete,
    queue::dedup_key_holds_while_unfinished,
    queue::invalid_jobs_are_refused,
    queue::future_jobs_wait,
    queue::retry_counts_attempts_reschedule_does_not,
    queue::expired_lease_is_claimable_by_another_owner,
    queue::exhausted_expired_jobs_fail,
    queue::stop_requests_follow_the_state,
    queue::release_gives_the_job_back_at_once,
    queue::progress_listing_counts_and_purge,
    queue::concurrent_claims_never_share_a_job,
    schedules::schedules_are_upserted_and_listed,
    schedules::a_due_schedule_fires_once,
    schedules::concurrent_fires_enqueue_one_job,
    schedules::an_unfinished_run_is_not_doubled,
);
