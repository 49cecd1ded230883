//! The real LiteLLM proxy (1.110.2, from the pinned venv of `scripts/litellm-venv`) started
//! through `osenv exec --watch` against moto, in front of a fake provider on loopback that
//! records the `Authorization` header of each chat completion: a request through the proxy
//! reaches the provider with the key osenv resolved, a rotation reaches it with the new key,
//! and SIGTERM leaves no process and no file behind.

use crate::servers::{Moto, moto, runtime, server_url};
use crate::watch::{exit_code, log, signal, start, wait_for};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An OpenAI-compatible `POST /v1/chat/completions` on 127.0.0.1 that answers "ok" and records
/// the `Authorization` header of every request; it stops when dropped.
struct Provider {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Provider {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let seen = seen2.clone();
                        std::thread::spawn(move || serve(stream, &seen));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self { port, seen, stop }
    }

    fn authorizations(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One HTTP/1.1 exchange per request on a connection, as many as the client sends.
fn serve(stream: TcpStream, seen: &Mutex<Vec<String>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        let mut authorization = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "authorization" => value.trim().clone_into(&mut authorization),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length.min(1 << 20)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if request_line.contains("/chat/completions") {
            seen.lock().unwrap().push(authorization);
        }
        let answer = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"fake","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// A chat completion through the proxy at `port`; its HTTP status (0: no answer).
fn chat(port: u16, master_key: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let body = r#"{"model":"fake","messages":[{"role":"user","content":"hi"}]}"#;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {master_key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn alive(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.write_all(b"GET /health/liveliness HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

/// The processes whose environment holds `marker` (everything osenv started carries it).
fn marked(marker: &str) -> Vec<u32> {
    let needle = format!("OSENV_TEST_RUN={marker}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
        })
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn the_real_proxy_gets_resolved_keys_and_rotations_through_exec_watch() {
    let Some(litellm) = server_url("OSENV_TEST_LITELLM", "the LiteLLM proxy (scripts/litellm-venv)") else {
        return;
    };
    let Some(moto) = moto() else { return };
    let client = moto.secrets();
    let master_key = "sk-master-7f3c9e2a51";
    runtime().block_on(async {
        for (name, value) in [("PROVIDER_KEY", "sk-provider-one"), ("LITELLM_MASTER_KEY", master_key)] {
            client
                .create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .unwrap();
        }
    });
    let provider = Provider::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, provider.port);
    let port = free_port();
    let port_text = port.to_string();
    let marker = format!("{}-{port}", std::process::id());
    let home = d.join("home");
    std::fs::create_dir(&home).unwrap();
    let mut env: Vec<(&str, String)> = Moto::env(&moto.url);
    env.extend([
        ("OSENV_KEY_MANAGEMENT_SYSTEM", "aws_secret_manager".to_owned()),
        ("LITELLM_LOCAL_MODEL_COST_MAP", "True".to_owned()),
        ("HOME", home.display().to_string()),
        ("OSENV_TEST_RUN", marker.clone()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let osenv = start(
        d,
        &[
            "-v",
            "exec",
            "--watch",
            "--watch-interval",
            "2s",
            "--grace",
            "20s",
            "config.yaml",
            "--",
            &litellm,
            "--config",
            "config.yaml",
            "--host",
            "127.0.0.1",
            "--port",
            &port_text,
        ],
        &env,
    );
    let up = |limit| wait_for(limit, || alive(port));
    assert!(up(Duration::from_mins(3)), "the proxy did not start: {}", tail(d));
    assert_eq!(chat(port, master_key), 200, "{}", tail(d));
    assert_eq!(provider.authorizations(), ["Bearer sk-provider-one"]);

    // Rotated in the secret manager: the proxy is restarted with the new key.
    runtime().block_on(async {
        client
            .put_secret_value()
            .secret_id("PROVIDER_KEY")
            .secret_string("sk-provider-two")
            .send()
            .await
            .unwrap();
    });
    assert!(
        wait_for(Duration::from_mins(4), || {
            chat(port, master_key);
            provider.authorizations().last().map(String::as_str) == Some("Bearer sk-provider-two")
        }),
        "{:?} {}",
        provider.authorizations(),
        tail(d)
    );
    assert!(log(d).contains("restarting the command"), "{}", tail(d));

    signal(&osenv, "TERM");
    let code = exit_code(osenv, Duration::from_mins(1));
    // uvicorn shuts down gracefully on SIGTERM, then raises it again to end with it: 128 + 15,
    // within the grace period (not SIGKILL's 137).
    assert_eq!(code, 143, "{}", tail(d));
    assert!(!log(d).contains("killing it"), "{}", tail(d));
    assert!(
        wait_for(Duration::from_secs(5), || marked(&marker).is_empty()),
        "left running: {:?}",
        marked(&marker)
    );
    let log = log(d);
    for value in ["sk-provider-one", "sk-provider-two", master_key] {
        assert!(!log.contains(value), "a value in osenv's log");
    }
    let left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !["config.yaml", "home", "osenv.log"].contains(&n.as_str()))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A config with one model at the fake provider, its key and the master key references.
fn write_config(dir: &Path, provider: u16) {
    std::fs::write(
        dir.join("config.yaml"),
        format!(
            "model_list:\n  - model_name: fake\n    litellm_params:\n      model: openai/fake\n      api_base: http://127.0.0.1:{provider}/v1\n      api_key: os.environ/PROVIDER_KEY\ngeneral_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n",
        ),
    )
    .unwrap();
}

/// The last lines of osenv's log (with the proxy's, which shares its stderr).
fn tail(dir: &Path) -> String {
    let log = log(dir);
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
