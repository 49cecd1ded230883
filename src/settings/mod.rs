//! `general_settings.key_management_system` and `key_management_settings`, typed.
//!
//! Field names, types and defaults are LiteLLM's (`KeyManagementSettings`). LiteLLM resolves
//! `os.environ/` values in these settings against the real environment before it starts the
//! secret manager; osenv does the same with the local environment (process plus
//! `--env-file`). Unlike LiteLLM, unknown fields are reported (LiteLLM drops them silently, which
//! hides typos such as `hosted_key`), and a wrong type is an error, not a surprise later.
//!
//! The options are grouped by the backend that uses them ([`AwsOptions`], [`VaultOptions`],
//! [`AzureOptions`]), so each backend is handed only its own.

pub mod envelope;
mod reader;
mod system;

pub use system::{AccessMode, KeyManagementSystem};

use crate::document::Document;
use crate::environment::Environment;
use crate::error::ConfigError;
use crate::location::Location;
use std::collections::BTreeMap;

/// LiteLLM's `KeyManagementSettings`, with its defaults.
#[derive(Debug, Clone)]
pub struct KeyManagementSettings {
    /// When set, only these names are read from the manager; the rest come from the environment.
    pub hosted_keys: Option<Vec<String>>,
    /// LiteLLM writes virtual keys to the manager.
    pub store_virtual_keys: bool,
    /// Prefix of stored names (`litellm/`).
    pub prefix_for_stored_virtual_keys: String,
    /// Read/write gating.
    pub access_mode: AccessMode,
    /// What written secrets are labelled with (AWS, Vault and Azure writes).
    pub written: WrittenSecrets,
    /// AWS Secrets Manager and KMS.
    pub aws: AwsOptions,
    /// HashiCorp Vault (osenv's own options; LiteLLM has none).
    pub vault: VaultOptions,
    /// Azure Key Vault (osenv's own options).
    pub azure: AzureOptions,
}

/// Labels given to secrets osenv writes.
#[derive(Debug, Clone, Default)]
pub struct WrittenSecrets {
    /// `description`.
    pub description: Option<String>,
    /// `tags`.
    pub tags: Option<BTreeMap<String, String>>,
}

/// A string setting and how messages show it: a value read from the environment through
/// `os.environ/NAME` is shown as that reference, never echoed (it may be any variable, a
/// secret too); a literal is shown as itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Shown {
    /// The value.
    pub value: String,
    /// The reference it was read through, if any.
    reference: Option<String>,
}

impl Shown {
    /// A literal setting.
    pub fn literal(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            reference: None,
        }
    }

    /// A setting read through `reference`.
    pub fn read_through(value: String, reference: String) -> Self {
        Self {
            value,
            reference: Some(reference),
        }
    }

    /// What messages show.
    pub fn shown(&self) -> &str {
        self.reference.as_deref().unwrap_or(&self.value)
    }
}

impl std::fmt::Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.shown())
    }
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.shown())
    }
}

/// The AWS fields of `key_management_settings` (LiteLLM's names without the `aws_` prefix).
#[derive(Debug, Clone)]
pub struct AwsOptions {
    /// `primary_secret_name`: one JSON secret that holds many keys.
    pub primary_secret_name: Option<Shown>,
    /// `kms_key_id`: the KMS key for new secrets.
    pub kms_key_id: Option<String>,
    /// `aws_region_name`.
    pub region_name: Option<String>,
    /// `aws_role_name`: a role to assume.
    pub role_name: Option<String>,
    /// `aws_session_name`: the session name for the assumed role.
    pub session_name: Option<String>,
    /// `aws_external_id`: the external id for the assumed role.
    pub external_id: Option<String>,
    /// `aws_profile_name`.
    pub profile_name: Option<String>,
    /// `aws_web_identity_token` (only as the operator allows: see `trust`).
    pub web_identity_token: Option<crate::secret::SecretValue>,
    /// `aws_sts_endpoint`.
    pub sts_endpoint: Option<String>,
    /// `replica_regions`: regions new secrets are replicated to.
    pub replica_regions: Option<Vec<String>>,
    /// `aws_batch_reads` (osenv only; LiteLLM ignores it): read with `BatchGetSecretValue`
    /// (default) or, when false, with one `GetSecretValue` per secret.
    pub batch_reads: bool,
}

impl Default for AwsOptions {
    fn default() -> Self {
        Self {
            primary_secret_name: None,
            kms_key_id: None,
            region_name: None,
            role_name: None,
            session_name: None,
            external_id: None,
            profile_name: None,
            web_identity_token: None,
            sts_endpoint: None,
            replica_regions: None,
            batch_reads: true,
        }
    }
}

/// The Vault fields of `key_management_settings` (osenv only).
#[derive(Debug, Clone)]
pub struct VaultOptions {
    /// `vault_field`: the field read when a reference names none (LiteLLM: `key`).
    pub field: Shown,
    /// `vault_kv_version`: the KV engine version of the mount, 1 or 2 (LiteLLM: 2 only).
    pub kv_version: u8,
}

impl Default for VaultOptions {
    fn default() -> Self {
        Self {
            field: Shown::literal("key"),
            kv_version: 2,
        }
    }
}

/// The Azure fields of `key_management_settings` (osenv only).
#[derive(Debug, Clone, Default)]
pub struct AzureOptions {
    /// `azure_map_to_dashes`: map `_` and `/` in names to `-`, the only separator Key Vault allows.
    pub map_to_dashes: bool,
}

/// LiteLLM's default `prefix_for_stored_virtual_keys`.
const DEFAULT_PREFIX: &str = "litellm/";

impl Default for KeyManagementSettings {
    fn default() -> Self {
        Self {
            hosted_keys: None,
            store_virtual_keys: false,
            prefix_for_stored_virtual_keys: DEFAULT_PREFIX.into(),
            access_mode: AccessMode::ReadOnly,
            written: WrittenSecrets::default(),
            aws: AwsOptions::default(),
            vault: VaultOptions::default(),
            azure: AzureOptions::default(),
        }
    }
}

impl KeyManagementSettings {
    /// The stored name for `name` in `system`: the prefix, a `/` unless the prefix ends with
    /// one, the name (LiteLLM's `_get_secret_name`). Azure Key Vault and Google Secret Manager
    /// names cannot hold a `/` (and LiteLLM never writes to them, so the rule there is osenv's):
    /// the prefix's `/` become `-`, and it is joined with `-` unless it ends with one, so the
    /// default `litellm/` stores `litellm-NAME`.
    pub fn stored_name(&self, name: &str, system: Option<KeyManagementSystem>) -> String {
        let prefix = &self.prefix_for_stored_virtual_keys;
        if matches!(
            system,
            Some(KeyManagementSystem::AzureKeyVault | KeyManagementSystem::GoogleSecretManager)
        ) {
            let prefix = prefix.replace('/', "-");
            return if prefix.is_empty() || prefix.ends_with('-') {
                format!("{prefix}{name}")
            } else {
                format!("{prefix}-{name}")
            };
        }
        if prefix.is_empty() || prefix.ends_with('/') {
            format!("{prefix}{name}")
        } else {
            format!("{prefix}/{name}")
        }
    }
}

/// A settings problem that does not stop the run.
#[derive(Debug, Clone)]
pub struct SettingWarning {
    /// Where in the config.
    pub location: Location,
    /// What is wrong, in words.
    pub message: String,
}

impl std::fmt::Display for SettingWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// The selected manager and where the config selects it.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The manager.
    pub system: KeyManagementSystem,
    /// The `key_management_system` value (or the deprecated flag) that selects it.
    pub location: Location,
}

/// Names LiteLLM's AWS Secrets Manager client never asks AWS for: it needs them to sign its own
/// requests, so `AWSSecretsManagerV2.sync_read_secret` returns `os.getenv(name)` for them (a
/// Bedrock entry's `aws_region_name: os.environ/AWS_REGION_NAME` is read from the environment).
/// No other manager of LiteLLM's has such names.
pub const AWS_ENVIRONMENT_NAMES: [&str; 5] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION_NAME",
    "AWS_REGION",
    "AWS_BEDROCK_RUNTIME_ENDPOINT",
];

/// The secret-manager part of a config.
#[derive(Debug, Clone, Default)]
pub struct KeyManagement {
    /// The selected manager; `None` reads everything from the environment.
    pub selected: Option<Selected>,
    /// The settings.
    pub settings: KeyManagementSettings,
    /// Each `hosted_keys` name and where it is written.
    pub hosted: Vec<(String, Location)>,
    /// Unknown fields and settings that have no effect.
    pub warnings: Vec<SettingWarning>,
}

impl KeyManagement {
    /// The selected manager, if any.
    pub fn system(&self) -> Option<KeyManagementSystem> {
        self.selected.as_ref().map(|s| s.system)
    }

    /// A manager is selected and reads go to it.
    pub fn reads_from_manager(&self) -> bool {
        self.selected.is_some() && self.settings.access_mode.reads()
    }

    /// The names LiteLLM would send to the manager.
    pub fn routes_to_manager(&self, name: &str) -> bool {
        self.reads_from_manager()
            && !(self.system() == Some(KeyManagementSystem::AwsSecretManager) && AWS_ENVIRONMENT_NAMES.contains(&name))
            && self
                .settings
                .hosted_keys
                .as_ref()
                .is_none_or(|keys| keys.iter().any(|k| k == name))
    }

    /// Read the settings from `doc`, resolving `os.environ/` values in them from `env`.
    pub fn from_document(doc: &Document, env: &Environment) -> Result<Self, Vec<ConfigError>> {
        reader::Reader { doc, env }.key_management()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn km(src: &str, env: &[(&str, &str)]) -> Result<KeyManagement, Vec<ConfigError>> {
        let doc = Document::parse("c.yaml", src.to_owned()).unwrap();
        KeyManagement::from_document(&doc, &Environment::new(env.iter().copied(), vec![]))
    }

    #[test]
    fn defaults_match_litellm() {
        let k = km("general_settings:\n  master_key: x\n", &[]).unwrap();
        assert_eq!(k.system(), None);
        assert_eq!(k.settings.prefix_for_stored_virtual_keys, "litellm/");
        assert_eq!(k.settings.access_mode, AccessMode::ReadOnly);
        assert!(!k.settings.store_virtual_keys);
        assert_eq!(k.settings.stored_name("a", k.system()), "litellm/a");
        for system in [
            KeyManagementSystem::AzureKeyVault,
            KeyManagementSystem::GoogleSecretManager,
        ] {
            assert_eq!(k.settings.stored_name("a", Some(system)), "litellm-a");
        }
    }

    #[test]
    fn reads_every_field_and_env_references() {
        let k = km(
            "general_settings:\n  key_management_system: os.environ/KMS\n  key_management_settings:\n    hosted_keys: [A, B]\n    \
             store_virtual_keys: yes\n    access_mode: read_and_write\n    prefix_for_stored_virtual_keys: team\n    tags: {env: prod}\n    \
             aws_region_name: os.environ/REGION\n    hosted_key: typo\n",
            &[("KMS", "aws_secret_manager"), ("REGION", "eu-west-1")],
        )
        .unwrap();
        assert_eq!(k.system(), Some(KeyManagementSystem::AwsSecretManager));
        assert_eq!(
            k.settings.hosted_keys.as_deref(),
            Some(&["A".to_owned(), "B".to_owned()][..])
        );
        assert!(k.settings.store_virtual_keys);
        assert_eq!(k.settings.access_mode, AccessMode::ReadAndWrite);
        assert_eq!(k.settings.stored_name("x", None), "team/x");
        let dashed = KeyManagementSettings {
            prefix_for_stored_virtual_keys: "bar-".into(),
            ..KeyManagementSettings::default()
        };
        assert_eq!(
            dashed.stored_name("x", Some(KeyManagementSystem::AzureKeyVault)),
            "bar-x"
        );
        let nested = KeyManagementSettings {
            prefix_for_stored_virtual_keys: "team/litellm".into(),
            ..KeyManagementSettings::default()
        };
        assert_eq!(
            nested.stored_name("x", Some(KeyManagementSystem::GoogleSecretManager)),
            "team-litellm-x"
        );
        assert_eq!(k.settings.aws.region_name.as_deref(), Some("eu-west-1"));
        assert_eq!(k.warnings.len(), 1);
        assert!(k.warnings[0].message.contains("hosted_key"));
        assert!(k.routes_to_manager("A") && !k.routes_to_manager("C"));
    }

    #[test]
    fn bad_values_are_located_errors() {
        let e = km("general_settings:\n  key_management_system: vault\n", &[]).unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "c.yaml:2:26: unknown key_management_system `vault`; expected one of: aws_secret_manager, aws_kms, hashicorp_vault, azure_key_vault, google_secret_manager, google_kms, cyberark"
        );
        let e = km("general_settings:\n  key_management_system: local\n", &[]).unwrap_err();
        assert!(e[0].to_string().contains("rejected by LiteLLM"));
        let e = km(
            "general_settings:\n  key_management_settings:\n    hosted_keys: A\n    access_mode: sometimes\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.len(), 2);
        assert!(e[0].to_string().starts_with("c.yaml:3:18: invalid `hosted_keys`"));
        let e = km("general_settings:\n  key_management_system: os.environ/KMS\n", &[]).unwrap_err();
        assert!(e[0].to_string().contains("cannot resolve `os.environ/KMS`"));
    }

    #[test]
    fn write_only_reads_from_the_environment() {
        let k = km("general_settings:\n  key_management_system: hashicorp_vault\n  key_management_settings: {access_mode: write_only}\n", &[])
            .unwrap();
        assert!(!k.reads_from_manager());
        assert!(!k.routes_to_manager("A"));
    }

    #[test]
    fn aws_reads_its_own_variables_from_the_environment() {
        let k = km(
            "general_settings:\n  key_management_system: aws_secret_manager\n",
            &[("AWS_REGION_NAME", "us-east-1")],
        )
        .unwrap();
        assert!(!k.routes_to_manager("AWS_REGION_NAME"));
        assert!(!k.routes_to_manager("AWS_BEDROCK_RUNTIME_ENDPOINT"));
        assert!(k.routes_to_manager("OPENAI_API_KEY"));
        let vault = km("general_settings:\n  key_management_system: hashicorp_vault\n", &[]).unwrap();
        assert!(vault.routes_to_manager("AWS_REGION_NAME"));
    }

    #[test]
    fn the_operator_names_the_manager_of_a_config_that_names_none() {
        let var = [("OSENV_KEY_MANAGEMENT_SYSTEM", "hashicorp_vault")];
        for src in ["model_list: []\n", "general_settings:\n  master_key: os.environ/K\n"] {
            let k = km(src, &var).unwrap();
            assert_eq!(k.system(), Some(KeyManagementSystem::HashicorpVault), "{src}");
        }
        // The same name in both is fine; another one is an error at the config's value.
        km("general_settings:\n  key_management_system: hashicorp_vault\n", &var).unwrap();
        let e = km("general_settings:\n  key_management_system: aws_kms\n", &var).unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "c.yaml:2:26: invalid `key_management_system`: `aws_kms` is not the `hashicorp_vault` that OSENV_KEY_MANAGEMENT_SYSTEM names; remove one of them"
        );
        // From an env file it is not the operator's word: ignored.
        let doc = Document::parse("c.yaml", "model_list: []\n".to_owned()).unwrap();
        let file =
            crate::environment::DotenvFile::parse(".env", "OSENV_KEY_MANAGEMENT_SYSTEM=hashicorp_vault\n").unwrap();
        let k =
            KeyManagement::from_document(&doc, &Environment::new(Vec::<(String, String)>::new(), vec![file])).unwrap();
        assert_eq!(k.system(), None);
        let e = km("model_list: []\n", &[("OSENV_KEY_MANAGEMENT_SYSTEM", "vault")]).unwrap_err();
        assert!(e[0].to_string().starts_with("c.yaml:1:1: invalid `OSENV_KEY_MANAGEMENT_SYSTEM`: `vault` is not a key_management_system; expected one of: aws_secret_manager"), "{}", e[0]);
    }
}
