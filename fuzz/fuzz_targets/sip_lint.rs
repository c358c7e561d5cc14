//! `sip::lint` on arbitrary bytes: it must never panic, and every finding must point at bytes
//! inside the linted buffer (`validate` prints a snippet of them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipkit::proto::sip::lint;

fuzz_target!(|data: &[u8]| {
    for f in lint(data) {
        let e = &f.error;
        assert!(
            e.offset <= data.len() && e.offset.saturating_add(e.len) <= data.len(),
            "finding {} at {}+{} outside a buffer of {} bytes",
            e.code,
            e.offset,
            e.len,
            data.len()
        );
        assert!(!e.code.is_empty() && !e.message.is_empty());
    }
});
