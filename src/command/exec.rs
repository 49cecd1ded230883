//! `osenv exec`: replace osenv with the command, the values in its environment only
//! (`--watch`: supervise it instead, see [`super::watch`]).
//!
//! The command is the network-facing proxy: it gets the resolved values, not the credentials
//! osenv used to read them (the login material of [`osenv::provenance`]), unless a reference asks for one
//! or `--keep-credentials` says so.

use super::App;
use crate::cli::ExecArgs;
use osenv::Session;
use osenv::error::{Error, UsageError};
use osenv::provenance::{self, Exec};
use osenv::secret::SecretValue;
use std::collections::BTreeSet;

pub(super) fn run(args: &ExecArgs, app: &App) -> Result<(), Error> {
    if args.watch.watch {
        #[cfg(unix)]
        return super::watch::exec(args, app);
        #[cfg(not(unix))]
        return Err(UsageError::WatchUnsupported.into());
    }
    if args.mask {
        #[cfg(unix)]
        return super::watch::exec_masked(args, app);
        #[cfg(not(unix))]
        return Err(UsageError::WatchUnsupported.into());
    }
    let (command, program) = prepare(args, app, |_| Ok(()))?;
    Err(Error::Exec {
        program,
        source: replace_process(command),
    })
}

/// The command `exec` starts, and its program as messages name it: the config resolved, the
/// values in its environment, the withheld names and the login material out of it.
/// `inspect` sees the exported values first (`--mask` builds its masks from them); the
/// resolution and the session are dropped before the command runs.
pub(super) fn prepare(
    args: &ExecArgs,
    app: &App,
    inspect: impl FnOnce(&[(&str, &SecretValue)]) -> Result<(), Error>,
) -> Result<(std::process::Command, String), Error> {
    let (program, rest) = args.command.split_first().ok_or(UsageError::NoCommand)?;
    let session = super::load(&args.config)?;
    let resolution = super::exported(
        &session,
        app,
        args.allow_missing,
        &args.select,
        super::Consumer::Command(args),
    )?;
    let exports = resolution.exports();
    inspect(&exports)?;
    let removed = removed(&session, exports.iter().map(|(name, _)| *name), args);
    let mut command = std::process::Command::new(program);
    command.args(rest);
    apply(&mut command, exports, &removed, args);
    Ok((command, program.to_string_lossy().into_owned()))
}

/// The names to take out of the command's environment: the names `--only` or `--exclude`
/// leave out, and the manager's credentials unless a reference asks for one or
/// `--keep-credentials` says so (`exported`: the names the command gets values for).
pub(super) fn removed<'a>(
    session: &Session,
    exported: impl IntoIterator<Item = &'a str>,
    args: &ExecArgs,
) -> Vec<String> {
    let mut removed = super::withheld(session, &args.select);
    if !args.keep_credentials {
        let exported: BTreeSet<&str> = exported.into_iter().collect();
        // The one table says which variables are login material (`provenance::Exec`): what
        // osenv used for its manager, and what only osenv ever needs (GitHub's OIDC request).
        let used = session.system_used().map(osenv::settings::KeyManagementSystem::family);
        removed.extend(
            provenance::TABLE
                .iter()
                .filter(|s| match s.exec() {
                    Exec::Pass => false,
                    Exec::Withheld => true,
                    Exec::WithheldWhenUsed => used == Some(s.family()),
                })
                .map(|s| s.name())
                .filter(|name| !exported.contains(*name) && std::env::var_os(name).is_some())
                .map(str::to_owned),
        );
    }
    removed
}

/// Put the resolved values into `command`'s environment and take `removed` out of it; run it
/// as `--user`.
pub(super) fn apply<'a>(
    command: &mut std::process::Command,
    exports: impl IntoIterator<Item = (&'a str, &'a SecretValue)>,
    removed: &[String],
    args: &ExecArgs,
) {
    #[cfg(unix)]
    if let Some((uid, gid)) = args.user {
        // std's spawn drops the supplementary groups (setgroups(0)) when osenv is root, then
        // setgid, then setuid: nothing of osenv's identity reaches the command.
        use std::os::unix::process::CommandExt as _;
        command.uid(uid).gid(gid);
    }
    let mut exported = BTreeSet::new();
    for (name, value) in exports {
        command.env(name, value.expose());
        exported.insert(name);
    }
    let mut credentials = Vec::new();
    for name in removed {
        if !exported.contains(name.as_str()) {
            command.env_remove(name);
            if provenance::TABLE.iter().any(|s| s.name() == name) {
                credentials.push(name.as_str());
            }
        }
    }
    if !credentials.is_empty() {
        tracing::info!(
            "not passing {} to the command: login material osenv used or only osenv needs; --keep-credentials passes them",
            credentials.join(", "),
        );
    }
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
