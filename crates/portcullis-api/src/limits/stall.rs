//! A deadline that runs only while a transfer waits: armed when a read or write is
//! pending, cleared by any progress. Unlike a deadline per request or per frame, time a
//! handler spends elsewhere (hashing, an S3 part upload) never counts against the client.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

pub struct Stall {
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
    armed: bool,
}

impl Stall {
    pub fn new(timeout: Duration) -> Self {
        Stall {
            timeout,
            sleep: Box::pin(tokio::time::sleep_until(Instant::now() + timeout)),
            armed: false,
        }
    }

    /// The transfer moved: the next wait starts a fresh deadline.
    pub fn progress(&mut self) {
        self.armed = false;
    }

    /// The transfer is waiting; true once it has waited `timeout` without progress.
    /// Registers the waker, so the caller is woken when the deadline passes.
    pub fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.armed {
            self.sleep.as_mut().reset(Instant::now() + self.timeout);
            self.armed = true;
        }
        self.sleep.as_mut().poll(cx).is_ready()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Poll;

    async fn waiting(s: &mut Stall) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(s.expired(cx))).await
    }

    #[tokio::test]
    async fn expires_after_a_whole_wait_without_progress() {
        let mut s = Stall::new(Duration::from_millis(50));
        assert!(!waiting(&mut s).await);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(waiting(&mut s).await);
    }

    #[tokio::test]
    async fn time_outside_a_wait_does_not_count() {
        let mut s = Stall::new(Duration::from_millis(50));
        assert!(!waiting(&mut s).await);
        s.progress();
        tokio::time::sleep(Duration::from_millis(80)).await;
        // The next wait starts its own clock.
        assert!(!waiting(&mut s).await);
    }
}
