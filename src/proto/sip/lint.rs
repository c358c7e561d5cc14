//! The checks behind `sipkit validate` for SIP: every grammar error the parser can find while
//! recovering line by line, then the rules of RFC 3261 that go beyond grammar (mandatory header
//! fields, CSeq method, scalar ranges, Content-Length, branch cookie, ...), then the SDP body.

use super::headers::{BRANCH_COOKIE, NameAddr, check_date, parse_bounded};
use super::message::{
    Framing, Header, Headers, Message, ParseOptions, StartLine, parse_headers, parse_start_line,
};
use super::name::HeaderName;
use super::uri::{Scheme, clip};
use crate::proto::error::{Repeats, count_code};
use crate::proto::scan::split_outside_quotes;
use crate::proto::sniff::{UTF8_BOM, header_shape, start_line_shape};
use crate::proto::{Finding, ParseError};

/// Lint one SIP message held whole in `buf` (a file or a datagram). Returns every problem found,
/// in order of position; offsets are relative to `buf`.
pub fn lint(buf: &[u8]) -> Vec<Finding> {
    let mut out = Vec::new();
    let opts = ParseOptions {
        framing: Framing::Datagram,
        allow_bare_lf: true,
        allow_missing_reason_space: true,
        ..ParseOptions::default()
    };
    if buf.is_empty() {
        out.push(Finding::error(ParseError::new(
            "sip.message.empty",
            "the message is empty",
            0,
            0,
            "RFC 3261 §7",
        )));
        return out;
    }
    let mut pos = 0;
    while pos < buf.len() && (buf[pos] == b'\r' || buf[pos] == b'\n') {
        pos += 1;
    }
    if pos > 0 {
        out.push(Finding::warning(ParseError::new(
            "sip.message.leading-crlf",
            "empty lines before the start line (ignored on streams, RFC 3261 §7.5)",
            0,
            pos,
            "RFC 3261 §7.5",
        )));
    }
    let mut start_missing = false;
    if buf[pos..].starts_with(UTF8_BOM) {
        out.push(Finding::error(ParseError::new(
            "sip.message.junk-before-start",
            "a UTF-8 byte order mark (EF BB BF, written by some editors) before the start line is not part of the message",
            pos,
            UTF8_BOM.len(),
            "RFC 3261 §7",
        )));
        pos += UTF8_BOM.len();
    }
    if !start_line_shape(line_at(buf, pos)) {
        match find_start_line(buf, pos) {
            Some(s) => {
                out.push(Finding::error(ParseError::new(
                    "sip.message.junk-before-start",
                    format!(
                        "{} bytes before the start line are not part of the message (a message begins with its request or status line)",
                        s - pos
                    ),
                    pos,
                    s - pos,
                    "RFC 3261 §7",
                )));
                pos = s;
            }
            None if header_shape(line_at(buf, pos)) => {
                out.push(Finding::error(ParseError::new(
                    "sip.start-line.missing",
                    "the message has no start line: it begins with a header field, where a request line (`METHOD Request-URI SIP/2.0`) or a status line (`SIP/2.0 code reason`) must come first",
                    pos,
                    line_len(buf, pos),
                    "RFC 3261 §7",
                )));
                start_missing = true;
            }
            None => {}
        }
    }
    check_line_endings(buf, pos, &mut out);
    let parsed = if start_missing {
        Err(None)
    } else {
        parse_start_line(buf, pos, &opts).map_err(Some)
    };
    let (start, after) = match parsed {
        Ok(Some((s, next))) => (Some(s), next),
        Ok(None) => {
            out.push(Finding::error(ParseError::new(
                "sip.message.truncated",
                "the message ends inside the start line",
                buf.len(),
                0,
                "RFC 3261 §7",
            )));
            return out;
        }
        Err(Some(e)) => {
            out.push(Finding::error(e));
            (None, next_line(buf, pos))
        }
        Err(None) => (None, pos),
    };
    if let Some(StartLine::Response {
        reason: [],
        code: _,
        version: _,
    }) = start
    {
        // The lenient parse accepted a status line without the SP before the reason; report it.
        let line_end = memchr::memchr(b'\n', &buf[pos..]).map_or(buf.len(), |e| pos + e);
        let line = &buf[pos..line_end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() == 11 {
            out.push(Finding::error(ParseError::new(
                "sip.status-line.reason",
                "expected SP after the status code (the reason phrase may be empty, the SP may not)",
                pos + 11,
                0,
                "RFC 3261 §7.2",
            )));
        }
    }
    // Header fields, recovering after a bad line so every problem is reported.
    let mut headers = Headers::new();
    let mut hpos = after;
    let mut body_start = None;
    let mut head_complete = true;
    // A head of thousands of bad lines gives thousands of the same error: keep a few.
    let mut repeats = Repeats::default();
    while hpos < buf.len() {
        match parse_headers(buf, hpos, &opts, &mut headers) {
            Ok(Some((end, _))) => {
                body_start = Some(end);
                break;
            }
            Ok(None) => break,
            Err(e) if e.code == "sip.header.too-many" => {
                // Our limit, not the RFC's: say so once, and claim nothing about the header
                // fields after it (Content-Length, To, ... may well be there).
                let at = e.offset.max(hpos);
                let (skipped, end) = skip_head(buf, at);
                out.push(Finding::error(ParseError::new(
                    "sip.header.too-many",
                    format!(
                        "more than {} header fields: sipkit stops there (a limit of sipkit, not an RFC rule), so the {skipped} header line(s) from here on were not checked",
                        opts.max_headers
                    ),
                    at,
                    line_len(buf, at),
                    "",
                )));
                head_complete = false;
                body_start = end;
                break;
            }
            Err(e) => {
                let at = e.offset.max(hpos);
                let stored = count_code(out.iter().map(|f| &f.error), e.code);
                if repeats.admit(e.code, stored) {
                    out.push(Finding::error(e));
                }
                hpos = next_line(buf, at);
                while hpos < buf.len() && (buf[hpos] == b' ' || buf[hpos] == b'\t') {
                    hpos = next_line(buf, hpos);
                }
            }
        }
    }
    let body_start = match body_start {
        Some(b) => b,
        None if !head_complete => buf.len(),
        None => {
            out.push(Finding::error(ParseError::new(
                "sip.message.truncated",
                "the header fields do not end with an empty line (CRLF CRLF)",
                buf.len(),
                0,
                "RFC 3261 §7",
            )));
            buf.len()
        }
    };
    let rest = &buf[body_start..];
    let content_length = headers
        .iter()
        .rev()
        .find(|h| h.id == HeaderName::ContentLength)
        .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok());
    let body = match content_length {
        Some(cl) if cl > rest.len() => {
            let h = headers.iter().find(|h| h.id == HeaderName::ContentLength);
            out.push(Finding::error(ParseError::new(
                "sip.content-length.mismatch",
                format!(
                    "Content-Length is {cl} but the body has only {} bytes",
                    rest.len()
                ),
                h.map_or(body_start, |h| offset(buf, h.value)),
                h.map_or(0, |h| h.value.len()),
                "RFC 3261 §20.14",
            )));
            rest
        }
        Some(cl) => {
            if cl < rest.len() {
                out.push(Finding::warning(ParseError::new(
                    "sip.content-length.trailing",
                    format!(
                        "{} bytes after the {cl}-byte body are ignored (Content-Length is {cl}); on a datagram they are discarded",
                        rest.len() - cl
                    ),
                    body_start + cl,
                    rest.len() - cl,
                    "RFC 3261 §18.3",
                )));
            }
            &rest[..cl]
        }
        None => {
            let cl_reported = out
                .iter()
                .any(|f| f.error.code.starts_with("sip.content-length"));
            if !cl_reported && head_complete {
                out.push(Finding::warning(ParseError::new(
                    "sip.content-length.missing",
                    "no Content-Length: the message can only be sent over UDP, where the body runs to the end of the datagram",
                    pos,
                    line_len(buf, pos),
                    "RFC 3261 §20.14",
                )));
            }
            rest
        }
    };
    let consumed = body_start + body.len();
    let looks_like_response =
        buf[pos..].len() >= 4 && buf[pos..pos + 4].eq_ignore_ascii_case(b"SIP/");
    let msg_start = start.unwrap_or(if looks_like_response {
        StartLine::Response {
            version: "SIP/2.0",
            code: 0,
            reason: b"",
        }
    } else {
        StartLine::Request {
            method: "",
            uri: "",
            version: "SIP/2.0",
        }
    });
    let msg = Message::new(
        msg_start,
        headers,
        body,
        &buf[..consumed.max(body_start)],
        content_length,
    );
    let mut l = Linter {
        msg: &msg,
        start_ok: start.is_some(),
        start_pos: pos,
        head_complete,
        out: &mut out,
    };
    l.run();
    repeats.annotate(out.iter_mut().map(|f| &mut f.error));
    crate::proto::error::clamp_spans(&mut out, buf.len());
    out.sort_by_key(|f| f.error.offset);
    out
}

/// The line starting at `pos`, without its line end.
fn line_at(buf: &[u8], pos: usize) -> &[u8] {
    &buf[pos..pos + line_len(buf, pos)]
}

/// The first line after the one at `pos`, up to the end of the head, shaped like a start line.
fn find_start_line(buf: &[u8], pos: usize) -> Option<usize> {
    let mut at = next_line(buf, pos);
    while at < buf.len() {
        let line = line_at(buf, at);
        if line.is_empty() {
            return None;
        }
        if start_line_shape(line) {
            return Some(at);
        }
        at = next_line(buf, at);
    }
    None
}

/// From the line at `pos` to the empty line ending the head: how many lines, and where the
/// body starts (`None` when the buffer ends first).
fn skip_head(buf: &[u8], mut pos: usize) -> (usize, Option<usize>) {
    let mut lines = 0;
    while pos < buf.len() {
        if line_at(buf, pos).is_empty() {
            return (lines, Some(next_line(buf, pos)));
        }
        lines += 1;
        pos = next_line(buf, pos);
    }
    (lines, None)
}

fn offset(buf: &[u8], part: &[u8]) -> usize {
    crate::proto::error::offset_in(buf, part).unwrap_or(0)
}

fn next_line(buf: &[u8], from: usize) -> usize {
    match memchr::memchr(b'\n', &buf[from.min(buf.len())..]) {
        Some(n) => from + n + 1,
        None => buf.len(),
    }
}

fn line_len(buf: &[u8], pos: usize) -> usize {
    let end = memchr::memchr(b'\n', &buf[pos..]).map_or(buf.len(), |e| pos + e);
    let end = if end > pos && buf[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    end - pos
}

/// One finding for bare-LF line ends in the head (not one per line: a file edited with LF
/// endings would otherwise drown every other diagnostic).
fn check_line_endings(buf: &[u8], pos: usize, out: &mut Vec<Finding>) {
    let head_end = memchr::memmem::find(&buf[pos..], b"\r\n\r\n").map_or(buf.len(), |e| pos + e);
    let head = &buf[pos..head_end];
    let mut lf_count = 0;
    let mut first = None;
    for i in memchr::memchr_iter(b'\n', head) {
        if i == 0 || head[i - 1] != b'\r' {
            lf_count += 1;
            first.get_or_insert(pos + i);
        }
    }
    if let Some(at) = first {
        out.push(Finding::error(ParseError::new(
            "sip.line.bare-lf",
            format!(
                "{lf_count} line(s) end with LF alone; SIP lines must end with CRLF (checking the rest as if they did)"
            ),
            at,
            1,
            "RFC 3261 §7",
        )));
    }
}

struct Linter<'m, 'a> {
    msg: &'m Message<'a>,
    start_ok: bool,
    start_pos: usize,
    /// False when parsing stopped at the header-field limit: a header field missing from
    /// `msg` may be among those not parsed, so absence is not reported.
    head_complete: bool,
    out: &'m mut Vec<Finding>,
}

/// Option tags registered with IANA that a linter can recognise (RFC 3261 §27.1 registry).
const KNOWN_OPTION_TAGS: &[&str] = &[
    "100rel",
    "answermode",
    "early-session",
    "eventlist",
    "explicitsub",
    "from-change",
    "geolocation-http",
    "geolocation-sip",
    "gin",
    "gruu",
    "histinfo",
    "ice",
    "join",
    "multiple-refer",
    "norefersub",
    "nosub",
    "outbound",
    "path",
    "policy",
    "precondition",
    "pref",
    "privacy",
    "recipient-list-invite",
    "recipient-list-message",
    "recipient-list-subscribe",
    "record-aware",
    "replaces",
    "resource-priority",
    "sdp-anat",
    "sec-agree",
    "siprec",
    "tdialog",
    "timer",
    "trickle-ice",
    "uui",
];

/// Content types commonly carried by SIP; others draw a warning (RFC 4475 §3.3.6).
const KNOWN_CONTENT_TYPES: &[&str] = &[
    "application/sdp",
    "text/plain",
    "text/html",
    "message/cpim",
    "message/sipfrag",
    "message/sip",
    "application/pidf+xml",
    "application/xpidf+xml",
    "application/dialog-info+xml",
    "application/reginfo+xml",
    "application/simple-message-summary",
    "application/dtmf-relay",
    "application/dtmf",
    "application/isup",
    "application/qsig",
    "application/resource-lists+xml",
    "application/rlmi+xml",
    "application/im-iscomposing+xml",
    "application/vnd.3gpp.sms",
    "application/pkcs7-mime",
    "application/pkcs7-signature",
    "application/json",
    "application/xml",
    "application/octet-stream",
    "application/media_control+xml",
    "application/watcherinfo+xml",
    "application/conference-info+xml",
    "application/vnd.gsma.rcs-ft-http+xml",
    "message/imdn+xml",
    "application/csta+xml",
    "application/x-www-form-urlencoded",
    "application/ISUP",
    "application/vnd.etsi.pstn+xml",
];

impl Linter<'_, '_> {
    fn err(&mut self, e: ParseError) {
        self.out.push(Finding::error(e));
    }
    fn warn(&mut self, e: ParseError) {
        self.out.push(Finding::warning(e));
    }
    fn at_start(&self, code: &'static str, msg: String, rfc: &'static str) -> ParseError {
        ParseError::new(
            code,
            msg,
            self.start_pos,
            line_len(self.msg.buf, self.start_pos),
            rfc,
        )
    }
    fn span(&self, part: &[u8]) -> (usize, usize) {
        (self.msg.offset_of(part), part.len())
    }

    fn run(&mut self) {
        if self.start_ok {
            self.start_line();
        }
        if self.head_complete {
            self.mandatory();
        }
        self.each_header();
        self.duplicates();
        self.semantics();
        self.body();
    }

    fn start_line(&mut self) {
        let msg = self.msg;
        let version = match msg.start {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => version,
        };
        if !version.eq_ignore_ascii_case("SIP/2.0") {
            let (o, l) = self.span(version.as_bytes());
            self.err(ParseError::new(
                "sip.version.unsupported",
                format!(
                    "SIP version `{}` is not supported; only SIP/2.0 exists (a server answers 505)",
                    clip(version)
                ),
                o,
                l,
                "RFC 3261 §7.1",
            ));
        }
        match msg.start {
            StartLine::Response { code, .. } => {
                if !(100..=699).contains(&code) {
                    let o = self.start_pos + version.len() + 1;
                    self.err(ParseError::new(
                        "sip.status-line.range",
                        format!("status code {code} is outside 100-699"),
                        o,
                        3,
                        "RFC 3261 §21",
                    ));
                }
            }
            StartLine::Request { uri, .. } => self.request_uri(uri),
        }
    }

    fn request_uri(&mut self, uri: &str) {
        let (o, l) = self.span(uri.as_bytes());
        if uri.starts_with('<') || uri.ends_with('>') {
            self.err(ParseError::new(
                "sip.request-uri.brackets",
                "the Request-URI must not be enclosed in `<` `>`",
                o,
                l,
                "RFC 3261 §7.1",
            ));
            return;
        }
        match self.msg.request_uri() {
            Some(Ok(u)) => {
                self.three_colons(u.raw);
                if u.headers.is_some() && u.is_sip() {
                    let h = u.headers.unwrap_or_default();
                    let (ho, hl) = self.span(h.as_bytes());
                    self.err(ParseError::new(
                        "sip.request-uri.headers",
                        "the Request-URI must not contain `?headers` (they are not allowed in a Request-URI)",
                        ho.saturating_sub(1),
                        hl + 1,
                        "RFC 3261 §19.1.1",
                    ));
                }
                if let Scheme::Other(s) = u.scheme {
                    self.warn(ParseError::new(
                        "sip.request-uri.scheme",
                        format!("Request-URI scheme `{s}` is not sip, sips or tel; most elements answer 416 Unsupported URI Scheme"),
                        o,
                        s.len(),
                        "RFC 3261 §8.2.2.1",
                    ));
                }
            }
            Some(Err(e)) => self.err(e),
            None => {}
        }
    }

    fn mandatory(&mut self) {
        let req = self.msg.is_request();
        let required: &[(HeaderName, &str)] = if req {
            &[
                (HeaderName::To, "To"),
                (HeaderName::From, "From"),
                (HeaderName::CSeq, "CSeq"),
                (HeaderName::CallId, "Call-ID"),
                (HeaderName::MaxForwards, "Max-Forwards"),
                (HeaderName::Via, "Via"),
            ]
        } else {
            &[
                (HeaderName::To, "To"),
                (HeaderName::From, "From"),
                (HeaderName::CSeq, "CSeq"),
                (HeaderName::CallId, "Call-ID"),
                (HeaderName::Via, "Via"),
            ]
        };
        let rfc = if req {
            "RFC 3261 §8.1.1"
        } else {
            "RFC 3261 §8.2.6.2"
        };
        let mut missing = Vec::new();
        for (id, name) in required {
            if self.msg.header(*id).is_none() {
                if *id == HeaderName::MaxForwards {
                    // RFC 2543 had no Max-Forwards requirement; RFC 4475 §3.4.1 asks 3261
                    // elements to accept such requests.
                    let e = self.at_start(
                        "sip.max-forwards.missing",
                        "a request must contain Max-Forwards (RFC 2543 elements omit it)"
                            .to_string(),
                        "RFC 3261 §8.1.1.6",
                    );
                    self.warn(e);
                } else {
                    missing.push(*name);
                }
            }
        }
        if !missing.is_empty() {
            let what = if req { "a request" } else { "a response" };
            let e = self.at_start(
                "sip.header.missing",
                format!(
                    "{what} must contain {}: missing {}",
                    required.iter().map(|r| r.1).collect::<Vec<_>>().join(", "),
                    missing.join(", ")
                ),
                rfc,
            );
            self.err(e);
        }
        if self.msg.method() == Some("INVITE") && self.msg.header(HeaderName::Contact).is_none() {
            let e = self.at_start(
                "sip.contact.missing",
                "an INVITE must contain a Contact header field (RFC 2543 elements may omit it)"
                    .into(),
                "RFC 3261 §8.1.1.8",
            );
            self.warn(e);
        }
    }

    fn each_header(&mut self) {
        let msg = self.msg;
        for h in &msg.headers {
            if let Some(i) = control_char(h.value) {
                let o = msg.offset_of(h.value) + i;
                self.err(ParseError::new(
                    "sip.header.control-char",
                    format!(
                        "control character 0x{:02x} in the value of {}",
                        h.value[i], h.name
                    ),
                    o,
                    1,
                    "RFC 3261 §25.1",
                ));
                continue;
            }
            let (s, base) = match h.value_str(msg) {
                Ok(s) => (s, msg.offset_of(h.value)),
                Err(e) => {
                    self.err(e);
                    continue;
                }
            };
            if single_value_list(h.id) {
                let n = split_outside_quotes(s.as_bytes(), b',').count();
                // For From/To a comma may instead be a bad display name (`Bell, Alexander
                // <sip:...>`, RFC 4475 §3.1.2.15): call it several values only when every
                // piece is an address on its own.
                let several = n > 1
                    && (!matches!(h.id, HeaderName::From | HeaderName::To)
                        || split_outside_quotes(s.as_bytes(), b',').all(|p| {
                            let t = crate::proto::scan::trim_lws(p);
                            std::str::from_utf8(t).is_ok_and(|t| NameAddr::parse(t, 0, "").is_ok())
                        }));
                if several {
                    self.err(ParseError::new(
                        "sip.header.multiple-values",
                        format!(
                            "{} allows a single value but has {n} comma-separated values",
                            h.name
                        ),
                        base,
                        s.len(),
                        "RFC 3261 §7.3.1",
                    ));
                    continue;
                }
            }
            self.header_value(h, s, base);
        }
    }

    fn header_value(&mut self, h: &Header<'_>, s: &str, base: usize) {
        let result: Result<(), ParseError> = match h.id {
            HeaderName::Via => each_element(s, base, |e, o| super::headers::Via::parse(e, o).map(|_| ())),
            HeaderName::From | HeaderName::To => NameAddr::parse(s, base, h.name).map(|a| self.addr_scheme(&a, h.name)),
            HeaderName::Contact => each_element(s, base, |e, o| {
                if e == "*" {
                    return Ok(());
                }
                let a = NameAddr::parse(e, o, "Contact")?;
                if let Some(Some(x)) = a.param("expires") {
                    let xo = o + (x.as_ptr() as usize - e.as_ptr() as usize);
                    parse_bounded(x, xo, u64::from(u32::MAX), "sip.contact.expires", "the Contact expires parameter", "RFC 3261 §20.10")?;
                }
                if let Some(Some(q)) = a.param("q")
                    && super::headers::parse_qvalue(q).is_none()
                {
                    let qo = o + (q.as_ptr() as usize - e.as_ptr() as usize);
                    return Err(ParseError::new("sip.contact.q", format!("q=`{}` is not a qvalue between 0 and 1 with at most 3 decimals", clip(q)), qo, q.len(), "RFC 3261 §20.10"));
                }
                Ok(())
            })
            .map(|()| self.contact_schemes()),
            HeaderName::Route | HeaderName::RecordRoute => each_element(s, base, |e, o| {
                let a = NameAddr::parse(e, o, h.name)?;
                if !a.bracketed {
                    return Err(ParseError::new("sip.route.name-addr", format!("{} values must use the name-addr form `<uri>`", h.name), o, e.len(), "RFC 3261 §20.34"));
                }
                Ok(())
            }),
            HeaderName::CallId => super::headers::check_call_id(s, base),
            HeaderName::CSeq => super::headers::CSeq::parse(s, base).map(|_| ()),
            HeaderName::MaxForwards => parse_bounded(s, base, 255, "sip.max-forwards.range", "Max-Forwards", "RFC 3261 §8.1.1.6").map(|_| ()),
            HeaderName::Expires | HeaderName::MinExpires => {
                parse_bounded(s, base, u64::from(u32::MAX), "sip.expires.range", h.name, "RFC 3261 §20.19").map(|_| ())
            }
            HeaderName::ContentType => super::headers::MediaType::parse(s, base).map(|t| {
                let full = format!("{}/{}", t.ty, t.subtype);
                if t.ty.eq_ignore_ascii_case("multipart") || KNOWN_CONTENT_TYPES.iter().any(|k| k.eq_ignore_ascii_case(&full)) {
                    return;
                }
                self.warn(ParseError::new(
                    "sip.content-type.unknown",
                    format!("content type `{full}` is not one SIP elements commonly understand; a UAS that cannot handle it answers 415"),
                    base,
                    s.len(),
                    "RFC 3261 §8.2.3",
                ));
            }),
            HeaderName::Date => check_date(s, base),
            HeaderName::ContentDisposition => crate::proto::mime::check_content_disposition(
                s,
                base,
                crate::proto::mime::DispositionCodes {
                    disp_type: "sip.content-disposition.type",
                    param: "sip.content-disposition.param",
                    rfc: "RFC 3261 §20.11",
                },
            ),
            HeaderName::RetryAfter => {
                let n = s.bytes().take_while(u8::is_ascii_digit).count();
                parse_bounded(&s[..n.max(1).min(s.len())], base, u64::from(u32::MAX), "sip.retry-after.range", "Retry-After", "RFC 3261 §20.33").map(|_| ())
            }
            HeaderName::Warning => each_element(s, base, |e, o| {
                // warning-value = warn-code SP warn-agent SP warn-text; warn-code = 3DIGIT
                let code = e.split(' ').next().unwrap_or("");
                if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ParseError::new("sip.warning.code", format!("warn-code `{}` must be exactly three digits", clip(code)), o, code.len().max(1), "RFC 3261 §20.43"));
                }
                Ok(())
            }),
            HeaderName::Require | HeaderName::ProxyRequire => each_element(s, base, |e, o| {
                if !super::uri::is_token_str(e) {
                    return Err(ParseError::new("sip.token-list", format!("option tag `{}` is not a token", clip(e)), o, e.len().max(1), "RFC 3261 §25.1"));
                }
                if !KNOWN_OPTION_TAGS.contains(&e) {
                    self.out.push(Finding::warning(ParseError::new(
                        "sip.option-tag.unknown",
                        format!("{} names option tag `{e}`, which is not registered; a UAS that does not support it answers 420 Bad Extension", h.name),
                        o,
                        e.len(),
                        "RFC 3261 §8.2.2.3",
                    )));
                }
                Ok(())
            }),
            // `Supported = ... HCOLON [option-tag *(COMMA option-tag)]` and `Allow = "Allow"
            // HCOLON [Method *(COMMA Method)]` may be empty (RFC 3261 §20.37, §20.5);
            // Unsupported needs an option tag (§20.40).
            HeaderName::Supported | HeaderName::Allow if s.is_empty() => Ok(()),
            HeaderName::Unsupported | HeaderName::AllowEvents if s.is_empty() => {
                let (what, rfc) = if h.id == HeaderName::Unsupported {
                    ("an option tag", "RFC 3261 §20.40")
                } else {
                    ("an event type", "RFC 6665 §8.4")
                };
                Err(ParseError::new("sip.header.empty-element", format!("{} is empty: it must list at least {what}", h.name), base, 0, rfc))
            }
            // event-type = event-package *( "." event-template ), both token-nodot.
            HeaderName::AllowEvents => each_element(s, base, |e, o| {
                let nodot = |t: &str| !t.is_empty() && t.bytes().all(|b| b != b'.' && crate::proto::scan::is_token(b));
                if e.split('.').all(nodot) {
                    Ok(())
                } else {
                    Err(ParseError::new("sip.allow-events.event-type", format!("`{}` in Allow-Events is not an event type (`package` or `package.template`)", clip(e)), o, e.len().max(1), "RFC 6665 §8.4"))
                }
            }),
            HeaderName::Supported | HeaderName::Unsupported | HeaderName::Allow => each_element(s, base, |e, o| {
                if e.is_empty() && h.id == HeaderName::Supported {
                    return Ok(());
                }
                if super::uri::is_token_str(e) {
                    Ok(())
                } else {
                    Err(ParseError::new("sip.token-list", format!("`{}` in {} is not a token", clip(e), h.name), o, e.len().max(1), "RFC 3261 §25.1"))
                }
            }),
            HeaderName::WwwAuthenticate | HeaderName::ProxyAuthenticate | HeaderName::Authorization | HeaderName::ProxyAuthorization => {
                super::headers::Auth::parse(s, base).map(|a| {
                    if !a.is_digest() {
                        self.out.push(Finding::warning(ParseError::new(
                            "sip.auth.unknown-scheme",
                            format!("authentication scheme `{}` is not Digest; SIP elements will not understand it", clip(a.scheme)),
                            base,
                            a.scheme.len(),
                            "RFC 3261 §22",
                        )));
                    }
                })
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            self.err(e);
        }
    }

    /// RFC 5118 §4.10: the three-colon form is tolerated but should not be sent.
    fn three_colons(&mut self, raw: &str) {
        if let Some(i) = raw.find(":::") {
            let (o, _) = self.span(raw.as_bytes());
            self.warn(ParseError::new(
                "sip.uri.ipv6-three-colons",
                "`:::` in an IPv6 reference comes from a bug in RFC 3261's ABNF; write `::`",
                o + i,
                3,
                "RFC 5118 §4.10",
            ));
        }
    }

    fn addr_scheme(&mut self, a: &NameAddr<'_>, header: &str) {
        self.three_colons(a.uri.raw);
        if let Scheme::Other(s) = a.uri.scheme {
            let (o, l) = self.span(a.uri.raw.as_bytes());
            self.warn(ParseError::new(
                "sip.uri.unknown-scheme",
                format!("{header} uses URI scheme `{s}`; elements that do not know it may reject the request"),
                o,
                l.min(s.len()).max(1),
                "RFC 3261 §8.1.1.3",
            ));
        }
    }

    fn contact_schemes(&mut self) {
        let msg = self.msg;
        let addrs: Vec<_> = msg.contacts().filter_map(Result::ok).collect();
        for c in addrs {
            if let super::headers::Contact::Addr(a) = c {
                self.addr_scheme(&a, "Contact");
            }
        }
    }

    fn duplicates(&mut self) {
        let msg = self.msg;
        let mut seen: Vec<HeaderName> = Vec::new();
        for h in &msg.headers {
            if !h.id.is_single_valued() {
                continue;
            }
            if seen.contains(&h.id) {
                let o = msg.offset_of(h.name.as_bytes());
                // Identical repeated Content-Length values frame fine; still only one is allowed.
                self.err(ParseError::new(
                    "sip.header.duplicate",
                    format!(
                        "{} appears more than once; it allows a single value",
                        h.id.canonical().unwrap_or(h.name)
                    ),
                    o,
                    h.name.len(),
                    "RFC 3261 §7.3.1",
                ));
            } else {
                seen.push(h.id);
            }
        }
    }

    fn semantics(&mut self) {
        let msg = self.msg;
        // CSeq method must match the request method (RFC 3261 §8.1.1.5).
        if let (Some(method), Ok(cseq)) = (msg.method(), msg.cseq())
            && self.start_ok
            && cseq.method != method
        {
            let (o, l) = self.span(cseq.method.as_bytes());
            self.err(ParseError::new(
                "sip.cseq.method-mismatch",
                format!(
                    "CSeq method `{}` does not match the request method `{method}`",
                    cseq.method
                ),
                o,
                l,
                "RFC 3261 §8.1.1.5",
            ));
        }
        // Branch magic cookie, on the top Via of requests (the one this hop added).
        if msg.is_request()
            && let Ok(via) = msg.top_via()
        {
            match via.branch {
                None => {
                    let (o, l) = self.span(via.host_raw.as_bytes());
                    self.warn(ParseError::new(
                        "sip.via.branch-missing",
                        "the top Via has no branch parameter: the request has no transaction identifier (RFC 2543 style)",
                        o,
                        l,
                        "RFC 3261 §8.1.1.7",
                    ));
                }
                Some(b) if b == BRANCH_COOKIE => {
                    let (o, l) = self.span(b.as_bytes());
                    self.warn(ParseError::new(
                        "sip.via.branch-cookie-only",
                        "branch is only the magic cookie `z9hG4bK`, so it cannot identify a transaction",
                        o,
                        l,
                        "RFC 3261 §8.1.1.7",
                    ));
                }
                Some(b) if !b.starts_with(BRANCH_COOKIE) => {
                    let (o, l) = self.span(b.as_bytes());
                    self.warn(ParseError::new(
                        "sip.via.branch-cookie",
                        format!("branch `{}` does not start with the magic cookie `{BRANCH_COOKIE}` (an RFC 2543 element?)", clip(b)),
                        o,
                        l,
                        "RFC 3261 §8.1.1.7",
                    ));
                }
                Some(_) => {}
            }
        }
        for via in msg.vias().filter_map(Result::ok) {
            if let Some(r) = via.received.filter(|r| r.starts_with('[')) {
                let (o, l) = self.span(r.as_bytes());
                self.warn(ParseError::new(
                    "sip.via.received-brackets",
                    "received= takes a bare IPv6 address; the `[` `]` are tolerated but not in the grammar",
                    o,
                    l,
                    "RFC 5118 §4.5",
                ));
            }
            if via.host == super::uri::Host::V4(std::net::Ipv4Addr::BROADCAST) {
                let (o, l) = self.span(via.host_raw.as_bytes());
                // RFC 4475 §3.3.10: receivers discard such messages.
                self.err(ParseError::new(
                    "sip.via.broadcast",
                    "Via sent-by is the broadcast address 255.255.255.255; receivers discard such messages",
                    o,
                    l,
                    "RFC 3261 §18.2.2",
                ));
            }
        }
        // Tags: From tag in requests (§8.1.1.3), To tag in responses other than 100 (§8.2.6.2).
        if !self.start_ok {
            return;
        }
        self.register_to();
        self.accept_covers_sdp();
        // Two tags in From or To: the same check decode-pcap makes.
        for (name, a) in [("From", msg.from_addr()), ("To", msg.to_addr())] {
            if let Ok(a) = a {
                super::tolerant::duplicate_tag(msg, name, a.params, self.out);
            }
        }
        if msg.is_request() {
            if let Ok(from) = msg.from_addr()
                && from.tag().is_none()
            {
                let (o, l) = self.span(from.uri.raw.as_bytes());
                self.warn(ParseError::new(
                    "sip.from.tag-missing",
                    "the From header field has no tag",
                    o,
                    l,
                    "RFC 3261 §8.1.1.3",
                ));
            }
        } else if let (Some(code), Ok(to)) = (msg.status(), msg.to_addr())
            && code > 100
            && to.tag().is_none()
        {
            let (o, l) = self.span(to.uri.raw.as_bytes());
            self.warn(ParseError::new(
                "sip.to.tag-missing",
                format!("a {code} response should carry a To tag"),
                o,
                l,
                "RFC 3261 §8.2.6.2",
            ));
        }
    }

    /// RFC 3261 §10.2: the To of a REGISTER holds the address of record, a SIP or SIPS URI.
    fn register_to(&mut self) {
        let msg = self.msg;
        if msg.method() != Some("REGISTER") {
            return;
        }
        if let Ok(to) = msg.to_addr()
            && !to.uri.is_sip()
        {
            let (o, l) = self.span(to.uri.raw.as_bytes());
            self.err(ParseError::new(
                "sip.register.to-scheme",
                format!(
                    "the To of a REGISTER is the address of record and must be a sip: or sips: URI, not `{}:`",
                    to.uri.scheme.as_str()
                ),
                o,
                l,
                "RFC 3261 §10.2",
            ));
        }
    }

    /// A request offering SDP whose Accept excludes application/sdp cannot get an answer
    /// (RFC 3261 §20.1, §13.2.1; RFC 4475 §3.3.15).
    fn accept_covers_sdp(&mut self) {
        let msg = self.msg;
        if !msg.is_request() || msg.body.is_empty() {
            return;
        }
        let offers_sdp = matches!(msg.content_type(), Some(Ok(t)) if t.is("application", "sdp"));
        let Some(accept) = msg.header(HeaderName::Accept) else {
            return;
        };
        if !offers_sdp {
            return;
        }
        let Ok(v) = std::str::from_utf8(accept.value) else {
            return;
        };
        let ok = split_outside_quotes(v.as_bytes(), b',').any(|t| {
            let t = String::from_utf8_lossy(crate::proto::scan::trim_lws(t)).to_ascii_lowercase();
            let ty = t.split(';').next().unwrap_or("").trim();
            ty.is_empty() || ty == "application/sdp" || ty == "application/*" || ty == "*/*"
        });
        if !ok {
            let (o, l) = self.span(accept.value);
            self.err(ParseError::new(
                "sip.accept.sdp",
                "the request offers SDP but Accept does not list application/sdp, so no answer can be sent (expect 406 or 400)",
                o,
                l,
                "RFC 3261 §20.1",
            ));
        }
    }

    fn body(&mut self) {
        let msg = self.msg;
        if msg.body.is_empty() {
            return;
        }
        let body_off = msg.offset_of(msg.body);
        let Some(ct) = msg.content_type() else {
            self.err(ParseError::new(
                "sip.content-type.missing",
                format!(
                    "the message has a {}-byte body but no Content-Type",
                    msg.body.len()
                ),
                body_off,
                line_len(msg.buf, body_off).max(1),
                "RFC 3261 §7.4.1",
            ));
            return;
        };
        let Ok(ct) = ct else { return };
        if ct.is("application", "sdp") {
            self.sdp(msg.body, body_off);
        } else if ct.ty.eq_ignore_ascii_case("multipart") {
            let Some(boundary) = ct.param("boundary") else {
                let e = ParseError::new(
                    "sip.multipart.boundary",
                    "multipart Content-Type without a boundary parameter",
                    body_off,
                    1,
                    "RFC 2046 §5.1.1",
                );
                self.err(e);
                return;
            };
            match super::multipart::parse(msg.body, boundary) {
                Ok(parts) => {
                    for p in parts {
                        let is_sdp = p
                            .content_type()
                            .and_then(|v| std::str::from_utf8(v).ok())
                            .and_then(|v| super::headers::MediaType::parse(v, 0).ok())
                            .is_some_and(|t| t.is("application", "sdp"));
                        if is_sdp {
                            let o = offset(msg.buf, p.body);
                            self.sdp(p.body, o);
                        }
                    }
                }
                Err(e) => self.err(e.shifted(body_off)),
            }
        }
    }

    fn sdp(&mut self, body: &[u8], at: usize) {
        for mut f in crate::proto::sdp::lint(body) {
            f.error.offset += at;
            self.out.push(f);
        }
    }
}

/// Headers whose grammar has no comma-separated list form.
fn single_value_list(id: HeaderName) -> bool {
    matches!(
        id,
        HeaderName::From
            | HeaderName::To
            | HeaderName::CallId
            | HeaderName::CSeq
            | HeaderName::MaxForwards
            | HeaderName::ContentLength
            | HeaderName::ContentType
            | HeaderName::Expires
            | HeaderName::MinExpires
    )
}

/// Run `f` on each comma-separated element of `s`, stopping at the first error.
fn each_element(
    s: &str,
    base: usize,
    mut f: impl FnMut(&str, usize) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    for part in split_outside_quotes(s.as_bytes(), b',') {
        let t = crate::proto::scan::trim_lws(part);
        let start = t.as_ptr() as usize - s.as_ptr() as usize;
        let e = &s[start..start + t.len()];
        if e.is_empty() {
            return Err(ParseError::new(
                "sip.header.empty-element",
                "empty element in a comma-separated list",
                base + start,
                1,
                "RFC 3261 §7.3.1",
            ));
        }
        f(e, base + start)?;
    }
    Ok(())
}

/// The first control character outside a quoted-pair (`quoted-pair = "\" (%x00-09 / %x0B-0C /
/// %x0E-7F)` lets a quoted string carry them, RFC 3261 §25.1); the CR LF of folding is allowed.
fn control_char(v: &[u8]) -> Option<usize> {
    let mut in_quote = false;
    let mut i = 0;
    while i < v.len() {
        let b = v[i];
        if in_quote && b == b'\\' {
            i += 2;
            continue;
        }
        if b == b'"' {
            in_quote = !in_quote;
        } else if (b < 0x20 && b != b'\t' && b != b'\r' && b != b'\n') || b == 0x7f {
            return Some(i);
        }
        i += 1;
    }
    None
}
