//! The run's session with Vault: one HTTP client, one login (the method the settings select),
//! its token renewed while a `--watch` run holds it and revoked when the run ends.

use super::config::{self, Auth, JwtSource};
use super::failure::{DIALECT, errors_of, login_refusal};
use super::{SYSTEM, Vault};
use crate::backend::Backend as _;
use crate::backend::Context;
use crate::backend::RequestFailure;
use crate::backend::transport::http::transport_message;
use crate::backend::transport::token_file::read_token_file;
use crate::error::{Attempts, BackendError};
use crate::secret::SecretValue;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// The HTTP client and the token of this run, as a header value marked sensitive (so no
/// `Debug` of a request shows it), built once for every request.
pub(super) struct Connection {
    pub(super) http: reqwest::Client,
    pub(super) token: reqwest::header::HeaderValue,
    /// The token came from a login of this run (not from the user), so the run revokes it.
    pub(super) logged_in: bool,
    /// A login token's lease (`auth.lease_duration`) when it is renewable, and since when it
    /// runs: a run that holds its session (`--watch`) renews it past half the lease.
    pub(super) lease: Option<(std::time::Duration, tokio::time::Instant)>,
}

impl Connection {
    pub(super) fn renewal_due(&self) -> bool {
        self.lease.is_some_and(|(lease, since)| since.elapsed() >= lease / 2)
    }
}

/// A login's token and its renewable lease.
pub(super) struct Login {
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

/// Send a request made by `make` under the run's limits. A response with a non-transient
/// status is returned for the caller to map, with its JSON body (`null` when it has none);
/// transient ones are retried.
pub(super) async fn send(
    ctx: &Context,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> (Result<(u16, Value), RequestFailure>, Attempts) {
    let (result, attempts) = crate::backend::transport::http::exchange(ctx, &DIALECT, make).await;
    let answer = result.map(|reply| (reply.status, serde_json::from_slice(&reply.body).unwrap_or(Value::Null)));
    (answer, attempts)
}

impl Vault {
    /// The run's client, built once, with its first request.
    pub(super) fn client(&self) -> Result<reqwest::Client, BackendError> {
        if let Some(invalid) = self.config.refusal() {
            return Err(BackendError::configuration(self.describe(), invalid));
        }
        crate::trust::warn_if_plain_http(SYSTEM, &self.config.addr);
        let mut builder = crate::backend::transport::http::builder();
        if let Some(ca) = &self.config.ca_cert {
            let pem = std::fs::read(ca).map_err(|e| {
                BackendError::configuration(
                    self.describe(),
                    format!("cannot read VAULT_CACERT `{}`: {e}", ca.display()),
                )
            })?;
            let certs = crate::backend::transport::http::ca_bundle(&pem, &format!("VAULT_CACERT `{}`", ca.display()))
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
            let identity = crate::backend::transport::http::client_identity(cert, key)
                .map_err(|reason| BackendError::configuration(self.describe(), reason))?;
            builder = builder.identity(identity);
        }
        crate::backend::transport::http::client(builder, self.describe())
    }

    /// The client and the run's token: one login per run, shared by every request.
    pub(super) async fn session(&self, ctx: &Context) -> Result<Arc<Connection>, BackendError> {
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
    pub(super) async fn jwt(
        &self,
        http: &reqwest::Client,
        source: &JwtSource,
        ctx: &Context,
    ) -> Result<SecretValue, BackendError> {
        match source {
            JwtSource::Value(value) => Ok(SecretValue::withheld(value.expose().trim())),
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
                let failed = |failure: RequestFailure, attempts| BackendError::Request {
                    backend: self.describe(),
                    endpoint: endpoint.clone(),
                    attempts,
                    source: Box::new(failure),
                };
                let (status, body) = result.map_err(|f| failed(f.scrubbed(request_token), attempts))?;
                match body.get("value").and_then(Value::as_str) {
                    Some(jwt) if status == 200 && !jwt.trim().is_empty() => Ok(SecretValue::withheld(jwt.trim())),
                    _ => Err(failed(
                        RequestFailure::answer(
                            status,
                            if status == 200 {
                                "the answer holds no token (`value`)"
                            } else {
                                "GitHub did not issue a token (does the job have `permissions: id-token: write`?)"
                            },
                        ),
                        attempts,
                    )),
                }
            }
        }
    }

    /// Log in with `body`; `credential` (the secret id or JWT sent) is removed from any error
    /// text Vault returns, should it ever echo it.
    pub(super) async fn login(
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
        let failed = |failure: RequestFailure, attempts| BackendError::Request {
            backend: self.describe(),
            endpoint: endpoint.clone(),
            attempts,
            source: Box::new(failure.scrubbed(credential)),
        };
        let (status, body) = result.map_err(|f| failed(f, attempts))?;
        match body.pointer("/auth/client_token").and_then(Value::as_str) {
            Some(token) if status == 200 => Ok(Login {
                token: SecretValue::withheld(token),
                lease: lease_of(&body),
            }),
            _ => Err(failed(
                RequestFailure::answer(status, login_refusal(status, &errors_of(&body))),
                attempts,
            )),
        }
    }

    /// Revoke a token this run logged in for (`auth/token/revoke-self`), so a rollout every
    /// few minutes does not pile tokens up in Vault's storage until their TTL. A token the user
    /// gave is never revoked. Best effort, at most 5 s.
    pub(super) async fn revoke(&self, session: &Connection) {
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
    pub(super) async fn renew(&self, session: &Connection, ctx: &Context) -> Option<Connection> {
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
}
