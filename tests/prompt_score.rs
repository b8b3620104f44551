//! Prompt scoring (`Generator::score_prompt`): each prompt token's negative log-likelihood from
//! the logits at the position before it, computed by the same forward passes as the prefill; it
//! leaves the generated tokens unchanged; and on the built-in Shakespeare pair it tells the right
//! mode from the wrong one (lower perplexity for the stored gammas of the faithful file, for the
//! rescaled ones of the prescaled twin).

use bitlens::gguf::Gguf;
use bitlens::model::score::nll;
use bitlens::model::{forward, AbPair, GenConfig, Generator, Model, Pass, SamplerConfig};
use bitlens::norms::RescalePolicy;
use bitlens::tokenizer::Tokenizer;
use serde_json::Value;

#[path = "common/model_parity.rs"]
mod model_parity;

use model_parity::ids;

const I2S: &[u8] = include_bytes!("fixtures/bitnet-b158-tiny-i2_s.gguf");
const I2S_GOLDEN: &str = include_str!("fixtures/bitnet-b158-tiny-i2_s.golden.json");
const FAITHFUL: &[u8] = include_bytes!("../www/models/shakespeare-bitnet.gguf");
const TWIN: &[u8] = include_bytes!("../www/models/shakespeare-bitnet-prescaled.gguf");

#[test]
fn scores_are_the_prefill_logits_nll_and_leave_generation_unchanged() {
    let g = Gguf::parse(I2S).unwrap();
    let m = Model::load(&g, I2S).unwrap();
    let golden: Value = serde_json::from_str(I2S_GOLDEN).unwrap();
    let case = &golden["cases"][0];
    let (prompt, want) = (ids(&case["prompt_ids"]), ids(&case["greedy_ids"]));
    assert!(prompt.len() >= 3);

    // The same passes by hand: every position in the batch, logits at each.
    let mut s = m.new_state(256).unwrap();
    let mut expected = Vec::new();
    for (pos, &t) in prompt.iter().enumerate() {
        let pass = Pass {
            in_batch: true,
            logits: true,
        };
        forward(&m, &m.norms, I2S, &mut s, t, pos, pass).unwrap();
        if let Some(&next) = prompt.get(pos + 1) {
            expected.push(nll(&s.logits, next));
        }
    }

    let mut gen = Generator::new(&m, m.norms.clone(), 256, SamplerConfig::greedy(), 32).unwrap();
    gen.score_prompt = true;
    gen.prefill(&m, I2S, &prompt).unwrap();
    assert_eq!(gen.prompt_score.nll, expected);
    let sc = gen.prompt_score.summary().unwrap();
    assert_eq!(sc.tokens, prompt.len() - 1);
    assert!(sc.perplexity.is_finite() && sc.perplexity > 1.0, "{sc:?}");
    let got: Vec<u32> = gen.tokens_iter(&m, I2S).map(|s| s.unwrap().token).collect();
    assert_eq!(got, want, "scoring changed the generated tokens");

    // Without scoring nothing is recorded; reset forgets the last score.
    gen.score_prompt = false;
    gen.reset();
    assert!(gen.prompt_score.summary().is_none());
    gen.prefill(&m, I2S, &prompt).unwrap();
    assert!(gen.prompt_score.summary().is_none());
}

/// Perplexity of a Shakespeare line under (baseline, rescaled).
fn ab_perplexity(file: &[u8]) -> (f64, f64) {
    let g = Gguf::parse(file).unwrap();
    let m = Model::load(&g, file).unwrap();
    let tok = Tokenizer::from_gguf(&g).unwrap();
    let prompt = tok.encode(
        "ROMEO: But soft, what light through yonder window breaks? It is the east, and Juliet is the sun.",
        true,
        true,
    );
    let mut cfg = GenConfig::new(&m, &tok, Some(128), SamplerConfig::greedy(), 1).unwrap();
    cfg.score_prompt = true;
    let mut ab = AbPair::new(&g, file, &m, &cfg, &RescalePolicy::new(true, false)).unwrap();
    ab.prefill(&m, file, &prompt).unwrap();
    let ppl = |g: &Generator| g.prompt_score.perplexity().unwrap();
    (ppl(&ab.baseline), ppl(ab.rescaled.as_ref().unwrap()))
}

#[test]
fn perplexity_tells_the_right_gammas() {
    let (base, resc) = ab_perplexity(FAITHFUL);
    println!("faithful file: baseline {base:.1}, rescaled {resc:.3e}");
    assert!(
        base * 10.0 < resc,
        "faithful: baseline {base}, rescaled {resc}"
    );
    let (twin_base, twin_resc) = ab_perplexity(TWIN);
    println!("prescaled twin: baseline {twin_base:.1}, rescaled {twin_resc:.1}");
    assert!(
        twin_resc * 10.0 < twin_base,
        "twin: baseline {twin_base}, rescaled {twin_resc}"
    );
    // The twin rescaled is the faithful file (tests/parity_shakespeare.rs): same perplexity.
    assert!(
        (twin_resc - base).abs() <= 1e-9 * base,
        "{twin_resc} vs {base}"
    );
}
