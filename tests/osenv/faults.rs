//! Faults between osenv and real servers (moto, OpenBao), injected by [`FaultProxy`]:
//! transient answers are retried with backoff, permanent ones are not, timeouts and the
//! deadline hold, every failure is located and names the backend, endpoint and attempts, and no
//! output file is created or changed. Under load the concurrency bound holds.

use crate::fault_proxy::{Fault, FaultProxy};
use crate::servers::{Moto, moto, runtime, server_url};
use crate::support::{Run, STALL_LIMITS, assert_message, ended_at_the_deadline, osenv, workdir};
use futures_util::StreamExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

const SM: &str = "general_settings:\n  key_management_system: aws_secret_manager\n";
const OLD: &str = "old: content\n";

fn aws(dir: &Path, endpoint: &str, extra: &[&str]) -> Run {
    osenv(dir)
        .args(["render", "config.yaml", "-o", "out.yaml"])
        .args(extra)
        .envs(Moto::env(endpoint))
        .run()
}

fn seed(moto: &Moto, names: &[String]) {
    let client = moto.secrets();
    runtime().block_on(async {
        futures_util::stream::iter(names.iter().map(|name| {
            let client = client.clone();
            async move {
                client
                    .create_secret()
                    .name(name)
                    .secret_string(format!("value-of-{name}"))
                    .send()
                    .await
                    .expect("seed");
            }
        }))
        // One at a time: moto 5.2.5 is not safe for concurrent CreateSecret ("dictionary changed
        // size during iteration"); its concurrent reads are fine.
        .buffer_unordered(1)
        .collect::<Vec<()>>()
        .await;
    });
}

/// The output file still holds what it held, and nothing else was left in the directory.
#[track_caller]
fn untouched(dir: &Path) {
    assert_eq!(std::fs::read_to_string(dir.join("out.yaml")).unwrap(), OLD);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["config.yaml", "out.yaml"], "a temp file was left behind");
}

fn setup(moto: &Moto) -> tempfile::TempDir {
    seed(moto, &["a".to_owned()]);
    workdir(&[("config.yaml", &format!("{SM}a: os.environ/a\n")), ("out.yaml", OLD)])
}

#[test]
fn transient_faults_are_retried_until_an_answer() {
    let Some(moto) = moto() else { return };
    let dir = setup(&moto);
    let proxy = FaultProxy::start(&moto.url);
    proxy.plan([
        Fault::status(500),
        Fault::retry_after(503, 1),
        Fault::status(502),
        Fault::status(429),
        Fault::aws_throttling(),
        Fault::Truncate,
        Fault::Close,
        Fault::Reset,
    ]);
    let out = aws(dir.path(), &proxy.url, &["--attempts", "10", "--timeout", "5"]);
    out.success();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.yaml")).unwrap(),
        "general_settings: {}\na: value-of-a\n"
    );
    assert_eq!(proxy.requests(), 9, "eight faults, then the answer");
}

/// A throttled `BatchGetSecretValue` (its quota is 100 requests/s per account, which a
/// fleet's rollout exceeds) is not retried: the ids move to `GetSecretValue`, whose quota is
/// 100 times larger, and chunks that start later in the run go there directly.
#[test]
fn a_throttled_batch_moves_to_get_secret_value() {
    let Some(moto) = moto() else { return };
    let names: Vec<String> = (0..25).map(|i| format!("t{i:02}")).collect();
    seed(&moto, &names);
    let refs = names.iter().fold(String::new(), |mut refs, n| {
        use std::fmt::Write as _;
        let _ = writeln!(refs, "{n}: os.environ/{n}");
        refs
    });
    let dir = workdir(&[("config.yaml", &format!("{SM}{refs}"))]);
    let proxy = FaultProxy::start(&moto.url);
    proxy.plan([Fault::aws_throttling()]);
    let out = osenv(dir.path())
        .args(["-v", "render", "config.yaml", "--concurrency", "1"])
        .envs(Moto::env(&proxy.url))
        .run();
    out.success();
    for n in &names {
        assert!(out.stdout.contains(&format!("{n}: value-of-{n}")), "{}", out.stdout);
    }
    // One throttled batch of 20, then its 20 ids one by one; the other chunk's batch (5 ids)
    // was already on its way and answers.
    assert_eq!(proxy.requests(), 1 + 20 + 1);
    assert_eq!(
        out.stderr.matches("BatchGetSecretValue is throttled").count(),
        1,
        "{}",
        out.stderr
    );
}

/// A denied `BatchGetSecretValue` (a policy that grants only `GetSecretValue`) is not an error:
/// the ids go to `GetSecretValue`, said once at info level, and the values are the same.
#[test]
fn a_denied_batch_moves_to_get_secret_value() {
    let Some(moto) = moto() else { return };
    let names: Vec<String> = (0..3).map(|i| format!("d{i}")).collect();
    seed(&moto, &names);
    let dir = workdir(&[(
        "config.yaml",
        &format!(
            "{SM}d0: os.environ/d0
d1: os.environ/d1
d2: os.environ/d2
"
        ),
    )]);
    let proxy = FaultProxy::start(&moto.url);
    proxy.plan([Fault::aws_error("AccessDeniedException")]);
    let out = osenv(dir.path())
        .args(["-v", "render", "config.yaml"])
        .envs(Moto::env(&proxy.url))
        .run();
    out.success();
    assert_eq!(
        out.stdout,
        "general_settings: {}\nd0: value-of-d0\nd1: value-of-d1\nd2: value-of-d2\n"
    );
    assert_eq!(proxy.requests(), 1 + 3, "the denied batch, then one read per id");
    assert_eq!(
        out.stderr.matches("BatchGetSecretValue is denied").count(),
        1,
        "{}",
        out.stderr
    );
}

#[test]
fn permanent_failures_are_not_retried_and_change_nothing() {
    let Some(moto) = moto() else { return };
    let dir = setup(&moto);
    let proxy = FaultProxy::start(&moto.url);
    proxy.always(Fault::aws_error("UnrecognizedClientException"));
    let out = aws(dir.path(), &proxy.url, &[]);
    out.code(1);
    assert_eq!(proxy.requests(), 1);
    assert_message!("a_permanent_failure", out.stderr);
    untouched(dir.path());
}

#[test]
fn retries_stop_at_the_attempt_budget() {
    let Some(moto) = moto() else { return };
    let dir = setup(&moto);
    let proxy = FaultProxy::start(&moto.url);
    proxy.always(Fault::status(503));
    let out = aws(dir.path(), &proxy.url, &["--attempts", "3"]);
    out.code(1);
    assert_eq!(proxy.requests(), 3);
    assert_message!("the_attempt_budget", out.stderr);
    untouched(dir.path());
}

#[test]
fn a_stalled_backend_cannot_outlast_the_deadline() {
    let Some(moto) = moto() else { return };
    let dir = setup(&moto);
    let proxy = FaultProxy::start(&moto.url);
    proxy.always(Fault::Stall);
    let started = Instant::now();
    let out = aws(dir.path(), &proxy.url, &STALL_LIMITS);
    ended_at_the_deadline(&out, started.elapsed());
    assert!(proxy.requests() >= 2, "the per-request timeout fired and was retried");
    untouched(dir.path());
}

#[test]
fn a_slow_trickle_times_out_and_is_retried() {
    let Some(moto) = moto() else { return };
    let dir = setup(&moto);
    let proxy = FaultProxy::start(&moto.url);
    // The trickled answer would take minutes; the retry gets a normal one. A 3 s timeout keeps
    // that retry from timing out too on a loaded machine, so the count is exact.
    proxy.plan([Fault::Trickle(Duration::from_millis(500))]);
    let out = aws(dir.path(), &proxy.url, &["--timeout", "3"]);
    out.success();
    assert_eq!(proxy.requests(), 2);
}

#[test]
fn connection_refused_is_retried_then_reported() {
    let Some(moto) = moto() else { return };
    let dir = setup(&moto);
    // A port that refuses connections, held for the test so no other test's server gets it.
    let (_held, url) = crate::fault_proxy::refusing_port();
    let out = aws(dir.path(), &url, &["--attempts", "2"]);
    out.code(1);
    assert_message!("connection_refused", out.stderr);
    untouched(dir.path());
}

/// A connection reset on every attempt (a load balancer dropping its state) is retried, then
/// reported as one located error that says what the transport saw; nothing is written.
#[test]
fn connection_resets_are_retried_then_reported() {
    let Some(moto) = moto() else { return };
    let dir = setup(&moto);
    let proxy = FaultProxy::start(&moto.url);
    proxy.always(Fault::Reset);
    let out = aws(dir.path(), &proxy.url, &["--attempts", "3"]);
    out.code(1);
    assert_eq!(proxy.requests(), 3, "every attempt reached the proxy and was reset");
    assert!(
        out.stderr.contains("config.yaml:3:4: cannot resolve `os.environ/a`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("failed after 3 attempts in "), "{}", out.stderr);
    assert!(out.stderr.to_lowercase().contains("reset"), "{}", out.stderr);
    untouched(dir.path());
}

#[test]
fn ten_thousand_references_against_moto_stay_within_the_bound() {
    let Some(moto) = moto() else { return };
    // 2,000 secrets, each referenced five times: 10,000 references, 100 batch reads. (moto
    // creates secrets one at a time in time linear in the secrets it has, so 10,000 distinct
    // ones would take minutes to seed.)
    let names: Vec<String> = (0..2_000).map(|i| format!("load/{i:05}")).collect();
    seed(&moto, &names);
    let mut config = String::from(SM);
    config.push_str("model_list:\n");
    for name in names.iter().cycle().take(10_000) {
        config.push_str("  - litellm_params: {api_key: os.environ/");
        config.push_str(name);
        config.push_str("}\n");
    }
    let dir = workdir(&[("config.yaml", &config)]);
    let proxy = FaultProxy::start(&moto.url);
    let out = osenv(dir.path())
        .args(["render", "config.yaml", "--concurrency", "16", "--deadline", "120"])
        .envs(Moto::env(&proxy.url))
        .run();
    out.success();
    assert_eq!(out.stdout.matches("value-of-load/").count(), 10_000);
    assert_eq!(proxy.requests(), 100, "2,000 distinct names in batches of 20");
    assert!(proxy.max_in_flight() <= 16, "in flight: {}", proxy.max_in_flight());
    // moto closes every connection after its answer, so osenv opens one per request (100): a
    // leak would keep them open. A closing connection can overlap its successor for an instant.
    assert!(
        proxy.max_open_connections() <= 2 * 16,
        "open connections: {}",
        proxy.max_open_connections()
    );
}

// --- Vault ---------------------------------------------------------------------------------

fn vault() -> Option<String> {
    server_url("OSENV_TEST_VAULT_ADDR", "OpenBao (Vault)")
}

fn vault_seed(addr: &str, paths: &[String]) {
    let rt = runtime();
    rt.block_on(async {
        let client = reqwest::Client::new();
        futures_util::stream::iter(paths.iter().map(|path| {
            let client = client.clone();
            async move {
                let response = client
                    .post(format!("{addr}/v1/secret/data/{path}"))
                    .header("X-Vault-Token", "root")
                    .json(&serde_json::json!({"data": {"key": format!("value-of-{path}")}}))
                    .send()
                    .await
                    .expect("seed");
                assert!(response.status().is_success());
            }
        }))
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    });
}

fn vault_run(dir: &Path, addr: &str, extra: &[&str]) -> Run {
    osenv(dir)
        .args(["render", "config.yaml", "-o", "out.yaml"])
        .args(extra)
        .env("HCP_VAULT_ADDR", addr)
        .env("HCP_VAULT_TOKEN", "root")
        .run()
}

/// A Vault that starts accepting connections 3 s after osenv starts (a sidecar or a service
/// still getting endpoints) is waited for under the default deadline, with one waiting line
/// however many requests are waiting.
#[test]
fn a_backend_that_comes_up_late_is_waited_for() {
    let Some(addr) = vault() else { return };
    let paths: Vec<String> = (0..5)
        .map(|i| format!("late/{}/k{i}", crate::support::run_id()))
        .collect();
    vault_seed(&addr, &paths);
    let refs = paths.iter().fold(String::new(), |mut refs, p| {
        use std::fmt::Write as _;
        let _ = writeln!(refs, "{}: os.environ/{p}", p.replace('/', "_"));
        refs
    });
    let dir = workdir(&[(
        "config.yaml",
        &format!("general_settings:\n  key_management_system: hashicorp_vault\n{refs}"),
    )]);
    let proxy = FaultProxy::start_after(&addr, std::time::Duration::from_secs(3));
    let started = std::time::Instant::now();
    let out = vault_run(dir.path(), &proxy.url, &[]);
    out.success();
    assert!(started.elapsed() >= std::time::Duration::from_secs(3));
    assert_eq!(
        out.stderr.matches("waiting for hashicorp_vault").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("retrying until the deadline in"), "{}", out.stderr);
    let rendered = std::fs::read_to_string(dir.path().join("out.yaml")).unwrap();
    for p in &paths {
        assert!(rendered.contains(&format!("value-of-{p}")), "{rendered}");
    }
}

/// A 429 with `Retry-After` is waited out: at least as long as asked, and not much longer (a
/// wait read as minutes, or added to a backoff per attempt, would pass the lower bound alone).
#[test]
fn retry_after_is_honoured() {
    let Some(addr) = vault() else { return };
    let path = format!("retry-after/{}/a", crate::support::run_id());
    vault_seed(&addr, std::slice::from_ref(&path));
    let dir = workdir(&[(
        "config.yaml",
        &format!("general_settings:\n  key_management_system: hashicorp_vault\na: os.environ/{path}\n"),
    )]);
    let proxy = FaultProxy::start(&addr);
    proxy.plan([Fault::retry_after(429, 2)]);
    let started = std::time::Instant::now();
    vault_run(dir.path(), &proxy.url, &[]).success();
    assert_eq!(proxy.requests(), 2);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "{took:?}"
    );
}

/// A Vault that accepts the connection and never answers: the per-request timeout fires and
/// is retried, and the run ends at the deadline with a located error, the output untouched.
#[test]
fn a_stalled_vault_cannot_outlast_the_deadline() {
    let Some(addr) = vault() else { return };
    let path = format!("stalled/{}/a", crate::support::run_id());
    let dir = workdir(&[
        (
            "config.yaml",
            &format!("general_settings:\n  key_management_system: hashicorp_vault\na: os.environ/{path}\n"),
        ),
        ("out.yaml", OLD),
    ]);
    let proxy = FaultProxy::start(&addr);
    proxy.always(Fault::Stall);
    let started = Instant::now();
    let out = vault_run(dir.path(), &proxy.url, &STALL_LIMITS);
    ended_at_the_deadline(&out, started.elapsed());
    assert!(
        out.stderr.contains(&format!("cannot resolve `os.environ/{path}`")),
        "{}",
        out.stderr
    );
    assert!(proxy.requests() >= 2, "the per-request timeout fired and was retried");
    untouched(dir.path());
}

#[test]
fn vault_faults_are_retried_and_permanent_ones_reported() {
    let Some(addr) = vault() else { return };
    let path = format!("faults/{}/a", crate::support::run_id());
    vault_seed(&addr, std::slice::from_ref(&path));
    let dir = workdir(&[
        (
            "config.yaml",
            &format!("general_settings:\n  key_management_system: hashicorp_vault\na: os.environ/{path}\n"),
        ),
        ("out.yaml", OLD),
    ]);
    let proxy = FaultProxy::start(&addr);
    proxy.plan([
        Fault::retry_after(503, 1),
        Fault::status(429),
        Fault::Close,
        Fault::Reset,
        Fault::Truncate,
    ]);
    let out = vault_run(dir.path(), &proxy.url, &["--attempts", "7"]);
    out.success();
    assert_eq!(proxy.requests(), 6);

    let proxy = FaultProxy::start(&addr);
    proxy.always(Fault::Respond(
        400,
        vec![],
        r#"{"errors": ["injected bad request"]}"#.into(),
    ));
    std::fs::write(dir.path().join("out.yaml"), OLD).unwrap();
    let out = vault_run(dir.path(), &proxy.url, &[]);
    out.code(1);
    assert_eq!(proxy.requests(), 1);
    assert!(out.stderr.contains("config.yaml:3:4: cannot resolve"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "request to GET {}/v1/secret/data/{path} failed after 1 attempt in ",
            proxy.url
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("HTTP 400: injected bad request"), "{}", out.stderr);
    untouched(dir.path());
}

#[test]
fn ten_thousand_references_against_openbao_stay_within_the_bound() {
    let Some(addr) = vault() else { return };
    let base = format!("load/{}", crate::support::run_id());
    let paths: Vec<String> = (0..10_000).map(|i| format!("{base}/{i:05}")).collect();
    vault_seed(&addr, &paths);
    let mut config = String::from("general_settings:\n  key_management_system: hashicorp_vault\nmodel_list:\n");
    for path in &paths {
        config.push_str("  - litellm_params: {api_key: os.environ/");
        config.push_str(path);
        config.push_str("}\n");
    }
    let dir = workdir(&[("config.yaml", &config)]);
    let proxy = FaultProxy::start(&addr);
    let out = osenv(dir.path())
        .args(["render", "config.yaml", "--concurrency", "24", "--deadline", "120"])
        .env("HCP_VAULT_ADDR", &proxy.url)
        .env("HCP_VAULT_TOKEN", "root")
        .run();
    out.success();
    assert_eq!(out.stdout.matches("value-of-load/").count(), 10_000);
    assert_eq!(proxy.requests(), 10_000);
    assert!(proxy.max_in_flight() <= 24, "in flight: {}", proxy.max_in_flight());
    // OpenBao keeps connections alive: at most one per request in flight, plus a few that the
    // pool is closing while their successors open (the proxy counts a connection until its
    // close reaches it). A leak over 10,000 requests would be thousands.
    assert!(
        proxy.max_open_connections() <= 24 + 4,
        "open connections: {}",
        proxy.max_open_connections()
    );
}

#[test]
fn put_and_delete_cannot_outlast_the_deadline() {
    let Some(moto) = moto() else { return };
    let proxy = FaultProxy::start(&moto.url);
    proxy.always(Fault::Stall);
    let config = format!("{SM}  key_management_settings:\n    access_mode: read_and_write\n");
    let dir = workdir(&[("config.yaml", &config)]);
    let limits = ["--timeout", "1", "--deadline", "2", "--attempts", "20"];
    for command in [&["put", "config.yaml", "k"][..], &["delete", "config.yaml", "k"][..]] {
        let started = Instant::now();
        let out = osenv(dir.path())
            .args(command)
            .args(limits)
            .envs(Moto::env(&proxy.url))
            .stdin("a value\n")
            .run();
        let took = started.elapsed();
        out.code(1);
        assert!(
            out.stderr.contains("deadline of 2s exceeded"),
            "{}: {}",
            command[0],
            out.stderr
        );
        assert!(took < Duration::from_secs(7), "{} took {took:?}", command[0]);
    }
}
