//! The checker: the thread that owns the watch's session (its backend clients and its login
//! token) and does everything that may block: reading the config and env files (again, when
//! one was edited), looking at them for edits, and resolving every value. The watch loop never
//! waits for it: a check that hangs on a file read or an unreachable service holds up neither
//! a signal nor the supervised command. On [`Request::Stop`] the check in flight is dropped and
//! the token revoked ([`osenv::Session::release`]), each bounded by the deadline.

use super::{FILE_POLL, Files, load_held};
use crate::cli::{ConfigArgs, WatchArgs};
use crate::command::{App, Ui};
use osenv::Session;
use osenv::error::Error;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// What the loop asks of the checker.
#[derive(Debug)]
pub(crate) enum Request {
    /// Check now; `reload`: read the config and env files again even if they look unchanged
    /// (SIGHUP: the operator says something changed).
    Check {
        reload: bool,
    },
    Stop,
}

/// What the checker tells the loop.
#[derive(Debug)]
pub(crate) enum Report<T> {
    Checked(Result<T, Error>),
    /// The config, an included file or an env file changed on disk since it was read.
    Edited,
    /// The check interval of the config just loaded.
    Interval(std::time::Duration),
}

/// The checker's loop, on the thread it owns, until [`Request::Stop`] (or the loop is gone).
/// `produce` makes what the watch keeps current out of the session.
pub(crate) fn run<T, P>(
    ui: Ui,
    config: &ConfigArgs,
    watch: &WatchArgs,
    produce: P,
    mut requests: UnboundedReceiver<Request>,
    reports: UnboundedSender<Report<T>>,
) where
    P: AsyncFn(&Session) -> Result<T, Error>,
{
    let app = match App::new(ui) {
        Ok(app) => app,
        Err(source) => {
            let _ = reports.send(Report::Checked(Err(Error::Exec {
                program: "osenv".into(),
                source,
            })));
            return;
        }
    };
    app.block_on(async move {
        let mut held: Option<(Session, Files)> = None;
        let mut edit_reported = false;
        loop {
            let request = tokio::select! {
                request = requests.recv() => request,
                () = tokio::time::sleep(FILE_POLL) => {
                    if !edit_reported && held.as_ref().is_some_and(|(_, files)| files.changed()) {
                        edit_reported = true;
                        let _ = reports.send(Report::Edited);
                    }
                    continue;
                }
            };
            let force = match request {
                None | Some(Request::Stop) => break,
                Some(Request::Check { reload }) => reload,
            };
            edit_reported = false;
            match reload(config, &mut held, force).await {
                Ok(false) => {}
                Ok(true) => {
                    if let Some((session, _)) = held.as_ref() {
                        let _ = reports.send(Report::Interval(super::interval(watch, session)));
                    }
                }
                Err(e) => {
                    let _ = reports.send(Report::Checked(Err(e)));
                    continue;
                }
            }
            let Some((session, _)) = held.as_ref() else { continue };
            let outcome = tokio::select! {
                outcome = produce(session) => outcome,
                request = requests.recv() => match request {
                    None | Some(Request::Stop) => break,
                    // The loop asks for one check at a time; a second one is the same check.
                    Some(Request::Check { .. }) => continue,
                },
            };
            if reports.send(Report::Checked(outcome)).is_err() {
                break;
            }
        }
        if let Some((session, _)) = held {
            session.release().await;
        }
    });
}

/// Load the config when nothing is held yet, one of its files changed, or `force`. A reload that fails
/// keeps the session it had (the error is this check's result, reported once per edit).
/// `true`: a config was (re)loaded.
async fn reload(config: &ConfigArgs, held: &mut Option<(Session, Files)>, force: bool) -> Result<bool, Error> {
    if let Some((_, files)) = held.as_ref()
        && !force
        && !files.changed()
    {
        return Ok(false);
    }
    match load_held(config) {
        Ok(session) => {
            let files = Files::of(config, &session);
            if let Some((old, _)) = held.replace((session, files)) {
                old.release().await;
            }
            Ok(true)
        }
        Err(e) => {
            if let Some((_, files)) = held.as_mut() {
                files.refresh();
                tracing::warn!("the config or an env file changed but cannot be read; the last one read stays in use");
            }
            Err(e)
        }
    }
}
