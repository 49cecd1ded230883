//! What Conjur's answers mean: which statuses are worth retrying, the error text a message may
//! show (never a body, which could hold a value), and the errors a request ends in.

use super::Conjur;
use crate::backend::Backend as _;
use crate::backend::RequestFailure;
use crate::backend::transport::http::{self, Dialect};
use crate::error::{Attempts, BackendError};
use serde_json::Value;

/// Statuses worth retrying: rate limits (a gateway in front), an appliance starting or a
/// follower catching up, a gateway in between.
pub(super) fn transient_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// Conjur's error text: `{"error": {"code", "message"}}`; nothing else of a body (a value
/// must never reach a message).
pub(super) fn errors_of(body: &[u8]) -> String {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    // Withheld before it is trimmed: a value with blanks at its ends would not match after.
    let text = |pointer: &str| {
        let text = body.pointer(pointer).and_then(Value::as_str)?;
        Some(crate::secret::withheld(text).trim().to_owned())
    };
    match (text("/error/message"), text("/error/code")) {
        (Some(message), _) if !message.is_empty() => message,
        (_, Some(code)) => code,
        _ => String::new(),
    }
}

pub(super) const DIALECT: Dialect = Dialect {
    transient: transient_status,
    errors: errors_of,
};

/// A policy load also retries 409: Conjur answers it while another load of the policy runs.
pub(super) const POLICY_DIALECT: Dialect = Dialect {
    transient: |status| status == 409 || transient_status(status),
    errors: errors_of,
};

impl Conjur {
    pub(super) fn request_error(&self, endpoint: String, attempts: Attempts, failure: RequestFailure) -> BackendError {
        BackendError::Request {
            backend: self.describe(),
            endpoint,
            attempts,
            source: Box::new(failure),
        }
    }

    /// An answer the caller has no meaning for: its status and Conjur's error text.
    pub(super) fn unexpected(&self, endpoint: String, attempts: Attempts, reply: &http::Reply) -> BackendError {
        self.request_error(
            endpoint,
            attempts,
            RequestFailure::answer(reply.status, errors_of(&reply.body)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_show_conjur_text_only() {
        let body = br#"{"error":{"code":"not_found","message":"Variable 'x' not found in account 'default'"}}"#;
        assert_eq!(errors_of(body), "Variable 'x' not found in account 'default'");
        assert_eq!(errors_of(br#"{"error":{"code":"forbidden"}}"#), "forbidden");
        assert_eq!(errors_of(b"sk-live-value"), "");
    }

    #[test]
    fn an_echoed_value_is_withheld_before_it_is_trimmed() {
        let _spaced = crate::secret::SecretValue::withheld("  conjur-spaced-value ");
        assert_eq!(
            errors_of(br#"{"error":{"message":"  conjur-spaced-value "}}"#),
            "[redacted]"
        );
    }

    #[test]
    fn retried_statuses() {
        for s in [429, 500, 502, 503, 504] {
            assert!(transient_status(s));
        }
        for s in [200, 201, 204, 401, 403, 404, 406, 409, 422] {
            assert!(!transient_status(s));
        }
    }
}
