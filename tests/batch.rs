//! Batched forward passes give exactly the bits of one token at a time: a prompt prefilled in
//! batches (`PREFILL_CHUNK` columns, across chunk boundaries) against `forward` token by token,
//! on both engines' numerics (bitnet.cpp's I2_S, mainline's TQ2_0), with and without prompt
//! scoring; and the A/B pair stepped together (one batch of two per pass) against its two modes
//! run as separate generators: ids, logits, probes, scores, stop reasons, per-mode limits, Stop.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use bitlens::gguf::Gguf;
use bitlens::model::sampler::argmax;
use bitlens::model::score::nll;
use bitlens::model::{
    forward, AbMode, AbPair, GenConfig, Generator, Model, ModelError, Pass, Probe, SamplerConfig,
    Step, StopReason, PREFILL_CHUNK,
};
use bitlens::norms::RescalePolicy;
use bitlens::tokenizer::Tokenizer;

const I2S: &[u8] = include_bytes!("fixtures/bitnet-b158-tiny-i2_s.gguf");
const TQ2: &[u8] = include_bytes!("fixtures/bitnet-tiny-tq2_0.gguf");

fn load(file: &[u8]) -> (Gguf, Model) {
    let g = Gguf::parse(file).unwrap();
    let m = Model::load(&g, file).unwrap();
    (g, m)
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// A prompt of `n` ids from a fixed pseudo-random stream (BOS first).
fn prompt(n: usize, vocab: usize, bos: u32) -> Vec<u32> {
    let mut rng = common::Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = vec![bos];
    while out.len() < n {
        out.push(rng.below(vocab as u64) as u32);
    }
    out
}

/// What one token-at-a-time run produces: prompt scores, then per greedy step the logits'
/// bits, the id and the probe.
#[derive(Debug, PartialEq)]
struct Trace {
    nll: Vec<u64>,
    steps: Vec<(Vec<u32>, u32, Probe)>,
}

/// The prompt through `forward` one token at a time (the reference path), then `steps` greedy
/// tokens.
fn one_at_a_time(m: &Model, file: &[u8], prompt: &[u32], steps: usize, score: bool) -> Trace {
    let mut s = m.new_state(256).unwrap();
    let in_batch = prompt.len() >= 2;
    let mut nlls = Vec::new();
    for (p, &t) in prompt.iter().enumerate() {
        let next = prompt.get(p + 1).filter(|_| score);
        let logits = next.is_some() || p + 1 == prompt.len();
        forward(m, &m.norms, file, &mut s, t, p, Pass { in_batch, logits }).unwrap();
        if let Some(&next) = next {
            nlls.push(nll(&s.logits, next).to_bits());
        }
    }
    let mut out = Vec::new();
    for i in 0..steps {
        let id = argmax(&s.logits);
        out.push((bits(&s.logits), id, s.probe.clone()));
        let pass = Pass {
            in_batch: false,
            logits: true,
        };
        forward(m, &m.norms, file, &mut s, id, prompt.len() + i, pass).unwrap();
    }
    Trace {
        nll: nlls,
        steps: out,
    }
}

/// The same through `Generator` (batched prefill, then its decode). After `next_token` the
/// state's logits are those the token was chosen from (greedy sampling leaves them unchanged).
fn generator(m: &Model, file: &[u8], prompt: &[u32], steps: usize, score: bool) -> Trace {
    let mut gen = Generator::new(m, m.norms.clone(), 256, SamplerConfig::greedy(), steps).unwrap();
    gen.score_prompt = score;
    gen.prefill(m, file, prompt).unwrap();
    let mut out = Vec::new();
    while let Some(step) = gen.next_token(m, file).unwrap() {
        out.push((bits(&gen.state.logits), step.token, step.probe));
    }
    Trace {
        nll: gen.prompt_score.nll.iter().map(|v| v.to_bits()).collect(),
        steps: out,
    }
}

#[test]
fn batched_prefill_is_token_by_token_bit_for_bit() {
    for (file, name) in [(I2S, "I2_S / bitnet.cpp"), (TQ2, "TQ2_0 / llama.cpp")] {
        let (_, m) = load(file);
        let c = &m.config;
        for n in [
            1,
            2,
            5,
            PREFILL_CHUNK - 1,
            PREFILL_CHUNK,
            2 * PREFILL_CHUNK + 7,
        ] {
            let p = prompt(n, c.vocab_size, 1);
            for score in [false, true] {
                let want = one_at_a_time(&m, file, &p, 6, score);
                let got = generator(&m, file, &p, 6, score);
                assert_eq!(got.nll, want.nll, "{name}, {n} tokens, score {score}");
                assert_eq!(got.nll.len(), if score { n - 1 } else { 0 });
                assert_eq!(got.steps.len(), 6);
                for (i, (g, w)) in got.steps.iter().zip(&want.steps).enumerate() {
                    assert!(g.0 == w.0, "{name}, {n} tokens: logits of step {i}");
                    assert_eq!(g.1, w.1, "{name}, {n} tokens: id of step {i}");
                    assert_eq!(g.2, w.2, "{name}, {n} tokens: probe of step {i}");
                }
            }
        }
    }
}

/// Each mode's steps with the logits each was sampled from.
type Run = Vec<(Step, Vec<u32>)>;

fn pair(file: &[u8], sampler: SamplerConfig, max_tokens: usize) -> (Model, AbPair) {
    let (g, m) = load(file);
    let tok = Tokenizer::from_gguf(&g).unwrap();
    let mut cfg = GenConfig::new(&m, &tok, Some(256), sampler, max_tokens).unwrap();
    cfg.score_prompt = true;
    cfg.stop_tokens.clear();
    let ab = AbPair::new(&g, file, &m, &cfg, &RescalePolicy::new(true, false)).unwrap();
    (m, ab)
}

/// The pair's modes as two separate generators (the path before the pair stepped together).
fn separately(
    m: &Model,
    file: &[u8],
    ab: &AbPair,
    prompt: &[u32],
    stop_rescaled_after: Option<usize>,
) -> [Run; 2] {
    AbMode::ALL.map(|mode| {
        let src = ab.get(mode).unwrap();
        let mut gen = Generator::new(
            m,
            src.norms.clone(),
            src.state.n_ctx,
            src.sampler.config.clone(),
            src.max_tokens,
        )
        .unwrap();
        gen.sampler.seed = src.sampler.seed;
        gen.sampler.reseed();
        gen.score_prompt = true;
        gen.prefill(m, file, prompt).unwrap();
        let mut run = Vec::new();
        while let Some(step) = gen.next_token(m, file).unwrap() {
            let l = bits(&gen.state.logits);
            run.push((step, l));
            if mode == AbMode::Rescaled && Some(run.len()) == stop_rescaled_after {
                gen.stop();
            }
        }
        run
    })
}

/// Steps the pair, asking the modes in the order `order` gives for each round.
fn together(
    m: &Model,
    file: &[u8],
    ab: &mut AbPair,
    prompt: &[u32],
    order: &[AbMode],
    stop_rescaled_after: Option<usize>,
) -> [Run; 2] {
    ab.prefill(m, file, prompt).unwrap();
    let mut runs: [Run; 2] = [Vec::new(), Vec::new()];
    loop {
        let mut any = false;
        for &mode in order {
            if let Some(step) = ab.next_token(m, file, mode).unwrap() {
                let l = bits(&ab.get(mode).unwrap().state.logits);
                runs[mode as usize].push((step, l));
                any = true;
                if mode == AbMode::Rescaled && Some(runs[1].len()) == stop_rescaled_after {
                    ab.rescaled.as_mut().unwrap().stop();
                }
            }
        }
        if !any {
            return runs;
        }
    }
}

#[test]
fn ab_pair_together_equals_two_generators() {
    let sampled = SamplerConfig {
        seed: Some(7),
        ..SamplerConfig::default()
    };
    for (file, sampler) in [
        (I2S, SamplerConfig::greedy()),
        (I2S, sampled.clone()),
        (TQ2, sampled),
    ] {
        let (m, mut ab) = pair(file, sampler, 12);
        let p = prompt(PREFILL_CHUNK / 2 + 9, m.config.vocab_size, 1);
        let orders: [&[AbMode]; 3] = [
            &[AbMode::Baseline, AbMode::Rescaled],
            &[AbMode::Rescaled, AbMode::Baseline],
            &[AbMode::Baseline, AbMode::Baseline, AbMode::Rescaled],
        ];
        for order in orders {
            // Same limits: both modes run to max tokens.
            ab.reset();
            let want = separately(&m, file, &ab, &p, None);
            let got = together(&m, file, &mut ab, &p, order, None);
            assert_eq!(got, want, "{order:?}");
            assert_eq!(got[0].len(), 12);
            for mode in AbMode::ALL {
                let g = ab.get(mode).unwrap();
                assert_eq!(g.stopped, Some(StopReason::MaxTokens));
                assert_eq!(g.timings.decode_tokens, 11);
                assert_eq!(g.prompt_score.tokens(), p.len() - 1);
            }

            // The rescaled mode ends first (a lower limit): the baseline goes on alone.
            ab.reset();
            ab.rescaled.as_mut().unwrap().max_tokens = 4;
            let want = separately(&m, file, &ab, &p, None);
            let got = together(&m, file, &mut ab, &p, order, None);
            assert_eq!(got, want, "{order:?}, rescaled limit 4");
            assert_eq!((got[0].len(), got[1].len()), (12, 4));

            // Stop on the rescaled mode after its 3rd token.
            ab.reset();
            ab.rescaled.as_mut().unwrap().max_tokens = 99;
            ab.baseline.max_tokens = 10;
            let want = separately(&m, file, &ab, &p, Some(3));
            let got = together(&m, file, &mut ab, &p, order, Some(3));
            assert_eq!(got, want, "{order:?}, Stop after 3");
            assert_eq!((got[0].len(), got[1].len()), (10, 3));
            assert_eq!(
                ab.rescaled.as_ref().unwrap().stopped,
                Some(StopReason::Stopped)
            );
            ab.baseline.max_tokens = 12;
            ab.rescaled.as_mut().unwrap().max_tokens = 12;
        }
    }
}

#[test]
fn pair_and_prompt_errors() {
    let (m, mut ab) = pair(I2S, SamplerConfig::greedy(), 4);
    // A prompt longer than the context names both lengths.
    let long = prompt(300, m.config.vocab_size, 1);
    let err = ab.prefill(&m, I2S, &long).unwrap_err();
    assert_eq!(
        err,
        ModelError::PromptTooLong {
            tokens: 300,
            before: 0,
            n_ctx: 256
        }
    );
    assert_eq!(
        err.to_string(),
        "the prompt has 300 tokens, more than the context of 256"
    );
    // No rescaled mode: asking for it gives nothing; the baseline runs.
    let (g, _) = load(I2S);
    let tok = Tokenizer::from_gguf(&g).unwrap();
    let cfg = GenConfig::new(&m, &tok, None, SamplerConfig::greedy(), 2).unwrap();
    let mut solo = AbPair::new(&g, I2S, &m, &cfg, &RescalePolicy::new(true, true)).unwrap();
    solo.prefill(&m, I2S, &[1, 2, 3]).unwrap();
    assert!(solo
        .next_token(&m, I2S, AbMode::Rescaled)
        .unwrap()
        .is_none());
    assert!(solo
        .next_token(&m, I2S, AbMode::Baseline)
        .unwrap()
        .is_some());
}
