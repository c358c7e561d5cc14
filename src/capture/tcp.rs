//! TCP stream reassembly, one state per direction: bytes are handed on in sequence order,
//! exactly once. In-order segments (the common case) are passed through borrowed from the
//! packet; only out-of-order segments are copied, up to [`Options::max_stream_buffer`] per
//! direction. A hole is declared lost (a gap) when the peer acknowledges past it (the receiver
//! got bytes the capture missed), when the buffer overflows, or when the stream ends.
//!
//! The first bytes of a direction choose how the rest is read: an HTTP upgrade to WebSocket
//! (RFC 6455 §4, RFC 7118) switches the direction to WebSocket frames after the headers, a
//! `HEP3` start means a HEP collector stream; anything else is passed on as stream bytes for
//! the decoder to frame (SIP and MSRP framing is deliberately not done here).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use super::decode::Out;
use super::ws::{WsOut, WsState};
use super::{Framing, Notice, Options, Payload, RawPacket, StreamId, Timestamp, Transport};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// How long an upgrade request or response may get before it is taken as not one.
const MAX_HTTP_HEAD: usize = 16 * 1024;
/// Idle streams are looked for at most once per this much capture time.
const SWEEP_EVERY_NS: i128 = 1_000_000_000;

/// One TCP segment as the IP layer found it.
#[derive(Debug)]
pub(crate) struct Segment<'a> {
    pub frame: u64,
    pub time: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub data: &'a [u8],
    pub packets: &'a [RawPacket],
}

/// Bytes that arrived ahead of a hole.
#[derive(Debug)]
struct Held {
    at: At,
    data: Vec<u8>,
    packets: Vec<RawPacket>,
}

/// How a direction's bytes are read.
#[derive(Debug)]
enum App {
    /// Nothing delivered yet: the first bytes decide.
    Start,
    Plain,
    /// An HTTP request or response head being collected to see whether it upgrades.
    Probe(Vec<u8>, Vec<RawPacket>),
    Ws(Box<WsState>),
    /// HEP3 packets back to back (a HEP collector's TCP port).
    Hep(Vec<u8>),
}

/// Where a direction's payloads come from, copied into each.
#[derive(Debug, Clone, Copy)]
struct Conn {
    id: StreamId,
    src: SocketAddr,
    dst: SocketAddr,
}

#[derive(Debug)]
struct Dir {
    conn: Conn,
    /// The sequence number of the next byte to hand on.
    next: u32,
    /// Stream offset of `next`: bytes handed on plus bytes declared lost.
    offset: u64,
    /// Bytes lost just before the next payload.
    gap: u64,
    /// The highest acknowledgement the peer sent for this direction.
    acked: Option<u32>,
    pending: BTreeMap<u64, Held>,
    held: usize,
    fin: Option<u64>,
    last: At,
    app: App,
}

/// When a payload is handed on: the frame that made it deliverable.
#[derive(Debug, Clone, Copy)]
struct At {
    frame: u64,
    time: Timestamp,
}

/// A direction's addresses packed into one array: hashed in one write where the pair of
/// `SocketAddr`s takes a dozen, and a segment looks its directions up two or three times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct DirKey([u8; 38]);

impl DirKey {
    fn new(src: SocketAddr, dst: SocketAddr) -> DirKey {
        let mut k = [0u8; 38];
        for (a, part) in [src, dst].into_iter().zip(k.chunks_exact_mut(19)) {
            // A family byte keeps 1.2.3.4 apart from ::102:304.
            let (family, ip) = match a.ip() {
                std::net::IpAddr::V4(v4) => (4, v4.to_ipv6_compatible().octets()),
                std::net::IpAddr::V6(v6) => (6, v6.octets()),
            };
            part[0] = family;
            part[1..17].copy_from_slice(&ip);
            part[17..19].copy_from_slice(&a.port().to_be_bytes());
        }
        DirKey(k)
    }
}

pub(crate) struct Tcp {
    dirs: HashMap<DirKey, Dir, super::FastHash>,
    next_id: u64,
    max_buffer: usize,
    idle_ns: i128,
    next_sweep: Option<Timestamp>,
}

fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl Dir {
    /// Stream offset of sequence number `seq`, relative to what was handed on.
    fn abs(&self, seq: u32) -> u64 {
        let rel = i64::from(seq.wrapping_sub(self.next) as i32);
        u64::try_from(self.offset as i64 + rel).unwrap_or(0)
    }

    fn data(
        &mut self,
        seq: u32,
        data: &[u8],
        packets: &[RawPacket],
        at: At,
        max: usize,
        out: &mut Out<'_>,
    ) {
        let mut rel = i64::from(seq.wrapping_sub(self.next) as i32);
        if rel > 0 {
            if self.held + data.len() <= max {
                let abs = self.offset + rel as u64;
                let keep = match self.pending.get(&abs) {
                    Some(h) => h.data.len() < data.len(),
                    None => true,
                };
                if keep {
                    if let Some(old) = self.pending.insert(
                        abs,
                        Held {
                            at,
                            data: data.to_vec(),
                            packets: packets.to_vec(),
                        },
                    ) {
                        self.held -= old.data.len();
                    }
                    self.held += data.len();
                }
                self.skip_acked(at, max, out);
                return;
            }
            // The hole will not be filled within the memory allowed: give it up.
            self.flush(at, max, out);
            rel = i64::from(seq.wrapping_sub(self.next) as i32);
            if rel > 0 {
                self.jump(self.offset + rel as u64, at, out);
                rel = 0;
            }
        }
        let skip = usize::try_from(-rel).unwrap_or(usize::MAX);
        if skip >= data.len() {
            return; // a retransmission of bytes already handed on
        }
        self.emit(&data[skip..], packets, at, max, out);
        self.drain(at, max, out);
    }

    /// Declares the bytes up to stream offset `to` lost.
    fn jump(&mut self, to: u64, at: At, out: &mut Out<'_>) {
        let missing = to.saturating_sub(self.offset);
        if missing == 0 {
            return;
        }
        self.gap += missing;
        self.next = self.next.wrapping_add(missing as u32);
        self.offset = to;
        out.notice(Notice::StreamGap {
            id: self.conn.id,
            src: self.conn.src,
            dst: self.conn.dst,
            frame: at.frame,
            missing,
        });
    }

    /// Hands on held segments that are now in order.
    fn drain(&mut self, at: At, max: usize, out: &mut Out<'_>) {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() > self.offset {
                break;
            }
            let start = *entry.key();
            let held = entry.remove();
            self.held -= held.data.len();
            let skip = usize::try_from(self.offset - start).unwrap_or(usize::MAX);
            // Attributed to the later of the frame that filled the hole and the one that
            // carried the bytes (at end of capture, the former is unknown).
            let when = if held.at.frame > at.frame {
                held.at
            } else {
                at
            };
            if skip < held.data.len() {
                self.emit(&held.data[skip..], &held.packets, when, max, out);
            }
        }
    }

    /// Gives up every hole: hands on all held bytes with the gaps between them.
    fn flush(&mut self, at: At, max: usize, out: &mut Out<'_>) {
        while let Some((&start, _)) = self.pending.first_key_value() {
            self.jump(start, at, out);
            self.drain(at, max, out);
        }
    }

    /// Gives up holes the peer has acknowledged: the receiver has those bytes, so they will
    /// not be sent again, and the capture simply missed them.
    fn skip_acked(&mut self, at: At, max: usize, out: &mut Out<'_>) {
        let Some(acked) = self.acked else { return };
        while !self.pending.is_empty() && seq_after(acked, self.next) {
            if let Some((&start, _)) = self.pending.first_key_value() {
                self.jump(start, at, out);
            }
            self.drain(at, max, out);
        }
    }

    /// Hands on the next in-order bytes through the direction's application reader.
    fn emit(&mut self, bytes: &[u8], packets: &[RawPacket], at: At, max: usize, out: &mut Out<'_>) {
        let gap = std::mem::take(&mut self.gap);
        self.next = self.next.wrapping_add(bytes.len() as u32);
        self.offset += bytes.len() as u64;
        deliver(&mut self.app, self.conn, gap, bytes, packets, at, max, out);
    }

    /// Ends the direction: hands on whatever is held, then says it closed.
    fn close(mut self, at: At, max: usize, out: &mut Out<'_>) {
        self.flush(at, max, out);
        if let App::Probe(buf, packets) = std::mem::replace(&mut self.app, App::Plain) {
            plain(self.conn, self.gap, &buf, &packets, at, out);
        }
        out.notice(Notice::StreamClosed { id: self.conn.id });
    }
}

fn plain(conn: Conn, gap: u64, data: &[u8], packets: &[RawPacket], at: At, out: &mut Out<'_>) {
    if data.is_empty() {
        return;
    }
    out.payload(&Payload {
        frame: at.frame,
        time: at.time,
        src: conn.src,
        dst: conn.dst,
        transport: Transport::Tcp,
        framing: Framing::Stream { id: conn.id, gap },
        data,
        hep: false,
        snapped: 0,
        packets,
    });
}

/// `GET ... Upgrade: websocket` or `HTTP/1.1 101 ... Upgrade: websocket` (RFC 6455 §4.1, §4.2.2).
fn is_ws_upgrade(head: &[u8]) -> bool {
    let first_ok = head.starts_with(b"GET ")
        || (head.starts_with(b"HTTP/1.") && head.get(8..13) == Some(b" 101 "));
    first_ok
        && head.split(|&b| b == b'\n').skip(1).any(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return false;
            };
            line[..colon].eq_ignore_ascii_case(b"upgrade")
                && line[colon + 1..]
                    .trim_ascii()
                    .eq_ignore_ascii_case(b"websocket")
        })
}

struct WsSink<'o, 's> {
    conn: Conn,
    at: At,
    out: &'o mut Out<'s>,
}

impl WsOut for WsSink<'_, '_> {
    fn message(&mut self, data: &[u8], packets: &[RawPacket]) {
        self.out.payload(&Payload {
            frame: self.at.frame,
            time: self.at.time,
            src: self.conn.src,
            dst: self.conn.dst,
            transport: Transport::Ws,
            framing: Framing::Datagram,
            data,
            hep: false,
            snapped: 0,
            packets,
        });
    }

    fn problem(&mut self, what: &'static str) {
        self.out.skip(self.at.frame, what);
    }
}

#[allow(clippy::too_many_arguments)]
fn deliver(
    app: &mut App,
    conn: Conn,
    gap: u64,
    bytes: &[u8],
    packets: &[RawPacket],
    at: At,
    max: usize,
    out: &mut Out<'_>,
) {
    if matches!(app, App::Start) {
        *app = if bytes.starts_with(b"GET ") || bytes.starts_with(b"HTTP/1.") {
            App::Probe(Vec::new(), Vec::new())
        } else if bytes.starts_with(b"HEP3") {
            App::Hep(Vec::new())
        } else {
            App::Plain
        };
    }
    match app {
        App::Start | App::Plain => plain(conn, gap, bytes, packets, at, out),
        App::Probe(buf, held) => {
            if gap > 0 {
                let old = std::mem::take(buf);
                let old_packets = std::mem::take(held);
                *app = App::Plain;
                plain(conn, 0, &old, &old_packets, at, out);
                plain(conn, gap, bytes, packets, at, out);
                return;
            }
            buf.extend_from_slice(bytes);
            held.extend_from_slice(packets);
            let end = memchr::memmem::find(buf, b"\r\n\r\n").map(|i| i + 4);
            match end {
                Some(end) if is_ws_upgrade(&buf[..end]) => {
                    let rest = buf.split_off(end);
                    let mut ws = Box::new(WsState::after_upgrade(std::mem::take(held)));
                    let mut sink = WsSink { conn, at, out };
                    ws.feed(&rest, packets, max, &mut sink);
                    *app = App::Ws(ws);
                }
                Some(_) => {
                    let (old, old_packets) = (std::mem::take(buf), std::mem::take(held));
                    *app = App::Plain;
                    plain(conn, 0, &old, &old_packets, at, out);
                }
                None if buf.len() > MAX_HTTP_HEAD => {
                    let (old, old_packets) = (std::mem::take(buf), std::mem::take(held));
                    *app = App::Plain;
                    plain(conn, 0, &old, &old_packets, at, out);
                }
                None => {}
            }
        }
        App::Ws(ws) => {
            if gap > 0 {
                ws.reset();
            }
            let mut sink = WsSink { conn, at, out };
            ws.feed(bytes, packets, max, &mut sink);
        }
        App::Hep(buf) => {
            if gap > 0 {
                buf.clear();
            }
            buf.extend_from_slice(bytes);
            let mut used = 0;
            while let Some(head) = buf.get(used..used + 6) {
                if &head[..4] != b"HEP3" {
                    out.skip(
                        at.frame,
                        "hep stream lost its framing; rest of the bytes skipped",
                    );
                    used = buf.len();
                    break;
                }
                let len = usize::from(u16::from_be_bytes([head[4], head[5]])).max(6);
                let Some(packet) = buf.get(used..used + len) else {
                    break;
                };
                match super::hep::parse(packet) {
                    Some(Ok(h)) => out.payload(&Payload {
                        frame: at.frame,
                        time: h.time.unwrap_or(at.time),
                        src: h.src,
                        dst: h.dst,
                        transport: h.transport,
                        framing: Framing::Datagram,
                        data: h.payload,
                        hep: true,
                        snapped: 0,
                        packets,
                    }),
                    Some(Err(why)) => out.skip(at.frame, why),
                    None => {}
                }
                used += len;
            }
            buf.drain(..used);
            if buf.len() > max {
                out.skip(
                    at.frame,
                    "hep packet larger than the stream buffer; skipped",
                );
                buf.clear();
            }
        }
    }
}

impl Tcp {
    pub fn new(opts: &Options) -> Tcp {
        Tcp {
            dirs: HashMap::default(),
            next_id: 0,
            max_buffer: opts.max_stream_buffer,
            idle_ns: i128::try_from(opts.stream_idle_timeout.as_nanos()).unwrap_or(i128::MAX),
            next_sweep: None,
        }
    }

    pub fn segment(&mut self, s: &Segment<'_>, out: &mut Out<'_>) {
        let at = At {
            frame: s.frame,
            time: s.time,
        };
        let max = self.max_buffer;
        let key = DirKey::new(s.src, s.dst);
        let rev = DirKey::new(s.dst, s.src);
        if s.flags & RST != 0 {
            self.close(key, at, out);
            self.close(rev, at, out);
            return;
        }
        if s.flags & ACK != 0 {
            if let Some(peer) = self.dirs.get_mut(&rev) {
                if peer.acked.is_none_or(|a| seq_after(s.ack, a)) {
                    peer.acked = Some(s.ack);
                }
                peer.skip_acked(at, max, out);
            }
        }
        let mut seq = s.seq;
        if s.flags & SYN != 0 {
            seq = seq.wrapping_add(1);
            if self
                .dirs
                .get(&key)
                .is_some_and(|d| d.next != seq || d.offset > 0)
            {
                // A new connection on the same addresses.
                self.close(key, at, out);
            }
        }
        let dir = match self.dirs.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                if s.flags & SYN == 0 && s.data.is_empty() {
                    return;
                }
                let id = StreamId(self.next_id);
                self.next_id += 1;
                out.stats.streams += 1;
                v.insert(Dir {
                    conn: Conn {
                        id,
                        src: s.src,
                        dst: s.dst,
                    },
                    next: seq,
                    offset: 0,
                    gap: 0,
                    acked: None,
                    pending: BTreeMap::new(),
                    held: 0,
                    fin: None,
                    last: at,
                    app: App::Start,
                })
            }
        };
        dir.last = at;
        let mut upgraded = false;
        if !s.data.is_empty() {
            let probing = matches!(dir.app, App::Start | App::Probe(..));
            dir.data(seq, s.data, s.packets, at, max, out);
            upgraded = probing && !s.packets.is_empty() && matches!(dir.app, App::Ws(_));
        }
        let dir = if upgraded {
            self.share_upgrade(key, rev);
            match self.dirs.get_mut(&key) {
                Some(dir) => dir,
                None => return,
            }
        } else {
            dir
        };
        if s.flags & FIN != 0 {
            let end = seq.wrapping_add(s.data.len() as u32);
            dir.fin = Some(dir.abs(end));
        }
        if dir.pending.is_empty() && dir.fin.is_some_and(|f| dir.offset >= f) {
            self.close(key, at, out);
        }
    }

    /// Once both directions of a connection have switched to WebSocket, each gets the other's
    /// upgrade packets (the request and the 101 response), for `--write`.
    fn share_upgrade(&mut self, key: DirKey, rev: DirKey) {
        let peer_head = match self.dirs.get(&rev).map(|d| &d.app) {
            Some(App::Ws(ws)) => ws.head().to_vec(),
            _ => return,
        };
        let own_head = match self.dirs.get_mut(&key).map(|d| &mut d.app) {
            Some(App::Ws(ws)) => {
                ws.add_upgrade(&peer_head);
                ws.head().to_vec()
            }
            _ => return,
        };
        if let Some(App::Ws(ws)) = self.dirs.get_mut(&rev).map(|d| &mut d.app) {
            ws.add_upgrade(&own_head);
        }
    }

    fn close(&mut self, key: DirKey, at: At, out: &mut Out<'_>) {
        if let Some(dir) = self.dirs.remove(&key) {
            dir.close(at, self.max_buffer, out);
        }
    }

    /// Closes directions idle longer than the timeout (checked about once a second).
    pub fn expire(&mut self, now: Timestamp, out: &mut Out<'_>) {
        if self.dirs.is_empty() {
            return;
        }
        if let Some(next) = self.next_sweep {
            if now.nanos_since(next) < 0 {
                return;
            }
        }
        self.next_sweep = Some(Timestamp {
            secs: now
                .secs
                .saturating_add((SWEEP_EVERY_NS / 1_000_000_000) as i64),
            nanos: now.nanos,
        });
        let mut idle: Vec<(StreamId, DirKey)> = self
            .dirs
            .iter()
            .filter(|(_, d)| now.nanos_since(d.last.time) > self.idle_ns)
            .map(|(k, d)| (d.conn.id, *k))
            .collect();
        idle.sort_unstable();
        for (_, key) in idle {
            let at = self.dirs.get(&key).map(|d| d.last);
            if let Some(at) = at {
                self.close(key, at, out);
            }
        }
    }

    /// Closes every direction, in the order they were first seen.
    pub fn finish(&mut self, out: &mut Out<'_>) {
        let mut all: Vec<(StreamId, DirKey, At)> = self
            .dirs
            .iter()
            .map(|(k, d)| (d.conn.id, *k, d.last))
            .collect();
        all.sort_unstable_by_key(|(id, _, _)| *id);
        for (_, key, at) in all {
            self.close(key, at, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_keys_tell_every_address_pair_apart() {
        let a: Vec<SocketAddr> = [
            "1.2.3.4:5060",
            "[::102:304]:5060",
            "[::ffff:1.2.3.4]:5060",
            "1.2.3.4:5061",
            "4.3.2.1:5060",
            "[2001:db8::1]:5060",
        ]
        .iter()
        .map(|s| s.parse().expect("address"))
        .collect();
        let mut keys = std::collections::HashSet::new();
        for &x in &a {
            for &y in &a {
                assert!(keys.insert(DirKey::new(x, y)), "{x} {y}");
            }
        }
        assert_eq!(keys.len(), a.len() * a.len());
    }

    #[test]
    fn upgrade_detection() {
        assert!(is_ws_upgrade(
            b"GET / HTTP/1.1\r\nHost: x\r\nupgrade:  WebSocket \r\n\r\n"
        ));
        assert!(is_ws_upgrade(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        ));
        assert!(!is_ws_upgrade(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!is_ws_upgrade(
            b"HTTP/1.1 200 OK\r\nUpgrade: websocket\r\n\r\n"
        ));
        assert!(!is_ws_upgrade(
            b"INVITE sip:a SIP/2.0\r\nUpgrade: websocket\r\n\r\n"
        ));
    }

    #[test]
    fn sequence_comparison_wraps() {
        assert!(seq_after(5, u32::MAX - 5));
        assert!(!seq_after(u32::MAX - 5, 5));
        assert!(!seq_after(7, 7));
    }
}
