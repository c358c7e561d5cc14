//! GitHub Actions workflow commands, so `validate` findings show up as annotations on the lines
//! of a pull request: `::error file=F,line=L,col=C,title=CODE::message (RFC ...)`.
//!
//! GitHub parses these lines itself, so values are escaped as its runner expects: `%`, CR and LF
//! everywhere, and also `:` and `,` inside the `key=value` properties.

use std::io::{self, Write};

use super::locate::position;
use super::{Event, summary_line};
use crate::proto::Severity;

pub(super) fn write(out: &mut impl Write, event: &Event<'_>) -> io::Result<()> {
    match event {
        Event::Checked(c) => {
            for f in c.findings {
                let e = &f.error;
                let at = position(c.source, e.offset);
                let command = match f.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                let message = if e.rfc.is_empty() {
                    e.message.clone()
                } else {
                    format!("{} ({})", e.message, e.rfc)
                };
                writeln!(
                    out,
                    "::{command} file={},line={},col={},title={}::{}",
                    property(c.file),
                    at.line,
                    at.column,
                    property(e.code),
                    data(&message)
                )?;
            }
        }
        Event::Unreadable { file, error } => writeln!(
            out,
            "::error file={},title={}::{}",
            property(file),
            error.code(),
            data(&error.message(file))
        )?,
        Event::Skipped { file, what } => writeln!(
            out,
            "::notice file={},title=input.skipped::{}",
            property(file),
            data(&format!("skipped {file}: {what}, not a regular file"))
        )?,
        // Plain lines are shown in the log and ignored by the annotation parser.
        Event::Summary(s) => writeln!(out, "{}", summary_line(s))?,
    }
    Ok(())
}

/// Escape a message (the part after `::`).
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a property value (`file=`, `title=`).
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Kind;
    use crate::output::Checked;
    use crate::proto::{Finding, ParseError};

    #[test]
    fn escapes_data_and_properties() {
        assert_eq!(data("50% a:b,c\r\nd"), "50%25 a:b,c%0D%0Ad");
        assert_eq!(property("C:\\a,b%.sip"), "C%3A\\a%2Cb%25.sip");
    }

    #[test]
    fn annotation_line_has_location_code_and_rfc() {
        let findings = [
            Finding::error(ParseError::new(
                "sip.x",
                "bad: 100%\nreally",
                4,
                1,
                "RFC 3261 §7",
            )),
            Finding::warning(ParseError::new("sip.y", "meh", 0, 1, "")),
        ];
        let c = Checked {
            file: "dir,1/a:b.sip",
            kind: Kind::Sip,
            source: b"ab\r\ncd",
            findings: &findings,
        };
        let mut out = Vec::new();
        write(&mut out, &Event::Checked(c)).expect("Vec");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "::error file=dir%2C1/a%3Ab.sip,line=2,col=1,title=sip.x::bad: 100%25%0Areally (RFC 3261 §7)\n\
             ::warning file=dir%2C1/a%3Ab.sip,line=1,col=1,title=sip.y::meh\n"
        );
    }
}
