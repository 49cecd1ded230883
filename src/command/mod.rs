//! The commands behind the CLI. Each takes validated arguments and returns `Ok` or an [`Error`];
//! `main` turns that into output and an exit code.

mod check;
mod encrypt;
mod env;
mod exec;
mod render;
mod template;
mod write;

use crate::backend::dotenv::DotenvFile;
use crate::backend::envelope::Envelopes;
use crate::backend::{self, Backend, Environment};
use crate::cli::{Cli, Command, ConfigArgs, LimitArgs};
use crate::document::{Discovery, Document, max_depth_from_env};
use crate::error::{ConfigError, Error, IoError, KeyError, VariableError};
use crate::location::LineIndex;
use crate::render::yaml::Coercion;
use crate::resolve::{self, Plan, Purpose, Resolution, ResolveOptions};
use crate::retry::RetryPolicy;
use crate::secret::SecretValue;
use crate::settings::{KeyManagement, KeyManagementSystem};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where warnings go: stderr, unless `-q`.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// Suppress warnings.
    pub quiet: bool,
}

impl Ui {
    /// Print a warning line.
    pub fn warn(self, message: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("warning: {message}");
        }
    }
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    let ui = Ui { quiet: cli.quiet };
    match cli.command {
        Command::Render(args) => render::run(&args, ui),
        Command::Env(args) => env::run(&args, ui),
        Command::Exec(args) => exec::run(&args, ui),
        Command::Check(args) => check::run(&args, ui),
        Command::Template(args) => template::run(&args, ui),
        Command::Put(args) => write::put(&args, ui),
        Command::Delete(args) => write::delete(&args, ui),
        Command::Encrypt(args) => encrypt::run(&args, ui),
    }
}

/// Run a future to completion on a single-threaded runtime: the work is I/O-bound and
/// concurrency comes from the backends' own request fan-out.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built")
        .block_on(future)
}

/// The name a path is shown as.
fn display_name(path: &Path) -> Arc<str> {
    if path == Path::new("-") {
        "<stdin>".into()
    } else {
        path.to_string_lossy().into()
    }
}

/// The largest input osenv reads (config, env file, template, value). LiteLLM configs are
/// kilobytes; a hostile or mistaken multi-megabyte input is refused instead of parsed (the parse
/// state is about 15 times the text).
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Read a file, or stdin for `-`, up to [`MAX_INPUT_BYTES`].
pub(crate) fn read_input(path: &Path) -> Result<Vec<u8>, Error> {
    let err = |source| {
        Error::Input(IoError {
            verb: "cannot read",
            path: path.to_owned(),
            source,
        })
    };
    let too_big = || {
        err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {} MiB, the most osenv reads",
                MAX_INPUT_BYTES / (1024 * 1024)
            ),
        ))
    };
    let mut buf = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin().lock().take(MAX_INPUT_BYTES + 1).read_to_end(&mut buf)
    } else {
        // std's error: the message already names the path, so the cause need not repeat it.
        let file = std::fs::File::open(path).map_err(err)?;
        if file.metadata().is_ok_and(|m| m.len() > MAX_INPUT_BYTES) {
            return Err(too_big());
        }
        file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut buf)
    };
    read.map_err(err)?;
    if buf.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    Ok(buf)
}

/// Read a UTF-8 text input; invalid UTF-8 is located.
pub(crate) fn read_text(path: &Path) -> Result<String, Error> {
    let bytes = read_input(path)?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let prefix = String::from_utf8_lossy(&bytes[..valid]).into_owned();
        let location = LineIndex::new(display_name(path), &prefix).locate(&prefix, valid);
        Error::Config(vec![ConfigError::Encoding { location }])
    })
}

/// The environment: this process's variables plus the `--env-file`s.
pub(crate) fn load_environment(files: &[std::path::PathBuf]) -> Result<Environment, Error> {
    let mut parsed = Vec::with_capacity(files.len());
    for path in files {
        let text = read_text(path)?;
        parsed.push(DotenvFile::parse(display_name(path), &text)?);
    }
    Ok(Environment::from_process(parsed))
}

impl LimitArgs {
    /// As resolver options.
    pub fn options(&self) -> Result<ResolveOptions, Error> {
        let secs = |v: f64, flag: &str| {
            if v.is_finite() && v > 0.0 && v <= 86_400.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(Error::Usage(format!(
                    "`--{flag}` must be a number of seconds between 0 and 86400"
                )))
            }
        };
        Ok(ResolveOptions {
            concurrency: usize::from(self.concurrency),
            request_timeout: secs(self.timeout, "timeout")?,
            deadline: secs(self.deadline, "deadline")?,
            retry: RetryPolicy {
                attempts: self.attempts,
                ..RetryPolicy::default()
            },
        })
    }
}

/// Parse a config and find its references; neither needs the environment.
fn parse_config(file: Arc<str>, text: String) -> Result<(Document, Discovery), Error> {
    let doc = Document::parse(file, text).map_err(Error::Config)?;
    let discovery = doc.discover(max_depth_from_env());
    Ok((doc, discovery))
}

/// A loaded config: the document, its references, settings and backends.
pub(crate) struct Session {
    pub doc: Document,
    pub discovery: Discovery,
    pub km: KeyManagement,
    pub env: Arc<Environment>,
    pub manager: Option<Arc<dyn Backend>>,
    /// Variables holding KMS ciphertexts (LiteLLM's `USE_AWS_KMS` convention), when it applies.
    pub envelopes: Envelopes,
    pub options: ResolveOptions,
}

impl Session {
    /// Read, parse and validate a config; every config error is collected and sorted.
    pub fn load(args: &ConfigArgs) -> Result<Self, Error> {
        let options = args.limits.options()?;
        let parse = || read_text(&args.config).and_then(|text| parse_config(display_name(&args.config), text));
        // The env files and the config are independent until the settings are read, and on a
        // large config each takes a good part of the run: with env files, parse them on a
        // second thread meanwhile. An env-file error still wins over a config error, as before.
        let (env, parsed) = if args.env_files.is_empty() {
            (load_environment(&[]), parse())
        } else {
            std::thread::scope(|scope| {
                let env = scope.spawn(|| load_environment(&args.env_files));
                let parsed = parse();
                (
                    env.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    parsed,
                )
            })
        };
        let env = Arc::new(env?);
        let (doc, discovery) = parsed?;
        Self::assemble(doc, discovery, env, options)
    }

    /// Build a session from text already read.
    pub fn from_text(
        file: Arc<str>,
        text: String,
        env: Arc<Environment>,
        options: ResolveOptions,
    ) -> Result<Self, Error> {
        let (doc, discovery) = parse_config(file, text)?;
        Self::assemble(doc, discovery, env, options)
    }

    /// Settings and backends for a parsed config; every config error is collected and sorted.
    fn assemble(
        doc: Document,
        mut discovery: Discovery,
        env: Arc<Environment>,
        options: ResolveOptions,
    ) -> Result<Self, Error> {
        let mut errors = std::mem::take(&mut discovery.errors);
        let km = match KeyManagement::from_document(&doc, &env) {
            Ok(km) => Some(km),
            Err(mut e) => {
                errors.append(&mut e);
                None
            }
        };
        // LiteLLM decrypts `LITELLM_SECRET_AWS_KMS_*` and `aws_kms/` variables when
        // `USE_AWS_KMS=True`; with `key_management_system: aws_kms` osenv does the same.
        let switched_on = Envelopes::switched_on(&env);
        let envelopes = match km.as_ref().and_then(|km| km.system) {
            Some(KeyManagementSystem::AwsKms) => Envelopes::scan(&env),
            None if switched_on => Envelopes::scan(&env),
            Some(other) if switched_on => {
                errors.push(ConfigError::UnsupportedBackend {
                    location: km
                        .as_ref()
                        .and_then(|km| km.system_location.clone())
                        .expect("a configured system has a location"),
                    value: other.as_str().to_owned(),
                    why: "cannot be combined with USE_AWS_KMS=True: osenv reads from one backend per run (unset USE_AWS_KMS, or use key_management_system: aws_kms)",
                });
                Envelopes::default()
            }
            _ => Envelopes::default(),
        };
        // The manager is only opened when reads go to it (or ciphertexts need decrypting);
        // `put`/`delete` open it themselves, so a `write_only` config renders without any cloud
        // credentials.
        let manager = match &km {
            Some(km) if km.reads_from_manager() || !envelopes.is_empty() => {
                let opened = if km.system.is_some() {
                    backend::open(km, &env, &envelopes)
                } else {
                    backend::open_envelopes(km, &env, &envelopes)
                };
                match opened {
                    Ok(manager) => manager,
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                }
            }
            _ => None,
        };
        if !errors.is_empty() {
            errors.sort_by(|a, b| a.location().cmp(&b.location()));
            return Err(Error::Config(errors));
        }
        let km = km.unwrap_or_default();
        Ok(Self {
            doc,
            discovery,
            km,
            env,
            manager,
            envelopes,
            options,
        })
    }

    /// End a run whose process exits next. The document and the references are left to the
    /// operating system: freeing 100,000 nodes and 10,000 references one by one only costs time
    /// (about 5 % of a 10,000-reference render), and neither holds a resolved value. Everything
    /// that does (the environment, the backends, the caller's resolution) is dropped as usual,
    /// which wipes it.
    pub fn finish(self) {
        let Self { doc, discovery, .. } = self;
        std::mem::forget(doc);
        std::mem::forget(discovery);
    }

    /// The unique names and their routes.
    pub fn plan(&self) -> Plan {
        let mut plan = Plan::new(&self.discovery.references, &self.km);
        plan.route_envelopes(&self.envelopes);
        plan
    }

    /// Resolve `plan` (values or existence).
    pub fn resolve(&self, plan: &Plan, purpose: Purpose) -> Resolution {
        let started = Instant::now();
        let resolution = block_on(resolve::resolve(
            plan,
            &self.env,
            self.manager.as_ref(),
            &self.options,
            purpose,
        ));
        tracing::info!(
            names = plan.names.len(),
            backend = %self.manager.as_ref().map_or_else(|| self.env.describe(), |m| m.describe()),
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

    /// Every name to export (referenced or hosted) with its value. Unresolved names are errors,
    /// or, with `allow_missing`, warnings for names that are simply absent.
    pub fn exported(&self, ui: Ui, allow_missing: bool) -> Result<Vec<(String, SecretValue)>, Error> {
        let mut plan = self.plan();
        plan.add_envelopes(&self.envelopes);
        let resolution = self.resolve(&plan, Purpose::Read);
        let errors = resolution.errors(&self.discovery.references, &self.km, &plan);
        // Encrypted variables no reference uses have no place in the config to point at: their
        // errors name the variable.
        let variables: Vec<VariableError> = plan
            .names
            .iter()
            .filter(|(_, p)| p.envelope)
            .filter_map(|(name, _)| match resolution.get(name) {
                Some(Err(cause)) => {
                    let variable = self.envelopes.source(name).unwrap_or(name).to_owned();
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
            .collect();
        if !variables.is_empty() {
            return Err(Error::Unresolved(errors, variables));
        }
        tolerate_missing(errors, ui, allow_missing, "left out")?;
        Ok(plan
            .names
            .keys()
            .filter_map(|name| match resolution.get(name) {
                Some(Ok(value)) => Some((name.clone(), value.clone())),
                _ => None,
            })
            .collect())
    }
}

/// With `allow_missing`, absent values become warnings (`what` says what happens to them);
/// any other failure is still an error.
pub(crate) fn tolerate_missing(
    errors: Vec<crate::error::ReferenceError>,
    ui: Ui,
    allow_missing: bool,
    what: &str,
) -> Result<(), Error> {
    if errors.is_empty() {
        return Ok(());
    }
    if !allow_missing || errors.iter().any(|e| !matches!(e.cause, KeyError::NotFound { .. })) {
        let errors = if allow_missing {
            errors
                .into_iter()
                .filter(|e| !matches!(e.cause, KeyError::NotFound { .. }))
                .collect()
        } else {
            errors
        };
        return Err(Error::Unresolved(errors, Vec::new()));
    }
    for e in &errors {
        ui.warn(format_args!("{e} ({what}: --allow-missing)"));
    }
    Ok(())
}

/// Write `text` to `output` atomically, or to stdout.
pub(crate) fn emit(output: Option<&Path>, text: &str) -> Result<(), Error> {
    use std::io::Write;
    if let Some(path) = output {
        return crate::render::output::write_atomic(path, text.as_bytes()).map_err(Error::Output);
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| {
            Error::Output(IoError {
                verb: "cannot write",
                path: "<stdout>".into(),
                source,
            })
        })
}
