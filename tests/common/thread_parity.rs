//! Same bits for any thread count, natively (tests/threads.rs) and in the browser
//! (tests/web_threads.rs): a model's greedy ids, every step's logits and the prompt's
//! per-token NLLs with one thread and with more.
#![allow(dead_code)]

use bitlens::gguf::Gguf;
use bitlens::model::{Generator, Isa, Model, SamplerConfig};

/// Products from this many weights are split here (the default threshold is larger than the
/// fixtures' products).
pub const SPLIT_FROM: usize = 1 << 12;

/// Greedy ids, each step's logits (as bits) and the prompt NLLs (as bits).
pub type Run = (Vec<u32>, Vec<Vec<u32>>, Vec<u64>);

pub fn run(model: &Model, file: &[u8], prompt: &[u32], steps: usize) -> Run {
    let mut gen = Generator::new(
        model,
        model.norms.clone(),
        128,
        SamplerConfig::greedy(),
        steps,
    )
    .unwrap();
    assert_eq!(gen.state.batch.act.threads, model.threads);
    gen.state.batch.act.min_parallel_weights = SPLIT_FROM;
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

/// Runs `file` with 1 thread and with each of `counts`, and asserts the same ids, logits and
/// prompt NLLs (`steps` greedy tokens after `prompt`).
pub fn same_for_thread_counts(
    file: &[u8],
    isa: Isa,
    prompt: &[u32],
    steps: usize,
    counts: &[usize],
) {
    let g = Gguf::parse(file).unwrap();
    let mut model = Model::load(&g, file).unwrap();
    model.isa = isa;
    let c = &model.config;
    // The projections and head are split (else this would test nothing).
    assert!(c.kv_dim() * c.dim >= SPLIT_FROM && c.vocab_size * c.dim >= SPLIT_FROM);
    let one = run(&model, file, prompt, steps);
    assert_eq!(one.0.len(), steps);
    assert_eq!(one.2.len(), prompt.len() - 1);
    for &threads in counts {
        model.threads = threads;
        let many = run(&model, file, prompt, steps);
        assert_eq!(many.0, one.0, "{threads} threads: ids");
        assert!(many.1 == one.1, "{threads} threads: logits differ");
        assert_eq!(many.2, one.2, "{threads} threads: prompt NLLs");
    }
}

/// The ids of "The capital of France is" in SmolLM2's vocabulary (any ids would do).
pub fn smollm2_prompt(file: &[u8]) -> Vec<u32> {
    let g = Gguf::parse(file).unwrap();
    let tok = bitlens::tokenizer::Tokenizer::from_gguf(&g).unwrap();
    tok.encode("The capital of France is", true, true)
}
