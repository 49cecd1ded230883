//! `exec --mask`: the command's stdout and stderr come through pipes, and osenv writes them to
//! its own stdout and stderr (each to the stream it came from) with every resolved value
//! masked ([`osenv::mask`]). One thread per stream copies, so a command that fills one pipe
//! while osenv writes the other never blocks on it.
//!
//! With `--watch`, the masks are the values of every generation whose output is still open: a
//! generation is masked from the moment it starts until both its pipes close (its process and
//! anything it started that held them), so one still draining, one kept running after a
//! candidate failed its readiness check, and the new one are all masked; a generation whose
//! output has closed is dropped, so the masks stay bounded by what is running.

use osenv::mask::{Masker, Stream};
use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long osenv waits, once the command has ended, for its pipes to close (something it
/// started outside its process group may hold them open). Writing what was read is not
/// bounded: a slow reader of osenv's output gets all of it.
const DRAIN: Duration = Duration::from_secs(5);

/// The masks of a run and the threads copying output through them.
#[derive(Default)]
pub(crate) struct Masks {
    current: RwLock<Arc<Masker>>,
    /// The generations whose output is open, oldest first.
    live: Mutex<Live>,
    /// The last masks prepared, by a keyed hash of their values and the generations they were
    /// joined with: a watch prepares them at every check, and builds them only on a change.
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
/// every generation live then (what the copies use once it runs).
pub(crate) struct Prepared {
    added: Masker,
    joined: Arc<Masker>,
    /// [`Live::installs`] when it was joined.
    installs: u64,
}

/// The generations whose output is still open.
#[derive(Default)]
struct Live {
    /// Each generation's id, masker and how many of its pipes are still being copied.
    generations: Vec<(u64, Masker, usize)>,
    /// Generations installed so far (the next one's id).
    installs: u64,
}

impl Live {
    /// Every live generation's masks together, and `extra`.
    fn joined(&self, extra: Option<&Masker>) -> Result<Masker, osenv::error::MaskError> {
        let mut joined = extra.cloned().unwrap_or_else(Masker::none);
        for (_, masker, _) in &self.generations {
            joined = joined.with(masker)?;
        }
        Ok(joined)
    }
}

impl Masks {
    /// Mask `values` from now on, with the values of every generation still live.
    pub fn add<'a>(&self, values: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), osenv::Error> {
        let prepared = self.prepare(values)?;
        self.install(&prepared);
        Ok(())
    }

    /// The masks for a generation with `values` (built here, on the thread that resolved
    /// them, not on the watch loop's: at the size bound an automaton takes a while), joined
    /// with every live generation's; warn (once per name) about values too short to mask.
    /// The same values, with no generation started since, reuse what was built.
    pub fn prepare<'a>(
        &self,
        values: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Arc<Prepared>, osenv::Error> {
        let values: Vec<(&str, &str)> = values.into_iter().collect();
        let installs = lock(&self.live).installs;
        let fingerprint = std::hash::BuildHasher::hash_one(&self.keys, (&values, installs));
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
        // The live generations as of now: one that ends before this is installed only makes
        // the masks larger than needed.
        let live: Vec<Masker> = lock(&self.live).generations.iter().map(|(_, m, _)| m.clone()).collect();
        let mut joined = added.clone();
        for masker in &live {
            joined = joined.with(masker)?;
        }
        let prepared = Arc::new(Prepared {
            added,
            joined: Arc::new(joined),
            installs,
        });
        *lock(&self.prepared) = Some((fingerprint, Arc::clone(&prepared)));
        Ok(prepared)
    }

    /// Mask with `prepared` from now on (the generation starts): a pointer swap, so a rotation
    /// never stalls the copies or the watch loop (only if another generation started since it
    /// was prepared are the masks joined here). Generations started whose output never opened
    /// (a start that failed) are dropped.
    pub fn install(&self, prepared: &Prepared) {
        let mut live = lock(&self.live);
        live.generations.retain(|(_, _, open)| *open > 0);
        let current = if prepared.installs == live.installs {
            Arc::clone(&prepared.joined)
        } else {
            // Joining masks that each fit the bounds can only fail at the bound of their sum:
            // keep the prepared masks and this generation's own then.
            Arc::new(live.joined(Some(&prepared.joined)).unwrap_or_else(|e| {
                tracing::warn!("{e}");
                (*prepared.joined).clone()
            }))
        };
        let id = live.installs;
        live.installs += 1;
        live.generations.push((id, prepared.added.clone(), 0));
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = current;
    }

    /// One of the newest generation's pipes is being copied.
    fn opened(&self) -> Option<u64> {
        let mut live = lock(&self.live);
        let newest = live.generations.last_mut()?;
        newest.2 += 1;
        Some(newest.0)
    }

    /// One of generation `id`'s pipes closed: once both have, its values are no longer masked
    /// (the masks are joined again here, on the copy's thread).
    fn closed(&self, id: u64) {
        let (remaining, installs) = {
            let mut live = lock(&self.live);
            let Some(at) = live.generations.iter().position(|(g, _, _)| *g == id) else {
                return;
            };
            live.generations[at].2 -= 1;
            if live.generations[at].2 > 0 {
                return;
            }
            live.generations.remove(at);
            if live.generations.is_empty() {
                return;
            }
            let remaining = Live {
                generations: live.generations.clone(),
                installs: live.installs,
            };
            (remaining, live.installs)
        };
        let Ok(joined) = remaining.joined(None) else { return };
        // Unless a generation started meanwhile (its masks hold the rest and more).
        let live = lock(&self.live);
        if live.installs == installs {
            *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(joined);
        }
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
            let generation = self.opened();
            copies.push(self.copy(out, Sink::Stdout, generation)?);
        }
        if let Some(err) = child.stderr.take() {
            let generation = self.opened();
            copies.push(self.copy(err, Sink::Stderr, generation)?);
        }
        Ok(())
    }

    fn copy(
        self: &Arc<Self>,
        from: impl std::io::Read + Send + 'static,
        to: Sink,
        generation: Option<u64>,
    ) -> std::io::Result<(JoinHandle<()>, Arc<AtomicBool>)> {
        let masks = Arc::clone(self);
        let reading = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&reading);
        let handle = std::thread::Builder::new().name("osenv-mask".into()).spawn(move || {
            masks.run(from, to, &flag);
            if let Some(generation) = generation {
                masks.closed(generation);
            }
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(masks: &Masks, text: &str) -> String {
        let mut out = Vec::new();
        masks.masker().mask_all(text.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    /// A generation that only waits (its pipes open), as one kept running after a candidate
    /// failed its readiness check.
    fn start(masks: &Arc<Masks>, program: &str) -> std::process::Child {
        let mut command = std::process::Command::new("sh");
        command.args(["-c", program]);
        Masks::pipe(&mut command);
        let mut child = command.spawn().unwrap();
        masks.attach(&mut child).unwrap();
        child
    }

    /// Found by the adversary review: with two generations kept, a failed candidate pushed
    /// out the one still running, and its value was printed unmasked after the next rotation.
    #[test]
    fn every_generation_with_open_output_stays_masked() {
        let masks = Arc::new(Masks::default());
        masks.add([("K", "secretvalue-ONE-1111")]).unwrap();
        let mut one = start(&masks, "exec sleep 30");
        masks.add([("K", "secretvalue-TWO-2222")]).unwrap();
        let mut two = start(&masks, "exit 0");
        two.wait().unwrap();
        masks.add([("K", "secretvalue-THREE-3333")]).unwrap();
        let mut three = start(&masks, "exec sleep 30");
        let all = "secretvalue-ONE-1111 secretvalue-THREE-3333";
        assert_eq!(masked(&masks, all), "<K> <K>");
        // Once a generation's output closes, its values leave the masks (bounded by what runs).
        one.kill().unwrap();
        one.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while masked(&masks, all) != "secretvalue-ONE-1111 <K>" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(masked(&masks, all), "secretvalue-ONE-1111 <K>");
        assert_eq!(masked(&masks, "secretvalue-TWO-2222"), "secretvalue-TWO-2222");
        three.kill().unwrap();
        three.wait().unwrap();
        masks.drain();
    }
}
