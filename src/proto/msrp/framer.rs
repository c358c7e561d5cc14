//! Streaming MSRP framing for chunks of any size (RFC 4975 §5.1, §7.1).
//!
//! A SEND chunk may be gigabytes long and its length is not announced: only the end-line
//! `CRLF "-------" tid flag CRLF` ends it. `Framer` lets `listen` write body bytes to disk as
//! they arrive, scanning each byte once: after a read, only the last `2 + 7 + tid_len` bytes
//! (a possible start of the end-line) are held back and examined again.
//!
//! It is a pull decoder over the caller's buffer (the shape of `tokio_util`'s `Decoder`): the
//! caller keeps one growable buffer whose front is the first unconsumed byte, calls
//! [`Framer::decode`], acts on the returned [`Frame`] and removes [`Frame::consumed`] bytes from
//! the front before the next call. Every message yields `Head`, zero or more `Body`, then `End`.
//!
//! ```text
//! loop {
//!     read into buf (append)
//!     loop {
//!         let frame = framer.decode(&buf)?;
//!         let n = frame.consumed();
//!         match frame {
//!             Frame::NeedMore => break,
//!             Frame::Head { head, .. } => start chunk (head.headers...),
//!             Frame::Body(bytes) => sink.write(bytes),
//!             Frame::End { flag, .. } => finish chunk,
//!         }
//!         buf.drain(..n);
//!     }
//! }
//! ```

use memchr::memmem;

use super::message::{EndSearch, Flag, Head, Needle, RFC_SYNTAX, parse_head, search_end_line};
use crate::proto::{ParseError, Status};

/// Limits for a [`Framer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerOptions {
    /// Largest start line plus header section accepted, in bytes. Bodies are unlimited here:
    /// the receiver limits message sizes in its [`super::Reassembler`].
    pub max_head: usize,
}

impl Default for FramerOptions {
    fn default() -> Self {
        FramerOptions {
            max_head: 64 * 1024,
        }
    }
}

/// One step of a message stream; see the module docs for the consumption contract.
// The head is large (inline headers) but a frame is short-lived; boxing it would allocate for
// every message, which the inline header storage exists to avoid.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'b> {
    /// Nothing can be decided yet: append more bytes and call again (consume nothing).
    NeedMore,
    /// The start line and headers (`len` bytes, including the blank line before a body, or the
    /// end-line of a bodiless message).
    Head {
        /// The parsed head; offsets are relative to the buffer passed to `decode`.
        head: Head<'b>,
        /// Bytes to consume.
        len: usize,
    },
    /// Body bytes, in order; consume all of them.
    Body(&'b [u8]),
    /// The end-line (`len` bytes, including the CRLF before it; 0 after a bodiless head).
    End {
        /// The continuation flag.
        flag: Flag,
        /// Bytes to consume.
        len: usize,
    },
}

impl Frame<'_> {
    /// How many bytes the caller must remove from the front of its buffer.
    pub fn consumed(&self) -> usize {
        match self {
            Frame::NeedMore => 0,
            Frame::Head { len, .. } | Frame::End { len, .. } => *len,
            Frame::Body(b) => b.len(),
        }
    }
}

// One framer per connection; the finder is kept inline to avoid an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum State {
    /// Looking for the end of the header section; `line_pos` is the first incomplete line.
    Head { line_pos: usize },
    /// Inside a body, looking for this needle. The first `known` bytes of the next buffer
    /// were already searched (the held-back tail): with no new bytes there is nothing to do.
    Body {
        finder: memmem::Finder<'static>,
        known: usize,
    },
    /// A bodiless head was handed out; its end-line comes next as `End { len: 0 }`.
    BodilessEnd(Flag),
}

/// Incremental MSRP stream decoder; see the module docs.
#[derive(Debug)]
pub struct Framer {
    opts: FramerOptions,
    state: State,
    scanned: u64,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(FramerOptions::default())
    }
}

impl Framer {
    /// A framer at the start of a stream.
    pub fn new(opts: FramerOptions) -> Framer {
        Framer {
            opts,
            state: State::Head { line_pos: 0 },
            scanned: 0,
        }
    }

    /// Total bytes the end-line search has examined so far. For a body of `n` bytes delivered
    /// in `r` reads it stays below `n + r * (9 + tid_len)`: proof that nothing is rescanned.
    pub fn scanned(&self) -> u64 {
        self.scanned
    }

    /// Whether the framer expects a new message: with an empty caller buffer, a clean place
    /// for the stream to end.
    pub fn at_message_boundary(&self) -> bool {
        matches!(self.state, State::Head { line_pos: 0 })
    }

    /// Decode the next frame from `buf`, whose first byte is the first unconsumed byte.
    pub fn decode<'b>(&mut self, buf: &'b [u8]) -> Result<Frame<'b>, ParseError> {
        match &mut self.state {
            State::BodilessEnd(flag) => {
                let flag = *flag;
                self.state = State::Head { line_pos: 0 };
                Ok(Frame::End { flag, len: 0 })
            }
            State::Head { line_pos } => {
                // Find the line that ends the head (blank line, or end-line which starts with
                // "-") without re-reading lines seen on earlier calls.
                let mut pos = *line_pos;
                let mut found = false;
                while let Some(i) = buf.get(pos..).and_then(|r| memchr::memchr(b'\n', r)) {
                    let line = &buf[pos..pos + i];
                    let first_line = pos == 0;
                    pos += i + 1;
                    if first_line {
                        // Reject a bad start line now instead of waiting for max_head bytes.
                        if let Err(e) = parse_head(buf.get(..pos).unwrap_or(buf)) {
                            self.reset();
                            return Err(e);
                        }
                        continue;
                    }
                    if line.is_empty() || line == b"\r" || line.first() == Some(&b'-') {
                        found = true;
                        break;
                    }
                }
                if !found {
                    *line_pos = pos;
                    if pos == 0 {
                        // Still on the start line: fail fast on bytes that cannot start one.
                        let n = buf.len().min(5);
                        if buf[..n] != b"MSRP "[..n] {
                            return Err(ParseError::new(
                                "msrp.start-line.invalid",
                                "expected \"MSRP \" at the start of a message",
                                0,
                                n.max(1),
                                RFC_SYNTAX,
                            ));
                        }
                    }
                    if buf.len() > self.opts.max_head {
                        return Err(ParseError::new(
                            "msrp.head.too-large",
                            format!(
                                "start line and headers exceed {} bytes without ending",
                                self.opts.max_head
                            ),
                            0,
                            buf.len(),
                            RFC_SYNTAX,
                        ));
                    }
                    return Ok(Frame::NeedMore);
                }
                match parse_head(&buf[..pos]) {
                    Ok(Status::Complete(head, len)) => {
                        self.state = match head.bodiless_end {
                            Some(flag) => State::BodilessEnd(flag),
                            None => State::Body {
                                finder: memmem::Finder::new(Needle::new(head.tid).as_bytes())
                                    .into_owned(),
                                known: 0,
                            },
                        };
                        Ok(Frame::Head { head, len })
                    }
                    Ok(Status::Partial) => {
                        // Unreachable for a head that ends at a blank line or "-" line; treat
                        // it as malformed rather than waiting forever.
                        self.reset();
                        Err(ParseError::new(
                            "msrp.head.invalid",
                            "header section did not parse",
                            0,
                            pos,
                            RFC_SYNTAX,
                        ))
                    }
                    Err(e) => {
                        self.reset();
                        Err(e)
                    }
                }
            }
            State::Body { finder, known } => {
                if buf.len() <= *known {
                    return Ok(Frame::NeedMore);
                }
                match search_end_line(buf, finder) {
                    EndSearch::Found {
                        body_end,
                        flag,
                        next,
                    } => {
                        self.scanned += next as u64;
                        if body_end > 0 {
                            *known = 0;
                            Ok(Frame::Body(&buf[..body_end]))
                        } else {
                            self.state = State::Head { line_pos: 0 };
                            Ok(Frame::End { flag, len: next })
                        }
                    }
                    EndSearch::NotYet { safe } => {
                        self.scanned += buf.len() as u64;
                        *known = buf.len() - safe;
                        if safe > 0 {
                            Ok(Frame::Body(&buf[..safe]))
                        } else {
                            Ok(Frame::NeedMore)
                        }
                    }
                }
            }
        }
    }

    /// Forget the message in progress (after an error, before resynchronising).
    pub fn reset(&mut self) {
        self.state = State::Head { line_pos: 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `input` in pieces of `step` bytes; collect (tid, body, flag) per message.
    fn run(input: &[u8], step: usize) -> (Vec<(String, Vec<u8>, Flag)>, Framer) {
        let mut f = Framer::default();
        let mut buf: Vec<u8> = Vec::new();
        let mut out = Vec::new();
        let mut cur: Option<(String, Vec<u8>)> = None;
        for piece in input.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                let n = {
                    let frame = f.decode(&buf).expect("valid stream");
                    let n = frame.consumed();
                    match frame {
                        Frame::NeedMore => break,
                        Frame::Head { head, .. } => {
                            assert!(cur.is_none());
                            cur = Some((head.tid.to_string(), Vec::new()));
                        }
                        Frame::Body(b) => cur.as_mut().expect("in message").1.extend_from_slice(b),
                        Frame::End { flag, .. } => {
                            let (t, b) = cur.take().expect("in message");
                            out.push((t, b, flag));
                        }
                    }
                    n
                };
                buf.drain(..n);
            }
        }
        assert!(
            buf.is_empty(),
            "leftover {:?}",
            String::from_utf8_lossy(&buf)
        );
        assert!(cur.is_none());
        (out, f)
    }

    const TWO: &[u8] = b"MSRP a786hjs2 SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nMessage-ID: 87652491\r\nContent-Type: text/plain\r\n\r\nbody\r\n-------a786hjs\r\n-------xx$\r\n\r\n-------a786hjs2#x\r\n-------a786hjs2\r\n-------a786hjs2$\r\nMSRP a786hjs2 200 OK\r\nTo-Path: msrp://a:1/y;tcp\r\nFrom-Path: msrp://b:1/x;tcp\r\n-------a786hjs2$\r\n";

    #[test]
    fn end_line_split_at_every_boundary() {
        let body: &[u8] =
            b"body\r\n-------a786hjs\r\n-------xx$\r\n\r\n-------a786hjs2#x\r\n-------a786hjs2";
        for step in 1..=TWO.len() {
            let (msgs, _) = run(TWO, step);
            assert_eq!(msgs.len(), 2, "step {step}");
            assert_eq!(msgs[0].1, body, "step {step}");
            assert_eq!(msgs[0].2, Flag::End);
            assert_eq!(msgs[1].1, b"");
        }
        // Two reads split at every position.
        for k in 0..=TWO.len() {
            let mut f = Framer::default();
            let mut buf = TWO[..k].to_vec();
            let mut bodies = Vec::new();
            let mut ends = 0;
            for more in [&TWO[k..], &b""[..]] {
                buf.extend_from_slice(more);
                loop {
                    let n = {
                        let frame = f.decode(&buf).expect("ok");
                        let n = frame.consumed();
                        match frame {
                            Frame::NeedMore => break,
                            Frame::Body(b) => bodies.extend_from_slice(b),
                            Frame::End { .. } => ends += 1,
                            Frame::Head { .. } => {}
                        }
                        n
                    };
                    buf.drain(..n);
                }
            }
            assert_eq!((bodies.as_slice(), ends), (body, 2), "split {k}");
        }
    }

    #[test]
    fn eight_mib_in_64k_reads_is_linear() {
        let tid = "lin3ar";
        let mut msg = format!(
            "MSRP {tid} SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nMessage-ID: m1234\r\nByte-Range: 1-*/*\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        let head_len = msg.len();
        let n = 8 << 20;
        // Body full of near-misses: dashes and CRLFs everywhere.
        msg.extend((0..n).map(|i| b"-\r\n-------lin3a"[i % 15]));
        msg.extend_from_slice(format!("\r\n-------{tid}+\r\n").as_bytes());
        let step = 64 * 1024;
        let (msgs, f) = run(&msg, step);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].1.len(), n);
        assert_eq!(msgs[0].2, Flag::Continue);
        let reads = (msg.len() / step + 1) as u64;
        let bound = (msg.len() - head_len) as u64 + reads * (9 + tid.len() as u64 + 3);
        assert!(f.scanned() <= bound, "scanned {} > {}", f.scanned(), bound);
        assert!(f.scanned() >= n as u64);
    }

    #[test]
    fn garbage_and_oversized_heads_fail() {
        let mut f = Framer::default();
        let e = f.decode(b"GET / HTTP/1.1\r\n").expect_err("not msrp");
        assert_eq!(e.code, "msrp.start-line.invalid");
        let mut f = Framer::default();
        assert_eq!(f.decode(b"MSR"), Ok(Frame::NeedMore));
        let e = f.decode(b"MSRX").expect_err("not msrp");
        assert_eq!(e.code, "msrp.start-line.invalid");
        let mut f = Framer::new(FramerOptions { max_head: 100 });
        let mut big = b"MSRP abcd SEND\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'a', 200));
        let e = f.decode(&big).expect_err("too big");
        assert_eq!(e.code, "msrp.head.too-large");
    }
}
