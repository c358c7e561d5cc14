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
    assert_eq!(
        names,
        ["sipkit-decode-pcap.1", "sipkit-validate.1", "sipkit.1"]
    );
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
