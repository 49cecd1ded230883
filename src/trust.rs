//! Who may say where credentials go.
//!
//! The operator's process environment and flags are trusted: whoever runs osenv can read its
//! environment anyway. The config and the env files are semi-trusted: they come from
//! repositories and pull requests, and a CI job runs `osenv check` on them. A semi-trusted input
//! may name *which* secrets to read and carry values to render, never *where credentials are
//! sent*: the addresses of the secret managers and their token services, the CA bundles that
//! decide whom TLS trusts, the files credentials are read from, and the credentials themselves
//! come from the operator. Which variable is which is one table, [`crate::provenance`]; the
//! config's `aws_sts_endpoint` and `aws_web_identity_token` are held to the same rule (see
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

/// An STS endpoint of AWS's own over https: `sts.amazonaws.com`, a regional or FIPS one, or an
/// interface VPC endpoint (`vpce-….sts.<region>.vpce.amazonaws.com`).
pub fn official_sts(url: &str) -> bool {
    https_host(url).is_some_and(|host| aws_service_host("sts", &host))
}

/// Whether `host` is AWS's own endpoint of `service` (`secretsmanager`, `kms`, `sts`):
/// `<service>.<region>.amazonaws.com`, its `-fips` form, `<service>.amazonaws.com` (global), or
/// an interface VPC endpoint `vpce-….<service>.<region>.vpce.amazonaws.com` (and `.com.cn`).
/// Nothing else under `amazonaws.com` (API Gateway's `execute-api`, S3 buckets, …): those hosts
/// are anyone's, and would receive SigV4-signed requests.
pub fn aws_service_host(service: &str, host: &str) -> bool {
    let Some(rest) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let (rest, vpc) = match rest.strip_suffix(".vpce") {
        Some(inner) => match inner.split_once('.') {
            Some((endpoint, rest)) if endpoint.starts_with("vpce-") => (rest, true),
            _ => return false,
        },
        None => (rest, false),
    };
    let (name, region) = rest.split_once('.').unwrap_or((rest, ""));
    let fips = format!("{service}-fips");
    let named = name == service || (!vpc && name == fips);
    named && ((region.is_empty() && !vpc) || aws_region(region))
}

/// The lower-cased host of an `https://` URL with nothing after the authority but a path of
/// `/`; `None` for anything else (another scheme, user info, a query).
pub(crate) fn https_host(url: &str) -> Option<String> {
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
            "https://sts.evil.amazonaws.com",
            "https://abc.execute-api.us-east-1.amazonaws.com",
        ] {
            assert!(!official_sts(bad), "{bad}");
        }
        assert!(aws_service_host(
            "secretsmanager",
            "secretsmanager-fips.us-east-1.amazonaws.com"
        ));
        assert!(aws_service_host("kms", "vpce-0a1-b2.kms.eu-west-1.vpce.amazonaws.com"));
        assert!(!aws_service_host("kms", "bucket.s3.amazonaws.com"));
        assert!(!aws_service_host("kms", "kms.bucket.s3.amazonaws.com"));
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
