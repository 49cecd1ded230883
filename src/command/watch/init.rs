//! osenv as PID 1 (a container's entrypoint): the init process. PID 1 inherits every orphan in
//! its PID namespace and must reap them, which means waiting for any child, and a wait for any
//! child can take the status that a credential helper's own `wait` expects. So PID 1 does
//! nothing else: it starts osenv again as its only child (the same arguments; that one is not
//! PID 1 and runs the watch), passes every signal of the watch's table on to it, reaps whatever
//! exits, and ends with the watch's exit status. When it ends, the kernel ends everything left
//! in the namespace.

use super::signals;
use crate::command::App;
use rustix::process::{Pid, Signal, WaitOptions};

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
        // A signal is passed on once the child has its handler for it: before that, its
        // default would end the child (a SIGHUP in the first milliseconds would not be a
        // "check now"). Until then it waits here, looked at every 10 ms.
        // At most HOLD: a child that never listens gets its signals anyway.
        let mut held: Vec<Signal> = Vec::new();
        let started = tokio::time::Instant::now();
        loop {
            tokio::select! {
                Some(signal) = forwarded.recv() => held.push(signal),
                _ = children.recv() => {
                    if let Some(code) = reap(watch) {
                        return code;
                    }
                }
                () = tokio::time::sleep(LOOK), if !held.is_empty() => {}
                // SIGCHLD tells of an exit; a look once a second as well, in case the runtime
                // that started osenv left SIGCHLD blocked.
                () = tokio::time::sleep(REAP_LOOK) => {
                    if let Some(code) = reap(watch) {
                        return code;
                    }
                }
            }
            if held.is_empty() {
                continue;
            }
            let caught = if started.elapsed() < HOLD { caught(watch) } else { None };
            held.retain(|signal| {
                let ready = caught.is_none_or(|mask| mask & (1 << (signal.as_raw() - 1)) != 0);
                if ready {
                    let _ = rustix::process::kill_process(watch, *signal);
                }
                !ready
            });
        }
    })
}

/// How often held signals are looked at, and for how long at most.
const LOOK: std::time::Duration = std::time::Duration::from_millis(10);
const HOLD: std::time::Duration = std::time::Duration::from_secs(5);
const REAP_LOOK: std::time::Duration = std::time::Duration::from_secs(1);

/// The signals the watch child (`watch`, its PID in osenv's namespace) has a handler for
/// (`SigCgt`); `None` when that cannot be read (the signal is then passed on at once). The
/// child is found among osenv's own children by its innermost PID (`NSpid`), since `/proc` may
/// be the host's, where it has another PID.
fn caught(watch: Pid) -> Option<u64> {
    let want = watch.as_raw_nonzero().get().to_string();
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    for task in tasks.flatten() {
        let Ok(children) = std::fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        for child in children.split_whitespace() {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{child}/status")) else {
                continue;
            };
            let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
            if field("NSpid:").and_then(|ids| ids.split_whitespace().last()) == Some(want.as_str()) {
                return field("SigCgt:").and_then(|hex| u64::from_str_radix(hex, 16).ok());
            }
        }
    }
    None
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
