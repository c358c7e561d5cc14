//! Wire formats: SIP (RFC 3261), SDP (RFC 8866) and MSRP (RFC 4975).
//!
//! Everything here works on byte slices the caller owns and borrows from them: no sockets, no
//! tokio, no printing. Transport, capture and the subcommands all share this one codec, so a
//! message that `validate` accepts is exactly one that `send` or `decode-pcap` can handle.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod digest;
pub mod error;
pub mod mime;
pub mod msrp;
pub mod scan;
pub mod sdp;
pub mod sip;
pub mod sniff;

pub use error::{Finding, ParseError, Severity, Status};
