//! The line grammar and line order of RFC 8866 §5/§9. One walker serves both `parse` (stop at
//! the first error) and `lint` (collect every finding and keep going), so the two can never
//! disagree about what is valid.

use super::{
    Attribute, Bandwidth, Connection, MediaDescription, Origin, ParseOptions, Repeat,
    SessionDescription, TimeDescription, ZoneAdjustment,
};
use crate::proto::error::{Repeats, count_code};
use crate::proto::{Finding, ParseError};
use std::net::{Ipv4Addr, Ipv6Addr};

pub(super) const RFC_GRAMMAR: &str = "RFC 8866 §9";
const RFC_ORDER: &str = "RFC 8866 §5";

/// `token-char` of RFC 8866 §9; wider than the SIP token (it adds `# $ & ^ { | }`).
pub(super) const fn is_sdp_token(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'{' | b'|' | b'}' | b'~')
}

/// `token = 1*(token-char)`.
pub(super) fn is_token_str(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_sdp_token)
}

pub(super) fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `non-ws-string = 1*(VCHAR/%x80-FF)`.
fn is_non_ws(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b > 0x20 && b != 0x7f)
}

/// An error at `off..off+len` of a field value (the caller shifts it into the buffer).
pub(super) fn err(
    code: &'static str,
    msg: impl Into<String>,
    off: usize,
    len: usize,
) -> ParseError {
    ParseError::new(code, msg, off, len.max(1), RFC_GRAMMAR)
}

/// Offset of `part` inside `whole` (both `&str`s from the same value).
pub(super) fn pos(whole: &str, part: &str) -> usize {
    crate::proto::error::offset_in(whole.as_bytes(), part.as_bytes()).unwrap_or(0)
}

/// Collects findings; in strict mode the first error stops the walk.
struct Sink<'f> {
    out: Option<&'f mut Vec<Finding>>,
    /// Bounds how many findings of one code are stored (a body of a million bad lines).
    repeats: Repeats,
}

impl Sink<'_> {
    fn error(&mut self, e: ParseError) -> Result<(), ParseError> {
        match &mut self.out {
            Some(v) => {
                let stored = count_code(v.iter().map(|f| &f.error), e.code);
                if self.repeats.admit(e.code, stored) {
                    v.push(Finding::error(e));
                }
                Ok(())
            }
            None => Err(e),
        }
    }

    fn warning(&mut self, e: ParseError) {
        if let Some(v) = &mut self.out {
            let stored = count_code(v.iter().map(|f| &f.error), e.code);
            if self.repeats.admit(e.code, stored) {
                v.push(Finding::warning(e));
            }
        }
    }

    /// Say on the findings kept how many like them were not.
    fn finish(self) {
        if let Some(v) = self.out {
            self.repeats.annotate(v.iter_mut().map(|f| &mut f.error));
        }
    }
}

pub(super) fn parse_strict(
    buf: &[u8],
    opts: ParseOptions,
) -> Result<SessionDescription<'_>, ParseError> {
    walk(
        buf,
        opts,
        &mut Sink {
            out: None,
            repeats: Repeats::default(),
        },
    )
}

/// Walk with every leniency on, reporting each one used as a warning and every grammar or order
/// problem as an error. Returns what could be understood.
pub(super) fn parse_collect<'a>(buf: &'a [u8], out: &mut Vec<Finding>) -> SessionDescription<'a> {
    let opts = ParseOptions {
        allow_bare_lf: true,
        allow_missing_final_eol: false,
        trim_trailing_whitespace: true,
        // validate reports it: the grammar has no brackets.
        allow_bracketed_origin_ipv6: false,
    };
    let mut sink = Sink {
        out: Some(out),
        repeats: Repeats::default(),
    };
    // Cannot fail: a collecting sink never returns Err.
    let sd = walk(buf, opts, &mut sink).unwrap_or_default();
    sink.finish();
    sd
}

/// One line of the description: where it starts, its type letter and its value.
struct Line<'a> {
    start: usize,
    /// Length of the line without its terminator.
    len: usize,
    ty: u8,
    value: &'a str,
    /// Offset of `value` in the buffer.
    value_off: usize,
}

/// Where in the RFC 8866 §5 sequence the walk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Session,
    Media,
}

/// Rank of a session-level line type in the mandated order, and whether it may repeat.
fn session_rank(ty: u8) -> Option<(u8, bool)> {
    Some(match ty {
        b'v' => (0, false),
        b'o' => (1, false),
        b's' => (2, false),
        b'i' => (3, false),
        b'u' => (4, false),
        b'e' => (5, true),
        b'p' => (6, true),
        b'c' => (7, false),
        b'b' => (8, true),
        b't' | b'r' | b'z' => (9, true),
        b'k' => (10, false),
        b'a' => (11, true),
        _ => return None,
    })
}

/// Rank of a media-level line type (after `m=`, which is rank 0).
fn media_rank(ty: u8) -> Option<(u8, bool)> {
    Some(match ty {
        b'i' => (1, false),
        b'c' => (2, true),
        b'b' => (3, true),
        b'k' => (4, false),
        b'a' => (5, true),
        _ => return None,
    })
}

const KNOWN_TYPES: &[u8] = b"vosiuepcbtrzkam";

/// Text fields keep trailing whitespace: it is part of their value (RFC 8866 §5).
fn is_text_type(ty: u8) -> bool {
    matches!(ty, b's' | b'i')
}

// session-description = version-field origin-field session-name-field [information-field]
//     [uri-field] *email-field *phone-field [connection-field] *bandwidth-field
//     1*time-description [key-field] *attribute-field *media-description
fn walk<'a>(
    buf: &'a [u8],
    opts: ParseOptions,
    sink: &mut Sink<'_>,
) -> Result<SessionDescription<'a>, ParseError> {
    let mut sd = SessionDescription::default();
    if buf.is_empty() {
        sink.error(ParseError::new(
            "sdp.empty",
            "expected a session description, found an empty body",
            0,
            0,
            RFC_ORDER,
        ))?;
        return Ok(sd);
    }
    let mut level = Level::Session;
    // Rank of the last line in the mandated order; -1 before v=.
    let mut rank: i16 = -1;
    let mut last_ty: u8 = 0;
    // v, o, s, t seen (or reported missing).
    let mut mandatory = [false; 4];
    let mut at = 0usize;
    let mut lf_warned = false;
    while at < buf.len() {
        let rest = &buf[at..];
        let (content_len, next) = match memchr::memchr(b'\n', rest) {
            Some(nl) => {
                if nl > 0 && rest[nl - 1] == b'\r' {
                    (nl - 1, at + nl + 1)
                } else {
                    let e = ParseError::new(
                        "sdp.line.bare-lf",
                        "expected CRLF at the end of the line, found a bare LF",
                        at + nl,
                        1,
                        RFC_ORDER,
                    );
                    if opts.allow_bare_lf {
                        // One warning per body: a file saved with LF endings has them all.
                        if !lf_warned {
                            lf_warned = true;
                            sink.warning(e);
                        }
                    } else {
                        sink.error(e)?;
                    }
                    (nl, at + nl + 1)
                }
            }
            None => {
                let e = ParseError::new(
                    "sdp.line.unterminated",
                    "expected CRLF at the end of the last line, found the end of the body",
                    buf.len(),
                    0,
                    RFC_GRAMMAR,
                );
                if !opts.allow_missing_final_eol {
                    sink.error(e)?;
                }
                (rest.len(), buf.len())
            }
        };
        let start = at;
        at = next;
        let raw = &buf[start..start + content_len];
        if let Some(i) = memchr::memchr2(0, b'\r', raw) {
            sink.error(err(
                "sdp.line.char",
                "expected any byte but NUL, CR or LF inside a line, found a control byte",
                start + i,
                1,
            ))?;
            continue;
        }
        if raw.len() < 2 || raw[1] != b'=' {
            sink.error(err(
                "sdp.line.syntax",
                "expected a line of the form <type>=<value>",
                start,
                raw.len(),
            ))?;
            continue;
        }
        let ty = raw[0];
        if !KNOWN_TYPES.contains(&ty) {
            sink.error(ParseError::new(
                "sdp.line.unknown-type",
                format!(
                    "unknown line type {:?}; the set of types is not extensible",
                    char::from(ty)
                ),
                start,
                1,
                RFC_ORDER,
            ))?;
            continue;
        }
        let mut value = match std::str::from_utf8(&raw[2..]) {
            Ok(v) => v,
            Err(e) => {
                sink.error(err(
                    "sdp.line.utf8",
                    "expected UTF-8 text, found an invalid byte sequence",
                    start + 2 + e.valid_up_to(),
                    1,
                ))?;
                continue;
            }
        };
        // Most lines end in neither: skip the pattern search for them.
        let trimmed = match value.as_bytes().last() {
            Some(b' ' | b'\t') => value.trim_end_matches([' ', '\t']),
            _ => value,
        };
        let single_space_name = ty == b's' && value == " ";
        if trimmed.len() != value.len() && !single_space_name {
            let e = ParseError::new(
                "sdp.line.trailing-whitespace",
                "trailing whitespace at the end of the line",
                start + 2 + trimmed.len(),
                value.len() - trimmed.len(),
                RFC_GRAMMAR,
            );
            sink.warning(e);
            if opts.trim_trailing_whitespace && !is_text_type(ty) {
                value = trimmed;
            }
        }
        let line = Line {
            start,
            len: raw.len(),
            ty,
            value,
            value_off: start + 2,
        };

        // Order (RFC 8866 §5): v first, then the session lines in their order, then media.
        if ty == b'm' {
            check_mandatory(&mut mandatory, 4, &line, sink)?;
            level = Level::Media;
            rank = 0;
        } else {
            let r = match level {
                Level::Session => session_rank(ty),
                Level::Media => media_rank(ty),
            };
            match r {
                Some((r, repeat)) => {
                    let r = i16::from(r);
                    if r < rank || (r == rank && !repeat) {
                        sink.error(order_error(&line, last_ty, level))?;
                    } else if ty == b'r' && !matches!(last_ty, b't' | b'r') {
                        sink.error(ParseError::new(
                            "sdp.line.order",
                            "expected r= right after t= or another r=",
                            start,
                            line.len,
                            RFC_ORDER,
                        ))?;
                    } else if ty == b'z' && !matches!(last_ty, b't' | b'r') {
                        sink.error(ParseError::new(
                            "sdp.line.order",
                            "expected z= right after the t= or r= lines of its time description",
                            start,
                            line.len,
                            RFC_ORDER,
                        ))?;
                    }
                    if level == Level::Session {
                        // Which of v, o, s, t must already have been seen.
                        let need = match r {
                            0 => 0,
                            1 => 1,
                            2 => 2,
                            3..=9 => 3,
                            _ => 4,
                        };
                        check_mandatory(&mut mandatory, need, &line, sink)?;
                    }
                    rank = rank.max(r);
                }
                None => {
                    sink.error(ParseError::new(
                        "sdp.line.order",
                        format!(
                            "{}= is a session-level line and cannot appear inside a media description",
                            char::from(ty)
                        ),
                        start,
                        line.len,
                        RFC_ORDER,
                    ))?;
                    last_ty = ty;
                    continue;
                }
            }
        }
        last_ty = ty;
        store(&mut sd, level, &line, sink, opts)?;
    }
    check_mandatory(
        &mut mandatory,
        4,
        &Line {
            start: buf.len(),
            len: 0,
            ty: 0,
            value: "",
            value_off: buf.len(),
        },
        sink,
    )?;
    Ok(sd)
}

fn order_error(line: &Line<'_>, last_ty: u8, level: Level) -> ParseError {
    let where_ = match level {
        Level::Session => "session",
        Level::Media => "media",
    };
    let msg = if last_ty == line.ty {
        format!(
            "{}= may appear only once in the {where_} section",
            char::from(line.ty)
        )
    } else {
        format!(
            "{}= is out of order: it must come before {}= in the {where_} section",
            char::from(line.ty),
            char::from(last_ty)
        )
    };
    ParseError::new(
        "sdp.line.order",
        msg,
        line.start,
        line.len.max(1),
        RFC_ORDER,
    )
}

/// Report each of v=, o=, s=, t= (the first `upto`) that has not been seen yet, once.
fn check_mandatory(
    seen: &mut [bool; 4],
    upto: usize,
    line: &Line<'_>,
    sink: &mut Sink<'_>,
) -> Result<(), ParseError> {
    const NAMES: [&str; 4] = ["v=", "o=", "s=", "t="];
    let own = match line.ty {
        b'v' => Some(0),
        b'o' => Some(1),
        b's' => Some(2),
        b't' => Some(3),
        _ => None,
    };
    for i in 0..upto.min(4) {
        if !seen[i] && own != Some(i) {
            seen[i] = true;
            let found = if line.ty == 0 {
                "the end of the description".to_string()
            } else {
                format!("{}=", char::from(line.ty))
            };
            sink.error(ParseError::new(
                "sdp.line.missing",
                format!("missing mandatory {} line before {found}", NAMES[i]),
                line.start,
                line.len,
                RFC_ORDER,
            ))?;
        }
    }
    if let Some(i) = own {
        seen[i] = true;
    }
    Ok(())
}

/// Parse one line's value and put it into the description.
fn store<'a>(
    sd: &mut SessionDescription<'a>,
    level: Level,
    line: &Line<'a>,
    sink: &mut Sink<'_>,
    opts: ParseOptions,
) -> Result<(), ParseError> {
    let v = line.value;
    let shift = |e: ParseError| e.shifted(line.value_off);
    let media = match level {
        Level::Media => sd.media.last_mut(),
        Level::Session => None,
    };
    match line.ty {
        b'v' => match parse_version(v) {
            Ok(()) => sd.version = v,
            Err(e) => sink.error(shift(e))?,
        },
        b'o' => match parse_origin(v, opts.allow_bracketed_origin_ipv6) {
            Ok(o) => sd.origin = o,
            Err(e) => sink.error(shift(e))?,
        },
        b's' => {
            if v.is_empty() {
                sink.warning(ParseError::new(
                    "sdp.session-name.empty",
                    "empty session name; use a single space (s= ) when there is no name",
                    line.start,
                    line.len,
                    "RFC 8866 §5.3",
                ));
            }
            sd.session_name = v;
        }
        b'i' => match media {
            Some(m) => m.information = Some(v),
            None => sd.information = Some(v),
        },
        b'u' => {
            if v.is_empty() || v.bytes().any(|b| b == b' ') {
                sink.error(shift(err(
                    "sdp.uri.syntax",
                    "expected a URI without spaces",
                    0,
                    v.len(),
                )))?;
            }
            sd.uri = Some(v);
        }
        b'e' => {
            if !v.contains('@') {
                sink.error(shift(err(
                    "sdp.email.syntax",
                    "expected an email address (addr-spec with @)",
                    0,
                    v.len(),
                )))?;
            }
            sd.emails.push(v);
        }
        b'p' => {
            if !v.bytes().any(|b| b.is_ascii_digit()) {
                sink.error(shift(err(
                    "sdp.phone.syntax",
                    "expected a phone number with digits",
                    0,
                    v.len(),
                )))?;
            }
            sd.phones.push(v);
        }
        b'c' => match parse_connection(v) {
            Ok(c) => match media {
                Some(m) => m.connections.push(c),
                None => sd.connection = Some(c),
            },
            Err(e) => sink.error(shift(e))?,
        },
        b'b' => match parse_bandwidth(v) {
            Ok(b) => match media {
                Some(m) => m.bandwidths.push(b),
                None => sd.bandwidths.push(b),
            },
            Err(e) => sink.error(shift(e))?,
        },
        b't' => match parse_time(v) {
            Ok((start, stop)) => sd.times.push(TimeDescription {
                start,
                stop,
                ..TimeDescription::default()
            }),
            Err(e) => sink.error(shift(e))?,
        },
        b'r' => match parse_repeat(v) {
            Ok(r) => {
                if let Some(t) = sd.times.last_mut() {
                    t.repeats.push(r);
                }
            }
            Err(e) => sink.error(shift(e))?,
        },
        b'z' => match parse_zone(v) {
            Ok(z) => {
                if let Some(t) = sd.times.last_mut() {
                    t.zone = z;
                }
            }
            Err(e) => sink.error(shift(e))?,
        },
        b'k' => match parse_key(v) {
            Ok(()) => match media {
                Some(m) => m.key = Some(v),
                None => sd.key = Some(v),
            },
            Err(e) => sink.error(shift(e))?,
        },
        b'a' => match parse_attribute(v) {
            Ok(a) => match media {
                Some(m) => m.attributes.push(a),
                None => sd.attributes.push(a),
            },
            Err(e) => sink.error(shift(e))?,
        },
        b'm' => match parse_media(v) {
            Ok(m) => sd.media.push(m),
            Err(e) => {
                sink.error(shift(e))?;
                // Keep a placeholder so the lines that follow attach to this section.
                sd.media.push(MediaDescription::default());
            }
        },
        _ => {}
    }
    Ok(())
}

/// `version-field = %s"v" "=" 1*DIGIT CRLF` ("this memo describes version 0").
fn parse_version(v: &str) -> Result<(), ParseError> {
    if !all_digits(v) {
        return Err(err(
            "sdp.version.invalid",
            format!("expected 1*DIGIT, found {v:?}"),
            0,
            v.len(),
        ));
    }
    if v != "0" {
        return Err(err(
            "sdp.version.invalid",
            format!("expected protocol version 0, found {v}"),
            0,
            v.len(),
        ));
    }
    Ok(())
}

/// Split on single spaces, as every multi-field SDP line requires (`SP` in RFC 8866 §9); the
/// same pieces as `v.split(' ')`, kept inline (no line type has more than a handful of fields).
fn fields(v: &str) -> smallvec::SmallVec<[&str; 8]> {
    let mut out = smallvec::SmallVec::new();
    let mut start = 0;
    for i in memchr::memchr_iter(b' ', v.as_bytes()) {
        out.push(v.get(start..i).unwrap_or_default());
        start = i + 1;
    }
    out.push(v.get(start..).unwrap_or_default());
    out
}

// origin-field = %s"o" "=" username SP sess-id SP sess-version SP nettype SP addrtype SP
//                unicast-address CRLF
///
/// `bracketed_ok`: an IP6 `[address]`, as SIPp writes it, is taken (and kept as written).
pub(super) fn parse_origin(v: &str, bracketed_ok: bool) -> Result<Origin<'_>, ParseError> {
    const CODE: &str = "sdp.origin.syntax";
    let parts = fields(v);
    if parts.len() != 6 {
        return Err(err(
            CODE,
            format!(
                "expected 6 fields separated by single spaces (username sess-id sess-version nettype addrtype address), found {}",
                parts.len()
            ),
            0,
            v.len(),
        ));
    }
    let [username, sid, sver, nettype, addrtype, addr] =
        [parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]];
    if !is_non_ws(username) {
        return Err(err(
            CODE,
            "expected a username of visible characters",
            pos(v, username),
            username.len(),
        ));
    }
    for (name, f) in [("sess-id", sid), ("sess-version", sver)] {
        if !all_digits(f) {
            return Err(err(
                CODE,
                format!("expected {name} as 1*DIGIT, found {f:?}"),
                pos(v, f),
                f.len(),
            ));
        }
    }
    check_nettype_addrtype(v, nettype, addrtype, CODE)?;
    let bracketed = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .filter(|a| bracketed_ok && addrtype == "IP6" && a.parse::<Ipv6Addr>().is_ok());
    if bracketed.is_none() {
        check_address(v, addrtype, addr, false, CODE)?;
    }
    Ok(Origin {
        username,
        session_id: sid,
        session_version: sver,
        net_type: nettype,
        addr_type: addrtype,
        address: addr,
    })
}

fn check_nettype_addrtype(
    v: &str,
    nettype: &str,
    addrtype: &str,
    code: &'static str,
) -> Result<(), ParseError> {
    for (name, f) in [("nettype", nettype), ("addrtype", addrtype)] {
        if !is_token_str(f) {
            return Err(err(
                code,
                format!("expected {name} as a token, found {f:?}"),
                pos(v, f),
                f.len(),
            ));
        }
    }
    Ok(())
}

// unicast-address = IP4-address / IP6-address / FQDN / extn-addr
// multicast-address = IP4-multicast / IP6-multicast / FQDN / extn-addr
// IP4-multicast = m1 3( "." decimal-uchar ) "/" ttl [ "/" numaddr ]
// IP6-multicast = IP6-address [ "/" numaddr ]
// FQDN = 4*(alpha-numeric / "-" / ".")
fn check_address(
    v: &str,
    addrtype: &str,
    addr: &str,
    multicast_ok: bool,
    code: &'static str,
) -> Result<(), ParseError> {
    let at = pos(v, addr);
    let bad = |msg: String| Err(err(code, msg, at, addr.len()));
    let is_fqdn = |s: &str| {
        s.len() >= 4
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    let mut parts = addr.split('/');
    let host = parts.next().unwrap_or("");
    let suffix: smallvec::SmallVec<[&str; 4]> = parts.collect();
    match addrtype {
        "IP4" => {
            let ip = host.parse::<Ipv4Addr>().ok();
            if suffix.is_empty() {
                if ip.is_none() && !is_fqdn(host) {
                    return bad(format!(
                        "expected an IPv4 address or domain name, found {addr:?}"
                    ));
                }
                if ip.is_some_and(|ip| ip.is_multicast()) && multicast_ok {
                    return bad("expected /ttl after an IPv4 multicast address".into());
                }
                return Ok(());
            }
            let Some(ip) = ip else {
                return bad(format!(
                    "expected an IPv4 multicast address before '/', found {host:?}"
                ));
            };
            if !multicast_ok || !ip.is_multicast() {
                return bad("only IPv4 multicast addresses in c= take a /ttl suffix".into());
            }
            let ttl_ok = suffix.first().is_some_and(|t| {
                all_digits(t) && t.parse::<u8>().is_ok() && (t.len() == 1 || !t.starts_with('0'))
            });
            let num_ok = suffix
                .get(1)
                .is_none_or(|n| all_digits(n) && !n.starts_with('0'));
            if !ttl_ok || !num_ok || suffix.len() > 2 {
                return bad("expected <ip>/<ttl 0-255>[/<number of addresses>]".into());
            }
            Ok(())
        }
        "IP6" => {
            let ip = host.parse::<Ipv6Addr>().ok();
            if ip.is_none() && !(suffix.is_empty() && is_fqdn(host)) {
                return bad(format!(
                    "expected an IPv6 address or domain name, found {addr:?}"
                ));
            }
            if !suffix.is_empty() {
                let ok = multicast_ok
                    && ip.is_some_and(|ip| ip.is_multicast())
                    && suffix.len() == 1
                    && suffix
                        .first()
                        .is_some_and(|n| all_digits(n) && !n.starts_with('0'));
                if !ok {
                    return bad(
                        "only IPv6 multicast addresses in c= take a /<number of addresses> suffix"
                            .into(),
                    );
                }
            }
            Ok(())
        }
        _ => {
            if !is_non_ws(addr) {
                return bad("expected an address of visible characters".into());
            }
            Ok(())
        }
    }
}

// connection-field = %s"c" "=" nettype SP addrtype SP connection-address CRLF
pub(super) fn parse_connection(v: &str) -> Result<Connection<'_>, ParseError> {
    const CODE: &str = "sdp.connection.syntax";
    let parts = fields(v);
    if parts.len() != 3 {
        return Err(err(
            CODE,
            format!(
                "expected 3 fields separated by single spaces (nettype addrtype address), found {}",
                parts.len()
            ),
            0,
            v.len(),
        ));
    }
    let (nettype, addrtype, addr) = (parts[0], parts[1], parts[2]);
    check_nettype_addrtype(v, nettype, addrtype, CODE)?;
    check_address(v, addrtype, addr, true, CODE)?;
    Ok(Connection {
        net_type: nettype,
        addr_type: addrtype,
        address: addr,
    })
}

// bandwidth-field = %s"b" "=" bwtype ":" bandwidth CRLF ; bwtype = token ; bandwidth = 1*DIGIT
fn parse_bandwidth(v: &str) -> Result<Bandwidth<'_>, ParseError> {
    const CODE: &str = "sdp.bandwidth.syntax";
    let Some((ty, bw)) = v.split_once(':') else {
        return Err(err(CODE, "expected <bwtype>:<bandwidth>", 0, v.len()));
    };
    if !is_token_str(ty) {
        return Err(err(
            CODE,
            format!("expected bwtype as a token, found {ty:?}"),
            0,
            ty.len(),
        ));
    }
    let n = if all_digits(bw) {
        bw.parse::<u64>().ok()
    } else {
        None
    };
    match n {
        Some(bandwidth) => Ok(Bandwidth {
            bwtype: ty,
            bandwidth,
        }),
        None => Err(err(
            CODE,
            format!("expected bandwidth as a number, found {bw:?}"),
            ty.len() + 1,
            bw.len(),
        )),
    }
}

/// `time = POS-DIGIT 9*DIGIT`; `start-time = time / "0"`.
fn is_time_or_zero(s: &str) -> bool {
    s == "0" || is_time(s)
}

fn is_time(s: &str) -> bool {
    all_digits(s) && s.len() >= 10 && !s.starts_with('0')
}

/// `typed-time = 1*DIGIT [fixed-len-time-unit]`; `fixed-len-time-unit = "d" / "h" / "m" / "s"`.
fn is_typed_time(s: &str) -> bool {
    let digits = s.strip_suffix(['d', 'h', 'm', 's']).unwrap_or(s);
    all_digits(digits)
}

// time-field = %s"t" "=" start-time SP stop-time CRLF
fn parse_time(v: &str) -> Result<(&str, &str), ParseError> {
    const CODE: &str = "sdp.time.syntax";
    let parts = fields(v);
    if parts.len() != 2 {
        return Err(err(CODE, "expected <start-time> <stop-time>", 0, v.len()));
    }
    for p in &parts {
        if !is_time_or_zero(p) {
            return Err(err(
                CODE,
                format!("expected 0 or a 10+ digit NTP time, found {p:?}"),
                pos(v, p),
                p.len(),
            ));
        }
    }
    Ok((parts[0], parts[1]))
}

// repeat-field = %s"r" "=" repeat-interval SP typed-time 1*(SP typed-time) CRLF
// repeat-interval = POS-DIGIT *DIGIT [fixed-len-time-unit]
fn parse_repeat(v: &str) -> Result<Repeat<'_>, ParseError> {
    const CODE: &str = "sdp.repeat.syntax";
    let parts = fields(v);
    if parts.len() < 3 {
        return Err(err(
            CODE,
            "expected <interval> <duration> <offset>...",
            0,
            v.len(),
        ));
    }
    for (i, p) in parts.iter().enumerate() {
        let ok = is_typed_time(p) && !(i == 0 && p.starts_with('0'));
        if !ok {
            return Err(err(
                CODE,
                format!("expected a typed time like 7d or 3600, found {p:?}"),
                pos(v, p),
                p.len(),
            ));
        }
    }
    Ok(Repeat {
        interval: parts[0],
        duration: parts[1],
        offsets: parts[2..].to_vec(),
    })
}

// zone-field = %s"z" "=" time SP ["-"] typed-time *(SP time SP ["-"] typed-time) CRLF
fn parse_zone(v: &str) -> Result<Vec<ZoneAdjustment<'_>>, ParseError> {
    const CODE: &str = "sdp.zone.syntax";
    let parts = fields(v);
    if parts.len() % 2 != 0 {
        return Err(err(
            CODE,
            "expected pairs of <adjustment time> <offset>",
            0,
            v.len(),
        ));
    }
    let mut out = Vec::with_capacity(parts.len() / 2);
    for pair in parts.chunks_exact(2) {
        let (time, offset) = (pair[0], pair[1]);
        if !is_time(time) {
            return Err(err(
                CODE,
                format!("expected a 10+ digit NTP time, found {time:?}"),
                pos(v, time),
                time.len(),
            ));
        }
        if !is_typed_time(offset.strip_prefix('-').unwrap_or(offset)) {
            return Err(err(
                CODE,
                format!("expected an offset like -1h, found {offset:?}"),
                pos(v, offset),
                offset.len(),
            ));
        }
        out.push(ZoneAdjustment { time, offset });
    }
    Ok(out)
}

// key-type = %s"prompt" / %s"clear:" text / %s"base64:" base64 / %s"uri:" uri
fn parse_key(v: &str) -> Result<(), ParseError> {
    const CODE: &str = "sdp.key.syntax";
    if v == "prompt" {
        return Ok(());
    }
    if let Some(t) = v.strip_prefix("clear:").or_else(|| v.strip_prefix("uri:")) {
        if !t.is_empty() {
            return Ok(());
        }
    }
    if let Some(b) = v.strip_prefix("base64:") {
        let chars_ok = b
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=');
        let pad = b.len() - b.trim_end_matches('=').len();
        if chars_ok && b.len() % 4 == 0 && pad <= 2 && !b.trim_end_matches('=').contains('=') {
            return Ok(());
        }
        return Err(err(CODE, "expected base64 key data", 7, b.len()));
    }
    Err(err(
        CODE,
        "expected prompt, clear:<key>, base64:<key> or uri:<uri>",
        0,
        v.len(),
    ))
}

// attribute = (attribute-name ":" attribute-value) / attribute-name
// attribute-name = token ; attribute-value = byte-string
pub(super) fn parse_attribute(v: &str) -> Result<Attribute<'_>, ParseError> {
    const CODE: &str = "sdp.attribute.syntax";
    let (name, value) = match v.split_once(':') {
        Some((n, val)) => (n, Some(val)),
        None => (v, None),
    };
    if !is_token_str(name) {
        return Err(err(
            CODE,
            format!("expected an attribute name (token), found {name:?}"),
            0,
            name.len(),
        ));
    }
    if value == Some("") {
        return Err(err(CODE, "expected a value after ':'", name.len(), 1));
    }
    Ok(Attribute { name, value })
}

// media-field = %s"m" "=" media SP port ["/" integer] SP proto 1*(SP fmt) CRLF
// media = token ; port = 1*DIGIT ; proto = token *("/" token) ; fmt = token
pub(super) fn parse_media(v: &str) -> Result<MediaDescription<'_>, ParseError> {
    const CODE: &str = "sdp.media.syntax";
    let parts = fields(v);
    if parts.len() < 4 {
        return Err(err(
            CODE,
            "expected <media> <port> <proto> <fmt>...",
            0,
            v.len(),
        ));
    }
    let media = parts[0];
    if !is_token_str(media) {
        return Err(err(
            CODE,
            format!("expected media as a token, found {media:?}"),
            0,
            media.len(),
        ));
    }
    let port_field = parts[1];
    let (port_s, count_s) = match port_field.split_once('/') {
        Some((p, c)) => (p, Some(c)),
        None => (port_field, None),
    };
    let at = pos(v, port_field);
    if !all_digits(port_s) {
        return Err(err(
            CODE,
            format!("expected port as digits, found {port_s:?}"),
            at,
            port_s.len(),
        ));
    }
    let port = match port_s.parse::<u16>() {
        Ok(p) => p,
        Err(_) => {
            return Err(ParseError::new(
                "sdp.media.port",
                format!("port {port_s} is out of range 0-65535"),
                at,
                port_s.len(),
                "RFC 8866 §5.14",
            ));
        }
    };
    let port_count = match count_s {
        None => None,
        Some(c) => match c.parse::<u32>() {
            Ok(n) if all_digits(c) && !c.starts_with('0') => Some(n),
            _ => {
                return Err(err(
                    CODE,
                    format!("expected a port count (integer), found {c:?}"),
                    at + port_s.len() + 1,
                    c.len(),
                ));
            }
        },
    };
    let proto = parts[2];
    if proto.split('/').any(|t| !is_token_str(t)) {
        return Err(err(
            CODE,
            format!("expected proto as token *(\"/\" token), found {proto:?}"),
            pos(v, proto),
            proto.len(),
        ));
    }
    let formats = parts[3..].to_vec();
    for f in &formats {
        if !is_token_str(f) {
            return Err(err(
                CODE,
                format!("expected fmt as a token, found {f:?}"),
                pos(v, f),
                f.len(),
            ));
        }
    }
    Ok(MediaDescription {
        media,
        port,
        port_count,
        proto,
        formats,
        ..MediaDescription::default()
    })
}
