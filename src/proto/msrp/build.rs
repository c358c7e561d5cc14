//! Writing MSRP requests and responses (RFC 4975 §7.1, §7.2).
//!
//! Senders stream file bodies of any size, so the head, the body and the end-line can be written
//! separately; the transaction id is chosen so that the body cannot end the message early
//! (§7.1), from an id generator the caller seeds, so tests and `--seed` runs are repeatable.

use memchr::memmem;

use super::headers::{ByteRange, ReportValue, StatusHeader};
use super::message::{END_DASHES, Flag, MAX_TID_LEN, Message, Method, RFC_REQUEST, is_ident};
use super::uri::MsrpUri;
use crate::proto::ParseError;

const RFC_RESPONSE: &str = "RFC 4975 §7.2";

/// A transaction id or Message-ID held inline (at most 32 bytes, `ident` characters).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ident {
    buf: [u8; MAX_TID_LEN],
    len: usize,
}

impl Ident {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // The generator only writes ASCII alphanumerics.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Debug for Ident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ident({:?})", self.as_str())
    }
}

impl std::fmt::Display for Ident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Random-looking ids from a seed (splitmix64): §7.1 asks for at least 64 bits of randomness
/// per transaction id; each id here carries 16 base-62 characters (about 95 bits) drawn from
/// the stream. Seed it from the OS for real sessions and from a constant in tests.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    state: u64,
}

impl IdGenerator {
    /// A generator whose ids are a pure function of `seed`.
    pub fn new(seed: u64) -> IdGenerator {
        IdGenerator { state: seed }
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A new 16-character alphanumeric id.
    pub fn next_id(&mut self) -> Ident {
        const ALPHABET: &[u8; 62] =
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut buf = [0u8; MAX_TID_LEN];
        for half in buf[..16].chunks_mut(8) {
            let mut r = self.next_u64();
            for b in half {
                *b = ALPHABET[(r % 62) as usize];
                r /= 62;
            }
        }
        Ident { buf, len: 16 }
    }

    /// A transaction id such that `"-------" tid` does not occur in `body` (RFC 4975 §7.1: if
    /// it does, the sender MUST choose another).
    pub fn tid_for_body(&mut self, body: &[u8]) -> Ident {
        loop {
            let id = self.next_id();
            if !body_contains_end_line(body, id.as_str()) {
                return id;
            }
        }
    }
}

/// Whether `"-------" tid` occurs in `body`: such a body could end the message early.
pub fn body_contains_end_line(body: &[u8], tid: &str) -> bool {
    let mut needle = [0u8; 7 + MAX_TID_LEN];
    let t = &tid.as_bytes()[..tid.len().min(MAX_TID_LEN)];
    needle[..7].copy_from_slice(END_DASHES);
    needle[7..7 + t.len()].copy_from_slice(t);
    memmem::find(body, &needle[..7 + t.len()]).is_some()
}

/// The headers of a request, in the order RFC 4975 §7.1 writes them: To-Path, From-Path,
/// then the method-specific ones, extension headers, and Content-Type last.
#[derive(Debug, Clone, Default)]
pub struct RequestHeaders<'r> {
    /// To-Path, leftmost first (at least one URI).
    pub to_path: &'r [MsrpUri<'r>],
    /// From-Path, leftmost first (at least one URI).
    pub from_path: &'r [MsrpUri<'r>],
    /// Message-ID (required for SEND and REPORT).
    pub message_id: Option<&'r str>,
    /// Byte-Range.
    pub byte_range: Option<ByteRange>,
    /// Success-Report (SEND only).
    pub success_report: Option<ReportValue>,
    /// Failure-Report (SEND only).
    pub failure_report: Option<ReportValue>,
    /// Status (REPORT).
    pub status: Option<StatusHeader<'r>>,
    /// Other headers as `(name, value)`, e.g. Authorization or Expires for AUTH; MIME headers
    /// (Content-ID, Content-Disposition...) go here too and are written before Content-Type.
    pub extra: &'r [(&'r str, &'r str)],
    /// Content-Type, written last; required when there is a body.
    pub content_type: Option<&'r str>,
}

fn build_error(code: &'static str, msg: String, rfc: &'static str) -> ParseError {
    ParseError::new(code, msg, 0, 0, rfc)
}

fn check_text(what: &str, s: &str) -> Result<(), ParseError> {
    if s.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(build_error(
            "msrp.build.invalid",
            format!("{what} must not contain CR or LF"),
            "RFC 4975 §9",
        ));
    }
    Ok(())
}

fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn write_path(out: &mut Vec<u8>, name: &str, path: &[MsrpUri<'_>]) -> Result<(), ParseError> {
    if path.is_empty() {
        return Err(build_error(
            "msrp.build.invalid",
            format!("{name} needs at least one uri"),
            RFC_REQUEST,
        ));
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b":");
    for u in path {
        check_text(name, u.raw)?;
        out.push(b' ');
        out.extend_from_slice(u.raw.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

fn check_tid(tid: &str) -> Result<(), ParseError> {
    if is_ident(tid.as_bytes()) {
        Ok(())
    } else {
        Err(build_error(
            "msrp.build.invalid",
            format!("transaction id {tid:?} is not an ident of 4 to 32 characters"),
            "RFC 4975 §9",
        ))
    }
}

/// Write the start line and headers of a request. With `has_body`, also the blank line that
/// starts the body: the caller then writes (or streams) the body and finishes with
/// [`write_body_end`]. Without, the caller finishes with [`write_end_line`].
pub fn write_request_head(
    out: &mut Vec<u8>,
    tid: &str,
    method: Method<'_>,
    h: &RequestHeaders<'_>,
    has_body: bool,
) -> Result<(), ParseError> {
    check_tid(tid)?;
    let m = method.as_str();
    if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(build_error(
            "msrp.build.invalid",
            format!("method {m:?} is not 1*UPALPHA"),
            "RFC 4975 §9",
        ));
    }
    if has_body && h.content_type.is_none() {
        return Err(build_error(
            "msrp.build.invalid",
            "a request with a body must contain a Content-Type".into(),
            RFC_REQUEST,
        ));
    }
    if !has_body && h.content_type.is_some() {
        return Err(build_error(
            "msrp.build.invalid",
            "a request without a body must not contain a Content-Type".into(),
            RFC_REQUEST,
        ));
    }
    out.extend_from_slice(b"MSRP ");
    out.extend_from_slice(tid.as_bytes());
    out.push(b' ');
    out.extend_from_slice(m.as_bytes());
    out.extend_from_slice(b"\r\n");
    write_path(out, "To-Path", h.to_path)?;
    write_path(out, "From-Path", h.from_path)?;
    if let Some(id) = h.message_id {
        check_text("Message-ID", id)?;
        write_header(out, "Message-ID", id);
    }
    if let Some(br) = h.byte_range {
        write_header(out, "Byte-Range", &br.to_string());
    }
    if let Some(v) = h.success_report {
        write_header(out, "Success-Report", v.as_str());
    }
    if let Some(v) = h.failure_report {
        write_header(out, "Failure-Report", v.as_str());
    }
    if let Some(s) = h.status {
        let mut v = format!("{:03} {:03}", s.namespace, s.code);
        if let Some(c) = s.comment {
            check_text("Status comment", c)?;
            v.push(' ');
            v.push_str(c);
        }
        write_header(out, "Status", &v);
    }
    for (n, v) in h.extra {
        check_text("header name", n)?;
        check_text(n, v)?;
        write_header(out, n, v);
    }
    if let Some(ct) = h.content_type {
        check_text("Content-Type", ct)?;
        write_header(out, "Content-Type", ct);
    }
    if has_body {
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

/// Write `"-------" tid flag CRLF`: the end-line of a bodiless message (it follows the last
/// header directly, §7.1).
pub fn write_end_line(out: &mut Vec<u8>, tid: &str, flag: Flag) {
    out.extend_from_slice(END_DASHES);
    out.extend_from_slice(tid.as_bytes());
    out.push(flag.as_byte());
    out.extend_from_slice(b"\r\n");
}

/// Write the CRLF that ends a body and then the end-line (§7.1: "the end-line MUST be preceded
/// by a CRLF that is not part of the body").
pub fn write_body_end(out: &mut Vec<u8>, tid: &str, flag: Flag) {
    out.extend_from_slice(b"\r\n");
    write_end_line(out, tid, flag);
}

/// Write a whole request. Fails if the body contains `"-------" tid` (choose the tid with
/// [`IdGenerator::tid_for_body`]) or the headers break §7.1.
pub fn write_request(
    out: &mut Vec<u8>,
    tid: &str,
    method: Method<'_>,
    h: &RequestHeaders<'_>,
    body: Option<&[u8]>,
    flag: Flag,
) -> Result<(), ParseError> {
    if let Some(b) = body {
        if body_contains_end_line(b, tid) {
            return Err(build_error(
                "msrp.build.tid-in-body",
                format!(
                    "the body contains the end-line \"-------{tid}\"; choose another transaction id"
                ),
                RFC_REQUEST,
            ));
        }
    }
    let mark = out.len();
    let r = write_request_head(out, tid, method, h, body.is_some());
    if r.is_err() {
        out.truncate(mark);
        return r;
    }
    match body {
        Some(b) => {
            out.extend_from_slice(b);
            write_body_end(out, tid, flag);
        }
        None => write_end_line(out, tid, flag),
    }
    Ok(())
}

/// Write the response to `request` (§7.2): same transaction id; To-Path is the first URI of the
/// request's From-Path for SEND and the whole From-Path for other methods; `from` is our own
/// URI; `extra` headers (e.g. Use-Path, Expires for AUTH) follow; the flag is always `$`.
pub fn write_response(
    out: &mut Vec<u8>,
    request: &Message<'_>,
    code: u16,
    comment: Option<&str>,
    from: &[MsrpUri<'_>],
    extra: &[(&str, &str)],
) -> Result<(), ParseError> {
    let Some(method) = request.method() else {
        return Err(build_error(
            "msrp.build.invalid",
            "cannot respond to a response".into(),
            RFC_RESPONSE,
        ));
    };
    if !(100..=999).contains(&code) {
        return Err(build_error(
            "msrp.build.invalid",
            format!("status code {code} is not 3 digits"),
            "RFC 4975 §9",
        ));
    }
    let req_from = request.headers.from_path()?;
    let to: &[MsrpUri<'_>] = if method == Method::Send {
        &req_from[..1.min(req_from.len())]
    } else {
        &req_from
    };
    let mark = out.len();
    let r = (|| {
        check_tid(request.tid)?;
        out.extend_from_slice(b"MSRP ");
        out.extend_from_slice(request.tid.as_bytes());
        out.extend_from_slice(format!(" {code:03}").as_bytes());
        if let Some(c) = comment {
            check_text("comment", c)?;
            out.push(b' ');
            out.extend_from_slice(c.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        write_path(out, "To-Path", to)?;
        write_path(out, "From-Path", from)?;
        for (n, v) in extra {
            check_text("header name", n)?;
            check_text(n, v)?;
            write_header(out, n, v);
        }
        write_end_line(out, request.tid, Flag::End);
        Ok(())
    })();
    if r.is_err() {
        out.truncate(mark);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::msrp::{StartLine, parse};

    fn uri(s: &str) -> MsrpUri<'_> {
        MsrpUri::parse(s).expect("uri")
    }

    #[test]
    fn builds_rfc_figure_2_send_and_response() {
        let to = [uri("msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp")];
        let from = [uri("msrp://atlanta.example.com:7654/jshA7weztas;tcp")];
        let h = RequestHeaders {
            to_path: &to,
            from_path: &from,
            message_id: Some("87652491"),
            byte_range: Some(ByteRange {
                start: 1,
                end: Some(25),
                total: Some(25),
            }),
            content_type: Some("text/plain"),
            ..Default::default()
        };
        let mut out = Vec::new();
        write_request(
            &mut out,
            "a786hjs2",
            Method::Send,
            &h,
            Some(b"Hey Bob, are you there?"),
            Flag::End,
        )
        .expect("builds");
        let want: &[u8] = b"MSRP a786hjs2 SEND\r\n\
To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n\
From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n\
Message-ID: 87652491\r\n\
Byte-Range: 1-25/25\r\n\
Content-Type: text/plain\r\n\
\r\n\
Hey Bob, are you there?\r\n\
-------a786hjs2$\r\n";
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(want));
        let (req, n) = parse(&out).expect("ok").complete().expect("complete");
        assert_eq!(n, out.len());
        assert_eq!(req.to_vec(), out);

        let mut resp = Vec::new();
        write_response(&mut resp, &req, 200, Some("OK"), &to, &[]).expect("response");
        let want: &[u8] = b"MSRP a786hjs2 200 OK\r\n\
To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n\
From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n\
-------a786hjs2$\r\n";
        assert_eq!(
            String::from_utf8_lossy(&resp),
            String::from_utf8_lossy(want)
        );
    }

    #[test]
    fn response_to_send_uses_first_from_uri_other_methods_whole_path() {
        let req = b"MSRP abcd SEND\r\nTo-Path: msrp://b:2/y;tcp\r\nFrom-Path: msrp://r:1/x;tcp msrp://a:1/z;tcp\r\n-------abcd$\r\n";
        let (m, _) = parse(req).expect("ok").complete().expect("complete");
        let me = [uri("msrp://b:2/y;tcp")];
        let mut out = Vec::new();
        write_response(&mut out, &m, 481, None, &me, &[]).expect("ok");
        assert_eq!(
            out,
            b"MSRP abcd 481\r\nTo-Path: msrp://r:1/x;tcp\r\nFrom-Path: msrp://b:2/y;tcp\r\n-------abcd$\r\n"
        );
        let req = b"MSRP abcd AUTH\r\nTo-Path: msrp://b:2/y;tcp\r\nFrom-Path: msrp://r:1/x;tcp msrp://a:1/z;tcp\r\n-------abcd$\r\n";
        let (m, _) = parse(req).expect("ok").complete().expect("complete");
        let mut out = Vec::new();
        write_response(&mut out, &m, 200, Some("OK"), &me, &[("Expires", "900")]).expect("ok");
        assert_eq!(
            out,
            b"MSRP abcd 200 OK\r\nTo-Path: msrp://r:1/x;tcp msrp://a:1/z;tcp\r\nFrom-Path: msrp://b:2/y;tcp\r\nExpires: 900\r\n-------abcd$\r\n"
        );
        let (r, _) = parse(&out).expect("ok").complete().expect("complete");
        assert_eq!(
            r.start,
            StartLine::Response {
                code: 200,
                comment: Some("OK")
            }
        );
    }

    #[test]
    fn tid_avoids_body_and_is_deterministic() {
        let mut g = IdGenerator::new(7);
        let first = g.next_id();
        assert_eq!(first.as_str().len(), 16);
        assert!(is_ident(first.as_str().as_bytes()));
        assert_ne!(first, g.next_id());
        // A body that contains the first id's end-line forces a different choice.
        let body = format!("data -------{first}$ more");
        let mut g = IdGenerator::new(7);
        let chosen = g.tid_for_body(body.as_bytes());
        assert_ne!(chosen, first);
        assert!(!body_contains_end_line(body.as_bytes(), chosen.as_str()));
        // write_request refuses a body carrying its own end-line.
        let to = [uri("msrp://a:1/s;tcp")];
        let h = RequestHeaders {
            to_path: &to,
            from_path: &to,
            content_type: Some("text/plain"),
            ..Default::default()
        };
        let mut out = b"keep".to_vec();
        let e = write_request(
            &mut out,
            first.as_str(),
            Method::Send,
            &h,
            Some(body.as_bytes()),
            Flag::End,
        )
        .expect_err("collides");
        assert_eq!(e.code, "msrp.build.tid-in-body");
        assert_eq!(out, b"keep");
    }

    #[test]
    fn streaming_head_body_end_equals_whole() {
        let to = [uri("msrp://a:1/s;tcp")];
        let from = [uri("msrp://b:1/t;tcp")];
        let h = RequestHeaders {
            to_path: &to,
            from_path: &from,
            message_id: Some("m123"),
            byte_range: Some(ByteRange {
                start: 1,
                end: None,
                total: Some(6),
            }),
            content_type: Some("application/octet-stream"),
            ..Default::default()
        };
        let mut whole = Vec::new();
        write_request(
            &mut whole,
            "t1234",
            Method::Send,
            &h,
            Some(b"abcdef"),
            Flag::Continue,
        )
        .expect("ok");
        let mut streamed = Vec::new();
        write_request_head(&mut streamed, "t1234", Method::Send, &h, true).expect("ok");
        streamed.extend_from_slice(b"abc");
        streamed.extend_from_slice(b"def");
        write_body_end(&mut streamed, "t1234", Flag::Continue);
        assert_eq!(whole, streamed);
        let (m, _) = parse(&whole).expect("ok").complete().expect("complete");
        assert_eq!(m.body, Some(&b"abcdef"[..]));
        assert_eq!(m.flag, Flag::Continue);
        // Body without Content-Type and bad tids are refused.
        let h2 = RequestHeaders {
            content_type: None,
            ..h.clone()
        };
        assert!(
            write_request(
                &mut Vec::new(),
                "t1234",
                Method::Send,
                &h2,
                Some(b"x"),
                Flag::End
            )
            .is_err()
        );
        assert!(
            write_request(
                &mut Vec::new(),
                "t12",
                Method::Send,
                &h,
                Some(b"x"),
                Flag::End
            )
            .is_err()
        );
        assert!(
            write_request(&mut Vec::new(), "t1234", Method::Send, &h, None, Flag::End).is_err()
        );
    }
}
