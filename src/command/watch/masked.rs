//! `exec --mask`: the command's stdout and stderr come through pipes, and osenv writes them to
//! its own stdout and stderr (each to the stream it came from) with every resolved value
//! masked ([`osenv::mask`]). One thread per stream copies, so a command that fills one pipe
//! while osenv writes the other never blocks on it.
//!
//! With `--watch`, a rotation adds the new values to the previous generation's: a generation
//! still draining is masked with the values it was started with, and the masks stay bounded
//! (two generations' values, not every value ever seen).

use osenv::mask::{Masker, Stream};
use std::collections::{BTreeSet, VecDeque};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long osenv waits, once the command has ended, for its pipes to close (something it
/// started outside its process group may hold them open). Writing what was read is not
/// bounded: a slow reader of osenv's output gets all of it.
const DRAIN: Duration = Duration::from_secs(5);

/// How many generations' values are masked at once: the one running and the one before it.
const GENERATIONS: usize = 2;

/// The masks of a run and the threads copying output through them.
#[derive(Default)]
pub(crate) struct Masks {
    current: RwLock<Arc<Masker>>,
    /// The maskers of the last generations, newest first.
    recent: Mutex<VecDeque<Masker>>,
    /// The last masks prepared, by a keyed hash of their values: a watch prepares them at every
    /// check, and builds them only when the values changed.
    prepared: Mutex<Option<(u64, Arc<Prepared>)>>,
    keys: std::hash::RandomState,
    /// Names already warned about (too short to mask).
    warned: Mutex<BTreeSet<String>>,
    /// The copies, each with whether it is waiting in a read of the command's pipe (not
    /// writing what it read).
    copies: Mutex<Vec<(JoinHandle<()>, Arc<AtomicBool>)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Make osenv's `/proc/PID/fd` unreadable to processes of its user: the command could
/// otherwise write to osenv's own stdout (`/proc/$PPID/fd/1`, or `/proc/1/fd/1` when osenv is
/// PID 1) past the masks. Root (or the same user with `CAP_SYS_PTRACE`) still can: run the
/// command as another user (`--user`).
pub(crate) fn seal() {
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
}

/// A generation's masks, built before it starts: its own values' masker, and that joined with
/// the newest generation's (what the copies use once it runs).
pub(crate) struct Prepared {
    added: Masker,
    joined: Arc<Masker>,
}

impl Masks {
    /// Mask `values` from now on, with the previous generation's values.
    pub fn add<'a>(&self, values: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), osenv::Error> {
        let prepared = self.prepare(values)?;
        self.install(&prepared);
        Ok(())
    }

    /// The masks for a generation with `values` (built here, on the thread that resolved
    /// them, not on the watch loop's: at the size bound an automaton takes a while), joined
    /// with the newest generation's; warn (once per name) about values too short to mask.
    /// The same values as last time reuse what was built.
    pub fn prepare<'a>(
        &self,
        values: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Arc<Prepared>, osenv::Error> {
        let values: Vec<(&str, &str)> = values.into_iter().collect();
        let fingerprint = std::hash::BuildHasher::hash_one(&self.keys, &values);
        if let Some((seen, prepared)) = lock(&self.prepared).as_ref()
            && *seen == fingerprint
        {
            return Ok(Arc::clone(prepared));
        }
        let (added, short) = Masker::new(values)?;
        {
            let mut warned = lock(&self.warned);
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
        }
        let newest = lock(&self.recent).front().cloned();
        let joined = match newest {
            Some(newest) => added.with(&newest)?,
            None => added.clone(),
        };
        let prepared = Arc::new(Prepared {
            added,
            joined: Arc::new(joined),
        });
        *lock(&self.prepared) = Some((fingerprint, Arc::clone(&prepared)));
        Ok(prepared)
    }

    /// Mask with `prepared` from now on (the generation starts): a pointer swap, so a rotation
    /// never stalls the copies or the watch loop.
    pub fn install(&self, prepared: &Prepared) {
        let mut recent = lock(&self.recent);
        recent.push_front(prepared.added.clone());
        recent.truncate(GENERATIONS);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&prepared.joined);
    }

    fn masker(&self) -> Arc<Masker> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Ask `command` for pipes on stdout and stderr (before it starts).
    pub fn pipe(command: &mut std::process::Command) {
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    }

    /// Copy the started `child`'s output to osenv's, masked.
    pub fn attach(self: &Arc<Self>, child: &mut std::process::Child) -> std::io::Result<()> {
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
        let mut copies = lock(&self.copies);
        copies.retain(|(c, _)| !c.is_finished());
        if let Some(out) = child.stdout.take() {
            copies.push(self.copy(out, Sink::Stdout)?);
        }
        if let Some(err) = child.stderr.take() {
            copies.push(self.copy(err, Sink::Stderr)?);
        }
        Ok(())
    }

    fn copy(
        self: &Arc<Self>,
        from: impl std::io::Read + Send + 'static,
        to: Sink,
    ) -> std::io::Result<(JoinHandle<()>, Arc<AtomicBool>)> {
        let masks = Arc::clone(self);
        let reading = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&reading);
        let handle = std::thread::Builder::new()
            .name("osenv-mask".into())
            .spawn(move || masks.run(from, to, &flag))?;
        Ok((handle, reading))
    }

    fn run(&self, mut from: impl std::io::Read, to: Sink, reading: &AtomicBool) {
        let mut stream = Stream::new();
        let mut open = true;
        loop {
            let masker = self.masker();
            reading.store(true, Ordering::SeqCst);
            let read = from.read(stream.space(&masker));
            reading.store(false, Ordering::SeqCst);
            let read = match read {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            if !to.write_all(stream.filled(read, &masker)) {
                // osenv's own output is gone (its reader closed it): close the command's pipe
                // too, so the command learns it as it would writing there itself (SIGPIPE),
                // rather than writing on into nothing.
                open = false;
                break;
            }
        }
        drop(from);
        if open {
            let masker = self.masker();
            to.write_all(stream.finish(&masker));
        }
    }

    /// Wait for the copies to end. Their inputs close when the command and its group have
    /// exited, unless something it started left the group and holds them: once every copy
    /// still running has waited on its input (not on osenv's reader) for [`DRAIN`], they are
    /// left. A copy writing what it read is waited for however long osenv's own reader takes.
    pub fn drain(&self) {
        let copies = std::mem::take(&mut *lock(&self.copies));
        let mut waiting_since: Option<Instant> = None;
        loop {
            let running: Vec<&AtomicBool> = copies
                .iter()
                .filter(|(c, _)| !c.is_finished())
                .map(|(_, reading)| &**reading)
                .collect();
            if running.is_empty() {
                return;
            }
            if running.iter().all(|reading| reading.load(Ordering::SeqCst)) {
                let since = *waiting_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= DRAIN {
                    tracing::warn!(
                        "--mask: something the command started still holds its output open {DRAIN:?} after it ended; not waiting for it"
                    );
                    return;
                }
            } else {
                waiting_since = None;
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
    /// Write all of `bytes`; false once the stream is gone. A non-blocking stream (set so by
    /// whoever shares it) is waited on until it takes more, never given up on.
    fn write_all(self, mut bytes: &[u8]) -> bool {
        let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
        let fd = match self {
            Sink::Stdout => stdout.as_fd(),
            Sink::Stderr => stderr.as_fd(),
        };
        while !bytes.is_empty() {
            match rustix::io::write(fd, bytes) {
                Ok(0) => return false,
                Ok(n) => bytes = &bytes[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => {
                    let mut ready = [rustix::event::PollFd::new(&fd, rustix::event::PollFlags::OUT)];
                    let _ = rustix::event::poll(&mut ready, None);
                }
                Err(_) => return false,
            }
        }
        true
    }
}
