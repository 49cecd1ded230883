//! [`RequestFailure`]: what every failed request becomes, whatever client sent it (an AWS or
//! Google SDK, the Key Vault client, osenv's own HTTP client for Vault and Conjur). The retry
//! loop reads it, backends map it to a per-key [`crate::error::KeyError`] or a
//! [`crate::error::BackendError`], and messages show it in one form.

// Each backend builds its failures with some of the methods; all are used with every backend.
#![cfg_attr(
    not(all(
        feature = "aws",
        feature = "vault",
        feature = "azure",
        feature = "gcp",
        feature = "cyberark"
    )),
    allow(dead_code)
)]

use std::fmt;
use std::time::Duration;

/// A failed request, reduced to what can be shown (services name resources in their
/// messages, never secret values; a body that could quote one is not kept) and to what the
/// retry loop needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFailure {
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The service's error code: AWS `ThrottlingException`, Key Vault `SecretNotFound`, Google
    /// `NOT_FOUND`.
    pub code: Option<String>,
    /// A finer code under it (Key Vault's `innererror.code`, such as `SecretDisabled`).
    pub inner: Option<String>,
    /// The service's message, or the transport error.
    pub message: String,
    transient: bool,
    throttled: bool,
    retry_after: Option<Duration>,
}

impl RequestFailure {
    /// A final answer with `status` and the service's `message` (a 429 is a throttle); a
    /// service whose answers are worth retrying says so with [`RequestFailure::transient`].
    pub(crate) fn answer(status: u16, message: impl Into<String>) -> Self {
        Self {
            status: Some(status),
            code: None,
            inner: None,
            message: message.into(),
            transient: false,
            throttled: status == 429,
            retry_after: None,
        }
    }

    /// No answer: a refused or reset connection, TLS, a credential provider; `transient` when
    /// another attempt may get through.
    pub(crate) fn transport(message: impl Into<String>, transient: bool) -> Self {
        Self {
            status: None,
            code: None,
            inner: None,
            message: message.into(),
            transient,
            throttled: false,
            retry_after: None,
        }
    }

    /// No answer within the per-request timeout (`message` says how long it waited).
    pub(crate) fn timed_out(message: String) -> Self {
        Self::transport(message, true)
    }

    /// With the service's error code.
    #[must_use]
    pub(crate) fn code(mut self, code: Option<String>) -> Self {
        self.code = code;
        self
    }

    /// With a finer code under the service's code.
    #[must_use]
    pub(crate) fn inner(mut self, inner: Option<String>) -> Self {
        self.inner = inner;
        self
    }

    /// Whether another attempt may succeed (throttling, 5xx, a refused connection), when the
    /// service's codes say more than the status.
    #[must_use]
    pub(crate) fn transient(mut self, transient: bool) -> Self {
        self.transient = transient;
        self
    }

    /// Whether the service refused for a rate quota, when its codes say so.
    #[must_use]
    pub(crate) fn throttled(mut self, throttled: bool) -> Self {
        self.throttled = throttled;
        self
    }

    /// The wait the service asked for (`Retry-After`, Google's `RetryInfo`).
    #[must_use]
    pub(crate) fn retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    /// Worth retrying.
    pub(crate) fn is_transient(&self) -> bool {
        self.transient
    }

    /// The service refused for a rate quota (429, `ThrottlingException`, `RESOURCE_EXHAUSTED`):
    /// the whole run slows down, not only this request.
    pub(crate) fn is_throttled(&self) -> bool {
        self.throttled
    }

    /// How long the service asked to wait before the next attempt.
    pub(crate) fn wait(&self) -> Option<Duration> {
        self.retry_after
    }

    /// This failure as the error of a whole call to `backend`, naming the `endpoint` (an
    /// address and operation) and the attempts made.
    pub(crate) fn into_backend(
        self,
        backend: String,
        endpoint: String,
        attempts: super::retry::Attempts,
    ) -> crate::error::BackendError {
        crate::error::BackendError::Request {
            backend,
            endpoint,
            attempts,
            source: Box::new(self),
        }
    }

    /// The same failure with every occurrence of `credential` replaced, so no answer that
    /// echoes what was sent (a login's secret id, JWT or API key) can carry it into a message.
    #[must_use]
    pub(crate) fn scrubbed(mut self, credential: &crate::secret::SecretValue) -> Self {
        let credential = credential.expose();
        if credential.len() >= 4 && self.message.contains(credential) {
            self.message = self.message.replace(credential, "[redacted]");
        }
        self
    }
}

/// One form for every service: `HTTP 403 Forbidden: message`, with what is known of the
/// status, the code and the message — the server's text with every secret withheld (it may
/// echo the token it was sent, or a value it returned for another name).
impl fmt::Display for RequestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status.map(|s| format!("HTTP {s}"));
        let lead: Vec<&str> = [status.as_deref(), self.code.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        match (lead.is_empty(), self.message.is_empty()) {
            (true, _) => f.write_str(&crate::secret::withheld(&self.message)),
            (false, true) => f.write_str(&lead.join(" ")),
            (false, false) => write!(f, "{}: {}", lead.join(" "), crate::secret::withheld(&self.message)),
        }
    }
}

impl std::error::Error for RequestFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_form_for_every_service() {
        let shown = [
            RequestFailure::answer(404, "no such secret").code(Some("SecretNotFound".into())),
            RequestFailure::answer(400, "").code(Some("ValidationException".into())),
            RequestFailure::answer(503, "upstream"),
            RequestFailure::answer(502, ""),
            RequestFailure::transport("cannot connect: refused", true).code(Some("UNAVAILABLE".into())),
            RequestFailure::timed_out("no response within 5s".into()),
        ]
        .map(|f| f.to_string());
        insta::assert_snapshot!(shown.join("\n"), @r"
        HTTP 404 SecretNotFound: no such secret
        HTTP 400 ValidationException
        HTTP 503: upstream
        HTTP 502
        UNAVAILABLE: cannot connect: refused
        no response within 5s
        ");
    }

    #[test]
    fn an_answer_is_final_unless_its_service_says_otherwise() {
        let f = RequestFailure::answer;
        assert!(!f(429, "").is_transient() && f(429, "").is_throttled());
        assert!(f(503, "").transient(true).is_transient() && !f(503, "").is_throttled());
        assert!(!f(404, "").is_transient() && !f(403, "").is_throttled());
        assert!(RequestFailure::timed_out(String::new()).is_transient());
    }
}
