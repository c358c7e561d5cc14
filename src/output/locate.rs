//! Turning byte offsets from the parsers into what people and editors use: 1-based lines and
//! character columns, and a printable excerpt of the lines a span touches.
//!
//! Messages on the wire are bytes, not text: they may hold invalid UTF-8 and end lines with
//! CR LF. Lines here end at LF; a CR before it is not shown; each maximal invalid UTF-8 sequence
//! counts as one character and is shown as U+FFFD, the way `String::from_utf8_lossy` does.

use std::ops::Range;

/// A 1-based line and a 1-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// Where byte `offset` of `source` sits; offsets past the end are clamped to the end.
///
/// The LF of a CR LF is at the column just after the line's text, as editors show it: the CR is
/// part of the line end, not a character of the line.
pub(crate) fn position(source: &[u8], offset: usize) -> Position {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    let mut text = &source[line_start..offset];
    if source.get(offset) == Some(&b'\n') {
        text = text.strip_suffix(b"\r").unwrap_or(text);
    }
    Position {
        line: memchr::memchr_iter(b'\n', before).count() + 1,
        column: char_count(text) + 1,
    }
}

/// Characters in `bytes`, counting each maximal invalid UTF-8 sequence as one.
fn char_count(bytes: &[u8]) -> usize {
    bytes
        .utf8_chunks()
        .map(|chunk| chunk.valid().chars().count() + usize::from(!chunk.invalid().is_empty()))
        .sum()
}

/// The lines a span touches, as text ready to show, with the span moved into that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Excerpt {
    /// The lines, joined by `\n`, without CRs at line ends and with invalid UTF-8 replaced.
    pub(crate) text: String,
    /// Number of the first line of `text` in the whole source (1-based).
    pub(crate) first_line: usize,
    /// The span inside `text`, always on character boundaries.
    pub(crate) span: Range<usize>,
}

/// Most bytes of a span underlined; a longer one (a 16 MiB line) is cut, so showing it costs
/// no more than showing a short one. The diagnostic still gives the full length.
const MAX_SHOWN_SPAN: usize = 512;
/// Most bytes shown after the span on its last line.
const MAX_SHOWN_AFTER: usize = 160;

/// The excerpt for the `len` bytes at `offset` in `source` (clamped to the source).
pub(crate) fn excerpt(source: &[u8], offset: usize, len: usize) -> Excerpt {
    let start = offset.min(source.len());
    let end = offset
        .saturating_add(len.min(MAX_SHOWN_SPAN))
        .clamp(start, source.len());
    let from = memchr::memrchr(b'\n', &source[..start]).map_or(0, |i| i + 1);
    // The line holding the span's last byte: a span ending just after an LF ends on that line.
    let last = if end > start { end - 1 } else { start };
    let line_end = memchr::memchr(b'\n', &source[last..]).map_or(source.len(), |i| last + i);
    // Cut what follows the span on a long line, at a character boundary.
    let mut to = line_end.min(end.saturating_add(MAX_SHOWN_AFTER));
    while to > end && to < line_end && source[to] & 0xc0 == 0x80 {
        to -= 1;
    }
    let bytes = &source[from..to];

    // Where the span's first byte lands in `text` (the start of its character) and where its
    // end lands (the end of the character it falls inside), found while building `text`.
    let want_a = start - from;
    // An LF closing the last line is not part of the text: a span over it ends at the line end.
    let want_b = end.min(to) - from;
    let mut text = String::with_capacity(bytes.len());
    let (mut a, mut b) = (None, None);
    let mut i = 0;
    let mut unit = |text: &mut String, piece: &str, width: usize| {
        let at = text.len();
        text.push_str(piece);
        if (i..i + width).contains(&want_a) {
            a = Some(at);
        }
        if want_b == i {
            b.get_or_insert(at);
        } else if (i + 1..i + width).contains(&want_b) {
            b.get_or_insert(text.len());
        }
        i += width;
    };
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if n > 0 {
            unit(&mut text, "\n", 1);
        }
        let (content, cr) = match line.strip_suffix(b"\r") {
            Some(content) => (content, true),
            None => (line, false),
        };
        for chunk in content.utf8_chunks() {
            for c in chunk.valid().chars() {
                let mut buf = [0; 4];
                unit(&mut text, c.encode_utf8(&mut buf), c.len_utf8());
            }
            if !chunk.invalid().is_empty() {
                unit(&mut text, "\u{fffd}", chunk.invalid().len());
            }
        }
        if cr {
            unit(&mut text, "", 1);
        }
    }
    let a = a.unwrap_or(text.len());
    let b = b.unwrap_or(text.len()).max(a);
    Excerpt {
        text,
        first_line: position(source, from).line,
        span: a..b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let src = b"INVITE sip:a@b SIP/2.0\r\nTo: \xc3\xa9x\r\n";
        assert_eq!(position(src, 0), pos(1, 1));
        assert_eq!(position(src, 7), pos(1, 8));
        assert_eq!(position(src, 24), pos(2, 1));
        // 'x' after the two-byte é is the 6th character.
        assert_eq!(position(src, 30), pos(2, 6));
        assert_eq!(position(src, src.len()), pos(3, 1));
        assert_eq!(position(src, usize::MAX), pos(3, 1));
    }

    #[test]
    fn invalid_utf8_counts_as_one_character_per_bad_sequence() {
        // A truncated three-byte sequence is one bad character; 0xFF and 0xFE are one each.
        assert_eq!(position(b"a\xe2\x82b", 3), pos(1, 3));
        assert_eq!(position(b"a\xff\xfeb", 3), pos(1, 4));
    }

    #[test]
    fn line_end_is_just_after_the_text() {
        assert_eq!(position(b"ab\r\ncd", 2), pos(1, 3));
        assert_eq!(position(b"ab\r\ncd", 3), pos(1, 3));
        assert_eq!(position(b"ab\rcd", 3), pos(1, 4));
    }

    #[test]
    fn excerpt_drops_the_cr_and_keeps_the_span_on_its_bytes() {
        let src = b"Via: x\r\nContent-Length: 10\r\n\r\n";
        let e = excerpt(src, 24, 2);
        assert_eq!(e.text, "Content-Length: 10");
        assert_eq!(e.first_line, 2);
        assert_eq!(&e.text[e.span.clone()], "10");
    }

    #[test]
    fn span_over_the_line_end_stops_at_the_visible_text() {
        let src = b"To: b\r\nFrom: c\r\n";
        // The CR LF of line 1.
        let e = excerpt(src, 5, 2);
        assert_eq!(e.text, "To: b");
        assert_eq!(e.span, 5..5);
    }

    #[test]
    fn multi_line_span_takes_every_line() {
        let src = b"a: 1\r\nb: 2\r\nc: 3\r\n";
        let e = excerpt(src, 3, 10);
        assert_eq!(e.text, "a: 1\nb: 2\nc: 3");
        assert_eq!(&e.text[e.span.clone()], "1\nb: 2\nc");
    }

    #[test]
    fn invalid_bytes_become_one_replacement_character() {
        let src = b"X-A: \xe2\x82!\r\n";
        let e = excerpt(src, 5, 1);
        assert_eq!(e.text, "X-A: \u{fffd}!");
        assert_eq!(&e.text[e.span.clone()], "\u{fffd}");
        // A span starting in the middle of a character widens to the whole character.
        let e = excerpt("é".as_bytes(), 1, 1);
        assert_eq!(&e.text[e.span.clone()], "é");
    }

    #[test]
    fn span_at_end_of_input_is_empty_on_the_last_line() {
        let e = excerpt(b"v=0\r\n", 5, 0);
        assert_eq!((e.text.as_str(), e.first_line, e.span), ("", 2, 0..0));
        let e = excerpt(b"v=0", 99, 4);
        assert_eq!((e.text.as_str(), e.span), ("v=0", 3..3));
        let e = excerpt(b"", 0, 0);
        assert_eq!((e.text.as_str(), e.span), ("", 0..0));
    }

    #[test]
    fn long_lines_and_spans_are_cut_after_the_span() {
        let mut src = b"a: ".to_vec();
        src.extend(std::iter::repeat_n(b'x', 1 << 20));
        src.extend_from_slice(b"\r\nb: 2\r\n");
        let e = excerpt(&src, 3, 1 << 20);
        assert_eq!(e.span, 3..3 + MAX_SHOWN_SPAN);
        assert_eq!(e.text.len(), 3 + MAX_SHOWN_SPAN + MAX_SHOWN_AFTER);
        // The cut never splits a character.
        let src = "a: ééééé".as_bytes();
        for cut in 0..src.len() {
            let e = excerpt(src, 0, cut);
            assert!(e.text.is_char_boundary(e.span.end), "{cut}");
        }
    }

    #[test]
    fn hostile_spans_do_not_panic() {
        let srcs: [&[u8]; 4] = [b"", b"\n", b"\r\n\xff\r", b"a\r\r\n\n\xe2\x82"];
        for src in srcs {
            for offset in 0..src.len() + 3 {
                for len in [0, 1, 2, 5, usize::MAX] {
                    let e = excerpt(src, offset, len);
                    assert!(e.span.start <= e.span.end && e.span.end <= e.text.len());
                    assert!(e.text.is_char_boundary(e.span.start));
                    assert!(e.text.is_char_boundary(e.span.end));
                    let _ = position(src, offset);
                }
            }
        }
    }
}
