//! The MSRP half of `sipkit listen` (#5): the session endpoint started on `--msrp`, sessions
//! announced as INVITEs are answered and removed on BYE, the active role of RFC 6135 when the
//! offer asks for it, and what becomes of a received message: an event with its SHA-256, and
//! with `--save-dir` a file named after the offer's `a=file-selector` (RFC 5547 §5).
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

/// Text messages up to this many characters are shown in the human line.
const SHOW_TEXT: usize = 80;

/// What the run loop keeps about MSRP.
#[derive(Debug)]
pub(crate) struct MsrpSide {
    pub(crate) endpoint: Endpoint,
    /// Template for announced sessions (types are set per offer).
    session: SessionConfig,
    save_dir: Option<PathBuf>,
    /// session id → the offer's file name.
    names: HashMap<String, Option<String>>,
    /// session id → the peer its connection came from.
    peers: HashMap<String, SocketAddr>,
    /// (session, message id) → (bytes received, total) of messages in progress.
    pub(crate) in_flight: HashMap<(String, String), (u64, Option<u64>)>,
    client_tls: Option<ClientTls>,
}

/// The endpoint as the UAS sees it while one SIP message is handled.
pub(crate) struct Sessions<'a>(pub(crate) &'a MsrpSide);

impl MsrpSessions for Sessions<'_> {
    fn tls(&self) -> bool {
        self.0.endpoint.security() == crate::transport::msrp::Security::Tls
    }
    fn add(&mut self, accept_types: &[String]) -> (String, String) {
        let mut cfg = self.0.session.clone();
        cfg.accept_types = accept_types.to_vec();
        let s = self.0.endpoint.add_session(cfg);
        (s.session_id, s.uri)
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
            if c.is_control() || matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') {
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

/// `dir/name`, or `dir/stem-N.ext` for the first N that does not exist yet, created here so
/// two messages never pick the same name.
fn unique(dir: &Path, name: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    for n in 0..10_000u32 {
        let candidate = if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{stem}-{n}{ext}"))
        };
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
    ) -> std::io::Result<MsrpSide> {
        // Large messages spill to disk while they arrive: into --save-dir itself (so keeping
        // one is a rename), else a private temporary directory emptied as messages complete.
        let dir = match &save_dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                d.clone()
            }
            None => std::env::temp_dir().join(format!("sipkit-listen-{}", std::process::id())),
        };
        Ok(MsrpSide {
            endpoint,
            session: SessionConfig {
                accept_types: vec!["*".into()],
                max_size,
                store: StoreConfig {
                    dir,
                    ..StoreConfig::default()
                },
            },
            save_dir,
            names: HashMap::new(),
            peers: HashMap::new(),
            in_flight: HashMap::new(),
            client_tls: None,
        })
    }

    /// Sessions just answered: remember their file names, and connect where we are active.
    pub(crate) async fn start(&mut self, offers: Vec<MsrpOffer>, at_ms: f64) -> Vec<ListenEvent> {
        let mut out = Vec::new();
        for o in offers {
            self.names.insert(o.session.clone(), o.file_name.clone());
            if !o.active {
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
            }
        }
        out
    }

    /// Sessions whose dialog ended: later requests for them get 481.
    pub(crate) fn end(&mut self, ids: Vec<String>, at_ms: f64) -> Vec<ListenEvent> {
        ids.into_iter()
            .map(|id| {
                self.endpoint.remove_session(&id);
                self.names.remove(&id);
                self.peers.remove(&id);
                event(
                    at_ms,
                    "msrp-closed",
                    json!({"session": id}),
                    format!("{id} closed (BYE)"),
                )
            })
            .collect()
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
                out.push(incomplete(
                    at_ms,
                    &key,
                    received,
                    total,
                    "connection closed",
                ));
            }
        }
    }

    /// Messages still in progress when listen stops.
    pub(crate) fn abandon(&mut self, at_ms: f64) -> Vec<ListenEvent> {
        let mut keys: Vec<_> = self.in_flight.drain().collect();
        keys.sort();
        keys.into_iter()
            .map(|(key, (received, total))| incomplete(at_ms, &key, received, total, "stopped"))
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
                self.in_flight
                    .remove(&(m.session_id.clone(), m.message_id.clone()));
                out.push(self.message(m, at_ms));
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
        let file_name = self.names.get(&m.session_id).cloned().flatten();
        let keep = self
            .save_dir
            .as_ref()
            .filter(|_| file_name.is_some() || !matches!(m.content, Delivered::Text(_)));
        let mut saved = None;
        let mut save_error = None;
        if let Some(dir) = keep {
            let name = sanitize(file_name.as_deref().unwrap_or(&m.message_id));
            match save(dir, &name, &m) {
                Ok(p) => saved = Some(p),
                Err(e) => {
                    save_error = Some(format!("cannot save {name} in {}: {e}", dir.display()))
                }
            }
        } else if let Delivered::File(p) = &m.content {
            let _ = std::fs::remove_file(p);
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
        if let Value::Object(o) = &mut fields {
            if let Some(t) = text {
                o.insert("text".into(), t.into());
            }
            if let Some(n) = &file_name {
                o.insert("file_name".into(), n.as_str().into());
            }
            if let Some(p) = &saved {
                o.insert("path".into(), p.display().to_string().into());
            }
            if let Some(e) = &save_error {
                o.insert("save_error".into(), e.as_str().into());
            }
        }
        let mut line = format!(
            "{} {} {} {} bytes sha256 {}",
            m.session_id, m.message_id, m.content_type, m.size, m.sha256
        );
        if let Some(t) =
            text.filter(|t| t.chars().count() <= SHOW_TEXT && !t.contains(['\r', '\n']))
        {
            line.push_str(&format!(" {t:?}"));
        }
        if let Some(p) = &saved {
            line.push_str(&format!(" saved as {}", p.display()));
        }
        if let Some(e) = &save_error {
            line.push_str(&format!(" ({e})"));
        }
        event(at_ms, "msrp-message", fields, line)
    }
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

/// Move or write the content of `m` to a new file in `dir`.
fn save(dir: &Path, name: &str, m: &ReceivedMessage) -> std::io::Result<PathBuf> {
    use std::io::{Seek, SeekFrom, Write};
    let (path, mut file) = unique(dir, name)?;
    let r = match &m.content {
        Delivered::Text(t) => file.write_all(t.as_bytes()),
        Delivered::Bytes(b) => file.write_all(b),
        Delivered::File(src) if m.body_offset == 0 => {
            drop(file);
            // Same directory, so normally a rename; a copy when it is not possible.
            std::fs::rename(src, &path).or_else(|_| {
                std::fs::copy(src, &path)?;
                std::fs::remove_file(src)
            })
        }
        Delivered::File(src) => {
            // message/cpim: only the inner content is the file.
            let mut f = std::fs::File::open(src)?;
            f.seek(SeekFrom::Start(m.body_offset))?;
            let r = std::io::copy(&mut f, &mut file).map(drop);
            let _ = std::fs::remove_file(src);
            r
        }
    };
    match r {
        Ok(()) => Ok(path),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
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
