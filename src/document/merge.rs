//! Merge keys as PyYAML 6.0.4 (LiteLLM's loader) builds them (`SafeConstructor.flatten_mapping`).
//!
//! A key tagged `tag:yaml.org,2002:merge` merges: a plain `<<`, `<<` under the non-specific tag
//! `!` (in any style), or anything tagged `!!merge`. Its value must be a mapping or a list of
//! mappings, else the config does not load. The merged pairs come first, in order (a merged
//! mapping's own merges before its own keys), and the mapping's own keys after them, so its own
//! keys win. Among merged pairs PyYAML skips a pair whose key *string object* it has seen
//! (`id(key.value)`): the same node reached twice (an alias), and, because CPython shares them,
//! any empty or one-character (Latin-1) key. So for a key like `ab` the **last** merged mapping
//! that has it wins, for `a` the first.

use super::{Document, Entry, NodeId, NodeKind, ScalarStyle};
use crate::error::ConfigError;

/// `tag:yaml.org,2002:merge`.
const MERGE_TAG: &str = "tag:yaml.org,2002:merge";

/// Merges nest only as deep as anchors were defined; this bounds a hostile file.
const MAX_DEPTH: usize = 64;

impl Document {
    /// Whether `key` is a merge key to PyYAML (through an alias: the same node).
    pub fn is_merge_key(&self, key: NodeId) -> bool {
        let key = self.resolve_alias(key);
        let NodeKind::Scalar { style } = self.node(key).kind else {
            return false;
        };
        match self.tag(key) {
            Some(MERGE_TAG) => true,
            None => style == ScalarStyle::Plain && self.scalar(key) == Some("<<"),
            Some("!") => self.scalar(key).map(super::parse::form) == Some("<<"),
            Some(_) => false,
        }
    }

    /// What PyYAML tells merged keys apart by (`id(key.value)`): the key's node (an alias is
    /// its anchor's), except that an empty or one-character Latin-1 text is one object however
    /// often it is written.
    fn identity(&self, key: NodeId) -> (NodeId, &str) {
        let key = self.resolve_alias(key);
        let text = self.scalar(key).unwrap_or_default();
        if text.chars().count() <= 1 && text.chars().all(|c| u32::from(c) < 256) {
            (usize::MAX, text)
        } else {
            (key, "")
        }
    }

    /// The value of `key` in mapping `id` as PyYAML builds the mapping: its own entry, else the
    /// merged entry that wins ([`self`]).
    pub fn get_merged(&self, id: NodeId, key: &str) -> Option<Entry> {
        if let Some(own) = self.get(id, key) {
            return Some(own);
        }
        // The first pair of each key object is kept; of those, the last wins (the dict's).
        // Each merged mapping is visited once, so this is bounded by the document.
        let mut pairs = Vec::new();
        let mut visited = std::collections::HashSet::new();
        let mut unbounded = usize::MAX;
        for merge in self
            .entries(id)
            .unwrap_or_default()
            .iter()
            .filter(|e| self.is_merge_key(e.key))
        {
            self.collect(merge.value, 0, &mut visited, &mut pairs, &mut unbounded)?;
        }
        let mut seen = std::collections::HashSet::new();
        let mut found = None;
        for entry in pairs.into_iter().filter(|e| self.string(e.key) == Some(key)) {
            if seen.insert(self.identity(entry.key)) {
                found = Some(entry);
            }
        }
        found
    }

    /// The entries of mapping `id` (through aliases) as PyYAML's `dict` of it holds them, merges
    /// worked out ([`Document::effective_entries`] with a budget of its own); `None` for a node
    /// that is no mapping or a merge bomb.
    pub fn merged_entries(&self, id: NodeId) -> Option<Vec<Entry>> {
        let own = self.entries(self.resolve_alias(id))?;
        self.effective_entries(own, &mut 1_000_000)
    }

    /// The entries of a mapping whose entries are `own`, as PyYAML's `dict` of it holds them:
    /// the winning merged entries (in the order PyYAML first inserts their keys), then its own
    /// (which win). `None` when working it out would take more than `budget` steps (a merge
    /// bomb); the budget is shared by every mapping of a walk.
    pub fn effective_entries(&self, own: &[Entry], budget: &mut usize) -> Option<Vec<Entry>> {
        let mut merged = Vec::new();
        let mut visited = std::collections::HashSet::new();
        for merge in own.iter().filter(|e| self.is_merge_key(e.key)) {
            self.collect(merge.value, 0, &mut visited, &mut merged, budget)?;
        }
        // A key as the dict tells keys apart: a string by its text, anything else by its
        // scalar text (rare as a key).
        let key = |e: &Entry| match self.string(e.key) {
            Some(text) => (true, text),
            None => (false, self.scalar(e.key).unwrap_or_default()),
        };
        let mine: Vec<Entry> = own.iter().copied().filter(|e| !self.is_merge_key(e.key)).collect();
        let shadowed: std::collections::HashSet<(bool, &str)> = mine.iter().map(key).collect();
        let mut order: Vec<(bool, &str)> = Vec::new();
        let mut winners: std::collections::HashMap<(bool, &str), Entry> = std::collections::HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for entry in merged {
            // A key object seen before is skipped (flatten_mapping), then the dict keeps the last.
            if !seen.insert(self.identity(entry.key)) {
                continue;
            }
            let k = key(&entry);
            if shadowed.contains(&k) {
                continue;
            }
            if winners.insert(k, entry).is_none() {
                order.push(k);
            }
        }
        let mut entries: Vec<Entry> = order.iter().map(|k| winners[k]).collect();
        entries.extend(mine);
        Some(entries)
    }

    /// The pairs merging `value` brings, in PyYAML's order (a source's own merges before its
    /// own keys); a source reached again brings nothing new.
    fn collect(
        &self,
        value: NodeId,
        depth: usize,
        visited: &mut std::collections::HashSet<NodeId>,
        out: &mut Vec<Entry>,
        budget: &mut usize,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return Some(());
        }
        let target = self.resolve_alias(value);
        let sources: Vec<NodeId> = match self.node(target).kind {
            NodeKind::Mapping { .. } => vec![target],
            NodeKind::Sequence { .. } => self
                .items(target)
                .unwrap_or_default()
                .iter()
                .map(|&m| self.resolve_alias(m))
                .collect(),
            _ => Vec::new(),
        };
        for source in sources {
            if !visited.insert(source) {
                continue;
            }
            let entries = self.entries(source).unwrap_or_default();
            *budget = budget.checked_sub(entries.len() + 1)?;
            for merge in entries.iter().filter(|e| self.is_merge_key(e.key)) {
                self.collect(merge.value, depth + 1, visited, out, budget)?;
            }
            out.extend(entries.iter().copied().filter(|e| !self.is_merge_key(e.key)));
        }
        Some(())
    }

    /// Merge keys whose value PyYAML cannot merge: not a mapping or a list of mappings.
    pub(super) fn merge_refusals(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for id in 0..self.len() {
            if !matches!(self.node(id).kind, NodeKind::Mapping { .. }) {
                continue;
            }
            for merge in self
                .entries(id)
                .unwrap_or_default()
                .iter()
                .filter(|e| self.is_merge_key(e.key))
            {
                let target = self.resolve_alias(merge.value);
                let bad = match self.node(target).kind {
                    NodeKind::Mapping { .. } => None,
                    NodeKind::Sequence { .. } => self
                        .items(target)
                        .unwrap_or_default()
                        .iter()
                        .find(|&&m| !matches!(self.node(self.resolve_alias(m)).kind, NodeKind::Mapping { .. }))
                        .map(|&m| (m, "a list to merge holds something other than a mapping")),
                    _ => Some((merge.value, "a merge key (`<<`) takes a mapping or a list of mappings")),
                };
                if let Some((at, reason)) = bad {
                    errors.push(ConfigError::Unloadable {
                        location: self.location(at),
                        reason: reason.into(),
                    });
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(text: &str, mapping: &str, key: &str) -> Option<String> {
        let doc = Document::parse("t.yaml", text.to_owned()).unwrap();
        let m = doc.get(doc.root(), mapping).unwrap().value;
        doc.get_merged(m, key)
            .and_then(|e| doc.scalar(e.value).map(str::to_owned))
    }

    /// Each as PyYAML 6.0.4's `safe_load` reads it (LiteLLM's pinned loader).
    #[test]
    fn the_winner_is_pyyamls() {
        assert_eq!(merged("m: {<<: [{ab: 1}, {ab: 2}]}\n", "m", "ab").as_deref(), Some("2"));
        assert_eq!(merged("m: {<<: [{a: 1}, {a: 2}]}\n", "m", "a").as_deref(), Some("1"));
        assert_eq!(
            merged("m: {<<: [{ab: 1}, {ab: 2}], ab: 3}\n", "m", "ab").as_deref(),
            Some("3")
        );
        assert_eq!(
            merged("x: &x {ab: 1}\ny: &y {ab: 2}\nm: {<<: [*x, *y, *x]}\n", "m", "ab").as_deref(),
            Some("2")
        );
        assert_eq!(
            merged(
                "b: &b {kx: 1}\nc: &c {<<: *b, kk: 2}\nm: {<<: [*c, {kx: 3}]}\n",
                "m",
                "kx"
            )
            .as_deref(),
            Some("3")
        );
        assert_eq!(
            merged("b: &b {k: 1}\nc: &c {<<: *b, kk: 2}\nm: {<<: [*c, {k: 3}]}\n", "m", "k").as_deref(),
            Some("1")
        );
        assert_eq!(
            merged("b: &b {kx: 1}\nm: {<<: [*b, {kx: 3}, *b]}\n", "m", "kx").as_deref(),
            Some("3")
        );
        assert_eq!(merged("m:\n  ! <<: {ab: 1}\n", "m", "ab").as_deref(), Some("1"));
        assert_eq!(merged("m:\n  !!merge x: {ab: 1}\n", "m", "ab").as_deref(), Some("1"));
        assert_eq!(merged("m:\n  '<<': {ab: 1}\n", "m", "ab"), None);
        // The adversary review: an aliased key is one key object (the first wins), and `!`
        // reads `<<` before a final line break as a merge key, an alias to one too.
        assert_eq!(
            merged("m:\n  <<: [{&k master_key: a}, {*k : b}]\n", "m", "master_key").as_deref(),
            Some("a")
        );
        assert_eq!(merged("m:\n  ! \"<<\\n\": {ab: 1}\n", "m", "ab").as_deref(), Some("1"));
        assert_eq!(
            merged("x: {&m <<: {a: 1}}\nm:\n  *m : {ab: 2}\n", "m", "ab").as_deref(),
            Some("2")
        );
    }

    /// What PyYAML's dict holds for `m`, as `key=value` in its order.
    fn effective(text: &str) -> Vec<String> {
        let doc = Document::parse("t.yaml", text.to_owned()).unwrap();
        let m = doc.get(doc.root(), "m").unwrap().value;
        let mut budget = 1000;
        doc.effective_entries(doc.entries(m).unwrap(), &mut budget)
            .unwrap()
            .iter()
            .map(|e| format!("{}={}", doc.scalar(e.key).unwrap(), doc.scalar(e.value).unwrap()))
            .collect()
    }

    #[test]
    fn the_effective_entries_are_the_dicts() {
        // {'kx': 3, 'a': 1, 'b': 5}, {'kx': 1, 'kk': 2}: each as PyYAML 6.0.4 builds it.
        assert_eq!(
            effective("m: {<<: [{kx: 1, a: 1}, {kx: 2, a: 2}], kx: 3, b: 5}\n"),
            ["a=1", "kx=3", "b=5"]
        );
        assert_eq!(effective("m: {<<: [{kx: 1, a: 1}, {kx: 2, a: 2}]}\n"), ["kx=2", "a=1"]);
        let doc = Document::parse("t.yaml", "a: &a {k: 1}\nm: {<<: [*a, *a, *a]}\n".to_owned()).unwrap();
        let m = doc.get(doc.root(), "m").unwrap().value;
        assert!(
            doc.effective_entries(doc.entries(m).unwrap(), &mut 1).is_none(),
            "over the budget"
        );
    }

    #[test]
    fn what_cannot_be_merged_does_not_load() {
        for text in [
            "m: {<<: 1}\n",
            "m: {<<: [{a: 1}, 2]}\n",
            "l: &l [1]\nm: {<<: *l}\n",
            "m: {<<: os.environ/X}\n",
        ] {
            assert!(Document::parse("t.yaml", text.to_owned()).is_err(), "{text}");
        }
        assert!(Document::parse("t.yaml", "m: {<<: [], a: 1}\n".to_owned()).is_ok());
    }
}
