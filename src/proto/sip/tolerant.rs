//! The codec's tolerant profile: a SIP message read as far as it can be, with a [`Finding`] for
//! each thing that is wrong, for the dissector (a capture shows what was on the wire, however
//! broken; RFC 4475 §3 lists the breakage real peers send). [`super::parse`] stays the strict
//! framer that endpoints rely on; this profile is only tried once it has refused the bytes.
//!
//! What is tolerated, each with the code `validate` gives the same problem:
//! - lines ending with LF alone or CR alone (`sip.line.bare-lf`, `sip.line.bare-cr`);
//! - a malformed start line, read by splitting at white space (the strict parser's code);
//! - header lines that are not `name: value` (skipped, `sip.header.name` / `sip.header.colon`);
//! - more header fields than [`MAX_HEADERS`], a limit of sipkit's (`sip.header.too-many`, once);
//! - a head that never ends with an empty line (`sip.message.truncated`);
//! - a Content-Length that is not a number, disagrees with another, or runs past the end of the
//!   datagram (`sip.content-length.*`), and one missing on a stream, where the message is then
//!   taken to run to the next start line (`sip.content-length.missing`, a warning).

use super::message::{Header, Headers, Message, StartLine};
use super::name::HeaderName;
use crate::proto::scan::is_token;
use crate::proto::{Finding, ParseError, Status};

/// Header fields kept per message; the rest are counted in one finding. The same bound as the
/// strict framer's default, so a message neither profile keeps whole is rare and named.
pub const MAX_HEADERS: usize = 512;

/// On an open stream, a head with no empty line in this many bytes is taken as cut off there:
/// waiting longer would re-read a growing buffer on every segment (hostile or binary streams).
pub const MAX_OPEN_HEAD: usize = 64 * 1024;
/// On an open stream, a body without Content-Length ends here if no start line follows sooner.
pub const MAX_UNFRAMED_BODY: usize = 1024 * 1024;

const RFC_MSG: &str = "RFC 3261 §7";
const RFC_HEADER: &str = "RFC 3261 §7.3.1";
const RFC_BODY: &str = "RFC 3261 §20.14";

/// How the bytes given to [`parse_tolerant`] end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// A datagram: the buffer is all there is.
    Datagram,
    /// A stream that may still bring more bytes.
    Open,
    /// A stream that brings no more bytes (closed, or bytes were lost after this point).
    Closed,
}

/// A message read by the tolerant profile.
#[derive(Debug)]
pub struct Tolerant<'a> {
    pub message: Message<'a>,
    /// Bytes of the buffer the message occupies.
    pub consumed: usize,
    /// What is wrong with it, in order of position; offsets are relative to the buffer.
    pub findings: Vec<Finding>,
}

/// One line of the head: where its content ends and where the next line starts.
/// `more`: more bytes may follow, so a CR at the very end may yet be followed by LF.
fn line_at(buf: &[u8], from: usize, more: bool) -> Option<(usize, usize, LineEnd)> {
    let rest = &buf[from..];
    let i = memchr::memchr2(b'\r', b'\n', rest)?;
    let end = from + i;
    match rest[i] {
        b'\n' => Some((end, end + 1, LineEnd::Lf)),
        _ => match rest.get(i + 1) {
            Some(b'\n') => Some((end, end + 2, LineEnd::CrLf)),
            Some(_) => Some((end, end + 1, LineEnd::Cr)),
            None if more => None,
            None => Some((end, end + 1, LineEnd::Cr)),
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineEnd {
    CrLf,
    Lf,
    Cr,
}

/// Read one SIP message at the start of `buf` as far as it goes.
///
/// `next_start` finds where the next message begins in a slice (for a stream message without
/// Content-Length). Returns `Ok(Status::Partial)` when an open stream needs more bytes, and
/// `Err` with the reason when the bytes do not begin with anything that reads as a start line.
pub fn parse_tolerant<'a>(
    buf: &'a [u8],
    end: End,
    next_start: &dyn Fn(&[u8]) -> Option<usize>,
) -> Result<Status<Tolerant<'a>>, ParseError> {
    let mut findings = Vec::new();
    let mut endings = Endings::default();
    let more = end == End::Open;
    let Some((line_end, mut pos, le)) = line_at(buf, 0, more) else {
        if more {
            return Ok(Status::Partial);
        }
        return Err(ParseError::new(
            "sip.message.truncated",
            "the message ends inside the start line",
            buf.len(),
            0,
            RFC_MSG,
        ));
    };
    endings.note(le, line_end);
    let start = start_line(buf, line_end, &mut findings)?;
    // Header fields, each line on its own: a bad one is skipped and named.
    let mut headers: Headers<'a> = Headers::new();
    let mut extra_headers = 0usize;
    let mut extra_at = 0;
    let mut content_length: Option<(usize, &'a [u8])> = None;
    let mut cl_bad = false;
    let mut head_truncated = false;
    let mut head_cut = false;
    let head_end = loop {
        if more && pos > MAX_OPEN_HEAD {
            head_truncated = true;
            head_cut = true;
            findings.push(Finding::error(ParseError::new(
                "sip.message.truncated",
                format!(
                    "no empty line in the first {} KiB of header fields: the message is taken to \
                     end here",
                    MAX_OPEN_HEAD / 1024
                ),
                pos,
                0,
                RFC_MSG,
            )));
            break pos;
        }
        let Some((lend, next, le)) = line_at(buf, pos, more) else {
            if more {
                return Ok(Status::Partial);
            }
            // The head never ended: everything left is header lines (a datagram cut short, or
            // a stream that stopped).
            let tail = &buf[pos..];
            if !tail.is_empty() {
                header_line(
                    buf,
                    pos,
                    buf.len(),
                    &mut headers,
                    &mut findings,
                    &mut extra_headers,
                    &mut extra_at,
                );
            }
            head_truncated = true;
            findings.push(Finding::error(ParseError::new(
                "sip.message.truncated",
                "the header fields do not end with an empty line (CRLF CRLF)",
                buf.len(),
                0,
                RFC_MSG,
            )));
            break buf.len();
        };
        endings.note(le, lend);
        if lend == pos {
            break next;
        }
        // Folded continuation lines (starting with SP or HTAB) belong to the field above.
        let mut vend = lend;
        let mut after = next;
        while matches!(buf.get(after), Some(b' ' | b'\t')) {
            match line_at(buf, after, more) {
                Some((e, n, le)) => {
                    endings.note(le, e);
                    vend = e;
                    after = n;
                }
                None if more => return Ok(Status::Partial),
                None => {
                    vend = buf.len();
                    after = buf.len();
                }
            }
        }
        if let Some(h) = header_line(
            buf,
            pos,
            vend,
            &mut headers,
            &mut findings,
            &mut extra_headers,
            &mut extra_at,
        ) && h.id == HeaderName::ContentLength
        {
            match content_length_value(h.value) {
                Some(n) => match content_length {
                    Some((prev, _)) if prev != n => {
                        cl_bad = true;
                        findings.push(Finding::error(ParseError::new(
                            "sip.content-length.conflict",
                            format!(
                                "two Content-Length header fields disagree ({prev} and {n}); the first is used"
                            ),
                            offset(buf, h.value),
                            value_len(buf, h.value),
                            RFC_BODY,
                        )));
                    }
                    Some(_) => {}
                    None => content_length = Some((n, h.value)),
                },
                None => {
                    cl_bad = true;
                    findings.push(Finding::error(ParseError::new(
                        "sip.content-length.invalid",
                        format!(
                            "Content-Length must be a non-negative decimal number, found `{}`",
                            super::uri::clip(&String::from_utf8_lossy(h.value))
                        ),
                        offset(buf, h.value),
                        value_len(buf, h.value),
                        RFC_BODY,
                    )));
                }
            }
        }
        pos = after;
    };
    if extra_headers > 0 {
        findings.push(Finding::warning(ParseError::new(
            "sip.header.too-many",
            format!(
                "{extra_headers} header fields after the first {MAX_HEADERS} are not shown: \
                 sipkit keeps at most {MAX_HEADERS} per message (a limit of sipkit's, not of RFC 3261)"
            ),
            extra_at,
            1,
            // Not an RFC rule.
            "",
        )));
    }
    endings.report(&mut findings);
    let rest = &buf[head_end..];
    let cl = content_length.map(|c| c.0);
    let body_len = match (cl, end) {
        _ if head_cut => 0,
        (Some(n), _) if n <= rest.len() => n,
        (Some(_), End::Open) => return Ok(Status::Partial),
        (Some(n), _) => {
            let h = content_length.map(|c| c.1);
            findings.push(Finding::error(ParseError::new(
                "sip.content-length.mismatch",
                format!(
                    "Content-Length is {n} but only {} body bytes follow the headers",
                    rest.len()
                ),
                h.map_or(head_end, |v| offset(buf, v)),
                h.map_or(1, |v| v.len().max(1)),
                RFC_BODY,
            )));
            rest.len()
        }
        (None, End::Datagram) => rest.len(),
        (None, _) => {
            let n = match next_start(rest) {
                Some(n) => n,
                None if more && rest.len() <= MAX_UNFRAMED_BODY => return Ok(Status::Partial),
                None => rest.len(),
            };
            if !cl_bad && !head_truncated {
                findings.push(Finding::warning(ParseError::new(
                    "sip.content-length.missing",
                    "no Content-Length on a stream (RFC 3261 §18.3 requires it): the message is \
                     taken to run to the next start line",
                    0,
                    line_end,
                    RFC_BODY,
                )));
            }
            n
        }
    };
    findings.sort_by_key(|f| f.error.offset);
    let consumed = head_end + body_len;
    let body = &buf[head_end..consumed];
    Ok(Status::Complete(
        Tolerant {
            message: Message::new(start, headers, body, &buf[..consumed], cl),
            consumed,
            findings,
        },
        consumed,
    ))
}

/// The line ends of a head other than CRLF, reported once each (a device that ends lines with
/// LF does so on every line).
#[derive(Debug, Default)]
struct Endings {
    lf: (usize, Option<usize>),
    cr: (usize, Option<usize>),
}

impl Endings {
    fn note(&mut self, le: LineEnd, at: usize) {
        let slot = match le {
            LineEnd::CrLf => return,
            LineEnd::Lf => &mut self.lf,
            LineEnd::Cr => &mut self.cr,
        };
        slot.0 += 1;
        slot.1.get_or_insert(at);
    }

    fn report(&self, out: &mut Vec<Finding>) {
        if let (n, Some(at)) = self.lf {
            out.push(Finding::error(ParseError::new(
                "sip.line.bare-lf",
                format!("{n} line(s) end with LF alone; SIP lines must end with CRLF"),
                at,
                1,
                RFC_MSG,
            )));
        }
        if let (n, Some(at)) = self.cr {
            out.push(Finding::error(ParseError::new(
                "sip.line.bare-cr",
                format!("{n} line(s) end with CR alone; SIP lines must end with CRLF"),
                at,
                1,
                RFC_MSG,
            )));
        }
    }
}

/// The start line `buf[..end]`: the strict reading when it accepts it, else the parts split
/// at white space, with the strict parser's finding.
fn start_line<'a>(
    buf: &'a [u8],
    end: usize,
    findings: &mut Vec<Finding>,
) -> Result<StartLine<'a>, ParseError> {
    let line = &buf[..end];
    // The strict reading of the line alone, given the CRLF it expects.
    let strict = {
        let mut one = Vec::with_capacity(end + 2);
        one.extend_from_slice(line);
        one.extend_from_slice(b"\r\n");
        match super::message::parse_start_line(&one, 0, &super::ParseOptions::default()) {
            Ok(Some(_)) => None,
            Ok(None) => None,
            Err(e) => Some(e),
        }
    };
    let words: Vec<&'a [u8]> = line
        .split(|&c| c == b' ' || c == b'\t')
        .filter(|w| !w.is_empty())
        .collect();
    let text = |w: &'a [u8]| std::str::from_utf8(w).ok();
    let first = words.first().copied().unwrap_or_default();
    let parsed = if first.len() > 4 && first[..4].eq_ignore_ascii_case(b"SIP/") {
        let code = words
            .get(1)
            .filter(|c| c.len() == 3 && c.iter().all(u8::is_ascii_digit))
            .map(|c| c.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')));
        let reason = words.get(2).map_or(&b""[..], |w| {
            let at = offset(buf, w);
            &buf[at..end]
        });
        code.and_then(|code| {
            Some(StartLine::Response {
                version: text(first)?,
                code,
                reason: trim_end(reason),
            })
        })
    } else if words.len() >= 3
        && first.iter().all(|&c| is_token(c))
        && words
            .last()
            .is_some_and(|v| v.len() > 4 && v[..4].eq_ignore_ascii_case(b"SIP/"))
    {
        // Method, then everything up to the version is the Request-URI (white space inside
        // it is one of the things to report, not a reason to lose the message).
        let uri_start = offset(buf, words[1]);
        let last = words[words.len() - 1];
        let uri_end = offset(buf, words[words.len() - 2]) + words[words.len() - 2].len();
        match (text(first), text(&buf[uri_start..uri_end]), text(last)) {
            (Some(method), Some(uri), Some(version)) => Some(StartLine::Request {
                method,
                uri,
                version,
            }),
            _ => None,
        }
    } else {
        None
    };
    match (parsed, strict) {
        (Some(s), Some(e)) => {
            findings.push(Finding::error(e));
            Ok(s)
        }
        (Some(s), None) => Ok(s),
        (None, Some(e)) => Err(e),
        (None, None) => Err(ParseError::new(
            "sip.start-line.invalid",
            "expected a SIP request or status line",
            0,
            end.max(1),
            RFC_MSG,
        )),
    }
}

fn trim_end(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(0, |i| i + 1);
    &b[..n]
}

/// One `name: value` field in `buf[pos..end]` (folded lines included), pushed onto `headers`;
/// a line that is not a field becomes a finding.
fn header_line<'a>(
    buf: &'a [u8],
    pos: usize,
    end: usize,
    headers: &mut Headers<'a>,
    findings: &mut Vec<Finding>,
    extra: &mut usize,
    extra_at: &mut usize,
) -> Option<Header<'a>> {
    let line = &buf[pos..end];
    let name_len = line
        .iter()
        .position(|&c| !is_token(c))
        .unwrap_or(line.len());
    if name_len == 0 {
        let msg = if matches!(line.first(), Some(b' ' | b'\t')) {
            "a header line starts with white space but there is no header to continue".into()
        } else {
            format!(
                "expected a header name, found `{}`",
                super::uri::clip(&String::from_utf8_lossy(line))
            )
        };
        findings.push(Finding::error(ParseError::new(
            "sip.header.name",
            msg,
            pos,
            line.len().max(1),
            RFC_HEADER,
        )));
        return None;
    }
    let mut c = name_len;
    while matches!(line.get(c), Some(b' ' | b'\t')) {
        c += 1;
    }
    if line.get(c) != Some(&b':') {
        findings.push(Finding::error(ParseError::new(
            "sip.header.colon",
            format!(
                "expected `:` after header name `{}`; the line is not shown as a field",
                String::from_utf8_lossy(&line[..name_len])
            ),
            pos + c,
            // Nothing follows a name cut by the end of the buffer: the span is empty there.
            usize::from(pos + c < buf.len()),
            RFC_HEADER,
        )));
        return None;
    }
    if headers.len() >= MAX_HEADERS {
        if *extra == 0 {
            *extra_at = pos;
        }
        *extra += 1;
        return None;
    }
    let is_lws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let v = &line[c + 1..];
    let a = v.iter().position(|b| !is_lws(b)).unwrap_or(v.len());
    let z = v.iter().rposition(|b| !is_lws(b)).map_or(a, |i| i + 1);
    let value = &v[a..z];
    // Token bytes are ASCII, so the name is always UTF-8.
    let name = std::str::from_utf8(&line[..name_len]).unwrap_or_default();
    let h = Header {
        name,
        id: HeaderName::from_bytes(name.as_bytes()),
        value,
    };
    headers.push(h);
    Some(h)
}

/// `Content-Length = ( "Content-Length" / "l" ) HCOLON 1*DIGIT`
fn content_length_value(v: &[u8]) -> Option<usize> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0usize, |n, d| {
        n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}

fn offset(buf: &[u8], part: &[u8]) -> usize {
    crate::proto::error::offset_in(buf, part).unwrap_or(0)
}

/// From, To and top-Via values recently found clean by [`field_findings_cached`]: the messages
/// of a dialog repeat them, and parsing each again costs more than the rest of a listing line.
/// A direct-mapped table of 64-bit hashes (a collision would skip one check: 2^-64).
#[derive(Debug)]
pub struct FieldCache {
    /// `None`: remember nothing (one-off checks).
    slots: Option<Box<[u64; 256]>>,
    state: foldhash::fast::FixedState,
}

impl Default for FieldCache {
    fn default() -> Self {
        FieldCache {
            slots: Some(Box::new([0; 256])),
            ..FieldCache::off()
        }
    }
}

impl FieldCache {
    const fn off() -> Self {
        FieldCache {
            slots: None,
            state: foldhash::fast::FixedState::with_seed(0x5eed_f1e1d),
        }
    }

    fn key(&self, kind: u8, value: &[u8]) -> u64 {
        if self.slots.is_none() {
            return 0;
        }
        use std::hash::{BuildHasher, Hasher};
        let mut h = self.state.build_hasher();
        h.write_u8(kind);
        h.write(value);
        h.finish() | 1
    }

    fn known(&self, k: u64) -> bool {
        self.slots
            .as_ref()
            .is_some_and(|s| s.get((k >> 56) as usize) == Some(&k))
    }

    fn learn(&mut self, k: u64) {
        if let Some(s) = self
            .slots
            .as_mut()
            .and_then(|s| s.get_mut((k >> 56) as usize))
        {
            *s = k;
        }
    }
}

/// [`field_findings`] that skips the From, To and Via values `cache` has seen clean.
pub fn field_findings_cached(m: &Message<'_>, cache: &mut FieldCache, out: &mut Vec<Finding>) {
    let mut missing = Vec::new();
    match m.call_id() {
        Ok(_) => {}
        Err(_) if m.header(HeaderName::CallId).is_none() => missing.push("Call-ID"),
        Err(e) => out.push(Finding::error(e)),
    }
    match m.cseq() {
        Ok(_) => {}
        Err(_) if m.header(HeaderName::CSeq).is_none() => missing.push("CSeq"),
        Err(e) => out.push(Finding::error(e)),
    }
    for (kind, id, name) in [
        (1u8, HeaderName::From, "From"),
        (2, HeaderName::To, "To"),
        (3, HeaderName::Via, "Via"),
    ] {
        let Some(h) = m.header(id) else {
            missing.push(name);
            continue;
        };
        let k = cache.key(kind, h.value);
        if cache.known(k) {
            continue;
        }
        let before = out.len();
        let r = match kind {
            1 | 2 => {
                let a = if kind == 1 {
                    m.from_addr()
                } else {
                    m.to_addr()
                };
                a.map(|a| duplicate_tag(m, name, a.params, out))
            }
            _ => m.top_via().map(drop),
        };
        if let Err(e) = r {
            out.push(Finding::error(e));
        }
        if out.len() == before {
            cache.learn(k);
        }
    }
    missing_fields(m, &missing, out);
}

/// The span of a header value in a finding: at least one byte, to point at, unless the value
/// is empty at the very end of the buffer (a head cut right after the colon).
fn value_len(buf: &[u8], value: &[u8]) -> usize {
    value.len().max(usize::from(offset(buf, value) < buf.len()))
}

/// What the dissector reads from every message (Call-ID, CSeq, From, To, the top Via), checked:
/// a field that is missing or does not parse is a finding, with the code `validate` gives it.
/// Offsets are relative to the message's buffer.
pub fn field_findings(m: &Message<'_>, out: &mut Vec<Finding>) {
    field_findings_cached(m, &mut FieldCache::off(), out);
}

fn missing_fields(m: &Message<'_>, missing: &[&str], out: &mut Vec<Finding>) {
    if !missing.is_empty() {
        let what = if m.is_request() {
            "a request"
        } else {
            "a response"
        };
        let line = memchr::memchr2(b'\r', b'\n', m.buf).unwrap_or(m.buf.len());
        out.push(Finding::error(ParseError::new(
            "sip.header.missing",
            format!(
                "{what} must contain To, From, CSeq, Call-ID, Via: missing {}",
                missing.join(", ")
            ),
            0,
            line.max(1),
            if m.is_request() {
                "RFC 3261 §8.1.1"
            } else {
                "RFC 3261 §8.2.6.2"
            },
        )));
    }
}

/// A From or To with more than one `tag` parameter: the grammar allows it (`*( SEMI
/// from-param )`) but the dialog it names is ambiguous; the first is used.
pub(crate) fn duplicate_tag(m: &Message<'_>, name: &str, params: &str, out: &mut Vec<Finding>) {
    let is_tag = |p: &&str| {
        p.split('=')
            .next()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("tag"))
    };
    let mut tags = params.split(';').filter(is_tag);
    if let (Some(_), Some(second)) = (tags.next(), tags.next()) {
        out.push(Finding::warning(ParseError::new(
            "sip.tag.duplicate",
            format!("{name} has more than one tag parameter; the first is used"),
            m.offset_of(second.as_bytes()),
            second.len().max(1),
            "RFC 3261 §19.3",
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_start(_: &[u8]) -> Option<usize> {
        None
    }

    fn read(buf: &[u8], end: End) -> Tolerant<'_> {
        match parse_tolerant(buf, end, &no_start) {
            Ok(Status::Complete(t, _)) => t,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    fn codes(t: &Tolerant<'_>) -> Vec<&'static str> {
        t.findings.iter().map(|f| f.error.code).collect()
    }

    const LF: &[u8] = b"OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\
Call-ID: x\nCSeq: 1 OPTIONS\nFrom: <sip:a@b>;tag=1\nTo: <sip:a@b>\nContent-Length: 2\n\nhi";

    #[test]
    fn issue_14_header_line_without_colon_at_the_end_of_the_buffer_stays_in_bounds() {
        // Found by the decode_tolerant fuzz target: a last header line cut after its name.
        for buf in [&b"SIP/2.0 200 OK\rg"[..], b"BYE sip:x SIP/2.0\r\nCall-ID"] {
            let t = read(buf, End::Closed);
            let f = t
                .findings
                .iter()
                .find(|f| f.error.code == "sip.header.colon")
                .expect("a colon finding");
            assert_eq!(f.error.offset, buf.len());
            assert!(f.error.offset + f.error.len <= t.consumed, "{f:?}");
        }
    }

    #[test]
    fn issue_14_empty_content_length_at_the_end_of_the_buffer_stays_in_bounds() {
        // Found by the decode_tolerant fuzz target: the head ends in a folded line of white
        // space after the colon, so the empty value is at the buffer's end.
        for buf in [
            &b"BYE sip:x SIP/2.0\r\nContent-Length:\r\n "[..],
            b"BYE sip:x SIP/2.0\r\nl:\n\t",
        ] {
            for end in [End::Datagram, End::Closed] {
                let t = read(buf, end);
                let f = t
                    .findings
                    .iter()
                    .find(|f| f.error.code == "sip.content-length.invalid")
                    .expect("an invalid Content-Length finding");
                assert!(f.error.offset + f.error.len <= t.consumed, "{f:?}");
            }
        }
    }

    #[test]
    fn lf_line_ends_give_the_whole_message_and_one_finding() {
        let t = read(LF, End::Datagram);
        assert_eq!(t.message.method(), Some("OPTIONS"));
        assert_eq!(t.message.headers.len(), 6);
        assert_eq!(t.message.body, b"hi");
        assert_eq!(t.message.call_id().ok(), Some("x"));
        assert_eq!(codes(&t), ["sip.line.bare-lf"]);
        assert_eq!(t.consumed, LF.len());
    }

    #[test]
    fn cr_line_ends_too() {
        let cr: Vec<u8> = LF
            .iter()
            .map(|&c| if c == b'\n' { b'\r' } else { c })
            .collect();
        let t = read(&cr, End::Datagram);
        assert_eq!(t.message.headers.len(), 6);
        assert_eq!(t.message.cseq().map(|c| c.seq).ok(), Some(1));
        assert_eq!(codes(&t), ["sip.line.bare-cr"]);
    }

    #[test]
    fn head_without_an_empty_line() {
        let t = read(
            b"SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: 1 BYE",
            End::Datagram,
        );
        assert_eq!(t.message.status(), Some(200));
        assert_eq!(t.message.headers.len(), 2);
        assert_eq!(codes(&t), ["sip.message.truncated"]);
        // On an open stream the same bytes wait for more.
        assert!(matches!(
            parse_tolerant(b"SIP/2.0 200 OK\r\nCall-ID: x\r\n", End::Open, &no_start),
            Ok(Status::Partial)
        ));
    }

    #[test]
    fn bad_content_length_and_bad_lines_are_named_and_skipped() {
        let m = b"BYE sip:a SIP/2.0\r\nCall-ID: x\r\nthis is not a header\r\n\
Content-Length: ten\r\n\r\nbody";
        let t = read(m, End::Datagram);
        assert_eq!(t.message.body, b"body");
        assert_eq!(
            codes(&t),
            ["sip.header.colon", "sip.content-length.invalid"]
        );
        let m = b"BYE sip:a SIP/2.0\r\nContent-Length: 99\r\n\r\nbody";
        let t = read(m, End::Datagram);
        assert_eq!(t.message.body, b"body");
        assert_eq!(codes(&t), ["sip.content-length.mismatch"]);
    }

    #[test]
    fn header_limit_is_one_finding() {
        let mut m = b"MESSAGE sip:a SIP/2.0\r\n".to_vec();
        for i in 0..10_000 {
            m.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
        }
        m.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        let t = read(&m, End::Datagram);
        assert_eq!(t.message.headers.len(), MAX_HEADERS);
        assert_eq!(codes(&t), ["sip.header.too-many"]);
        assert!(t.findings[0].error.message.contains("9489 header fields"));
    }

    #[test]
    fn stream_without_content_length_runs_to_the_next_start_line() {
        let m = b"MESSAGE sip:a SIP/2.0\r\nCall-ID: x\r\n\r\nhelloBYE sip:a SIP/2.0\r\n";
        let next = |b: &[u8]| memchr::memmem::find(b, b"BYE ");
        let Ok(Status::Complete(t, n)) = parse_tolerant(m, End::Open, &next) else {
            panic!("expected a message");
        };
        assert_eq!(t.message.body, b"hello");
        assert_eq!(n, m.len() - 19);
        assert_eq!(codes(&t), ["sip.content-length.missing"]);
        // Without a next start line an open stream waits; a closed one ends the message.
        assert!(matches!(
            parse_tolerant(&m[..40], End::Open, &no_start),
            Ok(Status::Partial)
        ));
        let t = read(&m[..40], End::Closed);
        assert_eq!(t.message.body, b"hel");
    }

    #[test]
    fn broken_start_lines_keep_their_parts() {
        let t = read(
            b"INVITE  sip:a@b SIP/2.0 \r\nCall-ID: x\r\n\r\n",
            End::Datagram,
        );
        assert_eq!(t.message.method(), Some("INVITE"));
        assert!(matches!(
            t.message.start,
            StartLine::Request { uri: "sip:a@b", .. }
        ));
        assert_eq!(codes(&t), ["sip.request-line.space"]);
        let t = read(b"SIP/2.0 200\r\n\r\n", End::Datagram);
        assert_eq!(t.message.status(), Some(200));
        assert!(parse_tolerant(b"hello world\r\n\r\n", End::Datagram, &no_start).is_err());
    }

    #[test]
    fn an_open_stream_does_not_wait_forever_for_a_head_or_an_unframed_body() {
        let mut m = b"OPTIONS sip:a SIP/2.0\r\n".to_vec();
        while m.len() <= MAX_OPEN_HEAD + 100 {
            m.extend_from_slice(b"X-Filler: 0123456789\r\n");
        }
        let Ok(Status::Complete(t, n)) = parse_tolerant(&m, End::Open, &no_start) else {
            panic!("a head this long is cut, not waited for");
        };
        assert!(n > MAX_OPEN_HEAD && n <= m.len());
        assert_eq!(codes(&t), ["sip.header.too-many", "sip.message.truncated"]);
        let mut m = b"MESSAGE sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n".to_vec();
        m.resize(m.len() + MAX_UNFRAMED_BODY + 1, b'x');
        let Ok(Status::Complete(t, n)) = parse_tolerant(&m, End::Open, &no_start) else {
            panic!("an unframed body this long ends where it is");
        };
        assert_eq!(n, m.len());
        assert_eq!(t.message.body.len(), MAX_UNFRAMED_BODY + 1);
    }

    #[test]
    fn every_prefix_and_every_byte_is_safe() {
        let full = LF;
        for n in 0..full.len() {
            let _ = parse_tolerant(&full[..n], End::Datagram, &no_start);
            let _ = parse_tolerant(&full[..n], End::Open, &no_start);
            let _ = parse_tolerant(&full[..n], End::Closed, &no_start);
        }
    }

    #[test]
    fn issue_14_two_tags_take_the_first_and_say_so() {
        let m = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c\r\n\
CSeq: 1 INVITE\r\nFrom: <sip:a@b>;tag=f\r\nTo: <sip:b@c>;tag=one;tag=two\r\n\r\n";
        let t = read(m, End::Datagram);
        assert_eq!(t.message.to_addr().ok().and_then(|a| a.tag()), Some("one"));
        let mut out = Vec::new();
        field_findings(&t.message, &mut out);
        let codes: Vec<_> = out.iter().map(|f| f.error.code).collect();
        assert_eq!(codes, ["sip.tag.duplicate"]);
        let at = out[0].error.offset;
        assert_eq!(&m[at..at + 7], b"tag=two");
    }

    #[test]
    fn cached_checks_give_the_same_findings_as_fresh_ones() {
        let msgs: [&[u8]; 4] = [
            b"BYE sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c\r\n\
CSeq: 1 BYE\r\nFrom: <sip:a@b>;tag=f\r\nTo: <sip:b@c>\r\n\r\n",
            b"BYE sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c\r\n\
CSeq: 1 BYE\r\nFrom: <sip:a@b;tag=f\r\nTo: <sip:b@c>;tag=1;tag=2\r\n\r\n",
            b"BYE sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c\r\n\
CSeq: 1 BYE\r\nFrom: <sip:a@b>;tag=f\r\nTo: <sip:b@c>;tag=1;tag=2\r\n\r\n",
            b"BYE sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c\r\n\
CSeq: 1 BYE\r\nFrom: <sip:a@b>;tag=f\r\n\r\n",
        ];
        let mut cache = FieldCache::default();
        for round in 0..3 {
            for m in msgs {
                let t = read(m, End::Datagram);
                let (mut fresh, mut cached) = (Vec::new(), Vec::new());
                field_findings(&t.message, &mut fresh);
                field_findings_cached(&t.message, &mut cache, &mut cached);
                fresh.sort_by_key(|f| f.error.offset);
                cached.sort_by_key(|f| f.error.offset);
                assert_eq!(fresh, cached, "round {round}");
            }
        }
    }

    #[test]
    fn field_findings_name_missing_and_broken_fields() {
        let m = b"INVITE sip:a SIP/2.0\r\nCSeq: x INVITE\r\nFrom: <sip:a@b\r\n\r\n";
        let t = read(m, End::Datagram);
        let mut out = Vec::new();
        field_findings(&t.message, &mut out);
        let codes: Vec<_> = out.iter().map(|f| f.error.code).collect();
        assert!(codes.contains(&"sip.header.missing"), "{codes:?}");
        assert_eq!(codes.len(), 3, "{codes:?}");
        assert!(out[2].error.message.contains("Call-ID, To, Via"));
    }
}
