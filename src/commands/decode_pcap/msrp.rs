//! MSRP in captures: sessions tied to the SIP dialog whose SDP negotiated them (the session-id
//! of each `a=path` URI, RFC 4975 §8.2), chunks reassembled by Message-ID and Byte-Range
//! (RFC 4975 §7.1.1), and `--extract` writing each whole message to a file named from the
//! RFC 5547 file-selector when there is one.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::proto::msrp::{self, MsrpUri, Progress, Reassembler, ReassemblerLimits, VecSink};
use crate::proto::{sdp, sip};

/// MSRP session ids and file names learnt from SDP bodies.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    /// session-id -> Call-ID.
    calls: HashMap<String, String>,
    /// Call-ID -> the file name offered in its SDP.
    files: HashMap<String, String>,
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
        for media in d.media.iter().filter(|m| m.is_msrp()) {
            if let Some(Ok(path)) = media.path() {
                for uri in path {
                    if let Some(id) = MsrpUri::parse(uri).ok().and_then(|u| u.session_id) {
                        self.calls.insert(id.to_string(), call_id.to_string());
                    }
                }
            }
            let name = media
                .file_selector()
                .and_then(Result::ok)
                .and_then(|fs| fs.name)
                .and_then(|n| n.decoded().map(|d| d.into_owned()));
            if let Some(name) = name {
                self.files.insert(call_id.to_string(), name);
            }
        }
    }

    /// The Call-ID of the dialog an MSRP message belongs to, by the session ids in its paths.
    pub(crate) fn call_of(&self, m: &msrp::Message<'_>) -> Option<&str> {
        ["To-Path", "From-Path"]
            .iter()
            .filter_map(|name| m.headers.get(name))
            .flat_map(|h| h.value.split(' '))
            .filter_map(|uri| MsrpUri::parse(uri).ok()?.session_id)
            .find_map(|id| self.calls.get(id))
            .map(String::as_str)
    }

    pub(crate) fn file_name(&self, call_id: &str) -> Option<&str> {
        self.files.get(call_id).map(String::as_str)
    }
}

/// One file written by `--extract`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Extracted {
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    /// Lowercase hex.
    pub(crate) sha256: String,
    pub(crate) message_id: String,
    pub(crate) call_id: Option<String>,
    /// False for a message the sender aborted (`#`) or the capture cut short.
    pub(crate) complete: bool,
}

/// Reassembles SEND chunks and writes whole messages into a directory.
#[derive(Debug)]
pub(crate) struct Extractor {
    dir: PathBuf,
    chunks: Reassembler<VecSink>,
    /// Reassembly key -> (Message-ID, Call-ID).
    pending: HashMap<String, (String, Option<String>)>,
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
        }
    }

    /// Take one MSRP message; a SEND that completes a message is written out.
    pub(crate) fn add(
        &mut self,
        m: &msrp::Message<'_>,
        sessions: &Sessions,
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
        let call_id = sessions.call_of(m).map(str::to_string);
        self.pending
            .entry(key.clone())
            .or_insert_with(|| (message_id.to_string(), call_id.clone()));
        let progress = self
            .chunks
            .chunk(&key, start, total, body, m.flag, VecSink::default)
            .map_err(|e| {
                // The reassembler dropped the message: forget it here too.
                self.pending.remove(&key);
                e.to_string()
            })?;
        let (data, complete) = match progress {
            Progress::Incomplete { .. } => return Ok(None),
            Progress::Complete { sink, .. } => (sink.0, true),
            Progress::Aborted { sink, .. } => (sink.0, false),
        };
        if data.is_empty() {
            // A bodiless SEND opens the session (RFC 4975 §7.1): nothing to write.
            self.pending.remove(&key);
            return Ok(None);
        }
        let (message_id, call_id) = self
            .pending
            .remove(&key)
            .unwrap_or((message_id.to_string(), call_id));
        let name = call_id
            .as_deref()
            .and_then(|c| sessions.file_name(c))
            .and_then(sanitize)
            .or_else(|| sanitize(&format!("msrp-{message_id}.bin")))
            .unwrap_or_else(|| "msrp-message.bin".into());
        self.write(&name, &data, message_id, call_id, complete)
            .map(Some)
    }

    fn write(
        &self,
        name: &str,
        data: &[u8],
        message_id: String,
        call_id: Option<String>,
        complete: bool,
    ) -> Result<Extracted, String> {
        let (mut file, path) = create_new(&self.dir, name)?;
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
            message_id,
            call_id,
            complete,
        })
    }
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
        .map(|c| if c.is_control() || c == ':' { '_' } else { c })
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
        assert_eq!(x.add(&parse(&second), &sessions), Ok(None));
        let e = x
            .add(&parse(&first), &sessions)
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
}
