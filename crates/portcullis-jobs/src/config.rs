//! How a runner claims, leases and retries.

use std::collections::BTreeMap;
use std::time::Duration;

/// Settings of one [`crate::Runner`].
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Names this runner as the lease owner of the jobs it claims; unique per process.
    pub node_id: String,
    /// How often the runner looks for due jobs and schedules when nothing woke it.
    pub poll_interval: Duration,
    /// How long a claim holds a job without renewal; after that another node may take it.
    pub lease: Duration,
    /// How often a running job's lease is renewed (well under `lease`).
    pub heartbeat: Duration,
    /// Jobs of one kind this runner runs at once, unless `concurrency` names the kind.
    pub default_concurrency: usize,
    /// Jobs this runner runs at once, per kind.
    pub concurrency: BTreeMap<String, usize>,
    /// Delay before a failed attempt is retried, unless `backoff_per_kind` names the kind.
    pub backoff: Backoff,
    /// Retry delays per kind (webhook receivers want quicker retries than scanners).
    pub backoff_per_kind: BTreeMap<String, Backoff>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            node_id: default_node_id(),
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            default_concurrency: 4,
            concurrency: BTreeMap::new(),
            backoff: Backoff::default(),
            backoff_per_kind: BTreeMap::new(),
        }
    }
}

impl RunnerConfig {
    /// The retry delays of `kind`.
    pub fn backoff_for(&self, kind: &str) -> &Backoff {
        self.backoff_per_kind.get(kind).unwrap_or(&self.backoff)
    }

    /// The concurrency limit for `kind` (at least 1).
    pub fn limit(&self, kind: &str) -> usize {
        self.concurrency
            .get(kind)
            .copied()
            .unwrap_or(self.default_concurrency)
            .max(1)
    }
}

/// Host name, process id and a random suffix: two runners in one process still differ.
fn default_node_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".to_string());
    format!("{host}-{}-{:08x}", std::process::id(), fastrand::u32(..))
}

/// Exponential backoff with jitter: attempt `n` waits about `base · 2^(n-1)`, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The delay after the first failed attempt.
    pub base: Duration,
    /// No delay is longer.
    pub max: Duration,
    /// Fraction (0–1) by which each delay is spread up or down at random, so that jobs
    /// failing together (a webhook endpoint down) do not retry together.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(5),
            max: Duration::from_secs(30 * 60),
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// The delay before the retry that follows failed attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(32);
        let nominal = self
            .base
            .saturating_mul(1u32 << exponent.min(31))
            .min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (fastrand::f64() * 2.0 - 1.0);
        nominal.mul_f64(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter: 0.0,
        };
        let delays: Vec<_> = (1..=6).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(0).as_millis(), 100);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let b = Backoff {
            base: Duration::from_millis(1000),
            max: Duration::from_secs(60),
            jitter: 0.25,
        };
        let delays: Vec<_> = (0..200).map(|_| b.delay(1).as_millis()).collect();
        assert!(delays.iter().all(|d| (750..=1250).contains(d)));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 10, "jitter spreads the delays");
    }

    #[test]
    fn limits_fall_back_to_the_default() {
        let mut c = RunnerConfig {
            default_concurrency: 3,
            ..Default::default()
        };
        c.concurrency.insert("scan".into(), 1);
        c.concurrency.insert("gc".into(), 0);
        assert_eq!(c.limit("scan"), 1);
        assert_eq!(c.limit("webhook"), 3);
        assert_eq!(c.limit("gc"), 1, "zero would starve the kind");
        assert_ne!(
            RunnerConfig::default().node_id,
            RunnerConfig::default().node_id
        );
    }
}
