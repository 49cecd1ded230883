//! `key_management_system: aws_secret_manager`.
//!
//! Reads use `BatchGetSecretValue` with up to 20 ids per request, the requests in parallel under
//! the run's bound, where LiteLLM sends one blocking `GetSecretValue` per reference. Every id the
//! service reports in `Errors[]` becomes that reference's error; none becomes a silent `null`.
//! `BatchGetSecretValue` is its own IAM action that many policies lack, and its quota (100
//! requests/s per account and region, not adjustable) is what a fleet's rollout hits first: when
//! the call is denied or throttled, this run reads the ids still needed with concurrent
//! `GetSecretValue` (10,000 requests/s) and says so once at info level. `aws_batch_reads: false`
//! chooses `GetSecretValue` from the start.

use super::names::{Version, matches_id, version_of};
use super::payload::{json_kind, value_of};
use super::{AwsSettings, Service, call, key_error, send};
use crate::backend::KeyName;
use crate::backend::RequestFailure;
use crate::backend::{Backend, Context, DeleteMode, KeyResults};
use crate::environment::Environment;
use crate::error::{BackendError, KeyError, Place, Problem, Within};
use crate::secret::SecretValue;
use crate::settings::{AwsOptions, Shown, WrittenSecrets};
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use futures_util::future::join_all;
use std::sync::Arc;
use tokio::sync::OnceCell;

const SYSTEM: &str = "aws_secret_manager";

/// The service's limit of ids per `BatchGetSecretValue`.
pub const BATCH_SIZE: usize = 20;

/// AWS Secrets Manager.
#[derive(Debug)]
pub struct SecretsManager {
    pub(super) aws: AwsSettings,
    client: OnceCell<Client>,
    pub(super) primary: Option<Shown>,
    pub(super) batch: bool,
    /// Why this run stopped using `BatchGetSecretValue`, once it did.
    batch_off: std::sync::OnceLock<Fallback>,
    pub(super) write: WriteSettings,
}

/// Why a chunk left `BatchGetSecretValue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fallback {
    Denied,
    Throttled,
}

/// What one `BatchGetSecretValue` chunk came to.
enum Chunk {
    Done(KeyResults<SecretValue>),
    /// What it found before the call was refused, in the chunk's order.
    Fallback(Vec<Option<Result<SecretValue, KeyError>>>, Fallback),
}

#[derive(Debug, Clone, Default)]
pub(super) struct WriteSettings {
    pub(super) description: Option<String>,
    pub(super) tags: Vec<(String, String)>,
    pub(super) kms_key_id: Option<String>,
    pub(super) replica_regions: Vec<String>,
}

impl SecretsManager {
    /// Set up from the settings; no I/O until the first request.
    pub fn new(settings: &AwsOptions, written: &WrittenSecrets, env: &Environment) -> Self {
        Self {
            aws: AwsSettings::new(Service::SecretsManager, settings, env),
            client: OnceCell::new(),
            primary: settings.primary_secret_name.clone(),
            batch: settings.batch_reads,
            batch_off: std::sync::OnceLock::new(),
            write: WriteSettings {
                description: written.description.clone(),
                tags: written
                    .tags
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                kms_key_id: settings.kms_key_id.clone(),
                replica_regions: settings.replica_regions.clone().unwrap_or_default(),
            },
        }
    }

    pub(super) async fn client(&self) -> Result<&Client, BackendError> {
        self.client
            .get_or_try_init(|| async {
                let config = self.aws.load(SYSTEM).await?;
                let mut builder = aws_sdk_secretsmanager::config::Builder::from(&config);
                if let Some(url) = self.aws.endpoint() {
                    builder = builder.endpoint_url(url);
                }
                Ok(Client::from_conf(builder.build()))
            })
            .await
    }

    pub(super) fn within(&self) -> Within {
        Within::backend(self.describe())
    }

    pub(super) fn request_failed(
        &self,
        operation: &str,
        failure: RequestFailure,
        attempts: crate::backend::transport::retry::Attempts,
    ) -> BackendError {
        failure.into_backend(self.describe(), format!("{} {operation}", self.aws.url()), attempts)
    }

    /// One `BatchGetSecretValue` chunk (following `NextToken`), or the ids it could not answer
    /// because the call is denied or throttled, for the caller to read one by one.
    async fn batch_chunk(&self, client: &Client, ids: &[String], ctx: &Context) -> Chunk {
        let mut found: Vec<Option<Result<SecretValue, KeyError>>> = vec![None; ids.len()];
        let mut next: Option<String> = None;
        loop {
            let token = next.clone();
            let (result, attempts) = call(ctx, || {
                let request = client
                    .batch_get_secret_value()
                    .set_secret_id_list(Some(ids.to_vec()))
                    .set_next_token(token.clone());
                async move {
                    request.send().await.map_err(|e| {
                        // Throttling is not retried here: `GetSecretValue`'s quota is 100 times
                        // larger, and the caller moves the ids there.
                        let f = super::from_sdk(e);
                        let transient = f.is_transient() && !f.is_throttled();
                        f.transient(transient)
                    })
                }
            })
            .await;
            let out = match result {
                Ok(out) => out,
                Err(f) if f.code.as_deref() == Some("AccessDeniedException") => {
                    return Chunk::Fallback(found, Fallback::Denied);
                }
                Err(f) if f.is_throttled() => return Chunk::Fallback(found, Fallback::Throttled),
                Err(f) => {
                    let shared = Arc::new(self.request_failed("BatchGetSecretValue", f, attempts));
                    return Chunk::Done(
                        ids.iter()
                            .map(|_| Err(KeyError::Backend(Arc::clone(&shared))))
                            .collect(),
                    );
                }
            };
            for entry in out.secret_values() {
                let value = value_of(entry.secret_string(), entry.secret_binary(), &self.within());
                for (i, id) in ids.iter().enumerate() {
                    if found[i].is_none() && matches_id(id, entry.name(), entry.arn()) {
                        found[i] = Some(value.clone());
                    }
                }
            }
            for error in out.errors() {
                let failure = RequestFailure::answer(200, error.message().unwrap_or_default())
                    .code(error.error_code().map(str::to_owned));
                let cause = key_error(&failure, &self.within()).unwrap_or_else(|| KeyError::Unavailable {
                    within: self.within(),
                    reason: Problem::said(&failure),
                });
                for (i, id) in ids.iter().enumerate() {
                    if found[i].is_none() && error.secret_id() == Some(id.as_str()) {
                        found[i] = Some(Err(cause.clone()));
                    }
                }
            }
            next = out.next_token().map(str::to_owned);
            if next.is_none() || found.iter().all(Option::is_some) {
                break;
            }
        }
        Chunk::Done(
            found
                .into_iter()
                .map(|f| {
                    f.unwrap_or_else(|| {
                        Err(KeyError::Unavailable {
                            within: self.within(),
                            reason: Problem::NoAnswer(
                                "BatchGetSecretValue returned neither a value nor an error for this id",
                            ),
                        })
                    })
                })
                .collect(),
        )
    }

    /// A chunk through `BatchGetSecretValue`, or through `GetSecretValue` for the ids it left
    /// when the batch call is denied (IAM or an SCP) or throttled (its quota is 100 requests/s
    /// per account and region, which a fleet's rollout exceeds). Either switches the rest of
    /// the run to `GetSecretValue`, said once.
    async fn read_chunk(&self, client: &Client, chunk: &[String], ctx: &Context) -> KeyResults<SecretValue> {
        let found = if self.batch_off.get().is_some() {
            vec![None; chunk.len()]
        } else {
            match self.batch_chunk(client, chunk, ctx).await {
                Chunk::Done(results) => return results,
                Chunk::Fallback(found, why) => {
                    if self.batch_off.set(why).is_ok() {
                        match why {
                            Fallback::Denied => tracing::info!(
                                backend = %self.describe(),
                                "BatchGetSecretValue is denied; reading each secret with GetSecretValue (grant secretsmanager:BatchGetSecretValue to batch)"
                            ),
                            Fallback::Throttled => tracing::info!(
                                backend = %self.describe(),
                                "BatchGetSecretValue is throttled (100 requests/s per account and region); reading the rest with GetSecretValue"
                            ),
                        }
                    }
                    found
                }
            }
        };
        join_all(found.into_iter().zip(chunk).map(|(found, id)| async move {
            match found {
                Some(result) => result,
                None => self.get_one(client, id, ctx).await,
            }
        }))
        .await
    }

    async fn get_one(&self, client: &Client, id: &str, ctx: &Context) -> Result<SecretValue, KeyError> {
        self.get_version(client, id, None, ctx).await
    }

    /// `GetSecretValue` of `id`, at `version` when one is pinned.
    async fn get_version(
        &self,
        client: &Client,
        id: &str,
        version: Option<&Version>,
        ctx: &Context,
    ) -> Result<SecretValue, KeyError> {
        let (result, attempts) = send(ctx, || {
            let request = client.get_secret_value().secret_id(id);
            match version {
                None => request,
                Some(Version::Stage(stage)) => request.version_stage(stage),
                Some(Version::Id(version)) => request.version_id(version),
            }
            .send()
        })
        .await;
        match result {
            Ok(out) => value_of(out.secret_string(), out.secret_binary(), &self.within()),
            Err(f) => Err(key_error(&f, &self.within())
                .unwrap_or_else(|| KeyError::Backend(Arc::new(self.request_failed("GetSecretValue", f, attempts))))),
        }
    }

    async fn get_each(&self, client: &Client, ids: &[String], ctx: &Context) -> KeyResults<SecretValue> {
        join_all(ids.iter().map(|id| self.get_one(client, id, ctx))).await
    }

    /// Writes and deletes take the secret, not a version of it.
    pub(super) fn unversioned(&self, name: &str) -> Result<(), BackendError> {
        match version_of(name) {
            (_, None) => Ok(()),
            (_, Some(_)) => Err(BackendError::Name {
                backend: self.describe(),
                name: name.to_owned(),
                reason: "a version (`@…`) cannot be written or deleted: a write makes the new AWSCURRENT version of the secret".into(),
            }),
        }
    }

    /// `primary` is shown as written: a name read from the environment is not echoed.
    async fn fetch_primary(&self, primary: &Shown, keys: &[KeyName], ctx: &Context) -> KeyResults<SecretValue> {
        let fetched = match self.client().await {
            Ok(client) => self.get_one(client, &primary.value, ctx).await,
            Err(e) => Err(KeyError::Backend(Arc::new(e))),
        };
        let within = self.within().at(Place::Primary(primary.shown().to_owned()));
        let parsed: Result<serde_json::Map<String, serde_json::Value>, KeyError> = fetched.and_then(|v| {
            serde_json::from_str::<serde_json::Value>(v.expose())
                .ok()
                .and_then(|j| {
                    // Every key of the primary secret reached osenv, asked for or not.
                    crate::secret::withhold_json(&j);
                    match j {
                        serde_json::Value::Object(map) => Some(map),
                        _ => None,
                    }
                })
                .ok_or_else(|| KeyError::InvalidValue {
                    within: self.within(),
                    reason: Problem::PrimaryNotAnObject(primary.to_string()),
                })
        });
        keys.iter()
            .map(|key| match &parsed {
                Err(e) => Err(e.clone()),
                Ok(map) => match map.get(key.as_str()) {
                    None => Err(KeyError::NotFound { within: within.clone() }),
                    Some(serde_json::Value::String(s)) => Ok(SecretValue::withheld(s.clone())),
                    // LiteLLM hands on a number, boolean or object as it is, which its
                    // resolver then treats as no secret (`None`); osenv fails closed instead of
                    // guessing a text form.
                    Some(other) => Err(KeyError::InvalidValue {
                        within: within.clone(),
                        reason: Problem::NotAString(json_kind(other)),
                    }),
                },
            })
            .collect()
    }

    pub(super) async fn describe_one(
        &self,
        client: &Client,
        id: &str,
        version: Option<&Version>,
        ctx: &Context,
    ) -> Result<(), KeyError> {
        let (result, attempts) = send(ctx, || client.describe_secret().secret_id(id).send()).await;
        match result {
            Ok(out) if out.deleted_date().is_some() => Err(KeyError::Unavailable {
                within: self.within(),
                reason: Problem::ScheduledForDeletion,
            }),
            Ok(out) => {
                let versions = out.version_ids_to_stages();
                let known = match version {
                    None => true,
                    Some(Version::Id(v)) => versions.is_some_and(|m| m.contains_key(v)),
                    Some(Version::Stage(stage)) => {
                        versions.is_some_and(|m| m.values().any(|stages| stages.iter().any(|s| s == stage)))
                    }
                };
                if known {
                    Ok(())
                } else {
                    Err(KeyError::NotFound {
                        within: self.within().at(Place::At(format!("{id} (no such version)"))),
                    })
                }
            }
            Err(f) => Err(key_error(&f, &self.within())
                .unwrap_or_else(|| KeyError::Backend(Arc::new(self.request_failed("DescribeSecret", f, attempts))))),
        }
    }
}

#[async_trait]
impl Backend for SecretsManager {
    fn describe(&self) -> String {
        self.aws.describe(SYSTEM)
    }

    fn policy(
        &self,
        wanted: &crate::backend::policy::Wanted<'_>,
    ) -> Result<crate::backend::policy::Policy, BackendError> {
        self.access_policy(wanted)
    }

    async fn fetch(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError> {
        if let Some(primary) = &self.primary {
            return Ok(self.fetch_primary(primary, keys, ctx).await);
        }
        let client = self.client().await?;
        // `BatchGetSecretValue` reads current versions only: pinned ones are read one by one,
        // alongside the batches.
        let (pinned, current): (Vec<usize>, Vec<usize>) =
            (0..keys.len()).partition(|&i| version_of(&keys[i]).1.is_some());
        let current_ids: Vec<String> = current.iter().map(|&i| keys[i].to_string()).collect();
        let plain = async {
            if !self.batch {
                return self.get_each(client, &current_ids, ctx).await;
            }
            let chunks = current_ids
                .chunks(BATCH_SIZE)
                .map(|chunk| self.read_chunk(client, chunk, ctx));
            join_all(chunks).await.into_iter().flatten().collect()
        };
        let versioned = join_all(pinned.iter().map(|&i| {
            let (id, version) = version_of(&keys[i]);
            async move { self.get_version(client, id, version.as_ref(), ctx).await }
        }));
        let (plain, versioned) = tokio::join!(plain, versioned);
        let mut results: Vec<Option<Result<SecretValue, KeyError>>> = vec![None; keys.len()];
        for (i, result) in current.into_iter().zip(plain).chain(pinned.into_iter().zip(versioned)) {
            results[i] = Some(result);
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(KeyError::InvalidValue {
                        within: self.within(),
                        reason: Problem::NoAnswer("no answer for this id"),
                    })
                })
            })
            .collect())
    }

    async fn exists(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<()>, BackendError> {
        if let Some(primary) = &self.primary {
            // The keys live inside one value: reading it (once) is the only way to know.
            return Ok(self
                .fetch_primary(primary, keys, ctx)
                .await
                .into_iter()
                .map(|r| r.map(drop))
                .collect());
        }
        let client = self.client().await?;
        Ok(join_all(keys.iter().map(|key| {
            let (id, version) = version_of(key);
            async move { self.describe_one(client, id, version.as_ref(), ctx).await }
        }))
        .await)
    }

    async fn write(&self, name: &str, value: &SecretValue, ctx: &Context) -> Result<(), BackendError> {
        self.put(name, value, ctx).await
    }

    async fn delete(&self, name: &str, mode: DeleteMode, ctx: &Context) -> Result<(), BackendError> {
        self.remove(name, mode, ctx).await
    }
}
