//! Running a model: config from metadata, weights as views into the file, run state with an F16
//! KV cache, the forward pass, sampling and generators.

pub mod config;
pub mod error;
pub mod forward;
pub mod generator;
pub mod sampler;
pub mod score;
pub mod state;
pub mod synthetic;
pub mod weights;

pub use config::{Arch, Config, FfnAct};
pub use error::ModelError;
pub use forward::{forward, forward_batch, head, Pass, Sequence};
pub use generator::{AbMode, AbPair, GenConfig, Generator, Step, StopReason, Timings};
pub use sampler::{Sampler, SamplerConfig};
pub use score::{PromptScore, ScoreSummary};
pub use state::{
    Batch, Col, MemoryPlan, Probe, RunState, DEFAULT_MAX_CTX, HEAD_CHUNK, MAX_STATE_BYTES,
    PREFILL_CHUNK,
};
pub use weights::{Norms, Weights};

use crate::gguf::Gguf;
pub use crate::kernels::math::Isa;
use crate::kernels::rope::theta_scale;
use crate::quant::{GgmlType, I2sLayout};

/// Whose numerics to mirror where the two reference engines differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Engine {
    /// Microsoft's bitnet.cpp (the `bitnet-b1.58` graph, and any file with I2_S weights).
    BitnetCpp,
    /// Mainline llama.cpp.
    LlamaCpp,
}

/// A loaded model: hyperparameters, where every weight lives in the file, and the file's own
/// norm gammas (the baseline mode). The file's bytes are passed to each call, never copied.
#[derive(Clone, Debug)]
pub struct Model {
    pub config: Config,
    pub weights: Weights,
    pub norms: Norms,
    pub engine: Engine,
    /// The engine build's x86 vector width to mirror (AVX2, as the shared fixtures' goldens
    /// were made; AVX-512 for goldens from an AVX-512 machine).
    pub isa: Isa,
    pub theta_scale: f32,
    /// Threads for the large matrix-vector products of each new run state (natively; the
    /// results are the same for any count).
    pub threads: usize,
}

impl Model {
    /// Checks the file against what the graph needs and locates every tensor. `file` holds the
    /// whole file the header `g` was parsed from, as stored.
    pub fn load(g: &Gguf, file: &[u8]) -> Result<Model, ModelError> {
        Model::load_in(g, file, I2sLayout::Plain)
    }

    /// `load` from a buffer whose I2_S tensors are in `layout` (`quant::layout`).
    pub fn load_in(g: &Gguf, file: &[u8], layout: I2sLayout) -> Result<Model, ModelError> {
        let config = Config::from_gguf(g)?;
        let weights = Weights::load(g, file, layout, &config)?;
        let norms = Norms::load(g, file, &config)?;
        let i2s = weights
            .layers
            .iter()
            .any(|l| l.wq.weight.ty == GgmlType::I2_S);
        let engine = if config.arch == Arch::BitnetB158 || i2s {
            Engine::BitnetCpp
        } else {
            Engine::LlamaCpp
        };
        let theta_scale = theta_scale(config.rope_base, config.n_rot);
        Ok(Model {
            config,
            weights,
            norms,
            engine,
            isa: Isa::Avx2,
            theta_scale,
            threads: 1,
        })
    }

    /// The context length to allocate: `requested`, or the smaller of the file's context and
    /// `DEFAULT_MAX_CTX`. As in llama.cpp, a context longer than the file's (the length it was
    /// trained for) is allowed with a warning; the bound is memory: one sequence's KV cache and
    /// activations (`MemoryPlan::total`) must stay within `MAX_STATE_BYTES`.
    pub fn context_len(&self, requested: Option<usize>) -> Result<usize, ModelError> {
        let file_ctx = self.config.train_ctx;
        let Some(n) = requested else {
            return Ok(file_ctx.min(DEFAULT_MAX_CTX));
        };
        let bytes = self.memory_plan(n).total();
        if n == 0 || bytes > MAX_STATE_BYTES {
            return Err(ModelError::BadContext {
                n_ctx: n,
                detail: if n == 0 {
                    "a context needs at least 1 position".into()
                } else {
                    format!(
                        "its KV cache and activations take {bytes} bytes, over the bound of {MAX_STATE_BYTES}"
                    )
                },
            });
        }
        if n > file_ctx {
            log::warn!(
                "context {n} is longer than the file's {}.context_length {file_ctx} (the \
                 length it was trained for); past it the model may degrade",
                self.config.arch_name
            );
        }
        Ok(n)
    }

    pub fn memory_plan(&self, n_ctx: usize) -> MemoryPlan {
        MemoryPlan::new(&self.config, n_ctx)
    }

    pub fn new_state(&self, n_ctx: usize) -> Result<RunState, ModelError> {
        let mut s = RunState::new(&self.config, n_ctx)?;
        s.batch.act.threads = self.threads;
        Ok(s)
    }
}
