//! Who may say where credentials go.
//!
//! The operator's process environment and flags are trusted: whoever runs osenv can read its
//! environment anyway. The config and the env files are semi-trusted: they come from
//! repositories and pull requests, and a CI job runs `osenv check` on them. A semi-trusted input
//! may name *which* secrets to read and carry values to render, never *where credentials are
//! sent*: the addresses of the secret managers and their token services, the CA bundles that
//! decide whom TLS trusts, the files credentials are read from, and the credentials themselves
//! come from the operator. An env file value for one of the [`OPERATOR_ONLY`] variables is
//! ignored (with a warning) unless it names the cloud's own service over https, and the config's
//! `aws_sts_endpoint` and `aws_web_identity_token` are held to the same rule (see
//! `settings::reader`). The operator widens this with `--trust-env-files` and `--trust-config`
//! (or `OSENV_TRUST_ENV_FILES=true`, `OSENV_TRUST_CONFIG=true`), for files that are their own.

/// What the operator trusts beyond the process environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trust {
    /// Env files may set addresses, CA bundles, credential files and credentials.
    pub env_files: bool,
    /// The config may set any STS endpoint and a web identity token.
    pub config: bool,
}

/// What a variable tells a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Where requests (and so credentials) go.
    Address(Official),
    /// A CA bundle, or a file credentials are read from.
    File,
    /// A credential value.
    Credential,
}

/// Which addresses an env file may still set: the cloud's own service over https.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Official {
    /// None: any value from an env file is ignored.
    Nothing,
    /// `https://…amazonaws.com` (and `.com.cn`).
    Aws,
    /// An Azure Key Vault or Managed HSM host over https.
    AzureKeyVault,
    /// `https://…googleapis.com`.
    Google,
}

/// The variables osenv's backends read that only the operator may set, and what they are. The
/// list is the documented one (README "Trust"); the SDKs' own variables (`AWS_CONFIG_FILE`,
/// `IDENTITY_ENDPOINT`, …) are read by the SDKs from the process environment only, so an env
/// file never reaches them in the first place.
pub const OPERATOR_ONLY: &[(&str, Role)] = &[
    ("AWS_ENDPOINT_URL", Role::Address(Official::Aws)),
    ("AWS_ENDPOINT_URL_SECRETS_MANAGER", Role::Address(Official::Aws)),
    ("AWS_ENDPOINT_URL_KMS", Role::Address(Official::Aws)),
    ("AWS_STS_ENDPOINT", Role::Address(Official::Aws)),
    ("AWS_ACCESS_KEY_ID", Role::Credential),
    ("AWS_SECRET_ACCESS_KEY", Role::Credential),
    ("AWS_SESSION_TOKEN", Role::Credential),
    ("AWS_WEB_IDENTITY_TOKEN", Role::Credential),
    ("HCP_VAULT_ADDR", Role::Address(Official::Nothing)),
    ("VAULT_ADDR", Role::Address(Official::Nothing)),
    ("VAULT_CACERT", Role::File),
    ("HCP_VAULT_CLIENT_CERT", Role::File),
    ("VAULT_CLIENT_CERT", Role::File),
    ("HCP_VAULT_CLIENT_KEY", Role::File),
    ("VAULT_CLIENT_KEY", Role::File),
    ("HCP_VAULT_TOKEN", Role::Credential),
    ("VAULT_TOKEN", Role::Credential),
    ("HCP_VAULT_APPROLE_ROLE_ID", Role::Credential),
    ("HCP_VAULT_APPROLE_SECRET_ID", Role::Credential),
    ("HCP_VAULT_K8S_TOKEN_PATH", Role::File),
    ("HCP_VAULT_JWT_TOKEN_FILE", Role::File),
    ("HCP_VAULT_JWT_TOKEN", Role::Credential),
    ("ACTIONS_ID_TOKEN_REQUEST_URL", Role::Address(Official::Nothing)),
    ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", Role::Credential),
    ("AZURE_KEY_VAULT_URI", Role::Address(Official::AzureKeyVault)),
    ("AZURE_FEDERATED_TOKEN_FILE", Role::File),
    ("AZURE_CLIENT_SECRET", Role::Credential),
    ("GOOGLE_SECRET_MANAGER_ENDPOINT", Role::Address(Official::Google)),
    ("GOOGLE_KMS_ENDPOINT", Role::Address(Official::Google)),
    ("CYBERARK_API_BASE", Role::Address(Official::Nothing)),
    ("CONJUR_APPLIANCE_URL", Role::Address(Official::Nothing)),
    ("CONJUR_CERT_FILE", Role::File),
    ("CONJUR_SSL_CERTIFICATE", Role::File),
    ("CYBERARK_CLIENT_CERT", Role::File),
    ("CYBERARK_CLIENT_KEY", Role::File),
    ("CONJUR_AUTHN_TOKEN_FILE", Role::File),
    ("CYBERARK_API_KEY", Role::Credential),
    ("CONJUR_AUTHN_API_KEY", Role::Credential),
];

/// The role of `name`, when only the operator may set it.
pub fn operator_only(name: &str) -> Option<Role> {
    OPERATOR_ONLY.iter().find(|(n, _)| *n == name).map(|&(_, role)| role)
}

/// Whether an env file may set `name` to `value` although it is operator-only: an address of
/// the cloud's own service over https.
pub fn official_address(name: &str, value: &str) -> bool {
    let Some(Role::Address(official)) = operator_only(name) else {
        return false;
    };
    let Some(host) = https_host(value) else {
        return false;
    };
    match official {
        Official::Nothing => false,
        Official::Aws => host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"),
        Official::AzureKeyVault => [
            ".vault.azure.net",
            ".vault.azure.cn",
            ".vault.usgovcloudapi.net",
            ".vault.microsoftazure.de",
            ".managedhsm.azure.net",
        ]
        .iter()
        .any(|suffix| host.ends_with(suffix)),
        Official::Google => host == "googleapis.com" || host.ends_with(".googleapis.com"),
    }
}

/// An STS endpoint of AWS's own over https: `sts.amazonaws.com`, a regional or FIPS one, or an
/// interface VPC endpoint (`vpce-….sts.<region>.vpce.amazonaws.com`).
pub fn official_sts(url: &str) -> bool {
    let Some(host) = https_host(url) else {
        return false;
    };
    let Some(rest) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let vpc_endpoint = rest.strip_suffix(".vpce").is_some_and(|r| r.contains(".sts."));
    rest == "sts" || rest.starts_with("sts.") || rest.starts_with("sts-fips.") || vpc_endpoint
}

/// The lower-cased host of an `https://` URL with nothing after the authority but a path of
/// `/`; `None` for anything else (another scheme, user info, a query).
fn https_host(url: &str) -> Option<String> {
    let rest = url.trim().strip_prefix("https://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !path.is_empty() || authority.contains('@') || authority.contains('?') || authority.contains('#') {
        return None;
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.to_ascii_lowercase();
    let valid = !host.is_empty()
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    valid.then_some(host)
}

/// Whether requests to `url` (an address the operator set) would cross a network in clear
/// text: `http://` to a host that is not this machine. Backends warn once per run when so.
pub fn plain_http(url: &str) -> bool {
    let Some(rest) = url.trim().strip_prefix("http://") else {
        return false;
    };
    let authority = authority(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    !loopback_host(host)
}

/// Whether `host` (a name or an IP address, IPv6 without brackets) is this machine.
pub fn loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The authority of a URL's text after `scheme://`.
fn authority(rest: &str) -> &str {
    rest.split(['/', '?', '#']).next().unwrap_or_default()
}

/// Whether an address carries a user name or password (`https://user:pass@host`): it would
/// be shown in every message that names the backend, so such an address is not used.
pub fn has_user_info(url: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(_, rest)| authority(rest).contains('@'))
}

/// Warn that `backend` talks to `url` in clear text, when it does ([`plain_http`]).
pub fn warn_if_plain_http(backend: &str, url: &str) {
    if plain_http(url) {
        tracing::warn!(
            "{backend} is reached over plain http ({url}): its token and the values cross the network unencrypted; use https"
        );
    }
}

/// Whether `region` has the shape of an AWS region name (`us-east-1`, `us-gov-west-1`,
/// `cn-north-1`): it becomes a host name (`secretsmanager.<region>.amazonaws.com`), so a config
/// must not make it anything else.
pub fn aws_region(region: &str) -> bool {
    let mut parts = region.split('-');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && rest.len() >= 2
        && rest
            .last()
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
        && rest[..rest.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `*` in `pattern` stands for any text.
    fn glob(pattern: &str, name: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == name,
            Some((head, tail)) => {
                name.len() >= head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail)
            }
        }
    }

    #[test]
    fn every_operator_only_variable_is_in_the_readme_trust_table() {
        let readme = include_str!("../README.md");
        let row = readme
            .lines()
            .find(|l| l.starts_with("| env file |"))
            .expect("the Trust table's env-file row");
        let documented: Vec<&str> = row.split('`').skip(1).step_by(2).collect();
        for (name, _) in OPERATOR_ONLY {
            assert!(
                documented.iter().any(|d| glob(d, name)),
                "{name} is not in README's Trust table"
            );
        }
    }

    #[test]
    fn only_the_clouds_own_https_hosts_are_official() {
        assert!(official_address(
            "AWS_ENDPOINT_URL",
            "https://secretsmanager.eu-west-1.amazonaws.com"
        ));
        assert!(official_address(
            "AZURE_KEY_VAULT_URI",
            "https://my-vault.vault.azure.net/"
        ));
        assert!(official_address(
            "GOOGLE_KMS_ENDPOINT",
            "https://cloudkms.googleapis.com"
        ));
        for (name, value) in [
            ("AWS_ENDPOINT_URL", "http://secretsmanager.eu-west-1.amazonaws.com"),
            ("AWS_ENDPOINT_URL", "https://amazonaws.com.evil.example"),
            ("AWS_ENDPOINT_URL", "https://user@x.amazonaws.com"),
            ("AWS_ENDPOINT_URL", "https://x.amazonaws.com/path"),
            ("AZURE_KEY_VAULT_URI", "https://127.0.0.1:8443"),
            ("AZURE_KEY_VAULT_URI", "https://vault.azure.net.evil.example"),
            ("VAULT_ADDR", "https://vault.example.com"),
            ("GOOGLE_KMS_ENDPOINT", "https://evilgoogleapis.com"),
            ("OPENAI_API_KEY", "https://api.openai.com"),
        ] {
            assert!(!official_address(name, value), "{name}={value}");
        }
    }

    #[test]
    fn sts_endpoints_of_aws() {
        for ok in [
            "https://sts.amazonaws.com",
            "https://sts.eu-west-1.amazonaws.com/",
            "https://sts-fips.us-east-1.amazonaws.com",
            "https://sts.cn-north-1.amazonaws.com.cn",
            "https://vpce-0abc-xyz.sts.us-east-1.vpce.amazonaws.com",
        ] {
            assert!(official_sts(ok), "{ok}");
        }
        for bad in [
            "http://sts.amazonaws.com",
            "https://sts.amazonaws.com.evil.example",
            "https://secretsmanager.us-east-1.amazonaws.com",
            "https://127.0.0.1:5000",
            "https://evilsts.amazonaws.com",
            "https://vpce-1.vpce-svc-2.us-east-1.vpce.amazonaws.com",
        ] {
            assert!(!official_sts(bad), "{bad}");
        }
    }

    #[test]
    fn clear_text_off_this_machine() {
        assert!(plain_http("http://vault.internal:8200"));
        assert!(plain_http("http://10.0.0.5"));
        assert!(!plain_http("http://127.0.0.1:8200"));
        assert!(!plain_http("http://localhost:8200/"));
        assert!(!plain_http("http://[::1]:8200"));
        assert!(!plain_http("https://vault.internal:8200"));
    }

    #[test]
    fn user_info_in_addresses() {
        assert!(has_user_info("https://user:pass@vault:8200"));
        assert!(has_user_info("http://token@127.0.0.1/v1"));
        assert!(!has_user_info("https://vault:8200/path@x"));
        assert!(!has_user_info("https://vault:8200"));
    }

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-5",
            "us-isob-east-1",
        ] {
            assert!(aws_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "evil.example",
            "us-east-1.evil",
            "US-EAST-1",
            "sk-abc-123",
            "u-east-1",
        ] {
            assert!(!aws_region(bad), "{bad}");
        }
    }
}
