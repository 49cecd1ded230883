//! The few Python string rules LiteLLM's resolver runs under, so that osenv reads a value the
//! way LiteLLM does: `str.isspace`/`str.strip` (wider than Rust's `trim`: U+001C..U+001F are
//! whitespace to Python), `int()` of a setting, and when `ast.literal_eval` of a secret gives a
//! boolean. Each is checked against CPython itself by `scripts/differential`.

/// Python's `str.isspace` for one character: Rust's `White_Space` plus the four information
/// separators U+001C..U+001F.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no argument.
pub fn strip(value: &str) -> &str {
    value.trim_matches(is_space)
}

/// The first code point of each run of ten Unicode decimal digits (category Nd), which Python's
/// `int()` accepts as well as ASCII digits (Unicode 15, as in CPython 3.11).
const DIGIT_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66, 0xde6, 0xe50, 0xed0,
    0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620,
    0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10, 0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0,
    0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60,
    0x16ac0, 0x16b50, 0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

fn decimal(c: char) -> Option<u32> {
    let c = u32::from(c);
    let zero = DIGIT_ZEROS[DIGIT_ZEROS.partition_point(|&z| z <= c).checked_sub(1)?];
    (c - zero < 10).then_some(c - zero)
}

/// The text CPython's `int()` and `float()` parse (`_PyUnicode_TransformDecimalAndSpaceToASCII`,
/// then the ASCII `isspace` strip): ASCII kept as is, other whitespace made a space, other
/// decimal digits (any script) made ASCII digits, anything else refused. So U+3000 and U+0085
/// surround a number as a space does, but U+001C..U+001F, which `str.strip` removes, do not.
fn numeric_text(value: &str) -> Option<String> {
    let mut text = String::with_capacity(value.len());
    for c in value.chars() {
        if u32::from(c) < 127 {
            text.push(c);
        } else if is_space(c) {
            text.push(' ');
        } else {
            text.push(char::from_digit(decimal(c)?, 10)?);
        }
    }
    Some(text.trim_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']).to_owned())
}

/// `text` less one leading sign, and whether it was `-`.
fn unsigned(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// Python's `int(value, base)` for `base` 2, 8, 10 or 16, saturating far outside any value
/// that matters: surrounding whitespace, one sign, the base's prefix (`0x`, `0o`, `0b`, any
/// case), digits with single underscores between them (and one after a prefix).
pub fn int_in_base(value: &str, base: u32) -> Option<i64> {
    let text = numeric_text(value)?;
    let (negative, rest) = unsigned(&text);
    let prefix = match base {
        16 => Some("0x"),
        8 => Some("0o"),
        2 => Some("0b"),
        _ => None,
    };
    let (prefixed, digits) = match prefix {
        Some(p) if rest.len() >= 2 && rest[..2].eq_ignore_ascii_case(p) => (true, &rest[2..]),
        _ => (false, rest),
    };
    let digits = if prefixed {
        digits.strip_prefix('_').unwrap_or(digits)
    } else {
        digits
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let mut n: i64 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        n = n
            .saturating_mul(i64::from(base))
            .saturating_add(i64::from(c.to_digit(base)?));
    }
    Some(if negative { -n } else { n })
}

/// Python's `int(value)`.
pub fn int(value: &str) -> Option<i64> {
    int_in_base(value, 10)
}

/// Whether Python's `float(value)` parses `value` (with no underscores: the one caller, PyYAML's
/// `!!float`, removes them first): surrounding whitespace, a sign, `inf`, `infinity`, `nan` in
/// any case, or a decimal with an optional fraction and exponent.
pub fn float_parses(value: &str) -> bool {
    numeric_text(value).is_some_and(|text| !text.contains('_') && text.parse::<f64>().is_ok())
}

/// The boolean `ast.literal_eval(value)` gives, if it gives one: what LiteLLM turns a value read
/// from a secret manager into. That is the tokenizer's view of `True`/`False` in any number of
/// parentheses, with blanks, comments, line breaks and backslash continuations where Python
/// allows them, and nothing else (`True\u{3000}`, `True\x0b` and `(True,)` are not booleans).
pub fn literal_bool(value: &str) -> Option<bool> {
    // `literal_eval` strips leading spaces and tabs, and the tokenizer reads `\r\n` and `\r` as
    // `\n`; a NUL is refused outright.
    let s = value.trim_start_matches([' ', '\t']);
    if s.contains('\0') {
        return None;
    }
    let mut chars = s.chars().peekable();
    let mut depth = 0usize;
    let mut opened = 0usize;
    let mut found: Option<bool> = None;
    let mut closed = 0usize;
    // At the start of a logical line at depth 0, where indentation counts.
    let mut line_start = true;
    let mut token_on_line = false;
    loop {
        if line_start && depth == 0 {
            let col = indentation(&mut chars)?;
            match chars.peek() {
                // A blank or comment-only line: no indentation, no token.
                Some('#' | '\n' | '\r') => {}
                None if col == 0 => break,
                // Indentation before a token (or before the end) is an error in an expression.
                _ if col > 0 => return None,
                None => break,
                _ => {}
            }
            line_start = false;
        }
        let Some(c) = chars.next() else { break };
        match c {
            ' ' | '\t' | '\u{c}' => {}
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n' && c != '\r') {
                    chars.next();
                }
            }
            '\n' | '\r' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                // Inside parentheses a line break is only a blank.
                if depth == 0 {
                    line_start = true;
                    token_on_line = false;
                }
            }
            '\\' => {
                match chars.next() {
                    Some('\n') => {}
                    Some('\r') => {
                        if chars.peek() == Some(&'\n') {
                            chars.next();
                        }
                    }
                    _ => return None,
                }
                // A continuation must continue something: at the end it is an error; before
                // any token, the next line's indentation still counts.
                chars.peek()?;
                if !token_on_line {
                    line_start = true;
                }
            }
            '(' if found.is_none() => {
                token_on_line = true;
                depth += 1;
                opened += 1;
            }
            ')' if found.is_some() && closed < opened => {
                token_on_line = true;
                closed += 1;
                depth -= 1;
            }
            'T' | 'F' if found.is_none() => {
                token_on_line = true;
                let word: String = std::iter::once(c)
                    .chain(std::iter::from_fn(|| {
                        chars.next_if(|c| c.is_alphanumeric() || *c == '_')
                    }))
                    .collect();
                found = Some(match word.as_str() {
                    "True" => true,
                    "False" => false,
                    _ => return None,
                });
            }
            _ => return None,
        }
    }
    if closed == opened { found } else { None }
}

/// The indentation at the start of a logical line, in columns (tabs to multiples of eight, a
/// form feed resets). A continuation right after it carries on counting on the next line (so
/// `\\\n\tTrue` and `\n \\\nTrue` are indented); `None` for a continuation at the very end.
fn indentation(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut col = 0usize;
    loop {
        while let Some(&c) = chars.peek() {
            match c {
                ' ' => col += 1,
                '\t' => col = (col / 8 + 1) * 8,
                '\u{c}' => col = 0,
                _ => break,
            }
            chars.next();
        }
        if chars.peek() != Some(&'\\') {
            return Some(col);
        }
        let mut ahead = chars.clone();
        ahead.next();
        match ahead.next() {
            Some('\n') => {}
            Some('\r') => {
                if ahead.peek() == Some(&'\n') {
                    ahead.next();
                }
            }
            _ => return Some(col),
        }
        ahead.peek()?;
        *chars = ahead;
    }
}

/// The body of Python's `repr()` of a `str` (without its quotes): single quotes unless the
/// value holds a `'` and no `"`; `\\`, the quote, `\t`, `\n`, `\r` escaped; other
/// non-printable characters as `\xNN`, `\uNNNN` or `\UNNNNNNNN`. Printable is approximated
/// for non-ASCII as not a control, separator or format character of the common ranges.
pub fn repr_body(value: &str) -> String {
    use std::fmt::Write as _;
    let quote = if value.contains('\'') && !value.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !printable(c) => {
                let n = u32::from(c);
                if n <= 0xff {
                    let _ = write!(out, "\\x{n:02x}");
                } else if n <= 0xffff {
                    let _ = write!(out, "\\u{n:04x}");
                } else {
                    let _ = write!(out, "\\U{n:08x}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The body of Python's `ascii()` of a `str`: its `repr` with every non-ASCII character escaped
/// (`\xNN`, `\uNNNN`, `\UNNNNNNNN`).
pub fn ascii_body(value: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(value.len());
    for c in repr_body(value).chars() {
        let n = u32::from(c);
        if c.is_ascii() {
            out.push(c);
        } else if n <= 0xff {
            let _ = write!(out, "\\x{n:02x}");
        } else if n <= 0xffff {
            let _ = write!(out, "\\u{n:04x}");
        } else {
            let _ = write!(out, "\\U{n:08x}");
        }
    }
    out
}

/// The body of Python's `repr()` of `bytes`: printable ASCII as it is, `\\`, the quote, `\t`,
/// `\n`, `\r` escaped, every other byte as `\xNN`.
pub fn bytes_repr_body(value: &[u8]) -> String {
    use std::fmt::Write as _;
    let quote = if value.contains(&b'\'') && !value.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::with_capacity(value.len());
    for &b in value {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b if b == quote => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// Python's `str.isprintable` for one character, for the ranges a secret may hold: controls,
/// the Unicode spaces but U+0020 (separators are not printable), and format characters.
fn printable(c: char) -> bool {
    let n = u32::from(c);
    !(n < 0x20
        || (0x7f..=0xa0).contains(&n)
        || n == 0xad
        || (c != ' ' && c.is_whitespace())
        || (0x200b..=0x200f).contains(&n)
        || (0x202a..=0x202e).contains(&n)
        || (0x2060..=0x206f).contains(&n)
        || n == 0xfeff
        || (0xd800..=0xdfff).contains(&n)
        || (0xfff9..=0xfffb).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_and_bytes_repr_are_pythons() {
        // As CPython 3.11 prints ascii(v) and repr(v.encode()), quotes taken off.
        assert_eq!(ascii_body("sk-CANÄRY\u{2028}😀'"), "sk-CAN\\xc4RY\\u2028\\U0001f600'");
        assert_eq!(bytes_repr_body("sk-CANÄRY\n'".as_bytes()), "sk-CAN\\xc3\\x84RY\\n'");
        assert_eq!(bytes_repr_body(b"it's \"q\""), "it\\'s \"q\"");
    }

    #[test]
    fn repr_is_pythons() {
        // Each as CPython 3.11 prints repr(value), quotes taken off.
        for (value, want) in [
            ("sk-abc", "sk-abc"),
            ("it's", "it's"),
            ("say \"it's\"", "say \"it\\'s\""),
            ("a\\b\n\t\r", "a\\\\b\\n\\t\\r"),
            ("\u{1b}[0m\u{7f}", "\\x1b[0m\\x7f"),
            ("\u{a0}é\u{200b}\u{1f600}", "\\xa0é\\u200b\u{1f600}"),
        ] {
            assert_eq!(repr_body(value), want, "{value:?}");
        }
    }

    #[test]
    fn strip_is_pythons() {
        assert_eq!(strip("\u{1c} true\u{1f}\u{3000}"), "true");
        assert_eq!(strip("\u{200b}x"), "\u{200b}x", "a zero-width space is not whitespace");
    }

    #[test]
    fn int_is_pythons() {
        for (raw, want) in [
            ("100", Some(100)),
            (" +1 ", Some(1)),
            ("-1", Some(-1)),
            ("0", Some(0)),
            ("1_0", Some(10)),
            ("\u{661}\u{660}", Some(10)),
            ("1__0", None),
            ("_1", None),
            ("1_", None),
            ("0x10", None),
            ("1.0", None),
            ("", None),
            ("- 1", None),
            // CPython's `int()` strips ASCII whitespace and non-ASCII spaces, not U+001C..U+001F.
            ("\u{3000}1\u{85}", Some(1)),
            ("\u{b}1", Some(1)),
            ("\u{1c}1", None),
            ("1\u{1f}", None),
            ("1\u{7f}", None),
        ] {
            assert_eq!(int(raw), want, "{raw:?}");
        }
        for (raw, base, want) in [
            (" 0x1f", 16, Some(31)),
            ("0X_1f", 16, Some(31)),
            ("1f", 16, Some(31)),
            ("0x1f", 10, None),
            ("0o17", 8, Some(15)),
            ("17", 8, Some(15)),
            ("8", 8, None),
            ("0b101", 2, Some(5)),
            ("2", 2, None),
            ("0x", 16, None),
            ("-\u{661}", 16, Some(-1)),
        ] {
            assert_eq!(int_in_base(raw, base), want, "{raw:?} base {base}");
        }
    }

    #[test]
    fn float_is_pythons() {
        for (raw, want) in [
            ("1.5", true),
            (" 1e5 ", true),
            ("inf", true),
            ("-Infinity", true),
            ("+nan", true),
            ("1.", true),
            (".5", true),
            ("\u{661}.5", true),
            (".", false),
            ("1e", false),
            ("0x1", false),
            ("1_0", false),
            ("\u{1c}1", false),
            ("", false),
        ] {
            assert_eq!(float_parses(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn literal_bool_is_literal_evals() {
        for (raw, want) in [
            ("True", Some(true)),
            ("False", Some(false)),
            (" \tTrue", Some(true)),
            ("(True)", Some(true)),
            ("((False))", Some(false)),
            ("True # c", Some(true)),
            ("\nTrue", Some(true)),
            ("\r\nTrue\r\n", Some(true)),
            ("\\\nTrue", Some(true)),
            ("(\n  True\n)", Some(true)),
            ("(\nTrue)  ", Some(true)),
            ("True\n\u{c}", Some(true)),
            ("False\r\t\\\r\n\r", Some(false)),
            ("True\n\\\n\n", Some(true)),
            ("True\n  \\\n", None),
            ("\\\n\tTrue", None),
            ("true", None),
            ("TRUE", None),
            ("True\u{3000}", None),
            ("True\u{a0}", None),
            ("True\u{b}", None),
            ("(True,)", None),
            ("True\n ", None),
            ("\n True", None),
            ("True)", None),
            ("(True", None),
            ("Truex", None),
            ("True\0", None),
            ("", None),
        ] {
            assert_eq!(literal_bool(raw), want, "{raw:?}");
        }
    }
}

#[cfg(test)]
mod against_cpython {
    /// `OSENV_LITERAL_TABLE=path cargo test -- --ignored literal_table`: a JSON object of
    /// strings to CPython's `literal_eval` booleans (null when not one), as written by
    /// `scripts/differential`.
    #[test]
    #[ignore = "needs a table written by CPython"]
    fn literal_table() {
        let path = std::env::var("OSENV_LITERAL_TABLE").expect("OSENV_LITERAL_TABLE");
        let table: std::collections::BTreeMap<String, Option<bool>> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let wrong: Vec<_> = table
            .iter()
            .filter(|(s, want)| super::literal_bool(s) != **want)
            .map(|(s, want)| format!("{s:?}: want {want:?}"))
            .collect();
        assert!(
            wrong.is_empty(),
            "{} of {} differ:\n{}",
            wrong.len(),
            table.len(),
            wrong[..wrong.len().min(40)].join("\n")
        );
    }
}
