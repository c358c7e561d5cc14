//! Parse throughput of the SIP codec next to two Rust SIP parsers measured in the same run.
//!
//! Each benchmark does the work a proxy does per message: frame it, then read Via, From, To,
//! Call-ID, CSeq and Content-Length as typed values. The typed results are folded into a
//! checksum that goes through `black_box`, so none of the work can be optimised away. Run
//! `bench/parse.sh` for the pinned, tabulated version.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sipkit::proto::Status;
use sipkit::proto::sip::{self, ParseOptions};

const INVITE: &[u8] = include_bytes!("../tests/fixtures/sip/examples/invite.sip");
const OK: &[u8] = include_bytes!("../tests/fixtures/sip/examples/ok.sip");
#[allow(dead_code)] // used by the MSRP block below once it is enabled
const MSRP_SEND: &[u8] = include_bytes!("../tests/fixtures/msrp/send.msrp");

/// sipkit: frame the message, then typed Via (top), From, To, Call-ID, CSeq, Content-Length.
fn sipkit_full(buf: &[u8]) -> usize {
    let opts = ParseOptions::default();
    let Ok(Status::Complete(msg, consumed)) = sip::parse(buf, &opts) else {
        panic!("sipkit rejected the fixture");
    };
    let via = msg.top_via().expect("Via");
    let from = msg.from_addr().expect("From");
    let to = msg.to_addr().expect("To");
    let call_id = msg.call_id().expect("Call-ID");
    let cseq = msg.cseq().expect("CSeq");
    let cl = msg.content_length.expect("Content-Length");
    consumed
        + via.branch.map_or(0, str::len)
        + usize::from(via.port.unwrap_or(0))
        + from.tag().map_or(0, str::len)
        + from.uri.host_raw.len()
        + to.uri.host_raw.len()
        + call_id.len()
        + cseq.seq as usize
        + cseq.method.len()
        + cl
        + msg.body.len()
}

/// sipkit framing only (start line, header split and classification, Content-Length, body),
/// the counterpart of `ezk_split`.
fn sipkit_frame(buf: &[u8]) -> usize {
    let Ok(Status::Complete(msg, consumed)) = sip::parse(buf, &ParseOptions::default()) else {
        panic!("sipkit rejected the fixture");
    };
    consumed + msg.headers.len() + msg.body.len()
}

/// rsip 0.4: `SipMessage::try_from(&[u8])` (tokenise, then one owned `String` per header),
/// then `.typed()` on Via, From, To and CSeq, the Call-ID value, and `ContentLength::length()`.
fn rsip_full(buf: &[u8]) -> usize {
    use rsip::prelude::*;
    let msg = rsip::SipMessage::try_from(buf).expect("rsip rejected the fixture");
    let via = msg.via_header().expect("Via").typed().expect("typed Via");
    let from = msg
        .from_header()
        .expect("From")
        .typed()
        .expect("typed From");
    let to = msg.to_header().expect("To").typed().expect("typed To");
    let call_id = msg.call_id_header().expect("Call-ID").value().len();
    let cseq = msg
        .cseq_header()
        .expect("CSeq")
        .typed()
        .expect("typed CSeq");
    let cl = msg
        .headers()
        .iter()
        .find_map(|h| match h {
            rsip::Header::ContentLength(c) => Some(c.length().expect("length")),
            _ => None,
        })
        .expect("Content-Length") as usize;
    via.params.len()
        + from.tag().map_or(0, |t| t.value().len())
        + to.params.len()
        + call_id
        + cseq.seq as usize
        + cl
        + msg.body().len()
}

/// ezk-sip-types 0.6 has no whole-message parse function (ezk-sip-core's transport layer
/// drives it), so this is that driver: `PullParser` splits the head into lines (with folding),
/// `MessageLine` parses the start line, `Line::parse` splits each header into name and value
/// into a `Headers` map, the body is sliced by Content-Length, then Via, From, To, Call-ID,
/// CSeq and Content-Length are decoded as typed headers.
fn ezk_full(src: &ezk_sip_types::_private_reexport::Bytes) -> usize {
    use ezk_sip_types::Name;
    use ezk_sip_types::header::typed::{CSeq, CallID, ContentLength, FromTo, Via};
    use ezk_sip_types::msg::{Line, MessageLine, PullParser};
    use ezk_sip_types::parse::Parse;

    let mut lines = PullParser::new(src, 0);
    let first = lines.next().expect("start line").expect("complete");
    let first = std::str::from_utf8(first).expect("utf8");
    let (_, start) = MessageLine::parse(src)(first).expect("start line parses");
    let mut headers = ezk_sip_types::Headers::new();
    for line in &mut lines {
        let line = std::str::from_utf8(line.expect("complete")).expect("utf8");
        let (_, line) = Line::parse(src, line).expect("header line parses");
        headers.insert(line.name, line.value);
    }
    let head_end = lines.head_end();
    let via: Via = headers.get_named().expect("Via");
    let from: FromTo = headers.get(Name::FROM).expect("From");
    let to: FromTo = headers.get(Name::TO).expect("To");
    let call_id: CallID = headers.get_named().expect("Call-ID");
    let cseq: CSeq = headers.get_named().expect("CSeq");
    let cl: ContentLength = headers.get_named().expect("Content-Length");
    let body = src.slice(head_end..head_end + cl.0);
    usize::from(start.is_request())
        + via.transport.len()
        + from.tag.map_or(0, |t| t.len())
        + to.uri.uri.host_port.port.map_or(0, usize::from)
        + call_id.0.len()
        + cseq.cseq as usize
        + body.len()
}

/// The ezk part the issue quotes on its own: line split plus name/value split into `Headers`,
/// no typed headers.
fn ezk_split(src: &ezk_sip_types::_private_reexport::Bytes) -> usize {
    use ezk_sip_types::msg::{Line, PullParser};
    let mut lines = PullParser::new(src, 0);
    lines.next().expect("start line").expect("complete");
    let mut headers = ezk_sip_types::Headers::new();
    for line in &mut lines {
        let line = std::str::from_utf8(line.expect("complete")).expect("utf8");
        let (_, line) = Line::parse(src, line).expect("header line parses");
        headers.insert(line.name, line.value);
    }
    lines.head_end() + headers.iter().count()
}

// ---- MSRP SEND: full parse plus typed To-Path, From-Path, Message-ID and Byte-Range ----------
fn msrp_send(c: &mut Criterion) {
    for (unit, tp) in [
        ("bytes", Throughput::Bytes(MSRP_SEND.len() as u64)),
        ("msgs", Throughput::Elements(1)),
    ] {
        let mut g = c.benchmark_group(format!("{unit}/msrp-send"));
        g.throughput(tp);
        g.bench_function("sipkit", |b| {
            b.iter(|| {
                let Ok(Status::Complete(msg, n)) = sipkit::proto::msrp::parse(black_box(MSRP_SEND))
                else {
                    panic!("sipkit rejected the MSRP fixture");
                };
                let to = msg.headers.to_path().map_or(0, |p| p.len());
                let from = msg.headers.from_path().map_or(0, |p| p.len());
                let id = msg.headers.message_id().ok().flatten().map_or(0, str::len);
                let range = msg
                    .headers
                    .byte_range()
                    .ok()
                    .flatten()
                    .map_or(0, |r| r.start);
                black_box((msg.body.map_or(0, <[u8]>::len), n, to, from, id, range))
            })
        });
        g.finish();
    }
}
// ---- end of MSRP block ------------------------------------------------------------------------

fn benches(c: &mut Criterion) {
    // Check every contender accepts the fixtures before timing anything.
    let invite_bytes = ezk_sip_types::_private_reexport::Bytes::from_static(INVITE);
    let ok_bytes = ezk_sip_types::_private_reexport::Bytes::from_static(OK);
    assert!(sipkit_full(INVITE) > 0 && sipkit_full(OK) > 0);
    assert!(rsip_full(INVITE) > 0 && rsip_full(OK) > 0);
    assert!(ezk_full(&invite_bytes) > 0 && ezk_full(&ok_bytes) > 0);

    let cases: [(&str, &[u8], &ezk_sip_types::_private_reexport::Bytes); 2] =
        [("invite", INVITE, &invite_bytes), ("ok", OK, &ok_bytes)];
    for (unit, per_msg) in [("bytes", true), ("msgs", false)] {
        for (name, buf, bytes) in cases {
            let mut g = c.benchmark_group(format!("{unit}/{name}"));
            g.throughput(if per_msg {
                Throughput::Bytes(buf.len() as u64)
            } else {
                Throughput::Elements(1)
            });
            g.bench_function("sipkit", |b| b.iter(|| sipkit_full(black_box(buf))));
            g.bench_function("sipkit-frame", |b| b.iter(|| sipkit_frame(black_box(buf))));
            g.bench_function("rsip", |b| b.iter(|| rsip_full(black_box(buf))));
            g.bench_function("ezk", |b| b.iter(|| ezk_full(black_box(bytes))));
            g.bench_function("ezk-split", |b| b.iter(|| ezk_split(black_box(bytes))));
            g.finish();
        }
    }
    msrp_send(c);
}

criterion_group!(parse, benches);
criterion_main!(parse);
