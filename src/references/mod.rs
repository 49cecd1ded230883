//! From a document to located references: what an `os.environ/` reference is (a located scalar
//! and the name LiteLLM derives from it), and LiteLLM's walk that finds them ([`Discovery`]).

mod key_name;
mod walk;

pub use key_name::KeyName;
pub use walk::{DEFAULT_MAX_DEPTH, Discovery, KEY_MANAGEMENT_KEYS, Notice, NoticeKind, POINTER_KEYS, Part, max_depth};

use crate::document::{NodeId, ScalarStyle};
use crate::error::{KeyError, ReferenceError};
use crate::location::Location;
use std::ops::Range;

/// The prefix that marks a reference. Case-sensitive, matched at the start of the whole value.
pub const PREFIX: &str = "os.environ/";

/// A reference LiteLLM would resolve, where it is and what it names.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Where the scalar starts.
    pub location: Location,
    /// The scalar exactly as written (with its quotes).
    pub written: String,
    /// The name looked up: the value with every `os.environ/` removed, as LiteLLM does.
    pub name: String,
    /// The scalar node (the anchor's node when reached through aliases).
    pub node: NodeId,
    /// Which of the config's files holds it: 0 is the config itself, then its `include:` files
    /// in the order LiteLLM reads them.
    pub source: usize,
    /// Byte range of the scalar in the source.
    pub span: Range<usize>,
    /// Byte range of its tag (`!!str`, `!`), if written with one. PyYAML drops the tag when it
    /// loads the value, so LiteLLM coerces a tagged value like any other; the renderer removes
    /// the tag so that the value it writes (`true`, `null`) means the same.
    pub tag_span: Option<Range<usize>>,
    /// Dotted path to the first place the reference was found, e.g. `model_list[0].litellm_params.api_key`.
    pub path: String,
    /// How the scalar was written.
    pub style: ScalarStyle,
}

impl Reference {
    /// The error for this reference, which could not be resolved because of `cause`: located
    /// where the reference is, showing it as written.
    pub fn error(&self, cause: KeyError) -> ReferenceError {
        ReferenceError {
            location: self.location.clone(),
            written: self.written.clone(),
            cause,
        }
    }
}

/// The name a reference value stands for, if the value is a reference.
///
/// LiteLLM does `value.replace("os.environ/", "")`, so every occurrence is removed, not only the
/// prefix; osenv does the same so the same key is looked up.
pub fn name_of(value: &str) -> Option<String> {
    let rest = value.strip_prefix(PREFIX)?;
    // The same as `value.replace(PREFIX, "")`: the first occurrence is the prefix, and a
    // second one is rare enough to check for first.
    Some(if rest.contains(PREFIX) {
        rest.replace(PREFIX, "")
    } else {
        rest.to_owned()
    })
}

/// The longest name osenv looks up.
pub const MAX_NAME_BYTES: usize = 1024;

/// Check that a name can be looked up at all. Control characters (also a newline from a block
/// scalar), empty and overlong names are refused before any backend sees them.
pub fn validate_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the name after `os.environ/` is empty");
    }
    if name.chars().any(|c| c.is_control() || c == '\u{a0}') {
        return Err("the name contains a control character");
    }
    if name.contains('=') {
        return Err("the name contains `=`, which no environment variable can");
    }
    // Longer than any secret manager's names (AWS: 512) and than any sane variable name.
    if name.len() > MAX_NAME_BYTES {
        return Err("the name is longer than 1024 bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_litellm() {
        assert_eq!(name_of("os.environ/OPENAI_API_KEY").as_deref(), Some("OPENAI_API_KEY"));
        assert_eq!(name_of("os.environ/a/os.environ/b").as_deref(), Some("a/b"));
        assert_eq!(name_of("Bearer os.environ/X"), None);
        assert_eq!(name_of("OS.ENVIRON/X"), None);
        assert_eq!(name_of("os.environ/").as_deref(), Some(""));
    }

    #[test]
    fn rejects_unusable_names() {
        assert!(validate_name("").is_err());
        assert!(validate_name("A\nB").is_err());
        assert!(validate_name("A=B").is_err());
        assert!(validate_name("app/db").is_ok());
    }
}
