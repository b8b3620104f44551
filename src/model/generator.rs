//! Generators: prompt ids in, tokens out one at a time, with stop, reset, a token limit, timings
//! and the activation probe. A generator owns only what is per mode (norm vectors, KV cache,
//! sampler); weights are read from the `Model` and the file's bytes passed to each call, so two
//! generators (baseline and rescaled) share every packed weight. A prompt goes through the model
//! in batches of up to `PREFILL_CHUNK` tokens; the A/B pair runs its two modes' tokens through
//! each product as one batch (one pass over the weights for both).

use serde::Serialize;

use super::error::ModelError;
use super::forward::{forward, forward_batch, head, Pass, Sequence};
use super::sampler::{Sampler, SamplerConfig};
use super::score::PromptScore;
use super::state::{Col, Probe, RunState, HEAD_CHUNK, PREFILL_CHUNK};
use super::weights::Norms;
use super::Model;
use crate::gguf::Gguf;
use crate::norms::{CorrectionRecord, RescaleOutcome, RescalePolicy};
use crate::tokenizer::Tokenizer;

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

/// `prefill N tokens in T ms (R t/s); decode N tokens in T ms (R t/s)`.
impl std::fmt::Display for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "prefill {} tokens in {:.0} ms ({:.1} t/s); decode {} tokens in {:.0} ms ({:.2} t/s)",
            self.prefill_tokens,
            self.prefill_ms,
            self.prefill_tokens_per_s(),
            self.decode_tokens,
            self.decode_ms,
            self.decode_tokens_per_s()
        )
    }
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

/// What every generator of one run shares: one set-up for `bitlens run` and the page's
/// `ModelRunner`.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Context length (`Model::context_len`).
    pub n_ctx: usize,
    pub sampler: SamplerConfig,
    pub max_tokens: usize,
    /// Tokens that end generation (they are still returned): the tokenizer's end-of-generation
    /// ids.
    pub stop_tokens: Vec<u32>,
    /// Score every prompt token (`Generator::score_prompt`).
    pub score_prompt: bool,
    pub clock: Clock,
}

impl GenConfig {
    /// The context `ctx` (None: the default) checked against the model, the tokenizer's stop
    /// tokens, no scoring, the native clock.
    pub fn new(
        model: &Model,
        tok: &Tokenizer,
        ctx: Option<usize>,
        sampler: SamplerConfig,
        max_tokens: usize,
    ) -> Result<GenConfig, ModelError> {
        Ok(GenConfig {
            n_ctx: model.context_len(ctx)?,
            sampler,
            max_tokens,
            stop_tokens: tok.eog_ids().to_vec(),
            score_prompt: false,
            clock: default_clock,
        })
    }
}

pub struct Generator {
    pub norms: Norms,
    /// KV cache, latest logits and probe, and the activation buffers of this mode's batches.
    pub state: RunState,
    pub sampler: Sampler,
    /// Tokens that end generation (they are still returned).
    pub stop_tokens: Vec<u32>,
    pub max_tokens: usize,
    pub timings: Timings,
    pub clock: Clock,
    /// Prompt and generated tokens so far.
    pub tokens: Vec<u32>,
    /// When set, `prefill` computes the logits at every prompt position (a head product for
    /// each) and scores each next prompt token into `prompt_score`.
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

impl Sequence for Generator {
    fn parts(&mut self) -> (&Norms, &mut RunState) {
        (&self.norms, &mut self.state)
    }
}

impl Generator {
    /// A generator over `model` with its own `norms` and a KV cache for `n_ctx` positions (no
    /// stop tokens, no scoring).
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

    /// A generator with `norms` set up as `cfg` says.
    pub fn with_config(
        model: &Model,
        norms: Norms,
        cfg: &GenConfig,
    ) -> Result<Generator, ModelError> {
        let mut g = Generator::new(model, norms, cfg.n_ctx, cfg.sampler.clone(), cfg.max_tokens)?;
        g.stop_tokens = cfg.stop_tokens.clone();
        g.score_prompt = cfg.score_prompt;
        g.clock = cfg.clock;
        Ok(g)
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

    /// Runs the prompt (appended to the sequence so far) in batches of up to `PREFILL_CHUNK`
    /// tokens. The reference engines decode a prompt in one batch; per token that only changes
    /// the roundings `Pass::in_batch` selects.
    pub fn prefill(
        &mut self,
        model: &Model,
        file: &[u8],
        prompt: &[u32],
    ) -> Result<(), ModelError> {
        prefill_together(model, file, &mut [self], prompt)
    }

    /// Why no further token can come, if none can.
    fn ended(&self) -> Option<StopReason> {
        if self.stopped.is_some() {
            return self.stopped;
        }
        if self.generated >= self.max_tokens {
            return Some(StopReason::MaxTokens);
        }
        if self.pending.is_some() && self.pos >= self.state.n_ctx {
            return Some(StopReason::ContextFull);
        }
        None
    }

    /// The next token needs a forward pass (of the last one returned) first.
    fn needs_forward(&self) -> bool {
        self.pending.is_some() && self.ended().is_none()
    }

    /// The next token, or None when generation has ended (`stopped` says why).
    pub fn next_token(&mut self, model: &Model, file: &[u8]) -> Result<Option<Step>, ModelError> {
        if self.needs_forward() {
            decode_together(model, file, &mut [self])?;
        }
        Ok(self.sample())
    }

    /// Samples the next token from the latest logits (computed by the caller).
    fn sample(&mut self) -> Option<Step> {
        if let Some(reason) = self.ended() {
            self.stopped = Some(reason);
            return None;
        }
        if !self.have_logits {
            // Nothing to sample from: no prompt yet.
            return None;
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
        Some(step)
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

/// Runs the token each of `gens` returned last (`pending`) through the model, all as one batch,
/// and leaves each one's logits in its state. Every generator is charged the whole pass's time.
fn decode_together(
    model: &Model,
    file: &[u8],
    gens: &mut [&mut Generator],
) -> Result<(), ModelError> {
    let c = &model.config;
    let t0 = (gens[0].clock)();
    let mut b = std::mem::take(&mut gens[0].state.batch);
    let mut cols = std::mem::take(&mut b.cols);
    cols.clear();
    cols.extend(gens.iter().enumerate().map(|(seq, g)| Col {
        token: g.pending.expect("decode_together runs pending tokens"),
        pos: g.pos,
        seq,
    }));
    let n = cols.len();
    let run = forward_batch(model, file, &mut b, gens, &cols, false);
    if run.is_ok() {
        b.reserve_logits(c, n);
        let logits = &mut b.logits[..n * c.vocab_size];
        head(model, file, false, &b.x[..n * c.dim], &mut b.act, logits);
        let ms = (gens[0].clock)() - t0;
        for (g, l) in gens.iter_mut().zip(logits.chunks_exact(c.vocab_size)) {
            g.state.logits.copy_from_slice(l);
            g.pending = None;
            g.pos += 1;
            g.have_logits = true;
            g.timings.decode_tokens += 1;
            g.timings.decode_ms += ms;
        }
    }
    b.cols = cols;
    gens[0].state.batch = b;
    run
}

/// Runs `prompt` into every one of `gens` (each after its own sequence so far), in batches of
/// up to `PREFILL_CHUNK` columns split evenly between them, with `gens[0]`'s buffers. The logits
/// of the prompt's last token go into each state; with `score_prompt`, every prompt position's
/// logits (by `HEAD_CHUNK` columns) score the next prompt token. Every generator is charged the
/// whole prefill's time.
fn prefill_together(
    model: &Model,
    file: &[u8],
    gens: &mut [&mut Generator],
    prompt: &[u32],
) -> Result<(), ModelError> {
    for g in gens.iter_mut() {
        // The last token returned (a prompt that continues after generated text).
        if let Some(t) = g.pending.take() {
            let (pos, pass) = (
                g.pos,
                Pass {
                    in_batch: false,
                    logits: false,
                },
            );
            forward(model, &g.norms, file, &mut g.state, t, pos, pass)?;
            g.pos += 1;
        }
        if g.pos + prompt.len() > g.state.n_ctx {
            return Err(ModelError::PromptTooLong {
                tokens: prompt.len(),
                before: g.pos,
                n_ctx: g.state.n_ctx,
            });
        }
        g.prompt_score = PromptScore::default();
    }
    let t0 = (gens[0].clock)();
    let mut b = std::mem::take(&mut gens[0].state.batch);
    let mut cols = std::mem::take(&mut b.cols);
    let run = prefill_chunks(model, file, &mut b, &mut cols, gens, prompt);
    b.cols = cols;
    gens[0].state.batch = b;
    run?;
    let ms = (gens[0].clock)() - t0;
    for g in gens.iter_mut() {
        g.timings.prefill_tokens += prompt.len();
        g.timings.prefill_ms += ms;
        g.have_logits |= !prompt.is_empty();
        g.stopped = None;
    }
    Ok(())
}

fn prefill_chunks(
    model: &Model,
    file: &[u8],
    b: &mut super::state::Batch,
    cols: &mut Vec<Col>,
    gens: &mut [&mut Generator],
    prompt: &[u32],
) -> Result<(), ModelError> {
    let (dim, vocab) = (model.config.dim, model.config.vocab_size);
    let in_batch = prompt.len() >= 2;
    let per_chunk = (PREFILL_CHUNK / gens.len()).max(1);
    for (ci, chunk) in prompt.chunks(per_chunk).enumerate() {
        let start = ci * per_chunk;
        cols.clear();
        for (seq, g) in gens.iter().enumerate() {
            let at = g.pos;
            cols.extend(chunk.iter().enumerate().map(|(j, &token)| Col {
                token,
                pos: at + j,
                seq,
            }));
        }
        forward_batch(model, file, b, gens, cols, in_batch)?;
        for (seq, g) in gens.iter_mut().enumerate() {
            // Columns whose logits are needed: every one when scoring (each predicts the next
            // prompt token), else the prompt's last one.
            let ends_prompt = start + chunk.len() == prompt.len();
            let first = match (g.score_prompt, ends_prompt) {
                (true, _) => 0,
                (false, true) => chunk.len() - 1,
                (false, false) => chunk.len(),
            };
            for from in (first..chunk.len()).step_by(HEAD_CHUNK) {
                let to = (from + HEAD_CHUNK).min(chunk.len());
                b.reserve_logits(&model.config, to - from);
                let x = &b.x[(seq * chunk.len() + from) * dim..(seq * chunk.len() + to) * dim];
                let logits = &mut b.logits[..(to - from) * vocab];
                head(model, file, in_batch, x, &mut b.act, logits);
                for (j, l) in (from..to).zip(logits.chunks_exact(vocab)) {
                    let p = start + j;
                    if let Some(&next) = prompt.get(p + 1).filter(|_| g.score_prompt) {
                        g.prompt_score.push(l, next);
                    }
                    if p + 1 == prompt.len() {
                        g.state.logits.copy_from_slice(l);
                    }
                }
            }
            g.pos += chunk.len();
            g.tokens.extend_from_slice(chunk);
        }
    }
    Ok(())
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

/// The two modes of an A/B run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AbMode {
    /// The norm gammas as stored.
    Baseline,
    /// The gammas rescaled by sqrt(n) (experimental).
    Rescaled,
}

impl AbMode {
    pub const ALL: [AbMode; 2] = [AbMode::Baseline, AbMode::Rescaled];

    pub fn name(self) -> &'static str {
        match self {
            AbMode::Baseline => "baseline",
            AbMode::Rescaled => "rescaled",
        }
    }

    pub fn from_name(name: &str) -> Option<AbMode> {
        AbMode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Baseline and rescaled generators over one loaded file: they share every packed weight (the
/// `Model` and the file's bytes); each has its own norm vectors and KV cache. Whether the
/// rescaled mode exists is the `RescalePolicy`'s decision (asked for and not refused by strict
/// mode). Both modes' tokens go through each product as one batch: a prompt together, and a
/// token of each whenever either is asked for the next one and both have one to run.
pub struct AbPair {
    pub baseline: Generator,
    pub rescaled: Option<Generator>,
    /// What the policy did: applied (a rescaled mode), refused with the reason, or off.
    pub rescale: RescaleOutcome,
    /// One record per rescaled norm tensor (empty unless applied).
    pub records: Vec<CorrectionRecord>,
}

impl AbPair {
    pub fn new(
        g: &Gguf,
        file: &[u8],
        model: &Model,
        cfg: &GenConfig,
        policy: &RescalePolicy,
    ) -> Result<AbPair, ModelError> {
        let baseline = Generator::with_config(model, model.norms.clone(), cfg)?;
        let (rescaled, records) = if policy.applies() {
            let (norms, records) = Norms::load_with_policy(g, file, &model.config, policy)?;
            let mut r = Generator::with_config(model, norms, cfg)?;
            // The same seed for both, so sampling differences come from the norms alone.
            r.sampler.seed = baseline.sampler.seed;
            r.sampler.reseed();
            (Some(r), records)
        } else {
            (None, Vec::new())
        };
        Ok(AbPair {
            baseline,
            rescaled,
            rescale: policy.outcome(),
            records,
        })
    }

    pub fn get(&self, mode: AbMode) -> Option<&Generator> {
        match mode {
            AbMode::Baseline => Some(&self.baseline),
            AbMode::Rescaled => self.rescaled.as_ref(),
        }
    }

    pub fn get_mut(&mut self, mode: AbMode) -> Option<&mut Generator> {
        match mode {
            AbMode::Baseline => Some(&mut self.baseline),
            AbMode::Rescaled => self.rescaled.as_mut(),
        }
    }

    /// The modes this pair runs (baseline, and rescaled unless the policy said no).
    pub fn modes(&self) -> impl Iterator<Item = (AbMode, &Generator)> {
        AbMode::ALL
            .into_iter()
            .filter_map(|m| self.get(m).map(|g| (m, g)))
    }

    pub fn modes_mut(&mut self) -> impl Iterator<Item = &mut Generator> {
        std::iter::once(&mut self.baseline).chain(self.rescaled.as_mut())
    }

    pub fn reset(&mut self) {
        self.modes_mut().for_each(Generator::reset);
    }

    /// Runs `prompt` into every mode (each after its sequence so far), both in one batch.
    pub fn prefill(
        &mut self,
        model: &Model,
        file: &[u8],
        prompt: &[u32],
    ) -> Result<(), ModelError> {
        match &mut self.rescaled {
            Some(r) => prefill_together(model, file, &mut [&mut self.baseline, r], prompt),
            None => self.baseline.prefill(model, file, prompt),
        }
    }

    /// The next token of `mode` (None when it has ended or the pair has no such mode). When
    /// `mode` has a token to run through the model first, the other mode's waiting token (if it
    /// has one and has not ended) goes through in the same batch, and its logits wait for its
    /// own `next_token`.
    pub fn next_token(
        &mut self,
        model: &Model,
        file: &[u8],
        mode: AbMode,
    ) -> Result<Option<Step>, ModelError> {
        let b = &mut self.baseline;
        let r = self.rescaled.as_mut().filter(|r| r.needs_forward());
        let asked = match mode {
            AbMode::Baseline => b.needs_forward(),
            AbMode::Rescaled => r.is_some(),
        };
        if asked {
            match r {
                Some(r) if b.needs_forward() => decode_together(model, file, &mut [b, r])?,
                Some(r) => decode_together(model, file, &mut [r])?,
                None => decode_together(model, file, &mut [b])?,
            }
        }
        Ok(self.get_mut(mode).and_then(Generator::sample))
    }
}
