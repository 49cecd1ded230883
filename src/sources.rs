//! The config and the files its `include:` names, merged the way LiteLLM merges them
//! (`litellm/proxy/common_utils/config_includes.py`, before any reference is resolved):
//!
//! - `include` is a top-level list of paths (anything else is an error), each relative to the
//!   file that declares it; a path not found there but found next to the root config is read
//!   from there, as LiteLLM does (it warns; so does osenv);
//! - files are read breadth-first (an included file's own includes are queued after the ones
//!   already pending), and a file already read is not read or merged again, so a cycle ends;
//! - the merge is shallow: for each top-level key, a list value extends the list before it and
//!   any other value replaces it; keys keep their first position.
//!
//! One rule is osenv's own: an included file must be below the root config's directory (LiteLLM
//! reads any path), so a config cannot choose which files of the machine end up in the output.
//! The kernel enforces it ([`input::beneath`]): `..`, an absolute path and a symlink that leads
//! out are refused alike, a FIFO or a hung mount is an error within `--deadline`.
//!
//! osenv keeps each file as its own [`Document`] and records which top-level entries of which
//! file make up each merged key, so errors name the included file and line, and the renderer can
//! write one self-contained config.

use crate::document::{Document, Entry, NodeKind};
use crate::error::{ConfigError, Error};
use crate::input::{self, beneath};
use crate::location::Location;
use crate::references::Part;
use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// LiteLLM's include key.
pub const INCLUDE_KEY: &str = "include";

/// At most this many included files: far more than any real config, few enough that a hostile
/// one cannot make osenv read a directory tree.
pub const MAX_INCLUDED_FILES: usize = 256;

/// One top-level key of the merged config and the entries it is made of, in merge order:
/// one entry (the last file that set it), or several sequences that LiteLLM concatenates.
#[derive(Debug, Clone)]
pub struct MergedKey {
    /// The key.
    pub key: String,
    /// `(file, entry)`: the file's index in [`Sources::documents`] and its top-level entry.
    pub parts: Vec<(usize, Entry)>,
}

/// The config file and its includes.
#[derive(Debug, Clone)]
pub struct Sources {
    documents: Vec<Document>,
    merged: Vec<MergedKey>,
    /// Warnings about how includes were found (LiteLLM logs the same).
    pub warnings: Vec<String>,
}

impl Sources {
    /// A config without includes to follow (a string, a test, stdin without a directory).
    pub fn single(doc: Document) -> Self {
        let merged = merge(std::slice::from_ref(&doc));
        Self {
            documents: vec![doc],
            merged,
            warnings: Vec::new(),
        }
    }

    /// `root`, read from `path`, with every file its `include:` names (relative to `path`'s
    /// directory; for stdin, the working directory). Each included file is read through the
    /// one opener ([`input::beneath`]) beneath the config's directory, within `timeout`.
    pub fn load(root: Document, path: &Path, timeout: Duration) -> Result<Self, Error> {
        let root_path = if path == Path::new("-") || input::is_pipe(path) {
            std::env::current_dir().unwrap_or_default().join("<stdin>")
        } else {
            std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
        };
        // The config may name files below its own directory, never elsewhere on the machine: a
        // config from a pull request must not pull `~/.kube/config` into a rendered artifact,
        // whether by `..`, an absolute path or a symlink committed next to it.
        let root_dir = normalize(root_path.parent().unwrap_or(Path::new("/")));
        let root_name = PathBuf::from(root_path.file_name().unwrap_or_default());
        let mut documents = vec![root];
        // Each file's path relative to `root_dir`.
        let mut paths = vec![root_name.clone()];
        let mut loaded: HashSet<PathBuf> = HashSet::from([root_name.clone()]);
        let mut pending: VecDeque<(String, usize, Location)> = entries(&documents[0]).map_err(Error::Config)?.into();
        at_the_filesystem_root(&root_dir, pending.front().map(|(_, _, at)| at))?;
        let mut warnings = Vec::new();
        // One size cap for the config and all its includes together: a file reached through
        // many links inside the directory is read once per link, each under the per-file cap.
        let mut budget = input::MAX_INPUT_BYTES.saturating_sub(documents[0].text().len() as u64);
        let exists = |relative: &Option<PathBuf>| {
            relative
                .as_deref()
                .is_some_and(|r| beneath::exists(&root_dir, r, timeout))
        };
        while let Some((entry, declared_in, at)) = pending.pop_front() {
            let join = |file: &Path| beneath::lexically_beneath(&file.parent().unwrap_or(Path::new("")).join(&entry));
            let (declared, rooted) = (join(&paths[declared_in]), join(&root_name));
            // LiteLLM's `resolve_include_file_path`: next to the declaring file, unless only the
            // one next to the root config exists.
            let shown = |r: &Option<PathBuf>| match r {
                Some(r) => root_dir.join(r),
                None => normalize(
                    &root_dir
                        .join(paths[declared_in].parent().unwrap_or(Path::new("")))
                        .join(&entry),
                ),
            };
            let relative = if declared == rooted || !exists(&rooted) {
                declared
            } else if exists(&declared) {
                warnings.push(format!(
                    "include `{entry}` declared in {} matches two files; {} was read and {} skipped (as LiteLLM does)",
                    root_dir.join(&paths[declared_in]).display(),
                    shown(&declared).display(),
                    shown(&rooted).display()
                ));
                declared
            } else {
                warnings.push(format!(
                    "include `{entry}` declared in {} was not found next to it, so {} was read instead (as LiteLLM does)",
                    root_dir.join(&paths[declared_in]).display(),
                    shown(&rooted).display()
                ));
                rooted
            };
            let location = shown(&relative);
            let outside = || {
                include_error(
                    at.clone(),
                    format!(
                        "`{entry}` is {}, outside the config's directory {}; osenv reads included files only below it",
                        location.display(),
                        root_dir.display()
                    ),
                )
            };
            let Some(relative) = relative else {
                return Err(outside());
            };
            if !loaded.insert(relative.clone()) {
                continue;
            }
            if documents.len() > MAX_INCLUDED_FILES {
                return Err(include_error(
                    at,
                    format!("more than {MAX_INCLUDED_FILES} included files"),
                ));
            }
            let doc = read_include(&root_dir, &relative, &entry, &at, timeout, &mut budget)?;
            let index = documents.len();
            pending.extend(
                entries(&doc)
                    .map_err(Error::Config)?
                    .into_iter()
                    .map(|(e, _, loc)| (e, index, loc)),
            );
            documents.push(doc);
            paths.push(relative);
        }
        if documents.len() > 1 {
            check_mergeable(&documents).map_err(Error::Config)?;
        }
        let merged = merge(&documents);
        Ok(Self {
            documents,
            merged,
            warnings,
        })
    }

    /// The config itself.
    pub fn root(&self) -> &Document {
        &self.documents[0]
    }

    /// Every file: the config, then its includes in the order LiteLLM reads them.
    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    /// The merged top-level keys, in LiteLLM's order.
    pub fn merged(&self) -> &[MergedKey] {
        &self.merged
    }

    /// The config has an `include` key (which the rendered config does not keep: its files are
    /// merged into it).
    pub fn has_includes(&self) -> bool {
        self.documents.len() > 1 || self.root().get_merged(self.root().root(), INCLUDE_KEY).is_some()
    }

    /// The parts of each file that the merged config keeps, for the reference walk.
    pub fn parts(&self) -> Vec<Part<'_>> {
        let mut parts: Vec<Part<'_>> = self
            .documents
            .iter()
            .enumerate()
            .map(|(source, doc)| Part {
                doc,
                source,
                entries: Vec::new(),
            })
            .collect();
        for key in &self.merged {
            for &(source, entry) in &key.parts {
                parts[source].entries.push(entry);
            }
        }
        parts
    }

    /// The top-level entries the merge drops (a later file set the key). LiteLLM still loads
    /// them with PyYAML, so what PyYAML cannot construct there fails the load all the same.
    pub fn dropped_parts(&self) -> Vec<Part<'_>> {
        let kept: HashSet<(usize, usize)> = self
            .merged
            .iter()
            .flat_map(|k| k.parts.iter().map(|&(source, e)| (source, e.key)))
            .collect();
        self.documents
            .iter()
            .enumerate()
            .map(|(source, doc)| Part {
                doc,
                source,
                entries: doc
                    .entries(doc.root())
                    .unwrap_or_default()
                    .iter()
                    .copied()
                    .filter(|e| !kept.contains(&(source, e.key)))
                    .collect(),
            })
            .filter(|p| !p.entries.is_empty())
            .collect()
    }

    /// The file whose `general_settings` LiteLLM uses (the last one to set it; the config
    /// itself when none does).
    pub fn settings_document(&self) -> &Document {
        &self.documents[self.settings_source()]
    }

    /// The index of [`Self::settings_document`].
    pub fn settings_source(&self) -> usize {
        self.merged
            .iter()
            .find(|k| k.key == "general_settings")
            .and_then(|k| k.parts.last())
            .map_or(0, |&(source, _)| source)
    }
}

/// Below `/` is every file of the machine (a container's default working directory for a config
/// on stdin, or `/config.yaml`): the confinement would confine nothing, so such a config cannot
/// include (`first` is its first include entry).
fn at_the_filesystem_root(root_dir: &Path, first: Option<&Location>) -> Result<(), Error> {
    match first {
        Some(at) if root_dir.parent().is_none() => Err(include_error(
            at.clone(),
            format!(
                "the config's directory is {}, and osenv reads included files only below the config's directory; put the config in a directory of its own",
                root_dir.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// One included file, read through the one opener beneath the config's directory and parsed;
/// every refusal is an error at the include entry that named it.
fn read_include(
    root_dir: &Path,
    relative: &Path,
    entry: &str,
    at: &Location,
    timeout: Duration,
    budget: &mut u64,
) -> Result<Document, Error> {
    let location = root_dir.join(relative);
    let bytes = match beneath::read(root_dir, relative, timeout) {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => {
            return Err(include_error(
                at.clone(),
                format!("Included file not found: {}", location.display()),
            ));
        }
        Err(beneath::Refusal::Escapes { .. }) => {
            return Err(include_error(
                at.clone(),
                format!(
                    "`{entry}` is {}, a link that leads outside the config's directory {}; osenv reads included files only below it",
                    location.display(),
                    root_dir.display()
                ),
            ));
        }
        Err(e) => {
            return Err(include_error(
                at.clone(),
                format!("cannot read `{entry}` ({}): {e}", location.display()),
            ));
        }
    };
    let Some(left) = budget.checked_sub(bytes.len() as u64) else {
        return Err(include_error(
            at.clone(),
            format!(
                "with `{entry}`, the config and its includes are larger than {} MiB together, the most osenv reads",
                input::MAX_INPUT_BYTES >> 20
            ),
        ));
    };
    *budget = left;
    let text = input::decode(&location, bytes.to_vec())?;
    drop(bytes);
    let shown = input::display_name(&relative_to_cwd(&location));
    Document::parse(shown, text).map_err(|errors| {
        let not_a_mapping = errors
            .iter()
            .any(|e| matches!(e, ConfigError::Empty { .. } | ConfigError::NotAMapping { .. }));
        if not_a_mapping {
            include_error(
                at.clone(),
                format!("Included config file is not a YAML mapping: {}", location.display()),
            )
        } else {
            Error::Config(errors)
        }
    })
}

fn include_error(location: Location, reason: String) -> Error {
    Error::Config(vec![ConfigError::Include { location, reason }])
}

/// A path as messages show it: relative to the working directory when it is inside it.
fn relative_to_cwd(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_owned))
        .unwrap_or_else(|| path.to_owned())
}

/// `os.path.abspath`: `.` and `..` removed lexically, symlinks left alone.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The `include` entries of `doc`, with where each is written.
fn entries(doc: &Document) -> Result<Vec<(String, usize, Location)>, Vec<ConfigError>> {
    // As LiteLLM's `config.get("include")` finds it: a root `<<` merge can bring it.
    let Some(entry) = doc.get_merged(doc.root(), INCLUDE_KEY) else {
        return Ok(Vec::new());
    };
    let bad = || {
        vec![ConfigError::Include {
            location: doc.location(entry.key),
            reason: "'include' must be a list of file paths".into(),
        }]
    };
    let items = doc.items(entry.value).ok_or_else(bad)?;
    items
        .iter()
        .map(|&item| {
            doc.string(item)
                .map(|path| (path.to_owned(), 0, doc.location(item)))
                .ok_or_else(bad)
        })
        .collect()
}

/// What osenv needs to merge files as text: block-mapping roots without top-level `<<`
/// merges (PyYAML would merge those first), whose keys are strings.
fn check_mergeable(documents: &[Document]) -> Result<(), Vec<ConfigError>> {
    let mut errors = Vec::new();
    for doc in documents {
        let root = doc.root();
        if matches!(doc.node(root).kind, NodeKind::Mapping { flow: true }) {
            errors.push(ConfigError::Include {
                location: doc.location(root),
                reason: "osenv follows `include:` only between configs written as block mappings, not `{...}`".into(),
            });
        }
        for e in doc.entries(root).unwrap_or_default() {
            if doc.is_merge_key(e.key) {
                errors.push(ConfigError::Include {
                    location: doc.location(e.key),
                    reason: "a top-level `<<` merge in a config with `include:` is not supported; write the keys out"
                        .into(),
                });
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// LiteLLM's `_merged`, applied in order: the entries each merged key is made of.
fn merge(documents: &[Document]) -> Vec<MergedKey> {
    let mut merged: Vec<MergedKey> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (source, doc) in documents.iter().enumerate() {
        for &entry in doc.entries(doc.root()).unwrap_or_default() {
            let Some(key) = doc.scalar(entry.key) else {
                continue;
            };
            if source > 0 && doc.string(entry.key) == Some(INCLUDE_KEY) {
                continue;
            }
            let is_list = |(s, e): (usize, Entry)| {
                let d = &documents[s];
                matches!(d.node(d.resolve_alias(e.value)).kind, NodeKind::Sequence { .. })
            };
            match index.get(key) {
                None => {
                    index.insert(key.to_owned(), merged.len());
                    merged.push(MergedKey {
                        key: key.to_owned(),
                        parts: vec![(source, entry)],
                    });
                }
                Some(&at) => {
                    let parts = &mut merged[at].parts;
                    let extends = is_list((source, entry)) && parts.last().is_some_and(|&p| is_list(p));
                    if !extends {
                        parts.clear();
                    }
                    parts.push((source, entry));
                }
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    fn load(dir: &Path, name: &str) -> Result<Sources, Error> {
        let path = dir.join(name);
        let doc = Document::parse(name, std::fs::read_to_string(&path).unwrap()).map_err(Error::Config)?;
        Sources::load(doc, &path, Duration::from_secs(5))
    }

    #[test]
    fn merges_as_litellm_does() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "config.yaml",
                    "include: [a.yaml, sub/b.yaml]\nmodel_list: [{m: 1}]\nx: root\n",
                ),
                ("a.yaml", "model_list: [{m: 2}]\nx: a\nnew: 1\n"),
                ("sub/b.yaml", "include: [c.yaml]\nmodel_list: [{m: 3}]\n"),
                ("sub/c.yaml", "include: [../config.yaml]\nx: c\n"),
            ],
        );
        let s = load(dir.path(), "config.yaml").unwrap();
        assert_eq!(s.documents().len(), 4, "a cycle back to the root is read once");
        let keys: Vec<_> = s
            .merged()
            .iter()
            .map(|k| (k.key.as_str(), k.parts.iter().map(|p| p.0).collect::<Vec<_>>()))
            .collect();
        assert_eq!(
            keys,
            [
                ("include", vec![0]),
                ("model_list", vec![0, 1, 2]),
                ("x", vec![3]),
                ("new", vec![1])
            ]
        );
    }

    #[test]
    fn errors_name_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("missing.yaml", "a: 1\ninclude:\n  - nope.yaml\n"),
                ("notlist.yaml", "include: nope.yaml\n"),
                ("outside.yaml", "include: [../elsewhere.yaml]\n"),
                ("absolute.yaml", "include: [/etc/hostname]\n"),
                ("number.yaml", "include: [1]\n"),
                ("scalar.yaml", "include: [s.yaml]\n"),
                ("s.yaml", "just text\n"),
            ],
        );
        let err = |name| load(dir.path(), name).unwrap_err().to_string();
        assert!(
            err("missing.yaml").starts_with("missing.yaml:3:5: Included file not found: "),
            "{}",
            err("missing.yaml")
        );
        assert!(err("notlist.yaml").contains("'include' must be a list of file paths"));
        assert!(err("number.yaml").contains("'include' must be a list of file paths"));
        assert!(
            err("outside.yaml").contains("outside the config's directory"),
            "{}",
            err("outside.yaml")
        );
        assert!(
            err("absolute.yaml").contains("outside the config's directory"),
            "{}",
            err("absolute.yaml")
        );
        assert!(err("scalar.yaml").contains("Included config file is not a YAML mapping"));
    }
}
