//! Reading what the user hands osenv (configs, env files, templates, stdin) with one size bound;
//! every error names the path.

pub mod beneath;

use crate::error::{ConfigError, Error, IoError};
use crate::location::{LineIndex, Location};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// The largest input osenv reads (config, env file, template, value). LiteLLM configs are
/// kilobytes; a hostile or mistaken multi-megabyte input is refused instead of parsed (the parse
/// state is about 15 times the text).
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// The name a path is shown as in messages (`-` is `<stdin>`).
pub fn display_name(path: &Path) -> Arc<str> {
    if path == Path::new("-") {
        "<stdin>".into()
    } else {
        path.to_string_lossy().into()
    }
}

/// Read a file the operator named (a config, an env file, a template), or stdin for `-`, up to
/// [`MAX_INPUT_BYTES`], within `timeout`.
///
/// The file is read through the one opener ([`beneath`]) too: a relative path beneath the
/// working directory (a checkout), an absolute one beneath its own directory. A CI job runs
/// `osenv check config.yaml` on a pull request's checkout, where `config.yaml` or `.env` can
/// be a committed symlink to `~/.kube/config`; named by a path, such a link is refused, not
/// followed. The operator's own pipes (`--env-file <(…)`, `/dev/stdin`) are read as they are.
pub fn read_bytes(path: &Path, timeout: std::time::Duration) -> Result<Vec<u8>, Error> {
    let err = |source| {
        Error::Input(IoError {
            verb: "cannot read",
            path: path.to_owned(),
            source,
        })
    };
    let too_big = || {
        err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {} MiB, the most osenv reads",
                MAX_INPUT_BYTES / (1024 * 1024)
            ),
        ))
    };
    let mut buf = Vec::new();
    let pipe = is_pipe(path);
    let read = if path == Path::new("-") {
        std::io::stdin().lock().take(MAX_INPUT_BYTES + 1).read_to_end(&mut buf)
    } else if pipe {
        let file = std::fs::File::open(path).map_err(err)?;
        file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut buf)
    } else {
        let read = match named_root(path) {
            Some(relative) => beneath::read(Path::new("."), &relative, timeout),
            None => beneath::read_unconfined(path, timeout),
        };
        return match read {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(beneath::Refusal::Io(e)) => Err(err(e)),
            Err(beneath::Refusal::TooLarge) => Err(too_big()),
            Err(refusal @ beneath::Refusal::Escapes { .. }) => Err(err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("it is a link, and {refusal}; name the file it points to"),
            ))),
            Err(refusal) => Err(err(std::io::Error::other(refusal.to_string()))),
        };
    };
    read.map_err(err)?;
    if buf.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    Ok(buf)
}

/// The operator's own pipe: `/dev/stdin`, or a process substitution (`/dev/fd/N`,
/// `/proc/self/fd/N`); read as stdin is, and a config read so has the working directory as
/// its directory.
pub fn is_pipe(path: &Path) -> bool {
    ["/dev/fd/", "/proc/self/fd/"].iter().any(|p| path.starts_with(p)) || path == Path::new("/dev/stdin")
}

/// Where a named path is read beneath the working directory: a relative path that stays in it
/// (a checkout, where a pull request can commit links) is, as that relative path. `None` for an
/// absolute path, or one that leaves the working directory: that is the operator's, read as it
/// is, links and all (`/app/.env -> /run/secrets/litellm.env`), by the same rules otherwise
/// (regular files, the size cap, the deadline). With `/` as the working directory the first
/// rule would confine nothing, so it does not apply.
fn named_root(path: &Path) -> Option<std::path::PathBuf> {
    let cwd_is_root = std::env::current_dir().is_ok_and(|d| d.parent().is_none());
    beneath::lexically_beneath(path).filter(|r| !r.as_os_str().is_empty() && !cwd_is_root)
}

/// `bytes` as UTF-8, or the location of the first invalid byte. The bytes of a file that is not
/// UTF-8 are wiped: an env file holds secrets.
pub(crate) fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String, Location> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = zeroize::Zeroizing::new(e.into_bytes());
        let prefix = zeroize::Zeroizing::new(String::from_utf8_lossy(&bytes[..valid]).into_owned());
        LineIndex::new(display_name(path), &prefix).locate(&prefix, valid)
    })
}

/// Read a UTF-8 text input ([`read_bytes`]); invalid UTF-8 is located.
pub fn read_text(path: &Path, timeout: std::time::Duration) -> Result<String, Error> {
    decode(path, read_bytes(path, timeout)?)
}

/// The text of a config read from `path`; invalid UTF-8 is located.
pub fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, Error> {
    utf8(path, bytes).map_err(|location| Error::Config(vec![ConfigError::Encoding { location }]))
}
