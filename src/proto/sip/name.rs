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

impl HeaderName {
    /// Identify a header name, case-insensitively, including one-letter compact forms.
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        if name.len() == 1 {
            let c = name[0].to_ascii_lowercase();
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
        // Bucket by length first: one `match`, then at most a handful of case-insensitive
        // compares (most buckets hold one or two names), instead of a walk over the table.
        let candidates: &[(&[u8], HeaderName)] = match name.len() {
            2 => &[(b"To", HeaderName::To)],
            3 => &[(b"Via", HeaderName::Via)],
            4 => &[(b"CSeq", HeaderName::CSeq), (b"Date", HeaderName::Date), (b"From", HeaderName::From)],
            5 => &[(b"Allow", HeaderName::Allow), (b"Event", HeaderName::Event), (b"Route", HeaderName::Route)],
            6 => &[(b"Accept", HeaderName::Accept), (b"Server", HeaderName::Server)],
            7 => &[(b"Call-ID", HeaderName::CallId), (b"Contact", HeaderName::Contact), (b"Expires", HeaderName::Expires), (b"Require", HeaderName::Require), (b"Subject", HeaderName::Subject), (b"Warning", HeaderName::Warning)],
            8 => &[(b"Identity", HeaderName::Identity), (b"Priority", HeaderName::Priority), (b"Refer-To", HeaderName::ReferTo), (b"Reply-To", HeaderName::ReplyTo)],
            9 => &[(b"Call-Info", HeaderName::CallInfo), (b"Supported", HeaderName::Supported), (b"Timestamp", HeaderName::Timestamp)],
            10 => &[(b"Alert-Info", HeaderName::AlertInfo), (b"Error-Info", HeaderName::ErrorInfo), (b"User-Agent", HeaderName::UserAgent)],
            11 => &[(b"In-Reply-To", HeaderName::InReplyTo), (b"Min-Expires", HeaderName::MinExpires), (b"Referred-By", HeaderName::ReferredBy), (b"Retry-After", HeaderName::RetryAfter), (b"Unsupported", HeaderName::Unsupported)],
            12 => &[(b"Allow-Events", HeaderName::AllowEvents), (b"Content-Type", HeaderName::ContentType), (b"Max-Forwards", HeaderName::MaxForwards), (b"MIME-Version", HeaderName::MimeVersion), (b"Organization", HeaderName::Organization), (b"Record-Route", HeaderName::RecordRoute)],
            13 => &[(b"Authorization", HeaderName::Authorization), (b"Proxy-Require", HeaderName::ProxyRequire)],
            14 => &[(b"Accept-Contact", HeaderName::AcceptContact), (b"Content-Length", HeaderName::ContentLength), (b"Reject-Contact", HeaderName::RejectContact)],
            15 => &[(b"Accept-Encoding", HeaderName::AcceptEncoding), (b"Accept-Language", HeaderName::AcceptLanguage), (b"Session-Expires", HeaderName::SessionExpires)],
            16 => &[(b"Content-Encoding", HeaderName::ContentEncoding), (b"Content-Language", HeaderName::ContentLanguage), (b"WWW-Authenticate", HeaderName::WwwAuthenticate)],
            18 => &[(b"Proxy-Authenticate", HeaderName::ProxyAuthenticate)],
            19 => &[(b"Authentication-Info", HeaderName::AuthenticationInfo), (b"Content-Disposition", HeaderName::ContentDisposition), (b"Proxy-Authorization", HeaderName::ProxyAuthorization), (b"Request-Disposition", HeaderName::RequestDisposition)],
            _ => &[],
        };
        for (n, id) in candidates {
            if n.eq_ignore_ascii_case(name) {
                return *id;
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
