//! One integration-test binary: the CLI run the way a user runs it.

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "azure")]
mod azure;
mod canary;
mod cli;
mod fixtures;
#[cfg(feature = "gcp")]
mod gcp;
mod properties;
mod servers;
mod support;
#[cfg(feature = "vault")]
mod vault;
