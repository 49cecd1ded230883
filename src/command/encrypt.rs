//! `osenv encrypt`: produce the ciphertext an `aws_kms` environment variable holds, without
//! the AWS CLI. The plaintext comes from stdin, never from argv, so it stays out of shell
//! history and `ps`.

use super::{Session, Ui, display_name, emit, load_environment, read_text, write::read_value};
use crate::backend::Context;
use crate::cli::{EncryptArgs, KmsSystem};
use crate::error::Error;
use crate::settings::KeyManagementSettings;
use std::path::Path;
use std::sync::Arc;

pub(super) fn run(args: &EncryptArgs, _ui: Ui) -> Result<(), Error> {
    if args.prefix && args.system != KmsSystem::AwsKms {
        return Err(Error::Usage(
            "--prefix is LiteLLM's AWS KMS convention; it needs --system aws_kms".into(),
        ));
    }
    let options = args.limits.options()?;
    let env = Arc::new(load_environment(&args.env_files)?);
    let settings: KeyManagementSettings = match &args.config {
        Some(path) if path == Path::new("-") => {
            return Err(Error::Usage(
                "encrypt reads the value from stdin, so the config cannot be `-`".into(),
            ));
        }
        Some(path) => {
            Session::from_text(display_name(path), read_text(path)?, Arc::clone(&env), options.clone())?
                .km
                .settings
        }
        None => KeyManagementSettings::default(),
    };
    let value = read_value()?;
    if value.expose().is_empty() {
        return Err(Error::Usage("nothing to encrypt: stdin is empty".into()));
    }
    let ctx = Context::new(options.concurrency, options.request_timeout, options.retry);
    let ciphertext = match args.system {
        KmsSystem::AwsKms => {
            let key = args
                .key_id
                .as_deref()
                .ok_or_else(|| Error::Usage("--key-id is required for aws_kms".into()))?;
            aws(&settings, env, key, &value, &ctx, options.deadline)?
        }
        KmsSystem::GoogleKms => google(env, args.key_id.as_deref(), &value, &ctx, options.deadline)?,
    };
    let prefix = if args.prefix {
        crate::backend::envelope::VALUE_PREFIX
    } else {
        ""
    };
    emit(None, &format!("{prefix}{ciphertext}\n"))
}

/// Run one KMS call to completion under `--deadline`.
#[cfg(any(feature = "aws", feature = "gcp"))]
fn within_deadline(
    kms: &dyn crate::backend::Backend,
    deadline: std::time::Duration,
    call: impl std::future::Future<Output = Result<String, crate::error::BackendError>>,
) -> Result<String, Error> {
    let result = super::block_on(async { tokio::time::timeout(deadline, call).await });
    Ok(result.unwrap_or_else(|_| {
        Err(crate::error::BackendError::Deadline {
            backend: kms.describe(),
            seconds: deadline.as_secs(),
        })
    })?)
}

#[cfg(feature = "aws")]
fn aws(
    settings: &KeyManagementSettings,
    env: Arc<crate::backend::Environment>,
    key_id: &str,
    value: &crate::secret::SecretValue,
    ctx: &Context,
    deadline: std::time::Duration,
) -> Result<String, Error> {
    let kms = crate::backend::aws::kms::Kms::new(settings, env, crate::backend::envelope::Envelopes::default());
    within_deadline(&kms, deadline, kms.encrypt(key_id, value, ctx))
}

#[cfg(not(feature = "aws"))]
fn aws(
    _: &KeyManagementSettings,
    _: Arc<crate::backend::Environment>,
    _: &str,
    _: &crate::secret::SecretValue,
    _: &Context,
    _: std::time::Duration,
) -> Result<String, Error> {
    Err(Error::Usage(
        "this osenv build has no AWS KMS (built without cargo feature `aws`)".into(),
    ))
}

#[cfg(feature = "gcp")]
fn google(
    env: Arc<crate::backend::Environment>,
    key: Option<&str>,
    value: &crate::secret::SecretValue,
    ctx: &Context,
    deadline: std::time::Duration,
) -> Result<String, Error> {
    let kms = crate::backend::gcp::kms::GoogleKms::new(env);
    within_deadline(&kms, deadline, kms.encrypt(key, value, ctx))
}

#[cfg(not(feature = "gcp"))]
fn google(
    _: Arc<crate::backend::Environment>,
    _: Option<&str>,
    _: &crate::secret::SecretValue,
    _: &Context,
    _: std::time::Duration,
) -> Result<String, Error> {
    Err(Error::Usage(
        "this osenv build has no Google Cloud KMS (built without cargo feature `gcp`)".into(),
    ))
}
