//! What a failed run prints on stderr, whole, as snapshots: a shared backend failure once with
//! the references it affected, per-reference causes on their own lines, config problems
//! counted, usage errors. Nothing here needs a test server: the backend is a port nothing
//! listens on (port 1 is privileged, so no test can be handed it).

use crate::support::{Run, osenv, workdir};

const VAULT: &str = "general_settings:\n  key_management_system: hashicorp_vault\n";
const REFUSED: &str = "http://127.0.0.1:1";

fn vault_run(config: &str, extra: &[&str]) -> Run {
    let dir = workdir(&[("config.yaml", config)]);
    osenv(dir.path())
        .args(["render", "config.yaml", "--attempts", "2"])
        .args(extra)
        .env("HCP_VAULT_ADDR", REFUSED)
        .env("HCP_VAULT_TOKEN", "t")
        .run()
}

/// The run's stderr with its exit code, the OS's wording of a refused connection made stable.
fn report(run: &Run) -> String {
    let stderr = run
        .stderr
        .lines()
        .map(|l| match (l.find("caused by:"), l.find("; retrying")) {
            (Some(at), _) if l.contains("onnection refused") => format!("{}caused by: [connection refused]", &l[..at]),
            (None, Some(end)) if l.contains("onnection refused") => {
                let start = l.find("): ").map_or(0, |i| i + 3);
                stable_time(&format!("{}[connection refused]{}", &l[..start], &l[end..]))
            }
            _ => stable_time(l),
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!("exit code: {}\n{stderr}\n", run.code)
}

/// `… attempts in 0.3 s` and `… the deadline in 30 s` with the time made stable.
fn stable_time(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(" in ") {
        let after = &rest[at + 4..];
        let digits = after
            .find(" s")
            .filter(|&end| end > 0 && after[..end].bytes().all(|b| b.is_ascii_digit() || b == b'.'));
        out.push_str(&rest[..at + 4]);
        match digits {
            Some(end) => {
                out.push_str("[t]");
                rest = &after[end..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn a_backend_failure_shared_by_many_references_is_shown_once() {
    let config = format!("{VAULT}a: os.environ/app/a\nb: os.environ/app/b\nc: os.environ/app/c\n");
    let run = vault_run(&config, &[]);
    run.code(1);
    assert_eq!(
        run.stderr.matches("failed after up to 2 attempts in ").count(),
        1,
        "the cause once: {}",
        run.stderr
    );
    insta::assert_snapshot!(report(&run));
}

#[test]
fn own_causes_stay_on_their_references_and_the_shared_one_is_listed_once() {
    let config = format!("{VAULT}a: os.environ/app/a\nbad: os.environ/app/../x\nb: os.environ/app/b\n");
    let run = vault_run(&config, &[]);
    run.code(1);
    insta::assert_snapshot!(report(&run));
}

#[test]
fn allow_missing_does_not_hide_an_outage() {
    let run = vault_run(&format!("{VAULT}a: os.environ/app/a\n"), &["--allow-missing"]);
    run.code(1);
    insta::assert_snapshot!(report(&run));
}

#[test]
fn every_config_problem_is_reported_in_one_run() {
    let dir = workdir(&[(
        "config.yaml",
        "general_settings:\n  key_management_system: vault\n  key_management_settings:\n    hosted_keys: A\n    access_mode: sometimes\nx: |\n  os.environ/BLOCK\n",
    )]);
    let run = osenv(dir.path()).args(["render", "config.yaml"]).run();
    run.code(2);
    insta::assert_snapshot!(report(&run));
}

#[test]
fn usage_errors_name_the_flag() {
    let dir = workdir(&[("config.yaml", "a: 1\n")]);
    let run = osenv(dir.path())
        .args([
            "env",
            "config.yaml",
            "--format",
            "k8s-secret",
            "--secret-name",
            "Not_Valid",
        ])
        .run();
    run.code(2);
    insta::assert_snapshot!("k8s_name", report(&run));
    let run = osenv(dir.path()).args(["render", "config.yaml", "--deadline=-1"]).run();
    run.code(2);
    insta::assert_snapshot!("negative_deadline", report(&run));
    let run = osenv(dir.path()).args(["put", "-", "name"]).run();
    run.code(2);
    insta::assert_snapshot!("put_from_stdin", report(&run));
}

#[test]
fn the_recursion_limit_can_come_from_an_env_file() {
    // LiteLLM reads DEFAULT_MAX_RECURSE_DEPTH from its environment; an --env-file is part of it.
    let config = "a:\n  b:\n    c: os.environ/DEEP\nshallow: os.environ/SHALLOW\n";
    let dir = workdir(&[("config.yaml", config), ("limit.env", "DEFAULT_MAX_RECURSE_DEPTH=1\n")]);
    let run = osenv(dir.path())
        .args(["check", "config.yaml", "--offline", "--env-file", "limit.env"])
        .run();
    run.success();
    assert!(run.stdout.contains("1 reference(s) to 1 name(s)"), "{}", run.stdout);
    assert!(
        run.stdout.contains("`os.environ/DEEP` is not resolved"),
        "{}",
        run.stdout
    );
    let run = osenv(dir.path()).args(["check", "config.yaml", "--offline"]).run();
    assert!(run.stdout.contains("2 reference(s) to 2 name(s)"), "{}", run.stdout);
}
