//! bitnet.cpp parity on the tiny I2_S fixture: prompt ids in (from the golden file, so this does
//! not depend on the tokenizer), 32 greedy ids out, equal; logits against the README's 0.3.
//! Following bitnet.cpp's numerics exactly, the logits agree bit for bit, so the guard here is
//! far tighter than the README's tolerance.

#[path = "common/model_parity.rs"]
mod model_parity;

use model_parity::{check_cases, run_cases, PromptLogits};

const GGUF: &[u8] = include_bytes!("fixtures/bitnet-b158-tiny-i2_s.gguf");
const GOLDEN: &str = include_str!("fixtures/bitnet-b158-tiny-i2_s.golden.json");

#[test]
fn greedy_ids_and_logits_match_bitnet_cpp() {
    let results = run_cases(GGUF, GOLDEN, PromptLogits::Last);
    check_cases(&results, "I2_S", 1e-5, |line| println!("{line}"));
}
