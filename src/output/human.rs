//! Compiler-style diagnostics for people: severity, stable code, message, `file:line:column`,
//! the offending lines with the exact bytes underlined, and the RFC section as a note.
//!
//! Output is always styled; the stream it is written to strips the escape codes when colour is
//! off, so this module never asks whether colour is wanted.

use std::io::{self, Write};

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use anstyle::{AnsiColor, Style};

use super::locate::excerpt;
use super::{Checked, Event, Summary, summary_line};
use crate::proto::{Finding, Severity};

pub(super) fn write(out: &mut impl Write, event: &Event<'_>) -> io::Result<()> {
    match event {
        Event::Checked(c) => {
            for finding in c.findings {
                writeln!(out, "{}\n", render_finding(c, finding))?;
            }
        }
        Event::Unreadable { file, error } => {
            let report = &[Group::with_title(
                Level::ERROR
                    .primary_title(error.message(file))
                    .id(error.code()),
            )];
            writeln!(out, "{}\n", Renderer::styled().render(report))?;
        }
        Event::Skipped { file, what } => {
            let title = format!("skipped {file}: {what}, not a regular file");
            let report = &[Group::with_title(
                Level::NOTE.primary_title(title).id("input.skipped"),
            )];
            writeln!(out, "{}\n", Renderer::styled().render(report))?;
        }
        Event::Summary(s) => writeln!(out, "{}", styled_summary(s))?,
    }
    Ok(())
}

/// One finding as a rendered report (with ANSI styles, without a trailing newline).
fn render_finding(checked: &Checked<'_>, finding: &Finding) -> String {
    let err = &finding.error;
    let level = match finding.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let ex = excerpt(checked.source, err.offset, err.len);
    let snippet = Snippet::source(ex.text)
        .line_start(ex.first_line)
        .path(checked.file)
        .annotation(AnnotationKind::Primary.span(ex.span));
    let mut group = level
        .primary_title(err.message.as_str())
        .id(err.code)
        .element(snippet);
    if !err.rfc.is_empty() {
        group = group.element(Level::NOTE.message(format!("see {}", err.rfc)));
    }
    Renderer::styled().render(&[group])
}

fn styled_summary(s: &Summary) -> String {
    let style = if s.invalid > 0 || s.unreadable > 0 {
        AnsiColor::Red.on_default().bold()
    } else {
        Style::new().bold()
    };
    format!("{style}{}{style:#}", summary_line(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Kind;
    use crate::proto::ParseError;

    fn plain(source: &[u8], offset: usize, len: usize) -> String {
        let findings = [Finding::error(ParseError::new(
            "sip.content-length.mismatch",
            "expected 10 body bytes, found 4",
            offset,
            len,
            "RFC 3261 §20.14",
        ))];
        let checked = Checked {
            file: "dir/a.sip",
            kind: Kind::Sip,
            source,
            findings: &findings,
        };
        let mut out = Vec::new();
        write(&mut out, &Event::Checked(checked)).expect("Vec");
        let styled = String::from_utf8(out).expect("utf-8");
        anstream::adapter::strip_str(&styled).to_string()
    }

    /// The column of the first `^` on the line after `line`, 0-based, in characters.
    fn caret_under(rendered: &str, line: &str) -> (String, usize) {
        let mut lines = rendered.lines();
        let shown = lines
            .find(|l| l.contains(line))
            .unwrap_or_else(|| panic!("no line with {line:?} in\n{rendered}"));
        let marks = lines.next().expect("a marker line follows");
        let caret = marks.chars().position(|c| c == '^').expect("a caret");
        (shown.chars().skip(caret).collect(), caret)
    }

    #[test]
    fn caret_sits_under_the_offending_bytes_and_location_is_line_column() {
        let src = b"INVITE sip:b@x SIP/2.0\r\nContent-Length: 10\r\n\r\nabcd";
        let out = plain(src, 40, 2);
        assert!(
            out.starts_with(
                "error[sip.content-length.mismatch]: expected 10 body bytes, found 4\n"
            ),
            "{out}"
        );
        assert!(out.contains("--> dir/a.sip:2:17\n"), "{out}");
        let (from_caret, _) = caret_under(&out, "Content-Length: 10");
        assert_eq!(from_caret, "10");
        assert!(out.contains("^^\n"), "{out}");
        assert!(out.contains("= note: see RFC 3261 §20.14"), "{out}");
        assert!(!out.contains('\r'), "CR must not be printed: {out:?}");
    }

    #[test]
    fn non_utf8_line_is_shown_lossily_with_the_caret_after_it() {
        let src = b"To: \xe2\x82 <sip:a@b>\r\n";
        let out = plain(src, 7, 1);
        assert!(out.contains("--> dir/a.sip:1:7\n"), "{out}");
        let (from_caret, _) = caret_under(&out, "To: \u{fffd}");
        assert!(from_caret.starts_with("<sip"), "{out}");
    }

    #[test]
    fn multi_line_span_shows_start_and_end_lines() {
        let src = b"Via: a\r\nTo: b\r\nFrom: c\r\n";
        let out = plain(src, 5, 13);
        assert!(out.contains("--> dir/a.sip:1:6\n"), "{out}");
        for line in ["1 |", "2 |", "3 |"] {
            assert!(out.contains(line), "{line} missing in\n{out}");
        }
    }

    #[test]
    fn span_at_end_of_input_and_empty_input_render() {
        let out = plain(b"v=0\r\n", 5, 0);
        assert!(out.contains("--> dir/a.sip:2:1\n"), "{out}");
        let out = plain(b"", 0, 0);
        assert!(out.contains("--> dir/a.sip:1:1\n"), "{out}");
    }

    #[test]
    fn header_location_agrees_with_position() {
        // The renderer computes its own line:column; JSON and GitHub use ours. They must agree.
        let src = "a\tb: \u{e9}\r\nX: \u{1F600}y\r\n".as_bytes();
        for offset in 0..src.len() {
            if !std::str::from_utf8(src)
                .expect("utf-8")
                .is_char_boundary(offset)
            {
                continue;
            }
            let p = super::super::locate::position(src, offset);
            let out = plain(src, offset, 1);
            assert!(
                out.contains(&format!("dir/a.sip:{}:{}\n", p.line, p.column)),
                "offset {offset}: {p:?}\n{out}"
            );
        }
    }

    #[test]
    fn unreadable_names_path_and_os_error() {
        let err = crate::output::InputError::Unreadable(io::Error::from(io::ErrorKind::NotFound));
        let mut out = Vec::new();
        write(
            &mut out,
            &Event::Unreadable {
                file: "gone.sip",
                error: &err,
            },
        )
        .expect("Vec");
        let out = String::from_utf8(out).expect("utf-8");
        let out = anstream::adapter::strip_str(&out).to_string();
        assert!(
            out.starts_with("error[input.unreadable]: cannot read gone.sip: "),
            "{out}"
        );
    }
}
