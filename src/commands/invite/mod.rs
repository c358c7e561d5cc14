//! `sipkit invite TARGET` (issue #6): place one call as an RFC 3261 user agent client. The
//! INVITE carries an SDP offer (audio for a call test, MSRP for content); provisional
//! responses are shown, challenges answered once each, an unanswered call is cancelled on
//! --ring-timeout or Ctrl-C, and an answered one is acknowledged and ended with BYE inside the
//! dialog (§12, §13, §15). Locating the server, credentials and identifiers are shared with
//! `send` through [`super::sip_client`].

mod in_dialog;
mod msrp;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::sip_client::{
    self, AuthConfig, Challenges, Ids, Invalid, Stop, auth_config, first_line, millis,
    parse_request, record, shown, status_of, uri_host,
};
use crate::cli::{Format, GlobalArgs, InviteArgs};
use crate::exit::{Exit, Failure};
use crate::output::invite::{AnswerRecord, InviteEvent, InvitePrinter, SummaryRecord};
use crate::proto::sdp::{
    self, AudioCodec, Direction, MediaBuilder, SdpBuilder, Setup, encode_file_name,
};
use crate::proto::sip::build::MessageBuilder;
use crate::proto::sip::{self, HeaderName, Message, ParseOptions};
use crate::transport::transaction::{Action, ClientTransaction, Key, Timers, ack_for};
use crate::transport::{ClientTls, Connection, Proto, TargetSpec, TransportError};

/// Largest message accepted from the peer.
const MAX_MESSAGE: usize = 1 << 20;

/// How long a ringing call is waited for without --ring-timeout or --timeout, like a proxy's
/// Timer C (RFC 3261 §16.6 item 11).
const RINGING_LIMIT: Duration = Duration::from_secs(200);

/// How long each MSRP wait (connection, chunk response, Success-Report) may take without
/// --timeout.
const MSRP_TIMEOUT: Duration = Duration::from_secs(30);

/// Default chunk size through an MSRP relay: small enough for relays that hold a whole chunk
/// in one read buffer.
const RELAY_CHUNK_SIZE: usize = 4096;

fn usage(message: &str) -> Invalid {
    sip_client::usage("invite", message)
}

/// What the call carries.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    /// A call test: audio offer, no media sent.
    Audio,
    /// Text for MSRP.
    Text { content_type: String, text: String },
    /// A file for MSRP, described per RFC 5547 §6.
    File {
        path: PathBuf,
        content_type: String,
        size: u64,
        sha1: [u8; 20],
    },
    /// Standard input for MSRP.
    Stdin { content_type: String },
}

impl Content {
    fn content_type(&self) -> &str {
        match self {
            Content::Audio => "",
            Content::Text { content_type, .. }
            | Content::File { content_type, .. }
            | Content::Stdin { content_type } => content_type,
        }
    }
}

/// The checked command line.
#[derive(Debug)]
pub(crate) struct Config {
    target: TargetSpec,
    content: Content,
    msrps: bool,
    cpim: bool,
    relay: Option<String>,
    sender: crate::transport::msrp::SenderConfig,
    server_tls: Option<crate::transport::ServerTls>,
    progress: bool,
    ring_timeout: Option<Duration>,
    duration: Duration,
    uri: String,
    user: Option<String>,
    from: Option<String>,
    to: Option<String>,
    contact: Option<String>,
    call_id: Option<String>,
    cseq: u32,
    max_forwards: u8,
    user_agent: String,
    headers: Vec<(String, String)>,
    auth: Option<AuthConfig>,
    bind: Option<SocketAddr>,
    dns_server: Option<SocketAddr>,
    tls: Option<ClientTls>,
    insecure: bool,
    timers: Timers,
    timeout: Option<Duration>,
    test_mode: bool,
}

impl Config {
    /// Check everything that can be checked without the network.
    pub(crate) fn new(args: InviteArgs, global: &GlobalArgs) -> Result<Config, Invalid> {
        if global.format == Format::Github {
            return Err(usage(
                "--format github is only accepted by `sipkit validate`",
            ));
        }
        let target = TargetSpec::parse(&args.target).map_err(|e| usage(&e.to_string()))?;
        let c = &args.client;
        let timers = sip_client::timers(c, "invite")?;
        let (bind, dns_server) = sip_client::addresses(c, "invite")?;
        let auth = auth_config(c, "invite")?;
        let tls = sip_client::tls_files(c)?;
        let headers = sip_client::extra_headers(c, "invite")?;
        if let Some(t) = &args.content_type
            && sip::headers::MediaType::parse(t, 0).is_err()
        {
            return Err(usage(&format!(
                "--content-type takes a MIME type such as text/plain, found `{t}`"
            )));
        }
        let typed = |default: &str| args.content_type.clone().unwrap_or(default.to_string());
        let content = if let Some(text) = &args.text {
            Content::Text {
                content_type: typed("text/plain"),
                text: text.clone(),
            }
        } else if let Some(path) = &args.file {
            let (size, sha1) = hash_file(path).map_err(Invalid::Input)?;
            Content::File {
                path: path.clone(),
                content_type: typed("application/octet-stream"),
                size,
                sha1,
            }
        } else if args.stdin {
            Content::Stdin {
                content_type: typed("text/plain"),
            }
        } else {
            if args.content_type.is_some()
                || args.msrps
                || args.cpim
                || args.chunk_size.is_some()
                || args.no_report
                || args.relay.is_some()
            {
                return Err(usage(
                    "--content-type, --msrps, --cpim, --chunk-size, --no-report and --relay need \
                     content: --text, --file or --stdin",
                ));
            }
            Content::Audio
        };
        if let Some(r) = &args.relay
            && let Err(why) = crate::transport::msrp::relay::check_relay_uri(r)
        {
            return Err(usage(&format!(
                "--relay takes an MSRP URI such as msrps://relay.example.com:2855;tcp, \
                 found `{r}`: {why}"
            )));
        }
        // Taking an msrps connection needs a certificate: --cert and --key serve for it.
        let server_tls = match (&c.cert, &c.key, args.msrps) {
            (Some(cert), Some(key), true) => Some(
                crate::transport::ServerTls::from_pem_files(cert, key)
                    .map_err(|e| Invalid::Input(e.into()))?,
            ),
            _ => None,
        };
        let sender = crate::transport::msrp::SenderConfig {
            // Through a relay, chunks stay small unless asked otherwise: relays frame each chunk
            // in their own buffers (Kamailio 5.6's msrp module loses chunks over about 8 KB).
            chunk_size: args.chunk_size.map_or(
                if args.relay.is_some() {
                    RELAY_CHUNK_SIZE
                } else {
                    64 * 1024
                },
                |n| n as usize,
            ),
            success_report: !args.no_report,
            timeout: c.timeout.unwrap_or(MSRP_TIMEOUT),
            ..Default::default()
        };
        let uri = match &c.uri {
            Some(u) => {
                sip::Uri::parse(u, 0)
                    .map_err(|e| usage(&format!("--uri `{u}` is not a SIP URI: {}", e.message)))?;
                u.clone()
            }
            None => target.request_uri(),
        };
        Ok(Config {
            target,
            content,
            msrps: args.msrps,
            cpim: args.cpim,
            relay: args.relay.clone(),
            sender,
            server_tls,
            progress: crate::output::invite::Progress::wanted(global.quiet),
            ring_timeout: args.ring_timeout,
            duration: args.duration.unwrap_or_default(),
            uri,
            user: c.user.clone(),
            from: c.from.clone(),
            to: c.to.clone(),
            contact: c.contact.clone(),
            call_id: c.call_id.clone(),
            cseq: c.cseq.unwrap_or(1),
            max_forwards: c.max_forwards.unwrap_or(70),
            user_agent: c
                .user_agent
                .clone()
                .unwrap_or_else(|| format!("sipkit/{}", env!("CARGO_PKG_VERSION"))),
            headers,
            auth,
            bind,
            dns_server,
            tls,
            insecure: c.insecure,
            timers,
            timeout: c.timeout,
            test_mode: std::env::var_os("SIPKIT_TEST").is_some(),
        })
    }
}

/// Size and SHA-1 of a file, read in pieces so a large file is never held whole (RFC 5547 §6
/// `hash:sha-1`).
fn hash_file(path: &std::path::Path) -> anyhow::Result<(u64, [u8; 20])> {
    use sha1::Digest as _;
    use std::io::Read as _;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", shown(path)))?;
    let mut hasher = sha1::Sha1::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", shown(path)))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size = size.saturating_add(n as u64);
    }
    let mut out = [0u8; 20];
    out.copy_from_slice(hasher.finalize().as_slice());
    Ok((size, out))
}

/// Our MSRP end as the offer shows it: a=path, the m= port, a=setup, and whether the content
/// is offered wrapped in message/cpim only.
struct MsrpOffer<'a> {
    path: &'a str,
    port: u16,
    setup: Setup,
    cpim: bool,
}

/// The SDP offer for `content`, from `local` (RFC 3264 §5).
fn offer(content: &Content, msrps: bool, local: SocketAddr, ours: &MsrpOffer<'_>) -> String {
    let ip = local.ip().to_string();
    let b = SdpBuilder::new("sipkit", 1, &ip);
    let media = match content {
        Content::Audio => MediaBuilder::audio(
            49170,
            &[
                AudioCodec::Pcmu,
                AudioCodec::Pcma,
                AudioCodec::TelephoneEvent,
            ],
        ),
        _ => {
            // RFC 6135 §4.2: actpass with a listening port, or active (port 9, the discard
            // port, saying we do not listen, RFC 4145 §4). The type itself, or wrapped in
            // message/cpim (RFC 4975 §8.6 accept-wrapped-types), is what we send.
            let ty = content.content_type();
            let types: &[&str] = if ours.cpim {
                &["message/cpim"]
            } else {
                &[ty, "message/cpim"]
            };
            let m = MediaBuilder::msrp(ours.port, msrps, ours.path)
                .accept_types(types)
                .accept_wrapped_types(&[ty])
                .setup(ours.setup);
            match content {
                Content::Text { .. } | Content::Stdin { .. } => m,
                Content::File {
                    path,
                    content_type,
                    size,
                    sha1,
                } => {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "file".into());
                    let hash: Vec<String> = sha1.iter().map(|b| format!("{b:02X}")).collect();
                    // RFC 5547's filesize-value is RFC 4566's integer (POS-DIGIT *DIGIT): an
                    // empty file has no size selector; its name, type and hash describe it.
                    let size = if *size == 0 {
                        String::new()
                    } else {
                        format!(" size:{size}")
                    };
                    m.direction(Direction::SendOnly)
                        .attribute(
                            "file-selector",
                            Some(&format!(
                                "name:\"{}\" type:{content_type}{size} hash:sha-1:{}",
                                encode_file_name(&name),
                                hash.join(":")
                            )),
                        )
                        .file_transfer_id(session_of(ours.path))
                        .file_disposition("attachment")
                }
                Content::Audio => m,
            }
        }
    };
    b.media(media).build()
}

/// The session id of an MSRP URI (`msrp://host:port/ID;tcp`), for a=file-transfer-id.
fn session_of(path: &str) -> &str {
    path.rsplit('/')
        .next()
        .and_then(|s| s.split(';').next())
        .unwrap_or(path)
}

fn uri_host_of(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
        SocketAddr::V4(a) => a.ip().to_string(),
    }
}

/// What the 2xx's SDP answer says about the first media line.
fn read_answer(body: &[u8]) -> Option<AnswerRecord> {
    let sd = sdp::parse(body).ok()?;
    let m = sd.media.first()?;
    let mut rec = AnswerRecord {
        media: m.media.to_string(),
        port: m.port,
        address: sd.connection_for(m).map(|c| c.host().to_string()),
        ..AnswerRecord::default()
    };
    if m.is_msrp() {
        rec.path = m
            .path()
            .and_then(Result::ok)
            .map(|p| p.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        rec.accept_types = m
            .accept_types()
            .and_then(Result::ok)
            .map(|t| t.iter().map(|a| a.as_str().to_string()).collect())
            .unwrap_or_default();
        rec.max_size = m.max_size().and_then(Result::ok);
        rec.setup = m
            .setup()
            .and_then(Result::ok)
            .map(|s| s.as_str().to_string());
    } else {
        rec.codecs = m
            .formats
            .iter()
            .map(|f| {
                m.rtpmap_for(f)
                    .map(|r| r.encoding.to_string())
                    .unwrap_or_else(|| f.to_string())
            })
            .collect();
    }
    Some(rec)
}

/// The identifiers and headers of the call, fixed when the INVITE is first built.
#[derive(Debug, Clone)]
struct Call {
    call_id: String,
    from: String,
    to: String,
    contact: String,
    local: SocketAddr,
    proto: Proto,
}

/// The dialog the 2xx established (RFC 3261 §12.1.2).
#[derive(Debug, Clone)]
struct Dialog {
    /// The To of the 2xx, with the remote tag.
    to: String,
    /// The remote target: the 2xx's Contact.
    remote_target: String,
    /// Record-Route in reverse order: the route set of a UAC.
    route_set: Vec<String>,
}

impl Dialog {
    fn from_response(resp: &Message<'_>, request_uri: &str) -> Dialog {
        let to = resp
            .header(HeaderName::To)
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
            .unwrap_or_default();
        let remote_target = resp
            .contacts()
            .find_map(|c| match c {
                Ok(sip::headers::Contact::Addr(a)) => Some(a.uri.raw.to_string()),
                _ => None,
            })
            .unwrap_or_else(|| request_uri.to_string());
        let mut route_set: Vec<String> = resp
            .record_routes()
            .filter_map(Result::ok)
            .map(|r| format!("<{}>", r.uri.raw))
            .collect();
        route_set.reverse();
        Dialog {
            to,
            remote_target,
            route_set,
        }
    }
}

impl Call {
    fn via(&self, branch: &str) -> String {
        format!(
            "SIP/2.0/{} {}:{};branch={branch};rport",
            self.proto.via_token(),
            uri_host_of(self.local),
            self.local.port()
        )
    }

    fn invite(
        &self,
        config: &Config,
        branch: &str,
        cseq: u32,
        auth: &[(String, String)],
        sdp: &str,
    ) -> Vec<u8> {
        let mut b = MessageBuilder::request("INVITE", &config.uri)
            .header("Via", &self.via(branch))
            .header("Max-Forwards", &config.max_forwards.to_string())
            .header("From", &self.from)
            .header("To", &self.to)
            .header("Call-ID", &self.call_id)
            .header("CSeq", &format!("{cseq} INVITE"))
            .header("Contact", &self.contact)
            // What we answer inside the call (issue 15), and RFC 4028 session timers.
            .header("Allow", in_dialog::ALLOW)
            .header("Supported", "timer");
        for (n, v) in auth {
            b = b.header(n, v);
        }
        b = b.header("User-Agent", &config.user_agent);
        for (n, v) in &config.headers {
            b = b.header(n, v);
        }
        b.body("application/sdp", sdp.as_bytes().to_vec()).build()
    }

    /// A request inside the dialog (ACK for the 2xx, BYE): to the remote target through the
    /// route set (RFC 3261 §12.2.1.1; loose routing assumed, as RFC 3261 proxies do).
    fn in_dialog(
        &self,
        config: &Config,
        dialog: &Dialog,
        method: &str,
        branch: &str,
        cseq: u32,
        auth: &[(String, String)],
    ) -> Vec<u8> {
        self.in_dialog_with(config, dialog, method, branch, cseq, auth, None)
    }

    /// [`Call::in_dialog`] with a session description: a session refresh (RFC 4028 §7.4),
    /// re-INVITE or UPDATE, carrying our current SDP, Contact and the Session-Expires.
    #[allow(clippy::too_many_arguments)]
    fn in_dialog_with(
        &self,
        config: &Config,
        dialog: &Dialog,
        method: &str,
        branch: &str,
        cseq: u32,
        auth: &[(String, String)],
        refresh: Option<(&str, Duration)>,
    ) -> Vec<u8> {
        let mut b = MessageBuilder::request(method, &dialog.remote_target)
            .header("Via", &self.via(branch))
            .header("Max-Forwards", &config.max_forwards.to_string());
        for r in &dialog.route_set {
            b = b.header("Route", r);
        }
        b = b
            .header("From", &self.from)
            .header("To", &dialog.to)
            .header("Call-ID", &self.call_id)
            .header("CSeq", &format!("{cseq} {method}"));
        for (n, v) in auth {
            b = b.header(n, v);
        }
        b = b.header("User-Agent", &config.user_agent);
        match refresh {
            Some((sdp, interval)) => {
                b = b
                    .header("Contact", &self.contact)
                    .header("Allow", in_dialog::ALLOW)
                    .header("Supported", "timer")
                    .header(
                        "Session-Expires",
                        &format!("{};refresher=uac", interval.as_secs()),
                    );
                // UPDATE refreshes without an offer (RFC 4028 §7.4); a re-INVITE offers our
                // current description again.
                if method == "INVITE" {
                    b = b.body("application/sdp", sdp.as_bytes().to_vec());
                }
                b.build()
            }
            None => b.build(),
        }
    }
}

/// The CANCEL of a pending INVITE (RFC 3261 §9.1): the INVITE's Request-URI, top Via (same
/// branch), From, To, Call-ID, Route and CSeq number, method CANCEL.
fn cancel_for(invite: &Message<'_>) -> Vec<u8> {
    // The ACK of §17.1.1.3 built with the INVITE's own To has exactly these fields.
    let ack = String::from_utf8_lossy(&ack_for(invite, invite)).into_owned();
    let seq = invite.cseq().map(|c| c.seq).unwrap_or(0);
    ack.replacen("ACK ", "CANCEL ", 1)
        .replacen(
            &format!("CSeq: {seq} ACK"),
            &format!("CSeq: {seq} CANCEL"),
            1,
        )
        .into_bytes()
}

/// The run in progress.
/// Ctrl-C for the whole run: one listener, installed when the run starts, counts every SIGINT,
/// and each wait takes one. `tokio::signal::ctrl_c()` only sees signals that come after it is
/// created, so one that arrived between two phases (after the connect, before the INVITE's
/// transaction waited) was lost and the run went on to its timeout (the Ctrl-C test failed one
/// run in three under `stress-ng --cpu 2`).
#[derive(Clone, Debug)]
struct Interrupts(std::sync::Arc<InterruptState>);

#[derive(Debug, Default)]
struct InterruptState {
    received: std::sync::atomic::AtomicU64,
    taken: std::sync::atomic::AtomicU64,
    notify: tokio::sync::Notify,
}

impl Interrupts {
    /// Start listening; call inside the runtime, before anything can be interrupted.
    fn start() -> std::io::Result<Interrupts> {
        use std::sync::atomic::Ordering;
        let state = std::sync::Arc::new(InterruptState::default());
        let counter = state.clone();
        #[cfg(unix)]
        {
            let mut sigint =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
            tokio::spawn(async move {
                while sigint.recv().await.is_some() {
                    counter.received.fetch_add(1, Ordering::SeqCst);
                    counter.notify.notify_waiters();
                }
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                counter.received.fetch_add(1, Ordering::SeqCst);
                counter.notify.notify_waiters();
            }
        });
        Ok(Interrupts(state))
    }

    /// The next Ctrl-C not yet taken by another wait (at once if one is pending).
    async fn next(&self) {
        use std::sync::atomic::Ordering;
        let s = &self.0;
        loop {
            let notified = s.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let taken = s.taken.load(Ordering::SeqCst);
            if s.received.load(Ordering::SeqCst) > taken {
                if s.taken
                    .compare_exchange(taken, taken + 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            notified.await;
        }
    }
}

struct Run<W: Write> {
    start: Instant,
    interrupts: Option<Interrupts>,
    printer: InvitePrinter<W>,
    output_error: Option<std::io::Error>,
    summary: SummaryRecord,
}

impl<W: Write> Run<W> {
    /// The next Ctrl-C, as a future that does not borrow the run.
    fn ctrl_c(&self) -> impl std::future::Future<Output = ()> + use<W> {
        let interrupts = self.interrupts.clone();
        async move {
            match interrupts {
                Some(i) => i.next().await,
                None => std::future::pending().await,
            }
        }
    }

    fn ms(&self) -> f64 {
        millis(self.start.elapsed())
    }

    fn emit(&mut self, event: &InviteEvent<'_>) {
        if let Err(e) = self.printer.emit(event) {
            self.output_error.get_or_insert(e);
        }
    }

    fn message(&mut self, conn: &Connection, direction: &'static str, bytes: &[u8], retr: u32) {
        let mut rec = record(direction, self.ms(), conn, bytes, retr);
        rec.retransmission = retr;
        self.emit(&InviteEvent::Message(&rec));
    }
}

/// Run `sipkit invite` with a checked configuration.
pub(crate) fn run<W: Write>(config: Config, printer: InvitePrinter<W>) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut run = Run {
        start: Instant::now(),
        interrupts: None,
        printer,
        output_error: None,
        summary: SummaryRecord {
            target: config.target.text().to_string(),
            outcome: "timeout",
            status: None,
            reason: None,
            ringing_ms: None,
            answer_ms: None,
            held_ms: None,
            bye_status: None,
            error: None,
            dns_error: None,
            exit: Exit::Timeout.code(),
            elapsed_ms: 0.0,
        },
    };
    let result = runtime.block_on(execute(&config, &mut run));
    // A read of standard input (--stdin) may still be blocked in the runtime's blocking pool
    // after Ctrl-C: dropping the runtime would wait for EOF. Leave it behind instead.
    runtime.shutdown_background();
    let (exit, failure) = match result {
        Ok(exit) => (exit, None),
        Err(Stop::Failure(exit, message)) => {
            if run.summary.outcome == "timeout" || run.summary.outcome == "answered" {
                run.summary.outcome = match exit {
                    Exit::Timeout => "timeout",
                    Exit::Network => "network-error",
                    Exit::Negative => "refused",
                    _ => "error",
                };
            }
            run.summary.error = Some(message.clone());
            (exit, Some(message))
        }
        // Ctrl-C is handled in `execute` (CANCEL or BYE); a Stop carrying it ends like a
        // timeout: no final outcome was reached.
        Err(Stop::Interrupted(message)) => {
            let message = if message.is_empty() {
                "interrupted (Ctrl-C)".to_owned()
            } else {
                message
            };
            run.summary.outcome = "interrupted";
            run.summary.error = Some(message.clone());
            (Exit::Timeout, Some(message))
        }
        Err(Stop::Other(err)) => return Err(err),
    };
    run.summary.exit = exit.code();
    run.summary.elapsed_ms = run.ms();
    let summary = run.summary.clone();
    run.emit(&InviteEvent::Summary(&summary));
    if let Some(e) = run.output_error.take() {
        return Err(anyhow::Error::new(e).context("writing to standard output"));
    }
    run.printer.flush().context("writing to standard output")?;
    match failure {
        Some(message) => Err(Failure { exit, message }.into()),
        None => Ok(exit),
    }
}

/// Ctrl-C before the INVITE is sent (locating the server, connecting): nothing to cancel,
/// the run ends with the `interrupted` summary and README's status for an interrupted call, 1.
fn interrupted_before_invite<W: Write>(run: &mut Run<W>, doing: &str) -> Stop {
    run.summary.outcome = "interrupted";
    Stop::Failure(
        Exit::Negative,
        format!("interrupted (Ctrl-C) while {doing}; no INVITE was sent"),
    )
}

async fn execute<W: Write>(config: &Config, run: &mut Run<W>) -> Result<Exit, Stop> {
    run.interrupts = Some(
        Interrupts::start()
            .context("listening for Ctrl-C")
            .map_err(Stop::Other)?,
    );
    let mut dns_error = None;
    let resolution = tokio::select! {
        r = sip_client::resolve(&config.target, config.dns_server, config.timeout, &mut dns_error) => {
            run.summary.dns_error = dns_error;
            r?
        }
        _ = run.ctrl_c() => {
            return Err(interrupted_before_invite(
                run,
                &format!("locating {}", config.target.text()),
            ));
        }
    };
    run.emit(&InviteEvent::Resolved(&resolution));
    let tls = sip_client::tls_for(config.tls.as_ref(), config.insecure, &resolution)?;
    let mut ids = Ids::new(config.test_mode);
    let call_id = config.call_id.clone().unwrap_or_else(|| ids.next("call"));
    let from_tag = ids.next("tag");
    let mut last = (Exit::Network, "no destination found".to_string());
    let count = resolution.destinations.len();
    for (i, dest) in resolution.destinations.iter().enumerate() {
        let limit = config.timers.timeout();
        let connecting = tokio::time::timeout(
            limit,
            Connection::connect(dest, config.bind, &tls, MAX_MESSAGE),
        );
        let connected = tokio::select! {
            c = connecting => c,
            _ = run.ctrl_c() => {
                return Err(interrupted_before_invite(run, &format!("connecting to {dest}")));
            }
        };
        let conn = match connected {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) if !e.is_network() => return Err(Stop::Other(e.into())),
            Ok(Err(e)) => {
                last = (Exit::Network, e.to_string());
                if i + 1 < count {
                    run.emit(&InviteEvent::Failover {
                        from: dest,
                        reason: &last.1,
                    });
                }
                continue;
            }
            Err(_) => {
                last = (
                    Exit::Timeout,
                    format!(
                        "connecting to {dest} took longer than {:.1}s",
                        limit.as_secs_f64()
                    ),
                );
                continue;
            }
        };
        let call = Call {
            call_id: call_id.clone(),
            from: format!(
                "{};tag={from_tag}",
                config.from.clone().unwrap_or_else(|| match &config.user {
                    Some(u) => format!("<sip:{u}@{}>", uri_host(&config.target)),
                    None => format!("<sip:sipkit@{}>", uri_host_of(conn.local_addr())),
                })
            ),
            to: config
                .to
                .clone()
                .unwrap_or_else(|| format!("<{}>", config.uri)),
            contact: config.contact.clone().unwrap_or_else(|| {
                let transport = if conn.proto() == Proto::Udp {
                    String::new()
                } else {
                    format!(";transport={}", conn.proto().as_str())
                };
                format!(
                    "<sip:{}@{}:{}{transport}>",
                    config.user.as_deref().unwrap_or("sipkit"),
                    uri_host_of(conn.local_addr()),
                    conn.local_addr().port()
                )
            }),
            local: conn.local_addr(),
            proto: conn.proto(),
        };
        return place_call(config, run, conn, &call, &mut ids).await;
    }
    Err(Stop::Failure(last.0, last.1))
}

/// How the INVITE transaction ended.
enum InviteEnd {
    /// A 2xx: the response, and whether we had sent CANCEL (the 200/CANCEL race).
    Answered(Vec<u8>, Vec<u8>),
    /// A 3xx-6xx (already acknowledged by the transaction).
    Rejected(Vec<u8>, Vec<u8>),
}

/// Why the INVITE was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CancelReason {
    RingTimeout,
    Interrupted,
}

/// INVITE (answering challenges), then ACK, hold, BYE.
async fn place_call<W: Write>(
    config: &Config,
    run: &mut Run<W>,
    mut conn: Connection,
    call: &Call,
    ids: &mut Ids,
) -> Result<Exit, Stop> {
    let msrp_local = match config.content {
        Content::Audio => None,
        _ => Some(
            msrp::prepare(
                call.local.ip(),
                &crate::transport::msrp::new_session_id(),
                config.msrps,
                config.server_tls.clone(),
                relay_plan(config)?.as_ref(),
            )
            .await?,
        ),
    };
    if let Some(r) = msrp_local.as_ref().and_then(msrp::Local::relay_record) {
        run.emit(&InviteEvent::Relay(&r));
    }
    let ours = match &msrp_local {
        Some(l) => MsrpOffer {
            path: &l.path,
            port: l.port,
            setup: l.setup,
            cpim: config.cpim,
        },
        None => MsrpOffer {
            path: "",
            port: 9,
            setup: Setup::Active,
            cpim: false,
        },
    };
    let sdp = offer(&config.content, config.msrps, call.local, &ours);
    let mut challenges = Challenges::default();
    let mut cseq = config.cseq;
    let invite_start = run.start.elapsed();
    let mut cancelled: Option<CancelReason> = None;
    let (request, response) = loop {
        let branch = ids.branch();
        let request = call.invite(config, &branch, cseq, &challenges.headers(), &sdp);
        let end = invite_transaction(
            config,
            run,
            &mut conn,
            &request,
            invite_start,
            &mut cancelled,
        )
        .await?;
        match end {
            InviteEnd::Answered(req, resp) => break (req, resp),
            InviteEnd::Rejected(req, resp) => {
                if let (Some(auth), None) = (&config.auth, cancelled)
                    && let Some(rec) = challenges
                        .answer(auth, &resp, &req, ids)
                        .map_err(Stop::Other)?
                {
                    run.emit(&InviteEvent::Auth(&rec));
                    cseq = cseq.wrapping_add(1);
                    continue;
                }
                let code = status_of(&resp);
                let reason = reason_of(&resp);
                run.summary.status = Some(code);
                run.summary.reason = Some(reason.clone());
                return match cancelled {
                    Some(CancelReason::RingTimeout) => {
                        run.summary.outcome = "cancelled";
                        Err(Stop::Failure(
                            Exit::Timeout,
                            format!(
                                "no answer within --ring-timeout {:.1}s; cancelled ({code} {reason})",
                                config.ring_timeout.unwrap_or_default().as_secs_f64()
                            ),
                        ))
                    }
                    Some(CancelReason::Interrupted) => {
                        run.summary.outcome = "interrupted";
                        Err(Stop::Failure(
                            Exit::Negative,
                            "interrupted; the call was cancelled".into(),
                        ))
                    }
                    None => {
                        run.summary.outcome = "rejected";
                        Err(Stop::Failure(
                            Exit::Negative,
                            format!("{} rejected the call: {code} {reason}", conn.destination()),
                        ))
                    }
                };
            }
        }
    };
    let Some(invite) = parse_request(&request) else {
        return Err(Stop::Other(anyhow::anyhow!(
            "the INVITE built does not parse; this is a bug in sipkit"
        )));
    };
    let Ok(Some((resp, _))) =
        sip::parse(&response, &ParseOptions::datagram()).map(|s| s.complete())
    else {
        return Err(Stop::Other(anyhow::anyhow!("the 2xx no longer parses")));
    };
    run.summary.status = resp.status();
    run.summary.reason = Some(reason_of(&response));
    run.summary.answer_ms = Some(millis(run.start.elapsed().saturating_sub(invite_start)));
    if cancelled.is_none() {
        run.summary.outcome = "answered";
    }
    let dialog = Dialog::from_response(&resp, &config.uri);
    // The ACK of a 2xx is its own transaction with a new branch (RFC 3261 §13.2.2.4).
    let ack_branch = ids.branch();
    let ack = call.in_dialog(config, &dialog, "ACK", &ack_branch, cseq, &[]);
    let _ = invite;
    send(run, &conn, &ack).await?;
    let held_from = run.start.elapsed();
    // From here the callee's requests are answered (issue 15): re-INVITE and UPDATE with our
    // current SDP, INFO, OPTIONS, NOTIFY, MESSAGE with 200, BYE, anything else 501.
    let mut uas = in_dialog::InDialog::new(&call.call_id, &call.contact, &sdp, (cseq, ack.clone()));
    let mut timer = in_dialog::timer_of_answer(&resp);
    let peer_updates = resp.headers_of(HeaderName::Allow).any(|h| {
        String::from_utf8_lossy(h.value)
            .split(',')
            .any(|m| m.trim().eq_ignore_ascii_case("UPDATE"))
    });
    let answer = read_answer(resp.body);
    if let Some(a) = &answer {
        run.emit(&InviteEvent::Answer(a));
    }
    // The content goes out before anything else happens in the call. Meanwhile the SIP side is
    // still served: a retransmitted 2xx gets the ACK again, a BYE from the callee is answered
    // 200 and ends the transfer; those messages are shown once the transfer has stopped (the
    // transfer owns the printer), with the times they happened. Ctrl-C drops the transfer (the
    // MSRP connection closes, nothing more is sent) and the call still ends with BYE below.
    let mut interrupted = false;
    let mut peer_hung_up = false;
    let mut meanwhile: Vec<Meanwhile> = Vec::new();
    let start = run.start;
    let delivered = match msrp_local {
        Some(local) if cancelled.is_none() => {
            let ctrl_c = run.ctrl_c();
            tokio::pin!(ctrl_c);
            let transfer = deliver(config, run, call, local, answer.as_ref());
            tokio::pin!(transfer);
            loop {
                tokio::select! {
                    d = &mut transfer => break Some(d),
                    _ = &mut ctrl_c => {
                        interrupted = true;
                        break Some(Err(Stop::Failure(
                            Exit::Negative,
                            "interrupted during the MSRP transfer: the content was not \
                             confirmed delivered; the call was ended with BYE"
                                .into(),
                        )));
                    }
                    received = conn.recv() => {
                        let received = received.map_err(net)?;
                        meanwhile.push(Meanwhile::Message("received", millis(start.elapsed()), received.data.to_vec()));
                        let handled = uas.handle(&received.data);
                        if let Some(t) = handled.timer {
                            timer = Some(t);
                        }
                        let Some(reply) = handled.reply else {
                            continue;
                        };
                        conn.send(&reply).await.map_err(net)?;
                        meanwhile.push(Meanwhile::Message("sent", millis(start.elapsed()), reply.clone()));
                        if let Some(r) = handled.record {
                            meanwhile.push(Meanwhile::InDialog(r));
                        }
                        if handled.hung_up {
                            peer_hung_up = true;
                            break Some(Err(Stop::Failure(
                                Exit::Negative,
                                "the callee ended the call (BYE) during the MSRP transfer: the \
                                 content was not confirmed delivered"
                                    .into(),
                            )));
                        }
                    }
                }
            }
        }
        _ => None,
    };
    for m in meanwhile {
        match m {
            Meanwhile::Message(direction, at_ms, bytes) => {
                let rec = record(direction, at_ms, &conn, &bytes, 0);
                run.emit(&InviteEvent::Message(&rec));
            }
            Meanwhile::InDialog(r) => run.emit(&InviteEvent::InDialog(&r)),
        }
    }
    // Hold: answer the callee's requests and 2xx retransmissions, and refresh the session when
    // we are the refresher (RFC 4028 §10: at half the interval).
    let hold = if cancelled.is_some() || interrupted {
        Duration::ZERO
    } else {
        config.duration
    };
    let hold_end = tokio::time::Instant::now() + hold;
    let origin = tokio::time::Instant::from_std(run.start);
    let mut local_cseq = cseq;
    let next_refresh = |t: Option<in_dialog::SessionTimer>| {
        t.filter(|t| t.we_refresh)
            .map(|t| tokio::time::Instant::now() + t.refresh_after())
    };
    let mut refresh_at = next_refresh(timer);
    let mut refreshing: Option<(Vec<u8>, ClientTransaction)> = None;
    // Our 2xx to a re-INVITE, sent again until its ACK (RFC 3261 §13.3.1.4): when next, the
    // interval, and when to give up (64·T1).
    let mut resend_2xx: Option<(Duration, Duration, Duration)> = None;
    let t1 = config.timers.t1;
    while !peer_hung_up {
        if uas.unacked.is_none() || conn.reliable() {
            resend_2xx = None;
        } else if resend_2xx.is_none() {
            let now = run.start.elapsed();
            resend_2xx = Some((now + t1, t1, now + 64 * t1));
        }
        let mut wake = hold_end;
        if let Some((next, ..)) = resend_2xx {
            wake = wake.min(origin + next);
        }
        match &refreshing {
            Some((_, tx)) => {
                if let Some(d) = tx.next_deadline() {
                    wake = wake.min(origin + d);
                }
            }
            None => {
                if let Some(r) = refresh_at {
                    wake = wake.min(r);
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {
                if tokio::time::Instant::now() >= hold_end {
                    break;
                }
                let now = run.start.elapsed();
                if let Some((next, interval, give_up)) = resend_2xx
                    && now >= next
                {
                    if now >= give_up {
                        tracing::warn!("no ACK for our 2xx to the callee's re-INVITE after 64*T1");
                        uas.unacked = None;
                    } else if let Some((_, bytes)) = uas.unacked.clone() {
                        conn.send(&bytes).await.map_err(net)?;
                        let interval = (interval * 2).min(config.timers.t2);
                        resend_2xx = Some((now + interval, interval, give_up));
                        run.message(&conn, "sent", &bytes, 1);
                    }
                }
                if let Some((request, tx)) = refreshing.as_mut() {
                    while tx.next_deadline().is_some_and(|d| d <= now) {
                        match tx.on_timer(now) {
                            Action::Retransmit => {
                                conn.send(request).await.map_err(net)?;
                                run.message(&conn, "sent", request, tx.retransmissions());
                            }
                            Action::Timeout => {
                                tracing::warn!("no response to our session refresh (Timer B/F)");
                                refreshing = None;
                                uas.our_invite_pending = false;
                                refresh_at = next_refresh(timer);
                                break;
                            }
                            _ => break,
                        }
                    }
                } else if let Some(t) = timer.filter(|_| refresh_at.is_some_and(|r| tokio::time::Instant::now() >= r)) {
                    let method = if peer_updates { "UPDATE" } else { "INVITE" };
                    local_cseq = local_cseq.wrapping_add(1);
                    let branch = ids.branch();
                    let request = call.in_dialog_with(config, &dialog, method, &branch, local_cseq, &[], Some((uas.sdp(), t.interval)));
                    send(run, &conn, &request).await?;
                    uas.our_invite_pending = method == "INVITE";
                    let tx = ClientTransaction::new(key_of(&request), conn.reliable(), config.timers, run.start.elapsed());
                    refreshing = Some((request, tx));
                    refresh_at = None;
                }
            }
            _ = run.ctrl_c() => { interrupted = true; break; }
            received = conn.recv() => {
                let received = received.map_err(net)?;
                let now = run.start.elapsed();
                let ours = refreshing.as_mut().and_then(|(request, tx)| {
                    let m = sip::parse(&received.data, &ParseOptions::datagram()).ok()?.complete()?.0;
                    (!m.is_request() && tx.key().matches(&m)).then(|| {
                        let action = tx.on_response(&m, now);
                        let ack = match (action, parse_request(request)) {
                            (Action::AckAndFinal | Action::Ack, Some(req)) => Some(ack_for(&req, &m)),
                            _ => None,
                        };
                        (action, m.status().unwrap_or(0), ack)
                    })
                });
                if let Some((action, status, ack)) = ours {
                    if action != Action::Nothing {
                        run.message(&conn, "received", &received.data, 0);
                    }
                    if let Some(ack) = ack {
                        send(run, &conn, &ack).await?;
                    }
                    if matches!(action, Action::Final | Action::AckAndFinal) {
                        let method = if uas.our_invite_pending { "INVITE" } else { "UPDATE" };
                        if uas.our_invite_pending && (200..300).contains(&status) {
                            // The 2xx of a re-INVITE is ACKed by us, in a new transaction.
                            let ack = call.in_dialog(config, &dialog, "ACK", &ids.branch(), local_cseq, &[]);
                            send(run, &conn, &ack).await?;
                            uas.add_ack(local_cseq, ack);
                        }
                        run.emit(&InviteEvent::Refreshed { method, status });
                        refreshing = None;
                        uas.our_invite_pending = false;
                        refresh_at = next_refresh(timer);
                    }
                    continue;
                }
                run.message(&conn, "received", &received.data, 0);
                let handled = uas.handle(&received.data);
                if let Some(reply) = handled.reply {
                    send(run, &conn, &reply).await?;
                }
                if let Some(r) = &handled.record {
                    run.emit(&InviteEvent::InDialog(r));
                }
                if let Some(t) = handled.timer {
                    timer = Some(t);
                    if refreshing.is_none() {
                        refresh_at = next_refresh(timer);
                    }
                }
                peer_hung_up |= handled.hung_up;
            }
        }
    }
    run.summary.held_ms = Some(millis(run.start.elapsed().saturating_sub(held_from)));
    if !peer_hung_up {
        let ended = bye(
            config, run, &mut conn, call, &dialog, local_cseq, ids, &mut uas,
        )
        .await;
        // A failed transfer is the news; the BYE after it is only tidying up.
        if !matches!(delivered, Some(Err(_))) {
            ended?;
        }
    }
    match delivered {
        Some(Err(stop)) => {
            if interrupted {
                run.summary.outcome = "interrupted";
            } else if let Stop::Failure(Exit::Negative, _) = &stop {
                run.summary.outcome = "refused";
            }
            return Err(stop);
        }
        Some(Ok(_)) if cancelled.is_none() && !interrupted => {
            run.summary.outcome = "delivered";
        }
        _ => {}
    }
    match cancelled {
        Some(CancelReason::RingTimeout) => {
            run.summary.outcome = "cancelled";
            Err(Stop::Failure(
                Exit::Timeout,
                "the call was answered after CANCEL was sent; acknowledged and ended with BYE"
                    .into(),
            ))
        }
        Some(CancelReason::Interrupted) => {
            run.summary.outcome = "interrupted";
            Err(Stop::Failure(Exit::Negative, "interrupted".into()))
        }
        None if interrupted => {
            run.summary.outcome = "interrupted";
            Err(Stop::Failure(
                Exit::Negative,
                "interrupted; the call was ended with BYE".into(),
            ))
        }
        None => Ok(Exit::Success),
    }
}

/// Send the content over the MSRP session the answer describes.
async fn deliver<W: Write>(
    config: &Config,
    run: &mut Run<W>,
    call: &Call,
    local: msrp::Local,
    answer: Option<&AnswerRecord>,
) -> Result<bool, Stop> {
    let Some(answer) = answer.filter(|a| a.media == "message" && a.port != 0 && !a.path.is_empty())
    else {
        return Err(Stop::Failure(
            Exit::Negative,
            "the callee answered without an MSRP stream (no m=message line with a port and a=path); \
             nothing was sent"
                .into(),
        ));
    };
    let cpim = msrp::must_wrap(config.cpim, answer, config.content.content_type()).then(|| {
        crate::transport::msrp::CpimEnvelope {
            from: cpim_addr(&call.from),
            to: cpim_addr(&call.to),
            date_time: if config.test_mode {
                String::new()
            } else {
                msrp::now_rfc3339()
            },
        }
    });
    let client_tls = client_tls(config, config.msrps)?;
    msrp::transfer(
        run,
        local,
        answer,
        msrp::Plan {
            content: &config.content,
            cpim,
            sender: config.sender.clone(),
            client_tls,
            progress: config.progress,
        },
    )
    .await
}

/// The TLS client configuration for an msrps connection (to the callee or to our relay).
fn client_tls(config: &Config, msrps: bool) -> Result<Option<ClientTls>, Stop> {
    Ok(match &config.tls {
        Some(t) => Some(t.clone()),
        None if msrps => Some(
            ClientTls::new(None, config.insecure, None, None).map_err(|e| Stop::Other(e.into()))?,
        ),
        None => None,
    })
}

/// What `--relay` asks of [`msrp::prepare`]: the relay, the SIP credentials, TLS for msrps.
fn relay_plan(config: &Config) -> Result<Option<msrp::RelayPlan<'_>>, Stop> {
    let Some(uri) = config.relay.as_deref() else {
        return Ok(None);
    };
    Ok(Some(msrp::RelayPlan {
        uri,
        credentials: config
            .auth
            .as_ref()
            .map(|a| crate::transport::msrp::RelayCredentials {
                user: &a.user,
                secret: a.secret.as_secret(),
                algorithm: a.algorithm,
            }),
        tls: client_tls(config, uri.starts_with("msrps:"))?,
        timeout: config.sender.timeout,
    }))
}

/// A From/To header value as a CPIM address (RFC 3862 §3.2): the name-addr up to `>`, without
/// the SIP tag.
fn cpim_addr(value: &str) -> String {
    match value.find('>') {
        Some(i) => value.get(..=i).unwrap_or(value).to_owned(),
        None => format!("<{}>", value.split(';').next().unwrap_or(value).trim()),
    }
}

fn net(e: TransportError) -> Stop {
    Stop::Failure(Exit::Network, e.to_string())
}

fn reason_of(resp: &[u8]) -> String {
    first_line(resp)
        .splitn(3, ' ')
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

/// What happened on the SIP side while the transfer owned the printer.
enum Meanwhile {
    Message(&'static str, f64, Vec<u8>),
    InDialog(crate::output::invite::InDialogRecord),
}

async fn send<W: Write>(run: &mut Run<W>, conn: &Connection, bytes: &[u8]) -> Result<(), Stop> {
    conn.send(bytes).await.map_err(net)?;
    run.message(conn, "sent", bytes, 0);
    Ok(())
}

fn key_of(request: &[u8]) -> Key {
    let m = parse_request(request);
    Key {
        branch: m
            .as_ref()
            .and_then(|m| m.top_via().ok())
            .and_then(|v| v.branch)
            .unwrap_or_default()
            .to_string(),
        method: m
            .as_ref()
            .and_then(|m| m.cseq().ok())
            .map(|c| c.method.to_string())
            .unwrap_or_default(),
    }
}

/// The INVITE client transaction (RFC 3261 §17.1.1), with CANCEL sent on --ring-timeout or
/// Ctrl-C once a provisional response has come (§9.1: not before).
async fn invite_transaction<W: Write>(
    config: &Config,
    run: &mut Run<W>,
    conn: &mut Connection,
    request: &[u8],
    invite_start: Duration,
    cancelled: &mut Option<CancelReason>,
) -> Result<InviteEnd, Stop> {
    let origin = tokio::time::Instant::from_std(run.start);
    let sender = conn.sender();
    // Times start just before the request is handed to the socket (issue 15).
    let sent_at = run.start.elapsed();
    sender.send(request).await.map_err(net)?;
    run.message(conn, "sent", request, 0);
    let mut tx = ClientTransaction::new(key_of(request), conn.reliable(), config.timers, sent_at);
    let cancel = parse_request(request)
        .map(|m| cancel_for(&m))
        .unwrap_or_default();
    let mut cancel_tx: Option<ClientTransaction> = None;
    let mut want_cancel: Option<CancelReason> = None;
    let mut provisional = false;
    // Ctrl-C before any provisional response (RFC 3261 §9.1: no CANCEL yet): when it came.
    // Retransmissions stop and a late 1xx is waited for LATE_PROVISIONAL, to be cancelled.
    let mut given_up: Option<Duration> = None;
    let ring_deadline = config.ring_timeout.map(|t| invite_start + t);
    let overall = config.timeout;
    loop {
        let mut wake = match given_up {
            Some(at) if !provisional => at + LATE_PROVISIONAL,
            _ => tx.next_deadline().unwrap_or(sent_at + RINGING_LIMIT),
        };
        if let Some(c) = cancel_tx
            .as_ref()
            .and_then(ClientTransaction::next_deadline)
        {
            wake = wake.min(c);
        }
        if want_cancel.is_none()
            && let Some(r) = ring_deadline
        {
            wake = wake.min(r);
        }
        if let Some(o) = overall {
            wake = wake.min(o);
        }
        tokio::select! {
            received = conn.recv() => {
                let received = received.map_err(net)?;
                let now = run.start.elapsed();
                let data = received.data;
                let Some(m) = sip::parse(&data, &ParseOptions::datagram())
                    .ok()
                    .and_then(|s| s.complete())
                    .map(|(m, _)| m)
                    .filter(|m| !m.is_request())
                else {
                    tracing::warn!("ignoring {} bytes from {} that are not a SIP response", data.len(), received.from);
                    continue;
                };
                if let Some(ctx) = cancel_tx.as_mut()
                    && ctx.key().matches(&m)
                {
                    if ctx.on_response(&m, now) != Action::Nothing {
                        run.message(conn, "received", &data, 0);
                    }
                    continue;
                }
                let action = tx.on_response(&m, now);
                if action != Action::Nothing {
                    run.message(conn, "received", &data, 0);
                }
                match action {
                    Action::Provisional => {
                        provisional = true;
                        let code = m.status().unwrap_or(0);
                        if (180..=183).contains(&code) && run.summary.ringing_ms.is_none() {
                            run.summary.ringing_ms = Some(millis(now.saturating_sub(invite_start)));
                        }
                    }
                    Action::Final => {
                        // A 2xx after Ctrl-C (CANCEL sent or not): acknowledged, then BYE.
                        if want_cancel == Some(CancelReason::Interrupted) {
                            cancelled.get_or_insert(CancelReason::Interrupted);
                        }
                        return Ok(InviteEnd::Answered(request.to_vec(), data.clone()));
                    }
                    Action::AckAndFinal => {
                        if want_cancel == Some(CancelReason::Interrupted) {
                            cancelled.get_or_insert(CancelReason::Interrupted);
                        }
                        if let Some(req) = parse_request(request) {
                            let ack = ack_for(&req, &m);
                            sender.send(&ack).await.map_err(net)?;
                            run.message(conn, "sent", &ack, 0);
                        }
                        return Ok(InviteEnd::Rejected(request.to_vec(), data.clone()));
                    }
                    _ => {}
                }
            }
            _ = run.ctrl_c(), if want_cancel.is_none() || given_up.is_some() => {
                if given_up.is_some() {
                    // A second Ctrl-C while waiting for a late 1xx: end now.
                    return Err(interrupted_unanswered(run, tx.retransmissions()));
                }
                want_cancel = Some(CancelReason::Interrupted);
                if !provisional {
                    given_up = Some(run.start.elapsed());
                }
            }
            () = tokio::time::sleep_until(origin + wake) => {
                let now = run.start.elapsed();
                if let Some(at) = given_up
                    && !provisional
                {
                    if now >= at + LATE_PROVISIONAL {
                        return Err(interrupted_unanswered(run, tx.retransmissions()));
                    }
                    continue;
                }
                if want_cancel.is_none() && ring_deadline.is_some_and(|r| now >= r) {
                    want_cancel = Some(CancelReason::RingTimeout);
                }
                if overall.is_some_and(|o| now >= o) {
                    return Err(Stop::Failure(Exit::Timeout, format!(
                        "no final response within --timeout {:.1}s",
                        overall.unwrap_or_default().as_secs_f64()
                    )));
                }
                if tx.next_deadline().is_none() && now >= sent_at + RINGING_LIMIT {
                    return Err(Stop::Failure(Exit::Timeout, format!(
                        "no answer {}s after the call started ringing (use --ring-timeout)",
                        RINGING_LIMIT.as_secs()
                    )));
                }
                while tx.next_deadline().is_some_and(|d| d <= now) {
                    match tx.on_timer(now) {
                        Action::Retransmit => {
                            sender.send(request).await.map_err(net)?;
                            run.message(conn, "sent", request, tx.retransmissions());
                        }
                        Action::Timeout => {
                            return Err(Stop::Failure(Exit::Timeout, format!(
                                "no final response from {} after {:.1}s (Timer B, 64*T1)",
                                conn.destination(),
                                config.timers.timeout().as_secs_f64()
                            )));
                        }
                        _ => break,
                    }
                }
                if let Some(ctx) = cancel_tx.as_mut() {
                    while ctx.next_deadline().is_some_and(|d| d <= now) {
                        if ctx.on_timer(now) == Action::Retransmit {
                            sender.send(&cancel).await.map_err(net)?;
                            run.message(conn, "sent", &cancel, ctx.retransmissions());
                        } else {
                            cancel_tx = None;
                            break;
                        }
                    }
                }
            }
        }
        if let Some(reason) = want_cancel
            && provisional
            && cancelled.is_none()
        {
            sender.send(&cancel).await.map_err(net)?;
            run.message(conn, "sent", &cancel, 0);
            cancel_tx = Some(ClientTransaction::new(
                key_of(&cancel),
                conn.reliable(),
                config.timers,
                run.start.elapsed(),
            ));
            *cancelled = Some(reason);
        }
    }
}

/// How long Ctrl-C before any provisional response waits for a late one to CANCEL: a few
/// round trips, short enough to feel immediate.
const LATE_PROVISIONAL: Duration = Duration::from_millis(500);

/// Ctrl-C ended an INVITE nothing had answered yet (RFC 3261 §9.1: no CANCEL is possible
/// before a provisional response): stop, with the `interrupted` summary.
fn interrupted_unanswered<W: Write>(run: &mut Run<W>, retransmissions: u32) -> Stop {
    run.summary.outcome = "interrupted";
    let sent = retransmissions + 1;
    Stop::Failure(
        Exit::Negative,
        format!(
            "interrupted (Ctrl-C) before any response to the INVITE (sent {sent} time{}); \
             nothing to cancel (RFC 3261 §9.1)",
            if sent == 1 { "" } else { "s" }
        ),
    )
}

/// End the call with BYE (RFC 3261 §15.1.1): a new non-INVITE transaction in the dialog,
/// answering one challenge per round like the INVITE.
#[allow(clippy::too_many_arguments)]
async fn bye<W: Write>(
    config: &Config,
    run: &mut Run<W>,
    conn: &mut Connection,
    call: &Call,
    dialog: &Dialog,
    invite_cseq: u32,
    ids: &mut Ids,
    uas: &mut in_dialog::InDialog,
) -> Result<(), Stop> {
    // The INVITE's credentials hash the INVITE; the BYE starts bare and answers its own
    // challenge (re-using the cached challenge with nc=2, RFC 3261 §22.3, is not done yet).
    let mut challenges = Challenges::default();
    let origin = tokio::time::Instant::from_std(run.start);
    let mut cseq = invite_cseq.wrapping_add(1);
    loop {
        let branch = ids.branch();
        let request = call.in_dialog(config, dialog, "BYE", &branch, cseq, &challenges.headers());
        send(run, conn, &request).await?;
        let mut tx = ClientTransaction::new(
            key_of(&request),
            conn.reliable(),
            config.timers,
            run.start.elapsed(),
        );
        let response = loop {
            let wake = tx.next_deadline().unwrap_or(Duration::ZERO);
            tokio::select! {
                received = conn.recv() => {
                    let received = received.map_err(net)?;
                    let now = run.start.elapsed();
                    let Some(m) = sip::parse(&received.data, &ParseOptions::datagram())
                        .ok()
                        .and_then(|s| s.complete())
                        .map(|(m, _)| m)
                    else {
                        continue;
                    };
                    if m.is_request() {
                        // The callee's requests are still answered (its BYE crossing ours: 200).
                        run.message(conn, "received", &received.data, 0);
                        let handled = uas.handle(&received.data);
                        if let Some(reply) = handled.reply {
                            conn.send(&reply).await.map_err(net)?;
                            run.message(conn, "sent", &reply, 0);
                        }
                        if let Some(r) = &handled.record {
                            run.emit(&InviteEvent::InDialog(r));
                        }
                        continue;
                    }
                    let action = tx.on_response(&m, now);
                    if action != Action::Nothing {
                        run.message(conn, "received", &received.data, 0);
                    }
                    if action == Action::Final {
                        break received.data.clone();
                    }
                }
                () = tokio::time::sleep_until(origin + wake) => {
                    let now = run.start.elapsed();
                    match tx.on_timer(now) {
                        Action::Retransmit => {
                            conn.send(&request).await.map_err(net)?;
                            run.message(conn, "sent", &request, tx.retransmissions());
                        }
                        Action::Timeout | Action::Terminated => {
                            return Err(Stop::Failure(
                                Exit::Timeout,
                                format!(
                                    "no response to the BYE from {} after {:.1}s (Timer F, 64*T1)",
                                    conn.destination(),
                                    config.timers.timeout().as_secs_f64()
                                ),
                            ));
                        }
                        _ => {}
                    }
                }
            }
        };
        let code = status_of(&response);
        if let Some(auth) = &config.auth
            && let Some(rec) = challenges
                .answer(auth, &response, &request, ids)
                .map_err(Stop::Other)?
        {
            run.emit(&InviteEvent::Auth(&rec));
            cseq = cseq.wrapping_add(1);
            continue;
        }
        run.summary.bye_status = Some(code);
        if (200..300).contains(&code) {
            return Ok(());
        }
        return Err(Stop::Failure(
            Exit::Negative,
            format!("the BYE was answered {code} {}", reason_of(&response)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Message<'_> {
        sip::parse(bytes, &ParseOptions::datagram())
            .expect("valid")
            .complete()
            .expect("complete")
            .0
    }

    #[test]
    fn the_audio_offer_has_pcmu_pcma_and_events() {
        let sdp = offer(
            &Content::Audio,
            false,
            "127.0.0.1:5060".parse().expect("addr"),
            &MsrpOffer {
                path: "",
                port: 9,
                setup: Setup::Active,
                cpim: false,
            },
        );
        assert!(sdp.contains("m=audio 49170 RTP/AVP 0 8 101\r\n"), "{sdp}");
        assert!(
            sdp.contains("a=rtpmap:101 telephone-event/8000\r\n"),
            "{sdp}"
        );
        assert!(sdp::parse(sdp.as_bytes()).is_ok());
    }

    #[test]
    fn a_file_offer_carries_the_rfc_5547_attributes() {
        let content = Content::File {
            path: PathBuf::from("/tmp/a b.txt"),
            content_type: "text/plain".into(),
            size: 3,
            sha1: [0xA9; 20],
        };
        let sdp = offer(
            &content,
            true,
            "192.0.2.1:5060".parse().expect("addr"),
            &MsrpOffer {
                path: "msrps://192.0.2.1:9/s1;tcp",
                port: 9,
                setup: Setup::Active,
                cpim: false,
            },
        );
        assert!(sdp.contains("m=message 9 TCP/TLS/MSRP *\r\n"), "{sdp}");
        assert!(
            sdp.contains("a=path:msrps://192.0.2.1:9/s1;tcp\r\n"),
            "{sdp}"
        );
        assert!(
            sdp.contains(
                "a=accept-types:text/plain message/cpim\r\na=accept-wrapped-types:text/plain\r\n\
                 a=setup:active\r\na=sendonly\r\n"
            ),
            "{sdp}"
        );
        assert!(
            sdp.contains(
                "a=file-selector:name:\"a b.txt\" type:text/plain size:3 hash:sha-1:A9:A9:"
            ),
            "{sdp}"
        );
        assert!(sdp.contains("a=file-transfer-id:s1\r\na=file-disposition:attachment\r\n"));
        let parsed = sdp::parse(sdp.as_bytes()).expect("our offer parses");
        let fs = parsed.media[0]
            .file_selector()
            .expect("present")
            .expect("valid");
        assert_eq!(fs.size, Some(3));
        assert_eq!(fs.hashes[0].sha1(), Some([0xA9; 20]));
    }

    #[test]
    fn hashing_a_file_streams_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").expect("write");
        let (size, hash) = hash_file(&path).expect("hash");
        assert_eq!(size, 3);
        // SHA-1("abc"), FIPS 180-2 appendix A.
        assert_eq!(hash[..4], [0xA9, 0x99, 0x3E, 0x36], "{hash:02X?}");
        assert!(hash_file(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn an_msrp_answer_gives_path_types_size_and_setup() {
        let body = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=message 2855 TCP/MSRP *\r\na=path:msrp://127.0.0.1:2855/x;tcp\r\n\
a=accept-types:text/plain message/cpim\r\na=max-size:1000\r\na=setup:passive\r\n";
        let a = read_answer(body).expect("an answer");
        assert_eq!(a.media, "message");
        assert_eq!(a.path, ["msrp://127.0.0.1:2855/x;tcp"]);
        assert_eq!(a.accept_types, ["text/plain", "message/cpim"]);
        assert_eq!(a.max_size, Some(1000));
        assert_eq!(a.setup.as_deref(), Some("passive"));
    }

    #[test]
    fn the_dialog_routes_through_the_reversed_record_route_to_the_contact() {
        let resp = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n\
Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\n\
From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:b@10.0.0.9:5080>\r\nContent-Length: 0\r\n\r\n";
        let d = Dialog::from_response(&parse(resp), "sip:b@x");
        assert_eq!(d.remote_target, "sip:b@10.0.0.9:5080");
        assert_eq!(
            d.route_set,
            ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
        assert_eq!(d.to, "<sip:b@x>;tag=2");
    }

    #[test]
    fn cancel_copies_the_invite_branch_and_cseq_number() {
        let inv = b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK7\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 4 INVITE\r\n\
Content-Length: 0\r\n\r\n";
        let cancel = cancel_for(&parse(inv));
        let m = parse(&cancel);
        assert_eq!(m.method(), Some("CANCEL"));
        assert_eq!(m.top_via().expect("via").branch, Some("z9hG4bK7"));
        let cseq = m.cseq().expect("cseq");
        assert_eq!((cseq.seq, cseq.method), (4, "CANCEL"));
        assert!(String::from_utf8_lossy(&cancel).contains("To: <sip:b@x>\r\n"));
    }
}
