//! The watch loop: performs what the [`Machine`] decides and feeds it what happened — signals,
//! the command's and the hook's exits (SIGCHLD, each process waited for by its own PID), the
//! checker's reports, and time. Nothing here blocks: checks run on the checker's thread, hooks
//! in their own processes.

use super::checker::{Report, Request};
use super::front::Front;
use super::hook;
use super::machine::{Action, Ending, Generation, Input, Machine, Mode, Snapshot};
use super::process::Process;
use super::schedule::Schedule;
use osenv::error::Error;
use rustix::process::Signal;
use std::collections::VecDeque;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

/// Start the command with a snapshot, on a port with `--listen`.
pub(crate) type Spawn<'a, T> = &'a dyn Fn(&T, Option<u16>) -> Result<Process, Error>;

/// What the watch keeps current: how to start the command with a snapshot (`exec`; with
/// `--listen`, on the port given), how to write one (`render`, `env`), and the hook to run
/// after a write.
pub(crate) struct Target<'a, T> {
    pub spawn: Spawn<'a, T>,
    pub write: &'a dyn Fn(&T) -> Result<(), Error>,
    pub hook: Option<&'a str>,
    /// `--listen`: the front door, and the path each generation must answer 2xx on.
    pub front: Option<(&'a Front, &'a str)>,
}

/// A generation of the command: its process, and with `--listen` its port and probe.
struct Running {
    /// Tells its readiness report from an older generation's.
    id: u64,
    /// A candidate stopped before it served (for the log).
    discarded: bool,
    process: Process,
    port: Option<u16>,
    probe: Option<tokio::task::AbortHandle>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(probe) = &self.probe {
            probe.abort();
        }
    }
}

/// The processes of a watch.
#[derive(Default)]
struct Processes {
    command: Option<Running>,
    candidate: Option<Running>,
    /// Old generations draining, and discarded candidates, until they exited.
    retired: Vec<Running>,
    hook: Option<Process>,
    /// The id of the next generation.
    next: u64,
}

impl Processes {
    fn any(&self) -> bool {
        self.command.is_some() || self.candidate.is_some() || !self.retired.is_empty() || self.hook.is_some()
    }

    /// Every generation of the command.
    fn generations(&self) -> impl Iterator<Item = &Running> {
        self.command.iter().chain(&self.candidate).chain(&self.retired)
    }
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
    let mut processes = Processes::default();
    let (ready, mut answered) = tokio::sync::mpsc::unbounded_channel();
    let mut queue: VecDeque<Input<T>> = VecDeque::new();
    let mut checker_gone = false;
    // SIGCHLD tells of an exit; a look once a second as well, in case a parent started osenv
    // with SIGCHLD blocked (a wait that never came would hang the watch).
    let mut look = tokio::time::interval(EXIT_LOOK);
    look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        for action in actions.drain(..) {
            perform(
                action,
                mode,
                target,
                &sources.requests,
                &mut processes,
                &ready,
                &mut queue,
            );
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
                    exits(&mut processes, &mut queue);
                    continue;
                }
                _ = look.tick(), if processes.any() => {
                    exits(&mut processes, &mut queue);
                    continue;
                }
                Some(id) = answered.recv() => {
                    match (&processes.command, &processes.candidate) {
                        (Some(c), _) if c.id == id => Input::Ready(Generation::Command),
                        (_, Some(c)) if c.id == id => Input::Ready(Generation::Candidate),
                        // An older generation's.
                        _ => continue,
                    }
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
    mode: Mode,
    target: &Target<'_, T>,
    requests: &UnboundedSender<Request>,
    processes: &mut Processes,
    ready: &UnboundedSender<u64>,
    queue: &mut VecDeque<Input<T>>,
) {
    let kill = |running: &Running| {
        // The group, and the process itself in case it moved to another group.
        running.process.signal_group(Signal::KILL);
        running.process.signal(Signal::KILL);
    };
    match action {
        Action::Check { reload } => {
            let _ = requests.send(Request::Check { reload });
        }
        Action::Spawn(snapshot) => match start(&snapshot, target, processes, ready) {
            Ok(running) => {
                tracing::info!("the command runs as PID {}", running.process.pid());
                processes.command = Some(running);
            }
            Err(e) => queue.push_back(Input::SpawnFailed(e)),
        },
        Action::Prepare(snapshot) => match start(&snapshot, target, processes, ready) {
            Ok(running) => {
                tracing::info!(
                    "a new generation of the command runs as PID {}{}",
                    running.process.pid(),
                    running.port.map(|p| format!(" on port {p}")).unwrap_or_default()
                );
                processes.candidate = Some(running);
            }
            Err(e) => {
                tracing::warn!("{}", super::summary(&e));
                queue.push_back(Input::CandidateExited(127));
            }
        },
        Action::Promote => {
            if let Some(new) = processes.candidate.take() {
                if let (Some((front, _)), Some(port)) = (target.front, new.port) {
                    front.serve(port);
                }
                if let Some(old) = processes.command.replace(new) {
                    processes.retired.push(old);
                }
            }
        }
        Action::Drain => {
            if let Mode::Exec { restart_signal, .. } = mode {
                for retired in &processes.retired {
                    retired.process.signal(restart_signal);
                }
            }
        }
        Action::Serve => {
            if let (Some((front, _)), Some(port)) = (target.front, processes.command.as_ref().and_then(|c| c.port)) {
                front.serve(port);
            }
        }
        Action::Hold => {
            if let Some((front, _)) = target.front {
                front.hold();
            }
        }
        Action::Discard => match processes.candidate.take() {
            Some(mut candidate) => {
                kill(&candidate);
                candidate.discarded = true;
                processes.retired.push(candidate);
            }
            // It exited already (its exit is still queued behind the input that asked for
            // this): the machine counts it as retired, so it ends as one.
            None => queue.push_back(Input::RetiredExited),
        },
        Action::KillRetired => processes.retired.iter().for_each(kill),
        Action::Write(snapshot) => queue.push_back(match (target.write)(&snapshot) {
            Ok(()) => Input::Written,
            Err(e) => Input::WriteFailed(e),
        }),
        Action::Signal(signal) => {
            for running in processes.generations() {
                running.process.signal(signal);
            }
        }
        Action::Kill => processes.generations().for_each(kill),
        Action::StartHook => match target.hook.and_then(hook::start) {
            Some(process) => processes.hook = Some(process),
            None => queue.push_back(Input::HookExited),
        },
        Action::StopHook => {
            if let Some(hook) = &processes.hook {
                hook.signal_group(Signal::TERM);
                hook.signal(Signal::TERM);
            }
        }
        Action::KillHook => {
            if let Some(hook) = &processes.hook {
                hook.signal_group(Signal::KILL);
                hook.signal(Signal::KILL);
            }
        }
    }
}

/// Start a generation of the command; with `--listen`, on a free loopback port, probed until
/// it answers.
fn start<T>(
    snapshot: &T,
    target: &Target<'_, T>,
    processes: &mut Processes,
    ready: &UnboundedSender<u64>,
) -> Result<Running, Error> {
    let port = match target.front {
        Some(_) => Some(free_port().map_err(|source| Error::Exec {
            program: "osenv".into(),
            source,
        })?),
        None => None,
    };
    let process = (target.spawn)(snapshot, port)?;
    let id = processes.next;
    processes.next += 1;
    let probe = match (target.front, port) {
        (Some((front, path)), Some(port)) => Some(
            front
                .runtime()
                .spawn(super::ready::wait(port, path.to_owned(), id, ready.clone()))
                .abort_handle(),
        ),
        _ => None,
    };
    Ok(Running {
        id,
        discarded: false,
        process,
        port,
        probe,
    })
}

/// A loopback port nothing listens on now, for the next generation.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// After SIGCHLD: which of osenv's own processes exited (each asked by its PID).
fn exits<T>(processes: &mut Processes, queue: &mut VecDeque<Input<T>>) {
    if let Some(exit) = processes.command.as_mut().and_then(|c| c.process.exited()) {
        processes.command = None;
        queue.push_back(Input::CommandExited(exit.shell_code()));
    }
    if let Some(exit) = processes.candidate.as_mut().and_then(|c| c.process.exited()) {
        processes.candidate = None;
        queue.push_back(Input::CandidateExited(exit.shell_code()));
    }
    processes.retired.retain_mut(|retired| match retired.process.exited() {
        Some(exit) => {
            tracing::info!(
                "the {} generation (PID {}) ended ({exit})",
                if retired.discarded { "stopped new" } else { "old" },
                retired.process.pid()
            );
            queue.push_back(Input::RetiredExited);
            false
        }
        None => true,
    });
    if let Some(exit) = processes.hook.as_mut().and_then(Process::exited) {
        processes.hook = None;
        hook::ended(exit);
        queue.push_back(Input::HookExited);
    }
}
