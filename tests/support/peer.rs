//! Simple loopback peers for transport tests: SIP message builders, reading one message off a
//! stream, and the server side of WebSocket (tungstenite's handshake, RFC 6455 frames by hand).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Bound on every step of a loopback test, so a bug hangs nothing.
pub const STEP: Duration = Duration::from_secs(5);

/// Run `f` within [`STEP`], panicking with `what` when it takes longer.
pub async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// An OPTIONS request numbered `n` (in Call-ID and CSeq), with an empty body.
pub fn options(n: u32) -> Vec<u8> {
    format!(
        "OPTIONS sip:peer.test SIP/2.0\r\n\
Via: SIP/2.0/TCP client.test;branch=z9hG4bK{n}\r\n\
Max-Forwards: 70\r\n\
To: <sip:peer.test>\r\n\
From: <sip:client.test>;tag={n}\r\n\
Call-ID: call-{n}\r\n\
CSeq: {n} OPTIONS\r\n\
Content-Length: 0\r\n\
\r\n"
    )
    .into_bytes()
}

/// A 200 response numbered `n`, with a body of `body_len` bytes.
pub fn ok(n: u32, body_len: usize) -> Vec<u8> {
    let mut m = format!(
        "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/TCP client.test;branch=z9hG4bK{n}\r\n\
To: <sip:peer.test>;tag=srv\r\n\
From: <sip:client.test>;tag={n}\r\n\
Call-ID: call-{n}\r\n\
CSeq: {n} OPTIONS\r\n\
Content-Type: text/plain\r\n\
Content-Length: {body_len}\r\n\
\r\n"
    )
    .into_bytes();
    m.extend(std::iter::repeat_n(b'x', body_len));
    m
}

/// Read one message with an empty body (up to the blank line) from a stream.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.expect("peer read");
        assert!(n == 1, "stream closed after {} bytes", out.len());
        out.push(byte[0]);
    }
    out
}

/// Accept a WebSocket upgrade on `stream`, requiring (when `offer_sip`) and answering the `sip`
/// subprotocol; returns the stream for raw frames and the request path.
pub async fn ws_accept<S>(stream: S, offer_sip: bool) -> (S, String)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let path = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let seen = path.clone();
    // The signature is tungstenite's callback type; its error is an HTTP response, not ours.
    #[allow(clippy::result_large_err)]
    let callback = move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        if let Ok(mut p) = seen.lock() {
            *p = req.uri().path().to_owned();
        }
        let asked = req
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            asked.split(',').any(|p| p.trim() == "sip"),
            "client did not ask for the sip subprotocol: {asked:?}"
        );
        if offer_sip {
            resp.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
        }
        Ok(resp)
    };
    let ws = tokio_tungstenite::accept_hdr_async(stream, callback)
        .await
        .expect("WebSocket accept");
    let path = path.lock().map(|p| p.clone()).unwrap_or_default();
    (ws.into_inner(), path)
}

/// Read one client frame (must be masked): (FIN, opcode, unmasked payload).
pub async fn ws_read<S: AsyncRead + Unpin>(s: &mut S) -> (bool, u8, Vec<u8>) {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await.expect("frame header");
    assert!(head[1] & 0x80 != 0, "client frames must be masked");
    let len = match head[1] & 0x7F {
        126 => u64::from(s.read_u16().await.expect("length")),
        127 => s.read_u64().await.expect("length"),
        n => u64::from(n),
    };
    let mut mask = [0u8; 4];
    s.read_exact(&mut mask).await.expect("mask");
    let mut payload = vec![0u8; usize::try_from(len).expect("frame length")];
    s.read_exact(&mut payload).await.expect("payload");
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    (head[0] & 0x80 != 0, head[0] & 0x0F, payload)
}

/// Write one unmasked server frame.
pub async fn ws_write<S: AsyncWrite + Unpin>(s: &mut S, fin: bool, opcode: u8, payload: &[u8]) {
    let mut frame = vec![if fin { 0x80 } else { 0 } | opcode];
    if payload.len() < 126 {
        frame.push(payload.len() as u8);
    } else {
        frame.push(126);
        frame.extend_from_slice(&u16::try_from(payload.len()).expect("short").to_be_bytes());
    }
    frame.extend_from_slice(payload);
    s.write_all(&frame).await.expect("frame write");
    s.flush().await.expect("flush");
}
