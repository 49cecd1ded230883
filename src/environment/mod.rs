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
use crate::trust::{self, Trust};
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

/// The process environment (a snapshot) and dotenv files, and how far the operator trusts the
/// files ([`crate::trust`]).
#[derive(Clone, Default)]
pub struct Environment {
    process: HashMap<OsString, OsString>,
    files: Vec<DotenvFile>,
    trust: Trust,
}

/// Names and counts only: the values are secrets.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("process_variables", &self.process.len())
            .field("files", &self.files.iter().map(|f| &**f.path()).collect::<Vec<_>>())
            .field("trust", &self.trust)
            .finish()
    }
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
            trust: Trust::default(),
        }
    }

    /// The same environment, with what the operator trusts.
    #[must_use]
    pub fn with_trust(mut self, trust: Trust) -> Self {
        self.trust = trust;
        self
    }

    /// What the operator trusts beyond the process environment.
    pub fn trust(&self) -> Trust {
        self.trust
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

    /// A variable that configures a backend. For the operator-only variables
    /// ([`trust::OPERATOR_ONLY`]: addresses, CA bundles, credential files, credentials) a value
    /// from an env file counts only when the operator trusts the files or it names the cloud's
    /// own service over https; otherwise it is ignored with a warning that says so, and the
    /// backend goes on as if it were unset.
    pub fn backend_secret(&self, name: &str) -> Option<SecretValue> {
        let (value, origin) = self.lookup(name)?;
        let value = value.ok()?;
        if let Origin::File { .. } = origin
            && !self.trust.env_files
            && trust::operator_only(name).is_some()
            && !trust::official_address(name, value.expose())
        {
            tracing::warn!(
                "ignored {name} from {origin}: addresses, CA bundles and credentials come only from the process environment (an env file may come from a repository); export it, or pass --trust-env-files if the file is yours"
            );
            return None;
        }
        if let Some(trust::Role::Address(_)) = trust::operator_only(name)
            && trust::has_user_info(value.expose())
        {
            // Backends name their address in every message; a password in it would be shown.
            tracing::warn!(
                "ignored {name} from {origin}: the address has a user name or password in it (value not shown); osenv's backends authenticate with tokens, not in the URL"
            );
            return None;
        }
        Some(value)
    }

    /// [`Environment::backend_secret`] for a setting that is not a secret: trimmed, `None`
    /// when blank.
    pub fn backend_setting(&self, name: &str) -> Option<String> {
        self.backend_secret(name)
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

    #[test]
    fn an_env_file_does_not_say_where_credentials_go() {
        let file = || {
            DotenvFile::parse(
                ".env",
                "VAULT_ADDR=http://elsewhere:8200\nVAULT_TOKEN=t\nHCP_VAULT_MOUNT_NAME=kv\n\
                 AZURE_KEY_VAULT_URI=https://team.vault.azure.net\nAWS_ENDPOINT_URL=http://127.0.0.1:1\n",
            )
            .unwrap()
        };
        let env = Environment::new([("AWS_ACCESS_KEY_ID", "from-process")], vec![file()]);
        assert_eq!(env.backend_setting("VAULT_ADDR"), None);
        assert!(env.backend_secret("VAULT_TOKEN").is_none());
        assert_eq!(env.backend_setting("AWS_ENDPOINT_URL"), None);
        // Which secrets, and the cloud's own service over https: taken.
        assert_eq!(env.backend_setting("HCP_VAULT_MOUNT_NAME").as_deref(), Some("kv"));
        assert_eq!(
            env.backend_setting("AZURE_KEY_VAULT_URI").as_deref(),
            Some("https://team.vault.azure.net")
        );
        assert_eq!(
            env.backend_setting("AWS_ACCESS_KEY_ID").as_deref(),
            Some("from-process")
        );
        // Still values to render.
        assert_eq!(env.get("VAULT_TOKEN").unwrap().expose(), "t");
        // An address with a password in it is not used, even from the process.
        let env = Environment::new([("VAULT_ADDR", "https://u:canary@vault:8200")], vec![]);
        assert_eq!(env.backend_setting("VAULT_ADDR"), None);

        let trusted = Environment::new(Vec::<(String, String)>::new(), vec![file()]).with_trust(Trust {
            env_files: true,
            config: false,
        });
        assert_eq!(
            trusted.backend_setting("VAULT_ADDR").as_deref(),
            Some("http://elsewhere:8200")
        );
        assert!(!format!("{trusted:?}").contains("elsewhere"));
    }
}
