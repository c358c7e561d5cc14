//! `--write-pcap`: every SIP and MSRP message sent and received, streamed to a pcapng file as
//! it happened with IP and UDP or TCP headers made up around it, so Wireshark, tshark and `decode-pcap` can read the
//! conversation. TCP streams get a handshake when first seen and sequence numbers that follow
//! the bytes, which is what stream reassembly in those readers needs. TLS and WebSocket
//! messages are written as the plain SIP they carry, on a TCP stream between the same ports.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::net::SocketAddr;
use std::path::Path;
use std::time::SystemTime;

use crate::capture::Timestamp;
use crate::capture::write::{PcapngWriter, TcpFlags, ip_tcp, ip_udp, linktype};

/// Payload per synthesised TCP segment: an Ethernet-sized MSS keeps every packet well inside
/// the 16-bit IP length.
const MSS: usize = 1400;
/// Initial sequence number of every synthesised stream (readers use relative numbers anyway).
const ISN: u32 = 1000;

/// An open capture file.
#[derive(Debug)]
pub(crate) struct CaptureFile {
    out: PcapngWriter<BufWriter<File>>,
    /// Next sequence number per direction of each TCP stream.
    seq: HashMap<(SocketAddr, SocketAddr), u32>,
}

fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        secs: i64::try_from(d.as_secs()).unwrap_or(0),
        nanos: d.subsec_nanos(),
    }
}

impl CaptureFile {
    /// Create `path`, which must not exist yet (an existing file is never overwritten), and
    /// write the pcapng section and interface: raw IP packets (LINKTYPE_RAW), nanosecond
    /// timestamps.
    pub(crate) fn create(path: &Path) -> io::Result<CaptureFile> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        let out = PcapngWriter::new(BufWriter::new(file), linktype::RAW)?;
        Ok(CaptureFile {
            out,
            seq: HashMap::new(),
        })
    }

    /// One datagram from `src` to `dst`.
    pub(crate) fn udp(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> io::Result<()> {
        self.out.write_packet(now(), &ip_udp(src, dst, payload))
    }

    /// Stream bytes from `src` to `dst`, with a handshake first if the stream is new.
    pub(crate) fn tcp(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> io::Result<()> {
        let time = now();
        if !self.seq.contains_key(&(src, dst)) {
            // Whoever spoke first is taken to have connected.
            self.out
                .write_packet(time, &ip_tcp(src, dst, ISN, 0, TcpFlags::SYN, &[]))?;
            self.out.write_packet(
                time,
                &ip_tcp(dst, src, ISN, ISN + 1, TcpFlags::SYN | TcpFlags::ACK, &[]),
            )?;
            self.out.write_packet(
                time,
                &ip_tcp(src, dst, ISN + 1, ISN + 1, TcpFlags::ACK, &[]),
            )?;
            self.seq.insert((src, dst), ISN + 1);
            self.seq.insert((dst, src), ISN + 1);
        }
        let ack = self.seq.get(&(dst, src)).copied().unwrap_or(ISN + 1);
        for chunk in payload.chunks(MSS) {
            let seq = self.seq.get(&(src, dst)).copied().unwrap_or(ISN + 1);
            self.out
                .write_packet(time, &ip_tcp(src, dst, seq, ack, TcpFlags::DATA, chunk))?;
            // Sequence numbers wrap (RFC 9293 §3.4); chunk.len() <= MSS fits in u32.
            self.seq
                .insert((src, dst), seq.wrapping_add(chunk.len() as u32));
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
