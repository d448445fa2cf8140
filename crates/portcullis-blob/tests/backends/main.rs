//! One test suite for every backend: each case in `cases` runs once on the filesystem and
//! once on a real S3 server (moto) started by the test.

mod cases;
mod harness;
mod sessions;

/// Declares a test per backend for each named case.
macro_rules! backend_suite {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod fs {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::$module::$case(&crate::harness::Harness::fs()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $case() {
                    if let Some(h) = crate::harness::Harness::s3() {
                        crate::$module::$case(&h).await;
                    }
                }
            )*
        }
    };
}

backend_suite!(
    cases::health_and_reopen,
    cases::put_get_stat_delete,
    cases::put_bytes_rejects_wrong_digest,
    cases::dedup,
    cases::range_reads,
    cases::stream_with_right_digest,
    cases::stream_with_wrong_digest_publishes_nothing,
    cases::stream_body_error_publishes_nothing,
    cases::empty_blob,
    cases::sha512,
    cases::concurrent_publishes,
    cases::list_blobs,
    sessions::chunked_upload,
    sessions::out_of_order_append,
    sessions::status_and_list,
    sessions::cancel,
    sessions::expiry,
    sessions::complete_with_wrong_digest,
    sessions::restart_mid_upload,
    sessions::failed_append_leaves_session_unchanged,
    sessions::sha512_session,
    sessions::concurrent_sessions_same_digest,
);
