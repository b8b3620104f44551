//! A norm tensor's values as f32.
//!
//! Norms are F32 in every BitNet file we know; F16 and BF16 are converted exactly. A norm stored
//! quantized is flagged, because its gammas are no longer the trained values.

use half::{bf16, f16};

use super::error::NormError;
use crate::gguf::{Gguf, TensorInfo};
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
    if t.n_elements > MAX_NORM_ELEMENTS {
        return Err(NormError::TooLarge {
            tensor: t.name.clone(),
            n_elements: t.n_elements,
        });
    }
    let bytes = gguf.tensor_data(file, t)?;
    let values = match t.ggml_type {
        GgmlType::F32 => decode::<4>(bytes, f32::from_le_bytes),
        GgmlType::F16 => decode::<2>(bytes, |b| f16::from_le_bytes(b).to_f32()),
        GgmlType::BF16 => decode::<2>(bytes, |b| bf16::from_le_bytes(b).to_f32()),
        other => {
            return Err(NormError::UnsupportedType {
                tensor: t.name.clone(),
                type_name: other.name(),
            })
        }
    };
    Ok(NormValues {
        values,
        quantized: false,
    })
}

/// True for storage types that lose information compared with F32/F16/BF16.
pub fn is_quantized(t: GgmlType) -> bool {
    !matches!(t, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16)
}

fn decode<const N: usize>(bytes: &[u8], conv: impl Fn([u8; N]) -> f32) -> Vec<f32> {
    bytes
        .chunks_exact(N)
        .map(|c| conv(c.try_into().expect("chunks_exact gives N bytes")))
        .collect()
}

/// Little-endian F32 bytes of `values`: how corrected norms are stored in an export.
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}
