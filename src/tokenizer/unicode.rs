//! Codepoint classes the pre-tokenizers test, and GPT-2's byte <-> unicode mapping.
//!
//! llama.cpp (`unicode.cpp`) classifies codepoints by Unicode general category: `\p{L}` is any
//! L* category, `\p{N}` any N*, `\p{P}` any P*; `\s` is the White_Space property. Unassigned
//! codepoints are "undefined" but still count as something (not the "out of range" marker that ends
//! a piece), so only the three categories and whitespace matter here.

use unicode_general_category::{get_general_category, GeneralCategory as G};

pub const LETTER: u8 = 1;
pub const NUMBER: u8 = 2;
pub const PUNCT: u8 = 4;
pub const SPACE: u8 = 8;

/// The class bits of one codepoint.
pub fn flags(c: char) -> u8 {
    if c.is_ascii() {
        return ASCII_FLAGS[c as usize];
    }
    if new_in_unicode_16(c) {
        return 0;
    }
    let mut f = match get_general_category(c) {
        G::UppercaseLetter
        | G::LowercaseLetter
        | G::TitlecaseLetter
        | G::ModifierLetter
        | G::OtherLetter => LETTER,
        G::DecimalNumber | G::LetterNumber | G::OtherNumber => NUMBER,
        G::ConnectorPunctuation
        | G::DashPunctuation
        | G::OpenPunctuation
        | G::ClosePunctuation
        | G::InitialPunctuation
        | G::FinalPunctuation
        | G::OtherPunctuation => PUNCT,
        _ => 0,
    };
    // White_Space, exactly llama.cpp's `unicode_set_whitespace` (Rust's is_whitespace is the same
    // property).
    if c.is_whitespace() {
        f |= SPACE;
    }
    f
}

/// Letters, numbers and punctuation first assigned in Unicode 16.0. The crate's tables are
/// Unicode 16.0; llama.cpp's `unicode-data.cpp` predates it, so there these codepoints are
/// unassigned (neither \p{L}, \p{N} nor \p{P}). Found by comparing every codepoint's class with
/// llama.cpp's table (llama-cpp-python 0.3.36): these ranges are the only differences.
const NEW_IN_UNICODE_16: &[(u32, u32)] = &[
    (0x1B4E, 0x1B4F),
    (0x1B7F, 0x1B7F),
    (0x1C89, 0x1C8A),
    (0xA7CB, 0xA7CD),
    (0xA7DA, 0xA7DC),
    (0x105C0, 0x105F3),
    (0x10D40, 0x10D65),
    (0x10D6E, 0x10D85),
    (0x10EC2, 0x10EC4),
    (0x11380, 0x11389),
    (0x1138B, 0x1138B),
    (0x1138E, 0x1138E),
    (0x11390, 0x113B5),
    (0x113B7, 0x113B7),
    (0x113D1, 0x113D1),
    (0x113D3, 0x113D5),
    (0x113D7, 0x113D8),
    (0x116D0, 0x116E3),
    (0x11BC0, 0x11BE1),
    (0x11BF0, 0x11BF9),
    (0x13460, 0x143FA),
    (0x16100, 0x1611D),
    (0x16130, 0x16139),
    (0x16D40, 0x16D79),
    (0x18CFF, 0x18CFF),
    (0x1CCF0, 0x1CCF9),
    (0x1E5D0, 0x1E5ED),
    (0x1E5F0, 0x1E5FA),
    (0x1E5FF, 0x1E5FF),
];

fn new_in_unicode_16(c: char) -> bool {
    let u = c as u32;
    let i = NEW_IN_UNICODE_16.partition_point(|&(_, hi)| hi < u);
    NEW_IN_UNICODE_16.get(i).is_some_and(|&(lo, _)| lo <= u)
}

const fn ascii_flags() -> [u8; 128] {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        t[i] = if c.is_ascii_alphabetic() {
            LETTER
        } else if c.is_ascii_digit() {
            NUMBER
        } else if matches!(c, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ') {
            SPACE
        } else if matches!(
            c,
            b'!' | b'"'
                | b'#'
                | b'%'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b','
                | b'-'
                | b'.'
                | b'/'
                | b':'
                | b';'
                | b'?'
                | b'@'
                | b'['
                | b'\\'
                | b']'
                | b'_'
                | b'{'
                | b'}'
        ) {
            PUNCT
        } else {
            0
        };
        i += 1;
    }
    t
}

static ASCII_FLAGS: [u8; 128] = ascii_flags();

/// GPT-2's reversible byte -> codepoint map: printable Latin-1 bytes map to themselves, the other
/// 68 bytes to U+0100.. in increasing byte order.
pub const fn byte_to_char_table() -> [char; 256] {
    let mut t = ['\0'; 256];
    let mut n = 0u32;
    let mut b = 0usize;
    while b < 256 {
        let printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        t[b] = if printable {
            match char::from_u32(b as u32) {
                Some(c) => c,
                None => '\0',
            }
        } else {
            let c = match char::from_u32(0x100 + n) {
                Some(c) => c,
                None => '\0',
            };
            n += 1;
            c
        };
        b += 1;
    }
    t
}

pub static BYTE_TO_CHAR: [char; 256] = byte_to_char_table();

/// The bytes that GPT-2 moves to U+0100.., in increasing order.
const fn high_bytes() -> [u8; 68] {
    let mut t = [0u8; 68];
    let mut n = 0;
    let mut b = 0usize;
    while b < 256 {
        let printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        if !printable {
            t[n] = b as u8;
            n += 1;
        }
        b += 1;
    }
    t
}

static HIGH_BYTES: [u8; 68] = high_bytes();

/// The byte a GPT-2 codepoint stands for, if it is one of the 256.
pub fn char_to_byte(c: char) -> Option<u8> {
    let u = c as u32;
    match u {
        0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF => Some(u as u8),
        0x100..=0x143 => Some(HIGH_BYTES[(u - 0x100) as usize]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn gpt2_byte_map_matches_the_known_points() {
        assert_eq!(BYTE_TO_CHAR[b' ' as usize], '\u{120}');
        assert_eq!(BYTE_TO_CHAR[b'\n' as usize], '\u{10A}');
        assert_eq!(BYTE_TO_CHAR[0] as u32, 0x100);
        assert_eq!(BYTE_TO_CHAR[0xAD] as u32, 0x143);
        assert_eq!(BYTE_TO_CHAR[b'a' as usize], 'a');
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(BYTE_TO_CHAR[b as usize]), Some(b));
        }
        assert_eq!(char_to_byte('\u{144}'), None);
    }

    #[test]
    fn classes() {
        assert_eq!(flags('a'), LETTER);
        assert_eq!(flags('7'), NUMBER);
        assert_eq!(flags('$'), 0);
        assert_eq!(flags('!'), PUNCT);
        assert_eq!(flags('\u{3000}'), SPACE);
        assert_eq!(flags('\u{85}'), SPACE);
        assert_eq!(flags('é'), LETTER);
        assert_eq!(flags('漢'), LETTER);
        assert_eq!(flags('²'), NUMBER);
        assert_eq!(flags('«'), PUNCT);
        assert_eq!(flags('\u{301}'), 0); // combining mark
        assert_eq!(flags('\u{FEFF}'), 0); // BOM is not whitespace here
                                          // Unicode 16 additions are unassigned for llama.cpp.
        assert_eq!(flags('\u{1B4E}'), 0);
        assert_eq!(flags('\u{13460}'), 0);
        assert_eq!(flags('\u{143FA}'), 0);
        assert_eq!(flags('\u{143FB}'), 0);
        assert_eq!(flags('\u{1E5FF}'), 0);
        assert_eq!(flags('\u{1E800}'), LETTER); // Mende Kikakui, older
    }
}
