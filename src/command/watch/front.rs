//! `exec --watch --listen`: osenv owns the public port and forwards each TCP connection, byte
//! for byte, to the generation of the command that serves now; a rotation only changes where
//! new connections go. It is a byte forwarder, not an HTTP proxy: keep-alive, WebSocket and
//! SSE streams pass through untouched, and a connection stays with the generation it was
//! opened to until either side closes it (the old generation drains its own connections).
//!
//! It runs on its own thread and runtime, so nothing the watch loop does (starting a process,
//! a log line on a slow stderr) delays traffic. Connections are bounded (`--max-connections`):
//! beyond that, and while no generation serves (`Hold`: before the first one answers, or
//! between two without overlap), new connections wait in the kernel's listen queue.

use osenv::error::Error;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::sync::Arc;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};

/// How many connections the kernel queues for osenv while it accepts none.
const BACKLOG: u32 = 1024;

/// Per direction, per connection.
const BUFFER: usize = 16 * 1024;

/// How long a connection stays open once the command closed its side and the client has not.
const AFTER_SERVER_CLOSED: std::time::Duration = std::time::Duration::from_secs(5);

/// The listening socket and where its connections go.
pub(crate) struct Front {
    route: watch::Sender<Option<u16>>,
    runtime: tokio::runtime::Handle,
}

impl Front {
    /// Listen on `address` (`HOST:PORT`) with at most `limit` connections at a time; nothing
    /// is accepted until [`Front::serve`].
    pub fn open(address: &str, limit: usize) -> Result<Self, Error> {
        let failed = |source| Error::Listen {
            address: address.to_owned(),
            source,
        };
        let resolved = address
            .to_socket_addrs()
            .map_err(failed)?
            .next()
            .ok_or_else(|| failed(std::io::Error::other("the name resolves to no address")))?;
        let limit = within_descriptors(limit);
        let (route, routed) = watch::channel(None);
        let (opened, open) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("osenv-front".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = opened.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match bind(resolved) {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = opened.send(Err(e));
                            return;
                        }
                    };
                    let bound = listener.local_addr().unwrap_or(resolved);
                    let _ = opened.send(Ok((tokio::runtime::Handle::current(), bound)));
                    accept(listener, routed, Arc::new(Semaphore::new(limit))).await;
                });
            })
            .map_err(failed)?;
        let (runtime, address) = open
            .recv()
            .map_err(|_| failed(std::io::Error::other("the listener thread ended")))?
            .map_err(failed)?;
        tracing::info!("listening on {address}; connections wait until the command answers");
        Ok(Self { route, runtime })
    }

    /// New connections go to the generation listening on 127.0.0.1:`port`.
    pub fn serve(&self, port: u16) {
        self.route.send_replace(Some(port));
    }

    /// Accept no new connection until the next [`Front::serve`].
    pub fn hold(&self) {
        self.route.send_replace(None);
    }

    /// The front's runtime, for work that must not wait on the watch loop (readiness probes).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.hold();
    }
}

/// Descriptors kept for everything else osenv does (reading files, a check's connections, the
/// probes): forwarded connections never take the last of them, so a flood of clients cannot
/// stop a rotation.
const RESERVE: u64 = 64;

/// `limit` connections, or fewer if the descriptor limit (`ulimit -n`) cannot hold two each
/// and the reserve.
fn within_descriptors(limit: usize) -> usize {
    let open_files = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let fits = |files: u64| {
        usize::try_from(files.saturating_sub(RESERVE) / 2)
            .unwrap_or(usize::MAX)
            .max(1)
    };
    match open_files.map(fits) {
        Some(fits) if fits < limit => {
            tracing::warn!(
                "forwarding at most {fits} connections at once, not {limit}: each takes two descriptors and the limit is {} (raise `ulimit -n`)",
                open_files.unwrap_or(0)
            );
            fits
        }
        _ => limit,
    }
}

fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // A restarted osenv binds again at once, whatever its previous connections' TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

/// Accept while a generation serves and a connection slot is free; forward each connection on
/// its own task.
async fn accept(listener: TcpListener, mut route: watch::Receiver<Option<u16>>, limit: Arc<Semaphore>) {
    let mut told = false;
    loop {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        if route.wait_for(Option::is_some).await.is_err() {
            return;
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            // Held meanwhile: wait again.
            changed = route.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        match accepted {
            Ok((client, _)) => {
                let route = route.clone();
                tokio::spawn(async move {
                    forward(client, route).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // Out of descriptors (or memory): the connection stays queued; try again soon
                // rather than spin.
                if !std::mem::replace(&mut told, true) {
                    tracing::warn!("cannot accept a connection: {e}; trying again (raise `ulimit -n`?)");
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Forward one connection to the generation that serves now, until both sides closed.
async fn forward(mut client: TcpStream, mut route: watch::Receiver<Option<u16>>) {
    // (Both directions are copied here rather than by `copy_bidirectional`, which keeps a
    // connection until both sides closed.)
    let _ = client.set_nodelay(true);
    // Routed at most twice: a generation that just stopped listening is retried with the next.
    let mut upstream = None;
    for _ in 0..2 {
        let Ok(port) = route.wait_for(Option::is_some).await.map(|p| p.unwrap_or(0)) else {
            return;
        };
        route.mark_unchanged();
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(stream) => {
                upstream = Some(stream);
                break;
            }
            Err(e) => {
                tracing::debug!("cannot reach the command on port {port}: {e}");
                let next = tokio::time::timeout(std::time::Duration::from_secs(5), route.changed()).await;
                if !matches!(next, Ok(Ok(()))) {
                    return;
                }
            }
        }
    }
    let Some(mut upstream) = upstream else {
        return;
    };
    let _ = upstream.set_nodelay(true);
    let (client_read, mut client_write) = client.split();
    let (upstream_read, mut upstream_write) = upstream.split();
    // Each direction to its end; an end (EOF) is passed on as a half-close of the other side.
    let up = async {
        let mut from = tokio::io::BufReader::with_capacity(BUFFER, client_read);
        let _ = tokio::io::copy_buf(&mut from, &mut upstream_write).await;
        let _ = upstream_write.shutdown().await;
    };
    let down = async {
        let mut from = tokio::io::BufReader::with_capacity(BUFFER, upstream_read);
        let _ = tokio::io::copy_buf(&mut from, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::pin!(up, down);
    tokio::select! {
        // The client is done sending: its answer takes as long as it takes (a streamed
        // completion may take minutes).
        () = &mut up => down.await,
        // The command closed: what the client still sends goes nowhere. A client that keeps
        // the connection open without reading (a pool's idle connection) would hold its slot
        // forever; it gets a little while, then both sides are closed.
        () = &mut down => {
            let _ = tokio::time::timeout(AFTER_SERVER_CLOSED, up).await;
        }
    }
}
