//! Azure Key Vault, end to end against the project's HTTPS Key Vault fake
//! (`scripts/azure_keyvault_fake.py`, started by `scripts/testbed`) with TLS verification on,
//! through the official client and real credential types: managed identity (App Service
//! `IDENTITY_ENDPOINT`) and client secret (against the fake's Entra token endpoint through
//! `AZURE_AUTHORITY_HOST`).

use crate::servers::server_url;
use crate::support::{Run, assert_message, osenv, workdir};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

const AKV: &str = "general_settings:\n  key_management_system: azure_key_vault\n";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const IDENTITY_HEADER: &str = "osenv-test-identity-header";

pub(crate) struct Fake {
    vault: String,
    msi: String,
    ca: String,
    _exclusive: MutexGuard<'static, ()>,
}

static FAKE: Mutex<()> = Mutex::new(());

pub(crate) fn fake() -> Option<Fake> {
    let vault = server_url("OSENV_TEST_AZURE_VAULT", "the Azure Key Vault fake")?;
    let guard = FAKE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let f = Fake {
        vault,
        msi: std::env::var("OSENV_TEST_AZURE_MSI").expect("set with OSENV_TEST_AZURE_VAULT"),
        ca: std::env::var("OSENV_TEST_AZURE_CA").expect("set with OSENV_TEST_AZURE_VAULT"),
        _exclusive: guard,
    };
    f.http("POST", "/_fake/reset", None, None);
    Some(f)
}

impl Fake {
    fn http(&self, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> (u16, Value) {
        let ca = std::fs::read(&self.ca).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let client = reqwest::Client::builder()
                .tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca).unwrap())
                .build()
                .unwrap();
            let mut request = client.request(method.parse().unwrap(), format!("{}{path}", self.vault));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        })
    }

    fn token(&self) -> String {
        self.token_for("https://vault.azure.net")
    }

    /// A managed-identity token for `resource`.
    fn token_for(&self, resource: &str) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let body: Value = reqwest::Client::new()
                .get(format!("{}?api-version=2019-08-01&resource={resource}", self.msi))
                .header("X-IDENTITY-HEADER", IDENTITY_HEADER)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        })
    }

    /// Set a secret; returns its version.
    pub(crate) fn seed(&self, name: &str, value: &str) -> String {
        let (status, body) = self.http(
            "PUT",
            &format!("/secrets/{name}?api-version=7.4"),
            Some(json!({ "value": value })),
            Some(&self.token()),
        );
        assert_eq!(status, 200, "{body}");
        body["id"].as_str().unwrap().rsplit('/').next().unwrap().to_owned()
    }

    fn requests(&self) -> Vec<String> {
        let (_, body) = self.http("GET", "/_fake/requests", None, None);
        body["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    }

    pub(crate) fn managed_identity(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_KEY_VAULT_URI", self.vault.clone()),
            ("SSL_CERT_FILE", self.ca.clone()),
            ("IDENTITY_ENDPOINT", self.msi.clone()),
            ("IDENTITY_HEADER", IDENTITY_HEADER.into()),
        ]
    }

    fn client_secret(&self, client: &str, secret: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_KEY_VAULT_URI", self.vault.clone()),
            ("SSL_CERT_FILE", self.ca.clone()),
            ("AZURE_AUTHORITY_HOST", self.vault.clone()),
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", client.into()),
            ("AZURE_CLIENT_SECRET", secret.into()),
        ]
    }
}

fn run(dir: &Path, env: &[(&'static str, String)], args: &[&str], stdin: Option<&str>) -> Run {
    osenv(dir)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin_opt(stdin)
        .run()
}

#[test]
fn reads_through_managed_identity() {
    let Some(f) = fake() else { return };
    let first = f.seed("AZURE-API-KEY", "key-v1");
    f.seed("AZURE-API-KEY", "key-v2");
    f.seed("AZURE-API-BASE", "https://example.openai.azure.com");
    let config = format!(
        "{AKV}model_list:\n  - litellm_params:\n      api_key: os.environ/AZURE-API-KEY\n      api_base: os.environ/AZURE-API-BASE\n\
         old: os.environ/AZURE-API-KEY@{first}\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let out = run(dir.path(), &f.managed_identity(), &["render", "config.yaml"], None);
    out.success();
    assert_eq!(
        out.stdout,
        format!(
            "general_settings: {{}}\nmodel_list:\n  - litellm_params:\n      api_key: key-v2\n      api_base: \"https://example.openai.azure.com\"\n\
             old: key-v1\n"
        )
    );
    // The challenge: the first request carries no token and gets 401, then the client replays
    // it with one; each secret is read once.
    let reads: Vec<String> = f
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("GET /secrets/"))
        .collect();
    assert_eq!(reads.len(), 4, "{reads:?}");
}

/// AKS workload identity: the webhook sets `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
/// `AZURE_AUTHORITY_HOST` and `AZURE_FEDERATED_TOKEN_FILE`; the projected token is the client
/// assertion, read from the file at each token request.
#[test]
fn reads_through_aks_workload_identity() {
    let Some(f) = fake() else { return };
    f.seed("AZURE-API-KEY", "key-through-workload-identity");
    let dir = workdir(&[
        ("config.yaml", &format!("{AKV}api_key: os.environ/AZURE-API-KEY\n")),
        (
            "azure-identity-token",
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpsaXRlbGxtIn0.c2ln",
        ),
    ]);
    let env = |client: &str| {
        vec![
            ("AZURE_KEY_VAULT_URI", f.vault.clone()),
            ("SSL_CERT_FILE", f.ca.clone()),
            ("AZURE_AUTHORITY_HOST", f.vault.clone()),
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", client.to_owned()),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                dir.path().join("azure-identity-token").to_str().unwrap().to_owned(),
            ),
        ]
    };
    let out = run(
        dir.path(),
        &env("osenv-workload"),
        &["render", "config.yaml", "-v"],
        None,
    );
    out.success();
    assert_eq!(
        out.stdout,
        "general_settings: {}\napi_key: key-through-workload-identity\n"
    );
    let (_, body) = f.http("GET", "/_fake/requests", None, None);
    assert_eq!(
        body["assertions"][0].as_str(),
        Some("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpsaXRlbGxtIn0.c2ln"),
        "the token file is the client assertion"
    );
    // An application without a federated credential for this token: Entra's answer.
    let out = run(dir.path(), &env("osenv-reader"), &["render", "config.yaml"], None);
    out.code(1);
    assert!(out.stderr.contains("AADSTS70021"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn names_missing_disabled_and_deleted_secrets() {
    let Some(f) = fake() else { return };
    f.seed("AZURE-API-KEY", "mapped-value");
    let disabled = f.seed("disabled", "hidden-disabled");
    let token = f.token();
    f.http(
        "PATCH",
        &format!("/secrets/disabled/{disabled}?api-version=7.4"),
        Some(json!({"attributes": {"enabled": false}})),
        Some(&token),
    );
    f.seed("gone", "hidden-gone");
    f.http("DELETE", "/secrets/gone?api-version=7.4", None, Some(&token));
    let config = format!(
        "{AKV}a: os.environ/AZURE_API_KEY\nb: os.environ/missing\nc: os.environ/disabled\nd: os.environ/gone\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    // At the highest verbosity: the SDK's and HTTP stack's debug output stays out of the log.
    let out = run(
        dir.path(),
        &f.managed_identity(),
        &["-vvv", "render", "config.yaml"],
        None,
    );
    out.code(1);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    let akv = format!("azure_key_vault ({})", f.vault);
    assert_eq!(
        errors,
        [
            "error: config.yaml:3:4: cannot resolve `os.environ/AZURE_API_KEY`: invalid name: Key Vault secret names allow only letters, digits and `-`: write `os.environ/AZURE-API-KEY`, or set key_management_settings.azure_map_to_dashes: true to map `_` and `/` to `-`",
            &format!("error: config.yaml:4:4: cannot resolve `os.environ/missing`: not found in {akv} at `missing`"),
            &format!(
                "error: config.yaml:5:4: cannot resolve `os.environ/disabled`: unavailable in {akv} at `disabled`: the version is disabled"
            ),
            &format!(
                "error: config.yaml:6:4: cannot resolve `os.environ/gone`: unavailable in {akv} at `gone`: the secret is deleted (soft delete): recover it, or `osenv put` recovers it and adds a version"
            ),
            "error: 4 references could not be resolved",
        ]
    );
    assert!(!out.stderr.contains("hidden-"));

    // `check` reads version properties only, and finds the same problems.
    f.http("POST", "/_fake/reset", None, None);
    f.seed("AZURE-API-KEY", "mapped-value");
    let config = format!(
        "{AKV}  key_management_settings:\n    azure_map_to_dashes: true\na: os.environ/AZURE_API_KEY\nb: os.environ/missing\n"
    );
    std::fs::write(dir.path().join("config.yaml"), &config).unwrap();
    let out = run(dir.path(), &f.managed_identity(), &["check", "config.yaml"], None);
    out.code(1);
    assert_message!("check_a_missing_secret", out.stderr);
    let requests = f.requests();
    assert!(
        requests.contains(&"GET /secrets/AZURE-API-KEY/versions".to_owned()),
        "{requests:?}"
    );
    assert!(
        !requests.iter().any(|r| r == "GET /secrets/AZURE-API-KEY/"),
        "{requests:?}"
    );
    // The mapping applies to reads.
    let config = config.replace("b: os.environ/missing\n", "");
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let out = run(dir.path(), &f.managed_identity(), &["render", "config.yaml"], None);
    assert!(out.success().stdout.ends_with("a: mapped-value\n"), "{}", out.stdout);
}

#[test]
fn client_secret_writes_soft_deletes_recovers_and_purges() {
    let Some(f) = fake() else { return };
    let config = format!(
        "{AKV}  key_management_settings:\n    access_mode: read_and_write\n    azure_map_to_dashes: true\n    tags: {{team: ml}}\n\
         key: os.environ/litellm/virtual_key\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let d = dir.path();
    let writer = f.client_secret("osenv-writer", "writer-secret");
    let render = || run(d, &writer, &["render", "config.yaml"], None);

    run(d, &writer, &["put", "config.yaml", "virtual_key"], Some("sk-one\n")).success();
    assert!(render().success().stdout.ends_with("key: sk-one\n"));
    let (_, stored) = f.http(
        "GET",
        "/secrets/litellm-virtual-key/?api-version=7.4",
        None,
        Some(&f.token()),
    );
    assert_eq!(stored["tags"], json!({"team": "ml"}));
    run(d, &writer, &["put", "config.yaml", "virtual_key"], Some("sk-two")).success();
    assert!(render().success().stdout.ends_with("key: sk-two\n"));

    run(d, &writer, &["delete", "config.yaml", "virtual_key"], None).success();
    let out = render();
    out.code(1);
    assert_message!("soft_deleted", out.stderr);

    // A write to a soft-deleted name (409 Conflict) recovers it, then adds the version.
    run(d, &writer, &["put", "config.yaml", "virtual_key"], Some("sk-three")).success();
    assert!(render().success().stdout.ends_with("key: sk-three\n"));
    assert!(
        f.requests()
            .contains(&"POST /deletedsecrets/litellm-virtual-key/recover".to_owned())
    );

    run(d, &writer, &["delete", "config.yaml", "virtual_key", "--purge"], None).success();
    let out = render();
    out.code(1);
    assert_message!("purged", out.stderr);
    let (status, _) = f.http(
        "GET",
        "/deletedsecrets/litellm-virtual-key?api-version=7.4",
        None,
        Some(&f.token()),
    );
    assert_eq!(status, 404);

    // A reader identity can read but not write: the service's 403 is reported.
    f.seed("litellm-virtual-key", "sk-readable");
    let read_only = f.client_secret("osenv-reader", "reader-secret");
    assert!(
        run(d, &read_only, &["render", "config.yaml"], None)
            .success()
            .stdout
            .ends_with("key: sk-readable\n")
    );
    let out = run(d, &read_only, &["put", "config.yaml", "virtual_key"], Some("sk-denied"));
    out.code(1);
    assert_message!("put_forbidden", out.stderr);
    assert!(!out.stderr.contains("sk-denied"));

    // The default prefix `litellm/` stores `litellm-k` (Key Vault names have no `/`); a prefix
    // ending with `-` is joined as it is; the name itself is still held to Key Vault's rules.
    let dir = workdir(&[
        (
            "config.yaml",
            &format!("{AKV}  key_management_settings:\n    access_mode: read_and_write\nk: os.environ/litellm-k\n"),
        ),
        (
            "dashed.yaml",
            &format!(
                "{AKV}  key_management_settings:\n    access_mode: read_and_write\n    prefix_for_stored_virtual_keys: bar-\nk: os.environ/bar-k\n"
            ),
        ),
    ]);
    run(dir.path(), &writer, &["put", "config.yaml", "k"], Some("v1")).success();
    let out = run(dir.path(), &writer, &["render", "config.yaml"], None);
    assert!(out.success().stdout.ends_with("k: v1\n"), "{}", out.stdout);
    run(dir.path(), &writer, &["put", "dashed.yaml", "k"], Some("v2")).success();
    let out = run(dir.path(), &writer, &["render", "dashed.yaml"], None);
    assert!(out.success().stdout.ends_with("k: v2\n"), "{}", out.stdout);
    let out = run(dir.path(), &writer, &["put", "config.yaml", "a_b"], Some("v"));
    out.code(1);
    assert_message!("put_a_name_key_vault_cannot_hold", out.stderr);
}

/// Key Vault completes a delete, a recovery and a purge after a while, answering 409 until then
/// (`ObjectIsBeingDeleted` to a write, recover or purge during a delete, `ObjectIsBeingRecovered`
/// to a write during a recovery, 409 to a write during a purge, as its recordings and users'
/// reports show): each write or purge right after one waits for it instead of failing.
#[test]
fn writes_and_purges_wait_for_a_transition_in_progress() {
    let Some(f) = fake() else { return };
    // The body is the delay in seconds (a JSON number is one).
    let (status, _) = f.http("POST", "/_fake/transition-delay", Some(json!(1.5)), None);
    assert_eq!(status, 200);
    let config = format!(
        "{AKV}  key_management_settings:\n    access_mode: read_and_write\n    prefix_for_stored_virtual_keys: \"\"\nkey: os.environ/slow-key\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let d = dir.path();
    let writer = f.client_secret("osenv-writer", "writer-secret");
    let render = || run(d, &writer, &["render", "config.yaml"], None);
    let count = |prefix: &str| f.requests().iter().filter(|r| r.starts_with(prefix)).count();
    run(d, &writer, &["put", "config.yaml", "slow-key"], Some("sk-one")).success();
    run(d, &writer, &["delete", "config.yaml", "slow-key"], None).success();
    // At once: the delete is still in progress; the recovery waits for it, and the write then
    // waits for the recovery.
    let (recovers, puts) = (
        count("POST /deletedsecrets/slow-key/recover"),
        count("PUT /secrets/slow-key"),
    );
    run(d, &writer, &["put", "config.yaml", "slow-key"], Some("sk-two")).success();
    assert!(
        count("POST /deletedsecrets/slow-key/recover") - recovers >= 2,
        "the recovery was retried while the delete ran: {:?}",
        f.requests()
    );
    assert!(
        count("PUT /secrets/slow-key") - puts >= 3,
        "the write was retried while the recovery ran: {:?}",
        f.requests()
    );
    assert!(render().success().stdout.ends_with("key: sk-two\n"));

    // A purge right after the soft delete waits for the delete to finish.
    run(d, &writer, &["delete", "config.yaml", "slow-key", "--purge"], None).success();
    let out = render();
    out.code(1);
    assert_message!("purged_after_a_wait", out.stderr);
    // A write right after the purge: there is nothing to recover, and the name is reusable only
    // once the purge is done; the write waits for that.
    let (recovers, puts) = (
        count("POST /deletedsecrets/slow-key/recover"),
        count("PUT /secrets/slow-key"),
    );
    run(d, &writer, &["put", "config.yaml", "slow-key"], Some("sk-three")).success();
    assert_eq!(
        count("POST /deletedsecrets/slow-key/recover") - recovers,
        1,
        "{:?}",
        f.requests()
    );
    assert!(count("PUT /secrets/slow-key") - puts >= 3, "{:?}", f.requests());
    assert!(render().success().stdout.ends_with("key: sk-three\n"));
    let (status, _) = f.http(
        "GET",
        "/deletedsecrets/slow-key?api-version=7.4",
        None,
        Some(&f.token()),
    );
    assert_eq!(status, 404, "written anew, not recovered");
}

#[test]
fn credential_and_tls_failures_are_one_clear_error() {
    let Some(f) = fake() else { return };
    let dir = workdir(&[("config.yaml", &format!("{AKV}a: os.environ/x\nb: os.environ/y\n"))]);
    // A wrong client secret: one error naming the method, never the secret.
    let out = run(
        dir.path(),
        &f.client_secret("osenv-writer", "wrong-secret-canary"),
        &["render", "config.yaml"],
        None,
    );
    out.code(1);
    assert!(
        out.stderr
            .contains("token for https://vault.azure.net/.default (client secret (AZURE_CLIENT_ID=osenv-writer))"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrong-secret-canary"), "{}", out.stderr);
    assert_eq!(out.stderr.matches("AADSTS7000215").count(), 1, "{}", out.stderr);

    // Another tenant: Microsoft Entra's refusal, once.
    let mut other_tenant = f.client_secret("osenv-writer", "writer-secret");
    for (k, v) in &mut other_tenant {
        if *k == "AZURE_TENANT_ID" {
            *v = "00000000-0000-0000-0000-000000000000".into();
        }
    }
    let out = run(dir.path(), &other_tenant, &["render", "config.yaml"], None);
    out.code(1);
    assert_eq!(out.stderr.matches("AADSTS90002").count(), 1, "{}", out.stderr);

    // The fake, like the service, takes only tokens for the vault's audience: osenv's are (every
    // other test here reads through them), another resource's is refused.
    let (_, body) = f.http(
        "GET",
        "/secrets/x?api-version=7.4",
        None,
        Some(&f.token_for("https://management.azure.com")),
    );
    assert_eq!(body["error"]["code"], "Unauthorized", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().starts_with("AKV10022"),
        "{body}"
    );

    // Without the test CA the fake's certificate is not trusted: verification is on.
    let env: Vec<_> = f
        .managed_identity()
        .into_iter()
        .filter(|(k, _)| *k != "SSL_CERT_FILE")
        .collect();
    let out = run(dir.path(), &env, &["render", "config.yaml", "--attempts", "1"], None);
    out.code(1);
    assert_message!("an_untrusted_server_certificate", out.stderr);

    // Half a client-secret configuration is refused.
    let env: Vec<_> = f
        .client_secret("osenv-writer", "writer-secret")
        .into_iter()
        .filter(|(k, _)| *k != "AZURE_TENANT_ID")
        .collect();
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    out.code(1);
    assert_message!("half_a_client_secret", out.stderr);
}

/// `get` and `list` are separate permissions: an identity with `get` only renders, and `check`
/// (which lists versions, never reading a value) reports the refusal at each reference.
#[test]
fn check_needs_list_and_render_needs_only_get() {
    let Some(f) = fake() else { return };
    f.seed("AZURE-API-KEY", "get-only-value");
    let dir = workdir(&[("config.yaml", &format!("{AKV}a: os.environ/AZURE-API-KEY\n"))]);
    let getter = f.client_secret("osenv-getter", "getter-secret");
    let out = run(dir.path(), &getter, &["render", "config.yaml"], None);
    assert!(out.success().stdout.ends_with("a: get-only-value\n"), "{}", out.stdout);
    let out = run(dir.path(), &getter, &["check", "config.yaml"], None);
    out.code(1);
    assert!(
        out.stdout.contains("access denied by azure_key_vault") && out.stdout.contains("[access-denied]"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("get-only-value") && !out.stderr.contains("get-only-value"));
    // Three versions: the fake's pages hold two, so check pages through the version list.
    f.seed("AZURE-API-KEY", "second");
    f.seed("AZURE-API-KEY", "third");
    f.http("POST", "/_fake/forget-requests", None, None);
    let reader = f.client_secret("osenv-reader", "reader-secret");
    run(dir.path(), &reader, &["check", "config.yaml"], None).success();
    let pages = f
        .requests()
        .iter()
        .filter(|r| *r == "GET /secrets/AZURE-API-KEY/versions")
        .count();
    // The first request draws the 401 challenge, then two pages.
    assert_eq!(pages, 3, "{:?}", f.requests());
}

/// A vault that accepts connections and never answers (the fake holds each request 30 s): the
/// per-request timeout fires and is retried, and the run ends at the deadline with a located
/// error.
#[test]
fn a_stalled_vault_cannot_outlast_the_deadline() {
    let Some(f) = fake() else { return };
    f.seed("STALLED", "never-read");
    let (status, _) = f.http("POST", "/_fake/stall", Some(json!(30)), None);
    assert_eq!(status, 200);
    let dir = workdir(&[("config.yaml", &format!("{AKV}a: os.environ/STALLED\n"))]);
    let started = std::time::Instant::now();
    let out = run(
        dir.path(),
        &f.managed_identity(),
        &[&["render", "config.yaml"][..], &crate::support::STALL_LIMITS].concat(),
        None,
    );
    crate::support::ended_at_the_deadline(&out, started.elapsed());
    assert!(
        out.stderr
            .contains("config.yaml:3:4: cannot resolve `os.environ/STALLED`"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("never-read"));
    assert!(
        f.requests().len() >= 2,
        "the timeout fired and was retried: {:?}",
        f.requests()
    );
}
