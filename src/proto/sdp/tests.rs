use super::*;
use crate::proto::Severity;
use std::net::IpAddr;

/// RFC figures are printed with LF and an indent; SDP on the wire uses CRLF. Strips the
/// leading newline of the raw literal and turns each LF into CRLF, nothing else.
fn wire(s: &str) -> Vec<u8> {
    s.strip_prefix('\n')
        .unwrap_or(s)
        .replace('\n', "\r\n")
        .into_bytes()
}

fn codes(buf: &[u8]) -> Vec<(&'static str, Severity)> {
    lint(buf)
        .into_iter()
        .map(|f| (f.error.code, f.severity))
        .collect()
}

fn error_codes(buf: &[u8]) -> Vec<&'static str> {
    lint(buf)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.error.code)
        .collect()
}

/// Parse, check the serializer gives back the same bytes and the same tree.
fn roundtrip_exact(buf: &[u8]) -> SessionDescription<'_> {
    let sd = parse(buf).unwrap_or_else(|e| panic!("{e}"));
    let text = sd.to_string();
    assert_eq!(text.as_bytes(), buf, "serializer output differs");
    let again = parse(text.as_bytes()).expect("reparse");
    assert_eq!(again, sd);
    sd
}

// RFC 8866 §5, the example SDP description.
const RFC8866_S5: &str = "
v=0
o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
s=Call to John Smith
i=SDP Offer #1
u=http://www.jdoe.example.com/home.html
e=Jane Doe <jane@jdoe.example.com>
p=+1 617 555-6011
c=IN IP4 198.51.100.1
t=0 0
m=audio 49170 RTP/AVP 0
m=audio 49180 RTP/AVP 0
m=video 51372 RTP/AVP 99
c=IN IP6 2001:db8::2
a=rtpmap:99 h263-1998/90000
";

#[test]
fn rfc8866_section5_example() {
    let buf = wire(RFC8866_S5);
    let sd = roundtrip_exact(&buf);
    assert_eq!(sd.version, "0");
    assert_eq!(
        sd.origin,
        Origin {
            username: "jdoe",
            session_id: "3724394400",
            session_version: "3724394405",
            net_type: "IN",
            addr_type: "IP4",
            address: "198.51.100.1",
        }
    );
    assert_eq!(sd.session_name, "Call to John Smith");
    assert_eq!(sd.information, Some("SDP Offer #1"));
    assert_eq!(sd.uri, Some("http://www.jdoe.example.com/home.html"));
    assert_eq!(sd.emails, vec!["Jane Doe <jane@jdoe.example.com>"]);
    assert_eq!(sd.phones, vec!["+1 617 555-6011"]);
    assert_eq!(sd.times.len(), 1);
    assert_eq!((sd.times[0].start, sd.times[0].stop), ("0", "0"));
    assert_eq!(sd.media.len(), 3);
    assert_eq!(sd.media[0].port, 49170);
    assert_eq!(sd.media[0].formats, vec!["0"]);
    let c0 = sd.connection_for(&sd.media[0]).expect("session c=");
    assert_eq!(c0.ip(), Some("198.51.100.1".parse::<IpAddr>().expect("ip")));
    let c2 = sd.connection_for(&sd.media[2]).expect("media c=");
    assert_eq!(c2.addr_kind(), AddrType::Ip6);
    assert_eq!(c2.ip(), Some("2001:db8::2".parse::<IpAddr>().expect("ip")));
    let map = sd.media[2].rtpmap_for("99").expect("rtpmap 99");
    assert_eq!(
        map,
        RtpMap {
            payload_type: 99,
            encoding: "h263-1998",
            clock_rate: 90000,
            params: None
        }
    );
    assert_eq!(sd.direction_of(&sd.media[0]), Direction::SendRecv);
    assert!(lint(&buf).is_empty(), "{:?}", lint(&buf));
}

// RFC 4975 §8.2, Figure 7: Example SDP with Path Attribute.
const RFC4975_FIG7: &str = "
v=0
o=alice 2890844526 2890844527 IN IP4 alice.example.com
s= -
c=IN IP4 alice.example.com
t=0 0
m=message 7394 TCP/MSRP *
a=accept-types:text/plain
a=path:msrp://alice.example.com:7394/2s93i9ek2a;tcp
";

// RFC 4975 §8.7, Figure 9: SDP from Endpoint A.
const RFC4975_FIG9: &str = "
v=0
o=usera 2890844526 2890844527 IN IP4 alice.example.com
s= -
c=IN IP4 alice.example.com
t=0 0
m=message 7394 TCP/MSRP *
a=accept-types:message/cpim text/plain text/html
a=path:msrp://alice.example.com:7394/2s93i93idj;tcp
";

// RFC 4975 §8.7, Figure 10: SDP from Endpoint B.
const RFC4975_FIG10: &str = "
v=0
o=userb 2890844530 2890844532 IN IP4 bob.example.com
s= -
c=IN IP4 bob.example.com
t=0 0
m=message 8493 TCP/MSRP *
a=accept-types:message/cpim text/plain
a=path:msrp://bob.example.com:8493/si438dsaodes;tcp
";

// RFC 4975 §11, step 1 (Alice's offer).
const RFC4975_S11_OFFER: &str = "
v=0
o=alice 2890844557 2890844559 IN IP4 alicepc.example.com
s= -
c=IN IP4 alicepc.example.com
t=0 0
m=message 7777 TCP/MSRP *
a=accept-types:text/plain
a=path:msrp://alicepc.example.com:7777/iau39soe2843z;tcp
";

// RFC 4975 §11, step 2 (Bob's answer).
const RFC4975_S11_ANSWER: &str = "
v=0
o=bob 2890844612 2890844616 IN IP4 bob.example.com
s= -
c=IN IP4 bob.example.com
t=0 0
m=message 8888 TCP/MSRP *
a=accept-types:text/plain
a=path:msrp://bob.example.com:8888/9di4eae923wzd;tcp
";

#[test]
fn rfc4975_examples() {
    for text in [
        RFC4975_FIG7,
        RFC4975_FIG9,
        RFC4975_FIG10,
        RFC4975_S11_OFFER,
        RFC4975_S11_ANSWER,
    ] {
        let buf = wire(text);
        let sd = roundtrip_exact(&buf);
        assert_eq!(sd.session_name, " -");
        let m = &sd.media[0];
        assert!(m.is_msrp());
        assert_eq!(m.formats, vec!["*"]);
        assert_eq!(m.path().expect("path").expect("valid").len(), 1);
        assert!(lint(&buf).is_empty(), "{:?}", lint(&buf));
    }
    let buf = wire(RFC4975_FIG9);
    let sd = parse(&buf).expect("parse");
    let m = &sd.media[0];
    assert_eq!(
        m.path().expect("path").expect("valid"),
        vec!["msrp://alice.example.com:7394/2s93i93idj;tcp"]
    );
    let types = m.accept_types().expect("present").expect("valid");
    let raw: Vec<&str> = types.iter().map(AcceptType::as_str).collect();
    assert_eq!(raw, vec!["message/cpim", "text/plain", "text/html"]);
    assert!(types[1].matches("TEXT", "plain"));
    assert_eq!(sd.connection_for(m).expect("c").host(), "alice.example.com");
    assert_eq!(sd.connection_for(m).expect("c").ip(), None);
}

// RFC 5547 §6, Figure 2. The RFC folds a=file-selector over three lines "for formatting
// purposes" and says real implementations put it on one line: joined here with single spaces,
// and the hash value directly after "sha-1:".
const RFC5547_FIG2: &str = "
v=0
o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com
s=
c=IN IP4 host.atlanta.example.com
t=0 0
m=message 7654 TCP/MSRP *
i=This is my latest picture
a=sendonly
a=accept-types:message/cpim
a=accept-wrapped-types:*
a=path:msrp://atlanta.example.com:7654/jshA7we;tcp
a=file-selector:name:\"My cool picture.jpg\" type:image/jpeg size:32349 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E
a=file-transfer-id:vBnG916bdberum2fFEABR1FR3ExZMUrd
a=file-disposition:attachment
a=file-date:creation:\"Mon, 15 May 2006 15:01:31 +0300\"
a=file-icon:cid:id2@alicepc.example.com
a=file-range:1-32349
";

// RFC 5547 §9.1, Figure 8 (SDP part of the INVITE; file-selector joined as for Figure 2).
const RFC5547_FIG8: &str = "
v=0
o=alice 2890844526 2890844526 IN IP4 alicepc.example.com
s=
c=IN IP4 alicepc.example.com
t=0 0
m=message 7654 TCP/MSRP *
i=This is my latest picture
a=sendonly
a=accept-types:message/cpim
a=accept-wrapped-types:*
a=path:msrp://alicepc.example.com:7654/jshA7we;tcp
a=file-selector:name:\"My cool picture.jpg\" type:image/jpeg size:4092 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E
a=file-transfer-id:Q6LMoGymJdh0IKIgD6wD0jkcfgva4xvE
a=file-disposition:render
a=file-date:creation:\"Mon, 15 May 2006 15:01:31 +0300\"
a=file-icon:cid:id2@alicepc.example.com
";

// RFC 5547 §9.1, Figure 9.
const RFC5547_FIG9: &str = "
v=0
o=bob 2890844656 2890844656 IN IP4 bobpc.example.com
s=
c=IN IP4 bobpc.example.com
t=0 0
m=message 8888 TCP/MSRP *
a=recvonly
a=accept-types:message/cpim
a=accept-wrapped-types:*
a=path:msrp://bobpc.example.com:8888/9di4ea;tcp
a=file-selector:name:\"My cool picture.jpg\" type:image/jpeg size:4092 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E
a=file-transfer-id:Q6LMoGymJdh0IKIgD6wD0jkcfgva4xvE
";

// RFC 5547 §9.2, Figure 15.
const RFC5547_FIG15: &str = "
v=0
o=alice 2890844526 2890844526 IN IP4 alicepc.example.com
s=
c=IN IP4 alicepc.example.com
t=0 0
m=message 7654 TCP/MSRP *
a=recvonly
a=accept-types:message/cpim
a=accept-wrapped-types:*
a=path:msrp://alicepc.example.com:7654/jshA7we;tcp
a=file-selector:hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E
a=file-transfer-id:aCQYuBRVoUPGVsFZkCK98vzcX2FXDIk2
";

// RFC 5547 §9.2, Figure 16.
const RFC5547_FIG16: &str = "
v=0
o=bob 2890844656 2890855439 IN IP4 bobpc.example.com
s=
c=IN IP4 bobpc.example.com
t=0 0
m=message 8888 TCP/MSRP *
a=sendonly
a=accept-types:message/cpim
a=accept-wrapped-types:*
a=path:msrp://bobpc.example.com:8888/9di4ea;tcp
a=file-selector:type:image/jpeg hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E
a=file-transfer-id:aCQYuBRVoUPGVsFZkCK98vzcX2FXDIk2
";

// RFC 5547 §9.2, Figure 19 (SDP part).
const RFC5547_FIG19: &str = "
v=0
o=alice 2890844526 2890844527 IN IP4 alicepc.example.com
s=
c=IN IP4 alicepc.example.com
t=0 0
m=message 7654 TCP/MSRP *
i=This is my latest picture
a=sendonly
a=accept-types:message/cpim
a=accept-wrapped-types:*
a=path:msrp://alicepc.example.com:7654/iau39;tcp
a=file-selector:name:\"sunset.jpg\" type:image/jpeg size:4096 hash:sha-1:58:23:1F:E8:65:3B:BC:F3:71:36:2F:86:D4:71:91:3E:E4:B1:DF:2F
a=file-transfer-id:ZVE8MfI9mhAdZ8GyiNMzNN5dpqgzQlCO
a=file-disposition:render
a=file-date:creation:\"Sun, 21 May 2006 13:02:15 +0300\"
a=file-icon:cid:id3@alicepc.example.com
";

// RFC 5547 §9.2, Figure 20.
const RFC5547_FIG20: &str = "
v=0
o=bob 2890844656 2890855440 IN IP4 bobpc.example.com
s=
c=IN IP4 bobpc.example.com
t=0 0
m=message 8888 TCP/MSRP *
a=recvonly
a=accept-types:message/cpim
a=accept-wrapped-types:*
a=path:msrp://bobpc.example.com:8888/eh10dsk;tcp
a=file-selector:name:\"sunset.jpg\" type:image/jpeg size:4096 hash:sha-1:58:23:1F:E8:65:3B:BC:F3:71:36:2F:86:D4:71:91:3E:E4:B1:DF:2F
a=file-transfer-id:ZVE8MfI9mhAdZ8GyiNMzNN5dpqgzQlCO
a=file-disposition:render
";

// RFC 5547 §9.3, Figure 24.
const RFC5547_FIG24: &str = "
v=0
o=bob 2890844656 2890855439 IN IP4 bobpc.example.com
s=-
c=IN IP4 bobpc.example.com
t=0 0
m=message 0 TCP/MSRP *
a=accept-types:message/cpim
a=accept-wrapped-types:*
a=max-size:20000
a=file-selector
";

const SHA1_A: [u8; 20] = [
    0x72, 0x24, 0x5F, 0xE8, 0x65, 0x3D, 0xDA, 0xF3, 0x71, 0x36, 0x2F, 0x86, 0xD4, 0x71, 0x91, 0x3E,
    0xE4, 0xA2, 0xCE, 0x2E,
];

#[test]
fn rfc5547_examples_parse_and_lint() {
    for text in [
        RFC5547_FIG2,
        RFC5547_FIG8,
        RFC5547_FIG9,
        RFC5547_FIG15,
        RFC5547_FIG16,
        RFC5547_FIG19,
        RFC5547_FIG20,
    ] {
        let buf = wire(text);
        let sd = roundtrip_exact(&buf);
        let m = &sd.media[0];
        let fs = m.file_selector().expect("present").expect("valid");
        assert_eq!(fs.hashes.len(), 1);
        assert!(fs.hashes[0].sha1().is_some());
        assert!(m.file_transfer_id().expect("present").is_ok());
        // The RFC writes "s=" with nothing after it: only that warning.
        assert_eq!(
            codes(&buf),
            vec![("sdp.session-name.empty", Severity::Warning)]
        );
    }
    let buf = wire(RFC5547_FIG24);
    let sd = roundtrip_exact(&buf);
    let m = &sd.media[0];
    assert_eq!(m.port, 0);
    assert_eq!(m.max_size(), Some(Ok(20000)));
    assert_eq!(m.file_selector(), Some(Ok(FileSelector::default())));
    assert!(lint(&buf).is_empty(), "{:?}", lint(&buf));
}

#[test]
fn rfc5547_figure2_typed_values() {
    let buf = wire(RFC5547_FIG2);
    let sd = parse(&buf).expect("parse");
    let m = &sd.media[0];
    assert_eq!(m.information, Some("This is my latest picture"));
    assert_eq!(sd.direction_of(m), Direction::SendOnly);
    assert_eq!(
        m.accept_wrapped_types().expect("present").expect("ok"),
        vec![AcceptType::Any]
    );
    let fs = m.file_selector().expect("present").expect("valid");
    assert_eq!(fs.name.expect("name").raw(), "My cool picture.jpg");
    assert_eq!(
        fs.file_type,
        Some(FileType {
            media_type: "image/jpeg",
            params: None
        })
    );
    assert_eq!(fs.size, Some(32349));
    assert_eq!(fs.hashes[0].algorithm, "sha-1");
    assert_eq!(fs.hashes[0].sha1(), Some(SHA1_A));
    assert_eq!(
        m.file_transfer_id(),
        Some(Ok("vBnG916bdberum2fFEABR1FR3ExZMUrd"))
    );
    assert_eq!(m.file_disposition(), Some(Ok("attachment")));
    assert_eq!(
        m.file_date(),
        Some(Ok(vec![FileDate {
            kind: DateKind::Creation,
            date: "Mon, 15 May 2006 15:01:31 +0300"
        }]))
    );
    assert_eq!(m.file_icon(), Some(Ok("cid:id2@alicepc.example.com")));
    assert_eq!(
        m.file_range(),
        Some(Ok(FileRange {
            start: 1,
            stop: Some(32349)
        }))
    );
    // The selector serializes back to the same value.
    let raw = m.attribute("file-selector").and_then(|a| a.value);
    assert_eq!(Some(fs.to_string().as_str()), raw);
}

/// Issue 15 item 3: `size:0` is outside the grammar (RFC 4566 integer); the strict parse
/// refuses it, the tolerant one takes it as 0 with a warning pointing at the selector.
#[test]
fn issue_15_file_selector_size_0_is_tolerated_with_a_warning() {
    let v = "name:\"e.txt\" size:0";
    assert!(FileSelector::parse(Some(v)).is_err());
    let (fs, w) = FileSelector::parse_tolerant(Some(v)).expect("tolerated");
    assert_eq!(fs.size, Some(0));
    assert_eq!(fs.name.expect("name").raw(), "e.txt");
    let w = w.expect("a warning");
    assert_eq!(
        (w.code, w.offset, w.len),
        ("sdp.file-selector.syntax", 13, 6)
    );
    let (fs, w) = FileSelector::parse_tolerant(Some("size:12")).expect("valid");
    assert_eq!((fs.size, w), (Some(12), None));
    assert!(FileSelector::parse_tolerant(Some("size:00")).is_err());
    assert!(FileSelector::parse_tolerant(Some("size:0 size:0")).is_err());
}

#[test]
fn file_selector_details() {
    let fs = FileSelector::parse(Some(
        "name:\"a%22b%20c.txt\" type:text/plain;charset=\"UTF-8\" size:12",
    ))
    .expect("valid");
    let name = fs.name.expect("name");
    assert_eq!(name.raw(), "a%22b%20c.txt");
    assert_eq!(name.decoded().as_deref(), Some("a\"b c.txt"));
    assert_eq!(
        fs.file_type.expect("type").params,
        Some("charset=\"UTF-8\"")
    );
    // Offsets of errors are relative to the value.
    let e = FileSelector::parse(Some("size:1 hash:sha-1:72:24")).expect_err("short hash");
    assert_eq!((e.code, e.offset, e.len), ("sdp.file-selector.hash", 7, 16));
    let e = FileSelector::parse(Some("name:\"x\" colour:red")).expect_err("unknown");
    assert_eq!((e.code, e.offset), ("sdp.file-selector.syntax", 9));
    assert!(FileSelector::parse(Some("name:\"bad\"quote\"")).is_err());
    assert!(FileSelector::parse(Some("hash:sha-1:7G:24")).is_err());
    assert_eq!(
        FileRange::parse("10-*"),
        Ok(FileRange {
            start: 10,
            stop: None
        })
    );
    assert!(FileRange::parse("0-5").is_err());
    assert!(FileRange::parse("9-5").is_err());
    assert!(FileRange::parse("1-99999999999999999999999").is_err());
    assert_eq!(encode_file_name("a\"b/c%.jpg"), "a%22b%2Fc%25.jpg");
}

// RFC 6135 has no SDP figures; this offer/answer follows its §4.2.2 text: the offerer uses
// actpass, the answerer passive, over TLS with an msrps path.
const RFC6135_OFFER: &str = "
v=0
o=alice 2890844526 2890844527 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=message 7394 TCP/TLS/MSRP *
a=setup:actpass
a=accept-types:message/cpim text/plain
a=path:msrps://192.0.2.1:7394/2s93i9ek2a;tcp
";

#[test]
fn rfc6135_setup_and_answer() {
    let buf = wire(RFC6135_OFFER);
    let offer = roundtrip_exact(&buf);
    assert!(lint(&buf).is_empty(), "{:?}", lint(&buf));
    let m = &offer.media[0];
    assert_eq!(m.setup(), Some(Ok(Setup::ActPass)));
    let cfg = AnswerConfig {
        username: "bob".into(),
        session_id: 42,
        address: "192.0.2.2".into(),
        msrp_port: 8493,
        msrp_path: "msrps://192.0.2.2:8493/si438ds;tcp".into(),
        accept_types: vec!["text/*".into()],
        ..AnswerConfig::default()
    };
    let answer = SdpBuilder::answer_for(&offer, &cfg);
    assert_eq!(
        answer,
        String::from_utf8(wire(
            "
v=0
o=bob 42 42 IN IP4 192.0.2.2
s=-
c=IN IP4 192.0.2.2
t=0 0
m=message 8493 TCP/TLS/MSRP *
a=accept-types:text/plain
a=path:msrps://192.0.2.2:8493/si438ds;tcp
a=setup:passive
"
        ))
        .expect("utf8")
    );
    assert!(lint(answer.as_bytes()).is_empty());
    let parsed = parse(answer.as_bytes()).expect("answer parses");
    assert_eq!(parsed.media[0].setup(), Some(Ok(Setup::Passive)));
    assert_eq!(Setup::Active.answer(), Setup::Passive);
    assert_eq!(Setup::Passive.answer(), Setup::Active);
    assert_eq!(
        ConnectionMode::parse("existing"),
        Ok(ConnectionMode::Existing)
    );
}

// RFC 5118 §4.6, ipv6-in-sdp (SDP body).
const RFC5118_IPV6_IN_SDP: &str = "
v=0
o=assistant 971731711378798081 0 IN IP6 2001:db8::20
s=Live video feed for today's meeting
c=IN IP6 2001:db8::20
t=3338481189 3370017201
m=audio 6000 RTP/AVP 2
a=rtpmap:2 G726-32/8000
m=video 6024 RTP/AVP 107
a=rtpmap:107 H263-1998/90000
";

// RFC 5118 §4.8, mult-ip-in-sdp (SDP body).
const RFC5118_MULT_IP: &str = "
v=0
o=bob 280744730 28977631 IN IP4 host.example.com
s=
t=0 0
m=audio 22334 RTP/AVP 0
c=IN IP4 192.0.2.1
m=video 6024 RTP/AVP 107
c=IN IP6 2001:db8::1
a=rtpmap:107 H263-1998/90000
";

// RFC 5118 §4.9, ipv4-mapped-ipv6 (SDP body).
const RFC5118_MAPPED: &str = "
v=0
o=assistant 971731711378798081 0 IN IP6 ::ffff:192.0.2.2
s=Call me soon, please!
c=IN IP6 ::ffff:192.0.2.2
t=3338481189 3370017201
m=audio 6000 RTP/AVP 2
a=rtpmap:2 G726-32/8000
m=video 6024 RTP/AVP 107
a=rtpmap:107 H263-1998/90000
";

#[test]
fn rfc5118_ipv6_connection_data() {
    let buf = wire(RFC5118_IPV6_IN_SDP);
    let sd = roundtrip_exact(&buf);
    assert_eq!(sd.origin.addr_type, "IP6");
    assert_eq!(sd.times[0].start, "3338481189");
    let c = sd.connection_for(&sd.media[1]).expect("c");
    assert_eq!(c.ip(), Some("2001:db8::20".parse::<IpAddr>().expect("ip")));
    assert!(lint(&buf).is_empty());

    let buf = wire(RFC5118_MULT_IP);
    let sd = roundtrip_exact(&buf);
    assert!(sd.connection.is_none());
    let c0 = sd.connection_for(&sd.media[0]).expect("c");
    let c1 = sd.connection_for(&sd.media[1]).expect("c");
    assert_eq!(c0.ip(), Some("192.0.2.1".parse::<IpAddr>().expect("ip")));
    assert_eq!(c1.ip(), Some("2001:db8::1".parse::<IpAddr>().expect("ip")));
    assert_eq!(
        codes(&buf),
        vec![("sdp.session-name.empty", Severity::Warning)]
    );

    let buf = wire(RFC5118_MAPPED);
    let sd = roundtrip_exact(&buf);
    let c = sd.connection.as_ref().expect("c");
    assert_eq!(
        c.ip(),
        Some("::ffff:192.0.2.2".parse::<IpAddr>().expect("ip"))
    );
}

#[test]
fn parse_errors_have_offsets() {
    // Bad port: offset points at the digits.
    let buf = wire(
        "\nv=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 70000 RTP/AVP 0\n",
    );
    let e = parse(&buf).expect_err("port");
    let at = buf.windows(5).position(|w| w == b"70000").expect("pos");
    assert_eq!((e.code, e.offset, e.len), ("sdp.media.port", at, 5));
    // Origin with five fields.
    let buf = wire("\nv=0\no=- 1 1 IN 192.0.2.1\ns=-\nt=0 0\n");
    let e = parse(&buf).expect_err("origin");
    assert_eq!((e.code, e.offset), ("sdp.origin.syntax", 7));
    // Order: s= before o=.
    let buf = wire("\nv=0\ns=-\no=- 1 1 IN IP4 192.0.2.1\nt=0 0\n");
    let e = parse(&buf).expect_err("order");
    assert_eq!((e.code, e.offset), ("sdp.line.missing", 5));
    // Bare LF is accepted by default, refused by strict options.
    let lf = b"v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\n";
    assert!(parse(lf).is_ok());
    assert_eq!(codes(lf), vec![("sdp.line.bare-lf", Severity::Warning)]);
    let e = parse_with(lf, ParseOptions::strict()).expect_err("strict");
    assert_eq!((e.code, e.offset), ("sdp.line.bare-lf", 3));
    // Missing final CRLF.
    let cut = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0";
    assert_eq!(parse(cut).map_err(|e| e.code), Err("sdp.line.unterminated"));
    let lenient = ParseOptions {
        allow_missing_final_eol: true,
        ..ParseOptions::default()
    };
    assert!(parse_with(cut, lenient).is_ok());
    // Trailing whitespace on a structured line fails strictly, passes with the leniency.
    let ws = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0 \r\n";
    assert_eq!(parse(ws).map_err(|e| e.code), Err("sdp.time.syntax"));
    let trim = ParseOptions {
        trim_trailing_whitespace: true,
        ..ParseOptions::default()
    };
    assert!(parse_with(ws, trim).is_ok());
}

const GOOD_HEAD: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

/// Every lint code, each triggered by a minimal body, with the bytes it must point at.
#[test]
fn every_lint_code() {
    let with_head = |tail: &str| format!("{GOOD_HEAD}{tail}");
    let msrp = "m=message 7394 TCP/MSRP *\r\n";
    let path = "a=path:msrp://a.example.com:7394/x;tcp\r\n";
    let acc = "a=accept-types:text/plain\r\n";
    let cases: Vec<(String, &str, Severity, &str)> = vec![
        (String::new(), "sdp.empty", Severity::Error, ""),
        (
            "v=0\r\ns=-\r\nt=0 0\r\n".into(),
            "sdp.line.missing",
            Severity::Error,
            "s=-",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nc=IN IP4 192.0.2.1\r\n".into(),
            "sdp.line.order",
            Severity::Error,
            "c=IN IP4 192.0.2.1",
        ),
        (
            with_head("x=1\r\n"),
            "sdp.line.unknown-type",
            Severity::Error,
            "x",
        ),
        (
            with_head("junk\r\n"),
            "sdp.line.syntax",
            Severity::Error,
            "junk",
        ),
        (
            with_head("a=x\0y\r\n"),
            "sdp.line.char",
            Severity::Error,
            "\0",
        ),
        (
            format!("{GOOD_HEAD}a=\u{e9}\r\n").replace('\u{e9}', "\u{1}"),
            "sdp.attribute.syntax",
            Severity::Error,
            "\u{1}",
        ),
        (
            with_head("a=tool:x "),
            "sdp.line.unterminated",
            Severity::Error,
            "",
        ),
        (
            with_head("a=tool:x \r\n"),
            "sdp.line.trailing-whitespace",
            Severity::Warning,
            " ",
        ),
        (
            with_head("a=tool:x\n"),
            "sdp.line.bare-lf",
            Severity::Warning,
            "\n",
        ),
        (
            "v=1\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n".into(),
            "sdp.version.invalid",
            Severity::Error,
            "1",
        ),
        (
            "v=0\r\no=- 1 x IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n".into(),
            "sdp.origin.syntax",
            Severity::Error,
            "x",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=\r\nt=0 0\r\n".into(),
            "sdp.session-name.empty",
            Severity::Warning,
            "s=",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nu=a b\r\nt=0 0\r\n".into(),
            "sdp.uri.syntax",
            Severity::Error,
            "a b",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\ne=nobody\r\nt=0 0\r\n".into(),
            "sdp.email.syntax",
            Severity::Error,
            "nobody",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\np=none\r\nt=0 0\r\n".into(),
            "sdp.phone.syntax",
            Severity::Error,
            "none",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1/127\r\nt=0 0\r\n".into(),
            "sdp.connection.syntax",
            Severity::Error,
            "192.0.2.1/127",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nb=AS:lots\r\nt=0 0\r\n".into(),
            "sdp.bandwidth.syntax",
            Severity::Error,
            "lots",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=12 0\r\n".into(),
            "sdp.time.syntax",
            Severity::Error,
            "12",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nr=0 1h 0\r\n".into(),
            "sdp.repeat.syntax",
            Severity::Error,
            "0",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nz=2882844526 -1x\r\n".into(),
            "sdp.zone.syntax",
            Severity::Error,
            "-1x",
        ),
        (
            with_head("k=secret\r\n"),
            "sdp.key.syntax",
            Severity::Error,
            "secret",
        ),
        (
            with_head("a=:x\r\n"),
            "sdp.attribute.syntax",
            Severity::Error,
            "",
        ),
        (
            with_head("m=audio x RTP/AVP 0\r\n"),
            "sdp.media.syntax",
            Severity::Error,
            "x",
        ),
        (
            with_head("m=audio 65536 RTP/AVP 0\r\n"),
            "sdp.media.port",
            Severity::Error,
            "65536",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n".into(),
            "sdp.media.missing-connection",
            Severity::Error,
            "m=audio 4000 RTP/AVP 0",
        ),
        (
            with_head("m=audio 4000 RTP/AVP 0\r\na=rtpmap:8 PCMA/8000\r\n"),
            "sdp.rtpmap.unknown-pt",
            Severity::Warning,
            "a=rtpmap:8 PCMA/8000",
        ),
        (
            with_head("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n"),
            "sdp.rtpmap.clock-rate",
            Severity::Warning,
            "",
        ),
        (
            with_head("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/eight\r\n"),
            "sdp.rtpmap.syntax",
            Severity::Error,
            "eight",
        ),
        (
            with_head("m=audio 4000 RTP/AVP 0\r\na=fmtp:0\r\n"),
            "sdp.fmtp.syntax",
            Severity::Error,
            "0",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{acc}"),
            "sdp.msrp.missing-path",
            Severity::Error,
            "m=message 7394 TCP/MSRP *",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{path}"),
            "sdp.msrp.missing-accept-types",
            Severity::Error,
            "m=message 7394 TCP/MSRP *",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{acc}a=path:http://x/\r\n"),
            "sdp.msrp.path",
            Severity::Error,
            "http://x/",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{path}a=accept-types:text\r\n"),
            "sdp.msrp.accept-types",
            Severity::Error,
            "text",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{path}{acc}a=max-size:big\r\n"),
            "sdp.msrp.max-size",
            Severity::Error,
            "big",
        ),
        (
            format!("{GOOD_HEAD}m=message 7394 TCP/MSRP 0\r\n{path}{acc}"),
            "sdp.msrp.format",
            Severity::Warning,
            "m=message 7394 TCP/MSRP 0",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{path}{acc}a=connection:new\r\n"),
            "sdp.msrp.connection-attr",
            Severity::Warning,
            "a=connection:new",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{path}{acc}a=setup:maybe\r\n"),
            "sdp.setup.invalid",
            Severity::Error,
            "maybe",
        ),
        (
            with_head("m=audio 4000 RTP/AVP 0\r\na=connection:old\r\n"),
            "sdp.connection-attr.invalid",
            Severity::Error,
            "old",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{path}{acc}a=file-selector:size:x\r\n"),
            "sdp.file-selector.syntax",
            Severity::Error,
            "size:x",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{path}{acc}a=file-selector:hash:sha-1:AB:CD\r\n"),
            "sdp.file-selector.hash",
            Severity::Error,
            "hash:sha-1:AB:CD",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{path}{acc}a=file-transfer-id:a b\r\n"),
            "sdp.file-transfer-id.syntax",
            Severity::Error,
            "a b",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{path}{acc}a=file-disposition:a\"b\r\n"),
            "sdp.file-disposition.syntax",
            Severity::Error,
            "a\"b",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{path}{acc}a=file-date:creation:now\r\n"),
            "sdp.file-date.syntax",
            Severity::Error,
            "creation:now",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{path}{acc}a=file-range:5-2\r\n"),
            "sdp.file-range.syntax",
            Severity::Error,
            "5-2",
        ),
        (
            format!("{GOOD_HEAD}{msrp}{path}{acc}a=file-icon:http://x\r\n"),
            "sdp.file-icon.syntax",
            Severity::Error,
            "http://x",
        ),
        (
            with_head("a=sendonly\r\na=recvonly\r\n"),
            "sdp.direction.multiple",
            Severity::Error,
            "a=recvonly",
        ),
        (
            with_head("a=sendonly:x\r\n"),
            "sdp.direction.invalid",
            Severity::Error,
            "a=sendonly:x",
        ),
    ];
    for (body, code, sev, span) in &cases {
        let buf = body.as_bytes();
        let found = lint(buf);
        let f = found
            .iter()
            .find(|f| f.error.code == *code)
            .unwrap_or_else(|| panic!("{code} not reported for {body:?}: {found:?}"));
        assert_eq!(f.severity, *sev, "{code}");
        let end = (f.error.offset + f.error.len).min(buf.len());
        let got = &buf[f.error.offset.min(buf.len())..end];
        if !span.is_empty() {
            assert_eq!(got, span.as_bytes(), "{code} span in {body:?}");
        }
        // Every error in strict parse is also what parse reports first.
        if *sev == Severity::Error && !code.starts_with("sdp.msrp") {
            let strict = parse(buf);
            let is_semantic = matches!(
                *code,
                "sdp.media.missing-connection"
                    | "sdp.rtpmap.syntax"
                    | "sdp.rtpmap.clock-rate"
                    | "sdp.fmtp.syntax"
                    | "sdp.setup.invalid"
                    | "sdp.connection-attr.invalid"
                    | "sdp.direction.multiple"
                    | "sdp.direction.invalid"
            ) || code.starts_with("sdp.file-");
            if !is_semantic {
                assert!(strict.is_err(), "{code}: parse accepted {body:?}");
            }
        }
    }
}

#[test]
fn lint_reports_all_problems() {
    let buf = b"v=0\r\ns=\r\nt=0 0 \r\nm=message 99999 TCP/MSRP *\r\na=setup:x\n";
    let c = codes(buf);
    let want = [
        "sdp.line.missing",
        "sdp.session-name.empty",
        "sdp.line.trailing-whitespace",
        "sdp.media.port",
        "sdp.line.bare-lf",
        "sdp.setup.invalid",
    ];
    for w in want {
        assert!(c.iter().any(|(code, _)| *code == w), "{w} missing in {c:?}");
    }
    assert!(error_codes(buf).len() >= 3);
}

#[test]
fn builder_offer_roundtrips() {
    let hash = Hash {
        algorithm: "sha-1",
        hex: "",
        bytes: SHA1_A.to_vec(),
    };
    let name = encode_file_name("My cool picture.jpg");
    let fs = FileSelector {
        name: Some(FileName(&name)),
        file_type: Some(FileType {
            media_type: "image/jpeg",
            params: None,
        }),
        size: Some(4092),
        hashes: vec![hash],
    };
    let offer = SdpBuilder::new("alice", 2890844526, "2001:db8::1")
        .media(MediaBuilder::audio(
            49170,
            &[
                AudioCodec::Pcmu,
                AudioCodec::Pcma,
                AudioCodec::TelephoneEvent,
            ],
        ))
        .media(
            MediaBuilder::msrp(7654, false, "msrp://[2001:db8::1]:7654/jshA7we;tcp")
                .direction(Direction::SendOnly)
                .accept_types(&["message/cpim"])
                .accept_wrapped_types(&["*"])
                .max_size(20000)
                .setup(Setup::ActPass)
                .file_selector(Some(&fs))
                .file_transfer_id("Q6LMoGymJdh0IKIgD6wD0jkcfgva4xvE")
                .file_disposition("render"),
        )
        .build();
    assert_eq!(
        offer,
        "v=0\r\no=alice 2890844526 2890844526 IN IP6 2001:db8::1\r\ns=-\r\n\
         c=IN IP6 2001:db8::1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\n\
         a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\nm=message 7654 TCP/MSRP *\r\n\
         a=path:msrp://[2001:db8::1]:7654/jshA7we;tcp\r\na=sendonly\r\n\
         a=accept-types:message/cpim\r\na=accept-wrapped-types:*\r\na=max-size:20000\r\n\
         a=setup:actpass\r\na=file-selector:name:\"My cool picture.jpg\" type:image/jpeg \
         size:4092 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E\r\n\
         a=file-transfer-id:Q6LMoGymJdh0IKIgD6wD0jkcfgva4xvE\r\na=file-disposition:render\r\n"
    );
    assert!(
        lint(offer.as_bytes()).is_empty(),
        "{:?}",
        lint(offer.as_bytes())
    );
    let sd = roundtrip_exact(offer.as_bytes());
    assert_eq!(
        sd.media[1].file_selector().expect("fs").expect("ok").hashes[0].sha1(),
        Some(SHA1_A)
    );
}

#[test]
fn answer_for_file_offer_and_audio() {
    let buf = wire(RFC5547_FIG8);
    let offer = parse(&buf).expect("offer");
    let cfg = AnswerConfig {
        username: "bob".into(),
        session_id: 2890844656,
        address: "bobpc.example.com".into(),
        msrp_port: 8888,
        msrp_path: "msrp://bobpc.example.com:8888/9di4ea;tcp".into(),
        accept_types: vec!["message/cpim".into(), "text/plain".into()],
        accept_wrapped_types: vec!["*".into()],
        ..AnswerConfig::default()
    };
    let answer = SdpBuilder::answer_for(&offer, &cfg);
    // RFC 5547 §9.1 Figure 9, except s=- for the empty name.
    let mut want = String::from_utf8(wire(RFC5547_FIG9)).expect("utf8");
    want = want.replace("s=\r\n", "s=-\r\n");
    // RFC 6135 §4.2.1 adds a=setup to every MSRP answer; the RFC 5547 figure predates it.
    want.push_str("a=setup:passive\r\n");
    // Our attribute order puts the direction after path; compare as sets of lines.
    let mut a: Vec<&str> = answer.lines().collect();
    let mut w: Vec<&str> = want.lines().collect();
    a.sort_unstable();
    w.sort_unstable();
    assert_eq!(a, w);
    assert!(
        lint(answer.as_bytes()).is_empty(),
        "{:?}",
        lint(answer.as_bytes())
    );

    let audio_offer = wire(
        "
v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 4000 RTP/AVP 96 8 0 97
a=rtpmap:96 opus/48000/2
a=rtpmap:97 telephone-event/8000
m=video 4002 RTP/AVP 99
a=rtpmap:99 h263-1998/90000
",
    );
    let offer = parse(&audio_offer).expect("audio offer");
    let cfg = AnswerConfig {
        username: "bob".into(),
        session_id: 7,
        address: "192.0.2.9".into(),
        audio_port: 5000,
        audio_codecs: vec![
            AudioCodec::Pcmu,
            AudioCodec::Pcma,
            AudioCodec::TelephoneEvent,
        ],
        ..AnswerConfig::default()
    };
    let answer = SdpBuilder::answer_for(&offer, &cfg);
    assert_eq!(
        answer,
        "v=0\r\no=bob 7 7 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
         m=audio 5000 RTP/AVP 8 97\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:97 telephone-event/8000\r\n\
         a=fmtp:97 0-16\r\nm=video 0 RTP/AVP 99\r\n"
    );
    assert!(lint(answer.as_bytes()).is_empty());
}

#[test]
fn session_direction_is_inherited() {
    let buf = format!(
        "{GOOD_HEAD}a=recvonly\r\nm=audio 1 RTP/AVP 0\r\nm=audio 2 RTP/AVP 0\r\na=inactive\r\n"
    );
    let sd = parse(buf.as_bytes()).expect("parse");
    assert_eq!(sd.direction_of(&sd.media[0]), Direction::RecvOnly);
    assert_eq!(sd.direction_of(&sd.media[1]), Direction::Inactive);
}

#[test]
fn multicast_repeat_zone_and_key() {
    let buf = wire(
        "
v=0
o=- 1 1 IN IP4 192.0.2.1
s=Seminar
c=IN IP4 233.252.0.1/127/3
b=CT:128
t=3724394400 3724398000
r=7d 1h 0 25h
z=3730928400 -1h 3749680800 0
k=prompt
a=recvonly
m=audio 49170/2 RTP/AVP 0
c=IN IP6 ff15::101/3
",
    );
    let sd = roundtrip_exact(&buf);
    let c = sd.connection.as_ref().expect("c");
    assert_eq!((c.host(), c.address), ("233.252.0.1", "233.252.0.1/127/3"));
    assert_eq!(
        sd.bandwidths,
        vec![Bandwidth {
            bwtype: "CT",
            bandwidth: 128
        }]
    );
    assert_eq!(sd.times[0].repeats[0].offsets, vec!["0", "25h"]);
    assert_eq!(sd.times[0].zone.len(), 2);
    assert_eq!(sd.media[0].port_count, Some(2));
    assert!(lint(&buf).is_empty(), "{:?}", lint(&buf));
    // A unicast address may not carry a TTL.
    let bad = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1/127\r\nt=0 0\r\n";
    assert_eq!(parse(bad).map_err(|e| e.code), Err("sdp.connection.syntax"));
}

#[test]
fn utf8_duplicates_and_prefixes() {
    let mut buf = format!("{GOOD_HEAD}a=tool:x").into_bytes();
    buf.push(0xff);
    buf.extend_from_slice(b"\r\n");
    let f = lint(&buf);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].error.code, "sdp.line.utf8");
    assert_eq!(f[0].error.offset, buf.len() - 3);
    assert_eq!(parse(&buf).map_err(|e| e.offset), Err(buf.len() - 3));

    // A second s= is out of order; so is a session-level line inside a media section.
    let dup = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\ns=-\r\nt=0 0\r\n";
    let e = parse(dup).expect_err("dup");
    assert_eq!((e.code, e.offset), ("sdp.line.order", 36));
    let inside = format!("{GOOD_HEAD}m=audio 1 RTP/AVP 0\r\nt=0 0\r\n");
    let e = parse(inside.as_bytes()).expect_err("t in media");
    assert_eq!((e.code, e.offset), ("sdp.line.order", GOOD_HEAD.len() + 21));
    // Missing t= is reported at the end.
    let no_t = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n";
    let e = parse(no_t).expect_err("no t");
    assert_eq!(
        (e.code, e.offset, e.len),
        ("sdp.line.missing", no_t.len(), 0)
    );

    // Every prefix: no panic; a prefix that stops mid-line is unterminated, one that stops at a
    // line end is either complete or missing lines.
    let full = wire(RFC5547_FIG2);
    for n in 0..full.len() {
        let p = &full[..n];
        let _ = lint(p);
        match parse(p) {
            Ok(_) => assert!(p.ends_with(b"\r\n")),
            Err(e) if n > 0 && !p.ends_with(b"\n") => assert!(
                matches!(e.code, "sdp.line.unterminated" | "sdp.line.bare-lf"),
                "{n}: {e}"
            ),
            Err(_) => {}
        }
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("c=IN IP4 192.0.2.1".to_string()),
            Just("c=IN IP6 2001:db8::1".to_string()),
            "[a-z]{1,8}".prop_map(|n| format!("a={n}")),
            ("[a-z-]{1,8}", "[ -~]{1,20}").prop_map(|(n, v)| format!("a={n}:{v}")),
            (0u32..70000, "[A-Z/]{1,10}", "[0-9*]{1,3}")
                .prop_map(|(p, proto, f)| format!("m=audio {p} {proto} {f}")),
            "[ -~]{0,10}".prop_map(|t| format!("i={t}")),
            (0u64..10000).prop_map(|b| format!("b=AS:{b}")),
            Just("t=0 0".to_string()),
            Just("k=prompt".to_string()),
            Just("r=7d 1h 0".to_string()),
        ]
    }

    fn body() -> impl Strategy<Value = String> {
        (prop::collection::vec(line(), 0..12), any::<bool>()).prop_map(|(lines, lf)| {
            let eol = if lf { "\n" } else { "\r\n" };
            let mut s = format!("v=0{eol}o=- 1 2 IN IP4 192.0.2.1{eol}s=x{eol}");
            for l in lines {
                s.push_str(&l);
                s.push_str(eol);
            }
            s
        })
    }

    /// Mostly valid descriptions, so the round trip is exercised on accepted input.
    fn valid_body() -> impl Strategy<Value = String> {
        let attr = prop_oneof![
            "[a-z]{1,8}".prop_map(|n| format!("a={n}\r\n")),
            ("[a-z-]{1,8}", "[!-~][ -~]{0,20}").prop_map(|(n, v)| format!("a={n}:{v}\r\n")),
        ];
        let media = (
            0u16..,
            prop::option::of(1u32..9),
            prop_oneof![Just("RTP/AVP"), Just("TCP/MSRP"), Just("TCP/TLS/MSRP")],
            prop::collection::vec("[0-9*]{1,3}", 1..4),
            prop::option::of("[ -~]{0,12}"),
            prop::collection::vec(attr.clone(), 0..4),
        )
            .prop_map(|(port, count, proto, fmts, info, attrs)| {
                let mut s = format!("m=message {port}");
                if let Some(c) = count {
                    s.push_str(&format!("/{c}"));
                }
                s.push_str(&format!(" {proto} {}\r\n", fmts.join(" ")));
                if let Some(i) = info {
                    s.push_str(&format!("i={i}\r\n"));
                }
                s.push_str("c=IN IP6 2001:db8::7\r\nb=AS:64\r\n");
                s.extend(attrs);
                s
            });
        (
            "[ -~]{1,16}",
            prop::collection::vec(attr, 0..4),
            prop::collection::vec(media, 0..4),
        )
            .prop_map(|(name, attrs, media)| {
                let mut s = format!(
                    "v=0\r\no=u 1 2 IN IP4 h.example.com\r\ns={name}\r\nt=0 0\r\nr=1d 1h 0 3h\r\n"
                );
                s.extend(attrs);
                s.extend(media);
                s
            })
    }

    proptest! {
        #[test]
        fn valid_bodies_roundtrip(s in valid_body()) {
            let sd = parse(s.as_bytes());
            prop_assert!(sd.is_ok(), "{:?}", sd);
            let sd = sd.expect("checked");
            let text = sd.to_string();
            prop_assert_eq!(parse(text.as_bytes()), Ok(sd));
        }

        #[test]
        fn reserialized_parses_the_same(s in body()) {
            if let Ok(sd) = parse(s.as_bytes()) {
                let text = sd.to_string();
                let again = parse(text.as_bytes());
                prop_assert_eq!(again, Ok(sd));
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(sd) = parse(&bytes) {
                let text = sd.to_string();
                prop_assert_eq!(parse(text.as_bytes()), Ok(sd.clone()));
            }
            for f in lint(&bytes) {
                prop_assert!(f.error.offset <= bytes.len());
            }
        }

        #[test]
        fn mutated_examples_never_panic(idx in 0usize..2000, b in any::<u8>()) {
            let mut buf = wire(RFC5547_FIG2);
            let i = idx % buf.len();
            buf[i] = b;
            let _ = lint(&buf);
            if let Ok(sd) = parse(&buf) {
                for m in &sd.media {
                    let _ = m.file_selector();
                    let _ = m.file_date();
                    let _ = m.accept_types();
                    let _ = m.rtpmaps().count();
                }
                let text = sd.to_string();
                prop_assert_eq!(parse(text.as_bytes()), Ok(sd.clone()));
            }
        }
    }
}

/// Found by the `sdp_parse` fuzz target: `v=` alone gave an error one byte past the end.
#[test]
fn issue2_truncated_version_line_error_stays_in_bounds() {
    let opts = crate::proto::sdp::ParseOptions {
        allow_missing_final_eol: true,
        ..Default::default()
    };
    let e = crate::proto::sdp::parse_with(b"v=", opts).expect_err("no version number");
    assert_eq!(e.code, "sdp.version.invalid");
    assert!(e.offset + e.len <= 2, "{e:?}");
}

/// Issue 14: a body of many bad lines stores a few findings per code, whatever its size.
#[test]
fn lint_stores_a_few_findings_per_code_and_counts_the_rest() {
    let body = format!("v=0\r\n{}", "junk\r\n".repeat(10_000));
    let found = lint(body.as_bytes());
    let syntax: Vec<_> = found
        .iter()
        .filter(|f| f.error.code == "sdp.line.syntax")
        .collect();
    assert_eq!(syntax.len(), crate::proto::error::SHOWN_PER_CODE);
    assert!(
        syntax[syntax.len() - 1]
            .error
            .message
            .ends_with("(9995 more `sdp.line.syntax` findings after this one not shown)"),
        "{:?}",
        syntax.last()
    );
}

/// Issue 15: SIPp over IPv6 writes `o=... IN IP6 [::1]`; the leniency takes it as written,
/// the strict grammar does not, and brackets elsewhere stay errors.
#[test]
fn issue_15_a_bracketed_ipv6_origin_is_taken_only_when_allowed() {
    let sdp = b"v=0\r\no=user1 53655765 2353687637 IN IP6 [::1]\r\ns=-\r\nc=IN IP6 ::1\r\n\
                t=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";
    let e = crate::proto::sdp::parse(sdp).expect_err("strict");
    assert_eq!(e.code, "sdp.origin.syntax");
    let lenient = crate::proto::sdp::ParseOptions {
        allow_bracketed_origin_ipv6: true,
        ..Default::default()
    };
    let sd = crate::proto::sdp::parse_with(sdp, lenient).expect("lenient");
    assert_eq!(sd.origin.address, "[::1]");
    for bad in [
        "o=u 1 1 IN IP4 [127.0.0.1]",
        "o=u 1 1 IN IP6 [nothost]",
        "o=u 1 1 IN IP6 [::1",
    ] {
        let text = format!("v=0\r\n{bad}\r\ns=-\r\nt=0 0\r\n");
        let e = crate::proto::sdp::parse_with(text.as_bytes(), lenient).expect_err(bad);
        assert_eq!(e.code, "sdp.origin.syntax", "{bad}");
    }
}
