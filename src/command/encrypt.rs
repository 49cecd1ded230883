//! `osenv encrypt`: produce the ciphertext an `aws_kms` environment variable holds, without
//! the AWS CLI. The plaintext comes from stdin, never from argv, so it stays out of shell
//! history and `ps`.

use super::App;
use super::output::emit;
use super::write::read_value;
use crate::cli::{EncryptArgs, KmsSystem};
use osenv::environment::Environment;
use osenv::error::{Error, UsageError};
use osenv::input::{display_name, read_text};
use osenv::resolve::Limits;
use osenv::secret::SecretValue;
use osenv::settings::KeyManagementSettings;
use osenv::settings::envelope::VALUE_PREFIX;
use osenv::{Document, Session};
use std::path::Path;
use std::sync::Arc;

pub(super) fn run(args: &EncryptArgs, app: &App) -> Result<(), Error> {
    if args.prefix && args.system != KmsSystem::AwsKms {
        return Err(UsageError::PrefixNeedsAws.into());
    }
    let limits = args.limits.limits()?;
    let env = Arc::new(osenv::Environment::load(
        &args.env_files,
        args.trust.trust(),
        &[],
        limits.deadline,
    )?);
    let settings: KeyManagementSettings = match &args.config {
        Some(path) if path == Path::new("-") => {
            return Err(UsageError::StdinTaken { command: "encrypt" }.into());
        }
        Some(path) => {
            let doc = Document::parse(display_name(path), read_text(path, limits.deadline)?).map_err(Error::Config)?;
            Session::new(doc, Arc::clone(&env))
                .map_err(Error::Config)?
                .key_management()
                .settings
                .clone()
        }
        None => KeyManagementSettings::default(),
    };
    let value = read_value()?;
    if value.expose().is_empty() {
        return Err(UsageError::EmptyInput.into());
    }
    let ciphertext = match args.system {
        KmsSystem::AwsKms => {
            let key = args.key_id.as_deref().ok_or(UsageError::MissingKeyId)?;
            aws(app, &settings, env, key, &value, &limits)?
        }
        KmsSystem::GoogleKms => google(app, env, args.key_id.as_deref(), &value, &limits)?,
    };
    let prefix = if args.prefix { VALUE_PREFIX } else { "" };
    emit(None, &format!("{prefix}{ciphertext}\n"))
}

#[cfg(feature = "aws")]
fn aws(
    app: &App,
    settings: &KeyManagementSettings,
    env: Arc<Environment>,
    key_id: &str,
    value: &SecretValue,
    limits: &Limits,
) -> Result<String, Error> {
    let kms = osenv::backend::aws::kms::Kms::new(&settings.aws, env, osenv::settings::envelope::Envelopes::default());
    let ctx = limits.context(&kms);
    Ok(app.block_on(limits.within_deadline(&kms, kms.encrypt(key_id, value, &ctx)))?)
}

#[cfg(not(feature = "aws"))]
fn aws(
    _: &App,
    _: &KeyManagementSettings,
    _: Arc<Environment>,
    _: &str,
    _: &SecretValue,
    _: &Limits,
) -> Result<String, Error> {
    Err(UsageError::NotBuilt {
        what: "AWS KMS",
        feature: "aws",
    }
    .into())
}

#[cfg(feature = "gcp")]
fn google(
    app: &App,
    env: Arc<Environment>,
    key: Option<&str>,
    value: &SecretValue,
    limits: &Limits,
) -> Result<String, Error> {
    let kms = osenv::backend::gcp::kms::GoogleKms::new(env);
    let ctx = limits.context(&kms);
    Ok(app.block_on(limits.within_deadline(&kms, kms.encrypt(key, value, &ctx)))?)
}

#[cfg(not(feature = "gcp"))]
fn google(_: &App, _: Arc<Environment>, _: Option<&str>, _: &SecretValue, _: &Limits) -> Result<String, Error> {
    Err(UsageError::NotBuilt {
        what: "Google Cloud KMS",
        feature: "gcp",
    }
    .into())
}
