//! What every HTTP client osenv builds itself (Vault, Azure Key Vault, Conjur) holds to: a
//! redirect is followed only to the same origin (a 307 must not carry `X-Vault-Token` or an
//! AppRole `secret_id` to another host, or from https to http), responses are not decompressed
//! (a small gzip body must not become gigabytes), and a body is read only up to the run's
//! `--max-response-size`. The AWS SDK's client neither follows redirects nor decompresses; the
//! Google clients are told not to (see `gcp`). [`exchange`] is one request of the services
//! osenv speaks HTTP to itself (Vault, Conjur) under those rules and the run's limits.
// Azure builds its client here but sends through its own SDK transport (which caps bodies
// itself), so with neither Vault nor Conjur built the exchange half is unused.
#![cfg_attr(not(any(feature = "vault", feature = "cyberark")), allow(dead_code))]

use super::failure::RequestFailure;
use super::token_file::FileProblem;
use reqwest::redirect::{Attempt, Policy};

/// Redirects followed at most (same origin only).
const MAX_REDIRECTS: usize = 3;

/// A client builder with the rules above.
pub(crate) fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(Policy::custom(same_origin))
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
}

/// The client from `builder`, or the backend's [`BackendError::Client`]: TLS set-up failed
/// before any request (the one place Vault, Conjur and Azure Key Vault build theirs).
pub(crate) fn client(
    builder: reqwest::ClientBuilder,
    backend: String,
) -> Result<reqwest::Client, crate::error::BackendError> {
    builder.build().map_err(|e| crate::error::BackendError::Client {
        backend,
        reason: format!("cannot set up HTTPS: {}", transport_message(&e)),
    })
}

fn same_origin(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let first = attempt.previous().first();
    let same = first.is_some_and(|from| {
        let to = attempt.url();
        from.scheme() == to.scheme()
            && from.host_str() == to.host_str()
            && from.port_or_known_default() == to.port_or_known_default()
    });
    if same && attempt.previous().len() <= MAX_REDIRECTS {
        attempt.follow()
    } else {
        attempt.stop()
    }
}

/// Why a body was not read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than the limit (the limit in bytes).
    TooLarge(usize),
    /// The connection failed while reading.
    // Azure reads in its transport
    Read(reqwest::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(limit) => write!(
                f,
                "the response is larger than {}, the most osenv reads (--max-response-size)",
                size(*limit)
            ),
            Self::Read(e) => write!(
                f,
                "the response body could not be read: {}",
                crate::backend::error_chain(e)
            ),
        }
    }
}

/// `limit` in words (`4 MiB`, `512 KiB`, `100 bytes`).
pub(crate) fn size(limit: usize) -> String {
    match limit {
        l if l >= 1 << 20 && l % (1 << 20) == 0 => format!("{} MiB", l >> 20),
        l if l >= 1 << 10 && l % (1 << 10) == 0 => format!("{} KiB", l >> 10),
        l => format!("{l} bytes"),
    }
}

/// Read `response`'s body, at most `limit` bytes: a declared length above it is refused before
/// reading, and a stream that runs past it is cut off there.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<zeroize::Zeroizing<Vec<u8>>, BodyError> {
    if response
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > limit))
    {
        return Err(BodyError::TooLarge(limit));
    }
    // The answers hold secret values: wiped when dropped.
    let mut body = zeroize::Zeroizing::new(Vec::new());
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Percent-encode one path segment (RFC 3986 unreserved characters stay as they are).
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// The certificates of an extra CA bundle (`what` names it in messages: `VAULT_CACERT `…``).
pub(crate) fn ca_bundle(pem: &[u8], what: &str) -> Result<Vec<reqwest::Certificate>, FileProblem> {
    match reqwest::Certificate::from_pem_bundle(pem) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(FileProblem::NoCertificate { what: what.to_owned() }),
    }
}

/// A TLS client identity from a PEM certificate file and its key file, read now; the key's
/// bytes are wiped once the identity is built.
pub(crate) fn client_identity(cert: &std::path::Path, key: &std::path::Path) -> Result<reqwest::Identity, FileProblem> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).map_err(|e| FileProblem::Unreadable {
            what: format!("the client {what}"),
            path: path.display().to_string(),
            cause: e.to_string(),
        })
    };
    let mut pem = zeroize::Zeroizing::new(read(key, "key")?);
    pem.push(b'\n');
    pem.extend(read(cert, "certificate")?);
    reqwest::Identity::from_pem(&pem).map_err(|_| FileProblem::NotAPemPair {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
    })
}

/// A reqwest failure without its URL (shown separately, as the endpoint) and with its causes.
pub(crate) fn transport_message(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "the response body could not be read"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(cause) => format!("{kind}: {}", crate::backend::error_chain(cause)),
        None => kind.to_owned(),
    }
}

/// A connection TLS refused (an untrusted or rejected certificate, a failed handshake): no
/// retry changes that, so the run says so at once instead of waiting out its deadline.
fn tls_refusal(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["certificate", "handshake", "fatal alert"]
        .iter()
        .any(|word| message.contains(word))
}

/// How one service's answers are read by [`exchange`].
pub(crate) struct Dialect {
    /// Statuses worth retrying.
    pub transient: fn(u16) -> bool,
    /// The service's error text in a body (never the body verbatim: it may echo a value).
    pub errors: fn(&[u8]) -> String,
}

/// An answer: its status and body (wiped when dropped).
pub(crate) struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body, at most `--max-response-size`.
    pub body: zeroize::Zeroizing<Vec<u8>>,
}

/// Send a request made by `make` under the run's limits. An answer with a status the dialect
/// does not retry is returned for the caller to map; transient ones are retried; a redirect
/// that was not followed (another origin) is final.
pub(crate) async fn exchange(
    ctx: &crate::backend::Context,
    dialect: &Dialect,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> (Result<Reply, RequestFailure>, super::retry::Attempts) {
    crate::backend::call(ctx, || {
        let request = make();
        async move {
            let response = request.send().await.map_err(|e| {
                let message = transport_message(&e);
                let transient = !tls_refusal(&message);
                RequestFailure::transport(message, transient)
            })?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(super::retry::parse_retry_after);
            if (300..400).contains(&status) {
                return Err(RequestFailure::answer(
                    status,
                    "a redirect to another address, which osenv does not follow (credentials must not leave the configured address); set the address of the node that answers",
                ));
            }
            let body = read_body(response, ctx.max_response)
                .await
                .map_err(|e| RequestFailure::answer(status, e.to_string()).transient(matches!(e, BodyError::Read(_))))?;
            if (dialect.transient)(status) {
                return Err(RequestFailure::answer(status, (dialect.errors)(&body))
                    .transient(true)
                    .retry_after(retry_after));
            }
            Ok(Reply { status, body })
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_words() {
        assert_eq!(size(4 << 20), "4 MiB");
        assert_eq!(size(512 << 10), "512 KiB");
        assert_eq!(size(100), "100 bytes");
    }
}
