//! decode-pcap's tolerant dissection (issue 14): the framing `Decoder` (through
//! `sipkit::fuzzing`) and `sip::parse_tolerant` on any bytes.
//!
//! Input: `sel`, then `sel & 7` cut bytes, then (when `sel & 0x08`) one byte choosing a lost
//! segment, then the payload. Each cut byte is the length of one TCP segment (the last segment
//! takes the rest); the lost segment is that byte modulo the number of segments. `sel & 0x10`
//! sets a 64-byte `--max-stream-buffer`; `sel & 0x20` marks the datagram as cut by the
//! snapshot length.
//!
//! Checked, for every input:
//! 1. No panic (anywhere below).
//! 2. `parse_tolerant` under `End::Datagram`, `Open` and `Closed` (with the decoder's own
//!    next-start search): `Partial` only under `Open`; `Complete(t, n)` has `0 < n <= len`,
//!    `t.consumed == n`, and every finding's `offset + len <= n` (inside the message or at
//!    its end); an error's span lies inside the buffer.
//! 3. The payload as one datagram. If it does not begin, after CR/LF, with a start line, the
//!    decoder reports nothing. Otherwise the events tile it: walking from byte 0, skip CR/LF
//!    (keep-alives), then the next event takes the next bytes: a message exactly its `raw`
//!    (handed out as a slice of the datagram at that offset), a `Dropped` its count (and it is
//!    the last event), and a message's `sip.content-length.trailing` finding the bytes from
//!    its offset to the end of the datagram (only CR/LF between the message and it; the last
//!    event). After the last event only CR/LF remains. So message bytes + keep-alive CR/LF +
//!    dropped + trailing == the datagram's length.
//! 4. The payload as a TCP stream cut at the cut points, one segment possibly lost, then
//!    closed. "Delivered" is the bytes of the segments that were not lost, in order. If no
//!    message was handed out, the dropped counts add up to at most the delivered length (a
//!    stream that never carried SIP or MSRP is passed over silently). Otherwise, with `p` the
//!    offset of the first message in the delivered bytes:
//!    - before it: the `Dropped` events before the first message add up to at least the
//!      number of delivered bytes before `p` that are not CR or LF, and at most all of them
//!      (every byte that is not a keep-alive is counted, once);
//!    - from `p` on, the events tile the rest exactly as in 3 (CR/LF runs between events are
//!      keep-alives; a message's bytes are the delivered bytes at that point; a message
//!      handed out as a slice of the input is at that input offset), no message spans the
//!      lost segment, and after the last event only CR/LF remains.
//! 5. Every message's findings lie inside it or at its end; every message handed out parses
//!    again alone to the same message (`framing::reparse`, which the parallel printer uses).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipkit::fuzzing::{self, Event, Span, TRAILING};
use sipkit::proto::Status;
use sipkit::proto::sip::{End, parse_tolerant};

fn crlf(c: u8) -> bool {
    c == b'\r' || c == b'\n'
}

fn skip_crlf(b: &[u8], mut at: usize) -> usize {
    while at < b.len() && crlf(b[at]) {
        at += 1;
    }
    at
}

fn check_tolerant(buf: &[u8]) {
    for end in [End::Datagram, End::Open, End::Closed] {
        match parse_tolerant(buf, end, &fuzzing::next_start) {
            Ok(Status::Complete(t, n)) => {
                assert!(
                    n > 0 && n <= buf.len(),
                    "{end:?}: consumed {n} of {}",
                    buf.len()
                );
                assert_eq!(t.consumed, n);
                for f in &t.findings {
                    let e = &f.error;
                    assert!(
                        e.offset.saturating_add(e.len) <= n,
                        "{end:?}: finding {} at {}+{} outside a message of {n} bytes",
                        e.code,
                        e.offset,
                        e.len
                    );
                }
            }
            Ok(Status::Partial) => assert_eq!(end, End::Open, "Partial under {end:?}"),
            Err(e) => assert!(
                e.offset.saturating_add(e.len) <= buf.len(),
                "{end:?}: error {} at {}+{} outside a buffer of {}",
                e.code,
                e.offset,
                e.len,
                buf.len()
            ),
        }
    }
}

/// Findings other than the trailing-bytes one lie inside the message or at its end.
fn check_message(raw: &[u8], findings: &[Span], reparses: bool) {
    assert!(!raw.is_empty(), "empty message");
    assert!(reparses, "message does not parse again alone: {raw:?}");
    for f in findings.iter().filter(|f| f.code != TRAILING) {
        assert!(
            f.offset.saturating_add(f.len) <= raw.len(),
            "finding {} at {}+{} outside a message of {} bytes: {:?}",
            f.code,
            f.offset,
            f.len,
            raw.len(),
            String::from_utf8_lossy(raw)
        );
    }
}

fn check_datagram(data: &[u8], snapped: usize) {
    let events = fuzzing::decode_datagram(data, snapped);
    let first = skip_crlf(data, 0);
    if !fuzzing::starts_message(&data[first..]) {
        assert!(
            events.is_empty(),
            "events for a datagram without a start line"
        );
        return;
    }
    let mut cur = 0;
    let mut done = false;
    for ev in &events {
        assert!(!done, "an event after the datagram's end was reached");
        cur = skip_crlf(data, cur);
        match ev {
            Event::Message {
                at,
                raw,
                findings,
                reparses,
                ..
            } => {
                assert_eq!(*at, Some(cur), "message not at the walk's offset");
                assert_eq!(&data[cur..cur + raw.len()], &raw[..]);
                check_message(raw, findings, *reparses);
                cur += raw.len();
                let trailing: Vec<&Span> = findings.iter().filter(|f| f.code == TRAILING).collect();
                assert!(trailing.len() <= 1);
                if let Some(t) = trailing.first() {
                    let from = cur - raw.len() + t.offset;
                    assert!(from >= cur, "trailing bytes inside the message");
                    assert!(data[cur..from].iter().all(|&c| crlf(c)));
                    assert_eq!(
                        from + t.len,
                        data.len(),
                        "trailing bytes do not reach the end"
                    );
                    cur = data.len();
                    done = true;
                }
            }
            Event::Dropped { bytes } => {
                assert!(cur + bytes <= data.len(), "dropped past the end");
                cur += bytes;
                done = true;
            }
        }
    }
    assert_eq!(
        skip_crlf(data, cur),
        data.len(),
        "datagram bytes not accounted for: {events:?}"
    );
}

fn check_stream(data: &[u8], cuts: &[usize], lost: Option<usize>, max: usize) {
    let events = fuzzing::decode_stream(data, cuts, lost, max);
    // The delivered bytes and, for each, its offset in the input.
    let mut delivered = Vec::with_capacity(data.len());
    let mut index = Vec::with_capacity(data.len());
    let mut gap_at = None;
    for (i, seg) in fuzzing::segments(data.len(), cuts).into_iter().enumerate() {
        if lost == Some(i) {
            if !seg.is_empty() {
                gap_at = Some(delivered.len());
            }
            continue;
        }
        delivered.extend_from_slice(&data[seg.clone()]);
        index.extend(seg);
    }
    let Some(first) = events
        .iter()
        .position(|e| matches!(e, Event::Message { .. }))
    else {
        let dropped: usize = events
            .iter()
            .map(|e| match e {
                Event::Dropped { bytes } => *bytes,
                Event::Message { .. } => 0,
            })
            .sum();
        assert!(dropped <= delivered.len());
        return;
    };
    let pre: usize = events[..first]
        .iter()
        .map(|e| match e {
            Event::Dropped { bytes } => *bytes,
            Event::Message { .. } => 0,
        })
        .sum();
    let Event::Message { at, raw, .. } = &events[first] else {
        unreachable!()
    };
    // Where the first message is: the one place its bytes are at which the rest tiles.
    let mut why = String::from("the first message's bytes are not in the delivered stream");
    for p in 0..delivered.len() {
        if !delivered[p..].starts_with(raw) || at.is_some_and(|a| index[p] != a) {
            continue;
        }
        let non_crlf = delivered[..p].iter().filter(|&&c| !crlf(c)).count();
        if pre < non_crlf || pre > p {
            why = format!(
                "{pre} bytes dropped before a first message at {p} ({non_crlf} not CR/LF): \
                 {events:?}"
            );
            continue;
        }
        match walk(&delivered, &index, gap_at, p, &events[first..]) {
            Ok(()) => return,
            Err(e) => why = e,
        }
    }
    panic!("stream bytes not accounted for: {why}");
}

/// The events from the first message on tile `d[from..]` (module doc, 4).
fn walk(
    d: &[u8],
    index: &[usize],
    gap_at: Option<usize>,
    from: usize,
    events: &[Event],
) -> Result<(), String> {
    let mut cur = from;
    for ev in events {
        cur = skip_crlf(d, cur);
        match ev {
            Event::Message {
                at,
                raw,
                findings,
                reparses,
                ..
            } => {
                if !d[cur..].starts_with(raw) {
                    return Err(format!(
                        "message at {cur} is not the bytes there: {events:?}"
                    ));
                }
                if at.is_some_and(|a| index[cur] != a) {
                    return Err(format!("message at {cur} handed out from elsewhere"));
                }
                if gap_at.is_some_and(|g| cur < g && g < cur + raw.len()) {
                    return Err(format!("message at {cur} spans the lost segment"));
                }
                check_message(raw, findings, *reparses);
                if findings.iter().any(|f| f.code == TRAILING) {
                    return Err("trailing-bytes finding on a stream".into());
                }
                cur += raw.len();
            }
            Event::Dropped { bytes } => {
                if cur + bytes > d.len() {
                    return Err(format!(
                        "{bytes} dropped at {cur}, past the end: {events:?}"
                    ));
                }
                cur += bytes;
            }
        }
    }
    if skip_crlf(d, cur) != d.len() {
        return Err(format!(
            "bytes {cur}.. of {} not accounted for: {events:?}",
            d.len()
        ));
    }
    Ok(())
}

fuzz_target!(|input: &[u8]| {
    let Some((&sel, rest)) = input.split_first() else {
        return;
    };
    let ncuts = usize::from(sel & 7);
    let lose = sel & 0x08 != 0;
    let head = ncuts + usize::from(lose);
    if rest.len() < head {
        return;
    }
    let (head, data) = rest.split_at(head);
    let mut cuts = Vec::with_capacity(ncuts);
    let mut at = 0usize;
    for &len in &head[..ncuts] {
        at += usize::from(len);
        cuts.push(at);
    }
    let lost = lose.then(|| usize::from(head[ncuts]) % (ncuts + 1));
    let max = if sel & 0x10 != 0 { 64 } else { 1 << 20 };
    let snapped = usize::from(sel & 0x20 != 0);

    check_tolerant(data);
    check_datagram(data, snapped);
    check_stream(data, &cuts, lost, max);
});
