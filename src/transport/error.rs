//! The errors of the transport layer, one enum per stage (target text, DNS, sockets), so a
//! command can tell a typo in the target (exit 2) from a network that failed (exit 4) without
//! looking at messages.

use std::io;
use std::net::SocketAddr;

use crate::proto::ParseError;

/// A target string that cannot be used (`sipkit send TARGET`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Nothing was given.
    #[error(
        "empty target; expected a sip: or sips: URI, udp:HOST[:PORT], tcp:, tls:, ws:// or wss://"
    )]
    Empty,
    /// A `transport=` parameter or `xyz:` prefix names a transport sipkit does not know.
    #[error(
        "unknown transport `{transport}` in target `{target}`; expected udp, tcp, tls, ws or wss"
    )]
    UnknownTransport {
        /// The transport as written.
        transport: String,
        /// The whole target.
        target: String,
    },
    /// A `sip:`/`sips:` URI that does not parse.
    #[error("invalid URI in target `{target}`: {error}")]
    Uri {
        /// The whole target.
        target: String,
        /// What the URI parser found.
        error: ParseError,
    },
    /// A host, port or address that does not parse.
    #[error("invalid {what} `{found}` in target `{target}`; {hint}")]
    Invalid {
        /// What was being read ("port", "host", "address").
        what: &'static str,
        /// The offending text.
        found: String,
        /// The whole target.
        target: String,
        /// What would have been accepted.
        hint: &'static str,
    },
    /// `sips:` with a transport that cannot carry it (RFC 3261 §26.2.2: SIPS means TLS hops).
    #[error("target `{target}` asks for sips over {transport}; sips needs tls or wss")]
    InsecureSips {
        /// The whole target.
        target: String,
        /// The transport asked for.
        transport: &'static str,
    },
}

/// Locating a server failed (RFC 3263).
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The system resolver configuration (`/etc/resolv.conf`) could not be read.
    #[error("cannot read the system DNS configuration: {0}")]
    Config(String),
    /// A query failed for another reason than "no such records" (timeout, SERVFAIL, refused).
    #[error("DNS {rtype} query for `{name}` failed: {message}")]
    Lookup {
        /// The record type asked for.
        rtype: &'static str,
        /// The name queried.
        name: String,
        /// The resolver's explanation.
        message: String,
    },
    /// Every step ran but no address came out.
    #[error("no address found for `{host}` (no NAPTR, SRV, A or AAAA records)")]
    NotFound {
        /// The host that was looked up.
        host: String,
    },
}

impl ResolveError {
    /// DNS errors are network failures (exit 4), except an unreadable configuration.
    pub fn is_network(&self) -> bool {
        !matches!(self, ResolveError::Config(_))
    }
}

/// Sockets, TLS and WebSocket failures, and peers that break framing.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The local address (`--bind`) could not be bound.
    #[error("cannot bind local address {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The TCP connection (or UDP association) could not be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The destination.
        addr: SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The TLS configuration given by the user is unusable (CA file, client certificate, key).
    /// This is an input error, not a network one.
    #[error("{0}")]
    TlsConfig(String),
    /// The TLS handshake failed (untrusted certificate, wrong name, protocol mismatch).
    #[error("TLS handshake with {addr} (`{host}`) failed: {source}")]
    Tls {
        /// The destination.
        addr: SocketAddr,
        /// The name the certificate was checked against (also sent as SNI).
        host: String,
        /// rustls' reason, wrapped in an `io::Error` by tokio-rustls.
        source: io::Error,
    },
    /// The WebSocket upgrade failed or the peer broke RFC 6455 framing.
    #[error("WebSocket with {addr}: {message}")]
    WebSocket {
        /// The destination.
        addr: SocketAddr,
        /// What went wrong.
        message: String,
    },
    /// Reading or writing failed on an established connection.
    #[error("{op} {addr} failed: {source}")]
    Io {
        /// "sending to" or "receiving from".
        op: &'static str,
        /// The peer.
        addr: SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
    /// ICMP port unreachable came back for a UDP datagram: nothing listens at the destination.
    #[error("{addr} is unreachable over UDP (ICMP port unreachable: nothing listens there)")]
    Unreachable {
        /// The destination.
        addr: SocketAddr,
    },
    /// A message (or a stream prefix that is not yet a message) grew beyond the limit.
    #[error("message from {peer} exceeds the maximum of {limit} bytes")]
    TooLarge {
        /// The peer.
        peer: SocketAddr,
        /// The configured maximum.
        limit: usize,
    },
    /// The peer closed the connection; `pending` bytes of an unfinished message were dropped.
    #[error("connection to {peer} closed by the peer{}", if *pending > 0 { format!(" in the middle of a message ({pending} bytes received)") } else { String::new() })]
    Closed {
        /// The peer.
        peer: SocketAddr,
        /// Bytes of an incomplete message received before the close.
        pending: usize,
    },
    /// A stream carried bytes that are not a SIP message, so message boundaries are lost.
    #[error("{peer} sent bytes that do not frame as a SIP message: {error}")]
    Framing {
        /// The peer.
        peer: SocketAddr,
        /// The parser's finding, offsets relative to the start of the unread stream data.
        error: ParseError,
    },
    /// The bind address and the destination are of different IP families.
    #[error("local address {bind} cannot reach {addr}: one is IPv4, the other IPv6")]
    FamilyMismatch {
        /// The local address asked for.
        bind: SocketAddr,
        /// The destination.
        addr: SocketAddr,
    },
    /// Locating the server failed.
    #[error(transparent)]
    Dns(#[from] ResolveError),
}

impl TransportError {
    /// Whether this is a network failure (exit status 4) rather than bad input (exit 2).
    pub fn is_network(&self) -> bool {
        match self {
            TransportError::TlsConfig(_) | TransportError::FamilyMismatch { .. } => false,
            TransportError::Dns(e) => e.is_network(),
            _ => true,
        }
    }
}
