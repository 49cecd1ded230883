//! A fault-injecting HTTP/1.1 proxy for the tests: each request that reaches it takes the next
//! planned [`Fault`] (or passes through when none is left), and the proxy counts requests,
//! connections and the most requests in flight at once.
//!
//! It understands just enough HTTP for the test servers: request and response bodies with
//! `Content-Length` (moto and OpenBao send it), keep-alive connections, no pipelining.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What happens to one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Forward it.
    Pass,
    /// Answer without forwarding: status, extra headers, body.
    Respond(u16, Vec<(&'static str, String)>, String),
    /// Read the request, then close the connection without a word.
    Close,
    /// Read the request, then reset the connection (a TCP RST, as a load balancer or a
    /// firewall that drops state sends): the client sees "connection reset by peer".
    Reset,
    /// Forward it, then send the response headers and half the body, and close.
    Truncate,
    /// Read the request and never answer.
    Stall,
    /// Forward it, then send the response one byte at a time, `Duration` apart.
    Trickle(Duration),
}

impl Fault {
    pub fn status(code: u16) -> Self {
        Self::Respond(code, vec![], format!("{{\"message\": \"injected {code}\"}}"))
    }

    pub fn retry_after(code: u16, seconds: u32) -> Self {
        Self::Respond(
            code,
            vec![("Retry-After", seconds.to_string())],
            format!("{{\"message\": \"injected {code}\"}}"),
        )
    }

    /// AWS's throttling answer (HTTP 400 with an error type).
    pub fn aws_throttling() -> Self {
        Self::Respond(
            400,
            vec![("x-amzn-ErrorType", "ThrottlingException".into())],
            r#"{"__type": "ThrottlingException", "message": "Rate exceeded"}"#.into(),
        )
    }

    /// A permanent AWS error.
    pub fn aws_error(code: &str) -> Self {
        Self::Respond(
            400,
            vec![("x-amzn-ErrorType", code.into())],
            format!(r#"{{"__type": "{code}", "message": "injected {code}"}}"#),
        )
    }
}

#[derive(Default)]
struct Shared {
    plan: Mutex<VecDeque<Fault>>,
    /// Used when the plan is empty.
    default: Mutex<Option<Fault>>,
    requests: AtomicUsize,
    open: AtomicUsize,
    max_open: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

pub struct FaultProxy {
    pub url: String,
    shared: Arc<Shared>,
}

impl FaultProxy {
    pub fn start(upstream: &str) -> Self {
        Self::start_after(upstream, std::time::Duration::ZERO)
    }

    /// A proxy whose port refuses connections for `delay` first: a backend behind a sidecar
    /// or a service that is not ready when osenv starts. The port is held all along (bound, not
    /// listening: the kernel answers a connection with RST), so no other test can take it.
    pub fn start_after(upstream: &str, delay: std::time::Duration) -> Self {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let (socket, url) = refusing_port();
        let shared: Arc<Shared> = Arc::default();
        let s = Arc::clone(&shared);
        if delay.is_zero() {
            socket.listen(128).expect("listen");
        }
        std::thread::spawn(move || {
            if !delay.is_zero() {
                std::thread::sleep(delay);
                socket.listen(128).expect("listen on the late port");
            }
            let listener: TcpListener = socket.into();
            for client in listener.incoming().flatten() {
                let open = s.open.fetch_add(1, Ordering::SeqCst) + 1;
                s.max_open.fetch_max(open, Ordering::SeqCst);
                let (s, upstream) = (Arc::clone(&s), upstream.clone());
                std::thread::spawn(move || {
                    serve(client, &upstream, &s);
                    s.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self { url, shared }
    }

    /// Faults for the next requests, in order.
    pub fn plan(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.plan.lock().unwrap().extend(faults);
    }

    /// The fault for every request once the plan is used up (default: pass).
    pub fn always(&self, fault: Fault) {
        *self.shared.default.lock().unwrap() = Some(fault);
    }

    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// The most client connections open at once.
    pub fn max_open_connections(&self) -> usize {
        self.shared.max_open.load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}

/// One HTTP message: head (start line and headers, with the final CRLFCRLF) and body.
/// A loopback port that refuses connections for as long as the socket is held: bound, so no
/// one else gets the port, and not listening, so a connection attempt is refused. Returns the
/// socket and its `http://` URL.
pub fn refusing_port() -> (socket2::Socket, String) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().expect("address");
    socket.bind(&any.into()).expect("bind");
    let addr = socket
        .local_addr()
        .expect("address")
        .as_socket()
        .expect("an IP address");
    (socket, format!("http://{addr}"))
}

fn read_message(reader: &mut BufReader<TcpStream>) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn serve(client: TcpStream, upstream: &str, s: &Shared) {
    let mut client_reader = BufReader::new(client.try_clone().expect("clone"));
    let mut client = client;
    let mut server: Option<(TcpStream, BufReader<TcpStream>)> = None;
    while let Some((head, body)) = read_message(&mut client_reader) {
        s.requests.fetch_add(1, Ordering::SeqCst);
        let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let fault = s
            .plan
            .lock()
            .unwrap()
            .pop_front()
            .or_else(|| s.default.lock().unwrap().clone())
            .unwrap_or(Fault::Pass);
        let mut counted = false;
        let keep_going = match fault {
            Fault::Respond(code, headers, text) => {
                let mut response = format!("HTTP/1.1 {code} Injected\r\nContent-Type: application/json\r\n");
                for (k, v) in headers {
                    let _ = write!(response, "{k}: {v}\r\n");
                }
                let _ = write!(response, "Content-Length: {}\r\n\r\n{text}", text.len());
                s.in_flight.fetch_sub(1, Ordering::SeqCst);
                counted = true;
                client.write_all(response.as_bytes()).is_ok()
            }
            Fault::Close => false,
            Fault::Reset => {
                // SO_LINGER with a zero timeout makes the close send RST instead of FIN.
                let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
                drop(client_reader);
                drop(client);
                s.in_flight.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            Fault::Stall => {
                std::thread::sleep(Duration::from_mins(2));
                false
            }
            Fault::Pass | Fault::Truncate | Fault::Trickle(_) => {
                let forwarded = forward(&mut server, upstream, &head, &body);
                match (forwarded, &fault) {
                    (None, _) => false,
                    (Some((h, b)), Fault::Truncate) => {
                        let _ = client.write_all(&h);
                        let _ = client.write_all(&b[..b.len() / 2]);
                        false
                    }
                    (Some((h, b)), Fault::Trickle(gap)) => {
                        let mut ok = client.write_all(&h).is_ok();
                        for byte in b {
                            std::thread::sleep(*gap);
                            ok = ok && client.write_all(&[byte]).is_ok();
                            if !ok {
                                break;
                            }
                        }
                        ok
                    }
                    (Some((h, b)), _) => {
                        // Counted as done before its last bytes go out: the client cannot start
                        // its next request before they arrive, so in-flight never overlaps two.
                        let ok = client.write_all(&h).is_ok();
                        s.in_flight.fetch_sub(1, Ordering::SeqCst);
                        counted = true;
                        ok && client.write_all(&b).is_ok()
                    }
                }
            }
        };
        if !counted {
            s.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        if !keep_going {
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    }
}

fn forward(
    server: &mut Option<(TcpStream, BufReader<TcpStream>)>,
    upstream: &str,
    head: &[u8],
    body: &[u8],
) -> Option<(Vec<u8>, Vec<u8>)> {
    // A kept-alive upstream connection may have been closed by the server: one fresh retry.
    for _ in 0..2 {
        if server.is_none() {
            let stream = TcpStream::connect(upstream).ok()?;
            let reader = BufReader::new(stream.try_clone().ok()?);
            *server = Some((stream, reader));
        }
        let (stream, reader) = server.as_mut()?;
        let sent = stream.write_all(head).and_then(|()| stream.write_all(body)).is_ok();
        let response = if sent { read_message(reader) } else { None };
        match response {
            Some(r) => return Some(r),
            None => *server = None,
        }
    }
    None
}
