//! The server side of the transports, for `sipkit listen`: sockets bound on several transports
//! and addresses at once, one task per accepted TCP/TLS/WebSocket connection, every message
//! and every connection problem delivered as an [`Event`] on one queue (UDP datagrams are read
//! straight from their sockets by [`Listener::recv`], the busiest path, with no task between). Replies go back on the
//! [`Flow`] a request came in on, because RFC 3261 §18.2.2 sends a response over a reliable
//! transport back on the connection that carried the request; [`Listener::send_to`] opens a
//! connection when the endpoint itself starts a request (a BYE) and none is open.
//!
//! A hostile peer (garbage, a message larger than the limit, a message never finished, a
//! handshake never finished) costs only its own connection: its task reports the reason as
//! [`Event::Closed`] and ends, the other tasks never notice.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Mutex, mpsc, watch};
use tokio::time::Instant;

use super::framing::{Frame, FrameError, StreamFramer};
use super::tls::ServerTls;
use super::udp_batch::{self, RecvBatch};
use super::{ClientTls, Connection, Destination, Proto, Sender, TransportError, ws};

type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// More than the largest UDP payload, so an oversized datagram is seen whole and refused
/// rather than silently truncated.
const UDP_BUFFER: usize = 65536;
/// How much is read from a stream at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Events waiting for the command; connection tasks wait when it is full (back-pressure).
const QUEUE: usize = 1024;
/// Pause after a failed `accept` (out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One address to listen on, and after [`Listener::bind`] the address really bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ListenSpec {
    /// The transport.
    pub proto: Proto,
    /// The IP address and port (port 0: chosen by the system).
    pub addr: SocketAddr,
}

impl ListenSpec {
    /// Listen for `proto` on `addr`.
    pub fn new(proto: Proto, addr: SocketAddr) -> ListenSpec {
        ListenSpec { proto, addr }
    }
}

impl fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.proto, self.addr)
    }
}

/// Bounds on what one peer may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message accepted, in bytes (a datagram, a framed stream message, a WebSocket
    /// message); on a stream, also the largest unfinished prefix.
    pub max_message: usize,
    /// A connection silent this long (no message, no keepalive) is closed.
    pub idle: Duration,
    /// A message, or a TLS/WebSocket handshake, begun but not finished within this time closes
    /// the connection (slow-read attacks). Also bounds connecting in [`Listener::send_to`].
    pub message_timeout: Duration,
    /// Connections open at once (accepted and opened by `send_to`); more are refused.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 64 KiB messages, 5 minutes idle, 30 seconds per message or handshake, 1024 connections.
    fn default() -> Limits {
        Limits {
            max_message: 64 * 1024,
            idle: Duration::from_secs(300),
            message_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Names one connection for the lifetime of a [`Listener`]; never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where a message came from and where its reply goes: the transport, our address, the peer's
/// address, and for connection transports the connection itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Flow {
    /// The transport.
    pub proto: Proto,
    /// Our address: the UDP socket's bound address, or the connection's local address.
    pub local: SocketAddr,
    /// The peer's address (the source address of the packets, not the Via sent-by).
    pub remote: SocketAddr,
    /// The connection; `None` for UDP.
    pub conn: Option<ConnId>,
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} <-> {}", self.proto, self.local, self.remote)?;
        if let Some(id) = self.conn {
            write!(f, " {id}")?;
        }
        Ok(())
    }
}

/// One message received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// One whole SIP message: a datagram, a stream message cut at its Content-Length, or one
    /// WebSocket message (RFC 7118 §5.3). Keepalive CRLFs are never included. Not parsed: a
    /// datagram or WebSocket message may still be garbage.
    pub data: Vec<u8>,
    /// Where it came from.
    pub flow: Flow,
}

/// What [`Listener::next`] gives: a datagram lent from the listener's buffers, or an event.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// A UDP datagram: one whole message, not parsed (it may be garbage), never a keepalive.
    Datagram {
        /// The datagram, valid until the listener is used again.
        data: &'a [u8],
        /// Where it came from.
        flow: Flow,
    },
    /// Anything else: messages from connections, connections opened and closed, errors.
    Event(Event),
}

impl Incoming<'_> {
    /// As an owned [`Event`], the datagram copied.
    pub fn into_event(self) -> Event {
        match self {
            Incoming::Datagram { data, flow } => Event::Message(Inbound {
                data: data.to_vec(),
                flow,
            }),
            Incoming::Event(event) => event,
        }
    }
}

/// Where [`Listener::poll_advance`] stopped: a datagram of the last batch, by index (lent out
/// only once the advancing, which needs the listener mutably, is done), or an event.
#[derive(Debug)]
enum Next {
    Datagram(usize),
    Event(Event),
}

/// What a [`Listener`] reports.
#[derive(Debug)]
pub enum Event {
    /// A message arrived.
    Message(Inbound),
    /// A connection was accepted (after its TLS and WebSocket handshakes) or opened by
    /// [`Listener::send_to`].
    Opened(Flow),
    /// A connection ended: `None` when the peer closed it cleanly between messages, otherwise
    /// why (peer closed mid-message, garbage, too large, stalled, idle, I/O error).
    Closed {
        /// The connection.
        flow: Flow,
        /// Why, unless it was an orderly close.
        error: Option<TransportError>,
    },
    /// Something failed without ending a connection that had been opened: an oversized or
    /// unreadable datagram (the socket keeps working), a refused connection, a failed TLS or
    /// WebSocket handshake (no [`Event::Opened`] was reported for it), a failed `accept`.
    Error {
        /// Where it happened.
        flow: Flow,
        /// What happened.
        error: TransportError,
    },
}

/// Sockets listening on one or more transports and addresses.
#[derive(Debug)]
pub struct Listener {
    events: mpsc::Receiver<Event>,
    shared: Arc<Shared>,
    locals: Vec<ListenSpec>,
    /// UDP is received here, in [`Listener::recv`], not in a task of its own: a datagram then
    /// costs no channel send and no second task wake-up, and a burst is drained with
    /// [`Listener::try_recv`] in one turn of the caller's loop.
    udp_batch: RecvBatch,
    /// The socket the last batch was read from, and the next of its datagrams to return.
    udp_local: SocketAddr,
    udp_pos: usize,
    /// What [`Listener::poll_ready`] found, for the next [`Listener::try_next`].
    found: Option<Next>,
    /// The socket polled first next time, so one busy socket cannot starve the others.
    udp_next: usize,
    /// After a receive error other than an ICMP report, the sockets rest until then, so a
    /// failing socket does not spin.
    udp_pause: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Dropped with the listener: every task sees its receiver close and ends.
    _shutdown: watch::Sender<()>,
}

#[derive(Debug)]
struct Shared {
    udp: Vec<(SocketAddr, Arc<UdpSocket>)>,
    conns: StdMutex<HashMap<ConnId, Registered>>,
    open: AtomicUsize,
    next_id: AtomicU64,
    limits: Limits,
    tls: Option<ServerTls>,
    client_tls: StdMutex<Option<ClientTls>>,
    events: mpsc::Sender<Event>,
    shutdown: watch::Receiver<()>,
}

#[derive(Debug)]
struct Registered {
    flow: Flow,
    writer: Arc<Writer>,
}

/// The sending half of one connection.
enum Writer {
    Stream(Mutex<BoxWrite>),
    /// Server side of a WebSocket: our frames are not masked.
    Ws(Mutex<BoxWrite>),
    /// A connection opened by `send_to`, with the client code's sender.
    Client(Sender),
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Writer::Stream(_) => "Writer::Stream",
            Writer::Ws(_) => "Writer::Ws",
            Writer::Client(_) => "Writer::Client",
        })
    }
}

impl Writer {
    async fn send(&self, bytes: &[u8], peer: SocketAddr) -> Result<(), TransportError> {
        match self {
            Writer::Stream(w) => write_all(&mut *w.lock().await, bytes, peer).await,
            Writer::Ws(_) => {
                // RFC 7118 §5.2: text frames for UTF-8 messages, binary otherwise.
                let opcode = if std::str::from_utf8(bytes).is_ok() {
                    ws::OP_TEXT
                } else {
                    ws::OP_BINARY
                };
                self.send_frame(opcode, bytes, peer).await
            }
            Writer::Client(sender) => sender.send(bytes).await,
        }
    }

    async fn send_frame(
        &self,
        opcode: u8,
        payload: &[u8],
        peer: SocketAddr,
    ) -> Result<(), TransportError> {
        match self {
            Writer::Ws(w) => {
                let frame = ws::encode_unmasked(opcode, payload);
                write_all(&mut *w.lock().await, &frame, peer).await
            }
            Writer::Stream(_) | Writer::Client(_) => Ok(()),
        }
    }

    async fn shutdown(&self) {
        match self {
            Writer::Stream(w) | Writer::Ws(w) => {
                let _ = w.lock().await.shutdown().await;
            }
            Writer::Client(sender) => {
                let _ = sender.shutdown().await;
            }
        }
    }
}

async fn write_all(w: &mut BoxWrite, bytes: &[u8], peer: SocketAddr) -> Result<(), TransportError> {
    let io = |source| TransportError::Io {
        op: "sending to",
        addr: peer,
        source,
    };
    w.write_all(bytes).await.map_err(io)?;
    w.flush().await.map_err(io)
}

impl Listener {
    /// Bind every spec (TLS and WSS need `tls`), start receiving, and return the listener.
    /// Fails on the first address that cannot be bound, closing those already bound.
    pub async fn bind(
        specs: &[ListenSpec],
        tls: Option<ServerTls>,
        limits: Limits,
    ) -> Result<Listener, TransportError> {
        if specs.iter().any(|s| s.proto.is_secure()) && tls.is_none() {
            return Err(TransportError::TlsConfig(
                "listening on tls or wss needs a server certificate and its key".into(),
            ));
        }
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        let mut locals = Vec::new();
        for spec in specs {
            let bind_err = |source| TransportError::Bind {
                addr: spec.addr,
                source,
            };
            if spec.proto == Proto::Udp {
                let socket = UdpSocket::bind(spec.addr).await.map_err(bind_err)?;
                let local = socket.local_addr().map_err(bind_err)?;
                locals.push(ListenSpec::new(Proto::Udp, local));
                udp.push((local, Arc::new(socket)));
            } else {
                let listener = TcpListener::bind(spec.addr).await.map_err(bind_err)?;
                let local = listener.local_addr().map_err(bind_err)?;
                locals.push(ListenSpec::new(spec.proto, local));
                tcp.push((spec.proto, local, listener));
            }
        }
        let (events_tx, events) = mpsc::channel(QUEUE);
        let (shutdown_tx, shutdown) = watch::channel(());
        let shared = Arc::new(Shared {
            udp,
            conns: StdMutex::new(HashMap::new()),
            open: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            limits,
            tls,
            client_tls: StdMutex::new(None),
            events: events_tx,
            shutdown,
        });
        for (proto, local, listener) in tcp {
            tokio::spawn(accept_loop(shared.clone(), proto, local, listener));
        }
        Ok(Listener {
            events,
            shared,
            locals,
            udp_batch: RecvBatch::new(UDP_BUFFER),
            udp_local: SocketAddr::from(([0, 0, 0, 0], 0)),
            udp_pos: 0,
            found: None,
            udp_next: 0,
            udp_pause: None,
            _shutdown: shutdown_tx,
        })
    }

    /// The addresses really bound, in the order of the specs, with ports chosen by the system
    /// filled in.
    pub fn local_addrs(&self) -> &[ListenSpec] {
        &self.locals
    }

    /// The next event. Cancel-safe. Waits forever when nothing happens, as a server does.
    /// A datagram comes as an owned [`Event::Message`]; [`Listener::next`] lends it instead.
    pub async fn recv(&mut self) -> Event {
        self.next().await.into_event()
    }

    /// An event already waiting, without waiting: after [`Listener::recv`], to take a burst of
    /// datagrams in one go.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.try_next().map(Incoming::into_event)
    }

    /// The next event, a UDP datagram lent from the listener's receive buffers rather than
    /// copied out (it stays valid until the listener is used again). Cancel-safe.
    pub async fn next(&mut self) -> Incoming<'_> {
        let next = std::future::poll_fn(|cx| match self.found.take() {
            Some(next) => Poll::Ready(next),
            None => self.poll_advance(cx, true),
        })
        .await;
        self.incoming(next)
    }

    /// What [`Listener::next`] would give at once, without waiting: after it, to take a burst
    /// of datagrams in one go.
    pub fn try_next(&mut self) -> Option<Incoming<'_>> {
        let next = match self.found.take() {
            Some(next) => next,
            None => {
                let mut cx = Context::from_waker(std::task::Waker::noop());
                match self.poll_advance(&mut cx, false) {
                    Poll::Ready(next) => next,
                    Poll::Pending => return None,
                }
            }
        };
        Some(self.incoming(next))
    }

    /// `Ready` once [`Listener::try_next`] has something to give (it is kept for it); on
    /// `Pending`, `cx` is woken when there may be. For a caller that polls its sources itself,
    /// where the lent datagram of [`Listener::next`] could not be returned from the poll.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.found.is_none() {
            self.found = Some(std::task::ready!(self.poll_advance(cx, true)));
        }
        Poll::Ready(())
    }

    fn incoming(&self, next: Next) -> Incoming<'_> {
        match next {
            Next::Event(event) => Incoming::Event(event),
            Next::Datagram(i) => {
                let (data, remote) = self.udp_batch.get(i);
                Incoming::Datagram {
                    data,
                    flow: Flow {
                        proto: Proto::Udp,
                        local: self.udp_local,
                        remote,
                        conn: None,
                    },
                }
            }
        }
    }

    /// Moves to the next event. `register`: on `Pending`, `cx` is woken when one may be there
    /// (without it, as for [`Listener::try_next`], nothing is registered and a socket's
    /// readiness is only looked at, which spares a round through the reactor per datagram).
    fn poll_advance(&mut self, cx: &mut Context<'_>, register: bool) -> Poll<Next> {
        if let Some(next) = self.next_in_batch() {
            return Poll::Ready(next);
        }
        // Only tasks send on this queue (accept loops and connections), and each holds the
        // shared state until it ends, after its last event. A listener on UDP alone with no
        // connection open has none: its queue need not be polled per datagram. When the
        // count says the last task is gone, its events are already queued (the fence pairs
        // with the count's release when that task let go), and `is_empty` sees them. A
        // connection opened by `send_to`, from the caller's own task, counts before the caller
        // polls again.
        let senders = Arc::strong_count(&self.shared) > 1 || {
            std::sync::atomic::fence(Ordering::Acquire);
            !self.events.is_empty()
        };
        if senders {
            if let Poll::Ready(Some(event)) = self.events.poll_recv(cx) {
                return Poll::Ready(Next::Event(event));
            }
        }
        // `None` cannot happen while `self.shared` holds a sender: wait rather than invent one.
        if let Some(pause) = self.udp_pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.udp_pause = None;
        }
        let sockets = self.shared.udp.len();
        if sockets == 0 {
            return Poll::Pending;
        }
        // A read counts against the task's cooperative budget, as tokio's own socket
        // readiness did: under a flood the caller's loop must still come back Pending now and
        // then, so its other work (timers, signals) is served.
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        for k in 0..sockets {
            let i = (self.udp_next + k) % sockets;
            while let Some(&(local, ref socket)) = self.shared.udp.get(i) {
                // Straight to the read: tokio's readiness, checked inside, says whether a
                // system call is worth it; it is polled (to be woken) only once the socket
                // is found empty.
                match self.udp_batch.recv(socket) {
                    Ok(_) => {
                        self.udp_local = local;
                        self.udp_pos = 0;
                        if let Some(next) = self.next_in_batch() {
                            coop.made_progress();
                            self.udp_next = (i + 1) % sockets;
                            return Poll::Ready(next);
                        }
                        // Only keepalives: read on.
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if !register {
                            break;
                        }
                        match socket.poll_recv_ready(cx) {
                            Poll::Pending => break,
                            // Readiness came back since the read: read again.
                            Poll::Ready(Ok(())) => {}
                            Poll::Ready(Err(source)) => {
                                return Poll::Ready(Next::Event(self.udp_failed(local, source)));
                            }
                        }
                    }
                    // Some systems report an ICMP error for an earlier send_to here; the
                    // socket is fine.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
                    Err(source) => {
                        return Poll::Ready(Next::Event(self.udp_failed(local, source)));
                    }
                }
            }
        }
        Poll::Pending
    }

    /// The next datagram of the last batch read that is a message, or the error for one too
    /// large; `None` when the batch is used up.
    fn next_in_batch(&mut self) -> Option<Next> {
        let max = self.shared.limits.max_message;
        while self.udp_pos < self.udp_batch.len() {
            let i = self.udp_pos;
            self.udp_pos += 1;
            let (data, from) = self.udp_batch.get(i);
            // RFC 5626 §4.4.1 keepalives and empty datagrams are no messages.
            if data.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                continue;
            }
            if data.len() > max {
                return Some(Next::Event(Event::Error {
                    flow: Flow {
                        proto: Proto::Udp,
                        local: self.udp_local,
                        remote: from,
                        conn: None,
                    },
                    error: TransportError::TooLarge {
                        peer: from,
                        limit: max,
                    },
                }));
            }
            return Some(Next::Datagram(i));
        }
        None
    }

    /// A receive error other than an ICMP report: the sockets rest a moment, so a failing
    /// socket does not spin.
    fn udp_failed(&mut self, local: SocketAddr, source: io::Error) -> Event {
        self.udp_pause = Some(Box::pin(tokio::time::sleep(ACCEPT_BACKOFF)));
        Event::Error {
            flow: Flow {
                proto: Proto::Udp,
                local,
                remote: local,
                conn: None,
            },
            error: TransportError::Io {
                op: "receiving on",
                addr: local,
                source,
            },
        }
    }

    /// The TLS client configuration for TLS and WSS connections that [`Listener::send_to`]
    /// opens; without one, the system's trusted CAs are used.
    pub fn set_client_tls(&self, tls: ClientTls) {
        if let Ok(mut slot) = self.shared.client_tls.lock() {
            *slot = Some(tls);
        }
    }

    /// The connections open now (accepted or opened by `send_to`), in the order opened.
    pub fn connections(&self) -> Vec<Flow> {
        let mut flows: Vec<Flow> = match self.shared.conns.lock() {
            Ok(conns) => conns.values().map(|r| r.flow).collect(),
            Err(_) => Vec::new(),
        };
        flows.sort_by_key(|f| f.conn);
        flows
    }

    /// Send one whole message on `flow`: from the UDP socket it arrived on, or on its
    /// connection. A closed connection gives [`TransportError::NoConnection`]; RFC 3261
    /// §18.2.2 then says to try the Via sent-by with [`Listener::send_to`].
    pub async fn send(&self, flow: &Flow, bytes: &[u8]) -> Result<(), TransportError> {
        match flow.conn {
            None => udp_send(self.udp_socket(flow)?, bytes, flow.remote).await,
            Some(id) => {
                let writer = self.shared.writer(id).ok_or(TransportError::NoConnection {
                    proto: flow.proto,
                    addr: flow.remote,
                })?;
                writer.send(bytes, flow.remote).await
            }
        }
    }

    /// Send several messages, each as [`Listener::send`] would, in order per flow. Datagrams
    /// that leave from one UDP socket one after another go out several per system call
    /// (`sendmmsg(2)` on Linux), which under load also wakes the peer once per burst instead
    /// of once per datagram. Returns the messages that could not be sent, by their index in
    /// `msgs`, with the reason; the others were sent.
    pub async fn send_all(&self, msgs: &[(&Flow, &[u8])]) -> Vec<(usize, TransportError)> {
        let mut failed = Vec::new();
        let mut batch: smallvec::SmallVec<[(&[u8], SocketAddr); udp_batch::SEND_AT_ONCE]> =
            smallvec::SmallVec::new();
        let mut i = 0;
        while let Some(&(flow, bytes)) = msgs.get(i) {
            if flow.conn.is_some() {
                if let Err(e) = self.send(flow, bytes).await {
                    failed.push((i, e));
                }
                i += 1;
                continue;
            }
            let socket = match self.udp_socket(flow) {
                Ok(s) => s,
                Err(e) => {
                    failed.push((i, e));
                    i += 1;
                    continue;
                }
            };
            // The run of datagrams from this socket.
            let end = msgs[i..]
                .iter()
                .position(|(f, _)| f.conn.is_some() || f.local != flow.local)
                .map_or(msgs.len(), |n| i + n);
            while i < end {
                batch.clear();
                batch.extend(
                    msgs[i..end]
                        .iter()
                        .take(udp_batch::SEND_AT_ONCE)
                        .map(|&(f, b)| (b, f.remote)),
                );
                match udp_batch::send_some(socket, &batch) {
                    Ok(n) => i += n.max(1),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // The socket's buffer is full: wait for room, then go on from here.
                        if let Err(source) = socket.writable().await {
                            failed.push((i, udp_error(msgs[i].0.remote, source)));
                            i += 1;
                        }
                    }
                    Err(source) => {
                        failed.push((i, udp_error(msgs[i].0.remote, source)));
                        i += 1;
                    }
                }
            }
        }
        failed
    }

    /// The UDP socket a datagram on `flow` leaves from: the one it arrived on, or one of the
    /// same IP family.
    fn udp_socket(&self, flow: &Flow) -> Result<&UdpSocket, TransportError> {
        self.shared
            .udp
            .iter()
            .find(|(local, _)| *local == flow.local)
            .or_else(|| self.shared.udp_for(flow.remote))
            .map(|(_, s)| &**s)
            .ok_or(TransportError::NoSocket {
                proto: Proto::Udp,
                addr: flow.remote,
            })
    }

    /// Send one whole message to `addr` over `proto`, for requests this endpoint starts: UDP
    /// from a listening socket of the same IP family; TCP, TLS, WS and WSS on a connection
    /// already open to that address, or a new one (reported as [`Event::Opened`], its
    /// messages arriving as events like any other). Returns the flow used.
    pub async fn send_to(
        &self,
        proto: Proto,
        addr: SocketAddr,
        bytes: &[u8],
    ) -> Result<Flow, TransportError> {
        if proto == Proto::Udp {
            let (local, socket) = self
                .shared
                .udp_for(addr)
                .ok_or(TransportError::NoSocket { proto, addr })?;
            udp_send(socket, bytes, addr).await?;
            return Ok(Flow {
                proto,
                local: *local,
                remote: addr,
                conn: None,
            });
        }
        if let Some((flow, writer)) = self.shared.find_conn(proto, addr) {
            writer.send(bytes, addr).await?;
            return Ok(flow);
        }
        let (flow, writer) = self.connect(proto, addr).await?;
        writer.send(bytes, addr).await?;
        Ok(flow)
    }

    async fn connect(
        &self,
        proto: Proto,
        addr: SocketAddr,
    ) -> Result<(Flow, Arc<Writer>), TransportError> {
        let shared = &self.shared;
        let Some(slot) = shared.reserve() else {
            return Err(TransportError::TooManyConnections {
                peer: addr,
                limit: shared.limits.max_connections,
            });
        };
        let tls = match shared.client_tls.lock().ok().and_then(|t| t.clone()) {
            Some(tls) => tls,
            None => ClientTls::new(None, false, None, None)?,
        };
        let dest = Destination::new(proto, addr, addr.ip().to_string());
        let connect = Connection::connect(&dest, None, &tls, shared.limits.max_message);
        let conn = tokio::time::timeout(shared.limits.message_timeout, connect)
            .await
            .map_err(|_| TransportError::Connect {
                addr,
                source: io::Error::new(io::ErrorKind::TimedOut, "no answer in time"),
            })??;
        let id = slot.id;
        let flow = Flow {
            proto,
            local: conn.local_addr(),
            remote: addr,
            conn: Some(id),
        };
        let writer = Arc::new(Writer::Client(conn.sender()));
        shared.register(flow, writer.clone());
        let _ = shared.events.send(Event::Opened(flow)).await;
        tokio::spawn(client_loop(shared.clone(), slot, flow, conn));
        Ok((flow, writer))
    }
}

impl Shared {
    fn udp_for(&self, addr: SocketAddr) -> Option<&(SocketAddr, Arc<UdpSocket>)> {
        self.udp
            .iter()
            .find(|(local, _)| local.is_ipv4() == addr.is_ipv4())
    }

    fn writer(&self, id: ConnId) -> Option<Arc<Writer>> {
        let conns = self.conns.lock().ok()?;
        conns.get(&id).map(|r| r.writer.clone())
    }

    fn find_conn(&self, proto: Proto, addr: SocketAddr) -> Option<(Flow, Arc<Writer>)> {
        let conns = self.conns.lock().ok()?;
        conns
            .values()
            .filter(|r| r.flow.proto == proto && r.flow.remote == addr)
            .min_by_key(|r| r.flow.conn)
            .map(|r| (r.flow, r.writer.clone()))
    }

    fn register(&self, flow: Flow, writer: Arc<Writer>) {
        if let (Some(id), Ok(mut conns)) = (flow.conn, self.conns.lock()) {
            conns.insert(id, Registered { flow, writer });
        }
    }

    /// Count one more connection and give it an id, unless the limit is reached.
    fn reserve(self: &Arc<Self>) -> Option<Slot> {
        let max = self.limits.max_connections;
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(Slot {
            shared: self.clone(),
            id: ConnId(self.next_id.fetch_add(1, Ordering::Relaxed)),
        })
    }

    fn next_id(&self) -> ConnId {
        ConnId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }
}

/// One counted connection: dropping it (when its task ends, however it ends) unregisters the
/// connection and frees its place under the limit.
struct Slot {
    shared: Arc<Shared>,
    id: ConnId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut conns) = self.shared.conns.lock() {
            conns.remove(&self.id);
        }
        self.shared.open.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn udp_send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) -> Result<(), TransportError> {
    socket
        .send_to(bytes, to)
        .await
        .map(|_| ())
        .map_err(|source| udp_error(to, super::conn::too_large(source, bytes.len())))
}

fn udp_error(to: SocketAddr, source: io::Error) -> TransportError {
    TransportError::Io {
        op: "sending to",
        addr: to,
        source,
    }
}

async fn accept_loop(shared: Arc<Shared>, proto: Proto, local: SocketAddr, listener: TcpListener) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            r = listener.accept() => r,
        };
        let (tcp, remote) = match accepted {
            Ok(pair) => pair,
            Err(source) => {
                let flow = Flow {
                    proto,
                    local,
                    remote: local,
                    conn: None,
                };
                let error = TransportError::Io {
                    op: "accepting connections on",
                    addr: local,
                    source,
                };
                if shared
                    .events
                    .send(Event::Error { flow, error })
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let local = tcp.local_addr().unwrap_or(local);
        let Some(slot) = shared.reserve() else {
            let flow = Flow {
                proto,
                local,
                remote,
                conn: Some(shared.next_id()),
            };
            let error = TransportError::TooManyConnections {
                peer: remote,
                limit: shared.limits.max_connections,
            };
            drop(tcp);
            if shared
                .events
                .send(Event::Error { flow, error })
                .await
                .is_err()
            {
                return;
            }
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let flow = Flow {
            proto,
            local,
            remote,
            conn: Some(slot.id),
        };
        tokio::spawn(serve(shared.clone(), slot, flow, tcp));
    }
}

/// Handshakes (TLS, WebSocket), then messages until the connection ends.
async fn serve(shared: Arc<Shared>, slot: Slot, flow: Flow, tcp: TcpStream) {
    let mut shutdown = shared.shutdown.clone();
    let limit = shared.limits.message_timeout;
    let handshake = tokio::time::timeout(limit, handshake(&shared, flow, tcp));
    let opened = tokio::select! {
        _ = shutdown.changed() => return,
        r = handshake => r,
    };
    let (read, writer, framer) = match opened {
        Ok(Ok(parts)) => parts,
        Ok(Err(error)) => {
            let _ = shared.events.send(Event::Error { flow, error }).await;
            return;
        }
        Err(_) => {
            let error = TransportError::Stalled {
                peer: flow.remote,
                secs: limit.as_secs(),
                pending: 0,
            };
            let _ = shared.events.send(Event::Error { flow, error }).await;
            return;
        }
    };
    let writer = Arc::new(writer);
    shared.register(flow, writer.clone());
    if shared.events.send(Event::Opened(flow)).await.is_err() {
        return;
    }
    let error = read_loop(&shared, flow, read, &writer, framer).await;
    // Deregister before reporting, so a reply attempted after `Closed` fails cleanly.
    drop(slot);
    writer.shutdown().await;
    let _ = shared.events.send(Event::Closed { flow, error }).await;
}

async fn handshake(
    shared: &Shared,
    flow: Flow,
    tcp: TcpStream,
) -> Result<(BoxRead, Writer, Framer), TransportError> {
    let max = shared.limits.max_message;
    let peer = flow.remote;
    let ws_err = |message| TransportError::WebSocket {
        addr: peer,
        message,
    };
    let tls = || {
        shared
            .tls
            .as_ref()
            .map(ServerTls::acceptor)
            .ok_or_else(|| TransportError::TlsConfig("no server certificate".into()))
    };
    let tls_err = |source| TransportError::TlsAccept { peer, source };
    Ok(match flow.proto {
        Proto::Udp | Proto::Tcp => {
            let (r, w) = tcp.into_split();
            (
                Box::new(r) as BoxRead,
                Writer::Stream(Mutex::new(Box::new(w))),
                Framer::Sip(StreamFramer::new(max)),
            )
        }
        Proto::Tls => {
            let stream = tls()?.accept(tcp).await.map_err(tls_err)?;
            let (r, w) = tokio::io::split(stream);
            (
                Box::new(r) as BoxRead,
                Writer::Stream(Mutex::new(Box::new(w))),
                Framer::Sip(StreamFramer::new(max)),
            )
        }
        Proto::Ws => {
            let stream = ws::accept(tcp).await.map_err(ws_err)?;
            let (r, w) = stream.into_split();
            (
                Box::new(r) as BoxRead,
                Writer::Ws(Mutex::new(Box::new(w))),
                Framer::Ws(ws::Decoder::server(max)),
            )
        }
        Proto::Wss => {
            let stream = tls()?.accept(tcp).await.map_err(tls_err)?;
            let stream = ws::accept(stream).await.map_err(ws_err)?;
            let (r, w) = tokio::io::split(stream);
            (
                Box::new(r) as BoxRead,
                Writer::Ws(Mutex::new(Box::new(w))),
                Framer::Ws(ws::Decoder::server(max)),
            )
        }
    })
}

/// Stream framing or WebSocket frames: both cut a byte stream into whole messages.
enum Framer {
    Sip(StreamFramer),
    Ws(ws::Decoder),
}

impl Framer {
    fn extend(&mut self, bytes: &[u8]) {
        match self {
            Framer::Sip(f) => f.extend(bytes),
            Framer::Ws(d) => d.extend(bytes),
        }
    }

    fn pending(&self) -> usize {
        match self {
            Framer::Sip(f) => f.pending(),
            Framer::Ws(d) => d.pending(),
        }
    }
}

/// Messages until the peer closes or misbehaves; returns why it ended (`None`: clean close).
async fn read_loop(
    shared: &Shared,
    flow: Flow,
    mut read: BoxRead,
    writer: &Writer,
    mut framer: Framer,
) -> Option<TransportError> {
    let mut shutdown = shared.shutdown.clone();
    let limits = shared.limits;
    let peer = flow.remote;
    let too_large = TransportError::TooLarge {
        peer,
        limit: limits.max_message,
    };
    let mut last_read = Instant::now();
    let mut started: Option<Instant> = None;
    loop {
        // Every whole message in the buffer first.
        loop {
            let data = match &mut framer {
                Framer::Sip(f) => match f.next_message() {
                    Ok(Frame::Message(data)) => data,
                    Ok(Frame::NeedMore) => break,
                    Err(FrameError::TooLarge) => {
                        // Say why before closing (RFC 3261 §21.5.14); the stream's framing
                        // is lost, so the connection closes either way.
                        if let Some(response) = f.too_large_response() {
                            let _ = writer.send(&response, peer).await;
                        }
                        return Some(too_large);
                    }
                    Err(FrameError::Syntax(error)) => {
                        return Some(TransportError::Framing { peer, error });
                    }
                },
                Framer::Ws(d) => match d.next_event() {
                    Ok(ws::Event::Message(data)) => data,
                    Ok(ws::Event::NeedMore) => break,
                    Ok(ws::Event::Ping(payload)) => {
                        if let Err(e) = writer.send_frame(ws::OP_PONG, &payload, peer).await {
                            return Some(e);
                        }
                        continue;
                    }
                    Ok(ws::Event::Close(payload)) => {
                        // Echo the status code (RFC 6455 §5.5.1); the peer may be gone already.
                        let code = payload.get(..2).unwrap_or_default();
                        let _ = writer.send_frame(ws::OP_CLOSE, code, peer).await;
                        let pending = d.pending();
                        return (pending > 0).then_some(TransportError::Closed { peer, pending });
                    }
                    Err(ws::DecodeError::TooLarge) => return Some(too_large),
                    Err(ws::DecodeError::Protocol(message)) => {
                        return Some(TransportError::WebSocket {
                            addr: peer,
                            message,
                        });
                    }
                },
            };
            started = None;
            let event = Event::Message(Inbound { data, flow });
            if shared.events.send(event).await.is_err() {
                return None;
            }
        }
        let pending = framer.pending();
        let (deadline, timed_out) = if pending > 0 {
            let since = *started.get_or_insert_with(Instant::now);
            let error = TransportError::Stalled {
                peer,
                secs: limits.message_timeout.as_secs(),
                pending,
            };
            (since + limits.message_timeout, error)
        } else {
            started = None;
            let error = TransportError::Idle {
                peer,
                secs: limits.idle.as_secs(),
            };
            (last_read + limits.idle, error)
        };
        let mut chunk = [0u8; READ_CHUNK];
        let n = tokio::select! {
            _ = shutdown.changed() => return None,
            _ = tokio::time::sleep_until(deadline) => return Some(timed_out),
            r = read.read(&mut chunk) => match r {
                Ok(n) => n,
                // A TLS peer that closes without close_notify; for us that is just a close.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
                Err(source) => {
                    return Some(TransportError::Io {
                        op: "receiving from",
                        addr: peer,
                        source,
                    });
                }
            },
        };
        if n == 0 {
            return (pending > 0).then_some(TransportError::Closed { peer, pending });
        }
        last_read = Instant::now();
        framer.extend(chunk.get(..n).unwrap_or_default());
    }
}

/// Messages on a connection opened by `send_to`, through the client code's reader.
async fn client_loop(shared: Arc<Shared>, slot: Slot, flow: Flow, mut conn: Connection) {
    let mut shutdown = shared.shutdown.clone();
    let idle = shared.limits.idle;
    let error = loop {
        let received = tokio::select! {
            _ = shutdown.changed() => return,
            r = tokio::time::timeout(idle, conn.recv()) => r,
        };
        match received {
            Ok(Ok(got)) => {
                let event = Event::Message(Inbound {
                    data: got.data,
                    flow,
                });
                if shared.events.send(event).await.is_err() {
                    return;
                }
            }
            Ok(Err(TransportError::Closed { pending: 0, .. })) => break None,
            Ok(Err(e)) => break Some(e),
            Err(_) => {
                break Some(TransportError::Idle {
                    peer: flow.remote,
                    secs: idle.as_secs(),
                });
            }
        }
    };
    drop(slot);
    let _ = conn.sender().shutdown().await;
    let _ = shared.events.send(Event::Closed { flow, error }).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), f)
            .await
            .unwrap_or_else(|_| panic!("{what} timed out"))
    }

    fn owned(incoming: Incoming<'_>) -> (Option<Vec<u8>>, Flow) {
        match incoming {
            Incoming::Datagram { data, flow } => (Some(data.to_vec()), flow),
            Incoming::Event(Event::Error {
                flow,
                error: TransportError::TooLarge { .. },
            }) => (None, flow),
            Incoming::Event(other) => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn datagrams_are_lent_in_order_without_keepalives_and_oversized_ones_are_errors() {
        let limits = Limits {
            max_message: 512,
            ..Limits::default()
        };
        let spec = ListenSpec::new(Proto::Udp, "127.0.0.1:0".parse().expect("addr"));
        let mut listener = Listener::bind(&[spec], None, limits).await.expect("bind");
        let local = listener.local_addrs()[0].addr;
        let peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let remote = peer.local_addr().expect("addr");
        assert!(listener.try_next().is_none());
        for d in [
            &b"first"[..],
            b"\r\n\r\n",
            b"",
            &[7u8; 600],
            b"\r\n",
            b"last",
        ] {
            peer.send_to(d, local).await.expect("send");
        }
        let flow = Flow {
            proto: Proto::Udp,
            local,
            remote,
            conn: None,
        };
        let mut got = vec![owned(within("first", listener.next()).await)];
        while got.len() < 3 {
            match listener.try_next() {
                Some(incoming) => got.push(owned(incoming)),
                None => got.push(owned(within("more", listener.next()).await)),
            }
        }
        assert_eq!(
            got,
            vec![
                (Some(b"first".to_vec()), flow),
                (None, flow),
                (Some(b"last".to_vec()), flow),
            ]
        );
        assert!(listener.try_next().is_none());
        // The owned form copies.
        peer.send_to(b"again", local).await.expect("send");
        match within("recv", listener.recv()).await {
            Event::Message(m) => assert_eq!((m.data, m.flow), (b"again".to_vec(), flow)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_udp_listener_still_hears_connections_it_opened_until_their_close() {
        // No accept loop: the event queue is only polled while a connection task lives, or
        // events wait in it.
        let spec = ListenSpec::new(Proto::Udp, "127.0.0.1:0".parse().expect("addr"));
        let mut listener = Listener::bind(&[spec], None, Limits::default())
            .await
            .expect("bind");
        let peer_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let peer_addr = peer_listener.local_addr().expect("addr");
        let request = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n";
        let flow = within("send_to", listener.send_to(Proto::Tcp, peer_addr, request))
            .await
            .expect("send_to");
        let (peer, _) = within("accept", peer_listener.accept())
            .await
            .expect("accept");
        assert!(matches!(within("opened", listener.recv()).await, Event::Opened(f) if f == flow));
        drop(peer);
        // The task frees its slot before it reports the close: the report must still wake us.
        match within("closed", listener.recv()).await {
            Event::Closed { flow: f, .. } => assert_eq!(f, flow),
            other => panic!("unexpected {other:?}"),
        }
    }
}
