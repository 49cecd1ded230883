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
use crate::error::{KeyError, Within};
use google_cloud_gax::error::Error as GaxError;
use google_cloud_gax::error::rpc::{Code, Status, StatusDetails};
use std::fmt;
use std::time::Duration;

/// A failed Google API call, reduced to its status code and message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GcpFailure {
    /// The RPC status code, when the service answered.
    pub code: Option<Code>,
    /// The service's message, or the transport error.
    pub message: String,
    transient: bool,
    /// The wait the service asked for (`google.rpc.RetryInfo` in the error's details).
    retry_after: Option<Duration>,
}

impl fmt::Display for GcpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "{}: {}", code.name(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for GcpFailure {}

impl RequestFailure for GcpFailure {
    fn transient(&self) -> bool {
        self.transient
    }

    fn throttled(&self) -> bool {
        self.code == Some(Code::ResourceExhausted)
    }

    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    fn timed_out(message: String) -> Self {
        Self {
            code: None,
            message,
            transient: true,
            retry_after: None,
        }
    }
}

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

impl GcpFailure {
    /// Classify a client error.
    #[allow(clippy::needless_pass_by_value)] // reads as `map_err(GcpFailure::from_gax)`
    pub(crate) fn from_gax(e: GaxError) -> Self {
        if let Some(status) = e.status() {
            let code = status.code;
            return Self {
                code: Some(code),
                message: status.message.clone(),
                transient: transient_code(code),
                retry_after: retry_delay(status),
            };
        }
        let message = super::error_chain(&e);
        let transient = e.is_timeout()
            || e.is_io()
            || e.is_connect()
            || e.is_transient_and_before_rpc()
            || e.http_status_code().is_some_and(|s| s == 429 || s >= 500);
        Self {
            code: None,
            message,
            transient,
            retry_after: None,
        }
    }

    /// The per-key meaning of this failure, when it is about the key rather than the call.
    pub(crate) fn key_error(&self, within: &Within) -> Option<KeyError> {
        let within = within.clone();
        Some(match self.code? {
            Code::NotFound => KeyError::NotFound { within },
            Code::PermissionDenied => KeyError::AccessDenied { within },
            Code::FailedPrecondition => KeyError::Unavailable {
                within,
                reason: format!("{self} (a disabled or destroyed version, or a disabled key?)"),
            },
            Code::InvalidArgument => KeyError::InvalidValue {
                within,
                reason: self.to_string(),
            },
            _ => return None,
        })
    }
}

/// A request that failed after `attempts`.
pub(crate) fn request_failed(
    backend: String,
    endpoint: &str,
    operation: &str,
    failure: GcpFailure,
    attempts: crate::backend::retry::Attempts,
) -> crate::error::BackendError {
    crate::error::BackendError::Request {
        backend,
        endpoint: format!("{endpoint} {operation}"),
        attempts,
        source: Box::new(failure),
    }
}

/// A client that could not be built (credentials are looked up then).
pub(crate) fn setup_failed(backend: String, e: &dyn std::error::Error) -> crate::error::BackendError {
    crate::error::BackendError::Credentials {
        backend,
        reason: format!("cannot set up the client (credentials?): {}", super::error_chain(e)),
    }
}

/// No redirects and no transparent decompression, as for every client osenv builds
/// (`backend::http`). The clients read a whole body without a size cap osenv could set; their
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

    fn failure(code: Code) -> GcpFailure {
        GcpFailure {
            code: Some(code),
            message: "m".into(),
            transient: transient_code(code),
            retry_after: None,
        }
    }

    #[test]
    fn status_codes_map_to_key_errors() {
        let show = |c| failure(c).key_error(&Within::backend("w")).map(|e| e.to_string());
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
        let failure = GcpFailure::from_gax(GaxError::service(status));
        assert!(failure.throttled() && failure.transient);
        assert_eq!(failure.retry_after(), Some(Duration::from_millis(2500)));

        let negative: Status = serde_json::from_value(serde_json::json!({
            "code": 8, "message": "m",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "-1s"}]
        }))
        .unwrap();
        assert_eq!(retry_delay(&negative), None);
    }

    #[test]
    fn transient_codes() {
        assert!(failure(Code::Unavailable).transient);
        assert!(failure(Code::ResourceExhausted).transient);
        assert!(!failure(Code::PermissionDenied).transient);
        assert!(!failure(Code::NotFound).transient);
    }
}
