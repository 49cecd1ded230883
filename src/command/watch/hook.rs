//! `--on-change`: `sh -c COMMAND` after each rewrite, outside the watch loop. It runs in its
//! own process group with osenv's environment less the login material (no value in it or its
//! arguments); each line it
//! prints is logged (through the one escaper, like every log line), and so is how it ended. The
//! machine times it out and stops it with the watch; nothing it starts outlives it.

use super::process::{Exit, Process};
use std::io::{BufRead as _, Read as _};
use std::process::{Command, Stdio};

/// The longest line of a hook's output that is logged whole; the rest of it is cut.
const MAX_LINE: u64 = 4096;

/// Start the hook.
pub(crate) fn start(command: &str) -> Option<Process> {
    let mut sh = Command::new("sh");
    // Like the command of `exec`, the hook gets no login material (the provenance table's
    // withheld rows): it needs none, and its output is logged.
    for setting in osenv::provenance::TABLE {
        if setting.exec() != osenv::provenance::Exec::Pass {
            sh.env_remove(setting.name());
        }
    }
    sh.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match Process::start(sh) {
        Ok((process, mut child)) => {
            tracing::info!("--on-change command started (PID {})", process.pid());
            if let Some(out) = child.stdout.take() {
                log_lines(out);
            }
            if let Some(err) = child.stderr.take() {
                log_lines(err);
            }
            Some(process)
        }
        Err(e) => {
            tracing::warn!("--on-change command could not be run: {e}");
            None
        }
    }
}

/// Log how the hook ended.
pub(crate) fn ended(exit: Exit) {
    if exit.code == Some(0) {
        tracing::info!("--on-change command finished");
    } else {
        tracing::warn!("--on-change command exited with {exit}");
    }
}

/// Log each line `pipe` gives, on a thread of its own (it ends when the hook's group has
/// closed the pipe; it never holds osenv up: the thread is not joined).
fn log_lines(pipe: impl std::io::Read + Send + 'static) {
    let _ = std::thread::Builder::new()
        .name("osenv-hook-output".into())
        .spawn(move || {
            let mut reader = std::io::BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line);
                        tracing::info!("--on-change: {}", text.trim_end_matches(['\n', '\r']));
                    }
                }
            }
        });
}
