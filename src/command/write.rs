//! `osenv put` and `osenv delete`: write through the config's backend.
//!
//! LiteLLM writes only when `store_virtual_keys` is on and ignores `access_mode` for writes;
//! osenv is an explicit tool, so an explicit command writes, but only when `access_mode`
//! allows writing (`write_only` or `read_and_write`), which keeps a read-only config from being
//! used to change secrets by accident. Both run under the same limits as a read, `--deadline`
//! included.

use super::App;
use crate::cli::{DeleteArgs, PutArgs};
use osenv::backend::DeleteMode;
use osenv::error::{Error, UsageError};
use osenv::input::read_bytes;
use osenv::secret::SecretValue;
use std::path::Path;

pub(super) fn put(args: &PutArgs, app: &App) -> Result<(), Error> {
    if args.config.config == Path::new("-") {
        return Err(UsageError::StdinTaken { command: "put" }.into());
    }
    let session = super::load(&args.config)?;
    let manager = session.writer()?;
    let value = read_value()?;
    let km = session.key_management();
    let name = km.settings.stored_name(&args.name, km.system());
    let limits = session.limits();
    let ctx = limits.context(manager.as_ref());
    app.block_on(async {
        let written = limits
            .within_deadline(manager.as_ref(), manager.write(&name, &value, &ctx))
            .await;
        manager.finish().await;
        written
    })?;
    tracing::info!(name = %name, backend = %manager.describe(), "stored");
    Ok(())
}

/// The value on stdin, one trailing newline removed.
pub(super) fn read_value() -> Result<SecretValue, Error> {
    let mut raw = read_bytes(Path::new("-"), std::time::Duration::MAX)?;
    if raw.ends_with(b"\n") {
        raw.pop();
        if raw.ends_with(b"\r") {
            raw.pop();
        }
    }
    match String::from_utf8(raw) {
        Ok(value) => Ok(SecretValue::new(value)),
        Err(e) => {
            zeroize::Zeroize::zeroize(&mut e.into_bytes());
            Err(UsageError::NotUtf8.into())
        }
    }
}

pub(super) fn delete(args: &DeleteArgs, app: &App) -> Result<(), Error> {
    let session = super::load(&args.config)?;
    let manager = session.writer()?;
    let km = session.key_management();
    let name = km.settings.stored_name(&args.name, km.system());
    let mode = if args.force {
        DeleteMode::Permanent
    } else {
        DeleteMode::Recoverable
    };
    let limits = session.limits();
    let ctx = limits.context(manager.as_ref());
    app.block_on(async {
        let deleted = limits
            .within_deadline(manager.as_ref(), manager.delete(&name, mode, &ctx))
            .await;
        manager.finish().await;
        deleted
    })?;
    tracing::info!(name = %name, backend = %manager.describe(), "deleted");
    Ok(())
}
