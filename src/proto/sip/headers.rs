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

/// The parameters at `b[i..]` (after a `;`) in the form nearly every message writes them:
/// `name[=value]` joined by `;`, no white space, no quoted values. `on(name, value range)`
/// sees each and may refuse it with `false`. Returns where the list ends: the end of `b` or
/// a `,`. `None` (refusal, or any other byte) sends the value to [`generic_params_with`],
/// which accepts a superset: for the same bytes it yields the same names and values.
#[inline]
fn simple_params<'a>(
    s: &'a str,
    mut i: usize,
    mut on: impl FnMut(&'a str, Option<(usize, usize)>) -> bool,
) -> Option<usize> {
    let b = s.as_bytes();
    loop {
        let n0 = i;
        i = run_of(b, i, &TOKEN_BYTE);
        if i == n0 {
            return None;
        }
        let name = s.get(n0..i)?;
        let mut value = None;
        if b.get(i) == Some(&b'=') {
            let v0 = i + 1;
            i = run_of(b, v0, &GEN_VALUE);
            if i == v0 {
                return None;
            }
            value = Some((v0, i));
        }
        if !on(name, value) {
            return None;
        }
        match b.get(i) {
            Some(b';') => i += 1,
            None | Some(b',') => return Some(i),
            Some(_) => return None,
        }
    }
}

/// The end of the run of bytes in `table` that starts at `b[i]`, four bytes per test.
#[inline]
fn run_of(b: &[u8], mut i: usize, table: &[bool; 256]) -> usize {
    let is = |c: u8| table[usize::from(c)];
    while let Some(w) = b.get(i..i + 4) {
        if !(is(w[0]) & is(w[1]) & is(w[2]) & is(w[3])) {
            break;
        }
        i += 4;
    }
    while i < b.len() && is(b[i]) {
        i += 1;
    }
    i
}

/// Token bytes and the space, for display names written `*(token LWS)` (RFC 3261 §25.1).
static TOKEN_OR_SPACE: [bool; 256] = {
    let mut t = TOKEN_BYTE;
    t[b' ' as usize] = true;
    t
};

/// [`is_token`] as a table of its own, for [`run_of`].
static TOKEN_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = is_token(i as u8);
        i += 1;
    }
    t
};

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
    // As written (lower case) nearly always: a plain comparison first.
    if name == known || name.eq_ignore_ascii_case(known) {
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

    /// The first via-parm of a Via header value (`s` may hold more, after a `,`).
    pub fn parse_first(s: &'a str) -> Result<Via<'a>, ParseError> {
        Via::parse_one(&mut Cur::new(s, 0))
    }

    /// Parse one via-parm at the cursor, stopping before a `,` that starts the next one.
    pub(crate) fn parse_one(c: &mut Cur<'a>) -> Result<Via<'a>, ParseError> {
        let via = match Via::sent_by_fast(c) {
            Some(via) => match via.with_params_fast(c) {
                Some(via) => return Ok(via),
                None => via,
            },
            None => Via::sent_by(c)?,
        };
        via.with_params(c)
    }

    /// [`Via::with_params`] for parameters without white space or quotes whose values it
    /// accepts, in one pass; `None` (cursor untouched) leaves everything else, errors
    /// included, to it.
    #[inline(always)]
    fn with_params_fast(self, c: &mut Cur<'a>) -> Option<Via<'a>> {
        let (s, p) = (c.s, c.pos);
        let b = s.as_bytes();
        let mut via = self;
        let end = match b.get(p) {
            None | Some(b',') => p,
            Some(b';') => simple_params(s, p + 1, |name, value| {
                let value = value.map(|(v0, v1)| &s[v0..v1]);
                match via_param_kind(name) {
                    "branch" => via.branch = value,
                    "received" => via.received = value,
                    "maddr" => via.maddr = value,
                    "rport" => match value {
                        None => via.rport = Some(None),
                        Some(v) => match v.parse::<u16>() {
                            Ok(port) => via.rport = Some(Some(port)),
                            Err(_) => return false,
                        },
                    },
                    "ttl" => match value.map(str::parse::<u8>) {
                        Some(Ok(ttl)) => via.ttl = Some(ttl),
                        _ => return false,
                    },
                    _ => {}
                }
                true
            })?,
            Some(_) => return None,
        };
        via.params = match b.get(p) {
            Some(b';') => &s[p + 1..end],
            _ => &s[p..p],
        };
        if let Some(r) = via.received
            && !is_ip_address(r)
        {
            return None;
        }
        c.pos = end;
        Some(via)
    }

    /// `SIP/2.0/transport SP host[:port]` followed by `;` or the end, the way nearly every
    /// Via is written, in one scan; `None` (cursor untouched) sends anything else, including
    /// every error, to [`Via::sent_by`], which accepts a superset with the same result.
    #[inline(always)]
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
            if !is_ip_address(r) {
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

/// `received = IPv4address / IPv6address`, with an IPv6 reference tolerated (RFC 3261 §18.2.1).
fn is_ip_address(r: &str) -> bool {
    r.parse::<std::net::IpAddr>().is_ok()
        || r.strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|r| r.parse::<std::net::Ipv6Addr>().is_ok())
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
        match NameAddr::parse_fast(s) {
            Some(a) => Ok(a),
            None => NameAddr::parse_general(s, base, what),
        }
    }

    /// The shapes nearly every From, To and Contact takes, in one pass: `[tokens] <sip-uri>`
    /// or a bare `sip-uri`, then `;name[=value]` parameters, with single spaces only inside
    /// the display name. `None` for anything else (quotes, other white space, escapes, IPv6,
    /// other schemes) and for every error: [`NameAddr::parse_general`] accepts a superset with
    /// the same result and reports the errors.
    // Inlined so the address is built where `parse` returns it, not copied there.
    #[inline(always)]
    fn parse_fast(s: &'a str) -> Option<NameAddr<'a>> {
        let b = s.as_bytes();
        // display-name = *(token LWS): tokens and spaces up to `<`. No `"`, `;` or `<` comes
        // before it, so it is the `<` the general path finds, and the same text it trims.
        let i = run_of(b, 0, &TOKEN_OR_SPACE);
        let (display_name, uri, bracketed, mut k) = if b.get(i) == Some(&b'<') {
            let dn = crate::proto::scan::trim_lws_str(&s[..i]);
            let u0 = i + 1;
            // The URI scan stops at `>` as at the end of its input (`>` continues no part of
            // a URI): the first `>`, which the general path cuts the URI at.
            let (uri, n) = super::uri::sip_uri_prefix::<false>(s.get(u0..)?)?;
            if b.get(u0 + n) != Some(&b'>') {
                return None;
            }
            ((!dn.is_empty()).then_some(dn), uri, true, u0 + n + 1)
        } else {
            // addr-spec: it ends at the first `;` (header parameters follow) and contains no
            // `<`, `"`, `,` or `?`, which the bare scan does not accept.
            let (uri, n) = super::uri::sip_uri_prefix::<true>(s)?;
            (None, uri, false, n)
        };
        // *( SEMI generic-param ) without white space or quoted values.
        let mut tag = None;
        let params = match b.get(k) {
            None => &s[k..k],
            Some(b';') => {
                let p0 = k + 1;
                k = simple_params(s, p0, |name, value| {
                    // The first tag counts when a peer sent two (tshark reads it the same way).
                    if tag.is_none() && (name == "tag" || name.eq_ignore_ascii_case("tag")) {
                        tag = value.map(|(v0, v1)| &s[v0..v1]);
                    }
                    true
                })?;
                if k != b.len() {
                    return None;
                }
                &s[p0..k]
            }
            Some(_) => return None,
        };
        Some(NameAddr {
            display_name,
            display_quoted: false,
            uri,
            bracketed,
            params,
            tag,
        })
    }

    /// [`NameAddr::parse`] for every shape, with the error messages.
    // Out of line: inlined, its frame and saved registers would cost the fast path too.
    #[inline(never)]
    fn parse_general(s: &'a str, base: usize, what: &str) -> Result<NameAddr<'a>, ParseError> {
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
            if tag.is_none() && name.eq_ignore_ascii_case("tag") {
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
        match CSeq::parse_fast(s) {
            Some(c) => Ok(c),
            None => CSeq::parse_general(s, base),
        }
    }

    /// `1*9DIGIT SP token`, the way CSeq is written, in one pass; `None` for anything else
    /// (white space other than one space, ten digits or more, errors), which
    /// [`CSeq::parse_general`] decides the same way for the shapes accepted here.
    #[inline(always)]
    fn parse_fast(s: &'a str) -> Option<CSeq<'a>> {
        let b = s.as_bytes();
        let mut seq: u32 = 0;
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d >= 10 {
                break;
            }
            // Nine digits stay below 2^32; longer numbers go the general way.
            if i == 9 {
                return None;
            }
            seq = seq * 10 + u32::from(d);
            i += 1;
        }
        if i == 0 || b.get(i) != Some(&b' ') {
            return None;
        }
        let m0 = i + 1;
        let end = run_of(b, m0, &TOKEN_BYTE);
        if end == m0 || end != b.len() {
            return None;
        }
        Some(CSeq {
            seq,
            method: &s[m0..],
        })
    }

    /// [`CSeq::parse`] for every shape, with the error messages.
    fn parse_general(s: &'a str, base: usize) -> Result<CSeq<'a>, ParseError> {
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
            } else if ic.peek() == Some(b'\\') {
                // `realm=\"x\"`: escapes copied out of a quoted string (a C or JSON literal).
                return Err(ic.err(
                    "sip.auth.param",
                    format!(
                        "the value of `{name}` starts with an escaped quote `\\\"`: a backslash escape belongs inside a quoted string; write `{name}=\"...\"`"
                    ),
                    RFC,
                ));
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
    let b = s.as_bytes();
    // One pass without branches: word bytes weigh 0, `@` 1, anything else 16, so a total of
    // 0 is a single word and 1 a single `@` (valid unless it starts or ends the value).
    let w = |c: &u8| u64::from(CALL_ID_WEIGHT[usize::from(*c)]);
    let mut chunks = b.chunks_exact(8);
    let mut weight: u64 = chunks.by_ref().map(|c| c.iter().map(w).sum::<u64>()).sum();
    weight += chunks.remainder().iter().map(w).sum::<u64>();
    match weight {
        0 if !b.is_empty() => return Ok(()),
        1 if b.first() != Some(&b'@') && b.last() != Some(&b'@') => return Ok(()),
        _ => {}
    }
    // Otherwise find the offending byte: `@` is not a word character, so one scan stops at it
    // and a second covers the host part.
    let mut i = run_of(b, 0, &WORD);
    if i > 0 && i + 1 < b.len() && b[i] == b'@' {
        i = run_of(b, i + 1, &WORD);
    }
    if i == b.len() && i > 0 {
        Ok(())
    } else {
        Err(call_id_error(b, base, i))
    }
}

/// The error of [`check_call_id`] at `b[i]`, out of line: the check runs on every message.
#[cold]
#[inline(never)]
fn call_id_error(b: &[u8], base: usize, i: usize) -> ParseError {
    match b.get(i) {
        None => ParseError::new(
            "sip.call-id.empty",
            "Call-ID is empty",
            base,
            0,
            "RFC 3261 §20.8",
        ),
        Some(&bad) => ParseError::new(
            "sip.call-id.char",
            format!("character {} is not allowed in a Call-ID", show_byte(bad)),
            base + i,
            1,
            "RFC 3261 §25.1",
        ),
    }
}

/// [`WORD`] as weights for [`check_call_id`]'s single pass.
static CALL_ID_WEIGHT: [u8; 256] = {
    let mut t = [16u8; 256];
    let mut i = 0;
    while i < 256 {
        if WORD[i] {
            t[i] = 0;
        }
        i += 1;
    }
    t[b'@' as usize] = 1;
    t
};

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
        // Lazily, without a Vec per header field: Contact is read for every request.
        self.headers_of(id).flat_map(move |h| {
            let (value, err) = match self.value_of(h) {
                Ok(v) => (Some(v), None),
                Err(e) => (None, Some(Err(e))),
            };
            err.into_iter()
                .chain(value.into_iter().flat_map(|(s, off)| {
                    split_outside_quotes(s.as_bytes(), b',').map(move |part| {
                        let t = trim_lws(part);
                        let start = t.as_ptr() as usize - s.as_ptr() as usize;
                        Ok((&s[start..start + t.len()], off + start))
                    })
                }))
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

    use proptest::prelude::*;

    fn one(xs: &'static [&'static str]) -> impl Strategy<Value = String> + use<> {
        proptest::sample::select(xs).prop_map(str::to_string)
    }

    /// Parts of a name-addr value: mostly the common shapes, often a near miss (quotes, LWS,
    /// IPv6, escapes, upper-case and other schemes, out-of-range ports, a missing `>`, empty
    /// or quoted parameters), so both paths are exercised.
    fn name_addr_value() -> impl Strategy<Value = String> {
        let display = prop_oneof![
            4 => one(&["", "sipp ", "sut ", "A b  ", " ", "x"]),
            1 => one(&["\"Q\" ", "\"a\\\"b\"", "x\t", "Bell, A ", "a;b ", "a:b ", "a\r\n b "]),
        ];
        let scheme = prop_oneof![
            4 => one(&["sip:", "SIP:", "sips:", "SiPs:"]),
            1 => one(&["tel:", "http:", "sip", ""]),
        ];
        let user = prop_oneof![
            4 => one(&["", "sipp@", "service@", "a:pw@", "u;x=1@", "a:@"]),
            1 => one(&["a%41@", "a%4@", "a,b@", "a?b@", "@", "a b@", ":p@", "a>b@"]),
            1 => "[a-z0-9;:,?%@&=+$.-]{0,6}",
        ];
        let host = prop_oneof![
            4 => one(&["127.0.0.1", "example.com", "a.b.", "1.2.3.4.example"]),
            1 => one(&[
                "192.0.2.256",
                "1.2.3",
                "01.2.3.4",
                "a-.com",
                "1host",
                "[2001:db8::1]",
                "2001:db8::1",
                "",
            ]),
            1 => "[a-z0-9.\\-]{1,8}",
        ];
        let port = prop_oneof![
            4 => one(&["", ":5060", ":65535", ":05061"]),
            1 => one(&[":65536", ":99999", ":", ":0x", "::1"]),
        ];
        let uri_params = prop_oneof![
            4 => one(&["", ";lr", ";transport=udp", ";x;y=1", "?h=v", ";lr?a=b&c=d"]),
            1 => one(&[";", ";x=\"y\"", ";%41=b", "?", ";a b", ";a,b", "?a@b", ";[::1]"]),
        ];
        let close = prop_oneof![
            6 => Just(">".to_string()),
            1 => one(&["", " >", ">>", "\t>"]),
        ];
        let param = prop_oneof![
            4 => one(&[";tag=12345SIPpTag001", ";TAG=a", ";tag", ";lr", ";q=0.7", ";expires=60"]),
            4 => "(;[a-zA-Z0-9.!%*_+`'~-]{1,5}(=[a-zA-Z0-9.:\\[\\]-]{1,5})?)",
            1 => one(&[
                ";", "; tag=a", ";tag =a", ";tag=", ";tag=\"q\"", ";a=b@c", ";a=<b>", " ;lr", " ",
                ",", ";tag=a;", ";é=1",
            ]),
        ];
        (
            display,
            scheme,
            user,
            host,
            port,
            uri_params,
            prop_oneof![3 => Just(true), 1 => Just(false)],
            close,
            proptest::collection::vec(param, 0..3),
        )
            .prop_map(|(d, sc, u, h, p, up, bracket, close, params)| {
                let params = params.concat();
                if bracket {
                    format!("{d}<{sc}{u}{h}{p}{up}{close}{params}")
                } else {
                    format!("{d}{sc}{u}{h}{p}{up}{params}")
                }
            })
    }

    /// The general path alone, as `parse_one` was before its fast path.
    fn via_general<'a>(c: &mut Cur<'a>) -> Result<Via<'a>, ParseError> {
        Via::sent_by(c)?.with_params(c)
    }

    fn via_value() -> impl Strategy<Value = String> {
        let host = prop_oneof![
            4 => one(&[
                "127.0.0.1:5061",
                "127.0.0.1",
                "[2001:db8::1]:5060",
                "pc33.example.com",
                "1.2.3.4:70000",
            ]),
            1 => "[a-z0-9.:]{1,10}",
        ];
        let param = prop_oneof![
            4 => one(&[
                ";branch=z9hG4bK-12345-1-0",
                ";BRANCH=z9hG4bK776",
                ";rport",
                ";rport=5060",
                ";ttl=1",
                ";received=192.0.2.1",
                ";received=[2001:db8::1]",
                ";received=2001:db8::1",
                ";maddr=239.1.1.1",
                ";x",
                ";alias",
            ]),
            1 => one(&[
                ";rport=+5",
                ";rport=99999",
                ";rport=x",
                ";ttl=300",
                ";ttl",
                ";received=host",
                ";x=\"q\"",
                ";",
                "; branch=a",
                ";branch = a",
                ";branch=",
                " ;lr",
                ", SIP/2.0/UDP h",
                ",SIP/2.0/UDP h",
                " , SIP/2.0/TCP h",
                " ",
                ";a=b@c",
            ]),
        ];
        (
            "SIP/2\\.0/(UDP|TCP|tls)( |  |\t)",
            host,
            proptest::collection::vec(param, 0..4),
        )
            .prop_map(|(sp, h, ps)| format!("{sp}{h}{}", ps.concat()))
    }

    proptest::proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// The name-addr fast path accepts only what the general parser accepts, with the same
        /// result (down to where the slices point); where it declines, the general one decides.
        #[test]
        fn fast_name_addr_agrees_with_the_general_parser(s in name_addr_value()) {
            if let Some(fast) = NameAddr::parse_fast(&s) {
                let general = NameAddr::parse_general(&s, 0, "From");
                prop_assert_eq!(Ok(fast), general.clone());
                let general = general.expect("compared equal to Ok");
                prop_assert_eq!(fast.params.as_ptr(), general.params.as_ptr());
                prop_assert_eq!(fast.uri.raw.as_ptr(), general.uri.raw.as_ptr());
                prop_assert_eq!(fast.uri.params.as_ptr(), general.uri.params.as_ptr());
            }
        }

        /// The one-pass Via (sent-by and parameters) agrees with the general parser on the
        /// result and on where the cursor stops.
        #[test]
        fn fast_via_params_agree_with_the_general_parser(s in via_value()) {
            let mut fast_cur = Cur::new(&s, 7);
            let fast = Via::parse_one(&mut fast_cur);
            let mut cur = Cur::new(&s, 7);
            let general = via_general(&mut cur);
            prop_assert_eq!(&fast, &general);
            if let (Ok(f), Ok(g)) = (fast, general) {
                prop_assert_eq!(fast_cur.pos, cur.pos);
                prop_assert_eq!(f.params.as_ptr(), g.params.as_ptr());
            }
        }

        #[test]
        fn fast_cseq_agrees_with_the_general_parser(
            s in "[ \t]?[0-9]{0,11}( |  |\t|\r\n |)(INVITE|ack|X-Y|I NV|;|)( |)"
        ) {
            if let Some(fast) = CSeq::parse_fast(&s) {
                prop_assert_eq!(Ok(fast), CSeq::parse_general(&s, 0));
            }
            prop_assert_eq!(CSeq::parse(&s, 0), CSeq::parse_general(&s, 0));
        }

        /// The four-bytes-at-a-time Call-ID check gives the verdict and error position of a
        /// plain byte-by-byte reading of `word [ "@" word ]`.
        #[test]
        fn call_id_agrees_with_a_plain_reading(s in "[a-zA-Z0-9@.:<>\" ;,{}-]{0,24}") {
            let b = s.as_bytes();
            let word = |b: u8| WORD[usize::from(b)];
            let mut i = 0;
            while i < b.len() && word(b[i]) {
                i += 1;
            }
            if i > 0 && i + 1 < b.len() && b[i] == b'@' {
                i += 1;
                while i < b.len() && word(b[i]) {
                    i += 1;
                }
            }
            let expected = if s.is_empty() { Some(0) } else { b.get(i).map(|_| i) };
            prop_assert_eq!(check_call_id(&s, 0).err().map(|e| e.offset), expected);
        }
    }

    #[test]
    fn fast_paths_take_the_sipp_shapes() {
        for s in [
            "sipp <sip:sipp@127.0.0.1:5061>;tag=12345SIPpTag001",
            "sut <sip:service@127.0.0.1:5060>",
            "sut <sip:service@127.0.0.1:5060>;tag=a8f3c2d1e0b94",
            "sip:sipp@127.0.0.1:5061",
            "<sip:alice@atlanta.example.com;transport=tcp>;expires=3600;q=0.7",
            "sip:bob@biloxi.example.com;tag=x;lr",
        ] {
            let fast = NameAddr::parse_fast(s).expect(s);
            assert_eq!(Ok(fast), NameAddr::parse_general(s, 0, "From"), "{s}");
        }
        let a = NameAddr::parse_fast("sipp <sip:sipp@127.0.0.1:5061>;tag=12345SIPpTag001")
            .expect("fast");
        assert_eq!(a.display_name, Some("sipp"));
        assert_eq!(a.tag(), Some("12345SIPpTag001"));
        assert_eq!(a.uri.port, Some(5061));
        for s in [
            "\"sipp\" <sip:sipp@127.0.0.1>",
            "sipp <sip:sipp@127.0.0.1:5061> ;tag=1",
            "sipp <sip:sipp@[::1]>",
            "sip:a@b;tag=\"q\"",
            "sip:a@b;",
            "<sip:a@b",
        ] {
            assert_eq!(NameAddr::parse_fast(s), None, "{s}");
        }
        let mut c = Cur::new("SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-12345-1-0", 0);
        let v = Via::sent_by_fast(&mut c)
            .and_then(|v| v.with_params_fast(&mut c))
            .expect("fast");
        assert_eq!(v.branch, Some("z9hG4bK-12345-1-0"));
        assert_eq!(
            CSeq::parse_fast("1 INVITE"),
            Some(CSeq {
                seq: 1,
                method: "INVITE"
            })
        );
        assert_eq!(CSeq::parse_fast("4294967295 INVITE"), None);
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
