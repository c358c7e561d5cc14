//! The client side of MSRP relays (RFC 4976): one connection to the first relay, an AUTH
//! answered with HTTP Digest (RFC 4976 §5.1, §9.1), and the Use-Path it returns. The session
//! then runs over that same connection ([`super::MsrpSender::through_relay`]): the SDP `a=path`
//! is the Use-Path reversed followed by our URI, and every To-Path is the Use-Path followed by
//! the peer's path. Only the first relay is authenticated; chaining AUTHs through it to further
//! relays (RFC 4976 §5.1, second example) is not done.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use super::MsrpError;
use super::stream::{self, BoxIo};
use super::wire;
use crate::proto::Status;
use crate::proto::digest::{self, Challenge, Secret};
use crate::proto::msrp::{
    Flag, IdGenerator, Method, MsrpUri, RequestHeaders, StartLine, parse, write_request,
};
use crate::proto::sip::headers::Auth;
use crate::transport::ClientTls;

/// The largest AUTH response we read: a relay's 200 is a few hundred bytes.
const MAX_RESPONSE: usize = 64 * 1024;

/// Who we are to the relay.
#[derive(Debug, Clone, Copy)]
pub struct RelayCredentials<'a> {
    /// The Digest username.
    pub user: &'a str,
    /// The password or HA1.
    pub secret: Secret<'a>,
    /// Answer only a challenge with this algorithm.
    pub algorithm: Option<digest::Algorithm>,
}

/// Why a relay could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Connecting, TLS, reading or writing failed, or the relay did not answer in time.
    #[error(transparent)]
    Msrp(#[from] MsrpError),
    /// The relay refused the AUTH: 401 to our credentials, 403, or another error status.
    #[error("relay refused authentication: {code}{} from {relay}{}", comment.as_ref().map(|c| format!(" {c}")).unwrap_or_default(), hint)]
    Refused {
        /// The relay's URI.
        relay: String,
        /// The status code.
        code: u16,
        /// The reason phrase.
        comment: Option<String>,
        /// What to do about it, with a leading separator, or empty.
        hint: String,
    },
    /// The 401's WWW-Authenticate could not be answered.
    #[error("relay {relay} sent a challenge sipkit cannot answer: {reason}")]
    Challenge {
        /// The relay's URI.
        relay: String,
        /// What was wrong.
        reason: String,
    },
    /// A 200 without a usable Use-Path (RFC 4976 §4.2 requires one).
    #[error("relay {relay} accepted the AUTH but {reason}")]
    NoUsePath {
        /// The relay's URI.
        relay: String,
        /// What was missing or wrong.
        reason: String,
    },
}

/// An authenticated connection to our relay.
pub struct Relayed {
    pub(crate) io: BoxIo,
    pub(crate) peer: SocketAddr,
    relay: String,
    use_path: Vec<String>,
    expires: Option<u64>,
}

impl std::fmt::Debug for Relayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relayed")
            .field("peer", &self.peer)
            .field("relay", &self.relay)
            .field("use_path", &self.use_path)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl Relayed {
    /// The relay's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The relay URI we authenticated to.
    pub fn relay(&self) -> &str {
        &self.relay
    }

    /// The Use-Path of the relay's 200, leftmost first.
    pub fn use_path(&self) -> &[String] {
        &self.use_path
    }

    /// The Expires of the relay's 200 (seconds the Use-Path stays valid), if it sent one.
    pub fn expires(&self) -> Option<u64> {
        self.expires
    }

    /// Our SDP `a=path`; see [`sdp_path`].
    pub fn sdp_path(&self, local_uri: &str) -> String {
        sdp_path(&self.use_path, local_uri)
    }
}

/// The `a=path` a client behind relays offers (RFC 4976 §5.1): "the client reverses the list
/// of URIs in the Use-Path header ... and appends the client's own URI".
pub fn sdp_path(use_path: &[String], local_uri: &str) -> String {
    let mut uris: Vec<&str> = use_path.iter().rev().map(String::as_str).collect();
    uris.push(local_uri);
    uris.join(" ")
}

/// The To-Path of our requests (RFC 4976 §5.1): "the list of URIs in the Use-Path header ...
/// [then] the list of URIs provided in the path attribute in the peer's session description".
pub fn to_path(use_path: &[String], peer_path: &[String]) -> Vec<String> {
    use_path.iter().chain(peer_path).cloned().collect()
}

/// Check a `--relay` URI: an msrp or msrps URI with a port and `;tcp` (RFC 4975 §6; a relay's
/// URI carries no session id, RFC 4976 §5.1 example).
pub fn check_relay_uri(uri: &str) -> Result<(), String> {
    let parsed = MsrpUri::parse(uri).map_err(|e| e.message.clone())?;
    if !parsed.transport.eq_ignore_ascii_case("tcp") {
        return Err(format!(
            "transport {:?} is not supported (only tcp)",
            parsed.transport
        ));
    }
    if parsed.port.is_none() {
        return Err("the URI needs a port, e.g. msrps://relay.example.com:2855;tcp".into());
    }
    Ok(())
}

/// Connect to `relay_uri` (TLS for msrps with `tls`), send AUTH from `local_uri`, answer a 401
/// with `credentials`, and return the connection with the Use-Path of the 200. `timeout`
/// bounds the connection and each response.
pub async fn authenticate(
    relay_uri: &str,
    local_uri: &str,
    tls: Option<&ClientTls>,
    credentials: Option<RelayCredentials<'_>>,
    timeout: Duration,
) -> Result<Relayed, RelayError> {
    let to = stream::split_path(relay_uri)?;
    let from = stream::split_path(local_uri)?;
    let (io, peer) = stream::connect(relay_uri, tls, timeout).await?;
    let mut conn = Conn {
        io,
        peer,
        buf: Vec::with_capacity(1024),
        timeout,
    };
    let relay = relay_uri.to_owned();
    let mut ids = IdGenerator::new(super::id_seed());
    let mut client = digest::Client::new();
    let mut authorization: Option<String> = None;
    // First AUTH without credentials; then one answer to the challenge, and one more only if
    // the relay says the nonce was stale (RFC 7616 §3.3).
    for attempt in 0..3 {
        let tid = ids.next_id();
        let bytes = auth_request(tid.as_str(), &to, &from, authorization.as_deref())?;
        wire::write_all(&mut conn.io, &bytes, peer).await?;
        let resp = conn.response(tid.as_str()).await?;
        match resp.code {
            200..=299 => return accepted(conn, relay, &resp),
            401 => {
                let Some(creds) = credentials else {
                    return Err(refused(
                        &relay,
                        &resp,
                        "; the relay asks for credentials: give --user and a password",
                    ));
                };
                let challenges: Vec<Challenge<'_>> = resp
                    .www_authenticate
                    .iter()
                    .filter_map(|v| Auth::parse(v, 0).ok())
                    .filter_map(|a| Challenge::parse(&a).ok())
                    .collect();
                let Some(ch) = digest::choose(&challenges, creds.algorithm, &creds.secret) else {
                    return Err(RelayError::Challenge {
                        relay,
                        reason: if resp.www_authenticate.is_empty() {
                            "the 401 has no WWW-Authenticate".into()
                        } else {
                            format!(
                                "no usable Digest challenge in {:?}",
                                resp.www_authenticate.join(", ")
                            )
                        },
                    });
                };
                if attempt > 0 && !ch.stale {
                    return Err(refused(&relay, &resp, "; check --user and the password"));
                }
                // RFC 4976 §9.1: H(A2) uses the rightmost To-Path URI; the method is AUTH.
                let uri = to.last().map(String::as_str).unwrap_or(relay_uri);
                let mut cnonce = || ids.next_id().as_str().to_owned();
                let a = client
                    .authorize(
                        ch,
                        creds.user,
                        &creds.secret,
                        &digest::Request {
                            method: "AUTH",
                            uri,
                            body: b"",
                        },
                        false,
                        &mut cnonce,
                    )
                    .map_err(|e| RelayError::Challenge {
                        relay: relay.clone(),
                        reason: e.to_string(),
                    })?;
                authorization = Some(a.value);
            }
            423 => {
                return Err(refused(
                    &relay,
                    &resp,
                    "; the relay does not accept the Expires asked for",
                ));
            }
            _ => return Err(refused(&relay, &resp, "")),
        }
    }
    Err(RelayError::Refused {
        relay,
        code: 401,
        comment: None,
        hint: "; the relay kept answering 401 (stale nonce)".into(),
    })
}

fn refused(relay: &str, resp: &AuthResponse, hint: &str) -> RelayError {
    RelayError::Refused {
        relay: relay.to_owned(),
        code: resp.code,
        comment: resp.comment.clone(),
        hint: hint.to_owned(),
    }
}

fn accepted(conn: Conn, relay: String, resp: &AuthResponse) -> Result<Relayed, RelayError> {
    let Some(raw) = &resp.use_path else {
        return Err(RelayError::NoUsePath {
            relay,
            reason: "its 200 has no Use-Path header (RFC 4976 §4.2)".into(),
        });
    };
    let use_path = stream::split_path(raw).map_err(|e| RelayError::NoUsePath {
        relay: relay.clone(),
        reason: format!("its Use-Path is not usable: {e}"),
    })?;
    Ok(Relayed {
        io: conn.io,
        peer: conn.peer,
        relay,
        use_path,
        expires: resp.expires,
    })
}

/// `mAUTH` request (RFC 4976 §7): To-Path the relay, From-Path us, Authorization once
/// challenged; bodiless.
fn auth_request(
    tid: &str,
    to: &[String],
    from: &[String],
    authorization: Option<&str>,
) -> Result<Vec<u8>, MsrpError> {
    let to = parse_all(to)?;
    let from = parse_all(from)?;
    let extra: Vec<(&str, &str)> = authorization
        .map(|a| ("Authorization", a))
        .into_iter()
        .collect();
    let h = RequestHeaders {
        to_path: &to,
        from_path: &from,
        extra: &extra,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(512);
    write_request(&mut out, tid, Method::Auth, &h, None, Flag::End).map_err(MsrpError::Build)?;
    Ok(out)
}

fn parse_all(p: &[String]) -> Result<Vec<MsrpUri<'_>>, MsrpError> {
    p.iter()
        .map(|u| MsrpUri::parse(u).map_err(MsrpError::Build))
        .collect()
}

/// What we keep of a response to AUTH.
#[derive(Debug)]
struct AuthResponse {
    code: u16,
    comment: Option<String>,
    www_authenticate: Vec<String>,
    use_path: Option<String>,
    expires: Option<u64>,
}

struct Conn {
    io: BoxIo,
    peer: SocketAddr,
    buf: Vec<u8>,
    timeout: Duration,
}

impl Conn {
    /// Read until the response to `tid`; other messages (there should be none before the
    /// session starts) are skipped.
    async fn response(&mut self, tid: &str) -> Result<AuthResponse, MsrpError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            loop {
                let (resp, used) = match parse(&self.buf) {
                    Ok(Status::Partial) => break,
                    Err(error) => {
                        return Err(MsrpError::Framing {
                            peer: self.peer,
                            error,
                        });
                    }
                    Ok(Status::Complete(m, used)) => {
                        let resp = match m.start {
                            StartLine::Response { code, comment } if m.tid == tid => {
                                let h = &m.headers;
                                let bad = |error| MsrpError::Framing {
                                    peer: self.peer,
                                    error,
                                };
                                Some(AuthResponse {
                                    code,
                                    comment: comment.map(str::to_owned),
                                    www_authenticate: h
                                        .get_all("WWW-Authenticate")
                                        .map(|v| v.value.to_owned())
                                        .collect(),
                                    use_path: h.get("Use-Path").map(|v| v.value.to_owned()),
                                    expires: h.expires().map_err(bad)?,
                                })
                            }
                            _ => None,
                        };
                        (resp, used)
                    }
                };
                self.buf.drain(..used.min(self.buf.len()));
                if let Some(r) = resp {
                    return Ok(r);
                }
            }
            if self.buf.len() > MAX_RESPONSE {
                return Err(MsrpError::Closed {
                    peer: self.peer,
                    during: format!("sending a response to AUTH over {MAX_RESPONSE} bytes"),
                });
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(wait, self.io.read(&mut chunk)).await {
                Ok(Ok(0)) => {
                    return Err(MsrpError::Closed {
                        peer: self.peer,
                        during: "waiting for the response to AUTH".into(),
                    });
                }
                Ok(Ok(n)) => self
                    .buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Ok(Err(source)) => {
                    return Err(MsrpError::Io {
                        op: "receiving from",
                        peer: self.peer,
                        source,
                    });
                }
                Err(_) => {
                    return Err(MsrpError::Timeout {
                        what: "response to AUTH".into(),
                        peer: self.peer,
                        after: self.timeout,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn paths_follow_rfc4976_section_5_1() {
        // The RFC's example: Use-Path "B C", own URI A, peer path "D E F".
        let use_path = v(&["msrp://b:1/b;tcp", "msrp://c:1/c;tcp"]);
        assert_eq!(
            sdp_path(&use_path, "msrp://a:1/a;tcp"),
            "msrp://c:1/c;tcp msrp://b:1/b;tcp msrp://a:1/a;tcp"
        );
        let peer = v(&["msrp://d:1/d;tcp", "msrp://e:1/e;tcp", "msrp://f:1/f;tcp"]);
        assert_eq!(
            to_path(&use_path, &peer).join(" "),
            "msrp://b:1/b;tcp msrp://c:1/c;tcp msrp://d:1/d;tcp msrp://e:1/e;tcp msrp://f:1/f;tcp"
        );
    }

    #[test]
    fn one_relay_goes_in_front() {
        let use_path = v(&["msrp://127.0.0.1:2855/s1;tcp"]);
        assert_eq!(
            sdp_path(&use_path, "msrp://10.0.0.1:9/me;tcp"),
            "msrp://127.0.0.1:2855/s1;tcp msrp://10.0.0.1:9/me;tcp"
        );
        assert_eq!(
            to_path(&use_path, &v(&["msrp://10.0.0.2:7000/you;tcp"])),
            v(&[
                "msrp://127.0.0.1:2855/s1;tcp",
                "msrp://10.0.0.2:7000/you;tcp"
            ])
        );
    }

    #[test]
    fn auth_request_is_byte_exact() {
        let to = v(&["msrps://relay.example.com:2855;tcp"]);
        let from = v(&["msrps://10.0.0.1:9/abc;tcp"]);
        let first = auth_request("tid1", &to, &from, None).expect("builds");
        assert_eq!(
            String::from_utf8_lossy(&first),
            "MSRP tid1 AUTH\r\nTo-Path: msrps://relay.example.com:2855;tcp\r\n\
             From-Path: msrps://10.0.0.1:9/abc;tcp\r\n-------tid1$\r\n"
        );
        let second = auth_request("tid2", &to, &from, Some("Digest username=\"a\"")).expect("ok");
        assert!(
            String::from_utf8_lossy(&second)
                .contains("\r\nAuthorization: Digest username=\"a\"\r\n-------tid2$\r\n"),
            "{}",
            String::from_utf8_lossy(&second)
        );
        assert!(auth_request("tid3", &to, &from, Some("x\r\ny")).is_err());
    }

    #[test]
    fn relay_uris_need_a_port_and_tcp() {
        assert!(check_relay_uri("msrps://relay.example.com:2855;tcp").is_ok());
        assert!(check_relay_uri("msrp://127.0.0.1:2855;tcp").is_ok());
        assert!(check_relay_uri("msrp://127.0.0.1;tcp").is_err());
        assert!(check_relay_uri("msrp://127.0.0.1:2855;udp").is_err());
        assert!(check_relay_uri("sip:relay.example.com").is_err());
    }
}
