//! `--watch`: keep a supervised command (`exec`) or an output file (`render`, `env`) on
//! current secrets, for as long as the pod runs.
//!
//! A watch is a few parts with one job each: the [`machine`] decides (one state machine for
//! every mode), the [`driver`] performs its decisions and feeds it signals, exits and time, the
//! [`checker`] thread does everything that may block (reading files, resolving values; it holds
//! the backend's session and its token across checks), [`process`] starts and waits for
//! exactly osenv's own processes, [`hook`] runs `--on-change`, [`signals`] is the one table of
//! what each signal means, and [`init`] is what osenv does as PID 1. With `exec --listen`,
//! [`front`] owns the port and forwards connections to the generation that serves, and
//! [`ready`] probes a new generation until it answers.
//!
//! Every check resolves every name again through the same pipeline as a single run (retries,
//! deadline, quotas) and compares values, not versions: for each service the values are the
//! fewest requests there are (AWS batches 20 per call; Vault, Key Vault and Secret Manager have
//! one request per secret either way), and a rotation to the same value changes nothing. A
//! failed check changes nothing either: it is logged, and the next one is tried at the next
//! interval.

mod checker;
mod driver;
mod front;
mod hook;
mod init;
mod machine;
mod masked;
mod process;
mod ready;
mod schedule;
mod signals;

use super::App;
use crate::cli::{ConfigArgs, ExecArgs, WatchArgs};
use driver::{Sources, Target};
use machine::{Ending, Listen, Mode, Snapshot};
use masked::Masks;
use osenv::Session;
use osenv::error::{Error, UsageError};
use osenv::provenance::var;
use osenv::secret::SecretValue;
use osenv::settings::KeyManagementSystem;
use process::Process;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The check interval when neither the flag nor a refresh variable sets one.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_mins(5);

/// The longest check interval a manager's refresh setting may ask for.
const MAX_INTERVAL: Duration = Duration::from_hours(24);

/// How often files are looked at for edits (a `stat` each, no request).
pub(crate) const FILE_POLL: Duration = Duration::from_secs(1);

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
    let value = session.environment().backend_setting(variable);
    let digits = value
        .as_deref()
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
    match value.as_deref().map(str::parse::<u64>) {
        // More digits than a u64 holds is more than a day too.
        Some(Ok(seconds)) if seconds > MAX_INTERVAL.as_secs() => clamped(variable),
        Some(Err(_)) if digits => clamped(variable),
        Some(Ok(seconds)) if seconds >= 1 => Duration::from_secs(seconds),
        Some(Ok(_)) => {
            tracing::warn!("{} is 0; checking every 5m", variable.name());
            DEFAULT_INTERVAL
        }
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

fn clamped(variable: osenv::provenance::Setting) -> Duration {
    tracing::warn!("{} is more than a day; checking every 24h", variable.name());
    MAX_INTERVAL
}

/// The files a watched run read (the config, its includes, the env files), as last seen.
pub(super) struct Files(Vec<(PathBuf, Option<Stamp>)>);

/// What tells a file changed: which file it is (device and inode: a file renamed over it, as
/// `cp -p`, `rsync -a` or `tar x` do with the old modification time, is another inode), its
/// size, and its modification and change times (the change time cannot be set back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
    changed: (i64, i64),
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        modified: meta.modified().ok(),
        changed: (meta.ctime(), meta.ctime_nsec()),
    })
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

    /// Whether any of them changed (another file, size, times, or appeared/disappeared).
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
    consumer: super::Consumer<'_>,
) -> Result<Values, Error> {
    let resolution = super::exported_async(session, ui, allow_missing, select, consumer).await?;
    Ok(resolution
        .exports()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.clone()))
        .collect())
}

/// A failed check in one line (errors never hold values).
pub(crate) fn summary(err: &Error) -> String {
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

impl Snapshot for zeroize::Zeroizing<String> {
    fn same(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// What `exec --watch` starts its command with: the values, and the names taken out of its
/// environment (login material, names `--only`/`--exclude` leave out).
#[derive(Clone)]
pub(super) struct Launch {
    values: Values,
    removed: Vec<String>,
    /// `--mask`: the masks for these values, built with them on the checker thread.
    masks: Option<Arc<masked::Prepared>>,
}

impl Snapshot for Launch {
    fn same(&self, other: &Self) -> bool {
        same(&self.values, &other.values) && self.removed == other.removed
    }
}

/// `exec --watch`: supervise the command. Exits with the command's status (or 128 + the
/// signal that stopped osenv before it started); an error when the first resolution fails.
/// What every `exec` that stays the command's parent does first: with `--mask`, osenv made
/// non-dumpable before anything else, the init of PID 1 included (see `masked::seal`); as PID
/// 1, the init; the command present; and `--user` one osenv can still signal.
fn supervising<'a>(
    args: &'a ExecArgs,
    app: &App,
    flag: &'static str,
) -> Result<(&'a std::ffi::OsString, &'a [std::ffi::OsString]), Error> {
    if args.mask {
        masked::seal();
    }
    if init::is_pid_1() {
        std::process::exit(init::run(app));
    }
    let command = args.command.split_first().ok_or(UsageError::NoCommand)?;
    if let Some((uid, _)) = args.user
        && !process::may_signal(uid)
    {
        return Err(UsageError::WatchCannotSignal { flag, uid }.into());
    }
    Ok(command)
}

pub(super) fn exec(args: &ExecArgs, app: &App) -> Result<(), Error> {
    let (program, rest) = supervising(args, app, "--watch")?;
    let ui = app.ui;
    let masks = args.mask.then(|| Arc::new(Masks::default()));
    let produce = async |session: &Session| -> Result<Launch, Error> {
        let values = exported_values(
            session,
            ui,
            args.allow_missing,
            &args.select,
            super::Consumer::Command(args),
        )
        .await?;
        let removed = super::exec::removed(session, values.keys().map(String::as_str), args);
        let prepared = match &masks {
            Some(masks) => Some(masks.prepare(values.iter().map(|(n, v)| (n.as_str(), v.expose())))?),
            None => None,
        };
        Ok(Launch {
            values,
            removed,
            masks: prepared,
        })
    };
    // Opened before anything resolves: a port in use fails the start, not the first hand-off.
    let front = match &args.listen {
        Some(address) => Some(front::Front::open(address, args.max_connections as usize)?),
        None => None,
    };
    let spawn = |launch: &Launch, port: Option<u16>| -> Result<Process, Error> {
        let mut command = std::process::Command::new(program);
        match port {
            Some(port) => command.args(rest.iter().map(|arg| with_port(arg, port))),
            None => command.args(rest),
        };
        super::exec::apply(
            &mut command,
            launch.values.iter().map(|(n, v)| (n.as_str(), v)),
            &launch.removed,
            args,
        );
        if let Some(port) = port {
            // What LiteLLM's CLI (and most servers) read; osenv's, whatever the config exports.
            command.env("PORT", port.to_string()).env("HOST", "127.0.0.1");
        }
        no_terminal_input(&mut command);
        if let (Some(masks), Some(prepared)) = (&masks, &launch.masks) {
            masks.install(prepared);
            Masks::pipe(&mut command);
        }
        let failed = |source| Error::Exec {
            program: program.to_string_lossy().into_owned(),
            source,
        };
        let (process, mut child) = Process::start(command).map_err(failed)?;
        if let Some(masks) = &masks {
            masks.attach(&mut child).map_err(failed)?;
        }
        Ok(process)
    };
    let write = |_: &Launch| Ok(());
    let mode = Mode::Exec {
        grace: args.grace,
        restart_signal: signals::named(&args.restart_signal),
        listen: front.as_ref().map(|_| Listen {
            overlap: !args.no_overlap,
            ready_timeout: args.ready_timeout,
        }),
    };
    let target = Target {
        spawn: &spawn,
        write: &write,
        hook: None,
        front: front.as_ref().map(|f| (f, args.ready.as_str())),
    };
    let ending = watch(app, &args.config, &args.watch, mode, produce, &target);
    if let Some(masks) = &masks {
        masks.drain();
    }
    match ending? {
        Ending::Code(code) => std::process::exit(code),
        Ending::Failed(e) => Err(e),
    }
}

/// The command leads its own process group (see [`process`]): it cannot read a terminal osenv
/// was started from, so it gets no input rather than being stopped by SIGTTIN.
fn no_terminal_input(command: &mut std::process::Command) {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        command.stdin(std::process::Stdio::null());
    }
}

/// `exec --mask` without `--watch`: osenv stays the command's parent only to mask its output.
/// Every signal of the [`signals`] table is passed on (a stop as the signal the table names,
/// SIGHUP as itself: nothing is checked), and osenv ends with the command's status once its
/// output is written.
pub(super) fn exec_masked(args: &ExecArgs, app: &App) -> Result<(), Error> {
    supervising(args, app, "--mask")?;
    let masks = Arc::new(Masks::default());
    let (mut command, program) = super::exec::prepare(args, app, |exports| {
        masks.add(exports.iter().map(|(n, v)| (*n, v.expose())))
    })?;
    Masks::pipe(&mut command);
    no_terminal_input(&mut command);
    super::output::signals_handled_by_caller();
    let failed = |source| Error::Exec {
        program: program.clone(),
        source,
    };
    let exit = app.block_on(async {
        // Listening before the command starts, so no signal or exit is missed.
        let mut forwarded = signals::listen().map_err(failed)?;
        let mut children = signals::children().map_err(failed)?;
        let (mut process, mut child) = Process::start(command).map_err(failed)?;
        masks.attach(&mut child).map_err(failed)?;
        let mut look = tokio::time::interval(Duration::from_secs(1));
        loop {
            if let Some(exit) = process.exited() {
                return Ok::<_, Error>(exit);
            }
            tokio::select! {
                Some(signal) = forwarded.recv() => match signals::meaning(signal) {
                    Some(signals::Meaning::Stop(stop)) => process.signal(stop),
                    _ => process.signal(signal),
                },
                _ = children.recv() => {}
                _ = look.tick() => {}
            }
        }
    })?;
    masks.drain();
    std::process::exit(exit.shell_code())
}

/// An argument with every `{port}` replaced by the generation's port (`--listen`, for commands
/// that take the port as a flag rather than from `PORT`).
fn with_port(arg: &std::ffi::OsStr, port: u16) -> std::ffi::OsString {
    use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
    const PLACEHOLDER: &[u8] = b"{port}";
    let bytes = arg.as_bytes();
    if memchr::memmem::find(bytes, PLACEHOLDER).is_none() {
        return arg.to_owned();
    }
    let port = port.to_string();
    let mut out = Vec::with_capacity(bytes.len() + port.len());
    let mut rest = bytes;
    while let Some(at) = memchr::memmem::find(rest, PLACEHOLDER) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(port.as_bytes());
        rest = &rest[at + PLACEHOLDER.len()..];
    }
    out.extend_from_slice(rest);
    std::ffi::OsString::from_vec(out)
}

/// Keep `output` current (`render --watch`, `env --watch`): write what `produce` makes of the
/// config now, then again whenever it differs from what was last written, until a stop signal.
/// The first result must succeed (as without `--watch`); later failures keep the file.
pub(super) fn keep_current<P>(
    app: &App,
    config: &ConfigArgs,
    watch_args: &WatchArgs,
    output: &Path,
    hook: Option<(&str, Duration)>,
    produce: P,
) -> Result<(), Error>
where
    P: AsyncFn(&Session) -> Result<zeroize::Zeroizing<String>, Error> + Sync,
{
    if init::is_pid_1() {
        std::process::exit(init::run(app));
    }
    let guarded = async |session: &Session| {
        // Again after every reload: an edited config may include the output file.
        super::guard_output(Some(output), &super::inputs(config, session), false)?;
        produce(session).await
    };
    let spawn = |_: &zeroize::Zeroizing<String>, _: Option<u16>| -> Result<Process, Error> {
        Err(UsageError::NoCommand.into())
    };
    let write = |text: &zeroize::Zeroizing<String>| {
        super::output::emit(Some(output), text)?;
        tracing::info!("{} written", output.display());
        Ok(())
    };
    let target = Target {
        spawn: &spawn,
        write: &write,
        hook: hook.map(|(command, _)| command),
        front: None,
    };
    let mode = Mode::Output {
        hook: hook.map(|(_, timeout)| timeout),
    };
    match watch(app, config, watch_args, mode, guarded, &target)? {
        Ending::Code(0) => Ok(()),
        Ending::Code(code) => std::process::exit(code),
        Ending::Failed(e) => Err(e),
    }
}

/// Run a watch: the checker on its own thread, the loop on this one, until the machine ends it;
/// returns once the checker has released the session.
fn watch<T, P>(
    app: &App,
    config: &ConfigArgs,
    watch_args: &WatchArgs,
    mode: Mode,
    produce: P,
    target: &Target<'_, T>,
) -> Result<Ending, Error>
where
    T: Snapshot + Send,
    P: AsyncFn(&Session) -> Result<T, Error> + Send,
{
    if let Some(once) = std::iter::once(&config.config)
        .chain(&config.env_files)
        .find(|p| p.as_os_str() == "-" || osenv::input::is_pipe(p))
    {
        return Err(UsageError::WatchStdin {
            path: once.display().to_string(),
        }
        .into());
    }
    super::output::signals_handled_by_caller();
    let listen_error = |source| Error::Exec {
        program: "osenv".into(),
        source,
    };
    let ui = app.ui;
    std::thread::scope(|scope| {
        app.block_on(async {
            // Listening before anything starts, so no signal or exit is missed.
            let signals = signals::listen().map_err(listen_error)?;
            let children = signals::children().map_err(listen_error)?;
            let (requests, requested) = tokio::sync::mpsc::unbounded_channel();
            let (report, reports) = tokio::sync::mpsc::unbounded_channel();
            std::thread::Builder::new()
                .name("osenv-checker".into())
                .spawn_scoped(scope, move || {
                    checker::run(ui, config, watch_args, produce, requested, report);
                })
                .map_err(listen_error)?;
            let sources = Sources {
                signals,
                children,
                requests,
                reports,
            };
            Ok(driver::drive(mode, target, sources).await)
        })
        // The scope joins the checker: the session is released before osenv exits.
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_placeholder_is_replaced_everywhere_and_only_there() {
        let arg = |s: &str| with_port(std::ffi::OsStr::new(s), 4123).into_string().unwrap();
        assert_eq!(arg("{port}"), "4123");
        assert_eq!(arg("--bind=127.0.0.1:{port},{port}"), "--bind=127.0.0.1:4123,4123");
        assert_eq!(arg("{port"), "{port");
        assert_eq!(arg("{PORT}"), "{PORT}");
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
