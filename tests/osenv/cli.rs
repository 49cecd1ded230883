//! The commands end to end, as a user runs them.

use crate::support::{assert_message, osenv, workdir};
use std::fmt::Write as _;

const CONFIG: &str = "\
model_list:
  - model_name: gpt
    litellm_params:
      api_key: os.environ/OPENAI_API_KEY   # keep me
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
";

#[test]
fn render_to_stdout_and_file() {
    let dir = workdir(&[("config.yaml", CONFIG), (".env", "OPENAI_API_KEY=sk-a\n")]);
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", ".env"])
        .env("LITELLM_MASTER_KEY", "sk-m")
        .run();
    run.success();
    assert!(
        run.stdout.contains("      api_key: sk-a   # keep me\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("  master_key: sk-m\n"));

    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", ".env", "-o", "out.yaml"])
        .env("LITELLM_MASTER_KEY", "sk-m")
        .run();
    run.success();
    assert!(run.stdout.is_empty());
    let out = dir.path().join("out.yaml");
    assert!(std::fs::read_to_string(&out).unwrap().contains("api_key: sk-a"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn a_failed_run_leaves_the_output_untouched() {
    let dir = workdir(&[("config.yaml", CONFIG), ("out.yaml", "previous\n")]);
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "-o", "out.yaml"])
        .run();
    run.code(1);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.yaml")).unwrap(),
        "previous\n"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temp files left: {names:?}");
    // Every missing reference in one run, sorted, located.
    assert_eq!(
        run.stderr,
        "error: config.yaml:4:16: cannot resolve `os.environ/OPENAI_API_KEY`: not found in the environment\n\
         error: config.yaml:6:15: cannot resolve `os.environ/LITELLM_MASTER_KEY`: not found in the environment\n\
         error: 2 references could not be resolved\n"
    );
}

#[test]
fn crlf_line_endings_are_kept() {
    let dir = workdir(&[("c.yaml", "a:\r\n  k: os.environ/K # c\r\nb: 1\r\n")]);
    let run = osenv(dir.path()).args(["render", "c.yaml"]).env("K", "v").run();
    run.success();
    assert_eq!(run.stdout, "a:\r\n  k: v # c\r\nb: 1\r\n");
}

#[test]
fn config_from_stdin() {
    let dir = workdir(&[]);
    let run = osenv(dir.path())
        .args(["render", "-"])
        .env("OPENAI_API_KEY", "a")
        .env("LITELLM_MASTER_KEY", "b")
        .stdin(CONFIG)
        .run();
    run.success();
    assert!(run.stdout.contains("api_key: a"));
    let run = osenv(dir.path())
        .args(["check", "-"])
        .stdin("a: os.environ/NOPE\n")
        .run();
    run.code(1);
    assert_message!("stdin_reference_missing", &run.stderr);
}

#[test]
fn allow_missing_reproduces_litellm_null_with_warnings() {
    let dir = workdir(&[("config.yaml", CONFIG)]);
    // The missing value is the master key: LiteLLM refuses a null one, so --allow-missing does
    // not render it (the verdict is not bypassed) ...
    let refused = osenv(dir.path())
        .args(["render", "config.yaml", "--allow-missing"])
        .env("OPENAI_API_KEY", "x")
        .run();
    refused.code(1);
    assert!(refused.stdout.is_empty());
    assert_message!("allow_missing_master_key_refused", &refused.stderr);
    // ... unless LiteLLM's override would let the proxy start: then it is LiteLLM's null.
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--allow-missing"])
        .env("OPENAI_API_KEY", "x")
        .env("LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY", "true")
        .run();
    run.success();
    assert!(run.stdout.contains("master_key: null\n"));
    assert_message!("allow_missing_null_with_override", &run.stderr);
    let quiet = osenv(dir.path())
        .args(["-q", "render", "config.yaml", "--allow-missing"])
        .env("OPENAI_API_KEY", "x")
        .env("LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY", "true")
        .run();
    quiet.success();
    assert!(quiet.stderr.is_empty());
}

#[test]
fn exit_code_two_for_unusable_input() {
    let dir = workdir(&[
        ("bad.yaml", "a: [\n"),
        ("config.yaml", CONFIG),
        ("bad.env", "A='unterminated\n"),
    ]);
    osenv(dir.path()).args(["render", "nope.yaml"]).run().code(2);
    let run = osenv(dir.path()).args(["render", "bad.yaml"]).run();
    run.code(2);
    assert_message!("invalid_yaml", &run.stderr);
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", "bad.env"])
        .run();
    run.code(2);
    assert_message!("env_file_unparsable", &run.stderr);
    // The env file is parsed on a second thread while the config parses; when both are bad,
    // the env file's error is still the one reported, every time.
    for _ in 0..5 {
        let run = osenv(dir.path())
            .args(["render", "bad.yaml", "--env-file", "bad.env"])
            .run();
        run.code(2);
        assert_message!("env_file_unparsable", &run.stderr);
    }
    osenv(dir.path()).args(["render"]).run().code(2);
    osenv(dir.path()).args(["frobnicate"]).run().code(2);
    // osenv's own range check (clap would take `--deadline -1` for a flag, so `=` reaches it).
    for (flag, value) in [
        ("deadline", "-1"),
        ("deadline", "0"),
        ("deadline", "86401"),
        ("deadline", "nan"),
        ("timeout", "inf"),
        ("splay", "-1"),
    ] {
        let run = osenv(dir.path())
            .args(["render", "config.yaml", &format!("--{flag}={value}")])
            .run();
        run.code(2);
        assert_message!(format!("duration_{flag}_{value}").as_str(), &run.stderr);
    }
}

#[test]
fn help_documents_exit_codes_and_version_runs() {
    let dir = workdir(&[]);
    let run = osenv(dir.path()).args(["--help"]).run();
    run.success();
    assert!(run.stdout.contains("Exit codes:"));
    assert!(run.stdout.contains("127"));
    let run = osenv(dir.path()).args(["render", "--help"]).run();
    assert!(run.stdout.contains("--keep-key-management"));
    let run = osenv(dir.path()).args(["--version"]).run();
    assert!(run.stdout.starts_with("osenv "));
}

const HOSTED: &str = "\
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  key_management_system: aws_secret_manager
  key_management_settings:
    access_mode: write_only
    hosted_keys: [LITELLM_MASTER_KEY, DATABASE_URL]
x:
  k: os.environ/OTHER
";

#[test]
fn env_exports_references_and_hosted_keys_in_every_format() {
    let dir = workdir(&[("config.yaml", HOSTED)]);
    let base = |format: &str| {
        osenv(dir.path())
            .args(["env", "config.yaml", "--format", format])
            .env("LITELLM_MASTER_KEY", "sk-it's")
            .env("DATABASE_URL", "postgres://u:p@h/db")
            .env("OTHER", "two\nlines")
    };
    let dotenv = base("dotenv").run();
    dotenv.success();
    assert!(
        dotenv.stdout.contains("DATABASE_URL='postgres://u:p@h/db'\n"),
        "{}",
        dotenv.stdout
    );
    assert!(dotenv.stdout.contains("LITELLM_MASTER_KEY=\"sk-it's\"\n"));
    assert!(dotenv.stdout.contains("OTHER=\"two\\nlines\"\n"));

    let shell = base("shell").run();
    shell.success();
    std::fs::write(dir.path().join("vars.sh"), &shell.stdout).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(". ./vars.sh && printf '%s|%s|%s' \"$LITELLM_MASTER_KEY\" \"$DATABASE_URL\" \"$OTHER\"")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "sk-it's|postgres://u:p@h/db|two\nlines"
    );

    let json = base("json").run();
    json.success();
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(parsed["OTHER"], "two\nlines");
    assert_eq!(parsed.as_object().unwrap().len(), 3);

    let k8s = base("k8s-secret")
        .args(["--secret-name", "litellm", "--namespace", "ai"])
        .run();
    k8s.success();
    assert!(
        k8s.stdout
            .contains("kind: Secret\nmetadata:\n  name: litellm\n  namespace: ai\ntype: Opaque\ndata:\n"),
        "{}",
        k8s.stdout
    );
    // Keys and values quoted, so no key or empty value reads back as another YAML type.
    assert!(k8s.stdout.contains("  \"OTHER\": \"dHdvCmxpbmVz\"\n"), "{}", k8s.stdout);

    let docker = base("docker").run();
    docker.code(1);
    assert_eq!(
        docker.stderr,
        "error: config.yaml:8:6: `os.environ/OTHER`: cannot write `OTHER` as docker: the value has a line break, which docker --env-file cannot carry\n"
    );
    assert!(docker.stdout.is_empty());

    let run = osenv(dir.path())
        .args([
            "env",
            "config.yaml",
            "--format",
            "k8s-secret",
            "--secret-name",
            "Bad_Name",
        ])
        .run();
    run.code(2);
}

#[test]
fn env_to_file_is_private() {
    let dir = workdir(&[("config.yaml", "a: os.environ/A\n")]);
    osenv(dir.path())
        .args(["env", "config.yaml", "-o", "out.env"])
        .env("A", "1")
        .run()
        .success();
    let text = std::fs::read_to_string(dir.path().join("out.env")).unwrap();
    assert!(text.ends_with("A='1'\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(dir.path().join("out.env"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
}

#[cfg(unix)]
#[test]
fn exec_passes_values_only_through_the_environment() {
    let dir = workdir(&[("config.yaml", CONFIG)]);
    let run = osenv(dir.path())
        .args([
            "exec",
            "config.yaml",
            "--",
            "sh",
            "-c",
            "printf '%s %s' \"$OPENAI_API_KEY\" \"$LITELLM_MASTER_KEY\"; exit 7",
        ])
        .env("OPENAI_API_KEY", "sk-exec")
        .env("LITELLM_MASTER_KEY", "sk-master")
        .run();
    run.code(7);
    assert_eq!(run.stdout, "sk-exec sk-master");
    // The command's argv is exactly what was given, with and without --watch (which runs it as
    // a child): no value is added to it, where `ps` and /proc/PID/cmdline would show it.
    let script = "printf '%s' \"$OPENAI_API_KEY\" >/dev/null; tr '\\0' '|' </proc/$$/cmdline";
    for watch in [false, true] {
        let mut args = vec!["exec"];
        if watch {
            args.push("--watch");
        }
        args.extend(["config.yaml", "--", "sh", "-c", script, "arg0", "plain"]);
        let run = osenv(dir.path())
            .args(&args)
            .env("OPENAI_API_KEY", "sk-exec")
            .env("LITELLM_MASTER_KEY", "sk-master")
            .run();
        run.success();
        assert_eq!(run.stdout, format!("sh|-c|{script}|arg0|plain|"), "watch: {watch}");
    }
    let run = osenv(dir.path())
        .args(["exec", "config.yaml", "--", "definitely-not-a-command-osenv"])
        .env("OPENAI_API_KEY", "a")
        .env("LITELLM_MASTER_KEY", "b")
        .run();
    run.code(127);
    assert_message!("exec_not_found", &run.stderr);
    let run = osenv(dir.path()).args(["exec", "config.yaml", "--", "true"]).run();
    run.code(1);
}

#[test]
fn check_lists_references_without_values() {
    let dir = workdir(&[("config.yaml", HOSTED), (".env", "OTHER=from-file\n")]);
    let run = osenv(dir.path())
        .args(["check", "config.yaml", "--env-file", ".env", "--format", "json"])
        .env("LITELLM_MASTER_KEY", "sk-secret-value")
        .run();
    run.code(1);
    assert!(!run.stdout.contains("sk-secret-value") && !run.stdout.contains("from-file"));
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let refs = report["references"].as_array().unwrap();
    assert_eq!(refs.len(), 2);
    assert_eq!(refs[0]["reference"], "os.environ/LITELLM_MASTER_KEY");
    assert_eq!(refs[0]["location"]["line"], 2);
    assert_eq!(refs[0]["source"], "process environment");
    assert_eq!(refs[1]["source"], ".env:1");
    assert_eq!(refs[1]["path"], "x.k");
    let hosted = report["hosted_keys"].as_array().unwrap();
    assert_eq!(hosted[0]["name"], "DATABASE_URL");
    assert_eq!(hosted[0]["status"], "error");
    assert_message!("check_hosted_key_missing", &run.stderr);

    let offline = osenv(dir.path()).args(["check", "config.yaml", "--offline"]).run();
    offline.success();
    assert!(offline.stdout.contains("unchecked"));
}

#[test]
fn check_warns_about_references_litellm_leaves_alone() {
    let dir = workdir(&[(
        "config.yaml",
        "a:\n  cb: [os.environ/X]\n  anthropic_issuer_signing_key_ref: os.environ/Y\n  ok: os.environ/Z\n",
    )]);
    let run = osenv(dir.path()).args(["check", "config.yaml"]).env("Z", "1").run();
    run.success();
    assert_message!("check_notices", &run.stdout);
}

/// Every name a format refuses is reported in one run, in order, with a count: a fix for the
/// first does not reveal the next.
#[test]
fn every_refused_name_is_reported_at_once() {
    let dir = workdir(&[
        (
            "config.yaml",
            "a: os.environ/UID\nb: os.environ/RANDOM\nc: os.environ/OK\nd: os.environ/app/db\n",
        ),
        (".env", "UID=1\nRANDOM=2\nOK=3\napp/db=4\n"),
    ]);
    let run = osenv(dir.path())
        .args(["env", "config.yaml", "--env-file", ".env", "--format", "shell"])
        .run();
    run.code(1);
    assert!(run.stdout.is_empty());
    insta::assert_snapshot!(run.stderr);
}

/// A missing value does not hide the other errors of the run: `render`, `env` and `exec` report
/// it with the refusals found in the values that did resolve (an `oidc/` token LiteLLM cannot
/// fetch, a master key it refuses), as `check` does, in one sorted list.
#[test]
fn a_missing_value_does_not_hide_the_other_errors() {
    let config = "general_settings:\n  master_key: sk-1234\nmodel_list:\n  - model_name: m\n    litellm_params:\n      api_key: os.environ/MISSING_KEY\n      token: os.environ/oidc/env/NOPE\n";
    let dir = workdir(&[("config.yaml", config)]);
    let mut shown = String::new();
    for args in [
        &["render", "config.yaml"][..],
        &["env", "config.yaml"],
        &["exec", "config.yaml", "--", "true"],
    ] {
        let run = osenv(dir.path()).args(args).run();
        run.code(1);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        shown.push_str("$ osenv ");
        shown.push_str(&args.join(" "));
        shown.push('\n');
        shown.push_str(&run.stderr);
    }
    assert_message!("a_missing_value_does_not_hide_the_other_errors", shown);
}

#[test]
fn template_renders_secrets_with_filters() {
    let tpl = "url={{ secret(\"DB\") }}\nsh={{ secret(\"Q\")|shell_quote }}\n{% if secret(\"FLAG\") == \"on\" %}extra={{ secret(\"EXTRA\") }}{% endif %}\n";
    let dir = workdir(&[("t.j2", tpl), ("bad.j2", "a\n{{ secret(\"NOPE\") }}\n")]);
    let run = osenv(dir.path())
        .args(["template", "t.j2"])
        .env("DB", "postgres://x")
        .env("Q", "it's")
        .env("FLAG", "on")
        .env("EXTRA", "more")
        .run();
    run.success();
    assert_eq!(run.stdout, "url=postgres://x\nsh='it'\\''s'\nextra=more\n");
    let run = osenv(dir.path()).args(["template", "bad.j2"]).run();
    run.code(1);
    assert_message!("template_missing_secret", &run.stderr);
}

/// A template is semi-trusted: a nested loop runs out of fuel, a huge output is refused, deep
/// recursion stops; each is a located error, not exhausted memory.
#[test]
fn template_runs_are_bounded() {
    let dir = workdir(&[
        (
            "loops.j2",
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}\n",
        ),
        ("big.j2", "{% for i in range(20000) %}{{ \"x\" * 1000 }}{% endfor %}\n"),
        ("deep.j2", "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}\n"),
    ]);
    for (template, expected) in [
        ("loops.j2", "out of fuel"),
        ("big.j2", "larger than 16 MiB"),
        ("deep.j2", "recursion"),
    ] {
        let run = osenv(dir.path()).args(["template", template]).run();
        run.code(1);
        assert!(run.stderr.contains(expected), "{template}: {}", run.stderr);
        assert_message!(format!("template_bounded_{template}").as_str(), &run.stderr);
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn put_and_delete_need_a_writable_backend() {
    let dir = workdir(&[
        ("config.yaml", "a: 1\n"),
        (
            "ro.yaml",
            "general_settings:\n  key_management_system: hashicorp_vault\n",
        ),
    ]);
    let run = osenv(dir.path())
        .args(["put", "config.yaml", "KEY"])
        .stdin("value\n")
        .run();
    run.code(1);
    assert_message!("put_read_only_backend", &run.stderr);
    let run = osenv(dir.path()).args(["delete", "config.yaml", "KEY"]).run();
    run.code(1);
    let run = osenv(dir.path()).args(["put", "-", "KEY"]).stdin("v").run();
    run.code(2);
}

#[test]
fn hostile_yaml_fails_cleanly_or_stays_small() {
    // 100,000 levels of nesting: a located error, no stack overflow.
    let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    // A billion-laughs alias bomb: aliases are never expanded, so it renders as written.
    let mut bomb = String::from("a0: &a0 [os.environ/X]\n");
    for i in 1..30 {
        let p = i - 1;
        let _ = writeln!(
            bomb,
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]"
        );
    }
    bomb.push_str("k: os.environ/X\n");
    let dir = workdir(&[
        ("deep.yaml", &deep),
        ("bomb.yaml", &bomb),
        ("empty_name.yaml", "k: os.environ/\n"),
    ]);
    let run = osenv(dir.path()).args(["render", "deep.yaml"]).run();
    run.code(2);
    assert_message!("deep_yaml", &run.stderr);
    // Expanded, the bomb is 9^29 nodes; as written it is 30 lines, and it stays within 10 s of
    // CPU and 512 MiB of address space (a `sh` ulimit; the run is killed or fails past them).
    let run = crate::support::osenv_limited(dir.path(), 10, 512)
        .args(["render", "bomb.yaml"])
        .env("X", "v")
        .run();
    run.success();
    assert_eq!(run.stdout, bomb.replace("k: os.environ/X", "k: v"));
    let run = crate::support::osenv_limited(dir.path(), 10, 512)
        .args(["check", "bomb.yaml"])
        .env("X", "v")
        .run();
    run.success();
    assert!(
        run.stdout
            .contains("warning: bomb.yaml:1:10: `os.environ/X` is not resolved: a string inside a list")
    );
}

#[test]
fn oversized_inputs_are_refused_before_parsing() {
    // 17 MiB: above the 16 MiB limit, as a file and on stdin.
    let big = "a: b\n".repeat(17 * 1024 * 1024 / 5);
    let dir = workdir(&[("big.yaml", &big)]);
    let run = osenv(dir.path()).args(["render", "big.yaml"]).run();
    run.code(2);
    assert_eq!(
        run.stderr,
        "error: cannot read `big.yaml`\n  caused by: larger than 16 MiB, the most osenv reads\n"
    );
    let run = osenv(dir.path()).args(["render", "-"]).stdin(big).run();
    run.code(2);
    assert_message!("oversized_stdin", &run.stderr);
}

#[test]
fn a_value_that_is_itself_a_reference_is_not_rendered() {
    let dir = workdir(&[("config.yaml", "a:\n  api_key: os.environ/K\n")]);
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "-o", "out.yaml"])
        .env("K", "os.environ/CANARY_OTHER")
        .run();
    run.code(1);
    assert_message!("a_value_that_is_a_reference", &run.stderr);
    assert!(!run.stderr.contains("CANARY_OTHER"), "{}", run.stderr);
    assert!(!dir.path().join("out.yaml").exists());
}

#[test]
fn deprecated_kms_flags_leave_references_to_the_environment() {
    // LiteLLM sets up Google KMS from `use_google_kms` only after resolving the references.
    let dir = workdir(&[(
        "config.yaml",
        "general_settings:\n  use_google_kms: true\n  master_key: os.environ/M\n",
    )]);
    let run = osenv(dir.path()).args(["render", "config.yaml"]).env("M", "sk-m").run();
    run.success();
    assert_eq!(
        run.stdout,
        "general_settings:\n  use_google_kms: true\n  master_key: sk-m\n"
    );
}

#[test]
fn an_env_file_is_read_as_python_dotenv_reads_it() {
    let env = "PASSWORD=pa$sword\nURL=${HOST:-localhost}:5432\nHASH=#not-a-comment\nQ=\"tab\\there\"\n";
    let dir = workdir(&[
        (
            "config.yaml",
            "a: os.environ/PASSWORD\nb: os.environ/URL\nc: os.environ/HASH\nd: os.environ/Q\n",
        ),
        (".env", env),
        ("bad.env", "A=1\nB='unclosed\n"),
    ]);
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", ".env"])
        .run();
    run.success();
    assert_eq!(
        run.stdout,
        "a: \"pa$sword\"\nb: \"localhost:5432\"\nc: \"#not-a-comment\"\nd: \"tab\\there\"\n"
    );
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", ".env"])
        .env("HOST", "db")
        .run();
    assert!(run.stdout.contains("b: \"db:5432\"\n"), "{}", run.stdout);
    std::fs::write(dir.path().join("latin1.env"), b"A=caf\xe9\n").unwrap();
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", "latin1.env"])
        .run();
    run.code(2);
    assert_message!("env_file_not_utf8", &run.stderr);
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", "bad.env"])
        .run();
    run.code(2);
    assert_message!("env_file_unparsable_line", &run.stderr);
    assert!(!run.stderr.contains("unclosed"));
}

#[cfg(unix)]
#[test]
fn output_over_a_file_the_run_reads_is_refused_unless_in_place() {
    let config = "include: [models.yaml]\nmaster_key: os.environ/LITELLM_MASTER_KEY\n";
    let models = "model_list:\n  - model_name: m\n    litellm_params:\n      api_key: os.environ/OPENAI_API_KEY\n";
    let env = "OPENAI_API_KEY=sk-a\nLITELLM_MASTER_KEY=sk-m\n";
    let dir = workdir(&[
        ("config.yaml", config),
        ("models.yaml", models),
        (".env", env),
        ("t.j2", "{{ secret(\"OPENAI_API_KEY\") }}\n"),
    ]);
    let d = dir.path();
    std::os::unix::fs::symlink("config.yaml", d.join("link.yaml")).unwrap();
    std::fs::hard_link(d.join("config.yaml"), d.join("hard.yaml")).unwrap();
    let unchanged = || {
        assert_eq!(std::fs::read_to_string(d.join("config.yaml")).unwrap(), config);
        assert_eq!(std::fs::read_to_string(d.join("models.yaml")).unwrap(), models);
        assert_eq!(std::fs::read_to_string(d.join(".env")).unwrap(), env);
    };
    // The config under any spelling, through a symlink or a hard link; an include; an env file.
    for output in [
        "config.yaml",
        "./config.yaml",
        "link.yaml",
        "hard.yaml",
        "models.yaml",
        ".env",
    ] {
        let run = osenv(d)
            .args(["render", "config.yaml", "--env-file", ".env", "-o", output])
            .run();
        run.code(2);
        let name = output.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        assert_message!(format!("output_is_{name}").as_str(), &run.stderr);
        unchanged();
    }
    let run = osenv(d)
        .args(["render", "config.yaml", "--env-file", ".env", "-o", "config.yaml"])
        .run();
    assert_message!("output_is_the_config", &run.stderr);
    let run = osenv(d)
        .args(["env", "config.yaml", "--env-file", ".env", "-o", ".env"])
        .run();
    run.code(2);
    unchanged();
    let run = osenv(d)
        .args([
            "render",
            "--watch",
            "config.yaml",
            "--env-file",
            ".env",
            "-o",
            "models.yaml",
        ])
        .run();
    run.code(2);
    unchanged();
    let run = osenv(d)
        .args(["template", "t.j2", "--env-file", ".env", "-o", "t.j2"])
        .run();
    run.code(2);
    assert_message!("output_is_the_template", &run.stderr);
    let run = osenv(d)
        .args(["render", "config.yaml", "--in-place", "--watch", "-o", "config.yaml"])
        .run();
    run.code(2);

    // --in-place: written (0600), and the warning says what was lost.
    let run = osenv(d)
        .args([
            "render",
            "config.yaml",
            "--env-file",
            ".env",
            "--in-place",
            "-o",
            "config.yaml",
        ])
        .run();
    run.success();
    assert_message!("in_place_warning", &run.stderr);
    let written = std::fs::read_to_string(d.join("config.yaml")).unwrap();
    assert!(
        written.contains("master_key: sk-m") && written.contains("api_key: sk-a"),
        "{written}"
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(d.join("config.yaml")).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn only_and_exclude_narrow_what_is_exported() {
    let dir = workdir(&[("config.yaml", CONFIG)]);
    let env = |args: &[&str]| {
        osenv(dir.path())
            .args(["env", "config.yaml", "--format", "json"])
            .args(args)
            .env("OPENAI_API_KEY", "sk-a")
            .env("LITELLM_MASTER_KEY", "sk-m")
            .run()
    };
    let out = env(&["--only", "LITELLM_MASTER_KEY"]);
    assert_eq!(out.success().stdout, "{\n  \"LITELLM_MASTER_KEY\": \"sk-m\"\n}\n");
    let out = env(&["--exclude", "LITELLM_MASTER_KEY"]);
    assert_eq!(out.success().stdout, "{\n  \"OPENAI_API_KEY\": \"sk-a\"\n}\n");
    let out = env(&["--only", "OPENAI_API_KEY,LITELLM_MASTER_KEY"]);
    assert!(out.success().stdout.contains("OPENAI_API_KEY") && out.stdout.contains("LITELLM_MASTER_KEY"));
    // A name the config does not export is a usage error that lists what it does export.
    let out = env(&["--only", "OPENAI_KEY"]);
    out.code(2);
    assert_message!("only_an_unexported_name", &out.stderr);
    // A name left out is not resolved at all: its absence is no error.
    let out = osenv(dir.path())
        .args(["env", "config.yaml", "--only", "LITELLM_MASTER_KEY"])
        .env("LITELLM_MASTER_KEY", "sk-m")
        .run();
    out.success();

    // exec: a left-out name is not in the command's environment, even where osenv's own
    // environment has it.
    let out = osenv(dir.path())
        .args([
            "exec",
            "config.yaml",
            "--exclude",
            "OPENAI_API_KEY",
            "--",
            "sh",
            "-c",
            "printf '%s|%s' \"${OPENAI_API_KEY-unset}\" \"$LITELLM_MASTER_KEY\"",
        ])
        .env("OPENAI_API_KEY", "sk-a")
        .env("LITELLM_MASTER_KEY", "sk-m")
        .run();
    assert_eq!(out.success().stdout, "unset|sk-m");
}

#[test]
fn version_names_the_secret_managers_built_in() {
    let dir = workdir(&[]);
    let run = osenv(dir.path()).args(["--version"]).run();
    run.success();
    let mut built = Vec::new();
    for (feature, on) in [
        ("aws", cfg!(feature = "aws")),
        ("vault", cfg!(feature = "vault")),
        ("azure", cfg!(feature = "azure")),
        ("gcp", cfg!(feature = "gcp")),
        ("cyberark", cfg!(feature = "cyberark")),
    ] {
        if on {
            built.push(feature);
        }
    }
    let built = if built.is_empty() {
        "none".to_owned()
    } else {
        built.join(", ")
    };
    assert!(
        run.stdout.starts_with(&format!(
            "osenv {} (secret managers built in: {built};",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        run.stdout
    );
}

#[cfg(unix)]
#[test]
fn completions_load_in_their_shells_and_the_man_page_renders() {
    let dir = workdir(&[]);
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = osenv(dir.path()).args(["completions", shell]).run();
        run.success();
        assert!(run.stdout.contains("osenv"), "{shell}");
        assert!(
            run.stdout.contains("--in-place") || run.stdout.contains("in-place"),
            "{shell}"
        );
        std::fs::write(dir.path().join(format!("osenv.{shell}")), &run.stdout).unwrap();
    }
    // bash sources it and registers the completion function, which completes subcommands.
    let bash = std::process::Command::new("bash")
        .arg("-c")
        .arg(
            "source ./osenv.bash && complete -p osenv && COMP_WORDS=(osenv ren) COMP_CWORD=1 COMP_LINE='osenv ren' COMP_POINT=9 && _osenv osenv ren osenv && printf '%s\\n' \"${COMPREPLY[@]}\"",
        )
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&bash.stdout);
    assert!(
        bash.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&bash.stderr)
    );
    assert!(stdout.contains("render"), "{stdout}");
    for (shell, check) in [("zsh", "-n"), ("fish", "--no-execute")] {
        if let Ok(out) = std::process::Command::new(shell)
            .arg(check)
            .arg(format!("osenv.{shell}"))
            .current_dir(dir.path())
            .output()
        {
            assert!(
                out.status.success(),
                "{shell}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    let run = osenv(dir.path()).args(["man"]).run();
    run.success();
    let page = &run.stdout;
    assert!(
        page.starts_with(".ie") || page.contains(".TH osenv 1"),
        "{}",
        &page[..200.min(page.len())]
    );
    for section in [
        ".SH \"OSENV RENDER\"",
        ".SH \"OSENV CHECK\"",
        ".SH \"EXIT STATUS\"",
        // roff escapes `-`.
        "\\-\\-in\\-place",
    ] {
        assert!(page.contains(section), "{section}");
    }
    std::fs::write(dir.path().join("osenv.1"), page).unwrap();
    // groff renders it without a warning (`-k`: the page is UTF-8); without groff, `man -l`.
    match std::process::Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z", "osenv.1"])
        .current_dir(dir.path())
        .output()
    {
        Ok(out) => {
            assert!(out.status.success());
            assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        Err(_) => assert!(page.lines().all(|l| !l.starts_with(".SH") || l.len() > 4)),
    }
}
