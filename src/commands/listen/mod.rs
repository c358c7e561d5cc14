//! `sipkit listen` (#5): a SIP user agent server for tests and debugging. The command line is
//! checked into a [`Config`] before any socket is opened; then one loop on a single-threaded
//! runtime takes listener events, signals and timer ticks, hands messages to the IO-free
//! [`uas::Uas`], sends what it queued and prints what it reported.
//!
//! One thread is enough: per message the work is a parse, a table lookup and a response built
//! from the request's own header fields, and output is buffered and flushed on the timer tick,
//! not per line.

mod capture;
mod msrp;
mod uas;

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use clap::error::ErrorKind;
use tokio::time::Instant;

use super::usage_error;
use crate::cli::{AuthAlg, ListenArgs};
use crate::exit::Exit;
use crate::output::listen::{Bound, ListenEvent, ListenPrinter};
use crate::proto::digest::Algorithm;
use crate::transport::server_transaction::Timers;
use crate::transport::{
    Event, Flow, Incoming, Limits, ListenSpec, Listener, Proto, ServerTls, TransportError,
};

use capture::CaptureFile;
use msrp::{MsrpSide, Sessions};
use uas::{MsrpAnswer, NoMsrp, Reply, Uas, UasConfig};

/// How often timers are looked at while something is pending, and the longest time output
/// waits in the buffer. RFC 3261 timers start at T1 = 500 ms, so 20 ms is fine-grained enough.
const TICK: Duration = Duration::from_millis(20);
/// Datagrams taken per wake-up at most, so a flood cannot hold back timers and signals.
const BATCH: usize = 64;
/// A wake-up that took this many messages means load: wait [`GATHER`] before reading again.
const GATHER_AFTER: usize = 4;
/// How long datagrams gather under load: a 500 ms SIP timer (T1) never notices, and at 8000
/// calls/s it cuts the wake-ups per call from 0.45 to 0.12 (bench/listen.sh).
const GATHER: Duration = Duration::from_micros(500);
/// After --count is reached, how long to wait for the last ACKs before leaving anyway.
const DRAIN: Duration = Duration::from_secs(2);
/// The MSRP port when --msrp does not name one (the IANA-registered port, RFC 4975 §15).
const MSRP_PORT: u16 = 2855;
/// On Ctrl-C or --count, how long MSRP messages in progress get to complete.
const FINISH: Duration = Duration::from_secs(5);
/// --msrp-bind-timeout's default: an answered MSRP session no connection binds within this is
/// freed. RFC 4975 sets none; 30 s is about Timer H (64*T1 = 32 s), when an unACKed 2xx is
/// given up anyway, and far more than any peer needs to connect after its ACK.
const MSRP_BIND_TIMEOUT: Duration = Duration::from_secs(30);
/// At the end, how long the Success-Reports of saved messages get to leave.
const SETTLE: Duration = Duration::from_secs(2);

/// The checked command line.
#[derive(Debug)]
pub(crate) struct Config {
    specs: Vec<ListenSpec>,
    tls: Option<(PathBuf, PathBuf)>,
    msrp: SocketAddr,
    /// --msrp was given: failing to bind it is fatal.
    msrp_explicit: bool,
    msrps: bool,
    max_size: u64,
    save_dir: Option<PathBuf>,
    uas: UasConfig,
    write_pcap: Option<PathBuf>,
    count: Option<u64>,
    msrp_count: Option<u64>,
    timeout: Option<Duration>,
    limits: Limits,
    max_msrp_sessions: usize,
    msrp_bind_timeout: Duration,
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
            // MD5 alone: SIPp 3.6, sipsak 0.9.8 and sipvicious 0.3 answer only the first
            // challenge and know only MD5, and baresip 1.0 fails on any challenge that is
            // not MD5 even when an MD5 one is there too (README, listen --auth).
            vec![Algorithm::Md5]
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
        if let Some(path) = &args.write_pcap {
            // Checked before anything starts; the file is still created create-new (another
            // program may make it meanwhile).
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(usage(format!(
                    "--write-pcap: {} already exists; choose a new file name",
                    path.display()
                )));
            }
        }
        if args.count == Some(0) || args.msrp_count == Some(0) {
            return Err(usage("--count and --msrp-count must be at least 1"));
        }
        let accept_types: Vec<String> = if args.accept_types.is_empty() {
            vec!["*".to_owned()]
        } else {
            args.accept_types
                .iter()
                .map(|t| t.trim().to_owned())
                .collect()
        };
        for t in &accept_types {
            let ok = t == "*"
                || t.split_once('/').is_some_and(|(a, b)| {
                    crate::proto::sip::uri::is_token_str(a)
                        && (b == "*" || crate::proto::sip::uri::is_token_str(b))
                });
            if !ok {
                return Err(usage(format!(
                    "--accept-types expects type/subtype, type/* or * (RFC 4975 §8.6), found `{t}`"
                )));
            }
        }
        let defaults = Limits::default();
        let limits = Limits {
            max_message: args.max_message.unwrap_or(defaults.max_message),
            max_connections: args.max_connections.unwrap_or(defaults.max_connections),
            idle: args.idle_timeout.unwrap_or(defaults.idle),
            // A slow sender trickling one message gets no more time than a silent one.
            message_timeout: defaults
                .message_timeout
                .min(args.idle_timeout.unwrap_or(defaults.idle)),
        };
        let max_transactions = args.max_transactions.unwrap_or(1_000_000);
        let max_msrp_sessions = args.max_msrp_sessions.unwrap_or(1000);
        let msrp_bind_timeout = args.msrp_bind_timeout.unwrap_or(MSRP_BIND_TIMEOUT);
        if msrp_bind_timeout.is_zero() {
            return Err(usage("--msrp-bind-timeout must be more than 0"));
        }
        if limits.max_message < 512
            || limits.max_connections == 0
            || limits.idle.is_zero()
            || max_transactions == 0
            || max_msrp_sessions == 0
        {
            return Err(usage(
                "--max-message must be at least 512; --max-connections, --idle-timeout, \
                 --max-transactions and --max-msrp-sessions at least 1",
            ));
        }
        let max_expires = args.max_expires.unwrap_or(3600);
        let min_expires = args.min_expires.unwrap_or(0);
        if max_expires == 0 || min_expires > max_expires {
            return Err(usage(format!(
                "--max-expires must be at least 1 and at least --min-expires \
                 (got --min-expires {min_expires}, --max-expires {max_expires})"
            )));
        }
        let max_size = args.max_size.unwrap_or(1 << 30);
        if max_size == 0 {
            return Err(usage("--max-size must be at least 1"));
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
                msrp: Some(MsrpAnswer {
                    port: 0,
                    accept_types,
                    max_size,
                    save_files: args.save_dir.is_some(),
                }),
                timers: Timers::default(),
                test_mode: std::env::var_os("SIPKIT_TEST").is_some(),
                max_transactions,
                max_expires,
                min_expires,
            },
            limits,
            max_msrp_sessions,
            msrp_bind_timeout,
            specs,
            tls,
            msrp,
            msrp_explicit: args.msrp.is_some(),
            msrps: args.msrps,
            max_size,
            save_dir: args.save_dir,
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
    // A task of its own waits for them, so the run loop polls one cheap receiver instead of
    // making and polling two signal futures for every datagram.
    let (signalled, mut stop_signal) = tokio::sync::oneshot::channel::<()>();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            let _ = signalled.send(());
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = signalled.send(());
    });
    let mut listener = match Listener::bind(&config.specs, tls.clone(), config.limits).await {
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
    let mut uas_config = config.uas.clone();
    let mut disabled = None;
    let mut msrp = match start_msrp(&config, tls.as_ref()).await? {
        Ok(side) => Some(side),
        Err(e) => {
            // Port 2855 taken by another program: SIP still works, MSRP offers get 488.
            uas_config.msrp = None;
            disabled = Some(ListenEvent::Error(crate::output::listen::ErrorRecord {
                at_ms: 0.0,
                transport: Some("msrp".to_owned()),
                remote: None,
                message: format!("MSRP disabled: {e} (choose a free address with --msrp)"),
            }));
            None
        }
    };
    let (tap_tx, mut tap_rx) = tokio::sync::mpsc::unbounded_channel();
    if let (Some(m), Some(_)) = (&msrp, &capture) {
        m.endpoint.set_tap(tap_tx);
    } else {
        drop(tap_tx);
    }
    if let (Some(m), Some(a)) = (&msrp, uas_config.msrp.as_mut()) {
        a.port = m.endpoint.local_addr().port();
    }
    let mut uas = Uas::new(uas_config, start.into_std());
    uas.quiet = printer.quiet();
    let mut addresses: Vec<Bound> = listener
        .local_addrs()
        .iter()
        .map(|s| Bound {
            transport: s.proto.as_str().to_owned(),
            address: s.addr.to_string(),
        })
        .collect();
    if let Some(m) = &msrp {
        addresses.push(Bound {
            transport: if config.msrps { "msrps" } else { "msrp" }.to_owned(),
            address: m.endpoint.local_addr().to_string(),
        });
    }
    printer.emit(&ListenEvent::Listening { addresses })?;
    if let Some(e) = disabled {
        printer.emit(&e)?;
    }
    printer.flush()?;

    let deadline = config.timeout.map(|t| start + t);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = false;
    let mut reached_at: Option<Instant> = None;
    let mut msrp_events = Vec::new();
    // What the UAS gives to send, swapped with its own so neither is allocated again.
    let mut out = Vec::new();
    // Messages taken at the last wake-up.
    let mut taken = 0usize;
    // ... and whether they were all that was queued.
    let mut drained = false;
    let until_deadline = sleep_until_opt(deadline);
    tokio::pin!(until_deadline);
    let mut sources = Sources::new();
    let mut msrp_got = None;
    let mut tap_got = None;
    let stop = loop {
        let ticking = dirty || uas.has_timers() || msrp.as_ref().is_some_and(MsrpSide::binding);
        // In this order, so a busy socket is served without polling the rest first; tokio's
        // cooperative budget still lets the others through under a flood.
        let woke = std::future::poll_fn(|cx| {
            sources.begin(cx);
            if let Some(r) = sources.poll(source::SIGNAL, |cx| {
                std::pin::Pin::new(&mut stop_signal)
                    .poll(cx)
                    .map(|_| Woke::Signal)
            }) {
                return r;
            }
            if let Some(r) = sources.poll(source::LISTENER, |cx| {
                listener.poll_ready(cx).map(|()| Woke::Listener)
            }) {
                return r;
            }
            // What the queues gave is kept aside, so the loop's wake-up reason stays small
            // to move around.
            if let Some(r) = sources.poll(source::MSRP, |cx| match msrp.as_mut() {
                Some(side) => {
                    let recv = side.endpoint.recv();
                    std::pin::pin!(recv).poll(cx).map(|ev| {
                        msrp_got = ev;
                        Woke::Msrp
                    })
                }
                None => Poll::Pending,
            }) {
                return r;
            }
            if let Some(r) = sources.poll(source::TAP, |cx| {
                tap_rx.poll_recv(cx).map(|t| {
                    tap_got = t;
                    Woke::Tap
                })
            }) {
                return r;
            }
            if ticking {
                if let Some(r) =
                    sources.poll(source::TICK, |cx| tick.poll_tick(cx).map(|_| Woke::Tick))
                {
                    return r;
                }
            }
            if let Some(r) = sources.poll(source::DEADLINE, |cx| {
                until_deadline.as_mut().poll(cx).map(|()| Woke::Deadline)
            }) {
                return r;
            }
            Poll::Pending
        })
        .await;
        match woke {
            Woke::Signal => break Stop::Signal,
            Woke::Listener => {
                let now = Instant::now().into_std();
                // A burst under load: take what is already queued before sending, printing
                // and going back to waiting (one wake-up for many datagrams). The first is
                // there: `poll_ready` said so.
                taken = 0;
                drained = false;
                for _ in 0..BATCH {
                    let Some(incoming) = listener.try_next() else {
                        drained = true;
                        break;
                    };
                    on_incoming(incoming, &mut uas, capture.as_mut(), msrp.as_ref(), now);
                    taken += 1;
                }
            }
            // A closed queue has nothing more: its source is not polled again.
            Woke::Msrp => match msrp_got.take() {
                None => sources.close(source::MSRP),
                Some(ev) => {
                    let at = uas.at(Instant::now().into_std());
                    if let Some(side) = msrp.as_mut() {
                        uas.summary.msrp_messages += side.on_event(ev, at, &mut msrp_events);
                    }
                }
            },
            Woke::Tap => match tap_got.take() {
                None => sources.close(source::TAP),
                Some(t) => {
                    if let Some(c) = capture.as_mut() {
                        record_msrp(c, &t);
                    }
                }
            },
            Woke::Tick => {
                let now = Instant::now().into_std();
                if let Some(side) = msrp.as_mut() {
                    let at = uas.at(now);
                    uas.summary.msrp_sessions_freed += side.expire(now, at, &mut msrp_events);
                }
                match &msrp {
                    Some(side) => uas.on_tick_msrp(now, &mut Sessions(side)),
                    None => uas.on_tick_msrp(now, &mut NoMsrp),
                }
                if uas.burst_over() {
                    crate::alloc::release_free_memory();
                }
                printer.flush()?;
                dirty = false;
            }
            Woke::Deadline => break Stop::Timeout,
        }
        if !uas.out.is_empty() {
            std::mem::swap(&mut out, &mut uas.out);
            if let Some(c) = capture.as_mut() {
                for o in &out {
                    record(c, &o.flow, true, &o.bytes);
                }
            }
            let sending: smallvec::SmallVec<[(&Flow, &[u8]); 32]> =
                out.iter().map(|o| (&o.flow, &*o.bytes)).collect();
            for (i, e) in listener.send_all(&sending).await {
                if let Some(o) = out.get(i) {
                    let at = Instant::now().into_std();
                    uas.error(Some(&o.flow), format!("cannot send the response: {e}"), at);
                }
            }
            drop(sending);
            out.clear();
            // Sending may have given the listener something new to wait on.
            sources.repoll(source::LISTENER);
        }
        if taken >= GATHER_AFTER && drained {
            // Under load, the answers are out: let the next datagrams gather before reading
            // again, so one wake-up takes many of them, as SIPp's own loop does. Each wake-up
            // is a context switch and an epoll round (about a fifth of listen's CPU per call
            // at 8000 calls/s). The runtime has this one thread, so this pause is the whole
            // point: everything on it waits, at most GATHER, and only when busy. Not under
            // a trickle: an answer there is never delayed. Not under overload either (the
            // wake-up stopped at BATCH with more queued): then every moment is spent reading.
            std::thread::sleep(GATHER);
        }
        taken = 0;
        for e in std::mem::take(&mut uas.events) {
            printer.emit(&e)?;
            dirty = true;
        }
        let offers = std::mem::take(&mut uas.msrp_offers);
        let ended = std::mem::take(&mut uas.msrp_ended);
        if let Some(side) = msrp.as_mut() {
            let at = uas.at(Instant::now().into_std());
            if !offers.is_empty() {
                msrp_events.extend(side.start(offers, at).await);
            }
            if !ended.is_empty() {
                uas.summary.msrp_messages += side.drain(at, &mut msrp_events);
                msrp_events.extend(side.end(ended, at));
            }
        }
        for e in msrp_events.drain(..) {
            printer.emit(&e)?;
            dirty = true;
        }
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
    if let Some(side) = msrp.as_mut() {
        // What the endpoint queued before the stop: a message can complete (its last chunk
        // answered 200, its hash being finished) just as the BYE that reached --count arrives.
        while let Some(ev) = side.endpoint.try_recv() {
            let at = uas.at(Instant::now().into_std());
            uas.summary.msrp_messages += side.on_event(ev, at, &mut msrp_events);
        }
        for e in msrp_events.drain(..) {
            printer.emit(&e)?;
        }
        // Ctrl-C or --count with files arriving: give them a moment to complete (a second
        // signal stops at once), then report the rest as incomplete. Whatever the stop, a
        // message whose last chunk was answered 200 is waited for.
        let all = matches!(stop, Stop::Signal | Stop::Count);
        let waiting = |side: &MsrpSide| {
            if all {
                !side.in_flight.is_empty()
            } else {
                side.completing()
            }
        };
        if waiting(side) {
            let until = Instant::now() + FINISH;
            let again = tokio::signal::ctrl_c();
            tokio::pin!(again);
            while waiting(side) {
                tokio::select! {
                    ev = side.endpoint.recv() => {
                        let Some(ev) = ev else { break };
                        let at = uas.at(Instant::now().into_std());
                        uas.summary.msrp_messages += side.on_event(ev, at, &mut msrp_events);
                    }
                    Some(t) = tap_rx.recv() => {
                        if let Some(c) = capture.as_mut() {
                            record_msrp(c, &t);
                        }
                    }
                    _ = tokio::time::sleep_until(until) => break,
                    _ = &mut again => break,
                }
                for e in msrp_events.drain(..) {
                    printer.emit(&e)?;
                }
            }
        }
        msrp_events.extend(side.abandon(uas.at(Instant::now().into_std())));
        for e in msrp_events.drain(..) {
            printer.emit(&e)?;
        }
        // Messages that completed after the end was reported are not kept: their held
        // Success-Reports are dropped unsent. Those of messages saved leave before the
        // endpoint goes.
        while side.endpoint.try_recv().is_some() {}
        side.endpoint.settle(SETTLE).await;
        side.cleanup();
    }
    // What the connection tasks copied just before the end.
    while let Ok(t) = tap_rx.try_recv() {
        if let Some(c) = capture.as_mut() {
            record_msrp(c, &t);
        }
    }
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

/// One transport event into the UAS: a datagram straight from the listener's buffer.
fn on_incoming(
    incoming: Incoming<'_>,
    uas: &mut Uas,
    capture: Option<&mut CaptureFile>,
    msrp: Option<&MsrpSide>,
    now: std::time::Instant,
) {
    match incoming {
        Incoming::Datagram { data, flow } => on_message(data, flow, uas, capture, msrp, now),
        Incoming::Event(event) => on_event(event, uas, capture, msrp, now),
    }
}

/// One message into the UAS.
fn on_message(
    data: &[u8],
    flow: Flow,
    uas: &mut Uas,
    capture: Option<&mut CaptureFile>,
    msrp: Option<&MsrpSide>,
    now: std::time::Instant,
) {
    if let Some(c) = capture {
        record(c, &flow, false, data);
    }
    match msrp {
        Some(side) => uas.on_message_msrp(data, flow, now, &mut Sessions(side)),
        None => uas.on_message_msrp(data, flow, now, &mut NoMsrp),
    }
}

/// One transport event (other than a datagram) into the UAS.
fn on_event(
    event: Event,
    uas: &mut Uas,
    capture: Option<&mut CaptureFile>,
    msrp: Option<&MsrpSide>,
    now: std::time::Instant,
) {
    match event {
        Event::Message(m) => on_message(&m.data, m.flow, uas, capture, msrp, now),
        Event::Opened(_) => {}
        Event::Closed {
            flow,
            error: Some(e),
        }
        | Event::Error { flow, error: e } => {
            uas.error(Some(&flow), e.to_string(), now);
        }
        Event::Closed { error: None, .. } => {}
    }
}

/// Bind the MSRP endpoint. The outer error is fatal (--msrp given and unusable); the inner
/// one only disables MSRP (the default port is busy).
async fn start_msrp(
    config: &Config,
    tls: Option<&ServerTls>,
) -> anyhow::Result<Result<MsrpSide, String>> {
    use crate::transport::msrp::{Endpoint, EndpointConfig, ReceiverLimits};
    let endpoint = Endpoint::bind(EndpointConfig {
        bind: config.msrp,
        advertised_host: None,
        tls: if config.msrps { tls.cloned() } else { None },
        limits: ReceiverLimits {
            idle: config.limits.idle,
            max_connections: config.limits.max_connections,
            ..ReceiverLimits::default()
        },
    })
    .await;
    let endpoint = match endpoint {
        Ok(e) => e,
        Err(e) if !config.msrp_explicit => return Ok(Err(e.to_string())),
        Err(e) => {
            return Err(anyhow::anyhow!(
                "cannot listen for MSRP on {}: {e}",
                config.msrp
            ));
        }
    };
    let side = MsrpSide::new(
        endpoint,
        config.max_size,
        config.save_dir.clone(),
        config.max_msrp_sessions,
        config.msrp_bind_timeout,
    )
    .with_context(|| match &config.save_dir {
        Some(d) => format!("cannot create --save-dir {}", shown(d)),
        None => "cannot prepare a temporary directory".to_owned(),
    })?;
    Ok(Ok(side))
}

/// What woke the run loop.
#[derive(Debug, Clone, Copy)]
enum Woke {
    Signal,
    Listener,
    /// What the MSRP endpoint gave is in `msrp_got` (`None`: its queue closed).
    Msrp,
    /// What the capture tap gave is in `tap_got` (`None`: its queue closed).
    Tap,
    Tick,
    Deadline,
}

/// The run loop's sources, one bit each.
mod source {
    pub(super) const SIGNAL: u8 = 1;
    pub(super) const LISTENER: u8 = 2;
    pub(super) const MSRP: u8 = 4;
    pub(super) const TAP: u8 = 8;
    pub(super) const TICK: u8 = 16;
    pub(super) const DEADLINE: u8 = 32;
    pub(super) const ALL: [u8; 6] = [SIGNAL, LISTENER, MSRP, TAP, TICK, DEADLINE];
}

/// Which of the run loop's sources woke it. Each source is polled with a waker of its own
/// that sets its bit before waking the task, so a wake-up polls only the sources that woke
/// (or that gave something last time, whose waker is not registered any more), not all six:
/// a signal receiver, two queues, an interval and a deadline polled for nothing on every
/// datagram were a tenth of listen's user time per call.
struct Sources {
    shared: std::sync::Arc<SourcesShared>,
    wakers: [std::task::Waker; 6],
    /// Sources that said Pending, their wakers registered: polled again once woken.
    waiting: u8,
    /// Sources that ended (a closed queue): never polled again.
    closed: u8,
    /// The task's waker the shared one was last set to.
    task: Option<std::task::Waker>,
}

struct SourcesShared {
    woken: std::sync::atomic::AtomicU8,
    task: std::sync::Mutex<Option<std::task::Waker>>,
}

struct SourceWaker {
    shared: std::sync::Arc<SourcesShared>,
    bit: u8,
}

impl std::task::Wake for SourceWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.shared
            .woken
            .fetch_or(self.bit, std::sync::atomic::Ordering::AcqRel);
        if let Ok(task) = self.shared.task.lock() {
            if let Some(w) = task.as_ref() {
                w.wake_by_ref();
            }
        }
    }
}

impl Sources {
    fn new() -> Sources {
        let shared = std::sync::Arc::new(SourcesShared {
            woken: std::sync::atomic::AtomicU8::new(0),
            task: std::sync::Mutex::new(None),
        });
        let wakers = source::ALL.map(|bit| {
            std::task::Waker::from(std::sync::Arc::new(SourceWaker {
                shared: shared.clone(),
                bit,
            }))
        });
        Sources {
            shared,
            wakers,
            waiting: 0,
            closed: 0,
            task: None,
        }
    }

    /// At the start of each poll of the loop: the task's waker recorded (set before the
    /// woken bits are read, so a wake in between is not lost), and the sources woken since
    /// are due again.
    fn begin(&mut self, cx: &Context<'_>) {
        if !self.task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
            self.task = Some(cx.waker().clone());
            if let Ok(mut task) = self.shared.task.lock() {
                *task = Some(cx.waker().clone());
            }
        }
        let woken = self
            .shared
            .woken
            .swap(0, std::sync::atomic::Ordering::AcqRel);
        self.waiting &= !woken;
    }

    /// Poll source `bit` with its own waker, unless it waits for a wake-up that has not come
    /// or has ended: `Some` with what it gave.
    fn poll<T>(
        &mut self,
        bit: u8,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Option<Poll<T>> {
        if (self.waiting | self.closed) & bit != 0 {
            return None;
        }
        let waker = self.wakers.get(bit.trailing_zeros() as usize)?;
        match poll(&mut Context::from_waker(waker)) {
            Poll::Pending => {
                self.waiting |= bit;
                None
            }
            ready => Some(ready),
        }
    }

    /// Source `bit` is polled next time whether woken or not.
    fn repoll(&mut self, bit: u8) {
        self.waiting &= !bit;
    }

    fn close(&mut self, bit: u8) {
        self.closed |= bit;
    }
}

/// MSRP bytes copied by the endpoint's tap, as TCP between the connection's two ends.
fn record_msrp(c: &mut CaptureFile, t: &crate::transport::msrp::Tapped) {
    let (src, dst) = if t.sent {
        (t.local, t.remote)
    } else {
        (t.remote, t.local)
    };
    if let Err(e) = c.tcp(src, dst, &t.bytes) {
        tracing::warn!("writing the capture failed: {e}");
    }
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
