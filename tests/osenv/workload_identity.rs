//! Cloud credentials without a static key, each through the SDK's own standard chain, against
//! the project's identity fake in place of the cloud's credential endpoint (no test reaches a
//! real cloud): AWS IRSA (web identity from a token file) and EKS Pod Identity, and Google
//! Workload Identity Federation (`external_account`, file- and URL-sourced). Azure's workload
//! identity (`AZURE_FEDERATED_TOKEN_FILE`) is tested in `azure.rs`.

use crate::servers::{CountingProxy, identity};
use crate::support::{osenv, workdir};
use serde_json::json;

#[cfg(feature = "aws")]
mod aws {
    use super::*;
    use crate::servers::{moto, runtime};

    const SM: &str = "general_settings:\n  key_management_system: aws_secret_manager\n";

    fn seed(moto: &crate::servers::Moto, name: &str, value: &str) {
        let client = moto.secrets();
        runtime().block_on(async {
            client
                .create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .expect("seed");
        });
    }

    /// The environment EKS sets in a pod, minus the static keys the other AWS tests use.
    fn base(endpoint: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.to_owned()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// Whether a request reached moto signed with this access key id.
    fn signed_with(proxy: &CountingProxy, key_id: &str) -> bool {
        proxy
            .counts()
            .keys()
            .any(|auth| auth.contains(&format!("Credential={key_id}/")))
    }

    /// IRSA: `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` (the projected token with audience
    /// `sts.amazonaws.com`), exchanged by `AssumeRoleWithWebIdentity`.
    #[test]
    fn irsa_web_identity_from_the_projected_token_file() {
        let (Some(moto), Some(identity)) = (moto(), identity()) else {
            return;
        };
        seed(&moto, "prod/openai", "sk-through-irsa");
        let dir = workdir(&[("config.yaml", &format!("{SM}api_key: os.environ/prod/openai\n"))]);
        let token = identity.mint(&json!({"kind": "kubernetes", "aud": ["sts.amazonaws.com"]}));
        std::fs::write(dir.path().join("aws-token"), &token).unwrap();
        let proxy = CountingProxy::start(&moto.url, "Authorization");
        let sts = format!("{}/aws/sts", identity.url);
        let before = identity.count("aws.sts");
        let out = osenv(dir.path())
            .envs(base(&proxy.url))
            .env("AWS_ENDPOINT_URL_STS", &sts)
            .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/litellm")
            .env(
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                dir.path().join("aws-token").to_str().unwrap(),
            )
            .args(["render", "config.yaml", "-vv"])
            .run();
        out.success();
        assert_eq!(out.stdout, "general_settings: {}\napi_key: sk-through-irsa\n");
        assert_eq!(identity.count("aws.sts"), before + 1, "one exchange per run");
        assert_eq!(identity.seen("aws.sts").as_deref(), Some(token.as_str()));
        assert!(signed_with(&proxy, "ASIAIRSATEST"), "{:?}", proxy.counts().keys());
        assert!(!out.stderr.contains(&token) && !out.stderr.contains("irsa-secret-access-key"));

        // A token STS does not accept: a credentials error, no value, no token.
        let rogue = identity.mint(&json!({"kind": "kubernetes", "aud": ["sts.amazonaws.com"], "rogue": true}));
        std::fs::write(dir.path().join("aws-token"), &rogue).unwrap();
        let out = osenv(dir.path())
            .envs(base(&proxy.url))
            .env("AWS_ENDPOINT_URL_STS", &sts)
            .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/litellm")
            .env(
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                dir.path().join("aws-token").to_str().unwrap(),
            )
            .args(["render", "config.yaml"])
            .run();
        out.code(1);
        assert!(out.stdout.is_empty());
        assert!(!out.stderr.contains(&rogue), "{}", out.stderr);
        // A refusal is final: no retries against STS until the deadline.
        assert!(out.stderr.contains("InvalidIdentityToken"), "{}", out.stderr);
        assert!(out.stderr.contains("after 1 attempt "), "{}", out.stderr);
    }

    /// EKS Pod Identity: the agent's URL and the token file whose content is the
    /// `Authorization` header.
    #[test]
    fn eks_pod_identity_from_the_agent_with_the_token_file() {
        let (Some(moto), Some(identity)) = (moto(), identity()) else {
            return;
        };
        seed(&moto, "prod/anthropic", "sk-ant-through-pod-identity");
        let dir = workdir(&[("config.yaml", &format!("{SM}api_key: os.environ/prod/anthropic\n"))]);
        let token = identity.mint(&json!({"kind": "kubernetes", "aud": ["pods.eks.amazonaws.com"]}));
        let token_file = dir.path().join("eks-pod-identity-token");
        std::fs::write(&token_file, &token).unwrap();
        let proxy = CountingProxy::start(&moto.url, "Authorization");
        let agent = format!("{}/aws/pod-identity", identity.url);
        let run = |file: &std::path::Path| {
            osenv(dir.path())
                .envs(base(&proxy.url))
                .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &agent)
                .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file.to_str().unwrap())
                .args(["render", "config.yaml", "--deadline", "5"])
                .run()
        };
        let before = identity.count("aws.pod-identity");
        let out = run(&token_file);
        out.success();
        assert_eq!(
            out.stdout,
            "general_settings: {}\napi_key: sk-ant-through-pod-identity\n"
        );
        assert_eq!(identity.count("aws.pod-identity"), before + 1);
        assert_eq!(identity.seen("aws.pod-identity").as_deref(), Some(token.as_str()));
        assert!(
            signed_with(&proxy, "ASIAPODIDENTITYTEST"),
            "{:?}",
            proxy.counts().keys()
        );

        // A token for another audience is refused by the agent: an error, nothing rendered.
        let other = dir.path().join("other-token");
        std::fs::write(&other, identity.mint(&json!({"kind": "kubernetes"}))).unwrap();
        let out = run(&other);
        out.code(1);
        assert!(out.stdout.is_empty());
        assert!(out.stderr.to_lowercase().contains("credentials"), "{}", out.stderr);
    }
}

#[cfg(feature = "gcp")]
mod gcp {
    use super::*;
    use crate::gcp::drongo;

    const GSM: &str = "general_settings:\n  key_management_system: google_secret_manager\n";

    /// An `external_account` credential file as `gcloud iam workload-identity-pools
    /// create-cred-config` writes it, with the token URL at the fake.
    fn external_account(sts: &str, source: &serde_json::Value) -> String {
        json!({
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/osenv-test-pool/providers/k8s",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": sts,
            "credential_source": source,
        })
        .to_string()
    }

    #[test]
    fn workload_identity_federation_with_a_file_or_url_sourced_token() {
        let (Some(d), Some(identity)) = (drongo(), identity()) else {
            return;
        };
        d.secret("OPENAI_API_KEY", &["sk-through-federation"]);
        let token = identity.mint(&json!({
            "kind": "jwt",
            "aud": "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/osenv-test-pool/providers/k8s",
        }));
        let sts = format!("{}/google/sts", identity.url);
        let file_sourced = external_account(&sts, &json!({"file": "subject-token", "format": {"type": "text"}}));
        let url_sourced = external_account(
            &sts,
            &json!({
                "url": format!("{}/google/subject-token", identity.url),
                "headers": {"Metadata-Flavor": "Google"},
                "format": {"type": "json", "subject_token_field_name": "id_token"},
            }),
        );
        let dir = workdir(&[
            ("config.yaml", &format!("{GSM}api_key: os.environ/OPENAI_API_KEY\n")),
            ("subject-token", &token),
            ("file-sourced.json", &file_sourced),
            ("url-sourced.json", &url_sourced),
        ]);
        // The file source's path is absolute in a real file; relative works as the crate
        // resolves it from the working directory.
        let proxy = CountingProxy::start(&d.url, "Authorization");
        for (credentials, endpoint) in [
            ("file-sourced.json", "google.sts"),
            ("url-sourced.json", "google.subject-token"),
        ] {
            let before = identity.count(endpoint);
            let out = osenv(dir.path())
                .env(
                    "GOOGLE_APPLICATION_CREDENTIALS",
                    dir.path().join(credentials).to_str().unwrap(),
                )
                .env("GOOGLE_SECRET_MANAGER_PROJECT_ID", "p1")
                .env("GOOGLE_SECRET_MANAGER_ENDPOINT", &proxy.url)
                .args(["render", "config.yaml", "--deadline", "10"])
                .run();
            out.success();
            assert_eq!(
                out.stdout, "general_settings: {}\napi_key: sk-through-federation\n",
                "{credentials}"
            );
            assert_eq!(identity.count(endpoint), before + 1, "{credentials}");
            assert!(!out.stderr.contains(&token));
        }
        assert!(identity.seen("google.sts").is_some());
        // Secret Manager saw the federated access token, nothing else.
        let auth: Vec<String> = proxy.counts().into_keys().collect();
        assert!(
            !auth.is_empty() && auth.iter().all(|a| a == "Bearer ya29.osenv-test-federated"),
            "{auth:?}"
        );
    }
}
