//! `sipkit invite` (#6, SIP side) against `sipkit listen` on loopback: the call test (INVITE,
//! ACK, BYE as listen saw them), rejection, --ring-timeout with CANCEL and 487, Digest over
//! TCP, --duration, and usage errors before any network use; then the content over MSRP
//! (text, UTF-8, empty and one-byte files, 10 MiB of pseudo-random bytes hashed on both sides,
//! standard input, CPIM, msrps, Digest, a refused type), listen saving what it received.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::listen::Listen;
use crate::support::{sipkit, tempdir, write};

const WAIT: Duration = Duration::from_secs(15);

fn invite(args: &[&str]) -> std::process::Output {
    let mut full = vec!["invite", "--timeout", "10s", "--format", "json"];
    full.extend_from_slice(args);
    sipkit()
        .args(&full)
        .output()
        .expect("running sipkit invite")
}

fn events(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
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

/// listen with an MSRP endpoint, stopping after `count` requests (ACKs are not counted).
fn msrp_listen(count: usize, extra: &[&str]) -> Listen {
    let count = count.to_string();
    let mut args = vec![
        "--udp",
        "127.0.0.1:0",
        "--msrp",
        "127.0.0.1:0",
        "--count",
        &count,
        "--timeout",
        "60s",
    ];
    args.extend_from_slice(extra);
    Listen::start(&args)
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seeded xorshift64 bytes: repeatable pseudo-random content.
fn xorshift_bytes(n: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(n);
    out
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
    }
    eprintln!("10 MiB over MSRP (debug build): {throughput:.1} MB/s");
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let got = l.of("msrp-message");
    assert_eq!(got.len(), 3, "{:?}", l.events);
    for ((name, data), m) in files.iter().zip(got) {
        assert_eq!(m["size"], data.len(), "{name}");
        assert_eq!(m["sha256"], sha256_hex(data), "{name}");
        assert_eq!(m["content_type"], "application/octet-stream");
        if let Some(path) = m["path"].as_str() {
            let saved = std::fs::read(path).expect("the saved file");
            assert!(saved == *data, "{name}: saved bytes differ");
        } else {
            assert!(data.len() < 2, "{name} was not saved: {m}");
        }
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
