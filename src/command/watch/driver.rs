//! The watch loop: performs what the [`Machine`] decides and feeds it what happened — signals,
//! the command's and the hook's exits (SIGCHLD, each process waited for by its own PID), the
//! checker's reports, and time. Nothing here blocks: checks run on the checker's thread, hooks
//! in their own processes.

use super::checker::{Report, Request};
use super::hook;
use super::machine::{Action, Ending, Input, Machine, Mode, Snapshot};
use super::process::Process;
use super::schedule::Schedule;
use osenv::error::Error;
use rustix::process::Signal;
use std::collections::VecDeque;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

/// What the watch keeps current: how to start the command with a snapshot (`exec`), how to
/// write one (`render`, `env`), and the hook to run after a write.
pub(crate) struct Target<'a, T> {
    pub spawn: &'a dyn Fn(&T) -> Result<Process, Error>,
    pub write: &'a dyn Fn(&T) -> Result<(), Error>,
    pub hook: Option<&'a str>,
}

/// How often the loop looks for exits of its processes besides SIGCHLD.
const EXIT_LOOK: std::time::Duration = std::time::Duration::from_secs(1);

/// Where the loop's inputs come from.
pub(crate) struct Sources<T> {
    pub signals: UnboundedReceiver<Signal>,
    pub children: tokio::signal::unix::Signal,
    pub requests: UnboundedSender<Request>,
    pub reports: UnboundedReceiver<Report<T>>,
}

/// Run the watch to its end. The checker is told to stop (and so to release the session) as
/// soon as the watch has ended, and in any case when this returns (its channel is dropped).
pub(crate) async fn drive<T: Snapshot>(mode: Mode, target: &Target<'_, T>, mut sources: Sources<T>) -> Ending {
    let schedule = Schedule {
        interval: super::DEFAULT_INTERVAL,
    };
    let (mut machine, mut actions) = Machine::new(mode, schedule);
    let mut command: Option<Process> = None;
    let mut hook: Option<Process> = None;
    let mut queue: VecDeque<Input<T>> = VecDeque::new();
    let mut checker_gone = false;
    // SIGCHLD tells of an exit; a look once a second as well, in case a parent started osenv
    // with SIGCHLD blocked (a wait that never came would hang the watch).
    let mut look = tokio::time::interval(EXIT_LOOK);
    look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        for action in actions.drain(..) {
            perform(action, target, &sources.requests, &mut command, &mut hook, &mut queue);
        }
        if let Some(ending) = machine.take_ending() {
            let _ = sources.requests.send(Request::Stop);
            return ending;
        }
        let input = if let Some(input) = queue.pop_front() {
            input
        } else {
            let wake = machine.wake();
            tokio::select! {
                Some(signal) = sources.signals.recv() => Input::Signal(signal),
                _ = sources.children.recv() => {
                    exits(&mut command, &mut hook, &mut queue);
                    continue;
                }
                _ = look.tick(), if command.is_some() || hook.is_some() => {
                    exits(&mut command, &mut hook, &mut queue);
                    continue;
                }
                report = sources.reports.recv(), if !checker_gone => match report {
                    Some(Report::Checked(outcome)) => Input::Checked(outcome),
                    Some(Report::Edited) => Input::Edited,
                    Some(Report::Interval(interval)) => Input::Interval(interval),
                    None => {
                        checker_gone = true;
                        Input::Checked(Err(Error::Exec {
                            program: "osenv".into(),
                            source: std::io::Error::other("the checker thread ended"),
                        }))
                    }
                },
                () = sleep_until(wake) => Input::Tick,
            }
        };
        actions = machine.on(input, Instant::now());
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn perform<T>(
    action: Action<T>,
    target: &Target<'_, T>,
    requests: &UnboundedSender<Request>,
    command: &mut Option<Process>,
    hook: &mut Option<Process>,
    queue: &mut VecDeque<Input<T>>,
) {
    match action {
        Action::Check { reload } => {
            let _ = requests.send(Request::Check { reload });
        }
        Action::Spawn(snapshot) => match (target.spawn)(&snapshot) {
            Ok(process) => {
                tracing::info!("the command runs as PID {}", process.pid());
                *command = Some(process);
            }
            Err(e) => queue.push_back(Input::SpawnFailed(e)),
        },
        Action::Write(snapshot) => queue.push_back(match (target.write)(&snapshot) {
            Ok(()) => Input::Written,
            Err(e) => Input::WriteFailed(e),
        }),
        Action::Signal(signal) => {
            if let Some(command) = command {
                command.signal(signal);
            }
        }
        Action::Kill => {
            if let Some(command) = command {
                // The group, and the command itself in case it moved to another group.
                command.signal_group(Signal::KILL);
                command.signal(Signal::KILL);
            }
        }
        Action::StartHook => match target.hook.and_then(hook::start) {
            Some(process) => *hook = Some(process),
            None => queue.push_back(Input::HookExited),
        },
        Action::StopHook => {
            if let Some(hook) = hook {
                hook.signal_group(Signal::TERM);
                hook.signal(Signal::TERM);
            }
        }
        Action::KillHook => {
            if let Some(hook) = hook {
                hook.signal_group(Signal::KILL);
                hook.signal(Signal::KILL);
            }
        }
    }
}

/// After SIGCHLD: which of osenv's own processes exited (each asked by its PID).
fn exits<T>(command: &mut Option<Process>, hook: &mut Option<Process>, queue: &mut VecDeque<Input<T>>) {
    if let Some(exit) = command.as_mut().and_then(Process::exited) {
        *command = None;
        queue.push_back(Input::CommandExited(exit.shell_code()));
    }
    if let Some(exit) = hook.as_mut().and_then(Process::exited) {
        *hook = None;
        hook::ended(exit);
        queue.push_back(Input::HookExited);
    }
}
