//! `key_management_system: azure_key_vault`, on the official `azure_security_keyvault_secrets`
//! client and `azure_identity` credentials (see [`credential`] for the order).
//!
//! The vault is `AZURE_KEY_VAULT_URI`. Reads are concurrent under the run's bound; `NAME@VERSION`
//! pins a version. Key Vault names allow only letters, digits and `-`: a reference such as
//! `os.environ/AZURE_API_KEY` is an error that suggests `AZURE-API-KEY` (the form LiteLLM's
//! documentation uses), unless `azure_map_to_dashes: true` maps `_` and `/` to `-`. `check`
//! reads version properties, never values. Unlike LiteLLM (which never writes to Azure), `put`
//! sets a new version (recovering a soft-deleted name first), `delete` soft-deletes and
//! `--purge` purges. Trust for a private CA comes from `SSL_CERT_FILE`.

pub mod credential;
mod policy;
mod transport;

use super::{Backend, Context, DeleteMode, KeyResults, RequestFailure, call};
use crate::backend::KeyName;
use crate::environment::Environment;
use crate::error::{BackendError, KeyError, Place, Problem, Within};
use crate::provenance::var as v;
use crate::secret::SecretValue;
use crate::settings::{AzureOptions, WrittenSecrets};
use async_trait::async_trait;
use azure_core::http::{ClientOptions, RetryOptions};
use azure_security_keyvault_secrets::models::{
    SecretClientGetSecretOptions, SecretClientListSecretPropertiesVersionsOptions, SetSecretParameters,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use futures_util::StreamExt as _;
use futures_util::future::join_all;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

const SYSTEM: &str = "azure_key_vault";

/// Azure Key Vault secrets.
pub struct KeyVault {
    uri: Option<String>,
    map_to_dashes: bool,
    tags: Option<std::collections::HashMap<String, String>>,
    env: Arc<Environment>,
    session: OnceCell<Connection>,
}

struct Connection {
    client: SecretClient,
}

impl fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVault")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// A Key Vault client error as a [`RequestFailure`]; the body is read only for Key Vault's
/// `error` object. By value, so that it reads `map_err(from_azure)`.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn from_azure(e: azure_core::Error) -> RequestFailure {
    use azure_core::error::ErrorKind;
    match e.kind() {
        ErrorKind::HttpResponse {
            status,
            error_code,
            raw_response,
        } => {
            let body: serde_json::Value = raw_response
                .as_ref()
                .and_then(|r| serde_json::from_slice(r.body().as_ref()).ok())
                .unwrap_or_default();
            let status = u16::from(*status);
            let retry_after = raw_response
                .as_ref()
                .and_then(|r| r.headers().get_optional_str(&azure_core::http::headers::RETRY_AFTER))
                .and_then(crate::backend::transport::retry::parse_retry_after);
            let text = |pointer: &str| body.pointer(pointer).and_then(|c| c.as_str()).map(str::to_owned);
            RequestFailure::answer(status, text("/error/message").unwrap_or_default())
                .code(error_code.clone().or_else(|| text("/error/code")))
                .inner(text("/error/innererror/code"))
                .transient(status == 429 || status >= 500)
                // Key Vault throttles at 4,000 transactions per 10 s per vault.
                .retry_after(retry_after)
        }
        kind => RequestFailure::transport(
            super::error_chain(&e),
            matches!(kind, ErrorKind::Io | ErrorKind::Connection),
        ),
    }
}

/// The per-key meaning of a Key Vault failure, when it is about the key.
fn key_error(failure: &RequestFailure, within: &Within) -> Option<KeyError> {
    let within = within.clone();
    Some(match (failure.status?, failure.inner.as_deref()) {
        (404, _) => KeyError::NotFound { within },
        (403, Some("SecretDisabled")) => KeyError::Unavailable {
            within,
            reason: Problem::VersionDisabled,
        },
        (403, _) => KeyError::AccessDenied { within },
        (400, _) => KeyError::InvalidValue {
            within,
            reason: Problem::said(failure),
        },
        _ => return None,
    })
}

/// A reference name as Key Vault sees it: the secret name and an optional version.
pub fn vault_name(name: &str, map_to_dashes: bool) -> Result<(String, Option<String>), String> {
    let (base, version) = match name.rsplit_once('@') {
        Some((base, v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric()) => (base, Some(v.to_owned())),
        Some(_) => return Err("the version after `@` must be letters and digits".into()),
        None => (name, None),
    };
    let mapped = if map_to_dashes {
        base.replace(['_', '/'], "-")
    } else {
        base.to_owned()
    };
    let valid = |n: &str| (1..=127).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid(&mapped) {
        return Ok((mapped, version));
    }
    let suggestion = base.replace(['_', '/'], "-");
    if !map_to_dashes && valid(&suggestion) {
        Err(format!(
            "Key Vault secret names allow only letters, digits and `-`: write `os.environ/{suggestion}`, or set key_management_settings.azure_map_to_dashes: true to map `_` and `/` to `-`"
        ))
    } else {
        Err("Key Vault secret names are 1 to 127 letters, digits and `-`".into())
    }
}

/// Whether the vault is on this machine (a local emulator or the tests' fake): no Azure domain
/// can match such a host, so the client's check of the challenge's resource domain is off.
fn is_loopback(uri: &str) -> bool {
    azure_core::http::Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| crate::trust::loopback_host(h.trim_start_matches('[').trim_end_matches(']')))
}

/// The token scope for a vault URI: `https://vault.azure.net/.default` for the public cloud,
/// the vault's DNS suffix for sovereign clouds and managed HSM.
fn scope_for(uri: &str) -> String {
    let host = azure_core::http::Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    match host.split_once('.') {
        Some((_, suffix)) if suffix.starts_with("vault.") || suffix.starts_with("managedhsm.") => {
            format!("https://{suffix}/.default")
        }
        _ => "https://vault.azure.net/.default".into(),
    }
}

impl KeyVault {
    /// Set up from the settings and environment; no I/O until the first request.
    pub fn new(settings: &AzureOptions, written: &WrittenSecrets, env: Arc<Environment>) -> Self {
        let uri = env.backend_setting(v::AZURE_KEY_VAULT_URI);
        Self {
            uri,
            map_to_dashes: settings.map_to_dashes,
            tags: written.tags.clone().map(|t| t.into_iter().collect()),
            env,
            session: OnceCell::new(),
        }
    }

    fn failed(
        &self,
        operation: &str,
        name: &str,
        failure: RequestFailure,
        attempts: crate::backend::transport::retry::Attempts,
    ) -> BackendError {
        BackendError::Request {
            backend: self.describe(),
            endpoint: format!("{operation} `{name}`"),
            attempts,
            source: Box::new(failure),
        }
    }

    async fn session(&self, ctx: &Context) -> Result<&Connection, BackendError> {
        self.session
            .get_or_try_init(|| async {
                let uri = self.uri.clone().ok_or_else(|| {
                    BackendError::configuration(
                        self.describe(),
                        "AZURE_KEY_VAULT_URI is not set (https://<vault>.vault.azure.net)",
                    )
                })?;
                let chosen = credential::choose(&self.env)
                    .map_err(|reason| BackendError::credentials(self.describe(), reason))?;
                // One token before any read, so a credential problem is one error, not one per
                // reference; the credential caches it for the reads.
                let scope = scope_for(&uri);
                let (token, attempts) = call(ctx, || {
                    let credential = Arc::clone(&chosen.credential);
                    let scope = scope.clone();
                    async move { credential.get_token(&[scope.as_str()], None).await.map_err(from_azure) }
                })
                .await;
                token.map_err(|f| BackendError::Request {
                    backend: self.describe(),
                    endpoint: format!("token for {scope} ({})", chosen.method),
                    attempts,
                    source: Box::new(f),
                })?;
                let transport = transport::Capped::new(ctx.max_response, self.describe())?;
                let options = SecretClientOptions {
                    client_options: ClientOptions {
                        retry: RetryOptions::none(),
                        transport: Some(azure_core::http::Transport::new(Arc::new(transport))),
                        ..Default::default()
                    },
                    verify_challenge_resource: Some(!is_loopback(&uri)),
                    ..Default::default()
                };
                let client = SecretClient::new(&uri, chosen.credential, Some(options)).map_err(|e| {
                    BackendError::configuration(self.describe(), format!("invalid AZURE_KEY_VAULT_URI: {e}"))
                })?;
                tracing::debug!(method = %chosen.method, "azure key vault session ready");
                Ok(Connection { client })
            })
            .await
    }

    fn within(&self, name: &str) -> Within {
        Within::backend(self.describe()).at(Place::At(name.to_owned()))
    }

    /// After a 404: say so more precisely when the name is soft-deleted.
    async fn not_found(&self, session: &Connection, name: &str, ctx: &Context) -> KeyError {
        let (deleted, _) = call(ctx, || async {
            session.client.get_deleted_secret(name, None).await.map_err(from_azure)
        })
        .await;
        match deleted {
            Ok(_) => KeyError::Unavailable {
                within: self.within(name),
                reason: Problem::SoftDeleted,
            },
            Err(_) => KeyError::NotFound {
                within: self.within(name),
            },
        }
    }

    async fn read(&self, session: &Connection, key: &str, ctx: &Context) -> Result<SecretValue, KeyError> {
        let (name, version) =
            vault_name(key, self.map_to_dashes).map_err(|r| KeyError::InvalidName { reason: r.into() })?;
        let (result, attempts) = call(ctx, || {
            let options = SecretClientGetSecretOptions {
                secret_version: version.clone(),
                ..Default::default()
            };
            let name = name.clone();
            async move {
                let response = session
                    .client
                    .get_secret(&name, Some(options))
                    .await
                    .map_err(from_azure)?;
                response.into_model().map_err(from_azure)
            }
        })
        .await;
        match result {
            Ok(secret) => secret
                .value
                .map(SecretValue::withheld)
                .ok_or_else(|| KeyError::InvalidValue {
                    within: self.within(&name),
                    reason: Problem::NoValue,
                }),
            Err(f) if f.status == Some(404) && version.is_none() => Err(self.not_found(session, &name, ctx).await),
            Err(f) => Err(key_error(&f, &self.within(&name))
                .unwrap_or_else(|| KeyError::Backend(Arc::new(self.failed("get secret", &name, f, attempts))))),
        }
    }

    async fn exists_one(&self, session: &Connection, key: &str, ctx: &Context) -> Result<(), KeyError> {
        let (name, version) =
            vault_name(key, self.map_to_dashes).map_err(|r| KeyError::InvalidName { reason: r.into() })?;
        let (result, attempts) = call(ctx, || {
            let name = name.clone();
            async move {
                let mut pager = session
                    .client
                    .list_secret_properties_versions(
                        &name,
                        Some(SecretClientListSecretPropertiesVersionsOptions::default()),
                    )
                    .map_err(from_azure)?;
                let mut versions = Vec::new();
                while let Some(item) = pager.next().await {
                    versions.push(item.map_err(from_azure)?);
                }
                Ok::<_, RequestFailure>(versions)
            }
        })
        .await;
        let versions = match result {
            Ok(v) => v,
            Err(f) if f.status == Some(404) => return Err(self.not_found(session, &name, ctx).await),
            Err(f) => {
                return Err(key_error(&f, &self.within(&name)).unwrap_or_else(|| {
                    KeyError::Backend(Arc::new(self.failed("list secret versions", &name, f, attempts)))
                }));
            }
        };
        let chosen = match &version {
            Some(v) => versions
                .iter()
                .find(|p| p.id.as_deref().is_some_and(|id| id.ends_with(&format!("/{v}")))),
            None => versions
                .iter()
                .max_by_key(|p| p.attributes.as_ref().and_then(|a| a.created)),
        };
        match chosen.and_then(|p| p.attributes.as_ref()) {
            None => Err(self.not_found(session, &name, ctx).await),
            Some(a) if a.enabled == Some(false) => Err(KeyError::Unavailable {
                within: self.within(&name),
                reason: Problem::VersionDisabled,
            }),
            Some(_) => Ok(()),
        }
    }

    fn stored(&self, name: &str) -> Result<String, BackendError> {
        match vault_name(name, self.map_to_dashes) {
            Ok((n, None)) => Ok(n),
            Ok((_, Some(_))) => Err(BackendError::Name {
                backend: self.describe(),
                name: name.to_owned(),
                reason: "a write cannot pick a version (`@VERSION`)".into(),
            }),
            Err(reason) => Err(BackendError::Name {
                backend: self.describe(),
                name: name.to_owned(),
                reason,
            }),
        }
    }

    /// One `set secret` request (a new version).
    async fn set_once(&self, session: &Connection, name: &str, value: &SecretValue) -> Result<(), RequestFailure> {
        let parameters = SetSecretParameters {
            value: Some(value.expose().to_owned()),
            tags: self.tags.clone(),
            ..Default::default()
        };
        let content = parameters.try_into().map_err(from_azure)?;
        session
            .client
            .set_secret(name, content, None)
            .await
            .map(drop)
            .map_err(from_azure)
    }
}

/// Run `op` (with the run's retries) until it stops answering 409 Conflict, which Key Vault sends
/// while a delete or recovery it accepted is still being carried out: at most 10 rounds, waiting
/// 200 ms longer each time. Returns the last answer and every attempt made.
async fn after_conflicts<F, Fut>(
    ctx: &Context,
    op: F,
) -> (Result<(), RequestFailure>, crate::backend::transport::retry::Attempts)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), RequestFailure>>,
{
    const ROUNDS: u32 = 10;
    let started = tokio::time::Instant::now();
    let mut total = crate::backend::transport::retry::Attempts::default();
    let mut round = 1;
    loop {
        let (result, attempts) = call(ctx, &op).await;
        total.count += attempts.count;
        total.elapsed = started.elapsed();
        match result {
            Err(f) if f.status == Some(409) && round < ROUNDS => {
                tokio::time::sleep(Duration::from_millis(200) * round).await;
                round += 1;
            }
            other => return (other, total),
        }
    }
}

/// The client learns the token scope from the vault's 401 challenge to its first request: one
/// request goes first, so that the rest carry a token instead of each drawing a 401.
async fn first_then_rest<'k, T, Fut>(keys: &'k [KeyName], each: impl Fn(&'k KeyName) -> Fut) -> Vec<T>
where
    Fut: std::future::Future<Output = T>,
{
    let Some((first, rest)) = keys.split_first() else {
        return Vec::new();
    };
    let mut results = vec![each(first).await];
    results.extend(join_all(rest.iter().map(each)).await);
    results
}

#[async_trait]
impl Backend for KeyVault {
    fn policy(
        &self,
        wanted: &crate::backend::policy::Wanted<'_>,
    ) -> Result<crate::backend::policy::Policy, BackendError> {
        self.access_policy(wanted)
    }

    fn describe(&self) -> String {
        format!(
            "{SYSTEM} ({})",
            self.uri.as_deref().unwrap_or("AZURE_KEY_VAULT_URI unset")
        )
    }

    async fn fetch(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError> {
        let session = self.session(ctx).await?;
        Ok(first_then_rest(keys, |k| self.read(session, k, ctx)).await)
    }

    async fn exists(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<()>, BackendError> {
        let session = self.session(ctx).await?;
        Ok(first_then_rest(keys, |k| self.exists_one(session, k, ctx)).await)
    }

    async fn write(&self, name: &str, value: &SecretValue, ctx: &Context) -> Result<(), BackendError> {
        let name = self.stored(name)?;
        let session = self.session(ctx).await?;
        let set = || self.set_once(session, &name, value);
        let (result, attempts) = call(ctx, set).await;
        match result {
            Ok(()) => return Ok(()),
            Err(f) if f.status == Some(409) => {}
            Err(f) => return Err(self.failed("set secret", &name, f, attempts)),
        }
        // 409: the name is soft-deleted, still being deleted (the service answers 409 to a
        // recovery until the delete is done), being recovered, or being purged. Recover it if
        // there is a deleted secret, then add the version once the service lets the name be
        // written (it answers 409 `ObjectIsBeingRecovered` for a while after a recovery it
        // accepted, and 409 for a while after a purge).
        let (recovered, attempts) = after_conflicts(ctx, || async {
            session
                .client
                .recover_deleted_secret(&name, None)
                .await
                .map(drop)
                .map_err(from_azure)
        })
        .await;
        match recovered {
            Ok(()) => tracing::info!(name = %name, "recovered a soft-deleted secret before writing it"),
            // No deleted secret: a purge or a recovery is under way; the write waits for it.
            Err(f) if f.status == Some(404) => {}
            Err(f) => return Err(self.failed("recover deleted secret", &name, f, attempts)),
        }
        let (result, attempts) = after_conflicts(ctx, set).await;
        result.map_err(|f| self.failed("set secret", &name, f, attempts))
    }

    async fn delete(&self, name: &str, mode: DeleteMode, ctx: &Context) -> Result<(), BackendError> {
        let name = self.stored(name)?;
        let session = self.session(ctx).await?;
        let missing = |operation| BackendError::Missing {
            backend: self.describe(),
            name: name.clone(),
            operation,
        };
        let (deleted, attempts) = call(ctx, || async {
            session
                .client
                .delete_secret(&name, None)
                .await
                .map(drop)
                .map_err(from_azure)
        })
        .await;
        match deleted {
            Ok(()) => {}
            // Already soft-deleted: only a purge has anything left to do.
            Err(f) if f.status == Some(404) && mode == DeleteMode::Permanent => {}
            Err(f) if f.status == Some(404) => return Err(missing("delete")),
            Err(f) => return Err(self.failed("delete secret", &name, f, attempts)),
        }
        if mode == DeleteMode::Recoverable {
            return Ok(());
        }
        let (purged, attempts) = after_conflicts(ctx, || async {
            session
                .client
                .purge_deleted_secret(&name, None)
                .await
                .map(drop)
                .map_err(from_azure)
        })
        .await;
        match purged {
            Ok(()) => Ok(()),
            Err(f) if f.status == Some(404) => Err(missing("purge")),
            Err(f) => Err(self.failed("purge deleted secret", &name, f, attempts)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_mapped_on_request() {
        assert_eq!(
            vault_name("AZURE-API-KEY", false).unwrap(),
            ("AZURE-API-KEY".into(), None)
        );
        let err = vault_name("AZURE_API_KEY", false).unwrap_err();
        assert!(err.contains("write `os.environ/AZURE-API-KEY`"), "{err}");
        assert_eq!(vault_name("AZURE_API_KEY", true).unwrap().0, "AZURE-API-KEY");
        assert_eq!(vault_name("litellm/my_key", true).unwrap().0, "litellm-my-key");
        assert_eq!(
            vault_name("key@0123abcd", false).unwrap(),
            ("key".into(), Some("0123abcd".into()))
        );
        assert!(vault_name("bad.name", true).unwrap_err().contains("1 to 127"));
        assert!(vault_name(&"a".repeat(128), false).is_err());
        assert!(vault_name("k@", false).is_err());
    }

    #[test]
    fn loopback_and_scopes() {
        assert!(is_loopback("https://127.0.0.1:8443"));
        assert!(is_loopback("https://localhost:8443/"));
        assert!(is_loopback("https://[::1]:8443/"));
        assert!(!is_loopback("https://myvault.vault.azure.net"));
        assert_eq!(
            scope_for("https://myvault.vault.azure.net/"),
            "https://vault.azure.net/.default"
        );
        assert_eq!(scope_for("https://v.vault.azure.cn"), "https://vault.azure.cn/.default");
        assert_eq!(scope_for("https://127.0.0.1:8443"), "https://vault.azure.net/.default");
    }

    #[test]
    fn failures_map_to_key_errors() {
        let f = |status, inner: Option<&str>| {
            RequestFailure::answer(status, "m")
                .code(Some("X".into()))
                .inner(inner.map(str::to_owned))
        };
        let show = |a: RequestFailure| key_error(&a, &Within::backend("w")).map(|e| e.to_string());
        assert_eq!(show(f(404, None)).as_deref(), Some("not found in w"));
        assert_eq!(
            show(f(403, Some("AccessDenied"))).as_deref(),
            Some("access denied by w")
        );
        assert_eq!(
            show(f(403, Some("SecretDisabled"))).as_deref(),
            Some("unavailable in w: the version is disabled")
        );
        assert_eq!(show(f(500, None)), None);
    }
}
