//! Property tests for the SIP codec, the `cargo test` sibling of the fuzz targets in `fuzz/`:
//! generated messages (any method token, URIs, compact header names, folded values, quoted
//! strings, bodies framed by Content-Length) must survive parse → serialize → parse unchanged,
//! every prefix of a stream message must read as `Partial`, and no input may make `parse` or
//! `lint` panic or point outside the buffer.

use proptest::collection::vec;
use proptest::prelude::*;

use super::build::serialize;
use super::{Framing, HeaderName, Message, ParseOptions, lint, parse};
use crate::proto::{ParseError, Status};

/// Header names the codec knows, long and compact, in odd cases; Content-Length is left out
/// because the generator frames the body itself.
const NAMES: &[&str] = &[
    "Via",
    "v",
    "VIA",
    "From",
    "f",
    "To",
    "t",
    "Call-ID",
    "i",
    "call-id",
    "CSeq",
    "Contact",
    "m",
    "Max-Forwards",
    "Content-Type",
    "c",
    "Subject",
    "s",
    "Supported",
    "k",
    "Route",
    "Record-Route",
    "Authorization",
    "WWW-Authenticate",
    "Event",
    "o",
    "Allow-Events",
    "u",
    "Refer-To",
    "r",
    "Session-Expires",
    "x",
    "Accept",
    "Date",
    "Expires",
    "User-Agent",
];

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(NAMES).prop_map(str::to_string),
        1 => "[A-Za-z][A-Za-z0-9.!%*_+`'~-]{0,12}"
            .prop_filter("Content-Length is framed by the generator", |n| {
                HeaderName::from_bytes(n.as_bytes()) != HeaderName::ContentLength
            }),
    ]
}

/// `quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE` (RFC 3261 §25.1).
fn quoted_string() -> impl Strategy<Value = String> {
    vec(
        prop_oneof![
            4 => "[ !#-\\[\\]-~]{1,6}",
            1 => Just("\\\"".to_string()),
            1 => Just("\\\\".to_string()),
            1 => Just("é ü".to_string()),
        ],
        0..4,
    )
    .prop_map(|parts| format!("\"{}\"", parts.concat()))
}

/// A header value: tokens, separators, quoted strings, URIs in angle brackets, UTF-8 text and
/// line folding (`CRLF 1*WSP`, RFC 3261 §7.3.1), in any order.
fn header_value() -> impl Strategy<Value = String> {
    vec(
        prop_oneof![
            6 => "[A-Za-z0-9.!%*_+`'~-]{1,10}",
            3 => proptest::sample::select(&[" ", ";", "=", ",", ":", "/", "@", "<", ">", "?", "\t"][..])
                .prop_map(str::to_string),
            2 => quoted_string(),
            2 => uri().prop_map(|u| format!("<{u}>")),
            1 => Just("Ünïcode".to_string()),
            1 => proptest::sample::select(&["\r\n ", "\r\n\t", "\r\n  \t"][..]).prop_map(str::to_string),
        ],
        0..10,
    )
    .prop_map(|parts| parts.concat())
}

fn uri() -> impl Strategy<Value = String> {
    prop_oneof![
        "sips?:([a-z0-9_.!~*'()%-]{1,8}@)?[a-z0-9-]{1,10}(\\.[a-z]{2,5}){0,2}(:[0-9]{1,5})?(;[a-z]{1,6}(=[a-z0-9]{1,6})?){0,3}",
        "sip:\\[2001:db8::[0-9a-f]{1,4}\\](:[0-9]{1,4})?",
        "tel:\\+[0-9]{3,12}(;phone-context=[a-z.]{1,10})?",
        "[a-z][a-z0-9+.-]{0,6}:[!-~]{1,20}",
    ]
}

/// A request line or a status line.
fn start_line() -> impl Strategy<Value = String> {
    prop_oneof![
        ("[A-Za-z][A-Za-z0-9.!%*_+`'~-]{0,15}", uri())
            .prop_map(|(m, u)| format!("{m} {u} SIP/2.0")),
        (100u16..=699, "[ -~]{0,20}|[a-zA-Z ]{0,5}é[a-z]{0,5}")
            .prop_map(|(c, r)| format!("SIP/2.0 {c} {r}")),
    ]
}

/// A whole message: start line, headers, and Content-Length at a random position (or none,
/// for datagrams), then the body.
#[derive(Debug, Clone)]
struct Generated {
    bytes: Vec<u8>,
    has_length: bool,
}

fn message() -> impl Strategy<Value = Generated> {
    (
        start_line(),
        vec((header_name(), header_value(), " {0,2}"), 0..12),
        vec(any::<u8>(), 0..64),
        any::<prop::sample::Index>(),
        prop_oneof![Just(None), Just(Some("Content-Length")), Just(Some("l"))],
    )
        .prop_map(|(start, headers, body, at, cl)| {
            let mut lines: Vec<String> = headers
                .into_iter()
                .map(|(n, v, ws)| format!("{n}{ws}: {v}"))
                .collect();
            if let Some(name) = cl {
                let i = at.index(lines.len() + 1);
                lines.insert(i, format!("{name}: {}", body.len()));
            }
            let mut bytes = start.into_bytes();
            bytes.extend_from_slice(b"\r\n");
            for l in &lines {
                bytes.extend_from_slice(l.as_bytes());
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(&body);
            Generated {
                bytes,
                has_length: cl.is_some(),
            }
        })
}

fn complete<'a>(buf: &'a [u8], opts: &ParseOptions) -> Result<(Message<'a>, usize), String> {
    match parse(buf, opts) {
        Ok(Status::Complete(m, n)) => Ok((m, n)),
        other => Err(format!(
            "expected a complete message, got {other:?} for\n{}",
            String::from_utf8_lossy(buf)
        )),
    }
}

fn assert_round_trip(buf: &[u8], opts: &ParseOptions) -> Result<(), TestCaseError> {
    // Declared first: `again` borrows it and is compared with `m`.
    let mut out = Vec::new();
    let (m, n) = complete(buf, opts).map_err(TestCaseError::fail)?;
    prop_assert_eq!(n, buf.len());
    serialize(&m, &mut out);
    let (again, n2) = complete(&out, opts).map_err(TestCaseError::fail)?;
    prop_assert_eq!(n2, out.len());
    prop_assert_eq!(&m, &again);
    let mut out2 = Vec::new();
    serialize(&again, &mut out2);
    prop_assert_eq!(&out, &out2);
    Ok(())
}

fn in_bounds(e: &ParseError, len: usize) -> bool {
    e.offset <= len && e.offset.saturating_add(e.len) <= len
}

fn all_options() -> impl Iterator<Item = ParseOptions> {
    (0u8..16).map(|bits| ParseOptions {
        framing: if bits & 1 == 0 {
            Framing::Datagram
        } else {
            Framing::Stream
        },
        skip_leading_crlf: bits & 2 != 0,
        allow_bare_lf: bits & 4 != 0,
        allow_missing_reason_space: bits & 8 != 0,
        ..ParseOptions::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_messages_round_trip(g in message()) {
        assert_round_trip(&g.bytes, &ParseOptions::datagram())?;
        if g.has_length {
            assert_round_trip(&g.bytes, &ParseOptions::stream())?;
        }
    }

    #[test]
    fn every_prefix_of_a_stream_message_is_partial(g in message()) {
        prop_assume!(g.has_length);
        let opts = ParseOptions::stream();
        for k in 0..g.bytes.len() {
            let r = parse(&g.bytes[..k], &opts);
            prop_assert!(matches!(r, Ok(Status::Partial)), "prefix of {} bytes: {:?}", k, r);
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(buf in vec(any::<u8>(), 0..400)) {
        for opts in all_options() {
            let mut out = Vec::new();
            match parse(&buf, &opts) {
                Err(e) => prop_assert!(in_bounds(&e, buf.len()), "{:?}", e),
                Ok(Status::Complete(m, n)) => {
                    prop_assert!(n <= buf.len());
                    serialize(&m, &mut out);
                    let (again, _) = complete(&out, &opts).map_err(TestCaseError::fail)?;
                    prop_assert_eq!(&m, &again);
                }
                Ok(Status::Partial) => prop_assert_eq!(opts.framing, Framing::Stream),
            }
        }
    }

    #[test]
    fn parse_and_lint_never_panic_on_damaged_messages(
        g in message(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut buf = g.bytes;
        for (at, b) in edits {
            let i = at.index(buf.len());
            buf[i] = b;
        }
        for opts in all_options() {
            if let Err(e) = parse(&buf, &opts) {
                prop_assert!(in_bounds(&e, buf.len()), "{:?}", e);
            }
        }
        for f in lint(&buf) {
            prop_assert!(in_bounds(&f.error, buf.len()), "{:?}", f);
        }
    }

    #[test]
    fn lint_never_panics_on_arbitrary_bytes(buf in vec(any::<u8>(), 0..400)) {
        for f in lint(&buf) {
            prop_assert!(in_bounds(&f.error, buf.len()), "{:?}", f);
        }
    }
}
