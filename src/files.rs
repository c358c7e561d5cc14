//! The one policy for characters in file names a peer chooses (an MSRP `a=file-selector`
//! name saved by `listen --save-dir` or `decode-pcap --extract`).
//!
//! A name must show on a terminal as what it is. Besides control characters and the
//! separators and reserved characters of common file systems, that excludes the invisible
//! characters that change how a name reads without being seen: a right-to-left override makes
//! `invoice\u{202E}fdp.exe` display as `invoiceexe.pdf` (Unicode TR36 §2.3, CVE-2021-42574's
//! class), and zero-width or other format characters make two different names look the same.

/// Whether `c` is replaced (by `_`) in a saved file's name: a control character (Unicode Cc),
/// a path separator or a character Windows reserves, or an invisible formatting character
/// (Unicode Cf: bidirectional marks, embeddings, overrides and isolates, zero-width spaces and
/// joiners, the byte order mark, soft hyphen, ...), or a line or paragraph separator.
pub(crate) fn replaced_in_name(c: char) -> bool {
    c.is_control()
        || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
        || is_format(c)
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Unicode general category Cf (format characters), as of Unicode 15.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_15_invisible_and_reordering_characters_are_replaced() {
        for c in [
            '\u{202E}',
            '\u{202D}',
            '\u{2066}',
            '\u{2069}',
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{200B}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{E0041}',
            '\u{2028}',
            '\n',
            '\u{7F}',
            '\u{85}',
            '/',
            '\\',
            ':',
        ] {
            assert!(replaced_in_name(c), "{:04X}", u32::from(c));
        }
        for c in ['a', 'é', 'ß', '日', '.', '-', ' ', '(', 'ا', '😀'] {
            assert!(!replaced_in_name(c), "{c}");
        }
    }
}
