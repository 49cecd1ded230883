//! osenv's master-key verdict against LiteLLM's own `master_key_boot_verdict` (1.110.2, from the
//! pinned venv of `scripts/litellm-venv`), on every combination of generated inputs: values with
//! blanks of each kind, case and look-alike variants of `sk-1234`, the override as a boolean or a
//! string in the config and in the environment, the key from the config or relayed from the
//! environment, with and without a salt key and a database.

use crate::servers::server_url;
use osenv::master_key::{Facts, Override, Source, Verdict, Weakness, str_to_bool, verdict};
use serde_json::{Value, json};
use std::io::Write as _;
use std::process::{Command, Stdio};

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
    let Some(litellm) = server_url("OSENV_TEST_LITELLM", "the LiteLLM proxy (scripts/litellm-venv)") else {
        return;
    };
    let python = std::path::Path::new(&litellm).with_file_name("python");
    let cases = cases();
    let mut child = Command::new(&python)
        .args(["-c", LITELLM])
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the venv's python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&cases).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let theirs: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
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
