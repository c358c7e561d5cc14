//! Conformance: the RFC 4475 torture tests, the RFC 5118 IPv6 messages, the bundled examples
//! and real-world captured messages, checked through the library's lint and typed API.
//! Fixtures and their provenance are under tests/fixtures/ (see each README).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sipkit::proto::sip::{self, Host, ParseOptions};
use sipkit::proto::{Finding, Severity};

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
}

fn read(dir: &str, name: &str) -> Vec<u8> {
    let p = fixtures(dir).join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn codes(findings: &[Finding], sev: Severity) -> BTreeSet<&'static str> {
    findings
        .iter()
        .filter(|f| f.severity == sev)
        .map(|f| f.error.code)
        .collect()
}

/// The diagnostic codes each RFC 4475 message must produce. For `valid` messages: no error.
/// For `invalid` and `semantic-error`: every listed code as an error. For `semantic-warning`:
/// no error, and every listed code as a warning. Verdicts come from verdicts.tsv, which quotes
/// the RFC's wording for each.
fn expected_rfc4475(file: &str) -> &'static [&'static str] {
    match file {
        "badinv01.dat" => &["sip.param.empty"],
        "clerr.dat" => &["sip.content-length.mismatch"],
        "ncl.dat" => &["sip.content-length.invalid"],
        "scalar02.dat" => &[
            "sip.cseq.range",
            "sip.max-forwards.range",
            "sip.expires.range",
            "sip.contact.expires",
        ],
        "scalarlg.dat" => &[
            "sip.cseq.range",
            "sip.retry-after.range",
            "sip.warning.code",
        ],
        "quotbal.dat" => &["sip.quoted-string.unterminated"],
        "ltgtruri.dat" => &["sip.request-uri.brackets"],
        "lwsruri.dat" => &["sip.request-uri.whitespace"],
        "lwsstart.dat" => &["sip.request-line.space"],
        "trws.dat" => &["sip.request-line.trailing-space"],
        "escruri.dat" => &["sip.request-uri.headers"],
        "baddate.dat" => &["sip.date.syntax"],
        "regbadct.dat" => &["sip.name-addr.unbracketed"],
        "badaspec.dat" => &["sip.name-addr.whitespace"],
        "baddn.dat" => &["sip.name-addr.display-name", "sip.message.truncated"],
        "badvers.dat" => &["sip.version.unsupported"],
        "mismatch01.dat" | "mismatch02.dat" => &["sip.cseq.method-mismatch"],
        "bigcode.dat" => &["sip.status-line.code"],
        "test.dat" => &[
            "sip.request-line.version",
            "sip.header.colon",
            "sip.header.missing",
        ],
        "insuf.dat" => &["sip.header.missing"],
        "unksm2.dat" => &["sip.register.to-scheme"],
        "multi01.dat" => &["sip.header.duplicate"],
        "mcl01.dat" => &["sip.content-length.conflict"],
        "bcast.dat" => &["sip.via.broadcast"],
        "sdp01.dat" => &["sip.accept.sdp"],
        "badbranch.dat" => &["sip.via.branch-cookie-only"],
        "unkscm.dat" | "novelsc.dat" => &["sip.request-uri.scheme"],
        "bext01.dat" => &["sip.option-tag.unknown"],
        "invut.dat" => &["sip.content-type.unknown"],
        "regaut01.dat" => &["sip.auth.unknown-scheme"],
        "inv2543.dat" => &[
            "sip.via.branch-missing",
            "sip.from.tag-missing",
            "sip.max-forwards.missing",
        ],
        _ => &[],
    }
}

#[test]
fn rfc4475_every_message_gets_the_rfc_verdict() {
    let tsv = String::from_utf8(read("rfc4475", "verdicts.tsv")).expect("utf-8");
    let mut seen = 0;
    let mut failures = Vec::new();
    for line in tsv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, section, verdict) = (cols[0], cols[1], cols[2]);
        let buf = read("rfc4475", file);
        let findings = sip::lint(&buf);
        let errors = codes(&findings, Severity::Error);
        let warnings = codes(&findings, Severity::Warning);
        let want = expected_rfc4475(file);
        let problem = match verdict {
            "valid" if !errors.is_empty() => Some(format!("valid but got errors {errors:?}")),
            "valid" => None,
            "invalid" | "semantic-error" => {
                let missing: Vec<_> = want.iter().filter(|c| !errors.contains(*c)).collect();
                if want.is_empty() {
                    Some("no expected code listed in the test".to_string())
                } else if !missing.is_empty() {
                    Some(format!("missing errors {missing:?}; got errors {errors:?}"))
                } else {
                    None
                }
            }
            "semantic-warning" => {
                let missing: Vec<_> = want.iter().filter(|c| !warnings.contains(*c)).collect();
                if !errors.is_empty() {
                    Some(format!("must not be an error, got {errors:?}"))
                } else if !missing.is_empty() {
                    Some(format!("missing warnings {missing:?}; got {warnings:?}"))
                } else {
                    None
                }
            }
            other => Some(format!("unknown verdict {other}")),
        };
        if let Some(p) = problem {
            failures.push(format!("{file} ({section}, {verdict}): {p}"));
        }
        for f in &findings {
            assert!(
                f.error.offset + f.error.len <= buf.len(),
                "{file}: finding {} points outside the message",
                f.error.code
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 50, "verdicts.tsv must list all 50 messages");
    assert!(
        failures.is_empty(),
        "RFC 4475 verdicts not met:\n{}",
        failures.join("\n")
    );
}

fn parse_whole(buf: &[u8]) -> sip::Message<'_> {
    match sip::parse(buf, &ParseOptions::default()) {
        Ok(s) => s.complete().expect("a datagram is never partial").0,
        Err(e) => panic!("parse failed: {e}"),
    }
}

#[test]
fn rfc4475_valid_messages_have_the_meaning_the_rfc_describes() {
    // 3.1.1.1: LWS and folding everywhere.
    let buf = read("rfc4475", "wsinv.dat");
    let m = parse_whole(&buf);
    assert_eq!(m.to_addr().expect("To").tag(), Some("1918181833n"));
    assert_eq!(m.from_addr().expect("From").tag(), Some("98asjd8"));
    assert_eq!(m.cseq().expect("CSeq").seq, 9);
    assert_eq!(m.max_forwards().expect("present").expect("valid"), 68);
    let vias: Vec<_> = m.vias().map(|v| v.expect("via")).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[1].transport, "TCP");
    assert_eq!(vias[2].branch, Some("z9hG4bK30239"));
    let contacts: Vec<_> = m.contacts().map(|c| c.expect("contact")).collect();
    assert_eq!(contacts[0].q().expect("q").expect("valid"), 330);
    // 3.1.1.4: %00 does not truncate.
    let buf = read("rfc4475", "escnull.dat");
    let m = parse_whole(&buf);
    let users: Vec<Vec<u8>> = m
        .contacts()
        .map(|c| match c.expect("contact") {
            sip::headers::Contact::Addr(a) => {
                sip::uri::unescape(a.uri.user.expect("user")).into_owned()
            }
            sip::headers::Contact::Star => Vec::new(),
        })
        .collect();
    assert_eq!(users, vec![b"\0".to_vec(), b"\0\0".to_vec()]);
    // 3.1.1.5: RE%47IST%45R is an unknown method, C%6Fntact an unknown header.
    let buf = read("rfc4475", "esc02.dat");
    let m = parse_whole(&buf);
    assert_eq!(m.method(), Some("RE%47IST%45R"));
    assert_eq!(m.contacts().count(), 2);
    // 3.1.1.8: the extra octets after Content-Length are not part of the message.
    let buf = read("rfc4475", "dblreq.dat");
    let m = parse_whole(&buf);
    assert_eq!(m.method(), Some("REGISTER"));
    assert!(m.body.is_empty());
    // 3.1.1.9: `;` in the user part.
    let buf = read("rfc4475", "semiuri.dat");
    let m = parse_whole(&buf);
    let uri = m.request_uri().expect("request").expect("valid");
    assert_eq!(uri.user, Some("user;par=u%40example.net"));
    // 3.1.1.11: multipart with a binary part framed by Content-Length.
    let buf = read("rfc4475", "mpart01.dat");
    let m = parse_whole(&buf);
    let ct = m.content_type().expect("ct").expect("valid");
    let parts =
        sip::multipart::parse(m.body, ct.param("boundary").expect("boundary")).expect("parts");
    assert_eq!(parts.len(), 2);
    // 3.3.12: without <>, `unknownparam` is a contact parameter, not a URI parameter.
    let buf = read("rfc4475", "cparam01.dat");
    let m = parse_whole(&buf);
    let Some(Ok(sip::headers::Contact::Addr(c))) = m.contacts().next() else {
        panic!("contact")
    };
    assert_eq!(c.param("unknownparam"), Some(None));
    assert_eq!(c.uri.param("unknownparam"), None);
    // 3.3.13: with <>, it is a URI parameter.
    let buf = read("rfc4475", "cparam02.dat");
    let m = parse_whole(&buf);
    let Some(Ok(sip::headers::Contact::Addr(c))) = m.contacts().next() else {
        panic!("contact")
    };
    assert_eq!(c.uri.param("unknownparam"), Some(None));
}

#[test]
fn rfc5118_ipv6_messages() {
    for entry in std::fs::read_dir(fixtures("rfc5118")).expect("dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("sip") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let buf = std::fs::read(&path).expect("read");
        let findings = sip::lint(&buf);
        let errors = codes(&findings, Severity::Error);
        if name == "ipv6-bad.sip" {
            assert!(
                errors.contains("sip.uri.ipv6-unbracketed"),
                "{name}: {errors:?}"
            );
        } else {
            assert!(errors.is_empty(), "{name}: unexpected errors {errors:?}");
        }
    }
    let buf = read("rfc5118", "port-ambiguous.sip");
    let m = parse_whole(&buf);
    let uri = m.request_uri().expect("request").expect("valid");
    assert_eq!(
        uri.host,
        Some(Host::V6("2001:db8::10:5070".parse().expect("ip")))
    );
    assert_eq!(uri.port, None);
    let buf = read("rfc5118", "port-unambiguous.sip");
    let m = parse_whole(&buf);
    assert_eq!(
        m.request_uri().expect("request").expect("valid").port,
        Some(5070)
    );
    let buf = read("rfc5118", "via-received-param-no-delim.sip");
    let m = parse_whole(&buf);
    assert_eq!(m.top_via().expect("via").received, Some("2001:db8::9:255"));
}

#[test]
fn bundled_examples_are_clean_and_the_broken_one_has_its_five_problems() {
    for name in [
        "invite.sip",
        "ok.sip",
        "register.sip",
        "options.sip",
        "message.sip",
        "invite-msrp.sip",
    ] {
        let buf = read("sip/examples", name);
        let findings = sip::lint(&buf);
        assert!(findings.is_empty(), "{name}: {findings:?}");
    }
    let buf = read("sip/examples", "broken-invite.sip");
    let findings = sip::lint(&buf);
    let all: BTreeSet<_> = findings.iter().map(|f| f.error.code).collect();
    let want: BTreeSet<_> = [
        "sip.header.missing",
        "sip.via.branch-cookie",
        "sip.max-forwards.range",
        "sip.cseq.method-mismatch",
        "sip.content-length.mismatch",
    ]
    .into_iter()
    .collect();
    assert_eq!(all, want);
}

#[test]
fn captured_messages_from_real_devices_parse_and_lint_cleanly() {
    // Messages whose devices really did break a rule, with the rule they broke.
    let known_errors = [
        ("metasploit-sip-invite-spoof-1.sip", "sip.uri.user"),
        // The phone wrote `IN IP6 [addr]`: SDP addresses take no brackets (RFC 5118 §4.6).
        ("ipv6frag-12.sip", "sdp.origin.syntax"),
        ("ipv6frag-6.sip", "sdp.origin.syntax"),
    ];
    let mut count = 0;
    for entry in std::fs::read_dir(fixtures("sip/captured")).expect("dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("sip") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let buf = std::fs::read(&path).expect("read");
        let m = parse_whole(&buf);
        // Typed access to the headers every message carries.
        m.top_via().unwrap_or_else(|e| panic!("{name}: Via: {e}"));
        m.cseq().unwrap_or_else(|e| panic!("{name}: CSeq: {e}"));
        m.call_id()
            .unwrap_or_else(|e| panic!("{name}: Call-ID: {e}"));
        let errors = codes(&sip::lint(&buf), Severity::Error);
        let allowed: BTreeSet<_> = known_errors
            .iter()
            .filter(|(f, _)| *f == name)
            .map(|(_, c)| *c)
            .collect();
        assert_eq!(errors, allowed, "{name}");
        count += 1;
    }
    assert!(
        count >= 50,
        "expected the captured corpus, found {count} files"
    );
}

/// Every fixture message that parses as a datagram.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in ["rfc4475", "rfc5118", "sip/examples", "sip/captured"] {
        let mut paths: Vec<_> = std::fs::read_dir(fixtures(dir))
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("sip" | "dat")))
            .collect();
        paths.sort();
        for p in paths {
            out.push((p.display().to_string(), std::fs::read(&p).expect("read")));
        }
    }
    out
}

#[test]
fn serialize_then_parse_gives_the_same_message_for_every_fixture() {
    let mut checked = 0;
    for (name, buf) in corpus() {
        let Ok(sipkit::proto::Status::Complete(m, _)) = sip::parse(&buf, &ParseOptions::default())
        else {
            continue;
        };
        let mut out = Vec::new();
        sip::build::serialize(&m, &mut out);
        let again = sip::parse(&out, &ParseOptions::default())
            .unwrap_or_else(|e| panic!("{name}: serialized form does not parse: {e}"))
            .complete()
            .expect("complete");
        assert_eq!(m, again.0, "{name}");
        checked += 1;
    }
    assert!(checked > 100, "only {checked} fixtures parsed");
}

#[test]
fn every_prefix_of_a_framed_fixture_is_partial_on_a_stream() {
    let opts = ParseOptions::stream();
    let mut checked = 0;
    for (name, buf) in corpus() {
        let Ok(sipkit::proto::Status::Complete(m, n)) = sip::parse(&buf, &opts) else {
            continue;
        };
        assert!(m.content_length.is_some(), "{name}");
        for i in 0..n {
            match sip::parse(&buf[..i], &opts) {
                Ok(s) if s.is_partial() => {}
                other => panic!("{name}: prefix of {i} bytes gave {other:?}"),
            }
        }
        checked += 1;
    }
    assert!(checked > 80, "only {checked} fixtures framed on a stream");
}

#[test]
fn every_truncation_of_a_message_is_reported_as_an_error() {
    for name in ["invite.sip", "ok.sip", "register.sip"] {
        let buf = read("sip/examples", name);
        for i in 0..buf.len() {
            let findings = sip::lint(&buf[..i]);
            assert!(
                findings.iter().any(|f| f.severity == Severity::Error),
                "{name} cut to {i} bytes was reported valid: {findings:?}"
            );
            for f in &findings {
                assert!(
                    f.error.offset + f.error.len <= i,
                    "{name} cut to {i}: {f:?}"
                );
            }
        }
    }
}

/// Inputs the fuzzers found where a lint pointed past the end of its input (fuzz/seeds/).
#[test]
fn issue2_lint_spans_stay_inside_fuzzer_found_inputs() {
    let cases: [(&str, &[u8]); 2] = [
        (
            "msrp",
            include_bytes!("../fixtures/fuzz/msrp-end-line-crlf-span"),
        ),
        ("sdp", include_bytes!("../fixtures/fuzz/sdp-version-span")),
    ];
    for (kind, buf) in cases {
        let findings = match kind {
            "msrp" => sipkit::proto::msrp::lint(buf),
            _ => sipkit::proto::sdp::lint(buf),
        };
        assert!(
            !findings.is_empty(),
            "{kind}: the input is broken and must be reported"
        );
        for f in findings {
            assert!(f.error.offset + f.error.len <= buf.len(), "{kind}: {f:?}");
        }
    }
}
