//! What `send` and `invite` share as SIP clients: the checked options both accept (targets,
//! Digest credentials, timers, TLS files, extra header fields), locating the server, numbering
//! identifiers, answering challenges once each, and turning messages into printable records.
//! Each command keeps its own flow on top: `send` one transaction, `invite` a dialog.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::error::ErrorKind;

use crate::cli::{AuthAlg, ClientArgs};
use crate::exit::Exit;
use crate::output::send::{AuthRecord, MessageRecord};
use crate::proto::digest::{self, Algorithm, Challenge, Secret};
use crate::proto::scan::all_token;
use crate::proto::sip::{self, HeaderName, Message, ParseOptions, StartLine};
use crate::transport::transaction::Timers;
use crate::transport::{ClientTls, Connection, Proto, Resolution, Resolver, TargetSpec};

/// A usage error of subcommand `cmd`, in clap's style (exit 2).
pub(crate) fn usage(cmd: &str, message: &str) -> Invalid {
    Invalid::Usage(super::usage_error(cmd, ErrorKind::InvalidValue, message))
}

/// The transaction timers given, checked against each other.
pub(crate) fn timers(args: &ClientArgs, cmd: &str) -> Result<Timers, Invalid> {
    let d = Timers::default();
    let timers = Timers {
        t1: args.t1.unwrap_or(d.t1),
        t2: args.t2.unwrap_or(d.t2),
        t4: args.t4.unwrap_or(d.t4),
    };
    if timers.t2 < timers.t1 {
        return Err(usage(
            cmd,
            &format!(
                "T2 ({:?}) must not be shorter than T1 ({:?}) (RFC 3261 §17.1.2.2)",
                timers.t2, timers.t1
            ),
        ));
    }
    Ok(timers)
}

/// The `-H 'Name: value'` fields, checked.
pub(crate) fn extra_headers(
    args: &ClientArgs,
    cmd: &str,
) -> Result<Vec<(String, String)>, Invalid> {
    let mut headers = Vec::new();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .map(|(n, v)| (n.trim(), v.trim()))
            .filter(|(n, _)| !n.is_empty() && all_token(n.as_bytes()))
            .ok_or_else(|| usage(cmd, &format!("-H takes `Name: value`, found `{h}`")))?;
        headers.push((name.to_string(), value.to_string()));
    }
    Ok(headers)
}

/// The TLS client configuration when the user gave TLS files, built now so that their errors
/// come before any network use.
pub(crate) fn tls_files(args: &ClientArgs) -> Result<Option<ClientTls>, Invalid> {
    if args.ca_file.is_none() && args.cert.is_none() {
        return Ok(None);
    }
    ClientTls::new(
        args.ca_file.as_deref(),
        args.insecure,
        args.cert.as_deref(),
        args.key.as_deref(),
    )
    .map(Some)
    .map_err(|e| Invalid::Input(e.into()))
}

/// `--bind` and `--dns-server`, checked.
pub(crate) fn addresses(
    args: &ClientArgs,
    cmd: &str,
) -> Result<(Option<SocketAddr>, Option<SocketAddr>), Invalid> {
    let bind = args
        .bind
        .as_deref()
        .map(crate::transport::parse_bind)
        .transpose()
        .map_err(|e| usage(cmd, &e.to_string()))?;
    let dns_server = args
        .dns_server
        .as_deref()
        .map(crate::transport::parse_dns_server)
        .transpose()
        .map_err(|e| usage(cmd, &e.to_string()))?;
    Ok((bind, dns_server))
}

/// Locate `target` (RFC 3263), within `timeout` (30 s when none). On failure, `dns_error`
/// gets the cause's short name for the JSON output (`timeout`, `servfail`, `nxdomain`, ...).
pub(crate) async fn resolve(
    target: &TargetSpec,
    dns_server: Option<SocketAddr>,
    timeout: Option<Duration>,
    dns_error: &mut Option<&'static str>,
) -> Result<Resolution, Stop> {
    // A numeric target needs no DNS (RFC 3263 §4.2): give the resolver a server it will never
    // ask rather than have it read the system configuration (a cost on every one-shot run, and
    // a failure in a minimal container without /etc/resolv.conf).
    let never_asked = SocketAddr::from((Ipv4Addr::LOCALHOST, 53));
    let resolver = Resolver::new(dns_server.or(target.ip().map(|_| never_asked))).map_err(|e| {
        if e.is_network() {
            Stop::Failure(Exit::Network, e.to_string())
        } else {
            Stop::Other(anyhow::Error::new(e))
        }
    })?;
    let limit = timeout.unwrap_or(Duration::from_secs(30));
    let result = tokio::time::timeout(limit, resolver.resolve(target)).await;
    if let Ok(Err(e)) = &result {
        *dns_error = Some(e.kind());
    } else if result.is_err() {
        *dns_error = Some("timeout");
    }
    match result {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) if e.is_network() => Err(Stop::Failure(Exit::Network, e.to_string())),
        Ok(Err(e)) => Err(Stop::Other(e.into())),
        Err(_) => Err(Stop::Failure(
            Exit::Network,
            format!(
                "locating {} took longer than {:.1}s",
                target.text(),
                limit.as_secs_f64()
            ),
        )),
    }
}

/// The TLS configuration for the destinations found: the user's, or the system roots when a
/// destination needs TLS.
pub(crate) fn tls_for(
    given: Option<&ClientTls>,
    insecure: bool,
    resolution: &Resolution,
) -> Result<ClientTls, Stop> {
    let secure = resolution.destinations.iter().any(|d| d.proto.is_secure());
    match (given, secure) {
        (Some(tls), _) => Ok(tls.clone()),
        (None, true) => {
            ClientTls::new(None, insecure, None, None).map_err(|e| Stop::Other(e.into()))
        }
        // Never used: no destination needs TLS. Insecure skips loading the system roots.
        (None, false) => ClientTls::new(None, true, None, None).map_err(|e| Stop::Other(e.into())),
    }
}

/// The Digest state of one run: what has been answered (at most once per challenge) and the
/// credentials to put in the next request.
#[derive(Debug, Default)]
pub(crate) struct Challenges {
    /// (header, realm, value) of each credential to send.
    headers: Vec<(String, String, String)>,
    answered: BTreeSet<(String, String)>,
    client: digest::Client,
}

impl Challenges {
    /// The Authorization and Proxy-Authorization fields for the next request.
    pub(crate) fn headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(n, _, v)| (n.clone(), v.clone()))
            .collect()
    }

    /// Answer a 401 or 407 to `request`: `Some` with what was answered when the next request
    /// should carry new credentials, `None` when the response ends the exchange (not a
    /// challenge, nothing sipkit can answer, or the same nonce again: credentials refused).
    pub(crate) fn answer(
        &mut self,
        auth: &AuthConfig,
        response: &[u8],
        request: &[u8],
        ids: &mut Ids,
    ) -> anyhow::Result<Option<AuthRecord>> {
        let code = status_of(response);
        if code != 401 && code != 407 {
            return Ok(None);
        }
        let Ok(Some((m, _))) =
            sip::parse(response, &ParseOptions::datagram()).map(|s| s.complete())
        else {
            return Ok(None);
        };
        let (ask, answer) = if code == 401 {
            (HeaderName::WwwAuthenticate, "Authorization")
        } else {
            (HeaderName::ProxyAuthenticate, "Proxy-Authorization")
        };
        let challenges: Vec<Challenge<'_>> = m
            .auth(ask)
            .filter_map(Result::ok)
            .filter_map(|a| Challenge::parse(&a).ok())
            .collect();
        let secret = auth.secret.as_secret();
        let Some(ch) = digest::choose(&challenges, auth.algorithm, &secret) else {
            tracing::warn!(
                "no challenge in the {code} that sipkit can answer{}",
                auth.algorithm
                    .map(|a| format!(" with {a}"))
                    .unwrap_or_default()
            );
            return Ok(None);
        };
        // At most once per challenge: the same nonce again means the credentials were refused.
        if !self
            .answered
            .insert((ch.realm.to_string(), ch.nonce.to_string()))
        {
            return Ok(None);
        }
        let Some(sent) = parse_request(request) else {
            return Ok(None);
        };
        let uri = match sent.start {
            StartLine::Request { uri, .. } => uri,
            StartLine::Response { .. } => "",
        };
        let mut cnonce = || ids.next("cnonce");
        let authorization = self
            .client
            .authorize(
                ch,
                &auth.user,
                &secret,
                &digest::Request {
                    method: sent.method().unwrap_or_default(),
                    uri,
                    body: sent.body,
                },
                false,
                &mut cnonce,
            )
            .context("answering the challenge")?;
        let realm = ch.realm.to_string();
        self.headers
            .retain(|(n, r, _)| !(n == answer && *r == realm));
        self.headers
            .push((answer.to_string(), realm, authorization.value));
        Ok(Some(AuthRecord {
            status: code,
            user: auth.user.clone(),
            realm: ch.realm.to_string(),
            algorithm: ch.algorithm.to_string(),
            qop: authorization.qop.map(|q| q.as_str().to_string()),
            stale: ch.stale,
        }))
    }
}

/// Why the command line cannot be run.
#[derive(Debug)]
pub(crate) enum Invalid {
    /// A bad flag, value or combination: clap-style message, exit 2.
    Usage(clap::Error),
    /// An input that cannot be read (body file, password file, message file), exit 2.
    Input(anyhow::Error),
}

/// The secret to answer challenges with.
#[derive(Debug, Clone)]
pub(crate) enum OwnedSecret {
    Password(String),
    Ha1(String),
}

impl OwnedSecret {
    pub(crate) fn as_secret(&self) -> Secret<'_> {
        match self {
            OwnedSecret::Password(p) => Secret::Password(p),
            OwnedSecret::Ha1(h) => Secret::Ha1(h),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AuthConfig {
    pub(crate) user: String,
    pub(crate) secret: OwnedSecret,
    pub(crate) algorithm: Option<Algorithm>,
}

pub(crate) fn shown(path: &Path) -> String {
    if path == Path::new("-") {
        crate::output::STDIN_NAME.to_string()
    } else {
        path.display().to_string()
    }
}

/// Read a file, or standard input for `-`.
pub(crate) fn read_input(path: &Path, what: &str) -> Result<Vec<u8>, Invalid> {
    let result = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(path)
    };
    result
        .with_context(|| format!("cannot read {what} from {}", shown(path)))
        .map_err(Invalid::Input)
}

/// The Digest credentials given, checked: a user needs a secret and a secret needs a user.
pub(crate) fn auth_config(args: &ClientArgs, cmd: &str) -> Result<Option<AuthConfig>, Invalid> {
    let usage = |m: &str| usage(cmd, m);
    let algorithm = args.auth_alg.map(|a| match a {
        AuthAlg::Md5 => Algorithm::Md5,
        AuthAlg::Md5Sess => Algorithm::Md5Sess,
        AuthAlg::Sha256 => Algorithm::Sha256,
        AuthAlg::Sha256Sess => Algorithm::Sha256Sess,
        AuthAlg::Sha512_256 => Algorithm::Sha512_256,
        AuthAlg::Sha512_256Sess => Algorithm::Sha512_256Sess,
    });
    let secret = if let Some(path) = &args.password_file {
        let bytes = read_input(path, "the password")?;
        let text = String::from_utf8_lossy(&bytes);
        let line = text.lines().next().unwrap_or_default().to_string();
        if line.is_empty() {
            return Err(Invalid::Input(anyhow::anyhow!(
                "the password file {} is empty",
                shown(path)
            )));
        }
        Some(OwnedSecret::Password(line))
    } else if let Some(h) = &args.ha1 {
        if !matches!(h.len(), 32 | 64) || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(usage(&format!(
                "--ha1 takes 32 hex digits (MD5) or 64 (SHA-256, SHA-512-256), found `{h}`"
            )));
        }
        if let Some(alg) = algorithm
            && alg.hex_len() != h.len()
        {
            return Err(usage(&format!(
                "--ha1 has {} hex digits but --auth-alg {alg} needs {}",
                h.len(),
                alg.hex_len()
            )));
        }
        Some(OwnedSecret::Ha1(h.clone()))
    } else if let Some(p) = &args.password {
        tracing::warn!(
            "--password is visible to other users of this machine (ps, /proc); prefer --password-file or SIPKIT_PASSWORD"
        );
        Some(OwnedSecret::Password(p.clone()))
    } else {
        std::env::var("SIPKIT_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty())
            .map(OwnedSecret::Password)
    };
    match (&args.user, secret) {
        (Some(user), Some(secret)) => Ok(Some(AuthConfig {
            user: user.clone(),
            secret,
            algorithm,
        })),
        (Some(_), None) => Err(usage(
            "--user needs a secret: --password-file FILE, SIPKIT_PASSWORD, --password or --ha1",
        )),
        (None, Some(_))
            if args.password_file.is_some() || args.password.is_some() || args.ha1.is_some() =>
        {
            Err(usage("a password or --ha1 needs --user"))
        }
        _ => {
            if algorithm.is_some() {
                return Err(usage("--auth-alg needs --user"));
            }
            Ok(None)
        }
    }
}

/// The target's host as it goes in a URI.
pub(crate) fn uri_host(target: &TargetSpec) -> String {
    let h = target.host();
    if h.contains(':') {
        format!("[{h}]")
    } else {
        h.to_string()
    }
}

/// Parse a request we built or were given (datagram framing: a whole message).
pub(crate) fn parse_request(bytes: &[u8]) -> Option<Message<'_>> {
    match sip::parse(bytes, &ParseOptions::datagram()) {
        Ok(s) => s.complete().map(|(m, _)| m).filter(Message::is_request),
        Err(_) => None,
    }
}

/// Call-IDs, tags, branches and cnonces: random, or numbered when SIPKIT_TEST is set so that
/// tests can compare output exactly.
#[derive(Debug)]
pub(crate) struct Ids {
    test: bool,
    /// Keeps numbered ids of load-mode workers apart (`w2-call-1`).
    pub(crate) prefix: String,
    n: u64,
    state: std::collections::hash_map::RandomState,
}

impl Ids {
    pub(crate) fn new(test: bool) -> Ids {
        Ids {
            test,
            prefix: String::new(),
            n: 0,
            state: std::collections::hash_map::RandomState::new(),
        }
    }

    pub(crate) fn next(&mut self, kind: &str) -> String {
        self.n += 1;
        if self.test {
            return format!("{}{kind}-{}", self.prefix, self.n);
        }
        // RandomState is seeded from the operating system's randomness per process; mixing
        // in a counter and the clock gives distinct, unpredictable 64-bit values.
        let mut out = String::new();
        for round in 0..2u64 {
            let mut h = self.state.build_hasher();
            h.write_u64(self.n);
            h.write_u64(round);
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            let _ = write!(out, "{:016x}", h.finish());
        }
        out
    }

    pub(crate) fn branch(&mut self) -> String {
        if self.test {
            self.n += 1;
            return format!("z9hG4bK-sipkit-{}{}", self.prefix, self.n);
        }
        format!("z9hG4bK{}", self.next("b"))
    }
}

/// Milliseconds with microsecond precision, so JSON shows `1.302` rather than float noise.
pub(crate) fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

pub(crate) fn first_line(bytes: &[u8]) -> String {
    let end = bytes
        .windows(2)
        .position(|w| w == b"\r\n")
        .or_else(|| bytes.iter().position(|&b| b == b'\n'))
        .unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

pub(crate) fn record(
    direction: &'static str,
    at_ms: f64,
    conn: &Connection,
    bytes: &[u8],
    retransmission: u32,
) -> MessageRecord {
    let status = if direction == "received" {
        first_line(bytes)
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
    } else {
        None
    };
    MessageRecord {
        direction,
        at_ms,
        transport: conn.proto().as_str().to_string(),
        local: conn.local_addr().to_string(),
        remote: conn.peer_addr().to_string(),
        retransmission,
        rtt_ms: None,
        first_line: first_line(bytes),
        status,
        stray: false,
        message: String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Why a run stopped without a final response.
#[derive(Debug)]
pub(crate) enum Stop {
    /// Exit 3 or 4 with a one-line reason (the JSON report is still written).
    Failure(Exit, String),
    /// Ctrl-C: exit 3 (no final response came while we waited), the report so far still
    /// written; the text is the reason, or empty to describe the report.
    Interrupted(String),
    /// Anything else (output errors, bad TLS files found late).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Stop {
        Stop::Other(e)
    }
}

pub(crate) fn default_proto(target: &TargetSpec) -> Proto {
    target.proto().unwrap_or(if target.is_sips() {
        Proto::Tls
    } else {
        Proto::Udp
    })
}

pub(crate) fn status_of(bytes: &[u8]) -> u16 {
    first_line(bytes)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}
