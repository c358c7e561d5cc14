//! `sipkit send [METHOD] TARGET` (issue #4): build one request (or take a whole message written
//! by hand), locate the server (RFC 3263), run the RFC 3261 §17 client transaction over the
//! chosen transport, answer one Digest challenge per round, fail over to the next destination
//! on a transport error, a timeout or a 503, and report every message with its timing.
//!
//! Everything the user typed is checked in [`Config::new`] before any socket is opened.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::sip_client::{
    self, AuthConfig, Ids, Invalid, Stop, auth_config, default_proto, first_line, millis,
    parse_request, read_input, record, shown, status_of, uri_host,
};
use crate::cli::{Format, GlobalArgs, SendArgs};
use crate::exit::{Exit, Failure};
use crate::output::send::{
    AttemptRecord, FinalRecord, HopRecord, LoadRecord, MessageRecord, Percentiles, Report,
    SendEvent, SendPrinter,
};
use crate::proto::scan::all_token;
use crate::proto::sip::{self, HeaderName, Message, ParseOptions};
use crate::transport::transaction::{Action, ClientTransaction, Key, Timers, ack_for};
use crate::transport::{
    ClientTls, Connection, Destination, Proto, Resolution, TargetSpec, TransportError,
};

/// How long an INVITE answered only provisionally is waited for without --timeout.
const INVITE_PROCEEDING_LIMIT: Duration = Duration::from_secs(200);

/// Largest message accepted from the peer.
const MAX_MESSAGE: usize = 1 << 20;

/// RFC 3261 §18.1.1: a request larger than this (with no path MTU known) goes over a
/// congestion-controlled transport, TCP, unless UDP was asked for by name.
const UDP_SIZE_LIMIT: usize = 1300;

/// The largest UDP payload over IPv4 (65,535 - 20 - 8); anything larger cannot be sent at all.
const MAX_DATAGRAM: usize = 65_507;

/// Variables `--message` may use besides `--set` ones.
const BUILTIN_VARS: [&str; 8] = [
    "call_id",
    "branch",
    "from_tag",
    "local_ip",
    "local_port",
    "transport",
    "cseq",
    "target",
];

fn usage(message: impl AsRef<str>) -> Invalid {
    sip_client::usage("send", message.as_ref())
}

/// A request built from options.
#[derive(Debug, Clone)]
struct Parts {
    method: String,
    /// The --user name, for From, To and Contact.
    user: Option<String>,
    uri: String,
    from: Option<String>,
    to: Option<String>,
    contact: Option<String>,
    expires: Option<u32>,
    unregister: bool,
    max_forwards: u8,
    user_agent: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

/// What to send.
#[derive(Debug, Clone)]
enum Template {
    Parts(Box<Parts>),
    /// A whole message with `${name}` placeholders.
    Message {
        text: String,
        vars: BTreeMap<String, String>,
        raw: bool,
    },
}

/// An accepted status for --expect: one code or a class (`2xx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Code(u16),
    Class(u16),
}

impl Expect {
    fn parse(s: &str) -> Option<Expect> {
        let s = s.trim();
        if let Some(c) = s.strip_suffix("xx").or_else(|| s.strip_suffix("XX")) {
            return match c.parse::<u16>() {
                Ok(n @ 1..=6) if c.len() == 1 => Some(Expect::Class(n)),
                _ => None,
            };
        }
        match s.parse::<u16>() {
            Ok(n @ 100..=699) if s.len() == 3 => Some(Expect::Code(n)),
            _ => None,
        }
    }

    fn accepts(self, code: u16) -> bool {
        match self {
            Expect::Code(c) => c == code,
            Expect::Class(c) => code / 100 == c,
        }
    }
}

/// The checked command line.
#[derive(Debug)]
pub(crate) struct Config {
    method: String,
    target: TargetSpec,
    template: Template,
    cseq: u32,
    call_id: Option<String>,
    auth: Option<AuthConfig>,
    expect: Vec<Expect>,
    dry_run: bool,
    resolve_only: bool,
    bind: Option<SocketAddr>,
    dns_server: Option<SocketAddr>,
    /// Built up front when the user gave TLS files, so their errors come before the network.
    tls: Option<ClientTls>,
    insecure: bool,
    timers: Timers,
    timeout: Option<Duration>,
    traceroute: bool,
    /// --count/--rate/--concurrency.
    load: Option<Load>,
    /// The highest Max-Forwards --traceroute tries.
    max_hops: u8,
    /// The request's size as rendered for UDP before the network (Via, tags and branch of
    /// placeholder length; an Authorization added later makes it longer).
    request_size: usize,
    test_mode: bool,
}

impl Config {
    /// Check everything that can be checked without the network.
    pub(crate) fn new(args: SendArgs, global: &GlobalArgs) -> Result<Config, Invalid> {
        if global.format == Format::Github {
            return Err(usage(
                "--format github is only accepted by `sipkit validate`",
            ));
        }
        let (method_word, target_text) = match args.words.as_slice() {
            [target] => (None, target.clone()),
            [method, target] => (Some(method.clone()), target.clone()),
            _ => return Err(usage("expected `[METHOD] TARGET`")),
        };
        let target = TargetSpec::parse(&target_text).map_err(|e| usage(e.to_string()))?;
        let mut method = method_word.clone().unwrap_or_else(|| {
            if args.text.is_some() {
                "MESSAGE".into()
            } else {
                "OPTIONS".into()
            }
        });
        if method.is_empty() || !all_token(method.as_bytes()) {
            return Err(usage(format!(
                "`{method}` is not a SIP method (a token such as OPTIONS, RFC 3261 §25.1)"
            )));
        }
        if args.text.is_some() && method != "MESSAGE" {
            return Err(usage(format!(
                "--text sends a MESSAGE, but the method given is {method}"
            )));
        }
        if args.unregister && method != "REGISTER" {
            return Err(usage("--unregister only applies to REGISTER"));
        }
        if matches!(method.as_str(), "ACK" | "CANCEL") {
            return Err(usage(format!(
                "{method} only makes sense inside an INVITE transaction; use `sipkit invite`"
            )));
        }
        if args.count.is_none() && (args.concurrency.is_some() || args.rate.is_some()) {
            let flag = if args.concurrency.is_some() {
                "--concurrency"
            } else {
                "--rate"
            };
            return Err(usage(format!(
                "{flag} shapes load mode, which --count starts: give --count N too"
            )));
        }
        // Load mode answers each INVITE's 2xx with an ACK and nothing more, so every call would
        // stay up on the callee until it gave up on it; a call is set up and ended by `invite`.
        if method == "INVITE" && args.count.is_some() {
            return Err(usage(
                "`send INVITE --count` would leave every answered call up (send sends no BYE); \
                 use `sipkit invite` for calls, or load-test with OPTIONS or MESSAGE",
            ));
        }
        let mut expect = Vec::new();
        for e in &args.expect {
            expect.push(Expect::parse(e).ok_or_else(|| {
                usage(format!(
                    "--expect takes status codes (100-699) or classes like 2xx, found `{e}`"
                ))
            })?);
        }
        let timers = sip_client::timers(&args.client, "send")?;
        let (bind, dns_server) = sip_client::addresses(&args.client, "send")?;
        let auth = auth_config(&args.client, "send")?;
        let tls = sip_client::tls_files(&args.client)?;

        let template = if let Some(path) = &args.message {
            let text = String::from_utf8(read_input(path, "the message")?).map_err(|_| {
                Invalid::Input(anyhow::anyhow!(
                    "{} is not UTF-8 text; write the message as text",
                    shown(path)
                ))
            })?;
            let mut vars = BTreeMap::new();
            for s in &args.set {
                let (name, value) = s
                    .split_once('=')
                    .filter(|(n, _)| is_var_name(n))
                    .ok_or_else(|| {
                        usage(format!(
                            "--set takes NAME=VALUE with NAME of letters, digits and _, found `{s}`"
                        ))
                    })?;
                vars.insert(name.to_string(), value.to_string());
            }
            let unknown: BTreeSet<&str> = placeholders(&text)
                .into_iter()
                .filter(|n| !BUILTIN_VARS.contains(n) && !vars.contains_key(*n))
                .collect();
            if !unknown.is_empty() {
                let list: Vec<String> = unknown.iter().map(|n| format!("${{{n}}}")).collect();
                return Err(usage(format!(
                    "unknown variable{} {} in {}; known: {}, or define with --set NAME=VALUE",
                    if list.len() == 1 { "" } else { "s" },
                    list.join(", "),
                    shown(path),
                    BUILTIN_VARS.join(", ")
                )));
            }
            let template = Template::Message {
                text,
                vars,
                raw: args.raw,
            };
            // The message must be a request whose responses can be matched (§17.1.3).
            let probe = Vars::placeholder(&target, Proto::Udp, 1);
            let bytes = render(&template, &probe, &[], &target);
            if let Err(reason) = check_request(&bytes) {
                return Err(usage(format!(
                    "{} cannot be sent after substitution: {reason}",
                    shown(path)
                )));
            }
            let written = parse_request(&bytes)
                .and_then(|m| m.method().map(str::to_string))
                .unwrap_or_default();
            if method_word.as_ref().is_some_and(|m| *m != written) {
                return Err(usage(format!(
                    "the method given ({}) differs from the message's ({written})",
                    method_word.unwrap_or_default()
                )));
            }
            method = written;
            template
        } else {
            let body = if let Some(text) = &args.text {
                Some(("text/plain".to_string(), text.clone().into_bytes()))
            } else if let Some(b) = &args.body {
                Some((default_type(&args, &method), b.clone().into_bytes()))
            } else if let Some(path) = &args.body_file {
                Some((default_type(&args, &method), read_input(path, "the body")?))
            } else {
                None
            };
            let headers = sip_client::extra_headers(&args.client, "send")?;
            let uri = match &args.client.uri {
                Some(u) => {
                    sip::Uri::parse(u, 0).map_err(|e| {
                        usage(format!("--uri `{u}` is not a SIP URI: {}", e.message))
                    })?;
                    u.clone()
                }
                None if method == "REGISTER" => registrar_uri(&target),
                None => target.request_uri(),
            };
            let expires = if args.unregister {
                Some(0)
            } else if method == "REGISTER" {
                Some(args.expires.unwrap_or(3600))
            } else {
                args.expires
            };
            Template::Parts(Box::new(Parts {
                method: method.clone(),
                user: args.client.user.clone(),
                uri,
                from: args.client.from.clone(),
                to: args.client.to.clone(),
                contact: args.client.contact.clone(),
                expires,
                unregister: args.unregister,
                max_forwards: args.client.max_forwards.unwrap_or(70),
                user_agent: args
                    .client
                    .user_agent
                    .clone()
                    .unwrap_or_else(|| format!("sipkit/{}", env!("CARGO_PKG_VERSION"))),
                headers,
                body,
            }))
        };
        let probe = Vars::placeholder(&target, Proto::Udp, 1);
        let request_size = render(&template, &probe, &[], &target).len();
        if target.proto() == Some(Proto::Udp) && request_size > MAX_DATAGRAM {
            return Err(usage(format!(
                "the request is {request_size} bytes, more than one UDP datagram holds \
                 ({MAX_DATAGRAM} bytes), and the target asks for UDP: send it over TCP \
                 (`tcp:HOST` or `;transport=tcp`)"
            )));
        }
        Ok(Config {
            request_size,
            method,
            target,
            template,
            cseq: args.client.cseq.unwrap_or(1),
            call_id: args.client.call_id.clone(),
            auth,
            expect,
            dry_run: args.dry_run,
            resolve_only: args.resolve_only,
            bind,
            dns_server,
            tls,
            insecure: args.client.insecure,
            timers,
            timeout: args.client.timeout,
            traceroute: args.traceroute,
            load: args.count.map(|count| Load {
                concurrency: args.concurrency.unwrap_or(1),
                count,
                rate: args.rate,
            }),
            max_hops: args.client.max_forwards.unwrap_or(70),
            test_mode: std::env::var_os("SIPKIT_TEST").is_some(),
        })
    }
}

fn default_type(args: &SendArgs, method: &str) -> String {
    args.content_type.clone().unwrap_or_else(|| {
        if method == "INVITE" {
            "application/sdp".into()
        } else {
            "text/plain".into()
        }
    })
}

/// The registrar's URI for REGISTER: the target without its user part (RFC 3261 §10.2).
fn registrar_uri(target: &TargetSpec) -> String {
    let uri = target.request_uri();
    match (uri.find(':'), uri.find('@')) {
        (Some(colon), Some(at)) if colon < at => format!("{}{}", &uri[..=colon], &uri[at + 1..]),
        _ => uri,
    }
}

fn is_var_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Every `${name}` in `text`, in order.
fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) => {
                out.push(&after[..j]);
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// The values of one transmission: where it leaves from and its identifiers.
#[derive(Debug, Clone)]
struct Vars {
    local: SocketAddr,
    proto: Proto,
    branch: String,
    cseq: u32,
    call_id: String,
    from_tag: String,
    max_forwards: Option<u8>,
}

impl Vars {
    /// Values for checking a --message before the network is used (--dry-run then puts in
    /// [`dry_run_local`]).
    fn placeholder(target: &TargetSpec, proto: Proto, cseq: u32) -> Vars {
        let ip = match target.ip() {
            Some(IpAddr::V6(_)) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        Vars {
            local: SocketAddr::new(ip, 5060),
            proto,
            branch: "z9hG4bK-dry-run".into(),
            cseq,
            call_id: "dry-run".into(),
            from_tag: "dry-run".into(),
            max_forwards: None,
        }
    }

    /// The local IP as it goes in a URI or Via (IPv6 in brackets).
    fn local_ip(&self) -> String {
        match self.local.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        }
    }
}

/// The bytes of one request.
fn render(
    template: &Template,
    v: &Vars,
    auth: &[(String, String)],
    target: &TargetSpec,
) -> Vec<u8> {
    match template {
        Template::Parts(p) => build_parts(p, v, auth, target),
        Template::Message { text, vars, raw } => {
            let text = substitute(text, v, vars, target);
            if *raw {
                insert_headers(text.into_bytes(), auth, false)
            } else {
                insert_headers(text.into_bytes(), auth, true)
            }
        }
    }
}

fn substitute(
    text: &str,
    v: &Vars,
    vars: &BTreeMap<String, String>,
    target: &TargetSpec,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let name = &after[..j];
        let value = match name {
            "call_id" => v.call_id.clone(),
            "branch" => v.branch.clone(),
            "from_tag" => v.from_tag.clone(),
            "local_ip" => v.local_ip(),
            "local_port" => v.local.port().to_string(),
            "transport" => v.proto.via_token().to_string(),
            "cseq" => v.cseq.to_string(),
            "target" => target.request_uri(),
            other => vars.get(other).cloned().unwrap_or_default(),
        };
        out.push_str(&value);
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}

/// Add header fields at the end of a hand-written message's head and, unless raw, repair
/// line ends (bare LF to CRLF in the head) and set Content-Length to the body's real length.
fn insert_headers(bytes: Vec<u8>, extra: &[(String, String)], fix: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body, sep) = if let Some(i) = text.find("\r\n\r\n") {
        (&text[..i], &text[i + 4..], "\r\n")
    } else if let Some(i) = text.find("\n\n") {
        (&text[..i], &text[i + 2..], "\n")
    } else {
        (text.trim_end_matches(['\r', '\n']), "", "\r\n")
    };
    if !fix && extra.is_empty() {
        return bytes;
    }
    let mut lines: Vec<String> = if fix {
        head.split('\n')
            .map(|l| l.trim_end_matches('\r').to_string())
            .filter(|l| {
                let name = l.split(':').next().unwrap_or_default().trim();
                HeaderName::from_bytes(name.as_bytes()) != HeaderName::ContentLength
            })
            .collect()
    } else {
        head.split(sep).map(str::to_string).collect()
    };
    for (n, v) in extra {
        lines.push(format!("{n}: {v}"));
    }
    if fix {
        lines.push(format!("Content-Length: {}", body.len()));
    }
    let eol = if fix { "\r\n" } else { sep };
    let mut out = lines.join(eol);
    out.push_str(eol);
    out.push_str(eol);
    out.push_str(body);
    out.into_bytes()
}

fn build_parts(p: &Parts, v: &Vars, auth: &[(String, String)], target: &TargetSpec) -> Vec<u8> {
    let method = p.method.as_str();
    let local_ip = v.local_ip();
    let domain = uri_host(target);
    let transport_param = if v.proto == Proto::Udp {
        String::new()
    } else {
        format!(";transport={}", v.proto.as_str())
    };
    let user = p.user.as_deref();
    let aor = match &user {
        Some(u) => format!("<sip:{u}@{domain}>"),
        None => format!("<sip:sipkit@{local_ip}>"),
    };
    let with_tag = |value: &str| {
        if value.contains(";tag=") {
            value.to_string()
        } else {
            format!("{value};tag={}", v.from_tag)
        }
    };
    let from = with_tag(p.from.as_deref().unwrap_or(&aor));
    let to = match &p.to {
        Some(t) => t.clone(),
        None if method == "REGISTER" => p.from.clone().unwrap_or(aor.clone()),
        None => format!("<{}>", p.uri),
    };
    let mut b = sip::build::MessageBuilder::request(method, &p.uri)
        .header(
            "Via",
            &format!(
                "SIP/2.0/{} {local_ip}:{};branch={};rport",
                v.proto.via_token(),
                v.local.port(),
                v.branch
            ),
        )
        .header(
            "Max-Forwards",
            &v.max_forwards.unwrap_or(p.max_forwards).to_string(),
        )
        .header("From", &from)
        .header("To", &to)
        .header("Call-ID", &v.call_id)
        .header("CSeq", &format!("{} {method}", v.cseq));
    if p.unregister {
        b = b.header("Contact", "*");
    } else if let Some(c) = &p.contact {
        b = b.header("Contact", c);
    } else if method != "MESSAGE" {
        // RFC 3428 §4: no Contact in MESSAGE.
        let u = user.unwrap_or("sipkit");
        b = b.header(
            "Contact",
            &format!("<sip:{u}@{local_ip}:{}{transport_param}>", v.local.port()),
        );
    }
    if let Some(e) = p.expires {
        b = b.header("Expires", &e.to_string());
    }
    for (n, val) in auth {
        b = b.header(n, val);
    }
    b = b.header("User-Agent", &p.user_agent);
    for (n, val) in &p.headers {
        b = b.header(n, val);
    }
    if let Some((ct, body)) = &p.body {
        b = b.body(ct, body.clone());
    }
    b.build()
}

/// Why a hand-written message cannot be sent, if it cannot.
fn check_request(bytes: &[u8]) -> Result<(), String> {
    let m = match sip::parse(bytes, &ParseOptions::datagram()) {
        Ok(s) => match s.complete() {
            Some((m, _)) => m,
            None => return Err("the message is incomplete".into()),
        },
        Err(e) => return Err(format!("{} at byte {} ({})", e.message, e.offset, e.rfc)),
    };
    if !m.is_request() {
        return Err("it is a response, not a request".into());
    }
    let via = m
        .top_via()
        .map_err(|e| format!("{} ({})", e.message, e.rfc))?;
    if via.branch.is_none() {
        return Err("the top Via has no branch parameter (use branch=${branch})".into());
    }
    m.cseq().map_err(|e| format!("{} ({})", e.message, e.rfc))?;
    Ok(())
}

/// What stays the same across the requests of one run: the Call-ID and From tag, and the
/// CSeq, which rises with each new request (authentication retries, traceroute hops).
#[derive(Debug)]
struct Session {
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// Max-Forwards for the next request instead of the configured one (--traceroute).
    max_forwards: Option<u8>,
}

/// How one transaction ended.
#[derive(Debug)]
enum TxEnd {
    /// A final response (its bytes) and the time since the first transmission.
    Final(Vec<u8>, Duration),
    /// Timer B/F or --timeout fired; the text says which.
    Timeout(String),
}

/// How one destination ended.
#[derive(Debug)]
enum DestEnd {
    Final(Vec<u8>, Duration),
    Timeout(String),
    Failed(TransportError),
}

/// The run in progress: the report being filled and the printer showing it.
struct Run<W: Write> {
    start: Instant,
    /// Since `start`: just before the first request was handed to the socket, and the arrival
    /// of the last final response (load-mode latency spans the two, auth rounds included).
    first_sent: Option<Duration>,
    final_at: Option<Duration>,
    output_error: Option<std::io::Error>,
    report: Report,
    printer: SendPrinter<W>,
}

impl<W: Write> Run<W> {
    fn ms(&self) -> f64 {
        millis(self.start.elapsed())
    }

    /// Show and keep one message. A failed write is remembered, not returned, so the
    /// exchange on the wire is not disturbed; [`run`] reports it at the end.
    fn message(&mut self, record: MessageRecord) {
        if let Err(e) = self.printer.emit(&SendEvent::Message(&record)) {
            self.output_error.get_or_insert(e);
        }
        self.report.messages.push(record);
    }
}

/// Run `sipkit send` with a checked configuration, showing progress on `printer`.
pub(crate) fn run<W: Write>(config: Config, mut printer: SendPrinter<W>) -> anyhow::Result<Exit> {
    printer.hops_only(config.traceroute);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut run = Run {
        start: Instant::now(),
        first_sent: None,
        final_at: None,
        output_error: None,
        report: Report {
            method: config.method.clone(),
            target: config.target.text().to_string(),
            resolution: None,
            attempts: Vec::new(),
            messages: Vec::new(),
            auth: Vec::new(),
            final_response: None,
            bindings: Vec::new(),
            hops: Vec::new(),
            load: None,
            outcome: "timeout",
            exit: Exit::Timeout.code(),
            elapsed_ms: 0.0,
            dry_run: None,
            dns_error: None,
            error: None,
        },
        printer,
    };
    let result = runtime.block_on(async {
        let interrupt = tokio::signal::ctrl_c();
        tokio::select! {
            // Load mode answers Ctrl-C itself, with the summary so far: let it go first.
            biased;
            result = execute(&config, &mut run) => result,
            _ = interrupt => Err(Stop::Interrupted(String::new())),
        }
    });
    let (exit, failure) = match result {
        Ok((exit, outcome)) => {
            run.report.outcome = outcome;
            (exit, None)
        }
        Err(Stop::Failure(exit, message)) => {
            run.report.outcome = if exit == Exit::Timeout {
                "timeout"
            } else {
                "network-error"
            };
            (exit, Some(message))
        }
        Err(Stop::Interrupted(message)) => {
            run.report.outcome = "interrupted";
            let message = if message.is_empty() {
                interrupted_message(&run.report)
            } else {
                message
            };
            (Exit::Timeout, Some(message))
        }
        Err(Stop::Other(err)) => return Err(err),
    };
    if let Some(e) = run.output_error.take() {
        return Err(anyhow::Error::new(e).context("writing to standard output"));
    }
    run.report.error.clone_from(&failure);
    run.report.exit = exit.code();
    run.report.elapsed_ms = run.ms();
    run.printer
        .finish(&run.report)
        .context("writing to standard output")?;
    match failure {
        Some(message) => Err(Failure { exit, message }.into()),
        None => Ok(exit),
    }
}

/// The reason shown when Ctrl-C ends a single request: how far it got.
fn interrupted_message(report: &Report) -> String {
    let sent = report
        .messages
        .iter()
        .filter(|m| m.direction == "sent")
        .count();
    let last = report
        .messages
        .iter()
        .rev()
        .find(|m| m.direction == "received")
        .map(|m| format!("; last response: {}", m.first_line));
    if sent == 0 {
        "interrupted (Ctrl-C) before any request was sent".to_string()
    } else {
        format!(
            "interrupted (Ctrl-C) before a final response, after {sent} transmission{}{}",
            if sent == 1 { "" } else { "s" },
            last.unwrap_or_else(|| "; no response".to_string())
        )
    }
}

async fn execute<W: Write>(
    config: &Config,
    run: &mut Run<W>,
) -> Result<(Exit, &'static str), Stop> {
    let mut ids = Ids::new(config.test_mode);
    let call_id = config.call_id.clone().unwrap_or_else(|| ids.next("call"));
    let from_tag = ids.next("tag");
    if config.dry_run {
        let mut vars =
            Vars::placeholder(&config.target, default_proto(&config.target), config.cseq);
        vars.local = dry_run_local(&config.target, config.bind);
        vars.branch = ids.branch();
        vars.call_id = call_id;
        vars.from_tag = from_tag;
        let bytes = render(&config.template, &vars, &[], &config.target);
        run.printer
            .emit(&SendEvent::DryRun(&bytes))
            .context("writing to standard output")?;
        run.report.dry_run = Some(String::from_utf8_lossy(&bytes).into_owned());
        return Ok((Exit::Success, "dry-run"));
    }
    let overall = config.timeout.map(|t| run.start + t);
    let resolution = sip_client::resolve(
        &config.target,
        config.dns_server,
        config.timeout,
        &mut run.report.dns_error,
    )
    .await?;
    run.printer
        .emit(&if config.resolve_only {
            SendEvent::ResolveOnly(&resolution)
        } else {
            SendEvent::Resolved(&resolution)
        })
        .context("writing to standard output")?;
    run.report.resolution = Some(resolution.clone());
    if config.resolve_only {
        return Ok((Exit::Success, "resolved"));
    }
    let tls = sip_client::tls_for(config.tls.as_ref(), config.insecure, &resolution)?;
    let Resolution { destinations, .. } = resolution;
    if let Some(load) = &config.load {
        let Some(dest) = destinations.first() else {
            return Err(Stop::Failure(Exit::Network, "no destination found".into()));
        };
        let (dest, _) = sized_destination(config, dest);
        return load_run(config, run, load, &dest, &tls).await;
    }
    let mut session = Session {
        call_id,
        from_tag,
        cseq: config.cseq,
        max_forwards: None,
    };
    let mut last: Option<(Exit, String)> = None;
    for (i, found) in destinations.iter().enumerate() {
        let more = i + 1 < destinations.len();
        let remaining = overall.map(|o| o.saturating_duration_since(Instant::now()));
        if remaining == Some(Duration::ZERO) {
            break;
        }
        let connect_limit = remaining
            .unwrap_or(config.timers.timeout())
            .min(config.timers.timeout());
        let (mut chosen, switched) = sized_destination(config, found);
        let mut connected = tokio::time::timeout(
            connect_limit,
            Connection::connect(&chosen, config.bind, &tls, MAX_MESSAGE),
        )
        .await;
        // §18.1.1: when TCP, chosen for size only, is refused, the request is retried over UDP.
        if switched && let Ok(Err(e)) = &connected {
            tracing::warn!("{e}; sending the request over UDP after all");
            chosen = found.clone();
            connected = tokio::time::timeout(
                connect_limit,
                Connection::connect(&chosen, config.bind, &tls, MAX_MESSAGE),
            )
            .await;
        }
        let dest = &chosen;
        let end = match connected {
            Ok(Ok(mut conn)) => {
                let local = conn.local_addr().to_string();
                let end = if config.traceroute {
                    traceroute(config, run, &mut conn, &mut ids, &mut session, overall).await?
                } else {
                    on_destination(config, run, &mut conn, &mut ids, &mut session, overall).await?
                };
                (Some(local), end)
            }
            Ok(Err(e)) if !e.is_network() => return Err(Stop::Other(e.into())),
            Ok(Err(e)) => (None, DestEnd::Failed(e)),
            Err(_) => (
                None,
                DestEnd::Timeout(format!(
                    "connecting to {dest} took longer than {:.1}s",
                    connect_limit.as_secs_f64()
                )),
            ),
        };
        let (local, end) = end;
        let (result, reason) = match &end {
            DestEnd::Final(bytes, _) => {
                let code = status_of(bytes);
                if code == 503 && more {
                    ("503", Some("503 Service Unavailable".to_string()))
                } else {
                    ("final", None)
                }
            }
            DestEnd::Timeout(why) => ("timeout", Some(why.clone())),
            DestEnd::Failed(e) => ("error", Some(e.to_string())),
        };
        run.report.attempts.push(AttemptRecord {
            destination: dest.clone(),
            local,
            result: result.to_string(),
            reason: reason.clone(),
        });
        match end {
            DestEnd::Final(bytes, rtt) if result == "final" => {
                return finish_final(config, run, &bytes, rtt).map_err(Stop::Other);
            }
            DestEnd::Final(..) => {}
            DestEnd::Timeout(why) => last = Some((Exit::Timeout, why)),
            DestEnd::Failed(e) => last = Some((Exit::Network, e.to_string())),
        }
        // After --timeout nothing more is tried: no "trying the next destination".
        if more && overall.is_none_or(|o| Instant::now() < o) {
            let why = reason.unwrap_or_default();
            run.printer
                .emit(&SendEvent::Failover {
                    from: dest,
                    reason: &why,
                })
                .context("writing to standard output")?;
        }
    }
    let (exit, why) = last.unwrap_or((
        Exit::Timeout,
        format!(
            "no final response within --timeout {:.1}s",
            config.timeout.unwrap_or_default().as_secs_f64()
        ),
    ));
    Err(Stop::Failure(exit, why))
}

/// RFC 3261 §18.1.1: a request over 1,300 bytes goes over TCP when the target allows it (it
/// named no transport, and the destination found is UDP): the same address and port over TCP,
/// `true` when switched. A target that names UDP (`udp:`, `;transport=udp`) keeps it, with a
/// warning that the datagram may be fragmented or dropped.
fn sized_destination(config: &Config, dest: &Destination) -> (Destination, bool) {
    let size = config.request_size;
    if dest.proto != Proto::Udp || size <= UDP_SIZE_LIMIT {
        return (dest.clone(), false);
    }
    if config.target.proto() == Some(Proto::Udp) {
        tracing::warn!(
            "the request is {size} bytes, over the {UDP_SIZE_LIMIT} RFC 3261 §18.1.1 allows \
             over UDP: it goes over UDP because the target asks for it, and may be fragmented \
             or dropped on the way (use `tcp:` to avoid that)"
        );
        return (dest.clone(), false);
    }
    tracing::warn!(
        "the request is {size} bytes, over {UDP_SIZE_LIMIT}: sending it over TCP to {} \
         (RFC 3261 §18.1.1)",
        dest.addr
    );
    let mut tcp = dest.clone();
    tcp.proto = Proto::Tcp;
    (tcp, true)
}

/// The local address shown by --dry-run: `--bind` when given with an IP, else the address the
/// routing table picks toward the target (a numeric one; a name is not looked up, so the
/// default route, probed toward TEST-NET-1 of RFC 5737). Connecting a UDP socket only asks the
/// kernel for a route: nothing is sent. The port is the --bind one or 5060, since the real one
/// is only chosen when the request is sent.
fn dry_run_local(target: &TargetSpec, bind: Option<SocketAddr>) -> SocketAddr {
    let port = bind.map_or(0, |b| b.port());
    let port = if port == 0 { 5060 } else { port };
    if let Some(b) = bind.filter(|b| !b.ip().is_unspecified()) {
        return SocketAddr::new(b.ip(), port);
    }
    let toward = target
        .ip()
        .unwrap_or(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    let any = match toward {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    };
    let routed = std::net::UdpSocket::bind(SocketAddr::new(any, 0))
        .and_then(|s| {
            s.connect(SocketAddr::new(toward, target.port().unwrap_or(5060)))?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(any);
    SocketAddr::new(routed, port)
}

/// Record the final response, list REGISTER bindings, and decide the exit status.
fn finish_final<W: Write>(
    config: &Config,
    run: &mut Run<W>,
    bytes: &[u8],
    rtt: Duration,
) -> anyhow::Result<(Exit, &'static str)> {
    let code = status_of(bytes);
    let line = first_line(bytes);
    let reason = line.splitn(3, ' ').nth(2).unwrap_or_default().to_string();
    run.report.final_response = Some(FinalRecord {
        status: code,
        reason,
        rtt_ms: millis(rtt),
    });
    if config.method == "REGISTER" && (200..300).contains(&code) {
        if let Ok(Some((m, _))) = sip::parse(bytes, &ParseOptions::datagram()).map(|s| s.complete())
        {
            let bindings: Vec<String> = m
                .elements(HeaderName::Contact)
                .filter_map(Result::ok)
                .map(|(s, _)| s.to_string())
                .collect();
            run.printer
                .emit(&SendEvent::Bindings(&bindings))
                .context("writing to standard output")?;
            run.report.bindings = bindings;
        }
    }
    let ok = if config.expect.is_empty() {
        (200..300).contains(&code)
    } else {
        config.expect.iter().any(|e| e.accepts(code))
    };
    Ok(if ok {
        (Exit::Success, "success")
    } else {
        (Exit::Negative, "negative")
    })
}

/// Send the request on one connection, answering challenges, until a final response, a
/// timeout or a transport failure.
#[allow(clippy::too_many_arguments)]
async fn on_destination<W: Write>(
    config: &Config,
    run: &mut Run<W>,
    conn: &mut Connection,
    ids: &mut Ids,
    session: &mut Session,
    overall: Option<Instant>,
) -> Result<DestEnd, Stop> {
    let mut challenges = sip_client::Challenges::default();
    loop {
        let vars = Vars {
            local: conn.local_addr(),
            proto: conn.proto(),
            branch: ids.branch(),
            cseq: session.cseq,
            call_id: session.call_id.clone(),
            from_tag: session.from_tag.clone(),
            max_forwards: session.max_forwards,
        };
        // Whatever happens next, a further request is a new one with the next number.
        session.cseq = session.cseq.wrapping_add(1);
        let extra = challenges.headers();
        let bytes = render(&config.template, &vars, &extra, &config.target);
        let key = match parse_request(&bytes) {
            Some(m) => Key {
                branch: m
                    .top_via()
                    .ok()
                    .and_then(|v| v.branch)
                    .unwrap_or_default()
                    .to_string(),
                method: m.cseq().map(|c| c.method.to_string()).unwrap_or_default(),
            },
            None => {
                return Err(Stop::Other(anyhow::anyhow!(
                    "the request built does not parse; this is a bug in sipkit"
                )));
            }
        };
        let end = match transact(config, run, conn, &bytes, key, overall).await {
            Ok(end) => end,
            Err(e) => return Ok(DestEnd::Failed(e)),
        };
        let (resp, rtt) = match end {
            TxEnd::Timeout(why) => return Ok(DestEnd::Timeout(why)),
            TxEnd::Final(resp, rtt) => (resp, rtt),
        };
        let Some(auth) = config.auth.as_ref() else {
            return Ok(DestEnd::Final(resp, rtt));
        };
        let Some(record) = challenges
            .answer(auth, &resp, &bytes, ids)
            .map_err(Stop::Other)?
        else {
            return Ok(DestEnd::Final(resp, rtt));
        };
        run.printer
            .emit(&SendEvent::Auth(&record))
            .context("writing to standard output")?;
        run.report.auth.push(record);
    }
}

/// One client transaction: send, retransmit on schedule, collect responses.
async fn transact<W: Write>(
    config: &Config,
    run: &mut Run<W>,
    conn: &mut Connection,
    request: &[u8],
    key: Key,
    overall: Option<Instant>,
) -> Result<TxEnd, TransportError> {
    let sender = conn.sender();
    let origin = tokio::time::Instant::from_std(run.start);
    // Round trips start just before the request is handed to the socket (issue 15): a stream's
    // send may return only once the bytes are written, and time after it is not the peer's.
    let sent_at = run.start.elapsed();
    run.first_sent.get_or_insert(sent_at);
    sender.send(request).await?;
    let rec = record("sent", millis(sent_at), conn, request, 0);
    run.message(rec);
    let is_invite = key.method == "INVITE";
    let timer_name = if is_invite { "B" } else { "F" };
    let mut tx = ClientTransaction::new(key, conn.reliable(), config.timers, sent_at);
    loop {
        // An INVITE in Proceeding has no timer of its own (§17.1.1.2); like a proxy's Timer C
        // (§16.6 item 11, more than 3 minutes), stop waiting eventually.
        let proceeding_limit = sent_at + INVITE_PROCEEDING_LIMIT;
        let mut wake = tx.next_deadline().unwrap_or(proceeding_limit);
        if let Some(o) = overall {
            wake = wake.min(o.saturating_duration_since(run.start));
        }
        tokio::select! {
            received = conn.recv() => {
                let received = received?;
                let now = run.start.elapsed();
                let data = received.data;
                let parsed = sip::parse(&data, &ParseOptions::datagram())
                    .ok()
                    .and_then(|s| s.complete())
                    .map(|(m, _)| m)
                    .filter(|m| !m.is_request());
                let Some(m) = parsed else {
                    tracing::warn!(
                        "ignoring {} bytes from {} that are not a SIP response",
                        data.len(),
                        received.from
                    );
                    continue;
                };
                let action = tx.on_response(&m, now);
                let mut rec = record("received", run.ms(), conn, &data, 0);
                rec.rtt_ms = Some(millis(now.saturating_sub(sent_at)));
                rec.stray = action == Action::NotMatched;
                if action != Action::Nothing {
                    run.message(rec);
                }
                match action {
                    Action::Final | Action::AckAndFinal => {
                        if let Some(req) = parse_request(request) {
                            if action == Action::AckAndFinal {
                                let ack = ack_for(&req, &m);
                                sender.send(&ack).await?;
                                let r = record("sent", run.ms(), conn, &ack, 0);
                                run.message(r);
                            } else if is_invite && m.status().is_some_and(|c| c < 300) {
                                let ack = ack_2xx(&req, &m);
                                sender.send(&ack).await?;
                                let r = record("sent", run.ms(), conn, &ack, 0);
                                run.message(r);
                                tracing::warn!(
                                    "the INVITE was answered {} and acknowledged: the call stays up until the other side ends it (`sipkit send` sends no BYE)",
                                    m.status().unwrap_or(200)
                                );
                            }
                        }
                        run.final_at = Some(now);
                        return Ok(TxEnd::Final(data.clone(), now.saturating_sub(sent_at)));
                    }
                    Action::Ack => {
                        if let Some(req) = parse_request(request) {
                            sender.send(&ack_for(&req, &m)).await?;
                        }
                    }
                    _ => {}
                }
            }
            () = tokio::time::sleep_until(origin + wake) => {
                let now = run.start.elapsed();
                if overall.is_some_and(|o| Instant::now() >= o) {
                    return Ok(TxEnd::Timeout(format!(
                        "no final response from {} within --timeout {:.1}s",
                        conn.destination(),
                        config.timeout.unwrap_or_default().as_secs_f64()
                    )));
                }
                if tx.next_deadline().is_none() && now >= proceeding_limit {
                    return Ok(TxEnd::Timeout(format!(
                        "no final response from {} {}s after a provisional one (use --timeout to wait less)",
                        conn.destination(),
                        INVITE_PROCEEDING_LIMIT.as_secs()
                    )));
                }
                while tx.next_deadline().is_some_and(|d| d <= now) {
                    match tx.on_timer(now) {
                        Action::Retransmit => {
                            sender.send(request).await?;
                            let r = record("sent", run.ms(), conn, request, tx.retransmissions());
                            run.message(r);
                        }
                        Action::Timeout => {
                            return Ok(TxEnd::Timeout(format!(
                                "no final response from {} after {:.1}s (Timer {timer_name}, 64*T1)",
                                conn.destination(),
                                config.timers.timeout().as_secs_f64()
                            )));
                        }
                        _ => break,
                    }
                }
            }
        }
    }
}

/// The ACK for a 2xx to an INVITE (RFC 3261 §13.2.2.4): its own transaction (a new branch),
/// sent to the remote target from the 2xx's Contact when there is one. Route sets from
/// Record-Route are not built: `send` is not a dialog user agent.
fn ack_2xx(invite: &Message<'_>, response: &Message<'_>) -> Vec<u8> {
    let ack = ack_for(invite, response);
    let mut text = String::from_utf8_lossy(&ack).into_owned();
    if let Some(branch) = invite.top_via().ok().and_then(|v| v.branch) {
        text = text.replacen(branch, &format!("{branch}-ack"), 1);
    }
    let target = response.contacts().find_map(|c| match c {
        Ok(sip::headers::Contact::Addr(a)) => Some(a.uri.raw.to_string()),
        _ => None,
    });
    if let (Some(target), Some(end)) = (target, text.find(" SIP/2.0\r\n")) {
        text = format!("ACK {target}{}", &text[end..]);
    }
    text.into_bytes()
}

/// `--traceroute`: the request with Max-Forwards 0, 1, 2... (RFC 3261 §8.1.1.6, §16.3 item 2):
/// each proxy on the path answers 483 when the count runs out there, so every hop shows
/// itself until a response other than 483 ends the walk.
async fn traceroute<W: Write>(
    config: &Config,
    run: &mut Run<W>,
    conn: &mut Connection,
    ids: &mut Ids,
    session: &mut Session,
    overall: Option<Instant>,
) -> Result<DestEnd, Stop> {
    for hop in 0..=config.max_hops {
        session.max_forwards = Some(hop);
        let end = on_destination(config, run, conn, ids, session, overall).await?;
        let DestEnd::Final(bytes, rtt) = &end else {
            return Ok(end);
        };
        let code = status_of(bytes);
        let server = sip::parse(bytes, &ParseOptions::datagram())
            .ok()
            .and_then(|s| s.complete())
            .and_then(|(m, _)| {
                ["Server", "User-Agent", "Warning"].iter().find_map(|name| {
                    m.headers_named(name)
                        .next()
                        .map(|h| String::from_utf8_lossy(h.value).into_owned())
                })
            });
        let record = HopRecord {
            max_forwards: hop,
            status: code,
            reason: first_line(bytes)
                .splitn(3, ' ')
                .nth(2)
                .unwrap_or_default()
                .to_string(),
            server,
            rtt_ms: millis(*rtt),
        };
        run.printer
            .emit(&SendEvent::Hop(&record))
            .context("writing to standard output")?;
        run.report.hops.push(record);
        if code != 483 {
            return Ok(end);
        }
    }
    Ok(DestEnd::Timeout(format!(
        "still 483 Too Many Hops with Max-Forwards {}",
        config.max_hops
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expect_accepts_codes_and_classes_only() {
        assert_eq!(Expect::parse("404"), Some(Expect::Code(404)));
        assert_eq!(Expect::parse(" 2xx"), Some(Expect::Class(2)));
        for bad in ["", "99", "700", "0200", "7xx", "2x", "abc", "20xx"] {
            assert_eq!(Expect::parse(bad), None, "{bad}");
        }
        assert!(Expect::Class(4).accepts(486));
        assert!(!Expect::Code(200).accepts(202));
    }

    #[test]
    fn placeholders_are_found_in_order_and_unterminated_ones_ignored() {
        assert_eq!(
            placeholders("a ${x} b ${call_id}${y} ${open"),
            ["x", "call_id", "y"]
        );
    }

    #[test]
    fn hand_written_heads_get_crlf_and_a_true_content_length() {
        let fixed = insert_headers(
            b"OPTIONS sip:a SIP/2.0\nl: 99\nX: 1\n\nbody\n".to_vec(),
            &[("Authorization".into(), "Digest x".into())],
            true,
        );
        assert_eq!(
            String::from_utf8(fixed).expect("utf8"),
            "OPTIONS sip:a SIP/2.0\r\nX: 1\r\nAuthorization: Digest x\r\nContent-Length: 5\r\n\r\nbody\n"
        );
        let head_only = insert_headers(b"OPTIONS sip:a SIP/2.0\r\nX: 1\r\n".to_vec(), &[], true);
        assert_eq!(
            head_only,
            b"OPTIONS sip:a SIP/2.0\r\nX: 1\r\nContent-Length: 0\r\n\r\n"
        );
        let raw = b"OPTIONS sip:a SIP/2.0\nl: 99\n\n".to_vec();
        assert_eq!(insert_headers(raw.clone(), &[], false), raw);
    }

    #[test]
    fn registrar_uri_drops_the_user() {
        let t = TargetSpec::parse("sip:alice@example.com:5080;transport=tcp").expect("target");
        assert_eq!(registrar_uri(&t), "sip:example.com:5080;transport=tcp");
        let t = TargetSpec::parse("example.com").expect("target");
        assert_eq!(registrar_uri(&t), "sip:example.com");
    }

    #[test]
    fn test_mode_ids_are_numbered_and_real_ones_differ() {
        let mut ids = Ids::new(true);
        assert_eq!(
            (ids.next("call"), ids.next("tag"), ids.branch()),
            ("call-1".into(), "tag-2".into(), "z9hG4bK-sipkit-3".into())
        );
        let mut ids = Ids::new(false);
        let (a, b) = (ids.branch(), ids.branch());
        assert!(a.starts_with("z9hG4bK") && a.len() == 39, "{a}");
        assert_ne!(a, b);
    }
}

/// The load-mode settings.
#[derive(Debug, Clone, Copy)]
struct Load {
    count: u32,
    rate: Option<f64>,
    concurrency: u32,
}

/// What happened to one load-mode request.
#[derive(Debug)]
enum Sample {
    Final(u16, Duration),
    Timeout,
    Error(String),
}

/// Load mode: `concurrency` workers, each with its own connection to `dest`, take request
/// numbers from a shared counter until `count` are done, each request a new call answered
/// through the usual transaction (retransmissions, one Digest round). Start times follow
/// `rate` when given. Only the summary is shown.
async fn load_run<W: Write>(
    config: &Config,
    run: &mut Run<W>,
    load: &Load,
    dest: &crate::transport::Destination,
    tls: &ClientTls,
) -> Result<(Exit, &'static str), Stop> {
    let next = std::cell::Cell::new(0u32);
    // Shared by the workers (one task, one thread), so a Ctrl-C still finds every result so far.
    let done = std::cell::RefCell::new(Vec::new());
    let began = Instant::now();
    let workers: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>> = (0..load
        .concurrency)
        .map(|k| {
            let (next, done) = (&next, &done);
            Box::pin(load_worker(config, load, dest, tls, k, next, done, began))
                as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>
        })
        .collect();
    let all = join_all(workers);
    tokio::pin!(all);
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    let mut progress = run.printer.progress(load.count);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let interrupted = loop {
        tokio::select! {
            _ = &mut all => break false,
            _ = &mut interrupt => break true,
            _ = tick.tick(), if progress.is_some() => {
                if let Some(p) = progress.as_mut() {
                    p.show(done.borrow().len(), began.elapsed());
                }
            }
        }
    };
    if let Some(p) = progress.as_mut() {
        p.clear();
    }
    let elapsed = began.elapsed();
    let samples = done.take();
    let mut statuses: BTreeMap<String, u32> = BTreeMap::new();
    let mut latencies: Vec<Duration> = Vec::new();
    let (mut timeouts, mut errors, mut negative) = (0u32, 0u32, 0u32);
    let mut first_error = None;
    for s in &samples {
        match s {
            Sample::Final(code, latency) => {
                *statuses.entry(code.to_string()).or_default() += 1;
                latencies.push(*latency);
                let ok = if config.expect.is_empty() {
                    (200..300).contains(code)
                } else {
                    config.expect.iter().any(|e| e.accepts(*code))
                };
                negative += u32::from(!ok);
            }
            Sample::Timeout => timeouts += 1,
            Sample::Error(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| e.clone());
            }
        }
    }
    latencies.sort();
    let record = LoadRecord {
        requests: u32::try_from(samples.len()).unwrap_or(u32::MAX),
        concurrency: load.concurrency,
        rate: load.rate,
        elapsed_ms: millis(elapsed),
        achieved_rate: samples.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        statuses,
        timeouts,
        errors,
        latency_ms: percentiles(&latencies),
    };
    run.printer
        .emit(&SendEvent::Load(&record))
        .context("writing to standard output")?;
    run.report.load = Some(record);
    if interrupted {
        return Err(Stop::Interrupted(format!(
            "interrupted (Ctrl-C) after {} of {} requests (the summary covers those)",
            samples.len(),
            load.count
        )));
    }
    if errors > 0 {
        return Err(Stop::Failure(
            Exit::Network,
            format!(
                "{errors} of {} requests failed; the first: {}",
                samples.len(),
                first_error.unwrap_or_default()
            ),
        ));
    }
    if timeouts > 0 {
        return Err(Stop::Failure(
            Exit::Timeout,
            format!(
                "{timeouts} of {} requests got no final response",
                samples.len()
            ),
        ));
    }
    Ok(if negative > 0 {
        (Exit::Negative, "negative")
    } else {
        (Exit::Success, "success")
    })
}

#[allow(clippy::too_many_arguments)]
async fn load_worker(
    config: &Config,
    load: &Load,
    dest: &crate::transport::Destination,
    tls: &ClientTls,
    k: u32,
    next: &std::cell::Cell<u32>,
    samples: &std::cell::RefCell<Vec<Sample>>,
    began: Instant,
) {
    // Messages are not shown in load mode: a quiet JSON printer on a sink renders nothing.
    let mut run = Run {
        start: began,
        first_sent: None,
        final_at: None,
        output_error: None,
        report: Report {
            method: config.method.clone(),
            target: String::new(),
            resolution: None,
            attempts: Vec::new(),
            messages: Vec::new(),
            auth: Vec::new(),
            final_response: None,
            bindings: Vec::new(),
            hops: Vec::new(),
            load: None,
            outcome: "",
            exit: 0,
            elapsed_ms: 0.0,
            dry_run: None,
            dns_error: None,
            error: None,
        },
        printer: SendPrinter::new(Format::Json, true, false, std::io::sink()),
    };
    let mut ids = Ids::new(config.test_mode);
    ids.prefix = format!("w{k}-");
    let mut conn: Option<Connection> = None;
    loop {
        let i = next.get();
        if i >= load.count {
            return;
        }
        next.set(i + 1);
        if let Some(rate) = load.rate {
            let at = began + Duration::from_secs_f64(f64::from(i) / rate);
            tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        }
        if conn.is_none() {
            let limit = config.timers.timeout();
            match tokio::time::timeout(
                limit,
                Connection::connect(dest, config.bind, tls, MAX_MESSAGE),
            )
            .await
            {
                Ok(Ok(c)) => conn = Some(c),
                Ok(Err(e)) => {
                    samples.borrow_mut().push(Sample::Error(e.to_string()));
                    continue;
                }
                Err(_) => {
                    samples
                        .borrow_mut()
                        .push(Sample::Error(format!("connecting to {dest} timed out")));
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else {
            continue;
        };
        let mut session = Session {
            call_id: config.call_id.clone().unwrap_or_else(|| ids.next("call")),
            from_tag: ids.next("tag"),
            cseq: config.cseq,
            max_forwards: None,
        };
        run.first_sent = None;
        let end = on_destination(config, &mut run, c, &mut ids, &mut session, None).await;
        let sample = match end {
            Ok(DestEnd::Final(bytes, rtt)) => {
                // From just before the first request went to the socket to the final response.
                let latency = match (run.first_sent, run.final_at) {
                    (Some(a), Some(b)) => b.saturating_sub(a),
                    _ => rtt,
                };
                Sample::Final(status_of(&bytes), latency)
            }
            Ok(DestEnd::Timeout(_)) => Sample::Timeout,
            Ok(DestEnd::Failed(e)) => {
                conn = None;
                Sample::Error(e.to_string())
            }
            Err(Stop::Failure(_, e) | Stop::Interrupted(e)) => Sample::Error(e),
            Err(Stop::Other(e)) => Sample::Error(format!("{e:#}")),
        };
        samples.borrow_mut().push(sample);
        // Memory stays bounded however many requests run.
        run.report.messages.clear();
        run.report.auth.clear();
    }
}

/// Poll every future until all are done (the workers share one task, so they may borrow).
async fn join_all<'f, T>(
    mut futures: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'f>>>,
) -> Vec<T> {
    let mut done: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (f, slot) in futures.iter_mut().zip(done.iter_mut()) {
            if slot.is_none()
                && let std::task::Poll::Ready(v) = f.as_mut().poll(cx)
            {
                *slot = Some(v);
            }
        }
        if done.iter().all(Option::is_some) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

/// Nearest-rank percentiles of sorted latencies, in milliseconds.
fn percentiles(sorted: &[Duration]) -> Option<Percentiles> {
    let n = sorted.len();
    let first = sorted.first()?;
    let last = sorted.last()?;
    let rank = |p: f64| {
        let i = ((p / 100.0) * n as f64).ceil() as usize;
        millis(sorted[i.clamp(1, n) - 1])
    };
    let total: Duration = sorted.iter().sum();
    Some(Percentiles {
        min: millis(*first),
        p50: rank(50.0),
        p90: rank(90.0),
        p99: rank(99.0),
        max: millis(*last),
        mean: millis(total / u32::try_from(n).unwrap_or(u32::MAX)),
    })
}
