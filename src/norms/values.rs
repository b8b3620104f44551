//! A norm tensor's values as f32.
//!
//! Norms are F32 in every BitNet file we know; F16 and BF16 convert exactly. A norm stored
//! quantized is dequantized too, and flagged: its gammas are no longer the trained values.

use super::error::NormError;
use crate::gguf::{Gguf, TensorInfo};
use crate::quant::dequant::{can_dequantize, dequantize_rows};
use crate::quant::GgmlType;

/// Largest norm vector we accept: far above any hidden size, far below wasm32 memory.
pub const MAX_NORM_ELEMENTS: u64 = 1 << 24;

/// The values of a norm tensor and whether they were stored quantized.
#[derive(Clone, Debug, PartialEq)]
pub struct NormValues {
    pub values: Vec<f32>,
    pub quantized: bool,
}

/// Reads tensor `t` of `file` (the file from its start) as f32 values.
pub fn norm_values(gguf: &Gguf, file: &[u8], t: &TensorInfo) -> Result<NormValues, NormError> {
    decode_norm(t, gguf.tensor_data(file, t)?)
}

/// Decodes `bytes`, the data of tensor `t` (read from wherever the file is), as f32 values.
pub fn decode_norm(t: &TensorInfo, bytes: &[u8]) -> Result<NormValues, NormError> {
    check_norm_size(t)?;
    let quantized = is_quantized(t.ggml_type);
    if !can_dequantize(t.ggml_type) {
        return Err(NormError::UnsupportedType {
            tensor: t.name.clone(),
            type_name: t.ggml_type.name(),
        });
    }
    let mut values = vec![0f32; t.n_elements as usize];
    if t.n_elements > 0 {
        let rows = 0..t.n_rows() as usize;
        dequantize_rows(t.ggml_type, bytes, t.ne0() as usize, rows, &mut values).map_err(|e| {
            NormError::Dequant {
                tensor: t.name.clone(),
                detail: e.to_string(),
            }
        })?;
    }
    Ok(NormValues { values, quantized })
}

/// Refuses a "norm" larger than any real one before its bytes are read or allocated.
pub fn check_norm_size(t: &TensorInfo) -> Result<(), NormError> {
    if t.n_elements > MAX_NORM_ELEMENTS {
        return Err(NormError::TooLarge {
            tensor: t.name.clone(),
            n_elements: t.n_elements,
        });
    }
    Ok(())
}

/// True for storage types that lose information compared with F32/F16/BF16.
pub fn is_quantized(t: GgmlType) -> bool {
    !matches!(t, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16)
}

/// Little-endian F32 bytes of `values`: how corrected norms are stored in an export.
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}
