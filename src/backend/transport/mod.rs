//! How every backend talks to its service: one request under the run's limits
//! ([`request::call`]: a concurrency permit, the per-request timeout, retries until the
//! deadline), the one [`RequestFailure`] each answer or transport error becomes, osenv's own
//! HTTP client for the services it speaks to itself ([`http`]), and token files.

pub(crate) mod failure;
#[cfg(any(feature = "vault", feature = "azure", feature = "cyberark"))]
pub(crate) mod http;
pub(crate) mod request;
pub mod retry;
#[cfg(any(feature = "vault", feature = "cyberark"))]
pub(crate) mod token_file;
