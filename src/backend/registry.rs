//! The one place that picks what a run reads from: the config's key management and the
//! environment's `USE_AWS_KMS` convention select a backend, or none (the environment).

use super::Backend;
#[cfg(feature = "aws")]
use super::aws;
#[cfg(feature = "azure")]
use super::azure;
#[cfg(feature = "cyberark")]
use super::conjur;
#[cfg(any(feature = "aws", feature = "azure", feature = "gcp"))]
use super::fields;
#[cfg(feature = "gcp")]
use super::gcp;
#[cfg(feature = "vault")]
use super::vault;
use crate::environment::Environment;
use crate::error::ConfigError;
#[cfg(not(feature = "aws"))]
use crate::settings::envelope;
use crate::settings::envelope::Envelopes;
use crate::settings::{KeyManagement, KeyManagementSystem, Selected};
use std::sync::Arc;

/// The secret-manager backends built into this binary, by cargo feature (`osenv --version`
/// says them, so a user can see why a manager is missing).
pub const BUILT: &[&str] = &[
    #[cfg(feature = "aws")]
    "aws",
    #[cfg(feature = "vault")]
    "vault",
    #[cfg(feature = "azure")]
    "azure",
    #[cfg(feature = "gcp")]
    "gcp",
    #[cfg(feature = "cyberark")]
    "cyberark",
];

/// The backend a run reads from, or `None` when every name comes from the environment.
///
/// A manager is opened only when reads go to it, or when ciphertexts need decrypting
/// (`envelopes`, LiteLLM's `USE_AWS_KMS` convention): a `write_only` config renders without any
/// cloud credentials. Without a `key_management_system`, the ciphertexts go to AWS KMS.
pub fn for_reads(
    km: &KeyManagement,
    env: &Arc<Environment>,
    envelopes: &Envelopes,
) -> Result<Option<Arc<dyn Backend>>, ConfigError> {
    if !km.reads_from_manager() && envelopes.is_empty() {
        return Ok(None);
    }
    match &km.selected {
        Some(selected) => open(selected, km, env, envelopes).map(Some),
        None => envelope_kms(km, env, envelopes).map(Some),
    }
}

/// The backend `put` and `delete` write to: the selected manager, whatever `access_mode` says
/// (the command checks it and says why it refuses).
pub fn for_writes(
    km: &KeyManagement,
    env: &Arc<Environment>,
    envelopes: &Envelopes,
) -> Result<Option<Arc<dyn Backend>>, ConfigError> {
    km.selected
        .as_ref()
        .map(|selected| open(selected, km, env, envelopes))
        .transpose()
}

/// The backend `selected` names. A backend left out of this build says so, instead of silently
/// reading the environment the way LiteLLM falls back.
#[allow(clippy::unnecessary_wraps)] // an error only in builds that leave a backend out
fn open(
    selected: &Selected,
    km: &KeyManagement,
    env: &Arc<Environment>,
    envelopes: &Envelopes,
) -> Result<Arc<dyn Backend>, ConfigError> {
    let settings = &km.settings;
    #[cfg(not(feature = "aws"))]
    let _ = envelopes;
    #[cfg(not(all(
        feature = "aws",
        feature = "vault",
        feature = "azure",
        feature = "gcp",
        feature = "cyberark"
    )))]
    let _ = (settings, env);
    #[allow(unused_variables)] // used only when a backend is left out of the build
    let missing = |feature: &'static str| ConfigError::UnsupportedBackend {
        location: selected.location.clone(),
        value: selected.system.as_str().to_owned(),
        why: feature,
    };
    match selected.system {
        #[cfg(feature = "aws")]
        KeyManagementSystem::AwsSecretManager => Ok(fields::Fields::wrap(Arc::new(
            aws::secrets_manager::SecretsManager::new(&settings.aws, &settings.written, env),
        ))),
        #[cfg(feature = "aws")]
        KeyManagementSystem::AwsKms => Ok(Arc::new(aws::kms::Kms::new(
            &settings.aws,
            Arc::clone(env),
            envelopes.clone(),
        ))),
        #[cfg(not(feature = "aws"))]
        KeyManagementSystem::AwsSecretManager | KeyManagementSystem::AwsKms => Err(missing(
            "is not available in this osenv build (built without cargo feature `aws`)",
        )),
        #[cfg(feature = "vault")]
        KeyManagementSystem::HashicorpVault => Ok(Arc::new(vault::Vault::new(&settings.vault, &settings.written, env))),
        #[cfg(not(feature = "vault"))]
        KeyManagementSystem::HashicorpVault => Err(missing(
            "is not available in this osenv build (built without cargo feature `vault`)",
        )),
        #[cfg(feature = "azure")]
        KeyManagementSystem::AzureKeyVault => Ok(fields::Fields::wrap(Arc::new(azure::KeyVault::new(
            &settings.azure,
            &settings.written,
            Arc::clone(env),
        )))),
        #[cfg(not(feature = "azure"))]
        KeyManagementSystem::AzureKeyVault => Err(missing(
            "is not available in this osenv build (built without cargo feature `azure`)",
        )),
        #[cfg(feature = "cyberark")]
        KeyManagementSystem::Cyberark => Ok(Arc::new(conjur::Conjur::new(env))),
        #[cfg(not(feature = "cyberark"))]
        KeyManagementSystem::Cyberark => Err(missing(
            "is not available in this osenv build (built without cargo feature `cyberark`)",
        )),
        #[cfg(feature = "gcp")]
        KeyManagementSystem::GoogleSecretManager => Ok(fields::Fields::wrap(Arc::new(
            gcp::secret_manager::SecretManager::new(env),
        ))),
        #[cfg(feature = "gcp")]
        KeyManagementSystem::GoogleKms => Ok(Arc::new(gcp::kms::GoogleKms::new(Arc::clone(env)))),
        #[cfg(not(feature = "gcp"))]
        KeyManagementSystem::GoogleSecretManager | KeyManagementSystem::GoogleKms => Err(missing(
            "is not available in this osenv build (built without cargo feature `gcp`)",
        )),
    }
}

/// The KMS backend for LiteLLM's `USE_AWS_KMS=True` convention when no `key_management_system`
/// is configured: it decrypts only the encrypted variables.
#[allow(clippy::unnecessary_wraps)] // an error only in builds without `aws`
fn envelope_kms(
    km: &KeyManagement,
    env: &Arc<Environment>,
    envelopes: &Envelopes,
) -> Result<Arc<dyn Backend>, ConfigError> {
    #[cfg(feature = "aws")]
    {
        Ok(Arc::new(aws::kms::Kms::new(
            &km.settings.aws,
            Arc::clone(env),
            envelopes.clone(),
        )))
    }
    #[cfg(not(feature = "aws"))]
    {
        let _ = (km, env, envelopes);
        Err(ConfigError::Environment {
            variable: envelope::SWITCH,
            why: "is `True`, but this osenv build has no AWS KMS (built without cargo feature `aws`)",
        })
    }
}
