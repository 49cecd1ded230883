//! AWS: what Secrets Manager and KMS share — where the region, endpoint and credentials come
//! from, and how a failed call is classified.
//!
//! The SDK's own retries are turned off: every request goes through the run's [`Context`]
//! (concurrency bound, per-request timeout, [`crate::backend::transport::retry::RetryPolicy`]), so the attempts an
//! error reports are the attempts made.

pub mod kms;
pub mod names;
mod payload;
mod policy;
pub mod secrets_manager;
mod writes;

use super::RequestFailure;
pub(crate) use super::call;
use crate::environment::Environment;
use crate::error::{BackendError, KeyError, Problem, Within};
use crate::provenance::{Setting, var as v};
use crate::secret::SecretValue;
use crate::settings::AwsOptions;
use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, error::CredentialsError, future};
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use std::fmt;

/// Which AWS service, for the endpoint variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    SecretsManager,
    Kms,
}

impl Service {
    fn endpoint_variable(self) -> Setting {
        match self {
            Self::SecretsManager => v::AWS_ENDPOINT_URL_SECRETS_MANAGER,
            Self::Kms => v::AWS_ENDPOINT_URL_KMS,
        }
    }

    fn host_prefix(self) -> &'static str {
        match self {
            Self::SecretsManager => "secretsmanager",
            Self::Kms => "kms",
        }
    }
}

/// Region, endpoint and credential sources, read once from the settings and the environment
/// (process and `--env-file`, so a dotenv file can carry `AWS_REGION` too).
#[derive(Clone)]
pub(crate) struct AwsSettings {
    service: Service,
    region: Option<String>,
    endpoint: Option<String>,
    profile: Option<String>,
    role_arn: Option<String>,
    session_name: Option<String>,
    external_id: Option<String>,
    web_identity_token: Option<SecretValue>,
    sts_endpoint: Option<String>,
    static_keys: Option<(String, SecretValue, Option<SecretValue>)>,
    /// The region set is not a region name.
    bad_region: bool,
    /// The region the SDK settled on, once loaded (it may come from a profile).
    loaded_region: std::sync::OnceLock<String>,
}

impl fmt::Debug for AwsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSettings")
            .field("service", &self.service)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("profile", &self.profile)
            .field("role_arn", &self.role_arn)
            .finish_non_exhaustive()
    }
}

impl AwsSettings {
    /// LiteLLM's precedence: the settings field, then `AWS_REGION_NAME`, `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`; then the AWS config file (profile) when the SDK loads.
    pub(crate) fn new(service: Service, s: &AwsOptions, env: &Environment) -> Self {
        let var = |name: Setting| env.backend_setting(name);
        let secret = |name: Setting| env.backend_secret(name).filter(|v| !v.expose().is_empty());
        let region = s
            .region_name
            .clone()
            .or_else(|| var(v::AWS_REGION_NAME))
            .or_else(|| var(v::AWS_REGION))
            .or_else(|| var(v::AWS_DEFAULT_REGION));
        // The region becomes a host name, and an env file may set it: one that is not a
        // region's shape is refused (in `load`) and never shown, wherever it came from.
        let (region, bad_region) = match region {
            Some(r) if !crate::trust::aws_region(&r) => (None, true),
            region => (region, false),
        };
        let endpoint = if var(v::AWS_IGNORE_CONFIGURED_ENDPOINT_URLS).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            None
        } else {
            var(service.endpoint_variable()).or_else(|| var(v::AWS_ENDPOINT_URL))
        };
        let static_keys = match (var(v::AWS_ACCESS_KEY_ID), secret(v::AWS_SECRET_ACCESS_KEY)) {
            (Some(id), Some(key)) => Some((id, key, secret(v::AWS_SESSION_TOKEN))),
            _ => None,
        };
        Self {
            service,
            region,
            endpoint,
            profile: s.profile_name.clone().or_else(|| var(v::AWS_PROFILE_NAME)),
            role_arn: s.role_name.clone().or_else(|| var(v::AWS_ROLE_NAME)),
            session_name: s.session_name.clone().or_else(|| var(v::AWS_SESSION_NAME)),
            external_id: s.external_id.clone().or_else(|| var(v::AWS_EXTERNAL_ID)),
            web_identity_token: s
                .web_identity_token
                .clone()
                .or_else(|| secret(v::AWS_WEB_IDENTITY_TOKEN)),
            sts_endpoint: s.sts_endpoint.clone().or_else(|| var(v::AWS_STS_ENDPOINT)),
            static_keys,
            bad_region,
            loaded_region: std::sync::OnceLock::new(),
        }
    }

    /// The endpoint override, if any.
    pub(crate) fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The endpoint URL requests go to (as far as it is known before the SDK loads).
    pub(crate) fn url(&self) -> String {
        match (&self.endpoint, self.region.as_ref().or(self.loaded_region.get())) {
            (Some(url), _) => url.clone(),
            (None, Some(region)) => format!("https://{}.{region}.amazonaws.com", self.service.host_prefix()),
            (None, None) => format!("https://{}.<no region>.amazonaws.com", self.service.host_prefix()),
        }
    }

    /// How messages name the service: the system and the endpoint URL it talks to.
    pub(crate) fn describe(&self, system: &str) -> String {
        format!("{system} ({})", self.url())
    }

    /// Load the SDK configuration. No request is made here: credentials are fetched on first
    /// use by the SDK, and cached for the run.
    pub(crate) async fn load(&self, system: &str) -> Result<SdkConfig, BackendError> {
        if self.bad_region {
            return Err(BackendError::configuration(
                system.to_owned(),
                "the AWS region set (AWS_REGION_NAME, AWS_REGION or AWS_DEFAULT_REGION) is not a region name like `us-east-1` (value not shown)",
            ));
        }
        if let Some(url) = &self.endpoint {
            crate::trust::warn_if_plain_http(self.service.host_prefix(), url);
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::disabled());
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        } else if let Some((id, key, token)) = &self.static_keys {
            // Only reached when the variables are set: the same first step as the SDK's chain,
            // but it also sees `--env-file` values.
            loader = loader.credentials_provider(Credentials::new(
                id,
                key.expose(),
                token.as_ref().map(|t| t.expose().to_owned()),
                None,
                "osenv environment",
            ));
        }
        let base = loader.load().await;
        let Some(region) = base.region() else {
            return Err(BackendError::Configuration {
                backend: system.to_owned(),
                reason: "no AWS region: set key_management_settings.aws_region_name, AWS_REGION_NAME or AWS_REGION"
                    .into(),
            });
        };
        if !crate::trust::aws_region(region.as_ref()) {
            return Err(BackendError::configuration(
                system.to_owned(),
                "the AWS profile's region is not a region name like `us-east-1` (value not shown)",
            ));
        }
        let _ = self.loaded_region.set(region.to_string());
        // A profile named in the settings is that profile's credentials, as boto3's
        // `Session(profile_name=…)` is for LiteLLM: the SDK's default chain would still take
        // `AWS_ACCESS_KEY_ID` from the environment first.
        let base = match &self.profile {
            Some(profile) => {
                let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .profile_name(profile)
                    .configure(
                        &aws_config::provider_config::ProviderConfig::default().with_region(Some(region.clone())),
                    )
                    .build();
                base.to_builder()
                    .credentials_provider(SharedCredentialsProvider::new(provider))
                    .build()
            }
            None => base,
        };
        let sts_config = match &self.sts_endpoint {
            Some(url) => base.to_builder().endpoint_url(url).build(),
            None => base.clone(),
        };
        let role_session = self.session_name.clone().unwrap_or_else(|| "osenv".into());
        let provider: Option<SharedCredentialsProvider> = match (&self.web_identity_token, &self.role_arn) {
            (Some(token), Some(role)) => Some(SharedCredentialsProvider::new(WebIdentity {
                sts: aws_sdk_sts::Client::new(&sts_config),
                role_arn: role.clone(),
                session_name: role_session,
                token: token.clone(),
            })),
            (None, Some(role)) => {
                let mut builder = aws_config::sts::AssumeRoleProvider::builder(role).session_name(role_session);
                if let Some(id) = &self.external_id {
                    builder = builder.external_id(id);
                }
                Some(SharedCredentialsProvider::new(
                    builder.configure(&sts_config).build().await,
                ))
            }
            _ => None,
        };
        Ok(match provider {
            Some(p) => base.to_builder().credentials_provider(p).build(),
            None => base,
        })
    }
}

/// `AssumeRoleWithWebIdentity` with a token given as a value (LiteLLM's
/// `aws_web_identity_token`), where the SDK's own provider only reads a token file.
struct WebIdentity {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    session_name: String,
    token: SecretValue,
}

impl fmt::Debug for WebIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebIdentity")
            .field("role_arn", &self.role_arn)
            .finish_non_exhaustive()
    }
}

impl WebIdentity {
    async fn credentials(&self) -> Result<Credentials, CredentialsError> {
        let out = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .web_identity_token(self.token.expose())
            .send()
            .await
            // Code and message only: the SDK's error context can hold the response body.
            .map_err(|e| CredentialsError::provider_error(from_sdk(e).to_string()))?;
        let c = out
            .credentials()
            .ok_or_else(|| CredentialsError::provider_error("AssumeRoleWithWebIdentity returned no credentials"))?;
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            std::time::SystemTime::try_from(*c.expiration()).ok(),
            "WebIdentityToken",
        ))
    }
}

impl ProvideCredentials for WebIdentity {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

/// One SDK request under the run's limits ([`call`]): `request` builds and sends it anew for
/// each attempt (`|| client.describe_secret().secret_id(name).send()`), and its error is
/// classified by [`from_sdk`]. Every AWS call of osenv goes through here.
pub(crate) async fn send<T, E, F, Fut>(
    ctx: &super::Context,
    request: F,
) -> (Result<T, RequestFailure>, crate::error::Attempts)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    call(ctx, || {
        let sent = request();
        async move { sent.await.map_err(from_sdk) }
    })
    .await
}

/// An SDK error as a [`RequestFailure`]: the service's code and message, throttling and
/// server-side failures worth retrying. By value, so that it reads `map_err(from_sdk)`.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn from_sdk<E>(err: SdkError<E, HttpResponse>) -> RequestFailure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let answer = |message: String| match status {
        Some(status) => RequestFailure::answer(status, message),
        None => RequestFailure::transport(message, false),
    };
    match &err {
        SdkError::ServiceError(service) => {
            let code = service.err().code();
            let message = service.err().message().unwrap_or_default().to_owned();
            status
                .map_or_else(
                    || RequestFailure::refusal(message.clone(), false),
                    |s| RequestFailure::answer(s, message.clone()),
                )
                .code(code.map(str::to_owned))
                .transient(is_transient(code, status))
                .throttled(is_throttle(code, status))
        }
        // Connection refused or reset, TLS, a timeout inside the SDK; and credentials that
        // could not be loaded, which are final when the identity service refused them.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            let message = super::error_chain(&err);
            let transient = !credentials_refused(&message);
            answer(message)
                .transient(transient)
                .throttled(is_throttle(None, status))
        }
        // A truncated or unparsable body: its parse error may quote the body, which came
        // from wherever the endpoint points, so only the status is shown.
        SdkError::ResponseError(_) => answer(match status {
            Some(status) => format!("an unreadable response (HTTP {status})"),
            None => "an unreadable response".into(),
        })
        .transient(true)
        .throttled(is_throttle(None, status)),
        _ => answer(super::error_chain(&err)).throttled(is_throttle(None, status)),
    }
}

/// The per-key meaning of an AWS failure, when it is about the key rather than the call.
pub(crate) fn key_error(failure: &RequestFailure, within: &Within) -> Option<KeyError> {
    let within = within.clone();
    let code = failure.code.as_deref()?;
    Some(match code {
        "ResourceNotFoundException" | "NotFoundException" => KeyError::NotFound { within },
        "AccessDeniedException" | "AccessDenied" => KeyError::AccessDenied { within },
        "InvalidRequestException" if failure.message.contains("deleted") || failure.message.contains("deletion") => {
            KeyError::Unavailable {
                within,
                reason: Problem::ScheduledForDeletion,
            }
        }
        "DecryptionFailure" => KeyError::Unavailable {
            within,
            reason: Problem::meaning("Secrets Manager cannot decrypt it with its KMS key", failure),
        },
        "DisabledException" => KeyError::Unavailable {
            within,
            reason: Problem::meaning("the KMS key is disabled", failure),
        },
        "KMSInvalidStateException" | "KeyUnavailableException" => KeyError::Unavailable {
            within,
            reason: Problem::meaning("the KMS key cannot be used", failure),
        },
        "InvalidCiphertextException" | "IncorrectKeyException" => KeyError::InvalidValue {
            within,
            reason: Problem::meaning(
                "KMS cannot decrypt it (a ciphertext for another key or context?)",
                failure,
            ),
        },
        _ => return None,
    })
}

/// The service refused for a rate quota (as opposed to failing).
pub(crate) fn is_throttle(code: Option<&str>, status: Option<u16>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "RequestThrottled"
                | "SlowDown"
        )
    ) || status == Some(429)
}

/// Whether a credentials error says the identity service refused the credentials (STS
/// rejecting a web identity token, a role that may not be assumed), so retrying cannot help:
/// a misconfigured IRSA role then fails each pod at once instead of sending STS requests until
/// the deadline. The SDK's credential providers report these only as text in their chain.
fn credentials_refused(chain: &str) -> bool {
    chain.contains("loading credentials")
        && [
            "InvalidIdentityToken",
            "IDPRejectedClaim",
            "AccessDenied",
            "InvalidClientTokenId",
            "MalformedPolicyDocument",
        ]
        .iter()
        .any(|code| chain.contains(code))
}

/// Throttling and server-side failures are retried; everything else is final.
pub(crate) fn is_transient(code: Option<&str>, status: Option<u16>) -> bool {
    let failing = matches!(
        code,
        Some(
            "InternalServiceError"
                | "InternalFailure"
                | "InternalError"
                | "ServiceUnavailable"
                | "ServiceUnavailableException"
                | "KMSInternalException"
                | "DependencyTimeoutException"
                | "RequestTimeout"
                | "RequestTimeoutException"
        )
    );
    failing || is_throttle(code, status) || status.is_some_and(|s| s >= 500)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Context;

    #[test]
    fn a_refused_identity_is_final_a_missing_one_is_not() {
        let refused = "dispatch failure: other: an error occurred while loading credentials: service error: InvalidIdentityTokenException: Couldn't verify the token";
        assert!(credentials_refused(refused));
        // No credentials yet (an agent or metadata service not up), or STS unreachable.
        assert!(!credentials_refused(
            "dispatch failure: other: an error occurred while loading credentials: the credential provider was not enabled"
        ));
        assert!(!credentials_refused(
            "dispatch failure: io error: Connection refused (os error 111)"
        ));
    }

    use crate::backend::transport::retry::RetryPolicy;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    fn failure(code: &str, message: &str, status: u16) -> RequestFailure {
        RequestFailure::answer(status, message)
            .code(Some(code.into()))
            .transient(is_transient(Some(code), Some(status)))
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        assert!(is_transient(Some("ThrottlingException"), Some(400)));
        assert!(is_transient(Some("InternalServiceError"), Some(500)));
        assert!(is_transient(None, Some(503)));
        assert!(is_transient(None, Some(429)));
        assert!(!is_transient(Some("AccessDeniedException"), Some(400)));
        assert!(!is_transient(Some("ResourceNotFoundException"), Some(400)));
        assert!(!is_transient(Some("DisabledException"), Some(400)));
    }

    #[test]
    fn per_key_failures_map_to_key_errors() {
        let within = Within::backend("aws_kms (x)");
        let show = |f: RequestFailure| key_error(&f, &within).map(|e| e.to_string());
        assert_eq!(
            show(failure("AccessDeniedException", "", 400)).as_deref(),
            Some("access denied by aws_kms (x)")
        );
        assert_eq!(
            show(failure("ResourceNotFoundException", "no", 400)).as_deref(),
            Some("not found in aws_kms (x)")
        );
        assert_eq!(
            show(failure("DisabledException", "arn:k is disabled.", 400)).as_deref(),
            Some("unavailable in aws_kms (x): the KMS key is disabled: HTTP 400 DisabledException: arn:k is disabled.")
        );
        assert!(
            show(failure(
                "InvalidRequestException",
                "You can't perform this operation on the secret because it was marked for deletion.",
                400
            ))
            .unwrap()
            .contains("scheduled for deletion")
        );
        assert!(
            show(failure("IncorrectKeyException", "", 400))
                .unwrap()
                .contains("KMS cannot decrypt it")
        );
        // A throttled call is not a fact about the key.
        assert_eq!(show(failure("ThrottlingException", "Rate exceeded", 400)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_and_access_denied_is_not() {
        let ctx = Context::new(4, Duration::from_secs(5), RetryPolicy::default());
        let calls = AtomicU32::new(0);
        let (result, attempts) = call(&ctx, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(failure("ThrottlingException", "Rate exceeded", 400))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!((result, attempts.count), (Ok(2), 3));

        let (result, attempts) = call(&ctx, || async {
            Err::<(), _>(failure("AccessDeniedException", "", 400))
        })
        .await;
        assert_eq!(attempts.count, 1);
        assert!(result.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_request_times_out_and_is_retried() {
        let ctx = Context::new(
            1,
            Duration::from_secs(1),
            RetryPolicy {
                attempts: Some(2),
                ..RetryPolicy::default()
            },
        );
        let (result, attempts) = call(&ctx, || async {
            tokio::time::sleep(Duration::from_hours(1)).await;
            Ok::<(), RequestFailure>(())
        })
        .await;
        assert_eq!(attempts.count, 2);
        assert!(result.unwrap_err().message.contains("no response within 1s"));
    }
}
