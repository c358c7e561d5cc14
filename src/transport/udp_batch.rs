//! Reading UDP datagrams several at a time. Under SIPp load a listener receives tens of
//! thousands of datagrams a second; one `recvmmsg(2)` per wake-up takes all that are queued,
//! where a `recvfrom(2)` each cost a system call, a readiness check and a final call that
//! only says "no more" (RFC-free plumbing: nothing here knows SIP). The answers to such a
//! burst go out the same way, several per `sendmmsg(2)`: one system call, and the peer is
//! woken once for all of them rather than once per datagram. Elsewhere than on Linux, one
//! datagram per call.

use std::io;
use std::net::SocketAddr;

use tokio::net::UdpSocket;

/// Datagrams taken by one call at most.
pub(crate) const DATAGRAMS: usize = 16;

/// The buffers one call reads into, and what it read: `(length, sender)` per datagram.
#[derive(Debug)]
pub(crate) struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    got: Vec<(usize, SocketAddr)>,
    /// The system call's headers, and the socket they were made for. The kernel leaves each
    /// header's address length at the size of the last address it wrote, and nix does not
    /// reset it: headers that read IPv4 senders would cut IPv6 ones short. Headers are made
    /// again when the socket (and so perhaps the address family) changes.
    #[cfg(target_os = "linux")]
    headers: Option<(
        std::os::fd::RawFd,
        nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    )>,
}

impl RecvBatch {
    /// Buffers of `size` bytes each (a datagram longer than that is cut to it).
    pub(crate) fn new(size: usize) -> RecvBatch {
        RecvBatch {
            bufs: (0..DATAGRAMS).map(|_| vec![0u8; size]).collect(),
            got: Vec::with_capacity(DATAGRAMS),
            #[cfg(target_os = "linux")]
            headers: None,
        }
    }

    /// How many datagrams the last successful [`RecvBatch::recv`] read.
    pub(crate) fn len(&self) -> usize {
        self.got.len()
    }

    /// Datagram `i` of the last successful [`RecvBatch::recv`] and its sender (empty from
    /// [`UNKNOWN`] past the end).
    pub(crate) fn get(&self, i: usize) -> (&[u8], SocketAddr) {
        match (self.got.get(i), self.bufs.get(i)) {
            (Some(&(n, from)), Some(buf)) => (buf.get(..n).unwrap_or(buf), from),
            _ => (&[], UNKNOWN),
        }
    }

    /// Read what is queued on `socket` without waiting (`WouldBlock` when nothing is).
    /// Returns how many datagrams were read (at least one on success).
    #[cfg(target_os = "linux")]
    pub(crate) fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;

        use nix::sys::socket::{MsgFlags, MultiHeaders, recvmmsg};

        self.got.clear();
        let fd = socket.as_raw_fd();
        let headers = match &mut self.headers {
            Some((made_for, headers)) if *made_for == fd => headers,
            slot => {
                let (_, headers) = slot.insert((fd, MultiHeaders::preallocate(DATAGRAMS, None)));
                headers
            }
        };
        let got = &mut self.got;
        let bufs = &mut self.bufs;
        let read = socket.try_io(tokio::io::Interest::READABLE, || {
            let mut bufs = bufs.iter_mut();
            let mut slices: [[IoSliceMut<'_>; 1]; DATAGRAMS] = std::array::from_fn(|_| {
                [IoSliceMut::new(match bufs.next() {
                    Some(b) => b.as_mut_slice(),
                    None => &mut [],
                })]
            });
            let results = recvmmsg(
                fd,
                &mut *headers,
                slices.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            )
            .map_err(io::Error::from)?;
            for msg in results {
                let from = msg.address.as_ref().and_then(socket_addr);
                // A datagram without a usable source address cannot be answered.
                got.push((msg.bytes, from.unwrap_or(UNKNOWN)));
            }
            if got.len() < DATAGRAMS {
                // Fewer than asked for: the queue is empty now. Saying so clears tokio's
                // readiness, which spares the call that would only answer EAGAIN. Nothing is
                // missed: the socket is registered edge-triggered, so a datagram arriving
                // after this read is a new event (tokio clears readiness only if no event
                // came in since it was seen).
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        });
        match read {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ if self.got.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(self.got.len()),
        }
    }

    /// Read what is queued on `socket` without waiting (`WouldBlock` when nothing is).
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.got.clear();
        let buf = self.bufs.first_mut().ok_or(io::ErrorKind::WouldBlock)?;
        let (n, from) = socket.try_recv_from(buf)?;
        self.got.push((n, from));
        Ok(1)
    }
}

/// Datagrams given to one `sendmmsg(2)` at most.
pub(crate) const SEND_AT_ONCE: usize = 32;

/// Send the first of `msgs` (payload, destination) from `socket` without waiting, as many as
/// one system call takes (at most [`SEND_AT_ONCE`]). Returns how many were sent, at least
/// one; or the error of the first (`WouldBlock` when the socket's buffer is full). The
/// caller goes on from the first one not sent, which gives that one's own error.
#[cfg(target_os = "linux")]
pub(crate) fn send_some(socket: &UdpSocket, msgs: &[(&[u8], SocketAddr)]) -> io::Result<usize> {
    use std::io::IoSlice;

    use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny, sendmmsg};

    let msgs = msgs.get(..SEND_AT_ONCE).unwrap_or(msgs);
    if msgs.is_empty() {
        return Ok(0);
    }
    // On the heap: an address takes 128 bytes, and arrays for 32 of them on the stack cost
    // more in copying than four small allocations.
    let addrs: Vec<SocketAddrAny> = msgs
        .iter()
        .map(|&(_, to)| SocketAddrAny::from(to))
        .collect();
    let iovs: Vec<[IoSlice<'_>; 1]> = msgs
        .iter()
        .map(|&(bytes, _)| [IoSlice::new(bytes)])
        .collect();
    let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> = msgs
        .iter()
        .map(|_| SendAncillaryBuffer::default())
        .collect();
    let mut headers: Vec<MMsgHdr<'_>> = addrs
        .iter()
        .zip(&iovs)
        .zip(controls.iter_mut())
        .map(|((addr, iov), control)| MMsgHdr::new_with_addr(addr, iov, control))
        .collect();
    socket.try_io(tokio::io::Interest::WRITABLE, || {
        sendmmsg(socket, &mut headers, SendFlags::DONTWAIT).map_err(io::Error::from)
    })
}

/// Send the first of `msgs` without waiting: one datagram per call where `sendmmsg(2)` is
/// missing.
#[cfg(not(target_os = "linux"))]
pub(crate) fn send_some(socket: &UdpSocket, msgs: &[(&[u8], SocketAddr)]) -> io::Result<usize> {
    match msgs.first() {
        Some(&(bytes, to)) => socket.try_send_to(bytes, to).map(|_| 1),
        None => Ok(0),
    }
}

/// The stand-in sender of a datagram whose address the system did not give.
const UNKNOWN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    0,
));

#[cfg(target_os = "linux")]
fn socket_addr(s: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    s.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_is_read_in_one_call_in_order_with_its_senders() {
        let server = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let a = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let b = UdpSocket::bind("[::1]:0").await.ok();
        let to = server.local_addr().expect("addr");
        let mut batch = RecvBatch::new(2048);
        assert_eq!(
            batch.recv(&server).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock)
        );
        for i in 0..20u8 {
            a.send_to(&vec![i; usize::from(i) + 1], to)
                .await
                .expect("send");
        }
        // A 3000-byte datagram into 2048-byte buffers comes cut, its length the buffer's.
        a.send_to(&[9u8; 3000], to).await.expect("send");
        let mut seen = Vec::new();
        while seen.len() < 21 {
            server.readable().await.expect("readable");
            match batch.recv(&server) {
                Ok(n) => {
                    assert!(n <= DATAGRAMS);
                    assert_eq!(batch.len(), n);
                    for (data, from) in (0..n).map(|i| batch.get(i)) {
                        assert_eq!(from, a.local_addr().expect("addr"));
                        seen.push(data.to_vec());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        for (i, d) in seen.iter().take(20).enumerate() {
            assert_eq!(d, &vec![i as u8; i + 1]);
        }
        assert_eq!(seen.last().map(Vec::len), Some(2048));
        // IPv6 senders are reported as such (when the machine has ::1).
        if let Some(b) = b {
            let server6 = UdpSocket::bind("[::1]:0").await.expect("bind");
            b.send_to(b"six", server6.local_addr().expect("addr"))
                .await
                .expect("send");
            server6.readable().await.expect("readable");
            batch.recv(&server6).expect("recv");
            let got: Vec<_> = (0..batch.len())
                .map(|i| batch.get(i))
                .map(|(d, f)| (d.to_vec(), f))
                .collect();
            assert_eq!(got, vec![(b"six".to_vec(), b.local_addr().expect("addr"))]);
        }
    }

    #[tokio::test]
    async fn a_datagram_after_a_short_read_still_wakes_the_reader() {
        // A read that took fewer than DATAGRAMS clears readiness without a last EAGAIN call;
        // the next datagram must still be seen.
        let server = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let to = server.local_addr().expect("addr");
        let mut batch = RecvBatch::new(64);
        for round in 0..50u8 {
            peer.send_to(&[round], to).await.expect("send");
            let got = tokio::time::timeout(std::time::Duration::from_secs(10), async {
                loop {
                    server.readable().await.expect("readable");
                    if let Ok(n) = batch.recv(&server) {
                        return n;
                    }
                }
            })
            .await
            .expect("the datagram woke the reader");
            assert_eq!(got, 1);
            assert_eq!(batch.get(0).0, &[round][..]);
            // Past the end: nothing, from nobody.
            assert_eq!(batch.get(1), (&[][..], UNKNOWN));
        }
    }
}
