//! `exec --mask`: the command's stdout and stderr come through pipes, and osenv writes them to
//! its own stdout and stderr (each to the stream it came from) with every resolved value
//! masked ([`osenv::mask`]). One thread per stream copies, so a command that fills one pipe
//! while osenv writes the other never blocks on it.
//!
//! The masks only grow: with `--watch`, a rotation adds the new values to the old ones, so a
//! generation still draining is masked with the values it was started with, and an old value
//! printed later (a log replayed, a trace) is masked too.

use osenv::mask::{Masker, Stream};
use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long osenv waits, once the command has ended, for the rest of its output.
const DRAIN: Duration = Duration::from_secs(5);

/// The masks of a run and the threads copying output through them.
#[derive(Default)]
pub(crate) struct Masks {
    current: RwLock<Arc<Masker>>,
    /// Names already warned about (too short to mask).
    warned: Mutex<BTreeSet<String>>,
    copies: Mutex<Vec<JoinHandle<()>>>,
}

impl Masks {
    /// Mask `values` from now on, as well as every value masked so far; warn (once per name)
    /// about values too short to mask.
    pub fn add<'a>(&self, values: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), osenv::Error> {
        let too_many = |e: osenv::mask::TooMany| osenv::Error::Exec {
            program: "osenv".into(),
            source: std::io::Error::other(e.to_string()),
        };
        let (added, short) = Masker::new(values).map_err(too_many)?;
        let mut warned = self.warned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let new: Vec<&str> = short
            .iter()
            .filter(|n| warned.insert((*n).clone()))
            .map(String::as_str)
            .collect();
        if !new.is_empty() {
            tracing::warn!(
                "--mask: not masking {}: shorter than {} bytes (too short to tell from other output)",
                new.join(", "),
                osenv::mask::MIN_LEN
            );
        }
        let mut current = self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = Arc::new(current.with(&added).map_err(too_many)?);
        Ok(())
    }

    fn masker(&self) -> Arc<Masker> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Ask `command` for pipes on stdout and stderr (before it starts).
    pub fn pipe(command: &mut std::process::Command) {
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    }

    /// Copy the started `child`'s output to osenv's, masked.
    pub fn attach(self: &Arc<Self>, child: &mut std::process::Child) -> std::io::Result<()> {
        let mut copies = self.copies.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        copies.retain(|c| !c.is_finished());
        // Larger pipes (1 MiB, the unprivileged maximum): fewer reads and writes for a command
        // that logs a lot. Refused (an older kernel, a lower limit): the default does.
        for pipe in [
            child.stdout.as_ref().map(AsFd::as_fd),
            child.stderr.as_ref().map(AsFd::as_fd),
        ]
        .into_iter()
        .flatten()
        {
            let _ = rustix::pipe::fcntl_setpipe_size(pipe, 1 << 20);
        }
        if let Some(out) = child.stdout.take() {
            copies.push(self.copy(out, Sink::Stdout)?);
        }
        if let Some(err) = child.stderr.take() {
            copies.push(self.copy(err, Sink::Stderr)?);
        }
        Ok(())
    }

    fn copy(self: &Arc<Self>, from: impl std::io::Read + Send + 'static, to: Sink) -> std::io::Result<JoinHandle<()>> {
        let masks = Arc::clone(self);
        std::thread::Builder::new()
            .name("osenv-mask".into())
            .spawn(move || masks.run(from, to))
    }

    fn run(&self, mut from: impl std::io::Read, to: Sink) {
        let mut stream = Stream::new();
        let mut open = true;
        loop {
            let masker = self.masker();
            let read = match from.read(stream.space(&masker)) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let out = stream.filled(read, &masker);
            // osenv's own output gone (a closed pipe): keep reading, so the command is never
            // blocked on a full pipe, and write nothing more.
            open = open && to.write_all(out);
        }
        let masker = self.masker();
        let out = stream.finish(&masker);
        if open {
            to.write_all(out);
        }
    }

    /// Wait for the copies to end (the command and its group have exited, so its pipes are
    /// closed, unless something it started left the group): at most [`DRAIN`].
    pub fn drain(&self) {
        let copies = std::mem::take(&mut *self.copies.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let end = Instant::now() + DRAIN;
        while copies.iter().any(|c| !c.is_finished()) {
            if Instant::now() >= end {
                tracing::warn!(
                    "--mask: the command's output is still open {DRAIN:?} after it ended; not waiting for it"
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// One of osenv's own output streams, written unbuffered: each chunk as it was read.
#[derive(Clone, Copy)]
enum Sink {
    Stdout,
    Stderr,
}

impl Sink {
    /// Write all of `bytes`; false once the stream is gone.
    fn write_all(self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            let written = match self {
                Sink::Stdout => rustix::io::write(std::io::stdout(), bytes),
                Sink::Stderr => rustix::io::write(std::io::stderr(), bytes),
            };
            match written {
                Ok(0) => return false,
                Ok(n) => bytes = &bytes[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return false,
            }
        }
        true
    }
}
