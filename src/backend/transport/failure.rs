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
    /// `message` is what the service wrote (it may echo anything), not the client's own words.
    from_service: bool,
    /// `code` when it is a name from the client's own table (a gRPC status), not text the
    /// service sent.
    status_name: Option<&'static str>,
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
            from_service: true,
            status_name: None,
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
            from_service: false,
            status_name: None,
            transient,
            throttled: false,
            retry_after: None,
        }
    }

    /// A service's refusal without an HTTP status (a gRPC status): its `message` is the
    /// service's text, like an answer's.
    pub(crate) fn refusal(message: impl Into<String>, transient: bool) -> Self {
        Self {
            from_service: true,
            ..Self::transport(message, transient)
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

    /// With a status name from the client's own table (a gRPC status code's name): unlike a
    /// code the service wrote, a retry warning may show it.
    #[must_use]
    pub(crate) fn status_name(mut self, name: &'static str) -> Self {
        self.code = Some(name.to_owned());
        self.status_name = Some(name);
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
        if credential.len() >= 4 {
            for text in [Some(&mut self.message), self.code.as_mut(), self.inner.as_mut()]
                .into_iter()
                .flatten()
            {
                if text.contains(credential) {
                    *text = text.replace(credential, "[redacted]");
                }
            }
        }
        self
    }
}

/// The status and a status name from the client's own table, or the client's own words when
/// no service answered: what a retry warning shows. Whatever the service wrote (its message,
/// its error code) is left to the final error, written once every value of the run is known to
/// [`crate::secret::withheld`] (a warning printed while other requests are still reading could
/// not withhold a value they are about to return); a throttle is said as such.
pub(crate) struct Brief<'f>(&'f RequestFailure);

impl RequestFailure {
    /// This failure as a retry warning shows it ([`Brief`]).
    pub(crate) fn brief(&self) -> Brief<'_> {
        Brief(self)
    }

    fn lead(&self) -> String {
        self.lead_with(self.code.as_deref())
    }

    fn lead_with(&self, code: Option<&str>) -> String {
        let status = self.status.map(|s| format!("HTTP {s}"));
        [status.as_deref(), code]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for Brief<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failure = self.0;
        let mut lead = failure.lead_with(failure.status_name);
        if failure.throttled {
            lead.push_str(if lead.is_empty() { "throttled" } else { " (throttled)" });
        }
        let text = match (failure.from_service, lead.is_empty()) {
            (false, true) => failure.message.clone(),
            (false, false) => format!("{lead}: {}", failure.message),
            (true, false) => lead,
            (true, true) => "the service refused".to_owned(),
        };
        f.write_str(&crate::secret::withheld(&text))
    }
}

/// One form for every service: `HTTP 403 Forbidden: message`, with what is known of the
/// status, the code and the message — all of it written by the server, so shown with every
/// secret withheld (it may echo the token it was sent, or a value it returned for another
/// name, in any part).
impl fmt::Display for RequestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lead = self.lead();
        let text = match (lead.is_empty(), self.message.is_empty()) {
            (true, _) => std::borrow::Cow::Borrowed(self.message.as_str()),
            (false, true) => std::borrow::Cow::Owned(lead),
            (false, false) => std::borrow::Cow::Owned(format!("{lead}: {}", self.message)),
        };
        f.write_str(&crate::secret::withheld(&text))
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

    /// Everything a server wrote is withheld, its code too (an AWS `__type` is the server's).
    #[test]
    fn every_part_a_server_wrote_is_withheld() {
        let _token = crate::secret::SecretValue::withheld("FwoGZXIvYXdzSessionToken0987");
        let failure = RequestFailure::answer(400, "token FwoGZXIvYXdzSessionToken0987 rejected")
            .code(Some("FwoGZXIvYXdzSessionToken0987".into()));
        assert_eq!(failure.to_string(), "HTTP 400 [redacted]: token [redacted] rejected");
        assert_eq!(failure.brief().to_string(), "HTTP 400");
    }

    /// A retry warning shows no text a service wrote (it is printed while other requests may
    /// still be reading the values it could echo); the client's own words it does show.
    #[test]
    fn a_retry_warning_shows_the_status_and_code_not_the_services_message() {
        let shown = [
            RequestFailure::answer(500, "boom value-read-a-moment-later"),
            RequestFailure::answer(429, "slow down").code(Some("ThrottlingException".into())),
            RequestFailure::answer(500, "m").code(Some("Svc#a-value-read-later".into())),
            RequestFailure::refusal("echo", true).status_name("UNAVAILABLE"),
            RequestFailure::refusal("echo", true).code(Some("ECHOED".into())),
            RequestFailure::refusal("echo", true),
            RequestFailure::transport("cannot connect: refused", true),
            RequestFailure::transport("cannot connect: refused", true).status_name("UNAVAILABLE"),
        ]
        .map(|f| f.brief().to_string());
        insta::assert_snapshot!(shown.join("\n"), @r"
        HTTP 500
        HTTP 429 (throttled)
        HTTP 500
        UNAVAILABLE
        the service refused
        the service refused
        cannot connect: refused
        UNAVAILABLE: cannot connect: refused
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
