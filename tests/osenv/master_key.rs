//! osenv's master-key verdict against LiteLLM's own `master_key_boot_verdict` (1.110.2, from the
//! pinned venv of `scripts/litellm-venv`), on every combination of generated inputs: values with
//! blanks of each kind, case and look-alike variants of `sk-1234`, the override as a boolean or a
//! string in the config and in the environment, the key from the config or relayed from the
//! environment, with and without a salt key and a database.

use osenv::master_key::{Facts, Override, Source, Verdict, Weakness, str_to_bool, verdict};
use serde_json::{Value, json};

const LITELLM: &str = r#"
import json, sys
from litellm.proxy.auth.master_key_boot_check import (
    WEAK_OR_UNSET_MASTER_KEY_OVERRIDE_SETTING, PUBLICLY_KNOWN_MASTER_KEY_SHA256_DIGESTS, ConfigFileSource,
    SafeMasterKey, UnsafeMasterKeyAllowed, master_key_boot_verdict)
from litellm.secret_managers.main import str_to_bool
import hashlib
assert PUBLICLY_KNOWN_MASTER_KEY_SHA256_DIGESTS == {hashlib.sha256(b"sk-1234").hexdigest()}
out = []
for c in json.load(sys.stdin):
    settings = {}
    if c["in_settings"]:
        settings["master_key"] = c["master_key"]
    if c["override_setting"] is not None:
        settings[WEAK_OR_UNSET_MASTER_KEY_OVERRIDE_SETTING] = c["override_setting"]
    v = master_key_boot_verdict(
        master_key=c["master_key"], environment_master_key=c["environment"], general_settings=settings,
        config_file_path="config.yaml",
        override_env_is_on=c["override_env"] is not None and str_to_bool(c["override_env"]) is True,
        salt_key_is_set=c["salt"], database_is_configured=c["database"])
    if isinstance(v, SafeMasterKey):
        out.append({"kind": "safe"})
    elif isinstance(v, UnsafeMasterKeyAllowed):
        out.append({"kind": "allowed", "reason": v.reason.value})
    else:
        out.append({"kind": "refused", "reason": v.reason.value,
                    "source": "config" if isinstance(v.source, ConfigFileSource) else "environment",
                    "environment_variable_is_set": v.environment_variable_is_set,
                    "migration": v.migration is not None})
print(json.dumps(out))
"#;

fn reason(weakness: Weakness) -> &'static str {
    match weakness {
        Weakness::NotSet => "not_set",
        Weakness::Empty => "empty",
        Weakness::PubliclyKnown => "publicly_known",
    }
}

fn ours(case: &Value) -> Value {
    let text = |key: &str| case[key].as_str();
    let facts = Facts {
        master_key: text("master_key"),
        environment_master_key: text("environment"),
        in_general_settings: case["in_settings"].as_bool().unwrap(),
        permitted_by: if case["override_setting"] == json!(true) {
            Some(Override::Setting)
        } else if text("override_env").and_then(str_to_bool) == Some(true) {
            Some(Override::Environment)
        } else {
            None
        },
        stored_values_use_it: !case["salt"].as_bool().unwrap() && case["database"].as_bool().unwrap(),
    };
    match verdict(&facts) {
        Verdict::Safe => json!({"kind": "safe"}),
        Verdict::Allowed(weakness) => json!({"kind": "allowed", "reason": reason(weakness)}),
        Verdict::Refused(refusal) => json!({
            "kind": "refused",
            "reason": reason(refusal.weakness),
            "source": match refusal.source { Source::Config => "config", Source::Environment => "environment" },
            "environment_variable_is_set": refusal.environment_variable_is_set,
            "migration": refusal.migration,
        }),
    }
}

/// Every combination of the inputs that matter.
fn cases() -> Vec<Value> {
    let keys = [
        Value::Null,
        json!(""),
        json!(" "),
        json!("\t\n"),
        json!("\u{1c}"),
        json!("\u{a0}\u{3000}"),
        json!("\u{200b}"),
        json!("sk-1234"),
        json!(" sk-1234\n"),
        json!("\u{1f}sk-1234\u{85}"),
        json!("SK-1234"),
        json!("sk-12345"),
        json!("sk-7f3c9e2a51"),
    ];
    let overrides_setting = [Value::Null, json!(true), json!("true"), json!(false), json!(1)];
    let overrides_env = [
        Value::Null,
        json!("true"),
        json!(" TRUE\n"),
        json!("1"),
        json!("false"),
        json!("yes"),
    ];
    let mut cases = Vec::new();
    for key in &keys {
        for environment in ["none", "same", "other"] {
            let environment = match environment {
                "none" => Value::Null,
                "same" => key.clone(),
                _ => json!("sk-from-the-environment"),
            };
            for in_settings in [false, true] {
                for (i, override_setting) in overrides_setting.iter().enumerate() {
                    for (j, override_env) in overrides_env.iter().enumerate() {
                        // All overrides with one salt/database mix, the rest without overrides.
                        let mixes: &[(bool, bool)] = if i == 0 && j == 0 {
                            &[(false, false), (false, true), (true, true), (true, false)]
                        } else {
                            &[(false, true)]
                        };
                        for (salt, database) in mixes {
                            cases.push(json!({
                                "master_key": key, "environment": environment, "in_settings": in_settings,
                                "override_setting": override_setting, "override_env": override_env,
                                "salt": salt, "database": database,
                            }));
                        }
                    }
                }
            }
        }
    }
    cases
}

#[test]
fn the_verdict_is_litellms_own() {
    let cases = cases();
    let Some(theirs) = crate::servers::litellm_python::<Vec<Value>>(LITELLM, &cases) else {
        return;
    };
    assert_eq!(theirs.len(), cases.len());
    let differences: Vec<String> = cases
        .iter()
        .zip(&theirs)
        .filter(|(case, theirs)| ours(case) != **theirs)
        .map(|(case, theirs)| format!("{case}: LiteLLM {theirs}, osenv {}", ours(case)))
        .collect();
    assert!(
        differences.is_empty(),
        "{} of {} differ:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
}

/// The verdict in each command, on the resolved value: `check`, `render`, `env` and `exec`
/// refuse a weak key at its reference with rule `weak-master-key`, write and start nothing, and
/// never show another value; LiteLLM's overrides make it a warning.
mod commands {
    use crate::support::{osenv, workdir};
    use serde_json::Value;

    const CONFIG: &str = "model_list:\n  - model_name: m\n    litellm_params:\n      api_key: os.environ/CANARY\ngeneral_settings:\n  master_key: os.environ/MK\n";
    const CANARY: &str = "sk-canary-3f9a1c";
    const REFUSED: &str = "error: config.yaml:6:15: `os.environ/MK`: LiteLLM 1.110.2 refuses to start: ";

    fn every_command(
        dir: &std::path::Path,
        mk: &str,
        extra: &[(&str, &str)],
    ) -> Vec<(&'static str, crate::support::Run)> {
        let base = [("CANARY", CANARY), ("MK", mk)];
        let run = |args: &[&str]| osenv(dir).args(args).envs(base.iter().chain(extra).copied()).run();
        vec![
            ("check", run(&["check", "config.yaml"])),
            ("render", run(&["render", "config.yaml", "-o", "rendered.yaml"])),
            ("env", run(&["env", "config.yaml", "-o", "out.env"])),
            ("exec", run(&["exec", "config.yaml", "--", "sh", "-c", "touch started"])),
        ]
    }

    #[test]
    fn weak_keys_are_refused_by_every_command_before_anything_is_written_or_started() {
        for (mk, headline) in [
            ("sk-1234", "the master key is a publicly known default (sk-1234)"),
            (" sk-1234\n", "the master key is a publicly known default (sk-1234)"),
            ("", "the master key is empty"),
            (" \t ", "the master key is empty"),
        ] {
            let dir = workdir(&[("config.yaml", CONFIG)]);
            for (command, run) in every_command(dir.path(), mk, &[]) {
                run.code(1);
                assert!(
                    run.stderr.contains(&format!("{REFUSED}{headline}")),
                    "{command} {mk:?}: {}",
                    run.stderr
                );
                assert!(
                    !run.stderr.contains(CANARY) && !run.stdout.contains(CANARY),
                    "{command}: a value shown"
                );
            }
            for file in ["rendered.yaml", "out.env", "started"] {
                assert!(!dir.path().join(file).exists(), "{file} written for {mk:?}");
            }
        }
    }

    #[test]
    fn a_strong_key_passes_and_overrides_warn() {
        let dir = workdir(&[("config.yaml", CONFIG)]);
        for (command, run) in every_command(dir.path(), "sk-7f3c9e2a51", &[]) {
            run.success();
            assert!(!run.stderr.contains("master key"), "{command}: {}", run.stderr);
        }
        let dir = workdir(&[("config.yaml", CONFIG)]);
        let on = [("LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY", "True")];
        for (command, run) in every_command(dir.path(), "sk-1234", &on) {
            run.success();
            let warning = "config.yaml:6:15: `os.environ/MK`: LiteLLM 1.110.2 starts with a publicly known master key only because LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY is on";
            let shown = if command == "check" { &run.stdout } else { &run.stderr };
            assert!(shown.contains(warning), "{command}: {shown}");
        }
        assert!(dir.path().join("started").exists());
        // The setting, as the YAML boolean only.
        let setting = format!("{CONFIG}  dangerously_permit_weak_or_unset_master_key: true\n");
        let dir = workdir(&[("config.yaml", &setting)]);
        for (_, run) in every_command(dir.path(), "", &[]) {
            run.success();
        }
        let string = format!("{CONFIG}  dangerously_permit_weak_or_unset_master_key: \"true\"\n");
        let dir = workdir(&[("config.yaml", &string)]);
        for (_, run) in every_command(dir.path(), "", &[]) {
            run.code(1);
        }
    }

    #[test]
    fn check_reports_the_rule_in_every_format_and_says_what_it_cannot_know() {
        let dir = workdir(&[("config.yaml", CONFIG), ("bare.yaml", "model_list: []\n")]);
        let json = osenv(dir.path())
            .args(["check", "config.yaml", "--format", "json"])
            .envs([("CANARY", CANARY), ("MK", "sk-1234")])
            .run();
        json.code(1);
        let report: Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(report["ok"], false);
        let finding = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "weak-master-key")
            .expect("a weak-master-key finding");
        assert_eq!(finding["level"], "error");
        assert_eq!(finding["location"]["line"], 6);
        assert_eq!(finding["location"]["column"], 15);
        let github = osenv(dir.path())
            .args(["check", "config.yaml", "--format", "github"])
            .envs([("CANARY", CANARY), ("MK", "")])
            .run();
        assert!(
            github
                .stdout
                .contains("::error file=config.yaml,line=6,col=15,title=osenv weak-master-key::"),
            "{}",
            github.stdout
        );
        // CI without the pod's values: not known here, a note (the check passes).
        let offline = osenv(dir.path()).args(["check", "config.yaml", "--offline"]).run();
        offline.success();
        assert!(
            offline
                .stdout
                .contains("note: config.yaml:6:15: `os.environ/MK`: the master key is not known here"),
            "{}",
            offline.stdout
        );
        let bare = osenv(dir.path())
            .args(["check", "bare.yaml", "--format", "sarif"])
            .run();
        bare.success();
        let sarif: Value = serde_json::from_str(&bare.stdout).unwrap();
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{results:?}");
        assert_eq!(results[0]["ruleId"], "weak-master-key");
        assert_eq!(results[0]["level"], "note");
        // Set here only (the config names no key): the proxy may run elsewhere, a warning.
        let here = osenv(dir.path())
            .args(["check", "bare.yaml"])
            .env("LITELLM_MASTER_KEY", "sk-1234")
            .run();
        here.success();
        assert!(
            here.stdout.contains(
                "warning: bare.yaml:1:1: LiteLLM 1.110.2 would refuse to start with this environment: the master key is a publicly known default (sk-1234); it comes from the LITELLM_MASTER_KEY environment variable (process environment)"
            ),
            "{}",
            here.stdout
        );
    }

    #[test]
    fn allow_missing_follows_the_verdict() {
        let dir = workdir(&[("config.yaml", CONFIG)]);
        for command in ["render", "env"] {
            let run = osenv(dir.path())
                .args([command, "config.yaml", "--allow-missing"])
                .env("CANARY", CANARY)
                .run();
            run.code(1);
            assert!(run.stdout.is_empty());
            assert!(
                run.stderr.contains(&format!("{REFUSED}no master key is set")),
                "{command}: {}",
                run.stderr
            );
        }
    }

    /// `exec` knows its command's environment: when nothing names a key, LiteLLM itself (a
    /// program named `litellm`) is not started; another command is.
    #[test]
    fn exec_refuses_to_start_litellm_without_any_key() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = workdir(&[("bare.yaml", "model_list: []\n")]);
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let litellm = bin.join("litellm");
        std::fs::write(&litellm, "#!/bin/sh\ntouch started\n").unwrap();
        std::fs::set_permissions(&litellm, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let run = osenv(dir.path())
            .args(["exec", "bare.yaml", "--", "litellm", "--config", "bare.yaml"])
            .env("PATH", &path)
            .run();
        run.code(1);
        assert!(
            run.stderr.starts_with("error: environment variable `LITELLM_MASTER_KEY` (unset): LiteLLM 1.110.2 refuses to start: no master key is set"),
            "{}",
            run.stderr
        );
        assert!(!dir.path().join("started").exists());
        let run = osenv(dir.path())
            .args(["exec", "bare.yaml", "--", "litellm"])
            .env("PATH", &path)
            .env("LITELLM_MASTER_KEY", "sk-7f3c9e2a51")
            .run();
        run.success();
        assert!(dir.path().join("started").exists());
        std::fs::remove_file(dir.path().join("started")).unwrap();
        let run = osenv(dir.path())
            .args(["exec", "bare.yaml", "--", "sh", "-c", "touch started"])
            .run();
        run.success();
        assert!(run.stderr.is_empty(), "{}", run.stderr);
        assert!(dir.path().join("started").exists());
    }
}
