//! `osenv check`: every reference, where it is and where it resolves; never a value.

use super::App;
use super::output::emit;
use crate::cli::{CheckArgs, CheckFormat};
use osenv::Session;
use osenv::error::Error;
use osenv::location::Location;
use osenv::plan::{Route, Scope};
use osenv::resolve::{Purpose, Resolution};
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Serialize)]
struct Report<'a> {
    config: &'a str,
    backend: String,
    ok: bool,
    references: Vec<Row>,
    hosted_keys: Vec<Row>,
    warnings: Vec<Warning>,
}

#[derive(Serialize)]
struct Row {
    location: Location,
    reference: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    route: Route,
    source: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct Warning {
    location: Location,
    message: String,
}

pub(super) fn run(args: &CheckArgs, app: &App) -> Result<(), Error> {
    let session = super::load(&args.config)?;
    let scope = Scope::References(session.references());
    let resolution = if args.offline {
        None
    } else {
        Some(app.block_on(session.resolve(session.plan(scope), Purpose::Exists)))
    };
    let offline;
    let plan = if let Some(resolution) = &resolution {
        resolution.plan()
    } else {
        offline = session.plan(scope);
        &offline
    };
    let env = session.environment();
    let source = |name: &str, route: Route| match route {
        Route::Manager => session.manager().map_or_else(String::new, osenv::Backend::describe),
        Route::Environment => env
            .reference_lookup(name)
            .map_or_else(|| env.describe(), |(_, origin)| origin.to_string()),
    };
    let status = |name: &str| -> (&'static str, Option<String>) {
        match resolution.as_ref().and_then(|r| r.get(name)) {
            None => ("unchecked", None),
            Some(Ok(_)) => ("ok", None),
            Some(Err(e)) => ("error", Some(e.to_string())),
        }
    };
    let references: Vec<Row> = session
        .references()
        .iter()
        .map(|r| {
            let route = plan.get(&r.name).map_or(Route::Environment, |p| p.route);
            let (status, error) = status(&r.name);
            Row {
                location: r.location.clone(),
                reference: r.written.clone(),
                name: r.name.clone(),
                path: Some(r.path.clone()),
                route,
                source: source(&r.name, route),
                status,
                error,
            }
        })
        .collect();
    let hosted_keys: Vec<Row> = plan
        .hosted()
        .iter()
        .filter(|(name, _)| plan.get(name).is_some_and(|p| !p.referenced))
        .map(|(name, location)| {
            let route = plan.get(name).map_or(Route::Environment, |p| p.route);
            let (status, error) = status(name);
            Row {
                location: location.clone(),
                reference: name.clone(),
                name: name.clone(),
                path: None,
                route,
                source: source(name, route),
                status,
                error,
            }
        })
        .collect();
    let warnings = warnings(&session);
    let errors = resolution.as_ref().map(Resolution::errors).unwrap_or_default();
    let report = Report {
        config: session.document().file(),
        backend: session.backend_name(),
        ok: errors.is_empty(),
        references,
        hosted_keys,
        warnings,
    };
    let text = match args.format {
        CheckFormat::Json => serde_json::to_string_pretty(&report).expect("a report serializes") + "\n",
        CheckFormat::Text => text(&report),
    };
    emit(None, &text)?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Unresolved(errors, Vec::new()))
    }
}

/// What LiteLLM leaves alone and what the settings say, sorted by location.
fn warnings(session: &Session) -> Vec<Warning> {
    let mut warnings: Vec<Warning> = session
        .notices()
        .iter()
        .map(|n| Warning {
            location: n.location.clone(),
            message: format!("`{}` is not resolved: {}", n.written, n.kind),
        })
        .chain(session.key_management().warnings.iter().map(|w| Warning {
            location: w.location.clone(),
            message: w.message.clone(),
        }))
        .collect();
    warnings.sort_by(|a, b| a.location.cmp(&b.location));
    warnings
}

fn text(report: &Report<'_>) -> String {
    let mut out = String::new();
    let names: std::collections::BTreeSet<&str> = report.references.iter().map(|r| r.name.as_str()).collect();
    let _ = writeln!(
        out,
        "{}: {} reference(s) to {} name(s); backend: {}",
        report.config,
        report.references.len(),
        names.len(),
        report.backend
    );
    let rows = |out: &mut String, rows: &[Row]| {
        let w_loc = rows.iter().map(|r| r.location.to_string().len()).max().unwrap_or(0);
        let w_ref = rows.iter().map(|r| r.reference.chars().count()).max().unwrap_or(0);
        for r in rows {
            let status = match &r.error {
                Some(e) => format!("error: {e}"),
                None => format!("{} ({})", r.status, r.source),
            };
            let path = r.path.as_deref().map(|p| format!("  {p}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<w_loc$}  {:<w_ref$}  {status}{path}",
                r.location.to_string(),
                r.reference
            );
        }
    };
    rows(&mut out, &report.references);
    if !report.hosted_keys.is_empty() {
        let _ = writeln!(
            out,
            "hosted_keys not referenced in the config (exported by `env` and `exec`):"
        );
        rows(&mut out, &report.hosted_keys);
    }
    for w in &report.warnings {
        let _ = writeln!(out, "warning: {}: {}", w.location, w.message);
    }
    out
}
