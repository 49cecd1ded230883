//! A YAML config parsed once, with byte spans, next to its source text.
//!
//! osenv never re-emits YAML: it edits the source text at the spans found here, so comments,
//! order, quoting and blank lines stay byte-identical. The tree is an arena of [`Node`]s; aliases
//! stay aliases ([`NodeKind::Alias`]) so an anchor is one node however often it is used, which
//! also keeps alias bombs from expanding.

mod construct;
mod merge;
mod parse;
mod repair;
mod tabs;

use crate::location::{LineIndex, Location};
use std::ops::Range;
use std::sync::Arc;

/// Index of a node in its [`Document`].
pub type NodeId = usize;

/// What PyYAML loads a node as, in the kinds a setting tells apart ([`Document::loaded`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded<'d> {
    /// `null`, `~` or nothing.
    Null,
    /// A YAML 1.1 boolean (`true`, `yes`, `On`, …).
    Bool(bool),
    /// A string, quoted or plain.
    String(&'d str),
    /// Anything else, named for messages: `a number`, `a list`, `a mapping`, `a tagged value`.
    Other(&'static str),
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// `value`
    Plain,
    /// `'value'`
    SingleQuoted,
    /// `"value"`
    DoubleQuoted,
    /// `|` block
    Literal,
    /// `>` block
    Folded,
}

impl ScalarStyle {
    /// Block scalars (`|`, `>`).
    pub fn is_block(self) -> bool {
        matches!(self, Self::Literal | Self::Folded)
    }
}

/// One mapping entry.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The key node.
    pub key: NodeId,
    /// The value node.
    pub value: NodeId,
}

/// What a node is. Its contents (a scalar's value, a collection's children) are read through
/// the [`Document`]: [`Document::scalar`], [`Document::items`], [`Document::entries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A scalar.
    Scalar {
        /// How it was written.
        style: ScalarStyle,
    },
    /// A sequence.
    Sequence {
        /// Written as `[...]`.
        flow: bool,
    },
    /// A mapping.
    Mapping {
        /// Written as `{...}`.
        flow: bool,
    },
    /// `*name`: a use of an anchored node ([`Document::resolve_alias`] follows it).
    Alias,
}

/// Where a node's contents are kept. A 10,000-reference config has about 100,000 nodes, so the
/// document holds them in a few flat arrays instead of a `String` or `Vec` per node, and
/// positions as `u32` (a config is at most [`MAX_TEXT_BYTES`]).
#[derive(Debug, Clone, Copy)]
enum Contents {
    /// A scalar whose value is exactly its source text (most plain scalars).
    Source,
    /// A scalar's decoded value (quoted, folded or escaped), a range of [`Document::values`].
    Decoded { start: u32, end: u32 },
    /// A sequence's items (in [`Document::items`]) or a mapping's entries (in
    /// [`Document::entries`]).
    Children { start: u32, end: u32 },
    /// The anchored node an alias stands for.
    Alias(u32),
}

/// The largest text [`Document::parse`] accepts, so that every position and arena index fits
/// in a `u32` (decoded values can be half again as long as their source).
pub const MAX_TEXT_BYTES: usize = 1 << 30;

/// A node and where its text is.
#[derive(Debug, Clone)]
pub struct Node {
    /// What the node is.
    pub kind: NodeKind,
    /// The node carries an anchor (`&name`).
    pub anchored: bool,
    start: u32,
    end: u32,
    contents: Contents,
}

impl Node {
    /// Byte range of the node's own text in [`Document::text`]. For scalars this is exactly
    /// the value as written (quotes included; anchor and tag excluded). For collections it
    /// runs from the opening indicator or first child to the end of the last child.
    pub fn span(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// A scalar's value, from the document's text or its decoded values.
    fn value<'d>(&self, text: &'d str, values: &'d str) -> Option<&'d str> {
        match self.contents {
            Contents::Source => Some(&text[self.span()]),
            Contents::Decoded { start, end } => Some(&values[start as usize..end as usize]),
            Contents::Children { .. } | Contents::Alias(_) => None,
        }
    }
}

/// A parsed config: source text, line index and the node tree.
#[derive(Debug, Clone)]
pub struct Document {
    text: String,
    lines: LineIndex,
    nodes: Vec<Node>,
    /// Decoded scalar values that differ from their source text, back to back.
    values: String,
    /// Sequence items, each sequence's contiguous.
    items: Vec<NodeId>,
    /// Mapping entries, each mapping's contiguous.
    entries: Vec<Entry>,
    /// Tags as written and resolved (`tag:yaml.org,2002:str` for `!!str`), by node id in
    /// increasing order; few nodes have one.
    tags: Vec<(NodeId, Box<str>)>,
    /// The byte range of each tag in `tags`, in the same order.
    tag_spans: Vec<Range<u32>>,
    root: NodeId,
}

/// The YAML core tag for strings, as the parser resolves `!!str`.
pub const STR_TAG: &str = "tag:yaml.org,2002:str";
/// `!!null`: None whatever the text.
pub const NULL_TAG: &str = "tag:yaml.org,2002:null";
/// `!!bool`, resolved.
pub const BOOL_TAG: &str = "tag:yaml.org,2002:bool";
/// `!!int`, resolved.
pub const INT_TAG: &str = "tag:yaml.org,2002:int";
/// `!!float`, resolved.
pub const FLOAT_TAG: &str = "tag:yaml.org,2002:float";

impl Document {
    /// Parse `text`, shown to users as `file`.
    ///
    /// Rejects what LiteLLM's `yaml.safe_load` would not load as one mapping, and duplicate
    /// keys (a later key silently wins in LiteLLM, which hides mistakes).
    pub fn parse(file: impl Into<Arc<str>>, text: String) -> Result<Self, Vec<crate::error::ConfigError>> {
        parse::parse(file.into(), text)
    }

    /// The whole source text (a byte-order mark, if any, included).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The file name used in messages.
    pub fn file(&self) -> &Arc<str> {
        self.lines.file()
    }

    /// The root mapping.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// A node by id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never true: a document has at least its root.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Follow aliases to the node they stand for.
    pub fn resolve_alias(&self, mut id: NodeId) -> NodeId {
        // Aliases point at nodes that were complete when the alias was read, so chains end.
        for _ in 0..self.nodes.len() {
            match self.nodes[id].contents {
                Contents::Alias(target) => id = target as usize,
                _ => return id,
            }
        }
        id
    }

    /// The location of byte `offset`.
    pub fn locate(&self, offset: usize) -> Location {
        self.lines.locate(&self.text, offset)
    }

    /// The location where node `id` starts.
    pub fn location(&self, id: NodeId) -> Location {
        self.locate(self.nodes[id].span().start)
    }

    /// The source text of node `id`.
    pub fn source(&self, id: NodeId) -> &str {
        &self.text[self.nodes[id].span()]
    }

    /// The line index of the document.
    pub fn lines(&self) -> &LineIndex {
        &self.lines
    }

    /// The string value of a scalar node (through aliases), if it is one: after YAML unescaping
    /// and folding.
    pub fn scalar(&self, id: NodeId) -> Option<&str> {
        self.nodes[self.resolve_alias(id)].value(&self.text, &self.values)
    }

    /// The items of a sequence node (through aliases), if it is one.
    pub fn items(&self, id: NodeId) -> Option<&[NodeId]> {
        let node = &self.nodes[self.resolve_alias(id)];
        match (node.kind, node.contents) {
            (NodeKind::Sequence { .. }, Contents::Children { start, end }) => {
                Some(&self.items[start as usize..end as usize])
            }
            _ => None,
        }
    }

    /// The entries of a mapping node (through aliases), if it is one.
    pub fn entries(&self, id: NodeId) -> Option<&[Entry]> {
        let node = &self.nodes[self.resolve_alias(id)];
        match (node.kind, node.contents) {
            (NodeKind::Mapping { .. }, Contents::Children { start, end }) => {
                Some(&self.entries[start as usize..end as usize])
            }
            _ => None,
        }
    }

    /// The tag written on node `id` (not through aliases), resolved: `tag:yaml.org,2002:str`
    /// for `!!str`.
    pub fn tag(&self, id: NodeId) -> Option<&str> {
        let at = self.tags.binary_search_by_key(&id, |(node, _)| *node).ok()?;
        Some(&self.tags[at].1)
    }

    /// The byte range of the tag written on node `id`, if any.
    pub fn tag_span(&self, id: NodeId) -> Option<Range<usize>> {
        let at = self.tags.binary_search_by_key(&id, |(node, _)| *node).ok()?;
        let span = &self.tag_spans[at];
        Some(span.start as usize..span.end as usize)
    }

    /// The string PyYAML loads scalar `id` (through aliases) as, if it loads a string: quoted and
    /// `!!str` scalars always, plain ones unless they read as null, a boolean or a number.
    pub fn string(&self, id: NodeId) -> Option<&str> {
        let id = self.resolve_alias(id);
        let NodeKind::Scalar { style } = self.node(id).kind else {
            return None;
        };
        let value = self.scalar(id)?;
        match (style, self.tag(id)) {
            (_, Some(STR_TAG)) => Some(value),
            // PyYAML resolves a plain scalar, and any tagged `!` (`! '1'` is an int), by its form.
            (ScalarStyle::Plain, None) | (_, Some("!")) => parse::plain_is_string(parse::form(value)).then_some(value),
            (_, None) => Some(value),
            _ => None,
        }
    }

    /// What PyYAML loads node `id` (through aliases) as, in the kinds a setting tells apart.
    pub fn loaded(&self, id: NodeId) -> Loaded<'_> {
        let id = self.resolve_alias(id);
        if let Some(text) = self.string(id) {
            return Loaded::String(text);
        }
        match (self.node(id).kind, self.tag(id), self.scalar(id)) {
            (NodeKind::Sequence { .. }, ..) => Loaded::Other("a list"),
            (NodeKind::Mapping { .. }, ..) => Loaded::Other("a mapping"),
            (
                NodeKind::Scalar {
                    style: ScalarStyle::Plain,
                },
                None,
                Some(value),
            )
            | (NodeKind::Scalar { .. }, Some("!"), Some(value)) => match parse::plain_meaning(parse::form(value)) {
                parse::Plain::Null => Loaded::Null,
                parse::Plain::Bool(b) => Loaded::Bool(b),
                parse::Plain::Timestamp => Loaded::Other("a date"),
                _ => Loaded::Other("a number"),
            },
            (NodeKind::Scalar { .. }, Some(NULL_TAG), _) => Loaded::Null,
            // PyYAML's construct_yaml_bool: the text, lowercased, in its table (another
            // text cannot be constructed, which the reading refused already).
            (NodeKind::Scalar { .. }, Some(BOOL_TAG), Some(value)) => match value.to_lowercase().as_str() {
                "yes" | "true" | "on" => Loaded::Bool(true),
                "no" | "false" | "off" => Loaded::Bool(false),
                _ => Loaded::Other("a tagged value"),
            },
            (NodeKind::Scalar { .. }, Some(INT_TAG | FLOAT_TAG), _) => Loaded::Other("a number"),
            _ => Loaded::Other("a tagged value"),
        }
    }

    /// The value of `key` in mapping `id`, if present.
    pub fn get(&self, id: NodeId, key: &str) -> Option<Entry> {
        self.entries(id)?
            .iter()
            .copied()
            // As PyYAML's `dict` finds it: `!!null general_settings` is the key None.
            .find(|e| self.string(e.key) == Some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::Node;

    #[test]
    fn nodes_stay_small() {
        // 100,000 of them in a 10,000-reference config; every byte here is 100 kB of memory.
        assert_eq!(std::mem::size_of::<Node>(), 24);
    }
}
