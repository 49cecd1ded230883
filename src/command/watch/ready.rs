//! The readiness probe of a generation (`exec --watch --listen`): `GET PATH` on its loopback
//! port until it answers 2xx. The machine bounds how long that may take (`--ready-timeout`);
//! the probe only tells when it happened.

use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;

/// Between two probes of a generation that did not answer 2xx yet.
const EVERY: Duration = Duration::from_millis(200);

/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The most of an answer read: its status line.
const STATUS_LINE: usize = 512;

/// Probe 127.0.0.1:`port` until `GET path` answers 2xx, then send `id` on `ready`.
pub(crate) async fn wait(port: u16, path: String, id: u64, ready: UnboundedSender<u64>) {
    let mut last = None;
    loop {
        let status = tokio::time::timeout(PROBE_TIMEOUT, probe(port, &path))
            .await
            .ok()
            .flatten();
        if status.is_some_and(|s| (200..300).contains(&s)) {
            let _ = ready.send(id);
            return;
        }
        if status.is_some() && status != last {
            tracing::info!(
                "the command answers GET {path} with {}; waiting for 2xx",
                status.unwrap_or(0)
            );
        }
        last = status;
        tokio::time::sleep(EVERY).await;
    }
}

/// One `GET path`: the status of the answer, if there was one.
async fn probe(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: osenv\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::with_capacity(64);
    let mut buffer = [0u8; 128];
    while answer.len() < STATUS_LINE && !answer.contains(&b'\n') {
        let n = stream.read(&mut buffer).await.ok()?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..n]);
    }
    status(&answer)
}

/// The status code of an HTTP/1.x status line.
fn status(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|b| *b == b'\n').next()?;
    let mut words = line.split(|b| *b == b' ');
    if !words.next()?.starts_with(b"HTTP/1.") {
        return None;
    }
    let code = words.next()?;
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status(b"HTTP/1.0 503 Service Unavailable\r\n"), Some(503));
        assert_eq!(status(b"HTTP/1.1 204"), Some(204));
        assert_eq!(status(b"HTTP/2 200\r\n"), None);
        assert_eq!(status(b"HTTP/1.1 2000 OK\r\n"), None);
        assert_eq!(status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status(b""), None);
    }
}
