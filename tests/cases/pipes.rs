//! Standard streams: a reader that goes away early, and hostile bytes on standard input.

use std::process::Stdio;

use crate::support::{sipkit, std_sipkit, tempdir, write};

/// Many diagnostics: the same empty (invalid) file named `n` times.
fn noisy_args(dir: &std::path::Path, n: usize) -> Vec<std::path::PathBuf> {
    let empty = write(dir, "empty.sip", "");
    vec![empty; n]
}

#[test]
fn closed_stdout_exits_0_silently() {
    let dir = tempdir();
    for format in ["human", "json", "github"] {
        let mut child = std_sipkit()
            .args(["validate", "--format", format])
            .args(noisy_args(dir.path(), 2000))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        // Close our end of the pipe: every write of the child fails with EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("finishes");
        assert_eq!(out.status.code(), Some(0), "format {format}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "format {format}: nothing on stderr"
        );
    }
}

#[cfg(unix)]
#[test]
fn piping_into_head_exits_0() {
    let dir = tempdir();
    let args: Vec<String> = noisy_args(dir.path(), 2000)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    // POSIX sh has no pipefail: the left side of the pipe writes its own status to a file.
    let status_file = dir.path().join("status");
    let script = format!(
        "({bin} validate {args}; echo $? > {status}) | head -1 >/dev/null",
        bin = crate::support::bin().display(),
        args = args.join(" "),
        status = status_file.display()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("sh runs");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let status = std::fs::read_to_string(&status_file).expect("status written");
    assert_eq!(status.trim(), "0");
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn random_bytes_on_stdin_never_panic() {
    // Bytes that matter to the grammars are drawn more often than the rest.
    const INTERESTING: &[u8] = b"\r\n :;,=<>\"@/-#$+*\\\t0123456789MSRPSIPv=m=";
    let prefixes: [&[u8]; 5] = [b"", b"MSRP ", b"v=", b"INVITE sip:", b"SIP/2.0 "];
    let mut rng = Lcg(0x5eed);
    for case in 0..40 {
        let len = (rng.next() % 600) as usize;
        let mut input = prefixes[case % prefixes.len()].to_vec();
        for _ in 0..len {
            let r = rng.next();
            input.push(if r % 3 == 0 {
                (r >> 8) as u8
            } else {
                INTERESTING[(r >> 8) as usize % INTERESTING.len()]
            });
        }
        for kind in [None, Some("sip"), Some("sdp"), Some("msrp")] {
            let mut cmd = sipkit();
            cmd.args(["validate", "--format", "json", "-"]);
            if let Some(kind) = kind {
                cmd.args(["--kind", kind]);
            }
            let out = cmd.write_stdin(input.clone()).output().expect("runs");
            let code = out.status.code();
            assert!(
                matches!(code, Some(0 | 1)),
                "case {case}, kind {kind:?}: exit {code:?}\ninput: {:?}\nstderr: {}",
                String::from_utf8_lossy(&input),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
