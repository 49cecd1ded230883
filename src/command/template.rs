//! `osenv template`: render a minijinja template where `secret("NAME")` returns a value.
//!
//! Names are collected by rendering, resolved in one batch, and the template is rendered again;
//! a name first requested inside a branch that depends on another secret gets a further round
//! (bounded). Error messages have every resolved value scrubbed, since minijinja may quote a
//! value it could not convert.

use super::{Session, Ui, display_name, emit, load_environment, read_text};
use crate::cli::TemplateArgs;
use crate::error::{Error, KeyError};
use crate::render::env_format;
use crate::resolve::{self, Plan, Planned, Purpose, Route};
use crate::secret::SecretValue;
use crate::settings::KeyManagement;
use minijinja::{ErrorKind, UndefinedBehavior};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

const MAX_ROUNDS: usize = 8;

type Known = BTreeMap<String, Result<SecretValue, KeyError>>;

pub(super) fn run(args: &TemplateArgs, ui: Ui) -> Result<(), Error> {
    if args.template == Path::new("-") && args.config.as_deref() == Some(Path::new("-")) {
        return Err(Error::Usage("the template and the config cannot both be `-`".into()));
    }
    let options = args.limits.options()?;
    let env = Arc::new(load_environment(&args.env_files)?);
    let session = match &args.config {
        Some(path) => Some(Session::from_text(
            display_name(path),
            read_text(path)?,
            Arc::clone(&env),
            options.clone(),
        )?),
        None => None,
    };
    let km = session.as_ref().map(|s| s.km.clone()).unwrap_or_default();
    let manager = session.as_ref().and_then(|s| s.manager.clone());
    let envelopes = session.as_ref().map(|s| s.envelopes.clone()).unwrap_or_default();
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
            let _ = ui;
            return emit(args.output.as_deref(), &text);
        }
        let mut plan = plan_for(&missing, &km);
        plan.route_envelopes(&envelopes);
        let resolution = super::block_on(resolve::resolve(&plan, &env, manager.as_ref(), &options, Purpose::Read));
        let mut known = known.lock().expect("not poisoned");
        for n in missing {
            let value = resolution.get(&n).cloned().unwrap_or_else(|| {
                Err(KeyError::NotFound {
                    within: env.describe_backend(),
                })
            });
            known.insert(n, value);
        }
    }
    Err(Error::Template(format!(
        "{name}: secrets still requested after {MAX_ROUNDS} rounds of rendering"
    )))
}

fn plan_for(names: &[String], km: &KeyManagement) -> Plan {
    let names = names
        .iter()
        .map(|n| {
            let route = if km.routes_to_manager(n) {
                Route::Manager
            } else {
                Route::Environment
            };
            (
                n.clone(),
                Planned {
                    route,
                    hosted: false,
                    referenced: true,
                    envelope: false,
                },
            )
        })
        .collect();
    Plan { names }
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
