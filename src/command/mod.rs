//! The `osenv` application: one file per command, each taking validated arguments and
//! returning `Ok` or an [`Error`]; [`report`] turns an error into stderr lines and an exit code.

mod check;
mod encrypt;
mod env;
mod exec;
mod output;
mod render;
pub mod report;
#[cfg(unix)]
mod supervise;
mod template;
mod watch;
mod write;

use crate::cli::{Cli, Command, ConfigArgs};
use osenv::Session;
use osenv::error::Error;
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
        Command::Encrypt(args) => encrypt::run(&args, app),
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

/// Everything LiteLLM would find in its environment (`env`, `exec`): the references, the
/// `hosted_keys` and the encrypted variables, resolved. An encrypted variable that does not
/// decrypt is always an error; with `allow_missing`, an absent value is a warning (`left out`).
fn exported<'a>(session: &'a Session, app: &App, allow_missing: bool) -> Result<Resolution<'a>, Error> {
    app.block_on(exported_async(session, app.ui, allow_missing))
}

/// [`exported`] inside the runtime (`exec --watch` resolves while it supervises).
async fn exported_async(session: &Session, ui: Ui, allow_missing: bool) -> Result<Resolution<'_>, Error> {
    let resolution = session
        .resolve(session.plan(Scope::Export(session.references())), Purpose::Read)
        .await;
    let variables = resolution.variable_errors();
    if !variables.is_empty() {
        return Err(Error::Unresolved(resolution.errors(), variables));
    }
    report::tolerate_missing(resolution.errors(), ui, allow_missing, "left out")?;
    Ok(resolution)
}
