//! `validate` inputs: standard input, directories, kinds, quiet mode, GitHub annotations.

use predicates::prelude::*;

use crate::support::{INVITE, json_lines, sipkit, stdout_of, tempdir, write};

#[test]
fn stdin_is_read_with_dash() {
    sipkit()
        .args(["validate", "-"])
        .write_stdin(INVITE)
        .assert()
        .code(0)
        .stdout("1 file: 1 valid, 0 invalid (0 errors, 0 warnings)\n");
}

#[test]
fn empty_stdin_is_named_stdin() {
    sipkit()
        .args(["validate", "-"])
        .write_stdin("")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("--> <stdin>:1:1"));
}

#[test]
fn directories_are_searched_recursively_in_sorted_order() {
    let dir = tempdir();
    let d = dir.path();
    for name in [
        "b.sip",
        "a/z.msrp",
        "a/y.SDP",
        "c.msg",
        "notes.md",
        "README",
        ".hidden.sip",
        ".git/x.sip",
        "a/.cache/w.sip",
    ] {
        // Empty files are invalid, so each checked file shows up in the output.
        write(d, name, "");
    }
    let out = sipkit()
        .args(["validate", "--format", "json"])
        .arg(d)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let files: Vec<String> = json_lines(&out)
        .iter()
        .filter(|v| v["type"] == "message")
        .map(|v| v["file"].as_str().expect("file is a string").to_owned())
        .collect();
    let expected: Vec<String> = ["a/y.SDP", "a/z.msrp", "b.sip", "c.msg"]
        .iter()
        .map(|n| d.join(n).display().to_string())
        .collect();
    assert_eq!(files, expected);
}

#[test]
fn files_named_explicitly_are_read_whatever_their_name() {
    let dir = tempdir();
    let f = write(dir.path(), ".odd-name.txt", INVITE);
    sipkit()
        .arg("validate")
        .arg(&f)
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("1 file: 1 valid"));
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_not_followed_forever() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "top/a.sip", INVITE);
    write(d, "top/sub/b.sip", INVITE);
    std::os::unix::fs::symlink(d.join("top"), d.join("top/sub/loop")).expect("symlink");
    std::os::unix::fs::symlink(d.join("top/sub/loop"), d.join("top/self")).expect("symlink");
    sipkit()
        .arg("validate")
        .arg(d.join("top"))
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(0)
        .stdout("2 files: 2 valid, 0 invalid (0 errors, 0 warnings)\n");
}

#[cfg(unix)]
#[test]
fn dangling_symlink_is_reported_unreadable() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "ok.sip", INVITE);
    std::os::unix::fs::symlink(d.join("gone.sip"), d.join("link.sip")).expect("symlink");
    sipkit()
        .arg("validate")
        .arg(d)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("cannot read"))
        .stdout(predicate::str::contains("link.sip"));
}

#[test]
fn kind_is_detected_from_the_first_line_or_forced() {
    let cases = [
        ("MSRP a786hjs2 SEND\r\n", None, "msrp"),
        ("v=0\r\n", None, "sdp"),
        ("m=audio 49170 RTP/AVP 0\r\n", None, "sdp"),
        (INVITE, None, "sip"),
        ("v=0\r\n", Some("msrp"), "msrp"),
    ];
    for (input, forced, expected) in cases {
        let mut cmd = sipkit();
        cmd.args(["validate", "--format", "json", "-"]);
        if let Some(kind) = forced {
            cmd.args(["--kind", kind]);
        }
        let out = cmd.write_stdin(input).output().expect("runs");
        let lines = json_lines(&out);
        assert_eq!(lines[0]["kind"], expected, "input {input:?}");
    }
}

#[test]
fn quiet_prints_only_errors() {
    let dir = tempdir();
    let ok = write(dir.path(), "ok.sip", INVITE);
    sipkit()
        .args(["validate", "-q"])
        .arg(&ok)
        .assert()
        .code(0)
        .stdout("");
    let bad = write(dir.path(), "bad.sip", "");
    let out = sipkit()
        .args(["validate", "--quiet"])
        .args([&ok, &bad])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_of(&out);
    assert!(text.contains("error[input.empty]"), "{text}");
    assert!(!text.contains("files"), "no summary under -q: {text}");
}

#[test]
fn github_annotations_escape_properties_and_data() {
    let dir = tempdir();
    let bad = write(dir.path(), "a,b:c%.sip", "");
    let escaped = bad
        .display()
        .to_string()
        .replace('%', "%25")
        .replace(':', "%3A")
        .replace(',', "%2C");
    sipkit()
        .args(["validate", "--format", "github"])
        .arg(&bad)
        .assert()
        .code(1)
        .stdout(format!(
            "::error file={escaped},line=1,col=1,title=input.empty::empty input: expected one sip message\n\
             1 file: 0 valid, 1 invalid (1 error, 0 warnings)\n"
        ));
}

#[test]
fn github_annotation_for_unreadable_input() {
    let dir = tempdir();
    let missing = dir.path().join("missing.sip");
    sipkit()
        .args(["validate", "--format", "github"])
        .arg(&missing)
        .assert()
        .code(2)
        .stdout(predicate::str::starts_with("::error file="))
        .stdout(predicate::str::contains(
            ",title=input.unreadable::cannot read",
        ));
}

#[test]
fn verbose_logs_go_to_stderr_only() {
    let dir = tempdir();
    let ok = write(dir.path(), "ok.sip", INVITE);
    sipkit()
        .args(["validate", "-vv", "--format", "json"])
        .arg(&ok)
        .assert()
        .code(0)
        .stderr(predicate::str::contains("checking"))
        .stdout(predicate::str::contains("\"type\":\"summary\""));
}

#[test]
fn a_directory_without_message_files_is_an_input_error() {
    let dir = tempdir();
    write(dir.path(), "notes.txt", "not a message");
    sipkit()
        .args(["validate", dir.path().to_str().expect("utf-8 path")])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("no message files"));
}

#[test]
fn the_rfc4475_directory_is_checked_whole() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rfc4475");
    sipkit()
        .args(["validate", "--format", "json", "-q", dir])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("badinv01.dat"));
}
