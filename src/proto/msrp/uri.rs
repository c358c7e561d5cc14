//! MSRP URIs (RFC 4975 §6, §9): the addresses in To-Path, From-Path and Use-Path.
//!
//! Session routing compares URIs with the §6.1 rules, which are neither plain string equality
//! nor RFC 3986 normalisation, so the comparison lives here next to the parser.

use std::fmt;
use std::net::IpAddr;

use crate::proto::ParseError;

const RFC_SYNTAX: &str = "RFC 4975 §9";
const RFC_URI: &str = "RFC 4975 §6";

/// `msrp-scheme = "msrp" / "msrps"`; `msrps` means the connection MUST use TLS (§6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `msrp`, plain TCP.
    Msrp,
    /// `msrps`, TCP protected by TLS.
    Msrps,
}

impl Scheme {
    /// The lowercase scheme name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Msrp => "msrp",
            Scheme::Msrps => "msrps",
        }
    }
}

/// One parsed MSRP URI, borrowing from the header value it was found in.
///
/// `PartialEq` is structural (same text); use [`MsrpUri::equivalent`] for the §6.1 comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsrpUri<'a> {
    /// The whole URI as written; `Display` writes it back unchanged.
    pub raw: &'a str,
    /// `msrp` or `msrps`.
    pub scheme: Scheme,
    /// The userinfo before `@`, if any (never a password: §6 forbids it).
    pub userinfo: Option<&'a str>,
    /// The host as written; an IPv6 reference keeps its brackets.
    pub host: &'a str,
    /// The host as an address when it is an IPv4 address or an IPv6 reference.
    pub ip: Option<IpAddr>,
    /// The explicit port.
    pub port: Option<u16>,
    /// The session-id after `/`; absent when the URI names an MSRP host device (§6).
    pub session_id: Option<&'a str>,
    /// The transport parameter (`tcp` for RFC 4975).
    pub transport: &'a str,
    /// The URI parameters after the transport, raw, each starting with `;` (may be empty).
    pub params: &'a str,
}

/// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"` (RFC 3986 §2.3).
pub(crate) const fn is_unreserved(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~')
}

/// `sub-delims` (RFC 3986 §2.2).
const fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// The MSRP `token` of RFC 4975 §9, which is wider than SIP's (it admits `#`, `$`, `&`, `^`,
/// `|`, braces), so [`crate::proto::scan::is_token`] cannot be reused for it.
///
/// `token = 1*(%x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E)`
pub const fn is_msrp_token(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x27 | 0x2A..=0x2B | 0x2D..=0x2E | 0x30..=0x39 | 0x41..=0x5A | 0x5E..=0x7E)
}

fn is_token_str(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_msrp_token)
}

/// Check `%` HEXDIG HEXDIG escapes; `ok` says which other bytes are allowed.
fn check_pct(s: &str, ok: impl Fn(u8) -> bool) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(|c| c.is_ascii_hexdigit());
            if !(hex(i + 1) && hex(i + 2)) {
                return Some(i);
            }
            i += 3;
        } else if ok(b[i]) {
            i += 1;
        } else {
            return Some(i);
        }
    }
    None
}

fn err(
    code: &'static str,
    msg: String,
    offset: usize,
    len: usize,
    rfc: &'static str,
) -> ParseError {
    ParseError::new(code, msg, offset, len.max(1), rfc)
}

impl<'a> MsrpUri<'a> {
    /// Parse one URI; error offsets are relative to `s`.
    ///
    /// ```text
    /// MSRP-URI = msrp-scheme "://" authority
    ///     ["/" session-id] ";" transport *( ";" URI-parameter)
    /// msrp-scheme = "msrp" / "msrps"
    /// session-id = 1*( unreserved / "+" / "=" / "/" )
    /// transport = "tcp" / 1*ALPHANUM
    /// URI-parameter = token ["=" token]
    /// authority = [ userinfo "@" ] host [ ":" port ]          ; RFC 3986
    /// ```
    pub fn parse(s: &'a str) -> Result<MsrpUri<'a>, ParseError> {
        let Some(sep) = s.find("://") else {
            return Err(err(
                "msrp.uri.scheme",
                format!("expected msrp:// or msrps://, found {:?}", s),
                0,
                s.len(),
                RFC_SYNTAX,
            ));
        };
        let scheme = match &s[..sep] {
            x if x.eq_ignore_ascii_case("msrp") => Scheme::Msrp,
            x if x.eq_ignore_ascii_case("msrps") => Scheme::Msrps,
            x => {
                return Err(err(
                    "msrp.uri.scheme",
                    format!("expected scheme msrp or msrps, found {x:?}"),
                    0,
                    sep,
                    RFC_SYNTAX,
                ));
            }
        };
        let auth_start = sep + 3;
        let rest = &s[auth_start..];
        // The authority ends at the session-id's "/" or the transport's ";"; brackets protect
        // the colons of an IPv6 reference but nothing in an authority may contain "/" or ";"
        // for MSRP to stay unambiguous.
        let auth_len = rest.find(['/', ';']).unwrap_or(rest.len());
        let authority = &rest[..auth_len];
        let (userinfo, hostport, hp_start) = match authority.rfind('@') {
            Some(at) => (
                Some(&authority[..at]),
                &authority[at + 1..],
                auth_start + at + 1,
            ),
            None => (None, authority, auth_start),
        };
        if let Some(ui) = userinfo {
            if let Some(i) = ui.find(':') {
                return Err(err(
                    "msrp.uri.userinfo",
                    "userinfo must not contain a password (\":\")".into(),
                    auth_start + i,
                    1,
                    RFC_URI,
                ));
            }
            if let Some(i) = check_pct(ui, |b| is_unreserved(b) || is_sub_delim(b)) {
                return Err(err(
                    "msrp.uri.userinfo",
                    "invalid character in userinfo".into(),
                    auth_start + i,
                    1,
                    RFC_SYNTAX,
                ));
            }
        }
        let (host, port_text, port_at) = if hostport.starts_with('[') {
            let Some(close) = hostport.find(']') else {
                return Err(err(
                    "msrp.uri.host",
                    "unterminated ipv6 reference, expected \"]\"".into(),
                    hp_start,
                    hostport.len(),
                    RFC_SYNTAX,
                ));
            };
            let after = &hostport[close + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => {
                    return Err(err(
                        "msrp.uri.host",
                        format!("expected \":\" port after ipv6 reference, found {after:?}"),
                        hp_start + close + 1,
                        after.len(),
                        RFC_SYNTAX,
                    ));
                }
            };
            (&hostport[..close + 1], port, hp_start + close + 2)
        } else {
            match hostport.rfind(':') {
                Some(c) => (&hostport[..c], Some(&hostport[c + 1..]), hp_start + c + 1),
                None => (hostport, None, 0),
            }
        };
        let ip = if let Some(inner) = host.strip_prefix('[') {
            let inner = inner.strip_suffix(']').unwrap_or(inner);
            match inner.parse::<std::net::Ipv6Addr>() {
                Ok(a) => Some(IpAddr::V6(a)),
                Err(_) => {
                    return Err(err(
                        "msrp.uri.host",
                        format!("invalid ipv6 address {inner:?}"),
                        hp_start,
                        host.len(),
                        RFC_SYNTAX,
                    ));
                }
            }
        } else {
            if host.is_empty() {
                return Err(err(
                    "msrp.uri.host",
                    "expected a host, found nothing".into(),
                    hp_start,
                    0,
                    RFC_SYNTAX,
                ));
            }
            if let Some(i) = check_pct(host, |b| is_unreserved(b) || (is_sub_delim(b) && b != b';'))
            {
                return Err(err(
                    "msrp.uri.host",
                    "invalid character in host".into(),
                    hp_start + i,
                    1,
                    RFC_SYNTAX,
                ));
            }
            host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
        };
        let port = match port_text {
            None => None,
            Some(p) => {
                let parsed = if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                    p.parse::<u16>().ok()
                } else {
                    None
                };
                match parsed {
                    Some(n) => Some(n),
                    None => {
                        return Err(err(
                            "msrp.uri.port",
                            format!("expected a port number 0-65535, found {p:?}"),
                            port_at,
                            p.len(),
                            RFC_SYNTAX,
                        ));
                    }
                }
            }
        };
        if ip.is_some() && port.is_none() {
            return Err(err(
                "msrp.uri.port.missing",
                "a uri with a numeric ip address must contain a port".into(),
                hp_start,
                host.len(),
                RFC_URI,
            ));
        }
        let mut pos = auth_start + auth_len;
        let mut session_id = None;
        if s[pos..].starts_with('/') {
            let sid_len = s[pos + 1..].find(';').unwrap_or(s.len() - pos - 1);
            let sid = &s[pos + 1..pos + 1 + sid_len];
            let bad = sid
                .bytes()
                .position(|b| !(is_unreserved(b) || matches!(b, b'+' | b'=' | b'/')));
            if sid.is_empty() || bad.is_some() {
                return Err(err(
                    "msrp.uri.session-id",
                    format!("invalid session-id {sid:?}"),
                    pos + 1 + bad.unwrap_or(0),
                    1,
                    RFC_SYNTAX,
                ));
            }
            session_id = Some(sid);
            pos += 1 + sid_len;
        }
        let Some(after_semi) = s[pos..].strip_prefix(';') else {
            return Err(err(
                "msrp.uri.transport",
                "expected \";\" and a transport parameter such as \";tcp\"".into(),
                pos,
                s.len() - pos,
                RFC_SYNTAX,
            ));
        };
        let t_len = after_semi.find(';').unwrap_or(after_semi.len());
        let transport = &after_semi[..t_len];
        if transport.is_empty() || !transport.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(err(
                "msrp.uri.transport",
                format!("expected a transport of letters and digits, found {transport:?}"),
                pos + 1,
                transport.len(),
                RFC_SYNTAX,
            ));
        }
        let params_start = pos + 1 + t_len;
        let params = &s[params_start..];
        let mut p_off = params_start;
        for p in params.split(';').skip(1) {
            p_off += 1;
            let ok = match p.split_once('=') {
                Some((n, v)) => is_token_str(n) && is_token_str(v),
                None => is_token_str(p),
            };
            if !ok {
                return Err(err(
                    "msrp.uri.param",
                    format!("expected uri-parameter token [\"=\" token], found {p:?}"),
                    p_off,
                    p.len(),
                    RFC_SYNTAX,
                ));
            }
            p_off += p.len();
        }
        Ok(MsrpUri {
            raw: s,
            scheme,
            userinfo,
            host,
            ip,
            port,
            session_id,
            transport,
            params,
        })
    }

    /// URI comparison of RFC 4975 §6.1: scheme and transport case-insensitively, addresses by
    /// value, host names case-insensitively after decoding percent-encoded unreserved
    /// characters, ports and session-ids exactly (an absent one never equals a present one),
    /// userinfo and other URI parameters ignored.
    pub fn equivalent(&self, other: &MsrpUri<'_>) -> bool {
        let host_eq = match (self.ip, other.ip) {
            (Some(a), Some(b)) => a == b,
            _ => normalized_host(self.host).eq(normalized_host(other.host)),
        };
        self.scheme == other.scheme
            && host_eq
            && self.port == other.port
            && self.session_id == other.session_id
            && self.transport.eq_ignore_ascii_case(other.transport)
    }
}

/// The bytes of a host with unreserved percent-escapes decoded and letters (and the hex digits
/// of remaining escapes) folded to lowercase, for the §6.1 comparison.
fn normalized_host(h: &str) -> impl Iterator<Item = u8> + '_ {
    let b = h.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        let c = *b.get(i)?;
        if c == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|x| std::str::from_utf8(x).ok());
            if let Some(v) = hex.and_then(|x| u8::from_str_radix(x, 16).ok()) {
                if is_unreserved(v) {
                    i += 3;
                    return Some(v.to_ascii_lowercase());
                }
            }
        }
        i += 1;
        Some(c.to_ascii_lowercase())
    })
}

impl fmt::Display for MsrpUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> MsrpUri<'_> {
        MsrpUri::parse(s).expect("test uri parses")
    }

    #[test]
    fn parses_rfc_example() {
        let x = u("msrp://host.example.com:8493/asfd34;tcp");
        assert_eq!(x.scheme, Scheme::Msrp);
        assert_eq!(x.host, "host.example.com");
        assert_eq!(x.port, Some(8493));
        assert_eq!(x.session_id, Some("asfd34"));
        assert_eq!(x.transport, "tcp");
        assert_eq!(x.params, "");
        assert_eq!(x.userinfo, None);
        assert_eq!(x.to_string(), "msrp://host.example.com:8493/asfd34;tcp");
    }

    #[test]
    fn parses_userinfo_ipv6_params() {
        let x = u("msrps://alice@intra.example.com;tcp");
        assert_eq!(x.userinfo, Some("alice"));
        assert_eq!(x.port, None);
        assert_eq!(x.session_id, None);
        let y = u("msrp://[2001:db8::1]:2855/a+b=c/d;tcp;foo=bar;baz");
        assert_eq!(y.host, "[2001:db8::1]");
        assert_eq!(y.ip, Some("2001:db8::1".parse().expect("ip")));
        assert_eq!(y.port, Some(2855));
        assert_eq!(y.session_id, Some("a+b=c/d"));
        assert_eq!(y.params, ";foo=bar;baz");
        let z = u("MSRP://192.0.2.1:7/s;TCP");
        assert_eq!(z.ip, Some("192.0.2.1".parse().expect("ip")));
    }

    #[test]
    fn rejects_bad_uris_with_codes() {
        let cases = [
            ("sip://a.example/x;tcp", "msrp.uri.scheme", 0),
            ("msrp//a/x;tcp", "msrp.uri.scheme", 0),
            ("msrp://a.example:99999/x;tcp", "msrp.uri.port", 17),
            ("msrp://a.example:/x;tcp", "msrp.uri.port", 17),
            ("msrp://192.0.2.1/x;tcp", "msrp.uri.port.missing", 7),
            ("msrp://[::1]/x;tcp", "msrp.uri.port.missing", 7),
            ("msrp://[::1/x;tcp", "msrp.uri.host", 7),
            ("msrp://[zz]:1/x;tcp", "msrp.uri.host", 7),
            ("msrp://:1/x;tcp", "msrp.uri.host", 7),
            ("msrp://a b:1/x;tcp", "msrp.uri.host", 8),
            ("msrp://u:pw@a:1/x;tcp", "msrp.uri.userinfo", 8),
            ("msrp://a:1/x", "msrp.uri.transport", 12),
            ("msrp://a:1/x;", "msrp.uri.transport", 13),
            ("msrp://a:1/;tcp", "msrp.uri.session-id", 11),
            ("msrp://a:1/a?b;tcp", "msrp.uri.session-id", 12),
            ("msrp://a:1/x;tcp;=", "msrp.uri.param", 17),
        ];
        for (s, code, off) in cases {
            let e = MsrpUri::parse(s).expect_err(s);
            assert_eq!((e.code, e.offset), (code, off), "{s}: {e}");
        }
    }

    #[test]
    fn comparison_follows_6_1() {
        let eq = |a: &str, b: &str| u(a).equivalent(&u(b));
        // scheme and host case-insensitive, transport case-insensitive
        assert!(eq(
            "MSRP://Host.Example.COM:1/s;TCP",
            "msrp://host.example.com:1/s;tcp"
        ));
        // userinfo ignored, extra params ignored
        assert!(eq("msrp://bob@h:1/s;tcp", "msrp://h:1/s;tcp;x=y"));
        // percent-encoded unreserved characters decoded in the authority
        assert!(eq("msrp://%68ost:1/s;tcp", "msrp://HOST:1/s;tcp"));
        // ip addresses compared by value
        assert!(eq(
            "msrp://[2001:db8:0::1]:1/s;tcp",
            "msrp://[2001:DB8::1]:1/s;tcp"
        ));
        // session-id case-sensitive
        assert!(!eq("msrp://h:1/S;tcp", "msrp://h:1/s;tcp"));
        // explicit port never equals missing port
        assert!(!eq("msrp://h:1/s;tcp", "msrp://h/s;tcp"));
        assert!(!eq("msrp://h:1/s;tcp", "msrp://h:2/s;tcp"));
        // missing session-id never equals present one
        assert!(!eq("msrp://h:1;tcp", "msrp://h:1/s;tcp"));
        // scheme and transport must match
        assert!(!eq("msrps://h:1/s;tcp", "msrp://h:1/s;tcp"));
        assert!(!eq("msrp://h:1/s;tcp", "msrp://h:1/s;sctp"));
    }
}
