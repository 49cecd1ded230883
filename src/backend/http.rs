//! What every HTTP client osenv builds itself (Vault, Azure Key Vault) holds to: a redirect
//! is followed only to the same origin (a 307 must not carry `X-Vault-Token` or an AppRole
//! `secret_id` to another host, or from https to http), responses are not decompressed (a
//! small gzip body must not become gigabytes), and a body is read only up to the run's
//! `--max-response-size`. The AWS SDK's client neither follows redirects nor decompresses; the
//! Google clients are told not to (see `gcp`).

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
    #[cfg_attr(not(feature = "vault"), allow(dead_code))] // read_body is Vault's
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
            Self::Read(e) => write!(f, "the response body could not be read: {}", super::error_chain(e)),
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
#[cfg_attr(not(feature = "vault"), allow(dead_code))] // Azure caps bodies in its transport
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
    // Vault's answers hold secret values: wiped when dropped.
    let mut body = zeroize::Zeroizing::new(Vec::new());
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
