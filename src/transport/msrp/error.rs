//! What can go wrong in an MSRP session, typed so `listen` and `invite` can map each case to an
//! exit code and say which chunk and which status were involved.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::proto::ParseError;
use crate::transport::TransportError;

/// Errors of the MSRP session layer.
#[derive(Debug, thiserror::Error)]
pub enum MsrpError {
    /// A path (ours or the peer's `a=path`) is not a list of MSRP URIs usable here.
    #[error("invalid MSRP path {path:?}: {reason}")]
    Path {
        /// The path as given.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// Binding, connecting or the TLS handshake failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The peer sent bytes that do not frame as MSRP; the connection is closed.
    #[error("{peer} sent bytes that do not frame as MSRP: {error}")]
    Framing {
        /// The peer.
        peer: SocketAddr,
        /// The codec's reason (offsets are into the unconsumed stream buffer).
        error: ParseError,
    },
    /// The peer closed the connection while something was still expected.
    #[error("connection to {peer} closed by the peer while {during}")]
    Closed {
        /// The peer.
        peer: SocketAddr,
        /// What we were waiting for.
        during: String,
    },
    /// Reading or writing failed on an established connection.
    #[error("{op} {peer} failed: {source}")]
    Io {
        /// "sending to" or "receiving from".
        op: &'static str,
        /// The peer.
        peer: SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Nothing arrived in time.
    #[error("no {what} from {peer} within {}s", after.as_secs_f64())]
    Timeout {
        /// What we waited for.
        what: String,
        /// The peer.
        peer: SocketAddr,
        /// How long we waited.
        after: Duration,
    },
    /// The peer answered a chunk with a non-2xx status (RFC 4975 §7.2, §10).
    #[error("{peer} answered {code}{} to chunk {byte_range} of message {message_id} (transaction {tid})", comment.as_ref().map(|c| format!(" {c}")).unwrap_or_default())]
    Rejected {
        /// The peer.
        peer: SocketAddr,
        /// The status code, e.g. 413, 415, 481.
        code: u16,
        /// The reason phrase, if any.
        comment: Option<String>,
        /// The Message-ID of the chunk.
        message_id: String,
        /// The chunk's Byte-Range as sent.
        byte_range: String,
        /// The chunk's transaction id.
        tid: String,
    },
    /// The peer sent a failure REPORT (RFC 4975 §7.1.2).
    #[error("{peer} reported failure {code}{} for bytes {byte_range} of message {message_id}", comment.as_ref().map(|c| format!(" {c}")).unwrap_or_default())]
    FailureReport {
        /// The peer.
        peer: SocketAddr,
        /// The status code from the Status header.
        code: u16,
        /// The Status comment, if any.
        comment: Option<String>,
        /// The Message-ID.
        message_id: String,
        /// The Byte-Range of the REPORT.
        byte_range: String,
    },
    /// The content to send could not be read, or was not the size announced.
    #[error("reading the content to send failed: {0}")]
    Source(io::Error),
    /// A received message could not be stored (disk full, directory missing).
    #[error("storing message {message_id} failed: {source}")]
    Store {
        /// The Message-ID.
        message_id: String,
        /// The operating system's reason.
        source: io::Error,
    },
    /// A message could not be built (a header value with CR or LF, a bad content type).
    #[error("cannot build the MSRP request: {0}")]
    Build(ParseError),
}

impl MsrpError {
    /// The MSRP status code of a rejection or failure report, if the peer sent one.
    pub fn status(&self) -> Option<u16> {
        match self {
            MsrpError::Rejected { code, .. } | MsrpError::FailureReport { code, .. } => Some(*code),
            _ => None,
        }
    }
}
