//! `validate` wants every problem at once, pointing at the exact bytes: the line walker reports
//! grammar and order problems, then the checks here look at what the lines mean together (a
//! media without any connection address, an MSRP stream without a path, an rtpmap for a payload
//! type the m= line does not list).

use super::{Attribute, MediaDescription, SessionDescription, parse};
use crate::proto::error::offset_in;
use crate::proto::{Finding, ParseError};

/// Every problem in one session description, in order of discovery (grammar and order first,
/// then cross-line checks), each with the offset and length of the offending bytes in `buf`.
pub fn lint(buf: &[u8]) -> Vec<Finding> {
    let mut out = Vec::new();
    let sd = parse::parse_collect(buf, &mut out);
    check(buf, &sd, &mut out);
    crate::proto::error::clamp_spans(&mut out, buf.len());
    out
}

/// Where a `&str` taken from `buf` sits in it.
fn at(buf: &[u8], s: &str) -> usize {
    offset_in(buf, s.as_bytes()).unwrap_or(0)
}

/// The span of an `m=` line, from its media token to its last format.
fn media_span(buf: &[u8], m: &MediaDescription<'_>) -> (usize, usize) {
    let start = at(buf, m.media).saturating_sub(2);
    let end = m
        .formats
        .last()
        .map_or(start + 2 + m.media.len(), |f| at(buf, f) + f.len());
    (start, end.saturating_sub(start).max(1))
}

fn attr_value_err(buf: &[u8], a: &Attribute<'_>, e: ParseError) -> ParseError {
    match a.value {
        Some(v) => e.shifted(at(buf, v)),
        // Bare attribute: point at its name.
        None => {
            let mut e = e.shifted(at(buf, a.name));
            e.len = a.name.len().max(1);
            e
        }
    }
}

fn attr_span(buf: &[u8], a: &Attribute<'_>) -> (usize, usize) {
    let start = at(buf, a.name).saturating_sub(2);
    let len = 2 + a.name.len() + a.value.map_or(0, |v| v.len() + 1);
    (start, len)
}

fn check(buf: &[u8], sd: &SessionDescription<'_>, out: &mut Vec<Finding>) {
    check_directions(buf, &sd.attributes, out);
    for a in &sd.attributes {
        check_attr(buf, a, out);
    }
    let has_c_line = c_lines_by_section(buf);
    for (i, m) in sd.media.iter().enumerate() {
        check_directions(buf, &m.attributes, out);
        for a in &m.attributes {
            check_attr(buf, a, out);
        }
        // A placeholder for an m= line that did not parse: its error is already reported, and
        // what the line meant is unknown.
        if m.media.is_empty() {
            continue;
        }
        let (start, len) = media_span(buf, m);
        // A c= line that did not parse is reported as malformed; saying there is none would
        // send the reader looking for the wrong fix.
        if m.connections.is_empty()
            && sd.connection.is_none()
            && !has_c_line[0]
            && !has_c_line.get(i + 1).copied().unwrap_or(false)
        {
            out.push(Finding::error(ParseError::new(
                "sdp.media.missing-connection",
                "media has no c= line and the session has none either",
                start,
                len,
                "RFC 8866 §5.7",
            )));
        }
        check_rtpmaps(buf, m, out);
        if m.is_msrp() {
            check_msrp(buf, m, start, len, out);
        }
    }
}

/// For the session section (index 0) and each media section (index 1 on), whether it holds a
/// line starting `c=`, parsed or not.
fn c_lines_by_section(buf: &[u8]) -> Vec<bool> {
    let mut sections = vec![false];
    for line in buf.split(|&b| b == b'\n') {
        if line.starts_with(b"m=") {
            sections.push(false);
        } else if line.starts_with(b"c=")
            && let Some(last) = sections.last_mut()
        {
            *last = true;
        }
    }
    sections
}

fn check_directions(buf: &[u8], attrs: &[Attribute<'_>], out: &mut Vec<Finding>) {
    let mut seen = false;
    for a in attrs {
        if super::Direction::from_name(a.name).is_some() {
            let (start, len) = attr_span(buf, a);
            if a.value.is_some() {
                out.push(Finding::error(ParseError::new(
                    "sdp.direction.invalid",
                    format!("{} takes no value", a.name),
                    start,
                    len,
                    "RFC 8866 §6.7",
                )));
            }
            if seen {
                out.push(Finding::error(ParseError::new(
                    "sdp.direction.multiple",
                    "more than one direction attribute at the same level",
                    start,
                    len,
                    "RFC 8866 §6.7",
                )));
            }
            seen = true;
        }
    }
}

/// Typed syntax checks of the attributes this crate understands.
fn check_attr(buf: &[u8], a: &Attribute<'_>, out: &mut Vec<Finding>) {
    use super::attr;
    let v = a.value.unwrap_or("");
    let res: Result<(), ParseError> = match a.name {
        "rtpmap" => super::RtpMap::parse(v).map(drop),
        "fmtp" => super::Fmtp::parse(v).map(drop),
        "path" => attr::parse_path(v).map(drop),
        "accept-types" | "accept-wrapped-types" => attr::parse_format_list(v).map(drop),
        "max-size" => attr::parse_max_size(v).map(drop),
        "setup" => super::Setup::parse(v).map(drop),
        "connection" => super::ConnectionMode::parse(v).map(drop),
        "file-selector" => super::FileSelector::parse(a.value).map(drop),
        "file-transfer-id" => attr::parse_token_value(v, "sdp.file-transfer-id.syntax").map(drop),
        "file-disposition" => attr::parse_token_value(v, "sdp.file-disposition.syntax").map(drop),
        "file-date" => attr::parse_file_date(v).map(drop),
        "file-range" => super::FileRange::parse(v).map(drop),
        "file-icon" => attr::parse_file_icon(v).map(drop),
        _ => Ok(()),
    };
    if let Err(mut e) = res {
        // `a=rtpmap:31 LPC` (no clock rate) appears in RFC 4475's own valid messages and in old
        // endpoints; static payload types have a known rate, so this is a warning.
        if a.name == "rtpmap" && !v.contains('/') {
            e.code = "sdp.rtpmap.clock-rate";
            e.message = "rtpmap has no clock rate (`encoding/clock-rate`)".to_string();
            out.push(Finding::warning(attr_value_err(buf, a, e)));
            return;
        }
        out.push(Finding::error(attr_value_err(buf, a, e)));
    }
}

fn check_rtpmaps(buf: &[u8], m: &MediaDescription<'_>, out: &mut Vec<Finding>) {
    for a in m.attributes_named("rtpmap") {
        if let Ok(map) = super::RtpMap::parse(a.value.unwrap_or("")) {
            let pt = map.payload_type.to_string();
            if !m.formats.iter().any(|f| *f == pt) {
                let (start, len) = attr_span(buf, &a);
                out.push(Finding::warning(ParseError::new(
                    "sdp.rtpmap.unknown-pt",
                    format!("rtpmap for payload type {pt}, which the m= line does not list"),
                    start,
                    len,
                    "RFC 8866 §6.6",
                )));
            }
        }
    }
}

fn check_msrp(
    buf: &[u8],
    m: &MediaDescription<'_>,
    start: usize,
    len: usize,
    out: &mut Vec<Finding>,
) {
    // A port of 0 rejects the stream or only signals capability (RFC 5547 §9.3), so there is no
    // session to reach and no path to give.
    if m.port != 0 && m.attribute("path").is_none() {
        out.push(Finding::error(ParseError::new(
            "sdp.msrp.missing-path",
            "MSRP media without a=path",
            start,
            len,
            "RFC 4975 §8.2",
        )));
    }
    if m.attribute("accept-types").is_none() {
        out.push(Finding::error(ParseError::new(
            "sdp.msrp.missing-accept-types",
            "MSRP media without a=accept-types",
            start,
            len,
            "RFC 4975 §8.6",
        )));
    }
    if !m.formats.iter().all(|f| *f == "*") {
        out.push(Finding::warning(ParseError::new(
            "sdp.msrp.format",
            "MSRP media should use * as its only format",
            start,
            len,
            "RFC 4975 §8.1",
        )));
    }
    if let Some(a) = m.attribute("connection") {
        let (s, l) = attr_span(buf, &a);
        out.push(Finding::warning(ParseError::new(
            "sdp.msrp.connection-attr",
            "MSRP endpoints must not use a=connection",
            s,
            l,
            "RFC 6135 §4.4",
        )));
    }
}
