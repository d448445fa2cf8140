//! The job worker that delivers one webhook task: one HTTP POST per attempt, every
//! attempt recorded; the job runner owns retries (with backoff), leases and restarts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use portcullis_jobs::{JobContext, JobError, Outcome, Worker};
use portcullis_meta::{MetaStore, NewWebhookAttempt, WebhookDelivery};

/// Header carrying the HMAC-SHA256 of the exact body, as `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Portcullis-Signature-256";
/// Header naming the delivery (the task id): the same on every attempt, so that a
/// receiver can drop the duplicates at-least-once delivery may bring.
pub const DELIVERY_HEADER: &str = "X-Portcullis-Delivery";
/// Bytes of a receiver's answer kept with the attempt.
const EXCERPT: usize = 512;

/// Attempts by outcome since start, for metrics.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
}

pub static COUNTERS: DeliveryCounters = DeliveryCounters {
    succeeded: AtomicU64::new(0),
    failed: AtomicU64::new(0),
};

/// Delivers `webhook` jobs.
pub struct WebhookWorker {
    meta: MetaStore,
    verified: reqwest::Client,
    unverified: reqwest::Client,
}

impl WebhookWorker {
    /// A worker whose attempts give up after `timeout`.
    pub fn new(meta: MetaStore, timeout: Duration) -> Result<Self, reqwest::Error> {
        let build = |skip_verify: bool| {
            reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("portcullis-webhook/", env!("CARGO_PKG_VERSION")))
                .tls_danger_accept_invalid_certs(skip_verify)
                .build()
        };
        Ok(WebhookWorker {
            meta,
            verified: build(false)?,
            unverified: build(true)?,
        })
    }
}

/// `sha256=<hex>` of the HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Worker for WebhookWorker {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        let task_id = job
            .payload()
            .get("task_id")
            .and_then(|v| v.as_i64())
            .ok_or_else(|| JobError::permanent("webhook job without a task id"))?;
        let Some(d) = self.meta.webhooks().webhook_delivery(task_id).await? else {
            return Err(JobError::permanent(
                "the webhook task or its policy was deleted",
            ));
        };
        if !d.policy.enabled {
            return Err(JobError::permanent("the webhook policy is disabled"));
        }
        let started = Instant::now();
        let sent = tokio::select! {
            r = self.send(&d) => r,
            () = job.cancelled() => return Err(JobError::retry("delivery interrupted")),
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (status_code, response, error) = match sent {
            Ok((status, excerpt)) => (Some(status), excerpt, None),
            Err(e) => (None, String::new(), Some(error_chain(&e))),
        };
        let ok = status_code.is_some_and(|s| (200..300).contains(&s));
        self.meta
            .webhooks()
            .record_webhook_attempt(&NewWebhookAttempt {
                task_id,
                attempt: job.attempt(),
                status_code,
                duration_ms,
                response,
                error: error.clone(),
            })
            .await?;
        if ok {
            COUNTERS.succeeded.fetch_add(1, Ordering::Relaxed);
            return Ok(Outcome::Done);
        }
        COUNTERS.failed.fetch_add(1, Ordering::Relaxed);
        Err(JobError::retry(match (status_code, error) {
            (Some(s), _) => format!("{} answered HTTP {s}", d.task.address),
            (None, Some(e)) => format!("{}: {e}", d.task.address),
            (None, None) => format!("{}: no answer", d.task.address),
        }))
    }
}

impl WebhookWorker {
    async fn send(&self, d: &WebhookDelivery) -> Result<(u16, String), reqwest::Error> {
        let target = d
            .policy
            .targets
            .iter()
            .find(|t| t.address == d.task.address && t.notify_type == d.task.notify_type);
        let client = match target {
            Some(t) if t.skip_cert_verify => &self.unverified,
            _ => &self.verified,
        };
        let mut req = client
            .post(&d.task.address)
            .header(reqwest::header::CONTENT_TYPE, &d.task.content_type)
            .header(DELIVERY_HEADER, d.task.id.to_string());
        if let Some(t) = target.filter(|t| !t.auth_header.is_empty()) {
            req = req.header(reqwest::header::AUTHORIZATION, &t.auth_header);
        }
        if let Some(secret) = d.policy.secret.as_deref().filter(|s| !s.is_empty()) {
            req = req.header(SIGNATURE_HEADER, signature(secret, d.body.as_bytes()));
        }
        let mut resp = req.body(d.body.clone()).send().await?;
        let status = resp.status().as_u16();
        let mut excerpt = Vec::new();
        while excerpt.len() < EXCERPT {
            match resp.chunk().await {
                Ok(Some(c)) => excerpt.extend_from_slice(&c),
                // The status is what counts; a body cut short changes nothing.
                Ok(None) | Err(_) => break,
            }
        }
        excerpt.truncate(EXCERPT);
        Ok((status, String::from_utf8_lossy(&excerpt).into_owned()))
    }
}

fn error_chain(e: &reqwest::Error) -> String {
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
