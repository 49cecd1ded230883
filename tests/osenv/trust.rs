//! The trust model (SECURITY.md): a config or env file names which secrets to read, never where
//! credentials go; `exec` does not hand the command osenv's own credentials; the HTTP clients
//! follow no redirect off the configured origin, never decompress, and cap what they read.
//! Each test has a local listener that must receive nothing it should not, and a positive
//! control (the operator's opt-in) showing the listener would have seen it.

// With only one of the backends built, the other's helpers go unused.
#![cfg_attr(not(all(feature = "aws", feature = "vault")), allow(dead_code))]

use crate::support::{osenv, workdir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const CANARY: &str = "canary-trust-4d1e";
/// What a trap answers: an error body that must never reach stderr (it came from wherever the
/// endpoint pointed).
const TRAP_BODY: &str = "<Error><Code>trap-body-9c2e</Code><Message>trap-body-9c2e</Message></Error>";

/// A local HTTP server that records each request (head and body) and answers with `answer`.
struct Listener {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Listener {
    fn start(answer: impl Fn(&str) -> Vec<u8> + Send + 'static) -> Self {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", socket.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for conn in socket.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                head.push_str(&String::from_utf8_lossy(&body));
                let response = answer(&head);
                seen.lock().unwrap().push(head);
                let _ = conn.write_all(&response);
            }
        });
        Self { url, requests }
    }

    /// A listener that must never be reached; it answers 500 with [`TRAP_BODY`].
    fn trap() -> Self {
        Self::start(|_| {
            response(
                "500 Internal Server Error",
                "Content-Type: text/xml\r\n",
                TRAP_BODY.as_bytes(),
            )
        })
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn response(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

const VAULT: &str = "general_settings:\n  key_management_system: hashicorp_vault\n";

/// The High finding: a pull request's config sent an environment value as a web identity token
/// to any URL, during `check` too. Now it is a located error, and nothing is sent.
#[cfg(feature = "aws")]
#[test]
fn a_config_cannot_send_credentials_to_an_sts_of_its_choosing() {
    let trap = Listener::trap();
    let config = format!(
        "general_settings:\n  key_management_system: aws_secret_manager\n  key_management_settings:\n    \
         aws_region_name: us-east-1\n    aws_role_name: arn:aws:iam::123456789012:role/x\n    \
         aws_web_identity_token: os.environ/OPENAI_API_KEY\n    aws_sts_endpoint: {}\na: os.environ/A\n",
        trap.url
    );
    let dir = workdir(&[("config.yaml", &config)]);
    for command in ["check", "render"] {
        let run = osenv(dir.path())
            .args([command, "config.yaml", "--deadline", "3"])
            .env("OPENAI_API_KEY", CANARY)
            .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", CANARY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .run();
        run.code(2);
        assert!(
            run.stderr
                .contains("config.yaml:6:29: invalid `aws_web_identity_token`")
                && run.stderr.contains("a credential the config may not choose"),
            "{command}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("config.yaml:7:23: invalid `aws_sts_endpoint`")
                && run.stderr.contains("not AWS's own STS over https"),
            "{command}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains(CANARY), "{}", run.stderr);
    }
    assert!(trap.requests().is_empty(), "{:?}", trap.requests());

    // The operator's opt-in: the same config reaches the endpoint (so the trap would see it).
    let run = osenv(dir.path())
        .args([
            "render",
            "config.yaml",
            "--deadline",
            "3",
            "--attempts",
            "1",
            "--trust-config",
        ])
        .env("OPENAI_API_KEY", CANARY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .run();
    run.code(1);
    assert!(
        trap.requests().iter().any(|r| r.contains("AssumeRoleWithWebIdentity")),
        "{:?}",
        trap.requests()
    );
    assert!(!run.stderr.contains(CANARY), "{}", run.stderr);
    assert!(
        !run.stderr.contains("<Error>"),
        "no response body on stderr: {}",
        run.stderr
    );
}

/// A region becomes a host name; a config cannot make it another host.
#[cfg(feature = "aws")]
#[test]
fn a_config_region_must_be_a_region_name() {
    let dir = workdir(&[(
        "config.yaml",
        "general_settings:\n  key_management_system: aws_secret_manager\n  key_management_settings:\n    \
         aws_region_name: os.environ/OPENAI_API_KEY\na: os.environ/A\n",
    )]);
    let run = osenv(dir.path())
        .args(["check", "config.yaml"])
        .env("OPENAI_API_KEY", &format!("evil.example/{CANARY}"))
        .run();
    run.code(2);
    assert!(
        run.stderr.contains(
            "config.yaml:4:22: invalid `aws_region_name`: `os.environ/OPENAI_API_KEY` is not an AWS region name"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(CANARY));

    // From an env file (or the process), the same: refused where the client is set up, never shown.
    let dir = workdir(&[
        (
            "config.yaml",
            "general_settings:\n  key_management_system: aws_secret_manager\na: os.environ/A\n",
        ),
        (".env", &format!("AWS_REGION=evil.example/{CANARY}\n")),
    ]);
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", ".env"])
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .run();
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("is not a region name like `us-east-1` (value not shown)"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(CANARY) && !run.stderr.contains("evil.example"),
        "{}",
        run.stderr
    );
}

/// An env file from a repository pointed Vault at its own server, which then received the
/// operator's token. Now the address is ignored (with a warning) and the listener gets nothing.
#[cfg(feature = "vault")]
#[test]
fn an_env_file_cannot_choose_where_the_token_goes() {
    let trap = Listener::trap();
    let dir = workdir(&[
        ("config.yaml", &format!("{VAULT}a: os.environ/app/x\n")),
        (".env", &format!("VAULT_ADDR={}\n", trap.url)),
    ]);
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", ".env", "--deadline", "1"])
        .env("VAULT_TOKEN", CANARY)
        // The default address is used instead; nothing listens there in the tests' machine.
        .env("HCP_VAULT_ADDR", "http://127.0.0.1:9")
        .run();
    run.code(1);
    assert!(trap.requests().is_empty(), "{:?}", trap.requests());
    assert!(!run.stderr.contains(CANARY), "{}", run.stderr);

    // No process address at all: the warning names the file and line.
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", ".env", "--deadline", "1"])
        .env("VAULT_TOKEN", CANARY)
        .run();
    run.code(1);
    assert!(
        run.stderr.contains("ignored VAULT_ADDR from .env:1") && run.stderr.contains("--trust-env-files"),
        "{}",
        run.stderr
    );
    assert!(trap.requests().is_empty(), "{:?}", trap.requests());

    // The operator trusts the file: now the token goes there (the trap sees it).
    let run = osenv(dir.path())
        .args([
            "render",
            "config.yaml",
            "--env-file",
            ".env",
            "--deadline",
            "2",
            "--trust-env-files",
        ])
        .env("VAULT_TOKEN", CANARY)
        .run();
    run.code(1);
    assert!(
        trap.requests().iter().any(|r| r.contains(CANARY)),
        "{:?}",
        trap.requests()
    );
}

/// The same for a credential in an env file: not used as osenv's own, but still a value to
/// render when a reference asks for it.
#[cfg(feature = "vault")]
#[test]
fn an_env_file_credential_is_a_value_not_osenvs_credential() {
    let server = Listener::start(|head| {
        let token = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("x-vault-token: ")
                    .or_else(|| l.strip_prefix("X-Vault-Token: "))
            })
            .unwrap_or("none")
            .trim()
            .to_owned();
        response(
            "200 OK",
            "",
            format!("{{\"data\":{{\"data\":{{\"key\":\"{token}\"}}}}}}").as_bytes(),
        )
    });
    let dir = workdir(&[
        ("config.yaml", &format!("{VAULT}a: os.environ/app/x\n")),
        (".env", "VAULT_TOKEN=from-the-file\n"),
    ]);
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", ".env"])
        .env("VAULT_ADDR", &server.url)
        .env("HCP_VAULT_TOKEN", "from-the-process")
        .run();
    run.success();
    assert!(run.stdout.contains("a: from-the-process"), "{}", run.stdout);
    assert!(!server.requests().iter().any(|r| r.contains("from-the-file")));
}

/// A 307 from Vault to another origin is not followed: the token and the AppRole secret id stay
/// with the configured address.
#[cfg(feature = "vault")]
#[test]
fn vault_redirects_to_another_origin_are_not_followed() {
    let elsewhere = Listener::trap();
    let target = elsewhere.url.clone();
    let vault = Listener::start(move |head| {
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
        response("307 Temporary Redirect", &format!("Location: {target}{path}\r\n"), b"")
    });
    let dir = workdir(&[("config.yaml", &format!("{VAULT}a: os.environ/app/x\n"))]);
    for auth in [
        vec![("HCP_VAULT_TOKEN", CANARY)],
        vec![
            ("HCP_VAULT_APPROLE_ROLE_ID", "role"),
            ("HCP_VAULT_APPROLE_SECRET_ID", CANARY),
        ],
    ] {
        let mut run = osenv(dir.path())
            .args(["render", "config.yaml"])
            .env("HCP_VAULT_ADDR", &vault.url);
        for (k, v) in &auth {
            run = run.env(k, v);
        }
        let run = run.run();
        run.code(1);
        assert!(run.stderr.contains("a redirect to another address"), "{}", run.stderr);
        assert!(!run.stderr.contains(CANARY), "{}", run.stderr);
    }
    assert!(elsewhere.requests().is_empty(), "{:?}", elsewhere.requests());
    assert!(!vault.requests().is_empty());
}

/// A body larger than `--max-response-size` is refused, declared or streamed; a gzip body is
/// not decompressed (it would otherwise render `v`).
#[cfg(feature = "vault")]
#[test]
fn vault_responses_are_capped_and_never_decompressed() {
    let json = br#"{"data":{"data":{"key":"v"}}}"#;
    let gzip = gzip_stored(json);
    let big = vec![b' '; 5 << 20];
    let server = Listener::start(move |head| {
        if head.contains("/big") {
            response("200 OK", "Content-Type: application/json\r\n", &big)
        } else if head.contains("/chunked") {
            // No length declared: the body streams past the cap.
            let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
            for _ in 0..(6 << 4) {
                out.extend_from_slice(format!("{:x}\r\n", 64 << 10).as_bytes());
                out.extend(std::iter::repeat_n(b' ', 64 << 10));
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            out
        } else if head.contains("/gzip") {
            response(
                "200 OK",
                "Content-Type: application/json\r\nContent-Encoding: gzip\r\n",
                &gzip,
            )
        } else {
            response("200 OK", "Content-Type: application/json\r\n", json)
        }
    });
    let dir = workdir(&[
        ("plain.yaml", &format!("{VAULT}a: os.environ/app/plain\n")),
        ("big.yaml", &format!("{VAULT}a: os.environ/app/big\n")),
        ("chunked.yaml", &format!("{VAULT}a: os.environ/app/chunked\n")),
        ("gzip.yaml", &format!("{VAULT}a: os.environ/app/gzip\n")),
    ]);
    let run = |config: &str| {
        osenv(dir.path())
            .args(["render", config])
            .env("HCP_VAULT_ADDR", &server.url)
            .env("HCP_VAULT_TOKEN", "t")
            .run()
    };
    let plain = run("plain.yaml");
    plain.success();
    assert!(plain.stdout.contains("a: v"), "the server works: {}", plain.stdout);
    for config in ["big.yaml", "chunked.yaml"] {
        let out = run(config);
        out.code(1);
        assert!(out.stderr.contains("larger than 4 MiB"), "{config}: {}", out.stderr);
    }
    let gz = run("gzip.yaml");
    gz.code(1);
    assert!(!gz.stdout.contains("a: v"), "{}", gz.stdout);
    // A larger cap lets the big one through to the next check (it is not JSON).
    let raised = osenv(dir.path())
        .args(["render", "big.yaml", "--max-response-size", "8"])
        .env("HCP_VAULT_ADDR", &server.url)
        .env("HCP_VAULT_TOKEN", "t")
        .run();
    assert!(!raised.stderr.contains("larger than"), "{}", raised.stderr);
}

/// A gzip member holding `data` in one stored (uncompressed) deflate block.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let len = u16::try_from(data.len()).unwrap();
    out.push(1); // BFINAL, stored
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `exec` does not hand the proxy the credentials osenv used, unless a reference asks for one
/// or the operator says so.
#[cfg(all(unix, feature = "vault"))]
#[test]
fn exec_removes_the_managers_credentials_from_the_command() {
    // `hosted_keys: []`: nothing is read from Vault, so no server is needed.
    let config = format!("{VAULT}  key_management_settings:\n    hosted_keys: []\na: os.environ/A\n");
    let asks = format!("{config}t: os.environ/VAULT_TOKEN\n");
    let dir = workdir(&[("config.yaml", &config), ("asks.yaml", &asks)]);
    let show = "echo A=${A-unset} VAULT_TOKEN=${VAULT_TOKEN-unset} SECRET_ID=${HCP_VAULT_APPROLE_SECRET_ID-unset} OTHER=${OTHER-unset}";
    let exec = |config: &str, extra: &[&str]| {
        let mut args = vec!["exec", config];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "sh", "-c", show]);
        osenv(dir.path())
            .args(&args)
            .env("A", "a")
            .env("VAULT_TOKEN", CANARY)
            .env("HCP_VAULT_APPROLE_SECRET_ID", CANARY)
            .env("OTHER", "kept")
            .run()
    };
    let run = exec("config.yaml", &[]);
    run.success();
    assert_eq!(run.stdout, "A=a VAULT_TOKEN=unset SECRET_ID=unset OTHER=kept\n");
    let run = exec("asks.yaml", &[]);
    run.success();
    assert_eq!(
        run.stdout,
        format!("A=a VAULT_TOKEN={CANARY} SECRET_ID=unset OTHER=kept\n")
    );
    let run = exec("config.yaml", &["--keep-credentials"]);
    run.success();
    assert_eq!(
        run.stdout,
        format!("A=a VAULT_TOKEN={CANARY} SECRET_ID={CANARY} OTHER=kept\n")
    );
}
