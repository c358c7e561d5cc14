//! HEP (the HOMER Encapsulation Protocol): capture agents send copies of SIP packets to a
//! collector wrapped in HEP over UDP or TCP on any port, so a capture taken at a collector holds
//! SIP only inside HEP. Recognised by content, never by port: HEP3 by its `HEP3` magic, HEP2 by
//! its fixed header (version 2, header length 16 or 40 matching the address family).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Timestamp, Transport};

/// A decapsulated HEP packet: the inner payload with the addresses and time the agent saw.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Hep<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub transport: Transport,
    /// None when the agent sent no timestamp; the packet's own time is used then.
    pub time: Option<Timestamp>,
    pub payload: &'a [u8],
}

/// `None` when `d` is not HEP at all; `Some(Err)` when it starts like HEP but is unusable.
pub(crate) fn parse(d: &[u8]) -> Option<Result<Hep<'_>, &'static str>> {
    if d.starts_with(b"HEP3") {
        return Some(parse3(d));
    }
    if is_hep2(d) {
        return Some(parse2(d));
    }
    None
}

fn is_hep2(d: &[u8]) -> bool {
    match d {
        [2, hl, fam, proto, ..] => {
            matches!((hl, fam), (16, 2) | (40, 10))
                && matches!(proto, 6 | 17)
                && d.len() >= usize::from(*hl) + 12
        }
        _ => false,
    }
}

fn transport_of(proto: u8) -> Transport {
    if proto == 6 {
        Transport::Tcp
    } else {
        Transport::Udp
    }
}

/// HEP2 (captagent 4 / Kamailio sipcapture `hep_hdr` + `hep_iphdr` + `hep_timehdr`): ports in
/// network order, the time struct in the agent's (little-endian) host order, padded to 12.
fn parse2(d: &[u8]) -> Result<Hep<'_>, &'static str> {
    let hl = usize::from(d[1]);
    let proto = d[3];
    let sport = u16::from_be_bytes([d[4], d[5]]);
    let dport = u16::from_be_bytes([d[6], d[7]]);
    let (src, dst): (IpAddr, IpAddr) = if hl == 16 {
        (
            Ipv4Addr::new(d[8], d[9], d[10], d[11]).into(),
            Ipv4Addr::new(d[12], d[13], d[14], d[15]).into(),
        )
    } else {
        let mut s = [0u8; 16];
        let mut t = [0u8; 16];
        s.copy_from_slice(&d[8..24]);
        t.copy_from_slice(&d[24..40]);
        (Ipv6Addr::from(s).into(), Ipv6Addr::from(t).into())
    };
    let secs = u32::from_le_bytes([d[hl], d[hl + 1], d[hl + 2], d[hl + 3]]);
    let usecs = u32::from_le_bytes([d[hl + 4], d[hl + 5], d[hl + 6], d[hl + 7]]);
    Ok(Hep {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        transport: transport_of(proto),
        time: Some(micro_time(secs, usecs)),
        payload: &d[hl + 12..],
    })
}

fn micro_time(secs: u32, usecs: u32) -> Timestamp {
    Timestamp {
        secs: i64::from(secs) + i64::from(usecs / 1_000_000),
        nanos: (usecs % 1_000_000) * 1000,
    }
}

/// HEP3: `"HEP3" total-length(16)` then chunks `vendor(16) type(16) length(16) value`, where
/// length counts the 6-byte chunk header. Vendor 0 chunk types used here: 1 IP family,
/// 2 IP protocol, 3/4 IPv4 source/destination, 5/6 IPv6 source/destination, 7/8 ports,
/// 9 seconds, 10 microseconds, 15 payload (16, compressed payload, is not supported).
fn parse3(d: &[u8]) -> Result<Hep<'_>, &'static str> {
    let total = d
        .get(4..6)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or("hep3 header truncated")?;
    if total < 6 || total > d.len() {
        return Err("hep3 total length does not match the packet");
    }
    let mut rest = &d[6..total];
    let (mut proto, mut src, mut dst) = (17u8, None, None);
    let (mut sport, mut dport, mut secs, mut usecs) = (None, None, None, 0u32);
    let mut payload = None;
    let mut compressed = false;
    while !rest.is_empty() {
        let [v0, v1, t0, t1, l0, l1, ..] = *rest else {
            return Err("hep3 chunk header truncated");
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if len < 6 || len > rest.len() {
            return Err("hep3 chunk length out of range");
        }
        let value = &rest[6..len];
        rest = &rest[len..];
        if u16::from_be_bytes([v0, v1]) != 0 {
            continue;
        }
        match (u16::from_be_bytes([t0, t1]), value) {
            (2, [p]) => proto = *p,
            (3, &[a, b, c, e]) => src = Some(IpAddr::from([a, b, c, e])),
            (4, &[a, b, c, e]) => dst = Some(IpAddr::from([a, b, c, e])),
            (5, v) if v.len() == 16 => src = Some(IpAddr::from(to16(v))),
            (6, v) if v.len() == 16 => dst = Some(IpAddr::from(to16(v))),
            (7, &[a, b]) => sport = Some(u16::from_be_bytes([a, b])),
            (8, &[a, b]) => dport = Some(u16::from_be_bytes([a, b])),
            (9, &[a, b, c, e]) => secs = Some(u32::from_be_bytes([a, b, c, e])),
            (10, &[a, b, c, e]) => usecs = u32::from_be_bytes([a, b, c, e]),
            (15, v) => payload = Some(v),
            (16, _) => compressed = true,
            _ => {}
        }
    }
    let payload = match payload {
        Some(p) => p,
        None if compressed => return Err("hep3 compressed payloads are not supported"),
        None => return Err("hep3 packet without a payload chunk"),
    };
    let (Some(src), Some(dst)) = (src, dst) else {
        return Err("hep3 packet without source and destination addresses");
    };
    Ok(Hep {
        src: SocketAddr::new(src, sport.unwrap_or(0)),
        dst: SocketAddr::new(dst, dport.unwrap_or(0)),
        transport: transport_of(proto),
        time: secs.map(|s| micro_time(s, usecs)),
        payload,
    })
}

fn to16(v: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(v);
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::write;

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn hep3_round_trip() {
        let t = Timestamp {
            secs: 1_700_000_000,
            nanos: 123_456_000,
        };
        let pkt = write::hep3(
            sa("10.1.1.1:5060"),
            sa("[2001:db8::9]:5080"),
            Transport::Tcp,
            t,
            b"OPTIONS",
        );
        // A mixed pair is written as two IPv6 addresses (the IPv4 one mapped).
        let h = parse(&pkt).expect("is hep").expect("valid");
        assert_eq!(h.src, sa("[::ffff:10.1.1.1]:5060"));
        assert_eq!(h.dst, sa("[2001:db8::9]:5080"));
        assert_eq!(h.transport, Transport::Tcp);
        assert_eq!(h.time, Some(t));
        assert_eq!(h.payload, b"OPTIONS");
    }

    #[test]
    fn hep2_round_trip() {
        let t = Timestamp {
            secs: 5,
            nanos: 7000,
        };
        let pkt = write::hep2(
            sa("10.1.1.1:5060"),
            sa("10.1.1.2:5061"),
            Transport::Udp,
            t,
            b"BYE",
        );
        let h = parse(&pkt).expect("is hep").expect("valid");
        assert_eq!((h.src, h.dst), (sa("10.1.1.1:5060"), sa("10.1.1.2:5061")));
        assert_eq!(h.time, Some(t));
        assert_eq!(h.payload, b"BYE");
    }

    #[test]
    fn not_hep_and_truncated_hep() {
        assert!(parse(b"INVITE sip:x SIP/2.0\r\n").is_none());
        assert!(parse(&[0x80, 0, 1, 2]).is_none());
        let pkt = write::hep3(
            sa("10.1.1.1:1"),
            sa("10.1.1.2:2"),
            Transport::Udp,
            Timestamp::default(),
            b"x",
        );
        for n in 0..pkt.len() {
            // Every prefix is an error (or not HEP), never a panic.
            if let Some(r) = parse(&pkt[..n]) {
                assert!(r.is_err(), "prefix {n}");
            }
        }
    }
}
