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

/// Keep the first `keep` findings of each code and drop the rest, saying on the last one kept
/// how many like it were left out: a line-by-line recovery over thousands of bad lines finds
/// one cause thousands of times, and printing it once (with a count) keeps the other causes
/// visible. Order is kept.
pub fn fold_repeats(findings: &mut Vec<Finding>, keep: usize) {
    let keep = keep.max(1);
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for f in findings.iter() {
        match counts.iter_mut().find(|(c, _)| *c == f.error.code) {
            Some((_, n)) => *n += 1,
            None => counts.push((f.error.code, 1)),
        }
    }
    if counts.iter().all(|&(_, n)| n <= keep) {
        return;
    }
    let mut seen: Vec<(&'static str, usize)> = Vec::new();
    findings.retain_mut(|f| {
        let code = f.error.code;
        let total = counts.iter().find(|(c, _)| *c == code).map_or(0, |c| c.1);
        let n = match seen.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                seen.push((code, 1));
                1
            }
        };
        if n == keep && total > keep {
            let more = total - keep;
            f.error.message.push_str(&format!(
                " ({more} more `{code}` finding{} after this one not shown)",
                if more == 1 { "" } else { "s" }
            ));
        }
        n <= keep
    });
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
        let mut v = vec![f("a", 0), f("b", 1), f("a", 2), f("a", 3), f("a", 4)];
        fold_repeats(&mut v, 2);
        let got: Vec<_> = v.iter().map(|f| (f.error.code, f.error.offset)).collect();
        assert_eq!(got, [("a", 0), ("b", 1), ("a", 2)]);
        assert_eq!(
            v[2].error.message,
            "bad (2 more `a` findings after this one not shown)"
        );
        assert_eq!(v[1].error.message, "bad");
    }
}
