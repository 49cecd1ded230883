//! The one opener for every file read on a config's behalf: the files `include:` names, a
//! reference's file in a `--secrets-dir`, and the file a `NAME_FILE` variable names.
//!
//! Each is read *beneath a root* (the config's directory, the secrets directory, the named file's
//! own directory): the path is resolved by the kernel relative to a handle on the root, and a
//! `..`, an absolute path or a symlink that would leave the root is refused, while links that stay
//! inside keep working (a Kubernetes volume's `NAME -> ..data/NAME -> ..2026_…/NAME`). Comparing
//! path strings cannot do this: a link committed to a repository (`kube.yaml -> ~/.kube/config`)
//! is a path inside the directory that names a file outside it, and a path checked and then
//! reopened can be swapped in between.
//!
//! The confinement is `cap-std`'s: `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` where the
//! kernel has it (Linux 5.6+), and the same rule walked one component at a time with
//! `O_NOFOLLOW` where it does not — older container runtimes' seccomp profiles answer `openat2`
//! with `EPERM` or `ENOSYS`, and refusing to read there would break real deployments. Calling
//! `openat2` directly (through `rustix`) would have been a smaller dependency without that
//! fallback.
//!
//! The file is opened non-blocking and must be a regular file (a FIFO would block the run for
//! good, a device could be endless), is read up to [`MAX_INPUT_BYTES`], and the whole open and
//! read runs on a helper thread the caller waits for at most its timeout (the run's
//! `--deadline`): a hung network mount is an error, not a hang. The helper thread of a read
//! that timed out is left behind; the process exits soon after an error anyway.

use super::MAX_INPUT_BYTES;
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The path, or a link on it, leads out of the root.
    #[error("it leads outside {}, and files are read only beneath it", .root.display())]
    Escapes {
        /// The root it would leave.
        root: PathBuf,
    },
    /// Not a regular file.
    #[error("it is {what}, not a regular file")]
    NotRegular {
        /// What it is instead.
        what: &'static str,
    },
    /// Over the size cap.
    #[error("it is larger than {} MiB, the most osenv reads", MAX_INPUT_BYTES >> 20)]
    TooLarge,
    /// Opening or reading it took longer than the run allows.
    #[error("reading it took longer than {}s (--deadline); a hung mount?", .0.as_secs_f64())]
    TimedOut(Duration),
    /// The system's own error (not found, permission denied, …).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Refusal {
    /// The file is not there (so a caller may look elsewhere).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// `relative`, with `.` removed and `..` applied, as long as it stays beneath the root; `None`
/// for an absolute path or one that climbs out. The kernel checks again (links included); this
/// only gives the plain case a clear message before anything is opened.
pub fn lexically_beneath(relative: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in relative.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Read `relative` beneath `root` (see the module docs), within `timeout`.
pub fn read(root: &Path, relative: &Path, timeout: Duration) -> Result<Zeroizing<Vec<u8>>, Refusal> {
    let (root_owned, relative_owned) = (root.to_owned(), relative.to_owned());
    bounded(timeout, move || read_now(&root_owned, &relative_owned))
}

/// [`read`], or `None` when `relative` names nothing beneath `root` (not even a dangling link,
/// which is an error: it is there, and cannot be read). One helper thread for both.
pub fn read_if_present(root: &Path, relative: &Path, timeout: Duration) -> Option<Result<Zeroizing<Vec<u8>>, Refusal>> {
    let (root_owned, relative_owned) = (root.to_owned(), relative.to_owned());
    let found = bounded(timeout, move || {
        let Some(lexical) = lexically_beneath(&relative_owned) else {
            return Ok(None);
        };
        // A directory that is not there holds nothing (`--secrets-dir` may name one that is
        // mounted only in some pods): the lookup goes on to the next place.
        let root = match open_root(&root_owned) {
            Err(Refusal::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            root => root?,
        };
        match root.symlink_metadata(&lexical) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            _ => read_now(&root_owned, &relative_owned).map(Some),
        }
    });
    found.transpose()
}

/// Whether `relative` names anything beneath `root` (without following a last link, as LiteLLM's
/// `os.path.exists` would see a link that is there); `false` for a path that leaves the root
/// lexically or cannot be looked at within `timeout`.
pub fn exists(root: &Path, relative: &Path, timeout: Duration) -> bool {
    let Some(relative) = lexically_beneath(relative) else {
        return false;
    };
    let root = root.to_owned();
    bounded(timeout, move || {
        let dir = open_root(&root)?;
        if relative.as_os_str().is_empty() {
            return Ok(true);
        }
        Ok(dir.symlink_metadata(&relative).is_ok())
    })
    .unwrap_or(false)
}

/// A handle on `root`. A relative root that stays in the working directory is itself opened
/// beneath it: `--secrets-dir secrets` in a checkout must not follow a committed
/// `secrets -> ~/.aws`. An absolute root is the operator's path, links and all
/// (`/var/run -> /run`).
fn open_root(root: &Path) -> Result<cap_std::fs::Dir, Refusal> {
    let ambient = |p: &Path| cap_std::fs::Dir::open_ambient_dir(p, cap_std::ambient_authority());
    if root.is_absolute() {
        return Ok(ambient(root)?);
    }
    let Some(relative) = lexically_beneath(root) else {
        return Ok(ambient(root)?);
    };
    let cwd = ambient(Path::new("."))?;
    if relative.as_os_str().is_empty() {
        return Ok(cwd);
    }
    cwd.open_dir(&relative).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied && e.raw_os_error().is_none() {
            Refusal::Escapes {
                root: PathBuf::from("the working directory"),
            }
        } else {
            Refusal::Io(e)
        }
    })
}

fn read_now(root: &Path, relative: &Path) -> Result<Zeroizing<Vec<u8>>, Refusal> {
    use cap_std::fs::OpenOptionsExt as _;
    let escapes = || Refusal::Escapes { root: root.to_owned() };
    let relative = lexically_beneath(relative).ok_or_else(escapes)?;
    let dir = open_root(root)?;
    let mut options = cap_std::fs::OpenOptions::new();
    // Non-blocking, so a FIFO opens at once (and is refused below) instead of waiting for a
    // writer; no controlling terminal from a tty.
    options.read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    let file = dir.open_with(&relative, &options).map_err(|e| {
        // cap-std reports an escape as PermissionDenied without an OS error code (a real
        // EACCES carries one).
        if e.kind() == std::io::ErrorKind::PermissionDenied && e.raw_os_error().is_none() {
            escapes()
        } else {
            Refusal::Io(e)
        }
    })?;
    regular_contents(file.into_std())
}

/// A file the operator named by an absolute path (or one leaving the working directory): read
/// as it is, links and all, but by the same rules otherwise — non-blocking, regular files
/// only, the size cap, within `timeout`.
pub fn read_unconfined(path: &Path, timeout: Duration) -> Result<Zeroizing<Vec<u8>>, Refusal> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = path.to_owned();
    bounded(timeout, move || {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&path)?;
        regular_contents(file)
    })
}

/// The contents of an open file that must be a regular one, up to [`MAX_INPUT_BYTES`].
fn regular_contents(file: std::fs::File) -> Result<Zeroizing<Vec<u8>>, Refusal> {
    use std::os::unix::fs::FileTypeExt as _;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(Refusal::NotRegular { what });
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(Refusal::TooLarge);
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(Refusal::TooLarge);
    }
    Ok(bytes)
}

/// Run `work` on a helper thread and wait for it at most `timeout`.
fn bounded<T: Send + 'static>(
    timeout: Duration,
    work: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("osenv-file-read".into())
        .spawn(move || {
            let _ = tx.send(work());
        });
    if let Err(e) = spawned {
        return Err(Refusal::Io(e));
    }
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => Err(Refusal::TimedOut(timeout)),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const T: Duration = Duration::from_secs(5);

    fn text(r: Result<Zeroizing<Vec<u8>>, Refusal>) -> Result<String, String> {
        r.map(|b| String::from_utf8(b.to_vec()).unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn links_inside_the_root_are_followed_and_links_out_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("..2026/sub")).unwrap();
        std::fs::write(root.join("..2026/sub/A"), "inside").unwrap();
        std::fs::write(tmp.path().join("outside"), "outside-canary").unwrap();
        symlink("..2026", root.join("..data")).unwrap();
        symlink("..data/sub/A", root.join("A")).unwrap();
        symlink("../outside", root.join("up")).unwrap();
        symlink(tmp.path().join("outside"), root.join("absolute")).unwrap();
        symlink("..data/../../outside", root.join("through")).unwrap();
        assert_eq!(text(read(&root, Path::new("A"), T)).unwrap(), "inside");
        assert_eq!(
            text(read(&root, Path::new("./..data/sub/../sub/A"), T)).unwrap(),
            "inside"
        );
        for name in ["up", "absolute", "through", "../outside"] {
            let err = text(read(&root, Path::new(name), T)).unwrap_err();
            assert!(err.starts_with("it leads outside"), "{name}: {err}");
            assert!(!err.contains("canary"));
        }
        assert!(
            text(read(&root, &tmp.path().join("outside"), T))
                .unwrap_err()
                .starts_with("it leads outside")
        );
        assert!(
            exists(&root, Path::new("up"), T),
            "a link is there, as LiteLLM would see it"
        );
        assert!(!exists(&root, Path::new("../outside"), T));
        assert!(!exists(&root, Path::new("nope"), T));
        assert!(read_if_present(&root, Path::new("nope"), T).is_none());
        assert!(read_if_present(&root, Path::new("up"), T).unwrap().is_err());
        assert_eq!(
            text(read_if_present(&root, Path::new("A"), T).unwrap()).unwrap(),
            "inside"
        );
    }

    #[test]
    fn only_regular_files_are_read_and_a_fifo_does_not_block() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        std::fs::create_dir(tmp.path().join("dir")).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(
            text(read(tmp.path(), Path::new("fifo"), T)).unwrap_err(),
            "it is a FIFO, not a regular file"
        );
        assert!(started.elapsed() < T, "the FIFO was refused, not waited on");
        assert_eq!(
            text(read(tmp.path(), Path::new("dir"), T)).unwrap_err(),
            "it is a directory, not a regular file"
        );
        let missing = read(tmp.path(), Path::new("missing"), T).unwrap_err();
        assert!(missing.is_not_found(), "{missing}");
    }

    #[test]
    fn a_read_that_does_not_finish_is_an_error_at_the_timeout() {
        let started = std::time::Instant::now();
        let r = bounded(Duration::from_millis(100), || {
            std::thread::sleep(Duration::from_secs(3));
            Ok(())
        });
        assert!(matches!(r, Err(Refusal::TimedOut(_))));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn lexical_paths() {
        assert_eq!(lexically_beneath(Path::new("a/./b/../c")), Some(PathBuf::from("a/c")));
        assert_eq!(lexically_beneath(Path::new("a/../../c")), None);
        assert_eq!(lexically_beneath(Path::new("/etc/passwd")), None);
    }
}
