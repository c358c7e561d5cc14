//! Pending the MSRP merge (enable in fuzz/Cargo.toml once `proto::msrp::parse` is on main).
//!
//! `msrp::parse` and `msrp::lint` on arbitrary bytes: never panic, errors and findings point
//! inside the buffer, every prefix of a complete message is `Partial`, and a parsed message
//! writes back byte for byte (`write_to` promises that).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipkit::proto::msrp;
use sipkit::proto::{ParseError, Status};

fuzz_target!(|data: &[u8]| {
    // Declared before the message so the re-parsed copy may borrow it as long as `m` lives.
    let mut out = Vec::new();
    for f in msrp::lint(data) {
        in_bounds(&f.error, data.len(), "finding");
    }
    match msrp::parse(data) {
        Err(e) => in_bounds(&e, data.len(), "parse error"),
        Ok(Status::Partial) => {}
        Ok(Status::Complete(m, n)) => {
            assert!(n > 0 && n <= data.len());
            let _ = (m.is_request(), m.method());
            let step = (n / 64).max(1);
            for k in (0..n).step_by(step) {
                let r = msrp::parse(&data[..k]);
                assert!(
                    matches!(r, Ok(Status::Partial)),
                    "prefix of {k}/{n} gave {r:?}"
                );
            }
            m.write_to(&mut out);
            match msrp::parse(&out) {
                Ok(Status::Complete(again, n2)) => {
                    assert_eq!(n2, out.len());
                    assert_eq!(m, again, "round trip changed the message");
                }
                other => panic!("written message does not parse: {other:?}"),
            }
        }
    }
});

fn in_bounds(e: &ParseError, len: usize, what: &str) {
    assert!(
        e.offset <= len && e.offset.saturating_add(e.len) <= len,
        "{what} {} at {}+{} outside a buffer of {len} bytes",
        e.code,
        e.offset,
        e.len
    );
}
