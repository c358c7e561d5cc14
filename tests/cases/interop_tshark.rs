//! decode-pcap against the reference dissector: on every capture in tests/fixtures/pcap, the SIP
//! messages sipkit lists (frame, method or status, Call-ID, CSeq, From tag, To tag) must be the
//! ones tshark lists with `tshark -n -r FILE -Y sip -T fields -e frame.number -e sip.Method
//! -e sip.Status-Code -e sip.Call-ID -e sip.CSeq -e sip.from.tag -e sip.to.tag`, malformed
//! messages included (issue 14), except where tshark is demonstrably wrong (each case in
//! `TSHARK_WRONG`).
//!
//! One rule is not an exception but the design: where a CSeq, From or To does not parse,
//! tshark reads what it can and sipkit shows `null` with a diagnostic naming the error (a
//! lenient reading must not turn into a wrong answer). Such a field is compared only when
//! sipkit parsed it; the message itself, its frame, method or status and Call-ID still are.
//!
//! Ignored by default (needs tshark); `.ci/run` installs tshark and runs `cargo test -- --ignored`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{json_lines, root, sipkit};

/// What one frame carries: methods, status codes and Call-IDs, each sorted, because tshark
/// joins the values of several messages in one frame per field and loses which went together.
#[derive(Debug, Default, PartialEq, Eq, Clone)]
struct Frame {
    methods: Vec<String>,
    statuses: Vec<String>,
    call_ids: Vec<String>,
    cseqs: Vec<String>,
    from_tags: Vec<String>,
    to_tags: Vec<String>,
}

impl Frame {
    fn sort(&mut self) {
        for v in [
            &mut self.methods,
            &mut self.statuses,
            &mut self.call_ids,
            &mut self.cseqs,
            &mut self.from_tags,
            &mut self.to_tags,
        ] {
            v.sort();
        }
    }
}

type Listing = BTreeMap<u64, Frame>;

/// Frames where tshark's answer is wrong, with the reason; checked to still differ, so a fixed
/// tshark (or a regression of ours that happens to agree) is noticed.
const TSHARK_WRONG: &[(&str, u64, &str)] = &[];

/// Captures in a format decode-pcap does not read (tshark does): sipkit must refuse them with
/// exit 2 and an error naming the format, instead of listing nothing.
const NOT_PCAP: &[(&str, &str)] = &[("c07-sip-r2.cap", "Microsoft NetMon")];

fn captures() -> Vec<PathBuf> {
    let dir = root().join("tests/fixtures/pcap");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "cap" | "gz")
            )
        })
        .collect();
    files.sort();
    files
}

fn tshark(file: &Path) -> Option<Listing> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(["-Y", "sip", "-T", "fields"])
        .args([
            "-e",
            "frame.number",
            "-e",
            "sip.Method",
            "-e",
            "sip.Status-Code",
        ])
        .args(["-e", "sip.Call-ID", "-e", "sip.CSeq", "-e", "sip.from.tag"])
        .args([
            "-e",
            "sip.to.tag",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=|",
        ])
        .output()
        .expect("tshark runs (install the tshark package)");
    if !out.status.success() {
        // Not a capture tshark can read either (the NetMon file is, for tshark).
        return None;
    }
    let split = |s: &str| -> Vec<String> {
        let mut v: Vec<String> = s
            .split('|')
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    };
    let mut listing = Listing::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let [
            frame,
            methods,
            statuses,
            call_ids,
            cseqs,
            from_tags,
            to_tags,
        ] = cols[..]
        else {
            panic!("unexpected tshark line {line:?}");
        };
        listing.insert(
            frame.parse().expect("frame number"),
            Frame {
                methods: split(methods),
                statuses: split(statuses),
                call_ids: split(call_ids),
                cseqs: split(cseqs)
                    .into_iter()
                    .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect(),
                from_tags: split(from_tags),
                to_tags: split(to_tags),
            },
        );
    }
    Some(listing)
}

/// sipkit's listing, and the fields it left `null` with a diagnostic per frame (those are not
/// compared: see the module comment).
fn sipkit_listing(file: &Path) -> (Listing, BTreeMap<u64, Vec<&'static str>>) {
    let out = sipkit()
        .args(["decode-pcap", "--format", "json"])
        .arg(file)
        .output()
        .expect("sipkit runs");
    let mut listing = Listing::new();
    let mut unparsed: BTreeMap<u64, Vec<&'static str>> = BTreeMap::new();
    for v in json_lines(&out) {
        if v["type"] != "message" || v["protocol"] != "sip" {
            continue;
        }
        let frame = v["frame"].as_u64().expect("frame number");
        let diagnosed = v["diagnostics"].as_array().is_some_and(|d| !d.is_empty());
        let header = |name: &str| {
            v["headers"].as_array().is_some_and(|h| {
                h.iter().any(|h| {
                    h["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
            })
        };
        for (field, key, long, short) in [
            ("cseq", "cseq", "CSeq", "CSeq"),
            ("from", "from", "From", "f"),
            ("to", "to", "To", "t"),
        ] {
            if v[key].is_null() && (header(long) || header(short)) {
                assert!(
                    diagnosed,
                    "{}: frame {frame}: {field} is null without a diagnostic",
                    file.display()
                );
                unparsed.entry(frame).or_default().push(field);
            }
        }
        let entry = listing.entry(frame).or_default();
        if let Some(c) = v["cseq"].as_object() {
            entry.cseqs.push(format!(
                "{} {}",
                c["seq"],
                c["method"].as_str().unwrap_or_default()
            ));
        }
        for (key, tags) in [("from", &mut entry.from_tags), ("to", &mut entry.to_tags)] {
            if let Some(t) = v[key]["tag"].as_str() {
                tags.push(t.to_owned());
            }
        }
        if let Some(m) = v["method"].as_str().filter(|_| v["status"].is_null()) {
            entry.methods.push(m.to_owned());
        }
        if let Some(s) = v["status"].as_u64() {
            entry.statuses.push(s.to_string());
        }
        if let Some(c) = v["call_id"].as_str() {
            entry.call_ids.push(c.to_owned());
        }
    }
    for f in listing.values_mut() {
        f.sort();
    }
    (listing, unparsed)
}

#[test]
#[ignore = "interop: needs tshark"]
fn interop_decode_pcap_lists_the_sip_messages_tshark_lists() {
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut diagnosed = 0;
    let mut messages = 0;
    for file in captures() {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if let Some((_, format)) = NOT_PCAP.iter().find(|(n, _)| *n == name) {
            let out = sipkit()
                .arg("decode-pcap")
                .arg(&file)
                .output()
                .expect("sipkit runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
            assert!(stderr.contains(format), "{name}: {stderr}");
            continue;
        }
        let Some(reference) = tshark(&file) else {
            continue;
        };
        compared += 1;
        let (ours, unparsed) = sipkit_listing(&file);
        let mut reference = reference;
        for (frame, fields) in &unparsed {
            // Fields sipkit diagnosed instead of guessing: take tshark's reading out too.
            if let (Some(t), Some(o)) = (reference.get_mut(frame), ours.get(frame)) {
                for f in fields {
                    match *f {
                        "cseq" => t.cseqs.clone_from(&o.cseqs),
                        "from" => t.from_tags.clone_from(&o.from_tags),
                        _ => t.to_tags.clone_from(&o.to_tags),
                    }
                }
            }
            diagnosed += fields.len();
        }
        messages += ours
            .values()
            .map(|f| f.methods.len() + f.statuses.len())
            .sum::<usize>();
        let frames: std::collections::BTreeSet<u64> =
            reference.keys().chain(ours.keys()).copied().collect();
        for frame in frames {
            let (theirs, mine) = (reference.get(&frame), ours.get(&frame));
            let excused = TSHARK_WRONG
                .iter()
                .any(|(f, n, _)| *f == name && *n == frame);
            if excused {
                assert_ne!(
                    theirs, mine,
                    "{name} frame {frame}: listed as tshark-wrong but agrees"
                );
                continue;
            }
            if theirs != mine {
                let mut line = format!("{name} frame {frame}: tshark {theirs:?}, sipkit {mine:?}");
                line.truncate(400);
                failures.push(line);
            }
        }
    }
    assert!(compared >= 25, "only {compared} captures compared");
    eprintln!(
        "{compared} captures, {messages} SIP messages compared; {diagnosed} fields sipkit \
         diagnosed instead of reading"
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Issue 14: captures built by the test support (pcapng with custom, journal and other
/// non-packet blocks; LINKTYPE_PPP) list the same frames as tshark.
#[test]
#[ignore = "interop: needs tshark"]
fn interop_issue_14_frame_numbers_and_ppp_match_tshark() {
    let dir = crate::support::tempdir();
    for (name, bytes) in [
        (
            "blocks.pcapng",
            crate::support::captures::pcapng_with_other_blocks(),
        ),
        ("ppp.pcap", crate::support::captures::ppp_capture()),
    ] {
        let file = crate::support::write(dir.path(), name, bytes);
        let theirs = tshark(&file).unwrap_or_else(|| panic!("tshark reads {name}"));
        assert!(!theirs.is_empty(), "{name}: tshark lists nothing");
        assert_eq!(sipkit_listing(&file).0, theirs, "{name}");
    }
}
