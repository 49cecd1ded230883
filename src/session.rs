//! A loaded config, ready to resolve: its document and references, its key management, the
//! run's environment and encrypted variables, the backend reads go to, and the run's limits.
//!
//! This is the pipeline assembled once; every command of the binary works through it.

use crate::backend::policy::{Access, Policy, Wanted};
use crate::backend::{self, Backend};
use crate::document::Document;
use crate::environment::Environment;
use crate::error::{BackendError, ConfigError, Error};
use crate::input;
use crate::plan::{Plan, Route, Scope};
use crate::references::{self, Discovery, Notice, Reference};
use crate::render::yaml::Coercion;
use crate::resolve::{self, Limits, Purpose, Resolution};
use crate::settings::KeyManagement;
use crate::settings::envelope::Envelopes;
use crate::sources::Sources;
use crate::trust::Trust;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A loaded config. Built by [`Session::new`] or [`Session::load`]; every config error is
/// collected and sorted before one is returned.
pub struct Session {
    sources: Sources,
    discovery: Discovery,
    km: KeyManagement,
    env: Arc<Environment>,
    manager: Option<Arc<dyn Backend>>,
    envelopes: Envelopes,
    limits: Limits,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("config", &self.sources.root().file())
            .field("references", &self.discovery.references.len())
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Read and parse the config at `path` (`-` is stdin) with the environment of this process
    /// plus `env_files` and `secrets_dirs`, trusted as far as `trust` says.
    pub fn load(
        path: &Path,
        env_files: &[PathBuf],
        secrets_dirs: &[PathBuf],
        trust: Trust,
        limits: Limits,
    ) -> Result<Self, Error> {
        let parse = || {
            input::read_text(path, limits.deadline)
                .and_then(|text| Document::parse(input::display_name(path), text).map_err(Error::Config))
        };
        // The env files and the config are independent until the settings are read, and on a
        // large config each takes a good part of the run: with env files, parse them on a
        // second thread meanwhile. An env-file error still wins over a config error.
        let (env, doc) = if env_files.is_empty() {
            (
                crate::Environment::load(&[], trust, secrets_dirs, limits.deadline),
                parse(),
            )
        } else {
            std::thread::scope(|scope| {
                let env = scope.spawn(|| crate::Environment::load(env_files, trust, secrets_dirs, limits.deadline));
                let doc = parse();
                (env.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), doc)
            })
        };
        let env = Arc::new(env?);
        let sources = Sources::load(doc?, path, limits.deadline)?;
        for warning in &sources.warnings {
            tracing::warn!("{warning}");
        }
        Ok(Self::with_sources(sources, env)
            .map_err(Error::Config)?
            .with_limits(limits))
    }

    /// Find the references of `doc` (whose `include:` is not followed), read its settings
    /// against `env`, and pick the backend.
    pub fn new(doc: Document, env: Arc<Environment>) -> Result<Self, Vec<ConfigError>> {
        Self::with_sources(Sources::single(doc), env)
    }

    /// Find the references of the merged config, read its settings against `env`, and pick the
    /// backend.
    pub fn with_sources(sources: Sources, env: Arc<Environment>) -> Result<Self, Vec<ConfigError>> {
        let mut discovery = Discovery::of_parts(&sources.parts(), references::max_depth(&env));
        let mut errors = std::mem::take(&mut discovery.errors);
        // What PyYAML cannot construct fails LiteLLM's load in an entry a later include
        // replaces too (found by the differential run): only those errors of dropped entries.
        if sources.documents().len() > 1 {
            let dropped = Discovery::of_parts(&sources.dropped_parts(), references::max_depth(&env));
            errors.extend(
                dropped
                    .errors
                    .into_iter()
                    .filter(|e| matches!(e, ConfigError::Unloadable { .. })),
            );
        }
        let (km, settings_read) = match KeyManagement::from_document(sources.settings_document(), &env) {
            Ok(km) => (km, true),
            Err(mut e) => {
                errors.append(&mut e);
                (KeyManagement::default(), false)
            }
        };
        let envelopes = Envelopes::for_run(&env, &km).unwrap_or_else(|e| {
            errors.push(e);
            Envelopes::default()
        });
        // Set up (no I/O yet) only from settings that were read, but also when the document
        // has other problems, so that every problem is reported in one run.
        let manager = if settings_read {
            backend::registry::for_reads(&km, &env, &envelopes).unwrap_or_else(|e| {
                errors.push(e);
                None
            })
        } else {
            None
        };
        if !errors.is_empty() {
            errors.sort_by(|a, b| a.location().cmp(&b.location()));
            return Err(errors);
        }
        Ok(Self {
            sources,
            discovery,
            km,
            env,
            manager,
            envelopes,
            limits: Limits::default(),
        })
    }

    /// The same session under other limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The parsed config (without its includes).
    pub fn document(&self) -> &Document {
        self.sources.root()
    }

    /// The config and its `include:` files, merged.
    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// The references LiteLLM resolves, sorted by position.
    pub fn references(&self) -> &[Reference] {
        &self.discovery.references
    }

    /// Reference-looking values LiteLLM leaves alone, sorted by position.
    pub fn notices(&self) -> &[Notice] {
        &self.discovery.notices
    }

    /// Credentials written as plain text in the config and its includes (`check` warns).
    pub fn plaintext(&self) -> Vec<crate::plaintext::Plaintext> {
        self.sources()
            .documents()
            .iter()
            .flat_map(crate::plaintext::find)
            .collect()
    }

    /// The config's key management.
    pub fn key_management(&self) -> &KeyManagement {
        &self.km
    }

    /// The run's environment.
    pub fn environment(&self) -> &Environment {
        &self.env
    }

    /// The backend reads go to, if any.
    pub fn manager(&self) -> Option<&dyn Backend> {
        self.manager.as_deref()
    }

    /// The run's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How messages name where values come from: the manager, or the environment.
    pub fn backend_name(&self) -> String {
        self.manager
            .as_ref()
            .map_or_else(|| self.env.describe(), |m| m.describe())
    }

    /// The names `scope` asks for, routed under this config.
    pub fn plan<'a>(&'a self, scope: Scope<'a>) -> Plan<'a> {
        Plan::new(scope, &self.km, &self.envelopes)
    }

    /// Resolve `plan` (values or existence) under the run's limits.
    pub async fn resolve<'a>(&'a self, plan: Plan<'a>, purpose: Purpose) -> Resolution<'a> {
        let started = Instant::now();
        let names = plan.len();
        let resolution = resolve::resolve(plan, &self.env, self.manager(), &self.limits, purpose).await;
        tracing::info!(
            names,
            backend = %self.backend_name(),
            elapsed_ms = started.elapsed().as_millis(),
            "resolved"
        );
        resolution
    }

    /// The coercion LiteLLM applies in this configuration.
    pub fn coercion(&self) -> Coercion {
        if self.km.reads_from_manager() {
            Coercion::Manager
        } else {
            Coercion::Environment
        }
    }

    /// The backend `put` and `delete` write to: the config's manager, when `access_mode` allows
    /// writing.
    pub fn writer(&self) -> Result<Arc<dyn Backend>, Error> {
        let opened = match &self.manager {
            Some(manager) => Some(Arc::clone(manager)),
            None => backend::registry::for_writes(&self.km, &self.env, &self.envelopes)
                .map_err(|e| Error::Config(vec![e]))?,
        };
        let Some(manager) = opened else {
            return Err(Error::Backend(BackendError::NotSupported {
                backend: "the environment (no key_management_system in the config)".into(),
                operation: "writing secrets",
            }));
        };
        let access_mode = self.km.settings.access_mode;
        if !access_mode.writes() {
            return Err(Error::Backend(BackendError::ReadOnly {
                backend: manager.describe(),
                access_mode: access_mode.as_str(),
            }));
        }
        Ok(manager)
    }

    /// The least-privilege policy for this config's secrets (`osenv policy`): the names a run
    /// reads from the manager (references, `hosted_keys`, encrypted variables), and with
    /// `ReadWrite` the referenced names under the stored-key prefix (what `put`/`delete` write),
    /// in the manager's language. No request is made.
    pub fn policy(&self, access: Access, principal: Option<&str>) -> Result<(Policy, Vec<String>, Vec<String>), Error> {
        let manager = match &self.manager {
            Some(manager) => Arc::clone(manager),
            None => backend::registry::for_writes(&self.km, &self.env, &self.envelopes)
                .map_err(|e| Error::Config(vec![e]))?
                .ok_or_else(|| {
                    Error::Backend(BackendError::NotSupported {
                        backend: "the environment (no key_management_system in the config)".into(),
                        operation: "access policies: its values need none",
                    })
                })?,
        };
        let plan = self.plan(Scope::Export(self.references()));
        let read: Vec<String> = plan
            .names()
            .filter(|(_, p)| p.route == Route::Manager)
            .map(|(n, _)| n.to_owned())
            .collect();
        let write: Vec<String> = match access {
            Access::Read => Vec::new(),
            Access::ReadWrite => {
                let prefix = self.km.settings.stored_name("", self.km.system());
                plan.names()
                    .map(|(n, _)| n)
                    .filter(|n| n.len() > prefix.len() && n.starts_with(&prefix) && self.envelopes.source(n).is_none())
                    .map(str::to_owned)
                    .collect()
            }
        };
        let policy = manager
            .policy(&Wanted {
                read: &read,
                write: &write,
                principal,
            })
            .map_err(Error::Backend)?;
        Ok((policy, read, write))
    }

    /// The secret manager this run authenticates to: the selected one, or AWS KMS for the
    /// encrypted variables of `USE_AWS_KMS=True`.
    pub fn system_used(&self) -> Option<crate::settings::KeyManagementSystem> {
        self.km
            .system()
            .or_else(|| (!self.envelopes.is_empty()).then_some(crate::settings::KeyManagementSystem::AwsKms))
    }

    /// Give back what the backend obtained for the run (a Vault token from a login), when the
    /// limits held it across resolutions (`--watch`). Best effort, bounded like `finish`.
    pub async fn release(&self) {
        if let Some(manager) = &self.manager {
            manager.finish().await;
        }
    }

    /// End a run whose process exits next. The document and the references are left to the
    /// operating system: freeing 100,000 nodes and 10,000 references one by one only costs time
    /// (about 5 % of a 10,000-reference render), and neither holds a resolved value. Everything
    /// that does (the environment, the backends, the caller's resolution) is dropped as usual,
    /// which wipes it.
    pub fn finish(self) {
        let Self { sources, discovery, .. } = self;
        std::mem::forget(sources);
        std::mem::forget(discovery);
    }
}
