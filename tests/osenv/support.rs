//! A small builder to run the `osenv` binary hermetically: empty environment, own directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The result of one run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

pub struct Osenv {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

/// This test run's id, for names on the shared test servers: the process id alone repeats
/// across runs against a long-running testbed (PIDs are reused), and a later run would find an
/// earlier run's secrets under the same names. The start time makes it unique per run; letters,
/// digits and `-` only, which every backend's names allow.
pub fn run_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{:x}", std::process::id(), nanos % (1 << 40))
    })
}

/// `osenv` with no environment but PATH, run in `dir`.
pub fn osenv(dir: &Path) -> Osenv {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_osenv"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(dir);
    Osenv { cmd, stdin: None }
}

/// The limits of a run against a backend that accepts connections and never answers: a 1 s
/// request timeout (so it fires and is retried), a 3 s deadline, more attempts than fit in it.
pub const STALL_LIMITS: [&str; 6] = ["--timeout", "1", "--deadline", "3", "--attempts", "20"];

/// A run given [`STALL_LIMITS`] that took `took` ended at the deadline: exit code 1, the
/// deadline's error, and within 8 s (5 s to spare for a loaded machine).
#[track_caller]
pub fn ended_at_the_deadline(out: &Run, took: std::time::Duration) {
    out.code(1);
    assert!(took < std::time::Duration::from_secs(8), "took {took:?}");
    assert!(out.stderr.contains("deadline of 3s exceeded"), "{}", out.stderr);
}

/// `osenv` under resource limits: `cpu_seconds` of CPU time (SIGKILL past it) and `memory_mib`
/// of address space (allocations fail past it), set by `sh`'s `ulimit` before it execs the
/// binary. CPU time, not wall time, so a loaded machine does not fail the bound.
pub fn osenv_limited(dir: &Path, cpu_seconds: u32, memory_mib: u32) -> Osenv {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "ulimit -t {cpu_seconds} && ulimit -v {} && exec \"$0\" \"$@\"",
            memory_mib * 1024
        ))
        .arg(env!("CARGO_BIN_EXE_osenv"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // glibc reserves 64 MiB of address space per malloc arena, up to 8 per core: bound them
        // so the limit measures osenv, not the machine's core count.
        .env("MALLOC_ARENA_MAX", "2")
        .current_dir(dir);
    Osenv { cmd, stdin: None }
}

impl Osenv {
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Self {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.cmd.env(k, v);
        self
    }

    /// The command itself, stdout and stderr piped, for tests that must spawn it and act on
    /// the running process.
    pub fn into_command(mut self) -> Command {
        self.cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.cmd
    }

    /// Several variables at once.
    pub fn envs<K: AsRef<str>, V: AsRef<str>>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self {
        for (k, v) in vars {
            self.cmd.env(k.as_ref(), v.as_ref());
        }
        self
    }

    /// Input on stdin, when there is any.
    pub fn stdin_opt(self, input: Option<&str>) -> Self {
        match input {
            Some(input) => self.stdin(input),
            None => self,
        }
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    pub fn run(mut self) -> Run {
        use std::io::Write;
        self.cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("osenv runs");
        if let Some(input) = self.stdin.take() {
            // The child may exit without reading its input; that is not a test failure.
            let _ = child.stdin.take().expect("piped").write_all(&input);
        }
        let out = child.wait_with_output().expect("osenv finishes");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A scratch directory with files.
pub fn workdir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path: PathBuf = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("fixture directory");
        }
        std::fs::write(path, text).expect("write fixture");
    }
    dir
}

/// The repository's `fixtures/` directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `text` for a snapshot where its bytes are the point (a rendered file): insta compares text
/// with trailing newlines trimmed and CRLF read as LF, so each CR is shown as `␍` and the end is
/// marked `⟨end⟩`; a lost final newline, an extra one or a CRLF turned LF changes the snapshot.
pub fn exact(text: &str) -> String {
    format!("{}⟨end⟩", text.replace('\r', "␍"))
}

/// Snapshot `text` (a run's stderr) as `name`, with what changes from run to run shown as a
/// placeholder: this run's temporary directories (`[DIR]`), the test servers' loopback ports
/// (`[PORT]`), this run's id in names (`[RUN]`, [`run_id`]) and how long attempts took. For messages whose whole wording
/// is the point, where a `contains` would pass a message that lost its location or gained a
/// value. A macro, so the snapshot is named after the calling module.
macro_rules! assert_message {
    ($name:expr, $text:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"/tmp/\.tmp[A-Za-z0-9]+", "[DIR]"),
                (r"127\.0\.0\.1:[0-9]+", "127.0.0.1:[PORT]"),
                ($crate::support::run_id(), "[RUN]"),
                (r"(attempts?) in [0-9]+\.[0-9] s", "$1 in [TIME] s"),
                (r"the deadline in [0-9]+ s", "the deadline in [N] s"),
            ],
            omit_expression => true,
        }, {
            insta::assert_snapshot!($name, $text);
        })
    };
}
pub(crate) use assert_message;
