//! `key_management_system: google_kms`: decrypt environment values with Cloud KMS.
//!
//! The key is `GOOGLE_KMS_RESOURCE_NAME` (`projects/…/locations/…/keyRings/…/cryptoKeys/…`).
//! Each name routed here has its environment variable hold the ciphertext, either as canonical
//! base64 (what LiteLLM accepts today, and what `osenv encrypt --system google_kms` prints) or
//! as the Python bytes literal `b'…'` that LiteLLM's documentation shows, which is parsed here —
//! never evaluated. The plaintext is UTF-8, used as is (LiteLLM does not strip it). A bad value or
//! a failed decrypt is an error that names the variable, never the ciphertext used as the value.

use super::{from_gax, no_retries, request_failed, setup_failed};
use crate::backend::KeyName;
use crate::backend::RequestFailure;
use crate::backend::{Backend, Context, KeyResults, call};
use crate::environment::Environment;
use crate::error::{BackendError, KeyError, Problem};
use crate::provenance::{Setting, var as v};
use crate::secret::SecretValue;
use async_trait::async_trait;
use base64::Engine as _;
use futures_util::future::join_all;
use google_cloud_kms_v1::client::KeyManagementService;
use std::sync::Arc;
use tokio::sync::OnceCell;
use zeroize::Zeroize;

const SYSTEM: &str = "google_kms";
const DEFAULT_ENDPOINT: &str = "https://cloudkms.googleapis.com";

/// Google Cloud KMS decryption of environment values.
#[derive(Debug)]
pub struct GoogleKms {
    pub(super) key: Option<String>,
    endpoint: Option<String>,
    env: Arc<Environment>,
    client: OnceCell<KeyManagementService>,
}

/// The ciphertext in an environment value: canonical base64, or a Python bytes literal
/// (`b'\x0a\x24…'`, `b"…"`) with the escapes Python allows.
pub fn decode_ciphertext(raw: &str) -> Result<Vec<u8>, Problem> {
    /// What the variable holds (a bytes literal is the other form it may take).
    const CIPHERTEXT: &str = "a Cloud KMS ciphertext (or a b'…' bytes literal)";
    let text = raw.trim();
    if text.is_empty() {
        return Err(Problem::EmptyCiphertext(CIPHERTEXT));
    }
    if let Some(body) = text
        .strip_prefix("b'")
        .and_then(|t| t.strip_suffix('\''))
        .or_else(|| text.strip_prefix("b\"").and_then(|t| t.strip_suffix('"')))
    {
        let quote = if text.starts_with("b'") { '\'' } else { '"' };
        return bytes_literal(body, quote);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| Problem::not_base64(CIPHERTEXT, &e))?;
    Ok(decoded)
}

/// The body of a Python bytes literal, without its quotes.
fn bytes_literal(body: &str, quote: char) -> Result<Vec<u8>, Problem> {
    let bad = Problem::NotBytesLiteral;
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let e = chars.next().ok_or_else(|| bad("a trailing backslash"))?;
                match e {
                    '\\' | '\'' | '"' => out.push(e as u8),
                    'n' => out.push(b'\n'),
                    'r' => out.push(b'\r'),
                    't' => out.push(b'\t'),
                    'a' => out.push(0x07),
                    'b' => out.push(0x08),
                    'f' => out.push(0x0c),
                    'v' => out.push(0x0b),
                    '\n' => {}
                    'x' => {
                        let hex: String = [chars.next(), chars.next()].into_iter().flatten().collect();
                        let byte = (hex.len() == 2)
                            .then(|| u8::from_str_radix(&hex, 16).ok())
                            .flatten()
                            .ok_or_else(|| bad("`\\x` needs two hex digits"))?;
                        out.push(byte);
                    }
                    '0'..='7' => {
                        let mut value = u32::from(e as u8 - b'0');
                        for _ in 0..2 {
                            match chars.peek() {
                                Some(d @ '0'..='7') => {
                                    value = value * 8 + u32::from(*d as u8 - b'0');
                                    chars.next();
                                }
                                _ => break,
                            }
                        }
                        out.push(u8::try_from(value).map_err(|_| bad("an octal escape above \\377"))?);
                    }
                    // Python keeps an unknown escape as the backslash and the character.
                    other if other.is_ascii() && !other.is_ascii_control() => {
                        out.push(b'\\');
                        out.push(other as u8);
                    }
                    _ => return Err(bad("a non-ASCII character")),
                }
            }
            c if c == quote => return Err(bad("an unescaped quote inside")),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c as u8),
            _ => return Err(bad("a non-ASCII or control character (bytes literals hold ASCII only)")),
        }
    }
    Ok(out)
}

impl GoogleKms {
    /// Set up from the environment; no I/O until the first request.
    pub fn new(env: Arc<Environment>) -> Self {
        let var = |name: Setting| env.backend_setting(name);
        Self {
            key: var(v::GOOGLE_KMS_RESOURCE_NAME),
            endpoint: var(v::GOOGLE_KMS_ENDPOINT)
                .inspect(|url| crate::trust::warn_if_plain_http("GOOGLE_KMS_ENDPOINT", url)),
            env,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<&KeyManagementService, BackendError> {
        self.client
            .get_or_try_init(|| async {
                let mut builder = super::hardened(KeyManagementService::builder().with_retry_policy(no_retries()));
                if let Some(endpoint) = &self.endpoint {
                    crate::trust::warn_if_plain_http("GOOGLE_KMS_ENDPOINT", endpoint);
                    builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
                }
                builder.build().await.map_err(|e| setup_failed(self.describe(), &e))
            })
            .await
    }

    fn failed(
        &self,
        operation: &str,
        failure: RequestFailure,
        attempts: crate::backend::transport::retry::Attempts,
    ) -> BackendError {
        let endpoint = self.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT);
        request_failed(self.describe(), endpoint, operation, failure, attempts)
    }

    async fn decrypt_key(
        &self,
        client: &KeyManagementService,
        key: &str,
        name: &str,
        ctx: &Context,
    ) -> Result<SecretValue, KeyError> {
        let (raw, within) = self.env.ciphertext(name, "google_kms", &self.describe())?;
        let ciphertext = decode_ciphertext(raw.expose()).map_err(|reason| KeyError::InvalidValue {
            within: within.clone(),
            reason,
        })?;
        let (result, attempts) = call(ctx, || {
            let request = client
                .decrypt()
                .set_name(key)
                .set_ciphertext(ciphertext.clone())
                .set_ciphertext_crc32c(i64::from(crc32c::crc32c(&ciphertext)));
            async move { request.send().await.map_err(from_gax) }
        })
        .await;
        let response = result.map_err(|f| {
            super::key_error(&f, &within)
                .unwrap_or_else(|| KeyError::Backend(Arc::new(self.failed("Decrypt", f, attempts))))
        })?;
        let mut plaintext = response.plaintext.to_vec();
        let checked = match response.plaintext_crc32c {
            Some(expected) if i64::from(crc32c::crc32c(&plaintext)) != expected => Err(Problem::ChecksumMismatch(
                "the plaintext does not match its CRC32C checksum",
            )),
            _ => std::str::from_utf8(&plaintext)
                .map(SecretValue::withheld)
                .map_err(|_| Problem::NotText),
        };
        plaintext.zeroize();
        checked.map_err(|reason| KeyError::InvalidValue { within, reason })
    }

    /// Encrypt `plaintext` under `key` (or `GOOGLE_KMS_RESOURCE_NAME`) and return the ciphertext
    /// as base64.
    pub async fn encrypt(
        &self,
        key: Option<&str>,
        plaintext: &SecretValue,
        ctx: &Context,
    ) -> Result<String, BackendError> {
        let key = key.or(self.key.as_deref()).ok_or_else(|| self.no_key())?;
        let client = self.client().await?;
        let data = plaintext.expose().as_bytes().to_vec();
        let checksum = i64::from(crc32c::crc32c(&data));
        let (result, attempts) = call(ctx, || {
            let request = client
                .encrypt()
                .set_name(key)
                .set_plaintext(data.clone())
                .set_plaintext_crc32c(checksum);
            async move { request.send().await.map_err(from_gax) }
        })
        .await;
        let response = result.map_err(|f| self.failed("Encrypt", f, attempts))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(&response.ciphertext))
    }

    pub(super) fn no_key(&self) -> BackendError {
        BackendError::configuration(
            self.describe(),
            "GOOGLE_KMS_RESOURCE_NAME is not set (projects/…/locations/…/keyRings/…/cryptoKeys/…)",
        )
    }
}

#[async_trait]
impl Backend for GoogleKms {
    fn policy(
        &self,
        wanted: &crate::backend::policy::Wanted<'_>,
    ) -> Result<crate::backend::policy::Policy, BackendError> {
        self.access_policy(wanted)
    }

    fn describe(&self) -> String {
        format!("{SYSTEM} ({})", self.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT))
    }

    async fn fetch(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError> {
        let key = self.key.as_deref().ok_or_else(|| self.no_key())?;
        let client = self.client().await?;
        Ok(join_all(keys.iter().map(|name| self.decrypt_key(client, key, name, ctx))).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_bytes_literals() {
        assert_eq!(decode_ciphertext("AQID").unwrap(), [1, 2, 3]);
        assert_eq!(decode_ciphertext(r"b'\x01\x02\x03'").unwrap(), [1, 2, 3]);
        assert_eq!(decode_ciphertext(r#"b"a\n\\\"'\101\0""#).unwrap(), b"a\n\\\"'A\0");
        assert_eq!(decode_ciphertext(r"b'it\'s \q'").unwrap(), b"it's \\q");
        for bad in [
            r"b'\x0'",
            r"b'\xzz'",
            "b'caf\u{e9}'",
            r"b'\777'",
            r"b'a'b'",
            "b'trailing\\'",
            "not base64!",
            "AQI",
            "",
        ] {
            assert!(decode_ciphertext(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_bytes_literal_is_never_evaluated() {
        // Python code inside a literal is just bytes.
        assert_eq!(
            decode_ciphertext("b'__import__(\"os\")'").unwrap(),
            b"__import__(\"os\")"
        );
    }
}
