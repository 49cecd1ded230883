//! In-place rendering: only the reference scalars change; every other byte stays.
//!
//! A value is written as a plain scalar only when it cannot be read back as anything but the
//! same string (by PyYAML, which LiteLLM uses, and by YAML 1.2 parsers); otherwise it is a
//! double-quoted scalar with escapes. Either way it occupies exactly the old scalar's place, so
//! a value containing `: `, `#`, quotes or newlines can never add a key.

use crate::document::{Document, Entry, NodeId, NodeKind};
use crate::error::{ConfigError, KeyError, Problem, ReferenceError, Within};
use crate::location::Location;
use crate::references::Reference;
use crate::secret::SecretValue;
use crate::sources::{INCLUDE_KEY, Sources};
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

/// Values that cannot be written into a rendered config, as the references' errors (a
/// resolution that failed, like a missing value): one that starts with `os.environ/` would be
/// resolved again by LiteLLM when it loads the file (another secret, or `None`). `within(name)`
/// says where the value was read.
pub fn check_values<'a>(
    references: &'a [Reference],
    value_of: impl Fn(&'a Reference) -> Option<&'a SecretValue>,
    within: impl Fn(&str) -> Within,
) -> Vec<ReferenceError> {
    references
        .iter()
        .filter(|r| value_of(r).is_some_and(|v| v.expose().starts_with(crate::references::PREFIX)))
        .map(|r| {
            r.error(KeyError::InvalidValue {
                within: within(&r.name),
                reason: Problem::ResolvesAgain,
            })
        })
        .collect()
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
    let mut edits: Vec<Edit> = reference_edits(references, value_of, options)
        .into_iter()
        .map(|(_, e)| e)
        .collect();
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
) -> Vec<(usize, Edit<'a>)> {
    let mut edits: Vec<(usize, Edit)> = Vec::with_capacity(references.len());
    for r in references {
        if let Some(tag) = &r.tag_span {
            // `!!str` up to the value, so `&a !!str os.environ/X` becomes `&a value`.
            edits.push((
                r.source,
                Edit {
                    range: tag.start..r.span.start,
                    text: Replacement::Fixed(""),
                },
            ));
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
        edits.push((
            r.source,
            Edit {
                range: r.span.clone(),
                text,
            },
        ));
    }
    edits
}

/// Render a config and its `include:` files as one self-contained config, so that it means the
/// same wherever it is written (an `include:` path relative to the original would not resolve
/// next to the output). The config's text comes first, as it is except for the references and
/// the top-level entries the includes replace or extend (and `include` itself); then each merged
/// key that an included file sets: its entry copied line for line, or, for lists LiteLLM
/// concatenates, one block list of all their items. `Err` names a place where moving text would
/// break an alias.
pub fn render_sources<'a>(
    sources: &Sources,
    references: &'a [Reference],
    value_of: impl Fn(&'a Reference) -> Option<&'a SecretValue>,
    options: RenderOptions,
) -> Result<Rendered, Vec<ConfigError>> {
    if !sources.has_includes() {
        return Ok(render(sources.root(), references, value_of, options));
    }
    let docs = sources.documents();
    let mut edits: Vec<Vec<Edit>> = docs.iter().map(|_| Vec::new()).collect();
    for (source, edit) in reference_edits(references, value_of, options) {
        edits[source].push(edit);
    }
    let mut kept_key_management = None;
    if !options.keep_key_management {
        let s = sources.settings_source();
        match key_management_edits(&docs[s]) {
            Ok(more) => edits[s].extend(more),
            Err(at) => kept_key_management = Some(at),
        }
    }
    let moved_error = |doc: &Document, at: NodeId| {
        ConfigError::Include {
        location: doc.location(at),
        reason: "an anchor or alias here would be separated from its other half when the included files are merged into one config; write the value out".into(),
    }
    };
    let mut errors = Vec::new();
    let root = &docs[0];
    for &entry in root.entries(root.root()).unwrap_or_default() {
        let key = root.scalar(entry.key).unwrap_or_default();
        let stays = sources
            .merged()
            .iter()
            .find(|k| k.key == key)
            .is_some_and(|k| key != INCLUDE_KEY && k.parts.len() == 1 && k.parts[0].0 == 0);
        if !stays {
            let range = entry_lines(root, entry);
            if let Some(at) = aliases_into(root, &range) {
                errors.push(moved_error(root, at));
            }
            edits[0].push(Edit {
                range,
                text: Replacement::Fixed(""),
            });
        }
    }
    let mut out = apply(root.text(), 0..root.text().len(), &mut edits[0]);
    // What each file has had copied so far: an alias may point into it.
    let mut copied: Vec<Vec<Range<usize>>> = docs.iter().map(|_| Vec::new()).collect();
    for merged in sources.merged() {
        if merged.key == INCLUDE_KEY || (merged.parts.len() == 1 && merged.parts[0].0 == 0) {
            continue;
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if let [(source, entry)] = merged.parts[..] {
            let doc = &docs[source];
            let range = entry_lines(doc, entry);
            copied[source].push(range.clone());
            if let Some(at) = aliases_leaving(doc, &copied[source]) {
                errors.push(moved_error(doc, at));
            }
            out.push_str(&apply(doc.text(), range, &mut edits[source]));
            continue;
        }
        // Lists from several files: one block list of every item, each re-indented under it.
        let (first, first_entry) = merged.parts[0];
        out.push_str(docs[first].source(first_entry.key));
        out.push_str(":\n");
        for &(source, entry) in &merged.parts {
            let doc = &docs[source];
            for &item in doc.items(entry.value).unwrap_or_default() {
                let span = doc.node(item).span();
                let range = with_properties(doc.text(), span.start)..span.end;
                if let Some(at) =
                    aliases_leaving(doc, std::slice::from_ref(&range)).or_else(|| aliases_into(doc, &range))
                {
                    errors.push(moved_error(doc, at));
                }
                let column = doc.locate(range.start).column() - 1;
                push_item(&mut out, &apply(doc.text(), range, &mut edits[source]), column);
            }
        }
    }
    if errors.is_empty() {
        Ok(Rendered {
            text: out,
            kept_key_management,
        })
    } else {
        errors.sort_by(|a, b| a.location().cmp(&b.location()));
        Err(errors)
    }
}

/// `text`, an item whose first character was at `column`, as an item of a block list under a
/// top-level key: `  - ` and its first line, the other lines moved by the same amount.
fn push_item(out: &mut String, text: &str, column: usize) {
    out.push_str("  - ");
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.trim().is_empty() {
                let blanks = line.len() - line.trim_start_matches(' ').len();
                out.push_str("    ");
                out.push_str(&line[blanks.min(column)..]);
            }
        } else {
            out.push_str(line);
        }
    }
    out.push('\n');
}

/// The whole lines of a top-level entry: from its key's line to the end of its value's last
/// line, line break included.
fn entry_lines(doc: &Document, entry: Entry) -> Range<usize> {
    let text = doc.text();
    let start = doc.lines().line_range(text, doc.node(entry.key).span().start).start;
    let end = doc.node(entry.value).span().end.max(doc.node(entry.key).span().end);
    let end = if end > start && text[..end].ends_with('\n') {
        end
    } else {
        text[end..].find('\n').map_or(text.len(), |n| end + n + 1)
    };
    start..end
}

/// A node's start with the anchor and tag written before it (`- &a !!map {..}`).
fn with_properties(text: &str, start: usize) -> usize {
    let b = text.as_bytes();
    let mut at = start;
    loop {
        let mut i = at;
        while i > 0 && matches!(b[i - 1], b' ' | b'\t' | b'\n' | b'\r') {
            i -= 1;
        }
        let mut j = i;
        while j > 0 && !matches!(b[j - 1], b' ' | b'\t' | b'\n' | b'\r' | b'-' | b'[' | b',' | b'{') {
            j -= 1;
        }
        if j < i && matches!(b[j], b'&' | b'!') {
            at = j;
        } else {
            return at;
        }
    }
}

/// An alias outside `range` whose anchor is inside it, if any.
fn aliases_into(doc: &Document, range: &Range<usize>) -> Option<NodeId> {
    (0..doc.len()).find(|&id| {
        let node = doc.node(id);
        matches!(node.kind, NodeKind::Alias)
            && !range.contains(&node.span().start)
            && range.contains(&doc.node(doc.resolve_alias(id)).span().start)
    })
}

/// An alias in the last of `ranges` whose anchor is in none of them (the text copied so far),
/// if any.
fn aliases_leaving(doc: &Document, ranges: &[Range<usize>]) -> Option<NodeId> {
    let range = ranges.last()?;
    (0..doc.len()).find(|&id| {
        let node = doc.node(id);
        let target = doc.node(doc.resolve_alias(id)).span().start;
        matches!(node.kind, NodeKind::Alias)
            && range.contains(&node.span().start)
            && !ranges.iter().any(|r| r.contains(&target))
    })
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

/// `general_settings: *g` stands for an anchored mapping used elsewhere too: its keys cannot be
/// removed here, so they are kept (with the warning).
fn behind_an_alias(doc: &Document, general: Entry) -> Result<Vec<Edit<'static>>, Location> {
    let target = doc.resolve_alias(general.value);
    if RESOLVED_KEYS.iter().any(|k| doc.get_merged(target, k).is_some()) {
        Err(doc.location(general.key))
    } else {
        Ok(Vec::new())
    }
}

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
    if map != doc.resolve_alias(map) {
        return behind_an_alias(doc, general);
    }
    let (Some(entries), NodeKind::Mapping { flow }) = (doc.entries(map), doc.node(map).kind) else {
        return Ok(Vec::new());
    };
    let is_resolved_key = |k: &str| RESOLVED_KEYS.contains(&k);
    let direct = entries.iter().any(|e| doc.string(e.key).is_some_and(is_resolved_key));
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
        .filter(|e| doc.string(e.key).is_some_and(is_resolved_key))
        .collect();
    let is_removed = |i: usize| doc.string(entries[i].key).is_some_and(is_resolved_key);
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
    use crate::references::Discovery;
    use std::collections::HashMap;

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, SecretValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretValue::new(*v)))
            .collect()
    }

    const ENV: RenderOptions = RenderOptions {
        keep_key_management: false,
        coercion: Coercion::Environment,
    };

    /// `src` rendered with `pairs` as the values (a name not among them renders as `null`).
    fn rendered(src: &str, pairs: &[(&str, &str)], options: RenderOptions) -> String {
        let doc = Document::parse("t.yaml", src.to_owned()).unwrap();
        let refs = Discovery::of(&doc, 100).references;
        let values = values(pairs);
        let out = render(&doc, &refs, |r| values.get(&r.name), options);
        out.text.to_string()
    }

    /// The adversary review: `general_settings: *g` kept key_management_system silently.
    #[test]
    fn key_management_behind_an_alias_is_kept_with_a_warning() {
        let doc = Document::parse(
            "t.yaml",
            "g: &g {key_management_system: aws_kms}\ngeneral_settings: *g\n".to_owned(),
        )
        .unwrap();
        assert!(key_management_edits(&doc).is_err());
    }

    #[test]
    fn render_writes_values_booleans_nulls_and_drops_tags() {
        let src = "# head\na: os.environ/A   # kept\nb: !!str os.environ/B\nc: os.environ/GONE\nd: &x os.environ/D\ne: *x\nf: 'os.environ/F'\n";
        let pairs = [("A", "sk-1"), ("B", "TRUE"), ("D", "6379"), ("F", "it's")];
        assert_eq!(
            rendered(src, &pairs, ENV),
            "# head\na: sk-1   # kept\nb: true\nc: null\nd: &x \"6379\"\ne: *x\nf: \"it's\"\n"
        );
        let off = RenderOptions {
            coercion: Coercion::Off,
            ..ENV
        };
        assert!(rendered(src, &pairs, off).contains("b: \"TRUE\"\n"));
    }

    #[test]
    fn key_management_is_removed_unless_kept() {
        let src = "general_settings:\n  key_management_system: aws_secret_manager\n  master_key: os.environ/M\n  key_management_settings:\n    access_mode: write_only\nx: 1\n";
        assert_eq!(
            rendered(src, &[("M", "m")], ENV),
            "general_settings:\n  master_key: m\nx: 1\n"
        );
        let keep = RenderOptions {
            keep_key_management: true,
            ..ENV
        };
        assert_eq!(rendered(src, &[("M", "m")], keep), src.replace("os.environ/M", "m"));
        let only = "general_settings:\n  key_management_system: aws_kms\nx: os.environ/X\n";
        assert_eq!(rendered(only, &[("X", "v")], ENV), "general_settings: {}\nx: v\n");
    }

    #[test]
    fn values_that_litellm_would_resolve_again_are_errors() {
        let doc = Document::parse("t.yaml", "a: os.environ/A\nb: os.environ/B\n".to_owned()).unwrap();
        let refs = Discovery::of(&doc, 100).references;
        let values = values(&[("A", "os.environ/OTHER"), ("B", "fine")]);
        let errors = check_values(&refs, |r| values.get(&r.name), |_| Within::backend("the environment"));
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(
            shown[0].starts_with("t.yaml:1:4: cannot resolve `os.environ/A`: ")
                && shown[0].contains("starts with `os.environ/`"),
            "{shown:?}"
        );
    }

    /// Key-management removal from every `general_settings` layout: runs of flow entries at the
    /// start, middle and end (commas kept right), a block entry with its comment, a last line
    /// without a line break; and where removing text would not remove what LiteLLM loads (an
    /// anchored or merged mapping, an anchor inside a removed entry) the keys stay and the
    /// place is reported.
    #[test]
    fn key_management_removal_in_every_layout() {
        let removed = |src: &str| {
            let doc = Document::parse("t.yaml", src.to_owned()).unwrap();
            let out = render(&doc, &[], |_| None, ENV);
            (out.text.to_string(), out.kept_key_management.map(|l| l.to_string()))
        };
        let ok = |src: &str, want: &str| assert_eq!(removed(src), (want.to_owned(), None), "{src}");
        ok(
            "general_settings: {key_management_system: x, key_management_settings: {a: 1}, master_key: m}\n",
            "general_settings: {master_key: m}\n",
        );
        ok(
            "general_settings: {master_key: m, key_management_system: x, database_url: d}\n",
            "general_settings: {master_key: m, database_url: d}\n",
        );
        ok(
            "general_settings: {master_key: m,\n  key_management_system: x, key_management_settings: {}}\nz: 1\n",
            "general_settings: {master_key: m}\nz: 1\n",
        );
        ok(
            "general_settings: {key_management_system: x}\n",
            "general_settings: {}\n",
        );
        ok(
            "general_settings   :   # all of it goes\n  key_management_system: x\n",
            "general_settings   : {}   # all of it goes\n",
        );
        ok(
            "general_settings:\n  key_management_system: x   # the manager\n  master_key: m\n",
            "general_settings:\n  master_key: m\n",
        );
        ok(
            "general_settings:\n  master_key: m\n  key_management_settings:\n    a: 1\n    b: [2]\nz: 1",
            "general_settings:\n  master_key: m\nz: 1",
        );
        ok(
            "general_settings:\n  master_key: m\n  key_management_system: x",
            "general_settings:\n  master_key: m\n",
        );
        ok(
            "general_settings:\n  master_key: m\n",
            "general_settings:\n  master_key: m\n",
        );
        ok("general_settings: 1\n", "general_settings: 1\n");
        let kept = |src: &str, at: &str| assert_eq!(removed(src), (src.to_owned(), Some(at.to_owned())), "{src}");
        kept(
            "general_settings: &g {key_management_system: x}\nother: *g\n",
            "t.yaml:1:1",
        );
        kept(
            "base: &b {key_management_system: x}\ngeneral_settings:\n  <<: *b\n  master_key: m\n",
            "t.yaml:2:1",
        );
        kept(
            "general_settings:\n  key_management_settings: &s {a: 1}\nother: *s\n",
            "t.yaml:2:3",
        );
        kept("<<: {general_settings: {key_management_system: x}}\n", "t.yaml:1:6");
    }

    /// Entries copied from an included file are whole lines: a block value up to its last line
    /// (not the next entry's; a block scalar's span already ends after its line break), a plain
    /// value with its comment.
    #[test]
    fn included_entries_are_copied_as_whole_lines() {
        let more = "litellm_settings:\n  a: 1\n  b: os.environ/B\nrouter_settings:\n  c: 2\nnotes: |\n  hello\nz: 3  # c\nw: 4\n";
        let out = rendered_sources(
            &[("config.yaml", "include: [more.yaml]\n"), ("more.yaml", more)],
            &[("B", "b")],
        )
        .unwrap();
        assert_eq!(out, more.replace("os.environ/B", "b"));
    }

    /// A list item copied from an included file keeps its anchor-free properties (`!!map`), and
    /// an entry whose value ends before a comment, or at the end of a file with no line
    /// break, is copied whole.
    #[test]
    fn included_items_keep_their_tags_and_entries_their_last_line() {
        let root = "include: [more.yaml]\nmodel_list:\n  - {model_name: a}\n";
        let more = "model_list:\n  - !!map {model_name: t}\n  -   !!map\n    model_name: u\n  - &unused !!map {model_name: v}\n  - &w\n    model_name: w\nlitellm_settings: {drop_params: true}  # note\nlast: os.environ/L";
        let out = rendered_sources(&[("config.yaml", root), ("more.yaml", more)], &[("L", "l")]).unwrap();
        assert_eq!(
            out,
            "model_list:\n  - {model_name: a}\n  - !!map {model_name: t}\n  - !!map\n    model_name: u\n\
             \x20 - &unused !!map {model_name: v}\n  - &w\n    model_name: w\n\
             litellm_settings: {drop_params: true}  # note\nlast: l"
        );
    }

    fn sources(files: &[(&str, &str)]) -> (tempfile::TempDir, Sources) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let path = dir.path().join(files[0].0);
        let doc = Document::parse(files[0].0, files[0].1.to_owned()).unwrap();
        let sources = Sources::load(doc, &path, std::time::Duration::from_secs(5)).unwrap();
        (dir, sources)
    }

    fn rendered_sources(files: &[(&str, &str)], pairs: &[(&str, &str)]) -> Result<String, Vec<String>> {
        let (_dir, sources) = sources(files);
        let refs = Discovery::of_parts(&sources.parts(), 100).references;
        let values = values(pairs);
        render_sources(&sources, &refs, |r| values.get(&r.name), ENV)
            .map(|r| r.text.to_string())
            .map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }

    /// Included files become one config: root-only entries stay where they are, the rest is
    /// appended (lists LiteLLM concatenates as one block list, each item re-indented under it,
    /// blank lines inside an item kept blank), `include` goes, and so do the key-management
    /// keys of the file that sets `general_settings`.
    #[test]
    fn includes_render_as_one_self_contained_config() {
        let root = "# root\ninclude: [more.yaml]\nkeep: os.environ/K  # stays\nmodel_list:\n  - model_name: a\n    litellm_params: {api_key: os.environ/A}\nx: root\n";
        let more = "model_list:\n      - model_name: b\n\n        litellm_params:\n          api_key: os.environ/B\nx: more\ngeneral_settings:\n  key_management_system: aws_kms\n  master_key: os.environ/M\n";
        let out = rendered_sources(
            &[("config.yaml", root), ("more.yaml", more)],
            &[("K", "k"), ("A", "a"), ("B", "b"), ("M", "m")],
        )
        .unwrap();
        assert_eq!(
            out,
            "# root\nkeep: k  # stays\n\
             model_list:\n  - model_name: a\n    litellm_params: {api_key: a}\n  - model_name: b\n\n    litellm_params:\n      api_key: b\n\
             x: more\ngeneral_settings:\n  master_key: m\n"
        );
    }

    #[test]
    fn an_alias_that_moving_text_would_break_is_an_error() {
        let root = "include: [more.yaml]\nx: &a os.environ/A\ny: *a\n";
        let more = "x: other\n";
        let errors = rendered_sources(&[("config.yaml", root), ("more.yaml", more)], &[("A", "a")]).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("config.yaml:"), "{errors:?}");
        assert!(errors[0].contains("anchor or alias"), "{errors:?}");
        // Copied in order, an anchor and its alias travel together.
        let more = "x: &b [1]\ny: *b\n";
        let out = rendered_sources(&[("config.yaml", "include: [more.yaml]\n"), ("more.yaml", more)], &[]);
        assert_eq!(out.unwrap(), more);
        // A later file sets `x`, so `y`'s alias would point at an anchor that is not copied.
        let errors = rendered_sources(
            &[
                ("config.yaml", "include: [more.yaml, last.yaml]\n"),
                ("more.yaml", more),
                ("last.yaml", "x: 2\n"),
            ],
            &[],
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].ends_with("more.yaml:2:4: an anchor or alias here would be separated from its other half when the included files are merged into one config; write the value out"), "{errors:?}");
    }

    #[test]
    fn scalars_read_back_as_strings() {
        assert_eq!(scalar("sk-abc123"), "sk-abc123");
        assert_eq!(scalar("/var/run/key"), "/var/run/key");
        assert_eq!(scalar("_private"), "_private");
        assert_eq!(scalar("-dash"), "\"-dash\"");
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
