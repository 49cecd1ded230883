//! The trust model (SECURITY.md): a config or env file names which secrets to read, never where
//! credentials go; `exec` does not hand the command osenv's own credentials; the HTTP clients
//! follow no redirect off the configured origin, never decompress, and cap what they read.
//! Each test has a local listener that must receive nothing it should not, and a positive
//! control (the operator's opt-in) showing the listener would have seen it.

// With only one of the backends built, the other's helpers go unused.
#![cfg_attr(not(all(feature = "aws", feature = "vault")), allow(dead_code))]

use crate::support::{assert_message, osenv, workdir};
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
        assert_message!(format!("sts_and_token_{command}"), run.stderr);
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
    assert_message!("region_from_the_config", run.stderr);
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
    assert_message!("region_from_an_env_file", run.stderr);
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
    // Not a snapshot: how many attempts fit in the 1 s deadline varies.
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
    let server = echo_token_vault();
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
    for (login, auth) in [
        ("token", vec![("HCP_VAULT_TOKEN", CANARY)]),
        (
            "approle",
            vec![
                ("HCP_VAULT_APPROLE_ROLE_ID", "role"),
                ("HCP_VAULT_APPROLE_SECRET_ID", CANARY),
            ],
        ),
    ] {
        let mut run = osenv(dir.path())
            .args(["render", "config.yaml"])
            .env("HCP_VAULT_ADDR", &vault.url);
        for (k, v) in &auth {
            run = run.env(k, v);
        }
        let run = run.run();
        run.code(1);
        assert_message!(format!("a_redirect_is_not_followed_{login}"), run.stderr);
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
        assert_message!(format!("capped_{config}"), out.stderr);
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

fn mkfifo(path: &std::path::Path) {
    assert!(
        std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap()
            .success()
    );
}

/// The token a request to a fake Vault carried (`X-Vault-Token`), or `none`.
fn vault_token(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            l.strip_prefix("x-vault-token: ")
                .or_else(|| l.strip_prefix("X-Vault-Token: "))
        })
        .unwrap_or("none")
        .trim()
        .to_owned()
}

/// A Vault that answers every read with the token it was sent (`X-Vault-Token`) as the value.
fn echo_token_vault() -> Listener {
    Listener::start(|head| {
        let token = vault_token(head);
        response(
            "200 OK",
            "",
            format!("{{\"data\":{{\"data\":{{\"key\":\"{token}\"}}}}}}").as_bytes(),
        )
    })
}

/// The High finding of issue 30: a pull request committed `kube.yaml -> ~/.kube/config` and
/// `include: [kube.yaml]`, and `render` printed the kubeconfig's token. Every include is now
/// opened beneath the config's directory: a link out, `..` and an absolute path are located
/// errors that show nothing of the file; a link that stays inside is read; a FIFO is refused at
/// once instead of blocking the run.
#[cfg(unix)]
#[test]
fn an_include_cannot_leave_the_configs_directory() {
    let outside = tempfile::tempdir().unwrap();
    let kubeconfig = outside.path().join("kubeconfig");
    std::fs::write(&kubeconfig, format!("users:\n- token: {CANARY}\n")).unwrap();
    let dotdot = format!(
        "../{}/kubeconfig",
        outside.path().file_name().unwrap().to_str().unwrap()
    );
    let dir = workdir(&[
        ("link.yaml", "include: [kube.yaml]\na: 1\n"),
        ("dotdot.yaml", &format!("include: [{dotdot}]\na: 1\n")),
        ("absolute.yaml", &format!("include: [{}]\na: 1\n", kubeconfig.display())),
        ("sub/inner.yaml", "b: 2\n"),
        ("inside.yaml", "include: [inner.yaml]\na: 1\n"),
        ("fifo.yaml", "include: [pipe.yaml]\na: 1\n"),
    ]);
    std::os::unix::fs::symlink(&kubeconfig, dir.path().join("kube.yaml")).unwrap();
    std::os::unix::fs::symlink("sub/inner.yaml", dir.path().join("inner.yaml")).unwrap();
    mkfifo(&dir.path().join("pipe.yaml"));
    let mut refusals = String::new();
    for config in ["link.yaml", "dotdot.yaml", "absolute.yaml", "fifo.yaml"] {
        for command in [
            &["render", config][..],
            &["check", config, "--offline"],
            &["env", config],
        ] {
            let started = std::time::Instant::now();
            let run = osenv(dir.path()).args(command).run();
            run.code(2);
            refusals.extend(["$ osenv ", &command.join(" "), "\n", &run.stderr]);
            assert!(!run.stdout.contains(CANARY) && !run.stderr.contains(CANARY));
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "{command:?}");
        }
    }
    assert_message!("includes_outside", refusals.replace(&dotdot, "../[OUTSIDE]/kubeconfig"));
    let run = osenv(dir.path()).args(["render", "inside.yaml"]).run();
    run.success();
    assert_eq!(run.stdout, "a: 1\nb: 2\n");
}

/// A secrets directory is read beneath itself too: a FIFO is refused at once, a link out is
/// refused, a Kubernetes-style link inside is read.
#[cfg(unix)]
#[test]
fn a_secrets_directory_is_read_beneath_itself() {
    let dir = workdir(&[
        ("config.yaml", "a: os.environ/A\nb: os.environ/B\n"),
        ("s/..v1/B", "b-value\n"),
    ]);
    let secrets = dir.path().join("s");
    mkfifo(&secrets.join("A"));
    std::os::unix::fs::symlink("..v1/B", secrets.join("B")).unwrap();
    let started = std::time::Instant::now();
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--secrets-dir", "s"])
        .run();
    run.code(1);
    assert_message!("secrets_dir_fifo", run.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--secrets-dir", "s", "--allow-missing"])
        .run();
    run.code(1);
    std::fs::remove_file(secrets.join("A")).unwrap();
    std::os::unix::fs::symlink("../config.yaml", secrets.join("A")).unwrap();
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--secrets-dir", "s"])
        .run();
    run.code(1);
    assert_message!("secrets_dir_link_out", run.stderr);
    std::fs::remove_file(secrets.join("A")).unwrap();
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--secrets-dir", "s"])
        .env("A", "a-value")
        .run();
    run.success();
    assert_eq!(run.stdout, "a: a-value\nb: b-value\n");
}

/// The Medium finding: with the operator's `VAULT_TOKEN`, a repository's `.env` switched the
/// login to Kubernetes with its own role and a mount of `../../sys/evil`, and osenv sent the
/// pod's service-account token there. A login choice is now the operator's: the env file's
/// method, roles, mounts and namespace are ignored (warnings name each line), the operator's
/// token is used, and no login request is made.
#[cfg(feature = "vault")]
#[test]
fn an_env_file_cannot_choose_the_vault_login() {
    let vault = echo_token_vault();
    let sa_token = "sa-jwt-canary-77aa";
    let dir = workdir(&[
        ("config.yaml", &format!("{VAULT}a: os.environ/app/x\n")),
        (
            ".env",
            "HCP_VAULT_AUTH_METHOD=kubernetes\nHCP_VAULT_K8S_ROLE=admin-role\nHCP_VAULT_K8S_MOUNT_PATH=../../sys/evil\n\
             HCP_VAULT_JWT_ROLE=admin\nHCP_VAULT_JWT_AUDIENCE=evil\nHCP_VAULT_CERT_ROLE=admin\nHCP_VAULT_NAMESPACE=other-team\n",
        ),
        ("sa-token", sa_token),
    ]);
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", ".env"])
        .env("VAULT_ADDR", &vault.url)
        .env("VAULT_TOKEN", CANARY)
        .env(
            "HCP_VAULT_K8S_TOKEN_PATH",
            dir.path().join("sa-token").to_str().unwrap(),
        )
        .run();
    run.success();
    assert_eq!(run.stdout, format!("general_settings: {{}}\na: {CANARY}\n"));
    let ignored = |stderr: &str, line: usize, name: &str| {
        assert!(
            stderr.contains(&format!(
                "ignored {name} from .env:{line}: a login choice comes only from the process environment"
            )),
            "{name}: {stderr}"
        );
    };
    ignored(&run.stderr, 1, "HCP_VAULT_AUTH_METHOD");
    ignored(&run.stderr, 7, "HCP_VAULT_NAMESPACE");
    // Without the operator's token, the env file's Kubernetes or JWT role alone does not log in.
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", ".env"])
        .env("VAULT_ADDR", &vault.url)
        .env(
            "HCP_VAULT_K8S_TOKEN_PATH",
            dir.path().join("sa-token").to_str().unwrap(),
        )
        .run();
    run.code(1);
    ignored(&run.stderr, 2, "HCP_VAULT_K8S_ROLE");
    ignored(&run.stderr, 4, "HCP_VAULT_JWT_ROLE");
    assert_message!("no_vault_credentials_from_an_env_file", run.stderr);
    let requests = vault.requests();
    assert!(
        requests
            .iter()
            .all(|r| !r.contains("login") && !r.contains("sys/") && !r.contains(sa_token) && !r.contains("other-team")),
        "{requests:?}"
    );

    // The operator's own mount with `..` is refused before any request.
    let before = vault.requests().len();
    let run = osenv(dir.path())
        .args(["render", "config.yaml"])
        .env("VAULT_ADDR", &vault.url)
        .env("HCP_VAULT_AUTH_METHOD", "kubernetes")
        .env("HCP_VAULT_K8S_ROLE", "litellm")
        .env("HCP_VAULT_K8S_MOUNT_PATH", "../../sys/evil")
        .env(
            "HCP_VAULT_K8S_TOKEN_PATH",
            dir.path().join("sa-token").to_str().unwrap(),
        )
        .run();
    run.code(1);
    assert_message!("mount_path_with_dotdot", run.stderr);
    assert_eq!(vault.requests().len(), before, "no request was made");
}

/// The Medium finding: a config key or an include entry with a newline made osenv print a line
/// that GitHub Actions reads as a workflow command (`::stop-commands::…` hides osenv's own
/// annotations). Every message goes through one escaper now: in no command and no format does a
/// line start with `::` but osenv's own annotations.
#[test]
fn no_config_makes_osenv_print_a_workflow_command() {
    let dir = workdir(&[
        (
            "key.yaml",
            "model_list:\n  - \"b\\n::stop-commands::tok\": os.environ/OSENV_TEST_MISSING_9F\n    \"\\r##[error]x\": os.environ/OSENV_TEST_MISSING_9F\n    \"k##[error]forged\": \"os.environ/X##[stop-commands]p\"\n    v: \"os.environ/Y##vso[task.prependpath]/tmp\"\n    \"api_key\\n  key.yaml:9:9  os.environ/FAKE  ok (process environment)\": os.environ/OSENV_TEST_MISSING_9F\n",
        ),
        (
            "include.yaml",
            "include: [\"x\\n::error::forged\\u0085::error::forged\"]\n",
        ),
        (
            "warn.yaml",
            "general_settings:\n  key_management_settings:\n    \"\\n::warning::forged\": 1\n",
        ),
    ]);
    let own = |line: &str| {
        [
            "::error file=",
            "::error title=",
            "::warning file=",
            "::warning title=",
            "::notice file=",
            "::notice title=",
        ]
        .iter()
        .any(|p| line.starts_with(p))
            && !line.contains('\r')
    };
    for config in ["key.yaml", "include.yaml", "warn.yaml"] {
        for args in [
            vec!["check", config, "--offline"],
            vec!["check", config, "--offline", "--format", "github"],
            vec!["check", config, "--offline", "--format", "json"],
            vec!["check", config, "--offline", "--format", "sarif"],
            vec!["render", config],
            vec!["env", config],
        ] {
            let github = args.contains(&"github");
            let run = osenv(dir.path()).args(&args).run();
            for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
                for line in text.split(['\n', '\r']) {
                    let line = line.trim_start();
                    // The runner's rules: `::` at the start, `##[` anywhere (and Azure's `##vso[`).
                    let command = line.starts_with("::") || line.contains("##[") || line.contains("##vso[");
                    assert!(
                        !command || (github && stream == "stdout" && own(line) && !line.contains("##")),
                        "{args:?} {stream} printed a workflow command: {line:?}\n{text}"
                    );
                }
                // A newline in a key cannot forge a row of the report.
                assert!(!text.contains("\n  key.yaml:9:9"), "{args:?} {stream}: {text}");
            }
        }
    }
}

/// The Medium finding: `os.environ/AWS_WEB_IDENTITY_TOKEN` with the pod's
/// `AWS_WEB_IDENTITY_TOKEN_FILE` rendered the pod's token. A file variable of the provenance
/// table is never a `NAME_FILE`; an application's own `NAME_FILE` still is.
#[test]
fn a_config_cannot_read_login_material_through_name_file() {
    let dir = workdir(&[
        (
            "config.yaml",
            "a: os.environ/AWS_WEB_IDENTITY_TOKEN\nb: os.environ/AZURE_FEDERATED_TOKEN\nc: os.environ/HCP_VAULT_JWT_TOKEN\n\
             d: os.environ/CONJUR_AUTHN_TOKEN\n",
        ),
        ("ok.yaml", "e: os.environ/OPENAI_API_KEY\n"),
        ("token", CANARY),
        ("openai", "sk-from-file\n"),
    ]);
    let token = dir.path().join("token");
    let token = token.to_str().unwrap();
    let files = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token),
        ("AZURE_FEDERATED_TOKEN_FILE", token),
        ("HCP_VAULT_JWT_TOKEN_FILE", token),
        ("CONJUR_AUTHN_TOKEN_FILE", token),
    ];
    let run = osenv(dir.path()).args(["render", "config.yaml"]).envs(files).run();
    run.code(1);
    assert!(!run.stdout.contains(CANARY) && !run.stderr.contains(CANARY));
    assert_message!("token_files_are_not_references", run.stderr);
    let openai = dir.path().join("openai");
    let run = osenv(dir.path())
        .args(["render", "ok.yaml"])
        .env("OPENAI_API_KEY_FILE", openai.to_str().unwrap())
        .run();
    run.success();
    assert_eq!(run.stdout, "e: sk-from-file\n");
}

/// The Low findings: `exec` passed GitHub's OIDC request variables (any audience's token) and
/// the Vault client key on to the command. Now the provenance table withholds them.
#[cfg(all(unix, feature = "vault"))]
#[test]
fn exec_withholds_login_material_by_the_table() {
    let config = format!("{VAULT}  key_management_settings:\n    hosted_keys: []\na: os.environ/A\n");
    let dir = workdir(&[("config.yaml", &config), ("local.yaml", "a: os.environ/A\n")]);
    let show = "echo ${ACTIONS_ID_TOKEN_REQUEST_TOKEN-unset} ${ACTIONS_ID_TOKEN_REQUEST_URL-unset} ${HCP_VAULT_CLIENT_KEY-unset} ${HCP_VAULT_CLIENT_CERT-unset} ${AWS_ACCESS_KEY_ID-unset}";
    let exec = |config: &str| {
        osenv(dir.path())
            .args(["exec", config, "--", "sh", "-c", show])
            .env("A", "a")
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", CANARY)
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", "https://token.example")
            .env("HCP_VAULT_CLIENT_KEY", "/k.pem")
            .env("HCP_VAULT_CLIENT_CERT", "/c.pem")
            .env("AWS_ACCESS_KEY_ID", "AKIA-for-bedrock")
            .run()
    };
    let run = exec("config.yaml");
    run.success();
    assert_eq!(run.stdout, "unset unset unset unset AKIA-for-bedrock\n");
    // No manager: only what only osenv ever needs is withheld.
    let run = exec("local.yaml");
    run.success();
    assert_eq!(run.stdout, "unset unset /k.pem /c.pem AKIA-for-bedrock\n");
}

/// The Low finding: any `https://*.amazonaws.com` host was taken from an env file (API Gateway
/// and S3 hosts are anyone's). Only the services' own endpoints are now.
#[cfg(feature = "aws")]
#[test]
fn an_env_file_aws_endpoint_must_be_the_services_own() {
    let dir = workdir(&[
        (
            "config.yaml",
            "general_settings:\n  key_management_system: aws_secret_manager\n  key_management_settings:\n    hosted_keys: []\n",
        ),
        (
            "gateway.env",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER=https://abc123.execute-api.us-east-1.amazonaws.com\n",
        ),
        (
            "official.env",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER=https://secretsmanager-fips.us-east-1.amazonaws.com\n",
        ),
    ]);
    let check = |env: &str| {
        osenv(dir.path())
            .args(["check", "config.yaml", "--offline", "--env-file", env])
            .env("AWS_REGION", "us-east-1")
            .run()
    };
    let run = check("gateway.env");
    assert_message!("aws_endpoint_from_an_env_file", run.stderr);
    let run = check("official.env");
    assert!(!run.stderr.contains("ignored"), "{}", run.stderr);
}

/// The config's guarded keys are held to the same rule when an include sets `general_settings`.
#[cfg(feature = "aws")]
#[test]
fn an_include_cannot_choose_where_credentials_go_either() {
    let dir = workdir(&[
        ("config.yaml", "include: [settings.yaml]\na: 1\n"),
        (
            "settings.yaml",
            "general_settings:\n  key_management_system: aws_secret_manager\n  key_management_settings:\n    aws_sts_endpoint: https://127.0.0.1:1\n",
        ),
    ]);
    let run = osenv(dir.path()).args(["check", "config.yaml", "--offline"]).run();
    run.code(2);
    assert_message!("sts_from_an_include", run.stderr);
}

/// The adversary review's finding: the paths the operator names (config, env file, template,
/// a relative secrets directory) followed links a pull request commits (`.env ->
/// ~/.aws/credentials`, `config.yaml -> ~/.kube/config`). They are read through the one
/// opener too: beneath the working directory when relative, beneath their own directory when
/// absolute; the operator's pipes (`/dev/stdin`) still work.
#[cfg(unix)]
#[test]
fn named_inputs_do_not_follow_committed_links_out() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("credentials"), format!("[default]\nkey={CANARY}\n")).unwrap();
    std::fs::write(outside.path().join("kubeconfig"), format!("token: {CANARY}\n")).unwrap();
    std::fs::write(outside.path().join("KEY"), CANARY).unwrap();
    let dir = workdir(&[("ok.yaml", "k: os.environ/KEY\n"), ("t.j2", "x")]);
    let link =
        |target: &std::path::Path, name: &str| std::os::unix::fs::symlink(target, dir.path().join(name)).unwrap();
    link(&outside.path().join("kubeconfig"), "config.yaml");
    link(&outside.path().join("credentials"), ".env");
    link(outside.path(), "secrets");
    link(&outside.path().join("kubeconfig"), "tpl.j2");
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    for args in [
        &["render", "config.yaml"][..],
        &["check", "config.yaml", "--offline"],
        &["render", "ok.yaml", "--env-file", ".env"],
        &["render", "ok.yaml", "--secrets-dir", "secrets"],
        &["template", "tpl.j2"],
    ] {
        let run = osenv(dir.path()).args(args).run();
        assert_ne!(run.code, 0, "{args:?}: {}", run.stdout);
        assert!(!run.stdout.contains(CANARY) && !run.stderr.contains(CANARY), "{args:?}");
        assert_message!(
            format!("operator_path_{}", args[1..].join("_").replace(['.', '-', '/'], "")),
            run.stderr
        );
    }
    // The operator's own pipe and absolute paths still work; a config on /dev/stdin includes
    // relative to the working directory; a secrets directory that is not there is skipped.
    std::fs::write(dir.path().join("inc.yaml"), "b: 2\n").unwrap();
    let run = osenv(dir.path())
        .args(["render", "/dev/stdin"])
        .stdin("include: [inc.yaml]\na: 1\n")
        .run();
    run.success();
    assert_eq!(run.stdout, "a: 1\nb: 2\n");
    std::fs::write(dir.path().join("k.env"), "KEY=from-env-file\n").unwrap();
    let run = osenv(dir.path())
        .args([
            "render",
            "ok.yaml",
            "--secrets-dir",
            "/nonexistent/secrets",
            "--env-file",
            "k.env",
        ])
        .run();
    run.success();
    assert_eq!(run.stdout, "k: from-env-file\n");
    let absolute_link = dir.path().join("abs.env");
    std::os::unix::fs::symlink(dir.path().join("k.env"), &absolute_link).unwrap();
    let run = osenv(dir.path())
        .args(["render", "ok.yaml", "--env-file", absolute_link.to_str().unwrap()])
        .run();
    run.success();
    let run = osenv(dir.path())
        .args(["render", "ok.yaml", "--env-file", "/dev/stdin"])
        .stdin("KEY=from-stdin\n")
        .run();
    run.success();
    assert_eq!(run.stdout, "k: from-stdin\n");
    let run = osenv(dir.path())
        .args([
            "render",
            dir.path().join("ok.yaml").to_str().unwrap(),
            "--secrets-dir",
            outside.path().to_str().unwrap(),
        ])
        .run();
    run.success();
}

/// The adversary review's finding: `HCP_VAULT_MOUNT_NAME=auth/token` from an env file with
/// `vault_kv_version: 1` made a "secret" of `auth/token/lookup-self`, whose `id` is the token.
#[cfg(feature = "vault")]
#[test]
fn a_vault_mount_cannot_be_vaults_own_api() {
    let vault = echo_token_vault();
    let dir = workdir(&[
        (
            "config.yaml",
            "general_settings:\n  key_management_system: hashicorp_vault\n  key_management_settings: {vault_kv_version: 1}\na: os.environ/lookup-self#id\n",
        ),
        (".env", "HCP_VAULT_MOUNT_NAME=auth/token\n"),
    ]);
    let run = osenv(dir.path())
        .args(["render", "config.yaml", "--env-file", ".env"])
        .env("VAULT_ADDR", &vault.url)
        .env("VAULT_TOKEN", CANARY)
        .run();
    run.code(1);
    assert_message!("mount_is_vaults_auth_api", run.stderr);
    assert!(!run.stdout.contains(CANARY));
    assert!(vault.requests().is_empty(), "{:?}", vault.requests());

    // The second review: a "mount" that is a namespace (OpenBao and Vault Enterprise read
    // namespaces from the path), then Vault's API in the name or the prefix.
    for (env, reference) in [
        ("HCP_VAULT_MOUNT_NAME=team1\n", "auth/token/lookup-self#id"),
        (
            "HCP_VAULT_MOUNT_NAME=team1\nHCP_VAULT_PATH_PREFIX=auth/token\n",
            "lookup-self#id",
        ),
        ("HCP_VAULT_MOUNT_NAME=team1\n", "Identity/oidc/token/x"),
    ] {
        std::fs::write(dir.path().join(".env"), env).unwrap();
        std::fs::write(
            dir.path().join("config.yaml"),
            format!("general_settings:\n  key_management_system: hashicorp_vault\n  key_management_settings: {{vault_kv_version: 1}}\na: os.environ/{reference}\n"),
        )
        .unwrap();
        let run = osenv(dir.path())
            .args(["render", "config.yaml", "--env-file", ".env"])
            .env("VAULT_ADDR", &vault.url)
            .env("VAULT_TOKEN", CANARY)
            .run();
        run.code(1);
        assert_message!(
            format!("vault_api_{}", reference.replace(['/', '#'], "_").to_lowercase()),
            run.stderr
        );
        assert!(vault.requests().is_empty(), "{:?}", vault.requests());
    }
}

/// The adversary review's findings: one file reached through many links inside the directory
/// was read once per link (a 15 MiB file, 256 links); and a config whose directory is `/`
/// confined nothing. One size cap holds for the config and its includes together, and a config
/// at `/` cannot include.
#[test]
fn includes_share_one_size_cap_and_need_a_directory() {
    let big = format!("big: \"{}\"\n", "x".repeat(9 << 20));
    let dir = workdir(&[("big.yaml", &big), ("config.yaml", "include: [big.yaml, again.yaml]\n")]);
    std::os::unix::fs::symlink("big.yaml", dir.path().join("again.yaml")).unwrap();
    let run = osenv(dir.path()).args(["check", "config.yaml", "--offline"]).run();
    run.code(2);
    assert_message!("includes_share_one_cap", run.stderr);
    let run = osenv(std::path::Path::new("/"))
        .args(["render", "-"])
        .stdin("include: [etc/hostname]\n")
        .run();
    run.code(2);
    assert_message!("a_config_at_the_root_cannot_include", run.stderr);
}

/// The adversary review's finding: a server's error answer that echoed the token it was sent
/// (or a value it returned for another key) was printed as it came. What a server wrote is now
/// shown with every secret withheld (`RequestFailure`'s `Display`), and a huge line is cut.
#[cfg(feature = "vault")]
#[test]
fn a_server_cannot_echo_a_secret_into_a_message() {
    let vault = Listener::start(|head| {
        let token = vault_token(head);
        if head.contains("/app/a ") {
            return response("200 OK", "", br#"{"data":{"data":{"key":"sk-value-canary-9e2b"}}}"#);
        }
        let body = format!(
            "{{\"errors\":[\"permission denied for token {token}; the value was sk-value-canary-9e2b; {}\"]}}",
            "x".repeat(30_000)
        );
        response("400 Bad Request", "", body.as_bytes())
    });
    let dir = workdir(&[(
        "config.yaml",
        &format!("{VAULT}a: os.environ/app/a\nb: os.environ/app/b\n"),
    )]);
    for format in ["text", "json"] {
        let run = osenv(dir.path())
            .args(["check", "config.yaml", "--format", format])
            .env("VAULT_ADDR", &vault.url)
            .env("VAULT_TOKEN", CANARY)
            .run();
        run.code(1);
        // `check` reads no value, so only the token is osenv's to withhold here.
        let out = format!("{}{}", run.stdout, run.stderr);
        assert!(!out.contains(CANARY), "{out}");
        assert!(out.contains("permission denied for token [redacted]"), "{out}");
        if format == "text" {
            assert!(out.len() < 20_000, "the answer is cut: {} bytes", out.len());
        }
    }
    let run = osenv(dir.path())
        .args(["render", "config.yaml"])
        .env("VAULT_ADDR", &vault.url)
        .env("VAULT_TOKEN", CANARY)
        .run();
    run.code(1);
    assert!(!run.stderr.contains(CANARY) && !run.stderr.contains("sk-value-canary"));
    assert_message!("an_echoed_secret_is_withheld", run.stderr);
}
