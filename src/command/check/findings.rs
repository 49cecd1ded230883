//! What `check` reports, as findings with a stable rule id: the same id in the text table, the
//! JSON report, GitHub workflow commands and SARIF, so a CI job can filter or suppress by it.

use osenv::error::{ConfigError, KeyError};
use osenv::location::Location;
use osenv::plaintext::Plaintext;
use osenv::references::{Notice, NoticeKind};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Level {
    /// Fails the check.
    Error,
    /// Reported; fails only with `--strict`.
    Warning,
    /// For information.
    Note,
}

impl Level {
    /// SARIF's and GitHub's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Note => "note",
        }
    }
}

/// A kind of finding. Ids are stable: documented in the README, and never reused for another
/// meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Rule {
    /// The config cannot be used (invalid YAML, a duplicate key, an unknown manager, …).
    ConfigError,
    /// The name is in neither the environment nor the manager.
    MissingSecret,
    /// The manager refused access.
    AccessDenied,
    /// The secret exists but cannot be read in its state (deleted, disabled, no value yet).
    UnavailableSecret,
    /// The value exists but cannot be used (not text, not the JSON a field needs, …).
    UnusableValue,
    /// The name cannot be a name in its backend.
    InvalidName,
    /// The backend failed as a whole (credentials, network, deadline).
    BackendFailure,
    /// A value that looks like a reference where LiteLLM does not resolve one.
    NotResolvedByLitellm,
    /// An `oidc/` reference: LiteLLM resolves it itself.
    LeftToLitellm,
    /// A key-management setting LiteLLM ignores or that does not do what it seems to.
    KeyManagementSetting,
    /// A credential written as plain text.
    PlaintextCredential,
    /// LiteLLM refuses to start with this master key (unset, blank, publicly known): an error;
    /// a warning when an override lets it start; a note when the key is not known here.
    WeakMasterKey,
    /// LiteLLM cannot fetch an `oidc/` token: an unknown provider, no argument, a variable it
    /// reads first that is unset, a token file outside the allowed directories.
    OidcUnavailable,
}

impl Rule {
    /// Every rule, in table order (SARIF's `rules`).
    pub const ALL: &'static [Rule] = &[
        Self::ConfigError,
        Self::MissingSecret,
        Self::AccessDenied,
        Self::UnavailableSecret,
        Self::UnusableValue,
        Self::InvalidName,
        Self::BackendFailure,
        Self::NotResolvedByLitellm,
        Self::LeftToLitellm,
        Self::KeyManagementSetting,
        Self::PlaintextCredential,
        Self::WeakMasterKey,
        Self::OidcUnavailable,
    ];

    /// The stable id.
    pub fn id(self) -> &'static str {
        match self {
            Self::ConfigError => "config-error",
            Self::MissingSecret => "missing-secret",
            Self::AccessDenied => "access-denied",
            Self::UnavailableSecret => "unavailable-secret",
            Self::UnusableValue => "unusable-value",
            Self::InvalidName => "invalid-name",
            Self::BackendFailure => "backend-failure",
            Self::NotResolvedByLitellm => "not-resolved-by-litellm",
            Self::LeftToLitellm => "left-to-litellm",
            Self::KeyManagementSetting => "key-management-setting",
            Self::PlaintextCredential => "plaintext-credential",
            Self::WeakMasterKey => "weak-master-key",
            Self::OidcUnavailable => "oidc-unavailable",
        }
    }

    /// A name in SARIF's PascalCase.
    pub fn name(self) -> &'static str {
        match self {
            Self::ConfigError => "ConfigError",
            Self::MissingSecret => "MissingSecret",
            Self::AccessDenied => "AccessDenied",
            Self::UnavailableSecret => "UnavailableSecret",
            Self::UnusableValue => "UnusableValue",
            Self::InvalidName => "InvalidName",
            Self::BackendFailure => "BackendFailure",
            Self::NotResolvedByLitellm => "NotResolvedByLitellm",
            Self::LeftToLitellm => "LeftToLitellm",
            Self::KeyManagementSetting => "KeyManagementSetting",
            Self::PlaintextCredential => "PlaintextCredential",
            Self::WeakMasterKey => "WeakMasterKey",
            Self::OidcUnavailable => "OidcUnavailable",
        }
    }

    /// One line.
    pub fn short(self) -> &'static str {
        match self {
            Self::ConfigError => "The config cannot be used",
            Self::MissingSecret => "A referenced secret does not exist",
            Self::AccessDenied => "The secret manager refuses access to a referenced secret",
            Self::UnavailableSecret => "A referenced secret cannot be read in its current state",
            Self::UnusableValue => "A referenced secret's value cannot be used",
            Self::InvalidName => "A reference names something its backend cannot hold",
            Self::BackendFailure => "The secret manager could not be asked",
            Self::NotResolvedByLitellm => "A value looks like a reference where LiteLLM does not resolve one",
            Self::LeftToLitellm => "An oidc/ reference, resolved by LiteLLM itself",
            Self::KeyManagementSetting => "A key-management setting is ignored or does not do what it seems to",
            Self::PlaintextCredential => "A credential is written in the config as plain text",
            Self::WeakMasterKey => "LiteLLM refuses to start with this master key",
            Self::OidcUnavailable => "LiteLLM cannot fetch this oidc/ token and fails to load the config",
        }
    }

    /// What to do about it.
    pub fn help(self) -> &'static str {
        match self {
            Self::ConfigError => {
                "LiteLLM would refuse this config or read it differently. Fix the YAML or the setting at the location."
            }
            Self::MissingSecret => {
                "LiteLLM would start with this value set to None and fail at the first request. Create the secret (or set the variable), or fix the name."
            }
            Self::AccessDenied => {
                "Grant the identity that runs the check (and the proxy) read access to the secret, or fix the name."
            }
            Self::UnavailableSecret => {
                "The secret is deleted, disabled, has no value yet or its key is unusable; restore it or point the reference at a current one."
            }
            Self::UnusableValue => {
                "The stored value is not text, or not the JSON object a `#field` needs; fix the stored value or the reference."
            }
            Self::InvalidName => {
                "Rename the reference to a name the backend can hold (see the README's reference grammar)."
            }
            Self::BackendFailure => {
                "The check could not ask the secret manager (credentials, network, deadline); every reference it serves is unchecked."
            }
            Self::NotResolvedByLitellm => {
                "LiteLLM leaves this value as the literal text `os.environ/...`. Move it where LiteLLM resolves references, or write the value another way."
            }
            Self::LeftToLitellm => "No action needed: LiteLLM fetches oidc/ tokens itself when it loads the config.",
            Self::KeyManagementSetting => "LiteLLM ignores this setting silently; fix its name or value.",
            Self::PlaintextCredential => {
                "Store the value in the secret manager or the environment and write `os.environ/NAME` here. If it is not a secret, add the comment `# osenv: allow-plaintext` on its line."
            }
            Self::WeakMasterKey => {
                "LiteLLM 1.110.2 refuses to boot with a master key that is unset, blank or publicly known (sk-1234). Store a new key (`sk-$(openssl rand -hex 32)`) where the reference reads it; with a database and no LITELLM_SALT_KEY, also set LITELLM_MIGRATE_FROM_MASTER_KEY to the old key for one start (see the README's master-key rotation)."
            }
            Self::OidcUnavailable => {
                "LiteLLM 1.110.2 raises while it loads the config when an oidc/ reference names an unknown provider or no argument, when a variable it reads first (oidc/env/NAME, CIRCLE_OIDC_TOKEN, ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN) is unset, or when an oidc/file path is not absolute or outside LITELLM_OIDC_ALLOWED_CREDENTIAL_DIRS. Set the variable where the proxy runs, or fix the reference."
            }
        }
    }

    /// Its level before `--strict`.
    pub fn level(self) -> Level {
        match self {
            Self::ConfigError
            | Self::MissingSecret
            | Self::AccessDenied
            | Self::UnavailableSecret
            | Self::UnusableValue
            | Self::InvalidName
            | Self::BackendFailure
            | Self::WeakMasterKey
            | Self::OidcUnavailable => Level::Error,
            Self::NotResolvedByLitellm | Self::KeyManagementSetting | Self::PlaintextCredential => Level::Warning,
            Self::LeftToLitellm => Level::Note,
        }
    }

    /// The rule of a reference that did not resolve.
    pub fn of(error: &KeyError) -> Self {
        match error {
            KeyError::NotFound { .. } => Self::MissingSecret,
            KeyError::AccessDenied { .. } => Self::AccessDenied,
            KeyError::Unavailable { .. } => Self::UnavailableSecret,
            KeyError::InvalidValue { .. } => Self::UnusableValue,
            KeyError::InvalidName { .. } => Self::InvalidName,
            KeyError::Backend(_) => Self::BackendFailure,
            KeyError::Refused { .. } => Self::WeakMasterKey,
        }
    }
}

/// One finding: never a value.
#[derive(Debug, Clone)]
pub(super) struct Finding {
    pub rule: Rule,
    pub level: Level,
    /// Where; `None` for a config problem without a line (an empty file).
    pub location: Option<Location>,
    pub message: String,
    /// What identifies it across runs when lines move: the reference as written, or the path.
    pub subject: String,
}

impl Finding {
    /// A reference (or `hosted_keys` entry) that did not resolve.
    pub fn unresolved(location: &Location, written: &str, error: &KeyError) -> Self {
        let rule = Rule::of(error);
        Self {
            rule,
            level: rule.level(),
            location: Some(location.clone()),
            message: format!("cannot resolve `{written}`: {error}"),
            subject: written.to_owned(),
        }
    }

    /// A value LiteLLM leaves alone.
    pub fn notice(notice: &Notice) -> Self {
        let rule = if matches!(notice.kind, NoticeKind::Oidc { .. }) {
            Rule::LeftToLitellm
        } else {
            Rule::NotResolvedByLitellm
        };
        Self {
            rule,
            level: rule.level(),
            location: Some(notice.location.clone()),
            message: format!("`{}` is not resolved: {}", notice.written, notice.kind),
            subject: notice.written.clone(),
        }
    }

    /// A settings warning.
    pub fn setting(location: &Location, message: &str) -> Self {
        Self {
            rule: Rule::KeyManagementSetting,
            level: Level::Warning,
            location: Some(location.clone()),
            message: message.to_owned(),
            subject: message.to_owned(),
        }
    }

    /// A plain-text credential: its kind and place, never its value.
    pub fn plaintext(found: &Plaintext) -> Self {
        Self {
            rule: Rule::PlaintextCredential,
            level: Level::Warning,
            location: Some(found.location.clone()),
            message: format!(
                "{} at `{}`: store it in the secret manager or the environment and write `os.environ/NAME` here (or mark the line `# {}`)",
                found.kind.describe(),
                found.path,
                osenv::plaintext::ALLOW_COMMENT
            ),
            subject: found.path.clone(),
        }
    }

    /// LiteLLM's boot verdicts: an error when the proxy would refuse to start, a warning when
    /// an override lets it, a note when the key is not known here.
    pub fn boot(found: &osenv::boot::Finding) -> Self {
        use osenv::boot::{At, Check, Severity};
        let (location, message) = match &found.at {
            At::Reference { location, written } => (Some(location.clone()), format!("`{written}`: {}", found.message)),
            At::Setting { location } => (Some(location.clone()), found.message.clone()),
            // The message names the variable and where it is set.
            At::Variable { .. } | At::Nowhere => (Some(found.location.clone()), found.message.clone()),
        };
        let (rule, subject) = match found.check {
            Check::MasterKey => (Rule::WeakMasterKey, "general_settings.master_key".to_owned()),
            Check::Oidc => (
                Rule::OidcUnavailable,
                match &found.at {
                    At::Reference { written, .. } => written.clone(),
                    _ => String::new(),
                },
            ),
        };
        Self {
            rule,
            level: match found.severity {
                Severity::Refused => Level::Error,
                Severity::Warning => Level::Warning,
                Severity::Unknown => Level::Note,
            },
            location,
            message,
            subject,
        }
    }

    /// A config problem.
    pub fn config(error: &ConfigError) -> Self {
        let location = error.location().cloned();
        let text = error.to_string();
        let message = match &location {
            Some(at) => text
                .strip_prefix(&format!("{at}: "))
                .map_or_else(|| text.clone(), str::to_owned),
            None => text,
        };
        Self {
            rule: Rule::ConfigError,
            level: Level::Error,
            location,
            subject: message.clone(),
            message,
        }
    }

    /// A fingerprint that stays the same across runs while the finding does (it leaves out the
    /// line, so an edit above it does not make it new): FNV-1a over rule, file and subject.
    pub fn fingerprint(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let file = self.location.as_ref().map_or("", |l| &**l.file());
        for part in [self.rule.id(), file, &self.subject] {
            for byte in part.bytes().chain(std::iter::once(0)) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{hash:016x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_kebab_case() {
        let ids: std::collections::BTreeSet<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
        assert_eq!(ids.len(), Rule::ALL.len());
        for id in ids {
            assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{id}");
        }
    }

    #[test]
    fn fingerprints_ignore_lines_but_not_subjects() {
        let at = |line| crate::command::test_support::located("c.yaml", line, 3);
        let missing = KeyError::NotFound {
            within: osenv::error::Within::backend("the environment"),
        };
        let a = Finding::unresolved(&at(3), "os.environ/A", &missing);
        let moved = Finding::unresolved(&at(9), "os.environ/A", &missing);
        let other = Finding::unresolved(&at(3), "os.environ/B", &missing);
        assert_eq!(a.fingerprint(), moved.fingerprint());
        assert_ne!(a.fingerprint(), other.fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
    }
}
