//! `osenv env`: the resolved variables as an env file.

use super::{Session, Ui, emit};
use crate::cli::EnvArgs;
use crate::error::Error;
use crate::render::env_format::{self, Format, K8sOptions};

pub(super) fn run(args: &EnvArgs, ui: Ui) -> Result<(), Error> {
    if args.format == Format::K8sSecret {
        check_k8s_name("--secret-name", &args.secret_name)?;
        if let Some(ns) = &args.namespace {
            check_k8s_name("--namespace", ns)?;
        }
    }
    let session = Session::load(&args.config)?;
    let vars = session.exported(ui, args.allow_missing)?;
    let refs: Vec<_> = vars.iter().map(|(name, value)| (name.as_str(), value)).collect();
    let k8s = K8sOptions {
        name: args.secret_name.clone(),
        namespace: args.namespace.clone(),
    };
    let text = env_format::render(args.format, &refs, &k8s)?;
    emit(args.output.as_deref(), &text)
}

/// A DNS-1123 subdomain, as Kubernetes requires for object names.
fn check_k8s_name(flag: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{flag} `{name}` is not a valid Kubernetes name (lowercase letters, digits, `-`, `.`)"
        )))
    }
}
