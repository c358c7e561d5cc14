//! MSRP in captures: sessions tied to the SIP dialog whose SDP negotiated them (the session-id
//! of each `a=path` URI, RFC 4975 §8.2), chunks reassembled by Message-ID and Byte-Range
//! (RFC 4975 §7.1.1), and `--extract` writing each message to a file named from the RFC 5547
//! file-selector that describes it, when one does.
//!
//! A session can carry chat messages and several files, each described by its own
//! file-selector (and renewed with a new file-transfer-id, RFC 5547 §8.1): a name goes only
//! to a message whose size, type and hash agree with the selector, so a text message sent
//! before the file keeps a generated name.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::proto::msrp::{
    self, IntervalSet, MsrpUri, Progress, Reassembler, ReassemblerLimits, VecSink,
};
use crate::proto::{sdp, sip};

/// A file an SDP offer or answer described with `a=file-selector` (RFC 5547 §6): what a
/// message must agree with to be given its name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileOffer {
    /// When it was (last) seen, counting SDP bodies: the latest offer/answer wins.
    seq: u64,
    transfer_id: Option<String>,
    /// Decoded, not yet sanitized.
    name: String,
    /// `type/subtype`, lowercase.
    media_type: Option<String>,
    size: Option<u64>,
    sha1: Option<[u8; 20]>,
    /// The session ids of the `a=path` of its media line (offer's and answer's).
    sessions: Vec<String>,
    /// Whether a whole message has taken the name.
    used: bool,
}

impl FileOffer {
    /// Whether a message of `size` bytes (its Byte-Range total), of Content-Type `media_type`
    /// and with SHA-1 `sha1` (`None` when not all of it was captured) is this file. What the
    /// selector leaves out agrees with anything; the hash is checked only when both are known.
    fn agrees(&self, size: Option<u64>, media_type: Option<&str>, sha1: Option<&[u8; 20]>) -> bool {
        let size_ok = self.size.is_none() || self.size == size;
        let type_ok = match (&self.media_type, media_type) {
            (None, _) => true,
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
            (Some(_), None) => false,
        };
        let hash_ok = match (&self.sha1, sha1) {
            (Some(want), Some(got)) => want == got,
            _ => true,
        };
        size_ok && type_ok && hash_ok
    }

    /// A selector without size or hash cannot tell its file from a chat message of the same
    /// type: it names one message only.
    fn distinctive(&self) -> bool {
        self.size.is_some() || self.sha1.is_some()
    }

    fn same_file(&self, other: &FileOffer) -> bool {
        self.transfer_id == other.transfer_id
            && self.name == other.name
            && self.media_type == other.media_type
            && self.size == other.size
            && self.sha1 == other.sha1
    }
}

/// Most file-selectors kept per call (re-INVITEs can add more; the oldest go first).
const MAX_FILES_PER_CALL: usize = 32;

/// Most session ids kept per file (the offer's and the answer's, and a few more when a
/// re-INVITE moves the transfer to a new session).
const MAX_SESSIONS_PER_FILE: usize = 8;

/// MSRP session ids and file-selectors learnt from SDP bodies.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    /// session-id -> Call-ID.
    calls: HashMap<String, String>,
    /// Call-ID -> the files its SDP bodies described, oldest first.
    files: HashMap<String, Vec<FileOffer>>,
    /// SDP bodies with MSRP media learnt so far.
    seq: u64,
}

/// The name a message is written under, and the selector it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Naming {
    name: String,
    transfer_id: Option<String>,
}

impl Sessions {
    /// Learn from a SIP message carrying SDP.
    pub(crate) fn learn(&mut self, m: &sip::Message<'_>) {
        // Most SDP is for RTP: look for an MSRP media line before parsing anything.
        // The finder is built once: building one costs more than searching a body.
        static MSRP_MEDIA: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"/MSRP"));
        if MSRP_MEDIA.find(m.body).is_none()
            || !m
                .content_type()
                .and_then(Result::ok)
                .is_some_and(|t| t.is("application", "sdp"))
        {
            return;
        }
        let (Ok(call_id), Ok(d)) = (m.call_id(), sdp::parse(m.body)) else {
            return;
        };
        self.seq += 1;
        for media in d.media.iter().filter(|m| m.is_msrp()) {
            let mut ids = Vec::new();
            if let Some(Ok(path)) = media.path() {
                for uri in path {
                    if let Some(id) = MsrpUri::parse(uri).ok().and_then(|u| u.session_id) {
                        self.calls.insert(id.to_string(), call_id.to_string());
                        ids.push(id.to_string());
                    }
                }
            }
            if media.port == 0 {
                // A refused or ended stream (RFC 5547 §8.1): it describes no transfer.
                continue;
            }
            // size:0 (outside RFC 5547's grammar, sent for empty files) still names a file.
            let Some(Ok((fs, _))) = media.file_selector_tolerant() else {
                continue;
            };
            let Some(name) = fs.name.and_then(|n| n.decoded().map(|d| d.into_owned())) else {
                continue;
            };
            let offer = FileOffer {
                seq: self.seq,
                transfer_id: media
                    .file_transfer_id()
                    .and_then(Result::ok)
                    .map(str::to_string),
                name,
                media_type: fs.file_type.map(|t| t.media_type.to_ascii_lowercase()),
                size: fs.size,
                sha1: fs.hashes.iter().find_map(sdp::Hash::sha1),
                sessions: ids,
                used: false,
            };
            let files = self.files.entry(call_id.to_string()).or_default();
            // The answer repeats the offer's selector (RFC 5547 §8.2.2), as does a re-INVITE
            // that keeps the transfer: one file, known under both ends' session ids.
            if let Some(known) = files.iter_mut().find(|f| f.same_file(&offer)) {
                known.seq = offer.seq;
                for id in offer.sessions {
                    if !known.sessions.contains(&id) && known.sessions.len() < MAX_SESSIONS_PER_FILE
                    {
                        known.sessions.push(id);
                    }
                }
            } else {
                if files.len() >= MAX_FILES_PER_CALL {
                    files.remove(0);
                }
                files.push(offer);
            }
        }
    }

    /// The Call-ID of the dialog an MSRP message belongs to, by the session ids in its paths.
    pub(crate) fn call_of(&self, m: &msrp::Message<'_>) -> Option<&str> {
        session_ids(m)
            .find_map(|id| self.calls.get(id))
            .map(String::as_str)
    }

    /// The file-selector describing a message of `call_id` on sessions `ids`: the latest one
    /// the message agrees with. A whole message (`sha1` known) marks it used.
    fn name_for(
        &mut self,
        call_id: &str,
        ids: &[String],
        size: Option<u64>,
        media_type: Option<&str>,
        sha1: Option<&[u8; 20]>,
    ) -> Option<Naming> {
        let files = self.files.get_mut(call_id)?;
        let best = files
            .iter_mut()
            .filter(|f| f.sessions.is_empty() || f.sessions.iter().any(|s| ids.contains(s)))
            .filter(|f| f.distinctive() || !f.used)
            .filter(|f| f.agrees(size, media_type, sha1))
            .max_by_key(|f| f.seq)?;
        if sha1.is_some() {
            best.used = true;
        }
        Some(Naming {
            name: best.name.clone(),
            transfer_id: best.transfer_id.clone(),
        })
    }
}

/// The session ids of an MSRP message's To-Path and From-Path URIs.
fn session_ids<'m>(m: &'m msrp::Message<'_>) -> impl Iterator<Item = &'m str> {
    ["To-Path", "From-Path"]
        .into_iter()
        .filter_map(|name| m.headers.get(name))
        .flat_map(|h| h.value.split(' '))
        .filter_map(|uri| MsrpUri::parse(uri).ok()?.session_id)
}

/// One file written by `--extract`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Extracted {
    pub(crate) path: PathBuf,
    /// Bytes written.
    pub(crate) size: u64,
    /// Lowercase hex.
    pub(crate) sha256: String,
    pub(crate) message_id: String,
    pub(crate) call_id: Option<String>,
    /// False for a message the sender aborted (`#`) or the capture cut short.
    pub(crate) complete: bool,
    /// The message's size from Byte-Range, when known.
    pub(crate) total: Option<u64>,
    /// Byte ranges not captured, 1-based and inclusive like Byte-Range; `None` as an end when
    /// the total is unknown (`*`). Empty for a whole message.
    pub(crate) missing: Vec<(u64, Option<u64>)>,
    /// The `a=file-transfer-id` of the file-selector the name came from.
    pub(crate) file_transfer_id: Option<String>,
}

/// What is known of a message being reassembled.
#[derive(Debug)]
struct Pending {
    /// Arrival order of the first chunk, to write unfinished messages in order.
    order: u64,
    message_id: String,
    call_id: Option<String>,
    sessions: Vec<String>,
    /// `type/subtype` of the first chunk that had one.
    media_type: Option<String>,
    total: Option<u64>,
}

/// Reassembles SEND chunks and writes messages into a directory: each whole message when its
/// last chunk arrives, each one aborted (`#`) or left unfinished by the end of the capture as
/// `NAME.partial`.
#[derive(Debug)]
pub(crate) struct Extractor {
    dir: PathBuf,
    chunks: Reassembler<VecSink>,
    /// Reassembly key -> what the first chunks said.
    pending: HashMap<String, Pending>,
    next_order: u64,
}

impl Extractor {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Extractor {
            dir,
            chunks: Reassembler::new(ReassemblerLimits {
                max_message_size: 1 << 30,
                max_messages: 1024,
                max_ranges: 4096,
            }),
            pending: HashMap::new(),
            next_order: 0,
        }
    }

    /// Take one MSRP message; a SEND that completes or aborts a message writes it out.
    pub(crate) fn add(
        &mut self,
        m: &msrp::Message<'_>,
        sessions: &mut Sessions,
    ) -> Result<Option<Extracted>, String> {
        if m.method() != Some(msrp::Method::Send) {
            return Ok(None);
        }
        let Ok(Some(message_id)) = m.headers.message_id() else {
            return Ok(None);
        };
        // Message-IDs are unique per sender only: key by the sender's path too.
        let from = m.headers.get("From-Path").map_or("", |h| h.value);
        let key = format!("{from} {message_id}");
        let br = m.headers.byte_range().ok().flatten();
        let (start, total) = br.map_or((1, None), |b| (b.start, b.total));
        let body = m.body.unwrap_or(&[]);
        let media_type = m
            .headers
            .content_type()
            .ok()
            .flatten()
            .map(|t| format!("{}/{}", t.type_, t.subtype).to_ascii_lowercase());
        let p = self.pending.entry(key.clone()).or_insert_with(|| {
            self.next_order += 1;
            Pending {
                order: self.next_order,
                message_id: message_id.to_string(),
                call_id: sessions.call_of(m).map(str::to_string),
                sessions: session_ids(m).map(str::to_string).collect(),
                media_type: None,
                total: None,
            }
        });
        if p.media_type.is_none() {
            p.media_type = media_type;
        }
        if p.total.is_none() {
            p.total = total;
        }
        let progress = self
            .chunks
            .chunk(&key, start, total, body, m.flag, VecSink::default)
            .map_err(|e| {
                // The reassembler dropped the message: forget it here too.
                self.pending.remove(&key);
                e.to_string()
            })?;
        let (data, received) = match progress {
            Progress::Incomplete { .. } => return Ok(None),
            Progress::Complete { sink, .. } => (sink.0, None),
            Progress::Aborted { sink, received } => (sink.0, Some(received)),
        };
        let Some(p) = self.pending.remove(&key) else {
            return Ok(None);
        };
        if data.is_empty() && p.media_type.is_none() {
            // A bodiless SEND opens the session (RFC 4975 §7.1): nothing to write. An empty
            // message has a Content-Type: an empty file, written as one.
            return Ok(None);
        }
        self.write(p, &data, received.as_ref(), sessions).map(Some)
    }

    /// At the end of the capture: write the messages still missing chunks, in the order they
    /// began.
    pub(crate) fn finish(&mut self, sessions: &mut Sessions) -> Vec<Result<Extracted, String>> {
        let mut left: Vec<(String, Pending)> = self.pending.drain().collect();
        left.sort_by_key(|(_, p)| p.order);
        let mut out = Vec::new();
        for (key, p) in left {
            let Some(received) = self.chunks.received(&key).cloned() else {
                continue;
            };
            let Some(sink) = self.chunks.remove(&key) else {
                continue;
            };
            if !sink.0.is_empty() {
                out.push(self.write(p, &sink.0, Some(&received), sessions));
            }
        }
        out
    }

    /// Write one message: whole (`received` is `None`) under the name of the file-selector it
    /// agrees with, else as `NAME.partial` holding the received bytes at their offsets (gaps
    /// zero-filled, up to the last byte received).
    fn write(
        &self,
        p: Pending,
        data: &[u8],
        received: Option<&IntervalSet>,
        sessions: &mut Sessions,
    ) -> Result<Extracted, String> {
        let complete = received.is_none();
        let total = if complete {
            Some(data.len() as u64)
        } else {
            p.total
        };
        let sha1: Option<[u8; 20]> = complete.then(|| Sha1::digest(data).into());
        let naming = p.call_id.as_deref().and_then(|c| {
            sessions.name_for(
                c,
                &p.sessions,
                total,
                p.media_type.as_deref(),
                sha1.as_ref(),
            )
        });
        let (file_transfer_id, chosen) = match naming {
            Some(n) => (n.transfer_id, sanitize(&n.name)),
            None => (None, None),
        };
        let mut name = chosen
            .or_else(|| sanitize(&format!("msrp-{}.bin", p.message_id)))
            .unwrap_or_else(|| "msrp-message.bin".into());
        if !complete {
            name.push_str(".partial");
        }
        let missing = received.map_or_else(Vec::new, |r| missing(r, p.total));
        let (mut file, path) = create_new(&self.dir, &name)?;
        file.write_all(data)
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        let sha256 = Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Extracted {
            path,
            size: data.len() as u64,
            sha256,
            message_id: p.message_id,
            call_id: p.call_id,
            complete,
            total,
            missing,
            file_transfer_id,
        })
    }
}

/// The byte ranges of `[0, total)` not in `received`, 1-based and inclusive; without a total,
/// the gaps between received ranges and an open range after the last.
fn missing(received: &IntervalSet, total: Option<u64>) -> Vec<(u64, Option<u64>)> {
    let mut out = Vec::new();
    let mut next = 0;
    for &(s, e) in received.ranges() {
        if s > next {
            out.push((next + 1, Some(s)));
        }
        next = e;
    }
    match total {
        Some(t) if t > next => out.push((next + 1, Some(t))),
        Some(_) => {}
        None => out.push((next + 1, None)),
    }
    out
}

/// Create `dir/name`, or `dir/stem-1.ext`, `dir/stem-2.ext`... never replacing a file.
fn create_new(dir: &Path, name: &str) -> Result<(fs::File, PathBuf), String> {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    for n in 0..10_000u32 {
        let candidate = if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{stem}-{n}{ext}"))
        };
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(f) => return Ok((f, candidate)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("creating {}: {e}", candidate.display())),
        }
    }
    Err(format!(
        "too many files named like {name} in {}",
        dir.display()
    ))
}

/// A file name that stays inside the extraction directory: the last path component only,
/// without control characters or separators, never `.` or `..`, at most 200 bytes.
pub(crate) fn sanitize(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut out: String = last
        .chars()
        .map(|c| {
            if crate::files::replaced_in_name(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = out.trim_matches([' ', '.']).len();
    if trimmed == 0 {
        return None;
    }
    if out.starts_with('.') {
        out.insert(0, '_');
    }
    while out.len() > 200 {
        out.pop();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitized_names_stay_in_the_directory() {
        assert_eq!(sanitize("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(sanitize("C:\\x\\evil.exe").as_deref(), Some("evil.exe"));
        assert_eq!(sanitize("..").as_deref(), None);
        assert_eq!(sanitize("dir/").as_deref(), None);
        assert_eq!(sanitize(".bashrc").as_deref(), Some("_.bashrc"));
        assert_eq!(sanitize("a\nb.txt").as_deref(), Some("a_b.txt"));
        // Issue 15: bidirectional overrides and invisible characters, as listen does.
        assert_eq!(
            sanitize("invoice\u{202E}fdp.exe").as_deref(),
            Some("invoice_fdp.exe")
        );
        assert_eq!(sanitize("a\u{200B}b\u{2067}c").as_deref(), Some("a_b_c"));
        assert_eq!(sanitize("photo.jpg").as_deref(), Some("photo.jpg"));
    }

    #[test]
    fn existing_files_are_never_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("a.txt"), b"old").expect("write");
        let (_, p1) = create_new(dir.path(), "a.txt").expect("create");
        let (_, p2) = create_new(dir.path(), "a.txt").expect("create");
        assert_eq!(p1, dir.path().join("a-1.txt"));
        assert_eq!(p2, dir.path().join("a-2.txt"));
        assert_eq!(fs::read(dir.path().join("a.txt")).expect("read"), b"old");
    }

    #[test]
    fn chunks_are_reassembled_and_named_from_the_sdp() {
        let sdp_body = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=message 7777 TCP/MSRP *\r\na=sendonly\r\na=accept-types:*\r\n\
a=path:msrp://10.0.0.1:7777/s1;tcp\r\na=file-selector:name:\"../x.txt\" size:6\r\n";
        let invite = format!(
            "INVITE sip:b@b SIP/2.0\r\nCall-ID: call1\r\nCSeq: 1 INVITE\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp_body}",
            sdp_body.len()
        );
        let mut sessions = Sessions::default();
        match sip::parse(invite.as_bytes(), &sip::ParseOptions::datagram()) {
            Ok(crate::proto::Status::Complete(m, _)) => sessions.learn(&m),
            other => panic!("{other:?}"),
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let mut x = Extractor::new(dir.path().to_path_buf());
        let chunk = |range: &str, body: &str, flag: char| {
            format!(
                "MSRP t{range}x SEND\r\nTo-Path: msrp://10.0.0.2:7777/s2;tcp\r\n\
From-Path: msrp://10.0.0.1:7777/s1;tcp\r\nMessage-ID: m1abc\r\nByte-Range: {range}/6\r\n\
Content-Type: text/plain\r\n\r\n{body}\r\n-------t{range}x{flag}\r\n"
            )
        };
        let second = chunk("4-6", "def", '$');
        let first = chunk("1-3", "abc", '+');
        fn parse(s: &str) -> msrp::Message<'_> {
            match msrp::parse(s.as_bytes()) {
                Ok(crate::proto::Status::Complete(m, _)) => m,
                other => panic!("{other:?}"),
            }
        }
        // Out of order: the last chunk first.
        assert_eq!(x.add(&parse(&second), &mut sessions), Ok(None));
        let e = x
            .add(&parse(&first), &mut sessions)
            .expect("written")
            .expect("complete");
        assert_eq!(e.path, dir.path().join("x.txt"));
        assert_eq!(fs::read(&e.path).expect("read"), b"abcdef");
        assert_eq!(
            e.sha256,
            "bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721"
        );
        assert_eq!(e.call_id.as_deref(), Some("call1"));
        assert!(e.complete);
    }

    fn learnt(selector: &str) -> Sessions {
        let sdp_body = format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=message 7777 TCP/MSRP *\r\na=path:msrp://10.0.0.1:7777/s1;tcp\r\n\
a=file-selector:{selector}\r\n"
        );
        let invite = format!(
            "INVITE sip:b@b SIP/2.0\r\nCall-ID: call1\r\nCSeq: 1 INVITE\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp_body}",
            sdp_body.len()
        );
        let mut sessions = Sessions::default();
        match sip::parse(invite.as_bytes(), &sip::ParseOptions::datagram()) {
            Ok(crate::proto::Status::Complete(m, _)) => sessions.learn(&m),
            other => panic!("{other:?}"),
        }
        sessions
    }

    fn send(id: &str, range: &str, ctype: &str, body: &str, flag: char) -> String {
        format!(
            "MSRP t{id}x SEND\r\nTo-Path: msrp://10.0.0.2:7777/s2;tcp\r\n\
From-Path: msrp://10.0.0.1:7777/s1;tcp\r\nMessage-ID: {id}\r\nByte-Range: {range}\r\n\
Content-Type: {ctype}\r\n\r\n{body}\r\n-------t{id}x{flag}\r\n"
        )
    }

    fn add(x: &mut Extractor, sessions: &mut Sessions, text: &str) -> Option<Extracted> {
        match msrp::parse(text.as_bytes()) {
            Ok(crate::proto::Status::Complete(m, _)) => x.add(&m, sessions).expect("written"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn issue_14_a_selector_without_size_or_hash_names_one_message() {
        let mut sessions = learnt("name:\"a.txt\" type:text/plain");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut x = Extractor::new(dir.path().to_path_buf());
        let first = add(
            &mut x,
            &mut sessions,
            &send("m111", "1-2/2", "text/plain", "hi", '$'),
        );
        let second = add(
            &mut x,
            &mut sessions,
            &send("m222", "1-2/2", "text/plain", "yo", '$'),
        );
        assert_eq!(first.expect("first").path, dir.path().join("a.txt"));
        assert_eq!(
            second.expect("second").path,
            dir.path().join("msrp-m222.bin")
        );
        // With a size, every copy of the file is named (a second copy, e.g. seen on another
        // hop, gets the next free name).
        let mut sessions = learnt("name:\"b.txt\" type:text/plain size:2");
        let mut x = Extractor::new(dir.path().to_path_buf());
        add(
            &mut x,
            &mut sessions,
            &send("m333", "1-2/2", "text/plain", "hi", '$'),
        );
        let again = add(
            &mut x,
            &mut sessions,
            &send("m444", "1-2/2", "text/plain", "hi", '$'),
        );
        assert_eq!(again.expect("again").path, dir.path().join("b-1.txt"));
    }

    #[test]
    fn issue_14_aborted_and_unfinished_messages_are_written_as_partial() {
        let mut sessions = learnt("name:\"f.bin\" type:application/octet-stream size:9");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut x = Extractor::new(dir.path().to_path_buf());
        let ty = "application/octet-stream";
        // Aborted by the sender after its first three bytes.
        let e = add(
            &mut x,
            &mut sessions,
            &send("ab12", "1-3/9", ty, "abc", '#'),
        )
        .expect("written on abort");
        assert_eq!(e.path, dir.path().join("f.bin.partial"));
        assert_eq!((e.complete, e.total), (false, Some(9)));
        assert_eq!(e.missing, [(4, Some(9))]);
        // Left unfinished: the first and last thirds arrived, the total only from "*".
        assert_eq!(
            add(
                &mut x,
                &mut sessions,
                &send("un12", "1-3/*", ty, "abc", '+')
            ),
            None
        );
        assert_eq!(
            add(
                &mut x,
                &mut sessions,
                &send("un12", "7-9/*", ty, "ghi", '+')
            ),
            None
        );
        let left = x.finish(&mut sessions);
        assert_eq!(left.len(), 1);
        let e = left[0].as_ref().expect("written");
        // Without a known total the size selector cannot agree: a generated name.
        assert_eq!(e.path, dir.path().join("msrp-un12.bin.partial"));
        assert_eq!(e.missing, [(4, Some(6)), (10, None)]);
        assert_eq!(fs::read(&e.path).expect("read"), b"abc\0\0\0ghi");
        assert!(x.finish(&mut sessions).is_empty());
    }

    #[test]
    fn missing_ranges_are_one_based_and_inclusive() {
        let mut r = IntervalSet::default();
        assert_eq!(missing(&r, Some(5)), [(1, Some(5))]);
        r.insert(0, 5);
        assert_eq!(missing(&r, Some(5)), []);
        assert_eq!(missing(&r, None), [(6, None)]);
        r.insert(10, 20);
        assert_eq!(missing(&r, Some(25)), [(6, Some(10)), (21, Some(25))]);
    }
}
