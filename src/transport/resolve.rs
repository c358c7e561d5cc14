//! Locating a SIP server (RFC 3263 §4): pick the transport, then the addresses and ports, from
//! what the target says and what DNS publishes in NAPTR, SRV, A and AAAA records. Every query
//! and decision is recorded so `--resolve-only` can show why a destination was chosen.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;

use super::{Destination, Proto, ResolveError, TargetSpec};

/// One query or decision made while resolving.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResolveStep {
    /// The record type asked for (`NAPTR`, `SRV`, `A`, `AAAA`), or `None` for a decision
    /// taken without a query (numeric host, explicit port).
    pub rtype: Option<&'static str>,
    /// The name queried, or the host the decision is about.
    pub name: String,
    /// The answers in presentation format, in the order received.
    pub answers: Vec<String>,
    /// What the step decided or why it failed, citing RFC 3263.
    pub note: String,
}

impl fmt::Display for ResolveStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rtype {
            Some(rtype) => write!(f, "{rtype} {}: ", self.name)?,
            None => write!(f, "{}: ", self.name)?,
        }
        if !self.answers.is_empty() {
            write!(f, "{}; ", self.answers.join(", "))?;
        }
        f.write_str(&self.note)
    }
}

/// The outcome of resolving a target: destinations to try in order, and how they were found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Resolution {
    /// Every query and decision, in order.
    pub steps: Vec<ResolveStep>,
    /// Where to send, first choice first (RFC 3263 §4.3: try the next on failure).
    pub destinations: Vec<Destination>,
}

/// How long one query waits for its answer (one attempt): a server that does not answer
/// fails the run within a few seconds, not 30 (issue 15).
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// A DNS client that turns a [`TargetSpec`] into [`Destination`]s.
pub struct Resolver {
    dns: TokioResolver,
    rng: Mutex<XorShift>,
    /// The server(s) asked, as error messages name them.
    server: String,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("name_servers", &self.dns.config().name_servers())
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// A resolver asking `dns_server` (UDP, TCP on truncation), or the servers of the system
    /// configuration (`/etc/resolv.conf`). SRV weights are drawn from a generator seeded by the
    /// clock, or fixed when `SIPKIT_TEST` is set (its value if numeric) so tests are
    /// repeatable; [`Resolver::with_seed`] sets it explicitly.
    pub fn new(dns_server: Option<SocketAddr>) -> Result<Resolver, ResolveError> {
        let provider = TokioConnectionProvider::default();
        let mut builder = match dns_server {
            Some(addr) => {
                let servers = vec![
                    NameServerConfig::new(addr, Protocol::Udp),
                    NameServerConfig::new(addr, Protocol::Tcp),
                ];
                let config = ResolverConfig::from_parts(None, vec![], servers);
                TokioResolver::builder_with_config(config, provider)
            }
            None => {
                TokioResolver::builder(provider).map_err(|e| ResolveError::Config(e.to_string()))?
            }
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        // Names are queried fully qualified; a search list would only add queries.
        opts.ndots = 0;
        opts.timeout = QUERY_TIMEOUT;
        opts.attempts = 1;
        let seed = match std::env::var("SIPKIT_TEST") {
            Ok(v) => v.parse().unwrap_or(0x5EED),
            Err(_) => std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
        };
        let dns = builder.build();
        let server = match dns_server {
            Some(addr) => addr.to_string(),
            None => {
                let mut list: Vec<String> = dns
                    .config()
                    .name_servers()
                    .iter()
                    .map(|n| n.socket_addr.to_string())
                    .collect();
                list.dedup();
                if list.is_empty() {
                    "the system resolver".to_owned()
                } else {
                    list.join(", ")
                }
            }
        };
        Ok(Resolver {
            dns,
            rng: Mutex::new(XorShift::new(seed)),
            server,
        })
    }

    /// The same resolver with the SRV weight generator seeded by `seed`.
    pub fn with_seed(self, seed: u64) -> Resolver {
        Resolver {
            rng: Mutex::new(XorShift::new(seed)),
            ..self
        }
    }

    /// Resolve a target per RFC 3263 §4.1 (transport) and §4.2 (address and port):
    ///
    /// 1. a numeric host needs no DNS; the transport is the explicit one, else TLS for sips and
    ///    UDP for sip;
    /// 2. an explicit port skips NAPTR and SRV: only A/AAAA;
    /// 3. an explicit transport skips NAPTR: SRV for it (`_sip._udp`, `_sip._tcp`,
    ///    `_sips._tcp`), else A/AAAA on the default port; WebSocket goes straight to A/AAAA;
    /// 4. otherwise NAPTR (`SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, `SIP+D2W`, `SIPS+D2W`; only the
    ///    secure ones for sips) by order and preference, each replacement looked up as SRV;
    /// 5. no usable NAPTR: SRV for each transport (UDP, TCP, TLS; TLS only for sips);
    /// 6. no SRV: A/AAAA on the default port of the default transport.
    ///
    /// SRV records are ordered by priority, then weighted-random within a priority (RFC 2782).
    /// Within one host, IPv4 addresses come before IPv6.
    pub async fn resolve(&self, spec: &TargetSpec) -> Result<Resolution, ResolveError> {
        let mut run = Run {
            resolver: self,
            spec,
            steps: Vec::new(),
            failure: None,
            silent: false,
            nxdomain: false,
        };
        let destinations = run.destinations().await;
        if destinations.is_empty() {
            let host = spec.lookup_host().to_owned();
            return Err(match run.failure {
                Some(f) => f,
                None if run.nxdomain => ResolveError::NxDomain {
                    host,
                    server: self.server.clone(),
                },
                None => ResolveError::NotFound { host },
            });
        }
        Ok(Resolution {
            steps: run.steps,
            destinations,
        })
    }

    fn shuffle_srv(&self, records: Vec<SrvRecord>) -> Vec<SrvRecord> {
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        order_srv(records, &mut rng)
    }
}

/// The state of one resolution.
struct Run<'a> {
    resolver: &'a Resolver,
    spec: &'a TargetSpec,
    steps: Vec<ResolveStep>,
    /// The first query that failed for another reason than "no records", reported when
    /// nothing else worked.
    failure: Option<ResolveError>,
    /// The server did not answer (timeout, unreachable): no further query is asked, so the
    /// run fails after one query's wait instead of one per record type.
    silent: bool,
    /// The host itself does not exist (NXDOMAIN for a query of its own name).
    nxdomain: bool,
}

/// Why a query gave no records.
enum Failed {
    /// NOERROR without answers (NODATA): normal, try the next step.
    NoData,
    /// NXDOMAIN: the name does not exist.
    NxDomain,
    /// Another response code (SERVFAIL, REFUSED...).
    Code(ResponseCode),
    /// No answer in time.
    Timeout,
    /// The server could not be reached, or another local failure.
    Unreachable(String),
}

fn classify(e: &hickory_resolver::ResolveError) -> Failed {
    let Some(proto) = e.proto() else {
        return Failed::Unreachable(e.to_string());
    };
    match proto.kind() {
        ProtoErrorKind::NoRecordsFound { response_code, .. } => match *response_code {
            ResponseCode::NoError => Failed::NoData,
            ResponseCode::NXDomain => Failed::NxDomain,
            code => Failed::Code(code),
        },
        ProtoErrorKind::Timeout => Failed::Timeout,
        _ => Failed::Unreachable(proto.to_string()),
    }
}

/// A NAPTR service sipkit can use (RFC 3263 §4.1, RFC 7118 §6 for D2W).
const SERVICES: [(&str, Proto); 5] = [
    ("SIP+D2U", Proto::Udp),
    ("SIP+D2T", Proto::Tcp),
    ("SIPS+D2T", Proto::Tls),
    ("SIP+D2W", Proto::Ws),
    ("SIPS+D2W", Proto::Wss),
];

impl Run<'_> {
    async fn destinations(&mut self) -> Vec<Destination> {
        let spec = self.spec;
        let host = spec.lookup_host().to_owned();
        let default_proto = if spec.is_sips() {
            Proto::Tls
        } else {
            Proto::Udp
        };
        if let Some(ip) = spec.ip() {
            let proto = spec.proto().unwrap_or(default_proto);
            let addr = SocketAddr::new(ip, spec.port().unwrap_or(proto.default_port()));
            self.note(
                &host,
                format!("numeric address: no DNS, {proto} to {addr} (RFC 3263 §4.1, §4.2)"),
            );
            return vec![self.dest(proto, addr)];
        }
        if let Some(port) = spec.port() {
            let proto = spec.proto().unwrap_or(default_proto);
            self.note(
                &host,
                format!("port {port} given: no NAPTR or SRV, {proto} to A/AAAA (RFC 3263 §4.2)"),
            );
            return self.hosts(proto, &host, port).await;
        }
        if let Some(proto) = spec.proto() {
            if matches!(proto, Proto::Ws | Proto::Wss) {
                self.note(
                    &host,
                    format!(
                        "{proto}: A/AAAA on port {} (RFC 7118)",
                        proto.default_port()
                    ),
                );
                return self.hosts(proto, &host, proto.default_port()).await;
            }
            self.note(
                &host,
                format!("transport {proto} given: no NAPTR, SRV then A/AAAA (RFC 3263 §4.2)"),
            );
            let found = self.srv(proto, &srv_name(proto, &host)).await;
            if !found.is_empty() {
                return found;
            }
            return self.hosts(proto, &host, proto.default_port()).await;
        }

        // NAPTR (RFC 3263 §4.1): only "S" records for services we speak, sips only secure ones.
        let records = self.query(RecordType::NAPTR, &host).await;
        let mut naptrs: Vec<(u16, u16, Proto, String)> = records
            .iter()
            .filter_map(|r| match r {
                RData::NAPTR(n) if n.flags().eq_ignore_ascii_case(b"s") => {
                    let (_, proto) = SERVICES
                        .iter()
                        .find(|(s, _)| s.as_bytes().eq_ignore_ascii_case(n.services()))?;
                    (!spec.is_sips() || proto.is_secure()).then(|| {
                        (
                            n.order(),
                            n.preference(),
                            *proto,
                            n.replacement().to_string(),
                        )
                    })
                }
                _ => None,
            })
            .collect();
        naptrs.sort_by_key(|&(order, pref, ..)| (order, pref));
        self.annotate(format!(
            "{} usable{} (RFC 3263 §4.1)",
            naptrs.len(),
            if naptrs.is_empty() {
                String::new()
            } else {
                let list: Vec<&str> = naptrs.iter().map(|n| n.2.as_str()).collect();
                format!(": {}", list.join(", "))
            }
        ));
        let mut out = Vec::new();
        for (_, _, proto, replacement) in naptrs {
            let found = self.srv(proto, &replacement).await;
            out.extend(found);
        }
        if !out.is_empty() {
            return out;
        }

        // No NAPTR: SRV for each transport we speak, our preference order (RFC 3263 §4.1).
        let protos: &[Proto] = if spec.is_sips() {
            &[Proto::Tls]
        } else {
            &[Proto::Udp, Proto::Tcp, Proto::Tls]
        };
        for &proto in protos {
            let found = self.srv(proto, &srv_name(proto, &host)).await;
            out.extend(found);
        }
        if !out.is_empty() {
            return out;
        }
        self.note(
            &host,
            format!(
                "no NAPTR or SRV: {default_proto} to A/AAAA on port {} (RFC 3263 §4.1, §4.2)",
                default_proto.default_port()
            ),
        );
        self.hosts(default_proto, &host, default_proto.default_port())
            .await
    }

    /// SRV lookup of `name`, then addresses of each target in RFC 2782 order.
    async fn srv(&mut self, proto: Proto, name: &str) -> Vec<Destination> {
        let records: Vec<SrvRecord> = self
            .query(RecordType::SRV, name)
            .await
            .iter()
            .filter_map(|r| match r {
                RData::SRV(s) => Some(SrvRecord {
                    priority: s.priority(),
                    weight: s.weight(),
                    port: s.port(),
                    target: s.target().to_string(),
                }),
                _ => None,
            })
            // RFC 2782: a target of "." means the service is decidedly not available.
            .filter(|s| s.target != ".")
            .collect();
        let ordered = self.resolver.shuffle_srv(records);
        if !ordered.is_empty() {
            let list: Vec<String> = ordered
                .iter()
                .map(|s| format!("{}:{}", s.target, s.port))
                .collect();
            self.annotate(format!(
                "{proto} targets in order: {} (RFC 2782)",
                list.join(", ")
            ));
        }
        let mut out = Vec::new();
        for s in ordered {
            out.extend(self.hosts(proto, &s.target, s.port).await);
        }
        out
    }

    /// A then AAAA records of `name`, as destinations on `port`.
    async fn hosts(&mut self, proto: Proto, name: &str, port: u16) -> Vec<Destination> {
        let mut out = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            for r in self.query(rtype, name).await {
                let ip = match r {
                    RData::A(a) => IpAddr::V4(a.0),
                    RData::AAAA(a) => IpAddr::V6(a.0),
                    _ => continue,
                };
                out.push(self.dest(proto, SocketAddr::new(ip, port)));
            }
        }
        out
    }

    /// One query, recorded as a step; failures are recorded and remembered, not returned, so
    /// a server that fails NAPTR queries still gets SRV and A queries (RFC 3263 §4.1 falls
    /// back when records are missing).
    async fn query(&mut self, rtype: RecordType, name: &str) -> Vec<RData> {
        let fqdn = if name.ends_with('.') {
            name.to_owned()
        } else {
            format!("{name}.")
        };
        let rtype_name = rtype_str(rtype);
        if self.silent {
            self.steps.push(ResolveStep {
                rtype: Some(rtype_name),
                name: fqdn,
                answers: Vec::new(),
                note: "not asked: the DNS server did not answer before".to_owned(),
            });
            return Vec::new();
        }
        let server = self.resolver.server.clone();
        let (records, note) = match self.resolver.dns.lookup(fqdn.as_str(), rtype).await {
            Ok(lookup) => {
                let records: Vec<RData> = lookup
                    .record_iter()
                    .filter(|r| r.record_type() == rtype)
                    .map(|r| r.data().clone())
                    .collect();
                let note = if records.is_empty() {
                    "no records".to_owned()
                } else {
                    format!("{} records", records.len())
                };
                (records, note)
            }
            Err(e) => {
                let name = fqdn.clone();
                let (failure, note) = match classify(&e) {
                    Failed::NoData => (None, "no records".to_owned()),
                    Failed::NxDomain => {
                        if fqdn.trim_end_matches('.')
                            == self.spec.lookup_host().trim_end_matches('.')
                        {
                            self.nxdomain = true;
                        }
                        (None, "no such name (NXDOMAIN)".to_owned())
                    }
                    Failed::Code(code) => {
                        let code = format!("{} ({code})", code_name(code));
                        let note = format!("failed: the server answered {code}");
                        (
                            Some(ResolveError::ServerFailure {
                                rtype: rtype_name,
                                name,
                                server,
                                code,
                            }),
                            note,
                        )
                    }
                    Failed::Timeout => {
                        self.silent = true;
                        (
                            Some(ResolveError::Timeout {
                                rtype: rtype_name,
                                name,
                                server,
                                secs: QUERY_TIMEOUT.as_secs(),
                            }),
                            format!("failed: no answer within {}s", QUERY_TIMEOUT.as_secs()),
                        )
                    }
                    Failed::Unreachable(message) => {
                        self.silent = true;
                        let note = format!("failed: {message}");
                        (
                            Some(ResolveError::Lookup {
                                rtype: rtype_name,
                                name,
                                server,
                                message,
                            }),
                            note,
                        )
                    }
                };
                if self.failure.is_none() {
                    self.failure = failure;
                }
                (Vec::new(), note)
            }
        };
        self.steps.push(ResolveStep {
            rtype: Some(rtype_name),
            name: fqdn,
            answers: records.iter().map(ToString::to_string).collect(),
            note,
        });
        records
    }

    fn note(&mut self, name: &str, note: String) {
        self.steps.push(ResolveStep {
            rtype: None,
            name: name.to_owned(),
            answers: Vec::new(),
            note,
        });
    }

    /// Add to the note of the last step.
    fn annotate(&mut self, extra: String) {
        if let Some(step) = self.steps.last_mut() {
            step.note = format!("{}; {extra}", step.note);
        }
    }

    fn dest(&self, proto: Proto, addr: SocketAddr) -> Destination {
        Destination {
            proto,
            addr,
            host: self.spec.host().to_owned(),
            ws_path: self.spec.ws_path().to_owned(),
        }
    }
}

/// The mnemonic of a DNS response code (RFC 1035 §4.1.1, RFC 6895 §2.3).
fn code_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::ServFail => "SERVFAIL".to_owned(),
        ResponseCode::Refused => "REFUSED".to_owned(),
        ResponseCode::FormErr => "FORMERR".to_owned(),
        ResponseCode::NotImp => "NOTIMP".to_owned(),
        other => format!("RCODE {}", u16::from(other)),
    }
}

/// `_sip._udp.host`, `_sip._tcp.host`, `_sips._tcp.host` (RFC 3263 §4.2).
fn srv_name(proto: Proto, host: &str) -> String {
    let prefix = match proto {
        Proto::Udp => "_sip._udp",
        Proto::Tcp | Proto::Ws => "_sip._tcp",
        Proto::Tls | Proto::Wss => "_sips._tcp",
    };
    format!("{prefix}.{host}")
}

fn rtype_str(rtype: RecordType) -> &'static str {
    match rtype {
        RecordType::NAPTR => "NAPTR",
        RecordType::SRV => "SRV",
        RecordType::A => "A",
        RecordType::AAAA => "AAAA",
        _ => "?",
    }
}

/// One SRV record, as needed for ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SrvRecord {
    pub(crate) priority: u16,
    pub(crate) weight: u16,
    pub(crate) port: u16,
    pub(crate) target: String,
}

/// RFC 2782 "Usage rules": lowest priority first; within a priority, repeatedly pick a record
/// with probability proportional to its weight, weight-0 records placed first so they are
/// chosen only when drawn at 0.
fn order_srv(mut records: Vec<SrvRecord>, rng: &mut XorShift) -> Vec<SrvRecord> {
    records.sort_by_key(|r| (r.priority, r.weight != 0));
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .position(|r| r.priority != first.priority)
            .unwrap_or(rest.len());
        let (group, tail) = rest.split_at(same);
        let mut group = group.to_vec();
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
            let pick = rng.below(total + 1);
            let mut running = 0u64;
            let index = group
                .iter()
                .position(|r| {
                    running += u64::from(r.weight);
                    running >= pick
                })
                .unwrap_or(0);
            out.push(group.remove(index));
        }
        rest = tail;
    }
    out
}

/// A tiny xorshift64* generator: SRV weighting needs fairness, not secrecy, and a seed makes
/// test runs repeatable.
#[derive(Debug, Clone)]
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        // Zero is the one state xorshift never leaves.
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0); the modulo bias is irrelevant at SRV weight sizes.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 5060,
            target: target.to_owned(),
        }
    }

    fn targets(v: &[SrvRecord]) -> Vec<&str> {
        v.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn priority_first_then_weight() {
        let records = vec![
            rec(20, 0, "c"),
            rec(10, 1, "a"),
            rec(10, 0, "b"),
            rec(30, 5, "d"),
        ];
        for seed in 1..50 {
            let got = order_srv(records.clone(), &mut XorShift::new(seed));
            assert_eq!(got.len(), 4);
            assert_eq!(got.get(2).map(|r| r.target.as_str()), Some("c"));
            assert_eq!(got.get(3).map(|r| r.target.as_str()), Some("d"));
        }
    }

    #[test]
    fn same_seed_same_order() {
        let records: Vec<_> = (0..6).map(|i| rec(1, 10, &format!("h{i}"))).collect();
        let a = order_srv(records.clone(), &mut XorShift::new(42));
        let b = order_srv(records.clone(), &mut XorShift::new(42));
        assert_eq!(targets(&a), targets(&b));
        let differs = (1..20)
            .any(|s| targets(&order_srv(records.clone(), &mut XorShift::new(s))) != targets(&a));
        assert!(differs, "the seed never changes the order");
    }

    #[test]
    fn weights_bias_the_first_choice() {
        let records = vec![rec(1, 90, "heavy"), rec(1, 10, "light")];
        let mut rng = XorShift::new(7);
        let heavy_first = (0..1000)
            .filter(|_| {
                order_srv(records.clone(), &mut rng)
                    .first()
                    .is_some_and(|r| r.target == "heavy")
            })
            .count();
        assert!((820..=980).contains(&heavy_first), "{heavy_first} of 1000");
    }

    #[test]
    fn zero_weights_all_come_out() {
        let records = vec![rec(1, 0, "a"), rec(1, 0, "b")];
        let got = order_srv(records, &mut XorShift::new(3));
        assert_eq!(targets(&got).len(), 2);
    }
}
