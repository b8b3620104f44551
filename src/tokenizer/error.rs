use std::fmt;

/// Why a vocabulary could not be loaded or a token id not decoded.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenizerError {
    MissingKey(&'static str),
    /// A key holds the wrong type (e.g. token_type not an integer array).
    WrongType {
        key: &'static str,
        expected: &'static str,
    },
    /// An array is shorter than the token list.
    TooShort {
        key: &'static str,
        len: usize,
        need: usize,
    },
    UnknownModel(String),
    /// A `tokenizer.ggml.pre` llama.cpp knows but this crate does not implement (or nobody knows).
    UnknownPre(String),
    /// Two tokens with the same text (llama.cpp refuses such a vocabulary too).
    DuplicateToken {
        id: u32,
        first: u32,
        text: String,
    },
    /// The vocabulary's strings exceed what the tables index (4 GiB).
    TooLarge,
    /// `add_bos_token` is set but the BOS id is missing or out of range.
    NoBos,
    UnknownTokenId {
        id: u32,
        n_vocab: usize,
    },
}

impl fmt::Display for TokenizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenizerError::MissingKey(k) => write!(f, "missing metadata key {k}"),
            TokenizerError::WrongType { key, expected } => {
                write!(f, "metadata key {key}: expected {expected}")
            }
            TokenizerError::TooShort { key, len, need } => {
                write!(
                    f,
                    "metadata key {key}: {len} entries, the vocabulary has {need} tokens"
                )
            }
            TokenizerError::UnknownModel(m) => write!(
                f,
                "tokenizer.ggml.model '{m}' is not supported (gpt2, llama)"
            ),
            TokenizerError::UnknownPre(p) => write!(f, "tokenizer.ggml.pre '{p}' is not supported"),
            TokenizerError::DuplicateToken { id, first, text } => {
                write!(f, "tokenizer.ggml.tokens: token {id} repeats the text of token {first} ({text:?})")
            }
            TokenizerError::TooLarge => write!(f, "tokenizer strings exceed 4 GiB"),
            TokenizerError::NoBos => {
                write!(f, "add_bos_token is set but there is no valid BOS token id")
            }
            TokenizerError::UnknownTokenId { id, n_vocab } => {
                write!(f, "token id {id} is not in the vocabulary of {n_vocab}")
            }
        }
    }
}

impl std::error::Error for TokenizerError {}
