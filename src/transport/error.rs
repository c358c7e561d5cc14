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
    /// A query failed for another reason than the ones below (the server could not be
    /// reached: ICMP unreachable, connection refused).
    #[error("DNS {rtype} query for `{name}` to {server} failed: {message}")]
    Lookup {
        /// The record type asked for.
        rtype: &'static str,
        /// The name queried.
        name: String,
        /// The server(s) asked.
        server: String,
        /// The resolver's explanation.
        message: String,
    },
    /// The server did not answer in time: nothing is known about the name.
    #[error(
        "the DNS server {server} did not answer the {rtype} query for `{name}` within {secs}s \
         (timeout; check --dns-server or the system resolver)"
    )]
    Timeout {
        /// The record type asked for.
        rtype: &'static str,
        /// The name queried.
        name: String,
        /// The server(s) asked.
        server: String,
        /// The per-query limit, in seconds.
        secs: u64,
    },
    /// The server answered with an error code (SERVFAIL, REFUSED...): it could not answer,
    /// which says nothing about whether the name exists (RFC 1035 §4.1.1).
    #[error("the DNS server {server} answered the {rtype} query for `{name}` with {code}")]
    ServerFailure {
        /// The record type asked for.
        rtype: &'static str,
        /// The name queried.
        name: String,
        /// The server(s) asked.
        server: String,
        /// The response code, e.g. `SERVFAIL (Server Failure)`.
        code: String,
    },
    /// The name does not exist (NXDOMAIN, RFC 1035 §4.1.1 code 3).
    #[error("`{host}` does not exist (NXDOMAIN from {server})")]
    NxDomain {
        /// The host that was looked up.
        host: String,
        /// The server(s) asked.
        server: String,
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

    /// A short name for the cause, as the JSON output's `dns_error` gives it: `config`,
    /// `unreachable`, `timeout`, `servfail` (any error code from the server), `nxdomain`,
    /// `no-records`.
    pub fn kind(&self) -> &'static str {
        match self {
            ResolveError::Config(_) => "config",
            ResolveError::Lookup { .. } => "unreachable",
            ResolveError::Timeout { .. } => "timeout",
            ResolveError::ServerFailure { .. } => "servfail",
            ResolveError::NxDomain { .. } => "nxdomain",
            ResolveError::NotFound { .. } => "no-records",
        }
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
    /// A peer connected to a TLS or WSS listener failed the TLS handshake.
    #[error("TLS handshake with client {peer} failed: {source}")]
    TlsAccept {
        /// The client.
        peer: SocketAddr,
        /// rustls' reason, wrapped in an `io::Error` by tokio-rustls.
        source: io::Error,
    },
    /// A connected peer sent nothing (not even a keepalive) for too long; it was disconnected.
    #[error("connection from {peer} idle for {secs} s; closed")]
    Idle {
        /// The peer.
        peer: SocketAddr,
        /// The idle limit.
        secs: u64,
    },
    /// A peer started a message (or a TLS/WebSocket handshake) and did not finish it in time,
    /// as a slow-read attack would; it was disconnected.
    #[error("{peer} left a message unfinished for {secs} s ({pending} bytes received); closed")]
    Stalled {
        /// The peer.
        peer: SocketAddr,
        /// The limit on finishing one message.
        secs: u64,
        /// Bytes of the unfinished message.
        pending: usize,
    },
    /// The connection a reply should go back on (RFC 3261 §18.2.2) is gone.
    #[error("no open {proto} connection to {addr} any more")]
    NoConnection {
        /// The transport.
        proto: super::Proto,
        /// The peer.
        addr: SocketAddr,
    },
    /// Nothing is listening on that transport and IP family, so there is no socket to send from.
    #[error("no {proto} socket of this IP family to send to {addr} from; listen on one")]
    NoSocket {
        /// The transport.
        proto: super::Proto,
        /// The destination.
        addr: SocketAddr,
    },
    /// More connections than the limit; this one was refused.
    #[error("refused connection from {peer}: already {limit} connections open")]
    TooManyConnections {
        /// The refused peer.
        peer: SocketAddr,
        /// The configured maximum.
        limit: usize,
    },
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
