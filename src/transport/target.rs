//! What the user typed as a destination, checked before any network traffic: a SIP or SIPS URI
//! (RFC 3261 §19.1, with `transport=`, `maddr` and port), or a shorthand naming the transport
//! (`udp:host[:port]`, `tcp:`, `tls:`, `ws://host[:port][/path]`, `wss://`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::proto::sip::{Host, Scheme, Uri};

use super::{Proto, TargetError};

/// A parsed target: where to send and how, before DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    text: String,
    sips: bool,
    proto: Option<Proto>,
    host: String,
    maddr: Option<String>,
    port: Option<u16>,
    ws_path: String,
    request_uri: String,
}

impl TargetSpec {
    /// Parse a target as typed on the command line.
    ///
    /// ```text
    /// target    = SIP-URI / SIPS-URI                  ; RFC 3261 §25.1
    ///           / ( "udp" / "tcp" / "tls" ) ":" [ user "@" ] hostport
    ///           / ( "ws" / "wss" ) "://" hostport [ path ]
    ///           / hostport                              ; as sip:hostport
    /// hostport  = host [ ":" port ]                     ; IPv6 in brackets
    /// ```
    pub fn parse(text: &str) -> Result<TargetSpec, TargetError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TargetError::Empty);
        }
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("sip:") || lower.starts_with("sips:") {
            return parse_uri(text);
        }
        for (prefix, proto) in [("wss://", Proto::Wss), ("ws://", Proto::Ws)] {
            if lower.starts_with(prefix) {
                let rest = text.get(prefix.len()..).unwrap_or_default();
                let (authority, path) = match rest.find('/') {
                    Some(i) => rest.split_at(i),
                    None => (rest, "/"),
                };
                return shorthand(text, proto, authority, path);
            }
        }
        if let Some((scheme, rest)) = text.split_once(':') {
            if let Some(proto) = Proto::from_name(scheme) {
                let rest = rest.strip_prefix("//").unwrap_or(rest);
                return shorthand(text, proto, rest, "/");
            }
            let is_port = !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
            let word = scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
            if !is_port && word && !scheme.is_empty() {
                return Err(TargetError::UnknownTransport {
                    transport: scheme.to_owned(),
                    target: text.to_owned(),
                });
            }
        }
        // A bare host[:port] is taken as a sip: URI.
        shorthand(text, Proto::Udp, text, "/").map(|mut spec| {
            spec.proto = None;
            spec.request_uri = format!("sip:{}", uri_hostport(&spec.host, spec.port));
            spec
        })
    }

    /// The target as typed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The host the target names (no brackets around IPv6), used for TLS SNI and WebSocket
    /// `Host`. An `maddr` parameter does not change it; see [`TargetSpec::lookup_host`].
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host to locate: `maddr` when the URI has one (RFC 3263 §4), else [`TargetSpec::host`].
    pub fn lookup_host(&self) -> &str {
        self.maddr.as_deref().unwrap_or(&self.host)
    }

    /// The host as an IP address, when it is numeric (no DNS needed, RFC 3263 §4.2).
    pub fn ip(&self) -> Option<IpAddr> {
        self.lookup_host().parse().ok()
    }

    /// The port, when the target names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The transport the target asks for explicitly (`transport=`, `udp:`...), if any.
    pub fn proto(&self) -> Option<Proto> {
        self.proto
    }

    /// Whether the target is a `sips:` URI (every hop over TLS, RFC 3261 §26.2.2).
    pub fn is_sips(&self) -> bool {
        self.sips
    }

    /// The WebSocket resource path (`/` unless a `ws://` target gave one).
    pub fn ws_path(&self) -> &str {
        &self.ws_path
    }

    /// The default Request-URI for this target: a URI as written (without `?headers`, which
    /// RFC 3261 §19.1.5 keeps out of Request-URIs), else `sip:[user@]host[:port]` with a
    /// `transport=` parameter for anything but UDP.
    pub fn request_uri(&self) -> String {
        self.request_uri.clone()
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_uri(text: &str) -> Result<TargetSpec, TargetError> {
    let uri = Uri::parse(text, 0).map_err(|error| TargetError::Uri {
        target: text.to_owned(),
        error,
    })?;
    let sips = uri.scheme == Scheme::Sips;
    let host = match uri.host {
        Some(Host::Name(n)) => n.to_owned(),
        Some(Host::V4(a)) => a.to_string(),
        Some(Host::V6(a)) => a.to_string(),
        None => {
            return Err(TargetError::Invalid {
                what: "host",
                found: String::new(),
                target: text.to_owned(),
                hint: "a sip: or sips: URI needs a host",
            });
        }
    };
    let proto = match uri.transport() {
        None => None,
        Some(t) => Some(
            Proto::from_name(t).ok_or_else(|| TargetError::UnknownTransport {
                transport: t.to_owned(),
                target: text.to_owned(),
            })?,
        ),
    };
    // RFC 3261 §26.2.2 / RFC 7118 §5.2: sips over tcp means TLS, over ws means WSS.
    let proto = match (sips, proto) {
        (true, Some(Proto::Tcp)) => Some(Proto::Tls),
        (true, Some(Proto::Ws)) => Some(Proto::Wss),
        (true, Some(Proto::Udp)) => {
            return Err(TargetError::InsecureSips {
                target: text.to_owned(),
                transport: "udp",
            });
        }
        (_, p) => p,
    };
    let maddr = uri
        .param("maddr")
        .flatten()
        .map(|m| m.trim_start_matches('[').trim_end_matches(']').to_owned());
    let request_uri = match text.find('?') {
        Some(i) => text.get(..i).unwrap_or(text).to_owned(),
        None => text.to_owned(),
    };
    Ok(TargetSpec {
        text: text.to_owned(),
        sips,
        proto,
        host,
        maddr,
        port: uri.port,
        ws_path: "/".to_owned(),
        request_uri,
    })
}

/// `[user@]host[:port]` after a transport prefix.
fn shorthand(
    text: &str,
    proto: Proto,
    authority: &str,
    path: &str,
) -> Result<TargetSpec, TargetError> {
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) if matches!(proto, Proto::Udp | Proto::Tcp | Proto::Tls) => (Some(u), h),
        _ => (None, authority),
    };
    let (host, port) = split_hostport(text, hostport)?;
    let hostport = uri_hostport(&host, port);
    let user = user.map(|u| format!("{u}@")).unwrap_or_default();
    let request_uri = match proto {
        Proto::Udp => format!("sip:{user}{hostport}"),
        Proto::Tcp | Proto::Tls => format!("sip:{user}{hostport};transport={proto}"),
        // The port stays: a server on a non-default WebSocket port (Kamailio, Asterisk) knows
        // itself by host and port, and RFC 7118 §5.2 SIP URIs carry them like any other
        // (issue 15). The path is HTTP's and stays out of the SIP URI.
        Proto::Ws | Proto::Wss => format!("sip:{hostport};transport={proto}"),
    };
    Ok(TargetSpec {
        text: text.to_owned(),
        sips: false,
        proto: Some(proto),
        host,
        maddr: None,
        port,
        ws_path: path.to_owned(),
        request_uri,
    })
}

/// `host [":" port]`, IPv6 references in brackets (RFC 3261 §25.1 `IPv6reference`).
fn split_hostport(target: &str, hostport: &str) -> Result<(String, Option<u16>), TargetError> {
    let invalid = |what, found: &str, hint| TargetError::Invalid {
        what,
        found: found.to_owned(),
        target: target.to_owned(),
        hint,
    };
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(invalid(
                "host",
                hostport,
                "an IPv6 address needs a closing `]`",
            ));
        };
        let v6: Ipv6Addr = v6
            .parse()
            .map_err(|_| invalid("IPv6 address", v6, "expected e.g. [2001:db8::1]"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| invalid("port", p, "expected `:PORT` after the IPv6 address"))?,
            ),
        };
        (v6.to_string(), port)
    } else {
        match hostport.split_once(':') {
            Some((_, p)) if p.contains(':') => {
                return Err(invalid(
                    "host",
                    hostport,
                    "write IPv6 addresses in brackets, e.g. [::1]:5060",
                ));
            }
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (hostport.to_owned(), None),
        }
    };
    let valid_name = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'));
    if !valid_name {
        return Err(invalid(
            "host",
            &host,
            "expected a domain name, an IPv4 address or an [IPv6] address",
        ));
    }
    if !host.contains(':') && host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        host.parse::<Ipv4Addr>()
            .map_err(|_| invalid("IPv4 address", &host, "expected four numbers 0-255"))?;
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| invalid("port", p, "expected a number from 1 to 65535"))?,
        ),
    };
    Ok((host, port))
}

/// `host[:port]` as written in a URI, with brackets around IPv6.
fn uri_hostport(host: &str, port: Option<u16>) -> String {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// Parse a local address for `--bind`: `ADDR` (port 0, chosen by the system) or `ADDR:PORT`,
/// IPv6 as `[::1]:5060` or a bare `::1`.
pub fn parse_bind(text: &str) -> Result<SocketAddr, TargetError> {
    parse_socket_addr(text, 0, "--bind")
}

/// Parse a DNS server for `--dns-server`: `IP` (port 53) or `IP:PORT`.
pub fn parse_dns_server(text: &str) -> Result<SocketAddr, TargetError> {
    parse_socket_addr(text, 53, "--dns-server")
}

fn parse_socket_addr(text: &str, default_port: u16, what: &str) -> Result<SocketAddr, TargetError> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, default_port))
        .map_err(|_| TargetError::Invalid {
            what: "address",
            found: text.to_owned(),
            target: what.to_owned(),
            hint: "expected IP or IP:PORT, IPv6 as [::1]:PORT",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> TargetSpec {
        TargetSpec::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn uri_with_transport_maddr_and_port() {
        let t = spec("sip:alice@example.com:5070;transport=TCP;maddr=192.0.2.7?Subject=x");
        assert_eq!(t.host(), "example.com");
        assert_eq!(t.lookup_host(), "192.0.2.7");
        assert_eq!(t.port(), Some(5070));
        assert_eq!(t.proto(), Some(Proto::Tcp));
        assert!(!t.is_sips());
        assert_eq!(
            t.request_uri(),
            "sip:alice@example.com:5070;transport=TCP;maddr=192.0.2.7"
        );
    }

    #[test]
    fn sips_over_tcp_is_tls_and_over_udp_is_refused() {
        assert_eq!(
            spec("sips:example.com;transport=tcp").proto(),
            Some(Proto::Tls)
        );
        assert_eq!(spec("sips:example.com").proto(), None);
        assert!(spec("sips:example.com").is_sips());
        assert!(matches!(
            TargetSpec::parse("sips:example.com;transport=udp"),
            Err(TargetError::InsecureSips { .. })
        ));
    }

    #[test]
    fn shorthands() {
        let t = spec("udp:[::1]:5062");
        assert_eq!(
            (t.host(), t.port(), t.proto()),
            ("::1", Some(5062), Some(Proto::Udp))
        );
        assert_eq!(t.request_uri(), "sip:[::1]:5062");
        assert_eq!(t.ip(), Some("::1".parse().expect("ip")));
        let t = spec("tls:bob@example.com");
        assert_eq!(t.request_uri(), "sip:bob@example.com;transport=tls");
        let t = spec("wss://edge.example.com:8443/sip/ws");
        assert_eq!(t.proto(), Some(Proto::Wss));
        assert_eq!(t.port(), Some(8443));
        assert_eq!(t.ws_path(), "/sip/ws");
        assert_eq!(t.request_uri(), "sip:edge.example.com:8443;transport=wss");
        assert_eq!(spec("ws://h").ws_path(), "/");
        assert_eq!(spec("ws://h").request_uri(), "sip:h;transport=ws");
        let t = spec("example.com:5080");
        assert_eq!((t.proto(), t.port()), (None, Some(5080)));
        assert_eq!(t.request_uri(), "sip:example.com:5080");
    }

    #[test]
    fn issue_15_a_ws_target_keeps_its_port_in_the_request_uri() {
        let t = spec("ws://127.0.0.1:8080/sip");
        assert_eq!(t.request_uri(), "sip:127.0.0.1:8080;transport=ws");
        let t = spec("wss://[::1]:7443");
        assert_eq!(t.request_uri(), "sip:[::1]:7443;transport=wss");
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        let e = TargetSpec::parse("xyz:example.com").expect_err("unknown transport");
        assert_eq!(
            e.to_string(),
            "unknown transport `xyz` in target `xyz:example.com`; expected udp, tcp, tls, ws or wss"
        );
        let e = TargetSpec::parse("sip:a@b;transport=sctp").expect_err("sctp");
        assert!(e.to_string().contains("unknown transport `sctp`"), "{e}");
        assert!(TargetSpec::parse("").is_err());
        assert!(TargetSpec::parse("udp:host:99999").is_err());
        assert!(TargetSpec::parse("udp:host:0").is_err());
        assert!(TargetSpec::parse("udp:::1").is_err());
        assert!(TargetSpec::parse("udp:[::1").is_err());
        assert!(TargetSpec::parse("tcp:300.1.1.1").is_err());
        assert!(TargetSpec::parse("tcp:bad host").is_err());
        assert!(TargetSpec::parse("sip:").is_err());
    }

    #[test]
    fn bind_and_dns_server_addresses() {
        assert_eq!(parse_bind("127.0.0.1").ok(), "127.0.0.1:0".parse().ok());
        assert_eq!(parse_bind("[::1]:5070").ok(), "[::1]:5070".parse().ok());
        assert_eq!(parse_bind("::1").ok(), "[::1]:0".parse().ok());
        assert_eq!(
            parse_dns_server("10.0.0.1").ok(),
            "10.0.0.1:53".parse().ok()
        );
        assert!(parse_bind("localhost").is_err());
    }
}
