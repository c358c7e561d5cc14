//! Captures built for issue 14 that both the plain tests and the tshark interop tests read, so
//! the numbers a plain test expects are the ones tshark was checked to give.

use std::net::SocketAddr;

use sipkit::capture::Timestamp;
use sipkit::capture::write::{self, Link, PcapFormat, PcapWriter, PcapngBuilder};

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn t(ms: i64) -> Timestamp {
    Timestamp {
        secs: 1_704_067_200 + ms / 1000,
        nanos: (ms % 1000) as u32 * 1_000_000,
    }
}

/// An OPTIONS request with Call-ID `c{n}`.
pub fn options(n: u32) -> Vec<u8> {
    format!(
        "OPTIONS sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKopt{n}\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@example.com>;tag=a{n}\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: c{n}\r\n\
CSeq: {n} OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A pcapng with three SIP packets among blocks that are not packets. tshark 4.0 numbers the
/// custom blocks (both kinds) and the systemd journal export block as frames, and not the
/// decryption secrets, name resolution and interface statistics blocks, so the SIP packets are
/// frames 2, 5 and 7.
pub fn pcapng_with_other_blocks() -> Vec<u8> {
    let mut b = PcapngBuilder::new();
    // A custom block before any interface is declared.
    b.custom(true, 32473, b"before the interface");
    let eth = b.interface(write::linktype::ETHERNET, false);
    let udp = |n: u32| write::ethernet_udp(sa("10.0.0.1:5060"), sa("10.0.0.2:5060"), &options(n));
    b.enhanced(eth, t(0), &udp(1));
    b.custom(false, 32473, b"not to be copied");
    b.journal_export(b"__REALTIME_TIMESTAMP=1704067200000000\nMESSAGE=hello\n\n");
    b.decryption_secrets(0x544c_534b, b"CLIENT_RANDOM 00 00\n");
    // Name resolution block with only its end record; interface statistics without options.
    b.other(0x0000_0004, &[0, 0, 0, 0]);
    let mut isb = eth.to_le_bytes().to_vec();
    isb.extend_from_slice(&[0; 8]);
    b.other(0x0000_0005, &isb);
    b.enhanced(eth, t(10), &udp(2));
    b.custom(true, 32473, b"between packets");
    b.enhanced(eth, t(20), &udp(3));
    b.finish()
}

/// A LINKTYPE_PPP pcap: one OPTIONS per framing (with and without `ff 03`, with a two-byte
/// and a compressed one-byte protocol), IPv4 and IPv6; Call-IDs c1..c4, frames 1..4;
/// then an LCP frame (5).
pub fn ppp_capture() -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), PcapFormat::new(write::linktype::PPP)).expect("vec");
    let v4 = |n: u32| write::ip_udp(sa("10.0.0.1:5060"), sa("10.0.0.2:5060"), &options(n));
    let v6 = |n: u32| {
        write::ip_udp(
            sa("[2001:db8::1]:5060"),
            sa("[2001:db8::2]:5060"),
            &options(n),
        )
    };
    let frames = [
        Link::Ppp {
            hdlc: true,
            compressed: false,
        }
        .wrap(&v4(1)),
        Link::Ppp {
            hdlc: false,
            compressed: false,
        }
        .wrap(&v6(2)),
        Link::Ppp {
            hdlc: true,
            compressed: true,
        }
        .wrap(&v6(3)),
        Link::Ppp {
            hdlc: false,
            compressed: true,
        }
        .wrap(&v4(4)),
    ];
    // LCP Configure-Request: PPP, but no IP packet.
    let lcp = [0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04];
    let frames = [&frames[..], &[lcp.to_vec()]].concat();
    for (i, f) in frames.iter().enumerate() {
        w.write_packet(t(i as i64 * 10), f).expect("vec");
    }
    w.into_inner()
}
