//! The one escaper for everything osenv prints as a message: every line on stderr (errors,
//! warnings, logs) and every line of `check`'s text report goes through [`line`].
//!
//! Messages quote what came from files a pull request can change: key paths, references as
//! written, include entries, file names. A newline in one of them would start a line of the
//! attacker's choosing, and in a CI log a line that starts with `::` (or `##[`) is a GitHub
//! Actions workflow command: `::stop-commands::token` hides osenv's own annotations,
//! `::error file=…::` adds false ones, `::add-mask::` changes what the log shows. So:
//!
//! - control characters (C0 but tab, DEL, C1) and the Unicode line and paragraph separators
//!   are written as escapes (`\n`, `\x1b`, `\u{85}`): a message is exactly one line;
//! - a line that would start, after blanks, with `::` gets its first character escaped
//!   (`\x3a:`), and every `##` is written `\x23#`: the runner's older syntax `##[command]` and
//!   Azure Pipelines' `##vso[` are found anywhere in a line (actions/runner
//!   `ActionCommand.TryParse` looks for `##[` with `IndexOf`), so the runner reads no command;
//! - bidirectional overrides (U+202A–U+202E, U+2066–U+2069) are escaped too, so a message reads
//!   in the order it was written.
//!
//! osenv's own annotations (`check --format github`) are built by their own module with the
//! workflow commands' escaping, and its outputs (rendered configs, env files) are data written
//! as they are. Everything else reaches a stream through [`eprint_line`] or [`Stderr`] (the
//! log's writer); `clippy.toml` disallows the printing macros elsewhere, so a new message cannot
//! skip the escaper.

use std::borrow::Cow;
use std::fmt::Write as _;

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with control characters escaped: it cannot break a line or drive a terminal.
pub fn text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The longest line printed: a server's error answer can be as large as the response cap.
const MAX_LINE: usize = 8192;

/// One line to print: [`text`], at most [`MAX_LINE`] bytes, and never a workflow command (see
/// the module docs). What a server wrote has had its secrets withheld already, where it was
/// shown ([`crate::secret::withheld`]), so no cut here leaves part of one.
pub fn line(line: &str) -> Cow<'_, str> {
    let mut escaped = text(line);
    if escaped.len() > MAX_LINE {
        let mut end = MAX_LINE;
        while !escaped.is_char_boundary(end) {
            end -= 1;
        }
        escaped = Cow::Owned(format!("{}… ({} bytes more)", &escaped[..end], escaped.len() - end));
    }
    // The runner's second syntax (and Azure Pipelines' `##vso[`) is found anywhere in a line.
    if escaped.contains("##") {
        escaped = Cow::Owned(hashes(&escaped, "\\x23"));
    }
    let body = escaped.trim_start();
    if body.starts_with("::") {
        let blanks = escaped.len() - body.len();
        return Cow::Owned(format!("{}\\x3a{}", &escaped[..blanks], &body[1..]));
    }
    escaped
}

/// Each `#` that another follows, written `escape` (so no run of them leaves `##` behind).
fn hashes(text: &str, escape: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '#' && chars.peek() == Some(&'#') {
            out.push_str(escape);
        } else {
            out.push(c);
        }
    }
    out
}

/// JSON text (`check --format json|sarif`) as the runner may read it: serde has escaped the
/// control characters, and no line of pretty JSON starts with `::`; `##[` inside a string is
/// written `\u0023#[` — the same string to any JSON parser, no command to the runner.
pub fn json(text: &str) -> String {
    hashes(text, "\\u0023")
}

/// Every line of `text` through [`line`]; the text's own line ends kept.
pub fn lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, l) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&line(l));
    }
    out
}

/// Print one message line on stderr, escaped.
#[allow(clippy::disallowed_macros)]
pub fn eprint_line(message: &str) {
    eprintln!("{}", line(message));
}

/// The log's writer: each event (one formatted line) escaped as [`line`] before it reaches
/// stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, end) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (&*text, ""),
        };
        let mut err = std::io::stderr().lock();
        err.write_all(line(body).as_bytes())?;
        err.write_all(end.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl tracing_subscriber::fmt::MakeWriter<'_> for Stderr {
    type Writer = Self;

    fn make_writer(&self) -> Self::Writer {
        Self
    }
}

/// POSIX shell single quoting: every byte literal, `'` written as `'\''`. The one shell
/// quoter: env files for `sh` and the commands `osenv policy` prints.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn control_characters_and_commands() {
        assert_eq!(text("plain `key` ü\ttab"), "plain `key` ü\ttab");
        assert_eq!(text("b\n::stop-commands::tok"), "b\\n::stop-commands::tok");
        assert_eq!(text("\r\x1b[2J\x7f\u{85}\u{2028}"), "\\r\\x1b[2J\\x7f\\u{85}\\u{2028}");
        assert_eq!(line("::error::x"), "\\x3a:error::x");
        assert_eq!(line("  ::warning file=a::b"), "  \\x3a:warning file=a::b");
        assert_eq!(line("##[error]x"), "\\x23#[error]x");
        assert_eq!(
            line("a: os.environ/X##[stop-commands]p ##vso[task]"),
            "a: os.environ/X\\x23#[stop-commands]p \\x23#vso[task]"
        );
        assert_eq!(text("\u{202e}x"), "\\u{202e}x");
        assert_eq!(json(r#"{"k": "a###[b"}"#), r#"{"k": "a\u0023\u0023#[b"}"#);
        let parsed: serde_json::Value = serde_json::from_str(&json(r#"{"k": "a###[b"}"#)).unwrap();
        assert_eq!(parsed["k"], "a###[b");
        assert_eq!(line("a.yaml:1:1: ::x"), "a.yaml:1:1: ::x");
        assert_eq!(lines("ok\n::x\n"), "ok\n\\x3a:x\n");
    }

    /// How the runner finds a command in a line: `::` at its start (after blanks), or `##[`
    /// anywhere (and Azure Pipelines' `##vso[`).
    /// A line is cut at 8 KiB; a secret a server wrote straddling the cut was withheld whole
    /// where the server's text was shown, before the cut.
    #[test]
    fn a_long_line_is_cut_after_its_secrets_are_withheld() {
        let _secret = crate::secret::SecretValue::withheld("straddling-secret-1c9e");
        let said = format!("{}straddling-secret-1c9e{}", "x".repeat(8180), "y".repeat(100));
        let failure = crate::backend::RequestFailure::answer(400, said).to_string();
        let shown = line(&failure);
        assert!(shown.len() < 8300, "{}", shown.len());
        assert!(!shown.contains("straddl"), "{}", &shown[8150..]);
        assert!(shown.ends_with(" bytes more)"));
    }

    fn is_command(l: &str) -> bool {
        l.trim_start().starts_with("::") || l.contains("##[") || l.contains("##vso[")
    }

    proptest! {
        /// Whatever a file holds, a message built from it is one line that is no workflow
        /// command, as the runner reads lines (split at CR and LF, blanks trimmed).
        #[test]
        fn no_input_makes_a_workflow_command(
            prefix in "[ :#a-z\\[]{0,6}",
            input in "(\\PC|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{2028}\\u{202e}]|::|##\\[|##vso\\[|#){0,40}",
        ) {
            let message = format!("{prefix}{input}");
            let printed = line(&message);
            prop_assert!(!printed.contains(['\n', '\r']));
            prop_assert!(!printed.chars().any(needs_escape));
            prop_assert!(!is_command(&printed), "{printed}");
            let many = lines(&message);
            for l in many.split(['\n', '\r']) {
                prop_assert!(!is_command(l), "{l}");
            }
        }
    }
}
