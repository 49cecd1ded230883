//! Where output goes: stdout, or an atomic output file (a temp file in the target's directory,
//! mode 0600, fsync, rename).
//!
//! The temp file is created with `O_EXCL` under a random name (`.osenv-<pid>-<random>.tmp`, so a
//! stale one is recognisable), so a symlink planted at a predictable path cannot redirect the
//! write. On any error, and on any fatal signal but SIGKILL while it exists, the temp file is
//! removed and the target is untouched; readers see the old file or the whole new one, never a
//! part. Only a regular file (or nothing) at the target is replaced: a symlink, a device such as
//! `/dev/stdout`, a FIFO or a directory there is an error, since a 0600 file of secrets silently
//! taking its place is never what was meant.

use osenv::error::{Error, IoError};
use std::io::Write;
use std::path::Path;

/// Set when the process handles SIGTERM, SIGINT and SIGHUP itself (`--watch`): it writes only
/// between signals, so no temp file can be left by one, and its own handlers must stay.
static CALLER_HANDLES_SIGNALS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Leave SIGTERM, SIGINT and SIGHUP to the caller from now on (see [`write_atomic`]).
pub(crate) fn signals_handled_by_caller() {
    CALLER_HANDLES_SIGNALS.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Write `text` to `output` atomically, or to stdout.
pub(crate) fn emit(output: Option<&Path>, text: &str) -> Result<(), Error> {
    if let Some(path) = output {
        return write_atomic(path, text.as_bytes()).map_err(Error::Output);
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| {
            Error::Output(IoError {
                verb: "cannot write",
                path: "<stdout>".into(),
                source,
            })
        })
}

/// Whether `a` and `b` are the same existing file (device and inode on Unix; the canonical
/// paths elsewhere), through any links.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

/// Write `contents` to `path` atomically with mode 0600.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), IoError> {
    let err = |verb| {
        move |source| IoError {
            verb,
            path: path.to_owned(),
            source,
        }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    refuse_non_regular(path)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".osenv-{}-", std::process::id()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err("cannot create a temporary file next to"))?;
    let _armed = (!CALLER_HANDLES_SIGNALS.load(std::sync::atomic::Ordering::SeqCst))
        .then(|| signals::remove_on_signal(tmp.path()));
    set_private(tmp.as_file()).map_err(err("cannot set mode 0600 on a temporary file for"))?;
    tmp.write_all(contents).map_err(err("cannot write"))?;
    tmp.as_file().sync_all().map_err(err("cannot sync"))?;
    hold_for_tests();
    tmp.persist(path).map_err(|e| IoError {
        verb: "cannot replace",
        path: path.to_owned(),
        source: e.error,
    })?;
    sync_dir(dir);
    Ok(())
}

/// Only a regular file, or nothing, may be replaced.
fn refuse_non_regular(path: &Path) -> Result<(), IoError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(IoError {
                verb: "cannot inspect",
                path: path.to_owned(),
                source,
            });
        }
    };
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "a device, FIFO or socket"
    };
    Err(IoError {
        verb: "will not replace",
        path: path.to_owned(),
        source: std::io::Error::other(format!(
            "it is {what}; osenv writes only regular files with -o (write to stdout to pipe the output)"
        )),
    })
}

/// Debug builds only: wait `OSENV_TEST_HOLD_OUTPUT_MS` between writing the temp file and the
/// rename, so a test can signal the process while the temp file exists.
fn hold_for_tests() {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("OSENV_TEST_HOLD_OUTPUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Removing the temp file when the process is told to stop while it exists.
#[cfg(unix)]
#[allow(unsafe_code)]
mod signals {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt as _;
    use std::path::Path;
    use std::sync::Once;
    use std::sync::atomic::{AtomicPtr, Ordering};

    /// The temp file's path while it exists, for the handler.
    static TEMP: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
    /// Every signal whose default action ends the process, but SIGPIPE (ignored by Rust's
    /// runtime: a closed stdout is an error, not a death) and SIGKILL/SIGSTOP (cannot be caught).
    /// SIGXFSZ matters in practice: `ulimit -f` stops a large render half-way.
    const SIGNALS: [libc::c_int; 17] = [
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGALRM,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGPROF,
        libc::SIGVTALRM,
        libc::SIGSYS,
        libc::SIGTRAP,
        libc::SIGABRT,
        libc::SIGBUS,
        libc::SIGPWR,
        libc::SIGSTKFLT,
    ];

    /// While the returned guard lives, any of [`SIGNALS`] removes `path` first.
    pub(super) fn remove_on_signal(path: &Path) -> Armed {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            for signal in SIGNALS {
                // SAFETY: a zeroed sigaction is valid; the handler only calls async-signal-safe
                // functions (unlink, raise) on a path set before it can run.
                unsafe {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction = handler as *const () as libc::sighandler_t;
                    action.sa_flags = libc::SA_RESETHAND;
                    libc::sigemptyset(&raw mut action.sa_mask);
                    libc::sigaction(signal, &raw const action, std::ptr::null_mut());
                }
            }
        });
        if let Ok(path) = CString::new(path.as_os_str().as_bytes()) {
            TEMP.store(path.into_raw(), Ordering::SeqCst);
        }
        Armed
    }

    /// Disarms when dropped (after the rename, or after an error removed the file).
    pub(super) struct Armed;

    impl Drop for Armed {
        fn drop(&mut self) {
            let path = TEMP.swap(std::ptr::null_mut(), Ordering::SeqCst);
            if !path.is_null() {
                // SAFETY: made by `CString::into_raw` above and taken out of TEMP exactly once.
                drop(unsafe { CString::from_raw(path) });
            }
        }
    }

    extern "C" fn handler(signal: libc::c_int) {
        let path = TEMP.swap(std::ptr::null_mut(), Ordering::SeqCst);
        // SAFETY: unlink and raise are async-signal-safe; the path is a valid C string that
        // no one frees once it is out of TEMP (the process ends here).
        unsafe {
            if !path.is_null() {
                libc::unlink(path);
            }
            // SA_RESETHAND restored the default action: end the way the signal would have.
            libc::raise(signal);
        }
    }
}

#[cfg(not(unix))]
mod signals {
    pub(super) fn remove_on_signal(_: &std::path::Path) {}
}

#[cfg(unix)]
fn set_private(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // tempfile already creates 0600; set it again so no umask or platform default can widen it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_private(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// Make the rename durable; failure here is not an error for the user (the data is written).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn writes_0600_and_replaces() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.yaml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_path() {
        let err = write_atomic(Path::new("/nonexistent-osenv-dir/out.yaml"), b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-osenv-dir/out.yaml"));
    }
}
