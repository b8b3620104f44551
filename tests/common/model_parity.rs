//! Runs the golden cases of a fixture through `model::forward` (prompt ids from the golden
//! file, so parity does not depend on the tokenizer) and measures the differences. Shared by the
//! native parity tests and the Chromium ones (`#[path]`-included).
#![allow(dead_code)]

use bitlens::gguf::Gguf;
use bitlens::model::sampler::argmax;
use bitlens::model::{forward, Model, Pass};
use serde_json::Value;

/// Which prompt logits the golden file holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PromptLogits {
    /// `last_logits`: the prompt decoded with output for the last token only.
    Last,
    /// `all_logits[t]`: output for every prompt position.
    All,
}

pub struct CaseResult {
    pub want_ids: Vec<u32>,
    pub got_ids: Vec<u32>,
    /// Largest |Δ| over the compared prompt logits.
    pub prompt_max: f32,
    /// Largest |Δ| over the 32 greedy steps' logits (teacher-forced with the golden ids).
    pub step_max: f32,
}

pub fn ids(v: &Value) -> Vec<u32> {
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

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn run_cases(gguf: &[u8], golden: &str, kind: PromptLogits) -> Vec<CaseResult> {
    let g = Gguf::parse(gguf).unwrap();
    let m = Model::load(&g, gguf).unwrap();
    let golden: Value = serde_json::from_str(golden).unwrap();
    let mut out = Vec::new();
    for case in golden["cases"].as_array().unwrap() {
        let prompt = ids(&case["prompt_ids"]);
        let want_ids = ids(&case["greedy_ids"]);
        let steps: Vec<Vec<f32>> = case["step_logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        let mut s = m.new_state(512.min(m.config.train_ctx)).unwrap();
        let in_batch = prompt.len() >= 2;
        let mut prompt_max = 0f32;
        for (p, &t) in prompt.iter().enumerate() {
            let last = p + 1 == prompt.len();
            let logits = last || kind == PromptLogits::All;
            forward(&m, &m.norms, gguf, &mut s, t, p, Pass { in_batch, logits }).unwrap();
            let want = match kind {
                PromptLogits::All => Some(floats(&case["all_logits"][p])),
                PromptLogits::Last if last => Some(floats(&case["last_logits"])),
                PromptLogits::Last => None,
            };
            if let Some(w) = want {
                prompt_max = prompt_max.max(max_abs_diff(&s.logits, &w));
            }
        }
        let mut got_ids = Vec::new();
        let mut step_max = 0f32;
        for (i, &want) in want_ids.iter().enumerate() {
            step_max = step_max.max(max_abs_diff(&s.logits, &steps[i]));
            got_ids.push(argmax(&s.logits));
            // Teacher forcing keeps later steps comparable even if one id differed.
            let pass = Pass {
                in_batch: false,
                logits: true,
            };
            forward(&m, &m.norms, gguf, &mut s, want, prompt.len() + i, pass).unwrap();
        }
        out.push(CaseResult {
            want_ids,
            got_ids,
            prompt_max,
            step_max,
        });
    }
    out
}

/// Prints each case's differences (with `log`) and checks greedy ids equal and logits within
/// `tol`.
pub fn check_cases(results: &[CaseResult], label: &str, tol: f32, log: impl Fn(&str)) {
    assert_eq!(results.len(), 4, "{label}: four golden cases");
    for (ci, r) in results.iter().enumerate() {
        log(&format!(
            "{label} case {ci}: prompt logits max|Δ| = {:.3e}, step logits max|Δ| = {:.3e}",
            r.prompt_max, r.step_max
        ));
        assert_eq!(r.got_ids, r.want_ids, "{label} case {ci} greedy ids");
        assert!(
            r.prompt_max < tol && r.step_max < tol,
            "{label} case {ci}: logits differ by {} / {}",
            r.prompt_max,
            r.step_max
        );
    }
}
