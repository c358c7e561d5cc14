//! Message/CPIM (RFC 3862) envelopes: what `invite --cpim` wraps content in and what `listen`
//! unwraps to report the inner content type and body. Pure byte work, no IO.
//!
//! ```text
//! CPIM message = message headers CRLF CRLF MIME headers CRLF CRLF content   (RFC 3862 §2)
//! header       = name ":" SP value CRLF                                       (RFC 3862 §3.1)
//! ```

use memchr::memmem;

/// The CPIM message headers we write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpimEnvelope {
    /// `From:` value, e.g. `<sip:alice@example.com>`.
    pub from: String,
    /// `To:` value.
    pub to: String,
    /// `DateTime:` value (RFC 3339); omitted when empty.
    pub date_time: String,
}

/// A parsed envelope, borrowing the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpimParts<'a> {
    /// Message headers `(name, value)` in order (From, To, DateTime, ...).
    pub headers: Vec<(&'a str, &'a str)>,
    /// The inner Content-Type (`text/plain` when the MIME headers name none, RFC 2045 §5.2).
    pub content_type: &'a str,
    /// Where the inner content starts.
    pub body_offset: usize,
}

impl CpimParts<'_> {
    /// A message header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

fn header_lines(block: &[u8]) -> Option<Vec<(&str, &str)>> {
    let text = std::str::from_utf8(block).ok()?;
    let mut out = Vec::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let (n, v) = line.split_once(':')?;
        if n.is_empty() || n.contains(' ') {
            return None;
        }
        out.push((n, v.trim_start()));
    }
    Some(out)
}

/// Split a message/cpim body into envelope and content; `None` if it is not one (both blank
/// lines must be present within `body`).
pub fn unwrap(body: &[u8]) -> Option<CpimParts<'_>> {
    let first = memmem::find(body, b"\r\n\r\n")?;
    let headers = header_lines(body.get(..first)?)?;
    let mime_start = first + 4;
    let rest = body.get(mime_start..)?;
    let (mime_block, body_offset) = if rest.starts_with(b"\r\n") {
        (&rest[..0], mime_start + 2)
    } else {
        let second = memmem::find(rest, b"\r\n\r\n")?;
        (rest.get(..second)?, mime_start + second + 4)
    };
    let mime = header_lines(mime_block)?;
    let content_type = mime
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Type"))
        .map_or("text/plain", |(_, v)| *v);
    Some(CpimParts {
        headers,
        content_type,
        body_offset,
    })
}

/// The bytes that go before the content in a message/cpim body: the envelope, and MIME headers
/// naming `content_type`. Fails if a value contains CR or LF.
pub fn wrap_prefix(env: &CpimEnvelope, content_type: &str) -> Result<Vec<u8>, String> {
    let mut out = String::new();
    for (n, v) in [
        ("From", env.from.as_str()),
        ("To", env.to.as_str()),
        ("DateTime", env.date_time.as_str()),
        ("Content-Type", content_type),
    ] {
        if v.contains(['\r', '\n']) {
            return Err(format!("CPIM {n} must not contain CR or LF"));
        }
        if n == "Content-Type" {
            out.push_str("\r\n");
        }
        if !v.is_empty() {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    out.push_str("\r\n");
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_then_unwrap() {
        let env = CpimEnvelope {
            from: "<sip:alice@example.com>".into(),
            to: "<sip:bob@example.com>".into(),
            date_time: "2000-12-13T13:40:00-08:00".into(),
        };
        let mut msg = wrap_prefix(&env, "text/plain;charset=utf-8").expect("wraps");
        assert_eq!(
            msg,
            b"From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\n\
DateTime: 2000-12-13T13:40:00-08:00\r\n\r\nContent-Type: text/plain;charset=utf-8\r\n\r\n"
        );
        let len = msg.len();
        msg.extend_from_slice("h\u{e9}llo".as_bytes());
        let p = unwrap(&msg).expect("unwraps");
        assert_eq!(p.content_type, "text/plain;charset=utf-8");
        assert_eq!(p.body_offset, len);
        assert_eq!(p.header("from"), Some("<sip:alice@example.com>"));
        assert!(wrap_prefix(&env, "a\r\nb").is_err());
    }

    #[test]
    fn rfc3862_example_and_non_cpim() {
        let m = b"From: MR SANDERS <im:piglet@100akerwood.com>\r\n\
To: Depressed Donkey <im:eeyore@100akerwood.com>\r\n\
DateTime: 2000-12-13T13:40:00-08:00\r\n\
Subject: the weather will be fine today\r\n\
\r\n\
Content-type: text/plain\r\n\
Content-ID: <1234567890@foo.com>\r\n\
\r\n\
Here is the text of my message.";
        let p = unwrap(m).expect("parses");
        assert_eq!(p.content_type, "text/plain");
        assert_eq!(&m[p.body_offset..], b"Here is the text of my message.");
        assert_eq!(p.headers.len(), 4);
        assert_eq!(unwrap(b"no blank line"), None);
        assert_eq!(
            unwrap(b"not a header\r\n\r\nContent-Type: x/y\r\n\r\n"),
            None
        );
        for i in 0..m.len() {
            let _ = unwrap(&m[..i]);
        }
    }
}
