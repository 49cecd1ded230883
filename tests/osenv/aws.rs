//! AWS Secrets Manager and KMS, end to end against a real moto server.

use crate::servers::{CountingProxy, Moto, moto, runtime};
use crate::support::{Run, assert_message, osenv, workdir};
use aws_sdk_secretsmanager::primitives::Blob;
use std::fmt::Write as _;
use std::path::Path;

const SM: &str = "general_settings:\n  key_management_system: aws_secret_manager\n";

fn run_with(dir: &Path, endpoint: &str, args: &[&str], extra: &[(&str, &str)], stdin: Option<&str>) -> Run {
    osenv(dir)
        .args(args)
        .envs(Moto::env(endpoint))
        .envs(extra.iter().copied())
        .stdin_opt(stdin)
        .run()
}

fn seed(moto: &Moto, secrets: &[(&str, &str)]) {
    let client = moto.secrets();
    runtime().block_on(async {
        for (name, value) in secrets {
            client
                .create_secret()
                .name(*name)
                .secret_string(*value)
                .send()
                .await
                .expect("seed secret");
        }
    });
}

#[test]
fn many_references_cost_one_batch_request_per_twenty_names() {
    let Some(moto) = moto() else { return };
    let names: Vec<String> = (0..45).map(|i| format!("app/key-{i:02}")).collect();
    let values: Vec<String> = (0..45).map(|i| format!("value-{i:02}")).collect();
    seed(
        &moto,
        &names
            .iter()
            .zip(&values)
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    );
    // Every name twice: duplicates are fetched once.
    let mut config = format!("{SM}model_list:\n");
    for name in names.iter().chain(&names) {
        writeln!(config, "  - litellm_params:\n      api_key: os.environ/{name}").unwrap();
    }
    let dir = workdir(&[("config.yaml", &config)]);
    let proxy = CountingProxy::start(&moto.url, "X-Amz-Target");
    let out = run_with(dir.path(), &proxy.url, &["render", "config.yaml"], &[], None);
    out.success();
    for (i, value) in values.iter().enumerate() {
        assert_eq!(
            out.stdout.matches(&format!("api_key: {value}\n")).count(),
            2,
            "value {i}"
        );
    }
    assert_eq!(
        proxy.counts().into_iter().collect::<Vec<_>>(),
        [("secretsmanager.BatchGetSecretValue".to_owned(), 3)],
        "45 distinct names must cost ceil(45/20) = 3 reads"
    );
}

#[test]
fn missing_deleted_binary_and_arn_references() {
    let Some(moto) = moto() else { return };
    seed(
        &moto,
        &[("present", "p-value"), ("doomed", "d-value"), ("json", r#"{"a": 1}"#)],
    );
    let client = moto.secrets();
    let arn = runtime().block_on(async {
        client
            .delete_secret()
            .secret_id("doomed")
            .recovery_window_in_days(7)
            .send()
            .await
            .unwrap();
        client
            .create_secret()
            .name("bin-text")
            .secret_binary(Blob::new(b"bin-value".to_vec()))
            .send()
            .await
            .unwrap();
        client
            .create_secret()
            .name("bin-raw")
            .secret_binary(Blob::new(vec![0xff, 0x00, 0xfe]))
            .send()
            .await
            .unwrap();
        client
            .describe_secret()
            .secret_id("present")
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_owned()
    });
    let config = format!(
        "{SM}a: os.environ/present\nb: os.environ/doomed\nc: os.environ/absent\nd: os.environ/json\n\
         e: os.environ/bin-text\nf: os.environ/bin-raw\ng: os.environ/{arn}\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let out = run_with(dir.path(), &moto.url, &["render", "config.yaml"], &[], None);
    out.code(1);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 4, "{}", out.stderr);
    assert!(
        errors[0].starts_with(
            "error: config.yaml:4:4: cannot resolve `os.environ/doomed`: unavailable in aws_secret_manager ("
        ),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].ends_with("the secret is scheduled for deletion (restore it with RestoreSecret)"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with(
            "error: config.yaml:5:4: cannot resolve `os.environ/absent`: not found in aws_secret_manager ("
        ),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].starts_with("error: config.yaml:8:4: cannot resolve `os.environ/bin-raw`"),
        "{}",
        errors[2]
    );
    assert!(
        errors[2].contains("binary (SecretBinary) and not UTF-8"),
        "{}",
        errors[2]
    );
    assert_eq!(errors[3], "error: 3 references could not be resolved");
    assert!(out.stdout.is_empty(), "no partial output");
    for value in ["p-value", "d-value", "bin-value"] {
        assert!(!out.stderr.contains(value), "a value leaked: {}", out.stderr);
    }

    let config =
        format!("{SM}a: os.environ/present\nd: os.environ/json\ne: os.environ/bin-text\ng: os.environ/{arn}\n");
    let dir = workdir(&[("config.yaml", &config)]);
    let out = run_with(dir.path(), &moto.url, &["render", "config.yaml"], &[], None);
    out.success();
    assert_eq!(
        out.stdout,
        "general_settings: {}\na: p-value\nd: \"{\\\"a\\\": 1}\"\ne: bin-value\ng: p-value\n"
    );
}

#[test]
fn primary_secret_is_read_once_and_looked_up_per_name() {
    let Some(moto) = moto() else { return };
    seed(
        &moto,
        &[(
            "litellm-primary",
            r#"{"OPENAI_API_KEY": "sk-o", "PORT": 5432, "NESTED": {"k": [1, true]}}"#,
        )],
    );
    let config = format!(
        "{SM}  key_management_settings:\n    primary_secret_name: litellm-primary\n\
         a: os.environ/OPENAI_API_KEY\nd: os.environ/OPENAI_API_KEY\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let proxy = CountingProxy::start(&moto.url, "X-Amz-Target");
    let out = run_with(dir.path(), &proxy.url, &["render", "config.yaml"], &[], None);
    out.success();
    assert_eq!(out.stdout, "general_settings: {}\na: sk-o\nd: sk-o\n");
    assert_eq!(proxy.count("secretsmanager.GetSecretValue"), 1, "{:?}", proxy.counts());

    // A value that is not a JSON string is `None` to LiteLLM; osenv refuses it, by name.
    let typed = format!("{config}b: os.environ/PORT\nc: os.environ/NESTED\n");
    std::fs::write(dir.path().join("config.yaml"), &typed).unwrap();
    let out = run_with(dir.path(), &moto.url, &["render", "config.yaml"], &[], None);
    out.code(1);
    assert_message!("primary_values_that_are_not_strings", out.stderr);
    assert!(!out.stderr.contains("5432"), "{}", out.stderr);

    let config = format!("{config}e: os.environ/MISSING\n");
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let out = run_with(dir.path(), &moto.url, &["render", "config.yaml"], &[], None);
    out.code(1);
    assert_message!("not_in_the_primary_secret", out.stderr);
    assert!(!out.stderr.contains("sk-o"));
}

#[test]
fn check_describes_secrets_without_reading_them() {
    let Some(moto) = moto() else { return };
    seed(&moto, &[("one", "v1"), ("two", "v2")]);
    let config = format!("{SM}a: os.environ/one\nb: os.environ/two\nc: os.environ/three\n");
    let dir = workdir(&[("config.yaml", &config)]);
    let proxy = CountingProxy::start(&moto.url, "X-Amz-Target");
    let out = run_with(dir.path(), &proxy.url, &["check", "config.yaml"], &[], None);
    out.code(1);
    assert_message!("check_a_missing_secret", out.stderr);
    assert_eq!(
        proxy.counts().into_iter().collect::<Vec<_>>(),
        [("secretsmanager.DescribeSecret".to_owned(), 3)]
    );
    assert!(!out.stdout.contains("v1") && !out.stdout.contains("v2"));
}

/// LiteLLM reads a `hosted_keys` `LITELLM_MASTER_KEY` from the manager and refuses to boot with
/// a publicly known one: `check` reads that one value (it only describes the others) and
/// refuses it at the entry; `exec` starts nothing.
#[test]
fn a_hosted_master_key_is_judged_by_its_value_in_the_manager() {
    let Some(moto) = moto() else { return };
    seed(&moto, &[("LITELLM_MASTER_KEY", "sk-1234"), ("one", "v1")]);
    let config =
        format!("{SM}  key_management_settings:\n    hosted_keys: [LITELLM_MASTER_KEY, one]\na: os.environ/one\n");
    let dir = workdir(&[("config.yaml", &config)]);
    let d = dir.path();
    let proxy = CountingProxy::start(&moto.url, "X-Amz-Target");
    let out = run_with(d, &proxy.url, &["check", "config.yaml"], &[], None);
    out.code(1);
    assert!(
        out.stderr.starts_with(
            "error: config.yaml:4:19: `LITELLM_MASTER_KEY`: LiteLLM 1.110.2 refuses to start: the master key is a publicly known default (sk-1234)"
        ),
        "{}",
        out.stderr
    );
    let counts: Vec<(String, usize)> = proxy.counts().into_iter().collect();
    assert_eq!(
        counts
            .iter()
            .find(|(op, _)| op == "secretsmanager.DescribeSecret")
            .map(|c| c.1),
        Some(2),
        "{counts:?}"
    );
    let reads: usize = counts
        .iter()
        .filter(|(op, _)| op.contains("GetSecretValue"))
        .map(|c| c.1)
        .sum();
    assert_eq!(reads, 1, "{counts:?}");
    let out = run_with(
        d,
        &moto.url,
        &["exec", "config.yaml", "--", "sh", "-c", "touch started"],
        &[],
        None,
    );
    out.code(1);
    assert!(!d.join("started").exists());
    let client = moto.secrets();
    runtime().block_on(async {
        client
            .put_secret_value()
            .secret_id("LITELLM_MASTER_KEY")
            .secret_string("sk-7f3c9e2a51")
            .send()
            .await
            .unwrap();
    });
    run_with(d, &moto.url, &["check", "config.yaml"], &[], None).success();
}

/// The README's master-key rotation: `put` stores a new version; the rendered config has the
/// new master key and the old one as `LITELLM_MIGRATE_FROM_MASTER_KEY` (`@AWSPREVIOUS`).
#[test]
fn the_master_key_rotation_recipe_renders_the_new_key_and_the_one_to_migrate_from() {
    let Some(moto) = moto() else { return };
    seed(&moto, &[("litellm/master-key", "sk-old-5d0e7b3c19a84f62")]);
    let config = "general_settings:\n  master_key: os.environ/litellm/master-key\n  key_management_system: aws_secret_manager\n  \
         key_management_settings:\n    access_mode: read_and_write\n\
         environment_variables:\n  LITELLM_MIGRATE_FROM_MASTER_KEY: os.environ/litellm/master-key@AWSPREVIOUS\n";
    let dir = workdir(&[("config.yaml", config)]);
    let d = dir.path();
    run_with(
        d,
        &moto.url,
        &["put", "config.yaml", "master-key"],
        &[],
        Some("sk-new-0c5e3f8a7b21d946\n"),
    )
    .success();
    let out = run_with(d, &moto.url, &["render", "config.yaml"], &[], None);
    out.success();
    assert_eq!(
        out.stdout,
        "general_settings:\n  master_key: sk-new-0c5e3f8a7b21d946\nenvironment_variables:\n  LITELLM_MIGRATE_FROM_MASTER_KEY: sk-old-5d0e7b3c19a84f62\n"
    );
}

#[test]
fn batch_reads_can_be_turned_off() {
    let Some(moto) = moto() else { return };
    seed(&moto, &[("one", "v1"), ("two", "v2")]);
    let config =
        format!("{SM}  key_management_settings:\n    aws_batch_reads: false\na: os.environ/one\nb: os.environ/two\n");
    let dir = workdir(&[("config.yaml", &config)]);
    let proxy = CountingProxy::start(&moto.url, "X-Amz-Target");
    run_with(dir.path(), &proxy.url, &["render", "config.yaml"], &[], None).success();
    assert_eq!(
        proxy.counts().into_iter().collect::<Vec<_>>(),
        [("secretsmanager.GetSecretValue".to_owned(), 2)]
    );
}

#[test]
fn write_read_overwrite_delete_restore() {
    let Some(moto) = moto() else { return };
    let config = format!(
        "{SM}  key_management_settings:\n    access_mode: read_and_write\n    description: stored by osenv\n    tags: {{team: ml}}\n    replica_regions: [eu-west-1]\n\
         key: os.environ/litellm/virtual-key\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let d = dir.path();
    let render = || run_with(d, &moto.url, &["render", "config.yaml"], &[], None);

    run_with(
        d,
        &moto.url,
        &["put", "config.yaml", "virtual-key"],
        &[],
        Some("sk-first\n"),
    )
    .success();
    assert!(render().success().stdout.contains("key: sk-first\n"));
    let described = runtime()
        .block_on(moto.secrets().describe_secret().secret_id("litellm/virtual-key").send())
        .unwrap();
    assert_eq!(described.description(), Some("stored by osenv"));
    assert_eq!(
        described.tags().first().map(|t| (t.key(), t.value())),
        Some((Some("team"), Some("ml")))
    );
    // `replica_regions`: ReplicateSecretToRegions after the create.
    assert_eq!(
        described
            .replication_status()
            .iter()
            .map(|r| r.region())
            .collect::<Vec<_>>(),
        [Some("eu-west-1")]
    );

    run_with(
        d,
        &moto.url,
        &["put", "config.yaml", "virtual-key"],
        &[],
        Some("sk-second"),
    )
    .success();
    assert!(render().success().stdout.contains("key: sk-second\n"));

    run_with(d, &moto.url, &["delete", "config.yaml", "virtual-key"], &[], None).success();
    let out = render();
    out.code(1);
    assert_message!("scheduled_for_deletion", out.stderr);

    // Writing a secret scheduled for deletion restores it first.
    run_with(
        d,
        &moto.url,
        &["put", "config.yaml", "virtual-key"],
        &[],
        Some("sk-third"),
    )
    .success();
    assert!(render().success().stdout.contains("key: sk-third\n"));

    run_with(
        d,
        &moto.url,
        &["delete", "config.yaml", "virtual-key", "--force"],
        &[],
        None,
    )
    .success();
    let out = render();
    out.code(1);
    assert_message!("force_deleted", out.stderr);

    let out = run_with(d, &moto.url, &["delete", "config.yaml", "virtual-key"], &[], None);
    out.code(1);
    assert_message!("nothing_to_delete", out.stderr);
    for value in ["sk-first", "sk-second", "sk-third"] {
        assert!(!out.stderr.contains(value));
    }
}

#[test]
fn writes_need_an_access_mode_that_allows_them() {
    let Some(moto) = moto() else { return };
    for (settings, mode) in [
        ("", "read_only"),
        ("  key_management_settings:\n    access_mode: read_only\n", "read_only"),
    ] {
        let dir = workdir(&[("config.yaml", &format!("{SM}{settings}"))]);
        let out = run_with(dir.path(), &moto.url, &["put", "config.yaml", "k"], &[], Some("v"));
        out.code(1);
        assert_message!(format!("put_{mode}"), out.stderr);
        // The refusal is the access mode's, not "no secret to delete" (the same exit code): a
        // secret that exists is left in place.
        let existing = runtime()
            .block_on(
                moto.secrets()
                    .create_secret()
                    .name("litellm/k")
                    .secret_string("kept")
                    .send(),
            )
            .unwrap();
        let out = run_with(dir.path(), &moto.url, &["delete", "config.yaml", "k"], &[], None);
        out.code(1);
        assert_message!(format!("delete_{mode}"), out.stderr);
        let still = runtime()
            .block_on(moto.secrets().get_secret_value().secret_id("litellm/k").send())
            .unwrap();
        assert_eq!(still.secret_string(), Some("kept"));
        runtime()
            .block_on(
                moto.secrets()
                    .delete_secret()
                    .secret_id(existing.arn().unwrap())
                    .force_delete_without_recovery(true)
                    .send(),
            )
            .unwrap();
    }
    // Nothing was written.
    let listed = runtime().block_on(moto.secrets().list_secrets().send()).unwrap();
    assert!(listed.secret_list().is_empty());

    // write_only writes, and reads come from the environment (no manager needed to render).
    let config = format!("{SM}  key_management_settings:\n    access_mode: write_only\nk: os.environ/LOCAL\n");
    let dir = workdir(&[("config.yaml", &config)]);
    run_with(dir.path(), &moto.url, &["put", "config.yaml", "k"], &[], Some("v")).success();
    let out = run_with(
        dir.path(),
        &moto.url,
        &["render", "config.yaml"],
        &[("LOCAL", "from-env")],
        None,
    );
    assert!(out.success().stdout.contains("k: from-env"));
}

fn create_key(moto: &Moto, alias: &str) -> String {
    let kms = moto.kms();
    runtime().block_on(async {
        let key = kms.create_key().send().await.unwrap();
        let id = key.key_metadata().unwrap().key_id().to_owned();
        kms.create_alias()
            .alias_name(alias)
            .target_key_id(&id)
            .send()
            .await
            .unwrap();
        id
    })
}

/// `osenv -vvv encrypt`: the plaintext (as given, or base64-encoded as the request carries it)
/// is on neither stream at the highest verbosity.
fn encrypt(dir: &Path, moto: &Moto, key: &str, plaintext: &str, extra: &[&str]) -> String {
    use base64::Engine as _;
    let mut args = vec!["-vvv", "encrypt", "--key-id", key];
    args.extend_from_slice(extra);
    let out = run_with(dir, &moto.url, &args, &[], Some(plaintext));
    out.success();
    let sent = base64::engine::general_purpose::STANDARD.encode(plaintext.trim_end_matches('\n'));
    for shape in [plaintext.trim(), sent.as_str()] {
        assert!(!out.stdout.contains(shape), "{}", out.stdout);
        assert!(!out.stderr.contains(shape), "{}", out.stderr);
    }
    out.stdout.trim().to_owned()
}

#[test]
fn kms_round_trip_through_osenv_encrypt() {
    let Some(moto) = moto() else { return };
    create_key(&moto, "alias/litellm");
    let dir = workdir(&[]);
    let master = encrypt(dir.path(), &moto, "alias/litellm", "sk-master-1234\n", &[]);
    let other = encrypt(dir.path(), &moto, "alias/litellm", "  padded  ", &[]);
    let prefixed = encrypt(dir.path(), &moto, "alias/litellm", "sk-prefixed", &["--prefix"]);
    assert!(prefixed.starts_with("aws_kms/"));

    let config = "general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n  key_management_system: aws_kms\n  \
                  key_management_settings:\n    hosted_keys: [LITELLM_MASTER_KEY, OTHER, PREFIXED]\n\
                  other: os.environ/OTHER\nprefixed: os.environ/PREFIXED\nplain: os.environ/PLAIN\n";
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let env = [
        ("LITELLM_MASTER_KEY", master.as_str()),
        ("OTHER", other.as_str()),
        ("PREFIXED", prefixed.as_str()),
        ("PLAIN", "not-encrypted"),
    ];
    let out = run_with(dir.path(), &moto.url, &["render", "config.yaml"], &env, None);
    out.success();
    assert_eq!(
        out.stdout,
        "general_settings:\n  master_key: sk-master-1234\nother: padded\nprefixed: sk-prefixed\nplain: not-encrypted\n"
    );
}

#[test]
fn kms_litellm_v2_variables_are_decrypted_and_exported() {
    let Some(moto) = moto() else { return };
    create_key(&moto, "alias/v2");
    let dir = workdir(&[]);
    let openai = encrypt(dir.path(), &moto, "alias/v2", "sk-openai", &[]);
    let db = encrypt(dir.path(), &moto, "alias/v2", "postgres://u:p@db/x", &["--prefix"]);
    std::fs::write(
        dir.path().join("config.yaml"),
        "model: {api_key: os.environ/OPENAI_API_KEY}\n",
    )
    .unwrap();
    let env = [
        ("USE_AWS_KMS", "True"),
        ("LITELLM_SECRET_AWS_KMS_OPENAI_API_KEY", openai.as_str()),
        ("DATABASE_URL", db.as_str()),
    ];
    let out = run_with(dir.path(), &moto.url, &["render", "config.yaml"], &env, None);
    assert_eq!(out.success().stdout, "model: {api_key: sk-openai}\n");
    let out = run_with(
        dir.path(),
        &moto.url,
        &["env", "config.yaml", "--format", "dotenv"],
        &env,
        None,
    );
    out.success();
    assert!(
        out.stdout
            .ends_with("DATABASE_URL='postgres://u:p@db/x'\nOPENAI_API_KEY='sk-openai'\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn kms_bad_ciphertexts_are_located_and_never_used() {
    let Some(moto) = moto() else { return };
    create_key(&moto, "alias/k");
    let dir = workdir(&[(
        "config.yaml",
        "general_settings:\n  key_management_system: aws_kms\n  key_management_settings:\n    hosted_keys: [BAD_B64, GARBAGE, UNSET]\n\
         a: os.environ/BAD_B64\nb: os.environ/GARBAGE\n",
    )]);
    let garbage = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let env = [("BAD_B64", "not*base64"), ("GARBAGE", garbage)];
    let out = run_with(dir.path(), &moto.url, &["render", "config.yaml"], &env, None);
    out.code(1);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert!(
        errors[0].starts_with("error: config.yaml:4:37: cannot resolve `UNSET`: not found in the environment"),
        "{}",
        out.stderr
    );
    assert!(
        errors[1]
            .starts_with("error: config.yaml:5:4: cannot resolve `os.environ/BAD_B64`: unusable value in aws_kms ("),
        "{}",
        out.stderr
    );
    assert!(
        errors[1].contains("(ciphertext in `BAD_B64`, process environment)"),
        "{}",
        out.stderr
    );
    assert!(errors[1].contains("not valid base64"), "{}", out.stderr);
    assert!(
        errors[2].starts_with("error: config.yaml:6:4: cannot resolve `os.environ/GARBAGE`"),
        "{}",
        out.stderr
    );
    assert!(errors[2].contains("KMS cannot decrypt it"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(!out.stderr.contains(garbage) && !out.stderr.contains("not*base64"));
}

#[test]
fn no_value_reaches_stderr_at_any_verbosity() {
    let Some(moto) = moto() else { return };
    let canary = "CANARY-aws-7f3e9b";
    seed(
        &moto,
        &[("canary", canary), ("primary", &format!(r#"{{"X": "{canary}"}}"#))],
    );
    for settings in ["", "  key_management_settings:\n    primary_secret_name: primary\n"] {
        let config = format!("{SM}{settings}a: os.environ/canary\nx: os.environ/X\nmissing: os.environ/missing\n");
        let dir = workdir(&[("config.yaml", &config)]);
        for verbosity in ["-v", "-vv", "-vvv"] {
            let out = run_with(dir.path(), &moto.url, &[verbosity, "render", "config.yaml"], &[], None);
            out.code(1);
            assert!(!out.stderr.contains(canary), "{verbosity}: {}", out.stderr);
            assert!(!out.stdout.contains(canary));
        }
    }
}

#[test]
fn a_missing_region_is_a_clear_error() {
    // No server needed: the region is checked before the first request.
    let dir = workdir(&[("config.yaml", &format!("{SM}a: os.environ/x\n"))]);
    let out = osenv(dir.path())
        .args(["render", "config.yaml"])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .run();
    out.code(1);
    // The shared cause once, the reference it affected under it.
    assert_eq!(
        out.stderr,
        "error: aws_secret_manager: no AWS region: set key_management_settings.aws_region_name, AWS_REGION_NAME or AWS_REGION\n  \
         --> config.yaml:3:4: cannot resolve `os.environ/x`\n"
    );
    assert!(!out.stderr.contains("WARN"), "SDK noise: {}", out.stderr);
}

#[test]
fn litellms_own_aws_variables_are_read_from_the_environment() {
    // LiteLLM's Secrets Manager client returns os.getenv for the names it signs its requests
    // with; a Bedrock entry's aws_region_name must not be looked up in AWS.
    let Some(moto) = moto() else { return };
    seed(&moto, &[("OPENAI_API_KEY", "sk-from-aws")]);
    let config = format!(
        "{SM}model_list:\n  - model_name: claude\n    litellm_params:\n      aws_region_name: os.environ/AWS_REGION_NAME\n      api_key: os.environ/OPENAI_API_KEY\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let proxy = CountingProxy::start(&moto.url, "X-Amz-Target");
    let out = run_with(
        dir.path(),
        &proxy.url,
        &["render", "config.yaml"],
        &[("AWS_REGION_NAME", "us-east-1")],
        None,
    );
    out.success();
    assert!(out.stdout.contains("aws_region_name: us-east-1\n"), "{}", out.stdout);
    assert!(out.stdout.contains("api_key: sk-from-aws\n"), "{}", out.stdout);
    let asked: usize = proxy.counts().values().sum();
    assert!(asked >= 1, "{:?}", proxy.counts());
}

/// With a manager reading, LiteLLM coerces with `ast.literal_eval`: `True` and `(False)` become
/// booleans, `true` stays the string it is (quoted so YAML keeps it one); `--no-coerce` keeps
/// every value a string; `access_mode: write_only` reads the environment, so `str_to_bool` applies.
#[test]
fn coercion_follows_whoever_reads() {
    let Some(moto) = moto() else { return };
    seed(
        &moto,
        &[
            ("flag/python", "True"),
            ("flag/paren", "(False)"),
            ("flag/lower", "true"),
        ],
    );
    let config = format!(
        "{SM}litellm_settings:\n  a: os.environ/flag/python\n  b: os.environ/flag/paren\n  c: os.environ/flag/lower\n"
    );
    let dir = workdir(&[("config.yaml", &config)]);
    let out = run_with(dir.path(), &moto.url, &["render", "config.yaml"], &[], None);
    out.success();
    assert_eq!(
        out.stdout,
        "general_settings: {}\nlitellm_settings:\n  a: true\n  b: false\n  c: \"true\"\n"
    );
    let out = run_with(
        dir.path(),
        &moto.url,
        &["render", "config.yaml", "--no-coerce"],
        &[],
        None,
    );
    out.success();
    assert_eq!(
        out.stdout,
        "general_settings: {}\nlitellm_settings:\n  a: \"True\"\n  b: \"(False)\"\n  c: \"true\"\n"
    );

    let write_only = "general_settings:\n  key_management_system: aws_secret_manager\n  key_management_settings:\n    access_mode: write_only\nlitellm_settings:\n  a: os.environ/A\n  b: os.environ/B\n";
    let dir = workdir(&[("config.yaml", write_only)]);
    let out = run_with(
        dir.path(),
        &moto.url,
        &["render", "config.yaml"],
        &[("A", "true"), ("B", "(False)")],
        None,
    );
    out.success();
    assert_eq!(
        out.stdout,
        "general_settings: {}\nlitellm_settings:\n  a: true\n  b: \"(False)\"\n"
    );
}

/// LiteLLM's credential precedence, seen in the access key id each request is signed with:
/// `aws_role_name` assumes the role with the base credentials (STS signed with the static keys,
/// Secrets Manager with the role's temporary `ASIA…` keys); a profile (`AWS_PROFILE_NAME`) wins
/// over static keys in the environment.
#[test]
fn credentials_follow_litellm_precedence() {
    let Some(moto) = moto() else { return };
    seed(&moto, &[("cred/a", "value-a")]);
    let proxy = CountingProxy::start(&moto.url, "Authorization");
    let signers = |proxy: &CountingProxy| -> Vec<String> {
        let mut keys: Vec<String> = proxy
            .counts()
            .keys()
            .filter_map(|auth| {
                let key = auth.split("Credential=").nth(1)?.split('/').next()?;
                Some(key.to_owned())
            })
            .collect();
        keys.sort();
        keys.dedup();
        keys
    };
    let role = format!(
        "{SM}  key_management_settings:\n    aws_role_name: arn:aws:iam::123456789012:role/litellm\n    aws_session_name: osenv-test\na: os.environ/cred/a\n"
    );
    let dir = workdir(&[("config.yaml", &role)]);
    let out = run_with(dir.path(), &proxy.url, &["render", "config.yaml"], &[], None);
    out.success();
    assert!(out.stdout.contains("a: value-a"), "{}", out.stdout);
    let keys = signers(&proxy);
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys.contains(&"test".to_owned()),
        "STS is called with the base keys: {keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.starts_with("ASIA")),
        "Secrets Manager is called with the role's keys: {keys:?}"
    );
    assert_eq!(proxy.requests("POST /"), 2, "one AssumeRole, one batch read");

    let proxy = CountingProxy::start(&moto.url, "Authorization");
    let dir = workdir(&[
        ("config.yaml", &format!("{SM}a: os.environ/cred/a\n")),
        (
            "credentials",
            "[dev]\naws_access_key_id = AKIAPROFILEDEV000001\naws_secret_access_key = profile-secret\n",
        ),
        ("aws-config", "[profile dev]\nregion = us-east-1\n"),
    ]);
    let credentials = dir.path().join("credentials");
    let aws_config = dir.path().join("aws-config");
    let out = run_with(
        dir.path(),
        &proxy.url,
        &["render", "config.yaml"],
        &[
            ("AWS_PROFILE_NAME", "dev"),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
            ("AWS_CONFIG_FILE", aws_config.to_str().unwrap()),
        ],
        None,
    );
    out.success();
    assert_eq!(
        signers(&proxy),
        ["AKIAPROFILEDEV000001"],
        "the profile wins over AWS_ACCESS_KEY_ID"
    );
    assert!(!out.stderr.contains("profile-secret"), "{}", out.stderr);
}

/// `osenv template --config`: `secret()` reads through the config's manager in batches (one
/// `BatchGetSecretValue` per round, a round more for a name that only a branch on a secret
/// asks for), and `hosted_keys` send only those names to the manager (the rest come from the
/// environment, and a hosted name's environment value is not used).
#[test]
fn template_reads_through_the_manager_in_rounds() {
    let Some(moto) = moto() else { return };
    seed(&moto, &[("tpl/a", "on"), ("tpl/b", "sk-bee"), ("tpl/c", "late-value")]);
    let tpl = "a={{ secret(\"tpl/a\") }}\nb={{ secret(\"tpl/b\")|upper }}\n\
               {% if secret(\"tpl/a\") == \"on\" %}c={{ secret(\"tpl/c\") }}{% endif %}\n";
    let dir = workdir(&[
        ("config.yaml", SM),
        ("t.j2", tpl),
        (
            "hosted.yaml",
            "general_settings:\n  key_management_system: aws_secret_manager\n  key_management_settings:\n    hosted_keys: [tpl/a]\n",
        ),
        ("local.j2", "a={{ secret(\"tpl/a\") }} l={{ secret(\"LOCAL\") }}\n"),
    ]);
    let proxy = CountingProxy::start(&moto.url, "X-Amz-Target");
    let out = run_with(
        dir.path(),
        &proxy.url,
        &["template", "t.j2", "--config", "config.yaml"],
        &[],
        None,
    );
    out.success();
    assert_eq!(out.stdout, "a=on\nb=SK-BEE\nc=late-value\n");
    assert_eq!(
        proxy.counts().into_iter().collect::<Vec<_>>(),
        [("secretsmanager.BatchGetSecretValue".to_owned(), 2)],
        "one round for a and b, one for c"
    );

    let proxy = CountingProxy::start(&moto.url, "X-Amz-Target");
    let out = run_with(
        dir.path(),
        &proxy.url,
        &["template", "local.j2", "--config", "hosted.yaml"],
        &[("LOCAL", "from-env"), ("tpl/a", "not-this")],
        None,
    );
    out.success();
    assert_eq!(out.stdout, "a=on l=from-env\n");
    assert_eq!(proxy.count("secretsmanager.BatchGetSecretValue"), 1);
}
