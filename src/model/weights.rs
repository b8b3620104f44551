//! Weights as views into the file's bytes: each tensor is remembered as a byte range and turned
//! into a borrowed `Matrix` when the forward pass needs it, so weights stay packed as on disk and
//! the file is never held twice. Only the norm vectors (and `.scale` scalars) are copied out,
//! because they are per mode (baseline / rescaled).

use crate::gguf::{Gguf, TensorInfo};
use crate::kernels::float::{bf16_at, f16_all_finite, f16_at, f32_at};
use crate::kernels::matrix::{Matrix, MATVEC_TYPES};
use crate::norms::{load_norm_with, CorrectionPipeline, CorrectionRecord, RescalePolicy};
use crate::quant::dequant::dequantize_rows;
use crate::quant::layout::interleaved_part;
use crate::quant::{GgmlType, I2sLayout};

use super::config::{Arch, Config};
use super::error::ModelError;

/// A weight matrix located in the file: `rows` outputs of `cols` inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorRef {
    pub ty: GgmlType,
    /// Absolute byte range of the packed data (for I2_S without the scale tail).
    pub start: usize,
    pub len: usize,
    pub rows: usize,
    pub cols: usize,
    /// I2_S per-tensor scale (1 otherwise).
    pub scale: f32,
    /// F16 data checked at load to hold no infinity or NaN (`Matrix::finite`; the head only).
    pub finite: bool,
    /// I2_S rows in the row-interleaved layout in the buffer the model reads.
    pub layout: I2sLayout,
}

impl TensorRef {
    /// The matrix, borrowed from `file` (the same bytes the model was loaded from).
    pub fn matrix<'a>(&self, file: &'a [u8]) -> Matrix<'a> {
        Matrix {
            ty: self.ty,
            data: &file[self.start..self.start + self.len],
            rows: self.rows,
            cols: self.cols,
            scale: self.scale,
            finite: self.finite,
            layout: self.layout,
        }
    }
}

/// A projection matrix and the output scale the `bitnet` arch may give it
/// (`blk.N.attn_q.scale` etc.; 1 when the file has none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Projection {
    pub weight: TensorRef,
    pub out_scale: f32,
}

/// One layer's projections.
#[derive(Clone, Debug)]
pub struct LayerWeights {
    pub wq: Projection,
    pub wk: Projection,
    pub wv: Projection,
    pub wo: Projection,
    pub w_gate: Projection,
    pub w_up: Projection,
    pub w_down: Projection,
}

#[derive(Clone, Debug)]
pub struct Weights {
    /// `token_embd.weight`: `vocab` rows of `dim`.
    pub token_embd: TensorRef,
    /// The output head: `output.weight` when the graph uses it, else the tied embedding.
    pub output: TensorRef,
    pub layers: Vec<LayerWeights>,
}

/// The norm gammas of one layer (copied out as f32: they are per mode).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNorms {
    pub attn: Vec<f32>,
    pub ffn: Vec<f32>,
    /// Empty when the arch has no sub-norms.
    pub attn_sub: Vec<f32>,
    pub ffn_sub: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Norms {
    pub layers: Vec<LayerNorms>,
    pub output: Vec<f32>,
}

impl Norms {
    pub fn bytes(&self) -> usize {
        let l: usize = self
            .layers
            .iter()
            .map(|n| n.attn.len() + n.ffn.len() + n.attn_sub.len() + n.ffn_sub.len())
            .sum();
        4 * (l + self.output.len())
    }
}

/// Embedding types whose rows we can read.
pub const EMBED_TYPES: &[GgmlType] = &[
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::F32,
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q4_K,
    GgmlType::Q6_K,
];

fn tensor<'g>(g: &'g Gguf, name: &str) -> Result<&'g TensorInfo, ModelError> {
    g.tensor(name).ok_or_else(|| ModelError::MissingTensor {
        tensor: name.into(),
    })
}

/// Checks `dims` against `[cols, rows]` (trailing 1s allowed).
fn check_shape(t: &TensorInfo, expected: &[u64]) -> Result<(), ModelError> {
    let mut dims = t.dims.clone();
    while dims.len() > expected.len() && dims.last() == Some(&1) {
        dims.pop();
    }
    if dims != expected {
        return Err(ModelError::BadShape {
            tensor: t.name.clone(),
            expected: expected.to_vec(),
            found: t.dims.clone(),
        });
    }
    Ok(())
}

fn usize_of(v: u64, what: &str) -> Result<usize, ModelError> {
    usize::try_from(v).map_err(|_| ModelError::TooLarge { what: what.into() })
}

#[allow(clippy::too_many_arguments)]
fn matrix_ref(
    g: &Gguf,
    file: &[u8],
    layout: I2sLayout,
    name: &str,
    cols: usize,
    rows: usize,
    allowed: &[GgmlType],
    role: &str,
) -> Result<TensorRef, ModelError> {
    let t = tensor(g, name)?;
    check_shape(t, &[cols as u64, rows as u64])?;
    if !allowed.contains(&t.ggml_type) {
        return Err(ModelError::UnsupportedType {
            tensor: name.into(),
            type_name: t.ggml_type.name().into(),
            role: role.into(),
        });
    }
    let data = g.tensor_data(file, t)?;
    let start = usize_of(t.data_start, name)?;
    let (len, scale) = if t.ggml_type == GgmlType::I2_S {
        if !cols.is_multiple_of(128) {
            return Err(ModelError::BadTensor {
                tensor: name.into(),
                detail: format!("I2_S rows of {cols} are not a multiple of 128"),
            });
        }
        let n = usize_of(t.n_elements / 4, name)?;
        let scale = f32::from_le_bytes(data[n..n + 4].try_into().expect("4 bytes"));
        if !scale.is_finite() {
            return Err(ModelError::BadTensor {
                tensor: name.into(),
                detail: format!("I2_S scale {scale} is not finite"),
            });
        }
        (n, scale)
    } else {
        (data.len(), 1.0)
    };
    Ok(TensorRef {
        ty: t.ggml_type,
        start,
        len,
        rows,
        cols,
        scale,
        finite: false,
        // The buffer's layout where it rearranged this tensor.
        layout: match interleaved_part(t) {
            Some(_) => layout,
            None => I2sLayout::Plain,
        },
    })
}

/// A vector tensor of `len` elements as f32 (F32, F16 or BF16 storage).
pub fn load_vector(g: &Gguf, file: &[u8], name: &str, len: usize) -> Result<Vec<f32>, ModelError> {
    let t = tensor(g, name)?;
    check_shape(t, &[len as u64])?;
    let data = g.tensor_data(file, t)?;
    let at: fn(&[u8], usize) -> f32 = match t.ggml_type {
        GgmlType::F32 => f32_at,
        GgmlType::F16 => f16_at,
        GgmlType::BF16 => bf16_at,
        other => {
            return Err(ModelError::UnsupportedType {
                tensor: name.into(),
                type_name: other.name().into(),
                role: "a norm or scale vector".into(),
            })
        }
    };
    Ok((0..len).map(|i| at(data, i)).collect())
}

/// The optional per-projection `.scale` scalar (1 when absent).
fn proj_scale(g: &Gguf, file: &[u8], name: &str) -> Result<f32, ModelError> {
    if g.tensor(name).is_none() {
        return Ok(1.0);
    }
    Ok(load_vector(g, file, name, 1)?[0])
}

impl Weights {
    /// The weights of the file `g` was parsed from, held in `file` with its I2_S tensors in
    /// `layout`.
    pub fn load(
        g: &Gguf,
        file: &[u8],
        layout: I2sLayout,
        c: &Config,
    ) -> Result<Weights, ModelError> {
        let (dim, kv, ff) = (c.dim, c.kv_dim(), c.hidden_dim);
        let q_dim = c.n_heads * c.head_dim;
        let token_embd = matrix_ref(
            g,
            file,
            layout,
            "token_embd.weight",
            dim,
            c.vocab_size,
            EMBED_TYPES,
            "the token embedding",
        )?;
        // The bitnet graphs (both engines) always use the tied embedding, even when the file
        // carries an `output.weight` (the older bitnet-25 upload does).
        let output = if c.arch == Arch::Llama && g.tensor("output.weight").is_some() {
            matrix_ref(
                g,
                file,
                layout,
                "output.weight",
                dim,
                c.vocab_size,
                MATVEC_TYPES,
                "the output head",
            )?
        } else {
            let mut t = token_embd;
            if !MATVEC_TYPES.contains(&t.ty) {
                return Err(ModelError::UnsupportedType {
                    tensor: "token_embd.weight".into(),
                    type_name: t.ty.name().into(),
                    role: "the tied output head".into(),
                });
            }
            t.scale = 1.0;
            t
        };
        // The head is the largest product of a step: one pass now spares each row its check.
        let output = TensorRef {
            finite: output.ty == GgmlType::F16
                && f16_all_finite(&file[output.start..output.start + output.len]),
            ..output
        };
        let mut layers = Vec::with_capacity(c.n_layers);
        for l in 0..c.n_layers {
            let proj = |name: &str, cols, rows| -> Result<Projection, ModelError> {
                Ok(Projection {
                    weight: matrix_ref(
                        g,
                        file,
                        layout,
                        &format!("blk.{l}.{name}.weight"),
                        cols,
                        rows,
                        MATVEC_TYPES,
                        "a projection",
                    )?,
                    out_scale: proj_scale(g, file, &format!("blk.{l}.{name}.scale"))?,
                })
            };
            layers.push(LayerWeights {
                wq: proj("attn_q", dim, q_dim)?,
                wk: proj("attn_k", dim, kv)?,
                wv: proj("attn_v", dim, kv)?,
                wo: proj("attn_output", q_dim, dim)?,
                w_gate: proj("ffn_gate", dim, ff)?,
                w_up: proj("ffn_up", dim, ff)?,
                w_down: proj("ffn_down", ff, dim)?,
            });
        }
        Ok(Weights {
            token_embd,
            output,
            layers,
        })
    }

    /// Writes the embedding row of `token` into `out` (`dim` floats).
    pub fn embed(&self, file: &[u8], token: usize, out: &mut [f32]) {
        let t = &self.token_embd;
        let data = &file[t.start..t.start + t.len];
        dequantize_rows(t.ty, data, t.cols, token..token + 1, out)
            .expect("the embedding's type and size were checked at load");
    }
}

impl Norms {
    /// The file's norm gammas, verbatim (the baseline mode).
    pub fn load(g: &Gguf, file: &[u8], c: &Config) -> Result<Norms, ModelError> {
        Ok(Norms::load_with_policy(g, file, c, &RescalePolicy::new(false, false))?.0)
    }

    /// The norm gammas under `policy` (through the norms module): the file's values, or
    /// rescaled by sqrt(n) in the experimental mode, with its correction records.
    pub fn load_with_policy(
        g: &Gguf,
        file: &[u8],
        c: &Config,
        policy: &RescalePolicy,
    ) -> Result<(Norms, Vec<CorrectionRecord>), ModelError> {
        let pipeline = CorrectionPipeline::new(g, policy);
        let mut records = Vec::new();
        let mut load = |name: String, len: usize| {
            check_shape(tensor(g, &name)?, &[len as u64])?;
            load_norm_with(g, file, &name, &pipeline, &mut records).map_err(|e| {
                ModelError::BadTensor {
                    tensor: name.clone(),
                    detail: e.to_string(),
                }
            })
        };
        let mut layers = Vec::with_capacity(c.n_layers);
        for l in 0..c.n_layers {
            let (attn_sub, ffn_sub) = if c.sub_norms {
                (
                    load(format!("blk.{l}.attn_sub_norm.weight"), c.dim)?,
                    load(format!("blk.{l}.ffn_sub_norm.weight"), c.hidden_dim)?,
                )
            } else {
                (Vec::new(), Vec::new())
            };
            layers.push(LayerNorms {
                attn: load(format!("blk.{l}.attn_norm.weight"), c.dim)?,
                ffn: load(format!("blk.{l}.ffn_norm.weight"), c.dim)?,
                attn_sub,
                ffn_sub,
            });
        }
        let output = load("output_norm.weight".into(), c.dim)?;
        Ok((Norms { layers, output }, records))
    }
}
