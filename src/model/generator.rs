//! Generators: prompt ids in, tokens out one at a time, with stop, reset, a token limit, timings
//! and the activation probe. A generator owns only what is per mode (norm vectors, KV cache,
//! sampler); weights are read from the `Model` and the file's bytes passed to each call, so two
//! generators (baseline and rescaled) share every packed weight.

use serde::Serialize;

use super::error::ModelError;
use super::forward::{forward, Pass};
use super::sampler::{Sampler, SamplerConfig};
use super::score::PromptScore;
use super::state::{Probe, RunState};
use super::weights::Norms;
use super::Model;
use crate::gguf::Gguf;
use crate::norms::{CorrectionRecord, RescalePolicy};

/// Milliseconds from some fixed origin. Natively a monotonic clock; in the browser the API
/// passes `performance.now()` (std's `Instant` does not exist on wasm32-unknown-unknown).
pub type Clock = fn() -> f64;

#[cfg(not(target_arch = "wasm32"))]
pub fn default_clock() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
}

#[cfg(target_arch = "wasm32")]
pub fn default_clock() -> f64 {
    0.0
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Timings {
    pub prefill_tokens: usize,
    pub prefill_ms: f64,
    pub decode_tokens: usize,
    pub decode_ms: f64,
}

impl Timings {
    pub fn prefill_tokens_per_s(&self) -> f64 {
        rate(self.prefill_tokens, self.prefill_ms)
    }

    pub fn decode_tokens_per_s(&self) -> f64 {
        rate(self.decode_tokens, self.decode_ms)
    }
}

fn rate(n: usize, ms: f64) -> f64 {
    if ms > 0.0 {
        n as f64 * 1e3 / ms
    } else {
        0.0
    }
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum StopReason {
    /// A stop token (EOS/EOT) was produced; it is the last token returned.
    StopToken,
    MaxTokens,
    ContextFull,
    /// `stop()` was called.
    Stopped,
}

/// One generated token and the activations of the forward pass whose logits chose it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub token: u32,
    /// Position of this token in the sequence.
    pub pos: usize,
    pub probe: Probe,
}

pub struct Generator {
    pub norms: Norms,
    pub state: RunState,
    pub sampler: Sampler,
    /// Tokens that end generation (they are still returned).
    pub stop_tokens: Vec<u32>,
    pub max_tokens: usize,
    pub timings: Timings,
    pub clock: Clock,
    /// Prompt and generated tokens so far.
    pub tokens: Vec<u32>,
    /// When set, `prefill` computes the logits at every prompt position (one head product each)
    /// and scores each next prompt token into `prompt_score`.
    pub score_prompt: bool,
    /// The last prompt's score (empty unless `score_prompt`).
    pub prompt_score: PromptScore,
    /// Number of tokens whose K/V are in the cache.
    pos: usize,
    generated: usize,
    /// The last token returned, not yet run through the model.
    pending: Option<u32>,
    /// True when `state.logits` belong to the latest position.
    have_logits: bool,
    pub stopped: Option<StopReason>,
}

impl Generator {
    /// A generator over `model` with its own `norms` and a KV cache for `n_ctx` positions.
    pub fn new(
        model: &Model,
        norms: Norms,
        n_ctx: usize,
        sampler: SamplerConfig,
        max_tokens: usize,
    ) -> Result<Generator, ModelError> {
        Ok(Generator {
            norms,
            state: model.new_state(n_ctx)?,
            sampler: Sampler::new(sampler),
            stop_tokens: Vec::new(),
            max_tokens,
            timings: Timings::default(),
            clock: default_clock,
            tokens: Vec::new(),
            score_prompt: false,
            prompt_score: PromptScore::default(),
            pos: 0,
            generated: 0,
            pending: None,
            have_logits: false,
            stopped: None,
        })
    }

    /// Forgets the sequence (the cache is overwritten as new positions are filled) and restarts
    /// the sampler's random stream from its seed.
    pub fn reset(&mut self) {
        self.tokens.clear();
        self.prompt_score = PromptScore::default();
        self.pos = 0;
        self.generated = 0;
        self.pending = None;
        self.have_logits = false;
        self.stopped = None;
        self.timings = Timings::default();
        self.sampler.reseed();
    }

    pub fn stop(&mut self) {
        self.stopped.get_or_insert(StopReason::Stopped);
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    fn run(
        &mut self,
        model: &Model,
        file: &[u8],
        token: u32,
        pass: Pass,
    ) -> Result<(), ModelError> {
        forward(
            model,
            &self.norms,
            file,
            &mut self.state,
            token,
            self.pos,
            pass,
        )?;
        self.pos += 1;
        self.have_logits = pass.logits;
        Ok(())
    }

    /// Runs the prompt (appended to the sequence so far). The reference engines decode a prompt
    /// in one batch; per token that only changes the roundings `Pass::in_batch` selects, so the
    /// prompt is processed token by token with that flag set.
    pub fn prefill(
        &mut self,
        model: &Model,
        file: &[u8],
        prompt: &[u32],
    ) -> Result<(), ModelError> {
        if let Some(t) = self.pending.take() {
            self.run(
                model,
                file,
                t,
                Pass {
                    in_batch: false,
                    logits: false,
                },
            )?;
        }
        let t0 = (self.clock)();
        let in_batch = prompt.len() >= 2;
        self.prompt_score = PromptScore::default();
        for (i, &t) in prompt.iter().enumerate() {
            if self.pos >= self.state.n_ctx {
                return Err(ModelError::ContextFull {
                    pos: self.pos,
                    n_ctx: self.state.n_ctx,
                });
            }
            let next = prompt.get(i + 1).filter(|_| self.score_prompt);
            let logits = next.is_some() || i + 1 == prompt.len();
            self.run(model, file, t, Pass { in_batch, logits })?;
            if let Some(&next) = next {
                self.prompt_score.push(&self.state.logits, next);
            }
            self.tokens.push(t);
        }
        self.timings.prefill_tokens += prompt.len();
        self.timings.prefill_ms += (self.clock)() - t0;
        self.stopped = None;
        Ok(())
    }

    /// The next token, or None when generation has ended (`stopped` says why).
    pub fn next_token(&mut self, model: &Model, file: &[u8]) -> Result<Option<Step>, ModelError> {
        if self.stopped.is_some() {
            return Ok(None);
        }
        if self.generated >= self.max_tokens {
            self.stopped = Some(StopReason::MaxTokens);
            return Ok(None);
        }
        if let Some(t) = self.pending.take() {
            if self.pos >= self.state.n_ctx {
                self.stopped = Some(StopReason::ContextFull);
                return Ok(None);
            }
            let t0 = (self.clock)();
            self.run(
                model,
                file,
                t,
                Pass {
                    in_batch: false,
                    logits: true,
                },
            )?;
            self.timings.decode_tokens += 1;
            self.timings.decode_ms += (self.clock)() - t0;
        }
        if !self.have_logits {
            // Nothing to sample from: no prompt yet.
            return Ok(None);
        }
        let token = self.sampler.sample(&mut self.state.logits, &self.tokens);
        self.have_logits = false;
        self.tokens.push(token);
        self.generated += 1;
        let step = Step {
            token,
            pos: self.pos,
            probe: self.state.probe.clone(),
        };
        if self.stop_tokens.contains(&token) {
            self.stopped = Some(StopReason::StopToken);
        } else {
            self.pending = Some(token);
        }
        Ok(Some(step))
    }

    /// An iterator over the remaining tokens (native convenience).
    pub fn tokens_iter<'a>(&'a mut self, model: &'a Model, file: &'a [u8]) -> TokenIter<'a> {
        TokenIter {
            gen: self,
            model,
            file,
        }
    }
}

pub struct TokenIter<'a> {
    gen: &'a mut Generator,
    model: &'a Model,
    file: &'a [u8],
}

impl Iterator for TokenIter<'_> {
    type Item = Result<Step, ModelError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.gen.next_token(self.model, self.file).transpose()
    }
}

/// The end-of-generation tokens a file declares (EOS, EOT), for `Generator::stop_tokens`.
pub fn stop_tokens(g: &Gguf) -> Vec<u32> {
    let mut out = Vec::new();
    for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"] {
        if let Some(id) = g.get_u64(key) {
            if !out.contains(&(id as u32)) {
                out.push(id as u32);
            }
        }
    }
    // LLaMA-3 and ChatML vocabularies end turns with these even when no key names them.
    if let Some(tokens) = g
        .get_array("tokenizer.ggml.tokens")
        .and_then(|a| a.as_strings())
    {
        for special in ["<|eot_id|>", "<|im_end|>", "<|end_of_text|>"] {
            if let Some(i) = tokens.iter().position(|t| t == special) {
                if !out.contains(&(i as u32)) {
                    out.push(i as u32);
                }
            }
        }
    }
    out
}

/// Baseline and rescaled generators over one loaded file: they share every packed weight (the
/// `Model` and the file's bytes); each has its own norm vectors and KV cache.
pub struct AbPair {
    pub baseline: Generator,
    pub rescaled: Generator,
    pub records: Vec<CorrectionRecord>,
}

impl AbPair {
    pub fn new(
        g: &Gguf,
        file: &[u8],
        model: &Model,
        n_ctx: usize,
        sampler: SamplerConfig,
        max_tokens: usize,
    ) -> Result<AbPair, ModelError> {
        let (rescaled_norms, records) =
            Norms::load_with_policy(g, file, &model.config, &RescalePolicy::new(true, false))?;
        let mut baseline = Generator::new(
            model,
            model.norms.clone(),
            n_ctx,
            sampler.clone(),
            max_tokens,
        )?;
        let mut rescaled = Generator::new(model, rescaled_norms, n_ctx, sampler, max_tokens)?;
        // The same seed for both, so sampling differences come from the norms alone.
        rescaled.sampler.seed = baseline.sampler.seed;
        rescaled.sampler.reseed();
        let stops = stop_tokens(g);
        baseline.stop_tokens = stops.clone();
        rescaled.stop_tokens = stops;
        Ok(AbPair {
            baseline,
            rescaled,
            records,
        })
    }
}
