//! Row-parallel products give the same bits for any thread count: greedy ids, every step's
//! logits and the prompt's per-token NLLs with 1, 2 and 3 threads, on both fixtures (whose
//! 256 x 256 products are just large enough to be split) and on the real SmolLM2 file.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use bitlens::gguf::Gguf;
use bitlens::kernels::par::MIN_PARALLEL_WEIGHTS;
use bitlens::model::{Generator, Isa, Model, SamplerConfig};
use serde_json::Value;

#[path = "common/model_parity.rs"]
mod model_parity;

/// Greedy ids, each step's logits (as bits) and the prompt NLLs (as bits).
type Run = (Vec<u32>, Vec<Vec<u32>>, Vec<u64>);

fn run(model: &Model, file: &[u8], prompt: &[u32], steps: usize) -> Run {
    let mut gen = Generator::new(
        model,
        model.norms.clone(),
        128,
        SamplerConfig::greedy(),
        steps,
    )
    .unwrap();
    assert_eq!(gen.state.act.threads, model.threads);
    gen.score_prompt = true;
    gen.prefill(model, file, prompt).unwrap();
    let (mut ids, mut logits) = (Vec::new(), Vec::new());
    while let Some(step) = gen.next_token(model, file).unwrap() {
        ids.push(step.token);
        logits.push(gen.state.logits.iter().map(|v| v.to_bits()).collect());
    }
    let nll = gen.prompt_score.nll.iter().map(|v| v.to_bits()).collect();
    (ids, logits, nll)
}

fn same_for_any_thread_count(file: &[u8], isa: Isa, prompt: &[u32], steps: usize) {
    let g = Gguf::parse(file).unwrap();
    let mut model = Model::load(&g, file).unwrap();
    model.isa = isa;
    let c = &model.config;
    // The projections and head are split (else this would test nothing).
    assert!(c.dim * c.dim >= MIN_PARALLEL_WEIGHTS && c.vocab_size * c.dim >= MIN_PARALLEL_WEIGHTS);
    let one = run(&model, file, prompt, steps);
    assert_eq!(one.0.len(), steps);
    assert_eq!(one.2.len(), prompt.len() - 1);
    for threads in [2, 3] {
        model.threads = threads;
        let many = run(&model, file, prompt, steps);
        assert_eq!(many.0, one.0, "{threads} threads: ids");
        assert!(many.1 == one.1, "{threads} threads: logits differ");
        assert_eq!(many.2, one.2, "{threads} threads: prompt NLLs");
    }
}

fn fixture_case(name: &str) -> (Vec<u8>, Vec<u32>) {
    let file = common::read_fixture(&format!("fixtures/{name}.gguf"));
    let golden: Value = serde_json::from_slice(&common::read_fixture(&format!(
        "fixtures/{name}.golden.json"
    )))
    .unwrap();
    let prompt = model_parity::ids(&golden["cases"][0]["prompt_ids"]);
    (file, prompt)
}

#[test]
fn i2s_fixture_same_bits_for_any_thread_count() {
    let (file, prompt) = fixture_case("bitnet-b158-tiny-i2_s");
    same_for_any_thread_count(&file, Isa::Avx2, &prompt, 12);
}

#[test]
fn tq2_fixture_same_bits_for_any_thread_count() {
    let (file, prompt) = fixture_case("bitnet-tiny-tq2_0");
    same_for_any_thread_count(&file, Isa::Avx2, &prompt, 12);
}

#[test]
fn smollm2_same_bits_for_any_thread_count() {
    let file = common::read_smollm2();
    // Token ids of "The capital of France is" (any ids in the vocabulary would do).
    let g = Gguf::parse(&file).unwrap();
    let tok = bitlens::tokenizer::Tokenizer::from_gguf(&g).unwrap();
    let prompt = tok.encode("The capital of France is", true, true);
    same_for_any_thread_count(&file, Isa::Avx512, &prompt, 8);
}
