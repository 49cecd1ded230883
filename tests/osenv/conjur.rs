//! CyberArk Conjur, end to end against the project's Conjur fake (`scripts/conjur_fake.py`,
//! started by `scripts/testbed`): API-key, host, token-file and mutual-TLS logins, batched reads
//! and the search for the culprits of a refused batch, `check` through the resources API,
//! writes through the policy API, retries through the fault proxy, and no API key, access token
//! or value on stderr.

use crate::fault_proxy::{Fault, FaultProxy};
use crate::servers::server_url;
use crate::support::{Run, assert_message, osenv, workdir};
use base64::Engine as _;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

const CONJUR: &str = "general_settings:\n  key_management_system: cyberark\n";
const OLD: &str = "old: content\n";

pub(crate) struct Fake {
    pub url: String,
    tls: String,
    certs: PathBuf,
    _exclusive: MutexGuard<'static, ()>,
}

static FAKE: Mutex<()> = Mutex::new(());

/// The Conjur fake for one test, reset; `None` when skipped.
pub(crate) fn fake() -> Option<Fake> {
    let url = server_url("OSENV_TEST_CONJUR", "the Conjur fake")?;
    let guard = FAKE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let f = Fake {
        url,
        tls: std::env::var("OSENV_TEST_CONJUR_TLS").expect("set with OSENV_TEST_CONJUR"),
        certs: std::env::var("OSENV_TEST_CONJUR_CERTS")
            .expect("set with OSENV_TEST_CONJUR")
            .into(),
        _exclusive: guard,
    };
    f.call("POST", "/_fake/reset", None);
    Some(f)
}

impl Fake {
    /// One plain-HTTP request; the status and body.
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        crate::servers::plain_http(&self.url, method, path, body)
    }

    /// Declare `id` in account `default` with `values` (oldest first; none: declared, empty).
    pub(crate) fn seed(&self, id: &str, values: &[&str]) {
        self.seed_in("default", id, values);
    }

    fn seed_in(&self, account: &str, id: &str, values: &[&str]) {
        let body = serde_json::json!({"account": account, "id": id, "values": values}).to_string();
        assert_eq!(self.call("POST", "/_fake/seed", Some(&body)).0, 200);
    }

    /// Load `policy` into branch `root` of account `default` as `admin`, through Conjur's API;
    /// the status.
    pub(crate) fn load_policy(&self, policy: &str) -> u16 {
        use base64::Engine as _;
        let (status, token) = self.call("POST", "/authn/default/admin/authenticate", Some("admin-api-key"));
        assert_eq!(status, 200, "{token}");
        let token = base64::engine::general_purpose::STANDARD.encode(token);
        let header = format!("Authorization: Token token=\"{token}\"\r\n");
        crate::servers::plain_http_with(
            &self.url,
            "POST",
            "/policies/default/policy/root",
            &header,
            Some(policy),
        )
        .0
    }

    pub(crate) fn configure(&self, settings: &serde_json::Value) {
        assert_eq!(self.call("POST", "/_fake/config", Some(&settings.to_string())).0, 200);
    }

    /// `METHOD /path?query` of every request since the reset.
    pub(crate) fn requests(&self) -> Vec<String> {
        let (_, body) = self.call("GET", "/_fake/requests", None);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        body["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    }

    /// The status of every answer since the reset.
    pub(crate) fn statuses(&self) -> Vec<u64> {
        let (_, body) = self.call("GET", "/_fake/requests", None);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        body["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(serde_json::Value::as_u64)
            .collect()
    }

    pub(crate) fn count(&self, prefix: &str) -> usize {
        self.requests().iter().filter(|r| r.starts_with(prefix)).count()
    }

    /// An access token for `login` (the JSON Conjur answers), as an authenticator writes it.
    fn token(&self, login: &str, key: &str) -> String {
        let login = login.replace('/', "%2F");
        let (status, body) = self.call("POST", &format!("/authn/default/{login}/authenticate"), Some(key));
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The environment of a login with an API key over plain HTTP.
    pub(crate) fn env(&self, login: &str, key: &str) -> Vec<(&'static str, String)> {
        vec![
            ("CYBERARK_API_BASE", self.url.clone()),
            ("CYBERARK_USERNAME", login.into()),
            ("CYBERARK_API_KEY", key.into()),
        ]
    }

    pub(crate) fn admin(&self) -> Vec<(&'static str, String)> {
        self.env("admin", "admin-api-key")
    }

    fn cert(&self, name: &str) -> String {
        self.certs.join(name).display().to_string()
    }
}

fn run(dir: &Path, env: &[(&'static str, String)], args: &[&str], stdin: Option<&str>) -> Run {
    osenv(dir)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin_opt(stdin)
        .run()
}

#[track_caller]
fn clean(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(!run.stderr.contains(secret), "`{secret}` on stderr:\n{}", run.stderr);
    }
}

#[test]
fn reads_in_batches_after_one_authentication() {
    let Some(f) = fake() else { return };
    let mut config = format!("{CONJUR}model_list:\n");
    for i in 0..300 {
        f.seed(&format!("litellm/provider-{i:03}/api-key"), &[&format!("key-{i}")]);
        let _ = write!(
            config,
            "  - model_name: m{i}\n    litellm_params:\n      api_key: os.environ/litellm/provider-{i:03}/api-key\n"
        );
    }
    // Characters Conjur ids may hold (and LiteLLM passes through): `#` and `@` stay part of
    // the id; a `,` cannot be batched (Conjur splits the list on it) and is read alone.
    f.seed("litellm/a+b&c@d#e f", &["special"]);
    f.seed("litellm/with,comma", &["comma"]);
    f.seed("litellm/versions", &["first", "second"]);
    config.push_str(
        "special: os.environ/litellm/a+b&c@d#e f\ncomma: os.environ/litellm/with,comma\nlatest: os.environ/litellm/versions\nagain: os.environ/litellm/versions\n",
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let out = run(dir.path(), &f.admin(), &["-vvv", "render", "config.yaml"], None);
    out.success();
    assert!(out.stdout.contains("      api_key: key-0\n"), "{}", out.stdout);
    assert!(out.stdout.contains("      api_key: key-299\n"));
    assert!(
        out.stdout
            .contains("special: special\ncomma: comma\nlatest: second\nagain: second\n"),
        "{}",
        out.stdout
    );
    clean(&out, &["admin-api-key", "key-17", "special", "second"]);
    assert!(
        out.stderr
            .contains("cyberark: API key login as `admin` in account `default`")
    );

    let requests = f.requests();
    assert_eq!(f.count("POST /authn/"), 1, "{requests:#?}");
    let batches = f.count("GET /secrets?variable_ids=");
    // 302 ids of ~45 bytes each under a 4,000-byte query: a handful of calls, not 302.
    assert!((3..=5).contains(&batches), "{batches}: {requests:#?}");
    assert_eq!(
        f.count("GET /secrets/default/variable/"),
        1,
        "only the id with a comma is read alone: {requests:#?}"
    );
    assert!(requests.contains(&"GET /secrets/default/variable/litellm%2Fwith%2Ccomma".to_owned()));
    assert!(
        requests
            .iter()
            .any(|r| r.contains("default:variable:litellm%2Fa%2Bb%26c%40d%23e%20f")),
        "{requests:#?}"
    );
    assert_eq!(requests.len(), 1 + batches + 1);
}

/// Seeds the variables a host identity cannot all read.
fn mixed(f: &Fake) -> String {
    let mut config = format!("{CONJUR}x:\n");
    for i in 0..20 {
        f.seed(&format!("app/ok-{i:02}"), &[&format!("ok-value-{i}")]);
        let _ = writeln!(config, "  ok{i}: os.environ/app/ok-{i:02}");
    }
    f.seed("app/empty", &[]);
    f.seed("app/forbidden", &["canary-forbidden-value"]);
    f.seed("app/hidden", &["canary-hidden-value"]);
    config.push_str(
        "  empty: os.environ/app/empty\n  forbidden: os.environ/app/forbidden\n  hidden: os.environ/app/hidden\n  missing: os.environ/app/missing\n",
    );
    config
}

#[test]
fn a_refused_batch_is_narrowed_to_its_culprits_and_nothing_is_written() {
    let Some(f) = fake() else { return };
    let config = mixed(&f);
    let dir = workdir(&[("config.yaml", &config), ("out.yaml", OLD)]);
    let host = f.env("host/litellm/proxy", "proxy-api-key");
    let out = run(
        dir.path(),
        &host,
        &["-vvv", "render", "config.yaml", "-o", "out.yaml"],
        None,
    );
    out.code(1);
    let backend = format!("cyberark ({})", f.url);
    let expected = [
        format!("config.yaml:24:10: cannot resolve `os.environ/app/empty`: not found in {backend} at `app/empty`"),
        format!(
            "config.yaml:25:14: cannot resolve `os.environ/app/forbidden`: access denied by {backend} at `app/forbidden`"
        ),
        format!("config.yaml:26:11: cannot resolve `os.environ/app/hidden`: not found in {backend} at `app/hidden`"),
        format!("config.yaml:27:12: cannot resolve `os.environ/app/missing`: not found in {backend} at `app/missing`"),
    ];
    let mut at = 0;
    for line in &expected {
        let found = out.stderr[at..].find(line.as_str());
        assert!(found.is_some(), "`{line}` (in order) in:\n{}", out.stderr);
        at += found.unwrap();
    }
    assert!(out.stderr.contains("error: 4 references could not be resolved"));
    assert_eq!(std::fs::read_to_string(dir.path().join("out.yaml")).unwrap(), OLD);
    clean(
        &out,
        &[
            "canary-forbidden-value",
            "canary-hidden-value",
            "ok-value-",
            "proxy-api-key",
        ],
    );
    // Each culprit was read on its own; the halving sent fewer requests than reading all 24.
    let requests = f.requests();
    for id in ["empty", "forbidden", "hidden", "missing"] {
        assert!(
            requests.contains(&format!("GET /secrets/default/variable/app%2F{id}")),
            "{id}: {requests:#?}"
        );
    }
    assert!(requests.len() < 1 + 1 + 24, "{}: {requests:#?}", requests.len());
}

#[test]
fn check_tells_missing_empty_and_forbidden_apart_without_reading_values() {
    let Some(f) = fake() else { return };
    let config = mixed(&f);
    let dir = workdir(&[("config.yaml", &config)]);
    let host = f.env("host/litellm/proxy", "proxy-api-key");
    let out = run(dir.path(), &host, &["-vvv", "check", "config.yaml"], None);
    out.code(1);
    let backend = format!("cyberark ({})", f.url);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains("os.environ/app/ok-00 ") && l.contains(&format!(" ok ({backend})"))),
        "{}",
        out.stdout
    );
    for (id, what) in [
        ("empty", "the variable is declared but has no value yet"),
        ("forbidden", "access denied by"),
        ("hidden", "not found in"),
        ("missing", "not found in"),
    ] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains(&format!("os.environ/app/{id} ")))
            .unwrap_or_else(|| panic!("{id}: {}", out.stdout));
        assert!(line.contains(what), "{id}: {line}");
    }
    for text in [&out.stdout, &out.stderr] {
        for value in ["canary-forbidden-value", "canary-hidden-value", "ok-value-"] {
            assert!(!text.contains(value), "{text}");
        }
    }
    // The resources API only: no value was ever asked for.
    assert_eq!(f.count("GET /secrets"), 0, "{:#?}", f.requests());
    assert_eq!(f.count("POST /authn/"), 1);
}

#[test]
fn logins_follow_litellm_then_conjur_names_and_never_show_the_key() {
    let Some(f) = fake() else { return };
    f.seed("litellm/key", &["the-value"]);
    f.seed_in("myorg", "litellm/key", &["myorg-value"]);
    let config = format!("{CONJUR}a: os.environ/litellm/key\n");
    let dir = workdir(&[("config.yaml", &config)]);

    // Conjur's own names, a host identity: the login is one encoded path segment.
    let conjur_names = [
        ("CONJUR_APPLIANCE_URL", format!("{}/", f.url)),
        ("CONJUR_AUTHN_LOGIN", "host/litellm/proxy".to_owned()),
        ("CONJUR_AUTHN_API_KEY", "proxy-api-key".to_owned()),
    ];
    let out = run(dir.path(), &conjur_names, &["render", "config.yaml"], None);
    assert_eq!(out.success().stdout, "general_settings: {}\na: the-value\n");
    assert!(
        f.requests()
            .contains(&"POST /authn/default/host%2Flitellm%2Fproxy/authenticate".to_owned())
    );

    // LiteLLM's defaults: account `default`, login `admin`; CYBERARK_ACCOUNT picks another.
    let env = [
        ("CYBERARK_API_BASE", f.url.clone()),
        ("CYBERARK_API_KEY", "admin-api-key".to_owned()),
        ("CONJUR_ACCOUNT", "myorg".to_owned()),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    assert_eq!(out.success().stdout, "general_settings: {}\na: myorg-value\n");

    // A wrong key: one attempt, what to check, never the key.
    let before = f.count("POST /authn/");
    let wrong = f.env("admin", "wrong-key-canary-1234");
    let out = run(dir.path(), &wrong, &["-vvv", "render", "config.yaml"], None);
    out.code(1);
    assert!(
        out.stderr
            .contains("Conjur refused the login `admin` in account `default`: the API key is wrong"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("POST {}/authn/default/admin/authenticate", f.url))
    );
    assert_eq!(f.count("POST /authn/") - before, 1);
    clean(&out, &["wrong-key-canary-1234"]);

    // No credentials at all: said before any request.
    let before = f.requests().len();
    let out = run(
        dir.path(),
        &[("CYBERARK_API_BASE", f.url.clone())],
        &["render", "config.yaml"],
        None,
    );
    out.code(1);
    assert_message!("no_credentials", out.stderr);
    assert_eq!(f.requests().len(), before);
}

#[test]
fn an_env_file_cannot_point_conjur_elsewhere_or_supply_its_key() {
    let Some(f) = fake() else { return };
    f.seed("litellm/key", &["the-value"]);
    let config = format!("{CONJUR}a: os.environ/litellm/key\n");
    let env_file = format!(
        "CYBERARK_API_BASE={}\nCYBERARK_API_KEY=admin-api-key\nCONJUR_CERT_FILE=/etc/hostname\n",
        f.url
    );
    let dir = workdir(&[("config.yaml", &config), (".env", &env_file)]);
    let out = run(dir.path(), &[], &["render", "config.yaml", "--env-file", ".env"], None);
    out.code(1);
    assert_message!("an_env_files_address_key_and_certificate", out.stderr);
    assert!(f.requests().is_empty(), "{:#?}", f.requests());
    // The operator's own file may.
    let out = run(
        dir.path(),
        &[],
        &["render", "config.yaml", "--env-file", ".env", "--trust-env-files"],
        None,
    );
    out.code(1); // CONJUR_CERT_FILE=/etc/hostname holds no certificate
    assert_message!("a_certificate_file_without_a_certificate", out.stderr);
}

#[test]
fn an_access_token_file_replaces_the_login() {
    let Some(f) = fake() else { return };
    f.seed("litellm/key", &["from-token-file"]);
    let token = f.token("host/litellm/proxy", "proxy-api-key");
    let config = format!("{CONJUR}a: os.environ/litellm/key\n");
    let dir = workdir(&[("config.yaml", &config), ("access-token", &format!("{token}\n"))]);
    let file = dir.path().join("access-token").display().to_string();
    let env = [
        ("CYBERARK_API_BASE", f.url.clone()),
        ("CONJUR_AUTHN_TOKEN_FILE", file.clone()),
    ];
    let before = f.count("POST /authn/");
    let out = run(dir.path(), &env, &["-vvv", "render", "config.yaml"], None);
    assert_eq!(out.success().stdout, "general_settings: {}\na: from-token-file\n");
    assert_eq!(f.count("POST /authn/"), before, "no login with a token file");
    let encoded = base64::engine::general_purpose::STANDARD.encode(token.trim());
    let signature = serde_json::from_str::<serde_json::Value>(&token).unwrap()["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    clean(&out, &[&encoded, &signature, &token]);

    // A token Conjur does not accept names the file; a missing file is said before any request.
    std::fs::write(
        dir.path().join("access-token"),
        r#"{"protected":"x","payload":"y","signature":"z"}"#,
    )
    .unwrap();
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    out.code(1);
    assert!(
        out.stderr.contains(&format!(
            "Conjur refused the access token from CONJUR_AUTHN_TOKEN_FILE `{file}` (HTTP 401)"
        )),
        "{}",
        out.stderr
    );
    std::fs::remove_file(dir.path().join("access-token")).unwrap();
    let out = run(dir.path(), &env, &["render", "config.yaml"], None);
    out.code(1);
    assert!(
        out.stderr.contains(&format!(
            "cannot read the Conjur access token (CONJUR_AUTHN_TOKEN_FILE) `{file}`"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn mutual_tls_with_a_private_ca() {
    let Some(f) = fake() else { return };
    f.seed("litellm/key", &["over-mtls"]);
    let config = format!("{CONJUR}a: os.environ/litellm/key\n");
    let dir = workdir(&[("config.yaml", &config)]);
    let base = [
        ("CYBERARK_API_BASE", f.tls.clone()),
        ("CYBERARK_API_KEY", "admin-api-key".to_owned()),
    ];
    let with = |extra: &[(&'static str, String)]| {
        let mut env = base.to_vec();
        env.extend(extra.iter().cloned());
        run(dir.path(), &env, &["render", "config.yaml"], None)
    };
    let identity = [
        ("CYBERARK_CLIENT_CERT", f.cert("client.pem")),
        ("CYBERARK_CLIENT_KEY", f.cert("client.key")),
    ];
    let mut good = identity.to_vec();
    good.push(("CONJUR_CERT_FILE", f.cert("ca.pem")));
    let out = with(&good);
    assert_eq!(out.success().stdout, "general_settings: {}\na: over-mtls\n");

    // The CA as PEM text (CONJUR_SSL_CERTIFICATE) does the same.
    let mut pem = identity.to_vec();
    pem.push((
        "CONJUR_SSL_CERTIFICATE",
        std::fs::read_to_string(f.cert("ca.pem")).unwrap(),
    ));
    with(&pem).success();

    // Without the client certificate the gateway refuses the handshake.
    let out = with(&[("CONJUR_CERT_FILE", f.cert("ca.pem"))]);
    out.code(1);
    assert!(
        out.stderr
            .contains(&format!("POST {}/authn/default/admin/authenticate", f.tls)),
        "{}",
        out.stderr
    );
    clean(&out, &["admin-api-key"]);

    // A certificate of another CA: refused too.
    let out = with(&[
        ("CYBERARK_CLIENT_CERT", f.cert("rogue.pem")),
        ("CYBERARK_CLIENT_KEY", f.cert("rogue.key")),
        ("CONJUR_CERT_FILE", f.cert("ca.pem")),
    ]);
    out.code(1);

    // Without the CA the server is not trusted, and CYBERARK_SSL_VERIFY=false does not change
    // that: it is ignored, said on every run.
    let mut unverified = identity.to_vec();
    unverified.push(("CYBERARK_SSL_VERIFY", "false".to_owned()));
    let out = with(&unverified);
    out.code(1);
    // CYBERARK_SSL_VERIFY=false is said to be ignored, and the handshake itself failed on the
    // server's certificate (the warning also says "certificate": the error line must).
    assert_message!("ssl_verify_false_is_ignored", out.stderr);

    // Half an identity is an error, not a silent fall-through to no certificate.
    let out = with(&[("CYBERARK_CLIENT_CERT", f.cert("client.pem"))]);
    out.code(1);
    assert_message!("half_an_identity", out.stderr);
}

#[test]
fn writes_declare_set_and_delete_through_policy() {
    let Some(f) = fake() else { return };
    let config = format!(
        "{CONJUR}  key_management_settings:\n    access_mode: read_and_write\n    prefix_for_stored_virtual_keys: litellm/\na: os.environ/litellm/virtual-key-1\n"
    );
    let read_only = format!("{CONJUR}a: os.environ/litellm/virtual-key-1\n");
    let dir = workdir(&[("config.yaml", &config), ("read_only.yaml", &read_only)]);
    let d = dir.path();

    // Undeclared: declared in the root policy (as LiteLLM does), then set.
    run(
        d,
        &f.admin(),
        &["put", "config.yaml", "virtual-key-1"],
        Some("sk-first"),
    )
    .success();
    let requests = f.requests();
    assert!(
        requests.contains(&"POST /policies/default/policy/root".to_owned()),
        "{requests:#?}"
    );
    let out = run(d, &f.admin(), &["render", "config.yaml"], None);
    assert!(out.success().stdout.ends_with("a: sk-first\n"), "{}", out.stdout);

    // Declared: one request sets it, no policy load.
    let policies = f.count("POST /policies/");
    run(
        d,
        &f.admin(),
        &["put", "config.yaml", "virtual-key-1"],
        Some("sk-second"),
    )
    .success();
    assert_eq!(f.count("POST /policies/"), policies);
    let out = run(d, &f.admin(), &["render", "config.yaml"], None);
    assert!(out.success().stdout.ends_with("a: sk-second\n"));

    // A host that may update variables but not load policy: declared ones only.
    let writer = f.env("host/litellm/writer", "writer-api-key");
    run(d, &writer, &["put", "config.yaml", "virtual-key-1"], Some("sk-third")).success();
    let out = run(d, &writer, &["put", "config.yaml", "virtual-key-2"], Some("sk-x"));
    out.code(1);
    assert_message!("put_undeclared", out.stderr);
    // A host without `update`.
    let reader = f.env("host/litellm/proxy", "proxy-api-key");
    let out = run(d, &reader, &["put", "config.yaml", "virtual-key-1"], Some("sk-y"));
    out.code(1);
    assert_message!("put_without_update", out.stderr);
    // access_mode gates writes as everywhere; nothing is sent.
    let before = f.requests().len();
    let out = run(d, &f.admin(), &["put", "read_only.yaml", "virtual-key-1"], Some("sk-z"));
    out.code(1);
    assert_message!("put_read_only", out.stderr);
    assert_eq!(f.requests().len(), before);
    // A policy load that meets another one (409) is retried.
    f.configure(&serde_json::json!({"policy_busy": 2}));
    run(d, &f.admin(), &["put", "config.yaml", "virtual-key-3"], Some("sk-busy")).success();
    // Names Conjur ids cannot hold are refused before any request.
    let before = f.requests().len();
    let out = run(d, &f.admin(), &["put", "config.yaml", "has space"], Some("v"));
    out.code(1);
    assert_message!("put_an_invalid_id", out.stderr);
    assert_eq!(f.requests().len(), before);
}

#[test]
fn delete_is_a_policy_update_and_only_with_force() {
    let Some(f) = fake() else { return };
    f.seed("litellm/virtual-key-1", &["sk-1"]);
    f.seed("litellm/virtual-key-3", &["sk-3"]);
    let config = format!(
        "{CONJUR}  key_management_settings:\n    access_mode: read_and_write\n    prefix_for_stored_virtual_keys: litellm/\na: os.environ/litellm/virtual-key-1\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let d = dir.path();
    let writer = f.env("host/litellm/writer", "writer-api-key");
    let out = run(d, &f.admin(), &["delete", "config.yaml", "virtual-key-1"], None);
    out.code(1);
    assert_message!("delete_without_force", out.stderr);
    run(
        d,
        &f.admin(),
        &["delete", "config.yaml", "virtual-key-1", "--force"],
        None,
    )
    .success();
    assert!(f.requests().contains(&"PATCH /policies/default/policy/root".to_owned()));
    let out = run(d, &f.admin(), &["render", "config.yaml"], None);
    out.code(1);
    let out = run(
        d,
        &f.admin(),
        &["delete", "config.yaml", "virtual-key-1", "--force"],
        None,
    );
    out.code(1);
    assert_message!("nothing_to_delete", out.stderr);
    let out = run(d, &writer, &["delete", "config.yaml", "virtual-key-3", "--force"], None);
    out.code(1);
    assert_message!("delete_without_root_policy", out.stderr);
}

#[test]
fn transient_faults_are_retried_and_permanent_ones_are_not() {
    let Some(f) = fake() else { return };
    f.seed("litellm/a", &["a-value"]);
    f.seed("litellm/b", &["b-value"]);
    let config = format!("{CONJUR}a: os.environ/litellm/a\nb: os.environ/litellm/b\n");
    let dir = workdir(&[("config.yaml", &config), ("out.yaml", OLD)]);
    let proxy = FaultProxy::start(&f.url);
    // The login meets a 503 with Retry-After and a dropped connection; the batch a 429.
    proxy.plan([
        Fault::retry_after(503, 1),
        Fault::Close,
        Fault::Pass,
        Fault::status(429),
    ]);
    let env = [
        ("CYBERARK_API_BASE", proxy.url.clone()),
        ("CYBERARK_API_KEY", "admin-api-key".to_owned()),
    ];
    let out = run(
        dir.path(),
        &env,
        &["-vv", "render", "config.yaml", "--attempts", "6"],
        None,
    );
    assert_eq!(out.success().stdout, "general_settings: {}\na: a-value\nb: b-value\n");
    assert_eq!(proxy.requests(), 5, "{:#?}\n{}", f.requests(), out.stderr);

    let proxy = FaultProxy::start(&f.url);
    proxy.always(Fault::Respond(
        400,
        vec![],
        r#"{"error": {"code": "bad_request", "message": "injected bad request"}}"#.into(),
    ));
    let env = [
        ("CYBERARK_API_BASE", proxy.url.clone()),
        ("CYBERARK_API_KEY", "admin-api-key".to_owned()),
    ];
    let out = run(dir.path(), &env, &["render", "config.yaml", "-o", "out.yaml"], None);
    out.code(1);
    assert_eq!(proxy.requests(), 1);
    assert!(out.stderr.contains("HTTP 400: injected bad request"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("out.yaml")).unwrap(), OLD);
}
