//! Where the Conjur backend's settings come from: LiteLLM's `CYBERARK_*` variables first,
//! Conjur's own `CONJUR_*` ones (its CLI and SDKs) where those are unset, then LiteLLM's
//! defaults. Read once per run from the environment (process and `--env-file`).

use crate::environment::Environment;
use crate::provenance::{Setting, var as v};
use crate::secret::SecretValue;
use std::fmt;
use std::path::PathBuf;

/// LiteLLM's default address.
pub const DEFAULT_BASE: &str = "http://127.0.0.1:8080";

/// How the run gets its access token.
#[derive(Clone)]
pub enum Auth {
    /// `POST /authn/{account}/{login}/authenticate` with the API key as the body.
    ApiKey(SecretValue),
    /// An access token another process keeps current in a file (Conjur's Kubernetes
    /// authenticator sidecar, `CONJUR_AUTHN_TOKEN_FILE`), read when a session starts.
    TokenFile(PathBuf),
    /// LiteLLM's certificate form: the client certificate authenticates the connection and the
    /// login is sent with an empty body (whatever fronts Conjur decides what that proves).
    Certificate,
}

impl Auth {
    /// How messages name the method.
    pub fn method(&self) -> &'static str {
        match self {
            Self::ApiKey(_) => "API key",
            Self::TokenFile(_) => "access token file",
            Self::Certificate => "client certificate",
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method())
    }
}

/// Where the extra CA comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ca {
    /// `CONJUR_CERT_FILE`: a PEM file.
    File(PathBuf),
    /// `CONJUR_SSL_CERTIFICATE`: the PEM text itself.
    Pem(String),
}

/// No way to log in to Conjur is configured (said before any request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "no Conjur credentials: set CYBERARK_API_KEY (or CONJUR_AUTHN_API_KEY) with the login's API key, CONJUR_AUTHN_TOKEN_FILE to an access token file an authenticator keeps current, or CYBERARK_CLIENT_CERT and CYBERARK_CLIENT_KEY"
)]
pub struct NoCredentials;

/// Everything the Conjur backend needs, with problems found while reading it.
#[derive(Debug, Clone)]
pub struct ConjurConfig {
    /// The appliance URL without a trailing `/` (it may carry a path, e.g. `/api`).
    pub base: String,
    /// The organisation account (`default`).
    pub account: String,
    /// The login: a user id, or `host/<host id>` for a host identity.
    pub login: String,
    /// How the run authenticates, or why it cannot.
    pub auth: Result<Auth, NoCredentials>,
    /// A client certificate and key presented on every connection (mutual TLS).
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// The extra CA that signed Conjur's certificate.
    pub ca: Option<Ca>,
    /// `CYBERARK_SSL_VERIFY` asked to turn verification off: it is ignored, and said so.
    pub skip_verify_requested: bool,
    /// Half a client identity (a certificate without a key, or the reverse).
    pub half_identity: Option<&'static str>,
}

impl ConjurConfig {
    /// Read the settings.
    pub fn new(env: &Environment) -> Self {
        let setting = |names: &[Setting]| names.iter().find_map(|&n| env.backend_setting(n));
        let secret = |names: &[Setting]| {
            names
                .iter()
                .find_map(|&n| env.backend_secret(n).filter(|v| !v.expose().trim().is_empty()))
        };
        let base = setting(&[v::CYBERARK_API_BASE, v::CONJUR_APPLIANCE_URL])
            .unwrap_or_else(|| DEFAULT_BASE.to_owned())
            .trim_end_matches('/')
            .to_owned();
        let cert = setting(&[v::CYBERARK_CLIENT_CERT]);
        let key = setting(&[v::CYBERARK_CLIENT_KEY]);
        let (client_identity, half_identity) = match (cert, key) {
            (Some(c), Some(k)) => (Some((PathBuf::from(c), PathBuf::from(k))), None),
            (Some(_), None) => (None, Some("CYBERARK_CLIENT_CERT is set without CYBERARK_CLIENT_KEY")),
            (None, Some(_)) => (None, Some("CYBERARK_CLIENT_KEY is set without CYBERARK_CLIENT_CERT")),
            (None, None) => (None, None),
        };
        let auth = if let Some(key) = secret(&[v::CYBERARK_API_KEY, v::CONJUR_AUTHN_API_KEY]) {
            Ok(Auth::ApiKey(SecretValue::withheld(key.expose().trim())))
        } else if let Some(file) = setting(&[v::CONJUR_AUTHN_TOKEN_FILE]) {
            Ok(Auth::TokenFile(PathBuf::from(file)))
        } else if client_identity.is_some() {
            Ok(Auth::Certificate)
        } else {
            Err(NoCredentials)
        };
        let ca = setting(&[v::CONJUR_CERT_FILE])
            .map(|f| Ca::File(PathBuf::from(f)))
            .or_else(|| {
                env.backend_secret(v::CONJUR_SSL_CERTIFICATE)
                    .map(|pem| pem.expose().trim().to_owned())
                    .filter(|pem| !pem.is_empty())
                    .map(Ca::Pem)
            });
        Self {
            base,
            account: setting(&[v::CYBERARK_ACCOUNT, v::CONJUR_ACCOUNT]).unwrap_or_else(|| "default".to_owned()),
            login: setting(&[v::CYBERARK_USERNAME, v::CONJUR_AUTHN_LOGIN]).unwrap_or_else(|| "admin".to_owned()),
            auth,
            client_identity,
            ca,
            skip_verify_requested: setting(&[v::CYBERARK_SSL_VERIFY])
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "false" | "0" | "no" | "off")),
            half_identity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> ConjurConfig {
        ConjurConfig::new(&Environment::new(vars.iter().copied(), vec![]))
    }

    #[test]
    fn litellm_defaults() {
        let c = config(&[("CYBERARK_API_KEY", "k")]);
        assert_eq!(c.base, "http://127.0.0.1:8080");
        assert_eq!(c.account, "default");
        assert_eq!(c.login, "admin");
        assert!(matches!(c.auth, Ok(Auth::ApiKey(_))));
        assert!(!c.skip_verify_requested);
    }

    #[test]
    fn litellm_names_win_over_conjur_names() {
        let c = config(&[
            ("CYBERARK_API_BASE", "https://conjur.example.com/"),
            ("CONJUR_APPLIANCE_URL", "https://other.example.com"),
            ("CONJUR_ACCOUNT", "myorg"),
            ("CONJUR_AUTHN_LOGIN", "host/litellm/proxy"),
            ("CONJUR_AUTHN_API_KEY", "k"),
            ("CONJUR_CERT_FILE", "/etc/conjur.pem"),
        ]);
        assert_eq!(c.base, "https://conjur.example.com");
        assert_eq!(c.account, "myorg");
        assert_eq!(c.login, "host/litellm/proxy");
        assert!(matches!(c.auth, Ok(Auth::ApiKey(_))));
        assert_eq!(c.ca, Some(Ca::File("/etc/conjur.pem".into())));
    }

    #[test]
    fn credentials_in_order_and_half_identities() {
        let c = config(&[("CONJUR_AUTHN_TOKEN_FILE", "/run/conjur/access-token")]);
        assert!(matches!(c.auth, Ok(Auth::TokenFile(_))));
        let c = config(&[("CYBERARK_CLIENT_CERT", "c.pem"), ("CYBERARK_CLIENT_KEY", "k.pem")]);
        assert!(matches!(c.auth, Ok(Auth::Certificate)));
        let c = config(&[("CYBERARK_CLIENT_CERT", "c.pem")]);
        assert!(c.auth.unwrap_err().to_string().starts_with("no Conjur credentials"));
        assert_eq!(
            c.half_identity,
            Some("CYBERARK_CLIENT_CERT is set without CYBERARK_CLIENT_KEY")
        );
        let c = config(&[("CYBERARK_API_KEY", "  "), ("CYBERARK_SSL_VERIFY", "False")]);
        assert!(c.auth.is_err());
        assert!(c.skip_verify_requested);
    }
}
