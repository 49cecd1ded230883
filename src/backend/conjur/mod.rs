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
mod failure;
mod names;
mod policy;
mod session;

use super::{Backend, Context, DeleteMode, KeyResults};
use crate::backend::KeyName;
use crate::backend::RequestFailure;
use crate::backend::transport::http::{self, encode_segment};
use crate::environment::Environment;
use crate::error::{BackendError, KeyError, Place, Problem, Within};
use crate::secret::SecretValue;
use async_trait::async_trait;
use config::ConjurConfig;
use failure::POLICY_DIALECT;
use futures_util::future::join_all;
use names::{chunks, invalid_id, policy_scalar};
use serde_json::Value;
use session::Connection;
use std::sync::Arc;

const SYSTEM: &str = "cyberark";

/// The policy `put` declares a missing variable in (LiteLLM's).
const POLICY: &str = "root";

/// CyberArk Conjur.
#[derive(Debug)]
pub struct Conjur {
    config: ConjurConfig,
    /// The run's connection, after the first request.
    session: tokio::sync::Mutex<Option<Arc<Connection>>>,
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

    fn within(&self, id: &str) -> Within {
        Within::backend(self.describe()).at(Place::At(id.to_owned()))
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
                Ok(text) => Ok(SecretValue::withheld(text)),
                Err(_) => Err(KeyError::InvalidValue {
                    within: self.within(id),
                    reason: Problem::NotText,
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
        ids: &'a [KeyName],
        ctx: &'a Context,
    ) -> futures_util::future::BoxFuture<'a, Vec<(usize, Result<SecretValue, KeyError>)>> {
        Box::pin(self.read_batch(session, chunk, ids, ctx))
    }

    async fn read_batch(
        &self,
        session: &Connection,
        chunk: &[(usize, String)],
        ids: &[KeyName],
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
                RequestFailure::answer(200, "the answer is not a JSON object of values"),
            ));
        };
        let account = &self.config.account;
        let mut out = Vec::with_capacity(chunk.len());
        let mut unanswered = Vec::new();
        for &(index, _) in chunk {
            match values.get(&format!("{account}:variable:{}", ids[index])) {
                Some(Value::String(value)) => out.push((index, Ok(SecretValue::withheld(value.as_str())))),
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
                reason: Problem::NoValueYet,
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
                RequestFailure::answer(
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

impl Conjur {
    async fn fetch_with(
        &self,
        session: &Connection,
        keys: &[KeyName],
        ctx: &Context,
    ) -> Result<KeyResults<SecretValue>, BackendError> {
        // A `,` separates batch ids (Conjur splits the decoded list on it): such ids, and
        // names that cannot be ids, are read on their own.
        type Ids<'k> = Vec<(usize, &'k str)>;
        let (in_batches, on_their_own): (Ids<'_>, Ids<'_>) = keys
            .iter()
            .map(KeyName::as_str)
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
        keys: &[KeyName],
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

    async fn fetch(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError> {
        self.with_session(ctx, |session| async move {
            let results = self.fetch_with(&session, keys, ctx).await?;
            if session.refused.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(self.token_refused(&session));
            }
            Ok(results)
        })
        .await
    }

    async fn exists(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<()>, BackendError> {
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
    fn only_plain_ids_are_stored() {
        let c = conjur(&[]);
        assert!(c.storable("has space").is_err());
        assert!(c.storable("acct:variable:x").is_err());
        assert!(c.storable("litellm/virtual-key-1").is_ok());
    }
}
