//! SDP (RFC 8866) as MSRP sessions use it: `validate` lints bodies, `send`/`listen`/`invite`
//! build offers and read answers, `decode-pcap` walks the parsed tree. One line-oriented parser
//! serves all of them so every command agrees on what a valid description is; the typed
//! attribute readers cover MSRP (RFC 4975 §8), file transfer (RFC 5547 §6) and COMEDIA setup
//! (RFC 4145, RFC 6135).

mod attr;
mod build;
mod lint;
mod parse;
mod write;

#[cfg(test)]
mod tests;

pub use attr::{
    AcceptType, ConnectionMode, DateKind, Direction, FileDate, FileName, FileRange, FileSelector,
    FileType, Fmtp, Hash, RtpMap, Setup,
};
pub use build::{AnswerConfig, AudioCodec, MediaBuilder, SdpBuilder, encode_file_name};
pub use lint::lint;

use crate::proto::ParseError;
use std::net::IpAddr;

/// Leniencies of [`parse_with`]; [`ParseOptions::default`] is the strict ABNF of RFC 8866 §9
/// plus the bare-LF tolerance that RFC 8866 §5 asks every parser for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept lines ending in a bare LF: "parsers SHOULD be tolerant and also accept lines
    /// terminated with a single newline character" (RFC 8866 §5). Default: true.
    pub allow_bare_lf: bool,
    /// Accept a last line without any line ending (the ABNF ends every field with CRLF, RFC 8866
    /// §9, but SIP bodies cut at Content-Length sometimes lose it). Default: false.
    pub allow_missing_final_eol: bool,
    /// Ignore spaces and tabs at the end of structured (non-text) lines instead of failing the
    /// field grammar (RFC 8866 §9 has no trailing whitespace anywhere). Default: false.
    pub trim_trailing_whitespace: bool,
    /// Accept an IPv6 origin address in brackets, `o=- 1 1 IN IP6 [::1]` (RFC 8866 §9's
    /// IP6-address has none; SIPp's built-in scenarios over IPv6 write them). The address is
    /// kept as written. Default: false.
    pub allow_bracketed_origin_ipv6: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            allow_bare_lf: true,
            allow_missing_final_eol: false,
            trim_trailing_whitespace: false,
            allow_bracketed_origin_ipv6: false,
        }
    }
}

impl ParseOptions {
    /// Exactly the RFC 8866 §9 ABNF: CRLF only, no trailing whitespace.
    pub fn strict() -> Self {
        ParseOptions {
            allow_bare_lf: false,
            ..ParseOptions::default()
        }
    }
}

/// A whole session description, borrowing every string from the parsed buffer.
///
/// Fields appear in the order RFC 8866 §5 mandates; optional single lines are `Option`, repeated
/// ones `Vec`. Offsets are not stored, so two parses of equivalent text compare equal; use
/// [`crate::proto::error::offset_in`] on any `&str` here to find it in the buffer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionDescription<'a> {
    /// `v=`, always `"0"` once parsed.
    pub version: &'a str,
    /// `o=`.
    pub origin: Origin<'a>,
    /// `s=` (may be a single space when the session has no name).
    pub session_name: &'a str,
    /// `i=`.
    pub information: Option<&'a str>,
    /// `u=`.
    pub uri: Option<&'a str>,
    /// `e=` lines.
    pub emails: Vec<&'a str>,
    /// `p=` lines.
    pub phones: Vec<&'a str>,
    /// Session-level `c=`, the default for every media without its own.
    pub connection: Option<Connection<'a>>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth<'a>>,
    /// One or more `t=` lines with their `r=`/`z=` lines.
    pub times: Vec<TimeDescription<'a>>,
    /// Session-level `k=` (obsolete, RFC 8866 §5.12).
    pub key: Option<&'a str>,
    /// Session-level `a=` lines, in order.
    pub attributes: Vec<Attribute<'a>>,
    /// `m=` sections, in order.
    pub media: Vec<MediaDescription<'a>>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>` (RFC 8866
/// §5.2). The numeric fields stay text: they are unbounded digit strings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin<'a> {
    /// `username` (`-` when the host has no user ids).
    pub username: &'a str,
    /// `sess-id`, 1*DIGIT.
    pub session_id: &'a str,
    /// `sess-version`, 1*DIGIT.
    pub session_version: &'a str,
    /// `nettype`, normally `IN`.
    pub net_type: &'a str,
    /// `addrtype`, normally `IP4` or `IP6`.
    pub addr_type: &'a str,
    /// `unicast-address`: an IP literal or a domain name.
    pub address: &'a str,
}

/// The address family named by an `addrtype` field (RFC 8866 §8.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrType<'a> {
    /// `IP4`.
    Ip4,
    /// `IP6`.
    Ip6,
    /// Any other registered or private token.
    Other(&'a str),
}

impl<'a> AddrType<'a> {
    /// Classify an `addrtype` token (case-sensitive, as RFC 8866 §5 makes every field).
    pub fn from_token(s: &'a str) -> Self {
        match s {
            "IP4" => AddrType::Ip4,
            "IP6" => AddrType::Ip6,
            other => AddrType::Other(other),
        }
    }
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 §5.7).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connection<'a> {
    /// `nettype`, normally `IN`.
    pub net_type: &'a str,
    /// `addrtype`, normally `IP4` or `IP6`.
    pub addr_type: &'a str,
    /// `connection-address` as written, including any `/ttl/numaddr` suffix.
    pub address: &'a str,
}

impl<'a> Connection<'a> {
    /// The address family.
    pub fn addr_kind(&self) -> AddrType<'a> {
        AddrType::from_token(self.addr_type)
    }

    /// The host part, without a multicast `/ttl` or `/numaddr` suffix.
    pub fn host(&self) -> &'a str {
        self.address.split('/').next().unwrap_or(self.address)
    }

    /// The address as an IP literal, `None` for domain names and other families.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.addr_kind() {
            AddrType::Ip4 => self.host().parse().ok().map(IpAddr::V4),
            AddrType::Ip6 => self.host().parse().ok().map(IpAddr::V6),
            AddrType::Other(_) => None,
        }
    }
}

/// `b=<bwtype>:<bandwidth>` (RFC 8866 §5.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth<'a> {
    /// `bwtype`, e.g. `CT` or `AS`.
    pub bwtype: &'a str,
    /// Kilobits per second.
    pub bandwidth: u64,
}

/// A `t=` line and the `r=`/`z=` lines that belong to it (RFC 8866 §5.9-§5.11).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimeDescription<'a> {
    /// `start-time`: `0` or NTP seconds (unbounded digits).
    pub start: &'a str,
    /// `stop-time`: `0` or NTP seconds.
    pub stop: &'a str,
    /// `r=` lines.
    pub repeats: Vec<Repeat<'a>>,
    /// The `z=` line, if any.
    pub zone: Vec<ZoneAdjustment<'a>>,
}

/// `r=<repeat interval> <active duration> <offsets from start-time>` (RFC 8866 §5.10); the
/// values keep their optional `d`/`h`/`m`/`s` unit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Repeat<'a> {
    /// `repeat-interval`.
    pub interval: &'a str,
    /// Active duration (`typed-time`).
    pub duration: &'a str,
    /// One or more offsets (`typed-time`).
    pub offsets: Vec<&'a str>,
}

/// One `<adjustment time> <offset>` pair of a `z=` line (RFC 8866 §5.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneAdjustment<'a> {
    /// NTP seconds at which the adjustment happens.
    pub time: &'a str,
    /// `["-"] typed-time`.
    pub offset: &'a str,
}

/// `a=<name>` or `a=<name>:<value>` (RFC 8866 §5.13). Unknown attributes are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// `attribute-name` (a token; compared case-sensitively like every SDP field).
    pub name: &'a str,
    /// `attribute-value`, absent for property attributes such as `a=sendonly`.
    pub value: Option<&'a str>,
}

/// An `m=` section (RFC 8866 §5.14) with its media-level lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaDescription<'a> {
    /// `media`: `audio`, `video`, `message`, ...
    pub media: &'a str,
    /// Transport port; 0 rejects or disables the stream.
    pub port: u16,
    /// The optional `/<number of ports>`.
    pub port_count: Option<u32>,
    /// `proto`: `RTP/AVP`, `TCP/MSRP`, `TCP/TLS/MSRP`, ...
    pub proto: &'a str,
    /// `fmt` list: RTP payload types, or `*` for MSRP.
    pub formats: Vec<&'a str>,
    /// Media-level `i=`.
    pub information: Option<&'a str>,
    /// Media-level `c=` lines (several only for layered multicast).
    pub connections: Vec<Connection<'a>>,
    /// Media-level `b=` lines.
    pub bandwidths: Vec<Bandwidth<'a>>,
    /// Media-level `k=` (obsolete).
    pub key: Option<&'a str>,
    /// Media-level `a=` lines, in order.
    pub attributes: Vec<Attribute<'a>>,
}

/// Attribute lookups shared by the session and media levels.
fn find_attr<'a>(attrs: &[Attribute<'a>], name: &str) -> Option<Attribute<'a>> {
    attrs.iter().find(|a| a.name == name).copied()
}

fn own_direction(attrs: &[Attribute<'_>]) -> Option<Direction> {
    attrs
        .iter()
        .find_map(|a| Direction::from_name(a.name).filter(|_| a.value.is_none()))
}

impl<'a> SessionDescription<'a> {
    /// The first session-level attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<Attribute<'a>> {
        find_attr(&self.attributes, name)
    }

    /// The connection a media stream uses: its own first `c=`, else the session's (RFC 8866
    /// §5.7).
    pub fn connection_for<'s>(
        &'s self,
        media: &'s MediaDescription<'a>,
    ) -> Option<&'s Connection<'a>> {
        media.connections.first().or(self.connection.as_ref())
    }

    /// The session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        own_direction(&self.attributes)
    }

    /// A media stream's direction: its own attribute, else the session's, else `sendrecv`
    /// (RFC 8866 §6.7).
    pub fn direction_of(&self, media: &MediaDescription<'a>) -> Direction {
        media
            .direction()
            .or_else(|| self.direction())
            .unwrap_or(Direction::SendRecv)
    }
}

impl<'a> MediaDescription<'a> {
    /// The first media-level attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<Attribute<'a>> {
        find_attr(&self.attributes, name)
    }

    /// All media-level attributes called `name`.
    pub fn attributes_named<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = Attribute<'a>> + 's {
        self.attributes
            .iter()
            .filter(move |a| a.name == name)
            .copied()
    }

    /// The media-level direction attribute, without inheritance.
    pub fn direction(&self) -> Option<Direction> {
        own_direction(&self.attributes)
    }

    /// Whether this is an MSRP stream: `TCP/MSRP` or `TCP/TLS/MSRP` (RFC 4975 §8.1).
    pub fn is_msrp(&self) -> bool {
        self.proto.eq_ignore_ascii_case("TCP/MSRP")
            || self.proto.eq_ignore_ascii_case("TCP/TLS/MSRP")
    }

    /// Every `a=rtpmap`, parsed; errors are relative to the attribute value.
    pub fn rtpmaps(&self) -> impl Iterator<Item = Result<RtpMap<'a>, ParseError>> + '_ {
        self.attributes_named("rtpmap")
            .map(|a| RtpMap::parse(a.value.unwrap_or("")))
    }

    /// The `a=rtpmap` for one payload type, if present and well formed.
    pub fn rtpmap_for(&self, pt: &str) -> Option<RtpMap<'a>> {
        self.rtpmaps()
            .filter_map(Result::ok)
            .find(|m| m.payload_type.to_string() == pt)
    }

    /// Every `a=fmtp`, parsed.
    pub fn fmtps(&self) -> impl Iterator<Item = Result<Fmtp<'a>, ParseError>> + '_ {
        self.attributes_named("fmtp")
            .map(|a| Fmtp::parse(a.value.unwrap_or("")))
    }

    /// `a=path` as a list of MSRP URIs, still unparsed (RFC 4975 §8.2).
    pub fn path(&self) -> Option<Result<Vec<&'a str>, ParseError>> {
        self.attribute("path")
            .map(|a| attr::parse_path(a.value.unwrap_or("")))
    }

    /// `a=accept-types` (RFC 4975 §8.6).
    pub fn accept_types(&self) -> Option<Result<Vec<AcceptType<'a>>, ParseError>> {
        self.attribute("accept-types")
            .map(|a| attr::parse_format_list(a.value.unwrap_or("")))
    }

    /// `a=accept-wrapped-types` (RFC 4975 §8.6).
    pub fn accept_wrapped_types(&self) -> Option<Result<Vec<AcceptType<'a>>, ParseError>> {
        self.attribute("accept-wrapped-types")
            .map(|a| attr::parse_format_list(a.value.unwrap_or("")))
    }

    /// `a=max-size` in octets (RFC 4975 §8.6).
    pub fn max_size(&self) -> Option<Result<u64, ParseError>> {
        self.attribute("max-size")
            .map(|a| attr::parse_max_size(a.value.unwrap_or("")))
    }

    /// `a=setup` (RFC 4145 §4, RFC 6135 §4.2).
    pub fn setup(&self) -> Option<Result<Setup, ParseError>> {
        self.attribute("setup")
            .map(|a| Setup::parse(a.value.unwrap_or("")))
    }

    /// `a=connection` (RFC 4145 §5).
    pub fn connection_mode(&self) -> Option<Result<ConnectionMode, ParseError>> {
        self.attribute("connection")
            .map(|a| ConnectionMode::parse(a.value.unwrap_or("")))
    }

    /// `a=file-selector` (RFC 5547 §6).
    pub fn file_selector(&self) -> Option<Result<FileSelector<'a>, ParseError>> {
        self.attribute("file-selector")
            .map(|a| FileSelector::parse(a.value))
    }

    /// `a=file-selector` read by an endpoint: `size:0` is taken with a warning (see
    /// [`FileSelector::parse_tolerant`]).
    pub fn file_selector_tolerant(
        &self,
    ) -> Option<Result<(FileSelector<'a>, Option<ParseError>), ParseError>> {
        self.attribute("file-selector")
            .map(|a| FileSelector::parse_tolerant(a.value))
    }

    /// `a=file-transfer-id` (RFC 5547 §6).
    pub fn file_transfer_id(&self) -> Option<Result<&'a str, ParseError>> {
        self.attribute("file-transfer-id")
            .map(|a| attr::parse_token_value(a.value.unwrap_or(""), "sdp.file-transfer-id.syntax"))
    }

    /// `a=file-disposition` (RFC 5547 §6).
    pub fn file_disposition(&self) -> Option<Result<&'a str, ParseError>> {
        self.attribute("file-disposition")
            .map(|a| attr::parse_token_value(a.value.unwrap_or(""), "sdp.file-disposition.syntax"))
    }

    /// `a=file-date` (RFC 5547 §6).
    pub fn file_date(&self) -> Option<Result<Vec<FileDate<'a>>, ParseError>> {
        self.attribute("file-date")
            .map(|a| attr::parse_file_date(a.value.unwrap_or("")))
    }

    /// `a=file-range` (RFC 5547 §6).
    pub fn file_range(&self) -> Option<Result<FileRange, ParseError>> {
        self.attribute("file-range")
            .map(|a| FileRange::parse(a.value.unwrap_or("")))
    }

    /// `a=file-icon`, a `cid:` URL (RFC 5547 §6).
    pub fn file_icon(&self) -> Option<Result<&'a str, ParseError>> {
        self.attribute("file-icon")
            .map(|a| attr::parse_file_icon(a.value.unwrap_or("")))
    }
}

/// Parse a whole session description with the default options (strict grammar, bare LF
/// tolerated as RFC 8866 §5 recommends). Returns the first error.
pub fn parse(buf: &[u8]) -> Result<SessionDescription<'_>, ParseError> {
    parse_with(buf, ParseOptions::default())
}

/// Parse with explicit leniencies. Returns the first error, with its byte offset in `buf`.
pub fn parse_with(buf: &[u8], opts: ParseOptions) -> Result<SessionDescription<'_>, ParseError> {
    parse::parse_strict(buf, opts).map_err(|mut e| {
        // An error "at the end" of a truncated body (`v=`) must not point past the buffer.
        e.offset = e.offset.min(buf.len());
        e.len = e.len.min(buf.len() - e.offset);
        e
    })
}
