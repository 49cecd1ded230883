//! The supervisor's contract (README "The supervisor"): what each signal means in each watch
//! mode, what a stop leaves behind, hooks that hang, commands that ignore SIGTERM or leave
//! processes behind, and that waiting costs no CPU. Each test here failed against the loops the
//! supervisor replaced.

use crate::watch::{exit_code, log, recorder, seen, signal, start, wait_for, write};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// CPU time (user + system) of `pid` so far, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    field(14) + field(15)
}

fn alive(pid: u32) -> bool {
    // A zombie is not alive: it has exited and waits to be reaped.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

fn pid_in(dir: &Path, file: &str) -> Option<u32> {
    std::fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| Path::new(n).extension().is_some_and(|e| e.eq_ignore_ascii_case("tmp")) || n.starts_with(".osenv"))
        .collect()
}

/// The direct children of `pid`.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn exec_watch(dir: &Path, extra: &[&str], command: &[&str]) -> Child {
    let mut args = vec![
        "exec",
        "--watch",
        "--watch-interval",
        "1s",
        "config.yaml",
        "--env-file",
        ".env",
    ];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(command);
    start(dir, &args, &[])
}

fn setup(dir: &Path) {
    std::fs::write(dir.join("config.yaml"), "api_key: os.environ/KEY\n").unwrap();
    write(&dir.join(".env"), "KEY=one\n");
}

/// After forwarding SIGTERM to a command that ignores it, osenv waits out `--grace` without
/// using the CPU (it once spun on a check time in the past: a core at 100 %), then kills it
/// and ends with 128 + 9.
#[test]
fn waiting_out_the_grace_period_costs_no_cpu_and_ends_in_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let child = recorder(d, true);
    let osenv = exec_watch(d, &["--grace", "5s"], &[child.to_str().unwrap()]);
    assert!(wait_for(Duration::from_secs(5), || seen(d).len() == 1), "{}", log(d));
    signal(&osenv, "TERM");
    assert!(wait_for(Duration::from_secs(2), || seen(d).len() == 2), "{:?}", seen(d));
    // Past the next check time, well inside the grace period.
    std::thread::sleep(Duration::from_millis(1500));
    let before = cpu_ticks(osenv.id());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(osenv.id()) - before;
    // 5 % of a core over 2 s is 10 ticks.
    assert!(used < 10, "osenv used {used} ticks of CPU in 2 s while waiting");
    let started = Instant::now();
    assert_eq!(exit_code(osenv, Duration::from_secs(6)), 137, "{}", log(d));
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(
        log(d).contains("did not exit within 5s of SIGTERM; killing it"),
        "{}",
        log(d)
    );
}

/// SIGHUP is "check now" in every watch mode: it never ends osenv (it once did, by the default
/// action, leaving the login token live and a temp file behind), and a change it finds is
/// applied at once.
#[test]
fn sighup_checks_now_in_render_watch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.yaml"), "api_key: os.environ/KEY\n").unwrap();
    std::fs::create_dir(d.join("secrets")).unwrap();
    std::fs::write(d.join("secrets/KEY"), "one\n").unwrap();
    let osenv = start(
        d,
        &[
            "render",
            "--watch",
            "--watch-interval",
            "1h",
            "-o",
            "out.yaml",
            "--secrets-dir",
            "secrets",
            "config.yaml",
        ],
        &[],
    );
    let text = || std::fs::read_to_string(d.join("out.yaml")).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(5), || text() == "api_key: one\n"),
        "{}",
        log(d)
    );
    // A mounted secret is not a watched file: only the hour's check, or SIGHUP, sees it.
    std::fs::write(d.join("secrets/KEY"), "two\n").unwrap();
    signal(&osenv, "HUP");
    assert!(
        wait_for(Duration::from_secs(5), || text() == "api_key: two\n"),
        "{}",
        log(d)
    );
    // Twice more, quickly: still running.
    signal(&osenv, "HUP");
    signal(&osenv, "HUP");
    std::thread::sleep(Duration::from_millis(500));
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 0, "{}", log(d));
    assert_eq!(temp_files(d), Vec::<String>::new());
}

/// In `exec --watch`, SIGHUP checks now and restarts the command at once on a change; the
/// command does not get the HUP (most servers, LiteLLM's among them, die of it).
#[test]
fn sighup_checks_now_in_exec_watch_and_is_not_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.yaml"), "api_key: os.environ/KEY\n").unwrap();
    std::fs::create_dir(d.join("secrets")).unwrap();
    std::fs::write(d.join("secrets/KEY"), "one\n").unwrap();
    let child = recorder(d, false);
    let osenv = start(
        d,
        &[
            "exec",
            "--watch",
            "--watch-interval",
            "1h",
            "--secrets-dir",
            "secrets",
            "config.yaml",
            "--",
            child.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        wait_for(Duration::from_secs(5), || seen(d) == ["start one"]),
        "{}",
        log(d)
    );
    signal(&osenv, "HUP");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        seen(d),
        ["start one"],
        "no change: no restart, no signal to the command"
    );
    std::fs::write(d.join("secrets/KEY"), "two\n").unwrap();
    signal(&osenv, "HUP");
    assert!(
        wait_for(Duration::from_secs(5), || seen(d) == ["start one", "term", "start two"]),
        "{:?} {}",
        seen(d),
        log(d)
    );
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 0, "{}", log(d));
}

/// A hung `--on-change` hook never holds up a stop (it once ran inside the loop: SIGTERM was
/// not acted on until it exited), is stopped with osenv, and is killed at its timeout.
#[test]
fn a_hung_on_change_hook_never_holds_up_a_stop() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let osenv = start(
        d,
        &[
            "-v",
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
            "echo hook output line; echo $$ > hook.pid; exec sleep 1000",
        ],
        &[],
    );
    let text = || std::fs::read_to_string(d.join("out.yaml")).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(5), || text() == "api_key: one\n"),
        "{}",
        log(d)
    );
    write(&d.join(".env"), "KEY=two\n");
    assert!(
        wait_for(Duration::from_secs(5), || pid_in(d, "hook.pid").is_some()),
        "{}",
        log(d)
    );
    let hook = pid_in(d, "hook.pid").unwrap();
    assert!(alive(hook));
    // The loop goes on while the hook hangs.
    write(&d.join(".env"), "KEY=three\n");
    assert!(
        wait_for(Duration::from_secs(5), || text() == "api_key: three\n"),
        "{}",
        log(d)
    );
    let asked = Instant::now();
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(8)), 0, "{}", log(d));
    assert!(asked.elapsed() < Duration::from_secs(3), "took {:?}", asked.elapsed());
    assert!(
        wait_for(Duration::from_secs(2), || !alive(hook)),
        "the hook outlived osenv"
    );
    assert!(
        log(d).contains("hook output line"),
        "the hook's output is logged: {}",
        log(d)
    );
}

#[test]
fn a_hook_is_killed_at_its_timeout_and_its_status_logged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
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
            "--on-change-timeout",
            "1s",
            "--on-change",
            "echo $$ >> hook.pids; if [ -f second ]; then exit 3; fi; touch second; exec sleep 1000",
        ],
        &[],
    );
    let hooks = || {
        std::fs::read_to_string(d.join("hook.pids"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let text = || std::fs::read_to_string(d.join("out.yaml")).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(5), || text() == "api_key: one\n"),
        "{}",
        log(d)
    );
    assert_eq!(hooks(), 0, "not run for the first write");
    write(&d.join(".env"), "KEY=two\n");
    assert!(wait_for(Duration::from_secs(5), || hooks() == 1), "{}", log(d));
    assert!(
        wait_for(Duration::from_secs(4), || log(d)
            .contains("did not end within 1s; killed")),
        "{}",
        log(d)
    );
    write(&d.join(".env"), "KEY=three\n");
    assert!(
        wait_for(Duration::from_secs(5), || log(d).contains("exited with exit status: 3")),
        "{}",
        log(d)
    );
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 0, "{}", log(d));
}

/// What the command leaves behind (a background process of its own) ends with it, so a stop
/// or a restart leaves no orphan.
#[test]
fn the_commands_leftover_processes_end_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let osenv = exec_watch(
        d,
        &[],
        &["sh", "-c", "sleep 1000 & echo $! >> grandchildren; exec sleep 1000"],
    );
    let grandchildren = || -> Vec<u32> {
        std::fs::read_to_string(d.join("grandchildren"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    assert!(
        wait_for(Duration::from_secs(5), || grandchildren().len() == 1),
        "{}",
        log(d)
    );
    // A restart: the first command's background sleep goes with it.
    write(&d.join(".env"), "KEY=two\n");
    assert!(
        wait_for(Duration::from_secs(5), || grandchildren().len() == 2),
        "{}",
        log(d)
    );
    assert!(wait_for(Duration::from_secs(2), || !alive(grandchildren()[0])));
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 143, "{}", log(d));
    let left: Vec<u32> = grandchildren().into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "left running: {left:?}");
}

/// A stop signal before the command started (the first resolution still running) ends osenv
/// without starting it, with 128 + the signal.
#[cfg(feature = "vault")]
#[test]
fn a_stop_during_the_first_resolution_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("config.yaml"),
        "api_key: os.environ/KEY\ngeneral_settings:\n  key_management_system: hashicorp_vault\n",
    )
    .unwrap();
    // A Vault that accepts the connection and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let child = recorder(d, false);
    let osenv = start(
        d,
        &[
            "exec",
            "--watch",
            "--deadline",
            "60",
            "config.yaml",
            "--",
            child.to_str().unwrap(),
        ],
        &[("HCP_VAULT_ADDR", &address), ("HCP_VAULT_TOKEN", "t")],
    );
    std::thread::sleep(Duration::from_millis(800));
    assert!(children(osenv.id()).is_empty());
    let asked = Instant::now();
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 143, "{}", log(d));
    assert!(asked.elapsed() < Duration::from_secs(3));
    assert!(seen(d).is_empty(), "{:?}", seen(d));
    drop(listener);
}

/// Every signal in the table, at a watch that holds a Vault AppRole token: the ones that do
/// not stop it leave it running (SIGHUP once ended it by the default action, the token never
/// revoked); the ones that stop it revoke the token and leave no temp file.
#[cfg(feature = "vault")]
#[test]
fn signals_never_leave_a_vault_token_or_a_temp_file_behind() {
    use crate::vault::{approle, live_tokens_of, seed, server, unique};
    use serde_json::json;
    let Some(server) = server() else { return };
    let role = unique("signals");
    let (role_id, secret_id) = approle(
        &server,
        &role,
        &json!({"token_policies": ["reader"], "token_ttl": "10m"}),
    );
    let prefix = format!("app/{role}");
    seed(&server, &format!("{prefix}/KEY"), &json!({"key": "sk-v1"}));
    let before = live_tokens_of(&server, &role);
    for (storm, stop, mode) in [
        (&["HUP", "USR1", "USR2", "HUP"][..], "TERM", "render"),
        (&["HUP", "USR2"][..], "ALRM", "env"),
        (&["USR1"][..], "INT", "render"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("config.yaml"),
            "general_settings:\n  key_management_system: hashicorp_vault\napi_key: os.environ/KEY\n",
        )
        .unwrap();
        let osenv = start(
            d,
            &[mode, "--watch", "--watch-interval", "1s", "-o", "out", "config.yaml"],
            &[
                ("HCP_VAULT_ADDR", server.addr.as_str()),
                ("HCP_VAULT_PATH_PREFIX", prefix.as_str()),
                ("HCP_VAULT_APPROLE_ROLE_ID", role_id.as_str()),
                ("HCP_VAULT_APPROLE_SECRET_ID", secret_id.as_str()),
            ],
        );
        assert!(
            wait_for(Duration::from_secs(10), || d.join("out").exists()),
            "{}",
            log(d)
        );
        assert_eq!(live_tokens_of(&server, &role), before + 1, "one login");
        for name in storm {
            signal(&osenv, name);
            std::thread::sleep(Duration::from_millis(150));
        }
        std::thread::sleep(Duration::from_millis(500));
        assert!(alive(osenv.id()), "{storm:?} ended the watch: {}", log(d));
        signal(&osenv, stop);
        assert_eq!(exit_code(osenv, Duration::from_secs(10)), 0, "{}", log(d));
        assert_eq!(
            live_tokens_of(&server, &role),
            before,
            "SIG{stop}: the token is revoked"
        );
        assert_eq!(temp_files(d), Vec::<String>::new());
    }
}

/// The first write must succeed, as without `--watch`: a watch that cannot write its file ends
/// at once with the output error (it once kept running, the failure taken for a later one's).
#[test]
fn a_watch_that_cannot_write_its_file_ends_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let osenv = start(
        d,
        &[
            "render",
            "--watch",
            "-o",
            "missing/out.yaml",
            "config.yaml",
            "--env-file",
            ".env",
        ],
        &[],
    );
    assert_eq!(exit_code(osenv, Duration::from_secs(5)), 1, "{}", log(d));
    assert!(log(d).contains("missing/out.yaml"), "{}", log(d));
}

/// Found by the adversarial review of the supervisor: each case below failed before its fix.
mod review {
    use super::*;
    use std::process::{Command, Stdio};

    fn is_root() -> bool {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    }

    /// Root without the KILL capability (a container that adds only SETUID and SETGID) can
    /// start a command as another user but not signal it: refused at start, not a watch that
    /// can neither restart nor stop its command.
    #[test]
    fn exec_watch_user_without_the_kill_capability_is_refused() {
        if !is_root() {
            // Only root can drop its capabilities to reach this case; as another user
            // `--user` fails to start the command anyway (tests/osenv/trust.rs).
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        setup(d);
        let out = Command::new("setpriv")
            .args(["--bounding-set=-all,+setuid,+setgid", "--inh-caps=-all"])
            .arg(env!("CARGO_BIN_EXE_osenv"))
            .args([
                "exec",
                "--watch",
                "--user",
                "65532:65532",
                "config.yaml",
                "--env-file",
                ".env",
                "--",
                "true",
            ])
            .current_dir(d)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("without the KILL capability"), "{stderr}");
    }

    /// An env file replaced by one with the same size and modification time (`cp -p`,
    /// `rsync -a`, `tar x`) is another inode: reloaded.
    #[test]
    fn an_env_file_replaced_with_its_old_times_is_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("config.yaml"), "api_key: os.environ/KEY\n").unwrap();
        let old = |path: &Path| {
            let f = std::fs::File::options().write(true).open(path).unwrap();
            f.set_modified(std::time::SystemTime::UNIX_EPOCH + Duration::from_hours(438_288))
                .unwrap();
        };
        std::fs::write(d.join(".env"), "KEY=aaaa\n").unwrap();
        old(&d.join(".env"));
        let child = recorder(d, false);
        let osenv = exec_watch(d, &[], &[child.to_str().unwrap()]);
        assert!(
            wait_for(Duration::from_secs(5), || seen(d) == ["start aaaa"]),
            "{}",
            log(d)
        );
        std::fs::write(d.join("new.env"), "KEY=bbbb\n").unwrap();
        old(&d.join("new.env"));
        std::fs::rename(d.join("new.env"), d.join(".env")).unwrap();
        assert!(
            wait_for(Duration::from_secs(6), || seen(d).last().map(String::as_str)
                == Some("start bbbb")),
            "{:?} {}",
            seen(d),
            log(d)
        );
        signal(&osenv, "TERM");
        assert_eq!(exit_code(osenv, Duration::from_secs(5)), 0);
    }

    /// The config on stdin cannot be read again: `--watch` refuses it (it once kept the first
    /// values for good, every reload failing on an empty stdin).
    #[test]
    fn watch_refuses_a_config_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        setup(d);
        let out = Command::new(env!("CARGO_BIN_EXE_osenv"))
            .args(["exec", "--watch", "-", "--env-file", ".env", "--", "true"])
            .current_dir(d)
            .env_clear()
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("is stdin or a pipe, which can be read only once"));
        // An env file too: SIGHUP reads it again (with --allow-missing, an empty second read
        // once restarted the command without its secret).
        for env_file in ["-", "/dev/stdin", "/dev/fd/0"] {
            let out = Command::new(env!("CARGO_BIN_EXE_osenv"))
                .args([
                    "exec",
                    "--watch",
                    "--allow-missing",
                    "config.yaml",
                    "--env-file",
                    env_file,
                    "--",
                    "true",
                ])
                .current_dir(d)
                .env_clear()
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{env_file}");
        }
    }

    /// Started by a parent that left SIGCHLD blocked, osenv still sees its command exit; as
    /// PID 1 too (the init once hung for good).
    #[test]
    fn a_blocked_sigchld_does_not_hang_the_watch() {
        a_blocked_sigchld(&[]);
        let mut unshare = vec!["/usr/bin/env", "unshare", "--pid", "--fork"];
        if !is_root() {
            unshare.push("--map-root-user");
        }
        a_blocked_sigchld(&unshare);
    }

    fn a_blocked_sigchld(wrapper: &[&str]) {
        let python = std::env::var("OSENV_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        setup(d);
        let osenv = Command::new(python)
            .args([
                "-c",
                "import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD}); os.execv(sys.argv[1], sys.argv[1:])",
            ])
            .args(wrapper)
            .args([
                env!("CARGO_BIN_EXE_osenv"),
                "exec",
                "--watch",
                "config.yaml",
                "--env-file",
                ".env",
                "--",
                "sh",
                "-c",
                "sleep 0.5; exit 3",
            ])
            .current_dir(d)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert_eq!(exit_code(osenv, Duration::from_secs(6)), 3);
    }

    /// As PID 1, a signal in the watch's first milliseconds (before it has its handlers) is
    /// held until it has them: SIGHUP stays "check now" instead of ending it.
    #[test]
    fn as_pid_1_an_early_signal_waits_for_the_watchs_handlers() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        setup(d);
        let mut args = vec!["--pid", "--fork"];
        if !is_root() {
            args.push("--map-root-user");
        }
        let unshare = Command::new("unshare")
            .args(&args)
            .arg(env!("CARGO_BIN_EXE_osenv"))
            .args([
                "render",
                "--watch",
                "-o",
                "out.yaml",
                "config.yaml",
                "--env-file",
                ".env",
            ])
            .current_dir(d)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The init: unshare's child, as soon as it exists (looked for without a pause: the
        // window before the watch has its handlers is a few milliseconds); then SIGHUP, again
        // and again.
        let give_up = Instant::now() + Duration::from_secs(5);
        let init = loop {
            if let Some(init) = children(unshare.id()).first().copied() {
                break init;
            }
            assert!(Instant::now() < give_up, "no init");
        };
        let until = Instant::now() + Duration::from_millis(300);
        while Instant::now() < until {
            let _ = Command::new("kill").args(["-HUP", &init.to_string()]).status();
        }
        assert!(wait_for(Duration::from_secs(5), || d.join("out.yaml").exists()));
        assert!(alive(init), "the watch ended");
        let _ = Command::new("kill").args(["-TERM", &init.to_string()]).status();
        assert_eq!(exit_code(unshare, Duration::from_secs(5)), 0);
    }
}
