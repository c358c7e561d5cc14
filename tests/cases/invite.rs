//! `sipkit invite` (#6, SIP side) against `sipkit listen` on loopback: the call test (INVITE,
//! ACK, BYE as listen saw them), rejection, --ring-timeout with CANCEL and 487, Digest over
//! TCP, --duration, and usage errors before any network use.

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
        // Until the MSRP session layer is merged, content is refused up front.
        vec!["invite", "127.0.0.1:9", "--text", "hello"],
    ] {
        let out = sipkit().args(&args).output().expect("running");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
