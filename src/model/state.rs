//! Run state: one sequence's F16 KV cache, logits and probe (`RunState`), and the activation
//! buffers of a batch of token columns (`Batch`), which every sequence of a batch shares.

use half::f16;
use serde::Serialize;

use super::config::Config;
use super::error::ModelError;
use crate::kernels::attention::{attend_scratch, KvLayer};
use crate::kernels::ActScratch;

/// Default context: the smaller of the file's and this.
pub const DEFAULT_MAX_CTX: usize = 2048;

/// Prompt tokens (of all sequences together) that go through the products as one batch: bounds
/// the batch's activation buffers (about 100 KB per column at 2B-4T's shapes).
pub const PREFILL_CHUNK: usize = 64;

/// Columns whose logits one head product computes while a prompt is scored (bounds the batch's
/// logits buffer: `HEAD_CHUNK * vocab` floats).
pub const HEAD_CHUNK: usize = 8;

/// The largest run state (KV cache and activations of one sequence) a context may ask for,
/// natively (llama.cpp's only bound is memory): 16 GiB.
#[cfg(not(target_arch = "wasm32"))]
pub const MAX_STATE_BYTES: u64 = 16 << 30;
/// In wasm32's 4 GiB address space, which also holds the file (up to 2 GiB): 1 GiB.
#[cfg(target_arch = "wasm32")]
pub const MAX_STATE_BYTES: u64 = 1 << 30;

/// Bytes a run needs besides the file, computed before anything is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MemoryPlan {
    pub n_ctx: usize,
    /// K and V, F16, every layer and position.
    pub kv_cache: u64,
    /// Activation buffers of a batch of `PREFILL_CHUNK` columns, and logits.
    pub activations: u64,
}

impl MemoryPlan {
    pub fn new(c: &Config, n_ctx: usize) -> MemoryPlan {
        let kv_cache = 4 * c.n_layers as u64 * n_ctx as u64 * c.kv_dim() as u64;
        let q_dim = (c.n_heads * c.head_dim) as u64;
        let per_column = 2 * c.dim as u64
            + c.dim.max(c.n_heads * c.head_dim) as u64
            + 2 * c.hidden_dim as u64
            + q_dim
            + 2 * c.kv_dim() as u64
            + c.n_rot as u64 / 2 * 2;
        let floats = PREFILL_CHUNK as u64 * per_column
            + (HEAD_CHUNK as u64 + 1) * c.vocab_size as u64
            + n_ctx as u64
            + c.head_dim as u64;
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

/// One column of a batch: `token` at position `pos` of sequence `seq` (an index into the
/// batch's sequences).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Col {
    pub token: u32,
    pub pos: usize,
    pub seq: usize,
}

/// Activation buffers for a batch of token columns (llama2.c's `RunState`, one column after
/// the other in each buffer). They grow to the largest batch run (`PREFILL_CHUNK` columns at
/// most in a generator) on its first use and are reused after that.
#[derive(Debug, Default)]
pub struct Batch {
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
    /// Each column's RoPE cosines and sines.
    pub rope: Vec<(f32, f32)>,
    /// Attention's scratch: each thread's scores of one head and query head rounded through
    /// F16 (`attend_scratch`).
    pub att: Vec<f32>,
    /// Logits of up to `HEAD_CHUNK` columns.
    pub logits: Vec<f32>,
    /// The columns of a prompt chunk (reused).
    pub cols: Vec<Col>,
    pub act: ActScratch,
}

fn grow<T: Clone + Default>(v: &mut Vec<T>, n: usize) {
    if v.len() < n {
        v.resize(n, T::default());
    }
}

impl Batch {
    /// Makes room for `n` columns over contexts of up to `n_ctx` positions.
    pub fn reserve(&mut self, c: &Config, n: usize, n_ctx: usize) {
        let q_dim = c.n_heads * c.head_dim;
        grow(&mut self.x, n * c.dim);
        grow(&mut self.xb, n * c.dim.max(q_dim));
        grow(&mut self.xb2, n * c.dim);
        grow(&mut self.hb, n * c.hidden_dim);
        grow(&mut self.hb2, n * c.hidden_dim);
        grow(&mut self.q, n * q_dim);
        grow(&mut self.k, n * c.kv_dim());
        grow(&mut self.v, n * c.kv_dim());
        grow(&mut self.rope, n * (c.n_rot / 2));
        let per_thread = attend_scratch(n_ctx.saturating_sub(1), c.head_dim);
        grow(&mut self.att, self.act.threads.max(1) * per_thread);
    }

    /// Room for the logits of `n` columns.
    pub fn reserve_logits(&mut self, c: &Config, n: usize) {
        grow(&mut self.logits, n * c.vocab_size);
    }
}

/// One sequence (llama2.c's `RunState` without the activations): its KV cache, the logits and
/// activation probe of its latest column, and a batch of its own for running it alone.
#[derive(Debug)]
pub struct RunState {
    pub n_ctx: usize,
    pub kv: Vec<KvLayer>,
    pub logits: Vec<f32>,
    pub probe: Probe,
    pub batch: Batch,
}

impl RunState {
    /// Allocates the KV cache for `n_ctx` positions (the caller bounds `n_ctx`: see
    /// `Model::context_len`).
    pub fn new(c: &Config, n_ctx: usize) -> Result<RunState, ModelError> {
        let plan = MemoryPlan::new(c, n_ctx);
        if usize::try_from(plan.total()).is_err() {
            return Err(ModelError::TooLarge {
                what: format!("a KV cache of {} bytes", plan.kv_cache),
            });
        }
        let kv_len = n_ctx * c.kv_dim();
        Ok(RunState {
            n_ctx,
            kv: (0..c.n_layers)
                .map(|_| KvLayer {
                    k: vec![f16::ZERO; kv_len],
                    v: vec![f16::ZERO; kv_len],
                })
                .collect(),
            logits: vec![0.0; c.vocab_size],
            probe: Probe {
                layers: vec![LayerProbe::default(); c.n_layers],
                output_norm: 0.0,
            },
            batch: Batch::default(),
        })
    }
}
