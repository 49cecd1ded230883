//! The [`Backend`] trait: a source of secrets that answers for many keys in one call.
//!
//! One call carries every key a backend must supply, so each backend batches as its service
//! allows and bounds its own concurrency through [`Context`]. The answer is one result per key:
//! a missing key is a per-key [`KeyError`], a failure of the whole call (credentials, network,
//! deadline) is a [`BackendError`]. Backends never see YAML; the resolver maps results back to
//! the references that asked for them. [`registry`] picks the backend a run uses.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
#[cfg(feature = "cyberark")]
pub mod conjur;
#[cfg(any(feature = "aws", feature = "azure", feature = "gcp", test))]
pub mod fields;
#[cfg(feature = "gcp")]
pub mod gcp;
#[cfg(test)]
pub(crate) mod memory;
pub mod policy;
pub mod registry;
pub mod transport;
#[cfg(feature = "vault")]
pub mod vault;

use crate::error::{BackendError, KeyError};
pub use crate::references::KeyName;
use crate::secret::SecretValue;
use async_trait::async_trait;

pub use transport::request::{Context, DEFAULT_MAX_RESPONSE};
#[cfg_attr(
    not(any(
        feature = "aws",
        feature = "vault",
        feature = "azure",
        feature = "gcp",
        feature = "cyberark"
    )),
    allow(unused_imports)
)]
pub(crate) use transport::{
    failure::RequestFailure,
    request::{call, error_chain},
};

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
    async fn fetch(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError>;

    /// Prove every key exists, without reading values where the service allows it.
    async fn exists(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<()>, BackendError> {
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

    /// The least-privilege policy for what this backend's requests need for `wanted`, in its
    /// manager's language (`osenv policy`). No request is made.
    fn policy(&self, wanted: &policy::Wanted<'_>) -> Result<policy::Policy, BackendError> {
        let _ = wanted;
        Err(BackendError::NotSupported {
            backend: self.describe(),
            operation: "access policies",
        })
    }

    /// Give back what this run obtained for itself (a Vault token from a login), after its
    /// last request, whether or not the run succeeded. Best effort: a failure here is logged,
    /// never the run's error.
    async fn finish(&self) {}
}
