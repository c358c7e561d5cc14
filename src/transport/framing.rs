//! Cutting a byte stream (TCP, TLS) into whole SIP messages with the codec's partial/complete
//! parsing, kept apart from the sockets so every split of a stream can be tested without IO.
//!
//! RFC 3261 §18.3: on a stream, Content-Length is mandatory and marks the end of the body.
//! RFC 5626 §3.5.1: a bare CRLF (pong) or double CRLF (ping) between messages is a keepalive,
//! not part of any message.

use crate::proto::sip::{self, ParseOptions};
use crate::proto::{ParseError, Status};

/// What the framer found in its buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// One whole message, keepalive CRLFs before it removed.
    Message(Vec<u8>),
    /// More bytes are needed.
    NeedMore,
}

/// Why the buffered bytes cannot become a message.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The message (or unfinished prefix) is longer than the limit.
    TooLarge,
    /// The bytes are not a SIP message; offsets count from the first unread byte.
    Syntax(ParseError),
}

/// A buffer of stream bytes not yet returned as messages.
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    max_message: usize,
    opts: ParseOptions,
}

impl StreamFramer {
    /// A framer that refuses messages longer than `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        let opts = ParseOptions {
            max_body: max_message,
            ..ParseOptions::stream()
        };
        StreamFramer {
            buf: Vec::new(),
            max_message,
            opts,
        }
    }

    /// Append bytes read from the stream.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered that are not yet part of a returned message (keepalives excluded).
    pub fn pending(&self) -> usize {
        self.buf.len() - keepalive_prefix(&self.buf)
    }

    /// The next whole message, if the buffer holds one.
    pub fn next_message(&mut self) -> Result<Frame, FrameError> {
        // Keepalives: drop CRLFs between messages so they never count toward a message.
        let skip = keepalive_prefix(&self.buf);
        if skip > 0 {
            self.buf.drain(..skip);
        }
        if self.buf.is_empty() {
            return Ok(Frame::NeedMore);
        }
        // Only the length leaves the parse, so the borrow of the buffer ends here.
        let status = sip::parse(&self.buf, &self.opts).map(|s| match s {
            Status::Complete(_, consumed) => Some(consumed),
            Status::Partial => None,
        });
        match status {
            Ok(Some(consumed)) => {
                if consumed > self.max_message {
                    return Err(FrameError::TooLarge);
                }
                let rest = self.buf.split_off(consumed.min(self.buf.len()));
                let message = std::mem::replace(&mut self.buf, rest);
                Ok(Frame::Message(message))
            }
            Ok(None) if self.buf.len() >= self.max_message => Err(FrameError::TooLarge),
            Ok(None) => Ok(Frame::NeedMore),
            Err(e) if e.code == "sip.content-length.too-large" => Err(FrameError::TooLarge),
            Err(e) => Err(FrameError::Syntax(e)),
        }
    }
}

impl StreamFramer {
    /// RFC 3261 §21.5.14 / §18.1.1: the `513 Message Too Large` answer to the request whose
    /// head is at the start of the buffer, once [`FrameError::TooLarge`] was returned, so the
    /// sender learns why before the connection closes. `None` when there is nothing to answer:
    /// a response, an ACK (never answered, §17.1.1.3), or a head that does not show the Via,
    /// From, To, Call-ID and CSeq a response must copy (§8.2.6.2).
    pub fn too_large_response(&self) -> Option<Vec<u8>> {
        // The head, or as much of it as arrived, without a last line that may be cut short.
        let head_end = find(&self.buf, b"\r\n\r\n")
            .or_else(|| self.buf.iter().rposition(|&b| b == b'\n'))
            .unwrap_or(0);
        let head = std::str::from_utf8(&self.buf[..head_end]).ok()?;
        let mut lines = head.split("\r\n");
        let start = lines.next()?;
        let method = start.split(' ').next()?;
        if start.starts_with("SIP/") || method == "ACK" || !start.ends_with("SIP/2.0") {
            return None;
        }
        // Header lines with their folded continuations (RFC 3261 §7.3.1).
        let mut fields: Vec<String> = Vec::new();
        for line in lines {
            match (line.starts_with([' ', '\t']), fields.last_mut()) {
                (true, Some(last)) => last.push_str(line),
                _ => fields.push(line.to_owned()),
            }
        }
        let mut copied = Vec::new();
        let mut seen = [false; 5];
        for field in &fields {
            let Some((name, value)) = field.split_once(':') else {
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            let which = match name.as_str() {
                "via" | "v" => 0,
                "from" | "f" => 1,
                "to" | "t" => 2,
                "call-id" | "i" => 3,
                "cseq" => 4,
                _ => continue,
            };
            // One From, To, Call-ID and CSeq; every Via.
            if which > 0 && seen[which] {
                continue;
            }
            seen[which] = true;
            let mut field = field.trim_end().to_owned();
            // §8.2.6.2: a final response gets a To tag when the request had none.
            if which == 2 && !value.to_ascii_lowercase().contains(";tag=") {
                field.push_str(";tag=513");
            }
            copied.push(field);
        }
        if seen.contains(&false) {
            return None;
        }
        let mut out = String::from("SIP/2.0 513 Message Too Large\r\n");
        for field in copied {
            out.push_str(&field);
            out.push_str("\r\n");
        }
        out.push_str(&format!(
            "Warning: 399 sipkit \"the request exceeds this server's limit of {} bytes\"\r\n",
            self.max_message
        ));
        out.push_str("Content-Length: 0\r\n\r\n");
        Some(out.into_bytes())
    }
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Length of the CRLF keepalives at the start of `buf`.
fn keepalive_prefix(buf: &[u8]) -> usize {
    buf.iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(buf.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\n\
Via: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
Max-Forwards: 70\r\n\
To: <sip:a@b>\r\n\
From: <sip:c@d>;tag=1\r\n\
Call-ID: x\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 4\r\n\
\r\n\
body";

    #[test]
    fn issue_15_an_oversized_request_gets_a_513_copying_its_transaction_fields() {
        let big = b"MESSAGE sip:a@b SIP/2.0\r\n\
Via: SIP/2.0/TCP h:5060;branch=z9hG4bK7\r\n\
v: SIP/2.0/TCP p:5060;branch=z9hG4bK8\r\n\
f: <sip:c@d>;tag=1\r\n\
To: <sip:a@b>\r\n\
Call-ID: big\r\n\
CSeq: 9 MESSAGE\r\n\
Content-Length: 5000\r\n\r\n";
        let mut f = StreamFramer::new(300);
        f.extend(big);
        f.extend(&[b'x'; 400]);
        assert_eq!(f.next_message(), Err(FrameError::TooLarge));
        let response = String::from_utf8(f.too_large_response().expect("a 513")).expect("utf-8");
        assert_eq!(
            response,
            "SIP/2.0 513 Message Too Large\r\n\
Via: SIP/2.0/TCP h:5060;branch=z9hG4bK7\r\n\
v: SIP/2.0/TCP p:5060;branch=z9hG4bK8\r\n\
f: <sip:c@d>;tag=1\r\n\
To: <sip:a@b>;tag=513\r\n\
Call-ID: big\r\n\
CSeq: 9 MESSAGE\r\n\
Warning: 399 sipkit \"the request exceeds this server's limit of 300 bytes\"\r\n\
Content-Length: 0\r\n\r\n"
        );
        let parsed = sip::parse(response.as_bytes(), &ParseOptions::default());
        assert!(matches!(parsed, Ok(Status::Complete(..))), "{parsed:?}");
        // Nothing to answer: an ACK, a response, a head without its CSeq yet.
        for head in [
            &b"ACK sip:a@b SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 ACK\r\n\r\n"[..],
            b"SIP/2.0 200 OK\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 X\r\n\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSe",
        ] {
            let mut f = StreamFramer::new(10);
            f.extend(head);
            assert!(f.too_large_response().is_none(), "{}", String::from_utf8_lossy(head));
        }
    }

    fn drain(f: &mut StreamFramer) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Ok(Frame::Message(m)) = f.next_message() {
            out.push(m);
        }
        out
    }

    #[test]
    fn every_split_gives_the_message_once() {
        for cut in 0..=OPTIONS.len() {
            let mut f = StreamFramer::new(4096);
            f.extend(&OPTIONS[..cut]);
            let mut got = drain(&mut f);
            f.extend(&OPTIONS[cut..]);
            got.extend(drain(&mut f));
            assert_eq!(got, vec![OPTIONS.to_vec()], "cut at {cut}");
            assert_eq!(f.pending(), 0);
        }
    }

    #[test]
    fn two_messages_and_keepalives_in_one_read() {
        let mut f = StreamFramer::new(4096);
        let mut bytes = b"\r\n\r\n".to_vec();
        bytes.extend_from_slice(OPTIONS);
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(OPTIONS);
        bytes.extend_from_slice(b"\r\n\r\n");
        f.extend(&bytes);
        assert_eq!(drain(&mut f), vec![OPTIONS.to_vec(), OPTIONS.to_vec()]);
        assert_eq!(f.next_message(), Ok(Frame::NeedMore));
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn over_the_limit_is_too_large() {
        let mut f = StreamFramer::new(64);
        f.extend(OPTIONS);
        assert_eq!(f.next_message(), Err(FrameError::TooLarge));
        // An endless header section is cut off at the limit too.
        let mut f = StreamFramer::new(64);
        f.extend(&[b'a'; 64]);
        assert_eq!(f.next_message(), Err(FrameError::TooLarge));
    }

    #[test]
    fn huge_content_length_is_too_large_before_the_body_arrives() {
        let mut f = StreamFramer::new(1000);
        f.extend(b"SIP/2.0 200 OK\r\nContent-Length: 99999999\r\n\r\n");
        assert_eq!(f.next_message(), Err(FrameError::TooLarge));
    }

    #[test]
    fn garbage_is_a_syntax_error() {
        let mut f = StreamFramer::new(1000);
        f.extend(b"HELLO WORLD\r\n\r\n");
        assert!(matches!(f.next_message(), Err(FrameError::Syntax(_))));
    }
}
