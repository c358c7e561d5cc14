//! MSRP message framing (RFC 4975 §9): start line, header lines, body and end-line.
//!
//! The parser is zero-copy and streaming in httparse's shape: it borrows the caller's buffer and
//! answers `Partial` until a whole message is present. Header values are kept as text here;
//! the typed accessors in `headers.rs` check their grammar on demand, so one bad value does not
//! stop a relay from forwarding a chunk, and `lint` can report every problem.

use memchr::memmem;
use smallvec::SmallVec;

use crate::proto::error::{Repeats, count_code};
use crate::proto::{Finding, ParseError, Status};

pub(crate) const RFC_SYNTAX: &str = "RFC 4975 §9";
pub(crate) const RFC_REQUEST: &str = "RFC 4975 §7.1";

/// Shortest transaction id: `ident = ALPHANUM 3*31ident-char`.
pub const MIN_TID_LEN: usize = 4;
/// Longest transaction id.
pub const MAX_TID_LEN: usize = 32;
/// The seven minus signs that open an end-line.
pub const END_DASHES: &[u8; 7] = b"-------";
/// Longest "CRLF + dashes + tid" needle the end-line search uses.
pub(crate) const MAX_NEEDLE: usize = 2 + 7 + MAX_TID_LEN;

/// `continuation-flag = "+" / "$" / "#"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `$`: this chunk ends the message.
    End,
    /// `+`: more chunks of the message follow.
    Continue,
    /// `#`: the sender aborted the message; no more chunks follow.
    Abort,
}

impl Flag {
    /// The flag for an end-line byte.
    pub fn from_byte(b: u8) -> Option<Flag> {
        match b {
            b'$' => Some(Flag::End),
            b'+' => Some(Flag::Continue),
            b'#' => Some(Flag::Abort),
            _ => None,
        }
    }

    /// The end-line byte of this flag.
    pub fn as_byte(self) -> u8 {
        match self {
            Flag::End => b'$',
            Flag::Continue => b'+',
            Flag::Abort => b'#',
        }
    }
}

/// `method = mSEND / mREPORT / other-method` (RFC 4975 §9) `=/ mAUTH` (RFC 4976 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method<'a> {
    /// SEND, carries message content (RFC 4975 §7.1.1).
    Send,
    /// REPORT, success or failure reports (RFC 4975 §7.1.2).
    Report,
    /// AUTH, relay authentication (RFC 4976 §4.1).
    Auth,
    /// Any other `1*UPALPHA` method.
    Other(&'a str),
}

impl<'a> Method<'a> {
    /// The method for a start-line token (case-sensitive: the ABNF gives them as `%x` codes).
    pub fn from_token(s: &'a str) -> Method<'a> {
        match s {
            "SEND" => Method::Send,
            "REPORT" => Method::Report,
            "AUTH" => Method::Auth,
            other => Method::Other(other),
        }
    }

    /// The method name as sent.
    pub fn as_str(&self) -> &'a str {
        match self {
            Method::Send => "SEND",
            Method::Report => "REPORT",
            Method::Auth => "AUTH",
            Method::Other(s) => s,
        }
    }
}

/// What follows the transaction id on the start line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `req-start = pMSRP SP transact-id SP method CRLF`
    Request(Method<'a>),
    /// `resp-start = pMSRP SP transact-id SP status-code [SP comment] CRLF`
    Response {
        /// The three-digit status code.
        code: u16,
        /// The reason phrase, if any.
        comment: Option<&'a str>,
    },
}

/// One `name: value` header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The header name as written.
    pub name: &'a str,
    /// The value after `": "`, without the CRLF.
    pub value: &'a str,
    /// Byte offset of the name (the start of the line) in the parsed buffer.
    pub offset: usize,
    /// Byte offset of the value in the parsed buffer.
    pub value_offset: usize,
}

/// The header section, in order; small messages keep it inline without heap allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers<'a> {
    pub(crate) list: SmallVec<[Header<'a>; 16]>,
}

impl<'a> Headers<'a> {
    /// All headers in order of appearance.
    pub fn iter(&self) -> std::slice::Iter<'_, Header<'a>> {
        self.list.iter()
    }

    /// All headers as a slice.
    pub fn as_slice(&self) -> &[Header<'a>] {
        &self.list
    }

    /// The first header with this name (names compare case-insensitively, as ABNF strings do).
    pub fn get(&self, name: &str) -> Option<&Header<'a>> {
        self.list.iter().find(|h| h.name.eq_ignore_ascii_case(name))
    }

    /// Every header with this name.
    pub fn get_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Header<'a>> + 's {
        self.list
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Start line and header section of a message: everything before the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head<'a> {
    /// The transaction id.
    pub tid: &'a str,
    /// Request method or response status.
    pub start: StartLine<'a>,
    /// The headers in order.
    pub headers: Headers<'a>,
    /// `Some(flag)` when the end-line followed the headers directly (bodiless message; `Head`
    /// then includes the end-line); `None` when a blank line announced a body.
    pub bodiless_end: Option<Flag>,
}

/// A whole MSRP request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The transaction id.
    pub tid: &'a str,
    /// Request method or response status.
    pub start: StartLine<'a>,
    /// The headers in order.
    pub headers: Headers<'a>,
    /// The body; `None` for a bodiless message, `Some(b"")` for an empty body (§7.1 tells them
    /// apart).
    pub body: Option<&'a [u8]>,
    /// Offset of the body (or of the end-line when bodiless) in the parsed buffer.
    pub body_offset: usize,
    /// The continuation flag of the end-line.
    pub flag: Flag,
    /// Offset of the end-line's first `-` in the parsed buffer.
    pub end_line_offset: usize,
}

impl<'a> Message<'a> {
    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request(_))
    }

    /// The request method, if this is a request.
    pub fn method(&self) -> Option<Method<'a>> {
        match self.start {
            StartLine::Request(m) => Some(m),
            StartLine::Response { .. } => None,
        }
    }
}

/// Most header lines parsed in one message, as the SIP parser's `max_headers`: real messages
/// carry a dozen.
pub(crate) const MAX_HEADERS: usize = 512;

/// Where parse problems go: strict parsing stops at the first, linting records them all and
/// recovers wherever the framing still makes sense.
pub(crate) struct Diag<'e> {
    sink: Option<&'e mut Vec<ParseError>>,
    /// Bounds how many problems of one code are recorded (a head of a million bad lines).
    repeats: Repeats,
}

impl<'e> Diag<'e> {
    pub(crate) fn strict() -> Diag<'static> {
        Diag {
            sink: None,
            repeats: Repeats::default(),
        }
    }

    pub(crate) fn collect(v: &'e mut Vec<ParseError>) -> Diag<'e> {
        Diag {
            sink: Some(v),
            repeats: Repeats::default(),
        }
    }

    /// Record a recoverable problem; in strict mode it becomes the parse error.
    pub(crate) fn report(&mut self, e: ParseError) -> Result<(), ParseError> {
        match &mut self.sink {
            Some(v) => {
                if self.repeats.admit(e.code, count_code(v.iter(), e.code)) {
                    v.push(e);
                }
                Ok(())
            }
            None => Err(e),
        }
    }

    /// Say on the problems recorded how many like them were not.
    pub(crate) fn finish(self) {
        if let Some(v) = self.sink {
            self.repeats.annotate(v.iter_mut());
        }
    }
}

/// `ident-char = ALPHANUM / "." / "-" / "+" / "%" / "="`
pub const fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'%' | b'=')
}

/// `ident = ALPHANUM 3*31ident-char` (transaction ids and Message-IDs).
pub fn is_ident(s: &[u8]) -> bool {
    (MIN_TID_LEN..=MAX_TID_LEN).contains(&s.len())
        && s.first().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.iter().all(|&b| is_ident_char(b))
}

/// `utf8text = *(HTAB / %x20-7E / UTF8-NONASCII)`: `None` if valid, else the bad offset.
pub(crate) fn utf8text_error(s: &str) -> Option<usize> {
    s.bytes()
        .position(|b| b != b'\t' && (b < 0x20 || b == 0x7f))
}

/// Next line starting at `from`: `(content_end, next_line_start, bare_lf)`.
fn find_line(buf: &[u8], from: usize) -> Option<(usize, usize, bool)> {
    let rest = buf.get(from..)?;
    let i = memchr::memchr(b'\n', rest)?;
    let nl = from + i;
    if nl > from && buf[nl - 1] == b'\r' {
        Some((nl - 1, nl + 1, false))
    } else {
        Some((nl, nl + 1, true))
    }
}

fn bare_lf(at: usize) -> ParseError {
    ParseError::new(
        "msrp.line.bare-lf",
        "expected CRLF line ending, found bare LF",
        at,
        1,
        RFC_SYNTAX,
    )
}

/// Parse the start line and headers. See [`parse_head`].
pub(crate) fn parse_head_with<'a>(
    buf: &'a [u8],
    diag: &mut Diag<'_>,
) -> Result<Status<Head<'a>>, ParseError> {
    let Some((sl_end, mut pos, bare)) = find_line(buf, 0) else {
        // A prefix that can no longer become "MSRP " is an error now rather than a wait for
        // bytes that will never fix it.
        let n = buf.len().min(5);
        if buf[..n] != b"MSRP "[..n] {
            return Err(start_line_error(buf, buf.len()));
        }
        return Ok(Status::Partial);
    };
    if bare {
        diag.report(bare_lf(sl_end))?;
    }
    let (tid, start) = parse_start_line(&buf[..sl_end], diag)?;
    let mut headers = Headers::default();
    let mut over = false;
    loop {
        let Some((end, next, bare)) = find_line(buf, pos) else {
            return Ok(Status::Partial);
        };
        if bare {
            diag.report(bare_lf(end))?;
        }
        let line = &buf[pos..end];
        if line.is_empty() {
            return Ok(Status::Complete(
                Head {
                    tid,
                    start,
                    headers,
                    bodiless_end: None,
                },
                next,
            ));
        }
        if line[0] == b'-' {
            // hname starts with ALPHA, so a line opening with "-" can only be the end-line.
            let flag = match end_line_flag(line, tid.as_bytes()) {
                Some(f) => f,
                None => {
                    diag.report(end_line_mismatch(line, pos, tid))?;
                    line.last()
                        .and_then(|&b| Flag::from_byte(b))
                        .unwrap_or(Flag::End)
                }
            };
            return Ok(Status::Complete(
                Head {
                    tid,
                    start,
                    headers,
                    bodiless_end: Some(flag),
                },
                next,
            ));
        }
        if headers.list.len() >= MAX_HEADERS {
            // Bounds memory and work on hostile input; the lines are still walked to find
            // the end of the head, but no longer parsed or kept.
            if !over {
                over = true;
                diag.report(ParseError::new(
                    "msrp.header.too-many",
                    format!(
                        "more than {MAX_HEADERS} header lines: sipkit stops there (a limit of sipkit, not an RFC rule), the rest are not checked"
                    ),
                    pos,
                    end - pos,
                    "",
                ))?;
            }
        } else if let Some(h) = parse_header_line(buf, pos, end, diag)? {
            headers.list.push(h);
        }
        pos = next;
    }
}

pub(crate) fn end_line_mismatch(line: &[u8], at: usize, tid: &str) -> ParseError {
    ParseError::new(
        "msrp.end-line.mismatch",
        format!(
            "expected end-line \"-------{tid}\" and a flag $, + or #, found {:?}",
            String::from_utf8_lossy(line)
        ),
        at,
        line.len(),
        RFC_SYNTAX,
    )
}

/// The flag if `line` (without CRLF) is exactly `"-------" tid continuation-flag`.
pub(crate) fn end_line_flag(line: &[u8], tid: &[u8]) -> Option<Flag> {
    let rest = line.strip_prefix(&END_DASHES[..])?;
    let rest = rest.strip_prefix(tid)?;
    match rest {
        [f] => Flag::from_byte(*f),
        _ => None,
    }
}

fn start_line_error(buf: &[u8], end: usize) -> ParseError {
    let shown = &buf[..end.min(40)];
    ParseError::new(
        "msrp.start-line.invalid",
        format!(
            "expected \"MSRP\" SP transact-id SP method-or-status, found {:?}",
            String::from_utf8_lossy(shown)
        ),
        0,
        end.max(1),
        RFC_SYNTAX,
    )
}

/// ```text
/// req-start  = pMSRP SP transact-id SP method CRLF
/// resp-start = pMSRP SP transact-id SP status-code [SP comment] CRLF
/// pMSRP = %x4D.53.52.50 ; MSRP in caps
/// transact-id = ident
/// other-method = 1*UPALPHA
/// status-code = 3DIGIT
/// comment = utf8text
/// ```
fn parse_start_line<'a>(
    line: &'a [u8],
    diag: &mut Diag<'_>,
) -> Result<(&'a str, StartLine<'a>), ParseError> {
    let Some(rest) = line.strip_prefix(b"MSRP ") else {
        return Err(start_line_error(line, line.len()));
    };
    let tid_len = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    let tid_bytes = &rest[..tid_len];
    let tid = match std::str::from_utf8(tid_bytes) {
        Ok(t) if !t.is_empty() && t.bytes().all(|b| b > 0x20 && b < 0x7f) => t,
        _ => return Err(start_line_error(line, line.len())),
    };
    if !is_ident(tid_bytes) {
        diag.report(ParseError::new(
            "msrp.tid.invalid",
            format!(
                "expected a transaction id of 4 to 32 letters, digits or . - + % = starting with \
                 a letter or digit, found {tid:?} ({} bytes)",
                tid.len()
            ),
            5,
            tid_len,
            RFC_SYNTAX,
        ))?;
    }
    let Some(after) = rest.get(tid_len + 1..) else {
        return Err(ParseError::new(
            "msrp.start-line.invalid",
            "expected SP and a method or status code after the transaction id, found end of line",
            line.len(),
            1,
            RFC_SYNTAX,
        ));
    };
    let word_at = 5 + tid_len + 1;
    let word_len = memchr::memchr(b' ', after).unwrap_or(after.len());
    let word = &after[..word_len];
    if word.first().is_some_and(u8::is_ascii_digit) {
        if word.len() != 3 || !word.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::new(
                "msrp.status-code.invalid",
                format!(
                    "expected a 3-digit status code, found {:?}",
                    String::from_utf8_lossy(word)
                ),
                word_at,
                word.len(),
                RFC_SYNTAX,
            ));
        }
        let code = word
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        let comment = match after.get(word_len + 1..) {
            None => None,
            Some(c) => {
                let c_at = word_at + word_len + 1;
                match std::str::from_utf8(c) {
                    Ok(s) => {
                        if let Some(i) = utf8text_error(s) {
                            diag.report(ParseError::new(
                                "msrp.comment.invalid",
                                "control character in the response comment",
                                c_at + i,
                                1,
                                RFC_SYNTAX,
                            ))?;
                        }
                        Some(s)
                    }
                    Err(e) => {
                        diag.report(ParseError::new(
                            "msrp.comment.invalid",
                            "the response comment is not utf-8",
                            c_at + e.valid_up_to(),
                            1,
                            RFC_SYNTAX,
                        ))?;
                        std::str::from_utf8(&c[..e.valid_up_to()]).ok()
                    }
                }
            }
        };
        return Ok((tid, StartLine::Response { code, comment }));
    }
    let ok_method = !word.is_empty() && word.iter().all(u8::is_ascii_uppercase);
    if !ok_method || word_len != after.len() {
        diag.report(ParseError::new(
            "msrp.method.invalid",
            format!(
                "expected a method of capital letters ending the line, found {:?}",
                String::from_utf8_lossy(after)
            ),
            word_at,
            after.len().max(1),
            RFC_SYNTAX,
        ))?;
    }
    let Ok(m) = std::str::from_utf8(word) else {
        return Err(start_line_error(line, line.len()));
    };
    Ok((tid, StartLine::Request(Method::from_token(m))))
}

/// ```text
/// ext-header = hname ":" SP hval CRLF
/// hname = ALPHA *token
/// hval = utf8text
/// ```
/// Returns `None` (after reporting) for a line that cannot be read as a header in lint mode.
fn parse_header_line<'a>(
    buf: &'a [u8],
    start: usize,
    end: usize,
    diag: &mut Diag<'_>,
) -> Result<Option<Header<'a>>, ParseError> {
    let line = &buf[start..end];
    let Some(colon) = memchr::memchr(b':', line) else {
        diag.report(ParseError::new(
            "msrp.header.invalid",
            format!(
                "expected a header \"name: value\", found {:?}",
                String::from_utf8_lossy(&line[..line.len().min(40)])
            ),
            start,
            line.len(),
            RFC_SYNTAX,
        ))?;
        return Ok(None);
    };
    let name_b = &line[..colon];
    let name_ok = name_b.first().is_some_and(u8::is_ascii_alphabetic)
        && name_b.iter().all(|&b| super::uri::is_msrp_token(b));
    let name = match std::str::from_utf8(name_b) {
        Ok(n) if name_ok => n,
        _ => {
            diag.report(ParseError::new(
                "msrp.header.name",
                format!(
                    "expected a header name (a letter, then token characters), found {:?}",
                    String::from_utf8_lossy(name_b)
                ),
                start,
                colon.max(1),
                RFC_SYNTAX,
            ))?;
            return Ok(None);
        }
    };
    let mut v_start = colon + 1;
    if line.get(v_start) == Some(&b' ') {
        v_start += 1;
    } else {
        diag.report(ParseError::new(
            "msrp.header.space",
            format!("expected a single SP after \"{name}:\""),
            start + colon + 1,
            1,
            RFC_SYNTAX,
        ))?;
        while line.get(v_start).is_some_and(|&b| b == b' ' || b == b'\t') {
            v_start += 1;
        }
    }
    let v_bytes = &line[v_start..];
    let value_offset = start + v_start;
    let value = match std::str::from_utf8(v_bytes) {
        Ok(v) => {
            if let Some(i) = utf8text_error(v) {
                diag.report(ParseError::new(
                    "msrp.header.value",
                    format!("control character in the {name} value"),
                    value_offset + i,
                    1,
                    RFC_SYNTAX,
                ))?;
            }
            v
        }
        Err(e) => {
            diag.report(ParseError::new(
                "msrp.header.value",
                format!("the {name} value is not utf-8"),
                value_offset + e.valid_up_to(),
                1,
                RFC_SYNTAX,
            ))?;
            std::str::from_utf8(&v_bytes[..e.valid_up_to()]).unwrap_or("")
        }
    };
    Ok(Some(Header {
        name,
        value,
        offset: start,
        value_offset,
    }))
}

/// Parse the start line and header section of a message at the start of `buf`.
///
/// `Complete(head, n)`: `n` bytes hold the head, up to and including the blank line that starts
/// the body, or up to and including the end-line of a bodiless message
/// (`head.bodiless_end` is then `Some`). Used by the streaming [`super::Framer`].
pub fn parse_head(buf: &[u8]) -> Result<Status<Head<'_>>, ParseError> {
    parse_head_with(buf, &mut Diag::strict())
}

/// The byte string `CRLF "-------" tid` that precedes the flag of an end-line after a body.
#[derive(Clone, Copy)]
pub(crate) struct Needle {
    bytes: [u8; MAX_NEEDLE],
    len: usize,
}

impl std::fmt::Debug for Needle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl Needle {
    pub(crate) fn new(tid: &str) -> Needle {
        let mut bytes = [0u8; MAX_NEEDLE];
        let tid = &tid.as_bytes()[..tid.len().min(MAX_TID_LEN)];
        bytes[..2].copy_from_slice(b"\r\n");
        bytes[2..9].copy_from_slice(END_DASHES);
        bytes[9..9 + tid.len()].copy_from_slice(tid);
        Needle {
            bytes,
            len: 9 + tid.len(),
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Result of looking for the end-line after a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndSearch {
    /// Body ends at `body_end`; the end-line has `flag` and the message ends at `next`.
    Found {
        body_end: usize,
        flag: Flag,
        next: usize,
    },
    /// No end-line yet. Bytes before `safe` can never be part of one (they are body).
    NotYet { safe: usize },
}

/// Find `CRLF "-------" tid flag CRLF` in `hay`. Only this exact sequence ends the body: other
/// transaction ids, a missing leading CRLF, an unknown flag or a missing trailing CRLF leave the
/// bytes in the body.
pub(crate) fn search_end_line(hay: &[u8], finder: &memmem::Finder<'_>) -> EndSearch {
    let nlen = finder.needle().len();
    let mut from = 0;
    loop {
        let Some(i) = hay.get(from..).and_then(|h| finder.find(h)) else {
            // A future match may begin in the last nlen-1 bytes.
            let safe = hay.len().saturating_sub(nlen - 1).max(from.min(hay.len()));
            return EndSearch::NotYet { safe };
        };
        let at = from + i;
        let tail = &hay[at + nlen..];
        let complete = |t: &[u8]| t.len() >= 3;
        match tail.first().map(|&b| Flag::from_byte(b)) {
            None => return EndSearch::NotYet { safe: at },
            Some(None) => {}
            Some(Some(flag)) => {
                if complete(tail) {
                    if &tail[1..3] == b"\r\n" {
                        return EndSearch::Found {
                            body_end: at,
                            flag,
                            next: at + nlen + 3,
                        };
                    }
                } else if b"\r\n".starts_with(&tail[1..]) {
                    return EndSearch::NotYet { safe: at };
                }
            }
        }
        from = at + 1;
    }
}

/// Parse one whole MSRP message at the start of `buf`.
///
/// `Complete(msg, n)`: the message occupies `buf[..n]`. `Partial`: `buf` is a valid prefix.
/// The body ends only at `CRLF "-------" <this message's transaction id> flag CRLF`
/// (RFC 4975 §7.1), so body bytes that merely look like an end-line are body.
pub fn parse(buf: &[u8]) -> Result<Status<Message<'_>>, ParseError> {
    parse_with(buf, &mut Diag::strict())
}

/// The tolerant profile, for the dissector: the message is read on past every problem the
/// framing can recover from (a bad header line, a header value that is not UTF-8, ...), and each
/// comes back as a finding. Framing still needs the end-line, so a message without one stays
/// `Partial`, and bytes that do not start with a start line are still an error.
pub fn parse_tolerant(buf: &[u8]) -> Result<Status<(Message<'_>, Vec<Finding>)>, ParseError> {
    let mut errors = Vec::new();
    let parsed = parse_with(buf, &mut Diag::collect(&mut errors))?;
    Ok(match parsed {
        Status::Complete(m, n) => {
            Status::Complete((m, errors.into_iter().map(Finding::error).collect()), n)
        }
        Status::Partial => Status::Partial,
    })
}

pub(crate) fn parse_with<'a>(
    buf: &'a [u8],
    diag: &mut Diag<'_>,
) -> Result<Status<Message<'a>>, ParseError> {
    let (head, head_len) = match parse_head_with(buf, diag)? {
        Status::Complete(h, n) => (h, n),
        Status::Partial => return Ok(Status::Partial),
    };
    if let Some(flag) = head.bodiless_end {
        let end_line_len = 7 + head.tid.len() + 3;
        return Ok(Status::Complete(
            Message {
                tid: head.tid,
                start: head.start,
                headers: head.headers,
                body: None,
                body_offset: head_len.saturating_sub(end_line_len),
                flag,
                end_line_offset: head_len.saturating_sub(end_line_len),
            },
            head_len,
        ));
    }
    let needle = Needle::new(head.tid);
    let finder = memmem::Finder::new(needle.as_bytes());
    match search_end_line(&buf[head_len..], &finder) {
        EndSearch::Found {
            body_end,
            flag,
            next,
        } => Ok(Status::Complete(
            Message {
                tid: head.tid,
                start: head.start,
                headers: head.headers,
                body: Some(&buf[head_len..head_len + body_end]),
                body_offset: head_len,
                flag,
                end_line_offset: head_len + body_end + 2,
            },
            head_len + next,
        )),
        EndSearch::NotYet { .. } => Ok(Status::Partial),
    }
}

impl Message<'_> {
    /// Append the message's wire form to `out`: byte-exact for a parsed message.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"MSRP ");
        out.extend_from_slice(self.tid.as_bytes());
        out.push(b' ');
        match self.start {
            StartLine::Request(m) => out.extend_from_slice(m.as_str().as_bytes()),
            StartLine::Response { code, comment } => {
                out.extend_from_slice(format!("{code:03}").as_bytes());
                if let Some(c) = comment {
                    out.push(b' ');
                    out.extend_from_slice(c.as_bytes());
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        for h in self.headers.iter() {
            out.extend_from_slice(h.name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(body) = self.body {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(body);
            out.extend_from_slice(b"\r\n");
        }
        super::build::write_end_line(out, self.tid, self.flag);
    }

    /// The wire form as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }
}
