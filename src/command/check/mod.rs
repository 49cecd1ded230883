//! `osenv check`: every reference, where it is and where it resolves; never a value. Also the
//! config validator a CI job runs: every finding has a stable rule id ([`findings`]), in the
//! text table, JSON, GitHub workflow commands ([`github`]) and SARIF ([`sarif`]).

mod findings;
mod github;
mod sarif;

use super::App;
use super::output::emit;
use crate::cli::{CheckArgs, CheckFormat};
use findings::{Finding, Level};
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
    /// Everything above that is a finding, with its rule id, plus plain-text credentials.
    findings: Vec<FindingRow>,
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
    /// The rule id of the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'static str>,
}

#[derive(Serialize)]
struct FindingRow {
    rule: &'static str,
    level: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
    message: String,
}

impl From<&Finding> for FindingRow {
    fn from(f: &Finding) -> Self {
        Self {
            rule: f.rule.id(),
            level: f.level.as_str(),
            location: f.location.clone(),
            message: f.message.clone(),
        }
    }
}

#[derive(Serialize)]
struct Warning {
    location: Location,
    message: String,
}

pub(super) fn run(args: &CheckArgs, app: &App) -> Result<(), Error> {
    let session = match super::load(&args.config) {
        Ok(session) => session,
        // A CI job reads the findings from stdout: a config that does not load is one too.
        Err(Error::Config(errors)) if matches!(args.format, CheckFormat::Github | CheckFormat::Sarif) => {
            let findings: Vec<Finding> = errors.iter().map(Finding::config).collect();
            emit(None, &machine(args.format, &findings, false))?;
            return Err(Error::Config(errors));
        }
        Err(e) => return Err(e),
    };
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
    let mut findings: Vec<Finding> = Vec::new();
    // One row per reference (and unreferenced `hosted_keys` entry); a failure is a finding too.
    let mut row = |location: &Location, written: &str, name: &str, path: Option<&str>| {
        let route = plan.get(name).map_or(Route::Environment, |p| p.route);
        let (status, error, rule) = match resolution.as_ref().and_then(|r| r.get(name)) {
            None => ("unchecked", None, None),
            Some(Ok(_)) => ("ok", None, None),
            Some(Err(e)) => {
                findings.push(Finding::unresolved(location, written, e));
                ("error", Some(e.to_string()), Some(findings::Rule::of(e).id()))
            }
        };
        Row {
            location: location.clone(),
            reference: written.to_owned(),
            name: name.to_owned(),
            path: path.map(str::to_owned),
            route,
            source: source(name, route),
            status,
            error,
            rule,
        }
    };
    let references: Vec<Row> = session
        .references()
        .iter()
        .map(|r| row(&r.location, &r.written, &r.name, Some(&r.path)))
        .collect();
    let hosted_keys: Vec<Row> = plan
        .hosted()
        .iter()
        .filter(|(name, _)| plan.get(name).is_some_and(|p| !p.referenced))
        .map(|(name, location)| row(location, name, name, None))
        .collect();
    let boot = boot(&session, resolution.as_ref(), app);
    findings.extend(boot.iter().map(Finding::boot));
    let strict = more_findings(&session, &mut findings, args.strict);
    let warnings = warnings(&session);
    let (mut errors, variables) = osenv::boot::refusals(&boot);
    errors.extend(resolution.as_ref().map(Resolution::errors).unwrap_or_default());
    errors.sort_by(|a, b| a.location.cmp(&b.location));
    let text = match args.format {
        CheckFormat::Github | CheckFormat::Sarif => machine(args.format, &findings, true),
        CheckFormat::Json | CheckFormat::Text => {
            let report = Report {
                config: session.document().file(),
                backend: session.backend_name(),
                ok: errors.is_empty() && variables.is_empty() && strict == 0,
                references,
                hosted_keys,
                warnings,
                findings: findings.iter().map(FindingRow::from).collect(),
            };
            if args.format == CheckFormat::Json {
                osenv::escape::json(&serde_json::to_string_pretty(&report).expect("a report serializes")) + "\n"
            } else {
                // Every line of the table through the one escaper: key paths, references and
                // file names come from the config.
                osenv::escape::lines(&text(&report, &findings))
            }
        }
    };
    emit(None, &text)?;
    if !errors.is_empty() || !variables.is_empty() {
        Err(Error::Unresolved(errors, variables))
    } else if strict > 0 {
        Err(Error::Strict { warnings: strict })
    } else {
        Ok(())
    }
}

/// LiteLLM's boot verdicts (the master key, `oidc/` tokens). The master key needs the values
/// `Purpose::Exists` does not read: the few names it reads are read once more, for their
/// values (never shown).
fn boot(session: &Session, resolution: Option<&Resolution<'_>>, app: &App) -> Vec<osenv::boot::Finding> {
    let wanted: Vec<String> = osenv::boot::names(session)
        .into_iter()
        .filter(|name| matches!(resolution.and_then(|r| r.get(name)), Some(Ok(_))))
        .collect();
    let read =
        (!wanted.is_empty()).then(|| app.block_on(session.resolve(session.plan(Scope::Names(&wanted)), Purpose::Read)));
    let values = |name: &str| match read.as_ref().and_then(|r| r.get(name)) {
        Some(value) => Some(value),
        None => resolution.and_then(|r| r.get(name)).filter(|r| r.is_err()),
    };
    osenv::boot::findings(
        session,
        &osenv::boot::Proxy::Elsewhere {
            values: &values,
            missing_is_null: false,
            reads_booleans: true,
            exported: false,
        },
    )
}

/// Add what is not about a reference's value (what LiteLLM leaves alone, settings, plain-text
/// credentials), raise warnings to errors with `strict`, and sort; the number raised.
fn more_findings(session: &Session, findings: &mut Vec<Finding>, strict: bool) -> usize {
    // An `oidc/` reference LiteLLM cannot fetch is an error ([`osenv::boot::oidc`]), not also
    // a note that LiteLLM fetches it.
    let unavailable: Vec<Option<osenv::location::Location>> = findings
        .iter()
        .filter(|f| f.rule == findings::Rule::OidcUnavailable)
        .map(|f| f.location.clone())
        .collect();
    findings.extend(
        session
            .notices()
            .iter()
            .filter(|n| !unavailable.contains(&Some(n.location.clone())))
            .map(Finding::notice),
    );
    findings.extend(
        session
            .key_management()
            .warnings
            .iter()
            .map(|w| Finding::setting(&w.location, &w.message)),
    );
    findings.extend(session.plaintext().iter().map(Finding::plaintext));
    let mut raised = 0;
    if strict {
        for f in findings.iter_mut().filter(|f| f.level == Level::Warning) {
            f.level = Level::Error;
            raised += 1;
        }
    }
    findings.sort_by(|a, b| (&a.location, a.rule).cmp(&(&b.location, b.rule)));
    raised
}

/// The GitHub or SARIF rendering of `findings`; `analyzed`: the config could be checked at all.
fn machine(format: CheckFormat, findings: &[Finding], analyzed: bool) -> String {
    match format {
        CheckFormat::Github => github::commands(findings),
        _ => sarif::log(findings, analyzed),
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

/// The text report. Each field from the config is escaped on its own (so a newline in a key
/// cannot start a row of its own), and the caller passes every line through the escaper again.
fn text(report: &Report<'_>, findings: &[Finding]) -> String {
    use osenv::escape::text as e;
    let mut out = String::new();
    let names: std::collections::BTreeSet<&str> = report.references.iter().map(|r| r.name.as_str()).collect();
    let _ = writeln!(
        out,
        "{}: {} reference(s) to {} name(s); backend: {}",
        e(report.config),
        report.references.len(),
        names.len(),
        e(&report.backend)
    );
    let rows = |out: &mut String, rows: &[Row]| {
        let cells: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| {
                let status = match (&r.error, r.rule) {
                    (Some(err), Some(rule)) => format!("error: {} [{rule}]", e(err)),
                    (Some(err), None) => format!("error: {}", e(err)),
                    (None, _) => format!("{} ({})", r.status, e(&r.source)),
                };
                let path = r.path.as_deref().map(|p| format!("  {}", e(p))).unwrap_or_default();
                (
                    e(&r.location.to_string()).into_owned(),
                    e(&r.reference).into_owned(),
                    status + &path,
                )
            })
            .collect();
        let w_loc = cells.iter().map(|c| c.0.len()).max().unwrap_or(0);
        let w_ref = cells.iter().map(|c| c.1.chars().count()).max().unwrap_or(0);
        for (location, reference, status) in cells {
            let _ = writeln!(out, "  {location:<w_loc$}  {reference:<w_ref$}  {status}");
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
    // Every finding that is not a row above: what LiteLLM leaves alone, settings, plain text.
    for f in findings.iter().filter(|f| f.level != Level::Error || !is_unresolved(f)) {
        let at = f
            .location
            .as_ref()
            .map(|l| format!("{}: ", e(&l.to_string())))
            .unwrap_or_default();
        let _ = writeln!(out, "{}: {at}{} [{}]", f.level.as_str(), e(&f.message), f.rule.id());
    }
    out
}

/// A finding about a reference that did not resolve (shown in its row, not again below).
fn is_unresolved(finding: &Finding) -> bool {
    use findings::Rule as R;
    matches!(
        finding.rule,
        R::MissingSecret
            | R::AccessDenied
            | R::UnavailableSecret
            | R::UnusableValue
            | R::InvalidName
            | R::BackendFailure
    )
}
