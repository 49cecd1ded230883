//! Google Secret Manager and Cloud KMS, end to end against drongo (a REST fake started by
//! `scripts/testbed`) through the official Rust clients, authenticated with a generated
//! service-account key (Application Default Credentials).

use crate::servers::{CountingProxy, server_url};
use crate::support::{Run, assert_message, osenv, workdir};
use base64::Engine as _;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

const GSM: &str = "general_settings:\n  key_management_system: google_secret_manager\n";

pub(crate) struct Drongo {
    pub(crate) url: String,
    credentials: String,
    _exclusive: MutexGuard<'static, ()>,
}

static DRONGO: Mutex<()> = Mutex::new(());

/// drongo, reset for this test; tests against it run one at a time.
pub(crate) fn drongo() -> Option<Drongo> {
    let url = server_url("OSENV_TEST_DRONGO", "drongo (Google Secret Manager and Cloud KMS)")?;
    let guard = DRONGO.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let d = Drongo {
        credentials: std::env::var("OSENV_TEST_GOOGLE_CREDENTIALS").expect("set with OSENV_TEST_DRONGO"),
        url,
        _exclusive: guard,
    };
    d.call("POST", "/drongo/reset", None);
    Some(d)
}

impl Drongo {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut request = reqwest::Client::new().request(method.parse().unwrap(), format!("{}{path}", self.url));
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert!(status.is_success(), "{method} {path}: {status} {text}");
            serde_json::from_str(&text).unwrap_or(Value::Null)
        })
    }

    pub(crate) fn secret(&self, id: &str, values: &[&str]) {
        self.call(
            "POST",
            &format!("/v1/projects/p1/secrets?secretId={id}"),
            Some(json!({"replication": {"automatic": {}}})),
        );
        for value in values {
            let data = base64::engine::general_purpose::STANDARD.encode(value);
            self.call(
                "POST",
                &format!("/v1/projects/p1/secrets/{id}:addVersion"),
                Some(json!({"payload": {"data": data}})),
            );
        }
    }

    fn key(&self) -> String {
        self.call(
            "POST",
            "/v1/projects/p1/locations/global/keyRings?keyRingId=ring",
            Some(json!({})),
        );
        self.call(
            "POST",
            "/v1/projects/p1/locations/global/keyRings/ring/cryptoKeys?cryptoKeyId=litellm",
            Some(json!({"purpose": "ENCRYPT_DECRYPT"})),
        );
        "projects/p1/locations/global/keyRings/ring/cryptoKeys/litellm".into()
    }

    pub(crate) fn env(&self, endpoint: &str) -> Vec<(&'static str, String)> {
        vec![
            ("GOOGLE_APPLICATION_CREDENTIALS", self.credentials.clone()),
            ("GOOGLE_SECRET_MANAGER_PROJECT_ID", "p1".into()),
            ("GOOGLE_SECRET_MANAGER_ENDPOINT", endpoint.to_owned()),
            ("GOOGLE_KMS_ENDPOINT", endpoint.to_owned()),
        ]
    }
}

fn run(d: &Drongo, dir: &Path, endpoint: &str, args: &[&str], extra: &[(&str, &str)], stdin: Option<&str>) -> Run {
    osenv(dir)
        .args(args)
        .envs(d.env(endpoint))
        .envs(extra.iter().copied())
        .stdin_opt(stdin)
        .run()
}

#[test]
fn secrets_versions_and_resource_names() {
    let Some(d) = drongo() else { return };
    d.secret("OPENAI_API_KEY", &["sk-old", "sk-new"]);
    for i in 0..12 {
        d.secret(&format!("key_{i}"), &[&format!("value-{i}")]);
    }
    let mut config = format!(
        "{GSM}a: os.environ/OPENAI_API_KEY\nb: os.environ/OPENAI_API_KEY@1\nc: os.environ/projects/p1/secrets/OPENAI_API_KEY/versions/2\n"
    );
    for i in 0..12 {
        writeln!(config, "k{i}: os.environ/key_{i}").unwrap();
    }
    let dir = workdir(&[("config.yaml", &config)]);
    let proxy = CountingProxy::start(&d.url, "X-Osenv-Unused");
    let out = run(&d, dir.path(), &proxy.url, &["render", "config.yaml"], &[], None);
    out.success();
    assert!(
        out.stdout
            .starts_with("general_settings: {}\na: sk-new\nb: sk-old\nc: sk-new\nk0: value-0\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.ends_with("k11: value-11\n"));
    // One access per distinct version: OPENAI_API_KEY latest, @1 and /versions/2 are three.
    assert_eq!(
        proxy.requests("GET /v1/projects/p1/secrets/"),
        15,
        "{:?}",
        proxy.lines()
    );
}

#[test]
fn missing_disabled_and_invalid_names_are_located() {
    let Some(d) = drongo() else { return };
    d.secret("disabled", &["hidden-disabled-value"]);
    d.call(
        "POST",
        "/v1/projects/p1/secrets/disabled/versions/1:disable",
        Some(json!({})),
    );
    let config = format!(
        "{GSM}a: os.environ/missing\nb: os.environ/disabled@1\nc: os.environ/litellm/key\nd: os.environ/AZURE-API-KEY@\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    // At the highest verbosity: the SDK's and HTTP stack's debug output stays out of the log.
    let out = run(&d, dir.path(), &d.url, &["-vvv", "render", "config.yaml"], &[], None);
    out.code(1);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    let gsm = format!("google_secret_manager ({})", d.url);
    assert_eq!(
        errors[0],
        format!(
            "error: config.yaml:3:4: cannot resolve `os.environ/missing`: not found in {gsm} at `projects/p1/secrets/missing/versions/latest`"
        )
    );
    assert!(errors[1].starts_with(&format!("error: config.yaml:4:4: cannot resolve `os.environ/disabled@1`: unavailable in {gsm} at `projects/p1/secrets/disabled/versions/1`: FAILED_PRECONDITION")), "{}", errors[1]);
    assert_eq!(
        errors[2],
        "error: config.yaml:5:4: cannot resolve `os.environ/litellm/key`: invalid name: a Google Secret Manager secret id has 1 to 255 letters, digits, `-` and `_` only"
    );
    assert!(errors[3].contains("the version after `@` must be"), "{}", errors[3]);
    assert!(!out.stderr.contains("hidden-disabled-value"));

    // `check` sees the disabled version from its metadata, without accessing it.
    let proxy = CountingProxy::start(&d.url, "X-Osenv-Unused");
    let out = run(&d, dir.path(), &proxy.url, &["check", "config.yaml"], &[], None);
    out.code(1);
    assert_message!("check_a_disabled_version", out.stderr);
    assert_eq!(
        proxy.requests("GET /v1/projects/p1/secrets/disabled/versions/1"),
        1,
        "{:?}",
        proxy.lines()
    );
    assert!(
        !proxy.lines().keys().any(|k| k.ends_with(":access")),
        "{:?}",
        proxy.lines()
    );
}

#[test]
fn put_adds_versions_and_delete_removes_the_secret() {
    let Some(d) = drongo() else { return };
    let config = format!(
        "{GSM}  key_management_settings:\n    access_mode: read_and_write\n    prefix_for_stored_virtual_keys: \"\"\nkey: os.environ/virtual-key\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let p = dir.path();
    run(
        &d,
        p,
        &d.url,
        &["put", "config.yaml", "virtual-key"],
        &[],
        Some("sk-one\n"),
    )
    .success();
    assert!(
        run(&d, p, &d.url, &["render", "config.yaml"], &[], None)
            .success()
            .stdout
            .ends_with("key: sk-one\n")
    );
    run(
        &d,
        p,
        &d.url,
        &["put", "config.yaml", "virtual-key"],
        &[],
        Some("sk-two"),
    )
    .success();
    assert!(
        run(&d, p, &d.url, &["render", "config.yaml"], &[], None)
            .success()
            .stdout
            .ends_with("key: sk-two\n")
    );
    let versions = d.call("GET", "/v1/projects/p1/secrets/virtual-key/versions", None);
    assert_eq!(versions["versions"].as_array().map(Vec::len), Some(2), "{versions}");
    run(&d, p, &d.url, &["delete", "config.yaml", "virtual-key"], &[], None).success();
    let out = run(&d, p, &d.url, &["render", "config.yaml"], &[], None);
    out.code(1);
    assert_message!("deleted", out.stderr);

    // LiteLLM's default prefix `litellm/` cannot be part of a secret id: it stores `litellm-k`;
    // a name Secret Manager cannot hold is still said before any request.
    let config = format!("{GSM}  key_management_settings:\n    access_mode: read_and_write\nk: os.environ/litellm-k\n");
    let dir = workdir(&[("config.yaml", &config)]);
    run(&d, dir.path(), &d.url, &["put", "config.yaml", "k"], &[], Some("v")).success();
    let out = run(&d, dir.path(), &d.url, &["render", "config.yaml"], &[], None);
    assert!(out.success().stdout.ends_with("k: v\n"), "{}", out.stdout);
    let out = run(&d, dir.path(), &d.url, &["put", "config.yaml", "a.b"], &[], Some("v"));
    out.code(1);
    assert_message!("put_a_name_secret_manager_cannot_hold", out.stderr);
    // And read_only refuses.
    let dir = workdir(&[("config.yaml", GSM)]);
    let out = run(&d, dir.path(), &d.url, &["put", "config.yaml", "k"], &[], Some("v"));
    out.code(1);
    assert_message!("put_read_only", out.stderr);
}

#[test]
fn google_kms_round_trip_base64_and_bytes_literal() {
    let Some(d) = drongo() else { return };
    let key = d.key();
    let dir = workdir(&[]);
    let out = run(
        &d,
        dir.path(),
        &d.url,
        &["-vvv", "encrypt", "--system", "google_kms", "--key-id", &key],
        &[],
        Some("sk-master\n"),
    );
    out.success();
    let b64 = out.stdout.trim().to_owned();
    assert!(!b64.contains("sk-master"));
    // At the highest verbosity the plaintext, also as the request's base64, stays off stderr.
    let sent = base64::engine::general_purpose::STANDARD.encode("sk-master");
    assert!(
        !out.stderr.contains("sk-master") && !out.stderr.contains(&sent),
        "{}",
        out.stderr
    );
    // The same ciphertext as the Python bytes literal LiteLLM's docs show.
    let raw = base64::engine::general_purpose::STANDARD.decode(&b64).unwrap();
    let mut literal = String::from("b'");
    for b in &raw {
        write!(literal, "\\x{b:02x}").unwrap();
    }
    literal.push('\'');
    // With GOOGLE_KMS_RESOURCE_NAME set, --key-id is optional.
    let out = run(
        &d,
        dir.path(),
        &d.url,
        &["encrypt", "--system", "google_kms"],
        &[("GOOGLE_KMS_RESOURCE_NAME", &key)],
        Some("  spaced  "),
    );
    let spaced = out.success().stdout.trim().to_owned();

    let config = "general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n  key_management_system: google_kms\n  \
                  key_management_settings:\n    hosted_keys: [LITELLM_MASTER_KEY, AS_LITERAL, SPACED]\n\
                  lit: os.environ/AS_LITERAL\nsp: os.environ/SPACED\nplain: os.environ/PLAIN\n";
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let env = [
        ("GOOGLE_KMS_RESOURCE_NAME", key.as_str()),
        ("LITELLM_MASTER_KEY", b64.as_str()),
        ("AS_LITERAL", literal.as_str()),
        ("SPACED", spaced.as_str()),
        ("PLAIN", "not-encrypted"),
    ];
    let out = run(&d, dir.path(), &d.url, &["render", "config.yaml"], &env, None);
    out.success();
    assert_eq!(
        out.stdout,
        "general_settings:\n  master_key: sk-master\nlit: sk-master\nsp: \"  spaced  \"\nplain: not-encrypted\n"
    );

    // Bad values are located, name their variable, and never become the value.
    let env = [
        ("GOOGLE_KMS_RESOURCE_NAME", key.as_str()),
        ("LITELLM_MASTER_KEY", "__import__('os').system('x')"),
        ("AS_LITERAL", "b'\\xZZ'"),
        ("SPACED", "bm90IGEgY2lwaGVydGV4dA=="),
    ];
    let out = run(&d, dir.path(), &d.url, &["render", "config.yaml"], &env, None);
    out.code(1);
    assert_message!("bad_ciphertexts", out.stderr);
    assert!(out.stdout.is_empty());

    // Without the key name the run says what is missing.
    let out = run(
        &d,
        dir.path(),
        &d.url,
        &["render", "config.yaml"],
        &[("LITELLM_MASTER_KEY", "AQID")],
        None,
    );
    out.code(1);
    assert_message!("no_kms_key_named", out.stderr);
}

/// What the Rust client is handed when the service (or something in between) answers badly,
/// injected between osenv and drongo: a payload whose CRC32C does not match is an error that
/// never shows the bytes, `PERMISSION_DENIED` is "access denied" and not retried, and a
/// service that never answers ends at the deadline.
mod faults {
    use super::*;
    use crate::fault_proxy::{Fault, FaultProxy};
    use std::time::Instant;

    fn json(status: u16, body: &Value) -> Fault {
        Fault::Respond(
            status,
            vec![("content-type", "application/json".into())],
            body.to_string(),
        )
    }

    #[test]
    fn a_corrupted_payload_is_refused_without_its_bytes() {
        let Some(d) = drongo() else { return };
        let dir = workdir(&[("config.yaml", &format!("{GSM}a: os.environ/crc\n"))]);
        let proxy = FaultProxy::start(&d.url);
        let data = base64::engine::general_purpose::STANDARD.encode("corrupted-canary");
        proxy.plan([json(
            200,
            &json!({
                "name": "projects/p1/secrets/crc/versions/1",
                "payload": {"data": data, "dataCrc32c": "12345"}
            }),
        )]);
        let out = run(
            &d,
            dir.path(),
            &proxy.url,
            &["render", "config.yaml", "-vvv"],
            &[],
            None,
        );
        out.code(1);
        assert!(out.stdout.is_empty());
        assert!(out.stderr.contains("config.yaml:3:4"), "{}", out.stderr);
        assert!(out.stderr.to_lowercase().contains("crc32c"), "{}", out.stderr);
        assert!(!out.stderr.contains("corrupted-canary") && !out.stderr.contains(&data));
    }

    #[test]
    fn permission_denied_is_access_denied_and_final() {
        let Some(d) = drongo() else { return };
        let dir = workdir(&[("config.yaml", &format!("{GSM}a: os.environ/guarded\n"))]);
        let proxy = FaultProxy::start(&d.url);
        proxy.always(json(
            403,
            &json!({"error": {
                "code": 403,
                "message": "Permission 'secretmanager.versions.access' denied for resource 'projects/p1/secrets/guarded/versions/latest' (or it may not exist).",
                "status": "PERMISSION_DENIED"
            }}),
        ));
        let out = run(&d, dir.path(), &proxy.url, &["render", "config.yaml"], &[], None);
        out.code(1);
        assert_message!("permission_denied", out.stderr);
        assert_eq!(proxy.requests(), 1, "a refusal is not retried");
    }

    #[test]
    fn a_stalled_service_cannot_outlast_the_deadline() {
        let Some(d) = drongo() else { return };
        let dir = workdir(&[("config.yaml", &format!("{GSM}a: os.environ/stalled\n"))]);
        let proxy = FaultProxy::start(&d.url);
        proxy.always(Fault::Stall);
        let started = Instant::now();
        let out = run(
            &d,
            dir.path(),
            &proxy.url,
            &[&["render", "config.yaml"][..], &crate::support::STALL_LIMITS].concat(),
            &[],
            None,
        );
        crate::support::ended_at_the_deadline(&out, started.elapsed());
        assert!(proxy.requests() >= 2, "the per-request timeout fired and was retried");
    }
}
