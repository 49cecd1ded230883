//! `osenv template`: render a minijinja template where `secret("NAME")` returns a value.
//!
//! Names are collected by rendering, resolved in one batch, and the template is rendered again;
//! a name first requested inside a branch that depends on another secret gets a further round
//! (bounded). Error messages have every resolved value scrubbed, since minijinja may quote a
//! value it could not convert.

use super::App;
use super::output::emit;
use crate::cli::TemplateArgs;
use minijinja::{ErrorKind, UndefinedBehavior};
use osenv::error::{Error, KeyError, UsageError, Within};
use osenv::input::{self, display_name, read_text};
use osenv::plan::Scope;
use osenv::render::env_format;
use osenv::resolve::Purpose;
use osenv::secret::SecretValue;
use osenv::{Document, Session};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

const MAX_ROUNDS: usize = 8;

type Known = BTreeMap<String, Result<SecretValue, KeyError>>;

pub(super) fn run(args: &TemplateArgs, app: &App) -> Result<(), Error> {
    if args.template == Path::new("-") && args.config.as_deref() == Some(Path::new("-")) {
        return Err(UsageError::BothStdin.into());
    }
    let limits = args.limits.limits()?;
    let env = Arc::new(input::environment(&args.env_files, args.trust.trust())?);
    // Without a config, a session of an empty one: every name comes from the environment.
    let doc = match &args.config {
        Some(path) => Document::parse(display_name(path), read_text(path)?),
        None => Document::parse("<no config>", "{}".to_owned()),
    }
    .map_err(Error::Config)?;
    let session = Session::new(doc, Arc::clone(&env))
        .map_err(Error::Config)?
        .with_limits(limits);
    let name = display_name(&args.template).to_string();
    let source = read_text(&args.template)?;

    let known: Arc<Mutex<Known>> = Arc::default();
    for _ in 0..MAX_ROUNDS {
        let requested: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let result = render_once(&name, &source, &known, &requested);
        let missing: Vec<String> = {
            let known = known.lock().expect("not poisoned");
            requested
                .lock()
                .expect("not poisoned")
                .iter()
                .filter(|n| !known.contains_key(*n))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            let text = result.map_err(|e| template_error(&name, &e, &known.lock().expect("not poisoned")))?;
            return emit(args.output.as_deref(), &text);
        }
        let resolution = app.block_on(session.resolve(session.plan(Scope::Names(&missing)), Purpose::Read));
        let mut known = known.lock().expect("not poisoned");
        for n in &missing {
            let value = resolution.get(n).cloned().unwrap_or_else(|| {
                Err(KeyError::NotFound {
                    within: Within::backend(env.describe()),
                })
            });
            known.insert(n.clone(), value);
        }
    }
    Err(Error::Template(format!(
        "{name}: secrets still requested after {MAX_ROUNDS} rounds of rendering"
    )))
}

fn render_once(
    name: &str,
    source: &str,
    known: &Arc<Mutex<Known>>,
    requested: &Arc<Mutex<BTreeSet<String>>>,
) -> Result<String, minijinja::Error> {
    let mut env = env_format::environment();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let known = Arc::clone(known);
    let requested = Arc::clone(requested);
    env.add_function("secret", move |secret: &str| -> Result<String, minijinja::Error> {
        match known.lock().expect("not poisoned").get(secret) {
            Some(Ok(value)) => Ok(value.expose().to_owned()),
            Some(Err(e)) => Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("cannot resolve secret `{secret}`: {e}"),
            )),
            None => {
                requested.lock().expect("not poisoned").insert(secret.to_owned());
                Ok(String::new())
            }
        }
    });
    env.add_template(name, source)?;
    env.get_template(name)?.render(())
}

/// `file:line: message`, with every resolved value scrubbed from the message.
fn template_error(name: &str, e: &minijinja::Error, known: &Known) -> Error {
    let mut message = e
        .detail()
        .map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind()));
    for value in known.values().flatten() {
        if value.expose().len() >= 4 {
            message = message.replace(value.expose(), "<redacted>");
        }
    }
    let line = e.line().map(|l| format!(":{l}")).unwrap_or_default();
    Error::Template(format!("{name}{line}: {message}"))
}
