//! Proof that framing a SIP message and reading its Via, From, To, Call-ID, CSeq and
//! Content-Length never touches the heap for messages of up to 32 header fields, the promise
//! `message.rs` makes and the throughput target depends on.
//!
//! A counting global allocator (pass-through to the system allocator) counts per thread, so
//! tests running in parallel on other threads do not disturb the count.
#![allow(unsafe_code)] // a GlobalAlloc impl cannot be written without `unsafe`; test-only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use super::message::{Message, ParseOptions, parse};
use crate::proto::Status;

thread_local! {
    // `const` initialisation and a `Cell<usize>` (no destructor): touching it never allocates,
    // so the allocator can use it without recursing into itself.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with` fails only while the thread is being torn down; nothing is measured then.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

struct CountingAllocator;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// GlobalAlloc contract; the only addition is a counter update that does not allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's guarantees on `layout` are passed through to `System`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: `ptr` was allocated by `System` (every allocation goes through this type)
        // with `layout`; the caller guarantees `new_size` is valid.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Run `f` and return its result with the number of heap allocations it made on this thread.
fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = f();
    let after = ALLOCATIONS.with(Cell::get);
    (r, after - before)
}

/// Frame `buf` and read every header a proxy needs, as typed values; returns a checksum so the
/// work cannot be skipped.
fn parse_and_read(buf: &[u8]) -> usize {
    let Ok(Status::Complete(msg, consumed)) = parse(buf, &ParseOptions::default()) else {
        panic!("fixture must parse");
    };
    read_typed(&msg) + consumed
}

fn read_typed(msg: &Message<'_>) -> usize {
    let via = msg.top_via().expect("Via");
    let from = msg.from_addr().expect("From");
    let to = msg.to_addr().expect("To");
    let call_id = msg.call_id().expect("Call-ID");
    let cseq = msg.cseq().expect("CSeq");
    let cl = msg.content_length.expect("Content-Length");
    via.branch.map_or(0, str::len)
        + from.tag().map_or(0, str::len)
        + to.uri.host_raw.len()
        + call_id.len()
        + cseq.seq as usize
        + cl
}

const INVITE: &[u8] = include_bytes!("../../../tests/fixtures/sip/examples/invite.sip");
const OK: &[u8] = include_bytes!("../../../tests/fixtures/sip/examples/ok.sip");

/// A request with exactly `n` header fields (7 that a proxy reads, the rest extension headers).
fn message_with_headers(n: usize) -> Vec<u8> {
    assert!(n >= 7);
    let mut m = b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;rport\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 63104 OPTIONS\r\n"
        .to_vec();
    for i in 0..n - 7 {
        m.extend_from_slice(format!("X-Extension-{i}: value {i}\r\n").as_bytes());
    }
    m.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    m
}

#[test]
fn the_counter_sees_allocations() {
    // Without this, a broken counter would make every other test pass vacuously.
    let (v, n) = allocations(|| std::hint::black_box(vec![1u8, 2, 3]));
    assert_eq!(v.len(), 3);
    assert_eq!(n, 1);
}

#[test]
fn invite_with_sdp_parses_without_allocating() {
    let (sum, n) = allocations(|| parse_and_read(std::hint::black_box(INVITE)));
    assert!(sum > 0);
    assert_eq!(
        n, 0,
        "parse + typed access of invite.sip allocated {n} times"
    );
}

#[test]
fn ok_with_sdp_parses_without_allocating() {
    let (sum, n) = allocations(|| parse_and_read(std::hint::black_box(OK)));
    assert!(sum > 0);
    assert_eq!(n, 0, "parse + typed access of ok.sip allocated {n} times");
}

#[test]
fn thirty_two_header_fields_parse_without_allocating() {
    let buf = message_with_headers(32);
    let (headers, n) = allocations(|| {
        let Ok(Status::Complete(msg, _)) = parse(&buf, &ParseOptions::default()) else {
            panic!("must parse");
        };
        assert!(read_typed(&msg) > 0);
        (msg.headers.len(), msg.headers.spilled())
    });
    assert_eq!(headers, (32, false));
    assert_eq!(n, 0, "a 32-header message allocated {n} times");
}

#[test]
fn the_33rd_header_field_moves_to_the_heap() {
    // The bound is real: one header more and the header list spills (once).
    let buf = message_with_headers(33);
    let (headers, n) = allocations(|| {
        let Ok(Status::Complete(msg, _)) = parse(&buf, &ParseOptions::default()) else {
            panic!("must parse");
        };
        (msg.headers.len(), msg.headers.spilled())
    });
    assert_eq!(headers, (33, true));
    assert_eq!(n, 1);
}

const MSRP_SEND: &[u8] = include_bytes!("../../../tests/fixtures/msrp/send.msrp");

#[test]
fn msrp_send_with_a_2k_chunk_parses_without_allocating() {
    let (sum, n) = allocations(|| {
        let Ok(Status::Complete(msg, consumed)) = crate::proto::msrp::parse(MSRP_SEND) else {
            panic!("fixture must parse");
        };
        let h = &msg.headers;
        let to = h.to_path().expect("To-Path").len();
        let from = h.from_path().expect("From-Path").len();
        let id = h.message_id().expect("Message-ID").map_or(0, str::len);
        let range = h.byte_range().expect("Byte-Range").map_or(0, |r| r.start);
        consumed + to + from + id + range as usize + msg.body.map_or(0, <[u8]>::len)
    });
    assert!(sum > 2048);
    assert_eq!(n, 0, "parsing an MSRP SEND allocated {n} times");
}
