//! SIP over WebSocket (RFC 7118): the opening handshake is tokio-tungstenite's `client_async`
//! with the `sip` subprotocol; after it, frames are read and written here (RFC 6455 §5), because
//! tungstenite's stream type needs the `futures` traits, which sipkit does not depend on. Each
//! WebSocket message carries exactly one SIP message (RFC 7118 §5.3), so no stream framing is
//! needed on top.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::Destination;

/// RFC 6455 §5.2 opcodes.
pub(crate) const OP_CONTINUATION: u8 = 0x0;
pub(crate) const OP_TEXT: u8 = 0x1;
pub(crate) const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;
pub(crate) const OP_PONG: u8 = 0xA;

/// Run the opening handshake over `stream`, asking for the `sip` subprotocol (RFC 7118 §4);
/// tungstenite fails it when the server does not agree to `sip`.
pub(crate) async fn handshake<S>(dest: &Destination, stream: S) -> Result<S, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let scheme = if dest.proto.is_secure() { "wss" } else { "ws" };
    let host = if dest.host.contains(':') {
        format!("[{}]", dest.host)
    } else {
        dest.host.clone()
    };
    let path = if dest.ws_path.starts_with('/') {
        dest.ws_path.clone()
    } else {
        format!("/{}", dest.ws_path)
    };
    let url = format!("{scheme}://{host}:{}{path}", dest.addr.port());
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("cannot build the upgrade request for {url}: {e}"))?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    let (ws, _response) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| format!("upgrade to {url} with subprotocol `sip` failed: {e}"))?;
    // Frames a server sent in the same segment as its 101 response would be lost here; a SIP
    // server has nothing to say before the client's first request.
    Ok(ws.into_inner())
}

/// One client frame: FIN set, masked with `mask` as RFC 6455 §5.3 requires of clients.
///
/// ```text
/// FIN RSV1-3 opcode(4) | MASK len(7) [ext len 16/64] | masking-key(32) | payload
/// ```
pub(crate) fn encode(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | (opcode & 0x0F));
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(0x80 | 126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    out
}

/// What the decoder found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A whole data message (fragments joined).
    Message(Vec<u8>),
    /// A ping to answer with a pong carrying the same payload.
    Ping(Vec<u8>),
    /// The server's close frame, with its payload (status code and reason).
    Close(Vec<u8>),
    /// More bytes are needed.
    NeedMore,
}

/// Why the bytes are not acceptable WebSocket frames.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A message longer than the limit.
    TooLarge,
    /// A broken rule of RFC 6455, described.
    Protocol(String),
}

/// Server frames from a byte stream, joined into messages.
#[derive(Debug)]
pub(crate) struct Decoder {
    buf: Vec<u8>,
    partial: Option<Vec<u8>>,
    max_message: usize,
}

impl Decoder {
    pub(crate) fn new(max_message: usize) -> Self {
        Decoder {
            buf: Vec::new(),
            partial: None,
            max_message,
        }
    }

    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received that are not yet part of a returned message.
    pub(crate) fn pending(&self) -> usize {
        self.buf.len() + self.partial.as_ref().map_or(0, Vec::len)
    }

    /// The next event; pongs are consumed silently.
    pub(crate) fn next_event(&mut self) -> Result<Event, DecodeError> {
        loop {
            let Some((fin, opcode, payload)) = self.frame()? else {
                return Ok(Event::NeedMore);
            };
            match opcode {
                OP_PING => return Ok(Event::Ping(payload)),
                OP_PONG => continue,
                OP_CLOSE => return Ok(Event::Close(payload)),
                OP_TEXT | OP_BINARY | OP_CONTINUATION => {
                    let mut message = match (opcode, self.partial.take()) {
                        (OP_CONTINUATION, Some(started)) => started,
                        (OP_CONTINUATION, None) => {
                            return Err(DecodeError::Protocol(
                                "continuation frame without a message to continue".into(),
                            ));
                        }
                        (_, Some(_)) => {
                            return Err(DecodeError::Protocol(
                                "new data frame before the previous message ended".into(),
                            ));
                        }
                        (_, None) => Vec::new(),
                    };
                    if message.len().saturating_add(payload.len()) > self.max_message {
                        return Err(DecodeError::TooLarge);
                    }
                    message.extend_from_slice(&payload);
                    if !fin {
                        self.partial = Some(message);
                        continue;
                    }
                    // CRLF keepalives sent as messages carry no SIP message.
                    if message.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                        continue;
                    }
                    return Ok(Event::Message(message));
                }
                other => {
                    return Err(DecodeError::Protocol(format!(
                        "unknown opcode {other:#x} (RFC 6455 §5.2)"
                    )));
                }
            }
        }
    }

    /// One frame off the buffer: (FIN, opcode, unmasked payload).
    fn frame(&mut self) -> Result<Option<(bool, u8, Vec<u8>)>, DecodeError> {
        let (Some(&b0), Some(&b1)) = (self.buf.first(), self.buf.get(1)) else {
            return Ok(None);
        };
        if b0 & 0x70 != 0 {
            return Err(DecodeError::Protocol(
                "reserved bits set without a negotiated extension (RFC 6455 §5.2)".into(),
            ));
        }
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0F;
        let masked = b1 & 0x80 != 0;
        let mut pos = 2usize;
        let len = match b1 & 0x7F {
            126 => {
                let Some(b) = self.buf.get(2..4) else {
                    return Ok(None);
                };
                pos = 4;
                u64::from(u16::from_be_bytes([b[0], b[1]]))
            }
            127 => {
                let Some(b) = self.buf.get(2..10) else {
                    return Ok(None);
                };
                pos = 10;
                let mut eight = [0u8; 8];
                eight.copy_from_slice(b);
                u64::from_be_bytes(eight)
            }
            n => u64::from(n),
        };
        if opcode >= 0x8 && (len > 125 || !fin) {
            return Err(DecodeError::Protocol(
                "control frame fragmented or longer than 125 bytes (RFC 6455 §5.5)".into(),
            ));
        }
        let len = usize::try_from(len).map_err(|_| DecodeError::TooLarge)?;
        if len > self.max_message {
            return Err(DecodeError::TooLarge);
        }
        // Servers must not mask (RFC 6455 §5.1); accept it anyway, the key is right there.
        let mask = if masked {
            let Some(k) = self.buf.get(pos..pos + 4) else {
                return Ok(None);
            };
            pos += 4;
            Some([k[0], k[1], k[2], k[3]])
        } else {
            None
        };
        let Some(end) = pos.checked_add(len) else {
            return Err(DecodeError::TooLarge);
        };
        let Some(raw) = self.buf.get(pos..end) else {
            return Ok(None);
        };
        let payload = match mask {
            Some(m) => raw
                .iter()
                .zip(m.iter().cycle())
                .map(|(b, k)| b ^ k)
                .collect(),
            None => raw.to_vec(),
        };
        self.buf.drain(..end);
        Ok(Some((fin, opcode, payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server (unmasked) frame.
    fn server(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        if payload.len() < 126 {
            out.push(payload.len() as u8);
        } else {
            out.push(126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn client_frames_are_masked() {
        let f = encode(OP_TEXT, b"abc", [1, 2, 3, 4]);
        assert_eq!(
            f,
            vec![0x81, 0x83, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2, b'c' ^ 3]
        );
        let long = encode(OP_BINARY, &[0u8; 300], [0; 4]);
        assert_eq!(long.get(..4), Some(&[0x82, 0xFE, 0x01, 0x2C][..]));
        assert_eq!(long.len(), 4 + 4 + 300);
    }

    #[test]
    fn messages_fragments_pings_and_partial_frames() {
        let mut bytes = server(true, OP_PING, b"p");
        bytes.extend(server(false, OP_TEXT, b"hel"));
        bytes.extend(server(true, OP_PONG, b""));
        bytes.extend(server(true, OP_CONTINUATION, b"lo"));
        bytes.extend(server(true, OP_BINARY, &[b'x'; 200]));
        // Byte by byte: every prefix is NeedMore until a frame completes.
        let mut d = Decoder::new(1000);
        let mut events = Vec::new();
        for b in &bytes {
            d.extend(&[*b]);
            loop {
                match d.next_event() {
                    Ok(Event::NeedMore) => break,
                    Ok(e) => events.push(e),
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
        assert_eq!(
            events,
            vec![
                Event::Ping(b"p".to_vec()),
                Event::Message(b"hello".to_vec()),
                Event::Message(vec![b'x'; 200]),
            ]
        );
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn limits_and_protocol_errors() {
        let mut d = Decoder::new(10);
        d.extend(&server(true, OP_TEXT, &[b'a'; 11]));
        assert_eq!(d.next_event(), Err(DecodeError::TooLarge));
        let mut d = Decoder::new(10);
        d.extend(&[0x81, 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(d.next_event(), Err(DecodeError::TooLarge));
        let mut d = Decoder::new(10);
        d.extend(&server(true, OP_CONTINUATION, b"x"));
        assert!(matches!(d.next_event(), Err(DecodeError::Protocol(_))));
        let mut d = Decoder::new(10);
        d.extend(&[0xC1, 0]);
        assert!(matches!(d.next_event(), Err(DecodeError::Protocol(_))));
    }
}
