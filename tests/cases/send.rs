//! `sipkit send` against a real UAS on loopback (tests/support/uas.rs): exit codes, the
//! retransmission schedule as seen by the server, --expect, --message, --dry-run, REGISTER,
//! JSON output, and usage errors that must be caught before any network use.

use std::time::Duration;

use crate::support::uas::{Config, Uas};
use crate::support::{json_lines, sipkit, stdout_of, tempdir, write};

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn options_over_udp_answered_200_exits_0() {
    let uas = Uas::ok();
    let out = sipkit()
        .args(["send", &uas.udp_target()])
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr_of(&out));
    let port = uas.udp().port();
    assert!(
        text.starts_with(&format!(
            "> OPTIONS sip:127.0.0.1:{port} SIP/2.0  (udp 127.0.0.1:"
        )),
        "{text}"
    );
    assert!(text.contains("< SIP/2.0 200 OK  ("), "{text}");
    let got = uas.received();
    assert_eq!(got.len(), 1);
    let req = got[0].text();
    assert!(req.starts_with("OPTIONS "), "{req}");
    // RFC 3581 rport, RFC 3261 branch cookie, the socket's real port in Via and Contact.
    let local_port = got[0].from.port();
    assert!(
        req.contains(&format!(
            "Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK-sipkit-"
        )),
        "{req}"
    );
    assert!(req.contains(";rport\r\n"), "{req}");
    assert!(
        req.contains(&format!("Contact: <sip:sipkit@127.0.0.1:{local_port}>")),
        "{req}"
    );
}

#[test]
fn message_over_tcp_with_text_body() {
    let uas = Uas::ok();
    let out = sipkit()
        .args(["send", "--text", "hello bob", &uas.tcp_target()])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let got = uas.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].transport, "tcp");
    let req = got[0].text();
    assert!(req.starts_with("MESSAGE sip:127.0.0.1:"), "{req}");
    assert!(req.contains("Via: SIP/2.0/TCP 127.0.0.1:"), "{req}");
    assert!(req.contains("Content-Type: text/plain\r\n"), "{req}");
    assert!(req.ends_with("\r\n\r\nhello bob"), "{req}");
    // RFC 3428 §4: no Contact in MESSAGE.
    assert!(!req.contains("Contact:"), "{req}");
}

#[test]
fn body_from_stdin() {
    let uas = Uas::ok();
    sipkit()
        .args(["send", "MESSAGE", &uas.udp_target(), "--body-file", "-"])
        .args(["--content-type", "message/cpim"])
        .write_stdin("from stdin")
        .assert()
        .code(0);
    let req = uas.received()[0].text();
    assert!(req.contains("Content-Type: message/cpim\r\n"), "{req}");
    assert!(req.contains("Content-Length: 10\r\n"), "{req}");
    assert!(req.ends_with("from stdin"), "{req}");
}

#[test]
fn final_4xx_exits_1_unless_expected() {
    let uas = Uas::start(Config {
        statuses: vec![404],
        ..Config::default()
    });
    let target = uas.udp_target();
    sipkit().args(["send", &target]).assert().code(1);
    sipkit()
        .args(["send", &target, "--expect", "200,404"])
        .assert()
        .code(0);
    sipkit()
        .args(["send", &target, "--expect", "4xx"])
        .assert()
        .code(0);
    sipkit()
        .args(["send", &target, "--expect", "2xx"])
        .assert()
        .code(1);
    assert_eq!(uas.received().len(), 4);
}

#[test]
fn expect_can_reject_a_200() {
    let uas = Uas::ok();
    sipkit()
        .args(["send", &uas.udp_target(), "--expect", "404"])
        .assert()
        .code(1);
}

#[test]
fn lost_datagrams_are_retransmitted_with_doubling_intervals() {
    let uas = Uas::start(Config {
        drop_first: 2,
        ..Config::default()
    });
    let out = sipkit()
        .args(["send", &uas.udp_target(), "--t1", "100ms"])
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr_of(&out));
    assert!(text.contains("retransmission 1 at 0."), "{text}");
    assert!(text.contains("retransmission 2 at 0."), "{text}");
    let got = uas.received();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[0].dropped && got[1].dropped && !got[2].dropped);
    // Same request each time (same branch): a retransmission, not a new transaction.
    assert_eq!(got[0].bytes, got[2].bytes);
    // Timer E: at T1, then 2*T1 later (100 ms, 300 ms after the first). Only lower bounds,
    // generous ones: a busy machine makes sends late, never early. Without doubling the third
    // would come 200 ms after the first.
    let first = got[1].at - got[0].at;
    let total = got[2].at - got[0].at;
    assert!(first >= Duration::from_millis(60), "{first:?}");
    assert!(total >= Duration::from_millis(260), "{total:?}");
}

#[test]
fn no_answer_over_udp_exits_3_after_timer_f_and_retransmits() {
    let uas = Uas::start(Config {
        silent: true,
        ..Config::default()
    });
    let out = sipkit()
        .args(["send", &uas.udp_target(), "--t1", "10ms"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    let err = stderr_of(&out);
    assert!(err.contains("no final response"), "{err}");
    assert!(err.contains("Timer F"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    // 0, 10, 30, 70, 150, 310 and 630 ms before 640 ms; a slow machine may lose the last
    // ones to Timer F, which wins when both are due.
    let n = uas.received().len();
    assert!((3..=7).contains(&n), "{n} transmissions");
}

#[test]
fn no_answer_over_tcp_is_not_retransmitted() {
    let uas = Uas::start(Config {
        silent: true,
        ..Config::default()
    });
    sipkit()
        .args(["send", &uas.tcp_target(), "--t1", "10ms"])
        .assert()
        .code(3);
    assert_eq!(uas.received().len(), 1);
}

#[test]
fn timeout_option_caps_the_wait() {
    let uas = Uas::start(Config {
        silent: true,
        ..Config::default()
    });
    let out = sipkit()
        .args(["send", &uas.udp_target(), "--timeout", "300ms"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr_of(&out).contains("--timeout"), "{}", stderr_of(&out));
}

#[test]
fn late_answer_after_provisional_is_still_received() {
    let uas = Uas::start(Config {
        trying: true,
        delay: Duration::from_millis(150),
        ..Config::default()
    });
    let out = sipkit()
        .args(["send", &uas.tcp_target()])
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("< SIP/2.0 100 Trying"), "{text}");
    assert!(text.contains("< SIP/2.0 200 OK"), "{text}");
}

#[test]
fn nothing_listening_exits_4_with_one_line() {
    // Reserve a port, then free it: nothing listens there afterwards.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let out = sipkit()
        .args(["send", &format!("sip:127.0.0.1:{port}"), "--t1", "50ms"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out).lines().count(), 1, "{}", stderr_of(&out));
    let tcp = sipkit()
        .args(["send", &format!("sip:127.0.0.1:{port};transport=tcp")])
        .output()
        .expect("runs");
    assert_eq!(tcp.status.code(), Some(4), "{}", stderr_of(&tcp));
    assert!(
        stderr_of(&tcp).contains("cannot connect"),
        "{}",
        stderr_of(&tcp)
    );
}

#[test]
fn register_shows_bindings_and_unregister_sends_star() {
    let uas = Uas::ok();
    let out = sipkit()
        .args(["send", "REGISTER", &format!("sip:alice@{}", uas.udp())])
        .args(["--expires", "600"])
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("  binding <sip:sipkit@127.0.0.1:"), "{text}");
    assert!(text.contains(";expires=600"), "{text}");
    let req = uas.received()[0].text();
    let port = uas.udp().port();
    assert!(
        req.starts_with(&format!("REGISTER sip:127.0.0.1:{port} SIP/2.0")),
        "{req}"
    );
    assert!(req.contains("Expires: 600\r\n"), "{req}");

    sipkit()
        .args(["send", "REGISTER", &uas.udp_target(), "--unregister"])
        .assert()
        .code(0);
    let req = uas.received()[1].text();
    assert!(req.contains("Contact: *\r\n"), "{req}");
    assert!(req.contains("Expires: 0\r\n"), "{req}");
}

#[test]
fn message_file_variables_are_substituted_and_content_length_fixed() {
    let uas = Uas::ok();
    let dir = tempdir();
    // Bare LF line ends and a wrong Content-Length, as people write them.
    let msg = "OPTIONS ${target} SIP/2.0\n\
Via: SIP/2.0/${transport} ${local_ip}:${local_port};branch=${branch};rport\n\
Max-Forwards: 70\n\
From: <sip:me@${local_ip}>;tag=${from_tag}\n\
To: <${target}>\n\
Call-ID: ${call_id}\n\
CSeq: ${cseq} OPTIONS\n\
X-Who: ${who}\n\
Content-Length: 99\n\
\n\
body";
    let path = write(dir.path(), "options.sip", msg);
    let out = sipkit()
        .args([
            "send",
            &uas.udp_target(),
            "--set",
            "who=tester",
            "--message",
        ])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let got = uas.received();
    let req = got[0].text();
    let port = uas.udp().port();
    let local = got[0].from.port();
    assert!(
        req.starts_with(&format!("OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n")),
        "{req}"
    );
    assert!(
        req.contains(&format!(
            "Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-sipkit-"
        )),
        "{req}"
    );
    assert!(
        req.contains("Call-ID: call-1\r\nCSeq: 1 OPTIONS\r\n"),
        "{req}"
    );
    assert!(req.contains("X-Who: tester\r\n"), "{req}");
    assert!(req.ends_with("Content-Length: 4\r\n\r\nbody"), "{req}");
}

#[test]
fn unknown_message_variables_are_a_usage_error_naming_them() {
    let uas = Uas::ok().allow_unused();
    let dir = tempdir();
    let path = write(
        dir.path(),
        "m.sip",
        "OPTIONS ${target} SIP/2.0\r\nX: ${nope} ${also_not}\r\n\r\n",
    );
    let out = sipkit()
        .args(["send", &uas.udp_target(), "--message"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(err.contains("${also_not}, ${nope}"), "{err}");
}

#[test]
fn dry_run_prints_the_request_without_network() {
    let uas = Uas::ok().allow_unused();
    let out = sipkit()
        .args(["send", "REGISTER", "sip:alice@example.com", "--dry-run"])
        .args([
            "--user",
            "alice",
            "--password",
            "x",
            "--bind",
            "192.0.2.7:5099",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout_of(&out),
        "REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.7:5099;branch=z9hG4bK-sipkit-3;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@example.com>;tag=tag-2\r\n\
To: <sip:alice@example.com>\r\n\
Call-ID: call-1\r\n\
CSeq: 1 REGISTER\r\n\
Contact: <sip:alice@192.0.2.7:5099>\r\n\
Expires: 3600\r\n\
User-Agent: sipkit/0.1.0\r\n\
Content-Length: 0\r\n\r\n"
    );
    assert!(
        stderr_of(&out).contains("--password is visible"),
        "{}",
        stderr_of(&out)
    );
    drop(uas);
}

#[test]
fn json_is_one_document_with_messages_and_final_status() {
    let uas = Uas::start(Config {
        trying: true,
        ..Config::default()
    });
    let out = sipkit()
        .args(["send", &uas.udp_target(), "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let docs = json_lines(&out);
    assert_eq!(docs.len(), 1, "{docs:?}");
    let doc = &docs[0];
    assert_eq!(doc["method"], "OPTIONS");
    assert_eq!(doc["final"]["status"], 200);
    assert_eq!(doc["outcome"], "success");
    assert_eq!(doc["exit"], 0);
    assert_eq!(doc["attempts"][0]["result"], "final");
    assert_eq!(doc["resolution"]["destinations"][0]["proto"], "udp");
    let messages = doc["messages"].as_array().expect("messages");
    let dirs: Vec<&str> = messages
        .iter()
        .map(|m| m["direction"].as_str().expect("direction"))
        .collect();
    assert_eq!(dirs, ["sent", "received", "received"]);
    assert_eq!(messages[1]["status"], 100);
    assert!(messages[2]["rtt_ms"].as_f64().expect("rtt") >= 0.0);
    assert!(
        messages[0]["message"]
            .as_str()
            .expect("text")
            .starts_with("OPTIONS ")
    );
}

#[test]
fn verbose_shows_whole_messages() {
    let uas = Uas::ok();
    let out = sipkit()
        .args(["send", &uas.udp_target(), "-v"])
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert!(text.contains("  | CSeq: 1 OPTIONS"), "{text}");
    assert!(text.contains("  | To: "), "{text}");
}

#[test]
fn bad_flags_are_usage_errors_before_any_network_use() {
    let uas = Uas::ok().allow_unused();
    let target = uas.udp_target();
    for args in [
        vec!["send", "BAD METHOD", &target],
        vec!["send", &target, "--expect", "abc"],
        vec!["send", &target, "--unregister"],
        vec!["send", &target, "--user", "alice"],
        vec!["send", &target, "--ha1", "xyz", "--user", "a"],
        vec!["send", "INVITE", &target, "--text", "hi"],
        vec!["send", &target, "-H", "no colon"],
        vec!["send", &target, "--t1", "soon"],
        vec!["send", &target, "--t1", "2s", "--t2", "1s"],
        vec!["send", "ftp:example.com"],
        vec!["send", &target, "--body", "x", "--text", "y"],
        vec!["send", &target, "--format", "github"],
    ] {
        let out = sipkit().args(&args).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(!stderr_of(&out).is_empty(), "{args:?}");
    }
    sipkit()
        .args([
            "send",
            &target,
            "--password-file",
            "/nonexistent/pw",
            "--user",
            "a",
        ])
        .assert()
        .code(2);
}

/// A DNS server on loopback whose `_sip._udp.SERVICE` SRV records list `ports` on 127.0.0.1
/// in priority order; kept alive with its runtime for the duration of a test.
struct Zone {
    server: crate::support::dns::DnsServer,
    _runtime: tokio::runtime::Runtime,
}

fn zone(ports: &[u16]) -> Zone {
    use crate::support::dns::{DnsServer, a, srv};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime for the DNS server");
    let mut records = vec![a("host.failover.test", "127.0.0.1")];
    for (i, port) in ports.iter().enumerate() {
        let prio = u16::try_from(i + 1).expect("few ports");
        records.push(srv(
            "_sip._udp.failover.test",
            prio,
            0,
            *port,
            "host.failover.test",
        ));
    }
    let server = runtime.block_on(DnsServer::start(records));
    Zone {
        server,
        _runtime: runtime,
    }
}

fn via_dns(zone: &Zone) -> [String; 3] {
    [
        "sip:failover.test;transport=udp".to_string(),
        "--dns-server".to_string(),
        zone.server.addr.to_string(),
    ]
}

#[test]
fn failover_to_the_next_srv_target_on_503() {
    let busy = Uas::start(Config {
        statuses: vec![503],
        ..Config::default()
    });
    let good = Uas::ok();
    let zone = zone(&[busy.udp().port(), good.udp().port()]);
    let out = sipkit()
        .arg("send")
        .args(via_dns(&zone))
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr_of(&out));
    assert!(
        text.contains("failed: 503 Service Unavailable; trying the next destination"),
        "{text}"
    );
    assert_eq!((busy.received().len(), good.received().len()), (1, 1));
    // RFC 3263 §4.3: a new transaction (new branch) for the next destination.
    assert_ne!(
        busy.received()[0].text().lines().nth(1),
        good.received()[0].text().lines().nth(1)
    );
}

#[test]
fn failover_on_timeout_and_on_an_unreachable_port() {
    let silent = Uas::start(Config {
        silent: true,
        ..Config::default()
    });
    let good = Uas::ok();
    let free = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let zone = zone(&[free, silent.udp().port(), good.udp().port()]);
    let out = sipkit()
        .args(["send", "--format", "json", "--t1", "10ms"])
        .args(via_dns(&zone))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let doc = &json_lines(&out)[0];
    let results: Vec<&str> = doc["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["result"].as_str().expect("result"))
        .collect();
    assert_eq!(results, ["error", "timeout", "final"]);
    assert_eq!(good.received().len(), 1);
    assert!(!silent.received().is_empty());
}

#[test]
fn when_every_destination_times_out_the_exit_is_3() {
    let silent = Uas::start(Config {
        silent: true,
        ..Config::default()
    });
    let zone = zone(&[silent.udp().port(), silent.udp().port()]);
    sipkit()
        .args(["send", "--t1", "5ms"])
        .args(via_dns(&zone))
        .assert()
        .code(3);
}

#[test]
fn resolve_only_lists_destinations_in_order() {
    let zone = zone(&[5071, 5072]);
    let out = sipkit()
        .args(["send", "--resolve-only"])
        .args(via_dns(&zone))
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr_of(&out));
    assert!(
        text.contains("1. udp 127.0.0.1:5071\n2. udp 127.0.0.1:5072\n"),
        "{text}"
    );
}

#[test]
fn an_unknown_domain_exits_4() {
    let zone = zone(&[]);
    let out = sipkit()
        .args(["send", "sip:nowhere.invalid", "--dns-server"])
        .arg(zone.server.addr.to_string())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out).lines().count(), 1, "{}", stderr_of(&out));
}

#[test]
fn options_over_tls_checks_the_certificate() {
    let pki = crate::support::tls::TestPki::new();
    let uas = Uas::start(Config {
        tls: Some(pki.acceptor(false).config().clone()),
        ..Config::default()
    });
    let target = uas.tls_target();
    let out = sipkit()
        .args(["send", &target, "--ca-file"])
        .arg(&pki.ca_file)
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr_of(&out));
    assert!(text.contains("(tls 127.0.0.1:"), "{text}");
    let got = uas.received();
    assert_eq!(got[0].transport, "tls");
    assert!(got[0].text().contains("Via: SIP/2.0/TLS 127.0.0.1:"));
    assert!(
        got[0].text().contains(";transport=tls>"),
        "{}",
        got[0].text()
    );
    // Without the CA the handshake fails: a network error, exit 4.
    let untrusted = sipkit().args(["send", &target]).output().expect("runs");
    assert_eq!(
        untrusted.status.code(),
        Some(4),
        "{}",
        stderr_of(&untrusted)
    );
    assert!(
        stderr_of(&untrusted).contains("TLS"),
        "{}",
        stderr_of(&untrusted)
    );
    sipkit()
        .args(["send", &target, "--insecure"])
        .assert()
        .code(0);
}

#[test]
fn invite_final_responses_are_acknowledged() {
    let uas = Uas::start(Config {
        statuses: vec![486, 200],
        ..Config::default()
    });
    let target = uas.udp_target();
    sipkit()
        .args(["send", "INVITE", &target, "--body", "v=0\r\n"])
        .assert()
        .code(1);
    sipkit().args(["send", "INVITE", &target]).assert().code(0);
    let got = uas.wait_for(4);
    let methods: Vec<String> = got.iter().map(|r| r.method()).collect();
    assert_eq!(methods, ["INVITE", "ACK", "INVITE", "ACK"]);
    let via = |i: usize| {
        got[i]
            .text()
            .lines()
            .find(|l| l.starts_with("Via:"))
            .map(str::to_string)
    };
    // §17.1.1.3: the ACK of a 486 is part of the INVITE transaction (same branch)...
    assert_eq!(via(0), via(1));
    assert!(
        got[1].text().contains("CSeq: 1 ACK\r\n"),
        "{}",
        got[1].text()
    );
    assert!(got[1].text().contains(";tag=uas1"), "{}", got[1].text());
    // ...the ACK of a 2xx is a transaction of its own (§13.2.2.4).
    assert_ne!(via(2), via(3));
    assert!(got[0].text().contains("Content-Type: application/sdp\r\n"));
}

#[test]
fn traceroute_lists_each_483_hop_until_the_answer() {
    let uas = Uas::start(Config {
        hops: 3,
        ..Config::default()
    });
    let out = sipkit()
        .args(["send", &uas.udp_target(), "--traceroute"])
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr_of(&out));
    let hops: Vec<&str> = text.lines().collect();
    assert_eq!(hops.len(), 4, "{text}");
    for (i, line) in hops.iter().take(3).enumerate() {
        assert!(
            line.starts_with(&format!("hop  {i}: 483 Too Many Hops  (")),
            "{line}"
        );
        assert!(line.ends_with(&format!("  hop-{i}")), "{line}");
    }
    assert!(hops[3].starts_with("hop  3: 200 OK"), "{text}");
    let got = uas.received();
    let forwards: Vec<String> = got
        .iter()
        .map(|r| {
            r.text()
                .lines()
                .find_map(|l| l.strip_prefix("Max-Forwards: ").map(str::to_string))
                .expect("Max-Forwards")
        })
        .collect();
    assert_eq!(forwards, ["0", "1", "2", "3"]);
    // Each hop is a new request: new CSeq numbers.
    assert!(got[3].text().contains("CSeq: 4 OPTIONS\r\n"));
}

#[test]
fn load_mode_reports_counts_and_percentiles() {
    let uas = Uas::ok();
    let out = sipkit()
        .args([
            "send",
            &uas.udp_target(),
            "--count",
            "20",
            "--concurrency",
            "4",
        ])
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr_of(&out));
    assert!(text.starts_with("20 requests in "), "{text}");
    assert!(
        text.contains("concurrency 4: 200 x20; 0 timeouts, 0 errors"),
        "{text}"
    );
    assert!(text.contains("latency ms: min "), "{text}");
    let got = uas.received();
    assert_eq!(got.len(), 20);
    // Each request is a new call.
    let call_ids: std::collections::BTreeSet<String> = got
        .iter()
        .filter_map(|r| {
            r.text()
                .lines()
                .find_map(|l| l.strip_prefix("Call-ID: ").map(str::to_string))
        })
        .collect();
    assert_eq!(call_ids.len(), 20);
    // Four sockets: four source ports.
    let ports: std::collections::BTreeSet<u16> = got.iter().map(|r| r.from.port()).collect();
    assert_eq!(ports.len(), 4);
}

#[test]
fn load_mode_json_with_rate_and_mixed_statuses_over_tcp() {
    let uas = Uas::start(Config {
        statuses: vec![200, 200, 486],
        ..Config::default()
    });
    let out = sipkit()
        .args(["send", &uas.tcp_target(), "--count", "5", "--rate", "20"])
        .args(["--concurrency", "2", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let doc = &json_lines(&out)[0];
    let load = &doc["load"];
    assert_eq!(load["requests"], 5);
    assert_eq!(load["statuses"]["200"], 2);
    assert_eq!(load["statuses"]["486"], 3);
    // Starts are spaced 50 ms apart: the fifth cannot start before 200 ms.
    assert!(load["elapsed_ms"].as_f64().expect("ms") >= 190.0, "{load}");
    for p in ["min", "p50", "p90", "p99", "max", "mean"] {
        assert!(load["latency_ms"][p].as_f64().is_some(), "{p}: {load}");
    }
    assert_eq!(doc["messages"].as_array().map(Vec::len), Some(0));
}

#[test]
fn load_mode_counts_timeouts_and_exits_3() {
    let uas = Uas::start(Config {
        silent: true,
        ..Config::default()
    });
    let out = sipkit()
        .args([
            "send",
            &uas.udp_target(),
            "--count",
            "3",
            "--concurrency",
            "3",
        ])
        .args(["--t1", "5ms"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout_of(&out).contains("3 timeouts"),
        "{}",
        stdout_of(&out)
    );
    assert!(
        stderr_of(&out).contains("3 of 3 requests got no final response"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_message_file_must_be_a_matchable_request_of_the_given_method() {
    let uas = Uas::ok().allow_unused();
    let dir = tempdir();
    let good = "OPTIONS ${target} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=${branch}\r\n\
                CSeq: 1 OPTIONS\r\n\r\n";
    let no_branch = "OPTIONS ${target} SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCSeq: 1 OPTIONS\r\n\r\n";
    for (content, method, needle) in [
        (
            good,
            Some("REGISTER"),
            "differs from the message's (OPTIONS)",
        ),
        (no_branch, None, "no branch parameter"),
        ("SIP/2.0 200 OK\r\n\r\n", None, "not a request"),
    ] {
        let path = write(dir.path(), "m.sip", content);
        let mut cmd = sipkit();
        cmd.arg("send");
        cmd.args(method);
        let out = cmd
            .arg(uas.udp_target())
            .arg("--message")
            .arg(&path)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{content}");
        assert!(stderr_of(&out).contains(needle), "{}", stderr_of(&out));
    }
}

#[test]
fn options_over_websocket() {
    let uas = Uas::start(Config {
        ws: true,
        ..Config::default()
    });
    let out = sipkit()
        .args(["send", &uas.ws_target()])
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr_of(&out));
    assert!(text.contains("(ws 127.0.0.1:"), "{text}");
    let got = uas.received();
    assert_eq!(got[0].transport, "ws");
    // RFC 7118 §5.2: Via transport WS.
    assert!(
        got[0].text().contains("Via: SIP/2.0/WS "),
        "{}",
        got[0].text()
    );
}

/// Issue 15: --concurrency and --rate shape load mode but do not start it; without --count
/// they are a usage error (they used to start a load run silently), refused before any
/// network use.
#[test]
fn issue_15_concurrency_or_rate_without_count_is_a_usage_error() {
    for flag in [["--concurrency", "4"], ["--rate", "10"]] {
        let out = sipkit()
            .args(["send", "sip:a@192.0.2.1", "--timeout", "1"])
            .args(flag)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{flag:?}");
        let err = stderr_of(&out);
        assert!(err.contains(flag[0]) && err.contains("--count"), "{err}");
        assert!(out.stdout.is_empty(), "nothing sent: {}", stdout_of(&out));
    }
}

/// Issue 15: `send INVITE --count N` would ACK N answered calls and end none (send sends no
/// BYE), leaving them up on the callee; it is refused with a pointer to `invite`.
#[test]
fn issue_15_send_invite_with_count_is_refused_and_points_to_invite() {
    let out = sipkit()
        .args(["send", "INVITE", "sip:a@192.0.2.1", "--count", "3"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("sipkit invite") && err.contains("BYE"),
        "{err}"
    );
}

/// Issue 15 (RFC 3261 §18.1.1): a request over 1,300 bytes to a target that names no
/// transport goes over TCP, to the same address and port, and says so.
#[test]
fn issue_15_a_3_kb_message_switches_to_tcp() {
    let uas = Uas::ok();
    assert_eq!(uas.udp(), uas.tcp(), "the UAS listens on one port for both");
    let text = "x".repeat(3000);
    let out = sipkit()
        .args([
            "send",
            &uas.udp_target(),
            "--text",
            &text,
            "--timeout",
            "10s",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let got = uas.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].transport, "tcp", "{}", got[0].text());
    assert!(
        got[0].text().contains("Via: SIP/2.0/TCP "),
        "{}",
        got[0].text()
    );
    let err = stderr_of(&out);
    assert!(err.contains("over TCP") && err.contains("§18.1.1"), "{err}");
    // A small request stays on UDP.
    let out = sipkit()
        .args([
            "send",
            &uas.udp_target(),
            "--text",
            "hi",
            "--timeout",
            "10s",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(uas.received()[1].transport, "udp");
}

/// Issue 15: a target that asks for UDP by name keeps UDP for a large request, with a
/// warning; one too large for any datagram is a usage error before the network, not the
/// kernel's "os error 90".
#[test]
fn issue_15_explicit_udp_keeps_udp_with_a_warning_and_a_datagram_too_large_is_a_usage_error() {
    let uas = Uas::ok();
    let target = format!("udp:{}", uas.udp());
    let text = "x".repeat(3000);
    let out = sipkit()
        .args(["send", &target, "--text", &text, "--timeout", "10s"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(uas.received()[0].transport, "udp");
    let err = stderr_of(&out);
    assert!(err.contains("1300") && err.contains("UDP"), "{err}");

    let huge = "x".repeat(70_000);
    for target in [target.clone(), format!("sip:{};transport=udp", uas.udp())] {
        let out = sipkit()
            .args(["send", &target, "--text", &huge])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{target}");
        let err = stderr_of(&out);
        assert!(err.contains("65507") && err.contains("tcp:"), "{err}");
        assert!(!err.contains("os error"), "{err}");
    }
    assert_eq!(uas.received().len(), 1, "nothing more was sent");
}

/// A TCP peer that reads the first byte of the request, then stops reading for a while (the
/// request, larger than the socket buffers, cannot be handed over meanwhile), then reads the
/// rest and answers 200. Returns the port and a handle giving how long it stalled, in ms.
fn stalling_tcp_peer() -> (u16, std::thread::JoinHandle<f64>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("a connection");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut buf = vec![0u8; 1 << 16];
        let mut got = Vec::new();
        let n = s.read(&mut buf[..1]).expect("the first byte");
        got.extend_from_slice(&buf[..n]);
        // The stall is what the round trip must include: the request was being handed over.
        let stalled_from = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(300));
        let head_end = loop {
            let n = s.read(&mut buf).expect("reading");
            assert!(n > 0, "closed early");
            got.extend_from_slice(&buf[..n]);
            if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&got[..head_end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.trim().parse().ok())
            .expect("Content-Length");
        while got.len() < head_end + len {
            let n = s.read(&mut buf).expect("reading the body");
            assert!(n > 0, "closed early");
            got.extend_from_slice(&buf[..n]);
        }
        let copy: String = head
            .lines()
            .filter(|l| {
                ["Via:", "From:", "To:", "Call-ID:", "CSeq:"]
                    .iter()
                    .any(|h| l.starts_with(h))
            })
            .map(|l| format!("{l}\r\n"))
            .collect();
        let resp = format!("SIP/2.0 200 OK\r\n{copy}Content-Length: 0\r\n\r\n");
        s.write_all(resp.as_bytes()).expect("answering");
        let stalled = stalled_from.elapsed().as_secs_f64() * 1000.0;
        // Keep the connection until sipkit has read the answer and gone.
        let _ = s.read(&mut buf);
        stalled
    });
    (port, handle)
}

#[test]
fn issue_15_rtt_counts_from_before_the_request_is_handed_to_the_socket() {
    let dir = tempdir();
    let body = write(dir.path(), "big.txt", vec![b'x'; 24 << 20]);
    let (port, peer) = stalling_tcp_peer();
    let out = sipkit()
        .args(["send", "MESSAGE", "--format", "json", "--timeout", "20s"])
        .args(["--content-type", "text/plain", "--body-file"])
        .arg(&body)
        .arg(format!("sip:127.0.0.1:{port};transport=tcp"))
        .output()
        .expect("runs");
    let stalled = peer.join().expect("the peer");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let report = &json_lines(&out)[0];
    let rtt = report["final"]["rtt_ms"].as_f64().expect("rtt_ms");
    // The peer's stall lies inside [request handed over, response arrived].
    assert!(
        rtt >= stalled,
        "rtt {rtt} ms < the {stalled} ms the peer stalled"
    );
}

/// `sipkit send --format json --dns-server SERVER sip:bob@name.test` and its report.
fn send_via_dns_server(server: &str, name: &str) -> (Option<i32>, serde_json::Value, String) {
    let out = sipkit()
        .args([
            "send",
            "--format",
            "json",
            "--timeout",
            "30s",
            "--dns-server",
            server,
        ])
        .arg(format!("sip:bob@{name}"))
        .timeout(Duration::from_secs(25))
        .output()
        .expect("runs");
    let report = json_lines(&out)[0].clone();
    (out.status.code(), report, stderr_of(&out))
}

fn dns_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime for the DNS server")
}

#[test]
fn issue_15_servfail_and_nxdomain_are_told_apart() {
    use crate::support::dns::{DnsServer, a};
    use hickory_proto::op::ResponseCode;
    let rt = dns_runtime();
    let failing = rt.block_on(DnsServer::failing(ResponseCode::ServFail));
    let (code, report, stderr) = send_via_dns_server(&failing.addr.to_string(), "broken.test");
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(report["dns_error"], "servfail", "{report}");
    assert!(stderr.contains("SERVFAIL"), "{stderr}");
    assert!(stderr.contains(&failing.addr.to_string()), "{stderr}");
    assert!(!stderr.contains("does not exist"), "{stderr}");

    let zone = rt.block_on(DnsServer::start(vec![a("other.test", "127.0.0.1")]));
    let (code, report, stderr) = send_via_dns_server(&zone.addr.to_string(), "missing.test");
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(report["dns_error"], "nxdomain", "{report}");
    assert!(
        stderr.contains("`missing.test` does not exist (NXDOMAIN"),
        "{stderr}"
    );
    assert_eq!(
        report["error"].as_str(),
        stderr.trim().strip_prefix("sipkit: error: ")
    );
}

#[test]
fn issue_15_a_silent_dns_server_fails_within_seconds_naming_it() {
    // A socket that never answers: every query times out.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("binding");
    let server = silent.local_addr().expect("addr").to_string();
    let began = std::time::Instant::now();
    let (code, report, stderr) = send_via_dns_server(&server, "quiet.test");
    let took = began.elapsed();
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(report["dns_error"], "timeout", "{report}");
    assert!(
        stderr.contains(&format!("the DNS server {server} did not answer")),
        "{stderr}"
    );
    // One query's wait, not one per record type (NAPTR, 3 SRV, A, AAAA) nor the 30 s cap.
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn issue_15_no_failover_line_after_the_overall_timeout() {
    let silent = Uas::start(Config {
        silent: true,
        ..Config::default()
    });
    // The second destination must never be tried.
    let second = std::net::UdpSocket::bind("127.0.0.1:0").expect("binding");
    let zone = zone(&[
        silent.udp().port(),
        second.local_addr().expect("addr").port(),
    ]);
    let out = sipkit()
        .args(["send", "--timeout", "300ms"])
        .args(via_dns(&zone))
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(3), "{text}{}", stderr_of(&out));
    assert!(!text.contains("trying the next destination"), "{text}");
    second.set_nonblocking(true).expect("non-blocking");
    assert!(
        second.recv(&mut [0u8; 2048]).is_err(),
        "the second destination was tried"
    );
}
