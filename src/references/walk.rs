//! Find references the way LiteLLM resolves them (`proxy_server.py`, `_check_for_os_environ_vars`).
//!
//! LiteLLM recurses into every mapping from the root, and into the *mapping* items of a
//! sequence; a string directly in a sequence, anything in a sequence inside a sequence, the
//! workload-identity pointer keys ([`POINTER_KEYS`]) and an `oidc/` name are left alone, and
//! nothing in a mapping nested deeper than `DEFAULT_MAX_RECURSE_DEPTH` (100; the root mapping is
//! depth 0) is resolved. osenv finds exactly those references and reports the reference-looking
//! values LiteLLM would leave alone as notices, so `check` can warn about them.

use super::{self as reference, Reference};
use crate::document::{Document, Entry, NodeId, NodeKind, STR_TAG};
use crate::environment::Environment;
use crate::error::ConfigError;
use crate::location::Location;
use std::collections::BTreeMap;

/// LiteLLM's default recursion limit for resolving references.
pub const DEFAULT_MAX_DEPTH: i64 = 100;

/// The keys whose value LiteLLM leaves as written: `_WIF_POINTER_FIELDS` in
/// `litellm/types/router.py` (the `*_ref` names among the server-owned workload-identity
/// parameters; a pointer the identity source dereferences itself). Only these: any other key
/// ending in `_ref` is resolved like every other.
pub const POINTER_KEYS: [&str; 2] = [
    "anthropic_issuer_signing_key_ref",
    "anthropic_keycloak_client_secret_ref",
];

/// The recursion limit LiteLLM would use in `env`: `DEFAULT_MAX_RECURSE_DEPTH` read as
/// LiteLLM's `get_env_int` does (Python's `int()` of the stripped value; unset, blank or
/// unparsable means 100), so an `--env-file` can set it too. A negative limit resolves nothing.
pub fn max_depth(env: &Environment) -> i64 {
    let Ok(raw) = env.get("DEFAULT_MAX_RECURSE_DEPTH") else {
        return DEFAULT_MAX_DEPTH;
    };
    if let Some(depth) = crate::python::int(raw.expose()) {
        return depth;
    }
    if !crate::python::strip(raw.expose()).is_empty() {
        tracing::warn!("DEFAULT_MAX_RECURSE_DEPTH is not a valid int; using 100, as LiteLLM does");
    }
    DEFAULT_MAX_DEPTH
}

/// Why a reference-looking value is not resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NoticeKind {
    /// A string item of a sequence.
    InSequence,
    /// Inside a sequence that is itself inside a sequence.
    NestedSequence,
    /// Under one of LiteLLM's workload-identity pointer keys ([`POINTER_KEYS`]).
    PointerKey {
        /// The key as written.
        key: String,
    },
    /// An `oidc/` token reference: LiteLLM fetches the token itself when it loads the config (a
    /// short-lived token must be fresh), so osenv leaves it for LiteLLM.
    Oidc {
        /// The name with `os.environ/` removed (`oidc/<provider>/<argument>`), for
        /// [`crate::oidc::needs`]; the notice shows the reference as written.
        #[serde(skip)]
        name: String,
    },
    /// A scalar tagged `!!binary`, so bytes, not a string.
    Tagged {
        /// The tag.
        tag: String,
    },
    /// Inside a `!!omap`, `!!pairs` or `!!set`: PyYAML makes a list of pairs or a set of it,
    /// which LiteLLM's walk does not enter.
    InTaggedCollection {
        /// The tag (`!!omap`).
        tag: String,
    },
    /// Deeper than LiteLLM's recursion limit.
    TooDeep {
        /// The limit.
        limit: i64,
    },
}

impl std::fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InSequence => f.write_str("a string inside a list; LiteLLM does not resolve list items"),
            Self::NestedSequence => f.write_str("inside a list of lists; LiteLLM does not resolve there"),
            Self::PointerKey { key } => write!(
                f,
                "under `{key}`, a workload-identity pointer key that LiteLLM leaves verbatim"
            ),
            Self::Oidc { .. } => f.write_str(
                "an `oidc/` reference; it stays in the output and LiteLLM fetches the token itself when it loads the config",
            ),
            Self::Tagged { tag } => write!(
                f,
                "tagged `{tag}`, so {}, not a string; LiteLLM does not resolve it",
                if tag == "!!null" { "None" } else { "bytes" }
            ),
            Self::InTaggedCollection { tag } => write!(
                f,
                "inside `{tag}`, which PyYAML loads as {}; LiteLLM does not resolve there",
                if tag == "!!set" { "a set" } else { "a list of pairs" }
            ),
            Self::TooDeep { limit } => write!(
                f,
                "nested deeper than LiteLLM's limit of {limit} levels (DEFAULT_MAX_RECURSE_DEPTH); LiteLLM leaves it unresolved"
            ),
        }
    }
}

/// A reference-looking value that LiteLLM will not resolve; osenv leaves it untouched.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Notice {
    /// Where it is.
    pub location: Location,
    /// As written.
    pub written: String,
    /// Why it is not resolved.
    #[serde(flatten)]
    pub kind: NoticeKind,
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: `{}` is not resolved: {}",
            self.location, self.written, self.kind
        )
    }
}

/// The result of the walk.
#[derive(Debug, Default)]
pub struct Discovery {
    /// References LiteLLM resolves, one per scalar node, sorted by position.
    pub references: Vec<Reference>,
    /// Values LiteLLM leaves alone, sorted by position.
    pub notices: Vec<Notice>,
    /// References osenv cannot substitute.
    pub errors: Vec<ConfigError>,
    /// Entries, items and scanned nodes the walk stepped through: linear in the documents'
    /// size whatever their aliases do (a test holds it to that).
    pub steps: usize,
}

/// Keys of `general_settings` that configure the secret manager itself; LiteLLM reads them
/// from the real environment before the walk, and osenv handles them in `settings`.
pub const KEY_MANAGEMENT_KEYS: [&str; 4] = [
    "key_management_system",
    "key_management_settings",
    "use_google_kms",
    "use_azure_key_vault",
];

/// One step of the path to a value: a mapping key, or an index into the list under the key
/// before it.
#[derive(Clone, Copy)]
enum Step<'d> {
    /// A key as written, and whether PyYAML loads it as a string (only a string key can be a
    /// name LiteLLM looks for: `!!null anthropic_issuer_signing_key_ref` is the key None).
    Key(&'d str, bool),
    Index(usize),
}

/// The path from the root to the value being walked, also kept as text
/// (`model_list[0].litellm_params.api_key`) so each reference copies it instead of formatting
/// it again.
#[derive(Default)]
struct Path<'d> {
    steps: Vec<Step<'d>>,
    text: String,
    /// The length of `text` before each step.
    marks: Vec<usize>,
}

impl<'d> Path<'d> {
    fn push(&mut self, step: Step<'d>) {
        use std::fmt::Write as _;
        self.marks.push(self.text.len());
        match step {
            Step::Key(key, _) => {
                if !self.text.is_empty() {
                    self.text.push('.');
                }
                self.text.push_str(key);
            }
            Step::Index(i) => {
                let _ = write!(self.text, "[{i}]");
            }
        }
        self.steps.push(step);
    }

    fn pop(&mut self) {
        self.steps.pop();
        if let Some(mark) = self.marks.pop() {
            self.text.truncate(mark);
        }
    }

    /// The innermost mapping key.
    fn last_key(&self) -> &'d str {
        self.steps
            .iter()
            .rev()
            .find_map(|s| match s {
                Step::Key(k, string) => Some(if *string { *k } else { "" }),
                Step::Index(_) => None,
            })
            .unwrap_or_default()
    }
}

/// Node ids follow document order, so ordered maps keyed by id yield notices already sorted by
/// position.
struct Walker<'d> {
    doc: &'d Document,
    /// The document's place among the config's files (0: the config itself).
    source: usize,
    max_depth: i64,
    refs: Vec<Reference>,
    /// By node id: a reference was made of it (an anchored scalar is reached once per alias).
    referenced: Vec<bool>,
    /// By node id: the notice, and where the use LiteLLM leaves alone is (an alias or the node).
    notices: BTreeMap<NodeId, (Notice, Location)>,
    errors: Vec<ConfigError>,
    /// By node id: a mapping already walked. A node reached again through an alias yields
    /// nothing new (references are made once per node and the first notice stands), so each is
    /// walked once and the walk stays linear in the document, whatever the fan-out of aliases
    /// (`t: [*s, *s, …]` over a long `s`).
    visited: Vec<bool>,
    /// What working out merged mappings may still cost ([`MERGE_BUDGET`]).
    merge_budget: usize,
    /// By sequence node id: the shallowest depth it was walked at (`i64::MAX`: not yet).
    sequence_depth: Vec<i64>,
    steps: usize,
    /// By node id: already scanned for notices (the first notice of a node stands).
    scanned: Vec<bool>,
    path: Path<'d>,
}

/// The parts of one document that the config's merged view takes: all of its root mapping, or
/// only some of its top-level entries (the others are overridden by, or override, an included
/// file's).
pub struct Part<'d> {
    /// The document.
    pub doc: &'d Document,
    /// Its place among the config's files.
    pub source: usize,
    /// The top-level entries LiteLLM's merge keeps from it, in order.
    pub entries: Vec<Entry>,
}

impl Discovery {
    /// Find every reference in `doc` with LiteLLM's rules; `max_depth` is LiteLLM's recursion
    /// limit ([`max_depth`]).
    pub fn of(doc: &Document, max_depth: i64) -> Self {
        let entries = doc.entries(doc.root()).unwrap_or_default().to_vec();
        Self::of_parts(
            &[Part {
                doc,
                source: 0,
                entries,
            }],
            max_depth,
        )
    }

    /// Find every reference in the top-level entries each part contributes to the merged
    /// config (the config and its `include:` files).
    pub fn of_parts(parts: &[Part<'_>], max_depth: i64) -> Self {
        let mut all = Discovery::default();
        for part in parts {
            let doc = part.doc;
            let mut w = Walker {
                doc,
                source: part.source,
                max_depth,
                // A model list has about one reference per ten nodes; reserving that up front
                // saves copying a large list as it grows (untouched capacity costs no memory).
                refs: Vec::with_capacity(doc.len() / 10),
                referenced: vec![false; doc.len()],
                notices: BTreeMap::new(),
                errors: Vec::new(),
                visited: vec![false; doc.len()],
                scanned: vec![false; doc.len()],
                sequence_depth: vec![i64::MAX; doc.len()],
                steps: 0,
                merge_budget: MERGE_BUDGET,
                path: Path::default(),
            };
            if max_depth >= 0 {
                w.visited[doc.root()] = true;
                w.entries(&part.entries, 0, true);
            } else {
                for e in &part.entries {
                    w.scan(e.value, &NoticeKind::TooDeep { limit: max_depth });
                }
            }
            let Walker {
                mut refs,
                referenced,
                notices,
                mut errors,
                steps,
                ..
            } = w;
            all.steps += steps;
            for (id, (notice, unresolved)) in notices {
                if referenced[id] {
                    errors.push(ConfigError::MixedAlias {
                        location: notice.location,
                        written: notice.written,
                        unresolved,
                    });
                } else {
                    all.notices.push(notice);
                }
            }
            all.references.append(&mut refs);
            all.errors.append(&mut errors);
        }
        // Mostly in document order already (merges and aliases can reach a node late); the
        // stable sorts only confirm that in one pass.
        all.references.sort_by_key(|r| (r.source, r.span.start));
        all.notices.sort_by(|a, b| a.location.cmp(&b.location));
        all.errors.sort_by(|a, b| a.location().cmp(&b.location()));
        all
    }
}

/// How many merged entries a walk works out winners among, in all: linear in any real config,
/// and a bound on a file that merges one large mapping into thousands.
const MERGE_BUDGET: usize = 1_000_000;

const BINARY_TAG: &str = "tag:yaml.org,2002:binary";
const NULL_TAG: &str = "tag:yaml.org,2002:null";

impl<'d> Walker<'d> {
    fn mapping(&mut self, id: NodeId, depth: i64) {
        let id = self.doc.resolve_alias(id);
        if depth > self.max_depth {
            let limit = self.max_depth;
            self.scan(id, &NoticeKind::TooDeep { limit });
            return;
        }
        if std::mem::replace(&mut self.visited[id], true) {
            return;
        }
        let doc = self.doc;
        let Some(entries) = doc.entries(id) else {
            return;
        };
        self.entries(entries, depth, false);
    }

    fn entries(&mut self, entries: &[Entry], depth: i64, root: bool) {
        let doc = self.doc;
        // With merge keys, the entries PyYAML's dict holds: a merged entry another shadows
        // is never walked by LiteLLM (its references, if not reached elsewhere, are not asked
        // for). Past the merge budget, every merged entry is walked, as before.
        let effective;
        let entries = if entries.iter().any(|e| doc.is_merge_key(e.key))
            && let Some(found) = doc.effective_entries(entries, &mut self.merge_budget)
        {
            effective = found;
            &effective[..]
        } else {
            entries
        };
        let skip_key_management = matches!(self.path.steps.as_slice(), [Step::Key("general_settings", true)]);
        for &Entry { key, value } in entries {
            self.steps += 1;
            let key_text: &'d str = doc.scalar(key).unwrap_or("?");
            let name = doc.string(key);
            if doc.is_merge_key(key) {
                // Merge key: the merged mappings' entries belong to this mapping.
                let target = doc.resolve_alias(value);
                match doc.node(target).kind {
                    NodeKind::Mapping { .. } => self.merged(target, depth),
                    NodeKind::Sequence { .. } => {
                        for &item in doc.items(target).unwrap_or_default() {
                            self.merged(item, depth);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            if skip_key_management && name.is_some_and(|n| KEY_MANAGEMENT_KEYS.contains(&n)) {
                continue;
            }
            // LiteLLM removes `include` before it resolves anything.
            if root && name == Some("include") {
                continue;
            }
            self.path.push(Step::Key(key_text, name.is_some()));
            self.value(value, depth);
            self.path.pop();
        }
    }

    fn merged(&mut self, id: NodeId, depth: i64) {
        let id = self.doc.resolve_alias(id);
        if matches!(self.doc.node(id).kind, NodeKind::Mapping { .. }) {
            // Merged entries are the mapping's own; only an anchor reached twice is walked once.
            if std::mem::replace(&mut self.visited[id], true) {
                return;
            }
            let doc = self.doc;
            self.entries(doc.entries(id).unwrap_or_default(), depth, false);
        }
    }

    /// A collection PyYAML does not make a dict or a list of, if `id` is one: LiteLLM's walk
    /// enters only those.
    fn opaque(&self, id: NodeId) -> Option<NoticeKind> {
        let tag = self
            .doc
            .tag(self.doc.resolve_alias(id))?
            .strip_prefix("tag:yaml.org,2002:")?;
        matches!(tag, "omap" | "pairs" | "set").then(|| NoticeKind::InTaggedCollection {
            tag: format!("!!{tag}"),
        })
    }

    fn value(&mut self, value: NodeId, depth: i64) {
        let doc = self.doc;
        let target = doc.resolve_alias(value);
        if let Some(kind) = self.opaque(target) {
            self.scan(value, &kind);
            return;
        }
        match doc.node(target).kind {
            NodeKind::Mapping { .. } => self.mapping(target, depth + 1),
            NodeKind::Sequence { .. } => {
                // Walked again only from a shallower place, where a mapping item that was too
                // deep before may now be within the limit (at most `max_depth` times).
                if self.sequence_depth[target] <= depth {
                    return;
                }
                self.sequence_depth[target] = depth;
                for (i, &item) in doc.items(target).unwrap_or_default().iter().enumerate() {
                    self.steps += 1;
                    let used = item;
                    let item = doc.resolve_alias(item);
                    match &doc.node(item).kind {
                        _ if let Some(kind) = self.opaque(item) => self.scan(used, &kind),
                        NodeKind::Mapping { .. } => {
                            self.path.push(Step::Index(i));
                            self.mapping(item, depth + 1);
                            self.path.pop();
                        }
                        NodeKind::Sequence { .. } => self.scan(used, &NoticeKind::NestedSequence),
                        _ => self.notice_if_reference(used, NoticeKind::InSequence),
                    }
                }
            }
            NodeKind::Scalar { style } => {
                let text = doc.scalar(target).unwrap_or_default();
                if !text.starts_with(reference::PREFIX) {
                    return;
                }
                let node = self.doc.node(target);
                let bare_key = self.path.last_key();
                let name = reference::name_of(text).unwrap_or_default();
                // PyYAML hands LiteLLM a `str` for an untagged scalar, `!!str` and the
                // non-specific `!`; bytes for `!!binary`; and cannot load a reference under
                // any other tag (`!!int os.environ/X` is not an int).
                let tag = doc.tag(target);
                match tag {
                    None | Some(STR_TAG | "!") => {}
                    Some(BINARY_TAG) => {
                        self.notice(value, NoticeKind::Tagged { tag: "!!binary".into() });
                        return;
                    }
                    Some(NULL_TAG) => {
                        self.notice(value, NoticeKind::Tagged { tag: "!!null".into() });
                        return;
                    }
                    Some(other) => {
                        let shown = other
                            .strip_prefix("tag:yaml.org,2002:")
                            .map_or_else(|| other.to_owned(), |t| format!("!!{t}"));
                        self.errors.push(ConfigError::Unloadable {
                            location: self.doc.location(target),
                            reason: format!("`{text}` is tagged `{shown}`, which PyYAML cannot construct from it"),
                        });
                        return;
                    }
                }
                if POINTER_KEYS.contains(&bare_key) {
                    self.notice(
                        value,
                        NoticeKind::PointerKey {
                            key: bare_key.to_owned(),
                        },
                    );
                } else if name.starts_with("oidc/") {
                    self.notice(value, NoticeKind::Oidc { name });
                } else if style.is_block() {
                    self.errors.push(ConfigError::BlockScalarReference {
                        location: self.doc.location(target),
                        written: text.trim_end().to_owned(),
                    });
                } else if !std::mem::replace(&mut self.referenced[target], true) {
                    self.refs.push(Reference {
                        location: self.doc.location(target),
                        written: self.doc.source(target).to_owned(),
                        name,
                        node: target,
                        source: self.source,
                        span: node.span(),
                        tag_span: tag.and_then(|_| self.doc.tag_span(target)),
                        path: self.path.text.clone(),
                        style,
                    });
                }
            }
            NodeKind::Alias => {}
        }
    }

    /// `used` is the node as it appears at this place: an alias, or the value itself.
    fn notice_if_reference(&mut self, used: NodeId, kind: NoticeKind) {
        if self.doc.scalar(used).is_some_and(|v| v.starts_with(reference::PREFIX)) {
            self.notice(used, kind);
        }
    }

    fn notice(&mut self, used: NodeId, kind: NoticeKind) {
        let id = self.doc.resolve_alias(used);
        let at = self.doc.location(used);
        self.notices.entry(id).or_insert_with(|| {
            (
                Notice {
                    location: self.doc.location(id),
                    written: self.doc.source(id).to_owned(),
                    kind,
                },
                at,
            )
        });
    }

    /// Report every reference-looking scalar under `id` (which LiteLLM does not walk).
    fn scan(&mut self, id: NodeId, kind: &NoticeKind) {
        let mut stack = vec![id];
        let doc = self.doc;
        while let Some(used) = stack.pop() {
            let id = doc.resolve_alias(used);
            self.steps += 1;
            if std::mem::replace(&mut self.scanned[id], true) {
                continue;
            }
            match doc.node(id).kind {
                NodeKind::Scalar { .. } => self.notice_if_reference(used, kind.clone()),
                NodeKind::Sequence { .. } => stack.extend(doc.items(id).unwrap_or_default().iter().rev()),
                NodeKind::Mapping { .. } => {
                    stack.extend(doc.entries(id).unwrap_or_default().iter().rev().map(|e| e.value));
                }
                NodeKind::Alias => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discover(src: &str) -> Discovery {
        Discovery::of(&Document::parse("t.yaml", src.to_owned()).unwrap(), DEFAULT_MAX_DEPTH)
    }

    /// Every alias fan-out costs one step per alias, not one walk of its target per alias:
    /// `t: [*s, …]` and `m: {k: *s, …}` over a long anchored `s` took minutes when each alias
    /// rescanned `s`.
    #[test]
    fn the_walk_is_linear_in_the_document_whatever_its_aliases() {
        let n = 2_000;
        let items = vec!["os.environ/X"; n].join(", ");
        let aliases = vec!["*s"; n].join(", ");
        let keys: Vec<String> = (0..n).map(|i| format!("k{i}: *s")).collect();
        let deep: Vec<String> = (0..n).map(|i| format!("d{i}: *d")).collect();
        let src = format!(
            "s: &s [{items}]\nt: [{aliases}]\nm: {{{}}}\nd: &d [{{a: os.environ/Y}}, [os.environ/Z]]\ne: {{{}}}\n",
            keys.join(", "),
            deep.join(", ")
        );
        let doc = Document::parse("t.yaml", src).unwrap();
        let d = Discovery::of(&doc, DEFAULT_MAX_DEPTH);
        assert!(d.steps <= 4 * doc.len(), "{} steps for {} nodes", d.steps, doc.len());
        // Still every finding, once: `Y`, and a notice per item of `s` plus `Z`.
        assert_eq!(d.references.len(), 1);
        assert_eq!(d.notices.len(), n + 1);
    }

    #[test]
    fn finds_references_where_litellm_resolves_them() {
        let d = discover(
            "model_list:\n  - model_name: a\n    litellm_params:\n      api_key: os.environ/A\n\
             callbacks: [\"os.environ/B\"]\nx: [[{k: os.environ/C}]]\nanthropic_issuer_signing_key_ref: os.environ/D\n\
             t: os.environ/oidc/google/aud\nbin: !!binary os.environ/EE\ns: !!str os.environ/F\n\
             token_ref: os.environ/G\nn: ! os.environ/H\n",
        );
        let names: Vec<_> = d
            .references
            .iter()
            .map(|r| (r.name.as_str(), r.path.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("A", "model_list[0].litellm_params.api_key"),
                ("F", "s"),
                ("G", "token_ref"),
                ("H", "n")
            ]
        );
        let kinds: Vec<_> = d.notices.iter().map(|n| n.kind.clone()).collect();
        assert_eq!(kinds.len(), 5, "{kinds:?}");
        assert_eq!(kinds[0], NoticeKind::InSequence);
        assert_eq!(kinds[1], NoticeKind::NestedSequence);
        assert_eq!(
            kinds[2],
            NoticeKind::PointerKey {
                key: "anthropic_issuer_signing_key_ref".into()
            }
        );
        assert_eq!(
            kinds[3],
            NoticeKind::Oidc {
                name: "oidc/google/aud".into()
            }
        );
    }

    #[test]
    fn anchors_are_one_reference_and_merges_are_walked() {
        let d = discover("base: &b {api_key: os.environ/K}\nm1:\n  <<: *b\nm2: *b\nlist: [*b]\n");
        assert_eq!(d.references.len(), 1);
        assert_eq!(d.references[0].location.to_string(), "t.yaml:1:20");
    }

    #[test]
    fn respects_litellm_depth_limit() {
        // The root mapping is depth 0 and `c` sits in a mapping at depth 2, which LiteLLM
        // (`depth > max_depth` returns the mapping as it is) still resolves at a limit of 2.
        let deep = "a:\n  b:\n    c: os.environ/X\nr: os.environ/R\n";
        let doc = Document::parse("t.yaml", deep.to_owned()).unwrap();
        assert_eq!(Discovery::of(&doc, 2).references.len(), 2);
        let d = Discovery::of(&doc, 1);
        assert_eq!(d.references.len(), 1);
        assert_eq!(d.notices[0].kind, NoticeKind::TooDeep { limit: 1 });
        assert_eq!(Discovery::of(&doc, 0).references.len(), 1);
        let none = Discovery::of(&doc, -1);
        assert!(none.references.is_empty());
        assert_eq!(none.notices.len(), 2);
    }

    #[test]
    fn quoted_merge_keys_are_ordinary_keys() {
        let d = discover("b: &b {k: os.environ/K}\nm:\n  \"<<\": {x: os.environ/X}\n");
        assert_eq!(
            d.references.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
            ["b.k", "m.<<.x"]
        );
    }

    #[test]
    fn an_anchor_used_where_litellm_does_not_resolve_is_an_error() {
        for src in [
            "a: &k os.environ/X\ncallbacks: [*k]\n",
            "callbacks: [&k os.environ/X]\na: *k\n",
            "m: &m {k: os.environ/X}\nl: [[*m]]\n",
        ] {
            let d = discover(src);
            assert!(
                matches!(d.errors.as_slice(), [ConfigError::MixedAlias { .. }]),
                "{src}: {:?}",
                d.errors
            );
        }
        assert!(discover("a: &k os.environ/X\nb: *k\n").errors.is_empty());
    }

    /// PyYAML makes a list of pairs of `!!omap`/`!!pairs` and a set of `!!set`: LiteLLM's walk
    /// enters none of them, as a value or as a list item.
    #[test]
    fn ordered_maps_pairs_and_sets_are_not_walked() {
        let d =
            discover("a: !!omap [{k: os.environ/A}]\nb: [!!pairs [{k: {x: os.environ/B}}]]\nc: {k: os.environ/C}\n");
        assert_eq!(d.references.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["C"]);
        let notices: Vec<String> = d.notices.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(notices.join("\n"), @r"
        t.yaml:1:16: `os.environ/A` is not resolved: inside `!!omap`, which PyYAML loads as a list of pairs; LiteLLM does not resolve there
        t.yaml:2:22: `os.environ/B` is not resolved: inside `!!pairs`, which PyYAML loads as a list of pairs; LiteLLM does not resolve there
        ");
        let refused = Document::parse("t.yaml", "a: !!omap [{<<: {k: 1}}, {=: 2}, {'=': 3}]\n".to_owned()).unwrap_err();
        let refused: Vec<String> = refused.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(refused.join("\n"), @r"
        t.yaml:1:13: LiteLLM cannot load this config: PyYAML cannot construct this key: inside `!!omap` `<<` is a merge or value indicator, not a key; quote it
        t.yaml:1:27: LiteLLM cannot load this config: PyYAML cannot construct this key: inside `!!omap` `=` is a merge or value indicator, not a key; quote it
        ");
    }

    #[test]
    fn references_under_other_tags_cannot_load() {
        // PyYAML cannot construct an int from a reference: the config does not load at all.
        assert!(Document::parse("t.yaml", "a: !!int os.environ/X\n".to_owned()).is_err());
        // `!!null` constructs None from anything: LiteLLM sees no reference.
        let d = discover("a: !!null os.environ/X\n");
        assert!(d.errors.is_empty() && d.references.is_empty(), "{:?}", d.errors);
        assert_eq!(d.notices[0].kind, NoticeKind::Tagged { tag: "!!null".into() });
    }

    #[test]
    fn the_depth_limit_is_read_as_litellm_reads_it() {
        let depth = |value: Option<&str>| {
            let env = Environment::new(value.map(|v| ("DEFAULT_MAX_RECURSE_DEPTH", v)), vec![]);
            max_depth(&env)
        };
        assert_eq!(depth(None), 100);
        assert_eq!(depth(Some("5")), 5);
        assert_eq!(depth(Some(" +7 ")), 7);
        assert_eq!(depth(Some("-3")), -3);
        assert_eq!(depth(Some("1_0")), 10);
        assert_eq!(depth(Some("")), 100);
        assert_eq!(depth(Some("ten")), 100);
    }

    #[test]
    fn notices_say_why_litellm_leaves_a_reference() {
        let d = discover("callbacks: [os.environ/A]\nx: [[os.environ/B]]\nbin: !!binary os.environ/CC\n");
        let shown: Vec<String> = d.notices.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "t.yaml:1:13: `os.environ/A` is not resolved: a string inside a list; LiteLLM does not resolve list items",
                "t.yaml:2:6: `os.environ/B` is not resolved: inside a list of lists; LiteLLM does not resolve there",
                "t.yaml:3:15: `os.environ/CC` is not resolved: tagged `!!binary`, so bytes, not a string; LiteLLM does not resolve it",
            ]
        );
        let doc = Document::parse("t.yaml", "a:\n  b: os.environ/X\n".to_owned()).unwrap();
        assert_eq!(
            Discovery::of(&doc, -1).notices[0].kind.to_string(),
            "nested deeper than LiteLLM's limit of -1 levels (DEFAULT_MAX_RECURSE_DEPTH); LiteLLM leaves it unresolved"
        );
    }

    /// A mapping item of a list is one level deeper than the list's mapping, as in LiteLLM's
    /// recursion (`model_list[0].litellm_params` is depth 2).
    #[test]
    fn list_items_count_one_level() {
        let doc = Document::parse("t.yaml", "l:\n  - a: os.environ/X\n".to_owned()).unwrap();
        assert_eq!(Discovery::of(&doc, 1).references.len(), 1);
        let d = Discovery::of(&doc, 0);
        assert!(d.references.is_empty());
        assert_eq!(d.notices[0].kind, NoticeKind::TooDeep { limit: 0 });
    }

    /// A merge makes the merged entries the mapping's own, so they are resolved there even when
    /// the anchored mapping itself is out of LiteLLM's reach; one node cannot be both, so that
    /// is the mixed-alias error (for a merged mapping and a merged list of mappings).
    #[test]
    fn merged_entries_are_walked_where_they_are_merged() {
        for merge in ["*x", "[*x]"] {
            let src = format!("a:\n  b:\n    c: &x {{k: os.environ/K}}\nm:\n  <<: {merge}\n");
            let doc = Document::parse("t.yaml", src).unwrap();
            let d = Discovery::of(&doc, 2);
            assert!(
                matches!(d.errors.as_slice(), [ConfigError::MixedAlias { .. }]),
                "{merge}: {:?}",
                d.errors
            );
            let d = Discovery::of(&doc, 3);
            assert!(d.errors.is_empty(), "{merge}: {:?}", d.errors);
            assert_eq!(d.references.len(), 1);
        }
    }

    /// The step count is what the linearity test bounds, so it must count: one step per entry,
    /// per list item and per scanned node.
    #[test]
    fn steps_count_entries_items_and_scanned_nodes() {
        assert_eq!(discover("a: 1\nb: 2\n").steps, 2);
        assert_eq!(discover("a: [x, y, z]\n").steps, 1 + 3);
        let doc = Document::parse("t.yaml", "a: [x, [y]]\n".to_owned()).unwrap();
        // Root entry, two items, then the nested list scanned: itself and `y`.
        assert_eq!(Discovery::of(&doc, 100).steps, 1 + 2 + 2);
        let doc = Document::parse("t.yaml", "a:\n  b: 1\nc: 2\n".to_owned()).unwrap();
        // Beyond the limit every top value is scanned: `a`'s mapping and its `1`, and `2`.
        assert_eq!(Discovery::of(&doc, -1).steps, 3);
    }

    #[test]
    fn skips_key_management_settings() {
        let d = discover("general_settings:\n  key_management_system: os.environ/KMS\n  master_key: os.environ/M\n");
        assert_eq!(d.references.len(), 1);
        assert_eq!(d.references[0].name, "M");
    }
}
