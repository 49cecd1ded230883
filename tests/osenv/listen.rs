//! `exec --watch --listen`: osenv owns the port and hands connections from one generation of
//! the command to the next. The command here is a small HTTP server (Python's standard library)
//! that takes its port from `PORT`, answers `/health/liveliness` after a startup delay (as
//! LiteLLM does after its imports), `/key` with the value it got, `/stream` with chunks spread
//! over seconds, and on SIGTERM stops accepting and finishes what it has in flight. The real
//! LiteLLM proxy under traffic is in `litellm.rs`.

use crate::watch::{exit_code, log, signal, start, start_through, wait_for, write};
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SERVER: &str = r#"
import http.server, os, signal, sys, threading, time
key = os.environ.get("KEY", "")
if key == "crash":
    sys.exit(3)
time.sleep(float(os.environ.get("STARTUP", "1")))
log = open("generations", "a", buffering=1)
log.write(f"start {os.getpid()} {key}\n")

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def reply(self, status, body):
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/health/liveliness":
            self.reply(503 if key == "never-ready" else 200, b"alive")
        elif self.path == "/key":
            self.reply(200, key.encode())
        elif self.path == "/stream":
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for i in range(12):
                self.wfile.write(f"data: {i} {key}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.25)
            self.wfile.write(b"data: [DONE]\n\n")
            self.close_connection = True
        else:
            self.reply(404, b"")

server = http.server.ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler)
server.daemon_threads = False
server.block_on_close = True

def stop(*_):
    # As Go's `Shutdown` and gunicorn do: the listening socket is closed at once, which resets
    # connections still waiting to be accepted; what was accepted is finished.
    server.socket.close()
    threading.Thread(target=server.shutdown).start()

signal.signal(signal.SIGTERM, stop)
server.serve_forever()
server.server_close()
log.write(f"exit {os.getpid()}\n")
"#;

/// A directory with the server, a config reading `KEY`, and an env file holding `key`.
fn setup(d: &Path, key: &str) -> PathBuf {
    let server = d.join("server.py");
    std::fs::write(&server, SERVER).unwrap();
    std::fs::write(d.join("config.yaml"), "api_key: os.environ/KEY\n").unwrap();
    write(&d.join(".env"), &format!("KEY={key}\n"));
    server
}

fn python() -> String {
    std::env::var("OSENV_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `osenv exec --watch --listen 127.0.0.1:PORT … -- python3 server.py`, with `extra` flags.
fn listen(d: &Path, port: u16, extra: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    let address = format!("127.0.0.1:{port}");
    let server = d.join("server.py");
    let python = python();
    let mut args = vec![
        "-v",
        "exec",
        "--watch",
        "--watch-interval",
        "1s",
        "--listen",
        &address,
        "config.yaml",
        "--env-file",
        ".env",
    ];
    args.extend(extra);
    args.extend(["--", &python, server.to_str().unwrap()]);
    start(d, &args, env)
}

/// osenv listening on a free port for the server with `extra` flags, once it answers.
fn serving(d: &Path, extra: &[&str], env: &[(&str, &str)]) -> (u16, std::process::Child) {
    let port = free_port();
    let osenv = listen(d, port, extra, env);
    answering(d, port);
    (port, osenv)
}

/// Wait until a request through `port` is answered.
fn answering(d: &Path, port: u16) {
    assert!(
        wait_for(Duration::from_secs(30), || get(port, "/key").0 == 200),
        "{}",
        log(d)
    );
}

/// `GET path` through osenv: the status and the body (status 0: no answer).
fn get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let request = format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// What each generation wrote: `start PID KEY` and `exit PID` lines.
fn generations(d: &Path) -> Vec<String> {
    std::fs::read_to_string(d.join("generations"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Requests every 50 ms from a thread until stopped; every (status, body) in order.
struct Traffic {
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<(u16, String)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(port: u16) -> Self {
        Self::every(port, Duration::from_millis(50))
    }

    /// Requests with `pause` between them.
    fn every(port: u16, pause: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let (s, a) = (stop.clone(), answers.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let answer = get(port, "/key");
                a.lock().unwrap().push(answer);
                std::thread::sleep(pause);
            }
        });
        Self {
            stop,
            answers,
            thread: Some(thread),
        }
    }

    fn answers(&self) -> Vec<(u16, String)> {
        self.answers.lock().unwrap().clone()
    }

    fn finish(mut self) -> Vec<(u16, String)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        self.answers()
    }
}

fn stop_and_check_nothing_left(osenv: std::process::Child, d: &Path) {
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(30)), 0, "{}", log(d));
    // Every generation ended (a killed one writes no `exit` line; its PID is gone).
    let pids: Vec<String> = generations(d)
        .iter()
        .filter_map(|l| l.strip_prefix("start ")?.split(' ').next().map(str::to_owned))
        .collect();
    assert!(
        wait_for(Duration::from_secs(5), || pids
            .iter()
            .all(|p| !Path::new("/proc").join(p).exists())),
        "a generation left running: {:?}",
        generations(d)
    );
}

#[test]
fn a_rotation_hands_over_without_a_failed_request_and_leaves_one_generation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d, "first");
    let (port, osenv) = serving(d, &["--grace", "10s"], &[]);
    let traffic = Traffic::start(port);
    // And a load of new connections back to back, so that some are routed to the old
    // generation at the very moment of the switch (its server closes its listening socket
    // at once when it drains).
    let load: Vec<Traffic> = (0..3).map(|_| Traffic::every(port, Duration::ZERO)).collect();
    std::thread::sleep(Duration::from_millis(500));
    write(&d.join(".env"), "KEY=second\n");
    assert!(
        wait_for(Duration::from_secs(30), || traffic
            .answers()
            .last()
            .is_some_and(|(_, body)| body == "second")),
        "{}",
        log(d)
    );
    // The old generation drained and exited: one is left.
    assert!(
        wait_for(Duration::from_secs(15), || generations(d)
            .iter()
            .any(|l| l.starts_with("exit "))),
        "{:?}",
        generations(d)
    );
    std::thread::sleep(Duration::from_millis(500));
    let loaded: Vec<(u16, String)> = load.into_iter().flat_map(Traffic::finish).collect();
    let failed = loaded.iter().filter(|(status, _)| *status != 200).count();
    assert_eq!(failed, 0, "{failed} of {} failed under load\n{}", loaded.len(), log(d));
    let answers = traffic.finish();
    let failed: Vec<_> = answers.iter().filter(|(status, _)| *status != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} failed: {failed:?}\n{}",
        failed.len(),
        answers.len(),
        log(d)
    );
    // Every answer is one generation's, in order: the first, then the second.
    let switch = answers.iter().position(|(_, b)| b == "second").unwrap();
    assert!(answers[..switch].iter().all(|(_, b)| b == "first"));
    assert!(answers[switch..].iter().all(|(_, b)| b == "second"), "{answers:?}");
    let lines = generations(d);
    assert_eq!(lines.iter().filter(|l| l.starts_with("start ")).count(), 2, "{lines:?}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("exit ")).count(), 1, "{lines:?}");
    stop_and_check_nothing_left(osenv, d);
}

#[test]
fn a_new_generation_that_never_answers_leaves_the_old_one_serving() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d, "first");
    let (port, osenv) = serving(d, &["--ready-timeout", "3s"], &[]);
    write(&d.join(".env"), "KEY=never-ready\n");
    assert!(
        wait_for(Duration::from_secs(20), || log(d).contains("did not answer within 3s")),
        "{}",
        log(d)
    );
    // Killed; the first generation still serves, on its values.
    assert!(
        wait_for(Duration::from_secs(5), || generations(d).len() == 2),
        "{:?}",
        generations(d)
    );
    assert_eq!(get(port, "/key"), (200, "first".into()));
    // A new generation that exits at once: the same.
    write(&d.join(".env"), "KEY=crash\n");
    assert!(
        wait_for(Duration::from_secs(20), || log(d)
            .contains("exited (3) before it answered")),
        "{}",
        log(d)
    );
    assert_eq!(get(port, "/key"), (200, "first".into()));
    stop_and_check_nothing_left(osenv, d);
}

#[test]
fn a_stream_that_spans_the_switch_completes_on_the_old_generation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d, "first");
    let (port, osenv) = serving(d, &["--grace", "20s"], &[("STARTUP", "0.5")]);
    let stream = std::thread::spawn(move || get(port, "/stream"));
    std::thread::sleep(Duration::from_millis(300));
    write(&d.join(".env"), "KEY=second\n");
    let (status, body) = stream.join().unwrap();
    assert_eq!(status, 200);
    let mut expected = String::new();
    for i in 0..12 {
        let _ = write!(expected, "data: {i} first\n\n");
    }
    expected += "data: [DONE]\n\n";
    assert_eq!(body, expected, "{}", log(d));
    // It was the old generation, and the switch happened while it streamed.
    assert!(
        wait_for(Duration::from_secs(20), || get(port, "/key") == (200, "second".into())),
        "{}",
        log(d)
    );
    assert!(
        wait_for(Duration::from_secs(10), || generations(d)
            .iter()
            .any(|l| l.starts_with("exit "))),
        "{:?}",
        generations(d)
    );
    let lines = generations(d);
    let second = lines.iter().position(|l| l.ends_with(" second")).unwrap();
    let old_exit = lines.iter().position(|l| l.starts_with("exit ")).unwrap();
    assert!(
        second < old_exit,
        "the new one started before the old one ended: {lines:?}"
    );
    stop_and_check_nothing_left(osenv, d);
}

#[test]
fn without_overlap_connections_wait_for_the_next_generation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d, "first");
    let (port, osenv) = serving(d, &["--no-overlap"], &[]);
    let traffic = Traffic::start(port);
    write(&d.join(".env"), "KEY=second\n");
    assert!(
        wait_for(Duration::from_secs(30), || traffic
            .answers()
            .last()
            .is_some_and(|(_, body)| body == "second")),
        "{}",
        log(d)
    );
    let answers = traffic.finish();
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    // Never two at once: the old one exited before the new one started.
    let lines = generations(d);
    assert!(
        lines[1].starts_with("exit ") && lines[2].ends_with(" second"),
        "{lines:?}"
    );
    stop_and_check_nothing_left(osenv, d);
}

#[test]
fn a_first_generation_that_never_answers_fails_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d, "never-ready");
    let port = free_port();
    let osenv = listen(d, port, &["--ready-timeout", "2s"], &[("STARTUP", "0")]);
    assert_eq!(exit_code(osenv, Duration::from_secs(30)), 1, "{}", log(d));
    assert!(
        log(d).contains("error: the command did not answer its readiness probe within 2s"),
        "{}",
        log(d)
    );
    let lines = generations(d);
    assert!(lines.len() == 2 && lines[1].starts_with("exit "), "{lines:?}");
}

#[test]
fn a_port_in_use_fails_at_start_before_anything_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d, "first");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let osenv = listen(d, port, &[], &[]);
    assert_eq!(exit_code(osenv, Duration::from_secs(30)), 1, "{}", log(d));
    assert!(
        log(d).contains(&format!("error: cannot listen on `127.0.0.1:{port}`")),
        "{}",
        log(d)
    );
    assert!(generations(d).is_empty());
}

#[test]
fn listen_flags_need_watch_and_a_valid_ready_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d, "first");
    for (args, says) in [
        (
            &["exec", "--listen", "127.0.0.1:1", "config.yaml", "--", "true"][..],
            "--watch",
        ),
        (
            &[
                "exec",
                "--watch",
                "--listen",
                "127.0.0.1:1",
                "--ready",
                "/a\r\nb",
                "config.yaml",
                "--",
                "true",
            ][..],
            "not an absolute path",
        ),
        (
            &["exec", "--watch", "--no-overlap", "config.yaml", "--", "true"][..],
            "--listen",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_osenv"))
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{args:?}");
    }
}

/// Once the command closed a connection, a client that neither reads nor closes (a pool's idle
/// connection) gives its slot back a few seconds later.
#[test]
fn a_connection_the_command_closed_gives_its_slot_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d, "first");
    let (port, osenv) = serving(d, &["--max-connections", "2"], &[]);
    // Two requests the server answers and then closes; the clients keep their sockets open.
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"GET /key HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = std::time::Instant::now();
    assert_eq!(get(port, "/key"), (200, "first".into()), "{}", log(d));
    assert!(started.elapsed() < Duration::from_secs(15));
    drop(idle);
    stop_and_check_nothing_left(osenv, d);
}

/// Clients holding every connection osenv may forward do not keep a rotation from reading its
/// files: connections are capped below the descriptor limit.
#[test]
fn a_flood_of_connections_cannot_starve_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d, "first");
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let server = d.join("server.py");
    let python = python();
    let osenv = start_through(
        "/bin/sh",
        d,
        &[
            "-c",
            "ulimit -n 100 && exec \"$@\"",
            "sh",
            env!("CARGO_BIN_EXE_osenv"),
            "-v",
            "exec",
            "--watch",
            "--watch-interval",
            "1s",
            "--listen",
            &address,
            "config.yaml",
            "--env-file",
            ".env",
            "--",
            &python,
            server.to_str().unwrap(),
        ],
        &[],
    );
    answering(d, port);
    let idle: Vec<TcpStream> = (0..80)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    write(&d.join(".env"), "KEY=second\n");
    assert!(
        wait_for(Duration::from_secs(30), || generations(d)
            .iter()
            .any(|l| l.ends_with(" second"))),
        "{}",
        log(d)
    );
    assert!(!log(d).contains("check failed"), "{}", log(d));
    assert!(
        log(d).contains("forwarding at most 18 connections at once, not 1024"),
        "{}",
        log(d)
    );
    drop(idle);
    stop_and_check_nothing_left(osenv, d);
}
