//! `sipkit listen` (#5): a SIP user agent server for tests and debugging. The command line is
//! checked into a [`Config`] before any socket is opened; then one loop on a single-threaded
//! runtime takes listener events, signals and timer ticks, hands messages to the IO-free
//! [`uas::Uas`], sends what it queued and prints what it reported.
//!
//! One thread is enough: per message the work is a parse, a table lookup and a response built
//! from the request's own header fields, and output is buffered and flushed on the timer tick,
//! not per line.

mod capture;
mod uas;

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::error::ErrorKind;
use tokio::time::Instant;

use super::usage_error;
use crate::cli::{AuthAlg, ListenArgs};
use crate::exit::Exit;
use crate::output::listen::{Bound, ListenEvent, ListenPrinter};
use crate::proto::digest::Algorithm;
use crate::transport::server_transaction::Timers;
use crate::transport::{
    Event, Flow, Limits, ListenSpec, Listener, Proto, ServerTls, TransportError,
};

use capture::CaptureFile;
use uas::{Reply, Uas, UasConfig};

/// How often timers are looked at while something is pending, and the longest time output
/// waits in the buffer. RFC 3261 timers start at T1 = 500 ms, so 20 ms is fine-grained enough.
const TICK: Duration = Duration::from_millis(20);
/// After --count is reached, how long to wait for the last ACKs before leaving anyway.
const DRAIN: Duration = Duration::from_secs(2);
/// The MSRP port when --msrp does not name one (the IANA-registered port, RFC 4975 §15).
const MSRP_PORT: u16 = 2855;

/// The checked command line.
#[derive(Debug)]
pub(crate) struct Config {
    specs: Vec<ListenSpec>,
    tls: Option<(PathBuf, PathBuf)>,
    msrp: SocketAddr,
    uas: UasConfig,
    write_pcap: Option<PathBuf>,
    count: Option<u64>,
    msrp_count: Option<u64>,
    timeout: Option<Duration>,
}

/// Why the command line cannot be run.
#[derive(Debug)]
pub(crate) enum Invalid {
    /// A bad flag, value or combination: clap-style message, exit 2.
    Usage(clap::Error),
    /// An input that cannot be read (--auth-file), exit 2.
    Input(anyhow::Error),
}

fn usage(message: impl AsRef<str>) -> Invalid {
    Invalid::Usage(usage_error(
        "listen",
        ErrorKind::InvalidValue,
        message.as_ref(),
    ))
}

/// `IP:PORT`, `[IPv6]:PORT`, or a bare `IP` (the transport's default port).
fn parse_addr(s: &str, proto: Proto) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    match bare.parse::<IpAddr>() {
        Ok(ip) => Ok(SocketAddr::new(ip, proto.default_port())),
        Err(_) => Err(format!(
            "--{proto} expects IP:PORT, [IPv6]:PORT or IP (a listening address, not a host name), found `{s}`"
        )),
    }
}

/// `METHOD=CODE[:REASON]`.
fn parse_reply(s: &str) -> Result<(String, Reply), String> {
    let bad = || format!("--reply expects METHOD=CODE[:REASON] with CODE 200-699, found `{s}`");
    let (method, rest) = s.split_once('=').ok_or_else(bad)?;
    let (code, reason) = match rest.split_once(':') {
        Some((c, r)) => (c, Some(r.trim())),
        None => (rest, None),
    };
    let code: u16 = code.trim().parse().map_err(|_| bad())?;
    let method = method.trim();
    if !(200..700).contains(&code)
        || method.is_empty()
        || !crate::proto::sip::uri::is_token_str(method)
    {
        return Err(bad());
    }
    let reason = match reason {
        Some(r) if !r.is_empty() => r.to_owned(),
        _ => default_reason(code).to_owned(),
    };
    if reason.contains(['\r', '\n']) {
        return Err(bad());
    }
    Ok((method.to_ascii_uppercase(), Reply { code, reason }))
}

/// The RFC 3261 §21 reason phrases for the codes people pick most.
fn default_reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        202 => "Accepted",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => match code / 100 {
            2 => "OK",
            3 => "Redirect",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

/// `user:password`.
fn parse_user(s: &str, origin: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((u, p)) if !u.is_empty() && !u.contains(['"', '\\', '\r', '\n']) => {
            Ok((u.to_owned(), p.to_owned()))
        }
        _ => Err(format!("{origin} expects USER:PASSWORD, found `{s}`")),
    }
}

fn algorithm(a: AuthAlg) -> Algorithm {
    match a {
        AuthAlg::Md5 => Algorithm::Md5,
        AuthAlg::Md5Sess => Algorithm::Md5Sess,
        AuthAlg::Sha256 => Algorithm::Sha256,
        AuthAlg::Sha256Sess => Algorithm::Sha256Sess,
        AuthAlg::Sha512_256 => Algorithm::Sha512_256,
        AuthAlg::Sha512_256Sess => Algorithm::Sha512_256Sess,
    }
}

impl Config {
    pub(crate) fn new(args: ListenArgs) -> Result<Config, Invalid> {
        let mut specs = Vec::new();
        for (proto, list) in [
            (Proto::Udp, &args.udp),
            (Proto::Tcp, &args.tcp),
            (Proto::Tls, &args.tls),
            (Proto::Ws, &args.ws),
            (Proto::Wss, &args.wss),
        ] {
            for s in list {
                specs.push(ListenSpec::new(proto, parse_addr(s, proto).map_err(usage)?));
            }
        }
        if specs.is_empty() {
            // Loopback unless asked: listen accepts files (MSRP), so exposing it is a choice.
            let lo = SocketAddr::from(([127, 0, 0, 1], 5060));
            specs.push(ListenSpec::new(Proto::Udp, lo));
            specs.push(ListenSpec::new(Proto::Tcp, lo));
        }
        let tls = match (args.cert, args.key) {
            (Some(c), Some(k)) => Some((c, k)),
            _ => None,
        };
        let msrp = match &args.msrp {
            Some(s) => {
                let a =
                    parse_addr(s, Proto::Tcp).map_err(|e| usage(e.replace("--tcp", "--msrp")))?;
                if s.parse::<SocketAddr>().is_err() {
                    SocketAddr::new(a.ip(), MSRP_PORT)
                } else {
                    a
                }
            }
            None => SocketAddr::new(specs[0].addr.ip(), MSRP_PORT),
        };
        let mut replies = HashMap::new();
        for r in &args.reply {
            let (method, reply) = parse_reply(r).map_err(usage)?;
            if matches!(method.as_str(), "ACK" | "CANCEL") {
                return Err(usage(format!(
                    "--reply cannot change the answer to {method} (RFC 3261 §9.2, §17.2)"
                )));
            }
            replies.insert(method, reply);
        }
        let mut headers = Vec::new();
        for h in &args.headers {
            match h.split_once(':') {
                Some((n, v))
                    if crate::proto::sip::uri::is_token_str(n.trim())
                        && !v.contains(['\r', '\n']) =>
                {
                    headers.push((n.trim().to_owned(), v.trim().to_owned()));
                }
                _ => {
                    return Err(usage(format!(
                        "--header expects `Name: value`, found `{h}`"
                    )));
                }
            }
        }
        let mut users = HashMap::new();
        for a in &args.auth {
            let (u, p) = parse_user(a, "--auth").map_err(usage)?;
            users.insert(u, p);
        }
        if let Some(path) = &args.auth_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --auth-file {}", path.display()))
                .map_err(Invalid::Input)?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let origin = format!("{} line {}", path.display(), n + 1);
                let (u, p) = parse_user(line, &origin).map_err(usage)?;
                users.insert(u, p);
            }
            if users.is_empty() {
                return Err(usage(format!(
                    "--auth-file {} holds no user",
                    path.display()
                )));
            }
        }
        let algorithms = if args.auth_alg.is_empty() {
            vec![Algorithm::Sha256, Algorithm::Md5]
        } else {
            let mut v: Vec<Algorithm> = Vec::new();
            for a in args.auth_alg.iter().copied().map(algorithm) {
                if !v.contains(&a) {
                    v.push(a);
                }
            }
            v
        };
        let realm = args.realm.unwrap_or_else(|| "sipkit".to_owned());
        if realm.contains(['"', '\\', '\r', '\n']) {
            return Err(usage(
                "--realm may not contain quotes, backslashes or line ends",
            ));
        }
        if args.count == Some(0) || args.msrp_count == Some(0) {
            return Err(usage("--count and --msrp-count must be at least 1"));
        }
        Ok(Config {
            uas: UasConfig {
                replies,
                ring: args.ring.unwrap_or_default(),
                headers,
                registrar: args.registrar,
                users,
                algorithms,
                realm,
                nonce_lifetime: args.nonce_lifetime.unwrap_or(Duration::from_secs(300)),
                full: args.full,
                msrp: None,
                timers: Timers::default(),
                test_mode: std::env::var_os("SIPKIT_TEST").is_some(),
            },
            specs,
            tls,
            msrp,
            write_pcap: args.write_pcap,
            count: args.count,
            msrp_count: args.msrp_count,
            timeout: args.timeout,
        })
    }
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Count,
    Timeout,
    Signal,
}

pub(crate) fn run<W: Write>(config: Config, mut printer: ListenPrinter<W>) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(config, &mut printer))
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

async fn serve<W: Write>(config: Config, printer: &mut ListenPrinter<W>) -> anyhow::Result<Exit> {
    let tls = match &config.tls {
        Some((cert, key)) => Some(ServerTls::from_pem_files(cert, key).context("--cert/--key")?),
        None => None,
    };
    let mut capture = match &config.write_pcap {
        Some(p) => Some(
            CaptureFile::create(p)
                .with_context(|| format!("cannot create --write-pcap {}", shown(p)))?,
        ),
        None => None,
    };
    // Installed before the `listening` line: a script that signals as soon as it reads the
    // line must find the handler there.
    #[cfg(unix)]
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut listener = match Listener::bind(&config.specs, tls, Limits::default()).await {
        Ok(l) => l,
        Err(TransportError::Bind { addr, source }) => {
            let proto = config
                .specs
                .iter()
                .find(|s| s.addr == addr)
                .map_or("", |s| s.proto.as_str());
            let hint = if source.kind() == std::io::ErrorKind::AddrInUse {
                " (another program listens there: pick another port, or port 0 for any free one)"
            } else {
                ""
            };
            anyhow::bail!("cannot listen on {proto} {addr}: {source}{hint}");
        }
        Err(e) => return Err(e).context("starting the listener"),
    };
    let start = Instant::now();
    let mut uas = Uas::new(config.uas.clone(), start.into_std());
    let mut addresses: Vec<Bound> = listener
        .local_addrs()
        .iter()
        .map(|s| Bound {
            transport: s.proto.as_str().to_owned(),
            address: s.addr.to_string(),
        })
        .collect();
    if uas_msrp_enabled(&config) {
        addresses.push(Bound {
            transport: "msrp".to_owned(),
            address: config.msrp.to_string(),
        });
    }
    printer.emit(&ListenEvent::Listening { addresses })?;
    printer.flush()?;

    let deadline = config.timeout.map(|t| start + t);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = false;
    let mut reached_at: Option<Instant> = None;
    let stop = loop {
        let ticking = dirty || uas.has_timers();
        #[cfg(unix)]
        let term = sigterm.recv();
        #[cfg(not(unix))]
        let term = std::future::pending::<Option<()>>();
        tokio::select! {
            event = listener.recv() => {
                let now = Instant::now().into_std();
                match event {
                    Event::Message(m) => {
                        if let Some(c) = capture.as_mut() {
                            record(c, &m.flow, false, &m.data);
                        }
                        uas.on_message(&m.data, m.flow, now);
                    }
                    Event::Opened(_) => {}
                    Event::Closed { flow, error: Some(e) } | Event::Error { flow, error: e } => {
                        uas.error(Some(&flow), e.to_string(), now);
                    }
                    Event::Closed { error: None, .. } => {}
                }
            }
            _ = tick.tick(), if ticking => {
                uas.on_tick(Instant::now().into_std());
                printer.flush()?;
                dirty = false;
            }
            _ = &mut ctrl_c => break Stop::Signal,
            _ = term => break Stop::Signal,
            _ = sleep_until_opt(deadline) => break Stop::Timeout,
        }
        for o in std::mem::take(&mut uas.out) {
            if let Some(c) = capture.as_mut() {
                record(c, &o.flow, true, &o.bytes);
            }
            if let Err(e) = listener.send(&o.flow, &o.bytes).await {
                uas.error(
                    Some(&o.flow),
                    format!("cannot send the response: {e}"),
                    Instant::now().into_std(),
                );
            }
        }
        for e in std::mem::take(&mut uas.events) {
            printer.emit(&e)?;
            dirty = true;
        }
        uas.msrp_offers.clear();
        let reached = config.count.is_some_and(|n| uas.counted >= n)
            || config
                .msrp_count
                .is_some_and(|n| uas.summary.msrp_messages >= n);
        if reached {
            let since = *reached_at.get_or_insert_with(Instant::now);
            if uas.settled() || since.elapsed() > DRAIN + config.uas.ring {
                break Stop::Count;
            }
        }
    };
    let exit = match stop {
        Stop::Timeout if config.count.is_some() || config.msrp_count.is_some() => Exit::Timeout,
        _ => Exit::Success,
    };
    if let Some(c) = capture.as_mut() {
        c.flush().with_context(|| {
            format!(
                "writing --write-pcap {}",
                config.write_pcap.as_deref().map(shown).unwrap_or_default()
            )
        })?;
    }
    let mut summary = uas.summary.clone();
    summary.stopped_by = match stop {
        Stop::Count => "count",
        Stop::Timeout => "timeout",
        Stop::Signal => "signal",
    };
    summary.exit = exit.code();
    summary.elapsed_ms = (start.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    printer.emit(&ListenEvent::Summary(summary))?;
    printer.flush()?;
    Ok(exit)
}

fn uas_msrp_enabled(config: &Config) -> bool {
    config.uas.msrp.is_some()
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Write one message to the capture. A failed write (disk full) is logged, not fatal: the
/// server's answers matter more than the copy.
fn record(c: &mut CaptureFile, flow: &Flow, sent: bool, bytes: &[u8]) {
    let (src, dst) = if sent {
        (flow.local, flow.remote)
    } else {
        (flow.remote, flow.local)
    };
    let r = if flow.proto == Proto::Udp {
        c.udp(src, dst, bytes)
    } else {
        c.tcp(src, dst, bytes)
    };
    if let Err(e) = r {
        tracing::warn!("writing the capture failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_take_a_port_or_the_default() {
        assert_eq!(
            parse_addr("127.0.0.1:0", Proto::Udp),
            Ok("127.0.0.1:0".parse().expect("addr"))
        );
        assert_eq!(
            parse_addr("::1", Proto::Tls),
            Ok("[::1]:5061".parse().expect("addr"))
        );
        assert_eq!(
            parse_addr("[::1]", Proto::Udp),
            Ok("[::1]:5060".parse().expect("addr"))
        );
        assert!(parse_addr("example.com:5060", Proto::Udp).is_err());
    }

    #[test]
    fn replies_take_a_final_code_and_an_optional_reason() {
        assert_eq!(
            parse_reply("invite=486"),
            Ok((
                "INVITE".into(),
                Reply {
                    code: 486,
                    reason: "Busy Here".into()
                }
            ))
        );
        assert_eq!(
            parse_reply("MESSAGE=403:Go away"),
            Ok((
                "MESSAGE".into(),
                Reply {
                    code: 403,
                    reason: "Go away".into()
                }
            ))
        );
        for bad in [
            "INVITE",
            "INVITE=180",
            "INVITE=abc",
            "=200",
            "IN VITE=200",
            "X=700",
        ] {
            assert!(parse_reply(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn users_need_a_colon() {
        assert_eq!(
            parse_user("alice:se:cret", "--auth"),
            Ok(("alice".into(), "se:cret".into()))
        );
        assert!(parse_user("alice", "--auth").is_err());
        assert!(parse_user(":x", "--auth").is_err());
    }
}
