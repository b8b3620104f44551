//! A corrected GGUF: every tensor byte-identical to the input except the rescaled norms, which
//! are written as F32, plus metadata that records the rule and each tensor's factor.
//!
//! The export is a plan over slices: the header is built in memory, original tensors are
//! written straight from the input file's bytes, and only the corrected norm vectors are new
//! bytes. Natively `write_export` streams it; in the browser the same plan becomes a Blob of
//! slices of wasm memory.
//!
//! Metadata written when at least one tensor carries the rescale (any earlier `bitlens.correction.*`
//! keys are replaced, their tensors kept in the lists):
//! - `bitlens.correction.rule` (string): the rule applied.
//! - `bitlens.correction.tensors` (array of string): the rescaled tensors.
//! - `bitlens.correction.factors` (array of f32): sqrt(n) for each listed tensor.
//! - `bitlens.correction.rms_before` / `bitlens.correction.rms_after` (array of f32): RMS of each
//!   listed tensor before and after.

use std::io::{self, Read, Seek, SeekFrom, Write};

use serde::Serialize;

use super::error::NormError;
use super::policy::{RescaleOutcome, RescalePolicy};
use super::rescale::{correct_norm, CorrectionPipeline, CorrectionRecord};
use super::values::f32_bytes;
use crate::gguf::{layout, write_gguf, Array, Gguf, GgufLayout, TensorDesc, TensorInfo, Value};
use crate::quant::GgmlType;

pub const KEY_PREFIX: &str = "bitlens.correction.";
pub const KEY_RULE: &str = "bitlens.correction.rule";
pub const KEY_TENSORS: &str = "bitlens.correction.tensors";
pub const KEY_FACTORS: &str = "bitlens.correction.factors";
pub const KEY_RMS_BEFORE: &str = "bitlens.correction.rms_before";
pub const KEY_RMS_AFTER: &str = "bitlens.correction.rms_after";
pub const RULE: &str = "gamma' = gamma * sqrt(n), n = the last dimension of each listed norm \
    weight, stored as F32; experimental diagnostic (BITNET_RESCALE_GAMMA_ON_LOAD), not a fix";

/// Where a tensor's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SegmentSource {
    /// `len` bytes at absolute offset `start` of the input file.
    Original { start: u64, len: u64 },
    /// `ExportPlan::corrected[index]`.
    Corrected { index: usize },
}

/// One piece of the output after the header: `pad` zero bytes, then tensor `tensor`'s bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportSegment {
    pub pad: u64,
    pub tensor: usize,
    pub source: SegmentSource,
}

/// Everything needed to write the export, without copying the input's tensor data.
pub struct ExportPlan {
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorDesc>,
    /// Per tensor, in `tensors` order.
    pub sources: Vec<SegmentSource>,
    /// F32 bytes of the rescaled norms.
    pub corrected: Vec<Vec<u8>>,
    pub records: Vec<CorrectionRecord>,
    pub outcome: RescaleOutcome,
}

impl ExportPlan {
    /// The header bytes and the segments that follow it, in file order.
    pub fn layout(&self) -> (GgufLayout, Vec<ExportSegment>) {
        let lay = layout(&self.metadata, &self.tensors);
        let segments = lay
            .segments
            .iter()
            .map(|&(pad, i)| ExportSegment {
                pad,
                tensor: i,
                source: self.sources[i].clone(),
            })
            .collect();
        (lay, segments)
    }

    /// The bytes of `source`; `file` is the input the plan was made from.
    pub fn bytes<'a>(&'a self, file: &'a [u8], source: &SegmentSource) -> &'a [u8] {
        match *source {
            SegmentSource::Original { start, len } => &file[start as usize..(start + len) as usize],
            SegmentSource::Corrected { index } => &self.corrected[index],
        }
    }
}

/// Plans the export of `file` under `policy`: with the rescale applied, each norm gamma is
/// multiplied by sqrt(n) and stored as F32; everything else is copied as it is.
pub fn plan_export(
    gguf: &Gguf,
    file: &[u8],
    policy: &RescalePolicy,
) -> Result<ExportPlan, NormError> {
    for t in &gguf.tensors {
        // Every tensor must lie within the bytes we were given.
        gguf.tensor_data(file, t)?;
    }
    plan_export_from(gguf, policy, |t| Ok(gguf.tensor_data(file, t)?.to_vec()))
}

/// `plan_export` reading only the norms' bytes, with `read` (natively: from the file on disk).
pub fn plan_export_from(
    gguf: &Gguf,
    policy: &RescalePolicy,
    mut read: impl FnMut(&TensorInfo) -> Result<Vec<u8>, NormError>,
) -> Result<ExportPlan, NormError> {
    let pipeline = CorrectionPipeline::new(gguf, policy);
    let applies = policy.applies();
    let mut tensors = Vec::with_capacity(gguf.tensors.len());
    let mut sources = Vec::with_capacity(gguf.tensors.len());
    let mut corrected = Vec::new();
    let mut records = Vec::new();
    for t in &gguf.tensors {
        let mut desc = TensorDesc {
            name: t.name.clone(),
            dims: t.dims.clone(),
            type_id: t.type_id,
            n_bytes: t.n_bytes,
        };
        let mut source = SegmentSource::Original {
            start: t.data_start,
            len: t.n_bytes,
        };
        if applies && super::is_layernorm_weight(&t.name, &t.dims) {
            let before = records.len();
            super::values::check_norm_size(t)?;
            let values = correct_norm(t, &read(t)?, &pipeline, &mut records)?;
            if records.len() > before {
                desc.type_id = GgmlType::F32.id();
                desc.n_bytes = values.len() as u64 * 4;
                source = SegmentSource::Corrected {
                    index: corrected.len(),
                };
                corrected.push(f32_bytes(&values));
            }
        }
        tensors.push(desc);
        sources.push(source);
    }
    Ok(ExportPlan {
        metadata: export_metadata(gguf, &records),
        tensors,
        sources,
        corrected,
        records,
        outcome: policy.outcome(),
    })
}

/// The input's metadata, with the correction keys updated when any tensor carries the rescale.
fn export_metadata(gguf: &Gguf, records: &[CorrectionRecord]) -> Vec<(String, Value)> {
    let earlier = |key: &str| gguf.get_array(key).cloned();
    let mut names: Vec<String> = earlier(KEY_TENSORS)
        .and_then(|a| a.as_strings().map(<[String]>::to_vec))
        .unwrap_or_default();
    let floats = |key: &str| -> Vec<f32> {
        let v = earlier(key)
            .and_then(|a| a.as_f32s().map(<[f32]>::to_vec))
            .unwrap_or_default();
        // Keep the lists aligned with the names even if a file carries inconsistent ones.
        let mut v = v;
        v.resize(names.len(), f32::NAN);
        v
    };
    let (mut factors, mut before, mut after) = (
        floats(KEY_FACTORS),
        floats(KEY_RMS_BEFORE),
        floats(KEY_RMS_AFTER),
    );
    for r in records {
        names.push(r.name.clone());
        factors.push(r.factor as f32);
        before.push(r.rms_before as f32);
        after.push(r.rms_after as f32);
    }
    let mut md: Vec<(String, Value)> = gguf
        .metadata
        .iter()
        .filter(|e| !e.key.starts_with(KEY_PREFIX))
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    if !names.is_empty() {
        md.push((KEY_RULE.into(), Value::String(RULE.into())));
        md.push((KEY_TENSORS.into(), Value::Array(Array::String(names))));
        md.push((KEY_FACTORS.into(), Value::Array(Array::F32(factors))));
        md.push((KEY_RMS_BEFORE.into(), Value::Array(Array::F32(before))));
        md.push((KEY_RMS_AFTER.into(), Value::Array(Array::F32(after))));
    }
    md
}

/// Writes the planned export of `file` to `w`; returns the number of bytes written.
pub fn write_export<W: Write>(w: &mut W, file: &[u8], plan: &ExportPlan) -> io::Result<u64> {
    write_gguf(w, &plan.metadata, &plan.tensors, |i| {
        plan.bytes(file, &plan.sources[i])
    })
}

/// Writes the planned export, copying original tensors from `input` (the input file, e.g. a
/// `File`): nothing but the header and the corrected norms is held in memory.
pub fn write_export_from<W: Write, R: Read + Seek>(
    w: &mut W,
    input: &mut R,
    plan: &ExportPlan,
) -> io::Result<u64> {
    let (lay, segments) = plan.layout();
    w.write_all(&lay.header)?;
    for s in &segments {
        io::copy(&mut io::repeat(0).take(s.pad), w)?;
        match s.source {
            SegmentSource::Original { start, len } => {
                input.seek(SeekFrom::Start(start))?;
                let copied = io::copy(&mut input.by_ref().take(len), w)?;
                if copied != len {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "tensor '{}': the input ended after {copied} of its {len} bytes",
                            plan.tensors[s.tensor].name
                        ),
                    ));
                }
            }
            SegmentSource::Corrected { index } => w.write_all(&plan.corrected[index])?,
        }
    }
    Ok(lay.total_len)
}
