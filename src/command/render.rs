//! `osenv render`: the config with every reference replaced.

use super::{Session, Ui, emit, tolerate_missing};
use crate::cli::RenderArgs;
use crate::error::Error;
use crate::render::yaml::{self, Coercion, RenderOptions};
use crate::resolve::Purpose;

pub(super) fn run(args: &RenderArgs, ui: Ui) -> Result<(), Error> {
    let session = Session::load(&args.config)?;
    let plan = session.plan();
    let resolution = session.resolve(&plan, Purpose::Read);
    let errors = resolution.errors(&session.discovery.references, &session.km, &plan);
    tolerate_missing(errors, ui, args.allow_missing, "rendered as null")?;
    let options = RenderOptions {
        keep_key_management: args.keep_key_management,
        coercion: if args.no_coerce {
            Coercion::Off
        } else {
            session.coercion()
        },
    };
    let rendered = yaml::render(
        &session.doc,
        &session.discovery.references,
        |r| resolution.get(&r.name).and_then(|v| v.as_ref().ok()),
        options,
    );
    if let Some(at) = rendered.kept_key_management {
        ui.warn(format_args!(
            "{at}: key-management settings kept: they hold an anchor used elsewhere in the config"
        ));
    }
    emit(args.output.as_deref(), &rendered.text)?;
    session.finish();
    Ok(())
}
