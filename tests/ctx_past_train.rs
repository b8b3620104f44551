//! A context longer than the file's (`context_length` 128 in the TQ2_0 fixture), as llama.cpp
//! allows: held-out goldens from mainline llama.cpp at n_ctx 512 (tools/ctx_goldens.py), 200
//! positions each. Greedy ids and every logit compared bit for bit: a batched prefill and
//! generator steps past position 128, and a 150-token prompt in one batch of 150 columns.
#![cfg(not(target_arch = "wasm32"))]

use bitlens::gguf::Gguf;
use bitlens::model::{
    forward, forward_batch, head, Batch, Col, GenConfig, Generator, Model, Pass, SamplerConfig,
};
use bitlens::tokenizer::Tokenizer;
use serde_json::Value;

#[path = "common/model_parity.rs"]
mod model_parity;

use model_parity::ids;

const TQ2: &[u8] = include_bytes!("fixtures/bitnet-tiny-tq2_0.gguf");
const GOLDEN: &str = include_str!("data/ctx/tq2_0-n_ctx-512.json");

/// Rows of `vocab` logits from little-endian float32 hex, as bits.
fn rows(hex: &Value, vocab: usize) -> Vec<Vec<u32>> {
    let hex = hex.as_str().unwrap().as_bytes();
    let bytes: Vec<u8> = hex
        .chunks_exact(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect();
    let words: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    words.chunks_exact(vocab).map(<[u32]>::to_vec).collect()
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

fn setup() -> (Value, Model, GenConfig) {
    let golden: Value = serde_json::from_str(GOLDEN).unwrap();
    let g = Gguf::parse(TQ2).unwrap();
    let m = Model::load(&g, TQ2).unwrap();
    assert_eq!(m.config.train_ctx, 128);
    assert_eq!(golden["n_ctx_train"], 128);
    assert_eq!(golden["n_ctx"], 512);
    let tok = Tokenizer::from_gguf(&g).unwrap();
    let cfg = GenConfig::new(&m, &tok, Some(512), SamplerConfig::greedy(), 1000).unwrap();
    assert_eq!(cfg.n_ctx, 512);
    (golden, m, cfg)
}

#[test]
fn greedy_past_the_files_context_matches_llama_cpp() {
    let (golden, m, mut cfg) = setup();
    let case = &golden["cases"][0];
    assert_eq!(case["name"], "greedy");
    let prompt = ids(&case["prompt_ids"]);
    let want = ids(&case["greedy_ids"]);
    let want_logits = rows(&case["step_logits_hex"], m.config.vocab_size);
    assert_eq!(prompt.len() + want.len(), 200);
    cfg.max_tokens = want.len();
    cfg.stop_tokens.clear();
    let mut gen = Generator::with_config(&m, m.norms.clone(), &cfg).unwrap();
    gen.prefill(&m, TQ2, &prompt).unwrap();
    let mut got = Vec::new();
    while let Some(step) = gen.next_token(&m, TQ2).unwrap() {
        let i = got.len();
        assert!(
            bits(&gen.state.logits) == want_logits[i],
            "logits of step {i} (position {})",
            step.pos
        );
        got.push(step.token);
    }
    assert_eq!(got, want);
    assert!(gen.position() >= 199 && gen.position() > 128);
}

#[test]
fn forced_prompt_past_the_files_context_in_one_batch_matches_llama_cpp() {
    let (golden, m, cfg) = setup();
    let case = &golden["cases"][1];
    assert_eq!(case["name"], "forced");
    let vocab = m.config.vocab_size;
    let prompt = ids(&case["prompt_ids"]);
    let forced = ids(&case["forced_ids"]);
    let want_prompt = rows(&case["prompt_logits_hex"], vocab);
    let want_steps = rows(&case["step_logits_hex"], vocab);
    assert_eq!((prompt.len(), forced.len()), (150, 50));

    // The whole prompt as one batch of 150 columns, every position's logits.
    let mut s = m.new_state(cfg.n_ctx).unwrap();
    let mut b = Batch::default();
    let cols: Vec<Col> = prompt
        .iter()
        .enumerate()
        .map(|(pos, &token)| Col { token, pos, seq: 0 })
        .collect();
    forward_batch(&m, TQ2, &mut b, &mut [(&m.norms, &mut s)], &cols, true).unwrap();
    let mut logits = vec![0f32; prompt.len() * vocab];
    let x = &b.x[..prompt.len() * m.config.dim];
    head(&m, TQ2, true, x, &mut b.act, &mut logits);
    for (p, (got, want)) in logits.chunks_exact(vocab).zip(&want_prompt).enumerate() {
        assert!(bits(got) == *want, "prompt logits at position {p}");
    }

    // Then one token at a time.
    for (i, &t) in forced.iter().enumerate() {
        let pass = Pass {
            in_batch: false,
            logits: true,
        };
        forward(&m, &m.norms, TQ2, &mut s, t, prompt.len() + i, pass).unwrap();
        assert!(
            bits(&s.logits) == want_steps[i],
            "logits after forced token {i} (position {})",
            prompt.len() + i
        );
    }
}
