//! Load-time corrections of norm vectors: an ordered pipeline whose last step is the
//! experimental gamma rescale, and the records that say what each step did.
//!
//! The rescale multiplies a norm gamma by sqrt(n), n being the tensor's last dimension
//! (2560 for `attn_norm` in 2B-4T, 6912 for `ffn_sub_norm`). It runs after every other
//! load-time correction, on their output, never instead of them; and it runs at most once per
//! tensor: a file exported with the rescale records which tensors already carry it.

use serde::Serialize;

use super::detect::is_layernorm_weight;
use super::error::NormError;
use super::export::KEY_TENSORS;
use super::policy::RescalePolicy;
use super::stats::rms;
use super::values::decode_norm;
use crate::gguf::{Gguf, TensorInfo};

/// What one correction did to one tensor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CorrectionRecord {
    pub name: String,
    /// The dimension the factor comes from.
    pub n: u64,
    pub factor: f64,
    pub rms_before: f64,
    pub rms_after: f64,
    pub reason: String,
}

/// One load-time correction of a norm vector.
pub trait LoadCorrection {
    /// Corrects `values` of tensor `name` in place; returns a record when it changed them.
    fn apply(&self, name: &str, dims: &[u64], values: &mut [f32]) -> Option<CorrectionRecord>;
}

/// sqrt(n): the rescale factor for a norm of `n` elements.
pub fn rescale_factor(n: u64) -> f64 {
    (n as f64).sqrt()
}

/// The experimental rescale: gamma' = gamma * sqrt(n), each element rounded once to f32 from
/// the f64 product.
#[derive(Clone, Debug)]
pub struct GammaRescale {
    pub reason: String,
}

impl GammaRescale {
    pub fn new(policy: &RescalePolicy) -> GammaRescale {
        GammaRescale {
            reason: format!("experimental gamma rescale by sqrt(n) ({})", policy.source),
        }
    }
}

impl LoadCorrection for GammaRescale {
    fn apply(&self, name: &str, dims: &[u64], values: &mut [f32]) -> Option<CorrectionRecord> {
        if !is_layernorm_weight(name, dims) {
            return None;
        }
        let n = *dims.last()?;
        let factor = rescale_factor(n);
        let before = rms(values);
        log::info!(
            "EXPERIMENTAL: Rescaling '{name}' gamma by √{n} = {factor:.2}× (RMS {before:.6} → expected {:.6})",
            before * factor
        );
        for v in values.iter_mut() {
            *v = (*v as f64 * factor) as f32;
        }
        let after = rms(values);
        log::info!(
            "EXPERIMENTAL: Rescaled '{name}': RMS {before:.6} → {after:.6} (factor: {factor:.2}×)"
        );
        Some(CorrectionRecord {
            name: name.to_string(),
            n,
            factor,
            rms_before: before,
            rms_after: after,
            reason: self.reason.clone(),
        })
    }
}

/// The load-time corrections in the order they run. The gamma rescale, when the policy applies
/// it, is always last.
#[derive(Default)]
pub struct CorrectionPipeline {
    steps: Vec<Box<dyn LoadCorrection>>,
    rescale: Option<GammaRescale>,
    /// Tensors that already carry the rescale (listed in the file's metadata).
    already_rescaled: Vec<String>,
}

impl CorrectionPipeline {
    /// The corrections for loading norms of `gguf` under `policy`.
    pub fn new(gguf: &Gguf, policy: &RescalePolicy) -> CorrectionPipeline {
        CorrectionPipeline::with_steps(gguf, policy, Vec::new())
    }

    /// `earlier` corrections in order, then the rescale if the policy applies it.
    pub fn with_steps(
        gguf: &Gguf,
        policy: &RescalePolicy,
        earlier: Vec<Box<dyn LoadCorrection>>,
    ) -> CorrectionPipeline {
        let already_rescaled = gguf
            .get_array(KEY_TENSORS)
            .and_then(|a| a.as_strings())
            .map(<[String]>::to_vec)
            .unwrap_or_default();
        CorrectionPipeline {
            steps: earlier,
            rescale: policy.applies().then(|| GammaRescale::new(policy)),
            already_rescaled,
        }
    }

    /// Runs every step on `values`, appending their records to `records`.
    pub fn run(
        &self,
        name: &str,
        dims: &[u64],
        values: &mut [f32],
        records: &mut Vec<CorrectionRecord>,
    ) {
        for step in &self.steps {
            records.extend(step.apply(name, dims, values));
        }
        if let Some(r) = &self.rescale {
            if self.already_rescaled.iter().any(|t| t == name) {
                log::warn!(
                    "'{name}' was already rescaled when this file was exported ({KEY_TENSORS}); not rescaling it again"
                );
                return;
            }
            records.extend(r.apply(name, dims, values));
        }
    }
}

/// The values of norm `tensor_name` as the model should use them: read as f32 and passed
/// through the load-time corrections that `policy` selects. Records go to `records`.
pub fn load_norm(
    gguf: &Gguf,
    file: &[u8],
    tensor_name: &str,
    policy: &RescalePolicy,
    records: &mut Vec<CorrectionRecord>,
) -> Result<Vec<f32>, NormError> {
    load_norm_with(
        gguf,
        file,
        tensor_name,
        &CorrectionPipeline::new(gguf, policy),
        records,
    )
}

/// `load_norm` with an explicit pipeline (build it once per model load).
pub fn load_norm_with(
    gguf: &Gguf,
    file: &[u8],
    tensor_name: &str,
    pipeline: &CorrectionPipeline,
    records: &mut Vec<CorrectionRecord>,
) -> Result<Vec<f32>, NormError> {
    let t = gguf
        .tensor(tensor_name)
        .ok_or_else(|| NormError::NoSuchTensor {
            tensor: tensor_name.to_string(),
        })?;
    correct_norm(t, gguf.tensor_data(file, t)?, pipeline, records)
}

/// The values of norm tensor `t`, whose data is `bytes`, after the pipeline's corrections.
pub fn correct_norm(
    t: &TensorInfo,
    bytes: &[u8],
    pipeline: &CorrectionPipeline,
    records: &mut Vec<CorrectionRecord>,
) -> Result<Vec<f32>, NormError> {
    if !is_layernorm_weight(&t.name, &t.dims) {
        return Err(NormError::NotANorm {
            tensor: t.name.clone(),
            dims: t.dims.clone(),
        });
    }
    let mut values = decode_norm(t, bytes)?.values;
    pipeline.run(&t.name, &t.dims, &mut values, records);
    Ok(values)
}
