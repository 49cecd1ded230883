//! Where the Vault backend's settings come from: LiteLLM's `HCP_VAULT_*` variables first, the
//! standard `VAULT_*` ones where those are unset, then defaults. Read once per run from the
//! environment (process and `--env-file`).

use super::secret_path::clean_component;
use crate::environment::Environment;
use crate::secret::SecretValue;
use crate::settings::{VaultOptions, WrittenSecrets};
use std::fmt;
use std::path::PathBuf;

/// LiteLLM's default address.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:8200";

/// How the run gets its token; the first configured one wins, in this order.
#[derive(Clone)]
pub enum Auth {
    /// `POST auth/{mount}/login` with a role id and secret id.
    AppRole {
        /// The auth mount (`approle`).
        mount: String,
        /// `role_id`.
        role_id: String,
        /// `secret_id`.
        secret_id: SecretValue,
    },
    /// `POST auth/cert/login` over mutual TLS.
    Cert {
        /// The certificate role to log in as (`name`), or any matching role.
        role: Option<String>,
    },
    /// A token given directly.
    Token(SecretValue),
}

impl Auth {
    /// How messages name the method.
    pub fn method(&self) -> &'static str {
        match self {
            Self::AppRole { .. } => "AppRole",
            Self::Cert { .. } => "TLS certificate",
            Self::Token(_) => "token",
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method())
    }
}

/// KV secrets engine version of the mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvVersion {
    /// Unversioned key/value.
    V1,
    /// Versioned (`data/` and `metadata/` paths); LiteLLM supports only this.
    V2,
}

/// Everything the Vault backend needs, with problems found while reading it.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    /// Address without a trailing `/`.
    pub addr: String,
    /// The auth method, or why there is none.
    pub auth: Result<Auth, String>,
    /// Namespace put in secret paths.
    pub secret_namespace: Option<String>,
    /// Namespace sent as `X-Vault-Namespace` when logging in.
    pub login_namespace: Option<String>,
    /// KV mount (`secret`).
    pub mount: String,
    /// Path prefix under the mount.
    pub path_prefix: Option<String>,
    /// Client certificate and key files (cert auth).
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// Extra CA bundle (`VAULT_CACERT`).
    pub ca_cert: Option<PathBuf>,
    /// The field read when a reference does not name one (`key`).
    pub field: crate::settings::Shown,
    /// The mount's KV version.
    pub kv: KvVersion,
    /// `description` stored next to written values.
    pub description: Option<String>,
    /// `VAULT_SKIP_VERIFY` was set: it is ignored, and said so.
    pub skip_verify_requested: bool,
}

impl VaultConfig {
    /// Read the settings.
    pub fn new(settings: &VaultOptions, written: &WrittenSecrets, env: &Environment) -> Self {
        let var = |name: &str| env.backend_setting(name);
        let first = |names: &[&str]| names.iter().find_map(|n| var(n));
        let secret = |name: &str| env.backend_secret(name).filter(|v| !v.expose().trim().is_empty());

        let addr = first(&["HCP_VAULT_ADDR", "VAULT_ADDR"])
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
            .trim_end_matches('/')
            .to_owned();
        let namespace = first(&["HCP_VAULT_NAMESPACE", "VAULT_NAMESPACE"]);
        let secret_namespace = var("HCP_VAULT_SECRET_NAMESPACE")
            .or_else(|| namespace.clone())
            .and_then(|n| clean_component(&n));
        let login_namespace = var("HCP_VAULT_LOGIN_NAMESPACE")
            .or(namespace)
            .map(|n| n.trim().trim_matches('/').to_owned())
            .filter(|n| !n.is_empty());
        let cert = first(&["HCP_VAULT_CLIENT_CERT", "VAULT_CLIENT_CERT"]);
        let key = first(&["HCP_VAULT_CLIENT_KEY", "VAULT_CLIENT_KEY"]);
        let client_identity = match (&cert, &key) {
            (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
            _ => None,
        };
        let role_id = var("HCP_VAULT_APPROLE_ROLE_ID");
        let secret_id = secret("HCP_VAULT_APPROLE_SECRET_ID");
        let token = secret("HCP_VAULT_TOKEN").or_else(|| secret("VAULT_TOKEN"));
        let auth = match (role_id, secret_id, &client_identity, token) {
            (Some(role_id), Some(secret_id), _, _) => Ok(Auth::AppRole {
                mount: var("HCP_VAULT_APPROLE_MOUNT_PATH")
                    .and_then(|m| clean_component(&m))
                    .unwrap_or_else(|| "approle".into()),
                role_id,
                secret_id,
            }),
            (Some(_), None, _, _) | (None, Some(_), _, _) => Err(
                "AppRole needs both HCP_VAULT_APPROLE_ROLE_ID and HCP_VAULT_APPROLE_SECRET_ID".to_owned(),
            ),
            (None, None, Some(_), _) => Ok(Auth::Cert {
                role: var("HCP_VAULT_CERT_ROLE"),
            }),
            (None, None, None, _) if cert.is_some() != key.is_some() => Err(
                "TLS certificate auth needs both HCP_VAULT_CLIENT_CERT and HCP_VAULT_CLIENT_KEY (or VAULT_CLIENT_CERT and VAULT_CLIENT_KEY)"
                    .to_owned(),
            ),
            (None, None, None, Some(token)) => Ok(Auth::Token(token)),
            (None, None, None, None) => Err(
                "no Vault credentials: set HCP_VAULT_TOKEN or VAULT_TOKEN, HCP_VAULT_APPROLE_ROLE_ID and HCP_VAULT_APPROLE_SECRET_ID, or a client certificate and key"
                    .to_owned(),
            ),
        };
        Self {
            addr,
            auth,
            secret_namespace,
            login_namespace,
            mount: var("HCP_VAULT_MOUNT_NAME")
                .and_then(|m| clean_component(&m))
                .unwrap_or_else(|| "secret".into()),
            path_prefix: var("HCP_VAULT_PATH_PREFIX").and_then(|p| clean_component(&p)),
            client_identity,
            ca_cert: first(&["VAULT_CACERT"]).map(PathBuf::from),
            field: settings.field.clone(),
            kv: if settings.kv_version == 1 {
                KvVersion::V1
            } else {
                KvVersion::V2
            },
            description: written.description.clone(),
            skip_verify_requested: var("VAULT_SKIP_VERIFY")
                .is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "no")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> VaultConfig {
        VaultConfig::new(
            &VaultOptions::default(),
            &WrittenSecrets::default(),
            &Environment::new(vars.iter().copied(), vec![]),
        )
    }

    #[test]
    fn litellm_variables_win_over_standard_ones() {
        let c = config(&[
            ("HCP_VAULT_ADDR", "https://hcp:8200/"),
            ("VAULT_ADDR", "https://std:8200"),
            ("HCP_VAULT_TOKEN", "t1"),
            ("VAULT_TOKEN", "t2"),
            ("VAULT_NAMESPACE", "std-ns"),
            ("HCP_VAULT_SECRET_NAMESPACE", "/secret-ns/"),
        ]);
        assert_eq!(c.addr, "https://hcp:8200");
        assert!(matches!(&c.auth, Ok(Auth::Token(t)) if t.expose() == "t1"));
        assert_eq!(c.secret_namespace.as_deref(), Some("secret-ns"));
        assert_eq!(c.login_namespace.as_deref(), Some("std-ns"));
        assert_eq!((c.mount.as_str(), c.path_prefix.as_deref()), ("secret", None));

        let c = config(&[("VAULT_ADDR", "https://std:8200"), ("VAULT_TOKEN", "t2")]);
        assert_eq!(c.addr, "https://std:8200");
        assert!(matches!(&c.auth, Ok(Auth::Token(t)) if t.expose() == "t2"));
        assert_eq!(config(&[]).addr, DEFAULT_ADDR);
    }

    #[test]
    fn approle_then_cert_then_token() {
        let all = [
            ("HCP_VAULT_APPROLE_ROLE_ID", "r"),
            ("HCP_VAULT_APPROLE_SECRET_ID", "s"),
            ("HCP_VAULT_CLIENT_CERT", "c.pem"),
            ("HCP_VAULT_CLIENT_KEY", "k.pem"),
            ("HCP_VAULT_TOKEN", "t"),
        ];
        assert_eq!(config(&all).auth.unwrap().method(), "AppRole");
        assert_eq!(config(&all[2..]).auth.unwrap().method(), "TLS certificate");
        assert_eq!(config(&all[4..]).auth.unwrap().method(), "token");
        assert!(config(&all[..1]).auth.unwrap_err().contains("needs both"));
        assert!(config(&all[2..3]).auth.unwrap_err().contains("needs both"));
        assert!(config(&[]).auth.unwrap_err().contains("no Vault credentials"));
    }
}
