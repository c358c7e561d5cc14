//! Whether a buffer looks like a message of a given protocol at all, before any grammar is
//! applied. A linter that recovers line by line turns a binary or unrelated file into dozens of
//! grammar errors that each blame a byte; one finding that says "this is not a message" is the
//! true cause, and the only one worth printing.

use super::ParseError;
use super::scan::{is_token, is_wsp};

/// The protocol a buffer is expected to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A SIP request or response (RFC 3261 §7).
    Sip,
    /// An SDP session description (RFC 8866 §5).
    Sdp,
    /// An MSRP request or response (RFC 4975 §9).
    Msrp,
}

impl Expected {
    fn name(self) -> &'static str {
        match self {
            Expected::Sip => "SIP message",
            Expected::Sdp => "SDP session description",
            Expected::Msrp => "MSRP message",
        }
    }

    fn rfc(self) -> &'static str {
        match self {
            Expected::Sip => "RFC 3261 §7",
            Expected::Sdp => "RFC 8866 §5",
            Expected::Msrp => "RFC 4975 §9",
        }
    }
}

/// What some editors write at the start of a UTF-8 file.
pub const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// Longest first line examined for binary content; a text protocol's first line is short.
const FIRST_LINE_LIMIT: usize = 4096;

/// `input.not-a-message` when `buf` cannot be a message of the `expected` kind: its first line
/// holds NUL or other control bytes, or is not UTF-8 (binary data), or no line has the shape
/// the protocol starts with (a start line or header field for SIP, `MSRP ` for MSRP, `x=` for
/// SDP). `None` leaves the verdict to the protocol's linter. Empty lines before the first line
/// are skipped, as RFC 3261 §7.5 lets SIP do.
pub fn not_a_message(buf: &[u8], expected: Expected) -> Option<ParseError> {
    let pos = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let rest = &buf[pos..];
    // A byte order mark from a text editor is the linter's to report, not a sign of binary.
    let rest = rest.strip_prefix(UTF8_BOM).unwrap_or(rest);
    let pos = buf.len() - rest.len();
    let line_end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    let whole = &rest[..line_end];
    let whole = whole.strip_suffix(b"\r").unwrap_or(whole);
    let first = &whole[..whole.len().min(FIRST_LINE_LIMIT)];
    let what = expected.name();
    let verdict = |why: String, at: usize, len: usize| {
        Some(ParseError::new(
            "input.not-a-message",
            format!("this is not a {what}: {why}"),
            at,
            len,
            expected.rfc(),
        ))
    };
    if let Some(i) = first
        .iter()
        .position(|&b| (b < 0x20 && b != b'\t' && b != b'\r') || b == 0x7f)
    {
        let why = if first[i] == 0 {
            "its first line holds a NUL byte (binary data?)".to_string()
        } else {
            format!(
                "its first line holds the control byte 0x{:02x} (binary data?)",
                first[i]
            )
        };
        return verdict(why, pos + i, 1);
    }
    if let Err(e) = std::str::from_utf8(first) {
        // A sequence cut by FIRST_LINE_LIMIT is not evidence of anything.
        if e.error_len().is_some() {
            return verdict(
                "its first line is not UTF-8 text (binary data?)".into(),
                pos + e.valid_up_to(),
                1,
            );
        }
    }
    let shaped = match expected {
        // A broken first line before header fields is still a (broken) SIP message.
        Expected::Sip => lines(rest).any(|l| start_line_shape(l) || header_shape(l)),
        Expected::Sdp => {
            lines(rest).any(|l| l.len() >= 2 && l[0].is_ascii_alphabetic() && l[1] == b'=')
        }
        Expected::Msrp => {
            whole.starts_with(b"MSRP")
                || header_shape(whole)
                || lines(rest).any(|l| l.starts_with(b"MSRP "))
        }
    };
    if shaped {
        return None;
    }
    let why = match expected {
        Expected::Sip => "no line looks like a request line, a status line or a header field",
        Expected::Sdp => "no line has the `<type>=<value>` form",
        Expected::Msrp => "no line starts with `MSRP `",
    };
    verdict(why.into(), pos, first.len())
}

/// Lines of `buf` without their CR LF or LF, up to the first empty line: the head of a message.
fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    buf.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
}

/// Whether `line` looks like a SIP start line, even a broken one: `SIP/` then anything (a
/// status line), a line ending in ` SIP/` and a version (a request line, whatever its URI), or
/// a token, SP and a word holding `:` (a request line's method and URI; the version may be
/// missing or wrong, the grammar check says so).
pub fn start_line_shape(line: &[u8]) -> bool {
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        return true;
    }
    if let Some(sp) = line.iter().rposition(|&b| b == b' ') {
        let version = &line[sp + 1..];
        if version.len() >= 5
            && version[..4].eq_ignore_ascii_case(b"SIP/")
            && version[4].is_ascii_digit()
        {
            return true;
        }
    }
    let method = line.iter().take_while(|&&b| is_token(b)).count();
    if method == 0 || line.get(method) != Some(&b' ') {
        return false;
    }
    let uri = &line[method + 1..];
    let uri = &uri[..uri.iter().position(|&b| b == b' ').unwrap_or(uri.len())];
    uri.contains(&b':')
}

/// Whether `line` looks like a header field: `token *WSP ":"`.
pub fn header_shape(line: &[u8]) -> bool {
    let name = line.iter().take_while(|&&b| is_token(b)).count();
    if name == 0 {
        return false;
    }
    let colon = line[name..].iter().take_while(|&&b| is_wsp(b)).count();
    line.get(name + colon) == Some(&b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(buf: &[u8], e: Expected) -> Option<&'static str> {
        not_a_message(buf, e).map(|e| e.code)
    }

    #[test]
    fn binary_first_lines_are_not_messages() {
        for buf in [
            &b"\x7fELF\x02\x01\x01\0\0\0"[..],
            b"\0\0\0\0",
            b"INVITE sip:a@b SIP/2.0\0\r\n",
            b"\xff\xfe<\0h\0",
        ] {
            for e in [Expected::Sip, Expected::Sdp, Expected::Msrp] {
                assert_eq!(code(buf, e), Some("input.not-a-message"), "{buf:?} {e:?}");
            }
        }
    }

    #[test]
    fn text_without_the_protocol_shape_is_not_a_message() {
        let notes = b"These are my notes.\nNothing to see here\n";
        assert_eq!(code(notes, Expected::Sip), Some("input.not-a-message"));
        assert_eq!(code(notes, Expected::Sdp), Some("input.not-a-message"));
        assert_eq!(code(notes, Expected::Msrp), Some("input.not-a-message"));
    }

    #[test]
    fn broken_messages_are_left_to_the_linter() {
        for buf in [
            &b"INVITE sip:bob@example.com\r\nVia: x\r\n\r\n"[..],
            b"SIP/2.0 OK\r\n",
            b"Via: SIP/2.0/UDP h\r\nTo: <sip:a@b>\r\n\r\n",
            b"hello world\r\nINVITE sip:b@x SIP/2.0\r\n\r\n",
            b"\r\n\r\nOPTIONS sip:x SIP/2.0\r\n",
            b"\xef\xbb\xbfOPTIONS sip:x SIP/2.0\r\n",
            b"OPTIONS example.com SIP/2.0\r\n",
            b"GARBAGE\r\nVia: SIP/2.0/UDP h\r\n\r\n",
            "MESSAGE sip:b@x SIP/2.0\r\nSubject: caf\u{e9}\r\n".as_bytes(),
        ] {
            assert_eq!(
                code(buf, Expected::Sip),
                None,
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
        assert_eq!(code(b"o=- 1 1 IN IP4 h\r\n", Expected::Sdp), None);
        assert_eq!(code(b"MSRP x SEND\r\n", Expected::Msrp), None);
        assert_eq!(code(b"MSRPX a SEND\r\n", Expected::Msrp), None);
    }

    #[test]
    fn a_utf8_sequence_cut_by_the_limit_is_not_binary() {
        let mut buf = vec![b'a'; FIRST_LINE_LIMIT - 3];
        buf.extend_from_slice(": é\r\n".as_bytes());
        assert_eq!(code(&buf, Expected::Sip), None);
    }

    #[test]
    fn shapes() {
        assert!(start_line_shape(b"INVITE sip:a@b SIP/2.0"));
        assert!(start_line_shape(b"INVITE sip:a@b"));
        assert!(start_line_shape(b"sip/2.0 200 OK"));
        assert!(start_line_shape(b"OPTIONS example.com SIP/2.0"));
        assert!(!start_line_shape(b"see the SIP/ folder"));
        assert!(!start_line_shape(b"hello: world"));
        assert!(!start_line_shape(b"This is text"));
        assert!(header_shape(b"Via : x"));
        assert!(header_shape(b"hello: world"));
        assert!(!header_shape(b"INVITE sip:a@b SIP/2.0"));
        assert!(!header_shape(b": x"));
    }
}
