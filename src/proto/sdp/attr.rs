//! Typed readers for the attribute values MSRP sessions depend on. They run on demand, not
//! during `parse`, because RFC 8866 §5.13 says an attribute a parser does not understand must be
//! ignored: a malformed `a=file-selector` should not make an audio-only consumer reject the
//! whole description. Error offsets are relative to the start of the attribute value.

use super::parse::{all_digits, err, is_sdp_token, is_token_str, pos};
use crate::proto::ParseError;
use std::borrow::Cow;

fn rfc(mut e: ParseError, rfc: &'static str) -> ParseError {
    e.rfc = rfc;
    e
}

fn parse_u64(s: &str) -> Option<u64> {
    if all_digits(s) { s.parse().ok() } else { None }
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpMap<'a> {
    /// 0-127 (a 7-bit RTP field).
    pub payload_type: u8,
    /// `PCMU`, `telephone-event`, ...
    pub encoding: &'a str,
    /// Hz.
    pub clock_rate: u32,
    /// Channels for audio.
    pub params: Option<&'a str>,
}

impl<'a> RtpMap<'a> {
    // rtpmap-value = payload-type SP encoding-name "/" clock-rate [ "/" encoding-params ]
    // payload-type = zero-based-integer ; encoding-name = token ; clock-rate = integer
    // encoding-params = channels ; channels = integer
    /// Parse an `a=rtpmap` value (RFC 8866 §6.6).
    pub fn parse(v: &'a str) -> Result<Self, ParseError> {
        const CODE: &str = "sdp.rtpmap.syntax";
        let r = |e| rfc(e, "RFC 8866 §6.6");
        let Some((pt, rest)) = v.split_once(' ') else {
            return Err(r(err(
                CODE,
                "expected <payload type> <encoding>/<clock rate>",
                0,
                v.len(),
            )));
        };
        let payload_type = match pt.parse::<u8>() {
            Ok(n) if all_digits(pt) && n <= 127 && (pt == "0" || !pt.starts_with('0')) => n,
            _ => {
                return Err(r(err(
                    CODE,
                    format!("expected a payload type 0-127, found {pt:?}"),
                    0,
                    pt.len(),
                )));
            }
        };
        let mut parts = rest.split('/');
        let encoding = parts.next().unwrap_or("");
        if !is_token_str(encoding) {
            return Err(r(err(
                CODE,
                format!("expected an encoding name, found {encoding:?}"),
                pos(v, encoding),
                encoding.len(),
            )));
        }
        let clock = parts.next().unwrap_or("");
        let clock_rate = match clock.parse::<u32>() {
            Ok(n) if all_digits(clock) && !clock.starts_with('0') => n,
            _ => {
                return Err(r(err(
                    CODE,
                    format!("expected a clock rate, found {clock:?}"),
                    pos(v, clock).max(pt.len() + 1),
                    clock.len(),
                )));
            }
        };
        let params = parts.next();
        if let Some(p) = params {
            if !all_digits(p) || p.starts_with('0') || parts.next().is_some() {
                return Err(r(err(
                    CODE,
                    format!("expected channels as an integer, found {p:?}"),
                    pos(v, p),
                    v.len() - pos(v, p),
                )));
            }
        }
        Ok(RtpMap {
            payload_type,
            encoding,
            clock_rate,
            params,
        })
    }
}

/// `a=fmtp:<format> <format specific parameters>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fmtp<'a> {
    /// The `fmt` of the m= line the parameters apply to.
    pub format: &'a str,
    /// Format-specific text, usually `key=value;key=value`.
    pub params: &'a str,
}

impl<'a> Fmtp<'a> {
    // fmtp-value = fmt SP format-specific-params ; format-specific-params = byte-string
    /// Parse an `a=fmtp` value (RFC 8866 §6.15).
    pub fn parse(v: &'a str) -> Result<Self, ParseError> {
        match v.split_once(' ') {
            Some((format, params)) if is_token_str(format) && !params.is_empty() => {
                Ok(Fmtp { format, params })
            }
            _ => Err(rfc(
                err(
                    "sdp.fmtp.syntax",
                    "expected <format> <parameters>",
                    0,
                    v.len(),
                ),
                "RFC 8866 §6.15",
            )),
        }
    }

    /// The `;`-separated parameters as `(name, value)`; a bare name has an empty value.
    pub fn pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.params
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, val)) => (k.trim(), val.trim()),
                None => (p, ""),
            })
    }
}

// path = path-label ":" path-list ; path-list = MSRP-URI *(SP MSRP-URI)
/// Split an `a=path` value into its URIs (RFC 4975 §8.2). Only the scheme is checked here; the
/// msrp module parses the URIs themselves.
pub(super) fn parse_path(v: &str) -> Result<Vec<&str>, ParseError> {
    let mut out = Vec::new();
    for uri in v.split(' ') {
        let scheme = uri.split_once("://").map(|(s, _)| s);
        let ok = scheme
            .is_some_and(|s| s.eq_ignore_ascii_case("msrp") || s.eq_ignore_ascii_case("msrps"));
        if !ok {
            return Err(rfc(
                err(
                    "sdp.msrp.path",
                    format!("expected an msrp:// or msrps:// URI, found {uri:?}"),
                    pos(v, uri),
                    uri.len(),
                ),
                "RFC 4975 §8.2",
            ));
        }
        out.push(uri);
    }
    Ok(out)
}

/// One `format-entry` of `a=accept-types` / `a=accept-wrapped-types` (RFC 4975 §8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptType<'a> {
    /// `*`: anything.
    Any,
    /// `type/subtype` or `type/*`, with the `;param=value` text kept as written.
    Type {
        /// The whole entry as written.
        raw: &'a str,
        /// Top-level type.
        ty: &'a str,
        /// Subtype, or `*`.
        subtype: &'a str,
        /// Parameters after the first `;`, without it.
        params: Option<&'a str>,
    },
}

impl<'a> AcceptType<'a> {
    /// The entry as written.
    pub fn as_str(&self) -> &'a str {
        match self {
            AcceptType::Any => "*",
            AcceptType::Type { raw, .. } => raw,
        }
    }

    /// Whether a concrete `type/subtype` is covered by this entry (case-insensitive, RFC 2045).
    pub fn matches(&self, ty: &str, subtype: &str) -> bool {
        match self {
            AcceptType::Any => true,
            AcceptType::Type {
                ty: t, subtype: s, ..
            } => t.eq_ignore_ascii_case(ty) && (*s == "*" || s.eq_ignore_ascii_case(subtype)),
        }
    }
}

// format-list = format-entry *( SP format-entry)
// format-entry = ( ( (type "/" subtype) / (type "/" "*") ) *( ";" type-param ) ) / ("*")
// type-param = parm-attribute "=" parm-value ; parm-value = token / quoted-string
/// Parse an `a=accept-types` or `a=accept-wrapped-types` value (RFC 4975 §8.6).
pub(super) fn parse_format_list(v: &str) -> Result<Vec<AcceptType<'_>>, ParseError> {
    const CODE: &str = "sdp.msrp.accept-types";
    let bad = |e: &str, msg: String| rfc(err(CODE, msg, pos(v, e), e.len()), "RFC 4975 §8.6");
    let mut out = Vec::new();
    for entry in split_sp_outside_quotes(v) {
        if entry == "*" {
            out.push(AcceptType::Any);
            continue;
        }
        let (mt, params) = match entry.split_once(';') {
            Some((m, p)) => (m, Some(p)),
            None => (entry, None),
        };
        let Some((ty, subtype)) = mt.split_once('/') else {
            return Err(bad(
                entry,
                format!("expected type/subtype, type/* or *, found {entry:?}"),
            ));
        };
        if !is_token_str(ty) || ty == "*" || !is_token_str(subtype) {
            return Err(bad(
                entry,
                format!("expected type/subtype, type/* or *, found {entry:?}"),
            ));
        }
        if let Some(p) = params {
            for param in p.split(';') {
                let ok = param.split_once('=').is_some_and(|(a, val)| {
                    is_token_str(a)
                        && (is_token_str(val)
                            || (val.len() >= 2 && val.starts_with('"') && val.ends_with('"')))
                });
                if !ok {
                    return Err(bad(
                        entry,
                        format!("expected ;attribute=value parameters, found {param:?}"),
                    ));
                }
            }
        }
        out.push(AcceptType::Type {
            raw: entry,
            ty,
            subtype,
            params,
        });
    }
    Ok(out)
}

/// Split on single spaces that are not inside a `"..."` (RFC 5547 quotes have no escapes; a
/// quote inside a name is percent-encoded).
fn split_sp_outside_quotes(v: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(v);
    std::iter::from_fn(move || {
        let s = rest?;
        let mut in_q = false;
        for (i, b) in s.bytes().enumerate() {
            match b {
                b'"' => in_q = !in_q,
                b' ' if !in_q => {
                    rest = s.get(i + 1..);
                    return s.get(..i);
                }
                _ => {}
            }
        }
        rest = None;
        Some(s)
    })
}

// max-size = max-size-label ":" max-size-value ; max-size-value = 1*(DIGIT)
pub(super) fn parse_max_size(v: &str) -> Result<u64, ParseError> {
    parse_u64(v).ok_or_else(|| {
        rfc(
            err(
                "sdp.msrp.max-size",
                format!("expected max-size in octets (1*DIGIT), found {v:?}"),
                0,
                v.len(),
            ),
            "RFC 4975 §8.6",
        )
    })
}

/// `a=setup` role (RFC 4145 §4): who opens the TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// We connect out.
    Active,
    /// We accept the connection.
    Passive,
    /// Either; only valid in offers (RFC 6135 §4.2.2 makes MSRP offers use it).
    ActPass,
    /// Not now.
    HoldConn,
}

impl Setup {
    // role = "active" / "passive" / "actpass" / "holdconn"
    /// Parse an `a=setup` value.
    pub fn parse(v: &str) -> Result<Self, ParseError> {
        Ok(match v {
            "active" => Setup::Active,
            "passive" => Setup::Passive,
            "actpass" => Setup::ActPass,
            "holdconn" => Setup::HoldConn,
            _ => {
                return Err(rfc(
                    err(
                        "sdp.setup.invalid",
                        format!("expected active, passive, actpass or holdconn, found {v:?}"),
                        0,
                        v.len(),
                    ),
                    "RFC 4145 §4",
                ));
            }
        })
    }

    /// The value as written in SDP.
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::ActPass => "actpass",
            Setup::HoldConn => "holdconn",
        }
    }

    /// The answerer's role for an offered role (RFC 4145 §4.1; RFC 6135 §4.2.2 prefers passive
    /// when the offer says actpass).
    pub fn answer(self) -> Setup {
        match self {
            Setup::Active => Setup::Passive,
            Setup::Passive => Setup::Active,
            Setup::ActPass => Setup::Passive,
            Setup::HoldConn => Setup::HoldConn,
        }
    }
}

/// `a=connection` (RFC 4145 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionMode {
    /// Open a new connection.
    New,
    /// Reuse the existing one.
    Existing,
}

impl ConnectionMode {
    // conn-value = "new" / "existing"
    /// Parse an `a=connection` value.
    pub fn parse(v: &str) -> Result<Self, ParseError> {
        match v {
            "new" => Ok(ConnectionMode::New),
            "existing" => Ok(ConnectionMode::Existing),
            _ => Err(rfc(
                err(
                    "sdp.connection-attr.invalid",
                    format!("expected new or existing, found {v:?}"),
                    0,
                    v.len(),
                ),
                "RFC 4145 §5",
            )),
        }
    }
}

/// Media direction (RFC 8866 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The direction named by an attribute name, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answer takes for this offered direction (RFC 3264 §6.1).
    pub fn reversed(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }
}

/// The `name:"..."` selector, still percent-encoded as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileName<'a>(pub &'a str);

impl<'a> FileName<'a> {
    /// The name as written, between the quotes.
    pub fn raw(&self) -> &'a str {
        self.0
    }

    /// The name with `%XX` escapes decoded; `None` when the result is not UTF-8 (RFC 5547 §6
    /// says the name is UTF-8). Borrowed when there is nothing to decode.
    pub fn decoded(&self) -> Option<Cow<'a, str>> {
        if !self.0.contains('%') {
            return Some(Cow::Borrowed(self.0));
        }
        let b = self.0.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let hex = self.0.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok().map(Cow::Owned)
    }
}

/// The `type:` selector: a media type with quoted parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileType<'a> {
    /// `type/subtype`.
    pub media_type: &'a str,
    /// The `;attr="value"` parameters as written (without the first `;`).
    pub params: Option<&'a str>,
}

/// A `hash:` selector (RFC 5547 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hash<'a> {
    /// `sha-1` is the only registered algorithm.
    pub algorithm: &'a str,
    /// The `XX:XX:...` text as written.
    pub hex: &'a str,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
}

impl Hash<'_> {
    /// The 20 SHA-1 bytes, when the algorithm is `sha-1`.
    pub fn sha1(&self) -> Option<[u8; 20]> {
        if self.algorithm.eq_ignore_ascii_case("sha-1") {
            self.bytes.as_slice().try_into().ok()
        } else {
            None
        }
    }
}

/// `a=file-selector` (RFC 5547 §6). All fields are `None`/empty for the bare capability form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileSelector<'a> {
    /// `name:"..."`.
    pub name: Option<FileName<'a>>,
    /// `type:...`.
    pub file_type: Option<FileType<'a>>,
    /// `size:N` in octets.
    pub size: Option<u64>,
    /// `hash:alg:XX:...` (several are allowed).
    pub hashes: Vec<Hash<'a>>,
}

const RFC_5547: &str = "RFC 5547 §6";

fn filename_ok(s: &str) -> bool {
    // filename-string = 1*(filename-char/percent-encoded); filename-char excludes NUL CR LF " %
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
                if !ok {
                    return false;
                }
                i += 3;
            }
            0 | b'\r' | b'\n' | b'"' => return false,
            _ => i += 1,
        }
    }
    true
}

impl<'a> FileSelector<'a> {
    // file-selector-attr = "file-selector" [":" selector *(SP selector)]
    // selector = filename-selector / filesize-selector / filetype-selector / hash-selector
    // filename-selector = "name:" DQUOTE filename-string DQUOTE
    // filesize-selector = "size:" filesize-value
    // filetype-selector = "type:" type "/" subtype *(";" ft-parameter)
    // ft-parameter = attribute "=" DQUOTE value-string DQUOTE
    // hash-selector = "hash:" hash-algorithm ":" hash-value
    // hash-value = 2HEXDIG *(":" 2HEXDIG)
    /// Parse an `a=file-selector` value; `None` is the bare capability form (RFC 5547 §8.5).
    pub fn parse(value: Option<&'a str>) -> Result<Self, ParseError> {
        Self::parse_with(value, None)
    }

    /// As [`FileSelector::parse`], but `size:0` is taken (as a size of 0) with a warning
    /// instead of refused. RFC 5547's `filesize-value` is RFC 4566's `integer` (`POS-DIGIT
    /// *DIGIT`), which excludes 0, yet senders offering an empty file write it (older
    /// sipkit did); a receiver that refused the whole selector would lose the file's name.
    /// The second value is the warning, when there is one.
    pub fn parse_tolerant(
        value: Option<&'a str>,
    ) -> Result<(Self, Option<ParseError>), ParseError> {
        let mut warning = None;
        let fs = Self::parse_with(value, Some(&mut warning))?;
        Ok((fs, warning))
    }

    fn parse_with(
        value: Option<&'a str>,
        mut zero_size: Option<&mut Option<ParseError>>,
    ) -> Result<Self, ParseError> {
        const CODE: &str = "sdp.file-selector.syntax";
        let mut fs = FileSelector::default();
        let Some(v) = value else {
            return Ok(fs);
        };
        let bad = |s: &str, msg: String| rfc(err(CODE, msg, pos(v, s), s.len()), RFC_5547);
        for sel in split_sp_outside_quotes(v) {
            let Some((key, val)) = sel.split_once(':') else {
                return Err(bad(
                    sel,
                    format!("expected name:, type:, size: or hash:, found {sel:?}"),
                ));
            };
            match key {
                "name" => {
                    let inner = val.strip_prefix('"').and_then(|x| x.strip_suffix('"'));
                    match inner {
                        Some(n) if filename_ok(n) && fs.name.is_none() => {
                            fs.name = Some(FileName(n))
                        }
                        _ => {
                            return Err(bad(
                                sel,
                                "expected name:\"<filename>\" once, with \" and % percent-encoded"
                                    .into(),
                            ));
                        }
                    }
                }
                "size" => match parse_u64(val) {
                    Some(n) if fs.size.is_none() && !val.starts_with('0') => fs.size = Some(n),
                    Some(0) if fs.size.is_none() && val == "0" && zero_size.is_some() => {
                        fs.size = Some(0);
                        if let Some(w) = zero_size.as_deref_mut() {
                            *w = Some(bad(
                                sel,
                                "size:0 is outside the grammar (filesize-value is RFC 4566's \
                                 integer, which starts with 1-9); taken as an empty file"
                                    .into(),
                            ));
                        }
                    }
                    _ => {
                        return Err(bad(
                            sel,
                            format!("expected size:<octets> once, found {sel:?}"),
                        ));
                    }
                },
                "type" => {
                    let (mt, params) = match val.split_once(';') {
                        Some((m, p)) => (m, Some(p)),
                        None => (val, None),
                    };
                    let mt_ok = mt
                        .split_once('/')
                        .is_some_and(|(t, s)| is_token_str(t) && is_token_str(s));
                    let params_ok = params.is_none_or(|p| {
                        p.split(';').all(|param| {
                            param.split_once('=').is_some_and(|(a, q)| {
                                is_token_str(a)
                                    && q.strip_prefix('"')
                                        .and_then(|x| x.strip_suffix('"'))
                                        .is_some_and(filename_ok)
                            })
                        })
                    });
                    if !mt_ok || !params_ok || fs.file_type.is_some() {
                        return Err(bad(
                            sel,
                            format!(
                                "expected type:<type>/<subtype>[;attr=\"value\"] once, found {sel:?}"
                            ),
                        ));
                    }
                    fs.file_type = Some(FileType {
                        media_type: mt,
                        params,
                    });
                }
                "hash" => fs.hashes.push(Hash::parse(v, sel, val)?),
                _ => {
                    return Err(bad(
                        sel,
                        format!("unknown selector {key:?}; expected name, type, size or hash"),
                    ));
                }
            }
        }
        Ok(fs)
    }
}

impl<'a> Hash<'a> {
    fn parse(whole: &str, sel: &str, val: &'a str) -> Result<Self, ParseError> {
        const CODE: &str = "sdp.file-selector.hash";
        let bad = |msg: String| rfc(err(CODE, msg, pos(whole, sel), sel.len()), RFC_5547);
        let Some((algorithm, hex)) = val.split_once(':') else {
            return Err(bad("expected hash:<algorithm>:<XX:XX:...>".into()));
        };
        if !algorithm.bytes().all(is_sdp_token) || algorithm.is_empty() {
            return Err(bad(format!(
                "expected a hash algorithm token, found {algorithm:?}"
            )));
        }
        let mut bytes = Vec::new();
        for pair in hex.split(':') {
            let ok = pair.len() == 2 && pair.bytes().all(|b| b.is_ascii_hexdigit());
            match u8::from_str_radix(pair, 16) {
                Ok(b) if ok => bytes.push(b),
                _ => {
                    return Err(bad(format!(
                        "expected hex byte pairs separated by ':', found {pair:?}"
                    )));
                }
            }
        }
        if algorithm.eq_ignore_ascii_case("sha-1") && bytes.len() != 20 {
            return Err(bad(format!(
                "a sha-1 hash has 20 bytes, found {}",
                bytes.len()
            )));
        }
        Ok(Hash {
            algorithm,
            hex,
            bytes,
        })
    }
}

/// Which date a `file-date` parameter gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateKind {
    /// `creation:`.
    Creation,
    /// `modification:`.
    Modification,
    /// `read:`.
    Read,
}

/// One `file-date` parameter; the RFC 5322 date is kept as the text between the quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileDate<'a> {
    /// Which date.
    pub kind: DateKind,
    /// The RFC 5322 `date-time`, unquoted.
    pub date: &'a str,
}

// file-date-attr = "file-date:" date-param *(SP date-param)
// c-date-param = "creation:" DQUOTE date-time DQUOTE  (likewise modification:, read:)
pub(super) fn parse_file_date(v: &str) -> Result<Vec<FileDate<'_>>, ParseError> {
    const CODE: &str = "sdp.file-date.syntax";
    let mut out: Vec<FileDate<'_>> = Vec::new();
    for p in split_sp_outside_quotes(v) {
        let bad = |msg: String| rfc(err(CODE, msg, pos(v, p), p.len()), RFC_5547);
        let (k, d) = p.split_once(':').ok_or_else(|| {
            bad(format!(
                "expected creation:, modification: or read:, found {p:?}"
            ))
        })?;
        let kind = match k {
            "creation" => DateKind::Creation,
            "modification" => DateKind::Modification,
            "read" => DateKind::Read,
            _ => {
                return Err(bad(format!(
                    "expected creation, modification or read, found {k:?}"
                )));
            }
        };
        let date = d
            .strip_prefix('"')
            .and_then(|x| x.strip_suffix('"'))
            .filter(|x| !x.is_empty() && !x.contains('"'))
            .ok_or_else(|| bad("expected a quoted RFC 5322 date".into()))?;
        if out.iter().any(|f| f.kind == kind) {
            return Err(bad(format!("{k} may appear only once")));
        }
        out.push(FileDate { kind, date });
    }
    Ok(out)
}

/// `a=file-range` (RFC 5547 §6): 1-based inclusive octet positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRange {
    /// First octet, at least 1.
    pub start: u64,
    /// Last octet, `None` for `*` (size unknown).
    pub stop: Option<u64>,
}

impl FileRange {
    // file-range-attr = "file-range:" start-offset "-" stop-offset
    // start-offset = integer ; stop-offset = integer / "*"
    /// Parse an `a=file-range` value.
    pub fn parse(v: &str) -> Result<Self, ParseError> {
        let bad = || {
            rfc(
                err(
                    "sdp.file-range.syntax",
                    format!("expected <start>-<stop> or <start>-*, found {v:?}"),
                    0,
                    v.len(),
                ),
                RFC_5547,
            )
        };
        let (s, e) = v.split_once('-').ok_or_else(bad)?;
        let start = parse_u64(s)
            .filter(|&n| n >= 1 && !s.starts_with('0'))
            .ok_or_else(bad)?;
        let stop = if e == "*" {
            None
        } else {
            Some(
                parse_u64(e)
                    .filter(|&n| n >= start && !e.starts_with('0'))
                    .ok_or_else(bad)?,
            )
        };
        Ok(FileRange { start, stop })
    }
}

/// `file-icon-value = cid-url` (RFC 2392: `cid:` followed by a content-id).
pub(super) fn parse_file_icon(v: &str) -> Result<&str, ParseError> {
    let ok = v.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("cid:"))
        && v.len() > 4
        && !v.contains(' ');
    if ok {
        Ok(v)
    } else {
        Err(rfc(
            err(
                "sdp.file-icon.syntax",
                format!("expected a cid: URL, found {v:?}"),
                0,
                v.len(),
            ),
            RFC_5547,
        ))
    }
}

// file-tr-id-value = token ; file-disp-value = token
pub(super) fn parse_token_value<'a>(v: &'a str, code: &'static str) -> Result<&'a str, ParseError> {
    if is_token_str(v) {
        Ok(v)
    } else {
        Err(rfc(
            err(code, format!("expected a token, found {v:?}"), 0, v.len()),
            RFC_5547,
        ))
    }
}
