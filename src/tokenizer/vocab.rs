//! Loading a tokenizer from a GGUF's `tokenizer.ggml.*` metadata, with llama.cpp's defaults and
//! fix-ups (`llama_vocab::impl::load`).

use super::bpe::{pair_key, PairMap};
use super::chat::ChatTemplate;
use super::pretok::PreTokenizer;
use super::strtab::StrTable;
use super::unicode::BYTE_TO_CHAR;
use super::{attr, Tokenizer, TokenizerError, VocabKind};
use crate::gguf::{Array, Gguf, Value};

const TOKENS: &str = "tokenizer.ggml.tokens";
const TYPES: &str = "tokenizer.ggml.token_type";
const SCORES: &str = "tokenizer.ggml.scores";
const MERGES: &str = "tokenizer.ggml.merges";

/// Texts llama.cpp treats as end-of-generation markers; a token with one of these texts is made a
/// control token even if the file says otherwise (so `parse_special` splits it out).
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "<|end_of_text|>",
    "<end_of_utterance>",
];

/// Texts llama.cpp also forces to control type (fill-in-the-middle markers).
const FIM_TEXTS: &[&str] = &[
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<PRE>",
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<SUF>",
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<MID>",
    "<|fim_pad|>",
    "<fim-pad>",
    "<fim_pad>",
    "<PAD>",
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
    "<|file_sep|>",
];

fn token_type_to_attr(t: i64) -> u8 {
    match t {
        1 => attr::NORMAL,
        2 => attr::UNKNOWN,
        3 => attr::CONTROL,
        4 => attr::USER_DEFINED,
        5 => attr::UNUSED,
        6 => attr::BYTE,
        _ => 0,
    }
}

/// A required array of strings: missing and wrongly typed are different errors.
fn string_array<'a>(g: &'a Gguf, key: &'static str) -> Result<&'a [String], TokenizerError> {
    g.get(key)
        .ok_or(TokenizerError::MissingKey(key))?
        .as_array()
        .and_then(Array::as_strings)
        .ok_or(TokenizerError::WrongType {
            key,
            expected: "array of strings",
        })
}

fn special_id(g: &Gguf, name: &str, default: Option<u32>, n: usize) -> Option<u32> {
    // llama.cpp ignores (with a warning) ids outside the vocabulary.
    let default = default.filter(|&d| (d as usize) < n);
    match g.get_u64(&format!("tokenizer.ggml.{name}_token_id")) {
        Some(id) if (id as usize) < n => Some(id as u32),
        _ => default,
    }
}

impl Tokenizer {
    /// Builds the tokenizer of a GGUF file from its metadata (no tensor data is needed, so a
    /// header-only parse is enough).
    pub fn from_gguf(g: &Gguf) -> Result<Tokenizer, TokenizerError> {
        let model = g
            .get_str("tokenizer.ggml.model")
            .ok_or(TokenizerError::MissingKey("tokenizer.ggml.model"))?;
        let kind = match model {
            "gpt2" => VocabKind::Bpe,
            "llama" => VocabKind::Spm,
            other => return Err(TokenizerError::UnknownModel(other.to_string())),
        };
        let tokens = string_array(g, TOKENS)?;
        let n = tokens.len();
        let total: usize = tokens.iter().map(|t| t.len().max(16)).sum();
        if total >= u32::MAX as usize / 2 || n >= u32::MAX as usize / 2 {
            return Err(TokenizerError::TooLarge);
        }

        let mut strs = StrTable::with_capacity(n + n / 4, total);
        for (i, t) in tokens.iter().enumerate() {
            let (id, new) = if t.is_empty() {
                strs.intern(format!("[EMPTY_{i}]").as_bytes())
            } else {
                strs.intern(t.as_bytes())
            };
            if !new {
                return Err(TokenizerError::DuplicateToken {
                    id: i as u32,
                    first: id,
                    text: t.clone(),
                });
            }
        }

        let mut attrs = vec![attr::NORMAL; n];
        if let Some(v) = g.get(TYPES) {
            let types = v
                .as_array()
                .and_then(Array::to_i64s)
                .ok_or(TokenizerError::WrongType {
                    key: TYPES,
                    expected: "array of integers",
                })?;
            if types.len() < n {
                return Err(TokenizerError::TooShort {
                    key: TYPES,
                    len: types.len(),
                    need: n,
                });
            }
            for (a, &t) in attrs.iter_mut().zip(&types) {
                *a = token_type_to_attr(t);
            }
        }
        let mut scores = vec![0f32; n];
        if let Some(v) = g.get(SCORES) {
            let s: Vec<f32> = match v.as_array() {
                Some(Array::F32(s)) => s.clone(),
                Some(Array::I32(s)) => s.iter().map(|&x| x as f32).collect(),
                _ => {
                    return Err(TokenizerError::WrongType {
                        key: SCORES,
                        expected: "array of f32 or i32",
                    })
                }
            };
            if s.len() < n {
                return Err(TokenizerError::TooShort {
                    key: SCORES,
                    len: s.len(),
                    need: n,
                });
            }
            scores.copy_from_slice(&s[..n]);
        }

        let pre_name = g.get_str("tokenizer.ggml.pre");
        let (pre, default_bos, default_eos) = match kind {
            VocabKind::Bpe => {
                let pre = PreTokenizer::from_name(pre_name).ok_or_else(|| {
                    TokenizerError::UnknownPre(pre_name.unwrap_or("").to_string())
                })?;
                (pre, Some(11), Some(11))
            }
            VocabKind::Spm => (PreTokenizer::Default, Some(1), Some(2)),
        };
        let get_bool = |key: &str| g.get(key).and_then(Value::as_bool);
        let add_bos = get_bool("tokenizer.ggml.add_bos_token")
            .unwrap_or(kind == VocabKind::Spm || pre == PreTokenizer::Llama3);
        let add_eos = get_bool("tokenizer.ggml.add_eos_token").unwrap_or(false);
        let add_space_prefix =
            get_bool("tokenizer.ggml.add_space_prefix").unwrap_or(kind == VocabKind::Spm);

        // BPE merges: "left right" split at the first space after the first byte; the first
        // occurrence of a pair keeps its rank.
        let mut merges = PairMap::default();
        let mut byte_sym = [0u32; 256];
        if kind == VocabKind::Bpe {
            let list = string_array(g, MERGES)?;
            merges.reserve(list.len());
            let mut joined = Vec::new();
            for (rank, m) in list.iter().enumerate() {
                // Byte search: the first character may be multi-byte (e.g. "Ġ t").
                let m = m.as_bytes();
                let Some(sp) = m.iter().skip(1).position(|&b| b == b' ').map(|p| p + 1) else {
                    continue;
                };
                let (left, right) = (&m[..sp], &m[sp + 1..]);
                let l = strs.intern(left).0;
                let r = strs.intern(right).0;
                joined.clear();
                joined.extend_from_slice(left);
                joined.extend_from_slice(right);
                let j = strs.intern(&joined).0;
                merges.entry(pair_key(l, r)).or_insert((rank as u32, j));
            }
            let mut utf8 = [0u8; 4];
            for (b, sym) in byte_sym.iter_mut().enumerate() {
                *sym = strs
                    .intern(BYTE_TO_CHAR[b].encode_utf8(&mut utf8).as_bytes())
                    .0;
            }
        }

        let mut tok = Tokenizer {
            kind,
            pre,
            ignore_merges: kind == VocabKind::Bpe && pre.ignores_merges(),
            n_tokens: n,
            strs,
            attrs,
            scores,
            merges,
            byte_sym,
            byte_tokens: [None; 256],
            specials: Vec::new(),
            bos: special_id(g, "bos", default_bos, n),
            eos: special_id(g, "eos", default_eos, n),
            eot: special_id(g, "eot", None, n),
            eog: Vec::new(),
            add_bos,
            add_eos,
            add_space_prefix,
            chat: ChatTemplate::from_gguf(g),
        };
        if add_bos && tok.bos.is_none() {
            return Err(TokenizerError::NoBos);
        }
        if kind == VocabKind::Spm {
            for b in 0..256usize {
                let hex = format!("<0x{b:02X}>");
                tok.byte_tokens[b] = tok
                    .token_id(hex.as_bytes())
                    .or_else(|| tok.token_id(&[b as u8]));
            }
        }
        tok.fix_up_specials(g);
        Ok(tok)
    }

    /// llama.cpp's text-based fix-ups: end markers and FIM markers become control tokens, the EOT
    /// token is found by text when the file does not name it, and the EOG set is collected.
    fn fix_up_specials(&mut self, g: &Gguf) {
        let eom = special_id(g, "eom", None, self.n_tokens);
        for &text in EOG_TEXTS.iter().chain(FIM_TEXTS) {
            if let Some(id) = self.token_id(text.as_bytes()) {
                self.attrs[id as usize] |= attr::CONTROL;
                if EOG_TEXTS.contains(&text) {
                    self.eog.push(id);
                    if self.eot.is_none() && text != "<|eom_id|>" {
                        self.eot = Some(id);
                    }
                }
            }
        }
        self.eog
            .extend(self.eos.iter().chain(self.eot.iter()).chain(eom.iter()));
        self.eog.sort_unstable();
        self.eog.dedup();

        let mut specials: Vec<u32> = (0..self.n_tokens as u32)
            .filter(|&id| {
                self.attrs[id as usize] & (attr::CONTROL | attr::USER_DEFINED | attr::UNKNOWN) != 0
            })
            .collect();
        specials.sort_by_key(|&id| std::cmp::Reverse(self.strs.get_str(id).len()));
        self.specials = specials;
    }
}

/// A vocabulary-only GGUF: the file's `general.architecture`/`general.name` and every
/// `tokenizer.*` key, no tensors. llama.cpp loads such a file with `vocab_only`, and it is all
/// `Tokenizer::from_gguf` needs, so tests can carry a real vocabulary without its weights.
pub fn vocab_only_gguf(g: &Gguf) -> Vec<u8> {
    let md: Vec<(String, Value)> = g
        .metadata
        .iter()
        .filter(|e| {
            e.key == "general.architecture"
                || e.key == "general.name"
                || e.key.starts_with("tokenizer.")
        })
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    crate::gguf::to_bytes(&md, &[])
}
