//! Vault's Kubernetes and JWT/OIDC logins, against the real OpenBao: its `kubernetes` auth
//! reviews service-account tokens at the project's identity fake (a TokenReview API), and its
//! `jwt` auth trusts the fake's signing key; GitHub Actions' token endpoint is the fake's too.

use crate::servers::{Identity, identity};
use crate::support::{Run, assert_message, osenv, workdir};
use crate::vault::{Server, api, live_tokens_of, seed, server, unique};
use serde_json::json;
use std::path::Path;

const VAULT: &str = "general_settings:\n  key_management_system: hashicorp_vault\n";

fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    osenv(dir).args(args).envs(env.iter().copied()).run()
}

/// A Kubernetes role of the test's own (so logins of other tests do not count), admitting the
/// service account `default/litellm`.
fn k8s_role(server: &Server, test: &str) -> String {
    let role = unique(test);
    api(
        server,
        "POST",
        &format!("auth/kubernetes/role/{role}"),
        Some(json!({
            "bound_service_account_names": ["litellm"],
            "bound_service_account_namespaces": ["default"],
            "token_policies": ["reader"],
            "token_ttl": "1h",
        })),
        None,
    );
    role
}

/// The kubelet's layout of a projected token: `token -> ..data/token`, `..data -> ..<stamp>`,
/// swapped atomically on rotation.
fn project(dir: &Path, stamp: &str, token: &str) {
    let version = dir.join(format!("..{stamp}"));
    std::fs::create_dir_all(&version).unwrap();
    std::fs::write(version.join("token"), token).unwrap();
    let next = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&next);
    std::os::unix::fs::symlink(format!("..{stamp}"), &next).unwrap();
    std::fs::rename(&next, dir.join("..data")).unwrap();
    if std::fs::symlink_metadata(dir.join("token")).is_err() {
        std::os::unix::fs::symlink("..data/token", dir.join("token")).unwrap();
    }
}

fn servers() -> Option<(Server, Identity)> {
    Some((server()?, identity()?))
}

#[test]
fn kubernetes_login_reads_the_projected_token_at_each_run_and_revokes_its_vault_token() {
    let Some((server, identity)) = servers() else { return };
    let role = k8s_role(&server, "k8s");
    let base = format!("app/{role}");
    seed(&server, &format!("{base}/openai"), &json!({"key": "sk-from-vault"}));
    let dir = workdir(&[("config.yaml", &format!("{VAULT}api_key: os.environ/{base}/openai\n"))]);
    let tokens = dir.path().join("serviceaccount");
    let first = identity.mint(&json!({"kind": "kubernetes"}));
    project(&tokens, "2026_12_02_10_00_00.1", &first);
    let token_path = tokens.join("token");
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_K8S_ROLE", role.as_str()),
        ("HCP_VAULT_K8S_TOKEN_PATH", token_path.to_str().unwrap()),
    ];
    let before = live_tokens_of(&server, &role);
    let out = run(dir.path(), &env, &["render", "config.yaml", "-v"]);
    out.success();
    assert_eq!(out.stdout, "general_settings: {}\napi_key: sk-from-vault\n");
    // -v says which method and why.
    assert!(
        out.stderr
            .contains("vault: Kubernetes login (HCP_VAULT_K8S_ROLE is set) at "),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(&first), "the JWT is never shown");
    assert_eq!(identity.seen("kubernetes.tokenreview").as_deref(), Some(first.as_str()));

    // The kubelet rotates the token and the old one stops being valid: the next run reads
    // the new one.
    let second = identity.mint(&json!({"kind": "kubernetes"}));
    project(&tokens, "2026_12_02_10_50_00.2", &second);
    identity.revoke(&first);
    run(dir.path(), &env, &["render", "config.yaml"]).success();
    assert_eq!(
        identity.seen("kubernetes.tokenreview").as_deref(),
        Some(second.as_str())
    );
    assert_eq!(
        live_tokens_of(&server, &role),
        before,
        "each run's Vault token is revoked"
    );

    // The old token, had it still been read, is refused: the review is real.
    project(&tokens, "2026_12_02_11_00_00.3", &first);
    let out = run(dir.path(), &env, &["render", "config.yaml"]);
    out.code(1);
    assert!(
        out.stderr.contains(&format!("Kubernetes login as role `{role}`")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("/v1/auth/kubernetes/login"), "{}", out.stderr);
    assert!(!out.stderr.contains(&first), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn kubernetes_login_errors_name_the_file_the_role_and_the_cause_never_the_token() {
    let Some((server, identity)) = servers() else { return };
    let role = k8s_role(&server, "k8s-errors");
    let dir = workdir(&[("config.yaml", &format!("{VAULT}api_key: os.environ/app/{role}/x\n"))]);
    let addr = server.addr.as_str();

    // A token file that is not there: the path and the variable, no request made.
    let missing = dir.path().join("no-such-token");
    let env = [
        ("HCP_VAULT_ADDR", addr),
        ("HCP_VAULT_K8S_ROLE", role.as_str()),
        ("HCP_VAULT_K8S_TOKEN_PATH", missing.to_str().unwrap()),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"]);
    out.code(1);
    assert_message!("k8s_token_file_missing", &out.stderr);

    // A directory, and an empty file.
    let env_dir = [
        ("HCP_VAULT_ADDR", addr),
        ("HCP_VAULT_K8S_ROLE", role.as_str()),
        ("HCP_VAULT_K8S_TOKEN_PATH", dir.path().to_str().unwrap()),
    ];
    let out = run(dir.path(), &env_dir, &["render", "config.yaml"]);
    out.code(1);
    assert_message!("k8s_token_file_is_a_directory", &out.stderr);
    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    let empty = dir.path().join("empty");
    let env_empty = [
        ("HCP_VAULT_ADDR", addr),
        ("HCP_VAULT_K8S_ROLE", role.as_str()),
        ("HCP_VAULT_K8S_TOKEN_PATH", empty.to_str().unwrap()),
    ];
    run(dir.path(), &env_empty, &["render", "config.yaml"]).code(1);

    // A service account the role does not admit, and a role that does not exist: Vault's
    // answer, the role and the mount, not the token.
    let other = identity.mint(&json!({"kind": "kubernetes", "serviceaccount": "intruder"}));
    let token = dir.path().join("token");
    std::fs::write(&token, &other).unwrap();
    let env = [
        ("HCP_VAULT_ADDR", addr),
        ("HCP_VAULT_K8S_ROLE", role.as_str()),
        ("HCP_VAULT_K8S_TOKEN_PATH", token.to_str().unwrap()),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"]);
    out.code(1);
    assert!(!out.stderr.contains(&other), "{}", out.stderr);
    assert_message!("k8s_service_account_not_admitted", &out.stderr);

    std::fs::write(&token, identity.mint(&json!({"kind": "kubernetes"}))).unwrap();
    let env = [
        ("HCP_VAULT_ADDR", addr),
        ("HCP_VAULT_K8S_ROLE", "no-such-role"),
        ("HCP_VAULT_K8S_TOKEN_PATH", token.to_str().unwrap()),
        ("HCP_VAULT_K8S_MOUNT_PATH", "kubernetes"),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"]);
    out.code(1);
    assert_message!("k8s_no_such_role", &out.stderr);
}

#[test]
fn jwt_login_with_a_token_value_or_file() {
    let Some((server, identity)) = servers() else { return };
    let base = format!("app/{}", unique("jwt"));
    seed(&server, &format!("{base}/db"), &json!({"key": "postgres://from-vault"}));
    let dir = workdir(&[("config.yaml", &format!("{VAULT}database_url: os.environ/{base}/db\n"))]);
    let jwt = identity.mint(&json!({"kind": "jwt", "aud": "vault"}));
    let addr = server.addr.as_str();

    let env = [
        ("HCP_VAULT_ADDR", addr),
        ("HCP_VAULT_JWT_ROLE", "ci"),
        ("HCP_VAULT_JWT_TOKEN", jwt.as_str()),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml", "-v"]);
    out.success();
    assert!(
        out.stdout.contains("database_url: \"postgres://from-vault\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("vault: JWT login (HCP_VAULT_JWT_ROLE is set)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(&jwt));

    let file = dir.path().join("ci.jwt");
    std::fs::write(&file, format!("{jwt}\n")).unwrap();
    let env = [
        ("HCP_VAULT_ADDR", addr),
        ("HCP_VAULT_JWT_ROLE", "ci"),
        ("HCP_VAULT_JWT_TOKEN_FILE", file.to_str().unwrap()),
        // Chosen explicitly over a token that would otherwise come first.
        ("HCP_VAULT_AUTH_METHOD", "jwt"),
        ("VAULT_TOKEN", "not-used"),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml", "-v"]);
    out.success();
    assert!(
        out.stderr.contains("vault: JWT login (HCP_VAULT_AUTH_METHOD=jwt)"),
        "{}",
        out.stderr
    );

    // A token for another audience, and an expired one: Vault's reason, the role, no JWT.
    for (claims, expect) in [
        (json!({"kind": "jwt", "aud": "not-vault"}), "bound_audiences"),
        (
            json!({"kind": "jwt", "aud": "vault", "ttl": -600}),
            "the token has expired",
        ),
        (json!({"kind": "jwt", "aud": "vault", "rogue": true}), "HTTP 400"),
    ] {
        let bad = identity.mint(&claims);
        let env = [
            ("HCP_VAULT_ADDR", addr),
            ("HCP_VAULT_JWT_ROLE", "ci"),
            ("HCP_VAULT_JWT_TOKEN", bad.as_str()),
        ];
        let out = run(dir.path(), &env, &["render", "config.yaml"]);
        out.code(1);
        assert!(out.stderr.contains(expect), "{expect}: {}", out.stderr);
        assert!(out.stderr.contains("JWT login as role `ci`"), "{}", out.stderr);
        assert!(out.stderr.contains("/v1/auth/jwt/login"), "{}", out.stderr);
        assert!(!out.stderr.contains(&bad), "{}", out.stderr);
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn jwt_login_inside_github_actions_asks_github_for_a_token_for_the_vault_address() {
    let Some((server, identity)) = servers() else { return };
    let base = format!("app/{}", unique("gha"));
    seed(&server, &format!("{base}/key"), &json!({"key": "from-github-login"}));
    let dir = workdir(&[("config.yaml", &format!("{VAULT}api_key: os.environ/{base}/key\n"))]);
    let request_url = format!("{}/github/token?api-version=2.0", identity.url);
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_JWT_ROLE", "github"),
        ("GITHUB_ACTIONS", "true"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", request_url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "osenv-test-actions-request-token"),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"]);
    out.success();
    assert!(out.stdout.contains("api_key: from-github-login"), "{}", out.stdout);
    // The default audience is the Vault address (the `github` role is bound to it).
    assert_eq!(identity.seen("github.token").as_deref(), Some(server.addr.as_str()));

    // A job without `id-token: write` (here: a wrong request token) gets a clear answer,
    // without the request token.
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_JWT_ROLE", "github"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", request_url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong-request-token-canary"),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"]);
    out.code(1);
    assert_message!("github_issued_no_token", &out.stderr);
    assert!(!out.stderr.contains("wrong-request-token-canary"), "{}", out.stderr);

    // Another audience than the role's: Vault refuses it.
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_JWT_ROLE", "github"),
        ("HCP_VAULT_JWT_AUDIENCE", "sts.amazonaws.com"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", request_url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "osenv-test-actions-request-token"),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"]);
    out.code(1);
    assert_message!("github_token_for_another_audience", &out.stderr);
    assert_eq!(identity.seen("github.token").as_deref(), Some("sts.amazonaws.com"));
}

/// Where the token file and the GitHub endpoint are is the operator's to say: an env file from
/// a repository cannot point a login at another file or endpoint.
#[test]
fn an_env_file_cannot_choose_the_token_file_or_the_token_endpoint() {
    let Some((server, identity)) = servers() else { return };
    let role = k8s_role(&server, "k8s-trust");
    let dir = workdir(&[
        ("config.yaml", &format!("{VAULT}api_key: os.environ/app/{role}/x\n")),
        (
            "repo.env",
            &format!(
                "HCP_VAULT_K8S_TOKEN_PATH=/etc/hostname\nACTIONS_ID_TOKEN_REQUEST_URL={}/github/token?api-version=2.0\n",
                identity.url
            ),
        ),
    ]);
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_K8S_ROLE", role.as_str()),
    ];
    let out = run(dir.path(), &env, &["check", "config.yaml", "--env-file", "repo.env"]);
    // The token path is ignored, and the default path is used instead (absent on this
    // machine), never /etc/hostname.
    assert_message!("an_env_files_token_path", &out.stderr);
}
