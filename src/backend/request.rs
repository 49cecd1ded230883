//! One request under the run's limits: the [`Context`] every backend call receives, [`call`]
//! (permit, timeout, retries), the failure classification it needs and error chains.

use super::retry::RetryPolicy;
use std::sync::Arc;
use std::time::Duration;

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
}

impl Context {
    /// A context allowing `concurrency` requests in flight.
    pub fn new(concurrency: usize, request_timeout: Duration, retry: RetryPolicy) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            limiter: Arc::new(tokio::sync::Semaphore::new(concurrency)),
            concurrency,
            request_timeout,
            retry,
        }
    }
}

/// A failed request, as the retry loop of [`call`] needs to see it.
#[cfg_attr(
    not(any(feature = "aws", feature = "vault", feature = "azure", feature = "gcp")),
    allow(dead_code)
)]
pub(crate) trait RequestFailure {
    /// Worth retrying (throttling, 5xx, a reset connection, a timeout).
    fn transient(&self) -> bool;
    /// The failure for a request that got no answer in time; `message` says how long it waited.
    fn timed_out(message: String) -> Self;
}

/// One request under the run's limits: a concurrency permit per attempt, the per-request
/// timeout, retries of transient failures. Returns the result and the attempts made.
#[cfg_attr(
    not(any(feature = "aws", feature = "vault", feature = "azure", feature = "gcp")),
    allow(dead_code)
)]
pub(crate) async fn call<T, E, F, Fut>(ctx: &Context, op: F) -> (Result<T, E>, u32)
where
    E: RequestFailure,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let op = &op;
    ctx.retry
        .run(
            |e: &E| e.transient(),
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
