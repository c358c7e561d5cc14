//! The receiving side (`sipkit listen`): an endpoint bound to one address that accepts TCP or
//! TLS connections (or opens them when RFC 6135 `a=setup` makes us active), ties each
//! connection to the sessions named by the To-Path of its SENDs (RFC 4975 §5.4), answers and
//! reassembles chunks, sends Success-Reports, and reports typed events to the caller.
//!
//! Every connection runs in its own task with its own buffer and limits, so a peer that sends
//! garbage, an oversized header or an endless body loses its connection and nothing else.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

use super::store::{BUDGET, Budget, Store, StoreConfig, Stored};
use super::stream::{self, BoxIo, Security, Tap};
use super::wire::{self, BadHead, OwnedHead, Request};
use super::{MsrpError, cpim, local_uri, new_session_id};
use crate::proto::msrp::{
    ByteRange, Flag, Frame, Framer, FramerOptions, IdGenerator, Method, MsrpUri, Progress,
    Reassembler, ReassemblerLimits, ReassemblyError, ReportValue,
};
use crate::transport::{ClientTls, ServerTls, TransportError};

/// Bytes asked of the socket per read: a few chunks at once when the sender keeps a window full.
const READ_SIZE: usize = 256 * 1024;

/// Per-connection bounds against hostile or broken peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverLimits {
    /// Largest start line plus headers.
    pub max_head: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle: Duration,
    /// TLS handshakes and outgoing connections must finish within this.
    pub handshake: Duration,
    /// Most connections at once; more are closed on accept.
    pub max_connections: usize,
    /// Most messages in progress per session on one connection.
    pub max_messages: usize,
}

impl Default for ReceiverLimits {
    fn default() -> Self {
        ReceiverLimits {
            max_head: 16 * 1024,
            idle: Duration::from_secs(300),
            handshake: Duration::from_secs(10),
            max_connections: 256,
            max_messages: 64,
        }
    }
}

/// How the endpoint listens.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The address to bind (`--msrp`); port 0 picks a free one.
    pub bind: SocketAddr,
    /// The host written in our MSRP URIs; defaults to the bound IP address.
    pub advertised_host: Option<String>,
    /// TLS for `msrps` (all connections accepted are then TLS).
    pub tls: Option<ServerTls>,
    /// Connection limits.
    pub limits: ReceiverLimits,
}

/// What one session accepts and where its messages go.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Accepted media types from our SDP `a=accept-types` (RFC 4975 §8.6): `type/subtype`,
    /// `type/*` or `*`. Parameters are ignored in the comparison.
    pub accept_types: Vec<String>,
    /// Largest message accepted (our `a=max-size`); larger ones get 413.
    pub max_size: u64,
    /// Memory threshold and directory for received messages.
    pub store: StoreConfig,
    /// Compute SHA-1 as well while messages arrive ([`ReceivedMessage::sha1`]), for a
    /// receiver that checks an RFC 5547 `a=file-selector` hash.
    pub sha1: bool,
    /// Hold each Success-Report until the receiver of the events has kept the message and
    /// called [`Confirm::kept`] (see [`ReceivedMessage::confirm`]): a report then promises a
    /// file written and synced under its name.
    pub confirm: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            accept_types: vec!["*".into()],
            max_size: 1 << 30,
            store: StoreConfig::default(),
            sha1: false,
            confirm: false,
        }
    }
}

/// A session we announced: its id and our URI for `a=path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSession {
    /// The session-id part of the URI.
    pub session_id: String,
    /// Our full MSRP URI.
    pub uri: String,
}

/// The content of a delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// A small `text/*` message, valid UTF-8, kept in memory.
    Text(String),
    /// Other small content kept in memory.
    Bytes(Vec<u8>),
    /// A message stored in a file (for message/cpim, the whole wrapper: the inner content
    /// starts at [`ReceivedMessage::body_offset`]).
    File(PathBuf),
}

/// A completely received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// Our session id.
    pub session_id: String,
    /// The Message-ID.
    pub message_id: String,
    /// The content type: the inner one for message/cpim.
    pub content_type: String,
    /// Size of the content (the inner content for message/cpim).
    pub size: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    /// Lowercase hex SHA-1 of the content, with [`SessionConfig::sha1`] (and not for
    /// message/cpim, whose content starts after the envelope).
    pub sha1: Option<String>,
    /// The content.
    pub content: Delivered,
    /// For message/cpim: the envelope headers `(name, value)`.
    pub cpim: Option<Vec<(String, String)>>,
    /// Offset of the content in a stored file (non-zero only for message/cpim files).
    pub body_offset: u64,
    /// With [`SessionConfig::confirm`] and a Success-Report asked for: the report waits for
    /// this answer (at most [`CONFIRM_WAIT`]); dropping it unanswered sends no report.
    pub confirm: Option<Confirm>,
}

/// How long a Success-Report waits for [`Confirm::kept`].
pub const CONFIRM_WAIT: Duration = Duration::from_secs(30);

/// The answer a held Success-Report waits for; see [`ReceivedMessage::confirm`].
#[derive(Debug, Clone)]
pub struct Confirm(Arc<Mutex<Option<tokio::sync::oneshot::Sender<bool>>>>);

impl Confirm {
    /// `true`: the message is kept (written and synced), the report may leave; `false`: no
    /// Success-Report is sent.
    pub fn kept(&self, ok: bool) {
        if let Some(tx) = self.0.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(ok);
        }
    }
}

/// Every confirmation compares equal: it is a channel, not content.
impl PartialEq for Confirm {
    fn eq(&self, _: &Confirm) -> bool {
        true
    }
}
impl Eq for Confirm {}

/// What happens on the endpoint, in order per connection.
#[derive(Debug)]
pub enum ReceiveEvent {
    /// A connection was accepted (or opened, when active).
    Connected {
        /// The peer.
        peer: SocketAddr,
    },
    /// The first request for a session arrived on a connection (RFC 4975 §5.4).
    SessionBound {
        /// Our session id.
        session_id: String,
        /// The peer.
        peer: SocketAddr,
        /// The peer's From-Path.
        from_path: String,
    },
    /// A chunk was received and answered.
    Chunk {
        /// Our session id.
        session_id: String,
        /// The Message-ID.
        message_id: String,
        /// Distinct bytes of the message received so far.
        received: u64,
        /// The message size, once known.
        total: Option<u64>,
    },
    /// A whole message arrived.
    Message(ReceivedMessage),
    /// The sender aborted a message with `#` (RFC 4975 §7.1); partial data was discarded.
    Aborted {
        /// Our session id.
        session_id: String,
        /// The Message-ID.
        message_id: String,
        /// Bytes received before the abort.
        received: u64,
    },
    /// We refused a request with an error status (400, 413, 415, 481, 501...).
    Refused {
        /// The peer.
        peer: SocketAddr,
        /// The session id of the To-Path, if any.
        session_id: Option<String>,
        /// The Message-ID, if any.
        message_id: Option<String>,
        /// The status sent (or that would have been sent, with Failure-Report: no).
        code: u16,
        /// Why.
        reason: String,
    },
    /// A connection ended with an error; other connections are unaffected.
    Error {
        /// The peer.
        peer: SocketAddr,
        /// What went wrong.
        error: MsrpError,
    },
    /// A connection was closed cleanly by the peer.
    Disconnected {
        /// The peer.
        peer: SocketAddr,
    },
}

#[derive(Debug)]
struct Shared {
    sessions: Mutex<HashMap<String, Entry>>,
    limits: ReceiverLimits,
    seed: Mutex<IdGenerator>,
    tap: std::sync::OnceLock<Tap>,
    /// Success-Reports held for a confirmation and not yet sent (or given up).
    held: std::sync::atomic::AtomicUsize,
    settled: tokio::sync::Notify,
}

/// One held Success-Report, counted in [`Shared::held`] until dropped.
struct Held(Arc<Shared>);

impl Held {
    fn new(shared: &Arc<Shared>) -> Held {
        shared
            .held
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Held(shared.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0
            .held
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        self.0.settled.notify_waiters();
    }
}

#[derive(Debug, Clone)]
struct Entry {
    uri: String,
    config: SessionConfig,
}

impl Shared {
    fn session(&self, id: &str) -> Option<Entry> {
        self.sessions.lock().ok()?.get(id).cloned()
    }
    fn next_id(&self) -> String {
        match self.seed.lock() {
            Ok(mut g) => g.next_id().as_str().to_owned(),
            Err(_) => new_session_id(),
        }
    }
}

/// An MSRP endpoint receiving sessions; see the module docs.
#[derive(Debug)]
pub struct Endpoint {
    shared: Arc<Shared>,
    local: SocketAddr,
    host: String,
    security: Security,
    events_tx: mpsc::Sender<ReceiveEvent>,
    events: mpsc::Receiver<ReceiveEvent>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

/// Whether `ct` (`type/subtype;params`) is one of `accepted` (RFC 4975 §8.6: `*` and `type/*`
/// wildcards, case-insensitive).
pub(crate) fn type_accepted(accepted: &[String], ct: &str) -> bool {
    let bare = ct.split(';').next().unwrap_or("").trim();
    let (t, _) = bare.split_once('/').unwrap_or((bare, ""));
    accepted.iter().any(|a| {
        let a = a.split(';').next().unwrap_or("").trim();
        a == "*"
            || a.eq_ignore_ascii_case(bare)
            || a.strip_suffix("/*")
                .is_some_and(|at| at.eq_ignore_ascii_case(t))
    })
}

impl Endpoint {
    /// Bind and start accepting connections.
    pub async fn bind(config: EndpointConfig) -> Result<Endpoint, MsrpError> {
        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|source| TransportError::Bind {
                    addr: config.bind,
                    source,
                })?;
        let local = listener
            .local_addr()
            .map_err(|source| TransportError::Bind {
                addr: config.bind,
                source,
            })?;
        let host = config
            .advertised_host
            .clone()
            .unwrap_or_else(|| local.ip().to_string());
        let security = if config.tls.is_some() {
            Security::Tls
        } else {
            Security::Tcp
        };
        let shared = Arc::new(Shared {
            sessions: Mutex::new(HashMap::new()),
            limits: config.limits,
            seed: Mutex::new(IdGenerator::new(super::id_seed())),
            tap: std::sync::OnceLock::new(),
            held: std::sync::atomic::AtomicUsize::new(0),
            settled: tokio::sync::Notify::new(),
        });
        let (events_tx, events) = mpsc::channel(1024);
        let accept_task = tokio::spawn(accept_loop(
            listener,
            config.tls,
            shared.clone(),
            events_tx.clone(),
        ));
        Ok(Endpoint {
            shared,
            local,
            host,
            security,
            events_tx,
            events,
            accept_task,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// TCP or TLS.
    pub fn security(&self) -> Security {
        self.security
    }

    /// Copy the plaintext of every connection made from now on to `tap` (for a capture). Only
    /// the first call counts.
    pub fn set_tap(&self, tap: Tap) {
        let _ = self.shared.tap.set(tap);
    }

    /// Announce a new session: a fresh session id and our URI for the SDP answer's `a=path`.
    pub fn add_session(&self, config: SessionConfig) -> LocalSession {
        let session_id = new_session_id();
        let uri = local_uri(&self.host, self.local.port(), &session_id, self.security);
        if let Ok(mut s) = self.shared.sessions.lock() {
            s.insert(
                session_id.clone(),
                Entry {
                    uri: uri.clone(),
                    config,
                },
            );
        }
        LocalSession { session_id, uri }
    }

    /// Forget a session: later requests for it get 481.
    pub fn remove_session(&self, session_id: &str) {
        if let Ok(mut s) = self.shared.sessions.lock() {
            s.remove(session_id);
        }
    }

    /// Be the active side (RFC 6135 `a=setup:active`, or RFC 4975's offerer rule): connect to
    /// the first URI of the peer's `peer_path` and bind the session with a bodiless SEND
    /// (RFC 4975 §5.4). Messages then arrive as events like on accepted connections.
    pub async fn connect(
        &self,
        session_id: &str,
        peer_path: &str,
        tls: Option<&ClientTls>,
    ) -> Result<(), MsrpError> {
        let entry = self
            .shared
            .session(session_id)
            .ok_or_else(|| MsrpError::Path {
                path: session_id.to_owned(),
                reason: "no such local session (call add_session first)".into(),
            })?;
        let to_path = stream::split_path(peer_path)?;
        let first = to_path.first().cloned().unwrap_or_default();
        let (io, peer) = stream::connect(&first, tls, self.shared.limits.handshake).await?;
        // The ephemeral local port is hidden behind the boxed stream: the capture shows our
        // listening address instead, which still names the connection uniquely.
        let io = stream::tapped(io, self.shared.tap.get(), self.local, peer);
        let from = [entry.uri.clone()];
        let mid = self.shared.next_id();
        let tid = self.shared.next_id();
        let bind = wire::bodiless_request(
            &tid,
            Method::Send,
            &wire::Outgoing {
                to_path: &to_path,
                from_path: &from,
                message_id: Some(&mid),
                byte_range: Some(ByteRange {
                    start: 1,
                    end: Some(0),
                    total: Some(0),
                }),
                ..Default::default()
            },
        )?;
        let (rd, mut wr) = tokio::io::split(io);
        wire::write_all(&mut wr, &bind, peer).await?;
        let mut conn = Conn::new(peer, self.shared.clone(), self.events_tx.clone(), wr);
        conn.bound.insert(session_id.to_owned());
        let _ = self.events_tx.send(ReceiveEvent::Connected { peer }).await;
        tokio::spawn(async move { conn.run(rd).await });
        Ok(())
    }

    /// Wait (at most `limit`) until every Success-Report held for a confirmation has been
    /// sent or given up: a confirmed message's report leaves before the endpoint is dropped.
    pub async fn settle(&self, limit: Duration) {
        let until = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.shared.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared.held.load(std::sync::atomic::Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return;
            }
        }
    }

    /// The next event; `None` never happens while the endpoint lives (it holds a sender).
    pub async fn recv(&mut self) -> Option<ReceiveEvent> {
        self.events.recv().await
    }

    /// An event already queued, without waiting.
    pub fn try_recv(&mut self) -> Option<ReceiveEvent> {
        self.events.try_recv().ok()
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<ServerTls>,
    shared: Arc<Shared>,
    events: mpsc::Sender<ReceiveEvent>,
) {
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections));
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            let _ = events
                .send(ReceiveEvent::Error {
                    peer,
                    error: TransportError::TooManyConnections {
                        peer,
                        limit: shared.limits.max_connections,
                    }
                    .into(),
                })
                .await;
            continue;
        };
        let (tls, shared, events) = (tls.clone(), shared.clone(), events.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let local = tcp.local_addr().ok();
            let io = match stream::accept(tcp, peer, tls.as_ref(), shared.limits.handshake).await {
                Ok(io) => io,
                Err(error) => {
                    let _ = events.send(ReceiveEvent::Error { peer, error }).await;
                    return;
                }
            };
            let io = match local {
                Some(local) => stream::tapped(io, shared.tap.get(), local, peer),
                None => io,
            };
            let _ = events.send(ReceiveEvent::Connected { peer }).await;
            let (rd, wr) = tokio::io::split(io);
            Conn::new(peer, shared, events, wr).run(rd).await;
        });
    }
}

/// A decoded frame with the buffer borrow released.
enum Step {
    Head(Result<OwnedHead, BadHead>, usize),
    Body(usize),
    End(Flag, usize),
}

/// What the body of the current chunk is for.
#[derive(Debug)]
enum Current {
    /// Between messages.
    Idle,
    /// A SEND chunk being stored.
    Deliver {
        req: Request,
        session: String,
        message_id: String,
        start: u64,
        written: u64,
        total: Option<u64>,
    },
    /// A body we do not keep (REPORT, refused chunk); `skipped` counts it against the limit.
    Skip { skipped: u64, limit: u64 },
}

struct Conn {
    peer: SocketAddr,
    shared: Arc<Shared>,
    events: mpsc::Sender<ReceiveEvent>,
    wr: WriteHalf<BoxIo>,
    bound: HashSet<String>,
    reasm: HashMap<String, Reassembler<Store>>,
    /// Content type of each message in progress (from its first chunk) and whether any chunk
    /// asked for a Success-Report (a sender need not repeat it on every chunk).
    types: HashMap<(String, String), (String, bool)>,
    /// Bytes of this connection's messages not yet written to their files.
    budget: Arc<Budget>,
    /// Sessions bound here whose Success-Reports wait for [`Confirm::kept`], remembered at
    /// binding: the session may be removed (BYE) while its last message completes.
    confirming: HashSet<String>,
}

impl Conn {
    fn new(
        peer: SocketAddr,
        shared: Arc<Shared>,
        events: mpsc::Sender<ReceiveEvent>,
        wr: WriteHalf<BoxIo>,
    ) -> Conn {
        Conn {
            peer,
            shared,
            events,
            wr,
            bound: HashSet::new(),
            reasm: HashMap::new(),
            types: HashMap::new(),
            budget: Arc::new(Budget::default()),
            confirming: HashSet::new(),
        }
    }

    async fn run(mut self, mut rd: ReadHalf<BoxIo>) {
        let peer = self.peer;
        let result = self.pump(&mut rd).await;
        // Messages left unfinished by a closed connection: drop their files.
        for ((session, message_id), _) in std::mem::take(&mut self.types) {
            if let Some(s) = self
                .reasm
                .get_mut(&session)
                .and_then(|r| r.remove(&message_id))
            {
                s.discard();
            }
        }
        let ev = match result {
            Ok(()) => ReceiveEvent::Disconnected { peer },
            Err(error) => ReceiveEvent::Error { peer, error },
        };
        let _ = self.events.send(ev).await;
    }

    async fn pump(&mut self, rd: &mut ReadHalf<BoxIo>) -> Result<(), MsrpError> {
        let limits = self.shared.limits;
        let mut framer = Framer::new(FramerOptions {
            max_head: limits.max_head,
        });
        let mut buf: Vec<u8> = Vec::with_capacity(READ_SIZE);
        // Bytes of `buf` already decoded: the buffer is compacted once per read, not moved
        // after every frame.
        let mut pos = 0usize;
        let mut cur = Current::Idle;
        loop {
            loop {
                let step = match framer.decode(buf.get(pos..).unwrap_or_default()) {
                    Err(error) => {
                        return Err(MsrpError::Framing {
                            peer: self.peer,
                            error,
                        });
                    }
                    Ok(Frame::NeedMore) => break,
                    Ok(Frame::Head { head, len }) => Step::Head(wire::own_head(&head), len),
                    Ok(Frame::Body(b)) => Step::Body(b.len()),
                    Ok(Frame::End { flag, len }) => Step::End(flag, len),
                };
                match step {
                    Step::Head(owned, n) => {
                        pos += n;
                        cur = self.on_head(owned).await?;
                    }
                    Step::Body(n) => {
                        let body = buf.get(pos..pos.saturating_add(n)).unwrap_or_default();
                        self.on_body(&mut cur, body).await?;
                        pos += n;
                    }
                    Step::End(flag, n) => {
                        pos += n;
                        let c = std::mem::replace(&mut cur, Current::Idle);
                        self.on_end(c, flag).await?;
                    }
                }
            }
            buf.drain(..pos.min(buf.len()));
            pos = 0;
            // Backpressure: no more reads while the files are behind (see store.rs).
            self.budget.below(BUDGET).await;
            let during = if framer.at_message_boundary() && buf.is_empty() {
                "between messages"
            } else {
                "in the middle of a message"
            };
            if !wire::read_more_up_to(rd, &mut buf, READ_SIZE, self.peer, limits.idle, during)
                .await?
            {
                if framer.at_message_boundary() && buf.is_empty() {
                    return Ok(());
                }
                return Err(MsrpError::Closed {
                    peer: self.peer,
                    during: during.into(),
                });
            }
        }
    }

    async fn emit(&self, ev: ReceiveEvent) {
        let _ = self.events.send(ev).await;
    }

    /// Answer `req` with an error `code` (if Failure-Report allows) and skip its body.
    async fn refuse(
        &mut self,
        req: &Request,
        code: u16,
        reason: String,
        ours: &str,
    ) -> Result<Current, MsrpError> {
        if req.wants_response(false) {
            let bytes = wire::response(req, code, ours);
            wire::write_all(&mut self.wr, &bytes, self.peer).await?;
        }
        self.emit(ReceiveEvent::Refused {
            peer: self.peer,
            session_id: session_of(req),
            message_id: req.message_id.clone(),
            code,
            reason,
        })
        .await;
        Ok(Current::Skip {
            skipped: 0,
            limit: 1 << 20,
        })
    }

    async fn on_head(&mut self, owned: Result<OwnedHead, BadHead>) -> Result<Current, MsrpError> {
        let req = match owned {
            Ok(OwnedHead::Response { .. }) => {
                // The answer to our binding SEND; nothing to do.
                return Ok(Current::Skip {
                    skipped: 0,
                    limit: 1 << 20,
                });
            }
            Ok(OwnedHead::Request(r)) => r,
            Err(BadHead {
                reply: Some(req),
                error,
            }) => {
                let ours = req.to_path.first().cloned().unwrap_or_default();
                return self.refuse(&req, 400, error.message.clone(), &ours).await;
            }
            Err(BadHead { reply: None, error }) => {
                return Err(MsrpError::Framing {
                    peer: self.peer,
                    error,
                });
            }
        };
        let ours = req.to_path.first().cloned().unwrap_or_default();
        let entry = session_of(&req).and_then(|s| self.shared.session(&s));
        let Some(entry) = entry else {
            let why = format!("no session for To-Path {ours}");
            return self.refuse(&req, 481, why, &ours).await;
        };
        // The To-Path must name us as well as the session id (RFC 4975 §7.3 compares URIs).
        let ours = entry.uri.clone();
        let session = session_of(&req).unwrap_or_default();
        match req.method.as_str() {
            "SEND" => {}
            "REPORT" => {
                return Ok(Current::Skip {
                    skipped: 0,
                    limit: 1 << 20,
                });
            }
            other => {
                let why = format!("method {other} is not supported");
                return self.refuse(&req, 501, why, &ours).await;
            }
        }
        let Some(message_id) = req.message_id.clone() else {
            return self
                .refuse(&req, 400, "SEND without Message-ID".into(), &ours)
                .await;
        };
        if entry.config.confirm && !self.confirming.contains(&session) {
            self.confirming.insert(session.clone());
        }
        if self.bound.insert(session.clone()) {
            self.emit(ReceiveEvent::SessionBound {
                session_id: session.clone(),
                peer: self.peer,
                from_path: req.from_path.join(" "),
            })
            .await;
        }
        if req.bodiless {
            // A bodiless SEND only binds the session (RFC 4975 §5.4).
            if req.wants_response(true) {
                let bytes = wire::response(&req, 200, &ours);
                wire::write_all(&mut self.wr, &bytes, self.peer).await?;
            }
            return Ok(Current::Skip {
                skipped: 0,
                limit: 0,
            });
        }
        let Some(ct) = req.content_type.clone() else {
            return self
                .refuse(&req, 400, "SEND body without Content-Type".into(), &ours)
                .await;
        };
        if !type_accepted(&entry.config.accept_types, &ct) {
            let why = format!("content type {ct} is not accepted");
            return self.refuse(&req, 415, why, &ours).await;
        }
        let range = req.byte_range.unwrap_or(ByteRange {
            start: 1,
            end: None,
            total: None,
        });
        if range.start == 0 {
            return self
                .refuse(&req, 400, "Byte-Range starts at 0".into(), &ours)
                .await;
        }
        if range.total.is_some_and(|t| t > entry.config.max_size) {
            let why = format!("message larger than {} bytes", entry.config.max_size);
            return self.refuse(&req, 413, why, &ours).await;
        }
        let wants_report = req.success_report == Some(ReportValue::Yes);
        let t = self
            .types
            .entry((session.clone(), message_id.clone()))
            .or_insert((ct, false));
        t.1 |= wants_report;
        Ok(Current::Deliver {
            req,
            session,
            message_id,
            start: range.start,
            written: 0,
            total: range.total,
        })
    }

    fn reassembler(&mut self, session: &str) -> Option<&mut Reassembler<Store>> {
        if !self.reasm.contains_key(session) {
            let entry = self.shared.session(session)?;
            self.reasm.insert(
                session.to_owned(),
                Reassembler::new(ReassemblerLimits {
                    max_message_size: entry.config.max_size,
                    max_messages: self.shared.limits.max_messages,
                    max_ranges: 4096,
                }),
            );
        }
        self.reasm.get_mut(session)
    }

    fn new_store(&self, session: &str, message_id: &str) -> Store {
        let (config, sha1) = self
            .shared
            .session(session)
            .map(|e| (e.config.store, e.config.sha1))
            .unwrap_or_default();
        Store::new(
            config,
            format!("{session}-{message_id}"),
            sha1,
            self.budget.clone(),
        )
    }

    async fn on_body(&mut self, cur: &mut Current, bytes: &[u8]) -> Result<(), MsrpError> {
        match cur {
            Current::Idle => Ok(()),
            Current::Skip { skipped, limit } => {
                *skipped += bytes.len() as u64;
                if *skipped > *limit {
                    return Err(MsrpError::Framing {
                        peer: self.peer,
                        error: crate::proto::ParseError::new(
                            "msrp.body.endless",
                            format!("a refused chunk went on for more than {limit} bytes"),
                            0,
                            0,
                            "RFC 4975 §7.1",
                        ),
                    });
                }
                Ok(())
            }
            Current::Deliver {
                req,
                session,
                message_id,
                start,
                written,
                total,
            } => {
                let pos = start.saturating_add(*written);
                let store = self.new_store(session, message_id);
                let Some(r) = self.reassembler(session) else {
                    return Ok(());
                };
                match r.data(message_id, pos, *total, bytes, || store) {
                    Ok(()) => {
                        *written += bytes.len() as u64;
                        Ok(())
                    }
                    Err(e) => {
                        let req = req.clone();
                        self.types.remove(&(session.clone(), message_id.clone()));
                        let (code, why) = reassembly_status(&e);
                        let ours = self
                            .shared
                            .session(session)
                            .map(|e| e.uri)
                            .unwrap_or_default();
                        // §7.1.1: 413 mid-chunk lets the sender interrupt the rest.
                        *cur = self.refuse(&req, code, why, &ours).await?;
                        if let Current::Skip { limit, .. } = cur {
                            *limit = 1 << 24;
                        }
                        Ok(())
                    }
                }
            }
        }
    }

    async fn on_end(&mut self, cur: Current, flag: Flag) -> Result<(), MsrpError> {
        let Current::Deliver {
            req,
            session,
            message_id,
            start,
            written,
            ..
        } = cur
        else {
            return Ok(());
        };
        let ours = self
            .shared
            .session(&session)
            .map(|e| e.uri)
            .unwrap_or_default();
        let last = start.saturating_sub(1).saturating_add(written);
        let store = self.new_store(&session, &message_id);
        let Some(r) = self.reassembler(&session) else {
            return Ok(());
        };
        let progress = match r.end_chunk(&message_id, last, flag, || store) {
            Ok(p) => p,
            Err(e) => {
                let (code, why) = reassembly_status(&e);
                self.refuse(&req, code, why, &ours).await?;
                return Ok(());
            }
        };
        if let Progress::Complete { total, .. } = &progress {
            // Before the 200 leaves: whoever sees the sender's next move (a BYE) finds the
            // message known as complete, and completes it whatever comes next.
            self.emit(ReceiveEvent::Chunk {
                session_id: session.clone(),
                message_id: message_id.clone(),
                received: *total,
                total: Some(*total),
            })
            .await;
        }
        if req.wants_response(true) {
            let bytes = wire::response(&req, 200, &ours);
            wire::write_all(&mut self.wr, &bytes, self.peer).await?;
        }
        match progress {
            Progress::Incomplete { received, total } => {
                self.emit(ReceiveEvent::Chunk {
                    session_id: session,
                    message_id,
                    received,
                    total,
                })
                .await;
            }
            Progress::Aborted { sink, received } => {
                sink.discard();
                self.types.remove(&(session.clone(), message_id.clone()));
                self.emit(ReceiveEvent::Aborted {
                    session_id: session,
                    message_id,
                    received: received.covered(),
                })
                .await;
            }
            Progress::Complete { sink, total } => {
                let (ct, report) = self
                    .types
                    .remove(&(session.clone(), message_id.clone()))
                    .unwrap_or_default();
                let confirm = report && self.confirming.contains(&session);
                let mut msg = finish_message(sink, total, &session, &message_id, ct).await?;
                if !confirm {
                    if report {
                        self.success_report(&req, &message_id, total, &ours).await?;
                    }
                    self.emit(ReceiveEvent::Message(msg)).await;
                    return Ok(());
                }
                // The report promises the message is kept: wait until the receiver of the
                // events says so (the session may have ended meanwhile: the message still
                // completes, its last chunk was answered).
                let (tx, rx) = tokio::sync::oneshot::channel();
                let _held = Held::new(&self.shared);
                msg.confirm = Some(Confirm(Arc::new(Mutex::new(Some(tx)))));
                self.emit(ReceiveEvent::Message(msg)).await;
                if let Ok(Ok(true)) = tokio::time::timeout(CONFIRM_WAIT, rx).await {
                    self.success_report(&req, &message_id, total, &ours).await?;
                }
            }
        }
        Ok(())
    }

    /// RFC 4975 §7.1.2: a REPORT covering the whole message, Status 000 200 OK, To-Path the
    /// SEND's From-Path.
    async fn success_report(
        &mut self,
        req: &Request,
        message_id: &str,
        total: u64,
        ours: &str,
    ) -> Result<(), MsrpError> {
        let tid = self.shared.next_id();
        let from = [ours.to_owned()];
        let bytes = wire::bodiless_request(
            &tid,
            Method::Report,
            &wire::Outgoing {
                to_path: &req.from_path,
                from_path: &from,
                message_id: Some(message_id),
                byte_range: Some(ByteRange {
                    start: 1,
                    end: Some(total),
                    total: Some(total),
                }),
                status: Some((200, "OK")),
                ..Default::default()
            },
        )?;
        wire::write_all(&mut self.wr, &bytes, self.peer).await
    }
}

/// The session id in the first To-Path URI (ours, once relays have removed themselves).
fn session_of(req: &Request) -> Option<String> {
    let first = req.to_path.first()?;
    let uri = MsrpUri::parse(first).ok()?;
    uri.session_id.map(str::to_owned)
}

fn reassembly_status(e: &ReassemblyError) -> (u16, String) {
    let code = match e {
        ReassemblyError::TooLarge { .. } => 413,
        ReassemblyError::Sink { .. } => 500,
        ReassemblyError::TooManyMessages { .. } | ReassemblyError::Fragmented { .. } => 413,
        ReassemblyError::InvalidRange { .. } | ReassemblyError::Inconsistent { .. } => 400,
    };
    (code, e.to_string())
}

async fn finish_message(
    sink: Store,
    total: u64,
    session: &str,
    message_id: &str,
    ct: String,
) -> Result<ReceivedMessage, MsrpError> {
    let store_err = |source| MsrpError::Store {
        message_id: message_id.to_owned(),
        source,
    };
    let is_cpim = ct
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("message/cpim"));
    let (stored, digests) = sink.finish(total, 0).await.map_err(store_err)?;
    // The envelope is read from the front; 64 KiB is far more than any real CPIM header block.
    let parts = if is_cpim {
        let prefix = Store::prefix(&stored, 64 * 1024).map_err(store_err)?;
        cpim::unwrap(&prefix).map(|p| {
            (
                p.content_type.to_owned(),
                p.body_offset as u64,
                p.headers
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect::<Vec<_>>(),
            )
        })
    } else {
        None
    };
    let (sha256, sha1, content_type, offset, cpim_headers) = match parts {
        Some((inner, off, headers)) => {
            let sha = hash_from(&stored, off, total).map_err(store_err)?;
            (sha, None, inner, off, Some(headers))
        }
        None => (digests.sha256, digests.sha1, ct, 0, None),
    };
    let is_text = content_type
        .trim_start()
        .get(..5)
        .is_some_and(|t| t.eq_ignore_ascii_case("text/"));
    let content = match stored {
        Stored::File(p) => Delivered::File(p),
        Stored::Memory(mut v) => {
            let off = usize::try_from(offset).unwrap_or(0).min(v.len());
            v.drain(..off);
            if is_text {
                match String::from_utf8(v) {
                    Ok(s) => Delivered::Text(s),
                    Err(e) => Delivered::Bytes(e.into_bytes()),
                }
            } else {
                Delivered::Bytes(v)
            }
        }
    };
    let body_offset = if matches!(content, Delivered::File(_)) {
        offset
    } else {
        0
    };
    Ok(ReceivedMessage {
        session_id: session.to_owned(),
        message_id: message_id.to_owned(),
        content_type,
        size: total.saturating_sub(offset),
        sha256,
        sha1,
        content,
        cpim: cpim_headers,
        body_offset,
        confirm: None,
    })
}

fn hash_from(stored: &Stored, from: u64, total: u64) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Seek, SeekFrom};
    let mut h = Sha256::new();
    match stored {
        Stored::Memory(v) => {
            let s = usize::try_from(from).unwrap_or(usize::MAX).min(v.len());
            h.update(&v[s..]);
        }
        Stored::File(p) => {
            let mut f = std::fs::File::open(p)?;
            f.seek(SeekFrom::Start(from))?;
            let mut f = f.take(total.saturating_sub(from));
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        }
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_types_with_wildcards() {
        let acc = vec!["text/plain".to_owned(), "image/*".to_owned()];
        assert!(type_accepted(&acc, "text/plain"));
        assert!(type_accepted(&acc, "Text/Plain;charset=utf-8"));
        assert!(type_accepted(&acc, "image/png"));
        assert!(!type_accepted(&acc, "text/html"));
        assert!(!type_accepted(&acc, "application/octet-stream"));
        assert!(type_accepted(&["*".to_owned()], "application/x-anything"));
        assert!(!type_accepted(&[], "text/plain"));
    }
}
