//! `--watch`: `exec --watch` supervises its command (signals, exit status, restarts on a
//! changed value only, a failed check keeps it running), `render --watch` and `env --watch`
//! keep a file current. Local cases use an env file as the source that rotates; the backend
//! cases rotate a secret in the real OpenBao and moto.

use crate::support::assert_message;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child that records each start (with the value it got) and each SIGTERM in `seen`, then
/// waits; `ignore` makes it ignore SIGTERM.
pub(crate) fn recorder(dir: &Path, ignore: bool) -> PathBuf {
    let script = dir.join("child.sh");
    let on_term = if ignore {
        "trap 'echo ignored-term >> seen' TERM"
    } else {
        "trap 'echo term >> seen; exit 0' TERM"
    };
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"start $KEY\" >> seen\n{on_term}\nwhile :; do sleep 0.05; done\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// `osenv ARGS` in `dir`, stderr to `dir/osenv.log` (a long run must not fill a pipe).
pub(crate) fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    start_through(env!("CARGO_BIN_EXE_osenv"), dir, args, env)
}

/// The same, through `program` (a wrapper that ends by running osenv in its place).
pub(crate) fn start_through(program: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let log = std::fs::File::create(dir.join("osenv.log")).unwrap();
    Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("osenv starts")
}

pub(crate) fn seen(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("seen"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub(crate) fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("osenv.log")).unwrap_or_default()
}

/// Wait up to `limit` for `done`.
pub(crate) fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

pub(crate) fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// osenv's exit code, waiting at most `limit` (then it is killed and the test fails).
pub(crate) fn exit_code(mut child: Child, limit: Duration) -> i32 {
    let end = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("osenv did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn write(path: &Path, text: &str) {
    // A new modification time even within the same second, and a new size or not.
    std::fs::write(path, text).unwrap();
}

#[test]
fn exec_watch_restarts_once_on_a_changed_value_never_on_the_same_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.yaml"), "api_key: os.environ/KEY\n").unwrap();
    write(&d.join(".env"), "KEY=first-value\n");
    let child = recorder(d, false);
    let osenv = start(
        d,
        &[
            "exec",
            "--watch",
            "--watch-interval",
            "1s",
            "config.yaml",
            "--env-file",
            ".env",
            "--",
            child.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        wait_for(Duration::from_secs(5), || seen(d) == ["start first-value"]),
        "{:?} {}",
        seen(d),
        log(d)
    );

    // Rotated: restarted once with the new value, within two intervals and the restart delay.
    write(&d.join(".env"), "KEY=second-value\n");
    assert!(
        wait_for(Duration::from_secs(4), || seen(d).len() >= 3),
        "{:?} {}",
        seen(d),
        log(d)
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        seen(d),
        ["start first-value", "term", "start second-value"],
        "{}",
        log(d)
    );

    // Written again with the same value: checked, not restarted.
    write(&d.join(".env"), "# rotated\nKEY=second-value\n");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(seen(d).len(), 3, "{:?}", seen(d));

    // SIGTERM goes to the command; osenv ends with its status (0: its trap exits 0).
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 0);
    assert_eq!(seen(d).last().map(String::as_str), Some("term"));
    let log = log(d);
    assert!(
        !log.contains("first-value") && !log.contains("second-value"),
        "no value in the log: {log}"
    );
}

#[test]
fn exec_watch_ends_with_the_commands_status() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.yaml"), "api_key: os.environ/KEY\n").unwrap();
    let env = [("KEY", "value")];
    // The command exits by itself: no restart, osenv exits with its code.
    let osenv = start(
        d,
        &["exec", "--watch", "config.yaml", "--", "sh", "-c", "sleep 0.3; exit 7"],
        &env,
    );
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 7);
    // Killed by a signal: 128 + the signal, as shells report it.
    let osenv = start(
        d,
        &[
            "exec",
            "--watch",
            "config.yaml",
            "--",
            "sh",
            "-c",
            "sleep 0.3; kill -KILL $$",
        ],
        &env,
    );
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 137);
    // SIGUSR1 is forwarded and does not stop osenv: the command decides (here it exits 3).
    // (SIGHUP is osenv's "check now": tests/osenv/supervisor.rs.)
    let osenv = start(
        d,
        &[
            "exec",
            "--watch",
            "config.yaml",
            "--",
            "sh",
            "-c",
            "trap 'exit 3' USR1; while :; do sleep 0.05; done",
        ],
        &env,
    );
    std::thread::sleep(Duration::from_millis(500));
    signal(&osenv, "USR1");
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 3);
    // A command that cannot be found: 127, as exec without --watch.
    let osenv = start(
        d,
        &["exec", "--watch", "config.yaml", "--", "no-such-command-osenv"],
        &env,
    );
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 127);
}

#[test]
fn a_command_that_ignores_the_restart_signal_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.yaml"), "api_key: os.environ/KEY\n").unwrap();
    write(&d.join(".env"), "KEY=one\n");
    let child = recorder(d, true);
    let osenv = start(
        d,
        &[
            "exec",
            "--watch",
            "--watch-interval",
            "1s",
            "--grace",
            "1s",
            "config.yaml",
            "--env-file",
            ".env",
            "--",
            child.to_str().unwrap(),
        ],
        &[],
    );
    assert!(wait_for(Duration::from_secs(5), || seen(d).len() == 1));
    write(&d.join(".env"), "KEY=two\n");
    assert!(
        wait_for(Duration::from_secs(6), || seen(d).last().map(String::as_str)
            == Some("start two")),
        "{:?} {}",
        seen(d),
        log(d)
    );
    assert_eq!(seen(d), ["start one", "ignored-term", "start two"]);
    assert!(
        log(d).contains("did not exit within 1s of SIGTERM; killing it"),
        "{}",
        log(d)
    );
    // A stop: SIGTERM is ignored too, so SIGKILL after the grace period; 128 + 9.
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 137);
}

#[test]
fn a_failed_check_keeps_the_command_running_on_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.yaml"), "api_key: os.environ/KEY\n").unwrap();
    write(&d.join(".env"), "KEY=kept\n");
    let child = recorder(d, false);
    let osenv = start(
        d,
        &[
            "exec",
            "--watch",
            "--watch-interval",
            "1s",
            "config.yaml",
            "--env-file",
            ".env",
            "--",
            child.to_str().unwrap(),
        ],
        &[],
    );
    assert!(wait_for(Duration::from_secs(5), || seen(d).len() == 1));
    // The value disappears: every check fails, the command keeps running, one warning each.
    write(&d.join(".env"), "OTHER=x\n");
    assert!(
        wait_for(Duration::from_secs(5), || log(d).matches("check failed").count() >= 2),
        "{}",
        log(d)
    );
    assert_eq!(seen(d), ["start kept"]);
    let text = log(d);
    assert!(
        text.contains("the command keeps running on the values it has"),
        "{text}"
    );
    assert!(text.contains("KEY"), "the failure names the reference: {text}");
    assert!(!text.contains("kept\n") && !text.contains("=kept"), "{text}");
    // And the file coming back with a new value restarts it.
    write(&d.join(".env"), "KEY=back\n");
    assert!(
        wait_for(Duration::from_secs(5), || seen(d).last().map(String::as_str)
            == Some("start back")),
        "{:?}",
        seen(d)
    );
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 0);
}

#[test]
fn render_watch_rewrites_the_file_only_when_its_text_changes() {
    use std::os::unix::fs::MetadataExt as _;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.yaml"), "api_key: os.environ/KEY\n").unwrap();
    write(&d.join(".env"), "KEY=canary-one\n");
    let osenv = start(
        d,
        &[
            "render",
            "--watch",
            "--watch-interval",
            "1s",
            "-o",
            "out.yaml",
            "config.yaml",
            "--env-file",
            ".env",
            "--on-change",
            "echo changed >> changes; env >> on-change.env",
        ],
        // Login material osenv's environment holds (here unused): not the hook's.
        &[("HCP_VAULT_TOKEN", "hvs.hook-canary")],
    );
    let out = d.join("out.yaml");
    let text = || std::fs::read_to_string(&out).unwrap_or_default();
    let changes = || {
        std::fs::read_to_string(d.join("changes"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert!(
        wait_for(Duration::from_secs(5), || text() == "api_key: canary-one\n"),
        "{}",
        log(d)
    );
    let mode = std::fs::metadata(&out).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A rotated value.
    write(&d.join(".env"), "KEY=canary-two\n");
    assert!(
        wait_for(Duration::from_secs(4), || text() == "api_key: canary-two\n"),
        "{}",
        log(d)
    );
    // An edit of the config.
    std::fs::write(
        d.join("config.yaml"),
        "api_key: os.environ/KEY\nsecond: os.environ/KEY\n",
    )
    .unwrap();
    assert!(
        wait_for(Duration::from_secs(4), || text()
            == "api_key: canary-two\nsecond: canary-two\n"),
        "{}",
        log(d)
    );
    assert!(wait_for(Duration::from_secs(2), || changes() == 2), "{}", changes());
    // Nothing changed (an edit that renders the same): the file is not replaced.
    let inode = std::fs::metadata(&out).unwrap().ino();
    write(&d.join(".env"), "# same\nKEY=canary-two\n");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        std::fs::metadata(&out).unwrap().ino(),
        inode,
        "rewritten without a change"
    );
    assert_eq!(changes(), 2);
    // A broken config keeps the last file.
    std::fs::write(d.join("config.yaml"), "api_key: [unclosed\n").unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(text(), "api_key: canary-two\nsecond: canary-two\n");
    assert!(log(d).contains("keeps its last contents"), "{}", log(d));
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 0);
    // The --on-change command got osenv's own environment, no value.
    let seen_env = std::fs::read_to_string(d.join("on-change.env")).unwrap();
    assert!(!seen_env.contains("canary"), "{seen_env}");
    assert!(!seen_env.contains("HCP_VAULT_TOKEN"), "{seen_env}");
    // No temp file left.
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| Path::new(n).extension().is_some_and(|e| e == "tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn env_watch_keeps_an_env_file_current() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.yaml"), "api_key: os.environ/KEY\n").unwrap();
    write(&d.join(".env"), "KEY=one\n");
    let osenv = start(
        d,
        &[
            "env",
            "--watch",
            "--watch-interval",
            "1s",
            "-o",
            "out.env",
            "config.yaml",
            "--env-file",
            ".env",
        ],
        &[],
    );
    let text = || std::fs::read_to_string(d.join("out.env")).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(5), || text().ends_with("\nKEY='one'\n")),
        "{} {}",
        text(),
        log(d)
    );
    write(&d.join(".env"), "KEY=two\n");
    assert!(
        wait_for(Duration::from_secs(4), || text().ends_with("\nKEY='two'\n")),
        "{}",
        log(d)
    );
    signal(&osenv, "INT");
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 0);
}

#[test]
fn watch_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.yaml"), "a: 1\n").unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_osenv"))
            .args(args)
            .current_dir(d)
            .env_clear()
            .output()
            .unwrap()
    };
    let out = run(&["render", "--watch", "config.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("render --watch needs -o FILE"));
    let out = run(&["render", "--watch-interval", "5m", "config.yaml"]);
    assert_eq!(out.status.code(), Some(2), "--watch-interval needs --watch");
    let out = run(&[
        "render",
        "--watch",
        "--watch-interval",
        "soon",
        "-o",
        "x",
        "config.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    // Each refused flag value is named as written, with what the flag takes.
    let mut refusals = String::new();
    for flags in [
        &["render", "--watch", "-o", "x", "--watch-interval", "soon"][..],
        &["render", "--watch", "-o", "x", "--watch-interval", "500ms"],
        &["exec", "--watch", "--grace", "8d"],
        &["exec", "--watch", "--restart-signal", "KILL"],
        &["exec", "--watch", "--listen", "127.0.0.1:0", "--ready", "health"],
        &["exec", "--user", "0"],
        &["exec", "--user", "1000:root"],
        &["exec", "--user", "1000:4294967295"],
        &[
            "env",
            "--watch",
            "-o",
            "x",
            "--on-change",
            "true",
            "--on-change-timeout",
            "1h5",
        ],
    ] {
        let args: Vec<&str> = flags.iter().copied().chain(["config.yaml", "--", "true"]).collect();
        let args = if flags[0] == "exec" {
            &args[..]
        } else {
            &args[..args.len() - 2]
        };
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        refusals.push_str(stderr.lines().next().unwrap_or_default());
        refusals.push('\n');
    }
    assert_message!("flag_values_refused", refusals);
    // The defaults of --grace and --restart-signal do not need --watch.
    let out = run(&["exec", "config.yaml", "--", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[cfg(feature = "vault")]
mod vault {
    use super::*;
    use crate::servers::CountingProxy;
    use crate::vault::{approle, live_tokens_of, seed, server, unique};
    use serde_json::json;

    /// With AppRole, the one login of the watch is renewed past half its lease (not logged in
    /// again), a rotated secret restarts the command, and the token is revoked at the end.
    #[test]
    fn exec_watch_with_vault_renews_its_token_restarts_on_rotation_and_revokes_at_exit() {
        let Some(server) = server() else { return };
        let role = unique("watch");
        let settings = json!({"token_policies": ["reader"], "token_ttl": "4s", "token_max_ttl": "10m"});
        let (role_id, secret_id) = approle(&server, &role, &settings);
        // Plain names under a path prefix: a POSIX shell (the child) drops variables whose
        // names are not identifiers, such as `app/x/openai`, from the environment.
        let prefix = format!("app/{role}");
        let path = format!("{prefix}/KEY");
        seed(&server, &path, &json!({"key": "sk-v1"}));

        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("config.yaml"),
            "general_settings:\n  key_management_system: hashicorp_vault\napi_key: os.environ/KEY\n",
        )
        .unwrap();
        let script = recorder(d, false);
        let proxy = CountingProxy::start(&server.addr, "X-Osenv-Unused");
        let before = live_tokens_of(&server, &role);
        let osenv = start(
            d,
            &[
                "exec",
                "--watch",
                "--watch-interval",
                "1s",
                "config.yaml",
                "--",
                script.to_str().unwrap(),
            ],
            &[
                ("HCP_VAULT_ADDR", proxy.url.as_str()),
                ("HCP_VAULT_PATH_PREFIX", prefix.as_str()),
                ("HCP_VAULT_APPROLE_ROLE_ID", role_id.as_str()),
                ("HCP_VAULT_APPROLE_SECRET_ID", secret_id.as_str()),
            ],
        );
        assert!(
            wait_for(Duration::from_secs(5), || seen(d) == ["start sk-v1"]),
            "{:?} {}",
            seen(d),
            log(d)
        );
        // Past the 4 s lease, the same token (renewed) still reads.
        std::thread::sleep(Duration::from_secs(6));
        assert_eq!(proxy.requests("POST /v1/auth/approle/login"), 1, "{:?}", proxy.lines());
        assert!(
            proxy.requests("POST /v1/auth/token/renew-self") >= 1,
            "{:?}",
            proxy.lines()
        );
        assert!(!log(d).contains("check failed"), "{}", log(d));
        // A new version with the same value: no restart. A new value: one restart.
        seed(&server, &path, &json!({"key": "sk-v1"}));
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(seen(d), ["start sk-v1"]);
        seed(&server, &path, &json!({"key": "sk-v2"}));
        assert!(
            wait_for(Duration::from_secs(5), || seen(d).last().map(String::as_str)
                == Some("start sk-v2")),
            "{:?} {}",
            seen(d),
            log(d)
        );
        assert_eq!(seen(d), ["start sk-v1", "term", "start sk-v2"]);
        signal(&osenv, "TERM");
        assert_eq!(exit_code(osenv, Duration::from_secs(10)), 0);
        assert_eq!(
            live_tokens_of(&server, &role),
            before,
            "the watch's token is revoked at exit"
        );
        assert!(!log(d).contains("sk-v"), "{}", log(d));
    }
}

#[cfg(feature = "cyberark")]
mod conjur {
    use super::*;

    /// A Conjur whose tokens live shorter than the watch interval: the check that meets the
    /// refused (reused) token authenticates again and carries on; the rotated value reaches the
    /// file; the interval defaults to CYBERARK_REFRESH_INTERVAL.
    #[test]
    fn render_watch_with_conjur_authenticates_again_when_its_token_is_refused() {
        let Some(f) = crate::conjur::fake() else { return };
        f.configure(&serde_json::json!({"token_ttl": 1}));
        f.seed("litellm/key", &["sk-v1"]);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            &d.join("config.yaml"),
            "general_settings:\n  key_management_system: cyberark\napi_key: os.environ/litellm/key\n",
        );
        let osenv = start(
            d,
            &["-v", "render", "--watch", "-o", "out.yaml", "config.yaml"],
            &[
                ("CYBERARK_API_BASE", f.url.as_str()),
                ("CYBERARK_API_KEY", "admin-api-key"),
                ("CYBERARK_REFRESH_INTERVAL", "2"),
            ],
        );
        let out = d.join("out.yaml");
        let holds = |value: &str| std::fs::read_to_string(&out).is_ok_and(|t| t.contains(value));
        assert!(wait_for(Duration::from_secs(10), || holds("sk-v1")), "{}", log(d));
        // The token of the first resolution has expired by the next check.
        std::thread::sleep(Duration::from_millis(1200));
        f.seed("litellm/key", &["sk-v1", "sk-v2"]);
        assert!(wait_for(Duration::from_secs(10), || holds("sk-v2")), "{}", log(d));
        signal(&osenv, "TERM");
        assert_eq!(exit_code(osenv, Duration::from_secs(10)), 0, "{}", log(d));
        let statuses = f.statuses();
        assert!(statuses.contains(&401), "a reused token was refused: {statuses:?}");
        assert!(f.count("POST /authn/") >= 2, "{:#?}", f.requests());
        assert!(!log(d).contains("admin-api-key"));
    }
}

#[cfg(all(feature = "aws", feature = "vault"))]
mod outage {
    use super::*;
    use crate::fault_proxy::{Fault, FaultProxy};
    use crate::vault::{seed, server, unique};
    use serde_json::json;

    /// Vault down during checks: one warning per failed check, the command keeps running, and
    /// a rotation after it comes back restarts it.
    #[test]
    fn a_backend_outage_during_a_watch_keeps_the_command_running() {
        let Some(server) = server() else { return };
        let prefix = format!("app/{}", unique("outage"));
        let path = format!("{prefix}/KEY");
        seed(&server, &path, &json!({"key": "before"}));
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("config.yaml"),
            "general_settings:\n  key_management_system: hashicorp_vault\napi_key: os.environ/KEY\n",
        )
        .unwrap();
        let script = recorder(d, false);
        let proxy = FaultProxy::start(&server.addr);
        let osenv = start(
            d,
            &[
                "exec",
                "--watch",
                "--watch-interval",
                "1s",
                "--deadline",
                "1",
                "config.yaml",
                "--",
                script.to_str().unwrap(),
            ],
            &[
                ("HCP_VAULT_ADDR", proxy.url.as_str()),
                ("HCP_VAULT_PATH_PREFIX", prefix.as_str()),
                ("HCP_VAULT_TOKEN", "root"),
            ],
        );
        assert!(
            wait_for(Duration::from_secs(5), || seen(d) == ["start before"]),
            "{:?} {}",
            seen(d),
            log(d)
        );
        proxy.always(Fault::status(503));
        assert!(
            wait_for(Duration::from_secs(8), || log(d).matches("check failed").count() >= 2),
            "{}",
            log(d)
        );
        assert_eq!(seen(d), ["start before"]);
        proxy.always(Fault::Pass);
        seed(&server, &path, &json!({"key": "after"}));
        assert!(
            wait_for(Duration::from_secs(6), || seen(d).last().map(String::as_str)
                == Some("start after")),
            "{:?} {}",
            seen(d),
            log(d)
        );
        signal(&osenv, "TERM");
        assert_eq!(exit_code(osenv, Duration::from_secs(5)), 0);
    }
}

#[cfg(all(feature = "aws", feature = "vault"))]
mod stalled {
    use super::*;
    use crate::fault_proxy::{Fault, FaultProxy};
    use crate::vault::{seed, server, unique};
    use serde_json::json;

    /// A SIGTERM while a check hangs on an unresponsive backend reaches the command at once,
    /// not after the check's deadline (a pod's grace period is shorter).
    #[test]
    fn a_stop_signal_during_a_hanging_check_is_forwarded_at_once() {
        let Some(server) = server() else { return };
        let prefix = format!("app/{}", unique("stall"));
        seed(&server, &format!("{prefix}/KEY"), &json!({"key": "v"}));
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("config.yaml"),
            "general_settings:\n  key_management_system: hashicorp_vault\napi_key: os.environ/KEY\n",
        )
        .unwrap();
        let script = recorder(d, false);
        let proxy = FaultProxy::start(&server.addr);
        let osenv = start(
            d,
            &[
                "exec",
                "--watch",
                "--watch-interval",
                "1s",
                "--deadline",
                "60",
                "--timeout",
                "60",
                "config.yaml",
                "--",
                script.to_str().unwrap(),
            ],
            &[
                ("HCP_VAULT_ADDR", proxy.url.as_str()),
                ("HCP_VAULT_PATH_PREFIX", prefix.as_str()),
                ("HCP_VAULT_TOKEN", "root"),
            ],
        );
        assert!(
            wait_for(Duration::from_secs(5), || seen(d) == ["start v"]),
            "{:?} {}",
            seen(d),
            log(d)
        );
        proxy.always(Fault::Stall);
        let before = proxy.requests();
        assert!(
            wait_for(Duration::from_secs(5), || proxy.requests() > before),
            "no check started"
        );
        let sent = Instant::now();
        signal(&osenv, "TERM");
        assert_eq!(exit_code(osenv, Duration::from_secs(5)), 0);
        assert!(sent.elapsed() < Duration::from_secs(3), "{:?}", sent.elapsed());
        assert_eq!(seen(d), ["start v", "term"]);
    }
}

#[cfg(feature = "aws")]
mod aws {
    use super::*;
    use crate::servers::{Moto, moto, runtime};

    #[test]
    fn exec_watch_with_aws_restarts_after_put_secret_value() {
        let Some(moto) = moto() else { return };
        let client = moto.secrets();
        runtime().block_on(async {
            client
                .create_secret()
                .name("KEY")
                .secret_string("aws-v1")
                .send()
                .await
                .unwrap();
        });
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("config.yaml"),
            "general_settings:\n  key_management_system: aws_secret_manager\napi_key: os.environ/KEY\n",
        )
        .unwrap();
        let child = recorder(d, false);
        let env: Vec<(&str, String)> = Moto::env(&moto.url);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let osenv = start(
            d,
            &[
                "exec",
                "--watch",
                "--watch-interval",
                "1s",
                "config.yaml",
                "--",
                child.to_str().unwrap(),
            ],
            &env,
        );
        assert!(
            wait_for(Duration::from_secs(5), || seen(d) == ["start aws-v1"]),
            "{:?} {}",
            seen(d),
            log(d)
        );
        let put = |value: &str| {
            runtime().block_on(async {
                client
                    .put_secret_value()
                    .secret_id("KEY")
                    .secret_string(value)
                    .send()
                    .await
                    .unwrap();
            });
        };
        put("aws-v1");
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(seen(d), ["start aws-v1"], "the same value restarts nothing");
        put("aws-v2");
        assert!(
            wait_for(Duration::from_secs(5), || seen(d).last().map(String::as_str)
                == Some("start aws-v2")),
            "{:?} {}",
            seen(d),
            log(d)
        );
        assert_eq!(seen(d), ["start aws-v1", "term", "start aws-v2"]);
        signal(&osenv, "TERM");
        assert_eq!(exit_code(osenv, Duration::from_secs(5)), 0);
    }
}

/// As PID 1 (here: of a new PID namespace), osenv reaps the orphans re-parented to it, so no
/// zombie piles up in a container whose proxy forks helpers.
#[cfg(target_os = "linux")]
#[test]
fn as_pid_1_orphans_are_reaped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.yaml"), "api_key: os.environ/KEY\n").unwrap();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut args = vec!["--pid", "--fork"];
    if !is_root {
        args.push("--map-root-user");
    }
    // The command leaves an orphan (the subshell's background sleep) that exits soon after.
    let unshare = Command::new("unshare")
        .args(&args)
        .arg(env!("CARGO_BIN_EXE_osenv"))
        .args([
            "exec",
            "--watch",
            "config.yaml",
            "--",
            "sh",
            "-c",
            "(sleep 0.3 &); exec sleep 1000",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KEY", "value")
        .current_dir(d)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare runs");
    let children = |pid: u32| -> Vec<u32> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let state = |pid: u32| -> String {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit(") ")
            .next()
            .unwrap_or("")
            .chars()
            .take(1)
            .collect()
    };
    // osenv is unshare's child; wait until its command runs and the orphan has come and gone.
    assert!(
        wait_for(Duration::from_secs(5), || children(unshare.id()).len() == 1),
        "unshare did not start osenv"
    );
    let osenv = children(unshare.id())[0];
    std::thread::sleep(Duration::from_millis(1500));
    let left = children(osenv);
    let zombies: Vec<u32> = left.iter().copied().filter(|p| state(*p) == "Z").collect();
    assert!(
        zombies.is_empty(),
        "zombies under osenv: {zombies:?} (children {left:?})"
    );
    assert_eq!(left.len(), 1, "only the command is left: {left:?}");
    let _ = Command::new("kill").arg("-TERM").arg(osenv.to_string()).status();
    let out = unshare.wait_with_output().unwrap();
    // The command (sleep) dies of SIGTERM: 128 + 15.
    assert_eq!(out.status.code(), Some(143), "{}", String::from_utf8_lossy(&out.stderr));
}
