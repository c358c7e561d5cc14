//! MIME header fields that SIP and MSRP share: Content-Disposition and its RFC 2183
//! parameters. One checker serves both linters; each passes its own diagnostic codes.

use super::ParseError;
use super::scan::{is_token, split_outside_quotes, trim_lws_str};

/// The codes a caller reports Content-Disposition problems under, e.g.
/// `sip.content-disposition.type` and `sip.content-disposition.param`.
#[derive(Debug, Clone, Copy)]
pub struct DispositionCodes {
    /// A missing or malformed disposition type.
    pub disp_type: &'static str,
    /// A malformed parameter.
    pub param: &'static str,
    /// The RFC section of the caller's grammar, cited for the type and generic parameters.
    pub rfc: &'static str,
}

const RFC_2183: &str = "RFC 2183 §2";

/// Check a Content-Disposition value (`value` starts at byte `base` of the message):
///
/// ```text
/// disposition := disposition-type *( ";" disposition-parm )          ; RFC 2183 §2
/// disposition-parm := filename-parm / creation-date-parm / modification-date-parm
///                     / read-date-parm / size-parm / parameter
/// filename-parm := "filename" "=" value                              ; value = token / quoted-string
/// creation-date-parm := "creation-date" "=" quoted-date-time         ; and modification-, read-
/// size-parm := "size" "=" 1*DIGIT
/// quoted-date-time := quoted-string                                  ; holding an RFC 822 date-time
/// handling-param = "handling" EQUAL ( "optional" / "required" / other-handling )  ; RFC 3261 §20.11
/// ```
pub fn check_content_disposition(
    value: &str,
    base: usize,
    codes: DispositionCodes,
) -> Result<(), ParseError> {
    let mut parts = split_outside_quotes(value.as_bytes(), b';');
    let first = parts.next().unwrap_or_default();
    // Each part as the trimmed `&str` of `value` it is, with its offset in the message.
    let span = |part: &[u8]| -> (&str, usize) {
        let start = part.as_ptr() as usize - value.as_ptr() as usize;
        let raw = &value[start..start + part.len()];
        let t = trim_lws_str(raw);
        let at = start + (t.as_ptr() as usize - raw.as_ptr() as usize);
        (t, base + at)
    };
    let (ty, at) = span(first);
    if ty.is_empty() || !ty.bytes().all(is_token) {
        return Err(ParseError::new(
            codes.disp_type,
            format!(
                "expected a disposition type such as `session`, `render` or `attachment`, found `{}`",
                clip(ty)
            ),
            at,
            ty.len().max(1),
            codes.rfc,
        ));
    }
    for part in parts {
        let (p, at) = span(part);
        let (name, val) = match p.split_once('=') {
            Some((n, v)) => (trim_lws_str(n), Some(trim_lws_str(v))),
            None => (p, None),
        };
        let bad = |why: String, rfc: &'static str| {
            Err(ParseError::new(codes.param, why, at, p.len().max(1), rfc))
        };
        if name.is_empty() || !name.bytes().all(is_token) {
            return bad(
                format!(
                    "expected a parameter `name` or `name=value`, found `{}`",
                    clip(p)
                ),
                codes.rfc,
            );
        }
        let lower = name.to_ascii_lowercase();
        let rfc2183 = matches!(
            lower.as_str(),
            "filename" | "creation-date" | "modification-date" | "read-date" | "size"
        );
        let rfc = if rfc2183 { RFC_2183 } else { codes.rfc };
        let Some(val) = val else {
            if rfc2183 || lower == "handling" {
                return bad(format!("parameter `{name}` needs a value"), rfc);
            }
            continue;
        };
        let quoted = quoted_content(val);
        match lower.as_str() {
            "size" if val.is_empty() || !val.bytes().all(|b| b.is_ascii_digit()) => {
                return bad(
                    format!(
                        "size must be a number of octets (1*DIGIT), found `{}`",
                        clip(val)
                    ),
                    rfc,
                );
            }
            "creation-date" | "modification-date" | "read-date" => match quoted {
                None => {
                    return bad(
                        format!(
                            "{name} must be a quoted RFC 822 date-time such as \"Wed, 12 Feb 1997 16:29:51 -0500\", found `{}`",
                            clip(val)
                        ),
                        rfc,
                    );
                }
                Some(d) if !is_rfc822_date_time(d) => {
                    return bad(
                        format!(
                            "{name} `{}` is not an RFC 822 date-time such as \"Wed, 12 Feb 1997 16:29:51 -0500\"",
                            clip(d)
                        ),
                        rfc,
                    );
                }
                Some(_) => {}
            },
            _ if quoted.is_none() && (val.is_empty() || !val.bytes().all(is_token)) => {
                let why = if val.starts_with("\\\"") {
                    format!(
                        "the value of `{name}` starts with an escaped quote `\\\"`: write it as a quoted string, `{name}=\"...\"`"
                    )
                } else {
                    format!(
                        "the value of `{name}` must be a token or a quoted string, found `{}`",
                        clip(val)
                    )
                };
                return bad(why, rfc);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The content of a quoted string (`"` ... `"`, backslash escaping the next character).
fn quoted_content(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => i += 2,
            b'\\' | b'"' => return None,
            _ => i += 1,
        }
    }
    Some(inner)
}

/// `date-time = [ day "," ] date time` with `date = 1*2DIGIT month 2*4DIGIT` and `time = hour
/// zone`, `hour = 2DIGIT ":" 2DIGIT [":" 2DIGIT]` (RFC 822 §5.1, with the 4-digit years of
/// RFC 1123 §5.2.14 that RFC 2183 §2 asks for).
fn is_rfc822_date_time(s: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let s = s.trim();
    let s = match s.split_once(',') {
        Some((day, rest)) if DAYS.contains(&day.trim()) => rest,
        Some(_) => return false,
        None => s,
    };
    let words: Vec<&str> = s.split_whitespace().collect();
    let [day, month, year, time, zone] = words[..] else {
        return false;
    };
    let digits = |w: &str, min: usize, max: usize| {
        (min..=max).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_digit())
    };
    let time_ok = {
        let t: Vec<&str> = time.split(':').collect();
        (t.len() == 2 || t.len() == 3) && t.iter().all(|p| digits(p, 2, 2))
    };
    let zone_ok = matches!(
        zone,
        "UT" | "GMT" | "EST" | "EDT" | "CST" | "CDT" | "MST" | "MDT" | "PST" | "PDT" | "Z"
    ) || (zone.len() == 5
        && (zone.starts_with('+') || zone.starts_with('-'))
        && digits(&zone[1..], 4, 4));
    digits(day, 1, 2) && MONTHS.contains(&month) && digits(year, 2, 4) && time_ok && zone_ok
}

fn clip(s: &str) -> String {
    super::sip::uri::clip(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODES: DispositionCodes = DispositionCodes {
        disp_type: "sip.content-disposition.type",
        param: "sip.content-disposition.param",
        rfc: "RFC 3261 §20.11",
    };

    fn check(v: &str) -> Result<(), (&'static str, usize)> {
        check_content_disposition(v, 100, CODES).map_err(|e| (e.code, e.offset))
    }

    #[test]
    fn good_dispositions_pass() {
        for v in [
            "session",
            "session;handling=optional",
            "attachment; filename=report.pdf; size=1234",
            "attachment; filename=\"my report.pdf\"",
            "render; creation-date=\"Wed, 12 Feb 1997 16:29:51 -0500\"",
            "inline; modification-date=\"12 Feb 1997 16:29 GMT\"; x-extra",
            "icon; x=\"a\\\"b\"",
        ] {
            assert_eq!(check(v), Ok(()), "{v}");
        }
    }

    #[test]
    fn bad_parameters_are_found_where_they_are() {
        let cases = [
            ("", "sip.content-disposition.type", 100),
            ("; filename=a", "sip.content-disposition.type", 100),
            ("attachment; filename", "sip.content-disposition.param", 112),
            (
                "attachment; filename=a b",
                "sip.content-disposition.param",
                112,
            ),
            ("attachment;size=12k", "sip.content-disposition.param", 111),
            (
                "attachment; creation-date=yesterday",
                "sip.content-disposition.param",
                112,
            ),
            (
                "attachment; read-date=\"31 Foo 1997 10:00 GMT\"",
                "sip.content-disposition.param",
                112,
            ),
            ("session; handling", "sip.content-disposition.param", 109),
            ("session; x=\\\"y\\\"", "sip.content-disposition.param", 109),
        ];
        for (v, code, at) in cases {
            assert_eq!(check(v), Err((code, at)), "{v}");
        }
    }

    #[test]
    fn dates() {
        assert!(is_rfc822_date_time("Wed, 12 Feb 1997 16:29:51 -0500"));
        assert!(is_rfc822_date_time("1 Jan 2024 00:00 Z"));
        assert!(!is_rfc822_date_time(
            "Wednesday, 12 Feb 1997 16:29:51 -0500"
        ));
        assert!(!is_rfc822_date_time("12 Feb 1997"));
        assert!(!is_rfc822_date_time("12 Feb 1997 16:29:51 +05"));
    }
}
