//! The `osenv` application: one file per command, each taking validated arguments and
//! returning `Ok` or an [`Error`]; [`report`] turns an error into stderr lines and an exit code.

mod check;
mod encrypt;
mod env;
mod exec;
mod output;
mod render;
pub mod report;
mod template;
mod write;

use crate::cli::{Cli, Command};
use osenv::error::Error;
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
