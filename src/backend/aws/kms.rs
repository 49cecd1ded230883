//! `key_management_system: aws_kms`, and LiteLLM's `USE_AWS_KMS=True` environment convention.
//!
//! The value of each name routed here is not stored in AWS: its environment variable holds
//! base64 of a KMS ciphertext blob (`aws kms encrypt --query CiphertextBlob --output text`, or
//! `osenv encrypt`), optionally prefixed `aws_kms/`; for a name `NAME` the variable
//! `LITELLM_SECRET_AWS_KMS_NAME` is used when it is set (see [`Envelopes`]). Every ciphertext
//! is decrypted concurrently under the run's bound; the plaintext is UTF-8 with surrounding
//! whitespace stripped, as in LiteLLM. Unlike LiteLLM, a bad ciphertext is an error that names
//! the variable, never a silent fallback to the ciphertext itself.

use super::{AwsSettings, Service, send};
use crate::backend::KeyName;
use crate::backend::{Backend, Context, KeyResults};
use crate::environment::Environment;
use crate::error::{BackendError, KeyError, Problem};
use crate::secret::SecretValue;
use crate::settings::AwsOptions;
use crate::settings::envelope::{Envelopes, VALUE_PREFIX};
use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use base64::Engine as _;
use futures_util::future::join_all;
use std::sync::Arc;
use tokio::sync::OnceCell;
use zeroize::Zeroize;

const SYSTEM: &str = "aws_kms";

/// AWS KMS decryption of environment values.
#[derive(Debug)]
pub struct Kms {
    pub(super) aws: AwsSettings,
    client: OnceCell<Client>,
    env: Arc<Environment>,
    envelopes: Envelopes,
}

impl Kms {
    /// Set up from the settings; `envelopes` are the `LITELLM_SECRET_AWS_KMS_*` variables in
    /// use. No I/O until the first request.
    pub fn new(settings: &AwsOptions, env: Arc<Environment>, envelopes: Envelopes) -> Self {
        Self {
            aws: AwsSettings::new(Service::Kms, settings, &env),
            client: OnceCell::new(),
            env,
            envelopes,
        }
    }

    async fn client(&self) -> Result<&Client, BackendError> {
        self.client
            .get_or_try_init(|| async {
                let config = self.aws.load(SYSTEM).await?;
                let mut builder = aws_sdk_kms::config::Builder::from(&config);
                if let Some(url) = self.aws.endpoint() {
                    builder = builder.endpoint_url(url);
                }
                Ok(Client::from_conf(builder.build()))
            })
            .await
    }

    async fn decrypt_key(&self, client: &Client, key: &str, ctx: &Context) -> Result<SecretValue, KeyError> {
        let variable = self.envelopes.source(key).unwrap_or(key);
        let (raw, within) = self.env.ciphertext(variable, "aws_kms", &self.describe())?;
        let blob = decode_ciphertext(raw.expose()).map_err(|reason| KeyError::InvalidValue {
            within: within.clone(),
            reason,
        })?;
        let (result, attempts) = send(ctx, || client.decrypt().ciphertext_blob(Blob::new(blob.clone())).send()).await;
        let out = result.map_err(|f| {
            super::key_error(&f, &within).unwrap_or_else(|| {
                KeyError::Backend(Arc::new(f.into_backend(
                    self.describe(),
                    format!("{} Decrypt", self.aws.url()),
                    attempts,
                )))
            })
        })?;
        let plaintext = out.plaintext().map(|b| b.as_ref().to_vec()).unwrap_or_default();
        plaintext_value(plaintext).map_err(|reason| KeyError::InvalidValue { within, reason })
    }

    /// Encrypt `plaintext` under `key_id` and return the ciphertext blob as base64, the form
    /// the environment holds.
    pub async fn encrypt(&self, key_id: &str, plaintext: &SecretValue, ctx: &Context) -> Result<String, BackendError> {
        let client = self.client().await?;
        let (result, attempts) = send(ctx, || {
            client
                .encrypt()
                .key_id(key_id)
                .plaintext(Blob::new(plaintext.expose().as_bytes().to_vec()))
                .send()
        })
        .await;
        let out =
            result.map_err(|f| f.into_backend(self.describe(), format!("{} Encrypt", self.aws.url()), attempts))?;
        let blob = out.ciphertext_blob().map(Blob::as_ref).unwrap_or_default();
        Ok(base64::engine::general_purpose::STANDARD.encode(blob))
    }
}

/// The ciphertext blob in an environment value: optional `aws_kms/` prefix, surrounding
/// whitespace, canonical base64. LiteLLM's decoder silently drops characters outside the
/// alphabet; osenv refuses them, since a damaged value would decrypt to an error anyway.
pub fn decode_ciphertext(raw: &str) -> Result<Vec<u8>, Problem> {
    const CIPHERTEXT: &str = "a KMS ciphertext";
    let text = raw.trim();
    let text = text.strip_prefix(VALUE_PREFIX).unwrap_or(text).trim();
    if text.is_empty() {
        return Err(Problem::EmptyCiphertext(CIPHERTEXT));
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| Problem::not_base64(CIPHERTEXT, &e))
}

/// The decrypted bytes as a value: UTF-8, surrounding whitespace stripped.
fn plaintext_value(mut bytes: Vec<u8>) -> Result<SecretValue, Problem> {
    let value = match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(SecretValue::withheld(text.trim())),
        Err(_) => Err(Problem::NotText),
    };
    bytes.zeroize();
    value
}

#[async_trait]
impl Backend for Kms {
    fn describe(&self) -> String {
        self.aws.describe(SYSTEM)
    }

    fn policy(
        &self,
        wanted: &crate::backend::policy::Wanted<'_>,
    ) -> Result<crate::backend::policy::Policy, BackendError> {
        Ok(self.access_policy(wanted))
    }

    async fn fetch(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError> {
        let client = self.client().await?;
        Ok(join_all(keys.iter().map(|key| self.decrypt_key(client, key, ctx))).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciphertexts_are_canonical_base64_with_optional_prefix() {
        assert_eq!(decode_ciphertext("AQID").unwrap(), [1, 2, 3]);
        assert_eq!(decode_ciphertext(" aws_kms/AQID\n").unwrap(), [1, 2, 3]);
        let shown = ["AQ$D", "AQI", "  "].map(|v| decode_ciphertext(v).unwrap_err().to_string());
        insta::assert_snapshot!(shown.join("\n"), @r"
        not valid base64 (an invalid character at offset 2); expected base64 of a KMS ciphertext
        not valid base64 (wrong length or padding); expected base64 of a KMS ciphertext
        the variable is empty; expected base64 of a KMS ciphertext
        ");
    }

    #[test]
    fn plaintext_is_trimmed_utf8() {
        assert_eq!(plaintext_value(b"  sk-1\n".to_vec()).unwrap().expose(), "sk-1");
        assert!(plaintext_value(vec![0xff]).is_err());
    }
}
