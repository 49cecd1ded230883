//! Output-file hygiene: mode 0600 whatever the umask, a symlink at the output path is replaced
//! and not followed, and a run killed while it waits for its backend leaves the old file and no
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
fn a_symlink_at_the_output_path_is_replaced_not_followed() {
    let dir = workdir(&[("config.yaml", CONFIG), ("precious.txt", "do not touch\n")]);
    std::os::unix::fs::symlink(dir.path().join("precious.txt"), dir.path().join("out.yaml")).unwrap();
    let out = osenv(dir.path())
        .args(["render", "config.yaml", "-o", "out.yaml"])
        .env("A", "value")
        .into_command()
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(),
        "do not touch\n"
    );
    let meta = std::fs::symlink_metadata(dir.path().join("out.yaml")).unwrap();
    assert!(meta.file_type().is_file(), "the link was replaced by a file");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.yaml")).unwrap(),
        "a: value\n"
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
