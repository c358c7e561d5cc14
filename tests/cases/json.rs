//! `--format json`: JSON Lines with the schema documented in README.md.

use serde_json::Value;

use crate::support::{INVITE, json_lines, sipkit, tempdir, write};

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

#[test]
fn every_line_is_an_object_of_a_documented_type() {
    let dir = tempdir();
    let ok = write(dir.path(), "ok.sip", INVITE);
    let empty = write(dir.path(), "empty.sip", "");
    let missing = dir.path().join("missing.sip");
    let out = sipkit()
        .args(["validate", "--format", "json", "--color", "always"])
        .args([&ok, &empty, &missing])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !out.stdout.contains(&0x1b),
        "JSON is never coloured, even with --color always"
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 4, "{lines:#?}");

    let message_keys = ["diagnostics", "file", "kind", "type", "valid"];
    assert_eq!(keys(&lines[0]), message_keys);
    assert_eq!(lines[0]["type"], "message");
    assert_eq!(lines[0]["file"], ok.display().to_string());
    assert_eq!(lines[0]["kind"], "sip");
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[0]["diagnostics"], serde_json::json!([]));

    assert_eq!(keys(&lines[1]), message_keys);
    assert_eq!(lines[1]["valid"], false);
    let diag = &lines[1]["diagnostics"][0];
    assert_eq!(
        keys(diag),
        [
            "code", "column", "length", "line", "message", "offset", "rfc", "severity"
        ]
    );
    assert_eq!(diag["severity"], "error");
    assert_eq!(diag["code"], "input.empty");
    assert!(diag["message"].is_string());
    for field in ["line", "column"] {
        assert!(
            diag[field].as_u64().is_some_and(|n| n >= 1),
            "{field}: {diag}"
        );
    }
    for field in ["offset", "length"] {
        assert!(diag[field].is_u64(), "{field}: {diag}");
    }
    assert!(diag["rfc"].is_null() || diag["rfc"].is_string());

    assert_eq!(keys(&lines[2]), ["code", "error", "file", "type"]);
    assert_eq!(lines[2]["type"], "unreadable");
    assert_eq!(lines[2]["code"], "input.unreadable");
    assert_eq!(lines[2]["file"], missing.display().to_string());
    assert!(
        lines[2]["error"]
            .as_str()
            .is_some_and(|e| e.contains("os error"))
    );

    assert_eq!(
        lines[3],
        serde_json::json!({
            "type": "summary", "files": 3, "valid": 1, "invalid": 1, "unreadable": 1,
            "skipped": 0, "errors": 1, "warnings": 0
        })
    );
}

/// Issue 15: every subcommand writes one `{"type":"error","exit":2,...}` object on standard
/// output for a usage error under `--format json`, whether clap refused the command line or
/// the subcommand refused a combination of values (people still get the text on stderr).
#[test]
fn issue_15_usage_errors_are_one_json_object_on_stdout_for_every_subcommand() {
    let cases: [&[&str]; 9] = [
        &["validate", "--format", "json", "--no-such-flag", "-"],
        &["--format", "json", "validate"],
        &["decode-pcap", "--format=json"],
        &[
            "send",
            "--format",
            "json",
            "--count",
            "0",
            "sip:a@127.0.0.1",
        ],
        &["send", "--format", "json", "--rate", "5", "sip:a@127.0.0.1"],
        &["listen", "--format", "json", "--udp", "not-an-address"],
        &["listen", "--format", "json", "--no-such-flag"],
        &["invite", "--format", "json"],
        &[
            "invite",
            "--format",
            "json",
            "--duration",
            "soon",
            "sip:a@127.0.0.1",
        ],
    ];
    for args in cases {
        let out = sipkit().args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        let v = &lines[0];
        assert_eq!(v["type"], "error", "{args:?}");
        assert_eq!(v["exit"], 2, "{args:?}");
        assert_eq!(v["kind"], "usage", "{args:?}");
        let sub = args.iter().find(|a| !a.starts_with('-') && **a != "json");
        assert_eq!(v["subcommand"].as_str(), sub.copied(), "{args:?}");
        let message = v["message"].as_str().expect("a message");
        assert!(
            !message.is_empty() && !message.starts_with("error:"),
            "{message}"
        );
        assert!(
            !out.stderr.is_empty(),
            "people still read the error: {args:?}"
        );
    }
    // Human output keeps standard output empty.
    let out = sipkit().args(["invite"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

/// Issue 15: an input error that ends send, invite or listen with status 2 (an unreadable
/// file named by a flag, a certificate that cannot be read) is the same one JSON object on
/// stdout, `kind` `input`.
#[test]
fn issue_15_input_errors_of_network_subcommands_are_one_json_object_on_stdout() {
    let cases: [&[&str]; 3] = [
        &[
            "send",
            "--format",
            "json",
            "--body-file",
            "/nonexistent/body",
            "sip:a@127.0.0.1",
        ],
        &[
            "invite",
            "--format",
            "json",
            "--file",
            "/nonexistent/file",
            "sip:a@127.0.0.1",
        ],
        &[
            "listen",
            "--format",
            "json",
            "--tls",
            "127.0.0.1:0",
            "--cert",
            "/nonexistent/c",
            "--key",
            "/nonexistent/k",
            "--timeout",
            "1s",
        ],
    ];
    for args in cases {
        let out = sipkit().args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert_eq!(lines[0]["type"], "error");
        assert_eq!(lines[0]["exit"], 2);
        assert_eq!(lines[0]["kind"], "input");
        assert_eq!(lines[0]["subcommand"], args[0]);
        let message = lines[0]["message"].as_str().expect("message");
        assert!(message.contains("/nonexistent/"), "{message}");
    }
}
