//! One test suite for the metadata store, run against every backend: SQLite (a temporary
//! file) and PostgreSQL (a throwaway database on `PORTCULLIS_TEST_PG_URL`).

mod access;
mod artifacts;
mod concurrency;
mod fixtures;
mod labels;
mod outbox;
mod projects;
mod references;
mod repositories;
mod scanners;
mod scans;
mod webhooks;

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
    assert_eq!(store.backend_name(), "sqlite");
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
    assert_eq!(store.backend_name(), "postgres");
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
    scans::reports_move_through_their_states,
    scans::scan_all_counts_and_rejudging,
    scans::layer_inventories_by_digest_and_version,
    scans::scannable_artifacts_are_distinct_digests,
    scans::reports_go_with_the_last_artifact_of_their_digest,
    projects::users_are_unique_and_editable,
    projects::users_page_with_totals,
    projects::projects_are_unique,
    projects::project_listing_filters_and_pages,
    projects::project_metadata_merges_and_syncs_public,
    projects::delete_project_refuses_non_empty,
    repositories::ensure_repository_is_idempotent,
    repositories::repository_listing_filters_and_pages,
    repositories::catalog_pages_in_byte_order,
    repositories::blobs_are_linked_per_repository,
    repositories::delete_repository_cascades,
    artifacts::put_manifest_records_and_resolves,
    artifacts::put_manifest_again_keeps_the_row,
    artifacts::put_manifest_missing_blob_writes_nothing,
    artifacts::uploads_count_against_the_quota,
    artifacts::tags_move_and_page,
    references::referrers_filter_by_artifact_type,
    references::index_children_block_deletion,
    artifacts::artifacts_page_newest_first,
    artifacts::pulls_are_recorded_in_batches,
    concurrency::concurrent_ensure_repository,
    concurrency::concurrent_put_of_one_digest,
    concurrency::concurrent_tag_moves_are_serialised,
    access::members_hold_one_role_per_project,
    access::robots_round_trip,
    access::audit_filters_pages_and_purges,
    access::browsing_lookups,
    labels::labels_are_scoped_and_attach_to_artifacts,
    labels::copy_of_a_tree_is_all_or_nothing,
    outbox::events_commit_with_the_push_and_complete_once,
    outbox::expired_leases_are_claimed_again,
    outbox::repository_deletes_write_their_events,
    webhooks::policies_round_trip,
    webhooks::deliveries_are_jobs_with_attempts,
    scanners::registrations_keep_one_default,
    scanners::projects_choose_scanners,
    scanners::adapter_scans_are_durable,
);
