//! The runtime image of `deploy/docker/Dockerfile`, as far as it can be tried without a
//! container engine: the release binary alone in an otherwise empty root filesystem holding
//! what distroless `cc-debian12:nonroot` holds (the C libraries the binary links, a CA bundle,
//! `/etc/passwd` with `nonroot`, `/tmp`), started as uid 65532, renders a config from Vault over
//! TLS verified by that bundle alone.

use crate::vault::{api, server};
use serde_json::json;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The files the dynamic loader needs for `binary`, as `ldd` lists them.
fn linked_libraries(binary: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd").arg(binary).output().expect("ldd runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next(),
                None => line.split_whitespace().next(),
            }?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

fn copy_into(root: &Path, file: &Path) {
    let target = root.join(file.strip_prefix("/").unwrap());
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(file, &target).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}

/// A root filesystem like the image's, with `ca_bundle` as its CA certificates.
fn image_root(ca_bundle: &str, config: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_osenv"));
    let dest = root.path().join("usr/local/bin/osenv");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(binary, &dest).unwrap();
    for library in linked_libraries(binary) {
        copy_into(root.path(), &library);
    }
    let etc = root.path().join("etc");
    std::fs::create_dir_all(etc.join("ssl/certs")).unwrap();
    std::fs::write(etc.join("ssl/certs/ca-certificates.crt"), ca_bundle).unwrap();
    std::fs::write(
        etc.join("passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(etc.join("group"), "root:x:0:\nnonroot:x:65532:\n").unwrap();
    std::fs::create_dir_all(root.path().join("tmp")).unwrap();
    std::fs::create_dir_all(root.path().join("home/nonroot")).unwrap();
    std::fs::write(root.path().join("config.yaml"), config).unwrap();
    // Readable by the unprivileged user, as the image's layers are.
    let chmod = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(root.path())
        .status()
        .unwrap();
    assert!(chmod.success());
    // As in the image: /tmp is world-writable and sticky.
    std::fs::set_permissions(root.path().join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    root
}

fn is_root() -> bool {
    Command::new(tool("id"))
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A system tool's path (the command runs with an empty environment, so without PATH).
fn tool(name: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed"))
}

/// Run the image's entrypoint with `args` inside `root`, as uid 65532: `chroot` as root, else
/// a user namespace (`unshare`). Neither being possible is a failure, not a skip.
fn run_in(root: &Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut command = if is_root {
        let mut c = Command::new(tool("chroot"));
        c.arg("--userspec=65532:65532").arg(root).arg("/usr/local/bin/osenv");
        c
    } else {
        let mut c = Command::new(tool("unshare"));
        c.arg("--map-root-user")
            .arg(format!("--root={}", root.display()))
            .arg("/usr/local/bin/osenv");
        c
    };
    command.args(args).env_clear().envs(env.iter().copied());
    let out = command.output().expect("chroot or unshare runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Operation not permitted") || stderr.contains("osenv"),
        "cannot enter the root filesystem here: {stderr}"
    );
    out
}

#[test]
fn the_runtime_image_renders_from_vault_over_tls_as_nonroot() {
    let Some(server) = server() else { return };
    api(
        &server,
        "POST",
        "secret/data/image/openai",
        Some(json!({"data": {"key": "sk-from-the-image"}})),
        None,
    );
    let config = "general_settings:\n  key_management_system: hashicorp_vault\napi_key: os.environ/image/openai\n";
    let env = [
        ("HCP_VAULT_ADDR", server.tls_addr.as_str()),
        ("HCP_VAULT_TOKEN", "root"),
    ];
    let ca = std::fs::read_to_string(server.certs.join("ca.pem")).unwrap();
    let root = image_root(&ca, config);
    let out = run_in(root.path(), &env, &["render", "/config.yaml"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "general_settings: {}\napi_key: sk-from-the-image\n"
    );

    // Written to the image's /tmp as nonroot, mode 0600.
    let out = run_in(root.path(), &env, &["render", "/config.yaml", "-o", "/tmp/config.yaml"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta = std::fs::metadata(root.path().join("tmp/config.yaml")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    if is_root() {
        // (In a user namespace the run is the invoking user, not 65532.)
        assert_eq!(meta.uid(), 65532);
    }

    // The bundle is what verifies the server: with a bundle that does not hold its CA, the
    // same run fails on the certificate.
    let unrelated = std::fs::read_to_string(server.certs.join("rogue.pem")).unwrap();
    let root = image_root(&unrelated, config);
    let out = run_in(root.path(), &env, &["render", "/config.yaml", "--deadline", "2"]);
    assert!(!out.status.success());
    // The cause line itself, not any mention of "certificate".
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid peer certificate: UnknownIssuer"), "{stderr}");
}
