//! `sipkit invite` (#6, SIP side) against `sipkit listen` on loopback: the call test (INVITE,
//! ACK, BYE as listen saw them), rejection, --ring-timeout with CANCEL and 487, Digest over
//! TCP, --duration, and usage errors before any network use; then the content over MSRP
//! (text, UTF-8, empty and one-byte files, 10 MiB of pseudo-random bytes hashed on both sides,
//! standard input, CPIM, msrps, Digest, a refused type), listen saving what it received.
//! Then against a raw callee written here (`raw`): 413, 415, a failure REPORT, silence, a
//! close mid-transfer and a refused connection, each with its exit code and nothing reported
//! as delivered; the passive role; and what invite sent, checked by `sipkit validate`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::listen::{Listen, msrp_listen};
use crate::support::{sha256_hex, sipkit, tempdir, write, xorshift_bytes};

const WAIT: Duration = Duration::from_secs(15);

fn invite(args: &[&str]) -> std::process::Output {
    invite_within("10s", args)
}

fn invite_within(timeout: &str, args: &[&str]) -> std::process::Output {
    let mut full = vec!["invite", "--timeout", timeout, "--format", "json"];
    full.extend_from_slice(args);
    sipkit()
        .args(&full)
        .output()
        .expect("running sipkit invite")
}

fn events(out: &std::process::Output) -> Vec<Value> {
    crate::support::json_lines(out)
}

fn summary(out: &std::process::Output) -> Value {
    events(out)
        .into_iter()
        .rfind(|e| e["event"] == "summary")
        .expect("a summary event")
}

fn methods(l: &Listen) -> Vec<String> {
    l.of("request")
        .iter()
        .map(|r| r["method"].as_str().expect("method").to_owned())
        .collect()
}

/// The methods of the requests invite sent, in order.
fn sent_methods(out: &std::process::Output) -> Vec<String> {
    events(out)
        .iter()
        .filter(|e| e["event"] == "message" && e["direction"] == "sent")
        .filter_map(|e| {
            e["first_line"]
                .as_str()?
                .split(' ')
                .next()
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn call_test_is_answered_acknowledged_and_ended_with_bye_issue_6() {
    let mut l = Listen::start(&["--udp", "127.0.0.1:0", "--count", "2"]);
    let out = invite(&[&l.udp_target()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(l.wait(WAIT).code(), Some(0));
    assert_eq!(methods(&l), ["INVITE", "ACK", "BYE"]);
    assert_eq!(sent_methods(&out), ["INVITE", "ACK", "BYE"]);
    let ev = events(&out);
    let invite = ev
        .iter()
        .find(|e| e["event"] == "message")
        .expect("the INVITE");
    let text = invite["message"].as_str().expect("text");
    assert!(text.contains("m=audio 49170 RTP/AVP 0 8 101\r\n"), "{text}");
    let answer = ev.iter().find(|e| e["event"] == "answer").expect("answer");
    assert_eq!(answer["media"], "audio");
    let s = summary(&out);
    assert_eq!(s["outcome"], "answered");
    assert_eq!(s["status"], 200);
    assert_eq!(s["bye_status"], 200);
    assert_eq!(s["exit"], 0);
    assert!(s["ringing_ms"].as_f64() <= s["answer_ms"].as_f64(), "{s}");
    // The BYE is in the dialog: the To tag of the 200, CSeq one more than the INVITE's.
    let bye = l
        .of("request")
        .into_iter()
        .find(|r| r["method"] == "BYE")
        .expect("BYE");
    assert_eq!(bye["cseq"], 2, "{bye}");
}

#[test]
fn a_rejected_call_exits_1_with_the_reason() {
    let mut l = Listen::start(&[
        "--udp",
        "127.0.0.1:0",
        "--count",
        "1",
        "--reply",
        "INVITE=486",
    ]);
    let out = invite(&[&l.udp_target()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rejected the call: 486 Busy Here"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(summary(&out)["outcome"], "rejected");
    assert_eq!(l.wait(WAIT).code(), Some(0));
    // listen stops at --count 1 with its answer; the ACK is seen on our side.
    assert_eq!(methods(&l)[0], "INVITE");
    assert_eq!(sent_methods(&out), ["INVITE", "ACK"]);
}

#[test]
fn ring_timeout_cancels_gets_487_and_exits_3() {
    let mut l = Listen::start(&["--udp", "127.0.0.1:0", "--count", "1", "--ring", "10s"]);
    let started = Instant::now();
    let out = invite(&["--ring-timeout", "1s", &l.udp_target()]);
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--ring-timeout"), "{err}");
    let s = summary(&out);
    assert_eq!(s["outcome"], "cancelled");
    assert_eq!(s["status"], 487);
    assert_eq!(l.wait(WAIT).code(), Some(0));
    assert_eq!(methods(&l)[..2], ["INVITE", "CANCEL"]);
    assert_eq!(sent_methods(&out), ["INVITE", "CANCEL", "ACK"]);
}

#[test]
fn digest_over_tcp_answers_each_challenge_once() {
    let dir = tempdir();
    let pw = write(dir.path(), "pw", "secret\n");
    let mut l = Listen::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--count",
        "4",
        "--auth",
        "bob:secret",
    ]);
    let pw = pw.to_str().expect("utf8 path");
    let out = invite(&["--user", "bob", "--password-file", pw, &l.tcp_target()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let auths = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "auth")
        .count();
    assert_eq!(auths, 2, "one for the INVITE, one for the BYE");
    assert_eq!(l.wait(WAIT).code(), Some(0));
    assert!(l.of("request").iter().all(|r| r["transport"] == "tcp"));
    // A wrong password: listen answers the credentials with 403, which ends the call.
    let bad = write(dir.path(), "bad", "wrong\n");
    let l = Listen::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--auth",
        "bob:secret",
        "--timeout",
        "5s",
    ]);
    let out = invite(&[
        "--user",
        "bob",
        "--password-file",
        bad.to_str().expect("utf8"),
        &l.tcp_target(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{out:?}"
    );
}

#[test]
fn duration_holds_the_call_before_bye() {
    let mut l = Listen::start(&["--udp", "127.0.0.1:0", "--count", "2"]);
    let out = invite(&["--duration", "700ms", &l.udp_target()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let held = summary(&out)["held_ms"].as_f64().expect("held");
    assert!((690.0..3000.0).contains(&held), "{held}");
    assert_eq!(l.wait(WAIT).code(), Some(0));
}

#[test]
fn usage_errors_exit_2_before_the_network() {
    for args in [
        vec!["invite"],
        vec!["invite", "sip:"],
        vec!["invite", "127.0.0.1:9", "--text", "a", "--stdin"],
        vec!["invite", "127.0.0.1:9", "--msrps"],
        vec!["invite", "127.0.0.1:9", "--user", "bob"],
        vec!["invite", "127.0.0.1:9", "--ring-timeout", "soon"],
        vec!["invite", "127.0.0.1:9", "--file", "/nonexistent/file"],
        vec!["invite", "127.0.0.1:9", "--cpim"],
        vec!["invite", "127.0.0.1:9", "--text", "a", "--chunk-size", "0"],
    ] {
        let out = sipkit().args(&args).output().expect("running");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

fn of<'a>(ev: &'a [Value], name: &str) -> Vec<&'a Value> {
    ev.iter().filter(|e| e["event"] == name).collect()
}

/// The MSRP events of a successful send: connected, chunks acknowledged up to `bytes`, the
/// report, the transfer; the call ends with BYE.
fn assert_delivered(out: &std::process::Output, bytes: u64) -> Value {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    let ev = events(out);
    assert_eq!(of(&ev, "msrp-connected").len(), 1, "{ev:?}");
    let acked = of(&ev, "chunk-acked");
    let last = acked.last().expect("a chunk-acked event");
    assert_eq!(last["bytes"], bytes);
    assert_eq!(last["total"], bytes);
    let report = of(&ev, "delivery-report");
    assert_eq!(report.len(), 1, "{ev:?}");
    assert_eq!(report[0]["confirmed"], true);
    let t = of(&ev, "transfer")[0].clone();
    assert_eq!(t["bytes"], bytes);
    assert_eq!(t["confirmed"], true);
    assert_eq!(sent_methods(out), ["INVITE", "ACK", "BYE"]);
    let s = summary(out);
    assert_eq!(s["outcome"], "delivered");
    assert_eq!(s["exit"], 0);
    t
}

#[test]
fn utf8_text_and_stdin_are_delivered_over_msrp_issue_6() {
    let mut l = msrp_listen(4, &[]);
    let text = "héllo wörld ✓";
    let out = invite(&["--text", text, &l.udp_target()]);
    assert_delivered(&out, text.len() as u64);
    let connected = &of(&events(&out), "msrp-connected")[0].clone();
    assert_eq!(connected["role"], "active");
    assert_eq!(connected["cpim"], false);
    let invite_text = events(&out)
        .into_iter()
        .find(|e| e["event"] == "message")
        .expect("the INVITE")["message"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(invite_text.contains("a=setup:actpass\r\n"), "{invite_text}");
    assert!(
        invite_text.contains("a=accept-types:text/plain message/cpim\r\n"),
        "{invite_text}"
    );

    let piped = b"line one\nline two\n".repeat(1000);
    let out = sipkit()
        .args([
            "invite",
            "--timeout",
            "10s",
            "--format",
            "json",
            "--stdin",
            "--chunk-size",
            "1000",
            &l.udp_target(),
        ])
        .write_stdin(piped.clone())
        .output()
        .expect("running sipkit invite");
    let t = assert_delivered(&out, piped.len() as u64);
    assert_eq!(t["chunks"], 18);
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let got = l.of("msrp-message");
    assert_eq!(got.len(), 2, "{:?}", l.events);
    assert_eq!(got[0]["text"], text);
    assert_eq!(got[0]["sha256"], sha256_hex(text.as_bytes()));
    assert_eq!(got[1]["size"], piped.len());
    assert_eq!(got[1]["sha256"], sha256_hex(&piped));
}

#[test]
fn empty_one_byte_and_10_mib_files_arrive_with_equal_sha256_issue_6() {
    let dir = tempdir();
    let save = dir.path().join("saved");
    let mut l = msrp_listen(6, &["--save-dir", save.to_str().expect("utf-8")]);
    let big = xorshift_bytes(10 << 20, 0x5eed);
    let files = [
        ("empty.bin", Vec::new()),
        ("one.bin", vec![0xFFu8]),
        ("random.bin", big),
    ];
    let mut throughput = 0.0;
    for (name, data) in &files {
        let path = write(dir.path(), name, data);
        let out = invite(&["--file", path.to_str().expect("utf-8"), &l.udp_target()]);
        let t = assert_delivered(&out, data.len() as u64);
        throughput = t["throughput_mbps"].as_f64().expect("throughput");
        // Issue 15 item 3: RFC 5547's size is RFC 4566's integer (no 0): an empty file's
        // selector has none, and the offer passes `validate --strict`.
        let offer = events(&out)
            .into_iter()
            .find(|e| e["event"] == "message")
            .expect("the INVITE")["message"]
            .as_str()
            .expect("text")
            .to_owned();
        let selector = offer
            .split("\r\n")
            .find(|l| l.starts_with("a=file-selector:"))
            .expect("a file-selector")
            .to_owned();
        assert_eq!(selector.contains(" size:"), !data.is_empty(), "{selector}");
        let checked = sipkit()
            .args(["validate", "--strict", "-"])
            .write_stdin(offer.clone())
            .output()
            .expect("running validate");
        assert_eq!(checked.status.code(), Some(0), "{offer}\n{checked:?}");
    }
    eprintln!("10 MiB over MSRP (debug build): {throughput:.1} MB/s");
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let got = l.of("msrp-message");
    assert_eq!(got.len(), 3, "{:?}", l.events);
    for ((name, data), m) in files.iter().zip(got) {
        assert_eq!(m["size"], data.len(), "{name}");
        assert_eq!(m["sha256"], sha256_hex(data), "{name}");
        assert_eq!(m["content_type"], "application/octet-stream");
        // Every file, the empty one too, is saved under its own name.
        let path = m["path"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} not saved: {m}"));
        assert_eq!(path, save.join(name).display().to_string());
        let saved = std::fs::read(path).expect("the saved file");
        assert!(saved == *data, "{name}: saved bytes differ");
    }
}

#[test]
fn cpim_is_used_when_it_is_the_only_type_the_callee_takes_issue_6() {
    let mut l = msrp_listen(2, &["--accept-types", "message/cpim"]);
    let out = invite(&["--text", "wrapped", "--no-report", &l.udp_target()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let ev = events(&out);
    assert_eq!(of(&ev, "msrp-connected")[0]["cpim"], true);
    assert!(
        of(&ev, "delivery-report").is_empty(),
        "--no-report asks none"
    );
    assert_eq!(of(&ev, "transfer")[0]["confirmed"], true);
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let m = l.of("msrp-message");
    assert_eq!(m.len(), 1, "{:?}", l.events);
    // listen unwraps the envelope and reports the inner content.
    assert_eq!(m[0]["content_type"], "text/plain", "{}", m[0]);
    assert_eq!(m[0]["text"], "wrapped");
}

#[test]
fn msrps_with_the_test_ca_and_digest_auth_deliver_issue_6() {
    let pki = crate::support::server_pki::ServerPki::new();
    // Two INVITEs and two BYEs (the first of each is challenged).
    let mut l = msrp_listen(
        4,
        &[
            "--msrps",
            "--cert",
            pki.cert_file.to_str().expect("utf-8"),
            "--key",
            pki.key_file.to_str().expect("utf-8"),
            "--auth",
            "alice:secret",
        ],
    );
    let out = invite(&[
        "--msrps",
        "--ca-file",
        pki.ca_file.to_str().expect("utf-8"),
        "--user",
        "alice",
        "--password",
        "secret",
        "--text",
        "over tls",
        &l.udp_target(),
    ]);
    assert_delivered_auth(&out);
    let ev = events(&out);
    assert_eq!(of(&ev, "msrp-connected")[0]["tls"], true);
    assert!(!of(&ev, "auth").is_empty(), "the INVITE was challenged");
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let m = l.of("msrp-message");
    assert_eq!(m.len(), 1, "{:?}", l.events);
    assert_eq!(m[0]["text"], "over tls");
}

/// Like [`assert_delivered`] with a challenged INVITE (so two INVITEs) and the BYE.
fn assert_delivered_auth(out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let s = summary(out);
    assert_eq!(s["outcome"], "delivered", "{s}");
    let ev = events(out);
    assert_eq!(of(&ev, "delivery-report")[0]["confirmed"], true);
    assert_eq!(sent_methods(out).last().map(String::as_str), Some("BYE"));
}

#[test]
fn a_type_the_callee_does_not_take_exits_1_with_one_line() {
    let dir = tempdir();
    let png = write(dir.path(), "x.png", b"\x89PNG\r\n\x1a\n");
    // The offer says image/png (or message/cpim around it); listen takes neither, so the
    // stream is refused in the answer already: 488, exit 1, nothing sent.
    let mut l = msrp_listen(1, &["--accept-types", "text/plain"]);
    let out = invite(&[
        "--file",
        png.to_str().expect("utf-8"),
        "--content-type",
        "image/png",
        &l.udp_target(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("488"), "{err}");
    assert_eq!(summary(&out)["outcome"], "rejected");
    assert_eq!(l.wait(WAIT).code(), Some(0));
    assert!(l.of("msrp-message").is_empty());
}

/// A callee written in the test (#6): it answers invite's INVITE over raw UDP with a 200 whose
/// SDP points at its own MSRP port, then speaks just enough MSRP (requests framed with
/// sipkit's framer, responses and REPORTs written by hand) to misbehave in one chosen way.
/// It records the INVITE, and every MSRP request as the bytes it arrived as.
mod raw {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use sipkit::proto::msrp::{Flag, Frame, Framer, FramerOptions, StartLine};
    use sipkit::proto::sip::build::MessageBuilder;
    use sipkit::proto::sip::{ParseOptions, parse};

    /// What the callee does on the MSRP side.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Msrp {
        /// 200 for every chunk, a success REPORT at the end when asked for.
        Deliver,
        /// Answer the first content SEND with this status as soon as its head arrives.
        Answer(u16),
        /// 200 for chunks until this many body bytes arrived, then close the connection.
        CloseAfter(usize),
        /// 200 for every chunk, then a failure REPORT (`Status: 000 403`).
        FailureReport,
        /// Answer the binding SEND, then never answer again.
        Silent,
        /// Put a closed port in a=path: the connection is refused.
        Refused,
        /// 200 for chunks until this many body bytes arrived, then stop reading (the
        /// connection stays open) and end the call with a BYE of our own.
        HangUpAfter(usize),
    }

    /// What the callee saw.
    #[derive(Debug, Default)]
    pub struct Seen {
        /// The INVITE as received.
        pub invite: Vec<u8>,
        /// Its SDP body.
        pub sdp: Vec<u8>,
        /// Every MSRP request: head, body and end-line, as it came.
        pub msrp: Vec<Vec<u8>>,
        /// Their continuation flags, in order (`$`, `+`, `#`).
        pub flags: Vec<char>,
        /// Whether a BYE came (and was answered).
        pub bye: bool,
        /// With [`Msrp::HangUpAfter`]: whether invite answered our BYE with 200.
        pub our_bye_answered: bool,
    }

    /// A running callee; [`Callee::finish`] joins it.
    pub struct Callee {
        target: String,
        thread: JoinHandle<Seen>,
    }

    impl Callee {
        /// Start a callee that answers `a=setup:passive` (invite connects to us) or, with
        /// `active`, `a=setup:active` (we connect to invite's offered path).
        pub fn start(mode: Msrp, active: bool) -> Callee {
            let udp = UdpSocket::bind("127.0.0.1:0").expect("binding UDP");
            udp.set_read_timeout(Some(Duration::from_secs(20)))
                .expect("timeout");
            let target = format!("127.0.0.1:{}", udp.local_addr().expect("local").port());
            let thread = std::thread::spawn(move || callee(udp, mode, active));
            Callee { target, thread }
        }

        /// `sip:` target for invite.
        pub fn target(&self) -> &str {
            &self.target
        }

        /// Wait for the callee to finish (it ends after the BYE, or 20 s without one).
        pub fn finish(self) -> Seen {
            self.thread.join().expect("the callee thread")
        }
    }

    fn callee(udp: UdpSocket, mode: Msrp, active: bool) -> Seen {
        let mut seen = Seen::default();
        let mut buf = vec![0u8; 65536];
        let (n, from) = udp.recv_from(&mut buf).expect("an INVITE within 20 s");
        let invite_bytes = buf[..n].to_vec();
        seen.invite = invite_bytes.clone();
        let Ok(Some((invite, _))) =
            parse(&invite_bytes, &ParseOptions::datagram()).map(|s| s.complete())
        else {
            panic!(
                "not a SIP message: {}",
                String::from_utf8_lossy(&invite_bytes)
            );
        };
        seen.sdp = invite.body.to_vec();
        let offer = String::from_utf8_lossy(&seen.sdp).into_owned();
        let their_path = offer
            .lines()
            .find_map(|l| l.strip_prefix("a=path:"))
            .expect("a=path in the offer")
            .trim()
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding TCP");
        let port = listener.local_addr().expect("local").port();
        let listener = if mode == Msrp::Refused {
            drop(listener);
            None
        } else {
            Some(listener)
        };
        let ours = format!("msrp://127.0.0.1:{port}/rawpeer1;tcp");
        let setup = if active { "active" } else { "passive" };
        let sdp = format!(
            "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=message {port} TCP/MSRP *\r\na=accept-types:*\r\na=path:{ours}\r\n\
             a=setup:{setup}\r\n"
        );
        let ok = MessageBuilder::response_to(&invite, 200, "OK", Some("peer1"))
            .header(
                "Contact",
                &format!("<sip:peer@{}>", udp.local_addr().expect("local")),
            )
            .body("application/sdp", sdp.into_bytes())
            .build();
        udp.send_to(&ok, from).expect("sending the 200");
        let stream = match (active, &listener) {
            (true, _) => {
                let addr = their_path
                    .strip_prefix("msrp://")
                    .and_then(|r| r.split('/').next())
                    .expect("an msrp:// path");
                let mut s = TcpStream::connect(addr).expect("connecting to invite");
                let bind = format!(
                    "MSRP bind1 SEND\r\nTo-Path: {their_path}\r\nFrom-Path: {ours}\r\n\
                     Message-ID: bind0001\r\nByte-Range: 1-0/0\r\n-------bind1$\r\n"
                );
                s.write_all(bind.as_bytes()).expect("the binding SEND");
                Some(s)
            }
            (false, Some(l)) => {
                l.set_nonblocking(true).expect("non-blocking");
                let until = Instant::now() + Duration::from_secs(15);
                loop {
                    match l.accept() {
                        Ok((s, _)) => break Some(s),
                        Err(_) if Instant::now() < until => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(_) => break None,
                    }
                }
            }
            (false, None) => None,
        };
        let mut held = None;
        if let Some(s) = stream {
            s.set_nonblocking(false).expect("blocking");
            held = session(s, mode, &ours, &mut seen);
        }
        if held.is_some() {
            seen.our_bye_answered = hang_up(&udp, from, &invite_bytes, &mut buf);
            return seen;
        }
        // The call ends with BYE, whatever happened to the content.
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            let Ok((n, from)) = udp.recv_from(&mut buf) else {
                break;
            };
            let Ok(Some((m, _))) =
                parse(&buf[..n], &ParseOptions::datagram()).map(|s| s.complete())
            else {
                continue;
            };
            if m.method() == Some("BYE") {
                let ok = MessageBuilder::response_to(&m, 200, "OK", None).build();
                udp.send_to(&ok, from).expect("answering BYE");
                seen.bye = true;
                break;
            }
        }
        seen
    }

    /// Send our own BYE in the dialog the INVITE made; whether it is answered 200.
    fn hang_up(udp: &UdpSocket, to: std::net::SocketAddr, invite: &[u8], buf: &mut [u8]) -> bool {
        let text = String::from_utf8_lossy(invite);
        let header = |names: &[&str]| {
            text.lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    names
                        .iter()
                        .any(|x| n.trim().eq_ignore_ascii_case(x))
                        .then(|| v.trim().to_owned())
                })
                .expect("a header of the INVITE")
        };
        let local = udp.local_addr().expect("local");
        let bye = format!(
            "BYE sip:invite@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKpeerbye1\r\n\
             Max-Forwards: 70\r\nFrom: {};tag=peer1\r\nTo: {}\r\nCall-ID: {}\r\n\
             CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
            header(&["To", "t"]),
            header(&["From", "f"]),
            header(&["Call-ID", "i"]),
        );
        udp.send_to(bye.as_bytes(), to).expect("sending our BYE");
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            let Ok((n, _)) = udp.recv_from(buf) else {
                return false;
            };
            let Ok(Some((m, _))) =
                parse(&buf[..n], &ParseOptions::datagram()).map(|s| s.complete())
            else {
                continue;
            };
            if m.status() == Some(200) && m.cseq().is_ok_and(|c| c.method == "BYE") {
                return true;
            }
        }
        false
    }

    fn response(tid: &str, code: u16, to_path: &str, ours: &str) -> String {
        format!(
            "MSRP {tid} {code} raw peer\r\nTo-Path: {to_path}\r\nFrom-Path: {ours}\r\n\
             -------{tid}$\r\n"
        )
    }

    /// Read and answer MSRP requests until the connection closes (or 20 s pass); with
    /// [`Msrp::HangUpAfter`] the connection is handed back open once enough has arrived.
    fn session(mut s: TcpStream, mode: Msrp, ours: &str, seen: &mut Seen) -> Option<TcpStream> {
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut framer = Framer::new(FramerOptions::default());
        let mut buf: Vec<u8> = Vec::new();
        let mut current: Vec<u8> = Vec::new();
        // tid, From-Path, Message-ID, Success-Report, whether it has a body.
        let mut req: Option<(String, String, String, bool, bool)> = None;
        let mut body_bytes = 0usize;
        let mut message_bytes = 0usize;
        let mut refused = false;
        let mut read = vec![0u8; 256 * 1024];
        loop {
            loop {
                let (step, used) = {
                    let frame = framer.decode(&buf).expect("invite's MSRP frames");
                    let used = frame.consumed();
                    let step = match frame {
                        Frame::NeedMore => None,
                        Frame::Head { head, len } => {
                            current.extend_from_slice(&buf[..len]);
                            if let StartLine::Request(_) = head.start {
                                let h = |n: &str| {
                                    head.headers
                                        .get(n)
                                        .map(|h| h.value.to_owned())
                                        .unwrap_or_default()
                                };
                                let bodied = head.bodiless_end.is_none();
                                req = Some((
                                    head.tid.to_owned(),
                                    h("From-Path"),
                                    h("Message-ID"),
                                    h("Success-Report") == "yes",
                                    bodied,
                                ));
                                if let (true, Msrp::Answer(code), false) = (bodied, mode, refused) {
                                    let r = response(head.tid, code, &h("From-Path"), ours);
                                    s.write_all(r.as_bytes()).expect("writing the refusal");
                                    refused = true;
                                }
                            }
                            Some(())
                        }
                        Frame::Body(b) => {
                            current.extend_from_slice(b);
                            body_bytes += b.len();
                            message_bytes += b.len();
                            Some(())
                        }
                        Frame::End { flag, len } => {
                            current.extend_from_slice(&buf[..len]);
                            if let Some((tid, from, mid, report, bodied)) = req.take() {
                                seen.msrp.push(std::mem::take(&mut current));
                                seen.flags.push(flag.as_byte() as char);
                                let answer = match mode {
                                    _ if !bodied => true,
                                    Msrp::Deliver
                                    | Msrp::FailureReport
                                    | Msrp::CloseAfter(_)
                                    | Msrp::HangUpAfter(_) => true,
                                    Msrp::Answer(_) | Msrp::Silent | Msrp::Refused => false,
                                };
                                if answer {
                                    let r = response(&tid, 200, &from, ours);
                                    s.write_all(r.as_bytes()).expect("writing a 200");
                                }
                                if bodied && flag == Flag::End {
                                    let status = match mode {
                                        Msrp::Deliver if report => Some("200 OK"),
                                        Msrp::FailureReport => Some("403 not today"),
                                        _ => None,
                                    };
                                    if let Some(status) = status {
                                        let n = message_bytes;
                                        let r = format!(
                                            "MSRP rep1 REPORT\r\nTo-Path: {from}\r\nFrom-Path: {ours}\r\n\
                                         Message-ID: {mid}\r\nByte-Range: 1-{n}/{n}\r\n\
                                         Status: 000 {status}\r\n-------rep1$\r\n"
                                        );
                                        s.write_all(r.as_bytes()).expect("writing a REPORT");
                                    }
                                    message_bytes = 0;
                                }
                            } else {
                                current.clear();
                            }
                            Some(())
                        }
                    };
                    (step, used)
                };
                if step.is_none() {
                    break;
                }
                buf.drain(..used);
            }
            if let Msrp::CloseAfter(n) = mode
                && body_bytes >= n
            {
                let _ = s.shutdown(Shutdown::Both);
                return None;
            }
            if let Msrp::HangUpAfter(n) = mode
                && body_bytes >= n
            {
                return Some(s);
            }
            match s.read(&mut read) {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&read[..n]),
            }
        }
    }
}

/// invite against the raw callee: exit code, stderr and events.
fn invite_raw(callee: &raw::Callee, extra: &[&str]) -> std::process::Output {
    let mut args = extra.to_vec();
    args.push(callee.target());
    invite_within("5s", &args)
}

/// Nothing was reported as delivered: no delivery report, no confirmed transfer, no
/// "delivered" outcome.
fn assert_not_delivered(out: &std::process::Output, exit: i32, needle: &str) {
    assert_eq!(out.status.code(), Some(exit), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{err}");
    let ev = events(out);
    assert!(of(&ev, "delivery-report").is_empty(), "{ev:?}");
    assert!(
        of(&ev, "transfer").iter().all(|t| t["confirmed"] != true),
        "{ev:?}"
    );
    let s = summary(out);
    assert_ne!(s["outcome"], "delivered", "{s}");
    assert_eq!(s["exit"], exit, "{s}");
    assert_eq!(sent_methods(out).last().map(String::as_str), Some("BYE"));
}

#[test]
fn raw_peer_answering_413_or_415_exits_1_issue_6() {
    let dir = tempdir();
    let big = write(dir.path(), "big.bin", xorshift_bytes(1 << 20, 7));
    let callee = raw::Callee::start(raw::Msrp::Answer(413), false);
    let out = invite_raw(&callee, &["--file", big.to_str().expect("utf-8")]);
    assert_not_delivered(&out, 1, "MSRP 413");
    let seen = callee.finish();
    assert!(seen.bye);
    // The binding SEND, then the chunks already in flight when the 413 came back; the one
    // being written is interrupted (`#`, RFC 4975 §7.1.1), the last of the 16 never goes.
    assert!(seen.msrp.len() < 17, "{:?}", seen.flags);
    assert_ne!(seen.flags.last(), Some(&'$'), "{:?}", seen.flags);

    let callee = raw::Callee::start(raw::Msrp::Answer(415), false);
    let out = invite_raw(&callee, &["--text", "hello"]);
    assert_not_delivered(&out, 1, "MSRP 415");
    assert!(callee.finish().bye);
}

#[test]
fn raw_peer_sending_a_failure_report_exits_1_issue_6() {
    let callee = raw::Callee::start(raw::Msrp::FailureReport, false);
    let out = invite_raw(&callee, &["--text", "hello"]);
    assert_not_delivered(&out, 1, "reported failure 403");
    // Every chunk was answered 200: the acknowledgements are shown, the delivery is not.
    assert_eq!(of(&events(&out), "chunk-acked").len(), 1);
    assert!(callee.finish().bye);
}

#[test]
fn raw_peer_never_answering_exits_3_after_timeout_issue_6() {
    let callee = raw::Callee::start(raw::Msrp::Silent, false);
    let started = Instant::now();
    let out = invite_within("1s", &["--text", "hello", callee.target()]);
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_not_delivered(&out, 3, "response to a chunk");
    assert!(of(&events(&out), "chunk-acked").is_empty());
    assert!(callee.finish().bye);
}

/// A connection closed in the middle of a transfer is a network failure (exit 4), like any
/// lost connection: the peer did not refuse the content, it went away.
#[test]
fn raw_peer_closing_mid_transfer_exits_4_issue_6() {
    let dir = tempdir();
    let big = write(dir.path(), "big.bin", xorshift_bytes(4 << 20, 9));
    let callee = raw::Callee::start(raw::Msrp::CloseAfter(200_000), false);
    let out = invite_raw(&callee, &["--file", big.to_str().expect("utf-8")]);
    assert_not_delivered(&out, 4, "MSRP");
    let acked = of(&events(&out), "chunk-acked")
        .last()
        .map(|e| e["bytes"].as_u64().unwrap_or(0))
        .unwrap_or(0);
    assert!(acked < 4 << 20, "{acked}");
    assert!(callee.finish().bye);
}

#[test]
fn msrp_connection_refused_exits_4_issue_6() {
    let callee = raw::Callee::start(raw::Msrp::Refused, false);
    let out = invite_raw(&callee, &["--text", "hello"]);
    assert_not_delivered(&out, 4, "MSRP");
    assert!(of(&events(&out), "msrp-connected").is_empty());
    assert!(callee.finish().bye);
}

#[test]
fn passive_role_takes_the_callees_connection_and_delivers_issue_6() {
    let callee = raw::Callee::start(raw::Msrp::Deliver, true);
    let out = invite_raw(&callee, &["--text", "from a passive sender"]);
    assert_delivered(&out, 21);
    let ev = events(&out);
    assert_eq!(of(&ev, "msrp-connected")[0]["role"], "passive");
    let seen = callee.finish();
    assert!(seen.bye);
    // Our binding SEND is not recorded (it went the other way): one SEND from invite.
    assert_eq!(seen.msrp.len(), 1, "{:?}", seen.flags);
    let text = String::from_utf8_lossy(&seen.msrp[0]).into_owned();
    assert!(text.contains("\r\n\r\nfrom a passive sender\r\n"), "{text}");
}

/// What invite puts on the wire passes `sipkit validate`: the INVITE, its SDP offer (RFC 5547
/// file attributes included) and every MSRP SEND, in chunks with and without a range end.
#[test]
fn what_invite_sends_passes_sipkit_validate_issue_6() {
    let dir = tempdir();
    let file = write(dir.path(), "in/report v2.pdf", xorshift_bytes(7000, 3));
    let callee = raw::Callee::start(raw::Msrp::Deliver, false);
    let out = invite_raw(
        &callee,
        &[
            "--file",
            file.to_str().expect("utf-8"),
            "--content-type",
            "application/pdf",
            "--chunk-size",
            "3000",
        ],
    );
    assert_delivered(&out, 7000);
    let seen = callee.finish();
    assert_eq!(seen.flags, ['$', '+', '+', '$'], "bind, 3000, 3000, 1000");
    let caught = dir.path().join("caught");
    write(&caught, "invite.sip", &seen.invite);
    write(&caught, "offer.sdp", &seen.sdp);
    for (i, m) in seen.msrp.iter().enumerate() {
        write(&caught, &format!("send{i}.msrp"), m);
    }
    let sdp = String::from_utf8_lossy(&seen.sdp);
    assert!(
        sdp.contains(
            "a=file-selector:name:\"report v2.pdf\" type:application/pdf size:7000 hash:sha-1:"
        ),
        "{sdp}"
    );
    let v = sipkit()
        .args(["validate", "--strict", "--format", "json"])
        .arg(&caught)
        .output()
        .expect("running sipkit validate");
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
    let checked = String::from_utf8_lossy(&v.stdout).lines().count();
    assert_eq!(checked, 7, "6 messages and a summary");
}

/// Ctrl-C while chunks are in flight (the callee has stopped answering): the transfer stops at
/// once, nothing is reported delivered, and the call still ends with BYE (issue 6: "BYE when
/// done, and when interrupted with Ctrl-C").
#[test]
fn ctrl_c_during_a_transfer_sends_bye_and_reports_nothing_delivered_issue_6() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;

    let callee = raw::Callee::start(raw::Msrp::Silent, false);
    let mut child = crate::support::std_sipkit()
        .args([
            "invite",
            "--timeout",
            "30s",
            "--format",
            "json",
            "--text",
            "hello",
            callee.target(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting sipkit invite");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("reading stdout");
        let connected = line.contains("\"msrp-connected\"");
        seen.push(line);
        if connected {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("\"msrp-connected\"")),
        "{seen:?}"
    );
    // The content SEND goes right after the connection; give it a moment to be in flight.
    std::thread::sleep(Duration::from_millis(300));
    let st = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(st.success());
    seen.extend(lines.map(|l| l.expect("reading stdout")));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("reading stderr");
    let status = child.wait().expect("waiting for invite");
    // The interrupt ended it, not the 30 s chunk timeout: the message and outcome say which.
    let out = std::process::Output {
        status,
        stdout: (seen.join("\n") + "\n").into_bytes(),
        stderr: stderr.into_bytes(),
    };
    assert_not_delivered(&out, 1, "interrupted during the MSRP transfer");
    assert_eq!(summary(&out)["outcome"], "interrupted");
    assert!(callee.finish().bye);
}

/// A BYE from the callee in the middle of a transfer is answered 200 at once (not after the
/// transfer's timeout), stops the transfer, and nothing is reported delivered; invite sends no
/// BYE of its own for a call the callee has ended.
#[test]
fn a_bye_from_the_callee_during_a_transfer_is_answered_and_ends_it_issue_6() {
    let dir = tempdir();
    let big = write(dir.path(), "big.bin", xorshift_bytes(8 << 20, 11));
    let callee = raw::Callee::start(raw::Msrp::HangUpAfter(300_000), false);
    let out = invite_within(
        "30s",
        &["--file", big.to_str().expect("utf-8"), callee.target()],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the callee ended the call (BYE)"), "{err}");
    let ev = events(&out);
    assert!(of(&ev, "delivery-report").is_empty(), "{ev:?}");
    assert_eq!(summary(&out)["outcome"], "refused");
    assert!(!sent_methods(&out).iter().any(|m| m == "BYE"));
    let received: Vec<_> = of(&ev, "message")
        .into_iter()
        .filter(|e| e["direction"] == "received")
        .filter_map(|e| e["first_line"].as_str())
        .collect();
    assert!(
        received.iter().any(|l| l.starts_with("BYE ")),
        "{received:?}"
    );
    let seen = callee.finish();
    assert!(seen.our_bye_answered);
    assert!(!seen.bye);
}

/// Issue 15: the callee's Warning on a 4xx/5xx is shown to people (RFC 3261 §20.43): the
/// status line alone does not say why.
#[test]
fn issue_15_the_callees_warning_on_a_rejection_is_shown() {
    let mut l = Listen::start(&[
        "--udp",
        "127.0.0.1:0",
        "--count",
        "1",
        "--reply",
        "INVITE=480",
        "-H",
        "Warning: 399 callee \"on holiday until Monday\"",
    ]);
    let out = sipkit()
        .args(["invite", "--timeout", "10s", &l.udp_target()])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("< SIP/2.0 480 Temporarily Unavailable\n  warning: 399 callee \"on holiday until Monday\"\n"),
        "{text}"
    );
    assert_eq!(l.wait(WAIT).code(), Some(0));
}

/// A callee that, once the call is up, sends a re-INVITE, INFO, OPTIONS and SUBSCRIBE inside
/// the dialog, and whose 200 makes invite the session-timer refresher (`Session-Expires:
/// 2;refresher=uac`); it records the answers, waits for the refresh (an UPDATE, which its
/// Allow lists) and the BYE. Each request is sent once: an unanswered one fails the test.
mod in_dialog_peer {
    use std::net::{SocketAddr, UdpSocket};
    use std::thread::JoinHandle;
    use std::time::Duration;

    use sipkit::proto::sip::build::MessageBuilder;
    use sipkit::proto::sip::{ParseOptions, parse};

    #[derive(Debug, Default)]
    pub struct Seen {
        /// First line of the answer to each of our requests, in order.
        pub answers: Vec<String>,
        /// The whole answers, in order.
        pub whole: Vec<String>,
        /// Methods invite sent after the ACK, in order.
        pub from_invite: Vec<String>,
        /// The 200 to the re-INVITE came again while its ACK was withheld.
        pub resent_200: bool,
    }

    pub fn start() -> (String, JoinHandle<Seen>) {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("binding UDP");
        udp.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let target = format!("127.0.0.1:{}", udp.local_addr().expect("local").port());
        (target, std::thread::spawn(move || run(&udp)))
    }

    fn recv(udp: &UdpSocket, buf: &mut [u8]) -> (Vec<u8>, SocketAddr) {
        let (n, from) = udp.recv_from(buf).expect("a message within 10 s");
        (buf[..n].to_vec(), from)
    }

    fn header(text: &str, name: &str) -> String {
        text.lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("{name} in {text}"))
    }

    fn run(udp: &UdpSocket) -> Seen {
        let mut seen = Seen::default();
        let mut buf = vec![0u8; 65536];
        let (invite_bytes, from) = recv(udp, &mut buf);
        let Ok(Some((invite, _))) =
            parse(&invite_bytes, &ParseOptions::datagram()).map(|s| s.complete())
        else {
            panic!("not SIP");
        };
        let local = udp.local_addr().expect("local");
        let sdp = "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 40000 RTP/AVP 0\r\n";
        let ok = MessageBuilder::response_to(&invite, 200, "OK", Some("peer1"))
            .header("Contact", &format!("<sip:peer@{local}>"))
            .header("Allow", "INVITE, ACK, BYE, UPDATE")
            .header("Require", "timer")
            .header("Session-Expires", "2;refresher=uac")
            .body("application/sdp", sdp.as_bytes().to_vec())
            .build();
        udp.send_to(&ok, from).expect("sending the 200");
        let (ack, _) = recv(udp, &mut buf);
        assert!(
            ack.starts_with(b"ACK "),
            "{}",
            String::from_utf8_lossy(&ack)
        );
        let text = String::from_utf8_lossy(&invite_bytes).into_owned();
        let (to, from_h, call_id) = (
            header(&text, "From"),
            header(&text, "To"),
            header(&text, "Call-ID"),
        );
        let contact = header(&text, "Contact");
        let uri = contact.trim_start_matches('<').trim_end_matches('>');
        for (i, (method, body)) in [
            ("INVITE", sdp),
            ("INFO", "Signal=5\r\nDuration=160\r\n"),
            ("OPTIONS", ""),
            ("SUBSCRIBE", ""),
        ]
        .iter()
        .enumerate()
        {
            let ct = if body.is_empty() {
                String::new()
            } else if *method == "INVITE" {
                "Content-Type: application/sdp\r\n".into()
            } else {
                "Content-Type: application/dtmf-relay\r\n".into()
            };
            let req = format!(
                "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKpeer{i}\r\n\
                 Max-Forwards: 70\r\nFrom: {from_h};tag=peer1\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
                 CSeq: {} {method}\r\nContact: <sip:peer@{local}>\r\n{ct}Content-Length: {}\r\n\r\n{body}",
                i + 1,
                body.len()
            );
            udp.send_to(req.as_bytes(), from).expect("sending");
            let (resp, _) = recv(udp, &mut buf);
            let resp = String::from_utf8_lossy(&resp).into_owned();
            seen.answers
                .push(resp.lines().next().unwrap_or_default().to_owned());
            seen.whole.push(resp.clone());
            if *method == "INVITE" {
                // Until the ACK, our 200 is sent again (RFC 3261 §13.3.1.4): wait for that.
                let (again, _) = recv(udp, &mut buf);
                seen.resent_200 = String::from_utf8_lossy(&again) == resp;
                let ack = format!(
                    "ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKpeerack\r\n\
                     Max-Forwards: 70\r\nFrom: {from_h};tag=peer1\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
                     CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
                );
                udp.send_to(ack.as_bytes(), from).expect("sending the ACK");
            }
        }
        // Then the refresh and the BYE: both answered 200.
        loop {
            let (m, from) = recv(udp, &mut buf);
            let Ok(Some((m, _))) = parse(&m, &ParseOptions::datagram()).map(|s| s.complete())
            else {
                continue;
            };
            let method = m.method().unwrap_or_default().to_owned();
            seen.from_invite.push(method.clone());
            let ok = MessageBuilder::response_to(&m, 200, "OK", None).build();
            udp.send_to(&ok, from).expect("answering");
            if method == "BYE" {
                return seen;
            }
        }
    }
}

#[test]
fn issue_15_the_callees_in_dialog_requests_are_answered_and_the_session_refreshed() {
    let (target, peer) = in_dialog_peer::start();
    let out = invite(&["--duration", "3s", &target]);
    let seen = peer.join().expect("the peer");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        seen.answers,
        [
            "SIP/2.0 200 OK",
            "SIP/2.0 200 OK",
            "SIP/2.0 200 OK",
            "SIP/2.0 501 Not Implemented"
        ],
        "{:?}",
        seen.whole
    );
    // The re-INVITE's 200 carries our offer again and a Contact; OPTIONS and 501 list Allow.
    assert!(seen.whole[0].contains("m=audio 49170 RTP/AVP 0 8 101\r\n"));
    assert!(seen.whole[0].contains("\r\nContact: "));
    for i in [2, 3] {
        assert!(
            seen.whole[i].contains("\r\nAllow: INVITE, ACK, CANCEL, BYE, UPDATE, INFO,"),
            "{}",
            seen.whole[i]
        );
    }
    assert!(
        seen.resent_200,
        "the 200 to the re-INVITE is retransmitted until its ACK"
    );
    // We were the refresher: an UPDATE came at half the 2 s interval, then the BYE.
    assert_eq!(seen.from_invite.first().map(String::as_str), Some("UPDATE"));
    assert_eq!(seen.from_invite.last().map(String::as_str), Some("BYE"));
    let ev = events(&out);
    let reported: Vec<_> = of(&ev, "in-dialog")
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap_or_default().to_owned(),
                e["status"].clone(),
            )
        })
        .collect();
    assert_eq!(reported.len(), 4, "{reported:?}");
    assert_eq!(reported[1].0, "INFO");
    assert_eq!(
        of(&ev, "in-dialog")[1]["body"],
        "Signal=5\r\nDuration=160\r\n"
    );
    assert_eq!(of(&ev, "refreshed")[0]["status"], 200);
    assert_eq!(summary(&out)["outcome"], "answered");
}

/// Start `sipkit invite ARGS --format json` with standard input piped (held open), call
/// `ready` (which returns once the run has reached the phase to interrupt), send SIGINT and
/// wait at most 10 s for the end: (status, JSON lines, stderr).
fn interrupt_invite(args: &[&str], ready: impl FnOnce()) -> (Option<i32>, Vec<Value>, String) {
    use std::io::Read;
    use std::process::Stdio;

    let mut child = crate::support::std_sipkit()
        .arg("invite")
        .args(args)
        .args(["--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting sipkit invite");
    // Held open: with --stdin, only Ctrl-C can end the content.
    let stdin = child.stdin.take();
    ready();
    let st = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("waiting").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            drop(stdin);
            panic!("sipkit invite did not stop within 10 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("stdout");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (child.wait().expect("status").code(), lines, stderr)
}

/// A UDP socket that receives one datagram and never answers: returns once it came.
fn silent_peer() -> (std::net::UdpSocket, u16) {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("binding a silent peer");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let port = s.local_addr().expect("addr").port();
    (s, port)
}

fn wait_for_datagram(s: &std::net::UdpSocket) {
    let mut buf = [0u8; 4096];
    loop {
        match s.recv(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => {
                other.expect("a datagram within 10 s");
                return;
            }
        }
    }
}

fn last_summary(lines: &[Value]) -> &Value {
    lines
        .iter()
        .rfind(|e| e["event"] == "summary")
        .expect("a summary event")
}

#[test]
fn issue_15_ctrl_c_before_any_provisional_stops_at_once_with_the_summary() {
    let (peer, port) = silent_peer();
    let target = format!("127.0.0.1:{port}");
    let (code, lines, stderr) =
        interrupt_invite(&["--timeout", "30s", &target], || wait_for_datagram(&peer));
    // README: an interrupted call exits 1.
    assert_eq!(code, Some(1), "{lines:?}\n{stderr}");
    let s = last_summary(&lines);
    assert_eq!(s["outcome"], "interrupted", "{s}");
    assert_eq!(s["exit"], 1, "{s}");
    assert!(
        stderr.contains("interrupted (Ctrl-C) before any response to the INVITE"),
        "{stderr}"
    );
    // Nothing could be cancelled: no CANCEL went out.
    let sent: Vec<_> = lines
        .iter()
        .filter(|e| e["event"] == "message" && e["direction"] == "sent")
        .filter_map(|e| e["first_line"].as_str())
        .collect();
    assert!(sent.iter().all(|l| l.starts_with("INVITE ")), "{sent:?}");
}

#[test]
fn issue_15_ctrl_c_while_locating_the_server_gives_the_summary() {
    // A DNS server that never answers: the run sits in resolution until Ctrl-C.
    let (dns, port) = silent_peer();
    let server = format!("127.0.0.1:{port}");
    let (code, lines, stderr) = interrupt_invite(
        &[
            "--timeout",
            "30s",
            "--dns-server",
            &server,
            "sip:bob@example.test",
        ],
        || wait_for_datagram(&dns),
    );
    assert_eq!(code, Some(1), "{lines:?}\n{stderr}");
    let s = last_summary(&lines);
    assert_eq!(s["outcome"], "interrupted", "{s}");
    assert!(
        stderr.contains("interrupted (Ctrl-C) while locating sip:bob@example.test"),
        "{stderr}"
    );
}

#[test]
fn issue_15_ctrl_c_during_a_stdin_transfer_ends_without_waiting_for_eof() {
    let mut l = msrp_listen(10, &[]);
    let target = l.udp_target();
    // Once listen has the MSRP session, invite is reading its standard input (held open).
    let (code, lines, stderr) = interrupt_invite(&["--timeout", "30s", "--stdin", &target], || {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if l.next_event(Duration::from_millis(100))
                .is_some_and(|e| e["event"] == "msrp-session")
            {
                return;
            }
        }
        panic!("no MSRP session reached listen: {:?}", l.events);
    });
    assert_eq!(code, Some(1), "{lines:?}\n{stderr}");
    assert_eq!(last_summary(&lines)["outcome"], "interrupted");
}

#[test]
fn issue_15_a_dns_server_failure_is_named_in_the_summary() {
    use crate::support::dns::DnsServer;
    use hickory_proto::op::ResponseCode;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime for the DNS server");
    let failing = rt.block_on(DnsServer::failing(ResponseCode::ServFail));
    let server = failing.addr.to_string();
    let out = invite(&["--dns-server", &server, "sip:bob@broken.test"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let s = summary(&out);
    assert_eq!(s["dns_error"], "servfail", "{s}");
    assert_eq!(s["outcome"], "network-error", "{s}");
    assert!(
        s["error"].as_str().is_some_and(|e| e.contains(&server)),
        "{s}"
    );
}

/// Issue 15 item 1: a file whose last chunk was answered 200 is saved whatever arrives next.
/// Rounds of parallel 2 MiB transfers, half without a Success-Report (so the BYE follows the
/// last 200 at once), half with one (the BYE follows the report): every file is saved under
/// its name, byte-exact, and nothing is reported incomplete.
#[test]
fn issue_15_parallel_transfers_with_the_bye_racing_the_last_chunk_lose_no_file() {
    const ROUNDS: usize = 3;
    const PARALLEL: usize = 8;
    let dir = tempdir();
    let save = dir.path().join("saved");
    let calls = ROUNDS * PARALLEL;
    // INVITE and BYE per call.
    let mut l = msrp_listen(2 * calls, &["--save-dir", save.to_str().expect("utf-8")]);
    let target = l.udp_target();
    let mut sent = Vec::new();
    for round in 0..ROUNDS {
        let handles: Vec<_> = (0..PARALLEL)
            .map(|i| {
                let name = format!("f{round}-{i}.bin");
                let data = xorshift_bytes(2 << 20, (round * PARALLEL + i + 1) as u64);
                let path = write(dir.path(), &name, &data);
                let target = target.clone();
                sent.push((name.clone(), data));
                std::thread::spawn(move || {
                    let p = path.to_str().expect("utf-8").to_owned();
                    // Test mode fixes ids per process; calls that run side by side each need
                    // their own Call-ID.
                    let call_id = format!("race-{round}-{i}");
                    let mut args = vec![
                        "--file",
                        p.as_str(),
                        "--chunk-size",
                        "65536",
                        "--call-id",
                        call_id.as_str(),
                    ];
                    if i % 2 == 0 {
                        args.push("--no-report");
                    }
                    args.push(&target);
                    invite_within("30s", &args)
                })
            })
            .collect();
        for h in handles {
            let out = h.join().expect("invite thread");
            assert_eq!(out.status.code(), Some(0), "{out:?}");
            assert_eq!(summary(&out)["outcome"], "delivered", "{out:?}");
        }
    }
    assert_eq!(
        l.wait(Duration::from_secs(60)).code(),
        Some(0),
        "{:?}",
        l.events
    );
    assert!(
        l.of("msrp-incomplete").is_empty(),
        "{:?}",
        l.of("msrp-incomplete")
    );
    let got = l.of("msrp-message");
    assert_eq!(got.len(), calls, "{:?}", l.events);
    for (name, data) in &sent {
        let m = got
            .iter()
            .find(|m| m["file_name"] == name.as_str())
            .unwrap_or_else(|| panic!("no message for {name}"));
        assert!(m.get("save_error").is_none(), "{m}");
        let path = m["path"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} not saved: {m}"));
        assert_eq!(path, save.join(name).to_str().expect("utf-8"));
        assert!(
            std::fs::read(path).expect("saved file") == *data,
            "{name} differs"
        );
    }
}
