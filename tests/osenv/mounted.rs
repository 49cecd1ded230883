//! File-mounted secrets in the local backend: `NAME_FILE` and `--secrets-dir` /
//! `OSENV_SECRETS_DIR` (Docker and Compose `secrets:`, Kubernetes Secret volumes).

use crate::support::{osenv, workdir};

#[test]
fn references_read_file_mounted_secrets_in_their_documented_order() {
    let dir = workdir(&[
        (
            "config.yaml",
            "model_list:\n  - litellm_params:\n      api_key: os.environ/OPENAI_API_KEY\n\
             general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n  database_url: os.environ/DATABASE_URL\n\
             other: os.environ/ONLY_IN_ENV_FILE\n",
        ),
        ("run-secrets/OPENAI_API_KEY", "sk-from-run-secrets\n"),
        ("run-secrets/DATABASE_URL", "postgres://from-dir\n"),
        ("extra/LITELLM_MASTER_KEY", "sk-master-from-extra\n"),
        ("db-url.txt", "postgres://from-named-file\n"),
        (
            ".env",
            "OPENAI_API_KEY=sk-from-env-file\nONLY_IN_ENV_FILE=from-env-file\n",
        ),
    ]);
    let out = osenv(dir.path())
        .env("DATABASE_URL_FILE", dir.path().join("db-url.txt").to_str().unwrap())
        .env("OSENV_SECRETS_DIR", dir.path().join("extra").to_str().unwrap())
        .args([
            "render",
            "config.yaml",
            "--secrets-dir",
            "run-secrets",
            "--env-file",
            ".env",
        ])
        .run();
    out.success();
    assert_eq!(
        out.stdout,
        "model_list:\n  - litellm_params:\n      api_key: sk-from-run-secrets\n\
         general_settings:\n  master_key: sk-master-from-extra\n  database_url: \"postgres://from-named-file\"\n\
         other: from-env-file\n"
    );
    // The process environment wins over everything.
    let out = osenv(dir.path())
        .env("OPENAI_API_KEY", "sk-from-process")
        .env("LITELLM_MASTER_KEY", "sk-master-from-process")
        .args(["env", "config.yaml", "--secrets-dir", "run-secrets", "--allow-missing"])
        .run();
    out.success();
    assert!(
        out.stdout.contains("OPENAI_API_KEY='sk-from-process'"),
        "{}",
        out.stdout
    );
    // check says where each value came from, and prints none.
    let out = osenv(dir.path())
        .env("DATABASE_URL_FILE", dir.path().join("db-url.txt").to_str().unwrap())
        .args([
            "check",
            "config.yaml",
            "--secrets-dir",
            "run-secrets",
            "--secrets-dir",
            "extra",
            "--env-file",
            ".env",
        ])
        .run();
    out.success();
    assert!(out.stdout.contains("ok (run-secrets/OPENAI_API_KEY)"), "{}", out.stdout);
    assert!(out.stdout.contains("ok (extra/LITELLM_MASTER_KEY)"), "{}", out.stdout);
    assert!(out.stdout.contains("ok (DATABASE_URL_FILE -> "), "{}", out.stdout);
    assert!(out.stdout.contains("ok (.env:2)"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("sk-from") && !out.stdout.contains("postgres://"),
        "{}",
        out.stdout
    );
}

#[test]
fn unreadable_mounted_secrets_are_located_errors_and_env_files_cannot_name_files() {
    let dir = workdir(&[
        ("config.yaml", "a: os.environ/A\nb: os.environ/B\n"),
        ("secrets/A/.keep", ""),
        ("host-file", "host-file-canary"),
        (".env", "B_FILE=host-file\n"),
    ]);
    let out = osenv(dir.path())
        .args([
            "render",
            "config.yaml",
            "--secrets-dir",
            "secrets",
            "--env-file",
            ".env",
        ])
        .run();
    out.code(1);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .contains("error: config.yaml:1:4: cannot resolve `os.environ/A`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("it is a directory"), "{}", out.stderr);
    // B_FILE from the env file is ignored (a repository must not choose a file to read).
    assert!(out.stderr.contains("ignored B_FILE from .env:1"), "{}", out.stderr);
    assert!(
        out.stderr.contains("config.yaml:2:4: cannot resolve `os.environ/B`"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("host-file-canary"));
    // With --trust-env-files it is the user's own file.
    let dir2 = workdir(&[
        ("config.yaml", "b: os.environ/B\n"),
        ("host-file", "own-value"),
        (".env", "B_FILE=host-file\n"),
    ]);
    let out = osenv(dir2.path())
        .args(["render", "config.yaml", "--env-file", ".env", "--trust-env-files"])
        .run();
    out.success();
    assert_eq!(out.stdout, "b: own-value\n");
}
