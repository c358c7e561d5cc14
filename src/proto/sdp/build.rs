//! Offers and answers for `send`, `listen` and `invite`. The builder owns its strings (the
//! commands assemble them from config, not from a buffer) and emits text that the parser in this
//! module accepts, which the tests check.

use super::{AcceptType, Direction, FileSelector, MediaDescription, SessionDescription, Setup};
use std::fmt::Write;

/// The audio codecs sipkit can offer: G.711 and RFC 4733 DTMF events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
    /// RFC 4733 `telephone-event`, dynamic (101 by default).
    TelephoneEvent,
}

impl AudioCodec {
    /// The payload type used when we make the offer.
    pub fn default_payload_type(self) -> u8 {
        match self {
            AudioCodec::Pcmu => 0,
            AudioCodec::Pcma => 8,
            AudioCodec::TelephoneEvent => 101,
        }
    }

    /// The rtpmap encoding name.
    pub fn encoding(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
            AudioCodec::TelephoneEvent => "telephone-event",
        }
    }

    /// Which codec an offered format is, by rtpmap or by static payload type (RFC 3551 §6).
    fn identify(m: &MediaDescription<'_>, fmt: &str) -> Option<AudioCodec> {
        let by_name = |name: &str| {
            [
                AudioCodec::Pcmu,
                AudioCodec::Pcma,
                AudioCodec::TelephoneEvent,
            ]
            .into_iter()
            .find(|c| c.encoding().eq_ignore_ascii_case(name))
        };
        match m.rtpmap_for(fmt) {
            Some(map) if map.clock_rate == 8000 => by_name(map.encoding),
            Some(_) => None,
            None => match fmt {
                "0" => Some(AudioCodec::Pcmu),
                "8" => Some(AudioCodec::Pcma),
                _ => None,
            },
        }
    }
}

/// One media section under construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaBuilder {
    media: String,
    port: u16,
    proto: String,
    formats: Vec<String>,
    connection: Option<String>,
    attributes: Vec<(String, Option<String>)>,
}

fn addr_type(addr: &str) -> &'static str {
    if addr.contains(':') { "IP6" } else { "IP4" }
}

impl MediaBuilder {
    /// Any media line; prefer the specific constructors.
    pub fn new(media: &str, port: u16, proto: &str, formats: &[&str]) -> Self {
        MediaBuilder {
            media: media.to_string(),
            port,
            proto: proto.to_string(),
            formats: formats.iter().map(|f| f.to_string()).collect(),
            connection: None,
            attributes: Vec::new(),
        }
    }

    /// `m=audio PORT RTP/AVP ...` with an rtpmap per codec (and `0-16` events for DTMF).
    pub fn audio(port: u16, codecs: &[AudioCodec]) -> Self {
        let pts: Vec<(AudioCodec, u8)> = codecs
            .iter()
            .map(|&c| (c, c.default_payload_type()))
            .collect();
        Self::audio_with_pts(port, &pts)
    }

    fn audio_with_pts(port: u16, codecs: &[(AudioCodec, u8)]) -> Self {
        let mut m = MediaBuilder::new("audio", port, "RTP/AVP", &[]);
        for (_, pt) in codecs {
            m.formats.push(pt.to_string());
        }
        for (c, pt) in codecs {
            m = m.attribute("rtpmap", Some(&format!("{pt} {}/8000", c.encoding())));
            if *c == AudioCodec::TelephoneEvent {
                m = m.attribute("fmtp", Some(&format!("{pt} 0-16")));
            }
        }
        m
    }

    /// `m=message PORT TCP/MSRP *` (or `TCP/TLS/MSRP`) with `a=path` (RFC 4975 §8).
    pub fn msrp(port: u16, tls: bool, path: &str) -> Self {
        let proto = if tls { "TCP/TLS/MSRP" } else { "TCP/MSRP" };
        MediaBuilder::new("message", port, proto, &["*"]).attribute("path", Some(path))
    }

    /// A media-level `c=` (the address type follows from the address).
    pub fn connection(mut self, addr: &str) -> Self {
        self.connection = Some(addr.to_string());
        self
    }

    /// Any attribute.
    pub fn attribute(mut self, name: &str, value: Option<&str>) -> Self {
        self.attributes
            .push((name.to_string(), value.map(str::to_string)));
        self
    }

    /// `a=accept-types` (RFC 4975 §8.6).
    pub fn accept_types(self, types: &[&str]) -> Self {
        self.attribute("accept-types", Some(&types.join(" ")))
    }

    /// `a=accept-wrapped-types` (RFC 4975 §8.6).
    pub fn accept_wrapped_types(self, types: &[&str]) -> Self {
        self.attribute("accept-wrapped-types", Some(&types.join(" ")))
    }

    /// `a=max-size` (RFC 4975 §8.6).
    pub fn max_size(self, n: u64) -> Self {
        self.attribute("max-size", Some(&n.to_string()))
    }

    /// `a=setup` (RFC 6135 §4.2).
    pub fn setup(self, s: Setup) -> Self {
        self.attribute("setup", Some(s.as_str()))
    }

    /// A direction attribute (RFC 8866 §6.7).
    pub fn direction(self, d: Direction) -> Self {
        self.attribute(d.as_str(), None)
    }

    /// `a=file-selector` (RFC 5547 §6); `None` gives the bare capability form.
    pub fn file_selector(self, fs: Option<&FileSelector<'_>>) -> Self {
        match fs {
            Some(fs) => self.attribute("file-selector", Some(&fs.to_string())),
            None => self.attribute("file-selector", None),
        }
    }

    /// `a=file-transfer-id` (RFC 5547 §8.1).
    pub fn file_transfer_id(self, id: &str) -> Self {
        self.attribute("file-transfer-id", Some(id))
    }

    /// `a=file-disposition` (RFC 5547 §7).
    pub fn file_disposition(self, d: &str) -> Self {
        self.attribute("file-disposition", Some(d))
    }

    fn write(&self, out: &mut String) {
        let _ = write!(out, "m={} {} {}", self.media, self.port, self.proto);
        for f in &self.formats {
            let _ = write!(out, " {f}");
        }
        out.push_str("\r\n");
        if let Some(c) = &self.connection {
            let _ = write!(out, "c=IN {} {c}\r\n", addr_type(c));
        }
        for (n, v) in &self.attributes {
            match v {
                Some(v) => {
                    let _ = write!(out, "a={n}:{v}\r\n");
                }
                None => {
                    let _ = write!(out, "a={n}\r\n");
                }
            }
        }
    }
}

impl std::fmt::Display for FileSelector<'_> {
    /// The RFC 5547 §6 value: selectors separated by single spaces, hash bytes in upper case.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sep = "";
        if let Some(n) = &self.name {
            write!(f, "name:\"{}\"", n.raw())?;
            sep = " ";
        }
        if let Some(t) = &self.file_type {
            write!(f, "{sep}type:{}", t.media_type)?;
            if let Some(p) = t.params {
                write!(f, ";{p}")?;
            }
            sep = " ";
        }
        if let Some(s) = self.size {
            write!(f, "{sep}size:{s}")?;
            sep = " ";
        }
        for h in &self.hashes {
            write!(f, "{sep}hash:{}:", h.algorithm)?;
            for (i, b) in h.bytes.iter().enumerate() {
                let colon = if i == 0 { "" } else { ":" };
                write!(f, "{colon}{b:02X}")?;
            }
            sep = " ";
        }
        Ok(())
    }
}

/// Percent-encode a file name for `name:"..."`: `"`, `%`, control bytes, and `/` and `\` (which
/// RFC 5547 §6 says must not reach the peer as directory structure).
pub fn encode_file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let b = u32::from(c);
        if matches!(c, '"' | '%' | '/' | '\\') || b < 0x20 || b == 0x7f {
            let _ = write!(out, "%{b:02X}");
        } else {
            out.push(c);
        }
    }
    out
}

/// A whole session description under construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpBuilder {
    username: String,
    session_id: u64,
    session_version: u64,
    address: String,
    session_name: String,
    session_connection: bool,
    attributes: Vec<(String, Option<String>)>,
    media: Vec<MediaBuilder>,
}

impl SdpBuilder {
    /// A session from `username` at `address` (an IP literal or host name; used for `o=` and the
    /// session-level `c=`).
    pub fn new(username: &str, session_id: u64, address: &str) -> Self {
        SdpBuilder {
            username: username.to_string(),
            session_id,
            session_version: session_id,
            address: address.to_string(),
            session_name: "-".to_string(),
            session_connection: true,
            attributes: Vec::new(),
            media: Vec::new(),
        }
    }

    /// The `sess-version` (bump it for every new offer in a dialog, RFC 3264 §8).
    pub fn session_version(mut self, v: u64) -> Self {
        self.session_version = v;
        self
    }

    /// `s=`; an empty name is written as `s=-`.
    pub fn session_name(mut self, s: &str) -> Self {
        self.session_name = if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        };
        self
    }

    /// Leave out the session-level `c=` (every media must then carry its own).
    pub fn without_session_connection(mut self) -> Self {
        self.session_connection = false;
        self
    }

    /// A session-level attribute.
    pub fn attribute(mut self, name: &str, value: Option<&str>) -> Self {
        self.attributes
            .push((name.to_string(), value.map(str::to_string)));
        self
    }

    /// Add a media section.
    pub fn media(mut self, m: MediaBuilder) -> Self {
        self.media.push(m);
        self
    }

    /// The description as CRLF text.
    pub fn build(&self) -> String {
        let mut out = String::new();
        let at = addr_type(&self.address);
        let _ = write!(
            out,
            "v=0\r\no={} {} {} IN {at} {}\r\ns={}\r\n",
            self.username, self.session_id, self.session_version, self.address, self.session_name
        );
        if self.session_connection {
            let _ = write!(out, "c=IN {at} {}\r\n", self.address);
        }
        out.push_str("t=0 0\r\n");
        for (n, v) in &self.attributes {
            match v {
                Some(v) => {
                    let _ = write!(out, "a={n}:{v}\r\n");
                }
                None => {
                    let _ = write!(out, "a={n}\r\n");
                }
            }
        }
        for m in &self.media {
            m.write(&mut out);
        }
        out
    }

    /// An answer to `offer` (RFC 3264 §6): one media line per offered one, in order. MSRP
    /// streams are accepted with our path and the accept-types both sides take; audio with the
    /// first offered codec we support (plus telephone-event when both have it); anything else,
    /// or a stream with nothing in common, is rejected with port 0.
    pub fn answer_for(offer: &SessionDescription<'_>, cfg: &AnswerConfig) -> String {
        let mut b = SdpBuilder::new(&cfg.username, cfg.session_id, &cfg.address);
        for m in &offer.media {
            let reject = || {
                let fmt = m.formats.first().copied().unwrap_or("*");
                MediaBuilder::new(m.media, 0, m.proto, &[fmt])
            };
            let section = if m.port == 0 {
                reject()
            } else if m.is_msrp() {
                answer_msrp(offer, m, cfg).unwrap_or_else(reject)
            } else if m.media == "audio" && m.proto.starts_with("RTP/") {
                answer_audio(m, cfg).unwrap_or_else(reject)
            } else {
                reject()
            };
            b = b.media(section);
        }
        b.build()
    }
}

/// What our side brings to an answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnswerConfig {
    /// `o=` username.
    pub username: String,
    /// `o=` session id (and version).
    pub session_id: u64,
    /// Our address for `o=` and `c=`.
    pub address: String,
    /// Port we listen on for MSRP.
    pub msrp_port: u16,
    /// Our MSRP URI (or URIs, space-separated); empty rejects MSRP streams.
    pub msrp_path: String,
    /// Types we accept; `*` and `type/*` allowed.
    pub accept_types: Vec<String>,
    /// Types we accept inside wrappers such as message/cpim.
    pub accept_wrapped_types: Vec<String>,
    /// Largest message we accept.
    pub max_size: Option<u64>,
    /// RTP port for audio.
    pub audio_port: u16,
    /// Audio codecs we support, in our order of preference for DTMF only; empty rejects audio.
    pub audio_codecs: Vec<AudioCodec>,
}

/// Entries of `offered` that `ours` also accepts, in the offer's order, plus our concrete types
/// that an offered wildcard covers.
fn intersect<'o>(offered: &[AcceptType<'o>], ours: &[AcceptType<'_>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    };
    for o in offered {
        match o {
            AcceptType::Any => ours.iter().for_each(|u| push(u.as_str())),
            AcceptType::Type { ty, subtype, .. } => {
                if ours.iter().any(|u| u.matches(ty, subtype)) {
                    push(o.as_str());
                }
                if *subtype == "*" {
                    for u in ours {
                        if let AcceptType::Type {
                            ty: ut,
                            subtype: us,
                            ..
                        } = u
                        {
                            if ut.eq_ignore_ascii_case(ty) && *us != "*" {
                                push(u.as_str());
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn parse_ours(list: &[String]) -> Vec<AcceptType<'_>> {
    list.iter()
        .filter_map(|s| super::attr::parse_format_list(s).ok())
        .flatten()
        .collect()
}

fn answer_msrp(
    offer: &SessionDescription<'_>,
    m: &MediaDescription<'_>,
    cfg: &AnswerConfig,
) -> Option<MediaBuilder> {
    if cfg.msrp_path.is_empty() {
        return None;
    }
    let offered = m.accept_types()?.ok()?;
    let types = intersect(&offered, &parse_ours(&cfg.accept_types));
    if types.is_empty() {
        return None;
    }
    let tls = m.proto.eq_ignore_ascii_case("TCP/TLS/MSRP");
    let refs: Vec<&str> = types.iter().map(String::as_str).collect();
    let mut a = MediaBuilder::msrp(cfg.msrp_port, tls, &cfg.msrp_path);
    // Keep the usual attribute order: accept-types, wrapped types, path (RFC 4975 §8.7).
    let path = a.attributes.pop();
    a = a.accept_types(&refs);
    if let Some(Ok(wrapped)) = m.accept_wrapped_types() {
        let w = intersect(&wrapped, &parse_ours(&cfg.accept_wrapped_types));
        if !w.is_empty() {
            let wr: Vec<&str> = w.iter().map(String::as_str).collect();
            a = a.accept_wrapped_types(&wr);
        }
    }
    a.attributes.extend(path);
    if let Some(n) = cfg.max_size {
        a = a.max_size(n);
    }
    // RFC 6135 §4.2.1: always answer with a=setup. No setup (the RFC 4975 model, where the
    // offerer connects) and holdconn (to be ignored) both leave us passive.
    let setup = match m.setup() {
        Some(Ok(s)) if s != Setup::HoldConn => s.answer(),
        _ => Setup::Passive,
    };
    a = a.setup(setup);
    let dir = offer.direction_of(m);
    if dir != Direction::SendRecv {
        a = a.direction(dir.reversed());
    }
    // RFC 5547 §8.3: the answerer repeats the file-selector and file-transfer-id it accepts.
    if let Some(fs) = m.attribute("file-selector") {
        a = a.attribute("file-selector", fs.value);
    }
    if let Some(id) = m.attribute("file-transfer-id") {
        a = a.attribute("file-transfer-id", id.value);
    }
    Some(a)
}

fn answer_audio(m: &MediaDescription<'_>, cfg: &AnswerConfig) -> Option<MediaBuilder> {
    let supported = |c: AudioCodec| cfg.audio_codecs.contains(&c);
    let mut chosen = Vec::new();
    for f in &m.formats {
        match AudioCodec::identify(m, f) {
            Some(c) if c != AudioCodec::TelephoneEvent && supported(c) => {
                chosen.push((c, f.parse::<u8>().ok()?));
                break;
            }
            _ => {}
        }
    }
    if chosen.is_empty() {
        return None;
    }
    if supported(AudioCodec::TelephoneEvent) {
        let te = m
            .formats
            .iter()
            .find(|f| AudioCodec::identify(m, f) == Some(AudioCodec::TelephoneEvent));
        if let Some(pt) = te.and_then(|f| f.parse::<u8>().ok()) {
            chosen.push((AudioCodec::TelephoneEvent, pt));
        }
    }
    Some(MediaBuilder::audio_with_pts(cfg.audio_port, &chosen))
}
