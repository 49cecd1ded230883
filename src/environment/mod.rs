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

use crate::error::{KeyError, Place, Problem, Within};
use crate::input::{self, beneath};
use crate::provenance::{self, Kind, Setting};
use crate::secret::SecretValue;
use crate::trust::{self, Trust};
use rustc_hash::FxHashMap as HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
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
    /// The file a `NAME_FILE` variable names.
    NamedFile {
        /// The variable (`OPENAI_API_KEY_FILE`).
        variable: String,
        /// The file it names.
        path: PathBuf,
    },
    /// `NAME` in a secrets directory (`--secrets-dir`).
    SecretsDir {
        /// The file.
        path: PathBuf,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Process => f.write_str("process environment"),
            Self::File { path, line } => write!(f, "{path}:{line}"),
            Self::NamedFile { variable, path } => write!(f, "{variable} -> {}", path.display()),
            Self::SecretsDir { path } => write!(f, "{}", path.display()),
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
    /// Directories whose file `NAME` holds a reference's value (`--secrets-dir`).
    secrets_dirs: Vec<PathBuf>,
    /// How long reading one such file may take (the run's `--deadline`).
    read_timeout: std::time::Duration,
}

/// Names and counts only: the values are secrets.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("process_variables", &self.process.len())
            .field("files", &self.files.iter().map(|f| &**f.path()).collect::<Vec<_>>())
            .field("trust", &self.trust)
            .field("secrets_dirs", &self.secrets_dirs)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

impl Environment {
    /// The run's environment: this process's variables (one snapshot) plus the `--env-file`s, in
    /// order. A file's `${NAME}` reads what python-dotenv's `load_dotenv` calls in turn would see:
    /// the process environment, then the files before it, then the file's own earlier lines.
    pub fn load(
        files: &[std::path::PathBuf],
        trust: Trust,
        secrets_dirs: &[std::path::PathBuf],
        read_timeout: std::time::Duration,
    ) -> Result<Self, crate::Error> {
        let mut env = Self::from_process(Vec::with_capacity(files.len()))
            .with_trust(trust)
            .with_secrets_dirs(secrets_dirs.to_vec())
            .with_read_timeout(read_timeout);
        for path in files {
            let text = zeroize::Zeroizing::new(input::utf8(path, input::read_bytes(path, read_timeout)?).map_err(
                |location| {
                    crate::Error::Dotenv(crate::error::DotenvError {
                        location: location.line_start(),
                        reason: "the env file is not valid UTF-8",
                    })
                },
            )?);
            let outside = |name: &str| env.get(name).ok().map(|v| v.expose().to_owned());
            let file = DotenvFile::parse_with(input::display_name(path), &text, &outside)?;
            env.add_file(file);
        }
        Ok(env)
    }

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
            secrets_dirs: Vec::new(),
            read_timeout: std::time::Duration::from_secs(30),
        }
    }

    /// The same environment, reading a mounted secret within `timeout` (the run's deadline).
    #[must_use]
    pub fn with_read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The same environment, with secrets directories (`--secrets-dir`, in order).
    #[must_use]
    pub fn with_secrets_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.secrets_dirs = dirs;
        self
    }

    /// A reference's value from the local backend, and where it came from: `NAME` in the process
    /// environment, else the file `NAME_FILE` names, else `DIR/NAME` in each secrets directory
    /// in order, else `NAME` in the env files (the last one first). A file's trailing newlines
    /// are removed, as `$(< file)` does. A `NAME_FILE` from an env file is a path a repository
    /// chose, so it is read only with `--trust-env-files` (else ignored, with a warning); a
    /// `NAME_FILE` that is one of the settings of [`provenance`] (`AWS_WEB_IDENTITY_TOKEN_FILE`,
    /// …) is login material, never a value. Every file is read through the one opener,
    /// [`beneath`]: beneath its directory, regular files only, within the deadline.
    pub fn reference_lookup(&self, name: &str) -> Option<(Result<SecretValue, KeyError>, Origin)> {
        let found = self.lookup(name);
        if let Some((_, Origin::Process)) = found {
            return found;
        }
        let variable = format!("{name}_FILE");
        let found_file = if provenance::names_login_file(&variable) {
            None
        } else {
            self.lookup(&variable)
        };
        if let Some((path, origin)) = found_file {
            match (path, origin) {
                (Ok(_), origin @ Origin::File { .. }) if !self.trust.env_files => tracing::warn!(
                    "ignored {variable} from {origin}: a file to read is the operator's to name (an env file may come from a repository); export it, or pass --trust-env-files if the file is yours"
                ),
                (Ok(path), _) => {
                    let path = PathBuf::from(path.expose().trim_end_matches('\n'));
                    let value = match (path.parent(), path.file_name()) {
                        (Some(dir), Some(file)) => {
                            read_mounted(dir, Path::new(file), &path, &variable, self.read_timeout)
                        }
                        _ => Err(unreadable_file(&path, &variable, "it does not name a file".into())),
                    };
                    return Some((value, Origin::NamedFile { variable, path }));
                }
                (Err(e), origin) => return Some((Err(e), origin)),
            }
        }
        if plain_file_name(name) {
            for dir in &self.secrets_dirs {
                let Some(bytes) = beneath::read_if_present(dir, Path::new(name), self.read_timeout) else {
                    continue;
                };
                let path = dir.join(name);
                let value = mounted_value(bytes, dir, &path, "--secrets-dir");
                return Some((value, Origin::SecretsDir { path }));
            }
        }
        found
    }

    /// A variable set in the process environment itself (never an env file): what only the
    /// operator names.
    pub fn process_setting(&self, name: &str) -> Option<String> {
        match self.lookup(name) {
            Some((Ok(value), Origin::Process)) => Some(value.expose().trim().to_owned()).filter(|v| !v.is_empty()),
            _ => None,
        }
    }

    /// [`Environment::reference_lookup`]'s value, or the reason there is none.
    pub fn reference(&self, name: &str) -> Result<SecretValue, KeyError> {
        match self.reference_lookup(name) {
            Some((value, _)) => value,
            None => Err(KeyError::NotFound {
                within: Within::backend(self.describe()),
            }),
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
                reason: Problem::NotText,
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

    /// A variable that configures a backend, read as its row of [`provenance`] says: from an env
    /// file only what [`Kind::from_env_file`] allows (which secrets; the cloud's own https
    /// host), unless the operator trusts the files; otherwise it is ignored with a warning that
    /// says so, and the backend goes on as if it were unset. [`Kind::Sdk`] rows come from the
    /// process environment only.
    pub fn backend_secret(&self, setting: Setting) -> Option<SecretValue> {
        // A credential: withheld from every message, should a server echo it.
        self.backend_secret_unwithheld(setting).inspect(SecretValue::withhold)
    }

    fn backend_secret_unwithheld(&self, setting: Setting) -> Option<SecretValue> {
        let name = setting.name();
        let (value, origin) = self.lookup(name)?;
        let value = value.ok()?;
        if let Origin::File { .. } = origin {
            let kind = setting.kind();
            if kind == Kind::Sdk {
                return None;
            }
            // python-dotenv reads `${X}` from the process environment: a setting written so
            // could carry any process variable (a token) into a message that names the setting
            // (`HCP_VAULT_PATH_PREFIX=${AWS_SECRET_ACCESS_KEY}/..`), or into a host name.
            let interpolated = self
                .files
                .iter()
                .rev()
                .find(|f| f.get(name).is_some())
                .is_some_and(|f| f.interpolated(name));
            if !self.trust.env_files && interpolated {
                tracing::warn!(
                    "ignored {name} from {origin}: a setting in an env file must be written out, not read from `${{…}}` (it could carry any variable of the process into a message); export it, or pass --trust-env-files if the file is yours"
                );
                return None;
            }
            if !self.trust.env_files && !kind.from_env_file(name, value.expose()) {
                tracing::warn!(
                    "ignored {name} from {origin}: a {} comes only from the process environment (an env file may come from a repository); export it, or pass --trust-env-files if the file is yours",
                    kind.describe()
                );
                return None;
            }
        }
        if let Kind::Address(_) = setting.kind()
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
    pub fn backend_setting(&self, setting: Setting) -> Option<String> {
        self.backend_secret_unwithheld(setting)
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
        let mut places: Vec<String> = self
            .secrets_dirs
            .iter()
            .map(|d| format!("{}/", d.display().to_string().trim_end_matches('/')))
            .collect();
        places.extend(self.files.iter().map(|f| f.path().to_string()));
        if places.is_empty() {
            "the environment".into()
        } else {
            format!("the environment or {}", places.join(", "))
        }
    }
}

/// A name that can be looked up as a file in a directory: not empty, no `/`, no NUL, not `.`
/// or `..`.
fn plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

fn unreadable_file(path: &Path, via: &str, reason: String) -> KeyError {
    KeyError::InvalidValue {
        within: Within::backend(format!("the file {} ({via})", path.display())),
        reason: Problem::Unreadable(reason),
    }
}

/// A mounted secret's content (`file` beneath `dir`, shown as `path`), without trailing
/// newlines; errors name the file (and `via`, what pointed at it), never the content.
fn read_mounted(
    dir: &Path,
    file: &Path,
    path: &Path,
    via: &str,
    timeout: std::time::Duration,
) -> Result<SecretValue, KeyError> {
    mounted_value(beneath::read(dir, file, timeout), dir, path, via)
}

/// What [`beneath`] read, as a value: UTF-8, trailing newlines removed; a refusal named.
fn mounted_value(
    read: Result<zeroize::Zeroizing<Vec<u8>>, beneath::Refusal>,
    dir: &Path,
    path: &Path,
    via: &str,
) -> Result<SecretValue, KeyError> {
    let bytes = read.map_err(|e| {
        let reason = match e {
            beneath::Refusal::Escapes { .. } => {
                format!("it is a link that leaves the directory {}; not read", dir.display())
            }
            beneath::Refusal::Io(e) => format!("cannot read it: {e}"),
            other => other.to_string(),
        };
        unreadable_file(path, via, reason)
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| unreadable_file(path, via, "it is not valid UTF-8".into()))?;
    Ok(SecretValue::new(text.trim_end_matches('\n')))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Kubernetes Secret volume: `NAME -> ..data/NAME`, `..data -> ..<stamp>`.
    fn kubernetes_volume(dir: &Path, files: &[(&str, &str)]) {
        let stamp = dir.join("..2026_12_02_10_00_00.123");
        std::fs::create_dir_all(&stamp).unwrap();
        for (name, text) in files {
            std::fs::write(stamp.join(name), text).unwrap();
            std::os::unix::fs::symlink(format!("..data/{name}"), dir.join(name)).unwrap();
        }
        std::os::unix::fs::symlink("..2026_12_02_10_00_00.123", dir.join("..data")).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn file_mounted_secrets_come_after_the_process_and_before_env_files() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, second) = (tmp.path().join("run-secrets"), tmp.path().join("k8s"));
        std::fs::create_dir_all(&first).unwrap();
        std::fs::create_dir_all(&second).unwrap();
        std::fs::write(first.join("A"), "from-first-dir\n\n").unwrap();
        kubernetes_volume(&second, &[("A", "from-second-dir"), ("B", "b-from-volume\n")]);
        let named = tmp.path().join("c.txt");
        std::fs::write(&named, "c-from-named-file\n").unwrap();
        let file = DotenvFile::parse(".env", "A=from-env-file\nB=b-from-env-file\nD=d-from-env-file\n").unwrap();
        let env = Environment::new(
            [
                ("P", "from-process"),
                ("C_FILE", named.to_str().unwrap()),
                ("P_FILE", "/nonexistent"),
            ],
            vec![file],
        )
        .with_secrets_dirs(vec![first.clone(), second.clone()]);
        let value = |name: &str| env.reference(name).map(|v| v.expose().to_owned());
        let origin = |name: &str| env.reference_lookup(name).unwrap().1.to_string();
        assert_eq!(value("P").unwrap(), "from-process", "the process wins over P_FILE");
        assert_eq!(value("C").unwrap(), "c-from-named-file");
        assert_eq!(origin("C"), format!("C_FILE -> {}", named.display()));
        assert_eq!(
            value("A").unwrap(),
            "from-first-dir",
            "directories in order; newlines trimmed"
        );
        assert_eq!(origin("A"), first.join("A").display().to_string());
        assert_eq!(value("B").unwrap(), "b-from-volume", "through the volume's links");
        assert_eq!(value("D").unwrap(), "d-from-env-file");
        assert_eq!(origin("D"), ".env:3");
        assert!(env.describe().contains("run-secrets/"), "{}", env.describe());
        // LiteLLM's own lookups of settings are unchanged: plain variables only.
        assert!(env.get("C").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn file_mounted_secrets_that_cannot_be_read_are_errors_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("secrets");
        std::fs::create_dir_all(dir.join("ADIR")).unwrap();
        std::fs::write(tmp.path().join("outside"), "outside-canary").unwrap();
        std::os::unix::fs::symlink("../outside", dir.join("LEAK")).unwrap();
        std::fs::write(dir.join("BIN"), [0xff, 0xfe]).unwrap();
        let env = Environment::new([("N_FILE", "/nonexistent/n")], vec![]).with_secrets_dirs(vec![dir.clone()]);
        let error = |name: &str| env.reference(name).unwrap_err().to_string();
        assert!(error("ADIR").contains("it is a directory"), "{}", error("ADIR"));
        let leak = error("LEAK");
        assert!(leak.contains("a link that leaves the directory"), "{leak}");
        assert!(!leak.contains("outside-canary"));
        assert!(error("BIN").contains("not valid UTF-8"));
        let n = error("N");
        assert!(n.contains("/nonexistent/n") && n.contains("N_FILE"), "{n}");
        // Names that are not plain file names are never paths.
        for name in ["../outside", "a/b", ".", ".."] {
            assert!(matches!(env.reference(name), Err(KeyError::NotFound { .. })), "{name}");
        }
    }

    #[test]
    fn an_env_file_cannot_name_a_file_to_read_unless_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("host-file");
        std::fs::write(&target, "host-file-content").unwrap();
        let file = || DotenvFile::parse(".env", &format!("K_FILE={}\n", target.display())).unwrap();
        let env = Environment::new(Vec::<(String, String)>::new(), vec![file()]);
        assert!(matches!(env.reference("K"), Err(KeyError::NotFound { .. })));
        let trusted = Environment::new(Vec::<(String, String)>::new(), vec![file()]).with_trust(Trust {
            env_files: true,
            config: false,
        });
        assert_eq!(trusted.reference("K").unwrap().expose(), "host-file-content");
    }

    /// Every row of the provenance table from every source of the environment: the process
    /// sets all of them; an env file only which-secrets rows and the cloud's own hosts; a trusted
    /// env file all but the SDKs' own; nothing reads an SDK row from a file.
    #[test]
    fn every_setting_from_every_source() {
        for row in provenance::TABLE {
            let name = row.name();
            let hostile = "https://attacker.example";
            let process = Environment::new([(name, hostile)], vec![]);
            let file = || DotenvFile::parse(".env", &format!("{name}={hostile}\n")).unwrap();
            let from_file = Environment::new(Vec::<(String, String)>::new(), vec![file()]);
            let trusted = Environment::new(Vec::<(String, String)>::new(), vec![file()]).with_trust(Trust {
                env_files: true,
                config: false,
            });
            let got = |env: &Environment| env.backend_setting(*row).is_some();
            assert!(got(&process), "{name} from the process");
            assert_eq!(got(&from_file), row.kind() == Kind::Which, "{name} from an env file");
            assert_eq!(got(&trusted), row.kind() != Kind::Sdk, "{name} from a trusted env file");
            // Still a value to render, from either.
            assert_eq!(from_file.get(name).unwrap().expose(), hostile);
        }
    }

    /// The second review's finding: `HCP_VAULT_PATH_PREFIX=${AWS_SECRET_ACCESS_KEY}/..` put
    /// the process's key into the error about the prefix. An interpolated setting is ignored.
    #[test]
    fn an_env_file_setting_is_written_out_not_interpolated() {
        let file = DotenvFile::parse_with(
            ".env",
            "HCP_VAULT_PATH_PREFIX=${AWS_SECRET_ACCESS_KEY}/x\nHCP_VAULT_MOUNT_NAME=kv\nK=${HCP_VAULT_MOUNT_NAME}\n",
            &|n| (n == "AWS_SECRET_ACCESS_KEY").then(|| "canary-key".into()),
        )
        .unwrap();
        let env = Environment::new(Vec::<(String, String)>::new(), vec![file]);
        assert_eq!(env.backend_setting(provenance::var::HCP_VAULT_PATH_PREFIX), None);
        assert_eq!(
            env.backend_setting(provenance::var::HCP_VAULT_MOUNT_NAME).as_deref(),
            Some("kv")
        );
        // Still a value to render, as python-dotenv reads it.
        assert_eq!(env.get("HCP_VAULT_PATH_PREFIX").unwrap().expose(), "canary-key/x");
        assert_eq!(env.get("K").unwrap().expose(), "kv");
    }

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
        assert_eq!(env.backend_setting(crate::provenance::var::VAULT_ADDR), None);
        assert!(env.backend_secret(crate::provenance::var::VAULT_TOKEN).is_none());
        assert_eq!(env.backend_setting(crate::provenance::var::AWS_ENDPOINT_URL), None);
        // Which secrets, and the cloud's own service over https: taken.
        assert_eq!(
            env.backend_setting(crate::provenance::var::HCP_VAULT_MOUNT_NAME)
                .as_deref(),
            Some("kv")
        );
        assert_eq!(
            env.backend_setting(crate::provenance::var::AZURE_KEY_VAULT_URI)
                .as_deref(),
            Some("https://team.vault.azure.net")
        );
        assert_eq!(
            env.backend_setting(crate::provenance::var::AWS_ACCESS_KEY_ID)
                .as_deref(),
            Some("from-process")
        );
        // Still values to render.
        assert_eq!(env.get("VAULT_TOKEN").unwrap().expose(), "t");
        // An address with a password in it is not used, even from the process.
        let env = Environment::new([("VAULT_ADDR", "https://u:canary@vault:8200")], vec![]);
        assert_eq!(env.backend_setting(crate::provenance::var::VAULT_ADDR), None);

        let trusted = Environment::new(Vec::<(String, String)>::new(), vec![file()]).with_trust(Trust {
            env_files: true,
            config: false,
        });
        assert_eq!(
            trusted.backend_setting(crate::provenance::var::VAULT_ADDR).as_deref(),
            Some("http://elsewhere:8200")
        );
        assert!(!format!("{trusted:?}").contains("elsewhere"));
    }
}
