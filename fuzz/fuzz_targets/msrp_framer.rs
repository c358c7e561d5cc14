//! Pending the MSRP merge (enable in fuzz/Cargo.toml once `proto::msrp::Framer` is on main).
//!
//! The streaming `msrp::Framer` fed the input in reads of a size chosen by the first byte, as
//! `listen` feeds it from a socket: it must never panic, never ask to consume more than the
//! buffer holds, and always make progress (no busy loop without consuming or asking for more).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipkit::proto::msrp::{Frame, Framer, FramerOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, stream)) = data.split_first() else {
        return;
    };
    let read = usize::from(sel % 64) + 1;
    // A small head limit so the "head too large" path is reachable too.
    let max_head = if sel & 0x80 != 0 { 256 } else { 64 * 1024 };
    let mut framer = Framer::new(FramerOptions { max_head });
    let mut buf: Vec<u8> = Vec::new();
    let mut steps = 0usize;
    let limit = 4 * stream.len() + 64;
    for chunk in stream.chunks(read) {
        buf.extend_from_slice(chunk);
        loop {
            steps += 1;
            assert!(steps <= limit, "framer loops without progress");
            let frame = match framer.decode(&buf) {
                Ok(f) => f,
                Err(e) => {
                    assert!(e.offset <= buf.len(), "error offset outside the buffer");
                    return;
                }
            };
            let n = frame.consumed();
            assert!(n <= buf.len(), "consume {n} of {}", buf.len());
            if let Frame::Body(b) = &frame {
                assert!(!b.is_empty(), "empty Body frame");
            }
            let need_more = matches!(frame, Frame::NeedMore);
            // The frame borrows `buf`; end that before consuming.
            drop(frame);
            if need_more {
                break;
            }
            buf.drain(..n);
        }
    }
    let _ = framer.at_message_boundary();
    let _ = framer.scanned();
});
