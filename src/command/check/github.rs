//! `check --format github`: one GitHub Actions workflow command per finding
//! (`::error file=…,line=…,col=…,title=…::message`), which GitHub shows inline on the pull
//! request. Escaped as the runner reads them: `%`, CR and LF in the message; also `:` and `,`
//! in properties.

use super::findings::{Finding, Level};
use std::fmt::Write as _;

/// A message, escaped: by the one escaper first (a message is one line, no `##[`), then `%`,
/// CR and LF as the runner reads them (CR and LF are gone by then; kept so this function alone
/// is the runner's escaping).
fn data(text: &str) -> String {
    osenv::escape::line(text)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value, escaped.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The workflow commands for `findings`, one per line.
pub(super) fn commands(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let command = match f.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "notice",
        };
        let title = property(&format!("osenv {}", f.rule.id()));
        match &f.location {
            Some(at) => {
                let _ = writeln!(
                    out,
                    "::{command} file={},line={},col={},title={title}::{}",
                    property(at.file()),
                    at.line(),
                    at.column(),
                    data(&f.message)
                );
            }
            None => {
                let _ = writeln!(out, "::{command} title={title}::{}", data(&f.message));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::check::findings::Rule;

    #[test]
    fn properties_and_messages_are_escaped_as_the_runner_reads_them() {
        let finding = Finding {
            rule: Rule::MissingSecret,
            level: Level::Error,
            location: Some(crate::command::test_support::located("dir,a:b/config%.yaml", 14, 16)),
            message: "100% missing\r\nsecond line: a, b ##[x]".into(),
            subject: String::new(),
        };
        assert_eq!(
            commands(&[finding]),
            "::error file=dir%2Ca%3Ab/config%25.yaml,line=14,col=16,title=osenv missing-secret::100%25 missing\\r\\nsecond line: a, b \\x23#[x]\n"
        );
        let note = Finding {
            rule: Rule::ConfigError,
            level: Level::Note,
            location: None,
            message: "empty".into(),
            subject: String::new(),
        };
        assert_eq!(commands(&[note]), "::notice title=osenv config-error::empty\n");
    }
}
