//! `osenv exec`: replace osenv with the command, the values in its environment only
//! (`--watch`: supervise it instead, see [`super::supervise`]).
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
        return super::supervise::run(args, app);
        #[cfg(not(unix))]
        return Err(UsageError::WatchUnsupported.into());
    }
    let (program, rest) = args.command.split_first().ok_or(UsageError::NoCommand)?;
    let session = super::load(&args.config)?;
    let resolution = super::exported(&session, app, args.allow_missing, &args.select)?;
    let mut command = std::process::Command::new(program);
    command.args(rest);
    prepare(&mut command, &session, resolution.exports(), args);
    drop(resolution);
    drop(session);
    Err(Error::Exec {
        program: program.to_string_lossy().into_owned(),
        source: replace_process(command),
    })
}

/// Put the resolved values into `command`'s environment and take the manager's credentials
/// out of it, unless a reference asks for one or `--keep-credentials`; the names `--only` or
/// `--exclude` leave out are taken out too.
pub(super) fn prepare<'a>(
    command: &mut std::process::Command,
    session: &Session,
    exports: impl IntoIterator<Item = (&'a str, &'a SecretValue)>,
    args: &ExecArgs,
) {
    for name in super::withheld(session, &args.select) {
        command.env_remove(name);
    }
    #[cfg(unix)]
    if let Some((uid, gid)) = args.user {
        // std's spawn drops the supplementary groups (setgroups(0)) when osenv is root, then
        // setgid, then setuid: nothing of osenv's identity reaches the command.
        use std::os::unix::process::CommandExt as _;
        command.uid(uid).gid(gid);
    }
    let keep_credentials = args.keep_credentials;
    let mut exported = BTreeSet::new();
    for (name, value) in exports {
        command.env(name, value.expose());
        exported.insert(name.to_owned());
    }
    if !keep_credentials {
        // The one table says which variables are login material (`provenance::Exec`): what
        // osenv used for its manager, and what only osenv ever needs (GitHub's OIDC request).
        let used = session.system_used().map(osenv::settings::KeyManagementSystem::family);
        let removed: Vec<&str> = provenance::TABLE
            .iter()
            .filter(|s| match s.exec() {
                Exec::Pass => false,
                Exec::Withheld => true,
                Exec::WithheldWhenUsed => used == Some(s.family()),
            })
            .map(|s| s.name())
            .filter(|name| !exported.contains(*name) && std::env::var_os(name).is_some())
            .collect();
        for name in &removed {
            command.env_remove(name);
        }
        if !removed.is_empty() {
            tracing::info!(
                "not passing {} to the command: login material osenv used or only osenv needs; --keep-credentials passes them",
                removed.join(", "),
            );
        }
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
