//! `osenv exec`: replace osenv with the command, the values in its environment only.

use super::App;
use super::report::tolerate_missing;
use crate::cli::ExecArgs;
use osenv::Session;
use osenv::error::{Error, UsageError};
use osenv::plan::Scope;
use osenv::resolve::Purpose;

pub(super) fn run(args: &ExecArgs, app: &App) -> Result<(), Error> {
    let (program, rest) = args.command.split_first().ok_or(UsageError::NoCommand)?;
    let session = Session::load(
        &args.config.config,
        &args.config.env_files,
        args.config.limits.limits()?,
    )?;
    let resolution = app.block_on(session.resolve(session.plan(Scope::Export(session.references())), Purpose::Read));
    let variables = resolution.variable_errors();
    if !variables.is_empty() {
        return Err(Error::Unresolved(resolution.errors(), variables));
    }
    tolerate_missing(resolution.errors(), app.ui, args.allow_missing, "left out")?;
    let mut command = std::process::Command::new(program);
    command.args(rest);
    for (name, value) in resolution.exports() {
        command.env(name, value.expose());
    }
    drop(resolution);
    drop(session);
    Err(Error::Exec {
        program: program.to_string_lossy().into_owned(),
        source: replace_process(command),
    })
}

/// Unix: `execvp`, so the command gets osenv's PID and its signals. Returns only on failure.
#[cfg(unix)]
fn replace_process(mut command: std::process::Command) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    command.exec()
}

/// Elsewhere: run the command as a child and exit with its status.
#[cfg(not(unix))]
fn replace_process(mut command: std::process::Command) -> std::io::Error {
    match command.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => e,
    }
}
