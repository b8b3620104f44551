//! Load and run errors. Each names the metadata key or tensor at fault.

use crate::gguf::GgufError;

#[derive(Debug, Clone, PartialEq)]
pub enum ModelError {
    Gguf(GgufError),
    UnsupportedArch {
        arch: String,
    },
    MissingKey {
        key: String,
    },
    BadKey {
        key: String,
        detail: String,
    },
    MissingTensor {
        tensor: String,
    },
    BadShape {
        tensor: String,
        expected: Vec<u64>,
        found: Vec<u64>,
    },
    UnsupportedType {
        tensor: String,
        type_name: String,
        role: String,
    },
    BadTensor {
        tensor: String,
        detail: String,
    },
    TooLarge {
        what: String,
    },
    BadToken {
        token: u32,
        vocab: usize,
    },
    ContextFull {
        pos: usize,
        n_ctx: usize,
    },
    /// A context length that cannot be allocated.
    BadContext {
        n_ctx: usize,
        detail: String,
    },
    /// A prompt that does not fit in the context (after the `before` tokens already in it).
    PromptTooLong {
        tokens: usize,
        before: usize,
        n_ctx: usize,
    },
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::Gguf(e) => write!(f, "{e}"),
            ModelError::UnsupportedArch { arch } => write!(
                f,
                "architecture '{arch}' is not supported (supported: bitnet-b1.58, bitnet-25, bitnet, llama)"
            ),
            ModelError::MissingKey { key } => write!(f, "metadata key '{key}' is missing"),
            ModelError::BadKey { key, detail } => write!(f, "metadata key '{key}': {detail}"),
            ModelError::MissingTensor { tensor } => write!(f, "tensor '{tensor}' is missing"),
            ModelError::BadShape {
                tensor,
                expected,
                found,
            } => write!(
                f,
                "tensor '{tensor}' has shape {found:?}, the metadata implies {expected:?}"
            ),
            ModelError::UnsupportedType {
                tensor,
                type_name,
                role,
            } => write!(
                f,
                "tensor '{tensor}' has type {type_name}, which is not supported as {role}"
            ),
            ModelError::BadTensor { tensor, detail } => write!(f, "tensor '{tensor}': {detail}"),
            ModelError::TooLarge { what } => write!(f, "{what} is too large"),
            ModelError::BadToken { token, vocab } => {
                write!(f, "token id {token} is outside the vocabulary of {vocab}")
            }
            ModelError::ContextFull { pos, n_ctx } => {
                write!(f, "position {pos} is past the context length {n_ctx}")
            }
            ModelError::BadContext { n_ctx, detail } => {
                write!(f, "a context of {n_ctx} positions cannot be used: {detail}")
            }
            ModelError::PromptTooLong {
                tokens,
                before: 0,
                n_ctx,
            } => write!(
                f,
                "the prompt has {tokens} tokens, more than the context of {n_ctx}"
            ),
            ModelError::PromptTooLong {
                tokens,
                before,
                n_ctx,
            } => write!(
                f,
                "the prompt has {tokens} tokens; after the {before} already in the context of \
                 {n_ctx} they do not fit"
            ),
        }
    }
}

impl std::error::Error for ModelError {}

impl From<GgufError> for ModelError {
    fn from(e: GgufError) -> Self {
        ModelError::Gguf(e)
    }
}
