//! Everything that touches the network: sockets for UDP, TCP, TLS and WebSocket, stream framing
//! with the codec's partial/complete parsing, locating servers (RFC 3263), and the RFC 3261 §17
//! transactions that decide when to retransmit and when to give up. `send`, `listen` and
//! `invite` share it; the wire formats themselves live in [`crate::proto`].

pub mod transaction;
