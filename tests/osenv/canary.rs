//! Canary values must never reach stderr, logs at any verbosity, error messages, or stdout of
//! commands that do not render values.

use crate::support::{Run, osenv, workdir};

const CANARY: &str = "canary-7f3a9c";
const CANARY_FILE: &str = "canary-file-51b2";

fn assert_clean(run: &Run, what: &str, stdout_may_hold: bool) {
    for canary in [CANARY, CANARY_FILE] {
        assert!(
            !run.stderr.contains(canary),
            "{what}: canary on stderr:\n{}",
            run.stderr
        );
        if !stdout_may_hold {
            assert!(
                !run.stdout.contains(canary),
                "{what}: canary on stdout:\n{}",
                run.stdout
            );
        }
    }
}

#[test]
#[allow(clippy::too_many_lines, reason = "one table of every command and error path")]
fn no_command_or_error_path_leaks_a_value() {
    let config =
        "a:\n  k: os.environ/SECRET\n  f: os.environ/FROM_FILE\n  m: os.environ/MISSING\n  n: os.environ/MULTI\n";
    let dir = workdir(&[
        ("config.yaml", config),
        ("ok.yaml", "a:\n  k: os.environ/SECRET\n  f: os.environ/FROM_FILE\n"),
        ("multi.yaml", "a:\n  n: os.environ/MULTI\n"),
        (".env", &format!("FROM_FILE={CANARY_FILE}\n")),
        ("bad.env", &format!("X='{CANARY_FILE}\n")),
        (
            "bad-int.j2",
            "{{ secret(\"SECRET\") | int + 1 }}\n{{ secret(\"SECRET\") + 1 }}\n",
        ),
        (
            "kms.yaml",
            "general_settings:\n  key_management_system: os.environ/SECRET\n",
        ),
        (
            "ro.yaml",
            "general_settings:\n  key_management_system: aws_secret_manager\n",
        ),
        (
            "mode.yaml",
            "general_settings:\n  key_management_system: aws_kms\n  key_management_settings:\n    access_mode: os.environ/SECRET\n",
        ),
    ]);
    let cases: Vec<(&str, Vec<&str>, bool)> = vec![
        (
            "render ok",
            vec!["-vvv", "render", "ok.yaml", "--env-file", ".env"],
            true,
        ),
        (
            "render missing",
            vec!["-vvv", "render", "config.yaml", "--env-file", ".env"],
            false,
        ),
        (
            "render allow-missing",
            vec!["-vvv", "render", "config.yaml", "--env-file", ".env", "--allow-missing"],
            true,
        ),
        (
            "check",
            vec!["-vvv", "check", "config.yaml", "--env-file", ".env"],
            false,
        ),
        (
            "check json",
            vec!["-vvv", "check", "config.yaml", "--env-file", ".env", "--format", "json"],
            false,
        ),
        (
            "env missing",
            vec!["-vvv", "env", "config.yaml", "--env-file", ".env"],
            false,
        ),
        (
            "env docker newline",
            vec!["-vvv", "env", "multi.yaml", "--format", "docker"],
            false,
        ),
        (
            "env shell",
            vec!["-vvv", "env", "ok.yaml", "--env-file", ".env", "--format", "shell"],
            true,
        ),
        (
            "bad dotenv",
            vec!["-vvv", "render", "ok.yaml", "--env-file", "bad.env"],
            false,
        ),
        ("template error", vec!["-vvv", "template", "bad-int.j2"], false),
        ("system from env", vec!["-vvv", "render", "kms.yaml"], false),
        ("put", vec!["-vvv", "put", "ro.yaml", "NAME"], false),
        ("delete", vec!["-vvv", "delete", "ro.yaml", "NAME", "--force"], false),
        // No KMS is reachable: the refusal or the failure to reach it never quotes the plaintext.
        ("encrypt", vec!["-vvv", "encrypt", "--system", "aws_kms"], false),
        ("access_mode from env", vec!["-vvv", "check", "mode.yaml"], false),
        ("exec missing", vec!["-vvv", "exec", "config.yaml", "--", "true"], false),
        (
            "exec not found",
            vec![
                "-vvv",
                "exec",
                "ok.yaml",
                "--env-file",
                ".env",
                "--",
                "no-such-cmd-osenv",
            ],
            false,
        ),
    ];
    for (what, args, stdout_may_hold) in cases {
        let run = osenv(dir.path())
            .args(&args)
            .env("SECRET", CANARY)
            .env("MULTI", &format!("{CANARY}\nline"))
            .stdin(CANARY)
            .run();
        assert_ne!(run.code, -1, "{what}");
        assert_clean(&run, what, stdout_may_hold);
    }
    // Nothing but the inputs is left behind in the directory.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".osenv-")), "{names:?}");
}

/// Template errors carry no value, even transformed (`|upper`, `|reverse`), used as a name
/// (`secret(secret(…))`) or as an include; each case fails, so each path was taken.
#[test]
fn template_errors_never_carry_a_value() {
    let cases = [
        ("upper int", "{{ secret(\"SECRET\") | upper | int + 1 }}\n"),
        ("reverse", "{{ (secret(\"SECRET\") | reverse) + 1 }}\n"),
        ("value as a name", "{{ secret(secret(\"SECRET\")) }}\n"),
        (
            "value as a transformed name",
            "{{ secret(secret(\"SECRET\") | upper) }}\n",
        ),
        ("include", "{% include secret(\"SECRET\") %}\n"),
        ("escaped quotes", "{{ (secret(\"SECRET\") | tojson) + 1 }}\n"),
        (
            "in a loop",
            "{% for c in secret(\"SECRET\") %}{{ c + 1 }}{% endfor %}\n",
        ),
    ];
    for (what, template) in cases {
        let dir = workdir(&[("t.j2", template)]);
        let run = osenv(dir.path())
            .args(["-vvv", "template", "t.j2"])
            .env("SECRET", CANARY)
            .run();
        run.code(1);
        let upper = CANARY.to_uppercase();
        let reversed: String = CANARY.chars().rev().collect();
        for shape in [CANARY, upper.as_str(), reversed.as_str(), "7f3a9c", "C9A3F7"] {
            assert!(
                !run.stderr.contains(shape),
                "{what}: {shape} on stderr:\n{}",
                run.stderr
            );
        }
        assert!(run.stderr.contains("t.j2:1:"), "{what}: located: {}", run.stderr);
        if what.starts_with("value as") {
            assert!(
                run.stderr.contains("a secret whose name is computed (not shown)"),
                "{}",
                run.stderr
            );
        }
    }
}

#[test]
fn secret_value_debug_is_redacted() {
    let v = osenv::SecretValue::new(CANARY);
    assert!(!format!("{v:?} {v}").contains(CANARY));
}
