//! HashiCorp Vault, end to end against a real OpenBao server started by `scripts/testbed`
//! (token, AppRole and TLS-certificate auth, a namespace, a KV v1 mount).

use crate::servers::{CountingProxy, server_url};
use crate::support::{Run, assert_message, osenv, workdir};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const VAULT: &str = "general_settings:\n  key_management_system: hashicorp_vault\n";
// Fixed in scripts/testbed_vault.py.
const ROLE_ID: &str = "osenv-test-role";
const SECRET_ID: &str = "osenv-test-secret-id";

pub(crate) struct Server {
    pub(crate) addr: String,
    pub(crate) tls_addr: String,
    pub(crate) certs: PathBuf,
}

pub(crate) fn server() -> Option<Server> {
    let addr = server_url("OSENV_TEST_VAULT_ADDR", "OpenBao (Vault)")?;
    Some(Server {
        addr,
        tls_addr: std::env::var("OSENV_TEST_VAULT_TLS_ADDR").expect("set with OSENV_TEST_VAULT_ADDR"),
        certs: std::env::var("OSENV_TEST_VAULT_CERTS")
            .expect("set with OSENV_TEST_VAULT_ADDR")
            .into(),
    })
}

/// A root-token API call, for seeding.
pub(crate) fn api(server: &Server, method: &str, path: &str, body: Option<Value>, namespace: Option<&str>) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut request = client
            .request(method.parse().unwrap(), format!("{}/v1/{path}", server.addr))
            .header("X-Vault-Token", "root");
        if let Some(ns) = namespace {
            request = request.header("X-Vault-Namespace", ns);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.is_success() || status.as_u16() == 404,
            "{method} {path}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    })
}

pub(crate) fn seed(server: &Server, path: &str, data: &Value) {
    api(
        server,
        "POST",
        &format!("secret/data/{path}"),
        Some(json!({ "data": data })),
        None,
    );
}

fn run(dir: &Path, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Run {
    osenv(dir)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin_opt(stdin)
        .run()
}

/// A unique path segment per test, since the server is shared by tests running in parallel.
pub(crate) fn unique(test: &str) -> String {
    format!("{test}-{}", crate::support::run_id())
}

#[test]
fn token_auth_fields_and_versions() {
    let Some(server) = server() else { return };
    let base = unique("tok");
    seed(&server, &format!("{base}/a"), &json!({"key": "value-a"}));
    seed(
        &server,
        &format!("{base}/b"),
        &json!({"key": "b-v1", "password": "pw-1", "port": 5432}),
    );
    seed(
        &server,
        &format!("{base}/b"),
        &json!({"key": "b-v2", "password": "pw-2"}),
    );
    let config = format!(
        "{VAULT}a: os.environ/{base}/a\nb: os.environ/{base}/b\npw: os.environ/{base}/b#password\n\
         old: os.environ/{base}/b@1\nold_pw: os.environ/{base}/b@1#password\nport: os.environ/{base}/b@1#port\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let env = [("HCP_VAULT_ADDR", server.addr.as_str()), ("HCP_VAULT_TOKEN", "root")];
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    out.success();
    assert_eq!(
        out.stdout,
        "general_settings: {}\na: value-a\nb: b-v2\npw: pw-2\nold: b-v1\nold_pw: pw-1\nport: \"5432\"\n"
    );

    // The standard Vault variables work where LiteLLM's are unset.
    let env = [("VAULT_ADDR", server.addr.as_str()), ("VAULT_TOKEN", "root")];
    run(dir.path(), &env, &["render", "config.yaml"], None).success();
    // And LiteLLM's win over them.
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_TOKEN", "root"),
        ("VAULT_ADDR", "http://127.0.0.1:1"),
        ("VAULT_TOKEN", "wrong"),
    ];
    run(dir.path(), &env, &["render", "config.yaml"], None).success();
}

#[test]
fn approle_logs_in_once_for_many_references() {
    let Some(server) = server() else { return };
    let base = format!("app/{}", unique("many"));
    let mut config = format!("{VAULT}refs:\n");
    for i in 0..30 {
        seed(&server, &format!("{base}/s{i}"), &json!({"key": format!("v{i}")}));
        // Each name twice: fetched once.
        writeln!(config, "  r{i}: os.environ/{base}/s{i}\n  d{i}: os.environ/{base}/s{i}").unwrap();
    }
    let dir = workdir(&[("config.yaml", &config)]);
    let proxy = CountingProxy::start(&server.addr, "X-Osenv-Unused");
    let env = [
        ("HCP_VAULT_ADDR", proxy.url.as_str()),
        ("HCP_VAULT_APPROLE_ROLE_ID", ROLE_ID),
        ("HCP_VAULT_APPROLE_SECRET_ID", SECRET_ID),
        // A token too: AppRole comes first.
        ("HCP_VAULT_TOKEN", "not-a-token"),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml", "--concurrency", "8"], None);
    out.success();
    for i in 0..30 {
        assert!(
            out.stdout.contains(&format!("  r{i}: v{i}\n  d{i}: v{i}\n")),
            "{}",
            out.stdout
        );
    }
    assert_eq!(proxy.requests("POST /v1/auth/approle/login"), 1, "{:?}", proxy.lines());
    assert_eq!(proxy.requests("GET /v1/secret/data/"), 30, "{:?}", proxy.lines());
}

/// The tokens of a role that are alive now (Vault lists accessors; a login's token carries its
/// role in its metadata: `role_name` for AppRole, `role` for Kubernetes and JWT).
pub(crate) fn live_tokens_of(server: &Server, role: &str) -> usize {
    let listed = api(server, "GET", "auth/token/accessors?list=true", None, None);
    let accessors = listed
        .pointer("/data/keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    accessors
        .iter()
        .filter_map(Value::as_str)
        .filter(|accessor| {
            let token = api(
                server,
                "POST",
                "auth/token/lookup-accessor",
                Some(json!({ "accessor": accessor })),
                None,
            );
            ["/data/meta/role_name", "/data/meta/role"]
                .iter()
                .any(|at| token.pointer(at).and_then(Value::as_str) == Some(role))
        })
        .count()
}

/// An AppRole role `role` with these settings, and its role and secret ids.
pub(crate) fn approle(server: &Server, role: &str, settings: &Value) -> (String, String) {
    api(
        server,
        "POST",
        &format!("auth/approle/role/{role}"),
        Some(settings.clone()),
        None,
    );
    let (role_id, secret_id) = (format!("{role}-role"), format!("{role}-secret"));
    api(
        server,
        "POST",
        &format!("auth/approle/role/{role}/role-id"),
        Some(json!({ "role_id": role_id })),
        None,
    );
    api(
        server,
        "POST",
        &format!("auth/approle/role/{role}/custom-secret-id"),
        Some(json!({ "secret_id": secret_id })),
        None,
    );
    (role_id, secret_id)
}

/// Each login's token is revoked when the run ends, on success and on failure, so a rollout
/// every few minutes leaves no tokens behind in Vault's storage; a token the user gave is kept.
#[test]
fn tokens_from_a_login_are_revoked_when_the_run_ends() {
    let Some(server) = server() else { return };
    // A role of this test's own, so that logins of tests running alongside do not count.
    let role = unique("revoke");
    let (role_id, secret_id) = approle(
        &server,
        &role,
        &json!({"token_policies": ["reader"], "token_ttl": "1h"}),
    );
    let base = format!("app/{role}");
    seed(&server, &format!("{base}/a"), &json!({"key": "value-a"}));
    let ok = workdir(&[(
        "config.yaml",
        &format!(
            "{VAULT}a: os.environ/{base}/a
"
        ),
    )]);
    let missing = workdir(&[(
        "config.yaml",
        &format!(
            "{VAULT}a: os.environ/{base}/missing
"
        ),
    )]);
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_APPROLE_ROLE_ID", role_id.as_str()),
        ("HCP_VAULT_APPROLE_SECRET_ID", secret_id.as_str()),
    ];
    let before = live_tokens_of(&server, &role);
    for i in 0..20 {
        let dir = if i % 4 == 3 { &missing } else { &ok };
        let out = run(dir.path(), &env, &["render", "config.yaml"], None);
        if i % 4 == 3 {
            out.code(1);
        } else {
            out.success();
        }
    }
    assert_eq!(live_tokens_of(&server, &role), before, "no token left behind");

    // A token the user supplied stays valid after the run.
    let user = api(
        &server,
        "POST",
        "auth/token/create",
        Some(json!({"policies": ["reader"], "ttl": "10m"})),
        None,
    );
    let token = user
        .pointer("/auth/client_token")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_TOKEN", token.as_str()),
    ];
    run(ok.path(), &env, &["render", "config.yaml"], None).success();
    run(ok.path(), &env, &["render", "config.yaml"], None).success();
}

#[test]
fn denied_missing_and_unsafe_references_are_located() {
    let Some(server) = server() else { return };
    let base = unique("deny");
    seed(&server, &format!("outside/{base}"), &json!({"key": "hidden-value"}));
    seed(&server, &format!("app/{base}/nokey"), &json!({"other": "x"}));
    let config = format!(
        "{VAULT}a: os.environ/outside/{base}\nb: os.environ/app/{base}/missing\nc: os.environ/app/../outside/{base}\n\
         d: os.environ/app/{base}/nokey\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let proxy = CountingProxy::start(&server.addr, "X-Osenv-Unused");
    let env = [
        ("HCP_VAULT_ADDR", proxy.url.as_str()),
        ("HCP_VAULT_APPROLE_ROLE_ID", ROLE_ID),
        ("HCP_VAULT_APPROLE_SECRET_ID", SECRET_ID),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    out.code(1);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    let vault = format!("hashicorp_vault ({})", proxy.url);
    assert_eq!(
        errors,
        [
            format!("error: config.yaml:3:4: cannot resolve `os.environ/outside/{base}`: access denied by {vault} at `outside/{base}`").as_str(),
            &format!("error: config.yaml:4:4: cannot resolve `os.environ/app/{base}/missing`: not found in {vault} at `app/{base}/missing`"),
            &format!("error: config.yaml:5:4: cannot resolve `os.environ/app/../outside/{base}`: invalid name: a Vault path cannot contain `.` or `..` segments"),
            &format!("error: config.yaml:6:4: cannot resolve `os.environ/app/{base}/nokey`: not found in field `key` of {vault} at `app/{base}/nokey`"),
            "error: 4 references could not be resolved",
        ]
    );
    // The unsafe name never reached the server: sent, `app/../outside/…` would arrive as
    // `outside/…` (URL normalisation removes the `..`), a second request to `a`'s path.
    assert_eq!(proxy.requests("GET /v1/secret/data/outside"), 1, "{:?}", proxy.lines());
    assert!(!out.stderr.contains("hidden-value") && !out.stderr.contains(SECRET_ID));
}

#[test]
fn a_failed_login_names_the_address_and_method_not_the_secret() {
    let Some(server) = server() else { return };
    let dir = workdir(&[("config.yaml", &format!("{VAULT}a: os.environ/app/x\n"))]);
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_APPROLE_ROLE_ID", ROLE_ID),
        ("HCP_VAULT_APPROLE_SECRET_ID", "wrong-secret-id-canary"),
    ];
    let out = run(dir.path(), &env, &["-vvv", "render", "config.yaml"], None);
    out.code(1);
    assert!(
        out.stderr.contains(&format!(
            "request to POST {}/v1/auth/approle/login (AppRole login) failed after 1 attempt in ",
            server.addr
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("HTTP 400: invalid role or secret ID"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrong-secret-id-canary"), "{}", out.stderr);

    let out = run(
        dir.path(),
        &[("HCP_VAULT_ADDR", server.addr.as_str())],
        &["render", "config.yaml"],
        None,
    );
    out.code(1);
    assert_message!("no_credentials", out.stderr);
}

#[test]
fn tls_certificate_auth() {
    let Some(server) = server() else { return };
    let base = unique("cert");
    seed(&server, &format!("app/{base}"), &json!({"key": "via-mtls"}));
    let dir = workdir(&[("config.yaml", &format!("{VAULT}a: os.environ/app/{base}\n"))]);
    let file = |name: &str| server.certs.join(name).to_string_lossy().into_owned();
    let (ca, cert, key) = (file("ca.pem"), file("client.pem"), file("client.key"));
    let env = [
        ("HCP_VAULT_ADDR", server.tls_addr.as_str()),
        ("VAULT_CACERT", ca.as_str()),
        ("HCP_VAULT_CLIENT_CERT", cert.as_str()),
        ("HCP_VAULT_CLIENT_KEY", key.as_str()),
        ("HCP_VAULT_CERT_ROLE", "web"),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    assert_eq!(out.success().stdout, "general_settings: {}\na: via-mtls\n");
    // The standard variable names, and no role.
    let env = [
        ("VAULT_ADDR", server.tls_addr.as_str()),
        ("VAULT_CACERT", ca.as_str()),
        ("VAULT_CLIENT_CERT", cert.as_str()),
        ("VAULT_CLIENT_KEY", key.as_str()),
    ];
    run(dir.path(), &env, &["render", "config.yaml"], None).success();

    // A certificate the server's CA did not sign is refused at login.
    let (rogue, rogue_key) = (file("rogue.pem"), file("rogue.key"));
    let env = [
        ("HCP_VAULT_ADDR", server.tls_addr.as_str()),
        ("VAULT_CACERT", ca.as_str()),
        ("HCP_VAULT_CLIENT_CERT", rogue.as_str()),
        ("HCP_VAULT_CLIENT_KEY", rogue_key.as_str()),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    out.code(1);
    assert_message!("a_rogue_client_certificate", out.stderr);

    // Without the CA the server certificate is not trusted: verification is always on, and
    // VAULT_SKIP_VERIFY does not turn it off (it is reported as ignored).
    let env = [
        ("HCP_VAULT_ADDR", server.tls_addr.as_str()),
        ("HCP_VAULT_CLIENT_CERT", cert.as_str()),
        ("HCP_VAULT_CLIENT_KEY", key.as_str()),
        ("VAULT_SKIP_VERIFY", "true"),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml", "--attempts", "1"], None);
    out.code(1);
    // VAULT_SKIP_VERIFY is reported as ignored; the cause is the server's certificate (the
    // login's label says "certificate" anyway), and a TLS refusal is final: one attempt, not
    // retries until the deadline.
    assert_message!("an_untrusted_server_certificate", out.stderr);
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    assert!(out.stderr.contains("failed after 1 attempt in"), "{}", out.stderr);
}

#[test]
fn namespaces_in_path_and_login_header() {
    let Some(server) = server() else { return };
    let base = unique("ns");
    api(
        &server,
        "POST",
        &format!("secret/data/app/{base}"),
        Some(json!({"data": {"key": "in-team1"}})),
        Some("team1"),
    );
    let dir = workdir(&[("config.yaml", &format!("{VAULT}a: os.environ/app/{base}\n"))]);
    // AppRole inside the namespace: the login sends X-Vault-Namespace, the read puts the
    // namespace in the path.
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_NAMESPACE", "team1"),
        ("HCP_VAULT_APPROLE_ROLE_ID", ROLE_ID),
        ("HCP_VAULT_APPROLE_SECRET_ID", SECRET_ID),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    assert_eq!(out.success().stdout, "general_settings: {}\na: in-team1\n");
    // A root token with only the secret namespace.
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_SECRET_NAMESPACE", "team1"),
        ("HCP_VAULT_TOKEN", "root"),
    ];
    run(dir.path(), &env, &["render", "config.yaml"], None).success();
    // Not in the root namespace.
    let env = [("HCP_VAULT_ADDR", server.addr.as_str()), ("HCP_VAULT_TOKEN", "root")];
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    out.code(1);
    assert_message!("not_in_the_root_namespace", out.stderr);
}

#[test]
fn custom_mount_prefix_and_kv_v1() {
    let Some(server) = server() else { return };
    let mount = unique("kv2mount");
    api(
        &server,
        "POST",
        &format!("sys/mounts/{mount}"),
        Some(json!({"type": "kv", "options": {"version": "2"}})),
        None,
    );
    api(
        &server,
        "POST",
        &format!("{mount}/data/pfx/name"),
        Some(json!({"data": {"key": "in-custom-mount"}})),
        None,
    );
    let dir = workdir(&[("config.yaml", &format!("{VAULT}a: os.environ/name\n"))]);
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_TOKEN", "root"),
        ("HCP_VAULT_MOUNT_NAME", mount.as_str()),
        ("HCP_VAULT_PATH_PREFIX", "/pfx/"),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    assert_eq!(out.success().stdout, "general_settings: {}\na: in-custom-mount\n");

    let base = unique("v1");
    api(
        &server,
        "POST",
        &format!("kv1/{base}"),
        Some(json!({"key": "v1-value", "user": "admin"})),
        None,
    );
    let config = format!(
        "{VAULT}  key_management_settings:\n    vault_kv_version: 1\n    vault_field: user\n\
         a: os.environ/{base}\nb: os.environ/{base}#key\nc: os.environ/{base}@2\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_TOKEN", "root"),
        ("HCP_VAULT_MOUNT_NAME", "kv1"),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    out.code(1);
    assert_message!("a_version_on_kv1", out.stderr);
    let config = config.replace(&format!("c: os.environ/{base}@2\n"), "");
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    assert!(
        out.success().stdout.ends_with("a: admin\nb: v1-value\n"),
        "{}",
        out.stdout
    );
    run(dir.path(), &env, &["check", "config.yaml"], None).success();
}

#[test]
fn check_reads_metadata_only() {
    let Some(server) = server() else { return };
    let base = unique("check");
    seed(&server, &format!("{base}/x"), &json!({"key": "metadata-only"}));
    seed(&server, &format!("{base}/gone"), &json!({"key": "soon-deleted"}));
    api(&server, "DELETE", &format!("secret/data/{base}/gone"), None, None);
    let config = format!("{VAULT}a: os.environ/{base}/x\nb: os.environ/{base}/gone\nc: os.environ/{base}/none\n");
    let dir = workdir(&[("config.yaml", &config)]);
    let proxy = CountingProxy::start(&server.addr, "X-Osenv-Unused");
    let env = [("HCP_VAULT_ADDR", proxy.url.as_str()), ("HCP_VAULT_TOKEN", "root")];
    let out = run(dir.path(), &env, &["check", "config.yaml"], None);
    out.code(1);
    assert_message!("check_deleted_and_missing", out.stderr);
    assert_eq!(proxy.requests("GET /v1/secret/metadata/"), 3, "{:?}", proxy.lines());
    assert_eq!(proxy.requests("GET /v1/secret/data/"), 0, "{:?}", proxy.lines());
    assert!(!out.stdout.contains("metadata-only"));

    // Reading the deleted one says so too.
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    assert_message!("render_deleted_and_missing", out.stderr);
}

#[test]
fn write_read_delete_destroy() {
    let Some(server) = server() else { return };
    let name = unique("vk");
    let config = format!(
        "{VAULT}  key_management_settings:\n    access_mode: read_and_write\n    description: from osenv\n\
         key: os.environ/litellm/{name}\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let d = dir.path();
    let env = [("HCP_VAULT_ADDR", server.addr.as_str()), ("HCP_VAULT_TOKEN", "root")];
    let render = || run(d, &env, &["render", "config.yaml"], None);

    run(d, &env, &["put", "config.yaml", &name], Some("sk-one\n")).success();
    assert!(render().success().stdout.contains("key: sk-one\n"));
    let stored = api(&server, "GET", &format!("secret/data/litellm/{name}"), None, None);
    assert_eq!(
        stored.pointer("/data/data"),
        Some(&json!({"key": "sk-one", "description": "from osenv"}))
    );

    run(d, &env, &["put", "config.yaml", &name], Some("sk-two")).success();
    assert!(render().success().stdout.contains("key: sk-two\n"));

    run(d, &env, &["delete", "config.yaml", &name], None).success();
    let out = render();
    out.code(1);
    assert_message!("soft_deleted", out.stderr);
    // Soft delete: the metadata and the earlier version are kept.
    let meta = api(&server, "GET", &format!("secret/metadata/litellm/{name}"), None, None);
    assert_eq!(meta.pointer("/data/current_version"), Some(&json!(2)));

    run(d, &env, &["put", "config.yaml", &name], Some("sk-three")).success();
    assert!(render().success().stdout.contains("key: sk-three\n"));

    run(d, &env, &["delete", "config.yaml", &name, "--destroy"], None).success();
    let meta = api(&server, "GET", &format!("secret/metadata/litellm/{name}"), None, None);
    assert_eq!(meta, json!({"errors": []}));
    let out = render();
    out.code(1);
    assert_message!("destroyed", out.stderr);

    // Read-only (the default) refuses.
    let dir = workdir(&[("config.yaml", VAULT)]);
    let out = run(dir.path(), &env, &["put", "config.yaml", &name], Some("x"));
    out.code(1);
    assert_message!("put_read_only", out.stderr);

    // A token whose policy does not allow writing gets Vault's answer.
    let dir = workdir(&[("config.yaml", &config)]);
    let env = [
        ("HCP_VAULT_ADDR", server.addr.as_str()),
        ("HCP_VAULT_APPROLE_ROLE_ID", ROLE_ID),
        ("HCP_VAULT_APPROLE_SECRET_ID", SECRET_ID),
    ];
    let out = run(dir.path(), &env, &["put", "config.yaml", &name], Some("sk-denied"));
    out.code(1);
    assert_message!("put_permission_denied", out.stderr);
    assert!(!out.stderr.contains("sk-denied"));
}

/// `--allow-missing` tolerates a missing value, never an outage: with the manager unreachable
/// the run fails and the output stays as it was, instead of rendering every value as null.
#[test]
fn allow_missing_does_not_hide_a_backend_outage() {
    let dir = workdir(&[
        ("config.yaml", &format!("{VAULT}a: os.environ/x\n")),
        ("out.yaml", "old: content\n"),
    ]);
    // Port 1 is privileged: nothing of the test run listens there, so connecting is refused.
    let env = [("HCP_VAULT_ADDR", "http://127.0.0.1:1"), ("HCP_VAULT_TOKEN", "t")];
    for command in ["render", "env"] {
        let out = run(
            dir.path(),
            &env,
            &[
                command,
                "config.yaml",
                "--allow-missing",
                "--deadline",
                "2",
                "--timeout",
                "1",
                "-o",
                "out.yaml",
            ],
            None,
        );
        out.code(1);
        assert!(out.stderr.contains("Connection refused"), "{}", out.stderr);
        assert!(
            !out.stderr.contains("rendered as null") && !out.stderr.contains("left out"),
            "{}",
            out.stderr
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.yaml")).unwrap(),
            "old: content\n"
        );
    }
}
