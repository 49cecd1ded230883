//! Where output goes: stdout, or an atomic output file (a temp file in the target's directory,
//! mode 0600, fsync, rename).
//!
//! The temp file is created with `O_EXCL` under a random name, so a symlink planted at a
//! predictable path cannot redirect the write. On any error the temp file is removed and the
//! target is untouched; readers see the old file or the whole new one, never a part.

use osenv::error::{Error, IoError};
use std::io::Write;
use std::path::Path;

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
    let mut tmp = tempfile::Builder::new()
        .prefix(".osenv-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err("cannot create a temporary file next to"))?;
    set_private(tmp.as_file()).map_err(err("cannot set mode 0600 on a temporary file for"))?;
    tmp.write_all(contents).map_err(err("cannot write"))?;
    tmp.as_file().sync_all().map_err(err("cannot sync"))?;
    tmp.persist(path).map_err(|e| IoError {
        verb: "cannot replace",
        path: path.to_owned(),
        source: e.error,
    })?;
    sync_dir(dir);
    Ok(())
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
