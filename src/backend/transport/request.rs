//! One request under the run's limits: the [`Context`] every backend call receives, [`call`]
//! (permit, timeout, retries), the failure classification it needs and error chains.

use super::failure::RequestFailure;
use super::retry::{Attempts, Failure, RetryPolicy};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Limits a backend must respect within one run.
#[derive(Debug, Clone)]
pub struct Context {
    /// Requests in flight at most, shared by every call of the run.
    pub limiter: Arc<tokio::sync::Semaphore>,
    /// The same bound as a number, for chunking.
    pub concurrency: usize,
    /// Timeout for one request.
    pub request_timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// No retry starts after this.
    pub deadline: Instant,
    /// The largest response body read (`--max-response-size`).
    pub max_response: usize,
    /// How the waiting line names the backend.
    backend: Arc<str>,
    /// Whether the waiting line was printed (once per backend and run, not per request).
    warned: Arc<AtomicBool>,
    /// No request of the run starts before this: set when a request is throttled, so the
    /// run's requests back off together (as the AWS SDKs' adaptive mode does) instead of each
    /// of 32 in flight retrying on its own into the same quota.
    paused_until: Arc<std::sync::Mutex<Option<Instant>>>,
}

/// The default `--max-response-size`: secret managers answer in kilobytes (Key Vault and Secrets
/// Manager values are at most 25 and 64 KiB), so 4 MiB leaves room and still bounds memory.
pub const DEFAULT_MAX_RESPONSE: usize = 4 << 20;

impl Context {
    /// A context allowing `concurrency` requests in flight, retrying until a 30 s deadline
    /// unless [`Context::until`] says otherwise.
    pub fn new(concurrency: usize, request_timeout: Duration, retry: RetryPolicy) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            limiter: Arc::new(tokio::sync::Semaphore::new(concurrency)),
            concurrency,
            request_timeout,
            retry,
            deadline: Instant::now() + Duration::from_secs(30),
            max_response: DEFAULT_MAX_RESPONSE,
            backend: Arc::from("the backend"),
            warned: Arc::new(AtomicBool::new(false)),
            paused_until: Arc::default(),
        }
    }

    /// Hold every request of the run until `until`.
    fn pause(&self, until: Instant) {
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *paused = Some(paused.map_or(until, |p| p.max(until)));
    }

    /// Wait out a pause set by a throttled request.
    async fn paused(&self) {
        let until = *self
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    /// The same limits, reading response bodies up to `bytes`.
    #[must_use]
    pub fn max_response(mut self, bytes: usize) -> Self {
        self.max_response = bytes;
        self
    }

    /// The same limits, retrying until `deadline`.
    #[must_use]
    pub fn until(mut self, deadline: Instant) -> Self {
        self.deadline = deadline;
        self
    }

    /// The same limits, for the backend messages name `backend`.
    #[must_use]
    pub fn for_backend(mut self, backend: String) -> Self {
        self.backend = Arc::from(backend);
        self
    }

    /// Say once per run that this backend is being waited for.
    fn waiting(&self, error: &dyn std::fmt::Display, remaining: Duration) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            let remaining = remaining.as_secs_f64();
            match self.retry.attempts {
                None => tracing::warn!(
                    "waiting for {}: {error}; retrying until the deadline in {remaining:.0} s",
                    self.backend
                ),
                Some(cap) => tracing::warn!(
                    "waiting for {}: {error}; retrying, {cap} attempts at most, until the deadline in {remaining:.0} s at most",
                    self.backend
                ),
            }
        }
    }
}

/// One request under the run's limits: a concurrency permit per attempt, the per-request
/// timeout, retries of transient failures until the deadline. Returns the result and the
/// attempts made.
#[cfg_attr(
    not(any(
        feature = "aws",
        feature = "vault",
        feature = "azure",
        feature = "gcp",
        feature = "cyberark"
    )),
    allow(dead_code)
)]
pub(crate) async fn call<T, F, Fut>(ctx: &Context, op: F) -> (Result<T, RequestFailure>, Attempts)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, RequestFailure>>,
{
    let op = &op;
    ctx.retry
        .run(
            ctx.deadline,
            RequestFailure::is_transient,
            RequestFailure::wait,
            |f: Failure<'_, RequestFailure>| {
                if f.error.is_throttled() {
                    ctx.pause(Instant::now() + f.wait);
                }
                ctx.waiting(&f.error.brief(), f.remaining);
            },
            || async move {
                ctx.paused().await;
                let _permit = ctx.limiter.acquire().await.expect("the run's limiter is never closed");
                match tokio::time::timeout(ctx.request_timeout, op()).await {
                    Ok(result) => result,
                    Err(_) => Err(RequestFailure::timed_out(format!(
                        "no response within {}s",
                        ctx.request_timeout.as_secs_f64()
                    ))),
                }
            },
        )
        .await
}

/// An error and its causes on one line. SDK errors often repeat their source in their own text:
/// a cause already said is skipped.
#[cfg_attr(
    not(any(feature = "vault", feature = "azure", feature = "gcp", feature = "cyberark")),
    allow(dead_code)
)]
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn throttled() -> RequestFailure {
        RequestFailure::answer(429, "")
            .transient(true)
            .retry_after(Some(Duration::from_secs(2)))
    }

    /// A throttled request holds back the run's other requests for its wait, so they do not
    /// keep hitting the quota meanwhile.
    #[tokio::test(start_paused = true)]
    async fn a_throttled_request_pauses_the_run() {
        let ctx = Context::new(8, Duration::from_secs(5), RetryPolicy::default());
        let start = Instant::now();
        let sent: Mutex<Vec<(u8, Duration)>> = Mutex::default();
        let first = call(&ctx, || {
            let n = sent.lock().unwrap().iter().filter(|(who, _)| *who == 1).count();
            sent.lock().unwrap().push((1, start.elapsed()));
            async move { if n == 0 { Err(throttled()) } else { Ok(()) } }
        });
        let second = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            call(&ctx, || {
                sent.lock().unwrap().push((2, start.elapsed()));
                async { Ok::<(), RequestFailure>(()) }
            })
            .await
        };
        let ((a, _), (b, _)) = tokio::join!(first, second);
        assert!(a.is_ok() && b.is_ok());
        let second_sent = sent.lock().unwrap().iter().find(|(who, _)| *who == 2).unwrap().1;
        assert!(second_sent >= Duration::from_secs(2), "{second_sent:?}");
    }
}
