//! `sipkit invite --relay` (RFC 4976) through the test relay in `support::msrp_relay` to
//! `sipkit listen`: text and a 1 MiB file arrive byte-exact; a wrong password, an unreachable
//! relay, a silent relay and a 200 without Use-Path end the call before anything is sent.

use std::time::Duration;

use serde_json::Value;

use crate::support::listen::msrp_listen;
use crate::support::msrp_relay::{Mode, Relay};
use crate::support::{sha256_hex, sipkit, tempdir, write, xorshift_bytes};

const WAIT: Duration = Duration::from_secs(15);

fn invite(relay: &str, password: &str, args: &[&str]) -> std::process::Output {
    crate::support::msrp_relay::invite_through(relay, password, args)
}

fn events(out: &std::process::Output) -> Vec<Value> {
    crate::support::json_lines(out)
}

fn of(ev: &[Value], name: &str) -> Vec<Value> {
    ev.iter().filter(|e| e["event"] == name).cloned().collect()
}

/// The INVITE's SDP as invite logged it.
fn offer(out: &std::process::Output) -> String {
    events(out)
        .into_iter()
        .find(|e| e["event"] == "message")
        .and_then(|e| e["message"].as_str().map(str::to_owned))
        .expect("the INVITE")
}

fn assert_relayed(out: &std::process::Output, relay: &Relay, bytes: u64) -> Value {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let ev = events(out);
    let r = of(&ev, "relay");
    assert_eq!(r.len(), 1, "{ev:?}");
    let use_path = r[0]["use_path"][0].as_str().expect("a Use-Path").to_owned();
    assert!(
        use_path.starts_with(relay.uri().trim_end_matches(";tcp")),
        "{use_path}"
    );
    assert_eq!(r[0]["expires"], 600);
    // RFC 4976 §5.1: a=path is the Use-Path, then our own URI; we always connect to the relay.
    let sdp = offer(out);
    let path_line = sdp
        .lines()
        .find(|l| l.starts_with("a=path:"))
        .expect("a=path");
    let uris: Vec<&str> = path_line["a=path:".len()..].split(' ').collect();
    assert_eq!(uris.len(), 2, "{path_line}");
    assert_eq!(uris[0], use_path);
    assert!(sdp.contains("a=setup:active"), "{sdp}");
    let t = of(&ev, "transfer");
    assert_eq!(t.len(), 1, "{ev:?}");
    assert_eq!(t[0]["bytes"], bytes);
    assert_eq!(t[0]["confirmed"], true);
    assert_eq!(of(&ev, "delivery-report").len(), 1, "{ev:?}");
    t[0].clone()
}

#[test]
fn text_and_a_1_mib_file_arrive_byte_exact_through_a_relay() {
    let relay = Relay::start("alice", "s3cret", Mode::Normal);
    let dir = tempdir();
    let save = dir.path().join("saved");
    let mut l = msrp_listen(4, &["--save-dir", save.to_str().expect("utf-8")]);
    let text = "through the relay ✓";
    let out = invite(&relay.uri(), "s3cret", &["--text", text, &l.udp_target()]);
    assert_relayed(&out, &relay, text.len() as u64);
    let data = xorshift_bytes(1 << 20, 0x4976);
    let file = write(dir.path(), "random.bin", &data);
    let out = invite(
        &relay.uri(),
        "s3cret",
        &["--file", file.to_str().expect("utf-8"), &l.udp_target()],
    );
    let t = assert_relayed(&out, &relay, data.len() as u64);
    // Through a relay the default chunk is 4096 bytes (README: relays frame chunks in their own
    // buffers).
    assert_eq!(t["chunks"], 256);
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let got = l.of("msrp-message");
    assert_eq!(got.len(), 2, "{:?}", l.events);
    assert_eq!(got[0]["text"], text);
    assert_eq!(got[0]["sha256"], sha256_hex(text.as_bytes()));
    assert_eq!(got[1]["sha256"], sha256_hex(&data));
    let saved = std::fs::read(got[1]["path"].as_str().expect("saved path")).expect("saved");
    assert!(saved == data, "the saved file differs");
    // listen saw the relay in front of the sender in the From-Path.
    let bound = l.of("msrp-session");
    assert_eq!(bound.len(), 2, "{:?}", l.events);
    for b in bound {
        let from: Vec<&str> = b["from_path"]
            .as_str()
            .expect("from_path")
            .split(' ')
            .collect();
        assert_eq!(from.len(), 2, "{b}");
        assert!(
            from[0].starts_with(relay.uri().trim_end_matches(";tcp")),
            "{b}"
        );
    }
    assert_eq!(relay.auths(), [true, true]);
}

#[test]
fn what_invite_sends_to_the_relay_passes_sipkit_validate() {
    let relay = Relay::start("alice", "s3cret", Mode::Normal);
    let mut l = msrp_listen(2, &[]);
    let out = invite(&relay.uri(), "s3cret", &["--text", "hi", &l.udp_target()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(l.wait(WAIT).code(), Some(0), "{:?}", l.events);
    let dir = tempdir();
    let got = relay.received();
    // AUTH, AUTH with credentials, the binding SEND, the text; then the REPORT from listen.
    assert!(got.len() >= 4, "{got:?}");
    let first = String::from_utf8_lossy(&got[0]);
    assert!(first.contains(" AUTH\r\n"), "{first}");
    assert!(!first.contains("Authorization"), "{first}");
    let second = String::from_utf8_lossy(&got[1]);
    assert!(
        second.contains("\r\nAuthorization: Digest username=\"alice\", realm=\"relay.test\""),
        "{second}"
    );
    assert!(
        second.contains(&format!("uri=\"{}\"", relay.uri())),
        "{second}"
    );
    for (i, m) in got.iter().take(4).enumerate() {
        write(dir.path(), &format!("m{i}.msrp"), m);
    }
    let v = sipkit()
        .args(["validate", "--strict", "--format", "json"])
        .arg(dir.path())
        .output()
        .expect("running sipkit validate");
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
}

#[test]
fn a_wrong_password_exits_1_and_sends_nothing() {
    let relay = Relay::start("alice", "s3cret", Mode::Normal);
    let out = invite(&relay.uri(), "wrong", &["--text", "no", "127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("relay refused authentication: 401"), "{err}");
    assert_eq!(relay.auths(), [false]);
    assert!(!relay.saw_send());
    // No INVITE went out: the AUTH comes first.
    assert!(of(&events(&out), "message").is_empty(), "{out:?}");
}

#[test]
fn an_unreachable_relay_exits_4() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let uri = format!("msrp://127.0.0.1:{port};tcp");
    let out = invite(&uri, "s3cret", &["--text", "no", "127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MSRP relay"), "{err}");
}

#[test]
fn a_relay_that_never_answers_auth_exits_3() {
    let relay = Relay::start("alice", "s3cret", Mode::Silent);
    let out = sipkit()
        .env("SIPKIT_PASSWORD", "s3cret")
        .args([
            "invite",
            "--timeout",
            "1s",
            "--user",
            "alice",
            "--relay",
            &relay.uri(),
            "--text",
            "no",
            "127.0.0.1:9",
        ])
        .output()
        .expect("running sipkit invite");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("response to AUTH"), "{err}");
}

#[test]
fn a_200_without_use_path_exits_1() {
    let relay = Relay::start("alice", "s3cret", Mode::NoUsePath);
    let out = invite(&relay.uri(), "s3cret", &["--text", "no", "127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no Use-Path"), "{err}");
}

#[test]
fn relay_usage_errors_exit_2() {
    for (args, needle) in [
        (
            &["--relay", "msrp://relay.example.com;tcp", "--text", "x"][..],
            "needs a port",
        ),
        (&["--relay", "msrp://127.0.0.1:2855;tcp"][..], "need"),
        (
            &["--relay", "sip:relay.example.com", "--text", "x"][..],
            "--relay",
        ),
    ] {
        let out = sipkit()
            .arg("invite")
            .args(args)
            .arg("127.0.0.1:9")
            .output()
            .expect("running sipkit invite");
        assert_eq!(out.status.code(), Some(2), "{args:?} {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
