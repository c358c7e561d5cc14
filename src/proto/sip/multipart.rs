//! Multipart bodies (RFC 2046 §5.1, as used by SIP in RFC 3261 §7.4 and RFC 5621): parts with
//! their own header fields and binary-safe content, split at the boundary from Content-Type.

use super::message::{Headers, ParseOptions, parse_headers};
use crate::proto::ParseError;

const RFC: &str = "RFC 2046 §5.1.1";

/// One body part.
#[derive(Debug, Clone)]
pub struct Part<'a> {
    /// The part's header fields (Content-Type, Content-ID, ...).
    pub headers: Headers<'a>,
    /// The part's content, binary-safe.
    pub body: &'a [u8],
}

impl<'a> Part<'a> {
    /// The part's Content-Type value, if any.
    pub fn content_type(&self) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.id == super::name::HeaderName::ContentType)
            .map(|h| h.value)
    }
}

/// Split a multipart body into parts.
///
/// ```text
/// multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF body-part
///                   *encapsulation close-delimiter transport-padding [CRLF epilogue]
/// encapsulation  := delimiter transport-padding CRLF body-part
/// delimiter      := CRLF dash-boundary        dash-boundary := "--" boundary
/// ```
/// Offsets in errors are relative to `body`.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, ParseError> {
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(ParseError::new(
            "sip.multipart.boundary",
            "the multipart boundary must be 1 to 70 characters",
            0,
            0,
            RFC,
        ));
    }
    let dash = format!("--{boundary}");
    let delim = format!("\r\n--{boundary}");
    // The first dash-boundary may start the body or follow a preamble line.
    let first = if body.starts_with(dash.as_bytes()) {
        0
    } else {
        match memchr::memmem::find(body, delim.as_bytes()) {
            Some(p) => p + 2,
            None => {
                return Err(ParseError::new(
                    "sip.multipart.boundary",
                    format!("the boundary `{boundary}` from Content-Type never occurs in the body"),
                    0,
                    body.len().min(1),
                    RFC,
                ));
            }
        }
    };
    let finder = memchr::memmem::Finder::new(delim.as_bytes());
    let mut parts = Vec::new();
    let mut pos = first + dash.len();
    let opts = ParseOptions::default();
    loop {
        // After a dash-boundary: "--" closes; else transport-padding CRLF.
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        while pos < body.len() && (body[pos] == b' ' || body[pos] == b'\t') {
            pos += 1;
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err(ParseError::new(
                "sip.multipart.delimiter",
                "expected CRLF after the boundary delimiter",
                pos,
                // Zero-length at the end of the body, so the span stays inside it.
                body.len().saturating_sub(pos).min(1),
                RFC,
            ));
        }
        pos += 2;
        let Some(end) = finder.find(&body[pos..]).map(|e| pos + e) else {
            return Err(ParseError::new(
                "sip.multipart.close",
                format!("the body ends without the closing delimiter `--{boundary}--`"),
                body.len(),
                0,
                RFC,
            ));
        };
        let part_buf = &body[..end];
        let mut headers = Headers::new();
        let content_start = if part_buf[pos..].starts_with(b"\r\n") {
            pos + 2
        } else {
            match parse_headers(part_buf, pos, &opts, &mut headers)? {
                Some((h_end, _)) => h_end,
                None => {
                    return Err(ParseError::new(
                        "sip.multipart.part",
                        "body part header fields do not end with an empty line",
                        pos,
                        end - pos,
                        RFC,
                    ));
                }
            }
        };
        parts.push(Part {
            headers,
            body: &body[content_start..end],
        });
        pos = end + delim.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_parts_with_binary() {
        let body = b"preamble\r\n--unique\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--unique\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\n--uniqu\xff\r\n--unique--\r\n";
        let parts = parse(body, "unique").expect("valid");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, b"v=0\r\n");
        assert_eq!(parts[0].content_type(), Some(&b"application/sdp"[..]));
        assert_eq!(parts[1].body, b"\x00\x01\r\n--uniqu\xff");
    }

    #[test]
    fn issue2_delimiter_error_at_end_of_body_stays_in_bounds() {
        // Found by fuzz target sip_lint: a body ending right after a dash-boundary.
        let body = b"--b\r\n\r\nx\r\n--b";
        let e = parse(body, "b").expect_err("no CRLF after the delimiter");
        assert_eq!(e.code, "sip.multipart.delimiter");
        assert_eq!((e.offset, e.len), (body.len(), 0));
    }

    #[test]
    fn missing_close_is_an_error() {
        let e = parse(b"--b\r\n\r\nx", "b").expect_err("open");
        assert_eq!(e.code, "sip.multipart.close");
        assert_eq!(
            parse(b"nothing", "b").expect_err("none").code,
            "sip.multipart.boundary"
        );
    }
}
