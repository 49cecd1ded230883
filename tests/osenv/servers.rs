//! The test servers started by `scripts/testbed` (their URLs come in `OSENV_TEST_*`
//! variables) and a request-counting TCP proxy to put in front of them.
//!
//! A test that needs a server and does not find it fails, unless the developer asked to skip
//! that server by name (`OSENV_SKIP_SERVERS=moto,vault,...` or `all`; never under `CI=true`).
//! A skip is written to `OSENV_SKIP_LOG`, which `scripts/test` prints after the run, so it is
//! visible in the summary instead of passing silently.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
#[cfg(feature = "aws")]
use std::sync::MutexGuard;
use std::sync::{Arc, Mutex};

/// `script` run by the pinned LiteLLM venv's Python with `cases` as JSON on its stdin, and
/// what it prints as JSON: the differential tests ask LiteLLM's own code for its verdict.
/// `None` (skip) as [`server_url`] decides when the venv is not set up.
pub fn litellm_python<T: serde::de::DeserializeOwned>(script: &str, cases: &impl serde::Serialize) -> Option<T> {
    let litellm = server_url("OSENV_TEST_LITELLM", "the LiteLLM proxy (scripts/litellm-venv)")?;
    let python = std::path::Path::new(&litellm).with_file_name("python");
    let mut child = std::process::Command::new(&python)
        .args(["-c", script])
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the venv's python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(cases).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

/// The URL of a test server, or `None` (skip) when it is not running and its skip was asked
/// for by name.
pub fn server_url(variable: &str, what: &str) -> Option<String> {
    if let Ok(url) = std::env::var(variable)
        && !url.is_empty()
    {
        return Some(url);
    }
    let name = skip_name(variable);
    let asked = std::env::var("OSENV_SKIP_SERVERS")
        .is_ok_and(|list| list.split(',').map(str::trim).any(|n| n == name || n == "all"));
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        asked && !ci,
        "{what} is not running ({variable} is unset); run the tests with scripts/test, or skip it with OSENV_SKIP_SERVERS={name} (not under CI=true)"
    );
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let line = format!("skipped: {test}: {what} is not running (OSENV_SKIP_SERVERS)\n");
    #[allow(clippy::disallowed_macros)] // the test harness's own output
    {
        eprint!("{line}");
    }
    if let Ok(log) = std::env::var("OSENV_SKIP_LOG") {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }
    None
}

/// The name a server is skipped by.
fn skip_name(variable: &str) -> &'static str {
    match variable {
        "OSENV_TEST_MOTO" => "moto",
        "OSENV_TEST_VAULT_ADDR" => "vault",
        "OSENV_TEST_DRONGO" => "drongo",
        "OSENV_TEST_AZURE_VAULT" => "azure",
        "OSENV_TEST_CONJUR" => "conjur",
        "OSENV_TEST_IDENTITY" => "identity",
        "OSENV_TEST_PYTHON" | "OSENV_TEST_SCHEMAS" => "venv",
        "OSENV_TEST_LITELLM" => "litellm",
        _ => "all",
    }
}

/// The project's identity fake (`scripts/identity_fake.py`): it signs service-account and OIDC
/// tokens for a test, reviews them for OpenBao, and plays the cloud credential endpoints.
pub struct Identity {
    pub url: String,
}

/// The identity fake; `None` when skipped.
pub fn identity() -> Option<Identity> {
    server_url("OSENV_TEST_IDENTITY", "the identity fake").map(|url| Identity { url })
}

impl Identity {
    /// A token signed by the fake: `kind` `kubernetes` (a projected service-account token) or
    /// `jwt` (an OIDC token of this issuer), with the claims given (`aud`, `sub`, `ttl`,
    /// `serviceaccount`, `namespace`, `rogue`).
    pub fn mint(&self, claims: &serde_json::Value) -> String {
        self.call("POST", "/mint", Some(&claims.to_string()))
    }

    /// Make the fake's TokenReview refuse `token` from now on (as after a pod is deleted).
    pub fn revoke(&self, token: &str) {
        self.call("POST", "/revoke", Some(token));
    }

    /// How often each endpoint answered, and the last token each was shown.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::from_str(&self.call("GET", "/stats", None)).expect("stats are JSON")
    }

    /// The count for one endpoint (`kubernetes.tokenreview`, `aws.sts`, …).
    pub fn count(&self, what: &str) -> u64 {
        self.stats()
            .pointer(&format!("/counts/{what}"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }

    /// The last token (or audience) an endpoint was shown.
    pub fn seen(&self, what: &str) -> Option<String> {
        self.stats()
            .pointer(&format!("/seen/{what}"))
            .and_then(|v| v.as_str().map(str::to_owned))
    }

    fn call(&self, method: &str, path: &str, body: Option<&str>) -> String {
        let (status, body) = plain_http(&self.url, method, path, body);
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// One request to a test server over plain HTTP (`base` is `http://host:port`), the
/// connection closed after it: the status and the body.
pub fn plain_http(base: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    plain_http_with(base, method, path, "", body)
}

/// [`plain_http`] with extra header lines (each ending in `\r\n`).
pub fn plain_http_with(base: &str, method: &str, path: &str, headers: &str, body: Option<&str>) -> (u16, String) {
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).expect("connect to the test server");
    let body = body.unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .expect("an HTTP status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[cfg(feature = "aws")]
pub use moto::{Moto, moto, runtime};

#[cfg(feature = "aws")]
mod moto {
    use super::*;

    /// moto, reset for the test that holds this guard. Tests against moto run one at a time,
    /// because a reset wipes every account and region.
    pub struct Moto {
        pub url: String,
        _exclusive: MutexGuard<'static, ()>,
    }

    static MOTO: Mutex<()> = Mutex::new(());

    /// moto for one test, freshly reset; `None` when skipped.
    pub fn moto() -> Option<Moto> {
        let url = server_url("OSENV_TEST_MOTO", "moto (AWS Secrets Manager and KMS)")?;
        let guard = MOTO.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        http_post(&url, "/moto-api/reset");
        Some(Moto { url, _exclusive: guard })
    }

    impl Moto {
        /// The environment the SDK needs to reach this moto (or a proxy in front of it).
        pub fn env(endpoint: &str) -> Vec<(&'static str, String)> {
            vec![
                ("AWS_ENDPOINT_URL", endpoint.to_owned()),
                ("AWS_REGION", "us-east-1".into()),
                ("AWS_ACCESS_KEY_ID", "test".into()),
                ("AWS_SECRET_ACCESS_KEY", "test".into()),
                ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ]
        }

        /// An SDK configuration pointing at this moto, for seeding.
        pub fn sdk_config(&self) -> aws_config::SdkConfig {
            runtime().block_on(
                aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new("us-east-1"))
                    .endpoint_url(&self.url)
                    .credentials_provider(aws_credential_types::Credentials::new(
                        "test", "test", None, None, "test",
                    ))
                    .load(),
            )
        }

        pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
            aws_sdk_secretsmanager::Client::new(&self.sdk_config())
        }

        pub fn kms(&self) -> aws_sdk_kms::Client {
            aws_sdk_kms::Client::new(&self.sdk_config())
        }
    }

    #[cfg(feature = "aws")]
    pub fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }
}

#[cfg_attr(not(feature = "aws"), allow(dead_code))]
/// A bodiless POST, enough for moto's reset endpoint.
fn http_post(base: &str, path: &str) {
    let (status, body) = plain_http(base, "POST", path, None);
    assert_eq!(status, 200, "{body}");
}

/// The bytes each connection sent, one buffer per connection.
type Sent = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A TCP proxy that forwards to `upstream` and counts requests, seen on the wire before they
/// reach the server: by a header's value (`X-Amz-Target` for AWS) and by request line
/// (`GET /v1/secret/data/x`, without the query).
pub struct CountingProxy {
    pub url: String,
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
    /// Every byte each connection sent, in order.
    sent: Sent,
}

impl CountingProxy {
    pub fn start(upstream: &str, header: &str) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream address");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let counts: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
        let header = format!("{}:", header.to_ascii_lowercase());
        let shared = Arc::clone(&counts);
        let sent: Sent = Arc::default();
        let all_sent = Arc::clone(&sent);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let (counts, header) = (Arc::clone(&shared), header.clone());
                let record: Arc<Mutex<Vec<u8>>> = Arc::default();
                all_sent.lock().expect("not poisoned").push(Arc::clone(&record));
                let (mut client_r, mut server_w) =
                    (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                std::thread::spawn(move || forward_counting(&mut client_r, &mut server_w, &header, &counts, &record));
                let (mut server_r, mut client_w) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server_r, &mut client_w);
                    let _ = client_w.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Self { url, counts, sent }
    }

    /// Every request seen, as `(value of header, body)`: HTTP/1.1 messages with a
    /// `Content-Length` (what the AWS SDK sends), parsed from each connection's bytes.
    pub fn bodies(&self, header: &str) -> Vec<(String, Vec<u8>)> {
        let header = format!("{}:", header.to_ascii_lowercase());
        let mut found = Vec::new();
        for connection in self.sent.lock().expect("not poisoned").iter() {
            let bytes = connection.lock().expect("not poisoned").clone();
            let mut at = 0;
            while let Some(end) = bytes[at..].windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&bytes[at..at + end]).into_owned();
                let value = |name: &str| {
                    head.lines()
                        .find(|l| l.to_ascii_lowercase().starts_with(name))
                        .map(|l| l[name.len()..].trim().to_owned())
                };
                let length: usize = value("content-length:").and_then(|v| v.parse().ok()).unwrap_or(0);
                let body_start = at + end + 4;
                let body_end = (body_start + length).min(bytes.len());
                found.push((value(&header).unwrap_or_default(), bytes[body_start..body_end].to_vec()));
                at = body_end;
            }
        }
        found
    }

    /// Requests seen per header value.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.seen("header ")
    }

    /// Requests seen per `METHOD /path`.
    pub fn lines(&self) -> BTreeMap<String, usize> {
        self.seen("line ")
    }

    fn seen(&self, kind: &str) -> BTreeMap<String, usize> {
        let counts = self.counts.lock().expect("not poisoned");
        counts
            .iter()
            .filter_map(|(k, n)| k.strip_prefix(kind).map(|k| (k.to_owned(), *n)))
            .collect()
    }

    pub fn count(&self, value: &str) -> usize {
        self.counts().get(value).copied().unwrap_or(0)
    }
}

fn forward_counting(
    from: &mut TcpStream,
    to: &mut TcpStream,
    header: &str,
    counts: &Mutex<BTreeMap<String, usize>>,
    record: &Mutex<Vec<u8>>,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        record.lock().expect("not poisoned").extend_from_slice(&buf[..n]);
        // Count complete header lines before the bytes reach the server.
        let mut consumed = 0;
        while let Some(end) = pending[consumed..].windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&pending[consumed..consumed + end]).to_ascii_lowercase();
            let text = String::from_utf8_lossy(&pending[consumed..consumed + end]);
            let key = if line.starts_with(header) {
                Some(format!("header {}", text[header.len()..].trim()))
            } else {
                request_line(&text).map(|r| format!("line {r}"))
            };
            if let Some(key) = key {
                *counts.lock().expect("not poisoned").entry(key).or_default() += 1;
            }
            consumed += end + 2;
        }
        pending.drain(..consumed);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// `METHOD /path` of an HTTP/1.1 request line. A POST body has no line end of its own, so the
/// next request line may follow it directly: the method is the uppercase tail before the path.
fn request_line(line: &str) -> Option<String> {
    let rest = line.strip_suffix(" HTTP/1.1")?;
    let (before, path) = rest.rsplit_once(' ')?;
    let method: String = before
        .chars()
        .rev()
        .take_while(char::is_ascii_uppercase)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let path = path.split('?').next().unwrap_or(path);
    (!method.is_empty() && path.starts_with('/')).then(|| format!("{method} {path}"))
}

impl CountingProxy {
    /// Requests whose `METHOD /path` starts with `prefix`.
    pub fn requests(&self, prefix: &str) -> usize {
        self.lines()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }
}
