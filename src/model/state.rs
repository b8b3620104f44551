//! Run state: activation buffers and the F16 KV cache, sized once up front.

use half::f16;
use serde::Serialize;

use super::config::Config;
use super::error::ModelError;
use crate::kernels::attention::KvLayer;
use crate::kernels::ActScratch;

/// Default context: the smaller of the file's and this.
pub const DEFAULT_MAX_CTX: usize = 2048;

/// Bytes a run needs besides the file, computed before anything is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MemoryPlan {
    pub n_ctx: usize,
    /// K and V, F16, every layer and position.
    pub kv_cache: u64,
    /// Activation buffers and logits.
    pub activations: u64,
}

impl MemoryPlan {
    pub fn new(c: &Config, n_ctx: usize) -> MemoryPlan {
        let kv_cache = 2 * 2 * (c.n_layers * n_ctx * c.kv_dim()) as u64;
        let q_dim = (c.n_heads * c.head_dim) as u64;
        let floats = 3 * c.dim as u64
            + 2 * c.hidden_dim as u64
            + q_dim
            + 2 * c.kv_dim() as u64
            + n_ctx as u64
            + c.head_dim as u64
            + c.vocab_size as u64
            + c.n_rot as u64;
        // Quantized activation scratch: about one byte per input element plus block scales.
        let scratch = 2 * c.dim.max(c.hidden_dim) as u64 * 4;
        MemoryPlan {
            n_ctx,
            kv_cache,
            activations: 4 * floats + scratch,
        }
    }

    pub fn total(&self) -> u64 {
        self.kv_cache + self.activations
    }
}

/// Per-layer activation statistics for one token (root mean square of each vector).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LayerProbe {
    /// Output of the attention input norm.
    pub attn_norm: f32,
    /// Output of the attention sub-norm (0 without sub-norms).
    pub attn_sub_norm: f32,
    /// Residual stream after the attention block.
    pub resid_attn: f32,
    pub ffn_norm: f32,
    pub ffn_sub_norm: f32,
    /// Residual stream after the FFN block.
    pub resid_ffn: f32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Probe {
    pub layers: Vec<LayerProbe>,
    /// Output of the final norm.
    pub output_norm: f32,
}

/// Buffers for one sequence (llama2.c's `RunState`).
#[derive(Debug)]
pub struct RunState {
    pub n_ctx: usize,
    /// Residual stream.
    pub x: Vec<f32>,
    /// Normed input of a block / attention output.
    pub xb: Vec<f32>,
    pub xb2: Vec<f32>,
    /// FFN gate and up.
    pub hb: Vec<f32>,
    pub hb2: Vec<f32>,
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    /// Attention scores of one head.
    pub att: Vec<f32>,
    /// One query head rounded through F16.
    pub qh: Vec<f32>,
    pub logits: Vec<f32>,
    pub rope: Vec<(f32, f32)>,
    pub kv: Vec<KvLayer>,
    pub act: ActScratch,
    pub probe: Probe,
}

impl RunState {
    /// Allocates for `n_ctx` positions (checked against the file's context by the caller).
    pub fn new(c: &Config, n_ctx: usize) -> Result<RunState, ModelError> {
        let plan = MemoryPlan::new(c, n_ctx);
        if usize::try_from(plan.total()).is_err() {
            return Err(ModelError::TooLarge {
                what: format!("a KV cache of {} bytes", plan.kv_cache),
            });
        }
        let kv_len = n_ctx * c.kv_dim();
        let q_dim = c.n_heads * c.head_dim;
        Ok(RunState {
            n_ctx,
            x: vec![0.0; c.dim],
            xb: vec![0.0; c.dim.max(q_dim)],
            xb2: vec![0.0; c.dim],
            hb: vec![0.0; c.hidden_dim],
            hb2: vec![0.0; c.hidden_dim],
            q: vec![0.0; q_dim],
            k: vec![0.0; c.kv_dim()],
            v: vec![0.0; c.kv_dim()],
            att: vec![0.0; n_ctx],
            qh: vec![0.0; c.head_dim],
            logits: vec![0.0; c.vocab_size],
            rope: vec![(0.0, 0.0); c.n_rot / 2],
            kv: (0..c.n_layers)
                .map(|_| KvLayer {
                    k: vec![f16::ZERO; kv_len],
                    v: vec![f16::ZERO; kv_len],
                })
                .collect(),
            act: ActScratch::default(),
            probe: Probe {
                layers: vec![LayerProbe::default(); c.n_layers],
                output_norm: 0.0,
            },
        })
    }
}
