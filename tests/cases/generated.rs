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
