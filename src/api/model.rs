//! Running the model in the page: `ModelRunner` holds the loaded model (weights as views into
//! the `GgufFile`'s one buffer), the tokenizer and two generators, baseline and rescaled, which
//! share every packed weight and differ only in their norm vectors (and KV caches). Every call
//! that computes takes the `GgufFile` the runner was loaded from, so the file's bytes are never
//! copied or held twice.
//!
//! ```js
//! const r = ModelRunner.load(file, { ctx: 512, maxTokens: 64, temperature: 0 });
//! r.prompt(file, "The capital of France is", false);   // prefills both modes
//! let step;
//! while ((step = r.nextToken(file, "baseline"))) console.log(step.text, step.probe);
//! ```
//!
//! Options: `{ctx?, maxTokens?, temperature?, topK?, topP?, repeatPenalty?, seed?, rescale?,
//! strict?, ab?, isa?, scorePrompt?, threads?}`; `threads` (threaded build) splits each
//! product's rows over the page's pool, with the same bits for any count; `temperature: 0` is greedy; `ctx` may exceed the file's
//! context length (a warning is logged, as llama.cpp does; `MAX_STATE_BYTES` bounds it);
//! `rescale` (default true) asks for the rescaled mode next to the baseline and `strict`
//! (default false) refuses it: the core's `RescalePolicy` decides, and `info().rescale` says
//! what it did (`{status: "applied" | "off" | "refused_by_strict", reason?}`) with `modes` (the
//! modes that run) and `rescaleRecords`; `ab` is the older name of `rescale` (used when
//! `rescale` is absent);
//! `scorePrompt: true` scores every prompt token under each mode (`promptScore(mode)`:
//! per-token negative log-likelihood, mean, perplexity; one head product per prompt token); `isa` ("avx2",
//! the default, or "avx512") picks which x86 build of the reference engine to mirror bit for bit
//! (their float sums and `expf` round differently; see `Isa`). `threads` (default 1) splits the
//! large products' rows over that many threads in the threaded build (same bits for any count;
//! the one-thread builds ignore it).

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::js::js_error;
use super::GgufFile;
use crate::model::{
    AbMode, AbPair, Config, GenConfig, Generator, Isa, MemoryPlan, Model, ModelError, Probe,
    SamplerConfig, ScoreSummary, StopReason, Timings,
};
use crate::norms::{CorrectionRecord, RescaleOutcome, RescalePolicy};
use crate::tokenizer::{ChatMessage, StreamDecoder, Tokenizer};

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
struct RunOptions {
    ctx: Option<usize>,
    max_tokens: usize,
    temperature: f32,
    top_k: usize,
    top_p: f32,
    repeat_penalty: f32,
    seed: Option<f64>,
    rescale: Option<bool>,
    strict: bool,
    ab: Option<bool>,
    isa: Option<String>,
    score_prompt: bool,
    threads: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        let s = SamplerConfig::default();
        RunOptions {
            ctx: None,
            max_tokens: 256,
            temperature: s.temperature,
            top_k: s.top_k,
            top_p: s.top_p,
            repeat_penalty: s.repeat_penalty,
            seed: None,
            rescale: None,
            strict: false,
            ab: None,
            isa: None,
            score_prompt: false,
            threads: 1,
        }
    }
}

/// Plain JS values: every count here is far below 2^53, so numbers, never BigInts.
pub(super) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error("internal", &format!("cannot convert to JS: {e}")))
}

fn model_error(e: ModelError) -> JsValue {
    js_error("model", &e.to_string())
}

/// `performance.now()` where there is one (window and workers), else `Date.now()`.
pub(super) fn now_ms() -> f64 {
    let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .filter(|p| !p.is_undefined());
    if let Some(p) = perf {
        if let Ok(f) = js_sys::Reflect::get(&p, &"now".into()) {
            if let Ok(v) = js_sys::Function::from(f).call0(&p) {
                if let Some(ms) = v.as_f64() {
                    return ms;
                }
            }
        }
    }
    js_sys::Date::now()
}

#[wasm_bindgen]
pub struct ModelRunner {
    model: Model,
    tokenizer: Tokenizer,
    n_ctx: usize,
    /// Baseline and (when the policy allows it) rescaled generators, stepped together.
    pair: AbPair,
    /// Each mode's text decoder (baseline, rescaled).
    decoders: [StreamDecoder; 2],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InfoJs<'a> {
    config: &'a Config,
    engine: &'a crate::model::Engine,
    /// The reference build whose roundings are mirrored: "avx2" or "avx512".
    isa: &'static str,
    /// The layout of a chat prompt (`prompt(.., chat = true)`): "bitnet", "chatml" or "llama3".
    chat_template: &'static str,
    n_ctx: usize,
    memory: MemoryPlan,
    /// Bytes each generator holds besides the shared weights: norms + KV cache + activations.
    per_mode_bytes: f64,
    seed: f64,
    /// True when the rescaled mode runs.
    ab: bool,
    /// The modes that run: "baseline", and "rescaled" when the rescale was applied.
    modes: Vec<&'static str>,
    /// What the rescale policy did: `{status: "applied" | "off" | "refused_by_strict", reason?}`.
    rescale: &'a RescaleOutcome,
    rescale_records: &'a [CorrectionRecord],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StepJs<'a> {
    token: u32,
    /// The text this token completes (may be empty while a character is split over tokens).
    text: String,
    pos: usize,
    is_end_of_generation: bool,
    probe: &'a Probe,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusJs {
    timings: Timings,
    prefill_tokens_per_s: f64,
    decode_tokens_per_s: f64,
    stop_reason: Option<StopReason>,
    position: usize,
}

/// The mode called `name`.
fn mode_named(name: &str) -> Result<AbMode, JsValue> {
    AbMode::from_name(name).ok_or_else(|| {
        js_error(
            "bad_argument",
            &format!("mode '{name}' (expected \"baseline\" or \"rescaled\")"),
        )
    })
}

impl ModelRunner {
    fn gen(&mut self, name: &str) -> Result<&mut Generator, JsValue> {
        let mode = mode_named(name)?;
        let rescale = self.pair.rescale.label();
        self.pair.get_mut(mode).ok_or_else(|| {
            js_error(
                "bad_argument",
                &format!("this runner has no {name} mode (rescale: {rescale})"),
            )
        })
    }

    fn file_bytes<'a>(&self, file: &'a GgufFile) -> Result<&'a [u8], JsValue> {
        if !file.is_complete() {
            return Err(js_error("incomplete", "the file has not finished loading"));
        }
        Ok(file.bytes())
    }
}

#[wasm_bindgen]
impl ModelRunner {
    /// Loads the model from a completely loaded `file`. Throws (kind `model`) with a message
    /// naming the key or tensor when the file cannot be run.
    pub fn load(file: &GgufFile, options: JsValue) -> Result<ModelRunner, JsValue> {
        super::init();
        let o: RunOptions = if options.is_undefined() || options.is_null() {
            RunOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| js_error("bad_argument", &format!("run options: {e}")))?
        };
        if !file.is_complete() {
            return Err(js_error("incomplete", "the file has not finished loading"));
        }
        let g = file.header()?;
        let bytes = file.bytes();
        let mut model = Model::load_in(g, bytes, file.i2s_layout()).map_err(model_error)?;
        if let Some(name) = &o.isa {
            model.isa = Isa::from_name(name).map_err(|e| js_error("bad_argument", &e))?;
        }
        model.threads = o.threads.max(1);
        let tokenizer =
            Tokenizer::from_gguf(g).map_err(|e| js_error("tokenizer", &e.to_string()))?;
        let sampler = SamplerConfig {
            temperature: o.temperature,
            top_k: o.top_k,
            top_p: o.top_p,
            repeat_penalty: o.repeat_penalty,
            repeat_last_n: 64,
            seed: o.seed.map(|s| s as u64),
        };
        let mut cfg = GenConfig::new(&model, &tokenizer, o.ctx, sampler, o.max_tokens)
            .map_err(model_error)?;
        cfg.score_prompt = o.score_prompt;
        cfg.clock = now_ms;
        let rescale = o.rescale.or(o.ab).unwrap_or(true);
        let policy = RescalePolicy::new(rescale, o.strict);
        policy.log_decision();
        let pair = AbPair::new(g, bytes, &model, &cfg, &policy).map_err(model_error)?;
        let decoders = [
            tokenizer.stream_decoder(false),
            tokenizer.stream_decoder(false),
        ];
        Ok(ModelRunner {
            model,
            n_ctx: cfg.n_ctx,
            tokenizer,
            pair,
            decoders,
        })
    }

    /// `{config, engine, isa, chatTemplate, nCtx, memory, perModeBytes, seed, ab, rescaleRecords}`.
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let memory = self.model.memory_plan(self.n_ctx);
        to_js(&InfoJs {
            config: &self.model.config,
            engine: &self.model.engine,
            isa: self.model.isa.name(),
            chat_template: self.tokenizer.chat.name(),
            n_ctx: self.n_ctx,
            memory,
            per_mode_bytes: (memory.total() + self.pair.baseline.norms.bytes() as u64) as f64,
            seed: self.pair.baseline.sampler.seed as f64,
            ab: self.pair.rescaled.is_some(),
            modes: self.pair.modes().map(|(m, _)| m.name()).collect(),
            rescale: &self.pair.rescale,
            rescale_records: &self.pair.records,
        })
    }

    /// Tokenizes `text` (as the chat template's user turn when `chat`), resets both modes and
    /// prefills them with it. Returns the prompt ids.
    pub fn prompt(&mut self, file: &GgufFile, text: &str, chat: bool) -> Result<Vec<u32>, JsValue> {
        let text = if chat {
            self.tokenizer
                .chat
                .format(&[ChatMessage::new("user", text)], true)
        } else {
            text.to_string()
        };
        let ids = self.tokenizer.encode(&text, true, true);
        self.prompt_ids(file, ids.clone())?;
        Ok(ids)
    }

    /// Resets both modes and prefills them with token ids (both modes' tokens in one batch).
    #[wasm_bindgen(js_name = promptIds)]
    pub fn prompt_ids(&mut self, file: &GgufFile, ids: Vec<u32>) -> Result<(), JsValue> {
        if ids.is_empty() {
            return Err(js_error("bad_argument", "the prompt has no tokens"));
        }
        let bytes = self.file_bytes(file)?;
        self.pair.reset();
        self.decoders = [0, 1].map(|_| self.tokenizer.stream_decoder(false));
        self.pair
            .prefill(&self.model, bytes, &ids)
            .map_err(model_error)
    }

    /// The next token of `mode` ("baseline" or "rescaled"): `{token, text, pos,
    /// isEndOfGeneration, probe}`, or `undefined` when that mode has finished. Asking one mode
    /// runs the other's waiting token through the weights in the same pass, so asking each in
    /// turn reads the weights once per pair of tokens.
    #[wasm_bindgen(js_name = nextToken)]
    pub fn next_token(&mut self, file: &GgufFile, mode: &str) -> Result<JsValue, JsValue> {
        let bytes = self.file_bytes(file)?;
        self.gen(mode)?;
        let mode = mode_named(mode)?;
        let Some(step) = self
            .pair
            .next_token(&self.model, bytes, mode)
            .map_err(model_error)?
        else {
            return Ok(JsValue::UNDEFINED);
        };
        let tok = &self.tokenizer;
        let dec = &mut self.decoders[mode as usize];
        let eog = tok.is_eog(step.token);
        let mut text = if eog {
            String::new()
        } else {
            dec.push(tok, step.token)
                .map_err(|e| js_error("tokenizer", &e.to_string()))?
        };
        if self.pair.get(mode).is_some_and(|g| g.stopped.is_some()) {
            text.push_str(&dec.flush());
        }
        to_js(&StepJs {
            token: step.token,
            text,
            pos: step.pos,
            is_end_of_generation: eog,
            probe: &step.probe,
        })
    }

    /// `{timings, prefillTokensPerS, decodeTokensPerS, stopReason, position}` of `mode` (cheap:
    /// the page asks after every token). In a pair each mode's times are those of the passes
    /// that ran it (shared with the other mode).
    pub fn status(&mut self, mode: &str) -> Result<JsValue, JsValue> {
        let g = self.gen(mode)?;
        to_js(&StatusJs {
            timings: g.timings,
            prefill_tokens_per_s: g.timings.prefill_tokens_per_s(),
            decode_tokens_per_s: g.timings.decode_tokens_per_s(),
            stop_reason: g.stopped,
            position: g.position(),
        })
    }

    /// The last prompt's score under `mode`: `{tokens, meanNll, perplexity, nll}` (per-token
    /// negative log-likelihoods in nats), or null unless loaded with `scorePrompt`.
    #[wasm_bindgen(js_name = promptScore)]
    pub fn prompt_score(&mut self, mode: &str) -> Result<JsValue, JsValue> {
        let summary: Option<ScoreSummary> = self.gen(mode)?.prompt_score.summary();
        to_js(&summary)
    }

    /// Ends generation of `mode`; the next `nextToken` returns `undefined`.
    pub fn stop(&mut self, mode: &str) -> Result<(), JsValue> {
        self.gen(mode)?.stop();
        Ok(())
    }

    /// Forgets both sequences.
    pub fn reset(&mut self) {
        self.pair.reset();
    }

    /// Changes the token limit of both modes.
    #[wasm_bindgen(js_name = setMaxTokens)]
    pub fn set_max_tokens(&mut self, n: usize) {
        for g in self.pair.modes_mut() {
            g.max_tokens = n;
        }
    }
}
