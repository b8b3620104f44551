//! What can go wrong while reading, correcting or exporting norm tensors.

use std::fmt;

use crate::gguf::GgufError;

#[derive(Clone, Debug, PartialEq)]
pub enum NormError {
    Gguf(GgufError),
    NoSuchTensor {
        tensor: String,
    },
    /// `load_norm` was asked for a tensor that is not a 1-D `*norm.weight`.
    NotANorm {
        tensor: String,
        dims: Vec<u64>,
    },
    /// A (quantized) storage type we cannot turn into f32 values.
    UnsupportedType {
        tensor: String,
        type_name: &'static str,
    },
    /// The bytes do not decode as the declared type.
    Dequant {
        tensor: String,
        detail: String,
    },
    /// Reading the tensor's bytes failed (native file I/O).
    Read {
        tensor: String,
        detail: String,
    },
    /// A 1-D tensor too large to hold as f32 values on this target.
    TooLarge {
        tensor: String,
        n_elements: u64,
    },
}

impl fmt::Display for NormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NormError::Gguf(e) => write!(f, "{e}"),
            NormError::NoSuchTensor { tensor } => write!(f, "no tensor named '{tensor}'"),
            NormError::NotANorm { tensor, dims } => write!(
                f,
                "tensor '{tensor}' {dims:?} is not a 1-D norm weight (*norm.weight)"
            ),
            NormError::UnsupportedType { tensor, type_name } => write!(
                f,
                "tensor '{tensor}': norm weights stored as {type_name} cannot be read; \
                 quantized norm weights; regenerate the GGUF with F32 norms"
            ),
            NormError::Dequant { tensor, detail } => write!(f, "tensor '{tensor}': {detail}"),
            NormError::Read { tensor, detail } => {
                write!(f, "tensor '{tensor}': reading its data: {detail}")
            }
            NormError::TooLarge { tensor, n_elements } => write!(
                f,
                "tensor '{tensor}': {n_elements} elements is too many for a norm vector"
            ),
        }
    }
}

impl std::error::Error for NormError {}

impl From<GgufError> for NormError {
    fn from(e: GgufError) -> Self {
        NormError::Gguf(e)
    }
}
