//! SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966), and any other scheme kept as an
//! absolute URI.
//!
//! Parsing borrows from the message: user, password, host, parameters and headers are raw
//! slices, still %-escaped, so `%00` never truncates anything; [`unescape`] decodes on request.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::proto::ParseError;
use crate::proto::scan::is_token;

const RFC_ABNF: &str = "RFC 3261 §25.1";

/// The scheme of a URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme<'a> {
    /// `sip:`
    Sip,
    /// `sips:`
    Sips,
    /// `tel:` (RFC 3966)
    Tel,
    /// Any other scheme, kept with the URI as an absolute URI.
    Other(&'a str),
}

impl Scheme<'_> {
    /// The scheme as written in lower case (`Other` as found).
    pub fn as_str(&self) -> &str {
        match self {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
            Scheme::Tel => "tel",
            Scheme::Other(s) => s,
        }
    }
}

/// The host part of a SIP or SIPS URI (or of a Via sent-by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A domain name, as written.
    Name(&'a str),
    /// A dotted-quad IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 reference (`[2001:db8::1]` in the text).
    V6(Ipv6Addr),
}

impl std::fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A parsed URI borrowing from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    /// The whole URI as written.
    pub raw: &'a str,
    /// Its scheme.
    pub scheme: Scheme<'a>,
    /// The user part (still escaped); for `tel:` the subscriber number.
    pub user: Option<&'a str>,
    /// The password, if the URI has one (RFC 3261 §19.1.1 says it SHOULD NOT be used).
    pub password: Option<&'a str>,
    /// The host, for `sip:`/`sips:` only.
    pub host: Option<Host<'a>>,
    /// The host as written (with brackets for IPv6).
    pub host_raw: &'a str,
    /// The port, when written.
    pub port: Option<u16>,
    /// The URI parameters without the leading `;` (`transport=tcp;lr`), still escaped.
    pub params: &'a str,
    /// The headers after `?`, without the `?`, still escaped.
    pub headers: Option<&'a str>,
}

impl<'a> Uri<'a> {
    /// Parse a URI; `base` is the offset of `s` in the caller's buffer, for error positions.
    pub fn parse(s: &'a str, base: usize) -> Result<Uri<'a>, ParseError> {
        parse_uri(s, base)
    }

    /// Whether this is a `sip:` or `sips:` URI.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    /// The URI parameters as (name, value) pairs, still escaped.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// A URI parameter by case-insensitive name; `Some(None)` for a parameter without value.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The `transport` parameter, lower-cased comparison left to the caller.
    pub fn transport(&self) -> Option<&'a str> {
        self.param("transport").flatten()
    }
}

/// Iterator over `;`-separated `name[=value]` parameters, trimming linear white space around
/// names, `=` and values (RFC 3261 §25.1 allows LWS around SEMI and EQUAL in header params).
#[derive(Debug, Clone)]
pub struct Params<'a> {
    rest: &'a str,
}

impl<'a> Params<'a> {
    /// Parameters from a string without its leading `;`.
    pub fn new(s: &'a str) -> Self {
        Params { rest: s }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let bytes = self.rest.as_bytes();
            let end = crate::proto::scan::find_outside_quotes(bytes, b';').unwrap_or(bytes.len());
            let item = &self.rest[..end];
            self.rest = if end < bytes.len() {
                &self.rest[end + 1..]
            } else {
                ""
            };
            let item = crate::proto::scan::trim_lws_str(item);
            if item.is_empty() {
                continue;
            }
            return Some(match crate::proto::scan::find_byte(b'=', item.as_bytes()) {
                Some(eq) => (
                    crate::proto::scan::trim_lws_str(&item[..eq]),
                    Some(crate::proto::scan::trim_lws_str(&item[eq + 1..])),
                ),
                None => (item, None),
            });
        }
    }
}

/// Decode `%XX` escapes. Invalid escapes are kept as written; `%00` becomes a zero byte.
pub fn unescape(s: &str) -> Cow<'_, [u8]> {
    let b = s.as_bytes();
    if !b.contains(&b'%') {
        return Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(out)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `unreserved = alphanum / mark`, `mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"`
const fn is_unreserved(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')')
}

/// `user = 1*( unreserved / escaped / user-unreserved )`,
/// `user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"`
const fn is_user(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

/// `password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )`
const fn is_password(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}

/// `paramchar = param-unreserved / unreserved / escaped`,
/// `param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"`
const fn is_paramchar(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

/// `hvalue`/`hname` chars: `hnv-unreserved / unreserved / escaped`,
/// `hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"` (plus `=` and `&` as separators).
const fn is_headerchar(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$' | b'=' | b'&'
        )
}

/// `uric = reserved / unreserved / escaped` (RFC 2396), used for absolute URIs of other schemes.
const fn is_uric(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b';' | b'/'
                | b'?'
                | b':'
                | b'@'
                | b'&'
                | b'='
                | b'+'
                | b'$'
                | b','
                | b'%'
                | b'['
                | b']'
                | b'#'
        )
}

/// Character classes as bits of one table, so a URI check costs a load and a test per byte.
const USER: u8 = 1;
const PASSWORD: u8 = 2;
const PARAMS: u8 = 4;
const HEADERS: u8 = 8;
const URIC: u8 = 16;
/// [`USER`] and [`PASSWORD`] without `;` `?` `,`, which end an addr-spec written outside
/// `<` `>` (RFC 3261 §20.10), so a scan in that context stops where the URI does.
const USER_BARE: u8 = 32;
const PASSWORD_BARE: u8 = 64;

static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut m = 0;
        if is_user(b) {
            m |= USER;
        }
        if is_password(b) {
            m |= PASSWORD;
        }
        if !matches!(b, b';' | b'?' | b',') {
            if is_user(b) {
                m |= USER_BARE;
            }
            if is_password(b) {
                m |= PASSWORD_BARE;
            }
        }
        if is_paramchar(b) || b == b';' || b == b'=' {
            m |= PARAMS;
        }
        if is_headerchar(b) {
            m |= HEADERS;
        }
        if is_uric(b) {
            m |= URIC;
        }
        t[i] = m;
        i += 1;
    }
    t
};

/// Check that every byte of `s` is in `class` (bits of [`CLASSES`]) and that every `%` starts
/// a valid escape.
fn check_chars(s: &str, base: usize, class: u8, what: &str) -> Result<(), ParseError> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if i + 2 >= b.len() || hex(b[i + 1]).is_none() || hex(b[i + 2]).is_none() {
                return Err(ParseError::new(
                    "sip.uri.escape",
                    format!("invalid %-escape in {what}: `%` must be followed by two hex digits"),
                    base + i,
                    (b.len() - i).min(3),
                    RFC_ABNF,
                ));
            }
            i += 3;
            continue;
        }
        if CLASSES[usize::from(c)] & class == 0 {
            return Err(ParseError::new(
                "sip.uri.char",
                format!("character {} is not allowed in {what}", show_byte(c)),
                base + i,
                1,
                RFC_ABNF,
            ));
        }
        i += 1;
    }
    Ok(())
}

/// A byte for an error message: printable ASCII quoted, others as hex.
pub(crate) fn show_byte(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("`{}`", c as char)
    } else if c == b' ' {
        "space".to_string()
    } else {
        format!("0x{c:02x}")
    }
}

/// ```text
/// SIP-URI  = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
/// SIPS-URI = "sips:" [ userinfo ] hostport uri-parameters [ headers ]
/// userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"
/// hostport = host [ ":" port ]
/// absoluteURI = scheme ":" ( hier-part / opaque-part )
/// scheme   = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
/// ```
fn parse_uri(s: &str, base: usize) -> Result<Uri<'_>, ParseError> {
    match sip_uri_fast(s) {
        Some(u) => Ok(u),
        None => parse_uri_general(s, base),
    }
}

/// [`parse_uri`] for every scheme and shape, with the error messages.
fn parse_uri_general(s: &str, base: usize) -> Result<Uri<'_>, ParseError> {
    let b = s.as_bytes();
    let colon = match b.iter().position(|&c| c == b':') {
        Some(c) if c > 0 => c,
        _ => {
            return Err(ParseError::new(
                "sip.uri.scheme",
                format!("expected a URI `scheme:...`, found `{}`", clip(s)),
                base,
                s.len().max(1),
                RFC_ABNF,
            ));
        }
    };
    let scheme_s = &s[..colon];
    if !scheme_s.as_bytes()[0].is_ascii_alphabetic()
        || !scheme_s
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return Err(ParseError::new(
            "sip.uri.scheme",
            format!("invalid URI scheme `{}`", clip(scheme_s)),
            base,
            colon,
            RFC_ABNF,
        ));
    }
    let rest = &s[colon + 1..];
    let rbase = base + colon + 1;
    let scheme = if scheme_s.eq_ignore_ascii_case("sip") {
        Scheme::Sip
    } else if scheme_s.eq_ignore_ascii_case("sips") {
        Scheme::Sips
    } else if scheme_s.eq_ignore_ascii_case("tel") {
        Scheme::Tel
    } else {
        Scheme::Other(scheme_s)
    };
    match scheme {
        Scheme::Sip | Scheme::Sips => parse_sip_rest(s, scheme, rest, rbase),
        Scheme::Tel => {
            // telephone-subscriber (RFC 3966): number then ;params. Kept loosely: the number
            // chars are phonedigits, and params share the SIP param syntax.
            let (num, params) = match rest.find(';') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            if num.is_empty()
                || !num.bytes().all(|c| {
                    c.is_ascii_hexdigit()
                        || matches!(c, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
                })
            {
                return Err(ParseError::new(
                    "sip.uri.tel",
                    format!("invalid telephone number `{}` in tel URI", clip(num)),
                    rbase,
                    num.len().max(1),
                    "RFC 3966 §3",
                ));
            }
            check_chars(params, rbase + num.len() + 1, PARAMS, "tel URI parameters")?;
            Ok(Uri {
                raw: s,
                scheme,
                user: Some(num),
                password: None,
                host: None,
                host_raw: "",
                port: None,
                params,
                headers: None,
            })
        }
        Scheme::Other(_) => {
            check_chars(rest, rbase, URIC, "the URI")?;
            if rest.is_empty() {
                return Err(ParseError::new(
                    "sip.uri.empty",
                    "URI has nothing after the scheme",
                    rbase,
                    1,
                    RFC_ABNF,
                ));
            }
            Ok(Uri {
                raw: s,
                scheme,
                user: None,
                password: None,
                host: None,
                host_raw: "",
                port: None,
                params: "",
                headers: None,
            })
        }
    }
}

/// One pass over the common shape of a SIP URI, `sip:[user[:password]@]host[:port][;params]
/// [?headers]` without escapes or IPv6, accepting exactly what [`parse_uri`]'s general path
/// accepts for such input. Anything else (or anything wrong) returns `None` and the general
/// path, which knows the error messages, takes over; so this may be conservative, never lax.
pub(crate) fn sip_uri_fast(s: &str) -> Option<Uri<'_>> {
    match sip_uri_prefix::<false>(s) {
        Some((uri, n)) if n == s.len() => Some(uri),
        _ => None,
    }
}

/// [`sip_uri_fast`] for a URI at the start of `s` followed by anything: the URI and its
/// length. It stops at the first byte that cannot continue the URI, and every decision it
/// takes there is the one it takes at the end of the input, so when `s[n]` is such a byte
/// (`>` closing a name-addr) the result is `sip_uri_fast(&s[..n])`, without finding `n` first.
///
/// With `BARE` the URI is an addr-spec outside `<` `>`, where `;` starts header parameters and
/// `,` `?` are not allowed (RFC 3261 §20.10): those bytes end the URI, which then has no
/// parameters or headers, and the result is `sip_uri_fast(&s[..n])` when `s[n]` is `;` or
/// the end.
// Inlined into its callers so the URI is built in place, not returned through memory and
// copied into the name-addr.
#[inline(always)]
pub(crate) fn sip_uri_prefix<const BARE: bool>(s: &str) -> Option<(Uri<'_>, usize)> {
    let b = s.as_bytes();
    let head = b.get(..5)?;
    let lower = |i: usize| head[i] | 0x20;
    let (scheme, skip) = if lower(0) == b's' && lower(1) == b'i' && lower(2) == b'p' {
        if head[3] == b':' {
            (Scheme::Sip, 4)
        } else if lower(3) == b's' && head[4] == b':' {
            (Scheme::Sips, 5)
        } else {
            return None;
        }
    } else {
        return None;
    };
    let (user_class, password_class) = if BARE {
        (USER_BARE, PASSWORD_BARE)
    } else {
        (USER, PASSWORD)
    };
    let rest = &s[skip..];
    let r = rest.as_bytes();
    // `user` and `password` characters exclude `@` and `:`, so the first byte outside them
    // tells whether a userinfo ends here. Without one, the host starts at the scheme; an `@`
    // further on cannot be part of a host, parameters or headers, so the scans below stop
    // there and refuse, as the general path (which splits at the first `@`) would differ.
    let i = run(r, 0, user_class);
    let (mut user, mut password, mut hp_start) = (None, None, 0);
    match r.get(i) {
        Some(b'@') => {
            user = Some(&rest[..i]);
            hp_start = i + 1;
        }
        Some(b':') => {
            let j = run(r, i + 1, password_class);
            if r.get(j) == Some(&b'@') {
                user = Some(&rest[..i]);
                password = Some(&rest[i + 1..j]);
                hp_start = j + 1;
            }
        }
        _ => {}
    }
    if user == Some("") {
        return None;
    }
    let (host, host_raw, port, hp_len) = hostport_fast(&rest[hp_start..])?;
    let mut k = hp_start + hp_len;
    let mut params = &rest[k..k];
    let mut headers = None;
    if !BARE {
        if r.get(k) == Some(&b';') {
            let p0 = k + 1;
            k = run(r, p0, PARAMS);
            params = &rest[p0..k];
        }
        if r.get(k) == Some(&b'?') {
            let h0 = k + 1;
            k = run(r, h0, HEADERS);
            headers = Some(&rest[h0..k]);
        }
    }
    let n = skip + k;
    Some((
        Uri {
            raw: &s[..n],
            scheme,
            user,
            password,
            host: Some(host),
            host_raw,
            port,
            params,
            headers,
        },
        n,
    ))
}

/// The end of the run of bytes of `class` (bits of [`CLASSES`]) that starts at `b[i]`.
#[inline]
fn run(b: &[u8], mut i: usize, class: u8) -> usize {
    let is = |c: u8| CLASSES[usize::from(c)] & class;
    // Four bytes per test: user parts, tags and branches are tens of bytes long.
    while let Some(w) = b.get(i..i + 4) {
        if is(w[0]) & is(w[1]) & is(w[2]) & is(w[3]) == 0 {
            break;
        }
        i += 4;
    }
    while i < b.len() && is(b[i]) != 0 {
        i += 1;
    }
    i
}

const HOST_ALPHA: u8 = 1;
const HOST_DIGIT: u8 = 2;
const HOST_DASH: u8 = 4;

/// Bytes of a host name label: letters, digits, `-` (kinds as bits; 0 for anything else).
static HOST_CHAR: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_alphabetic() {
            HOST_ALPHA
        } else if b.is_ascii_digit() {
            HOST_DIGIT
        } else if b == b'-' {
            HOST_DASH
        } else {
            0
        };
        i += 1;
    }
    t
};

/// `IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT` with the rules of
/// `Ipv4Addr`'s parser (each part at most 255, no leading zero), without its generic
/// machinery; `None` for anything that parser would reject.
fn ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let (addr, len) = ipv4_prefix(s)?;
    (len == s.len()).then_some(addr)
}

/// [`ipv4`] for an address at the start of `s` followed by anything: the address and its
/// length, `None` where [`ipv4`] would refuse the digits and dots read so far.
#[inline(always)]
fn ipv4_prefix(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let (a, i) = octet(s, 0)?;
    let (b, i) = octet(s, dot(s, i)?)?;
    let (c, i) = octet(s, dot(s, i)?)?;
    let (d, i) = octet(s, dot(s, i)?)?;
    Some((Ipv4Addr::new(a, b, c, d), i))
}

/// The position after the `.` at `s[i]`.
#[inline(always)]
fn dot(s: &[u8], i: usize) -> Option<usize> {
    (s.get(i) == Some(&b'.')).then_some(i + 1)
}

/// `1*3DIGIT` at `s[i]` as `Ipv4Addr`'s parser reads an octet: at most 255, no leading zero,
/// and a fourth digit refused rather than left for the caller. Returns it and where it ends.
#[inline(always)]
fn octet(s: &[u8], i: usize) -> Option<(u8, usize)> {
    let digit = |k: usize| s.get(k).map(|c| c.wrapping_sub(b'0')).filter(|&d| d < 10);
    let d0 = digit(i)?;
    let Some(d1) = digit(i + 1) else {
        return Some((d0, i + 1));
    };
    if d0 == 0 {
        return None;
    }
    let Some(d2) = digit(i + 2) else {
        return Some((d0 * 10 + d1, i + 2));
    };
    if digit(i + 3).is_some() {
        return None;
    }
    let v = u16::from(d0) * 100 + u16::from(d1) * 10 + u16::from(d2);
    Some((u8::try_from(v).ok()?, i + 3))
}

/// One pass over `hostname [ ":" port ]` or `IPv4address [ ":" port ]` at the start of `s`,
/// stopping at the first byte that cannot continue it. Returns the parsed parts and how many
/// bytes they took, or `None` for IPv6, escapes, or anything [`parse_hostport`] would reject
/// (which then reports it).
pub(crate) fn hostport_fast(s: &str) -> Option<(Host<'_>, &str, Option<u16>, usize)> {
    let b = s.as_bytes();
    // An address (most Via sent-by and Contact hosts) is read once, not scanned as labels and
    // then parsed again; the label scan below would stop at the same byte when the next one
    // cannot continue a label, and anything else goes that way.
    if b.first().is_some_and(u8::is_ascii_digit)
        && let Some((addr, n)) = ipv4_prefix(b)
        && b.get(n)
            .is_none_or(|&c| HOST_CHAR[usize::from(c)] == 0 && c != b'.')
    {
        return port_after(b, Host::V4(addr), &s[..n], n);
    }
    // hostname = *( domainlabel "." ) toplabel [ "." ]: labels of alphanum and inner `-`,
    // the last one starting with a letter. A table gives each byte's kind in one load.
    let mut kinds = 0u8;
    let mut i = 0;
    let mut top = 0;
    loop {
        let start = i;
        while let Some(&c) = b.get(i) {
            let k = HOST_CHAR[usize::from(c)];
            if k == 0 {
                break;
            }
            kinds |= k;
            i += 1;
        }
        if i == start {
            // Only a trailing `.` may leave an empty label, and not as the whole host.
            if start == 0 || b.get(i).is_some_and(|&c| c == b'.') {
                return None;
            }
            break;
        }
        if b[start] == b'-' || b[i - 1] == b'-' {
            return None;
        }
        top = start;
        if b.get(i) != Some(&b'.') {
            break;
        }
        i += 1;
    }
    let digits_dots = kinds & (HOST_ALPHA | HOST_DASH) == 0;
    let host_raw = &s[..i];
    let host = if digits_dots {
        Host::V4(ipv4(host_raw.as_bytes())?)
    } else if b[top].is_ascii_alphabetic() {
        Host::Name(host_raw)
    } else {
        return None;
    };
    port_after(b, host, host_raw, i)
}

/// `[ ":" port ]` after the host that ends at `b[i]`, completing [`hostport_fast`].
#[inline(always)]
fn port_after<'a>(
    b: &[u8],
    host: Host<'a>,
    host_raw: &'a str,
    i: usize,
) -> Option<(Host<'a>, &'a str, Option<u16>, usize)> {
    if b.get(i) != Some(&b':') {
        return Some((host, host_raw, None, i));
    }
    // At most five digits fit a port; a longer run (leading zeros) is left to the general path.
    let p0 = i + 1;
    let mut j = p0;
    let mut port: u32 = 0;
    while let Some(&c) = b.get(j) {
        let d = c.wrapping_sub(b'0');
        if d >= 10 {
            break;
        }
        if j - p0 == 5 {
            return None;
        }
        port = port * 10 + u32::from(d);
        j += 1;
    }
    if j == p0 || b.get(j) == Some(&b':') {
        return None;
    }
    Some((host, host_raw, Some(u16::try_from(port).ok()?), j))
}

fn parse_sip_rest<'a>(
    raw: &'a str,
    scheme: Scheme<'a>,
    rest: &'a str,
    base: usize,
) -> Result<Uri<'a>, ParseError> {
    let b = rest.as_bytes();
    let (mut user, mut password, hp_start) = (None, None, 0);
    let mut hp_start = hp_start;
    if let Some(at) = crate::proto::scan::find_byte(b'@', b) {
        let userinfo = &rest[..at];
        let (u, p) = match crate::proto::scan::find_byte(b':', userinfo.as_bytes()) {
            Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
            None => (userinfo, None),
        };
        if u.is_empty() {
            return Err(ParseError::new(
                "sip.uri.user",
                "empty user part before `@`",
                base + at,
                1,
                RFC_ABNF,
            ));
        }
        check_chars(u, base, USER, "the URI user part")?;
        if let Some(p) = p {
            check_chars(p, base + u.len() + 1, PASSWORD, "the URI password")?;
        }
        user = Some(u);
        password = p;
        hp_start = at + 1;
    }
    // hostport ends at the first `;` or `?`.
    let hp_end = b[hp_start..]
        .iter()
        .position(|&c| c == b';' || c == b'?')
        .map_or(b.len(), |p| hp_start + p);
    let hostport = &rest[hp_start..hp_end];
    let (host, host_raw, port) = parse_hostport(hostport, base + hp_start, "URI")?;
    let after = &rest[hp_end..];
    let abase = base + hp_end;
    let (params_part, headers) = match crate::proto::scan::find_byte(b'?', after.as_bytes()) {
        Some(q) => (&after[..q], Some(&after[q + 1..])),
        None => (after, None),
    };
    let params = params_part.strip_prefix(';').unwrap_or(params_part);
    check_chars(params, abase + 1, PARAMS, "URI parameters")?;
    if let Some(h) = headers {
        check_chars(h, abase + params_part.len() + 1, HEADERS, "URI headers")?;
    }
    Ok(Uri {
        raw,
        scheme,
        user,
        password,
        host: Some(host),
        host_raw,
        port,
        params,
        headers,
    })
}

/// ```text
/// hostport      = host [ ":" port ]
/// host          = hostname / IPv4address / IPv6reference
/// hostname      = *( domainlabel "." ) toplabel [ "." ]
/// domainlabel   = alphanum / alphanum *( alphanum / "-" ) alphanum
/// toplabel      = ALPHA / ALPHA *( alphanum / "-" ) alphanum
/// IPv6reference = "[" IPv6address "]"
/// ```
/// Shared by URIs and Via sent-by; `what` names the context in errors.
pub(crate) fn parse_hostport<'a>(
    s: &'a str,
    base: usize,
    what: &str,
) -> Result<(Host<'a>, &'a str, Option<u16>), ParseError> {
    match hostport_fast(s) {
        Some((host, raw, port, n)) if n == s.len() => Ok((host, raw, port)),
        _ => parse_hostport_general(s, base, what),
    }
}

/// [`parse_hostport`] for every shape (IPv6 references included), with the error messages.
fn parse_hostport_general<'a>(
    s: &'a str,
    base: usize,
    what: &str,
) -> Result<(Host<'a>, &'a str, Option<u16>), ParseError> {
    if s.is_empty() {
        return Err(ParseError::new(
            "sip.uri.host",
            format!("{what} has no host"),
            base,
            1,
            RFC_ABNF,
        ));
    }
    let (host_raw, port_s) = if s.starts_with('[') {
        match crate::proto::scan::find_byte(b']', s.as_bytes()) {
            Some(e) => {
                let after = &s[e + 1..];
                match after.strip_prefix(':') {
                    Some(p) => (&s[..=e], Some((p, base + e + 2))),
                    None if after.is_empty() => (&s[..=e], None),
                    None => {
                        return Err(ParseError::new(
                            "sip.uri.host",
                            format!("unexpected `{}` after the IPv6 reference", clip(after)),
                            base + e + 1,
                            after.len(),
                            RFC_ABNF,
                        ));
                    }
                }
            }
            None => {
                return Err(ParseError::new(
                    "sip.uri.ipv6",
                    "IPv6 reference is missing its closing `]`",
                    base,
                    s.len(),
                    "RFC 5118 §4.3",
                ));
            }
        }
    } else {
        match memchr::memrchr(b':', s.as_bytes()) {
            Some(c) => {
                if crate::proto::scan::find_byte(b':', &s.as_bytes()[..c]).is_some() {
                    return Err(ParseError::new(
                        "sip.uri.ipv6-unbracketed",
                        format!(
                            "IPv6 address `{}` must be enclosed in `[` `]` (an IPv6 reference)",
                            clip(s)
                        ),
                        base,
                        s.len(),
                        "RFC 5118 §4.10",
                    ));
                }
                (&s[..c], Some((&s[c + 1..], base + c + 1)))
            }
            None => (s, None),
        }
    };
    let host = parse_host(host_raw, base)?;
    let port = match port_s {
        None => None,
        Some((p, pbase)) => Some(parse_port(p, pbase)?),
    };
    Ok((host, host_raw, port))
}

fn parse_port(p: &str, base: usize) -> Result<u16, ParseError> {
    if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::new(
            "sip.uri.port",
            format!("port must be digits, found `{}`", clip(p)),
            base,
            p.len().max(1),
            RFC_ABNF,
        ));
    }
    p.parse::<u16>().map_err(|_| {
        ParseError::new(
            "sip.uri.port",
            format!("port {} is out of range (0-65535)", clip(p)),
            base,
            p.len(),
            RFC_ABNF,
        )
    })
}

fn parse_host(h: &str, base: usize) -> Result<Host<'_>, ParseError> {
    if let Some(inner) = h.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or(inner);
        // RFC 5118 §4.10: RFC 3261's ABNF derives `2001:db8:::192.0.2.1` (three colons before
        // an embedded IPv4 address); implementations must tolerate it.
        let tolerated = match inner.find(":::") {
            Some(i) if inner[i + 3..].contains('.') => {
                format!("{}::{}", &inner[..i], &inner[i + 3..])
                    .parse::<Ipv6Addr>()
                    .ok()
            }
            _ => None,
        };
        if let Some(a) = tolerated {
            return Ok(Host::V6(a));
        }
        return inner.parse::<Ipv6Addr>().map(Host::V6).map_err(|_| {
            ParseError::new(
                "sip.uri.ipv6",
                format!("`{}` is not a valid IPv6 address", clip(inner)),
                base + 1,
                inner.len().max(1),
                "RFC 5118 §4",
            )
        });
    }
    let b = h.as_bytes();
    if b.is_empty() {
        return Err(ParseError::new(
            "sip.uri.host",
            "empty host",
            base,
            1,
            RFC_ABNF,
        ));
    }
    if b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return h.parse::<Ipv4Addr>().map(Host::V4).map_err(|_| {
            ParseError::new(
                "sip.uri.ipv4",
                format!("`{}` is not a valid IPv4 address", clip(h)),
                base,
                h.len(),
                RFC_ABNF,
            )
        });
    }
    // hostname: labels of alphanum and inner "-", top label starting with a letter.
    let trimmed = h.strip_suffix('.').unwrap_or(h);
    let mut off = 0;
    let mut last_label: &[u8] = b"";
    for lb in trimmed.as_bytes().split(|&c| c == b'.') {
        let bad = lb.is_empty()
            || !lb.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            || lb[0] == b'-'
            || lb[lb.len() - 1] == b'-';
        if bad {
            let pos = lb
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || *c == b'-'))
                .unwrap_or(0);
            return Err(ParseError::new(
                "sip.uri.host",
                format!("invalid host name `{}`", clip(h)),
                base + off + pos,
                1,
                RFC_ABNF,
            ));
        }
        off += lb.len() + 1;
        last_label = lb;
    }
    if !last_label[0].is_ascii_alphabetic() {
        return Err(ParseError::new(
            "sip.uri.host",
            format!(
                "invalid host name `{}`: the top label must start with a letter",
                clip(h)
            ),
            base,
            h.len(),
            RFC_ABNF,
        ));
    }
    Ok(Host::Name(h))
}

/// Shorten a string for an error message.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 60;
    if s.len() <= MAX {
        s.escape_debug().to_string()
    } else {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", s[..end].escape_debug())
    }
}

/// Whether `s` is a plain token (for callers checking method names and similar).
pub fn is_token_str(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_parts() {
        let u = Uri::parse(
            "sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi",
            0,
        )
        .expect("valid");
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.user, Some("alice"));
        assert_eq!(u.password, Some("pw"));
        assert_eq!(u.host, Some(Host::V6("2001:db8::1".parse().expect("ip"))));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some("tcp"));
        assert_eq!(u.param("LR"), Some(None));
        assert_eq!(u.headers, Some("Subject=hi"));
    }

    #[test]
    fn escaped_null_does_not_truncate() {
        let u = Uri::parse("sip:null-%00-null@example.com", 0).expect("valid");
        assert_eq!(&*unescape(u.user.expect("user")), b"null-\0-null");
    }

    #[test]
    fn user_with_semicolons() {
        let u = Uri::parse("sip:user;par=u%40example.net@example.com", 0).expect("valid");
        assert_eq!(u.user, Some("user;par=u%40example.net"));
        assert_eq!(u.host, Some(Host::Name("example.com")));
    }

    #[test]
    fn unbracketed_ipv6_is_an_error() {
        let e = Uri::parse("sip:user@2001:db8::10", 4).expect_err("invalid");
        assert_eq!(e.code, "sip.uri.ipv6-unbracketed");
        assert_eq!(e.offset, 4 + 9);
    }

    #[test]
    fn bad_escape_and_port() {
        assert_eq!(
            Uri::parse("sip:a%4@x.com", 0).expect_err("bad").code,
            "sip.uri.escape"
        );
        assert_eq!(
            Uri::parse("sip:x.com:70000", 0).expect_err("bad").code,
            "sip.uri.port"
        );
        assert_eq!(
            Uri::parse("sip:x.com:", 0).expect_err("bad").code,
            "sip.uri.port"
        );
    }

    #[test]
    fn fast_hostport_reads_addresses() {
        let v4 = |s: &str| Host::V4(s.parse().expect("address"));
        assert_eq!(
            hostport_fast("192.0.2.10:5060;branch=z"),
            Some((v4("192.0.2.10"), "192.0.2.10", Some(5060), 15))
        );
        assert_eq!(
            hostport_fast("10.0.0.1>"),
            Some((v4("10.0.0.1"), "10.0.0.1", None, 8))
        );
        // Not an address after all: the label rules decide.
        assert_eq!(hostport_fast("1.2.3.4.5"), None);
        assert_eq!(hostport_fast("1.2.3.4a"), None);
        assert_eq!(hostport_fast("1.2.3.4."), None);
        assert_eq!(hostport_fast("1.2.3.04"), None);
        assert_eq!(hostport_fast("1.2.3.256"), None);
        assert_eq!(
            hostport_fast("1.2.3.4-x.example"),
            Some((
                Host::Name("1.2.3.4-x.example"),
                "1.2.3.4-x.example",
                None,
                17
            ))
        );
        assert_eq!(
            hostport_fast("1.2.3.example:7"),
            Some((Host::Name("1.2.3.example"), "1.2.3.example", Some(7), 15))
        );
    }

    #[test]
    fn other_schemes_kept() {
        let u = Uri::parse("http://example.com/a?b", 0).expect("valid");
        assert_eq!(u.scheme, Scheme::Other("http"));
        let t = Uri::parse("tel:+1-201-555-0123;phone-context=example.com", 0).expect("tel");
        assert_eq!(t.user, Some("+1-201-555-0123"));
        assert_eq!(t.params, "phone-context=example.com");
    }

    proptest::proptest! {
        /// The one-pass scanner accepts only what the general parser accepts, with the same
        /// result; where it declines, the general parser decides.
        #[test]
        fn fast_uri_agrees_with_the_general_parser(
            s in "(sip|SIP|sips|SiPs|tel|sip|sip):[a-zA-Z0-9.@:;=?%&_\\-\\[\\]! ]{0,24}"
        ) {
            if let Some(fast) = sip_uri_fast(&s) {
                proptest::prop_assert_eq!(Ok(fast), parse_uri_general(&s, 0));
            }
        }

        /// Address-shaped hosts take the address shortcut in `hostport_fast`; it must agree
        /// with the general parser on where the host ends and what it is.
        #[test]
        fn fast_hostport_agrees_on_addresses(
            s in "[0-9]{1,4}(\\.[0-9]{1,4}){0,4}\\.?(:[0-9]{0,6})?[.a;:\\-]?"
        ) {
            if let Some((host, raw, port, n)) = hostport_fast(&s)
                && n == s.len()
            {
                proptest::prop_assert_eq!(
                    Ok((host, raw, port)),
                    parse_hostport_general(&s, 0, "URI")
                );
            }
        }

        #[test]
        fn fast_hostport_agrees_with_the_general_parser(
            s in "[a-z0-9.:\\-A\\[\\]]{0,16}"
        ) {
            if let Some((host, raw, port, n)) = hostport_fast(&s)
                && n == s.len()
            {
                proptest::prop_assert_eq!(
                    Ok((host, raw, port)),
                    parse_hostport_general(&s, 0, "URI")
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Inside `<` `>`: where the prefix scan stops at a `>`, it is the first `>` and the
        /// result is the whole-URI parse of the text before it.
        #[test]
        fn uri_prefix_stops_at_the_closing_bracket(
            s in "(sip|SIP|sips|tel):[a-zA-Z0-9.@:;=?%&_,\\-\\[\\]! ]{0,24}>[a-z;=@>]{0,6}"
        ) {
            if let Some((u, n)) = sip_uri_prefix::<false>(&s)
                && s.as_bytes().get(n) == Some(&b'>')
            {
                proptest::prop_assert_eq!(Some(n), s.find('>'));
                proptest::prop_assert_eq!(Ok(u), parse_uri_general(&s[..n], 0));
                proptest::prop_assert_eq!(Some(u), sip_uri_fast(&s[..n]));
            }
        }

        /// Outside brackets: where the bare scan stops at `;` or the end, that is where the
        /// addr-spec ends (first `;` or white space), it holds no `,` or `?`, and the result
        /// is the whole-URI parse of it.
        #[test]
        fn bare_uri_prefix_stops_where_the_addr_spec_ends(
            s in "(sip|SIP|sips):[a-zA-Z0-9.@:;=?%&_,\\-\\[\\]! ]{0,24}(;[a-z=]{0,5})?"
        ) {
            if let Some((u, n)) = sip_uri_prefix::<true>(&s)
                && matches!(s.as_bytes().get(n), None | Some(b';'))
            {
                let end = s.find([';', ' ', '\t']).unwrap_or(s.len());
                proptest::prop_assert_eq!(n, end);
                proptest::prop_assert!(!s[..n].contains([',', '?']));
                proptest::prop_assert_eq!(Ok(u), parse_uri_general(&s[..n], 0));
            }
        }

        /// An address followed by anything: the prefix reader takes what std's parser takes
        /// of it, or refuses.
        #[test]
        fn ipv4_prefix_agrees_with_std(s in "[0-9]{1,4}(\\.[0-9]{1,4}){0,4}[.:;>a0-9]?") {
            if let Some((a, n)) = ipv4_prefix(s.as_bytes()) {
                proptest::prop_assert_eq!(s[..n].parse::<Ipv4Addr>(), Ok(a));
                proptest::prop_assert!(!s.as_bytes().get(n).is_some_and(u8::is_ascii_digit));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn ipv4_agrees_with_std(s in "[0-9.]{0,16}") {
            proptest::prop_assert_eq!(ipv4(s.as_bytes()), s.parse::<Ipv4Addr>().ok());
        }
    }

    #[test]
    fn ipv4_edge_cases_agree_with_std() {
        for s in [
            "0.0.0.0",
            "255.255.255.255",
            "256.0.0.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.",
            "1..2.3",
            "1.2.3.0400",
            "192.0.2.10",
            "",
            ".1.2.3",
        ] {
            assert_eq!(ipv4(s.as_bytes()), s.parse::<Ipv4Addr>().ok(), "{s}");
        }
    }

    #[test]
    fn fast_paths_take_the_common_shapes() {
        for s in [
            "sip:bob@biloxi.example.com",
            "sips:alice:pw@atlanta.example.com:5061;transport=tcp;lr?Subject=hi",
            "sip:192.0.2.10:5060;lr",
            "SIP:host.example.com.",
        ] {
            let fast = sip_uri_fast(s).expect(s);
            assert_eq!(Ok(fast), parse_uri_general(s, 0), "{s}");
        }
        for s in [
            "sip:[2001:db8::1]",
            "sip:a%41@h.com",
            "sip:1.2.3.4.",
            "sip:h.com:",
            "sip:h.com:65536",
            "sip:a-.com",
            "sip:a..com",
            "sip:1host",
        ] {
            assert_eq!(sip_uri_fast(s), None, "{s}");
        }
    }

    #[test]
    fn hostnames() {
        assert!(Uri::parse("sip:a.example.com.", 0).is_ok());
        assert!(Uri::parse("sip:1.2.3.4", 0).is_ok());
        assert!(Uri::parse("sip:1.2.3.400", 0).is_err());
        assert!(Uri::parse("sip:-a.com", 0).is_err());
        assert!(Uri::parse("sip:a_b.com", 0).is_err());
    }
}
