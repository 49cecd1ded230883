//! `general_settings.key_management_system` and `key_management_settings`, typed.
//!
//! Field names, types and defaults are LiteLLM's (`KeyManagementSettings`). LiteLLM resolves
//! `os.environ/` values in these settings against the real environment before it starts the
//! secret manager; osenv does the same with the local environment (process plus
//! `--env-file`). Unlike LiteLLM, unknown fields are reported (LiteLLM drops them silently, which
//! hides typos such as `hosted_key`), and a wrong type is an error, not a surprise later.

use crate::backend::Environment;
use crate::document::{Document, NodeId, NodeKind, ScalarStyle};
use crate::error::ConfigError;
use crate::location::Location;
use crate::reference;
use std::collections::BTreeMap;

/// The secret managers osenv knows, by LiteLLM's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyManagementSystem {
    /// AWS Secrets Manager.
    AwsSecretManager,
    /// AWS KMS decryption of environment values.
    AwsKms,
    /// HashiCorp Vault / OpenBao KV.
    HashicorpVault,
    /// Azure Key Vault secrets.
    AzureKeyVault,
    /// Google Secret Manager.
    GoogleSecretManager,
    /// Google Cloud KMS decryption of environment values.
    GoogleKms,
}

/// The accepted values, as listed in errors.
pub const VALID_SYSTEMS: &str =
    "aws_secret_manager, aws_kms, hashicorp_vault, azure_key_vault, google_secret_manager, google_kms";

impl KeyManagementSystem {
    /// LiteLLM's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwsSecretManager => "aws_secret_manager",
            Self::AwsKms => "aws_kms",
            Self::HashicorpVault => "hashicorp_vault",
            Self::AzureKeyVault => "azure_key_vault",
            Self::GoogleSecretManager => "google_secret_manager",
            Self::GoogleKms => "google_kms",
        }
    }

    fn parse(value: &str) -> Result<Self, Option<&'static str>> {
        Ok(match value {
            "aws_secret_manager" => Self::AwsSecretManager,
            "aws_kms" => Self::AwsKms,
            "hashicorp_vault" => Self::HashicorpVault,
            "azure_key_vault" => Self::AzureKeyVault,
            "google_secret_manager" => Self::GoogleSecretManager,
            "google_kms" => Self::GoogleKms,
            "local" => {
                return Err(Some(
                    "is rejected by LiteLLM (\"Invalid Key Management System selected\"); remove key_management_system to read from the environment",
                ));
            }
            "cyberark" | "custom" => {
                return Err(Some("is a LiteLLM secret manager that osenv does not support"));
            }
            _ => return Err(None),
        })
    }
}

/// `access_mode`: which direction LiteLLM uses the manager for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessMode {
    /// Read from the manager, never write (LiteLLM's default).
    #[default]
    ReadOnly,
    /// Only write; every read comes from the environment.
    WriteOnly,
    /// Both.
    ReadAndWrite,
}

impl AccessMode {
    /// LiteLLM's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read_only",
            Self::WriteOnly => "write_only",
            Self::ReadAndWrite => "read_and_write",
        }
    }

    /// Reads go to the manager.
    pub fn reads(self) -> bool {
        self != Self::WriteOnly
    }

    /// Writes are allowed.
    pub fn writes(self) -> bool {
        self != Self::ReadOnly
    }
}

/// LiteLLM's `KeyManagementSettings`, with its defaults.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyManagementSettings {
    /// When set, only these names are read from the manager; the rest come from the environment.
    pub hosted_keys: Option<Vec<String>>,
    /// LiteLLM writes virtual keys to the manager.
    pub store_virtual_keys: bool,
    /// Prefix of stored names (`litellm/`).
    pub prefix_for_stored_virtual_keys: String,
    /// Read/write gating.
    pub access_mode: AccessMode,
    /// AWS: one JSON secret that holds many keys.
    pub primary_secret_name: Option<String>,
    /// Description given to written secrets.
    pub description: Option<String>,
    /// Tags given to written secrets.
    pub tags: Option<BTreeMap<String, String>>,
    /// AWS: KMS key for new secrets.
    pub kms_key_id: Option<String>,
    /// AWS: region.
    pub aws_region_name: Option<String>,
    /// AWS: role to assume.
    pub aws_role_name: Option<String>,
    /// AWS: session name for the assumed role.
    pub aws_session_name: Option<String>,
    /// AWS: external id for the assumed role.
    pub aws_external_id: Option<String>,
    /// AWS: profile.
    pub aws_profile_name: Option<String>,
    /// AWS: web identity token.
    pub aws_web_identity_token: Option<String>,
    /// AWS: STS endpoint.
    pub aws_sts_endpoint: Option<String>,
    /// AWS: regions to replicate new secrets to.
    pub replica_regions: Option<Vec<String>>,
    /// AWS (osenv only; LiteLLM ignores it): read with `BatchGetSecretValue` (default) or, when
    /// false, with one `GetSecretValue` per secret.
    pub aws_batch_reads: bool,
    /// Vault (osenv only): the field read when a reference names none (LiteLLM: `key`).
    pub vault_field: String,
    /// Vault (osenv only): the KV engine version of the mount, 1 or 2 (LiteLLM: 2 only).
    pub vault_kv_version: u8,
    /// Azure (osenv only): map `_` and `/` in names to `-`, the only separator Key Vault allows.
    pub azure_map_to_dashes: bool,
}

impl Default for KeyManagementSettings {
    fn default() -> Self {
        Self {
            hosted_keys: None,
            store_virtual_keys: false,
            prefix_for_stored_virtual_keys: "litellm/".into(),
            access_mode: AccessMode::ReadOnly,
            primary_secret_name: None,
            description: None,
            tags: None,
            kms_key_id: None,
            aws_region_name: None,
            aws_role_name: None,
            aws_session_name: None,
            aws_external_id: None,
            aws_profile_name: None,
            aws_web_identity_token: None,
            aws_sts_endpoint: None,
            replica_regions: None,
            aws_batch_reads: true,
            vault_field: "key".into(),
            vault_kv_version: 2,
            azure_map_to_dashes: false,
        }
    }
}

impl KeyManagementSettings {
    /// The stored name for `name`: the prefix, a `/` unless the prefix ends with one, the name
    /// (LiteLLM's `_get_secret_name`).
    pub fn stored_name(&self, name: &str) -> String {
        let prefix = &self.prefix_for_stored_virtual_keys;
        if prefix.is_empty() || prefix.ends_with('/') {
            format!("{prefix}{name}")
        } else {
            format!("{prefix}/{name}")
        }
    }
}

/// A settings problem that does not stop the run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SettingWarning {
    /// Where.
    pub location: Location,
    /// What.
    pub message: String,
}

impl std::fmt::Display for SettingWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// The secret-manager part of a config.
#[derive(Debug, Clone, Default)]
pub struct KeyManagement {
    /// The selected manager; `None` reads everything from the environment.
    pub system: Option<KeyManagementSystem>,
    /// Where it was selected.
    pub system_location: Option<Location>,
    /// The settings.
    pub settings: KeyManagementSettings,
    /// Each `hosted_keys` name and where it is written.
    pub hosted: Vec<(String, Location)>,
    /// Unknown fields and settings that have no effect.
    pub warnings: Vec<SettingWarning>,
}

impl KeyManagement {
    /// Names whose reads go to the manager: `Some(list)` restricts, `None` means every name.
    /// Empty when no manager reads at all.
    pub fn reads_from_manager(&self) -> bool {
        self.system.is_some() && self.settings.access_mode.reads()
    }

    /// The names LiteLLM would send to the manager.
    pub fn routes_to_manager(&self, name: &str) -> bool {
        self.reads_from_manager()
            && self
                .settings
                .hosted_keys
                .as_ref()
                .is_none_or(|keys| keys.iter().any(|k| k == name))
    }

    /// Read the settings from `doc`, resolving `os.environ/` values in them from `env`.
    pub fn from_document(doc: &Document, env: &Environment) -> Result<Self, Vec<ConfigError>> {
        let mut km = Self::default();
        let mut errors = Vec::new();
        let Some(general) = doc.get(doc.root(), "general_settings") else {
            return Ok(km);
        };
        let general = general.value;
        let reader = Reader { doc, env };

        let mut system_value = None;
        if let Some(entry) = doc.get(general, "key_management_system") {
            match reader.string(entry.value, "key_management_system") {
                Ok(Some(value)) => {
                    // A value read from the environment is not echoed in messages.
                    let written = doc.scalar(entry.value).filter(|v| reference::name_of(v).is_some());
                    let shown = written.map_or_else(|| value.clone(), |w| format!("{w}` (value not shown) `"));
                    system_value = Some((value, doc.location(entry.value), shown));
                }
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        for (flag, system) in [
            ("use_google_kms", "google_kms"),
            ("use_azure_key_vault", "azure_key_vault"),
        ] {
            if let Some(entry) = doc.get(general, flag) {
                match reader.bool(entry.value, flag) {
                    Ok(Some(true)) if system_value.is_none() => {
                        system_value = Some((system.to_owned(), doc.location(entry.value), system.to_owned()));
                        km.warnings.push(SettingWarning {
                            location: doc.location(entry.key),
                            message: format!(
                                "`{flag}` is deprecated in LiteLLM; write `key_management_system: {system}`"
                            ),
                        });
                    }
                    Ok(_) => {}
                    Err(e) => errors.push(e),
                }
            }
        }
        if let Some((value, location, shown)) = system_value {
            match KeyManagementSystem::parse(&value) {
                Ok(system) => {
                    km.system = Some(system);
                    km.system_location = Some(location);
                }
                Err(Some(why)) => errors.push(ConfigError::UnsupportedBackend {
                    location,
                    value: shown,
                    why,
                }),
                Err(None) => errors.push(ConfigError::UnknownBackend {
                    location,
                    value: shown,
                    valid: VALID_SYSTEMS,
                }),
            }
        }

        if let Some(entry) = doc.get(general, "key_management_settings") {
            if let Err(mut e) = reader.settings(entry.value, &mut km) {
                errors.append(&mut e);
            }
            if km.system.is_none() {
                km.warnings.push(SettingWarning {
                    location: doc.location(entry.key),
                    message: "key_management_settings has no effect without key_management_system".into(),
                });
            }
        }
        if errors.is_empty() {
            Ok(km)
        } else {
            errors.sort_by(|a, b| a.location().cmp(&b.location()));
            Err(errors)
        }
    }
}

struct Reader<'a> {
    doc: &'a Document,
    env: &'a Environment,
}

/// PyYAML's booleans (YAML 1.1), since LiteLLM loads configs with PyYAML.
fn plain_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn plain_null(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

impl Reader<'_> {
    fn invalid(&self, id: NodeId, setting: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::InvalidSetting {
            location: self.doc.location(id),
            setting: setting.to_owned(),
            reason: reason.into(),
        }
    }

    /// A scalar's value with its YAML style, through aliases.
    fn scalar(&self, id: NodeId) -> Option<(&str, ScalarStyle)> {
        match self.doc.node(self.doc.resolve_alias(id)).kind {
            NodeKind::Scalar { style } => Some((self.doc.scalar(id)?, style)),
            _ => None,
        }
    }

    /// A string setting; `null` is `None`; `os.environ/X` is read from the environment.
    fn string(&self, id: NodeId, setting: &str) -> Result<Option<String>, ConfigError> {
        let Some((value, style)) = self.scalar(id) else {
            return Err(self.invalid(id, setting, "expected a string"));
        };
        if style == ScalarStyle::Plain && plain_null(value) {
            return Ok(None);
        }
        match reference::name_of(value) {
            Some(name) => match self.env.get(&name) {
                Ok(v) => Ok(Some(v.expose().to_owned())),
                Err(cause) => Err(ConfigError::SettingReference {
                    location: self.doc.location(id),
                    written: self.doc.source(self.doc.resolve_alias(id)).to_owned(),
                    cause,
                }),
            },
            None => Ok(Some(value.to_owned())),
        }
    }

    fn bool(&self, id: NodeId, setting: &str) -> Result<Option<bool>, ConfigError> {
        let Some((value, style)) = self.scalar(id) else {
            return Err(self.invalid(id, setting, "expected true or false"));
        };
        if style == ScalarStyle::Plain && plain_null(value) {
            return Ok(None);
        }
        let text = if let Some(name) = reference::name_of(value) {
            self.string(id, setting)?.unwrap_or(name)
        } else {
            value.to_owned()
        };
        let parsed = if style == ScalarStyle::Plain || reference::name_of(value).is_some() {
            plain_bool(&text)
        } else {
            None
        };
        parsed
            .map(Some)
            .ok_or_else(|| self.invalid(id, setting, "expected true or false"))
    }

    /// A plain `null`, `~` or empty value, through aliases.
    fn is_null(&self, id: NodeId) -> bool {
        matches!(self.scalar(id), Some((value, ScalarStyle::Plain)) if plain_null(value))
    }

    fn list(&self, id: NodeId, setting: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let target = self.doc.resolve_alias(id);
        match self.doc.items(target) {
            _ if self.is_null(target) => Ok(None),
            Some(items) => items
                .iter()
                .map(|&item| {
                    self.string(item, setting)?
                        .ok_or_else(|| self.invalid(item, setting, "expected a string, found null"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            _ => Err(self.invalid(id, setting, "expected a list of strings")),
        }
    }

    fn map(&self, id: NodeId, setting: &str) -> Result<Option<BTreeMap<String, String>>, ConfigError> {
        let target = self.doc.resolve_alias(id);
        match self.doc.entries(target) {
            _ if self.is_null(target) => Ok(None),
            Some(entries) => {
                let mut out = BTreeMap::new();
                for e in entries {
                    let key = self.string(e.key, setting)?.unwrap_or_default();
                    let value = self.string(e.value, setting)?.unwrap_or_default();
                    out.insert(key, value);
                }
                Ok(Some(out))
            }
            _ => Err(self.invalid(id, setting, "expected a mapping of strings")),
        }
    }

    fn settings(&self, id: NodeId, km: &mut KeyManagement) -> Result<(), Vec<ConfigError>> {
        let target = self.doc.resolve_alias(id);
        let entries = match self.doc.entries(target) {
            _ if self.is_null(target) => return Ok(()),
            Some(entries) => entries,
            _ => {
                return Err(vec![self.invalid(id, "key_management_settings", "expected a mapping")]);
            }
        };
        let mut errors = Vec::new();
        for e in entries {
            let Some(key) = self.doc.scalar(e.key) else {
                continue;
            };
            let v = e.value;
            let s = &mut km.settings;
            let mut hosted = None;
            let mut warning = None;
            let result: Result<(), ConfigError> = (|| {
                match key {
                    "hosted_keys" => {
                        s.hosted_keys = self.list(v, key)?;
                        if let (Some(names), Some(items)) = (&s.hosted_keys, self.doc.items(v)) {
                            hosted = Some(
                                names
                                    .iter()
                                    .cloned()
                                    .zip(items.iter().map(|&i| self.doc.location(i)))
                                    .collect(),
                            );
                        }
                    }
                    "store_virtual_keys" => s.store_virtual_keys = self.bool(v, key)?.unwrap_or(false),
                    "prefix_for_stored_virtual_keys" => {
                        s.prefix_for_stored_virtual_keys = self.string(v, key)?.unwrap_or_else(|| "litellm/".into());
                    }
                    "access_mode" => {
                        s.access_mode = match self.string(v, key)?.as_deref() {
                            None | Some("read_only") => AccessMode::ReadOnly,
                            Some("write_only") => AccessMode::WriteOnly,
                            Some("read_and_write") => AccessMode::ReadAndWrite,
                            Some(_) => {
                                return Err(self.invalid(
                                    v,
                                    key,
                                    // As written: a value read from the environment is not echoed.
                                    format!(
                                        "`{}`; expected read_only, write_only or read_and_write",
                                        self.doc.source(self.doc.resolve_alias(v))
                                    ),
                                ));
                            }
                        }
                    }
                    "primary_secret_name" => s.primary_secret_name = self.string(v, key)?,
                    "description" => s.description = self.string(v, key)?,
                    "tags" => s.tags = self.map(v, key)?,
                    "kms_key_id" => s.kms_key_id = self.string(v, key)?,
                    "aws_region_name" => s.aws_region_name = self.string(v, key)?,
                    "aws_role_name" => s.aws_role_name = self.string(v, key)?,
                    "aws_session_name" => s.aws_session_name = self.string(v, key)?,
                    "aws_external_id" => s.aws_external_id = self.string(v, key)?,
                    "aws_profile_name" => s.aws_profile_name = self.string(v, key)?,
                    "aws_web_identity_token" => s.aws_web_identity_token = self.string(v, key)?,
                    "aws_sts_endpoint" => s.aws_sts_endpoint = self.string(v, key)?,
                    "replica_regions" => s.replica_regions = self.list(v, key)?,
                    "aws_batch_reads" => s.aws_batch_reads = self.bool(v, key)?.unwrap_or(true),
                    "azure_map_to_dashes" => s.azure_map_to_dashes = self.bool(v, key)?.unwrap_or(false),
                    "vault_field" => match self.string(v, key)? {
                        Some(field) if field.trim().is_empty() => {
                            return Err(self.invalid(v, key, "the field name is empty"));
                        }
                        field => s.vault_field = field.unwrap_or_else(|| "key".into()),
                    },
                    "vault_kv_version" => {
                        s.vault_kv_version = match self.string(v, key)?.as_deref().map(str::trim) {
                            None | Some("2") => 2,
                            Some("1") => 1,
                            Some(_) => return Err(self.invalid(v, key, "expected 1 or 2")),
                        }
                    }
                    "custom_secret_manager" => {}
                    other => {
                        warning = Some(SettingWarning {
                            location: self.doc.location(e.key),
                            message: format!("unknown key_management_settings field `{other}` (LiteLLM ignores it)"),
                        });
                    }
                }
                Ok(())
            })();
            if let Some(h) = hosted {
                km.hosted = h;
            }
            km.warnings.extend(warning);
            if let Err(e) = result {
                errors.push(e);
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
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
        assert_eq!(k.system, None);
        assert_eq!(k.settings.prefix_for_stored_virtual_keys, "litellm/");
        assert_eq!(k.settings.access_mode, AccessMode::ReadOnly);
        assert!(!k.settings.store_virtual_keys);
        assert_eq!(k.settings.stored_name("a"), "litellm/a");
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
        assert_eq!(k.system, Some(KeyManagementSystem::AwsSecretManager));
        assert_eq!(
            k.settings.hosted_keys.as_deref(),
            Some(&["A".to_owned(), "B".to_owned()][..])
        );
        assert!(k.settings.store_virtual_keys);
        assert_eq!(k.settings.access_mode, AccessMode::ReadAndWrite);
        assert_eq!(k.settings.stored_name("x"), "team/x");
        assert_eq!(k.settings.aws_region_name.as_deref(), Some("eu-west-1"));
        assert_eq!(k.warnings.len(), 1);
        assert!(k.warnings[0].message.contains("hosted_key"));
        assert!(k.routes_to_manager("A") && !k.routes_to_manager("C"));
    }

    #[test]
    fn bad_values_are_located_errors() {
        let e = km("general_settings:\n  key_management_system: vault\n", &[]).unwrap_err();
        assert_eq!(
            e[0].to_string(),
            format!("c.yaml:2:26: unknown key_management_system `vault`; expected one of: {VALID_SYSTEMS}")
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
}
