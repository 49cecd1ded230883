//! `osenv put` and `osenv delete`: write through the config's backend.
//!
//! LiteLLM writes only when `store_virtual_keys` is on and ignores `access_mode` for writes;
//! osenv is an explicit tool, so an explicit command writes, but only when `access_mode`
//! allows writing (`write_only` or `read_and_write`), which keeps a read-only config from being
//! used to change secrets by accident.

use super::{Session, Ui, block_on, read_input};
use crate::backend::{Backend, Context, DeleteMode};
use crate::cli::{DeleteArgs, PutArgs};
use crate::error::{BackendError, Error};
use crate::secret::SecretValue;
use std::path::Path;
use std::sync::Arc;

fn writable(session: &Session) -> Result<Arc<dyn Backend>, Error> {
    let opened = match &session.manager {
        Some(manager) => Some(Arc::clone(manager)),
        None => {
            crate::backend::open(&session.km, &session.env, &session.envelopes).map_err(|e| Error::Config(vec![e]))?
        }
    };
    let Some(manager) = opened else {
        return Err(Error::Backend(BackendError::NotSupported {
            backend: "the environment (no key_management_system in the config)".into(),
            operation: "writing secrets",
        }));
    };
    if !session.km.settings.access_mode.writes() {
        return Err(Error::Backend(BackendError::ReadOnly {
            backend: manager.describe(),
            access_mode: session.km.settings.access_mode.as_str(),
        }));
    }
    Ok(manager)
}

pub(super) fn put(args: &PutArgs, _ui: Ui) -> Result<(), Error> {
    if args.config.config == Path::new("-") {
        return Err(Error::Usage(
            "put reads the value from stdin, so the config cannot be `-`".into(),
        ));
    }
    let session = Session::load(&args.config)?;
    let manager = writable(&session)?;
    let value = read_value()?;
    let name = session.km.settings.stored_name(&args.name);
    let ctx = Context::new(
        session.options.concurrency,
        session.options.request_timeout,
        session.options.retry,
    );
    block_on(manager.write(&name, &value, &ctx))?;
    tracing::info!(name = %name, backend = %manager.describe(), "stored");
    Ok(())
}

/// The value on stdin, one trailing newline removed.
pub(super) fn read_value() -> Result<SecretValue, Error> {
    let mut raw = read_input(Path::new("-"))?;
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
            Err(Error::Usage("the value on stdin is not valid UTF-8".into()))
        }
    }
}

pub(super) fn delete(args: &DeleteArgs, _ui: Ui) -> Result<(), Error> {
    let session = Session::load(&args.config)?;
    let manager = writable(&session)?;
    let name = session.km.settings.stored_name(&args.name);
    let ctx = Context::new(
        session.options.concurrency,
        session.options.request_timeout,
        session.options.retry,
    );
    let mode = if args.force {
        DeleteMode::Permanent
    } else {
        DeleteMode::Recoverable
    };
    block_on(manager.delete(&name, mode, &ctx))?;
    tracing::info!(name = %name, backend = %manager.describe(), "deleted");
    Ok(())
}
