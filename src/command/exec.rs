//! `osenv exec`: replace osenv with the command, the values in its environment only.

use super::App;
use crate::cli::ExecArgs;
use osenv::error::{Error, UsageError};

pub(super) fn run(args: &ExecArgs, app: &App) -> Result<(), Error> {
    let (program, rest) = args.command.split_first().ok_or(UsageError::NoCommand)?;
    let session = super::load(&args.config)?;
    let resolution = super::exported(&session, app, args.allow_missing)?;
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
