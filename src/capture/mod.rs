//! Reading packet captures down to application payloads: pcap/pcapng (plain or gzip), link
//! layers, IPv4/IPv6 with fragment reassembly, UDP, TCP stream reassembly, HEP and WebSocket
//! decapsulation. What comes out is bytes with addresses and times; recognising SIP and MSRP in
//! them is the decoder's job (`commands/decode_pcap`), so this module knows nothing about SIP.
//!
//! The reader pushes into a [`Sink`] rather than returning an iterator: payloads borrow from
//! buffers the reader reuses, so a capture of any size is processed in constant memory.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

mod decode;
mod hash;
mod hep;
mod read;
mod tcp;
pub mod write;
mod ws;

pub(crate) use hash::FastHash;
pub use read::Reader;

/// A capture timestamp: seconds and nanoseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    /// Nanoseconds from `earlier` to `self` (negative when `self` is earlier).
    pub fn nanos_since(self, earlier: Timestamp) -> i128 {
        (i128::from(self.secs) - i128::from(earlier.secs)) * 1_000_000_000
            + (i128::from(self.nanos) - i128::from(earlier.nanos))
    }
}

/// The transport a payload travelled on, after decapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Udp,
    Tcp,
    /// One WebSocket message (RFC 6455 frames reassembled) on a TCP connection (RFC 7118).
    Ws,
}

impl Transport {
    /// The lowercase name used in output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Ws => "ws",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One direction of one TCP connection, numbered in order of first appearance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

/// One captured packet as it was in the file, kept so matching packets can be written out again
/// (`decode-pcap --write`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket {
    /// 1-based, as tshark and Wireshark number frames.
    pub frame: u64,
    pub time: Timestamp,
    /// The pcap LINKTYPE_ value of the interface the packet was captured on.
    pub linktype: u16,
    pub data: Vec<u8>,
    /// Length on the wire (may exceed `data.len()` when the capture was snapped).
    pub orig_len: u32,
}

/// How the bytes of a [`Payload`] relate to what came before them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A whole datagram: a UDP payload (after IP reassembly), a HEP payload, or one WebSocket
    /// message. It holds zero or more complete application messages, never part of one.
    Datagram,
    /// The next in-order bytes of a TCP stream direction. `gap` is the number of bytes known to
    /// be missing just before these (a lost segment); the consumer drops its partial message and
    /// resynchronises on the next start line.
    Stream { id: StreamId, gap: u64 },
}

/// Application bytes with where and when they were seen.
#[derive(Debug)]
pub struct Payload<'a> {
    /// The frame that completed this payload (the last fragment or segment), as tshark reports it.
    pub frame: u64,
    pub time: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub transport: Transport,
    pub framing: Framing,
    pub data: &'a [u8],
    /// True when the addresses and time came from a HEP header rather than the packet.
    pub hep: bool,
    /// Bytes of the datagram that the capture did not keep (its snapshot length cut the
    /// packet): `data` is then the start of the payload only. Always 0 for streams.
    pub snapped: usize,
    /// The captured packets that carried these bytes, in frame order; filled only when the
    /// reader was asked to keep packets ([`Options::keep_packets`]), else empty.
    pub packets: &'a [RawPacket],
}

/// Something the reader noticed that the user should know about; the run goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// An IP datagram whose fragments never all arrived (or overflowed the reassembly budget).
    FragmentsIncomplete {
        /// Frames holding the fragments that did arrive.
        frames: Vec<u64>,
        src: std::net::IpAddr,
        dst: std::net::IpAddr,
        /// Bytes received of the datagram, and its total when the last fragment was seen.
        received: usize,
        total: Option<usize>,
    },
    /// Bytes of a TCP stream were lost (or overflowed the per-stream buffer) before `frame`.
    StreamGap {
        id: StreamId,
        src: SocketAddr,
        dst: SocketAddr,
        frame: u64,
        missing: u64,
    },
    /// A TCP stream direction ended (FIN or RST seen, or the capture ended).
    StreamClosed { id: StreamId },
    /// A packet the reader could not decode (unknown link type, bad header); skipped.
    Skipped { frame: u64, reason: String },
    /// Bytes after the last whole gzip member that do not start another member (padding or
    /// garbage an uploader appended): ignored, the capture before them is kept. `offset` is
    /// where they start in the compressed file.
    TrailingData { offset: u64, bytes: u64 },
}

/// What the reader hands its results to.
pub trait Sink {
    /// One payload. `Break` stops the reader after the current packet (the output was closed,
    /// say `sipkit decode-pcap ... | head`): [`Reader::run`] then returns without reading the
    /// rest of the file.
    fn payload(&mut self, payload: &Payload<'_>) -> std::ops::ControlFlow<()>;
    fn notice(&mut self, notice: &Notice);
}

/// How the reader treats what it finds. `Options::default()` suits a command-line run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Keep a copy of the packets that carried each payload in [`Payload::packets`]
    /// (`decode-pcap --write`). When false nothing is copied for that purpose.
    pub keep_packets: bool,
    /// Out-of-order TCP bytes buffered per stream direction before the missing bytes are
    /// declared lost ([`Notice::StreamGap`]). Also the largest WebSocket message kept.
    pub max_stream_buffer: usize,
    /// Bytes held for IP fragment reassembly in total; when full, the oldest incomplete
    /// datagrams are given up ([`Notice::FragmentsIncomplete`]).
    pub fragment_budget: usize,
    /// Capture time after a datagram's first fragment when an incomplete one is given up
    /// (30 s, as Linux `ipfrag_time`).
    pub fragment_timeout: Duration,
    /// Capture time without a packet after which a TCP stream direction is closed and freed.
    pub stream_idle_timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            keep_packets: false,
            max_stream_buffer: 4 << 20,
            fragment_budget: 16 << 20,
            fragment_timeout: Duration::from_secs(30),
            stream_idle_timeout: Duration::from_secs(600),
        }
    }
}

/// Counts from one [`Reader::run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records read from the file that tshark numbers as frames: the packets, and pcapng
    /// custom and systemd journal export blocks (tshark's frame count).
    pub frames: u64,
    /// Bytes of capture read (after gzip decompression).
    pub bytes: u64,
    /// Payloads handed to the sink.
    pub payloads: u64,
    /// Frames that were not IP, or not UDP/TCP (or not packets at all), and were passed over
    /// silently.
    pub ignored: u64,
    /// [`Notice::Skipped`] frames.
    pub skipped: u64,
    /// TCP stream directions seen.
    pub streams: u64,
    /// [`Notice::StreamGap`] notices.
    pub stream_gaps: u64,
    /// [`Notice::FragmentsIncomplete`] notices.
    pub fragments_incomplete: u64,
}

/// Why reading a capture stopped. Byte offsets count bytes of the capture after gzip
/// decompression; payloads from packets before the offset have already reached the sink.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The input is not a capture format the reader knows.
    #[error("not a pcap or pcapng file: found {found} at byte {offset}")]
    Format { found: String, offset: u64 },
    /// A record or block header is inconsistent (a length that cannot be right).
    #[error("malformed capture at byte {offset}: {what}")]
    Malformed { what: String, offset: u64 },
    /// The input ended inside a record or block.
    #[error(
        "capture truncated at byte {offset}: the input ends inside a packet record (after {frames} complete frames)"
    )]
    Truncated { offset: u64, frames: u64 },
    /// The file could not be opened; `error` is the operating system's reason.
    #[error("cannot open {}: {}", path.display(), os_reason(error))]
    Open {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    /// Reading failed. The reason is part of the message (not a `source`, which would print it
    /// twice under `{:#}`).
    #[error("read failed at byte {offset}: {}", os_reason(error))]
    Io { offset: u64, error: std::io::Error },
    /// The gzip compression around the capture ended early (`truncated`) or could not be
    /// decompressed. `compressed` counts bytes of the gzip file read; `offset` is the start
    /// of the packet record the capture inside was cut in.
    #[error(
        "{} at byte {compressed} of the gzip file (byte {offset} of the capture inside it, after {frames} complete frames)",
        if *truncated { "gzip data truncated".to_string() } else { format!("gzip data unreadable ({})", os_reason(error)) }
    )]
    Gzip {
        truncated: bool,
        compressed: u64,
        offset: u64,
        frames: u64,
        error: std::io::Error,
    },
}

/// An I/O error's text without the ` (os error N)` std adds: `No such file or directory`.
fn os_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}
