//! The run's input: the process environment plus `--env-file` dotenv files.
//!
//! Everything above reads it: the settings resolve their `os.environ/` values here, the
//! backends read their configuration variables here, and names that no manager serves are
//! looked up here. It sits below all of them and knows none of them.
//!
//! The process environment wins over files, and a later file wins over an earlier one, which is
//! how dotenv loaders and `docker compose` treat an `.env` file: an explicit variable in the
//! shell is never silently replaced by a file.

mod dotenv;

pub use dotenv::DotenvFile;

use crate::error::{KeyError, Place, Within};
use crate::secret::SecretValue;
use rustc_hash::FxHashMap as HashMap;
use std::ffi::OsString;
use std::sync::Arc;

/// Where a local value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The process environment.
    Process,
    /// A dotenv file and line.
    File {
        /// The file as the user named it.
        path: Arc<str>,
        /// The line that set it.
        line: usize,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Process => f.write_str("process environment"),
            Self::File { path, line } => write!(f, "{path}:{line}"),
        }
    }
}

/// The process environment (a snapshot) and dotenv files.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    process: HashMap<OsString, OsString>,
    files: Vec<DotenvFile>,
}

impl Environment {
    /// A snapshot of this process's environment, plus `files` (later wins).
    pub fn from_process(files: Vec<DotenvFile>) -> Self {
        Self::new(std::env::vars_os(), files)
    }

    /// An environment made of the given variables plus `files`; tests use this to stay hermetic.
    pub fn new(
        process: impl IntoIterator<Item = (impl Into<OsString>, impl Into<OsString>)>,
        files: Vec<DotenvFile>,
    ) -> Self {
        Self {
            process: process.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            files,
        }
    }

    /// Add a file after the others (it wins over them, not over the process).
    pub fn add_file(&mut self, file: DotenvFile) {
        self.files.push(file);
    }

    /// Every variable name set in the process or a file, sorted and unique.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .process
            .keys()
            .filter_map(|k| k.to_str().map(str::to_owned))
            .chain(self.files.iter().flat_map(|f| f.names().map(str::to_owned)))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Look `name` up: the process first, then the files from last to first.
    pub fn lookup(&self, name: &str) -> Option<(Result<SecretValue, KeyError>, Origin)> {
        if let Some(v) = self.process.get(std::ffi::OsStr::new(name)) {
            let value = v.to_str().map(SecretValue::new).ok_or_else(|| KeyError::InvalidValue {
                within: Within::backend("the process environment"),
                reason: "the value is not valid UTF-8".into(),
            });
            return Some((value, Origin::Process));
        }
        self.files.iter().rev().find_map(|f| {
            f.get(name).map(|(v, line)| {
                (
                    Ok(v.clone()),
                    Origin::File {
                        path: Arc::clone(f.path()),
                        line,
                    },
                )
            })
        })
    }

    /// The ciphertext a KMS backend (`system`, described as `backend`) decrypts: the value of
    /// environment variable `variable`, and how errors about that value name where it came from.
    #[cfg_attr(not(any(feature = "aws", feature = "gcp")), allow(dead_code))]
    pub(crate) fn ciphertext(
        &self,
        variable: &str,
        system: &'static str,
        backend: &str,
    ) -> Result<(SecretValue, Within), KeyError> {
        let Some((raw, origin)) = self.lookup(variable) else {
            return Err(KeyError::NotFound {
                within: Within::backend(self.describe()).at(Place::CiphertextVariable {
                    system,
                    variable: variable.to_owned(),
                }),
            });
        };
        let within = Within::backend(backend).at(Place::Ciphertext {
            variable: variable.to_owned(),
            origin: origin.to_string(),
        });
        Ok((raw?, within))
    }

    /// A configuration variable (an address, a region, a file name; not a secret): trimmed, and
    /// `None` when unset or blank.
    pub fn setting(&self, name: &str) -> Option<String> {
        self.get(name)
            .ok()
            .map(|v| v.expose().trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A value by name, or the reason there is none.
    pub fn get(&self, name: &str) -> Result<SecretValue, KeyError> {
        match self.lookup(name) {
            Some((value, _)) => value,
            None => Err(KeyError::NotFound {
                within: Within::backend(self.describe()),
            }),
        }
    }

    /// How messages name this environment: `the environment`, or `the environment or a.env, b.env`.
    pub fn describe(&self) -> String {
        if self.files.is_empty() {
            "the environment".into()
        } else {
            let files: Vec<&str> = self.files.iter().map(|f| &**f.path()).collect();
            format!("the environment or {}", files.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_wins_then_later_files() {
        let a = DotenvFile::parse("a.env", "X=from-a\nY=from-a\nZ=from-a\n").unwrap();
        let b = DotenvFile::parse("b.env", "Y=from-b\nZ=from-b\n").unwrap();
        let env = Environment::new([("Z", "from-process")], vec![a, b]);
        assert_eq!(env.get("X").unwrap().expose(), "from-a");
        assert_eq!(env.get("Y").unwrap().expose(), "from-b");
        assert_eq!(env.get("Z").unwrap().expose(), "from-process");
        assert_eq!(env.lookup("Y").unwrap().1.to_string(), "b.env:1");
        let missing = env.get("NOPE").unwrap_err().to_string();
        assert_eq!(missing, "not found in the environment or a.env, b.env");
    }
}
