//! `sipkit decode-pcap` (issue #3) on captures built here with the capture layer's writer: every
//! test runs the real binary and reads its JSON Lines with serde_json.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sipkit::capture::write::{
    Link, PcapFormat, PcapWriter, TcpFlags, fragment, hep3, ip_packet, ip_tcp, ip_udp, udp_segment,
    ws_frame, ws_opcode, ws_upgrade_request, ws_upgrade_response,
};
use sipkit::capture::{Timestamp, Transport};

use crate::support::{json_lines, sipkit, stdout_of, tempdir};

const ALICE: &str = "10.0.0.1:5060";
const BOB: &str = "10.0.0.2:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// A capture being built: one link type, timestamps 10 ms apart from 2024-01-01.
struct Cap {
    link: Link,
    packets: Vec<(Timestamp, Vec<u8>)>,
    /// Next TCP sequence number per (src, dst).
    seq: Vec<((SocketAddr, SocketAddr), u32)>,
}

impl Cap {
    fn new(link: Link) -> Cap {
        Cap {
            link,
            packets: Vec::new(),
            seq: Vec::new(),
        }
    }

    fn time(&self) -> Timestamp {
        let ms = self.packets.len() as i64 * 10;
        Timestamp {
            secs: 1_704_067_200 + ms / 1000,
            nanos: (ms % 1000) as u32 * 1_000_000 + 123,
        }
    }

    fn ip(&mut self, ip: &[u8]) -> &mut Cap {
        let frame = self.link.wrap(ip);
        let t = self.time();
        self.packets.push((t, frame));
        self
    }

    fn udp(&mut self, src: &str, dst: &str, payload: &[u8]) -> &mut Cap {
        self.ip(&ip_udp(addr(src), addr(dst), payload))
    }

    fn next_seq(&mut self, src: SocketAddr, dst: SocketAddr, len: usize) -> u32 {
        let i = match self.seq.iter().position(|(k, _)| *k == (src, dst)) {
            Some(i) => i,
            None => {
                self.seq.push(((src, dst), 1000));
                self.seq.len() - 1
            }
        };
        let s = self.seq[i].1;
        self.seq[i].1 = s.wrapping_add(len as u32);
        s
    }

    /// TCP segments carrying `payload` cut at `cuts`; `order` permutes them and `lose` drops
    /// some (indexes into the cut list).
    fn tcp(
        &mut self,
        src: &str,
        dst: &str,
        payload: &[u8],
        cuts: &[usize],
        order: Option<&[usize]>,
        lose: &[usize],
    ) -> &mut Cap {
        let (s, d) = (addr(src), addr(dst));
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(payload.len());
        let segs: Vec<(u32, &[u8])> = bounds
            .windows(2)
            .map(|w| {
                let seq = self.next_seq(s, d, w[1] - w[0]);
                (seq, &payload[w[0]..w[1]])
            })
            .collect();
        let natural: Vec<usize> = (0..segs.len()).collect();
        for &i in order.unwrap_or(&natural) {
            if lose.contains(&i) {
                continue;
            }
            let (seq, data) = segs[i];
            self.ip(&ip_tcp(s, d, seq, 1, TcpFlags::DATA, data));
        }
        self
    }

    fn syn(&mut self, src: &str, dst: &str) -> &mut Cap {
        let (s, d) = (addr(src), addr(dst));
        let seq = self.next_seq(s, d, 1);
        self.ip(&ip_tcp(s, d, seq, 0, TcpFlags::SYN, b""))
    }

    fn bytes(&self) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new(), PcapFormat::new(self.link.linktype()))
            .expect("writing to memory");
        for (t, p) in &self.packets {
            w.write_packet(*t, p).expect("writing to memory");
        }
        w.into_inner()
    }

    fn save(&self, dir: &Path) -> PathBuf {
        let path = dir.join("capture.pcap");
        std::fs::write(&path, self.bytes()).expect("writing the capture");
        path
    }
}

fn sip_request(method: &str, call_id: &str, cseq: u32, to_tag: bool, body: &str) -> String {
    let ctype = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".into()
    };
    format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{call_id}{cseq}{method}\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@example.com>;tag=a1\r\n\
To: Bob <sip:bob@example.com>{}\r\n\
Call-ID: {call_id}\r\n\
CSeq: {cseq} {method}\r\n\
{ctype}Content-Length: {}\r\n\r\n{body}",
        if to_tag { ";tag=b2" } else { "" },
        body.len()
    )
}

fn sip_response(code: u16, reason: &str, call_id: &str, cseq: u32, method: &str) -> String {
    format!(
        "SIP/2.0 {code} {reason}\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{call_id}{cseq}{method}\r\n\
From: Alice <sip:alice@example.com>;tag=a1\r\n\
To: Bob <sip:bob@example.com>;tag=b2\r\n\
Call-ID: {call_id}\r\n\
CSeq: {cseq} {method}\r\n\
Content-Length: 0\r\n\r\n"
    )
}

const SDP: &str = "v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// A whole answered call over UDP, Alice to Bob.
fn answered_call(cap: &mut Cap, call_id: &str) {
    cap.udp(
        ALICE,
        BOB,
        sip_request("INVITE", call_id, 1, false, SDP).as_bytes(),
    )
    .udp(
        BOB,
        ALICE,
        sip_response(100, "Trying", call_id, 1, "INVITE").as_bytes(),
    )
    .udp(
        BOB,
        ALICE,
        sip_response(180, "Ringing", call_id, 1, "INVITE").as_bytes(),
    )
    .udp(
        BOB,
        ALICE,
        sip_response(200, "OK", call_id, 1, "INVITE").as_bytes(),
    )
    .udp(
        ALICE,
        BOB,
        sip_request("ACK", call_id, 1, true, "").as_bytes(),
    )
    .udp(
        ALICE,
        BOB,
        sip_request("BYE", call_id, 2, true, "").as_bytes(),
    )
    .udp(
        BOB,
        ALICE,
        sip_response(200, "OK", call_id, 2, "BYE").as_bytes(),
    );
}

fn decode(path: &Path, args: &[&str]) -> std::process::Output {
    sipkit()
        .arg("decode-pcap")
        .args(args)
        .arg(path)
        .output()
        .expect("running sipkit")
}

fn messages(out: &std::process::Output) -> Vec<Value> {
    json_lines(out)
        .into_iter()
        .filter(|v| v["type"] == "message")
        .collect()
}

/// `frame:method-or-status` for each message.
fn summary(out: &std::process::Output) -> Vec<String> {
    messages(out)
        .iter()
        .map(|m| {
            let what = if m["kind"] == "request" {
                m["method"].as_str().unwrap_or("?").to_string()
            } else {
                m["status"].to_string()
            };
            format!("{}:{what}", m["frame"])
        })
        .collect()
}

#[test]
fn udp_call_as_json_lines_issue_3() {
    let dir = tempdir();
    let mut cap = Cap::new(Link::ethernet());
    answered_call(&mut cap, "call-1");
    cap.udp("10.0.0.9:4000", BOB, b"\x80\x00 not sip at all");
    let out = decode(&cap.save(dir.path()), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        summary(&out),
        [
            "1:INVITE", "2:100", "3:180", "4:200", "5:ACK", "6:BYE", "7:200"
        ]
    );
    let m = messages(&out);
    let invite = &m[0];
    assert_eq!(invite["time"], "2024-01-01T00:00:00.000000123Z");
    assert_eq!(invite["src_ip"], "10.0.0.1");
    assert_eq!(invite["src_port"], 5060);
    assert_eq!(invite["dst_ip"], "10.0.0.2");
    assert_eq!(invite["transport"], "udp");
    assert_eq!(invite["protocol"], "sip");
    assert_eq!(invite["request_uri"], "sip:bob@example.com");
    assert_eq!(invite["call_id"], "call-1");
    assert_eq!(invite["cseq"]["seq"], 1);
    assert_eq!(invite["cseq"]["method"], "INVITE");
    assert_eq!(invite["from"]["tag"], "a1");
    assert_eq!(invite["from"]["display"], "Alice");
    assert_eq!(invite["to"]["tag"], Value::Null);
    assert_eq!(invite["via_branch"], "z9hG4bKcall-11INVITE");
    let names: Vec<&str> = invite["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|h| h["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "Via",
            "Max-Forwards",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Content-Type",
            "Content-Length"
        ]
    );
    assert_eq!(invite["body"]["encoding"], "text");
    assert_eq!(invite["body"]["data"], SDP);
    assert_eq!(invite["sdp"]["media"][0]["media"], "audio");
    assert_eq!(invite["sdp"]["media"][0]["port"], 49170);
    assert_eq!(m[3]["reason"], "OK");
    assert_eq!(m[3]["sdp"], Value::Null);
}

#[test]
fn human_listing_has_one_line_per_message() {
    let dir = tempdir();
    let mut cap = Cap::new(Link::ethernet());
    answered_call(&mut cap, "call-1");
    let out = decode(&cap.save(dir.path()), &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout_of(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert!(lines[0].contains("10.0.0.1:5060 → 10.0.0.2:5060 UDP INVITE sip:bob@example.com"));
    assert!(lines[0].contains("CSeq 1 INVITE"));
    assert!(lines[0].contains("Call-ID call-1"));
    assert!(lines[2].contains("180 Ringing"));
    assert!(!text.contains('\x1b'), "no colour into a pipe");
    let full = stdout_of(&decode(&cap.save(dir.path()), &["--full"]));
    assert!(full.contains("    Max-Forwards: 70"));
    assert!(full.contains("    a=rtpmap:0 PCMU/8000"));
}

#[test]
fn tcp_split_merged_out_of_order_and_lost_segments_issue_3() {
    let dir = tempdir();
    let invite = sip_request("INVITE", "tcp-1", 1, false, SDP);
    let ok = sip_response(200, "OK", "tcp-1", 1, "INVITE");
    let bye = sip_request("BYE", "tcp-1", 2, true, "");
    let msg = sip_request("MESSAGE", "tcp-2", 1, false, "");
    let mut cap = Cap::new(Link::ethernet());
    cap.syn(ALICE, BOB);
    // The INVITE in three segments, the second and third swapped.
    cap.tcp(
        ALICE,
        BOB,
        invite.as_bytes(),
        &[50, 200],
        Some(&[0, 2, 1]),
        &[],
    );
    // 200 and BYE in one segment (in the other direction and this one).
    cap.syn(BOB, ALICE);
    cap.tcp(BOB, ALICE, ok.as_bytes(), &[], None, &[]);
    // A MESSAGE whose middle segment is lost, then a BYE that must still be read.
    let both = format!("{msg}{bye}");
    cap.tcp(ALICE, BOB, both.as_bytes(), &[40, 80], None, &[1]);
    let out = decode(&cap.save(dir.path()), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let got: Vec<String> = messages(&out)
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m["transport"].as_str().unwrap_or("?"),
                m["method"].as_str().unwrap_or("resp")
            )
        })
        .collect();
    // The MESSAGE is shown as far as it was captured, and says so (issue 14).
    assert_eq!(got, ["tcp INVITE", "tcp resp", "tcp MESSAGE", "tcp BYE"]);
    let cut = &messages(&out)[2];
    let codes: Vec<&str> = cut["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert!(codes.contains(&"capture.truncated"), "{codes:?}");
    assert_eq!(cut["body"], Value::Null);
    assert_eq!(messages(&out)[3]["diagnostics"], serde_json::json!([]));
    let lines = json_lines(&out);
    assert!(
        lines
            .iter()
            .any(|v| v["type"] == "gap" && v["missing"] == 40),
        "{lines:?}"
    );
    // The bytes after the gap, up to the BYE, are the one thing not shown as a message.
    let dropped: Vec<&Value> = lines.iter().filter(|v| v["type"] == "dropped").collect();
    assert_eq!(dropped.len(), 1, "{lines:?}");
    // -q leaves the notices out, not the messages.
    let quiet = decode(&cap.save(dir.path()), &["--format", "json", "-q"]);
    let types: Vec<Value> = json_lines(&quiet)
        .into_iter()
        .map(|v| v["type"].clone())
        .collect();
    assert_eq!(types, ["message", "message", "message", "message"]);
}

#[test]
fn ip_fragments_v4_and_v6_are_reassembled() {
    let dir = tempdir();
    let mut cap = Cap::new(Link::ethernet());
    let big = sip_request("MESSAGE", "frag-4", 1, false, &"x".repeat(3000));
    let (s, d) = (addr(ALICE), addr(BOB));
    let packet = ip_packet(s.ip(), d.ip(), 17, 77, &udp_segment(s, d, big.as_bytes()));
    for f in fragment(&packet, 1400, 77) {
        cap.ip(&f);
    }
    let (s6, d6) = (addr("[2001:db8::1]:5060"), addr("[2001:db8::2]:5060"));
    let big6 = sip_request("MESSAGE", "frag-6", 1, false, &"y".repeat(3000));
    let packet6 = ip_packet(
        s6.ip(),
        d6.ip(),
        17,
        0,
        &udp_segment(s6, d6, big6.as_bytes()),
    );
    for f in fragment(&packet6, 1400, 99) {
        cap.ip(&f);
    }
    let out = decode(&cap.save(dir.path()), &["--format", "json"]);
    let m = messages(&out);
    assert_eq!(m.len(), 2, "{:?}", stdout_of(&out));
    assert_eq!(m[0]["call_id"], "frag-4");
    assert_eq!(m[0]["frame"], 3, "the frame that completed the datagram");
    assert_eq!(m[1]["call_id"], "frag-6");
    assert_eq!(m[1]["src_ip"], "2001:db8::1");
    assert_eq!(m[1]["body"]["data"].as_str().map(str::len), Some(3000));
}

#[test]
fn vlan_and_sll2_links() {
    for link in [
        Link::Ethernet {
            vlans: vec![100, 200],
        },
        Link::Sll2,
        Link::Raw,
    ] {
        let dir = tempdir();
        let mut cap = Cap::new(link.clone());
        answered_call(&mut cap, "link");
        let out = decode(&cap.save(dir.path()), &["--format", "json"]);
        assert_eq!(messages(&out).len(), 7, "{link:?}: {}", stdout_of(&out));
    }
}

#[test]
fn hep3_gives_the_inner_addresses() {
    let dir = tempdir();
    let mut cap = Cap::new(Link::ethernet());
    let inner = sip_request("OPTIONS", "hep-1", 1, false, "");
    let t = Timestamp {
        secs: 1_700_000_000,
        nanos: 5_000,
    };
    let hep = hep3(
        addr("192.0.2.1:5060"),
        addr("192.0.2.2:5080"),
        Transport::Udp,
        t,
        inner.as_bytes(),
    );
    cap.udp("10.9.9.9:9060", "10.9.9.10:9060", &hep);
    let out = decode(&cap.save(dir.path()), &["--format", "json"]);
    let m = messages(&out);
    assert_eq!(m.len(), 1, "{}", stdout_of(&out));
    assert_eq!(m[0]["src_ip"], "192.0.2.1");
    assert_eq!(m[0]["dst_port"], 5080);
    assert_eq!(m[0]["time"], "2023-11-14T22:13:20.000005000Z");
}

/// SIP over WebSocket: SYNs, the HTTP upgrade (frames 3 and 4), a masked REGISTER in two
/// segments (5, 6), its 200 OK (7), then an OPTIONS on the same connection (8).
fn websocket_call() -> Cap {
    let mut cap = Cap::new(Link::ethernet());
    let (c, s) = ("10.0.0.1:50000", "10.0.0.2:443");
    cap.syn(c, s).syn(s, c);
    cap.tcp(c, s, &ws_upgrade_request("example.com"), &[], None, &[]);
    cap.tcp(s, c, &ws_upgrade_response(), &[], None, &[]);
    let reg = sip_request("REGISTER", "ws-1", 1, false, "");
    let frame = ws_frame(true, ws_opcode::TEXT, Some([1, 2, 3, 4]), reg.as_bytes());
    cap.tcp(c, s, &frame, &[30], None, &[]);
    let ok = sip_response(200, "OK", "ws-1", 1, "REGISTER");
    cap.tcp(
        s,
        c,
        &ws_frame(true, ws_opcode::TEXT, None, ok.as_bytes()),
        &[],
        None,
        &[],
    );
    let options = sip_request("OPTIONS", "ws-2", 1, false, "");
    cap.tcp(
        c,
        s,
        &ws_frame(
            true,
            ws_opcode::TEXT,
            Some([5, 6, 7, 8]),
            options.as_bytes(),
        ),
        &[],
        None,
        &[],
    );
    cap
}

/// Issue 14: `--write` of messages carried over WebSocket writes the packets of the
/// connection's HTTP upgrade (request and 101) too, so the written file decodes as WebSocket
/// again (before: only the frames' packets, which decode as nothing).
#[test]
fn issue_14_write_of_a_websocket_call_includes_the_http_upgrade() {
    let dir = tempdir();
    let path = websocket_call().save(dir.path());
    let original = decode(&path, &["--format", "json"]);
    assert_eq!(summary(&original), ["6:REGISTER", "7:200", "8:OPTIONS"]);
    for (filter, want) in [
        (&["--call-id", "ws-1"][..], &["4:REGISTER", "5:200"][..]),
        (&["--status", "200"], &["3:200"]),
        (&["--method", "OPTIONS"], &["3:OPTIONS"]),
    ] {
        let written = dir.path().join(format!("{}.pcap", filter[1]));
        let out = sipkit()
            .arg("decode-pcap")
            .args(filter)
            .arg("--write")
            .arg(&written)
            .arg(&path)
            .output()
            .expect("running sipkit");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let again = decode(&written, &["--format", "json"]);
        // Frames renumbered in the new file: the upgrade is frames 1 and 2.
        assert_eq!(summary(&again), want, "{filter:?}: {}", stdout_of(&again));
        assert!(
            messages(&again).iter().all(|m| m["transport"] == "ws"),
            "{filter:?}"
        );
    }
}

#[test]
fn sip_over_websocket() {
    let dir = tempdir();
    let mut cap = Cap::new(Link::ethernet());
    let (c, s) = ("10.0.0.1:50000", "10.0.0.2:443");
    cap.syn(c, s).syn(s, c);
    cap.tcp(c, s, &ws_upgrade_request("example.com"), &[], None, &[]);
    cap.tcp(s, c, &ws_upgrade_response(), &[], None, &[]);
    let reg = sip_request("REGISTER", "ws-1", 1, false, "");
    let frame = ws_frame(true, ws_opcode::TEXT, Some([1, 2, 3, 4]), reg.as_bytes());
    cap.tcp(c, s, &frame, &[30], None, &[]);
    let ok = sip_response(200, "OK", "ws-1", 1, "REGISTER");
    cap.tcp(
        s,
        c,
        &ws_frame(true, ws_opcode::TEXT, None, ok.as_bytes()),
        &[],
        None,
        &[],
    );
    let out = decode(&cap.save(dir.path()), &["--format", "json"]);
    let m = messages(&out);
    assert_eq!(m.len(), 2, "{}", stdout_of(&out));
    assert_eq!(m[0]["transport"], "ws");
    assert_eq!(m[0]["method"], "REGISTER");
    assert_eq!(m[1]["status"], 200);
}

/// An INVITE offering a file over MSRP (RFC 5547) and the chunks carrying it over TCP.
fn msrp_transfer(cap: &mut Cap, file: &[u8], name: &str) {
    let sdp = format!(
        "v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=message 7777 TCP/MSRP *\r\na=sendonly\r\na=accept-types:*\r\n\
a=path:msrp://10.0.0.1:7777/alicesess;tcp\r\n\
a=file-selector:name:\"{name}\" type:application/octet-stream size:{}\r\n",
        file.len()
    );
    let invite = sip_request("INVITE", "msrp-call", 1, false, &sdp);
    cap.udp(ALICE, BOB, invite.as_bytes());
    cap.udp(
        BOB,
        ALICE,
        sip_response(200, "OK", "msrp-call", 1, "INVITE").as_bytes(),
    );
    let (a, b) = ("10.0.0.1:7777", "10.0.0.2:7778");
    cap.syn(a, b);
    let chunk_size = 1000;
    let total = file.len();
    let mut stream = Vec::new();
    for (i, chunk) in file.chunks(chunk_size).enumerate() {
        let start = i * chunk_size + 1;
        let end = start + chunk.len() - 1;
        let flag = if end == total { '$' } else { '+' };
        stream.extend_from_slice(
            format!(
                "MSRP tid{i:04} SEND\r\nTo-Path: msrp://10.0.0.2:7778/bobsess;tcp\r\n\
From-Path: msrp://10.0.0.1:7777/alicesess;tcp\r\nMessage-ID: file0001\r\n\
Byte-Range: {start}-{end}/{total}\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        stream.extend_from_slice(chunk);
        stream.extend_from_slice(format!("\r\n-------tid{i:04}{flag}\r\n").as_bytes());
    }
    // Segments of 700 bytes: chunks cross segment boundaries.
    let cuts: Vec<usize> = (1..stream.len().div_ceil(700)).map(|i| i * 700).collect();
    cap.tcp(a, b, &stream, &cuts, None, &[]);
}

#[test]
fn msrp_file_is_extracted_byte_exact_issue_3() {
    let dir = tempdir();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).expect("mkdir");
    // Binary content, with bytes that look like an end-line of another transaction inside.
    let mut file: Vec<u8> = (0..4500u32).map(|i| (i * 7 % 251) as u8).collect();
    file[100..120].copy_from_slice(b"\r\n-------tid9999$\r\n\0");
    let mut cap = Cap::new(Link::ethernet());
    msrp_transfer(&mut cap, &file, "../../report.bin");
    let out = sipkit()
        .args(["decode-pcap", "--format", "json", "--extract"])
        .arg(&out_dir)
        .arg(cap.save(dir.path()))
        .output()
        .expect("running sipkit");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let lines = json_lines(&out);
    let msrp: Vec<&Value> = lines.iter().filter(|v| v["protocol"] == "msrp").collect();
    assert_eq!(msrp.len(), 5);
    assert_eq!(msrp[0]["call_id"], "msrp-call");
    assert_eq!(msrp[0]["message_id"], "file0001");
    assert_eq!(msrp[0]["byte_range"]["start"], 1);
    assert_eq!(msrp[0]["byte_range"]["total"], 4500);
    assert_eq!(msrp[0]["continuation"], "+");
    assert_eq!(msrp[4]["continuation"], "$");
    assert_eq!(msrp[0]["body"]["encoding"], "base64");
    let written: Vec<&Value> = lines.iter().filter(|v| v["type"] == "extracted").collect();
    assert_eq!(written.len(), 1, "{lines:?}");
    let path = out_dir.join("report.bin");
    assert_eq!(written[0]["path"], path.display().to_string());
    assert_eq!(std::fs::read(&path).expect("extracted file"), file);
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&file)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(written[0]["sha256"], sha);
    assert_eq!(written[0]["size"], 4500);
    // A second run never overwrites the first file.
    let again = decode(
        &cap.save(dir.path()),
        &["--extract", out_dir.to_str().expect("utf-8")],
    );
    assert!(
        stdout_of(&again).contains("report-1.bin"),
        "{}",
        stdout_of(&again)
    );
    assert_eq!(std::fs::read(&path).expect("still there"), file);
}

fn three_calls() -> Cap {
    let mut cap = Cap::new(Link::ethernet());
    answered_call(&mut cap, "ok-call");
    cap.udp(
        ALICE,
        BOB,
        sip_request("INVITE", "busy-call", 1, false, SDP).as_bytes(),
    )
    .udp(
        BOB,
        ALICE,
        sip_response(486, "Busy Here", "busy-call", 1, "INVITE").as_bytes(),
    )
    .udp(
        ALICE,
        BOB,
        sip_request("ACK", "busy-call", 1, true, "").as_bytes(),
    );
    cap.udp(
        ALICE,
        "10.0.0.3:5060",
        sip_request("INVITE", "cancel-call", 1, false, SDP).as_bytes(),
    )
    .udp(
        ALICE,
        "10.0.0.3:5060",
        sip_request("INVITE", "cancel-call", 1, false, SDP).as_bytes(),
    )
    .udp(
        ALICE,
        "10.0.0.3:5060",
        sip_request("CANCEL", "cancel-call", 1, false, "").as_bytes(),
    )
    .udp(
        "10.0.0.3:5060",
        ALICE,
        sip_response(487, "Request Terminated", "cancel-call", 1, "INVITE").as_bytes(),
    );
    cap
}

#[test]
fn calls_summarise_each_dialog() {
    let dir = tempdir();
    let path = three_calls().save(dir.path());
    let out = decode(&path, &["--calls", "--format", "json"]);
    let calls = json_lines(&out);
    let states: Vec<(String, String)> = calls
        .iter()
        .map(|c| {
            (
                c["call_id"].as_str().unwrap_or("").into(),
                c["state"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("ok-call".to_string(), "completed".to_string()),
            ("busy-call".into(), "rejected".into()),
            ("cancel-call".into(), "cancelled".into())
        ]
    );
    assert_eq!(calls[0]["ringing_ms"].as_f64(), Some(20.0));
    assert_eq!(calls[0]["answer_ms"].as_f64(), Some(30.0));
    assert_eq!(calls[0]["duration_ms"].as_f64(), Some(20.0));
    assert_eq!(calls[0]["messages"], 7);
    assert_eq!(calls[0]["from"], "sip:alice@example.com");
    assert_eq!(calls[1]["final_status"], 486);
    let human = stdout_of(&decode(&path, &["--calls"]));
    assert!(human.contains("rejected 486"), "{human}");
}

#[test]
fn stats_count_methods_codes_retransmissions_and_asr() {
    let dir = tempdir();
    let out = decode(
        &three_calls().save(dir.path()),
        &["--stats", "--format", "json"],
    );
    let s = &json_lines(&out)[0];
    assert_eq!(s["type"], "stats");
    assert_eq!(s["messages"], 14);
    assert_eq!(s["requests"]["INVITE"], 4);
    assert_eq!(s["responses"]["486"], 1);
    assert_eq!(s["retransmissions"], 1);
    assert_eq!(s["calls_attempted"], 3);
    assert_eq!(s["calls_answered"], 1);
    assert_eq!(s["calls_failed"], 1);
    assert_eq!(s["calls_cancelled"], 1);
    let asr = s["asr"].as_f64().expect("asr");
    assert!((asr - 1.0 / 3.0).abs() < 1e-3);
    assert_eq!(s["setup_ms_p95"].as_f64(), Some(30.0));
}

#[test]
fn flow_draws_a_ladder() {
    let dir = tempdir();
    let out = decode(&three_calls().save(dir.path()), &["--flow=ok-call"]);
    let text = stdout_of(&out);
    let expected = "\
Call-ID: ok-call
                 10.0.0.1:5060           10.0.0.2:5060
  0.000000s             |--------INVITE-------->|
  0.010000s             |<-----100 Trying-------|
  0.020000s             |<-----180 Ringing------|
  0.030000s             |<-------200 OK---------|
  0.040000s             |----------ACK--------->|
  0.050000s             |----------BYE--------->|
  0.060000s             |<-------200 OK---------|
";
    assert_eq!(text, expected, "\n{text}");
    let all = stdout_of(&decode(&three_calls().save(dir.path()), &["--flow"]));
    assert_eq!(all.matches("Call-ID: ").count(), 3);
    let json = decode(
        &three_calls().save(dir.path()),
        &["--flow=cancel-call", "--format", "json"],
    );
    let flows = json_lines(&json);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["type"], "flow");
    assert_eq!(
        flows[0]["hosts"],
        serde_json::json!(["10.0.0.1:5060", "10.0.0.3:5060"])
    );
    let labels: Vec<&str> = flows[0]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["label"].as_str().expect("label"))
        .collect();
    assert_eq!(
        labels,
        ["INVITE", "INVITE", "CANCEL", "487 Request Terminated"]
    );
    assert_eq!(flows[0]["steps"][3]["from"], 1);
}

/// Issue 14: `--flow ID FILE` (a space, not `=`) is a usage error showing the `=` form (before:
/// clap's "unexpected argument FILE", as ID was taken for the file).
#[test]
fn issue_14_flow_with_a_space_is_a_usage_error_showing_the_equals_form() {
    let dir = tempdir();
    let path = three_calls().save(dir.path());
    let out = sipkit()
        .args(["decode-pcap", "--flow", "ok-call"])
        .arg(&path)
        .output()
        .expect("running sipkit");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: --flow takes a Call-ID only after `=`: write `--flow=ok-call`"),
        "{stderr}"
    );
    assert!(stderr.contains("Usage: sipkit decode-pcap"), "{stderr}");
    assert!(out.stdout.is_empty());
    // `--flow FILE` (every call) still works; another stray argument keeps clap's message.
    let all = decode(&path, &["--flow"]);
    assert_eq!(all.status.code(), Some(0));
    let out = sipkit()
        .args(["decode-pcap", "--flow"])
        .arg(&path)
        .arg("extra")
        .output()
        .expect("running sipkit");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--flow=")); // ambiguous: hinted
    let out = sipkit()
        .args(["decode-pcap"])
        .arg(&path)
        .arg("extra")
        .output()
        .expect("running sipkit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unexpected argument 'extra'"), "{stderr}");
}

/// Issue 14: `--flow=ID` for a Call-ID that is not in the capture says so and exits 1 (before:
/// nothing printed, exit 0).
#[test]
fn issue_14_flow_of_an_unknown_call_id_says_so_and_exits_1() {
    let dir = tempdir();
    let path = three_calls().save(dir.path());
    let out = decode(&path, &["--flow=no-such-call"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "sipkit: error: no call with Call-ID no-such-call in {}\n",
            path.display()
        )
    );
    let out = decode(&path, &["--flow=no-such-call", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["type"], "error");
    // A filter that leaves the call out: no such call among the matching messages either.
    let out = decode(&path, &["--flow=ok-call", "--method", "CANCEL"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(decode(&path, &["--flow=ok-call"]).status.code(), Some(0));
}

#[test]
fn filters_combine() {
    let dir = tempdir();
    let path = three_calls().save(dir.path());
    let run = |args: &[&str]| {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        summary(&decode(&path, &all))
    };
    assert_eq!(run(&["--status", "4xx"]), ["9:486", "14:487"]);
    assert_eq!(run(&["--method", "cancel"]), ["13:CANCEL"]);
    // A response matches the method of its CSeq.
    assert_eq!(run(&["--method", "BYE"]), ["6:BYE", "7:200"]);
    assert_eq!(
        run(&["--call-id", "busy-call", "--method", "ACK"]),
        ["10:ACK"]
    );
    assert_eq!(run(&["--host", "10.0.0.3"]).len(), 4);
    assert_eq!(run(&["--host", "10.0.0.3:5061"]).len(), 0);
    assert_eq!(run(&["--grep", "Busy H(ere)"]), ["9:486"]);
    assert_eq!(run(&["--transport", "tcp"]).len(), 0);
    assert_eq!(run(&["--status", "486,487"]).len(), 2);
    sipkit()
        .args(["decode-pcap", "--status", "99x"])
        .arg(&path)
        .assert()
        .code(2);
}

/// Issue 14: `--grep` is case-sensitive unless `-i`/`--ignore-case`; `--host [IPv6]` (no port)
/// is every port of that address.
#[test]
fn issue_14_grep_ignore_case_and_bracketed_v6_host() {
    let dir = tempdir();
    let mut cap = three_calls();
    cap.udp(
        "[2001:db8::1]:5060",
        "[2001:db8::2]:5070",
        sip_request("OPTIONS", "v6-call", 1, false, "").as_bytes(),
    );
    let path = cap.save(dir.path());
    let run = |args: &[&str]| {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        summary(&decode(&path, &all))
    };
    assert_eq!(run(&["--grep", "busy here"]), Vec::<String>::new());
    assert_eq!(run(&["--grep", "busy here", "-i"]), ["9:486"]);
    assert_eq!(run(&["--ignore-case", "--grep", "BUSY HERE"]), ["9:486"]);
    assert_eq!(run(&["--host", "[2001:db8::2]"]), ["15:OPTIONS"]);
    assert_eq!(run(&["--host", "[2001:db8::2]:5070"]), ["15:OPTIONS"]);
    assert_eq!(run(&["--host", "[2001:db8::2]:5060"]).len(), 0);
    // -i alone has nothing to apply to.
    sipkit()
        .args(["decode-pcap", "-i"])
        .arg(&path)
        .assert()
        .code(2);
}

/// Issue 14: tshark numbers pcapng custom blocks and systemd journal export blocks as frames
/// (but not decryption secrets, name resolution or interface statistics blocks); our frame
/// numbers follow (checked against tshark in interop_tshark.rs).
#[test]
fn issue_14_pcapng_frame_numbers_count_custom_and_journal_blocks() {
    let dir = tempdir();
    let path = crate::support::write(
        dir.path(),
        "blocks.pcapng",
        crate::support::captures::pcapng_with_other_blocks(),
    );
    let out = decode(&path, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(summary(&out), ["2:OPTIONS", "5:OPTIONS", "7:OPTIONS"]);
}

/// Issue 14: LINKTYPE_PPP (9) with and without the `ff 03` address/control bytes and with a
/// two-byte or compressed one-byte protocol field.
#[test]
fn issue_14_ppp_linktype_9_is_read() {
    let dir = tempdir();
    let path = crate::support::write(
        dir.path(),
        "ppp.pcap",
        crate::support::captures::ppp_capture(),
    );
    let out = decode(&path, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        summary(&out),
        ["1:OPTIONS", "2:OPTIONS", "3:OPTIONS", "4:OPTIONS"]
    );
    let lines = json_lines(&out);
    assert!(
        lines.iter().all(|v| v["type"] == "message"),
        "no notice for the LCP frame: {lines:?}"
    );
    let ips: Vec<&str> = lines
        .iter()
        .map(|m| m["src_ip"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ips, ["10.0.0.1", "2001:db8::1", "2001:db8::1", "10.0.0.1"]);
}

#[test]
fn write_keeps_only_the_packets_of_matching_messages() {
    let dir = tempdir();
    let path = three_calls().save(dir.path());
    let written = dir.path().join("busy.pcap");
    let out = sipkit()
        .args(["decode-pcap", "--call-id", "busy-call", "--write"])
        .arg(&written)
        .arg(&path)
        .output()
        .expect("running sipkit");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let again = decode(&written, &["--format", "json"]);
    assert_eq!(summary(&again), ["1:INVITE", "2:486", "3:ACK"]);
    // Never overwrites.
    sipkit()
        .args(["decode-pcap", "--write"])
        .arg(&written)
        .arg(&path)
        .assert()
        .code(2);
}

#[test]
fn truncated_capture_prints_what_came_before_and_exits_2() {
    let dir = tempdir();
    let mut cap = Cap::new(Link::ethernet());
    answered_call(&mut cap, "cut");
    let mut bytes = cap.bytes();
    bytes.truncate(bytes.len() - 30);
    let path = dir.path().join("cut.pcap");
    std::fs::write(&path, &bytes).expect("write");
    let out = decode(&path, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(summary(&out).len(), 6);
    let last = json_lines(&out).pop().expect("an error object");
    assert_eq!(last["type"], "error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("truncated at byte 1851"), "{stderr}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, data).expect("vec");
    gz.finish().expect("vec")
}

/// Issue 14: a gzip capture cut short lists every message before the cut, then one error
/// naming the cut in the gzip file and in the capture inside it, and exits 2 like a truncated
/// capture (before: nothing listed, and "read failed at byte 0" with the reason twice).
#[test]
fn issue_14_truncated_gzip_prints_messages_before_the_cut() {
    let dir = tempdir();
    let mut cap = Cap::new(Link::ethernet());
    answered_call(&mut cap, "gz-cut");
    let gz = gzip(&cap.bytes());
    let cut = gz.len() - 12; // inside the deflate data of the last packet, or its trailer
    let path = crate::support::write(dir.path(), "cut.pcap.gz", &gz[..cut]);
    let out = decode(&path, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        summary(&out),
        ["1:INVITE", "2:100", "3:180", "4:200", "5:ACK", "6:BYE"]
    );
    let last = json_lines(&out).pop().expect("an error object");
    assert_eq!(last["type"], "error");
    let message = last["message"].as_str().expect("message");
    assert!(
        message.contains(&format!(
            "gzip data truncated at byte {cut} of the gzip file"
        )),
        "{message}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // Frame 7 starts at byte 1887 of the decompressed capture.
    assert!(
        stderr.contains("(byte 1887 of the capture inside it, after 6 complete frames)"),
        "{stderr}"
    );
}

/// Issue 14: bytes after the gzip data are a warning; the messages are all listed, exit 0.
#[test]
fn issue_14_bytes_after_gzip_member_are_a_warning() {
    let dir = tempdir();
    let mut cap = Cap::new(Link::ethernet());
    answered_call(&mut cap, "gz-tail");
    let mut gz = gzip(&cap.bytes());
    let end = gz.len();
    gz.extend_from_slice(b"\0\0\0\0junk\n");
    let path = crate::support::write(dir.path(), "tail.pcap.gz", &gz);
    let out = decode(&path, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(summary(&out).len(), 7);
    let last = json_lines(&out).pop().expect("a notice");
    assert_eq!(
        last,
        serde_json::json!({"type": "trailing_data", "offset": end, "bytes": 9})
    );
    let human = stdout_of(&decode(&path, &[]));
    assert!(
        human.ends_with(&format!(
            "warning: 9 bytes after the gzip data (from byte {end} of the file) are not gzip; \
             ignored\n"
        )),
        "{human}"
    );
    assert!(!stdout_of(&decode(&path, &["-q"])).contains("warning"));
}

/// Issue 14: a file that cannot be opened is one line naming it and the reason (before: "read
/// failed at byte 0" and the OS error twice); in JSON one error object. Exit 2 as before.
#[test]
fn issue_14_unreadable_file_is_one_clear_line() {
    let dir = tempdir();
    let missing = dir.path().join("missing.pcap");
    let out = decode(&missing, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "sipkit: error: cannot open {}: No such file or directory\n",
            missing.display()
        )
    );
    assert!(out.stdout.is_empty());
    let out = decode(&missing, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out);
    assert_eq!(
        lines,
        [serde_json::json!({
            "type": "error",
            "message": format!("cannot open {}: No such file or directory", missing.display())
        })]
    );
    let out = decode(dir.path(), &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "sipkit: error: cannot open {}: is a directory\n",
            dir.path().display()
        )
    );
}

/// Issue 14: `decode-pcap --help` describes decode-pcap's own `--format` values and `-q`,
/// not validate's (compiler-style diagnostics, `github`, "no summary").
#[test]
fn issue_14_decode_pcap_help_describes_its_own_formats_and_quiet() {
    let out = sipkit()
        .args(["decode-pcap", "--help"])
        .output()
        .expect("running sipkit");
    assert_eq!(out.status.code(), Some(0));
    let help = stdout_of(&out);
    for not in [
        "github",
        "Compiler-style",
        "final summary object",
        "no summary",
    ] {
        assert!(!help.contains(not), "{not:?} in\n{help}");
    }
    assert!(help.contains("- human: One line per message"), "{help}");
    assert!(
        help.contains("- json:  JSON Lines: one object per message, notice"),
        "{help}"
    );
    assert!(help.contains("Leave out the notices"), "{help}");
    // github is still refused with the reason, before or after the subcommand name.
    for args in [
        &["decode-pcap", "--format", "github", "x.pcap"][..],
        &["--format", "github", "decode-pcap", "x.pcap"],
    ] {
        let out = sipkit().args(args).output().expect("running sipkit");
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("only accepted by `sipkit validate`"),
            "{args:?}"
        );
    }
    let validate = stdout_of(
        &sipkit()
            .args(["validate", "--help"])
            .output()
            .expect("runs"),
    );
    assert!(validate.contains("- github: GitHub Actions"), "{validate}");
}

#[test]
fn not_a_capture_is_an_input_error() {
    let dir = tempdir();
    let path = crate::support::write(dir.path(), "x.pcap", "INVITE sip:x SIP/2.0\r\n\r\n");
    let out = decode(&path, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
}

#[test]
fn reads_standard_input() {
    let mut cap = Cap::new(Link::ethernet());
    answered_call(&mut cap, "stdin-call");
    let out = sipkit()
        .args(["decode-pcap", "--format", "json", "-"])
        .write_stdin(cap.bytes())
        .output()
        .expect("running sipkit");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(messages(&out).len(), 7);
}

fn fixture(name: &str) -> PathBuf {
    crate::support::root()
        .join("tests/fixtures/pcap")
        .join(name)
}

/// The message list of real captures, as tshark 4 lists them
/// (`tshark -n -r FILE -Y sip -T fields -e frame.number -e sip.Method -e sip.Status-Code`).
#[test]
fn real_captures_match_tshark() {
    let cases: [(&str, &str); 4] = [
        (
            "sip-over-tcp.pcap",
            "3:INVITE 5:100 7:180 9:200 11:ACK 81:BYE 83:200",
        ),
        (
            "sip-488-codec-reject.pcapng",
            "1:OPTIONS 2:200 3:OPTIONS 4:200 5:OPTIONS 6:200 7:INVITE 8:401 9:ACK 10:INVITE \
             11:100 12:488 13:ACK",
        ),
        (
            "ipv6frag.pcap",
            "2:INVITE 3:100 5:INVITE 6:183 7:183 8:PRACK 9:PRACK 10:200 11:200 12:UPDATE \
             13:UPDATE 14:200 15:200 16:183 17:183 18:PRACK 19:PRACK 20:200 21:200 22:UPDATE \
             23:UPDATE 24:200 25:200 26:200 27:200 28:200 29:ACK 30:ACK 31:BYE 32:BYE 33:200 34:200",
        ),
        (
            "register-invite-reinvite-bye.pcap",
            "1:REGISTER 2:200 3:INVITE 4:100 5:180 6:200 7:ACK 162:INVITE 163:200 164:ACK \
             229:BYE 230:200",
        ),
    ];
    for (file, expected) in cases {
        let out = decode(&fixture(file), &["--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{file}: {out:?}");
        let expected: Vec<&str> = expected.split_whitespace().collect();
        assert_eq!(summary(&out), expected, "{file}");
    }
}

#[test]
fn real_call_with_reinvite_is_one_completed_call() {
    let out = decode(
        &fixture("register-invite-reinvite-bye.pcap"),
        &["--calls", "--format", "json"],
    );
    let calls = json_lines(&out);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["state"], "completed");
    assert_eq!(calls[0]["messages"], 10);
}

#[test]
fn challenge_then_488_is_a_call_rejected_with_488() {
    let out = decode(
        &fixture("sip-488-codec-reject.pcapng"),
        &["--calls", "--format", "json"],
    );
    let calls = json_lines(&out);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["state"], "rejected");
    assert_eq!(calls[0]["final_status"], 488);
}

#[test]
fn write_keeps_every_segment_of_a_tcp_message() {
    let dir = tempdir();
    let invite = sip_request("INVITE", "w-tcp", 1, false, SDP);
    let bye = sip_request("BYE", "w-tcp", 2, true, "");
    let mut cap = Cap::new(Link::ethernet());
    cap.syn(ALICE, BOB);
    cap.tcp(ALICE, BOB, invite.as_bytes(), &[100, 300], None, &[]);
    cap.tcp(ALICE, BOB, bye.as_bytes(), &[], None, &[]);
    let path = cap.save(dir.path());
    let written = dir.path().join("invite.pcap");
    sipkit()
        .args(["decode-pcap", "--method", "INVITE", "--write"])
        .arg(&written)
        .arg(&path)
        .assert()
        .code(0);
    let bytes = std::fs::read(&written).expect("written capture");
    // The file header and three segments (frames 2, 3, 4), not the SYN nor the BYE.
    let frame_len = |payload: usize| 16 + 14 + 20 + 20 + payload;
    assert_eq!(
        bytes.len(),
        24 + frame_len(100) + frame_len(200) + frame_len(invite.len() - 300)
    );
    let again = decode(&written, &["--format", "json"]);
    let m = messages(&again);
    assert_eq!(m.len(), 1, "{}", stdout_of(&again));
    assert_eq!(m[0]["method"], "INVITE");
    assert_eq!(m[0]["frame"], 3);
}
