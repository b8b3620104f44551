//! bitnet.cpp parity on the tiny I2_S fixture: prompt ids in (from the golden file, so this does
//! not depend on the tokenizer), 32 greedy ids out, equal; logits within the README's 0.3.

use bitlens::gguf::Gguf;
use bitlens::model::{forward, Model, Pass};
use serde_json::Value;

const GGUF: &[u8] = include_bytes!("fixtures/bitnet-b158-tiny-i2_s.gguf");
const GOLDEN: &str = include_str!("fixtures/bitnet-b158-tiny-i2_s.golden.json");

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// First maximum wins, as llama.cpp's greedy sampler.
fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best as u32
}

#[test]
fn greedy_ids_and_logits_match_bitnet_cpp() {
    let g = Gguf::parse(GGUF).unwrap();
    let m = Model::load(&g, GGUF).unwrap();
    let golden: Value = serde_json::from_str(GOLDEN).unwrap();
    let mut report = Vec::new();
    for (ci, case) in golden["cases"].as_array().unwrap().iter().enumerate() {
        let prompt = ids(&case["prompt_ids"]);
        let want_ids = ids(&case["greedy_ids"]);
        let step_logits: Vec<Vec<f32>> = case["step_logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        let mut s = m.new_state(512).unwrap();
        let batch = prompt.len() >= 2;
        for (p, &t) in prompt.iter().enumerate() {
            let last = p + 1 == prompt.len();
            forward(
                &m,
                &m.norms,
                GGUF,
                &mut s,
                t,
                p,
                Pass {
                    in_batch: batch,
                    logits: last,
                },
            )
            .unwrap();
        }
        let last = max_abs_diff(&s.logits, &floats(&case["last_logits"]));
        let mut got = Vec::new();
        let mut step_max = 0f32;
        let mut steps = Vec::new();
        for i in 0..want_ids.len() {
            let d = max_abs_diff(&s.logits, &step_logits[i]);
            steps.push(d);
            step_max = step_max.max(d);
            let next = argmax(&s.logits);
            got.push(next);
            // Teacher forcing keeps the later steps comparable even if one id differed.
            let feed = want_ids[i];
            forward(
                &m,
                &m.norms,
                GGUF,
                &mut s,
                feed,
                prompt.len() + i,
                Pass {
                    in_batch: false,
                    logits: true,
                },
            )
            .unwrap();
        }
        steps.sort_by(f32::total_cmp);
        let median = steps[steps.len() / 2];
        println!("case {ci}: last-logits max|Δ| = {last:.3e}, step max|Δ| = {step_max:.3e} (median {median:.3e})");
        report.push((ci, got == want_ids, last, step_max));
        assert_eq!(got, want_ids, "case {ci} greedy ids");
        assert!(last < 0.3, "case {ci}: last logits differ by {last}");
        assert!(
            step_max < 0.3,
            "case {ci}: step logits differ by {step_max}"
        );
    }
    assert_eq!(report.len(), 4);
}
