//! Byte-class tables and small scanners shared by the SIP, SDP and MSRP grammars.
//!
//! RFC 3261 §25.1, RFC 4975 §9 and RFC 8866 §9 build on the same core rules (token, LWS,
//! quoted-string); one table here keeps them consistent and fast.

/// `token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )`
/// (RFC 3261 §25.1).
#[inline]
pub const fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// [`is_token`] as a table: the header-name scan runs once per byte of every header line, and
/// one load beats the chain of range tests the `matches!` compiles to.
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = matches!(b,
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
            | b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~');
        i += 1;
    }
    t
};

/// Whether every byte of a non-empty slice is a token character.
pub fn all_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token(b))
}

/// Position of the first `needle` in `h`, eight bytes at a time.
///
/// SIP lines and URI parts are tens of bytes long, where a SIMD memchr spends more on setup
/// than on searching; this word-at-a-time scan (the "has zero byte" trick) wins there.
#[inline]
pub fn find_byte(needle: u8, h: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(needle);
    let mut i = 0;
    while i + 8 <= h.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&h[i..i + 8]);
        let x = u64::from_le_bytes(word) ^ pattern;
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            // The lowest flagged byte is always a true match (false positives only sit above a
            // real zero byte).
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    h[i..].iter().position(|&b| b == needle).map(|p| i + p)
}

/// Position of the first control byte or space (`< 0x21` or DEL) in `h`, eight bytes at a time.
///
/// The Request-URI must hold none (RFC 3261 §7.1, §25.1): this checks it in one pass of word
/// operations instead of a compare per byte.
#[inline]
pub fn find_ctl_or_space(h: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let del = LO * 0x7f;
    let mut i = 0;
    while i + 8 <= h.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&h[i..i + 8]);
        let x = u64::from_le_bytes(word);
        // Bytes below 0x21 borrow in `x - 0x21..`; `!x` drops bytes of 0x80 and above. As in
        // `find_byte`, the lowest flag of each term is a true match.
        let low = x.wrapping_sub(LO * 0x21) & !x & HI;
        let d = x ^ del;
        let is_del = d.wrapping_sub(LO) & !d & HI;
        let found = low | is_del;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    h[i..]
        .iter()
        .position(|&b| b < 0x21 || b == 0x7f)
        .map(|p| i + p)
}

/// `WSP = SP / HTAB`.
pub const fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Linear white space, including the CR LF of a folded line (RFC 3261 §7.3.1): inside a header
/// value that the framer accepted, CR and LF only occur as part of folding.
pub const fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trim linear white space (including folding) from both ends.
pub fn trim_lws(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_lws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_lws(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

/// Trim linear white space from a `str` (same rule as [`trim_lws`]).
pub fn trim_lws_str(s: &str) -> &str {
    // Byte-wise (no char decoding): LWS bytes are ASCII, so the cut points are char boundaries.
    let t = trim_lws(s.as_bytes());
    let start = t.as_ptr() as usize - s.as_ptr() as usize;
    &s[start..start + t.len()]
}

/// Split `s` at every `sep` that is outside a quoted string (with `\` escapes) and outside
/// `<...>`, as the comma rule for SIP header values requires (RFC 3261 §7.3.1). Pieces are not
/// trimmed. An unterminated quote or bracket extends to the end of the input.
pub fn split_outside_quotes(s: &[u8], sep: u8) -> SplitOutside<'_> {
    SplitOutside { rest: Some(s), sep }
}

/// Iterator returned by [`split_outside_quotes`].
#[derive(Debug)]
pub struct SplitOutside<'a> {
    rest: Option<&'a [u8]>,
    sep: u8,
}

impl<'a> Iterator for SplitOutside<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.rest?;
        match find_outside_quotes(s, self.sep) {
            Some(i) => {
                self.rest = Some(&s[i + 1..]);
                Some(&s[..i])
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }
}

/// Position of the first `sep` outside quotes and angle brackets.
pub fn find_outside_quotes(s: &[u8], sep: u8) -> Option<usize> {
    let mut in_quote = false;
    let mut in_angle = false;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if in_quote {
            match b {
                b'\\' => i += 1,
                b'"' => in_quote = false,
                _ => {}
            }
        } else if b == b'"' {
            in_quote = true;
        } else if in_angle {
            if b == b'>' {
                in_angle = false;
            }
        } else if b == b'<' && sep != b'<' {
            in_angle = true;
        } else if b == sep {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes_and_angles() {
        let parts: Vec<_> =
            split_outside_quotes(br#""a,b" <sip:x;p=1,2>, c, "d\",e""#, b',').collect();
        assert_eq!(
            parts,
            vec![
                &br#""a,b" <sip:x;p=1,2>"#[..],
                &b" c"[..],
                &br#" "d\",e""#[..]
            ]
        );
    }

    #[test]
    fn find_byte_agrees_with_a_plain_search() {
        let hay: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for start in 0..hay.len() {
            for needle in [0u8, b'\n', 10, 37, 200, 255, 0x80] {
                let h = &hay[start..];
                assert_eq!(
                    find_byte(needle, h),
                    h.iter().position(|&b| b == needle),
                    "{start} {needle}"
                );
            }
        }
    }

    #[test]
    fn find_ctl_or_space_agrees_with_a_plain_search() {
        let plain = |h: &[u8]| h.iter().position(|&b| b < 0x21 || b == 0x7f);
        // Every byte value at every position of a word, after URI-like and high bytes.
        for fill in [b'a', 0x21, 0x7e, 0x80, 0xff] {
            for bad in 0..=255u8 {
                for at in 0..20 {
                    let mut h = vec![fill; 20];
                    h[at] = bad;
                    assert_eq!(find_ctl_or_space(&h), plain(&h), "{fill} {bad} {at}");
                }
            }
        }
        let hay: Vec<u8> = (0..300u32).map(|i| (i * 37 % 251) as u8).collect();
        for start in 0..hay.len() {
            assert_eq!(find_ctl_or_space(&hay[start..]), plain(&hay[start..]));
        }
    }

    #[test]
    fn trims_folding() {
        assert_eq!(trim_lws(b" \r\n\tabc \r\n "), b"abc");
        assert_eq!(trim_lws(b" \r\n "), b"");
    }
}
