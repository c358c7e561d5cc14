//! The exit-status contract (src/exit.rs): 0 valid, 1 invalid, 2 usage or unreadable input.

use predicates::prelude::*;

use crate::support::{INVITE, sipkit, tempdir, write};

#[test]
fn valid_message_exits_0_with_a_summary() {
    let dir = tempdir();
    let file = write(dir.path(), "ok.sip", INVITE);
    sipkit()
        .arg("validate")
        .arg(&file)
        .assert()
        .code(0)
        .stdout("1 file: 1 valid, 0 invalid (0 errors, 0 warnings)\n")
        .stderr("");
}

#[test]
fn issue_15_an_empty_file_is_an_input_error_shown_as_a_diagnostic_and_exits_2() {
    let dir = tempdir();
    let file = write(dir.path(), "empty.sip", "");
    sipkit()
        .arg("validate")
        .arg(&file)
        .assert()
        .code(2)
        .stdout(predicate::str::contains(
            "error[input.empty]: empty input: expected one sip message",
        ))
        .stdout(predicate::str::contains(format!(
            "--> {}:1:1",
            file.display()
        )))
        .stdout(predicate::str::contains(
            "1 file: 0 valid, 1 invalid (1 error, 0 warnings)",
        ));
}

#[test]
fn unreadable_file_exits_2_but_the_others_are_still_checked() {
    let dir = tempdir();
    let good = write(dir.path(), "ok.sip", INVITE);
    let empty = write(dir.path(), "empty.sip", "");
    let missing = dir.path().join("missing.sip");
    sipkit()
        .arg("validate")
        .args([&good, &missing, &empty])
        .assert()
        .code(2)
        .stdout(predicate::str::contains(format!(
            "error[input.unreadable]: cannot read {}: ",
            missing.display()
        )))
        .stdout(predicate::str::contains("os error"))
        .stdout(predicate::str::contains("error[input.empty]"))
        .stdout(predicate::str::contains(
            "3 files: 1 valid, 1 invalid, 1 unreadable (1 error, 0 warnings)",
        ));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    sipkit()
        .args(["validate", "--no-such-flag", "-"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "unexpected argument '--no-such-flag'",
        ));
}

#[test]
fn bad_value_is_a_usage_error() {
    sipkit()
        .args(["validate", "--kind", "http", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'http'"));
}

#[test]
fn no_subcommand_is_a_usage_error() {
    sipkit().assert().code(2).stdout("");
}

#[test]
fn no_path_asks_for_dash() {
    sipkit()
        .arg("validate")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("no input given"))
        .stderr(predicate::str::contains("`-`"));
}

#[test]
fn stdin_twice_is_a_usage_error() {
    sipkit()
        .args(["validate", "-", "-"])
        .write_stdin(INVITE)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("only once"));
}

#[test]
fn help_and_version_exit_0_on_stdout() {
    for flag in ["--help", "-h"] {
        sipkit()
            .arg(flag)
            .assert()
            .code(0)
            .stdout(predicate::str::contains("Usage: sipkit"))
            .stdout(predicate::str::contains("validate"))
            .stdout(predicate::str::contains("generate").not())
            .stderr("");
    }
    sipkit()
        .args(["validate", "--help"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("--strict"));
    sipkit()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(format!("sipkit {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn github_format_is_refused_outside_validate() {
    let dir = tempdir();
    sipkit()
        .args(["generate", "--format", "github", "--out"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "only accepted by `sipkit validate`",
        ));
    assert!(
        !dir.path().join("completions").exists(),
        "a refused command must not do any work"
    );
}

#[test]
fn quiet_and_verbose_conflict() {
    sipkit()
        .args(["validate", "-q", "-v", "-"])
        .assert()
        .code(2);
}
