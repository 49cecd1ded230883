//! Azure Key Vault, end to end against the project's HTTPS Key Vault fake
//! (`scripts/azure_keyvault_fake.py`, started by `scripts/testbed`) with TLS verification on,
//! through the official client and real credential types: managed identity (App Service
//! `IDENTITY_ENDPOINT`) and client secret (against the fake's Entra token endpoint through
//! `AZURE_AUTHORITY_HOST`).

use crate::servers::server_url;
use crate::support::{Run, osenv, workdir};
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
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let body: Value = reqwest::Client::new()
                .get(format!(
                    "{}?api-version=2019-08-01&resource=https://vault.azure.net",
                    self.msi
                ))
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
                "error: config.yaml:5:4: cannot resolve `os.environ/disabled`: unavailable in {akv} at `disabled`: the secret version is disabled"
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
    assert!(
        out.stderr.contains("cannot resolve `os.environ/missing`: not found"),
        "{}",
        out.stderr
    );
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
    assert!(
        out.stderr.contains("the secret is deleted (soft delete)"),
        "{}",
        out.stderr
    );

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
    assert!(out.stderr.contains("not found in azure_key_vault"), "{}", out.stderr);
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
    assert!(out.stderr.contains("HTTP 403 Forbidden"), "{}", out.stderr);
    assert!(!out.stderr.contains("sk-denied"));

    // The default prefix cannot be a Key Vault name without the mapping.
    let dir = workdir(&[(
        "config.yaml",
        &format!("{AKV}  key_management_settings:\n    access_mode: read_and_write\n"),
    )]);
    let out = run(dir.path(), &writer, &["put", "config.yaml", "k"], Some("v"));
    out.code(1);
    assert!(out.stderr.contains("cannot store `litellm/k`"), "{}", out.stderr);
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

    // Without the test CA the fake's certificate is not trusted: verification is on.
    let env: Vec<_> = f
        .managed_identity()
        .into_iter()
        .filter(|(k, _)| *k != "SSL_CERT_FILE")
        .collect();
    let out = run(dir.path(), &env, &["render", "config.yaml", "--attempts", "1"], None);
    out.code(1);
    assert!(out.stderr.to_lowercase().contains("certificate"), "{}", out.stderr);

    // Half a client-secret configuration is refused.
    let env: Vec<_> = f
        .client_secret("osenv-writer", "writer-secret")
        .into_iter()
        .filter(|(k, _)| *k != "AZURE_TENANT_ID")
        .collect();
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    out.code(1);
    assert!(
        out.stderr
            .contains("AZURE_TENANT_ID and AZURE_CLIENT_ID are both needed"),
        "{}",
        out.stderr
    );
}
