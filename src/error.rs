//! Error types. Every error about the config or a reference carries a [`Location`].
//!
//! Messages start lowercase, put user input in backticks and do not repeat their source; the
//! binary prints `caused by:` lines for the chain. No type here can hold a secret value.

use crate::location::Location;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;

/// A problem with the config file itself: it cannot be used as a LiteLLM config (exit code 2).
#[derive(Debug, Error, Clone)]
pub enum ConfigError {
    /// The YAML does not parse.
    #[error("{location}: invalid YAML: {message}")]
    Syntax {
        /// Where the parser stopped.
        location: Location,
        /// The parser's description.
        message: String,
    },
    /// The same key twice in one mapping.
    #[error("{location}: duplicate key `{key}` (first defined at {first})")]
    DuplicateKey {
        /// The second occurrence.
        location: Location,
        /// The key as written.
        key: String,
        /// The first occurrence.
        first: Location,
    },
    /// More than one YAML document.
    #[error("{location}: a second YAML document; a LiteLLM config is exactly one document")]
    MultipleDocuments {
        /// Start of the second document.
        location: Location,
    },
    /// The file is not UTF-8.
    #[error("{location}: the config is not valid UTF-8")]
    Encoding {
        /// The first invalid byte.
        location: Location,
    },
    /// No document, or an empty one.
    #[error("{file}: the config is empty; expected a mapping")]
    Empty {
        /// The file as the user named it.
        file: Arc<str>,
    },
    /// Larger than a config can be.
    #[error("{file}: the config is larger than {limit} bytes")]
    TooLarge {
        /// The file as the user named it.
        file: Arc<str>,
        /// The most a config can be.
        limit: usize,
    },
    /// The root is not a mapping.
    #[error("{location}: the config root is {found}; expected a mapping")]
    NotAMapping {
        /// The root.
        location: Location,
        /// What it is instead.
        found: &'static str,
    },
    /// A reference written as a block scalar, which osenv cannot substitute in place.
    #[error(
        "{location}: `{written}` is a block scalar (`|` or `>`); write the reference on one line, as `key: os.environ/NAME`"
    )]
    BlockScalarReference {
        /// Where the scalar starts.
        location: Location,
        /// The reference as written.
        written: String,
    },
    /// `key_management_system` names no backend osenv knows.
    #[error("{location}: unknown key_management_system `{value}`; expected one of: {}", valid.join(", "))]
    UnknownBackend {
        /// Where the value is.
        location: Location,
        /// As written (after resolving `os.environ/`).
        value: String,
        /// The valid values.
        valid: &'static [&'static str],
    },
    /// A backend osenv knows but cannot use.
    #[error("{location}: key_management_system `{value}` {why}")]
    UnsupportedBackend {
        /// Where the value is.
        location: Location,
        /// As written.
        value: String,
        /// Why it cannot be used.
        why: &'static str,
    },
    /// An environment switch osenv honours cannot be used.
    #[error("environment variable `{variable}` {why}")]
    Environment {
        /// The environment variable.
        variable: &'static str,
        /// Why it cannot be used.
        why: &'static str,
    },
    /// A `key_management_settings` field has the wrong shape or value.
    #[error("{location}: invalid `{setting}`: {reason}")]
    InvalidSetting {
        /// Where the value is.
        location: Location,
        /// The `key_management_settings` field.
        setting: String,
        /// What is wrong, without any secret value.
        reason: String,
    },
    /// Something LiteLLM's loader (PyYAML `safe_load`) refuses, so LiteLLM could not start with
    /// this config; osenv refuses it too rather than render or pass a config that cannot load.
    #[error("{location}: LiteLLM cannot load this config: {reason}")]
    Unloadable {
        /// Where it is.
        location: Location,
        /// What PyYAML refuses.
        reason: String,
    },
    /// Text that PyYAML (YAML 1.1, which LiteLLM loads with) reads differently from osenv's
    /// YAML 1.2 parser, so that LiteLLM could see keys or values `check` never saw.
    #[error("{location}: PyYAML, which LiteLLM loads configs with, reads this differently: {reason}")]
    ReadDifferently {
        /// Where it is.
        location: Location,
        /// What differs.
        reason: String,
    },
    /// One anchored reference used both where LiteLLM resolves it and where it does not: a
    /// rendered file cannot hold the secret in one place and the reference in the other.
    #[error(
        "{location}: `{written}` is anchored and used both where LiteLLM resolves it and at {unresolved}, where it does not; write the reference out at each place instead of using an alias"
    )]
    MixedAlias {
        /// The anchored scalar.
        location: Location,
        /// As written.
        written: String,
        /// A use LiteLLM leaves as written.
        unresolved: Location,
    },
    /// An `include:` entry cannot be followed.
    #[error("{location}: {reason}")]
    Include {
        /// The entry (or the `include` key).
        location: Location,
        /// What is wrong, as LiteLLM would report it.
        reason: String,
    },
    /// An `os.environ/` reference in the key-management settings could not be read from the
    /// environment (LiteLLM resolves these against the environment only).
    #[error("{location}: cannot resolve `{written}` in key-management settings: {cause}")]
    SettingReference {
        /// Where the reference is.
        location: Location,
        /// As written.
        written: String,
        /// Why it could not be read.
        cause: KeyError,
    },
}

impl ConfigError {
    /// Where the error is; errors without a line sort first.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Empty { .. } | Self::TooLarge { .. } | Self::Environment { .. } => None,
            Self::Syntax { location, .. }
            | Self::DuplicateKey { location, .. }
            | Self::MultipleDocuments { location }
            | Self::Encoding { location }
            | Self::NotAMapping { location, .. }
            | Self::BlockScalarReference { location, .. }
            | Self::UnknownBackend { location, .. }
            | Self::UnsupportedBackend { location, .. }
            | Self::InvalidSetting { location, .. }
            | Self::SettingReference { location, .. }
            | Self::Unloadable { location, .. }
            | Self::ReadDifferently { location, .. }
            | Self::MixedAlias { location, .. }
            | Self::Include { location, .. } => Some(location),
        }
    }
}

/// Where a key was looked for, as messages name it: the backend (or the environment) and,
/// where the service has one, the key's place in it. Typed, so a backend states the facts and
/// this one `Display` writes every phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Within {
    /// How messages name the backend, e.g. `hashicorp_vault (https://vault:8200)` or
    /// `the environment or .env`.
    pub backend: Arc<str>,
    /// The key's place in the backend, when it has one (boxed: most errors have none, and a
    /// run holds one result per name).
    pub place: Option<Box<Place>>,
}

/// A key's place in a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A path, secret name or resource name: `… at `app/db``.
    At(String),
    /// A field of a secret: `field `key` of … at `app/db``.
    Field {
        /// The field.
        field: String,
        /// The secret.
        at: String,
    },
    /// A key inside one JSON secret that holds many (AWS `primary_secret_name`).
    Primary(String),
    /// The environment variable whose ciphertext a KMS decrypted, and where it was set.
    Ciphertext {
        /// The variable.
        variable: String,
        /// `process environment` or `file:line`.
        origin: String,
    },
    /// The environment, asked for the ciphertext a KMS (`system`) would decrypt.
    CiphertextVariable {
        /// The KMS.
        system: &'static str,
        /// The variable.
        variable: String,
    },
}

impl Within {
    /// The backend as a whole.
    pub fn backend(backend: impl Into<Arc<str>>) -> Self {
        Self {
            backend: backend.into(),
            place: None,
        }
    }

    /// The same backend, at `place`.
    #[must_use]
    pub fn at(mut self, place: Place) -> Self {
        self.place = Some(Box::new(place));
        self
    }
}

impl fmt::Display for Within {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = &self.backend;
        match self.place.as_deref() {
            None => write!(f, "{backend}"),
            Some(Place::At(at)) => write!(f, "{backend} at `{at}`"),
            Some(Place::Field { field, at }) => write!(f, "field `{field}` of {backend} at `{at}`"),
            Some(Place::Primary(primary)) => write!(f, "primary secret `{primary}` of {backend}"),
            Some(Place::Ciphertext { variable, origin }) => {
                write!(f, "{backend} (ciphertext in `{variable}`, {origin})")
            }
            Some(Place::CiphertextVariable { system, variable }) => write!(
                f,
                "{backend} ({system} decrypts the ciphertext in environment variable `{variable}`)"
            ),
        }
    }
}

/// Why one key could not be supplied by a backend.
#[derive(Debug, Error, Clone)]
pub enum KeyError {
    /// The backend has no such key.
    #[error("not found in {within}")]
    NotFound {
        /// Where it was looked for.
        within: Within,
    },
    /// The name cannot be a key at all.
    #[error("invalid name: {reason}")]
    InvalidName {
        /// What is wrong with it.
        reason: std::borrow::Cow<'static, str>,
    },
    /// The key exists but its value cannot be used.
    #[error("unusable value in {within}: {reason}")]
    InvalidValue {
        /// Where it was looked for.
        within: Within,
        /// What is wrong, never the value itself.
        reason: Problem,
    },
    /// The key exists but cannot be read in its current state (scheduled for deletion,
    /// disabled, its KMS key unusable).
    #[error("unavailable in {within}: {reason}")]
    Unavailable {
        /// Where it was looked for.
        within: Within,
        /// The state, never the value.
        reason: Problem,
    },
    /// The backend refused access to this key.
    #[error("access denied by {within}")]
    AccessDenied {
        /// Where it was looked for.
        within: Within,
    },
    /// The whole call to the backend failed; the cause is reported once, separately.
    #[error("{0}")]
    Backend(Arc<BackendError>),
    /// The value resolved, but the proxy refuses to start with it (LiteLLM's master-key boot
    /// verdict, see [`crate::master_key`]).
    #[error("{reason}")]
    Refused {
        /// LiteLLM's refusal and its remedy, never the value.
        reason: String,
    },
}

/// Why a key's value cannot be used or read: its state or its shape, or what the service or
/// a decoder said of it; never the value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Problem {
    /// AWS: deleted, within its recovery window.
    #[error("the secret is scheduled for deletion (restore it with RestoreSecret)")]
    ScheduledForDeletion,
    /// Key Vault: deleted, recoverable.
    #[error("the secret is deleted (soft delete): recover it, or `osenv put` recovers it and adds a version")]
    SoftDeleted,
    /// Conjur: a variable declared in a policy and never set.
    #[error("the variable is declared but has no value yet (set one with `osenv put` or `conjur variable set`)")]
    NoValueYet,
    /// The version asked for was destroyed.
    #[error("this version was destroyed")]
    VersionDestroyed,
    /// The version asked for was deleted (Vault: recoverable).
    #[error("this version was deleted (undelete it, or write a new version)")]
    VersionDeleted,
    /// The version asked for is disabled.
    #[error("the version is disabled")]
    VersionDisabled,
    /// A state the service has added since.
    #[error("the version is in an unknown state")]
    VersionInUnknownState,
    /// Bytes that are not text.
    #[error("the value is not UTF-8 text")]
    NotText,
    /// AWS: `SecretBinary` that is not text.
    #[error("the secret is binary (SecretBinary) and not UTF-8 text; store it as SecretString")]
    Binary,
    /// The secret holds nothing.
    #[error("the secret has no value")]
    NoValue,
    /// A value of the primary secret that is not a JSON string (its JSON kind).
    #[error("the value is a JSON {0}, not a string")]
    NotAString(&'static str),
    /// `primary_secret_name` names a secret that is not a JSON object (shown as written).
    #[error("primary secret `{0}` is not a JSON object")]
    PrimaryNotAnObject(String),
    /// `NAME#field` (the field) of a secret that is not JSON.
    #[error("`#{0}` takes a field of a JSON object, and the secret is not JSON (value not shown)")]
    NotJson(Box<str>),
    /// `NAME#field` (the field) of a secret that holds JSON of another kind.
    #[error("`#{}` takes a field of a JSON object, and the secret holds JSON {} (value not shown)", .0.0, .0.1)]
    NotAnObject(Box<(String, &'static str)>),
    /// `NAME#field` of a field that is a list or an object (its JSON kind).
    #[error("the field is {0}, not a string, number or boolean")]
    FieldNotText(&'static str),
    /// The service answered for other names than this one.
    #[error("{0}")]
    NoAnswer(&'static str),
    /// A value that would be resolved again by LiteLLM when it loads the rendered config.
    #[error(
        "the value itself starts with `os.environ/`, which LiteLLM would resolve again when it loads the rendered config; osenv does not write it"
    )]
    ResolvesAgain,
    /// What the service said of the key.
    #[error("{0}")]
    Said(Box<Said>),
    /// An empty ciphertext variable (the service's ciphertexts named).
    #[error("the variable is empty; expected base64 of {0}")]
    EmptyCiphertext(&'static str),
    /// A ciphertext that is not base64: the offset of the first character outside the
    /// alphabet, or none for a wrong length or padding.
    #[error("not valid base64 ({}); expected base64 of {ciphertext}", .invalid_at.map_or_else(|| "wrong length or padding".to_owned(), |at| format!("an invalid character at offset {at}")))]
    NotBase64 {
        /// What it should hold (`a KMS ciphertext`).
        ciphertext: &'static str,
        /// The offset of the first character outside the alphabet.
        invalid_at: Option<usize>,
    },
    /// A Python bytes literal that Python would not read (what is wrong in it).
    #[error("not a valid bytes literal: {0}")]
    NotBytesLiteral(&'static str),
    /// A checksum the service sent that the bytes do not match (what did not match).
    #[error("{0}")]
    ChecksumMismatch(&'static str),
    /// A file that cannot be read as a value (why, from the operating system).
    #[error("{0}")]
    Unreadable(String),
}

impl Problem {
    /// A ciphertext for `ciphertext` that base64 refused with `e`.
    pub fn not_base64(ciphertext: &'static str, e: &base64::DecodeError) -> Self {
        Self::NotBase64 {
            ciphertext,
            invalid_at: match e {
                base64::DecodeError::InvalidByte(offset, _) => Some(*offset),
                _ => None,
            },
        }
    }

    /// The service's answer `said`, as it is.
    pub fn said(said: impl std::fmt::Display) -> Self {
        Self::Said(Box::new(Said {
            context: None,
            said: said.to_string(),
            hint: None,
        }))
    }

    /// The service's answer `said`, after what it means here.
    pub fn meaning(context: &'static str, said: impl std::fmt::Display) -> Self {
        Self::Said(Box::new(Said {
            context: Some(context),
            said: said.to_string(),
            hint: None,
        }))
    }

    /// The service's answer `said`, with what may cause it.
    pub fn hinted(said: impl std::fmt::Display, hint: &'static str) -> Self {
        Self::Said(Box::new(Said {
            context: None,
            said: said.to_string(),
            hint: Some(hint),
        }))
    }
}

/// What a service said of a key ([`Problem::Said`]): its answer (names and codes, never a
/// value), after what it means here (`the KMS key is disabled`) and before what may cause it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    /// What the answer means here.
    pub context: Option<&'static str>,
    /// The service's answer.
    pub said: String,
    /// What may cause it.
    pub hint: Option<&'static str>,
}

impl std::fmt::Display for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(context) = self.context {
            write!(f, "{context}: ")?;
        }
        // The service's text, with every secret withheld.
        f.write_str(&crate::secret::withheld(&self.said))?;
        if let Some(hint) = self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// A whole call to a backend failed (credentials, network, deadline). Shared by every reference
/// that asked for a key in that call.
#[derive(Debug, Error)]
pub enum BackendError {
    /// The operation exists but this backend cannot do it.
    #[error("{backend} does not support {operation}")]
    NotSupported {
        /// How messages name the backend, e.g. `hashicorp_vault (https://vault:8200)`.
        backend: String,
        /// e.g. `writing secrets`.
        operation: &'static str,
    },
    /// The overall deadline passed before every key was resolved.
    #[error("{backend}: deadline of {seconds}s exceeded")]
    Deadline {
        /// How messages name the backend, e.g. `hashicorp_vault (https://vault:8200)`.
        backend: String,
        /// The deadline.
        seconds: u64,
    },
    /// The backend answered for a different number of keys than it was asked for, so no answer
    /// can be matched to its key.
    #[error("{backend} answered for {answered} of {asked} names")]
    Answers {
        /// How messages name the backend, e.g. `hashicorp_vault (https://vault:8200)`.
        backend: String,
        /// Keys asked for.
        asked: usize,
        /// Results returned.
        answered: usize,
    },
    /// A request failed after retries.
    #[error("{backend}: request to {endpoint} failed after {attempts}")]
    Request {
        /// How messages name the backend, e.g. `hashicorp_vault (https://vault:8200)`.
        backend: String,
        /// The URL or service endpoint.
        endpoint: String,
        /// How many attempts were made, and how long they took.
        attempts: Attempts,
        /// The last failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The secret a `delete` (or purge) names does not exist.
    #[error("{backend}: no secret `{name}` to {operation}")]
    Missing {
        /// How messages name the backend, e.g. `hashicorp_vault (https://vault:8200)`.
        backend: String,
        /// The stored name.
        name: String,
        /// `delete` or `purge`.
        operation: &'static str,
    },
    /// A configuration variable or setting the backend needs is missing or unusable (a region,
    /// an address, a CA file, a key name).
    #[error("{backend}: {reason}")]
    Configuration {
        /// How messages name the backend, e.g. `hashicorp_vault (https://vault:8200)`.
        backend: String,
        /// What is missing or wrong, naming the variable or setting.
        reason: String,
    },
    /// No usable credentials: none configured, conflicting, or not in a usable form.
    #[error("{backend}: {reason}")]
    Credentials {
        /// How messages name the backend, e.g. `hashicorp_vault (https://vault:8200)`.
        backend: String,
        /// What is missing or wrong, never a credential itself.
        reason: String,
    },
    /// The HTTP client itself cannot be built (TLS set-up).
    #[error("{backend}: {reason}")]
    Client {
        /// How messages name the backend, e.g. `hashicorp_vault (https://vault:8200)`.
        backend: String,
        /// What failed.
        reason: String,
    },
    /// A name this backend cannot store (a write or delete).
    #[error("{backend}: cannot store `{name}`: {reason}")]
    Name {
        /// How messages name the backend, e.g. `hashicorp_vault (https://vault:8200)`.
        backend: String,
        /// The stored name (with its prefix).
        name: String,
        /// Why not.
        reason: String,
    },
    /// Writes are refused by the settings.
    #[error(
        "writing to {backend} is disabled: access_mode is `{access_mode}`; set key_management_settings.access_mode to `write_only` or `read_and_write` to allow it"
    )]
    ReadOnly {
        /// How messages name the backend, e.g. `hashicorp_vault (https://vault:8200)`.
        backend: String,
        /// The configured mode.
        access_mode: &'static str,
    },
}

impl BackendError {
    /// `backend` is configured so that it cannot work (a missing address, a refused setting).
    pub fn configuration(backend: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Configuration {
            backend: backend.into(),
            reason: reason.to_string(),
        }
    }

    /// `backend`'s credentials are missing or wrong; `reason` never holds a credential.
    pub fn credentials(backend: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Credentials {
            backend: backend.into(),
            reason: reason.to_string(),
        }
    }
}

/// A reference that could not be resolved (exit code 1).
#[derive(Debug, Error, Clone)]
#[error(
    "{location}: {}`{}`: {cause}",
    if matches!(cause, KeyError::Refused { .. }) { "" } else { "cannot resolve " },
    self.shown()
)]
pub struct ReferenceError {
    /// Where the reference is.
    pub location: Location,
    /// The reference as written in the file.
    pub written: String,
    /// Why it could not be read.
    pub cause: KeyError,
}

impl ReferenceError {
    /// The reference as written, cut after 200 characters so that a hostile config cannot flood
    /// the terminal.
    pub fn shown(&self) -> impl fmt::Display + '_ {
        Shortened(&self.written)
    }

    /// The error for a `hosted_keys` entry `name` at `location` that no reference uses.
    pub fn hosted(name: &str, location: &Location, cause: KeyError) -> Self {
        Self {
            location: location.clone(),
            written: name.to_owned(),
            cause,
        }
    }
}

/// An environment variable whose value could not be used (no config location exists for it).
#[derive(Debug, Error, Clone)]
#[error("environment variable `{variable}` ({origin}): {cause}")]
pub struct VariableError {
    /// The variable as named in the environment.
    pub variable: String,
    /// Where it was set (`process environment` or `file:line`).
    pub origin: String,
    /// Why it could not be read.
    pub cause: KeyError,
}

/// An I/O error that names its path.
#[derive(Debug, Error)]
#[error("{verb} `{path}`")]
pub struct IoError {
    /// What was being done, e.g. `cannot read`.
    pub verb: &'static str,
    /// The file as the user named it.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// A dotenv file that cannot be read as LiteLLM reads it.
#[derive(Debug, Error)]
#[error("{location}: {reason}")]
pub struct DotenvError {
    /// The line (column 1).
    pub location: Location,
    /// What is wrong (never the line's text, which may hold a secret).
    pub reason: &'static str,
}

/// A command line that parsed but cannot be run (exit code 2).
#[derive(Debug, Error)]
pub enum UsageError {
    /// A number of seconds out of range.
    #[error("`--{flag}` must be a number of seconds between 0 and 86400")]
    Seconds {
        /// The flag, without `--`.
        flag: &'static str,
    },
    /// The command reads a value from stdin, so the config cannot come from there too.
    #[error("{command} reads the value from stdin, so the config cannot be `-`")]
    StdinTaken {
        /// The command that reads stdin.
        command: &'static str,
    },
    /// `template - --config -`.
    #[error("the template and the config cannot both be `-`")]
    BothStdin,
    /// `exec` without a command.
    #[error("exec needs a command after `--`")]
    NoCommand,
    /// `encrypt` with nothing on stdin.
    #[error("nothing to encrypt: stdin is empty")]
    EmptyInput,
    /// A value on stdin that is not text.
    #[error("the value on stdin is not valid UTF-8")]
    NotUtf8,
    /// `encrypt --system aws_kms` without `--key-id`.
    #[error("--key-id is required for aws_kms")]
    MissingKeyId,
    /// `encrypt --prefix` with another KMS.
    #[error("--prefix is LiteLLM's AWS KMS convention; it needs --system aws_kms")]
    PrefixNeedsAws,
    /// A backend left out of this build.
    #[error("this osenv build has no {what} (built without cargo feature `{feature}`)")]
    NotBuilt {
        /// The service.
        what: &'static str,
        /// The cargo feature.
        feature: &'static str,
    },
    /// `--watch` of `render` or `env` without `-o`.
    #[error("{command} --watch needs -o FILE (the file it keeps current)")]
    WatchNeedsOutput {
        /// The command.
        command: &'static str,
    },
    /// `exec --watch` where processes cannot be supervised.
    #[error("exec --watch supervises the command with Unix signals; it is not available on this platform")]
    WatchUnsupported,

    /// `--watch` with the config or an env file on stdin or a pipe, which cannot be read again.
    #[error(
        "--watch reads the config and env files again (after an edit, on SIGHUP); `{path}` is stdin or a pipe, which can be read only once: name a file"
    )]
    WatchStdin {
        /// The path as given.
        path: String,
    },

    #[error(
        "exec {flag} --user {uid}: osenv could not signal the command (to restart, stop or pass a signal on to it) as another user without the KILL capability; add KILL to the capabilities it starts with (next to SETUID and SETGID)"
    )]
    /// `exec --watch --user` or `exec --mask --user` where osenv could not signal the command.
    WatchCannotSignal {
        /// `--watch` or `--mask`: what keeps osenv the command's parent.
        flag: &'static str,
        /// The user the command would run as.
        uid: u32,
    },
    /// `-o` names a file the run reads (the config, an include, an env file, the template).
    #[error("-o `{output}` is {input}, which this run reads: {why}")]
    OutputIsInput {
        /// The output path as given.
        output: PathBuf,
        /// What it is: `the config `config.yaml``, `the env file `.env``.
        input: String,
        /// What writing over it would lose, and what to do instead.
        why: &'static str,
    },
    /// `--only` or `--exclude` names what the config does not export.
    #[error("--{flag} `{name}`: the config exports no such name (it exports: {known})")]
    UnknownExport {
        /// `only` or `exclude`.
        flag: &'static str,
        /// The name given.
        name: String,
        /// The names it exports, or a count.
        known: String,
    },
    /// A Kubernetes object name that is not a DNS-1123 subdomain.
    #[error("{flag} `{value}` is not a valid Kubernetes name (lowercase letters, digits, `-`, `.`)")]
    KubernetesName {
        /// The flag.
        flag: &'static str,
        /// The value given.
        value: String,
    },
}

/// `exec --mask` cannot mask the values (too long, too many for its automaton): the command is
/// not started unmasked.
#[derive(Debug, Clone, Error)]
pub enum MaskError {
    /// One value is longer than a value may be (`crate::mask::MAX_VALUE`): a file rather than
    /// a key.
    #[error(
        "--mask: `{name}` is {bytes} bytes, more than the {limit} a value may have to be masked; leave it out with --exclude {name}"
    )]
    ValueTooLong {
        /// The variable.
        name: String,
        /// Its length.
        bytes: usize,
        /// The most a value may have.
        limit: usize,
    },
    /// All forms of all values together exceed what one run masks.
    #[error(
        "--mask: the values take {bytes} bytes in all their forms, more than the {limit} one run masks; leave the longest out with --exclude"
    )]
    TooManyBytes {
        /// Their length in all forms.
        bytes: usize,
        /// The most one run masks.
        limit: usize,
    },
    /// The matcher could not be built.
    #[error("--mask: {0}")]
    Automaton(#[from] aho_corasick::BuildError),
}

/// A template that failed: where (the file, the line when known) and why, never with a value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}{}: {problem}", .line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TemplateError {
    /// The template as named (`built-in template …` for an env format's own).
    pub file: String,
    /// The line minijinja reports.
    pub line: Option<usize>,
    /// What went wrong.
    pub problem: TemplateProblem,
}

/// Why a template failed. minijinja's kind is kept as its text (`invalid operation`, …).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateProblem {
    /// `secret()` asked for more names after the last round of reading.
    #[error("secrets still requested after {0} rounds of rendering")]
    Rounds(usize),
    /// `secret("NAME")` with a name written in the template could not be read.
    #[error("{kind}: cannot resolve secret `{name}`: {reason}")]
    Secret {
        /// minijinja's kind.
        kind: String,
        /// The name as written.
        name: String,
        /// Why (a [`KeyError`]'s text).
        reason: String,
    },
    /// A secret whose name the template computes could not be read; the name is not shown.
    #[error("{kind}: cannot resolve a secret whose name is computed (not shown): {reason}")]
    ComputedSecret {
        /// minijinja's kind.
        kind: String,
        /// Why.
        reason: String,
    },
    /// The template's own text is wrong (syntax, an unknown filter, …): minijinja's detail,
    /// with any value that could appear in it redacted.
    #[error("{0}")]
    Text(String),
    /// Templates calling themselves too deep.
    #[error("{0}: recursion limit exceeded")]
    Recursion(String),
    /// The output passed its bound.
    #[error("{0}: the output is larger than 16 MiB, the most osenv writes")]
    TooLarge(String),
    /// Any other failure: its details could quote a value, so only the kind.
    #[error("{0} (details not shown: they may quote a value)")]
    Hidden(String),
}

/// A name or value an output format cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct FormatError {
    /// Where the config names the variable, and the reference as written (none for the
    /// Secret's name or namespace, or a variable no reference names).
    pub at: Option<(Location, String)>,
    /// The variable name (or the Secret's name or namespace).
    pub name: String,
    /// The format.
    pub format: &'static str,
    /// Why, never the value.
    pub reason: &'static str,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((location, written)) = &self.at {
            write!(f, "{location}: `{written}`: ")?;
        }
        write!(f, "cannot write `{}` as {}: {}", self.name, self.format, self.reason)
    }
}

/// Everything a command can fail with. [`Error::exit_code`] maps it to the documented codes.
#[derive(Debug, Error)]
pub enum Error {
    /// The config cannot be used (all problems found, sorted).
    #[error("{}", Joined(.0))]
    Config(Vec<ConfigError>),
    /// References that could not be resolved (all of them, sorted), then environment variables
    /// that had to be decrypted for export (AWS KMS `USE_AWS_KMS`), sorted by name.
    #[error("{}{}{}", Joined(.0), if .0.is_empty() || .1.is_empty() { "" } else { "\n" }, Joined(.1))]
    Unresolved(Vec<ReferenceError>, Vec<VariableError>),
    /// A file could not be read.
    #[error(transparent)]
    Input(IoError),
    /// An output file could not be written.
    #[error(transparent)]
    Output(IoError),
    /// A dotenv file does not parse.
    #[error(transparent)]
    Dotenv(#[from] DotenvError),
    /// A backend operation failed as a whole.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// `exec --mask` cannot mask the values.
    #[error(transparent)]
    Mask(#[from] MaskError),
    /// Values that cannot be written in the requested output format (every one, by name).
    #[error("{}", Joined(.0))]
    Format(Vec<FormatError>),
    /// A template failed to render.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A usage error found after argument parsing.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// `check --strict` found warnings, which it counts as errors.
    #[error("check --strict: {warnings} warning{} count as errors", if *.warnings == 1 { "" } else { "s" })]
    Strict {
        /// How many.
        warnings: usize,
    },
    /// `exec --watch --listen`: the command never answered its readiness probe.
    #[error(
        "the command did not answer its readiness probe within {seconds}s (--ready-timeout), and no other generation serves: does it listen on 127.0.0.1:$PORT (or `{{port}}` in its arguments), and does `--ready` name a path it answers with 2xx?"
    )]
    NotReady {
        /// The timeout.
        seconds: u64,
    },
    /// `exec --watch --listen`: the address cannot be listened on.
    #[error("cannot listen on `{address}`")]
    Listen {
        /// As given.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The command for `exec` could not be started.
    #[error("cannot execute `{program}`")]
    Exec {
        /// argv[0].
        program: String,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
}

/// User input shown in a message, cut after 200 characters so that a hostile config cannot
/// flood the terminal.
struct Shortened<'a>(&'a str);

impl fmt::Display for Shortened<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 200;
        match self.0.char_indices().nth(SHOWN) {
            None => f.write_str(self.0),
            Some((cut, _)) => write!(f, "{}… ({} characters)", &self.0[..cut], self.0.chars().count()),
        }
    }
}

/// Display a list one item per line.
struct Joined<'a, T>(&'a [T]);

impl<T: fmt::Display> fmt::Display for Joined<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

/// How many attempts a request took, and how long: what a final error reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attempts {
    /// Attempts made, the first included.
    pub count: u32,
    /// From the first attempt to the last answer.
    pub elapsed: std::time::Duration,
}

impl std::fmt::Display for Attempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = if self.count == 1 { "" } else { "s" };
        write!(f, "{} attempt{s} in {:.1} s", self.count, self.elapsed.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every problem a key can have, as messages show it: one table, never a value.
    #[test]
    fn every_problem_in_words() {
        let shown = [
            Problem::ScheduledForDeletion,
            Problem::SoftDeleted,
            Problem::NoValueYet,
            Problem::VersionDestroyed,
            Problem::VersionDeleted,
            Problem::VersionDisabled,
            Problem::VersionInUnknownState,
            Problem::NotText,
            Problem::Binary,
            Problem::NoValue,
            Problem::NotAString("number"),
            Problem::PrimaryNotAnObject("os.environ/PRIMARY".into()),
            Problem::NotJson("user".into()),
            Problem::NotAnObject(Box::new(("user".into(), "a list"))),
            Problem::FieldNotText("an object"),
            Problem::NoAnswer("no answer for this id"),
            Problem::ResolvesAgain,
            Problem::said("HTTP 400 InvalidArgument: bad"),
            Problem::meaning("the KMS key is disabled", "HTTP 400 DisabledException: arn:k"),
            Problem::hinted("FAILED_PRECONDITION: m", "a disabled key?"),
            Problem::EmptyCiphertext("a KMS ciphertext"),
            Problem::NotBase64 {
                ciphertext: "a KMS ciphertext",
                invalid_at: Some(2),
            },
            Problem::NotBytesLiteral("a trailing backslash"),
            Problem::ChecksumMismatch("the payload does not match its dataCrc32c checksum"),
            Problem::Unreadable("it is a FIFO, not a regular file".into()),
        ]
        .map(|p| p.to_string());
        insta::assert_snapshot!(shown.join("\n"), @r"
        the secret is scheduled for deletion (restore it with RestoreSecret)
        the secret is deleted (soft delete): recover it, or `osenv put` recovers it and adds a version
        the variable is declared but has no value yet (set one with `osenv put` or `conjur variable set`)
        this version was destroyed
        this version was deleted (undelete it, or write a new version)
        the version is disabled
        the version is in an unknown state
        the value is not UTF-8 text
        the secret is binary (SecretBinary) and not UTF-8 text; store it as SecretString
        the secret has no value
        the value is a JSON number, not a string
        primary secret `os.environ/PRIMARY` is not a JSON object
        `#user` takes a field of a JSON object, and the secret is not JSON (value not shown)
        `#user` takes a field of a JSON object, and the secret holds JSON a list (value not shown)
        the field is an object, not a string, number or boolean
        no answer for this id
        the value itself starts with `os.environ/`, which LiteLLM would resolve again when it loads the rendered config; osenv does not write it
        HTTP 400 InvalidArgument: bad
        the KMS key is disabled: HTTP 400 DisabledException: arn:k
        FAILED_PRECONDITION: m (a disabled key?)
        the variable is empty; expected base64 of a KMS ciphertext
        not valid base64 (an invalid character at offset 2); expected base64 of a KMS ciphertext
        not a valid bytes literal: a trailing backslash
        the payload does not match its dataCrc32c checksum
        it is a FIFO, not a regular file
        ");
    }
}
