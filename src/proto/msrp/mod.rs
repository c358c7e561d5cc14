//! MSRP (RFC 4975, relays RFC 4976): the wire codec shared by `validate`, `decode-pcap`,
//! `listen` and `invite`.
//!
//! [`parse`] reads one whole message from a buffer (zero-copy, `Partial` until complete);
//! [`Framer`] reads a stream whose chunks may be gigabytes, handing out body bytes as they
//! arrive; [`Reassembler`] puts chunks back together by Message-ID and Byte-Range; the `write_*`
//! functions build messages; [`lint`] reports every problem in one message.

mod build;
mod framer;
mod headers;
mod lint;
mod message;
mod reassembly;
mod uri;

pub use build::{
    IdGenerator, Ident, RequestHeaders, body_contains_end_line, write_body_end, write_end_line,
    write_request, write_request_head, write_response,
};
pub use framer::{Frame, Framer, FramerOptions};
pub use headers::{ByteRange, ContentType, Path, ReportValue, StatusHeader};
pub use lint::lint;
pub use message::{
    Flag, Head, Header, Headers, MAX_TID_LEN, MIN_TID_LEN, Message, Method, StartLine, is_ident,
    parse, parse_head, parse_tolerant,
};
pub use reassembly::{
    ChunkSink, IntervalSet, Progress, Reassembler, ReassemblerLimits, ReassemblyError, VecSink,
};
pub use uri::{MsrpUri, Scheme, is_msrp_token};

#[cfg(test)]
mod tests;
