//! The built-in Shakespeare model (www/models/): our engine's greedy ids equal the ones
//! tools/train/export.py recorded with bitnet.cpp's inference numerics (spec section 5), and the
//! prescaled twin behaves as the stand-in for the 1/sqrt(n) export bug it is:
//! - faithful file, baseline: the recorded greedy ids;
//! - twin + experimental rescale (gamma * sqrt(n)): the faithful file's ids, exactly;
//! - twin, baseline: different ids (and the ones the reference recorded for it);
//! - faithful file + rescale: different ids (the rescale hurts a correct file).
//!
//! The generation tests take prompt ids from the golden file, so they do not depend on the
//! tokenizer; a separate test checks our tokenizer against the ids of the `tokenizers` library
//! the vocabulary was trained with (pre-tokenizer `gpt-2`).
// Native only: `wasm-pack test` builds every test target for wasm32; this one runs natively.
#![cfg(not(target_arch = "wasm32"))]

use bitlens::gguf::Gguf;
use bitlens::model::sampler::argmax;
use bitlens::model::weights::LayerNorms;
use bitlens::model::{forward, Model, Norms, Pass};
use bitlens::norms::{load_norm_with, CorrectionPipeline, RescalePolicy};
use bitlens::tokenizer::Tokenizer;
use serde_json::Value;

#[path = "common/model_parity.rs"]
mod model_parity;

use model_parity::ids;

const FAITHFUL: &[u8] = include_bytes!("../www/models/shakespeare-bitnet.gguf");
const TWIN: &[u8] = include_bytes!("../www/models/shakespeare-bitnet-prescaled.gguf");
const GOLDEN: &str = include_str!("../www/models/shakespeare-bitnet.golden.json");

/// As llama-cli: the prompt in one decode (logits for the last token only), then one decode per
/// generated token; no stop at end-of-generation tokens.
fn greedy(m: &Model, norms: &Norms, file: &[u8], prompt: &[u32], n: usize) -> Vec<u32> {
    let mut s = m.new_state(prompt.len() + n).unwrap();
    for (p, &t) in prompt.iter().enumerate() {
        let pass = Pass {
            in_batch: prompt.len() >= 2,
            logits: p + 1 == prompt.len(),
        };
        forward(m, norms, file, &mut s, t, p, pass).unwrap();
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let next = argmax(&s.logits);
        out.push(next);
        let pass = Pass {
            in_batch: false,
            logits: true,
        };
        forward(m, norms, file, &mut s, next, prompt.len() + i, pass).unwrap();
    }
    out
}

/// The norms as loaded with BITNET_RESCALE_GAMMA_ON_LOAD=1 (the norms module's pipeline).
fn rescaled_norms(g: &Gguf, file: &[u8], n_layers: usize) -> Norms {
    let policy = RescalePolicy::new(true, false);
    let pipeline = CorrectionPipeline::new(g, &policy);
    let mut records = Vec::new();
    let mut load = |name: String| load_norm_with(g, file, &name, &pipeline, &mut records).unwrap();
    let layers = (0..n_layers)
        .map(|l| LayerNorms {
            attn: load(format!("blk.{l}.attn_norm.weight")),
            ffn: load(format!("blk.{l}.ffn_norm.weight")),
            attn_sub: load(format!("blk.{l}.attn_sub_norm.weight")),
            ffn_sub: load(format!("blk.{l}.ffn_sub_norm.weight")),
        })
        .collect();
    let output = load("output_norm.weight".to_string());
    assert_eq!(records.len(), 4 * n_layers + 1, "every norm rescaled once");
    Norms { layers, output }
}

struct Fixture {
    golden: Value,
    faithful: (Gguf, Model),
    twin: (Gguf, Model),
}

fn fixture() -> Fixture {
    let load = |file: &[u8]| {
        let g = Gguf::parse(file).unwrap();
        let m = Model::load(&g, file).unwrap();
        (g, m)
    };
    Fixture {
        golden: serde_json::from_str(GOLDEN).unwrap(),
        faithful: load(FAITHFUL),
        twin: load(TWIN),
    }
}

impl Fixture {
    fn cases(&self) -> &[Value] {
        let c = self.golden["cases"].as_array().unwrap();
        assert_eq!(c.len(), 5);
        c
    }
}

#[test]
fn faithful_greedy_ids_match_the_reference() {
    let f = fixture();
    let (_, m) = &f.faithful;
    for (ci, case) in f.cases().iter().enumerate() {
        let want = ids(&case["greedy_ids"]);
        assert_eq!(want.len(), 32);
        let got = greedy(m, &m.norms, FAITHFUL, &ids(&case["prompt_ids"]), want.len());
        assert_eq!(got, want, "case {ci} ({:?})", case["prompt"]);
    }
}

#[test]
fn twin_differs_from_the_faithful_file_only_in_norm_gammas() {
    let f = fixture();
    let (g, _) = &f.faithful;
    assert_eq!(FAITHFUL.len(), TWIN.len());
    let header = g.tensors[0].data_start as usize;
    assert_eq!(
        FAITHFUL[..header],
        TWIN[..header],
        "same header and metadata"
    );
    let mut norms = 0;
    for t in &g.tensors {
        let a = g.tensor_data(FAITHFUL, t).unwrap();
        let b = f.twin.0.tensor_data(TWIN, t).unwrap();
        if t.name.ends_with("norm.weight") {
            norms += 1;
            let n = a.len() / 4;
            let val =
                |d: &[u8], i: usize| f32::from_le_bytes(d[4 * i..4 * i + 4].try_into().unwrap());
            for i in 0..n {
                let ratio = val(a, i) as f64 / val(b, i) as f64;
                assert!(
                    (ratio - (n as f64).sqrt()).abs() < 1e-5,
                    "{} [{i}]: ratio {ratio}",
                    t.name
                );
            }
        } else {
            assert_eq!(a, b, "{} identical", t.name);
        }
    }
    assert_eq!(norms, 17);
}

#[test]
fn twin_with_rescale_gives_the_faithful_ids_and_without_it_does_not() {
    let f = fixture();
    let (g, m) = &f.twin;
    let rescaled = rescaled_norms(g, TWIN, m.config.n_layers);
    // The rescale restores the faithful gammas bit for bit (the exporter built them that way).
    assert_eq!(rescaled, f.faithful.1.norms);
    assert_ne!(m.norms, f.faithful.1.norms);
    for (ci, case) in f.cases().iter().enumerate() {
        let prompt = ids(&case["prompt_ids"]);
        let want = ids(&case["greedy_ids"]);
        let fixed = greedy(m, &rescaled, TWIN, &prompt, want.len());
        assert_eq!(fixed, want, "case {ci}: twin + rescale");
        let baseline = greedy(m, &m.norms, TWIN, &prompt, want.len());
        assert_ne!(baseline, want, "case {ci}: twin baseline must differ");
        assert_eq!(
            baseline,
            ids(&case["twin_baseline_greedy_ids"]),
            "case {ci}: twin baseline ids as the reference recorded"
        );
    }
}

#[test]
fn rescale_on_the_faithful_file_changes_its_output() {
    let f = fixture();
    let (g, m) = &f.faithful;
    let rescaled = rescaled_norms(g, FAITHFUL, m.config.n_layers);
    let mut differing = 0;
    for case in f.cases() {
        let prompt = ids(&case["prompt_ids"]);
        let want = ids(&case["greedy_ids"]);
        let got = greedy(m, &rescaled, FAITHFUL, &prompt, want.len());
        if got != want {
            differing += 1;
        }
    }
    assert_eq!(differing, 5, "the rescale should change every continuation");
}

#[test]
fn tokenizer_matches_the_training_tokenizer() {
    let f = fixture();
    let t = Tokenizer::from_gguf(&f.faithful.0).unwrap();
    for (ci, case) in f.cases().iter().enumerate() {
        let prompt = case["prompt"].as_str().unwrap();
        let got = t.encode(prompt, true, true);
        assert_eq!(got, ids(&case["prompt_ids"]), "case {ci} prompt ids");
        assert_eq!(got[0], 4093, "BOS first");
    }
    let cases = f.golden["tokenizer_cases"].as_array().unwrap();
    assert_eq!(cases.len(), 9);
    for (ci, case) in cases.iter().enumerate() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(
            t.encode(text, false, false),
            ids(&case["ids"]),
            "tokenizer case {ci}: {text:?}"
        );
    }
}
