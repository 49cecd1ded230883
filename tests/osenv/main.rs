//! One integration-test binary: the CLI run the way a user runs it.

#[cfg(feature = "aws")]
mod aws;
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
