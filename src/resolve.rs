//! From references to values: dedupe names, route each to the environment or the manager,
//! call each backend once with all its keys, under a deadline.
//!
//! Routing is LiteLLM's (`get_secret`): with a manager that reads, a name goes to it unless
//! `hosted_keys` is set and does not list it; `hosted_keys` names are resolved even when no
//! reference uses them, because LiteLLM looks them up itself. Unlike LiteLLM, a manager failure
//! never falls back to the environment: it is an error the user sees.

use crate::backend::envelope::Envelopes;
use crate::backend::{Backend, Context, Environment};
use crate::error::{BackendError, KeyError, ReferenceError};
use crate::reference::{self, Reference};
use crate::retry::RetryPolicy;
use crate::secret::SecretValue;
use crate::settings::KeyManagement;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Limits for one run.
#[derive(Debug, Clone)]
pub struct ResolveOptions {
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Deadline for the whole resolution.
    pub deadline: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        Self {
            concurrency: 32,
            request_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// Where a name is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// The process environment and `--env-file`s.
    Environment,
    /// The configured secret manager.
    Manager,
}

/// One unique name to resolve.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Where it is read from.
    pub route: Route,
    /// Listed in `hosted_keys`.
    pub hosted: bool,
    /// Used by at least one reference.
    pub referenced: bool,
    /// Exported because LiteLLM decrypts its variable into the environment (`USE_AWS_KMS`),
    /// though no reference uses it.
    pub envelope: bool,
}

/// The unique names of a run and their routes, sorted by name.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Name → plan.
    pub names: BTreeMap<String, Planned>,
}

impl Plan {
    /// Plan the references of a config under its key-management settings.
    pub fn new(references: &[Reference], km: &KeyManagement) -> Self {
        let route = |name: &str| {
            if km.routes_to_manager(name) {
                Route::Manager
            } else {
                Route::Environment
            }
        };
        // Sorted and deduplicated first, so the map is built in one pass rather than by an
        // insert per reference.
        let mut unique: Vec<&str> = references.iter().map(|r| r.name.as_str()).collect();
        unique.sort_unstable();
        unique.dedup();
        let mut names: BTreeMap<String, Planned> = unique
            .into_iter()
            .map(|name| {
                let planned = Planned {
                    route: route(name),
                    hosted: false,
                    referenced: true,
                    envelope: false,
                };
                (name.to_owned(), planned)
            })
            .collect();
        if km.system.is_some() {
            for (name, _) in &km.hosted {
                names
                    .entry(name.clone())
                    .or_insert_with(|| Planned {
                        route: route(name),
                        hosted: true,
                        referenced: false,
                        envelope: false,
                    })
                    .hosted = true;
            }
        }
        Self { names }
    }

    /// Route names whose variables hold KMS ciphertexts (LiteLLM's `USE_AWS_KMS` convention)
    /// to the manager, which decrypts them.
    pub fn route_envelopes(&mut self, envelopes: &Envelopes) {
        for (name, planned) in &mut self.names {
            if envelopes.source(name).is_some() {
                planned.route = Route::Manager;
            }
        }
    }

    /// Add every encrypted variable's name, for commands that export the whole environment
    /// LiteLLM would see (`env`, `exec`).
    pub fn add_envelopes(&mut self, envelopes: &Envelopes) {
        for (name, _) in envelopes.iter() {
            self.names.entry(name.to_owned()).or_insert(Planned {
                route: Route::Manager,
                hosted: false,
                referenced: false,
                envelope: true,
            });
        }
    }
}

/// What a run found for each name.
#[derive(Debug, Default)]
pub struct Resolution {
    values: HashMap<String, Result<SecretValue, KeyError>>,
}

impl Resolution {
    /// The result for `name`.
    pub fn get(&self, name: &str) -> Option<&Result<SecretValue, KeyError>> {
        self.values.get(name)
    }

    /// One error per reference whose name did not resolve, sorted by location, plus hosted keys
    /// that did not resolve (located at their `hosted_keys` entry).
    pub fn errors(&self, references: &[Reference], km: &KeyManagement, plan: &Plan) -> Vec<ReferenceError> {
        let mut errors: Vec<ReferenceError> = references
            .iter()
            .filter_map(|r| match self.values.get(&r.name) {
                Some(Err(cause)) => Some(ReferenceError {
                    location: r.location.clone(),
                    written: r.written.clone(),
                    cause: cause.clone(),
                }),
                _ => None,
            })
            .collect();
        for (name, location) in &km.hosted {
            let unreferenced = plan.names.get(name).is_some_and(|p| !p.referenced);
            if let (true, Some(Err(cause))) = (unreferenced, self.values.get(name)) {
                errors.push(ReferenceError {
                    location: location.clone(),
                    written: name.clone(),
                    cause: cause.clone(),
                });
            }
        }
        errors.sort_by(|a, b| a.location.cmp(&b.location));
        errors.dedup_by(|a, b| a.location == b.location);
        errors
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

/// Resolve every planned name: environment names locally, manager names in one batch call.
pub async fn resolve(
    plan: &Plan,
    env: &Environment,
    manager: Option<&Arc<dyn Backend>>,
    options: &ResolveOptions,
    purpose: Purpose,
) -> Resolution {
    let mut values = HashMap::with_capacity_and_hasher(plan.names.len(), rustc_hash::FxBuildHasher);
    let mut remote = Vec::new();
    for (name, planned) in &plan.names {
        if let Err(reason) = reference::validate_name(name) {
            values.insert(name.clone(), Err(KeyError::InvalidName { reason: reason.into() }));
            continue;
        }
        match (planned.route, manager) {
            (Route::Manager, Some(_)) => remote.push(name.clone()),
            _ => {
                values.insert(name.clone(), env.get(name));
            }
        }
    }
    if let (false, Some(manager)) = (remote.is_empty(), manager) {
        let ctx = Context::new(options.concurrency, options.request_timeout, options.retry);
        let call = async {
            match purpose {
                Purpose::Read => manager.fetch(&remote, &ctx).await,
                Purpose::Exists => manager.exists(&remote, &ctx).await.map(|rs| {
                    rs.into_iter()
                        .map(|r| r.map(|()| SecretValue::new(String::new())))
                        .collect()
                }),
            }
        };
        let outcome = match tokio::time::timeout(options.deadline, call).await {
            Ok(outcome) => outcome,
            Err(_) => Err(BackendError::Deadline {
                backend: manager.describe(),
                seconds: options.deadline.as_secs(),
            }),
        };
        match outcome {
            Ok(results) => {
                debug_assert_eq!(results.len(), remote.len());
                values.extend(remote.into_iter().zip(results));
            }
            Err(err) => {
                let shared = Arc::new(err);
                values.extend(
                    remote
                        .into_iter()
                        .map(|name| (name, Err(KeyError::Backend(Arc::clone(&shared))))),
                );
            }
        }
    }
    Resolution { values }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Document;

    fn setup(src: &str) -> (Vec<Reference>, KeyManagement) {
        let doc = Document::parse("c.yaml", src.to_owned()).unwrap();
        let km = KeyManagement::from_document(&doc, &Environment::default()).unwrap();
        (doc.discover(100).references, km)
    }

    #[test]
    fn plans_unique_names_and_hosted_keys() {
        let (refs, km) = setup(
            "general_settings:\n  key_management_system: aws_secret_manager\n  key_management_settings:\n    hosted_keys: [A, H]\n\
             a: os.environ/A\nb: os.environ/A\nc: os.environ/C\n",
        );
        let plan = Plan::new(&refs, &km);
        let got: Vec<_> = plan
            .names
            .iter()
            .map(|(n, p)| (n.as_str(), p.route, p.hosted, p.referenced))
            .collect();
        assert_eq!(
            got,
            [
                ("A", Route::Manager, true, true),
                ("C", Route::Environment, false, true),
                ("H", Route::Manager, true, false)
            ]
        );
    }

    #[tokio::test]
    async fn missing_names_are_located_errors() {
        let (refs, km) = setup("a: os.environ/A\nb: os.environ/B\nc: os.environ/\n");
        let plan = Plan::new(&refs, &km);
        let env = Environment::new([("A", "1")], vec![]);
        let resolution = resolve(&plan, &env, None, &ResolveOptions::default(), Purpose::Read).await;
        let errors: Vec<String> = resolution
            .errors(&refs, &km, &plan)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "c.yaml:2:4: cannot resolve `os.environ/B`: not found in the environment",
                "c.yaml:3:4: cannot resolve `os.environ/`: invalid name: the name after `os.environ/` is empty",
            ]
        );
    }
}
