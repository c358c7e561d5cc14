//! Byte-exact tests on the example messages of RFC 4975 and RFC 4976, lint codes, and
//! property tests (round trip, no panic on hostile input).

use super::*;
use crate::proto::{Severity, Status};

/// The RFCs print messages with line breaks; on the wire every line ends in CRLF.
fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

/// RFC 4975 §4, Figure 2.
const FIG2_SEND: &str = "MSRP a786hjs2 SEND
To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp
From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp
Message-ID: 87652491
Byte-Range: 1-25/25
Content-Type: text/plain

Hey Bob, are you there?
-------a786hjs2$
";

/// RFC 4975 §4, Figure 2.
const FIG2_OK: &str = "MSRP a786hjs2 200 OK
To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp
From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp
-------a786hjs2$
";

/// RFC 4975 §5.1, Figure 3 (the RFC omits To-Path and From-Path in this snippet).
const FIG3_A: &str = "MSRP dkei38sd SEND
Message-ID: 4564dpWd
Byte-Range: 1-*/8
Content-Type: text/plain

abcd
-------dkei38sd+
";

/// RFC 4975 §5.1, Figure 3.
const FIG3_B: &str = "MSRP dkei38ia SEND
Message-ID: 4564dpWd
Byte-Range: 5-8/8
Content-Type: text/plain

EFGH
-------dkei38ia$
";

/// RFC 4975 §11.1, step 4.
const S11_1_4: &str = "MSRP d93kswow SEND
To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp
Message-ID: 12339sdqwer
Byte-Range: 1-16/16
Content-Type: text/plain

Hi, I'm Alice!
-------d93kswow$
";

/// RFC 4975 §11.1, step 5.
const S11_1_5: &str = "MSRP d93kswow 200 OK
To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp
From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
-------d93kswow$
";

/// RFC 4975 §11.1, step 6.
const S11_1_6: &str = "MSRP dkei38sd SEND
To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp
From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
Message-ID: 456s9wlk3
Byte-Range: 1-21/21
Content-Type: text/plain

Hi, Alice!  I'm Bob!
-------dkei38sd$
";

/// RFC 4975 §11.1, step 7.
const S11_1_7: &str = "MSRP dkei38sd 200 OK
To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp
-------dkei38sd$
";

/// RFC 4975 §11.2, Figure 13 (the page break's extra blank lines removed).
const S11_2: &str = r#"MSRP dsdfoe38sd SEND
To-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp
From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
Message-ID: 456so39s
Byte-Range: 1-374/374
Content-Type: application/xhtml+xml

<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html
PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"
"_http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd_">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
  <head>
    <title>FY2005 Results</title>
</head>
  <body>
   <p>See the results at <a
href="http://example.org/">example.org</a>.</p>
  </body>
</html>
-------dsdfoe38sd$
"#;

/// RFC 4975 §11.4, Figure 14.
const S11_4_A: &str = "MSRP d93kswow SEND
To-Path: msrp://bobpc.example.com:8888/9di4eae923wzd;tcp
From-Path: msrp://alicepc.example.com:7654/iau39soe2843z;tcp
Message-ID: 12339sdqwer
Byte-Range: 1-137/148
Content-Type: message/cpim

To: Bob <sip:bob@example.com>
From: Alice <sip:alice@example.com>
DateTime: 2006-05-15T15:02:31-03:00
Content-Type: text/plain

ABCD
-------d93kswow+
";

/// RFC 4975 §11.4, Figure 15.
const S11_4_B: &str = "MSRP op2nc9a SEND
To-Path: msrp://bobpc.example.com:8888/9di4eae923wzd;tcp
From-Path: msrp://alicepc.example.com:7654/iau39soe2843z;tcp
Message-ID: 12339sdqwer
Byte-Range: 138-148/148
Content-Type: message/cpim

1234567890
-------op2nc9a$
";

/// RFC 4975 §11.5.
const S11_5: &str = "MSRP d93kswow SEND
To-Path: msrp://alicepc.example.com:8888/9di4eae923wzd;tcp
From-Path: msrp://example.com:7777/iau39soe2843z;tcp
Message-ID: 12339sdqwer
Byte-Range: 1-38/38
Failure-Report: no
Success-Report: no
Content-Type: text/plain

This conference will end in 5 minutes
-------d93kswow$
";

/// RFC 4975 §11.6, Figure 16 (page break removed).
const S11_6_SEND: &str = r#"MSRP d93kswow SEND
To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp
Message-ID: 12339sdqwer
Byte-Range: 1-106/106
Success-Report: yes
Failure-Report: no
Content-Type: text/html

<html><body>
<p>Here is that important link...
<a href="http://www.example.com/foobar">foobar</a>
</p>
</body></html>
-------d93kswow$
"#;

/// RFC 4975 §11.6, Figure 17.
const S11_6_REPORT: &str = "MSRP dkei38sd REPORT
To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp
From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
Message-ID: 12339sdqwer
Byte-Range: 1-106/106
Status: 000 200 OK
-------dkei38sd$
";

// RFC 4976 §5.1. The RFC folds long lines with "\" for print and says neither the backslash
// nor the line break is part of the message; they are joined here with one space.

/// RFC 4976 §5.1, first AUTH.
const AUTH_49FH: &str = "MSRP 49fh AUTH
To-Path: msrps://alice@intra.example.com;tcp
From-Path: msrps://alice.example.com:9892/98cjs;tcp
-------49fh$
";

/// RFC 4976 §5.1, the challenge.
const AUTH_49FH_401: &str = r#"MSRP 49fh 401 Unauthorized
To-Path: msrps://alice.example.com:9892/98cjs;tcp
From-Path: msrps://alice@intra.example.com;tcp
WWW-Authenticate: Digest realm="intra.example.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"
-------49fh$
"#;

/// RFC 4976 §5.1, AUTH with credentials.
const AUTH_49FI: &str = r#"MSRP 49fi AUTH
To-Path: msrps://alice@intra.example.com;tcp
From-Path: msrps://alice.example.com:9892/98cjs;tcp
Authorization: Digest username="Alice", realm="intra.example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1"
-------49fi$
"#;

/// RFC 4976 §5.1, the relay's 200 with Use-Path.
const AUTH_49FI_200: &str = r#"MSRP 49fi 200 OK
To-Path: msrps://alice.example.com:9892/98cjs;tcp
From-Path: msrps://alice@intra.example.com;tcp
Use-Path: msrps://intra.example.com:9000/jui787s2f;tcp
Authentication-Info: nextnonce="40f2e879449675f288476d772627370a", rspauth="7327570c586207eca2afae94fc20903d", cnonce="0a4f113b", nc=00000001, qop=auth
Expires: 900
-------49fi$
"#;

/// RFC 4976 §5.1, AUTH through the first relay.
const AUTH_MNBVW: &str = "MSRP mnbvw AUTH
To-Path: msrps://intra.example.com:9000/jui787s2f;tcp msrps://extra.example.com;tcp
From-Path: msrps://alice.example.com:9892/98cjs;tcp
-------mnbvw$
";

/// RFC 4976 §5.1, the final 200 with a two-URI Use-Path.
const AUTH_M4NBVX_200: &str = r#"MSRP m4nbvx 200 OK
To-Path: msrps://intra.example.com:9000/jui787s2f;tcp msrps://alice.example.com:9892/98cjs;tcp
From-Path: msrps://extra.example.com;tcp
Use-Path: msrps://intra.example.com:9000/jui787s2f;tcp msrps://extra.example.com:9000/mywdEe1233;tcp
Authentication-Info: nextnonce="bz8V080GEA2sLyEDpITF2AZCq7gIkc", rspauth="72f109ed2755d7ed0d0a213ec653b3f2", cnonce="85a0dca8", nc=00000001, qop=auth
Expires: 1800
-------m4nbvx$
"#;

/// Every example, with the lint codes it must produce (the RFC's own Byte-Range arithmetic is
/// off in several examples: it counts line breaks the message does not carry).
const EXAMPLES: &[(&str, &str, &[&str])] = &[
    ("4975 fig 2 send", FIG2_SEND, &["msrp.byte-range.mismatch"]),
    ("4975 fig 2 ok", FIG2_OK, &[]),
    (
        "4975 fig 3 a",
        FIG3_A,
        &["msrp.to-path.missing", "msrp.from-path.missing"],
    ),
    (
        "4975 fig 3 b",
        FIG3_B,
        &["msrp.to-path.missing", "msrp.from-path.missing"],
    ),
    ("4975 11.1 4", S11_1_4, &["msrp.byte-range.mismatch"]),
    ("4975 11.1 5", S11_1_5, &[]),
    ("4975 11.1 6", S11_1_6, &["msrp.byte-range.mismatch"]),
    ("4975 11.1 7", S11_1_7, &[]),
    ("4975 11.2", S11_2, &["msrp.byte-range.mismatch"]),
    ("4975 11.4 a", S11_4_A, &[]),
    ("4975 11.4 b", S11_4_B, &["msrp.byte-range.mismatch"]),
    ("4975 11.5", S11_5, &["msrp.byte-range.mismatch"]),
    ("4975 11.6 send", S11_6_SEND, &["msrp.byte-range.mismatch"]),
    ("4975 11.6 report", S11_6_REPORT, &[]),
    ("4976 49fh", AUTH_49FH, &[]),
    ("4976 49fh 401", AUTH_49FH_401, &[]),
    ("4976 49fi", AUTH_49FI, &[]),
    ("4976 49fi 200", AUTH_49FI_200, &[]),
    ("4976 mnbvw", AUTH_MNBVW, &[]),
    ("4976 m4nbvx 200", AUTH_M4NBVX_200, &[]),
];

fn parse_all(buf: &[u8]) -> Message<'_> {
    let (m, n) = parse(buf).expect("parses").complete().expect("complete");
    assert_eq!(n, buf.len());
    m
}

fn codes(buf: &[u8]) -> Vec<&'static str> {
    lint(buf).into_iter().map(|f| f.error.code).collect()
}

#[test]
fn every_example_parses_round_trips_and_lints() {
    for (name, text, want) in EXAMPLES {
        let buf = crlf(text);
        let again = parse_all(&buf).to_vec();
        let m = parse_all(&buf);
        assert_eq!(m.to_vec(), buf, "{name}: serialize(parse(x)) == x");
        assert_eq!(
            parse_all(&again),
            m.clone(),
            "{name}: parse(serialize(m)) == m"
        );
        for k in 0..buf.len() {
            assert_eq!(parse(&buf[..k]), Ok(Status::Partial), "{name}: prefix {k}");
        }
        assert_eq!(codes(&buf), *want, "{name}");
        // Every example is also a valid stream for the framer, in one read.
        let mut f = Framer::default();
        let frame = f.decode(&buf).expect("framer");
        assert!(matches!(frame, Frame::Head { .. }), "{name}");
    }
}

#[test]
fn figure_2_fields() {
    let buf = crlf(FIG2_SEND);
    let m = parse_all(&buf);
    assert_eq!(m.tid, "a786hjs2");
    assert_eq!(m.start, StartLine::Request(Method::Send));
    assert_eq!(m.headers.len(), 5);
    assert_eq!(m.body, Some(&b"Hey Bob, are you there?"[..]));
    assert_eq!(m.flag, Flag::End);
    assert_eq!(&buf[m.end_line_offset..m.end_line_offset + 7], b"-------");
    assert_eq!(&buf[m.body_offset..m.body_offset + 3], b"Hey");
    let to = m.headers.to_path().expect("to-path");
    assert_eq!(to.len(), 1);
    assert_eq!(to[0].host, "biloxi.example.com");
    assert_eq!(to[0].port, Some(12763));
    assert_eq!(to[0].session_id, Some("kjhd37s2s20w2a"));
    assert_eq!(m.headers.message_id(), Ok(Some("87652491")));
    assert_eq!(
        m.headers.byte_range(),
        Ok(Some(ByteRange {
            start: 1,
            end: Some(25),
            total: Some(25)
        }))
    );
    let ct = m.headers.content_type().expect("ct").expect("some");
    assert_eq!((ct.type_, ct.subtype), ("text", "plain"));
    let h = m.headers.get("content-type").expect("case-insensitive");
    assert_eq!(h.value, "text/plain");
    assert_eq!(&buf[h.value_offset..h.value_offset + 10], b"text/plain");

    let buf = crlf(FIG2_OK);
    let r = parse_all(&buf);
    assert_eq!(
        r.start,
        StartLine::Response {
            code: 200,
            comment: Some("OK")
        }
    );
    assert_eq!(r.body, None);
}

#[test]
fn report_and_auth_fields() {
    let buf = crlf(S11_6_REPORT);
    let m = parse_all(&buf);
    assert_eq!(m.method(), Some(Method::Report));
    assert_eq!(
        m.headers.status(),
        Ok(Some(StatusHeader {
            namespace: 0,
            code: 200,
            comment: Some("OK")
        }))
    );
    let buf = crlf(AUTH_M4NBVX_200);
    let m = parse_all(&buf);
    let up = m.headers.use_path().expect("ok").expect("some");
    assert_eq!(up.len(), 2);
    assert_eq!(up[1].session_id, Some("mywdEe1233"));
    assert_eq!(m.headers.expires(), Ok(Some(1800)));
    assert_eq!(m.headers.to_path().expect("ok").len(), 2);
    let buf = crlf(AUTH_49FH);
    let m = parse_all(&buf);
    assert_eq!(m.method(), Some(Method::Auth));
    assert_eq!(m.headers.to_path().expect("ok")[0].userinfo, Some("alice"));
    let buf = crlf(S11_5);
    let m = parse_all(&buf);
    assert_eq!(m.headers.failure_report(), Ok(Some(ReportValue::No)));
    assert_eq!(m.headers.success_report(), Ok(Some(ReportValue::No)));
}

#[test]
fn figure_3_chunks_reassemble() {
    let a = crlf(FIG3_A);
    let b = crlf(FIG3_B);
    let mut r: Reassembler<VecSink> = Reassembler::new(ReassemblerLimits::default());
    for buf in [&b, &a] {
        let m = parse_all(buf);
        let id = m.headers.message_id().expect("ok").expect("id");
        let br = m.headers.byte_range().expect("ok").expect("br");
        let p = r
            .chunk(
                id,
                br.start,
                br.total,
                m.body.unwrap_or(b""),
                m.flag,
                VecSink::default,
            )
            .expect("chunk");
        if buf == &a {
            assert_eq!(
                p,
                Progress::Complete {
                    sink: VecSink(b"abcdEFGH".to_vec()),
                    total: 8
                }
            );
        }
    }
}

#[test]
fn pipelined_messages_parse_one_at_a_time() {
    let mut stream = crlf(S11_1_4);
    stream.extend(crlf(S11_1_5));
    let (m, n) = parse(&stream).expect("ok").complete().expect("complete");
    assert_eq!(m.tid, "d93kswow");
    let (r, n2) = parse(&stream[n..])
        .expect("ok")
        .complete()
        .expect("complete");
    assert_eq!(n + n2, stream.len());
    assert!(!r.is_request());
}

#[test]
fn body_lookalikes_are_body() {
    let body = b"x\r\n-------othertid$\r\nx-------d93kswow$\r\n--\r\n-------d93kswowX\r\n\r\n-------d93kswow*\r\n-------d93kswow$ \r\n";
    let mut buf = b"MSRP d93kswow SEND\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\nMessage-ID: abcd\r\nContent-Type: text/plain\r\n\r\n".to_vec();
    buf.extend_from_slice(body);
    buf.extend_from_slice(b"\r\n-------d93kswow#\r\n");
    let m = parse_all(&buf);
    assert_eq!(m.body, Some(&body[..]));
    assert_eq!(m.flag, Flag::Abort);
    // Empty body (distinct from bodiless, §7.1).
    let buf = b"MSRP abcd SEND\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\nMessage-ID: abcd\r\nByte-Range: 1-0/0\r\nContent-Type: text/plain\r\n\r\n\r\n-------abcd$\r\n";
    let m = parse_all(buf);
    assert_eq!(m.body, Some(&b""[..]));
    assert_eq!(codes(buf), Vec::<&str>::new());
}

#[test]
fn strict_parse_errors() {
    let cases: &[(&[u8], &str, usize)] = &[
        (b"HTTP/1.1 200 OK\r\n", "msrp.start-line.invalid", 0),
        (b"MSRQ", "msrp.start-line.invalid", 0),
        (b"MSRP abc SEND\r\n", "msrp.tid.invalid", 5),
        (b"MSRP abcd send\r\n", "msrp.method.invalid", 10),
        (b"MSRP abcd 20 OK\r\n", "msrp.status-code.invalid", 10),
        (b"MSRP abcd\r\n", "msrp.start-line.invalid", 9),
        (b"MSRP abcd SEND\nTo-Path: x\r\n", "msrp.line.bare-lf", 14),
        (
            b"MSRP abcd SEND\r\nTo-Path x\r\n",
            "msrp.header.invalid",
            16,
        ),
        (b"MSRP abcd SEND\r\n1To: x\r\n", "msrp.header.name", 16),
        (b"MSRP abcd SEND\r\nTo-Path:x\r\n", "msrp.header.space", 24),
        (b"MSRP abcd SEND\r\nX: a\x01b\r\n", "msrp.header.value", 20),
        (b"MSRP abcd SEND\r\nX: a\xffb\r\n", "msrp.header.value", 20),
        (
            b"MSRP abcd SEND\r\nX: a\r\n-------abce$\r\n",
            "msrp.end-line.mismatch",
            22,
        ),
        (
            b"MSRP abcd SEND\r\nX: a\r\n-------abcd!\r\n",
            "msrp.end-line.mismatch",
            22,
        ),
    ];
    for (buf, code, off) in cases {
        let e = parse(buf).expect_err(code);
        assert_eq!(
            (e.code, e.offset),
            (*code, *off),
            "{:?}: {e}",
            String::from_utf8_lossy(buf)
        );
    }
}

/// A well-formed SEND to mutate in lint tests.
fn send(headers: &str, body: Option<&str>, end: &str) -> Vec<u8> {
    let mut s = format!(
        "MSRP abcd SEND\r\nTo-Path: msrp://a.example:1/s;tcp\r\nFrom-Path: msrp://b.example:2/t;tcp\r\n{headers}"
    );
    if let Some(b) = body {
        s.push_str("\r\n");
        s.push_str(b);
        s.push_str("\r\n");
    }
    s.push_str(end);
    s.into_bytes()
}

#[test]
fn lint_codes_each_triggered() {
    let ok_h = "Message-ID: m123\r\nByte-Range: 1-2/2\r\nContent-Type: text/plain\r\n";
    assert_eq!(
        codes(&send(ok_h, Some("hi"), "-------abcd$\r\n")),
        Vec::<&str>::new()
    );
    let cases: Vec<(Vec<u8>, &str, Severity)> = vec![
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), "msrp.start-line.invalid", Severity::Error),
        (b"MSRP ab SEND\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\nMessage-ID: m123\r\n-------ab$\r\n".to_vec(), "msrp.tid.invalid", Severity::Error),
        (b"MSRP abcd 99 OK\r\n".to_vec(), "msrp.status-code.invalid", Severity::Error),
        (b"MSRP abcd 700 Odd\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\n-------abcd$\r\n".to_vec(), "msrp.status-code.range", Severity::Error),
        (b"MSRP abcd 200 OK\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\n-------abcd+\r\n".to_vec(), "msrp.end-line.flag", Severity::Error),
        (b"MSRP abcd 200 OK\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\n\r\nx\r\n-------abcd$\r\n".to_vec(), "msrp.response.body", Severity::Error),
        (b"MSRP abcd SEnD\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\n-------abcd$\r\n".to_vec(), "msrp.method.invalid", Severity::Error),
        (b"MSRP abcd FOO\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\n-------abcd$\r\n".to_vec(), "msrp.method.unknown", Severity::Warning),
        (b"MSRP abcd SEND\r\nFrom-Path: msrp://b:1/s;tcp\r\nMessage-ID: m123\r\n-------abcd$\r\n".to_vec(), "msrp.to-path.missing", Severity::Error),
        (b"MSRP abcd SEND\r\nTo-Path: msrp://b:1/s;tcp\r\nMessage-ID: m123\r\n-------abcd$\r\n".to_vec(), "msrp.from-path.missing", Severity::Error),
        (b"MSRP abcd SEND\r\nFrom-Path: msrp://b:1/s;tcp\r\nTo-Path: msrp://a:1/s;tcp\r\nMessage-ID: m123\r\n-------abcd$\r\n".to_vec(), "msrp.to-path.order", Severity::Error),
        (send("To-Path: msrp://c:1/s;tcp\r\nMessage-ID: m123\r\n", None, "-------abcd$\r\n"), "msrp.header.duplicate", Severity::Error),
        (send("Message-ID: m123\r\nUse-Path: msrp://[::1]/x;tcp\r\n", None, "-------abcd$\r\n"), "msrp.uri.port.missing", Severity::Error),
        (send("Message-ID: m123\r\nUse-Path: msrp://relay.example/x;tcp\r\n", None, "-------abcd$\r\n"), "msrp.use-path.uri", Severity::Error),
        (send("", None, "-------abcd$\r\n"), "msrp.message-id.missing", Severity::Error),
        (send("Message-ID: m\r\n", None, "-------abcd$\r\n"), "msrp.message-id.invalid", Severity::Error),
        (send("Message-ID: m123\r\n", None, "-------abcd$\r\n"), "msrp.byte-range.missing", Severity::Warning),
        (send("Message-ID: m123\r\nByte-Range: 1-x/2\r\n", None, "-------abcd$\r\n"), "msrp.byte-range.invalid", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 0-1/2\r\nContent-Type: a/b\r\n", Some("hi"), "-------abcd$\r\n"), "msrp.byte-range.start", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-3/3\r\nContent-Type: a/b\r\n", Some("hi"), "-------abcd$\r\n"), "msrp.byte-range.mismatch", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-*/1\r\nContent-Type: a/b\r\n", Some("hi"), "-------abcd$\r\n"), "msrp.byte-range.total", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-2/5\r\nContent-Type: a/b\r\n", Some("hi"), "-------abcd$\r\n"), "msrp.byte-range.final", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-3000/3000\r\nContent-Type: a/b\r\n", Some(&"x".repeat(3000)), "-------abcd$\r\n"), "msrp.byte-range.interruptible", Severity::Warning),
        (send("Message-ID: m123\r\nByte-Range: 1-2/2\r\n", Some("hi"), "-------abcd$\r\n"), "msrp.content-type.missing", Severity::Error),
        (send("Message-ID: m123\r\nContent-Type: a/b\r\nByte-Range: 1-2/2\r\n", Some("hi"), "-------abcd$\r\n"), "msrp.content-type.order", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-2/2\r\nContent-Type: text\r\n", Some("hi"), "-------abcd$\r\n"), "msrp.content-type.invalid", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-0/0\r\nContent-Type: a/b\r\n", None, "-------abcd$\r\n"), "msrp.content-type.unexpected", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-0/0\r\nSuccess-Report: partial\r\n", None, "-------abcd$\r\n"), "msrp.success-report.invalid", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-0/0\r\nFailure-Report: maybe\r\n", None, "-------abcd$\r\n"), "msrp.failure-report.invalid", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-0/0\r\nExpires: soon\r\n", None, "-------abcd$\r\n"), "msrp.expires.invalid", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-2/2\r\nContent-Type: a/b\r\n", Some("hi"), "-------abce$\r\n"), "msrp.end-line.mismatch", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-2/2\r\nContent-Type: a/b\r\n", Some("hi"), ""), "msrp.end-line.missing", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-2/2\r\nContent-Type: a/b\r\n", Some("hi"), "-------abcd$"), "msrp.end-line.crlf", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-2/2\r\n", None, "-------abcd$\r\nextra"), "msrp.trailing-data", Severity::Warning),
        (b"MSRP abcd SEND\r\nTo-Path: msrp://a:1/s;tcp\r\n".to_vec(), "msrp.message.truncated", Severity::Error),
        (b"MSRP abcd REPORT\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\nMessage-ID: m123\r\n-------abcd$\r\n".to_vec(), "msrp.report.status.missing", Severity::Error),
        (b"MSRP abcd REPORT\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\nMessage-ID: m123\r\nStatus: 000 200\r\nSuccess-Report: yes\r\n-------abcd$\r\n".to_vec(), "msrp.report.report-header", Severity::Error),
        (b"MSRP abcd REPORT\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\nMessage-ID: m123\r\nStatus: 200\r\n-------abcd$\r\n".to_vec(), "msrp.status.invalid", Severity::Error),
        (b"MSRP abcd REPORT\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\nMessage-ID: m123\r\nStatus: 001 200\r\n-------abcd$\r\n".to_vec(), "msrp.status.namespace", Severity::Warning),
        (b"MSRP abcd REPORT\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\nMessage-ID: m123\r\nStatus: 000 200\r\n-------abcd+\r\n".to_vec(), "msrp.end-line.flag", Severity::Error),
        ({
            let mut v = b"MSRP abcd AUTH\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:1/s;tcp\r\nContent-Type: a/b\r\n\r\n".to_vec();
            v.extend(std::iter::repeat_n(b'x', 10241));
            v.extend_from_slice(b"\r\n-------abcd$\r\n");
            v
        }, "msrp.body.too-large", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-0/0\r\nX-Bad:value\r\n", None, "-------abcd$\r\n"), "msrp.header.space", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-0/0\r\nnocolon\r\n", None, "-------abcd$\r\n"), "msrp.header.invalid", Severity::Error),
        (send("Message-ID: m123\r\nByte-Range: 1-0/0\r\n", None, "-------abcd$\n"), "msrp.line.bare-lf", Severity::Error),
        (b"MSRP abcd SEND\r\nTo-Path: sip:a@b\r\nFrom-Path: msrp://b:1/s;tcp\r\nMessage-ID: m123\r\n-------abcd$\r\n".to_vec(), "msrp.uri.scheme", Severity::Error),
    ];
    for (buf, code, sev) in &cases {
        let found = lint(buf);
        let hit = found.iter().find(|f| f.error.code == *code);
        let Some(hit) = hit else {
            panic!(
                "{code} not reported for {:?}; got {:?}",
                String::from_utf8_lossy(buf),
                found.iter().map(|f| f.error.code).collect::<Vec<_>>()
            );
        };
        assert_eq!(hit.severity, *sev, "{code}");
        assert!(hit.error.offset <= buf.len(), "{code} offset in range");
    }
}

#[test]
fn lint_survives_extreme_numbers() {
    let max = u64::MAX;
    for br in [
        format!("1-{max}/{max}"),
        format!("{max}-{max}/1"),
        format!("{max}-*/*"),
    ] {
        let buf = send(
            &format!("Message-ID: m123\r\nByte-Range: {br}\r\nContent-Type: a/b\r\n"),
            Some("hi"),
            "-------abcd$\r\n",
        );
        let found = codes(&buf);
        assert!(!found.is_empty(), "{br}");
    }
}

#[test]
fn lint_reports_all_problems_with_offsets() {
    // Missing Message-ID, bad Failure-Report, wrong byte count and a wrong end-line at once.
    let buf = send(
        "Byte-Range: 1-5/5\r\nFailure-Report: sometimes\r\nContent-Type: text/plain\r\n",
        Some("hi"),
        "-------abcX$\r\n",
    );
    let found = lint(&buf);
    let got: Vec<_> = found.iter().map(|f| f.error.code).collect();
    assert_eq!(
        got,
        vec![
            "msrp.message-id.missing",
            "msrp.byte-range.mismatch",
            "msrp.failure-report.invalid",
            "msrp.end-line.mismatch",
        ]
    );
    let end = found.last().expect("end-line finding");
    assert_eq!(
        &buf[end.error.offset..end.error.offset + end.error.len],
        b"-------abcX$"
    );
    let br = &found[1].error;
    assert_eq!(&buf[br.offset..br.offset + br.len], b"1-5/5");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn ident() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9][a-zA-Z0-9.+%=-]{3,31}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&data);
            let _ = lint(&data);
            let mut f = Framer::default();
            let _ = f.decode(&data);
            let mut with_prefix = b"MSRP abcd SEND\r\n".to_vec();
            with_prefix.extend_from_slice(&data);
            let _ = parse(&with_prefix);
            let _ = lint(&with_prefix);
            let _ = f.decode(&with_prefix);
        }

        #[test]
        fn mutated_examples_never_panic(idx in 0..EXAMPLES.len(), pos in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
            let mut buf = crlf(EXAMPLES[idx].1);
            let p = pos % buf.len();
            buf[p] = byte;
            let c = cut % (buf.len() + 1);
            for b in [&buf[..], &buf[..c]] {
                let again = match parse(b) {
                    Ok(Status::Complete(m, _)) => m.to_vec(),
                    _ => Vec::new(),
                };
                if let Ok(Status::Complete(m, _)) = parse(b) {
                    let _ = (m.headers.to_path(), m.headers.from_path(), m.headers.byte_range(),
                        m.headers.status(), m.headers.content_type(), m.headers.use_path(),
                        m.headers.message_id(), m.headers.expires());
                    prop_assert_eq!(parse(&again).ok().and_then(|s| s.complete()).map(|(x, _)| x), Some(m.clone()));
                }
                let _ = lint(b);
            }
        }

        #[test]
        fn build_parse_round_trip(
            seed in any::<u64>(),
            msg_id in ident(),
            start in 1u64..u64::MAX / 2,
            end in proptest::option::of(any::<u64>()),
            total in proptest::option::of(any::<u64>()),
            body in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
            flag in prop_oneof![Just(Flag::End), Just(Flag::Continue), Just(Flag::Abort)],
            success in proptest::option::of(prop_oneof![Just(ReportValue::Yes), Just(ReportValue::No)]),
            ext in "[A-Za-z][A-Za-z0-9-]{0,10}",
            ext_val in "[ -~]{0,40}",
        ) {
            let to = [MsrpUri::parse("msrp://b.example:2855/x9;tcp").expect("uri")];
            let from = [MsrpUri::parse("msrps://[2001:db8::1]:9/y;tcp;k=v").expect("uri")];
            let extra = [(ext.as_str(), ext_val.as_str())];
            let h = RequestHeaders {
                to_path: &to,
                from_path: &from,
                message_id: Some(&msg_id),
                byte_range: Some(ByteRange { start, end, total }),
                success_report: success,
                extra: &extra,
                content_type: body.as_ref().map(|_| "application/octet-stream"),
                ..Default::default()
            };
            let mut g = IdGenerator::new(seed);
            let tid = g.tid_for_body(body.as_deref().unwrap_or(b""));
            let mut out = Vec::new();
            write_request(&mut out, tid.as_str(), Method::Send, &h, body.as_deref(), flag).expect("builds");
            let again = parse(&out).expect("parses").complete().expect("complete").0.to_vec();
            let (m, n) = parse(&out).expect("parses").complete().expect("complete");
            prop_assert_eq!(n, out.len());
            prop_assert_eq!(m.tid, tid.as_str());
            prop_assert_eq!(m.body, body.as_deref());
            prop_assert_eq!(m.flag, flag);
            prop_assert_eq!(m.headers.message_id(), Ok(Some(msg_id.as_str())));
            prop_assert_eq!(m.headers.byte_range(), Ok(Some(ByteRange { start, end, total })));
            prop_assert_eq!(m.headers.success_report(), Ok(success));
            prop_assert_eq!(m.headers.get(&ext).map(|x| x.value), Some(ext_val.as_str()));
            prop_assert!(m.headers.to_path().expect("to")[0].equivalent(&to[0]));
            prop_assert_eq!(m.to_vec(), out.clone());
            let reparsed = parse(&again).expect("ok").complete().map(|(x, _)| x);
            prop_assert_eq!(reparsed, Some(m.clone()));
            // The framer agrees with parse for the same bytes, in two reads.
            let split = out.len() / 2;
            let mut f = Framer::default();
            let mut buf = out[..split].to_vec();
            let mut got = Vec::new();
            let mut end_flag = None;
            for more in [&out[split..], &b""[..]] {
                buf.extend_from_slice(more);
                loop {
                    let n = {
                        let frame = f.decode(&buf).expect("frames");
                        let n = frame.consumed();
                        match frame {
                            Frame::NeedMore => break,
                            Frame::Body(b) => got.extend_from_slice(b),
                            Frame::End { flag, .. } => end_flag = Some(flag),
                            Frame::Head { .. } => {}
                        }
                        n
                    };
                    buf.drain(..n);
                }
            }
            prop_assert_eq!(end_flag, Some(flag));
            prop_assert_eq!(got, body.unwrap_or_default());
        }
    }
}

#[test]
fn lf_only_file_is_reported_not_crashed() {
    let buf = FIG2_OK.as_bytes();
    let found = codes(buf);
    assert!(found.contains(&"msrp.line.bare-lf"), "{found:?}");
    assert!(parse(buf).is_err());
}

/// Issue 14: a head of many bad lines stores a few findings per code, whatever its size.
#[test]
fn lint_stores_a_few_findings_per_code_and_counts_the_rest() {
    let msg = format!("MSRP a786hjs2 SEND\r\n{}", "no colon\r\n".repeat(10_000));
    let found = lint(msg.as_bytes());
    let mut per_code: Vec<(&str, usize)> = Vec::new();
    for f in &found {
        match per_code.iter_mut().find(|(c, _)| *c == f.error.code) {
            Some((_, n)) => *n += 1,
            None => per_code.push((f.error.code, 1)),
        }
    }
    assert!(
        per_code
            .iter()
            .all(|&(_, n)| n <= crate::proto::error::SHOWN_PER_CODE),
        "{per_code:?}"
    );
    assert!(
        found.iter().any(|f| f.error.message.contains("more `")),
        "{found:?}"
    );
}
