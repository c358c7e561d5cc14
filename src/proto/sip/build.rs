//! Writing SIP messages: a serializer for parsed messages (`parse(serialize(m)) == m`) and an
//! owned builder that `send`, `listen` and `invite` use to compose requests and responses.

use std::fmt::Write as _;

use std::net::{IpAddr, SocketAddr};

use super::headers::Via;
use super::message::{Message, StartLine};
use super::name::HeaderName;
use super::uri::Host;
use crate::proto::scan::split_outside_quotes;

/// Write a parsed message back in canonical form: `Name: value` per line, CRLF line ends, the
/// header names as they were written, values (with any folding) and body unchanged.
pub fn serialize(msg: &Message<'_>, out: &mut Vec<u8>) {
    match msg.start {
        StartLine::Request {
            method,
            uri,
            version,
        } => {
            out.extend_from_slice(method.as_bytes());
            out.push(b' ');
            out.extend_from_slice(uri.as_bytes());
            out.push(b' ');
            out.extend_from_slice(version.as_bytes());
        }
        StartLine::Response {
            version,
            code,
            reason,
        } => {
            out.extend_from_slice(version.as_bytes());
            out.extend_from_slice(format!(" {code:03} ").as_bytes());
            out.extend_from_slice(reason);
        }
    }
    out.extend_from_slice(b"\r\n");
    for h in &msg.headers {
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(msg.body);
}

/// An owned message under construction.
///
/// `build()` appends `Content-Length` (always, so the result is valid on streams) unless the
/// caller set one, and a `Content-Type` only if the caller gave a body with a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBuilder {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl MessageBuilder {
    /// A request: `METHOD uri SIP/2.0`.
    pub fn request(method: &str, uri: &str) -> Self {
        MessageBuilder {
            start: format!("{method} {uri} SIP/2.0"),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response: `SIP/2.0 code reason`.
    pub fn response(code: u16, reason: &str) -> Self {
        MessageBuilder {
            start: format!("SIP/2.0 {code:03} {reason}"),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response to `req` carrying the header fields RFC 3261 §8.2.6.2 says to copy: every
    /// Via, From, To (adding `to_tag` when given and absent), Call-ID and CSeq.
    pub fn response_to(req: &Message<'_>, code: u16, reason: &str, to_tag: Option<&str>) -> Self {
        let mut b = MessageBuilder::response(code, reason);
        for h in &req.headers {
            let copy = matches!(
                h.id,
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq
            );
            if copy {
                b = b.header(canonical(h.id, h.name), &String::from_utf8_lossy(h.value));
            } else if h.id == HeaderName::To {
                let mut v = String::from_utf8_lossy(h.value).into_owned();
                if let Some(tag) = to_tag
                    && req.to_addr().map(|a| a.tag().is_none()).unwrap_or(false)
                {
                    let _ = write!(v, ";tag={tag}");
                }
                b = b.header("To", &v);
            }
        }
        b
    }

    /// Append a header field.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Set the body and its Content-Type.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers
            .push(("Content-Type".to_string(), content_type.to_string()));
        self.body = body.into();
        self
    }

    /// The finished message bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(self.start.len() + 64 * self.headers.len() + self.body.len());
        out.extend_from_slice(self.start.as_bytes());
        out.extend_from_slice(b"\r\n");
        let mut has_cl = false;
        for (n, v) in &self.headers {
            has_cl |= HeaderName::from_bytes(n.as_bytes()) == HeaderName::ContentLength;
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if !has_cl {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// A response written straight into its bytes, for a server answering under load: the text
/// `MessageBuilder::response_to(..).header(..).body(..).build()` gives, without an owned
/// string per header field. Copied header values stay the bytes received (the builder would
/// replace bytes that are not UTF-8).
#[derive(Debug)]
pub struct ResponseWriter {
    out: Vec<u8>,
}

impl ResponseWriter {
    /// The status line and the fields RFC 3261 §8.2.6.2 copies from `req`: every Via, From,
    /// To, Call-ID and CSeq, in the request's order, with `;tag=add_to_tag` appended to To
    /// when given (the caller passes it only when the request's To has no tag).
    pub fn new(req: &Message<'_>, code: u16, reason: &str, add_to_tag: Option<&str>) -> Self {
        Self::stamped(req, code, reason, add_to_tag, None)
    }

    /// [`ResponseWriter::new`], with `received` and `rport` written into the top Via value
    /// as `stamp` says (replacing any the request carried there).
    pub fn stamped(
        req: &Message<'_>,
        code: u16,
        reason: &str,
        add_to_tag: Option<&str>,
        stamp: Option<&ViaStamp>,
    ) -> Self {
        let mut stamp = stamp.filter(|s| s.received.is_some() || s.rport.is_some());
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(b"SIP/2.0 ");
        if code < 100 {
            out.push(b'0');
        }
        if code < 10 {
            out.push(b'0');
        }
        push_decimal(&mut out, code.into());
        out.push(b' ');
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        for h in &req.headers {
            let Some(name) = copied_name(h.id) else {
                continue;
            };
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            match stamp {
                Some(st) if h.id == HeaderName::Via => {
                    st.write_top_via(h.value, &mut out);
                    stamp = None;
                }
                _ => out.extend_from_slice(h.value),
            }
            if let (HeaderName::To, Some(tag)) = (h.id, add_to_tag) {
                out.extend_from_slice(b";tag=");
                out.extend_from_slice(tag.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
        ResponseWriter { out }
    }

    /// Append a header field.
    pub fn header(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b": ");
        self.out.extend_from_slice(value);
        self.out.extend_from_slice(b"\r\n");
        self
    }

    /// The finished bytes: Content-Type when there is a typed body, Content-Length always.
    pub fn finish(mut self, body: Option<(&str, &[u8])>) -> Vec<u8> {
        let body = match body {
            Some((content_type, body)) => {
                self.header("Content-Type", content_type.as_bytes());
                body
            }
            None => &[],
        };
        self.out.extend_from_slice(b"Content-Length: ");
        push_decimal(&mut self.out, body.len() as u64);
        self.out.extend_from_slice(b"\r\n\r\n");
        self.out.extend_from_slice(body);
        self.out
    }
}

/// What a server writes into the top Via of its responses: the source address of the request
/// when the sent-by does not name it (RFC 3261 §18.2.1), and the source port when the client
/// asked with `rport` (RFC 3581 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViaStamp {
    /// `received=`
    pub received: Option<IpAddr>,
    /// `rport=`
    pub rport: Option<u16>,
}

impl ViaStamp {
    /// What the top Via `via` of a request that came from `source` needs; `None` when the
    /// response copies it unchanged.
    ///
    /// RFC 3261 §18.2.1: "If the host portion of the "sent-by" parameter contains a domain
    /// name, or if it contains an IP address that differs from the packet source address, the
    /// server MUST add a "received" parameter". RFC 3581 §4: with `rport`, `received` goes in
    /// even when it is the same, and `rport` takes the source port.
    pub fn for_request(via: &Via<'_>, source: SocketAddr) -> Option<ViaStamp> {
        // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
        let ip = source.ip().to_canonical();
        let same_host = match via.host {
            Host::V4(a) => IpAddr::V4(a) == ip,
            Host::V6(a) => IpAddr::V6(a).to_canonical() == ip,
            Host::Name(_) => false,
        };
        let rport = via.rport.map(|_| source.port());
        if same_host && rport.is_none() {
            return None;
        }
        Some(ViaStamp {
            received: Some(ip),
            rport,
        })
    }

    /// `value` (the first Via header field's value) with the stamp in its first via-parm.
    pub fn write_top_via(&self, value: &[u8], out: &mut Vec<u8>) {
        let base = value.as_ptr() as usize;
        let text = std::str::from_utf8(value).ok();
        let located = text.and_then(|t| Via::parse_first(t).ok()).and_then(|via| {
            let p = via.params.as_ptr() as usize;
            let start = p.checked_sub(base)?;
            let end = start + via.params.len();
            (end <= value.len()).then_some((via.params, start, end))
        });
        let Some((params, start, end)) = located else {
            // Not a Via the parser takes (the caller parsed it already): copied unchanged.
            out.extend_from_slice(value);
            return;
        };
        // The sent-by ends at the `;` before the parameters (white space may surround it).
        let sent_by_end = if params.is_empty() {
            start
        } else {
            value
                .get(..start)
                .and_then(|v| v.iter().rposition(|&b| b == b';'))
                .unwrap_or(start)
        };
        out.extend_from_slice(
            value
                .get(..sent_by_end)
                .unwrap_or_default()
                .trim_ascii_end(),
        );
        for p in split_outside_quotes(params.as_bytes(), b';') {
            let p = p.trim_ascii();
            let name = p
                .split(|&b| b == b'=')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            if p.is_empty()
                || name.eq_ignore_ascii_case(b"received")
                || name.eq_ignore_ascii_case(b"rport")
            {
                continue;
            }
            out.push(b';');
            out.extend_from_slice(p);
        }
        if let Some(ip) = self.received {
            // RFC 3261 §25.1: `received = "received" EQUAL (IPv4address / IPv6address)`, an
            // IPv6 address without brackets.
            let _ = write!(Adapter(out), ";received={ip}");
        }
        if let Some(port) = self.rport {
            out.extend_from_slice(b";rport=");
            push_decimal(out, port.into());
        }
        out.extend_from_slice(value.get(end..).unwrap_or_default());
    }
}

/// `secs` seconds after 1970-01-01 00:00:00 UTC as a SIP Date (RFC 3261 §20.17):
///
/// ```text
/// rfc1123-date = wkday "," SP date1 SP time SP "GMT"
/// date1        = 2DIGIT SP month SP 4DIGIT
/// ```
pub fn sip_date(secs: u64) -> String {
    const WKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // The civil date from the day count, in 400-year eras of 146097 days starting on
    // 0000-03-01 (so that the leap day ends a year).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        WKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `fmt::Write` into a byte vector.
struct Adapter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Adapter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Append `n` in decimal: what `write!(out, "{n}")` does, without the formatting machinery
/// (a tenth of the cost, on paths that write every response).
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
}

/// The name a response writes for a header field it copies from the request (RFC 3261
/// §8.2.6.2: Via, From, To, Call-ID, CSeq), or `None` for one it does not copy. These are
/// [`HeaderName::canonical`]'s names, without its search of the table per field.
#[inline]
fn copied_name(id: HeaderName) -> Option<&'static str> {
    match id {
        HeaderName::Via => Some("Via"),
        HeaderName::From => Some("From"),
        HeaderName::To => Some("To"),
        HeaderName::CallId => Some("Call-ID"),
        HeaderName::CSeq => Some("CSeq"),
        _ => None,
    }
}

fn canonical(id: HeaderName, written: &str) -> &str {
    id.canonical().unwrap_or(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Status;
    use crate::proto::sip::{ParseOptions, parse};

    #[test]
    fn push_decimal_writes_what_display_writes() {
        for n in [0, 7, 10, 99, 100, 65535, 1 << 40, u64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    /// [`ResponseWriter::new`] as it was written before the names came from a `match`.
    fn new_field_by_field(
        req: &Message<'_>,
        code: u16,
        reason: &str,
        tag: Option<&str>,
    ) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {code:03} {reason}\r\n").into_bytes();
        for h in &req.headers {
            if !matches!(
                h.id,
                HeaderName::Via
                    | HeaderName::From
                    | HeaderName::To
                    | HeaderName::CallId
                    | HeaderName::CSeq
            ) {
                continue;
            }
            let name = if h.id == HeaderName::To {
                "To"
            } else {
                canonical(h.id, h.name)
            };
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value);
            if let (HeaderName::To, Some(tag)) = (h.id, tag) {
                out.extend_from_slice(b";tag=");
                out.extend_from_slice(tag.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// A request head whose copied fields are written in every form (canonical, compact, other
    /// case, other spacing, folded), among fields not copied.
    fn request_head() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let line = prop_oneof![
            Just("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1"),
            Just("v: SIP/2.0/UDP h;branch=z9hG4bK2"),
            Just("VIA: SIP/2.0/UDP h;branch=z9hG4bK3"),
            Just("From: sipp <sip:sipp@127.0.0.1:5061>;tag=1"),
            Just("From:<sip:a@b>;tag=2"),
            Just("f:  <sip:a@b>;tag=3 "),
            Just("To: service <sip:service@127.0.0.1:5060>"),
            Just("To: <sip:b@c>;tag=x"),
            Just("t: <sip:b@c>"),
            Just("TO : <sip:b@c>"),
            Just("To: <sip:b@c>\r\n ;p=1"),
            Just("Call-ID: 1-2@127.0.0.1"),
            Just("i: c1"),
            Just("call-id: c2"),
            Just("CSeq: 1 INVITE"),
            Just("CSeq:\t2 INVITE"),
            Just("Subject: x"),
            Just("Max-Forwards: 70"),
            Just("Record-Route: <sip:p;lr>"),
        ];
        proptest::collection::vec(line, 0..10).prop_map(|lines| {
            let mut s = String::from("INVITE sip:b@c SIP/2.0\r\n");
            for l in lines {
                s.push_str(l);
                s.push_str("\r\n");
            }
            s.push_str("\r\n");
            s
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn the_copied_fields_are_the_ones_written_with_canonical_names(
            head in request_head(),
            tag in proptest::option::of("[a-z0-9]{1,8}"),
        ) {
            let Ok(Status::Complete(m, _)) = parse(head.as_bytes(), &ParseOptions::datagram())
            else {
                return Err(proptest::test_runner::TestCaseError::reject("not a message"));
            };
            let written = ResponseWriter::new(&m, 200, "OK", tag.as_deref()).out;
            let reference = new_field_by_field(&m, 200, "OK", tag.as_deref());
            proptest::prop_assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&reference)
            );
        }
    }

    #[test]
    fn a_sipp_head_is_copied_with_our_tag() {
        let req = b"INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=1SIPpTag001\r\n\
To: service <sip:service@127.0.0.1:5060>\r\n\
Call-ID: 1-1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: sip:sipp@127.0.0.1:5061\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\
\r\n";
        let (m, _) = parse(req, &ParseOptions::datagram())
            .expect("ok")
            .complete()
            .expect("complete");
        let w = ResponseWriter::new(&m, 180, "Ringing", Some("t1"));
        assert_eq!(
            String::from_utf8_lossy(&w.out),
            "SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=1SIPpTag001\r\n\
To: service <sip:service@127.0.0.1:5060>;tag=t1\r\n\
Call-ID: 1-1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n"
        );
    }

    #[test]
    fn copied_names_are_the_canonical_names() {
        for id in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
        ] {
            assert_eq!(copied_name(id), id.canonical());
        }
        assert_eq!(copied_name(HeaderName::Contact), None);
    }

    #[test]
    fn response_writer_writes_what_the_builder_builds() {
        let req = b"INVITE sip:bob@example.com SIP/2.0\r\n\
v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK0\r\n\
Max-Forwards: 70\r\n\
f: \"A\" <sip:alice@example.com>;tag=a1\r\n\
t: <sip:bob@example.com>\r\n\
i: c1@192.0.2.1\r\n\
CSeq: 1 INVITE\r\n\
Subject: not copied\r\n\
Content-Length: 0\r\n\
\r\n";
        let (m, _) = parse(req, &ParseOptions::datagram())
            .expect("ok")
            .complete()
            .expect("complete");
        for (tag, body) in [
            (None, None),
            (Some("t9"), Some(("application/sdp", &b"v=0\r\n"[..]))),
        ] {
            let built = {
                let mut b = MessageBuilder::response_to(&m, 200, "OK", tag).header("Server", "x");
                if let Some((ct, body)) = body {
                    b = b.body(ct, body);
                }
                b.build()
            };
            let mut w = ResponseWriter::new(&m, 200, "OK", tag);
            w.header("Server", b"x");
            let written = w.finish(body);
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&built)
            );
        }
    }

    #[test]
    fn builder_output_parses_on_a_stream() {
        let bytes = MessageBuilder::request("MESSAGE", "sip:bob@example.com")
            .header("Via", "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1;rport")
            .header("Max-Forwards", "70")
            .header("From", "<sip:alice@example.com>;tag=a1")
            .header("To", "<sip:bob@example.com>")
            .header("Call-ID", "c1@192.0.2.1")
            .header("CSeq", "1 MESSAGE")
            .body("text/plain", "hello")
            .build();
        let (m, n) = parse(&bytes, &ParseOptions::stream())
            .expect("ok")
            .complete()
            .expect("c");
        assert_eq!(n, bytes.len());
        assert_eq!(m.body, b"hello");
        assert_eq!(m.content_type().expect("ct").expect("ok").subtype, "plain");
        let r = MessageBuilder::response_to(&m, 200, "OK", Some("b2")).build();
        let (resp, _) = parse(&r, &ParseOptions::stream())
            .expect("ok")
            .complete()
            .expect("c");
        assert_eq!(resp.to_addr().expect("to").tag(), Some("b2"));
        assert_eq!(resp.cseq().expect("cseq").method, "MESSAGE");
        assert_eq!(resp.top_via().expect("via").branch, Some("z9hG4bK1"));
    }

    #[test]
    fn serialize_round_trip() {
        let mut out = Vec::new();
        let raw = b"SIP/2.0 180 Ringing\r\nv : SIP/2.0/UDP h;branch=z9hG4bKx\r\nSubject: a\r\n b\r\nl:0\r\n\r\n";
        let (m, _) = parse(raw, &ParseOptions::default())
            .expect("ok")
            .complete()
            .expect("c");
        serialize(&m, &mut out);
        assert_eq!(out, b"SIP/2.0 180 Ringing\r\nv: SIP/2.0/UDP h;branch=z9hG4bKx\r\nSubject: a\r\n b\r\nl: 0\r\n\r\n");
        let (m2, _) = parse(&out, &ParseOptions::default())
            .expect("ok")
            .complete()
            .expect("c");
        assert_eq!(m, m2);
    }

    /// The first Via line of the response written for `via_lines` (the request's Via header
    /// lines) received from `source`.
    fn stamped_via(via_lines: &str, source: &str) -> (Option<ViaStamp>, String) {
        let raw = format!(
            "OPTIONS sip:b@example.com SIP/2.0\r\nFrom: <sip:a@example.com>;tag=1\r\n{via_lines}\
             To: <sip:b@example.com>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        let (m, _) = parse(raw.as_bytes(), &ParseOptions::datagram())
            .expect("ok")
            .complete()
            .expect("c");
        let source: SocketAddr = source.parse().expect("addr");
        let stamp = ViaStamp::for_request(&m.top_via().expect("via"), source);
        let out = ResponseWriter::stamped(&m, 200, "OK", None, stamp.as_ref()).finish(None);
        let text = String::from_utf8(out).expect("utf-8");
        let first = text
            .split("\r\n")
            .find(|l| l.starts_with("Via: "))
            .expect("a Via")
            .to_owned();
        (stamp, first)
    }

    #[test]
    fn issue_15_received_only_when_the_sent_by_is_not_the_source() {
        // Same address, no rport: copied as it was.
        let (stamp, via) = stamped_via(
            "Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1\r\n",
            "192.0.2.1:5070",
        );
        assert_eq!(stamp, None);
        assert_eq!(via, "Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1");
        // Another address (a NAT), or a name: received.
        let (_, via) = stamped_via(
            "Via: SIP/2.0/UDP 10.0.0.7:5070;branch=z9hG4bK1\r\n",
            "192.0.2.1:40000",
        );
        assert_eq!(
            via,
            "Via: SIP/2.0/UDP 10.0.0.7:5070;branch=z9hG4bK1;received=192.0.2.1"
        );
        let (_, via) = stamped_via(
            "Via: SIP/2.0/TCP pc33.example.com;branch=z9hG4bK1\r\n",
            "192.0.2.1:40000",
        );
        assert_eq!(
            via,
            "Via: SIP/2.0/TCP pc33.example.com;branch=z9hG4bK1;received=192.0.2.1"
        );
        // An IPv4 peer seen on a dual-stack socket is the same address.
        let (stamp, _) = stamped_via(
            "Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1\r\n",
            "[::ffff:192.0.2.1]:5070",
        );
        assert_eq!(stamp, None);
        let (_, via) = stamped_via(
            "Via: SIP/2.0/UDP [2001:db8::1];branch=z9hG4bK1\r\n",
            "[2001:db8::2]:5060",
        );
        assert_eq!(
            via,
            "Via: SIP/2.0/UDP [2001:db8::1];branch=z9hG4bK1;received=2001:db8::2"
        );
    }

    #[test]
    fn issue_15_rport_is_filled_and_received_added_even_when_the_same() {
        // RFC 3581 §4's example, and only the top via-parm changes.
        let (_, via) = stamped_via(
            "Via: SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff, SIP/2.0/UDP 10.9.9.9;branch=z9hG4bK2\r\n\
             Via: SIP/2.0/UDP 10.8.8.8;rport;branch=z9hG4bK3\r\n",
            "192.0.2.1:9988",
        );
        assert_eq!(
            via,
            "Via: SIP/2.0/UDP 10.1.1.1:4540;branch=z9hG4bKkjshdyff;received=192.0.2.1;rport=9988, \
             SIP/2.0/UDP 10.9.9.9;branch=z9hG4bK2"
        );
        let (_, via) = stamped_via(
            "Via: SIP/2.0/UDP 192.0.2.1:9988;branch=z9hG4bK1;rport\r\n",
            "192.0.2.1:9988",
        );
        assert_eq!(
            via,
            "Via: SIP/2.0/UDP 192.0.2.1:9988;branch=z9hG4bK1;received=192.0.2.1;rport=9988"
        );
        // A received (or rport) the client wrote itself is replaced, not repeated; spaces
        // around `;` and quoted values with `;` survive.
        let (_, via) = stamped_via(
            "Via: SIP/2.0/UDP 10.1.1.1 ; received=10.1.1.1 ; x=\"a;b\" ;rport=1;branch=z9hG4bK1\r\n",
            "192.0.2.1:2000",
        );
        assert_eq!(
            via,
            "Via: SIP/2.0/UDP 10.1.1.1;x=\"a;b\";branch=z9hG4bK1;received=192.0.2.1;rport=2000"
        );
    }

    #[test]
    fn sip_date_is_rfc1123() {
        assert_eq!(sip_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // RFC 3261 §20.17's example.
        assert_eq!(sip_date(1_289_690_940), "Sat, 13 Nov 2010 23:29:00 GMT");
        assert_eq!(sip_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(sip_date(4_107_542_399), "Sun, 28 Feb 2100 23:59:59 GMT");
        assert_eq!(sip_date(4_133_980_799), "Fri, 31 Dec 2100 23:59:59 GMT");
        for secs in [0, 1_289_690_940, 4_107_542_399, 253_402_300_799] {
            let d = sip_date(secs);
            assert!(crate::proto::sip::headers::check_date(&d, 0).is_ok(), "{d}");
        }
    }
}
