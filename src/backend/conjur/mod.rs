//! `key_management_system: cyberark` (CyberArk Conjur, open source and Enterprise), over its
//! REST API.
//!
//! One authentication per run (`POST /authn/{account}/{login}/authenticate` with the API key,
//! or an access token file an authenticator keeps current), its access token reused by every
//! request as `Authorization: Token token="<base64>"` and replaced when it is half-way through
//! Conjur's eight-minute life. A reference names a variable id as LiteLLM reads it (`#` and `@`
//! are legal in Conjur ids, so they stay part of the name). Reads are batched:
//! `GET /secrets?variable_ids=acct:variable:id,…`, chunked so each URL stays short; Conjur
//! answers a batch all or nothing (one missing, empty or forbidden variable fails it), so a
//! failed batch is halved until the culprits are read on their own, each with its own error.
//! `check` asks the resources API whether each variable exists, has a value and may be fetched,
//! without reading values. `put` sets a value, declaring the variable in the `root` policy
//! first when it is not declared (as LiteLLM does); `delete --force` removes it through a
//! policy update. TLS verification is always on; `CONJUR_CERT_FILE` adds a CA.

pub mod config;
mod policy;

use super::{Backend, Context, DeleteMode, KeyResults};
use crate::backend::http::{self, Dialect, HttpFailure, encode_segment, transport_message};
use crate::backend::retry::Attempts;
use crate::backend::token_file::read_token_file;
use crate::environment::Environment;
use crate::error::{BackendError, KeyError, Place, Within};
use crate::secret::SecretValue;
use async_trait::async_trait;
use base64::Engine as _;
use config::{Auth, Ca, ConjurConfig};
use futures_util::future::join_all;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

const SYSTEM: &str = "cyberark";

/// Conjur's access tokens live eight minutes: one older than this is replaced before the next
/// request, so no request carries a token about to expire.
const TOKEN_REUSE: Duration = Duration::from_mins(4);

/// The longest `variable_ids` value of one batch read: URLs stay well under the 8 KiB request
/// line that proxies in front of Conjur (nginx, load balancers) accept.
const MAX_BATCH_QUERY: usize = 4000;

/// The policy `put` declares a missing variable in (LiteLLM's).
const POLICY: &str = "root";

/// CyberArk Conjur.
#[derive(Debug)]
pub struct Conjur {
    config: ConjurConfig,
    /// The run's connection, after the first request.
    session: tokio::sync::Mutex<Option<Arc<Connection>>>,
}

/// The HTTP client and the run's access token, as a header value marked sensitive (so no
/// `Debug` of a request shows it).
struct Connection {
    http: reqwest::Client,
    authorization: reqwest::header::HeaderValue,
    since: tokio::time::Instant,
    /// Conjur answered 401 to a request with this token.
    refused: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

/// Statuses worth retrying: rate limits (a gateway in front), an appliance starting or a
/// follower catching up, a gateway in between.
fn transient_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// Conjur's error text: `{"error": {"code", "message"}}`; nothing else of a body (a value
/// must never reach a message).
fn errors_of(body: &[u8]) -> String {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str).map(str::trim);
    match (text("/error/message"), text("/error/code")) {
        (Some(message), _) if !message.is_empty() => message.to_owned(),
        (_, Some(code)) => code.to_owned(),
        _ => String::new(),
    }
}

const DIALECT: Dialect = Dialect {
    transient: transient_status,
    errors: errors_of,
};

/// A policy load also retries 409: Conjur answers it while another load of the policy runs.
const POLICY_DIALECT: Dialect = Dialect {
    transient: |status| status == 409 || transient_status(status),
    errors: errors_of,
};

/// Why a name cannot be a Conjur variable id, checked before any request.
fn invalid_id(id: &str) -> Option<&'static str> {
    if id.trim().is_empty() {
        Some("a Conjur variable id cannot be empty")
    } else if id.split('/').any(|segment| segment == "." || segment == "..") {
        // The URL library would resolve them: `..` reads the account's resource list.
        Some("a Conjur variable id cannot have a `.` or `..` segment")
    } else if id.chars().any(|c| c.is_control() || c == '\u{a0}') {
        Some("a Conjur variable id cannot hold a control or non-breaking-space character")
    } else {
        None
    }
}

/// Ids whose batch queries stay under [`MAX_BATCH_QUERY`], in order. Each entry is the index of
/// the key and its id as the batch names it (`account:variable:id`, percent-encoded).
fn chunks(account: &str, ids: &[(usize, &str)]) -> Vec<Vec<(usize, String)>> {
    let account = encode_segment(account);
    let mut out: Vec<Vec<(usize, String)>> = Vec::new();
    let mut length = 0;
    for &(index, id) in ids {
        let entry = format!("{account}:variable:{}", encode_segment(id));
        let grows = entry.len() + 1;
        match out.last_mut() {
            Some(chunk) if length + grows <= MAX_BATCH_QUERY => {
                length += grows;
                chunk.push((index, entry));
            }
            _ => {
                length = entry.len();
                out.push(vec![(index, entry)]);
            }
        }
    }
    out
}

impl Conjur {
    /// Set up from the environment; no I/O until the first request.
    pub fn new(env: &Environment) -> Self {
        let config = ConjurConfig::new(env);
        if config.skip_verify_requested {
            tracing::warn!(
                "CYBERARK_SSL_VERIFY=false is ignored: osenv always verifies TLS (set CONJUR_CERT_FILE to the CA that signed Conjur's certificate)"
            );
        }
        Self {
            config,
            session: tokio::sync::Mutex::new(None),
        }
    }

    fn request_error(&self, endpoint: String, attempts: Attempts, failure: HttpFailure) -> BackendError {
        BackendError::Request {
            backend: self.describe(),
            endpoint,
            attempts,
            source: Box::new(failure),
        }
    }

    /// An answer the caller has no meaning for: its status and Conjur's error text.
    fn unexpected(&self, endpoint: String, attempts: Attempts, reply: &http::Reply) -> BackendError {
        self.request_error(
            endpoint,
            attempts,
            HttpFailure::answer(reply.status, errors_of(&reply.body)),
        )
    }

    fn within(&self, id: &str) -> Within {
        Within::backend(self.describe()).at(Place::At(id.to_owned()))
    }

    /// The run's client, built with its first request.
    fn client(&self) -> Result<reqwest::Client, BackendError> {
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
        builder.build().map_err(|e| BackendError::Client {
            backend: self.describe(),
            reason: format!("cannot set up HTTPS: {}", transport_message(&e)),
        })
    }

    /// The client and an access token at most [`TOKEN_REUSE`] old: one authentication per
    /// run, shared by every request (a run held by `--watch` authenticates again when due).
    /// The session and whether it was made by this call.
    async fn session(&self, ctx: &Context) -> Result<(Arc<Connection>, bool), BackendError> {
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
    async fn with_session<T, F, Fut>(&self, ctx: &Context, op: F) -> Result<T, BackendError>
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
    async fn authenticate(
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
                HttpFailure::answer(reply.status, message).scrubbed(key),
            )
        };
        match reply.status {
            200 => match std::str::from_utf8(&reply.body).map(str::trim) {
                Ok(token) if !token.is_empty() => Ok(SecretValue::new(token)),
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
    async fn send(
        &self,
        session: &Connection,
        ctx: &Context,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> (Result<http::Reply, HttpFailure>, Attempts) {
        http::exchange(ctx, &DIALECT, || {
            make(&session.http).header(reqwest::header::AUTHORIZATION, session.authorization.clone())
        })
        .await
    }

    /// A 401 on a request with a fresh token: the token is refused (the login was disabled,
    /// or the token file holds an expired token).
    fn token_refused(&self, session: &Connection) -> BackendError {
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

    fn secret_url(&self, id: &str) -> String {
        format!(
            "{}/secrets/{}/variable/{}",
            self.config.base,
            encode_segment(&self.config.account),
            encode_segment(id)
        )
    }

    fn resource_url(&self, id: &str) -> String {
        format!(
            "{}/resources/{}/variable/{}",
            self.config.base,
            encode_segment(&self.config.account),
            encode_segment(id)
        )
    }

    /// `GET /secrets/{account}/variable/{id}`: the value, or this variable's own error.
    async fn read_one(&self, session: &Connection, id: &str, ctx: &Context) -> Result<SecretValue, KeyError> {
        if let Some(reason) = invalid_id(id) {
            return Err(KeyError::InvalidName { reason: reason.into() });
        }
        let url = self.secret_url(id);
        let (result, attempts) = self.send(session, ctx, |c| c.get(&url)).await;
        let backend = |e: BackendError| KeyError::Backend(Arc::new(e));
        let reply = result.map_err(|f| backend(self.request_error(format!("GET {url}"), attempts, f)))?;
        match reply.status {
            200 => match std::str::from_utf8(&reply.body) {
                Ok(text) => Ok(SecretValue::new(text)),
                Err(_) => Err(KeyError::InvalidValue {
                    within: self.within(id),
                    reason: "the value is not UTF-8 text".into(),
                }),
            },
            // Conjur's 404: no such variable, one this identity may not see, or one with no
            // value yet (`check` tells these apart).
            404 => Err(KeyError::NotFound {
                within: self.within(id),
            }),
            403 => Err(KeyError::AccessDenied {
                within: self.within(id),
            }),
            401 => Err(backend(self.token_refused(session))),
            _ => Err(backend(self.unexpected(format!("GET {url}"), attempts, &reply))),
        }
    }

    /// One batch read. Conjur refuses a batch whole when one variable is missing, empty,
    /// forbidden or holds a value JSON cannot carry: the two halves are then read as batches of
    /// their own, down to single variables read alone, so a typo among 100 names costs about 15
    /// requests instead of 100, and each culprit gets its own error.
    fn read_chunk<'a>(
        &'a self,
        session: &'a Connection,
        chunk: &'a [(usize, String)],
        ids: &'a [String],
        ctx: &'a Context,
    ) -> futures_util::future::BoxFuture<'a, Vec<(usize, Result<SecretValue, KeyError>)>> {
        Box::pin(self.read_batch(session, chunk, ids, ctx))
    }

    async fn read_batch(
        &self,
        session: &Connection,
        chunk: &[(usize, String)],
        ids: &[String],
        ctx: &Context,
    ) -> Vec<(usize, Result<SecretValue, KeyError>)> {
        let one_by_one = || {
            join_all(
                chunk
                    .iter()
                    .map(|&(index, _)| async move { (index, self.read_one(session, &ids[index], ctx).await) }),
            )
        };
        if chunk.len() == 1 {
            return one_by_one().await;
        }
        let query = chunk
            .iter()
            .map(|(_, entry)| entry.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let url = format!("{}/secrets?variable_ids={query}", self.config.base);
        let (result, attempts) = self.send(session, ctx, |c| c.get(&url)).await;
        let everyone = |e: BackendError| {
            let e = Arc::new(e);
            chunk
                .iter()
                .map(|&(index, _)| (index, Err(KeyError::Backend(Arc::clone(&e)))))
                .collect()
        };
        let endpoint = || format!("GET {}/secrets ({} variables)", self.config.base, chunk.len());
        let reply = match result {
            Ok(reply) => reply,
            Err(f) => return everyone(self.request_error(endpoint(), attempts, f)),
        };
        match reply.status {
            200 => {}
            404 | 403 | 406 | 422 => {
                tracing::debug!(
                    status = reply.status,
                    variables = chunk.len(),
                    "cyberark: the batch read was refused; reading its halves"
                );
                let (left, right) = chunk.split_at(chunk.len() / 2);
                let (mut left, right) = futures_util::future::join(
                    self.read_chunk(session, left, ids, ctx),
                    self.read_chunk(session, right, ids, ctx),
                )
                .await;
                left.extend(right);
                return left;
            }
            401 => return everyone(self.token_refused(session)),
            _ => {
                return everyone(self.unexpected(endpoint(), attempts, &reply));
            }
        }
        let Ok(Value::Object(values)) = serde_json::from_slice::<Value>(&reply.body) else {
            return everyone(self.request_error(
                endpoint(),
                attempts,
                HttpFailure::answer(200, "the answer is not a JSON object of values"),
            ));
        };
        let account = &self.config.account;
        let mut out = Vec::with_capacity(chunk.len());
        let mut unanswered = Vec::new();
        for &(index, _) in chunk {
            match values.get(&format!("{account}:variable:{}", ids[index])) {
                Some(Value::String(value)) => out.push((index, Ok(SecretValue::new(value.as_str())))),
                // Not answered under the name asked for (Conjur normalised it): ask alone.
                _ => unanswered.push(index),
            }
        }
        let singles = join_all(
            unanswered
                .into_iter()
                .map(|index| async move { (index, self.read_one(session, &ids[index], ctx).await) }),
        )
        .await;
        out.extend(singles);
        out
    }

    /// Whether `id` exists, has a value and may be fetched, from the resources API: the
    /// resource (with its versions, never a value), then a permission check for `execute`.
    async fn exists_one(&self, session: &Connection, id: &str, ctx: &Context) -> Result<(), KeyError> {
        if let Some(reason) = invalid_id(id) {
            return Err(KeyError::InvalidName { reason: reason.into() });
        }
        let backend = |e: BackendError| KeyError::Backend(Arc::new(e));
        let url = self.resource_url(id);
        let (result, attempts) = self.send(session, ctx, |c| c.get(&url)).await;
        let reply = result.map_err(|f| backend(self.request_error(format!("GET {url}"), attempts, f)))?;
        match reply.status {
            200 => {}
            404 => {
                return Err(KeyError::NotFound {
                    within: self.within(id),
                });
            }
            403 => {
                return Err(KeyError::AccessDenied {
                    within: self.within(id),
                });
            }
            401 => return Err(backend(self.token_refused(session))),
            _ => {
                return Err(backend(self.unexpected(format!("GET {url}"), attempts, &reply)));
            }
        }
        let resource: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        if resource
            .get("secrets")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            return Err(KeyError::Unavailable {
                within: self.within(id),
                reason:
                    "the variable is declared but has no value yet (set one with `osenv put` or `conjur variable set`)"
                        .into(),
            });
        }
        let (result, attempts) = self
            .send(session, ctx, |c| c.get(format!("{url}?check=true&privilege=execute")))
            .await;
        let reply = result.map_err(|f| backend(self.request_error(format!("GET {url}?check=true"), attempts, f)))?;
        match reply.status {
            204 | 200 => Ok(()),
            // It may see the variable but not fetch its value (no `execute`): what a read gets.
            404 | 403 => Err(KeyError::AccessDenied {
                within: self.within(id),
            }),
            401 => Err(backend(self.token_refused(session))),
            _ => Err(backend(self.unexpected(
                format!("GET {url}?check=true"),
                attempts,
                &reply,
            ))),
        }
    }

    /// A name `put` and `delete` can store: a Conjur id (no whitespace or `:`, which Conjur's
    /// ids cannot hold), checked before any request.
    fn storable(&self, name: &str) -> Result<(), BackendError> {
        let reason = invalid_id(name).or_else(|| {
            name.chars()
                .any(|c| c.is_whitespace() || c == ':')
                .then_some("a Conjur variable id cannot hold whitespace or `:`")
        });
        match reason {
            Some(reason) => Err(BackendError::Name {
                backend: self.describe(),
                name: name.to_owned(),
                reason: reason.into(),
            }),
            None => Ok(()),
        }
    }

    /// `POST /secrets/{account}/variable/{id}` with the value; the answer's status.
    async fn set_value(
        &self,
        session: &Connection,
        name: &str,
        value: &SecretValue,
        ctx: &Context,
    ) -> Result<u16, BackendError> {
        let url = self.secret_url(name);
        let (result, attempts) = self
            .send(session, ctx, |c| {
                c.post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(value.expose().to_owned())
            })
            .await;
        let reply = result.map_err(|f| self.request_error(format!("POST {url}"), attempts, f))?;
        match reply.status {
            200..=299 | 404 => Ok(reply.status),
            403 => Err(self.request_error(
                format!("POST {url}"),
                attempts,
                HttpFailure::answer(
                    403,
                    format!(
                        "`{}` may not set this variable (it lacks the `update` privilege on it)",
                        self.config.login
                    ),
                ),
            )),
            401 => Err(self.token_refused(session)),
            _ => Err(self.unexpected(format!("POST {url}"), attempts, &reply)),
        }
    }

    /// Load `policy` into the `root` policy branch: `POST` adds, `PATCH` may also delete.
    /// Conjur answers 409 while another load runs: retried, as LiteLLM does.
    async fn load_policy(
        &self,
        session: &Connection,
        method: reqwest::Method,
        policy: &str,
        what: &str,
        refused: impl FnOnce() -> String,
        ctx: &Context,
    ) -> Result<(), BackendError> {
        let url = format!(
            "{}/policies/{}/policy/{POLICY}",
            self.config.base,
            encode_segment(&self.config.account)
        );
        let (result, attempts) = http::exchange(ctx, &POLICY_DIALECT, || {
            session
                .http
                .request(method.clone(), &url)
                .header(reqwest::header::AUTHORIZATION, session.authorization.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/x-yaml")
                .body(policy.to_owned())
        })
        .await;
        let endpoint = format!("{method} {url} ({what})");
        let reply = result.map_err(|f| self.request_error(endpoint.clone(), attempts, f))?;
        match reply.status {
            200..=299 => Ok(()),
            401 => Err(self.token_refused(session)),
            // No `create`/`update` on the policy, or a policy this identity may not see.
            403 | 404 => Err(BackendError::configuration(self.describe(), refused())),
            _ => Err(self.unexpected(endpoint, attempts, &reply)),
        }
    }
}

/// A variable id as a YAML scalar of a policy (a JSON string is a YAML double-quoted scalar,
/// so no id can break out of it).
fn policy_scalar(id: &str) -> String {
    Value::String(id.to_owned()).to_string()
}

impl Conjur {
    async fn fetch_with(
        &self,
        session: &Connection,
        keys: &[String],
        ctx: &Context,
    ) -> Result<KeyResults<SecretValue>, BackendError> {
        // A `,` separates batch ids (Conjur splits the decoded list on it): such ids, and
        // names that cannot be ids, are read on their own.
        type Ids<'k> = Vec<(usize, &'k str)>;
        let (in_batches, on_their_own): (Ids<'_>, Ids<'_>) = keys
            .iter()
            .map(String::as_str)
            .enumerate()
            .partition(|(_, id)| invalid_id(id).is_none() && !id.contains(','));
        let chunks = chunks(&self.config.account, &in_batches);
        let batches = join_all(chunks.iter().map(|chunk| self.read_chunk(session, chunk, keys, ctx)));
        let singles = join_all(
            on_their_own
                .iter()
                .map(|&(index, id)| async move { (index, self.read_one(session, id, ctx).await) }),
        );
        let (batches, singles) = futures_util::future::join(batches, singles).await;
        let mut results: Vec<Option<Result<SecretValue, KeyError>>> = (0..keys.len()).map(|_| None).collect();
        for (index, result) in batches.into_iter().flatten().chain(singles) {
            results[index] = Some(result);
        }
        // Every key is in exactly one chunk or read alone, so each has its answer.
        let answered = results.iter().filter(|r| r.is_some()).count();
        if answered != keys.len() {
            return Err(BackendError::Answers {
                backend: self.describe(),
                asked: keys.len(),
                answered,
            });
        }
        Ok(results.into_iter().flatten().collect())
    }

    async fn exists_with(
        &self,
        session: &Connection,
        keys: &[String],
        ctx: &Context,
    ) -> Result<KeyResults<()>, BackendError> {
        let results = join_all(keys.iter().map(|k| self.exists_one(session, k, ctx))).await;
        // A refused token fails the call, so `with_session` can try once more.
        if session.refused.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(self.token_refused(session));
        }
        Ok(results)
    }

    /// Set the value; a variable that is not declared yet is declared in the `root` policy
    /// first (LiteLLM's behaviour, which needs `create` on that policy), then set.
    async fn write_with(
        &self,
        session: &Connection,
        name: &str,
        value: &SecretValue,
        ctx: &Context,
    ) -> Result<(), BackendError> {
        if self.set_value(session, name, value, ctx).await? != 404 {
            return Ok(());
        }
        let policy = format!("- !variable {}\n", policy_scalar(name));
        let refused = || {
            format!(
                "the variable `{name}` is not declared, and `{}` may not declare it in the `{POLICY}` policy: declare it in a policy (`- !variable {}`, e.g. `conjur policy load -b {POLICY} -f policy.yml`) and grant this identity `update` on it",
                self.config.login,
                policy_scalar(name)
            )
        };
        self.load_policy(
            session,
            reqwest::Method::POST,
            &policy,
            "declaring the variable",
            refused,
            ctx,
        )
        .await?;
        match self.set_value(session, name, value, ctx).await? {
            404 => Err(BackendError::configuration(
                self.describe(),
                format!(
                    "the variable `{name}` was declared in the `{POLICY}` policy but Conjur still does not find it"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Conjur keeps no deleted variables: a variable is removed, with every version, by a
    /// policy update that deletes its record, so only `--force` (permanent) can do it.
    async fn delete_with(&self, session: &Connection, name: &str, ctx: &Context) -> Result<(), BackendError> {
        // A policy update that deletes an undeclared record succeeds: look first, so a mistyped
        // name is not reported as deleted.
        let url = self.resource_url(name);
        let (result, attempts) = self.send(session, ctx, |c| c.get(&url)).await;
        let reply = result.map_err(|f| self.request_error(format!("GET {url}"), attempts, f))?;
        match reply.status {
            200 => {}
            404 => {
                return Err(BackendError::Missing {
                    backend: self.describe(),
                    name: name.to_owned(),
                    operation: "delete",
                });
            }
            401 => return Err(self.token_refused(session)),
            _ => {
                return Err(self.unexpected(format!("GET {url}"), attempts, &reply));
            }
        }
        let policy = format!("- !delete\n  record: !variable {}\n", policy_scalar(name));
        let refused = || {
            format!(
                "`{}` may not update the `{POLICY}` policy, which is how Conjur removes a variable: have its owner load `- !delete {{record: !variable {}}}` (`conjur policy update -b {POLICY} -f delete.yml`)",
                self.config.login,
                policy_scalar(name)
            )
        };
        self.load_policy(
            session,
            reqwest::Method::PATCH,
            &policy,
            "deleting the variable",
            refused,
            ctx,
        )
        .await
    }
}

#[async_trait]
impl Backend for Conjur {
    fn policy(
        &self,
        wanted: &crate::backend::policy::Wanted<'_>,
    ) -> Result<crate::backend::policy::Policy, BackendError> {
        self.access_policy(wanted)
    }

    fn describe(&self) -> String {
        format!("{SYSTEM} ({})", self.config.base)
    }

    async fn fetch(&self, keys: &[String], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError> {
        self.with_session(ctx, |session| async move {
            let results = self.fetch_with(&session, keys, ctx).await?;
            if session.refused.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(self.token_refused(&session));
            }
            Ok(results)
        })
        .await
    }

    async fn exists(&self, keys: &[String], ctx: &Context) -> Result<KeyResults<()>, BackendError> {
        self.with_session(
            ctx,
            |session| async move { self.exists_with(&session, keys, ctx).await },
        )
        .await
    }

    /// Set the value; a variable that is not declared yet is declared in the `root` policy
    /// first (LiteLLM's behaviour, which needs `create` on that policy), then set.
    async fn write(&self, name: &str, value: &SecretValue, ctx: &Context) -> Result<(), BackendError> {
        self.storable(name)?;
        self.with_session(ctx, |session| async move {
            self.write_with(&session, name, value, ctx).await
        })
        .await
    }

    /// Conjur keeps no deleted variables: a variable is removed, with every version, by a
    /// policy update that deletes its record, so only `--force` (permanent) can do it.
    async fn delete(&self, name: &str, mode: DeleteMode, ctx: &Context) -> Result<(), BackendError> {
        self.storable(name)?;
        if mode == DeleteMode::Recoverable {
            return Err(BackendError::configuration(
                self.describe(),
                format!(
                    "Conjur has no recoverable delete: a variable is removed with all its versions by a policy update (`- !delete {{record: !variable {}}}` in the `{POLICY}` policy); pass --force to do that",
                    policy_scalar(name)
                ),
            ));
        }
        self.with_session(
            ctx,
            |session| async move { self.delete_with(&session, name, ctx).await },
        )
        .await
    }

    /// Conjur has no revocation of access tokens: they expire within eight minutes. The
    /// session is dropped, so a later resolution authenticates afresh.
    async fn finish(&self) {
        self.session.lock().await.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conjur(vars: &[(&str, &str)]) -> Conjur {
        Conjur::new(&Environment::new(vars.iter().copied(), vec![]))
    }

    #[test]
    fn urls_encode_every_id_and_login() {
        let c = conjur(&[
            ("CYBERARK_API_BASE", "https://conjur.example.com/api/"),
            ("CYBERARK_API_KEY", "k"),
        ]);
        assert_eq!(
            c.secret_url("prod/aws/db-password"),
            "https://conjur.example.com/api/secrets/default/variable/prod%2Faws%2Fdb-password"
        );
        assert_eq!(
            c.resource_url("sales&marketing+x@y#z"),
            "https://conjur.example.com/api/resources/default/variable/sales%26marketing%2Bx%40y%23z"
        );
        assert_eq!(c.describe(), "cyberark (https://conjur.example.com/api)");
    }

    #[test]
    fn batches_stay_under_the_query_bound_in_order() {
        let names: Vec<String> = (0..300).map(|i| format!("litellm/provider-{i:03}/api-key")).collect();
        let ids: Vec<(usize, &str)> = names.iter().map(String::as_str).enumerate().collect();
        let split = chunks("default", &ids);
        assert!(split.len() > 1);
        let mut seen = Vec::new();
        for chunk in &split {
            let query: usize = chunk.iter().map(|(_, e)| e.len() + 1).sum::<usize>() - 1;
            assert!(query <= MAX_BATCH_QUERY, "{query}");
            seen.extend(chunk.iter().map(|(i, _)| *i));
        }
        assert_eq!(seen, (0..300).collect::<Vec<_>>());
        assert_eq!(split[0][0].1, "default:variable:litellm%2Fprovider-000%2Fapi-key");
        // One id longer than the bound is a chunk of its own, still sent.
        let long = "x".repeat(MAX_BATCH_QUERY + 10);
        assert_eq!(chunks("default", &[(0, "a"), (1, &long), (2, "b")]).len(), 3);
    }

    #[test]
    fn errors_show_conjur_text_only() {
        let body = br#"{"error":{"code":"not_found","message":"Variable 'x' not found in account 'default'"}}"#;
        assert_eq!(errors_of(body), "Variable 'x' not found in account 'default'");
        assert_eq!(errors_of(br#"{"error":{"code":"forbidden"}}"#), "forbidden");
        assert_eq!(errors_of(b"sk-live-value"), "");
    }

    #[test]
    fn ids_are_checked_and_quoted_for_policies() {
        assert!(invalid_id("").is_some());
        assert!(invalid_id("a\nb").is_some());
        assert!(invalid_id("litellm/key#1@2").is_none());
        // The adversary review: `..` read the account's resource list.
        for bad in ["..", ".", "a/../b", "a/."] {
            assert!(invalid_id(bad).is_some(), "{bad}");
        }
        assert!(invalid_id("a..b/c.d").is_none());
        assert_eq!(policy_scalar("a\"\n- !grant"), r#""a\"\n- !grant""#);
        let c = conjur(&[]);
        assert!(c.storable("has space").is_err());
        assert!(c.storable("acct:variable:x").is_err());
        assert!(c.storable("litellm/virtual-key-1").is_ok());
    }

    #[test]
    fn retried_statuses() {
        for s in [429, 500, 502, 503, 504] {
            assert!(transient_status(s));
        }
        for s in [200, 201, 204, 401, 403, 404, 406, 409, 422] {
            assert!(!transient_status(s));
        }
    }
}
