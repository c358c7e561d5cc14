//! `sipkit invite` against the reference MSRP dissector (#6): listen records a transfer with
//! --write-pcap, and tshark (`-d tcp.port==PORT,msrp`) must decode invite's messages with no
//! malformed packet and no expert error.
//!
//! tshark 4.0's MSRP dissector decodes only the message that starts a TCP segment: a SEND that
//! begins in the middle of one (several chunks read at once) stays undecoded TCP data, not an
//! error. So the check is that whatever it decodes is what invite sent, and that it decodes at
//! least the binding SEND, the first chunk, and the Success-Report.
//!
//! Ignored by default (needs tshark); `.ci/run` runs `cargo test -- --ignored`.

use std::process::Command;
use std::time::Duration;

use crate::support::listen::Listen;
use crate::support::{sipkit, tempdir, write};

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("running tshark (install it: apt-get install tshark)");
    assert!(out.status.success(), "tshark {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "interop: needs tshark"]
fn tshark_decodes_an_invite_transfer_without_errors_issue_6() {
    let dir = tempdir();
    let size = 200_000usize;
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let file = write(dir.path(), "f.bin", &data);
    let cap = dir.path().join("cap.pcapng");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let msrp = format!("127.0.0.1:{port}");
    // listen declines file offers unless it may keep them (issue 5).
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).expect("a save directory");
    let mut l = Listen::start(&[
        "--save-dir",
        saved.to_str().expect("utf-8"),
        "--udp",
        "127.0.0.1:0",
        "--msrp",
        &msrp,
        "--write-pcap",
        cap.to_str().expect("utf-8"),
        "--count",
        "2",
        "--timeout",
        "30s",
    ]);
    let out = sipkit()
        .args(["invite", "--timeout", "10s", "-q", "--file"])
        .arg(&file)
        .arg(l.udp_target())
        .output()
        .expect("running sipkit invite");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(l.wait(Duration::from_secs(15)).code(), Some(0));
    let cap = cap.to_str().expect("utf-8");
    let decode = format!("tcp.port=={port},msrp");
    // tshark's MSRP dissector does not reassemble a message across TCP segments: a segment
    // holding the start of a SEND but not its end-line is flagged malformed whatever the bytes.
    // Such frames (a segment starting or ending inside a message) are excused; a frame that
    // holds whole messages (starts with `MSRP ` and ends with a complete end-line) must decode
    // cleanly.
    let bad = tshark(&[
        "-n",
        "-r",
        cap,
        "-d",
        &decode,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= \"Error\"",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "tcp.payload",
    ]);
    let unexcused: Vec<&str> = bad
        .lines()
        .filter(|line| {
            let hex: String = line
                .split('\t')
                .nth(1)
                .unwrap_or_default()
                .chars()
                .filter(|c| *c != ':')
                .collect();
            let payload: Vec<u8> = (0..hex.len() / 2)
                .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            holds_whole_messages(&payload)
        })
        .collect();
    assert!(
        unexcused.is_empty(),
        "malformed or erroneous frames:\n{}",
        unexcused.join("\n")
    );
    let fields = tshark(&[
        "-n",
        "-r",
        cap,
        "-d",
        &decode,
        "-Y",
        "msrp",
        "-T",
        "fields",
        "-E",
        "occurrence=f",
        "-e",
        "msrp.method",
        "-e",
        "msrp.status.code",
        "-e",
        "msrp.byte.range",
        "-e",
        "msrp.cnt.flg",
    ]);
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('\t').collect()).collect();
    let total = format!("/{size}");
    for r in &rows {
        match r.as_slice() {
            ["SEND", "", range, flag] => {
                assert!(*range == "1-0/0" || range.ends_with(&total), "{range}");
                // No flag: the end-line is in a later segment, which tshark does not join.
                assert!(["$", "+", ""].contains(flag), "{r:?}");
            }
            ["REPORT", "", range, "$"] => assert_eq!(*range, format!("1-{size}{total}")),
            ["", "200", "", "$"] => {}
            other => panic!("unexpected MSRP message in the capture: {other:?}\n{fields}"),
        }
    }
    let has = |m: &str, range: &str| {
        rows.iter()
            .any(|r| r.first() == Some(&m) && r.get(2) == Some(&range))
    };
    assert!(has("SEND", "1-0/0"), "the binding SEND:\n{fields}");
    assert!(
        has("SEND", &format!("1-*{total}")),
        "the first chunk:\n{fields}"
    );
    assert!(
        has("REPORT", &format!("1-{size}{total}")),
        "the Success-Report:\n{fields}"
    );
}

/// Whether a TCP payload starts with an MSRP start line and ends with a complete end-line
/// (`-------TID` and a `$`, `+` or `#` flag, then CRLF; RFC 4975 §7.1): whole messages only.
fn holds_whole_messages(payload: &[u8]) -> bool {
    let Some(body) = payload.strip_suffix(b"\r\n") else {
        return false;
    };
    let last_line = body
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(body, |i| &body[i + 1..]);
    payload.starts_with(b"MSRP ")
        && last_line.starts_with(b"-------")
        && matches!(last_line.last(), Some(b'$' | b'+' | b'#'))
}

/// SIPp as the callee (`tests/fixtures/sipp/in-dialog-uas.xml`, issue 15): a re-INVITE, an
/// INFO and an OPTIONS in the middle of the call must each be answered 200, so that sipp's
/// one call ends successful (`-m 1` exits 0 only then: zero failed calls).
fn sipp_in_dialog(transport: &str) {
    use crate::support::peer_process::{Peer, free_port};
    use crate::support::root;

    let port = free_port();
    let mut cmd = Command::new("sipp");
    cmd.arg("-sf")
        .arg(root().join("tests/fixtures/sipp/in-dialog-uas.xml"))
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-t", if transport == "tcp" { "t1" } else { "u1" }])
        .args(["-m", "1", "-timeout", "15s", "-timeout_error", "-nostdin"]);
    let mut sipp = Peer::spawn("sipp", cmd, tempdir(), false).ready(
        port,
        transport == "udp",
        transport == "tcp",
    );
    let target = if transport == "udp" {
        format!("sip:bob@127.0.0.1:{port}")
    } else {
        format!("sip:bob@127.0.0.1:{port};transport={transport}")
    };
    let out = sipkit()
        .args([
            "invite",
            "--timeout",
            "10s",
            "--duration",
            "1s",
            "--format",
            "json",
        ])
        .arg(&target)
        .timeout(Duration::from_secs(20))
        .output()
        .expect("running sipkit invite");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", sipp.log());
    let answered: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("\"event\":\"in-dialog\""))
        .collect();
    assert_eq!(answered.len(), 3, "{stdout}");
    assert!(
        answered.iter().all(|l| l.contains("\"status\":200")),
        "{stdout}"
    );
    let status = sipp.finish(Duration::from_secs(10));
    assert!(status.success(), "sipp: {status}\n{}", sipp.log());
}

#[test]
#[ignore = "interop: needs sipp"]
fn interop_sipp_mid_call_reinvite_info_options_are_answered_over_udp_issue_15() {
    sipp_in_dialog("udp");
}

#[test]
#[ignore = "interop: needs sipp"]
fn interop_sipp_mid_call_reinvite_info_options_are_answered_over_tcp_issue_15() {
    sipp_in_dialog("tcp");
}
