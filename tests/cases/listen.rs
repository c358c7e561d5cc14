//! `sipkit listen` (#5) as a child process on loopback, driven by `sipkit send` and by raw UDP
//! sockets: the default answers, --reply, retransmission absorption, INVITE with its 2xx
//! retransmitted until the ACK, CANCEL, BYE in and out of dialog, Digest with two algorithms
//! and a stale nonce, the registrar, --count/--timeout/signals and their exit codes,
//! --write-pcap.

use std::time::{Duration, Instant};

use crate::support::listen::{Listen, RawUdp, header, status, to_tag};
use crate::support::{sipkit, tempdir};

const WAIT: Duration = Duration::from_secs(15);

fn send(args: &[&str]) -> std::process::Output {
    let mut full = vec!["send", "--timeout", "5s"];
    full.extend_from_slice(args);
    sipkit().args(&full).output().expect("running sipkit send")
}

fn summary(l: &Listen) -> &serde_json::Value {
    l.of("summary").pop().expect("a summary event")
}

#[test]
fn options_get_200_and_reply_overrides_a_method_issue_5() {
    let mut l = Listen::start(&["--count", "2", "--reply", "MESSAGE=403:Go away"]);
    let ok = send(&[&l.udp_target()]);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let refused = send(&["--text", "hi", &l.tcp_target()]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let st = l.wait(WAIT);
    assert_eq!(st.code(), Some(0));
    let reqs = l.of("request");
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0]["method"], "OPTIONS");
    assert_eq!(reqs[0]["transport"], "udp");
    assert_eq!(reqs[1]["method"], "MESSAGE");
    assert_eq!(reqs[1]["transport"], "tcp");
    let sent: Vec<(u64, &str)> = l
        .of("response")
        .iter()
        .map(|r| {
            (
                r["status"].as_u64().expect("status"),
                r["reason"].as_str().expect("reason"),
            )
        })
        .collect();
    assert_eq!(sent, [(200, "OK"), (403, "Go away")]);
    let s = summary(&l);
    assert_eq!(s["stopped_by"], "count");
    assert_eq!(s["requests"], 2);
    assert_eq!(s["exit"], 0);
}

#[test]
fn a_retransmitted_request_is_answered_again_but_reported_once() {
    let mut l = Listen::start(&["--count", "2", "-H", "X-Test: yes"]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    let req = raw.request("OPTIONS", "z9hG4bKr1", "rt1", 1, None, "", "");
    raw.send(&req);
    let first = raw.recv();
    raw.send(&req);
    let second = raw.recv();
    assert_eq!(status(&first), 200);
    assert_eq!(first, second, "the same response, byte for byte");
    assert_eq!(header(&first, "X-Test"), Some("yes"));
    assert!(header(&first, "Allow").is_some_and(|a| a.contains("INVITE")));
    raw.send(&raw.request("OPTIONS", "z9hG4bKr2", "rt2", 1, None, "", ""));
    assert_eq!(status(&raw.recv()), 200);
    assert_eq!(l.wait(WAIT).code(), Some(0));
    assert_eq!(l.of("request").len(), 2);
    assert_eq!(summary(&l)["retransmissions_absorbed"], 1);
}

#[test]
fn invite_100_180_200_retransmitted_until_ack_then_bye() {
    let mut l = Listen::start(&["--count", "3"]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    let sdp = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    let invite = raw.request(
        "INVITE",
        "z9hG4bKi1",
        "call-i",
        1,
        None,
        "Content-Type: application/sdp\r\n",
        sdp,
    );
    raw.send(&invite);
    let codes: Vec<u16> = (0..3).map(|_| status(&raw.recv())).collect();
    assert_eq!(codes[..2], [100, 180]);
    assert_eq!(codes[2], 200);
    // No ACK yet: the 2xx comes again after T1 (RFC 3261 §13.3.1.4).
    let again = raw
        .recv_within(Duration::from_secs(3))
        .expect("the 2xx retransmitted");
    assert_eq!(status(&again), 200);
    let body = again.split("\r\n\r\n").nth(1).expect("a body");
    assert!(body.contains("m=audio 49170 RTP/AVP 8 101\r\n"), "{body}");
    let tag = to_tag(&again);
    let port = l.udp.expect("udp").port();
    assert_eq!(
        header(&again, "Contact"),
        Some(format!("<sip:127.0.0.1:{port}>").as_str())
    );
    raw.send(&raw.request("ACK", "z9hG4bKa1", "call-i", 1, Some(&tag), "", ""));
    // Nothing more after the ACK.
    assert!(raw.recv_within(Duration::from_millis(1200)).is_none());
    raw.send(&raw.request("BYE", "z9hG4bKb1", "call-i", 2, Some(&tag), "", ""));
    assert_eq!(status(&raw.recv()), 200);
    raw.send(&raw.request("BYE", "z9hG4bKb2", "call-i", 3, Some(&tag), "", ""));
    assert_eq!(
        status(&raw.recv()),
        481,
        "the dialog ended with the first BYE"
    );
    assert_eq!(l.wait(WAIT).code(), Some(0));
    let methods: Vec<&str> = l
        .of("request")
        .iter()
        .map(|r| r["method"].as_str().expect("method"))
        .collect();
    assert_eq!(methods, ["INVITE", "ACK", "BYE", "BYE"]);
    assert!(summary(&l)["retransmissions_sent"].as_u64() >= Some(1));
}

#[test]
fn cancel_of_a_ringing_invite_gets_200_and_the_invite_487() {
    let mut l = Listen::start(&["--count", "1", "--ring", "10s"]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    raw.send(&raw.request("INVITE", "z9hG4bKc1", "call-c", 1, None, "", ""));
    assert_eq!(status(&raw.recv()), 100);
    assert_eq!(status(&raw.recv()), 180);
    raw.send(&raw.request("CANCEL", "z9hG4bKc1", "call-c", 1, None, "", ""));
    let a = raw.recv();
    let b = raw.recv();
    let mut got = [
        (status(&a), header(&a, "CSeq").map(str::to_owned)),
        (status(&b), header(&b, "CSeq").map(str::to_owned)),
    ];
    got.sort();
    assert_eq!(
        got,
        [
            (200, Some("1 CANCEL".to_owned())),
            (487, Some("1 INVITE".to_owned()))
        ]
    );
    assert_eq!(l.wait(WAIT).code(), Some(0));
}

#[test]
fn invite_rejected_with_reply_and_the_ack_absorbed() {
    let mut l = Listen::start(&["--count", "1", "--reply", "INVITE=486"]);
    let out = send(&["INVITE", &l.udp_target()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(l.wait(WAIT).code(), Some(0));
    let statuses: Vec<u64> = l
        .of("response")
        .iter()
        .map(|r| r["status"].as_u64().expect("status"))
        .collect();
    assert_eq!(statuses, [100, 486]);
}

#[test]
fn digest_with_two_algorithms_issue_5() {
    let mut l = Listen::start(&["--count", "4", "--auth", "alice:secret"]);
    for alg in ["MD5", "SHA-256"] {
        let out = send(&[
            "--user",
            "alice",
            "--password",
            "secret",
            "--auth-alg",
            alg,
            &l.udp_target(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{alg}: {out:?}");
    }
    assert_eq!(l.wait(WAIT).code(), Some(0));
    let auth: Vec<(String, String)> = l
        .of("auth")
        .iter()
        .map(|a| {
            (
                a["result"].as_str().expect("result").to_owned(),
                a["algorithm"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        auth,
        [
            ("challenged".into(), "".into()),
            ("accepted".into(), "MD5".into()),
            ("challenged".into(), "".into()),
            ("accepted".into(), "SHA-256".into()),
        ]
    );
    let statuses: Vec<u64> = l
        .of("response")
        .iter()
        .map(|r| r["status"].as_u64().expect("status"))
        .collect();
    assert_eq!(statuses, [407, 200, 407, 200]);
}

#[test]
fn register_gets_401_and_a_wrong_password_403() {
    let mut l = Listen::start(&[
        "--count",
        "2",
        "--auth",
        "alice:secret",
        "--auth-alg",
        "MD5",
    ]);
    let out = send(&[
        "REGISTER",
        "--user",
        "alice",
        "--password",
        "wrong",
        &l.udp_target(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(l.wait(WAIT).code(), Some(0));
    let results: Vec<&str> = l
        .of("auth")
        .iter()
        .map(|a| a["result"].as_str().expect("result"))
        .collect();
    assert_eq!(results, ["challenged", "rejected"]);
    let statuses: Vec<u64> = l
        .of("response")
        .iter()
        .map(|r| r["status"].as_u64().expect("status"))
        .collect();
    assert_eq!(statuses, [401, 403]);
}

#[test]
fn an_expired_nonce_is_challenged_with_stale_true() {
    use sipkit::proto::digest::{Challenge, Client, Request, Secret};
    use sipkit::proto::sip::headers::Auth;
    let mut l = Listen::start(&[
        "--count",
        "3",
        "--auth",
        "alice:secret",
        "--auth-alg",
        "SHA-256",
        "--nonce-lifetime",
        "1s",
    ]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    raw.send(&raw.request("MESSAGE", "z9hG4bKs1", "call-s", 1, None, "", ""));
    let challenge = raw.recv();
    assert_eq!(status(&challenge), 407);
    let value = header(&challenge, "Proxy-Authenticate").expect("a challenge");
    let parsed = Auth::parse(value, 0).expect("challenge syntax");
    let ch = Challenge::parse(&parsed).expect("a Digest challenge");
    let mut client = Client::new();
    let uri = format!("sip:bob@{}", raw.to);
    let req = Request {
        method: "MESSAGE",
        uri: &uri,
        body: b"",
    };
    let answer = |client: &mut Client| {
        client
            .authorize(
                &ch,
                "alice",
                &Secret::Password("secret"),
                &req,
                false,
                &mut || "cnonce1".to_owned(),
            )
            .expect("authorize")
            .value
    };
    let first = answer(&mut client);
    let extra = format!("Proxy-Authorization: {first}\r\n");
    raw.send(&raw.request("MESSAGE", "z9hG4bKs2", "call-s", 2, None, &extra, ""));
    assert_eq!(status(&raw.recv()), 200);
    std::thread::sleep(Duration::from_millis(1300));
    let second = answer(&mut client);
    let extra = format!("Proxy-Authorization: {second}\r\n");
    raw.send(&raw.request("MESSAGE", "z9hG4bKs3", "call-s", 3, None, &extra, ""));
    let stale = raw.recv();
    assert_eq!(status(&stale), 407);
    assert!(
        header(&stale, "Proxy-Authenticate").is_some_and(|v| v.ends_with(", stale=true")),
        "{stale}"
    );
    assert_eq!(l.wait(WAIT).code(), Some(0));
    let results: Vec<&str> = l
        .of("auth")
        .iter()
        .map(|a| a["result"].as_str().expect("result"))
        .collect();
    assert_eq!(results, ["challenged", "accepted", "stale"]);
}

#[test]
fn registrar_keeps_bindings_until_they_expire() {
    let mut l = Listen::start(&["--count", "3", "--registrar"]);
    let target = l.udp_target();
    let aor = "sip:alice@127.0.0.1";
    let reg = send(&[
        "REGISTER",
        "--to",
        &format!("<{aor}>"),
        "--contact",
        "<sip:alice@192.0.2.7:5070>",
        "--expires",
        "1",
        &target,
    ]);
    assert_eq!(reg.status.code(), Some(0), "{reg:?}");
    let text = String::from_utf8_lossy(&reg.stdout);
    assert!(
        text.contains("binding <sip:alice@192.0.2.7:5070>;expires=1"),
        "{text}"
    );
    let to_aor = send(&["--uri", aor, &target]);
    assert_eq!(to_aor.status.code(), Some(0));
    std::thread::sleep(Duration::from_millis(1300));
    let after = send(&["--uri", aor, &target]);
    assert_eq!(after.status.code(), Some(0));
    assert_eq!(l.wait(WAIT).code(), Some(0));
    let regs = l.of("registration");
    assert_eq!(regs.len(), 1);
    assert_eq!(regs[0]["aor"], aor);
    assert_eq!(
        regs[0]["bindings"],
        serde_json::json!([{"contact": "sip:alice@192.0.2.7:5070", "expires": 1}])
    );
    let reqs = l.of("request");
    assert_eq!(reqs[1]["registered"], aor);
    assert_eq!(
        reqs[1]["contacts"],
        serde_json::json!(["sip:alice@192.0.2.7:5070"])
    );
    assert!(reqs[2].get("registered").is_none(), "expired: {}", reqs[2]);
}

#[test]
fn timeout_before_count_exits_3_and_without_count_0() {
    let mut l = Listen::start(&["--count", "5", "--timeout", "500ms"]);
    let started = Instant::now();
    assert_eq!(l.wait(WAIT).code(), Some(3));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(summary(&l)["stopped_by"], "timeout");
    assert_eq!(summary(&l)["exit"], 3);
    let mut l = Listen::start(&["--timeout", "300ms"]);
    assert_eq!(l.wait(WAIT).code(), Some(0));
}

#[test]
fn sigint_and_sigterm_end_cleanly_with_the_summary() {
    for sig in ["-INT", "-TERM"] {
        let mut l = Listen::start(&[]);
        let ok = send(&[&l.udp_target()]);
        assert_eq!(ok.status.code(), Some(0));
        l.signal(sig);
        assert_eq!(l.wait(WAIT).code(), Some(0), "{sig}");
        let s = summary(&l);
        assert_eq!(s["stopped_by"], "signal");
        assert_eq!(s["requests"], 1);
    }
}

#[test]
fn a_port_in_use_is_a_usage_error_naming_it() {
    let busy = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = busy.local_addr().expect("addr").to_string();
    let out = sipkit()
        .args(["listen", "--udp", &addr, "--timeout", "5s"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on udp {addr}")),
        "{err}"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        vec!["listen", "--reply", "INVITE=180"],
        vec!["listen", "--reply", "CANCEL=500"],
        vec!["listen", "--udp", "localhost:5060"],
        vec!["listen", "--auth", "nopassword"],
        vec!["listen", "--header", "no colon"],
        vec!["listen", "--tls", "127.0.0.1:0"],
    ] {
        let out = sipkit().args(&args).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn human_output_has_one_line_per_message() {
    let mut cmd = crate::support::std_sipkit();
    cmd.args([
        "listen",
        "--udp",
        "127.0.0.1:0",
        "--msrp",
        "127.0.0.1:0",
        "--timeout",
        "3s",
        "--count",
        "1",
    ])
    .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    std::io::BufRead::read_line(&mut out, &mut first).expect("a line");
    let addr = first
        .trim()
        .strip_prefix("listening on udp ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let ok = send(&[&addr]);
    assert_eq!(ok.status.code(), Some(0));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).expect("output");
    assert_eq!(child.wait().expect("exit").code(), Some(0));
    let lines: Vec<&str> = rest
        .lines()
        .filter(|l| !l.starts_with("listening on msrp 127.0.0.1:"))
        .collect();
    assert_eq!(lines.len(), 3, "{rest}");
    assert!(
        lines[0].contains(&format!("-> OPTIONS sip:{addr}")),
        "{rest}"
    );
    assert!(lines[1].contains(" <- 200 OK  (OPTIONS "), "{rest}");
    assert!(
        lines[2].starts_with("1 requests (1 OPTIONS), 1 responses sent"),
        "{rest}"
    );
}

#[test]
fn write_pcap_holds_every_message_with_synthesised_headers() {
    let dir = tempdir();
    let pcap = dir.path().join("listen.pcap");
    let pcap_arg = pcap.to_str().expect("utf-8 path");
    let mut l = Listen::start(&["--count", "2", "--write-pcap", pcap_arg]);
    assert_eq!(send(&[&l.udp_target()]).status.code(), Some(0));
    assert_eq!(
        send(&["--text", "hi", &l.tcp_target()]).status.code(),
        Some(0)
    );
    assert_eq!(l.wait(WAIT).code(), Some(0));
    let bytes = std::fs::read(&pcap).expect("the capture");
    // pcapng: a section header block, then an interface with LINKTYPE_RAW (101).
    assert_eq!(bytes[..4], [0x0a, 0x0d, 0x0d, 0x0a]);
    assert_eq!(bytes[8..12], 0x1a2b_3c4du32.to_le_bytes());
    assert_eq!(bytes[28..32], 1u32.to_le_bytes());
    assert_eq!(bytes[36..38], 101u16.to_le_bytes());
    let text = String::from_utf8_lossy(&bytes);
    for needle in ["OPTIONS sip:", "MESSAGE sip:", "SIP/2.0 200 OK"] {
        assert_eq!(
            text.matches(needle).count(),
            if needle.starts_with("SIP") { 2 } else { 1 },
            "{needle}"
        );
    }
}

/// The MSRP address from the `listening` event.
pub(super) fn msrp_addr(l: &Listen) -> std::net::SocketAddr {
    l.events[0]["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .find(|a| a["transport"] == "msrp")
        .and_then(|a| a["address"].as_str())
        .expect("an msrp address")
        .parse()
        .expect("socket address")
}

/// An SDP offer for one MSRP stream from `our_uri`, the offerer connecting (RFC 6135
/// `a=setup:active`), with extra attribute lines.
pub(super) fn msrp_offer(our_uri: &str, types: &str, extra: &str) -> String {
    format!(
        "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=message 9 TCP/MSRP *\r\na=accept-types:{types}\r\na=path:{our_uri}\r\n\
         a=setup:active\r\n{extra}"
    )
}

/// INVITE with `sdp`, the 200's body and To tag; the 2xx is ACKed.
pub(super) fn invite_msrp(raw: &RawUdp, call_id: &str, sdp: &str) -> (String, String) {
    raw.send(&raw.request(
        "INVITE",
        &format!("z9hG4bK{call_id}"),
        call_id,
        1,
        None,
        "Content-Type: application/sdp\r\n",
        sdp,
    ));
    let ok = loop {
        let r = raw.recv();
        if status(&r) >= 200 {
            break r;
        }
    };
    assert_eq!(status(&ok), 200, "{ok}");
    let tag = to_tag(&ok);
    raw.send(&raw.request(
        "ACK",
        &format!("z9hG4bK{call_id}a"),
        call_id,
        1,
        Some(&tag),
        "",
        "",
    ));
    let body = ok
        .split("\r\n\r\n")
        .nth(1)
        .expect("an SDP answer")
        .to_owned();
    (body, tag)
}

pub(super) fn attr<'a>(sdp: &'a str, name: &str) -> &'a str {
    sdp.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("a={name}:")))
        .unwrap_or_else(|| panic!("no a={name} in {sdp}"))
}

pub(super) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) fn msrp_send(
    rt: &tokio::runtime::Runtime,
    sender: &mut sipkit::transport::msrp::MsrpSender,
    content_type: &str,
    data: &[u8],
) -> Result<(), Box<sipkit::transport::msrp::MsrpError>> {
    use sipkit::transport::msrp::Outgoing;
    rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(20),
            sender.send(
                Outgoing {
                    reader: data,
                    content_type: content_type.to_owned(),
                    size: Some(data.len() as u64),
                    cpim: None,
                },
                |_| {},
            ),
        )
        .await
        .expect("the send finishes within 20s")
        .map(drop)
        .map_err(Box::new)
    })
}

#[test]
fn msrp_text_and_1mib_file_arrive_intact_then_bye_ends_the_session_issue_5() {
    use sipkit::transport::msrp::{MsrpSender, SenderConfig};
    let dir = tempdir();
    let save = dir.path().join("saved");
    let pcap = dir.path().join("msrp.pcap");
    let mut l = Listen::start(&[
        "--msrp",
        "127.0.0.1:0",
        "--save-dir",
        save.to_str().expect("utf-8"),
        "--write-pcap",
        pcap.to_str().expect("utf-8"),
        "--msrp-count",
        "2",
        "--timeout",
        "40s",
    ]);
    let msrp = msrp_addr(&l);
    let raw = RawUdp::new(l.udp.expect("udp"));

    // A chat session: text only.
    let chat_uri = "msrp://127.0.0.1:9/alicechat01;tcp";
    let (answer, chat_tag) =
        invite_msrp(&raw, "msrp-chat", &msrp_offer(chat_uri, "text/plain", ""));
    assert!(
        answer.contains(&format!("m=message {} TCP/MSRP *\r\n", msrp.port())),
        "{answer}"
    );
    assert_eq!(attr(&answer, "accept-types"), "text/plain");
    assert_eq!(attr(&answer, "setup"), "passive");
    let chat_path = attr(&answer, "path").to_owned();
    assert!(
        chat_path.starts_with(&format!("msrp://{msrp}/")) && chat_path.ends_with(";tcp"),
        "{chat_path}"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut chat = rt
        .block_on(MsrpSender::connect(
            chat_uri,
            &chat_path,
            None,
            SenderConfig::default(),
        ))
        .expect("the sender binds the chat session");
    msrp_send(&rt, &mut chat, "text/plain", b"hello listen").expect("text delivered");
    let refused = msrp_send(&rt, &mut chat, "image/png", b"\x89PNG").expect_err("415");
    assert_eq!(refused.status(), Some(415), "{refused}");

    // BYE ends the dialog and with it the MSRP session: the next SEND gets 481.
    raw.send(&raw.request("BYE", "z9hG4bKmb1", "msrp-chat", 2, Some(&chat_tag), "", ""));
    assert_eq!(status(&raw.recv()), 200);
    let gone = msrp_send(&rt, &mut chat, "text/plain", b"still there?").expect_err("481");
    assert_eq!(gone.status(), Some(481), "{gone}");

    // A file transfer session (RFC 5547), 1 MiB of binary.
    let file: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file_uri = "msrp://127.0.0.1:9/alicefile01;tcp";
    let selector = format!(
        "a=sendonly\r\na=file-selector:name:\"../report.bin\" type:application/octet-stream size:{}\r\n",
        file.len()
    );
    let (answer, _) = invite_msrp(
        &raw,
        "msrp-file",
        &msrp_offer(file_uri, "application/octet-stream", &selector),
    );
    assert_eq!(attr(&answer, "accept-types"), "application/octet-stream");
    assert!(answer.contains("a=recvonly\r\n"), "{answer}");
    let file_path = attr(&answer, "path").to_owned();
    let mut sender = rt
        .block_on(MsrpSender::connect(
            file_uri,
            &file_path,
            None,
            SenderConfig::default(),
        ))
        .expect("the sender binds the file session");
    msrp_send(&rt, &mut sender, "application/octet-stream", &file).expect("file delivered");

    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let messages = l.of("msrp-message");
    assert_eq!(messages.len(), 2, "{:?}", l.events);
    assert_eq!(messages[0]["text"], "hello listen");
    assert_eq!(messages[0]["content_type"], "text/plain");
    assert_eq!(messages[0]["sha256"], sha256_hex(b"hello listen"));
    assert!(messages[0].get("path").is_none(), "chat text is not saved");
    assert_eq!(messages[1]["size"], 1 << 20);
    assert_eq!(messages[1]["sha256"], sha256_hex(&file));
    assert_eq!(messages[1]["file_name"], "../report.bin");
    let saved = save.join("report.bin");
    assert_eq!(messages[1]["path"], saved.display().to_string());
    assert!(
        std::fs::read(&saved).expect("the saved file") == file,
        "saved bytes differ"
    );
    let refusals: Vec<u64> = l
        .of("msrp-refused")
        .iter()
        .map(|r| r["status"].as_u64().expect("status"))
        .collect();
    assert_eq!(refusals, [415, 481]);
    assert_eq!(l.of("msrp-closed").len(), 1);
    assert_eq!(l.of("msrp-session").len(), 2);
    let s = summary(&l);
    assert_eq!(s["msrp_messages"], 2);
    assert_eq!(s["stopped_by"], "count");

    // The capture holds the SIP dialogs and the MSRP transactions, and gives the file back.
    let out_dir = dir.path().join("extracted");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let decoded = sipkit()
        .args(["decode-pcap", "--format", "json", "--extract"])
        .arg(&out_dir)
        .arg(&pcap)
        .output()
        .expect("running decode-pcap");
    assert_eq!(decoded.status.code(), Some(0), "{decoded:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&decoded.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let count = |proto: &str, method: &str| {
        lines
            .iter()
            .filter(|v| v["protocol"] == proto && v["method"] == method)
            .count()
    };
    assert_eq!(count("sip", "INVITE"), 2, "{lines:?}");
    assert_eq!(count("sip", "BYE"), 1);
    assert!(count("msrp", "SEND") >= 1 + 3 + 16, "{lines:?}");
    assert!(count("msrp", "REPORT") >= 2);
    let extracted: Vec<&serde_json::Value> =
        lines.iter().filter(|v| v["type"] == "extracted").collect();
    let report = extracted
        .iter()
        .find(|v| v["sha256"] == sha256_hex(&file))
        .unwrap_or_else(|| panic!("the file among {extracted:?}"));
    let path = report["path"].as_str().expect("path");
    assert!(
        std::fs::read(path).expect("extracted") == file,
        "extracted bytes differ"
    );
}
