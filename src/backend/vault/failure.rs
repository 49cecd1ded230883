//! What Vault's answers mean: the statuses worth retrying, its `errors` text (never a body echoed
//! verbatim), a refused login's likely cause, and the error each answer about a secret is.

use super::Vault;
use super::secret_path::SecretPath;
use crate::backend::Backend as _;
use crate::backend::RequestFailure;
use crate::error::{Attempts, BackendError, KeyError, Problem};
use serde_json::Value;
use std::sync::Arc;

/// Statuses worth retrying: rate limits, a standby or sealed node, a gateway in between, and
/// 412 (a performance standby that has not caught up yet).
pub(super) fn transient_status(status: u16) -> bool {
    matches!(status, 412 | 429 | 500 | 502 | 503 | 504)
}

/// Vault's error text: the lines of `{"errors": ["..."]}` joined, without the
/// `1 error occurred:` headers and `*` bullets of multi-errors; never a body echoed verbatim.
pub(super) fn errors_of(body: &Value) -> String {
    let Some(errors) = body.get("errors").and_then(Value::as_array) else {
        return String::new();
    };
    // The errors are withheld as one text before it is split and trimmed: a value echoed whole
    // (a PEM key, one with blanks at its ends), or cut into entries at its line breaks, no
    // longer matches once cut into lines.
    let joined = errors.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n");
    crate::secret::withheld(&joined)
        .lines()
        .map(|line| line.trim().trim_start_matches("* ").trim())
        .filter(|line| !line.is_empty() && !line.ends_with("error occurred:") && !line.ends_with("errors occurred:"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Vault's answer to a refused login, with what it usually means for the role-based methods.
pub(super) fn login_refusal(status: u16, errors: &str) -> String {
    let lower = errors.to_ascii_lowercase();
    let hint = if lower.contains("audience") || lower.contains("aud claim") {
        " (the token's `aud` is not one of the role's bound_audiences)"
    } else if lower.contains("could not be found")
        || lower.contains("invalid role name")
        || lower.contains("role not found")
    {
        " (no such role on this auth mount)"
    } else if lower.contains("not authorized") || lower.contains("permission denied") {
        " (the role does not admit this identity: check its bound service accounts, namespaces or claims)"
    } else if lower.contains("expired") {
        " (the token has expired)"
    } else {
        ""
    };
    if errors.is_empty() {
        format!("the login was refused (HTTP {status})")
    } else {
        format!("{errors}{hint}")
    }
}

/// How Vault's answers are read: its `errors` text, and the statuses worth retrying.
pub(super) const DIALECT: crate::backend::transport::http::Dialect = crate::backend::transport::http::Dialect {
    transient: transient_status,
    errors: |body| errors_of(&serde_json::from_slice(body).unwrap_or(Value::Null)),
};

impl Vault {
    pub(super) fn unstorable(&self, name: &str, reason: impl Into<String>) -> BackendError {
        BackendError::Name {
            backend: self.describe(),
            name: name.to_owned(),
            reason: reason.into(),
        }
    }

    /// Map a final answer about one secret (not 200) to that reference's error.
    pub(super) fn key_error(
        &self,
        path: &SecretPath,
        status: u16,
        body: &Value,
        url: &str,
        attempts: Attempts,
    ) -> KeyError {
        let within = self.within(path);
        match status {
            404 => match body.pointer("/data/metadata") {
                Some(meta) if meta.get("destroyed").and_then(Value::as_bool) == Some(true) => KeyError::Unavailable {
                    within,
                    reason: Problem::VersionDestroyed,
                },
                Some(meta)
                    if meta
                        .get("deletion_time")
                        .and_then(Value::as_str)
                        .is_some_and(|t| !t.is_empty()) =>
                {
                    KeyError::Unavailable {
                        within,
                        reason: Problem::VersionDeleted,
                    }
                }
                _ => KeyError::NotFound { within },
            },
            403 => KeyError::AccessDenied { within },
            _ => KeyError::Backend(Arc::new(BackendError::Request {
                backend: self.describe(),
                endpoint: format!("GET {url}"),
                attempts,
                source: Box::new(RequestFailure::answer(status, errors_of(body))),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretValue;
    use serde_json::json;

    #[test]
    fn a_login_refusal_never_carries_the_credential_sent() {
        let jwt = SecretValue::new("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl");
        let failure = RequestFailure::answer(400, format!("error validating token: {} is malformed", jwt.expose()));
        let shown = failure.scrubbed(&jwt).to_string();
        assert_eq!(shown, "HTTP 400: error validating token: [redacted] is malformed");
        assert_eq!(
            login_refusal(
                400,
                "invalid audience (aud) claim: audience claim does not match any expected audience"
            ),
            "invalid audience (aud) claim: audience claim does not match any expected audience (the token's `aud` is not one of the role's bound_audiences)"
        );
        assert_eq!(login_refusal(403, ""), "the login was refused (HTTP 403)");
    }

    #[test]
    fn multi_errors_are_flattened() {
        let body = json!({"errors": ["1 error occurred:\n\t* permission denied\n\n"]});
        assert_eq!(errors_of(&body), "permission denied");
        assert_eq!(errors_of(&json!({"errors": ["a", "b"]})), "a; b");
        assert_eq!(errors_of(&json!(null)), "");
    }

    /// A value echoed whole is withheld before the errors are cut into lines and trimmed
    /// (a PEM key, a value with blanks at its ends would not match after).
    #[test]
    fn an_echoed_value_is_withheld_before_the_errors_are_reformatted() {
        let pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n-----END KEY-----";
        let _pem = SecretValue::withheld(pem);
        let _spaced = SecretValue::withheld("   spaced-value-01");
        let body =
            json!({"errors": [format!("you sent: {pem}"), "   spaced-value-01", "2 errors occurred:\n\t* a\n\t* b\n"]});
        assert_eq!(errors_of(&body), "you sent: [redacted]; [redacted]; a; b");
        // Cut into entries at its line breaks.
        let entries: Vec<&str> = pem.split('\n').collect();
        assert_eq!(errors_of(&json!({ "errors": entries })), "[redacted]");
    }

    #[test]
    fn retried_statuses() {
        for s in [412, 429, 500, 502, 503, 504] {
            assert!(transient_status(s));
        }
        for s in [200, 204, 400, 403, 404] {
            assert!(!transient_status(s));
        }
    }
}
