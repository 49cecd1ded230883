//! Fixture-driven snapshots: `fixtures/ok/*.yaml` render (and check) with `NAME.env` as the
//! only environment and `NAME.args` (one argument per line) added to `render`;
//! `fixtures/err/*.yaml` fail with a snapshotted error list and exit code.

use crate::support::{exact, fixtures, osenv};
use std::path::Path;

fn env_args(config: &Path) -> Vec<String> {
    let env = config.with_extension("env");
    if env.exists() {
        vec![
            "--env-file".into(),
            env.file_name().unwrap().to_string_lossy().into_owned(),
        ]
    } else {
        vec![]
    }
}

/// The render flags a fixture asks for (`NAME.args`).
fn render_args(config: &Path) -> Vec<String> {
    std::fs::read_to_string(config.with_extension("args"))
        .map(|text| text.lines().map(str::to_owned).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default()
}

#[test]
fn ok_fixtures_render() {
    insta::glob!("../../fixtures", "ok/*.yaml", |path| {
        let dir = path.parent().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let run = osenv(dir)
            .args(["render", name])
            .args(env_args(path))
            .args(render_args(path))
            .run();
        run.success();
        assert!(run.stderr.is_empty(), "stderr: {}", run.stderr);
        insta::assert_snapshot!(exact(&run.stdout));
    });
}

/// What LiteLLM's loader makes of each rendered fixture: PyYAML's result as JSON, so a snapshot
/// shows each value's type (`true` or `"TRUE"`, `"3"` or `3`, `null`), and a rendered config
/// PyYAML cannot load fails here.
#[test]
fn ok_fixtures_read_by_pyyaml() {
    let Some(python) = crate::servers::server_url("OSENV_TEST_PYTHON", "the test venv") else {
        return;
    };
    let script = "import json, sys, yaml\nprint(json.dumps(yaml.safe_load(sys.stdin), indent=1, default=repr))";
    insta::glob!("../../fixtures", "ok/*.yaml", |path| {
        let dir = path.parent().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let run = osenv(dir)
            .args(["render", name])
            .args(env_args(path))
            .args(render_args(path))
            .run();
        run.success();
        let mut child = std::process::Command::new(&python)
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python runs");
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), run.stdout.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "PyYAML cannot load the rendered {name}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
    });
}

#[test]
fn ok_fixtures_check() {
    insta::glob!("../../fixtures", "ok/*.yaml", |path| {
        let dir = path.parent().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let run = osenv(dir).args(["check", name]).args(env_args(path)).run();
        run.success();
        insta::assert_snapshot!(run.stdout);
    });
}

#[test]
fn err_fixtures_fail_with_located_errors() {
    insta::glob!("../../fixtures", "err/*.yaml", |path| {
        let dir = path.parent().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let run = osenv(dir).args(["render", name]).args(env_args(path)).run();
        assert!(run.stdout.is_empty(), "no partial output: {}", run.stdout);
        insta::assert_snapshot!(format!("exit code: {}\n{}", run.code, run.stderr));
    });
}

#[test]
fn rendered_fixtures_keep_every_other_byte() {
    // Outside the reference scalars (and removed key-management lines) the text is identical.
    let dir = fixtures().join("ok");
    let run = osenv(&dir)
        .args(["render", "realistic.yaml", "--env-file", "realistic.env"])
        .run();
    run.success();
    let src = std::fs::read_to_string(dir.join("realistic.yaml")).unwrap();
    assert_eq!(src.lines().count(), run.stdout.lines().count());
    for (a, b) in src.lines().zip(run.stdout.lines()) {
        if !a.contains("os.environ/") {
            assert_eq!(a, b);
        }
    }
}
