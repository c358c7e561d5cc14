//! `sipkit listen` against real tools: SIPp as a UAC placing a bounded number of calls (every
//! one must succeed), and tshark reading the --write-pcap capture. Run with
//! `cargo test -- --ignored`.

use std::process::Command;
use std::time::Duration;

use crate::support::listen::Listen;
use crate::support::tempdir;

#[test]
#[ignore = "interop: needs sipp"]
fn sipp_uac_calls_all_succeed_against_listen() {
    let mut l = Listen::start(&["--udp", "127.0.0.1:0", "--timeout", "60s"]);
    let dir = tempdir();
    let target = l.udp_target();
    let status = Command::new("timeout")
        .args([
            "90",
            "sipp",
            "-sn",
            "uac",
            &target,
            "-m",
            "500",
            "-r",
            "200",
            "-timeout",
            "60s",
            "-nostdin",
            "-trace_screen",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("running sipp");
    assert_eq!(status.code(), Some(0), "sipp reported failed calls");
    l.signal("-INT");
    assert_eq!(l.wait(Duration::from_secs(15)).code(), Some(0));
    let s = l.of("summary").pop().expect("summary").clone();
    assert_eq!(s["methods"]["INVITE"], 500);
    assert_eq!(s["methods"]["BYE"], 500);
}

#[test]
#[ignore = "interop: needs tshark"]
fn tshark_reads_the_write_pcap_capture() {
    let dir = tempdir();
    let pcap = dir.path().join("listen.pcap");
    let pcap_arg = pcap.to_str().expect("utf-8 path");
    let mut l = Listen::start(&["--count", "2", "--write-pcap", pcap_arg]);
    for target in [l.udp_target(), l.tcp_target()] {
        let out = crate::support::sipkit()
            .args(["send", "INVITE", &target, "--timeout", "5s"])
            .output()
            .expect("send");
        assert_eq!(out.status.code(), Some(0));
    }
    assert_eq!(l.wait(Duration::from_secs(15)).code(), Some(0));
    let out = Command::new("tshark")
        .args([
            "-r", pcap_arg, "-Y", "sip", "-T", "fields", "-e", "sip.CSeq",
        ])
        .output()
        .expect("running tshark");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let cseqs: Vec<&str> = text.lines().collect();
    // Per call: INVITE, 100, 180, 200, ACK; once over UDP and once over TCP.
    assert_eq!(
        cseqs.iter().filter(|c| c.ends_with("INVITE")).count(),
        8,
        "{text}"
    );
    assert_eq!(
        cseqs.iter().filter(|c| c.ends_with("ACK")).count(),
        2,
        "{text}"
    );
}
