//! Reading `general_settings` into [`KeyManagement`]: scalars with PyYAML's meaning, `os.environ/`
//! values from the environment, and one reader per group of fields.

use super::{
    AccessMode, AwsOptions, AzureOptions, KeyManagement, KeyManagementSystem, Selected, SettingWarning, Shown,
    VaultOptions,
};
use crate::document::{Document, NodeId, NodeKind, ScalarStyle};
use crate::environment::Environment;
use crate::environment::Origin;
use crate::error::ConfigError;
use crate::references;
use crate::trust;
use std::collections::BTreeMap;

pub(super) struct Reader<'a> {
    pub(super) doc: &'a Document,
    pub(super) env: &'a Environment,
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

/// Names the manager for a config that names none (`osenv exec` recipes: the proxy reads the
/// same config and must not set a manager up itself).
pub const SYSTEM_VARIABLE: &str = "OSENV_KEY_MANAGEMENT_SYSTEM";

/// Whether a field name belongs to the group whose reader was asked.
type Known = bool;

impl Reader<'_> {
    pub(super) fn key_management(&self) -> Result<KeyManagement, Vec<ConfigError>> {
        let doc = self.doc;
        let mut km = KeyManagement::default();
        let mut errors = Vec::new();
        // The manager the operator names for a config that names none, so that the proxy
        // started by `osenv exec` can read the same file without setting up a manager itself.
        // The process environment's only: an env file from a repository does not pick a manager
        // for a config that names none.
        let operator_system = self.env.process_setting(SYSTEM_VARIABLE);
        let Some(general) = doc.get_merged(doc.root(), "general_settings") else {
            if let Some(value) = operator_system {
                km.selected = Some(self.operator_selected(&value)?);
            }
            return Ok(km);
        };
        let general = general.value;

        let mut system_value = None;
        if let Some(entry) = doc.get_merged(general, "key_management_system") {
            match self.string(entry.value, "key_management_system") {
                Ok(Some(value)) => {
                    // A value read from the environment is not echoed in messages.
                    let written = doc.scalar(entry.value).filter(|v| references::name_of(v).is_some());
                    let shown = written.map_or_else(|| value.clone(), |w| format!("{w}` (value not shown) `"));
                    system_value = Some((value, doc.location(entry.value), shown));
                }
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        for (flag, system) in [
            ("use_google_kms", KeyManagementSystem::GoogleKms),
            ("use_azure_key_vault", KeyManagementSystem::AzureKeyVault),
        ] {
            if let Some(entry) = doc.get_merged(general, flag) {
                match self.bool(entry.value, flag) {
                    // LiteLLM sets these managers up in `load_config`, after it has resolved
                    // the config's references from the plain environment; so does osenv.
                    Ok(Some(true)) => {
                        let name = system.as_str();
                        km.warnings.push(SettingWarning {
                            location: doc.location(entry.key),
                            message: format!(
                                "`{flag}` is deprecated in LiteLLM and set up only after the config's references are resolved, so they are read from the environment; write `key_management_system: {name}` to read them from {name}"
                            ),
                        });
                    }
                    Ok(_) => {}
                    Err(e) => errors.push(e),
                }
            }
        }
        match (&system_value, operator_system) {
            (None, Some(value)) => match self.operator_selected(&value) {
                Ok(selected) => km.selected = Some(selected),
                Err(mut e) => errors.append(&mut e),
            },
            (Some((written, location, shown)), Some(value))
                if KeyManagementSystem::from_name(written) != KeyManagementSystem::from_name(&value) =>
            {
                errors.push(ConfigError::InvalidSetting {
                    location: location.clone(),
                    setting: "key_management_system".into(),
                    reason: format!("`{shown}` is not the `{value}` that {SYSTEM_VARIABLE} names; remove one of them"),
                });
            }
            _ => {}
        }
        if let Some((value, location, shown)) = system_value {
            match KeyManagementSystem::from_name(&value) {
                Some(system) => km.selected = Some(Selected { system, location }),
                None => errors.push(match KeyManagementSystem::refusal(&value) {
                    Some(why) => ConfigError::UnsupportedBackend {
                        location,
                        value: shown,
                        why,
                    },
                    None => ConfigError::UnknownBackend {
                        location,
                        value: shown,
                        valid: KeyManagementSystem::NAMES,
                    },
                }),
            }
        }

        if let Some(entry) = doc.get_merged(general, "key_management_settings") {
            if let Err(mut e) = self.settings(entry.value, &mut km) {
                errors.append(&mut e);
            }
            if km.selected.is_none() {
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

    /// The manager `OSENV_KEY_MANAGEMENT_SYSTEM` names, located at the config's start.
    fn operator_selected(&self, value: &str) -> Result<Selected, Vec<ConfigError>> {
        let location = self.doc.location(self.doc.root());
        match KeyManagementSystem::from_name(value) {
            Some(system) => Ok(Selected { system, location }),
            None => Err(vec![ConfigError::InvalidSetting {
                location,
                setting: SYSTEM_VARIABLE.into(),
                reason: format!(
                    "`{value}` is not a key_management_system; expected one of: {}",
                    KeyManagementSystem::NAMES.join(", ")
                ),
            }]),
        }
    }

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
        match references::name_of(value) {
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

    /// [`Reader::string`], remembering the reference a value was read through so that messages
    /// show it instead of the value.
    fn shown(&self, id: NodeId, setting: &str) -> Result<Option<Shown>, ConfigError> {
        let value = self.string(id, setting)?;
        let written = self.doc.scalar(id).filter(|v| references::name_of(v).is_some());
        Ok(value.map(|value| match written {
            Some(reference) => Shown::read_through(value, reference.to_owned()),
            None => Shown::literal(value),
        }))
    }

    /// The value as written: the reference for a value read from the environment.
    fn written(&self, id: NodeId) -> &str {
        self.doc.source(self.doc.resolve_alias(id))
    }

    fn bool(&self, id: NodeId, setting: &str) -> Result<Option<bool>, ConfigError> {
        let Some((value, style)) = self.scalar(id) else {
            return Err(self.invalid(id, setting, "expected true or false"));
        };
        if style == ScalarStyle::Plain && plain_null(value) {
            return Ok(None);
        }
        let text = if let Some(name) = references::name_of(value) {
            self.string(id, setting)?.unwrap_or(name)
        } else {
            value.to_owned()
        };
        let parsed = if style == ScalarStyle::Plain || references::name_of(value).is_some() {
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

    /// `key_management_settings`: each field goes to the reader of its group; a field no group
    /// knows is a warning, a bad value an error (all of them collected).
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
            let known = self.common(key, e.value, km).and_then(|known| {
                Ok(known
                    || self.aws(key, e.value, &mut km.settings.aws)?
                    || self.vault(key, e.value, &mut km.settings.vault)?
                    || self.azure(key, e.value, &mut km.settings.azure)?)
            });
            match known {
                Ok(true) => {}
                Ok(false) => km.warnings.push(SettingWarning {
                    location: self.doc.location(e.key),
                    message: format!("unknown key_management_settings field `{key}` (LiteLLM ignores it)"),
                }),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// The fields every manager reads.
    fn common(&self, key: &str, v: NodeId, km: &mut KeyManagement) -> Result<Known, ConfigError> {
        let s = &mut km.settings;
        match key {
            "hosted_keys" => {
                s.hosted_keys = self.list(v, key)?;
                if let (Some(names), Some(items)) = (&s.hosted_keys, self.doc.items(v)) {
                    km.hosted = names
                        .iter()
                        .cloned()
                        .zip(items.iter().map(|&i| self.doc.location(i)))
                        .collect();
                }
            }
            "store_virtual_keys" => s.store_virtual_keys = self.bool(v, key)?.unwrap_or(false),
            "prefix_for_stored_virtual_keys" => {
                s.prefix_for_stored_virtual_keys = self.string(v, key)?.unwrap_or_else(|| super::DEFAULT_PREFIX.into());
            }
            "access_mode" => {
                s.access_mode = match self.string(v, key)?.as_deref() {
                    None => AccessMode::default(),
                    Some(name) => AccessMode::from_name(name).ok_or_else(|| {
                        self.invalid(
                            v,
                            key,
                            // As written: a value read from the environment is not echoed.
                            format!(
                                "`{}`; expected read_only, write_only or read_and_write",
                                self.doc.source(self.doc.resolve_alias(v))
                            ),
                        )
                    })?,
                }
            }
            "description" => s.written.description = self.string(v, key)?,
            "tags" => s.written.tags = self.map(v, key)?,
            // LiteLLM's hook for its own Python class; nothing osenv can use, nothing to warn of.
            "custom_secret_manager" => {}
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn aws(&self, key: &str, v: NodeId, aws: &mut AwsOptions) -> Result<Known, ConfigError> {
        match key {
            "primary_secret_name" => aws.primary_secret_name = self.shown(v, key)?,
            "kms_key_id" => aws.kms_key_id = self.string(v, key)?,
            "aws_region_name" => {
                aws.region_name = self.string(v, key)?;
                // It becomes a host name; shown as written (a value read from the
                // environment is not echoed).
                if aws.region_name.as_deref().is_some_and(|r| !trust::aws_region(r)) {
                    let reason = format!("`{}` is not an AWS region name (like `us-east-1`)", self.written(v));
                    return Err(self.invalid(v, key, reason));
                }
            }
            "aws_role_name" => aws.role_name = self.string(v, key)?,
            "aws_session_name" => aws.session_name = self.string(v, key)?,
            "aws_external_id" => aws.external_id = self.string(v, key)?,
            "aws_profile_name" => aws.profile_name = self.string(v, key)?,
            "aws_web_identity_token" => aws.web_identity_token = self.web_identity_token(v, key)?,
            "aws_sts_endpoint" => {
                aws.sts_endpoint = self.string(v, key)?;
                if aws
                    .sts_endpoint
                    .as_deref()
                    .is_some_and(|url| !self.env.trust().config && !trust::official_sts(url))
                {
                    return Err(self.invalid(
                        v,
                        key,
                        format!(
                            "`{}` is not AWS's own STS over https, and the config may not choose where credentials are sent; set AWS_STS_ENDPOINT in the process environment, or pass --trust-config if the config is yours",
                            self.written(v)
                        ),
                    ));
                }
            }
            "replica_regions" => aws.replica_regions = self.list(v, key)?,
            "aws_batch_reads" => aws.batch_reads = self.bool(v, key)?.unwrap_or(true),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `aws_web_identity_token` is a credential, so the config may not choose it: it is taken
    /// as `os.environ/AWS_WEB_IDENTITY_TOKEN` from the process environment (the variable osenv
    /// reads without it), or as anything under `--trust-config`.
    fn web_identity_token(&self, v: NodeId, key: &str) -> Result<Option<crate::secret::SecretValue>, ConfigError> {
        const VARIABLE: &str = "AWS_WEB_IDENTITY_TOKEN";
        let operator = self.doc.scalar(v).and_then(references::name_of).as_deref() == Some(VARIABLE)
            && matches!(self.env.lookup(VARIABLE), Some((_, Origin::Process)));
        let token = self.string(v, key)?;
        if token.is_some() && !operator && !self.env.trust().config {
            return Err(self.invalid(
                v,
                key,
                format!(
                    "`{}` is a credential the config may not choose; write `os.environ/{VARIABLE}` and set it in the process environment (or AWS_WEB_IDENTITY_TOKEN_FILE), or pass --trust-config if the config is yours",
                    self.written(v)
                ),
            ));
        }
        Ok(token.map(crate::secret::SecretValue::new))
    }

    fn vault(&self, key: &str, v: NodeId, vault: &mut VaultOptions) -> Result<Known, ConfigError> {
        match key {
            "vault_field" => match self.shown(v, key)? {
                Some(field) if field.value.trim().is_empty() => {
                    return Err(self.invalid(v, key, "the field name is empty"));
                }
                field => vault.field = field.unwrap_or_else(|| VaultOptions::default().field),
            },
            "vault_kv_version" => {
                vault.kv_version = match self.string(v, key)?.as_deref().map(str::trim) {
                    None | Some("2") => 2,
                    Some("1") => 1,
                    Some(_) => return Err(self.invalid(v, key, "expected 1 or 2")),
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn azure(&self, key: &str, v: NodeId, azure: &mut AzureOptions) -> Result<Known, ConfigError> {
        match key {
            "azure_map_to_dashes" => azure.map_to_dashes = self.bool(v, key)?.unwrap_or(false),
            _ => return Ok(false),
        }
        Ok(true)
    }
}
