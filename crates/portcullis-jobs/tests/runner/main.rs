//! The runner against every backend: SQLite (a temporary file) and PostgreSQL (a
//! throwaway database on `PORTCULLIS_TEST_PG_URL`).

mod cases;
mod common;

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

macro_rules! backend_suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::on_sqlite(crate::cases::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::on_postgres(crate::cases::$case).await;
                }
            )*
        }
    };
}

backend_suite!(
    enqueue_run_complete,
    retries_back_off_then_fail,
    a_retry_can_succeed,
    permanent_errors_and_panics,
    again_does_not_count_an_attempt,
    dead_runner_job_is_taken_over,
    concurrency_limit_per_kind,
    stop_a_running_job,
    stop_reaches_another_node,
    graceful_shutdown_releases_unfinished_jobs,
    cron_schedule_fires_once_across_two_runners,
);
