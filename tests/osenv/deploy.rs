//! The deployment recipes in `deploy/`, tested as far as this machine allows (no container
//! engine, no cluster): every manifest and Helm values file is checked against the Kubernetes
//! OpenAPI schemas (kubernetes-validate, pinned in the test venv), `deploy/kubernetes/vault/setup.sh`
//! runs as written against the test OpenBao, and each recipe's osenv container runs with its own
//! arguments and environment in a simulated pod: its volumes are directories, its projected
//! service-account token is one the identity fake signs for the manifest's service account, and
//! Vault is the test OpenBao over TLS. Only the addresses are swapped for the test servers'.

use crate::servers::{Identity, identity, server_url};
use crate::vault::{Server, api, server};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The auth mount `setup.sh`'s `kubernetes` method is put at here, so that it leaves the mount
/// other tests use alone.
const MOUNT: &str = "deploy-kubernetes";

/// The values the recipes' references get, stored under `secret/litellm/<NAME>`.
const VALUES: &[(&str, &str)] = &[
    ("OPENAI_API_KEY", "sk-deploy-openai"),
    ("ANTHROPIC_API_KEY", "sk-ant-deploy"),
    ("LITELLM_MASTER_KEY", "sk-master-deploy"),
    ("PROXY_MASTER_KEY", "sk-proxy-master-deploy"),
    ("DATABASE_URL", "postgresql://litellm:pw@db:5432/litellm"),
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn python() -> Option<String> {
    server_url("OSENV_TEST_PYTHON", "the test venv (scripts/testbed)")
}

/// The YAML documents of a file, read by PyYAML (what the recipes' consumers use).
fn documents(py: &str, path: &Path) -> Vec<Value> {
    let out = Command::new(py)
        .args([
            "-c",
            "import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)",
        ])
        .arg(path)
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// kubernetes-validate --strict over `files`: (success, output).
fn validate(py: &str, files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(py)
        .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
        .args(files)
        .output()
        .expect("kubernetes-validate runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn manifests() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![repo("deploy/kubernetes")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The Vault side, once per test run: `setup.sh` with a `vault` command that speaks the HTTP
/// API, pointed at the identity fake as the cluster's TokenReview API; then the values.
fn vault_setup(py: &str, server: &Server, identity: &Identity) {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let bin = tempfile::tempdir().unwrap();
        let shim = bin.path().join("vault");
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\nexec '{py}' '{}' \"$@\"\n",
                repo("scripts/vault_cli_shim.py").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
        let out = Command::new("sh")
            .arg(repo("deploy/kubernetes/vault/setup.sh"))
            .env("PATH", path)
            .env("VAULT_ADDR", &server.addr)
            .env("VAULT_TOKEN", "root")
            .env("OSENV_SHIM_AUTH_MOUNT", MOUNT)
            .env("KUBERNETES_HOST", &identity.url)
            .env("KUBERNETES_CA_CERT", server.certs.join("ca.pem"))
            .env("TOKEN_REVIEWER_JWT", "reviewer")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "setup.sh: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for (name, value) in VALUES {
            api(
                server,
                "POST",
                &format!("secret/data/litellm/{name}"),
                Some(json!({"data": {"key": value}})),
                None,
            );
        }
    });
}

/// One pod of a manifest, simulated: each volume a directory under `root`, mounted where the
/// container mounts it.
struct Pod {
    root: tempfile::TempDir,
    namespace: String,
    service_account: String,
    volumes: BTreeMap<String, Value>,
}

impl Pod {
    fn new(namespace: &str, spec: &Value) -> Self {
        let volumes = spec["volumes"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|v| (v["name"].as_str().unwrap().to_owned(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let root = tempfile::tempdir().unwrap();
        // As a container's filesystem: anyone may walk it (the proxy runs as another user).
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Self {
            root,
            namespace: namespace.to_owned(),
            service_account: spec["serviceAccountName"].as_str().unwrap_or("default").to_owned(),
            volumes,
        }
    }

    fn host(&self, path: &str) -> PathBuf {
        self.root.path().join(path.trim_start_matches('/'))
    }

    /// Make `container`'s mounts exist, filled as Kubernetes would fill them: ConfigMap data
    /// (`configs`, by ConfigMap name), a projected token signed for the pod's service account
    /// and the volume's audience, Vault's CA.
    fn mount(
        &self,
        container: &Value,
        configs: &BTreeMap<String, BTreeMap<String, String>>,
        server: &Server,
        identity: &Identity,
    ) {
        for mount in container["volumeMounts"].as_array().into_iter().flatten() {
            let at = self.host(mount["mountPath"].as_str().unwrap());
            let volume = &self.volumes[mount["name"].as_str().unwrap()];
            std::fs::create_dir_all(&at).unwrap();
            if let Some(name) = volume.pointer("/configMap/name").and_then(Value::as_str) {
                let files = match name {
                    "vault-ca" => BTreeMap::from([(
                        "ca.crt".to_owned(),
                        std::fs::read_to_string(server.certs.join("ca.pem")).unwrap(),
                    )]),
                    other => configs
                        .get(other)
                        .unwrap_or_else(|| panic!("no ConfigMap {other}"))
                        .clone(),
                };
                for (file, text) in files {
                    std::fs::write(at.join(file), text).unwrap();
                }
            }
            for source in volume
                .pointer("/projected/sources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(token) = source.get("serviceAccountToken") {
                    let mut claims = json!({
                        "kind": "kubernetes",
                        "namespace": self.namespace,
                        "serviceaccount": self.service_account,
                    });
                    if let Some(audience) = token["audience"].as_str() {
                        claims["aud"] = json!([audience]);
                    }
                    let file = at.join(token["path"].as_str().unwrap());
                    std::fs::write(&file, identity.mint(&claims)).unwrap();
                    // The volume's defaultMode (YAML reads 0400 as the number 256), as the
                    // kubelet applies it; 0644 without one.
                    let mode = volume
                        .pointer("/projected/defaultMode")
                        .and_then(Value::as_u64)
                        .unwrap_or(0o644);
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(u32::try_from(mode).unwrap()))
                        .unwrap();
                }
            }
        }
    }

    /// `text` with the container's paths moved under the pod's root: each mount path where it
    /// starts a word (in an argument, a variable, or a shell command line).
    fn remap(&self, container: &Value, text: &str) -> String {
        let mut mounts: Vec<&str> = container["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| m["mountPath"].as_str().unwrap())
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        let mut out = String::new();
        let mut rest = text;
        'scan: while !rest.is_empty() {
            let at_word = out.is_empty() || out.ends_with([' ', '=', '"', '\'', '@']);
            if at_word {
                for mount in &mounts {
                    if rest.starts_with(mount) {
                        out.push_str(self.host(mount).to_str().unwrap());
                        rest = &rest[mount.len()..];
                        continue 'scan;
                    }
                }
            }
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    /// The container's environment, its paths remapped and Vault's address the test server's.
    fn env(&self, container: &Value, server: &Server) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let (name, value) = (e["name"].as_str().unwrap(), e["value"].as_str().unwrap());
                let value = match name {
                    "HCP_VAULT_ADDR" | "VAULT_ADDR" => server.tls_addr.clone(),
                    _ => self.remap(container, value),
                };
                (name.to_owned(), value)
            })
            .collect();
        env.push(("HCP_VAULT_K8S_MOUNT_PATH".into(), MOUNT.into()));
        env
    }

    /// Run `argv` (osenv or a shell) as the container would, in `cwd`.
    fn run(&self, container: &Value, server: &Server, argv: &[String], cwd: &Path) -> std::process::Output {
        let osenv = Path::new(env!("CARGO_BIN_EXE_osenv"));
        let path = format!("{}:/usr/bin:/bin", osenv.parent().unwrap().display());
        let argv: Vec<String> = argv.iter().map(|a| self.remap(container, a)).collect();
        let program = if argv[0] == "osenv" {
            osenv.to_str().unwrap()
        } else {
            argv[0].as_str()
        };
        Command::new(program)
            .args(&argv[1..])
            .env_clear()
            .env("PATH", path)
            .envs(self.env(container, server))
            .current_dir(cwd)
            .output()
            .expect("runs")
    }
}

/// The ConfigMaps of a set of documents: name -> file -> text.
fn config_maps(docs: &[Value]) -> BTreeMap<String, BTreeMap<String, String>> {
    docs.iter()
        .filter(|d| d["kind"] == "ConfigMap")
        .map(|d| {
            let data = d["data"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            (d["metadata"]["name"].as_str().unwrap().to_owned(), data)
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// The stand-in for LiteLLM's entrypoint in the exec recipes: prints its arguments, its user,
/// `READ: path` for each of `credentials` it can open, and the environment it was started with.
fn entrypoint_stub(app: &Path, credentials: &[PathBuf]) {
    std::fs::create_dir_all(app.join("docker")).unwrap();
    let stub = app.join("docker/prod_entrypoint.sh");
    let mut script = String::from("#!/bin/sh\necho \"ARGS: $*\"\necho \"UID: $(id -u) GROUPS: $(id -G)\"\n");
    for path in credentials {
        let _ = writeln!(
            script,
            "if cat '{0}' >/dev/null 2>&1; then echo 'READ: {0}'; fi",
            path.display()
        );
    }
    script.push_str("env\n");
    std::fs::write(&stub, script).unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every file of the container's projected volumes (the tokens osenv logs in with).
fn projected_files(pod: &Pod, container: &Value) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for mount in container["volumeMounts"].as_array().into_iter().flatten() {
        let volume = &pod.volumes[mount["name"].as_str().unwrap()];
        if volume.get("projected").is_some() {
            let dir = pod.host(mount["mountPath"].as_str().unwrap());
            files.extend(walk(&dir).into_iter().map(PathBuf::from).filter(|p| p.is_file()));
        }
    }
    files
}

/// The proxy of an exec recipe holds no manager credential: it runs as another user than
/// osenv (`--user`), cannot open any token file osenv used, and finds no login material in its
/// environment (every row of osenv's provenance table that `exec` withholds).
fn assert_the_proxy_holds_no_credential(stdout: &str, credentials: &[PathBuf]) {
    assert!(!credentials.is_empty(), "the recipe logs in with a projected token");
    let user = stdout
        .lines()
        .find_map(|l| l.strip_prefix("UID: "))
        .expect("the stub ran");
    assert!(
        user.starts_with("65532 GROUPS: 65532"),
        "the proxy runs as osenv's --user alone: {user}"
    );
    for path in credentials {
        assert!(
            !stdout.contains(&format!("READ: {}", path.display())),
            "the proxy read {}",
            path.display()
        );
    }
    for row in osenv::provenance::TABLE
        .iter()
        .filter(|r| r.exec() != osenv::provenance::Exec::Pass)
    {
        assert!(
            !stdout.contains(&format!("\n{}=", row.name())),
            "{} reached the proxy",
            row.name()
        );
    }
}

struct Servers {
    py: String,
    vault: Server,
    identity: Identity,
}

fn servers() -> Option<Servers> {
    let servers = Servers {
        py: python()?,
        vault: server()?,
        identity: identity()?,
    };
    vault_setup(&servers.py, &servers.vault, &servers.identity);
    Some(servers)
}

#[test]
fn every_manifest_and_values_file_is_valid_against_the_kubernetes_schemas() {
    let Some(py) = python() else { return };
    let files = manifests();
    assert!(files.len() >= 7, "{files:?}");
    let (ok, output) = validate(&py, &files);
    assert!(ok, "{output}");

    // The validator can fail: a field Kubernetes does not have, and a wrong type.
    let broken = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(repo("deploy/kubernetes/init-container/config.yaml")).unwrap();
    for (what, from, to) in [
        (
            "unknown field",
            "medium: Memory",
            "medium: Memory\n            mode: \"0600\"",
        ),
        ("wrong type", "replicas: 3", "replicas: three"),
    ] {
        assert!(original.contains(from));
        let file = broken.path().join("broken.yaml");
        std::fs::write(&file, original.replacen(from, to, 1)).unwrap();
        let (ok, output) = validate(&py, &[file]);
        assert!(!ok, "{what} passed: {output}");
    }

    // The Helm values become the proxy's pod spec (the parts the chart copies verbatim).
    for values in ["deploy/helm/values-exec.yaml", "deploy/helm/values-render.yaml"] {
        let v = &documents(&py, &repo(values))[0];
        let env: Vec<Value> = v["envVars"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, val)| json!({"name": k, "value": val}))
            .collect();
        let mut mounts = v["volumeMounts"].as_array().unwrap().clone();
        mounts
            .push(json!({"name": "litellm-config", "mountPath": "/etc/litellm/config.yaml", "subPath": "config.yaml"}));
        let mut volumes = v["volumes"].as_array().unwrap().clone();
        volumes.push(json!({"name": "litellm-config", "configMap": {"name": "litellm-config"}}));
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "litellm", "namespace": "litellm"},
            "spec": {
                "serviceAccountName": v["serviceAccount"]["name"],
                "automountServiceAccountToken": v["serviceAccount"]["automount"],
                "containers": [{
                    "name": "litellm",
                    "image": format!("{}:{}", v["image"]["repository"].as_str().unwrap(), v["image"]["tag"].as_str().unwrap()),
                    "command": v["command"],
                    "args": v["args"],
                    "env": env,
                    "volumeMounts": mounts,
                }],
                "volumes": volumes,
            },
        });
        let file = broken.path().join("pod.json");
        std::fs::write(&file, pod.to_string()).unwrap();
        let (ok, output) = validate(&py, &[file]);
        assert!(ok, "{values}: {output}");
    }
}

#[test]
fn the_init_container_renders_the_config_into_memory_with_the_pods_own_token() {
    let Some(s) = servers() else { return };
    let docs = documents(&s.py, &repo("deploy/kubernetes/init-container/config.yaml"));
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let spec = &deployment["spec"]["template"]["spec"];
    let pod = Pod::new(deployment["metadata"]["namespace"].as_str().unwrap(), spec);
    let init = &spec["initContainers"][0];
    let proxy = &spec["containers"][0];
    pod.mount(init, &config_maps(&docs), &s.vault, &s.identity);
    pod.mount(proxy, &config_maps(&docs), &s.vault, &s.identity);

    let mut argv = vec!["osenv".to_owned()];
    argv.extend(strings(&init["args"]));
    let out = pod.run(init, &s.vault, &argv, pod.root.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The proxy's --config is the init container's -o, on the same in-memory volume.
    let output = &argv[argv.iter().position(|a| a == "-o").unwrap() + 1];
    let proxy_args = strings(&proxy["args"]);
    let config = &proxy_args[proxy_args.iter().position(|a| a == "--config").unwrap() + 1];
    assert_eq!(config, output);
    let rendered = pod.host(output);
    let mode = std::fs::metadata(&rendered).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let volume = &pod.volumes["rendered"];
    assert_eq!(volume["emptyDir"]["medium"], "Memory");

    let text = std::fs::read_to_string(&rendered).unwrap();
    let parsed = &documents(&s.py, &rendered)[0];
    assert_eq!(
        parsed["model_list"][0]["litellm_params"]["api_key"], "sk-deploy-openai",
        "{text}"
    );
    assert_eq!(parsed["model_list"][1]["litellm_params"]["api_key"], "sk-ant-deploy");
    assert_eq!(parsed["general_settings"]["master_key"], "sk-master-deploy");
    assert_eq!(
        parsed["general_settings"]["database_url"],
        "postgresql://litellm:pw@db:5432/litellm"
    );
    assert!(
        !text.contains("key_management_system"),
        "LiteLLM must not set up Vault itself: {text}"
    );

    // A token for another service account is refused by the role setup.sh made.
    let intruder = s
        .identity
        .mint(&json!({"kind": "kubernetes", "namespace": "litellm", "serviceaccount": "intruder", "aud": ["vault"]}));
    std::fs::write(pod.host("/var/run/secrets/vault/token"), &intruder).unwrap();
    let out = pod.run(init, &s.vault, &argv, pod.root.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("service account name not authorized"), "{stderr}");
    // And one for another audience (the API server's default token, say).
    let other = s
        .identity
        .mint(&json!({"kind": "kubernetes", "namespace": "litellm", "serviceaccount": "litellm"}));
    std::fs::write(pod.host("/var/run/secrets/vault/token"), &other).unwrap();
    let out = pod.run(init, &s.vault, &argv, pod.root.path());
    assert!(!out.status.success(), "a token for another audience logged in");
}

#[test]
fn the_exec_recipe_starts_the_proxy_with_the_values_in_its_environment_only() {
    let Some(s) = servers() else { return };
    let docs = documents(&s.py, &repo("deploy/kubernetes/exec/config.yaml"));
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let spec = &deployment["spec"]["template"]["spec"];
    let pod = Pod::new(deployment["metadata"]["namespace"].as_str().unwrap(), spec);
    let proxy = &spec["containers"][0];
    pod.mount(proxy, &config_maps(&docs), &s.vault, &s.identity);
    let config = config_maps(&docs)["litellm-config"]["config.yaml"].clone();
    assert!(!config.contains("key_management_system"), "{config}");

    let app = pod.host("/app");
    let credentials = projected_files(&pod, proxy);
    entrypoint_stub(&app, &credentials);
    let mut argv = strings(&proxy["command"]);
    argv.extend(strings(&proxy["args"]));
    let before = walk(pod.root.path());
    let out = pod.run(proxy, &s.vault, &argv, &app);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}{stdout}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("ARGS: --config "), "{stdout}");
    for (name, value) in VALUES
        .iter()
        .filter(|(n, _)| config.contains(&format!("os.environ/{n}")))
    {
        assert!(stdout.contains(&format!("\n{name}={value}\n")), "{name}: {stdout}");
    }
    assert_the_proxy_holds_no_credential(&stdout, &credentials);
    // Nothing was written: the pod's volumes hold what Kubernetes put there and no more.
    assert_eq!(walk(pod.root.path()), before);
}

#[test]
fn the_secret_job_writes_a_secret_for_the_proxy_and_its_migrations() {
    let Some(s) = servers() else { return };
    let docs = documents(&s.py, &repo("deploy/kubernetes/secret-job/job.yaml"));
    let job = docs.iter().find(|d| d["kind"] == "Job").unwrap();
    let role = docs.iter().find(|d| d["kind"] == "Role").unwrap();
    let spec = &job["spec"]["template"]["spec"];
    let pod = Pod::new(job["metadata"]["namespace"].as_str().unwrap(), spec);
    let init = &spec["initContainers"][0];
    // The Job reads the ConfigMap of the init-container recipe (either recipe's works).
    let configs = config_maps(&documents(&s.py, &repo("deploy/kubernetes/init-container/config.yaml")));
    pod.mount(init, &configs, &s.vault, &s.identity);
    let mut argv = vec!["osenv".to_owned()];
    argv.extend(strings(&init["args"]));
    let out = pod.run(init, &s.vault, &argv, pod.root.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let secret_file = pod.host(&argv[argv.iter().position(|a| a == "-o").unwrap() + 1]);
    let (ok, output) = validate(&s.py, std::slice::from_ref(&secret_file));
    assert!(ok, "{output}");
    let secret = &documents(&s.py, &secret_file)[0];
    // The Secret is the one the Role lets the Job change, in the Job's namespace.
    let names = strings(&role["rules"][1]["resourceNames"]);
    assert_eq!(names, [secret["metadata"]["name"].as_str().unwrap()]);
    assert_eq!(secret["metadata"]["namespace"], job["metadata"]["namespace"]);
    let data = secret["data"].as_object().unwrap();
    for (name, value) in VALUES.iter().filter(|(n, _)| data.contains_key(*n)) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(data[*name].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, value.as_bytes(), "{name}");
    }
    assert!(
        data.contains_key("DATABASE_URL"),
        "the migration job needs it: {data:?}"
    );
}

#[test]
fn the_helm_values_run_as_the_chart_would_start_them() {
    let Some(s) = servers() else { return };
    for values in ["deploy/helm/values-exec.yaml", "deploy/helm/values-render.yaml"] {
        let v = &documents(&s.py, &repo(values))[0];
        // The chart's container, as far as these values shape it.
        let env: Vec<Value> = v["envVars"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, val)| json!({"name": k, "value": val}))
            .collect();
        let mut mounts = v["volumeMounts"].as_array().unwrap().clone();
        mounts.push(json!({"name": "litellm-config", "mountPath": "/etc/litellm"}));
        let mut volumes = v["volumes"].as_array().unwrap().clone();
        volumes.push(json!({"name": "litellm-config", "configMap": {"name": "litellm-config"}}));
        let spec = json!({"serviceAccountName": v["serviceAccount"]["name"], "volumes": volumes});
        let container = json!({"env": env, "volumeMounts": mounts});
        let pod = Pod::new("litellm", &spec);
        // The chart writes proxy_config as the ConfigMap's config.yaml.
        let config = serde_json::to_string(&v["proxy_config"]).unwrap();
        let configs = BTreeMap::from([(
            "litellm-config".to_owned(),
            BTreeMap::from([("config.yaml".to_owned(), config)]),
        )]);
        pod.mount(&container, &configs, &s.vault, &s.identity);
        let app = pod.host("/app");
        let credentials = projected_files(&pod, &container);
        entrypoint_stub(&app, &credentials);
        let mut argv = strings(&v["command"]);
        argv.extend(strings(&v["args"]));
        let out = pod.run(&container, &s.vault, &argv, &app);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{values}: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        if values.ends_with("exec.yaml") {
            assert!(stdout.contains("\nOPENAI_API_KEY=sk-deploy-openai\n"), "{stdout}");
            assert!(
                stdout.contains("\nPROXY_MASTER_KEY=sk-proxy-master-deploy\n"),
                "{stdout}"
            );
            assert_the_proxy_holds_no_credential(&stdout, &credentials);
        } else {
            let rendered = pod.host("/run/litellm/config.yaml");
            let parsed = &documents(&s.py, &rendered)[0];
            assert_eq!(parsed["model_list"][0]["litellm_params"]["api_key"], "sk-deploy-openai");
            assert!(parsed["general_settings"].get("key_management_system").is_none());
            assert!(
                stdout.contains(&format!("ARGS: --config {}", rendered.display())),
                "{stdout}"
            );
            // The proxy's environment holds no value (they are in the rendered file only).
            assert!(!stdout.contains("sk-deploy-openai"), "{stdout}");
        }
    }
}

fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path.clone());
            }
            found.push(path.display().to_string());
        }
    }
    found.sort();
    found
}
