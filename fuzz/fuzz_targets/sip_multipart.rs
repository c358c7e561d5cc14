//! `sip::multipart::parse` on arbitrary bodies and boundaries. Input: the boundary up to the
//! first LF, then the body. It must never panic; parts must be inside the body and errors
//! must point inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipkit::proto::sip::multipart;

fuzz_target!(|data: &[u8]| {
    let (boundary, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"boundary"[..], data),
    };
    let Ok(boundary) = std::str::from_utf8(boundary) else {
        return;
    };
    match multipart::parse(body, boundary) {
        Ok(parts) => {
            let range = body.as_ptr_range();
            for p in &parts {
                let r = p.body.as_ptr_range();
                assert!(
                    r.start >= range.start && r.end <= range.end,
                    "part outside the body"
                );
                let _ = p.content_type();
            }
        }
        Err(e) => assert!(
            e.offset <= body.len() && e.offset.saturating_add(e.len) <= body.len(),
            "error {} at {}+{} outside a body of {} bytes",
            e.code,
            e.offset,
            e.len,
            body.len()
        ),
    }
});
