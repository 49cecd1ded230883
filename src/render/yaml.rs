//! In-place rendering: only the reference scalars change; every other byte stays.
//!
//! A value is written as a plain scalar only when it cannot be read back as anything but the
//! same string (by PyYAML, which LiteLLM uses, and by YAML 1.2 parsers); otherwise it is a
//! double-quoted scalar with escapes. Either way it occupies exactly the old scalar's place, so
//! a value containing `: `, `#`, quotes or newlines can never add a key.

use crate::document::{Document, NodeKind};
use crate::error::ConfigError;
use crate::location::Location;
use crate::references::Reference;
use crate::secret::SecretValue;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;
use zeroize::Zeroizing;

/// LiteLLM's value coercion after resolving a reference (`get_secret`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coercion {
    /// No manager reads (none configured, or `access_mode: write_only`): `str_to_bool`, so
    /// `true`, `TRUE` and ` false ` become booleans (stripped as Python strips: U+001C..U+001F
    /// too).
    Environment,
    /// A manager reads: `ast.literal_eval`, so `True`, `False`, `(True)` and `True # c` become
    /// booleans, `true` does not ([`crate::python::literal_bool`]).
    Manager,
    /// Keep every value a string.
    Off,
}

impl Coercion {
    /// The boolean LiteLLM turns `value` into, if any.
    pub fn apply(self, value: &str) -> Option<bool> {
        match self {
            // LiteLLM compares `value.lower()`; only ASCII letters lower-case into these words,
            // and comparing in place makes no unwiped copy of the value.
            Self::Environment => {
                let value = crate::python::strip(value);
                if value.eq_ignore_ascii_case("true") {
                    Some(true)
                } else if value.eq_ignore_ascii_case("false") {
                    Some(false)
                } else {
                    None
                }
            }
            Self::Manager => crate::python::literal_bool(value),
            Self::Off => None,
        }
    }
}

/// Options for [`render`]. The default removes the key-management settings and coerces as
/// LiteLLM does with no manager reading.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// Keep `key_management_system` and `key_management_settings` in the output.
    pub keep_key_management: bool,
    /// Which coercion to apply.
    pub coercion: Coercion,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            keep_key_management: false,
            coercion: Coercion::Environment,
        }
    }
}

/// The rendered config; zeroized when dropped, since it holds secret values.
#[derive(Debug)]
pub struct Rendered {
    /// The text.
    pub text: Zeroizing<String>,
    /// Set when the key-management keys had to be kept (they hold an anchor used elsewhere).
    pub kept_key_management: Option<Location>,
}

struct Edit<'a> {
    range: Range<usize>,
    text: Replacement<'a>,
}

/// What an edit writes.
enum Replacement<'a> {
    /// A value written as it is (a safe plain scalar): borrowed, so there is no copy to wipe.
    Value(&'a str),
    /// Fixed text: `null`, `true`/`false`, ` {}`, or nothing for a removed entry.
    Fixed(&'static str),
    /// A value quoted for YAML: a copy, wiped when dropped.
    Quoted(Zeroizing<String>),
}

impl Replacement<'_> {
    fn as_str(&self) -> &str {
        match self {
            Self::Value(text) | Self::Fixed(text) => text,
            Self::Quoted(text) => text,
        }
    }
}

/// Values that cannot be written into a rendered config: one that starts with `os.environ/`
/// would be resolved again by LiteLLM when it loads the file (another secret, or `None`).
pub fn check_values<'a>(
    references: &'a [Reference],
    value_of: impl Fn(&'a Reference) -> Option<&'a SecretValue>,
) -> Result<(), Vec<ConfigError>> {
    let errors: Vec<ConfigError> = references
        .iter()
        .filter(|r| value_of(r).is_some_and(|v| v.expose().starts_with(crate::references::PREFIX)))
        .map(|r| ConfigError::ValueIsReference {
            location: r.location.clone(),
            written: r.written.clone(),
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// Render `doc` with each reference replaced by `value_of(reference)`; `None` writes `null`
/// (LiteLLM's result for a missing value, used with `--allow-missing`). Check the values with
/// [`check_values`] first.
pub fn render<'a>(
    doc: &Document,
    references: &'a [Reference],
    value_of: impl Fn(&'a Reference) -> Option<&'a SecretValue>,
    options: RenderOptions,
) -> Rendered {
    let mut edits = reference_edits(references, value_of, options);
    let mut kept_key_management = None;
    if !options.keep_key_management {
        match key_management_edits(doc) {
            Ok(more) => edits.extend(more),
            Err(at) => kept_key_management = Some(at),
        }
    }
    Rendered {
        text: apply(doc.text(), 0..doc.text().len(), &mut edits),
        kept_key_management,
    }
}

/// `src[range]` with `edits` applied (those inside the range; sorted here).
fn apply(src: &str, range: Range<usize>, edits: &mut [Edit<'_>]) -> Zeroizing<String> {
    edits.sort_by_key(|e| e.range.start);
    let mut out = Zeroizing::new(String::with_capacity(range.len() + edits.len() * 16));
    let mut at = range.start;
    let first = edits.partition_point(|e| e.range.start < range.start);
    for edit in &edits[first..] {
        if edit.range.start >= range.end {
            break;
        }
        if edit.range.start < at {
            continue; // inside a removed entry
        }
        out.push_str(&src[at..edit.range.start]);
        out.push_str(edit.text.as_str());
        at = edit.range.end.min(range.end);
    }
    out.push_str(&src[at..range.end]);
    out
}

/// The edits that write each reference's value (and drop its tag, which PyYAML would not keep
/// either).
fn reference_edits<'a>(
    references: &'a [Reference],
    value_of: impl Fn(&'a Reference) -> Option<&'a SecretValue>,
    options: RenderOptions,
) -> Vec<Edit<'a>> {
    let mut edits: Vec<Edit> = Vec::with_capacity(references.len());
    for r in references {
        if let Some(tag) = &r.tag_span {
            // `!!str` up to the value, so `&a !!str os.environ/X` becomes `&a value`.
            edits.push(Edit {
                range: tag.start..r.span.start,
                text: Replacement::Fixed(""),
            });
        }
        let text = match value_of(r) {
            None => Replacement::Fixed("null"),
            Some(v) => match options.coercion.apply(v.expose()) {
                Some(true) => Replacement::Fixed("true"),
                Some(false) => Replacement::Fixed("false"),
                None => match scalar(v.expose()) {
                    Cow::Borrowed(value) => Replacement::Value(value),
                    Cow::Owned(quoted) => Replacement::Quoted(Zeroizing::new(quoted)),
                },
            },
        };
        edits.push(Edit {
            range: r.span.clone(),
            text,
        });
    }
    edits
}

/// `value` as a YAML scalar that reads back as exactly this string.
pub fn scalar(value: &str) -> Cow<'_, str> {
    if is_safe_plain(value) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(double_quoted(value))
    }
}

/// Plain only for a conservative character set and never for a word PyYAML or YAML 1.2 would
/// read as a boolean, null or number.
fn is_safe_plain(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || first == '/')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./+=-@".contains(c))
        && !["true", "false", "yes", "no", "on", "off", "y", "n", "null"]
            .iter()
            .any(|word| value.eq_ignore_ascii_case(word))
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0'..='\u{1f}' | '\u{7f}'..='\u{9f}' => {
                let _ = write!(out, "\\x{:02X}", u32::from(c));
            }
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The keys of `general_settings` that set up the manager whose work the rendered config
/// already holds. The deprecated `use_google_kms` / `use_azure_key_vault` flags stay: LiteLLM
/// acts on them only after resolving references, so they mean the same in the rendered config.
const RESOLVED_KEYS: [&str; 2] = ["key_management_system", "key_management_settings"];

/// Edits that remove the key-management keys from `general_settings`, so LiteLLM does not set
/// up the manager again from the rendered config. `Err` when removing them from the text would
/// not remove them from what LiteLLM loads, or would change another place: the mapping is
/// anchored or an alias, or a key comes from a `<<` merge.
fn key_management_edits(doc: &Document) -> Result<Vec<Edit<'static>>, Location> {
    let text = doc.text();
    let Some(general) = doc.get_merged(doc.root(), "general_settings") else {
        return Ok(Vec::new());
    };
    let map = general.value;
    let (Some(entries), NodeKind::Mapping { flow }) = (doc.entries(map), doc.node(map).kind) else {
        return Ok(Vec::new());
    };
    let is_resolved_key = |k: &str| RESOLVED_KEYS.contains(&k);
    let direct = entries.iter().any(|e| doc.scalar(e.key).is_some_and(is_resolved_key));
    let merged = RESOLVED_KEYS
        .iter()
        .any(|k| doc.get(map, k).is_none() && doc.get_merged(map, k).is_some());
    if !direct && !merged {
        return Ok(Vec::new());
    }
    if merged || doc.node(map).anchored || doc.get(doc.root(), "general_settings").is_none() {
        return Err(doc.location(general.key));
    }
    let removed: Vec<_> = entries
        .iter()
        .filter(|e| doc.scalar(e.key).is_some_and(is_resolved_key))
        .collect();
    let is_removed = |i: usize| doc.scalar(entries[i].key).is_some_and(is_resolved_key);
    let mut ranges = Vec::new();
    if flow {
        // Remove runs of entries together so the commas stay right: up to the next kept key, or
        // (for a run at the end) from the end of the last kept value.
        let mut i = 0;
        while i < entries.len() {
            if !is_removed(i) {
                i += 1;
                continue;
            }
            let mut j = i;
            while j + 1 < entries.len() && is_removed(j + 1) {
                j += 1;
            }
            let run_end = doc
                .node(entries[j].value)
                .span()
                .end
                .max(doc.node(entries[j].key).span().end);
            let range = if j + 1 < entries.len() {
                doc.node(entries[i].key).span().start..doc.node(entries[j + 1].key).span().start
            } else if i > 0 {
                doc.node(entries[i - 1].value)
                    .span()
                    .end
                    .max(doc.node(entries[i - 1].key).span().end)..run_end
            } else {
                doc.node(entries[i].key).span().start..run_end
            };
            ranges.push((i, range));
            i = j + 1;
        }
    } else {
        for (i, e) in entries.iter().enumerate().filter(|(i, _)| is_removed(*i)) {
            let start = doc.node(e.key).span().start;
            let end = doc.node(e.value).span().end.max(doc.node(e.key).span().end);
            let line = doc.lines().line_range(text, start);
            let start = if text[line.start..start].trim().is_empty() {
                line.start
            } else {
                start
            };
            let end = if text[..end].ends_with('\n') {
                end
            } else {
                text[end..].find('\n').map_or(text.len(), |n| end + n + 1)
            };
            ranges.push((i, start..end));
        }
    }
    let mut edits = Vec::new();
    for (i, range) in ranges {
        // An anchor inside a removed entry may be used elsewhere; removing it would break the YAML.
        if (0..doc.len()).any(|id| doc.node(id).anchored && range.contains(&doc.node(id).span().start)) {
            return Err(doc.location(entries[i].key));
        }
        edits.push(Edit {
            range,
            text: Replacement::Fixed(""),
        });
    }
    if !flow && removed.len() == entries.len() {
        // Leave `general_settings: {}` rather than a null LiteLLM would have to special-case.
        let key_end = doc.node(general.key).span().end;
        if let Some(colon) = text[key_end..].find(':') {
            let at = key_end + colon + 1;
            edits.push(Edit {
                range: at..at,
                text: Replacement::Fixed(" {}"),
            });
        }
    }
    Ok(edits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_back_as_strings() {
        assert_eq!(scalar("sk-abc123"), "sk-abc123");
        assert_eq!(scalar("6379"), "\"6379\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("Null"), "\"Null\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("a: b # c"), "\"a: b # c\"");
        assert_eq!(scalar("say \"hi\"\n\\"), "\"say \\\"hi\\\"\\n\\\\\"");
        assert_eq!(scalar("\u{1f}\u{85}x\u{2028}"), "\"\\x1F\\x85x\\u2028\"");
        assert_eq!(scalar("ünï"), "\"ünï\"");
    }

    #[test]
    fn coercion_follows_each_litellm_path() {
        let env = Coercion::Environment;
        assert_eq!(env.apply("true"), Some(true));
        assert_eq!(env.apply(" FALSE "), Some(false));
        assert_eq!(env.apply("True"), Some(true));
        assert_eq!(env.apply("yes"), None);
        assert_eq!(env.apply("1"), None);
        let mgr = Coercion::Manager;
        assert_eq!(mgr.apply("True"), Some(true));
        assert_eq!(mgr.apply(" False\n"), Some(false));
        assert_eq!(mgr.apply("true"), None);
        assert_eq!(mgr.apply("TRUE"), None);
        assert_eq!(Coercion::Off.apply("True"), None);
    }
}
