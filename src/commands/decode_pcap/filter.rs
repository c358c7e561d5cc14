//! The message filters (`--call-id`, `--method`, `--status`, `--host`, `--grep`,
//! `--transport`): different filters combine with AND, values of one filter with OR.

use std::net::{IpAddr, SocketAddr};

use regex::bytes::Regex;

use super::framing::{Decoded, Meta};
use crate::capture::Transport;
use crate::cli::TransportName;
use crate::proto::msrp;

/// `--status 486` or `--status 4xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusFilter {
    Code(u16),
    Class(u16),
}

impl StatusFilter {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let bad = || format!("expected a status code like 486 or a class like 4xx, found {s:?}");
        if b.len() != 3 || !(b'1'..=b'6').contains(&b[0]) {
            return Err(bad());
        }
        if b[1..].eq_ignore_ascii_case(b"xx") {
            return Ok(StatusFilter::Class(u16::from(b[0] - b'0')));
        }
        s.parse().map(StatusFilter::Code).map_err(|_| bad())
    }

    fn matches(self, code: u16) -> bool {
        match self {
            StatusFilter::Code(c) => c == code,
            StatusFilter::Class(c) => code / 100 == c,
        }
    }
}

/// `--host 10.0.0.1` or `--host 10.0.0.1:5060` or `--host [2001:db8::1]:5060`; an IPv6
/// address in brackets without a port (`--host [2001:db8::1]`, as URIs write it) is any port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostFilter {
    ip: IpAddr,
    port: Option<u16>,
}

impl HostFilter {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(HostFilter { ip, port: None });
        }
        if let Some(Ok(ip)) = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .map(str::parse::<std::net::Ipv6Addr>)
        {
            return Ok(HostFilter {
                ip: IpAddr::V6(ip),
                port: None,
            });
        }
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(HostFilter {
                ip: sa.ip(),
                port: Some(sa.port()),
            });
        }
        Err(format!(
            "expected IP, IP:PORT, [IPv6] or [IPv6]:PORT, found {s:?} (host names are not resolved)"
        ))
    }

    fn matches(self, a: SocketAddr) -> bool {
        a.ip() == self.ip && self.port.is_none_or(|p| p == a.port())
    }
}

/// Every filter of the run; empty lists match everything.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    pub(crate) call_ids: Vec<String>,
    pub(crate) methods: Vec<String>,
    pub(crate) statuses: Vec<StatusFilter>,
    pub(crate) hosts: Vec<HostFilter>,
    pub(crate) grep: Option<Regex>,
    pub(crate) transports: Vec<TransportName>,
    /// `--problems`: only messages with a finding of at least this severity.
    pub(crate) problems: Option<crate::proto::Severity>,
    /// Field values `--problems` found clean recently.
    pub(crate) checked: std::cell::RefCell<crate::proto::sip::FieldCache>,
}

impl Filter {
    /// No filter asked for: every message passes.
    pub(crate) fn is_empty(&self) -> bool {
        self.call_ids.is_empty()
            && self.methods.is_empty()
            && self.statuses.is_empty()
            && self.hosts.is_empty()
            && self.grep.is_none()
            && self.transports.is_empty()
            && self.problems.is_none()
    }

    /// Whether a message passes. `call_id` is the message's Call-ID, or for MSRP the Call-ID of
    /// the SIP dialog that negotiated its session.
    pub(crate) fn matches(
        &self,
        meta: &Meta<'_>,
        msg: &Decoded<'_>,
        raw: &[u8],
        call_id: Option<&str>,
    ) -> bool {
        if let Some(least) = self.problems {
            let mut scratch = Vec::new();
            let mut cache = self.checked.borrow_mut();
            let findings = super::framing::message_findings(meta, msg, &mut scratch, &mut cache);
            if !findings.iter().any(|f| f.severity >= least) {
                return false;
            }
        }
        if !self.transports.is_empty() {
            let t = match meta.transport {
                Transport::Udp => TransportName::Udp,
                Transport::Tcp => TransportName::Tcp,
                Transport::Ws => TransportName::Ws,
            };
            if !self.transports.contains(&t) {
                return false;
            }
        }
        if !self.hosts.is_empty()
            && !self
                .hosts
                .iter()
                .any(|h| h.matches(meta.src) || h.matches(meta.dst))
        {
            return false;
        }
        if !self.call_ids.is_empty()
            && !call_id.is_some_and(|id| self.call_ids.iter().any(|c| c == id))
        {
            return false;
        }
        if !self.methods.is_empty() {
            let method = match msg {
                Decoded::Sip(m) => m.method().or_else(|| m.cseq().ok().map(|c| c.method)),
                Decoded::Msrp(m) => m.method().map(|m: msrp::Method<'_>| m.as_str()),
            };
            if !method.is_some_and(|m| self.methods.iter().any(|f| f.eq_ignore_ascii_case(m))) {
                return false;
            }
        }
        if !self.statuses.is_empty() {
            let code = match msg {
                Decoded::Sip(m) => m.status(),
                Decoded::Msrp(m) => match m.start {
                    msrp::StartLine::Response { code, .. } => Some(code),
                    msrp::StartLine::Request(_) => None,
                },
            };
            if !code.is_some_and(|c| self.statuses.iter().any(|f| f.matches(c))) {
                return false;
            }
        }
        if let Some(re) = &self.grep {
            if !re.is_match(raw) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_host_syntax() {
        assert_eq!(StatusFilter::parse("4xx"), Ok(StatusFilter::Class(4)));
        assert_eq!(StatusFilter::parse("486"), Ok(StatusFilter::Code(486)));
        assert!(StatusFilter::parse("7xx").is_err());
        assert!(StatusFilter::parse("48").is_err());
        assert!(StatusFilter::Class(4).matches(486));
        assert!(!StatusFilter::Class(4).matches(500));
        let h = HostFilter::parse("[2001:db8::1]:5060").expect("valid");
        assert!(h.matches("[2001:db8::1]:5060".parse().expect("addr")));
        assert!(!h.matches("[2001:db8::1]:5061".parse().expect("addr")));
        let h = HostFilter::parse("[2001:db8::1]").expect("valid");
        assert!(h.matches("[2001:db8::1]:5060".parse().expect("addr")));
        assert!(h.matches("[2001:db8::1]:1".parse().expect("addr")));
        assert!(!h.matches("[2001:db8::2]:5060".parse().expect("addr")));
        assert!(HostFilter::parse("[10.0.0.1]").is_err());
        assert!(HostFilter::parse("[2001:db8::1").is_err());
        let h = HostFilter::parse("10.0.0.1").expect("valid");
        assert!(h.matches("10.0.0.1:1234".parse().expect("addr")));
        assert!(HostFilter::parse("example.com").is_err());
    }
}
