//! `--watch`: keep an output file (`render`, `env`) or a supervised command (`exec`, see
//! [`super::supervise`]) on current secrets.
//!
//! A watched run loads the config once and holds the backend's session (a Vault token, renewed
//! past half its lease) across checks; it reloads the config when the config, an included file
//! or an env file changes on disk. Every check resolves every name again through the same
//! pipeline as a single run (retries, deadline, quotas) and compares values, not versions: for
//! each service the values are the fewest requests there are (AWS batches 20 per call; Vault,
//! Key Vault and Secret Manager have one request per secret either way), and a rotation to the
//! same value changes nothing. A failed check changes nothing either: it is logged, and the
//! next one is tried at the next interval.

use super::App;
use crate::cli::{ConfigArgs, WatchArgs};
use osenv::Session;
use osenv::error::Error;
use osenv::provenance::var;
use osenv::secret::SecretValue;
use osenv::settings::KeyManagementSystem;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The check interval when neither the flag nor a refresh variable sets one.
pub(super) const DEFAULT_INTERVAL: Duration = Duration::from_mins(5);

/// The longest check interval a manager's refresh setting may ask for.
const MAX_INTERVAL: Duration = Duration::from_hours(24);

/// How often files are looked at for edits (a `stat` each, no request).
pub(super) const FILE_POLL: Duration = Duration::from_secs(1);

/// The check interval: `--watch-interval`, else the refresh variable LiteLLM documents for the
/// run's backend (seconds), else five minutes.
pub(super) fn interval(args: &WatchArgs, session: &Session) -> Duration {
    if let Some(interval) = args.watch_interval {
        return interval;
    }
    let variable = match session.key_management().system() {
        Some(KeyManagementSystem::HashicorpVault) => var::HCP_VAULT_REFRESH_INTERVAL,
        Some(KeyManagementSystem::GoogleSecretManager) => var::GOOGLE_SECRET_MANAGER_REFRESH_INTERVAL,
        Some(KeyManagementSystem::Cyberark) => var::CYBERARK_REFRESH_INTERVAL,
        _ => return DEFAULT_INTERVAL,
    };
    // Read through its row of the provenance table, and clamped: a day at most (a value from
    // an env file once overflowed the clock).
    match session
        .environment()
        .backend_setting(variable)
        .map(|v| v.parse::<u64>())
    {
        Some(Ok(seconds)) if seconds > MAX_INTERVAL.as_secs() => {
            tracing::warn!("{} is more than a day; checking every 24h", variable.name());
            MAX_INTERVAL
        }
        Some(Ok(seconds)) if seconds >= 1 => Duration::from_secs(seconds),
        Some(_) => {
            tracing::warn!(
                "{} is not a whole number of seconds; checking every 5m",
                variable.name()
            );
            DEFAULT_INTERVAL
        }
        None => DEFAULT_INTERVAL,
    }
}

/// When checks and restarts happen.
#[derive(Debug, Clone, Copy)]
pub(super) struct Schedule {
    /// The check interval.
    pub interval: Duration,
}

impl Schedule {
    /// The wait before the next check: the interval ±10 %, so processes started together drift
    /// apart instead of polling the service in the same second.
    pub fn next_check(self) -> Duration {
        self.interval.mul_f64(0.9 + fastrand::f64() * 0.2)
    }

    /// The wait between a resolved change and the restart: a random part of half the interval,
    /// so the replicas of a deployment that see one rotation together restart over that span,
    /// not in the same second.
    pub fn restart_delay(self) -> Duration {
        self.interval.mul_f64(fastrand::f64() * 0.5)
    }
}

/// The files a watched run read (the config, its includes, the env files), as last seen.
pub(super) struct Files(Vec<(PathBuf, Option<(u64, SystemTime)>)>);

fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

impl Files {
    /// The files of `session`, loaded from `config`.
    pub fn of(config: &ConfigArgs, session: &Session) -> Self {
        let mut paths: Vec<PathBuf> = super::inputs(config, session)
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        paths.sort();
        paths.dedup();
        Self(
            paths
                .into_iter()
                .map(|path| {
                    let seen = stamp(&path);
                    (path, seen)
                })
                .collect(),
        )
    }

    /// Whether any of them changed (size, modification time, or appeared/disappeared).
    pub fn changed(&self) -> bool {
        self.0.iter().any(|(path, seen)| stamp(path) != *seen)
    }

    /// Take the current state as seen (after a reload that failed, so one edit is reported once).
    pub fn refresh(&mut self) {
        for (path, seen) in &mut self.0 {
            *seen = stamp(path);
        }
    }
}

/// Resolved values by name.
pub(super) type Values = BTreeMap<String, SecretValue>;

/// Whether two resolutions hold the same names with the same values.
pub(super) fn same(a: &Values, b: &Values) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((n, v), (m, w))| n == m && v.expose() == w.expose())
}

/// Load the config, holding the backend's session across resolutions.
pub(super) fn load_held(config: &ConfigArgs) -> Result<Session, Error> {
    let mut limits = config.limits.limits()?;
    limits.hold = true;
    Session::load(
        &config.config,
        &config.env_files,
        &config.secrets.dirs(),
        config.trust.trust(),
        limits,
    )
}

/// Everything `exec` exports, resolved, as owned values (so the session can be reloaded).
pub(super) async fn exported_values(
    session: &Session,
    ui: super::Ui,
    allow_missing: bool,
    select: &crate::cli::SelectArgs,
) -> Result<Values, Error> {
    let resolution = super::exported_async(session, ui, allow_missing, select).await?;
    Ok(resolution
        .exports()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.clone()))
        .collect())
}

/// A failed check in one line (errors never hold values).
pub(super) fn summary(err: &Error) -> String {
    let lines = super::report::lines(err);
    match lines.as_slice() {
        [] => "unknown error".to_owned(),
        [one] => one.trim_start_matches("error: ").to_owned(),
        [first, rest @ ..] => format!(
            "{} (+{} more line{})",
            first.trim_start_matches("error: "),
            rest.len(),
            if rest.len() == 1 { "" } else { "s" }
        ),
    }
}

/// Keep `output` current (`render --watch`, `env --watch`): write what `produce` makes of the
/// config now, then again whenever it differs from what was last written, until SIGTERM or
/// SIGINT. The first result must succeed (as without `--watch`); later failures keep the file.
pub(super) fn keep_current(
    app: &App,
    config: &ConfigArgs,
    watch: &WatchArgs,
    output: &Path,
    on_change: Option<&str>,
    produce: impl Fn(&Session) -> Result<zeroize::Zeroizing<String>, Error>,
) -> Result<(), Error> {
    super::output::signals_handled_by_caller();
    let mut stop = app
        .block_on(async { Stop::new() })
        .map_err(|e| Error::Output(io_error(output, e)))?;
    let mut session = load_held(config)?;
    super::guard_output(Some(output), &super::inputs(config, &session), false)?;
    let mut files = Files::of(config, &session);
    let schedule = Schedule {
        interval: interval(watch, &session),
    };
    let mut last = produce(&session)?;
    super::output::emit(Some(output), &last)?;
    tracing::info!(
        "watching: {} is written; checking every {}s (±10 %) and on edits of the config or env files",
        output.display(),
        schedule.interval.as_secs()
    );
    let mut next_check = std::time::Instant::now() + schedule.next_check();
    loop {
        if app.block_on(stop.within(FILE_POLL)) {
            break;
        }
        let edited = files.changed();
        if !edited && std::time::Instant::now() < next_check {
            continue;
        }
        if edited {
            app.block_on(session.release());
            match load_held(config) {
                Ok(reloaded) => {
                    session = reloaded;
                    files = Files::of(config, &session);
                }
                Err(e) => {
                    tracing::warn!(
                        "the config or an env file changed but cannot be read: {}; {} keeps its last contents",
                        summary(&e),
                        output.display()
                    );
                    files.refresh();
                    continue;
                }
            }
        }
        next_check = std::time::Instant::now() + schedule.next_check();
        match produce(&session) {
            Ok(text) if *text != *last => {
                super::output::emit(Some(output), &text)?;
                last = text;
                tracing::info!("{} rewritten: its contents changed", output.display());
                if let Some(command) = on_change {
                    run_on_change(command);
                }
            }
            Ok(_) => tracing::debug!("no change"),
            Err(e) => tracing::warn!(
                "check failed: {}; {} keeps its last contents",
                summary(&e),
                output.display()
            ),
        }
    }
    app.block_on(session.release());
    Ok(())
}

fn io_error(path: &Path, source: std::io::Error) -> osenv::error::IoError {
    osenv::error::IoError {
        verb: "cannot watch signals for",
        path: path.to_owned(),
        source,
    }
}

/// `--on-change`: `sh -c COMMAND` with osenv's own environment and no value in its arguments.
fn run_on_change(command: &str) {
    match std::process::Command::new("sh").arg("-c").arg(command).status() {
        Ok(status) if status.success() => {}
        Ok(status) => tracing::warn!("--on-change command exited with {status}"),
        Err(e) => tracing::warn!("--on-change command could not be run: {e}"),
    }
}

/// SIGTERM and SIGINT, which end a watch.
pub(super) struct Stop {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Stop {
    /// Listen; must run inside the runtime.
    pub fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Wait `wait`; `true` when a stop signal came first.
    pub async fn within(&mut self, wait: Duration) -> bool {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => true,
                _ = self.int.recv() => true,
                () = tokio::time::sleep(wait) => false,
            }
        }
        #[cfg(not(unix))]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => true,
                () = tokio::time::sleep(wait) => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_jittered_by_a_tenth_and_restarts_spread_over_half_the_interval() {
        let schedule = Schedule {
            interval: Duration::from_mins(5),
        };
        let (mut low, mut high) = (Duration::MAX, Duration::ZERO);
        for _ in 0..2000 {
            let next = schedule.next_check();
            assert!(
                next >= Duration::from_secs(270) && next <= Duration::from_secs(330),
                "{next:?}"
            );
            low = low.min(next);
            high = high.max(next);
            let restart = schedule.restart_delay();
            assert!(restart <= Duration::from_secs(150), "{restart:?}");
        }
        // Spread, not constant.
        assert!(
            low < Duration::from_secs(280) && high > Duration::from_secs(320),
            "{low:?} {high:?}"
        );
    }

    #[test]
    fn values_compare_by_content() {
        let values = |pairs: &[(&str, &str)]| -> Values {
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), SecretValue::new(*v)))
                .collect()
        };
        assert!(same(
            &values(&[("A", "1"), ("B", "2")]),
            &values(&[("B", "2"), ("A", "1")])
        ));
        assert!(!same(&values(&[("A", "1")]), &values(&[("A", "2")])));
        assert!(!same(&values(&[("A", "1")]), &values(&[("A", "1"), ("B", "2")])));
    }
}
