//! Every problem in one MSRP message, for `sipkit validate` (RFC 4975 §7, §9; RFC 4976 §7).
//!
//! The parser stops at the first error; linting instead parses in collecting mode, recovers a
//! message shape wherever the framing allows (even a wrong end-line), then checks the rules of
//! §7 that the grammar alone cannot express.

use memchr::memmem;

use super::headers::{is_mime_header, is_quoted_string};
use super::message::{
    Diag, EndSearch, Flag, Message, Method, Needle, RFC_REQUEST, RFC_SYNTAX, StartLine,
    end_line_flag, end_line_mismatch, parse_head_with, search_end_line,
};
use crate::proto::{Finding, ParseError, Status};

const RFC_SEND: &str = "RFC 4975 §7.1.1";
const RFC_REPORT: &str = "RFC 4975 §7.1.2";
const RFC_RESPONSE: &str = "RFC 4975 §7.2";
const RFC_STATUS: &str = "RFC 4975 §10";

/// Largest body of a non-SEND request (§7.1).
const MAX_NON_SEND_BODY: usize = 10240;
/// Largest chunk that may carry a known range-end (§7.1.1).
const MAX_UNINTERRUPTIBLE: usize = 2048;

/// Headers that may appear at most once.
const SINGLE: &[&str] = &[
    "To-Path",
    "From-Path",
    "Message-ID",
    "Byte-Range",
    "Success-Report",
    "Failure-Report",
    "Status",
    "Content-Type",
    "Use-Path",
    "Expires",
    "Min-Expires",
    "Max-Expires",
];

/// The chat-room nickname method (RFC 7701 §7.1), the one registered method that has no
/// variant of its own in [`Method`].
const NICKNAME: &str = "NICKNAME";
const RFC_NICKNAME: &str = "RFC 7701 §7.1";

/// Every problem in one message, in order of appearance.
pub fn lint(buf: &[u8]) -> Vec<Finding> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let recovered = {
        let mut diag = Diag::collect(&mut errors);
        let recovered = recover(buf, &mut diag);
        diag.finish();
        recovered
    };
    match recovered {
        Ok(Some((msg, end))) => {
            let mut l = Lint {
                errors: &mut errors,
                warnings: &mut warnings,
            };
            check(&msg, &mut l);
            if end < buf.len() {
                warnings.push(ParseError::new(
                    "msrp.trailing-data",
                    format!("{} bytes after the end-line", buf.len() - end),
                    end,
                    buf.len() - end,
                    RFC_SYNTAX,
                ));
            }
        }
        Ok(None) => {}
        Err(e) => errors.push(e),
    }
    let mut out: Vec<Finding> = errors
        .into_iter()
        .map(Finding::error)
        .chain(warnings.into_iter().map(Finding::warning))
        .collect();
    crate::proto::error::clamp_spans(&mut out, buf.len());
    out.sort_by_key(|f| f.error.offset);
    out
}

/// Parse as much of a message as possible; framing problems go to `diag`. Returns the message
/// and the offset just past it.
fn recover<'a>(
    buf: &'a [u8],
    diag: &mut Diag<'_>,
) -> Result<Option<(Message<'a>, usize)>, ParseError> {
    let (head, head_len) = match parse_head_with(buf, diag)? {
        Status::Complete(h, n) => (h, n),
        Status::Partial => {
            diag.report(ParseError::new(
                "msrp.message.truncated",
                "the message ends inside the start line or headers",
                buf.len(),
                0,
                RFC_SYNTAX,
            ))?;
            return Ok(None);
        }
    };
    let mk = |body, body_offset, flag, end_line_offset| Message {
        tid: head.tid,
        start: head.start,
        headers: head.headers.clone(),
        body,
        body_offset,
        flag,
        end_line_offset,
    };
    let tid_len = head.tid.len();
    if let Some(flag) = head.bodiless_end {
        let el = head_len.saturating_sub(7 + tid_len + 3);
        return Ok(Some((mk(None, el, flag, el), head_len)));
    }
    let needle = Needle::new(head.tid);
    let finder = memmem::Finder::new(needle.as_bytes());
    let rest = &buf[head_len..];
    if let EndSearch::Found {
        body_end,
        flag,
        next,
    } = search_end_line(rest, &finder)
    {
        let m = mk(
            Some(&rest[..body_end]),
            head_len,
            flag,
            head_len + body_end + 2,
        );
        return Ok(Some((m, head_len + next)));
    }
    // No proper end-line: take the last line that starts with the seven dashes as the intended
    // one and say what is wrong with it.
    let Some(dash) = last_dash_line(rest) else {
        diag.report(ParseError::new(
            "msrp.end-line.missing",
            format!("expected an end-line \"-------{}\" and a flag", head.tid),
            buf.len(),
            0,
            RFC_SYNTAX,
        ))?;
        return Ok(None);
    };
    let at = head_len + dash;
    let line_end = memchr::memchr(b'\n', &buf[at..]).map_or(buf.len(), |i| at + i);
    let line = buf[at..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&buf[at..line_end]);
    let has_crlf_before = dash >= 2 && &rest[dash - 2..dash] == b"\r\n";
    let body_end = if has_crlf_before { dash - 2 } else { dash };
    let flag = match end_line_flag(line, head.tid.as_bytes()) {
        Some(flag) => {
            if !has_crlf_before {
                diag.report(ParseError::new(
                    "msrp.end-line.crlf",
                    "the end-line after a body must be preceded by a CRLF that is not part of \
                     the body",
                    at,
                    line.len(),
                    RFC_REQUEST,
                ))?;
            } else {
                diag.report(ParseError::new(
                    "msrp.end-line.crlf",
                    "expected CRLF after the end-line",
                    at + line.len(),
                    1,
                    RFC_SYNTAX,
                ))?;
            }
            flag
        }
        None => {
            diag.report(end_line_mismatch(line, at, head.tid))?;
            line.last()
                .and_then(|&b| Flag::from_byte(b))
                .unwrap_or(Flag::End)
        }
    };
    let end = (line_end + 1).min(buf.len());
    Ok(Some((mk(Some(&rest[..body_end]), head_len, flag, at), end)))
}

/// Offset in `body` of the last line that starts with seven dashes.
fn last_dash_line(body: &[u8]) -> Option<usize> {
    let from_nl = memmem::rfind(body, b"\n-------").map(|i| i + 1);
    from_nl.or_else(|| body.starts_with(b"-------").then_some(0))
}

struct Lint<'v> {
    errors: &'v mut Vec<ParseError>,
    warnings: &'v mut Vec<ParseError>,
}

impl Lint<'_> {
    fn err(
        &mut self,
        code: &'static str,
        msg: String,
        offset: usize,
        len: usize,
        rfc: &'static str,
    ) {
        self.errors
            .push(ParseError::new(code, msg, offset, len.max(1), rfc));
    }

    fn warn(
        &mut self,
        code: &'static str,
        msg: String,
        offset: usize,
        len: usize,
        rfc: &'static str,
    ) {
        self.warnings
            .push(ParseError::new(code, msg, offset, len.max(1), rfc));
    }

    fn take<T>(&mut self, r: Result<T, ParseError>) -> Option<T> {
        r.map_err(|e| self.errors.push(e)).ok()
    }
}

fn check(m: &Message<'_>, l: &mut Lint<'_>) {
    let h = &m.headers;
    let start_len = 5 + m.tid.len();
    let list = h.as_slice();

    // §7.1 and the `headers` rule: To-Path then From-Path, first.
    for (idx, name, code_missing, code_order) in [
        (0, "To-Path", "msrp.to-path.missing", "msrp.to-path.order"),
        (
            1,
            "From-Path",
            "msrp.from-path.missing",
            "msrp.from-path.order",
        ),
    ] {
        match list.iter().position(|x| x.name.eq_ignore_ascii_case(name)) {
            None => l.err(
                code_missing,
                format!("missing {name} header"),
                0,
                start_len,
                RFC_SYNTAX,
            ),
            Some(i) if i != idx => {
                let x = &list[i];
                l.err(
                    code_order,
                    format!(
                        "{name} must be header number {} of the message, found at {}",
                        idx + 1,
                        i + 1
                    ),
                    x.offset,
                    x.name.len(),
                    RFC_SYNTAX,
                );
            }
            Some(_) => {}
        }
    }
    for name in SINGLE {
        for x in h.get_all(name).skip(1) {
            l.err(
                "msrp.header.duplicate",
                format!("{name} appears more than once"),
                x.offset,
                x.name.len(),
                RFC_SYNTAX,
            );
        }
    }
    if h.get("To-Path").is_some() {
        let r = h.to_path();
        l.take(r);
    }
    if h.get("From-Path").is_some() {
        let r = h.from_path();
        l.take(r);
    }
    let r = h.use_path();
    if let (Some(Some(path)), Some(x)) = (l.take(r), h.get("Use-Path")) {
        for u in path.iter().filter(|u| u.ip.is_some() || u.port.is_none()) {
            let at = crate::proto::error::offset_in(x.value.as_bytes(), u.raw.as_bytes())
                .map_or(x.value_offset, |o| x.value_offset + o);
            l.err(
                "msrp.use-path.uri",
                format!(
                    "Use-Path uris need a domain name and an explicit port, found {}",
                    u.raw
                ),
                at,
                u.raw.len(),
                "RFC 4976 §4.2",
            );
        }
    }
    let r = h.message_id();
    l.take(r);
    let r = h.success_report();
    let success = l.take(r).flatten();
    let r = h.failure_report();
    let failure = l.take(r).flatten();
    let r = h.expires();
    l.take(r);
    let r = h.min_expires();
    l.take(r);
    let r = h.max_expires();
    l.take(r);
    let r = h.content_type();
    l.take(r);
    for x in h.get_all("Content-Disposition") {
        let codes = crate::proto::mime::DispositionCodes {
            disp_type: "msrp.content-disposition.type",
            param: "msrp.content-disposition.param",
            rfc: "RFC 4975 §9",
        };
        let r = crate::proto::mime::check_content_disposition(x.value, x.value_offset, codes);
        l.take(r);
    }
    check_auth_headers(m, l);
    let r = h.status();
    if let Some(Some(s)) = l.take(r) {
        if s.namespace != 0 {
            if let Some(x) = h.get("Status") {
                l.warn(
                    "msrp.status.namespace",
                    format!(
                        "namespace {:03} is not the \"000\" of RFC 4975",
                        s.namespace
                    ),
                    x.value_offset,
                    3,
                    RFC_STATUS,
                );
            }
        }
    }

    let end_len = 7 + m.tid.len() + 1;
    let body_len = m.body.map_or(0, <[u8]>::len);
    match m.start {
        StartLine::Response { code, .. } => {
            if !(200..=599).contains(&code) {
                l.err(
                    "msrp.status-code.range",
                    format!(
                        "status code {code} is outside 200-599 (MSRP has no provisional responses)"
                    ),
                    start_len + 1,
                    3,
                    RFC_STATUS,
                );
            }
            if m.body.is_some() {
                l.err(
                    "msrp.response.body",
                    "a response has no body: msrp-response = resp-start headers end-line".into(),
                    m.body_offset,
                    body_len,
                    RFC_SYNTAX,
                );
            }
            if m.flag != Flag::End {
                l.err(
                    "msrp.end-line.flag",
                    "a response is never chunked: its end-line flag must be \"$\"".into(),
                    m.end_line_offset + end_len - 1,
                    1,
                    RFC_RESPONSE,
                );
            }
        }
        StartLine::Request(method) => {
            check_request(m, method, success, failure, l);
        }
    }
}

fn check_request(
    m: &Message<'_>,
    method: Method<'_>,
    success: Option<super::ReportValue>,
    failure: Option<super::ReportValue>,
    l: &mut Lint<'_>,
) {
    let h = &m.headers;
    let start_len = 5 + m.tid.len();
    let end_len = 7 + m.tid.len() + 1;
    let body_len = m.body.map_or(0, <[u8]>::len);
    let method_at = start_len + 1;
    let method_len = method.as_str().len();
    match method {
        Method::Send => {}
        Method::Report => {
            if h.get("Status").is_none() {
                l.err(
                    "msrp.report.status.missing",
                    "a REPORT must contain a Status header".into(),
                    method_at,
                    method_len,
                    RFC_REPORT,
                );
            }
            for (name, v) in [("Success-Report", success), ("Failure-Report", failure)] {
                if let Some(x) = h.get(name) {
                    let _ = v;
                    l.err(
                        "msrp.report.report-header",
                        format!("a REPORT must not contain {name}"),
                        x.offset,
                        x.name.len(),
                        RFC_REPORT,
                    );
                }
            }
        }
        Method::Auth => {}
        Method::Other(NICKNAME) => check_nickname(m, method_at, l),
        Method::Other(_) => l.warn(
            "msrp.method.unknown",
            format!(
                "method `{}` is not one of the registered SEND, REPORT, AUTH (RFC 4976) and NICKNAME (RFC 7701); peers answer 501",
                method.as_str()
            ),
            method_at,
            method_len,
            "RFC 4975 §10.9",
        ),
    }
    if matches!(method, Method::Send | Method::Report) && h.get("Message-ID").is_none() {
        l.err(
            "msrp.message-id.missing",
            format!("a {} must contain a Message-ID header", method.as_str()),
            method_at,
            method_len,
            if method == Method::Send {
                RFC_SEND
            } else {
                RFC_REPORT
            },
        );
    }
    if method != Method::Send {
        if body_len > MAX_NON_SEND_BODY {
            l.err(
                "msrp.body.too-large",
                format!(
                    "a non-SEND body must not exceed {MAX_NON_SEND_BODY} bytes, found {body_len}"
                ),
                m.body_offset,
                body_len,
                RFC_REQUEST,
            );
        }
        if m.flag != Flag::End {
            l.err(
                "msrp.end-line.flag",
                format!(
                    "{} requests are not interruptible: the end-line flag must be \"$\"",
                    method.as_str()
                ),
                m.end_line_offset + end_len - 1,
                1,
                RFC_REQUEST,
            );
        }
    }
    match m.body {
        Some(_) => match h.get("Content-Type") {
            None => l.err(
                "msrp.content-type.missing",
                "a request with a body must contain a Content-Type header".into(),
                m.body_offset,
                body_len,
                RFC_REQUEST,
            ),
            Some(ct) => {
                if let Some(last) = h.as_slice().last() {
                    if last.offset != ct.offset {
                        l.err(
                            "msrp.content-type.order",
                            "Content-Type must be the last header before the body".into(),
                            last.offset,
                            last.name.len(),
                            RFC_REQUEST,
                        );
                    }
                }
            }
        },
        None => {
            for x in h.iter().filter(|x| is_mime_header(x.name)) {
                l.err(
                    "msrp.content-type.unexpected",
                    format!("a request without a body must not contain {}", x.name),
                    x.offset,
                    x.name.len(),
                    RFC_REQUEST,
                );
            }
        }
    }
    let r = h.byte_range();
    let Some(Some(br)) = l.take(r) else {
        if method == Method::Send && h.get("Byte-Range").is_none() {
            l.warn(
                "msrp.byte-range.missing",
                "a SEND should contain a Byte-Range (and must, for every chunk but the first)"
                    .into(),
                method_at,
                method_len,
                RFC_SEND,
            );
        }
        return;
    };
    let Some(x) = h.get("Byte-Range") else {
        return;
    };
    let (at, len) = (x.value_offset, x.value.len());
    if br.start == 0 {
        l.err(
            "msrp.byte-range.start",
            "range-start is 0; the first byte of a message is at position 1".into(),
            at,
            len,
            RFC_SEND,
        );
        return;
    }
    // In a SEND the range describes the body; in a REPORT it names the range being reported
    // on (§7.1.3), which has nothing to do with the REPORT's own body.
    let is_send = method == Method::Send;
    let last = if is_send {
        (br.start - 1).checked_add(body_len as u64)
    } else {
        None
    };
    if is_send && last.is_none() {
        l.err(
            "msrp.byte-range.invalid",
            "the body would extend past byte 2^64-1 of the message".into(),
            at,
            len,
            RFC_SEND,
        );
        return;
    }
    if let Some(end) = br.end {
        if is_send && Some(end) != last {
            l.err(
                "msrp.byte-range.mismatch",
                format!(
                    "range {}-{end} is {} bytes but the body has {body_len}",
                    br.start,
                    end.saturating_add(1).saturating_sub(br.start)
                ),
                at,
                len,
                RFC_SEND,
            );
        }
        if body_len > MAX_UNINTERRUPTIBLE && method == Method::Send {
            l.warn(
                "msrp.byte-range.interruptible",
                format!("a chunk over {MAX_UNINTERRUPTIBLE} bytes must be interruptible, with range-end \"*\""),
                at,
                len,
                RFC_SEND,
            );
        }
    }
    if let Some(total) = br.total {
        // With a declared range-end, the body length is already checked against it above.
        let beyond = br.end.or(last).filter(|&e| e > total);
        if let Some(e) = beyond {
            l.err(
                "msrp.byte-range.total",
                format!("the chunk reaches byte {e}, beyond the total {total}"),
                at,
                len,
                RFC_SEND,
            );
        } else if m.flag == Flag::End
            && method == Method::Send
            && (br.end.is_none() || br.end == last)
            && last.is_some_and(|e| e != total)
        {
            l.err(
                "msrp.byte-range.final",
                format!(
                    "the \"$\" flag marks the last chunk but it ends at byte {} of {total}",
                    last.unwrap_or(0)
                ),
                at,
                len,
                RFC_REQUEST,
            );
        }
    }
}

/// RFC 7701 §7.1: a NICKNAME request carries exactly the nickname it asks for,
/// `Use-Nickname = "Use-Nickname:" SP nickname`, `nickname = DQUOTE 1*1023(qdtext / qd-esc)
/// DQUOTE`, and no report headers.
fn check_nickname(m: &Message<'_>, method_at: usize, l: &mut Lint<'_>) {
    let h = &m.headers;
    match h.get("Use-Nickname") {
        None => l.err(
            "msrp.nickname.missing",
            "a NICKNAME request must contain a Use-Nickname header".into(),
            method_at,
            NICKNAME.len(),
            RFC_NICKNAME,
        ),
        Some(x) => {
            let inner = x.value.len().saturating_sub(2);
            if !is_quoted_string(x.value) || inner == 0 || inner > 1023 {
                l.err(
                    "msrp.nickname.syntax",
                    format!(
                        "Use-Nickname must be a quoted string of 1 to 1023 octets, found `{}`",
                        crate::proto::sip::uri::clip(x.value)
                    ),
                    x.value_offset,
                    x.value.len(),
                    RFC_NICKNAME,
                );
            }
        }
    }
    for name in ["Success-Report", "Failure-Report"] {
        if let Some(x) = h.get(name) {
            l.err(
                "msrp.nickname.report-header",
                format!("a NICKNAME request must not contain {name}"),
                x.offset,
                x.name.len(),
                RFC_NICKNAME,
            );
        }
    }
}

/// The HTTP Digest headers MSRP relays use (RFC 4976 §7):
///
/// ```text
/// WWW-Authenticate    = "WWW-Authenticate:" SP "Digest" SP digest-param *("," SP digest-param)
/// Authorization       = "Authorization:" SP credentials
/// credentials         = "Digest" SP digest-response *( "," SP digest-response)
/// Authentication-Info = "Authentication-Info:" SP ainfo *("," ainfo)
/// realm-value = nonce-value = quoted-string; opaque = "opaque=" quoted-string
/// username-value = quoted-string; stale = "stale=" ( "true" / "false" )
/// qop-options = "qop=" DQUOTE qop-list DQUOTE; nc-value = 8LHEX
/// ```
///
/// A challenge without realm or nonce cannot be answered (RFC 2617 §3.2.1), credentials
/// without username, realm, nonce and response cannot be checked (§3.2.2).
fn check_auth_headers(m: &Message<'_>, l: &mut Lint<'_>) {
    const RFC: &str = "RFC 4976 §7";
    for x in m.headers.iter() {
        let challenge = x.name.eq_ignore_ascii_case("WWW-Authenticate");
        let (digest, required): (bool, &[&str]) = if challenge {
            (true, &["realm", "nonce"])
        } else if x.name.eq_ignore_ascii_case("Authorization") {
            (true, &["username", "realm", "nonce", "response"])
        } else if x.name.eq_ignore_ascii_case("Authentication-Info") {
            (false, &[])
        } else {
            continue;
        };
        let v = x.value;
        let (params, params_at) = if digest {
            let Some(rest) = v.strip_prefix("Digest ") else {
                let scheme_len = v.find(' ').unwrap_or(v.len());
                l.err(
                    "msrp.auth.scheme",
                    format!(
                        "{} must start with `Digest ` (the only scheme MSRP relays use), found `{}`",
                        x.name,
                        crate::proto::sip::uri::clip(&v[..scheme_len])
                    ),
                    x.value_offset,
                    scheme_len,
                    RFC,
                );
                continue;
            };
            (rest, x.value_offset + 7)
        } else {
            (v, x.value_offset)
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut bad = false;
        for item in crate::proto::scan::split_outside_quotes(params.as_bytes(), b',') {
            let start = item.as_ptr() as usize - params.as_ptr() as usize;
            let raw = &params[start..start + item.len()];
            let item = raw.trim_start_matches(' ');
            let at = params_at + start + (raw.len() - item.len());
            let Some((name, value)) = item.split_once('=') else {
                l.err(
                    "msrp.auth.param",
                    format!(
                        "expected `name=value` in {}, found `{}`",
                        x.name,
                        crate::proto::sip::uri::clip(item)
                    ),
                    at,
                    item.len(),
                    RFC,
                );
                bad = true;
                break;
            };
            let name_ok = !name.is_empty() && name.bytes().all(crate::proto::scan::is_token);
            let lower = name.to_ascii_lowercase();
            // realm, nonce, opaque, username and cnonce values are quoted-strings, and so is
            // qop-options in a challenge (message-qop elsewhere is a token).
            let needs_quotes = matches!(
                lower.as_str(),
                "realm" | "nonce" | "opaque" | "username" | "cnonce"
            ) || (challenge && lower == "qop");
            let quoted = is_quoted_string(value);
            let value_ok = match lower.as_str() {
                _ if needs_quotes => quoted,
                "stale" => {
                    value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
                }
                "nc" => value.len() == 8 && value.bytes().all(|b| b.is_ascii_hexdigit()),
                _ => quoted || is_token_str(value),
            };
            if !name_ok || !value_ok {
                let clipped = crate::proto::sip::uri::clip(value);
                let why = if !name_ok {
                    "the parameter name is not a token".to_string()
                } else if value.starts_with("\\\"") {
                    format!(
                        "`{name}` starts with an escaped quote `\\\"`: write the value as a quoted string, `{name}=\"...\"`"
                    )
                } else if needs_quotes {
                    format!("`{name}` must be a quoted string, found `{clipped}`")
                } else {
                    format!("`{clipped}` is not a valid value for `{name}`")
                };
                l.err(
                    "msrp.auth.param",
                    format!("{} parameter {why}", x.name),
                    at,
                    item.len(),
                    RFC,
                );
                bad = true;
                break;
            }
            seen.push(name);
        }
        if bad {
            continue;
        }
        let missing: Vec<&str> = required
            .iter()
            .filter(|r| !seen.iter().any(|s| s.eq_ignore_ascii_case(r)))
            .copied()
            .collect();
        if !missing.is_empty() {
            l.err(
                "msrp.auth.missing-param",
                format!("{} lacks {} (RFC 2617 §3.2)", x.name, missing.join(", ")),
                x.value_offset,
                x.value.len(),
                RFC,
            );
        }
    }
}

fn is_token_str(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(crate::proto::scan::is_token)
}
