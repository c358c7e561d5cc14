//! JSON Lines for programs: one object per message, one per unreadable input, and a final
//! summary, each with a `"type"` so a reader can tell them apart. The schema is documented in
//! README.md and is stable: fields may be added, never renamed or removed.

use std::io::{self, Write};

use serde::Serialize;

use super::Event;
use super::locate::position;

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line<'a> {
    Message {
        file: &'a str,
        kind: &'static str,
        valid: bool,
        diagnostics: Vec<Diagnostic<'a>>,
    },
    Unreadable {
        file: &'a str,
        code: &'static str,
        error: String,
    },
    Skipped {
        file: &'a str,
        reason: String,
    },
    Summary {
        files: usize,
        valid: usize,
        invalid: usize,
        unreadable: usize,
        skipped: usize,
        errors: usize,
        warnings: usize,
    },
}

#[derive(Serialize)]
struct Diagnostic<'a> {
    severity: &'static str,
    code: &'static str,
    message: &'a str,
    line: usize,
    column: usize,
    offset: usize,
    length: usize,
    rfc: Option<&'static str>,
}

pub(super) fn write(out: &mut impl Write, event: &Event<'_>) -> io::Result<()> {
    let line = match event {
        Event::Checked(c) => Line::Message {
            file: c.file,
            kind: c.kind.as_str(),
            valid: c.is_valid(),
            diagnostics: c
                .findings
                .iter()
                .map(|f| {
                    let e = &f.error;
                    let at = position(c.source, e.offset);
                    Diagnostic {
                        severity: f.severity.as_str(),
                        code: e.code,
                        message: &e.message,
                        line: at.line,
                        column: at.column,
                        offset: e.offset,
                        length: e.len,
                        rfc: Some(e.rfc).filter(|r| !r.is_empty()),
                    }
                })
                .collect(),
        },
        Event::Unreadable { file, error } => Line::Unreadable {
            file,
            code: error.code(),
            error: error.reason(),
        },
        Event::Skipped { file, what } => Line::Skipped {
            file,
            reason: format!("{what}, not a regular file"),
        },
        Event::Summary(s) => Line::Summary {
            files: s.files,
            valid: s.valid,
            invalid: s.invalid,
            unreadable: s.unreadable,
            skipped: s.skipped,
            errors: s.errors,
            warnings: s.warnings,
        },
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Kind;
    use crate::output::{Checked, Summary};
    use crate::proto::{Finding, ParseError};

    #[test]
    fn message_object_has_the_documented_fields() {
        let findings = [Finding::warning(ParseError::new(
            "sip.header.unknown",
            "odd \"header\"",
            5,
            3,
            "RFC 3261 §7.3",
        ))];
        let c = Checked {
            file: "a.sip",
            kind: Kind::Sip,
            source: b"abc\r\nxyz",
            findings: &findings,
        };
        let mut out = Vec::new();
        write(&mut out, &Event::Checked(c)).expect("Vec");
        write(&mut out, &Event::Summary(&Summary::default())).expect("Vec");
        let text = String::from_utf8(out).expect("utf-8");
        let mut lines = text.lines();
        let v: serde_json::Value =
            serde_json::from_str(lines.next().expect("line 1")).expect("valid JSON");
        assert_eq!(
            v,
            serde_json::json!({
                "type": "message", "file": "a.sip", "kind": "sip", "valid": true,
                "diagnostics": [{
                    "severity": "warning", "code": "sip.header.unknown", "message": "odd \"header\"",
                    "line": 2, "column": 1, "offset": 5, "length": 3, "rfc": "RFC 3261 §7.3"
                }]
            })
        );
        let s: serde_json::Value =
            serde_json::from_str(lines.next().expect("line 2")).expect("valid JSON");
        assert_eq!(s["type"], "summary");
        assert_eq!(lines.next(), None);
    }
}
