//! From a plan to values: environment names locally, manager names in one call to the backend,
//! under a deadline. Unlike LiteLLM, a manager failure never falls back to the environment: it
//! is an error the user sees.

use crate::backend::transport::retry::RetryPolicy;
use crate::backend::{Backend, Context, KeyName};
use crate::environment::Environment;
use crate::error::{BackendError, KeyError, ReferenceError, VariableError};
use crate::plan::{Plan, Route};
use crate::secret::SecretValue;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Limits for one run.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Deadline for the whole resolution (or write).
    pub deadline: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Before the first request, a random wait in `[0, splay)`, within the deadline.
    pub splay: Duration,
    /// The largest response body a client reads.
    pub max_response: usize,
    /// Whether the splay was waited (once per run, not per resolution: a template resolves in
    /// rounds).
    pub splayed: Arc<std::sync::atomic::AtomicBool>,
    /// Keep what a backend obtained for the run (a Vault token) after a resolution, for the
    /// next one (`--watch`); the caller gives it back with `Session::release`.
    pub hold: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            concurrency: 32,
            request_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            splay: Duration::ZERO,
            max_response: crate::backend::DEFAULT_MAX_RESPONSE,
            splayed: Arc::default(),
            hold: false,
        }
    }
}

impl Limits {
    /// The context a call to `backend` runs in: its retries end at the deadline, which starts
    /// now, as [`Limits::within_deadline`] does.
    pub fn context(&self, backend: &dyn Backend) -> Context {
        Context::new(self.concurrency, self.request_timeout, self.retry)
            .until(tokio::time::Instant::now() + self.deadline)
            .for_backend(backend.describe())
            .max_response(self.max_response)
    }

    /// Wait the run's random share of `--splay` (consul-template's `splay`): pods started in
    /// the same second reach the secret manager spread over that time.
    pub async fn splay(&self) {
        if !self.splay.is_zero() && !self.splayed.swap(true, std::sync::atomic::Ordering::Relaxed) {
            let millis = u64::try_from(self.splay.as_millis()).unwrap_or(u64::MAX);
            tokio::time::sleep(Duration::from_millis(fastrand::u64(0..millis.max(1)))).await;
        }
    }

    /// Run one backend operation (`backend` names it in the error) under the deadline.
    pub async fn within_deadline<T>(
        &self,
        backend: &dyn Backend,
        operation: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        match tokio::time::timeout(self.deadline, operation).await {
            Ok(outcome) => outcome,
            Err(_) => Err(BackendError::Deadline {
                backend: backend.describe(),
                seconds: self.deadline.as_secs(),
            }),
        }
    }
}

/// What to ask backends for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The values.
    Read,
    /// Only whether each key exists (`check`); values are not read where the backend can avoid it.
    Exists,
}

/// What a run found for each planned name, with the plan it answers.
#[derive(Debug)]
pub struct Resolution<'a> {
    plan: Plan<'a>,
    env: &'a Environment,
    values: HashMap<String, Result<SecretValue, KeyError>>,
}

impl<'a> Resolution<'a> {
    /// The result for `name`.
    pub fn get(&self, name: &str) -> Option<&Result<SecretValue, KeyError>> {
        self.values.get(name)
    }

    /// The value of `name`, when it resolved.
    pub fn value(&self, name: &str) -> Option<&SecretValue> {
        self.values.get(name)?.as_ref().ok()
    }

    /// The plan this resolution answers.
    pub fn plan(&self) -> &Plan<'a> {
        &self.plan
    }

    /// One error per reference whose name did not resolve, plus `hosted_keys` entries no
    /// reference uses that did not resolve (located at their entry), sorted by location.
    pub fn errors(&self) -> Vec<ReferenceError> {
        let mut errors: Vec<ReferenceError> = self
            .plan
            .references()
            .iter()
            .filter_map(|r| match self.values.get(&r.name) {
                Some(Err(cause)) => Some(r.error(cause.clone())),
                _ => None,
            })
            .collect();
        for (name, location) in self.plan.hosted() {
            let unreferenced = self.plan.get(name).is_some_and(|p| !p.referenced);
            if let (true, Some(Err(cause))) = (unreferenced, self.values.get(name)) {
                errors.push(ReferenceError::hosted(name, location, cause.clone()));
            }
        }
        errors.sort_by(|a, b| a.location.cmp(&b.location));
        errors.dedup_by(|a, b| a.location == b.location);
        errors
    }

    /// Encrypted variables no reference uses that did not decrypt; they have no place in the
    /// config to point at, so their errors name the variable. Sorted by name.
    pub fn variable_errors(&self) -> Vec<VariableError> {
        self.plan
            .names()
            .filter(|(_, p)| p.envelope)
            .filter_map(|(name, _)| match self.values.get(name) {
                Some(Err(cause)) => {
                    let variable = self.plan.ciphertext_variable(name).unwrap_or(name).to_owned();
                    let origin = self
                        .env
                        .lookup(&variable)
                        .map_or_else(|| "unset".to_owned(), |(_, o)| o.to_string());
                    Some(VariableError {
                        variable,
                        origin,
                        cause: cause.clone(),
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Every planned name that resolved, with its value, sorted by name.
    pub fn exports(&self) -> Vec<(&str, &SecretValue)> {
        self.plan
            .names()
            .filter_map(|(name, _)| match self.values.get(name) {
                Some(Ok(value)) => Some((name, value)),
                _ => None,
            })
            .collect()
    }
}

/// Resolve every planned name: environment names locally, manager names in one call.
pub async fn resolve<'a>(
    plan: Plan<'a>,
    env: &'a Environment,
    manager: Option<&dyn Backend>,
    limits: &Limits,
    purpose: Purpose,
) -> Resolution<'a> {
    let mut values = HashMap::with_capacity_and_hasher(plan.len(), rustc_hash::FxBuildHasher);
    let mut remote = Vec::new();
    for (name, planned) in plan.names() {
        let key = match KeyName::parse(name) {
            Ok(key) => key,
            Err(reason) => {
                values.insert(name.to_owned(), Err(KeyError::InvalidName { reason: reason.into() }));
                continue;
            }
        };
        match (planned.route, manager) {
            (Route::Manager, Some(_)) => remote.push(key),
            _ => {
                values.insert(name.to_owned(), env.reference(name));
            }
        }
    }
    if let (false, Some(manager)) = (remote.is_empty(), manager) {
        let ctx = limits.context(manager);
        let call = async {
            limits.splay().await;
            match purpose {
                Purpose::Read => manager.fetch(&remote, &ctx).await,
                Purpose::Exists => exists(manager, &remote, &ctx).await,
            }
        };
        let outcome = limits.within_deadline(manager, call).await;
        // `finish` (a Vault login's revocation) gets what is left of the deadline, never more:
        // the run ends at its deadline, and a token it could not revoke expires with its TTL.
        if !limits.hold {
            let left = ctx.deadline.saturating_duration_since(tokio::time::Instant::now());
            if tokio::time::timeout(left, manager.finish()).await.is_err() {
                tracing::warn!(
                    "{}: the deadline came before this run's session was ended (a login token it could not revoke expires with its TTL)",
                    manager.describe()
                );
            }
        }
        let outcome = outcome.and_then(|results| {
            // The answer is matched to the names by position, so a backend that answers for
            // more or fewer names than it was asked has answered for none of them reliably.
            if results.len() == remote.len() {
                Ok(results)
            } else {
                Err(BackendError::Answers {
                    backend: manager.describe(),
                    asked: remote.len(),
                    answered: results.len(),
                })
            }
        });
        match outcome {
            Ok(results) => values.extend(remote.into_iter().map(|key| key.to_string()).zip(results)),
            Err(err) => {
                let shared = Arc::new(err);
                values.extend(
                    remote
                        .into_iter()
                        .map(|key| (key.to_string(), Err(KeyError::Backend(Arc::clone(&shared))))),
                );
            }
        }
    }
    // Every resolved value is withheld from messages from now on: a server's error answer for
    // another name cannot print one.
    for value in values.values().filter_map(|r| r.as_ref().ok()) {
        value.withhold();
    }
    Resolution { plan, env, values }
}

/// Whether each of `names` exists, as an empty value. A `#field` is proved only by reading its
/// secret (`check` must fail where `render` would: a field the JSON does not have, or one
/// whose value is itself a reference, which LiteLLM would resolve again): those names are
/// read, the value dropped at once; the others only looked up. Both at once.
async fn exists(
    manager: &dyn Backend,
    names: &[KeyName],
    ctx: &crate::backend::Context,
) -> Result<crate::backend::KeyResults<SecretValue>, BackendError> {
    let (fields, plain): (Vec<KeyName>, Vec<KeyName>) = names.iter().cloned().partition(|n| n.field().is_some());
    let read = async {
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        let values = manager.fetch(&fields, ctx).await?;
        let proved = |value: SecretValue| {
            if value.expose().starts_with(crate::references::PREFIX) {
                Err(KeyError::InvalidValue {
                    within: crate::error::Within::backend(manager.describe()),
                    reason: crate::error::Problem::ResolvesAgain,
                })
            } else {
                Ok(())
            }
        };
        Ok(values.into_iter().map(|r| r.and_then(proved)).collect::<Vec<_>>())
    };
    let look = async {
        if plain.is_empty() {
            return Ok(Vec::new());
        }
        manager.exists(&plain, ctx).await
    };
    let (read, looked) = futures_util::future::join(read, look).await;
    let (read, looked) = (read?, looked?);
    if read.len() != fields.len() || looked.len() != plain.len() {
        return Err(BackendError::Answers {
            backend: manager.describe(),
            asked: names.len(),
            answered: read.len() + looked.len(),
        });
    }
    let (mut read, mut looked) = (read.into_iter(), looked.into_iter());
    Ok(names
        .iter()
        .map(|name| {
            let found = if name.field().is_some() {
                read.next()
            } else {
                looked.next()
            };
            found.unwrap_or(Ok(())).map(|()| SecretValue::new(String::new()))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[tokio::test(start_paused = true)]
    async fn splay_waits_less_than_its_bound() {
        let limits = Limits {
            splay: Duration::from_secs(5),
            ..Limits::default()
        };
        for _ in 0..20 {
            let limits = Limits {
                splayed: Arc::default(),
                ..limits.clone()
            };
            let start = tokio::time::Instant::now();
            limits.splay().await;
            assert!(start.elapsed() < Duration::from_secs(5));
            // Once per run.
            let start = tokio::time::Instant::now();
            limits.splay().await;
            assert_eq!(start.elapsed(), Duration::ZERO);
        }
        let start = tokio::time::Instant::now();
        Limits::default().splay().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn splay_waits_at_all() {
        let mut waited = Duration::ZERO;
        for _ in 0..20 {
            let limits = Limits {
                splay: Duration::from_secs(5),
                ..Limits::default()
            };
            let start = tokio::time::Instant::now();
            limits.splay().await;
            waited += start.elapsed();
        }
        // 20 draws from [0, 5 s): all zero is a 1 in 5000^20 chance.
        assert!(waited > Duration::ZERO);
    }

    use super::*;
    use crate::backend::memory::Memory;
    use crate::document::Document;
    use crate::plan::Scope;
    use crate::references::{Discovery, Reference};
    use crate::settings::KeyManagement;
    use crate::settings::envelope::Envelopes;

    fn setup(src: &str, env: &Environment) -> (Vec<Reference>, KeyManagement) {
        let doc = Document::parse("c.yaml", src.to_owned()).unwrap();
        let km = KeyManagement::from_document(&doc, env).unwrap();
        (Discovery::of(&doc, 100).references, km)
    }

    fn messages(errors: &[ReferenceError]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[tokio::test]
    async fn missing_names_are_located_errors() {
        let env = Environment::new([("A", "1")], vec![]);
        let (refs, km) = setup("a: os.environ/A\nb: os.environ/B\nc: os.environ/\n", &env);
        let envelopes = Envelopes::default();
        let plan = Plan::new(Scope::References(&refs), &km, &envelopes);
        let resolution = resolve(plan, &env, None, &Limits::default(), Purpose::Read).await;
        assert_eq!(
            messages(&resolution.errors()),
            [
                "c.yaml:2:4: cannot resolve `os.environ/B`: not found in the environment",
                "c.yaml:3:4: cannot resolve `os.environ/`: invalid name: the name after `os.environ/` is empty",
            ]
        );
    }

    const HOSTED: &str = "general_settings:\n  key_management_system: hashicorp_vault\n  key_management_settings:\n    hosted_keys: [A, H]\n\
                          a: os.environ/A\nb: os.environ/B\n";

    #[tokio::test]
    async fn hosted_keys_go_to_the_manager_and_the_rest_to_the_environment() {
        let env = Environment::new([("A", "from-env"), ("B", "from-env")], vec![]);
        let (refs, km) = setup(HOSTED, &env);
        let manager = Memory::new([("A", "from-manager"), ("H", "hosted")]);
        let envelopes = Envelopes::default();
        let plan = Plan::new(Scope::Export(&refs), &km, &envelopes);
        let resolution = resolve(plan, &env, Some(&manager), &Limits::default(), Purpose::Read).await;
        let got: Vec<_> = resolution.exports().into_iter().map(|(n, v)| (n, v.expose())).collect();
        assert_eq!(got, [("A", "from-manager"), ("B", "from-env"), ("H", "hosted")]);
        assert_eq!(manager.asked(), [vec!["A".to_owned(), "H".to_owned()]]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_backend_gets_the_deadline_and_is_finished_unless_held() {
        let env = Environment::default();
        let (refs, km) = setup(
            "general_settings:\n  key_management_system: hashicorp_vault\na: os.environ/A\n",
            &env,
        );
        let envelopes = Envelopes::default();
        for hold in [false, true] {
            let manager = Memory::new([("A", "a")]);
            let limits = Limits {
                deadline: Duration::from_secs(7),
                hold,
                ..Limits::default()
            };
            let start = tokio::time::Instant::now();
            let plan = Plan::new(Scope::References(&refs), &km, &envelopes);
            let resolution = resolve(plan, &env, Some(&manager), &limits, Purpose::Read).await;
            assert_eq!(resolution.value("A").map(SecretValue::expose), Some("a"));
            assert_eq!(resolution.value("B"), None);
            assert_eq!(manager.deadlines(), [start + Duration::from_secs(7)]);
            assert_eq!(manager.finished(), usize::from(!hold), "hold: {hold}");
        }
    }

    #[tokio::test]
    async fn encrypted_variables_that_fail_are_named_by_their_variable() {
        let env = Environment::new(
            [
                ("USE_AWS_KMS", "True"),
                ("LITELLM_SECRET_AWS_KMS_OPENAI_API_KEY", "AQID"),
                ("DATABASE_URL", "aws_kms/AQID"),
                ("REDIS_URL", "aws_kms/AQIE"),
            ],
            vec![],
        );
        let (refs, km) = setup("a: os.environ/PLAIN\n", &env);
        let envelopes = Envelopes::for_run(&env, &km).unwrap();
        let manager = Memory::new([("REDIS_URL", "redis://r")]);
        let plan = Plan::new(Scope::Export(&refs), &km, &envelopes);
        let resolution = resolve(plan, &env, Some(&manager), &Limits::default(), Purpose::Read).await;
        let got: Vec<(String, String, String)> = resolution
            .variable_errors()
            .into_iter()
            .map(|e| (e.variable, e.origin, e.cause.to_string()))
            .collect();
        let origin = |v: &str| env.lookup(v).unwrap().1.to_string();
        assert_eq!(
            got,
            [
                (
                    "DATABASE_URL".to_owned(),
                    origin("DATABASE_URL"),
                    "not found in memory (test)".to_owned()
                ),
                (
                    "LITELLM_SECRET_AWS_KMS_OPENAI_API_KEY".to_owned(),
                    origin("LITELLM_SECRET_AWS_KMS_OPENAI_API_KEY"),
                    "not found in memory (test)".to_owned()
                ),
            ]
        );
    }

    #[tokio::test]
    async fn an_unreferenced_hosted_key_is_located_at_its_entry() {
        let env = Environment::new([("B", "from-env")], vec![]);
        let (refs, km) = setup(HOSTED, &env);
        let manager = Memory::new([("A", "a")]);
        let envelopes = Envelopes::default();
        let plan = Plan::new(Scope::References(&refs), &km, &envelopes);
        let resolution = resolve(plan, &env, Some(&manager), &Limits::default(), Purpose::Read).await;
        assert_eq!(
            messages(&resolution.errors()),
            ["c.yaml:4:22: cannot resolve `H`: not found in memory (test)"]
        );
    }

    /// Ending the session (a Vault revocation) never takes the run past its deadline.
    #[tokio::test(start_paused = true)]
    async fn finishing_ends_at_the_deadline() {
        let env = Environment::default();
        let (refs, km) = setup(
            "general_settings:\n  key_management_system: hashicorp_vault\na: os.environ/A\n",
            &env,
        );
        let envelopes = Envelopes::default();
        let limits = Limits {
            deadline: Duration::from_secs(2),
            ..Limits::default()
        };
        for (finishing, finished) in [(Duration::from_secs(1), 1), (Duration::from_secs(5), 0)] {
            let manager = Memory::new([("A", "a")]).finishing_in(finishing);
            let plan = Plan::new(Scope::References(&refs), &km, &envelopes);
            let started = tokio::time::Instant::now();
            let resolution = resolve(plan, &env, Some(&manager), &limits, Purpose::Read).await;
            assert_eq!(resolution.get("A").unwrap().as_ref().unwrap().expose(), "a");
            assert!(started.elapsed() <= Duration::from_secs(2), "{:?}", started.elapsed());
            assert_eq!(manager.finished(), finished, "{finishing:?}");
        }
    }

    #[tokio::test]
    async fn write_only_reads_nothing_from_the_manager() {
        let env = Environment::new([("A", "from-env")], vec![]);
        let (refs, km) = setup(
            "general_settings:\n  key_management_system: hashicorp_vault\n  key_management_settings: {access_mode: write_only}\na: os.environ/A\n",
            &env,
        );
        let manager = Memory::new([("A", "from-manager")]);
        let envelopes = Envelopes::default();
        let plan = Plan::new(Scope::References(&refs), &km, &envelopes);
        let resolution = resolve(plan, &env, Some(&manager), &Limits::default(), Purpose::Read).await;
        assert_eq!(resolution.get("A").unwrap().as_ref().unwrap().expose(), "from-env");
        assert!(manager.asked().is_empty());
    }

    #[tokio::test]
    async fn a_backend_that_answers_short_fails_every_name_it_was_asked() {
        let env = Environment::default();
        let (refs, km) = setup(
            "general_settings:\n  key_management_system: hashicorp_vault\na: os.environ/A\nb: os.environ/B\n",
            &env,
        );
        let manager = Memory::new([("A", "a"), ("B", "b")]).answering_short();
        let envelopes = Envelopes::default();
        let plan = Plan::new(Scope::References(&refs), &km, &envelopes);
        let resolution = resolve(plan, &env, Some(&manager), &Limits::default(), Purpose::Read).await;
        assert!(resolution.exports().is_empty());
        assert_eq!(
            messages(&resolution.errors()),
            [
                "c.yaml:3:4: cannot resolve `os.environ/A`: memory (test) answered for 1 of 2 names",
                "c.yaml:4:4: cannot resolve `os.environ/B`: memory (test) answered for 1 of 2 names",
            ]
        );
    }
}
