//! A small MSRP relay (RFC 4976) for the tests, on loopback with blocking threads: AUTH is
//! challenged with Digest (realm, nonce, qop=auth) and checked with its own MD5 arithmetic (not
//! sipkit's), a 200 hands out `Use-Path: msrp://127.0.0.1:PORT/SESSION;tcp`, and requests whose
//! To-Path starts with a URI it handed out are forwarded (§6.4: its URI moves from the To-Path
//! to the front of the From-Path). SENDs are answered 200 at once, hop by hop (§6.4.1); an error
//! response from the next hop becomes a failure REPORT to the sender (§6.4.3). Requests for the
//! authenticated client go back over the connection it AUTHed on.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use md5::{Digest, Md5};
use sipkit::proto::Status;
use sipkit::proto::msrp::{Message, MsrpUri, StartLine, parse};

/// How the relay behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Authenticate and forward.
    Normal,
    /// Read AUTH requests and never answer them.
    Silent,
    /// Answer a good AUTH 200 without a Use-Path.
    NoUsePath,
}

type Conn = Arc<Mutex<TcpStream>>;

#[derive(Default)]
struct State {
    /// Session id handed out -> (the client's URI, its connection).
    sessions: HashMap<String, (String, Conn)>,
    /// Connections we opened, by `host:port`.
    outbound: HashMap<String, Conn>,
    /// Forwarded SENDs by our transaction id: where a failure REPORT goes.
    pending: HashMap<String, Pending>,
    /// Every request received, raw, in order.
    received: Vec<Vec<u8>>,
    /// AUTH results: `true` for a 200.
    auths: Vec<bool>,
}

struct Pending {
    back: Conn,
    to: String,
    from: String,
    message_id: String,
    byte_range: String,
}

/// A running relay; threads end with the test process.
pub struct Relay {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

const REALM: &str = "relay.test";

impl Relay {
    /// Listen on 127.0.0.1 port 0 for `user` with `password`.
    pub fn start(user: &str, password: &str, mode: Mode) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the relay");
        let addr = listener.local_addr().expect("relay address");
        let state = Arc::new(Mutex::new(State::default()));
        let ctx = Arc::new(Ctx {
            base: format!("msrp://{addr}"),
            user: user.to_owned(),
            password: password.to_owned(),
            mode,
            state: state.clone(),
            counter: AtomicU64::new(1),
        });
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(s) = s else { return };
                let ctx = ctx.clone();
                std::thread::spawn(move || serve(&ctx, s));
            }
        });
        Relay { addr, state }
    }

    /// The URI to give `--relay`.
    pub fn uri(&self) -> String {
        format!("msrp://{};tcp", self.addr)
    }

    /// Every request the relay received, raw.
    pub fn received(&self) -> Vec<Vec<u8>> {
        self.state.lock().expect("relay state").received.clone()
    }

    /// The outcome of each AUTH that carried credentials or was accepted.
    pub fn auths(&self) -> Vec<bool> {
        self.state.lock().expect("relay state").auths.clone()
    }

    /// Whether any SEND reached the relay.
    pub fn saw_send(&self) -> bool {
        self.received()
            .iter()
            .any(|m| m.windows(5).any(|w| w == b" SEND"))
    }
}

struct Ctx {
    base: String,
    user: String,
    password: String,
    mode: Mode,
    state: Arc<Mutex<State>>,
    counter: AtomicU64,
}

impl Ctx {
    fn next(&self, prefix: &str) -> String {
        format!(
            "{prefix}{:08x}",
            self.counter.fetch_add(1, Ordering::Relaxed)
        )
    }
}

fn hex_md5(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `name=value` / `name="value"` pairs of a Digest header value (no escapes needed here).
fn digest_params(v: &str) -> HashMap<String, String> {
    let rest = v.trim().strip_prefix("Digest").unwrap_or(v);
    let mut out = HashMap::new();
    let mut s = rest.trim_start();
    while let Some(eq) = s.find('=') {
        let name = s[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = &s[eq + 1..];
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (&q[..end], q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        out.insert(name, value.to_owned());
        s = tail.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
    }
    out
}

fn write_to(conn: &Conn, bytes: &[u8]) {
    if let Ok(mut s) = conn.lock() {
        let _ = s.write_all(bytes);
    }
}

fn header<'m>(m: &'m Message<'_>, name: &str) -> Option<&'m str> {
    m.headers.get(name).map(|h| h.value)
}

fn response(tid: &str, code: u16, reason: &str, to: &str, from: &str, extra: &str) -> Vec<u8> {
    format!("MSRP {tid} {code} {reason}\r\nTo-Path: {to}\r\nFrom-Path: {from}\r\n{extra}-------{tid}$\r\n")
        .into_bytes()
}

fn serve(ctx: &Ctx, stream: TcpStream) {
    let conn: Conn = Arc::new(Mutex::new(stream.try_clone().expect("cloning a socket")));
    read_loop(ctx, stream, &conn);
}

fn read_loop(ctx: &Ctx, mut stream: TcpStream, conn: &Conn) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        loop {
            let used = match parse(&buf) {
                Ok(Status::Complete(m, used)) => {
                    handle(ctx, &m, &buf[..used], conn);
                    used
                }
                Ok(Status::Partial) => break,
                Err(_) => return,
            };
            buf.drain(..used);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn handle(ctx: &Ctx, m: &Message<'_>, raw: &[u8], conn: &Conn) {
    let to: Vec<&str> = header(m, "To-Path")
        .unwrap_or("")
        .split_ascii_whitespace()
        .collect();
    let from = header(m, "From-Path").unwrap_or("");
    let method = match m.start {
        StartLine::Response { code, .. } => {
            let pending = ctx.state.lock().expect("state").pending.remove(m.tid);
            if let Some(p) = pending.filter(|_| code >= 300) {
                // §6.4.3: an error from the next hop goes back to the sender as a REPORT.
                let tid = ctx.next("r");
                let report = format!(
                    "MSRP {tid} REPORT\r\nTo-Path: {}\r\nFrom-Path: {}\r\nMessage-ID: {}\r\n\
                     Byte-Range: {}\r\nStatus: 000 {code} Next hop refused\r\n-------{tid}$\r\n",
                    p.to, p.from, p.message_id, p.byte_range
                );
                write_to(&p.back, report.as_bytes());
            }
            return;
        }
        StartLine::Request(method) => method.as_str().to_owned(),
    };
    ctx.state.lock().expect("state").received.push(raw.to_vec());
    let Some(first) = to.first().copied() else {
        return;
    };
    if method == "AUTH" {
        auth(ctx, m, first, from, conn);
        return;
    }
    // §6.4: the first To-Path URI must be one we handed out.
    let session = MsrpUri::parse(first)
        .ok()
        .and_then(|u| u.session_id.map(str::to_owned))
        .unwrap_or_default();
    let client = ctx
        .state
        .lock()
        .expect("state")
        .sessions
        .get(&session)
        .cloned();
    let wants_response =
        method == "SEND" && !matches!(header(m, "Failure-Report"), Some("no") | Some("partial"));
    let prev = from.split_ascii_whitespace().next().unwrap_or("");
    let (Some((client_uri, client_conn)), Some(next)) = (client, to.get(1).copied()) else {
        if wants_response {
            write_to(
                conn,
                &response(m.tid, 481, "Session Does Not Exist", prev, first, ""),
            );
        }
        return;
    };
    if wants_response {
        write_to(conn, &response(m.tid, 200, "OK", prev, first, ""));
    }
    let out = if next == client_uri {
        client_conn
    } else {
        match outbound(ctx, next) {
            Some(c) => c,
            None => return,
        }
    };
    let tid = ctx.next("f");
    let rest = to[1..].join(" ");
    let mut fwd =
        format!("MSRP {tid} {method}\r\nTo-Path: {rest}\r\nFrom-Path: {first} {from}\r\n");
    for h in m.headers.iter() {
        if !h.name.eq_ignore_ascii_case("To-Path") && !h.name.eq_ignore_ascii_case("From-Path") {
            fwd.push_str(&format!("{}: {}\r\n", h.name, h.value));
        }
    }
    let mut bytes = fwd.into_bytes();
    if let Some(body) = m.body {
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("-------{tid}{}\r\n", m.flag.as_byte() as char).as_bytes());
    if method == "SEND" {
        ctx.state.lock().expect("state").pending.insert(
            tid,
            Pending {
                back: conn.clone(),
                to: from.to_owned(),
                from: first.to_owned(),
                message_id: header(m, "Message-ID").unwrap_or("").to_owned(),
                byte_range: header(m, "Byte-Range").unwrap_or("1-*/*").to_owned(),
            },
        );
    }
    write_to(&out, &bytes);
}

/// A connection to `uri`'s host and port, opened once and served like an inbound one.
fn outbound(ctx: &Ctx, uri: &str) -> Option<Conn> {
    let u = MsrpUri::parse(uri).ok()?;
    let key = format!("{}:{}", u.host, u.port?);
    if let Some(c) = ctx.state.lock().expect("state").outbound.get(&key) {
        return Some(c.clone());
    }
    let s = TcpStream::connect(&key).ok()?;
    let conn: Conn = Arc::new(Mutex::new(s.try_clone().ok()?));
    ctx.state
        .lock()
        .expect("state")
        .outbound
        .insert(key, conn.clone());
    let reader = conn.clone();
    let ctx2 = Ctx {
        base: ctx.base.clone(),
        user: ctx.user.clone(),
        password: ctx.password.clone(),
        mode: ctx.mode,
        state: ctx.state.clone(),
        counter: AtomicU64::new(1 << 32),
    };
    std::thread::spawn(move || read_loop(&ctx2, s, &reader));
    Some(conn)
}

fn auth(ctx: &Ctx, m: &Message<'_>, to: &str, from: &str, conn: &Conn) {
    if ctx.mode == Mode::Silent {
        return;
    }
    let nonce = "c0ffee0123456789";
    let challenge = format!(
        "WWW-Authenticate: Digest realm=\"{REALM}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5\r\n"
    );
    let Some(authz) = header(m, "Authorization") else {
        write_to(
            conn,
            &response(m.tid, 401, "Unauthorized", from, to, &challenge),
        );
        return;
    };
    let p = digest_params(authz);
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let ha1 = hex_md5(&format!("{}:{REALM}:{}", ctx.user, ctx.password));
    // RFC 4976 §9.1: the uri is the rightmost To-Path URI, the method AUTH, qop required.
    let ha2 = hex_md5(&format!("AUTH:{to}"));
    let expected = hex_md5(&format!(
        "{ha1}:{nonce}:{}:{}:auth:{ha2}",
        get("nc"),
        get("cnonce")
    ));
    let ok = get("username") == ctx.user
        && get("realm") == REALM
        && get("nonce") == nonce
        && get("uri") == to
        && get("qop") == "auth"
        && get("response") == expected;
    ctx.state.lock().expect("state").auths.push(ok);
    if !ok {
        write_to(
            conn,
            &response(m.tid, 401, "Unauthorized", from, to, &challenge),
        );
        return;
    }
    let session = ctx.next("s");
    let client = from
        .split_ascii_whitespace()
        .last()
        .unwrap_or("")
        .to_owned();
    ctx.state
        .lock()
        .expect("state")
        .sessions
        .insert(session.clone(), (client, conn.clone()));
    let extra = if ctx.mode == Mode::NoUsePath {
        "Expires: 600\r\n".to_owned()
    } else {
        format!("Use-Path: {}/{session};tcp\r\nExpires: 600\r\n", ctx.base)
    };
    write_to(conn, &response(m.tid, 200, "OK", from, to, &extra));
}

/// `sipkit invite --format json` as user alice with `password` (SIPKIT_PASSWORD) through the MSRP
/// relay `relay_uri`, with `args` after the options; killed after 30 s.
pub fn invite_through(relay_uri: &str, password: &str, args: &[&str]) -> std::process::Output {
    crate::support::sipkit()
        .env("SIPKIT_PASSWORD", password)
        .args([
            "invite",
            "--timeout",
            "10s",
            "--format",
            "json",
            "--user",
            "alice",
        ])
        .args(["--relay", relay_uri])
        .args(args)
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .expect("running sipkit invite")
}
