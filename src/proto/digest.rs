//! HTTP Digest authentication as SIP uses it (RFC 3261 §22.4, RFC 7616 for the math, RFC 8760
//! for SHA-256 and SHA-512/256): reading challenges, answering them, and checking answers on the
//! server side. Pure computation: the caller supplies the cnonce generator, so tests are exact.
//!
//! The header syntax itself is the codec's [`Auth`]; this module only interprets parameters.

use std::borrow::Cow;
use std::fmt::Write as _;

use md5::Md5;
use sha2::{Digest as _, Sha256, Sha512_256};

use super::sip::headers::{Auth, unquote};

/// A digest algorithm (RFC 7616 §3.3 table, RFC 8760 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, the default when a challenge names none.
    Md5,
    /// `MD5-sess`
    Md5Sess,
    /// `SHA-256`
    Sha256,
    /// `SHA-256-sess`
    Sha256Sess,
    /// `SHA-512-256`
    Sha512_256,
    /// `SHA-512-256-sess`
    Sha512_256Sess,
}

impl Algorithm {
    /// Every algorithm, weakest first.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Md5,
        Algorithm::Md5Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Sha512_256,
        Algorithm::Sha512_256Sess,
    ];

    /// The algorithm token, compared case-insensitively (RFC 7616 §3.3).
    pub fn parse(s: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// The token as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Whether HA1 is re-keyed with the nonce and cnonce (the `-sess` variants, RFC 7616 §3.4.2).
    pub fn is_sess(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// Ranking for [`choose`]: the hash function decides; a `-sess` variant ranks just above
    /// its plain form (it binds the cnonce into the key).
    fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 => 0,
            Algorithm::Md5Sess => 1,
            Algorithm::Sha256 => 2,
            Algorithm::Sha256Sess => 3,
            Algorithm::Sha512_256 => 4,
            Algorithm::Sha512_256Sess => 5,
        }
    }

    /// Length of a hash in lowercase hex (32 for MD5, 64 for the SHA-2 ones).
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 32,
            _ => 64,
        }
    }

    /// `H(data)` in lowercase hex.
    pub fn hash(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex(&Md5::digest(data)),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex(&Sha256::digest(data)),
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => hex(&Sha512_256::digest(data)),
        }
    }

    /// `H(a:b:c...)` without building the joined string.
    fn hash_parts(self, parts: &[&[u8]]) -> String {
        fn feed<D: sha2::Digest>(mut d: D, parts: &[&[u8]]) -> String {
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            hex(&d.finalize())
        }
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => feed(Md5::new(), parts),
            Algorithm::Sha256 | Algorithm::Sha256Sess => feed(Sha256::new(), parts),
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => feed(Sha512_256::new(), parts),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Quality of protection (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    /// `auth`: the request line is protected.
    Auth,
    /// `auth-int`: the body is protected too.
    AuthInt,
}

impl Qop {
    /// The token.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }

    fn parse(s: &str) -> Option<Qop> {
        if s.eq_ignore_ascii_case("auth") {
            Some(Qop::Auth)
        } else if s.eq_ignore_ascii_case("auth-int") {
            Some(Qop::AuthInt)
        } else {
            None
        }
    }
}

/// Why a challenge or credentials could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The scheme is not Digest.
    #[error("the authentication scheme is `{0}`, not Digest (RFC 3261 §22.4)")]
    NotDigest(String),
    /// A parameter the RFC requires is absent.
    #[error("the Digest parameter `{0}` is missing (RFC 7616 §3.3)")]
    Missing(&'static str),
    /// The algorithm is not one we implement.
    #[error(
        "unsupported Digest algorithm `{0}` (supported: MD5, SHA-256, SHA-512-256 and their -sess forms)"
    )]
    UnknownAlgorithm(String),
    /// No qop we implement is offered, and the legacy no-qop mode was not allowed either.
    #[error("unsupported qop `{0}` (supported: auth, auth-int)")]
    UnknownQop(String),
    /// `nc` is not 8 hex digits.
    #[error("nc `{0}` is not 8 hexadecimal digits (RFC 7616 §3.4)")]
    BadNonceCount(String),
    /// A given HA1 does not have the length of the chosen algorithm's hash.
    #[error("the given HA1 has {given} hex digits but {alg} needs {needed}")]
    Ha1Length {
        /// Digits given.
        given: usize,
        /// The algorithm.
        alg: Algorithm,
        /// Digits needed.
        needed: usize,
    },
}

fn unq(v: &str) -> Cow<'_, str> {
    unquote(v)
}

/// A Digest challenge from WWW-Authenticate or Proxy-Authenticate (RFC 7616 §3.3).
///
/// ```text
/// challenge      = "Digest" LWS digest-cln *(COMMA digest-cln)
/// digest-cln     = realm / domain / nonce / opaque / stale / algorithm / qop-options
///                  / auth-param
/// qop-options    = "qop" EQUAL LDQUOT qop-value *("," qop-value) RDQUOT
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// `realm`, unescaped.
    pub realm: Cow<'a, str>,
    /// `nonce`, unescaped.
    pub nonce: Cow<'a, str>,
    /// `opaque`, echoed back unchanged.
    pub opaque: Option<Cow<'a, str>>,
    /// `algorithm`, MD5 when absent.
    pub algorithm: Algorithm,
    /// The qop values offered that we implement, in the server's order; empty means the
    /// RFC 2069 compatibility mode (no qop at all).
    pub qop: Vec<Qop>,
    /// `stale=true`: the previous credentials were right but the nonce expired.
    pub stale: bool,
}

impl<'a> Challenge<'a> {
    /// Interpret a parsed challenge header value.
    pub fn parse(auth: &Auth<'a>) -> Result<Challenge<'a>, DigestError> {
        if !auth.is_digest() {
            return Err(DigestError::NotDigest(auth.scheme.to_string()));
        }
        let mut realm = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut algorithm = Algorithm::Md5;
        let mut qop_raw = None;
        let mut stale = false;
        for (name, value) in auth.params() {
            match name.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(unq(value)),
                "nonce" => nonce = Some(unq(value)),
                "opaque" => opaque = Some(unq(value)),
                "algorithm" => {
                    algorithm = Algorithm::parse(value)
                        .ok_or_else(|| DigestError::UnknownAlgorithm(value.to_string()))?;
                }
                "qop" => qop_raw = Some(value),
                "stale" => stale = value.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        let mut qop = Vec::new();
        if let Some(raw) = qop_raw {
            let offered: Vec<&str> = raw.split(',').map(str::trim).collect();
            qop.extend(offered.iter().filter_map(|q| Qop::parse(q)));
            if qop.is_empty() {
                return Err(DigestError::UnknownQop(raw.to_string()));
            }
        }
        Ok(Challenge {
            realm: realm.ok_or(DigestError::Missing("realm"))?,
            nonce: nonce.ok_or(DigestError::Missing("nonce"))?,
            opaque,
            algorithm,
            qop,
            stale,
        })
    }
}

/// The user's secret: the password, or HA1 = H(username:realm:password) computed beforehand
/// so the password need not be handed to sipkit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret<'a> {
    /// The plain password.
    Password(&'a str),
    /// H(username:realm:password) in hex, for the algorithm's hash function.
    Ha1(&'a str),
}

impl Secret<'_> {
    /// The HA1 for `alg` (RFC 7616 §3.4.2), before any `-sess` re-keying.
    fn base_ha1(&self, alg: Algorithm, username: &str, realm: &str) -> Result<String, DigestError> {
        match self {
            Secret::Password(p) => {
                Ok(alg.hash_parts(&[username.as_bytes(), realm.as_bytes(), p.as_bytes()]))
            }
            Secret::Ha1(h) if h.len() == alg.hex_len() => Ok(h.to_ascii_lowercase()),
            Secret::Ha1(h) => Err(DigestError::Ha1Length {
                given: h.len(),
                alg,
                needed: alg.hex_len(),
            }),
        }
    }

    /// Whether this secret can answer a challenge with `alg`: an HA1 only fits one hash length.
    pub fn fits(&self, alg: Algorithm) -> bool {
        match self {
            Secret::Password(_) => true,
            Secret::Ha1(h) => h.len() == alg.hex_len(),
        }
    }
}

/// Pick the challenge to answer: the one with `forced` algorithm if given, else the strongest
/// algorithm the secret can answer; on ties the first (RFC 8760 §2.4: a server lists its
/// preferred challenge first). `None` when nothing fits.
pub fn choose<'c, 'a>(
    challenges: &'c [Challenge<'a>],
    forced: Option<Algorithm>,
    secret: &Secret<'_>,
) -> Option<&'c Challenge<'a>> {
    let usable = challenges.iter().filter(|c| secret.fits(c.algorithm));
    match forced {
        Some(alg) => usable.into_iter().find(|c| c.algorithm == alg),
        // max_by_key keeps the last maximum; reverse so the first listed wins ties.
        None => usable.rev().max_by_key(|c| c.algorithm.strength()),
    }
}

/// What is being authorized: the request's method, Request-URI and body.
#[derive(Debug, Clone, Copy)]
pub struct Request<'r> {
    /// The method (`REGISTER`; ACK and CANCEL reuse the INVITE's, RFC 3261 §22.1).
    pub method: &'r str,
    /// The `uri` parameter: the Request-URI as sent.
    pub uri: &'r str,
    /// The body, hashed for auth-int.
    pub body: &'r [u8],
}

/// Answers challenges for one user, counting `nc` per nonce (RFC 7616 §3.4: the count rises
/// with each request under the same nonce and restarts with a new nonce).
#[derive(Debug, Clone, Default)]
pub struct Client {
    nonce: String,
    nc: u32,
}

/// A computed Authorization or Proxy-Authorization value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The algorithm used.
    pub algorithm: Algorithm,
    /// The qop used, if any.
    pub qop: Option<Qop>,
    /// The nonce count sent.
    pub nc: u32,
    /// The cnonce sent (empty without qop).
    pub cnonce: String,
    /// The `response` digest.
    pub response: String,
    /// The whole header value, `Digest username="...", ...`.
    pub value: String,
}

impl Client {
    /// A client with no nonce seen yet.
    pub fn new() -> Self {
        Client::default()
    }

    /// Answer `challenge` for `req`. `prefer_auth_int` picks auth-int when both are offered;
    /// `cnonce` is called once for a fresh client nonce.
    pub fn authorize(
        &mut self,
        challenge: &Challenge<'_>,
        username: &str,
        secret: &Secret<'_>,
        req: &Request<'_>,
        prefer_auth_int: bool,
        cnonce: &mut dyn FnMut() -> String,
    ) -> Result<Authorization, DigestError> {
        if self.nonce != challenge.nonce {
            self.nonce = challenge.nonce.to_string();
            self.nc = 0;
        }
        self.nc = self.nc.wrapping_add(1);
        let qop = if prefer_auth_int && challenge.qop.contains(&Qop::AuthInt) {
            Some(Qop::AuthInt)
        } else if challenge.qop.contains(&Qop::Auth) {
            Some(Qop::Auth)
        } else {
            challenge.qop.first().copied()
        };
        let alg = challenge.algorithm;
        // Without qop, RFC 2069 mode has no cnonce; -sess still needs one for HA1, so send it.
        let cnonce = if qop.is_some() || alg.is_sess() {
            cnonce()
        } else {
            String::new()
        };
        let nc = format!("{:08x}", self.nc);
        let response = compute(&Inputs {
            alg,
            username,
            realm: &challenge.realm,
            secret,
            nonce: &challenge.nonce,
            cnonce: &cnonce,
            nc: &nc,
            qop,
            req,
        })?;
        let mut value = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", algorithm={}",
            quote(username),
            quote(&challenge.realm),
            quote(&challenge.nonce),
            quote(req.uri),
            response,
            alg
        );
        if !cnonce.is_empty() {
            let _ = write!(value, ", cnonce=\"{}\"", quote(&cnonce));
        }
        if let Some(o) = &challenge.opaque {
            let _ = write!(value, ", opaque=\"{}\"", quote(o));
        }
        if let Some(q) = qop {
            let _ = write!(value, ", qop={}, nc={nc}", q.as_str());
        }
        Ok(Authorization {
            algorithm: alg,
            qop,
            nc: self.nc,
            cnonce,
            response,
            value,
        })
    }
}

/// Escape `"` and `\` for a quoted-string.
fn quote(s: &str) -> Cow<'_, str> {
    if !s.contains(['"', '\\']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    Cow::Owned(out)
}

struct Inputs<'x> {
    alg: Algorithm,
    username: &'x str,
    realm: &'x str,
    secret: &'x Secret<'x>,
    nonce: &'x str,
    cnonce: &'x str,
    nc: &'x str,
    qop: Option<Qop>,
    req: &'x Request<'x>,
}

/// The `response` value (RFC 7616 §3.4.1-3.4.3; RFC 2617 §3.2.2.1 without qop).
///
/// ```text
/// A1       = username ":" realm ":" passwd
/// A1 -sess = H( username ":" realm ":" passwd ) ":" nonce ":" cnonce
/// A2       = Method ":" request-uri                     ; qop auth or none
/// A2       = Method ":" request-uri ":" H(entity-body)  ; qop auth-int
/// response = KD( H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2) )
/// response = KD( H(A1), nonce ":" H(A2) )               ; no qop (RFC 2069)
/// KD(secret, data) = H( secret ":" data )
/// ```
fn compute(i: &Inputs<'_>) -> Result<String, DigestError> {
    let alg = i.alg;
    let mut ha1 = i.secret.base_ha1(alg, i.username, i.realm)?;
    if alg.is_sess() {
        ha1 = alg.hash_parts(&[ha1.as_bytes(), i.nonce.as_bytes(), i.cnonce.as_bytes()]);
    }
    let ha2 = match i.qop {
        Some(Qop::AuthInt) => {
            let hbody = alg.hash(i.req.body);
            alg.hash_parts(&[
                i.req.method.as_bytes(),
                i.req.uri.as_bytes(),
                hbody.as_bytes(),
            ])
        }
        _ => alg.hash_parts(&[i.req.method.as_bytes(), i.req.uri.as_bytes()]),
    };
    Ok(match i.qop {
        Some(q) => alg.hash_parts(&[
            ha1.as_bytes(),
            i.nonce.as_bytes(),
            i.nc.as_bytes(),
            i.cnonce.as_bytes(),
            q.as_str().as_bytes(),
            ha2.as_bytes(),
        ]),
        None => alg.hash_parts(&[ha1.as_bytes(), i.nonce.as_bytes(), ha2.as_bytes()]),
    })
}

/// Credentials from an Authorization or Proxy-Authorization header (RFC 7616 §3.4).
///
/// ```text
/// credentials     = "Digest" LWS digest-response *(COMMA digest-response)
/// digest-response = username / realm / nonce / digest-uri / dresponse / algorithm
///                   / cnonce / opaque / message-qop / nonce-count / auth-param
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// `username`, unescaped.
    pub username: Cow<'a, str>,
    /// `realm`, unescaped.
    pub realm: Cow<'a, str>,
    /// `nonce`, unescaped.
    pub nonce: Cow<'a, str>,
    /// `uri`, unescaped.
    pub uri: Cow<'a, str>,
    /// `response`.
    pub response: Cow<'a, str>,
    /// `algorithm`, MD5 when absent.
    pub algorithm: Algorithm,
    /// `cnonce`, empty when absent.
    pub cnonce: Cow<'a, str>,
    /// `qop`.
    pub qop: Option<Qop>,
    /// `nc` as sent (8 hex digits) and its value.
    pub nc: Option<(Cow<'a, str>, u32)>,
    /// `opaque`.
    pub opaque: Option<Cow<'a, str>>,
}

impl<'a> Credentials<'a> {
    /// Interpret a parsed credentials header value.
    pub fn parse(auth: &Auth<'a>) -> Result<Credentials<'a>, DigestError> {
        if !auth.is_digest() {
            return Err(DigestError::NotDigest(auth.scheme.to_string()));
        }
        let (mut username, mut realm, mut nonce, mut uri, mut response) =
            (None, None, None, None, None);
        let mut algorithm = Algorithm::Md5;
        let mut cnonce = Cow::Borrowed("");
        let (mut qop, mut nc, mut opaque) = (None, None, None);
        for (name, value) in auth.params() {
            match name.to_ascii_lowercase().as_str() {
                "username" => username = Some(unq(value)),
                "realm" => realm = Some(unq(value)),
                "nonce" => nonce = Some(unq(value)),
                "uri" => uri = Some(unq(value)),
                "response" => response = Some(unq(value)),
                "cnonce" => cnonce = unq(value),
                "opaque" => opaque = Some(unq(value)),
                "algorithm" => {
                    algorithm = Algorithm::parse(value)
                        .ok_or_else(|| DigestError::UnknownAlgorithm(value.to_string()))?;
                }
                "qop" => {
                    qop = Some(
                        Qop::parse(value)
                            .ok_or_else(|| DigestError::UnknownQop(value.to_string()))?,
                    );
                }
                "nc" => {
                    // from_str_radix alone would take a sign (`+1234567`).
                    let n = (value.len() == 8 && value.bytes().all(|b| b.is_ascii_hexdigit()))
                        .then(|| u32::from_str_radix(value, 16).ok())
                        .flatten()
                        .ok_or_else(|| DigestError::BadNonceCount(value.to_string()))?;
                    nc = Some((Cow::Borrowed(value), n));
                }
                _ => {}
            }
        }
        if qop.is_some() {
            if nc.is_none() {
                return Err(DigestError::Missing("nc"));
            }
            if cnonce.is_empty() {
                return Err(DigestError::Missing("cnonce"));
            }
        }
        Ok(Credentials {
            username: username.ok_or(DigestError::Missing("username"))?,
            realm: realm.ok_or(DigestError::Missing("realm"))?,
            nonce: nonce.ok_or(DigestError::Missing("nonce"))?,
            uri: uri.ok_or(DigestError::Missing("uri"))?,
            response: response.ok_or(DigestError::Missing("response"))?,
            algorithm,
            cnonce,
            qop,
            nc,
            opaque,
        })
    }
}

/// The server's judgement of credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The response is right and answers the nonce we issued.
    Ok,
    /// The response is wrong (bad password, user, realm, method or body).
    Wrong,
    /// The response is right but for a nonce other than the current one: challenge again
    /// with `stale=true` (RFC 7616 §3.3) so the client retries without asking the user.
    Stale,
}

/// Check credentials against the secret for `method` and `body` (the `uri` is taken from the
/// credentials; compare it with the Request-URI separately if that matters). `issued_nonce`
/// is the nonce the server currently accepts.
pub fn verify(
    creds: &Credentials<'_>,
    secret: &Secret<'_>,
    method: &str,
    body: &[u8],
    issued_nonce: &str,
) -> Verdict {
    let req = Request {
        method,
        uri: &creds.uri,
        body,
    };
    let nc = creds.nc.as_ref().map_or("", |(s, _)| s.as_ref());
    let expected = compute(&Inputs {
        alg: creds.algorithm,
        username: &creds.username,
        realm: &creds.realm,
        secret,
        nonce: &creds.nonce,
        cnonce: &creds.cnonce,
        nc,
        qop: creds.qop,
        req: &req,
    });
    match expected {
        Ok(e) if constant_time_eq(e.as_bytes(), creds.response.to_ascii_lowercase().as_bytes()) => {
            if creds.nonce == issued_nonce {
                Verdict::Ok
            } else {
                Verdict::Stale
            }
        }
        _ => Verdict::Wrong,
    }
}

/// Compare without stopping at the first difference, so timing does not reveal how much of a
/// guessed response was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(s: &str) -> Auth<'_> {
        Auth::parse(s, 0).expect("valid header value")
    }

    fn fixed(s: &'static str) -> impl FnMut() -> String {
        move || s.to_string()
    }

    // RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
    const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";

    fn rfc7616(alg: &str) -> String {
        format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={alg}, \
             nonce=\"{RFC7616_NONCE}\", opaque=\"{RFC7616_OPAQUE}\""
        )
    }

    const GET: Request<'static> = Request {
        method: "GET",
        uri: "/dir/index.html",
        body: b"",
    };

    #[test]
    fn rfc7616_sha256_and_md5_examples() {
        for (alg, expected) in [
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ] {
            let text = rfc7616(alg);
            let ch = Challenge::parse(&auth(&text)).expect("challenge");
            assert_eq!(ch.qop, [Qop::Auth, Qop::AuthInt]);
            let a = Client::new()
                .authorize(
                    &ch,
                    "Mufasa",
                    &Secret::Password("Circle of Life"),
                    &GET,
                    false,
                    &mut fixed(RFC7616_CNONCE),
                )
                .expect("authorize");
            assert_eq!(a.response, expected, "{alg}");
            assert_eq!(
                a.value,
                format!(
                    "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", \
                     nonce=\"{RFC7616_NONCE}\", uri=\"/dir/index.html\", response=\"{expected}\", \
                     algorithm={alg}, cnonce=\"{RFC7616_CNONCE}\", opaque=\"{RFC7616_OPAQUE}\", \
                     qop=auth, nc=00000001"
                )
            );
        }
    }

    #[test]
    fn rfc2617_example() {
        let text = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
                    nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
                    opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let ch = Challenge::parse(&auth(text)).expect("challenge");
        assert_eq!(ch.algorithm, Algorithm::Md5);
        let a = Client::new()
            .authorize(
                &ch,
                "Mufasa",
                &Secret::Password("Circle Of Life"),
                &GET,
                false,
                &mut fixed("0a4f113b"),
            )
            .expect("authorize");
        assert_eq!(a.response, "6629fae49393a05397450978507c4ef1");
    }

    /// Independent computations with Python's hashlib for the algorithms the RFCs give no
    /// example of, with qop auth-int and the -sess forms:
    /// `ha1 = h("alice:sip.example:secret")` (then `h(ha1 + ":n1:c1")` for -sess),
    /// `ha2 = h("MESSAGE:sip:bob@b:" + h("hi"))`, `h(ha1 + ":n1:00000001:c1:auth-int:" + ha2)`.
    #[test]
    fn cross_checked_every_algorithm_with_auth_int() {
        let req = Request {
            method: "MESSAGE",
            uri: "sip:bob@b",
            body: b"hi",
        };
        for (alg, expected) in [
            (Algorithm::Md5, "c10413c90e140f5af040897df87ff1ec"),
            (Algorithm::Md5Sess, "3bdf433a94a73a339041ad6f1ff4b791"),
            (
                Algorithm::Sha256,
                "d99dff0ecf00dfe01644e85669aa4f3c8e63656f9346b05120df7946e6d578fa",
            ),
            (
                Algorithm::Sha256Sess,
                "756226c1fd660e01101630a6d485c7584aeaed9abe1ded67116a683bff218453",
            ),
            (
                Algorithm::Sha512_256,
                "6b9673d1ade1e879524f481203f5cb4384ab6124113220dcc3ef55c1774dde16",
            ),
            (
                Algorithm::Sha512_256Sess,
                "e26ff5c2d5fe5008f8bfc502b9d7d5af763c690c5c944cac597aa700135d91cc",
            ),
        ] {
            let text = format!(
                "Digest realm=\"sip.example\", nonce=\"n1\", qop=\"auth-int\", algorithm={alg}"
            );
            let ch = Challenge::parse(&auth(&text)).expect("challenge");
            let a = Client::new()
                .authorize(
                    &ch,
                    "alice",
                    &Secret::Password("secret"),
                    &req,
                    true,
                    &mut fixed("c1"),
                )
                .expect("authorize");
            assert_eq!(a.qop, Some(Qop::AuthInt));
            assert_eq!(a.response, expected, "{alg}");
            // The server side agrees, with the password and with HA1.
            let creds_text = a.value.clone();
            let creds = Credentials::parse(&auth(&creds_text)).expect("credentials");
            let ha1 = alg.hash(b"alice:sip.example:secret");
            for secret in [Secret::Password("secret"), Secret::Ha1(&ha1)] {
                assert_eq!(verify(&creds, &secret, "MESSAGE", b"hi", "n1"), Verdict::Ok);
            }
            assert_eq!(
                verify(&creds, &Secret::Password("secret"), "MESSAGE", b"ho", "n1"),
                Verdict::Wrong,
                "auth-int covers the body"
            );
            assert_eq!(
                verify(&creds, &Secret::Password("guess"), "MESSAGE", b"hi", "n1"),
                Verdict::Wrong
            );
            assert_eq!(
                verify(&creds, &Secret::Password("secret"), "MESSAGE", b"hi", "n2"),
                Verdict::Stale
            );
        }
    }

    #[test]
    fn nc_counts_per_nonce_and_restarts_with_a_new_one() {
        let mut client = Client::new();
        let mut n = 0;
        let mut next_cnonce = move || {
            n += 1;
            format!("c{n}")
        };
        let mut go = |nonce: &str| {
            let text = format!("Digest realm=\"r\", nonce=\"{nonce}\", qop=\"auth\"");
            let ch = Challenge::parse(&auth(&text)).expect("challenge");
            client
                .authorize(
                    &ch,
                    "u",
                    &Secret::Password("p"),
                    &GET,
                    false,
                    &mut next_cnonce,
                )
                .expect("authorize")
        };
        assert_eq!(go("a").nc, 1);
        let second = go("a");
        assert_eq!((second.nc, second.cnonce.as_str()), (2, "c2"));
        assert!(second.value.ends_with("nc=00000002"), "{}", second.value);
        assert_eq!(go("b").nc, 1);
    }

    #[test]
    fn without_qop_the_rfc2069_form_is_used() {
        let ch = Challenge::parse(&auth("Digest realm=\"r\", nonce=\"n\"")).expect("challenge");
        let a = Client::new()
            .authorize(
                &ch,
                "u",
                &Secret::Password("p"),
                &GET,
                false,
                &mut fixed("x"),
            )
            .expect("authorize");
        let h = |s: &str| Algorithm::Md5.hash(s.as_bytes());
        let expected = h(&format!("{}:n:{}", h("u:r:p"), h("GET:/dir/index.html")));
        assert_eq!(a.response, expected);
        assert!(!a.value.contains("cnonce") && !a.value.contains("qop"));
        let creds = Credentials::parse(&auth(&a.value)).expect("credentials");
        assert_eq!(
            verify(&creds, &Secret::Password("p"), "GET", b"", "n"),
            Verdict::Ok
        );
    }

    #[test]
    fn choose_prefers_the_strongest_the_forced_and_what_ha1_fits() {
        let texts = [
            "Digest realm=\"r\", nonce=\"1\", algorithm=MD5",
            "Digest realm=\"r\", nonce=\"2\", algorithm=SHA-256",
            "Digest realm=\"r\", nonce=\"3\", algorithm=SHA-256",
        ];
        let chs: Vec<Challenge<'_>> = texts
            .iter()
            .map(|t| Challenge::parse(&auth(t)).expect("challenge"))
            .collect();
        let pw = Secret::Password("p");
        assert_eq!(choose(&chs, None, &pw).map(|c| &*c.nonce), Some("2"));
        assert_eq!(
            choose(&chs, Some(Algorithm::Md5), &pw).map(|c| &*c.nonce),
            Some("1")
        );
        assert!(choose(&chs, Some(Algorithm::Sha512_256), &pw).is_none());
        let md5_ha1 = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            choose(&chs, None, &Secret::Ha1(md5_ha1)).map(|c| &*c.nonce),
            Some("1")
        );
    }

    #[test]
    fn bad_challenges_and_credentials_are_errors_not_panics() {
        assert_eq!(
            Challenge::parse(&auth("Basic realm=\"r\"")),
            Err(DigestError::NotDigest("Basic".into()))
        );
        assert_eq!(
            Challenge::parse(&auth("Digest nonce=\"n\"")),
            Err(DigestError::Missing("realm"))
        );
        assert_eq!(
            Challenge::parse(&auth("Digest realm=r, nonce=n, algorithm=SHA-1")),
            Err(DigestError::UnknownAlgorithm("SHA-1".into()))
        );
        assert_eq!(
            Challenge::parse(&auth("Digest realm=r, nonce=n, qop=\"x-other\"")),
            Err(DigestError::UnknownQop("x-other".into()))
        );
        assert_eq!(
            Credentials::parse(&auth(
                "Digest username=u, realm=r, nonce=n, uri=\"x\", response=\"0\", qop=auth, \
                 cnonce=c, nc=1"
            )),
            Err(DigestError::BadNonceCount("1".into()))
        );
        let ch = Challenge::parse(&auth("Digest realm=r, nonce=n, algorithm=SHA-256"))
            .expect("challenge");
        let err = Client::new()
            .authorize(&ch, "u", &Secret::Ha1("abcd"), &GET, false, &mut fixed("c"))
            .expect_err("short HA1");
        assert!(err.to_string().contains("needs 64"), "{err}");
    }

    proptest::proptest! {
        /// Hostile header values never panic the interpreters (the fuzz targets' contract).
        #[test]
        fn any_header_value_is_an_error_or_a_value(s in "\\PC{0,80}|Digest [a-z=\", ]{0,60}") {
            if let Ok(a) = Auth::parse(&s, 0) {
                let _ = Challenge::parse(&a);
                if let Ok(c) = Credentials::parse(&a) {
                    let _ = verify(&c, &Secret::Ha1("00"), "X", b"", "n");
                }
            }
        }
    }

    #[test]
    fn a_signed_nonce_count_is_refused() {
        let text = "Digest username=u, realm=r, nonce=n, uri=\"x\", response=\"0\", qop=auth, \
                    cnonce=c, nc=+0000001";
        assert_eq!(
            Credentials::parse(&auth(text)),
            Err(DigestError::BadNonceCount("+0000001".into()))
        );
    }

    #[test]
    fn quoted_values_are_unescaped_and_escaped_back() {
        let ch = Challenge::parse(&auth(r#"Digest realm="a \"b\"", nonce="n""#)).expect("ch");
        assert_eq!(ch.realm, "a \"b\"");
        let a = Client::new()
            .authorize(
                &ch,
                "x\\y",
                &Secret::Password("p"),
                &GET,
                false,
                &mut fixed("c"),
            )
            .expect("authorize");
        assert!(
            a.value.contains(r#"username="x\\y", realm="a \"b\"""#),
            "{}",
            a.value
        );
        let creds = Credentials::parse(&auth(&a.value)).expect("credentials");
        assert_eq!((&*creds.username, &*creds.realm), ("x\\y", "a \"b\""));
    }
}
