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
fn invite_180_200_without_100_retransmitted_until_ack_then_bye() {
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
    // Answered at once, so no 100 Trying (RFC 3261 §17.2.1).
    let codes: Vec<u16> = (0..2).map(|_| status(&raw.recv())).collect();
    assert_eq!(codes, [180, 200]);
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
    // The answer waits for --ring, so the 100 Trying comes first (RFC 3261 §17.2.1).
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
    assert_eq!(statuses, [486], "an immediate final answer needs no 100");
}

#[test]
fn digest_with_two_algorithms_issue_5() {
    let mut l = Listen::start(&[
        "--count",
        "4",
        "--auth",
        "alice:secret",
        "--auth-alg",
        "SHA-256,MD5",
    ]);
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

/// Issue 15 item 4: an existing --write-pcap file is a usage error before anything starts
/// (nothing bound, nothing printed on stdout), and the file is left as it was.
#[test]
fn issue_15_write_pcap_never_overwrites_an_existing_file() {
    let dir = crate::support::tempdir();
    let path = crate::support::write(dir.path(), "old.pcapng", b"precious");
    let out = sipkit()
        .args([
            "listen",
            "--udp",
            "127.0.0.1:0",
            "--timeout",
            "5s",
            "--write-pcap",
        ])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--write-pcap") && err.contains("already exists"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(std::fs::read(&path).expect("still there"), b"precious");
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

#[test]
fn msrp_offer_with_setup_passive_makes_listen_connect_rfc6135_issue_5() {
    use sipkit::transport::msrp::{MsrpSender, SenderConfig};
    let mut l = Listen::start(&[
        "--msrp",
        "127.0.0.1:0",
        "--msrp-count",
        "1",
        "--timeout",
        "20s",
    ]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let ours = format!(
        "msrp://127.0.0.1:{}/passivebob1;tcp",
        listener.local_addr().expect("addr").port()
    );
    let offer = msrp_offer(&ours, "text/*", "").replace("a=setup:active", "a=setup:passive");
    let (answer, _) = invite_msrp(&raw, "msrp-passive", &offer);
    assert_eq!(attr(&answer, "setup"), "active", "{answer}");
    assert_eq!(attr(&answer, "accept-types"), "text/*");
    let theirs = attr(&answer, "path").to_owned();
    let mut s = rt
        .block_on(MsrpSender::accept(
            &listener,
            None,
            &ours,
            &theirs,
            SenderConfig::default(),
        ))
        .expect("listen connects and binds");
    msrp_send(&rt, &mut s, "text/html", b"<p>hi</p>").expect("delivered");
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let m = l.of("msrp-message");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["text"], "<p>hi</p>");
    assert_eq!(m[0]["content_type"], "text/html");
}

/// Read from `s` until the MSRP end-line of transaction `tid`; returns the text.
fn read_msrp(s: &mut std::net::TcpStream, tid: &str) -> String {
    use std::io::Read;
    let end = format!("-------{tid}$\r\n");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(&end) {
        let n = s.read(&mut buf).expect("an MSRP response within 5s");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[cfg(unix)]
#[test]
fn ctrl_c_lets_a_message_in_flight_finish_and_reports_the_rest_issue_5() {
    use std::io::Write;
    let mut l = Listen::start(&["--msrp", "127.0.0.1:0", "--timeout", "30s"]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    let ours = "msrp://127.0.0.1:9/rawalice01;tcp";
    let (answer, _) = invite_msrp(&raw, "msrp-int", &msrp_offer(ours, "text/plain", ""));
    let to = attr(&answer, "path").to_owned();
    let mut s = std::net::TcpStream::connect(msrp_addr(&l)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let heads = |tid: &str, mid: &str, range: &str| {
        format!(
            "MSRP {tid} SEND\r\nTo-Path: {to}\r\nFrom-Path: {ours}\r\nMessage-ID: {mid}\r\n\
             Byte-Range: {range}\r\n"
        )
    };
    let send = |s: &mut std::net::TcpStream, text: String, tid: &str| {
        s.write_all(text.as_bytes()).expect("write");
        let r = read_msrp(s, tid);
        assert!(r.starts_with(&format!("MSRP {tid} 200 OK")), "{r}");
    };
    let bind = format!("{}-------tid1$\r\n", heads("tid1", "bind", "1-0/0"));
    send(&mut s, bind, "tid1");
    for (tid, mid) in [("tid2", "finished"), ("tid3", "abandoned")] {
        send(
            &mut s,
            format!(
                "{}Content-Type: text/plain\r\n\r\nhello\r\n-------{tid}+\r\n",
                heads(tid, mid, "1-5/10")
            ),
            tid,
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    l.signal("-INT");
    std::thread::sleep(Duration::from_millis(300));
    send(
        &mut s,
        format!(
            "{}Content-Type: text/plain\r\n\r\nworld\r\n-------tid4$\r\n",
            heads("tid4", "finished", "6-10/10")
        ),
        "tid4",
    );
    let started = Instant::now();
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    assert!(started.elapsed() < Duration::from_secs(8));
    let m = l.of("msrp-message");
    assert_eq!(m.len(), 1, "{:?}", l.events);
    assert_eq!(m[0]["message_id"], "finished");
    assert_eq!(m[0]["text"], "helloworld");
    let lost = l.of("msrp-incomplete");
    assert_eq!(lost.len(), 1, "{:?}", l.events);
    assert_eq!(lost[0]["message_id"], "abandoned");
    assert_eq!(lost[0]["received"], 5);
    assert_eq!(lost[0]["total"], 10);
    assert_eq!(lost[0]["reason"], "stopped");
    assert_eq!(summary(&l)["stopped_by"], "signal");
}

#[test]
fn msrps_takes_tcp_tls_msrp_with_the_listen_certificate_issue_5() {
    use crate::support::server_pki::ServerPki;
    use sipkit::transport::ClientTls;
    use sipkit::transport::msrp::{MsrpSender, SenderConfig};
    let pki = ServerPki::new();
    let mut l = Listen::start(&[
        "--msrp",
        "127.0.0.1:0",
        "--msrps",
        "--cert",
        pki.cert_file.to_str().expect("utf-8"),
        "--key",
        pki.key_file.to_str().expect("utf-8"),
        "--msrp-count",
        "1",
        "--timeout",
        "20s",
    ]);
    assert!(
        l.events[0]["addresses"]
            .as_array()
            .expect("addresses")
            .iter()
            .any(|a| a["transport"] == "msrps"),
        "{:?}",
        l.events[0]
    );
    let raw = RawUdp::new(l.udp.expect("udp"));
    let ours = "msrps://127.0.0.1:9/tlsalice01;tcp";
    let offer = msrp_offer(ours, "text/plain", "").replace("TCP/MSRP", "TCP/TLS/MSRP");
    let (answer, _) = invite_msrp(&raw, "msrps-call", &offer);
    assert!(answer.contains(" TCP/TLS/MSRP *\r\n"), "{answer}");
    let theirs = attr(&answer, "path").to_owned();
    assert!(theirs.starts_with("msrps://127.0.0.1:"), "{theirs}");
    let tls = ClientTls::new(Some(&pki.ca_file), false, None, None).expect("client TLS");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut s = rt
        .block_on(MsrpSender::connect(
            ours,
            &theirs,
            Some(&tls),
            SenderConfig::default(),
        ))
        .expect("TLS connection and bind");
    msrp_send(&rt, &mut s, "text/plain", b"over tls").expect("delivered");
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    assert_eq!(l.of("msrp-message")[0]["text"], "over tls");
}

/// A file transfer offer (RFC 5547) from a raw MSRP peer: `name`, and `sha1` as the
/// file-selector's hash.
fn file_offer(ours: &str, name: &str, size: usize, sha1: &[u8]) -> String {
    let hash: Vec<String> = sha1.iter().map(|b| format!("{b:02X}")).collect();
    msrp_offer(
        ours,
        "application/octet-stream",
        &format!(
            "a=sendonly\r\na=file-selector:name:\"{name}\" type:application/octet-stream \
             size:{size} hash:sha-1:{}\r\n",
            hash.join(":")
        ),
    )
}

fn sha1_of(data: &[u8]) -> Vec<u8> {
    use sha1::Digest;
    sha1::Sha1::digest(data).to_vec()
}

/// `len` bytes that look like a binary file.
fn binary(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

/// An MSRP peer written by hand: one TCP connection, SEND chunks built byte by byte.
struct RawMsrp {
    s: std::net::TcpStream,
    ours: String,
    theirs: String,
    tid: u32,
}

impl RawMsrp {
    /// INVITE with `sdp` from `ours`, connect to the answer's path, bind with a bodiless SEND.
    fn open(l: &Listen, raw: &RawUdp, call_id: &str, ours: &str, sdp: &str) -> (RawMsrp, String) {
        let (answer, tag) = invite_msrp(raw, call_id, sdp);
        let theirs = attr(&answer, "path").to_owned();
        let s = std::net::TcpStream::connect(msrp_addr(l)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut m = RawMsrp {
            s,
            ours: ours.to_owned(),
            theirs,
            tid: 0,
        };
        let r = m.send("bind", "1-0/0", None, '$');
        assert!(r.contains(" 200 OK"), "{r}");
        (m, tag)
    }

    /// One SEND of message `mid` with `range` (`1-100/300`, `1-*/300`), `body` and the
    /// continuation flag; returns the response.
    fn send(&mut self, mid: &str, range: &str, body: Option<&[u8]>, flag: char) -> String {
        use std::io::Write;
        self.tid += 1;
        let tid = format!("tid{:04}", self.tid);
        let mut msg = format!(
            "MSRP {tid} SEND\r\nTo-Path: {}\r\nFrom-Path: {}\r\nMessage-ID: {mid}\r\n\
             Byte-Range: {range}\r\n",
            self.theirs, self.ours
        )
        .into_bytes();
        if let Some(b) = body {
            msg.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
            msg.extend_from_slice(b);
            msg.extend_from_slice(b"\r\n");
        }
        msg.extend_from_slice(format!("-------{tid}{flag}\r\n").as_bytes());
        self.s.write_all(&msg).expect("write");
        read_msrp(&mut self.s, &tid)
    }

    /// Bytes `[from, to)` of `data` (of `total`) as one chunk.
    fn chunk(&mut self, mid: &str, data: &[u8], from: usize, to: usize, flag: char) {
        let range = format!("{}-{}/{}", from + 1, to, data.len());
        let r = self.send(mid, &range, Some(&data[from..to]), flag);
        assert!(r.contains(" 200 OK"), "{r}");
    }
}

/// Names in `dir`, sorted, hidden ones included.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn msrp_file_out_of_order_interrupted_and_aborted_is_saved_whole_issue_5() {
    let dir = tempdir();
    let save = dir.path().join("saved");
    let mut l = Listen::start(&[
        "--msrp",
        "127.0.0.1:0",
        "--save-dir",
        save.to_str().expect("utf-8"),
        "--msrp-count",
        "1",
        "--timeout",
        "30s",
    ]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    // Larger than the 64 KiB kept in memory: the bytes go through the spill file.
    let file = binary(100_000);
    let ours = "msrp://127.0.0.1:9/rawfile01;tcp";
    let sdp = file_offer(ours, "data.bin", file.len(), &sha1_of(&file));
    let (mut m, _) = RawMsrp::open(&l, &raw, "msrp-ooo", ours, &sdp);

    // A first attempt aborted with `#` (RFC 4975 §7.1): its bytes are dropped.
    m.chunk("try1", &file, 0, 30_000, '+');
    m.chunk("try1", &file, 30_000, 40_000, '#');
    // Then the file again: the last chunk (`$`) first, then the start interrupted (a chunk
    // ended early, its Byte-Range end `*`) and continued.
    m.chunk("try2", &file, 60_000, 100_000, '$');
    let r = m.send("try2", "1-*/100000", Some(&file[..25_000]), '+');
    assert!(r.contains(" 200 OK"), "{r}");
    m.chunk("try2", &file, 25_000, 60_000, '+');

    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let aborted = l.of("msrp-aborted");
    assert_eq!(aborted.len(), 1, "{:?}", l.events);
    assert_eq!(aborted[0]["message_id"], "try1");
    let msgs = l.of("msrp-message");
    assert_eq!(msgs.len(), 1, "{:?}", l.events);
    assert_eq!(msgs[0]["message_id"], "try2");
    assert_eq!(msgs[0]["sha256"], sha256_hex(&file));
    let hex: String = sha1_of(&file).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(msgs[0]["sha1"], hex);
    assert_eq!(msgs[0]["sha1_expected"], hex);
    assert!(std::fs::read(save.join("data.bin")).expect("saved") == file);
    assert_eq!(listing(&save), ["data.bin"], "nothing else left behind");
}

#[test]
fn msrp_hostile_file_name_stays_in_the_directory_and_never_overwrites_issue_5() {
    let dir = tempdir();
    let save = dir.path().join("deep").join("saved");
    std::fs::create_dir_all(&save).expect("mkdir");
    std::fs::write(save.join("passwd"), b"already here").expect("write");
    let mut l = Listen::start(&[
        "--msrp",
        "127.0.0.1:0",
        "--save-dir",
        save.to_str().expect("utf-8"),
        "--msrp-count",
        "1",
        "--timeout",
        "30s",
    ]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    let file = b"root:x:0:0::/root:/bin/sh\n".to_vec();
    let ours = "msrp://127.0.0.1:9/rawevil01;tcp";
    let sdp = file_offer(ours, "../../etc/passwd", file.len(), &sha1_of(&file));
    let (mut m, _) = RawMsrp::open(&l, &raw, "msrp-evil", ours, &sdp);
    m.chunk("evil1", &file, 0, file.len(), '$');
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let msgs = l.of("msrp-message");
    assert_eq!(msgs.len(), 1, "{:?}", l.events);
    assert_eq!(msgs[0]["file_name"], "../../etc/passwd");
    assert_eq!(msgs[0]["path"], save.join("passwd-1").display().to_string());
    assert_eq!(
        std::fs::read(save.join("passwd")).expect("old"),
        b"already here"
    );
    assert_eq!(std::fs::read(save.join("passwd-1")).expect("new"), file);
    assert_eq!(listing(&save), ["passwd", "passwd-1"]);
    assert_eq!(listing(&dir.path().join("deep")), ["saved"]);
    assert!(!dir.path().join("etc").exists());
}

#[test]
fn msrp_file_with_a_wrong_hash_is_never_named_as_the_file_issue_5() {
    let dir = tempdir();
    let save = dir.path().join("saved");
    let mut l = Listen::start(&[
        "--msrp",
        "127.0.0.1:0",
        "--save-dir",
        save.to_str().expect("utf-8"),
        "--msrp-count",
        "1",
        "--timeout",
        "30s",
    ]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    let file = binary(5000);
    let ours = "msrp://127.0.0.1:9/rawhash01;tcp";
    let sdp = file_offer(ours, "report.pdf", file.len(), &sha1_of(b"something else"));
    let (mut m, _) = RawMsrp::open(&l, &raw, "msrp-hash", ours, &sdp);
    m.chunk("hash1", &file, 0, 2000, '+');
    m.chunk("hash1", &file, 2000, file.len(), '$');
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    assert!(l.of("msrp-message").is_empty(), "{:?}", l.events);
    let bad = l.of("msrp-hash-mismatch");
    assert_eq!(bad.len(), 1, "{:?}", l.events);
    let want: String = sha1_of(&file).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(bad[0]["sha1"], want);
    assert_eq!(
        bad[0]["part"],
        save.join("report.pdf.part").display().to_string()
    );
    assert_eq!(listing(&save), ["report.pdf.part"]);
}

#[test]
fn msrp_connection_closed_mid_file_leaves_no_file_issue_5() {
    let dir = tempdir();
    let save = dir.path().join("saved");
    let mut l = Listen::start(&[
        "--msrp",
        "127.0.0.1:0",
        "--save-dir",
        save.to_str().expect("utf-8"),
        "--timeout",
        "3s",
    ]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    let file = binary(200_000);
    let ours = "msrp://127.0.0.1:9/rawcut01;tcp";
    let sdp = file_offer(ours, "big.iso", file.len(), &sha1_of(&file));
    let (mut m, _) = RawMsrp::open(&l, &raw, "msrp-cut", ours, &sdp);
    m.chunk("cut1", &file, 0, 120_000, '+');
    drop(m);
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let lost = l.of("msrp-incomplete");
    assert_eq!(lost.len(), 1, "{:?}", l.events);
    assert_eq!(lost[0]["message_id"], "cut1");
    assert_eq!(lost[0]["received"], 120_000);
    assert_eq!(lost[0]["total"], 200_000);
    assert_eq!(lost[0]["reason"], "connection closed");
    assert!(l.of("msrp-message").is_empty());
    assert_eq!(listing(&save), Vec::<String>::new(), "no file left");
}

#[test]
fn msrp_file_offer_without_save_dir_is_declined_with_a_warning_issue_5() {
    let mut l = Listen::start(&["--msrp", "127.0.0.1:0", "--count", "1", "--timeout", "10s"]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    let sdp = file_offer(
        "msrp://127.0.0.1:9/nodir01;tcp",
        "a.bin",
        3,
        &sha1_of(b"abc"),
    );
    raw.send(&raw.request(
        "INVITE",
        "z9hG4bKnodir",
        "msrp-nodir",
        1,
        None,
        "Content-Type: application/sdp\r\n",
        &sdp,
    ));
    let last = loop {
        let r = raw.recv();
        if status(&r) >= 200 {
            break r;
        }
    };
    assert_eq!(status(&last), 488, "{last}");
    let warning = header(&last, "Warning").expect("a Warning");
    assert!(
        warning.starts_with("399 sipkit \"") && warning.contains("--save-dir"),
        "{warning}"
    );
    raw.send(&raw.request(
        "ACK",
        "z9hG4bKnodir",
        "msrp-nodir",
        1,
        Some(&to_tag(&last)),
        "",
        "",
    ));
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
}

/// An OPTIONS from `raw` is answered 200 (valid calls keep working under abuse).
fn options_answered(raw: &RawUdp, n: u32) {
    let call_id = format!("alive-{n}");
    raw.send(&raw.request(
        "OPTIONS",
        &format!("z9hG4bKalive{n}"),
        &call_id,
        1,
        None,
        "",
        "",
    ));
    let r = raw.recv();
    assert_eq!(status(&r), 200, "{r}");
    assert!(r.contains(&call_id), "{r}");
}

#[test]
fn garbage_bad_cseq_oversize_slow_and_too_many_connections_while_options_work_issue_5() {
    use std::io::{Read, Write};
    let mut l = Listen::start(&[
        "--max-message",
        "2000",
        "--max-connections",
        "4",
        "--idle-timeout",
        "1s",
        "--timeout",
        "6s",
    ]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    options_answered(&raw, 0);

    // Garbage datagrams: logged, never answered, never fatal.
    let mut x = 0x1234_5678u32;
    for i in 0..200u32 {
        let len = 1 + (i as usize * 37) % 1400;
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        raw.socket.send_to(&junk, raw.to).expect("send");
    }
    raw.send("OPTIONS sip:x SIP/2.0\r\n\r\n");
    raw.send("INVITE\r\n\r\n");
    assert_eq!(raw.recv_within(Duration::from_millis(300)), None);
    options_answered(&raw, 1);

    // A bad CSeq: enough is there to answer, so 400 with a Warning saying what.
    let bad = raw
        .request("OPTIONS", "z9hG4bKbadcseq", "bad-cseq", 1, None, "", "")
        .replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS");
    raw.send(&bad);
    let r = raw.recv();
    assert_eq!(status(&r), 400, "{r}");
    assert!(r.contains("Call-ID: bad-cseq\r\n"), "{r}");
    let warning = header(&r, "Warning").expect("a Warning");
    assert!(
        warning.starts_with("399 sipkit \"") && warning.to_lowercase().contains("cseq"),
        "{warning}"
    );

    // Oversize: dropped and logged.
    let big = raw.request(
        "OPTIONS",
        "z9hG4bKbig",
        "too-big",
        1,
        None,
        &format!("X-Pad: {}\r\n", "a".repeat(3000)),
        "",
    );
    raw.send(&big);
    assert_eq!(raw.recv_within(Duration::from_millis(300)), None);
    options_answered(&raw, 2);

    // A slow client trickling a request, and more connections than allowed.
    let tcp = l.tcp.expect("tcp");
    let mut slow = std::net::TcpStream::connect(tcp).expect("connect");
    slow.write_all(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKs\r\n")
        .expect("write");
    let mut extra: Vec<std::net::TcpStream> = (0..12)
        .map(|_| std::net::TcpStream::connect(tcp).expect("connect"))
        .collect();
    let started = Instant::now();
    for i in 0..6 {
        std::thread::sleep(Duration::from_millis(300));
        let _ = slow.write_all(b"X");
        options_answered(&raw, 10 + i);
    }
    // Within 2 s every connection was closed: the extras on accept or when idle, the slow
    // one when its message did not finish within the idle timeout.
    let closed = |s: &mut std::net::TcpStream| -> bool {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut b = [0u8; 64];
        matches!(s.read(&mut b), Ok(0) | Err(_)) && !matches!(s.read(&mut b), Ok(n) if n > 0)
    };
    assert!(started.elapsed() < Duration::from_secs(4));
    let open = extra.iter_mut().map(|s| !closed(s)).filter(|o| *o).count();
    assert_eq!(open, 0, "connections still open");
    assert!(closed(&mut slow), "the slow client was cut off");
    options_answered(&raw, 99);

    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let errors = l.of("error");
    let text = format!("{errors:?}");
    assert!(
        text.contains("malformed SIP message answered 400"),
        "{text}"
    );
    assert!(text.contains("malformed SIP message dropped"), "{text}");
    let s = summary(&l);
    // Not every datagram is an error: some of the noise is dropped as keepalive or as a
    // response without a transaction.
    assert!(s["errors"].as_u64().expect("errors") >= 100, "{s}");
    assert_eq!(s["statuses"]["400"], 1, "{s}");
}

/// Issue 15 (RFC 3261 §21.5.14): a request over --max-message on a stream is answered
/// 513 Message Too Large, with the transaction fields copied, before the connection closes.
#[test]
fn issue_15_an_oversized_request_on_tcp_gets_513_before_the_close() {
    use std::io::{Read, Write};
    let mut l = Listen::start(&["--max-message", "2000", "--timeout", "5s"]);
    let tcp = l.tcp.expect("tcp");
    let mut s = std::net::TcpStream::connect(tcp).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let local = s.local_addr().expect("local");
    let body = "x".repeat(3000);
    let request = format!(
        "MESSAGE sip:l@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/TCP {local};branch=z9hG4bKbig513\r\n\
Max-Forwards: 70\r\n\
From: <sip:a@127.0.0.1>;tag=a1\r\n\
To: <sip:l@127.0.0.1>\r\n\
Call-ID: too-big-513\r\n\
CSeq: 7 MESSAGE\r\n\
Content-Type: text/plain\r\n\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // The peer may close while we still write; what matters is what comes back.
    let _ = s.write_all(request.as_bytes());
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let r = String::from_utf8_lossy(&got);
    assert!(r.starts_with("SIP/2.0 513 Message Too Large\r\n"), "{r}");
    assert!(r.contains("Call-ID: too-big-513\r\n"), "{r}");
    assert!(r.contains("CSeq: 7 MESSAGE\r\n"), "{r}");
    assert!(r.contains(";branch=z9hG4bKbig513\r\n"), "{r}");
    assert!(r.contains("To: <sip:l@127.0.0.1>;tag="), "{r}");
    assert!(r.ends_with("Content-Length: 0\r\n\r\n"), "{r}");
    l.signal("-INT");
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let errors = format!("{:?}", l.of("error"));
    assert!(
        errors.contains("exceeds the maximum of 2000 bytes"),
        "{errors}"
    );
}

/// `req` with its Via line replaced by `via`.
fn with_via(req: &str, via: &str) -> String {
    let line = req
        .split("\r\n")
        .find(|l| l.starts_with("Via: "))
        .expect("a Via line");
    req.replacen(line, &format!("Via: {via}"), 1)
}

#[test]
fn issue_15_responses_follow_the_via_received_and_rport() {
    let mut l = Listen::start(&["--count", "3"]);
    // The client sends from one socket; its Via names another port (and an address that is
    // not the packet's source, as behind a NAT).
    let client = RawUdp::new(l.udp.expect("udp"));
    let other = RawUdp::new(l.udp.expect("udp"));
    let (cport, oport) = (client.port(), other.port());
    // No rport: RFC 3261 §18.2.2 sends to the source address (received) and the sent-by port.
    let req = client.request("OPTIONS", "z9hG4bKv1", "via-1", 1, None, "", "");
    client.send(&with_via(
        &req,
        &format!("SIP/2.0/UDP 192.0.2.7:{oport};branch=z9hG4bKv1"),
    ));
    let resp = other.recv();
    assert_eq!(status(&resp), 200);
    assert_eq!(
        header(&resp, "Via"),
        Some(format!("SIP/2.0/UDP 192.0.2.7:{oport};branch=z9hG4bKv1;received=127.0.0.1").as_str()),
        "{resp}"
    );
    // With rport (RFC 3581 §4): back to the source address and port, both written in.
    let req = client.request("OPTIONS", "z9hG4bKv2", "via-2", 1, None, "", "");
    client.send(&with_via(
        &req,
        &format!("SIP/2.0/UDP 192.0.2.7:{oport};rport;branch=z9hG4bKv2"),
    ));
    let resp = client.recv();
    assert_eq!(
        header(&resp, "Via"),
        Some(
            format!(
                "SIP/2.0/UDP 192.0.2.7:{oport};branch=z9hG4bKv2;received=127.0.0.1;rport={cport}"
            )
            .as_str()
        ),
        "{resp}"
    );
    // The sent-by is the source: the Via comes back as it was.
    let req = client.request("OPTIONS", "z9hG4bKv3", "via-3", 1, None, "", "");
    client.send(&req);
    let resp = client.recv();
    assert_eq!(
        header(&resp, "Via"),
        Some(format!("SIP/2.0/UDP 127.0.0.1:{cport};branch=z9hG4bKv3").as_str()),
        "{resp}"
    );
    assert_eq!(l.wait(WAIT).code(), Some(0));
    // Nothing of the first exchange reached the client's own socket.
    client.socket.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 2048];
    assert!(
        client.socket.recv_from(&mut buf).is_err(),
        "no stray response"
    );
    let sent: Vec<&str> = l
        .of("response")
        .iter()
        .map(|r| r["remote"].as_str().unwrap_or_default())
        .collect();
    let (to_other, to_client) = (format!("127.0.0.1:{oport}"), format!("127.0.0.1:{cport}"));
    assert_eq!(
        sent,
        [to_other.as_str(), &to_client, &to_client],
        "{:?}",
        l.events
    );
}

#[test]
fn issue_15_the_2xx_to_invite_and_its_retransmissions_go_to_the_sent_by_port() {
    let mut l = Listen::start(&["--count", "2"]);
    let client = RawUdp::new(l.udp.expect("udp"));
    let other = RawUdp::new(l.udp.expect("udp"));
    let oport = other.port();
    let via = format!("SIP/2.0/UDP 127.0.0.1:{oport};branch=z9hG4bKvi");
    let invite = client.request("INVITE", "z9hG4bKvi", "via-i", 1, None, "", "");
    client.send(&with_via(&invite, &via));
    let got: Vec<String> = (0..3).map(|_| other.recv()).collect();
    let codes: Vec<u16> = got.iter().map(|r| status(r)).collect();
    assert_eq!(
        codes,
        [180, 200, 200],
        "the 2xx retransmitted to the same place"
    );
    let tag = to_tag(&got[1]);
    let ack = client.request("ACK", "z9hG4bKva", "via-i", 1, Some(&tag), "", "");
    client.send(&with_via(&ack, &via.replace("z9hG4bKvi", "z9hG4bKva")));
    let bye = client.request("BYE", "z9hG4bKvb", "via-i", 2, Some(&tag), "", "");
    client.send(&with_via(&bye, &via.replace("z9hG4bKvi", "z9hG4bKvb")));
    // Retransmissions of the 2xx may still be in flight: the BYE's answer is the next 200 to BYE.
    loop {
        let r = other.recv();
        if header(&r, "CSeq") == Some("2 BYE") {
            assert_eq!(status(&r), 200);
            break;
        }
    }
    assert_eq!(l.wait(WAIT).code(), Some(0));
}

#[test]
fn issue_15_info_update_and_prack_outside_a_dialog_get_481() {
    let mut l = Listen::start(&["--count", "9"]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    // No To tag: no dialog.
    for (i, m) in ["INFO", "UPDATE", "PRACK"].iter().enumerate() {
        raw.send(&raw.request(m, &format!("z9hG4bKo{i}"), "out-1", 1, None, "", ""));
        let r = raw.recv();
        assert_eq!(status(&r), 481, "{m}: {r}");
    }
    // A tag that names no dialog of ours.
    raw.send(&raw.request("INFO", "z9hG4bKo3", "out-2", 1, Some("nosuch"), "", ""));
    assert_eq!(status(&raw.recv()), 481);
    // NOTIFY and MESSAGE are taken outside dialogs.
    raw.send(&raw.request(
        "NOTIFY",
        "z9hG4bKo4",
        "out-3",
        1,
        None,
        "Event: message-summary\r\n",
        "",
    ));
    assert_eq!(status(&raw.recv()), 200);
    // Inside a dialog, INFO and UPDATE are answered 200.
    raw.send(&raw.request("INVITE", "z9hG4bKo5", "in-1", 1, None, "", ""));
    assert_eq!(status(&raw.recv()), 180);
    let ok = raw.recv();
    assert_eq!(status(&ok), 200);
    let tag = to_tag(&ok);
    raw.send(&raw.request("ACK", "z9hG4bKo6", "in-1", 1, Some(&tag), "", ""));
    raw.send(&raw.request("INFO", "z9hG4bKo7", "in-1", 2, Some(&tag), "", ""));
    let next = || loop {
        let r = raw.recv();
        if header(&r, "CSeq") != Some("1 INVITE") {
            break r;
        }
    };
    assert_eq!(status(&next()), 200, "INFO in the dialog");
    raw.send(&raw.request("UPDATE", "z9hG4bKo8", "in-1", 3, Some(&tag), "", ""));
    assert_eq!(status(&next()), 200, "UPDATE in the dialog");
    raw.send(&raw.request("BYE", "z9hG4bKo9", "in-1", 4, Some(&tag), "", ""));
    assert_eq!(status(&next()), 200);
    assert_eq!(l.wait(WAIT).code(), Some(0));
}

#[test]
fn issue_15_registrar_orders_cseq_caps_expires_and_dates_the_200() {
    let mut l = Listen::start(&[
        "--count",
        "8",
        "--registrar",
        "--min-expires",
        "60",
        "--max-expires",
        "600",
    ]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    // The request's Contact is <sip:alice@127.0.0.1:PORT>.
    let contact = format!("<sip:alice@127.0.0.1:{}>", raw.port());
    let register = |branch: &str, call_id: &str, cseq: u32, expires: u32| {
        let extra = format!("Expires: {expires}\r\n");
        raw.send(&raw.request("REGISTER", branch, call_id, cseq, None, &extra, ""));
        raw.recv()
    };
    // Asked for two hours: granted --max-expires, and the 200 is dated.
    let ok = register("z9hG4bKg1", "reg-1", 5, 7200);
    assert_eq!(status(&ok), 200, "{ok}");
    assert_eq!(
        header(&ok, "Contact"),
        Some(format!("{contact};expires=600").as_str())
    );
    let date = header(&ok, "Date").expect("a Date");
    assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
    // The same Call-ID with a CSeq not higher: out of order (RFC 3261 §10.3 step 7).
    for (branch, cseq) in [("z9hG4bKg2", 5), ("z9hG4bKg3", 4)] {
        let r = register(branch, "reg-1", cseq, 300);
        assert_eq!(status(&r), 500, "{r}");
        assert!(
            header(&r, "Warning").is_some_and(|w| w.contains("out of order")),
            "{r}"
        );
    }
    // Higher: updated; another Call-ID (another client's REGISTER) has its own order.
    let r = register("z9hG4bKg4", "reg-1", 6, 300);
    assert_eq!(
        header(&r, "Contact"),
        Some(format!("{contact};expires=300").as_str())
    );
    let r = register("z9hG4bKg5", "reg-2", 1, 120);
    assert_eq!(status(&r), 200, "{r}");
    // Shorter than --min-expires: 423 with Min-Expires; 0 (removal) is always allowed.
    let r = register("z9hG4bKg6", "reg-2", 2, 30);
    assert_eq!(status(&r), 423, "{r}");
    assert_eq!(header(&r, "Min-Expires"), Some("60"));
    let r = register("z9hG4bKg7", "reg-2", 3, 0);
    assert_eq!(status(&r), 200, "{r}");
    assert_eq!(header(&r, "Contact"), None, "the binding is gone: {r}");
    // reg-2 took the binding over (RFC 3261 §10.3 step 7: another Call-ID updates it), so
    // reg-1's order no longer applies once it is gone.
    let r = register("z9hG4bKg8", "reg-1", 7, 0);
    assert_eq!(status(&r), 200, "{r}");
    assert_eq!(l.wait(WAIT).code(), Some(0));
}

#[test]
fn issue_15_min_expires_above_max_expires_is_a_usage_error() {
    let out = sipkit()
        .args(["listen", "--min-expires", "700", "--max-expires", "600"])
        .output()
        .expect("running sipkit listen");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--min-expires"),
        "{out:?}"
    );
}

#[test]
fn issue_15_an_offer_with_a_bracketed_ipv6_origin_is_answered_with_a_warning() {
    let mut l = Listen::start(&["--count", "1"]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    // As SIPp's built-in uac writes it over IPv6.
    let sdp = "v=0\r\no=user1 53655765 2353687637 IN IP6 [::1]\r\ns=-\r\nc=IN IP6 ::1\r\n\
               t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let invite = raw.request(
        "INVITE",
        "z9hG4bKb6",
        "v6-origin",
        1,
        None,
        "Content-Type: application/sdp\r\n",
        sdp,
    );
    raw.send(&invite);
    assert_eq!(status(&raw.recv()), 180);
    let ok = raw.recv();
    assert_eq!(status(&ok), 200, "{ok}");
    assert!(
        header(&ok, "Warning").is_some_and(|w| w.starts_with("399 sipkit") && w.contains("[::1]")),
        "{ok}"
    );
    assert!(ok.contains("m=audio 49170 RTP/AVP 0\r\n"), "{ok}");
    let tag = to_tag(&ok);
    raw.send(&raw.request("ACK", "z9hG4bKb7", "v6-origin", 1, Some(&tag), "", ""));
    assert_eq!(l.wait(WAIT).code(), Some(0));
}

#[test]
fn issue_15_auth_challenges_with_md5_alone_by_default() {
    // SIPp 3.6, sipsak and sipvicious answer the first challenge and know only MD5; baresip
    // 1.0 fails on any challenge that is not MD5 (tests/cases/interop_listen.rs).
    let mut l = Listen::start(&["--count", "1", "--auth", "alice:secret"]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    raw.send(&raw.request("REGISTER", "z9hG4bKa15", "auth-15", 1, None, "", ""));
    let r = raw.recv();
    assert_eq!(status(&r), 401, "{r}");
    let challenges: Vec<&str> = r
        .split("\r\n")
        .filter_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .collect();
    assert_eq!(challenges.len(), 1, "{r}");
    assert!(challenges[0].contains("algorithm=MD5,"), "{r}");
    assert_eq!(l.wait(WAIT).code(), Some(0));
}

/// Issue 15 item 3: an offer of an empty file with `size:0` (outside RFC 5547's grammar, as
/// older senders write it) is taken with a warning; the 0-byte file is saved under its
/// offered name, and decode-pcap --extract gives it back from the capture under that name.
#[test]
fn issue_15_an_empty_file_offered_with_size_0_keeps_its_name() {
    use sipkit::transport::msrp::{MsrpSender, SenderConfig};
    let dir = tempdir();
    let save = dir.path().join("saved");
    let pcap = dir.path().join("empty.pcapng");
    let mut l = Listen::start(&[
        "--msrp",
        "127.0.0.1:0",
        "--save-dir",
        save.to_str().expect("utf-8"),
        "--write-pcap",
        pcap.to_str().expect("utf-8"),
        "--msrp-count",
        "1",
        "--timeout",
        "30s",
    ]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    let uri = "msrp://127.0.0.1:9/aliceempty1;tcp";
    let selector = "a=sendonly\r\na=file-selector:name:\"empty.txt\" \
                    type:application/octet-stream size:0\r\n";
    let (answer, _) = invite_msrp(
        &raw,
        "msrp-empty",
        &msrp_offer(uri, "application/octet-stream", selector),
    );
    let path = attr(&answer, "path").to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut sender = rt
        .block_on(MsrpSender::connect(
            uri,
            &path,
            None,
            SenderConfig::default(),
        ))
        .expect("the sender binds the session");
    msrp_send(&rt, &mut sender, "application/octet-stream", b"").expect("empty file delivered");
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let warnings = l.of("msrp-warning");
    assert_eq!(warnings.len(), 1, "{:?}", l.events);
    assert!(
        warnings[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("size:0")),
        "{:?}",
        warnings[0]
    );
    let messages = l.of("msrp-message");
    assert_eq!(messages.len(), 1, "{:?}", l.events);
    assert_eq!(messages[0]["size"], 0);
    assert_eq!(messages[0]["file_name"], "empty.txt");
    let saved = save.join("empty.txt");
    assert_eq!(messages[0]["path"], saved.display().to_string());
    assert_eq!(std::fs::read(&saved).expect("the saved file"), b"");

    let out_dir = dir.path().join("extracted");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let decoded = sipkit()
        .args(["decode-pcap", "--format", "json", "--extract"])
        .arg(&out_dir)
        .arg(&pcap)
        .output()
        .expect("running decode-pcap");
    assert_eq!(decoded.status.code(), Some(0), "{decoded:?}");
    let extracted: Vec<serde_json::Value> = String::from_utf8_lossy(&decoded.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .filter(|v: &serde_json::Value| v["type"] == "extracted")
        .collect();
    assert_eq!(extracted.len(), 1, "{decoded:?}");
    let got = out_dir.join("empty.txt");
    assert_eq!(extracted[0]["path"], got.display().to_string());
    assert_eq!(std::fs::read(&got).expect("the extracted file"), b"");
}

/// Issue 15 item 5: what a killed listen left in `--save-dir`'s hidden spill directory is
/// removed when listen starts: only the directories of processes no longer running
/// (`listen-PID`), and in them only the files listen writes (`SESSION-MESSAGEID`).
#[test]
fn issue_15_stale_partial_files_of_a_killed_listen_are_removed_at_start() {
    let dir = tempdir();
    let save = dir.path().join("saved");
    let partial = save.join(".sipkit-partial");
    // A process id above any Linux pid_max: never running.
    let dead = partial.join("listen-4000000000");
    // Process 1 always runs: its files are in use.
    let alive = partial.join("listen-1");
    for d in [&dead, &alive] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let stale = crate::support::write(&dead, "AbCdEf0123456789-msg1", b"half a file");
    let stale_copy = crate::support::write(&dead, "AbCdEf0123456789-msg1.content", b"half");
    let foreign = crate::support::write(&dead, "notes.txt", b"not listen's");
    let in_use = crate::support::write(&alive, "AbCdEf0123456789-msg2", b"arriving");
    let kept = crate::support::write(&save, "AbCdEf0123456789-msg3", b"a saved file");
    let mut l = Listen::start(&[
        "--udp",
        "127.0.0.1:0",
        "--msrp",
        "127.0.0.1:0",
        "--save-dir",
        save.to_str().expect("utf-8"),
        "--timeout",
        "1s",
    ]);
    assert!(
        !stale.exists() && !stale_copy.exists(),
        "stale spill files removed"
    );
    assert!(foreign.exists(), "a file listen does not make is kept");
    assert!(in_use.exists(), "a running listen's files are kept");
    assert!(kept.exists(), "saved files are never touched");
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
}

/// An INVITE with an MSRP offer whose 2xx is never ACKed (and whose offerer never connects):
/// the final status listen sends for it.
fn unacked_msrp_offer(raw: &RawUdp, call_id: &str) -> u16 {
    let uri = format!("msrp://127.0.0.1:9/{call_id};tcp");
    raw.send(&raw.request(
        "INVITE",
        &format!("z9hG4bK{call_id}"),
        call_id,
        1,
        None,
        "Content-Type: application/sdp\r\n",
        &msrp_offer(&uri, "text/plain", ""),
    ));
    loop {
        let r = raw.recv();
        let ours = header(&r, "Call-ID") == Some(call_id);
        if ours && status(&r) >= 200 {
            return status(&r);
        }
    }
}

/// Issue 15 item 2: sessions of unACKed INVITEs that no MSRP connection binds are freed after
/// --msrp-bind-timeout, so more such INVITEs than --max-msrp-sessions do not lock MSRP out:
/// an offer made after they are freed still gets 200, and the summary counts them.
#[test]
fn issue_15_unbound_msrp_sessions_are_freed_and_offers_get_200_again() {
    let mut l = Listen::start(&[
        "--udp",
        "127.0.0.1:0",
        "--msrp",
        "127.0.0.1:0",
        "--max-msrp-sessions",
        "2",
        "--msrp-bind-timeout",
        "300ms",
        "--timeout",
        "30s",
    ]);
    let raw = RawUdp::new(l.udp.expect("udp"));
    assert_eq!(unacked_msrp_offer(&raw, "leak1"), 200);
    assert_eq!(unacked_msrp_offer(&raw, "leak2"), 200);
    assert_eq!(unacked_msrp_offer(&raw, "leak3"), 488, "the limit holds");
    // Wait for both sessions to be freed (events, not time).
    let until = Instant::now() + WAIT;
    while l.of("msrp-expired").len() < 2 {
        assert!(Instant::now() < until, "not freed: {:?}", l.events);
        let _ = l.next_event(Duration::from_millis(200));
    }
    assert_eq!(unacked_msrp_offer(&raw, "fresh1"), 200, "{:?}", l.events);
    l.signal("-INT");
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let s = summary(&l);
    assert!(s["msrp_sessions_freed"].as_u64() >= Some(2), "{s}");
}
