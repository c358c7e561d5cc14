//! `sipkit decode-pcap` (issue #14, parts 3 and 4): `--extract` gives a file-selector's name to
//! the MSRP message it describes, and writes what a capture left unfinished as `NAME.partial`;
//! `--calls` and `--stats` read a call seen on several hops (a proxy, two interfaces) as one
//! call, with setup times on its first leg and retransmissions counted per hop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sipkit::capture::Timestamp;
use sipkit::capture::write::{Link, PcapFormat, PcapWriter, TcpFlags, ip_tcp, ip_udp};

use crate::support::{json_lines, sipkit, stdout_of, tempdir};

const ALICE: &str = "10.0.0.1:5060";
const BOB: &str = "10.0.0.2:5060";
const PROXY: &str = "10.0.0.9:5060";
const ALICE_MSRP: &str = "10.0.0.1:7777";
const BOB_MSRP: &str = "10.0.0.2:7778";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// A raw-IP capture being built, packets 10 ms apart.
#[derive(Default)]
struct Cap {
    packets: Vec<Vec<u8>>,
    /// Next TCP sequence number per direction.
    seq: Vec<((SocketAddr, SocketAddr), u32)>,
}

impl Cap {
    fn udp(&mut self, src: &str, dst: &str, payload: &str) -> &mut Cap {
        self.packets
            .push(ip_udp(addr(src), addr(dst), payload.as_bytes()));
        self
    }

    /// One TCP segment; `lost` advances the sequence number without capturing it.
    fn tcp(&mut self, src: &str, dst: &str, payload: &[u8], lost: bool) -> &mut Cap {
        let key = (addr(src), addr(dst));
        let i = match self.seq.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.seq.push((key, 1000));
                self.packets
                    .push(ip_tcp(key.0, key.1, 999, 0, TcpFlags::SYN, b""));
                self.seq.len() - 1
            }
        };
        let seq = self.seq[i].1;
        self.seq[i].1 = seq.wrapping_add(payload.len() as u32);
        if !lost {
            self.packets
                .push(ip_tcp(key.0, key.1, seq, 1, TcpFlags::DATA, payload));
        }
        self
    }

    fn save(&self, dir: &Path) -> PathBuf {
        let mut w = PcapWriter::new(Vec::new(), PcapFormat::new(Link::Raw.linktype()))
            .expect("writing to memory");
        for (i, p) in self.packets.iter().enumerate() {
            let ms = i as i64 * 10;
            let t = Timestamp {
                secs: 1_704_067_200 + ms / 1000,
                nanos: (ms % 1000) as u32 * 1_000_000,
            };
            w.write_packet(t, p).expect("writing to memory");
        }
        let path = dir.join("capture.pcap");
        std::fs::write(&path, w.into_inner()).expect("writing the capture");
        path
    }
}

fn decode(path: &Path, args: &[&str]) -> std::process::Output {
    let out = sipkit()
        .arg("decode-pcap")
        .args(args)
        .arg(path)
        .output()
        .expect("running sipkit");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    out
}

fn of_type(out: &std::process::Output, kind: &str) -> Vec<Value> {
    json_lines(out)
        .into_iter()
        .filter(|v| v["type"] == kind)
        .collect()
}

/// A SIP request with `Via` branch `branch`; `sdp` non-empty adds the body.
fn request(
    method: &str,
    call_id: &str,
    cseq: u32,
    to_tag: bool,
    branch: &str,
    sdp: &str,
) -> String {
    let ctype = if sdp.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{branch}\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@example.com>;tag=a1\r\n\
To: Bob <sip:bob@example.com>{}\r\n\
Call-ID: {call_id}\r\n\
CSeq: {cseq} {method}\r\n\
{ctype}Content-Length: {}\r\n\r\n{sdp}",
        if to_tag { ";tag=b2" } else { "" },
        sdp.len()
    )
}

fn response(code: u16, call_id: &str, cseq: u32, method: &str, branch: &str, sdp: &str) -> String {
    let ctype = if sdp.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "SIP/2.0 {code} Reason\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{branch}\r\n\
From: Alice <sip:alice@example.com>;tag=a1\r\n\
To: Bob <sip:bob@example.com>;tag=b2\r\n\
Call-ID: {call_id}\r\n\
CSeq: {cseq} {method}\r\n\
{ctype}Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

fn sha1_selector(data: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An MSRP media description offering (or accepting) one file (RFC 5547 §8.2).
fn file_sdp(host: &str, session: &str, name: &str, mime: &str, file: &[u8], id: &str) -> String {
    let (ip, port) = host.split_once(':').expect("host:port");
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
m=message {port} TCP/MSRP *\r\na=accept-types:*\r\n\
a=path:msrp://{host}/{session};tcp\r\n\
a=file-selector:name:\"{name}\" type:{mime} size:{} hash:sha-1:{}\r\n\
a=file-transfer-id:{id}\r\n",
        file.len(),
        sha1_selector(file)
    )
}

/// Offer and answer for one file, as INVITE/200 (`cseq` 1) or re-INVITE/200.
fn negotiate(cap: &mut Cap, cseq: u32, name: &str, mime: &str, file: &[u8], id: &str) {
    let offer = file_sdp(ALICE_MSRP, "alicesess", name, mime, file, id);
    let answer = file_sdp(BOB_MSRP, "bobsess", name, mime, file, id);
    let branch = format!("msrp{cseq}");
    cap.udp(
        ALICE,
        BOB,
        &request("INVITE", "msrp-call", cseq, cseq > 1, &branch, &offer),
    )
    .udp(
        BOB,
        ALICE,
        &response(200, "msrp-call", cseq, "INVITE", &branch, &answer),
    );
}

/// The SEND chunks of one message from Alice to Bob, `size` bytes each, one TCP segment per
/// chunk; the chunks listed in `lose` are not captured.
fn send(cap: &mut Cap, message_id: &str, mime: &str, data: &[u8], size: usize, lose: &[usize]) {
    let total = data.len();
    for (i, chunk) in data.chunks(size).enumerate() {
        let start = i * size + 1;
        let end = start + chunk.len() - 1;
        let flag = if end == total { '$' } else { '+' };
        let tid = format!("{message_id}t{i}");
        let mut wire = format!(
            "MSRP {tid} SEND\r\nTo-Path: msrp://{BOB_MSRP}/bobsess;tcp\r\n\
From-Path: msrp://{ALICE_MSRP}/alicesess;tcp\r\nMessage-ID: {message_id}\r\n\
Byte-Range: {start}-{end}/{total}\r\nContent-Type: {mime}\r\n\r\n"
        )
        .into_bytes();
        wire.extend_from_slice(chunk);
        wire.extend_from_slice(format!("\r\n-------{tid}{flag}\r\n").as_bytes());
        cap.tcp(ALICE_MSRP, BOB_MSRP, &wire, lose.contains(&i));
    }
}

fn extract(cap: &Cap, dir: &Path, human: bool) -> (PathBuf, std::process::Output) {
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    let path = cap.save(dir);
    let out_arg = out_dir.to_str().expect("utf-8 path");
    let args: &[&str] = if human {
        &["--extract", out_arg]
    } else {
        &["--format", "json", "--extract", out_arg]
    };
    let out = decode(&path, args);
    (out_dir, out)
}

/// The file names written, in order, and the message each came from.
fn written(out: &std::process::Output) -> Vec<(String, String)> {
    of_type(out, "extracted")
        .iter()
        .map(|e| {
            let path = PathBuf::from(e["path"].as_str().expect("path"));
            let name = path.file_name().expect("file name").to_string_lossy();
            (
                e["message_id"].as_str().expect("id").to_string(),
                name.into(),
            )
        })
        .collect()
}

fn file(n: usize, seed: u64) -> Vec<u8> {
    crate::support::xorshift_bytes(n, seed)
}

#[test]
fn issue_14_extract_names_the_message_the_file_selector_describes() {
    let dir = tempdir();
    let photo = file(2500, 1);
    // Same type and size as the photo: only the hash tells them apart.
    let second = file(2500, 2);
    let mut cap = Cap::default();
    negotiate(&mut cap, 1, "photo.jpg", "image/jpeg", &photo, "ft-1");
    // A chat message in the same session before any file.
    send(&mut cap, "chat1", "text/plain", b"here it comes", 1000, &[]);
    // A re-INVITE offers a second file (a new file-transfer-id, RFC 5547 §8.1).
    negotiate(&mut cap, 2, "second.jpg", "image/jpeg", &second, "ft-2");
    // The second file first, then the photo described by the earlier offer.
    send(&mut cap, "file2", "image/jpeg", &second, 1000, &[]);
    send(&mut cap, "file1", "image/jpeg", &photo, 1000, &[]);
    let (out_dir, out) = extract(&cap, dir.path(), false);
    assert_eq!(
        written(&out),
        [
            ("chat1".to_string(), "msrp-chat1.bin".to_string()),
            ("file2".into(), "second.jpg".into()),
            ("file1".into(), "photo.jpg".into()),
        ],
        "{}",
        stdout_of(&out)
    );
    assert_eq!(
        std::fs::read(out_dir.join("photo.jpg")).expect("photo"),
        photo
    );
    assert_eq!(
        std::fs::read(out_dir.join("second.jpg")).expect("second"),
        second
    );
    assert_eq!(
        std::fs::read(out_dir.join("msrp-chat1.bin")).expect("chat"),
        b"here it comes"
    );
    let records = of_type(&out, "extracted");
    assert_eq!(records[1]["file_transfer_id"], "ft-2");
    assert_eq!(records[2]["file_transfer_id"], "ft-1");
    assert_eq!(records[0]["file_transfer_id"], Value::Null);
    for r in &records {
        assert_eq!(r["complete"], true);
        assert_eq!(r["missing"], serde_json::json!([]));
    }
    assert_eq!(records[2]["total"], 2500);
}

#[test]
fn issue_14_a_file_that_disagrees_with_the_selector_keeps_a_generated_name() {
    let dir = tempdir();
    let offered = file(1500, 3);
    let mut sent = offered.clone();
    sent[700] ^= 1;
    let mut cap = Cap::default();
    negotiate(
        &mut cap,
        1,
        "report.pdf",
        "application/pdf",
        &offered,
        "ft-9",
    );
    // Right size and type, wrong hash.
    send(&mut cap, "badhash", "application/pdf", &sent, 1000, &[]);
    // Right content, the wrong type.
    send(&mut cap, "typed", "text/plain", &offered, 1000, &[]);
    send(&mut cap, "good", "application/pdf", &offered, 1000, &[]);
    let (_, out) = extract(&cap, dir.path(), false);
    assert_eq!(
        written(&out),
        [
            ("badhash".to_string(), "msrp-badhash.bin".to_string()),
            ("typed".into(), "msrp-typed.bin".into()),
            ("good".into(), "report.pdf".into()),
        ],
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn issue_14_a_file_incomplete_in_the_capture_is_written_as_partial_with_the_missing_ranges() {
    let dir = tempdir();
    let photo = file(3500, 4);
    let mut cap = Cap::default();
    negotiate(&mut cap, 1, "photo.jpg", "image/jpeg", &photo, "ft-1");
    // The second chunk (bytes 1001-2000) was not captured.
    send(&mut cap, "file1", "image/jpeg", &photo, 1000, &[1]);
    let (out_dir, out) = extract(&cap, dir.path(), false);
    let records = of_type(&out, "extracted");
    assert_eq!(records.len(), 1, "{}", stdout_of(&out));
    let r = &records[0];
    assert_eq!(
        r["path"],
        out_dir.join("photo.jpg.partial").display().to_string()
    );
    assert_eq!(r["complete"], false);
    assert_eq!(r["total"], 3500);
    assert_eq!(r["missing"], serde_json::json!([[1001, 2000]]));
    assert_eq!(r["size"], 3500);
    assert!(!out_dir.join("photo.jpg").exists());
    // The bytes that arrived are at their offsets; the gap is zeros.
    let got = std::fs::read(out_dir.join("photo.jpg.partial")).expect("partial");
    let mut expected = photo.clone();
    expected[1000..2000].fill(0);
    assert_eq!(got, expected);
    // The last chunk lost too: the file ends with the last byte received.
    let dir = tempdir();
    let mut cap = Cap::default();
    negotiate(&mut cap, 1, "photo.jpg", "image/jpeg", &photo, "ft-1");
    send(&mut cap, "file1", "image/jpeg", &photo, 1000, &[1, 3]);
    let (out_dir, out) = extract(&cap, dir.path(), true);
    let text = stdout_of(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("wrote "))
        .unwrap_or_else(|| panic!("no wrote line: {text}"));
    let path = out_dir.join("photo.jpg.partial");
    assert!(
        line.starts_with(&format!(
            "wrote {} (3000 bytes, incomplete: missing 1001-2000, 3001-3500 of 3500) sha256 ",
            path.display()
        )),
        "{line}"
    );
}

#[test]
fn issue_14_setup_times_of_a_proxied_call_are_measured_on_the_first_leg() {
    // A real capture: 10.33.6.101 calls through the proxy 10.33.6.102, which forwards to
    // 10.33.6.100; the callee's 180 and 200 reach the proxy before the caller.
    let path = crate::support::root().join("tests/fixtures/pcap/sip-proxy.pcap");
    let calls = of_type(&decode(&path, &["--calls", "--format", "json"]), "call");
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c["state"], "completed");
    // Frame 1 (INVITE, 06:37:30.454022) to frame 6 (180 to the caller, .575615) and
    // frame 8 (200 to the caller, 06:37:31.179161).
    assert_eq!(c["ringing_ms"].as_f64(), Some(121.593));
    assert_eq!(c["answer_ms"].as_f64(), Some(725.139));
    let stats = of_type(&decode(&path, &["--stats", "--format", "json"]), "stats");
    assert_eq!(stats[0]["setup_ms_p95"].as_f64(), Some(725.139));
    assert_eq!(stats[0]["retransmissions"], 0);
    assert_eq!(stats[0]["calls_answered"], 1);
}

#[test]
fn issue_14_retransmissions_are_counted_per_hop() {
    let dir = tempdir();
    let mut cap = Cap::default();
    // A proxy that forwards the INVITE unchanged (a capture on both of its interfaces sees
    // the same bytes on two hops): two messages, no retransmission.
    let invite = request("INVITE", "hop-call", 1, false, "h1", "");
    cap.udp(ALICE, PROXY, &invite).udp(PROXY, BOB, &invite);
    // Alice's retransmission, forwarded again: one retransmission on each hop.
    cap.udp(ALICE, PROXY, &invite).udp(PROXY, BOB, &invite);
    let ok = response(200, "hop-call", 1, "INVITE", "h1", "");
    cap.udp(BOB, PROXY, &ok).udp(PROXY, ALICE, &ok);
    let stats = of_type(
        &decode(&cap.save(dir.path()), &["--stats", "--format", "json"]),
        "stats",
    );
    assert_eq!(stats[0]["messages"], 6);
    assert_eq!(stats[0]["retransmissions"], 2);
    assert_eq!(stats[0]["calls_attempted"], 1);
    assert_eq!(stats[0]["calls_answered"], 1);
    // A real capture through an Asterisk B2BUA: the INVITE to the callee sent again after
    // 500 ms, and the callee's 100 Trying answered to both copies.
    let path = crate::support::root().join("tests/fixtures/pcap/b2bua-asterisk.pcapng");
    let stats = of_type(&decode(&path, &["--stats", "--format", "json"]), "stats");
    assert_eq!(stats[0]["retransmissions"], 2);
}

#[test]
fn issue_14_cancel_then_any_final_response_is_cancelled() {
    let dir = tempdir();
    let mut cap = Cap::default();
    for (call, code) in [("c487", 487), ("c408", 408), ("c500", 500), ("race", 200)] {
        cap.udp(ALICE, BOB, &request("INVITE", call, 1, false, call, ""))
            .udp(BOB, ALICE, &response(180, call, 1, "INVITE", call, ""))
            .udp(ALICE, BOB, &request("CANCEL", call, 1, false, call, ""))
            .udp(BOB, ALICE, &response(code, call, 1, "INVITE", call, ""));
    }
    let path = cap.save(dir.path());
    let calls = of_type(&decode(&path, &["--calls", "--format", "json"]), "call");
    let states: Vec<(&str, &str, u64)> = calls
        .iter()
        .map(|c| {
            (
                c["call_id"].as_str().expect("id"),
                c["state"].as_str().expect("state"),
                c["final_status"].as_u64().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("c487", "cancelled", 487),
            ("c408", "cancelled", 408),
            ("c500", "cancelled", 500),
            // The 200 won the race: answered, not cancelled.
            ("race", "in_progress", 200),
        ]
    );
    let stats = of_type(&decode(&path, &["--stats", "--format", "json"]), "stats");
    assert_eq!(stats[0]["calls_cancelled"], 3);
    assert_eq!(stats[0]["calls_failed"], 0);
    assert_eq!(stats[0]["calls_answered"], 1);
    // A real capture: the caller CANCELs after 32 s of 100 Trying, and the server ends the
    // INVITE with 408 Request Timeout.
    let path = crate::support::root().join("tests/fixtures/pcap/aaa.pcap");
    let calls = of_type(
        &decode(
            &path,
            &[
                "--calls",
                "--format",
                "json",
                "--call-id",
                "105090259-446faf7a@192.168.1.2",
            ],
        ),
        "call",
    );
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["state"], "cancelled");
    assert_eq!(calls[0]["final_status"], 408);
}

/// Issue 15: `-q --extract` prints the extracted files and nothing else (no message lines),
/// and a file-selector name with a right-to-left override (which would show
/// `invoice\u{202E}fdp.exe` as `invoiceexe.pdf`) is saved with `_` in its place.
#[test]
fn issue_15_quiet_extract_prints_only_the_files_and_names_lose_invisible_characters() {
    let dir = tempdir();
    let data = file(1200, 7);
    let mut cap = Cap::default();
    negotiate(
        &mut cap,
        1,
        "invoice\u{202E}fdp.exe",
        "application/octet-stream",
        &data,
        "ft-9",
    );
    send(
        &mut cap,
        "bidi",
        "application/octet-stream",
        &data,
        500,
        &[],
    );
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    let path = cap.save(dir.path());
    let out_arg = out_dir.to_str().expect("utf-8 path");
    let human = decode(&path, &["-q", "--extract", out_arg]);
    let text = stdout_of(&human);
    assert_eq!(text.lines().count(), 1, "only the extracted file: {text}");
    assert!(text.contains("invoice_fdp.exe"), "{text}");
    assert!(!text.contains('\u{202E}'), "{text}");
    assert_eq!(
        std::fs::read(out_dir.join("invoice_fdp.exe")).expect("saved"),
        data
    );
    let json = decode(&path, &["-q", "--format", "json", "--extract", out_arg]);
    let lines = json_lines(&json);
    assert!(
        lines.iter().all(|v| v["type"] == "extracted"),
        "{}",
        stdout_of(&json)
    );
    assert_eq!(lines.len(), 1);
    // Without -q the messages are listed as before.
    let listed = decode(&path, &["--extract", out_arg]);
    assert!(stdout_of(&listed).lines().count() > 3);
}
