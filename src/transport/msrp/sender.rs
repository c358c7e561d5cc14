//! The sending side (`sipkit invite`): one connection to the peer's first hop (or the one it
//! opened to us when RFC 6135 makes it active), bound with a bodiless SEND, then messages read
//! from any `AsyncRead` and sent in chunks (RFC 4975 §7.1.1) with several transactions in
//! flight. Memory is one chunk being sent plus one read ahead (to know which chunk is last),
//! whatever the content's size.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, ReadHalf, WriteHalf};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::stream::{self, BoxIo};
use super::wire::{self, OwnedHead, Request};
use super::{CpimEnvelope, MsrpError, cpim};
use crate::proto::msrp::{
    ByteRange, Flag, Frame, Framer, FramerOptions, IdGenerator, IntervalSet, Method, ReportValue,
    write_body_end,
};
use crate::transport::{ClientTls, ServerTls};

/// Chunks up to this size may carry a range-end; larger ones say `*` because they can be
/// interrupted (RFC 4975 §7.1.1).
const INTERRUPTIBLE: usize = 2048;

/// Chunks in flight at the start of a send, before the peer accepted any; see
/// [`SenderConfig::window`].
const INITIAL_WINDOW: usize = 8;

/// Bytes read from the source at once (see [`MsrpSender::send`]).
const READ_AHEAD: usize = 1 << 20;

/// How the sender behaves.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Body bytes per SEND chunk (64 KiB by default: few heads, responses and syscalls per
    /// megabyte, small enough to interrupt quickly).
    pub chunk_size: usize,
    /// Most chunks sent before waiting for the oldest response. A send starts with at most
    /// 8 chunks and widens by one per chunk answered 2xx, so a peer that refuses the
    /// first chunk (413, 415...) sees only a few more.
    pub window: usize,
    /// Ask for a Success-Report and wait for it (RFC 4975 §7.1.1: `Success-Report: yes`).
    pub success_report: bool,
    /// Failure-Report value; `yes` (the default, header omitted) gets a response per chunk.
    pub failure_report: ReportValue,
    /// How long to wait for each response and for the Success-Report.
    pub timeout: Duration,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            chunk_size: 64 * 1024,
            window: 32,
            success_report: true,
            failure_report: ReportValue::Yes,
            timeout: Duration::from_secs(30),
        }
    }
}

/// One message to send.
#[derive(Debug)]
pub struct Outgoing<R> {
    /// Where the content comes from: a file, stdin, a byte slice.
    pub reader: R,
    /// Its media type, e.g. `text/plain;charset=utf-8`.
    pub content_type: String,
    /// Its size if known (a file); `None` for stdin (Byte-Range totals are `*` until the end).
    pub size: Option<u64>,
    /// Wrap it in message/cpim (RFC 3862) with this envelope.
    pub cpim: Option<CpimEnvelope>,
}

/// Progress of a send, for the caller's printer.
#[derive(Debug, Clone, PartialEq)]
pub enum SendEvent {
    /// The session was bound (the first SEND was answered 200).
    Bound {
        /// The peer.
        peer: SocketAddr,
    },
    /// A chunk was answered 2xx.
    ChunkAcked {
        /// The Message-ID.
        message_id: String,
        /// Bytes acknowledged so far.
        bytes: u64,
        /// The total, once known.
        total: Option<u64>,
        /// Since the send began.
        elapsed: Duration,
    },
    /// The peer confirmed the whole message (Success-Report).
    SuccessReport {
        /// The Message-ID.
        message_id: String,
        /// Bytes the report covers.
        bytes: u64,
    },
}

/// The result of a completed send.
#[derive(Debug, Clone, PartialEq)]
pub struct SendSummary {
    /// The Message-ID used.
    pub message_id: String,
    /// Bytes sent on the wire as body (including a CPIM envelope).
    pub bytes: u64,
    /// Number of SEND chunks.
    pub chunks: u64,
    /// Whether a Success-Report confirmed it.
    pub confirmed: bool,
    /// From the first chunk to the last response or report.
    pub elapsed: Duration,
    /// `bytes / elapsed`, in bytes per second.
    pub throughput: f64,
}

/// What the reading task hands the sender.
#[derive(Debug)]
enum Incoming {
    Head(OwnedHead),
    Closed(Option<MsrpError>),
}

#[derive(Debug)]
struct Sent {
    message_id: String,
    range: ByteRange,
    len: u64,
}

/// A bound MSRP session that sends messages; see the module docs.
pub struct MsrpSender {
    peer: SocketAddr,
    wr: WriteHalf<BoxIo>,
    incoming: mpsc::Receiver<Incoming>,
    reader: tokio::task::JoinHandle<()>,
    local: Vec<String>,
    to_path: Vec<String>,
    ids: IdGenerator,
    config: SenderConfig,
}

impl std::fmt::Debug for MsrpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsrpSender")
            .field("peer", &self.peer)
            .field("local", &self.local)
            .field("to_path", &self.to_path)
            .finish_non_exhaustive()
    }
}

impl Drop for MsrpSender {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl MsrpSender {
    /// Connect to the first URI of `peer_path` (the peer's `a=path`; `msrps` needs `tls`) and
    /// bind the session with a bodiless SEND from `local_uri`, waiting for its 200.
    pub async fn connect(
        local_uri: &str,
        peer_path: &str,
        tls: Option<&ClientTls>,
        config: SenderConfig,
    ) -> Result<MsrpSender, MsrpError> {
        let to_path = stream::split_path(peer_path)?;
        let local = stream::split_path(local_uri)?;
        let first = to_path.first().cloned().unwrap_or_default();
        let (io, peer) = stream::connect(&first, tls, config.timeout).await?;
        let mut s = MsrpSender::start(io, peer, local, to_path, config);
        s.bind().await?;
        Ok(s)
    }

    /// Run the session over the connection to our relay (RFC 4976 §5.2: requests go over the
    /// existing connection to the next hop): To-Path is the relay's Use-Path followed by
    /// `peer_path`, From-Path `local_uri` alone (each relay puts itself in front). The session
    /// is bound with a bodiless SEND as in [`MsrpSender::connect`].
    pub async fn through_relay(
        relayed: super::relay::Relayed,
        local_uri: &str,
        peer_path: &str,
        config: SenderConfig,
    ) -> Result<MsrpSender, MsrpError> {
        let peer = stream::split_path(peer_path)?;
        let to_path = super::relay::to_path(relayed.use_path(), &peer);
        let local = stream::split_path(local_uri)?;
        let peer_addr = relayed.peer;
        let mut s = MsrpSender::start(relayed.io, peer_addr, local, to_path, config);
        s.bind().await?;
        Ok(s)
    }

    /// Be passive (RFC 6135 `a=setup:passive`): accept one connection on `listener` (TLS when
    /// `tls` is given) and wait for the peer's binding SEND, which is answered 200.
    pub async fn accept(
        listener: &TcpListener,
        tls: Option<&ServerTls>,
        local_uri: &str,
        peer_path: &str,
        config: SenderConfig,
    ) -> Result<MsrpSender, MsrpError> {
        let to_path = stream::split_path(peer_path)?;
        let local = stream::split_path(local_uri)?;
        let wait = config.timeout;
        let accepted = tokio::time::timeout(wait, listener.accept()).await;
        let local_addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tcp, peer) = match accepted {
            Ok(Ok(x)) => x,
            Ok(Err(source)) => {
                return Err(MsrpError::Io {
                    op: "accepting on",
                    peer: local_addr,
                    source,
                });
            }
            Err(_) => {
                return Err(MsrpError::Timeout {
                    what: "connection".into(),
                    peer: local_addr,
                    after: wait,
                });
            }
        };
        let io = stream::accept(tcp, peer, tls, wait).await?;
        let mut s = MsrpSender::start(io, peer, local, to_path, config);
        // The peer's first request binds the session; answer it and go on.
        let deadline = Instant::now() + wait;
        loop {
            match s.next_incoming(deadline, "binding SEND").await? {
                OwnedHead::Request(req) => {
                    let ok = req.method == "SEND";
                    s.answer(&req).await?;
                    if ok {
                        return Ok(s);
                    }
                }
                OwnedHead::Response { .. } => {}
            }
        }
    }

    fn start(
        io: BoxIo,
        peer: SocketAddr,
        local: Vec<String>,
        to_path: Vec<String>,
        config: SenderConfig,
    ) -> MsrpSender {
        let (rd, wr) = tokio::io::split(io);
        let (tx, incoming) = mpsc::channel(256);
        let reader = tokio::spawn(read_loop(rd, peer, tx));
        MsrpSender {
            peer,
            wr,
            incoming,
            reader,
            local,
            to_path,
            ids: IdGenerator::new(super::id_seed()),
            config,
        }
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    async fn bind(&mut self) -> Result<(), MsrpError> {
        let tid = self.ids.next_id();
        let mid = self.ids.next_id();
        let range = ByteRange {
            start: 1,
            end: Some(0),
            total: Some(0),
        };
        let bytes = wire::bodiless_request(
            tid.as_str(),
            Method::Send,
            &wire::Outgoing {
                to_path: &self.to_path,
                from_path: &self.local,
                message_id: Some(mid.as_str()),
                byte_range: Some(range),
                ..Default::default()
            },
        )?;
        wire::write_all(&mut self.wr, &bytes, self.peer).await?;
        let deadline = Instant::now() + self.config.timeout;
        loop {
            match self
                .next_incoming(deadline, "response to the binding SEND")
                .await?
            {
                OwnedHead::Response {
                    tid: t,
                    code,
                    comment,
                } if t == tid.as_str() => {
                    if (200..300).contains(&code) {
                        return Ok(());
                    }
                    return Err(MsrpError::Rejected {
                        peer: self.peer,
                        code,
                        comment,
                        message_id: mid.as_str().to_owned(),
                        byte_range: range.to_string(),
                        tid: t,
                    });
                }
                OwnedHead::Request(req) => self.answer(&req).await?,
                OwnedHead::Response { .. } => {}
            }
        }
    }

    /// Answer a request from the peer: SENDs get 200 (their bodies are not kept: the sender
    /// does not deliver incoming messages), other methods 501, REPORTs nothing.
    async fn answer(&mut self, req: &Request) -> Result<(), MsrpError> {
        let code = if req.method == "SEND" { 200 } else { 501 };
        if req.wants_response(code == 200) {
            let ours = self.local.first().cloned().unwrap_or_default();
            let bytes = wire::response(req, code, &ours);
            wire::write_all(&mut self.wr, &bytes, self.peer).await?;
        }
        Ok(())
    }

    async fn next_incoming(
        &mut self,
        deadline: Instant,
        what: &str,
    ) -> Result<OwnedHead, MsrpError> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, self.incoming.recv()).await {
            Ok(Some(Incoming::Head(h))) => Ok(h),
            Ok(Some(Incoming::Closed(Some(e)))) => Err(e),
            Ok(Some(Incoming::Closed(None))) | Ok(None) => Err(MsrpError::Closed {
                peer: self.peer,
                during: format!("waiting for the {what}"),
            }),
            Err(_) => Err(MsrpError::Timeout {
                what: what.to_owned(),
                peer: self.peer,
                after: self.config.timeout,
            }),
        }
    }

    /// Send one message, calling `on_event` as chunks are acknowledged; returns when every
    /// chunk was answered and, if asked for, the Success-Report arrived. Any non-2xx response
    /// or failure REPORT ends it with [`MsrpError::Rejected`] / [`MsrpError::FailureReport`].
    pub async fn send<R: AsyncRead + Unpin>(
        &mut self,
        msg: Outgoing<R>,
        mut on_event: impl FnMut(SendEvent),
    ) -> Result<SendSummary, MsrpError> {
        let (prefix, content_type) = match &msg.cpim {
            Some(env) => (
                cpim::wrap_prefix(env, &msg.content_type).map_err(|reason| MsrpError::Path {
                    path: msg.content_type.clone(),
                    reason,
                })?,
                "message/cpim".to_owned(),
            ),
            None => (Vec::new(), msg.content_type.clone()),
        };
        let declared = msg.size.map(|s| s.saturating_add(prefix.len() as u64));
        // Large reads: a file from tokio::fs costs one blocking-pool round trip per read, so
        // one per 1 MiB instead of one per chunk.
        let mut reader = tokio::io::BufReader::with_capacity(
            READ_AHEAD,
            std::io::Cursor::new(prefix).chain(msg.reader),
        );
        let message_id = self.ids.next_id().as_str().to_owned();
        let chunk_size = self.config.chunk_size.max(1);
        let began = Instant::now();
        let mut st = SendState {
            message_id: message_id.clone(),
            sent: HashMap::new(),
            acked: 0,
            acked_chunks: 0,
            total: declared,
            reported: IntervalSet::default(),
            began,
        };
        let mut cur = read_chunk(&mut reader, chunk_size).await?;
        let mut start: u64 = 1;
        let mut chunks = 0u64;
        loop {
            let next = if cur.len() < chunk_size {
                Vec::new()
            } else {
                read_chunk(&mut reader, chunk_size).await?
            };
            let last = next.is_empty();
            let len = cur.len() as u64;
            let end = start - 1 + len;
            if declared.is_some_and(|d| end > d || (last && end != d)) {
                return Err(MsrpError::Source(std::io::Error::other(format!(
                    "the content is {} bytes, not the {} announced",
                    if last {
                        end.to_string()
                    } else {
                        format!("more than {end}")
                    },
                    declared.unwrap_or(0)
                ))));
            }
            let total = declared.or(last.then_some(end));
            if last {
                st.total = total;
            }
            let range = ByteRange {
                start,
                end: (cur.len() <= INTERRUPTIBLE).then_some(end),
                total,
            };
            let interrupted = self
                .send_chunk(&mut st, &cur, range, &content_type, last, &mut on_event)
                .await?;
            chunks += 1;
            if interrupted {
                break;
            }
            if last {
                break;
            }
            start = end + 1;
            cur = next;
        }
        // Wait for the remaining responses, then the Success-Report.
        let deadline_for = |c: &SenderConfig| Instant::now() + c.timeout;
        let tracked = self.config.failure_report == ReportValue::Yes;
        while tracked && !st.sent.is_empty() {
            let d = deadline_for(&self.config);
            let h = self.next_incoming(d, "response to a chunk").await?;
            self.handle(&mut st, h, &mut on_event).await?;
        }
        let total = st.total.unwrap_or(0);
        let mut confirmed = false;
        if self.config.success_report {
            let d = deadline_for(&self.config);
            while !st.reported.covers_prefix(total) || (total == 0 && !confirmed) {
                let h = self.next_incoming(d, "Success-Report").await?;
                if self.handle(&mut st, h, &mut on_event).await? {
                    confirmed = true;
                }
            }
            confirmed = true;
            on_event(SendEvent::SuccessReport {
                message_id: message_id.clone(),
                bytes: total,
            });
        }
        let elapsed = began.elapsed();
        let secs = elapsed.as_secs_f64().max(1e-9);
        Ok(SendSummary {
            message_id,
            bytes: total,
            chunks,
            confirmed,
            elapsed,
            throughput: total as f64 / secs,
        })
    }

    /// Write one chunk, reading responses between pieces of its body so a 413 can interrupt it
    /// (RFC 4975 §7.1.1). Returns whether it was interrupted; then the error is returned.
    async fn send_chunk(
        &mut self,
        st: &mut SendState,
        body: &[u8],
        range: ByteRange,
        content_type: &str,
        last: bool,
        on_event: &mut impl FnMut(SendEvent),
    ) -> Result<bool, MsrpError> {
        let tid = self.ids.tid_for_body(body);
        let mut head = Vec::with_capacity(512);
        let failure = match self.config.failure_report {
            ReportValue::Yes => None,
            v => Some(v),
        };
        wire::request_head(
            &mut head,
            tid.as_str(),
            Method::Send,
            &wire::Outgoing {
                to_path: &self.to_path,
                from_path: &self.local,
                message_id: Some(&st.message_id),
                byte_range: Some(range),
                success_report: self.config.success_report.then_some(ReportValue::Yes),
                failure_report: failure,
                content_type: Some(content_type),
                ..Default::default()
            },
            true,
        )?;
        st.sent.insert(
            tid.as_str().to_owned(),
            Sent {
                message_id: st.message_id.clone(),
                range,
                len: body.len() as u64,
            },
        );
        wire::write_all(&mut self.wr, &head, self.peer).await?;
        let mut pending_err = None;
        for piece in body.chunks(16 * 1024) {
            wire::write_all(&mut self.wr, piece, self.peer).await?;
            while let Ok(msg) = self.incoming.try_recv() {
                match msg {
                    Incoming::Head(h) => {
                        if let Err(e) = self.handle(st, h, on_event).await {
                            pending_err = Some(e);
                        }
                    }
                    Incoming::Closed(e) => {
                        return Err(e.unwrap_or(MsrpError::Closed {
                            peer: self.peer,
                            during: "sending a chunk".into(),
                        }));
                    }
                }
            }
            if pending_err.is_some() && range.end.is_none() {
                break;
            }
        }
        let flag = match (&pending_err, last) {
            (Some(_), _) if range.end.is_none() => Flag::Abort,
            (_, true) => Flag::End,
            (_, false) => Flag::Continue,
        };
        let mut tail = Vec::with_capacity(64);
        write_body_end(&mut tail, tid.as_str(), flag);
        wire::write_all(&mut self.wr, &tail, self.peer).await?;
        if let Some(e) = pending_err {
            return Err(e);
        }
        if self.config.failure_report != ReportValue::Yes {
            // No response comes for a successful chunk: count it as sent.
            if let Some(s) = st.sent.remove(tid.as_str()) {
                st.acked += s.len;
            }
            if self.config.failure_report == ReportValue::Partial {
                // Keep it for matching an error response, bounded.
                st.sent.clear();
            }
            return Ok(false);
        }
        let window = self
            .config
            .window
            .min(INITIAL_WINDOW.saturating_add(st.acked_chunks))
            .max(1);
        while st.sent.len() >= window {
            let d = Instant::now() + self.config.timeout;
            let h = self.next_incoming(d, "response to a chunk").await?;
            self.handle(st, h, on_event).await?;
        }
        Ok(false)
    }

    /// Act on one incoming head; `Ok(true)` for a success REPORT of our message.
    async fn handle(
        &mut self,
        st: &mut SendState,
        h: OwnedHead,
        on_event: &mut impl FnMut(SendEvent),
    ) -> Result<bool, MsrpError> {
        match h {
            OwnedHead::Response { tid, code, comment } => {
                let Some(sent) = st.sent.remove(&tid) else {
                    return Ok(false);
                };
                if !(200..300).contains(&code) {
                    return Err(MsrpError::Rejected {
                        peer: self.peer,
                        code,
                        comment,
                        message_id: sent.message_id,
                        byte_range: sent.range.to_string(),
                        tid,
                    });
                }
                st.acked += sent.len;
                st.acked_chunks += 1;
                on_event(SendEvent::ChunkAcked {
                    message_id: sent.message_id,
                    bytes: st.acked,
                    total: st.total,
                    elapsed: st.began.elapsed(),
                });
                Ok(false)
            }
            OwnedHead::Request(req) if req.method == "REPORT" => {
                if req.message_id.as_deref() != Some(st.message_id.as_str()) {
                    return Ok(false);
                }
                let range = req.byte_range.map(|r| r.to_string()).unwrap_or_default();
                match req.status {
                    Some((200, _)) => {
                        if let Some(r) = req.byte_range {
                            let end = r.end.or(r.total).unwrap_or(0);
                            st.reported.insert(r.start.saturating_sub(1), end);
                        }
                        Ok(true)
                    }
                    Some((code, comment)) => Err(MsrpError::FailureReport {
                        peer: self.peer,
                        code,
                        comment,
                        message_id: st.message_id.clone(),
                        byte_range: range,
                    }),
                    None => Ok(false),
                }
            }
            OwnedHead::Request(req) => {
                self.answer(&req).await?;
                Ok(false)
            }
        }
    }
}

#[derive(Debug)]
struct SendState {
    message_id: String,
    sent: HashMap<String, Sent>,
    acked: u64,
    /// Chunks answered 2xx: widens the window (see [`SenderConfig::window`]).
    acked_chunks: usize,
    total: Option<u64>,
    reported: IntervalSet,
    began: Instant,
}

/// Read until `size` bytes or end of stream.
async fn read_chunk<R: AsyncRead + Unpin>(r: &mut R, size: usize) -> Result<Vec<u8>, MsrpError> {
    let mut buf = Vec::with_capacity(size);
    let mut limited = r.take(size as u64);
    loop {
        match limited.read_buf(&mut buf).await {
            Ok(0) => return Ok(buf),
            Ok(_) if buf.len() >= size => return Ok(buf),
            Ok(_) => {}
            Err(e) => return Err(MsrpError::Source(e)),
        }
    }
}

/// Frame the peer's messages and hand their heads over; bodies are dropped.
async fn read_loop(mut rd: ReadHalf<BoxIo>, peer: SocketAddr, tx: mpsc::Sender<Incoming>) {
    let mut framer = Framer::new(FramerOptions::default());
    let mut buf = Vec::with_capacity(16 * 1024);
    // Responses and REPORTs may be far apart during a long transfer: no idle limit here, the
    // sender's own timeouts bound every wait.
    let idle = Duration::from_secs(24 * 3600);
    loop {
        loop {
            let step = match framer.decode(&buf) {
                Err(error) => {
                    let _ = tx
                        .send(Incoming::Closed(Some(MsrpError::Framing { peer, error })))
                        .await;
                    return;
                }
                Ok(Frame::NeedMore) => break,
                Ok(Frame::Head { head, len }) => (Some(wire::own_head(&head)), len),
                Ok(f) => (None, f.consumed()),
            };
            buf.drain(..step.1);
            match step.0 {
                Some(Ok(h)) => {
                    let sent = tx.send(Incoming::Head(h)).await;
                    if sent.is_err() {
                        return;
                    }
                }
                Some(Err(bad)) => {
                    let _ = tx
                        .send(Incoming::Closed(Some(MsrpError::Framing {
                            peer,
                            error: bad.error,
                        })))
                        .await;
                    return;
                }
                None => {}
            }
        }
        match wire::read_more(&mut rd, &mut buf, peer, idle, "from the peer").await {
            Ok(true) => {}
            Ok(false) => {
                let _ = tx.send(Incoming::Closed(None)).await;
                return;
            }
            Err(e) => {
                let _ = tx.send(Incoming::Closed(Some(e))).await;
                return;
            }
        }
    }
}
