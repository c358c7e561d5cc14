//! Colour is decided once: `--color` wins, then NO_COLOR, then CLICOLOR_FORCE, then whether
//! stdout is a terminal (it never is in these tests).

use crate::support::{sipkit, tempdir, write};

const ESC: u8 = 0x1b;

/// Stdout of `validate` on an invalid message (so there is a styled diagnostic to print).
fn run(args: &[&str], env: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempdir();
    let bad = write(dir.path(), "bad.sip", "");
    let mut cmd = sipkit();
    cmd.arg("validate").args(args).arg(&bad);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("runs");
    // An empty input is an input error (issue 15).
    assert_eq!(out.status.code(), Some(2));
    out.stdout
}

#[test]
fn pipes_are_not_coloured_by_default() {
    assert!(!run(&[], &[]).contains(&ESC));
}

#[test]
fn color_always_colours_a_pipe_even_with_no_color() {
    assert!(run(&["--color", "always"], &[]).contains(&ESC));
    assert!(run(&["--color", "always"], &[("NO_COLOR", "1")]).contains(&ESC));
}

#[test]
fn no_color_beats_clicolor_force() {
    assert!(run(&[], &[("CLICOLOR_FORCE", "1")]).contains(&ESC));
    assert!(!run(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains(&ESC));
}

#[test]
fn color_never_wins_over_the_environment() {
    assert!(!run(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]).contains(&ESC));
}

#[test]
fn github_annotations_are_never_coloured() {
    assert!(!run(&["--format", "github", "--color", "always"], &[]).contains(&ESC));
}
