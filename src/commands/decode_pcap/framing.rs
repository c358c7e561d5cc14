//! From capture payloads to whole SIP and MSRP messages, recognised by content on any port.
//!
//! A datagram holds whole messages; a TCP stream direction is a byte stream where one payload
//! may hold several messages or a piece of one. Each stream keeps a bounded buffer: SIP is cut
//! by Content-Length (RFC 3261 §18.3), MSRP by its end-line (RFC 4975 §7.1). After a lost
//! segment (or bytes that are not a message) the partial message is dropped and reading
//! resumes at the next line that starts a SIP or MSRP message, and the loss is reported.

use std::collections::HashMap;
use std::net::SocketAddr;

use std::ops::ControlFlow;

use crate::capture::{Framing, Notice, Payload, RawPacket, Sink, StreamId, Timestamp, Transport};
use crate::proto::{Finding, ParseError, Status, msrp, sip};

/// Where and when a message was seen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta<'a> {
    /// The frame that completed the message.
    pub(crate) frame: u64,
    pub(crate) time: Timestamp,
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) transport: Transport,
    /// The captured packets that carried it (empty unless the reader keeps packets).
    pub(crate) packets: &'a [RawPacket],
    /// Cut from a byte stream (TCP) rather than a datagram: the parse options differ.
    pub(crate) stream: bool,
    /// What the framing found wrong with the message (the tolerant parse's findings, a capture
    /// that cut it short); offsets are relative to the message's first byte. Checks of the
    /// typed fields are made where they are read ([`sip::field_findings`]).
    pub(crate) diagnostics: &'a [Finding],
}

/// One decoded message; `raw` is exactly its bytes.
// Lives on the stack for one message; boxing would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Decoded<'a> {
    Sip(sip::Message<'a>),
    Msrp(msrp::Message<'a>),
}

/// Bytes the decoder could not turn into messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub(crate) frame: u64,
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    /// The TCP stream, `None` for a datagram.
    pub(crate) stream: Option<StreamId>,
    pub(crate) bytes: usize,
    pub(crate) reason: String,
}

/// What the decoder hands its results to.
pub(crate) trait Handler {
    fn message(&mut self, meta: &Meta<'_>, msg: &Decoded<'_>, raw: &[u8]);
    fn dropped(&mut self, dropped: &Dropped);
    fn notice(&mut self, notice: &Notice);
    /// True once nothing more can be output (stdout closed): the capture need not be read on.
    fn stopped(&self) -> bool {
        false
    }
    /// Take a whole datagram to cut into messages elsewhere (with [`datagram_messages`]), or
    /// decline (`false`, the default) to be handed its messages one by one. Only datagrams
    /// without the bytes `MSRP` are offered: they neither carry an MSRP message nor set up an
    /// MSRP session, so no state of the run depends on their content.
    fn datagram(&mut self, _meta: &Meta<'_>, _data: &[u8]) -> bool {
        false
    }
}

/// Per stream direction: the bytes of a message not yet complete.
#[derive(Debug, Default)]
struct StreamBuf {
    buf: Vec<u8>,
    /// Whether `buf` starts at a message boundary; false after a gap, at the start of a capture
    /// that began mid-stream, or after bytes that did not parse.
    synced: bool,
    /// Whether a message was ever read from this stream: bytes skipped on a stream that never
    /// carried SIP or MSRP (TLS, HTTP) are not worth reporting.
    seen_message: bool,
    /// Bytes passed over before the first message (reported once a message shows the stream
    /// carries SIP or MSRP).
    skipped: usize,
    /// Packets that carried the bytes in `buf` (only when packets are kept).
    packets: Vec<RawPacket>,
    /// The last payload's frame, time and addresses, for what is left at the end.
    last: Option<Last>,
}

/// Where and when a stream's last payload was seen.
#[derive(Debug, Clone, Copy)]
struct Last {
    frame: u64,
    time: Timestamp,
    src: SocketAddr,
    dst: SocketAddr,
    transport: Transport,
}

/// Turns payloads into messages; a capture [`Sink`].
#[derive(Debug)]
pub(crate) struct Decoder<H> {
    streams: HashMap<StreamId, StreamBuf, crate::capture::FastHash>,
    /// `MSRP`, looked for in every datagram: built once, as building costs more than a search.
    msrp: memchr::memmem::Finder<'static>,
    max_stream_buffer: usize,
    pub(crate) handler: H,
}

/// The longest first line looked at when deciding whether bytes start a message; real
/// Request-URIs are far shorter, and the bound keeps the check cheap on binary payloads.
const MAX_START_LINE: usize = 4096;

/// Whether `b` begins with a SIP or MSRP start line (the whole line must be present).
///
/// ```text
/// Request-Line = Method SP Request-URI SP SIP-Version CRLF     ; RFC 3261 §7.1
/// Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF
/// req-start    = pMSRP SP transact-id SP method CRLF           ; RFC 4975 §9
/// resp-start   = pMSRP SP transact-id SP status-code [SP comment] CRLF
/// ```
pub(crate) fn starts_message(b: &[u8]) -> bool {
    if b.starts_with(b"SIP/2.0 ") || b.starts_with(b"MSRP ") {
        return true;
    }
    let window = &b[..b.len().min(MAX_START_LINE)];
    // Lines may end with CRLF, LF or CR alone: a broken message is still a message to show.
    let Some(nl) = memchr::memchr2(b'\r', b'\n', window) else {
        return false;
    };
    let line = &window[..nl];
    let line = &line[..line.len() - line.iter().rev().take_while(|&&c| c == b' ').count()];
    let Some(sp) = memchr::memchr(b' ', line) else {
        return false;
    };
    sp > 0
        && line[..sp].iter().all(|&c| crate::proto::scan::is_token(c))
        && line.len() >= 8
        && line[line.len() - 8..].eq_ignore_ascii_case(b" SIP/2.0")
}

/// Whether `b` begins with a status line or an MSRP start line, checked more strictly than
/// [`starts_message`] because these are looked for anywhere, not only at line starts (after a
/// lost segment the next message may follow a body that did not end with CRLF).
fn starts_response_or_msrp(b: &[u8]) -> bool {
    if let Some(rest) = b.strip_prefix(b"SIP/2.0 ") {
        return rest.len() >= 4 && rest[..3].iter().all(u8::is_ascii_digit) && rest[3] == b' ';
    }
    let Some(rest) = b.strip_prefix(b"MSRP ") else {
        return false;
    };
    let Some(sp) = memchr::memchr(b' ', &rest[..rest.len().min(40)]) else {
        return false;
    };
    (4..=32).contains(&sp)
        && msrp::is_ident(&rest[..sp])
        && rest.get(sp + 1..sp + 4).is_some_and(|w| {
            w.iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
}

/// Where the next message begins in `b`: a start line at 0 or just after a LF, or a status
/// line or MSRP start line anywhere.
pub(crate) fn find_start(b: &[u8]) -> Option<usize> {
    if starts_message(b) {
        return Some(0);
    }
    let mut best = memchr::memchr_iter(b'\n', b)
        .map(|i| i + 1)
        .find(|&i| i < b.len() && starts_message(&b[i..]));
    for needle in [&b"SIP/2.0 "[..], b"MSRP "] {
        for at in memchr::memmem::find_iter(b, needle) {
            if best.is_some_and(|x| x <= at) {
                break;
            }
            if starts_response_or_msrp(&b[at..]) {
                best = Some(at);
                break;
            }
        }
    }
    best
}

/// How much of the end of an unsynchronised buffer to keep: the last partial line, which may
/// still become a start line, or (when that is too long to be one) its last bytes, which may
/// hold the beginning of `SIP/2.0 ` or `MSRP `.
fn keep_tail(b: &[u8]) -> usize {
    let line = memchr::memrchr(b'\n', b).map_or(b.len(), |i| b.len() - i - 1);
    if line < MAX_START_LINE {
        line
    } else {
        8.min(b.len())
    }
}

/// How many CR and LF bytes `b` starts with (keep-alives between messages, RFC 5626 §4.4.1).
fn leading_crlf(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| c == b'\r' || c == b'\n').count()
}

/// The result of trying to read one message at the start of a buffer.
#[allow(clippy::large_enum_variant)] // on the stack, like `Decoded`
enum Step<'a> {
    /// A message, the bytes it took, and what is wrong with it (empty when the strict parse
    /// took it).
    Message(Decoded<'a>, usize, Vec<Finding>),
    NeedMore,
    Error(String),
}

// Inlined into its callers so the message (over a kilobyte, its header fields inline) is
// built where it is used rather than moved through the return value.
#[inline(always)]
fn step(buf: &[u8], end: sip::End) -> Step<'_> {
    let stream = end != sip::End::Datagram;
    if buf.starts_with(b"MSRP ") {
        return match msrp::parse(buf) {
            Ok(Status::Complete(m, n)) => Step::Message(Decoded::Msrp(m), n, Vec::new()),
            Ok(Status::Partial) if end == sip::End::Open => Step::NeedMore,
            Ok(Status::Partial) => Step::Error("MSRP message without its end-line".into()),
            Err(e) => msrp_tolerant(buf, end, e),
        };
    }
    let opts = if stream {
        sip::ParseOptions::stream()
    } else {
        sip::ParseOptions::datagram()
    };
    match sip::parse(buf, &opts) {
        Ok(Status::Complete(m, n)) => Step::Message(Decoded::Sip(m), n, Vec::new()),
        Ok(Status::Partial) if end == sip::End::Open => Step::NeedMore,
        Ok(Status::Partial) => tolerant(buf, end, None),
        Err(e) => tolerant(buf, end, Some(e)),
    }
}

/// The strict MSRP parse refused `buf`: read on past what the framing can recover from.
#[cold]
#[inline(never)]
fn msrp_tolerant(buf: &[u8], end: sip::End, strict: ParseError) -> Step<'_> {
    match msrp::parse_tolerant(buf) {
        Ok(Status::Complete((m, findings), n)) => Step::Message(Decoded::Msrp(m), n, findings),
        Ok(Status::Partial) if end == sip::End::Open => Step::NeedMore,
        Ok(Status::Partial) => Step::Error(format!("MSRP message without its end-line ({strict})")),
        Err(e) => Step::Error(e.to_string()),
    }
}

/// The strict parse refused `buf` (or it ended early): read it with the codec's tolerant
/// profile, so the message is shown with what is wrong with it.
#[cold]
#[inline(never)]
fn tolerant(buf: &[u8], end: sip::End, strict: Option<ParseError>) -> Step<'_> {
    let next = |b: &[u8]| find_start(b);
    match sip::parse_tolerant(buf, end, &next) {
        Ok(Status::Complete(t, n)) => Step::Message(Decoded::Sip(t.message), n, t.findings),
        Ok(Status::Partial) => Step::NeedMore,
        Err(e) => Step::Error(strict.unwrap_or(e).to_string()),
    }
}

/// Parse again the bytes of a message the decoder handed out (`raw` and `meta.stream` as
/// given to [`Handler::message`]): the same parse on the same bytes gives the same message,
/// so another thread can format it from a copy of its bytes.
pub(crate) fn reparse(raw: &[u8], stream: bool) -> Option<Decoded<'_>> {
    let end = if stream {
        sip::End::Closed
    } else {
        sip::End::Datagram
    };
    match step(raw, end) {
        Step::Message(m, n, _) if n == raw.len() => Some(m),
        _ => None,
    }
}

/// The messages of one datagram, to `handler`; `meta` is the datagram's.
pub(crate) fn datagram_messages<H: Handler + ?Sized>(
    meta: &Meta<'_>,
    data: &[u8],
    handler: &mut H,
) {
    let mut rest = data;
    let mut first = true;
    loop {
        rest = &rest[leading_crlf(rest)..];
        if rest.is_empty() || !starts_message(rest) {
            // Non-SIP payloads (RTP, DNS...) are the norm in captures and are passed over
            // silently; bytes after a body are ignored as RFC 4475 §3.1.1.8 asks.
            return;
        }
        match step(rest, sip::End::Datagram) {
            Step::Message(msg, n, mut findings) => {
                // Bytes after the body that start no message are discarded (RFC 3261 §18.3):
                // say so on the message, so no byte goes unaccounted for.
                let after = &rest[n..];
                let tail = after.len() - leading_crlf(after);
                let junk = tail > 0 && !starts_message(&after[after.len() - tail..]);
                if junk {
                    findings.push(Finding::warning(ParseError::new(
                        "sip.content-length.trailing",
                        format!(
                            "{tail} bytes after the body (Content-Length) are not part of the \
                             message and are discarded"
                        ),
                        n + after.len() - tail,
                        tail,
                        "RFC 3261 §18.3",
                    )));
                }
                let m = Meta {
                    diagnostics: &findings,
                    ..*meta
                };
                handler.message(&m, &msg, &rest[..n]);
                rest = &rest[n..];
                first = false;
                if junk {
                    return;
                }
            }
            Step::NeedMore => return,
            Step::Error(reason) => {
                let reason = if first {
                    reason
                } else {
                    format!("bytes after the last message of the datagram: {reason}")
                };
                handler.dropped(&Dropped {
                    frame: meta.frame,
                    src: meta.src,
                    dst: meta.dst,
                    stream: None,
                    bytes: rest.len(),
                    reason,
                });
                return;
            }
        }
    }
}

impl<H: Handler> Decoder<H> {
    pub(crate) fn new(max_stream_buffer: usize, handler: H) -> Self {
        Decoder {
            streams: HashMap::default(),
            msrp: memchr::memmem::Finder::new(b"MSRP"),
            max_stream_buffer,
            handler,
        }
    }

    /// Report what is left in every stream buffer (the capture ended inside a message).
    pub(crate) fn finish(&mut self) {
        let mut ids: Vec<StreamId> = self.streams.keys().copied().collect();
        ids.sort();
        for id in ids {
            self.close(id);
        }
    }

    fn close(&mut self, id: StreamId) {
        let Some(mut s) = self.streams.remove(&id) else {
            return;
        };
        if let Some(last) = s.last {
            flush(
                &mut self.handler,
                &mut s,
                id,
                last,
                "the stream ended inside this message (the connection closed or the capture ended)",
            );
        }
    }

    fn datagram(&mut self, p: &Payload<'_>) {
        let meta = meta(p, p.packets);
        if p.snapped > 0 {
            return snapped_datagram(&meta, p.data, p.snapped, &mut self.handler);
        }
        if self.msrp.find(p.data).is_none() && self.handler.datagram(&meta, p.data) {
            return;
        }
        datagram_messages(&meta, p.data, &mut self.handler);
    }

    fn stream(&mut self, p: &Payload<'_>, id: StreamId, gap: u64) {
        let max = self.max_stream_buffer;
        let s = self.streams.entry(id).or_default();
        if gap > 0 {
            if let Some(last) = s.last {
                let why = format!("{gap} bytes of the stream were lost after this point");
                flush(&mut self.handler, s, id, last, &why);
            }
            s.buf.clear();
            s.packets.clear();
            s.synced = false;
        }
        s.last = Some(Last {
            frame: p.frame,
            time: p.time,
            src: p.src,
            dst: p.dst,
            transport: p.transport,
        });
        // Fast path: nothing pending, so parse straight from the payload without copying.
        let mut data = p.data;
        if s.buf.is_empty() && s.synced {
            loop {
                data = &data[leading_crlf(data)..];
                if data.is_empty() {
                    return;
                }
                match step(data, sip::End::Open) {
                    Step::Message(msg, n, findings) => {
                        let m = Meta {
                            diagnostics: &findings,
                            ..meta(p, p.packets)
                        };
                        self.handler.message(&m, &msg, &data[..n]);
                        data = &data[n..];
                        s.seen_message = true;
                    }
                    Step::NeedMore | Step::Error(_) => break,
                }
            }
        }
        s.buf.extend_from_slice(data);
        if !p.packets.is_empty() {
            s.packets.extend_from_slice(p.packets);
        }
        let mut pos = 0;
        loop {
            if !s.synced {
                match find_start(&s.buf[pos..]) {
                    Some(at) => {
                        let skipped = &s.buf[pos..pos + at];
                        let junk = skipped.len() - leading_crlf(skipped);
                        if !s.seen_message {
                            s.skipped += junk;
                        }
                        if junk > 0 && s.seen_message {
                            self.handler.dropped(&Dropped {
                                frame: p.frame,
                                src: p.src,
                                dst: p.dst,
                                stream: Some(id),
                                bytes: junk,
                                reason: "bytes before the next SIP or MSRP start line".into(),
                            });
                        }
                        pos += at;
                        s.synced = true;
                    }
                    None => {
                        let rest = &s.buf[pos..];
                        let skip = rest.len() - keep_tail(rest);
                        let junk = skip - leading_crlf(&rest[..skip]);
                        if !s.seen_message {
                            s.skipped += junk;
                        }
                        if junk > 0 && s.seen_message {
                            self.handler.dropped(&Dropped {
                                frame: p.frame,
                                src: p.src,
                                dst: p.dst,
                                stream: Some(id),
                                bytes: junk,
                                reason: "bytes that do not start a SIP or MSRP message".into(),
                            });
                        }
                        pos += skip;
                        break;
                    }
                }
            }
            pos += leading_crlf(&s.buf[pos..]);
            if pos >= s.buf.len() {
                break;
            }
            match step(&s.buf[pos..], sip::End::Open) {
                Step::Message(msg, n, findings) => {
                    let packets = if s.packets.is_empty() {
                        p.packets
                    } else {
                        &s.packets[..]
                    };
                    if s.skipped > 0 && !s.seen_message {
                        // The capture began inside a message, or the stream opened with
                        // bytes that are not SIP: say how many, now that it is SIP.
                        self.handler.dropped(&before_first_message(
                            (p.frame, p.src, p.dst),
                            id,
                            s.skipped,
                        ));
                    }
                    let m = Meta {
                        diagnostics: &findings,
                        ..meta(p, packets)
                    };
                    self.handler.message(&m, &msg, &s.buf[pos..pos + n]);
                    pos += n;
                    s.packets.clear();
                    s.seen_message = true;
                }
                Step::NeedMore => {
                    if s.buf.len() - pos > max {
                        self.handler.dropped(&Dropped {
                            frame: p.frame,
                            src: p.src,
                            dst: p.dst,
                            stream: Some(id),
                            bytes: s.buf.len() - pos,
                            reason: format!(
                                "message larger than --max-stream-buffer ({max} bytes)"
                            ),
                        });
                        pos = s.buf.len();
                        s.synced = false;
                    }
                    break;
                }
                // A stream that never carried a message: not worth a report.
                Step::Error(_) if !s.seen_message => {
                    let line =
                        memchr::memchr(b'\n', &s.buf[pos..]).map_or(s.buf.len() - pos, |i| i + 1);
                    s.skipped += line;
                    pos += line;
                    s.synced = false;
                }
                Step::Error(reason) => {
                    // Drop the first line only, so a message starting right after it is kept.
                    let line =
                        memchr::memchr(b'\n', &s.buf[pos..]).map_or(s.buf.len() - pos, |i| i + 1);
                    self.handler.dropped(&Dropped {
                        frame: p.frame,
                        src: p.src,
                        dst: p.dst,
                        stream: Some(id),
                        bytes: line,
                        reason,
                    });
                    pos += line;
                    s.synced = false;
                }
            }
        }
        s.buf.drain(..pos);
        if s.buf.is_empty() {
            s.packets.clear();
        } else if s.packets.is_empty() && !p.packets.is_empty() {
            s.packets.extend_from_slice(p.packets);
        }
    }
}

/// Everything found wrong with a message: the framing's findings and the checks of the fields
/// the dissector reads, in order of position. Borrows the framing's when there is nothing to
/// add (the common case: no allocation).
pub(crate) fn message_findings<'f>(
    meta: &'f Meta<'_>,
    msg: &Decoded<'_>,
    scratch: &'f mut Vec<Finding>,
    cache: &mut sip::FieldCache,
) -> &'f [Finding] {
    if let Decoded::Sip(m) = msg {
        sip::field_findings_cached(m, cache, scratch);
    }
    if scratch.is_empty() {
        return meta.diagnostics;
    }
    scratch.extend_from_slice(meta.diagnostics);
    scratch.sort_by_key(|f| f.error.offset);
    scratch
}

fn meta<'a>(p: &Payload<'_>, packets: &'a [RawPacket]) -> Meta<'a> {
    Meta {
        frame: p.frame,
        time: p.time,
        src: p.src,
        dst: p.dst,
        transport: p.transport,
        packets,
        stream: matches!(p.framing, Framing::Stream { .. }),
        diagnostics: &[],
    }
}

/// A datagram the capture's snapshot length cut short: its messages are shown, the last one
/// (which the cut reaches) marked as truncated.
#[cold]
fn snapped_datagram<H: Handler>(meta: &Meta<'_>, data: &[u8], missing: usize, handler: &mut H) {
    struct Mark<'h, H> {
        handler: &'h mut H,
        end: usize,
        base: usize,
        missing: usize,
    }
    impl<H: Handler> Handler for Mark<'_, H> {
        fn message(&mut self, meta: &Meta<'_>, msg: &Decoded<'_>, raw: &[u8]) {
            let at = (raw.as_ptr() as usize).wrapping_sub(self.base) + raw.len();
            if at < self.end {
                return self.handler.message(meta, msg, raw);
            }
            let mut findings = meta.diagnostics.to_vec();
            findings.push(Finding::error(ParseError::new(
                "capture.snaplen",
                format!(
                    "the capture's snapshot length cut this packet: the last {} bytes of the \
                     datagram were not captured",
                    self.missing
                ),
                raw.len(),
                0,
                "",
            )));
            let m = Meta {
                diagnostics: &findings,
                ..*meta
            };
            self.handler.message(&m, msg, raw);
        }
        fn dropped(&mut self, d: &Dropped) {
            let mut d = d.clone();
            d.reason = format!(
                "{} (the snapshot length cut {} bytes of the packet)",
                d.reason, self.missing
            );
            self.handler.dropped(&d);
        }
        fn notice(&mut self, n: &Notice) {
            self.handler.notice(n);
        }
    }
    let mut mark = Mark {
        handler,
        end: data.len()
            - data
                .iter()
                .rev()
                .take_while(|&&c| c == b'\r' || c == b'\n')
                .count(),
        base: data.as_ptr() as usize,
        missing,
    };
    datagram_messages(meta, data, &mut mark);
}

/// The report of the bytes a stream carried before its first message, made with that message.
fn before_first_message(
    (frame, src, dst): (u64, SocketAddr, SocketAddr),
    id: StreamId,
    bytes: usize,
) -> Dropped {
    Dropped {
        frame,
        src,
        dst,
        stream: Some(id),
        bytes,
        reason: "bytes before the first SIP or MSRP start line of the stream".into(),
    }
}

/// A stream stops giving bytes to what `s` holds (it closed, or bytes were lost next): show
/// what can be read of it as messages cut short, and report the rest.
fn flush<H: Handler>(handler: &mut H, s: &mut StreamBuf, id: StreamId, last: Last, why: &str) {
    let mut pos = leading_crlf(&s.buf);
    if !s.synced {
        // Bytes kept only in case they become a start line; they did not.
        let junk = s.buf.len() - pos;
        if !s.seen_message {
            // Passed over like the other bytes before the first message, and counted with them.
            s.skipped += junk;
        }
        if junk > 0 && s.seen_message {
            handler.dropped(&Dropped {
                frame: last.frame,
                src: last.src,
                dst: last.dst,
                stream: Some(id),
                bytes: junk,
                reason: "bytes that do not start a SIP or MSRP message".into(),
            });
        }
        s.buf.clear();
        s.packets.clear();
        return;
    }
    while pos < s.buf.len() {
        match step(&s.buf[pos..], sip::End::Closed) {
            Step::Message(msg, n, mut findings) => {
                findings.push(Finding::error(ParseError::new(
                    "capture.truncated",
                    format!("{why}: what was captured of the message is shown"),
                    n,
                    0,
                    "",
                )));
                let m = Meta {
                    frame: last.frame,
                    time: last.time,
                    src: last.src,
                    dst: last.dst,
                    transport: last.transport,
                    packets: &s.packets,
                    stream: true,
                    diagnostics: &findings,
                };
                if s.skipped > 0 && !s.seen_message {
                    handler.dropped(&before_first_message(
                        (last.frame, last.src, last.dst),
                        id,
                        s.skipped,
                    ));
                }
                handler.message(&m, &msg, &s.buf[pos..pos + n]);
                s.seen_message = true;
                pos += n.max(1);
                pos += leading_crlf(&s.buf[pos.min(s.buf.len())..]);
            }
            Step::NeedMore | Step::Error(_) if !s.seen_message => {
                s.skipped += s.buf.len() - pos;
                break;
            }
            Step::NeedMore | Step::Error(_) => {
                handler.dropped(&Dropped {
                    frame: last.frame,
                    src: last.src,
                    dst: last.dst,
                    stream: Some(id),
                    bytes: s.buf.len() - pos,
                    reason: format!("{why}, inside a message that cannot be read"),
                });
                break;
            }
        }
    }
    s.buf.clear();
    s.packets.clear();
}

impl<H: Handler> Sink for Decoder<H> {
    fn payload(&mut self, payload: &Payload<'_>) -> ControlFlow<()> {
        match payload.framing {
            Framing::Datagram => self.datagram(payload),
            Framing::Stream { id, gap } => self.stream(payload, id, gap),
        }
        if self.handler.stopped() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn notice(&mut self, notice: &Notice) {
        if let Notice::StreamClosed { id } = notice {
            self.close(*id);
        }
        self.handler.notice(notice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Log {
        messages: Vec<(u64, String)>,
        /// The framing's finding codes per message.
        codes: Vec<Vec<&'static str>>,
        dropped: Vec<Dropped>,
        notices: Vec<Notice>,
    }

    impl Handler for Log {
        fn message(&mut self, meta: &Meta<'_>, msg: &Decoded<'_>, raw: &[u8]) {
            let what = match msg {
                Decoded::Sip(m) => m
                    .method()
                    .map_or_else(|| m.status().unwrap_or(0).to_string(), str::to_string),
                Decoded::Msrp(m) => format!("MSRP {}", m.tid),
            };
            assert!(!raw.is_empty());
            // Every message handed out parses again, alone, to the same thing (the parallel
            // printer relies on it).
            let again = reparse(raw, meta.stream).expect("the message parses again");
            assert_eq!(format!("{again:?}"), format!("{msg:?}"));
            self.messages.push((meta.frame, what));
            self.codes
                .push(meta.diagnostics.iter().map(|f| f.error.code).collect());
        }
        fn dropped(&mut self, dropped: &Dropped) {
            self.dropped.push(dropped.clone());
        }
        fn notice(&mut self, notice: &Notice) {
            self.notices.push(notice.clone());
        }
    }

    fn sip(method: &str, body: &str) -> String {
        format!(
            "{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
             Call-ID: c1\r\nCSeq: 1 {method}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    const OK: &str = "SIP/2.0 200 OK\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    const MSRP: &str = "MSRP a786hjs2 SEND\r\nTo-Path: msrp://b.example.com:7777/iau39;tcp\r\n\
From-Path: msrp://a.example.com:7777/jshA7w;tcp\r\nMessage-ID: 87652\r\nByte-Range: 1-3/3\r\n\
Content-Type: text/plain\r\n\r\nHi!\r\n-------a786hjs2$\r\n";

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    fn feed(d: &mut Decoder<Log>, frame: u64, framing: Framing, data: &[u8]) {
        let _ = d.payload(&Payload {
            frame,
            time: Timestamp::default(),
            src: addr("10.0.0.1:5060"),
            dst: addr("10.0.0.2:5060"),
            transport: if framing == Framing::Datagram {
                Transport::Udp
            } else {
                Transport::Tcp
            },
            framing,
            data,
            hep: false,
            snapped: 0,
            packets: &[],
        });
    }

    fn tcp(gap: u64) -> Framing {
        Framing::Stream {
            id: StreamId(1),
            gap,
        }
    }

    fn names(d: &Decoder<Log>) -> Vec<(u64, &str)> {
        d.handler
            .messages
            .iter()
            .map(|(f, s)| (*f, s.as_str()))
            .collect()
    }

    #[test]
    fn recognises_sip_and_msrp_by_content_and_ignores_other_payloads() {
        let mut d = Decoder::new(1 << 20, Log::default());
        feed(&mut d, 1, Framing::Datagram, sip("OPTIONS", "").as_bytes());
        feed(&mut d, 2, Framing::Datagram, b"\x80\x00\x01\x02rtp payload");
        feed(&mut d, 3, Framing::Datagram, MSRP.as_bytes());
        feed(&mut d, 4, Framing::Datagram, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(names(&d), [(1, "OPTIONS"), (3, "MSRP a786hjs2")]);
        assert!(d.handler.dropped.is_empty());
    }

    #[test]
    fn datagram_with_two_messages_gives_both() {
        let mut d = Decoder::new(1 << 20, Log::default());
        let two = format!("{}{}", sip("MESSAGE", "hello"), OK);
        feed(&mut d, 1, Framing::Datagram, two.as_bytes());
        assert_eq!(names(&d), [(1, "MESSAGE"), (1, "200")]);
    }

    #[test]
    fn broken_datagram_that_looks_like_sip_is_reported() {
        let mut d = Decoder::new(1 << 20, Log::default());
        feed(
            &mut d,
            7,
            Framing::Datagram,
            b"SIP/2.0 2000 OK\r\nVia: x\r\n\r\n",
        );
        assert!(d.handler.messages.is_empty());
        assert_eq!(d.handler.dropped.len(), 1);
        assert_eq!(d.handler.dropped[0].frame, 7);
    }

    #[test]
    fn issue_14_broken_datagram_is_shown_with_its_findings() {
        let mut d = Decoder::new(1 << 20, Log::default());
        feed(&mut d, 7, Framing::Datagram, b"INVITE sip:x SIP/2.0\r\nVia");
        feed(
            &mut d,
            8,
            Framing::Datagram,
            b"BYE sip:x SIP/2.0\nCall-ID: 1\n\n",
        );
        feed(
            &mut d,
            9,
            Framing::Datagram,
            b"BYE sip:x SIP/2.0\rCall-ID: 1\r\r",
        );
        assert_eq!(names(&d), [(7, "INVITE"), (8, "BYE"), (9, "BYE")]);
        assert_eq!(
            d.handler.codes,
            [
                vec!["sip.header.colon", "sip.message.truncated"],
                vec!["sip.line.bare-lf"],
                vec!["sip.line.bare-cr"]
            ]
        );
        assert!(d.handler.dropped.is_empty());
    }

    #[test]
    fn issue_14_broken_msrp_is_shown_with_its_findings() {
        let mut d = Decoder::new(1 << 20, Log::default());
        feed(&mut d, 1, tcp(0), OK.as_bytes());
        let bad = MSRP.replace(
            "Message-ID: 87652\r\n",
            "Message-ID:87652\r\nno colon here\r\n",
        );
        feed(&mut d, 2, tcp(0), bad.as_bytes());
        feed(&mut d, 3, tcp(0), MSRP.as_bytes());
        assert_eq!(
            names(&d),
            [(1, "200"), (2, "MSRP a786hjs2"), (3, "MSRP a786hjs2")]
        );
        assert!(!d.handler.codes[1].is_empty(), "{:?}", d.handler.codes);
        assert!(d.handler.codes[1].iter().all(|c| c.starts_with("msrp.")));
        assert!(d.handler.codes[2].is_empty());
        assert!(d.handler.dropped.is_empty());
    }

    #[test]
    fn issue_14_bytes_after_the_body_are_named_on_the_message() {
        let mut d = Decoder::new(1 << 20, Log::default());
        let m = format!("{}garbage", sip("MESSAGE", "hi"));
        feed(&mut d, 1, Framing::Datagram, m.as_bytes());
        assert_eq!(names(&d), [(1, "MESSAGE")]);
        assert_eq!(d.handler.codes, [vec!["sip.content-length.trailing"]]);
    }

    #[test]
    fn issue_14_stream_without_content_length_is_framed_at_the_next_start_line() {
        let mut d = Decoder::new(1 << 20, Log::default());
        let no_cl = "MESSAGE sip:b SIP/2.0\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\n\r\nhello";
        feed(&mut d, 1, tcp(0), no_cl.as_bytes());
        feed(&mut d, 2, tcp(0), OK.as_bytes());
        feed(&mut d, 3, tcp(0), no_cl.as_bytes());
        d.finish();
        assert_eq!(names(&d), [(2, "MESSAGE"), (2, "200"), (3, "MESSAGE")]);
        assert_eq!(d.handler.codes[0], ["sip.content-length.missing"]);
        // The last one has no next start line: the end of the stream ends it, and says so.
        assert_eq!(
            d.handler.codes[2],
            ["sip.content-length.missing", "capture.truncated"]
        );
        assert!(d.handler.dropped.is_empty());
    }

    #[test]
    fn issue_14_junk_before_the_first_message_of_a_stream_is_reported() {
        let mut d = Decoder::new(1 << 20, Log::default());
        feed(&mut d, 1, tcp(0), b"tail of an earlier body\r\n");
        feed(&mut d, 2, tcp(0), OK.as_bytes());
        assert_eq!(names(&d), [(2, "200")]);
        assert_eq!(d.handler.dropped.len(), 1);
        assert_eq!(d.handler.dropped[0].bytes, 25);
    }

    #[test]
    fn issue_14_junk_before_a_first_message_read_at_close_is_reported() {
        // The first message has no usable Content-Length and no start line follows it, so it
        // is read only when the stream closes; the junk before it must still be counted.
        let mut d = Decoder::new(1 << 20, Log::default());
        feed(&mut d, 1, tcp(0), b"tail of an earlier body\r\n");
        feed(
            &mut d,
            2,
            tcp(0),
            b"SIP/2.0 200 OK\r\nCall-ID: c1\r\nContent-Length: x\r\n\r\n",
        );
        d.finish();
        assert_eq!(names(&d), [(2, "200")]);
        let dropped: Vec<usize> = d.handler.dropped.iter().map(|x| x.bytes).collect();
        assert_eq!(dropped, [25]);
    }

    #[test]
    fn issue_14_bytes_before_a_gap_before_the_first_message_are_reported() {
        // A partial line that never became a start line, then a lost segment: those bytes are
        // passed over like any other before the first message, and counted with them.
        let mut d = Decoder::new(1 << 20, Log::default());
        feed(&mut d, 1, tcp(0), b"junk\r\ntail");
        feed(&mut d, 3, tcp(10), OK.as_bytes());
        assert_eq!(names(&d), [(3, "200")]);
        let dropped: Vec<usize> = d.handler.dropped.iter().map(|x| x.bytes).collect();
        assert_eq!(dropped, [10]);
    }

    #[test]
    fn stream_messages_split_and_merged_in_every_way() {
        let all = format!(
            "{}\r\n\r\n{}{}{}",
            sip("INVITE", "v=0\r\n"),
            OK,
            MSRP,
            sip("BYE", "")
        );
        let bytes = all.as_bytes();
        for cut1 in 0..bytes.len() {
            let cut2 = (cut1 + 37).min(bytes.len());
            let mut d = Decoder::new(1 << 20, Log::default());
            feed(&mut d, 1, tcp(0), &bytes[..cut1]);
            feed(&mut d, 2, tcp(0), &bytes[cut1..cut2]);
            feed(&mut d, 3, tcp(0), &bytes[cut2..]);
            let got: Vec<&str> = names(&d).into_iter().map(|(_, s)| s).collect();
            assert_eq!(
                got,
                ["INVITE", "200", "MSRP a786hjs2", "BYE"],
                "cut at {cut1}"
            );
            assert!(d.handler.dropped.is_empty(), "cut at {cut1}");
            d.finish();
            assert!(d.handler.dropped.is_empty(), "cut at {cut1}");
        }
    }

    #[test]
    fn gap_drops_the_partial_message_and_resynchronises() {
        let invite = sip("INVITE", "v=0\r\n");
        let (a, b) = invite.as_bytes().split_at(40);
        let mut d = Decoder::new(1 << 20, Log::default());
        feed(&mut d, 1, tcp(0), OK.as_bytes());
        feed(&mut d, 2, tcp(0), a);
        // The rest of the INVITE is lost; the next segment holds its tail and a BYE.
        let next = format!("{}{}", &String::from_utf8_lossy(b)[10..], sip("BYE", ""));
        feed(&mut d, 4, tcp(25), next.as_bytes());
        // What arrived of the INVITE is shown, cut short, at the frame that brought it.
        assert_eq!(names(&d), [(1, "200"), (2, "INVITE"), (4, "BYE")]);
        assert!(d.handler.codes[1].contains(&"capture.truncated"));
        let reasons: Vec<(u64, usize)> = d
            .handler
            .dropped
            .iter()
            .map(|x| (x.frame, x.bytes))
            .collect();
        assert_eq!(reasons, [(4, b.len() - 10)]);
    }

    #[test]
    fn message_larger_than_the_buffer_is_dropped_and_reported() {
        let big = sip("MESSAGE", &"x".repeat(500));
        let mut d = Decoder::new(100, Log::default());
        feed(&mut d, 1, tcp(0), OK.as_bytes());
        for (i, chunk) in big.as_bytes().chunks(60).enumerate() {
            feed(&mut d, 2 + i as u64, tcp(0), chunk);
        }
        feed(&mut d, 50, tcp(0), OK.as_bytes());
        assert_eq!(names(&d), [(1, "200"), (50, "200")]);
        assert!(d.handler.dropped[0].reason.contains("--max-stream-buffer"));
    }

    #[test]
    fn stream_that_never_carried_sip_is_passed_over_silently() {
        let mut d = Decoder::new(1 << 20, Log::default());
        feed(
            &mut d,
            1,
            tcp(0),
            b"\x16\x03\x01\x02\x00binary tls\n\x00\x01",
        );
        feed(&mut d, 2, tcp(0), b"more binary\nstuff");
        d.finish();
        assert!(d.handler.messages.is_empty());
        assert!(d.handler.dropped.is_empty());
    }

    #[test]
    fn stream_ending_inside_a_message_is_reported_on_close() {
        let mut d = Decoder::new(1 << 20, Log::default());
        feed(&mut d, 1, tcp(0), OK.as_bytes());
        feed(&mut d, 2, tcp(0), b"BYE sip:x SIP/2.0\r\nCall-ID: 1\r\n");
        d.notice(&Notice::StreamClosed { id: StreamId(1) });
        assert_eq!(names(&d), [(1, "200"), (2, "BYE")]);
        assert_eq!(
            d.handler.codes[1],
            ["sip.message.truncated", "capture.truncated"]
        );
        assert!(d.handler.dropped.is_empty());
        assert_eq!(d.handler.notices.len(), 1);
        // Bytes that cannot be read as a message are still counted.
        feed(&mut d, 3, tcp(0), OK.as_bytes());
        feed(&mut d, 4, tcp(0), b"SIP/2.0 2000 Bad\r\n");
        d.finish();
        assert_eq!(d.handler.dropped.len(), 1);
        assert_eq!(d.handler.dropped[0].bytes, 18);
    }

    #[test]
    fn start_line_detection() {
        assert!(starts_message(b"INVITE sip:a@b SIP/2.0\r\n"));
        assert!(starts_message(b"SIP/2.0 180 Ringing\r\n"));
        assert!(starts_message(b"MSRP abcd SEND\r\n"));
        assert!(!starts_message(b"INVITE sip:a@b SIP/2.0"));
        assert!(!starts_message(b"GET / HTTP/1.1\r\n"));
        assert!(!starts_message(b" sip:a SIP/2.0\r\n"));
        assert_eq!(find_start(b"junk\r\nBYE sip:x SIP/2.0\r\n"), Some(6));
    }
}
