//! The HTTP transport the Key Vault client uses: osenv's own client (`backend::transport::http`: same-origin
//! redirects only, no decompression, which the Azure SDK's default client switches on), with
//! every response body read up to the run's `--max-response-size` before the SDK sees it.

use azure_core::http::{AsyncRawResponse, HttpClient, Request};
use futures_util::StreamExt as _;
use std::sync::Arc;

/// osenv's reqwest client, with a cap on what a response may hold.
#[derive(Debug)]
pub(crate) struct Capped {
    inner: Arc<dyn HttpClient>,
    limit: usize,
}

impl Capped {
    /// A transport reading at most `limit` bytes per response; `backend` names it if TLS
    /// cannot be set up.
    pub(crate) fn new(limit: usize, backend: String) -> Result<Self, crate::error::BackendError> {
        let http = crate::backend::transport::http::builder();
        let client = crate::backend::transport::http::client(http, backend)?;
        Ok(Self {
            inner: Arc::new(client),
            limit,
        })
    }
}

#[async_trait::async_trait]
impl HttpClient for Capped {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let (status, headers, mut body) = self.inner.execute_request(request).await?.deconstruct();
        // Key Vault answers in kilobytes; a body past the cap is refused, not buffered.
        let mut read = zeroize::Zeroizing::new(Vec::new());
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            if read.len() + chunk.len() > self.limit {
                return Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Io,
                    crate::backend::transport::http::BodyError::TooLarge(self.limit).to_string(),
                ));
            }
            read.extend_from_slice(&chunk);
        }
        Ok(AsyncRawResponse::from_bytes(status, headers, read.to_vec()))
    }
}
