//! `exec --mask`: the command's stdout and stderr reach osenv's with every value masked, in
//! every form it takes, however the command cuts its writes; the rest byte for byte, at once.

use crate::support::{osenv, workdir};
use crate::watch::{exit_code, signal, wait_for, write};
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const KEY: &str = "sk-CANARY-7f3a91c2e4b5d6a8";
/// Every escaping at once: quotes, a slash, a plus, a space, a backslash, non-ASCII.
const TOKEN: &str = "tok \"quoted\"/é+ \\ back-9c1e";

fn python() -> String {
    std::env::var("OSENV_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn setup(dir: &Path) {
    std::fs::write(
        dir.join("config.yaml"),
        "a: os.environ/KEY\nb: os.environ/TOKEN\nc: os.environ/PIN\n",
    )
    .unwrap();
    let token = TOKEN.replace('\\', "\\\\").replace('"', "\\\"");
    std::fs::write(dir.join(".env"), format!("KEY={KEY}\nTOKEN=\"{token}\"\nPIN=1234\n")).unwrap();
}

/// osenv `exec --mask` of `command` in `dir`, with stdout and stderr as bytes.
fn masked(dir: &Path, command: &[&str]) -> Command {
    let mut args = vec!["exec", "--mask", "config.yaml", "--env-file", ".env", "--"];
    args.extend_from_slice(command);
    osenv(dir).args(args).into_command()
}

/// Prints each value in each form it takes in logs, on stdout and on stderr, each line in two
/// writes 20 ms apart (cut in the middle of the form); then a plain line and every byte value.
const CHILD: &str = r#"
import base64, json, os, sys, time, urllib.parse
forms = {}
for name in ("KEY", "TOKEN"):
    v = os.environ[name]
    b = v.encode()
    forms[name] = {
        "raw": v,
        "bearer": "Authorization: Bearer " + v,
        "b64": base64.b64encode(b).decode(),
        "b64url": base64.urlsafe_b64encode(b).decode(),
        "b64nopad": base64.b64encode(b).decode().rstrip("="),
        "b64urlnopad": base64.urlsafe_b64encode(b).decode().rstrip("="),
        "basic": "Basic " + base64.b64encode(b"user:" + b).decode(),
        "basic2": base64.b64encode(b"us:" + b + b":x").decode(),
        "json": json.dumps({"api_key": v}),
        "json_utf8": json.dumps({"api_key": v}, ensure_ascii=False),
        "url": "https://h/?key=" + urllib.parse.quote(v, safe=""),
        "url_plus": urllib.parse.urlencode({"key": v}),
        "repr": repr(v),
        "dict": repr({"api_key": v}),
    }
json.dump(forms, open("forms.json", "w"))
for name, fs in forms.items():
    for label, text in fs.items():
        for stream in (sys.stdout, sys.stderr):
            half = len(text) // 2
            stream.write(f"{name} {label}: {text[:half]}")
            stream.flush()
            time.sleep(0.02)
            stream.write(f"{text[half:]} end\n")
            stream.flush()
print("plain: nothing secret here \u2713 " + os.environ["PIN"])
sys.stdout.flush()
sys.stdout.buffer.write(bytes(range(256)))
sys.stdout.flush()
sys.exit(3)
"#;

#[test]
fn every_form_of_every_value_is_masked_on_both_streams_and_the_rest_is_untouched() {
    let dir = workdir(&[("child.py", CHILD)]);
    let d = dir.path();
    setup(d);
    let python = python();
    let out = masked(d, &[&python, "child.py"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "the command's status");
    let stdout = out.stdout;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();

    // The binary tail is written as it came.
    let bytes: Vec<u8> = (0..=255u8).collect();
    assert!(stdout.ends_with(&bytes), "the bytes after the lines changed");
    let text = String::from_utf8_lossy(&stdout[..stdout.len() - 256]).into_owned();
    assert!(text.ends_with("plain: nothing secret here \u{2713} 1234\n"), "{text}");

    // Every form of each value: a marker in its line, the form itself nowhere.
    let forms: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("forms.json")).unwrap()).unwrap();
    for (name, value) in [("KEY", KEY), ("TOKEN", TOKEN)] {
        let marker = format!("<{name}>");
        for (label, form) in forms[name].as_object().unwrap() {
            let form = form.as_str().unwrap();
            for (stream, output) in [("stdout", &text), ("stderr", &stderr)] {
                let line = output
                    .lines()
                    .find(|l| l.starts_with(&format!("{name} {label}: ")))
                    .unwrap_or_else(|| panic!("no {name} {label} line on {stream}: {output}"));
                assert!(line.contains(&marker) && line.ends_with(" end"), "{stream}: {line}");
                assert!(!output.contains(form), "{name} {label} on {stream}: {line}");
            }
        }
        for output in [&text, &stderr] {
            assert!(!output.contains(value), "{name}");
            assert!(!output.contains(&value[..value.len() - 1]), "a prefix of {name}");
        }
    }
    // Exactly what the marker replaced, where it is plain to see.
    assert!(text.contains("KEY raw: <KEY> end\n"), "{text}");
    assert!(text.contains("KEY json: {\"api_key\": \"<KEY>\"} end\n"), "{text}");
    assert!(text.contains("KEY repr: '<KEY>' end\n"), "{text}");
    assert!(text.contains("TOKEN dict: {'api_key': '<TOKEN>'} end\n"), "{text}");
    assert!(text.contains("KEY bearer: Authorization: Bearer <KEY> end\n"), "{text}");
    // Too short to mask: named once, at start, and left alone.
    assert_eq!(stderr.matches("not masking PIN").count(), 1, "{stderr}");
}

/// A reader of `from` on its own thread: each chunk as it arrives.
fn chunks(mut from: impl std::io::Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    rx
}

/// While the command pauses in the middle of a value, what came before it is written, and the
/// part of the value already printed is not, however long the pause.
#[test]
fn output_is_written_at_once_but_a_prefix_of_a_value_never_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let script = format!(
        "printf 'ready\\nkey=%s' \"${{KEY%{}}}\"; i=0; while [ ! -e go ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; printf '%s\\n' \"${{KEY#{}}}\"",
        &KEY[10..],
        &KEY[..10]
    );
    let mut child = masked(d, &["sh", "-c", &script]).spawn().unwrap();
    let rx = chunks(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while seen != b"ready\nkey=" {
        let left = end.saturating_duration_since(std::time::Instant::now());
        let chunk = rx.recv_timeout(left).expect("the line before the value did not come");
        seen.extend_from_slice(&chunk);
        assert!(seen.len() <= b"ready\nkey=".len(), "{}", String::from_utf8_lossy(&seen));
    }
    // The command has written the first 10 bytes of the value and waits: nothing more comes.
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "a prefix of the value was written"
    );
    std::fs::write(d.join("go"), "").unwrap();
    while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(20)) {
        seen.extend_from_slice(&chunk);
    }
    assert_eq!(String::from_utf8_lossy(&seen), "ready\nkey=<KEY>\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn stdin_is_passed_through() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let run = osenv(d)
        .args(["exec", "--mask", "config.yaml", "--env-file", ".env", "--", "cat"])
        .stdin(format!("from stdin: {KEY}\n"))
        .run();
    run.success();
    assert_eq!(run.stdout, "from stdin: <KEY>\n");
}

/// Signals reach the command as they would without `--mask` (a stop as the table names it),
/// and osenv ends with its status.
#[test]
fn signals_reach_the_command_and_its_status_is_osenvs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let mut command = masked(
        d,
        &[
            "sh",
            "-c",
            "trap 'exit 7' USR1; touch up; i=0; while [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done",
        ],
    );
    let osenv = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    assert!(wait_for(Duration::from_secs(10), || d.join("up").exists()));
    signal(&osenv, "USR1");
    assert_eq!(exit_code(osenv, Duration::from_secs(10)), 7);

    std::fs::remove_file(d.join("up")).unwrap();
    let mut command = masked(d, &["sh", "-c", "touch up; exec sleep 30"]);
    let osenv = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    assert!(wait_for(Duration::from_secs(10), || d.join("up").exists()));
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(10)), 143);
}

/// With `--watch`, a rotation adds the new value to the masks and keeps the old one: the new
/// generation prints both (the old one given as an argument), and neither shows.
#[test]
fn with_watch_the_masks_follow_rotations_and_keep_the_old_value() {
    const OLD: &str = "sk-old-value-5d0e7b3c19a8";
    const NEW: &str = "sk-new-value-0c5e3f8a7b21";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.yaml"), "a: os.environ/KEY\n").unwrap();
    write(&d.join(".env"), &format!("KEY={OLD}\n"));
    let out = std::fs::File::create(d.join("out")).unwrap();
    let osenv = osenv(d)
        .args([
            "exec",
            "--watch",
            "--watch-interval",
            "1s",
            "--mask",
            "config.yaml",
            "--env-file",
            ".env",
            "--",
            "sh",
            "-c",
            "echo \"now=$KEY old=$1\"; exec sleep 30",
            "sh",
            OLD,
        ])
        .into_command()
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = || std::fs::read_to_string(d.join("out")).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(10), || lines().lines().count() == 1),
        "{}",
        lines()
    );
    write(&d.join(".env"), &format!("KEY={NEW}\n"));
    assert!(
        wait_for(Duration::from_secs(20), || lines().lines().count() == 2),
        "{}",
        lines()
    );
    signal(&osenv, "TERM");
    assert_eq!(exit_code(osenv, Duration::from_secs(20)), 143);
    assert_eq!(lines(), "now=<KEY> old=<KEY>\nnow=<KEY> old=<KEY>\n");
}

/// When osenv's own stdout is closed (`| head`), the command's pipe is closed too: it gets
/// SIGPIPE as it would writing there itself, instead of writing on into nothing.
#[test]
fn a_closed_stdout_reaches_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let mut osenv = masked(d, &["yes"]).stderr(Stdio::null()).spawn().unwrap();
    let mut stdout = osenv.stdout.take().unwrap();
    let mut first = [0u8; 10];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    // `yes` ends of SIGPIPE; osenv with its status.
    assert_eq!(exit_code(osenv, Duration::from_secs(10)), 128 + 13);
}

/// A reader that takes its time after the command has ended still gets every byte: only the
/// command's pipes staying open is bounded, not osenv's writing.
#[test]
fn a_slow_reader_gets_all_of_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let data = "line of output\n".repeat(20_000);
    std::fs::write(d.join("data"), &data).unwrap();
    let mut osenv = masked(d, &["cat", "data"]).stderr(Stdio::null()).spawn().unwrap();
    let mut stdout = osenv.stdout.take().unwrap();
    // The command has long ended (its output is more than a pipe holds) when reading starts.
    std::thread::sleep(Duration::from_secs(6));
    let mut got = String::new();
    stdout.read_to_string(&mut got).unwrap();
    assert_eq!(got.len(), data.len());
    assert_eq!(exit_code(osenv, Duration::from_secs(10)), 0);
}

/// Something the command started outside its group holds stderr open while osenv's reader is
/// slow: what was read from stdout is still written in full (only copies waiting on their
/// input are ever given up on).
#[test]
fn a_held_pipe_does_not_cut_what_was_read_from_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let data = "line of output\n".repeat(20_000);
    std::fs::write(d.join("data"), &data).unwrap();
    let script = "setsid sh -c 'sleep 7' >/dev/null & sleep 0.3; cat data";
    let mut osenv = masked(d, &["sh", "-c", script]).stderr(Stdio::null()).spawn().unwrap();
    let mut stdout = osenv.stdout.take().unwrap();
    std::thread::sleep(Duration::from_secs(6));
    let mut got = String::new();
    stdout.read_to_string(&mut got).unwrap();
    assert_eq!(got.len(), data.len());
    assert_eq!(exit_code(osenv, Duration::from_secs(15)), 0);
}
