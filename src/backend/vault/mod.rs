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
mod policy;
pub mod secret_path;

use super::{Backend, Context, DeleteMode, KeyResults};
use crate::backend::http::transport_message;
use crate::backend::token_file::read_token_file;
use crate::environment::Environment;
use crate::error::{BackendError, KeyError, Place, Within};
use crate::secret::SecretValue;
use crate::settings::{VaultOptions, WrittenSecrets};
use async_trait::async_trait;
use config::{Auth, JwtSource, KvVersion, VaultConfig};
use futures_util::future::join_all;
use secret_path::SecretPath;
use serde_json::Value;
use std::fmt;
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

/// The HTTP client and the token of this run, as a header value marked sensitive (so no
/// `Debug` of a request shows it), built once for every request.
struct Connection {
    http: reqwest::Client,
    token: reqwest::header::HeaderValue,
    /// The token came from a login of this run (not from the user), so the run revokes it.
    logged_in: bool,
    /// A login token's lease (`auth.lease_duration`) when it is renewable, and since when it
    /// runs: a run that holds its session (`--watch`) renews it past half the lease.
    lease: Option<(std::time::Duration, tokio::time::Instant)>,
}

impl Connection {
    fn renewal_due(&self) -> bool {
        self.lease.is_some_and(|(lease, since)| since.elapsed() >= lease / 2)
    }
}

/// A login's token and its renewable lease.
struct Login {
    token: SecretValue,
    lease: Option<std::time::Duration>,
}

/// The renewable lease of a login answer (`auth.renewable`, `auth.lease_duration`).
fn lease_of(body: &Value) -> Option<std::time::Duration> {
    let renewable = body.pointer("/auth/renewable").and_then(Value::as_bool) == Some(true);
    let seconds = body
        .pointer("/auth/lease_duration")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    (renewable && seconds > 0).then(|| std::time::Duration::from_secs(seconds))
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

/// A failed Vault request: the HTTP status (if any) and Vault's `errors` text.
pub use crate::backend::http::HttpFailure as VaultFailure;

/// Statuses worth retrying: rate limits, a standby or sealed node, a gateway in between, and
/// 412 (a performance standby that has not caught up yet).
fn transient_status(status: u16) -> bool {
    matches!(status, 412 | 429 | 500 | 502 | 503 | 504)
}

/// Vault's error text: the lines of `{"errors": ["..."]}` joined, without the
/// `1 error occurred:` headers and `*` bullets of multi-errors; never a body echoed verbatim.
fn errors_of(body: &Value) -> String {
    let Some(errors) = body.get("errors").and_then(Value::as_array) else {
        return String::new();
    };
    errors
        .iter()
        .filter_map(Value::as_str)
        .flat_map(str::lines)
        .map(|line| line.trim().trim_start_matches("* ").trim())
        .filter(|line| !line.is_empty() && !line.ends_with("error occurred:") && !line.ends_with("errors occurred:"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Vault's answer to a refused login, with what it usually means for the role-based methods.
fn login_refusal(status: u16, errors: &str) -> String {
    let lower = errors.to_ascii_lowercase();
    let hint = if lower.contains("audience") || lower.contains("aud claim") {
        " (the token's `aud` is not one of the role's bound_audiences)"
    } else if lower.contains("could not be found")
        || lower.contains("invalid role name")
        || lower.contains("role not found")
    {
        " (no such role on this auth mount)"
    } else if lower.contains("not authorized") || lower.contains("permission denied") {
        " (the role does not admit this identity: check its bound service accounts, namespaces or claims)"
    } else if lower.contains("expired") {
        " (the token has expired)"
    } else {
        ""
    };
    if errors.is_empty() {
        format!("the login was refused (HTTP {status})")
    } else {
        format!("{errors}{hint}")
    }
}

/// How Vault's answers are read: its `errors` text, and the statuses worth retrying.
const DIALECT: crate::backend::http::Dialect = crate::backend::http::Dialect {
    transient: transient_status,
    errors: |body| errors_of(&serde_json::from_slice(body).unwrap_or(Value::Null)),
};

/// Send a request made by `make` under the run's limits. A response with a non-transient
/// status is returned for the caller to map, with its JSON body (`null` when it has none);
/// transient ones are retried.
async fn send(
    ctx: &Context,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> (Result<(u16, Value), VaultFailure>, crate::backend::retry::Attempts) {
    let (result, attempts) = crate::backend::http::exchange(ctx, &DIALECT, make).await;
    let answer = result.map(|reply| (reply.status, serde_json::from_slice(&reply.body).unwrap_or(Value::Null)));
    (answer, attempts)
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

    fn unstorable(&self, name: &str, reason: impl Into<String>) -> BackendError {
        BackendError::Name {
            backend: self.describe(),
            name: name.to_owned(),
            reason: reason.into(),
        }
    }

    /// The run's client, built once, with its first request.
    fn client(&self) -> Result<reqwest::Client, BackendError> {
        if let Some(invalid) = &self.config.invalid {
            return Err(BackendError::configuration(self.describe(), invalid.clone()));
        }
        crate::trust::warn_if_plain_http(SYSTEM, &self.config.addr);
        let mut builder = crate::backend::http::builder();
        if let Some(ca) = &self.config.ca_cert {
            let pem = std::fs::read(ca).map_err(|e| {
                BackendError::configuration(
                    self.describe(),
                    format!("cannot read VAULT_CACERT `{}`: {e}", ca.display()),
                )
            })?;
            let certs = crate::backend::http::ca_bundle(&pem, &format!("VAULT_CACERT `{}`", ca.display()))
                .map_err(|reason| BackendError::configuration(self.describe(), reason))?;
            builder = builder.tls_certs_merge(certs);
        }
        if let (
            Ok(config::Selected {
                auth: Auth::Cert { .. },
                ..
            }),
            Some((cert, key)),
        ) = (&self.config.auth, &self.config.client_identity)
        {
            let identity = crate::backend::http::client_identity(cert, key)
                .map_err(|reason| BackendError::configuration(self.describe(), reason))?;
            builder = builder.identity(identity);
        }
        builder.build().map_err(|e| BackendError::Client {
            backend: self.describe(),
            reason: format!("cannot set up HTTPS: {}", transport_message(&e)),
        })
    }

    /// The client and the run's token: one login per run, shared by every request.
    async fn session(&self, ctx: &Context) -> Result<Arc<Connection>, BackendError> {
        let mut session = self.session.lock().await;
        if let Some(connection) = session.take() {
            if !connection.renewal_due() {
                *session = Some(Arc::clone(&connection));
                return Ok(connection);
            }
            // Held across resolutions (`--watch`) past half its lease: renew it, or, when Vault
            // will not (its max TTL), give it back and log in afresh.
            if let Some(renewed) = self.renew(&connection, ctx).await {
                let renewed = Arc::new(renewed);
                *session = Some(Arc::clone(&renewed));
                return Ok(renewed);
            }
            self.revoke(&connection).await;
        }
        let connection = Arc::new(
            async {
                let selected = self
                    .config
                    .auth
                    .clone()
                    .map_err(|reason| BackendError::credentials(self.describe(), reason))?;
                let auth = &selected.auth;
                if let Auth::Token(_) = auth {
                    tracing::info!("vault: using the token ({}) at {}", selected.reason, self.config.addr);
                } else {
                    tracing::info!(
                        "vault: {} login ({}) at {}",
                        auth.method(),
                        selected.reason,
                        self.config.addr
                    );
                }
                let http = self.client()?;
                let login = match auth {
                    Auth::Token(token) => Login {
                        token: token.clone(),
                        lease: None,
                    },
                    Auth::AppRole { role_id, secret_id, .. } => {
                        let body = serde_json::json!({"role_id": role_id, "secret_id": secret_id.expose()});
                        self.login(&http, auth, &body, secret_id, ctx).await?
                    }
                    Auth::Cert { role } => {
                        let body = serde_json::json!({ "name": role });
                        self.login(&http, auth, &body, &SecretValue::new(""), ctx).await?
                    }
                    Auth::Kubernetes { role, token_path, .. } => {
                        let jwt = read_token_file(
                            token_path,
                            "the Kubernetes service-account token (HCP_VAULT_K8S_TOKEN_PATH)",
                        )
                        .map_err(|reason| BackendError::credentials(self.describe(), reason))?;
                        let body = serde_json::json!({"role": role, "jwt": jwt.expose()});
                        self.login(&http, auth, &body, &jwt, ctx).await?
                    }
                    Auth::Jwt { role, token, .. } => {
                        let jwt = self.jwt(&http, token, ctx).await?;
                        let body = serde_json::json!({"role": role, "jwt": jwt.expose()});
                        self.login(&http, auth, &body, &jwt, ctx).await?
                    }
                };
                tracing::debug!(method = auth.method(), addr = %self.config.addr, "vault session ready");
                let mut token = reqwest::header::HeaderValue::from_str(login.token.expose()).map_err(|_| {
                    BackendError::credentials(
                        self.describe(),
                        "the Vault token has characters an HTTP header cannot carry",
                    )
                })?;
                token.set_sensitive(true);
                Ok(Connection {
                    http,
                    token,
                    logged_in: !matches!(auth, Auth::Token(_)),
                    lease: login.lease.map(|lease| (lease, tokio::time::Instant::now())),
                })
            }
            .await?,
        );
        *session = Some(Arc::clone(&connection));
        Ok(connection)
    }

    /// The JWT of a JWT login: the value, the file's content, or a token GitHub Actions issues
    /// for the audience.
    async fn jwt(
        &self,
        http: &reqwest::Client,
        source: &JwtSource,
        ctx: &Context,
    ) -> Result<SecretValue, BackendError> {
        match source {
            JwtSource::Value(value) => Ok(SecretValue::new(value.expose().trim())),
            JwtSource::File(path) => read_token_file(path, "the JWT (HCP_VAULT_JWT_TOKEN_FILE)")
                .map_err(|reason| BackendError::credentials(self.describe(), reason)),
            JwtSource::GitHubActions {
                request_url,
                request_token,
                audience,
            } => {
                let mut url = reqwest::Url::parse(request_url).map_err(|e| {
                    BackendError::configuration(
                        self.describe(),
                        format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {e}"),
                    )
                })?;
                url.query_pairs_mut().append_pair("audience", audience);
                let endpoint = format!(
                    "GET {} (GitHub Actions OIDC token)",
                    request_url.split('?').next().unwrap_or("")
                );
                let (result, attempts) = send(ctx, || {
                    http.get(url.clone())
                        .bearer_auth(request_token.expose())
                        .header(reqwest::header::ACCEPT, "application/json")
                })
                .await;
                let failed = |failure: VaultFailure, attempts| BackendError::Request {
                    backend: self.describe(),
                    endpoint: endpoint.clone(),
                    attempts,
                    source: Box::new(failure),
                };
                let (status, body) = result.map_err(|f| failed(f.scrubbed(request_token), attempts))?;
                match body.get("value").and_then(Value::as_str) {
                    Some(jwt) if status == 200 && !jwt.trim().is_empty() => Ok(SecretValue::new(jwt.trim())),
                    _ => Err(failed(
                        VaultFailure {
                            status: Some(status),
                            message: if status == 200 {
                                "the answer holds no token (`value`)".into()
                            } else {
                                "GitHub did not issue a token (does the job have `permissions: id-token: write`?)"
                                    .into()
                            },
                            transient: false,
                            retry_after: None,
                        },
                        attempts,
                    )),
                }
            }
        }
    }

    /// Log in with `body`; `credential` (the secret id or JWT sent) is removed from any error
    /// text Vault returns, should it ever echo it.
    async fn login(
        &self,
        http: &reqwest::Client,
        auth: &Auth,
        body: &Value,
        credential: &SecretValue,
        ctx: &Context,
    ) -> Result<Login, BackendError> {
        let Some((path, role)) = auth.login_path() else {
            return Err(BackendError::credentials(
                self.describe(),
                "this method does not log in",
            ));
        };
        let url = format!("{}/v1/{path}", self.config.addr);
        let (result, attempts) = send(ctx, || {
            let mut request = http.post(&url).json(body);
            if let Some(ns) = &self.config.login_namespace {
                request = request.header("X-Vault-Namespace", ns);
            }
            request
        })
        .await;
        let endpoint = match role {
            Some(role) => format!("POST {url} ({} login as role `{role}`)", auth.method()),
            None => format!("POST {url} ({} login)", auth.method()),
        };
        let failed = |failure: VaultFailure, attempts| BackendError::Request {
            backend: self.describe(),
            endpoint: endpoint.clone(),
            attempts,
            source: Box::new(failure.scrubbed(credential)),
        };
        let (status, body) = result.map_err(|f| failed(f, attempts))?;
        match body.pointer("/auth/client_token").and_then(Value::as_str) {
            Some(token) if status == 200 => Ok(Login {
                token: SecretValue::new(token),
                lease: lease_of(&body),
            }),
            _ => Err(failed(
                VaultFailure {
                    status: Some(status),
                    message: login_refusal(status, &errors_of(&body)),
                    transient: false,
                    retry_after: None,
                },
                attempts,
            )),
        }
    }

    /// Revoke a token this run logged in for (`auth/token/revoke-self`), so a rollout every
    /// few minutes does not pile tokens up in Vault's storage until their TTL. A token the user
    /// gave is never revoked. Best effort, at most 5 s.
    async fn revoke(&self, session: &Connection) {
        if !session.logged_in {
            return;
        }
        let url = format!("{}/v1/auth/token/revoke-self", self.config.addr);
        let mut request = session
            .http
            .post(&url)
            .header("X-Vault-Token", session.token.clone())
            .timeout(std::time::Duration::from_secs(5));
        if let Some(ns) = &self.config.login_namespace {
            request = request.header("X-Vault-Namespace", ns);
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => tracing::debug!(addr = %self.config.addr, "vault token revoked"),
            Ok(r) => tracing::warn!(
                "could not revoke the Vault token this run logged in for (HTTP {}); it expires with its TTL",
                r.status().as_u16()
            ),
            Err(e) => tracing::warn!(
                "could not revoke the Vault token this run logged in for ({}); it expires with its TTL",
                transport_message(&e)
            ),
        }
    }

    /// Renew a held login token (`auth/token/renew-self`); `None` when Vault does not, or
    /// grants less than half the last lease (its max TTL is near), so the caller logs in again.
    async fn renew(&self, session: &Connection, ctx: &Context) -> Option<Connection> {
        let url = format!("{}/v1/auth/token/renew-self", self.config.addr);
        let (result, _) = send(ctx, || {
            let mut request = session
                .http
                .post(&url)
                .header("X-Vault-Token", session.token.clone())
                .json(&serde_json::json!({}));
            if let Some(ns) = &self.config.login_namespace {
                request = request.header("X-Vault-Namespace", ns);
            }
            request
        })
        .await;
        // A lease cut short (under half the last one) means the max TTL is near: log in afresh
        // rather than renew ever more often.
        let previous = session.lease.map_or(std::time::Duration::ZERO, |(lease, _)| lease);
        let lease = match result {
            Ok((200, body)) => lease_of(&body).filter(|l| *l >= previous / 2),
            _ => None,
        };
        let Some(lease) = lease else {
            tracing::info!("vault: the token could not be renewed further; logging in again");
            return None;
        };
        tracing::debug!(lease_s = lease.as_secs(), "vault token renewed");
        Some(Connection {
            http: session.http.clone(),
            token: session.token.clone(),
            logged_in: true,
            lease: Some((lease, tokio::time::Instant::now())),
        })
    }

    /// `{addr}/v1/[{ns}/]{mount}/{kind}/[{prefix}/]{path}`; KV v1 has no `kind` segment.
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

    /// Map a final answer about one secret (not 200) to that reference's error.
    fn key_error(
        &self,
        path: &SecretPath,
        status: u16,
        body: &Value,
        url: &str,
        attempts: crate::backend::retry::Attempts,
    ) -> KeyError {
        let within = self.within(path);
        match status {
            404 => match body.pointer("/data/metadata") {
                Some(meta) if meta.get("destroyed").and_then(Value::as_bool) == Some(true) => KeyError::Unavailable {
                    within,
                    reason: "this version was destroyed".into(),
                },
                Some(meta)
                    if meta
                        .get("deletion_time")
                        .and_then(Value::as_str)
                        .is_some_and(|t| !t.is_empty()) =>
                {
                    KeyError::Unavailable {
                        within,
                        reason: "this version was deleted (undelete it, or write a new version)".into(),
                    }
                }
                _ => KeyError::NotFound { within },
            },
            403 => KeyError::AccessDenied { within },
            _ => KeyError::Backend(Arc::new(BackendError::Request {
                backend: self.describe(),
                endpoint: format!("GET {url}"),
                attempts,
                source: Box::new(VaultFailure {
                    status: Some(status),
                    message: errors_of(body),
                    transient: false,
                    retry_after: None,
                }),
            })),
        }
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
        match data.and_then(|d| d.get(field)) {
            Some(Value::String(s)) => Ok(SecretValue::new(s.as_str())),
            None | Some(Value::Null) => Err(KeyError::NotFound {
                within: Within::backend(self.describe()).at(Place::Field {
                    field: shown.to_owned(),
                    at: path.segments.join("/"),
                }),
            }),
            // A number, boolean, list or object is written as its JSON text.
            Some(other) => Ok(SecretValue::new(other.to_string())),
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
                reason: "this version was destroyed".into(),
            }),
            Some(v)
                if v.get("deletion_time")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty()) =>
            {
                Err(KeyError::Unavailable {
                    within,
                    reason: "this version was deleted (undelete it, or write a new version)".into(),
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
                VaultFailure {
                    status: Some(status),
                    message: errors_of(&body),
                    transient: false,
                    retry_after: None,
                },
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

    async fn fetch(&self, keys: &[String], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError> {
        let session = self.session(ctx).await?;
        Ok(join_all(keys.iter().map(|k| self.read(&session, k, ctx))).await)
    }

    async fn exists(&self, keys: &[String], ctx: &Context) -> Result<KeyResults<()>, BackendError> {
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
    use serde_json::json;

    #[test]
    fn a_login_refusal_never_carries_the_credential_sent() {
        let jwt = SecretValue::new("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl");
        let failure = VaultFailure {
            status: Some(400),
            message: format!("error validating token: {} is malformed", jwt.expose()),
            transient: false,
            retry_after: None,
        };
        let shown = failure.scrubbed(&jwt).to_string();
        assert_eq!(shown, "HTTP 400: error validating token: [redacted] is malformed");
        assert_eq!(
            login_refusal(
                400,
                "invalid audience (aud) claim: audience claim does not match any expected audience"
            ),
            "invalid audience (aud) claim: audience claim does not match any expected audience (the token's `aud` is not one of the role's bound_audiences)"
        );
        assert_eq!(login_refusal(403, ""), "the login was refused (HTTP 403)");
    }

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
                crate::backend::retry::Attempts {
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

    #[test]
    fn multi_errors_are_flattened() {
        let body = json!({"errors": ["1 error occurred:\n\t* permission denied\n\n"]});
        assert_eq!(errors_of(&body), "permission denied");
        assert_eq!(errors_of(&json!({"errors": ["a", "b"]})), "a; b");
        assert_eq!(errors_of(&json!(null)), "");
    }

    #[test]
    fn retried_statuses() {
        for s in [412, 429, 500, 502, 503, 504] {
            assert!(transient_status(s));
        }
        for s in [200, 204, 400, 403, 404] {
            assert!(!transient_status(s));
        }
    }
}
