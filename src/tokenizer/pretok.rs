//! Pre-tokenizers: split raw text into the pieces that BPE merges within.
//!
//! This follows llama.cpp's `unicode_regex_split`: a pre-tokenizer is a chain of stages, each
//! re-splitting every piece the previous stage produced, never looking across a piece boundary.
//! The GPT-2 and LLaMA-3 regexes are hand-written scanners with the exact semantics of llama.cpp's
//! custom splitters (they are not what a regex engine would do on every input); the simple
//! character-class regexes (`[\p{P}\$\+<=>\^~\|]+`, `\p{N}+`, `\p{N}`, `[0-9][0-9][0-9]`) split
//! a piece into the matches and the gaps between them, as `std::regex_iterator` does there.

use super::unicode::{flags, LETTER, NUMBER, PUNCT, SPACE};
use std::ops::Range;

/// `tokenizer.ggml.pre` values we implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    /// No `pre` key (or "default"): the four-regex chain. bitnet.cpp uses this for 2B-4T.
    Default,
    /// "llama3", "llama-v3", "llama-bpe": the LLaMA-3 regex.
    Llama3,
    /// "gpt-2": the GPT-2 regex alone.
    Gpt2,
    /// "smollm" (and the other llama.cpp names with the same chain): each digit alone, then GPT-2.
    Smollm,
}

impl PreTokenizer {
    /// Maps a `tokenizer.ggml.pre` value; `None` for names llama.cpp knows but we do not support.
    pub fn from_name(name: Option<&str>) -> Option<PreTokenizer> {
        Some(match name {
            None | Some("default") => PreTokenizer::Default,
            Some("llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "pixtral") => {
                PreTokenizer::Llama3
            }
            Some("gpt-2" | "phi-2" | "mpt" | "olmo" | "jais" | "trillion") => PreTokenizer::Gpt2,
            Some(
                "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone"
                | "minerva-7b",
            ) => PreTokenizer::Smollm,
            Some(_) => return None,
        })
    }

    /// llama.cpp's `ignore_merges`: a whole piece that is a token is emitted as that token.
    pub fn ignores_merges(self) -> bool {
        self == PreTokenizer::Llama3
    }

    fn stages(self) -> &'static [Stage] {
        match self {
            PreTokenizer::Default => &[
                Stage::Runs(Class::PunctOrMathSym),
                Stage::Gpt2,
                Stage::Runs(Class::Number),
                Stage::Digits3,
            ],
            PreTokenizer::Llama3 => &[Stage::Llama3],
            PreTokenizer::Gpt2 => &[Stage::Gpt2],
            PreTokenizer::Smollm => &[Stage::Each(Class::Number), Stage::Gpt2],
        }
    }
}

#[derive(Clone, Copy)]
enum Class {
    /// `[\p{P}\$\+<=>\^~\|]`
    PunctOrMathSym,
    /// `\p{N}`
    Number,
}

impl Class {
    fn has(self, c: char, f: u8) -> bool {
        match self {
            Class::PunctOrMathSym => {
                f & PUNCT != 0 || matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '~' | '|')
            }
            Class::Number => f & NUMBER != 0,
        }
    }
}

#[derive(Clone, Copy)]
enum Stage {
    /// `[class]+`: maximal runs, and the gaps between them.
    Runs(Class),
    /// `[class]`: every matching codepoint alone, and the gaps between them.
    Each(Class),
    /// `[0-9][0-9][0-9]`, leftmost non-overlapping.
    Digits3,
    Gpt2,
    Llama3,
}

/// The text as codepoints with their classes; pieces are codepoint ranges.
struct Text {
    cpts: Vec<char>,
    flags: Vec<u8>,
}

/// Splits `text` into pieces (byte ranges, in order, covering the text).
pub fn split(text: &str, pre: PreTokenizer) -> Vec<Range<usize>> {
    let cpts: Vec<char> = text.chars().collect();
    let flags = cpts.iter().map(|&c| flags(c)).collect();
    let t = Text { cpts, flags };
    let mut pieces: Vec<Range<usize>> = std::iter::once(0..t.cpts.len()).collect();
    for stage in pre.stages() {
        let mut out = Vec::with_capacity(pieces.len() * 2);
        for piece in pieces {
            match *stage {
                Stage::Runs(class) => t.split_class(piece, class, true, &mut out),
                Stage::Each(class) => t.split_class(piece, class, false, &mut out),
                Stage::Digits3 => t.split_digits3(piece, &mut out),
                Stage::Gpt2 => t.split_gpt2(piece, &mut out),
                Stage::Llama3 => t.split_llama3(piece, &mut out),
            }
        }
        pieces = out;
    }
    // Codepoint ranges -> byte ranges.
    let mut byte_at = Vec::with_capacity(t.cpts.len() + 1);
    let mut b = 0;
    for &c in &t.cpts {
        byte_at.push(b);
        b += c.len_utf8();
    }
    byte_at.push(b);
    pieces
        .into_iter()
        .map(|r| byte_at[r.start]..byte_at[r.end])
        .collect()
}

/// Emits pieces of one input piece: `cut(end)` closes the current piece at `end`.
struct Cutter<'a> {
    out: &'a mut Vec<Range<usize>>,
    prev: usize,
}

impl Cutter<'_> {
    fn cut(&mut self, end: usize) -> usize {
        let len = end - self.prev;
        if len > 0 {
            self.out.push(self.prev..end);
        }
        self.prev = end;
        len
    }
}

impl Text {
    fn split_class(
        &self,
        piece: Range<usize>,
        class: Class,
        runs: bool,
        out: &mut Vec<Range<usize>>,
    ) {
        let mut cut = Cutter {
            out,
            prev: piece.start,
        };
        let mut i = piece.start;
        while i < piece.end {
            if class.has(self.cpts[i], self.flags[i]) {
                cut.cut(i);
                i += 1;
                while runs && i < piece.end && class.has(self.cpts[i], self.flags[i]) {
                    i += 1;
                }
                cut.cut(i);
            } else {
                i += 1;
            }
        }
        cut.cut(piece.end);
    }

    fn split_digits3(&self, piece: Range<usize>, out: &mut Vec<Range<usize>>) {
        let mut cut = Cutter {
            out,
            prev: piece.start,
        };
        let mut i = piece.start;
        while i + 3 <= piece.end {
            if self.cpts[i..i + 3].iter().all(|c| c.is_ascii_digit()) {
                cut.cut(i);
                cut.cut(i + 3);
                i += 3;
            } else {
                i += 1;
            }
        }
        cut.cut(piece.end);
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    fn split_gpt2(&self, piece: Range<usize>, out: &mut Vec<Range<usize>>) {
        let (start, end) = (piece.start, piece.end);
        // Outside the piece: no codepoint, no class (llama.cpp's OUT_OF_RANGE and empty flags).
        let cpt = |p: usize| {
            if p >= start && p < end {
                Some(self.cpts[p])
            } else {
                None
            }
        };
        let fl = |p: usize| {
            if p >= start && p < end {
                Some(self.flags[p])
            } else {
                None
            }
        };
        let mut cut = Cutter { out, prev: start };
        let mut pos = start;
        while pos < end {
            let c = self.cpts[pos];
            let f = self.flags[pos];
            if c == '\'' && pos + 1 < end {
                let n = self.cpts[pos + 1];
                if matches!(n, 's' | 't' | 'm' | 'd') {
                    pos += cut.cut(pos + 2);
                    continue;
                }
                if pos + 2 < end {
                    let nn = self.cpts[pos + 2];
                    if matches!((n, nn), ('r', 'e') | ('v', 'e') | ('l', 'l')) {
                        pos += cut.cut(pos + 3);
                        continue;
                    }
                }
            }
            let lead = (c == ' ') as usize;
            let f2 = if c == ' ' { fl(pos + 1) } else { Some(f) };
            let is = |x: Option<u8>, bit: u8| x.is_some_and(|x| x & bit != 0);
            let other = |x: Option<u8>| x.is_some_and(|x| x & (SPACE | LETTER | NUMBER) == 0);
            if is(f2, LETTER) || is(f2, NUMBER) {
                let bit = if is(f2, LETTER) { LETTER } else { NUMBER };
                pos += lead;
                while is(fl(pos), bit) {
                    pos += 1;
                }
                cut.cut(pos);
                continue;
            }
            if other(f2) {
                pos += lead;
                while other(fl(pos)) {
                    pos += 1;
                }
                cut.cut(pos);
                continue;
            }
            let mut n_ws = 0;
            while is(fl(pos + n_ws), SPACE) {
                n_ws += 1;
            }
            if n_ws > 1 && cpt(pos + n_ws).is_some() {
                // \s+(?!\S): leave the last space to prefix the next piece.
                pos += n_ws - 1;
                cut.cut(pos);
                continue;
            }
            if n_ws > 0 {
                pos += n_ws;
                cut.cut(pos);
                continue;
            }
            pos += 1;
            cut.cut(pos);
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*
    /// |\s*[\r\n]+|\s+(?!\S)|\s+`
    fn split_llama3(&self, piece: Range<usize>, out: &mut Vec<Range<usize>>) {
        let (start, end) = (piece.start, piece.end);
        let cpt = |p: usize| {
            if p >= start && p < end {
                Some(self.cpts[p])
            } else {
                None
            }
        };
        let fl = |p: usize| {
            if p >= start && p < end {
                Some(self.flags[p])
            } else {
                None
            }
        };
        let is = |x: Option<u8>, bit: u8| x.is_some_and(|x| x & bit != 0);
        let other = |x: Option<u8>| x.is_some_and(|x| x & (SPACE | LETTER | NUMBER) == 0);
        let newline = |c: Option<char>| matches!(c, Some('\r' | '\n'));
        let mut cut = Cutter { out, prev: start };
        let mut pos = start;
        while pos < end {
            let c = self.cpts[pos];
            let f = self.flags[pos];
            if c == '\'' && pos + 1 < end {
                // Only ASCII letters lower-case to the ASCII letters compared here.
                let n = self.cpts[pos + 1].to_ascii_lowercase();
                if matches!(n, 's' | 't' | 'm' | 'd') {
                    pos += cut.cut(pos + 2);
                    continue;
                }
                if pos + 2 < end {
                    let nn = self.cpts[pos + 2].to_ascii_lowercase();
                    if matches!((n, nn), ('r', 'e') | ('v', 'e') | ('l', 'l')) {
                        pos += cut.cut(pos + 3);
                        continue;
                    }
                }
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(c == '\r' || c == '\n' || f & NUMBER != 0)
                && (f & LETTER != 0 || is(fl(pos + 1), LETTER))
            {
                pos += 1;
                while is(fl(pos), LETTER) {
                    pos += 1;
                }
                cut.cut(pos);
                continue;
            }
            // \p{N}{1,3}
            if f & NUMBER != 0 {
                let mut ini = pos;
                while is(fl(pos), NUMBER) {
                    pos += 1;
                    if pos - ini >= 3 {
                        cut.cut(pos);
                        ini = pos;
                    }
                }
                cut.cut(pos);
                continue;
            }
            //  ?[^\s\p{L}\p{N}]+[\r\n]*
            let f2 = if c == ' ' { fl(pos + 1) } else { Some(f) };
            if other(f2) {
                pos += (c == ' ') as usize;
                while other(fl(pos)) {
                    pos += 1;
                }
                while newline(cpt(pos)) {
                    pos += 1;
                }
                cut.cut(pos);
                continue;
            }
            let mut n_ws = 0;
            let mut last_newline_end = 0;
            while is(fl(pos + n_ws), SPACE) {
                if newline(cpt(pos + n_ws)) {
                    last_newline_end = pos + n_ws + 1;
                }
                n_ws += 1;
            }
            // \s*[\r\n]+
            if last_newline_end > 0 {
                pos = last_newline_end;
                cut.cut(pos);
                continue;
            }
            // \s+(?!\S)
            if n_ws > 1 && cpt(pos + n_ws).is_some() {
                pos += n_ws - 1;
                cut.cut(pos);
                continue;
            }
            // \s+
            if n_ws > 0 {
                pos += n_ws;
                cut.cut(pos);
                continue;
            }
            pos += 1;
            cut.cut(pos);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn pieces(text: &str, pre: PreTokenizer) -> Vec<&str> {
        split(text, pre).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn gpt2_regex() {
        let p = pieces("Hello world's  end 123!!\n\n x", PreTokenizer::Gpt2);
        assert_eq!(
            p,
            ["Hello", " world", "'s", " ", " end", " 123", "!!", "\n\n", " x"]
        );
    }

    #[test]
    fn default_chain_splits_punctuation_and_digit_groups() {
        // Punctuation runs first, then GPT-2, then number runs, then groups of three digits.
        let p = pieces("a+b=12345, (x)", PreTokenizer::Default);
        assert_eq!(
            p,
            ["a", "+", "b", "=", "123", "45", ",", " ", "(", "x", ")"]
        );
        // A space before a number is split off by the \p{N}+ stage.
        assert_eq!(pieces("n 42", PreTokenizer::Default), ["n", " ", "42"]);
        // The backtick is a symbol, not in the first class: GPT-2 keeps " `" together.
        assert_eq!(
            pieces("a `b`", PreTokenizer::Default),
            ["a", " `", "b", "`"]
        );
    }

    #[test]
    fn llama3_regex() {
        let p = pieces("I'VE 12345 apples!\r\n\n  ok", PreTokenizer::Llama3);
        assert_eq!(
            p,
            ["I", "'VE", " ", "123", "45", " apples", "!\r\n\n", " ", " ok"]
        );
        assert_eq!(pieces("x  \n y", PreTokenizer::Llama3), ["x", "  \n", " y"]);
    }

    #[test]
    fn smollm_splits_each_digit() {
        assert_eq!(
            pieces("ab 2024x", PreTokenizer::Smollm),
            ["ab", " ", "2", "0", "2", "4", "x"]
        );
    }

    #[test]
    fn byte_ranges_cover_multibyte_text() {
        let text = "héllo 世界 😀!";
        let r = split(text, PreTokenizer::Default);
        assert_eq!(r.first().unwrap().start, 0);
        assert_eq!(r.last().unwrap().end, text.len());
        for w in r.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
    }
}
