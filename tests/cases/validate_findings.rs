//! End-to-end behaviour of `validate` on messages with real problems: exit codes, positions
//! and RFC citations as the user sees them.

use predicates::prelude::*;

use crate::support::{INVITE, json_lines, sipkit, xorshift_bytes};

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

/// The diagnostics of the one message checked from standard input, as (severity, code).
fn diagnostics_of(
    input: impl Into<Vec<u8>>,
    args: &[&str],
) -> (Option<i32>, Vec<serde_json::Value>) {
    let out = sipkit()
        .args(["validate", "--format", "json"])
        .args(args)
        .arg("-")
        .write_stdin(input.into())
        .output()
        .expect("runs");
    let lines = json_lines(&out);
    let diags = lines[0]["diagnostics"].as_array().expect("array").clone();
    (out.status.code(), diags)
}

fn codes(diags: &[serde_json::Value]) -> Vec<&str> {
    diags
        .iter()
        .map(|d| d["code"].as_str().expect("code"))
        .collect()
}

#[test]
fn issue_14_ten_thousand_header_fields_give_one_finding_about_our_limit() {
    let head = INVITE
        .strip_suffix("Content-Length: 0\r\n\r\n")
        .expect("INVITE ends with Content-Length");
    let mut msg = head.to_string();
    for i in 0..10_000 {
        msg.push_str(&format!("X-Filler-{i}: {i}\r\n"));
    }
    msg.push_str("Content-Length: 0\r\n\r\n");
    let (code, diags) = diagnostics_of(msg, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(codes(&diags), ["sip.header.too-many"], "{diags:#?}");
    let message = diags[0]["message"].as_str().expect("message");
    assert!(message.contains("not an RFC rule"), "{message}");
    assert_eq!(diags[0]["rfc"], serde_json::Value::Null);
}

#[test]
fn issue_14_binary_and_unrelated_files_are_one_not_a_message_finding() {
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.extend(xorshift_bytes(20_000, 14));
    let inputs: [(&str, Vec<u8>, &[&str]); 5] = [
        ("random bytes", xorshift_bytes(50_000, 7), &[]),
        ("an ELF header", elf.clone(), &[]),
        (
            "random bytes as MSRP",
            xorshift_bytes(5_000, 9),
            &["--kind", "msrp"],
        ),
        ("an ELF header as SDP", elf, &["--kind", "sdp"]),
        (
            "a text file",
            b"Shopping list\r\n- milk\r\n- eggs, bread\r\n\r\nthen call Bob\r\n".to_vec(),
            &[],
        ),
    ];
    for (what, input, args) in inputs {
        let (code, diags) = diagnostics_of(input, args);
        assert_eq!(code, Some(1), "{what}");
        assert_eq!(codes(&diags), ["input.not-a-message"], "{what}: {diags:#?}");
    }
}

#[test]
fn issue_14_junk_before_the_start_line_is_named() {
    let (code, diags) = diagnostics_of(format!("hello: world\r\n{INVITE}"), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        codes(&diags),
        ["sip.message.junk-before-start"],
        "{diags:#?}"
    );
    assert_eq!(
        (&diags[0]["offset"], &diags[0]["length"]),
        (&0.into(), &14.into())
    );
    // An editor's byte order mark is junk too, not a sign of a binary file.
    let (code, diags) = diagnostics_of(format!("\u{feff}{INVITE}"), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        codes(&diags),
        ["sip.message.junk-before-start"],
        "{diags:#?}"
    );
}

#[test]
fn issue_14_a_missing_start_line_is_named() {
    let headers = INVITE.split_once("\r\n").expect("a start line").1;
    let (code, diags) = diagnostics_of(headers, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(codes(&diags)[0], "sip.start-line.missing", "{diags:#?}");
    assert!(
        !codes(&diags).iter().any(|c| c.starts_with("sip.header.")),
        "the headers are fine: {diags:#?}"
    );
}

#[test]
fn issue_14_a_cause_repeated_on_many_lines_is_shown_a_few_times_with_a_count() {
    let mut msg = String::from("OPTIONS sip:bob@example.com SIP/2.0\r\n");
    for i in 0..1000 {
        msg.push_str(&format!("this line {i} has no colon\r\n"));
    }
    msg.push_str("\r\n");
    let (code, diags) = diagnostics_of(msg, &[]);
    assert_eq!(code, Some(1));
    let colon: Vec<_> = diags
        .iter()
        .filter(|d| d["code"] == "sip.header.colon")
        .collect();
    assert_eq!(colon.len(), 5, "{diags:#?}");
    assert!(
        colon[4]["message"]
            .as_str()
            .is_some_and(|m| m.contains("995 more `sip.header.colon` findings")),
        "{:#?}",
        colon[4]
    );
    assert!(diags.len() < 12, "{diags:#?}");
}

#[test]
fn issue_14_allow_lf_line_ends_turns_the_bare_lf_error_into_a_warning() {
    let lf = INVITE.replace("\r\n", "\n");
    let (code, diags) = diagnostics_of(lf.clone(), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(codes(&diags), ["sip.line.bare-lf"], "{diags:#?}");
    for args in [
        &["--allow", "lf-line-ends"][..],
        &["--allow=missing-reason-space,lf-line-ends"],
        &["--strict", "--allow", "lf-line-ends"],
    ] {
        let (code, diags) = diagnostics_of(lf.clone(), args);
        assert_eq!(code, Some(0), "{args:?}: {diags:#?}");
        assert_eq!(diags[0]["severity"], "warning");
        assert!(
            diags[0]["message"]
                .as_str()
                .is_some_and(|m| m.ends_with("(allowed by --allow lf-line-ends)")),
            "{diags:#?}"
        );
    }
    let msrp = "MSRP a786hjs2 SEND\nTo-Path: msrp://b.example.com:7394/2s93i93idd;tcp\nFrom-Path: msrp://a.example.com:7654/jshA7weztas;tcp\nMessage-ID: 87652491\nByte-Range: 1-0/0\n-------a786hjs2$\n";
    let (strict, _) = diagnostics_of(msrp, &[]);
    assert_eq!(strict, Some(1));
    let (code, diags) = diagnostics_of(msrp, &["--allow", "lf-line-ends"]);
    assert_eq!(code, Some(0), "{diags:#?}");
}

#[test]
fn issue_14_allow_missing_reason_space_and_missing_final_line_end() {
    let response = "SIP/2.0 200\r\nVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\nTo: <sip:b@example.com>;tag=2\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let (code, diags) = diagnostics_of(response, &[]);
    assert_eq!(
        (code, codes(&diags)),
        (Some(1), vec!["sip.status-line.reason"])
    );
    let (code, _) = diagnostics_of(response, &["--allow", "missing-reason-space"]);
    assert_eq!(code, Some(0));
    let sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0";
    let (code, diags) = diagnostics_of(sdp, &[]);
    assert_eq!(
        (code, codes(&diags)),
        (Some(1), vec!["sdp.line.unterminated"])
    );
    let (code, _) = diagnostics_of(sdp, &["--allow", "missing-final-line-end"]);
    assert_eq!(code, Some(0));
}

#[test]
fn issue_14_an_unknown_leniency_is_a_usage_error_naming_the_valid_ones() {
    sipkit()
        .args(["validate", "--allow", "lf-line-ends,tabs", "-"])
        .write_stdin(INVITE)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tabs"))
        .stderr(predicate::str::contains("lf-line-ends"))
        .stderr(predicate::str::contains("missing-reason-space"))
        .stderr(predicate::str::contains("missing-final-line-end"));
}

/// INVITE with extra header lines before Content-Length.
fn invite_with(extra: &str) -> String {
    INVITE.replace(
        "Content-Length: 0\r\n",
        &format!("{extra}Content-Length: 0\r\n"),
    )
}

#[test]
fn issue_14_empty_allow_events_is_an_error_like_empty_unsupported() {
    for (header, rfc) in [
        ("Allow-Events:", "RFC 6665 §8.4"),
        ("u: ", "RFC 6665 §8.4"),
        ("Unsupported: ", "RFC 3261 §20.40"),
    ] {
        let (code, diags) = diagnostics_of(invite_with(&format!("{header}\r\n")), &[]);
        assert_eq!(code, Some(1), "{header}");
        assert_eq!(codes(&diags), ["sip.header.empty-element"], "{header}");
        assert_eq!(diags[0]["rfc"], rfc);
    }
    let (code, diags) = diagnostics_of(
        invite_with("Allow-Events: presence, dialog.winfo\r\nAllow:\r\n"),
        &[],
    );
    assert_eq!((code, codes(&diags)), (Some(0), vec![]), "{diags:#?}");
    let (_, diags) = diagnostics_of(invite_with("Allow-Events: presence, a..b\r\n"), &[]);
    assert_eq!(codes(&diags), ["sip.allow-events.event-type"]);
}

#[test]
fn issue_14_content_disposition_parameters_are_checked() {
    let ok = "Content-Disposition: attachment; filename=\"a b.txt\"; size=3; creation-date=\"Wed, 12 Feb 1997 16:29:51 -0500\"\r\n";
    let (code, diags) = diagnostics_of(invite_with(ok), &[]);
    assert_eq!((code, codes(&diags)), (Some(0), vec![]), "{diags:#?}");
    for bad in [
        "Content-Disposition: attachment; filename=a b.txt\r\n",
        "Content-Disposition: attachment; size=3k\r\n",
        "Content-Disposition: attachment; creation-date=yesterday\r\n",
        "Content-Disposition: session; handling\r\n",
    ] {
        let (code, diags) = diagnostics_of(invite_with(bad), &[]);
        assert_eq!(code, Some(1), "{bad}");
        assert_eq!(codes(&diags), ["sip.content-disposition.param"], "{bad}");
    }
}

#[test]
fn issue_14_an_escaped_quote_outside_a_quoted_string_is_named() {
    let auth = "Authorization: Digest username=\"alice\", realm=\\\"x\\\", nonce=\"n\", uri=\"sip:bob@example.com\", response=\"0123456789abcdef0123456789abcdef\"\r\n";
    let (code, diags) = diagnostics_of(invite_with(auth), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(codes(&diags), ["sip.auth.param"]);
    let message = diags[0]["message"].as_str().expect("message");
    assert!(message.contains("escaped quote"), "{message}");
}

const MSRP_HEAD: &str = "To-Path: msrp://b.example.com:7394/2s93i93idd;tcp\r\nFrom-Path: msrp://a.example.com:7654/jshA7weztas;tcp\r\n";

#[test]
fn issue_14_nickname_is_a_known_msrp_method_with_its_own_rules() {
    let good = format!(
        "MSRP a786hjs2 NICKNAME\r\n{MSRP_HEAD}Use-Nickname: \"Alice the Great\"\r\n-------a786hjs2$\r\n"
    );
    let (code, diags) = diagnostics_of(good, &[]);
    assert_eq!((code, codes(&diags)), (Some(0), vec![]), "{diags:#?}");
    let bare = format!("MSRP a786hjs2 NICKNAME\r\n{MSRP_HEAD}-------a786hjs2$\r\n");
    let (_, diags) = diagnostics_of(bare, &[]);
    assert_eq!(codes(&diags), ["msrp.nickname.missing"]);
    let unquoted =
        format!("MSRP a786hjs2 NICKNAME\r\n{MSRP_HEAD}Use-Nickname: Alice\r\n-------a786hjs2$\r\n");
    let (_, diags) = diagnostics_of(unquoted, &[]);
    assert_eq!(codes(&diags), ["msrp.nickname.syntax"]);
}

#[test]
fn issue_14_an_empty_msrp_method_is_shown_in_backquotes() {
    let msg = format!("MSRP a786hjs2 \r\n{MSRP_HEAD}-------a786hjs2$\r\n");
    let (_, diags) = diagnostics_of(msg, &[]);
    let unknown = diags
        .iter()
        .find(|d| d["code"] == "msrp.method.unknown")
        .expect("an unknown-method warning");
    assert!(
        unknown["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("method `` ")),
        "{unknown}"
    );
}

#[test]
fn issue_14_msrp_www_authenticate_is_checked() {
    let response = |auth: &str| {
        format!(
            "MSRP a786hjs2 401 Unauthorized\r\nTo-Path: msrp://a.example.com:7654/jshA7weztas;tcp\r\nFrom-Path: msrp://b.example.com:7394/2s93i93idd;tcp\r\n{auth}-------a786hjs2$\r\n"
        )
    };
    let good = "WWW-Authenticate: Digest realm=\"relay.example.com\", qop=\"auth\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"\r\n";
    let (code, diags) = diagnostics_of(response(good), &[]);
    assert_eq!((code, codes(&diags)), (Some(0), vec![]), "{diags:#?}");
    for (bad, expected) in [
        (
            "WWW-Authenticate: Basic realm=\"x\"\r\n",
            "msrp.auth.scheme",
        ),
        (
            "WWW-Authenticate: Digest realm=x, nonce=\"n\"\r\n",
            "msrp.auth.param",
        ),
        (
            "WWW-Authenticate: Digest realm=\"x\", stale=maybe, nonce=\"n\"\r\n",
            "msrp.auth.param",
        ),
        (
            "WWW-Authenticate: Digest realm=\"x\"\r\n",
            "msrp.auth.missing-param",
        ),
    ] {
        let (code, diags) = diagnostics_of(response(bad), &[]);
        assert_eq!(code, Some(1), "{bad}");
        assert_eq!(codes(&diags), [expected], "{bad}");
        assert_eq!(diags[0]["rfc"], "RFC 4976 §7");
    }
}

#[test]
fn issue_14_msrp_content_disposition_parameters_are_checked() {
    let send = |disp: &str| {
        format!(
            "MSRP a786hjs2 SEND\r\n{MSRP_HEAD}Message-ID: 87652491\r\nByte-Range: 1-2/2\r\n{disp}Content-Type: text/plain\r\n\r\nhi\r\n-------a786hjs2$\r\n"
        )
    };
    let (code, diags) = diagnostics_of(
        send("Content-Disposition: attachment; filename=\"a.txt\"\r\n"),
        &[],
    );
    assert_eq!((code, codes(&diags)), (Some(0), vec![]), "{diags:#?}");
    let (_, diags) = diagnostics_of(send("Content-Disposition: attachment; size=two\r\n"), &[]);
    assert_eq!(codes(&diags), ["msrp.content-disposition.param"]);
}

#[test]
fn issue_14_a_malformed_c_line_is_reported_instead_of_a_missing_one() {
    let sdp =
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let (_, diags) = diagnostics_of(sdp, &[]);
    assert_eq!(codes(&diags), ["sdp.connection.syntax"], "{diags:#?}");
    let in_media = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN\r\nm=audio 4002 RTP/AVP 0\r\n";
    let (_, diags) = diagnostics_of(in_media, &[]);
    assert_eq!(
        codes(&diags),
        ["sdp.connection.syntax", "sdp.media.missing-connection"],
        "the second media section really has no c=: {diags:#?}"
    );
}

#[test]
fn issue_14_sdp_and_msrp_keep_a_few_findings_per_cause_however_many_lines_are_bad() {
    let sdp = format!("v=0\r\n{}", "junk\r\n".repeat(20_000));
    let msrp = format!("MSRP a786hjs2 SEND\r\n{}", "no colon\r\n".repeat(20_000));
    for (what, input) in [("sdp", sdp), ("msrp", msrp)] {
        let (code, diags) = diagnostics_of(input, &[]);
        assert_eq!(code, Some(1), "{what}");
        assert!(diags.len() <= 12, "{what}: {diags:#?}");
        let mut seen = codes(&diags);
        seen.sort_unstable();
        let most = seen
            .chunk_by(|a, b| a == b)
            .map(<[&str]>::len)
            .max()
            .unwrap_or(0);
        assert_eq!(most, 5, "{what}: {diags:#?}");
        assert!(
            diags
                .iter()
                .any(|d| d["message"].as_str().is_some_and(|m| m.contains("more `"))),
            "{what}: {diags:#?}"
        );
    }
}

#[test]
fn issue_14_msrp_stops_at_512_header_lines_and_says_so_once() {
    let msg = format!(
        "MSRP a786hjs2 SEND\r\n{MSRP_HEAD}{}Message-ID: 1\r\n-------a786hjs2$\r\n",
        "X-Filler: 1\r\n".repeat(10_000)
    );
    let (code, diags) = diagnostics_of(msg, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        codes(&diags)
            .iter()
            .filter(|c| **c == "msrp.header.too-many")
            .count(),
        1,
        "{diags:#?}"
    );
    assert!(diags.len() <= 3, "{diags:#?}");
}

#[test]
fn issue_14_two_tags_in_to_are_a_warning_with_the_code_decode_pcap_gives() {
    let msg = WRONG_CONTENT_LENGTH
        .replace(
            "Content-Length: 10\r\n\r\nabcd",
            "Content-Length: 0\r\n\r\n",
        )
        .replace(
            "To: Bob <sip:bob@example.com>",
            "To: Bob <sip:bob@example.com>;tag=a;tag=b",
        );
    let out = sipkit()
        .args(["validate", "--format", "json", "-"])
        .write_stdin(msg)
        .output()
        .expect("sipkit runs");
    assert_eq!(out.status.code(), Some(0), "a warning only");
    let lines = json_lines(&out);
    let codes: Vec<&str> = lines
        .iter()
        .flat_map(|v| v["diagnostics"].as_array().into_iter().flatten())
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"sip.tag.duplicate"), "{lines:?}");
}
