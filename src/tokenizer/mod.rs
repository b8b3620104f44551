//! The GGUF tokenizers, token for token identical to llama.cpp's `llama_tokenize` (and to
//! bitnet.cpp's fork of it): byte-level BPE (`tokenizer.ggml.model = "gpt2"`) with the
//! pre-tokenizers in `pretok`, and SentencePiece (`"llama"`) with byte fallback.
//!
//! `encode(text, add_special, parse_special)` is `llama_tokenize(add_special, parse_special)`:
//! special tokens are split out of the text first (control tokens only when `parse_special`),
//! each remaining fragment is pre-tokenized and merged, and BOS is prepended when `add_special`
//! and the vocabulary's `add_bos_token` say so.

mod bpe;
mod chat;
mod decode;
mod error;
mod pretok;
mod special;
mod spm;
mod strtab;
mod unicode;
mod vocab;

pub use chat::{ChatMessage, ChatTemplate};
pub use decode::StreamDecoder;
pub use error::TokenizerError;
pub use pretok::PreTokenizer;
pub use vocab::vocab_only_gguf;

use bpe::{BpeScratch, PairMap};
use special::Fragment;
use strtab::StrTable;

/// Token attributes (llama.cpp's `llama_token_attr` bits, from `tokenizer.ggml.token_type`).
pub mod attr {
    pub const NORMAL: u8 = 1;
    pub const UNKNOWN: u8 = 2;
    pub const CONTROL: u8 = 4;
    pub const USER_DEFINED: u8 = 8;
    pub const UNUSED: u8 = 16;
    pub const BYTE: u8 = 32;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VocabKind {
    /// `gpt2`: byte-level BPE.
    Bpe,
    /// `llama`: SentencePiece.
    Spm,
}

pub struct Tokenizer {
    kind: VocabKind,
    /// Pre-tokenizer (BPE only).
    pre: PreTokenizer,
    ignore_merges: bool,
    n_tokens: usize,
    /// Ids 0..n_tokens are the token texts; later ids are merge parts/results that are not tokens.
    strs: StrTable,
    attrs: Vec<u8>,
    scores: Vec<f32>,
    /// BPE: (left id, right id) -> (rank, merged id).
    merges: PairMap,
    /// BPE: interned id of each byte's GPT-2 character.
    byte_sym: [u32; 256],
    /// SPM: the `<0xNN>` token of each byte.
    byte_tokens: [Option<u32>; 256],
    /// Tokens split out of the text before anything else, longest text first.
    specials: Vec<u32>,
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    eog: Vec<u32>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    /// The file's chat prompt layout (`--chat`, the page's chat checkbox).
    pub chat: ChatTemplate,
}

impl Tokenizer {
    pub fn kind(&self) -> VocabKind {
        self.kind
    }
    pub fn pre_tokenizer(&self) -> PreTokenizer {
        self.pre
    }
    pub fn n_vocab(&self) -> usize {
        self.n_tokens
    }
    pub fn bos(&self) -> Option<u32> {
        self.bos
    }
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }
    pub fn eot(&self) -> Option<u32> {
        self.eot
    }
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }
    /// End-of-generation tokens (EOS, EOT and the other end markers llama.cpp recognizes).
    pub fn eog_ids(&self) -> &[u32] {
        &self.eog
    }
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.contains(&id)
    }
    /// The token's text as stored in the vocabulary (GPT-2 encoded for BPE).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        ((id as usize) < self.n_tokens)
            .then(|| std::str::from_utf8(self.strs.get_str(id)).unwrap_or(""))
    }
    pub fn token_attr(&self, id: u32) -> Option<u8> {
        self.attrs.get(id as usize).copied()
    }

    /// The id of a token text, if it is a token.
    pub fn token_id(&self, text: &[u8]) -> Option<u32> {
        self.strs
            .find(text)
            .filter(|&id| (id as usize) < self.n_tokens)
    }

    /// The token standing for one raw byte, if the vocabulary has one (BPE: the byte's GPT-2
    /// character; SPM: `<0xNN>`). Text containing a byte without one cannot round-trip: llama.cpp
    /// drops such bytes, and so do we.
    pub fn byte_token(&self, b: u8) -> Option<u32> {
        match self.kind {
            VocabKind::Bpe => {
                Some(self.byte_sym[b as usize]).filter(|&id| (id as usize) < self.n_tokens)
            }
            VocabKind::Spm => self.byte_tokens[b as usize],
        }
    }

    /// `llama_tokenize(text, add_special, parse_special)`.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_special && self.add_bos {
            if let Some(bos) = self.bos {
                out.push(bos);
            }
        }
        let fragments = self.split_specials(text, parse_special);
        match self.kind {
            VocabKind::Bpe => {
                let mut scratch = BpeScratch::default();
                for f in fragments {
                    match f {
                        Fragment::Token(id) => out.push(id),
                        Fragment::Text(t) => {
                            for r in pretok::split(t, self.pre) {
                                self.bpe_piece(&t.as_bytes()[r], &mut scratch, &mut out);
                            }
                        }
                    }
                }
            }
            VocabKind::Spm => {
                // A space is prefixed to the text at the start and after every special token.
                let mut prev_special = true;
                let mut buf = String::new();
                for f in fragments {
                    match f {
                        Fragment::Token(id) => {
                            out.push(id);
                            prev_special = true;
                        }
                        Fragment::Text(t) => {
                            buf.clear();
                            if self.add_space_prefix && prev_special {
                                buf.push('\u{2581}');
                            }
                            for c in t.chars() {
                                buf.push(if c == ' ' { '\u{2581}' } else { c });
                            }
                            self.spm_fragment(&buf, &mut out);
                            prev_special = false;
                        }
                    }
                }
            }
        }
        if add_special && self.add_eos {
            if let Some(eos) = self.eos {
                out.push(eos);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
