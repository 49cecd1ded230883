//! The `osenv` application: one file per command, each taking validated arguments and
//! returning `Ok` or an [`Error`]; [`report`] turns an error into stderr lines and an exit code.

mod check;
mod encrypt;
mod env;
mod exec;
mod manual;
mod output;
mod policy;
mod render;
pub mod report;
mod template;
#[cfg(unix)]
mod watch;
mod write;

use crate::cli::{Cli, Command, ConfigArgs, SelectArgs};
use osenv::Session;
use osenv::boot::Proxy;
use osenv::error::{Error, ReferenceError, VariableError};
use osenv::plan::Scope;
use osenv::resolve::{Purpose, Resolution};
pub use report::Ui;

/// What every command shares for the length of the process: where warnings go, and the one
/// async runtime. The work is I/O-bound and concurrency comes from the backends' own request
/// fan-out, so a single-threaded runtime is enough; it is built once, so clients and their
/// pooled connections live for the whole run.
pub struct App {
    /// Where warnings go.
    pub ui: Ui,
    runtime: tokio::runtime::Runtime,
}

impl App {
    /// The application for one process.
    pub fn new(ui: Ui) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(Self { ui, runtime })
    }

    /// Run a future to completion on the process's runtime.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// Run the parsed command line.
pub fn run(cli: Cli, app: &App) -> Result<(), Error> {
    match cli.command {
        Command::Render(args) => render::run(&args, app),
        Command::Env(args) => env::run(&args, app),
        Command::Exec(args) => exec::run(&args, app),
        Command::Check(args) => check::run(&args, app),
        Command::Template(args) => template::run(&args, app),
        Command::Put(args) => write::put(&args, app),
        Command::Delete(args) => write::delete(&args, app),
        Command::Policy(args) => policy::run(&args),
        Command::Encrypt(args) => encrypt::run(&args, app),
        Command::Completions(args) => manual::completions(args.shell),
        Command::Man => manual::page(),
    }
}

/// Read, parse and set up the config a command names, under its limits.
fn load(args: &ConfigArgs) -> Result<Session, Error> {
    Session::load(
        &args.config,
        &args.env_files,
        &args.secrets.dirs(),
        args.trust.trust(),
        args.limits.limits()?,
    )
}

/// The files a run read from `config`: the config, its includes and the env files, each with
/// how messages name it (for `--watch` and the output guard).
fn inputs(config: &ConfigArgs, session: &Session) -> Vec<(std::path::PathBuf, String)> {
    let mut inputs: Vec<(std::path::PathBuf, String)> = Vec::new();
    if config.config.as_os_str() != "-" {
        inputs.push((
            config.config.clone(),
            format!("the config `{}`", config.config.display()),
        ));
    }
    for doc in session.sources().documents().iter().skip(1) {
        let path = std::path::PathBuf::from(&**doc.file());
        inputs.push((path.clone(), format!("the included file `{}`", path.display())));
    }
    for file in &config.env_files {
        inputs.push((file.clone(), format!("the env file `{}`", file.display())));
    }
    inputs
}

/// Refuse to write `output` over a file the run reads (by device and inode, so another
/// spelling of the path, a symlink or a hard link counts too): rendered over the config, its
/// references would be gone (nothing left to rotate or render again) and its secrets would sit
/// in a file that often lives in a repository, a volume or an image layer. `in_place` allows
/// the config itself: then the warning to give once it is written is returned.
fn guard_output(
    output: Option<&std::path::Path>,
    inputs: &[(std::path::PathBuf, String)],
    in_place: bool,
) -> Result<Option<String>, Error> {
    let Some(output) = output else { return Ok(None) };
    for (index, (path, what)) in inputs.iter().enumerate() {
        if !output::same_file(output, path) {
            continue;
        }
        let config = index == 0 && what.starts_with("the config");
        if config && in_place {
            return Ok(Some(format!(
                "--in-place: {what} now holds the values in place of its references; it cannot be rendered again or follow a rotation, and it keeps the secrets at rest (mode 0600)"
            )));
        }
        return Err(osenv::error::UsageError::OutputIsInput {
            output: output.to_owned(),
            input: what.clone(),
            why: if config {
                "writing the result over it replaces its references with their values (nothing left to rotate or render again, and the secrets in a file that is often in a repository, a volume or an image layer); write elsewhere, or pass --in-place (render) if that is what you want"
            } else {
                "writing the result over it would replace what the run reads; write elsewhere"
            },
        }
        .into());
    }
    Ok(None)
}

/// Who gets the exported values.
#[derive(Clone, Copy)]
enum Consumer<'a> {
    /// An env file for a proxy that runs elsewhere (`env`).
    EnvFile,
    /// The command `exec` starts, whose environment osenv knows exactly.
    Command(&'a crate::cli::ExecArgs),
}

/// Everything LiteLLM would find in its environment (`env`, `exec`): the references, the
/// `hosted_keys` and the encrypted variables, resolved, and LiteLLM's master-key verdict on
/// them ([`boot_check`]). An encrypted variable that does not decrypt is always an error; with
/// `allow_missing`, an absent value is a warning (`left out`).
fn exported<'a>(
    session: &'a Session,
    app: &App,
    allow_missing: bool,
    select: &SelectArgs,
    consumer: Consumer<'_>,
) -> Result<Resolution<'a>, Error> {
    app.block_on(exported_async(session, app.ui, allow_missing, select, consumer))
}

/// [`exported`] inside the runtime (`exec --watch` resolves while it supervises).
async fn exported_async<'a>(
    session: &'a Session,
    ui: Ui,
    allow_missing: bool,
    select: &SelectArgs,
    consumer: Consumer<'_>,
) -> Result<Resolution<'a>, Error> {
    let mut plan = session.plan(Scope::Export(session.references()));
    selected(&mut plan, select)?;
    let resolution = session.resolve(plan, Purpose::Read).await;
    let variables = resolution.variable_errors();
    if !variables.is_empty() {
        return Err(Error::Unresolved(resolution.errors(), variables));
    }
    let missing = report::failed(resolution.errors(), ui, allow_missing, "left out");
    let findings = match consumer {
        Consumer::EnvFile => {
            let values = |name: &str| resolution.get(name);
            osenv::boot::findings(
                session,
                &Proxy::Elsewhere {
                    values: &values,
                    missing_is_null: allow_missing,
                    reads_booleans: true,
                    exported: true,
                },
            )
        }
        Consumer::Command(args) => {
            let exports = resolution.exports();
            let removed = exec::removed(session, exports.iter().map(|(name, _)| *name), args);
            let exports = |name: &str| resolution.value(name);
            osenv::boot::findings(
                session,
                &Proxy::Child {
                    exports: &exports,
                    removed: &removed,
                    litellm: osenv::boot::is_litellm(&args.command),
                },
            )
        }
    };
    let (references, variables) = boot_check(&findings, ui);
    report::every_error(missing, references, variables)?;
    Ok(resolution)
}

/// LiteLLM's boot verdicts for a command that hands values on ([`osenv::boot::findings`]): a
/// refusal as an error to report (with any others of the run), an override or a command that
/// may not be LiteLLM as a warning; what is not known here is only logged (`check` reports it).
fn boot_check(findings: &[osenv::boot::Finding], ui: Ui) -> (Vec<ReferenceError>, Vec<VariableError>) {
    use osenv::boot::{At, Severity};
    for finding in findings {
        match finding.severity {
            Severity::Refused => {}
            Severity::Warning => match &finding.at {
                At::Reference { location, written } => {
                    ui.warn(format_args!("{location}: `{written}`: {}", finding.message));
                }
                At::Setting { location } => ui.warn(format_args!("{location}: {}", finding.message)),
                At::Variable { .. } | At::Nowhere => ui.warn(format_args!("{}", finding.message)),
            },
            Severity::Unknown => tracing::info!("{}", finding.message),
        }
    }
    osenv::boot::refusals(findings)
}

/// The names the config exports that `--only` / `--exclude` leave out: `exec` removes them
/// from the command's environment too, even where osenv's own environment has them.
fn withheld(session: &Session, select: &SelectArgs) -> Vec<String> {
    if select.only.is_empty() && select.exclude.is_empty() {
        return Vec::new();
    }
    let full = session.plan(Scope::Export(session.references()));
    let mut kept = full.clone();
    if selected(&mut kept, select).is_err() {
        return Vec::new();
    }
    full.names()
        .filter(|(name, _)| kept.get(name).is_none())
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// Narrow `plan` to `--only` or by `--exclude`; a name the config does not export is an
/// error (a typo must not silently export everything, or nothing).
fn selected(plan: &mut osenv::plan::Plan<'_>, select: &SelectArgs) -> Result<(), Error> {
    let (flag, names) = match (&select.only[..], &select.exclude[..]) {
        ([], []) => return Ok(()),
        (only, []) => ("only", only),
        (_, exclude) => ("exclude", exclude),
    };
    if let Some(unknown) = names.iter().find(|n| plan.get(n).is_none()) {
        let known: Vec<&str> = plan.names().map(|(n, _)| n).collect();
        return Err(osenv::error::UsageError::UnknownExport {
            flag,
            name: unknown.clone(),
            known: if known.len() <= 12 {
                known.join(", ")
            } else {
                format!("{} names, e.g. {}", known.len(), known[..12].join(", "))
            },
        }
        .into());
    }
    let listed: std::collections::BTreeSet<&str> = names.iter().map(String::as_str).collect();
    plan.retain(|name| listed.contains(name) == (flag == "only"));
    Ok(())
}

/// Test helpers of the binary.
#[cfg(test)]
pub(crate) mod test_support {
    /// Line `line`, column `column` of `file`: a location is only ever read off a text, so the
    /// tests make one to read it from.
    pub(crate) fn located(file: &str, line: usize, column: usize) -> osenv::location::Location {
        let text = format!("{}{}x", "\n".repeat(line - 1), " ".repeat(column - 1));
        osenv::location::LineIndex::new(file.into(), &text).locate(&text, text.len() - 1)
    }
}
