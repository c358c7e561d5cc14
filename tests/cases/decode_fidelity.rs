//! decode-pcap shows every message on the wire, however broken, and says what is wrong with it
//! (issue 14): each case is a capture built here that the strict framer alone would not list.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sipkit::capture::write::{
    Link, PcapFormat, PcapWriter, TcpFlags, hep3, ip_tcp, ip_udp, linktype,
};
use sipkit::capture::{Timestamp, Transport};

use crate::support::{json_lines, sipkit, stdout_of, tempdir};

const A: &str = "10.0.0.1:5060";
const B: &str = "10.0.0.2:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// A capture of IP packets on Ethernet, 10 ms apart.
#[derive(Default)]
struct Cap {
    packets: Vec<Vec<u8>>,
    /// Packets cut to this many bytes by the "snapshot length" (index, length).
    snapped: Vec<(usize, usize)>,
    seq: u32,
}

impl Cap {
    fn udp(&mut self, src: &str, dst: &str, payload: &[u8]) -> &mut Cap {
        self.packets
            .push(Link::ethernet().wrap(&ip_udp(addr(src), addr(dst), payload)));
        self
    }

    fn tcp(&mut self, payload: &[u8]) -> &mut Cap {
        if self.seq == 0 {
            self.seq = 1000;
            self.packets.push(Link::ethernet().wrap(&ip_tcp(
                addr(A),
                addr(B),
                self.seq,
                0,
                TcpFlags::SYN,
                b"",
            )));
            self.seq += 1;
        }
        let p = ip_tcp(addr(A), addr(B), self.seq, 1, TcpFlags::DATA, payload);
        self.seq = self.seq.wrapping_add(payload.len() as u32);
        self.packets.push(Link::ethernet().wrap(&p));
        self
    }

    fn save(&self, dir: &Path) -> PathBuf {
        let mut w = PcapWriter::new(Vec::new(), PcapFormat::new(linktype::ETHERNET))
            .expect("writing to memory");
        for (i, p) in self.packets.iter().enumerate() {
            let t = Timestamp {
                secs: 1_704_067_200,
                nanos: i as u32 * 10_000_000,
            };
            match self.snapped.iter().find(|(at, _)| *at == i) {
                Some(&(_, len)) => w.write_packet_orig(t, &p[..len], p.len() as u32),
                None => w.write_packet(t, p),
            }
            .expect("writing to memory");
        }
        let path = dir.join("fidelity.pcap");
        std::fs::write(&path, w.into_inner()).expect("writing the capture");
        path
    }
}

fn decode(file: &Path, extra: &[&str]) -> std::process::Output {
    sipkit()
        .arg("decode-pcap")
        .args(extra)
        .arg(file)
        .output()
        .expect("sipkit runs")
}

fn messages(out: &std::process::Output) -> Vec<Value> {
    json_lines(out)
        .into_iter()
        .filter(|v| v["type"] == "message")
        .collect()
}

fn codes(m: &Value) -> Vec<String> {
    m["diagnostics"]
        .as_array()
        .unwrap_or_else(|| panic!("every message has diagnostics: {m}"))
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn request(method: &str, call_id: &str, eol: &str, extra: &str, body: &str) -> String {
    format!(
        "{method} sip:bob@example.com SIP/2.0{eol}Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{call_id}{eol}\
From: <sip:alice@example.com>;tag=a1{eol}To: <sip:bob@example.com>{eol}Call-ID: {call_id}{eol}\
CSeq: 1 {method}{eol}{extra}Content-Length: {}{eol}{eol}{body}",
        body.len()
    )
}

/// The broken datagrams seen in public captures, one per frame, each with the code it must get.
fn broken_udp() -> (Cap, Vec<(&'static str, &'static str)>) {
    let mut cap = Cap::default();
    let mut want = Vec::new();
    cap.udp(A, B, request("OPTIONS", "lf", "\n", "", "").as_bytes());
    want.push(("lf", "sip.line.bare-lf"));
    cap.udp(A, B, request("OPTIONS", "cr", "\r", "", "").as_bytes());
    want.push(("cr", "sip.line.bare-cr"));
    let no_end = request("OPTIONS", "no-end", "\r\n", "", "");
    cap.udp(A, B, no_end.trim_end().as_bytes());
    want.push(("no-end", "sip.message.truncated"));
    let bad_cl = request("MESSAGE", "cl-nan", "\r\n", "", "hello")
        .replace("Content-Length: 5", "Content-Length: five");
    cap.udp(A, B, bad_cl.as_bytes());
    want.push(("cl-nan", "sip.content-length.invalid"));
    let long_cl = request("MESSAGE", "cl-long", "\r\n", "", "hello")
        .replace("Content-Length: 5", "Content-Length: 500");
    cap.udp(A, B, long_cl.as_bytes());
    want.push(("cl-long", "sip.content-length.mismatch"));
    let many: String = (0..700).map(|i| format!("X-Hop-{i}: v\r\n")).collect();
    cap.udp(
        A,
        B,
        request("NOTIFY", "many", "\r\n", &many, "").as_bytes(),
    );
    want.push(("many", "sip.header.too-many"));
    let bad_from = request("INVITE", "from", "\r\n", "", "").replace(
        "From: <sip:alice@example.com>;tag=a1",
        "From: \\\"x\\\" <sip:a@b>;tag=f1",
    );
    cap.udp(A, B, bad_from.as_bytes());
    want.push(("from", "sip.uri.scheme"));
    let bad_cseq = request("BYE", "cseq", "\r\n", "", "").replace("CSeq: 1 BYE", "CSeq: one BYE");
    cap.udp(A, B, bad_cseq.as_bytes());
    want.push(("cseq", "sip.cseq.number"));
    (cap, want)
}

#[test]
fn issue_14_every_broken_datagram_is_listed_with_its_diagnostic() {
    let dir = tempdir();
    let (cap, want) = broken_udp();
    let out = decode(&cap.save(dir.path()), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let m = messages(&out);
    let got: Vec<&str> = m
        .iter()
        .map(|v| v["call_id"].as_str().unwrap_or("?"))
        .collect();
    let ids: Vec<&str> = want.iter().map(|w| w.0).collect();
    assert_eq!(got, ids, "{}", stdout_of(&out));
    for (v, (id, code)) in m.iter().zip(&want) {
        let c = codes(v);
        assert!(c.iter().any(|x| x == code), "{id}: {c:?}");
        assert_eq!(
            c.iter().filter(|x| x.as_str() == *code).count(),
            1,
            "{id}: once"
        );
        for d in v["diagnostics"].as_array().into_iter().flatten() {
            assert!(d["severity"] == "error" || d["severity"] == "warning");
            assert!(d["offset"].is_u64() && d["length"].is_u64() && d["message"].is_string());
        }
    }
    // What could be read is there: the bodies, the first 512 header fields, the raw From.
    assert_eq!(m[3]["body"]["data"], "hello");
    assert_eq!(m[4]["body"]["data"], "hello");
    assert_eq!(m[5]["headers"].as_array().map(Vec::len), Some(512));
    assert_eq!(m[6]["from"], Value::Null);
    let raw_from = m[6]["headers"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["name"] == "From"))
        .map(|h| h["value"].clone());
    assert_eq!(raw_from, Some(Value::from("\\\"x\\\" <sip:a@b>;tag=f1")));
    assert_eq!(m[7]["cseq"], Value::Null);
    // A clean message has an empty list, not a missing field.
    let mut clean = Cap::default();
    clean.udp(A, B, request("OPTIONS", "ok", "\r\n", "", "").as_bytes());
    let out = decode(&clean.save(dir.path()), &["--format", "json"]);
    assert_eq!(messages(&out)[0]["diagnostics"], serde_json::json!([]));
}

#[test]
fn issue_14_problems_filter_stats_and_human_marks() {
    let dir = tempdir();
    let (mut cap, want) = broken_udp();
    cap.udp(A, B, request("OPTIONS", "clean", "\r\n", "", "").as_bytes());
    let file = cap.save(dir.path());
    let all = messages(&decode(&file, &["--format", "json"]));
    assert_eq!(all.len(), want.len() + 1);
    let problems = messages(&decode(&file, &["--format", "json", "--problems"]));
    assert_eq!(problems.len(), want.len(), "the clean one is left out");
    // Only the header limit is a warning alone (a limit of sipkit's, not an RFC error).
    let errors = messages(&decode(&file, &["--format", "json", "--problems=error"]));
    let ids: Vec<&str> = errors
        .iter()
        .filter_map(|v| v["call_id"].as_str())
        .collect();
    assert_eq!(ids.len(), want.len() - 1, "{ids:?}");
    assert!(!ids.contains(&"many"));
    let stats = json_lines(&decode(&file, &["--format", "json", "--stats"]));
    let s = stats.iter().find(|v| v["type"] == "stats").expect("stats");
    assert_eq!(s["messages"], want.len() as u64 + 1);
    assert_eq!(s["messages_with_problems"], want.len() as u64);
    assert_eq!(s["malformed_messages"], want.len() as u64 - 1);
    assert_eq!(s["problems"]["sip.line.bare-lf"], 1);
    assert_eq!(s["problems"]["sip.header.too-many"], 1);
    // Human: a mark on the line, and --full lists each diagnostic under the message.
    let human = stdout_of(&decode(&file, &[]));
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(lines.len(), want.len() + 1, "{human}");
    assert!(lines[0].contains("✗ sip.line.bare-lf"), "{}", lines[0]);
    assert!(lines[5].contains("! sip.header.too-many"), "{}", lines[5]);
    assert!(!lines[want.len()].contains('✗'));
    let full = stdout_of(&decode(&file, &["--full"]));
    assert!(
        full.contains("    error[sip.cseq.number]: "),
        "{}",
        &full[full.len().saturating_sub(800)..]
    );
    assert!(full.contains("warning[sip.header.too-many]: 194 header fields after the first 512"));
}

#[test]
fn issue_14_hep3_payload_with_lf_line_ends_is_shown() {
    let dir = tempdir();
    let mut cap = Cap::default();
    let t = Timestamp {
        secs: 1_700_000_000,
        nanos: 0,
    };
    for (i, method) in ["REGISTER", "INVITE", "BYE"].iter().enumerate() {
        let sip = request(method, &format!("hep-{i}"), "\n", "", "");
        let hep = hep3(
            addr("192.0.2.1:5060"),
            addr("192.0.2.2:5060"),
            Transport::Udp,
            t,
            sip.as_bytes(),
        );
        cap.udp("10.9.9.9:9060", "10.9.9.10:9060", &hep);
    }
    let out = decode(&cap.save(dir.path()), &["--format", "json"]);
    let m = messages(&out);
    assert_eq!(m.len(), 3, "{}", stdout_of(&out));
    for v in &m {
        assert_eq!(v["src_ip"], "192.0.2.1");
        assert_eq!(codes(v), ["sip.line.bare-lf"]);
        assert!(v["from"]["tag"] == "a1" && v["cseq"]["seq"] == 1);
    }
}

#[test]
fn issue_14_stream_breakage_loses_no_byte_without_a_notice() {
    let dir = tempdir();
    let mut cap = Cap::default();
    // Junk before the first start line, a message without Content-Length, one with LF line
    // ends, then one cut off by the end of the capture.
    cap.tcp(b"\x00\x01 tail of something\r\n");
    let no_cl = request("MESSAGE", "no-cl", "\r\n", "", "hi there\r\n")
        .replace("Content-Length: 10\r\n", "");
    cap.tcp(no_cl.as_bytes());
    cap.tcp(request("OPTIONS", "lf", "\n", "", "").as_bytes());
    let cut = request("INVITE", "cut", "\r\n", "", "v=0\r\n");
    cap.tcp(&cut.as_bytes()[..cut.len() - 3]);
    let out = decode(&cap.save(dir.path()), &["--format", "json"]);
    let lines = json_lines(&out);
    let m = messages(&out);
    let ids: Vec<&str> = m.iter().filter_map(|v| v["call_id"].as_str()).collect();
    assert_eq!(ids, ["no-cl", "lf", "cut"], "{lines:?}");
    assert_eq!(m[0]["body"]["data"], "hi there\r\n", "{lines:?}");
    assert_eq!(codes(&m[0]), ["sip.content-length.missing"]);
    assert_eq!(codes(&m[1]), ["sip.line.bare-lf"]);
    let cut_codes = codes(&m[2]);
    assert!(
        cut_codes.contains(&"capture.truncated".to_owned()),
        "{cut_codes:?}"
    );
    assert!(cut_codes.contains(&"sip.content-length.mismatch".to_owned()));
    assert_eq!(m[2]["body"]["data"], "v=");
    let dropped: Vec<&Value> = lines.iter().filter(|v| v["type"] == "dropped").collect();
    assert_eq!(dropped.len(), 1, "{lines:?}");
    assert_eq!(dropped[0]["bytes"], 22);
    assert!(
        dropped[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("before the first"))
    );
}

#[test]
fn issue_14_packets_cut_by_the_snapshot_length_are_shown_truncated() {
    let dir = tempdir();
    let mut cap = Cap::default();
    let invite = request("INVITE", "snap", "\r\n", "", &"a=x\r\n".repeat(60));
    cap.udp(A, B, invite.as_bytes());
    cap.snapped.push((0, 300));
    cap.udp(B, A, request("OPTIONS", "whole", "\r\n", "", "").as_bytes());
    let out = decode(&cap.save(dir.path()), &["--format", "json"]);
    let m = messages(&out);
    let ids: Vec<&str> = m.iter().filter_map(|v| v["call_id"].as_str()).collect();
    assert_eq!(ids, ["snap", "whole"], "{}", stdout_of(&out));
    assert_eq!(
        codes(&m[0]),
        ["sip.content-length.mismatch", "capture.snaplen"],
        "{}",
        m[0]
    );
    assert!(
        m[0]["body"]["data"]
            .as_str()
            .is_some_and(|b| b.starts_with("a=x\r\n"))
    );
    assert_eq!(codes(&m[1]), Vec::<String>::new());
}
