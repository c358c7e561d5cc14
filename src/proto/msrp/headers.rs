//! Typed views of MSRP header values (RFC 4975 §9, RFC 4976 §7).
//!
//! The framer stores values as text; these accessors check each value's grammar when asked and
//! return errors whose offsets point into the buffer the message was parsed from.

use smallvec::SmallVec;

use super::message::{Header, Headers, RFC_SYNTAX, is_ident};
use super::uri::{MsrpUri, is_msrp_token};
use crate::proto::ParseError;

/// A To-Path, From-Path or Use-Path: one or more URIs, leftmost first.
pub type Path<'a> = SmallVec<[MsrpUri<'a>; 2]>;

/// `Byte-Range = "Byte-Range:" SP range-start "-" range-end "/" total`; positions are 1-based
/// (RFC 4975 §7.1.1), `None` stands for `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteRange {
    /// Position of the body's first byte in the whole message (1 for the first chunk).
    pub start: u64,
    /// Position of the body's last byte, `None` for `*` (unknown or interruptible).
    pub end: Option<u64>,
    /// Size of the whole message, `None` for `*` (unknown).
    pub total: Option<u64>,
}

impl std::fmt::Display for ByteRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-", self.start)?;
        match self.end {
            Some(e) => write!(f, "{e}/")?,
            None => f.write_str("*/")?,
        }
        match self.total {
            Some(t) => write!(f, "{t}"),
            None => f.write_str("*"),
        }
    }
}

/// Success-Report (`yes`/`no`) and Failure-Report (`yes`/`no`/`partial`) values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportValue {
    /// `yes`
    Yes,
    /// `no`
    No,
    /// `partial` (Failure-Report only)
    Partial,
}

impl ReportValue {
    /// The wire token.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportValue::Yes => "yes",
            ReportValue::No => "no",
            ReportValue::Partial => "partial",
        }
    }
}

/// `Status = "Status:" SP namespace SP status-code [SP comment]`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusHeader<'a> {
    /// `namespace = 3(DIGIT)`; `000` for RFC 4975 codes.
    pub namespace: u16,
    /// The three-digit status code.
    pub code: u16,
    /// The comment, if any.
    pub comment: Option<&'a str>,
}

/// `media-type = type "/" subtype *( ";" gen-param )`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType<'a> {
    /// The type, e.g. `text`.
    pub type_: &'a str,
    /// The subtype, e.g. `plain`.
    pub subtype: &'a str,
    /// The raw parameters after the subtype, starting with `;` (may be empty).
    pub params: &'a str,
}

fn invalid(code: &'static str, h: &Header<'_>, what: &str) -> ParseError {
    ParseError::new(
        code,
        format!("expected {what}, found {:?}", h.value),
        h.value_offset,
        h.value.len().max(1),
        RFC_SYNTAX,
    )
}

/// `1*DIGIT` as a u64, `None` on any non-digit or overflow.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// `MSRP-URI *( SP MSRP-URI )`
pub(crate) fn parse_path<'a>(h: &Header<'a>, code: &'static str) -> Result<Path<'a>, ParseError> {
    let mut out = Path::new();
    let mut off = h.value_offset;
    for part in h.value.split(' ') {
        if part.is_empty() {
            return Err(ParseError::new(
                code,
                format!(
                    "expected MSRP URIs separated by single spaces in {}",
                    h.name
                ),
                off,
                1,
                RFC_SYNTAX,
            ));
        }
        out.push(MsrpUri::parse(part).map_err(|e| e.shifted(off))?);
        off += part.len() + 1;
    }
    Ok(out)
}

impl<'a> Headers<'a> {
    fn required(&self, name: &str, code: &'static str) -> Result<&Header<'a>, ParseError> {
        self.get(name).ok_or_else(|| {
            ParseError::new(code, format!("missing {name} header"), 0, 4, RFC_SYNTAX)
        })
    }

    /// `To-Path = "To-Path:" SP MSRP-URI *( SP MSRP-URI )`; required in every message.
    pub fn to_path(&self) -> Result<Path<'a>, ParseError> {
        parse_path(
            self.required("To-Path", "msrp.to-path.missing")?,
            "msrp.to-path.invalid",
        )
    }

    /// `From-Path = "From-Path:" SP MSRP-URI *( SP MSRP-URI )`; required in every message.
    pub fn from_path(&self) -> Result<Path<'a>, ParseError> {
        parse_path(
            self.required("From-Path", "msrp.from-path.missing")?,
            "msrp.from-path.invalid",
        )
    }

    /// `Use-Path = "Use-Path:" SP MSRP-URI *(SP MSRP-URI)` (RFC 4976 §7).
    pub fn use_path(&self) -> Result<Option<Path<'a>>, ParseError> {
        self.get("Use-Path")
            .map(|h| parse_path(h, "msrp.use-path.invalid"))
            .transpose()
    }

    /// `Message-ID = "Message-ID:" SP ident`
    pub fn message_id(&self) -> Result<Option<&'a str>, ParseError> {
        match self.get("Message-ID") {
            None => Ok(None),
            Some(h) if is_ident(h.value.as_bytes()) => Ok(Some(h.value)),
            Some(h) => Err(invalid(
                "msrp.message-id.invalid",
                h,
                "an ident of 4 to 32 letters, digits or . - + % =",
            )),
        }
    }

    /// ```text
    /// Byte-Range = "Byte-Range:" SP range-start "-" range-end "/" total
    /// range-start = 1*DIGIT
    /// range-end   = 1*DIGIT / "*"
    /// total       = 1*DIGIT / "*"
    /// ```
    pub fn byte_range(&self) -> Result<Option<ByteRange>, ParseError> {
        let Some(h) = self.get("Byte-Range") else {
            return Ok(None);
        };
        let what = "range-start \"-\" range-end \"/\" total with 64-bit numbers or \"*\"";
        let e = || invalid("msrp.byte-range.invalid", h, what);
        let (start, rest) = h.value.split_once('-').ok_or_else(e)?;
        let (end, total) = rest.split_once('/').ok_or_else(e)?;
        let star = |s: &str| -> Result<Option<u64>, ParseError> {
            if s == "*" {
                Ok(None)
            } else {
                parse_u64(s).map(Some).ok_or_else(e)
            }
        };
        Ok(Some(ByteRange {
            start: parse_u64(start).ok_or_else(e)?,
            end: star(end)?,
            total: star(total)?,
        }))
    }

    fn report(
        &self,
        name: &str,
        code: &'static str,
        partial_ok: bool,
    ) -> Result<Option<ReportValue>, ParseError> {
        let Some(h) = self.get(name) else {
            return Ok(None);
        };
        match h.value {
            "yes" => Ok(Some(ReportValue::Yes)),
            "no" => Ok(Some(ReportValue::No)),
            "partial" if partial_ok => Ok(Some(ReportValue::Partial)),
            _ if partial_ok => Err(invalid(code, h, "yes, no or partial")),
            _ => Err(invalid(code, h, "yes or no")),
        }
    }

    /// `Success-Report = "Success-Report:" SP ("yes" / "no" )`
    pub fn success_report(&self) -> Result<Option<ReportValue>, ParseError> {
        self.report("Success-Report", "msrp.success-report.invalid", false)
    }

    /// `Failure-Report = "Failure-Report:" SP ("yes" / "no" / "partial" )`
    pub fn failure_report(&self) -> Result<Option<ReportValue>, ParseError> {
        self.report("Failure-Report", "msrp.failure-report.invalid", true)
    }

    /// ```text
    /// Status = "Status:" SP namespace SP status-code [SP comment]
    /// namespace = 3(DIGIT)
    /// ```
    pub fn status(&self) -> Result<Option<StatusHeader<'a>>, ParseError> {
        let Some(h) = self.get("Status") else {
            return Ok(None);
        };
        let e = || {
            invalid(
                "msrp.status.invalid",
                h,
                "namespace SP status-code [SP comment]",
            )
        };
        let v = h.value;
        let three = |s: Option<&str>| -> Option<u16> {
            let s = s?;
            if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        };
        let namespace = three(v.get(..3)).ok_or_else(e)?;
        if v.as_bytes().get(3) != Some(&b' ') {
            return Err(e());
        }
        let code = three(v.get(4..7)).ok_or_else(e)?;
        let comment = match v.as_bytes().get(7) {
            None => None,
            Some(b' ') => v.get(8..),
            Some(_) => return Err(e()),
        };
        Ok(Some(StatusHeader {
            namespace,
            code,
            comment,
        }))
    }

    /// ```text
    /// Content-Type = "Content-Type:" SP media-type
    /// media-type = type "/" subtype *( ";" gen-param )
    /// gen-param = pname [ "=" pval ]
    /// pval  = token / quoted-string
    /// ```
    pub fn content_type(&self) -> Result<Option<ContentType<'a>>, ParseError> {
        let Some(h) = self.get("Content-Type") else {
            return Ok(None);
        };
        let e = || {
            invalid(
                "msrp.content-type.invalid",
                h,
                "type \"/\" subtype *( \";\" pname [\"=\" pval] )",
            )
        };
        let v = h.value;
        let tok = |s: &str| !s.is_empty() && s.bytes().all(is_msrp_token);
        let (type_, rest) = v.split_once('/').ok_or_else(e)?;
        let sub_len = rest.find(';').unwrap_or(rest.len());
        let subtype = &rest[..sub_len];
        let params = &rest[sub_len..];
        if !tok(type_) || !tok(subtype) {
            return Err(e());
        }
        for p in crate::proto::scan::split_outside_quotes(params.as_bytes(), b';').skip(1) {
            let p = std::str::from_utf8(p).map_err(|_| e())?;
            let ok = match p.split_once('=') {
                None => tok(p),
                Some((n, val)) => tok(n) && (tok(val) || is_quoted_string(val)),
            };
            if !ok {
                return Err(e());
            }
        }
        Ok(Some(ContentType {
            type_,
            subtype,
            params,
        }))
    }

    fn number(&self, name: &str, code: &'static str) -> Result<Option<u64>, ParseError> {
        match self.get(name) {
            None => Ok(None),
            Some(h) => parse_u64(h.value)
                .map(Some)
                .ok_or_else(|| invalid(code, h, "1*DIGIT (a 64-bit number of seconds)")),
        }
    }

    /// `Expires = "Expires:" SP 1*DIGIT` (RFC 4976 §7).
    pub fn expires(&self) -> Result<Option<u64>, ParseError> {
        self.number("Expires", "msrp.expires.invalid")
    }

    /// `Min-Expires = "Min-Expires:" SP 1*DIGIT` (RFC 4976 §7).
    pub fn min_expires(&self) -> Result<Option<u64>, ParseError> {
        self.number("Min-Expires", "msrp.expires.invalid")
    }

    /// `Max-Expires = "Max-Expires:" SP 1*DIGIT` (RFC 4976 §7).
    pub fn max_expires(&self) -> Result<Option<u64>, ParseError> {
        self.number("Max-Expires", "msrp.expires.invalid")
    }
}

/// `quoted-string = DQUOTE *(qdtext / qd-esc) DQUOTE`
pub(crate) fn is_quoted_string(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b'"' || b[b.len() - 1] != b'"' {
        return false;
    }
    let inner = &b[1..b.len() - 1];
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b'\\' => {
                if !matches!(inner.get(i + 1), Some(b'\\' | b'"')) {
                    return false;
                }
                i += 2;
            }
            b'"' => return false,
            _ => i += 1,
        }
    }
    true
}

/// Whether a header name is one of the MIME headers that §7.1 forbids in a bodiless request.
pub(crate) fn is_mime_header(name: &str) -> bool {
    let n = name.as_bytes();
    n.len() > 8 && n[..8].eq_ignore_ascii_case(b"content-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::msrp::parse;

    fn head(hdrs: &str) -> Vec<u8> {
        format!(
            "MSRP abcd SEND\r\nTo-Path: msrp://a.example:1/s;tcp\r\nFrom-Path: msrp://b.example:2/t;tcp\r\n{hdrs}-------abcd$\r\n"
        )
        .into_bytes()
    }

    /// Tests leak their small buffers so accessor results can outlive the closure.
    fn with<T>(hdrs: &str, f: impl FnOnce(&Headers<'static>) -> T) -> T {
        let buf: &'static [u8] = Box::leak(head(hdrs).into_boxed_slice());
        let (m, _) = parse(buf).expect("parses").complete().expect("complete");
        f(&m.headers)
    }

    #[test]
    fn byte_range_forms() {
        let br = |s: &str| with(&format!("Byte-Range: {s}\r\n"), |h| h.byte_range());
        assert_eq!(
            br("1-25/25"),
            Ok(Some(ByteRange {
                start: 1,
                end: Some(25),
                total: Some(25)
            }))
        );
        assert_eq!(
            br("1-*/*"),
            Ok(Some(ByteRange {
                start: 1,
                end: None,
                total: None
            }))
        );
        assert_eq!(
            br("18446744073709551615-*/18446744073709551615")
                .expect("ok")
                .expect("some")
                .start,
            u64::MAX
        );
        for bad in [
            "18446744073709551616-1/2",
            "1-2",
            "1/2",
            "a-1/2",
            "-1/2",
            "1-2/",
            "1--2/3",
            "1-2/3 ",
        ] {
            let e = br(bad).expect_err(bad);
            assert_eq!(e.code, "msrp.byte-range.invalid", "{bad}");
            assert_eq!(e.offset, 100, "{bad}");
        }
        assert_eq!(
            ByteRange {
                start: 5,
                end: None,
                total: Some(8)
            }
            .to_string(),
            "5-*/8"
        );
    }

    #[test]
    fn reports_status_and_numbers() {
        let r = with("Success-Report: yes\r\nFailure-Report: partial\r\n", |h| {
            (h.success_report(), h.failure_report())
        });
        assert_eq!(
            r,
            (Ok(Some(ReportValue::Yes)), Ok(Some(ReportValue::Partial)))
        );
        let e = with("Success-Report: partial\r\n", |h| h.success_report()).expect_err("bad");
        assert_eq!(e.code, "msrp.success-report.invalid");
        let e = with("Failure-Report: Yes\r\n", |h| h.failure_report()).expect_err("bad");
        assert_eq!(e.code, "msrp.failure-report.invalid");
        let s = with("Status: 000 200 OK\r\n", |h| h.status()).expect("ok");
        assert_eq!(
            s,
            Some(StatusHeader {
                namespace: 0,
                code: 200,
                comment: Some("OK")
            })
        );
        let s = with("Status: 000 413\r\n", |h| h.status()).expect("ok");
        assert_eq!(s.map(|s| (s.code, s.comment)), Some((413, None)));
        for bad in ["200", "000 20", "000  200", "0000 200", "000 200x"] {
            let e = with(&format!("Status: {bad}\r\n"), |h| h.status()).expect_err(bad);
            assert_eq!(e.code, "msrp.status.invalid");
        }
        assert_eq!(with("Expires: 900\r\n", |h| h.expires()), Ok(Some(900)));
        let e = with("Expires: 99999999999999999999\r\n", |h| h.expires()).expect_err("ovf");
        assert_eq!(e.code, "msrp.expires.invalid");
        let e = with("Message-ID: a b\r\n", |h| h.message_id()).expect_err("bad id");
        assert_eq!(e.code, "msrp.message-id.invalid");
        assert_eq!(
            with("Message-ID: 12339sdqwer\r\n", |h| h.message_id()),
            Ok(Some("12339sdqwer"))
        );
    }

    #[test]
    fn content_type_and_paths() {
        let ct = with("Content-Type: text/plain;charset=\"utf-8\";x\r\n", |h| {
            h.content_type()
        })
        .expect("ok")
        .expect("some");
        assert_eq!(
            (ct.type_, ct.subtype, ct.params),
            ("text", "plain", ";charset=\"utf-8\";x")
        );
        for bad in [
            "text",
            "text/",
            "/plain",
            "text/plain;",
            "te xt/plain",
            "a/b;c=\"d",
        ] {
            let e = with(&format!("Content-Type: {bad}\r\n"), |h| h.content_type()).expect_err(bad);
            assert_eq!(e.code, "msrp.content-type.invalid", "{bad}");
        }
        let buf = b"MSRP abcd SEND\r\nTo-Path: msrp://a:1/s;tcp  msrp://b:1/s;tcp\r\nFrom-Path: msrp://b:2/t;tcp msrp://c:3/u;tcp\r\n-------abcd$\r\n";
        let (m, _) = parse(buf).expect("parses").complete().expect("complete");
        let e = m.headers.to_path().expect_err("double space");
        assert_eq!((e.code, e.offset), ("msrp.to-path.invalid", 42));
        let fp = m.headers.from_path().expect("ok");
        assert_eq!(fp.len(), 2);
        assert_eq!(fp[1].host, "c");
        let buf = b"MSRP abcd SEND\r\nTo-Path: msrp://a:1/s;tcp\r\nFrom-Path: msrp://b:x/t;tcp\r\n-------abcd$\r\n";
        let (m, _) = parse(buf).expect("parses").complete().expect("complete");
        let e = m.headers.from_path().expect_err("bad port");
        assert_eq!((e.code, e.offset), ("msrp.uri.port", 63));
        assert_eq!(&buf[63..64], b"x");
        assert_eq!(m.headers.use_path(), Ok(None));
        let e = Headers::default().to_path().expect_err("missing");
        assert_eq!(e.code, "msrp.to-path.missing");
    }
}
