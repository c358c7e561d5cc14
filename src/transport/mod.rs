//! Everything that touches the network: sockets for UDP, TCP, TLS and WebSocket, stream framing
//! with the codec's partial/complete parsing, locating servers (RFC 3263), and the RFC 3261 §17
//! transactions that decide when to retransmit and when to give up. `send`, `listen` and
//! `invite` share it; the wire formats themselves live in [`crate::proto`].
//!
//! The client path is: [`TargetSpec::parse`] the user's text, [`Resolver::resolve`] it into an
//! ordered list of [`Destination`]s, [`Connection::connect`] to one, then [`Sender::send`] and
//! [`Connection::recv`] whole messages.
//!
//! The server path is: [`Listener::bind`] a set of [`ListenSpec`]s, [`Listener::recv`]
//! [`Event`]s, and answer with [`Listener::send`] on the [`Flow`] a request came in on;
//! [`server_transaction`] decides what a retransmitted request gets.

mod conn;
mod error;
pub mod framing;
mod listener;
pub mod msrp;
mod resolve;
mod target;
mod tls;
mod udp_batch;
mod ws;

pub mod server_transaction;
pub mod transaction;

use std::fmt;
use std::net::SocketAddr;

pub use conn::{Connection, Received, Sender};
pub use error::{ResolveError, TargetError, TransportError};
pub use listener::{ConnId, Event, Flow, Inbound, Incoming, Limits, ListenSpec, Listener};
pub use resolve::{Resolution, ResolveStep, Resolver};
pub use target::{TargetSpec, parse_bind, parse_dns_server};
pub use tls::{ClientTls, ServerTls};

/// A SIP transport (RFC 3261 §18, RFC 7118 for WebSocket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// Datagrams; the only unreliable transport (RFC 3261 §17.1.1.2 retransmits over it).
    Udp,
    /// A TCP stream.
    Tcp,
    /// TLS over TCP (RFC 3261 §26.2).
    Tls,
    /// WebSocket over TCP (RFC 7118).
    Ws,
    /// WebSocket over TLS (RFC 7118).
    Wss,
}

impl Proto {
    /// Every transport, in the order of the "expected ..." hint in errors.
    pub const ALL: [Proto; 5] = [Proto::Udp, Proto::Tcp, Proto::Tls, Proto::Ws, Proto::Wss];

    /// Whether the transport delivers reliably (no retransmission needed, RFC 3261 §17.1.1.2).
    pub fn reliable(self) -> bool {
        self != Proto::Udp
    }

    /// Lower-case name, as in a `transport=` URI parameter: `udp`, `tcp`, `tls`, `ws`, `wss`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Tls => "tls",
            Proto::Ws => "ws",
            Proto::Wss => "wss",
        }
    }

    /// The Via transport token (RFC 3261 §20.42, RFC 7118 §5.2): `UDP`, `TCP`, `TLS`, `WS`, `WSS`.
    pub fn via_token(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
            Proto::Tls => "TLS",
            Proto::Ws => "WS",
            Proto::Wss => "WSS",
        }
    }

    /// The port used when nothing names one: 5060, 5061 for TLS (RFC 3261 §19.1.2), 80 and 443
    /// for WebSocket (RFC 6455 §3).
    pub fn default_port(self) -> u16 {
        match self {
            Proto::Udp | Proto::Tcp => 5060,
            Proto::Tls => 5061,
            Proto::Ws => 80,
            Proto::Wss => 443,
        }
    }

    /// Whether the transport is encrypted (TLS, WSS).
    pub fn is_secure(self) -> bool {
        matches!(self, Proto::Tls | Proto::Wss)
    }

    /// The transport named by `name` (case-insensitive), as in `transport=TCP`.
    pub fn from_name(name: &str) -> Option<Proto> {
        Proto::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One place to send to: a transport, an address, and the names TLS and WebSocket need.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Destination {
    /// The transport.
    pub proto: Proto,
    /// The IP address and port.
    pub addr: SocketAddr,
    /// The host name from the target (not the SRV target, RFC 5922 §4): sent as TLS SNI,
    /// checked against the server certificate, and used as the WebSocket `Host`.
    pub host: String,
    /// The WebSocket resource path; `/` unless the target gave one.
    pub ws_path: String,
}

impl Destination {
    /// A destination with the default WebSocket path.
    pub fn new(proto: Proto, addr: SocketAddr, host: impl Into<String>) -> Destination {
        Destination {
            proto,
            addr,
            host: host.into(),
            ws_path: "/".to_owned(),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.proto, self.addr)?;
        if matches!(self.proto, Proto::Ws | Proto::Wss) {
            write!(f, " ({}{})", self.host, self.ws_path)?;
        } else if self.proto == Proto::Tls {
            write!(f, " ({})", self.host)?;
        }
        Ok(())
    }
}
