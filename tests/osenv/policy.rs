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
        // Substituted per request: the request's identity would choose the secret.
        (
            "aws_secret_manager",
            "${aws:SourceIdentity}",
            &[("AWS_REGION", "us-east-1")][..],
        ),
        (
            "hashicorp_vault",
            "{{identity.entity.id}}/key",
            &[("VAULT_ADDR", "http://127.0.0.1:1")][..],
        ),
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
                .contains("which the policy language reads as a pattern or a substitution, or cannot hold as written"),
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

/// AWS: moto does not enforce IAM, so the test evaluates the document against every request
/// osenv made (recorded on the wire): each action on each secret's real ARN must be allowed.
mod aws {
    use crate::servers::{CountingProxy, Moto, moto, runtime};
    use crate::support::{osenv, workdir};
    use serde_json::Value;
    use std::collections::BTreeMap;

    /// IAM's wildcard match: `*` any run of characters, `?` one.
    fn matches(pattern: &[char], text: &[char]) -> bool {
        match (pattern.split_first(), text.split_first()) {
            (None, None) => true,
            (Some(('*', rest)), _) => matches(rest, text) || (!text.is_empty() && matches(pattern, &text[1..])),
            (Some(('?', rest)), Some((_, more))) => matches(rest, more),
            (Some((p, rest)), Some((t, more))) => p == t && matches(rest, more),
            _ => false,
        }
    }

    fn allowed(policy: &Value, action: &str, resource: &str) -> bool {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        policy["Statement"].as_array().unwrap().iter().any(|statement| {
            statement["Effect"] == "Allow"
                && statement["Action"].as_array().unwrap().iter().any(|a| a == action)
                && statement["Resource"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| matches(&chars(r.as_str().unwrap()), &chars(resource)))
        })
    }

    /// `(action, resource)` of every request: the resource is the secret's ARN (looked up
    /// in moto by name), `*` for the batch call, which also needs `GetSecretValue` per secret.
    fn needed(proxy: &CountingProxy, arns: &BTreeMap<String, String>) -> Vec<(String, String)> {
        let arn = |id: &str| arns.get(id).cloned().unwrap_or_else(|| id.to_owned());
        let mut needed = Vec::new();
        for (target, body) in proxy.bodies("X-Amz-Target") {
            let Some(operation) = target.strip_prefix("secretsmanager.") else {
                continue;
            };
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let action = format!("secretsmanager:{operation}");
            if operation == "BatchGetSecretValue" {
                needed.push((action, "*".to_owned()));
                for id in body["SecretIdList"].as_array().into_iter().flatten() {
                    needed.push(("secretsmanager:GetSecretValue".into(), arn(id.as_str().unwrap())));
                }
            } else {
                let id = body["SecretId"].as_str().or(body["Name"].as_str()).unwrap();
                needed.push((action, arn(id)));
            }
        }
        needed
    }

    #[test]
    fn the_iam_document_allows_every_request_osenv_makes_and_no_other_secret() {
        let Some(moto) = moto() else { return };
        let client = moto.secrets();
        let names = ["app/one", "app/two", "litellm/master", "app/other"];
        runtime().block_on(async {
            for name in names {
                client
                    .create_secret()
                    .name(name)
                    .secret_string(r#"{"field": "v1"}"#)
                    .send()
                    .await
                    .unwrap();
            }
            client
                .put_secret_value()
                .secret_id("app/two")
                .secret_string("v2")
                .send()
                .await
                .unwrap();
        });
        let config = "a: os.environ/app/one#field\nb: os.environ/app/two@AWSPREVIOUS\n\
             general_settings:\n  master_key: os.environ/litellm/master\n  key_management_system: aws_secret_manager\n  \
             key_management_settings:\n    access_mode: read_and_write\n";
        let other = format!("{config}c: os.environ/app/other\n");
        let dir = workdir(&[("config.yaml", config), ("other.yaml", &other)]);
        let d = dir.path();
        let policy = osenv(d)
            .args(["policy", "config.yaml", "--access", "read-write"])
            .envs(Moto::env(&moto.url))
            .run();
        policy.success();
        let document: Value = serde_json::from_str(&policy.stdout).unwrap();
        let proxy = CountingProxy::start(&moto.url, "X-Amz-Target");
        let run =
            |args: &[&str], stdin: Option<&str>| osenv(d).args(args).envs(Moto::env(&proxy.url)).stdin_opt(stdin).run();
        run(&["render", "config.yaml"], None).success();
        run(&["check", "config.yaml"], None).success();
        run(&["put", "config.yaml", "master"], Some("sk-master-7f3c9e2a51\n")).success();
        run(&["delete", "config.yaml", "master"], None).success();
        run(&["put", "config.yaml", "master"], Some("sk-master-0c5e3f8a\n")).success();
        let arns: BTreeMap<String, String> = runtime().block_on(async {
            let mut arns = BTreeMap::new();
            for name in names {
                let described = client.describe_secret().secret_id(name).send().await.unwrap();
                arns.insert(name.to_owned(), described.arn().unwrap().to_owned());
            }
            arns
        });
        let made = needed(&proxy, &arns);
        let operations: std::collections::BTreeSet<&str> = made.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            operations.into_iter().collect::<Vec<_>>(),
            [
                "secretsmanager:BatchGetSecretValue",
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:RestoreSecret",
            ]
        );
        for (action, resource) in &made {
            assert!(
                allowed(&document, action, resource),
                "{action} on {resource} is not allowed by\n{document:#}"
            );
        }
        // The evaluation can fail: a secret the config does not name, and writes under a read
        // policy, are not allowed.
        assert!(!allowed(&document, "secretsmanager:GetSecretValue", &arns["app/other"]));
        let read = osenv(d)
            .args(["policy", "config.yaml"])
            .envs(Moto::env(&moto.url))
            .run();
        let read: Value = serde_json::from_str(&read.stdout).unwrap();
        assert!(!allowed(
            &read,
            "secretsmanager:PutSecretValue",
            &arns["litellm/master"]
        ));
        assert!(allowed(&read, "secretsmanager:GetSecretValue", &arns["litellm/master"]));
        let proxy = CountingProxy::start(&moto.url, "X-Amz-Target");
        osenv(d)
            .args(["render", "other.yaml"])
            .envs(Moto::env(&proxy.url))
            .run()
            .success();
        let denied: Vec<_> = needed(&proxy, &arns)
            .into_iter()
            .filter(|(a, r)| !allowed(&document, a, r))
            .collect();
        assert_eq!(
            denied,
            [("secretsmanager:GetSecretValue".to_owned(), arns["app/other"].clone())]
        );
    }
}

/// The Conjur fake enforces `!permit` as Conjur does, for a host that holds nothing else: with
/// the generated policy loaded, the host reads, checks, writes, deletes and declares again the
/// config's variables; without one permit, exactly that reference is denied.
mod conjur {
    use crate::conjur::fake;
    use crate::support::{osenv, workdir};

    const CONFIG: &str = "a: os.environ/prod/openai/api-key\ngeneral_settings:\n  master_key: os.environ/litellm/master-key\n  \
         key_management_system: cyberark\n  key_management_settings:\n    access_mode: read_and_write\n";

    fn seeded(f: &crate::conjur::Fake) {
        f.seed("prod/openai/api-key", &["sk-openai-conjur"]);
        f.seed("litellm/master-key", &["sk-master-7f3c9e2a51"]);
        f.seed("prod/other", &["not granted"]);
    }

    #[test]
    fn the_fake_enforces_the_generated_policy_and_each_permit_is_needed() {
        let Some(f) = fake() else { return };
        seeded(&f);
        let other = format!("{CONFIG}c: os.environ/prod/other\n");
        let dir = workdir(&[("config.yaml", CONFIG), ("other.yaml", &other)]);
        let d = dir.path();
        let url = f.url.clone();
        let env = [
            ("CONJUR_APPLIANCE_URL", url.as_str()),
            ("CONJUR_AUTHN_LOGIN", "host/litellm/least"),
            ("CONJUR_AUTHN_API_KEY", "least-api-key"),
        ];
        let run = |args: &[&str], stdin: Option<&str>| osenv(d).args(args).envs(env).stdin_opt(stdin).run();
        // Before the policy, the host sees nothing.
        run(&["render", "config.yaml"], None).code(1);
        let policy = run(&["policy", "config.yaml", "--access", "read-write"], None);
        policy.success();
        assert_eq!(f.load_policy(&policy.stdout), 201, "{}", policy.stdout);
        let render = run(&["render", "config.yaml"], None);
        render.success();
        assert!(render.stdout.contains("a: sk-openai-conjur\n"), "{}", render.stdout);
        run(&["check", "config.yaml"], None).success();
        run(
            &["put", "config.yaml", "master-key"],
            Some("sk-master-rotated-0c5e3f8a\n"),
        )
        .success();
        run(&["delete", "config.yaml", "master-key", "--force"], None).success();
        run(
            &["put", "config.yaml", "master-key"],
            Some("sk-master-again-5d0e7b3c\n"),
        )
        .success();
        let denied = run(&["render", "other.yaml"], None);
        denied.code(1);
        let errors: Vec<&str> = denied.stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{}", denied.stderr);
        assert!(
            errors[0].starts_with("error: other.yaml:7:4: cannot resolve `os.environ/prod/other`"),
            "{}",
            denied.stderr
        );

        // Without the permit on one variable, exactly that reference is denied.
        drop(f);
        let Some(f) = fake() else { return };
        seeded(&f);
        let block = "- !permit\n  role: !host \"litellm/least\"\n  privileges: [ read, execute ]\n  resource: !variable \"prod/openai/api-key\"\n";
        let read = run(&["policy", "config.yaml"], None);
        read.success();
        assert!(read.stdout.contains(block), "{}", read.stdout);
        assert_eq!(f.load_policy(&read.stdout.replace(block, "")), 201);
        let run = osenv(d).args(["render", "config.yaml"]).envs(env).run();
        run.code(1);
        let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{}", run.stderr);
        assert!(
            errors[0].starts_with("error: config.yaml:1:4: cannot resolve `os.environ/prod/openai/api-key`"),
            "{}",
            run.stderr
        );
        // A read policy does not write.
        osenv(d)
            .args(["put", "config.yaml", "master-key"])
            .envs(env)
            .stdin("sk-master-x\n")
            .run()
            .code(1);
    }
}
