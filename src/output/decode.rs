//! How `decode-pcap` results look: one summary line per message (coloured on a terminal) or
//! JSON Lines with the schema documented in README.md, plus notices, call rows, statistics,
//! ladder diagrams and extracted files.
//!
//! JSON is written by hand into one reused buffer: a capture can hold millions of messages, and
//! building a `serde_json::Value` per message would cost an allocation per field.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;

use anstyle::{AnsiColor, Style};
use base64::Engine as _;

use super::status_style;
use crate::capture::{Notice, Timestamp};
use crate::commands::decode_pcap::{
    CallSummary, Decoded, Dropped, Extracted, FlowCall, Meta, Stats, message_findings,
};
use crate::proto::{Finding, Severity, msrp, sdp, sip};

/// Renders `decode-pcap` events as human lines or JSON Lines.
#[derive(Debug)]
pub(crate) struct DecodePrinter<W: Write> {
    json: bool,
    full: bool,
    interactive: bool,
    out: W,
    /// One output line, reused so printing a message does not allocate.
    line: Out,
    /// Ladders printed so far (a blank line separates them).
    flows: usize,
    /// Message lines formatted by other threads, when [`DecodePrinter::set_parallel`] asked.
    parallel: Option<Parallel>,
}

const DIM: Style = Style::new().dimmed();
const REQUEST: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
const PROVISIONAL: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
const SUCCESS: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
const FAILURE: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));
const WARN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));

impl DecodePrinter<Box<dyn Write>> {
    /// The printer for this run, writing to standard output. JSON goes straight to a buffered
    /// stdout: it is never coloured, and passing it through the colour-stripping stream would
    /// cost more than producing it.
    pub(crate) fn stdout(format: crate::cli::Format, color: crate::cli::ColorWhen) -> Self {
        use std::io::IsTerminal;
        let stdout = io::stdout();
        let choice = super::color_choice(color, format, &stdout);
        let interactive = stdout.is_terminal();
        let json = format == crate::cli::Format::Json;
        let buffered = io::BufWriter::with_capacity(1 << 16, stdout.lock());
        let out: Box<dyn Write> = if json {
            Box::new(buffered)
        } else {
            let raw: Box<dyn Write> = Box::new(buffered);
            Box::new(anstream::AutoStream::new(raw, choice))
        };
        DecodePrinter::new(json, false, interactive, out)
    }
}

impl<W: Write> DecodePrinter<W> {
    /// Print whole messages after their summary lines.
    pub(crate) fn set_full(&mut self, full: bool) {
        self.full = full;
    }

    pub(crate) fn new(json: bool, full: bool, interactive: bool, out: W) -> Self {
        DecodePrinter {
            json,
            full,
            interactive,
            out,
            line: Out::with_capacity(4096),
            flows: 0,
            parallel: None,
        }
    }

    /// Format message lines on `workers` other threads, in batches, written in capture order.
    /// Not for a terminal, where each line must show as soon as its message is read; with
    /// fewer than two workers the calling thread formats (a single worker would only move the
    /// work, not share it).
    pub(crate) fn set_parallel(&mut self, workers: usize) {
        if self.interactive || workers < 2 || self.parallel.is_some() {
            return;
        }
        self.parallel = Some(Parallel::new(workers, self.json, self.full));
    }

    fn flush_line(&mut self) -> io::Result<()> {
        self.line.push('\n');
        if let Some(p) = &mut self.parallel {
            // In line with the messages queued before it.
            p.text(self.line.as_bytes());
            self.line.clear();
            return p.dispatch_if_full(&mut self.out);
        }
        self.out.write_all(self.line.as_bytes())?;
        self.line.clear();
        if self.interactive {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Push buffered output out; call once at the end so write errors are seen.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if let Some(p) = &mut self.parallel {
            p.finish(&mut self.out)?;
        }
        self.out.flush()
    }

    /// One message. `call_id` is the SIP call an MSRP message belongs to, when known.
    pub(crate) fn message(
        &mut self,
        meta: &Meta<'_>,
        msg: &Decoded<'_>,
        raw: &[u8],
        call_id: Option<&str>,
    ) -> io::Result<()> {
        if let Some(p) = &mut self.parallel {
            p.message(meta, msg, raw, call_id);
            return p.dispatch_if_full(&mut self.out);
        }
        message_line(
            &mut self.line,
            meta,
            msg,
            raw,
            call_id,
            self.json,
            self.full,
        );
        self.line.buf.pop();
        self.flush_line()
    }

    pub(crate) fn dropped(&mut self, d: &Dropped) -> io::Result<()> {
        dropped_line(&mut self.line, d, self.json);
        self.flush_line()
    }

    /// A whole datagram for the formatting threads to cut into messages and format (see
    /// [`crate::commands::decode_pcap::Handler::datagram`]); `None` when lines are formatted
    /// here. `quiet` leaves out the notice of a datagram that does not parse.
    pub(crate) fn datagram(
        &mut self,
        meta: &Meta<'_>,
        data: &[u8],
        quiet: bool,
    ) -> Option<io::Result<()>> {
        let p = self.parallel.as_mut()?;
        p.datagram(meta, data, quiet);
        Some(p.dispatch_if_full(&mut self.out))
    }

    pub(crate) fn notice(&mut self, n: &Notice) -> io::Result<()> {
        let l = &mut self.line;
        if self.json {
            match n {
                Notice::FragmentsIncomplete {
                    frames,
                    src,
                    dst,
                    received,
                    total,
                } => {
                    l.push_str(r#"{"type":"fragments_incomplete","frames":["#);
                    for (i, f) in frames.iter().enumerate() {
                        if i > 0 {
                            l.push(',');
                        }
                        let _ = write!(l, "{f}");
                    }
                    let _ = write!(
                        l,
                        r#"],"src_ip":"{src}","dst_ip":"{dst}","received":{received},"total":"#
                    );
                    opt_num(l, total.map(|t| t as u64));
                    l.push('}');
                }
                Notice::StreamGap {
                    id,
                    src,
                    dst,
                    frame,
                    missing,
                } => {
                    let _ = write!(l, r#"{{"type":"gap","frame":{frame}"#);
                    addr_fields(l, *src, *dst);
                    let _ = write!(l, r#","stream":{},"missing":{missing}}}"#, id.0);
                }
                Notice::StreamClosed { .. } => return Ok(()),
                Notice::Skipped { frame, reason } => {
                    let _ = write!(l, r#"{{"type":"skipped","frame":{frame},"reason":"#);
                    json_str(l, reason);
                    l.push('}');
                }
                Notice::TrailingData { offset, bytes } => {
                    let _ = write!(
                        l,
                        r#"{{"type":"trailing_data","offset":{offset},"bytes":{bytes}}}"#
                    );
                }
            }
        } else {
            match n {
                Notice::FragmentsIncomplete {
                    frames,
                    src,
                    dst,
                    received,
                    total,
                } => {
                    let _ = write!(
                        l,
                        "{WARN}{:>6} incomplete IP datagram {src} → {dst}: {received} of {} bytes \
                         in frames {frames:?}{WARN:#}",
                        frames.last().copied().unwrap_or(0),
                        total.map_or_else(|| "?".to_string(), |t| t.to_string()),
                    );
                }
                Notice::StreamGap {
                    src,
                    dst,
                    frame,
                    missing,
                    ..
                } => {
                    let _ = write!(
                        l,
                        "{WARN}{frame:>6} TCP {src} → {dst}: {missing} bytes missing{WARN:#}"
                    );
                }
                Notice::StreamClosed { .. } => return Ok(()),
                Notice::Skipped { frame, reason } => {
                    let _ = write!(l, "{WARN}{frame:>6} skipped: {reason}{WARN:#}");
                }
                Notice::TrailingData { offset, bytes } => {
                    let _ = write!(
                        l,
                        "{WARN}warning: {bytes} bytes after the gzip data (from byte {offset} of \
                         the file) are not gzip; ignored{WARN:#}"
                    );
                }
            }
        }
        self.flush_line()
    }

    /// The capture could not be read past this point (JSON only: people see it on stderr).
    pub(crate) fn capture_error(&mut self, message: &str) -> io::Result<()> {
        if !self.json {
            return Ok(());
        }
        self.line.push_str(r#"{"type":"error","message":"#);
        json_str(&mut self.line, message);
        self.line.push('}');
        self.flush_line()
    }

    pub(crate) fn call_header(&mut self) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        let _ = write!(
            self.line,
            "{DIM}{:<26} {:<28} {:<28} {:<14} {:>9} {:>9} {:>10} {:>5}  CALL-ID{DIM:#}",
            "START", "FROM", "TO", "STATE", "RING", "ANSWER", "DURATION", "MSGS"
        );
        self.flush_line()
    }

    pub(crate) fn call(&mut self, c: &CallSummary) -> io::Result<()> {
        let l = &mut self.line;
        let state = c.state();
        if self.json {
            l.push_str(r#"{"type":"call","call_id":"#);
            json_str(l, &c.call_id);
            l.push_str(r#","start":"#);
            json_time(l, c.start);
            l.push_str(r#","from":"#);
            json_str(l, &c.from);
            l.push_str(r#","to":"#);
            json_str(l, &c.to);
            l.push_str(r#","state":"#);
            json_str(l, state.name());
            l.push_str(r#","final_status":"#);
            opt_num(l, c.final_code().map(u64::from));
            l.push_str(r#","ringing_ms":"#);
            opt_ms(l, c.ringing());
            l.push_str(r#","answer_ms":"#);
            opt_ms(l, c.answer());
            l.push_str(r#","duration_ms":"#);
            opt_ms(l, c.duration());
            let _ = write!(l, r#","messages":{}}}"#, c.messages);
        } else {
            let style = match state {
                crate::commands::decode_pcap::CallState::Completed => SUCCESS,
                crate::commands::decode_pcap::CallState::InProgress => PROVISIONAL,
                _ => FAILURE,
            };
            let mut t = String::new();
            human_date_time(&mut t, c.start);
            let _ = write!(
                l,
                "{t:<26} {:<28} {:<28} {style}{:<14}{style:#} {:>9} {:>9} {:>10} {:>5}  {}",
                clip(&c.from, 28),
                clip(&c.to, 28),
                state.label(c.final_code()),
                secs(c.ringing()),
                secs(c.answer()),
                secs(c.duration()),
                c.messages,
                c.call_id
            );
        }
        self.flush_line()
    }

    pub(crate) fn stats(&mut self, s: &Stats) -> io::Result<()> {
        let l = &mut self.line;
        if self.json {
            l.push_str(r#"{"type":"stats","messages":"#);
            let _ = write!(l, "{},\"requests\":{{", s.messages);
            for (i, (m, n)) in s.methods.iter().enumerate() {
                if i > 0 {
                    l.push(',');
                }
                json_str(l, m);
                let _ = write!(l, ":{n}");
            }
            l.push_str(r#"},"responses":{"#);
            for (i, (code, n)) in s.statuses().enumerate() {
                if i > 0 {
                    l.push(',');
                }
                let _ = write!(l, "\"{code}\":{n}");
            }
            let _ = write!(
                l,
                r#"}},"retransmissions":{},"msrp_messages":{},"calls_attempted":{},"calls_answered":{},"calls_failed":{},"calls_cancelled":{},"asr":"#,
                s.retransmissions, s.msrp_messages, s.attempted, s.answered, s.failed, s.cancelled
            );
            match s.asr() {
                Some(a) => {
                    let _ = write!(l, "{a:.4}");
                }
                None => l.push_str("null"),
            }
            l.push_str(r#","setup_ms_avg":"#);
            opt_ms(l, s.setup_avg());
            l.push_str(r#","setup_ms_p95":"#);
            opt_ms(l, s.setup_p95());
            let _ = write!(
                l,
                r#","malformed_messages":{},"messages_with_problems":{},"problems":{{"#,
                s.malformed, s.with_problems
            );
            for (i, (code, n)) in s.problems.iter().enumerate() {
                if i > 0 {
                    l.push(',');
                }
                let _ = write!(l, "\"{code}\":{n}");
            }
            l.push_str("}}");
            return self.flush_line();
        }
        let _ = writeln!(l, "Messages:          {}", s.messages);
        if s.msrp_messages > 0 {
            let _ = writeln!(l, "  MSRP:            {}", s.msrp_messages);
        }
        let _ = writeln!(l, "Requests:");
        for (m, n) in &s.methods {
            let _ = writeln!(l, "  {REQUEST}{m:<16}{REQUEST:#} {n}");
        }
        let _ = writeln!(l, "Responses:");
        for (code, n) in s.statuses() {
            let st = status_style(code);
            let _ = writeln!(l, "  {st}{code:<16}{st:#} {n}");
        }
        let _ = writeln!(l, "Retransmissions:   {}", s.retransmissions);
        let _ = writeln!(l, "Calls attempted:   {}", s.attempted);
        let _ = writeln!(l, "Calls answered:    {}", s.answered);
        let _ = writeln!(l, "Calls failed:      {}", s.failed);
        let _ = writeln!(l, "Calls cancelled:   {}", s.cancelled);
        let _ = writeln!(
            l,
            "ASR:               {}",
            s.asr()
                .map_or_else(|| "-".to_string(), |a| format!("{:.1}%", a * 100.0))
        );
        let _ = writeln!(l, "Setup time avg:    {}", secs(s.setup_avg()));
        let _ = write!(l, "Setup time p95:    {}", secs(s.setup_p95()));
        if s.with_problems > 0 {
            let _ = write!(
                l,
                "\nMalformed:         {} (with warnings: {})",
                s.malformed, s.with_problems
            );
            for (code, n) in &s.problems {
                let _ = write!(l, "\n  {WARN}{code:<36}{WARN:#} {n}");
            }
        }
        self.flush_line()
    }

    /// A ladder diagram of one call.
    pub(crate) fn flow(&mut self, call: &FlowCall) -> io::Result<()> {
        if self.json {
            let l = &mut self.line;
            l.push_str(r#"{"type":"flow","call_id":"#);
            json_str(l, &call.call_id);
            l.push_str(r#","hosts":["#);
            for (i, h) in call.hosts.iter().enumerate() {
                if i > 0 {
                    l.push(',');
                }
                json_str(l, &h.to_string());
            }
            l.push_str(r#"],"steps":["#);
            for (i, s) in call.steps.iter().enumerate() {
                if i > 0 {
                    l.push(',');
                }
                let _ = write!(l, r#"{{"frame":{},"time":"#, s.frame);
                json_time(l, s.time);
                let _ = write!(l, r#","from":{},"to":{},"label":"#, s.from, s.to);
                json_str(l, &s.label);
                l.push('}');
            }
            l.push_str("]}");
            return self.flush_line();
        }
        if self.flows > 0 {
            self.line.push('\n');
        }
        self.flows += 1;
        let text = ladder(call);
        self.line.push_str(&text);
        self.flush_line()
    }

    pub(crate) fn extracted(&mut self, e: &Extracted) -> io::Result<()> {
        let l = &mut self.line;
        if self.json {
            l.push_str(r#"{"type":"extracted","path":"#);
            json_str(l, &e.path.display().to_string());
            let _ = write!(
                l,
                r#","size":{},"sha256":"{}","message_id":"#,
                e.size, e.sha256
            );
            json_str(l, &e.message_id);
            l.push_str(r#","call_id":"#);
            opt_str(l, e.call_id.as_deref());
            let _ = write!(l, r#","complete":{},"total":"#, e.complete);
            opt_num(l, e.total);
            l.push_str(r#","missing":["#);
            for (i, (start, end)) in e.missing.iter().enumerate() {
                if i > 0 {
                    l.push(',');
                }
                let _ = write!(l, "[{start},");
                opt_num(l, *end);
                l.push(']');
            }
            l.push_str(r#"],"file_transfer_id":"#);
            opt_str(l, e.file_transfer_id.as_deref());
            l.push('}');
        } else {
            let _ = write!(l, "wrote {} ({} bytes", e.path.display(), e.size);
            if !e.complete {
                l.push_str(", incomplete");
            }
            // Ranges as in Byte-Range: 1-based, inclusive, `*` for an unknown end.
            const SHOWN: usize = 8;
            for (i, (start, end)) in e.missing.iter().take(SHOWN).enumerate() {
                l.push_str(if i == 0 { ": missing " } else { ", " });
                let _ = write!(l, "{start}-");
                match end {
                    Some(end) => {
                        let _ = write!(l, "{end}");
                    }
                    None => l.push('*'),
                }
            }
            if e.missing.len() > SHOWN {
                let _ = write!(l, " and {} more ranges", e.missing.len() - SHOWN);
            }
            if !e.missing.is_empty() {
                l.push_str(" of ");
                match e.total {
                    Some(t) => {
                        let _ = write!(l, "{t}");
                    }
                    None => l.push('*'),
                }
            }
            let _ = write!(l, ") sha256 {}", e.sha256);
        }
        self.flush_line()
    }
}

fn dropped_line(l: &mut Out, d: &Dropped, json: bool) {
    if json {
        l.push_str(r#"{"type":"dropped","frame":"#);
        push_u64(l, d.frame);
        addr_fields(l, d.src, d.dst);
        l.push_str(r#","stream":"#);
        match d.stream {
            Some(id) => push_u64(l, id.0),
            None => l.push_str("null"),
        }
        l.push_str(r#","bytes":"#);
        push_u64(l, d.bytes as u64);
        l.push_str(r#","reason":"#);
        json_str(l, &d.reason);
        l.push('}');
    } else {
        let _ = write!(
            l,
            "{WARN}{:>6} dropped {} bytes {} → {}: {}{WARN:#}",
            d.frame, d.bytes, d.src, d.dst, d.reason
        );
    }
}

/// A message queued for another thread: what [`Meta`] holds, and where its bytes and the
/// MSRP message's call are in [`Batch::data`].
#[derive(Debug)]
enum Item {
    Message {
        frame: u64,
        time: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        transport: crate::capture::Transport,
        stream: bool,
        raw: std::ops::Range<usize>,
        call_id: Option<std::ops::Range<usize>>,
        /// Where the reader's parse put the parts of a SIP message; `None` for MSRP (parsed
        /// again on the worker).
        sip: Option<SipParts>,
        /// The framing's findings ([`Meta::diagnostics`]); empty, without an allocation, for
        /// a message the strict parse took.
        diagnostics: Vec<Finding>,
    },
    /// A line already formatted (a notice), kept in its place among the messages.
    Text(std::ops::Range<usize>),
    /// A datagram not yet cut into messages; `quiet` leaves out its `dropped` notice.
    Datagram {
        frame: u64,
        time: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        transport: crate::capture::Transport,
        data: std::ops::Range<usize>,
        quiet: bool,
    },
}

/// Messages copied out of the capture buffers, and the output lines formatted from them.
#[derive(Debug, Default)]
struct Batch {
    items: Vec<Item>,
    data: Vec<u8>,
    /// The header fields of the messages' [`SipParts`].
    headers: Vec<PartHeader>,
    out: Vec<u8>,
}

/// Start and end of a part of a message, relative to the message's first byte.
type Span = (u32, u32);

/// The start line of a SIP message as [`Span`]s.
#[derive(Debug, Clone, Copy)]
enum PartStart {
    Request {
        method: Span,
        uri: Span,
        version: Span,
    },
    Response {
        version: Span,
        code: u16,
        reason: Span,
    },
}

/// One header field as [`Span`]s.
#[derive(Debug, Clone, Copy)]
struct PartHeader {
    name: Span,
    id: sip::HeaderName,
    value: Span,
}

/// A SIP message the reader parsed (a TCP message is parsed there to find where it ends), as
/// positions in its bytes: the worker rebuilds the same [`sip::Message`] from them instead of
/// parsing the bytes a second time.
#[derive(Debug, Clone)]
struct SipParts {
    start: PartStart,
    /// Into [`Batch::headers`].
    headers: std::ops::Range<usize>,
    body: Span,
    content_length: Option<usize>,
}

/// The positions of `m`'s parts in `raw` (the bytes it was parsed from), pushing its header
/// fields onto `headers`; `None` (with nothing pushed) when a part is not inside `raw`.
fn sip_parts(m: &sip::Message<'_>, raw: &[u8], headers: &mut Vec<PartHeader>) -> Option<SipParts> {
    if m.buf.as_ptr() != raw.as_ptr()
        || m.buf.len() != raw.len()
        || u32::try_from(raw.len()).is_err()
    {
        return None;
    }
    // Plain arithmetic per part (this runs on the reader, for every header field); a part
    // found outside `raw` fails the whole message below. An empty part may be a `""` from
    // elsewhere: its span is then meaningless but empty, which rebuilds the same `""`.
    let base = raw.as_ptr() as usize;
    let inside = std::cell::Cell::new(true);
    let span = |p: &[u8]| -> Option<Span> {
        let a = (p.as_ptr() as usize).wrapping_sub(base);
        let b = a.wrapping_add(p.len());
        let fits = a <= b && b <= raw.len();
        if !(fits || p.is_empty()) {
            inside.set(false);
        }
        Some((a as u32, b as u32))
    };
    let start = match m.start {
        sip::StartLine::Request {
            method,
            uri,
            version,
        } => PartStart::Request {
            method: span(method.as_bytes())?,
            uri: span(uri.as_bytes())?,
            version: span(version.as_bytes())?,
        },
        sip::StartLine::Response {
            version,
            code,
            reason,
        } => PartStart::Response {
            version: span(version.as_bytes())?,
            code,
            reason: span(reason)?,
        },
    };
    let body = span(m.body)?;
    let mark = headers.len();
    for h in &m.headers {
        if let (Some(name), Some(value)) = (span(h.name.as_bytes()), span(h.value)) {
            headers.push(PartHeader {
                name,
                id: h.id,
                value,
            });
        }
    }
    if !inside.get() || headers.len() - mark != m.headers.len() {
        headers.truncate(mark);
        return None;
    }
    Some(SipParts {
        start,
        headers: mark..headers.len(),
        body,
        content_length: m.content_length,
    })
}

/// The message [`sip_parts`] described, rebuilt over a copy of its bytes; `None` when the
/// head is not UTF-8 (the text parts cannot then be sliced out of one `str`) or a span does
/// not fit, and the caller parses again.
fn sip_rebuild<'a>(
    raw: &'a [u8],
    p: &SipParts,
    headers: &[PartHeader],
) -> Option<sip::Message<'a>> {
    let head = std::str::from_utf8(raw.get(..p.body.0 as usize)?).ok()?;
    let text = |(a, b): Span| head.get(a as usize..b as usize);
    let bytes = |(a, b): Span| raw.get(a as usize..b as usize);
    let start = match p.start {
        PartStart::Request {
            method,
            uri,
            version,
        } => sip::StartLine::Request {
            method: text(method)?,
            uri: text(uri)?,
            version: text(version)?,
        },
        PartStart::Response {
            version,
            code,
            reason,
        } => sip::StartLine::Response {
            version: text(version)?,
            code,
            reason: bytes(reason)?,
        },
    };
    let mut fields = sip::message::Headers::new();
    for h in headers.get(p.headers.clone())? {
        fields.push(sip::Header {
            name: text(h.name)?,
            id: h.id,
            value: bytes(h.value)?,
        });
    }
    Some(sip::Message::new(
        start,
        fields,
        bytes(p.body)?,
        raw,
        p.content_length,
    ))
}

/// Bytes of messages per batch: big enough that handing a batch over costs nothing next to
/// formatting it, small enough that the batches in flight stay a few megabytes.
const BATCH_BYTES: usize = 256 * 1024;
/// Batches queued or being formatted per worker before the reader waits for the oldest. Four
/// rather than two: with the reader and two workers on two cores, the deeper queue lets the
/// reader run on while a worker is descheduled (peak RSS 20 -> 26 MB, whatever the capture).
const IN_FLIGHT_PER_WORKER: usize = 4;

/// Worker threads that format batches of messages. Batch `n` goes to worker `n % workers`;
/// each worker answers in the order it was asked, so taking the answers round-robin gives
/// them back in capture order.
#[derive(Debug)]
struct Parallel {
    to: Vec<std::sync::mpsc::SyncSender<Batch>>,
    from: Vec<std::sync::mpsc::Receiver<Batch>>,
    sent: usize,
    received: usize,
    batch: Batch,
    spare: Vec<Batch>,
}

impl Parallel {
    fn new(workers: usize, json: bool, full: bool) -> Parallel {
        let mut to = Vec::with_capacity(workers);
        let mut from = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (job_tx, job_rx) = std::sync::mpsc::sync_channel::<Batch>(IN_FLIGHT_PER_WORKER);
            let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Batch>(IN_FLIGHT_PER_WORKER);
            // Detached: dropping the senders (end of run, or an early error) ends the loop.
            std::thread::spawn(move || {
                let mut line = Out::with_capacity(4096);
                for mut batch in job_rx {
                    format_batch(&mut batch, &mut line, json, full);
                    if done_tx.send(batch).is_err() {
                        return;
                    }
                }
            });
            to.push(job_tx);
            from.push(done_rx);
        }
        Parallel {
            to,
            from,
            sent: 0,
            received: 0,
            batch: Batch::default(),
            spare: Vec::new(),
        }
    }

    fn message(&mut self, meta: &Meta<'_>, msg: &Decoded<'_>, raw: &[u8], call_id: Option<&str>) {
        let b = &mut self.batch;
        let sip = match msg {
            Decoded::Sip(m) => sip_parts(m, raw, &mut b.headers),
            Decoded::Msrp(_) => None,
        };
        let start = b.data.len();
        b.data.extend_from_slice(raw);
        let raw = start..b.data.len();
        let call_id = call_id.map(|id| {
            let start = b.data.len();
            b.data.extend_from_slice(id.as_bytes());
            start..b.data.len()
        });
        b.items.push(Item::Message {
            frame: meta.frame,
            time: meta.time,
            src: meta.src,
            dst: meta.dst,
            transport: meta.transport,
            stream: meta.stream,
            raw,
            call_id,
            sip,
            diagnostics: meta.diagnostics.to_vec(),
        });
    }

    fn datagram(&mut self, meta: &Meta<'_>, data: &[u8], quiet: bool) {
        let b = &mut self.batch;
        let start = b.data.len();
        b.data.extend_from_slice(data);
        b.items.push(Item::Datagram {
            frame: meta.frame,
            time: meta.time,
            src: meta.src,
            dst: meta.dst,
            transport: meta.transport,
            data: start..b.data.len(),
            quiet,
        });
    }

    fn text(&mut self, line: &[u8]) {
        let b = &mut self.batch;
        let start = b.data.len();
        b.data.extend_from_slice(line);
        b.items.push(Item::Text(start..b.data.len()));
    }

    fn dispatch_if_full(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.batch.data.len() >= BATCH_BYTES {
            self.dispatch(out)?;
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.sent - self.received >= self.to.len() * IN_FLIGHT_PER_WORKER {
            self.receive(out)?;
        }
        let next = self.spare.pop().unwrap_or_default();
        let batch = std::mem::replace(&mut self.batch, next);
        let worker = self.sent % self.to.len();
        self.to[worker].send(batch).map_err(|_| gone())?;
        self.sent += 1;
        Ok(())
    }

    /// Write the oldest batch in flight.
    fn receive(&mut self, out: &mut impl Write) -> io::Result<()> {
        let worker = self.received % self.from.len();
        let mut batch = self.from[worker].recv().map_err(|_| gone())?;
        self.received += 1;
        out.write_all(&batch.out)?;
        batch.items.clear();
        batch.data.clear();
        batch.headers.clear();
        batch.out.clear();
        self.spare.push(batch);
        Ok(())
    }

    fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        if !self.batch.items.is_empty() {
            self.dispatch(out)?;
        }
        while self.received < self.sent {
            self.receive(out)?;
        }
        Ok(())
    }
}

fn gone() -> io::Error {
    io::Error::other("a formatting thread stopped")
}

/// The formatting of one message line, as the printer would write it.
fn message_line(
    l: &mut Out,
    meta: &Meta<'_>,
    msg: &Decoded<'_>,
    raw: &[u8],
    call_id: Option<&str>,
    json: bool,
    full: bool,
) {
    if json {
        json_message(l, meta, msg, call_id);
    } else {
        let mut findings = Vec::new();
        let findings = message_findings(meta, msg, &mut findings, &mut l.fields);
        human_message(l, meta, msg, findings);
        if full {
            l.push('\n');
            push_indented(l, raw);
            for f in findings {
                human_finding(l, f);
            }
        }
    }
    l.push('\n');
}

/// The worst severity among `findings`, if any.
fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}

/// One finding under a message (`--full`), in validate's words: severity, code, what, where.
fn human_finding(l: &mut Out, f: &Finding) {
    let st = match f.severity {
        Severity::Error => FAILURE,
        Severity::Warning => WARN,
    };
    let _ = write!(
        l,
        "\n    {st}{}[{}]{st:#}: {} {DIM}(byte {}",
        f.severity.as_str(),
        f.error.code,
        f.error.message,
        f.error.offset
    );
    if !f.error.rfc.is_empty() {
        let _ = write!(l, ", {}", f.error.rfc);
    }
    let _ = write!(l, "){DIM:#}");
}

fn diagnostics_json(l: &mut Out, findings: &[Finding]) {
    l.push_str(r#","diagnostics":["#);
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            l.push(',');
        }
        l.push_str(r#"{"severity":""#);
        l.push_str(f.severity.as_str());
        l.push_str(r#"","code":""#);
        l.push_str(f.error.code);
        l.push_str(r#"","message":"#);
        json_str(l, &f.error.message);
        l.push_str(r#","offset":"#);
        push_u64(l, f.error.offset as u64);
        l.push_str(r#","length":"#);
        push_u64(l, f.error.len as u64);
        l.push('}');
    }
    l.push(']');
}

/// A worker's handler for the messages of a datagram it cuts itself.
struct Lines<'a> {
    line: &'a mut Out,
    json: bool,
    full: bool,
    quiet: bool,
}

impl crate::commands::decode_pcap::Handler for Lines<'_> {
    fn message(&mut self, meta: &Meta<'_>, msg: &Decoded<'_>, raw: &[u8]) {
        message_line(self.line, meta, msg, raw, None, self.json, self.full);
    }

    fn dropped(&mut self, d: &Dropped) {
        if !self.quiet {
            dropped_line(self.line, d, self.json);
            self.line.push('\n');
        }
    }

    fn notice(&mut self, _: &Notice) {}
}

/// What a worker does with a batch: parse each message again (or cut each datagram) and
/// format it as the printer would have.
fn format_batch(batch: &mut Batch, line: &mut Out, json: bool, full: bool) {
    let Batch {
        items,
        data,
        headers,
        out,
    } = batch;
    // Straight into the batch's output, with the worker's cached date.
    std::mem::swap(&mut line.buf, out);
    for item in items.iter() {
        match item {
            Item::Text(r) => line
                .buf
                .extend_from_slice(data.get(r.clone()).unwrap_or_default()),
            Item::Datagram {
                frame,
                time,
                src,
                dst,
                transport,
                data: r,
                quiet,
            } => {
                let meta = Meta {
                    frame: *frame,
                    time: *time,
                    src: *src,
                    dst: *dst,
                    transport: *transport,
                    packets: &[],
                    stream: false,
                    diagnostics: &[],
                };
                let mut lines = Lines {
                    line,
                    json,
                    full,
                    quiet: *quiet,
                };
                let bytes = data.get(r.clone()).unwrap_or_default();
                crate::commands::decode_pcap::datagram_messages(&meta, bytes, &mut lines);
            }
            Item::Message {
                frame,
                time,
                src,
                dst,
                transport,
                stream,
                raw,
                call_id,
                sip,
                diagnostics,
            } => {
                let raw = data.get(raw.clone()).unwrap_or_default();
                let rebuilt = sip
                    .as_ref()
                    .and_then(|p| sip_rebuild(raw, p, headers))
                    .map(Decoded::Sip);
                let Some(msg) =
                    rebuilt.or_else(|| crate::commands::decode_pcap::reparse(raw, *stream))
                else {
                    // Cannot happen (the decoder parsed these very bytes); a line short
                    // beats a thread that panics.
                    continue;
                };
                let call_id = call_id
                    .clone()
                    .and_then(|r| data.get(r))
                    .and_then(|b| std::str::from_utf8(b).ok());
                let meta = Meta {
                    frame: *frame,
                    time: *time,
                    src: *src,
                    dst: *dst,
                    transport: *transport,
                    packets: &[],
                    stream: *stream,
                    diagnostics,
                };
                message_line(line, &meta, &msg, raw, call_id, json, full);
            }
        }
    }
    std::mem::swap(&mut line.buf, out);
}

fn clip(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `1.234567s`, or `-` when unknown.
fn secs(us: Option<u64>) -> String {
    us.map_or_else(
        || "-".into(),
        |us| format!("{}.{:06}s", us / 1_000_000, us % 1_000_000),
    )
}

/// Microseconds as a JSON number of milliseconds with three decimals (`2.709`).
fn opt_ms(l: &mut Out, us: Option<u64>) {
    match us {
        Some(us) => {
            let _ = write!(l, "{}.{:03}", us / 1000, us % 1000);
        }
        None => l.push_str("null"),
    }
}

fn opt_num(l: &mut Out, n: Option<u64>) {
    match n {
        Some(n) => push_u64(l, n),
        None => l.push_str("null"),
    }
}

/// Decimal digits of `n`, without going through `fmt` (a message has several numbers, and
/// the formatting machinery costs more than the digits).
fn push_u64(l: &mut Out, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    l.buf.extend_from_slice(&buf[i..]);
}

/// `n` as exactly `width` decimal digits (zero-padded; higher digits are dropped).
fn push_padded(l: &mut Out, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let width = width.min(buf.len());
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    l.buf.extend_from_slice(&buf[..width]);
}

/// An IP address as `Display` writes it; IPv4 by hand because it is the common case.
fn push_ip(l: &mut Out, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    l.push('.');
                }
                push_u64(l, u64::from(o));
            }
        }
        std::net::IpAddr::V6(_) => {
            let _ = write!(l, "{ip}");
        }
    }
}

fn opt_str(l: &mut Out, s: Option<&str>) {
    match s {
        Some(s) => json_str(l, s),
        None => l.push_str("null"),
    }
}

/// The address fields, from a small cache: a capture has few peers, and writing an address
/// digit by digit costs more than comparing it.
fn addr_fields(l: &mut Out, src: SocketAddr, dst: SocketAddr) {
    let Out { buf, addrs, .. } = l;
    if let Some((_, text)) = addrs.iter().find(|(k, _)| *k == Some((src, dst))) {
        buf.extend_from_slice(text);
        return;
    }
    let start = buf.len();
    addr_fields_uncached(l, src, dst);
    let slot = l.next_addr % l.addrs.len();
    l.next_addr = l.next_addr.wrapping_add(1);
    let Out { buf, addrs, .. } = l;
    if let Some((key, text)) = addrs.get_mut(slot) {
        *key = Some((src, dst));
        text.clear();
        text.extend_from_slice(buf.get(start..).unwrap_or_default());
    }
}

fn addr_fields_uncached(l: &mut Out, src: SocketAddr, dst: SocketAddr) {
    l.push_str(r#","src_ip":""#);
    push_ip(l, src.ip());
    l.push_str(r#"","src_port":"#);
    push_u64(l, u64::from(src.port()));
    l.push_str(r#","dst_ip":""#);
    push_ip(l, dst.ip());
    l.push_str(r#"","dst_port":"#);
    push_u64(l, u64::from(dst.port()));
}

/// Source and destination of a message.
type AddrPair = (SocketAddr, SocketAddr);

/// One line of output being built: bytes, so that text already known to be UTF-8 (or checked
/// once) is copied without being validated again. Everything pushed is UTF-8: `&str`, ASCII,
/// or bytes checked by [`json_bytes_lossy`]/[`body_json`] before they stay in the buffer.
#[derive(Debug)]
pub(crate) struct Out {
    buf: Vec<u8>,
    /// The day of the last timestamp written and its `YYYY-MM-DDT` (the date changes rarely).
    day: i64,
    date: [u8; 11],
    /// Recent address pairs and their JSON fields, see [`addr_fields`].
    addrs: [(Option<AddrPair>, Vec<u8>); 4],
    next_addr: usize,
    /// Fragments written recently, see [`memo`].
    memos: [Memo; Memos::COUNT],
    /// Field values found clean recently (human lines check every message's fields).
    fields: sip::FieldCache,
}

/// Which part of a SIP message line a [`Memo`] holds.
#[derive(Debug, Clone, Copy)]
enum Memos {
    From,
    To,
    Via,
    /// The `body` and `sdp` fields.
    Body,
}

impl Memos {
    const COUNT: usize = 4;
}

/// JSON fragments recently written, by the bytes they were made from: a fragment that is a
/// function of one header value (From, To, the top Via) or of the body alone is written once
/// and copied while the same bytes come back. They do: every message of a dialog carries the
/// same From, its transaction's Via, and To once tagged; and generated traffic repeats bodies.
/// Direct-mapped with a few slots, so a miss costs one hash and the memory stays a few kilobytes.
#[derive(Debug, Default)]
struct Memo {
    /// Per slot: the tag and the key bytes, and the fragment made from them (`None` until
    /// first used: an empty key is a key like any other).
    slots: Vec<Option<MemoEntry>>,
}

/// A [`Memo`] slot's tag, key and fragment.
type MemoEntry = (u8, Vec<u8>, Vec<u8>);

const MEMO_SLOTS: usize = 64;
/// Longer keys (large bodies) are not kept: they rarely repeat and would hold memory.
const MEMO_MAX_KEY: usize = 4096;

/// Hash of a memo key: a folded multiply per eight-byte word. Not keyed: a crafted collision
/// only costs a miss.
fn memo_hash(tag: u8, key: &[u8]) -> usize {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, w: u64| {
        let full = u128::from(h ^ w) * u128::from(K);
        (full as u64) ^ ((full >> 64) as u64)
    };
    let mut h = u64::from(tag) ^ ((key.len() as u64) << 8);
    let mut words = key.chunks_exact(8);
    for c in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = mix(h, u64::from_le_bytes(w));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(w));
    }
    (mix(h, K) >> 32) as usize
}

/// Write what `make` writes for (`tag`, `key`), from the memo `which` when it has it. `make`
/// must depend on nothing but `tag` and `key` (and write nothing that depends on `l`'s state).
fn memo(l: &mut Out, which: Memos, tag: u8, key: &[u8], make: impl FnOnce(&mut Out)) {
    if key.len() > MEMO_MAX_KEY {
        make(l);
        return;
    }
    let slot = memo_hash(tag, key) % MEMO_SLOTS;
    let Some(m) = l.memos.get_mut(which as usize) else {
        make(l);
        return;
    };
    if let Some(Some((t, k, frag))) = m.slots.get(slot) {
        if *t == tag && k.as_slice() == key {
            l.buf.extend_from_slice(frag);
            return;
        }
    }
    let start = l.buf.len();
    make(l);
    let Out { buf, memos, .. } = l;
    let Some(m) = memos.get_mut(which as usize) else {
        return;
    };
    if m.slots.is_empty() {
        m.slots.resize_with(MEMO_SLOTS, Default::default);
    }
    if let Some(entry) = m.slots.get_mut(slot) {
        let (t, k, frag) = entry.get_or_insert_with(Default::default);
        *t = tag;
        k.clear();
        k.extend_from_slice(key);
        frag.clear();
        frag.extend_from_slice(buf.get(start..).unwrap_or_default());
    }
}

impl Out {
    pub(crate) fn with_capacity(n: usize) -> Out {
        Out {
            buf: Vec::with_capacity(n),
            day: i64::MIN,
            date: [0; 11],
            addrs: Default::default(),
            next_addr: 0,
            memos: Default::default(),
            fields: Default::default(),
        }
    }

    fn push(&mut self, c: char) {
        let mut t = [0u8; 4];
        self.buf.extend_from_slice(c.encode_utf8(&mut t).as_bytes());
    }

    fn push_str(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    fn clear(&mut self) {
        self.buf.clear();
    }

    fn len(&self) -> usize {
        self.buf.len()
    }
}

impl std::fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit set in each byte of `w` that needs escaping in a JSON string (a control
/// character, `"` or `\`), by the "has a byte less than n" word tricks. Bytes above the first
/// flagged one may be flagged wrongly (borrows), the lowest flag is always right.
#[inline]
fn escape_mask(w: u64) -> u64 {
    let q = w ^ (ONES * u64::from(b'"'));
    let bs = w ^ (ONES * u64::from(b'\\'));
    (w.wrapping_sub(ONES * 0x20) | (q.wrapping_sub(ONES) & !q) | (bs.wrapping_sub(ONES) & !bs))
        & !w
        & HIGHS
}

/// The last bytes of `b`, from `i` on (fewer than eight), as one word whose lanes past the end
/// hold a letter (which never needs escaping): one more word test instead of a byte loop. When
/// `b` has eight bytes the word is loaded whole from its end and shifted, so bytes before `i`
/// (one may be the byte just escaped) cannot flag a lane.
#[inline]
fn tail_word(b: &[u8], i: usize) -> u64 {
    const PAD: u64 = ONES * b'a' as u64;
    let left = b.len().saturating_sub(i);
    if left == 0 || left >= 8 {
        return PAD;
    }
    let mut w = [b'a'; 8];
    match b.len().checked_sub(8) {
        Some(at) => {
            w.copy_from_slice(b.get(at..).unwrap_or_default());
            let before = (8 - left) as u32 * 8;
            (u64::from_le_bytes(w) >> before) | (PAD << (64 - before))
        }
        None => {
            let rest = b.get(i..).unwrap_or_default();
            if let Some(slot) = w.get_mut(..rest.len()) {
                slot.copy_from_slice(rest);
            }
            u64::from_le_bytes(w)
        }
    }
}

/// The index of the first byte of `b` at or after `i` that needs escaping, or `b.len()`.
#[inline]
fn next_escape(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let m = escape_mask(u64::from_le_bytes(w));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    if i >= b.len() {
        return b.len();
    }
    // Fewer than eight bytes left: one more word instead of a byte loop.
    let m = escape_mask(tail_word(b, i));
    if m == 0 {
        return b.len();
    }
    (i + (m.trailing_zeros() / 8) as usize).min(b.len())
}

/// The index of the first byte of `b` at or after `i` that needs escaping or is not ASCII.
#[inline]
fn next_escape_or_high(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        let m = escape_mask(w) | (w & HIGHS);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    if i >= b.len() {
        return b.len();
    }
    let w = tail_word(b, i);
    let m = escape_mask(w) | (w & HIGHS);
    if m == 0 {
        return b.len();
    }
    (i + (m.trailing_zeros() / 8) as usize).min(b.len())
}

/// The inside of a JSON string literal (RFC 8259 §7): quote, backslash and control characters
/// escaped, runs between them copied whole. `b` must be UTF-8 (the callers see to it).
fn escape_into(l: &mut Out, b: &[u8]) {
    escape_from(l, b, 0);
}

/// [`escape_into`] for bytes that are usually UTF-8, checked in the same pass: the check runs
/// only from the first byte that is not ASCII. `false` (with part of `b` written) when `b` is
/// not UTF-8.
fn escape_checked(l: &mut Out, b: &[u8]) -> bool {
    let mut start = 0;
    loop {
        let i = next_escape_or_high(b, start);
        l.buf.extend_from_slice(&b[start..i]);
        match b.get(i) {
            None => return true,
            // All before `i` is ASCII, so `b` is UTF-8 when the rest is.
            Some(&c) if c >= 0x80 => {
                let rest = &b[i..];
                if std::str::from_utf8(rest).is_err() {
                    return false;
                }
                escape_from(l, rest, 0);
                return true;
            }
            Some(&c) => {
                escape_byte(l, c);
                start = i + 1;
            }
        }
    }
}

fn escape_from(l: &mut Out, b: &[u8], mut start: usize) {
    loop {
        let i = next_escape(b, start);
        l.buf.extend_from_slice(&b[start..i]);
        let Some(&c) = b.get(i) else {
            return;
        };
        escape_byte(l, c);
        start = i + 1;
    }
}

/// One byte that [`next_escape`] stopped at.
#[inline]
fn escape_byte(l: &mut Out, c: u8) {
    match c {
        b'"' => l.buf.extend_from_slice(b"\\\""),
        b'\\' => l.buf.extend_from_slice(b"\\\\"),
        b'\n' => l.buf.extend_from_slice(b"\\n"),
        b'\r' => l.buf.extend_from_slice(b"\\r"),
        b'\t' => l.buf.extend_from_slice(b"\\t"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            l.buf.extend_from_slice(b"\\u00");
            l.buf.push(HEX[usize::from(c >> 4)]);
            l.buf.push(HEX[usize::from(c & 15)]);
        }
    }
}

/// The inside of a JSON string for a SIP token (a method, a header name): the SIP parser only
/// hands out tokens made of `alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" /
/// "~"` (RFC 3261 §25.1), none of which JSON escapes, so they are copied as they are.
fn push_token(l: &mut Out, s: &str) {
    debug_assert!(s.bytes().all(crate::proto::scan::is_token), "{s:?}");
    l.push_str(s);
}

/// A JSON string literal.
pub(crate) fn json_str(l: &mut Out, s: &str) {
    l.buf.push(b'"');
    escape_into(l, s.as_bytes());
    l.buf.push(b'"');
}

/// A JSON string of bytes that are usually UTF-8; invalid sequences become U+FFFD.
fn json_bytes_lossy(l: &mut Out, b: &[u8]) {
    let start = l.len();
    l.buf.push(b'"');
    if escape_checked(l, b) {
        l.buf.push(b'"');
    } else {
        l.buf.truncate(start);
        json_str(l, &String::from_utf8_lossy(b));
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// RFC 3339 with nanoseconds, UTC: `2024-05-01T12:00:00.123456789Z`.
pub(crate) fn rfc3339(l: &mut Out, t: Timestamp) {
    let days = t.secs.div_euclid(86_400);
    let sod = t.secs.rem_euclid(86_400);
    if days != l.day {
        let (y, m, d) = civil_from_days(days);
        if !(0..=9999).contains(&y) {
            let _ = write!(
                l,
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
                sod / 3600,
                sod / 60 % 60,
                sod % 60,
                t.nanos.min(999_999_999)
            );
            return;
        }
        // By hand, and only when the day changes: one timestamp per message, and `fmt` would
        // be most of its cost.
        let mut date = Out::with_capacity(11);
        push_padded(&mut date, y.unsigned_abs(), 4);
        date.buf.push(b'-');
        push_padded(&mut date, u64::from(m), 2);
        date.buf.push(b'-');
        push_padded(&mut date, u64::from(d), 2);
        date.buf.push(b'T');
        l.date.copy_from_slice(&date.buf);
        l.day = days;
    }
    let sod = sod.unsigned_abs();
    let mut time = [0u8; 19];
    let mut put = |at: usize, mut n: u64, width: usize| {
        for slot in time[at..at + width].iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, sod / 3600, 2);
    put(3, sod / 60 % 60, 2);
    put(6, sod % 60, 2);
    put(9, u64::from(t.nanos.min(999_999_999)), 9);
    time[2] = b':';
    time[5] = b':';
    time[8] = b'.';
    time[18] = b'Z';
    let date = l.date;
    l.buf.extend_from_slice(&date);
    l.buf.extend_from_slice(&time);
}

fn json_time(l: &mut Out, t: Timestamp) {
    l.buf.push(b'"');
    rfc3339(l, t);
    l.buf.push(b'"');
}

/// `2024-05-01 12:00:00.123456` (UTC, microseconds) for people.
fn human_date_time(l: &mut String, t: Timestamp) {
    let mut s = Out::with_capacity(32);
    rfc3339(&mut s, t);
    let s = String::from_utf8_lossy(s.as_bytes());
    l.push_str(s.get(..10).unwrap_or_default());
    l.push(' ');
    l.push_str(s.get(11..26).unwrap_or_default());
}

/// `12:00:00.123456` (UTC, microseconds).
fn human_time(l: &mut Out, t: Timestamp) {
    let sod = t.secs.rem_euclid(86_400);
    let _ = write!(
        l,
        "{:02}:{:02}:{:02}.{:06}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        t.nanos.min(999_999_999) / 1000
    );
}

fn push_indented(l: &mut Out, raw: &[u8]) {
    let text = String::from_utf8_lossy(raw);
    for line in text.split_inclusive('\n') {
        l.push_str("    ");
        l.push_str(line.trim_end_matches(['\r', '\n']));
        l.push('\n');
    }
    if l.buf.ends_with(b"\n") {
        l.buf.pop();
    }
}

fn human_message(l: &mut Out, meta: &Meta<'_>, msg: &Decoded<'_>, findings: &[Finding]) {
    let _ = write!(l, "{DIM}{:>6}{DIM:#} ", meta.frame);
    human_time(l, meta.time);
    let _ = write!(
        l,
        " {} → {} {DIM}{}{DIM:#} ",
        meta.src,
        meta.dst,
        meta.transport.as_str().to_ascii_uppercase()
    );
    match msg {
        Decoded::Sip(m) => {
            match m.start {
                sip::StartLine::Request { method, uri, .. } => {
                    let _ = write!(l, "{REQUEST}{method}{REQUEST:#} {uri}");
                }
                sip::StartLine::Response { code, reason, .. } => {
                    let st = status_style(code);
                    let _ = write!(l, "{st}{code} {}{st:#}", String::from_utf8_lossy(reason));
                }
            }
            if let Ok(c) = m.cseq() {
                let _ = write!(l, "  {DIM}CSeq{DIM:#} {} {}", c.seq, c.method);
            }
            if let Ok(id) = m.call_id() {
                let _ = write!(l, "  {DIM}Call-ID{DIM:#} {id}");
            }
        }
        Decoded::Msrp(m) => {
            l.push_str("MSRP ");
            match m.start {
                msrp::StartLine::Request(method) => {
                    let _ = write!(l, "{REQUEST}{}{REQUEST:#}", method.as_str());
                }
                msrp::StartLine::Response { code, comment } => {
                    let st = status_style(code);
                    let _ = write!(l, "{st}{code} {}{st:#}", comment.unwrap_or(""));
                }
            }
            let _ = write!(l, "  {DIM}tid{DIM:#} {}", m.tid);
            if let Ok(Some(id)) = m.headers.message_id() {
                let _ = write!(l, "  {DIM}Message-ID{DIM:#} {id}");
            }
            if let Ok(Some(br)) = m.headers.byte_range() {
                let _ = write!(l, "  {DIM}Byte-Range{DIM:#} {br}");
            }
            let _ = write!(l, " {}", m.flag.as_byte() as char);
        }
    }
    if let Some(sev) = worst(findings) {
        let (st, mark) = match sev {
            Severity::Error => (FAILURE, "✗"),
            Severity::Warning => (WARN, "!"),
        };
        let _ = write!(l, "  {st}{mark} {}", findings[0].error.code);
        if findings.len() > 1 {
            let _ = write!(l, " (+{})", findings.len() - 1);
        }
        let _ = write!(l, "{st:#}");
    }
}

fn name_addr_json(l: &mut Out, a: Result<sip::headers::NameAddr<'_>, crate::proto::ParseError>) {
    match a {
        Ok(a) => {
            l.push_str(r#"{"uri":"#);
            json_str(l, a.uri.raw);
            l.push_str(r#","display":"#);
            opt_str(l, a.display_name_unescaped().as_deref());
            l.push_str(r#","tag":"#);
            opt_str(l, a.tag());
            l.push('}');
        }
        Err(_) => l.push_str("null"),
    }
}

fn body_json(l: &mut Out, body: Option<&[u8]>) {
    l.push_str(r#","body":"#);
    match body {
        None | Some([]) => l.push_str("null"),
        Some(b) => {
            let start = l.len();
            l.push_str(r#"{"encoding":"text","data":""#);
            if escape_checked(l, b) {
                l.push_str("\"}");
                return;
            }
            l.buf.truncate(start);
            l.push_str(r#"{"encoding":"base64","data":""#);
            l.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            l.push_str("\"}");
        }
    }
}

fn json_message(l: &mut Out, meta: &Meta<'_>, msg: &Decoded<'_>, call_id: Option<&str>) {
    l.push_str(r#"{"type":"message","frame":"#);
    push_u64(l, meta.frame);
    l.push_str(r#","time":"#);
    json_time(l, meta.time);
    addr_fields(l, meta.src, meta.dst);
    l.push_str(r#","transport":""#);
    l.push_str(meta.transport.as_str());
    l.push('"');
    match msg {
        Decoded::Sip(m) => {
            l.push_str(r#","protocol":"sip","kind":"#);
            match m.start {
                sip::StartLine::Request { method, uri, .. } => {
                    l.push_str(r#""request","method":""#);
                    push_token(l, method);
                    l.push('"');
                    l.push_str(r#","request_uri":"#);
                    json_str(l, uri);
                    l.push_str(r#","status":null,"reason":null"#);
                }
                sip::StartLine::Response { code, reason, .. } => {
                    l.push_str(r#""response","method":null,"request_uri":null,"status":"#);
                    push_u64(l, u64::from(code));
                    l.push_str(r#","reason":"#);
                    json_bytes_lossy(l, reason);
                }
            }
            // Whether a field the dissector reads is missing or broken: then (rarely) the
            // fields are checked again for their findings, after the memoised fragments.
            let mut suspect = false;
            l.push_str(r#","call_id":"#);
            let call_id = m.call_id().ok();
            suspect |= call_id.is_none();
            opt_str(l, call_id);
            l.push_str(r#","cseq":"#);
            match m.cseq() {
                Ok(c) => {
                    l.push_str(r#"{"seq":"#);
                    push_u64(l, u64::from(c.seq));
                    l.push_str(r#","method":""#);
                    push_token(l, c.method);
                    l.push_str("\"}");
                }
                Err(_) => {
                    suspect = true;
                    l.push_str("null");
                }
            }
            l.push_str(r#","from":"#);
            let mark = l.len();
            // From, To, the top Via and the body are each a function of one header value (or
            // the body) alone, and repeat across the messages of a dialog: see [`Memo`].
            match m.header(sip::HeaderName::From) {
                Some(h) => memo(l, Memos::From, 0, h.value, |l| {
                    name_addr_json(l, m.from_addr());
                }),
                None => name_addr_json(l, m.from_addr()),
            }
            // Two parameters may be two tags (`sip.tag.duplicate`): check those properly.
            let params = |id| {
                m.header(id)
                    .is_some_and(|h| memchr::memchr_iter(b';', h.value).nth(1).is_some())
            };
            suspect |= &l.as_bytes()[mark..] == b"null" || params(sip::HeaderName::From);
            l.push_str(r#","to":"#);
            let mark = l.len();
            match m.header(sip::HeaderName::To) {
                Some(h) => memo(l, Memos::To, 0, h.value, |l| {
                    name_addr_json(l, m.to_addr());
                }),
                None => name_addr_json(l, m.to_addr()),
            }
            suspect |= &l.as_bytes()[mark..] == b"null" || params(sip::HeaderName::To);
            l.push_str(r#","via_branch":"#);
            let mark = l.len();
            match m.header(sip::HeaderName::Via) {
                Some(h) => memo(l, Memos::Via, 0, h.value, |l| {
                    opt_str(l, m.top_via().ok().and_then(|v| v.branch));
                }),
                None => opt_str(l, m.top_via().ok().and_then(|v| v.branch)),
            }
            // No branch is legal for RFC 2543 peers; only a Via that does not parse counts.
            suspect |= &l.as_bytes()[mark..] == b"null" && m.top_via().is_err();
            l.push_str(r#","headers":["#);
            for (i, h) in m.headers.iter().enumerate() {
                l.push_str(if i > 0 {
                    r#",{"name":""#
                } else {
                    r#"{"name":""#
                });
                push_token(l, h.name);
                l.push_str(r#"","value":"#);
                json_bytes_lossy(l, h.value);
                l.push('}');
            }
            l.push(']');
            let is_sdp = m
                .content_type()
                .and_then(Result::ok)
                .is_some_and(|t| t.is("application", "sdp"));
            memo(l, Memos::Body, u8::from(is_sdp), m.body, |l| {
                body_json(l, Some(m.body));
                l.push_str(r#","sdp":"#);
                match is_sdp.then(|| sdp::parse(m.body).ok()).flatten() {
                    Some(d) => sdp_json(l, &d),
                    None => l.push_str("null"),
                }
            });
            if suspect {
                let mut scratch = Vec::new();
                let mut cache = sip::FieldCache::default();
                diagnostics_json(l, message_findings(meta, msg, &mut scratch, &mut cache));
            } else {
                diagnostics_json(l, meta.diagnostics);
            }
        }
        Decoded::Msrp(m) => {
            l.push_str(r#","protocol":"msrp","kind":"#);
            match m.start {
                msrp::StartLine::Request(method) => {
                    l.push_str(r#""request","method":"#);
                    json_str(l, method.as_str());
                    l.push_str(r#","status":null,"reason":null"#);
                }
                msrp::StartLine::Response { code, comment } => {
                    let _ = write!(l, r#""response","method":null,"status":{code},"reason":"#);
                    opt_str(l, comment);
                }
            }
            l.push_str(r#","call_id":"#);
            opt_str(l, call_id);
            l.push_str(r#","transaction_id":"#);
            json_str(l, m.tid);
            for (name, path) in [
                ("to_path", m.headers.get("To-Path")),
                ("from_path", m.headers.get("From-Path")),
            ] {
                let _ = write!(l, r#","{name}":["#);
                if let Some(h) = path {
                    for (i, uri) in h.value.split(' ').filter(|s| !s.is_empty()).enumerate() {
                        if i > 0 {
                            l.push(',');
                        }
                        json_str(l, uri);
                    }
                }
                l.push(']');
            }
            l.push_str(r#","message_id":"#);
            opt_str(l, m.headers.message_id().ok().flatten());
            l.push_str(r#","byte_range":"#);
            match m.headers.byte_range() {
                Ok(Some(br)) => {
                    let _ = write!(l, r#"{{"start":{},"end":"#, br.start);
                    opt_num(l, br.end);
                    l.push_str(r#","total":"#);
                    opt_num(l, br.total);
                    l.push('}');
                }
                _ => l.push_str("null"),
            }
            let _ = write!(l, r#","continuation":"{}""#, m.flag.as_byte() as char);
            l.push_str(r#","content_type":"#);
            opt_str(l, m.headers.get("Content-Type").map(|h| h.value));
            l.push_str(r#","headers":["#);
            for (i, h) in m.headers.iter().enumerate() {
                if i > 0 {
                    l.push(',');
                }
                l.push_str(r#"{"name":"#);
                json_str(l, h.name);
                l.push_str(r#","value":"#);
                json_str(l, h.value);
                l.push('}');
            }
            l.push(']');
            body_json(l, m.body);
            diagnostics_json(l, meta.diagnostics);
        }
    }
    l.push('}');
}

fn attrs_json(l: &mut Out, attrs: &[sdp::Attribute<'_>]) {
    l.push('[');
    for (i, a) in attrs.iter().enumerate() {
        if i > 0 {
            l.push(',');
        }
        l.push_str(r#"{"name":"#);
        json_str(l, a.name);
        l.push_str(r#","value":"#);
        opt_str(l, a.value);
        l.push('}');
    }
    l.push(']');
}

fn connection_json(l: &mut Out, c: Option<&sdp::Connection<'_>>) {
    let Some(c) = c else {
        l.push_str("null");
        return;
    };
    l.push_str(r#"{"net_type":"#);
    json_str(l, c.net_type);
    l.push_str(r#","addr_type":"#);
    json_str(l, c.addr_type);
    l.push_str(r#","address":"#);
    json_str(l, c.address);
    l.push('}');
}

/// The parsed session description: enough to see who offered what media where.
fn sdp_json(l: &mut Out, d: &sdp::SessionDescription<'_>) {
    l.push_str(r#"{"origin":{"username":"#);
    json_str(l, d.origin.username);
    l.push_str(r#","session_id":"#);
    json_str(l, d.origin.session_id);
    l.push_str(r#","session_version":"#);
    json_str(l, d.origin.session_version);
    l.push_str(r#","address":"#);
    json_str(l, d.origin.address);
    l.push_str(r#"},"session_name":"#);
    json_str(l, d.session_name);
    l.push_str(r#","connection":"#);
    connection_json(l, d.connection.as_ref());
    l.push_str(r#","attributes":"#);
    attrs_json(l, &d.attributes);
    l.push_str(r#","media":["#);
    for (i, m) in d.media.iter().enumerate() {
        if i > 0 {
            l.push(',');
        }
        l.push_str(r#"{"media":"#);
        json_str(l, m.media);
        l.push_str(r#","port":"#);
        push_u64(l, u64::from(m.port));
        l.push_str(r#","proto":"#);
        json_str(l, m.proto);
        l.push_str(r#","formats":["#);
        for (j, f) in m.formats.iter().enumerate() {
            if j > 0 {
                l.push(',');
            }
            json_str(l, f);
        }
        l.push_str(r#"],"connection":"#);
        connection_json(l, d.connection_for(m));
        l.push_str(r#","direction":"#);
        json_str(l, d.direction_of(m).as_str());
        l.push_str(r#","attributes":"#);
        attrs_json(l, &m.attributes);
        l.push('}');
    }
    l.push_str("]}");
}

/// Column width of one host in a ladder diagram.
const COL: usize = 24;

/// A ladder diagram: one column per host, one arrow per message, the time since the first
/// message on the left. Plain text (arrows of `-`, `>` and `<`) so it pastes into a ticket.
pub(crate) fn ladder(call: &FlowCall) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Call-ID: {}", call.call_id);
    out.push_str(&" ".repeat(12));
    for h in &call.hosts {
        let name = h.to_string();
        let _ = write!(out, "{:^width$}", clip(&name, COL - 1), width = COL);
    }
    let header_end = out.trim_end().len();
    out.truncate(header_end);
    out.push('\n');
    let start = call.steps.first().map(|s| s.time).unwrap_or_default();
    let ncols = call.hosts.len();
    let width = ncols * COL;
    for s in &call.steps {
        let delta = s.time.nanos_since(start).max(0) / 1000;
        let mut row: Vec<char> = vec![' '; width];
        for c in 0..ncols {
            row[c * COL + COL / 2] = '|';
        }
        let a = s.from.min(s.to) * COL + COL / 2;
        let b = s.from.max(s.to) * COL + COL / 2;
        if a == b {
            // A message a host sent to itself: a short loop mark.
            let label: Vec<char> = format!(" ⟲ {}", s.label).chars().collect();
            for (i, ch) in label.into_iter().enumerate() {
                if let Some(slot) = row.get_mut(a + 1 + i) {
                    *slot = ch;
                }
            }
        } else {
            for slot in &mut row[a + 1..b] {
                *slot = '-';
            }
            if s.from < s.to {
                row[b - 1] = '>';
            } else {
                row[a + 1] = '<';
            }
            let span = b - a - 3;
            let label: Vec<char> = s.label.chars().take(span.max(1)).collect();
            let at = a + 2 + (span.saturating_sub(label.len())) / 2;
            for (i, ch) in label.into_iter().enumerate() {
                if let Some(slot) = row.get_mut(at + i) {
                    *slot = ch;
                }
            }
        }
        let line: String = row.into_iter().collect();
        let _ = writeln!(
            out,
            "{:>3}.{:06}s {}",
            delta / 1_000_000,
            delta % 1_000_000,
            line.trim_end()
        );
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        let text = |o: &Out| String::from_utf8(o.as_bytes().to_vec()).expect("UTF-8");
        let mut s = Out::with_capacity(64);
        rfc3339(&mut s, Timestamp { secs: 0, nanos: 5 });
        assert_eq!(text(&s), "1970-01-01T00:00:00.000000005Z");
        // The same day again comes from the cached date.
        s.clear();
        rfc3339(
            &mut s,
            Timestamp {
                secs: 86_399,
                nanos: 7,
            },
        );
        assert_eq!(text(&s), "1970-01-01T23:59:59.000000007Z");
        s.clear();
        rfc3339(
            &mut s,
            Timestamp {
                secs: 951_827_696,
                nanos: 123_456_789,
            },
        );
        assert_eq!(text(&s), "2000-02-29T12:34:56.123456789Z");
        s.clear();
        rfc3339(&mut s, Timestamp { secs: -1, nanos: 0 });
        assert_eq!(text(&s), "1969-12-31T23:59:59.000000000Z");
        s.clear();
        rfc3339(
            &mut s,
            Timestamp {
                secs: 951_827_697,
                nanos: 2_000_000_000,
            },
        );
        assert_eq!(text(&s), "2000-02-29T12:34:57.999999999Z");
    }

    #[test]
    fn json_strings_escape_controls() {
        let text = |o: &Out| String::from_utf8(o.as_bytes().to_vec()).expect("UTF-8");
        let mut o = Out::with_capacity(64);
        json_str(&mut o, "a\"b\\c\r\n\u{1}é");
        let s = text(&o);
        assert_eq!(s, r#""a\"b\\c\r\n\u0001é""#);
        let v: String = serde_json::from_str(&s).expect("valid JSON");
        assert_eq!(v, "a\"b\\c\r\n\u{1}é");
        // Every position of an escaped byte inside and across eight-byte words.
        for len in 0..20 {
            for at in 0..len {
                for special in ['"', '\\', '\n', '\u{1f}', '\u{7f}', 'é'] {
                    let mut text: Vec<char> = "abcdefghijklmnopqrst"[..len].chars().collect();
                    text[at] = special;
                    let text: String = text.into_iter().collect();
                    let mut o = Out::with_capacity(64);
                    json_str(&mut o, &text);
                    let out = String::from_utf8(o.as_bytes().to_vec()).expect("UTF-8");
                    let back: String = serde_json::from_str(&out).expect("valid JSON");
                    assert_eq!(back, text, "{out}");
                }
            }
        }
    }

    #[test]
    fn escape_mask_flags_exactly_the_first_special_byte() {
        for special in 0u8..=255 {
            for at in 0..8 {
                let mut w = *b"abcdefgh";
                w[at] = special;
                let needs = special < 0x20 || special == b'"' || special == b'\\';
                assert_eq!(
                    first_flag(u64::from_le_bytes(w)),
                    if needs { at } else { 8 },
                    "{special:#x} at {at}"
                );
                // Two specials: the lower one is found, whatever the higher one borrows.
                let mut w2 = w;
                if at < 7 {
                    w2[7] = b'"';
                    assert_eq!(
                        first_flag(u64::from_le_bytes(w2)),
                        if needs { at } else { 7 }
                    );
                }
            }
        }
    }

    fn first_flag(w: u64) -> usize {
        (escape_mask(w).trailing_zeros() / 8) as usize
    }

    #[test]
    fn word_scan_agrees_with_a_byte_loop_from_every_start() {
        fn reference(b: &[u8], i: usize, stop_high: bool) -> (Vec<u8>, usize) {
            // `stop_high` as the checked copy does: stop at the first byte that is not ASCII.
            let mut out = Vec::new();
            for (j, &c) in b.iter().enumerate().skip(i) {
                if stop_high && c >= 0x80 {
                    return (out, j);
                }
                match c {
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    0..0x20 => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
                    _ => out.push(c),
                }
            }
            (out, b.len())
        }
        let pieces: [&[u8]; 7] = [
            b"abc",
            b"\"",
            b"\r\n",
            b"\xc3\xa9",
            b"0123456789",
            b"\\",
            b"\x01",
        ];
        // Every string of up to three pieces, copied from every offset (a start just after an
        // escaped byte is the case the tail word must not look behind).
        let mut strings: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..3 {
            let mut next = Vec::new();
            for s in &strings {
                for p in pieces {
                    next.push([&s[..], p].concat());
                }
            }
            strings.extend(next);
        }
        for s in &strings {
            for i in 0..=s.len() {
                let mut o = Out::with_capacity(0);
                o.buf.extend_from_slice(b"prefix");
                escape_from(&mut o, s, i);
                assert_eq!(&o.buf[6..], &reference(s, i, false).0[..], "{s:?} from {i}");
                let stop = (i..s.len()).find(|&j| s[j] >= 0x80).unwrap_or(s.len());
                assert_eq!(
                    next_escape_or_high(s, i).min(stop),
                    next_escape_or_high(s, i)
                );
                assert_eq!(
                    next_escape_or_high(s, i),
                    (i..s.len())
                        .find(|&j| s[j] >= 0x80 || reference(&s[j..=j], 0, false).0 != s[j..=j])
                        .unwrap_or(s.len()),
                    "{s:?} from {i}"
                );
            }
        }
    }

    #[test]
    fn sip_messages_rebuilt_from_their_parts_equal_the_parsed_ones() {
        let msgs: [&[u8]; 4] = [
            b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
              From: \"A\" <sip:a@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\
              Content-Length: 5\r\n\r\nv=0\r\n",
            b"SIP/2.0 200 OK\r\ni: c1\r\nl: 0\r\n\r\n",
            b"SIP/2.0 180 \r\nCall-ID: c1\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
            // Not UTF-8 in the head: rebuilt by parsing again.
            b"SIP/2.0 200 \xe9t\xe9\r\nX-Bin: \xff\r\nContent-Length: 0\r\n\r\n",
        ];
        for (i, raw) in msgs.into_iter().enumerate() {
            let Some(Decoded::Sip(m)) = crate::commands::decode_pcap::reparse(raw, true) else {
                panic!("message {i} parses");
            };
            let mut headers = Vec::new();
            let parts = sip_parts(&m, raw, &mut headers).expect("parts inside the message");
            assert_eq!(parts.headers.len(), m.headers.len());
            let copy = raw.to_vec();
            match sip_rebuild(&copy, &parts, &headers) {
                Some(again) => assert_eq!(format!("{again:?}"), format!("{m:?}"), "message {i}"),
                None => assert_eq!(i, 3, "only the head that is not UTF-8 is parsed again"),
            }
        }
        // A message that is not a slice of the bytes given: no parts.
        let Some(Decoded::Sip(m)) = crate::commands::decode_pcap::reparse(msgs[1], true) else {
            panic!("parses");
        };
        let elsewhere = msgs[1].to_vec();
        assert!(sip_parts(&m, &elsewhere, &mut Vec::new()).is_none());
    }

    #[test]
    fn memo_writes_what_make_writes_through_hits_misses_and_evictions() {
        let mut l = Out::with_capacity(64);
        let mut made = 0;
        // Keys 0..200 twice (more keys than slots, so slots are evicted), with an empty key and
        // both tags: each write is exactly what `make` writes for its key.
        for round in 0..2 {
            for i in 0..200u32 {
                let key = if i == 0 {
                    Vec::new()
                } else {
                    i.to_string().into_bytes()
                };
                let tag = (i % 2) as u8;
                l.clear();
                memo(&mut l, Memos::Body, tag, &key, |l| {
                    made += 1;
                    l.push_str(&format!("[{tag}:{}]", String::from_utf8_lossy(&key)));
                });
                let want = format!("[{tag}:{}]", String::from_utf8_lossy(&key));
                assert_eq!(l.as_bytes(), want.as_bytes(), "round {round} key {i}");
            }
        }
        assert!(made < 400, "the second round hits some slots");
        // The same key under another tag is another entry.
        l.clear();
        memo(&mut l, Memos::From, 0, b"k", |l| l.push_str("zero"));
        memo(&mut l, Memos::From, 1, b"k", |l| l.push_str("one"));
        memo(&mut l, Memos::From, 0, b"k", |l| l.push_str("not called"));
        assert_eq!(l.as_bytes(), b"zeroonezero".as_slice());
    }

    #[test]
    fn bytes_that_are_not_utf8_become_replacement_characters() {
        let mut o = Out::with_capacity(64);
        json_bytes_lossy(&mut o, b"a\xffb\"");
        assert_eq!(o.as_bytes(), "\"a\u{fffd}b\\\"\"".as_bytes());
        o.clear();
        body_json(&mut o, Some(b"\xff\x00"));
        assert_eq!(
            o.as_bytes(),
            br#","body":{"encoding":"base64","data":"/wA="}"#
        );
        o.clear();
        body_json(&mut o, Some("\u{e9}\n".as_bytes()));
        assert_eq!(
            o.as_bytes(),
            ",\"body\":{\"encoding\":\"text\",\"data\":\"\u{e9}\\n\"}".as_bytes()
        );
    }

    /// Everything a listing prints, through `printer`: messages of every kind, with notices
    /// between them, over enough bytes for several batches.
    fn listing<W: Write>(printer: &mut DecodePrinter<W>) {
        let sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                   m=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n";
        let invite = format!(
            "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             From: \"A \\\"q\\\"\" <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        );
        let ok: &[u8] = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCall-ID: c1\r\n\
                  CSeq: 1 INVITE\r\nX-Bin: \xc3\xa9\r\nContent-Length: 2\r\n\r\n\xff\x00";
        let send = "MSRP tx1234 SEND\r\nTo-Path: msrp://b:1/s;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\n\
                    Message-ID: m1\r\nByte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
                    -------tx1234$\r\n";
        let src: SocketAddr = "10.0.0.1:5060".parse().expect("address");
        let dst: SocketAddr = "[2001:db8::2]:5060".parse().expect("address");
        for frame in 1..4000u64 {
            let (raw, stream, transport) = match frame % 3 {
                0 => (invite.as_bytes(), false, crate::capture::Transport::Udp),
                1 => (ok, true, crate::capture::Transport::Tcp),
                _ => (send.as_bytes(), true, crate::capture::Transport::Tcp),
            };
            let msg = crate::commands::decode_pcap::reparse(raw, stream)
                .unwrap_or_else(|| panic!("{frame} parses"));
            let meta = Meta {
                frame,
                time: Timestamp {
                    secs: 1_700_000_000 + frame as i64 * 997,
                    nanos: frame as u32,
                },
                src,
                dst,
                transport,
                packets: &[],
                stream,
                diagnostics: &[],
            };
            // Some messages carry the framing's findings, which must travel with them.
            let truncated = [Finding::error(crate::proto::ParseError::new(
                "capture.truncated",
                "cut",
                3,
                0,
                "",
            ))];
            let meta = if frame % 11 == 0 {
                Meta {
                    diagnostics: &truncated,
                    ..meta
                }
            } else {
                meta
            };
            let call = (frame % 2 == 0).then_some("c1");
            printer.message(&meta, &msg, raw, call).expect("written");
            if frame % 7 == 0 {
                // Whole datagrams: two messages, one that does not parse, and one that parses
                // only tolerantly (its findings are made on the formatting thread).
                let two = [invite.as_bytes(), invite.as_bytes()].concat();
                for (data, quiet) in [
                    (&two[..], false),
                    (&b"SIP/2.0 20x OK\r\nVia: x\r\n\r\n"[..], frame % 2 == 0),
                    (b"OPTIONS sip:x SIP/2.0\nCall-ID: c\nVia", false),
                ] {
                    if let Some(r) = printer.datagram(&meta, data, quiet) {
                        r.expect("written");
                    } else {
                        let mut direct = Direct {
                            printer: &mut *printer,
                            quiet,
                        };
                        crate::commands::decode_pcap::datagram_messages(&meta, data, &mut direct);
                    }
                }
            }
            if frame % 500 == 0 {
                let n = Notice::Skipped {
                    frame,
                    reason: "unsupported link type 147".into(),
                };
                printer.notice(&n).expect("written");
            }
        }
        printer.capture_error("the end").expect("written");
        printer.flush().expect("written");
    }

    /// What the run's handler does with a datagram when the printer formats on its own thread.
    struct Direct<'a, W: Write> {
        printer: &'a mut DecodePrinter<W>,
        quiet: bool,
    }

    impl<W: Write> crate::commands::decode_pcap::Handler for Direct<'_, W> {
        fn message(&mut self, meta: &Meta<'_>, msg: &Decoded<'_>, raw: &[u8]) {
            self.printer.message(meta, msg, raw, None).expect("written");
        }
        fn dropped(&mut self, d: &Dropped) {
            if !self.quiet {
                self.printer.dropped(d).expect("written");
            }
        }
        fn notice(&mut self, _: &Notice) {}
    }

    #[test]
    fn parallel_formatting_prints_the_same_bytes_in_the_same_order() {
        for (json, full) in [(true, false), (false, false), (false, true)] {
            let mut alone = DecodePrinter::new(json, full, false, Vec::new());
            listing(&mut alone);
            let mut shared = DecodePrinter::new(json, full, false, Vec::new());
            shared.set_parallel(3);
            assert!(shared.parallel.is_some());
            listing(&mut shared);
            let batches = shared.parallel.as_ref().map_or(0, |p| p.sent);
            assert!(batches > 3, "several batches, more than the workers");
            assert!(memchr::memmem::find(&alone.out, b"dropped").is_some());
            for code in [&b"capture.truncated"[..], b"sip.line.bare-lf"] {
                assert!(
                    memchr::memmem::find(&alone.out, code).is_some() || !(json || full),
                    "{}",
                    String::from_utf8_lossy(code)
                );
            }
            assert!(alone.out == shared.out, "json {json} full {full}");
        }
        // A terminal gets each line at once: no batches.
        let mut tty = DecodePrinter::new(true, false, true, Vec::new());
        tty.set_parallel(2);
        assert!(tty.parallel.is_none());
    }
}
