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
fn empty_stdin_is_named_stdin_and_is_an_input_error() {
    sipkit()
        .args(["validate", "-"])
        .write_stdin("")
        .assert()
        .code(2)
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
    // Empty inputs are input errors (issue 15).
    assert_eq!(out.status.code(), Some(2));
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
    assert_eq!(out.status.code(), Some(2));
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
        .code(2)
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

/// Make a FIFO with the `mkfifo` command (coreutils), which every Unix CI image has.
#[cfg(unix)]
fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn issue_14_fifo_in_a_directory_is_skipped_with_a_notice() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "ok.sip", INVITE);
    // Nobody ever writes to it: opening it for reading would wait forever.
    mkfifo(&d.join("pipe.sip"));
    let out = sipkit()
        .args(["validate", "--format", "json"])
        .arg(d)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
    let lines = json_lines(&out);
    assert_eq!(lines[0]["file"], d.join("ok.sip").display().to_string());
    assert_eq!(lines[1]["type"], "skipped");
    assert_eq!(lines[1]["file"], d.join("pipe.sip").display().to_string());
    assert!(
        lines[1]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("FIFO")),
        "{lines:#?}"
    );
    assert_eq!(lines[2]["type"], "summary");
    assert_eq!(lines[2]["files"], 1);
    assert_eq!(lines[2]["skipped"], 1);
    sipkit()
        .arg("validate")
        .arg(d)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("note[input.skipped]: skipped"))
        .stdout(predicate::str::ends_with(
            "1 file: 1 valid, 0 invalid, 1 skipped (0 errors, 0 warnings)\n",
        ));
}

#[cfg(unix)]
#[test]
fn issue_14_dev_zero_is_read_only_up_to_max_size() {
    sipkit()
        .args(["validate", "--max-size", "64K", "/dev/zero"])
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2)
        .stdout(predicate::str::starts_with(
            "error[input.too-large]: /dev/zero is larger than the --max-size limit of 64 KiB",
        ));
}

#[cfg(unix)]
#[test]
fn issue_14_explicit_fifo_fed_forever_is_cut_at_max_size() {
    use std::io::Write;
    let dir = tempdir();
    let fifo = dir.path().join("endless.sip");
    mkfifo(&fifo);
    let child = crate::support::std_sipkit()
        .args(["validate", "--format", "json", "--max-size", "100K"])
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    // Opening for writing waits for sipkit to open it for reading; then write until sipkit
    // closes its end (EPIPE: Rust ignores SIGPIPE), which it must do after 100K + 1 bytes.
    let mut w = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open the FIFO");
    let chunk = [b'A'; 4096];
    let mut written = 0usize;
    while w.write_all(&chunk).is_ok() {
        written += chunk.len();
        assert!(written < 64 << 20, "sipkit kept reading past --max-size");
    }
    let out = child.wait_with_output().expect("sipkit ends");
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out);
    assert_eq!(lines[0]["type"], "unreadable");
    assert_eq!(lines[0]["code"], "input.too-large");
}

#[test]
fn issue_14_max_size_bounds_files_and_stdin() {
    let dir = tempdir();
    let exact = write(dir.path(), "exact.sip", INVITE);
    let limit = INVITE.len().to_string();
    sipkit()
        .args(["validate", "--max-size", &limit])
        .arg(&exact)
        .assert()
        .code(0);
    let smaller = (INVITE.len() - 1).to_string();
    let out = sipkit()
        .args(["validate", "--format", "json", "--max-size", &smaller])
        .arg(&exact)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out);
    assert_eq!(lines[0]["code"], "input.too-large", "{lines:#?}");
    assert_eq!(lines[1]["unreadable"], 1);
    sipkit()
        .args([
            "validate",
            "--format",
            "github",
            "--max-size",
            &smaller,
            "-",
        ])
        .write_stdin(INVITE)
        .assert()
        .code(2)
        .stdout(predicate::str::starts_with(
            "::error file=<stdin>,title=input.too-large::<stdin> is larger than",
        ));
    sipkit()
        .args(["validate", "--max-size", "0", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-size"));
}

#[test]
fn issue_14_sdp_and_msrp_extensions_choose_the_kind_when_the_first_line_does_not() {
    let dir = tempdir();
    let sdp = write(
        dir.path(),
        "offer.sdp",
        "o=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n",
    );
    let msrp = write(
        dir.path(),
        "chunk.MSRP",
        "To-Path: msrp://a.example:1/s;tcp\r\n",
    );
    let out = sipkit()
        .args(["validate", "--format", "json"])
        .args([&sdp, &msrp])
        .output()
        .expect("runs");
    let lines = json_lines(&out);
    assert_eq!(lines[0]["kind"], "sdp", "{lines:#?}");
    assert_eq!(lines[1]["kind"], "msrp", "{lines:#?}");
}
