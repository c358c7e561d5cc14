//! The result shapes shared by every parser: `Status` separates "need more bytes" from a real
//! error (httparse's shape), and `ParseError` says what was wrong, at which byte, and which RFC
//! section the input broke.

use std::fmt;

/// The outcome of a streaming parse that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole unit was parsed; `usize` is the number of bytes it occupied in the buffer.
    Complete(T, usize),
    /// The buffer holds a valid prefix; read more bytes and call again with the whole buffer.
    Partial,
}

impl<T> Status<T> {
    /// The parsed value, or `None` when more bytes are needed.
    pub fn complete(self) -> Option<(T, usize)> {
        match self {
            Status::Complete(v, n) => Some((v, n)),
            Status::Partial => None,
        }
    }

    /// Whether more bytes are needed.
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }
}

/// A syntax or framing error at a byte offset of the parsed buffer.
///
/// `code` is stable and machine-readable (`sip.header.name`, `msrp.end-line.mismatch`); `validate`
/// prints it and scripts may match on it. `offset`/`len` locate the offending bytes in the buffer
/// that was passed to the parser, `rfc` names the section whose grammar was broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Stable diagnostic code, `protocol.thing.problem`.
    pub code: &'static str,
    /// What was wrong, in lowercase, without location (the caller adds file and line).
    pub message: String,
    /// Byte offset of the problem in the parsed buffer.
    pub offset: usize,
    /// Length in bytes of the offending span (at least 1 when `offset` is inside the buffer).
    pub len: usize,
    /// The RFC section that defines what was expected, e.g. `RFC 3261 §7.3.1`.
    pub rfc: &'static str,
}

impl ParseError {
    /// A new error; `message` should read as "expected X, found Y" or state the broken rule.
    pub fn new(
        code: &'static str,
        message: impl Into<String>,
        offset: usize,
        len: usize,
        rfc: &'static str,
    ) -> Self {
        ParseError {
            code,
            message: message.into(),
            offset,
            len,
            rfc,
        }
    }

    /// The same error moved by `delta` bytes, for errors found in a sub-slice of a larger buffer.
    pub fn shifted(mut self, delta: usize) -> Self {
        self.offset += delta;
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {} ({}, {})",
            self.message, self.offset, self.rfc, self.code
        )
    }
}

impl std::error::Error for ParseError {}

/// Byte offset of `part` inside `whole`; both must come from the same allocation.
///
/// Zero-copy types hand out sub-slices; this recovers where a sub-slice sits so errors can point
/// at it. Returns `None` when `part` is not inside `whole`.
pub fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = whole.as_ptr() as usize;
    let p = part.as_ptr() as usize;
    if p >= start && p + part.len() <= start + whole.len() {
        Some(p - start)
    } else {
        None
    }
}

/// How bad a [`Finding`] is: errors break the grammar or a MUST, warnings are legal but suspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Legal but likely wrong, or a SHOULD broken; `validate --strict` treats it as an error.
    Warning,
    /// The message breaks the grammar or a MUST of the cited RFC.
    Error,
}

impl Severity {
    /// `"error"` or `"warning"`, as printed and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found by a `lint` function: a [`ParseError`] with a severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// What, where (byte offset and length in the linted buffer) and which RFC section.
    pub error: ParseError,
}

impl Finding {
    /// An error-level finding.
    pub fn error(error: ParseError) -> Self {
        Finding {
            severity: Severity::Error,
            error,
        }
    }

    /// A warning-level finding.
    pub fn warning(error: ParseError) -> Self {
        Finding {
            severity: Severity::Warning,
            error,
        }
    }
}

/// How many findings with one code a linter keeps for one message; the last one kept says
/// how many more there were. A line-by-line recovery over thousands of bad lines finds one
/// cause thousands of times: printing it a few times (with a count) keeps the other causes
/// visible, and storing no more keeps memory bounded whatever the input.
pub const SHOWN_PER_CODE: usize = 5;

/// The counting half of [`SHOWN_PER_CODE`], for a parser that collects findings as it goes:
/// ask [`Repeats::admit`] before storing one, then [`Repeats::annotate`] the stored ones.
#[derive(Debug, Default)]
pub struct Repeats {
    dropped: Vec<(&'static str, usize)>,
}

impl Repeats {
    /// Whether to store a finding with `code` when `stored` of them are stored already;
    /// counts it when not.
    pub fn admit(&mut self, code: &'static str, stored: usize) -> bool {
        if stored < SHOWN_PER_CODE {
            return true;
        }
        match self.dropped.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => self.dropped.push((code, 1)),
        }
        false
    }

    /// Say on the last stored error of each code how many were not stored.
    pub fn annotate<'e>(&self, errors: impl DoubleEndedIterator<Item = &'e mut ParseError>) {
        if self.dropped.is_empty() {
            return;
        }
        let mut pending = self.dropped.clone();
        for e in errors.rev() {
            if let Some(i) = pending.iter().position(|(c, _)| *c == e.code) {
                note_more(e, pending.swap_remove(i).1);
            }
        }
    }
}

/// How many stored findings have `code`.
pub fn count_code<'e>(errors: impl Iterator<Item = &'e ParseError>, code: &str) -> usize {
    errors.filter(|e| e.code == code).count()
}

fn note_more(e: &mut ParseError, more: usize) {
    e.message.push_str(&format!(
        " ({more} more `{}` finding{} after this one not shown)",
        e.code,
        if more == 1 { "" } else { "s" }
    ));
}

/// Keep the first [`SHOWN_PER_CODE`] findings of each code and drop the rest, saying on the
/// last one kept how many were left out (for linters that do not count as they go). Order is
/// kept.
pub fn fold_repeats(findings: &mut Vec<Finding>) {
    let mut repeats = Repeats::default();
    let mut seen: Vec<(&'static str, usize)> = Vec::new();
    findings.retain(|f| {
        let code = f.error.code;
        let stored = match seen.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => n,
            None => {
                seen.push((code, 0));
                &mut seen.last_mut().expect("just pushed").1
            }
        };
        let keep = repeats.admit(code, *stored);
        *stored += usize::from(keep);
        keep
    });
    repeats.annotate(findings.iter_mut().map(|f| &mut f.error));
}

/// Keep every finding's span inside a buffer of `len` bytes: an error "at the end" of a
/// truncated input has length 0, never a byte past the end.
pub fn clamp_spans(findings: &mut [Finding], len: usize) {
    for f in findings {
        f.error.offset = f.error.offset.min(len);
        f.error.len = f.error.len.min(len - f.error.offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_repeats_keeps_the_first_of_each_code_and_counts_the_rest() {
        let f = |code, at| Finding::error(ParseError::new(code, "bad", at, 1, ""));
        let mut v: Vec<Finding> = (0..8).map(|i| f("a", i)).collect();
        v.insert(1, f("b", 100));
        fold_repeats(&mut v);
        let got: Vec<_> = v.iter().map(|f| (f.error.code, f.error.offset)).collect();
        assert_eq!(
            got,
            [("a", 0), ("b", 100), ("a", 1), ("a", 2), ("a", 3), ("a", 4)]
        );
        assert_eq!(
            v[5].error.message,
            "bad (3 more `a` findings after this one not shown)"
        );
        assert_eq!(v[1].error.message, "bad");
        assert_eq!(v[4].error.message, "bad");
    }
}
