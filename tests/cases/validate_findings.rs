//! End-to-end behaviour of `validate` on messages with real problems: exit codes, positions
//! and RFC citations as the user sees them.

use predicates::prelude::*;

use crate::support::{INVITE, json_lines, sipkit};

/// INVITE announcing a 10-byte body but carrying 4 bytes.
const WRONG_CONTENT_LENGTH: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 10\r\n\
\r\n\
abcd";

/// A request line with no SIP version.
const BAD_REQUEST_LINE: &str = "INVITE sip:bob@example.com\r\n\
Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n\
Content-Length: 0\r\n\
\r\n";

/// MSRP SEND whose end-line names another transaction (RFC 4975 §9).
const MSRP_END_LINE_MISMATCH: &str = "MSRP a786hjs2 SEND\r\n\
To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n\
From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n\
Message-ID: 87652491\r\n\
Byte-Range: 1-25/25\r\n\
Content-Type: text/plain\r\n\
\r\n\
Hey Bob, are you there?\r\n\
-------xxxxxxxx$\r\n";

/// SDP with a media line whose port is not a number (RFC 8866 §5.14).
const SDP_BAD_PORT: &str = "v=0\r\n\
o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1\r\n\
s=Call\r\n\
c=IN IP4 198.51.100.1\r\n\
t=0 0\r\n\
m=audio port RTP/AVP 0\r\n";

#[test]
fn wrong_content_length_exits_1_and_points_at_the_header() {
    let out = sipkit()
        .args(["validate", "--format", "json", "-"])
        .write_stdin(WRONG_CONTENT_LENGTH)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines[0]["valid"], false);
    let diags = lines[0]["diagnostics"].as_array().expect("array");
    assert!(
        diags
            .iter()
            .any(|d| d["severity"] == "error" && d["line"] == 8),
        "a Content-Length error on line 8: {diags:#?}"
    );
}

#[test]
fn bad_request_line_is_reported_on_line_1_with_an_rfc_note() {
    sipkit()
        .args(["validate", "-"])
        .write_stdin(BAD_REQUEST_LINE)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("--> <stdin>:1:"))
        .stdout(predicate::str::contains("= note: see RFC 3261"));
}

#[test]
fn msrp_end_line_mismatch_exits_1() {
    sipkit()
        .args(["validate", "--format", "github", "-"])
        .write_stdin(MSRP_END_LINE_MISMATCH)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("::error file=<stdin>,line=9,"))
        .stdout(predicate::str::contains("RFC 4975"));
}

#[test]
fn sdp_bad_port_exits_1() {
    sipkit()
        .args(["validate", "-"])
        .write_stdin(SDP_BAD_PORT)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("--> <stdin>:6:"));
}

#[test]
fn sdp_errors_in_a_sip_body_point_into_the_sip_message() {
    let body = SDP_BAD_PORT;
    let msg = format!(
        "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        INVITE
            .strip_suffix("Content-Length: 0\r\n\r\n")
            .expect("INVITE ends with an empty body"),
        body.len()
    );
    let out = sipkit()
        .args(["validate", "--format", "json", "-"])
        .write_stdin(msg.clone())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    let diag = &lines[0]["diagnostics"][0];
    let offset = diag["offset"].as_u64().expect("offset") as usize;
    assert!(
        offset >= msg.find("m=audio").expect("m= line"),
        "SDP finding shifted into the message: {diag}"
    );
}

#[test]
fn strict_turns_warnings_into_errors() {
    // A valid INVITE whose Max-Forwards is absent draws (at most) a warning, never an error.
    let msg = INVITE.replace("Max-Forwards: 70\r\n", "");
    let loose = sipkit()
        .args(["validate", "--format", "json", "-"])
        .write_stdin(msg.clone())
        .output()
        .expect("runs");
    let lines = json_lines(&loose);
    let warnings = lines[0]["diagnostics"]
        .as_array()
        .expect("array")
        .iter()
        .filter(|d| d["severity"] == "warning")
        .count();
    assert!(warnings > 0, "expected a warning: {lines:#?}");
    assert_eq!(loose.status.code(), Some(0));
    sipkit()
        .args(["validate", "--strict", "-"])
        .write_stdin(msg)
        .assert()
        .code(1);
}
