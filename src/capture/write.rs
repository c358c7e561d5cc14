//! Writing captures and synthesising the packets in them. `decode-pcap --write` writes classic
//! pcap through [`PcapWriter`], `listen --write-pcap` streams pcapng through [`PcapngWriter`]; tests build captures with
//! the same writer and the packet helpers below (Ethernet/SLL2/raw framing, IPv4/IPv6, UDP and
//! TCP with correct checksums, IP fragmentation, HEP2/HEP3, WebSocket frames), so every feature
//! of the reader can be exercised without a capture made elsewhere.
//!
//! The helpers build each layer as a `Vec<u8>` and wrap it in the next: they are meant for tests
//! and for writing out what was captured, not for a hot path.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

use super::{Timestamp, Transport};

/// LINKTYPE_ values (<https://www.tcpdump.org/linktypes.html>) the reader understands.
pub mod linktype {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: u16 = 0;
    pub const ETHERNET: u16 = 1;
    /// PPP (RFC 1661), optionally in HDLC-like framing (RFC 1662).
    pub const PPP: u16 = 9;
    /// DLT_RAW as tshark maps it on some BSDs.
    pub const DLT_RAW_12: u16 = 12;
    /// DLT_RAW as tshark maps it on OpenBSD.
    pub const DLT_RAW_14: u16 = 14;
    pub const RAW: u16 = 101;
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    pub const LOOP: u16 = 108;
    pub const LINUX_SLL: u16 = 113;
    pub const IPV4: u16 = 228;
    pub const IPV6: u16 = 229;
    pub const LINUX_SLL2: u16 = 276;
}

/// How a classic pcap file header is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapFormat {
    pub linktype: u16,
    /// Nanosecond timestamps (magic a1b23c4d) instead of microseconds (a1b2c3d4).
    pub nanos: bool,
    /// Write big-endian headers (as a SPARC or PowerPC host would); the default is little-endian.
    pub big_endian: bool,
    pub snaplen: u32,
}

impl PcapFormat {
    /// Little-endian, nanosecond timestamps, snaplen 262144: loses nothing.
    pub fn new(linktype: u16) -> PcapFormat {
        PcapFormat {
            linktype,
            nanos: true,
            big_endian: false,
            snaplen: 262_144,
        }
    }
}

/// A classic pcap writer (not pcapng: every tool reads classic pcap, and one link type per file
/// is all `--write` needs).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    format: PcapFormat,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte file header.
    pub fn new(mut out: W, format: PcapFormat) -> io::Result<PcapWriter<W>> {
        let magic: u32 = if format.nanos {
            0xa1b2_3c4d
        } else {
            0xa1b2_c3d4
        };
        let mut h = Vec::with_capacity(24);
        let be = format.big_endian;
        put32(&mut h, magic, be);
        put16(&mut h, 2, be);
        put16(&mut h, 4, be);
        put32(&mut h, 0, be); // thiszone
        put32(&mut h, 0, be); // sigfigs
        put32(&mut h, format.snaplen, be);
        put32(&mut h, u32::from(format.linktype), be);
        out.write_all(&h)?;
        Ok(PcapWriter { out, format })
    }

    /// Writes one packet whose original length is its captured length.
    pub fn write_packet(&mut self, time: Timestamp, data: &[u8]) -> io::Result<()> {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.write_packet_orig(time, data, len)
    }

    /// Writes one packet; `data` is cut to the snaplen, `orig_len` is the length on the wire.
    pub fn write_packet_orig(
        &mut self,
        time: Timestamp,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        let cap = data.len().min(self.format.snaplen as usize);
        let data = &data[..cap];
        let be = self.format.big_endian;
        let frac = if self.format.nanos {
            time.nanos
        } else {
            time.nanos / 1000
        };
        let mut h = [0u8; 16];
        let secs = u32::try_from(time.secs).unwrap_or(0);
        let fields = [secs, frac, cap as u32, orig_len.max(cap as u32)];
        for (i, v) in fields.iter().enumerate() {
            let b = if be { v.to_be_bytes() } else { v.to_le_bytes() };
            h[i * 4..i * 4 + 4].copy_from_slice(&b);
        }
        self.out.write_all(&h)?;
        self.out.write_all(data)
    }

    /// Writes a packet kept by the reader ([`super::RawPacket`]) as it was captured.
    pub fn write_raw(&mut self, packet: &super::RawPacket) -> io::Result<()> {
        self.write_packet_orig(packet.time, &packet.data, packet.orig_len)
    }

    pub fn format(&self) -> PcapFormat {
        self.format
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A minimal pcapng writer for tests of the reader: several interfaces with different link
/// types and the three kinds of packet block. Little-endian, microsecond resolution unless
/// the interface says otherwise.
#[derive(Debug, Default)]
pub struct PcapngBuilder {
    out: Vec<u8>,
    /// Per interface: units per second of its timestamps.
    resolutions: Vec<u64>,
}

impl PcapngBuilder {
    /// Starts a file with a section header block.
    pub fn new() -> PcapngBuilder {
        let mut b = PcapngBuilder::default();
        let mut body = Vec::new();
        body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        b.block(0x0a0d_0d0a, &body);
        b
    }

    fn block(&mut self, kind: u32, body: &[u8]) {
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        self.out.extend_from_slice(&kind.to_le_bytes());
        self.out.extend_from_slice(&total.to_le_bytes());
        self.out.extend_from_slice(body);
        self.out.resize(self.out.len() + padded - body.len(), 0);
        self.out.extend_from_slice(&total.to_le_bytes());
    }

    /// Adds an interface; `tsresol_nanos` gives it nanosecond timestamps (if_tsresol = 9).
    /// Returns its interface id.
    pub fn interface(&mut self, linktype: u16, tsresol_nanos: bool) -> u32 {
        let mut body = Vec::new();
        body.extend_from_slice(&linktype.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&262_144u32.to_le_bytes());
        if tsresol_nanos {
            // if_tsresol option (9), length 1, value 9, padded; then opt_endofopt.
            body.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        }
        self.block(0x0000_0001, &body);
        self.resolutions.push(if tsresol_nanos {
            1_000_000_000
        } else {
            1_000_000
        });
        (self.resolutions.len() - 1) as u32
    }

    fn ticks(&self, if_id: u32, time: Timestamp) -> u64 {
        let res = self
            .resolutions
            .get(if_id as usize)
            .copied()
            .unwrap_or(1_000_000);
        let secs = u64::try_from(time.secs).unwrap_or(0);
        secs * res + u64::from(time.nanos) * res / 1_000_000_000
    }

    /// Adds an enhanced packet block.
    pub fn enhanced(&mut self, if_id: u32, time: Timestamp, data: &[u8]) {
        let ts = self.ticks(if_id, time);
        let mut body = Vec::new();
        body.extend_from_slice(&if_id.to_le_bytes());
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        self.block(0x0000_0006, &body);
    }

    /// Adds a simple packet block (no timestamp; always interface 0).
    pub fn simple(&mut self, data: &[u8]) {
        let mut body = Vec::new();
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        self.block(0x0000_0003, &body);
    }

    /// Adds an obsolete packet block (block type 2, pcapng drafts before EPB).
    pub fn obsolete(&mut self, if_id: u16, time: Timestamp, data: &[u8]) {
        let ts = self.ticks(u32::from(if_id), time);
        let mut body = Vec::new();
        body.extend_from_slice(&if_id.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        self.block(0x0000_0002, &body);
    }

    /// Adds a custom block (0x00000BAD, or 0x40000BAD when not to be copied) with this
    /// Private Enterprise Number and data.
    pub fn custom(&mut self, copyable: bool, pen: u32, data: &[u8]) {
        let mut body = pen.to_le_bytes().to_vec();
        body.extend_from_slice(data);
        self.block(if copyable { 0x0000_0bad } else { 0x4000_0bad }, &body);
    }

    /// Adds a systemd journal export block holding one entry (`FIELD=value` lines).
    pub fn journal_export(&mut self, entry: &[u8]) {
        self.block(0x0000_0009, entry);
    }

    /// Adds a decryption secrets block (`kind` 0x544c534b is a TLS key log).
    pub fn decryption_secrets(&mut self, kind: u32, secrets: &[u8]) {
        let mut body = kind.to_le_bytes().to_vec();
        body.extend_from_slice(&(secrets.len() as u32).to_le_bytes());
        body.extend_from_slice(secrets);
        self.block(0x0000_000a, &body);
    }

    /// Adds a block of any type with this body (padded to 32 bits).
    pub fn other(&mut self, kind: u32, body: &[u8]) {
        self.block(kind, body);
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// A pcapng writer that streams (`listen --write-pcap`): a section header and one interface
/// with nanosecond timestamps up front, then one enhanced packet block per packet as it comes,
/// so a capture cut short by a crash is still readable up to its last whole block.
/// Little-endian, as pcapng readers accept either byte order (pcapng draft §4.1).
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    block: Vec<u8>,
}

/// Appends one pcapng block (type, total length, body padded to 32 bits, total length again).
fn pcapng_block(out: &mut Vec<u8>, kind: u32, body: &[u8]) -> io::Result<()> {
    let padded = body.len().div_ceil(4) * 4;
    let total = u32::try_from(12 + padded)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcapng block over 4 GiB"))?;
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.resize(out.len() + padded - body.len(), 0);
    out.extend_from_slice(&total.to_le_bytes());
    Ok(())
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header block and an interface description block for `linktype`
    /// (if_tsresol = 9: nanoseconds).
    pub fn new(mut out: W, linktype: u16) -> io::Result<PcapngWriter<W>> {
        let mut head = Vec::new();
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        // Section length unknown: the file is written as it goes.
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        pcapng_block(&mut head, 0x0a0d_0d0a, &shb)?;
        let mut idb = Vec::new();
        idb.extend_from_slice(&linktype.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&262_144u32.to_le_bytes());
        // if_tsresol (9), length 1, value 9, padding; opt_endofopt.
        idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        pcapng_block(&mut head, 0x0000_0001, &idb)?;
        out.write_all(&head)?;
        Ok(PcapngWriter {
            out,
            block: Vec::new(),
        })
    }

    /// One enhanced packet block on interface 0.
    pub fn write_packet(&mut self, time: Timestamp, data: &[u8]) -> io::Result<()> {
        let secs = u64::try_from(time.secs).unwrap_or(0);
        let ts = secs
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(time.nanos));
        let len = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet over 4 GiB"))?;
        let mut body = Vec::with_capacity(20 + data.len());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(data);
        self.block.clear();
        pcapng_block(&mut self.block, 0x0000_0006, &body)?;
        self.out.write_all(&self.block)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

/// TCP header flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// ACK|PSH: an ordinary data segment.
    pub const DATA: TcpFlags = TcpFlags(0x18);
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// The link layer to wrap an IP packet in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II with zero or more 802.1Q tags (VLAN ids, outermost first; more than one is
    /// QinQ, the outer tag written with TPID 0x88a8).
    Ethernet {
        vlans: Vec<u16>,
    },
    /// Ethernet carrying PPPoE session frames (RFC 2516) with this session id.
    Pppoe {
        session: u16,
    },
    Sll,
    Sll2,
    /// LINKTYPE_RAW (101): the IP packet itself.
    Raw,
    /// LINKTYPE_PPP (9): a PPP frame (RFC 1661), with the HDLC-like address and control bytes
    /// `ff 03` (RFC 1662) when `hdlc`, and a one-byte protocol field when `compressed`
    /// (protocol-field compression, RFC 1661 §6.5).
    Ppp {
        hdlc: bool,
        compressed: bool,
    },
    /// BSD loopback, family in little-endian.
    Null,
    /// OpenBSD loopback, family in big-endian.
    Loop,
}

impl Link {
    /// Plain Ethernet without tags.
    pub fn ethernet() -> Link {
        Link::Ethernet { vlans: Vec::new() }
    }

    /// The LINKTYPE_ value for the file header.
    pub fn linktype(&self) -> u16 {
        match self {
            Link::Ethernet { .. } | Link::Pppoe { .. } => linktype::ETHERNET,
            Link::Sll => linktype::LINUX_SLL,
            Link::Sll2 => linktype::LINUX_SLL2,
            Link::Raw => linktype::RAW,
            Link::Ppp { .. } => linktype::PPP,
            Link::Null => linktype::NULL,
            Link::Loop => linktype::LOOP,
        }
    }

    /// Wraps an IPv4 or IPv6 packet (the version is read from its first byte).
    pub fn wrap(&self, ip: &[u8]) -> Vec<u8> {
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        let ethertype: u16 = if v6 { 0x86dd } else { 0x0800 };
        let mut out = Vec::with_capacity(ip.len() + 40);
        match self {
            Link::Ethernet { vlans } => {
                out.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]);
                for (i, vlan) in vlans.iter().enumerate() {
                    let tpid: u16 = if i + 1 < vlans.len() { 0x88a8 } else { 0x8100 };
                    out.extend_from_slice(&tpid.to_be_bytes());
                    out.extend_from_slice(&(vlan & 0x0fff).to_be_bytes());
                }
                out.extend_from_slice(&ethertype.to_be_bytes());
                out.extend_from_slice(ip);
            }
            Link::Pppoe { session } => {
                out.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0x64]);
                out.extend_from_slice(&[0x11, 0x00]);
                out.extend_from_slice(&session.to_be_bytes());
                out.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
                out.extend_from_slice(if v6 { &[0x00, 0x57] } else { &[0x00, 0x21] });
                out.extend_from_slice(ip);
            }
            Link::Sll => {
                // packet type 0 (to us), ARPHRD_ETHER, address length 6, address, protocol.
                out.extend_from_slice(&[0, 0, 0, 1, 0, 6, 0x02, 0, 0, 0, 0, 1, 0, 0]);
                out.extend_from_slice(&ethertype.to_be_bytes());
                out.extend_from_slice(ip);
            }
            Link::Sll2 => {
                out.extend_from_slice(&ethertype.to_be_bytes());
                out.extend_from_slice(&[0, 0]); // reserved
                out.extend_from_slice(&1u32.to_be_bytes()); // interface index
                out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
                out.extend_from_slice(&[0, 6]); // packet type, address length
                out.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0, 0]);
                out.extend_from_slice(ip);
            }
            Link::Raw => out.extend_from_slice(ip),
            Link::Ppp { hdlc, compressed } => {
                if *hdlc {
                    out.extend_from_slice(&[0xff, 0x03]);
                }
                let protocol: u8 = if v6 { 0x57 } else { 0x21 };
                if !*compressed {
                    out.push(0);
                }
                out.push(protocol);
                out.extend_from_slice(ip);
            }
            Link::Null => {
                let family: u32 = if v6 { 30 } else { 2 };
                out.extend_from_slice(&family.to_le_bytes());
                out.extend_from_slice(ip);
            }
            Link::Loop => {
                let family: u32 = if v6 { 24 } else { 2 };
                out.extend_from_slice(&family.to_be_bytes());
                out.extend_from_slice(ip);
            }
        }
        out
    }
}

/// The Internet checksum (RFC 1071) of `data` added to `sum`, not yet folded.
fn sum16(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pseudo_sum(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u32 {
    let mut sum = 0;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum = sum16(sum, &s.octets());
            sum = sum16(sum, &d.octets());
        }
        _ => {
            sum = sum16(sum, &v6_octets(src));
            sum = sum16(sum, &v6_octets(dst));
        }
    }
    sum + u32::from(proto) + (len as u32 & 0xffff) + ((len as u32) >> 16)
}

fn v6_octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// An IPv4 packet (when both addresses are IPv4) or IPv6 packet around `payload`.
/// `ident` is the IPv4 identification (ignored for IPv6). The DF bit is not set.
pub fn ip_packet(src: IpAddr, dst: IpAddr, proto: u8, ident: u16, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + payload.len()) as u16;
            let mut h = Vec::with_capacity(20 + payload.len());
            h.extend_from_slice(&[0x45, 0]);
            h.extend_from_slice(&total.to_be_bytes());
            h.extend_from_slice(&ident.to_be_bytes());
            h.extend_from_slice(&[0, 0, 64, proto, 0, 0]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let ck = fold(sum16(0, &h));
            h[10..12].copy_from_slice(&ck.to_be_bytes());
            h.extend_from_slice(payload);
            h
        }
        _ => {
            let mut h = Vec::with_capacity(40 + payload.len());
            h.extend_from_slice(&[0x60, 0, 0, 0]);
            h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            h.extend_from_slice(&[proto, 64]);
            h.extend_from_slice(&v6_octets(src));
            h.extend_from_slice(&v6_octets(dst));
            h.extend_from_slice(payload);
            h
        }
    }
}

/// A UDP datagram (header and payload) with its checksum computed over the pseudo-header.
pub fn udp_segment(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut u = Vec::with_capacity(len);
    u.extend_from_slice(&src.port().to_be_bytes());
    u.extend_from_slice(&dst.port().to_be_bytes());
    u.extend_from_slice(&(len as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let mut ck = fold(sum16(pseudo_sum(src.ip(), dst.ip(), 17, len), &u));
    if ck == 0 {
        ck = 0xffff;
    }
    u[6..8].copy_from_slice(&ck.to_be_bytes());
    u
}

/// A TCP segment (20-byte header, no options) with its checksum.
pub fn tcp_segment(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    payload: &[u8],
) -> Vec<u8> {
    let len = 20 + payload.len();
    let mut t = Vec::with_capacity(len);
    t.extend_from_slice(&src.port().to_be_bytes());
    t.extend_from_slice(&dst.port().to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[5 << 4, flags.0]);
    t.extend_from_slice(&65535u16.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(payload);
    let ck = fold(sum16(pseudo_sum(src.ip(), dst.ip(), 6, len), &t));
    t[16..18].copy_from_slice(&ck.to_be_bytes());
    t
}

/// An IP packet carrying one UDP datagram.
pub fn ip_udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    ip_packet(src.ip(), dst.ip(), 17, 1, &udp_segment(src, dst, payload))
}

/// An IP packet carrying one TCP segment.
pub fn ip_tcp(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    payload: &[u8],
) -> Vec<u8> {
    let seg = tcp_segment(src, dst, seq, ack, flags, payload);
    ip_packet(src.ip(), dst.ip(), 6, 1, &seg)
}

/// An Ethernet frame carrying a UDP datagram: the common case in one call.
pub fn ethernet_udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    Link::ethernet().wrap(&ip_udp(src, dst, payload))
}

/// Splits an IPv4 or IPv6 packet built by [`ip_packet`] (no IPv6 extension headers) into
/// fragments of at most `max_payload` bytes of fragmentable data each (rounded down to a
/// multiple of 8). IPv6 fragments carry a Fragment header with identification `ident`.
pub fn fragment(packet: &[u8], max_payload: usize, ident: u32) -> Vec<Vec<u8>> {
    let step = (max_payload / 8).max(1) * 8;
    let v6 = packet.first().is_some_and(|b| b >> 4 == 6);
    let hlen = if v6 {
        40
    } else {
        usize::from(packet.first().map_or(5, |b| b & 0x0f)) * 4
    };
    if packet.len() < hlen {
        return vec![packet.to_vec()];
    }
    let (header, body) = packet.split_at(hlen);
    let mut out = Vec::new();
    let mut off = 0;
    while off < body.len() || (off == 0 && body.is_empty()) {
        let end = (off + step).min(body.len());
        let more = end < body.len();
        let chunk = &body[off..end];
        let mut p = header.to_vec();
        if v6 {
            let next = p[6];
            p[6] = 44;
            p[4..6].copy_from_slice(&((chunk.len() + 8) as u16).to_be_bytes());
            p.push(next);
            p.push(0);
            let fo = (off as u16) | u16::from(more);
            p.extend_from_slice(&fo.to_be_bytes());
            p.extend_from_slice(&ident.to_be_bytes());
        } else {
            p[2..4].copy_from_slice(&((hlen + chunk.len()) as u16).to_be_bytes());
            let fo = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
            p[6..8].copy_from_slice(&fo.to_be_bytes());
            p[10..12].copy_from_slice(&[0, 0]);
            let ck = fold(sum16(0, &p[..hlen]));
            p[10..12].copy_from_slice(&ck.to_be_bytes());
        }
        p.extend_from_slice(chunk);
        out.push(p);
        if !more {
            break;
        }
        off = end;
    }
    out
}

/// A HEP3 (HOMER encapsulation protocol v3) packet carrying `payload` (protocol type 1, SIP)
/// with the inner addresses, transport and time. Send it as the payload of a UDP datagram.
pub fn hep3(
    src: SocketAddr,
    dst: SocketAddr,
    transport: Transport,
    time: Timestamp,
    payload: &[u8],
) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&((value.len() + 6) as u16).to_be_bytes());
        out.extend_from_slice(value);
    }
    let mut out = Vec::with_capacity(payload.len() + 100);
    out.extend_from_slice(b"HEP3\0\0");
    let v6 = src.is_ipv6() || dst.is_ipv6();
    chunk(&mut out, 1, &[if v6 { 10 } else { 2 }]);
    chunk(
        &mut out,
        2,
        &[if transport == Transport::Udp { 17 } else { 6 }],
    );
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            chunk(&mut out, 3, &s.octets());
            chunk(&mut out, 4, &d.octets());
        }
        (s, d) => {
            chunk(&mut out, 5, &v6_octets(s));
            chunk(&mut out, 6, &v6_octets(d));
        }
    }
    chunk(&mut out, 7, &src.port().to_be_bytes());
    chunk(&mut out, 8, &dst.port().to_be_bytes());
    chunk(
        &mut out,
        9,
        &u32::try_from(time.secs).unwrap_or(0).to_be_bytes(),
    );
    chunk(&mut out, 10, &(time.nanos / 1000).to_be_bytes());
    chunk(&mut out, 11, &[1]);
    chunk(&mut out, 12, &2001u32.to_be_bytes());
    chunk(&mut out, 15, payload);
    let len = out.len() as u16;
    out[4..6].copy_from_slice(&len.to_be_bytes());
    out
}

/// A HEP2 packet (the older fixed-header format, IPv4 or IPv6; time in host little-endian).
pub fn hep2(
    src: SocketAddr,
    dst: SocketAddr,
    transport: Transport,
    time: Timestamp,
    payload: &[u8],
) -> Vec<u8> {
    let v6 = src.is_ipv6() || dst.is_ipv6();
    let mut out = Vec::with_capacity(payload.len() + 64);
    out.push(2);
    out.push(if v6 { 40 } else { 16 });
    out.push(if v6 { 10 } else { 2 });
    out.push(if transport == Transport::Udp { 17 } else { 6 });
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) if !v6 => {
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            out.extend_from_slice(&v6_octets(s));
            out.extend_from_slice(&v6_octets(d));
        }
    }
    out.extend_from_slice(&u32::try_from(time.secs).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&(time.nanos / 1000).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // capture id
    out.extend_from_slice(&[0, 0]); // struct padding
    out.extend_from_slice(payload);
    out
}

/// WebSocket opcodes (RFC 6455 §5.2).
pub mod ws_opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xa;
}

/// One WebSocket frame (RFC 6455 §5.2): masked with `mask` when given (client to server),
/// with the 7-, 16- or 64-bit length form the payload needs.
pub fn ws_frame(fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(if fin { 0x80 } else { 0 } | (opcode & 0x0f));
    let m = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len();
    if n < 126 {
        out.push(m | n as u8);
    } else if n <= 0xffff {
        out.push(m | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// The HTTP/1.1 upgrade request a SIP-over-WebSocket client sends (RFC 7118 §5).
pub fn ws_upgrade_request(host: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// The server's 101 reply to [`ws_upgrade_request`].
pub fn ws_upgrade_response() -> Vec<u8> {
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
      Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_pcapng_matches_the_builder_byte_for_byte() {
        let time = Timestamp {
            secs: 1_700_000_000,
            nanos: 123_456_789,
        };
        let mut w = PcapngWriter::new(Vec::new(), linktype::RAW).expect("in memory");
        w.write_packet(time, b"abcde").expect("in memory");
        w.write_packet(time, b"").expect("in memory");
        let mut b = PcapngBuilder::new();
        let id = b.interface(linktype::RAW, true);
        b.enhanced(id, time, b"abcde");
        b.enhanced(id, time, b"");
        assert_eq!(w.into_inner(), b.finish());
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn ipv4_header_checksum_verifies() {
        let p = ip_udp(sa("10.0.0.1:5060"), sa("10.0.0.2:5060"), b"hello");
        assert_eq!(fold(sum16(0, &p[..20])), 0);
        // UDP checksum over pseudo-header + segment folds to zero too.
        let seg = &p[20..];
        let ps = pseudo_sum(sa("10.0.0.1:1").ip(), sa("10.0.0.2:1").ip(), 17, seg.len());
        assert_eq!(fold(sum16(ps, seg)), 0);
    }

    #[test]
    fn checksums_match_etherparse() {
        let frame = Link::ethernet().wrap(&ip_tcp(
            sa("[2001:db8::1]:5060"),
            sa("[2001:db8::2]:5061"),
            1000,
            7,
            TcpFlags::DATA,
            b"INVITE",
        ));
        let sliced = etherparse::SlicedPacket::from_ethernet(&frame).expect("parses");
        let Some(etherparse::TransportSlice::Tcp(tcp)) = sliced.transport else {
            panic!("no tcp");
        };
        let Some(etherparse::NetSlice::Ipv6(ip)) = sliced.net else {
            panic!("no ipv6");
        };
        let expect = tcp
            .to_header()
            .calc_checksum_ipv6(&ip.header().to_header(), tcp.payload())
            .expect("checksum");
        assert_eq!(tcp.checksum(), expect);
        assert_eq!(tcp.payload(), b"INVITE");
    }

    #[test]
    fn pcap_header_bytes() {
        let mut w = PcapWriter::new(Vec::new(), PcapFormat::new(linktype::ETHERNET)).expect("vec");
        w.write_packet(Timestamp { secs: 1, nanos: 5 }, b"abc")
            .expect("vec");
        let out = w.into_inner();
        assert_eq!(&out[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(&out[20..24], &[1, 0, 0, 0]);
        assert_eq!(
            &out[24..40],
            &[1, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0]
        );
        assert_eq!(&out[40..], b"abc");
    }

    #[test]
    fn ipv4_fragments_cover_the_datagram() {
        let p = ip_udp(sa("10.0.0.1:5060"), sa("10.0.0.2:5060"), &[7u8; 100]);
        let frags = fragment(&p, 40, 0);
        assert_eq!(frags.len(), 3);
        assert_eq!(frags[0][6] & 0x20, 0x20);
        assert_eq!(frags[2][6] & 0x20, 0);
        let body: usize = frags.iter().map(|f| f.len() - 20).sum();
        assert_eq!(body, p.len() - 20);
        for f in &frags {
            assert_eq!(fold(sum16(0, &f[..20])), 0);
        }
    }

    #[test]
    fn ws_frame_lengths_and_mask() {
        assert_eq!(ws_frame(true, 1, None, b"hi"), vec![0x81, 2, b'h', b'i']);
        let f = ws_frame(true, 2, Some([1, 2, 3, 4]), &[0u8; 200]);
        assert_eq!(&f[..4], &[0x82, 0x80 | 126, 0, 200]);
        assert_eq!(&f[4..8], &[1, 2, 3, 4]);
        assert_eq!(&f[8..12], &[1, 2, 3, 4]);
        let f = ws_frame(false, 0, None, &vec![0u8; 70_000]);
        assert_eq!(&f[..2], &[0x00, 127]);
        assert_eq!(f.len(), 10 + 70_000);
    }

    #[test]
    fn hep3_length_field_is_total() {
        let h = hep3(
            sa("10.0.0.1:5060"),
            sa("10.0.0.2:5060"),
            Transport::Udp,
            Timestamp::default(),
            b"x",
        );
        assert_eq!(&h[..4], b"HEP3");
        assert_eq!(usize::from(u16::from_be_bytes([h[4], h[5]])), h.len());
    }
}
