//! `osenv template`: render a minijinja template where `secret("NAME")` returns a value.
//!
//! Names are collected by rendering, resolved in one batch, and the template is rendered again;
//! a name first requested inside a branch that depends on another secret gets a further round
//! (bounded).
//!
//! A template is semi-trusted input, like a config: its run is bounded (fuel, recursion depth,
//! 16 MiB of output), and its errors never carry a value. minijinja's own detail is shown only
//! for kinds whose detail comes from the template's text (syntax, unknown names); for the others,
//! which may quote a runtime string (a value, or a value transformed by `|upper` or `|reverse`),
//! only the kind and line are shown. A secret that cannot be resolved is named as written in the
//! template (`secret("NAME")` on that line), never by the runtime string, which may itself be a
//! value (`secret(secret("A"))`).

use super::App;
use super::output::emit;
use crate::cli::TemplateArgs;
use minijinja::{ErrorKind, UndefinedBehavior};
use osenv::error::{Error, KeyError, TemplateError, TemplateProblem, UsageError, Within};
use osenv::input::{display_name, read_text};
use osenv::plan::Scope;
use osenv::render::env_format;
use osenv::resolve::Purpose;
use osenv::secret::SecretValue;
use osenv::{Document, Session};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

const MAX_ROUNDS: usize = 8;
/// minijinja fuel per render: about this many instructions, or 64 bytes of data each.
const FUEL: u64 = 2_000_000;
/// Nesting of loops, macros and calls.
const RECURSION_LIMIT: usize = 100;
/// The most a template may write, as for inputs.
const MAX_OUTPUT: usize = 16 << 20;

type Known = BTreeMap<String, Result<SecretValue, KeyError>>;

pub(super) fn run(args: &TemplateArgs, app: &App) -> Result<(), Error> {
    if args.template == Path::new("-") && args.config.as_deref() == Some(Path::new("-")) {
        return Err(UsageError::BothStdin.into());
    }
    let limits = args.limits.limits()?;
    let deadline = limits.deadline;
    let env = Arc::new(osenv::Environment::load(
        &args.env_files,
        args.trust.trust(),
        &args.secrets.dirs(),
        limits.deadline,
    )?);
    // Without a config, a session of an empty one: every name comes from the environment.
    let doc = match &args.config {
        Some(path) => Document::parse(display_name(path), read_text(path, limits.deadline)?),
        None => Document::parse("<no config>", "{}".to_owned()),
    }
    .map_err(Error::Config)?;
    let session = Session::new(doc, Arc::clone(&env))
        .map_err(Error::Config)?
        .with_limits(limits);
    let name = display_name(&args.template).to_string();
    let source = read_text(&args.template, deadline)?;
    let mut inputs: Vec<(std::path::PathBuf, String)> = Vec::new();
    if args.template.as_os_str() != "-" {
        inputs.push((
            args.template.clone(),
            format!("the template `{}`", args.template.display()),
        ));
    }
    if let Some(config) = args.config.as_ref().filter(|c| c.as_os_str() != "-") {
        inputs.push((config.clone(), format!("the config `{}`", config.display())));
    }
    for file in &args.env_files {
        inputs.push((file.clone(), format!("the env file `{}`", file.display())));
    }
    super::guard_output(args.output.as_deref(), &inputs, false)?;

    let known: Arc<Mutex<Known>> = Arc::default();
    for _ in 0..MAX_ROUNDS {
        let requested: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let failed: Arc<Mutex<Option<String>>> = Arc::default();
        let result = render_once(&name, &source, &known, &requested, &failed);
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
            let failed = failed.lock().expect("not poisoned").clone();
            let text = result.map_err(|e| {
                template_error(
                    &name,
                    &source,
                    &e,
                    failed.as_deref(),
                    &known.lock().expect("not poisoned"),
                )
            })?;
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
    Err(TemplateError {
        file: name,
        line: None,
        problem: TemplateProblem::Rounds(MAX_ROUNDS),
    }
    .into())
}

fn render_once(
    name: &str,
    source: &str,
    known: &Arc<Mutex<Known>>,
    requested: &Arc<Mutex<BTreeSet<String>>>,
    failed: &Arc<Mutex<Option<String>>>,
) -> Result<zeroize::Zeroizing<String>, minijinja::Error> {
    let mut env = env_format::environment();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    let known = Arc::clone(known);
    let requested = Arc::clone(requested);
    let failed = Arc::clone(failed);
    env.add_function("secret", move |secret: &str| -> Result<String, minijinja::Error> {
        match known.lock().expect("not poisoned").get(secret) {
            Some(Ok(value)) => Ok(value.expose().to_owned()),
            Some(Err(e)) => {
                // The name stays out of the message: it may be computed from a value.
                *failed.lock().expect("not poisoned") = Some(secret.to_owned());
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, e.to_string()))
            }
            None => {
                requested.lock().expect("not poisoned").insert(secret.to_owned());
                Ok(String::new())
            }
        }
    });
    env.add_template(name, source)?;
    let mut out = Capped(zeroize::Zeroizing::new(Vec::new()));
    env.get_template(name)?.render_captured_to((), &mut out)?;
    // The output holds values: wiped when dropped, as every buffer of it was.
    String::from_utf8(std::mem::take(&mut *out.0))
        .map(zeroize::Zeroizing::new)
        .map_err(|_| minijinja::Error::new(ErrorKind::WriteFailure, "the output is not UTF-8"))
}

/// The output, refused past [`MAX_OUTPUT`].
struct Capped(zeroize::Zeroizing<Vec<u8>>);

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_OUTPUT {
            return Err(std::io::Error::other("the output is larger than 16 MiB"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The `secret("…")` literals on `line` of `source`, as written.
fn literal_names(source: &str, line: usize) -> Vec<&str> {
    let Some(text) = line.checked_sub(1).and_then(|i| source.lines().nth(i)) else {
        return Vec::new();
    };
    text.match_indices("secret(")
        .filter_map(|(at, call)| {
            let rest = text[at + call.len()..].trim_start();
            let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            let body = &rest[1..];
            let end = body.find(quote)?;
            let name = &body[..end];
            (!name.contains('\\')).then_some(name)
        })
        .collect()
}

/// `file:line: message`, with nothing from the template's run that could be a value.
fn template_error(name: &str, source: &str, e: &minijinja::Error, failed: Option<&str>, known: &Known) -> Error {
    let kind = e.kind();
    let problem = if let (Some(secret), ErrorKind::InvalidOperation) = (failed, kind) {
        let reason = e.detail().unwrap_or_default().to_owned();
        match e.line().map(|l| literal_names(source, l)) {
            Some(names) if names.contains(&secret) => TemplateProblem::Secret {
                kind: kind.to_string(),
                name: secret.to_owned(),
                reason,
            },
            _ => TemplateProblem::ComputedSecret {
                kind: kind.to_string(),
                reason,
            },
        }
    } else if matches!(
        kind,
        ErrorKind::SyntaxError
            | ErrorKind::UnknownFilter
            | ErrorKind::UnknownTest
            | ErrorKind::UnknownFunction
            | ErrorKind::UnknownMethod
            | ErrorKind::UnknownBlock
            | ErrorKind::UndefinedError
            | ErrorKind::TooManyArguments
            | ErrorKind::MissingArgument
            | ErrorKind::OutOfFuel
            | ErrorKind::InvalidDelimiter
    ) {
        let mut message = e.detail().map_or_else(|| kind.to_string(), |d| format!("{kind}: {d}"));
        // Those details come from the template's text; scrub anyway, in case one quotes more.
        for value in known.values().flatten() {
            if value.expose().len() >= 4 {
                message = message.replace(value.expose(), "<redacted>");
            }
        }
        TemplateProblem::Text(message)
    } else if kind == ErrorKind::InvalidOperation && e.detail() == Some("recursion limit exceeded") {
        TemplateProblem::Recursion(kind.to_string())
    } else if kind == ErrorKind::WriteFailure {
        TemplateProblem::TooLarge(kind.to_string())
    } else {
        TemplateProblem::Hidden(kind.to_string())
    };
    TemplateError {
        file: name.to_owned(),
        line: e.line(),
        problem,
    }
    .into()
}
