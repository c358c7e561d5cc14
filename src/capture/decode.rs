//! From one captured packet to transport payloads: the link layer (Ethernet with VLAN tags and
//! PPPoE, PPP, Linux cooked SLL/SLL2, raw IP, BSD and OpenBSD loopback), IPv4 and IPv6 (extension
//! headers, IP-in-IP and IPv6-in-IPv4 tunnels), IP fragment reassembly within a memory budget,
//! UDP and HEP. TCP segments go on to [`super::tcp`].
//!
//! Headers are parsed by hand: each is a few fixed offsets, and doing it here keeps the common
//! path (one UDP datagram in one frame) free of allocation and copying.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::tcp::{Segment, Tcp};
use super::{Framing, Notice, Options, Payload, RawPacket, Sink, Stats, Timestamp, Transport};

/// One packet record as the file layer found it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pkt<'a> {
    pub frame: u64,
    pub time: Timestamp,
    pub linktype: u16,
    pub data: &'a [u8],
    pub orig_len: u32,
}

impl Pkt<'_> {
    fn raw(&self) -> RawPacket {
        RawPacket {
            frame: self.frame,
            time: self.time,
            linktype: self.linktype,
            data: self.data.to_vec(),
            orig_len: self.orig_len,
        }
    }
}

/// The sink with the counters kept beside it.
pub(crate) struct Out<'s> {
    pub sink: &'s mut dyn Sink,
    pub stats: &'s mut Stats,
    /// Set once the sink asked to stop.
    pub stopped: &'s mut bool,
}

impl Out<'_> {
    pub fn payload(&mut self, p: &Payload<'_>) {
        self.stats.payloads += 1;
        if self.sink.payload(p).is_break() {
            *self.stopped = true;
        }
    }

    pub fn notice(&mut self, n: Notice) {
        match n {
            Notice::StreamGap { .. } => self.stats.stream_gaps += 1,
            Notice::FragmentsIncomplete { .. } => self.stats.fragments_incomplete += 1,
            Notice::Skipped { .. } => self.stats.skipped += 1,
            Notice::StreamClosed { .. } | Notice::TrailingData { .. } => {}
        }
        self.sink.notice(&n);
    }

    pub fn skip(&mut self, frame: u64, reason: &str) {
        self.notice(Notice::Skipped {
            frame,
            reason: reason.to_string(),
        });
    }
}

/// Deepest nesting of IP-in-IP tunnels followed.
const MAX_TUNNEL_DEPTH: u8 = 4;

pub(crate) struct Decoder {
    pub stats: Stats,
    /// The sink returned `Break`: the reader stops.
    pub stopped: bool,
    opts: Options,
    frags: Fragments,
    tcp: Tcp,
    /// Link types already reported as unsupported (reported once each, then counted).
    unknown_links: Vec<u16>,
}

/// What the link layer held.
enum L3<'a> {
    Ip(&'a [u8]),
    NotIp,
    Bad(&'static str),
    Unsupported,
}

/// Link layer to network layer, per LINKTYPE_ value.
fn link(linktype: u16, d: &[u8]) -> L3<'_> {
    match linktype {
        1 => match d.get(12..14) {
            Some(t) => ethertype(u16::from_be_bytes([t[0], t[1]]), &d[14..]),
            None => L3::Bad("ethernet header truncated"),
        },
        // Linux cooked v1: 16-byte header, protocol in its last two bytes.
        113 => match d.get(14..16) {
            Some(t) => ethertype(u16::from_be_bytes([t[0], t[1]]), &d[16..]),
            None => L3::Bad("linux cooked header truncated"),
        },
        // Linux cooked v2: 20-byte header, protocol first.
        276 => match (d.get(0..2), d.get(20..)) {
            (Some(t), Some(rest)) => ethertype(u16::from_be_bytes([t[0], t[1]]), rest),
            _ => L3::Bad("linux cooked v2 header truncated"),
        },
        9 => ppp(d),
        12 | 14 | 101 | 228 | 229 => L3::Ip(d),
        // BSD loopback: the family is in the capturing host's byte order, so accept both.
        0 | 108 => match d.get(0..4) {
            Some(f) => {
                let family = if f[0] == 0 && f[1] == 0 {
                    u32::from_be_bytes([f[0], f[1], f[2], f[3]])
                } else {
                    u32::from_le_bytes([f[0], f[1], f[2], f[3]])
                };
                match family {
                    2 | 24 | 28 | 30 => L3::Ip(&d[4..]),
                    _ => L3::NotIp,
                }
            }
            None => L3::Bad("loopback header truncated"),
        },
        _ => L3::Unsupported,
    }
}

/// LINKTYPE_PPP: a PPP frame (RFC 1661 §2), with or without the HDLC-like address and control
/// bytes `ff 03` (RFC 1662 §3.1: tcpdump writes them when the interface had them). The
/// protocol field is one byte when compressed (RFC 1661 §6.5: a field whose first byte is odd
/// is a whole one-byte field). Written here rather than taken from a crate: etherparse has no
/// PPP link layer, and it is four lines of offsets.
fn ppp(d: &[u8]) -> L3<'_> {
    let d = d.strip_prefix(&[0xff, 0x03][..]).unwrap_or(d);
    let (protocol, rest) = match d {
        [b, rest @ ..] if b & 1 == 1 => (u16::from(*b), rest),
        [hi, lo, rest @ ..] => (u16::from_be_bytes([*hi, *lo]), rest),
        _ => return L3::Bad("ppp header truncated"),
    };
    match protocol {
        // Internet Protocol, Internet Protocol version 6 (RFC 5072).
        0x0021 | 0x0057 => L3::Ip(rest),
        // LCP, IPCP, compressed TCP/IP and the rest carry no IP packet.
        _ => L3::NotIp,
    }
}

fn ethertype(mut t: u16, mut d: &[u8]) -> L3<'_> {
    loop {
        match t {
            0x0800 | 0x86dd => return L3::Ip(d),
            // 802.1Q, 802.1ad (QinQ), and the pre-standard QinQ tag.
            0x8100 | 0x88a8 | 0x9100 => match d.get(2..4) {
                Some(n) => {
                    t = u16::from_be_bytes([n[0], n[1]]);
                    d = &d[4..];
                }
                None => return L3::Bad("vlan tag truncated"),
            },
            // PPPoE session (RFC 2516): ver/type, code, session, length, then PPP protocol.
            0x8864 => {
                let (Some(len), Some(proto)) = (d.get(4..6), d.get(6..8)) else {
                    return L3::Bad("pppoe header truncated");
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let end = (6 + len).min(d.len());
                return match u16::from_be_bytes([proto[0], proto[1]]) {
                    0x0021 | 0x0057 => L3::Ip(d.get(8..end).unwrap_or_default()),
                    _ => L3::NotIp,
                };
            }
            _ => return L3::NotIp,
        }
    }
}

/// Where an IPv6 header chain leads.
enum V6Next {
    Transport {
        proto: u8,
        at: usize,
    },
    Fragment {
        next: u8,
        offset: usize,
        more: bool,
        ident: u32,
        at: usize,
    },
    Stop,
}

/// Walks IPv6 extension headers (RFC 8200 §4) from `next` at `at` in `d`.
fn v6_walk(mut next: u8, d: &[u8], mut at: usize) -> Result<V6Next, &'static str> {
    loop {
        match next {
            // Hop-by-hop, routing, destination options: length in 8-octet units, less 8.
            0 | 43 | 60 => {
                let h = d.get(at..at + 2).ok_or("ipv6 extension header truncated")?;
                next = h[0];
                at += (usize::from(h[1]) + 1) * 8;
            }
            // Authentication header (RFC 4302): length in 4-octet units, less 2.
            51 => {
                let h = d
                    .get(at..at + 2)
                    .ok_or("ipv6 authentication header truncated")?;
                next = h[0];
                at += (usize::from(h[1]) + 2) * 4;
            }
            44 => {
                let h = d.get(at..at + 8).ok_or("ipv6 fragment header truncated")?;
                let fo = u16::from_be_bytes([h[2], h[3]]);
                let ident = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
                let (offset, more) = (usize::from(fo & 0xfff8), fo & 1 != 0);
                if offset == 0 && !more {
                    // An atomic fragment (RFC 6946): the whole datagram.
                    next = h[0];
                    at += 8;
                    continue;
                }
                return Ok(V6Next::Fragment {
                    next: h[0],
                    offset,
                    more,
                    ident,
                    at: at + 8,
                });
            }
            // No next header, ESP (encrypted).
            59 | 50 => return Ok(V6Next::Stop),
            proto => {
                if at > d.len() {
                    return Err("ipv6 extension headers run past the packet");
                }
                return Ok(V6Next::Transport { proto, at });
            }
        }
    }
}

impl Decoder {
    pub fn new(opts: Options) -> Decoder {
        Decoder {
            stats: Stats::default(),
            stopped: false,
            frags: Fragments::default(),
            tcp: Tcp::new(&opts),
            opts,
            unknown_links: Vec::new(),
        }
    }

    /// Counts a frame the file layer could not hand over, and says why.
    pub fn skip_frame(&mut self, frame: u64, reason: &str, sink: &mut dyn Sink) {
        self.stats.frames += 1;
        let mut stats = self.stats;
        let mut stopped = self.stopped;
        Out {
            sink,
            stats: &mut stats,
            stopped: &mut stopped,
        }
        .skip(frame, reason);
        self.stats = stats;
        self.stopped = stopped;
    }

    /// Counts a record that is not a packet but that tshark numbers as a frame (a pcapng
    /// custom or systemd journal export block), so frame numbers stay equal to tshark's.
    pub fn other_record(&mut self) {
        self.stats.frames += 1;
        self.stats.ignored += 1;
    }

    /// Handles one captured packet.
    pub fn packet(&mut self, pkt: &Pkt<'_>, sink: &mut dyn Sink) {
        self.stats.frames += 1;
        let mut stats = self.stats;
        let mut stopped = self.stopped;
        let mut out = Out {
            sink,
            stats: &mut stats,
            stopped: &mut stopped,
        };
        self.frags.expire(pkt.time, &self.opts, &mut out);
        self.tcp.expire(pkt.time, &mut out);
        match link(pkt.linktype, pkt.data) {
            L3::Ip(d) => self.ip(pkt, d, 0, &mut out),
            L3::NotIp => out.stats.ignored += 1,
            L3::Bad(why) => out.skip(pkt.frame, why),
            L3::Unsupported => {
                if self.unknown_links.contains(&pkt.linktype) {
                    out.stats.skipped += 1;
                } else {
                    self.unknown_links.push(pkt.linktype);
                    out.skip(
                        pkt.frame,
                        &format!(
                            "link type {} is not supported (further frames of it are skipped silently)",
                            pkt.linktype
                        ),
                    );
                }
            }
        }
        self.stats = stats;
        self.stopped = stopped;
    }

    /// Reports everything still held: incomplete fragments, then open streams.
    pub fn finish(&mut self, sink: &mut dyn Sink) {
        let mut stats = self.stats;
        let mut stopped = self.stopped;
        let mut out = Out {
            sink,
            stats: &mut stats,
            stopped: &mut stopped,
        };
        self.frags.evict_all(&mut out);
        self.tcp.finish(&mut out);
        self.stats = stats;
        self.stopped = stopped;
    }

    fn ip(&mut self, pkt: &Pkt<'_>, d: &[u8], depth: u8, out: &mut Out<'_>) {
        match d.first().map(|b| b >> 4) {
            Some(4) => self.ipv4(pkt, d, depth, out),
            Some(6) => self.ipv6(pkt, d, depth, out),
            _ => out.skip(pkt.frame, "not an IPv4 or IPv6 packet"),
        }
    }

    /// Whether the capture kept less of the packet than was on the wire.
    fn is_snapped(pkt: &Pkt<'_>) -> bool {
        (pkt.orig_len as usize) > pkt.data.len()
    }

    fn snapped(pkt: &Pkt<'_>) -> &'static str {
        if Self::is_snapped(pkt) {
            "packet cut short by the capture's snapshot length"
        } else {
            "ip length beyond the end of the frame"
        }
    }

    /// IPv4 (RFC 791 §3.1).
    fn ipv4(&mut self, pkt: &Pkt<'_>, d: &[u8], depth: u8, out: &mut Out<'_>) {
        let Some(h) = d.get(..20) else {
            return out.skip(pkt.frame, "ipv4 header truncated");
        };
        let ihl = usize::from(h[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
        // Segmentation offload on the capturing host leaves the total length 0.
        let total = if total == 0 { d.len() } else { total };
        if ihl < 20 || total < ihl {
            return out.skip(pkt.frame, "ipv4 header length invalid");
        }
        let fo = u16::from_be_bytes([h[6], h[7]]);
        let more = fo & 0x2000 != 0;
        let offset = usize::from(fo & 0x1fff) * 8;
        // A packet cut by the snapshot length still carries the start of its payload: pass
        // that on (the dissector shows it as truncated), except a fragment, which could not
        // be reassembled from a piece.
        let total = match total > d.len() {
            true if Self::is_snapped(pkt) && !more && offset == 0 => d.len(),
            true => return out.skip(pkt.frame, Self::snapped(pkt)),
            false => total,
        };
        let proto = h[9];
        let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
        let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
        let body = &d[ihl..total];
        if more || offset > 0 {
            let key = FragKey {
                src,
                dst,
                ident: u32::from(u16::from_be_bytes([h[4], h[5]])),
                proto,
            };
            self.fragment(pkt, key, proto, offset, more, body, depth, out);
            return;
        }
        self.transport(pkt, proto, src, dst, body, None, depth, out);
    }

    /// IPv6 (RFC 8200 §3, §4).
    fn ipv6(&mut self, pkt: &Pkt<'_>, d: &[u8], depth: u8, out: &mut Out<'_>) {
        let Some(h) = d.get(..40) else {
            return out.skip(pkt.frame, "ipv6 header truncated");
        };
        let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
        let end = if plen == 0 { d.len() } else { 40 + plen };
        let end = if end > d.len() && Self::is_snapped(pkt) {
            d.len()
        } else {
            end
        };
        if end > d.len() {
            return out.skip(pkt.frame, Self::snapped(pkt));
        }
        let d = &d[..end];
        let src = IpAddr::V6(Ipv6Addr::from(to16(&h[8..24])));
        let dst = IpAddr::V6(Ipv6Addr::from(to16(&h[24..40])));
        match v6_walk(h[6], d, 40) {
            Err(why) => out.skip(pkt.frame, why),
            Ok(V6Next::Stop) => out.stats.ignored += 1,
            Ok(V6Next::Transport { proto, at }) => {
                self.transport(pkt, proto, src, dst, &d[at..], None, depth, out);
            }
            Ok(V6Next::Fragment {
                next,
                offset,
                more,
                ident,
                at,
            }) => {
                let Some(body) = d.get(at..) else {
                    return out.skip(pkt.frame, "ipv6 fragment header truncated");
                };
                let key = FragKey {
                    src,
                    dst,
                    ident,
                    proto: 0,
                };
                self.fragment(pkt, key, next, offset, more, body, depth, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn fragment(
        &mut self,
        pkt: &Pkt<'_>,
        key: FragKey,
        proto: u8,
        offset: usize,
        more: bool,
        body: &[u8],
        depth: u8,
        out: &mut Out<'_>,
    ) {
        let raw = self.opts.keep_packets.then(|| pkt.raw());
        let added = self
            .frags
            .add(key, proto, offset, more, body, pkt, raw, &self.opts, out);
        let Some(done) = added else { return };
        let (src, dst) = (key.src, key.dst);
        if key.proto == 0 {
            // IPv6: headers after the fragment header are part of the reassembled data.
            match v6_walk(done.proto, &done.data, 0) {
                Ok(V6Next::Transport { proto, at }) => {
                    let data = done.data.get(at..).unwrap_or_default();
                    self.transport(pkt, proto, src, dst, data, Some(&done.packets), depth, out);
                }
                Ok(_) => out.stats.ignored += 1,
                Err(why) => out.skip(pkt.frame, why),
            }
        } else {
            self.transport(
                pkt,
                done.proto,
                src,
                dst,
                &done.data,
                Some(&done.packets),
                depth,
                out,
            );
        }
    }

    /// Dispatches an IP payload on its protocol number.
    #[allow(clippy::too_many_arguments)]
    fn transport(
        &mut self,
        pkt: &Pkt<'_>,
        proto: u8,
        src: IpAddr,
        dst: IpAddr,
        d: &[u8],
        frag_packets: Option<&[RawPacket]>,
        depth: u8,
        out: &mut Out<'_>,
    ) {
        let owned;
        let packets: &[RawPacket] = match frag_packets {
            Some(p) => p,
            None if self.opts.keep_packets => {
                owned = [pkt.raw()];
                &owned
            }
            None => &[],
        };
        match proto {
            17 => self.udp(pkt, src, dst, d, packets, out),
            6 => {
                let Some(h) = d.get(..20) else {
                    return out.skip(pkt.frame, "tcp header truncated");
                };
                let doff = usize::from(h[12] >> 4) * 4;
                let Some(data) = d.get(doff.max(20)..) else {
                    return out.skip(pkt.frame, "tcp header length beyond the segment");
                };
                if doff < 20 {
                    return out.skip(pkt.frame, "tcp header length invalid");
                }
                let seg = Segment {
                    frame: pkt.frame,
                    time: pkt.time,
                    src: SocketAddr::new(src, u16::from_be_bytes([h[0], h[1]])),
                    dst: SocketAddr::new(dst, u16::from_be_bytes([h[2], h[3]])),
                    seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                    ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
                    flags: h[13],
                    data,
                    packets,
                };
                self.tcp.segment(&seg, out);
            }
            4 | 41 if depth < MAX_TUNNEL_DEPTH => self.ip(pkt, d, depth + 1, out),
            _ => out.stats.ignored += 1,
        }
    }

    /// UDP (RFC 768); HEP inside is unwrapped.
    fn udp(
        &mut self,
        pkt: &Pkt<'_>,
        src: IpAddr,
        dst: IpAddr,
        d: &[u8],
        packets: &[RawPacket],
        out: &mut Out<'_>,
    ) {
        let Some(h) = d.get(..8) else {
            return out.skip(pkt.frame, "udp header truncated");
        };
        let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
        // Length 0 is a jumbogram (RFC 2675) or offload; take what the IP layer gave.
        let end = if len == 0 { d.len() } else { len };
        // Cut by the snapshot length: what was kept, and how much was not.
        let (end, snapped) = if end > d.len() && Self::is_snapped(pkt) {
            (d.len(), end - d.len())
        } else {
            (end, 0)
        };
        if end < 8 || end > d.len() {
            return out.skip(pkt.frame, "udp length does not match the ip payload");
        }
        let data = &d[8..end];
        let src = SocketAddr::new(src, u16::from_be_bytes([h[0], h[1]]));
        let dst = SocketAddr::new(dst, u16::from_be_bytes([h[2], h[3]]));
        match super::hep::parse(data) {
            None => out.payload(&Payload {
                frame: pkt.frame,
                time: pkt.time,
                src,
                dst,
                transport: Transport::Udp,
                framing: Framing::Datagram,
                data,
                hep: false,
                snapped,
                packets,
            }),
            Some(Ok(h)) => out.payload(&Payload {
                frame: pkt.frame,
                time: h.time.unwrap_or(pkt.time),
                src: h.src,
                dst: h.dst,
                transport: h.transport,
                framing: Framing::Datagram,
                data: h.payload,
                hep: true,
                snapped: 0,
                packets,
            }),
            Some(Err(why)) => out.skip(pkt.frame, why),
        }
    }
}

fn to16(v: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(&v[..16]);
    a
}

/// Identifies the fragments of one datagram (RFC 791: source, destination, protocol,
/// identification; RFC 8200 §4.5: source, destination, identification). `proto` is 0 for IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FragKey {
    src: IpAddr,
    dst: IpAddr,
    ident: u32,
    proto: u8,
}

/// The fragments of one datagram received so far.
#[derive(Debug)]
struct FragBuf {
    data: Vec<u8>,
    /// Byte ranges of `data` received, sorted and merged.
    have: Vec<(usize, usize)>,
    total: Option<usize>,
    /// The protocol (IPv4) or first next-header (IPv6) of the datagram.
    proto: u8,
    frames: Vec<u64>,
    first: Timestamp,
    packets: Vec<RawPacket>,
}

impl FragBuf {
    fn received(&self) -> usize {
        self.have.iter().map(|(a, b)| b - a).sum()
    }

    fn complete(&self) -> bool {
        matches!((self.total, self.have.as_slice()), (Some(t), [(0, end)]) if *end == t)
    }

    fn insert(&mut self, start: usize, end: usize) {
        self.have.push((start, end));
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.have.len());
        for &(a, b) in &self.have {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.have = merged;
    }
}

/// IP reassembly within [`Options::fragment_budget`] bytes and
/// [`Options::fragment_timeout`] of capture time.
#[derive(Debug, Default)]
struct Fragments {
    map: HashMap<FragKey, FragBuf>,
    /// Bytes held across all datagrams.
    used: usize,
    /// Earliest first-fragment time of any datagram held: nothing expires before it + timeout.
    oldest: Option<Timestamp>,
}

/// The largest datagram (IPv4 total length, IPv6 payload length) without jumbograms.
const MAX_DATAGRAM: usize = 65_535;

impl Fragments {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        key: FragKey,
        proto: u8,
        offset: usize,
        more: bool,
        body: &[u8],
        pkt: &Pkt<'_>,
        raw: Option<RawPacket>,
        opts: &Options,
        out: &mut Out<'_>,
    ) -> Option<FragBuf> {
        let end = offset + body.len();
        if end > MAX_DATAGRAM {
            out.skip(pkt.frame, "ip fragment ends beyond the largest datagram");
            return None;
        }
        if more && body.len() % 8 != 0 {
            out.skip(
                pkt.frame,
                "ip fragment that is not the last is not a multiple of 8 bytes",
            );
            return None;
        }
        // Make room: give up the oldest datagrams first.
        while self.used + body.len() > opts.fragment_budget && !self.map.is_empty() {
            let oldest = self
                .map
                .iter()
                .filter(|(k, _)| **k != key)
                .min_by_key(|(_, b)| b.first)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => self.evict(k, out),
                None => break,
            }
        }
        let buf = self.map.entry(key).or_insert_with(|| FragBuf {
            data: Vec::new(),
            have: Vec::new(),
            total: None,
            proto,
            frames: Vec::new(),
            first: pkt.time,
            packets: Vec::new(),
        });
        if buf.data.len() < end {
            self.used += end - buf.data.len();
            buf.data.resize(end, 0);
        }
        buf.data[offset..end].copy_from_slice(body);
        buf.insert(offset, end);
        if offset == 0 {
            buf.proto = proto;
        }
        if !more {
            buf.total = Some(end);
        }
        buf.frames.push(pkt.frame);
        buf.packets.extend(raw);
        self.oldest = Some(self.oldest.map_or(buf.first, |o| o.min(buf.first)));
        if self.used > opts.fragment_budget {
            // This one datagram alone is larger than the budget.
            self.evict(key, out);
            return None;
        }
        if buf.complete() {
            let mut done = self.map.remove(&key)?;
            self.used = self.used.saturating_sub(done.data.len());
            if let Some(t) = done.total {
                done.data.truncate(t);
            }
            return Some(done);
        }
        None
    }

    fn evict(&mut self, key: FragKey, out: &mut Out<'_>) {
        if let Some(buf) = self.map.remove(&key) {
            self.used = self.used.saturating_sub(buf.data.len());
            out.notice(Notice::FragmentsIncomplete {
                received: buf.received(),
                frames: buf.frames,
                src: key.src,
                dst: key.dst,
                total: buf.total,
            });
        }
    }

    fn expire(&mut self, now: Timestamp, opts: &Options, out: &mut Out<'_>) {
        let Some(oldest) = self.oldest else { return };
        let limit = i128::try_from(opts.fragment_timeout.as_nanos()).unwrap_or(i128::MAX);
        if now.nanos_since(oldest) <= limit {
            return;
        }
        let mut old: Vec<(Timestamp, FragKey)> = self
            .map
            .iter()
            .filter(|(_, b)| now.nanos_since(b.first) > limit)
            .map(|(k, b)| (b.first, *k))
            .collect();
        old.sort_by_key(|(t, k)| (*t, k.ident));
        for (_, k) in old {
            self.evict(k, out);
        }
        self.oldest = self.map.values().map(|b| b.first).min();
    }

    fn evict_all(&mut self, out: &mut Out<'_>) {
        let mut all: Vec<(Timestamp, FragKey)> =
            self.map.iter().map(|(k, b)| (b.first, *k)).collect();
        all.sort_by_key(|(t, k)| (*t, k.ident));
        for (_, k) in all {
            self.evict(k, out);
        }
        self.oldest = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::write::{self, Link};

    #[test]
    fn links_reach_the_ip_header() {
        let ip = write::ip_udp(
            "10.0.0.1:5060".parse().expect("addr"),
            "10.0.0.2:5060".parse().expect("addr"),
            b"x",
        );
        for l in [
            Link::ethernet(),
            Link::Ethernet { vlans: vec![10] },
            Link::Ethernet {
                vlans: vec![10, 20],
            },
            Link::Pppoe { session: 7 },
            Link::Sll,
            Link::Sll2,
            Link::Raw,
            Link::Null,
            Link::Loop,
        ] {
            let frame = l.wrap(&ip);
            match link(l.linktype(), &frame) {
                L3::Ip(d) => assert_eq!(d, &ip[..], "{l:?}"),
                _ => panic!("{l:?} not decoded"),
            }
        }
        assert!(matches!(link(1, &[0u8; 13]), L3::Bad(_)));
        assert!(matches!(link(147, &[0u8; 40]), L3::Unsupported));
        // ARP is not IP.
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(matches!(link(1, &arp), L3::NotIp));
    }

    #[test]
    fn v6_extension_headers_are_walked() {
        // Hop-by-hop (8 bytes) then destination options (16 bytes) then UDP.
        let mut d = vec![60, 0, 0, 0, 0, 0, 0, 0];
        d.extend([17, 1]);
        d.extend([0u8; 14]);
        d.extend([1, 2, 3]);
        match v6_walk(0, &d, 0) {
            Ok(V6Next::Transport { proto: 17, at: 24 }) => {}
            _ => panic!("walk failed"),
        }
        assert!(v6_walk(0, &d[..1], 0).is_err());
        assert!(matches!(v6_walk(59, &d, 0), Ok(V6Next::Stop)));
    }

    #[test]
    fn fragment_ranges_merge() {
        let mut b = FragBuf {
            data: vec![],
            have: vec![],
            total: Some(24),
            proto: 17,
            frames: vec![],
            first: Timestamp::default(),
            packets: vec![],
        };
        b.insert(16, 24);
        assert!(!b.complete());
        b.insert(0, 8);
        b.insert(4, 16);
        assert_eq!(b.have, vec![(0, 24)]);
        assert!(b.complete());
        assert_eq!(b.received(), 24);
    }
}
