//! Byte-level BPE over one pre-tokenized piece (llama.cpp's `llm_tokenizer_bpe_session`).
//!
//! Symbols start as one GPT-2 character per byte and live in a doubly linked list; candidate
//! merges of adjacent symbols sit in a min-heap keyed by (rank, left index), so the lowest rank
//! merges first and ties go to the leftmost pair. A heap entry is stale when its pair has changed
//! since it was pushed; it is then skipped. Each merge is O(log n), so a 100 KB piece with no
//! spaces is fine (rescanning all pairs after every merge would be quadratic).

use super::unicode::BYTE_TO_CHAR;
use super::Tokenizer;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Sym {
    /// Interned string id of this symbol's (GPT-2 encoded) text.
    id: u32,
    prev: u32,
    next: u32,
}

/// Reusable buffers, so encoding many pieces does not allocate per piece.
#[derive(Default)]
pub(crate) struct BpeScratch {
    syms: Vec<Sym>,
    heap: BinaryHeap<Reverse<u64>>,
    encoded: String,
}

impl Tokenizer {
    fn merge_of(&self, left: u32, right: u32) -> Option<(u32, u32)> {
        self.merges.get(&pair_key(left, right)).copied()
    }

    fn push_pair(&self, s: &mut BpeScratch, left: u32) {
        let right = s.syms[left as usize].next;
        if right == NONE {
            return;
        }
        if let Some((rank, _)) = self.merge_of(s.syms[left as usize].id, s.syms[right as usize].id)
        {
            s.heap.push(Reverse(((rank as u64) << 32) | left as u64));
        }
    }

    /// Appends the tokens of one piece (raw bytes of the text) to `out`.
    pub(crate) fn bpe_piece(&self, piece: &[u8], s: &mut BpeScratch, out: &mut Vec<u32>) {
        if self.ignore_merges {
            s.encoded.clear();
            s.encoded
                .extend(piece.iter().map(|&b| BYTE_TO_CHAR[b as usize]));
            if let Some(id) = self.token_id(s.encoded.as_bytes()) {
                out.push(id);
                return;
            }
        }
        s.syms.clear();
        s.heap.clear();
        let n = piece.len() as u32;
        for (i, &b) in piece.iter().enumerate() {
            let i = i as u32;
            s.syms.push(Sym {
                id: self.byte_sym[b as usize],
                prev: if i == 0 { NONE } else { i - 1 },
                next: if i + 1 == n { NONE } else { i + 1 },
            });
        }
        for i in 0..n.saturating_sub(1) {
            self.push_pair(s, i);
        }
        while let Some(Reverse(key)) = s.heap.pop() {
            let rank = (key >> 32) as u32;
            let left = key as u32;
            let l = s.syms[left as usize];
            if l.id == NONE || l.next == NONE {
                continue;
            }
            let r = s.syms[l.next as usize];
            let Some((cur_rank, merged)) = self.merge_of(l.id, r.id) else {
                continue;
            };
            if cur_rank != rank {
                continue; // stale: this pair changed since the entry was pushed
            }
            s.syms[left as usize].id = merged;
            s.syms[left as usize].next = r.next;
            s.syms[l.next as usize].id = NONE;
            if r.next != NONE {
                s.syms[r.next as usize].prev = left;
            }
            if l.prev != NONE {
                self.push_pair(s, l.prev);
            }
            self.push_pair(s, left);
        }
        let mut i = if n == 0 { NONE } else { 0 };
        while i != NONE {
            let sym = s.syms[i as usize];
            if (sym.id as usize) < self.n_tokens {
                out.push(sym.id);
            } else {
                // A merge produced a string that is not a token: llama.cpp falls back to the
                // single-byte strings of its encoded text, dropping those that are not tokens.
                for &b in self.strs.get_str(sym.id) {
                    if let Some(t) = self.token_id(&[b]) {
                        out.push(t);
                    }
                }
            }
            i = sym.next;
        }
    }
}

pub(crate) fn pair_key(left: u32, right: u32) -> u64 {
    ((left as u64) << 32) | right as u64
}

/// Hasher for `pair_key`s: one multiply-xorshift, much cheaper than SipHash for 280k merges.
#[derive(Default, Clone, Copy)]
pub(crate) struct PairHasher(u64);

impl std::hash::Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, x: u64) {
        let h = (self.0 ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

pub(crate) type PairMap =
    std::collections::HashMap<u64, (u32, u32), std::hash::BuildHasherDefault<PairHasher>>;
