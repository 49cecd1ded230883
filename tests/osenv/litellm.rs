//! The real LiteLLM proxy (1.110.2, from the pinned venv of `scripts/litellm-venv`) started
//! through `osenv exec --watch` against moto, in front of a fake provider on loopback that
//! records the `Authorization` header of each chat completion: a request through the proxy
//! reaches the provider with the key osenv resolved, a rotation reaches it with the new key,
//! and SIGTERM leaves no process and no file behind.

use crate::servers::{Moto, moto, runtime, server_url};
use crate::watch::{exit_code, log, signal, start, start_through, wait_for};
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
    stream: Arc<Stream>,
}

/// A streamed answer (`"stream": true`): a chunk every 200 ms until released, then the last.
#[derive(Default)]
struct Stream {
    started: AtomicBool,
    released: AtomicBool,
    /// The content of every chunk sent.
    sent: Mutex<Vec<String>>,
}

impl Provider {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let stream = Arc::new(Stream::default());
        let (seen2, stop2, stream2) = (seen.clone(), stop.clone(), stream.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((connection, _)) => {
                        let (seen, stream) = (seen2.clone(), stream2.clone());
                        std::thread::spawn(move || serve(connection, &seen, &stream));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self {
            port,
            seen,
            stop,
            stream,
        }
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
fn serve(stream: TcpStream, seen: &Mutex<Vec<String>>, streamed: &Stream) {
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
            seen.lock().unwrap().push(authorization.clone());
        }
        if body.windows(b"\"stream\":true".len()).any(|w| w == b"\"stream\":true")
            || body
                .windows(b"\"stream\": true".len())
                .any(|w| w == b"\"stream\": true")
        {
            stream_answer(&mut stream, streamed);
            return;
        }
        // The model `echo` fails as OpenAI does on a bad key, but with the whole key in the
        // message: what a provider's error puts in the proxy's exception logs.
        if body.windows(6).any(|w| w == b"\"echo\"") {
            let answer = format!(
                r#"{{"error":{{"message":"Incorrect API key provided: {authorization}","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
            );
            let response = format!(
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
            if stream.write_all(response.as_bytes()).is_err() {
                return;
            }
            continue;
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

/// Server-sent chat chunks until the stream is released, then the last chunk and `[DONE]`.
fn stream_answer(stream: &mut TcpStream, streamed: &Stream) {
    streamed.started.store(true, Ordering::Relaxed);
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n");
    let chunk = |content: &str, finish: &str| {
        format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"fake\",\"choices\":[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"{content}\"}},\"finish_reason\":{finish}}}]}}\n\n"
        )
    };
    let mut i = 0;
    while !streamed.released.load(Ordering::Relaxed) && i < 600 {
        let content = format!("part{i} ");
        if stream.write_all(chunk(&content, "null").as_bytes()).is_err() {
            return;
        }
        streamed.sent.lock().unwrap().push(content);
        i += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = stream.write_all(chunk("", "\"stop\"").as_bytes());
    let _ = stream.write_all(b"data: [DONE]\n\n");
}

/// A streamed chat completion through the proxy at `port`: the content it delivered, and
/// whether it ended with `[DONE]`.
fn chat_stream(port: u16, master_key: &str) -> (String, bool) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (String::new(), false);
    };
    let _ = stream.set_read_timeout(Some(Duration::from_mins(1)));
    let body = r#"{"model":"fake","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {master_key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return (String::new(), false);
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    let mut content = String::new();
    for line in response.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if let Ok(chunk) = serde_json::from_str::<serde_json::Value>(data)
            && let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str()
        {
            content.push_str(piece);
        }
    }
    (content, response.contains("data: [DONE]"))
}

/// A chat completion through the proxy at `port`; its HTTP status (0: no answer).
fn chat(port: u16, master_key: &str) -> u16 {
    chat_with(port, master_key, "fake")
}

/// A chat completion of `model`.
fn chat_with(port: u16, master_key: &str, model: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let body = format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#);
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

/// What a run against the real proxy needs: the secrets in moto, the fake provider, a
/// directory with the config, and osenv's environment (with a marker every process it starts
/// inherits).
struct Run {
    moto: Moto,
    provider: Provider,
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
    marker: String,
}

const MASTER_KEY: &str = "sk-master-7f3c9e2a51";

/// A value with a backslash: its Python `repr` differs from it.
const SESSION_TOKEN: &str = r"sess\7f3a91c2e4b5";

/// A test that fails before `stop` leaves nothing running either: everything that carries the
/// run's marker (osenv and the proxies it started) is killed.
impl Drop for Run {
    fn drop(&mut self) {
        for pid in marked(&self.marker) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

impl Run {
    fn start() -> Option<(Self, String)> {
        let litellm = server_url("OSENV_TEST_LITELLM", "the LiteLLM proxy (scripts/litellm-venv)")?;
        let moto = moto()?;
        let client = moto.secrets();
        runtime().block_on(async {
            for (name, value) in [("PROVIDER_KEY", "sk-provider-one"), ("LITELLM_MASTER_KEY", MASTER_KEY)] {
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
        let marker = format!("{}-{}", std::process::id(), free_port());
        let home = d.join("home");
        std::fs::create_dir(&home).unwrap();
        let mut env: Vec<(&str, String)> = Moto::env(&moto.url);
        env.extend([
            ("OSENV_KEY_MANAGEMENT_SYSTEM", "aws_secret_manager".to_owned()),
            ("LITELLM_LOCAL_MODEL_COST_MAP", "True".to_owned()),
            ("HOME", home.display().to_string()),
            ("OSENV_TEST_RUN", marker.clone()),
        ]);
        Some((
            Self {
                moto,
                provider,
                dir,
                env,
                marker,
            },
            litellm,
        ))
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn osenv(&self, args: &[&str]) -> std::process::Child {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        start(self.dir(), args, &env)
    }

    /// Rotate the provider key in the secret manager.
    fn rotate(&self, value: &str) {
        self.put("PROVIDER_KEY", value);
    }

    /// Put a new value of secret `name` in the secret manager.
    fn put(&self, name: &str, value: &str) {
        let client = self.moto.secrets();
        runtime().block_on(async {
            client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value)
                .send()
                .await
                .unwrap();
        });
    }

    /// The LiteLLM processes still running (everything carrying the marker but osenv).
    fn proxies(&self, osenv: u32) -> Vec<u32> {
        marked(&self.marker).into_iter().filter(|p| *p != osenv).collect()
    }

    /// SIGTERM: uvicorn shuts down gracefully, then raises it again to end with it (128 +
    /// 15, within the grace period, not SIGKILL's 137); nothing is left, no value in the log.
    fn stop(&self, osenv: std::process::Child) {
        let d = self.dir();
        signal(&osenv, "TERM");
        let code = exit_code(osenv, Duration::from_mins(1));
        assert_eq!(code, 143, "{}", tail(d));
        assert!(!log(d).contains("killing it"), "{}", tail(d));
        assert!(
            wait_for(Duration::from_secs(5), || marked(&self.marker).is_empty()),
            "left running: {:?}",
            marked(&self.marker)
        );
        let log = log(d);
        for value in ["sk-provider-one", "sk-provider-two", MASTER_KEY] {
            assert!(!log.contains(value), "a value in osenv's log");
        }
        let left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !["config.yaml", "home", "osenv.log"].contains(&n.as_str()))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

#[test]
fn the_real_proxy_gets_resolved_keys_and_rotations_through_exec_watch() {
    let Some((run, litellm)) = Run::start() else {
        return;
    };
    let (d, provider, master_key) = (run.dir(), &run.provider, MASTER_KEY);
    let port = free_port();
    let port_text = port.to_string();
    let osenv = run.osenv(&[
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
    ]);
    let up = |limit| wait_for(limit, || alive(port));
    assert!(up(Duration::from_mins(3)), "the proxy did not start: {}", tail(d));
    assert_eq!(chat(port, master_key), 200, "{}", tail(d));
    assert_eq!(provider.authorizations(), ["Bearer sk-provider-one"]);

    // Rotated in the secret manager: the proxy is restarted with the new key.
    run.rotate("sk-provider-two");
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
    run.stop(osenv);
}

/// `--listen` under steady traffic (10 requests/s): a rotation fails none of them, a streamed
/// answer that spans the switch completes on the old generation, the provider sees the new key,
/// and one generation is left; a rotation to a master key LiteLLM refuses to boot with leaves
/// the old generation serving.
#[test]
fn the_real_proxy_rotates_behind_listen_without_a_failed_request() {
    let Some((run, litellm)) = Run::start() else {
        return;
    };
    let (d, provider) = (run.dir(), &run.provider);
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let osenv = run.osenv(&[
        "-v",
        "exec",
        "--watch",
        "--watch-interval",
        "2s",
        "--grace",
        "40s",
        "--listen",
        &address,
        "config.yaml",
        "--",
        &litellm,
        "--config",
        "config.yaml",
    ]);
    assert!(
        wait_for(Duration::from_mins(3), || alive(port)),
        "the proxy did not start: {}",
        tail(d)
    );
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (statuses, stop) = (statuses.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let status = chat(port, MASTER_KEY);
                statuses.lock().unwrap().push(status);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    run.rotate("sk-provider-two");
    // Once the new generation is being prepared, a streamed answer starts on the old one.
    assert!(
        wait_for(Duration::from_mins(1), || log(d)
            .contains("a new generation of the command runs")),
        "{}",
        tail(d)
    );
    let streamed = std::thread::spawn(move || chat_stream(port, MASTER_KEY));
    assert!(
        wait_for(Duration::from_mins(3), || log(d).contains("the new generation answers")),
        "{}",
        tail(d)
    );
    assert!(
        wait_for(Duration::from_secs(30), || {
            provider.authorizations().last().map(String::as_str) == Some("Bearer sk-provider-two")
        }),
        "{}",
        tail(d)
    );
    // The stream outlived the switch; now it ends, on the draining generation.
    std::thread::sleep(Duration::from_secs(1));
    assert!(provider.stream.started.load(Ordering::Relaxed));
    provider.stream.released.store(true, Ordering::Relaxed);
    let (content, done) = streamed.join().unwrap();
    assert!(done, "{content:?} {}", tail(d));
    assert_eq!(content, provider.stream.sent.lock().unwrap().concat());
    // The old generation drains and exits: one is left.
    assert!(
        wait_for(Duration::from_secs(45), || run.proxies(osenv.id()).len() == 1),
        "{:?} {}",
        run.proxies(osenv.id()),
        tail(d)
    );
    // A bad rotation: LiteLLM refuses to boot with the publicly known master key, and osenv
    // says so first: no new generation is started; the old one keeps serving, with the key it
    // has.
    run.put("LITELLM_MASTER_KEY", "sk-1234");
    assert!(
        wait_for(Duration::from_mins(2), || log(d)
            .contains("LiteLLM 1.110.2 refuses to start")),
        "{}",
        tail(d)
    );
    assert!(!log(d).contains("before it answered"), "{}", tail(d));
    // Back to the key the old generation has: a new generation starting meanwhile is stopped.
    run.put("LITELLM_MASTER_KEY", MASTER_KEY);
    assert!(
        wait_for(Duration::from_secs(20), || run.proxies(osenv.id()).len() == 1),
        "{:?} {}",
        run.proxies(osenv.id()),
        tail(d)
    );
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    traffic.join().unwrap();
    let statuses = statuses.lock().unwrap().clone();
    let failed = statuses.iter().filter(|s| **s != 200).count();
    assert_eq!(
        failed,
        0,
        "{failed} of {} failed: {statuses:?} {}",
        statuses.len(),
        tail(d)
    );
    assert!(statuses.len() >= 50, "{statuses:?}");
    run.stop(osenv);
}

/// LiteLLM refuses to boot with a publicly known master key (compared after `strip`). osenv
/// refuses first, at the reference, and starts nothing; LiteLLM given the same value refuses
/// too; with LiteLLM's override both start (osenv warns, LiteLLM logs its own warning).
#[test]
fn the_real_proxy_refuses_the_master_key_osenv_refuses_first() {
    let Some((run, litellm)) = Run::start() else {
        return;
    };
    let d = run.dir();
    let weak = " sk-1234\n";
    run.put("LITELLM_MASTER_KEY", weak);
    let port = free_port();
    let port_text = port.to_string();
    let command = [
        "exec",
        "--watch",
        "config.yaml",
        "--",
        litellm.as_str(),
        "--config",
        "config.yaml",
        "--host",
        "127.0.0.1",
        "--port",
        &port_text,
    ];
    let osenv = run.osenv(&command);
    assert_eq!(exit_code(osenv, Duration::from_secs(30)), 1, "{}", tail(d));
    assert!(
        log(d).starts_with(
            "error: config.yaml:8:15: `os.environ/LITELLM_MASTER_KEY`: LiteLLM 1.110.2 refuses to start: the master key is a publicly known default (sk-1234)"
        ),
        "{}",
        tail(d)
    );
    assert!(marked(&run.marker).is_empty(), "osenv started the proxy");

    // LiteLLM itself, with the same value in its environment: it refuses to boot.
    let mut env: Vec<(&str, &str)> = run.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend([("LITELLM_MASTER_KEY", weak), ("PROVIDER_KEY", "sk-provider-one")]);
    let proxy = start_through(&litellm, d, &command[5..], &env);
    let code = exit_code(proxy, Duration::from_mins(3));
    assert_ne!(code, 0, "{}", tail(d));
    assert!(log(d).contains("LiteLLM proxy refused to start"), "{}", tail(d));
    assert!(!alive(port));

    // LiteLLM's override (local development): both start, osenv with a warning.
    let mut env: Vec<(&str, &str)> = run.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY", "true"));
    let osenv = start(d, &command, &env);
    assert!(
        wait_for(Duration::from_mins(3), || alive(port)),
        "the proxy did not start: {}",
        tail(d)
    );
    assert!(
        log(d).contains(
            "warning: config.yaml:8:15: `os.environ/LITELLM_MASTER_KEY`: LiteLLM 1.110.2 starts with a publicly known master key only because LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY is on"
        ),
        "{}",
        tail(d)
    );
    assert!(
        log(d).contains("dangerously_permit_weak_or_unset_master_key is on"),
        "{}",
        tail(d)
    );
    run.stop(osenv);
}

/// `exec --mask` in front of the real proxy at its most verbose (`--detailed_debug`): its
/// stdout and stderr reach osenv's with every value masked. LiteLLM 1.110.2 redacts its own
/// keys in these logs (`Be****ne`, `REDACTED`), but not a secret in a provider parameter: the
/// log shows its marker where LiteLLM printed it, and no value in any form.
#[test]
fn the_real_proxys_debug_logs_show_markers_not_values_through_mask() {
    let Some((run, litellm)) = Run::start() else {
        return;
    };
    let (d, master_key) = (run.dir(), MASTER_KEY);
    let config = std::fs::read_to_string(d.join("config.yaml")).unwrap();
    let echo = config
        .split_once("general_settings:")
        .map(|(models, rest)| {
            let second =
                models
                    .replacen("model_name: fake", "model_name: echo", 1)
                    .replacen("openai/fake", "openai/echo", 1);
            let second = second.trim_start_matches("model_list:\n");
            format!("{models}{second}general_settings:{rest}")
        })
        .unwrap();
    // A provider parameter holding a secret (a session token in the request body): LiteLLM's
    // debug log prints the body as a Python dict, the token in `repr` form (its backslash
    // doubled), unmasked.
    let echo = echo.replacen(
        "api_key: os.environ/PROVIDER_KEY\n",
        "api_key: os.environ/PROVIDER_KEY\n      extra_body:\n        provider_session: os.environ/SESSION_TOKEN\n",
        1,
    );
    std::fs::write(d.join("config.yaml"), echo).unwrap();
    let client = run.moto.secrets();
    runtime().block_on(async {
        client
            .create_secret()
            .name("SESSION_TOKEN")
            .secret_string(SESSION_TOKEN)
            .send()
            .await
            .unwrap();
    });
    let port = free_port();
    let port_text = port.to_string();
    let args = [
        "exec",
        "--mask",
        "config.yaml",
        "--",
        &litellm,
        "--config",
        "config.yaml",
        "--host",
        "127.0.0.1",
        "--port",
        &port_text,
        "--detailed_debug",
    ];
    // Both streams into the log: what the proxy prints on either.
    let log_file = std::fs::File::create(d.join("osenv.log")).unwrap();
    let osenv = std::process::Command::new(env!("CARGO_BIN_EXE_osenv"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(run.env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(d)
        .stdin(std::process::Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_mins(3), || alive(port)),
        "the proxy did not start: {}",
        tail(d)
    );
    assert_eq!(chat(port, master_key), 200, "{}", tail(d));
    // A refused key: LiteLLM logs the failed authentication at length.
    let refused = chat(port, "sk-wrong-but-long-enough");
    assert!((400..500).contains(&refused), "{refused}: {}", tail(d));
    // A provider error that quotes the key: LiteLLM logs it with its traceback.
    assert_ne!(chat_with(port, master_key, "echo"), 200, "{}", tail(d));
    assert_eq!(run.provider.authorizations(), ["Bearer sk-provider-one"; 2]);
    let log = log(d);
    let forms = |value: &str| {
        use base64::Engine as _;
        [
            value.to_owned(),
            base64::engine::general_purpose::STANDARD.encode(value),
            serde_json::to_string(value).unwrap(),
        ]
    };
    assert!(log.contains("'provider_session': '<SESSION_TOKEN>'"), "{}", tail(d));
    for value in ["sk-provider-one", MASTER_KEY, SESSION_TOKEN, r"sess\\7f3a91c2e4b5"] {
        for form in forms(value) {
            assert!(!log.contains(&form), "{form:?} in the proxy's output:\n{}", tail(d));
        }
    }
    run.stop(osenv);
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
