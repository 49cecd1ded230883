//! `osenv check` as the config validator a CI job runs: GitHub workflow commands, SARIF valid
//! against the SARIF 2.1.0 schema (validated with the pinned `jsonschema` in the test venv),
//! the plain-text credential lint, `--strict`, and the CI examples and pre-commit hook the
//! README shows, validated against GitHub's and GitLab's schemas.

use crate::servers::server_url;
use crate::support::{Run, osenv, workdir};
use std::path::Path;

/// A config with one finding of each kind check reports; the canary values are never shown.
const CONFIG: &str = "\
model_list:
  - model_name: gpt
    litellm_params:
      api_key: os.environ/OPENAI_API_KEY
      api_base: os.environ/MISSING_BASE
      fallbacks: [os.environ/IN_LIST]
  - model_name: claude
    litellm_params:
      api_key: sk-ant-api03-canaryvalue0123456789abcdef
  - model_name: local
    litellm_params:
      api_key: fake-key
general_settings:
  master_key: sk-canary-master
  database_url: postgresql://llm:canary-db-password@db:5432/litellm
  alerting_token: canary-token-value  # osenv: allow-plaintext (a test fixture)
  key_management_settings:
    hosted_key: [A]
";

const CANARIES: &[&str] = &[
    "canaryvalue0123456789",
    "sk-canary-master",
    "canary-db-password",
    "canary-token-value",
    "sk-set-in-env",
];

fn check(dir: &Path, args: &[&str]) -> Run {
    osenv(dir)
        .args(["check", "config.yaml"])
        .args(args)
        .env("OPENAI_API_KEY", "sk-set-in-env")
        .run()
}

#[track_caller]
fn clean(run: &Run) {
    for canary in CANARIES {
        assert!(!run.stdout.contains(canary), "{canary} on stdout:\n{}", run.stdout);
        assert!(!run.stderr.contains(canary), "{canary} on stderr:\n{}", run.stderr);
    }
}

/// `(level, file, line, col, title)` and the message of a workflow command.
fn annotation(line: &str) -> ((String, String, usize, usize, String), String) {
    let rest = line.strip_prefix("::").expect("a workflow command");
    let (head, message) = rest.split_once("::").expect("a message");
    let (level, properties) = head.split_once(' ').expect("properties");
    let mut file = String::new();
    let (mut l, mut c, mut title) = (0, 0, String::new());
    for property in properties.split(',') {
        let (k, v) = property.split_once('=').expect("key=value");
        let v = v.replace("%3A", ":").replace("%2C", ",").replace("%25", "%");
        match k {
            "file" => file = v,
            "line" => l = v.parse().unwrap(),
            "col" => c = v.parse().unwrap(),
            "title" => title = v,
            other => panic!("unexpected property {other}"),
        }
    }
    ((level.to_owned(), file, l, c, title), message.to_owned())
}

#[test]
fn github_annotations_locate_every_finding_with_its_rule() {
    let dir = workdir(&[("config.yaml", CONFIG)]);
    let out = check(dir.path(), &["--format", "github"]);
    out.code(1);
    clean(&out);
    let found: Vec<_> = out.stdout.lines().map(|l| annotation(l).0).collect();
    let expected = [
        ("error", 5, 17, "missing-secret"),
        ("warning", 6, 19, "not-resolved-by-litellm"),
        ("warning", 9, 16, "plaintext-credential"),
        ("warning", 14, 15, "plaintext-credential"),
        ("warning", 15, 17, "plaintext-credential"),
        ("warning", 17, 3, "key-management-setting"),
        ("warning", 18, 5, "key-management-setting"),
    ]
    .map(|(level, line, col, rule)| {
        (
            level.to_owned(),
            "config.yaml".to_owned(),
            line,
            col,
            format!("osenv {rule}"),
        )
    });
    assert_eq!(found, expected, "{}", out.stdout);
    // The kind and place of a plain-text credential, never the value.
    let (_, message) = annotation(out.stdout.lines().nth(2).unwrap());
    assert_eq!(
        message,
        "an Anthropic API key (`sk-ant-…`) at `model_list[1].litellm_params.api_key`: store it in the secret manager or the environment and write `os.environ/NAME` here (or mark the line `# osenv: allow-plaintext`)"
    );

    // A config that does not load is an annotation too (exit 2), at the parser's position.
    let bad = workdir(&[("config.yaml", "model_list:\n  - model_name: [\n")]);
    let out = check(bad.path(), &["--format", "github"]);
    out.code(2);
    let ((level, file, line, _, title), message) = annotation(out.stdout.lines().next().unwrap());
    assert_eq!(
        (level.as_str(), file.as_str(), line, title.as_str()),
        ("error", "config.yaml", 3, "osenv config-error")
    );
    assert!(message.starts_with("invalid YAML: "), "{message}");

    // File names with `,` and `:` are escaped, so the runner reads them back whole.
    let odd = workdir(&[]);
    std::fs::create_dir(odd.path().join("a,b:c")).unwrap();
    std::fs::write(odd.path().join("a,b:c/config.yaml"), "x: os.environ/UNSET_X\n").unwrap();
    let out = osenv(odd.path())
        .args(["check", "a,b:c/config.yaml", "--format", "github"])
        .run();
    out.code(1);
    // The config names no master key: a note at its first line, then the error.
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines[0].starts_with("::notice file=a%2Cb%3Ac/config.yaml,line=1,col=1,title=osenv weak-master-key::"),
        "{}",
        out.stdout
    );
    assert!(
        lines[1].starts_with("::error file=a%2Cb%3Ac/config.yaml,line=1,col=4,"),
        "{}",
        out.stdout
    );
    assert_eq!(annotation(lines[1]).0.1, "a,b:c/config.yaml");
}

#[test]
fn strict_fails_on_warnings_and_the_allow_comment_suppresses_one() {
    let dir = workdir(&[(
        "config.yaml",
        "general_settings:\n  master_key: sk-plain-1234\n  salt_key: abcdefgh  # osenv: allow-plaintext\n",
    )]);
    let out = osenv(dir.path()).args(["check", "config.yaml"]).run();
    out.success();
    assert_eq!(
        out.stdout.matches("[plaintext-credential]").count(),
        1,
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(
        "warning: config.yaml:2:15: a literal value under a credential key at `general_settings.master_key`"
    ));
    let out = osenv(dir.path()).args(["check", "config.yaml", "--strict"]).run();
    out.code(1);
    assert!(out.stdout.contains("error: config.yaml:2:15:"), "{}", out.stdout);
    assert!(
        out.stderr.contains("check --strict: 1 warning count as errors"),
        "{}",
        out.stderr
    );
    // Fixed: the strict check passes.
    std::fs::write(
        dir.path().join("config.yaml"),
        "general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n  salt_key: abcdefgh  # osenv: allow-plaintext\n",
    )
    .unwrap();
    let out = osenv(dir.path())
        .args(["check", "config.yaml", "--strict"])
        .env("LITELLM_MASTER_KEY", "sk-x")
        .run();
    out.success();
}

#[test]
fn json_and_text_name_the_same_rules() {
    let dir = workdir(&[("config.yaml", CONFIG)]);
    let out = check(dir.path(), &["--format", "json"]);
    out.code(1);
    clean(&out);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "missing-secret",
            "not-resolved-by-litellm",
            "plaintext-credential",
            "plaintext-credential",
            "plaintext-credential",
            "key-management-setting",
            "key-management-setting"
        ]
    );
    assert_eq!(report["references"][1]["rule"], "missing-secret");
    let text = check(dir.path(), &[]);
    clean(&text);
    for rule in rules {
        assert!(text.stdout.contains(&format!("[{rule}]")), "{rule}: {}", text.stdout);
    }
}

/// Validate `instance` (a file in `dir`) against the schema `schema` of the test venv's
/// `OSENV_TEST_SCHEMAS`, with the venv's pinned `jsonschema`: `Err` with the validator's
/// errors; `None` when the venv is skipped.
fn validate(dir: &Path, schema: &str, instance: &str, yaml: bool) -> Option<Result<(), String>> {
    let python = server_url("OSENV_TEST_PYTHON", "the test venv")?;
    let schemas = server_url("OSENV_TEST_SCHEMAS", "the test venv's schemas")?;
    let script = r#"
import json, re, sys, jsonschema, yaml
# YAML 1.2 booleans, as GitHub and GitLab read their files (`on` is a key, not True).
class Loader(yaml.SafeLoader):
    pass
Loader.yaml_implicit_resolvers = {
    k: [(t, r) for t, r in v if t != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
schema = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
instance = yaml.load(text, Loader=Loader) if sys.argv[3] == "yaml" else json.loads(text)
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
errors = sorted(cls(schema).iter_errors(instance), key=lambda e: list(e.path))
for e in errors:
    print(list(e.path), e.message[:300])
sys.exit(1 if errors else 0)
"#;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(Path::new(&schemas).join(schema))
        .arg(instance)
        .arg(if yaml { "yaml" } else { "json" })
        .current_dir(dir)
        .output()
        .expect("the venv's python runs");
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

#[test]
fn sarif_is_valid_sarif_2_1_0_with_fingerprints_that_survive_edits() {
    let dir = workdir(&[("config.yaml", CONFIG)]);
    let out = check(dir.path(), &["--format", "sarif"]);
    out.code(1);
    clean(&out);
    std::fs::write(dir.path().join("osenv.sarif"), &out.stdout).unwrap();
    let Some(result) = validate(dir.path(), "sarif-schema-2.1.0.json", "osenv.sarif", false) else {
        return;
    };
    assert_eq!(result, Ok(()), "osenv's SARIF is not valid SARIF 2.1.0");
    let log: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let run = &log["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 7);
    for r in results {
        // ruleIndex points at the rule with that id; every result is located.
        assert_eq!(
            rules[usize::try_from(r["ruleIndex"].as_u64().unwrap()).unwrap()],
            r["ruleId"]
        );
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1 && region["startColumn"].as_u64().unwrap() >= 1);
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "config.yaml"
        );
    }
    // A control: the validator does reject a broken log (a level SARIF does not have).
    let broken = out.stdout.replacen("\"level\": \"warning\"", "\"level\": \"fatal\"", 1);
    std::fs::write(dir.path().join("broken.sarif"), broken).unwrap();
    assert!(
        validate(dir.path(), "sarif-schema-2.1.0.json", "broken.sarif", false)
            .unwrap()
            .is_err()
    );

    // Two blank lines above every finding: the fingerprints stay the same.
    let fingerprints = |stdout: &str| -> Vec<String> {
        let log: serde_json::Value = serde_json::from_str(stdout).unwrap();
        log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"]["osenvFinding/v1"].as_str().unwrap().to_owned())
            .collect()
    };
    std::fs::write(dir.path().join("config.yaml"), format!("\n\n{CONFIG}")).unwrap();
    let moved = check(dir.path(), &["--format", "sarif"]);
    assert_eq!(fingerprints(&moved.stdout), fingerprints(&out.stdout));
    let unique: std::collections::BTreeSet<String> = fingerprints(&out.stdout).into_iter().collect();
    assert_eq!(unique.len(), 7);
}

#[test]
fn the_readme_ci_examples_are_valid_and_shown_as_they_are() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let planted = workdir(&[]);
    for (file, schema, typo) in [
        (
            "examples/ci/github-workflow.yml",
            "github-workflow.json",
            ("runs-on:", "runs_on:"),
        ),
        ("examples/ci/gitlab-ci.yml", "gitlab-ci.json", ("script:", "scripts:")),
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(readme.contains(&text), "README.md does not show {file} as it is");
        let Some(result) = validate(root, schema, file, true) else {
            return;
        };
        assert_eq!(result, Ok(()), "{file} is not valid against {schema}");
        // A control: a misspelt key fails the same validation.
        std::fs::write(planted.path().join("typo.yml"), text.replacen(typo.0, typo.1, 1)).unwrap();
        assert!(
            validate(planted.path(), schema, "typo.yml", true).unwrap().is_err(),
            "{file}"
        );
    }
    // The pre-commit hook: the keys pre-commit requires, a language it has, and the entry runs.
    let hooks = std::fs::read_to_string(root.join(".pre-commit-hooks.yaml")).unwrap();
    for key in [
        "- id: osenv-check",
        "  name: ",
        "  entry: osenv check --offline --strict",
        "  language: rust",
    ] {
        assert!(hooks.contains(key), "{key}");
    }
    assert!(readme.contains("id: osenv-check"));
    let dir = workdir(&[("config.yaml", "general_settings:\n  master_key: os.environ/M\n")]);
    osenv(dir.path())
        .args(["check", "--offline", "--strict", "config.yaml"])
        .run()
        .success();
    let dir = workdir(&[("config.yaml", "general_settings:\n  master_key: sk-plain-value\n")]);
    osenv(dir.path())
        .args(["check", "--offline", "--strict", "config.yaml"])
        .run()
        .code(1);
}
