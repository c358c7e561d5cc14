//! Helpers shared by the integration tests: a `sipkit` command with a clean, fixed environment,
//! and small files to feed it.
#![allow(dead_code)] // each case module uses a different subset

pub mod captures;
pub mod dns;
pub mod listen;
pub mod msrp_relay;
pub mod peer;
pub mod peer_process;
pub mod server_pki;
pub mod tls;
pub mod uas;

use std::path::{Path, PathBuf};

/// A valid-looking SIP request; with no parser findings it counts as valid.
pub const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.example.com>\r\n\
Content-Length: 0\r\n\
\r\n";

/// `sipkit` with an empty environment (only PATH kept, for tests that pipe through a shell)
/// and `SIPKIT_TEST=1`, so output does not depend on the developer's terminal or settings.
pub fn sipkit() -> assert_cmd::Command {
    assert_cmd::Command::from_std(std_sipkit())
}

/// The same as [`sipkit`], as a `std::process::Command` for tests that manage pipes themselves.
pub fn std_sipkit() -> std::process::Command {
    let mut cmd = std::process::Command::new(bin());
    cmd.env_clear().env("SIPKIT_TEST", "1");
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd
}

/// Path of the binary under test.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_sipkit"))
}

/// The repository root (for committed files such as `completions/`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("creating a temporary directory")
}

/// Write `content` to `dir/name` (creating parent directories) and return the path.
pub fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("creating parent directories");
    }
    std::fs::write(&path, content).expect("writing a test file");
    path
}

/// Standard output of a finished command, as text.
pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

/// Parse JSON Lines output into values, failing on any line that is not JSON.
pub fn json_lines(output: &std::process::Output) -> Vec<serde_json::Value> {
    stdout_of(output)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect()
}

/// Lowercase hex SHA-256 of `data`, as sipkit prints it.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seeded xorshift64 bytes: repeatable pseudo-random content without a rand crate.
pub fn xorshift_bytes(n: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(n);
    out
}
