//! `osenv render`: the config with every reference replaced.

use super::output::emit;
use super::report::{every_error, failed};
use super::{App, Ui};
use crate::cli::RenderArgs;
use osenv::error::{Error, UsageError, Within};
use osenv::plan::{Route, Scope};
use osenv::render::yaml::{self, Coercion, RenderOptions};
use osenv::resolve::Purpose;

pub(super) fn run(args: &RenderArgs, app: &App) -> Result<(), Error> {
    if args.watch.watch {
        let output = args
            .output
            .as_deref()
            .ok_or(UsageError::WatchNeedsOutput { command: "render" })?;
        let ui = app.ui;
        #[cfg(not(unix))]
        return Err(osenv::error::UsageError::WatchUnsupported.into());
        #[cfg(unix)]
        return super::watch::keep_current(
            app,
            &args.config,
            &args.watch,
            output,
            args.on_change.as_deref().map(|hook| (hook, args.on_change_timeout)),
            async |session: &osenv::Session| text(args, session, ui).await,
        );
    }
    let session = super::load(&args.config)?;
    let in_place = super::guard_output(
        args.output.as_deref(),
        &super::inputs(&args.config, &session),
        args.in_place,
    )?;
    let text = app.block_on(text(args, &session, app.ui))?;
    emit(args.output.as_deref(), &text)?;
    if let Some(warning) = in_place {
        app.ui.warn(format_args!("{warning}"));
    }
    session.finish();
    Ok(())
}

/// The rendered config.
async fn text(args: &RenderArgs, session: &osenv::Session, ui: Ui) -> Result<zeroize::Zeroizing<String>, Error> {
    let plan = session.plan(Scope::References(session.references()));
    let resolution = session.resolve(plan, Purpose::Read).await;
    let missing = failed(resolution.errors(), ui, args.allow_missing, "rendered as null");
    let options = RenderOptions {
        keep_key_management: args.keep_key_management,
        coercion: if args.no_coerce {
            Coercion::Off
        } else {
            session.coercion()
        },
    };
    let unwritable = yaml::check_values(
        session.references(),
        |r| resolution.value(&r.name),
        |name| match resolution.plan().get(name).map(|p| p.route) {
            Some(Route::Manager) => Within::backend(session.backend_name()),
            _ => Within::backend(session.environment().describe()),
        },
    );
    let values = |name: &str| resolution.get(name);
    let findings = osenv::boot::findings(
        session,
        &osenv::boot::Proxy::Elsewhere {
            values: &values,
            missing_is_null: args.allow_missing,
            reads_booleans: !args.no_coerce,
            exported: false,
        },
    );
    let (mut refused, variables) = super::boot_check(&findings, ui);
    refused.extend(unwritable);
    every_error(missing, refused, variables)?;
    let rendered = yaml::render_sources(
        session.sources(),
        session.references(),
        |r| resolution.value(&r.name),
        options,
    )
    .map_err(Error::Config)?;
    if let Some(at) = rendered.kept_key_management {
        ui.warn(format_args!(
            "{at}: key-management settings kept in the output: removing them would change another part of the config (an anchor, alias or `<<` merge)"
        ));
    }
    drop(resolution);
    Ok(rendered.text)
}
