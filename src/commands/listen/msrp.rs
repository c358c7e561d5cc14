//! The MSRP half of `sipkit listen` (#5): the session endpoint started on `--msrp`, sessions
//! announced as INVITEs are answered and removed on BYE, the active role of RFC 6135 when the
//! offer asks for it, and what becomes of a received message: an event with its SHA-256, and
//! with `--save-dir` a file named after the offer's `a=file-selector` (RFC 5547 §5).
//!
//! A file never looks complete before it is: bytes arrive in `DIR/.sipkit-partial/`, and only
//! a whole message whose SHA-1 matches the offer's `hash:sha-1` is linked into `DIR` under its
//! sanitized name, never over an existing file. A mismatch is kept as `NAME.part` and
//! reported; a transfer cut short (connection closed, BYE, stop) is reported and its bytes
//! removed.
//!
//! The endpoint reassembles and hashes on its own tasks; this side only turns its events into
//! output, so the single-threaded run loop never touches message bytes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::uas::{MsrpOffer, MsrpSessions};
use crate::output::listen::{ListenEvent, MsrpRecord};
use crate::transport::ClientTls;
use crate::transport::msrp::{
    Delivered, Endpoint, ReceiveEvent, ReceivedMessage, SessionConfig, StoreConfig,
};

/// The hidden directory under --save-dir where messages are written while they arrive.
const PARTIAL_DIR: &str = ".sipkit-partial";
/// Under it, each listen writes in `listen-PID`.
const PARTIAL_PREFIX: &str = "listen-";
/// Without --save-dir, each listen writes in `TMPDIR/sipkit-listen-PID`.
const TEMP_PREFIX: &str = "sipkit-listen-";

/// Whether process `pid` is running. Only Linux can tell here (`/proc`); elsewhere every
/// process is taken as running, so nothing is ever removed that might be in use.
fn running(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Remove what killed listens left in `base`: the directories `PREFIXPID` of processes that
/// no longer run, and in them only the files listen writes (`SESSION-MESSAGEID`, with
/// `.content` for a copy being saved). Anything else stays, and so does its directory.
/// Returns the files removed.
pub(crate) fn clean_stale(base: &Path, prefix: &str) -> usize {
    let mut removed = 0;
    let Ok(entries) = std::fs::read_dir(base) else {
        return 0;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || pid == std::process::id() || running(pid) {
            continue;
        }
        let dir = entry.path();
        if let Ok(files) = std::fs::read_dir(&dir) {
            for f in files.flatten() {
                let ours = f.file_type().is_ok_and(|t| t.is_file())
                    && f.file_name().to_str().is_some_and(spill_name);
                if ours && std::fs::remove_file(f.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        let _ = std::fs::remove_dir(&dir);
    }
    removed
}

/// A name listen gives the files it writes while a message arrives: `SESSION-MESSAGEID`
/// (our session ids are letters and digits), optionally with `.content`.
fn spill_name(name: &str) -> bool {
    let Some((session, rest)) = name.split_once('-') else {
        return false;
    };
    !session.is_empty()
        && session.bytes().all(|b| b.is_ascii_alphanumeric())
        && !rest.is_empty()
        && sanitize(name) == name
}

/// Text messages up to this many characters are shown in the human line.
const SHOW_TEXT: usize = 80;

/// What the run loop keeps about MSRP.
#[derive(Debug)]
pub(crate) struct MsrpSide {
    pub(crate) endpoint: Endpoint,
    /// Template for announced sessions (types are set per offer).
    session: SessionConfig,
    save_dir: Option<PathBuf>,
    /// Where the endpoint spills messages while they arrive.
    partial_dir: PathBuf,
    /// session id → the offer's file name and SHA-1.
    names: HashMap<String, FileOffer>,
    /// session id → the peer its connection came from.
    peers: HashMap<String, SocketAddr>,
    /// (session, message id) → (bytes received, total) of messages in progress.
    pub(crate) in_flight: HashMap<(String, String), (u64, Option<u64>)>,
    client_tls: Option<ClientTls>,
    /// Sessions open at once (--max-msrp-sessions).
    max_sessions: usize,
    /// Sessions ended (BYE) while a message of theirs completes: its last chunk was answered
    /// 200, so it is saved under the offer's name when it arrives, and the session is
    /// forgotten then.
    closing: std::collections::HashSet<String>,
    /// Answered sessions no connection has bound yet, with when they are freed.
    unbound: HashMap<String, std::time::Instant>,
    /// --msrp-bind-timeout.
    bind_timeout: std::time::Duration,
}

/// What an offer's a=file-selector promised.
#[derive(Debug, Clone, Default)]
struct FileOffer {
    name: Option<String>,
    sha1: Option<Vec<u8>>,
}

/// The endpoint as the UAS sees it while one SIP message is handled.
pub(crate) struct Sessions<'a>(pub(crate) &'a MsrpSide);

impl MsrpSessions for Sessions<'_> {
    fn tls(&self) -> bool {
        self.0.endpoint.security() == crate::transport::msrp::Security::Tls
    }
    fn add(&mut self, accept_types: &[String]) -> Option<(String, String)> {
        if self.0.names.len() >= self.0.max_sessions {
            tracing::warn!(
                "MSRP offer declined: {} sessions open (--max-msrp-sessions)",
                self.0.names.len()
            );
            return None;
        }
        let mut cfg = self.0.session.clone();
        cfg.accept_types = accept_types.to_vec();
        let s = self.0.endpoint.add_session(cfg);
        Some((s.session_id, s.uri))
    }
}

fn event(at_ms: f64, kind: &'static str, fields: Value, line: String) -> ListenEvent {
    let fields = match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    ListenEvent::Msrp(MsrpRecord {
        at_ms,
        kind,
        fields,
        line,
    })
}

/// A file name from an offer, safe to join to a directory: no separators, no leading dots,
/// no control characters, at most 200 bytes.
pub(crate) fn sanitize(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out: String = base
        .chars()
        .map(|c| {
            if crate::files::replaced_in_name(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    while out.starts_with('.') {
        out.remove(0);
    }
    while out.len() > 200 {
        out.pop();
    }
    if out.trim().is_empty() {
        "msrp-file".to_owned()
    } else {
        out
    }
}

/// `dir/name`, then `dir/stem-1.ext`, `dir/stem-2.ext`...
fn candidates<'a>(dir: &'a Path, name: &'a str) -> impl Iterator<Item = PathBuf> + 'a {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    (0..10_000u32).map(move |n| {
        if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{stem}-{n}{ext}"))
        }
    })
}

/// `dir/name`, or `dir/stem-N.ext` for the first N that does not exist yet, created here so
/// two messages never pick the same name.
fn unique(dir: &Path, name: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    for candidate in candidates(dir, name) {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(f) => return Ok((candidate, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("no free name for {name} in {}", dir.display()),
    ))
}

impl MsrpSide {
    pub(crate) fn new(
        endpoint: Endpoint,
        max_size: u64,
        save_dir: Option<PathBuf>,
        max_sessions: usize,
        bind_timeout: std::time::Duration,
    ) -> std::io::Result<MsrpSide> {
        // Large messages spill to disk while they arrive: under --save-dir (same file
        // system, so keeping one is a link), hidden so nothing there looks like a finished
        // file; else a private temporary directory emptied as messages complete. Either is
        // this process's own (named after its id), so what a killed listen left there is
        // recognised and removed now, and never what a running one is writing.
        let pid = std::process::id();
        let dir = match &save_dir {
            Some(d) => {
                let base = d.join(PARTIAL_DIR);
                clean_stale(&base, PARTIAL_PREFIX);
                let p = base.join(format!("{PARTIAL_PREFIX}{pid}"));
                std::fs::create_dir_all(&p)?;
                p
            }
            None => {
                let base = std::env::temp_dir();
                clean_stale(&base, TEMP_PREFIX);
                base.join(format!("{TEMP_PREFIX}{pid}"))
            }
        };
        Ok(MsrpSide {
            endpoint,
            session: SessionConfig {
                accept_types: vec!["*".into()],
                max_size,
                store: StoreConfig {
                    dir: dir.clone(),
                    ..StoreConfig::default()
                },
                // Kept files are checked against the offer's SHA-1: the endpoint hashes them
                // as they arrive instead of this side reading them back.
                sha1: save_dir.is_some(),
                // A Success-Report leaves only once the message is saved (and synced).
                confirm: true,
            },
            partial_dir: dir,
            save_dir,
            names: HashMap::new(),
            peers: HashMap::new(),
            in_flight: HashMap::new(),
            client_tls: None,
            max_sessions,
            closing: Default::default(),
            unbound: HashMap::new(),
            bind_timeout,
        })
    }

    /// Sessions just answered: remember their file names, and connect where we are active.
    pub(crate) async fn start(&mut self, offers: Vec<MsrpOffer>, at_ms: f64) -> Vec<ListenEvent> {
        let mut out = Vec::new();
        for o in offers {
            if let Some(w) = &o.file_warning {
                out.push(event(
                    at_ms,
                    "msrp-warning",
                    json!({"session": o.session, "message": w}),
                    format!("warning: {} {w}", o.session),
                ));
            }
            self.names.insert(
                o.session.clone(),
                FileOffer {
                    name: o.file_name.clone(),
                    sha1: o.file_sha1.clone(),
                },
            );
            if !o.active {
                self.unbound.insert(
                    o.session.clone(),
                    std::time::Instant::now() + self.bind_timeout,
                );
                continue;
            }
            let path = o.remote_path.join(" ");
            let tls = if path.starts_with("msrps:") {
                if self.client_tls.is_none() {
                    match ClientTls::new(None, false, None, None) {
                        Ok(t) => self.client_tls = Some(t),
                        Err(e) => {
                            out.push(self.error(at_ms, None, &e.to_string()));
                            continue;
                        }
                    }
                }
                self.client_tls.as_ref()
            } else {
                None
            };
            if let Err(e) = self.endpoint.connect(&o.session, &path, tls).await {
                out.push(self.error(
                    at_ms,
                    None,
                    &format!("cannot connect to {path} for session {}: {e}", o.session),
                ));
                // Nothing will ever bind it: free it when the peer had its chance.
                self.unbound.insert(
                    o.session.clone(),
                    std::time::Instant::now() + self.bind_timeout,
                );
            }
        }
        out
    }

    /// Sessions whose dialog ended: later requests for them get 481.
    pub(crate) fn end(&mut self, ids: Vec<String>, at_ms: f64) -> Vec<ListenEvent> {
        let mut out = Vec::new();
        for id in ids {
            self.endpoint.remove_session(&id);
            self.unbound.remove(&id);
            let mut gone: Vec<(String, String)> = self
                .in_flight
                .iter()
                .filter(|((s, _), (received, total))| *s == id && *total != Some(*received))
                .map(|(k, _)| k.clone())
                .collect();
            gone.sort();
            // Messages whose last chunk was answered complete whatever arrives next.
            let completing = self
                .in_flight
                .iter()
                .any(|((s, _), (received, total))| *s == id && *total == Some(*received));
            if completing {
                self.closing.insert(id.clone());
            } else {
                self.names.remove(&id);
                self.peers.remove(&id);
            }
            for key in gone {
                if let Some((received, total)) = self.in_flight.remove(&key) {
                    self.drop_partial(&key);
                    out.push(incomplete(
                        at_ms,
                        &key,
                        received,
                        total,
                        "session ended (BYE)",
                    ));
                }
            }
            out.push(event(
                at_ms,
                "msrp-closed",
                json!({"session": id}),
                format!("{id} closed (BYE)"),
            ));
        }
        out
    }

    /// The bytes of a message that will not complete. The endpoint names its spill files
    /// `SESSION-MESSAGEID` (the receiver's `new_store`); most never reached the disk.
    fn drop_partial(&self, (session, message_id): &(String, String)) {
        let name = format!("{session}-{message_id}");
        if sanitize(&name) == name {
            let _ = std::fs::remove_file(self.partial_dir.join(name));
        }
    }

    /// Remove the spill directory if nothing is left in it (and the hidden one above it
    /// under --save-dir, when no other listen uses it).
    pub(crate) fn cleanup(&self) {
        let _ = std::fs::remove_dir(&self.partial_dir);
        if self.save_dir.is_some() {
            if let Some(up) = self.partial_dir.parent() {
                let _ = std::fs::remove_dir(up);
            }
        }
    }

    fn error(&self, at_ms: f64, peer: Option<SocketAddr>, message: &str) -> ListenEvent {
        let at = peer.map(|p| format!("{p}: ")).unwrap_or_default();
        event(
            at_ms,
            "msrp-error",
            json!({"peer": peer.map(|p| p.to_string()), "message": message}),
            format!("error: {at}{message}"),
        )
    }

    /// Messages of sessions bound to `peer` that cannot complete any more.
    fn lost(&mut self, peer: SocketAddr, at_ms: f64, out: &mut Vec<ListenEvent>) {
        let gone: Vec<(String, String)> = self
            .in_flight
            .keys()
            .filter(|(s, _)| self.peers.get(s) == Some(&peer))
            .cloned()
            .collect();
        for key in gone {
            if let Some((received, total)) = self.in_flight.remove(&key) {
                self.drop_partial(&key);
                out.push(incomplete(
                    at_ms,
                    &key,
                    received,
                    total,
                    "connection closed",
                ));
            }
        }
        self.forget_closed();
    }

    /// Forget the sessions ended by a BYE whose completing messages have all arrived.
    fn forget_closed(&mut self) {
        let done: Vec<String> = self
            .closing
            .iter()
            .filter(|id| !self.in_flight.keys().any(|(s, _)| s == *id))
            .cloned()
            .collect();
        for id in done {
            self.closing.remove(&id);
            self.names.remove(&id);
            self.peers.remove(&id);
        }
    }

    /// Whether answered sessions wait for a connection (the run loop then ticks).
    pub(crate) fn binding(&self) -> bool {
        !self.unbound.is_empty()
    }

    /// Free the sessions no connection bound within --msrp-bind-timeout (their 2xx was never
    /// ACKed, or the peer never connected): later requests for them get 481, and their place
    /// counts no more against --max-msrp-sessions. Returns how many were freed.
    pub(crate) fn expire(
        &mut self,
        now: std::time::Instant,
        at_ms: f64,
        out: &mut Vec<ListenEvent>,
    ) -> u64 {
        let mut due: Vec<String> = self
            .unbound
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(id, _)| id.clone())
            .collect();
        due.sort();
        for id in &due {
            self.unbound.remove(id);
            self.endpoint.remove_session(id);
            self.names.remove(id);
            self.peers.remove(id);
            out.push(event(
                at_ms,
                "msrp-expired",
                json!({"session": id, "after_s": self.bind_timeout.as_secs_f64()}),
                format!(
                    "{id} freed: no MSRP connection bound it within {:?} (--msrp-bind-timeout)",
                    self.bind_timeout
                ),
            ));
        }
        due.len() as u64
    }

    /// Whether a message whose last chunk was answered is still on its way to us.
    pub(crate) fn completing(&self) -> bool {
        self.in_flight
            .values()
            .any(|(received, total)| *total == Some(*received))
    }

    /// Take what the endpoint has queued, without waiting; the whole messages among it.
    /// Done before a BYE ends sessions: a last chunk is reported before its 200 leaves, so
    /// a BYE sent after that 200 finds the message known as complete here.
    pub(crate) fn drain(&mut self, at_ms: f64, out: &mut Vec<ListenEvent>) -> u64 {
        let mut n = 0;
        while let Some(ev) = self.endpoint.try_recv() {
            n += self.on_event(ev, at_ms, out);
        }
        n
    }

    /// Messages still in progress when listen stops.
    pub(crate) fn abandon(&mut self, at_ms: f64) -> Vec<ListenEvent> {
        let mut keys: Vec<_> = self.in_flight.drain().collect();
        keys.sort();
        keys.into_iter()
            .map(|(key, (received, total))| {
                self.drop_partial(&key);
                incomplete(at_ms, &key, received, total, "stopped")
            })
            .collect()
    }

    /// One endpoint event as output; `Some(1)` per whole message.
    pub(crate) fn on_event(
        &mut self,
        ev: ReceiveEvent,
        at_ms: f64,
        out: &mut Vec<ListenEvent>,
    ) -> u64 {
        match ev {
            ReceiveEvent::Connected { peer } => out.push(event(
                at_ms,
                "msrp-connected",
                json!({"peer": peer.to_string()}),
                format!("{peer} connected"),
            )),
            ReceiveEvent::SessionBound {
                session_id,
                peer,
                from_path,
            } => {
                self.unbound.remove(&session_id);
                self.peers.insert(session_id.clone(), peer);
                out.push(event(
                    at_ms,
                    "msrp-session",
                    json!({"session": session_id, "peer": peer.to_string(), "from_path": from_path}),
                    format!("{session_id} bound by {peer} ({from_path})"),
                ));
            }
            ReceiveEvent::Chunk {
                session_id,
                message_id,
                received,
                total,
            } => {
                self.in_flight
                    .insert((session_id, message_id), (received, total));
            }
            ReceiveEvent::Message(m) => {
                let session = m.session_id.clone();
                self.in_flight
                    .remove(&(session.clone(), m.message_id.clone()));
                out.push(self.message(m, at_ms));
                self.forget_closed();
                return 1;
            }
            ReceiveEvent::Aborted {
                session_id,
                message_id,
                received,
            } => {
                self.in_flight
                    .remove(&(session_id.clone(), message_id.clone()));
                out.push(event(
                    at_ms,
                    "msrp-aborted",
                    json!({"session": session_id, "message_id": message_id, "received": received}),
                    format!(
                        "{session_id} {message_id} aborted by the sender after {received} bytes"
                    ),
                ));
            }
            ReceiveEvent::Refused {
                peer,
                session_id,
                message_id,
                code,
                reason,
            } => out.push(event(
                at_ms,
                "msrp-refused",
                json!({"peer": peer.to_string(), "session": session_id, "message_id": message_id,
                       "status": code, "reason": reason}),
                format!(
                    "{code} {reason} to {peer} ({} {})",
                    session_id.as_deref().unwrap_or("-"),
                    message_id.as_deref().unwrap_or("-")
                ),
            )),
            ReceiveEvent::Error { peer, error } => {
                self.lost(peer, at_ms, out);
                out.push(self.error(at_ms, Some(peer), &error.to_string()));
            }
            ReceiveEvent::Disconnected { peer } => {
                self.lost(peer, at_ms, out);
                out.push(event(
                    at_ms,
                    "msrp-disconnected",
                    json!({"peer": peer.to_string()}),
                    format!("{peer} disconnected"),
                ));
            }
        }
        0
    }

    /// A whole message: kept in --save-dir or dropped, reported either way.
    fn message(&mut self, m: ReceivedMessage, at_ms: f64) -> ListenEvent {
        let offer = self.names.get(&m.session_id).cloned().unwrap_or_default();
        let file_name = offer.name.clone();
        let keep = self
            .save_dir
            .clone()
            .filter(|_| file_name.is_some() || !matches!(m.content, Delivered::Text(_)));
        let mut outcome = None;
        let mut save_error = None;
        if let Some(dir) = &keep {
            let name = sanitize(file_name.as_deref().unwrap_or(&m.message_id));
            let tmp = self
                .partial_dir
                .join(format!("{}-{}.content", m.session_id, m.message_id));
            match save(dir, &tmp, &name, &m, offer.sha1.as_deref()) {
                Ok(o) => outcome = Some(o),
                Err(e) => {
                    save_error = Some(format!("cannot save {name} in {}: {e}", dir.display()))
                }
            }
        } else if let Delivered::File(p) = &m.content {
            let _ = std::fs::remove_file(p);
        }
        // Saved and synced (or nothing to save): the Success-Report may leave.
        if let Some(c) = &m.confirm {
            c.kept(save_error.is_none());
        }
        let text = match &m.content {
            Delivered::Text(t) => Some(t.as_str()),
            _ => None,
        };
        let mut fields = json!({
            "session": m.session_id,
            "message_id": m.message_id,
            "content_type": m.content_type,
            "size": m.size,
            "sha256": m.sha256,
        });
        let mut kind = "msrp-message";
        let mut line = format!(
            "{} {} {} {} bytes sha256 {}",
            m.session_id, m.message_id, m.content_type, m.size, m.sha256
        );
        if let Some(t) =
            text.filter(|t| t.chars().count() <= SHOW_TEXT && !t.contains(['\r', '\n']))
        {
            line.push_str(&format!(" {t:?}"));
        }
        if let Value::Object(o) = &mut fields {
            if let Some(t) = text {
                o.insert("text".into(), t.into());
            }
            if let Some(n) = &file_name {
                o.insert("file_name".into(), n.as_str().into());
            }
            if let Some(h) = &offer.sha1 {
                o.insert("sha1_expected".into(), hex(h).into());
            }
            match &outcome {
                Some(Saved::Kept { path, sha1 }) => {
                    o.insert("sha1".into(), sha1.as_str().into());
                    o.insert("path".into(), path.display().to_string().into());
                    if offer.sha1.is_some() {
                        line.push_str(" sha1 verified");
                    }
                    line.push_str(&format!(" saved as {}", path.display()));
                }
                Some(Saved::Mismatch { part, sha1 }) => {
                    // Reported as its own event: a script waiting for the file must not take
                    // this for it.
                    kind = "msrp-hash-mismatch";
                    o.insert("sha1".into(), sha1.as_str().into());
                    o.insert("part".into(), part.display().to_string().into());
                    line = format!(
                        "{} {} {} bytes: sha1 {} but the offer said {}; kept as {}",
                        m.session_id,
                        m.message_id,
                        m.size,
                        sha1,
                        offer.sha1.as_deref().map(hex).unwrap_or_default(),
                        part.display()
                    );
                }
                None => {}
            }
            if let Some(e) = &save_error {
                o.insert("save_error".into(), e.as_str().into());
                line.push_str(&format!(" ({e})"));
            }
        }
        event(at_ms, kind, fields, line)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn incomplete(
    at_ms: f64,
    (session, message_id): &(String, String),
    received: u64,
    total: Option<u64>,
    why: &str,
) -> ListenEvent {
    let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
    event(
        at_ms,
        "msrp-incomplete",
        json!({"session": session, "message_id": message_id, "received": received,
               "total": total, "reason": why}),
        format!("{session} {message_id} incomplete ({why}): {received}{of} bytes"),
    )
}

/// What became of a file.
#[derive(Debug, PartialEq, Eq)]
enum Saved {
    /// Under its own (sanitized, unique) name.
    Kept { path: PathBuf, sha1: String },
    /// The SHA-1 differs from the offer's: kept as `NAME.part`, never under the real name.
    Mismatch { part: PathBuf, sha1: String },
}

/// Put the content of `m` in a file of its own (`tmp`, unless the endpoint's spill file holds
/// exactly the content), hash it with SHA-1, and link it into `dir` as `name` when the hash
/// matches `expected` (RFC 5547 §5 `hash:sha-1`).
fn save(
    dir: &Path,
    tmp: &Path,
    name: &str,
    m: &ReceivedMessage,
    expected: Option<&[u8]>,
) -> std::io::Result<Saved> {
    use sha1::{Digest, Sha1};
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut h = Sha1::new();
    let content: PathBuf = match &m.content {
        Delivered::Text(t) => write_new(tmp, t.as_bytes(), &mut h)?,
        Delivered::Bytes(b) => write_new(tmp, b, &mut h)?,
        Delivered::File(src) if m.body_offset == 0 && m.sha1.is_some() => src.clone(),
        Delivered::File(src) => {
            let mut f = std::fs::File::open(src)?;
            let from_start = m.body_offset == 0;
            let mut out = if from_start {
                None
            } else {
                // message/cpim: only the inner content is the file.
                f.seek(SeekFrom::Start(m.body_offset))?;
                Some(std::fs::File::create(tmp)?)
            };
            let mut buf = vec![0u8; 64 * 1024];
            let r = loop {
                match f.read(&mut buf) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        let chunk = buf.get(..n).unwrap_or_default();
                        h.update(chunk);
                        if let Some(o) = out.as_mut() {
                            if let Err(e) = o.write_all(chunk) {
                                break Err(e);
                            }
                        }
                    }
                    Err(e) => break Err(e),
                }
            };
            let r = r.and_then(|()| match out.as_ref() {
                Some(o) => o.sync_data(),
                None => Ok(()),
            });
            if let Err(e) = r {
                let _ = std::fs::remove_file(src);
                let _ = std::fs::remove_file(tmp);
                return Err(e);
            }
            if from_start {
                src.clone()
            } else {
                let _ = std::fs::remove_file(src);
                tmp.to_path_buf()
            }
        }
    };
    let sha1 = match (&m.content, &m.sha1) {
        // Hashed by the endpoint as the bytes arrived.
        (Delivered::File(_), Some(s)) if m.body_offset == 0 => s.clone(),
        _ => hex(&h.finalize()),
    };
    let ok = expected.is_none_or(|e| hex(e) == sha1);
    let target = if ok {
        name.to_owned()
    } else {
        format!("{name}.part")
    };
    let placed = place(dir, &content, &target);
    let _ = std::fs::remove_file(&content);
    let path = placed?;
    sync_dir(dir)?;
    Ok(if ok {
        Saved::Kept { path, sha1 }
    } else {
        Saved::Mismatch { part: path, sha1 }
    })
}

fn write_new(path: &Path, bytes: &[u8], h: &mut sha1::Sha1) -> std::io::Result<PathBuf> {
    use sha1::Digest;
    use std::io::Write;
    h.update(bytes);
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_data()?;
    Ok(path.to_path_buf())
}

/// Make a new name in `dir` durable (the file's bytes are synced already).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Give the finished file `src` the name `dir/name`, or `dir/stem-N.ext` for the first N that
/// does not exist: a hard link fails rather than replace a file, so no existing file is ever
/// overwritten and the name appears only with the whole content behind it. The caller
/// removes `src`.
fn place(dir: &Path, src: &Path, name: &str) -> std::io::Result<PathBuf> {
    let mut last = None;
    for candidate in candidates(dir, name) {
        match std::fs::hard_link(src, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    if last.is_some() {
        // No hard links here (some file systems): reserve the name, then replace the empty
        // reservation, which is ours, with the content.
        let (path, file) = unique(dir, name)?;
        drop(file);
        if let Err(e) = std::fs::rename(src, &path).or_else(|_| std::fs::copy(src, &path).map(drop))
        {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        return Ok(path);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("no free name for {name} in {}", dir.display()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offered_names_cannot_leave_the_directory() {
        assert_eq!(sanitize("report.pdf"), "report.pdf");
        assert_eq!(sanitize("../../etc/passwd"), "passwd");
        assert_eq!(sanitize("C:\\x\\..\\evil.exe"), "evil.exe");
        assert_eq!(sanitize(".hidden"), "hidden");
        assert_eq!(sanitize(".."), "msrp-file");
        assert_eq!(sanitize("a\nb:c"), "a_b_c");
        // Issue 15: an override would show `invoice\u{202E}fdp.exe` as `invoiceexe.pdf`.
        assert_eq!(sanitize("invoice\u{202E}fdp.exe"), "invoice_fdp.exe");
        assert_eq!(sanitize("a\u{200B}b\u{2066}c\u{FEFF}"), "a_b_c_");
        assert_eq!(sanitize(&"x".repeat(300)).len(), 200);
    }

    #[test]
    fn names_are_never_reused() {
        let dir = std::env::temp_dir().join(format!("sipkit-unique-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (a, _) = unique(&dir, "f.txt").expect("first");
        let (b, _) = unique(&dir, "f.txt").expect("second");
        let (c, _) = unique(&dir, "noext").expect("third");
        let (d, _) = unique(&dir, "noext").expect("fourth");
        assert_eq!(a, dir.join("f.txt"));
        assert_eq!(b, dir.join("f-1.txt"));
        assert_eq!(c, dir.join("noext"));
        assert_eq!(d, dir.join("noext-1"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
