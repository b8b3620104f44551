//! Model hyperparameters from GGUF metadata (shared spec sections 1 and 5).

use serde::Serialize;

use super::error::ModelError;
use crate::gguf::Gguf;

/// The graphs we run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Arch {
    /// bitnet.cpp's `build_bitnet_158` (`bitnet-b1.58`, and the older name `bitnet-25`).
    BitnetB158,
    /// 1bitLLM / mainline `LLM_ARCH_BITNET`: sub-norms, SiLU, optional `.scale` tensors.
    Bitnet,
    /// The stock LLaMA graph.
    Llama,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FfnAct {
    /// relu(gate)^2 * up
    ReluSquared,
    /// silu(gate) * up
    Silu,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    pub arch: Arch,
    /// `general.architecture` as written.
    pub arch_name: String,
    pub dim: usize,
    pub n_layers: usize,
    pub hidden_dim: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub n_rot: usize,
    pub vocab_size: usize,
    /// The file's context length.
    pub train_ctx: usize,
    pub rms_eps: f32,
    pub rope_base: f32,
    /// NEOX pairs (i, i + n_rot/2) versus adjacent pairs.
    pub rope_neox: bool,
    pub ffn_act: FfnAct,
    /// Norms before the attention output and FFN down projections.
    pub sub_norms: bool,
}

/// Upper bounds that keep every size computation far from overflow on wasm32.
const MAX_DIM: u64 = 1 << 16;
const MAX_LAYERS: u64 = 1024;
const MAX_VOCAB: u64 = 1 << 22;

fn required(g: &Gguf, key: &str) -> Result<u64, ModelError> {
    match g.get(key) {
        None => Err(ModelError::MissingKey { key: key.into() }),
        Some(v) => v.as_u64().ok_or_else(|| ModelError::BadKey {
            key: key.into(),
            detail: format!(
                "expected a non-negative integer, found {}",
                v.value_type().name()
            ),
        }),
    }
}

fn optional(g: &Gguf, key: &str) -> Result<Option<u64>, ModelError> {
    if g.get(key).is_none() {
        return Ok(None);
    }
    required(g, key).map(Some)
}

fn bounded(key: &str, v: u64, max: u64) -> Result<usize, ModelError> {
    if v == 0 || v > max {
        return Err(ModelError::BadKey {
            key: key.into(),
            detail: format!("{v} is outside 1..={max}"),
        });
    }
    Ok(v as usize)
}

fn float_key(g: &Gguf, key: &str) -> Result<Option<f32>, ModelError> {
    match g.get(key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(f) if f.is_finite() => Ok(Some(f as f32)),
            _ => Err(ModelError::BadKey {
                key: key.into(),
                detail: format!("expected a finite number, found {v:?}"),
            }),
        },
    }
}

impl Config {
    pub fn from_gguf(g: &Gguf) -> Result<Config, ModelError> {
        let arch_name = g
            .architecture()
            .ok_or_else(|| ModelError::MissingKey {
                key: "general.architecture".into(),
            })?
            .to_string();
        let arch = match arch_name.as_str() {
            "bitnet-b1.58" | "bitnet-25" => Arch::BitnetB158,
            "bitnet" => Arch::Bitnet,
            "llama" => Arch::Llama,
            _ => return Err(ModelError::UnsupportedArch { arch: arch_name }),
        };
        let a = arch_name.as_str();
        let k = |s: &str| format!("{a}.{s}");
        let dim_key = k("embedding_length");
        let dim = bounded(&dim_key, required(g, &dim_key)?, MAX_DIM)?;
        let nl_key = k("block_count");
        let n_layers = bounded(&nl_key, required(g, &nl_key)?, MAX_LAYERS)?;
        let ff_key = k("feed_forward_length");
        let hidden_dim = bounded(&ff_key, required(g, &ff_key)?, MAX_DIM * 4)?;
        let nh_key = k("attention.head_count");
        let n_heads = bounded(&nh_key, required(g, &nh_key)?, MAX_DIM)?;
        let nkv_key = k("attention.head_count_kv");
        let n_kv_heads = bounded(
            &nkv_key,
            optional(g, &nkv_key)?.unwrap_or(n_heads as u64),
            n_heads as u64,
        )?;
        if dim % n_heads != 0 {
            return Err(ModelError::BadKey {
                key: nh_key,
                detail: format!("{n_heads} heads do not divide embedding_length {dim}"),
            });
        }
        if n_heads % n_kv_heads != 0 {
            return Err(ModelError::BadKey {
                key: nkv_key,
                detail: format!("{n_kv_heads} KV heads do not divide {n_heads} heads"),
            });
        }
        let head_dim = dim / n_heads;
        let rot_key = k("rope.dimension_count");
        let n_rot = optional(g, &rot_key)?.unwrap_or(head_dim as u64);
        if n_rot == 0 || n_rot > head_dim as u64 || n_rot % 2 != 0 {
            return Err(ModelError::BadKey {
                key: rot_key,
                detail: format!("{n_rot} must be even and at most the head dim {head_dim}"),
            });
        }
        let ctx_key = k("context_length");
        let train_ctx = bounded(&ctx_key, required(g, &ctx_key)?, 1 << 24)?;
        let eps_key = k("attention.layer_norm_rms_epsilon");
        let rms_eps = match float_key(g, &eps_key)? {
            Some(e) if e >= 0.0 => e,
            Some(e) => {
                return Err(ModelError::BadKey {
                    key: eps_key,
                    detail: format!("{e} is negative"),
                })
            }
            // Required for the bitnet archs (spec 1); llama.cpp's default otherwise.
            None if arch == Arch::Llama => 1e-5,
            None => return Err(ModelError::MissingKey { key: eps_key }),
        };
        let rope_base = float_key(g, &k("rope.freq_base"))?.unwrap_or(10000.0);
        let vocab_size = match optional(g, &k("vocab_size"))? {
            Some(v) => v,
            None => g
                .tensor("token_embd.weight")
                .and_then(|t| t.dims.get(1).copied())
                .ok_or_else(|| ModelError::MissingTensor {
                    tensor: "token_embd.weight".into(),
                })?,
        };
        let vocab_size = bounded("vocab size", vocab_size, MAX_VOCAB)?;
        Ok(Config {
            arch,
            arch_name: arch_name.clone(),
            dim,
            n_layers,
            hidden_dim,
            n_heads,
            n_kv_heads,
            head_dim,
            n_rot: n_rot as usize,
            vocab_size,
            train_ctx,
            rms_eps,
            rope_base,
            rope_neox: arch != Arch::Llama,
            ffn_act: if arch == Arch::BitnetB158 {
                FfnAct::ReluSquared
            } else {
                FfnAct::Silu
            },
            sub_norms: arch != Arch::Llama,
        })
    }

    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
}
