//! The capture layer (`sipkit::capture`) driven directly: real captures from
//! `tests/fixtures/pcap/` (counts cross-checked with tshark when they were added) and captures
//! synthesised with `capture::write` for each feature of issue #3.

use std::io::Cursor;
use std::net::SocketAddr;
use std::path::PathBuf;

use sipkit::capture::write::{self, Link, PcapFormat, PcapWriter, PcapngBuilder, TcpFlags};
use sipkit::capture::{
    CaptureError, Framing, Notice, Options, Payload, RawPacket, Reader, Sink, Stats, Timestamp,
    Transport,
};

/// A payload as the tests compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    frame: u64,
    time: Timestamp,
    src: SocketAddr,
    dst: SocketAddr,
    transport: Transport,
    framing: Framing,
    data: Vec<u8>,
    hep: bool,
    packets: Vec<RawPacket>,
}

#[derive(Debug, Default)]
struct Collect {
    payloads: Vec<Got>,
    notices: Vec<Notice>,
}

impl Sink for Collect {
    fn payload(&mut self, p: &Payload<'_>) -> std::ops::ControlFlow<()> {
        self.payloads.push(Got {
            frame: p.frame,
            time: p.time,
            src: p.src,
            dst: p.dst,
            transport: p.transport,
            framing: p.framing,
            data: p.data.to_vec(),
            hep: p.hep,
            packets: p.packets.to_vec(),
        });
        std::ops::ControlFlow::Continue(())
    }
    fn notice(&mut self, n: &Notice) {
        self.notices.push(n.clone());
    }
}

impl Collect {
    fn count(&self, t: Transport) -> usize {
        self.payloads.iter().filter(|p| p.transport == t).count()
    }
    /// Every stream payload of one direction, concatenated.
    fn stream(&self, src: SocketAddr) -> Vec<u8> {
        self.payloads
            .iter()
            .filter(|p| p.src == src && matches!(p.framing, Framing::Stream { .. }))
            .flat_map(|p| p.data.clone())
            .collect()
    }
    fn gaps(&self) -> Vec<u64> {
        self.notices
            .iter()
            .filter_map(|n| match n {
                Notice::StreamGap { missing, .. } => Some(*missing),
                _ => None,
            })
            .collect()
    }
    fn closed(&self) -> usize {
        self.notices
            .iter()
            .filter(|n| matches!(n, Notice::StreamClosed { .. }))
            .count()
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pcap")
        .join(name)
}

fn read_bytes(bytes: Vec<u8>, opts: Options) -> (Collect, Result<Stats, CaptureError>) {
    let mut sink = Collect::default();
    let result = Reader::new(Cursor::new(bytes), opts).and_then(|mut r| r.run(&mut sink));
    (sink, result)
}

fn read(bytes: Vec<u8>) -> Collect {
    let (sink, result) = read_bytes(bytes, Options::default());
    result.expect("capture reads");
    sink
}

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn t(ms: i64) -> Timestamp {
    Timestamp {
        secs: 1_700_000_000 + ms / 1000,
        nanos: (ms % 1000) as u32 * 1_000_000,
    }
}

/// A pcap of these link-layer frames, one millisecond apart.
fn pcap(link: u16, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), PcapFormat::new(link)).expect("vec");
    for (i, f) in frames.iter().enumerate() {
        w.write_packet(t(i as i64), f).expect("vec");
    }
    w.into_inner()
}

fn eth(ip: Vec<u8>) -> Vec<u8> {
    Link::ethernet().wrap(&ip)
}

// ---- real captures -------------------------------------------------------------------------

/// (file, UDP payloads, TCP directions carrying data) as tshark counts them:
/// `tshark -n -r F -Y 'udp && !icmp' | wc -l`.
const REAL: &[(&str, usize)] = &[
    ("DTMFsipinfo.pcap", 32),
    ("aaa.pcap", 590),
    ("ipip.pcap", 0),
    ("ipv6frag.pcap", 32),
    ("sip-auth-failure.pcapng", 8),
    ("sip-over-tcp.pcap", 68),
    ("sip-register.pcap", 2),
];

#[test]
fn real_captures_read_with_tshark_udp_counts() {
    for (name, udp) in REAL {
        let mut sink = Collect::default();
        let stats = Reader::open(&fixture(name), Options::default())
            .and_then(|mut r| r.run(&mut sink))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(sink.count(Transport::Udp), *udp, "{name}");
        assert!(stats.frames > 0, "{name}");
        let incomplete = sink
            .notices
            .iter()
            .filter(|n| matches!(n, Notice::FragmentsIncomplete { .. }))
            .count();
        assert_eq!(incomplete, 0, "{name}");
    }
}

/// A sink that returns `Break` (its output was closed) stops the reader: the rest of the
/// file is not read.
#[test]
fn sink_break_stops_reading() {
    struct First(u64);
    impl Sink for First {
        fn payload(&mut self, _: &Payload<'_>) -> std::ops::ControlFlow<()> {
            self.0 += 1;
            std::ops::ControlFlow::Break(())
        }
        fn notice(&mut self, _: &Notice) {}
    }
    let frames: Vec<Vec<u8>> = (0..10u8)
        .map(|i| write::ethernet_udp(sa(A), sa(B), &[b'x', i]))
        .collect();
    let mut sink = First(0);
    let stats = Reader::new(Cursor::new(pcap(1, &frames)), Options::default())
        .and_then(|mut r| r.run(&mut sink))
        .expect("a valid capture");
    assert_eq!(sink.0, 1);
    assert_eq!(stats.frames, 1);
    assert_eq!(stats.payloads, 1);
}

#[test]
fn ipv6_fragments_reassemble_to_whole_invites() {
    let mut sink = Collect::default();
    Reader::open(&fixture("ipv6frag.pcap"), Options::default())
        .and_then(|mut r| r.run(&mut sink))
        .expect("reads");
    let big: Vec<&Got> = sink
        .payloads
        .iter()
        .filter(|p| p.data.len() > 1400)
        .collect();
    assert!(!big.is_empty(), "no reassembled datagram");
    for p in big {
        assert!(p.data.starts_with(b"INVITE ") || p.data.starts_with(b"SIP/2.0 "));
        assert!(p.src.is_ipv6());
    }
}

#[test]
fn tcp_in_ip_in_ip_gives_the_sip_stream() {
    let sink = read(std::fs::read(fixture("ipip.pcap")).expect("fixture"));
    let tcp: Vec<&Got> = sink
        .payloads
        .iter()
        .filter(|p| p.transport == Transport::Tcp)
        .collect();
    assert_eq!(tcp.len(), 4);
    assert!(
        tcp.iter()
            .all(|p| p.data.starts_with(b"SIP/2.0 ") || p.data.windows(7).any(|w| w == b"SIP/2.0"))
    );
}

#[test]
fn sip_over_tcp_streams() {
    let sink = read(std::fs::read(fixture("sip-over-tcp.pcap")).expect("fixture"));
    let tcp: usize = sink.count(Transport::Tcp);
    assert_eq!(tcp, 7, "tshark: 7 segments with data");
    assert!(sink.gaps().is_empty());
    assert!(sink.closed() >= 2);
}

#[test]
fn pppoe_capture_is_decoded() {
    let sink = read(std::fs::read(fixture("DTMFsipinfo.pcap")).expect("fixture"));
    assert!(sink.payloads.iter().any(|p| p.data.starts_with(b"INFO ")));
}

#[test]
fn netmon_file_is_a_clear_format_error() {
    let err = Reader::open(&fixture("c07-sip-r2.cap"), Options::default()).expect_err("not pcap");
    assert_eq!(
        err.to_string(),
        "not a pcap or pcapng file: found Microsoft NetMon 2 magic `GMBU` at byte 0"
    );
    let (_, r) = read_bytes(
        b"INVITE sip:bob@example.com SIP/2.0\r\n".to_vec(),
        Options::default(),
    );
    assert_eq!(
        r.expect_err("text").to_string(),
        "not a pcap or pcapng file: found text `INVITE sip:bob@example.com SIP/2.0` at byte 0"
    );
}

/// Cutting a capture anywhere inside a record gives `Truncated` after the frames before the
/// cut were delivered; never a panic.
#[test]
fn truncated_captures_report_where_and_keep_earlier_packets() {
    for name in [
        "aaa.pcap",
        "sip-over-tcp.pcap",
        "sip-auth-failure.pcapng",
        "ipv6frag.pcap",
    ] {
        let full = std::fs::read(fixture(name)).expect("fixture");
        let whole = read(full.clone());
        let mut seed = 0x9e37_79b9u32;
        for _ in 0..40 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let cut = 30 + (seed as usize % (full.len() - 30));
            let (sink, r) = read_bytes(full[..cut].to_vec(), Options::default());
            match r {
                Err(CaptureError::Truncated { offset, frames }) => {
                    assert!(offset as usize <= cut, "{name} cut {cut}");
                    assert!(sink.payloads.len() <= whole.payloads.len());
                    // Every payload before the cut is the one the whole file gives.
                    let n = sink.payloads.iter().filter(|p| p.frame <= frames).count();
                    let w = whole
                        .payloads
                        .iter()
                        .filter(|p| p.frame <= frames && matches!(p.framing, Framing::Datagram))
                        .count();
                    let s = sink
                        .payloads
                        .iter()
                        .filter(|p| p.frame <= frames && matches!(p.framing, Framing::Datagram))
                        .count();
                    assert!(n > 0 || frames < 3, "{name} cut {cut}: nothing delivered");
                    assert_eq!(s, w, "{name} cut {cut}");
                }
                Ok(_) => {} // cut exactly at a record boundary
                Err(e) => panic!("{name} cut {cut}: {e}"),
            }
        }
    }
}

#[test]
fn gzip_and_stdin_style_readers() {
    let full = std::fs::read(fixture("sip-register.pcap")).expect("fixture");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &full).expect("vec");
    let gz = gz.finish().expect("vec");
    let sink = read(gz);
    assert_eq!(sink.count(Transport::Udp), 2);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, data).expect("vec");
    gz.finish().expect("vec")
}

/// Issue 14: a gzip capture cut anywhere gives every payload of the frames before the cut
/// (as the whole file does), then an error naming the cut in the compressed file; before, a
/// cut within the first 64 KiB of decompressed data gave nothing and "byte 0".
#[test]
fn issue_14_truncated_gzip_prints_messages_before_the_cut() {
    let full = std::fs::read(fixture("register-invite-reinvite-bye.pcap")).expect("fixture");
    let whole = read(full.clone());
    let gz = gzip(&full);
    let mut cuts: Vec<usize> = (1..8).map(|i| gz.len() * i / 8).collect();
    cuts.extend([1, 2, 10, 30, gz.len() - 8, gz.len() - 1]);
    for cut in cuts {
        let (sink, r) = read_bytes(gz[..cut].to_vec(), Options::default());
        match r {
            Err(CaptureError::Gzip {
                truncated: true,
                compressed,
                frames,
                ..
            }) => {
                assert_eq!(compressed, cut as u64, "cut {cut}");
                let before: Vec<&Got> = whole
                    .payloads
                    .iter()
                    .filter(|p| p.frame <= frames)
                    .collect();
                assert_eq!(sink.payloads.len(), before.len(), "cut {cut}");
                if cut > gz.len() / 2 {
                    assert!(!sink.payloads.is_empty(), "cut {cut}: nothing delivered");
                }
            }
            // Cut inside the gzip magic: not recognised as gzip.
            Err(CaptureError::Format { .. }) if cut < 2 => {}
            other => panic!("cut {cut}: {other:?}"),
        }
    }
    // The trailer's CRC and length are still checked: a member cut in them is truncated too.
    let (_, r) = read_bytes(gz[..gz.len() - 4].to_vec(), Options::default());
    let e = r.expect_err("cut in the trailer");
    assert!(
        e.to_string().starts_with(&format!(
            "gzip data truncated at byte {} of the gzip file",
            gz.len() - 4
        )),
        "{e}"
    );
}

/// Issue 14: bytes after a complete gzip member that are not another member are a notice, and
/// every packet is kept; another member is read on.
#[test]
fn issue_14_bytes_after_a_gzip_member_are_a_notice() {
    let full = std::fs::read(fixture("sip-register.pcap")).expect("fixture");
    let gz = gzip(&full);
    for tail in [
        &b"\n"[..],
        &[0u8; 512][..],
        b"garbage appended by an uploader",
    ] {
        let mut bytes = gz.clone();
        bytes.extend_from_slice(tail);
        let (sink, r) = read_bytes(bytes, Options::default());
        r.unwrap_or_else(|e| panic!("tail {tail:?}: {e}"));
        assert_eq!(sink.count(Transport::Udp), 2);
        assert_eq!(
            sink.notices.last(),
            Some(&Notice::TrailingData {
                offset: gz.len() as u64,
                bytes: tail.len() as u64
            })
        );
    }
    // Two members: one capture split across them (as `cat a.gz b.gz` of its halves gives).
    let (a, b) = full.split_at(full.len() / 2);
    let mut two = gzip(a);
    two.extend_from_slice(&gzip(b));
    let sink = read(two);
    assert_eq!(sink.count(Transport::Udp), 2);
    assert!(
        sink.notices
            .iter()
            .all(|n| !matches!(n, Notice::TrailingData { .. }))
    );
}

#[test]
fn issue_14_unopenable_file_names_it_once() {
    let err = Reader::open(&fixture("no-such-file.pcap"), Options::default()).expect_err("missing");
    let text = err.to_string();
    assert!(
        text.starts_with("cannot open ")
            && text.ends_with("no-such-file.pcap: No such file or directory"),
        "{text}"
    );
    assert!(std::error::Error::source(&err).is_none());
}

// ---- synthesised captures ------------------------------------------------------------------

const A: &str = "192.0.2.1:5060";
const B: &str = "192.0.2.2:5060";

#[test]
fn pcap_byte_orders_and_resolutions() {
    for (nanos, big_endian) in [(false, false), (true, false), (false, true), (true, true)] {
        let fmt = PcapFormat {
            nanos,
            big_endian,
            ..PcapFormat::new(write::linktype::ETHERNET)
        };
        let mut w = PcapWriter::new(Vec::new(), fmt).expect("vec");
        let time = Timestamp {
            secs: 1_700_000_000,
            nanos: 123_456_789,
        };
        w.write_packet(time, &write::ethernet_udp(sa(A), sa(B), b"OPTIONS"))
            .expect("vec");
        let sink = read(w.into_inner());
        assert_eq!(sink.payloads.len(), 1);
        let want = if nanos { 123_456_789 } else { 123_456_000 };
        assert_eq!(sink.payloads[0].time.nanos, want);
        assert_eq!(sink.payloads[0].data, b"OPTIONS");
        assert_eq!((sink.payloads[0].src, sink.payloads[0].dst), (sa(A), sa(B)));
    }
}

#[test]
fn every_link_type() {
    let ip4 = write::ip_udp(sa(A), sa(B), b"v4");
    let ip6 = write::ip_udp(sa("[2001:db8::1]:5060"), sa("[2001:db8::2]:5060"), b"v6");
    for link in [
        Link::ethernet(),
        Link::Ethernet { vlans: vec![100] },
        Link::Ethernet {
            vlans: vec![100, 200],
        },
        Link::Pppoe { session: 1 },
        Link::Sll,
        Link::Sll2,
        Link::Raw,
        Link::Null,
        Link::Loop,
        Link::Ppp {
            hdlc: true,
            compressed: false,
        },
        Link::Ppp {
            hdlc: false,
            compressed: true,
        },
    ] {
        let sink = read(pcap(link.linktype(), &[link.wrap(&ip4), link.wrap(&ip6)]));
        let data: Vec<&[u8]> = sink.payloads.iter().map(|p| p.data.as_slice()).collect();
        assert_eq!(data, [b"v4", b"v6"], "{link:?}");
    }
    for lt in [12u16, 14, 228, 229] {
        let ip = if lt == 229 { &ip6 } else { &ip4 };
        let sink = read(pcap(lt, std::slice::from_ref(ip)));
        assert_eq!(sink.payloads.len(), 1, "linktype {lt}");
    }
    // An unsupported link type is reported once, not per frame.
    let (sink, r) = read_bytes(pcap(147, &[ip4.clone(), ip4.clone()]), Options::default());
    assert_eq!(r.expect("reads").skipped, 2);
    assert_eq!(sink.notices.len(), 1);
}

#[test]
fn pcapng_interfaces_and_block_kinds() {
    let mut b = PcapngBuilder::new();
    let eth_if = b.interface(write::linktype::ETHERNET, false);
    let raw_if = b.interface(write::linktype::RAW, true);
    let sll2_if = b.interface(write::linktype::LINUX_SLL2, false);
    b.simple(&write::ethernet_udp(sa(A), sa(B), b"simple"));
    b.enhanced(raw_if, t(1), &write::ip_udp(sa(A), sa(B), b"raw"));
    b.obsolete(
        sll2_if as u16,
        t(2),
        &Link::Sll2.wrap(&write::ip_udp(sa(A), sa(B), b"sll2")),
    );
    b.enhanced(eth_if, t(3), &write::ethernet_udp(sa(A), sa(B), b"eth"));
    let sink = read(b.finish());
    let data: Vec<&[u8]> = sink.payloads.iter().map(|p| p.data.as_slice()).collect();
    assert_eq!(data, [&b"simple"[..], b"raw", b"sll2", b"eth"]);
    assert_eq!(sink.payloads[1].time, t(1));
    assert_eq!(sink.payloads[3].time, t(3));
    assert_eq!(sink.payloads[3].frame, 4);
}

#[test]
fn ipv4_and_ipv6_fragments_out_of_order_and_tunnelled() {
    let body: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let v4 = write::ip_packet(
        sa(A).ip(),
        sa(B).ip(),
        17,
        77,
        &write::udp_segment(sa(A), sa(B), &body),
    );
    let src6 = sa("[2001:db8::1]:5060");
    let dst6 = sa("[2001:db8::2]:5060");
    let v6 = write::ip_packet(
        src6.ip(),
        dst6.ip(),
        17,
        0,
        &write::udp_segment(src6, dst6, &body),
    );
    let mut f4 = write::fragment(&v4, 1000, 0);
    f4.reverse();
    let f6 = write::fragment(&v6, 1200, 99);
    let mut frames: Vec<Vec<u8>> = f4.into_iter().map(eth).collect();
    // IPv6 fragments inside an IPv4 tunnel (protocol 41).
    for f in f6 {
        frames.push(eth(write::ip_packet(
            sa("198.51.100.1:0").ip(),
            sa("198.51.100.2:0").ip(),
            41,
            5,
            &f,
        )));
    }
    let sink = read(pcap(1, &frames));
    assert_eq!(sink.payloads.len(), 2);
    assert_eq!(sink.payloads[0].data, body);
    // Reported at the frame that completed it, as tshark does.
    assert_eq!(sink.payloads[0].frame, 4, "3008 bytes in four fragments");
    assert_eq!(sink.payloads[1].data, body);
    assert_eq!(sink.payloads[1].src, src6);
}

#[test]
fn lost_fragment_is_reported_at_end_and_at_timeout() {
    let body = vec![b'x'; 2900];
    let v4 = write::ip_packet(
        sa(A).ip(),
        sa(B).ip(),
        17,
        1,
        &write::udp_segment(sa(A), sa(B), &body),
    );
    let f = write::fragment(&v4, 1000, 0);
    let sink = read(pcap(1, &[eth(f[0].clone()), eth(f[2].clone())]));
    assert!(sink.payloads.is_empty());
    assert_eq!(
        sink.notices,
        vec![Notice::FragmentsIncomplete {
            frames: vec![1, 2],
            src: sa(A).ip(),
            dst: sa(B).ip(),
            received: 1908,
            total: Some(2908),
        }]
    );
    // Timeout in capture time: the datagram is given up when a later packet is 31 s on.
    let mut w = PcapWriter::new(Vec::new(), PcapFormat::new(1)).expect("vec");
    w.write_packet(t(0), &eth(f[0].clone())).expect("vec");
    w.write_packet(t(31_000), &write::ethernet_udp(sa(A), sa(B), b"later"))
        .expect("vec");
    w.write_packet(t(31_001), &eth(f[1].clone())).expect("vec");
    w.write_packet(t(31_002), &eth(f[2].clone())).expect("vec");
    let sink = read(w.into_inner());
    assert_eq!(sink.payloads.len(), 1);
    assert_eq!(sink.notices.len(), 2, "{:?}", sink.notices);
    // A tiny budget gives the datagram up rather than growing.
    let opts = Options {
        fragment_budget: 1500,
        ..Options::default()
    };
    let (sink, r) = read_bytes(
        pcap(1, &f.iter().cloned().map(eth).collect::<Vec<_>>()),
        opts,
    );
    r.expect("reads");
    assert!(sink.payloads.is_empty());
    assert!(!sink.notices.is_empty());
}

/// A client/server TCP conversation builder.
struct Conv {
    frames: Vec<Vec<u8>>,
    a: SocketAddr,
    b: SocketAddr,
    seq_a: u32,
    seq_b: u32,
}

impl Conv {
    fn new(a: &str, b: &str, handshake: bool) -> Conv {
        let mut c = Conv {
            frames: Vec::new(),
            a: sa(a),
            b: sa(b),
            seq_a: 0xffff_fff0, // wraps during the test
            seq_b: 5000,
        };
        if handshake {
            c.frames
                .push(eth(write::ip_tcp(c.a, c.b, c.seq_a, 0, TcpFlags::SYN, b"")));
            c.frames.push(eth(write::ip_tcp(
                c.b,
                c.a,
                c.seq_b,
                c.seq_a + 1,
                TcpFlags::SYN | TcpFlags::ACK,
                b"",
            )));
            c.seq_a = c.seq_a.wrapping_add(1);
            c.seq_b += 1;
        }
        c
    }
    /// A segment from a (`from_a`) or b at its current sequence, advancing it.
    fn seg(&mut self, from_a: bool, data: &[u8]) -> Vec<u8> {
        let (s, d, seq, ack) = if from_a {
            (self.a, self.b, self.seq_a, self.seq_b)
        } else {
            (self.b, self.a, self.seq_b, self.seq_a)
        };
        let f = eth(write::ip_tcp(s, d, seq, ack, TcpFlags::DATA, data));
        if from_a {
            self.seq_a = self.seq_a.wrapping_add(data.len() as u32);
        } else {
            self.seq_b = self.seq_b.wrapping_add(data.len() as u32);
        }
        f
    }
    fn fin(&mut self, from_a: bool) -> Vec<u8> {
        let (s, d, seq, ack) = if from_a {
            (self.a, self.b, self.seq_a, self.seq_b)
        } else {
            (self.b, self.a, self.seq_b, self.seq_a)
        };
        eth(write::ip_tcp(
            s,
            d,
            seq,
            ack,
            TcpFlags::FIN | TcpFlags::ACK,
            b"",
        ))
    }
    fn ack_from_b(&self) -> Vec<u8> {
        eth(write::ip_tcp(
            self.b,
            self.a,
            self.seq_b,
            self.seq_a,
            TcpFlags::ACK,
            b"",
        ))
    }
}

#[test]
fn tcp_in_order_out_of_order_retransmitted_and_overlapping() {
    let mut c = Conv::new(A, B, true);
    let s1 = c.seg(true, b"INVITE sip:b SIP/2.0\r\n");
    let s2 = c.seg(true, b"Content-Length: 0\r\n");
    let s3 = c.seg(true, b"\r\n");
    let reply = c.seg(false, b"SIP/2.0 100 Trying\r\n\r\n");
    // Overlap: the first two segments again as one.
    let merged = {
        let cc = Conv::new(A, B, true);
        eth(write::ip_tcp(
            cc.a,
            cc.b,
            cc.seq_a,
            cc.seq_b,
            TcpFlags::DATA,
            b"INVITE sip:b SIP/2.0\r\nContent-Length: 0\r\n",
        ))
    };
    let fin_a = c.fin(true);
    let fin_b = c.fin(false);
    let mut frames = c.frames.clone();
    frames.extend([s3, s1.clone(), s2, s1, merged, reply, fin_a, fin_b]);
    let sink = read(pcap(1, &frames));
    assert_eq!(
        sink.stream(sa(A)),
        b"INVITE sip:b SIP/2.0\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(sink.stream(sa(B)), b"SIP/2.0 100 Trying\r\n\r\n");
    assert!(sink.gaps().is_empty());
    assert_eq!(sink.closed(), 2);
    // The held segment is handed on at the frame that filled the hole.
    let held = sink
        .payloads
        .iter()
        .find(|p| p.data == b"\r\n")
        .expect("held segment");
    assert_eq!(held.frame, 5);
}

#[test]
fn tcp_mid_connection_start_lost_segment_and_end_of_capture() {
    let mut c = Conv::new(A, B, false);
    let s1 = c.seg(true, b"AAAA");
    let lost = c.seg(true, b"BBBBBB");
    let s3 = c.seg(true, b"CCCC");
    let ack = c.ack_from_b();
    let s4 = c.seg(true, b"DDDD");
    drop(lost);
    let sink = read(pcap(1, &[s1, s3, ack, s4]));
    assert_eq!(sink.stream(sa(A)), b"AAAACCCCDDDD");
    assert_eq!(sink.gaps(), vec![6]);
    let gaps: Vec<u64> = sink
        .payloads
        .iter()
        .map(|p| match p.framing {
            Framing::Stream { gap, .. } => gap,
            Framing::Datagram => u64::MAX,
        })
        .collect();
    assert_eq!(gaps, vec![0, 6, 0]);
    // The hole was declared when the peer acknowledged past it (frame 3).
    assert_eq!(sink.payloads[1].frame, 3);
    // Still open at the end: closed by the end of the capture.
    assert_eq!(sink.closed(), 1);

    // Never acknowledged: the gap is declared at the end of the capture.
    let mut c = Conv::new(A, B, false);
    let s1 = c.seg(true, b"AAAA");
    c.seg(true, b"BBBB");
    let s3 = c.seg(true, b"CCCC");
    let sink = read(pcap(1, &[s1, s3]));
    assert_eq!(sink.stream(sa(A)), b"AAAACCCC");
    assert_eq!(sink.gaps(), vec![4]);
}

#[test]
fn tcp_buffer_overflow_declares_the_gap() {
    let mut c = Conv::new(A, B, false);
    let s1 = c.seg(true, b"start");
    c.seg(true, b"lost!");
    let mut frames = vec![s1];
    for _ in 0..10 {
        frames.push(c.seg(true, &[b'z'; 100]));
    }
    let opts = Options {
        max_stream_buffer: 450,
        ..Options::default()
    };
    let (sink, r) = read_bytes(pcap(1, &frames), opts);
    r.expect("reads");
    let all = sink.stream(sa(A));
    assert_eq!(&all[..5], b"start");
    assert_eq!(all.len(), 5 + 1000);
    assert_eq!(sink.gaps(), vec![5]);
}

#[test]
fn tcp_rst_closes_both_directions_and_new_connection_gets_new_ids() {
    let mut c = Conv::new(A, B, true);
    let s1 = c.seg(true, b"one");
    let r1 = c.seg(false, b"two");
    let rst = eth(write::ip_tcp(c.a, c.b, c.seq_a, 0, TcpFlags::RST, b""));
    let mut c2 = Conv::new(A, B, true);
    c2.seq_a = 1000;
    let again = c2.seg(true, b"three");
    let mut frames = c.frames.clone();
    frames.extend([s1, r1, rst]);
    frames.push(eth(write::ip_tcp(c2.a, c2.b, 999, 0, TcpFlags::SYN, b"")));
    frames.push(again);
    let sink = read(pcap(1, &frames));
    let ids: Vec<Framing> = sink.payloads.iter().map(|p| p.framing).collect();
    assert_eq!(ids.len(), 3);
    assert_ne!(ids[0], ids[2]);
    assert_eq!(sink.closed(), 3);
    assert_eq!(sink.payloads[2].data, b"three");
}

#[test]
fn hep3_and_hep2_on_any_udp_port_and_hep3_over_tcp() {
    let inner_src = sa("10.9.9.1:5062");
    let inner_dst = sa("10.9.9.2:5063");
    let time = Timestamp {
        secs: 1_600_000_000,
        nanos: 250_000_000,
    };
    let h3 = write::hep3(inner_src, inner_dst, Transport::Tcp, time, b"INVITE h3");
    let h2 = write::hep2(inner_src, inner_dst, Transport::Udp, time, b"INVITE h2");
    let collector = sa("192.0.2.9:9060");
    let mut c = Conv::new("192.0.2.8:40000", "192.0.2.9:9061", true);
    let mut both = h3.clone();
    both.extend(write::hep3(
        inner_src,
        inner_dst,
        Transport::Udp,
        time,
        b"BYE h3",
    ));
    let (x, y) = both.split_at(20);
    let t1 = c.seg(true, x);
    let t2 = c.seg(true, y);
    let mut frames = vec![
        write::ethernet_udp(sa(A), collector, &h3),
        write::ethernet_udp(sa(A), collector, &h2),
    ];
    frames.extend(c.frames.clone());
    frames.extend([t1, t2]);
    let sink = read(pcap(1, &frames));
    let got: Vec<(&[u8], Transport, bool)> = sink
        .payloads
        .iter()
        .map(|p| (p.data.as_slice(), p.transport, p.hep))
        .collect();
    assert_eq!(
        got,
        [
            (&b"INVITE h3"[..], Transport::Tcp, true),
            (b"INVITE h2", Transport::Udp, true),
            (b"INVITE h3", Transport::Tcp, true),
            (b"BYE h3", Transport::Udp, true),
        ]
    );
    for p in &sink.payloads {
        assert_eq!((p.src, p.dst, p.time), (inner_src, inner_dst, time));
        assert_eq!(p.framing, Framing::Datagram);
    }
}

#[test]
fn websocket_upgrade_then_messages_both_ways() {
    use write::{ws_frame, ws_opcode};
    let mut c = Conv::new("192.0.2.1:50000", "192.0.2.2:443", true);
    let req = write::ws_upgrade_request("example.com");
    let mut f1 = req.clone();
    f1.extend(ws_frame(
        false,
        ws_opcode::TEXT,
        Some([1, 2, 3, 4]),
        b"REGISTER sip:",
    ));
    let mut f2 = ws_frame(
        true,
        ws_opcode::CONTINUATION,
        Some([5, 6, 7, 8]),
        b"example.com SIP/2.0\r\n\r\n",
    );
    f2.extend(ws_frame(true, ws_opcode::PING, Some([0, 0, 0, 1]), b"hi"));
    let big = vec![b'M'; 40_000];
    let big_frame = ws_frame(true, ws_opcode::BINARY, Some([9, 9, 9, 9]), &big);
    let mut resp = write::ws_upgrade_response();
    resp.extend(ws_frame(
        true,
        ws_opcode::TEXT,
        None,
        b"SIP/2.0 200 OK\r\n\r\n",
    ));
    let mut frames = c.frames.clone();
    // The request head split across two segments.
    let (h1, h2) = f1.split_at(10);
    frames.push(c.seg(true, h1));
    frames.push(c.seg(true, h2));
    frames.push(c.seg(false, &resp));
    frames.push(c.seg(true, &f2));
    for chunk in big_frame.chunks(1400) {
        frames.push(c.seg(true, chunk));
    }
    let sink = read(pcap(1, &frames));
    let got: Vec<(&[u8], Transport, Framing)> = sink
        .payloads
        .iter()
        .map(|p| (p.data.as_slice(), p.transport, p.framing))
        .collect();
    assert_eq!(
        got,
        [
            (
                &b"SIP/2.0 200 OK\r\n\r\n"[..],
                Transport::Ws,
                Framing::Datagram
            ),
            (
                b"REGISTER sip:example.com SIP/2.0\r\n\r\n",
                Transport::Ws,
                Framing::Datagram
            ),
            (&big[..], Transport::Ws, Framing::Datagram),
        ]
    );
}

#[test]
fn plain_http_get_is_passed_on_as_stream_bytes() {
    let mut c = Conv::new(A, B, true);
    let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nmore".to_vec();
    let s = c.seg(true, &get);
    let mut frames = c.frames.clone();
    frames.push(s);
    let sink = read(pcap(1, &frames));
    assert_eq!(sink.stream(sa(A)), get);
}

#[test]
fn keep_packets_holds_the_carrying_frames() {
    let body = vec![b'k'; 2500];
    let v4 = write::ip_packet(
        sa(A).ip(),
        sa(B).ip(),
        17,
        3,
        &write::udp_segment(sa(A), sa(B), &body),
    );
    let mut frames: Vec<Vec<u8>> = write::fragment(&v4, 1000, 0).into_iter().map(eth).collect();
    frames.push(write::ethernet_udp(sa(A), sa(B), b"single"));
    let bytes = pcap(1, &frames);
    let opts = Options {
        keep_packets: true,
        ..Options::default()
    };
    let (sink, r) = read_bytes(bytes.clone(), opts);
    r.expect("reads");
    let p0: Vec<u64> = sink.payloads[0].packets.iter().map(|p| p.frame).collect();
    assert_eq!(p0, [1, 2, 3]);
    assert_eq!(sink.payloads[1].packets.len(), 1);
    assert_eq!(sink.payloads[1].packets[0].data, frames[3]);
    // Written back out, the kept packets make the same capture.
    let mut w = PcapWriter::new(Vec::new(), PcapFormat::new(1)).expect("vec");
    for p in sink.payloads.iter().flat_map(|p| &p.packets) {
        w.write_raw(p).expect("vec");
    }
    assert_eq!(w.into_inner(), bytes);
    // Unset: nothing kept.
    let sink = read(bytes);
    assert!(sink.payloads.iter().all(|p| p.packets.is_empty()));
}

/// Throughput of `Reader::run` with a counting sink on a synthesised ~120 MB capture (UDP and
/// in-order TCP, 1,000-byte payloads). Run with
/// `cargo test --release --test cli capture_throughput -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: meaningful only in --release"]
fn capture_throughput() {
    struct Count(u64, u64);
    impl Sink for Count {
        fn payload(&mut self, p: &Payload<'_>) -> std::ops::ControlFlow<()> {
            self.0 += 1;
            self.1 += p.data.len() as u64;
            std::ops::ControlFlow::Continue(())
        }
        fn notice(&mut self, _: &Notice) {}
    }
    let body = vec![b's'; 1000];
    let udp = write::ethernet_udp(sa(A), sa(B), &body);
    let mut w = PcapWriter::new(Vec::new(), PcapFormat::new(1)).expect("vec");
    let mut c = Conv::new("192.0.2.5:40000", "192.0.2.6:5060", true);
    for f in c.frames.clone() {
        w.write_packet(t(0), &f).expect("vec");
    }
    for i in 0..60_000i64 {
        w.write_packet(t(i / 100), &udp).expect("vec");
        let seg = c.seg(i % 2 == 0, &body);
        w.write_packet(t(i / 100), &seg).expect("vec");
    }
    let bytes = w.into_inner();
    let len = bytes.len() as f64;
    let start = std::time::Instant::now();
    let mut sink = Count(0, 0);
    let stats = Reader::new(Cursor::new(bytes), Options::default())
        .and_then(|mut r| r.run(&mut sink))
        .expect("reads");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sink.0, 120_000);
    println!(
        "capture_throughput: {} frames, {:.0} MB in {:.3} s = {:.0} MB/s",
        stats.frames,
        len / 1e6,
        secs,
        len / 1e6 / secs
    );
}
