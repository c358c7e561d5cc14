//! Framing and the message type: start line, header fields, body by Content-Length.
//!
//! [`parse`] splits a message without copying and without heap allocation for up to 32 header
//! fields; header values are parsed into typed structures only when asked for (see
//! `headers.rs`), so a proxy that only reads Via and CSeq never pays for Contact.

use smallvec::SmallVec;

use super::name::HeaderName;
use super::uri::{clip, show_byte};
use crate::proto::scan::{is_lws, is_token, is_wsp};
use crate::proto::{ParseError, Status};

const RFC_MSG: &str = "RFC 3261 §7";
const RFC_REQLINE: &str = "RFC 3261 §7.1";
const RFC_STATUSLINE: &str = "RFC 3261 §7.2";
const RFC_HEADER: &str = "RFC 3261 §7.3.1";
const RFC_BODY: &str = "RFC 3261 §18.3";

/// How the bytes arrived, which decides what a missing or short body means (RFC 3261 §18.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One message per buffer (UDP, a file): without Content-Length the body runs to the end;
    /// octets after the body are ignored (RFC 4475 §3.1.1.8); a short body is an error.
    Datagram,
    /// A byte stream (TCP, TLS): Content-Length is mandatory and a short body means "read more".
    Stream,
}

/// Parser options. The default is strict; each leniency names the rule it relaxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Datagram or stream framing.
    pub framing: Framing,
    /// Skip CRLFs before the start line. RFC 3261 §7.5 requires this on streams, where they are
    /// keep-alives (RFC 5626 §4.4.1). On by default.
    pub skip_leading_crlf: bool,
    /// Accept a bare LF as a line end. RFC 3261 §7 requires CRLF; hand-written files often use
    /// LF. Off by default.
    pub allow_bare_lf: bool,
    /// Accept a status line without the SP before an empty reason phrase (`SIP/2.0 200`),
    /// which RFC 3261 §7.2 requires but some servers omit. Off by default.
    pub allow_missing_reason_space: bool,
    /// Stop with an error after this many header fields (bounds work on hostile input).
    pub max_headers: usize,
    /// Largest Content-Length accepted.
    pub max_body: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            framing: Framing::Datagram,
            skip_leading_crlf: true,
            allow_bare_lf: false,
            allow_missing_reason_space: false,
            max_headers: 512,
            max_body: 64 * 1024 * 1024,
        }
    }
}

impl ParseOptions {
    /// Strict options for a stream transport.
    pub fn stream() -> Self {
        ParseOptions {
            framing: Framing::Stream,
            ..Default::default()
        }
    }

    /// Strict options for a datagram transport or a file holding one message.
    pub fn datagram() -> Self {
        ParseOptions::default()
    }
}

/// The first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `Method SP Request-URI SP SIP-Version`
    Request {
        /// Method token, case-sensitive (RFC 3261 §7.1).
        method: &'a str,
        /// Request-URI as written; parse with `Message::request_uri`.
        uri: &'a str,
        /// `SIP/2.0`
        version: &'a str,
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase`
    Response {
        /// `SIP/2.0`
        version: &'a str,
        /// Three-digit status code.
        code: u16,
        /// Reason phrase, possibly empty, possibly UTF-8 (raw bytes).
        reason: &'a [u8],
    },
}

/// One header field as it appears in the message.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    /// The name as written (`v`, `VIA`, `Via`).
    pub name: &'a str,
    /// Which header this is.
    pub id: HeaderName,
    /// The value with surrounding white space trimmed; folded lines keep their CRLF and
    /// indentation inside (typed parsers treat them as white space).
    pub value: &'a [u8],
}

impl<'b> PartialEq<Header<'b>> for Header<'_> {
    fn eq(&self, other: &Header<'b>) -> bool {
        self.name == other.name && self.value == other.value
    }
}
impl Eq for Header<'_> {}

impl<'a> Header<'a> {
    /// The value as UTF-8, or an error pointing at the first invalid byte.
    pub fn value_str(&self, msg: &Message<'a>) -> Result<&'a str, ParseError> {
        // Fast path: the whole head was valid UTF-8, so the value is a slice of it.
        if let Some(head) = msg.head_str() {
            let start = msg.offset_of(self.value);
            if let Some(v) = head.get(start..start + self.value.len()) {
                return Ok(v);
            }
        }
        std::str::from_utf8(self.value).map_err(|e| {
            ParseError::new(
                "sip.header.utf8",
                format!("the value of {} is not valid UTF-8", self.name),
                msg.offset_of(self.value) + e.valid_up_to(),
                1,
                "RFC 3261 §25.1",
            )
        })
    }
}

/// The header storage: inline for up to 32 fields, so typical messages never allocate.
pub type Headers<'a> = SmallVec<[Header<'a>; 32]>;

/// A parsed SIP message borrowing from the buffer it was parsed from.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    /// The request or status line.
    pub start: StartLine<'a>,
    /// Header fields in order.
    pub headers: Headers<'a>,
    /// The body (exactly Content-Length bytes when that header is present).
    pub body: &'a [u8],
    /// The buffer this message was parsed from; offsets in errors are relative to it.
    pub buf: &'a [u8],
    /// The Content-Length value, if the header was present.
    pub content_length: Option<usize>,
    /// The start line and header fields as UTF-8 (`None` when they are not UTF-8; values are
    /// then checked one by one). The framer has validated them already, so this costs nothing.
    head: Option<&'a str>,
}

impl<'b> PartialEq<Message<'b>> for Message<'_> {
    /// Messages are equal when their start line, header fields (names as written, values) and
    /// body are equal; where they sit in their buffers does not matter.
    fn eq(&self, other: &Message<'b>) -> bool {
        let start_eq = match (self.start, other.start) {
            (
                StartLine::Request {
                    method: a,
                    uri: b,
                    version: c,
                },
                StartLine::Request {
                    method: x,
                    uri: y,
                    version: z,
                },
            ) => a == x && b == y && c == z,
            (
                StartLine::Response {
                    version: a,
                    code: b,
                    reason: c,
                },
                StartLine::Response {
                    version: x,
                    code: y,
                    reason: z,
                },
            ) => a == x && b == y && c == z,
            _ => false,
        };
        start_eq
            && self.headers.len() == other.headers.len()
            && self
                .headers
                .iter()
                .zip(other.headers.iter())
                .all(|(a, b)| a == b)
            && self.body == other.body
    }
}
impl Eq for Message<'_> {}

/// Parse one SIP message from the start of `buf`.
///
/// Returns `Complete(message, consumed)`, `Partial` when a stream needs more bytes, or an
/// error with the byte offset of the problem.
///
/// ```text
/// SIP-message    = Request / Response
/// Request        = Request-Line *( message-header ) CRLF [ message-body ]
/// Response       = Status-Line *( message-header ) CRLF [ message-body ]
/// message-header = header-name HCOLON header-value CRLF   ; generic form, §7.3.1
/// HCOLON         = *( SP / HTAB ) ":" SWS
/// ```
pub fn parse<'a>(buf: &'a [u8], opts: &ParseOptions) -> Result<Status<Message<'a>>, ParseError> {
    let mut pos = 0;
    if opts.skip_leading_crlf {
        while pos < buf.len() && (buf[pos] == b'\r' || buf[pos] == b'\n') {
            pos += 1;
        }
    }
    let stream = opts.framing == Framing::Stream;
    let mut text = Text::new(buf);
    let Some((start, after_start)) = start_line(buf, pos, opts, &mut text)? else {
        return incomplete(buf, stream, "the start line");
    };
    let mut headers: Headers<'a> = SmallVec::new();
    let Some((head_end, content_length)) =
        header_fields(buf, after_start, opts, &mut headers, &mut text)?
    else {
        return incomplete(buf, stream, "the header fields");
    };
    let rest = &buf[head_end..];
    let (body, consumed) = match (content_length, opts.framing) {
        (Some(cl), _) if cl > opts.max_body => {
            let h = cl_header(&headers);
            return Err(ParseError::new(
                "sip.content-length.too-large",
                format!(
                    "Content-Length {cl} exceeds the maximum of {} bytes",
                    opts.max_body
                ),
                h.map_or(0, |v| offset(buf, v)),
                h.map_or(1, |v| v.len()),
                RFC_BODY,
            ));
        }
        (Some(cl), Framing::Stream) if rest.len() < cl => return Ok(Status::Partial),
        (Some(cl), Framing::Datagram) if rest.len() < cl => {
            let h = cl_header(&headers);
            return Err(ParseError::new(
                "sip.content-length.mismatch",
                format!(
                    "Content-Length is {cl} but only {} body bytes follow the headers",
                    rest.len()
                ),
                h.map_or(head_end, |v| offset(buf, v)),
                h.map_or(1, |v| v.len()),
                RFC_BODY,
            ));
        }
        (Some(cl), _) => (&rest[..cl], head_end + cl),
        (None, Framing::Datagram) => (rest, buf.len()),
        (None, Framing::Stream) => {
            return Err(ParseError::new(
                "sip.content-length.missing",
                "Content-Length is required on a stream transport",
                pos,
                after_start.saturating_sub(pos).max(1),
                RFC_BODY,
            ));
        }
    };
    let head = text.prefix(head_end);
    Ok(Status::Complete(
        Message {
            start,
            headers,
            body,
            buf: &buf[..consumed],
            content_length,
            head,
        },
        consumed,
    ))
}

/// The buffer as text, validated as UTF-8 a window at a time.
///
/// The framer hands out the method, Request-URI, version and every header name as `&str`.
/// Converting each with its own `from_utf8` call cost more than the rest of the header loop;
/// slicing them out of one validated window costs two boundary checks each, and the window
/// starting at offset 0 doubles as the message's head text for typed access.
struct Text<'a> {
    buf: &'a [u8],
    /// Where `s` starts in `buf`.
    start: usize,
    /// Where the window was asked to end; `s` is shorter when it met a byte that is not UTF-8.
    want: usize,
    /// `buf[start..start + s.len()]`, known to be UTF-8.
    s: &'a str,
}

/// Bytes validated by the first window: a typical head fits, and most of a body after it is not
/// paid for. The window at 0 doubles when the head runs past it.
const TEXT_FIRST: usize = 512;
/// Bytes validated by a window opened after a byte that is not UTF-8.
const TEXT_WINDOW: usize = 2048;

impl<'a> Text<'a> {
    fn new(buf: &'a [u8]) -> Self {
        let mut t = Text {
            buf,
            start: 0,
            want: 0,
            s: "",
        };
        t.validate(0, buf.len().min(TEXT_FIRST));
        t
    }

    /// `buf[a..b]` as `str`, or `None` when those bytes are not UTF-8.
    #[inline]
    fn get(&mut self, a: usize, b: usize) -> Option<&'a str> {
        let (ra, rb) = (a.wrapping_sub(self.start), b.wrapping_sub(self.start));
        if let Some(s) = self.s.get(ra..rb) {
            return Some(s);
        }
        self.validate_from(a, b);
        let (ra, rb) = (a.wrapping_sub(self.start), b.wrapping_sub(self.start));
        self.s.get(ra..rb)
    }

    /// Open a window reaching at least to `b`: the window at 0 grows (doubling) while all of it
    /// is UTF-8, so the head stays one `str`; otherwise a new window starts at `a`. A window
    /// ends early at the first byte that is not UTF-8.
    #[cold]
    fn validate_from(&mut self, a: usize, b: usize) {
        if self.start == 0 && self.s.len() == self.want {
            let end = b.max(self.want.saturating_mul(2)).max(TEXT_FIRST);
            self.validate(0, self.buf.len().min(end));
            if self.s.len() >= b {
                return;
            }
            // The grown window met a byte that is not UTF-8 before `b`: the head is not one
            // `str`, so fall through to a window of its own at `a` (found by the fuzzer: a
            // header name after such a byte came out empty).
        }
        self.validate(a, self.buf.len().min(b.max(a.saturating_add(TEXT_WINDOW))));
    }

    fn validate(&mut self, a: usize, end: usize) {
        let Some(bytes) = self.buf.get(a..end) else {
            return;
        };
        self.start = a;
        self.want = end;
        self.s = match std::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
        };
    }

    /// `buf[..end]` as `str` when it is UTF-8 (the head of a message).
    fn prefix(&self, end: usize) -> Option<&'a str> {
        if self.start == 0
            && let Some(s) = self.s.get(..end)
        {
            return Some(s);
        }
        std::str::from_utf8(self.buf.get(..end)?).ok()
    }
}

fn cl_header<'a>(headers: &Headers<'a>) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.id == HeaderName::ContentLength)
        .map(|h| h.value)
}

fn incomplete<T>(buf: &[u8], stream: bool, what: &str) -> Result<Status<T>, ParseError> {
    if stream {
        Ok(Status::Partial)
    } else {
        Err(ParseError::new(
            "sip.message.truncated",
            format!(
                "message ends inside {what}: the header fields must end with an empty line (CRLF CRLF)"
            ),
            buf.len(),
            0,
            RFC_MSG,
        ))
    }
}

#[inline]
fn offset(buf: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - buf.as_ptr() as usize
}

/// Find the end of the line starting at `from`: returns (end of content, start of next line).
#[inline]
fn line_end(
    buf: &[u8],
    from: usize,
    opts: &ParseOptions,
) -> Result<Option<(usize, usize)>, ParseError> {
    let Some(nl) = memchr::memchr(b'\n', &buf[from..]) else {
        return Ok(None);
    };
    let nl = from + nl;
    if nl > from && buf[nl - 1] == b'\r' {
        Ok(Some((nl - 1, nl + 1)))
    } else if opts.allow_bare_lf {
        Ok(Some((nl, nl + 1)))
    } else {
        Err(ParseError::new(
            "sip.line.bare-lf",
            "line ends with LF alone; SIP lines end with CRLF",
            nl,
            1,
            RFC_MSG,
        ))
    }
}

/// ```text
/// Request-Line = Method SP Request-URI SP SIP-Version CRLF
/// Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF
/// SIP-Version  = "SIP" "/" 1*DIGIT "." 1*DIGIT
/// Status-Code  = 3DIGIT
/// ```
pub(crate) fn parse_start_line<'a>(
    buf: &'a [u8],
    pos: usize,
    opts: &ParseOptions,
) -> Result<Option<(StartLine<'a>, usize)>, ParseError> {
    start_line(buf, pos, opts, &mut Text::new(buf))
}

fn start_line<'a>(
    buf: &'a [u8],
    pos: usize,
    opts: &ParseOptions,
    text: &mut Text<'a>,
) -> Result<Option<(StartLine<'a>, usize)>, ParseError> {
    let Some((end, next)) = line_end(buf, pos, opts)? else {
        // Reject garbage early even before the line is complete.
        if let Some(e) = early_start_line_error(&buf[pos..], pos) {
            return Err(e);
        }
        return Ok(None);
    };
    let line = &buf[pos..end];
    if line.is_empty() {
        return Err(ParseError::new(
            "sip.start-line.empty",
            "expected a request or status line, found an empty line",
            pos,
            0,
            RFC_MSG,
        ));
    }
    if line.len() > 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        return parse_status_line(line, pos, opts, text).map(|s| Some((s, next)));
    }
    parse_request_line(line, pos, text).map(|s| Some((s, next)))
}

fn early_start_line_error(prefix: &[u8], pos: usize) -> Option<ParseError> {
    // The first byte of a SIP message is a token char (method) or `S` of SIP/2.0.
    let &b = prefix.first()?;
    if !is_token(b) {
        return Some(ParseError::new(
            "sip.start-line.invalid",
            format!(
                "expected a SIP request or status line, found {} at the start",
                show_byte(b)
            ),
            pos,
            1,
            RFC_MSG,
        ));
    }
    None
}

fn parse_request_line<'a>(
    line: &'a [u8],
    pos: usize,
    text: &mut Text<'a>,
) -> Result<StartLine<'a>, ParseError> {
    let m_end = line
        .iter()
        .position(|&b| !is_token(b))
        .unwrap_or(line.len());
    if m_end == 0 {
        return Err(ParseError::new(
            "sip.start-line.invalid",
            format!(
                "expected a method token or `SIP/2.0`, found {}",
                show_byte(line[0])
            ),
            pos,
            1,
            RFC_REQLINE,
        ));
    }
    if m_end == line.len() || line[m_end] != b' ' {
        let what = if m_end == line.len() {
            "end of line".to_string()
        } else {
            show_byte(line[m_end])
        };
        return Err(ParseError::new(
            "sip.request-line.method",
            format!("expected SP after the method, found {what}"),
            pos + m_end,
            1,
            RFC_REQLINE,
        ));
    }
    let method = text.get(pos, pos + m_end).unwrap_or_default();
    let uri_start = m_end + 1;
    let Some(sp2) = crate::proto::scan::find_byte(b' ', &line[uri_start..]) else {
        return Err(ParseError::new(
            "sip.request-line.version",
            "request line has no SIP-Version: expected `Method SP Request-URI SP SIP/2.0`",
            pos + line.len(),
            0,
            RFC_REQLINE,
        ));
    };
    if sp2 == 0 {
        return Err(ParseError::new(
            "sip.request-line.space",
            "more than one SP between the method and the Request-URI",
            pos + uri_start,
            1,
            RFC_REQLINE,
        ));
    }
    let uri_b = &line[uri_start..uri_start + sp2];
    let ver_start = uri_start + sp2 + 1;
    let ver = &line[ver_start..];
    if let Some(extra) = crate::proto::scan::find_byte(b' ', ver) {
        let (code, msg) = if ver[extra..].iter().all(|&b| b == b' ') && extra > 0 {
            (
                "sip.request-line.trailing-space",
                "SP after the SIP-Version at the end of the request line",
            )
        } else if extra == 0 {
            (
                "sip.request-line.space",
                "more than one SP between the Request-URI and the SIP-Version",
            )
        } else {
            (
                "sip.request-uri.whitespace",
                "the Request-URI contains white space (or the request line has more than three elements)",
            )
        };
        let at = if code == "sip.request-uri.whitespace" {
            uri_start + sp2
        } else {
            ver_start + extra
        };
        return Err(ParseError::new(code, msg, pos + at, 1, RFC_REQLINE));
    }
    check_version(ver, pos + ver_start)?;
    if let Some(i) = crate::proto::scan::find_ctl_or_space(uri_b) {
        return Err(ParseError::new(
            "sip.request-uri.char",
            format!(
                "control character {} in the Request-URI",
                show_byte(uri_b[i])
            ),
            pos + uri_start + i,
            1,
            RFC_REQLINE,
        ));
    }
    let uri = text.get(pos + uri_start, pos + uri_start + sp2);
    let uri = uri
        .map_or_else(|| std::str::from_utf8(uri_b), Ok)
        .map_err(|e| {
            ParseError::new(
                "sip.request-uri.char",
                "the Request-URI is not valid UTF-8",
                pos + uri_start + e.valid_up_to(),
                1,
                RFC_REQLINE,
            )
        })?;
    Ok(StartLine::Request {
        method,
        uri,
        version: text
            .get(pos + ver_start, pos + line.len())
            .unwrap_or_default(),
    })
}

fn check_version(ver: &[u8], at: usize) -> Result<(), ParseError> {
    let ok = ver.len() >= 7 && ver[..4].eq_ignore_ascii_case(b"SIP/") && {
        let num = &ver[4..];
        match num.iter().position(|&b| b == b'.') {
            Some(d) => {
                d > 0
                    && d + 1 < num.len()
                    && num[..d].iter().all(u8::is_ascii_digit)
                    && num[d + 1..].iter().all(u8::is_ascii_digit)
            }
            None => false,
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ParseError::new(
            "sip.version.invalid",
            format!(
                "expected a SIP-Version like `SIP/2.0`, found `{}`",
                clip(&String::from_utf8_lossy(ver))
            ),
            at,
            ver.len().max(1),
            RFC_REQLINE,
        ))
    }
}

fn parse_status_line<'a>(
    line: &'a [u8],
    pos: usize,
    opts: &ParseOptions,
    text: &mut Text<'a>,
) -> Result<StartLine<'a>, ParseError> {
    let sp = crate::proto::scan::find_byte(b' ', line).unwrap_or(line.len());
    let ver = &line[..sp];
    check_version(ver, pos)?;
    let code_start = sp + 1;
    let digits = line
        .get(code_start..)
        .unwrap_or(&[])
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let code_end = code_start + digits;
    if digits != 3 {
        let len = digits.max(1);
        return Err(ParseError::new(
            "sip.status-line.code",
            if digits == 0 {
                "expected a three-digit status code after the SIP-Version".to_string()
            } else {
                format!(
                    "status code `{}` must be exactly three digits",
                    clip(&String::from_utf8_lossy(&line[code_start..code_end]))
                )
            },
            pos + code_start.min(line.len()),
            len,
            RFC_STATUSLINE,
        ));
    }
    let code = u16::from(line[code_start] - b'0') * 100
        + u16::from(line[code_start + 1] - b'0') * 10
        + u16::from(line[code_start + 2] - b'0');
    let reason: &[u8] = if code_end == line.len() {
        if !opts.allow_missing_reason_space {
            return Err(ParseError::new(
                "sip.status-line.reason",
                "expected SP after the status code (the reason phrase may be empty, the SP may not)",
                pos + code_end,
                0,
                RFC_STATUSLINE,
            ));
        }
        &[]
    } else if line[code_end] == b' ' {
        &line[code_end + 1..]
    } else {
        return Err(ParseError::new(
            "sip.status-line.code",
            format!(
                "expected SP after the status code, found {}",
                show_byte(line[code_end])
            ),
            pos + code_end,
            1,
            RFC_STATUSLINE,
        ));
    };
    if let Some(i) = reason
        .iter()
        .position(|&b| b < 0x20 && b != b'\t' || b == 0x7f)
    {
        return Err(ParseError::new(
            "sip.status-line.reason",
            format!(
                "control character {} in the reason phrase",
                show_byte(reason[i])
            ),
            pos + code_end + 1 + i,
            1,
            RFC_STATUSLINE,
        ));
    }
    Ok(StartLine::Response {
        version: text.get(pos, pos + sp).unwrap_or_default(),
        code,
        reason,
    })
}

/// The slice as `str`; only called on bytes already checked to be ASCII tokens.
#[inline]
fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

/// Parse header lines from `pos` to the empty line. Returns the offset after the empty line
/// and the Content-Length, or `None` when the buffer ends first.
pub(crate) fn parse_headers<'a>(
    buf: &'a [u8],
    pos: usize,
    opts: &ParseOptions,
    headers: &mut Headers<'a>,
) -> Result<Option<(usize, Option<usize>)>, ParseError> {
    header_fields(buf, pos, opts, headers, &mut Text::new(buf))
}

fn header_fields<'a>(
    buf: &'a [u8],
    mut pos: usize,
    opts: &ParseOptions,
    headers: &mut Headers<'a>,
    text: &mut Text<'a>,
) -> Result<Option<(usize, Option<usize>)>, ParseError> {
    let mut content_length: Option<(usize, &'a [u8])> = None;
    loop {
        let Some(&first) = buf.get(pos) else {
            return Ok(None);
        };
        if first == b'\r' {
            match buf.get(pos + 1) {
                Some(b'\n') => return Ok(Some((pos + 2, content_length.map(|c| c.0)))),
                Some(_) => {
                    return Err(ParseError::new(
                        "sip.line.bare-cr",
                        "CR not followed by LF",
                        pos,
                        1,
                        RFC_MSG,
                    ));
                }
                None => return Ok(None),
            }
        }
        if first == b'\n' {
            if opts.allow_bare_lf {
                return Ok(Some((pos + 1, content_length.map(|c| c.0))));
            }
            return Err(ParseError::new(
                "sip.line.bare-lf",
                "line ends with LF alone; SIP lines end with CRLF",
                pos,
                1,
                RFC_MSG,
            ));
        }
        if headers.len() >= opts.max_headers {
            return Err(ParseError::new(
                "sip.header.too-many",
                format!("more than {} header fields", opts.max_headers),
                pos,
                1,
                RFC_HEADER,
            ));
        }
        // header-name = token
        let (name_end, id) = match HeaderName::known_at(buf, pos) {
            Some((id, len)) => (pos + len, id),
            None => {
                let mut end = pos;
                while end < buf.len() && is_token(buf[end]) {
                    end += 1;
                }
                (end, HeaderName::from_buf(buf, pos, end - pos))
            }
        };
        if name_end == pos {
            let msg = if is_wsp(first) {
                "a header line starts with white space but there is no header to continue"
                    .to_string()
            } else {
                format!("expected a header name, found {}", show_byte(first))
            };
            return Err(ParseError::new("sip.header.name", msg, pos, 1, RFC_HEADER));
        }
        // HCOLON = *( SP / HTAB ) ":" SWS
        let mut c = name_end;
        while c < buf.len() && is_wsp(buf[c]) {
            c += 1;
        }
        match buf.get(c) {
            None => return Ok(None),
            Some(b':') => {}
            Some(&other) => {
                return Err(ParseError::new(
                    "sip.header.colon",
                    format!(
                        "expected `:` after header name `{}`, found {}",
                        ascii(&buf[pos..name_end]),
                        show_byte(other)
                    ),
                    c,
                    1,
                    RFC_HEADER,
                ));
            }
        }
        let value_start = c + 1;
        // The value runs to a CRLF not followed by SP/HTAB (line folding, §7.3.1).
        let mut from = value_start;
        let (vend, next) = loop {
            let Some((end, next)) = line_end(buf, from, opts)? else {
                return Ok(None);
            };
            match buf.get(next) {
                None => return Ok(None),
                Some(&b) if is_wsp(b) => from = next,
                Some(_) => break (end, next),
            }
        };
        // Trim LWS (folding included) from both ends, as `trim_lws` does, without the call.
        let (mut v0, mut v1) = (value_start, vend);
        while v0 < v1 && is_lws(buf[v0]) {
            v0 += 1;
        }
        while v1 > v0 && is_lws(buf[v1 - 1]) {
            v1 -= 1;
        }
        let value = &buf[v0..v1];
        let name = text.get(pos, name_end).unwrap_or_default();
        if id == HeaderName::ContentLength {
            let n = parse_content_length(value, offset(buf, value))?;
            match content_length {
                Some((prev, _)) if prev != n => {
                    return Err(ParseError::new(
                        "sip.content-length.conflict",
                        format!(
                            "two Content-Length header fields disagree ({prev} and {n}); the body cannot be framed"
                        ),
                        offset(buf, value),
                        value.len().max(1),
                        "RFC 3261 §20.14",
                    ));
                }
                _ => content_length = Some((n, value)),
            }
        }
        headers.push(Header { name, id, value });
        pos = next;
    }
}

/// `Content-Length = ( "Content-Length" / "l" ) HCOLON 1*DIGIT`
fn parse_content_length(v: &[u8], at: usize) -> Result<usize, ParseError> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::new(
            "sip.content-length.invalid",
            format!(
                "Content-Length must be a non-negative decimal number, found `{}`",
                clip(&String::from_utf8_lossy(v))
            ),
            at,
            v.len().max(1),
            "RFC 3261 §20.14",
        ));
    }
    let mut n: usize = 0;
    for &d in v {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(d - b'0')))
            .ok_or_else(|| {
                ParseError::new(
                    "sip.content-length.invalid",
                    "Content-Length is too large",
                    at,
                    v.len(),
                    "RFC 3261 §20.14",
                )
            })?;
    }
    Ok(n)
}

impl<'a> Message<'a> {
    /// Assemble a message from parts; `body` must be a slice of `buf` (it marks where the head
    /// ends).
    pub(crate) fn new(
        start: StartLine<'a>,
        headers: Headers<'a>,
        body: &'a [u8],
        buf: &'a [u8],
        content_length: Option<usize>,
    ) -> Self {
        let end = crate::proto::error::offset_in(buf, body).unwrap_or(buf.len());
        Message {
            start,
            headers,
            body,
            buf,
            content_length,
            head: std::str::from_utf8(&buf[..end]).ok(),
        }
    }

    /// The head (start line and header fields) as `str`, when it is valid UTF-8.
    #[inline]
    fn head_str(&self) -> Option<&'a str> {
        self.head
    }

    /// Offset of a slice of this message's buffer (for errors).
    pub fn offset_of(&self, part: &[u8]) -> usize {
        crate::proto::error::offset_in(self.buf, part).unwrap_or(0)
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The method of a request, or `None` for a response.
    pub fn method(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response, lossily decoded.
    pub fn reason(&self) -> Option<std::borrow::Cow<'a, str>> {
        match self.start {
            StartLine::Response { reason, .. } => Some(String::from_utf8_lossy(reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// The first header field with this id.
    pub fn header(&self, id: HeaderName) -> Option<&Header<'a>> {
        self.headers.iter().find(|h| h.id == id)
    }

    /// Every header field with this id, in order.
    pub fn headers_of(&self, id: HeaderName) -> impl Iterator<Item = &Header<'a>> {
        self.headers.iter().filter(move |h| h.id == id)
    }

    /// Header fields by name, case-insensitively; compact forms match their long names.
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Header<'a>> {
        let id = HeaderName::from_bytes(name.as_bytes());
        self.headers.iter().filter(move |h| {
            if id == HeaderName::Other {
                h.id == HeaderName::Other && h.name.eq_ignore_ascii_case(name)
            } else {
                h.id == id
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    #[test]
    fn parses_request() {
        let (m, n) = parse(INVITE, &ParseOptions::default())
            .expect("valid")
            .complete()
            .expect("complete");
        assert_eq!(n, INVITE.len());
        assert_eq!(m.method(), Some("INVITE"));
        assert_eq!(m.headers.len(), 9);
        assert_eq!(m.body, b"v=0\n");
        assert_eq!(m.content_length, Some(4));
        assert_eq!(
            m.header(HeaderName::CSeq).map(|h| h.value),
            Some(&b"314159 INVITE"[..])
        );
    }

    #[test]
    fn issue2_names_after_a_non_utf8_byte_past_the_first_window_keep_their_text() {
        // The first window (512 bytes) is UTF-8; growing it meets a byte that is not, before
        // the next header name: the name must still be sliced out (it came out empty, and the
        // serialized message did not parse again).
        let mut raw = b"OPTIONS sip:a@example.com SIP/2.0\r\nSubject: ".to_vec();
        raw.extend(std::iter::repeat_n(b'x', 520));
        raw.extend_from_slice(b"\xab\xab\r\nCall-ID: c@h\r\nContent-Length: 0\r\n\r\n");
        let (m, _) = parse(&raw, &ParseOptions::default())
            .expect("parses")
            .complete()
            .expect("complete");
        let names: Vec<&str> = m.headers.iter().map(|h| h.name).collect();
        assert_eq!(names, ["Subject", "Call-ID", "Content-Length"]);
        let mut out = Vec::new();
        crate::proto::sip::build::serialize(&m, &mut out);
        assert_eq!(out, raw.as_slice());
    }

    #[test]
    fn heads_longer_than_the_first_text_window() {
        // The window at 0 must grow to cover the head (one `str` for typed access), and a
        // byte that is not UTF-8 past the first window must still be found.
        let mut m = b"OPTIONS sip:a@b.example SIP/2.0\r\n".to_vec();
        for i in 0..40 {
            m.extend_from_slice(format!("X-Pad-{i}: {}\r\n", "v".repeat(30)).as_bytes());
        }
        m.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        assert!(m.len() > 2 * TEXT_FIRST);
        let opts = ParseOptions {
            max_headers: 64,
            ..ParseOptions::default()
        };
        {
            let Ok(Status::Complete(msg, n)) = parse(&m, &opts) else {
                panic!("complete")
            };
            assert_eq!(n, m.len());
            assert_eq!(msg.head_str().map(str::len), Some(m.len()));
            assert_eq!(msg.headers[39].name, "X-Pad-39");
            assert_eq!(msg.headers[39].value_str(&msg), Ok("v".repeat(30).as_str()));
        }

        let at = m.len() - 30;
        m[at] = 0xff;
        let Ok(Status::Complete(msg, _)) = parse(&m, &opts) else {
            panic!("complete")
        };
        assert_eq!(msg.head_str(), None);
        let bad = msg
            .headers
            .iter()
            .find(|h| h.value.contains(&0xff))
            .expect("bad header");
        assert_eq!(bad.value_str(&msg).map_err(|e| e.offset), Err(at));
    }

    #[test]
    fn every_prefix_is_partial_on_a_stream() {
        let opts = ParseOptions::stream();
        for i in 0..INVITE.len() {
            let r = parse(&INVITE[..i], &opts);
            assert_eq!(r, Ok(Status::Partial), "prefix of {i} bytes");
        }
        assert!(matches!(parse(INVITE, &opts), Ok(Status::Complete(_, n)) if n == INVITE.len()));
    }

    #[test]
    fn two_messages_in_one_stream_buffer() {
        let mut two = INVITE.to_vec();
        two.extend_from_slice(INVITE);
        let opts = ParseOptions::stream();
        let (_, n) = parse(&two, &opts)
            .expect("ok")
            .complete()
            .expect("complete");
        assert_eq!(n, INVITE.len());
        let (m2, n2) = parse(&two[n..], &opts)
            .expect("ok")
            .complete()
            .expect("complete");
        assert_eq!(n2, INVITE.len());
        assert_eq!(m2.body, b"v=0\n");
    }

    #[test]
    fn datagram_short_body_is_an_error_and_extra_octets_are_ignored() {
        let short = &INVITE[..INVITE.len() - 1];
        let e = parse(short, &ParseOptions::default()).expect_err("short");
        assert_eq!(e.code, "sip.content-length.mismatch");
        let mut long = INVITE.to_vec();
        long.extend_from_slice(b"garbage");
        let (m, n) = parse(&long, &ParseOptions::default())
            .expect("ok")
            .complete()
            .expect("c");
        assert_eq!(m.body, b"v=0\n");
        assert_eq!(n, INVITE.len());
    }

    #[test]
    fn stream_requires_content_length() {
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n";
        let e = parse(msg, &ParseOptions::stream()).expect_err("no CL");
        assert_eq!(e.code, "sip.content-length.missing");
    }

    #[test]
    fn folding_and_hcolon() {
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\nSubject  :\r\n  hello\r\n\tworld\r\nl: 0\r\n\r\n";
        let (m, _) = parse(msg, &ParseOptions::default())
            .expect("ok")
            .complete()
            .expect("c");
        assert_eq!(m.headers[0].value, b"hello\r\n\tworld");
        assert_eq!(m.headers[0].id, HeaderName::Subject);
    }

    #[test]
    fn request_line_errors() {
        let cases: &[(&[u8], &str, usize)] = &[
            (
                b"INVITE  sip:a@b SIP/2.0\r\n\r\n",
                "sip.request-line.space",
                7,
            ),
            (
                b"INVITE sip:a@b SIP/2.0 \r\n\r\n",
                "sip.request-line.trailing-space",
                22,
            ),
            (
                b"INVITE sip:a@b; lr SIP/2.0\r\n\r\n",
                "sip.request-uri.whitespace",
                15,
            ),
            (b"INVITE sip:a@b SIP/X\r\n\r\n", "sip.version.invalid", 15),
            (b"SIP/2.0 4294967301 bad\r\n\r\n", "sip.status-line.code", 8),
            (b"SIP/2.0 200\r\n\r\n", "sip.status-line.reason", 11),
            (b"\x00\x01\r\n", "sip.start-line.invalid", 0),
            (
                b"INVITE sip:a@b SIP/2.0\r\nVia SIP\r\n\r\n",
                "sip.header.colon",
                28,
            ),
            (
                b"INVITE sip:a@b SIP/2.0\r\nl: -1\r\n\r\n",
                "sip.content-length.invalid",
                27,
            ),
            (
                b"INVITE sip:a@b SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab",
                "sip.content-length.conflict",
                33,
            ),
            (b"INVITE sip:a@b SIP/2.0\nl: 0\n\n", "sip.line.bare-lf", 22),
        ];
        for (msg, code, at) in cases {
            let e = parse(msg, &ParseOptions::default()).expect_err(code);
            assert_eq!(
                (e.code, e.offset),
                (*code, *at),
                "{}",
                String::from_utf8_lossy(msg)
            );
        }
    }

    #[test]
    fn leniencies() {
        let lf = b"INVITE sip:a@b SIP/2.0\nl: 0\n\n";
        let opts = ParseOptions {
            allow_bare_lf: true,
            ..Default::default()
        };
        assert!(parse(lf, &opts).is_ok());
        let noreason = b"SIP/2.0 200\r\nl: 0\r\n\r\n";
        let opts = ParseOptions {
            allow_missing_reason_space: true,
            ..Default::default()
        };
        let (m, _) = parse(noreason, &opts).expect("ok").complete().expect("c");
        assert_eq!(m.status(), Some(200));
    }

    #[test]
    fn empty_and_utf8_reason() {
        let r = "SIP/2.0 200 \r\nl: 0\r\n\r\n";
        let (m, _) = parse(r.as_bytes(), &ParseOptions::default())
            .expect("ok")
            .complete()
            .expect("c");
        assert_eq!(m.reason().as_deref(), Some(""));
        let r = "SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое\r\nl: 0\r\n\r\n";
        let (m, _) = parse(r.as_bytes(), &ParseOptions::default())
            .expect("ok")
            .complete()
            .expect("c");
        assert!(m.reason().expect("reason").contains("простое"));
    }
}
