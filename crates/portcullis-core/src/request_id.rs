//! The id of the HTTP request being served (`X-Request-Id`), carried in a task
//! local so that events built while serving it name it (CloudEvents `requestid`) without
//! threading it through every service call.

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request this task is serving, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// `f`, run as the serving of request `id`.
pub fn scope<F: std::future::Future>(
    id: String,
    f: F,
) -> tokio::task::futures::TaskLocalFuture<String, F> {
    REQUEST_ID.scope(id, f)
}

/// A fresh id in UUID form: a random per-process prefix and a counter, so that minting
/// one on every request costs no system call.
pub fn fresh() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    uuid::Uuid::from_u64_pair(prefix, NEXT.fetch_add(1, Ordering::Relaxed)).to_string()
}

/// A client's id, kept when it is short, printable ASCII.
pub fn accept(client: Option<&str>) -> Option<String> {
    client
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ids_in_scope() {
        assert_eq!(current(), None);
        let seen = scope("abc".into(), async { current() }).await;
        assert_eq!(seen.as_deref(), Some("abc"));
        assert_eq!(accept(Some("req-1")).as_deref(), Some("req-1"));
        assert_eq!(accept(Some("bad id")), None);
        assert_eq!(accept(None), None);
        assert_ne!(fresh(), fresh());
        assert_eq!(fresh().len(), 36);
    }
}
