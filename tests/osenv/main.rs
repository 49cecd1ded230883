//! One integration-test binary: the CLI run the way a user runs it.

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "azure")]
mod azure;
mod canary;
mod cli;
#[cfg(all(feature = "aws", feature = "vault"))]
mod fault;
#[cfg(all(feature = "aws", feature = "vault"))]
mod faults;
mod fixtures;
#[cfg(feature = "gcp")]
mod gcp;
#[cfg(unix)]
mod hygiene;
mod properties;
mod servers;
mod support;
#[cfg(feature = "vault")]
mod vault;
