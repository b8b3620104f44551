//! Prefill against decode speed, and the A/B pair against one mode, on any model (ids from a
//! fixed stream, so a file whose tokenizer has few tokens still gets a long prompt):
//!
//! `cargo run --release --example batch_rates FILE [PROMPT_TOKENS [DECODE_TOKENS [THREADS]]]`
//! (defaults 64, 8, 1). Prints tokens/s of the prefill (batched, `PREFILL_CHUNK` columns), of
//! single-mode decode, and of the pair (both modes together: pairs of tokens per second).

use bitlens::gguf::Gguf;
use bitlens::model::{AbMode, AbPair, GenConfig, Generator, Model, SamplerConfig};
use bitlens::norms::RescalePolicy;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .expect("usage: batch_rates FILE [PROMPT [DECODE [THREADS]]]");
    let arg = |i: usize, d: usize| args.get(i).map_or(d, |s| s.parse().unwrap());
    let (n_prompt, n_decode, threads) = (arg(1, 64), arg(2, 8), arg(3, 1));
    let file = std::fs::read(path).unwrap();
    let g = Gguf::parse(&file).unwrap();
    let mut m = Model::load(&g, &file).unwrap();
    m.threads = threads;
    let vocab = m.config.vocab_size as u64;
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let prompt: Vec<u32> = (0..n_prompt)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % vocab) as u32
        })
        .collect();
    let cfg = GenConfig {
        n_ctx: n_prompt + n_decode + 1,
        sampler: SamplerConfig::greedy(),
        max_tokens: n_decode,
        stop_tokens: Vec::new(),
        score_prompt: false,
        clock: bitlens::model::generator::default_clock,
    };

    let mut gen = Generator::with_config(&m, m.norms.clone(), &cfg).unwrap();
    gen.prefill(&m, &file, &prompt).unwrap();
    while gen.next_token(&m, &file).unwrap().is_some() {}
    let t = gen.timings;
    println!(
        "single: {t}; prefill/decode = {:.2}",
        t.prefill_tokens_per_s() / t.decode_tokens_per_s()
    );

    let mut ab = AbPair::new(&g, &file, &m, &cfg, &RescalePolicy::new(true, false)).unwrap();
    ab.prefill(&m, &file, &prompt).unwrap();
    loop {
        // Ask each mode in turn (not `any`, which would stop asking after the first).
        let stepped: Vec<bool> = AbMode::ALL
            .iter()
            .map(|&mode| ab.next_token(&m, &file, mode).unwrap().is_some())
            .collect();
        if !stepped.contains(&true) {
            break;
        }
    }
    let p = ab.baseline.timings;
    // Each mode is charged the time of the passes it shared: per mode, t/s = pairs/s.
    println!(
        "pair (per mode; decode t/s = pairs/s): {p}; pair/single = {:.2}",
        p.decode_tokens_per_s() / t.decode_tokens_per_s()
    );
}
