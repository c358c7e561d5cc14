//! Pending the SDP merge (enable in fuzz/Cargo.toml once `proto::sdp::parse` is on main).
//!
//! `sdp::parse` and `sdp::lint` on arbitrary bytes under every leniency: never panic, errors
//! and findings point inside the buffer, and the typed attribute accessors are safe to call
//! on whatever parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipkit::proto::ParseError;
use sipkit::proto::sdp;

fuzz_target!(|data: &[u8]| {
    for f in sdp::lint(data) {
        in_bounds(&f.error, data.len(), "finding");
    }
    match sdp::parse(data) {
        Err(e) => in_bounds(&e, data.len(), "parse error"),
        Ok(sd) => {
            let _ = sd.direction();
            for m in &sd.media {
                let _ = sd.direction_of(m);
                let _ = m.is_msrp();
                let _ = m.rtpmaps().count();
                let _ = m.fmtps().count();
                let _ = m.path();
                let _ = m.accept_types();
                let _ = m.accept_wrapped_types();
                let _ = m.max_size();
                let _ = m.setup();
                let _ = m.connection_mode();
                let _ = m.file_selector();
                let _ = m.file_transfer_id();
                let _ = m.file_disposition();
                let _ = m.file_date();
                let _ = m.file_range();
                let _ = m.file_icon();
            }
        }
    }
    for bits in 0u8..16 {
        let opts = sdp::ParseOptions {
            allow_bare_lf: bits & 1 != 0,
            allow_missing_final_eol: bits & 2 != 0,
            trim_trailing_whitespace: bits & 4 != 0,
            allow_bracketed_origin_ipv6: bits & 8 != 0,
        };
        if let Err(e) = sdp::parse_with(data, opts) {
            in_bounds(&e, data.len(), "parse error");
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
