//! Header names known to the codec, with their compact forms (RFC 3261 §7.3.3 and the
//! extensions that define one-letter forms), so lookups compare small integers, not strings.

/// A header name the codec knows, or `Other` for extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum HeaderName {
    Accept,
    AcceptContact,
    AcceptEncoding,
    AcceptLanguage,
    AlertInfo,
    Allow,
    AllowEvents,
    AuthenticationInfo,
    Authorization,
    CallId,
    CallInfo,
    Contact,
    ContentDisposition,
    ContentEncoding,
    ContentLanguage,
    ContentLength,
    ContentType,
    CSeq,
    Date,
    ErrorInfo,
    Event,
    Expires,
    From,
    Identity,
    InReplyTo,
    MaxForwards,
    MimeVersion,
    MinExpires,
    Organization,
    Priority,
    ProxyAuthenticate,
    ProxyAuthorization,
    ProxyRequire,
    RecordRoute,
    ReferTo,
    ReferredBy,
    RejectContact,
    ReplyTo,
    RequestDisposition,
    Require,
    RetryAfter,
    Route,
    Server,
    SessionExpires,
    Subject,
    Supported,
    Timestamp,
    To,
    Unsupported,
    UserAgent,
    Via,
    Warning,
    WwwAuthenticate,
    Other,
}

/// (canonical name, compact form or 0, id). Compact forms: RFC 3261 §7.3.3 (i m e l c f s k t
/// v), RFC 6665 (u o), RFC 3515 (r), RFC 4028 (x), RFC 3892 (b), RFC 8224 (y), RFC 3841 (a j d).
const TABLE: &[(&str, u8, HeaderName)] = &[
    ("Accept", 0, HeaderName::Accept),
    ("Accept-Contact", b'a', HeaderName::AcceptContact),
    ("Accept-Encoding", 0, HeaderName::AcceptEncoding),
    ("Accept-Language", 0, HeaderName::AcceptLanguage),
    ("Alert-Info", 0, HeaderName::AlertInfo),
    ("Allow", 0, HeaderName::Allow),
    ("Allow-Events", b'u', HeaderName::AllowEvents),
    ("Authentication-Info", 0, HeaderName::AuthenticationInfo),
    ("Authorization", 0, HeaderName::Authorization),
    ("Call-ID", b'i', HeaderName::CallId),
    ("Call-Info", 0, HeaderName::CallInfo),
    ("Contact", b'm', HeaderName::Contact),
    ("Content-Disposition", 0, HeaderName::ContentDisposition),
    ("Content-Encoding", b'e', HeaderName::ContentEncoding),
    ("Content-Language", 0, HeaderName::ContentLanguage),
    ("Content-Length", b'l', HeaderName::ContentLength),
    ("Content-Type", b'c', HeaderName::ContentType),
    ("CSeq", 0, HeaderName::CSeq),
    ("Date", 0, HeaderName::Date),
    ("Error-Info", 0, HeaderName::ErrorInfo),
    ("Event", b'o', HeaderName::Event),
    ("Expires", 0, HeaderName::Expires),
    ("From", b'f', HeaderName::From),
    ("Identity", b'y', HeaderName::Identity),
    ("In-Reply-To", 0, HeaderName::InReplyTo),
    ("Max-Forwards", 0, HeaderName::MaxForwards),
    ("MIME-Version", 0, HeaderName::MimeVersion),
    ("Min-Expires", 0, HeaderName::MinExpires),
    ("Organization", 0, HeaderName::Organization),
    ("Priority", 0, HeaderName::Priority),
    ("Proxy-Authenticate", 0, HeaderName::ProxyAuthenticate),
    ("Proxy-Authorization", 0, HeaderName::ProxyAuthorization),
    ("Proxy-Require", 0, HeaderName::ProxyRequire),
    ("Record-Route", 0, HeaderName::RecordRoute),
    ("Refer-To", b'r', HeaderName::ReferTo),
    ("Referred-By", b'b', HeaderName::ReferredBy),
    ("Reject-Contact", b'j', HeaderName::RejectContact),
    ("Reply-To", 0, HeaderName::ReplyTo),
    ("Request-Disposition", b'd', HeaderName::RequestDisposition),
    ("Require", 0, HeaderName::Require),
    ("Retry-After", 0, HeaderName::RetryAfter),
    ("Route", 0, HeaderName::Route),
    ("Server", 0, HeaderName::Server),
    ("Session-Expires", b'x', HeaderName::SessionExpires),
    ("Subject", b's', HeaderName::Subject),
    ("Supported", b'k', HeaderName::Supported),
    ("Timestamp", 0, HeaderName::Timestamp),
    ("To", b't', HeaderName::To),
    ("Unsupported", 0, HeaderName::Unsupported),
    ("User-Agent", 0, HeaderName::UserAgent),
    ("Via", b'v', HeaderName::Via),
    ("Warning", 0, HeaderName::Warning),
    ("WWW-Authenticate", 0, HeaderName::WwwAuthenticate),
];

/// A known header name prepared for case-insensitive comparison a word at a time: `lower` is
/// the name in lower case, `mask` has 0x20 on the bytes that are letters. A candidate byte `x`
/// matches the name's byte `c` exactly when `x | mask == c`: at a letter that accepts both
/// cases and nothing else, elsewhere it demands the same byte (the same answer as
/// `eq_ignore_ascii_case`, for any input).
#[derive(Clone, Copy)]
struct Folded {
    lower: [u64; 3],
    mask: [u64; 3],
    /// 0xff on the bytes of the name, for comparing against words read past its end.
    keep: [u64; 3],
    len: usize,
    id: HeaderName,
}

/// The longest known name (`Authentication-Info` and friends, 19 bytes) fits in 3 words.
const FOLDED_MAX: usize = 24;

impl Folded {
    const fn new(name: &[u8], id: HeaderName) -> Folded {
        let mut lower = [0u8; FOLDED_MAX];
        let mut mask = [0u8; FOLDED_MAX];
        let mut keep = [0u8; FOLDED_MAX];
        let mut i = 0;
        while i < name.len() {
            lower[i] = name[i].to_ascii_lowercase();
            if name[i].is_ascii_alphabetic() {
                mask[i] = 0x20;
            }
            keep[i] = 0xff;
            i += 1;
        }
        Folded {
            lower: words(&lower),
            mask: words(&mask),
            keep: words(&keep),
            len: name.len(),
            id,
        }
    }

    /// `name` as zero-padded words, or `None` when it is longer than every known name.
    #[inline]
    fn load(name: &[u8]) -> Option<[u64; 3]> {
        let mut buf = [0u8; FOLDED_MAX];
        buf.get_mut(..name.len())?.copy_from_slice(name);
        Some(words(&buf))
    }

    #[inline]
    fn matches(&self, w: &[u64; 3]) -> bool {
        // Lengths are equal (same bucket), so the zero padding compares equal too.
        (w[0] | self.mask[0]) == self.lower[0]
            && (w[1] | self.mask[1]) == self.lower[1]
            && (w[2] | self.mask[2]) == self.lower[2]
    }
}

const fn words(b: &[u8; FOLDED_MAX]) -> [u64; 3] {
    let mut w = [0u64; 3];
    let mut i = 0;
    while i < 3 {
        w[i] = u64::from_le_bytes([
            b[i * 8],
            b[i * 8 + 1],
            b[i * 8 + 2],
            b[i * 8 + 3],
            b[i * 8 + 4],
            b[i * 8 + 5],
            b[i * 8 + 6],
            b[i * 8 + 7],
        ]);
        i += 1;
    }
    w
}

const BY_LEN_2: &[Folded] = &[Folded::new(b"To", HeaderName::To)];
const BY_LEN_3: &[Folded] = &[Folded::new(b"Via", HeaderName::Via)];
const BY_LEN_4: &[Folded] = &[
    Folded::new(b"CSeq", HeaderName::CSeq),
    Folded::new(b"Date", HeaderName::Date),
    Folded::new(b"From", HeaderName::From),
];
const BY_LEN_5: &[Folded] = &[
    Folded::new(b"Allow", HeaderName::Allow),
    Folded::new(b"Event", HeaderName::Event),
    Folded::new(b"Route", HeaderName::Route),
];
const BY_LEN_6: &[Folded] = &[
    Folded::new(b"Accept", HeaderName::Accept),
    Folded::new(b"Server", HeaderName::Server),
];
const BY_LEN_7: &[Folded] = &[
    Folded::new(b"Call-ID", HeaderName::CallId),
    Folded::new(b"Contact", HeaderName::Contact),
    Folded::new(b"Expires", HeaderName::Expires),
    Folded::new(b"Require", HeaderName::Require),
    Folded::new(b"Subject", HeaderName::Subject),
    Folded::new(b"Warning", HeaderName::Warning),
];
const BY_LEN_8: &[Folded] = &[
    Folded::new(b"Identity", HeaderName::Identity),
    Folded::new(b"Priority", HeaderName::Priority),
    Folded::new(b"Refer-To", HeaderName::ReferTo),
    Folded::new(b"Reply-To", HeaderName::ReplyTo),
];
const BY_LEN_9: &[Folded] = &[
    Folded::new(b"Call-Info", HeaderName::CallInfo),
    Folded::new(b"Supported", HeaderName::Supported),
    Folded::new(b"Timestamp", HeaderName::Timestamp),
];
const BY_LEN_10: &[Folded] = &[
    Folded::new(b"Alert-Info", HeaderName::AlertInfo),
    Folded::new(b"Error-Info", HeaderName::ErrorInfo),
    Folded::new(b"User-Agent", HeaderName::UserAgent),
];
const BY_LEN_11: &[Folded] = &[
    Folded::new(b"In-Reply-To", HeaderName::InReplyTo),
    Folded::new(b"Min-Expires", HeaderName::MinExpires),
    Folded::new(b"Referred-By", HeaderName::ReferredBy),
    Folded::new(b"Retry-After", HeaderName::RetryAfter),
    Folded::new(b"Unsupported", HeaderName::Unsupported),
];
const BY_LEN_12: &[Folded] = &[
    Folded::new(b"Allow-Events", HeaderName::AllowEvents),
    Folded::new(b"Content-Type", HeaderName::ContentType),
    Folded::new(b"Max-Forwards", HeaderName::MaxForwards),
    Folded::new(b"MIME-Version", HeaderName::MimeVersion),
    Folded::new(b"Organization", HeaderName::Organization),
    Folded::new(b"Record-Route", HeaderName::RecordRoute),
];
const BY_LEN_13: &[Folded] = &[
    Folded::new(b"Authorization", HeaderName::Authorization),
    Folded::new(b"Proxy-Require", HeaderName::ProxyRequire),
];
const BY_LEN_14: &[Folded] = &[
    Folded::new(b"Accept-Contact", HeaderName::AcceptContact),
    Folded::new(b"Content-Length", HeaderName::ContentLength),
    Folded::new(b"Reject-Contact", HeaderName::RejectContact),
];
const BY_LEN_15: &[Folded] = &[
    Folded::new(b"Accept-Encoding", HeaderName::AcceptEncoding),
    Folded::new(b"Accept-Language", HeaderName::AcceptLanguage),
    Folded::new(b"Session-Expires", HeaderName::SessionExpires),
];
const BY_LEN_16: &[Folded] = &[
    Folded::new(b"Content-Encoding", HeaderName::ContentEncoding),
    Folded::new(b"Content-Language", HeaderName::ContentLanguage),
    Folded::new(b"WWW-Authenticate", HeaderName::WwwAuthenticate),
];
const BY_LEN_18: &[Folded] = &[Folded::new(
    b"Proxy-Authenticate",
    HeaderName::ProxyAuthenticate,
)];
const BY_LEN_19: &[Folded] = &[
    Folded::new(b"Authentication-Info", HeaderName::AuthenticationInfo),
    Folded::new(b"Content-Disposition", HeaderName::ContentDisposition),
    Folded::new(b"Proxy-Authorization", HeaderName::ProxyAuthorization),
    Folded::new(b"Request-Disposition", HeaderName::RequestDisposition),
];

/// The names found in nearly every request and response, by lower-case first letter, for the
/// framer's [`HeaderName::known_at`].
const HOT_A: &[Folded] = &[
    Folded::new(b"Allow", HeaderName::Allow),
    Folded::new(b"Accept", HeaderName::Accept),
];
const HOT_C: &[Folded] = &[
    Folded::new(b"Call-ID", HeaderName::CallId),
    Folded::new(b"CSeq", HeaderName::CSeq),
    Folded::new(b"Contact", HeaderName::Contact),
    Folded::new(b"Content-Type", HeaderName::ContentType),
    Folded::new(b"Content-Length", HeaderName::ContentLength),
];
const HOT_E: &[Folded] = &[
    Folded::new(b"Expires", HeaderName::Expires),
    Folded::new(b"Event", HeaderName::Event),
];
const HOT_F: &[Folded] = &[Folded::new(b"From", HeaderName::From)];
const HOT_M: &[Folded] = &[Folded::new(b"Max-Forwards", HeaderName::MaxForwards)];
const HOT_R: &[Folded] = &[
    Folded::new(b"Route", HeaderName::Route),
    Folded::new(b"Record-Route", HeaderName::RecordRoute),
    Folded::new(b"Require", HeaderName::Require),
];
const HOT_S: &[Folded] = &[
    Folded::new(b"Supported", HeaderName::Supported),
    Folded::new(b"Server", HeaderName::Server),
    Folded::new(b"Subject", HeaderName::Subject),
];
const HOT_T: &[Folded] = &[Folded::new(b"To", HeaderName::To)];
const HOT_U: &[Folded] = &[Folded::new(b"User-Agent", HeaderName::UserAgent)];
const HOT_V: &[Folded] = &[Folded::new(b"Via", HeaderName::Via)];

impl HeaderName {
    /// For the framer: when `buf[pos..]` starts with a common header name (any case) followed
    /// by a byte that cannot continue a token, that name's id and length.
    ///
    /// This replaces the byte-by-byte token scan and the length-bucketed lookup for the dozen
    /// names nearly every message consists of; `None` leaves the line to the general path.
    #[inline]
    pub(crate) fn known_at(buf: &[u8], pos: usize) -> Option<(HeaderName, usize)> {
        let rest = buf.get(pos..)?;
        let word = |i: usize| -> Option<u64> {
            let chunk: [u8; 8] = rest.get(i * 8..i * 8 + 8)?.try_into().ok()?;
            Some(u64::from_le_bytes(chunk))
        };
        let w = [word(0)?, word(1)?, word(2)?];
        let after = |len: usize| {
            rest.get(len)
                .is_some_and(|&b| !crate::proto::scan::is_token(b))
        };
        let candidates = match (w[0] as u8) | 0x20 {
            b'a' => HOT_A,
            b'c' => HOT_C,
            b'e' => HOT_E,
            b'f' => HOT_F,
            b'm' => HOT_M,
            b'r' => HOT_R,
            b's' => HOT_S,
            b't' => HOT_T,
            b'u' => HOT_U,
            b'v' => HOT_V,
            _ => return None,
        };
        for k in candidates {
            if (w[0] & k.keep[0]) | k.mask[0] == k.lower[0]
                && (w[1] & k.keep[1]) | k.mask[1] == k.lower[1]
                && (w[2] & k.keep[2]) | k.mask[2] == k.lower[2]
                && after(k.len)
            {
                return Some((k.id, k.len));
            }
        }
        None
    }

    /// Identify a header name, case-insensitively, including one-letter compact forms.
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        let Some(words) = Folded::load(name) else {
            return HeaderName::Other;
        };
        HeaderName::from_words(name.len(), &words)
    }

    /// [`HeaderName::from_bytes`] for the name at `buf[pos..pos + len]`, for the framer.
    ///
    /// The bytes after a header name (`:`, the value) are still in the buffer, so whole words
    /// can be loaded from it and the tail masked off, instead of copying a name of unknown
    /// length into a padded buffer (a `memcpy` call per header field).
    #[inline]
    pub(crate) fn from_buf(buf: &[u8], pos: usize, len: usize) -> HeaderName {
        let word = |i: usize| -> Option<u64> {
            let at = pos.checked_add(i * 8)?;
            let chunk: [u8; 8] = buf.get(at..at.checked_add(8)?)?.try_into().ok()?;
            let w = u64::from_le_bytes(chunk);
            let keep = len.saturating_sub(i * 8);
            Some(if keep >= 8 {
                w
            } else {
                w & ((1u64 << (keep * 8)) - 1)
            })
        };
        let words = match len {
            1..=8 => word(0).map(|w| [w, 0, 0]),
            9..=16 => word(0).zip(word(1)).map(|(a, b)| [a, b, 0]),
            17..=FOLDED_MAX => word(0)
                .zip(word(1))
                .zip(word(2))
                .map(|((a, b), c)| [a, b, c]),
            _ => return HeaderName::Other,
        };
        match words {
            Some(w) => HeaderName::from_words(len, &w),
            None => buf
                .get(pos..pos.saturating_add(len))
                .map_or(HeaderName::Other, HeaderName::from_bytes),
        }
    }

    /// Identify a name of `len` bytes given as zero-padded little-endian words.
    #[inline]
    fn from_words(len: usize, words: &[u64; 3]) -> HeaderName {
        if len == 1 {
            let c = (words[0] as u8).to_ascii_lowercase();
            return match c {
                b'i' => HeaderName::CallId,
                b'm' => HeaderName::Contact,
                b'e' => HeaderName::ContentEncoding,
                b'l' => HeaderName::ContentLength,
                b'c' => HeaderName::ContentType,
                b'f' => HeaderName::From,
                b's' => HeaderName::Subject,
                b'k' => HeaderName::Supported,
                b't' => HeaderName::To,
                b'v' => HeaderName::Via,
                b'u' => HeaderName::AllowEvents,
                b'o' => HeaderName::Event,
                b'r' => HeaderName::ReferTo,
                b'x' => HeaderName::SessionExpires,
                b'b' => HeaderName::ReferredBy,
                b'y' => HeaderName::Identity,
                b'a' => HeaderName::AcceptContact,
                b'j' => HeaderName::RejectContact,
                b'd' => HeaderName::RequestDisposition,
                _ => HeaderName::Other,
            };
        }
        // Bucket by length, then compare 8 bytes at a time against the pre-folded names.
        let candidates: &[Folded] = match len {
            2 => BY_LEN_2,
            3 => BY_LEN_3,
            4 => BY_LEN_4,
            5 => BY_LEN_5,
            6 => BY_LEN_6,
            7 => BY_LEN_7,
            8 => BY_LEN_8,
            9 => BY_LEN_9,
            10 => BY_LEN_10,
            11 => BY_LEN_11,
            12 => BY_LEN_12,
            13 => BY_LEN_13,
            14 => BY_LEN_14,
            15 => BY_LEN_15,
            16 => BY_LEN_16,
            18 => BY_LEN_18,
            19 => BY_LEN_19,
            _ => &[],
        };
        for known in candidates {
            if known.matches(words) {
                return known.id;
            }
        }
        HeaderName::Other
    }

    /// The canonical spelling (`Call-ID`), or `None` for `Other`.
    pub fn canonical(self) -> Option<&'static str> {
        TABLE
            .iter()
            .find(|(_, _, id)| *id == self)
            .map(|(n, _, _)| *n)
    }

    /// The compact form, if the header has one.
    pub fn compact(self) -> Option<char> {
        TABLE
            .iter()
            .find(|(_, c, id)| *id == self && *c != 0)
            .map(|(_, c, _)| *c as char)
    }

    /// Headers whose grammar allows one value only (RFC 3261 §20 and §7.3.1): a second one is a
    /// protocol error (RFC 4475 §3.3.8).
    pub fn is_single_valued(self) -> bool {
        matches!(
            self,
            HeaderName::CallId
                | HeaderName::ContentLength
                | HeaderName::ContentType
                | HeaderName::CSeq
                | HeaderName::Date
                | HeaderName::Expires
                | HeaderName::From
                | HeaderName::MaxForwards
                | HeaderName::MimeVersion
                | HeaderName::MinExpires
                | HeaderName::To
                | HeaderName::Timestamp
                | HeaderName::RetryAfter
                | HeaderName::ContentDisposition
                | HeaderName::Priority
                | HeaderName::Organization
                | HeaderName::ReplyTo
                | HeaderName::Subject
                | HeaderName::Server
                | HeaderName::UserAgent
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case() {
        assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"I"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"cseq"), HeaderName::CSeq);
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(
            HeaderName::from_bytes(b"www-authenticate"),
            HeaderName::WwwAuthenticate
        );
        assert_eq!(HeaderName::from_bytes(b"X-Foo"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"q"), HeaderName::Other);
        // The word-wise compare folds case only where the known name has a letter.
        assert_eq!(HeaderName::from_bytes(b"CALL-ID"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"Call\rID"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"Call\x0dID"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"Vi\x01"), HeaderName::Other);
        assert_eq!(
            HeaderName::from_bytes(b"Authentication-Infos"),
            HeaderName::Other
        );
        assert_eq!(HeaderName::from_bytes(&[b'x'; 40]), HeaderName::Other);
        // The framer's entry point reads whole words past the name and must mask them off.
        let buf = b"To: a\r\nContent-Length: 0\r\nX-Long-Extension-Header-Name: 1\r\nv:1";
        assert_eq!(HeaderName::from_buf(buf, 0, 2), HeaderName::To);
        assert_eq!(HeaderName::from_buf(buf, 0, 1), HeaderName::To);
        assert_eq!(HeaderName::from_buf(buf, 0, 3), HeaderName::Other);
        assert_eq!(HeaderName::from_buf(buf, 7, 14), HeaderName::ContentLength);
        assert_eq!(HeaderName::from_buf(buf, 7, 7), HeaderName::Other);
        assert_eq!(HeaderName::from_buf(buf, 26, 28), HeaderName::Other);
        assert_eq!(HeaderName::from_buf(buf, buf.len() - 3, 1), HeaderName::Via);
        for (name, _, id) in TABLE {
            let mut line = name.as_bytes().to_vec();
            line.extend_from_slice(b": x\r\n\r\n");
            assert_eq!(HeaderName::from_buf(&line, 0, name.len()), *id, "{name}");
            // At the very end of a buffer there are no bytes to spare.
            assert_eq!(
                HeaderName::from_buf(name.as_bytes(), 0, name.len()),
                *id,
                "{name}"
            );
        }
        let line = b"Via :1\r\ncontent-TYPE: a/b\r\nContent-Types: x\r\nCall-IDs: y\r\nX-Pad: 0123456789\r\n";
        assert_eq!(HeaderName::known_at(line, 0), Some((HeaderName::Via, 3)));
        assert_eq!(
            HeaderName::known_at(line, 8),
            Some((HeaderName::ContentType, 12))
        );
        assert_eq!(HeaderName::known_at(line, 27), None);
        assert_eq!(HeaderName::known_at(line, 45), None);
        assert_eq!(HeaderName::known_at(b"Via: too short", 0), None);
        for (name, _, id) in TABLE {
            let mut line = name.as_bytes().to_vec();
            line.extend_from_slice(b": some value that is long enough\r\n\r\n");
            if let Some(found) = HeaderName::known_at(&line, 0) {
                assert_eq!(found, (*id, name.len()), "{name}");
            }
        }
        assert_eq!(HeaderName::Contact.compact(), Some('m'));
        assert_eq!(HeaderName::CallId.canonical(), Some("Call-ID"));
    }

    #[test]
    fn every_compact_form_round_trips() {
        for (name, c, id) in TABLE {
            assert_eq!(HeaderName::from_bytes(name.as_bytes()), *id, "{name}");
            if *c != 0 {
                assert_eq!(HeaderName::from_bytes(&[*c]), *id, "{}", *c as char);
            }
        }
    }
}
