//! Google Cloud: Secret Manager and Cloud KMS on the official REST clients
//! (`google-cloud-secretmanager-v1`, `google-cloud-kms-v1`) with Application Default
//! Credentials: `GOOGLE_APPLICATION_CREDENTIALS` (a service-account key or other credential
//! file), the gcloud user credentials, or the metadata server (GCE, GKE workload identity, Cloud
//! Run). The clients' own retries are off: every request goes through the run's
//! [`Context`](super::Context), so limits and reported attempts are the run's.

pub mod kms;
mod policy;
pub mod secret_manager;

use super::RequestFailure;
use crate::error::{KeyError, Problem, Within};
use google_cloud_gax::error::Error as GaxError;
use google_cloud_gax::error::rpc::{Code, Status, StatusDetails};
use std::time::Duration;

/// The wait a `RESOURCE_EXHAUSTED` (or other) status asks for in its `RetryInfo` detail; a
/// negative or unrepresentable delay is ignored (the backoff applies).
fn retry_delay(status: &Status) -> Option<Duration> {
    status.details.iter().find_map(|detail| match detail {
        StatusDetails::RetryInfo(info) => info.retry_delay.and_then(|delay| Duration::try_from(delay).ok()),
        _ => None,
    })
}

/// Codes worth retrying (AIP-194, plus quota exhaustion and deadlines, which pass with time).
fn transient_code(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::ResourceExhausted | Code::DeadlineExceeded | Code::Aborted | Code::Internal
    )
}

/// A Google client error as a [`RequestFailure`], its code the status code's name
/// (`NOT_FOUND`). By value, so that it reads `map_err(from_gax)`.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn from_gax(e: GaxError) -> RequestFailure {
    if let Some(status) = e.status() {
        let code = status.code;
        return RequestFailure::refusal(status.message.clone(), transient_code(code))
            .status_name(code.name())
            .throttled(code == Code::ResourceExhausted)
            .retry_after(retry_delay(status));
    }
    let transient = e.is_timeout()
        || e.is_io()
        || e.is_connect()
        || e.is_transient_and_before_rpc()
        || e.http_status_code().is_some_and(|s| s == 429 || s >= 500);
    RequestFailure::transport(super::error_chain(&e), transient)
}

/// Whether `failure` is a Google status with `code`.
pub(crate) fn is(failure: &RequestFailure, code: Code) -> bool {
    failure.code.as_deref() == Some(code.name())
}

/// The per-key meaning of a Google failure, when it is about the key rather than the call.
pub(crate) fn key_error(failure: &RequestFailure, within: &Within) -> Option<KeyError> {
    let within = within.clone();
    Some(if is(failure, Code::NotFound) {
        KeyError::NotFound { within }
    } else if is(failure, Code::PermissionDenied) {
        KeyError::AccessDenied { within }
    } else if is(failure, Code::FailedPrecondition) {
        KeyError::Unavailable {
            within,
            reason: Problem::hinted(failure, "a disabled or destroyed version, or a disabled key?"),
        }
    } else if is(failure, Code::InvalidArgument) {
        KeyError::InvalidValue {
            within,
            reason: Problem::said(failure),
        }
    } else {
        return None;
    })
}

/// A request that failed after `attempts`.
pub(crate) fn request_failed(
    backend: String,
    endpoint: &str,
    operation: &str,
    failure: RequestFailure,
    attempts: crate::backend::transport::retry::Attempts,
) -> crate::error::BackendError {
    failure.into_backend(backend, format!("{endpoint} {operation}"), attempts)
}

/// A client that could not be built (credentials are looked up then).
pub(crate) fn setup_failed(backend: String, e: &dyn std::error::Error) -> crate::error::BackendError {
    crate::error::BackendError::Credentials {
        backend,
        reason: format!("cannot set up the client (credentials?): {}", super::error_chain(e)),
    }
}

/// No redirects and no transparent decompression, as for every client osenv builds
/// (`backend::transport::http`). The clients read a whole body without a size cap osenv could set; their
/// endpoints come only from the operator or are Google's own (`trust`).
pub(crate) fn hardened<F, Cr>(
    builder: google_cloud_gax::client_builder::ClientBuilder<F, Cr>,
) -> google_cloud_gax::client_builder::ClientBuilder<F, Cr> {
    use google_cloud_gax::client_builder::internal::{with_automatic_decompression, with_follow_redirects};
    with_follow_redirects(with_automatic_decompression(builder, false), false)
}

/// The retry policy given to the clients: none, since the run retries.
pub(crate) fn no_retries() -> google_cloud_gax::retry_policy::NeverRetry {
    google_cloud_gax::retry_policy::NeverRetry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: Code) -> RequestFailure {
        RequestFailure::refusal("m", transient_code(code)).status_name(code.name())
    }

    #[test]
    fn status_codes_map_to_key_errors() {
        let show = |c| key_error(&failure(c), &Within::backend("w")).map(|e| e.to_string());
        assert_eq!(show(Code::NotFound).as_deref(), Some("not found in w"));
        assert_eq!(show(Code::PermissionDenied).as_deref(), Some("access denied by w"));
        assert!(
            show(Code::FailedPrecondition)
                .unwrap()
                .starts_with("unavailable in w: FAILED_PRECONDITION: m")
        );
        assert_eq!(show(Code::Unavailable), None);
    }

    #[test]
    fn retry_info_is_the_wait_the_service_asks_for() {
        let status: Status = serde_json::from_value(serde_json::json!({
            "code": 8,
            "message": "Quota exceeded for quota metric 'Access requests'",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.500s"}
            ]
        }))
        .unwrap();
        assert_eq!(retry_delay(&status), Some(Duration::from_millis(2500)));
        let failure = from_gax(GaxError::service(status));
        assert!(failure.is_throttled() && failure.is_transient());
        assert_eq!(failure.wait(), Some(Duration::from_millis(2500)));

        let negative: Status = serde_json::from_value(serde_json::json!({
            "code": 8, "message": "m",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "-1s"}]
        }))
        .unwrap();
        assert_eq!(retry_delay(&negative), None);
    }

    #[test]
    fn transient_codes() {
        assert!(failure(Code::Unavailable).is_transient());
        assert!(failure(Code::ResourceExhausted).is_transient());
        assert!(!failure(Code::PermissionDenied).is_transient());
        assert!(!failure(Code::NotFound).is_transient());
    }
}
