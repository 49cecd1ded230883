//! `osenv exec --watch`: osenv stays the command's parent. It starts the command with the
//! resolved values, forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it, reaps
//! it (and, as PID 1 in a container, every orphan that is re-parented to it), and exits with its
//! status (128 + the signal that killed it). Every interval it resolves every value again; when
//! one changed, and only once everything resolved, it waits a random part of half the interval,
//! stops the command (`--restart-signal`, then SIGKILL after `--grace`) and starts it with the
//! new values. A failed check keeps the command running on the values it has.

use super::App;
use super::watch::{self, Files, Schedule, Values};
use crate::cli::ExecArgs;
use osenv::Session;
use osenv::error::{Error, UsageError};
use rustix::process::{Pid, Signal, WaitOptions};
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

/// The signals passed on to the command, and whether each one ends the supervision (no restart
/// after it; osenv exits when the command does).
const FORWARDED: [(Signal, bool); 6] = [
    (Signal::TERM, true),
    (Signal::INT, true),
    (Signal::QUIT, true),
    (Signal::HUP, false),
    (Signal::USR1, false),
    (Signal::USR2, false),
];

fn kind(signal: Signal) -> SignalKind {
    SignalKind::from_raw(signal.as_raw())
}

/// The signal `--restart-signal` names.
fn restart_signal(name: &str) -> Signal {
    match name {
        "INT" => Signal::INT,
        "HUP" => Signal::HUP,
        "QUIT" => Signal::QUIT,
        "USR1" => Signal::USR1,
        "USR2" => Signal::USR2,
        _ => Signal::TERM,
    }
}

/// The supervised command.
struct Child {
    pid: Pid,
    /// Its wait status, once reaped.
    status: Option<rustix::process::WaitStatus>,
}

impl Child {
    fn signal(&self, signal: Signal) {
        if self.status.is_none() {
            let _ = rustix::process::kill_process(self.pid, signal);
        }
    }

    /// The exit code osenv ends with: the command's, or 128 + the signal that ended it.
    fn exit_code(&self) -> i32 {
        self.status
            .map_or(1, |status| code_of(status.exit_status(), status.terminating_signal()))
    }
}

/// The command's exit code, or 128 + the signal that ended it, as shells report it.
fn code_of(exit_status: Option<i32>, signal: Option<i32>) -> i32 {
    exit_status.or_else(|| signal.map(|s| 128 + s)).unwrap_or(1)
}

/// Reap every child that has exited (the command, and orphans when osenv is PID 1); record the
/// command's status.
fn reap(child: &mut Child) {
    loop {
        match rustix::process::waitpid(None, WaitOptions::NOHANG) {
            Ok(Some((pid, status))) => {
                if pid == child.pid {
                    child.status = Some(status);
                } else {
                    tracing::debug!(pid = pid.as_raw_nonzero().get(), "reaped an orphaned process");
                }
            }
            // None: children remain, none has exited; ECHILD: no children at all.
            Ok(None) | Err(_) => return,
        }
    }
}

/// Every signal stream osenv listens on while it supervises.
struct Signals {
    forwarded: Vec<(Signal, bool, tokio::signal::unix::Signal)>,
    child: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        let mut forwarded = Vec::new();
        for (sig, stops) in FORWARDED {
            forwarded.push((sig, stops, signal(kind(sig))?));
        }
        Ok(Self {
            forwarded,
            child: signal(SignalKind::child())?,
        })
    }

    /// The next event: a signal to forward (and whether it stops), a child's exit, or `wait`
    /// elapsing.
    async fn next(&mut self, until: Instant) -> Event {
        let forwarded = futures_util::future::select_all(
            self.forwarded
                .iter_mut()
                .map(|(sig, stops, stream)| Box::pin(async move { stream.recv().await.map(|()| (*sig, *stops)) })),
        );
        tokio::select! {
            (got, _, _) = forwarded => match got {
                Some((sig, stops)) => Event::Signal(sig, stops),
                None => Event::Tick,
            },
            _ = self.child.recv() => Event::Child,
            () = tokio::time::sleep_until(until) => Event::Tick,
        }
    }
}

enum Event {
    Signal(Signal, bool),
    Child,
    Tick,
}

/// The command as `exec` starts it: the values in its environment, the manager's credentials
/// removed unless kept.
fn spawn(args: &ExecArgs, session: &Session, values: &Values) -> Result<Child, Error> {
    let (program, rest) = args.command.split_first().ok_or(UsageError::NoCommand)?;
    let mut command = std::process::Command::new(program);
    command.args(rest);
    super::exec::prepare(&mut command, session, values.iter().map(|(n, v)| (n.as_str(), v)), args);
    let child = command.spawn().map_err(|source| Error::Exec {
        program: program.to_string_lossy().into_owned(),
        source,
    })?;
    let pid = Pid::from_child(&child);
    // Reaped with waitpid below, never through `std::process::Child`.
    drop(child);
    Ok(Child { pid, status: None })
}

pub(super) fn run(args: &ExecArgs, app: &App) -> Result<(), Error> {
    super::output::signals_handled_by_caller();
    let mut session = watch::load_held(&args.config)?;
    let code = app.block_on(async {
        // Listening before the command starts, so none of its signals or its exit is missed.
        let mut signals = Signals::new().map_err(|source| Error::Exec {
            program: "osenv".into(),
            source,
        })?;
        let values = match watch::exported_values(&session, app.ui, args.allow_missing, &args.select).await {
            Ok(values) => values,
            Err(e) => {
                session.release().await;
                return Err(e);
            }
        };
        let outcome = supervise(args, app, &mut session, &mut signals, values).await;
        session.release().await;
        outcome
    })?;
    drop(session);
    std::process::exit(code);
}

async fn supervise(
    args: &ExecArgs,
    app: &App,
    session: &mut Session,
    signals: &mut Signals,
    mut values: Values,
) -> Result<i32, Error> {
    let schedule = Schedule {
        interval: watch::interval(&args.watch, session),
    };
    let mut files = Files::of(&args.config, session);
    let mut child = spawn(args, session, &values)?;
    tracing::info!(
        "watching: the command runs as PID {}; checking every {}s (±10 %)",
        child.pid.as_raw_nonzero().get(),
        schedule.interval.as_secs()
    );
    let mut next_check = Instant::now() + schedule.next_check();
    // A resolved change, and when the command is restarted with it.
    let mut pending: Option<(Instant, Values)> = None;
    let mut stopping = false;
    loop {
        if child.status.is_some() {
            return Ok(child.exit_code());
        }
        let poll = Instant::now() + watch::FILE_POLL;
        let until = pending
            .as_ref()
            .map_or(next_check, |(at, _)| (*at).min(next_check))
            .min(poll);
        match signals.next(until).await {
            Event::Signal(sig, stops) => {
                child.signal(sig);
                stopping |= stops;
                if stops {
                    pending = None;
                }
            }
            Event::Child | Event::Tick => {}
        }
        reap(&mut child);
        if child.status.is_some() {
            return Ok(child.exit_code());
        }
        if stopping {
            continue;
        }
        if let Some((at, _)) = &pending
            && Instant::now() >= *at
        {
            let (_, new) = pending.take().expect("checked");
            let stopped = restart(args, &mut child, signals).await;
            if stopped {
                // A stop signal came while the command was being restarted: end with it.
                return Ok(child.exit_code());
            }
            child = spawn(args, session, &new)?;
            values = new;
            tracing::info!(
                "restarted the command with the new values (PID {})",
                child.pid.as_raw_nonzero().get()
            );
            continue;
        }
        let edited = files.changed();
        if !edited && Instant::now() < next_check {
            continue;
        }
        if edited {
            session.release().await;
            match watch::load_held(&args.config) {
                Ok(reloaded) => {
                    *session = reloaded;
                    files = Files::of(&args.config, session);
                }
                Err(e) => {
                    tracing::warn!(
                        "the config or an env file changed but cannot be read: {}; the command keeps running",
                        watch::summary(&e)
                    );
                    files.refresh();
                    continue;
                }
            }
        }
        next_check = Instant::now() + schedule.next_check();
        match check(args, app, session, &mut child, signals).await {
            Checked::Done(outcome) => note(outcome, &values, &mut pending, schedule),
            Checked::Stopping => {
                stopping = true;
                pending = None;
            }
            Checked::Exited => {}
        }
    }
}

/// What a check came to.
enum Checked {
    /// It ran to its end.
    Done(Result<Values, Error>),
    /// A stop signal came meanwhile (forwarded); the check was dropped.
    Stopping,
    /// The command exited meanwhile (reaped).
    Exited,
}

/// Resolve every value again, forwarding signals and reaping the command meanwhile (a check may
/// retry until its deadline during an outage; a SIGTERM must not wait for it).
async fn check(args: &ExecArgs, app: &App, session: &Session, child: &mut Child, signals: &mut Signals) -> Checked {
    let check = watch::exported_values(session, app.ui, args.allow_missing, &args.select);
    tokio::pin!(check);
    loop {
        tokio::select! {
            outcome = &mut check => return Checked::Done(outcome),
            event = signals.next(Instant::now() + watch::FILE_POLL) => match event {
                Event::Signal(sig, stops) => {
                    child.signal(sig);
                    if stops {
                        return Checked::Stopping;
                    }
                }
                Event::Child | Event::Tick => {
                    reap(child);
                    if child.status.is_some() {
                        return Checked::Exited;
                    }
                }
            },
        }
    }
}

/// Act on a check: a changed value schedules a restart after a random delay, the same values
/// cancel one, a failure is a warning and changes nothing.
fn note(outcome: Result<Values, Error>, values: &Values, pending: &mut Option<(Instant, Values)>, schedule: Schedule) {
    match outcome {
        Ok(new) if watch::same(&new, values) => {
            if pending.take().is_some() {
                tracing::info!("the values are back to what the command has; no restart");
            }
        }
        Ok(new) => {
            if pending.as_ref().is_none_or(|(_, p)| !watch::same(p, &new)) {
                let delay = schedule.restart_delay();
                tracing::info!(
                    "a secret changed; restarting the command in {:.1}s (a random part of half the interval)",
                    delay.as_secs_f64()
                );
                *pending = Some((Instant::now() + delay, new));
            }
        }
        Err(e) => tracing::warn!(
            "check failed: {}; the command keeps running on the values it has",
            watch::summary(&e)
        ),
    }
}

/// When a restart escalates to SIGKILL: once, when the grace period is over.
struct Grace {
    deadline: Instant,
    killed: bool,
}

impl Grace {
    fn new(grace: Duration) -> Self {
        Self {
            deadline: Instant::now() + grace,
            killed: false,
        }
    }

    /// When to look again: the deadline, then every 100 ms until the command is reaped.
    fn wake(&self) -> Instant {
        if self.killed {
            Instant::now() + Duration::from_millis(100)
        } else {
            self.deadline
        }
    }

    /// Whether SIGKILL is due now (`true` once).
    fn kill_due(&mut self) -> bool {
        if self.killed || Instant::now() < self.deadline {
            return false;
        }
        self.killed = true;
        true
    }
}

/// Stop the command for a restart: the restart signal, then SIGKILL after the grace period.
/// Signals that arrive meanwhile are forwarded; `true` when one of them asked osenv to stop.
async fn restart(args: &ExecArgs, child: &mut Child, signals: &mut Signals) -> bool {
    child.signal(restart_signal(&args.restart_signal));
    let mut grace = Grace::new(args.grace);
    let mut stopped = false;
    loop {
        reap(child);
        if child.status.is_some() {
            return stopped;
        }
        if let Event::Signal(sig, stops) = signals.next(grace.wake()).await {
            child.signal(sig);
            stopped |= stops;
        }
        if grace.kill_due() {
            tracing::warn!(
                "the command did not exit within {}s of SIG{}; killing it",
                args.grace.as_secs_f64(),
                args.restart_signal
            );
            child.signal(Signal::KILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sigkill_comes_once_when_the_grace_period_is_over() {
        let mut grace = Grace::new(Duration::from_secs(10));
        assert_eq!(grace.wake(), Instant::now() + Duration::from_secs(10));
        tokio::time::advance(Duration::from_millis(9_900)).await;
        assert!(!grace.kill_due());
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(grace.kill_due());
        assert!(!grace.kill_due(), "once");
        assert_eq!(grace.wake(), Instant::now() + Duration::from_millis(100));
    }

    #[test]
    fn exit_codes_are_the_commands_or_128_plus_its_signal() {
        assert_eq!(code_of(Some(7), None), 7);
        assert_eq!(code_of(None, Some(9)), 137);
        assert_eq!(code_of(None, None), 1);
    }
}
