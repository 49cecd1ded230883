//! Where the Vault backend's settings come from: LiteLLM's `HCP_VAULT_*` variables first, the
//! standard `VAULT_*` ones where those are unset, then defaults. Read once per run from the
//! environment (process and `--env-file`).

use super::secret_path::{PathProblem, clean_component};
use crate::environment::Environment;
use crate::provenance::{Setting, var as v};
use crate::secret::SecretValue;
use crate::settings::{VaultOptions, WrittenSecrets};
use std::fmt;
use std::path::PathBuf;

/// Why the settings allow no Vault login (said before any request; never a credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginProblem {
    /// One of AppRole's two variables.
    #[error("AppRole needs both HCP_VAULT_APPROLE_ROLE_ID and HCP_VAULT_APPROLE_SECRET_ID")]
    HalfAppRole,
    /// A certificate without its key, or the other way round.
    #[error(
        "TLS certificate auth needs both HCP_VAULT_CLIENT_CERT and HCP_VAULT_CLIENT_KEY (or VAULT_CLIENT_CERT and VAULT_CLIENT_KEY)"
    )]
    HalfCertificate,
    /// `HCP_VAULT_AUTH_METHOD=token` without one.
    #[error("token auth needs HCP_VAULT_TOKEN or VAULT_TOKEN")]
    NoToken,
    /// Kubernetes login without a role.
    #[error("Kubernetes auth needs HCP_VAULT_K8S_ROLE (the Vault role)")]
    NoKubernetesRole,
    /// JWT login without a role.
    #[error("JWT auth needs HCP_VAULT_JWT_ROLE (the Vault role)")]
    NoJwtRole,
    /// JWT login without a token to send.
    #[error(
        "JWT auth needs a token: HCP_VAULT_JWT_TOKEN, HCP_VAULT_JWT_TOKEN_FILE, or (in GitHub Actions, with `permissions: id-token: write`) ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN"
    )]
    NoJwtToken,
    /// `HCP_VAULT_AUTH_METHOD` names no method (as set, lowercased).
    #[error("HCP_VAULT_AUTH_METHOD `{0}` is not one of {METHODS}")]
    UnknownMethod(String),
    /// Nothing set at all.
    #[error(
        "no Vault credentials: set HCP_VAULT_TOKEN or VAULT_TOKEN, HCP_VAULT_APPROLE_ROLE_ID and HCP_VAULT_APPROLE_SECRET_ID, a client certificate and key, HCP_VAULT_K8S_ROLE (Kubernetes login) or HCP_VAULT_JWT_ROLE (JWT login), or pick one with HCP_VAULT_AUTH_METHOD"
    )]
    NoCredentials,
    /// A mount or role that is not a plain path.
    #[error(transparent)]
    Path(#[from] PathProblem),
}

/// A mount, prefix or namespace the backend refuses to send any request with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// Not a plain path (`..`, `//`, a control character).
    #[error(transparent)]
    Path(#[from] PathProblem),
    /// A mount (or namespace) that is one of Vault's own APIs, not a secrets engine.
    #[error(
        "HCP_VAULT_MOUNT_NAME `{mount}` (or the namespace) names Vault's own `{segment}/` API, not a secrets engine"
    )]
    OwnApi {
        /// The mount as set.
        mount: String,
        /// The API's segment (`auth`, `sys`, `identity`, …).
        segment: String,
    },
}

/// LiteLLM's default address.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:8200";

/// Where a Kubernetes pod's service-account token is mounted.
pub const DEFAULT_K8S_TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// How the run gets its token. `HCP_VAULT_AUTH_METHOD` picks one; without it the first
/// configured one wins, in this order: AppRole, TLS certificate, token, Kubernetes, JWT.
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
    /// `POST auth/{mount}/login` with `{role, jwt}`: the pod's service-account token, read from
    /// its file at login time (the kubelet rotates a projected token in place).
    Kubernetes {
        /// The auth mount (`kubernetes`).
        mount: String,
        /// The Vault role.
        role: String,
        /// The token file.
        token_path: PathBuf,
    },
    /// `POST auth/{mount}/login` with `{role, jwt}`: a JWT from an OIDC issuer (a CI system's).
    Jwt {
        /// The auth mount (`jwt`).
        mount: String,
        /// The Vault role.
        role: String,
        /// Where the JWT comes from.
        token: JwtSource,
    },
}

/// Where a JWT login's token comes from.
#[derive(Clone)]
pub enum JwtSource {
    /// `HCP_VAULT_JWT_TOKEN`.
    Value(SecretValue),
    /// `HCP_VAULT_JWT_TOKEN_FILE`, read at login time.
    File(PathBuf),
    /// GitHub Actions' OIDC token endpoint (a job with `permissions: id-token: write`).
    GitHubActions {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        request_url: String,
        /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, the bearer token of that request.
        request_token: SecretValue,
        /// The audience asked for (`HCP_VAULT_JWT_AUDIENCE`, else the Vault address).
        audience: String,
    },
}

impl JwtSource {
    /// How messages name the source.
    pub fn describe(&self) -> String {
        match self {
            Self::Value(_) => "HCP_VAULT_JWT_TOKEN".into(),
            Self::File(path) => format!("HCP_VAULT_JWT_TOKEN_FILE `{}`", path.display()),
            Self::GitHubActions { audience, .. } => format!("GitHub Actions' OIDC token for audience `{audience}`"),
        }
    }
}

impl Auth {
    /// How messages name the method.
    pub fn method(&self) -> &'static str {
        match self {
            Self::AppRole { .. } => "AppRole",
            Self::Cert { .. } => "TLS certificate",
            Self::Token(_) => "token",
            Self::Kubernetes { .. } => "Kubernetes",
            Self::Jwt { .. } => "JWT",
        }
    }

    /// The login request's path and the role it logs in as, for methods that log in.
    pub fn login_path(&self) -> Option<(String, Option<&str>)> {
        match self {
            Self::Token(_) => None,
            Self::AppRole { mount, .. } => Some((format!("auth/{mount}/login"), None)),
            Self::Cert { role } => Some(("auth/cert/login".into(), role.as_deref())),
            Self::Kubernetes { mount, role, .. } | Self::Jwt { mount, role, .. } => {
                Some((format!("auth/{mount}/login"), Some(role.as_str())))
            }
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method())
    }
}

/// The auth method of the run and why it was chosen (which variable selected it), for `-v`.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The method.
    pub auth: Auth,
    /// Why: `HCP_VAULT_AUTH_METHOD=jwt`, `HCP_VAULT_K8S_ROLE is set`, …
    pub reason: String,
}

/// The methods `HCP_VAULT_AUTH_METHOD` names.
const METHODS: &str = "token, approle, cert, kubernetes, jwt";

/// Vault's own APIs, which no secrets engine can be mounted at.
pub(super) const RESERVED_PATHS: [&str; 3] = ["auth", "sys", "identity"];

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
    /// The auth method and why it was chosen, or why there is none.
    pub auth: Result<Selected, LoginProblem>,
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
    /// Mounts, prefixes or namespaces that are not plain paths (`..`, `//`) or are Vault's own
    /// APIs: the backend refuses to make any request.
    pub invalid: Vec<Unusable>,
}

impl VaultConfig {
    /// Why no request may be sent with these settings, if any: every unusable path, in one
    /// line.
    pub fn refusal(&self) -> Option<String> {
        (!self.invalid.is_empty()).then(|| {
            self.invalid
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Read the settings.
    pub fn new(settings: &VaultOptions, written: &WrittenSecrets, env: &Environment) -> Self {
        let var = |name: Setting| env.backend_setting(name);
        let first = |names: &[Setting]| names.iter().find_map(|&n| var(n));

        let addr = first(&[v::HCP_VAULT_ADDR, v::VAULT_ADDR])
            .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
            .trim_end_matches('/')
            .to_owned();
        let mut invalid = Vec::new();
        let mut component = |setting: &'static str, value: Option<String>| {
            value.and_then(|value| {
                clean_component(setting, &value).unwrap_or_else(|e| {
                    invalid.push(Unusable::Path(e));
                    None
                })
            })
        };
        let namespace = first(&[v::HCP_VAULT_NAMESPACE, v::VAULT_NAMESPACE]);
        let secret_namespace = component(
            "HCP_VAULT_SECRET_NAMESPACE",
            var(v::HCP_VAULT_SECRET_NAMESPACE).or_else(|| namespace.clone()),
        );
        let login_namespace = component(
            "HCP_VAULT_LOGIN_NAMESPACE",
            var(v::HCP_VAULT_LOGIN_NAMESPACE).or(namespace),
        )
        .map(|_| {
            // Sent as a header, unencoded: the checked text itself.
            first(&[v::HCP_VAULT_LOGIN_NAMESPACE, v::HCP_VAULT_NAMESPACE, v::VAULT_NAMESPACE])
                .unwrap_or_default()
                .trim()
                .trim_matches('/')
                .to_owned()
        });
        let mount = component("HCP_VAULT_MOUNT_NAME", var(v::HCP_VAULT_MOUNT_NAME)).unwrap_or_else(|| "secret".into());
        let path_prefix = component("HCP_VAULT_PATH_PREFIX", var(v::HCP_VAULT_PATH_PREFIX));
        // A read is `GET {namespace}/{mount}/…`: a mount (or namespace) that is one of Vault's
        // own APIs would make a "secret" of `auth/token/lookup-self` (the token itself, under
        // KV v1) or of `identity/oidc/token/…`. Secrets live in secrets engines only.
        let reserved = secret_namespace
            .iter()
            .chain(std::iter::once(&mount))
            .flat_map(|p| p.split('/'))
            .find(|s| RESERVED_PATHS.iter().any(|r| s.eq_ignore_ascii_case(r)));
        if let Some(segment) = reserved {
            invalid.push(Unusable::OwnApi {
                mount: mount.clone(),
                segment: segment.to_owned(),
            });
        }
        let cert = first(&[v::HCP_VAULT_CLIENT_CERT, v::VAULT_CLIENT_CERT]);
        let key = first(&[v::HCP_VAULT_CLIENT_KEY, v::VAULT_CLIENT_KEY]);
        let client_identity = match (&cert, &key) {
            (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
            _ => None,
        };
        let auth = select_auth(env, &addr, cert.is_some(), key.is_some());
        Self {
            addr,
            auth,
            secret_namespace,
            login_namespace,
            mount,
            path_prefix,
            invalid,
            client_identity,
            ca_cert: first(&[v::VAULT_CACERT]).map(PathBuf::from),
            field: settings.field.clone(),
            kv: if settings.kv_version == 1 {
                KvVersion::V1
            } else {
                KvVersion::V2
            },
            description: written.description.clone(),
            skip_verify_requested: var(v::VAULT_SKIP_VERIFY)
                .is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "no")),
        }
    }
}

/// The auth method: the one `HCP_VAULT_AUTH_METHOD` names, else the first configured one.
fn select_auth(env: &Environment, addr: &str, has_cert: bool, has_key: bool) -> Result<Selected, LoginProblem> {
    let var = |name: Setting| env.backend_setting(name).filter(|v| !v.trim().is_empty());
    let secret = |name: Setting| env.backend_secret(name).filter(|v| !v.expose().trim().is_empty());
    let mount = |setting: Setting, default: &str| -> Result<String, LoginProblem> {
        Ok(clean_component(setting.name(), &var(setting).unwrap_or_default())?.unwrap_or_else(|| default.to_owned()))
    };
    // A role is sent in the login's body, not its path; still a plain name, checked the same way.
    let role = |setting: Setting| -> Result<Option<String>, LoginProblem> {
        var(setting).map_or(Ok(None), |r| {
            clean_component(setting.name(), &r)
                .map(|_| Some(r.trim().to_owned()))
                .map_err(LoginProblem::from)
        })
    };

    let approle = || match (
        var(v::HCP_VAULT_APPROLE_ROLE_ID),
        secret(v::HCP_VAULT_APPROLE_SECRET_ID),
    ) {
        (Some(role_id), Some(secret_id)) => Ok(Auth::AppRole {
            mount: mount(v::HCP_VAULT_APPROLE_MOUNT_PATH, "approle")?,
            role_id,
            secret_id,
        }),
        _ => Err(LoginProblem::HalfAppRole),
    };
    let cert = || {
        if has_cert && has_key {
            Ok(Auth::Cert {
                role: role(v::HCP_VAULT_CERT_ROLE)?,
            })
        } else {
            Err(LoginProblem::HalfCertificate)
        }
    };
    let token = || {
        secret(v::HCP_VAULT_TOKEN)
            .or_else(|| secret(v::VAULT_TOKEN))
            .map(Auth::Token)
            .ok_or(LoginProblem::NoToken)
    };
    let kubernetes = || {
        let role = role(v::HCP_VAULT_K8S_ROLE)?.ok_or(LoginProblem::NoKubernetesRole)?;
        Ok(Auth::Kubernetes {
            mount: mount(v::HCP_VAULT_K8S_MOUNT_PATH, "kubernetes")?,
            role,
            token_path: PathBuf::from(
                var(v::HCP_VAULT_K8S_TOKEN_PATH).unwrap_or_else(|| DEFAULT_K8S_TOKEN_PATH.to_owned()),
            ),
        })
    };
    let jwt = || jwt_auth(env, addr);
    let chosen = |auth: Result<Auth, LoginProblem>, reason: String| auth.map(|auth| Selected { auth, reason });

    if let Some(method) = var(v::HCP_VAULT_AUTH_METHOD) {
        let method = method.trim().to_ascii_lowercase();
        let reason = format!("HCP_VAULT_AUTH_METHOD={method}");
        return match method.as_str() {
            "token" => chosen(token(), reason),
            "approle" => chosen(approle(), reason),
            "cert" => chosen(cert(), reason),
            "kubernetes" => chosen(kubernetes(), reason),
            "jwt" => chosen(jwt(), reason),
            _ => Err(LoginProblem::UnknownMethod(method)),
        };
    }
    // The first method any of whose variables is set; a half-configured one is an error, not
    // a silent fall-through to the next.
    if var(v::HCP_VAULT_APPROLE_ROLE_ID).is_some() || secret(v::HCP_VAULT_APPROLE_SECRET_ID).is_some() {
        return chosen(
            approle(),
            "HCP_VAULT_APPROLE_ROLE_ID and HCP_VAULT_APPROLE_SECRET_ID are set".into(),
        );
    }
    if has_cert || has_key {
        return chosen(cert(), "a client certificate and key are set".into());
    }
    if let Ok(auth) = token() {
        let which = if secret(v::HCP_VAULT_TOKEN).is_some() {
            "HCP_VAULT_TOKEN"
        } else {
            "VAULT_TOKEN"
        };
        return chosen(Ok(auth), format!("{which} is set"));
    }
    if var(v::HCP_VAULT_K8S_ROLE).is_some() {
        return chosen(kubernetes(), "HCP_VAULT_K8S_ROLE is set".into());
    }
    if var(v::HCP_VAULT_JWT_ROLE).is_some() {
        return chosen(jwt(), "HCP_VAULT_JWT_ROLE is set".into());
    }
    Err(LoginProblem::NoCredentials)
}

/// A JWT login: the role and where the token comes from (a value, a file, GitHub Actions).
fn jwt_auth(env: &Environment, addr: &str) -> Result<Auth, LoginProblem> {
    let var = |name: Setting| env.backend_setting(name).filter(|v| !v.trim().is_empty());
    let secret = |name: Setting| env.backend_secret(name).filter(|v| !v.expose().trim().is_empty());
    let role = var(v::HCP_VAULT_JWT_ROLE).ok_or(LoginProblem::NoJwtRole)?;
    clean_component("HCP_VAULT_JWT_ROLE", &role)?;
    let mount = clean_component(
        "HCP_VAULT_JWT_MOUNT_PATH",
        &var(v::HCP_VAULT_JWT_MOUNT_PATH).unwrap_or_default(),
    )?
    .unwrap_or_else(|| "jwt".to_owned());
    let token = if let Some(value) = secret(v::HCP_VAULT_JWT_TOKEN) {
        JwtSource::Value(value)
    } else if let Some(path) = var(v::HCP_VAULT_JWT_TOKEN_FILE) {
        JwtSource::File(PathBuf::from(path))
    } else if let (Some(request_url), Some(request_token)) = (
        var(v::ACTIONS_ID_TOKEN_REQUEST_URL),
        secret(v::ACTIONS_ID_TOKEN_REQUEST_TOKEN),
    ) {
        JwtSource::GitHubActions {
            request_url,
            request_token,
            audience: var(v::HCP_VAULT_JWT_AUDIENCE).unwrap_or_else(|| addr.to_owned()),
        }
    } else {
        return Err(LoginProblem::NoJwtToken);
    };
    Ok(Auth::Jwt {
        mount,
        role: role.trim().to_owned(),
        token,
    })
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
        assert!(matches!(&c.auth, Ok(Selected { auth: Auth::Token(t), .. }) if t.expose() == "t1"));
        assert_eq!(c.secret_namespace.as_deref(), Some("secret-ns"));
        assert_eq!(c.login_namespace.as_deref(), Some("std-ns"));
        assert_eq!((c.mount.as_str(), c.path_prefix.as_deref()), ("secret", None));

        let c = config(&[("VAULT_ADDR", "https://std:8200"), ("VAULT_TOKEN", "t2")]);
        assert_eq!(c.addr, "https://std:8200");
        assert!(matches!(&c.auth, Ok(Selected { auth: Auth::Token(t), .. }) if t.expose() == "t2"));
        assert_eq!(config(&[]).addr, DEFAULT_ADDR);
    }

    /// The adversary's finding: `HCP_VAULT_MOUNT_NAME=auth/token` from an env file with KV v1
    /// read `auth/token/lookup-self`, whose `id` is the token.
    #[test]
    fn a_mount_cannot_be_vaults_own_api() {
        for (name, value) in [
            ("HCP_VAULT_MOUNT_NAME", "auth/token"),
            ("HCP_VAULT_MOUNT_NAME", "SYS"),
            ("HCP_VAULT_MOUNT_NAME", "identity/oidc"),
            ("HCP_VAULT_SECRET_NAMESPACE", "auth"),
        ] {
            let c = config(&[(name, value)]);
            assert!(
                matches!(c.invalid.as_slice(), [Unusable::OwnApi { .. }]),
                "{name}={value}: {c:?}"
            );
        }
        assert!(config(&[("HCP_VAULT_MOUNT_NAME", "kv/authors")]).invalid.is_empty());
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
        assert_eq!(config(&all).auth.unwrap().auth.method(), "AppRole");
        assert_eq!(config(&all[2..]).auth.unwrap().auth.method(), "TLS certificate");
        assert_eq!(config(&all[4..]).auth.unwrap().auth.method(), "token");
        assert_eq!(config(&all[..1]).auth.unwrap_err(), LoginProblem::HalfAppRole);
        assert_eq!(config(&all[2..3]).auth.unwrap_err(), LoginProblem::HalfCertificate);
        assert_eq!(config(&[]).auth.unwrap_err(), LoginProblem::NoCredentials);
    }

    fn method(vars: &[(&str, &str)]) -> Result<(&'static str, String), LoginProblem> {
        config(vars).auth.map(|s| (s.auth.method(), s.reason))
    }

    #[test]
    fn kubernetes_and_jwt_come_after_the_others_and_say_why() {
        let k8s = ("HCP_VAULT_K8S_ROLE", "litellm");
        let jwt = ("HCP_VAULT_JWT_ROLE", "ci");
        let jwt_token = ("HCP_VAULT_JWT_TOKEN", "eyJ.x.y");
        assert_eq!(
            method(&[k8s, jwt, jwt_token]).unwrap(),
            ("Kubernetes", "HCP_VAULT_K8S_ROLE is set".into())
        );
        assert_eq!(
            method(&[jwt, jwt_token]).unwrap(),
            ("JWT", "HCP_VAULT_JWT_ROLE is set".into())
        );
        // A token comes first; the explicit choice overrides the order.
        assert_eq!(method(&[k8s, ("VAULT_TOKEN", "t")]).unwrap().0, "token");
        assert_eq!(
            method(&[k8s, ("VAULT_TOKEN", "t"), ("HCP_VAULT_AUTH_METHOD", "Kubernetes")]).unwrap(),
            ("Kubernetes", "HCP_VAULT_AUTH_METHOD=kubernetes".into())
        );
        let iam = method(&[("HCP_VAULT_AUTH_METHOD", "iam")]).unwrap_err();
        assert_eq!(
            iam.to_string(),
            "HCP_VAULT_AUTH_METHOD `iam` is not one of token, approle, cert, kubernetes, jwt"
        );
        assert_eq!(
            method(&[("HCP_VAULT_AUTH_METHOD", "kubernetes"), ("VAULT_TOKEN", "t")]).unwrap_err(),
            LoginProblem::NoKubernetesRole
        );
        assert_eq!(method(&[jwt]).unwrap_err(), LoginProblem::NoJwtToken);
    }

    #[test]
    fn kubernetes_defaults_and_overrides() {
        let c = config(&[("HCP_VAULT_K8S_ROLE", " litellm ")]).auth.unwrap().auth;
        let Auth::Kubernetes {
            mount,
            role,
            token_path,
        } = c
        else {
            panic!("{c:?}")
        };
        assert_eq!((mount.as_str(), role.as_str()), ("kubernetes", "litellm"));
        assert_eq!(token_path, PathBuf::from(DEFAULT_K8S_TOKEN_PATH));
        let c = config(&[
            ("HCP_VAULT_K8S_ROLE", "r"),
            ("HCP_VAULT_K8S_MOUNT_PATH", "/k8s-prod/"),
            ("HCP_VAULT_K8S_TOKEN_PATH", "/var/run/secrets/tokens/vault"),
        ])
        .auth
        .unwrap()
        .auth;
        assert!(matches!(&c, Auth::Kubernetes { mount, token_path, .. }
            if mount == "k8s-prod" && token_path == &PathBuf::from("/var/run/secrets/tokens/vault")));
    }

    #[test]
    fn a_jwt_comes_from_a_value_a_file_or_github_actions() {
        let source = |vars: &[(&str, &str)]| match config(vars).auth.unwrap().auth {
            Auth::Jwt { token, mount, .. } => (mount, token),
            other => panic!("{other:?}"),
        };
        let role = ("HCP_VAULT_JWT_ROLE", "ci");
        let github = [
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "https://token.actions.example/x?api-version=2.0",
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "bearer"),
        ];
        let (mount, token) = source(&[role, github[0], github[1], ("HCP_VAULT_JWT_TOKEN", "v")]);
        assert_eq!(mount, "jwt");
        assert!(matches!(token, JwtSource::Value(v) if v.expose() == "v"));
        let (_, token) = source(&[role, github[0], github[1], ("HCP_VAULT_JWT_TOKEN_FILE", "/t")]);
        assert!(matches!(token, JwtSource::File(p) if p.as_os_str() == "/t"));
        let (_, token) = source(&[role, github[0], github[1], ("HCP_VAULT_ADDR", "https://vault:8200/")]);
        assert!(matches!(&token, JwtSource::GitHubActions { audience, .. } if audience == "https://vault:8200"));
        let (_, token) = source(&[role, github[0], github[1], ("HCP_VAULT_JWT_AUDIENCE", "vault")]);
        assert!(matches!(&token, JwtSource::GitHubActions { audience, .. } if audience == "vault"));
        assert_eq!(token.describe(), "GitHub Actions' OIDC token for audience `vault`");
        // Only one of GitHub's two variables is not a source.
        assert!(config(&[role, github[0]]).auth.is_err());
    }
}
