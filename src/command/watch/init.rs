//! osenv as PID 1 (a container's entrypoint): the init process. PID 1 inherits every orphan in
//! its PID namespace and must reap them, which means waiting for any child, and a wait for any
//! child can take the status that a credential helper's own `wait` expects. So PID 1 does
//! nothing else: it starts osenv again as its only child (the same arguments; that one is not
//! PID 1 and runs the watch), passes every signal of the watch's table on to it, reaps whatever
//! exits, and ends with the watch's exit status. When it ends, the kernel ends everything left
//! in the namespace.

use super::signals;
use crate::command::App;
use rustix::process::{Pid, WaitOptions};

/// Whether this process is PID 1.
pub(crate) fn is_pid_1() -> bool {
    std::process::id() == 1
}

/// Run as init: the watch in a child, signals passed on, orphans reaped; its exit code.
pub(crate) fn run(app: &App) -> i32 {
    app.block_on(async {
        // Listening before the child starts, so no signal or exit is missed.
        let (mut forwarded, mut children) = match (signals::listen(), signals::children()) {
            (Ok(f), Ok(c)) => (f, c),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!("as PID 1: cannot listen for signals: {e}");
                return 1;
            }
        };
        let exe = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
        let child = match std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                tracing::error!("as PID 1: cannot start the watch: {e}");
                return 1;
            }
        };
        let watch = Pid::from_child(&child);
        // Reaped below, with everything else; never through `std::process::Child`.
        drop(child);
        tracing::debug!("PID 1: the watch runs as PID {}", watch.as_raw_nonzero().get());
        loop {
            tokio::select! {
                Some(signal) = forwarded.recv() => {
                    let _ = rustix::process::kill_process(watch, signal);
                }
                _ = children.recv() => {
                    if let Some(code) = reap(watch) {
                        return code;
                    }
                }
            }
        }
    })
}

/// Reap every child that has exited; the watch's exit code once it has.
#[allow(
    clippy::disallowed_methods,
    reason = "PID 1 is the one place that waits for any child"
)]
fn reap(watch: Pid) -> Option<i32> {
    let mut ended = None;
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some((pid, status))) => {
                if pid == watch {
                    ended = Some(
                        status
                            .exit_status()
                            .or_else(|| status.terminating_signal().map(|s| 128 + s))
                            .unwrap_or(1),
                    );
                } else {
                    tracing::debug!(pid = pid.as_raw_nonzero().get(), "reaped an orphan");
                }
            }
            // None: children remain, none has exited; ECHILD: none at all.
            Ok(None) | Err(_) => return ended,
        }
    }
}
