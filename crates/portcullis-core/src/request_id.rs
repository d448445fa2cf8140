//! The id of the HTTP request being served (Harbor's `X-Request-Id`), carried in a task
//! local so that events built while serving it name it (CloudEvents `requestid`) without
//! threading it through every service call.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request this task is serving, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `f` as the serving of request `id`.
pub async fn scope<F: std::future::Future>(id: String, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

/// A fresh id in UUID form: a random per-process prefix and a counter, so that minting
/// one on every request costs no system call.
pub fn fresh() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    uuid::Uuid::from_u64_pair(prefix, NEXT.fetch_add(1, Ordering::Relaxed)).to_string()
}

/// A client's id is kept when it is short, printable ASCII; anything else is replaced.
pub fn accept(client: Option<&str>) -> String {
    match client {
        Some(id)
            if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            id.to_string()
        }
        _ => fresh(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ids_in_scope() {
        assert_eq!(current(), None);
        let seen = scope("abc".into(), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("abc"));
        assert_ne!(fresh(), fresh());
        assert_eq!(accept(Some("req-1")), "req-1");
        assert_ne!(accept(Some("bad id")), "bad id");
        assert_eq!(accept(None).len(), 36);
    }
}
