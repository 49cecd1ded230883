//! Retrying transient failures until the run's deadline, with capped exponential backoff and
//! full jitter, honouring a server's `Retry-After`.
//!
//! Only failures the caller classifies as transient (throttling, 5xx, refused or reset
//! connections, DNS failures, timeouts) are retried; a not-found or access-denied answer is final
//! on the first attempt. A pod whose network or secret manager is not ready yet (a sidecar that
//! starts seconds later, a Vault still getting endpoints) waits for it up to the deadline instead
//! of failing after a fixed count; a fleet throttled by a quota spreads its retries out.

use std::future::Future;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// How patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; `None` retries until the deadline.
    pub attempts: Option<u32>,
    /// The backoff cap of the first retry; doubles each time.
    pub base: Duration,
    /// Upper bound of one backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: None,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

pub use crate::error::Attempts;

/// What the retry loop is told about a failure.
pub(crate) struct Failure<'e, E> {
    /// The failure.
    pub error: &'e E,
    /// The time left before the deadline.
    pub remaining: Duration,
    /// How long the loop waits before the next attempt.
    pub wait: Duration,
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (1-based): full jitter over an exponential cap,
    /// so a fleet of starting pods does not retry in lockstep.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self.base.saturating_mul(1 << retry.saturating_sub(1).min(16));
        let cap = exp.min(self.max_delay);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=millis))
    }

    /// Run `op` until it succeeds, fails permanently, reaches the attempt cap, or the next
    /// attempt would start after `deadline`. `retry_after` reads a server's requested wait;
    /// `waiting` hears of each failure that is retried. Returns the last result and the attempts.
    pub(crate) async fn run<T, E, F, Fut>(
        &self,
        deadline: Instant,
        is_transient: impl Fn(&E) -> bool,
        retry_after: impl Fn(&E) -> Option<Duration>,
        mut waiting: impl FnMut(Failure<'_, E>),
        mut op: F,
    ) -> (Result<T, E>, Attempts)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let started = Instant::now();
        let mut count = 1;
        loop {
            let result = op().await;
            if let Err(e) = &result
                && is_transient(e)
                && self.attempts.is_none_or(|cap| count < cap)
            {
                let backoff = self.delay(count);
                let wait = retry_after(e).map_or(backoff, |asked| asked.max(backoff));
                let now = Instant::now();
                // Saturating: a server's `Retry-After: 18446744073709551615` is a wait past the
                // deadline, not an overflow.
                if now.checked_add(wait).is_some_and(|at| at < deadline) {
                    waiting(Failure {
                        error: e,
                        remaining: deadline - now,
                        wait,
                    });
                    tokio::time::sleep(wait).await;
                    count += 1;
                    continue;
                }
            }
            return (
                result,
                Attempts {
                    count,
                    elapsed: started.elapsed(),
                },
            );
        }
    }
}

/// A `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3), as a wait from now.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn far() -> Instant {
        Instant::now() + Duration::from_hours(1)
    }

    /// A server's largest `Retry-After` ends the retries at once instead of overflowing.
    #[tokio::test(start_paused = true)]
    async fn a_huge_retry_after_is_not_an_overflow() {
        let huge = parse_retry_after("18446744073709551615").unwrap();
        let policy = RetryPolicy::default();
        let calls = Cell::new(0);
        let (result, attempts) = policy
            .run(
                far(),
                |()| true,
                |()| Some(huge),
                |_| {},
                || {
                    calls.set(calls.get() + 1);
                    async { Err::<(), ()>(()) }
                },
            )
            .await;
        assert!(result.is_err());
        assert_eq!((calls.get(), attempts.count), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_only_transient_failures() {
        let policy = RetryPolicy::default();
        let calls = Cell::new(0);
        let (result, attempts) = policy
            .run(
                far(),
                |e: &&str| *e == "busy",
                |_| None,
                |_| {},
                || {
                    calls.set(calls.get() + 1);
                    async { if calls.get() < 3 { Err("busy") } else { Ok(7) } }
                },
            )
            .await;
        assert_eq!((result, attempts.count), (Ok(7), 3));

        let (result, attempts) = policy
            .run(
                far(),
                |e: &&str| *e == "busy",
                |_| None,
                |_| {},
                || async { Err::<(), _>("denied") },
            )
            .await;
        assert_eq!((result, attempts.count), (Err("denied"), 1));

        let capped = RetryPolicy {
            attempts: Some(4),
            ..policy
        };
        let (result, attempts) = capped
            .run(
                far(),
                |_: &&str| true,
                |_| None,
                |_| {},
                || async { Err::<(), _>("busy") },
            )
            .await;
        assert_eq!((result, attempts.count), (Err("busy"), 4));
    }

    /// Without a cap, a failing backend is retried until the deadline and no later; the
    /// waits add up to about the deadline, never past it.
    #[tokio::test(start_paused = true)]
    async fn retries_until_the_deadline() {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(30);
        let heard = Cell::new(0);
        let (result, attempts) = RetryPolicy::default()
            .run(
                deadline,
                |_: &&str| true,
                |_| None,
                |f| {
                    assert!(f.remaining <= Duration::from_secs(30));
                    heard.set(heard.get() + 1);
                },
                || async { Err::<(), _>("refused") },
            )
            .await;
        assert_eq!(result, Err("refused"));
        assert!(Instant::now() <= deadline);
        assert!(
            Instant::now() >= deadline - Duration::from_secs(5),
            "{:?}",
            Instant::now() - start
        );
        assert!(attempts.count > 8, "{attempts}");
        assert_eq!(heard.get(), attempts.count - 1);
        assert_eq!(attempts.elapsed, Instant::now() - start);
    }

    /// A backend that starts answering after 3 s is reached, with the default policy.
    #[tokio::test(start_paused = true)]
    async fn a_late_backend_is_waited_for() {
        let start = Instant::now();
        let (result, attempts) = RetryPolicy::default()
            .run(
                start + Duration::from_secs(30),
                |_: &&str| true,
                |_| None,
                |_| {},
                || async move {
                    if Instant::now() - start < Duration::from_secs(3) {
                        Err("refused")
                    } else {
                        Ok("up")
                    }
                },
            )
            .await;
        assert_eq!(result, Ok("up"));
        assert!(attempts.elapsed < Duration::from_secs(9), "{attempts}");
    }

    /// `Retry-After` is honoured (at least that long), and a wait past the deadline is not
    /// started: the failure is returned at once.
    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_within_the_deadline() {
        let start = Instant::now();
        let calls = Cell::new(0);
        let (result, attempts) = RetryPolicy::default()
            .run(
                start + Duration::from_secs(30),
                |_: &&str| true,
                |_| Some(Duration::from_secs(2)),
                |_| {},
                || {
                    calls.set(calls.get() + 1);
                    async { if calls.get() < 2 { Err("429") } else { Ok(()) } }
                },
            )
            .await;
        assert_eq!((result, attempts.count), (Ok(()), 2));
        assert!(Instant::now() - start >= Duration::from_secs(2));

        let start = Instant::now();
        let (result, attempts) = RetryPolicy::default()
            .run(
                start + Duration::from_secs(5),
                |_: &&str| true,
                |_| Some(Duration::from_mins(1)),
                |_| panic!("no wait starts past the deadline"),
                || async { Err::<(), _>("429") },
            )
            .await;
        assert_eq!((result, attempts.count), (Err("429"), 1));
        assert_eq!(Instant::now(), start);
    }

    #[test]
    fn delays_grow_and_stay_bounded() {
        let p = RetryPolicy::default();
        for retry in 1..40 {
            let d = p.delay(retry);
            assert!(d <= p.max_delay, "{d:?}");
        }
        assert!(p.delay(1) <= Duration::from_millis(100));
        let late: Vec<Duration> = (0..50).map(|_| p.delay(30)).collect();
        assert!(
            late.iter().any(|d| *d > Duration::from_secs(2)),
            "full jitter spans the cap"
        );
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_mins(2));
        let wait = parse_retry_after(&soon).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_mins(2),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn attempts_read_as_a_sentence() {
        let a = Attempts {
            count: 3,
            elapsed: Duration::from_millis(2_460),
        };
        assert_eq!(a.to_string(), "3 attempts in 2.5 s");
    }
}
