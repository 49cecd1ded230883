//! `key_management_settings` as LiteLLM's pydantic model takes them: osenv refuses a value
//! exactly when LiteLLM 1.110.2 refuses to boot with it, compared on generated fields, values
//! and environments (`_check_for_os_environ_vars` on the settings, then `KeyManagementSettings`).

use crate::support::{osenv, workdir};
use serde_json::{Value, json};

/// LiteLLM's verdict on each case: its walk resolves the settings' references from the
/// environment, then its model validates them.
const LITELLM: &str = r#"
import copy, json, os, sys, yaml
from litellm.proxy.proxy_server import ProxyConfig
from litellm.types.secret_managers.main import KeyManagementSettings
out = []
for case in json.load(sys.stdin):
    os.environ.pop("V", None)
    os.environ.update(case["env"])
    try:
        settings = yaml.safe_load(case["config"])["general_settings"]["key_management_settings"]
        resolved = ProxyConfig()._check_for_os_environ_vars(config=copy.deepcopy(settings))
        KeyManagementSettings(**resolved)
        out.append("ok")
    except Exception:
        out.append("refused")
print(json.dumps(out))
"#;

const FIELDS: &[&str] = &[
    "primary_secret_name",
    "description",
    "kms_key_id",
    "aws_session_name",
    "access_mode",
    "prefix_for_stored_virtual_keys",
    "store_virtual_keys",
    "hosted_keys",
    "replica_regions",
    "tags",
];

const VALUES: &[&str] = &[
    "x",
    "123",
    "1.5",
    "true",
    "yes",
    "'yes'",
    "\"t\"",
    "~",
    "'1'",
    "0",
    "1",
    "os.environ/V",
    "[a]",
    "[a, 1]",
    "[~]",
    "[os.environ/V]",
    "{a: b}",
    "{a: 1}",
    "{a: os.environ/V}",
    "{1: a}",
    "2001-12-14",
    "! '1'",
    "read_only",
    "'read_only'",
    "!!str true",
    "! \"null\\n\"",
];

const ENVIRONMENTS: &[Option<&str>] = &[Some("text"), Some(" False\n"), Some("read_and_write"), None];

/// Whole `key_management_settings` values: keys that are not names, sets, merges.
const WHOLE: &[&str] = &[
    "{1: x}",
    "{~: x}",
    "{<<: {1: x}}",
    "!!set {description}",
    "{<<: {hosted_keys: [A]}, description: d}",
    "{<<: [{tags: {a: b}}, {tags: {a: 1}}]}",
    "{<<: {store_virtual_keys: maybe}}",
    "{tags: {<<: {a: b}, c: d}}",
    "{custom_secret_manager: 1}",
    "{custom_secret_manager: my.Class}",
    "{vault_field: 1}",
];

fn cases() -> Vec<Value> {
    let mut cases = Vec::new();
    let mut push = |settings: String, value: &str, v: Option<&str>| {
        let env = v.map_or_else(|| json!({}), |v| json!({ "V": v }));
        let config = format!("general_settings:\n  key_management_settings: {settings}\n");
        // LiteLLM resolves no reference inside a list.
        let resolved = value.contains("os.environ/V") && !value.starts_with('[');
        cases.push(json!({ "config": config, "env": env, "unset": v.is_none() && resolved }));
    };
    for field in FIELDS {
        for value in VALUES {
            for &v in ENVIRONMENTS {
                push(format!("\n    {field}: {value}"), value, v);
            }
            // The same through a merge key, as PyYAML's dict holds it.
            for &v in &ENVIRONMENTS[..2] {
                push(format!("\n    <<: {{{field}: {value}}}"), value, v);
            }
        }
    }
    for settings in WHOLE {
        push((*settings).to_owned(), settings, None);
    }
    cases
}

/// osenv's verdict: `check` passes, or refuses the config (exit 2).
fn ours(dir: &std::path::Path, case: &Value) -> &'static str {
    std::fs::write(dir.join("c.yaml"), case["config"].as_str().unwrap()).unwrap();
    let mut run = osenv(dir).args(["check", "c.yaml"]);
    if let Some(v) = case["env"]["V"].as_str() {
        run = run.env("V", v);
    }
    let out = run.run();
    match out.code {
        0 => "ok",
        2 => "refused",
        other => panic!("{case}: exit {other}: {}", out.stderr),
    }
}

#[test]
fn what_litellms_settings_model_refuses_osenv_refuses() {
    let cases = cases();
    let Some(theirs) = crate::servers::litellm_python::<Vec<String>>(LITELLM, &cases) else {
        return;
    };
    assert_eq!(theirs.len(), cases.len());
    let refused = theirs.iter().filter(|t| *t == "refused").count();
    assert!(
        refused > 200 && cases.len() - refused > 200,
        "{refused} of {}",
        cases.len()
    );
    let dir = workdir(&[]);
    let differences: Vec<String> = cases
        .iter()
        .zip(&theirs)
        .filter_map(|(case, theirs)| {
            let ours = ours(dir.path(), case);
            // On purpose (README): an unset variable is None to LiteLLM, and osenv refuses it
            // (never a silent None); a reference in `replica_regions` would be sent to AWS as
            // a region's name; `vault_field` is osenv's own (LiteLLM ignores it).
            let config = case["config"].as_str().unwrap();
            let expected = if case["unset"] == true
                || config.contains("replica_regions: [os.environ/")
                || config.contains("vault_field: 1")
            {
                "refused"
            } else {
                theirs.as_str()
            };
            (ours != expected).then(|| format!("{case}: LiteLLM {theirs}, osenv {ours}"))
        })
        .collect();
    assert!(
        differences.is_empty(),
        "{} of {} differ:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
}
