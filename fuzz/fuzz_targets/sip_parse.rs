//! `sip::parse` under every framing and leniency: it must never panic, every error must point
//! inside the buffer, every typed accessor on a parsed message must be safe to call, and a
//! parsed message must survive `serialize` → `parse` unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipkit::proto::sip::build::serialize;
use sipkit::proto::sip::headers::unquote;
use sipkit::proto::sip::uri::Uri;
use sipkit::proto::sip::{Framing, HeaderName, Message, ParseOptions, parse};
use sipkit::proto::{ParseError, Status};

fuzz_target!(|data: &[u8]| {
    for bits in 0u8..16 {
        let opts = ParseOptions {
            framing: if bits & 1 == 0 {
                Framing::Datagram
            } else {
                Framing::Stream
            },
            skip_leading_crlf: bits & 2 != 0,
            allow_bare_lf: bits & 4 != 0,
            allow_missing_reason_space: bits & 8 != 0,
            ..ParseOptions::default()
        };
        check(data, &opts);
    }
});

fn check(data: &[u8], opts: &ParseOptions) {
    // Declared before the message: `Message<'a>` is invariant in `'a` (it holds a SmallVec),
    // so the re-parsed copy must borrow a buffer that lives as long as the original.
    let mut out = Vec::new();
    match parse(data, opts) {
        Err(e) => in_bounds(&e, data.len(), "parse error"),
        Ok(Status::Partial) => {
            assert_eq!(opts.framing, Framing::Stream, "Partial on a datagram");
        }
        Ok(Status::Complete(msg, n)) => {
            assert!(n > 0 && n <= data.len(), "consumed {n} of {}", data.len());
            assert_eq!(msg.buf.len(), n);
            if opts.framing == Framing::Stream {
                assert!(
                    msg.content_length.is_some(),
                    "stream message without Content-Length"
                );
                prefixes_are_partial(&data[..n], opts);
            }
            accessors(&msg);
            round_trip(&msg, &mut out, opts);
        }
    }
}

fn in_bounds(e: &ParseError, len: usize, what: &str) {
    assert!(
        e.offset <= len && e.offset.saturating_add(e.len) <= len,
        "{what} {} at {}+{} outside a buffer of {len} bytes",
        e.code,
        e.offset,
        e.len
    );
}

/// RFC 3261 §18.3 stream framing: a reader must be told "read more", never "bad message",
/// for every truncation of a message it would accept whole.
fn prefixes_are_partial(whole: &[u8], opts: &ParseOptions) {
    let step = (whole.len() / 64).max(1);
    for k in (0..whole.len()).step_by(step) {
        let r = parse(&whole[..k], opts);
        assert!(
            matches!(r, Ok(Status::Partial)),
            "prefix of {k}/{} bytes gave {r:?}",
            whole.len()
        );
    }
}

fn round_trip<'a>(msg: &Message<'a>, out: &'a mut Vec<u8>, opts: &ParseOptions) {
    serialize(msg, out);
    let out: &'a [u8] = out;
    let again = match parse(out, opts) {
        Ok(Status::Complete(m, n)) => {
            assert_eq!(n, out.len(), "re-parse consumed {n} of {}", out.len());
            m
        }
        other => panic!(
            "serialized message does not parse: {other:?}\n{}",
            String::from_utf8_lossy(out)
        ),
    };
    assert_eq!(*msg, again, "round trip changed the message");
    let mut out2 = Vec::new();
    serialize(&again, &mut out2);
    assert_eq!(out, out2, "serialize is not idempotent");
}

/// Call every typed accessor; results are ignored, only panics matter.
fn accessors(m: &Message<'_>) {
    let _ = m.is_request();
    let _ = m.method();
    let _ = m.status();
    let _ = m.reason();
    if let Some(Ok(u)) = m.request_uri() {
        uri(&u);
    }
    if let Ok(v) = m.top_via() {
        let _ = (
            v.has_rfc3261_branch(),
            v.param("branch"),
            v.host.to_string(),
        );
    }
    for v in m.vias().flatten() {
        let _ = v.param("received");
    }
    for a in [m.from_addr(), m.to_addr()].into_iter().flatten() {
        let _ = (a.tag(), a.param("x"), a.display_name_unescaped());
        uri(&a.uri);
    }
    for c in m.contacts().flatten() {
        let _ = (c.expires(), c.q());
        if let sipkit::proto::sip::headers::Contact::Addr(a) = c {
            uri(&a.uri);
        }
    }
    for a in m.routes().chain(m.record_routes()).flatten() {
        uri(&a.uri);
    }
    let _ = m.call_id();
    let _ = m.cseq();
    let _ = m.max_forwards();
    let _ = m.expires();
    if let Some(Ok(ct)) = m.content_type() {
        let _ = ct.is("application", "sdp");
        if ct.ty.eq_ignore_ascii_case("multipart") {
            if let Some(b) = ct.param("boundary") {
                if let Ok(parts) = sipkit::proto::sip::multipart::parse(m.body, b) {
                    for p in parts {
                        let _ = p.content_type();
                    }
                }
            }
        }
    }
    for id in [
        HeaderName::Authorization,
        HeaderName::ProxyAuthorization,
        HeaderName::WwwAuthenticate,
        HeaderName::ProxyAuthenticate,
    ] {
        for a in m.auth(id).flatten() {
            let _ = (a.is_digest(), a.param("nonce"), a.params().count());
        }
    }
    for id in [
        HeaderName::Supported,
        HeaderName::Require,
        HeaderName::Allow,
        HeaderName::Other,
    ] {
        let _ = m.tokens(id).count();
        let _ = m.elements(id).count();
    }
    let _ = m.headers_named("x-fuzz").count();
    for h in &m.headers {
        if let Ok(s) = h.value_str(m) {
            let _ = unquote(s);
        }
    }
}

fn uri(u: &Uri<'_>) {
    let _ = (u.is_sip(), u.transport(), u.param("lr"), u.params().count());
    let _ = sipkit::proto::sip::uri::unescape(u.raw);
}
