//! The run's connection to Conjur: one HTTP client, one login (the API key, or an access token
//! file an authenticator keeps current), and its access token reused by every request until it
//! is half-way through its life.

use super::Conjur;
use super::SYSTEM;
use super::config::{Auth, Ca};
use super::failure::{DIALECT, errors_of};
use crate::backend::Backend as _;
use crate::backend::Context;
use crate::backend::RequestFailure;
use crate::backend::transport::http::{self, encode_segment};
use crate::backend::transport::token_file::read_token_file;
use crate::error::{Attempts, BackendError};
use crate::secret::SecretValue;
use base64::Engine as _;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Conjur's access tokens live eight minutes: one older than this is replaced before the next
/// request, so no request carries a token about to expire.
const TOKEN_REUSE: Duration = Duration::from_mins(4);

/// The HTTP client and the run's access token, as a header value marked sensitive (so no
/// `Debug` of a request shows it).
pub(super) struct Connection {
    pub(super) http: reqwest::Client,
    pub(super) authorization: reqwest::header::HeaderValue,
    pub(super) since: tokio::time::Instant,
    /// Conjur answered 401 to a request with this token.
    pub(super) refused: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Conjur {
    /// The run's client, built with its first request.
    pub(super) fn client(&self) -> Result<reqwest::Client, BackendError> {
        crate::trust::warn_if_plain_http(SYSTEM, &self.config.base);
        if let Some(half) = self.config.half_identity {
            return Err(BackendError::configuration(self.describe(), half));
        }
        let mut builder = http::builder();
        match &self.config.ca {
            Some(Ca::File(path)) => {
                let pem = std::fs::read(path).map_err(|e| {
                    BackendError::configuration(
                        self.describe(),
                        format!("cannot read CONJUR_CERT_FILE `{}`: {e}", path.display()),
                    )
                })?;
                let certs = http::ca_bundle(&pem, &format!("CONJUR_CERT_FILE `{}`", path.display()))
                    .map_err(|reason| BackendError::configuration(self.describe(), reason))?;
                builder = builder.tls_certs_merge(certs);
            }
            Some(Ca::Pem(pem)) => {
                let certs = http::ca_bundle(pem.as_bytes(), "CONJUR_SSL_CERTIFICATE")
                    .map_err(|reason| BackendError::configuration(self.describe(), reason))?;
                builder = builder.tls_certs_merge(certs);
            }
            None => {}
        }
        if let Some((cert, key)) = &self.config.client_identity {
            builder = builder.identity(
                http::client_identity(cert, key)
                    .map_err(|reason| BackendError::configuration(self.describe(), reason))?,
            );
        }
        http::client(builder, self.describe())
    }

    /// The client and an access token at most [`TOKEN_REUSE`] old: one authentication per
    /// run, shared by every request (a run held by `--watch` authenticates again when due).
    /// The session and whether it was made by this call.
    pub(super) async fn session(&self, ctx: &Context) -> Result<(Arc<Connection>, bool), BackendError> {
        let mut session = self.session.lock().await;
        if let Some(connection) = session.as_ref()
            && connection.since.elapsed() < TOKEN_REUSE
        {
            return Ok((Arc::clone(connection), false));
        }
        let http = match session.take() {
            Some(old) => old.http.clone(),
            None => self.client()?,
        };
        let auth = self
            .config
            .auth
            .clone()
            .map_err(|reason| BackendError::credentials(self.describe(), reason))?;
        tracing::info!(
            "cyberark: {} login as `{}` in account `{}` at {}",
            auth.method(),
            self.config.login,
            self.config.account,
            self.config.base
        );
        let token = match &auth {
            Auth::ApiKey(key) => self.authenticate(&http, key, &auth, ctx).await?,
            Auth::Certificate => self.authenticate(&http, &SecretValue::new(""), &auth, ctx).await?,
            Auth::TokenFile(path) => read_token_file(path, "the Conjur access token (CONJUR_AUTHN_TOKEN_FILE)")
                .map_err(|reason| BackendError::credentials(self.describe(), reason))?,
        };
        let encoded = zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(token.expose()));
        // The header's form of the token, withheld from messages too (a server may echo it).
        SecretValue::new(encoded.as_str()).withhold();
        let mut authorization =
            reqwest::header::HeaderValue::from_str(&format!("Token token=\"{}\"", encoded.as_str())).map_err(|_| {
                BackendError::credentials(self.describe(), "the access token cannot be sent in an HTTP header")
            })?;
        authorization.set_sensitive(true);
        let connection = Arc::new(Connection {
            http,
            authorization,
            since: tokio::time::Instant::now(),
            refused: std::sync::atomic::AtomicBool::new(false),
        });
        *session = Some(Arc::clone(&connection));
        Ok((connection, true))
    }

    /// Run `op` with the run's session. When Conjur refuses a token this run reused (its
    /// token life is shorter than the reuse time, the appliance restarted with a new key),
    /// `op` runs once more with a token from a new authentication.
    pub(super) async fn with_session<T, F, Fut>(&self, ctx: &Context, op: F) -> Result<T, BackendError>
    where
        F: Fn(Arc<Connection>) -> Fut,
        Fut: std::future::Future<Output = Result<T, BackendError>>,
    {
        let (session, fresh) = self.session(ctx).await?;
        let out = op(Arc::clone(&session)).await;
        if fresh || !session.refused.load(std::sync::atomic::Ordering::Relaxed) {
            return out;
        }
        tracing::debug!("cyberark: the reused access token was refused; authenticating again");
        {
            let mut held = self.session.lock().await;
            if held.as_ref().is_some_and(|h| Arc::ptr_eq(h, &session)) {
                held.take();
            }
        }
        let (session, _) = self.session(ctx).await?;
        op(session).await
    }

    /// Exchange the API key for an access token (the raw JSON Conjur answers).
    pub(super) async fn authenticate(
        &self,
        http: &reqwest::Client,
        key: &SecretValue,
        auth: &Auth,
        ctx: &Context,
    ) -> Result<SecretValue, BackendError> {
        let url = format!(
            "{}/authn/{}/{}/authenticate",
            self.config.base,
            encode_segment(&self.config.account),
            encode_segment(&self.config.login)
        );
        let (result, attempts) = http::exchange(ctx, &DIALECT, || {
            http.post(&url)
                .header(reqwest::header::CONTENT_TYPE, "text/plain")
                .body(key.expose().to_owned())
        })
        .await;
        let endpoint = format!("POST {url} ({} login as `{}`)", auth.method(), self.config.login);
        let reply = result.map_err(|f| self.request_error(endpoint.clone(), attempts, f.scrubbed(key)))?;
        let refused = |message: String| {
            self.request_error(
                endpoint.clone(),
                attempts,
                RequestFailure::answer(reply.status, message).scrubbed(key),
            )
        };
        match reply.status {
            200 => match std::str::from_utf8(&reply.body).map(str::trim) {
                Ok(token) if !token.is_empty() => Ok(SecretValue::withheld(token)),
                _ => Err(refused("the answer holds no access token".into())),
            },
            401 => Err(refused(match auth {
                Auth::Certificate => format!(
                    "Conjur refused the login `{}` in account `{}`: no API key was sent (set CYBERARK_API_KEY; the client certificate authenticates the connection only)",
                    self.config.login, self.config.account
                ),
                _ => format!(
                    "Conjur refused the login `{}` in account `{}`: the API key is wrong, the login does not exist, or its API key was rotated (a host logs in as `host/<id>`)",
                    self.config.login, self.config.account
                ),
            })),
            status => Err(refused(match errors_of(&reply.body) {
                text if text.is_empty() => format!("the login was refused (HTTP {status})"),
                text => text,
            })),
        }
    }

    /// A request with the run's token; transient answers are retried, every other answer is
    /// the caller's to map.
    pub(super) async fn send(
        &self,
        session: &Connection,
        ctx: &Context,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> (Result<http::Reply, RequestFailure>, Attempts) {
        http::exchange(ctx, &DIALECT, || {
            make(&session.http).header(reqwest::header::AUTHORIZATION, session.authorization.clone())
        })
        .await
    }

    /// A 401 on a request with a fresh token: the token is refused (the login was disabled,
    /// or the token file holds an expired token).
    pub(super) fn token_refused(&self, session: &Connection) -> BackendError {
        session.refused.store(true, std::sync::atomic::Ordering::Relaxed);
        BackendError::credentials(
            self.describe(),
            match &self.config.auth {
                Ok(Auth::TokenFile(path)) => format!(
                    "Conjur refused the access token from CONJUR_AUTHN_TOKEN_FILE `{}` (HTTP 401): is the authenticator that writes it running?",
                    path.display()
                ),
                _ => "Conjur refused the access token (HTTP 401)".to_owned(),
            },
        )
    }
}
