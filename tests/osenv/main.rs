//! One integration-test binary: the CLI run the way a user runs it.

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "azure")]
mod azure;
mod canary;
mod cli;
#[cfg(any(
    feature = "aws",
    feature = "vault",
    feature = "azure",
    feature = "gcp",
    feature = "cyberark"
))]
mod conformance;
#[cfg(feature = "cyberark")]
mod conjur;
mod consumers;
#[cfg(all(feature = "vault", unix))]
mod deploy;
#[cfg(any(all(feature = "aws", feature = "vault"), feature = "cyberark", feature = "gcp"))]
#[cfg_attr(not(all(feature = "aws", feature = "vault")), allow(dead_code))]
mod fault_proxy;
#[cfg(all(feature = "aws", feature = "vault"))]
mod faults;
#[cfg(any(feature = "aws", feature = "azure", feature = "gcp"))]
mod fields;
mod fixtures;
#[cfg(feature = "gcp")]
mod gcp;
#[cfg(unix)]
mod hygiene;
#[cfg(all(feature = "vault", target_os = "linux"))]
mod image;
mod include;
#[cfg(unix)]
mod listen;
#[cfg(all(feature = "aws", unix))]
mod litellm;
#[cfg(unix)]
mod mask;
#[cfg(unix)]
mod master_key;
#[cfg(unix)]
mod mounted;
#[cfg(unix)]
mod oidc;
#[cfg(all(
    feature = "aws",
    feature = "vault",
    feature = "azure",
    feature = "gcp",
    feature = "cyberark"
))]
mod policy;
mod properties;
mod report;
// Shared by the backend tests above; with some backends left out, parts go unused.
#[cfg_attr(
    not(all(
        feature = "aws",
        feature = "vault",
        feature = "azure",
        feature = "gcp",
        feature = "cyberark"
    )),
    allow(dead_code)
)]
mod servers;
#[cfg(unix)]
mod settings;
#[cfg(unix)]
mod supervisor;
#[cfg_attr(
    not(all(
        feature = "aws",
        feature = "vault",
        feature = "azure",
        feature = "gcp",
        feature = "cyberark"
    )),
    allow(dead_code)
)]
mod support;
#[cfg(any(feature = "aws", feature = "vault"))]
mod trust;
mod validator;
#[cfg(feature = "vault")]
mod vault;
#[cfg(all(feature = "vault", unix))]
mod vault_login;
#[cfg(unix)]
mod watch;
#[cfg(any(feature = "aws", feature = "gcp"))]
mod workload_identity;
