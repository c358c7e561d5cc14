//! SIP messages (RFC 3261): framing, header fields, typed access, URIs, multipart bodies, a
//! builder, and the lint pass behind `sipkit validate`.

pub mod build;
pub mod headers;
pub mod lint;
pub mod message;
pub mod multipart;
pub mod name;
pub mod tolerant;
pub mod uri;

pub use lint::lint;
pub use message::{Framing, Header, Message, ParseOptions, StartLine, parse};
pub use name::HeaderName;
pub use tolerant::{
    End, FieldCache, Tolerant, field_findings, field_findings_cached, parse_tolerant,
};
pub use uri::{Host, Scheme, Uri};

// The zero-allocation proof (parse + typed access, up to 32 header fields): a counting
// `#[global_allocator]`, the one place in the crate allowed `unsafe` (test builds only).
#[cfg(test)]
mod alloc_tests;
#[cfg(test)]
mod proptests;
