//! The process layer: a process osenv started (the supervised command, a hook), signalled and
//! waited for by its own PID only. Nothing here waits for "any child": a status a credential
//! helper's `wait` expects (the AWS `credential_process`, the Azure CLI) can never be taken
//! from it. Orphans are reaped by [`super::init`], and only when osenv is PID 1.
//!
//! Each process leads its own process group, so what it leaves behind (a background process of
//! its own) can be ended with it: when it has exited, but before it is reaped (its PID, and so
//! its group's ID, still reserved), the rest of its group gets SIGKILL.

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl Exit {
    /// Its status as shells report it: the exit code, or 128 + the signal.
    pub fn shell_code(self) -> i32 {
        self.code.or_else(|| self.signal.map(|s| 128 + s)).unwrap_or(1)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit status: {code}"),
            (None, Some(signal)) => write!(f, "signal: {signal}"),
            (None, None) => f.write_str("an unknown status"),
        }
    }
}

/// A started process, until reaped.
#[derive(Debug)]
pub(crate) struct Process {
    pid: Pid,
    exit: Option<Exit>,
}

impl Process {
    /// Start `command` as the leader of a new process group. Its pipes, if any were asked for,
    /// are handed back.
    pub fn start(mut command: std::process::Command) -> std::io::Result<(Self, std::process::Child)> {
        use std::os::unix::process::CommandExt as _;
        command.process_group(0);
        let child = command.spawn()?;
        let pid = Pid::from_child(&child);
        Ok((Self { pid, exit: None }, child))
    }

    pub fn pid(&self) -> i32 {
        self.pid.as_raw_nonzero().get()
    }

    /// Send it `signal` (not once it has exited: its PID may be another process's by then).
    pub fn signal(&self, signal: Signal) {
        if self.exit.is_none()
            && let Err(rustix::io::Errno::PERM) = rustix::process::kill_process(self.pid, signal)
        {
            tracing::error!(
                "cannot send SIG{} to PID {}: not permitted",
                super::signals::name(signal),
                self.pid()
            );
        }
    }

    /// Send its whole process group `signal` (ESRCH: the group is gone, or the process left it).
    pub fn signal_group(&self, signal: Signal) {
        if self.exit.is_none() {
            let _ = rustix::process::kill_process_group(self.pid, signal);
        }
    }

    /// How it ended, once it has (never blocks). When it has just exited, the rest of its
    /// process group is killed before it is reaped.
    pub fn exited(&mut self) -> Option<Exit> {
        if self.exit.is_some() {
            return self.exit;
        }
        let peek = rustix::process::waitid(
            WaitId::Pid(self.pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT,
        );
        match peek {
            Ok(Some(status)) if status.exited() || status.killed() || status.dumped() => {}
            Ok(_) => return None,
            // ECHILD: already reaped, which only this type does; report it as ended.
            Err(_) => {
                self.exit = Some(Exit {
                    code: None,
                    signal: None,
                });
                return self.exit;
            }
        }
        // Still a zombie: its group ID cannot have been reused yet.
        let _ = rustix::process::kill_process_group(self.pid, Signal::KILL);
        let reaped = rustix::process::waitid(WaitId::Pid(self.pid), WaitIdOptions::EXITED | WaitIdOptions::NOHANG);
        self.exit = Some(match reaped {
            Ok(Some(status)) => Exit {
                code: status.exit_status(),
                signal: status.terminating_signal(),
            },
            _ => Exit {
                code: None,
                signal: None,
            },
        });
        self.exit
    }
}

/// Whether osenv may signal a process running as `uid`: the same user, or the KILL capability
/// (root without it, as a container that drops every capability but SETUID/SETGID runs it,
/// may start a command as another user but not signal it).
pub(crate) fn may_signal(uid: u32) -> bool {
    const CAP_KILL: u32 = 5;
    if rustix::process::geteuid().as_raw() == uid || rustix::process::getuid().as_raw() == uid {
        return true;
    }
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_KILL) != 0)
}

impl Drop for Process {
    /// A process still running when its owner goes (an error path) is killed with its group
    /// and reaped: nothing osenv started outlives it.
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = rustix::process::kill_process_group(self.pid, Signal::KILL);
            let _ = rustix::process::kill_process(self.pid, Signal::KILL);
            let _ = rustix::process::waitid(WaitId::Pid(self.pid), WaitIdOptions::EXITED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait(process: &mut Process) -> Exit {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(exit) = process.exited() {
                return exit;
            }
            assert!(Instant::now() < end, "did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
            .unwrap_or(false)
    }

    #[test]
    fn exit_codes_are_the_processes_or_128_plus_its_signal() {
        let mut command = std::process::Command::new("sh");
        command.args(["-c", "exit 7"]);
        let (mut p, _) = Process::start(command).unwrap();
        assert_eq!(wait(&mut p).shell_code(), 7);
        let mut command = std::process::Command::new("sleep");
        command.arg("100");
        let (mut p, _) = Process::start(command).unwrap();
        p.signal(Signal::TERM);
        let exit = wait(&mut p);
        assert_eq!(exit.shell_code(), 143);
        assert_eq!(exit.to_string(), "signal: 15");
    }

    #[test]
    fn what_a_process_leaves_in_its_group_ends_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let mut command = std::process::Command::new("sh");
        command
            .arg("-c")
            .arg(format!("sleep 100 & echo $! > {}; exit 0", pid_file.display()));
        let (mut p, _) = Process::start(command).unwrap();
        assert_eq!(wait(&mut p).shell_code(), 0);
        let left: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        let end = Instant::now() + Duration::from_secs(5);
        while alive(left) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive(left), "the background sleep outlived its parent");
    }

    #[test]
    fn another_childs_status_is_never_taken() {
        // A helper started with std (as a credential process is) has exited and waits, a zombie,
        // for std's own wait; a supervised process exiting meanwhile does not take its status.
        let mut helper = std::process::Command::new("sh").args(["-c", "exit 5"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let (mut p, _) = Process::start(std::process::Command::new("true")).unwrap();
        assert_eq!(wait(&mut p).shell_code(), 0);
        assert_eq!(helper.wait().unwrap().code(), Some(5));
    }
}
