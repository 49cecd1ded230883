//! `osenv env`: the resolved variables as an env file.

use super::App;
use super::output::emit;
use super::report::tolerate_missing;
use crate::cli::EnvArgs;
use osenv::Session;
use osenv::error::{Error, UsageError};
use osenv::plan::Scope;
use osenv::render::env_format::{self, Format, K8sField, K8sOptions};
use osenv::resolve::Purpose;

pub(super) fn run(args: &EnvArgs, app: &App) -> Result<(), Error> {
    let format = Format::from(args.format);
    let k8s = K8sOptions {
        name: args.secret_name.clone(),
        namespace: args.namespace.clone(),
    };
    // Checked before anything is read or resolved; the renderer checks again for itself.
    if format == Format::K8sSecret {
        k8s.validate().map_err(|field| UsageError::KubernetesName {
            flag: match field {
                K8sField::Name => "--secret-name",
                K8sField::Namespace => "--namespace",
            },
            value: match field {
                K8sField::Name => k8s.name.clone(),
                K8sField::Namespace => k8s.namespace.clone().unwrap_or_default(),
            },
        })?;
    }
    let session = Session::load(
        &args.config.config,
        &args.config.env_files,
        args.config.limits.limits()?,
    )?;
    let resolution = app.block_on(session.resolve(session.plan(Scope::Export(session.references())), Purpose::Read));
    let variables = resolution.variable_errors();
    if !variables.is_empty() {
        return Err(Error::Unresolved(resolution.errors(), variables));
    }
    tolerate_missing(resolution.errors(), app.ui, args.allow_missing, "left out")?;
    let text = env_format::render(format, &resolution.exports(), &k8s)?;
    emit(args.output.as_deref(), &text)
}
