//! Presentation: warnings, the missing-value policy, the lines an error prints on stderr and
//! the exit code it maps to.
//!
//! Errors read like rustc's: one line per problem, sorted by location; a backend failure shared
//! by many references is one error, shown once with its causes, with the references it
//! affected listed under it; then a summary line.

use osenv::backend::transport::retry::Attempts;
use osenv::error::{BackendError, Error, KeyError, ReferenceError};
use std::sync::Arc;

/// Where warnings go: stderr, unless `-q`.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// Suppress warnings.
    pub quiet: bool,
}

impl Ui {
    /// Print a warning line.
    pub fn warn(self, message: impl std::fmt::Display) {
        if !self.quiet {
            osenv::escape::eprint_line(&format!("warning: {message}"));
        }
    }
}

/// The unresolved references that are errors: all of them; with `allow_missing`, those that
/// are not absent (the absent ones become warnings, `what` says what happens to them; a backend
/// outage, a denied or unusable key is still an error).
pub(crate) fn failed(errors: Vec<ReferenceError>, ui: Ui, allow_missing: bool, what: &str) -> Vec<ReferenceError> {
    let absent = |e: &ReferenceError| matches!(e.cause, KeyError::NotFound { .. });
    if !allow_missing || errors.iter().any(|e| !absent(e)) {
        return errors.into_iter().filter(|e| !allow_missing || !absent(e)).collect();
    }
    for e in &errors {
        ui.warn(format_args!("{e} ({what}: --allow-missing)"));
    }
    Vec::new()
}

/// Every error of a run in one report, sorted by location: the references that did not
/// resolve, and the refusals found with the values that did (a refusal at a reference that
/// did not resolve is that failure's consequence, not a second error).
pub(crate) fn every_error(
    unresolved: Vec<ReferenceError>,
    refused: Vec<ReferenceError>,
    variables: Vec<osenv::error::VariableError>,
) -> Result<(), Error> {
    let mut errors = unresolved;
    let failed: Vec<_> = errors.iter().map(|e| e.location.clone()).collect();
    errors.extend(refused.into_iter().filter(|r| !failed.contains(&r.location)));
    if errors.is_empty() && variables.is_empty() {
        return Ok(());
    }
    errors.sort_by(|a, b| a.location.cmp(&b.location));
    Err(Error::Unresolved(errors, variables))
}

/// The process exit code: 2 for unusable input, 1 for failures to resolve or write, 126/127
/// when `exec` cannot start its command (as shells do).
pub fn exit_code(err: &Error) -> u8 {
    match err {
        Error::Config(_) | Error::Input(_) | Error::Dotenv(_) | Error::Usage(_) => 2,
        Error::Exec { source, .. } if source.kind() == std::io::ErrorKind::NotFound => 127,
        Error::Exec { .. } => 126,
        Error::Unresolved(..)
        | Error::Output(_)
        | Error::Backend(_)
        | Error::Format(_)
        | Error::Mask(_)
        | Error::Template(_)
        | Error::Strict { .. }
        | Error::NotReady { .. }
        | Error::Listen { .. } => 1,
    }
}

/// The lines to print on stderr for `err`.
pub fn lines(err: &Error) -> Vec<String> {
    let mut lines = Vec::new();
    match err {
        Error::Config(items) => {
            lines.extend(items.iter().map(|e| format!("error: {e}")));
            if items.len() > 1 {
                lines.push(format!("error: the config has {} problems", items.len()));
            }
        }
        Error::Unresolved(references, variables) => unresolved(&mut lines, references, variables),
        Error::Format(refused) => {
            lines.extend(refused.iter().map(|e| format!("error: {e}")));
            if let [first, _, ..] = refused.as_slice() {
                lines.push(format!(
                    "error: {} names cannot be written as {}",
                    refused.len(),
                    first.format
                ));
            }
        }
        other => {
            lines.push(format!("error: {other}"));
            causes(&mut lines, other);
        }
    }
    lines
}

/// `caused by:` lines for the sources of `err`.
fn causes(lines: &mut Vec<String>, err: &dyn std::error::Error) {
    let mut source = err.source();
    while let Some(cause) = source {
        lines.push(format!("  caused by: {cause}"));
        source = cause.source();
    }
}

/// One line per reference or variable with a cause of its own, then each backend failure once
/// with what it affected under it, then the count.
///
/// A failure is "one" when it is shared (the whole call failed) or when separate requests
/// failed the same way: the same backend and the same cause (a Vault that
/// refuses connections fails every read, each at its own URL). Such a group is shown once, each
/// reference with the request it made.
fn unresolved(lines: &mut Vec<String>, references: &[ReferenceError], variables: &[osenv::error::VariableError]) {
    let mut groups: Vec<Group<'_>> = Vec::new();
    let items = references
        .iter()
        .map(|e| {
            (
                &e.cause,
                format!("{}: cannot resolve `{}`", e.location, e.shown()),
                e.to_string(),
            )
        })
        .chain(variables.iter().map(|e| {
            (
                &e.cause,
                format!("environment variable `{}` ({})", e.variable, e.origin),
                e.to_string(),
            )
        }));
    for (cause, what, own) in items {
        let KeyError::Backend(failure) = cause else {
            lines.push(format!("error: {own}"));
            continue;
        };
        let key = OutageKey::of(failure);
        match groups
            .iter_mut()
            .find(|g| Arc::ptr_eq(g.first, failure) || (key.is_some() && g.key == key))
        {
            Some(group) => group.affected.push((failure, what)),
            None => groups.push(Group {
                first: failure,
                key,
                affected: vec![(failure, what)],
            }),
        }
    }
    for group in groups {
        let distinct = group.affected.iter().any(|(f, _)| !Arc::ptr_eq(f, group.first));
        match (&**group.first, distinct) {
            (BackendError::Request { backend, .. }, true) => {
                // Each request retried on its own clock: say the most any of them took.
                let most = group
                    .affected
                    .iter()
                    .fold(Attempts::default(), |most, (f, _)| match &***f {
                        BackendError::Request { attempts, .. } => Attempts {
                            count: most.count.max(attempts.count),
                            elapsed: most.elapsed.max(attempts.elapsed),
                        },
                        _ => most,
                    });
                lines.push(format!(
                    "error: {backend}: {} requests failed after up to {most}",
                    group.affected.len()
                ));
            }
            _ => lines.push(format!("error: {}", group.first)),
        }
        causes(lines, group.first.as_ref());
        for (failure, what) in group.affected {
            match (&**failure, distinct) {
                (BackendError::Request { endpoint, .. }, true) => lines.push(format!("  --> {what} ({endpoint})")),
                _ => lines.push(format!("  --> {what}")),
            }
        }
    }
    let count = references.len() + variables.len();
    if count > 1 {
        lines.push(format!("error: {count} references could not be resolved"));
    }
}

/// Failures shown as one, with what each affected.
struct Group<'a> {
    first: &'a Arc<BackendError>,
    key: Option<OutageKey>,
    affected: Vec<(&'a Arc<BackendError>, String)>,
}

/// What makes two failed requests the same failure: backend and the cause chain.
#[derive(PartialEq, Eq)]
struct OutageKey {
    backend: String,
    chain: Vec<String>,
}

impl OutageKey {
    fn of(failure: &BackendError) -> Option<Self> {
        let BackendError::Request { backend, .. } = failure else {
            return None;
        };
        let mut chain = Vec::new();
        let mut source = std::error::Error::source(failure);
        while let Some(cause) = source {
            chain.push(cause.to_string());
            source = cause.source();
        }
        Some(Self {
            backend: backend.clone(),
            chain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, written: &str, cause: KeyError) -> ReferenceError {
        ReferenceError {
            location: crate::command::test_support::located("c.yaml", line, 4),
            written: written.into(),
            cause,
        }
    }

    #[test]
    fn a_shared_backend_failure_is_shown_once_with_what_it_affected() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let failure = Arc::new(BackendError::Request {
            backend: "hashicorp_vault (http://127.0.0.1:1)".into(),
            endpoint: "GET http://127.0.0.1:1/v1/secret/data/a".into(),
            attempts: Attempts {
                count: 4,
                elapsed: std::time::Duration::from_millis(700),
            },
            source: Box::new(io),
        });
        let errors = vec![
            at(2, "os.environ/A", KeyError::Backend(Arc::clone(&failure))),
            at(3, "os.environ/B", KeyError::InvalidName { reason: "bad".into() }),
            at(4, "os.environ/C", KeyError::Backend(Arc::clone(&failure))),
        ];
        assert_eq!(
            lines(&Error::Unresolved(errors, Vec::new())),
            [
                "error: c.yaml:3:4: cannot resolve `os.environ/B`: invalid name: bad",
                "error: hashicorp_vault (http://127.0.0.1:1): request to GET http://127.0.0.1:1/v1/secret/data/a failed after 4 attempts in 0.7 s",
                "  caused by: Connection refused",
                "  --> c.yaml:2:4: cannot resolve `os.environ/A`",
                "  --> c.yaml:4:4: cannot resolve `os.environ/C`",
                "error: 3 references could not be resolved",
            ]
        );
    }

    #[test]
    fn requests_that_failed_the_same_way_are_one_failure() {
        let failed = |path: &str| {
            KeyError::Backend(Arc::new(BackendError::Request {
                backend: "hashicorp_vault (http://v)".into(),
                endpoint: format!("GET http://v/v1/secret/data/{path}"),
                attempts: Attempts {
                    count: if path == "a" { 2 } else { 3 },
                    elapsed: std::time::Duration::from_millis(if path == "a" { 300 } else { 200 }),
                },
                source: Box::new(std::io::Error::other("Connection refused")),
            }))
        };
        let errors = vec![at(2, "os.environ/a", failed("a")), at(3, "os.environ/b", failed("b"))];
        assert_eq!(
            lines(&Error::Unresolved(errors, Vec::new())),
            [
                "error: hashicorp_vault (http://v): 2 requests failed after up to 3 attempts in 0.3 s",
                "  caused by: Connection refused",
                "  --> c.yaml:2:4: cannot resolve `os.environ/a` (GET http://v/v1/secret/data/a)",
                "  --> c.yaml:3:4: cannot resolve `os.environ/b` (GET http://v/v1/secret/data/b)",
                "error: 2 references could not be resolved",
            ]
        );
    }
}
