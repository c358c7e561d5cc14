//! A small SIP server (UAS) on loopback for the `send` tests: it answers over UDP and TCP,
//! can challenge with any digest algorithm and check the answer with sipkit's own digest code,
//! drop the first datagrams (to observe retransmissions), answer late, or answer a given
//! status. It records every request with its arrival time, and panics on drop if it was never
//! called (a test that talks to nobody proves nothing).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sipkit::proto::digest::{self, Algorithm, Credentials, Secret, Verdict};
use sipkit::proto::sip::build::MessageBuilder;
use sipkit::proto::sip::{HeaderName, Message, ParseOptions, parse};

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Final statuses to answer, one per request in order; the last one repeats. Default 200.
    pub statuses: Vec<u16>,
    /// Send a 100 Trying before the final response.
    pub trying: bool,
    /// Ignore the first N datagrams (UDP only) entirely.
    pub drop_first: usize,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Challenge requests without valid credentials with these algorithms, in this order.
    pub challenge: Vec<Algorithm>,
    /// Use 407/Proxy-Authenticate instead of 401/WWW-Authenticate.
    pub proxy: bool,
    /// The qop offered (`auth`, `auth-int`, `auth,auth-int`; empty for none).
    pub qop: String,
    /// Expected user and password.
    pub user: String,
    pub password: String,
    pub realm: String,
    /// Never answer at all (to test timeouts).
    pub silent: bool,
    /// Answer wrong credentials with the same challenge again instead of 403, as many
    /// registrars do (the client must not loop).
    pub rechallenge: bool,
    /// Pretend to be this many proxies away: a request arriving with Max-Forwards below it
    /// gets 483 Too Many Hops with `Server: hop-N` (N = the Max-Forwards it arrived with).
    pub hops: u8,
    /// Also listen for WebSocket (RFC 7118, `sip` subprotocol) on its own port.
    pub ws: bool,
    /// Also listen for TLS with this server configuration (see `support::tls::TestPki`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            statuses: vec![200],
            trying: false,
            drop_first: 0,
            delay: Duration::ZERO,
            challenge: Vec::new(),
            proxy: false,
            qop: "auth".into(),
            user: "alice".into(),
            password: "secret".into(),
            realm: "sipkit.test".into(),
            silent: false,
            rechallenge: false,
            tls: None,
            hops: 0,
            ws: false,
        }
    }
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Time since the server started.
    pub at: Duration,
    /// `udp` or `tcp`.
    pub transport: &'static str,
    /// The peer's address.
    pub from: SocketAddr,
    /// The whole message.
    pub bytes: Vec<u8>,
    /// Whether it was dropped on purpose.
    pub dropped: bool,
}

impl Received {
    /// The message as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The method of the request line.
    pub fn method(&self) -> String {
        self.text()
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

#[derive(Debug, Default)]
struct Shared {
    received: Vec<Received>,
    answered: usize,
    datagrams: usize,
}

/// A running server; stops when dropped.
#[derive(Debug)]
pub struct Uas {
    udp: SocketAddr,
    tcp: SocketAddr,
    tls: Option<SocketAddr>,
    ws: Option<SocketAddr>,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    expect_calls: bool,
}

const NONCE: &str = "dGVzdC1ub25jZS0x";

impl Uas {
    /// Start a server with `config` on 127.0.0.1 (UDP and TCP on the same port when possible).
    pub fn start(config: Config) -> Uas {
        let (udp, tcp) = bind_pair();
        udp.set_read_timeout(Some(Duration::from_millis(20)))
            .expect("setting a read timeout");
        tcp.set_nonblocking(true).expect("non-blocking listener");
        let udp_addr = udp.local_addr().expect("local address");
        let tcp_addr = tcp.local_addr().expect("local address");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let config = Arc::new(config);
        let mut threads = Vec::new();
        {
            let (shared, stop, config) = (shared.clone(), stop.clone(), config.clone());
            threads.push(thread::spawn(move || {
                serve_udp(udp, &config, &shared, &stop, started)
            }));
        }
        {
            let (shared, stop, config) = (shared.clone(), stop.clone(), config.clone());
            threads.push(thread::spawn(move || {
                serve_tcp(tcp, config, shared, stop, started)
            }));
        }
        let mut tls_addr = None;
        if let Some(server_config) = config.tls.clone() {
            let listener = TcpListener::bind("127.0.0.1:0").expect("binding TLS on loopback");
            listener
                .set_nonblocking(true)
                .expect("non-blocking listener");
            tls_addr = Some(listener.local_addr().expect("local address"));
            let (shared, stop, config) = (shared.clone(), stop.clone(), config.clone());
            threads.push(thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((tcp, from)) = listener.accept() else {
                        thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    let _ = tcp.set_nonblocking(false);
                    let _ = tcp.set_read_timeout(Some(Duration::from_millis(20)));
                    let Ok(conn) = rustls::ServerConnection::new(server_config.clone()) else {
                        continue;
                    };
                    let stream = rustls::StreamOwned::new(conn, tcp);
                    serve_stream(stream, "tls", from, &config, &shared, &stop, started);
                }
            }));
        }
        let mut ws_addr = None;
        if config.ws {
            let listener = TcpListener::bind("127.0.0.1:0").expect("binding WS on loopback");
            listener
                .set_nonblocking(true)
                .expect("non-blocking listener");
            ws_addr = Some(listener.local_addr().expect("local address"));
            let (shared, stop, config) = (shared.clone(), stop.clone(), config.clone());
            threads.push(thread::spawn(move || {
                serve_ws(listener, &config, &shared, &stop, started)
            }));
        }
        Uas {
            udp: udp_addr,
            tcp: tcp_addr,
            tls: tls_addr,
            ws: ws_addr,
            shared,
            stop,
            threads,
            expect_calls: true,
        }
    }

    /// A server answering 200 to everything.
    pub fn ok() -> Uas {
        Uas::start(Config::default())
    }

    /// The UDP address.
    pub fn udp(&self) -> SocketAddr {
        self.udp
    }

    /// The TCP address.
    pub fn tcp(&self) -> SocketAddr {
        self.tcp
    }

    /// A target for `sipkit send` over UDP: `sip:127.0.0.1:PORT`.
    pub fn udp_target(&self) -> String {
        format!("sip:{}", self.udp)
    }

    /// A target over TCP: `sip:127.0.0.1:PORT;transport=tcp`.
    pub fn tcp_target(&self) -> String {
        format!("sip:{};transport=tcp", self.tcp)
    }

    /// A target over TLS for the name in the test certificate's IP address:
    /// `sip:127.0.0.1:PORT;transport=tls`.
    pub fn tls_target(&self) -> String {
        let addr = self.tls.expect("the UAS was started without TLS");
        format!("sip:{addr};transport=tls")
    }

    /// A WebSocket target: `ws://127.0.0.1:PORT/sip`.
    pub fn ws_target(&self) -> String {
        let addr = self.ws.expect("the UAS was started without WebSocket");
        format!("ws://{addr}/sip")
    }

    /// Everything received so far, dropped datagrams included.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().expect("lock").received.clone()
    }

    /// Everything received once at least `n` messages are in, waiting up to 5 s: a message
    /// that gets no response (an ACK) may still be in the socket when the client exits.
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// How many requests were answered.
    pub fn answered(&self) -> usize {
        self.shared.lock().expect("lock").answered
    }

    /// Do not panic on drop when nothing arrived (for tests that must not reach the network).
    pub fn allow_unused(mut self) -> Self {
        self.expect_calls = false;
        self
    }
}

impl Drop for Uas {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let received = self.shared.lock().map(|s| s.received.len()).unwrap_or(1);
        if self.expect_calls && received == 0 && !thread::panicking() {
            panic!("the test UAS at {} was never called", self.udp);
        }
        if !self.expect_calls && received > 0 && !thread::panicking() {
            panic!(
                "the test UAS at {} was called but should not have been",
                self.udp
            );
        }
    }
}

fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("binding UDP on loopback");
        let addr = udp.local_addr().expect("local address");
        if let Ok(tcp) = TcpListener::bind(addr) {
            return (udp, tcp);
        }
    }
    let udp = UdpSocket::bind("127.0.0.1:0").expect("binding UDP on loopback");
    let tcp = TcpListener::bind("127.0.0.1:0").expect("binding TCP on loopback");
    (udp, tcp)
}

fn serve_udp(
    sock: UdpSocket,
    config: &Config,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
    started: Instant,
) {
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let bytes = buf[..n].to_vec();
        let dropped = {
            let mut s = shared.lock().expect("lock");
            s.datagrams += 1;
            let dropped = s.datagrams <= config.drop_first;
            s.received.push(Received {
                at: started.elapsed(),
                transport: "udp",
                from,
                bytes: bytes.clone(),
                dropped,
            });
            dropped
        };
        if dropped {
            continue;
        }
        for reply in respond(&bytes, config, shared) {
            let _ = sock.send_to(&reply, from);
        }
    }
}

/// A thread per connection, so concurrent clients (`send --concurrency`) are served at once.
fn serve_tcp(
    listener: TcpListener,
    config: Arc<Config>,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    started: Instant,
) {
    let mut connections = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, from)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_millis(20)));
                let (config, shared, stop) = (config.clone(), shared.clone(), stop.clone());
                connections.push(thread::spawn(move || {
                    serve_stream(stream, "tcp", from, &config, &shared, &stop, started);
                }));
            }
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
    for c in connections {
        let _ = c.join();
    }
}

/// WebSocket connections one after the other, on a small runtime of their own: the upgrade
/// is the transport tests' `peer::ws_accept`; each text or binary frame is one SIP message.
fn serve_ws(
    listener: TcpListener,
    config: &Config,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
    started: Instant,
) {
    use tokio::io::AsyncReadExt;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the WebSocket server");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        while !stop.load(Ordering::SeqCst) {
            let Ok(Ok((tcp, from))) =
                tokio::time::timeout(Duration::from_millis(20), listener.accept()).await
            else {
                continue;
            };
            let (mut ws, _path) = super::peer::ws_accept(tcp, true).await;
            // A frame: 2-byte head, extended length, mask, payload. EOF or close ends it.
            loop {
                let mut head = [0u8; 2];
                let read =
                    tokio::time::timeout(Duration::from_millis(20), ws.read_exact(&mut head));
                match read.await {
                    Err(_) if stop.load(Ordering::SeqCst) => return,
                    Err(_) => continue,
                    Ok(Err(_)) => break,
                    Ok(Ok(_)) => {}
                }
                let len = match head[1] & 0x7F {
                    126 => ws.read_u16().await.map(u64::from),
                    127 => ws.read_u64().await,
                    n => Ok(u64::from(n)),
                };
                let mut mask = [0u8; 4];
                let (Ok(len), Ok(_)) = (len, ws.read_exact(&mut mask).await) else {
                    break;
                };
                let mut payload = vec![0u8; usize::try_from(len).unwrap_or(0)];
                if ws.read_exact(&mut payload).await.is_err() {
                    break;
                }
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= mask[i % 4];
                }
                if head[0] & 0x0F == 8 {
                    break;
                }
                shared.lock().expect("lock").received.push(Received {
                    at: started.elapsed(),
                    transport: "ws",
                    from,
                    bytes: payload.clone(),
                    dropped: false,
                });
                for reply in respond(&payload, config, shared) {
                    super::peer::ws_write(&mut ws, true, 1, &reply).await;
                }
            }
        }
    });
}

/// Serve one stream connection (TCP or TLS) until it closes or the server stops.
fn serve_stream(
    mut stream: impl Read + Write,
    transport: &'static str,
    from: SocketAddr,
    config: &Config,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
    started: Instant,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return,
        }
        loop {
            let consumed = match parse(&buf, &ParseOptions::stream()) {
                Ok(status) => match status.complete() {
                    Some((_, n)) => n,
                    None => break,
                },
                Err(_) => return,
            };
            let bytes: Vec<u8> = buf.drain(..consumed).collect();
            shared.lock().expect("lock").received.push(Received {
                at: started.elapsed(),
                transport,
                from,
                bytes: bytes.clone(),
                dropped: false,
            });
            for reply in respond(&bytes, config, shared) {
                if stream.write_all(&reply).is_err() {
                    return;
                }
            }
        }
    }
}

/// The responses to one request (none for ACK or when silent).
fn respond(bytes: &[u8], config: &Config, shared: &Mutex<Shared>) -> Vec<Vec<u8>> {
    let Ok(Some((req, _))) = parse(bytes, &ParseOptions::default()).map(|s| s.complete()) else {
        return Vec::new();
    };
    if config.silent || !req.is_request() || req.method() == Some("ACK") {
        return Vec::new();
    }
    thread::sleep(config.delay);
    let mut out = Vec::new();
    if config.trying {
        out.push(MessageBuilder::response_to(&req, 100, "Trying", None).build());
    }
    let max_forwards = req.max_forwards().and_then(Result::ok).unwrap_or(70);
    if max_forwards < config.hops {
        let resp = MessageBuilder::response_to(&req, 483, "Too Many Hops", Some("uas1"))
            .header("Server", &format!("hop-{max_forwards}"));
        out.push(resp.build());
        return out;
    }
    if let Some(challenge) = check_auth(&req, config) {
        out.push(challenge);
        shared.lock().expect("lock").answered += 1;
        return out;
    }
    let status = {
        let mut s = shared.lock().expect("lock");
        let i = s.answered.min(config.statuses.len().saturating_sub(1));
        s.answered += 1;
        config.statuses.get(i).copied().unwrap_or(200)
    };
    let mut resp = MessageBuilder::response_to(&req, status, reason(status), Some("uas1"));
    if req.method() == Some("REGISTER") && status == 200 {
        let expires = req.expires().and_then(Result::ok).unwrap_or(3600);
        for h in req.headers_of(HeaderName::Contact) {
            let v = String::from_utf8_lossy(h.value);
            if v.trim() != "*" && expires > 0 {
                resp = resp.header("Contact", &format!("{v};expires={expires}"));
            }
        }
    }
    out.push(resp.build());
    out
}

/// `None` when the request may proceed, or the 401/407/403 to send.
fn check_auth(req: &Message<'_>, config: &Config) -> Option<Vec<u8>> {
    if config.challenge.is_empty() {
        return None;
    }
    let (code, ask, answer) = if config.proxy {
        (407, "Proxy-Authenticate", HeaderName::ProxyAuthorization)
    } else {
        (401, "WWW-Authenticate", HeaderName::Authorization)
    };
    let mut stale = false;
    if let Some(Ok(auth)) = req.auth(answer).next() {
        let Ok(creds) = Credentials::parse(&auth) else {
            return Some(
                MessageBuilder::response_to(req, 400, "Bad Credentials", Some("uas1")).build(),
            );
        };
        let secret = Secret::Password(&config.password);
        let method = req.method().unwrap_or_default();
        let alg_ok = config.challenge.contains(&creds.algorithm);
        match digest::verify(&creds, &secret, method, req.body, NONCE) {
            Verdict::Ok if alg_ok && creds.username == config.user => return None,
            Verdict::Stale => stale = true,
            _ if config.rechallenge => {}
            _ => {
                return Some(
                    MessageBuilder::response_to(req, 403, "Forbidden", Some("uas1")).build(),
                );
            }
        }
    }
    let mut resp = MessageBuilder::response_to(req, code, reason(code), Some("uas1"));
    for alg in &config.challenge {
        let mut v = format!(
            "Digest realm=\"{}\", nonce=\"{NONCE}\", opaque=\"op1\", algorithm={alg}",
            config.realm
        );
        if !config.qop.is_empty() {
            v.push_str(&format!(", qop=\"{}\"", config.qop));
        }
        if stale {
            v.push_str(", stale=true");
        }
        resp = resp.header(ask, &v);
    }
    Some(resp.build())
}

fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        407 => "Proxy Authentication Required",
        486 => "Busy Here",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
