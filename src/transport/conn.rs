//! One client connection to one [`Destination`], whatever the transport: a connected UDP
//! socket, or a TCP/TLS/WebSocket stream cut into whole messages. Sending goes through a
//! cloneable [`Sender`] so a transaction can retransmit while another task awaits a response.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::sync::Mutex;

use super::framing::{Frame, FrameError, StreamFramer};
use super::resolve::XorShift;
use super::ws;
use super::{ClientTls, Destination, Proto, TransportError};

type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// More than the largest UDP payload (65,527 bytes over IPv6), so no datagram is truncated.
const UDP_BUFFER: usize = 65536;
/// How much is read from a stream at a time.
const READ_CHUNK: usize = 16 * 1024;

/// One message received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// One whole SIP message: a datagram, or a stream message cut at its Content-Length.
    /// Keepalive CRLFs are never included.
    pub data: Vec<u8>,
    /// Who sent it.
    pub from: SocketAddr,
}

/// A client connection.
///
/// For UDP this is a socket *connected* to the destination: the kernel then reports ICMP port
/// unreachable as [`TransportError::Unreachable`] instead of leaving the caller to time out, and
/// it also drops datagrams from any other address, so `from` is always the destination.
pub struct Connection {
    dest: Destination,
    local: SocketAddr,
    sender: Sender,
    reader: Reader,
    max_message: usize,
}

enum Reader {
    Udp(Arc<UdpSocket>, Vec<u8>),
    Stream(BoxRead, StreamFramer),
    Ws(BoxRead, ws::Decoder),
}

/// The sending half of a [`Connection`]; clones share the socket and may be used from other
/// tasks while [`Connection::recv`] is pending. Writes of whole messages never interleave.
#[derive(Clone)]
pub struct Sender {
    inner: Arc<SendInner>,
}

enum SendInner {
    Udp(Arc<UdpSocket>, SocketAddr),
    Stream(Mutex<BoxWrite>, SocketAddr),
    /// The writer and the generator of masking keys (RFC 6455 §5.3), locked together.
    Ws(Mutex<(BoxWrite, XorShift)>, SocketAddr),
}

impl Connection {
    /// Open a connection to `dest`: bind (to `bind`, or any address of the same family, port
    /// chosen by the system), connect, and run the TLS handshake for TLS. `max_message`
    /// bounds a received message, and on streams also a not-yet-complete one.
    ///
    /// There is no timeout here: wrap the call in `tokio::time::timeout` (a TCP connect to a
    /// silent address can hang for minutes).
    pub async fn connect(
        dest: &Destination,
        bind: Option<SocketAddr>,
        tls: &ClientTls,
        max_message: usize,
    ) -> Result<Connection, TransportError> {
        let addr = dest.addr;
        if let Some(bind) = bind {
            if bind.is_ipv4() != addr.is_ipv4() {
                return Err(TransportError::FamilyMismatch { bind, addr });
            }
        }
        let (local, sender, reader) = match dest.proto {
            Proto::Udp => {
                let local = bind.unwrap_or_else(|| unspecified(addr));
                let socket =
                    UdpSocket::bind(local)
                        .await
                        .map_err(|source| TransportError::Bind {
                            addr: local,
                            source,
                        })?;
                socket
                    .connect(addr)
                    .await
                    .map_err(|source| TransportError::Connect { addr, source })?;
                let local = local_of(socket.local_addr(), local);
                let socket = Arc::new(socket);
                (
                    local,
                    SendInner::Udp(socket.clone(), addr),
                    Reader::Udp(socket, vec![0; UDP_BUFFER]),
                )
            }
            Proto::Tcp | Proto::Tls => {
                let tcp = tcp_connect(addr, bind).await?;
                let local = local_of(tcp.local_addr(), bind.unwrap_or_else(|| unspecified(addr)));
                let (read, write) = if dest.proto == Proto::Tls {
                    let tls = tls_handshake(dest, tls, tcp).await?;
                    let (r, w) = tokio::io::split(tls);
                    (Box::new(r) as BoxRead, Box::new(w) as BoxWrite)
                } else {
                    let (r, w) = tcp.into_split();
                    (Box::new(r) as BoxRead, Box::new(w) as BoxWrite)
                };
                (
                    local,
                    SendInner::Stream(Mutex::new(write), addr),
                    Reader::Stream(read, StreamFramer::new(max_message)),
                )
            }
            Proto::Ws | Proto::Wss => {
                let tcp = tcp_connect(addr, bind).await?;
                let local = local_of(tcp.local_addr(), bind.unwrap_or_else(|| unspecified(addr)));
                let ws_err = |message| TransportError::WebSocket { addr, message };
                let (read, write) = if dest.proto == Proto::Wss {
                    let tls = tls_handshake(dest, tls, tcp).await?;
                    let tls = ws::handshake(dest, tls).await.map_err(ws_err)?;
                    let (r, w) = tokio::io::split(tls);
                    (Box::new(r) as BoxRead, Box::new(w) as BoxWrite)
                } else {
                    let tcp = ws::handshake(dest, tcp).await.map_err(ws_err)?;
                    let (r, w) = tcp.into_split();
                    (Box::new(r) as BoxRead, Box::new(w) as BoxWrite)
                };
                let seed = std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish();
                (
                    local,
                    SendInner::Ws(Mutex::new((write, XorShift::new(seed))), addr),
                    Reader::Ws(read, ws::Decoder::new(max_message)),
                )
            }
        };
        Ok(Connection {
            dest: dest.clone(),
            local,
            sender: Sender {
                inner: Arc::new(sender),
            },
            reader,
            max_message,
        })
    }

    /// The address the socket really uses (for Via sent-by and Contact). When bound to an
    /// unspecified address, the IP is the one the system chose for the route to the peer.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The destination's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.dest.addr
    }

    /// The transport.
    pub fn proto(&self) -> Proto {
        self.dest.proto
    }

    /// Whether the transport is reliable (everything but UDP).
    pub fn reliable(&self) -> bool {
        self.dest.proto.reliable()
    }

    /// The destination this connection was made to.
    pub fn destination(&self) -> &Destination {
        &self.dest
    }

    /// A handle for sending on this connection.
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    /// Send one message (shorthand for `self.sender().send(bytes)`).
    pub async fn send(&self, bytes: &[u8]) -> Result<(), TransportError> {
        self.sender.send(bytes).await
    }

    /// The next whole message. Cancel-safe: dropping the future (in `tokio::select!` against a
    /// timer) loses nothing; bytes already read stay buffered for the next call.
    ///
    /// Over UDP an oversized datagram gives [`TransportError::TooLarge`] and the connection
    /// stays usable; on a stream, `TooLarge` and `Framing` mean message boundaries are lost
    /// and the connection should be dropped.
    pub async fn recv(&mut self) -> Result<Received, TransportError> {
        let peer = self.dest.addr;
        match &mut self.reader {
            Reader::Udp(socket, buf) => loop {
                let n = socket
                    .recv(buf)
                    .await
                    .map_err(|e| udp_error(e, peer, "receiving from"))?;
                let data = buf.get(..n).unwrap_or_default();
                // RFC 5626 §4.4.1 keepalives and empty datagrams are no messages.
                if data.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                    continue;
                }
                if n > self.max_message {
                    return Err(TransportError::TooLarge {
                        peer,
                        limit: self.max_message,
                    });
                }
                return Ok(Received {
                    data: data.to_vec(),
                    from: peer,
                });
            },
            Reader::Stream(read, framer) => loop {
                match framer.next_message() {
                    Ok(Frame::Message(data)) => return Ok(Received { data, from: peer }),
                    Ok(Frame::NeedMore) => {}
                    Err(FrameError::TooLarge) => {
                        return Err(TransportError::TooLarge {
                            peer,
                            limit: self.max_message,
                        });
                    }
                    Err(FrameError::Syntax(error)) => {
                        return Err(TransportError::Framing { peer, error });
                    }
                }
                let mut chunk = [0u8; READ_CHUNK];
                let n = match read.read(&mut chunk).await {
                    Ok(n) => n,
                    // A TLS peer that closes without close_notify; for us that is just a close.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
                    Err(source) => {
                        return Err(TransportError::Io {
                            op: "receiving from",
                            addr: peer,
                            source,
                        });
                    }
                };
                if n == 0 {
                    return Err(TransportError::Closed {
                        peer,
                        pending: framer.pending(),
                    });
                }
                framer.extend(chunk.get(..n).unwrap_or_default());
            },
            Reader::Ws(read, decoder) => loop {
                match decoder.next_event() {
                    Ok(ws::Event::Message(data)) => return Ok(Received { data, from: peer }),
                    Ok(ws::Event::Ping(payload)) => {
                        self.sender.send_frame(ws::OP_PONG, &payload).await?;
                        continue;
                    }
                    Ok(ws::Event::Close(payload)) => {
                        // Echo the status code (RFC 6455 §5.5.1); the peer may be gone already.
                        let code = payload.get(..2).unwrap_or_default();
                        let _ = self.sender.send_frame(ws::OP_CLOSE, code).await;
                        return Err(TransportError::Closed {
                            peer,
                            pending: decoder.pending(),
                        });
                    }
                    Ok(ws::Event::NeedMore) => {}
                    Err(ws::DecodeError::TooLarge) => {
                        return Err(TransportError::TooLarge {
                            peer,
                            limit: self.max_message,
                        });
                    }
                    Err(ws::DecodeError::Protocol(message)) => {
                        return Err(TransportError::WebSocket {
                            addr: peer,
                            message,
                        });
                    }
                }
                let mut chunk = [0u8; READ_CHUNK];
                let n = match read.read(&mut chunk).await {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
                    Err(source) => {
                        return Err(TransportError::Io {
                            op: "receiving from",
                            addr: peer,
                            source,
                        });
                    }
                };
                if n == 0 {
                    return Err(TransportError::Closed {
                        peer,
                        pending: decoder.pending(),
                    });
                }
                decoder.extend(chunk.get(..n).unwrap_or_default());
            },
        }
    }
}

impl Sender {
    /// Send one whole message (a datagram, or bytes written to the stream in one piece).
    pub async fn send(&self, bytes: &[u8]) -> Result<(), TransportError> {
        match &*self.inner {
            SendInner::Udp(socket, peer) => {
                socket
                    .send(bytes)
                    .await
                    .map_err(|e| udp_error(too_large(e, bytes.len()), *peer, "sending to"))?;
                Ok(())
            }
            SendInner::Stream(write, peer) => {
                let mut write = write.lock().await;
                let io = |source| TransportError::Io {
                    op: "sending to",
                    addr: *peer,
                    source,
                };
                write.write_all(bytes).await.map_err(io)?;
                write.flush().await.map_err(io)
            }
            SendInner::Ws(..) => {
                // RFC 7118 §5.2: text frames for UTF-8 messages, binary otherwise.
                let opcode = if std::str::from_utf8(bytes).is_ok() {
                    ws::OP_TEXT
                } else {
                    ws::OP_BINARY
                };
                self.send_frame(opcode, bytes).await
            }
        }
    }

    /// One WebSocket frame; only meaningful on a WebSocket connection.
    async fn send_frame(&self, opcode: u8, payload: &[u8]) -> Result<(), TransportError> {
        let SendInner::Ws(state, peer) = &*self.inner else {
            return Ok(());
        };
        let mut state = state.lock().await;
        let (write, rng) = &mut *state;
        let mask = rng.next_u64().to_be_bytes();
        let frame = ws::encode(opcode, payload, [mask[0], mask[1], mask[2], mask[3]]);
        let io = |source| TransportError::Io {
            op: "sending to",
            addr: *peer,
            source,
        };
        write.write_all(&frame).await.map_err(io)?;
        write.flush().await.map_err(io)
    }

    /// Close the sending side: FIN on TCP, close_notify on TLS. Further sends fail.
    pub async fn shutdown(&self) -> Result<(), TransportError> {
        match &*self.inner {
            SendInner::Udp(..) => Ok(()),
            SendInner::Ws(state, peer) => {
                // A close frame first, then FIN (RFC 6455 §7.1.1 leaves the TCP close to the
                // server; closing our side after the frame is the common shortcut).
                self.send_frame(ws::OP_CLOSE, &1000u16.to_be_bytes())
                    .await?;
                state
                    .lock()
                    .await
                    .0
                    .shutdown()
                    .await
                    .map_err(|source| TransportError::Io {
                        op: "closing the connection to",
                        addr: *peer,
                        source,
                    })
            }
            SendInner::Stream(write, peer) => {
                write
                    .lock()
                    .await
                    .shutdown()
                    .await
                    .map_err(|source| TransportError::Io {
                        op: "closing the connection to",
                        addr: *peer,
                        source,
                    })
            }
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("dest", &self.dest)
            .field("local", &self.local)
            .field("max_message", &self.max_message)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, peer) = match &*self.inner {
            SendInner::Udp(_, peer) => ("udp", peer),
            SendInner::Stream(_, peer) => ("stream", peer),
            SendInner::Ws(_, peer) => ("websocket", peer),
        };
        f.debug_struct("Sender")
            .field("kind", &kind)
            .field("peer", peer)
            .finish()
    }
}

/// `0.0.0.0:0` or `[::]:0`, matching the destination's family.
fn unspecified(peer: SocketAddr) -> SocketAddr {
    if peer.is_ipv4() {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    }
}

fn local_of(actual: io::Result<SocketAddr>, asked: SocketAddr) -> SocketAddr {
    actual.unwrap_or(asked)
}

/// ICMP port unreachable surfaces as ECONNREFUSED on a connected UDP socket.
/// EMSGSIZE ("Message too long", os error 90 on Linux) names neither the size nor the way
/// out: say both.
pub(crate) fn too_large(e: io::Error, size: usize) -> io::Error {
    if e.raw_os_error() == Some(nix::libc::EMSGSIZE) {
        io::Error::new(
            e.kind(),
            format!(
                "a {size}-byte message does not fit in one UDP datagram (at most 65507 bytes \
                 over IPv4, 65527 over IPv6): send it over TCP"
            ),
        )
    } else {
        e
    }
}

fn udp_error(e: io::Error, addr: SocketAddr, op: &'static str) -> TransportError {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        TransportError::Unreachable { addr }
    } else {
        TransportError::Io {
            op,
            addr,
            source: e,
        }
    }
}

async fn tcp_connect(
    addr: SocketAddr,
    bind: Option<SocketAddr>,
) -> Result<TcpStream, TransportError> {
    let connect_err = |source| TransportError::Connect { addr, source };
    let stream = match bind {
        None => TcpStream::connect(addr).await.map_err(connect_err)?,
        Some(local) => {
            let socket = if local.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .map_err(connect_err)?;
            socket.bind(local).map_err(|source| TransportError::Bind {
                addr: local,
                source,
            })?;
            socket.connect(addr).await.map_err(connect_err)?
        }
    };
    // SIP messages are written whole; waiting to coalesce them only adds latency.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

async fn tls_handshake(
    dest: &Destination,
    tls: &ClientTls,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, TransportError> {
    let tls_err = |source| TransportError::Tls {
        addr: dest.addr,
        host: dest.host.clone(),
        source,
    };
    let name = super::tls::server_name(&dest.host)
        .map_err(|m| tls_err(io::Error::new(io::ErrorKind::InvalidInput, m)))?;
    tls.connector().connect(name, tcp).await.map_err(tls_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn issue_15_a_datagram_too_large_says_so_not_os_error_90() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let peer = socket.local_addr().expect("addr");
        socket.connect(peer).await.expect("connect");
        let e = socket
            .send(&vec![b'x'; 70_000])
            .await
            .expect_err("too large for one datagram");
        let text = udp_error(too_large(e, 70_000), peer, "sending to").to_string();
        assert!(
            text.contains("70000-byte message") && text.contains("TCP"),
            "{text}"
        );
        assert!(!text.contains("os error"), "{text}");
        let other = too_large(io::Error::from(io::ErrorKind::BrokenPipe), 10);
        assert_eq!(other.kind(), io::ErrorKind::BrokenPipe);
    }
}
