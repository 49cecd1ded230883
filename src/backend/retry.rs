//! Retrying transient failures with jittered exponential backoff.
//!
//! Only failures the caller classifies as transient (throttling, 5xx, connection resets,
//! timeouts) are retried; a not-found or access-denied answer is final on the first attempt.

use std::future::Future;
use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub base: Duration,
    /// Upper bound of one delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1-based): full jitter over an exponential cap,
    /// so a fleet of starting pods does not retry in lockstep.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self.base.saturating_mul(1 << retry.saturating_sub(1).min(16));
        let cap = exp.min(self.max_delay);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(millis / 2 + fastrand::u64(0..=millis / 2))
    }

    /// Run `op` until it succeeds, fails permanently or runs out of attempts. Returns the last
    /// result and the number of attempts made.
    pub async fn run<T, E, F, Fut>(&self, is_transient: impl Fn(&E) -> bool, mut op: F) -> (Result<T, E>, u32)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 1;
        loop {
            match op().await {
                Err(e) if attempt < self.attempts.max(1) && is_transient(&e) => {
                    tokio::time::sleep(self.delay(attempt)).await;
                    attempt += 1;
                }
                result => return (result, attempt),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test(start_paused = true)]
    async fn retries_only_transient_failures() {
        let policy = RetryPolicy::default();
        let calls = Cell::new(0);
        let (result, attempts) = policy
            .run(
                |e: &&str| *e == "busy",
                || {
                    calls.set(calls.get() + 1);
                    async { if calls.get() < 3 { Err("busy") } else { Ok(7) } }
                },
            )
            .await;
        assert_eq!((result, attempts), (Ok(7), 3));

        let (result, attempts) = policy
            .run(|e: &&str| *e == "busy", || async { Err::<(), _>("denied") })
            .await;
        assert_eq!((result, attempts), (Err("denied"), 1));

        let (result, attempts) = policy.run(|_: &&str| true, || async { Err::<(), _>("busy") }).await;
        assert_eq!((result, attempts), (Err("busy"), 4));
    }

    #[test]
    fn delays_grow_and_stay_bounded() {
        let p = RetryPolicy::default();
        for retry in 1..20 {
            let d = p.delay(retry);
            assert!(d <= p.max_delay, "{d:?}");
        }
        assert!(p.delay(1) <= Duration::from_millis(100));
        assert!(p.delay(1) >= Duration::from_millis(50));
    }
}
