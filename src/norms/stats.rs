//! Statistics of norm gammas, one tensor at a time, and the whole file's report.

use serde::Serialize;

use super::detect::{is_layernorm_weight, kind_rank, norm_kind, norm_layer};
use super::error::NormError;
use super::values::{check_norm_size, decode_norm, is_quantized};
use crate::gguf::{Gguf, TensorInfo};

/// RMS within this fraction of 1/sqrt(n) means "looks pre-scaled by 1/sqrt(n)".
pub const PRESCALED_TOLERANCE: f64 = 0.15;

pub const VERDICT_PRESCALED: &str = "looks pre-scaled by 1/sqrt(n)";
pub const VERDICT_NOT_PRESCALED: &str = "not pre-scaled";
pub const VERDICT_EMPTY: &str = "empty tensor";
pub const QUANTIZED_NOTE: &str = "quantized norm weights; regenerate the GGUF with F32 norms";

/// Plain numbers of one vector, all computed in f64.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    /// Population standard deviation (divides by n).
    pub std: f64,
    pub rms: f64,
    pub min: f64,
    pub max: f64,
}

impl Moments {
    pub fn of(values: &[f32]) -> Moments {
        let n = values.len();
        if n == 0 {
            return Moments {
                n: 0,
                mean: 0.0,
                std: 0.0,
                rms: 0.0,
                min: 0.0,
                max: 0.0,
            };
        }
        let (mut sum, mut sum_sq) = (0f64, 0f64);
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for &v in values {
            let v = v as f64;
            sum += v;
            sum_sq += v * v;
            min = min.min(v);
            max = max.max(v);
        }
        let mean = sum / n as f64;
        let var: f64 = values
            .iter()
            .map(|&v| (v as f64 - mean) * (v as f64 - mean))
            .sum::<f64>()
            / n as f64;
        Moments {
            n: n as u64,
            mean,
            std: var.sqrt(),
            rms: (sum_sq / n as f64).sqrt(),
            min,
            max,
        }
    }
}

/// RMS of a vector in f64 (0 for an empty one).
pub fn rms(values: &[f32]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    (values.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / values.len() as f64).sqrt()
}

/// Statistics of one norm tensor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NormStats {
    pub name: String,
    /// Block index, `None` for `output_norm` and other tensors outside the blocks.
    pub layer: Option<u32>,
    /// `attn_norm`, `attn_sub_norm`, `ffn_norm`, `ffn_sub_norm`, `output_norm`, ...
    pub kind: String,
    /// Storage type name (F32, F16, BF16, or a quantized type).
    pub storage: String,
    pub dims: Vec<u64>,
    #[serde(flatten)]
    pub moments: Moments,
    /// RMS * sqrt(n): about 1 when the gamma looks pre-scaled by 1/sqrt(n).
    pub rms_sqrt_n: f64,
    /// 1/sqrt(n): the RMS a pre-scaled gamma would have.
    pub inv_sqrt_n: f64,
    pub prescaled: bool,
    pub verdict: String,
    /// Stored quantized (then dequantized for these numbers).
    pub quantized: bool,
    /// Number of NaN or infinite values (the numbers above then are not meaningful).
    pub non_finite: u64,
    pub notes: Vec<String>,
}

impl NormStats {
    /// Statistics of `values`, the gammas of tensor `name` with `dims` stored as `storage`.
    pub fn compute(
        name: &str,
        dims: &[u64],
        storage: &str,
        quantized: bool,
        values: &[f32],
    ) -> NormStats {
        let m = Moments::of(values);
        let n = m.n as f64;
        let (rms_sqrt_n, inv_sqrt_n) = if m.n == 0 {
            (0.0, 0.0)
        } else {
            (m.rms * n.sqrt(), 1.0 / n.sqrt())
        };
        let prescaled = m.n > 0 && looks_prescaled(m.rms, m.n);
        let verdict = match (m.n, prescaled) {
            (0, _) => VERDICT_EMPTY,
            (_, true) => VERDICT_PRESCALED,
            (_, false) => VERDICT_NOT_PRESCALED,
        };
        let non_finite = values.iter().filter(|v| !v.is_finite()).count() as u64;
        let mut notes = Vec::new();
        if quantized {
            notes.push(QUANTIZED_NOTE.to_string());
        }
        if non_finite > 0 {
            notes.push(format!("{non_finite} values are NaN or infinite"));
        }
        NormStats {
            name: name.to_string(),
            layer: norm_layer(name),
            kind: norm_kind(name).to_string(),
            storage: storage.to_string(),
            dims: dims.to_vec(),
            moments: m,
            rms_sqrt_n,
            inv_sqrt_n,
            prescaled,
            verdict: verdict.to_string(),
            quantized,
            non_finite,
            notes,
        }
    }
}

/// True when `rms` is within 15% of 1/sqrt(n).
pub fn looks_prescaled(rms: f64, n: u64) -> bool {
    let target = 1.0 / (n as f64).sqrt();
    (rms - target).abs() <= PRESCALED_TOLERANCE * target
}

/// The norms of one block, in forward-pass order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerNorms {
    pub layer: u32,
    pub norms: Vec<NormStats>,
}

/// One kind of norm across all blocks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindSummary {
    pub kind: String,
    pub count: u64,
    pub n: u64,
    pub rms_min: f64,
    pub rms_mean: f64,
    pub rms_max: f64,
    pub prescaled: u64,
}

/// Every norm gamma of a file, grouped by layer and by kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NormReport {
    pub architecture: Option<String>,
    pub n_norms: u64,
    pub n_prescaled: u64,
    pub n_quantized: u64,
    /// Per block, in block order.
    pub layers: Vec<LayerNorms>,
    /// Norms outside the blocks (`output_norm`).
    pub global: Vec<NormStats>,
    /// Per kind, in forward-pass order.
    pub kinds: Vec<KindSummary>,
    /// Norm tensors whose values could not be read, with the reason.
    pub problems: Vec<String>,
}

impl NormReport {
    /// All statistics, blocks first then global ones.
    pub fn all(&self) -> impl Iterator<Item = &NormStats> {
        self.layers
            .iter()
            .flat_map(|l| l.norms.iter())
            .chain(self.global.iter())
    }

    pub fn get(&self, name: &str) -> Option<&NormStats> {
        self.all().find(|s| s.name == name)
    }
}

/// The statistics of norm tensor `t` whose data is `bytes`.
pub fn tensor_stats(t: &TensorInfo, bytes: &[u8]) -> Result<NormStats, NormError> {
    let v = decode_norm(t, bytes)?;
    Ok(NormStats::compute(
        &t.name,
        &t.dims,
        t.ggml_type.name(),
        v.quantized || is_quantized(t.ggml_type),
        &v.values,
    ))
}

/// Statistics of every norm gamma in `file` (the whole file, or at least up to its last norm).
pub fn norm_report(gguf: &Gguf, file: &[u8]) -> NormReport {
    norm_report_from(gguf, |t| Ok(gguf.tensor_data(file, t)?.to_vec()))
}

/// Statistics of every norm gamma, reading each norm's bytes with `read` (natively: a seek and
/// a read per norm, so a 1.2 GB model is not loaded for a few hundred kilobytes of gammas).
pub fn norm_report_from(
    gguf: &Gguf,
    mut read: impl FnMut(&TensorInfo) -> Result<Vec<u8>, NormError>,
) -> NormReport {
    let mut stats = Vec::new();
    let mut problems = Vec::new();
    let mut n_quantized = 0;
    for t in gguf
        .tensors
        .iter()
        .filter(|t| is_layernorm_weight(&t.name, &t.dims))
    {
        if is_quantized(t.ggml_type) {
            n_quantized += 1;
        }
        match check_norm_size(t)
            .and_then(|()| read(t))
            .and_then(|bytes| tensor_stats(t, &bytes))
        {
            Ok(s) => stats.push(s),
            Err(e) => problems.push(e.to_string()),
        }
    }
    stats.sort_by(|a, b| {
        (a.layer.is_none(), a.layer, kind_rank(&a.kind), &a.kind).cmp(&(
            b.layer.is_none(),
            b.layer,
            kind_rank(&b.kind),
            &b.kind,
        ))
    });
    let kinds = summarize_kinds(&stats);
    let n_norms = stats.len() as u64;
    let n_prescaled = stats.iter().filter(|s| s.prescaled).count() as u64;
    let mut layers: Vec<LayerNorms> = Vec::new();
    let mut global = Vec::new();
    for s in stats {
        match s.layer {
            None => global.push(s),
            Some(l) => match layers.last_mut() {
                Some(last) if last.layer == l => last.norms.push(s),
                _ => layers.push(LayerNorms {
                    layer: l,
                    norms: vec![s],
                }),
            },
        }
    }
    NormReport {
        architecture: gguf.architecture().map(str::to_string),
        n_norms,
        n_prescaled,
        n_quantized,
        layers,
        global,
        kinds,
        problems,
    }
}

fn summarize_kinds(stats: &[NormStats]) -> Vec<KindSummary> {
    let mut kinds: Vec<KindSummary> = Vec::new();
    for s in stats {
        let k = match kinds.iter_mut().position(|k| k.kind == s.kind) {
            Some(i) => &mut kinds[i],
            None => {
                kinds.push(KindSummary {
                    kind: s.kind.clone(),
                    count: 0,
                    n: s.moments.n,
                    rms_min: f64::INFINITY,
                    rms_mean: 0.0,
                    rms_max: f64::NEG_INFINITY,
                    prescaled: 0,
                });
                kinds.last_mut().expect("just pushed")
            }
        };
        k.count += 1;
        k.rms_min = k.rms_min.min(s.moments.rms);
        k.rms_max = k.rms_max.max(s.moments.rms);
        k.rms_mean += s.moments.rms;
        k.prescaled += s.prescaled as u64;
    }
    for k in &mut kinds {
        k.rms_mean /= k.count as f64;
    }
    kinds.sort_by(|a, b| (kind_rank(&a.kind), &a.kind).cmp(&(kind_rank(&b.kind), &b.kind)));
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn moments_of_a_small_vector() {
        let m = Moments::of(&[1.0, -2.0, 3.0, 4.0]);
        assert_eq!(m.n, 4);
        assert_eq!(m.mean, 1.5);
        assert_eq!(m.min, -2.0);
        assert_eq!(m.max, 4.0);
        assert!((m.rms - (30.0f64 / 4.0).sqrt()).abs() < 1e-15);
        assert!((m.std - (5.25f64).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn verdict_uses_fifteen_percent_band() {
        let n = 2560u64;
        let t = 1.0 / (n as f64).sqrt();
        assert!(looks_prescaled(0.018, n));
        assert!(looks_prescaled(t * 1.149, n));
        assert!(looks_prescaled(t * 0.851, n));
        assert!(!looks_prescaled(t * 1.151, n));
        assert!(!looks_prescaled(t * 0.849, n));
        assert!(!looks_prescaled(1.0, n));
        let s = NormStats::compute("blk.0.attn_norm.weight", &[4], "F32", false, &[0.5; 4]);
        assert_eq!(s.verdict, VERDICT_PRESCALED);
        assert_eq!(s.rms_sqrt_n, 1.0);
        assert_eq!(s.inv_sqrt_n, 0.5);
        let s = NormStats::compute("output_norm.weight", &[4], "F32", false, &[1.0; 4]);
        assert_eq!(s.verdict, VERDICT_NOT_PRESCALED);
        assert_eq!(s.layer, None);
    }

    #[test]
    fn empty_and_non_finite() {
        let s = NormStats::compute("x_norm.weight", &[0], "F32", false, &[]);
        assert_eq!(s.verdict, VERDICT_EMPTY);
        assert!(!s.prescaled);
        assert_eq!(s.moments.rms, 0.0);
        let s = NormStats::compute("x_norm.weight", &[2], "F32", true, &[f32::NAN, 1.0]);
        assert_eq!(s.non_finite, 1);
        assert_eq!(s.notes[0], QUANTIZED_NOTE);
        assert_eq!(s.notes[1], "1 values are NaN or infinite");
    }
}
