//! `key_management_system: hashicorp_vault` (HashiCorp Vault and OpenBao), over the HTTP API.
//!
//! One login per run (the method `HCP_VAULT_AUTH_METHOD` names, else the first configured of
//! AppRole, TLS certificate, a token, Kubernetes and JWT; see [`config`]), its token reused by
//! every request and revoked when the run ends; reads run concurrently under the run's bound. A read is
//! `GET {addr}/v1/[{namespace}/]{mount}/data/[{prefix}/]{path}` (KV v2; LiteLLM's URL) and the
//! value is field `key` of the secret's data, or the field and version the reference selects
//! (see [`secret_path`]). KV v1 mounts are supported with `vault_kv_version: 1`. `check` reads
//! the metadata endpoint, never the data. TLS verification is always on; `VAULT_CACERT` adds a
//! CA, and the system roots honour `SSL_CERT_FILE`.

pub mod config;
mod failure;
mod policy;
pub mod secret_path;
mod session;

use super::{Backend, Context, DeleteMode, KeyResults};
use crate::backend::KeyName;
use crate::environment::Environment;
use crate::error::{BackendError, KeyError, Place, Problem, Within};
use crate::secret::SecretValue;
use crate::settings::{VaultOptions, WrittenSecrets};
use async_trait::async_trait;
use config::{KvVersion, VaultConfig};
use failure::errors_of;
use futures_util::future::join_all;
use secret_path::SecretPath;
use serde_json::Value;
use session::{Connection, send};
use std::sync::Arc;

const SYSTEM: &str = "hashicorp_vault";

/// HashiCorp Vault / OpenBao.
#[derive(Debug)]
pub struct Vault {
    config: VaultConfig,
    /// The run's connection, after the first request; `finish` takes it back (a template
    /// that needs more names afterwards logs in again).
    session: tokio::sync::Mutex<Option<Arc<Connection>>>,
}

impl Vault {
    /// Set up from the settings and the environment; no I/O until the first request.
    pub fn new(settings: &VaultOptions, written: &WrittenSecrets, env: &Environment) -> Self {
        let config = VaultConfig::new(settings, written, env);
        if config.skip_verify_requested {
            tracing::warn!(
                "VAULT_SKIP_VERIFY is ignored: osenv always verifies TLS (set VAULT_CACERT to trust a private CA)"
            );
        }
        Self {
            config,
            session: tokio::sync::Mutex::new(None),
        }
    }

    /// A reference's name as a path of this Vault: [`SecretPath::parse`], and under KV v1 no
    /// segment of the prefix or the name may be one of Vault's own APIs. KV v1 puts them
    /// straight after the mount, and a "mount" can be a namespace (OpenBao and Vault
    /// Enterprise read namespaces from the path): `team1` + `auth/token/lookup-self` would read
    /// the token itself. Under KV v2 the engine's `data/` follows the mount.
    fn parse_path(&self, name: &str) -> Result<SecretPath, &'static str> {
        let path = SecretPath::parse(name)?;
        if self.config.kv == KvVersion::V1 {
            let prefix = self.config.path_prefix.iter().flat_map(|p| p.split('/'));
            let reserved = |s: &str| config::RESERVED_PATHS.iter().any(|r| s.eq_ignore_ascii_case(r));
            if prefix.chain(path.segments.iter().map(String::as_str)).any(reserved) {
                return Err(
                    "under KV v1 a Vault path cannot have an `auth`, `sys` or `identity` segment (Vault's own APIs)",
                );
            }
        }
        Ok(path)
    }

    /// `{addr}/v1/[{ns}/]{mount}/{kind}/[{prefix}/]{path}`; KV v1 has no `kind` segment.
    fn url(&self, kind: &str, path: &SecretPath) -> String {
        let mut url = format!("{}/v1/", self.config.addr);
        if let Some(ns) = &self.config.secret_namespace {
            url.push_str(ns);
            url.push('/');
        }
        url.push_str(&self.api_path(kind, &path.encoded()));
        url
    }

    /// `{mount}/{kind}/[{prefix}/]{path}` (KV v1: no `kind`): the request path under the
    /// namespace, for a URL (`path` encoded) and for a policy (`path` as Vault matches it).
    fn api_path(&self, kind: &str, path: &str) -> String {
        let mut api = format!("{}/", self.config.mount);
        if self.config.kv == KvVersion::V2 {
            api.push_str(kind);
            api.push('/');
        }
        if let Some(prefix) = &self.config.path_prefix {
            api.push_str(prefix);
            api.push('/');
        }
        api.push_str(path);
        api
    }

    fn within(&self, path: &SecretPath) -> Within {
        Within::backend(self.describe()).at(Place::At(path.segments.join("/")))
    }

    /// `GET url` for the secret at `path`; anything but 200 is that reference's error.
    async fn get(&self, session: &Connection, path: &SecretPath, url: &str, ctx: &Context) -> Result<Value, KeyError> {
        let (result, attempts) = send(ctx, || {
            session.http.get(url).header("X-Vault-Token", session.token.clone())
        })
        .await;
        let (status, body) = result.map_err(|f| {
            KeyError::Backend(Arc::new(BackendError::Request {
                backend: self.describe(),
                endpoint: format!("GET {url}"),
                attempts,
                source: Box::new(f),
            }))
        })?;
        if status == 200 {
            Ok(body)
        } else {
            Err(self.key_error(path, status, &body, url, attempts))
        }
    }

    async fn read(&self, session: &Connection, name: &str, ctx: &Context) -> Result<SecretValue, KeyError> {
        let path = self
            .parse_path(name)
            .map_err(|reason| KeyError::InvalidName { reason: reason.into() })?;
        if path.version.is_some() && self.config.kv == KvVersion::V1 {
            return Err(KeyError::InvalidName {
                reason: "a version (`@N`) needs a KV v2 mount".into(),
            });
        }
        let mut url = self.url("data", &path);
        if let Some(v) = path.version {
            url.push_str("?version=");
            url.push_str(&v.to_string());
        }
        let body = self.get(session, &path, &url, ctx).await?;
        let data = match self.config.kv {
            KvVersion::V2 => body.pointer("/data/data"),
            KvVersion::V1 => body.get("data"),
        };
        // A `vault_field` read from the environment is named by its reference in messages.
        let (field, shown) = match &path.field {
            Some(field) => (field.as_str(), field.as_str()),
            None => (self.config.field.value.as_str(), self.config.field.shown()),
        };
        if let Some(data) = data {
            crate::secret::withhold_json(data);
        }
        match data.and_then(|d| d.get(field)) {
            Some(Value::String(s)) => Ok(SecretValue::withheld(s.as_str())),
            None | Some(Value::Null) => Err(KeyError::NotFound {
                within: Within::backend(self.describe()).at(Place::Field {
                    field: shown.to_owned(),
                    at: path.segments.join("/"),
                }),
            }),
            // A number, boolean, list or object is written as its JSON text.
            Some(other) => Ok(SecretValue::withheld(other.to_string())),
        }
    }

    async fn exists_one(&self, session: &Connection, name: &str, ctx: &Context) -> Result<(), KeyError> {
        let path = self
            .parse_path(name)
            .map_err(|reason| KeyError::InvalidName { reason: reason.into() })?;
        let url = self.url("metadata", &path);
        let body = self.get(session, &path, &url, ctx).await?;
        let version = path
            .version
            .or_else(|| body.pointer("/data/current_version").and_then(Value::as_u64))
            .unwrap_or(0);
        let within = self.within(&path);
        match body.pointer(&format!("/data/versions/{version}")) {
            None => Err(KeyError::NotFound { within }),
            Some(v) if v.get("destroyed").and_then(Value::as_bool) == Some(true) => Err(KeyError::Unavailable {
                within,
                reason: Problem::VersionDestroyed,
            }),
            Some(v)
                if v.get("deletion_time")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty()) =>
            {
                Err(KeyError::Unavailable {
                    within,
                    reason: Problem::VersionDeleted,
                })
            }
            Some(_) => Ok(()),
        }
    }

    /// A write or delete whose answer must be 2xx.
    async fn change(
        &self,
        ctx: &Context,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(), BackendError> {
        let session = self.session(ctx).await?;
        let (result, attempts) = send(ctx, || {
            let request = session
                .http
                .request(method.clone(), url)
                .header("X-Vault-Token", session.token.clone());
            match body {
                Some(b) => request.json(b),
                None => request,
            }
        })
        .await;
        let failed = |failure, attempts| BackendError::Request {
            backend: self.describe(),
            endpoint: format!("{method} {url}"),
            attempts,
            source: Box::new(failure),
        };
        let (status, body) = result.map_err(|f| failed(f, attempts))?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(failed(
                crate::backend::RequestFailure::answer(status, errors_of(&body)),
                attempts,
            ))
        }
    }
}

#[async_trait]
impl Backend for Vault {
    fn describe(&self) -> String {
        format!("{SYSTEM} ({})", self.config.addr)
    }

    async fn fetch(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError> {
        let session = self.session(ctx).await?;
        Ok(join_all(keys.iter().map(|k| self.read(&session, k, ctx))).await)
    }

    async fn exists(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<()>, BackendError> {
        if self.config.kv == KvVersion::V1 {
            // KV v1 keeps no metadata: reading is the only way to know.
            return Ok(self.fetch(keys, ctx).await?.into_iter().map(|r| r.map(drop)).collect());
        }
        let session = self.session(ctx).await?;
        Ok(join_all(keys.iter().map(|k| self.exists_one(&session, k, ctx))).await)
    }

    async fn write(&self, name: &str, value: &SecretValue, ctx: &Context) -> Result<(), BackendError> {
        let path = self.parse_path(name).map_err(|reason| self.unstorable(name, reason))?;
        if path.version.is_some() {
            return Err(self.unstorable(name, "a write cannot pick a version (`@N`)"));
        }
        let field = path.field.clone().unwrap_or_else(|| self.config.field.value.clone());
        let mut data = serde_json::Map::new();
        data.insert(field, Value::String(value.expose().to_owned()));
        if let Some(description) = &self.config.description {
            data.entry("description").or_insert(Value::String(description.clone()));
        }
        let body = match self.config.kv {
            KvVersion::V2 => serde_json::json!({ "data": data }),
            KvVersion::V1 => Value::Object(data),
        };
        self.change(ctx, reqwest::Method::POST, &self.url("data", &path), Some(&body))
            .await
    }

    fn policy(
        &self,
        wanted: &crate::backend::policy::Wanted<'_>,
    ) -> Result<crate::backend::policy::Policy, BackendError> {
        self.access_policy(wanted)
    }

    /// Revoke the token this run logged in for (`auth/token/revoke-self`), so a rollout every
    /// few minutes does not pile tokens up in Vault's storage until their TTL. A token the user
    /// gave is never revoked.
    async fn finish(&self) {
        let taken = self.session.lock().await.take();
        if let Some(session) = taken {
            self.revoke(&session).await;
        }
    }

    async fn delete(&self, name: &str, mode: DeleteMode, ctx: &Context) -> Result<(), BackendError> {
        let path = self.parse_path(name).map_err(|reason| self.unstorable(name, reason))?;
        // Vault answers 204 for a path that holds nothing, which would let a mistyped name
        // "succeed": look first. A denied look (a policy with `delete` only) is no answer, so the
        // delete goes ahead.
        let session = self.session(ctx).await?;
        let look = match self.config.kv {
            KvVersion::V2 => self.url("metadata", &path),
            KvVersion::V1 => self.url("data", &path),
        };
        if let Err(KeyError::NotFound { .. }) = self.get(&session, &path, &look, ctx).await {
            return Err(BackendError::Missing {
                backend: self.describe(),
                name: name.to_owned(),
                operation: "delete",
            });
        }
        let kind = match mode {
            // Soft delete of the latest version: `vault kv undelete` brings it back.
            DeleteMode::Recoverable => "data",
            // Every version and the metadata.
            DeleteMode::Permanent => "metadata",
        };
        self.change(ctx, reqwest::Method::DELETE, &self.url(kind, &path), None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(vars: &[(&str, &str)], kv: u8) -> Vault {
        let settings = VaultOptions {
            kv_version: kv,
            ..VaultOptions::default()
        };
        Vault::new(
            &settings,
            &WrittenSecrets::default(),
            &Environment::new(vars.iter().copied(), vec![]),
        )
    }

    #[test]
    fn urls_follow_litellm() {
        let v = vault(
            &[
                ("HCP_VAULT_ADDR", "https://vault:8200/"),
                ("HCP_VAULT_NAMESPACE", "team1"),
                ("HCP_VAULT_MOUNT_NAME", "/kv/"),
                ("HCP_VAULT_PATH_PREFIX", "litellm"),
            ],
            2,
        );
        let p = SecretPath::parse("app/OPENAI_API_KEY").unwrap();
        assert_eq!(
            v.url("data", &p),
            "https://vault:8200/v1/team1/kv/data/litellm/app/OPENAI_API_KEY"
        );
        assert_eq!(
            v.url("metadata", &p),
            "https://vault:8200/v1/team1/kv/metadata/litellm/app/OPENAI_API_KEY"
        );
        let v1 = vault(&[], 1);
        assert_eq!(v1.url("data", &p), "http://127.0.0.1:8200/v1/secret/app/OPENAI_API_KEY");
    }

    #[test]
    fn answers_map_to_key_errors() {
        let v = vault(&[], 2);
        let p = SecretPath::parse("x").unwrap();
        let show = |status, body: Value| {
            v.key_error(
                &p,
                status,
                &body,
                "u",
                crate::backend::transport::retry::Attempts {
                    count: 1,
                    elapsed: std::time::Duration::ZERO,
                },
            )
            .to_string()
        };
        assert_eq!(
            show(404, serde_json::json!({"errors": []})),
            "not found in hashicorp_vault (http://127.0.0.1:8200) at `x`"
        );
        assert!(show(404, serde_json::json!({"data": {"data": null, "metadata": {"deletion_time": "2026-01-01T00:00:00Z", "destroyed": false}}})).contains("was deleted"));
        assert!(
            show(
                404,
                serde_json::json!({"data": {"data": null, "metadata": {"deletion_time": "", "destroyed": true}}})
            )
            .contains("destroyed")
        );
        assert_eq!(
            show(403, serde_json::json!({"errors": ["permission denied"]})),
            "access denied by hashicorp_vault (http://127.0.0.1:8200) at `x`"
        );
        assert!(
            show(400, serde_json::json!({"errors": ["bad"]}))
                .contains("request to GET u failed after 1 attempt in 0.0 s")
        );
    }
}
