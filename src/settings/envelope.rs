//! LiteLLM's AWS KMS "v2" environment convention (`USE_AWS_KMS=True`), the whole rule in one
//! place: which variables are ciphertexts, what they are exported as, and when the rule applies.
//!
//! LiteLLM decrypts, before it reads the config, every environment variable whose name starts
//! with `LITELLM_SECRET_AWS_KMS` (case-insensitive) or whose value starts with `aws_kms/`, and
//! stores the plaintext as `NAME` (the name with `LITELLM_SECRET_AWS_KMS_` removed) or under the
//! same name. osenv finds the same variables here and routes those names to the KMS backend,
//! so they are decrypted in the run's one concurrent pass and every failure is reported.

use super::{KeyManagement, KeyManagementSystem, Selected};
use crate::environment::Environment;
use crate::error::ConfigError;
use std::collections::BTreeMap;

/// The value prefix that marks a ciphertext.
pub const VALUE_PREFIX: &str = "aws_kms/";

/// The variable-name prefix that marks a ciphertext (compared case-insensitively).
pub const NAME_PREFIX: &str = "litellm_secret_aws_kms";

/// The environment switch LiteLLM reads (`USE_AWS_KMS`, exactly `True`).
pub const SWITCH: &str = "USE_AWS_KMS";

/// Encrypted variables: the name each value is exported as → the variable holding the
/// ciphertext.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelopes {
    targets: BTreeMap<String, String>,
}

impl Envelopes {
    /// The encrypted variables this run decrypts. LiteLLM decrypts them when `USE_AWS_KMS=True`;
    /// with `key_management_system: aws_kms` osenv does the same without the switch. The switch
    /// with another manager is refused: osenv reads from one backend per run.
    pub fn for_run(env: &Environment, km: &KeyManagement) -> Result<Self, ConfigError> {
        let switched_on = Self::switched_on(env);
        match &km.selected {
            Some(Selected {
                system: KeyManagementSystem::AwsKms,
                ..
            }) => Ok(Self::scan(env)),
            None if switched_on => Ok(Self::scan(env)),
            Some(Selected { system, location }) if switched_on => Err(ConfigError::UnsupportedBackend {
                location: location.clone(),
                value: system.as_str().to_owned(),
                why: "cannot be combined with USE_AWS_KMS=True: osenv reads from one backend per run (unset USE_AWS_KMS, or use key_management_system: aws_kms)",
            }),
            _ => Ok(Self::default()),
        }
    }

    /// Find LiteLLM's encrypted variables in `env`.
    pub fn scan(env: &Environment) -> Self {
        let mut targets = BTreeMap::new();
        for variable in env.names() {
            if let Some(target) = target_of(&variable) {
                // An explicit LITELLM_SECRET_AWS_KMS_X wins over a value-prefixed X, as it does
                // in LiteLLM, which processes the prefixed names after (dict order aside).
                targets.insert(target, variable);
            } else if env
                .lookup(&variable)
                .and_then(|(v, _)| v.ok())
                .is_some_and(|v| v.expose().starts_with(VALUE_PREFIX))
            {
                targets.entry(variable.clone()).or_insert(variable);
            }
        }
        Self { targets }
    }

    /// Whether LiteLLM's switch is on in `env`.
    fn switched_on(env: &Environment) -> bool {
        env.get(SWITCH).is_ok_and(|v| v.expose() == "True")
    }

    /// The variable that holds `name`'s ciphertext, if `name` is an encrypted variable.
    pub fn source(&self, name: &str) -> Option<&str> {
        self.targets.get(name).map(String::as_str)
    }

    /// Every exported name and its source variable, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.targets.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// No encrypted variables.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

/// `LITELLM_SECRET_AWS_KMS_X` → `X`; a name that merely starts with the bare prefix keeps its
/// name (LiteLLM's `re.sub` finds no `..._` to remove).
fn target_of(variable: &str) -> Option<String> {
    let lower = variable.to_ascii_lowercase();
    if !lower.starts_with(NAME_PREFIX) {
        return None;
    }
    let with_sep = NAME_PREFIX.len() + 1;
    if lower.len() > with_sep && lower.as_bytes()[NAME_PREFIX.len()] == b'_' {
        Some(variable[with_sep..].to_owned())
    } else {
        Some(variable.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_prefixed_names_and_values() {
        let env = Environment::new(
            [
                ("LITELLM_SECRET_AWS_KMS_OPENAI_API_KEY", "AQID"),
                ("litellm_secret_aws_kms_lower", "AQID"),
                ("DATABASE_URL", "aws_kms/AQID"),
                ("PLAIN", "value"),
                ("LITELLM_SECRET_AWS_KMS", "AQID"),
            ],
            vec![],
        );
        let found: Vec<_> = Envelopes::scan(&env)
            .iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        assert_eq!(
            found,
            [
                ("DATABASE_URL".to_owned(), "DATABASE_URL".to_owned()),
                ("LITELLM_SECRET_AWS_KMS".to_owned(), "LITELLM_SECRET_AWS_KMS".to_owned()),
                (
                    "OPENAI_API_KEY".to_owned(),
                    "LITELLM_SECRET_AWS_KMS_OPENAI_API_KEY".to_owned()
                ),
                ("lower".to_owned(), "litellm_secret_aws_kms_lower".to_owned()),
            ]
        );
    }

    #[test]
    fn switch_is_exactly_true() {
        for (value, on) in [("True", true), ("true", false), ("1", false)] {
            assert_eq!(Envelopes::switched_on(&Environment::new([(SWITCH, value)], vec![])), on);
        }
    }
}
