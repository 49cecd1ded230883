//! `key_management_system: google_secret_manager`.
//!
//! A name is a secret id in the project `GOOGLE_SECRET_MANAGER_PROJECT_ID`, read at
//! `versions/latest:access` as LiteLLM does; `NAME@VERSION` pins a version (number or alias), and
//! a full resource name (`projects/P/secrets/S[/versions/V]`) reads from any project. The
//! payload's `dataCrc32c` is verified when the service sends it. Every read is concurrent under
//! the run's bound; not found, permission denied and a disabled version are distinct errors
//! (LiteLLM turns them all into a silent fallback to the environment).

use super::{from_gax, no_retries, request_failed, setup_failed};
use crate::backend::RequestFailure;
use crate::backend::{Backend, Context, DeleteMode, KeyName, KeyResults, call};
use crate::environment::Environment;
use crate::error::{BackendError, KeyError, Place, Problem, Within};
use crate::provenance::{Setting, var as v};
use crate::secret::SecretValue;
use async_trait::async_trait;
use futures_util::future::join_all;
use google_cloud_secretmanager_v1::client::SecretManagerService;
use google_cloud_secretmanager_v1::model::{Replication, Secret, SecretPayload, replication, secret_version};
use std::sync::Arc;
use tokio::sync::OnceCell;

const SYSTEM: &str = "google_secret_manager";
const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com";

/// Google Secret Manager.
#[derive(Debug)]
pub struct SecretManager {
    pub(super) project: Option<String>,
    endpoint: Option<String>,
    client: OnceCell<SecretManagerService>,
}

/// Where a name points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretName {
    /// `projects/P/secrets/S`.
    pub secret: String,
    /// `latest`, a number or an alias.
    pub version: String,
}

impl SecretName {
    /// Parse a reference name: `ID`, `ID@VERSION`, or a full resource name.
    pub fn parse(name: &str, project: Option<&str>) -> Result<Self, &'static str> {
        if let Some(rest) = name.strip_prefix("projects/") {
            let parts: Vec<&str> = rest.split('/').collect();
            return match parts.as_slice() {
                [p, "secrets", s] if valid_project(p) && valid_id(s) => Ok(Self {
                    secret: format!("projects/{p}/secrets/{s}"),
                    version: "latest".into(),
                }),
                [p, "secrets", s, "versions", v] if valid_project(p) && valid_id(s) && valid_version(v) => Ok(Self {
                    secret: format!("projects/{p}/secrets/{s}"),
                    version: (*v).to_owned(),
                }),
                _ => Err("expected `projects/PROJECT/secrets/ID` or `projects/PROJECT/secrets/ID/versions/VERSION`"),
            };
        }
        let (id, version) = match name.rsplit_once('@') {
            Some((id, v)) if valid_version(v) => (id, v),
            Some(_) => return Err("the version after `@` must be a number, `latest` or an alias"),
            None => (name, "latest"),
        };
        if !valid_id(id) {
            return Err("a Google Secret Manager secret id has 1 to 255 letters, digits, `-` and `_` only");
        }
        let project = project.ok_or("GOOGLE_SECRET_MANAGER_PROJECT_ID is not set")?;
        Ok(Self {
            secret: format!("projects/{project}/secrets/{id}"),
            version: version.to_owned(),
        })
    }

    /// `projects/P/secrets/S/versions/V`.
    pub fn version_name(&self) -> String {
        format!("{}/versions/{}", self.secret, self.version)
    }
}

fn valid_id(id: &str) -> bool {
    (1..=255).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A project id or number, or a domain-scoped id (`example.com:id`): it starts with a letter or
/// digit, so it is never `.` or `..`, which the URL library would resolve out of `projects/`.
fn valid_project(p: &str) -> bool {
    p.starts_with(|c: char| c.is_ascii_alphanumeric())
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':')
}

fn valid_version(v: &str) -> bool {
    !v.is_empty() && v.len() <= 63 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The payload as text, after checking its CRC32C when the service sent one.
pub fn payload_value(data: &[u8], crc32c: Option<i64>) -> Result<SecretValue, Problem> {
    if let Some(expected) = crc32c
        && i64::from(crc32c::crc32c(data)) != expected
    {
        return Err(Problem::ChecksumMismatch(
            "the payload does not match its dataCrc32c checksum (corrupted in transit?)",
        ));
    }
    std::str::from_utf8(data)
        .map(SecretValue::withheld)
        .map_err(|_| Problem::NotText)
}

impl SecretManager {
    /// Set up from the environment; no I/O until the first request.
    pub fn new(env: &Environment) -> Self {
        let var = |name: Setting| env.backend_setting(name);
        Self {
            project: var(v::GOOGLE_SECRET_MANAGER_PROJECT_ID),
            endpoint: var(v::GOOGLE_SECRET_MANAGER_ENDPOINT)
                .inspect(|url| crate::trust::warn_if_plain_http("GOOGLE_SECRET_MANAGER_ENDPOINT", url)),
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<&SecretManagerService, BackendError> {
        self.client
            .get_or_try_init(|| async {
                let mut builder = super::hardened(SecretManagerService::builder().with_retry_policy(no_retries()));
                if let Some(endpoint) = &self.endpoint {
                    crate::trust::warn_if_plain_http("GOOGLE_SECRET_MANAGER_ENDPOINT", endpoint);
                    builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
                }
                builder.build().await.map_err(|e| setup_failed(self.describe(), &e))
            })
            .await
    }

    fn within(&self, name: &SecretName) -> Within {
        Within::backend(self.describe()).at(Place::At(name.version_name().clone()))
    }

    fn failed(
        &self,
        operation: &str,
        failure: RequestFailure,
        attempts: crate::backend::transport::retry::Attempts,
    ) -> BackendError {
        let endpoint = self.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT);
        request_failed(self.describe(), endpoint, operation, failure, attempts)
    }

    async fn read(&self, client: &SecretManagerService, key: &str, ctx: &Context) -> Result<SecretValue, KeyError> {
        let name = SecretName::parse(key, self.project.as_deref())
            .map_err(|reason| KeyError::InvalidName { reason: reason.into() })?;
        let version = name.version_name();
        let (result, attempts) = call(ctx, || {
            let request = client.access_secret_version().set_name(&version);
            async move { request.send().await.map_err(from_gax) }
        })
        .await;
        let response = result.map_err(|f| {
            super::key_error(&f, &self.within(&name))
                .unwrap_or_else(|| KeyError::Backend(Arc::new(self.failed("AccessSecretVersion", f, attempts))))
        })?;
        let payload = response.payload.unwrap_or_default();
        payload_value(&payload.data, payload.data_crc32c).map_err(|reason| KeyError::InvalidValue {
            within: self.within(&name),
            reason,
        })
    }

    async fn exists_one(&self, client: &SecretManagerService, key: &str, ctx: &Context) -> Result<(), KeyError> {
        let name = SecretName::parse(key, self.project.as_deref())
            .map_err(|reason| KeyError::InvalidName { reason: reason.into() })?;
        let version = name.version_name();
        let (result, attempts) = call(ctx, || {
            let request = client.get_secret_version().set_name(&version);
            async move { request.send().await.map_err(from_gax) }
        })
        .await;
        let found = result.map_err(|f| {
            super::key_error(&f, &self.within(&name))
                .unwrap_or_else(|| KeyError::Backend(Arc::new(self.failed("GetSecretVersion", f, attempts))))
        })?;
        match found.state {
            secret_version::State::Enabled => Ok(()),
            secret_version::State::Disabled => Err(KeyError::Unavailable {
                within: self.within(&name),
                reason: Problem::VersionDisabled,
            }),
            secret_version::State::Destroyed => Err(KeyError::Unavailable {
                within: self.within(&name),
                reason: Problem::VersionDestroyed,
            }),
            _ => Err(KeyError::Unavailable {
                within: self.within(&name),
                reason: Problem::VersionInUnknownState,
            }),
        }
    }

    fn stored(&self, name: &str) -> Result<SecretName, BackendError> {
        match SecretName::parse(name, self.project.as_deref()) {
            Ok(n) if n.version == "latest" => Ok(n),
            Ok(_) => Err(BackendError::Name {
                backend: self.describe(),
                name: name.to_owned(),
                reason: "a write cannot pick a version (`@VERSION`)".into(),
            }),
            Err(reason) => Err(BackendError::Name {
                backend: self.describe(),
                name: name.to_owned(),
                reason: reason.to_string(),
            }),
        }
    }
}

#[async_trait]
impl Backend for SecretManager {
    fn policy(
        &self,
        wanted: &crate::backend::policy::Wanted<'_>,
    ) -> Result<crate::backend::policy::Policy, BackendError> {
        self.access_policy(wanted)
    }

    fn describe(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("{SYSTEM} ({endpoint})"),
            None => format!("{SYSTEM} ({DEFAULT_ENDPOINT})"),
        }
    }

    async fn fetch(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError> {
        let client = self.client().await?;
        Ok(join_all(keys.iter().map(|k| self.read(client, k, ctx))).await)
    }

    async fn exists(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<()>, BackendError> {
        let client = self.client().await?;
        Ok(join_all(keys.iter().map(|k| self.exists_one(client, k, ctx))).await)
    }

    async fn write(&self, name: &str, value: &SecretValue, ctx: &Context) -> Result<(), BackendError> {
        let client = self.client().await?;
        let target = self.stored(name)?;
        let (parent, id) = target
            .secret
            .rsplit_once("/secrets/")
            .expect("parsed names have /secrets/");
        let (created, attempts) = call(ctx, || {
            let request = client.create_secret().set_parent(parent).set_secret_id(id).set_secret(
                Secret::new().set_replication(Replication::new().set_automatic(replication::Automatic::new())),
            );
            async move { request.send().await.map_err(from_gax) }
        })
        .await;
        match created {
            Ok(_) => {}
            Err(f) if super::is(&f, google_cloud_gax::error::rpc::Code::AlreadyExists) => {}
            Err(f) => return Err(self.failed("CreateSecret", f, attempts)),
        }
        let data = value.expose().as_bytes().to_vec();
        let checksum = i64::from(crc32c::crc32c(&data));
        let (added, attempts) = call(ctx, || {
            let request = client
                .add_secret_version()
                .set_parent(&target.secret)
                .set_payload(SecretPayload::new().set_data(data.clone()).set_data_crc32c(checksum));
            async move { request.send().await.map_err(from_gax) }
        })
        .await;
        added
            .map(drop)
            .map_err(|f| self.failed("AddSecretVersion", f, attempts))
    }

    async fn delete(&self, name: &str, _mode: DeleteMode, ctx: &Context) -> Result<(), BackendError> {
        // Secret Manager has no recoverable delete: the secret and all its versions go.
        let client = self.client().await?;
        let target = self.stored(name)?;
        let (result, attempts) = call(ctx, || {
            let request = client.delete_secret().set_name(&target.secret);
            async move { request.send().await.map_err(from_gax) }
        })
        .await;
        result.map(drop).map_err(|f| {
            if super::is(&f, google_cloud_gax::error::rpc::Code::NotFound) {
                BackendError::Missing {
                    backend: self.describe(),
                    name: target.secret.clone(),
                    operation: "delete",
                }
            } else {
                self.failed("DeleteSecret", f, attempts)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_versions_and_resource_names() {
        let n = SecretName::parse("OPENAI_API_KEY", Some("p1")).unwrap();
        assert_eq!(n.version_name(), "projects/p1/secrets/OPENAI_API_KEY/versions/latest");
        let n = SecretName::parse("db-password@3", Some("p1")).unwrap();
        assert_eq!(n.version_name(), "projects/p1/secrets/db-password/versions/3");
        let n = SecretName::parse("projects/other/secrets/x/versions/7", None).unwrap();
        assert_eq!(n.version_name(), "projects/other/secrets/x/versions/7");
        assert!(
            SecretName::parse("AZURE-API-KEY", None)
                .unwrap_err()
                .contains("PROJECT_ID")
        );
        assert!(
            SecretName::parse("litellm/key", Some("p"))
                .unwrap_err()
                .contains("letters, digits")
        );
        assert!(SecretName::parse("k@", Some("p")).is_err());
        assert!(SecretName::parse("projects/p/secrets/x/versions", Some("p")).is_err());
    }

    #[test]
    fn payload_checksums_are_verified() {
        let data = b"sk-value";
        let good = i64::from(crc32c::crc32c(data));
        assert_eq!(payload_value(data, Some(good)).unwrap().expose(), "sk-value");
        assert_eq!(payload_value(data, None).unwrap().expose(), "sk-value");
        assert!(matches!(
            payload_value(data, Some(good + 1)),
            Err(Problem::ChecksumMismatch(_))
        ));
        assert_eq!(payload_value(&[0xff], None).unwrap_err(), Problem::NotText);
    }
}
