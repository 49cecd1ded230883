//! `include:` followed as LiteLLM follows it: references in included files are checked and
//! rendered, and the rendered config is self-contained (it works wherever it is written).

use crate::support::{osenv, workdir};
use osenv::Document;

const ROOT: &str = "\
include:
  - models.yaml
  - sub/settings.yaml
model_list:
  - model_name: a
    litellm_params:
      api_key: os.environ/A
general_settings:
  master_key: os.environ/M
";
const MODELS: &str = "\
model_list:
    - model_name: b
      litellm_params:
        api_key: os.environ/B
    - {model_name: c, litellm_params: {api_key: os.environ/C}}
litellm_settings:
  drop_params: os.environ/T
";
const SETTINGS: &str = "include: [../models.yaml]\ngeneral_settings:\n  master_key: os.environ/M2\n";

fn tree() -> tempfile::TempDir {
    let dir = workdir(&[("config.yaml", ROOT), ("models.yaml", MODELS)]);
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/settings.yaml"), SETTINGS).unwrap();
    dir
}

const ENV: [(&str, &str); 6] = [
    ("A", "a"),
    ("B", "b"),
    ("C", "c"),
    ("M", "m"),
    ("M2", "m2"),
    ("T", "true"),
];

const MERGED: &str = "\
model_list:
  - model_name: a
    litellm_params:
      api_key: a
  - model_name: b
    litellm_params:
      api_key: b
  - {model_name: c, litellm_params: {api_key: c}}
general_settings:
  master_key: m2
litellm_settings:
  drop_params: true
";

#[test]
fn render_merges_included_files_into_one_config() {
    let dir = tree();
    let run = osenv(dir.path()).args(["render", "config.yaml"]).envs(ENV).run();
    run.success();
    assert_eq!(run.stdout, MERGED);

    // Written elsewhere, the output needs none of the included files.
    let out = dir.path().join("elsewhere");
    std::fs::create_dir(&out).unwrap();
    osenv(dir.path())
        .args(["render", "config.yaml", "-o", "elsewhere/config.yaml"])
        .envs(ENV)
        .run()
        .success();
    let written = std::fs::read_to_string(out.join("config.yaml")).unwrap();
    assert_eq!(written, MERGED);
    let doc = Document::parse("out.yaml", written).unwrap();
    assert!(doc.get(doc.root(), "include").is_none());
}

#[test]
fn check_sees_references_in_included_files() {
    let dir = tree();
    let run = osenv(dir.path())
        .args(["check", "config.yaml"])
        .envs(ENV.iter().filter(|(k, _)| *k != "B").copied())
        .run();
    run.code(1);
    assert!(
        run.stdout.contains("models.yaml:4:18")
            || run.stderr.contains("models.yaml:4:18: cannot resolve `os.environ/B`"),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn a_missing_include_fails_as_in_litellm() {
    let dir = workdir(&[("config.yaml", "a: os.environ/A\ninclude:\n  - gone.yaml\n")]);
    let run = osenv(dir.path()).args(["render", "config.yaml"]).env("A", "1").run();
    run.code(2);
    assert!(
        run.stderr.contains("config.yaml:3:5: Included file not found: "),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "-o", "out.yaml"])
        .env("A", "1")
        .run();
    run.code(2);
    assert!(!dir.path().join("out.yaml").exists(), "no partial output");
}

#[test]
fn a_cycle_is_read_once() {
    let dir = workdir(&[
        ("config.yaml", "include: [b.yaml]\na: os.environ/A\n"),
        ("b.yaml", "include: [config.yaml]\nb: os.environ/B\n"),
    ]);
    let run = osenv(dir.path())
        .args(["render", "config.yaml"])
        .env("A", "1")
        .env("B", "2")
        .run();
    run.success();
    assert_eq!(run.stdout, "a: \"1\"\nb: \"2\"\n");
}

/// Found by the differential run: PyYAML loads every included file whole, so a value it cannot
/// construct fails LiteLLM's load even where a later include replaces the key.
#[test]
fn an_unloadable_value_in_a_replaced_entry_still_fails() {
    let dir = workdir(&[
        ("config.yaml", "include: [a.yaml, b.yaml]\n"),
        ("a.yaml", "e1: !!int os.environ/A\n"),
        ("b.yaml", "e1: [x]\n"),
    ]);
    let run = osenv(dir.path()).args(["render", "config.yaml"]).env("A", "1").run();
    run.code(2);
    insta::assert_snapshot!(run.stderr, @"error: a.yaml:1:11: LiteLLM cannot load this config: PyYAML cannot construct this value: `!!int` takes an integer (decimal, 0b, 0x, 0-octal or sexagesimal)");
}

/// The adversary review: LiteLLM's `config.get("include")` finds an `include` a root merge
/// brings; osenv did not see it and rendered the config without its files. It is refused now,
/// as every root merge in a config with includes.
#[test]
fn an_include_brought_by_a_root_merge_is_not_missed() {
    let dir = workdir(&[
        ("config.yaml", "<<: {include: [inc.yaml]}\nmodel_list: []\n"),
        (
            "inc.yaml",
            "general_settings:\n  key_management_system: hashicorp_vault\n",
        ),
    ]);
    let run = osenv(dir.path()).args(["check", "config.yaml"]).run();
    run.code(2);
    crate::support::assert_message!("include_through_a_root_merge", &run.stderr);
}
