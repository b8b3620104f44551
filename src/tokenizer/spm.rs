//! SentencePiece-style merging for `tokenizer.ggml.model = "llama"` (llama.cpp's
//! `llm_tokenizer_spm_session`): start from UTF-8 characters, repeatedly merge the adjacent pair
//! whose concatenation is the highest-scoring token (ties: leftmost), then emit each final symbol
//! as its token or, if it is not one, as byte-fallback tokens `<0xNN>`.

use super::Tokenizer;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Sym {
    start: u32,
    len: u32,
    prev: u32,
    next: u32,
}

/// Heap entry: highest score first, then the leftmost pair.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Bigram {
    score: u32,
    left: Reverse<u32>,
    right: u32,
    size: u32,
}

/// f32 -> u32 preserving order (so the heap can use integer comparisons).
fn ordered(score: f32) -> u32 {
    let b = score.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

impl Tokenizer {
    /// Tokens of one text fragment; `text` already has spaces replaced by U+2581.
    pub(crate) fn spm_fragment(&self, text: &str, out: &mut Vec<u32>) {
        let bytes = text.as_bytes();
        let mut syms: Vec<Sym> = Vec::with_capacity(text.len());
        for (i, (start, c)) in text.char_indices().enumerate() {
            let i = i as u32;
            syms.push(Sym {
                start: start as u32,
                len: c.len_utf8() as u32,
                prev: i.wrapping_sub(1),
                next: i + 1,
            });
        }
        let Some(last) = syms.last_mut() else { return };
        last.next = NONE;
        if let Some(first) = syms.first_mut() {
            first.prev = NONE;
        }
        let mut heap = BinaryHeap::new();
        let try_add = |syms: &[Sym], heap: &mut BinaryHeap<Bigram>, left: u32, right: u32| {
            if left == NONE || right == NONE {
                return;
            }
            let (l, r) = (syms[left as usize], syms[right as usize]);
            let s = &bytes[l.start as usize..(l.start + l.len + r.len) as usize];
            if let Some(id) = self.token_id(s) {
                heap.push(Bigram {
                    score: ordered(self.scores[id as usize]),
                    left: Reverse(left),
                    right,
                    size: s.len() as u32,
                });
            }
        };
        for i in 1..syms.len() as u32 {
            try_add(&syms, &mut heap, i - 1, i);
        }
        while let Some(b) = heap.pop() {
            let (left, right) = (b.left.0, b.right);
            let (l, r) = (syms[left as usize], syms[right as usize]);
            if l.len == 0 || r.len == 0 || l.len + r.len != b.size {
                continue;
            }
            syms[left as usize].len += r.len;
            syms[right as usize].len = 0;
            syms[left as usize].next = r.next;
            if r.next != NONE {
                syms[r.next as usize].prev = left;
            }
            try_add(&syms, &mut heap, l.prev, left);
            try_add(&syms, &mut heap, left, r.next);
        }
        let mut i = 0;
        while i != NONE {
            let s = syms[i as usize];
            let piece = &bytes[s.start as usize..(s.start + s.len) as usize];
            match self.token_id(piece) {
                Some(id) => out.push(id),
                None => out.extend(piece.iter().filter_map(|&b| self.byte_tokens[b as usize])),
            }
            i = s.next;
        }
    }
}
