//! `osenv policy`: the least-privilege policy for a config's secrets, in each manager's
//! language; proven against real enforcement where a server here enforces it (OpenBao, the
//! Conjur fake's permission checks) and, for AWS, by evaluating the document against every
//! request osenv makes to moto.

use crate::support::{osenv, workdir};

/// A manager, its config's references (in its grammar) and the environment it needs.
type Manager = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

/// One config per manager.
const MANAGERS: &[Manager] = &[
    (
        "hashicorp_vault",
        "a: os.environ/litellm/openai#api_key\nb: os.environ/app/db@2#password\n",
        &[("VAULT_ADDR", "http://127.0.0.1:1"), ("VAULT_NAMESPACE", "team1")],
    ),
    (
        "aws_secret_manager",
        "a: os.environ/litellm/openai#api_key\nb: os.environ/app/db@AWSPREVIOUS\n",
        &[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ROLE_NAME", "arn:aws:iam::123456789012:role/litellm"),
        ],
    ),
    (
        "azure_key_vault",
        "a: os.environ/litellm-openai#api_key\nb: os.environ/db@0a1b2c\n",
        &[("AZURE_KEY_VAULT_URI", "https://litellm-kv.vault.azure.net")],
    ),
    (
        "google_secret_manager",
        "a: os.environ/litellm-openai#api_key\nb: os.environ/db@2\n",
        &[("GOOGLE_SECRET_MANAGER_PROJECT_ID", "my-project")],
    ),
    (
        "cyberark",
        "a: os.environ/litellm/openai\nb: os.environ/prod/db/password\n",
        &[
            ("CONJUR_AUTHN_LOGIN", "host/litellm/proxy"),
            ("CONJUR_APPLIANCE_URL", "http://127.0.0.1:1"),
        ],
    ),
];

fn config(system: &str, references: &str) -> String {
    format!(
        "{references}general_settings:\n  master_key: os.environ/{}\n  key_management_system: {system}\n  key_management_settings:\n    access_mode: read_and_write\n",
        if matches!(system, "azure_key_vault" | "google_secret_manager") {
            "litellm-master-key"
        } else {
            "litellm/master-key"
        }
    )
}

#[test]
fn each_manager_gets_its_own_language_for_exactly_the_configs_names() {
    for (system, references, env) in MANAGERS {
        let dir = workdir(&[("config.yaml", &config(system, references))]);
        for access in ["read", "read-write"] {
            let run = osenv(dir.path())
                .args(["policy", "config.yaml", "--access", access])
                .envs(env.iter().copied())
                .run();
            run.success();
            insta::assert_snapshot!(
                format!("{system}-{access}"),
                format!("{}--- stderr\n{}", run.stdout, run.stderr)
            );
        }
    }
}

#[test]
fn kms_policies_are_on_the_key() {
    let aws = "general_settings:\n  key_management_system: aws_kms\n  key_management_settings:\n    hosted_keys: [LITELLM_MASTER_KEY]\n";
    let google = aws.replace("aws_kms", "google_kms");
    let dir = workdir(&[("aws.yaml", aws), ("google.yaml", &google)]);
    let run = osenv(dir.path())
        .args(["policy", "aws.yaml"])
        .envs([("AWS_REGION", "us-east-1"), ("LITELLM_MASTER_KEY", "AQICAHh")])
        .run();
    run.success();
    insta::assert_snapshot!("aws_kms", format!("{}--- stderr\n{}", run.stdout, run.stderr));
    let run = osenv(dir.path())
        .args([
            "policy",
            "google.yaml",
            "--principal",
            "serviceAccount:litellm@my-project.iam.gserviceaccount.com",
        ])
        .envs([
            (
                "GOOGLE_KMS_RESOURCE_NAME",
                "projects/my-project/locations/global/keyRings/litellm/cryptoKeys/env",
            ),
            ("LITELLM_MASTER_KEY", "CiQA"),
        ])
        .run();
    run.success();
    insta::assert_snapshot!("google_kms", run.stdout);
}

/// A config may choose which secrets a policy grants, never widen it: a name holding the
/// language's wildcard is refused, with nothing printed.
#[test]
fn a_name_cannot_widen_the_policy() {
    for (system, name, env) in [
        ("hashicorp_vault", "app/*", &[("VAULT_ADDR", "http://127.0.0.1:1")][..]),
        (
            "hashicorp_vault",
            "app/+/db",
            &[("VAULT_ADDR", "http://127.0.0.1:1")][..],
        ),
        ("aws_secret_manager", "app/*", &[("AWS_REGION", "us-east-1")][..]),
        ("aws_secret_manager", "app?", &[("AWS_REGION", "us-east-1")][..]),
        (
            "cyberark",
            "app\\\"x",
            &[("CONJUR_APPLIANCE_URL", "http://127.0.0.1:1")][..],
        ),
    ] {
        let config = format!("a: os.environ/{name}\ngeneral_settings:\n  key_management_system: {system}\n");
        let dir = workdir(&[("config.yaml", &config)]);
        let run = osenv(dir.path())
            .args(["policy", "config.yaml"])
            .envs(env.iter().copied())
            .run();
        run.code(1);
        assert!(run.stdout.is_empty(), "{system} {name}: {}", run.stdout);
        assert!(
            run.stderr
                .contains("which the policy language reads as a pattern or cannot hold as written"),
            "{system} {name}: {}",
            run.stderr
        );
    }
}

#[test]
fn the_environment_needs_no_policy() {
    let dir = workdir(&[("config.yaml", "a: os.environ/A\n")]);
    let run = osenv(dir.path()).args(["policy", "config.yaml"]).run();
    run.code(1);
    assert_eq!(
        run.stderr,
        "error: the environment (no key_management_system in the config) does not support access policies: its values need none\n"
    );
}

/// OpenBao enforces the HCL: a token with only the generated policy (and `default`) renders,
/// checks and writes the config's secrets; with one stanza left out, exactly that reference
/// is denied.
mod vault {
    use crate::support::{osenv, workdir};
    use crate::vault::{api, seed, server, unique};
    use serde_json::{Value, json};

    fn token_with(server: &crate::vault::Server, name: &str, hcl: &str) -> String {
        api(
            server,
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(json!({ "policy": hcl })),
            None,
        );
        let created = api(
            server,
            "POST",
            "auth/token/create",
            Some(json!({ "policies": [name], "ttl": "5m" })),
            None,
        );
        created
            .pointer("/auth/client_token")
            .and_then(Value::as_str)
            .unwrap()
            .to_owned()
    }

    /// `hcl` without the stanza for `path`.
    fn without(hcl: &str, path: &str) -> String {
        let stanza = format!("path \"{path}\" {{");
        let start = hcl
            .find(&stanza)
            .unwrap_or_else(|| panic!("no stanza for {path} in\n{hcl}"));
        let end = start + hcl[start..].find("}\n").unwrap() + 2;
        format!("{}{}", &hcl[..start], &hcl[end..])
    }

    /// Seeded secrets, a config that reads three of them (a field, a version, the master
    /// key) and one more that reads a fourth, and the read-write policy of the first.
    fn setup(server: &crate::vault::Server) -> (tempfile::TempDir, String, String) {
        let base = unique("policy");
        seed(
            server,
            &format!("app/{base}/openai"),
            &json!({"key": "sk-openai-policy"}),
        );
        seed(server, &format!("app/{base}/db"), &json!({"password": "pw-one"}));
        seed(server, &format!("app/{base}/db"), &json!({"password": "pw-two"}));
        seed(
            server,
            &format!("litellm/{base}/master"),
            &json!({"key": "sk-master-7f3c9e2a51"}),
        );
        seed(server, &format!("app/{base}/other"), &json!({"key": "not granted"}));
        let config = format!(
            "a: os.environ/app/{base}/openai\nb: os.environ/app/{base}/db@1#password\n\
             general_settings:\n  master_key: os.environ/litellm/{base}/master\n  key_management_system: hashicorp_vault\n  \
             key_management_settings:\n    access_mode: read_and_write\n"
        );
        let other = format!("{config}c: os.environ/app/{base}/other\n");
        let dir = workdir(&[("config.yaml", &config), ("other.yaml", &other)]);
        let policy = osenv(dir.path())
            .args(["policy", "config.yaml", "--access", "read-write"])
            .env("HCP_VAULT_ADDR", &server.addr)
            .run();
        policy.success();
        (dir, base, policy.stdout.clone())
    }

    fn errors(stderr: &str) -> Vec<&str> {
        stderr.lines().filter(|l| l.starts_with("error:")).collect()
    }

    #[test]
    fn a_token_with_only_the_generated_policy_reads_checks_and_writes_and_nothing_more() {
        let Some(server) = server() else { return };
        let (dir, base, hcl) = setup(&server);
        let token = token_with(&server, &format!("osenv-{base}"), &hcl);
        let env = [
            ("HCP_VAULT_ADDR", server.addr.as_str()),
            ("HCP_VAULT_TOKEN", token.as_str()),
        ];
        let render = osenv(dir.path()).args(["render", "config.yaml"]).envs(env).run();
        render.success();
        assert!(render.stdout.contains("b: pw-one\n"), "{}", render.stdout);
        osenv(dir.path())
            .args(["check", "config.yaml"])
            .envs(env)
            .run()
            .success();
        // `put` writes the one name under the stored-key prefix (`litellm/`).
        osenv(dir.path())
            .args(["put", "config.yaml", &format!("{base}/master")])
            .envs(env)
            .stdin("sk-master-rotated-0c5e3f8a\n")
            .run()
            .success();
        // A name the policy was not made for is denied, at its reference, and only it.
        let run = osenv(dir.path()).args(["render", "other.yaml"]).envs(env).run();
        run.code(1);
        let errors = errors(&run.stderr);
        assert_eq!(errors.len(), 1, "{}", run.stderr);
        let denied = format!("error: other.yaml:8:4: cannot resolve `os.environ/app/{base}/other`: access denied");
        assert!(errors[0].starts_with(&denied), "{}", run.stderr);
        // A read policy does not write.
        let read = osenv(dir.path())
            .args(["policy", "config.yaml"])
            .env("HCP_VAULT_ADDR", &server.addr)
            .run();
        read.success();
        let token = token_with(&server, &format!("osenv-{base}-read"), &read.stdout);
        let env = [
            ("HCP_VAULT_ADDR", server.addr.as_str()),
            ("HCP_VAULT_TOKEN", token.as_str()),
        ];
        osenv(dir.path())
            .args(["render", "config.yaml"])
            .envs(env)
            .run()
            .success();
        osenv(dir.path())
            .args(["put", "config.yaml", &format!("{base}/master")])
            .envs(env)
            .stdin("sk-master-rotated-again\n")
            .run()
            .code(1);
    }

    /// Without the data path of one reference, `render` is denied exactly there; without its
    /// metadata path, `check` is.
    #[test]
    fn every_stanza_is_needed() {
        let Some(server) = server() else { return };
        let (dir, base, hcl) = setup(&server);
        let denied = format!("config.yaml:1:4: cannot resolve `os.environ/app/{base}/openai`: access denied");
        let data = format!("secret/data/app/{base}/openai");
        let token = token_with(&server, &format!("osenv-{base}-nodata"), &without(&hcl, &data));
        let env = [
            ("HCP_VAULT_ADDR", server.addr.as_str()),
            ("HCP_VAULT_TOKEN", token.as_str()),
        ];
        let run = osenv(dir.path()).args(["render", "config.yaml"]).envs(env).run();
        run.code(1);
        let errors = errors(&run.stderr);
        assert_eq!(errors.len(), 1, "{}", run.stderr);
        assert!(errors[0].starts_with(&format!("error: {denied}")), "{}", run.stderr);
        let metadata = format!("secret/metadata/app/{base}/openai");
        let token = token_with(&server, &format!("osenv-{base}-nometa"), &without(&hcl, &metadata));
        let env = [
            ("HCP_VAULT_ADDR", server.addr.as_str()),
            ("HCP_VAULT_TOKEN", token.as_str()),
        ];
        osenv(dir.path())
            .args(["render", "config.yaml"])
            .envs(env)
            .run()
            .success();
        let run = osenv(dir.path()).args(["check", "config.yaml"]).envs(env).run();
        run.code(1);
        assert!(run.stderr.contains(&denied), "{}", run.stderr);
    }
}
