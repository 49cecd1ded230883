//! `osenv env`: the resolved variables as an env file.

use super::App;
use super::output::emit;
use crate::cli::EnvArgs;
use osenv::error::{Error, UsageError};
use osenv::render::env_format::{self, Format, K8sField, K8sOptions};

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
    let text = async |session: &osenv::Session| -> Result<zeroize::Zeroizing<String>, Error> {
        let resolution = super::exported_async(
            session,
            app.ui,
            args.allow_missing,
            &args.select,
            super::Consumer::EnvFile,
        )
        .await?;
        env_format::render(format, &resolution.exports(), &k8s).map_err(|e| located(e, session))
    };
    if args.watch.watch {
        let output = args
            .output
            .as_deref()
            .ok_or(UsageError::WatchNeedsOutput { command: "env" })?;
        #[cfg(unix)]
        return super::watch::keep_current(
            app,
            &args.config,
            &args.watch,
            output,
            args.on_change.as_deref().map(|hook| (hook, args.on_change_timeout)),
            text,
        );
        #[cfg(not(unix))]
        return Err(UsageError::WatchUnsupported.into());
    }
    let session = super::load(&args.config)?;
    super::guard_output(args.output.as_deref(), &super::inputs(&args.config, &session), false)?;
    emit(args.output.as_deref(), &app.block_on(text(&session))?)
}

/// A format's refusals at the first reference naming each variable, sorted by location (the
/// Secret's own name and namespace, which no reference names, first).
fn located(error: Error, session: &osenv::Session) -> Error {
    let Error::Format(mut refused) = error else {
        return error;
    };
    for refusal in &mut refused {
        refusal.at = session
            .references()
            .iter()
            .filter(|r| r.name == refusal.name)
            .min_by(|a, b| a.location.cmp(&b.location))
            .map(|r| (r.location.clone(), r.written.clone()));
    }
    refused.sort_by(|a, b| a.at.cmp(&b.at));
    Error::Format(refused)
}
