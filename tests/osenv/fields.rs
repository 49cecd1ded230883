//! `NAME#field` (and `@version`) on the services that store one value per secret: AWS Secrets
//! Manager (moto), Google Secret Manager (drongo), Azure Key Vault (the fake). One read per
//! distinct secret and version, however many fields are taken from it.

use crate::support::{osenv, workdir};

const APP: &str =
    r#"{"OPENAI_API_KEY": "sk-openai", "ANTHROPIC_API_KEY": "sk-ant", "PORT": 5432, "TLS": true, "HOSTS": ["a"]}"#;

#[cfg(feature = "aws")]
mod aws {
    use super::*;
    use crate::servers::{CountingProxy, Moto, moto, runtime};

    #[test]
    fn fields_and_versions_of_aws_secrets() {
        let Some(moto) = moto() else { return };
        let client = moto.secrets();
        let old = r#"{"OPENAI_API_KEY": "sk-openai-old"}"#;
        runtime().block_on(async {
            client
                .create_secret()
                .name("prod/litellm")
                .secret_string(old)
                .send()
                .await
                .unwrap();
            client
                .put_secret_value()
                .secret_id("prod/litellm")
                .secret_string(APP)
                .send()
                .await
                .unwrap();
            client
                .create_secret()
                .name("plain")
                .secret_string("not json")
                .send()
                .await
                .unwrap();
        });
        let config = "general_settings:\n  key_management_system: aws_secret_manager\n\
            a: os.environ/prod/litellm#OPENAI_API_KEY\nb: os.environ/prod/litellm#ANTHROPIC_API_KEY\n\
            port: os.environ/prod/litellm#PORT\ntls: os.environ/prod/litellm#TLS\n\
            previous: os.environ/prod/litellm@AWSPREVIOUS#OPENAI_API_KEY\n";
        let dir = workdir(&[("config.yaml", config)]);
        let proxy = CountingProxy::start(&moto.url, "X-Amz-Target");
        let out = osenv(dir.path())
            .envs(Moto::env(&proxy.url))
            .args(["render", "config.yaml"])
            .run();
        out.success();
        assert_eq!(
            out.stdout,
            "general_settings: {}\na: sk-openai\nb: sk-ant\nport: \"5432\"\ntls: \"true\"\nprevious: sk-openai-old\n"
        );
        // Four fields of one secret: one batch read; the pinned version: one GetSecretValue.
        assert_eq!(
            proxy.count("secretsmanager.BatchGetSecretValue"),
            1,
            "{:?}",
            proxy.counts()
        );
        assert_eq!(proxy.count("secretsmanager.GetSecretValue"), 1, "{:?}", proxy.counts());

        // Located errors that say which: a missing field, a list field, a value that is not JSON.
        let bad = "general_settings:\n  key_management_system: aws_secret_manager\n\
            a: os.environ/prod/litellm#NOPE\nb: os.environ/prod/litellm#HOSTS\nc: os.environ/plain#x\n";
        let dir = workdir(&[("config.yaml", bad)]);
        let out = osenv(dir.path())
            .envs(Moto::env(&moto.url))
            .args(["render", "config.yaml"])
            .run();
        out.code(1);
        assert!(
            out.stderr
                .contains("config.yaml:3:4: cannot resolve `os.environ/prod/litellm#NOPE`: not found in field `NOPE`"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("config.yaml:4:4") && out.stderr.contains("the field is a list"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("config.yaml:5:4") && out.stderr.contains("not JSON (value not shown)"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("sk-"), "{}", out.stderr);
        // check proves the secrets and fields (see below) and the pinned version.
        let dir = workdir(&[("config.yaml", config)]);
        let out = osenv(dir.path())
            .envs(Moto::env(&moto.url))
            .args(["check", "config.yaml"])
            .run();
        out.success();
        let dir = workdir(&[(
            "config.yaml",
            "general_settings:\n  key_management_system: aws_secret_manager\na: os.environ/plain@AWSPREVIOUS\n",
        )]);
        let out = osenv(dir.path())
            .envs(Moto::env(&moto.url))
            .args(["check", "config.yaml"])
            .run();
        out.code(1);
        assert!(out.stdout.contains("no such version"), "{}", out.stdout);
    }

    /// `check` proves a `#field` by reading its secret (never shown): it fails where `render`
    /// fails, at the same reference, with the same reason.
    #[test]
    fn check_fails_where_render_fails_on_a_field() {
        let Some(moto) = moto() else { return };
        let client = moto.secrets();
        runtime().block_on(async {
            for (name, value) in [
                ("fieldcheck/app", APP),
                ("fieldcheck/plain", "not json"),
                ("fieldcheck/again", r#"{"password": "os.environ/OTHER_SECRET"}"#),
            ] {
                client
                    .create_secret()
                    .name(name)
                    .secret_string(value)
                    .send()
                    .await
                    .unwrap();
            }
        });
        let bad = "general_settings:\n  key_management_system: aws_secret_manager\n\
            a: os.environ/fieldcheck/app#NOPE\nb: os.environ/fieldcheck/app#HOSTS\nc: os.environ/fieldcheck/plain#x\n\
            d: os.environ/fieldcheck/app#OPENAI_API_KEY\ne: os.environ/fieldcheck/again#password\n";
        let dir = workdir(&[("config.yaml", bad)]);
        let out = osenv(dir.path())
            .envs(Moto::env(&moto.url))
            .args(["check", "config.yaml"])
            .run();
        out.code(1);
        let lines: Vec<&str> = out.stdout.lines().filter(|l| l.contains("os.environ/")).collect();
        assert_eq!(lines.len(), 5, "{}", out.stdout);
        assert!(
            lines[0].contains("os.environ/fieldcheck/app#NOPE") && lines[0].contains("not found in field `NOPE`"),
            "{}",
            out.stdout
        );
        assert!(lines[1].contains("the field is a list"), "{}", out.stdout);
        assert!(lines[2].contains("not JSON (value not shown)"), "{}", out.stdout);
        assert!(
            !out.stdout.contains("sk-") && !out.stderr.contains("sk-"),
            "{}",
            out.stdout
        );
        assert!(
            lines[3].contains("os.environ/fieldcheck/app#OPENAI_API_KEY") && lines[3].contains(" ok "),
            "{}",
            out.stdout
        );
        // A field whose value is itself a reference: render refuses it (LiteLLM would resolve
        // it again), so check does too.
        assert!(
            lines[4].contains("os.environ/fieldcheck/again#password") && lines[4].contains("starts with `os.environ/`"),
            "{}",
            out.stdout
        );
        let render = osenv(dir.path())
            .envs(Moto::env(&moto.url))
            .args(["render", "config.yaml"])
            .run();
        render.code(1);
        assert!(render.stderr.contains("config.yaml:7:4"), "{}", render.stderr);
    }
}

#[cfg(feature = "gcp")]
mod gcp {
    use super::*;
    use crate::gcp::drongo;

    #[test]
    fn fields_and_versions_of_google_secrets() {
        let Some(d) = drongo() else { return };
        d.secret("litellm", &[r#"{"OPENAI_API_KEY": "sk-v1"}"#, APP]);
        let config = "general_settings:\n  key_management_system: google_secret_manager\n\
            a: os.environ/litellm#OPENAI_API_KEY\nb: os.environ/litellm#ANTHROPIC_API_KEY\n\
            old: os.environ/litellm@1#OPENAI_API_KEY\n";
        let dir = workdir(&[("config.yaml", config)]);
        let out = osenv(dir.path())
            .envs(d.env(&d.url))
            .args(["render", "config.yaml"])
            .run();
        out.success();
        assert_eq!(
            out.stdout,
            "general_settings: {}\na: sk-openai\nb: sk-ant\nold: sk-v1\n"
        );
        let dir = workdir(&[(
            "config.yaml",
            "general_settings:\n  key_management_system: google_secret_manager\na: os.environ/litellm#NOPE\n",
        )]);
        let out = osenv(dir.path())
            .envs(d.env(&d.url))
            .args(["render", "config.yaml"])
            .run();
        out.code(1);
        assert!(out.stderr.contains("not found in field `NOPE`"), "{}", out.stderr);
    }
}

#[cfg(feature = "azure")]
mod azure {
    use super::*;
    use crate::azure::fake;

    #[test]
    fn fields_of_key_vault_secrets() {
        let Some(f) = fake() else { return };
        f.seed("litellm", APP);
        let config = "general_settings:\n  key_management_system: azure_key_vault\n\
            a: os.environ/litellm#OPENAI_API_KEY\nport: os.environ/litellm#PORT\n";
        let dir = workdir(&[("config.yaml", config)]);
        let out = osenv(dir.path())
            .envs(f.managed_identity())
            .args(["render", "config.yaml"])
            .run();
        out.success();
        assert_eq!(out.stdout, "general_settings: {}\na: sk-openai\nport: \"5432\"\n");
    }
}
