//! Typed access to header values: Via, From/To/Contact/Route (name-addr), CSeq, Call-ID,
//! scalars, Content-Type, token lists, authentication (RFC 3261 §20, §25.1; RFC 3581).
//!
//! Values are parsed on demand from the slices the framer stored, and every error points at the
//! exact bytes in the message buffer.

use std::borrow::Cow;

use super::message::Message;
use super::name::HeaderName;
use super::uri::{Host, Params, Uri, clip, parse_hostport, show_byte};
use crate::proto::ParseError;
use crate::proto::scan::{is_lws, is_token, split_outside_quotes, trim_lws};

const RFC_ABNF: &str = "RFC 3261 §25.1";

/// A cursor over a header value that knows where the value sits in the message buffer.
#[derive(Debug, Clone)]
pub(crate) struct Cur<'a> {
    s: &'a str,
    pos: usize,
    base: usize,
}

impl<'a> Cur<'a> {
    pub(crate) fn new(s: &'a str, base: usize) -> Self {
        Cur { s, pos: 0, base }
    }
    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }
    pub(crate) fn skip_lws(&mut self) {
        // A local index, stored once: `self.pos += 1` per byte was a store per byte.
        let b = self.bytes();
        let mut i = self.pos;
        while i < b.len() && is_lws(b[i]) {
            i += 1;
        }
        self.pos = i;
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let (b, start) = (self.bytes(), self.pos);
        let mut i = start;
        while i < b.len() && f(b[i]) {
            i += 1;
        }
        self.pos = i;
        &self.s[start..i]
    }
    fn token(&mut self) -> &'a str {
        self.take_while(is_token)
    }
    fn abs(&self) -> usize {
        self.base + self.pos
    }
    fn err(&self, code: &'static str, msg: impl Into<String>, rfc: &'static str) -> ParseError {
        let len = usize::from(!self.at_end());
        ParseError::new(code, msg, self.abs(), len, rfc)
    }
    fn found(&self) -> String {
        match self.peek() {
            Some(b) => show_byte(b),
            None => "end of value".to_string(),
        }
    }
    /// `quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE`; returns the inner text
    /// still escaped.
    fn quoted(&mut self, what: &str) -> Result<&'a str, ParseError> {
        let open = self.pos;
        if !self.eat(b'"') {
            return Err(self.err(
                "sip.quoted-string",
                format!("expected `\"`, found {}", self.found()),
                RFC_ABNF,
            ));
        }
        let start = self.pos;
        let b = self.bytes();
        let mut i = start;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => {
                    self.pos = i + 1;
                    return Ok(&self.s[start..i]);
                }
                _ => i += 1,
            }
        }
        self.pos = i;
        Err(ParseError::new(
            "sip.quoted-string.unterminated",
            format!("unterminated quoted string in {what}"),
            self.base + open,
            self.s.len() - open,
            RFC_ABNF,
        ))
    }
    fn rest(&self) -> &'a str {
        &self.s[self.pos.min(self.s.len())..]
    }
}

/// Remove the backslash escapes of a quoted-string's inner text.
pub fn unquote(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `gen-value = token / host / quoted-string`: token characters plus `:` `[` `]` for hosts.
fn is_gen_value(b: u8) -> bool {
    GEN_VALUE[usize::from(b)]
}

/// [`is_gen_value`] as a table: parameter values are scanned a byte at a time.
static GEN_VALUE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = is_token(b) || matches!(b, b':' | b'[' | b']');
        i += 1;
    }
    t
};

/// Parse `*( SEMI generic-param )` strictly from the cursor to the end of the value and return
/// the raw parameter text (without the first `;`).
///
/// ```text
/// generic-param = token [ EQUAL gen-value ]
/// SEMI = SWS ";" SWS   EQUAL = SWS "=" SWS
/// ```
fn generic_params<'a>(c: &mut Cur<'a>, what: &str) -> Result<&'a str, ParseError> {
    generic_params_with(c, what, false, |_, _, _| Ok(()))
}

/// [`generic_params`] in one pass: `on(name, raw value, value offset)` sees each parameter as it
/// is validated, so callers pick out `branch` or `tag` without scanning again. With
/// `stop_at_comma`, a `,` outside quotes ends the list (the next element of a Via list).
fn generic_params_with<'a>(
    c: &mut Cur<'a>,
    what: &str,
    stop_at_comma: bool,
    mut on: impl FnMut(&'a str, Option<&'a str>, usize) -> Result<(), ParseError>,
) -> Result<&'a str, ParseError> {
    c.skip_lws();
    if c.at_end() || (stop_at_comma && c.peek() == Some(b',')) {
        // An empty slice inside the value, so callers can still compute offsets from it.
        return Ok(&c.s[c.pos..c.pos]);
    }
    if !c.eat(b';') {
        return Err(c.err(
            "sip.param.syntax",
            format!(
                "expected `;` before a parameter in {what}, found {}",
                c.found()
            ),
            RFC_ABNF,
        ));
    }
    let start = c.pos;
    loop {
        c.skip_lws();
        let name = c.token();
        if name.is_empty() {
            return Err(c.err(
                "sip.param.empty",
                format!(
                    "empty or invalid parameter name in {what}: expected a token, found {}",
                    c.found()
                ),
                RFC_ABNF,
            ));
        }
        c.skip_lws();
        let mut value = None;
        let mut voff = 0;
        if c.eat(b'=') {
            c.skip_lws();
            voff = c.abs();
            let vstart = c.pos;
            if c.peek() == Some(b'"') {
                c.quoted(what)?;
            } else if c.take_while(is_gen_value).is_empty() {
                return Err(c.err(
                    "sip.param.value",
                    format!("parameter `{name}` in {what} has `=` but no value"),
                    RFC_ABNF,
                ));
            }
            value = Some(&c.s[vstart..c.pos]);
        }
        on(name, value, voff)?;
        let end = c.pos;
        c.skip_lws();
        if c.at_end() || (stop_at_comma && c.peek() == Some(b',')) {
            return Ok(&c.s[start..end]);
        }
        if !c.eat(b';') {
            return Err(c.err(
                "sip.param.syntax",
                format!("expected `;` or the end of {what}, found {}", c.found()),
                RFC_ABNF,
            ));
        }
    }
}

/// A parameter list validated by [`generic_params`], for lookups.
fn param<'a>(params: &'a str, name: &str) -> Option<Option<&'a str>> {
    Params::new(params)
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| {
            v.map(|v| {
                v.strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v)
            })
        })
}

/// The Via parameters [`Via::parse`] interprets, matched case-insensitively (§7.3.1) without
/// lower-casing into a new `String`: top_via() sits on every proxy's hot path and must not
/// allocate. Returns `""` for any other parameter.
fn via_param_kind(name: &str) -> &'static str {
    // The length picks the one candidate worth comparing.
    let known = match name.len() {
        6 => "branch",
        8 => "received",
        5 if name.as_bytes()[0] | 0x20 == b'm' => "maddr",
        5 => "rport",
        3 => "ttl",
        _ => return "",
    };
    if name.eq_ignore_ascii_case(known) {
        known
    } else {
        ""
    }
}

/// One Via header value (RFC 3261 §20.42, §18.2.1; RFC 3581 rport).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// `SIP`
    pub protocol: &'a str,
    /// `2.0`
    pub version: &'a str,
    /// `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS` or any extension token.
    pub transport: &'a str,
    /// The sent-by host.
    pub host: Host<'a>,
    /// The host as written.
    pub host_raw: &'a str,
    /// The sent-by port.
    pub port: Option<u16>,
    /// All parameters, raw, without the first `;`.
    pub params: &'a str,
    /// `branch`
    pub branch: Option<&'a str>,
    /// `received`
    pub received: Option<&'a str>,
    /// `rport`: `Some(None)` when present without a value (a request asking for it).
    pub rport: Option<Option<u16>>,
    /// `maddr`
    pub maddr: Option<&'a str>,
    /// `ttl`
    pub ttl: Option<u8>,
}

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

impl<'a> Via<'a> {
    /// ```text
    /// via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
    /// sent-protocol = protocol-name SLASH protocol-version SLASH transport
    /// sent-by       = host [ COLON port ]
    /// ```
    pub fn parse(s: &'a str, base: usize) -> Result<Via<'a>, ParseError> {
        let mut c = Cur::new(s, base);
        let via = Via::parse_one(&mut c)?;
        c.skip_lws();
        if !c.at_end() {
            return Err(c.err(
                "sip.param.syntax",
                format!("expected `;` or the end of Via, found {}", c.found()),
                RFC_ABNF,
            ));
        }
        Ok(via)
    }

    /// Parse one via-parm at the cursor, stopping before a `,` that starts the next one.
    pub(crate) fn parse_one(c: &mut Cur<'a>) -> Result<Via<'a>, ParseError> {
        let via = match Via::sent_by_fast(c) {
            Some(via) => via,
            None => Via::sent_by(c)?,
        };
        via.with_params(c)
    }

    /// `SIP/2.0/transport SP host[:port]` followed by `;` or the end, the way nearly every
    /// Via is written, in one scan; `None` (cursor untouched) sends anything else, including
    /// every error, to [`Via::sent_by`], which accepts a superset with the same result.
    fn sent_by_fast(c: &mut Cur<'a>) -> Option<Via<'a>> {
        let (s, p) = (c.s, c.pos);
        let b = s.as_bytes();
        if !b.get(p..)?.starts_with(b"SIP/2.0/") {
            return None;
        }
        let t0 = p + 8;
        let mut i = t0;
        while i < b.len() && is_token(b[i]) {
            i += 1;
        }
        if i == t0 || b.get(i) != Some(&b' ') {
            return None;
        }
        let hp = i + 1;
        let (host, host_raw, port, n) = super::uri::hostport_fast(&s[hp..])?;
        let end = hp + n;
        if !matches!(b.get(end), None | Some(b';')) {
            return None;
        }
        c.pos = end;
        Some(Via {
            protocol: &s[p..p + 3],
            version: &s[p + 4..p + 7],
            transport: &s[t0..i],
            host,
            host_raw,
            port,
            params: "",
            branch: None,
            received: None,
            rport: None,
            maddr: None,
            ttl: None,
        })
    }

    /// `sent-protocol LWS sent-by` in full generality: LWS around `/` and `:`, IPv6.
    fn sent_by(c: &mut Cur<'a>) -> Result<Via<'a>, ParseError> {
        const RFC: &str = "RFC 3261 §20.42";
        let base = c.base;
        let s = c.s;
        c.skip_lws();
        let mut parts = [""; 3];
        for (i, part) in parts.iter_mut().enumerate() {
            if i > 0 {
                c.skip_lws();
                if !c.eat(b'/') {
                    return Err(c.err(
                        "sip.via.protocol",
                        format!("expected `/` in the Via sent-protocol, found {}", c.found()),
                        RFC,
                    ));
                }
                c.skip_lws();
            }
            *part = c.token();
            if part.is_empty() {
                return Err(c.err(
                    "sip.via.protocol",
                    format!("expected `SIP/2.0/TRANSPORT` in Via, found {}", c.found()),
                    RFC,
                ));
            }
        }
        let before = c.pos;
        c.skip_lws();
        if c.pos == before {
            return Err(c.err(
                "sip.via.sent-by",
                format!(
                    "expected white space and a host after the transport, found {}",
                    c.found()
                ),
                RFC,
            ));
        }
        // sent-by ends at `;` or white space; COLON may have SWS around it.
        let hp_start = c.pos;
        let hb = c.bytes();
        let mut end = hp_start;
        let mut in_brackets = false;
        while end < hb.len() {
            match hb[end] {
                b'[' => in_brackets = true,
                b']' => in_brackets = false,
                b';' | b',' if !in_brackets => break,
                b if is_lws(b) && !in_brackets => break,
                _ => {}
            }
            end += 1;
        }
        let mut hostport = &s[hp_start..end];
        c.pos = end;
        // `host SWS ":" SWS port`: tolerate the spaced colon the grammar allows.
        let save = c.pos;
        c.skip_lws();
        let spaced_port;
        if c.peek() == Some(b':') && !hostport.contains(':') {
            c.pos += 1;
            c.skip_lws();
            let p = c.take_while(|b| b.is_ascii_digit());
            spaced_port = p;
        } else {
            c.pos = save;
            spaced_port = "";
        }
        if hostport.ends_with(':') && hostport.starts_with('[') {
            hostport = &hostport[..hostport.len() - 1];
        }
        let (host, host_raw, mut port) = parse_hostport(hostport, base + hp_start, "Via sent-by")
            .map_err(|mut e| {
            e.rfc = RFC;
            e
        })?;
        if !spaced_port.is_empty() {
            port = spaced_port.parse().ok();
        }
        Ok(Via {
            protocol: parts[0],
            version: parts[1],
            transport: parts[2],
            host,
            host_raw,
            port,
            params: "",
            branch: None,
            received: None,
            rport: None,
            maddr: None,
            ttl: None,
        })
    }

    /// `*( SEMI via-params )` after the sent-by, picking out the parameters Via interprets.
    fn with_params(self, c: &mut Cur<'a>) -> Result<Via<'a>, ParseError> {
        const RFC: &str = "RFC 3261 §20.42";
        let (s, base) = (c.s, c.base);
        let mut via = self;
        via.params = generic_params_with(c, "Via", true, |name, value, voff| {
            match via_param_kind(name) {
                "branch" => via.branch = value,
                "received" => via.received = value,
                "maddr" => via.maddr = value,
                "rport" => {
                    via.rport = Some(match value {
                        None => None,
                        Some(v) => Some(v.parse::<u16>().map_err(|_| {
                            ParseError::new(
                                "sip.via.rport",
                                format!("rport `{}` is not a port number", clip(v)),
                                voff,
                                v.len(),
                                "RFC 3581 §3",
                            )
                        })?),
                    })
                }
                "ttl" => {
                    via.ttl = Some(value.and_then(|v| v.parse::<u8>().ok()).ok_or_else(|| {
                        ParseError::new(
                            "sip.via.ttl",
                            "ttl must be a number from 0 to 255",
                            voff,
                            value.map_or(1, str::len),
                            RFC,
                        )
                    })?)
                }
                _ => {}
            }
            Ok(())
        })?;
        let params = via.params;
        let pbase = base + (params.as_ptr() as usize - s.as_ptr() as usize);
        if let Some(r) = via.received {
            let ok = r.parse::<std::net::IpAddr>().is_ok()
                || r.strip_prefix('[')
                    .and_then(|r| r.strip_suffix(']'))
                    .is_some_and(|r| r.parse::<std::net::Ipv6Addr>().is_ok());
            if !ok {
                let off = pbase + (r.as_ptr() as usize - params.as_ptr() as usize);
                return Err(ParseError::new(
                    "sip.via.received",
                    format!("received=`{}` is not an IP address", clip(r)),
                    off,
                    r.len(),
                    RFC,
                ));
            }
        }
        Ok(via)
    }

    /// Whether the branch carries the RFC 3261 magic cookie.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch.is_some_and(|b| b.starts_with(BRANCH_COOKIE))
    }

    /// A parameter by name (case-insensitive); `Some(None)` when it has no value.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        param(self.params, name)
    }
}

/// Iterator over every Via value of a message (see [`Message::vias`]).
#[derive(Debug)]
pub struct Vias<'m, 'a> {
    msg: &'m Message<'a>,
    next_header: usize,
    cur: Option<Cur<'a>>,
    failed: bool,
}

impl<'a> Iterator for Vias<'_, 'a> {
    type Item = Result<Via<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            if let Some(c) = self.cur.as_mut() {
                c.skip_lws();
                if !c.at_end() {
                    let r = Via::parse_one(c).and_then(|v| {
                        c.skip_lws();
                        if !c.at_end() && !c.eat(b',') {
                            return Err(c.err(
                                "sip.param.syntax",
                                format!("expected `,` between Via values, found {}", c.found()),
                                RFC_ABNF,
                            ));
                        }
                        Ok(v)
                    });
                    self.failed = r.is_err();
                    return Some(r);
                }
                self.cur = None;
            }
            let headers = &self.msg.headers;
            let h = loop {
                let h = headers.get(self.next_header)?;
                self.next_header += 1;
                if h.id == HeaderName::Via {
                    break h;
                }
            };
            match self.msg.value_of(h) {
                Ok((s, off)) => self.cur = Some(Cur::new(s, off)),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// A name-addr or addr-spec with header parameters: From, To, Contact, Route, Record-Route,
/// Reply-To, Refer-To (RFC 3261 §20.10, §20.20, §20.39).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name: a quoted string's inner text (still escaped) or the tokens as written.
    pub display_name: Option<&'a str>,
    /// Whether the display name was a quoted string.
    pub display_quoted: bool,
    /// The URI.
    pub uri: Uri<'a>,
    /// Whether the URI was enclosed in `<` `>`.
    pub bracketed: bool,
    /// Header parameters (after the URI), raw, without the first `;`.
    pub params: &'a str,
    /// The `tag` parameter's value, picked out while the parameters were validated.
    tag: Option<&'a str>,
}

impl<'a> NameAddr<'a> {
    /// ```text
    /// ( name-addr / addr-spec ) *( SEMI generic-param )
    /// name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
    /// display-name = *(token LWS) / quoted-string
    /// ```
    pub fn parse(s: &'a str, base: usize, what: &str) -> Result<NameAddr<'a>, ParseError> {
        const RFC: &str = "RFC 3261 §20.10";
        let mut c = Cur::new(s, base);
        c.skip_lws();
        let mut display_name = None;
        let mut display_quoted = false;
        if c.peek() == Some(b'"') {
            display_name = Some(c.quoted(what)?);
            display_quoted = true;
            c.skip_lws();
            if c.peek() != Some(b'<') {
                return Err(c.err(
                    "sip.name-addr.laquot",
                    format!(
                        "expected `<` after the display name in {what}, found {}",
                        c.found()
                    ),
                    RFC,
                ));
            }
        } else if let Some(lt) = crate::proto::scan::find_outside_quotes(c.rest().as_bytes(), b'<')
            .filter(|&lt| !c.rest().as_bytes()[..lt].contains(&b';'))
        {
            let dn = &c.rest()[..lt];
            let dn_trim = crate::proto::scan::trim_lws_str(dn);
            if let Some(i) = dn_trim.bytes().position(|b| !is_token(b) && !is_lws(b)) {
                let off = c.abs() + (dn_trim.as_ptr() as usize - dn.as_ptr() as usize) + i;
                return Err(ParseError::new(
                    "sip.name-addr.display-name",
                    format!(
                        "display name `{}` contains {} which is not allowed outside a quoted string",
                        clip(dn_trim),
                        show_byte(dn_trim.as_bytes()[i])
                    ),
                    off,
                    1,
                    RFC,
                ));
            }
            if !dn_trim.is_empty() {
                display_name = Some(dn_trim);
            }
            c.pos += lt;
        }
        let (uri, bracketed) = if c.eat(b'<') {
            let start = c.pos;
            let Some(gt) = crate::proto::scan::find_byte(b'>', c.rest().as_bytes()) else {
                return Err(ParseError::new(
                    "sip.name-addr.raquot",
                    format!("`<` without a closing `>` in {what}"),
                    c.abs() - 1,
                    s.len() - start + 1,
                    RFC,
                ));
            };
            let inner = &c.rest()[..gt];
            // The one-pass scanner accepts no white space, so only its refusals need the check.
            let uri = match super::uri::sip_uri_fast(inner) {
                Some(uri) => uri,
                None => {
                    if let Some(i) = inner.bytes().position(is_lws) {
                        return Err(ParseError::new(
                            "sip.name-addr.whitespace",
                            format!(
                                "white space inside the URI in {what}; a URI may not contain spaces"
                            ),
                            c.abs() + i,
                            1,
                            RFC_ABNF,
                        ));
                    }
                    Uri::parse(inner, c.abs())?
                }
            };
            c.pos += gt + 1;
            (uri, true)
        } else {
            // addr-spec without brackets: the URI ends at the first `;` (later params are
            // header params, §20.10) and must not contain `,` `?` or `;`.
            let rest = c.rest();
            let end = rest
                .bytes()
                .position(|b| b == b';' || is_lws(b))
                .unwrap_or(rest.len());
            let spec = &rest[..end];
            if spec.is_empty() {
                return Err(c.err(
                    "sip.name-addr.uri",
                    format!("expected a URI in {what}, found {}", c.found()),
                    RFC,
                ));
            }
            if let Some(i) = spec.bytes().position(|b| b == b'?' || b == b',') {
                return Err(ParseError::new(
                    "sip.name-addr.unbracketed",
                    format!(
                        "a URI containing {} must be enclosed in `<` `>` in {what}",
                        show_byte(spec.as_bytes()[i])
                    ),
                    c.abs() + i,
                    1,
                    RFC,
                ));
            }
            let uri = Uri::parse(spec, c.abs())?;
            c.pos += end;
            let save = c.pos;
            c.skip_lws();
            if !c.at_end() && c.peek() != Some(b';') {
                return Err(c.err(
                    "sip.name-addr.unbracketed",
                    format!("unexpected {} after the URI in {what}: a display name requires the URI in `<` `>`", c.found()),
                    RFC,
                ));
            }
            c.pos = save;
            (uri, false)
        };
        let mut tag = None;
        let params = generic_params_with(&mut c, what, false, |name, value, _| {
            if name.eq_ignore_ascii_case("tag") {
                tag = value.map(|v| {
                    v.strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v)
                });
            }
            Ok(())
        })?;
        Ok(NameAddr {
            display_name,
            display_quoted,
            uri,
            bracketed,
            params,
            tag,
        })
    }

    /// The `tag` parameter (found while parsing, so this is free).
    pub fn tag(&self) -> Option<&'a str> {
        self.tag
    }

    /// A header parameter by name; quotes around a value are removed.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        param(self.params, name)
    }

    /// The display name with quoted-string escapes removed.
    pub fn display_name_unescaped(&self) -> Option<Cow<'a, str>> {
        self.display_name.map(|d| {
            if self.display_quoted {
                unquote(d)
            } else {
                Cow::Borrowed(d)
            }
        })
    }
}

/// One Contact value: `*` or an address (RFC 3261 §20.10).
// Boxing the address would cost an allocation per Contact; `*` is rare, so keep it inline.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *` (REGISTER removing all bindings).
    Star,
    /// An address with its parameters (`expires`, `q`).
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// The `expires` parameter, checked to be a delta-seconds within 2^32-1.
    pub fn expires(&self) -> Option<Result<u32, &'a str>> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => a.param("expires").map(|v| {
                let v = v.unwrap_or("");
                v.parse::<u32>().map_err(|_| v)
            }),
        }
    }

    /// The `q` parameter as thousandths (`q=0.7` → 700).
    pub fn q(&self) -> Option<Result<u16, &'a str>> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => a
                .param("q")
                .map(|v| parse_qvalue(v.unwrap_or("")).ok_or(v.unwrap_or(""))),
        }
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, as thousandths.
pub fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, d) in frac.bytes().enumerate() {
        thousandths += u16::from(d - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// `CSeq = "CSeq" HCOLON 1*DIGIT LWS Method` (RFC 3261 §20.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number (at most 2^32-1, §8.1.1.5).
    pub seq: u32,
    /// The method.
    pub method: &'a str,
}

impl<'a> CSeq<'a> {
    /// Parse a CSeq value.
    pub fn parse(s: &'a str, base: usize) -> Result<CSeq<'a>, ParseError> {
        const RFC: &str = "RFC 3261 §20.16";
        let mut c = Cur::new(s, base);
        c.skip_lws();
        let start = c.abs();
        let digits = c.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err(c.err(
                "sip.cseq.number",
                format!("expected a CSeq sequence number, found {}", c.found()),
                RFC,
            ));
        }
        let seq = digits.parse::<u32>().map_err(|_| {
            ParseError::new(
                "sip.cseq.range",
                format!("CSeq number {} is larger than 2^32-1", clip(digits)),
                start,
                digits.len(),
                "RFC 3261 §8.1.1.5",
            )
        })?;
        let before = c.pos;
        c.skip_lws();
        if c.pos == before {
            return Err(c.err(
                "sip.cseq.method",
                format!(
                    "expected white space and a method after the CSeq number, found {}",
                    c.found()
                ),
                RFC,
            ));
        }
        let method = c.token();
        if method.is_empty() {
            return Err(c.err(
                "sip.cseq.method",
                format!("expected a method in CSeq, found {}", c.found()),
                RFC,
            ));
        }
        c.skip_lws();
        if !c.at_end() {
            return Err(c.err(
                "sip.cseq.method",
                format!("unexpected {} after the CSeq method", c.found()),
                RFC,
            ));
        }
        Ok(CSeq { seq, method })
    }
}

/// `Content-Type = media-type`, `media-type = m-type SLASH m-subtype *(SEMI m-parameter)`
/// (RFC 3261 §20.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// `application`
    pub ty: &'a str,
    /// `sdp`
    pub subtype: &'a str,
    /// Parameters, raw, without the first `;`.
    pub params: &'a str,
}

impl<'a> MediaType<'a> {
    /// Parse a media type.
    pub fn parse(s: &'a str, base: usize) -> Result<MediaType<'a>, ParseError> {
        const RFC: &str = "RFC 3261 §20.15";
        let mut c = Cur::new(s, base);
        c.skip_lws();
        let ty = c.token();
        c.skip_lws();
        if ty.is_empty() || !c.eat(b'/') {
            return Err(c.err(
                "sip.content-type.syntax",
                format!("expected `type/subtype`, found {}", c.found()),
                RFC,
            ));
        }
        c.skip_lws();
        let subtype = c.token();
        if subtype.is_empty() {
            return Err(c.err(
                "sip.content-type.syntax",
                format!("expected a media subtype after `/`, found {}", c.found()),
                RFC,
            ));
        }
        let params = generic_params(&mut c, "Content-Type")?;
        Ok(MediaType {
            ty,
            subtype,
            params,
        })
    }

    /// Whether this is `type/subtype`, case-insensitively.
    pub fn is(&self, ty: &str, subtype: &str) -> bool {
        self.ty.eq_ignore_ascii_case(ty) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// A parameter value with quotes removed.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        param(self.params, name).flatten()
    }
}

/// A challenge or credentials: `auth-scheme LWS auth-param *(COMMA auth-param)`
/// (RFC 3261 §20.27, §20.44, §25.1; RFC 8760 algorithms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auth<'a> {
    /// `Digest` or another scheme.
    pub scheme: &'a str,
    /// The comma-separated parameters as written.
    pub params: &'a str,
}

impl<'a> Auth<'a> {
    /// Parse a WWW-Authenticate, Proxy-Authenticate, Authorization or Proxy-Authorization value.
    pub fn parse(s: &'a str, base: usize) -> Result<Auth<'a>, ParseError> {
        const RFC: &str = "RFC 3261 §25.1";
        let mut c = Cur::new(s, base);
        c.skip_lws();
        let scheme = c.token();
        if scheme.is_empty() {
            return Err(c.err(
                "sip.auth.scheme",
                format!(
                    "expected an authentication scheme such as `Digest`, found {}",
                    c.found()
                ),
                RFC,
            ));
        }
        c.skip_lws();
        let params = c.rest();
        let pbase = c.abs();
        // Validate: auth-param = token EQUAL ( token / quoted-string ), comma separated.
        for item in split_outside_quotes(params.as_bytes(), b',') {
            let off = pbase + (item.as_ptr() as usize - params.as_ptr() as usize);
            let t = trim_lws(item);
            let toff = off + (t.as_ptr() as usize - item.as_ptr() as usize);
            let item_s = std::str::from_utf8(t).unwrap_or("");
            let mut ic = Cur::new(item_s, toff);
            let name = ic.token();
            ic.skip_lws();
            if name.is_empty() || !ic.eat(b'=') {
                return Err(ic.err(
                    "sip.auth.param",
                    format!(
                        "expected `name=value` in {scheme} parameters, found {}",
                        ic.found()
                    ),
                    RFC,
                ));
            }
            ic.skip_lws();
            if ic.peek() == Some(b'"') {
                ic.quoted("an authentication parameter")?;
            } else if ic
                .take_while(|b| is_token(b) || b == b'/' || b == b':')
                .is_empty()
            {
                return Err(ic.err(
                    "sip.auth.param",
                    format!("parameter `{name}` has no value"),
                    RFC,
                ));
            }
            ic.skip_lws();
            if !ic.at_end() {
                return Err(ic.err(
                    "sip.auth.param",
                    format!("unexpected {} after parameter `{name}`", ic.found()),
                    RFC,
                ));
            }
        }
        Ok(Auth { scheme, params })
    }

    /// Whether the scheme is Digest.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// Every parameter as (name, value) with the quotes of quoted values removed (escapes kept).
    pub fn params(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        let p = self.params;
        split_outside_quotes(p.as_bytes(), b',').filter_map(move |item| {
            let off = item.as_ptr() as usize - p.as_ptr() as usize;
            let item = &p[off..off + item.len()];
            let (n, v) = item.split_once('=')?;
            let v = crate::proto::scan::trim_lws_str(v);
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((crate::proto::scan::trim_lws_str(n), v))
        })
    }

    /// A parameter by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// `rfc1123-date = wkday "," SP date1 SP time SP "GMT"` (RFC 3261 §20.17).
pub fn check_date(s: &str, base: usize) -> Result<(), ParseError> {
    const RFC: &str = "RFC 3261 §20.17";
    let t = crate::proto::scan::trim_lws_str(s);
    let off = base + (t.as_ptr() as usize - s.as_ptr() as usize);
    let b = t.as_bytes();
    let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let bad = |at: usize, len: usize, what: &str| {
        Err(ParseError::new(
            "sip.date.syntax",
            format!("invalid Date: {what} (expected e.g. `Sat, 13 Nov 2010 23:29:00 GMT`)"),
            off + at,
            len,
            RFC,
        ))
    };
    if b.len() != 29 {
        if let Some(zone) = t.rsplit(' ').next().filter(|z| *z != "GMT" && t.len() > 25) {
            return bad(
                t.len() - zone.len(),
                zone.len(),
                "the time zone must be GMT",
            );
        }
        return bad(0, b.len().max(1), "wrong length");
    }
    // Compare bytes: slicing the `str` would panic inside a multibyte character.
    if !days.iter().any(|d| d.as_bytes() == &b[0..3]) || &b[3..5] != b", " {
        return bad(0, 5, "the weekday must be Mon..Sun followed by `, `");
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !digits(5..7)
        || b[7] != b' '
        || !months.iter().any(|m| m.as_bytes() == &b[8..11])
        || b[11] != b' '
        || !digits(12..16)
        || b[16] != b' '
    {
        return bad(5, 11, "the date must be `DD Mon YYYY`");
    }
    if !digits(17..19)
        || b[19] != b':'
        || !digits(20..22)
        || b[22] != b':'
        || !digits(23..25)
        || b[25] != b' '
    {
        return bad(17, 8, "the time must be `HH:MM:SS`");
    }
    if &b[26..29] != b"GMT" {
        return bad(26, 3, "the time zone must be GMT");
    }
    Ok(())
}

/// `word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" /
/// "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )`, as a table.
static WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = is_token(b)
            || matches!(
                b,
                b'(' | b')'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'{'
                    | b'}'
            );
        i += 1;
    }
    t
};

/// `callid = word [ "@" word ]` (RFC 3261 §25.1).
pub fn check_call_id(s: &str, base: usize) -> Result<(), ParseError> {
    let is_word = |b: u8| WORD[usize::from(b)];
    if s.is_empty() {
        return Err(ParseError::new(
            "sip.call-id.empty",
            "Call-ID is empty",
            base,
            0,
            "RFC 3261 §20.8",
        ));
    }
    // `@` is not a word character, so one scan stops at it and a second covers the host part.
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_word(b[i]) {
        i += 1;
    }
    if i > 0 && i + 1 < b.len() && b[i] == b'@' {
        i += 1;
        while i < b.len() && is_word(b[i]) {
            i += 1;
        }
    }
    match b.get(i) {
        None => Ok(()),
        Some(&bad) => Err(ParseError::new(
            "sip.call-id.char",
            format!("character {} is not allowed in a Call-ID", show_byte(bad)),
            base + i,
            1,
            "RFC 3261 §25.1",
        )),
    }
}

/// A number bounded by `max`; `what` names the field in errors.
pub fn parse_bounded(
    s: &str,
    base: usize,
    max: u64,
    code: &'static str,
    what: &str,
    rfc: &'static str,
) -> Result<u64, ParseError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::new(
            code,
            format!("{what} must be a decimal number, found `{}`", clip(s)),
            base,
            s.len().max(1),
            rfc,
        ));
    }
    match s.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(ParseError::new(
            code,
            format!("{what} {} is out of range (0-{max})", clip(s)),
            base,
            s.len(),
            rfc,
        )),
    }
}

impl<'a> Message<'a> {
    /// The value of a header field as UTF-8 with its offset in the buffer.
    fn value_of(&self, h: &super::message::Header<'a>) -> Result<(&'a str, usize), ParseError> {
        Ok((h.value_str(self)?, self.offset_of(h.value)))
    }

    /// Every comma-separated element of every header field with this id, trimmed, with offsets.
    pub fn elements(
        &self,
        id: HeaderName,
    ) -> impl Iterator<Item = Result<(&'a str, usize), ParseError>> + '_ {
        self.headers_of(id).flat_map(move |h| {
            let (s, off) = match self.value_of(h) {
                Ok(v) => v,
                Err(e) => return vec![Err(e)].into_iter(),
            };
            split_outside_quotes(s.as_bytes(), b',')
                .map(|part| {
                    let t = trim_lws(part);
                    let start = t.as_ptr() as usize - s.as_ptr() as usize;
                    Ok((&s[start..start + t.len()], off + start))
                })
                .collect::<Vec<_>>()
                .into_iter()
        })
    }

    /// The Via values, top first, across every Via header field; parsing stops at the first
    /// error, which is yielded.
    pub fn vias(&self) -> Vias<'_, 'a> {
        Vias {
            msg: self,
            next_header: 0,
            cur: None,
            failed: false,
        }
    }

    /// The topmost Via value.
    pub fn top_via(&self) -> Result<Via<'a>, ParseError> {
        let h = self.required(HeaderName::Via, "Via")?;
        let (s, off) = self.value_of(h)?;
        Via::parse_one(&mut Cur::new(s, off))
    }

    fn required(
        &self,
        id: HeaderName,
        name: &str,
    ) -> Result<&super::message::Header<'a>, ParseError> {
        self.header(id).ok_or_else(|| {
            ParseError::new(
                "sip.header.missing",
                format!("the {name} header field is missing"),
                0,
                0,
                "RFC 3261 §8.1.1",
            )
        })
    }

    fn name_addr(&self, id: HeaderName, name: &str) -> Result<NameAddr<'a>, ParseError> {
        let h = self.required(id, name)?;
        let (s, off) = self.value_of(h)?;
        NameAddr::parse(s, off, name)
    }

    /// The From header (RFC 3261 §20.20).
    pub fn from_addr(&self) -> Result<NameAddr<'a>, ParseError> {
        self.name_addr(HeaderName::From, "From")
    }

    /// The To header (RFC 3261 §20.39).
    pub fn to_addr(&self) -> Result<NameAddr<'a>, ParseError> {
        self.name_addr(HeaderName::To, "To")
    }

    /// The Call-ID, trimmed.
    pub fn call_id(&self) -> Result<&'a str, ParseError> {
        let h = self.required(HeaderName::CallId, "Call-ID")?;
        let (s, off) = self.value_of(h)?;
        check_call_id(s, off)?;
        Ok(s)
    }

    /// The CSeq.
    pub fn cseq(&self) -> Result<CSeq<'a>, ParseError> {
        let h = self.required(HeaderName::CSeq, "CSeq")?;
        let (s, off) = self.value_of(h)?;
        CSeq::parse(s, off)
    }

    /// Max-Forwards, 0-255 (RFC 3261 §8.1.1.6).
    pub fn max_forwards(&self) -> Option<Result<u8, ParseError>> {
        let h = self.header(HeaderName::MaxForwards)?;
        Some(self.value_of(h).and_then(|(s, off)| {
            parse_bounded(
                s,
                off,
                255,
                "sip.max-forwards.range",
                "Max-Forwards",
                "RFC 3261 §8.1.1.6",
            )
            .map(|n| n as u8)
        }))
    }

    /// Expires, 0 to 2^32-1 seconds (RFC 3261 §20.19).
    pub fn expires(&self) -> Option<Result<u32, ParseError>> {
        let h = self.header(HeaderName::Expires)?;
        Some(self.value_of(h).and_then(|(s, off)| {
            parse_bounded(
                s,
                off,
                u64::from(u32::MAX),
                "sip.expires.range",
                "Expires",
                "RFC 3261 §20.19",
            )
            .map(|n| n as u32)
        }))
    }

    /// Content-Type.
    pub fn content_type(&self) -> Option<Result<MediaType<'a>, ParseError>> {
        let h = self.header(HeaderName::ContentType)?;
        Some(
            self.value_of(h)
                .and_then(|(s, off)| MediaType::parse(s, off)),
        )
    }

    /// Contact values, in order.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'a>, ParseError>> + '_ {
        self.elements(HeaderName::Contact).map(|r| {
            r.and_then(|(s, off)| {
                if s == "*" {
                    Ok(Contact::Star)
                } else {
                    NameAddr::parse(s, off, "Contact").map(Contact::Addr)
                }
            })
        })
    }

    /// Route values (name-addr form required, §20.34).
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, ParseError>> + '_ {
        self.elements(HeaderName::Route)
            .map(|r| r.and_then(|(s, off)| NameAddr::parse(s, off, "Route")))
    }

    /// Record-Route values.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, ParseError>> + '_ {
        self.elements(HeaderName::RecordRoute)
            .map(|r| r.and_then(|(s, off)| NameAddr::parse(s, off, "Record-Route")))
    }

    /// Option tags or methods of a token-list header (Require, Supported, Allow, ...).
    pub fn tokens(&self, id: HeaderName) -> impl Iterator<Item = Result<&'a str, ParseError>> + '_ {
        self.elements(id).map(|r| {
            r.and_then(|(s, off)| {
                if s.is_empty() || !s.bytes().all(is_token) {
                    let i = s.bytes().position(|b| !is_token(b)).unwrap_or(0);
                    Err(ParseError::new(
                        "sip.token-list",
                        format!("expected a token, found `{}`", clip(s)),
                        off + i,
                        s.len().max(1),
                        RFC_ABNF,
                    ))
                } else {
                    Ok(s)
                }
            })
        })
    }

    /// Challenges or credentials of an authentication header (one per header field).
    pub fn auth(&self, id: HeaderName) -> impl Iterator<Item = Result<Auth<'a>, ParseError>> + '_ {
        self.headers_of(id)
            .map(|h| self.value_of(h).and_then(|(s, off)| Auth::parse(s, off)))
    }

    /// The Request-URI of a request, parsed.
    pub fn request_uri(&self) -> Option<Result<Uri<'a>, ParseError>> {
        match self.start {
            super::message::StartLine::Request { uri, .. } => {
                Some(Uri::parse(uri, self.offset_of(uri.as_bytes())))
            }
            super::message::StartLine::Response { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The one-scan sent-by accepts only what the general parser accepts, with the same
        /// result and the cursor in the same place.
        #[test]
        fn fast_via_agrees_with_the_general_parser(
            s in "SIP/2\\.0/(UDP|TCP|tls|X-Y)[ \t]{1,2}[a-z0-9.:\\-\\[\\] ]{0,14}(;[a-z]{1,6}(=[a-z0-9.]{0,6})?){0,2}"
        ) {
            let mut fast_cur = Cur::new(&s, 0);
            if let Some(fast) = Via::sent_by_fast(&mut fast_cur) {
                let mut cur = Cur::new(&s, 0);
                let general = Via::sent_by(&mut cur);
                proptest::prop_assert_eq!(Ok(fast), general);
                proptest::prop_assert_eq!(fast_cur.pos, cur.pos);
            }
        }
    }

    #[test]
    fn via_with_lws_everywhere() {
        let s = "SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw";
        let v = Via::parse(s, 0).expect("valid");
        assert_eq!((v.protocol, v.version, v.transport), ("SIP", "2.0", "UDP"));
        assert_eq!(v.host, Host::V4("192.0.2.2".parse().expect("ip")));
        assert_eq!(v.branch, Some("390skdjuw"));
        assert!(!v.has_rfc3261_branch());
        let s = "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ";
        let v = Via::parse(s, 0).expect("valid");
        assert_eq!(v.branch, Some("z9hG4bK9ikj8"));
        assert_eq!(v.host_raw, "spindle.example.com");
    }

    #[test]
    fn via_params() {
        let v = Via::parse("SIP/2.0/UDP [2001:db8::9:1]:5070;rport;received=2001:db8::9:255;branch=z9hG4bKas3-111;ttl=1;maddr=239.1.1.1;x=y", 0).expect("valid");
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport, Some(None));
        assert_eq!(v.received, Some("2001:db8::9:255"));
        assert_eq!(v.ttl, Some(1));
        assert_eq!(v.maddr, Some("239.1.1.1"));
        assert_eq!(v.param("x"), Some(Some("y")));
        assert!(v.has_rfc3261_branch());
    }

    #[test]
    fn via_extraneous_separators_is_an_error() {
        let e = Via::parse("SIP/2.0/UDP 192.0.2.15;;", 100).expect_err("invalid");
        assert_eq!(e.code, "sip.param.empty");
        assert_eq!(e.offset, 100 + 23);
    }

    #[test]
    fn name_addr_forms() {
        let a = NameAddr::parse(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com>  ;  tag = 98asjd8"#,
            0,
            "From",
        )
        .expect("valid");
        assert_eq!(a.display_name, Some(r#"J Rosenberg \\\""#));
        assert_eq!(
            a.display_name_unescaped().as_deref(),
            Some(r#"J Rosenberg \""#)
        );
        assert_eq!(a.tag(), Some("98asjd8"));
        let a = NameAddr::parse(
            "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
            0,
            "To",
        )
        .expect("valid");
        assert!(!a.bracketed);
        assert_eq!(a.tag(), Some("1918181833n"));
        let a =
            NameAddr::parse("caller<sip:caller@example.com>;tag=323", 0, "From").expect("valid");
        assert_eq!(a.display_name, Some("caller"));
        let a = NameAddr::parse("Bob <sip:bob@b.com;transport=tcp>;tag=1", 0, "To").expect("valid");
        assert_eq!(a.uri.transport(), Some("tcp"));
        assert_eq!(a.tag(), Some("1"));
    }

    #[test]
    fn name_addr_errors() {
        let e =
            NameAddr::parse(r#""Mr J. User <sip:j.user@example.com>"#, 0, "From").expect_err("bad");
        assert_eq!(e.code, "sip.quoted-string.unterminated");
        let e = NameAddr::parse(
            "Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43",
            0,
            "From",
        )
        .expect_err("bad");
        assert_eq!((e.code, e.offset), ("sip.name-addr.display-name", 4));
        let e = NameAddr::parse(
            "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>",
            0,
            "To",
        )
        .expect("ok");
        assert!(e.uri.headers.is_some());
        let e = NameAddr::parse("sip:user@example.com?Route=x", 0, "To").expect_err("bad");
        assert_eq!(e.code, "sip.name-addr.unbracketed");
    }

    #[test]
    fn cseq_and_scalars() {
        assert_eq!(
            CSeq::parse("0009\r\n  INVITE", 0).expect("ok"),
            CSeq {
                seq: 9,
                method: "INVITE"
            }
        );
        assert_eq!(
            CSeq::parse("36893488147419103232 INVITE", 0)
                .expect_err("big")
                .code,
            "sip.cseq.range"
        );
        assert_eq!(
            CSeq::parse("1INVITE", 0).expect_err("bad").code,
            "sip.cseq.method"
        );
        assert_eq!(parse_qvalue("0.33"), Some(330));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("1.5"), None);
    }

    #[test]
    fn auth_params() {
        let a = Auth::parse(r#"Digest realm="atlanta.example.com", qop="auth,auth-int", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", opaque="", stale=FALSE, algorithm=MD5"#, 0).expect("ok");
        assert!(a.is_digest());
        assert_eq!(a.param("qop"), Some("auth,auth-int"));
        assert_eq!(a.param("ALGORITHM"), Some("MD5"));
        assert_eq!(a.param("opaque"), Some(""));
        assert!(Auth::parse("Digest realm", 0).is_err());
    }

    #[test]
    fn dates() {
        assert!(check_date("Sat, 13 Nov 2010 23:29:00 GMT", 0).is_ok());
        assert_eq!(
            check_date("Fri, 01 Jan 2010 16:00:00 EST", 0)
                .expect_err("tz")
                .offset,
            26
        );
    }

    #[test]
    fn issue2_date_with_multibyte_characters_is_an_error_not_a_panic() {
        // 29 bytes, but `é` straddles the byte offsets the checker slices at (3, 5, 11).
        for d in [
            "Moé 13 Nov 2010 23:29:00 GMT",
            "Sat,é3 Nov 2010 23:29:00 GMT",
            "Sat, 13 Noé 201 23:29:00 GMT",
        ] {
            assert_eq!(d.len(), 29);
            assert_eq!(check_date(d, 0).expect_err(d).code, "sip.date.syntax");
        }
    }
}
