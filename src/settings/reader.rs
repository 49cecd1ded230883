//! Reading `general_settings` into [`KeyManagement`]: scalars with PyYAML's meaning, `os.environ/`
//! values from the environment, and one reader per group of fields.

use super::{
    AccessMode, AwsOptions, AzureOptions, KeyManagement, KeyManagementSystem, Selected, SettingWarning, Shown,
    VaultOptions,
};
use crate::document::{Document, Loaded, NodeId};
use crate::environment::Environment;
use crate::environment::Origin;
use crate::error::ConfigError;
use crate::provenance;
use crate::references;
use crate::trust;
use std::collections::BTreeMap;

/// The tag PyYAML constructs bytes from (`!!binary`).
const BINARY_TAG: &str = "tag:yaml.org,2002:binary";

pub(super) struct Reader<'a> {
    pub(super) doc: &'a Document,
    pub(super) env: &'a Environment,
}

/// A field's value as LiteLLM's `KeyManagementSettings` receives it: what PyYAML loads, with an
/// `os.environ/X` string replaced by `get_secret`'s answer from the environment (which makes
/// `true`/`false` in any case a boolean).
enum Value {
    Null,
    Bool(bool),
    Text(String),
    /// A number, a date, a list, a mapping or a tagged value, named for messages.
    Other(&'static str),
}

/// Pydantic's (lax) boolean from a string: these words in any case, nothing stripped.
fn pydantic_bool(text: &str) -> Option<bool> {
    match text.to_lowercase().as_str() {
        "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
        "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
        _ => None,
    }
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
        let shape = self.shape();
        if !shape.is_empty() {
            return Err(shape);
        }
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

    /// What LiteLLM's settings model receives for node `id`: PyYAML's value, a reference read
    /// from the environment as `get_secret` reads it.
    fn value(&self, id: NodeId, setting: &str) -> Result<Value, ConfigError> {
        let text = match self.doc.loaded(id) {
            Loaded::Null => return Ok(Value::Null),
            Loaded::Bool(b) => return Ok(Value::Bool(b)),
            Loaded::Other(what) => return Ok(Value::Other(what)),
            Loaded::String(text) => text,
        };
        let Some(name) = references::name_of(text) else {
            return Ok(Value::Text(text.to_owned()));
        };
        // LiteLLM's `get_secret` reads `oidc/env/NAME` as the variable NAME; another `oidc/`
        // token is fetched where the proxy runs, so no setting can be read from it here.
        let variable = match name.strip_prefix("oidc/env/") {
            Some(variable) => variable,
            None if name.starts_with("oidc/") => {
                return Err(self.invalid(
                    id,
                    setting,
                    "an `oidc/` token is fetched by LiteLLM where it runs; only `oidc/env/NAME` (the variable NAME) can set this here",
                ));
            }
            None => &name,
        };
        match self.env.get(variable) {
            Ok(v) => Ok(match crate::master_key::str_to_bool(v.expose()) {
                Some(b) => Value::Bool(b),
                None => Value::Text(v.expose().to_owned()),
            }),
            Err(cause) => Err(ConfigError::SettingReference {
                location: self.doc.location(id),
                written: self.written(id).to_owned(),
                cause,
            }),
        }
    }

    /// Why LiteLLM refuses `value` where its settings take a string (shown as written: a value
    /// read from the environment is not echoed).
    fn not_text(&self, id: NodeId, setting: &str, value: &Value) -> ConfigError {
        let found = match value {
            Value::Bool(_) if references::name_of(self.written(id)).is_some() => {
                "a boolean (its value is true or false in some case, which LiteLLM's get_secret reads as one)"
            }
            Value::Bool(_) => "a boolean",
            Value::Null => "null",
            Value::Other(what) => what,
            Value::Text(_) => "a string",
        };
        // pydantic's lax mode takes bytes as text; osenv reads no `!!binary` setting (the
        // README's differs table), which is its own refusal, not LiteLLM's.
        if self.doc.tag(self.doc.resolve_alias(id)) == Some(BINARY_TAG) {
            return self.invalid(
                id,
                setting,
                "osenv does not read a `!!binary` setting (LiteLLM would take its bytes as text): write the text",
            );
        }
        // osenv's own fields are osenv's refusals; LiteLLM's model ignores them.
        let whose = if provenance::OSENV_KEYS.contains(&setting) {
            ""
        } else {
            "LiteLLM refuses the config at boot: "
        };
        self.invalid(id, setting, format!("{whose}expected a string, found {found}"))
    }

    /// A string setting (`str | None` in LiteLLM's model); `null` is `None`.
    fn string(&self, id: NodeId, setting: &str) -> Result<Option<String>, ConfigError> {
        match self.value(id, setting)? {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text)),
            other => Err(self.not_text(id, setting, &other)),
        }
    }

    /// A string setting LiteLLM's model gives no `None` (it has a default only when absent).
    fn required_string(&self, id: NodeId, setting: &str) -> Result<String, ConfigError> {
        match self.value(id, setting)? {
            Value::Text(text) => Ok(text),
            other => Err(self.not_text(id, setting, &other)),
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

    /// A boolean setting (`bool | None`), read as pydantic reads one: a boolean, 0 or 1, or a
    /// string such as `yes`, `off` or `t` in any case.
    fn bool(&self, id: NodeId, setting: &str) -> Result<Option<bool>, ConfigError> {
        let refused = || self.invalid(id, setting, "expected true or false");
        match self.value(id, setting)? {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(b)),
            Value::Text(text) => pydantic_bool(&text).map(Some).ok_or_else(refused),
            Value::Other("a number") => match self.doc.scalar(id).map(crate::python::strip) {
                Some("0") => Ok(Some(false)),
                Some("1") => Ok(Some(true)),
                _ => Err(refused()),
            },
            Value::Other(_) => Err(refused()),
        }
    }

    /// A plain `null`, `~` or empty value, through aliases.
    fn is_null(&self, id: NodeId) -> bool {
        self.doc.loaded(id) == Loaded::Null
    }

    /// The items of a list setting, each as PyYAML loads it: LiteLLM resolves no reference
    /// inside a list (its walk recurses into a list's mappings only).
    fn items(&self, id: NodeId, setting: &str) -> Result<Option<&[NodeId]>, ConfigError> {
        let target = self.doc.resolve_alias(id);
        match self.doc.items(target) {
            _ if self.is_null(target) => Ok(None),
            Some(items) => Ok(Some(items)),
            None => Err(self.invalid(id, setting, "expected a list")),
        }
    }

    /// `replica_regions` (`list[str] | None`): every item a string, taken as written.
    fn strings(&self, id: NodeId, setting: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(items) = self.items(id, setting)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|&item| match self.doc.loaded(item) {
                Loaded::String(text) if references::name_of(text).is_some() => Err(self.invalid(
                    item,
                    setting,
                    "LiteLLM does not resolve a reference inside a list: it would use this text as it is",
                )),
                Loaded::String(text) => Ok(text.to_owned()),
                _ => Err(self.not_text(item, setting, &self.value(item, setting)?)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// `hosted_keys` (an untyped list): LiteLLM compares each reference's name with `in`, so
    /// only a string item ever matches, as written. Another item is kept by LiteLLM and matches
    /// nothing: a warning here, and not a key to read.
    fn hosted_keys(
        &self,
        id: NodeId,
        setting: &str,
        km: &mut KeyManagement,
    ) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(items) = self.items(id, setting)? else {
            return Ok(None);
        };
        let mut names = Vec::new();
        for &item in items {
            let why = match self.doc.loaded(item) {
                Loaded::String(text) => {
                    let Some(name) = references::name_of(text) else {
                        names.push((text.to_owned(), self.doc.location(item)));
                        continue;
                    };
                    format!(
                        "LiteLLM does not resolve a reference inside a list, and no name contains `os.environ/`; write the name itself, `{name}`"
                    )
                }
                Loaded::Null => "it is null to LiteLLM; quote a name to host it".to_owned(),
                Loaded::Bool(_) => "it is a boolean to LiteLLM; quote a name to host it".to_owned(),
                Loaded::Other(what) => format!("it is {what} to LiteLLM; quote a name to host it"),
            };
            km.warnings.push(SettingWarning {
                location: self.doc.location(item),
                message: format!("this `hosted_keys` entry matches no secret's name: {why}"),
            });
        }
        km.hosted.clone_from(&names);
        Ok(Some(names.into_iter().map(|(name, _)| name).collect()))
    }

    /// The entries of mapping `id` as PyYAML's dict holds them (merges worked out); `None` for
    /// anything else, a `!!set` included (a set to PyYAML, not a dict).
    fn dict(&self, id: NodeId) -> Option<Vec<crate::document::Entry>> {
        let target = self.doc.resolve_alias(id);
        if self.doc.tag(target) == Some("tag:yaml.org,2002:set") {
            return None;
        }
        self.doc.merged_entries(target)
    }

    /// `tags` (`dict[str, str] | None`): string keys as written, string values (references
    /// resolved, as LiteLLM's walk resolves a mapping's values).
    fn map(&self, id: NodeId, setting: &str) -> Result<Option<BTreeMap<String, String>>, ConfigError> {
        let target = self.doc.resolve_alias(id);
        match self.dict(target) {
            _ if self.is_null(target) => Ok(None),
            Some(entries) => {
                let mut out = BTreeMap::new();
                for e in entries {
                    let Loaded::String(key) = self.doc.loaded(e.key) else {
                        return Err(self.not_text(e.key, setting, &self.value(e.key, setting)?));
                    };
                    out.insert(key.to_owned(), self.required_string(e.value, setting)?);
                }
                Ok(Some(out))
            }
            _ => Err(self.invalid(id, setting, "expected a mapping of strings")),
        }
    }

    /// `key_management_settings`: each field goes to the reader of its group; a field no group
    /// knows is a warning, a bad value an error (all of them collected).
    fn settings(&self, id: NodeId, km: &mut KeyManagement) -> Result<(), Vec<ConfigError>> {
        const SETTING: &str = "key_management_settings";
        let target = self.doc.resolve_alias(id);
        // As PyYAML's dict holds it: merged entries (`<<: *defaults`) count, shadowed ones not.
        let entries = match self.dict(target) {
            _ if self.is_null(target) => return Ok(()),
            Some(entries) => entries,
            None => return Err(vec![self.invalid(id, SETTING, "expected a mapping")]),
        };
        let mut errors = Vec::new();
        for e in entries {
            // LiteLLM calls `KeyManagementSettings(**settings)`: a key that is not a string is
            // a TypeError at boot.
            let Loaded::String(key) = self.doc.loaded(e.key) else {
                errors.push(self.invalid(
                    e.key,
                    SETTING,
                    "LiteLLM refuses the config at boot: a key that is not a string (`KeyManagementSettings(**settings)` takes names only)",
                ));
                continue;
            };
            // The one table says who may set each key ([`crate::provenance::CONFIG_KEYS`]): a key
            // without a row is never read.
            let known = if provenance::config_key(key).is_none() {
                Ok(false)
            } else {
                self.known(key, e.value, km)
            };
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

    /// What LiteLLM 1.110.2's `load_config` refuses of the config's shape at boot: it reads the
    /// config as a mapping of names (`TypeAdapter(Mapping[str, object])`), and `general_settings`
    /// as a mapping (`None` becomes `{}`; anything else fails at its first `.get`, or the same
    /// validation): a key that is not a string, or a `general_settings` that is neither, stops
    /// the proxy before it starts. A reference there resolves to a string: refused too.
    fn shape(&self) -> Vec<ConfigError> {
        let doc = self.doc;
        let unloadable = |id: NodeId, reason: &str| ConfigError::Unloadable {
            location: doc.location(id),
            reason: format!(
                "{reason} (LiteLLM 1.110.2's `load_config` reads it as a mapping of names and refuses it at boot)"
            ),
        };
        let not_names = |id: NodeId, what: &str| {
            doc.merged_entries(id)
                .unwrap_or_default()
                .into_iter()
                .filter(|e| !matches!(doc.loaded(e.key), Loaded::String(_)))
                .map(|e| unloadable(e.key, &format!("a key of {what} that is not a string")))
                .collect::<Vec<_>>()
        };
        let mut errors = not_names(doc.root(), "the config");
        if let Some(general) = doc.get_merged(doc.root(), "general_settings") {
            if doc.entries(general.value).is_some() {
                errors.extend(not_names(general.value, "`general_settings`"));
            } else if !self.is_null(general.value) {
                errors.push(unloadable(general.value, "`general_settings` is not a mapping"));
            }
        }
        errors
    }

    /// A key of the table, read by the reader of its group.
    fn known(&self, key: &str, v: NodeId, km: &mut KeyManagement) -> Result<Known, ConfigError> {
        Ok(self.common(key, v, km)?
            || self.aws(key, v, &mut km.settings.aws)?
            || self.vault(key, v, &mut km.settings.vault)?
            || self.azure(key, v, &mut km.settings.azure)?)
    }

    /// The fields every manager reads.
    fn common(&self, key: &str, v: NodeId, km: &mut KeyManagement) -> Result<Known, ConfigError> {
        match key {
            "hosted_keys" => km.settings.hosted_keys = self.hosted_keys(v, key, km)?,
            "store_virtual_keys" => km.settings.store_virtual_keys = self.bool(v, key)?.unwrap_or(false),
            "prefix_for_stored_virtual_keys" => {
                km.settings.prefix_for_stored_virtual_keys = self.required_string(v, key)?;
            }
            "access_mode" => {
                let name = self.required_string(v, key)?;
                km.settings.access_mode = AccessMode::from_name(&name).ok_or_else(|| {
                    self.invalid(
                        v,
                        key,
                        // As written: a value read from the environment is not echoed.
                        format!(
                            "`{}`; expected read_only, write_only or read_and_write",
                            self.doc.source(self.doc.resolve_alias(v))
                        ),
                    )
                })?;
            }
            "description" => km.settings.written.description = self.string(v, key)?,
            "tags" => km.settings.written.tags = self.map(v, key)?,
            // LiteLLM's hook for its own Python class: nothing osenv can use, but held to
            // LiteLLM's type (`str | None`).
            "custom_secret_manager" => {
                self.string(v, key)?;
            }
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
            "replica_regions" => aws.replica_regions = self.strings(v, key)?,
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
                // osenv's own field: `1`, `"1"` or `os.environ/X` alike.
                let version = match self.value(v, key)? {
                    Value::Null => None,
                    Value::Text(text) => Some(text),
                    _ => self.doc.scalar(v).map(str::to_owned),
                };
                vault.kv_version = match version.as_deref().map(str::trim) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::DotenvFile;
    use crate::trust::Trust;

    fn read(src: &str, env: &Environment) -> Result<KeyManagement, Vec<String>> {
        let doc = Document::parse("c.yaml", src.to_owned()).unwrap();
        KeyManagement::from_document(&doc, env).map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }

    fn settings(fields: &str, vars: &[(&str, &str)]) -> Result<KeyManagement, Vec<String>> {
        read(
            &format!(
                "general_settings:\n  key_management_system: aws_secret_manager\n  key_management_settings:\n{fields}"
            ),
            &Environment::new(vars.iter().copied(), vec![]),
        )
    }

    /// A boolean field reads as LiteLLM's pydantic model reads what PyYAML loads: YAML 1.1's
    /// words, a quoted word pydantic knows in any case, 0 and 1 (checked against pydantic 2 in
    /// LiteLLM's venv); `"yes"` is true to pydantic though it is a string to PyYAML.
    #[test]
    fn booleans_read_as_pydantic_reads_what_pyyaml_loads() {
        let read = |v: &str, vars: &[(&str, &str)]| {
            settings(&format!("    store_virtual_keys: {v}\n"), vars).map(|k| k.settings.store_virtual_keys)
        };
        for v in [
            "true",
            "Yes",
            "ON",
            "\"yes\"",
            "'Y'",
            "\"t\"",
            "1",
            "'1'",
            "!!bool true",
            "!!bool YES",
            "!!bool 'on'",
            "!<tag:yaml.org,2002:bool> True",
            "!!int 1",
            "!!float 1",
            "os.environ/B",
        ] {
            assert_eq!(read(v, &[("B", " TRUE\n")]), Ok(true), "{v}");
        }
        for v in [
            "false",
            "No",
            "off",
            "\"n\"",
            "'OFF'",
            "0",
            "~",
            "!!bool no",
            "!!int 0",
            "os.environ/B",
        ] {
            assert_eq!(read(v, &[("B", "False")]), Ok(false), "{v}");
        }
        for v in ["2", "0.5", "\" true\"", "\"\"", "[true]", "2001-12-14", "os.environ/B"] {
            assert!(read(v, &[("B", "yes!")]).is_err(), "{v}");
        }
    }

    /// Every key of the provenance table reaches a reader (a null value is read or refused,
    /// never "unknown"); a key the readers know but the table lacks is unknown (above).
    #[test]
    fn every_row_of_the_key_table_is_read() {
        for (key, _) in crate::provenance::CONFIG_KEYS {
            if let Ok(k) = settings(&format!("    {key}: null\n"), &[]) {
                assert!(
                    k.warnings.iter().all(|w| !w.message.contains("unknown")),
                    "{key}: {:?}",
                    k.warnings
                );
            }
        }
    }

    /// Every field of every group lands where its reader puts it, and none is reported as
    /// unknown.
    #[test]
    fn every_field_is_read_by_its_group() {
        let k = settings(
            "    description: stored by osenv\n    tags: {team: ml, env: prod}\n    custom_secret_manager: my.Class\n    \
             primary_secret_name: os.environ/PRIMARY\n    kms_key_id: alias/k\n    aws_region_name: eu-west-1\n    \
             aws_role_name: arn:aws:iam::1:role/r\n    aws_session_name: s\n    aws_external_id: e\n    aws_profile_name: p\n    \
             replica_regions: [us-east-2, eu-west-2]\n    aws_batch_reads: off\n    vault_field: value\n    vault_kv_version: \" 1 \"\n    \
             azure_map_to_dashes: yes\n    store_virtual_keys: os.environ/STORE\n",
            &[("PRIMARY", "litellm-primary"), ("STORE", "True")],
        )
        .unwrap();
        assert!(
            k.warnings.is_empty(),
            "{:?}",
            k.warnings.iter().map(|w| &w.message).collect::<Vec<_>>()
        );
        let s = &k.settings;
        assert_eq!(s.written.description.as_deref(), Some("stored by osenv"));
        let tags: Vec<_> = s.written.tags.as_ref().unwrap().iter().collect();
        assert_eq!(
            tags,
            [
                (&"env".to_owned(), &"prod".to_owned()),
                (&"team".to_owned(), &"ml".to_owned())
            ]
        );
        let primary = s.aws.primary_secret_name.as_ref().unwrap();
        assert_eq!(
            (primary.value.as_str(), primary.shown()),
            ("litellm-primary", "os.environ/PRIMARY")
        );
        assert_eq!(s.aws.kms_key_id.as_deref(), Some("alias/k"));
        assert_eq!(s.aws.region_name.as_deref(), Some("eu-west-1"));
        assert_eq!(s.aws.role_name.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert_eq!(s.aws.session_name.as_deref(), Some("s"));
        assert_eq!(s.aws.external_id.as_deref(), Some("e"));
        assert_eq!(s.aws.profile_name.as_deref(), Some("p"));
        assert_eq!(
            s.aws.replica_regions.as_deref(),
            Some(&["us-east-2".to_owned(), "eu-west-2".to_owned()][..])
        );
        assert!(!s.aws.batch_reads);
        assert_eq!(s.vault.field.value, "value");
        assert_eq!(s.vault.kv_version, 1);
        assert!(s.azure.map_to_dashes);
        assert!(s.store_virtual_keys);
    }

    /// A plain `null`/`~`/empty is "unset" (the default), a quoted one is the string; a quoted
    /// `"yes"` is not a boolean (PyYAML reads a string), one read through `os.environ/` is.
    #[test]
    fn nulls_and_quotes_follow_pyyaml() {
        let k = settings(
            "    kms_key_id: null\n    description: \"null\"\n    tags: ~\n    hosted_keys:\n    replica_regions: ~\n    \
             vault_field: ~\n    vault_kv_version: null\n    aws_batch_reads: null\n",
            &[],
        )
        .unwrap();
        let s = &k.settings;
        assert_eq!(s.aws.kms_key_id, None);
        assert_eq!(s.written.description.as_deref(), Some("null"));
        assert_eq!(s.written.tags, None);
        assert_eq!(s.hosted_keys, None);
        assert_eq!(s.aws.replica_regions, None);
        assert_eq!(s.vault.field.value, "key");
        assert_eq!(s.vault.kv_version, 2);
        assert!(s.aws.batch_reads);
        for settings_value in [" ~", " null", ""] {
            let k = read(
                &format!("general_settings:\n  key_management_settings:{settings_value}\n"),
                &Environment::default(),
            )
            .unwrap();
            assert_eq!(k.settings.access_mode, AccessMode::ReadOnly, "{settings_value:?}");
        }
        let e = settings("    store_virtual_keys: \"maybe\"\n", &[]).unwrap_err();
        assert_eq!(e, ["c.yaml:4:25: invalid `store_virtual_keys`: expected true or false"]);
        // LiteLLM takes `!!binary` bytes as text: refusing it is osenv's choice, said so.
        let e = settings("    description: !!binary aGVsbG8=\n", &[]).unwrap_err();
        assert_eq!(
            e,
            [
                "c.yaml:4:27: invalid `description`: osenv does not read a `!!binary` setting (LiteLLM would take its bytes as text): write the text"
            ]
        );
        let e = settings("    azure_map_to_dashes: [true]\n", &[]).unwrap_err();
        assert_eq!(
            e,
            ["c.yaml:4:26: invalid `azure_map_to_dashes`: expected true or false"]
        );
        let e = settings(
            "    tags: [a]\n    replica_regions: [~]\n    vault_field: \" \"\n    vault_kv_version: 3\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e,
            [
                "c.yaml:4:11: invalid `tags`: expected a mapping of strings",
                "c.yaml:5:23: invalid `replica_regions`: LiteLLM refuses the config at boot: expected a string, found null",
                "c.yaml:6:18: invalid `vault_field`: the field name is empty",
                "c.yaml:7:23: invalid `vault_kv_version`: expected 1 or 2",
            ]
        );
    }

    /// LiteLLM hosts a name when it is `in` the list as written: a reference inside the list
    /// is not resolved, and an item that is not a string matches nothing. Those are warnings
    /// and host nothing (an empty list still sends every name to the environment).
    #[test]
    fn hosted_keys_are_strings_as_written() {
        let k = settings(
            "    hosted_keys: [A, os.environ/HK, 1, ~, 'true', true]\n",
            &[("HK", "B")],
        )
        .unwrap();
        assert_eq!(
            k.settings.hosted_keys.as_deref(),
            Some(&["A".to_owned(), "true".to_owned()][..])
        );
        assert_eq!(
            k.hosted.iter().map(|(n, l)| format!("{l} {n}")).collect::<Vec<_>>(),
            ["c.yaml:4:19 A", "c.yaml:4:43 true"]
        );
        let warnings: Vec<String> = k
            .warnings
            .iter()
            .map(|w| format!("{}: {}", w.location, w.message))
            .collect();
        insta::assert_snapshot!(warnings.join("\n"), @r"
        c.yaml:4:22: this `hosted_keys` entry matches no secret's name: LiteLLM does not resolve a reference inside a list, and no name contains `os.environ/`; write the name itself, `HK`
        c.yaml:4:37: this `hosted_keys` entry matches no secret's name: it is a number to LiteLLM; quote a name to host it
        c.yaml:4:40: this `hosted_keys` entry matches no secret's name: it is null to LiteLLM; quote a name to host it
        c.yaml:4:51: this `hosted_keys` entry matches no secret's name: it is a boolean to LiteLLM; quote a name to host it
        ");
        let none = settings("    hosted_keys: [os.environ/HK]\n", &[("HK", "B")]).unwrap();
        assert_eq!(none.settings.hosted_keys, Some(vec![]));
    }

    /// What LiteLLM's model refuses at boot, osenv refuses: a string field given a number, a
    /// boolean (also one read through `os.environ/`, not echoed), or null where the model has no
    /// `None`; a reference inside `replica_regions`; a tag value that is not a string.
    #[test]
    fn what_litellms_settings_model_refuses_is_refused() {
        let e = settings(
            "    primary_secret_name: 123\n    kms_key_id: os.environ/T\n    access_mode: ~\n    \
             prefix_for_stored_virtual_keys: null\n    description: yes\n    replica_regions: [os.environ/R]\n    \
             tags: {a: 1, b: os.environ/T}\n",
            &[("T", "tRuE"), ("R", "us-east-1")],
        )
        .unwrap_err();
        insta::assert_snapshot!(e.join("\n"), @r"
        c.yaml:4:26: invalid `primary_secret_name`: LiteLLM refuses the config at boot: expected a string, found a number
        c.yaml:5:17: invalid `kms_key_id`: LiteLLM refuses the config at boot: expected a string, found a boolean (its value is true or false in some case, which LiteLLM's get_secret reads as one)
        c.yaml:6:18: invalid `access_mode`: LiteLLM refuses the config at boot: expected a string, found null
        c.yaml:7:37: invalid `prefix_for_stored_virtual_keys`: LiteLLM refuses the config at boot: expected a string, found null
        c.yaml:8:18: invalid `description`: LiteLLM refuses the config at boot: expected a string, found a boolean
        c.yaml:9:23: invalid `replica_regions`: LiteLLM does not resolve a reference inside a list: it would use this text as it is
        c.yaml:10:15: invalid `tags`: LiteLLM refuses the config at boot: expected a string, found a number
        ");
    }

    /// The settings are PyYAML's dict: merged entries count (a shadowed one not), a key that
    /// is not a string and a `!!set` are refused as LiteLLM's `KeyManagementSettings(**…)`
    /// refuses them.
    #[test]
    fn settings_are_the_dict_pyyaml_builds() {
        let k = read(
            "d: &d {hosted_keys: [A], description: merged}\ngeneral_settings:\n  key_management_settings:\n    <<: *d\n    description: own\n",
            &Environment::default(),
        )
        .unwrap();
        assert_eq!(k.settings.hosted_keys.as_deref(), Some(&["A".to_owned()][..]));
        assert_eq!(k.settings.written.description.as_deref(), Some("own"));
        assert!(k.warnings.iter().all(|w| !w.message.contains("<<")), "{:?}", k.warnings);
        let e = settings("    1: x\n    <<: {~: y}\n", &[]).unwrap_err();
        insta::assert_snapshot!(e.join("\n"), @r"
        c.yaml:4:5: invalid `key_management_settings`: LiteLLM refuses the config at boot: a key that is not a string (`KeyManagementSettings(**settings)` takes names only)
        c.yaml:5:10: invalid `key_management_settings`: LiteLLM refuses the config at boot: a key that is not a string (`KeyManagementSettings(**settings)` takes names only)
        ");
        let e = read(
            "general_settings:\n  key_management_settings: !!set {description}\n",
            &Environment::default(),
        )
        .unwrap_err();
        assert_eq!(
            e,
            ["c.yaml:2:34: invalid `key_management_settings`: expected a mapping"]
        );
    }

    /// The config and a non-empty `general_settings` are mappings of names to LiteLLM's
    /// `load_config` (checked against pydantic's `TypeAdapter(Mapping[str, object])` in its venv).
    #[test]
    fn the_config_and_its_general_settings_are_mappings_of_names() {
        for ok in [
            "a: 1\n",
            "general_settings:\n",
            "general_settings: ~\n",
            "general_settings: {}\n",
            "general_settings: {'1': x}\n",
        ] {
            assert!(read(ok, &Environment::default()).is_ok(), "{ok}");
        }
        let refused = |text: &str| read(text, &Environment::default()).unwrap_err().join("\n");
        insta::assert_snapshot!(
            [
                refused("1: x\n~: y\n"),
                refused("general_settings: x\n"),
                refused("general_settings: [1]\n"),
                refused("general_settings: 5\n"),
                refused("general_settings: []\n"),
                refused("general_settings: ''\n"),
                refused("general_settings: false\n"),
                refused("general_settings: os.environ/GS\n"),
                refused("general_settings: {1: x, ~: y, a: z}\n"),
            ]
            .join("\n"),
            @r"
            c.yaml:1:1: LiteLLM cannot load this config: a key of the config that is not a string (LiteLLM 1.110.2's `load_config` reads it as a mapping of names and refuses it at boot)
            c.yaml:2:1: LiteLLM cannot load this config: a key of the config that is not a string (LiteLLM 1.110.2's `load_config` reads it as a mapping of names and refuses it at boot)
            c.yaml:1:19: LiteLLM cannot load this config: `general_settings` is not a mapping (LiteLLM 1.110.2's `load_config` reads it as a mapping of names and refuses it at boot)
            c.yaml:1:19: LiteLLM cannot load this config: `general_settings` is not a mapping (LiteLLM 1.110.2's `load_config` reads it as a mapping of names and refuses it at boot)
            c.yaml:1:19: LiteLLM cannot load this config: `general_settings` is not a mapping (LiteLLM 1.110.2's `load_config` reads it as a mapping of names and refuses it at boot)
            c.yaml:1:19: LiteLLM cannot load this config: `general_settings` is not a mapping (LiteLLM 1.110.2's `load_config` reads it as a mapping of names and refuses it at boot)
            c.yaml:1:19: LiteLLM cannot load this config: `general_settings` is not a mapping (LiteLLM 1.110.2's `load_config` reads it as a mapping of names and refuses it at boot)
            c.yaml:1:19: LiteLLM cannot load this config: `general_settings` is not a mapping (LiteLLM 1.110.2's `load_config` reads it as a mapping of names and refuses it at boot)
            c.yaml:1:19: LiteLLM cannot load this config: `general_settings` is not a mapping (LiteLLM 1.110.2's `load_config` reads it as a mapping of names and refuses it at boot)
            c.yaml:1:20: LiteLLM cannot load this config: a key of `general_settings` that is not a string (LiteLLM 1.110.2's `load_config` reads it as a mapping of names and refuses it at boot)
            c.yaml:1:26: LiteLLM cannot load this config: a key of `general_settings` that is not a string (LiteLLM 1.110.2's `load_config` reads it as a mapping of names and refuses it at boot)
            "
        );
    }

    /// `oidc/env/NAME` is the variable NAME to LiteLLM's `get_secret`; another `oidc/` token
    /// cannot set a setting here.
    #[test]
    fn oidc_env_reads_the_variable() {
        let km = settings("    aws_region_name: os.environ/oidc/env/R\n", &[("R", "eu-west-1")]).unwrap();
        assert_eq!(km.settings.aws.region_name.as_deref(), Some("eu-west-1"));
        let e = settings("    aws_region_name: os.environ/oidc/google/aud\n", &[]).unwrap_err();
        assert!(e[0].contains("fetched by LiteLLM where it runs"), "{}", e[0]);
    }

    /// A region is shown as written (`os.environ/R`), never as the value read.
    #[test]
    fn a_bad_region_is_shown_as_written() {
        let e = settings("    aws_region_name: os.environ/R\n", &[("R", "evil.example.com/x")]).unwrap_err();
        assert_eq!(
            e,
            ["c.yaml:4:22: invalid `aws_region_name`: `os.environ/R` is not an AWS region name (like `us-east-1`)"]
        );
    }

    /// Where credentials go and which token is sent are the operator's: the config may name
    /// AWS's own STS and `os.environ/AWS_WEB_IDENTITY_TOKEN` from the process environment, and
    /// anything only under `--trust-config`.
    #[test]
    fn sts_endpoints_and_web_identity_tokens_are_the_operators() {
        let trusted = Trust {
            env_files: false,
            config: true,
        };
        let sts = "    aws_sts_endpoint: http://collector.example:8080\n";
        let e = settings(sts, &[]).unwrap_err();
        assert!(e[0].contains("is not AWS's own STS over https"), "{e:?}");
        let src = format!(
            "general_settings:\n  key_management_system: aws_secret_manager\n  key_management_settings:\n{sts}"
        );
        let k = read(&src, &Environment::default().with_trust(trusted)).unwrap();
        assert_eq!(
            k.settings.aws.sts_endpoint.as_deref(),
            Some("http://collector.example:8080")
        );
        let official = settings("    aws_sts_endpoint: https://sts.eu-west-1.amazonaws.com\n", &[]).unwrap();
        assert_eq!(
            official.settings.aws.sts_endpoint.as_deref(),
            Some("https://sts.eu-west-1.amazonaws.com")
        );

        let token = "    aws_web_identity_token: os.environ/AWS_WEB_IDENTITY_TOKEN\n";
        let k = settings(token, &[("AWS_WEB_IDENTITY_TOKEN", "jwt")]).unwrap();
        assert_eq!(
            k.settings
                .aws
                .web_identity_token
                .as_ref()
                .map(crate::secret::SecretValue::expose),
            Some("jwt")
        );
        // The same reference, set by an env file, is not the operator's.
        let file = DotenvFile::parse(".env", "AWS_WEB_IDENTITY_TOKEN=jwt\n").unwrap();
        let src = format!(
            "general_settings:\n  key_management_system: aws_secret_manager\n  key_management_settings:\n{token}"
        );
        let e = read(&src, &Environment::new(Vec::<(String, String)>::new(), vec![file])).unwrap_err();
        assert!(e[0].contains("is a credential the config may not choose"), "{e:?}");
        for (literal, vars) in [
            ("    aws_web_identity_token: eyJ-literal\n", vec![]),
            ("    aws_web_identity_token: os.environ/OTHER\n", vec![("OTHER", "jwt")]),
        ] {
            let e = settings(literal, &vars).unwrap_err();
            assert!(e[0].contains("is a credential the config may not choose"), "{e:?}");
            assert!(!e[0].contains("jwt"), "{e:?}");
            let src = format!(
                "general_settings:\n  key_management_system: aws_secret_manager\n  key_management_settings:\n{literal}"
            );
            let k = read(
                &src,
                &Environment::new(vars.iter().copied(), vec![]).with_trust(trusted),
            )
            .unwrap();
            assert!(k.settings.aws.web_identity_token.is_some());
        }
        let unset = settings("    aws_web_identity_token: null\n", &[]).unwrap();
        assert!(unset.settings.aws.web_identity_token.is_none());
    }
}
