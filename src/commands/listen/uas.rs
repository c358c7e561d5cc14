//! The user agent server behind `sipkit listen`, without IO: it is handed each received message
//! with its flow and the time, and queues the messages to send and the events to print. The
//! run loop in `mod.rs` does the sockets; this file decides every answer, so it can be tested
//! in virtual time.
//!
//! Transactions (absorbing retransmissions, timers G/H/I/J/L) are
//! [`ServerTransactions`]; on top of them this keeps what RFC 3261 gives the transaction user:
//! INVITEs still ringing (for CANCEL and --ring), 2xx responses retransmitted until their ACK
//! (§13.3.1.4), dialogs for BYE (§15.1.2), Digest nonces (§22.4), and REGISTER bindings (§10.3).

use std::collections::HashMap;
use std::rc::Rc;

use foldhash::HashMap as FastMap;

/// Live transactions that make a burst worth giving memory back after.
const BURST: usize = 4096;

/// The Server header field of every response.
const SERVER: &str = concat!("sipkit/", env!("CARGO_PKG_VERSION"));
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::output::listen::{
    AuthRecord, BindingRecord, ErrorRecord, ListenEvent, RegistrationRecord, RequestRecord,
    ResponseRecord, Route, SummaryRecord,
};
use crate::proto::Status;
use crate::proto::digest::{self, Algorithm, Credentials, Secret, Verdict};
use crate::proto::sdp::{self, AnswerConfig, AudioCodec, MediaBuilder, SdpBuilder, Setup};
use crate::proto::sip::build::{ResponseWriter, ViaStamp};
use crate::proto::sip::headers::{Contact, Via};
use crate::proto::sip::{HeaderName, Message, ParseOptions, StartLine, Uri, parse};
use crate::transport::server_transaction::{
    Action, Retransmit2xx, Retransmit2xxAction, ServerTransactions, TimerEvent, Timers, TxId,
    shrink_map,
};
use crate::transport::{Flow, Proto};

/// The methods answered 200 unless --reply says otherwise; anything else gets 501.
const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, INFO, NOTIFY, REGISTER, PRACK, UPDATE";
/// Methods that exist only inside a dialog (early or confirmed): outside one they get 481
/// (RFC 3262 §3 PRACK, RFC 3311 §5.2 UPDATE, RFC 6086 §4.2.2 INFO; BYE is handled apart).
/// NOTIFY is not among them: listen subscribes to nothing, and devices send unsolicited
/// NOTIFYs (message waiting, keep-alives) that a test sink should take.
const IN_DIALOG_ONLY: [&str; 3] = ["INFO", "PRACK", "UPDATE"];
/// The RTP port put in audio answers; no media is sent or received.
const AUDIO_PORT: u16 = 49170;
/// Dialogs kept at most; the oldest are forgotten first (a BYE for one then gets 481).
const MAX_DIALOGS: usize = 100_000;
/// Nonces kept at most; expired ones are dropped first.
const MAX_NONCES: usize = 100_000;
/// The expiry of a binding when REGISTER names none (RFC 3261 §10.2.1.1 leaves it to the
/// registrar).
const DEFAULT_EXPIRES: u32 = 3600;

/// A final answer chosen with --reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) reason: String,
}

/// Everything the UAS needs to know from the command line.
#[derive(Debug, Clone)]
pub(crate) struct UasConfig {
    /// Per method (upper case): the final answer.
    pub(crate) replies: HashMap<String, Reply>,
    pub(crate) ring: Duration,
    /// Extra header fields on every response.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) registrar: bool,
    /// user → password; empty: no authentication.
    pub(crate) users: HashMap<String, String>,
    /// Challenge algorithms, in order.
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) realm: String,
    pub(crate) nonce_lifetime: Duration,
    pub(crate) full: bool,
    /// What MSRP answers say about us; `None` answers MSRP offers with port 0 (488 when
    /// nothing else is accepted).
    pub(crate) msrp: Option<MsrpAnswer>,
    pub(crate) timers: Timers,
    /// Numbered tags and nonces instead of random ones (SIPKIT_TEST).
    pub(crate) test_mode: bool,
    /// Server transactions alive at once; new requests beyond get 503 (statelessly).
    pub(crate) max_transactions: usize,
    /// Bindings asked for longer are granted this long (RFC 3261 §10.3 step 7).
    pub(crate) max_expires: u32,
    /// Bindings asked for shorter (but not 0) get 423 Interval Too Brief; 0: no minimum.
    pub(crate) min_expires: u32,
}

/// Our side of MSRP answers (RFC 4975 §8.6-§8.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MsrpAnswer {
    /// The port of our a=path URI (the m= port).
    pub(crate) port: u16,
    /// Types we accept (`*` and `type/*` allowed).
    pub(crate) accept_types: Vec<String>,
    /// Our a=max-size.
    pub(crate) max_size: u64,
    /// Files can be kept (--save-dir): without it RFC 5547 file offers are declined.
    pub(crate) save_files: bool,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub(crate) flow: Flow,
    /// Shared with the 2xx retransmission schedule.
    pub(crate) bytes: Rc<[u8]>,
}

/// An accepted MSRP offer: the session the MSRP layer now expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MsrpOffer {
    /// Our session id, the last path segment of our MSRP URI.
    pub(crate) session: String,
    /// The offerer's a=path.
    pub(crate) remote_path: Vec<String>,
    /// We answered `a=setup:active` (the offer said passive): we open the connection
    /// (RFC 6135 §4.2).
    pub(crate) active: bool,
    /// The RFC 5547 `a=file-selector` name of the offer, for saving the file.
    pub(crate) file_name: Option<String>,
    /// The file-selector's `hash:sha-1:...` (RFC 5547 §5), checked before the file is kept.
    pub(crate) file_sha1: Option<Vec<u8>>,
    /// What was tolerated in the file-selector (`size:0`), to report.
    pub(crate) file_warning: Option<String>,
}

/// The MSRP session layer as the UAS sees it: the run loop implements it over the endpoint,
/// so the UAS stays free of IO.
pub(crate) trait MsrpSessions {
    /// Whether the endpoint speaks TLS (`TCP/TLS/MSRP`, `msrps:`) rather than TCP.
    fn tls(&self) -> bool;
    /// Announce a session accepting `accept_types` (the intersection put in our answer);
    /// returns our session id and MSRP URI, or `None` when no more sessions are allowed.
    fn add(&mut self, accept_types: &[String]) -> Option<(String, String)>;
}

/// No MSRP session layer: MSRP streams are refused (port 0, 488 when nothing else is left).
pub(crate) struct NoMsrp;

impl MsrpSessions for NoMsrp {
    fn tls(&self) -> bool {
        false
    }
    fn add(&mut self, _: &[String]) -> Option<(String, String)> {
        None
    }
}

#[derive(Debug)]
struct PendingInvite {
    flow: Flow,
    request: Vec<u8>,
    call_id: String,
    to_tag: String,
    answer_at: Instant,
}

#[derive(Debug)]
struct Pending2xx {
    schedule: Retransmit2xx,
    flow: Flow,
    bytes: Rc<[u8]>,
}

#[derive(Debug)]
struct Binding {
    contact: String,
    expires_at: Instant,
    /// The Call-ID and CSeq of the REGISTER that made or last refreshed it (RFC 3261 §10.3
    /// step 7: a later one from the same Call-ID must have a higher CSeq).
    call_id: String,
    cseq: u32,
}

/// The server's state.
#[derive(Debug)]
pub(crate) struct Uas {
    cfg: UasConfig,
    txs: ServerTransactions<Flow>,
    invites: FastMap<TxId, PendingInvite>,
    /// The dialogs ([`dialog_key`]) whose 2xx waits for its ACK.
    acks: FastMap<Rc<str>, Pending2xx>,
    /// Established dialogs ([`dialog_key`]), with the order they were made in.
    dialogs: FastMap<Rc<str>, u64>,
    dialog_seq: u64,
    /// A dialog key being looked up, reused.
    key_scratch: String,
    /// Where the To value of the request being handled lies (address, length) and whether it
    /// has a tag: every response to it asks, and its To was parsed on arrival. Set and cleared
    /// around the handling of one request, while its buffer is borrowed, so the same address
    /// and length mean the same bytes.
    to_seen: Option<(usize, usize, bool)>,
    /// The most transactions alive at once since the last [`Uas::burst_over`].
    peak_transactions: usize,
    /// A burst was given back while some of it was still alive.
    collect_when_idle: bool,
    /// The last SDP answer to an offer without MSRP.
    answers: AnswerCache,
    /// A Warning value for the 2xx whose offer [`Uas::sdp_answer`] just read.
    offer_warning: Option<String>,
    /// The Contact written last, and for which transport and local address.
    contact_cache: Option<(Proto, SocketAddr, String)>,
    nonces: FastMap<String, Instant>,
    bindings: FastMap<String, Vec<Binding>>,
    start: Instant,
    /// The wall clock at `start`, for Date header fields: times come in as `Instant`s.
    wall_start: std::time::SystemTime,
    counter: u64,
    random: std::collections::hash_map::RandomState,
    /// New requests that count for --count (not ACK, not CANCEL).
    pub(crate) counted: u64,
    pub(crate) summary: SummaryRecord,
    /// Messages to send, drained by the run loop.
    pub(crate) out: Vec<Outgoing>,
    /// Events to print, drained by the run loop.
    pub(crate) events: Vec<ListenEvent>,
    /// MSRP sessions accepted, drained by the run loop.
    pub(crate) msrp_offers: Vec<MsrpOffer>,
    /// MSRP sessions whose dialog ended with BYE, drained by the run loop.
    pub(crate) msrp_ended: Vec<String>,
    /// (Call-ID, our tag) → the MSRP sessions of that dialog.
    msrp_dialogs: FastMap<Rc<str>, Vec<String>>,
    /// Only errors are printed (--quiet): request and response records are not built, which
    /// under load was a dozen allocations per message for nothing.
    pub(crate) quiet: bool,
}

/// A response built from the raw text of a request the parser refused.
struct Stateless {
    bytes: Vec<u8>,
    method: String,
    call_id: String,
    /// The top Via's `rport` presence and sent-by port, when it parsed, for [`reply_to`].
    via: Option<(bool, Option<u16>)>,
}

/// RFC 3261 §8.2.6.1: a response copies Via, From, To (with a tag added), Call-ID and CSeq.
/// Those are found here line by line, without the parser, so a request with one bad header
/// field can still be told what was wrong. Header lines are copied as received; folded lines
/// (§7.3.1) are joined. Compact names (§7.3.3) count.
fn stateless_response(
    data: &[u8],
    code: u16,
    reason: &str,
    why: &str,
    tag: &str,
    source: SocketAddr,
) -> Option<Stateless> {
    let head_end = memchr::memmem::find(data, b"\r\n\r\n").unwrap_or(data.len());
    let head = std::str::from_utf8(data.get(..head_end)?).ok()?;
    let mut lines = head.split("\r\n");
    let start = lines.next()?;
    let mut parts = start.split(' ');
    let method = parts.next()?;
    let version = start.rsplit(' ').next()?;
    if method.is_empty()
        || !crate::proto::sip::uri::is_token_str(method)
        || !version.eq_ignore_ascii_case("SIP/2.0")
        || method.eq_ignore_ascii_case("ACK")
    {
        return None;
    }
    let mut fields: Vec<(&'static str, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = match name.trim().to_ascii_lowercase().as_str() {
            "via" | "v" => "Via",
            "from" | "f" => "From",
            "to" | "t" => "To",
            "call-id" | "i" => "Call-ID",
            "cseq" => "CSeq",
            _ => continue,
        };
        fields.push((name, value.trim().to_owned()));
    }
    let one = |n: &str| {
        let mut it = fields.iter().filter(|(f, _)| *f == n);
        match (it.next(), it.next()) {
            (Some((_, v)), None) if !v.is_empty() => Some(v.clone()),
            _ => None,
        }
    };
    let (from, to, call_id, cseq) = (one("From")?, one("To")?, one("Call-ID")?, one("CSeq")?);
    if !fields.iter().any(|(f, v)| *f == "Via" && !v.is_empty()) {
        return None;
    }
    let to = if to.to_ascii_lowercase().contains(";tag=") {
        to
    } else {
        format!("{to};tag={tag}")
    };
    // quoted-string (RFC 3261 §25.1): no CR/LF, quotes and backslashes escaped.
    let text: String = why
        .chars()
        .take(200)
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c if c.is_control() => vec![' '],
            c => vec![c],
        })
        .collect();
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    let mut top = None;
    for (i, (_, v)) in fields.iter().filter(|(f, _)| *f == "Via").enumerate() {
        // The top Via is stamped and routed as for any response, when it parses.
        let via = (i == 0).then(|| Via::parse_first(v).ok()).flatten();
        match via.and_then(|via| ViaStamp::for_request(&via, source)) {
            Some(stamp) => {
                let mut line = Vec::new();
                stamp.write_top_via(v.as_bytes(), &mut line);
                out.push_str("Via: ");
                out.push_str(&String::from_utf8_lossy(&line));
                out.push_str("\r\n");
            }
            None => out.push_str(&format!("Via: {v}\r\n")),
        }
        if let Some(via) = via {
            top = Some((via.rport.is_some(), via.port));
        }
    }
    out.push_str(&format!(
        "From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n\
         Warning: 399 sipkit \"{text}\"\r\n"
    ));
    if code == 503 {
        out.push_str("Retry-After: 5\r\n");
    }
    out.push_str(concat!(
        "Server: sipkit/",
        env!("CARGO_PKG_VERSION"),
        "\r\nContent-Length: 0\r\n\r\n"
    ));
    Some(Stateless {
        bytes: out.into_bytes(),
        method: cseq.rsplit(' ').next().unwrap_or(method).to_owned(),
        call_id,
        via: top,
    })
}

/// The answer to the last offer that had no MSRP stream. A load generator sends the same offer
/// in every INVITE, and parsing it and writing the same answer was a fifth of listen's work
/// per call; an answer to an offer depends only on the offer's bytes and our address (MSRP
/// offers also open sessions, so they are always answered afresh). Only the `o=` session id
/// differs from one answer to the next.
#[derive(Debug, Default)]
struct AnswerCache {
    offer: Vec<u8>,
    address: Option<IpAddr>,
    /// The answer after `v=0`, `o=sipkit ID ID `.
    tail: String,
}

impl AnswerCache {
    const START: &'static str = "v=0\r\no=sipkit ";

    fn get(&self, offer: &[u8], address: IpAddr, session_id: u64) -> Option<String> {
        if self.address != Some(address) || self.offer != offer {
            return None;
        }
        let mut answer = String::with_capacity(self.tail.len() + 64);
        answer.push_str(Self::START);
        let _ = write!(answer, "{session_id} {session_id} ");
        answer.push_str(&self.tail);
        Some(answer)
    }

    fn put(&mut self, offer: &[u8], address: IpAddr, session_id: u64, answer: &str) {
        let start = format!("{}{session_id} {session_id} ", Self::START);
        let Some(tail) = answer.strip_prefix(&start) else {
            self.address = None;
            return;
        };
        self.offer.clear();
        self.offer.extend_from_slice(offer);
        self.address = Some(address);
        self.tail.clear();
        self.tail.push_str(tail);
    }
}

/// Whether an answer SDP we wrote accepts at least one stream: an `m=` line whose port is not
/// 0 (RFC 3264 §6: a rejected stream keeps its line with port zero).
fn accepts_a_stream(answer: &str) -> bool {
    answer
        .split("\r\n")
        .filter_map(|l| l.strip_prefix("m="))
        .any(|m| m.split(' ').nth(1).is_some_and(|port| port != "0"))
}

/// Whether the request's To has a tag. Most requests under load are either initial (no
/// `tag=` anywhere in the field, no parse needed) or in a dialog; only those are parsed.
fn to_has_tag(req: &Message<'_>) -> bool {
    let Some(to) = req.header(HeaderName::To) else {
        return false;
    };
    mentions_tag(to.value) && req.to_addr().is_ok_and(|a| a.tag().is_some())
}

/// Whether `v` contains `tag=` in any case: each `=` (a To holds one or two) is checked for
/// `tag` before it, instead of comparing four bytes at every position.
fn mentions_tag(v: &[u8]) -> bool {
    let mut from = 0;
    while let Some(i) = v
        .get(from..)
        .and_then(|r| crate::proto::scan::find_byte(b'=', r))
    {
        let eq = from + i;
        if eq >= 3
            && v.get(eq - 3..eq)
                .is_some_and(|t| t.eq_ignore_ascii_case(b"tag"))
        {
            return true;
        }
        from = eq + 1;
    }
    false
}

/// A dialog's key in the UAS tables, written into `out`: Call-ID and our tag separated by LF,
/// which neither can contain (RFC 3261 §25.1). One string instead of a pair of them, shared
/// between the tables that hold the same dialog.
fn dialog_key(out: &mut String, call_id: &str, tag: &str) {
    out.clear();
    out.push_str(call_id);
    out.push('\n');
    out.push_str(tag);
}

/// `v` as 16 lowercase hex digits, as `format!("{v:016x}")` gives but without the formatting
/// machinery (a tag per INVITE under load).
fn hex16(v: u64) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(16);
    for shift in (0..16).rev() {
        out.push(char::from(DIGITS[((v >> (shift * 4)) & 0xf) as usize]));
    }
    out
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn route(flow: &Flow) -> Route {
    Route {
        transport: flow.proto.as_str().to_owned(),
        local: flow.local.to_string(),
        remote: flow.remote.to_string(),
    }
}

/// Where the responses to a request that arrived over `flow` with top Via `via` go (RFC 3261
/// §18.2.2, RFC 3581 §4): back over the connection for TCP, TLS and WebSocket; over UDP to the
/// source address and port when the client asked with `rport`, else to the source address and
/// the sent-by port (5060 when it names none). A `maddr` is not followed: listen sends no
/// multicast.
fn reply_flow(flow: &Flow, via: &Via<'_>) -> Flow {
    reply_to(flow, via.rport.is_some(), via.port)
}

/// [`reply_flow`] from the top Via's `rport` presence and sent-by port.
fn reply_to(flow: &Flow, rport: bool, sent_by_port: Option<u16>) -> Flow {
    if flow.proto != Proto::Udp || rport {
        return *flow;
    }
    let port = sent_by_port.unwrap_or(5060);
    Flow {
        remote: SocketAddr::new(flow.remote.ip(), port),
        ..*flow
    }
}

fn header_str<'a>(msg: &Message<'a>, id: HeaderName) -> String {
    msg.header(id)
        .map(|h| String::from_utf8_lossy(h.value).into_owned())
        .unwrap_or_default()
}

/// The address of record a URI names: `sip:user@host` with the host lower-cased and no
/// parameters (RFC 3261 §10.3 step 5).
fn aor_of(uri: &Uri<'_>) -> String {
    let scheme = uri.scheme.as_str();
    let host = uri.host_raw.to_ascii_lowercase();
    match uri.user {
        Some(user) => format!("{scheme}:{user}@{host}"),
        None => format!("{scheme}:{host}"),
    }
}

impl Uas {
    pub(crate) fn new(cfg: UasConfig, now: Instant) -> Uas {
        Uas {
            txs: ServerTransactions::new(cfg.timers),
            cfg,
            invites: FastMap::default(),
            acks: FastMap::default(),
            dialogs: FastMap::default(),
            key_scratch: String::new(),
            to_seen: None,
            contact_cache: None,
            answers: AnswerCache::default(),
            offer_warning: None,
            peak_transactions: 0,
            collect_when_idle: false,
            dialog_seq: 0,
            nonces: FastMap::default(),
            bindings: FastMap::default(),
            start: now,
            wall_start: std::time::SystemTime::now(),
            counter: 0,
            random: std::collections::hash_map::RandomState::new(),
            counted: 0,
            summary: SummaryRecord::default(),
            out: Vec::new(),
            events: Vec::new(),
            msrp_offers: Vec::new(),
            msrp_ended: Vec::new(),
            msrp_dialogs: FastMap::default(),
            quiet: false,
        }
    }

    /// Milliseconds since the start, for events.
    pub(crate) fn at(&self, now: Instant) -> f64 {
        ms(now.saturating_duration_since(self.start))
    }

    /// A tag, nonce or session id: numbered in test mode, else 64 random bits in hex.
    fn fresh(&mut self, kind: &str) -> String {
        use std::hash::{BuildHasher, Hasher};
        self.counter += 1;
        if self.cfg.test_mode {
            return format!("{kind}{}", self.counter);
        }
        // RandomState is seeded per process from the OS; hashing a counter with it gives
        // distinct values nobody outside can predict.
        let mut h = self.random.build_hasher();
        h.write_u64(self.counter);
        hex16(h.finish())
    }

    /// Whether nothing is waiting: no ringing INVITE and no 2xx waiting for its ACK.
    pub(crate) fn settled(&self) -> bool {
        self.invites.is_empty() && self.acks.is_empty()
    }

    /// Whether a burst of transactions just ended, for the caller to give the memory back:
    /// true when the live transactions fall to a sixteenth of a peak of at least [`BURST`],
    /// and once more when the last of them has ended.
    pub(crate) fn burst_over(&mut self) -> bool {
        let live = self.txs.len();
        self.peak_transactions = self.peak_transactions.max(live);
        if self.peak_transactions >= BURST && live <= self.peak_transactions / 16 {
            self.peak_transactions = live;
            self.collect_when_idle = live > 0;
            return true;
        }
        if live == 0 && self.collect_when_idle {
            self.collect_when_idle = false;
            return true;
        }
        false
    }

    /// Whether a timer tick could do something.
    pub(crate) fn has_timers(&self) -> bool {
        !self.txs.is_empty() || !self.settled()
    }

    pub(crate) fn error(&mut self, flow: Option<&Flow>, message: String, now: Instant) {
        self.summary.errors += 1;
        let at = self.at(now);
        self.events.push(ListenEvent::Error(ErrorRecord {
            at_ms: at,
            transport: flow.map(|f| f.proto.as_str().to_owned()),
            remote: flow.map(|f| f.remote.to_string()),
            message,
        }));
    }

    /// Handle one received SIP message, without an MSRP session layer.
    #[cfg(test)]
    pub(crate) fn on_message(&mut self, data: &[u8], flow: Flow, now: Instant) {
        self.on_message_msrp(data, flow, now, &mut NoMsrp);
    }

    /// Handle one received SIP message; accepted MSRP offers are announced to `msrp`.
    pub(crate) fn on_message_msrp(
        &mut self,
        data: &[u8],
        flow: Flow,
        now: Instant,
        msrp: &mut dyn MsrpSessions,
    ) {
        // Borrowed where it lies: moving a Message out copies its inline header array.
        let parsed = parse(data, &ParseOptions::datagram());
        let msg = match &parsed {
            Ok(Status::Complete(msg, _)) => msg,
            Ok(Status::Partial) => {
                self.malformed(data, &flow, "incomplete message".into(), now);
                return;
            }
            Err(e) => {
                let why = format!("{} at byte {} ({})", e.message, e.offset, e.rfc);
                self.malformed(data, &flow, why, now);
                return;
            }
        };
        if let StartLine::Response { code, reason, .. } = msg.start {
            if self.quiet {
                return;
            }
            let at = self.at(now);
            let method = msg.cseq().map(|c| c.method.to_owned()).unwrap_or_default();
            self.events.push(ListenEvent::Response(ResponseRecord {
                at_ms: at,
                direction: "received",
                route: route(&flow),
                status: code,
                reason: String::from_utf8_lossy(reason).into_owned(),
                method,
                call_id: msg.call_id().unwrap_or_default().to_owned(),
                message: self
                    .cfg
                    .full
                    .then(|| String::from_utf8_lossy(data).into_owned()),
            }));
            return;
        }
        self.on_request(msg, data, flow, now, msrp);
        self.to_seen = None;
    }

    /// [`Uas::on_message_msrp`] for a request.
    fn on_request(
        &mut self,
        msg: &Message<'_>,
        data: &[u8],
        flow: Flow,
        now: Instant,
        msrp: &mut dyn MsrpSessions,
    ) {
        // RFC 3261 §8.1.1: these five (and Max-Forwards, not checked: we forward nothing) are
        // what every request must carry well-formed; the transaction layer only needs some.
        let to = msg.to_addr();
        let req_tag = to.as_ref().ok().and_then(|t| t.tag());
        self.to_seen = msg
            .header(HeaderName::To)
            .map(|h| (h.value.as_ptr() as usize, h.value.len(), req_tag.is_some()));
        let via = msg.top_via();
        let checked = via.as_ref().map_err(Clone::clone).and_then(|via| {
            msg.from_addr()?;
            to.as_ref().map_err(Clone::clone)?;
            let call_id = msg.call_id()?;
            Ok((via, msg.cseq()?, call_id))
        });
        let (via, call_id) = match checked {
            Err(e) => {
                let why = format!("{} ({})", e.message, e.rfc);
                self.malformed(data, &flow, why, now);
                return;
            }
            Ok((_, c, _)) if Some(c.method) != msg.method() => {
                let why = format!(
                    "CSeq method {} differs from the request method (RFC 3261 §8.1.1.5)",
                    c.method
                );
                self.malformed(data, &flow, why, now);
                return;
            }
            Ok((via, _, call_id)) => (via, call_id),
        };
        if self.txs.len() >= self.cfg.max_transactions {
            // Overload: answering statelessly keeps memory flat; the peer retries later.
            self.stateless(
                data,
                &flow,
                (503, "Service Unavailable"),
                &format!(
                    "{} transactions in progress (--max-transactions)",
                    self.txs.len()
                ),
                now,
            );
            return;
        }
        let reply_to = reply_flow(&flow, via);
        let action = match self
            .txs
            .on_request_via(msg, via, flow.proto.reliable(), reply_to, now)
        {
            Ok(a) => a,
            Err(e) => {
                self.malformed(data, &flow, format!("{} ({})", e.message, e.rfc), now);
                return;
            }
        };
        match action {
            Action::Retransmit { response, .. } => {
                self.summary.retransmissions_absorbed += 1;
                self.out.push(Outgoing {
                    flow: reply_to,
                    bytes: response.into(),
                });
            }
            Action::Absorbed(_) => self.summary.retransmissions_absorbed += 1,
            Action::AckForNon2xx(_) => self.report_request(msg, data, &flow, now),
            Action::AckToTu(_) => {
                self.report_request(msg, data, &flow, now);
                dialog_key(&mut self.key_scratch, call_id, req_tag.unwrap_or_default());
                self.acks.remove(self.key_scratch.as_str());
            }
            Action::Cancel { id, invite } => {
                self.report_request(msg, data, &flow, now);
                match invite.and_then(|i| self.invites.remove(&i).map(|p| (i, p))) {
                    Some((invite_id, pending)) => {
                        let tag = pending.to_tag.clone();
                        self.respond(id, msg, &flow, 200, "OK", Some(&tag), Vec::new(), None, now);
                        if let Ok(Status::Complete(inv, _)) =
                            parse(&pending.request, &ParseOptions::datagram())
                        {
                            self.respond(
                                invite_id,
                                &inv,
                                &pending.flow,
                                487,
                                "Request Terminated",
                                Some(&tag),
                                Vec::new(),
                                None,
                                now,
                            );
                        }
                    }
                    None => {
                        let tag = self.fresh("t");
                        self.respond(
                            id,
                            msg,
                            &flow,
                            481,
                            "Call/Transaction Does Not Exist",
                            Some(&tag),
                            Vec::new(),
                            None,
                            now,
                        );
                    }
                }
            }
            Action::New(id) => {
                self.counted += 1;
                self.report_request(msg, data, &flow, now);
                self.on_new(id, msg, call_id, req_tag, data, flow, now, msrp);
            }
        }
    }

    /// A message that cannot be handled: logged, and answered 400 when it is a request whose
    /// Via, From, To, Call-ID and CSeq can be copied into a response.
    fn malformed(&mut self, data: &[u8], flow: &Flow, why: String, now: Instant) {
        let answered = self.stateless(data, flow, (400, "Bad Request"), &why, now);
        let what = if answered { "answered 400" } else { "dropped" };
        self.error(
            Some(flow),
            format!("malformed SIP message {what}: {why}"),
            now,
        );
    }

    /// Answer `data` outside any transaction, with a Warning saying why (RFC 3261 §20.43, code
    /// 399); false when it cannot be addressed (not a request, an ACK, header fields missing).
    fn stateless(
        &mut self,
        data: &[u8],
        flow: &Flow,
        (code, reason): (u16, &str),
        why: &str,
        now: Instant,
    ) -> bool {
        let tag = self.fresh("t");
        let Some(r) = stateless_response(data, code, reason, why, &tag, flow.remote) else {
            return false;
        };
        let dest = r
            .via
            .map_or(*flow, |(rport, port)| reply_to(flow, rport, port));
        let bytes: Rc<[u8]> = r.bytes.into();
        let (method, call_id) = (r.method, r.call_id);
        self.send_response(&dest, code, reason, || (method, call_id), bytes, now);
        true
    }

    /// Count, report (unless quiet) and queue a response built for `flow`. `names` gives the
    /// method and Call-ID for the record; it is called only when a record is made.
    fn send_response(
        &mut self,
        flow: &Flow,
        code: u16,
        reason: &str,
        names: impl FnOnce() -> (String, String),
        bytes: Rc<[u8]>,
        now: Instant,
    ) {
        self.summary.responses += 1;
        *self.summary.statuses.entry(code).or_default() += 1;
        if !self.quiet {
            let at = self.at(now);
            let (method, call_id) = names();
            self.events.push(ListenEvent::Response(ResponseRecord {
                at_ms: at,
                direction: "sent",
                route: route(flow),
                status: code,
                reason: reason.to_owned(),
                method,
                call_id,
                message: self
                    .cfg
                    .full
                    .then(|| String::from_utf8_lossy(&bytes).into_owned()),
            }));
        }
        self.out.push(Outgoing { flow: *flow, bytes });
    }

    fn report_request(&mut self, msg: &Message<'_>, data: &[u8], flow: &Flow, now: Instant) {
        let StartLine::Request { method, uri, .. } = msg.start else {
            return;
        };
        self.summary.requests += 1;
        match self.summary.methods.get_mut(method) {
            Some(n) => *n += 1,
            None => {
                self.summary.methods.insert(method.to_owned(), 1);
            }
        }
        if self.quiet {
            return;
        }
        let (registered, contacts) = match msg.request_uri() {
            Some(Ok(u)) if method != "REGISTER" && !self.bindings.is_empty() => {
                let aor = aor_of(&u);
                let contacts: Vec<String> = self
                    .bindings
                    .get(&aor)
                    .map(|b| {
                        b.iter()
                            .filter(|b| b.expires_at > now)
                            .map(|b| b.contact.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if contacts.is_empty() {
                    (None, contacts)
                } else {
                    (Some(aor), contacts)
                }
            }
            _ => (None, Vec::new()),
        };
        let at = self.at(now);
        self.events.push(ListenEvent::Request(RequestRecord {
            at_ms: at,
            route: route(flow),
            method: method.to_owned(),
            uri: uri.to_owned(),
            call_id: msg.call_id().unwrap_or_default().to_owned(),
            cseq: msg.cseq().map(|c| c.seq).unwrap_or(0),
            from: header_str(msg, HeaderName::From),
            to: header_str(msg, HeaderName::To),
            registered,
            contacts,
            message: self
                .cfg
                .full
                .then(|| String::from_utf8_lossy(data).into_owned()),
        }));
    }

    /// Whether `req`'s To has a tag, from [`Uas::to_seen`] when `req` is the request being
    /// handled (its To was parsed on arrival), else from its text.
    fn to_has_tag(&self, req: &Message<'_>) -> bool {
        if let (Some((at, len, has)), Some(to)) = (self.to_seen, req.header(HeaderName::To))
            && at == to.value.as_ptr() as usize
            && len == to.value.len()
        {
            return has;
        }
        to_has_tag(req)
    }

    /// Build, record in the transaction and queue one response. `flow` is the one the
    /// request arrived over; the response goes where [`reply_flow`] says, its top Via stamped
    /// as [`ViaStamp::for_request`] says.
    #[allow(clippy::too_many_arguments)]
    fn respond(
        &mut self,
        id: TxId,
        req: &Message<'_>,
        flow: &Flow,
        code: u16,
        reason: &str,
        to_tag: Option<&str>,
        extra: Vec<(String, String)>,
        body: Option<(&str, Vec<u8>)>,
        now: Instant,
    ) -> Rc<[u8]> {
        // The tag goes in when the request's To has none (RFC 3261 §8.2.6.2).
        let add_tag = to_tag.filter(|_| !self.to_has_tag(req));
        let via = req.top_via().ok();
        let stamp = via.and_then(|v| ViaStamp::for_request(&v, flow.remote));
        let dest = via.map_or(*flow, |v| reply_flow(flow, &v));
        let mut w = ResponseWriter::stamped(req, code, reason, add_tag, stamp.as_ref());
        if (200..300).contains(&code) && req.method() == Some("INVITE") {
            // RFC 3261 §12.1.1: the 2xx copies the Record-Route set.
            for h in req.headers_of(HeaderName::RecordRoute) {
                w.header("Record-Route", h.value);
            }
        }
        for (n, v) in extra.iter().chain(self.cfg.headers.iter()) {
            w.header(n, v.as_bytes());
        }
        w.header("Server", SERVER.as_bytes());
        let bytes: Rc<[u8]> = w.finish(body.as_ref().map(|(ct, b)| (*ct, &b[..]))).into();
        if let Err(e) = self.txs.respond(id, code, &bytes, now) {
            self.error(Some(flow), format!("response not sent: {e}"), now);
            return bytes;
        }
        let names = || {
            let method = req.cseq().map(|c| c.method.to_owned()).unwrap_or_default();
            (method, req.call_id().unwrap_or_default().to_owned())
        };
        self.send_response(&dest, code, reason, names, Rc::clone(&bytes), now);
        bytes
    }

    /// Our Contact for a dialog made over `flow`. The text for the last local address is
    /// kept: under load every INVITE arrives on the same socket.
    fn contact(&mut self, flow: &Flow, req: &Message<'_>) -> String {
        if let Some((proto, local, text)) = &self.contact_cache
            && *proto == flow.proto
            && *local == flow.local
        {
            return text.clone();
        }
        let text = self.contact_text(flow, req);
        if !flow.local.ip().is_unspecified() {
            self.contact_cache = Some((flow.proto, flow.local, text.clone()));
        }
        text
    }

    fn contact_text(&self, flow: &Flow, req: &Message<'_>) -> String {
        let host = if flow.local.ip().is_unspecified() {
            match req.request_uri() {
                Some(Ok(u)) => u.host_raw.to_owned(),
                _ => flow.local.ip().to_string(),
            }
        } else {
            match flow.local {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            }
        };
        let transport = if flow.proto == Proto::Udp {
            String::new()
        } else {
            format!(";transport={}", flow.proto.as_str())
        };
        format!("<sip:{host}:{}{transport}>", flow.local.port())
    }

    #[allow(clippy::too_many_arguments)]
    /// `call_id` is `msg`'s, checked on arrival.
    fn on_new(
        &mut self,
        id: TxId,
        msg: &Message<'_>,
        call_id: &str,
        req_tag: Option<&str>,
        data: &[u8],
        flow: Flow,
        now: Instant,
        msrp: &mut dyn MsrpSessions,
    ) {
        let method = msg.method().unwrap_or_default().to_owned();
        let has_tag = req_tag.is_some();
        let to_tag = match req_tag {
            Some(t) => t.to_owned(),
            None => self.fresh("t"),
        };
        if !self.cfg.users.is_empty() && !self.authorized(id, msg, &flow, &to_tag, now) {
            return;
        }
        let reply = self.cfg.replies.get(&method).cloned();
        match method.as_str() {
            "INVITE" => {
                let dialog = (call_id, to_tag, has_tag);
                self.on_invite(id, msg, data, flow, dialog, reply, now, msrp);
            }
            "BYE" => {
                dialog_key(&mut self.key_scratch, call_id, &to_tag);
                let key = self.key_scratch.as_str();
                let (code, reason) = match reply {
                    Some(r) => (r.code, r.reason),
                    None if self.dialogs.remove(key).is_some() => (200, "OK".into()),
                    None => (481, "Call/Transaction Does Not Exist".into()),
                };
                self.acks.remove(key);
                if let Some(ids) = self.msrp_dialogs.remove(key) {
                    self.msrp_ended.extend(ids);
                }
                self.respond(
                    id,
                    msg,
                    &flow,
                    code,
                    &reason,
                    Some(&to_tag),
                    Vec::new(),
                    None,
                    now,
                );
            }
            "REGISTER" if reply.is_none() => self.on_register(id, msg, &flow, &to_tag, now),
            _ => {
                let known = ALLOW.split(", ").any(|m| m == method);
                let outside = IN_DIALOG_ONLY.contains(&method.as_str())
                    && !(has_tag && self.dialog_exists(call_id, &to_tag));
                let (code, reason) = match reply {
                    Some(r) => (r.code, r.reason),
                    None if outside => (481, "Call/Transaction Does Not Exist".into()),
                    None if known => (200, "OK".into()),
                    None => (501, "Not Implemented".into()),
                };
                let mut extra = Vec::new();
                if method == "OPTIONS" || code == 501 || code == 405 {
                    extra.push(("Allow".to_owned(), ALLOW.to_owned()));
                }
                if method == "OPTIONS" {
                    extra.push(("Accept".to_owned(), "application/sdp".to_owned()));
                }
                self.respond(
                    id,
                    msg,
                    &flow,
                    code,
                    &reason,
                    Some(&to_tag),
                    extra,
                    None,
                    now,
                );
            }
        }
    }

    /// Whether (Call-ID, our tag) names a dialog: confirmed, or early (an INVITE still ringing
    /// whose 180 carried the tag).
    fn dialog_exists(&mut self, call_id: &str, tag: &str) -> bool {
        dialog_key(&mut self.key_scratch, call_id, tag);
        self.dialogs.contains_key(self.key_scratch.as_str())
            || self
                .invites
                .values()
                .any(|p| p.to_tag == tag && p.call_id == call_id)
    }

    #[allow(clippy::too_many_arguments)]
    /// `dialog` is `msg`'s Call-ID (checked on arrival), our To tag, and whether the request
    /// came with it (a re-INVITE).
    fn on_invite(
        &mut self,
        id: TxId,
        msg: &Message<'_>,
        data: &[u8],
        flow: Flow,
        (call_id, to_tag, in_dialog): (&str, String, bool),
        reply: Option<Reply>,
        now: Instant,
        msrp: &mut dyn MsrpSessions,
    ) {
        dialog_key(&mut self.key_scratch, call_id, &to_tag);
        if in_dialog && reply.is_none() && !self.dialogs.contains_key(self.key_scratch.as_str()) {
            self.respond(
                id,
                msg,
                &flow,
                481,
                "Call/Transaction Does Not Exist",
                Some(&to_tag),
                Vec::new(),
                None,
                now,
            );
            return;
        }
        let ringing = !self.cfg.ring.is_zero() && !in_dialog;
        // RFC 3261 §17.2.1: the 100 is for a TU that will not answer within 200 ms. The 180 or
        // the final response goes out now, so the 100 is left out (one datagram in four of a
        // call under load); a ringing INVITE still gets it first, as a phone would send it,
        // since its final answer is what is delayed.
        if ringing {
            self.respond(id, msg, &flow, 100, "Trying", None, Vec::new(), None, now);
        }
        let success = reply.as_ref().is_none_or(|r| r.code < 300);
        if ringing || (success && !in_dialog) {
            self.respond(
                id,
                msg,
                &flow,
                180,
                "Ringing",
                Some(&to_tag),
                Vec::new(),
                None,
                now,
            );
        }
        if ringing {
            self.invites.insert(
                id,
                PendingInvite {
                    flow,
                    request: data.to_vec(),
                    call_id: call_id.to_owned(),
                    to_tag,
                    answer_at: now + self.cfg.ring,
                },
            );
        } else {
            self.answer_invite(id, msg, &flow, &to_tag, now, msrp);
        }
    }

    /// The final answer to an INVITE: the --reply, or 200 with an SDP answer (488 when no
    /// offered stream can be accepted).
    fn answer_invite(
        &mut self,
        id: TxId,
        msg: &Message<'_>,
        flow: &Flow,
        tag: &str,
        now: Instant,
        msrp: &mut dyn MsrpSessions,
    ) {
        if let Some(r) = self.cfg.replies.get("INVITE").cloned() {
            if r.code >= 300 {
                self.respond(
                    id,
                    msg,
                    flow,
                    r.code,
                    &r.reason,
                    Some(tag),
                    Vec::new(),
                    None,
                    now,
                );
                return;
            }
        }
        let (code, reason) = match self.cfg.replies.get("INVITE") {
            Some(r) => (r.code, r.reason.clone()),
            None => (200, "OK".to_owned()),
        };
        let offers_before = self.msrp_offers.len();
        self.offer_warning = None;
        let sdp = match self.sdp_answer(msg, flow, msrp) {
            Ok(sdp) => sdp,
            Err((warn, why)) => {
                let extra = vec![("Warning".to_owned(), format!("{warn} sipkit \"{why}\""))];
                self.respond(
                    id,
                    msg,
                    flow,
                    488,
                    "Not Acceptable Here",
                    Some(tag),
                    extra,
                    None,
                    now,
                );
                return;
            }
        };
        let mut extra = vec![("Contact".to_owned(), self.contact(flow, msg))];
        if let Some(w) = self.offer_warning.take() {
            extra.push(("Warning".to_owned(), w));
        }
        let bytes = self.respond(
            id,
            msg,
            flow,
            code,
            &reason,
            Some(tag),
            extra,
            Some(("application/sdp", sdp.into_bytes())),
            now,
        );
        dialog_key(
            &mut self.key_scratch,
            msg.call_id().unwrap_or_default(),
            tag,
        );
        let key: Rc<str> = Rc::from(self.key_scratch.as_str());
        if self.dialogs.len() >= MAX_DIALOGS {
            // The oldest tenth goes at once: one pass per MAX_DIALOGS/10 new dialogs, where
            // looking for the single oldest was a pass per INVITE once the table was full.
            let keep_after = self.dialog_seq.saturating_sub(MAX_DIALOGS as u64 * 9 / 10);
            self.dialogs.retain(|_, n| *n > keep_after);
        }
        self.dialog_seq += 1;
        self.dialogs.insert(key.clone(), self.dialog_seq);
        let sessions: Vec<String> = self
            .msrp_offers
            .get(offers_before..)
            .unwrap_or_default()
            .iter()
            .map(|o| o.session.clone())
            .collect();
        if !sessions.is_empty() {
            self.msrp_dialogs.insert(key.clone(), sessions);
        }
        self.acks.insert(
            key,
            Pending2xx {
                schedule: Retransmit2xx::new(now, &self.cfg.timers),
                flow: msg.top_via().map_or(*flow, |v| reply_flow(flow, &v)),
                bytes,
            },
        );
    }

    /// Our SDP: an answer to the offer in the INVITE, or an audio offer when there is none.
    fn sdp_answer(
        &mut self,
        msg: &Message<'_>,
        flow: &Flow,
        msrp: &mut dyn MsrpSessions,
    ) -> Result<String, (u16, String)> {
        let session_id = if self.cfg.test_mode {
            1
        } else {
            self.counter + 1
        };
        let is_sdp = match msg.content_type() {
            Some(Ok(ct)) => ct.is("application", "sdp"),
            _ => false,
        };
        if is_sdp && let Some(answer) = self.answers.get(msg.body, flow.local.ip(), session_id) {
            return Ok(answer);
        }
        let address = flow.local.ip().to_string();
        if msg.body.is_empty() || !is_sdp {
            // RFC 3261 §13.2.1: no offer in the INVITE, so the 2xx carries ours.
            return Ok(SdpBuilder::new("sipkit", session_id, &address)
                .media(MediaBuilder::audio(
                    AUDIO_PORT,
                    &[
                        AudioCodec::Pcmu,
                        AudioCodec::Pcma,
                        AudioCodec::TelephoneEvent,
                    ],
                ))
                .build());
        }
        let lenient = sdp::ParseOptions {
            allow_bracketed_origin_ipv6: true,
            ..sdp::ParseOptions::default()
        };
        let offer = sdp::parse_with(msg.body, lenient)
            .map_err(|e| (399, format!("unusable SDP offer: {}", e.message)))?;
        let bracketed = offer.origin.address.starts_with('[');
        if bracketed {
            // Issue 15: SIPp's built-in scenarios over IPv6 write o= this way. The origin only
            // names the session (RFC 8866 §5.2), so the offer is answered, with a word.
            self.offer_warning = Some(format!(
                "399 sipkit \"the o= address {} is in brackets, which RFC 8866 §9 does not \
                 allow (ignored: o= plays no part in media)\"",
                offer.origin.address
            ));
        }
        let mut cfg = AnswerConfig {
            username: "sipkit".to_owned(),
            session_id,
            address,
            audio_port: AUDIO_PORT,
            audio_codecs: vec![
                AudioCodec::Pcmu,
                AudioCodec::Pcma,
                AudioCodec::TelephoneEvent,
            ],
            accept_types: vec!["*".to_owned()],
            accept_wrapped_types: vec!["*".to_owned()],
            ..AnswerConfig::default()
        };
        let proto = if msrp.tls() {
            "TCP/TLS/MSRP"
        } else {
            "TCP/MSRP"
        };
        let msrp_offer = offer.media.iter().find(|m| m.is_msrp() && m.port != 0);
        let usable = msrp_offer.filter(|m| m.proto.eq_ignore_ascii_case(proto));
        // RFC 5547 §8: a file offer is declined by refusing its stream. Without --save-dir
        // there is nowhere to keep the file, and saying so beats a transfer thrown away.
        let file_offer = usable.is_some_and(|m| m.file_selector().is_some());
        if file_offer && self.cfg.msrp.as_ref().is_some_and(|a| !a.save_files) {
            return Err((
                399,
                "file transfer (a=file-selector) needs listen --save-dir".to_owned(),
            ));
        }
        let mut session = None;
        if let (Some(ours), Some(m)) = (self.cfg.msrp.clone(), usable) {
            cfg.msrp_port = ours.port;
            cfg.accept_types = ours.accept_types;
            cfg.max_size = Some(ours.max_size);
            // A first answer with a stand-in path tells which types both sides take (RFC 4975
            // §8.6); the session is announced with those, then the answer is built for real.
            cfg.msrp_path = "msrp://0.0.0.0:9/x;tcp".to_owned();
            let draft = SdpBuilder::answer_for(&offer, &cfg);
            let drafted = sdp::parse(draft.as_bytes()).ok().and_then(|a| {
                let dm = a.media.iter().find(|d| d.is_msrp() && d.port != 0)?;
                let types: Vec<String> = match dm.accept_types() {
                    Some(Ok(t)) => t.iter().map(|t| t.as_str().to_owned()).collect(),
                    _ => return None,
                };
                let active = matches!(dm.setup(), Some(Ok(Setup::Active)));
                Some((types, active))
            });
            match drafted {
                Some((types, active)) => {
                    let Some((id, uri)) = msrp.add(&types) else {
                        return Err((
                            399,
                            "too many MSRP sessions (--max-msrp-sessions)".to_owned(),
                        ));
                    };
                    cfg.msrp_path = uri;
                    let remote_path = match m.path() {
                        Some(Ok(p)) => p.iter().map(|s| (*s).to_owned()).collect(),
                        _ => Vec::new(),
                    };
                    let (file_name, file_sha1, file_warning) = match m.file_selector_tolerant() {
                        Some(Ok((fs, warning))) => (
                            fs.name.and_then(|n| n.decoded()).map(|n| n.into_owned()),
                            fs.hashes
                                .into_iter()
                                .find(|h| h.algorithm.eq_ignore_ascii_case("sha-1"))
                                .map(|h| h.bytes),
                            warning.map(|w| format!("a=file-selector: {} ({})", w.message, w.rfc)),
                        ),
                        _ => (None, None, None),
                    };
                    session = Some(MsrpOffer {
                        session: id,
                        remote_path,
                        active,
                        file_name,
                        file_sha1,
                        file_warning,
                    });
                }
                None => cfg.msrp_path.clear(),
            }
        }
        let answer = SdpBuilder::answer_for(&offer, &cfg);
        let accepted = accepts_a_stream(&answer);
        if !accepted {
            return Err(if msrp_offer.is_some() && self.cfg.msrp.is_none() {
                (304, "MSRP is not available".to_owned())
            } else if msrp_offer.is_some() && usable.is_none() {
                (304, format!("only {proto} is available for MSRP"))
            } else {
                (304, "no offered media stream is supported".to_owned())
            });
        }
        if msrp_offer.is_none() && !bracketed {
            self.answers
                .put(msg.body, flow.local.ip(), session_id, &answer);
        }
        self.msrp_offers.extend(session);
        Ok(answer)
    }

    /// RFC 3261 §10.3: update the bindings of the To address of record, answer with them all.
    fn on_register(&mut self, id: TxId, msg: &Message<'_>, flow: &Flow, tag: &str, now: Instant) {
        let aor = match msg.to_addr() {
            Ok(to) => aor_of(&to.uri),
            Err(e) => {
                self.respond(
                    id,
                    msg,
                    flow,
                    400,
                    &format!("Bad To: {}", e.message),
                    Some(tag),
                    Vec::new(),
                    None,
                    now,
                );
                return;
            }
        };
        let header_expires = match msg.expires() {
            Some(Ok(e)) => Some(e),
            _ => None,
        };
        let mut changes: Vec<(String, u32)> = Vec::new();
        let mut star = false;
        let mut too_brief = false;
        for c in msg.contacts() {
            match c {
                Ok(Contact::Star) => star = true,
                Ok(c @ Contact::Addr(a)) => {
                    let expires = match c.expires() {
                        Some(Ok(e)) => e,
                        _ => header_expires.unwrap_or(DEFAULT_EXPIRES),
                    };
                    // RFC 3261 §10.3 step 7: 423 only for an interval above zero and below
                    // an hour; a longer one is shortened to our maximum.
                    too_brief |= expires > 0 && expires < 3600 && expires < self.cfg.min_expires;
                    changes.push((a.uri.raw.to_owned(), expires.min(self.cfg.max_expires)));
                }
                Err(e) => {
                    let reason = format!("Bad Contact: {}", e.message);
                    self.respond(
                        id,
                        msg,
                        flow,
                        400,
                        &reason,
                        Some(tag),
                        Vec::new(),
                        None,
                        now,
                    );
                    return;
                }
            }
        }
        if star && (header_expires != Some(0) || !changes.is_empty()) {
            // §10.3 step 6: `*` only with Expires 0 and no other Contact.
            self.respond(
                id,
                msg,
                flow,
                400,
                "Invalid Contact *",
                Some(tag),
                Vec::new(),
                None,
                now,
            );
            return;
        }
        if too_brief {
            let extra = vec![("Min-Expires".to_owned(), self.cfg.min_expires.to_string())];
            self.respond(
                id,
                msg,
                flow,
                423,
                "Interval Too Brief",
                Some(tag),
                extra,
                None,
                now,
            );
            return;
        }
        let call_id = msg.call_id().unwrap_or_default();
        let cseq = msg.cseq().map(|c| c.seq).unwrap_or(0);
        let mut list = Vec::new();
        if self.cfg.registrar {
            let entry = self.bindings.entry(aor.clone()).or_default();
            entry.retain(|b| b.expires_at > now);
            // RFC 3261 §10.3 steps 6-7: a binding this request changes that an earlier
            // request of the same Call-ID made with a CSeq at least as high means this one
            // is out of order (a retransmission is absorbed before; this is a stale or
            // reordered REGISTER). The update is aborted as a whole. The RFC names no code;
            // §12.2.2 answers an out-of-order request in a dialog 500, and so does this.
            let stale = entry.iter().find(|b| {
                b.call_id == call_id
                    && b.cseq >= cseq
                    && (star || changes.iter().any(|(c, _)| *c == b.contact))
            });
            if let Some(b) = stale {
                let why = format!(
                    "out of order: CSeq {cseq} is not higher than {} of the REGISTER that made \
                     the binding of {} with this Call-ID (RFC 3261 §10.3 step 7)",
                    b.cseq, b.contact
                );
                let extra = vec![("Warning".to_owned(), format!("399 sipkit \"{why}\""))];
                if entry.is_empty() {
                    self.bindings.remove(&aor);
                }
                self.respond(
                    id,
                    msg,
                    flow,
                    500,
                    "Server Internal Error",
                    Some(tag),
                    extra,
                    None,
                    now,
                );
                return;
            }
            if star {
                entry.clear();
            }
            for (contact, expires) in changes {
                entry.retain(|b| b.contact != contact);
                if expires > 0 {
                    entry.push(Binding {
                        contact,
                        expires_at: now + Duration::from_secs(u64::from(expires)),
                        call_id: call_id.to_owned(),
                        cseq,
                    });
                }
            }
            for b in entry.iter() {
                let left = b.expires_at.saturating_duration_since(now);
                // Round up, so a binding still present never shows 0.
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                list.push(BindingRecord {
                    contact: b.contact.clone(),
                    expires: u32::try_from(secs).unwrap_or(u32::MAX),
                });
            }
            if entry.is_empty() {
                self.bindings.remove(&aor);
            }
        } else {
            // Without --registrar nothing is kept: the bindings asked for are echoed back.
            list = changes
                .into_iter()
                .filter(|(_, e)| *e > 0)
                .map(|(contact, expires)| BindingRecord { contact, expires })
                .collect();
        }
        let mut extra: Vec<(String, String)> = list
            .iter()
            .map(|b| {
                (
                    "Contact".to_owned(),
                    format!("<{}>;expires={}", b.contact, b.expires),
                )
            })
            .collect();
        // RFC 3261 §10.3 step 8: the 200 SHOULD carry Date (clients without a clock set it).
        let wall = self.wall_start + now.saturating_duration_since(self.start);
        let secs = wall
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        extra.push(("Date".to_owned(), crate::proto::sip::build::sip_date(secs)));
        self.respond(id, msg, flow, 200, "OK", Some(tag), extra, None, now);
        if self.cfg.registrar {
            let at = self.at(now);
            self.events
                .push(ListenEvent::Registration(RegistrationRecord {
                    at_ms: at,
                    aor,
                    call_id: msg.call_id().unwrap_or_default().to_owned(),
                    bindings: list,
                }));
        }
    }

    /// Check Digest credentials (RFC 3261 §22.4); when they are missing, wrong or stale, send
    /// the challenge and return false.
    fn authorized(
        &mut self,
        id: TxId,
        msg: &Message<'_>,
        flow: &Flow,
        tag: &str,
        now: Instant,
    ) -> bool {
        let method = msg.method().unwrap_or_default().to_owned();
        let register = method == "REGISTER";
        let header = if register {
            HeaderName::Authorization
        } else {
            HeaderName::ProxyAuthorization
        };
        let call_id = msg.call_id().unwrap_or_default().to_owned();
        let mut outcome: (&'static str, Option<String>, Option<String>, Option<String>) =
            ("challenged", None, None, None);
        for auth in msg.auth(header) {
            let Ok(auth) = auth else {
                outcome = (
                    "rejected",
                    None,
                    None,
                    Some("unparsable credentials".into()),
                );
                continue;
            };
            let creds = match Credentials::parse(&auth) {
                Ok(c) => c,
                Err(e) => {
                    outcome = ("rejected", None, None, Some(e.to_string()));
                    continue;
                }
            };
            if creds.realm != self.cfg.realm {
                continue;
            }
            let user = Some(creds.username.to_string());
            let alg = Some(creds.algorithm.as_str().to_owned());
            if !self.cfg.algorithms.contains(&creds.algorithm) {
                outcome = ("rejected", user, alg, Some("algorithm not offered".into()));
                break;
            }
            let Some(password) = self.cfg.users.get(creds.username.as_ref()) else {
                outcome = ("rejected", user, alg, Some("unknown user".into()));
                break;
            };
            let lifetime = self.cfg.nonce_lifetime;
            let fresh = self
                .nonces
                .get(creds.nonce.as_ref())
                .is_some_and(|issued| now.saturating_duration_since(*issued) < lifetime);
            let issued = if fresh { creds.nonce.as_ref() } else { "" };
            outcome = match digest::verify(
                &creds,
                &Secret::Password(password),
                &method,
                msg.body,
                issued,
            ) {
                Verdict::Ok => {
                    let at = self.at(now);
                    self.events.push(ListenEvent::Auth(AuthRecord {
                        at_ms: at,
                        method,
                        call_id,
                        result: "accepted",
                        user,
                        algorithm: alg,
                        reason: None,
                    }));
                    return true;
                }
                Verdict::Stale => ("stale", user, alg, None),
                Verdict::Wrong => ("rejected", user, alg, Some("wrong response".into())),
            };
            break;
        }
        let (result, user, algorithm, reason) = outcome;
        let at = self.at(now);
        self.events.push(ListenEvent::Auth(AuthRecord {
            at_ms: at,
            method: method.clone(),
            call_id,
            result,
            user,
            algorithm,
            reason,
        }));
        if result == "rejected" {
            // Challenging again with a fresh nonce would have a client retry for ever; a
            // wrong password is a refusal (RFC 3261 §21.4.4).
            self.respond(
                id,
                msg,
                flow,
                403,
                "Forbidden",
                Some(tag),
                Vec::new(),
                None,
                now,
            );
            return false;
        }
        let nonce = self.issue_nonce(now);
        let (code, reason, name) = if register {
            (401, "Unauthorized", "WWW-Authenticate")
        } else {
            (407, "Proxy Authentication Required", "Proxy-Authenticate")
        };
        let extra = self
            .cfg
            .algorithms
            .iter()
            .map(|alg| {
                let mut v = format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"",
                    self.cfg.realm,
                    alg.as_str()
                );
                if result == "stale" {
                    v.push_str(", stale=true");
                }
                (name.to_owned(), v)
            })
            .collect();
        self.respond(id, msg, flow, code, reason, Some(tag), extra, None, now);
        false
    }

    fn issue_nonce(&mut self, now: Instant) -> String {
        if self.nonces.len() >= MAX_NONCES {
            let lifetime = self.cfg.nonce_lifetime;
            self.nonces
                .retain(|_, issued| now.saturating_duration_since(*issued) < lifetime);
        }
        let mut nonce = self.fresh("n");
        if !self.cfg.test_mode {
            let _ = write!(nonce, "{}", self.fresh("n"));
        }
        self.nonces.insert(nonce.clone(), now);
        nonce
    }

    /// Run the timers due at `now`: transaction timers, ringing INVITEs to answer, 2xx to
    /// retransmit.
    #[cfg(test)]
    pub(crate) fn on_tick(&mut self, now: Instant) {
        self.on_tick_msrp(now, &mut NoMsrp);
    }

    /// [`Uas::on_tick`], announcing MSRP sessions of INVITEs answered now to `msrp`.
    pub(crate) fn on_tick_msrp(&mut self, now: Instant, msrp: &mut dyn MsrpSessions) {
        for ev in self.txs.on_timer(now) {
            match ev {
                TimerEvent::Retransmit { response, ctx, .. } => {
                    self.summary.retransmissions_sent += 1;
                    self.out.push(Outgoing {
                        flow: ctx,
                        bytes: response.into(),
                    });
                }
                TimerEvent::NoAck { ctx, .. } => {
                    self.error(
                        Some(&ctx),
                        "no ACK came for a final response to INVITE (timer H)".into(),
                        now,
                    );
                }
                TimerEvent::Terminated(_) => {}
            }
        }
        let due: Vec<TxId> = self
            .invites
            .iter()
            .filter(|(_, p)| p.answer_at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(p) = self.invites.remove(&id) {
                if let Ok(Status::Complete(msg, _)) = parse(&p.request, &ParseOptions::datagram()) {
                    self.answer_invite(id, &msg, &p.flow, &p.to_tag, now, msrp);
                }
            }
        }
        let mut gave_up = Vec::new();
        for (key, p) in &mut self.acks {
            match p.schedule.on_timer(now) {
                Retransmit2xxAction::Wait => {}
                Retransmit2xxAction::Send => {
                    self.summary.retransmissions_sent += 1;
                    self.out.push(Outgoing {
                        flow: p.flow,
                        bytes: p.bytes.clone(),
                    });
                }
                Retransmit2xxAction::GiveUp => gave_up.push((key.clone(), p.flow)),
            }
        }
        for (key, flow) in gave_up {
            self.acks.remove(&key);
            self.error(
                Some(&flow),
                format!(
                    "no ACK for the 2xx to INVITE (Call-ID {}) after 64*T1",
                    key.split('\n').next().unwrap_or_default()
                ),
                now,
            );
        }
        // A burst's peak is not kept for the life of the process.
        shrink_map(&mut self.invites);
        shrink_map(&mut self.acks);
        shrink_map(&mut self.dialogs);
        shrink_map(&mut self.nonces);
        shrink_map(&mut self.bindings);
        shrink_map(&mut self.msrp_dialogs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    proptest::proptest! {
        #[test]
        fn mentions_tag_is_a_search_for_tag_eq(s in "[tagTAG=; <>x]{0,24}") {
            let plain = s.as_bytes().windows(4).any(|w| w.eq_ignore_ascii_case(b"tag="));
            proptest::prop_assert_eq!(mentions_tag(s.as_bytes()), plain);
        }
    }

    /// The To of each response `uas` queued.
    fn response_tos(uas: &mut Uas) -> Vec<String> {
        uas.out
            .drain(..)
            .map(|o| {
                let text = String::from_utf8_lossy(&o.bytes).into_owned();
                text.split("\r\n")
                    .find_map(|l| l.strip_prefix("To: "))
                    .expect("a To")
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn a_response_adds_our_tag_only_when_the_to_has_none() {
        let t0 = Instant::now();
        let mut uas = Uas::new(cfg(), t0);
        // In a dialog (the tag is the request's, answered from what arrival parsed).
        let bye = request("BYE", "z9hG4bKd1", Some("t9"), "", "");
        uas.on_message(&bye, flow(), t0);
        assert_eq!(response_tos(&mut uas), ["<sip:bob@127.0.0.1>;tag=t9"]);
        assert_eq!(uas.to_seen, None, "cleared once the request is handled");
        // `tag=` only inside the URI is no tag: ours goes in.
        let opts = String::from_utf8(request("OPTIONS", "z9hG4bKd2", None, "", ""))
            .expect("text")
            .replace("To: <sip:bob@127.0.0.1>", "To: <sip:bob@127.0.0.1;tag=u>");
        uas.on_message(opts.as_bytes(), flow(), t0);
        let tos = response_tos(&mut uas);
        assert_eq!(tos.len(), 1);
        let ours = tos[0]
            .strip_prefix("<sip:bob@127.0.0.1;tag=u>;tag=")
            .expect("our tag added");
        assert!(!ours.is_empty() && !ours.contains(';'), "{ours}");
        // Neither the cache nor the text search is fooled by a request that is not the one
        // being handled.
        let (m, _) = parse(&bye, &ParseOptions::datagram())
            .expect("ok")
            .complete()
            .expect("complete");
        assert!(uas.to_has_tag(&m));
        let (m, _) = parse(opts.as_bytes(), &ParseOptions::datagram())
            .expect("ok")
            .complete()
            .expect("complete");
        assert!(!uas.to_has_tag(&m));
    }

    #[test]
    fn hex16_is_the_formatted_hex() {
        for v in [
            0,
            1,
            0xf,
            0x1234_5678_9abc_def0,
            u64::MAX,
            0x8000_0000_0000_0000,
        ] {
            assert_eq!(hex16(v), format!("{v:016x}"));
        }
    }

    #[test]
    fn a_cached_answer_is_the_answer_built_afresh() {
        let offer = b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\n";
        let parsed = sdp::parse(offer).expect("offer");
        let answer = |session_id| {
            SdpBuilder::answer_for(
                &parsed,
                &AnswerConfig {
                    username: "sipkit".to_owned(),
                    session_id,
                    address: "127.0.0.1".to_owned(),
                    audio_port: AUDIO_PORT,
                    audio_codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
                    ..AnswerConfig::default()
                },
            )
        };
        let here: IpAddr = [127, 0, 0, 1].into();
        let mut cache = AnswerCache::default();
        assert_eq!(cache.get(offer, here, 7), None);
        cache.put(offer, here, 5, &answer(5));
        assert_eq!(
            cache.get(offer, here, 123_456).as_deref(),
            Some(&*answer(123_456))
        );
        // Another offer, or the same one reaching another address of ours, is not answered
        // from the cache.
        assert_eq!(cache.get(&offer[..offer.len() - 2], here, 6), None);
        assert_eq!(cache.get(offer, [127, 0, 0, 2].into(), 6), None);
        assert!(accepts_a_stream(&answer(1)));
        assert!(!accepts_a_stream(
            "v=0\r\nm=audio 0 RTP/AVP 0\r\nm=message 0 TCP/MSRP *\r\n"
        ));
    }

    fn cfg() -> UasConfig {
        UasConfig {
            replies: HashMap::new(),
            ring: Duration::ZERO,
            headers: Vec::new(),
            registrar: false,
            users: HashMap::new(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            realm: "sipkit".into(),
            nonce_lifetime: Duration::from_secs(300),
            full: false,
            msrp: None,
            timers: Timers::default(),
            test_mode: true,
            max_transactions: 1000,
            max_expires: 3600,
            min_expires: 0,
        }
    }

    fn flow() -> Flow {
        let local: SocketAddr = "127.0.0.1:5060".parse().expect("addr");
        let remote: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        Flow {
            proto: Proto::Udp,
            local,
            remote,
            conn: None,
        }
    }

    fn request(
        method: &str,
        branch: &str,
        to_tag: Option<&str>,
        extra: &str,
        body: &str,
    ) -> Vec<u8> {
        let tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        format!(
            "{method} sip:bob@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:4000;branch={branch}\r\n\
             From: <sip:alice@127.0.0.1>;tag=a1\r\n\
             To: <sip:bob@127.0.0.1>{tag}\r\n\
             Call-ID: call1\r\n\
             CSeq: 1 {method}\r\n\
             Max-Forwards: 70\r\n{extra}\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn statuses(uas: &mut Uas) -> Vec<u16> {
        uas.out
            .drain(..)
            .map(|o| {
                let Ok(Status::Complete(m, _)) = parse(&o.bytes, &ParseOptions::datagram()) else {
                    panic!("unparsable response");
                };
                m.status().expect("a response")
            })
            .collect()
    }

    #[test]
    fn the_end_of_a_burst_is_told_once() {
        let t0 = Instant::now();
        let mut uas = Uas::new(
            UasConfig {
                max_transactions: 10 * BURST,
                ..cfg()
            },
            t0,
        );
        let t1 = t0 + Duration::from_secs(1);
        for i in 0..BURST {
            let req = request("OPTIONS", &format!("z9hG4bKb{i}"), None, "", "");
            // The last thirty-second a second later than the rest.
            let at = if i < BURST - BURST / 32 { t0 } else { t1 };
            uas.on_message(&req, flow(), at);
            uas.out.clear();
        }
        assert!(
            !uas.burst_over(),
            "all {BURST} transactions are alive (Timer J)"
        );
        // 64*T1 later most have ended: told; then once more when the last ones have.
        uas.on_tick(t0 + Duration::from_millis(32_500));
        assert_eq!(uas.txs.len(), BURST / 32);
        assert!(uas.burst_over());
        assert!(!uas.burst_over());
        uas.on_tick(t1 + Duration::from_secs(33));
        assert!(uas.txs.is_empty());
        assert!(uas.burst_over());
        assert!(!uas.burst_over());
        // A few requests are no burst.
        let req = request("OPTIONS", "z9hG4bKlast", None, "", "");
        uas.on_message(&req, flow(), t0 + Duration::from_secs(34));
        uas.on_tick(t0 + Duration::from_secs(70));
        assert!(!uas.burst_over());
    }

    #[test]
    fn options_is_answered_and_a_retransmission_gets_the_same_response() {
        let now = Instant::now();
        let mut uas = Uas::new(cfg(), now);
        let req = request("OPTIONS", "z9hG4bK1", None, "", "");
        uas.on_message(&req, flow(), now);
        let first = uas.out.clone();
        assert_eq!(statuses(&mut uas), [200]);
        uas.on_message(&req, flow(), now);
        assert_eq!(uas.out, first, "the retransmission gets the same bytes");
        assert_eq!(uas.summary.retransmissions_absorbed, 1);
        assert_eq!(uas.counted, 1);
    }

    #[test]
    fn invite_answered_at_once_gets_180_200_without_100_then_the_2xx_is_resent_until_ack() {
        let t0 = Instant::now();
        let mut uas = Uas::new(cfg(), t0);
        let sdp = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 4000 RTP/AVP 0\r\n";
        let inv = request(
            "INVITE",
            "z9hG4bK2",
            None,
            "Content-Type: application/sdp\r\n",
            sdp,
        );
        uas.on_message(&inv, flow(), t0);
        let ok = uas.out[1].bytes.clone();
        assert_eq!(
            statuses(&mut uas),
            [180, 200],
            "no 100: the answer is immediate"
        );
        let text = String::from_utf8_lossy(&ok).into_owned();
        assert!(text.contains("m=audio 49170 RTP/AVP 0\r\n"), "{text}");
        assert!(text.contains("Contact: <sip:127.0.0.1:5060>"), "{text}");
        uas.on_tick(t0 + Duration::from_millis(600));
        assert_eq!(statuses(&mut uas), [200], "resent at T1");
        let ack = request("ACK", "z9hG4bK3", Some("t1"), "", "");
        uas.on_message(&ack, flow(), t0 + Duration::from_millis(700));
        assert!(uas.settled());
        uas.on_tick(t0 + Duration::from_secs(2));
        assert!(uas.out.is_empty(), "no more 2xx after the ACK");
        let bye = request("BYE", "z9hG4bK4", Some("t1"), "", "");
        uas.on_message(&bye, flow(), t0 + Duration::from_secs(3));
        assert_eq!(statuses(&mut uas), [200]);
        uas.on_message(&request("BYE", "z9hG4bK5", Some("t1"), "", ""), flow(), t0);
        assert_eq!(statuses(&mut uas), [481], "the dialog is gone");
    }

    #[test]
    fn cancel_ends_a_ringing_invite_with_487() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.ring = Duration::from_secs(5);
        let mut uas = Uas::new(c, t0);
        uas.on_message(&request("INVITE", "z9hG4bK6", None, "", ""), flow(), t0);
        assert_eq!(statuses(&mut uas), [100, 180], "ringing: the 100 first");
        uas.on_message(&request("CANCEL", "z9hG4bK6", None, "", ""), flow(), t0);
        assert_eq!(statuses(&mut uas), [200, 487]);
        uas.on_tick(t0 + Duration::from_secs(6));
        assert_eq!(
            statuses(&mut uas),
            [487],
            "timer G resends the 487 until the ACK"
        );
    }

    #[test]
    fn reply_overrides_and_msrp_without_a_session_layer_is_488() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.replies.insert(
            "MESSAGE".into(),
            Reply {
                code: 403,
                reason: "Go away".into(),
            },
        );
        let mut uas = Uas::new(c, t0);
        uas.on_message(&request("MESSAGE", "z9hG4bK7", None, "", ""), flow(), t0);
        assert_eq!(statuses(&mut uas), [403]);
        let sdp = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=message 7654 TCP/MSRP *\r\na=accept-types:text/plain\r\n\
                   a=path:msrp://127.0.0.1:7654/abc;tcp\r\n";
        let inv = request(
            "INVITE",
            "z9hG4bK8",
            None,
            "Content-Type: application/sdp\r\n",
            sdp,
        );
        uas.on_message(&inv, flow(), t0);
        assert_eq!(statuses(&mut uas), [180, 488]);
    }

    /// A session layer that records what it was asked for.
    #[derive(Default)]
    struct FakeMsrp {
        tls: bool,
        added: Vec<Vec<String>>,
    }

    impl MsrpSessions for FakeMsrp {
        fn tls(&self) -> bool {
            self.tls
        }
        fn add(&mut self, accept_types: &[String]) -> Option<(String, String)> {
            self.added.push(accept_types.to_vec());
            let id = format!("sess{}", self.added.len());
            let uri = format!("msrp://127.0.0.1:2855/{id};tcp");
            Some((id, uri))
        }
    }

    #[test]
    fn msrp_offer_is_answered_with_our_path_common_types_and_setup_then_bye_ends_it() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.msrp = Some(MsrpAnswer {
            port: 2855,
            accept_types: vec!["text/plain".into(), "image/*".into()],
            max_size: 4096,
            save_files: true,
        });
        let mut uas = Uas::new(c, t0);
        let mut msrp = FakeMsrp::default();
        let sdp = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=message 7654 TCP/MSRP *\r\na=accept-types:text/plain image/png video/*\r\n\
                   a=path:msrp://127.0.0.1:7654/abc;tcp\r\na=setup:passive\r\n\
                   a=file-selector:name:\"a b.png\" type:image/png size:10\r\n";
        let inv = request(
            "INVITE",
            "z9hG4bKm1",
            None,
            "Content-Type: application/sdp\r\n",
            sdp,
        );
        uas.on_message_msrp(&inv, flow(), t0, &mut msrp);
        let ok = uas.out.last().expect("a 200").bytes.clone();
        assert_eq!(statuses(&mut uas), [180, 200]);
        let text = String::from_utf8_lossy(&ok).into_owned();
        let body = text.split("\r\n\r\n").nth(1).expect("an answer");
        assert!(body.contains("m=message 2855 TCP/MSRP *\r\n"), "{body}");
        assert!(
            body.contains("a=accept-types:text/plain image/png\r\n"),
            "{body}"
        );
        assert!(
            body.contains("a=path:msrp://127.0.0.1:2855/sess1;tcp\r\n"),
            "{body}"
        );
        assert!(body.contains("a=max-size:4096\r\n"), "{body}");
        assert!(body.contains("a=setup:active\r\n"), "{body}");
        assert_eq!(
            msrp.added,
            [vec!["text/plain".to_owned(), "image/png".to_owned()]]
        );
        assert_eq!(
            std::mem::take(&mut uas.msrp_offers),
            [MsrpOffer {
                session: "sess1".into(),
                remote_path: vec!["msrp://127.0.0.1:7654/abc;tcp".into()],
                active: true,
                file_name: Some("a b.png".into()),
                file_sha1: None,
                file_warning: None,
            }]
        );
        let tag = text
            .split("\r\n")
            .find_map(|l| l.strip_prefix("To: "))
            .and_then(|t| t.split(";tag=").nth(1))
            .expect("a To tag")
            .to_owned();
        let bye = request("BYE", "z9hG4bKm2", Some(&tag), "", "");
        uas.on_message_msrp(&bye, flow(), t0, &mut msrp);
        assert_eq!(statuses(&mut uas), [200]);
        assert_eq!(uas.msrp_ended, ["sess1"]);

        // TLS only: a TCP/MSRP offer is refused, and says why.
        let mut tls = FakeMsrp {
            tls: true,
            ..FakeMsrp::default()
        };
        let inv = request(
            "INVITE",
            "z9hG4bKm3",
            None,
            "Content-Type: application/sdp\r\n",
            sdp,
        );
        uas.on_message_msrp(&inv, flow(), t0, &mut tls);
        let refused = String::from_utf8_lossy(&uas.out.last().expect("488").bytes).into_owned();
        assert_eq!(statuses(&mut uas), [180, 488]);
        assert!(
            refused.contains("only TCP/TLS/MSRP is available"),
            "{refused}"
        );
        assert!(tls.added.is_empty());
    }

    #[test]
    fn digest_challenge_accept_and_stale_nonce() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.users.insert("alice".into(), "secret".into());
        c.nonce_lifetime = Duration::from_secs(10);
        let mut uas = Uas::new(c, t0);
        uas.on_message(&request("MESSAGE", "z9hG4bK9", None, "", ""), flow(), t0);
        let challenge = uas.out[0].bytes.clone();
        assert_eq!(statuses(&mut uas), [407]);
        let text = String::from_utf8_lossy(&challenge).into_owned();
        assert!(text.contains("Proxy-Authenticate: Digest realm=\"sipkit\", nonce=\"n2\", algorithm=SHA-256, qop=\"auth\"\r\n"), "{text}");
        let answer = |uas: &mut Uas, branch: &str, nonce: &str, at: Instant| {
            let ch =
                format!("Digest realm=\"sipkit\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"");
            let parsed = crate::proto::sip::headers::Auth::parse(&ch, 0).expect("auth");
            let ch = digest::Challenge::parse(&parsed).expect("challenge");
            let a = digest::Client::new()
                .authorize(
                    &ch,
                    "alice",
                    &Secret::Password("secret"),
                    &digest::Request {
                        method: "MESSAGE",
                        uri: "sip:bob@127.0.0.1",
                        body: b"",
                    },
                    false,
                    &mut || "cn".to_owned(),
                )
                .expect("authorize");
            let extra = format!("Proxy-Authorization: {}\r\n", a.value);
            uas.on_message(&request("MESSAGE", branch, None, &extra, ""), flow(), at);
        };
        answer(&mut uas, "z9hG4bK10", "n2", t0);
        assert_eq!(statuses(&mut uas), [200]);
        answer(&mut uas, "z9hG4bK11", "n2", t0 + Duration::from_secs(11));
        let stale = String::from_utf8_lossy(&uas.out[0].bytes).into_owned();
        assert_eq!(statuses(&mut uas), [407]);
        assert!(stale.contains("stale=true"), "{stale}");
        let results: Vec<&str> = uas
            .events
            .iter()
            .filter_map(|e| match e {
                ListenEvent::Auth(a) => Some(a.result),
                _ => None,
            })
            .collect();
        assert_eq!(results, ["challenged", "accepted", "stale"]);
    }

    #[test]
    fn registrar_keeps_bindings_until_they_expire() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.registrar = true;
        let mut uas = Uas::new(c, t0);
        let reg = request(
            "REGISTER",
            "z9hG4bK12",
            None,
            "Contact: <sip:alice@10.0.0.1:5070>;expires=2\r\n",
            "",
        );
        uas.on_message(&reg, flow(), t0);
        let ok = String::from_utf8_lossy(&uas.out[0].bytes).into_owned();
        assert!(
            ok.contains("Contact: <sip:alice@10.0.0.1:5070>;expires=2\r\n"),
            "{ok}"
        );
        uas.out.clear();
        uas.events.clear();
        uas.on_message(&request("MESSAGE", "z9hG4bK13", None, "", ""), flow(), t0);
        let Some(ListenEvent::Request(r)) = uas.events.first() else {
            panic!("no request event");
        };
        assert_eq!(r.registered.as_deref(), Some("sip:bob@127.0.0.1"));
        let query = request("REGISTER", "z9hG4bK14", None, "", "");
        uas.on_message(&query, flow(), t0 + Duration::from_secs(3));
        let ok = String::from_utf8_lossy(&uas.out[1].bytes).into_owned();
        assert!(!ok.contains("Contact:"), "expired: {ok}");
    }
}

#[cfg(test)]
mod stateless_tests {
    use super::*;

    fn src() -> SocketAddr {
        "192.0.2.9:5070".parse().expect("addr")
    }

    #[test]
    fn a_request_with_a_bad_cseq_is_answered_400_with_a_warning() {
        let req =
            b"OPTIONS sip:x SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nVia: SIP/2.0/TCP g\r\n\
                    f: <sip:a@x>;tag=1\r\nTo: <sip:x>\r\ni: c1\r\nCSeq: abc\r\n\r\n";
        let r = stateless_response(req, 400, "Bad Request", "bad \"CSeq\"\r\n", "t9", src())
            .expect("answerable");
        assert_eq!(
            String::from_utf8(r.bytes).expect("utf8"),
            concat!(
                "SIP/2.0 400 Bad Request\r\n",
                "Via: SIP/2.0/UDP h;branch=z9hG4bK1;received=192.0.2.9\r\n",
                "Via: SIP/2.0/TCP g\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:x>;tag=t9\r\n",
                "Call-ID: c1\r\nCSeq: abc\r\nWarning: 399 sipkit \"bad \\\"CSeq\\\"  \"\r\n",
                "Server: sipkit/",
                env!("CARGO_PKG_VERSION"),
                "\r\nContent-Length: 0\r\n\r\n"
            )
        );
        assert_eq!(r.call_id, "c1");
        assert_eq!(r.via, Some((false, None)), "sent-by port 5060 by default");
    }

    #[test]
    fn issue_15_a_stateless_answer_fills_rport_and_says_where_it_goes() {
        let req =
            b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5080;rport;branch=z9hG4bK1\r\n\
                    f: <sip:a@x>;tag=1\r\nTo: <sip:x>\r\ni: c1\r\nCSeq: abc\r\n\r\n";
        let r = stateless_response(req, 400, "Bad Request", "x", "t9", src()).expect("answerable");
        let text = String::from_utf8(r.bytes).expect("utf8");
        assert!(
            text.contains(
                "\r\nVia: SIP/2.0/UDP 10.0.0.1:5080;branch=z9hG4bK1;received=192.0.2.9;rport=5070\r\n"
            ),
            "{text}"
        );
        assert_eq!(r.via, Some((true, Some(5080))));
        let flow = Flow {
            proto: Proto::Udp,
            local: "127.0.0.1:5060".parse().expect("addr"),
            remote: src(),
            conn: None,
        };
        assert_eq!(reply_to(&flow, true, Some(5080)).remote, src());
        assert_eq!(
            reply_to(&flow, false, Some(5080)).remote,
            "192.0.2.9:5080".parse().expect("addr")
        );
        assert_eq!(
            reply_to(&flow, false, None).remote,
            "192.0.2.9:5060".parse().expect("addr")
        );
        let tcp = Flow {
            proto: Proto::Tcp,
            ..flow
        };
        assert_eq!(
            reply_to(&tcp, false, Some(5080)),
            tcp,
            "streams answer on the connection"
        );
    }

    #[test]
    fn unaddressable_messages_are_not_answered() {
        let ok = "OPTIONS sip:x SIP/2.0\r\nVia: v\r\nFrom: f\r\nTo: t\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert!(stateless_response(ok.as_bytes(), 400, "Bad Request", "x", "t", src()).is_some());
        for bad in [
            ok.replace("Via: v\r\n", ""),
            ok.replace("Call-ID: c\r\n", ""),
            ok.replace(
                "CSeq: 1 OPTIONS\r\n",
                "CSeq: 1 OPTIONS\r\nCSeq: 2 OPTIONS\r\n",
            ),
            ok.replace("OPTIONS sip:x SIP/2.0", "ACK sip:x SIP/2.0"),
            ok.replace("OPTIONS sip:x SIP/2.0", "SIP/2.0 200 OK"),
            "\u{0}\u{1}garbage".to_owned(),
            String::new(),
        ] {
            assert!(
                stateless_response(bad.as_bytes(), 400, "Bad Request", "x", "t", src()).is_none(),
                "{bad:?}"
            );
        }
        // Bytes that are not UTF-8 in the head: not answered, never a panic.
        assert!(
            stateless_response(b"OPTIONS \xff SIP/2.0\r\n\r\n", 400, "B", "x", "t", src())
                .is_none()
        );
    }
}
