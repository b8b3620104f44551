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

    /// The codepoint at `p` if it is inside `piece` (llama.cpp's OUT_OF_RANGE is `None`).
    fn cpt_in(&self, piece: &Range<usize>, p: usize) -> Option<char> {
        piece.contains(&p).then(|| self.cpts[p])
    }

    /// The class bits at `p` if inside `piece`; outside, no class at all (not even "other").
    fn flags_in(&self, piece: &Range<usize>, p: usize) -> Option<u8> {
        piece.contains(&p).then(|| self.flags[p])
    }

    fn is_in(&self, piece: &Range<usize>, p: usize, bit: u8) -> bool {
        self.flags_in(piece, p).is_some_and(|f| f & bit != 0)
    }

    /// `[^\s\p{L}\p{N}]` at `p`, inside the piece.
    fn is_other_in(&self, piece: &Range<usize>, p: usize) -> bool {
        self.flags_in(piece, p)
            .is_some_and(|f| f & (SPACE | LETTER | NUMBER) == 0)
    }

    /// Length of a contraction `'s|'t|'re|'ve|'m|'ll|'d` at `pos` (ASCII case-insensitive for
    /// LLaMA-3: only ASCII letters lower-case to the letters compared).
    fn contraction_at(&self, piece: &Range<usize>, pos: usize, ignore_case: bool) -> Option<usize> {
        if self.cpts[pos] != '\'' || pos + 1 >= piece.end {
            return None;
        }
        let low = |c: char| {
            if ignore_case {
                c.to_ascii_lowercase()
            } else {
                c
            }
        };
        let n = low(self.cpts[pos + 1]);
        if matches!(n, 's' | 't' | 'm' | 'd') {
            return Some(2);
        }
        if pos + 2 < piece.end
            && matches!(
                (n, low(self.cpts[pos + 2])),
                ('r', 'e') | ('v', 'e') | ('l', 'l')
            )
        {
            return Some(3);
        }
        None
    }

    /// The end of the piece starting at `pos` under `\s+(?!\S)|\s+` (or a lone codepoint that
    /// nothing matched), the common tail of both regexes.
    fn whitespace_end(&self, piece: &Range<usize>, pos: usize) -> usize {
        let mut n_ws = 0;
        while self.is_in(piece, pos + n_ws, SPACE) {
            n_ws += 1;
        }
        if n_ws > 1 && self.cpt_in(piece, pos + n_ws).is_some() {
            // \s+(?!\S): leave the last space to prefix the next piece.
            pos + n_ws - 1
        } else if n_ws > 0 {
            pos + n_ws
        } else {
            pos + 1
        }
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    fn split_gpt2(&self, piece: Range<usize>, out: &mut Vec<Range<usize>>) {
        let p = &piece;
        let mut cut = Cutter {
            out,
            prev: piece.start,
        };
        let mut pos = piece.start;
        while pos < piece.end {
            if let Some(n) = self.contraction_at(p, pos, false) {
                pos += cut.cut(pos + n);
                continue;
            }
            // An optional leading space, then a run of one class.
            let c = self.cpts[pos];
            let first = if c == ' ' { pos + 1 } else { pos };
            // The run's class: a class bit, or 0 for "other" ([^\s\p{L}\p{N}]).
            let in_class = |q: usize, bit: u8| {
                if bit == 0 {
                    self.is_other_in(p, q)
                } else {
                    self.is_in(p, q, bit)
                }
            };
            let class = [LETTER, NUMBER, 0]
                .into_iter()
                .find(|&bit| in_class(first, bit));
            pos = match class {
                Some(bit) => {
                    let mut q = first;
                    while in_class(q, bit) {
                        q += 1;
                    }
                    q
                }
                None => self.whitespace_end(p, pos),
            };
            cut.cut(pos);
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*
    /// |\s*[\r\n]+|\s+(?!\S)|\s+`
    fn split_llama3(&self, piece: Range<usize>, out: &mut Vec<Range<usize>>) {
        let p = &piece;
        let newline = |q: usize| matches!(self.cpt_in(p, q), Some('\r' | '\n'));
        let mut cut = Cutter {
            out,
            prev: piece.start,
        };
        let mut pos = piece.start;
        while pos < piece.end {
            if let Some(n) = self.contraction_at(p, pos, true) {
                pos += cut.cut(pos + n);
                continue;
            }
            let c = self.cpts[pos];
            let f = self.flags[pos];
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(c == '\r' || c == '\n' || f & NUMBER != 0)
                && (f & LETTER != 0 || self.is_in(p, pos + 1, LETTER))
            {
                pos += 1;
                while self.is_in(p, pos, LETTER) {
                    pos += 1;
                }
                cut.cut(pos);
                continue;
            }
            // \p{N}{1,3}
            if f & NUMBER != 0 {
                let mut ini = pos;
                while self.is_in(p, pos, NUMBER) {
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
            let first = if c == ' ' { pos + 1 } else { pos };
            if self.is_other_in(p, first) {
                pos = first;
                while self.is_other_in(p, pos) {
                    pos += 1;
                }
                while newline(pos) {
                    pos += 1;
                }
                cut.cut(pos);
                continue;
            }
            // \s*[\r\n]+ : whitespace up to and including its last newline.
            let mut q = pos;
            let mut last_newline_end = None;
            while self.is_in(p, q, SPACE) {
                if newline(q) {
                    last_newline_end = Some(q + 1);
                }
                q += 1;
            }
            pos = last_newline_end.unwrap_or_else(|| self.whitespace_end(p, pos));
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
