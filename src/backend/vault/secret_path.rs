//! What a name means to Vault: a path, and optionally a field and a version.
//!
//! LiteLLM reads field `key` of the latest version. osenv lets a reference pick another field
//! with `#field` and a version with `@N` before it: `os.environ/app/db@3#password`. Both stay
//! inside the name LiteLLM passes through, and neither character can be part of a path that
//! LiteLLM could read (it puts the name into the URL unencoded, where `#` starts a fragment).
//! Names are checked before any request: no `..` or `.` segment, no empty segment, no control
//! or non-breaking-space character (LiteLLM's `raise_if_unsafe_secret_name`, plus empty segments).

use crate::backend::transport::http::encode_segment;

/// A parsed Vault reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretPath {
    /// Path segments under the mount (and prefix), without empty segments.
    pub segments: Vec<String>,
    /// The field within the secret's data, when the name selects one.
    pub field: Option<String>,
    /// A pinned version (KV v2).
    pub version: Option<u64>,
}

impl SecretPath {
    /// Parse and check a name.
    pub fn parse(name: &str) -> Result<Self, &'static str> {
        if name.chars().any(|c| c.is_control() || c == '\u{a0}') {
            return Err("a Vault path cannot contain control or non-breaking-space characters");
        }
        let (rest, field) = match name.rsplit_once('#') {
            Some((_, "")) => return Err("`#` must be followed by a field name"),
            Some((rest, field)) => (rest, Some(field.to_owned())),
            None => (name, None),
        };
        let (path, version) = match rest.rsplit_once('@') {
            Some((path, v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                let version = v.parse::<u64>().map_err(|_| "the version after `@` is too large")?;
                if version == 0 {
                    return Err("Vault versions start at 1");
                }
                (path, Some(version))
            }
            _ => (rest, None),
        };
        let trimmed = path.trim_matches('/');
        if trimmed.is_empty() {
            return Err("the Vault path is empty");
        }
        let mut segments = Vec::new();
        for segment in trimmed.split('/') {
            match segment {
                "" => return Err("a Vault path cannot contain an empty segment (`//`)"),
                "." | ".." => return Err("a Vault path cannot contain `.` or `..` segments"),
                s => segments.push(s.to_owned()),
            }
        }
        Ok(Self {
            segments,
            field,
            version,
        })
    }

    /// The segments, percent-encoded for a URL path and joined with `/`.
    pub fn encoded(&self) -> String {
        self.segments
            .iter()
            .map(|s| encode_segment(s))
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// A settings value (mount, prefix, namespace, role) as path segments: whitespace and
/// surrounding `/` stripped, as LiteLLM does; `None` when nothing is left. A `.` or `..`
/// segment, an empty one (`a//b`) or a control character is an error naming `setting`, before
/// any request: the URL library would resolve `..` and send the request (and a login's
/// credential) to another path of Vault, such as `sys/`.
pub fn clean_component(setting: &'static str, value: &str) -> Result<Option<String>, PathProblem> {
    let v = value.trim().trim_matches('/').trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().any(char::is_control) {
        return Err(PathProblem::Control { setting });
    }
    let mut segments = Vec::new();
    for segment in v.split('/') {
        match segment {
            "" => {
                return Err(PathProblem::EmptySegment {
                    setting,
                    value: v.to_owned(),
                });
            }
            "." | ".." => {
                return Err(PathProblem::DotSegment {
                    setting,
                    value: v.to_owned(),
                    dots: if segment == "." { "." } else { ".." },
                });
            }
            s => segments.push(encode_segment(s)),
        }
    }
    Ok(Some(segments.join("/")))
}

/// A setting that is not a plain path of segments (shown as it was set: it is the operator's
/// own, or an env file's under `--trust-env-files`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    /// A control character.
    #[error("{setting} cannot contain control characters")]
    Control {
        /// The setting.
        setting: &'static str,
    },
    /// `a//b`.
    #[error("{setting} `{value}` has an empty segment (`//`)")]
    EmptySegment {
        /// The setting.
        setting: &'static str,
        /// Its value, trimmed.
        value: String,
    },
    /// `.` or `..`, which the URL library would resolve into another path of Vault.
    #[error("{setting} `{value}` has a `{dots}` segment; write the path itself")]
    DotSegment {
        /// The setting.
        setting: &'static str,
        /// Its value, trimmed.
        value: String,
        /// `.` or `..`.
        dots: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fields_and_versions() {
        let p = SecretPath::parse("app/db@3#password").unwrap();
        assert_eq!(
            (p.encoded(), p.field.as_deref(), p.version),
            ("app/db".into(), Some("password"), Some(3))
        );
        let p = SecretPath::parse("/OPENAI_API_KEY/").unwrap();
        assert_eq!((p.encoded(), p.field, p.version), ("OPENAI_API_KEY".into(), None, None));
        let p = SecretPath::parse("user@example.com").unwrap();
        assert_eq!(p.encoded(), "user%40example.com");
        assert_eq!(SecretPath::parse("a b/c?d").unwrap().encoded(), "a%20b/c%3Fd");
    }

    #[test]
    fn unsafe_names_are_rejected() {
        for bad in [
            "../etc", "a/../b", "a/./b", "a//b", "a\nb", "a\u{a0}b", "x#", "/", "a@0",
        ] {
            assert!(SecretPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn components_are_trimmed() {
        assert_eq!(clean_component("M", " /team1/ "), Ok(Some("team1".into())));
        assert_eq!(clean_component("M", "a/b"), Ok(Some("a/b".into())));
        assert_eq!(clean_component("M", " / "), Ok(None));
        for bad in ["../../sys/evil", "a/./b", "a//b", "..", "a\nb"] {
            let err = clean_component("HCP_VAULT_K8S_MOUNT_PATH", bad)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("HCP_VAULT_K8S_MOUNT_PATH"), "{bad}: {err}");
        }
    }
}
