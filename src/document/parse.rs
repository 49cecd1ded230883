//! Events from `saphyr-parser` into the [`Document`] arena, with byte spans.
//!
//! saphyr reports positions as *character* indices, and a quoted scalar's span runs past the
//! closing quote over trailing blanks and comments; a scalar's span also starts at its anchor or
//! tag. This module turns all of that into exact byte ranges of the value as written.

use super::repair::{self, Repairs, Shift, Verdict};
use super::{Contents, Document, Entry, MAX_TEXT_BYTES, Node, NodeId, NodeKind, ScalarStyle};
use crate::error::ConfigError;
use crate::location::{LineIndex, Location};
use saphyr_parser::{Event, Parser, ScalarStyle as SaphyrStyle, Span};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

const BOM: &str = "\u{feff}";

/// Character index → byte offset, for the text after the byte-order mark.
struct Offsets {
    base: usize,
    table: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str, base: usize) -> Self {
        let body = &text[base..];
        let table = (!body.is_ascii()).then(|| {
            let mut t: Vec<usize> = body.char_indices().map(|(i, _)| i).collect();
            t.push(body.len());
            t
        });
        Self {
            base,
            table,
            len: body.len(),
        }
    }

    /// The char index of byte `at` (the inverse of [`Offsets::byte`]).
    fn char_of(&self, at: usize) -> usize {
        let at = at - self.base;
        match &self.table {
            Some(t) => t.partition_point(|&b| b < at),
            None => at,
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        self.base
            + match &self.table {
                Some(t) => t[char_index.min(t.len() - 1)],
                None => char_index.min(self.len),
            }
    }
}

/// An open collection. Its children collect at the end of the builder's `open_items` /
/// `open_entries` from `first` on, and move to the document's arrays when it closes, so each
/// collection's children end up contiguous without a `Vec` per collection.
enum Frame {
    Sequence {
        id: NodeId,
        first: usize,
    },
    Mapping {
        id: NodeId,
        first: usize,
        key: Option<NodeId>,
    },
}

struct Builder<'p> {
    file: Arc<str>,
    lines: &'p LineIndex,
    offsets: &'p Offsets,
    /// Spaces a repair inserted into the text saphyr reads ([`repair`]).
    shifts: Vec<Shift>,
    /// The stand-in a repair wrote for `-` in plain scalars.
    sentinel: Option<char>,
    /// Flow collections open around the current event.
    flow_depth: usize,
    /// Where the last event ended.
    last_end: usize,
    /// The events ran to the end (none stopped the reading).
    complete: bool,
    nodes: Vec<Node>,
    values: String,
    items: Vec<NodeId>,
    entries: Vec<Entry>,
    open_items: Vec<NodeId>,
    open_entries: Vec<Entry>,
    tags: Vec<(NodeId, Box<str>)>,
    tag_spans: Vec<std::ops::Range<u32>>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, NodeId>,
    /// Anchor names defined so far.
    anchor_names: std::collections::HashSet<String>,
    root: Option<NodeId>,
    errors: Vec<ConfigError>,
}

pub(super) fn parse(file: Arc<str>, text: String) -> Result<Document, Vec<ConfigError>> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(vec![ConfigError::TooLarge {
            file,
            limit: MAX_TEXT_BYTES,
        }]);
    }
    let base = if text.starts_with(BOM) { BOM.len() } else { 0 };
    let lines = LineIndex::new(Arc::clone(&file), &text);
    if let Some(err) = characters_pyyaml_reads_differently(&text[base..], base, &lines, &text) {
        return Err(vec![err]);
    }
    let offsets = Offsets::new(&text, base);
    let mut b = match build(&file, &text, base, &lines, &offsets) {
        Ok(b) => b,
        Err(e) => return Err(vec![e]),
    };
    if b.complete
        && let Some(at) = super::tabs::refused(&text, &b.nodes)
    {
        b.errors.push(ConfigError::Unloadable {
            location: lines.locate(&text, at),
            reason: "PyYAML reads a tab only inside quotes, block scalars and comments; use spaces here".into(),
        });
    }
    if !b.errors.is_empty() {
        b.errors.sort_by(|a, c| a.location().cmp(&c.location()));
        return Err(b.errors);
    }
    let Some(root) = b.root else {
        return Err(vec![ConfigError::Empty { file: b.file }]);
    };
    let Builder {
        file,
        nodes,
        values,
        items,
        entries,
        tags,
        tag_spans,
        ..
    } = b;
    let root_node = &nodes[root];
    match root_node.kind {
        NodeKind::Mapping { .. } => {}
        NodeKind::Scalar {
            style: ScalarStyle::Plain,
        } if root_node.value(&text, &values).unwrap_or_default().is_empty() => {
            return Err(vec![ConfigError::Empty { file }]);
        }
        kind => {
            return Err(vec![ConfigError::NotAMapping {
                location: lines.locate(&text, root_node.span().start),
                found: kind_name(kind),
            }]);
        }
    }
    let doc = Document {
        text,
        lines,
        nodes,
        values,
        items,
        entries,
        tags,
        tag_spans,
        root,
    };
    let mut errors = doc.merge_refusals();
    errors.extend(super::construct::collection_refusals(&doc));
    if !errors.is_empty() {
        errors.sort_by(|a, c| a.location().cmp(&c.location()));
        return Err(errors);
    }
    Ok(doc)
}

/// Run saphyr over the text, and again over a repaired text where it stops at a form PyYAML
/// loads ([`repair`]), until it reads through or stops at an error of the config's own.
fn build<'p>(
    file: &Arc<str>,
    text: &str,
    base: usize,
    lines: &'p LineIndex,
    offsets: &'p Offsets,
) -> Result<Builder<'p>, ConfigError> {
    let mut repairs = Repairs::default();
    let mut first_error: Option<(usize, String)> = None;
    let (mut work, mut reads) = (0, 0);
    Ok(loop {
        reads += 1;
        let (source, shifts) = if repairs.is_empty() {
            (Cow::Borrowed(&text[base..]), Vec::new())
        } else {
            let (source, shifts) = repairs.source(text, base, |at| offsets.char_of(at));
            (Cow::Owned(source), shifts)
        };
        work += source.len();
        let mut b = Builder::new(Arc::clone(file), lines, offsets, shifts, repairs.sentinel(), text.len());
        match b.run(text, &source) {
            None if repairs.is_empty() => break b,
            None => match repairs.verify(&b.nodes) {
                Verdict::Holds => break b,
                Verdict::Revert(sites) => repairs.revert(&sites),
                Verdict::Fails => {
                    let (at, message) = first_error.expect("a repair follows an error");
                    return Err(ConfigError::Syntax {
                        location: lines.locate(text, at),
                        message,
                    });
                }
            },
            Some((at, message)) => {
                first_error.get_or_insert_with(|| (at, message.clone()));
                let context = b.context();
                let spent = work >= repair::MAX_WORK;
                if spent || !repairs.add(text, at, &message, &context) {
                    let message = if spent && repair::is_repairable(&message) {
                        format!(
                            "{message} (PyYAML would read it; osenv read the file {reads} times for such places and stops here)"
                        )
                    } else {
                        message
                    };
                    b.errors.push(ConfigError::Syntax {
                        location: lines.locate(text, at),
                        message,
                    });
                    break b;
                }
            }
        }
    })
}

/// A position or index in a document, which [`MAX_TEXT_BYTES`] keeps within `u32`.
fn pos(at: usize) -> u32 {
    u32::try_from(at).expect("a document is at most MAX_TEXT_BYTES long")
}

fn node(kind: NodeKind, span: std::ops::Range<usize>, anchored: bool, contents: Contents) -> Node {
    Node {
        kind,
        anchored,
        start: pos(span.start),
        end: pos(span.end),
        contents,
    }
}

fn kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Scalar { .. } => "a scalar",
        NodeKind::Sequence { .. } => "a sequence",
        NodeKind::Mapping { .. } => "a mapping",
        NodeKind::Alias => "an alias",
    }
}

impl<'p> Builder<'p> {
    fn new(
        file: Arc<str>,
        lines: &'p LineIndex,
        offsets: &'p Offsets,
        shifts: Vec<Shift>,
        sentinel: Option<char>,
        len: usize,
    ) -> Self {
        Self {
            file,
            lines,
            offsets,
            shifts,
            sentinel,
            flow_depth: 0,
            last_end: 0,
            complete: false,
            // About one node per 10 bytes of a typical config: one allocation instead of a
            // chain of doubling copies for large files.
            nodes: Vec::with_capacity(len / 10),
            values: String::new(),
            items: Vec::new(),
            entries: Vec::new(),
            open_items: Vec::new(),
            open_entries: Vec::new(),
            tags: Vec::new(),
            tag_spans: Vec::new(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            anchor_names: std::collections::HashSet::new(),
            root: None,
            errors: Vec::new(),
        }
    }

    /// Build from saphyr's events over `source` (the text, repaired or not); returns saphyr's
    /// error (byte offset in `text`, message) if it stopped at one.
    fn run(&mut self, text: &str, source: &str) -> Option<(usize, String)> {
        for event in Parser::new_from_str(source).keep_tags(true) {
            match event {
                Ok((event, span)) => {
                    if let Some(err) = self.event(text, event, span) {
                        // What PyYAML refuses in one value does not stop the reading: the
                        // others are reported in the same run.
                        let go_on = matches!(
                            err,
                            ConfigError::Unloadable { .. } | ConfigError::ReadDifferently { .. }
                        );
                        self.errors.push(err);
                        if !go_on {
                            return None;
                        }
                    }
                }
                Err(e) => return Some((self.byte(e.marker().index()), e.info().to_owned())),
            }
        }
        self.complete = true;
        None
    }

    /// Byte offset in the text of saphyr's char index.
    fn byte(&self, index: usize) -> usize {
        self.offsets.byte(Shift::original(&self.shifts, index))
    }

    /// A plain value with the stand-in a repair wrote for `-` turned back.
    fn restore_dashes<'v>(&self, style: SaphyrStyle, value: Cow<'v, str>) -> Cow<'v, str> {
        match self.sentinel {
            Some(c) if style == SaphyrStyle::Plain && value.contains(c) => value.replace(c, "-").into(),
            _ => value,
        }
    }

    /// What a repair needs to know about where the parse stopped.
    fn context(&self) -> repair::Context {
        let outer_flow = self.stack.iter().find_map(|f| {
            let (Frame::Sequence { id, .. } | Frame::Mapping { id, .. }) = f;
            let node = &self.nodes[*id];
            matches!(
                node.kind,
                NodeKind::Sequence { flow: true } | NodeKind::Mapping { flow: true }
            )
            .then_some(node.start as usize)
        });
        repair::Context {
            last_end: self.last_end,
            outer_flow,
        }
    }

    fn locate(&self, text: &str, offset: usize) -> Location {
        self.lines.locate(text, offset)
    }

    /// A scalar's value, as [`Document::scalar`] reads it.
    fn value<'t>(&'t self, text: &'t str, id: NodeId) -> &'t str {
        self.nodes[id].value(text, &self.values).unwrap_or_default()
    }

    /// Handle one event; returns an error that stops parsing.
    fn event(&mut self, text: &str, event: Event<'_>, span: Span) -> Option<ConfigError> {
        let start = self.byte(span.start.index());
        let end = self.byte(span.end.index()).max(start);
        self.last_end = end;
        let is_map = matches!(event, Event::MappingStart(..));
        match event {
            Event::DocumentStart(_) if self.root.is_some() => {
                return Some(ConfigError::MultipleDocuments {
                    location: self.locate(text, start),
                });
            }
            Event::Scalar(value, style, anchor, tag) => {
                let value = self.restore_dashes(style, value);
                let vstart = if anchor > 0 || tag.is_some() {
                    skip_properties(text, start, end)
                } else {
                    start
                };
                let style = style_of(style);
                let vend = match style {
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => closing_quote(text, vstart).unwrap_or(end),
                    _ => end,
                };
                let span = vstart..vend.max(vstart);
                // Most values are their source text; only the others are kept.
                let contents = if text[span.clone()] == *value {
                    Contents::Source
                } else {
                    let at = self.values.len();
                    self.values.push_str(&value);
                    Contents::Decoded {
                        start: pos(at),
                        end: pos(self.values.len()),
                    }
                };
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                if let Some(err) = self.check_scalar(text, start..vstart, style, &value, tag.as_deref()) {
                    return Some(err);
                }
                let node = node(NodeKind::Scalar { style }, span, anchor > 0, contents);
                let tag_span = tag.as_ref().and_then(|_| tag_range(text, start, vstart));
                let id = self.push(node, anchor, tag, tag_span);
                self.attach(text, id);
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                let vstart = if anchor > 0 || tag.is_some() {
                    skip_properties(text, start, text.len())
                } else {
                    start
                };
                let flow = text.as_bytes().get(vstart) == Some(if is_map { &b'{' } else { &b'[' });
                let kind = if is_map {
                    NodeKind::Mapping { flow }
                } else {
                    NodeKind::Sequence { flow }
                };
                if let Some(err) = self.properties(text, start, vstart) {
                    return Some(err);
                }
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                if let Some(err) = tag.as_deref().and_then(|t| self.check_tag(text, vstart, t, false)) {
                    return Some(err);
                }
                if flow {
                    self.flow_depth += 1;
                }
                let node = node(
                    kind,
                    vstart..vstart,
                    anchor > 0,
                    Contents::Children { start: 0, end: 0 },
                );
                let tag_span = tag.as_ref().and_then(|_| tag_range(text, start, vstart));
                let id = self.push(node, anchor, tag, tag_span);
                self.stack.push(if is_map {
                    Frame::Mapping {
                        id,
                        first: self.open_entries.len(),
                        key: None,
                    }
                } else {
                    Frame::Sequence {
                        id,
                        first: self.open_items.len(),
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(text, end),
            Event::Alias(anchor) => {
                let Some(&target) = self.anchors.get(&anchor) else {
                    return Some(ConfigError::Syntax {
                        location: self.locate(text, start),
                        message: "unknown anchor".into(),
                    });
                };
                let node = node(NodeKind::Alias, start..end, false, Contents::Alias(pos(target)));
                let id = self.push(node, 0, None, None);
                self.attach(text, id);
            }
            _ => {}
        }
        None
    }

    /// The end of a sequence or mapping: its children move to the document's arrays, and its
    /// span ends at `]`/`}` or at its last child.
    fn close(&mut self, text: &str, end: usize) {
        let (id, children, last_child_end) = match self.stack.pop() {
            Some(Frame::Sequence { id, first }) => {
                let at = self.items.len();
                self.items.extend(self.open_items.drain(first..));
                let last = self.items[at..].last().map(|&c| self.nodes[c].end);
                (id, at..self.items.len(), last)
            }
            Some(Frame::Mapping { id, first, .. }) => {
                let at = self.entries.len();
                self.entries.extend(self.open_entries.drain(first..));
                let last = self.entries[at..]
                    .last()
                    .map(|e| self.nodes[e.value].end.max(self.nodes[e.key].end));
                (id, at..self.entries.len(), last)
            }
            None => return,
        };
        let node = &mut self.nodes[id];
        let flow = matches!(
            node.kind,
            NodeKind::Sequence { flow: true } | NodeKind::Mapping { flow: true }
        );
        if flow {
            self.flow_depth -= 1;
        }
        node.end = if flow {
            pos(end)
        } else {
            last_child_end.unwrap_or(node.start)
        }
        .max(node.start);
        if matches!(node.kind, NodeKind::Mapping { .. }) {
            self.check_duplicates(text, children.clone());
        }
        self.nodes[id].contents = Contents::Children {
            start: pos(children.start),
            end: pos(children.end),
        };
        self.attach(text, id);
    }

    fn push(
        &mut self,
        node: Node,
        anchor: usize,
        tag: Option<String>,
        tag_span: Option<std::ops::Range<usize>>,
    ) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(node);
        if anchor > 0 {
            self.anchors.insert(anchor, id);
        }
        if let Some(tag) = tag {
            self.tags.push((id, tag.into_boxed_str()));
            let span = tag_span.unwrap_or(0..0);
            self.tag_spans.push(pos(span.start)..pos(span.end));
        }
        id
    }

    /// What PyYAML's safe loader refuses in a scalar whose properties (anchor, tag) run over
    /// `properties` up to the value.
    fn check_scalar(
        &mut self,
        text: &str,
        properties: std::ops::Range<usize>,
        style: ScalarStyle,
        value: &str,
        tag: Option<&str>,
    ) -> Option<ConfigError> {
        let vstart = properties.end;
        if let Some(err) = self.properties(text, properties.start, vstart) {
            return Some(err);
        }
        let in_key = matches!(self.stack.last(), Some(Frame::Mapping { key: None, .. }));
        // PyYAML resolves a plain `=` (or one tagged `!`) to its `value` tag and `<<` to `merge`,
        // and safe_load constructs neither where a value is expected; as a key, `<<` merges and
        // `=` is the string "=".
        let by_form = resolved_by_form(style, tag);
        if !in_key && ((by_form && matches!(form(value), "=" | "<<")) || tag == Some("tag:yaml.org,2002:merge")) {
            return Some(ConfigError::Unloadable {
                location: self.locate(text, vstart),
                reason: format!(
                    "`{value}` here is a merge or value indicator to PyYAML, not a value; quote it (without `!`)"
                ),
            });
        }
        if style == ScalarStyle::Plain && tag.is_none() {
            // Inside `[]`/`{}` PyYAML reads a leading `?` as the key indicator (`[?a]` is
            // `[{a: null}]` to it, `['?a']` to YAML 1.2), and ends a plain scalar at any other
            // `?`, after which it cannot parse the rest.
            if self.flow_depth > 0 && value.starts_with('?') {
                return Some(ConfigError::ReadDifferently {
                    location: self.locate(text, vstart),
                    reason: "inside `[...]` or `{...}` a leading `?` makes a mapping key; write `? key` for that, or quote the value"
                        .into(),
                });
            }
            if self.flow_depth > 0 && (value.starts_with('|') || value.starts_with('>')) {
                return Some(ConfigError::Unloadable {
                    location: self.locate(text, vstart),
                    reason: "PyYAML reads a leading `|` or `>` as a block scalar, which cannot stand inside `[...]` or `{...}`; quote it"
                        .into(),
                });
            }
            if self.flow_depth > 0 && value.contains('?') {
                return Some(ConfigError::Unloadable {
                    location: self.locate(text, vstart),
                    reason: "PyYAML ends a plain scalar at `?` inside `[...]` or `{...}` and cannot read on; quote it"
                        .into(),
                });
            }
        }
        // PyYAML resolves an untagged plain scalar, and any scalar tagged `!`, by its form, and
        // constructs what that gives: `2001-13-01` is a date it cannot make.
        if by_form && let Some(reason) = super::construct::implicit_refusal(value) {
            return Some(ConfigError::Unloadable {
                location: self.locate(text, vstart),
                reason: format!("PyYAML cannot construct this value: {reason}"),
            });
        }
        if tag == Some("tag:yaml.org,2002:binary") && !super::construct::binary(value) {
            return Some(ConfigError::Unloadable {
                location: self.locate(text, vstart),
                reason: "a `!!binary` value that is not valid base64".into(),
            });
        }
        let tag = tag?;
        self.check_tag(text, vstart, tag, true).or_else(|| {
            super::construct::refusal(tag, value).map(|reason| ConfigError::Unloadable {
                location: self.locate(text, vstart),
                reason: format!("PyYAML cannot construct this value: {reason}"),
            })
        })
    }

    /// Anchor names PyYAML accepts: letters, digits, `-` and `_` only (YAML 1.2 allows more).
    fn properties(&mut self, text: &str, start: usize, vstart: usize) -> Option<ConfigError> {
        let bytes = text.as_bytes();
        let mut at = start;
        while at < vstart {
            if bytes[at] == b'#' {
                while at < vstart && bytes[at] != b'\n' {
                    at += 1;
                }
            } else if bytes[at] == b'&' {
                let name_start = at + 1;
                let mut end = name_start;
                while end < vstart && !matches!(bytes[end], b' ' | b'\t' | b'\r' | b'\n') {
                    end += 1;
                }
                let name = &text[name_start..end];
                if !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Some(ConfigError::Unloadable {
                        location: self.locate(text, at),
                        reason: format!(
                            "the anchor `&{name}` has characters PyYAML does not allow in a name (letters, digits, `-`, `_`)"
                        ),
                    });
                }
                // YAML 1.2 lets a later anchor of the same name replace the first; PyYAML's
                // composer refuses it ("found duplicate anchor").
                if !self.anchor_names.insert(name.to_owned()) {
                    return Some(ConfigError::Unloadable {
                        location: self.locate(text, at),
                        reason: format!("the anchor `&{name}` is defined a second time, which PyYAML refuses"),
                    });
                }
                at = end;
            } else {
                at += 1;
            }
        }
        None
    }

    /// Tags PyYAML's safe loader can construct; any other makes LiteLLM fail to start.
    fn check_tag(&self, text: &str, at: usize, tag: &str, scalar: bool) -> Option<ConfigError> {
        const SCALAR: [&str; 7] = ["str", "int", "float", "bool", "null", "binary", "timestamp"];
        const COLLECTION: [&str; 5] = ["seq", "map", "set", "omap", "pairs"];
        let known = match tag.strip_prefix("tag:yaml.org,2002:") {
            Some(name) if scalar => SCALAR.contains(&name) || name == "merge",
            Some(name) => COLLECTION.contains(&name),
            None => tag == "!",
        };
        (!known).then(|| {
            let shown = tag
                .strip_prefix("tag:yaml.org,2002:")
                .map_or_else(|| tag.to_owned(), |t| format!("!!{t}"));
            ConfigError::Unloadable {
                location: self.locate(text, at),
                reason: format!("PyYAML's safe loader has no constructor for the tag `{shown}` here"),
            }
        })
    }

    fn attach(&mut self, text: &str, id: NodeId) {
        match self.stack.last_mut() {
            None => self.root = Some(id),
            Some(Frame::Sequence { .. }) => self.open_items.push(id),
            Some(Frame::Mapping { key, .. }) => match key.take() {
                None => {
                    *key = Some(id);
                    self.check_key(text, id);
                }
                Some(k) => self.open_entries.push(Entry { key: k, value: id }),
            },
        }
    }

    /// Keys PyYAML refuses and YAML 1.2 allows. PyYAML builds a `dict` of each mapping, so a
    /// key that is a list or a mapping fails with "found unhashable key"; and a `:` with no
    /// key before it (and no `?`) is a parse error to it.
    fn check_key(&mut self, text: &str, id: NodeId) {
        let node = &self.nodes[id];
        let before = text[..node.start as usize].trim_end();
        // A `?` that ends a multi-line plain scalar (`k: a\n ?\n: c`, found by the differential
        // run) is text of that scalar to PyYAML, not a key indicator: the node holding it is one
        // of the last few made (the value before this key).
        let explicit = before.ends_with('?') && {
            let q = before.len() - 1;
            !self.nodes[..id]
                .iter()
                .rev()
                .take(16)
                .any(|n| (n.start as usize) <= q && q < n.end as usize)
        };
        if !explicit
            && node.kind
                == (NodeKind::Scalar {
                    style: ScalarStyle::Plain,
                })
            && node.start == node.end
            && text.as_bytes().get(node.start as usize) == Some(&b':')
        {
            self.errors.push(ConfigError::Unloadable {
                location: self.locate(text, node.start as usize),
                reason: "a `:` with no key before it; PyYAML wants `? ` for an empty key".into(),
            });
            return;
        }
        let target = match node.contents {
            Contents::Alias(target) if node.kind == NodeKind::Alias => &self.nodes[target as usize],
            _ => node,
        };
        if matches!(target.kind, NodeKind::Sequence { .. } | NodeKind::Mapping { .. }) {
            self.errors.push(ConfigError::Unloadable {
                location: self.locate(text, node.start as usize),
                reason: format!(
                    "{} is a key here, and PyYAML cannot use a list or mapping as a key (unhashable)",
                    kind_name(target.kind)
                ),
            });
        }
    }

    /// Report keys that repeat within the mapping whose entries are `self.entries[range]`.
    fn check_duplicates(&mut self, text: &str, range: std::ops::Range<usize>) {
        let entries = &self.entries[range];
        // Keys compare as the Python values PyYAML makes of them: `1`, `0x1`, `1.0` and `true`
        // are one key (`True == 1`), `'1'` is another.
        let key = |e: &Entry| -> Option<std::borrow::Cow<'_, str>> {
            match self.nodes[e.key].kind {
                NodeKind::Scalar { style } => {
                    let value = self.value(text, e.key);
                    let tag = self
                        .tags
                        .binary_search_by_key(&e.key, |(id, _)| *id)
                        .ok()
                        .map(|i| &*self.tags[i].1);
                    let by_form = resolved_by_form(style, tag);
                    // Merge keys are taken out by PyYAML before the mapping is built: a
                    // mapping may have several.
                    if (by_form && form(value) == "<<") || tag == Some("tag:yaml.org,2002:merge") {
                        return None;
                    }
                    match yaml11_value(form(value)) {
                        Some(Yaml11::Canonical(c)) if by_form => Some(c.into()),
                        _ => Some(value.into()),
                    }
                }
                _ => None,
            }
        };
        // Most mappings are small: a pairwise scan beats building a hash map for each one.
        if entries.len() <= 16 {
            let clash = entries
                .iter()
                .enumerate()
                .any(|(i, a)| key(a).is_some_and(|ka| entries[..i].iter().any(|b| key(b).as_ref() == Some(&ka))));
            if !clash {
                return;
            }
        }
        let mut seen: HashMap<std::borrow::Cow<'_, str>, NodeId> = HashMap::with_capacity(entries.len());
        let mut errors = Vec::new();
        for e in entries {
            let Some(value) = key(e) else {
                continue;
            };
            if let Some(&first) = seen.get(&value) {
                errors.push(ConfigError::DuplicateKey {
                    location: self.locate(text, self.nodes[e.key].span().start),
                    key: self.value(text, e.key).to_owned(),
                    first: self.locate(text, self.nodes[first].span().start),
                });
            } else {
                seen.insert(value, e.key);
            }
        }
        self.errors.extend(errors);
    }
}

/// Whether PyYAML resolves a scalar by its form (its implicit resolvers): plain and untagged,
/// or tagged `!` in any style (`! '1'` is an int).
pub(super) fn resolved_by_form(style: ScalarStyle, tag: Option<&str>) -> bool {
    (style == ScalarStyle::Plain && tag.is_none()) || tag == Some("!")
}

/// The text PyYAML's implicit resolvers match for a scalar resolved by its form. Their patterns
/// end in `$`, which in Python also matches before one final line break, so a quoted or block
/// scalar tagged `!` that ends in one resolves as the text before it: `! "null\n"` is None and
/// `! "1\n"` the int 1 (a plain scalar never ends in a line break). The first character picks
/// the resolvers, so `"\n"` alone stays a string.
pub(super) fn form(value: &str) -> &str {
    match value.strip_suffix('\n') {
        Some(text) if !text.is_empty() => text,
        _ => value,
    }
}

/// A plain scalar that PyYAML (YAML 1.1) loads as something other than a string.
enum Yaml11 {
    /// Its value, spelled one way for all spellings (`\0` first: no string key has a NUL).
    Canonical(String),
}

/// What a plain scalar means to PyYAML, as far as settings tell apart.
pub(super) enum Plain {
    /// `null`, `~`, nothing.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number,
    /// A date or a date and time.
    Timestamp,
    /// A string.
    String,
}

/// [`Plain`] of `value`.
pub(super) fn plain_meaning(value: &str) -> Plain {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => Plain::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Plain::Bool(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Plain::Bool(false),
        _ if super::construct::implicit_timestamp(value) => Plain::Timestamp,
        _ if plain_is_string(value) => Plain::String,
        _ => Plain::Number,
    }
}

/// A plain scalar PyYAML loads as a `str` (not null, a boolean or a number).
pub(super) fn plain_is_string(value: &str) -> bool {
    yaml11_value(value).is_none()
}

/// What PyYAML's resolver makes of a plain scalar, if not a string: null, a boolean (which
/// Python compares equal to 0 and 1), an int in any YAML 1.1 spelling, or a float.
fn yaml11_value(v: &str) -> Option<Yaml11> {
    let number = |n: i128| Some(Yaml11::Canonical(format!("\0{n}")));
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Yaml11::Canonical("\0null".into())),
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return number(1),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => return number(0),
        // PyYAML returns one NaN object for every `.nan`, so they are one key.
        ".nan" | ".NaN" | ".NAN" => return Some(Yaml11::Canonical("\0nan".into())),
        // As written: two spellings of one instant are rare enough as keys to tell apart.
        _ if super::construct::implicit_timestamp(v) => return Some(Yaml11::Canonical(format!("\0timestamp {v}"))),
        _ => {}
    }
    let first = v.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    let (negative, body) = match first {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v),
    };
    let signed = |n: i128| if negative { -n } else { n };
    let digits = |s: &str, radix: u32| -> Option<i128> {
        let clean: String = s.chars().filter(|&c| c != '_').collect();
        if clean.is_empty() {
            return None;
        }
        i128::from_str_radix(&clean, radix).ok()
    };
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Some(Yaml11::Canonical(format!("\0{}inf", if negative { "-" } else { "" })));
    }
    if let Some(bin) = body.strip_prefix("0b") {
        if !bin.chars().all(|c| matches!(c, '0' | '1' | '_')) {
            return None;
        }
        return digits(bin, 2).and_then(|n| number(signed(n)));
    }
    if let Some(hex) = body.strip_prefix("0x") {
        if !hex.chars().all(|c| c.is_ascii_hexdigit() || c == '_') {
            return None;
        }
        return digits(hex, 16).and_then(|n| number(signed(n)));
    }
    let plain_digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '_');
    if body.len() > 1 && body.starts_with('0') && body.chars().all(|c| matches!(c, '0'..='7' | '_')) {
        return digits(body, 8).and_then(|n| number(signed(n)));
    }
    if plain_digits(body) && (body == "0" || !body.starts_with('0')) {
        return digits(body, 10).and_then(|n| number(signed(n)));
    }
    // Sexagesimal (`1:30` is 90) and floats; anything else is a string.
    if body.contains(':') {
        let mut parts = body.split(':');
        let head = parts.next()?;
        if !plain_digits(head) || head.starts_with('0') {
            return None;
        }
        let mut n = digits(head, 10)?;
        for part in parts {
            if part.is_empty()
                || part.len() > 2
                || !part.chars().all(|c| c.is_ascii_digit())
                || part.parse::<u8>().ok()? > 59
            {
                return None;
            }
            n = n.checked_mul(60)?.checked_add(i128::from(part.parse::<u8>().ok()?))?;
        }
        return number(signed(n));
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (int_part, frac) = mantissa.split_once('.')?;
    let int_ok = plain_digits(int_part)
        || (int_part.is_empty() && !frac.is_empty() && frac.starts_with(|c: char| c.is_ascii_digit()));
    let frac_ok = frac.chars().all(|c| c.is_ascii_digit() || c == '_');
    let exp_ok = exponent.is_none_or(|e| {
        e.len() > 1 && matches!(e.as_bytes()[0], b'-' | b'+') && e[1..].chars().all(|c| c.is_ascii_digit())
    });
    if !(int_ok && frac_ok && exp_ok) {
        return None;
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let value: f64 = clean.parse().ok()?;
    let value = if negative { -value } else { value };
    #[allow(clippy::cast_possible_truncation, clippy::float_cmp)]
    if value.fract() == 0.0 && value.abs() < 1e30 {
        return number(value as i128);
    }
    Some(Yaml11::Canonical(format!("\0{value:e}")))
}

fn style_of(style: SaphyrStyle) -> ScalarStyle {
    match style {
        SaphyrStyle::Plain => ScalarStyle::Plain,
        SaphyrStyle::SingleQuoted => ScalarStyle::SingleQuoted,
        SaphyrStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
        SaphyrStyle::Literal => ScalarStyle::Literal,
        SaphyrStyle::Folded => ScalarStyle::Folded,
    }
}

/// The byte range of the tag (`!t`, `!!t`, `!<uri>`, `!`) among a node's properties, which run
/// from `start` to the value at `limit`.
fn tag_range(text: &str, start: usize, limit: usize) -> Option<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut at = start;
    while at < limit {
        match bytes[at] {
            b'#' => {
                while at < limit && bytes[at] != b'\n' {
                    at += 1;
                }
            }
            b'!' => {
                let tag_start = at;
                if bytes.get(at + 1) == Some(&b'<') {
                    while at < limit && bytes[at] != b'>' {
                        at += 1;
                    }
                    at += 1;
                } else {
                    while at < limit && !matches!(bytes[at], b' ' | b'\t' | b'\r' | b'\n') {
                        at += 1;
                    }
                }
                return Some(tag_start..at.min(limit));
            }
            b'&' => {
                while at < limit && !matches!(bytes[at], b' ' | b'\t' | b'\r' | b'\n') {
                    at += 1;
                }
            }
            _ => at += 1,
        }
    }
    None
}

/// Characters PyYAML refuses (it reads only printable characters) or reads as line breaks where
/// YAML 1.2 does not (U+0085, U+2028, U+2029: a comment would end there, and what follows would
/// be a key that osenv and `check` never saw). Written escaped in a double-quoted scalar, each
/// is fine.
fn characters_pyyaml_reads_differently(body: &str, base: usize, lines: &LineIndex, text: &str) -> Option<ConfigError> {
    let printable = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
            || c >= '\u{10000}'
    };
    if body.is_ascii()
        && !body
            .bytes()
            .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') || b == 0x7f)
    {
        return None;
    }
    let (at, c) = body
        .char_indices()
        .find(|&(_, c)| !printable(c) || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}'))?;
    let location = lines.locate(text, base + at);
    let code = u32::from(c);
    Some(if printable(c) {
        ConfigError::ReadDifferently {
            location,
            reason: format!(
                "U+{code:04X} is a line break to PyYAML (YAML 1.1); write it as `\\u{code:04X}` in a double-quoted string"
            ),
        }
    } else {
        ConfigError::Unloadable {
            location,
            reason: format!(
                "it contains U+{code:04X}, a character PyYAML refuses to read; write it as `\\u{code:04X}` in a double-quoted string"
            ),
        }
    })
}

/// Skip an anchor (`&a`), a tag (`!t`, `!!t`, `!<uri>`), blanks and comments before a value.
fn skip_properties(text: &str, mut at: usize, limit: usize) -> usize {
    let bytes = text.as_bytes();
    let limit = limit.min(bytes.len());
    while at < limit {
        match bytes[at] {
            b' ' | b'\t' | b'\r' | b'\n' => at += 1,
            b'#' => {
                while at < limit && bytes[at] != b'\n' {
                    at += 1;
                }
            }
            b'!' if bytes.get(at + 1) == Some(&b'<') => {
                while at < limit && bytes[at] != b'>' {
                    at += 1;
                }
                at += 1;
            }
            b'&' | b'!' => {
                while at < limit && !matches!(bytes[at], b' ' | b'\t' | b'\r' | b'\n' | b',' | b']' | b'}') {
                    at += 1;
                }
            }
            _ => break,
        }
    }
    at.min(limit)
}

/// The byte after the closing quote of the quoted scalar that starts at `start`.
pub(super) fn closing_quote(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let quote = *bytes.get(start)?;
    let mut i = start + 1;
    while i < bytes.len() {
        match (quote, bytes[i]) {
            (b'"', b'\\') => i += 2,
            (b'\'', b'\'') if bytes.get(i + 1) == Some(&b'\'') => i += 2,
            (b'"', b'"') | (b'\'', b'\'') => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::document::{Document, NodeKind};

    /// The first error of parsing `s`.
    fn err(s: &str) -> String {
        Document::parse("t.yaml", s.to_owned()).unwrap_err()[0].to_string()
    }

    fn spans(src: &str) -> Vec<(String, String)> {
        let doc = Document::parse("t.yaml", src.to_owned()).unwrap();
        (0..doc.len())
            .filter(|&id| matches!(doc.node(id).kind, NodeKind::Scalar { .. }))
            .map(|id| (doc.scalar(id).unwrap().to_owned(), doc.source(id).to_owned()))
            .collect()
    }

    #[test]
    fn scalar_spans_are_exact_bytes() {
        let src = "ä: &x \"os.environ/Ä\" # c\nb: !!str 'it''s' # q\nc: {k: \"a\\\"b\" , d: plain}\n";
        let got = spans(src);
        assert_eq!(got[1], ("os.environ/Ä".into(), "\"os.environ/Ä\"".into()));
        assert_eq!(got[3], ("it's".into(), "'it''s'".into()));
        assert_eq!(got[6], ("a\"b".into(), "\"a\\\"b\"".into()));
        assert_eq!(got[8], ("plain".into(), "plain".into()));
    }

    #[test]
    fn bom_is_kept_and_offsets_shift() {
        let src = "\u{feff}a: os.environ/X\n";
        let doc = Document::parse("t.yaml", src.to_owned()).unwrap();
        let v = doc.get(doc.root(), "a").unwrap().value;
        assert_eq!(doc.source(v), "os.environ/X");
        assert_eq!(doc.location(v).to_string(), "t.yaml:1:4");
    }

    #[test]
    fn rejects_what_litellm_cannot_load() {
        assert!(err("").contains("empty"), "{}", err(""));
        assert!(err("# only a comment\n").contains("empty"));
        assert!(err("- a\n").contains("mapping"));
        assert!(err("a: 1\n---\nb: 2\n").contains("second YAML document"));
        assert!(err("a: 1\na: 2\n").contains("duplicate key `a`"));
        // Keys compare as PyYAML's values: `True == 1` in Python.
        for dup in [
            "1: a\n0x1: b\n",
            "true: a\nyes: b\n",
            "1: a\ntrue: b\n",
            "~: a\nnull: b\n",
            "1: a\n1.0: b\n",
            "90: a\n1:30: b\n",
            "'a': 1\na: 2\n",
            ".nan: a\n.NaN: b\n",
            "1: a\n01: b\n",
        ] {
            assert!(err(dup).contains("duplicate key"), "{dup}");
        }
        for distinct in ["'1': a\n1: b\n", "1: a\n2: b\n1e3: c\n", "a: 1\nA: 2\n"] {
            assert!(Document::parse("t.yaml", distinct.to_owned()).is_ok(), "{distinct}");
        }
        assert!(err("a: [b\n").contains("invalid YAML"));
        assert!(err("a: *nope\n").contains("anchor"));
    }

    #[test]
    fn refuses_what_pyyaml_refuses_or_reads_differently() {
        assert!(
            err("a: 1 # c\u{2028}b: 2\n").contains("line break to PyYAML"),
            "{}",
            err("a: 1 # c\u{2028}b: 2\n")
        );
        assert!(err("a: x\u{85}\n").starts_with("t.yaml:1:5: PyYAML"));
        assert!(err("a: \"x\u{1}\"\n").contains("U+0001"));
        assert!(err("a: x\u{fffe}\n").contains("U+FFFE"));
        assert!(err("a: &a^ x\nb: *a^\n").contains("anchor `&a^`"));
        assert!(err("k: =\n").contains("`=` here is a merge or value indicator"));
        assert!(err("k: <<\n").contains("`<<` here is a merge or value indicator"));
        assert!(err("k: ! '<<'\n").contains("`<<` here is a merge or value indicator"));
        assert!(err("k: !!merge x\n").contains("`x` here is a merge or value indicator"));
        for (text, wanted) in [
            ("k: !!map [1]\n", "`!!map` takes a mapping"),
            ("k: !!seq {b: 1}\n", "`!!seq` takes a list"),
            ("k: !!set [1]\n", "`!!set` takes a mapping"),
            ("k: !!omap {b: 1}\n", "`!!omap` takes a list of one-entry mappings"),
            ("k: !!omap [1]\n", "`!!omap` takes a list of one-entry mappings"),
            (
                "k: !!omap [{b: 1, c: 2}]\n",
                "`!!omap` takes a list of one-entry mappings",
            ),
        ] {
            assert!(err(text).contains(wanted), "{text}: {}", err(text));
        }
        assert!(err("k: !foo x\n").contains("tag `!foo`"));
        assert!(err("k: !!binary os.environ/A\n").contains("not valid base64"));
        assert!(err("k: !!python/object x\n").contains("!!python/object"));
        // What PyYAML loads stays loadable.
        for ok in [
            "k: \"=\"\n",
            "=: 1\n",
            "{=: 1}\n",
            "m: {<<: {ab: 1}, <<: {cd: 2}}\n",
            "k: !!omap [{b: 1}]\n",
            "k: !!set {a: 1}\n",
            "k: !!pairs [{a: 1}, {a: 2}]\n",
            "k: !!binary QR==\n",
            "<<: {a: 1}\nb: 2\n",
            "k: !!str 1\n",
            "k: ! x\n",
            "k: \"a\\u2028b\"\n",
            "k: !!binary aGk=\n",
            "s: !!set {a, b}\n",
            "a: &x-1_b v\nb: *x-1_b\n",
        ] {
            assert!(Document::parse("t.yaml", ok.to_owned()).is_ok(), "{ok}");
        }
        assert!(err("k: [a?b]\n").contains("at `?`"));
        assert!(err("k: {a: b?}\n").contains("at `?`"));
        assert!(err("k: [?a]\n").contains("reads this differently"));
        assert!(err("k: [>]\n").contains("block scalar"));
        assert!(err("a: &x 1\nb: &x 2\nc: *x\n").contains("`&x` is defined a second time"));
        for no_key in [
            "k: 1\n: 2\n",
            "k:\n  : 2\n",
            "k: {: 2}\n",
            "k: a\n ?\n: c\n",
            "k: :]\n ? \n: \n",
        ] {
            assert!(err(no_key).contains("no key before it"), "{no_key:?}: {}", err(no_key));
        }
        for ok in ["?\n: 2\n", "k: {? : 2}\n", "? \n: x\n"] {
            assert!(Document::parse("t.yaml", ok.to_owned()).is_ok(), "{ok:?}");
        }
        for unhashable in [
            "? [a]\n: b\n",
            "k: {[a]: b}\n",
            "a: &m {x: 1}\nb: {*m : 1}\n",
            "? - a\n",
        ] {
            assert!(
                err(unhashable).contains("unhashable"),
                "{unhashable:?}: {}",
                err(unhashable)
            );
        }
        for tab in [
            "k: >\t\n  x\n",
            "k: |-\t# c\n  x\n",
            "k: \tv\n",
            "k: a\tb\n",
            "k: v\t# c\n",
            "k: [a,\tb]\n",
            "k: [a,\n\tb]\n",
            "\tk: v\n",
            "k: 'x'\t\n",
        ] {
            assert!(err(tab).contains("tab"), "{tab:?}");
        }
        for tab in [
            "k: | # \t\n  x\n",
            "k: |\n  a\tb\n  c\nz: >-\n  \tx\n",
            "k: 'a\tb'\n",
            "k: v # a\tb\n",
            "k: \"a\n\tb\"\n",
            "# \t\nk: [a, \"\t\"]\n",
        ] {
            assert!(Document::parse("t.yaml", tab.to_owned()).is_ok(), "{tab:?}");
        }
    }

    /// The forms PyYAML loads and YAML 1.2 refuses, each with the value PyYAML gives it.
    #[test]
    fn loads_what_pyyaml_loads() {
        let value = |src: &str, path: &[&str]| -> (String, String) {
            let doc = Document::parse("t.yaml", src.to_owned()).unwrap_or_else(|e| panic!("{src:?}: {}", e[0]));
            let mut id = doc.root();
            for key in path {
                id = match key.parse::<usize>() {
                    Ok(i) => doc.items(id).unwrap()[i],
                    Err(_) => doc.get(id, key).unwrap().value,
                };
            }
            (doc.scalar(id).unwrap().to_owned(), doc.location(id).to_string())
        };
        let at = |s: &str, l: &str| (s.to_owned(), l.to_owned());
        assert_eq!(value("k: {a: -}\n", &["k", "a"]), at("-", "t.yaml:1:8"));
        assert_eq!(value("k: [-]\nz: 1\n", &["k", "0"]), at("-", "t.yaml:1:5"));
        assert_eq!(value("k: [a, -, ü -]\n", &["k", "2"]), at("ü -", "t.yaml:1:11"));
        assert_eq!(value("k: [a -,b]\n", &["k", "0"]), at("a -", "t.yaml:1:5"));
        // The stand-in is undone where it landed in a quoted or block scalar or a comment.
        let mixed = "a: \"[-]\" # [-]\nb: |\n  {x: -}\nc: [-]\nd: '-,'\n";
        assert_eq!(value(mixed, &["a"]).0, "[-]");
        assert_eq!(value(mixed, &["b"]).0, "{x: -}\n");
        assert_eq!(value(mixed, &["c", "0"]), at("-", "t.yaml:4:5"));
        assert_eq!(value(mixed, &["d"]).0, "-,");
        // Continuation lines less indented than the parent.
        assert_eq!(value("k: \"abc\ndef\"\n", &["k"]), at("abc def", "t.yaml:1:4"));
        assert_eq!(
            value("a:\n  k: 'ab\n c\n\n d'\nb: 1\n", &["a", "k"]),
            at("ab c\nd", "t.yaml:2:6")
        );
        assert_eq!(value("k: \"abc\n\tdef\"\n", &["k"]).0, "abc def");
        assert_eq!(
            value("k: [a,\nb, \"c\nd\"]\nz: x\n", &["k", "2"]),
            at("c d", "t.yaml:2:4")
        );
        assert_eq!(
            value("a:\n  k: {x: 1,\n y: [2,\n-]}\n", &["a", "k", "y", "1"]),
            at("-", "t.yaml:4:1")
        );
        assert_eq!(
            value("k: \"abc\ndef\"\nz: [ü,\nos.environ/A]\n", &["z", "1"]),
            at("os.environ/A", "t.yaml:4:1")
        );
        // A comment right after a closing bracket or quote.
        assert_eq!(value("k: [a]#c\nz: 'q'#c\n", &["z"]), at("q", "t.yaml:2:4"));
        assert_eq!(value("k: {a: \"x\"}# c\n", &["k", "a"]).0, "x");
        // What PyYAML refuses too stays refused.
        assert!(err("k: \"abc\n--- def\"\n").contains("document indicator"));
        assert!(err("k: [-[a]]\n").contains("invalid YAML"));
        assert!(err("k: [ - ]\n").contains("invalid YAML"));
        // Each such place costs a parse; a file of thousands stops at a bound, with a reason.
        let many = (0..3000).fold(String::new(), |mut s, i| {
            use std::fmt::Write as _;
            let _ = write!(s, "k{i}: \"a\nb\"\n");
            s
        });
        assert!(err(&many).contains("stops here"), "{}", err(&many));
    }
}
