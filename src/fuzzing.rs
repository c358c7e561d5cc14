//! Hooks for the fuzz targets in `fuzz/` (not a stable API): they reach code the library keeps
//! private, such as decode-pcap's framing, through here. Nothing in the program calls this
//! module, so it costs the decode path nothing.

use std::net::{Ipv4Addr, SocketAddr};

use crate::capture::{Framing, Notice, Payload, Sink, StreamId, Timestamp, Transport};
use crate::commands::decode_pcap::framing::{self, Decoded, Decoder, Dropped, Handler, Meta};

/// A finding's code and span, relative to its message's first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub code: &'static str,
    pub offset: usize,
    pub len: usize,
}

/// The code of the finding that names bytes after a datagram's last body.
pub const TRAILING: &str = "sip.content-length.trailing";

/// What the decoder handed its handler, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Message {
        /// Where `raw` starts in the input, when the decoder handed out a slice of it (a
        /// datagram, or a stream message read straight from one segment); `None` when it was
        /// read from the stream's own buffer.
        at: Option<usize>,
        raw: Vec<u8>,
        /// SIP (true) or MSRP.
        sip: bool,
        findings: Vec<Span>,
        /// `framing::reparse` of `raw` gives the same message (the parallel printer relies on
        /// it).
        reparses: bool,
    },
    Dropped {
        bytes: usize,
    },
}

struct Recorder {
    base: usize,
    len: usize,
    events: Vec<Event>,
}

impl Handler for Recorder {
    fn message(&mut self, meta: &Meta<'_>, msg: &Decoded<'_>, raw: &[u8]) {
        let p = raw.as_ptr() as usize;
        let at = (p >= self.base && p + raw.len() <= self.base + self.len).then(|| p - self.base);
        let reparses = framing::reparse(raw, meta.stream)
            .is_some_and(|again| format!("{again:?}") == format!("{msg:?}"));
        self.events.push(Event::Message {
            at,
            raw: raw.to_vec(),
            sip: matches!(msg, Decoded::Sip(_)),
            findings: meta
                .diagnostics
                .iter()
                .map(|f| Span {
                    code: f.error.code,
                    offset: f.error.offset,
                    len: f.error.len,
                })
                .collect(),
            reparses,
        });
    }
    fn dropped(&mut self, d: &Dropped) {
        self.events.push(Event::Dropped { bytes: d.bytes });
    }
    fn notice(&mut self, _: &Notice) {}
}

fn recorder(input: &[u8]) -> Recorder {
    Recorder {
        base: input.as_ptr() as usize,
        len: input.len(),
        events: Vec::new(),
    }
}

fn payload<'a>(frame: u64, framing: Framing, data: &'a [u8], snapped: usize) -> Payload<'a> {
    Payload {
        frame,
        time: Timestamp::default(),
        src: SocketAddr::from((Ipv4Addr::LOCALHOST, 5060)),
        dst: SocketAddr::from((Ipv4Addr::LOCALHOST, 5061)),
        transport: if framing == Framing::Datagram {
            Transport::Udp
        } else {
            Transport::Tcp
        },
        framing,
        data,
        hep: false,
        snapped,
        packets: &[],
    }
}

/// decode-pcap's framing over `data` as one UDP datagram; `snapped` > 0 says the capture's
/// snapshot length cut that many bytes off it.
pub fn decode_datagram(data: &[u8], snapped: usize) -> Vec<Event> {
    let mut d = Decoder::new(1 << 20, recorder(data));
    let _ = d.payload(&payload(1, Framing::Datagram, data, snapped));
    d.finish();
    d.handler.events
}

/// decode-pcap's framing over `data` as one TCP stream direction, cut into segments at `cuts`
/// (offsets into `data`, taken in order, clamped), then closed. When `lost` names a segment
/// (its index), that segment is not delivered and the next one arrives with a gap of its
/// length, as after a lost packet. `max_stream_buffer` is `--max-stream-buffer`.
pub fn decode_stream(
    data: &[u8],
    cuts: &[usize],
    lost: Option<usize>,
    max_stream_buffer: usize,
) -> Vec<Event> {
    let mut d = Decoder::new(max_stream_buffer, recorder(data));
    let mut gap = 0u64;
    for (i, seg) in segments(data.len(), cuts).into_iter().enumerate() {
        if lost == Some(i) {
            gap += seg.len() as u64;
            continue;
        }
        let framing = Framing::Stream {
            id: StreamId(1),
            gap,
        };
        gap = 0;
        let _ = d.payload(&payload(i as u64 + 1, framing, &data[seg], 0));
    }
    d.finish();
    d.handler.events
}

/// The segments [`decode_stream`] cuts `len` bytes into at `cuts`.
pub fn segments(len: usize, cuts: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut from = 0;
    for &c in cuts {
        let c = c.clamp(from, len);
        out.push(from..c);
        from = c;
    }
    out.push(from..len);
    out
}

/// Where the decoder looks for the next message in `b` (what it gives
/// [`crate::proto::sip::parse_tolerant`] for a stream message without Content-Length).
pub fn next_start(b: &[u8]) -> Option<usize> {
    framing::find_start(b)
}

/// Whether the decoder takes `b` to begin with a SIP or MSRP start line (a datagram that does
/// not, after leading CR/LF, is passed over silently).
pub fn starts_message(b: &[u8]) -> bool {
    framing::starts_message(b)
}
