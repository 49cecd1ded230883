//! Output-file hygiene: mode 0600 whatever the umask, only a regular file at the output path is
//! replaced (a symlink, device, FIFO or directory is refused and left alone), and a run killed
//! while it waits for its backend, or while its temp file exists, leaves the old file and no
//! temp file behind.

use crate::support::{osenv, workdir};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const CONFIG: &str = "a: os.environ/A\n";

#[test]
fn output_is_private_whatever_the_umask() {
    let dir = workdir(&[("config.yaml", CONFIG)]);
    let status = Command::new("sh")
        .args([
            "-c",
            "umask 000; exec \"$0\" render config.yaml -o out.yaml",
            env!("CARGO_BIN_EXE_osenv"),
        ])
        .env_clear()
        .env("A", "value")
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let mode = std::fs::metadata(dir.path().join("out.yaml"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn only_a_regular_file_at_the_output_path_is_replaced() {
    let dir = workdir(&[("config.yaml", CONFIG), ("precious.txt", "do not touch\n")]);
    std::os::unix::fs::symlink(dir.path().join("precious.txt"), dir.path().join("link.yaml")).unwrap();
    std::fs::create_dir(dir.path().join("a-dir")).unwrap();
    let fifo = Command::new("mkfifo").arg(dir.path().join("fifo")).status().unwrap();
    assert!(fifo.success());
    for (target, what) in [
        ("link.yaml", "a symbolic link"),
        ("a-dir", "a directory"),
        ("fifo", "a device, FIFO or socket"),
        ("/dev/null", "a device, FIFO or socket"),
    ] {
        let out = osenv(dir.path())
            .args(["render", "config.yaml", "-o", target])
            .env("A", "value")
            .run();
        out.code(1);
        assert!(
            out.stderr.contains(&format!("will not replace `{target}`")) && out.stderr.contains(what),
            "{target}: {}",
            out.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(),
        "do not touch\n"
    );
    let link = std::fs::symlink_metadata(dir.path().join("link.yaml")).unwrap();
    assert!(link.file_type().is_symlink(), "the link is left as it was");
    // A regular file is replaced.
    std::fs::write(dir.path().join("out.yaml"), "old\n").unwrap();
    osenv(dir.path())
        .args(["render", "config.yaml", "-o", "out.yaml"])
        .env("A", "value")
        .run()
        .success();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.yaml")).unwrap(),
        "a: value\n"
    );
    let names = names_in(dir.path());
    assert!(!names.iter().any(|n| n.starts_with(".osenv-")), "{names:?}");
}

fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `osenv render config.yaml -o out.yaml` in `dir`, held by the debug build between writing the
/// temp file (every value already in it) and the rename, and that temp file's name.
#[allow(clippy::zombie_processes, reason = "the caller waits for the child it is handed")]
fn render_holding_the_temp_file(dir: &std::path::Path) -> (std::process::Child, String) {
    let mut child = osenv(dir)
        .args(["render", "config.yaml", "-o", "out.yaml"])
        .env("A", "value")
        .env("OSENV_TEST_HOLD_OUTPUT_MS", "20000")
        .into_command()
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        if let Some(temp) = names_in(dir).into_iter().find(|n| n.starts_with(".osenv-")) {
            return (child, temp);
        }
        if started.elapsed().as_secs() >= 15 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no temp file appeared");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A signal while the temp file (already holding every value) exists removes it: every fatal
/// one that can be caught (the adversary review found USR1, ALRM, XFSZ — `ulimit -f` — left it).
#[test]
fn a_signal_while_the_temp_file_exists_removes_it() {
    for signal in ["TERM", "INT", "HUP", "QUIT", "USR1", "USR2", "ALRM", "XFSZ", "XCPU"] {
        let dir = workdir(&[("config.yaml", CONFIG), ("out.yaml", "old: content\n")]);
        let (mut child, temp) = render_holding_the_temp_file(dir.path());
        assert!(
            temp.starts_with(&format!(".osenv-{}-", child.id())),
            "recognisable by its name: {temp}"
        );
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert!(!status.success(), "{signal}: {status:?}");
        assert_eq!(names_in(dir.path()), ["config.yaml", "out.yaml"], "{signal}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.yaml")).unwrap(),
            "old: content\n"
        );
    }
}

/// SIGKILL between the temp file and the rename (a pod's OOM kill, `kill -9`): nothing can
/// clean up, so what must hold is what is on disk: the output path still holds its old content,
/// and the temp file left behind (which holds every value) is private and recognisable by name.
#[test]
fn a_kill_between_temp_file_and_rename_leaves_the_old_output() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = workdir(&[("config.yaml", CONFIG), ("out.yaml", "old: content\n")]);
    let (mut child, temp) = render_holding_the_temp_file(dir.path());
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.yaml")).unwrap(),
        "old: content\n"
    );
    let mode = std::fs::metadata(dir.path().join(&temp)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{temp}");
    assert!(
        temp.starts_with(&format!(".osenv-{}-", child.id())) && temp.rsplit('.').next() == Some("tmp"),
        "{temp}"
    );
}

#[cfg(feature = "vault")]
#[test]
fn sigterm_while_waiting_leaves_the_old_file() {
    // A "server" that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let dir = workdir(&[
        (
            "config.yaml",
            "general_settings:\n  key_management_system: hashicorp_vault\na: os.environ/x\n",
        ),
        ("out.yaml", "old: content\n"),
    ]);
    let child = osenv(dir.path())
        .args(["render", "config.yaml", "-o", "out.yaml"])
        .env("HCP_VAULT_ADDR", &format!("http://{addr}"))
        .env("HCP_VAULT_TOKEN", "t")
        .into_command()
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.yaml")).unwrap(),
        "old: content\n"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["config.yaml", "out.yaml"]);
}
