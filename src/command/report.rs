//! Presentation: warnings, the missing-value policy, the lines an error prints on stderr and
//! the exit code it maps to.
//!
//! Errors read like rustc's: one line per problem, sorted by location; a backend failure shared
//! by many references is one error, shown once with its causes, with the references it
//! affected listed under it; then a summary line.

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
            eprintln!("warning: {message}");
        }
    }
}

/// With `allow_missing`, absent values become warnings (`what` says what happens to them); any
/// other failure (a backend outage, a denied or unusable key) is still an error.
pub(crate) fn tolerate_missing(
    errors: Vec<ReferenceError>,
    ui: Ui,
    allow_missing: bool,
    what: &str,
) -> Result<(), Error> {
    if errors.is_empty() {
        return Ok(());
    }
    let absent = |e: &ReferenceError| matches!(e.cause, KeyError::NotFound { .. });
    if !allow_missing {
        return Err(Error::Unresolved(errors, Vec::new()));
    }
    if errors.iter().any(|e| !absent(e)) {
        let errors = errors.into_iter().filter(|e| !absent(e)).collect();
        return Err(Error::Unresolved(errors, Vec::new()));
    }
    for e in &errors {
        ui.warn(format_args!("{e} ({what}: --allow-missing)"));
    }
    Ok(())
}

/// The process exit code: 2 for unusable input, 1 for failures to resolve or write, 126/127
/// when `exec` cannot start its command (as shells do).
pub fn exit_code(err: &Error) -> u8 {
    match err {
        Error::Config(_) | Error::Input(_) | Error::Dotenv(_) | Error::Usage(_) => 2,
        Error::Exec { source, .. } if source.kind() == std::io::ErrorKind::NotFound => 127,
        Error::Exec { .. } => 126,
        Error::Unresolved(..) | Error::Output(_) | Error::Backend(_) | Error::Format { .. } | Error::Template(_) => 1,
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

/// One line per reference or variable with a cause of its own, then each shared backend failure
/// once, with what it affected under it, then the count.
fn unresolved(lines: &mut Vec<String>, references: &[ReferenceError], variables: &[osenv::error::VariableError]) {
    // What each distinct failure affected, in the order failures are first met (the errors are
    // sorted, so that is the order of their first reference).
    let mut shared: Vec<(&Arc<BackendError>, Vec<String>)> = Vec::new();
    let items = references
        .iter()
        .map(|e| (&e.cause, format!("{}: cannot resolve `{}`", e.location, e.shown()), e.to_string()))
        .chain(
            variables
                .iter()
                .map(|e| (&e.cause, format!("environment variable `{}` ({})", e.variable, e.origin), e.to_string())),
        );
    for (cause, what, own) in items {
        if let KeyError::Backend(failure) = cause {
            match shared.iter_mut().find(|(f, _)| Arc::ptr_eq(f, failure)) {
                Some((_, list)) => list.push(what),
                None => shared.push((failure, vec![what])),
            }
        } else {
            lines.push(format!("error: {own}"));
        }
    }
    for (failure, list) in shared {
        lines.push(format!("error: {failure}"));
        causes(lines, failure.as_ref());
        lines.extend(list.into_iter().map(|what| format!("  --> {what}")));
    }
    let count = references.len() + variables.len();
    if count > 1 {
        lines.push(format!("error: {count} references could not be resolved"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use osenv::location::Location;

    fn at(line: usize, written: &str, cause: KeyError) -> ReferenceError {
        ReferenceError {
            location: Location {
                file: "c.yaml".into(),
                line,
                column: 4,
            },
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
            attempts: 4,
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
                "error: hashicorp_vault (http://127.0.0.1:1): request to GET http://127.0.0.1:1/v1/secret/data/a failed after 4 attempt(s)",
                "  caused by: Connection refused",
                "  --> c.yaml:2:4: cannot resolve `os.environ/A`",
                "  --> c.yaml:4:4: cannot resolve `os.environ/C`",
                "error: 3 references could not be resolved",
            ]
        );
    }
}
