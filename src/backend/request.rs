//! One request under the run's limits: the [`Context`] every backend call receives, [`call`]
//! (permit, timeout, retries), the failure classification it needs and error chains.

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
    /// How the waiting line names the backend.
    backend: Arc<str>,
    /// Whether the waiting line was printed (once per backend and run, not per request).
    warned: Arc<AtomicBool>,
}

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
            backend: Arc::from("the backend"),
            warned: Arc::new(AtomicBool::new(false)),
        }
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

/// A failed request, as the retry loop of [`call`] needs to see it.
#[cfg_attr(
    not(any(feature = "aws", feature = "vault", feature = "azure", feature = "gcp")),
    allow(dead_code)
)]
pub(crate) trait RequestFailure: std::fmt::Display {
    /// Worth retrying (throttling, 5xx, a refused or reset connection, a timeout).
    fn transient(&self) -> bool;
    /// The failure for a request that got no answer in time; `message` says how long it waited.
    fn timed_out(message: String) -> Self;
    /// How long the server asked to wait before the next attempt (`Retry-After`).
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// One request under the run's limits: a concurrency permit per attempt, the per-request
/// timeout, retries of transient failures until the deadline. Returns the result and the
/// attempts made.
#[cfg_attr(
    not(any(feature = "aws", feature = "vault", feature = "azure", feature = "gcp")),
    allow(dead_code)
)]
pub(crate) async fn call<T, E, F, Fut>(ctx: &Context, op: F) -> (Result<T, E>, Attempts)
where
    E: RequestFailure,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let op = &op;
    ctx.retry
        .run(
            ctx.deadline,
            |e: &E| e.transient(),
            |e: &E| e.retry_after(),
            |f: Failure<'_, E>| ctx.waiting(f.error, f.remaining),
            || async move {
                let _permit = ctx.limiter.acquire().await.expect("the run's limiter is never closed");
                match tokio::time::timeout(ctx.request_timeout, op()).await {
                    Ok(result) => result,
                    Err(_) => Err(E::timed_out(format!(
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
#[cfg_attr(not(any(feature = "vault", feature = "azure", feature = "gcp")), allow(dead_code))]
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
