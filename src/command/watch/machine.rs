//! The one state machine of a watch, driven by `exec --watch` (a supervised command) and by
//! `render --watch` / `env --watch` (a kept file): what to do on each signal, check result,
//! process exit and timer, and when to wake next. It does no I/O: the driver performs its
//! actions and feeds it what happened, so every order of events can be tested with paused time.
//!
//! Its invariants, tested over random event sequences below:
//! - after any input at `now`, [`Machine::wake`] is `None` or later than `now` unless an action
//!   due `now` is still to be taken (so the driver never spins);
//! - at most one check is in flight, and none once the watch is stopping;
//! - at most one command runs: a new one is started only after the old one exited — except with
//!   `--listen`, where a new generation is prepared while the old one serves, and the old one
//!   is stopped only once the new one answers (never more than one of each);
//! - SIGKILL comes only once the grace period is over, and once;
//! - `exec` ends only after its command (and every generation) exited, with the command's status.

use super::schedule::{Schedule, later};
use super::signals::{self, Meaning};
use osenv::error::Error;
use rustix::process::Signal;
use std::time::Duration;
use tokio::time::Instant;

/// What a check produced, compared by content.
pub(crate) trait Snapshot: Clone {
    /// Whether `self` and `other` would give the command or file the same values.
    fn same(&self, other: &Self) -> bool;
}

/// What the watch keeps current.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// A supervised command, restarted with new values.
    Exec {
        /// How long it may take to exit after a signal before SIGKILL.
        grace: Duration,
        /// The signal that stops it for a restart.
        restart_signal: Signal,
        /// `--listen`: osenv owns the port and hands traffic to a generation once it answers.
        listen: Option<Listen>,
    },
    /// A file, rewritten on a change; then the hook, if there is one, with its timeout.
    Output { hook: Option<Duration> },
}

/// How `exec --watch --listen` hands traffic from one generation of the command to the next.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listen {
    /// Start the new generation while the old one serves (else: stop, then start).
    pub overlap: bool,
    /// How long a new generation has to answer its readiness probe.
    pub ready_timeout: Duration,
}

/// Which of the running generations (`--listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generation {
    /// The one serving (or about to, once it answers).
    Command,
    /// The next one, prepared while the command serves.
    Candidate,
}

/// What happened.
#[derive(Debug)]
pub(crate) enum Input<T> {
    Signal(Signal),
    /// A check ended.
    Checked(Result<T, Error>),
    /// The config or an env file was edited.
    Edited,
    /// The command exited, with this shell status (its code, or 128 + the signal).
    CommandExited(i32),
    HookExited,
    /// Starting the command failed.
    SpawnFailed(Error),
    /// The file was written.
    Written,
    /// Writing the file failed.
    WriteFailed(Error),
    /// The check interval of the config (re)loaded.
    Interval(Duration),
    /// A generation answered its readiness probe (`--listen`).
    Ready(Generation),
    /// The candidate exited before it was promoted, with this shell status.
    CandidateExited(i32),
    /// A retired generation (an old one draining, or a discarded candidate) exited.
    RetiredExited,
    /// Time passed.
    Tick,
}

/// What the driver is to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action<T> {
    /// Check every value; `reload`: read the files again too (SIGHUP).
    Check {
        reload: bool,
    },
    Spawn(T),
    Write(T),
    /// Send the command a signal.
    Signal(Signal),
    /// SIGKILL the command and everything in its process group.
    Kill,
    StartHook,
    /// SIGTERM the hook's process group.
    StopHook,
    /// SIGKILL the hook's process group.
    KillHook,
    /// Start a new generation with these values while the command keeps serving (`--listen`).
    Prepare(T),
    /// The candidate answered: route new connections to it, make it the command, and retire
    /// the old command (still running: connections routed to it a moment ago may not have been
    /// accepted yet).
    Promote,
    /// Send the retired generations the restart signal: they drain what they have in flight.
    Drain,
    /// Route new connections to the command (it answered).
    Serve,
    /// Accept no new connection for now (they wait in the listen queue).
    Hold,
    /// SIGKILL the candidate's process group; it is retired until it exited.
    Discard,
    /// SIGKILL every retired generation's process group.
    KillRetired,
}

/// How the watch ends.
#[derive(Debug)]
pub(crate) enum Ending {
    /// osenv's exit code.
    Code(i32),
    /// The first check (or starting the command, or writing the file) failed.
    Failed(Error),
}

/// Where the command (or the file) is.
#[derive(Debug)]
enum Phase<T> {
    /// The first check is in flight; nothing runs yet.
    Starting,
    Running,
    /// The restart signal was sent; `with` is started once the command exited.
    Restarting {
        kill_at: Option<Instant>,
        asked: Signal,
        with: T,
    },
    /// A stop was asked: the command (or the hook) is given until `kill_at`.
    Stopping {
        kill_at: Option<Instant>,
        asked: Signal,
    },
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// The next check is due then.
    Due(Instant),
    /// One is in flight; `urgent`: a change it finds is applied at once; `again`: another is
    /// to follow (and whether it is urgent).
    Running { urgent: bool, again: Option<bool> },
    /// No more checks (stopping).
    Off,
}

#[derive(Debug, Default)]
struct Hook {
    running: bool,
    kill_at: Option<Instant>,
    /// A change came while it ran: run it again when it ends.
    again: bool,
}

/// The watch's state.
#[derive(Debug)]
pub(crate) struct Machine<T> {
    mode: Mode,
    schedule: Schedule,
    phase: Phase<T>,
    checks: Checks,
    /// What the command runs with, or the file holds (`None` before the first, or after a
    /// failed write).
    applied: Option<T>,
    /// A change to restart with, and when.
    pending: Option<(Instant, T)>,
    hook: Hook,
    /// The first spawn or write was just asked for: a failure of it ends the watch.
    first: bool,
    ending: Option<Ending>,
    /// `--listen`: the command was started and has not answered yet; given until then.
    unready: Option<Instant>,
    /// `--listen`: the next generation, prepared with these values, given until then to answer.
    candidate: Option<(T, Instant)>,
    /// `--listen`: how many retired generations are still running, and when they get SIGKILL.
    retired: (usize, Option<Instant>),
    /// `--listen`: when the generation just retired is sent the restart signal.
    drain_at: Option<Instant>,
    /// The command's status, once it exited while other generations still ran.
    exit: Option<i32>,
    /// Why the watch is stopping, when it is a failure.
    failure: Option<Error>,
}

/// `--listen`: how long the old generation keeps running after the switch before it is asked
/// to drain. A connection forwarded to it just before may still wait in its accept queue, and
/// a server that closes its listening socket at once on SIGTERM (Go's `Shutdown`, gunicorn,
/// Python's `socketserver`) would reset it.
const SETTLE: Duration = Duration::from_secs(1);

/// How long a hook has to end after SIGTERM when the watch stops, before SIGKILL.
const HOOK_STOP_GRACE: Duration = Duration::from_secs(2);

impl<T: Snapshot> Machine<T> {
    /// A watch that starts with its first check (the first action).
    pub fn new(mode: Mode, schedule: Schedule) -> (Self, Vec<Action<T>>) {
        let machine = Self {
            mode,
            schedule,
            phase: Phase::Starting,
            checks: Checks::Running {
                urgent: true,
                again: None,
            },
            applied: None,
            pending: None,
            hook: Hook::default(),
            first: false,
            ending: None,
            unready: None,
            candidate: None,
            retired: (0, None),
            drain_at: None,
            exit: None,
            failure: None,
        };
        (machine, vec![Action::Check { reload: false }])
    }

    /// How the watch ended, once it has.
    pub fn take_ending(&mut self) -> Option<Ending> {
        self.ending.take()
    }

    /// Whether the watch has ended.
    pub fn done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// When to come back with [`Input::Tick`] if nothing else happens first.
    pub fn wake(&self) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        };
        match &self.phase {
            Phase::Running => {
                consider(self.check_due());
                if self.may_hand_off() {
                    consider(self.pending.as_ref().map(|(t, _)| *t));
                }
            }
            Phase::Restarting { kill_at, .. } => {
                consider(self.check_due());
                consider(*kill_at);
            }
            Phase::Stopping { kill_at, .. } => consider(*kill_at),
            Phase::Starting | Phase::Done => {}
        }
        if !self.done() {
            consider(self.hook.kill_at);
            consider(self.unready);
            consider(self.candidate.as_ref().map(|(_, at)| *at));
            consider(self.retired.1);
            consider(self.drain_at);
        }
        at
    }

    fn listen(&self) -> Option<Listen> {
        match self.mode {
            Mode::Exec { listen, .. } => listen,
            Mode::Output { .. } => None,
        }
    }

    /// Whether a pending change may be applied now: with an overlapping hand-off, only once
    /// the command answered and no other generation runs (at most one of each).
    fn may_hand_off(&self) -> bool {
        match self.listen() {
            Some(Listen { overlap: true, .. }) => {
                self.unready.is_none() && self.candidate.is_none() && self.retired.0 == 0
            }
            _ => true,
        }
    }

    /// The command was just started: with `--listen` it serves once it answers.
    fn started(&mut self, now: Instant) {
        if let Some(listen) = self.listen() {
            self.unready = Some(later(now, listen.ready_timeout));
        }
    }

    /// Stopping, and nothing runs any more: the watch ends.
    fn settle(&mut self) {
        if matches!(self.phase, Phase::Stopping { .. })
            && self.candidate.is_none()
            && self.retired.0 == 0
            && let Some(code) = self.exit
        {
            let ending = match self.failure.take() {
                Some(e) => Ending::Failed(e),
                None => Ending::Code(code),
            };
            self.end(ending);
        }
    }

    fn check_due(&self) -> Option<Instant> {
        match self.checks {
            Checks::Due(at) => Some(at),
            Checks::Running { .. } | Checks::Off => None,
        }
    }

    fn exec(&self) -> bool {
        matches!(self.mode, Mode::Exec { .. })
    }

    fn end(&mut self, ending: Ending) {
        self.phase = Phase::Done;
        self.checks = Checks::Off;
        self.pending = None;
        self.unready = None;
        self.ending = Some(ending);
    }

    /// Take in what happened at `now`; the actions to perform, in order.
    pub fn on(&mut self, input: Input<T>, now: Instant) -> Vec<Action<T>> {
        let mut actions = Vec::new();
        if self.done() {
            return actions;
        }
        // The driver reports a failed first write right after performing it, before anything else.
        let first = std::mem::take(&mut self.first);
        match input {
            Input::Signal(signal) => self.on_signal(signal, now, &mut actions),
            Input::Checked(outcome) => self.on_checked(outcome, now, &mut actions),
            Input::Edited => self.check_now(false, &mut actions),
            Input::CommandExited(code) => self.on_command_exit(code, now, &mut actions),
            Input::HookExited => {
                self.hook.running = false;
                self.hook.kill_at = None;
                if matches!(self.phase, Phase::Stopping { .. }) && !self.exec() {
                    self.end(Ending::Code(0));
                } else if std::mem::take(&mut self.hook.again) {
                    self.start_hook(now, &mut actions);
                }
            }
            Input::SpawnFailed(e) => {
                // Nothing runs: a stop that came meanwhile has nothing left to wait for.
                self.end(Ending::Failed(e));
            }
            Input::Written => {
                // Not after the first write: the hook is for changes.
                if !first && !matches!(self.phase, Phase::Stopping { .. }) {
                    if self.hook.running {
                        self.hook.again = true;
                    } else {
                        self.start_hook(now, &mut actions);
                    }
                }
            }
            Input::WriteFailed(e) => {
                if first {
                    self.end(Ending::Failed(e));
                } else {
                    tracing::warn!("{}; the next check writes it again", super::summary(&e));
                    self.applied = None;
                }
            }
            Input::Interval(interval) => self.schedule.interval = interval,
            Input::Ready(generation) => self.on_ready(generation, now, &mut actions),
            Input::CandidateExited(code) => {
                if self.candidate.take().is_some() && !matches!(self.phase, Phase::Stopping { .. }) {
                    tracing::warn!(
                        "the new generation exited ({code}) before it answered; the command keeps serving on the values it has, and the next check tries again"
                    );
                }
                self.settle();
            }
            Input::RetiredExited => {
                self.retired.0 = self.retired.0.saturating_sub(1);
                if self.retired.0 == 0 {
                    self.retired.1 = None;
                    self.drain_at = None;
                }
                self.settle();
            }
            Input::Tick => self.on_tick(now, &mut actions),
        }
        actions
    }

    fn on_ready(&mut self, generation: Generation, now: Instant, actions: &mut Vec<Action<T>>) {
        match generation {
            Generation::Command => {
                if self.unready.take().is_some() && matches!(self.phase, Phase::Running) {
                    tracing::info!("the command answers; new connections go to it");
                    actions.push(Action::Serve);
                }
            }
            Generation::Candidate => {
                if !matches!(self.phase, Phase::Running) {
                    return;
                }
                let (
                    Some((with, _)),
                    Mode::Exec {
                        grace, restart_signal, ..
                    },
                ) = (self.candidate.take(), self.mode)
                else {
                    return;
                };
                tracing::info!(
                    "the new generation answers; new connections go to it, the old one drains (SIG{} in {}s, then {}s)",
                    signals::name(restart_signal),
                    SETTLE.as_secs_f64(),
                    grace.as_secs_f64()
                );
                actions.push(Action::Promote);
                self.retired.0 += 1;
                self.drain_at = Some(later(now, SETTLE));
                if self.pending.as_ref().is_some_and(|(_, p)| p.same(&with)) {
                    self.pending = None;
                }
                self.applied = Some(with);
            }
        }
    }

    fn on_signal(&mut self, signal: Signal, now: Instant, actions: &mut Vec<Action<T>>) {
        let Some(meaning) = signals::meaning(signal) else {
            return;
        };
        match meaning {
            Meaning::Stop(forward) => self.stop(signal, forward, now, actions),
            Meaning::CheckNow => {
                tracing::info!("SIG{}: checking now", signals::name(signal));
                self.check_now(true, actions);
            }
            Meaning::Forward => {
                if self.exec()
                    && matches!(
                        self.phase,
                        Phase::Running | Phase::Restarting { .. } | Phase::Stopping { .. }
                    )
                {
                    actions.push(Action::Signal(signal));
                } else {
                    tracing::info!(
                        "SIG{} ignored: there is no command to pass it to",
                        signals::name(signal)
                    );
                }
            }
        }
    }

    fn stop(&mut self, signal: Signal, forward: Signal, now: Instant, actions: &mut Vec<Action<T>>) {
        tracing::info!("SIG{}: stopping", signals::name(signal));
        self.checks = Checks::Off;
        self.pending = None;
        self.unready = None;
        match (&self.phase, self.mode) {
            (Phase::Starting, Mode::Exec { .. }) => self.end(Ending::Code(128 + signal.as_raw())),
            (Phase::Running | Phase::Restarting { .. }, Mode::Exec { .. }) => self.halt(forward, now, actions),
            (Phase::Stopping { .. }, Mode::Exec { .. }) => actions.push(Action::Signal(forward)),
            (Phase::Stopping { .. }, Mode::Output { .. }) => {
                // Asked again: the hook is not waited for any longer.
                if self.hook.running {
                    actions.push(Action::KillHook);
                    self.hook.kill_at = None;
                }
            }
            (_, Mode::Output { .. }) => {
                if self.hook.running {
                    actions.push(Action::StopHook);
                    let deadline = later(now, HOOK_STOP_GRACE);
                    self.hook.kill_at = Some(self.hook.kill_at.map_or(deadline, |k| k.min(deadline)));
                    self.hook.again = false;
                    self.phase = Phase::Stopping {
                        kill_at: None,
                        asked: Signal::TERM,
                    };
                } else {
                    self.end(Ending::Code(0));
                }
            }
            (Phase::Done, _) => {}
        }
    }

    /// Stop every generation of the command: `forward` to each, then SIGKILL to a candidate (it
    /// serves nothing), and to all once the grace period is over.
    fn halt(&mut self, forward: Signal, now: Instant, actions: &mut Vec<Action<T>>) {
        let Mode::Exec { grace, .. } = self.mode else {
            return;
        };
        self.checks = Checks::Off;
        self.pending = None;
        self.unready = None;
        self.drain_at = None;
        actions.push(Action::Signal(forward));
        self.discard(actions);
        let deadline = later(now, grace);
        let kill_at = match &self.phase {
            Phase::Restarting { kill_at, .. } => kill_at.map(|k| k.min(deadline)),
            _ => Some(deadline),
        };
        self.phase = Phase::Stopping {
            kill_at,
            asked: forward,
        };
    }

    /// SIGKILL the candidate, if there is one; it is retired until it exited.
    fn discard(&mut self, actions: &mut Vec<Action<T>>) {
        if self.candidate.take().is_some() {
            actions.push(Action::Discard);
            self.retired.0 += 1;
        }
    }

    /// Check now (SIGHUP, `urgent`, or an edited file), or right after the check in flight.
    fn check_now(&mut self, urgent: bool, actions: &mut Vec<Action<T>>) {
        match (&self.phase, self.checks) {
            (Phase::Running | Phase::Restarting { .. }, Checks::Due(_)) => {
                actions.push(Action::Check { reload: urgent });
                self.checks = Checks::Running { urgent, again: None };
            }
            (Phase::Running | Phase::Restarting { .. }, Checks::Running { urgent: u, again }) => {
                self.checks = Checks::Running {
                    urgent: u,
                    again: Some(again.unwrap_or(false) || urgent),
                };
            }
            _ => {}
        }
    }

    fn on_checked(&mut self, outcome: Result<T, Error>, now: Instant, actions: &mut Vec<Action<T>>) {
        let Checks::Running { urgent, again } = self.checks else {
            // Stopping: a late result is dropped.
            return;
        };
        match (outcome, &mut self.phase) {
            (Err(e), Phase::Starting) => return self.end(Ending::Failed(e)),
            (Ok(first), Phase::Starting) => {
                tracing::info!(
                    "watching: checking every {}s (±10 %), and now on SIGHUP",
                    self.schedule.interval.as_secs()
                );
                self.phase = Phase::Running;
                self.first = true;
                actions.push(if self.exec() {
                    self.started(now);
                    Action::Spawn(first.clone())
                } else {
                    Action::Write(first.clone())
                });
                self.applied = Some(first);
            }
            (Err(e), _) => tracing::warn!(
                "check failed: {}; {}",
                super::summary(&e),
                if self.exec() {
                    "the command keeps running on the values it has"
                } else {
                    "the file keeps its last contents"
                }
            ),
            (Ok(new), Phase::Restarting { with, .. }) => {
                if !new.same(with) {
                    *with = new;
                }
            }
            (Ok(new), Phase::Running) => self.changed(new, urgent, now, actions),
            (Ok(_), Phase::Stopping { .. } | Phase::Done) => {}
        }
        self.checks = match again {
            Some(urgent) => {
                actions.push(Action::Check { reload: urgent });
                Checks::Running { urgent, again: None }
            }
            None => Checks::Due(later(now, self.schedule.next_check())),
        };
    }

    /// A check resolved everything: act on a change.
    fn changed(&mut self, new: T, urgent: bool, now: Instant, actions: &mut Vec<Action<T>>) {
        if self.candidate.as_ref().is_some_and(|(c, _)| !c.same(&new)) {
            // Its values are no longer the current ones: it must not be promoted.
            tracing::info!("the values changed again; the new generation is stopped before it serves");
            self.discard(actions);
        }
        if self.applied.as_ref().is_some_and(|a| a.same(&new)) {
            if self.pending.take().is_some() {
                tracing::info!("the values are back to what the command has; no restart");
            } else {
                tracing::debug!("no change");
            }
            return;
        }
        if self.candidate.as_ref().is_some_and(|(c, _)| c.same(&new)) {
            // The generation being prepared has these values already.
            self.pending = None;
            return;
        }
        if !self.exec() {
            // The hook follows once the write succeeded (`Input::Written`).
            actions.push(Action::Write(new.clone()));
            self.applied = Some(new);
            return;
        }
        let delay = if urgent {
            Duration::ZERO
        } else {
            self.schedule.restart_delay()
        };
        match &mut self.pending {
            Some((at, pending)) if pending.same(&new) => {
                if urgent {
                    *at = now;
                }
            }
            _ => {
                // A newer change keeps the time drawn for the one it replaces, if earlier: edits
                // in a row never push a restart back.
                let drawn = later(now, delay);
                let at = self.pending.as_ref().map_or(drawn, |(earlier, _)| drawn.min(*earlier));
                let waits = if self.may_hand_off() {
                    ""
                } else {
                    " (once the previous generation is gone)"
                };
                if at <= now {
                    tracing::info!("a secret changed; restarting the command now{waits}");
                } else {
                    tracing::info!(
                        "a secret changed; restarting the command in {:.1}s (a random part of half the interval){waits}",
                        at.duration_since(now).as_secs_f64()
                    );
                }
                self.pending = Some((at, new));
            }
        }
    }

    fn start_hook(&mut self, now: Instant, actions: &mut Vec<Action<T>>) {
        if let Mode::Output { hook: Some(timeout) } = self.mode {
            actions.push(Action::StartHook);
            self.hook = Hook {
                running: true,
                kill_at: Some(later(now, timeout)),
                again: false,
            };
        }
    }

    fn on_command_exit(&mut self, code: i32, now: Instant, actions: &mut Vec<Action<T>>) {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Restarting { with, .. } => {
                actions.push(Action::Spawn(with.clone()));
                self.started(now);
                self.applied = Some(with);
                self.pending = None;
                self.phase = Phase::Running;
                if self.checks == Checks::Off {
                    self.checks = Checks::Due(later(now, self.schedule.next_check()));
                }
            }
            Phase::Running if self.candidate.is_none() && self.retired.0 == 0 => {
                tracing::info!("the command exited ({code}); osenv exits with its status");
                self.end(Ending::Code(code));
            }
            Phase::Running => {
                tracing::info!(
                    "the command exited ({code}); osenv ends its other generations and exits with its status"
                );
                self.checks = Checks::Off;
                self.pending = None;
                self.unready = None;
                self.discard(actions);
                actions.push(Action::KillRetired);
                self.retired.1 = None;
                self.drain_at = None;
                self.exit = Some(code);
                self.phase = Phase::Stopping {
                    kill_at: None,
                    asked: Signal::KILL,
                };
            }
            phase @ Phase::Stopping { .. } => {
                self.phase = phase;
                self.exit = Some(code);
                self.settle();
            }
            phase @ (Phase::Starting | Phase::Done) => self.phase = phase,
        }
    }

    /// `--listen`'s timers: the drain after a switch, SIGKILL to a retired generation, a
    /// candidate or a first generation that did not answer in time. Whether the watch is now
    /// stopping.
    fn generations_due(&mut self, grace: Duration, now: Instant, actions: &mut Vec<Action<T>>) -> bool {
        let due = |at: Option<Instant>| at.is_some_and(|at| now >= at);
        if due(self.drain_at) {
            self.drain_at = None;
            actions.push(Action::Drain);
            self.retired.1 = Some(later(now, grace));
        }
        if due(self.retired.1) {
            self.retired.1 = None;
            tracing::warn!(
                "the old generation did not exit within {}s; killing it",
                grace.as_secs_f64()
            );
            actions.push(Action::KillRetired);
        }
        if due(self.candidate.as_ref().map(|(_, at)| *at)) {
            tracing::warn!(
                "the new generation did not answer within {}s (--ready-timeout); it is stopped, the command keeps serving on the values it has, and the next check tries again",
                self.listen().map_or(0.0, |l| l.ready_timeout.as_secs_f64())
            );
            self.discard(actions);
        }
        if due(self.unready) {
            let seconds = self.listen().map_or(0, |l| l.ready_timeout.as_secs());
            self.unready = None;
            tracing::error!("the command did not answer within {seconds}s (--ready-timeout); stopping");
            self.failure = Some(Error::NotReady { seconds });
            self.halt(Signal::TERM, now, actions);
            return true;
        }
        false
    }

    fn on_tick(&mut self, now: Instant, actions: &mut Vec<Action<T>>) {
        if let Some(at) = self.hook.kill_at
            && now >= at
        {
            self.hook.kill_at = None;
            if let Mode::Output { hook: Some(timeout) } = self.mode
                && !matches!(self.phase, Phase::Stopping { .. })
            {
                tracing::warn!(
                    "--on-change command did not end within {}s; killed",
                    timeout.as_secs_f64()
                );
            }
            actions.push(Action::KillHook);
        }
        let grace = match self.mode {
            Mode::Exec { grace, .. } => grace,
            Mode::Output { .. } => Duration::ZERO,
        };
        if self.generations_due(grace, now, actions) {
            return;
        }
        match &mut self.phase {
            Phase::Restarting { kill_at, asked, .. } | Phase::Stopping { kill_at, asked }
                if kill_at.is_some_and(|k| now >= k) =>
            {
                *kill_at = None;
                tracing::warn!(
                    "the command did not exit within {}s of SIG{}; killing it",
                    grace.as_secs_f64(),
                    signals::name(*asked)
                );
                actions.push(Action::Kill);
            }
            _ => {}
        }
        if matches!(self.phase, Phase::Running | Phase::Restarting { .. })
            && let Checks::Due(at) = self.checks
            && now >= at
        {
            actions.push(Action::Check { reload: false });
            self.checks = Checks::Running {
                urgent: false,
                again: None,
            };
        }
        if matches!(self.phase, Phase::Running)
            && let Mode::Exec {
                grace,
                restart_signal,
                listen,
            } = self.mode
            && self.may_hand_off()
            && self.pending.as_ref().is_some_and(|(at, _)| now >= *at)
        {
            let (_, with) = self.pending.take().expect("checked");
            if let Some(Listen {
                overlap: true,
                ready_timeout,
            }) = listen
            {
                actions.push(Action::Prepare(with.clone()));
                self.candidate = Some((with, later(now, ready_timeout)));
                return;
            }
            if listen.is_some() {
                actions.push(Action::Hold);
            }
            actions.push(Action::Signal(restart_signal));
            self.phase = Phase::Restarting {
                kill_at: Some(later(now, grace)),
                asked: restart_signal,
                with,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct V(u32);

    impl Snapshot for V {
        fn same(&self, other: &Self) -> bool {
            self == other
        }
    }

    const GRACE: Duration = Duration::from_secs(10);
    const CHECK: Action<V> = Action::Check { reload: false };
    const RELOAD: Action<V> = Action::Check { reload: true };

    fn exec() -> (Machine<V>, Vec<Action<V>>) {
        exec_with(None)
    }

    const READY: Duration = Duration::from_secs(20);

    fn listening(overlap: bool) -> (Machine<V>, Vec<Action<V>>) {
        exec_with(Some(Listen {
            overlap,
            ready_timeout: READY,
        }))
    }

    fn exec_with(listen: Option<Listen>) -> (Machine<V>, Vec<Action<V>>) {
        Machine::new(
            Mode::Exec {
                grace: GRACE,
                restart_signal: Signal::TERM,
                listen,
            },
            Schedule {
                interval: Duration::from_mins(1),
            },
        )
    }

    fn output(hook: bool) -> (Machine<V>, Vec<Action<V>>) {
        Machine::new(
            Mode::Output {
                hook: hook.then_some(Duration::from_secs(30)),
            },
            Schedule {
                interval: Duration::from_mins(1),
            },
        )
    }

    fn failure() -> Error {
        osenv::error::UsageError::NoCommand.into()
    }

    /// Advance paused time to the machine's next wake-up and tick it.
    async fn tick(m: &mut Machine<V>) -> Vec<Action<V>> {
        let at = m.wake().expect("a wake-up");
        tokio::time::sleep_until(at).await;
        m.on(Input::Tick, Instant::now())
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_restarts_the_command_after_the_spread_delay_and_only_once_it_exited() {
        let (mut m, first) = exec();
        assert_eq!(first, [CHECK]);
        assert_eq!(m.on(Input::Checked(Ok(V(1))), Instant::now()), [Action::Spawn(V(1))]);
        assert_eq!(tick(&mut m).await, [CHECK]);
        assert!(
            m.on(Input::Checked(Ok(V(1))), Instant::now()).is_empty(),
            "same: nothing"
        );
        assert_eq!(tick(&mut m).await, [CHECK]);
        assert!(m.on(Input::Checked(Ok(V(2))), Instant::now()).is_empty());
        // The restart is spread over half the interval, before the next check.
        let at = m.wake().unwrap();
        assert!(at <= Instant::now() + Duration::from_secs(30));
        assert_eq!(tick(&mut m).await, [Action::Signal(Signal::TERM)]);
        // Not started again until the old one exited.
        assert_eq!(m.on(Input::CommandExited(0), Instant::now()), [Action::Spawn(V(2))]);
        assert!(m.take_ending().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_newer_change_never_pushes_the_restart_back() {
        let (mut m, _) = exec();
        m.on(Input::Checked(Ok(V(1))), Instant::now());
        assert_eq!(m.on(Input::Edited, Instant::now()), [CHECK]);
        m.on(Input::Checked(Ok(V(2))), Instant::now());
        let mut restart = m.wake().unwrap();
        // Each new value draws a delay of its own; the restart stays at the earliest.
        for value in 3..30 {
            tokio::time::advance(Duration::from_millis(10)).await;
            assert_eq!(m.on(Input::Edited, Instant::now()), [CHECK]);
            m.on(Input::Checked(Ok(V(value))), Instant::now());
            let next = m.wake().unwrap();
            assert!(next <= restart, "pushed back by value {value}");
            restart = next;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sigkill_comes_once_when_the_grace_period_is_over() {
        let (mut m, _) = exec();
        m.on(Input::Checked(Ok(V(1))), Instant::now());
        let asked = Instant::now();
        assert_eq!(m.on(Input::Signal(Signal::TERM), asked), [Action::Signal(Signal::TERM)]);
        // The only wake-up left is the end of the grace period: no check, no spinning.
        assert_eq!(m.wake(), Some(asked + GRACE));
        tokio::time::advance(GRACE.saturating_sub(Duration::from_millis(100))).await;
        assert!(m.on(Input::Tick, Instant::now()).is_empty());
        assert_eq!(tick(&mut m).await, [Action::Kill]);
        assert_eq!(m.wake(), None, "killed once; then only the exit is waited for");
        assert!(m.on(Input::Tick, Instant::now()).is_empty());
        m.on(Input::CommandExited(137), Instant::now());
        assert!(matches!(m.take_ending(), Some(Ending::Code(137))));
    }

    #[tokio::test(start_paused = true)]
    async fn sighup_checks_now_and_a_change_it_finds_restarts_at_once() {
        let (mut m, _) = exec();
        m.on(Input::Checked(Ok(V(1))), Instant::now());
        assert_eq!(m.on(Input::Signal(Signal::HUP), Instant::now()), [RELOAD]);
        // A second HUP while it runs: one more check after it, not two at once.
        assert!(m.on(Input::Signal(Signal::HUP), Instant::now()).is_empty());
        assert_eq!(m.on(Input::Checked(Ok(V(2))), Instant::now()), [RELOAD]);
        assert_eq!(m.wake(), Some(Instant::now()), "due now");
        assert_eq!(m.on(Input::Tick, Instant::now()), [Action::Signal(Signal::TERM)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_before_the_command_started_ends_with_128_plus_the_signal() {
        let (mut m, _) = exec();
        assert!(m.on(Input::Signal(Signal::INT), Instant::now()).is_empty());
        assert!(matches!(m.take_ending(), Some(Ending::Code(130))));
        assert!(
            m.on(Input::Checked(Ok(V(1))), Instant::now()).is_empty(),
            "nothing starts"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_during_a_restart_forwards_and_keeps_the_earlier_kill_time() {
        let (mut m, _) = exec();
        m.on(Input::Checked(Ok(V(1))), Instant::now());
        m.on(Input::Signal(Signal::HUP), Instant::now());
        m.on(Input::Checked(Ok(V(2))), Instant::now());
        let restart = m.on(Input::Tick, Instant::now());
        assert_eq!(restart, [Action::Signal(Signal::TERM)]);
        let kill_at = m.wake().unwrap();
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(
            m.on(Input::Signal(Signal::INT), Instant::now()),
            [Action::Signal(Signal::INT)]
        );
        assert_eq!(m.wake(), Some(kill_at));
        // It exits: the stop is what it ends with, nothing is started.
        assert!(m.on(Input::CommandExited(130), Instant::now()).is_empty());
        assert!(matches!(m.take_ending(), Some(Ending::Code(130))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_first_check_ends_the_watch_and_a_later_one_changes_nothing() {
        let (mut m, _) = exec();
        m.on(Input::Checked(Err(failure())), Instant::now());
        assert!(matches!(m.take_ending(), Some(Ending::Failed(_))));
        let (mut m, _) = exec();
        m.on(Input::Checked(Ok(V(1))), Instant::now());
        tick(&mut m).await;
        assert!(m.on(Input::Checked(Err(failure())), Instant::now()).is_empty());
        assert!(m.take_ending().is_none());
        assert!(m.wake().unwrap() > Instant::now());
    }

    #[tokio::test(start_paused = true)]
    async fn output_writes_on_change_runs_the_hook_once_at_a_time_and_stops_it() {
        let (mut m, _) = output(true);
        assert_eq!(m.on(Input::Checked(Ok(V(1))), Instant::now()), [Action::Write(V(1))]);
        assert_eq!(m.on(Input::Edited, Instant::now()), [CHECK]);
        assert_eq!(m.on(Input::Checked(Ok(V(2))), Instant::now()), [Action::Write(V(2))]);
        assert_eq!(m.on(Input::Written, Instant::now()), [Action::StartHook]);
        m.on(Input::Edited, Instant::now());
        // A change while the hook runs: written now, the hook runs again after this one.
        assert_eq!(m.on(Input::Checked(Ok(V(3))), Instant::now()), [Action::Write(V(3))]);
        assert!(m.on(Input::Written, Instant::now()).is_empty());
        assert_eq!(m.on(Input::HookExited, Instant::now()), [Action::StartHook]);
        // A stop: the hook gets SIGTERM, then SIGKILL; the watch ends when it exited.
        assert_eq!(m.on(Input::Signal(Signal::TERM), Instant::now()), [Action::StopHook]);
        assert_eq!(tick(&mut m).await, [Action::KillHook]);
        assert!(m.take_ending().is_none());
        m.on(Input::HookExited, Instant::now());
        assert!(matches!(m.take_ending(), Some(Ending::Code(0))));
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_write_must_succeed_a_later_one_is_tried_again() {
        let (mut m, _) = output(false);
        m.on(Input::Checked(Ok(V(1))), Instant::now());
        m.on(Input::WriteFailed(failure()), Instant::now());
        assert!(matches!(m.take_ending(), Some(Ending::Failed(_))));
        let (mut m, _) = output(false);
        m.on(Input::Checked(Ok(V(1))), Instant::now());
        m.on(Input::Edited, Instant::now());
        assert_eq!(m.on(Input::Checked(Ok(V(2))), Instant::now()), [Action::Write(V(2))]);
        m.on(Input::WriteFailed(failure()), Instant::now());
        assert!(m.take_ending().is_none(), "a later failure keeps the watch");
        m.on(Input::Edited, Instant::now());
        assert_eq!(
            m.on(Input::Checked(Ok(V(2))), Instant::now()),
            [Action::Write(V(2))],
            "written again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_hook_past_its_timeout_is_killed() {
        let (mut m, _) = output(true);
        m.on(Input::Checked(Ok(V(1))), Instant::now());
        m.on(Input::Edited, Instant::now());
        m.on(Input::Checked(Ok(V(2))), Instant::now());
        assert_eq!(m.on(Input::Written, Instant::now()), [Action::StartHook]);
        // A write that fails runs no hook.
        let (mut n, _) = output(true);
        n.on(Input::Checked(Ok(V(1))), Instant::now());
        n.on(Input::Written, Instant::now());
        n.on(Input::Edited, Instant::now());
        n.on(Input::Checked(Ok(V(2))), Instant::now());
        assert!(n.on(Input::WriteFailed(failure()), Instant::now()).is_empty());
        // The next check (60 s ±10 %) comes later than the hook's 30 s.
        assert_eq!(tick(&mut m).await, [Action::KillHook]);
    }

    /// A listening watch whose first generation serves V(1), and a change to V(2) found by
    /// SIGHUP (applied at once).
    fn serving_then_changed(overlap: bool) -> Machine<V> {
        let (mut m, _) = listening(overlap);
        assert_eq!(m.on(Input::Checked(Ok(V(1))), Instant::now()), [Action::Spawn(V(1))]);
        assert_eq!(m.on(Input::Ready(Generation::Command), Instant::now()), [Action::Serve]);
        m.on(Input::Signal(Signal::HUP), Instant::now());
        assert!(m.on(Input::Checked(Ok(V(2))), Instant::now()).is_empty());
        m
    }

    #[tokio::test(start_paused = true)]
    async fn listen_prepares_the_new_generation_beside_the_old_and_switches_once_it_answers() {
        let mut m = serving_then_changed(true);
        assert_eq!(tick(&mut m).await, [Action::Prepare(V(2))]);
        // While it prepares, checks go on, but no second candidate is started.
        assert_eq!(m.on(Input::Signal(Signal::HUP), Instant::now()), [RELOAD]);
        assert!(
            m.on(Input::Checked(Ok(V(2))), Instant::now()).is_empty(),
            "the candidate has it"
        );
        assert_eq!(
            m.on(Input::Ready(Generation::Candidate), Instant::now()),
            [Action::Promote]
        );
        // The old one is asked to drain a moment later (what was just routed to it is
        // accepted first), and SIGKILL once the grace period is over.
        let switched = Instant::now();
        assert_eq!(tick(&mut m).await, [Action::Drain]);
        assert_eq!(Instant::now(), switched + SETTLE);
        assert!(m.wake().unwrap() <= Instant::now() + GRACE);
        assert_eq!(tick(&mut m).await, [Action::KillRetired]);
        m.on(Input::RetiredExited, Instant::now());
        // Now serving V(2): the same values change nothing.
        m.on(Input::Signal(Signal::HUP), Instant::now());
        assert!(m.on(Input::Checked(Ok(V(2))), Instant::now()).is_empty());
        assert_ne!(m.wake(), Some(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_generation_whose_values_changed_again_never_serves() {
        // Back to the values the command has: the candidate is stopped, nothing follows.
        let mut m = serving_then_changed(true);
        assert_eq!(tick(&mut m).await, [Action::Prepare(V(2))]);
        m.on(Input::Signal(Signal::HUP), Instant::now());
        assert_eq!(m.on(Input::Checked(Ok(V(1))), Instant::now()), [Action::Discard]);
        m.on(Input::RetiredExited, Instant::now());
        assert!(
            m.wake().unwrap() > Instant::now() + Duration::from_secs(30),
            "only the next check"
        );
        // On to other values: stopped, and a generation with those is prepared instead.
        let mut m = serving_then_changed(true);
        tick(&mut m).await;
        m.on(Input::Signal(Signal::HUP), Instant::now());
        assert_eq!(m.on(Input::Checked(Ok(V(3))), Instant::now()), [Action::Discard]);
        assert!(
            m.on(Input::Ready(Generation::Candidate), Instant::now()).is_empty(),
            "a late answer"
        );
        m.on(Input::RetiredExited, Instant::now());
        assert_eq!(tick(&mut m).await, [Action::Prepare(V(3))]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_generation_that_never_answers_is_discarded_and_the_old_keeps_serving() {
        let mut m = serving_then_changed(true);
        assert_eq!(tick(&mut m).await, [Action::Prepare(V(2))]);
        tokio::time::advance(READY).await;
        assert_eq!(m.on(Input::Tick, Instant::now()), [Action::Discard]);
        assert!(m.take_ending().is_none());
        m.on(Input::RetiredExited, Instant::now());
        // The next check still finds V(2): tried again.
        m.on(Input::Signal(Signal::HUP), Instant::now());
        m.on(Input::Checked(Ok(V(2))), Instant::now());
        assert_eq!(tick(&mut m).await, [Action::Prepare(V(2))]);
        // One that exits before it answers: the same.
        assert!(m.on(Input::CandidateExited(1), Instant::now()).is_empty());
        assert!(m.take_ending().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_generation_that_never_answers_fails_the_watch_after_it_stopped() {
        let (mut m, _) = listening(true);
        m.on(Input::Checked(Ok(V(1))), Instant::now());
        assert_eq!(m.wake(), Some(Instant::now() + READY));
        assert_eq!(tick(&mut m).await, [Action::Signal(Signal::TERM)]);
        assert!(m.take_ending().is_none(), "not before the command exited");
        m.on(Input::CommandExited(143), Instant::now());
        assert!(matches!(
            m.take_ending(),
            Some(Ending::Failed(Error::NotReady { seconds: 20 }))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn without_overlap_the_old_generation_stops_first_and_connections_are_held() {
        let mut m = serving_then_changed(false);
        assert_eq!(tick(&mut m).await, [Action::Hold, Action::Signal(Signal::TERM)]);
        assert_eq!(m.on(Input::CommandExited(0), Instant::now()), [Action::Spawn(V(2))]);
        assert_eq!(m.on(Input::Ready(Generation::Command), Instant::now()), [Action::Serve]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_every_generation_and_waits_for_all_of_them() {
        let mut m = serving_then_changed(true);
        assert_eq!(tick(&mut m).await, [Action::Prepare(V(2))]);
        assert_eq!(
            m.on(Input::Signal(Signal::TERM), Instant::now()),
            [Action::Signal(Signal::TERM), Action::Discard]
        );
        m.on(Input::CommandExited(143), Instant::now());
        assert!(m.take_ending().is_none(), "the discarded candidate is still running");
        m.on(Input::RetiredExited, Instant::now());
        assert!(matches!(m.take_ending(), Some(Ending::Code(143))));
        // The serving generation crashing while the old one drains: the others are killed.
        let mut m = serving_then_changed(true);
        tick(&mut m).await;
        m.on(Input::Ready(Generation::Candidate), Instant::now());
        assert_eq!(m.on(Input::CommandExited(3), Instant::now()), [Action::KillRetired]);
        assert!(m.take_ending().is_none());
        m.on(Input::RetiredExited, Instant::now());
        assert!(matches!(m.take_ending(), Some(Ending::Code(3))));
    }

    /// What the random test's driver knows of the processes and checks the actions asked for.
    #[derive(Default)]
    #[expect(clippy::struct_excessive_bools, reason = "independent facts about a test run")]
    struct Seen {
        running: bool,
        candidate: bool,
        retired: usize,
        checks_in_flight: u32,
        stop_asked: Option<Instant>,
        hook: bool,
        wrote: bool,
        /// A command was started and has not been reported ready yet.
        starting: bool,
    }

    impl Seen {
        /// Take in an action, asserting the invariants it concerns.
        fn account(&mut self, action: &Action<V>, seed: u64) {
            match action {
                Action::Check { .. } => {
                    assert!(self.stop_asked.is_none(), "seed {seed}: a check while stopping");
                    self.checks_in_flight += 1;
                    assert_eq!(self.checks_in_flight, 1, "seed {seed}: two checks at once");
                }
                Action::Spawn(_) => {
                    assert!(!self.running, "seed {seed}: two commands");
                    self.running = true;
                    self.starting = true;
                }
                Action::Kill => assert!(self.running || self.retired > 0, "seed {seed}"),
                Action::Prepare(_) => {
                    assert!(
                        self.running && !self.candidate && self.retired == 0,
                        "seed {seed}: a third generation"
                    );
                    assert!(self.stop_asked.is_none(), "seed {seed}: prepared while stopping");
                    self.candidate = true;
                }
                Action::Promote => {
                    assert!(self.running && self.candidate, "seed {seed}");
                    self.candidate = false;
                    self.retired += 1;
                }
                Action::Discard => {
                    assert!(self.candidate, "seed {seed}");
                    self.candidate = false;
                    self.retired += 1;
                }
                Action::StartHook => {
                    assert!(!self.hook, "seed {seed}: two hooks");
                    self.hook = true;
                }
                Action::Write(_) => self.wrote = true,
                Action::KillRetired
                | Action::Drain
                | Action::Serve
                | Action::Hold
                | Action::Signal(_)
                | Action::StopHook
                | Action::KillHook => {}
            }
        }

        /// The next input: what an action in flight may report, a signal, or time passing.
        async fn input(&mut self, rng: &mut fastrand::Rng, m: &Machine<V>) -> Input<V> {
            match rng.u8(0..14) {
                // Mostly, a command answers before its readiness deadline.
                _ if self.running && self.starting && rng.u8(0..4) != 0 => {
                    self.starting = false;
                    Input::Ready(Generation::Command)
                }
                _ if std::mem::take(&mut self.wrote) => {
                    if rng.u8(0..5) == 0 {
                        Input::WriteFailed(failure())
                    } else {
                        Input::Written
                    }
                }
                // Rarely: most signals end the watch, and a long one reaches every phase.
                0 if rng.u8(0..4) == 0 => Input::Signal(
                    [Signal::TERM, Signal::INT, Signal::HUP, Signal::USR1, Signal::ALARM][rng.usize(0..5)],
                ),
                1 | 2 if self.checks_in_flight > 0 => {
                    self.checks_in_flight -= 1;
                    if rng.u8(0..4) == 0 {
                        Input::Checked(Err(failure()))
                    } else {
                        Input::Checked(Ok(V(rng.u32(0..3))))
                    }
                }
                3 if self.running && rng.u8(0..4) == 0 => {
                    self.running = false;
                    Input::CommandExited(rng.i32(0..3))
                }
                4 if self.hook => {
                    self.hook = false;
                    Input::HookExited
                }
                5 => Input::Edited,
                6 | 7 if self.candidate => {
                    if rng.u8(0..4) == 0 {
                        self.candidate = false;
                        Input::CandidateExited(1)
                    } else {
                        Input::Ready(Generation::Candidate)
                    }
                }
                6..=8 if self.running && std::mem::take(&mut self.starting) => Input::Ready(Generation::Command),
                9 if self.retired > 0 => {
                    self.retired -= 1;
                    Input::RetiredExited
                }
                _ => {
                    // Sleep to the wake-up, or a while when there is none.
                    match m.wake() {
                        Some(at) if rng.bool() => tokio::time::sleep_until(at).await,
                        _ => tokio::time::advance(Duration::from_millis(rng.u64(0..20_000))).await,
                    }
                    Input::Tick
                }
            }
        }
    }

    /// Random inputs at random times: the invariants of the module hold.
    #[tokio::test(start_paused = true)]
    async fn invariants_hold_over_random_event_sequences() {
        for seed in 0..1000u64 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let exec_mode = rng.bool();
            let (mut m, mut actions) = match (exec_mode, rng.u8(0..3)) {
                (true, 0) => exec(),
                (true, n) => listening(n == 1),
                (false, _) => output(rng.bool()),
            };
            let mut seen = Seen::default();
            for _ in 0..150 {
                for action in actions.drain(..) {
                    seen.account(&action, seed);
                }
                if m.done() {
                    break;
                }
                let now = Instant::now();
                let input = seen.input(&mut rng, &m).await;
                let is_tick = matches!(input, Input::Tick);
                if matches!(input, Input::Signal(s) if matches!(signals::meaning(s), Some(Meaning::Stop(_))))
                    && seen.stop_asked.is_none()
                {
                    seen.stop_asked = Some(Instant::now());
                }
                actions = m.on(input, Instant::now());
                if is_tick {
                    // No spinning: nothing is due at the instant just handled.
                    if let Some(at) = m.wake() {
                        assert!(at > now, "seed {seed}: woken again at once ({:?})", m.phase);
                    }
                }
                if let Some(ending) = m.take_ending() {
                    if exec_mode && let Ending::Code(_) = ending {
                        assert!(
                            !seen.running
                                && !seen.candidate
                                && seen.retired == 0
                                && !actions.iter().any(|a| matches!(a, Action::Spawn(_))),
                            "seed {seed}: ended with a generation running"
                        );
                    }
                    break;
                }
                if seen.checks_in_flight > 0 && seen.stop_asked.is_some() {
                    // A check in flight when the stop came is dropped by the driver.
                    seen.checks_in_flight = 0;
                }
            }
        }
    }
}
