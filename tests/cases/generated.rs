//! The committed completions and man pages must match what the clap definition generates now.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::support::{root, sipkit, tempdir};

const HOW_TO_FIX: &str = "run `cargo run -- generate --out .` and commit completions/ and man/";

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}; {HOW_TO_FIX}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let name = path
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            let content = fs::read(&path).expect("readable generated file");
            (name, content)
        })
        .collect()
}

#[test]
fn completions_and_man_pages_are_up_to_date() {
    let out = tempdir();
    sipkit()
        .args(["generate", "--out"])
        .arg(out.path())
        .assert()
        .code(0)
        .stdout("");
    for sub in ["completions", "man"] {
        let fresh = files(&out.path().join(sub));
        let committed = files(&root().join(sub));
        assert_eq!(
            fresh.keys().collect::<Vec<_>>(),
            committed.keys().collect::<Vec<_>>(),
            "{sub}/ holds different files than generated; {HOW_TO_FIX}"
        );
        for (name, content) in &fresh {
            assert!(
                committed.get(name) == Some(content),
                "{sub}/{name} is stale; {HOW_TO_FIX}"
            );
        }
    }
}

#[test]
fn man_pages_cover_visible_subcommands_only() {
    let out = tempdir();
    sipkit()
        .args(["generate", "--out"])
        .arg(out.path())
        .assert()
        .code(0);
    let names: Vec<String> = files(&out.path().join("man")).into_keys().collect();
    assert_eq!(names, expected_man_pages());
    let completions = files(&out.path().join("completions"));
    assert_eq!(
        completions.keys().collect::<Vec<_>>(),
        [
            "_sipkit",
            "_sipkit.ps1",
            "sipkit.bash",
            "sipkit.elv",
            "sipkit.fish"
        ]
    );
    for (name, content) in completions {
        let text = String::from_utf8(content).expect("UTF-8");
        assert!(text.contains("validate"), "{name} completes validate");
        assert!(
            !text.contains("generate"),
            "{name} must not offer the hidden generate"
        );
    }
}

/// `sipkit.1` and one page per subcommand `sipkit --help` lists (clap's own `help` excepted),
/// sorted as the directory listing is.
fn expected_man_pages() -> Vec<String> {
    let out = sipkit().arg("--help").output().expect("sipkit runs");
    let help = String::from_utf8(out.stdout).expect("help is UTF-8");
    let mut names: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A name is indented by two spaces; wrapped descriptions by more.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(|name| format!("sipkit-{name}.1"))
        .collect();
    assert!(!names.is_empty(), "no subcommands found in --help:\n{help}");
    names.push("sipkit.1".to_owned());
    names.sort();
    names
}

fn help(sub: &str) -> String {
    let out = sipkit().args([sub, "--help"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8(out.stdout).expect("utf-8 help")
}

/// Issue 15: every subcommand's --help and man page end with 3-6 examples, each a command
/// line of that subcommand.
#[test]
fn issue_15_every_subcommand_help_and_man_page_end_with_examples() {
    for sub in ["validate", "send", "decode-pcap", "listen", "invite"] {
        let text = help(sub);
        let (_, examples) = text
            .rsplit_once("\nExamples:\n")
            .unwrap_or_else(|| panic!("{sub} --help has no examples:\n{text}"));
        let runs: Vec<&str> = examples
            .lines()
            .map(str::trim)
            .filter(|l| l.contains(&format!("sipkit {sub}")))
            .collect();
        assert!((3..=6).contains(&runs.len()), "{sub}: {examples}");
        let page = fs::read_to_string(root().join(format!("man/sipkit-{sub}.1"))).expect("man");
        let section = page
            .split(".SH EXAMPLES\n")
            .nth(1)
            .expect("an EXAMPLES section");
        assert!(section.starts_with(".nf\n"), "kept as written: {section}");
        assert!(!page.contains(".SH EXTRA"), "{sub}");
    }
}

/// Issue 15: `invite --help` describes --uri and --to for INVITE (the shared text spoke of
/// REGISTER), `send --help` says what --uri does to From and To for REGISTER, and
/// `listen --help` names every method listen answers.
#[test]
fn issue_15_help_describes_each_subcommands_own_requests() {
    let invite = help("invite");
    let uri = invite
        .split("--uri <URI>")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .expect("--uri");
    assert!(!uri.contains("REGISTER") && uri.contains("INVITE"), "{uri}");
    let to = invite
        .split("--to <VALUE>")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .expect("--to");
    assert!(!to.contains("REGISTER"), "{to}");
    let send = help("send");
    let uri = send
        .split("--uri <URI>")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .expect("--uri");
    assert!(
        uri.contains("REGISTER") && uri.contains("From and To"),
        "{uri}"
    );
    let listen = help("listen");
    let about = listen
        .split("Usage:")
        .next()
        .expect("about")
        .replace('\n', " ");
    for method in [
        "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "MESSAGE", "INFO", "NOTIFY", "REGISTER",
        "PRACK", "UPDATE",
    ] {
        assert!(about.contains(method), "{method} missing from: {about}");
    }
}
