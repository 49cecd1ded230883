//! The [`Backend`] trait and the registry that picks one from the config's settings.
//!
//! One call carries every key a backend must supply, so each backend batches as its service
//! allows and bounds its own concurrency through [`Context`]. The answer is one result per key:
//! a missing key is a per-key [`KeyError`], a failure of the whole call (credentials, network,
//! deadline) is a [`BackendError`]. Backends never see YAML; the resolver maps results back to
//! the references that asked for them.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
pub mod dotenv;
pub mod env;
pub mod envelope;
#[cfg(feature = "gcp")]
pub mod gcp;
#[cfg(feature = "vault")]
pub mod vault;

use crate::error::{BackendError, ConfigError, KeyError};
use crate::retry::RetryPolicy;
use crate::secret::SecretValue;
use crate::settings::{KeyManagement, KeyManagementSystem};
use async_trait::async_trait;
use envelope::Envelopes;
use std::sync::Arc;
use std::time::Duration;

pub use env::Environment;

/// Limits a backend must respect within one run.
#[derive(Debug, Clone)]
pub struct Context {
    /// Requests in flight at most, shared by every call of the run.
    pub limiter: Arc<tokio::sync::Semaphore>,
    /// The same bound as a number, for chunking.
    pub concurrency: usize,
    /// Timeout for one request.
    pub request_timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
}

impl Context {
    /// A context allowing `concurrency` requests in flight.
    pub fn new(concurrency: usize, request_timeout: Duration, retry: RetryPolicy) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            limiter: Arc::new(tokio::sync::Semaphore::new(concurrency)),
            concurrency,
            request_timeout,
            retry,
        }
    }
}

/// A failed request, as the retry loop of [`call`] needs to see it.
#[cfg_attr(
    not(any(feature = "aws", feature = "vault", feature = "azure", feature = "gcp")),
    allow(dead_code)
)]
pub(crate) trait RequestFailure {
    /// Worth retrying (throttling, 5xx, a reset connection, a timeout).
    fn transient(&self) -> bool;
    /// The failure for a request that got no answer in time; `message` says how long it waited.
    fn timed_out(message: String) -> Self;
}

/// One request under the run's limits: a concurrency permit per attempt, the per-request
/// timeout, retries of transient failures. Returns the result and the attempts made.
#[cfg_attr(
    not(any(feature = "aws", feature = "vault", feature = "azure", feature = "gcp")),
    allow(dead_code)
)]
pub(crate) async fn call<T, E, F, Fut>(ctx: &Context, op: F) -> (Result<T, E>, u32)
where
    E: RequestFailure,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let op = &op;
    ctx.retry
        .run(
            |e: &E| e.transient(),
            || async move {
                let _permit = ctx.limiter.acquire().await.expect("the run's limiter is never closed");
                match tokio::time::timeout(ctx.request_timeout, op()).await {
                    Ok(result) => result,
                    Err(_) => Err(E::timed_out(format!(
                        "no response within {}s",
                        ctx.request_timeout.as_secs_f64()
                    ))),
                }
            },
        )
        .await
}

/// An error and its causes on one line. SDK errors often repeat their source in their own text:
/// a cause already said is skipped.
#[cfg_attr(not(any(feature = "vault", feature = "azure", feature = "gcp")), allow(dead_code))]
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message.replace('\n', " ")
}

/// One result per requested key, in request order.
pub type KeyResults<T> = Vec<Result<T, KeyError>>;

/// How `delete` removes a secret, for backends that distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteMode {
    /// The backend's recoverable delete (scheduled deletion, soft delete).
    #[default]
    Recoverable,
    /// Remove without recovery (AWS force delete, Vault destroy, Azure purge).
    Permanent,
}

/// A source of secrets.
#[async_trait]
pub trait Backend: Send + Sync {
    /// How messages name this backend, e.g. `the environment` or
    /// `aws_secret_manager (https://secretsmanager.us-east-1.amazonaws.com)`.
    fn describe(&self) -> String;

    /// Fetch every key; one result per key, in order.
    async fn fetch(&self, keys: &[String], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError>;

    /// Prove every key exists, without reading values where the service allows it.
    async fn exists(&self, keys: &[String], ctx: &Context) -> Result<KeyResults<()>, BackendError> {
        Ok(self.fetch(keys, ctx).await?.into_iter().map(|r| r.map(drop)).collect())
    }

    /// Store `value` under `name` (a new version where the service keeps versions).
    async fn write(&self, name: &str, value: &SecretValue, ctx: &Context) -> Result<(), BackendError> {
        let _ = (name, value, ctx);
        Err(BackendError::NotSupported {
            backend: self.describe(),
            operation: "writing secrets",
        })
    }

    /// Delete `name`.
    async fn delete(&self, name: &str, mode: DeleteMode, ctx: &Context) -> Result<(), BackendError> {
        let _ = (name, mode, ctx);
        Err(BackendError::NotSupported {
            backend: self.describe(),
            operation: "deleting secrets",
        })
    }
}

/// The backend the settings select, or `None` when every name comes from the environment.
/// `envelopes` are the encrypted variables of LiteLLM's `USE_AWS_KMS` convention in use.
pub fn open(
    km: &KeyManagement,
    env: &Arc<Environment>,
    envelopes: &Envelopes,
) -> Result<Option<Arc<dyn Backend>>, ConfigError> {
    let Some(system) = km.system else {
        return Ok(None);
    };
    let location = km.system_location.clone().expect("a configured system has a location");
    #[cfg(not(feature = "aws"))]
    let _ = (env, envelopes);
    // A backend left out of this build says so, instead of silently reading the environment
    // the way LiteLLM falls back.
    #[allow(unused_variables)] // used only when a backend is left out of the build
    let missing = |feature: &'static str| ConfigError::UnsupportedBackend {
        location: location.clone(),
        value: system.as_str().to_owned(),
        why: feature,
    };
    match system {
        #[cfg(feature = "aws")]
        KeyManagementSystem::AwsSecretManager => Ok(Some(Arc::new(aws::secrets_manager::SecretsManager::new(
            &km.settings,
            env,
        )))),
        #[cfg(feature = "aws")]
        KeyManagementSystem::AwsKms => Ok(Some(Arc::new(aws::kms::Kms::new(
            &km.settings,
            Arc::clone(env),
            envelopes.clone(),
        )))),
        #[cfg(not(feature = "aws"))]
        KeyManagementSystem::AwsSecretManager | KeyManagementSystem::AwsKms => Err(missing(
            "is not available in this osenv build (built without cargo feature `aws`)",
        )),
        #[cfg(feature = "vault")]
        KeyManagementSystem::HashicorpVault => Ok(Some(Arc::new(vault::Vault::new(&km.settings, env)))),
        #[cfg(not(feature = "vault"))]
        KeyManagementSystem::HashicorpVault => Err(missing(
            "is not available in this osenv build (built without cargo feature `vault`)",
        )),
        #[cfg(feature = "azure")]
        KeyManagementSystem::AzureKeyVault => Ok(Some(Arc::new(azure::KeyVault::new(&km.settings, Arc::clone(env))))),
        #[cfg(not(feature = "azure"))]
        KeyManagementSystem::AzureKeyVault => Err(missing(
            "is not available in this osenv build (built without cargo feature `azure`)",
        )),
        #[cfg(feature = "gcp")]
        KeyManagementSystem::GoogleSecretManager => Ok(Some(Arc::new(gcp::secret_manager::SecretManager::new(env)))),
        #[cfg(feature = "gcp")]
        KeyManagementSystem::GoogleKms => Ok(Some(Arc::new(gcp::kms::GoogleKms::new(Arc::clone(env))))),
        #[cfg(not(feature = "gcp"))]
        KeyManagementSystem::GoogleSecretManager | KeyManagementSystem::GoogleKms => Err(missing(
            "is not available in this osenv build (built without cargo feature `gcp`)",
        )),
    }
}

/// The KMS backend for LiteLLM's `USE_AWS_KMS=True` convention when no
/// `key_management_system` is configured: it decrypts only the encrypted variables.
pub fn open_envelopes(
    km: &KeyManagement,
    env: &Arc<Environment>,
    envelopes: &Envelopes,
) -> Result<Option<Arc<dyn Backend>>, ConfigError> {
    #[cfg(feature = "aws")]
    {
        Ok(Some(Arc::new(aws::kms::Kms::new(
            &km.settings,
            Arc::clone(env),
            envelopes.clone(),
        ))))
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
