//! `oidc/` references: osenv leaves them for LiteLLM, but refuses, at their location, those
//! LiteLLM raises on while it loads the config (an unknown provider, no argument, an unset
//! variable it reads first, a token file outside the allowed directories). The verdict is
//! compared with LiteLLM 1.110.2's own `get_secret` on generated names and environments.

use crate::support::{osenv, workdir};
use serde_json::{Value, json};
use std::sync::Arc;

const CONFIG: &str = "model_list:
  - model_name: m
    litellm_params:
      model: openai/m
      api_key: os.environ/OPENAI_API_KEY
      vertex_credentials: os.environ/oidc/env/CI_TOKEN
      aws_session_token: os.environ/oidc/circleci/sts.amazonaws.com
      extra_token: os.environ/oidc/vault/x
";

/// `check`, `render`, `env` and `exec` report every such reference at once, sorted, and write
/// or start nothing; set, the same config passes and the references stay as written.
#[test]
fn tokens_litellm_cannot_fetch_are_errors_at_their_reference() {
    let dir = workdir(&[("config.yaml", CONFIG)]);
    let check = osenv(dir.path())
        .args(["check", "config.yaml"])
        .env("OPENAI_API_KEY", "sk-a")
        .run();
    check.code(1);
    insta::assert_snapshot!("check", check.stdout);
    for command in [
        &["render", "config.yaml"][..],
        &["env", "config.yaml"],
        &["exec", "config.yaml", "--", "true"],
    ] {
        let run = osenv(dir.path()).args(command).env("OPENAI_API_KEY", "sk-a").run();
        run.code(1);
        assert!(run.stdout.is_empty(), "{command:?}: {}", run.stdout);
        insta::assert_snapshot!(command[0], run.stderr);
    }
    let fixed = CONFIG.replace("oidc/vault/x", "oidc/google/https://example.com");
    std::fs::write(dir.path().join("config.yaml"), fixed).unwrap();
    let run = osenv(dir.path())
        .args(["render", "config.yaml"])
        .env("OPENAI_API_KEY", "sk-a")
        .env("CI_TOKEN", "")
        .env("CIRCLE_OIDC_TOKEN", "t")
        .run();
    run.success();
    assert!(
        run.stdout
            .contains("vertex_credentials: os.environ/oidc/env/CI_TOKEN\n"),
        "{}",
        run.stdout
    );
    // `exec` knows the command's environment exactly: osenv takes GitHub's OIDC request
    // variables out of it (login material), so LiteLLM could not fetch the token there.
    std::fs::write(
        dir.path().join("config.yaml"),
        "model_list:\n  - model_name: m\n    litellm_params:\n      api_key: os.environ/oidc/github/api://aud\n",
    )
    .unwrap();
    let github = |keep: bool| {
        let keep: &[&str] = if keep { &["--keep-credentials"] } else { &[] };
        osenv(dir.path())
            .args(["exec", "config.yaml"])
            .args(keep)
            .args(["--", "true"])
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1:9")
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "t")
            .run()
    };
    let run = github(false);
    run.code(1);
    assert!(
        run.stderr.contains(
            "`ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN` are not set in the command's environment"
        ),
        "{}",
        run.stderr
    );
    github(true).success();
}

const LITELLM: &str = r#"
import json, os, sys
from litellm.secret_managers.main import get_secret
out = []
for c in json.load(sys.stdin):
    os.environ.clear()
    os.environ.update(c["env"])
    try:
        get_secret("os.environ/" + c["name"])
        out.append("ok")
    except OSError:
        # The token file itself: osenv does not open files a config names.
        out.append("io")
    except Exception:
        out.append("refused")
print(json.dumps(out))
"#;

/// Generated names and environments, local inputs only (no case reaches a network).
fn cases(allowed: &str) -> Vec<Value> {
    let names = [
        "oidc/env/TOKEN".to_owned(),
        "oidc/env/".into(),
        "oidc/env".into(),
        "oidc/".into(),
        "oidc/Env/TOKEN".into(),
        "oidc/unknown/x".into(),
        "oidc/google".into(),
        "oidc/env_path/TOKEN_PATH".into(),
        "oidc/circleci/aud".into(),
        "oidc/circleci_v2/a/b".into(),
        "oidc/github/aud".into(),
        "oidc/file/relative/t".into(),
        format!("oidc/file/{allowed}/t"),
        format!("oidc/file/{allowed}//./t"),
        format!("oidc/file/{allowed}/sub/../t"),
        format!("oidc/file/{allowed}/../t"),
        format!("oidc/file/{allowed}x/t"),
        "oidc/file//etc/hostname".into(),
        "oidc/file//run/secrets/../../etc/hostname".into(),
    ];
    let token = format!("{allowed}/t");
    let envs = [
        json!({}),
        json!({"TOKEN": "t"}),
        json!({"TOKEN": ""}),
        json!({"TOKEN_PATH": token}),
        json!({"CIRCLE_OIDC_TOKEN": "t", "CIRCLE_OIDC_TOKEN_V2": "t"}),
        json!({"ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9"}),
        json!({"LITELLM_OIDC_ALLOWED_CREDENTIAL_DIRS": allowed}),
        json!({"LITELLM_OIDC_ALLOWED_CREDENTIAL_DIRS": format!(" /nowhere , {allowed} ")}),
        json!({"LITELLM_OIDC_ALLOWED_CREDENTIAL_DIRS": ""}),
        json!({"LITELLM_OIDC_ALLOWED_CREDENTIAL_DIRS": " , "}),
        json!({"LITELLM_OIDC_ALLOWED_CREDENTIAL_DIRS": "/"}),
    ];
    let mut cases = Vec::new();
    for name in &names {
        for env in &envs {
            cases.push(json!({"name": name, "env": env}));
        }
    }
    cases
}

/// osenv's verdict for one case: `refused` or `ok`.
fn ours(case: &Value) -> &'static str {
    let env: Vec<(String, String)> = case["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let config = format!("a: \"os.environ/{}\"\n", case["name"].as_str().unwrap());
    let doc = osenv::Document::parse("c.yaml", config).unwrap();
    let session = osenv::Session::new(doc, Arc::new(osenv::Environment::new(env, vec![]))).unwrap();
    let exports = |_: &str| None;
    let proxy = osenv::boot::Proxy::Child {
        exports: &exports,
        removed: &[],
        litellm: true,
    };
    if osenv::boot::oidc(&session, &proxy).is_empty() {
        "ok"
    } else {
        "refused"
    }
}

#[test]
fn the_verdict_is_litellms_own() {
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("allowed");
    std::fs::create_dir_all(allowed.join("sub")).unwrap();
    std::fs::write(allowed.join("t"), "token").unwrap();
    let cases = cases(allowed.to_str().unwrap());
    let Some(theirs) = crate::servers::litellm_python::<Vec<String>>(LITELLM, &cases) else {
        return;
    };
    assert_eq!(theirs.len(), cases.len());
    let refused = theirs.iter().filter(|t| *t == "refused").count();
    // The generator reaches both sides (most cases lack what one name needs).
    assert!(
        refused > 100 && cases.len() - refused >= 15,
        "{refused} of {}",
        cases.len()
    );
    let differences: Vec<String> = cases
        .iter()
        .zip(&theirs)
        // A file LiteLLM cannot open is the proxy host's business: osenv passes it.
        .map(|(case, theirs)| (case, if theirs == "io" { "ok" } else { theirs.as_str() }))
        .filter(|(case, theirs)| ours(case) != *theirs)
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
