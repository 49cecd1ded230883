//! Command-line types (clap derive) and their validation step: raw flags become the library's
//! validated types ([`Limits`], [`Format`]) here, before any command runs.

use clap::{Args, Parser, Subcommand, ValueEnum};
use osenv::backend::transport::retry::RetryPolicy;
use osenv::error::UsageError;
use osenv::render::env_format::Format;
use osenv::resolve::Limits;
use osenv::trust::Trust;
use std::path::PathBuf;
use std::time::Duration;

const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    a reference could not be resolved, the config fails a check, or an output or backend operation failed
  2    usage error, unreadable file, invalid YAML or invalid settings
  126  exec: the command could not be run
  127  exec: the command was not found

Logs go to stderr and never contain secret values.";

/// `osenv --version`: the version and the secret managers built in (cargo features).
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let built = osenv::backend::registry::BUILT;
    format!(
        "{} (secret managers built in: {}; the environment, env files and mounted secrets always)",
        env!("CARGO_PKG_VERSION"),
        if built.is_empty() {
            "none".to_owned()
        } else {
            built.join(", ")
        }
    )
});

/// Resolve `os.environ/` references in a LiteLLM config from the environment or a secret
/// manager, and write the rendered config, an env file, or a process environment.
#[derive(Debug, Parser)]
#[command(name = "osenv", version = VERSION.as_str(), about, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr; no warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render the config with every reference replaced by its value.
    ///
    /// Only the reference scalars change; comments, order and layout stay as they were. By
    /// default `key_management_system` and `key_management_settings` are removed from
    /// `general_settings`: the values are already resolved, and leaving them would make LiteLLM
    /// set up the secret manager again at start-up (which needs a licence for some managers).
    Render(RenderArgs),
    /// Write the resolved variables as an env file (dotenv, shell, docker, json, k8s-secret).
    ///
    /// Exports every referenced name and every `hosted_keys` name, so LiteLLM finds them in
    /// its environment.
    Env(EnvArgs),
    /// Run a command with the resolved variables added to its environment.
    ///
    /// osenv replaces itself with the command (Unix exec), so signals reach it directly and
    /// nothing is written to disk. Values never appear in the command's arguments. With
    /// --watch, osenv stays its parent instead and restarts it when a secret changes.
    Exec(ExecArgs),
    /// Locate every reference and prove it resolves, without printing any value.
    Check(CheckArgs),
    /// Render a minijinja template; `secret("NAME")` returns a resolved value.
    Template(TemplateArgs),
    /// Store a secret read from stdin through the config's backend.
    ///
    /// The name is prefixed with `prefix_for_stored_virtual_keys` (default `litellm/`). Needs
    /// `access_mode: write_only` or `read_and_write`. One trailing newline of the input is removed.
    Put(PutArgs),
    /// Delete a stored secret through the config's backend.
    ///
    /// The backend's recoverable delete by default (AWS: deletion scheduled in 7 days);
    /// `--force` removes it for good.
    Delete(DeleteArgs),
    /// Print the least-privilege access policy for the secrets this config reads.
    ///
    /// In the manager's own language: Vault HCL, an AWS IAM policy document, Google IAM
    /// bindings with conditions, Azure role assignments (`az` commands), a Conjur policy.
    /// Exactly what `render`, `check`, `env` and `exec` need for the names the config
    /// references (and `put`/`delete` with `--access read-write`); no request is made.
    Policy(PolicyArgs),
    /// Encrypt a value read from stdin with a KMS key and print the ciphertext as base64.
    ///
    /// The output is what `aws_kms` expects in an environment variable (with `--prefix`, the
    /// `aws_kms/` form of LiteLLM's `USE_AWS_KMS`). One trailing newline of the input is removed.
    Encrypt(EncryptArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    ///
    /// bash: `osenv completions bash > ~/.local/share/bash-completion/completions/osenv`;
    /// zsh: into a directory on `$fpath` as `_osenv`; fish: `~/.config/fish/completions/osenv.fish`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to stdout: `osenv man > osenv.1; man -l osenv.1`.
    Man,
}

/// `osenv completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options shared by every command that reads a config.
#[derive(Debug, Args, Clone)]
pub struct ConfigArgs {
    /// The LiteLLM config (`-` reads stdin).
    pub config: PathBuf,
    /// Dotenv file(s) added to the environment; the process environment wins, later files win over earlier ones.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Concurrency, timeouts, retries.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// What the config and env files may set.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Secrets directories.
    #[command(flatten)]
    pub secrets: SecretsDirArgs,
}

/// Where file-mounted secrets are (Docker and Compose `secrets:`, Kubernetes Secret volumes).
#[derive(Debug, Args, Clone)]
pub struct SecretsDirArgs {
    /// A directory whose file NAME holds the value of `os.environ/NAME` (after the process
    /// environment and NAME_FILE, before env files); repeatable, searched in order; also
    /// OSENV_SECRETS_DIR (`:`-separated), searched after these.
    #[arg(long = "secrets-dir", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
}

impl SecretsDirArgs {
    /// The flags' directories, then OSENV_SECRETS_DIR's.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs = self.dirs.clone();
        if let Some(list) = std::env::var_os("OSENV_SECRETS_DIR") {
            dirs.extend(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()));
        }
        dirs
    }
}

/// What the operator trusts beyond the process environment (README "Trust").
#[derive(Debug, Args, Clone)]
pub struct TrustArgs {
    /// Let env files set secret-manager addresses, CA bundles, credential files and credentials
    /// (by default only the process environment may); also OSENV_TRUST_ENV_FILES=true.
    #[arg(long)]
    pub trust_env_files: bool,
    /// Let the config choose any `aws_sts_endpoint` and an `aws_web_identity_token` (by default
    /// only AWS's own STS and the process environment's token); also OSENV_TRUST_CONFIG=true.
    #[arg(long)]
    pub trust_config: bool,
}

impl TrustArgs {
    /// The flags, or the same from the process environment (the operator's, so it may say so).
    pub fn trust(&self) -> Trust {
        let var = |name: &str| std::env::var(name).is_ok_and(|v| matches!(v.trim(), "true" | "1"));
        Trust {
            env_files: self.trust_env_files || var("OSENV_TRUST_ENV_FILES"),
            config: self.trust_config || var("OSENV_TRUST_CONFIG"),
        }
    }
}

/// Concurrency, timeouts and retries.
#[derive(Debug, Args, Clone)]
pub struct LimitArgs {
    /// Requests in flight at most, per run.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Timeout of one request, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Deadline for resolving everything, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub deadline: f64,
    /// At most this many attempts per request; by default transient failures (throttling, 5xx,
    /// refused or reset connections) are retried until the deadline.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub attempts: Option<u32>,
    /// Wait a random time in [0, SECONDS) before the first request to a secret manager, so a
    /// fleet started at once spreads out; counts against the deadline.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    pub splay: f64,
    /// The largest response body read from a secret manager, in MiB; a larger one is an error.
    #[arg(long, value_name = "MIB", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_response_size: u16,
}

impl LimitArgs {
    /// The run's validated limits.
    pub fn limits(&self) -> Result<Limits, UsageError> {
        let secs = |v: f64, flag: &'static str| {
            if v.is_finite() && v > 0.0 && v <= 86_400.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(UsageError::Seconds { flag })
            }
        };
        Ok(Limits {
            concurrency: usize::from(self.concurrency),
            request_timeout: secs(self.timeout, "timeout")?,
            deadline: secs(self.deadline, "deadline")?,
            splay: if self.splay == 0.0 {
                Duration::ZERO
            } else {
                secs(self.splay, "splay")?
            },
            retry: RetryPolicy {
                attempts: self.attempts,
                ..RetryPolicy::default()
            },
            max_response: usize::from(self.max_response_size) << 20,
            ..Limits::default()
        })
    }
}

/// `--format` of `osenv env`; the library's [`Format`] knows nothing of clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// `NAME='value'` for dotenv loaders and `docker compose` `env_file`.
    Dotenv,
    /// `export NAME='value'` for a POSIX shell's `source` / `.`.
    Shell,
    /// `NAME=value` for `docker run --env-file` (values are taken verbatim, no quoting).
    Docker,
    /// A JSON object `{"NAME": "value"}`.
    Json,
    /// A Kubernetes `Secret` manifest with base64 `data`.
    K8sSecret,
}

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Dotenv => Self::Dotenv,
            FormatArg::Shell => Self::Shell,
            FormatArg::Docker => Self::Docker,
            FormatArg::Json => Self::Json,
            FormatArg::K8sSecret => Self::K8sSecret,
        }
    }
}

/// `osenv render`.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools, reason = "each is a flag of its own")]
pub struct RenderArgs {
    /// The config and its environment.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Write here (atomically, mode 0600) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Render a missing value as `null` with a warning, as LiteLLM does, instead of failing.
    #[arg(long)]
    pub allow_missing: bool,
    /// Keep `key_management_system` and `key_management_settings` in the output (for LiteLLM
    /// to write virtual keys to the manager at run time).
    #[arg(long)]
    pub keep_key_management: bool,
    /// Do not turn `true`/`false` values into YAML booleans (LiteLLM does).
    #[arg(long)]
    pub no_coerce: bool,
    /// Allow -o to name the config itself: its references are replaced by their values for
    /// good (nothing left to rotate or render again). Without it, writing over any file the
    /// run reads is refused.
    #[arg(long, requires = "output", conflicts_with = "watch")]
    pub in_place: bool,
    /// Keep FILE current.
    #[command(flatten)]
    pub watch: WatchArgs,
    /// With --watch: run this shell command after each rewrite of FILE (e.g. to signal a process).
    #[arg(long, value_name = "COMMAND", requires = "watch")]
    pub on_change: Option<String>,
    /// How long the --on-change command may run before it is killed (with its process group).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub on_change_timeout: Duration,
}

/// `--only` and `--exclude` of `env` and `exec`: fewer names in the file or the command's
/// environment (anything in a proxy's environment can be read through `os.environ/` by whoever
/// may add a model to it, so the fewer the better).
#[derive(Debug, Clone, Args, Default)]
pub struct SelectArgs {
    /// Export only these names (comma-separated or repeated); each must be one the config
    /// exports. The others are not resolved at all.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',', conflicts_with = "exclude")]
    pub only: Vec<String>,
    /// Export every name but these (comma-separated or repeated); each must be one the config
    /// exports.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub exclude: Vec<String>,
}

/// `--watch` and its interval, shared by `render`, `env` and `exec`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Keep running: every interval check whether a secret changed (and, for render and env,
    /// whether the config or an env file did), and act on a change.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: how often to check (`30s`, `5m`, `1h`, or seconds), jittered by ±10 %.
    /// Default: HCP_VAULT_REFRESH_INTERVAL (Vault), GOOGLE_SECRET_MANAGER_REFRESH_INTERVAL
    /// (Google Secret Manager) or CYBERARK_REFRESH_INTERVAL (Conjur) where set, else 5m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "watch")]
    pub watch_interval: Option<Duration>,
}

/// A flag value clap refuses before any command runs; the message names the text as written.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    /// `--grace`, `--watch-interval`, …: see [`osenv::duration::parse`].
    #[error(transparent)]
    Duration(#[from] osenv::duration::DurationError),
    /// `--restart-signal`.
    #[error("`{0}` is not one of TERM, INT, HUP, QUIT, USR1, USR2")]
    Signal(String),
    /// `--ready`.
    #[error("`{0}` is not an absolute path of visible ASCII characters, like /health/liveliness")]
    ReadyPath(String),
    /// `--user`.
    #[error("`{0}` is not UID or UID:GID (numbers from 1 to 4294967294)")]
    User(String),
}

/// `30s`, `5m`, `1h`, `1h30m`, `500ms`, or a plain number of seconds; at least 1 s, at most 7
/// days ([`osenv::duration::parse`]).
pub fn parse_duration(text: &str) -> Result<Duration, FlagError> {
    Ok(osenv::duration::parse(text)?)
}

/// The signals `exec --watch` may stop a command with before restarting it, by name (`TERM`,
/// `SIGHUP`, …), normalised to the name without `SIG`.
pub fn parse_signal(text: &str) -> Result<String, FlagError> {
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if ["TERM", "INT", "HUP", "QUIT", "USR1", "USR2"].contains(&name) {
        Ok(name.to_owned())
    } else {
        Err(FlagError::Signal(text.to_owned()))
    }
}

/// `--ready`: an absolute path of visible ASCII (it goes into the probe's request line).
pub fn parse_ready_path(text: &str) -> Result<String, FlagError> {
    let valid = text.starts_with('/') && text.len() <= 2048 && text.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(text.to_owned())
    } else {
        Err(FlagError::ReadyPath(text.to_owned()))
    }
}

/// `--user`: `UID` or `UID:GID`, numbers (a name would need the image's user database, which
/// a distroless image may not have). Root as the target is refused: it would drop nothing; so
/// is 4294967295, the kernel's "-1" (no change) to setuid and setgid.
pub fn parse_user(text: &str) -> Result<(u32, u32), FlagError> {
    let bad = || FlagError::User(text.to_owned());
    let (uid, gid) = text.split_once(':').unwrap_or((text, text));
    let number = |s: &str| {
        s.trim()
            .parse::<u32>()
            .ok()
            .filter(|&n| n != 0 && n != u32::MAX)
            .ok_or_else(bad)
    };
    Ok((number(uid)?, number(gid)?))
}

/// `osenv env`.
#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The config and its environment.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Dotenv)]
    pub format: FormatArg,
    /// Write here (atomically, mode 0600) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Leave out missing values with a warning instead of failing.
    #[arg(long)]
    pub allow_missing: bool,
    /// Which names to export.
    #[command(flatten)]
    pub select: SelectArgs,
    /// k8s-secret: `metadata.name`.
    #[arg(long, default_value = "litellm-secrets")]
    pub secret_name: String,
    /// k8s-secret: `metadata.namespace`.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Keep FILE current.
    #[command(flatten)]
    pub watch: WatchArgs,
    /// With --watch: run this shell command after each rewrite of FILE.
    #[arg(long, value_name = "COMMAND", requires = "watch")]
    pub on_change: Option<String>,
    /// How long the --on-change command may run before it is killed (with its process group).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub on_change_timeout: Duration,
}

/// `osenv exec`.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools, reason = "each is a flag of its own")]
pub struct ExecArgs {
    /// The config and its environment.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Leave out missing values with a warning instead of failing.
    #[arg(long)]
    pub allow_missing: bool,
    /// Pass the credentials osenv used for the secret manager (AWS_SECRET_ACCESS_KEY,
    /// VAULT_TOKEN, AZURE_CLIENT_SECRET, …) on to the command; by default they are removed from
    /// its environment unless a reference asks for one.
    #[arg(long)]
    pub keep_credentials: bool,
    /// Stay the command's parent and read its stdout and stderr through pipes: every resolved
    /// value (raw, base64, JSON- and URL-encoded, Python repr) is replaced by `<NAME>` before
    /// it reaches osenv's own stdout and stderr. Values under 8 bytes are not masked (a warning
    /// names them).
    #[arg(long)]
    pub mask: bool,
    /// Run the command as this user (numbers: `UID` or `UID:GID`), its supplementary groups
    /// dropped: osenv keeps the files only it may read (a projected Vault token, a client key),
    /// the network-facing command cannot open them. Needs osenv to start as root or with
    /// CAP_SETUID and CAP_SETGID (deploy/ has the recipes).
    #[arg(long, value_name = "UID[:GID]", value_parser = parse_user)]
    pub user: Option<(u32, u32)>,
    /// Which names to export.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Stay the command's parent: forward signals to it, check the secrets every interval, and
    /// restart it with the new values after a change (only once every value resolved again).
    #[command(flatten)]
    pub watch: WatchArgs,
    /// With --watch: the signal that stops the command before a restart.
    #[arg(long, value_name = "SIGNAL", default_value = "TERM", value_parser = parse_signal, requires = "watch")]
    pub restart_signal: String,
    /// With --watch: how long the command may take to exit after that signal before SIGKILL.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, requires = "watch")]
    pub grace: Duration,
    /// With --watch: own this address (`HOST:PORT`) and forward each connection to the current
    /// generation of the command, which listens on a loopback port osenv picks (in `PORT`, with
    /// `HOST=127.0.0.1`, and for `{port}` in its arguments). A rotation starts the new
    /// generation beside the old one, switches new connections once it answers `--ready`, then
    /// lets the old one drain within --grace.
    #[arg(long, value_name = "HOST:PORT", requires = "watch")]
    pub listen: Option<String>,
    /// With --listen: the path a generation must answer with 2xx before it gets connections.
    #[arg(long, value_name = "PATH", default_value = "/health/liveliness", value_parser = parse_ready_path, requires = "listen")]
    pub ready: String,
    /// With --listen: how long a generation may take to answer. A new one that does not is
    /// stopped and the old one keeps serving; a first one that does not ends osenv.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration, requires = "listen")]
    pub ready_timeout: Duration,
    /// With --listen: stop the old generation before starting the new one (one in memory at a
    /// time); connections wait in the listen queue until the new one answers.
    #[arg(long, requires = "listen")]
    pub no_overlap: bool,
    /// With --listen: connections forwarded at once (two descriptors each); more wait in the
    /// listen queue.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65_536), requires = "listen")]
    pub max_connections: u32,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

/// How `check` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// A table for people.
    Text,
    /// One JSON document for tools.
    Json,
    /// GitHub Actions workflow commands: findings shown inline on the pull request.
    Github,
    /// SARIF 2.1.0, for GitHub code scanning and GitLab.
    Sarif,
}

/// `osenv check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config and its environment.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Only locate references; do not ask any backend.
    #[arg(long)]
    pub offline: bool,
    /// Count warnings (a plain-text credential, a reference LiteLLM leaves alone, an ignored
    /// setting) as errors: exit 1.
    #[arg(long)]
    pub strict: bool,
}

/// `osenv template`.
#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// The template (`-` reads stdin).
    pub template: PathBuf,
    /// Read the backend from this LiteLLM config's key-management settings.
    #[arg(long, value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// Dotenv file(s) added to the environment.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Write here (atomically, mode 0600) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Concurrency, timeouts, retries.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// What the config and env files may set.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Secrets directories.
    #[command(flatten)]
    pub secrets: SecretsDirArgs,
}

/// `osenv put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The config and its environment.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The name, without the stored-key prefix.
    pub name: String,
}

/// `osenv delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The config and its environment.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The name, without the stored-key prefix.
    pub name: String,
    /// Delete without recovery (AWS ForceDeleteWithoutRecovery, Vault destroy, Azure purge).
    #[arg(long, visible_aliases = ["destroy", "purge"])]
    pub force: bool,
}

/// The KMS an `encrypt` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KmsSystem {
    /// AWS KMS.
    #[value(name = "aws_kms")]
    AwsKms,
    /// Google Cloud KMS.
    #[value(name = "google_kms")]
    GoogleKms,
}

/// What `osenv policy` grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyAccess {
    /// What `render`, `check`, `env` and `exec` need.
    Read,
    /// That, and what `put` and `delete` need for the config's names under the stored-key prefix.
    ReadWrite,
}

/// How `osenv policy` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFormat {
    /// The manager's own language, ready to load.
    Text,
    /// One JSON document for tools: the policy as data, the names, the notes.
    Json,
}

/// `osenv policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The config and its environment.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// What the policy grants.
    #[arg(long, value_enum, default_value_t = PolicyAccess::Read)]
    pub access: PolicyAccess,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PolicyFormat::Text)]
    pub format: PolicyFormat,
    /// Who gets the access, where the policy names one: a Google member
    /// (`serviceAccount:…`), an Azure principal's object id, a Conjur role (`host/ID`; default:
    /// the login). A placeholder otherwise.
    #[arg(long, value_name = "PRINCIPAL")]
    pub principal: Option<String>,
}

/// `osenv encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// The key. AWS: id, ARN, alias (`alias/name`) or alias ARN (required). Google:
    /// `projects/…/locations/…/keyRings/…/cryptoKeys/…` (default: GOOGLE_KMS_RESOURCE_NAME).
    #[arg(long, value_name = "KEY")]
    pub key_id: Option<String>,
    /// Which KMS.
    #[arg(long, value_enum, default_value = "aws_kms")]
    pub system: KmsSystem,
    /// A config whose key_management_settings give the region and credentials settings.
    #[arg(long, value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// Dotenv file(s) added to the environment (e.g. `AWS_REGION`).
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Print `aws_kms/<base64>`, the value form LiteLLM's `USE_AWS_KMS` recognises (AWS only).
    #[arg(long)]
    pub prefix: bool,
    /// Concurrency, timeouts, retries.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// What the config and env files may set.
    #[command(flatten)]
    pub trust: TrustArgs,
}
