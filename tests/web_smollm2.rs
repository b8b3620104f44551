//! In Chromium (wasm-pack test): the real SmolLM2-135M-Instruct Q4_1 file, loaded through the
//! page's own API (`GgufFile` filled chunk by chunk, `ModelRunner` with `isa: "avx512"`),
//! reproduces llama.cpp's greedy continuations of the 5 prompts in tests/data/smollm2/greedy.json
//! (made on an AVX-512 machine; see tests/parity_smollm2.rs), and the AVX2 numerics part from
//! them, as they do natively.
//!
//! The 98 MB file is not in git: scripts/test.sh links it from the cache
//! (`scripts/fetch-smollm2.sh`) to `.web-test-assets/`, which the test runner's server serves
//! from the crate root. Run alone:
//! `bash scripts/test.sh` once, or `mkdir -p .web-test-assets && ln -f "$(bash
//! scripts/fetch-smollm2.sh)" .web-test-assets/`, then
//! `wasm-pack test --headless --chrome -- --no-default-features --test web_smollm2`.
#![cfg(target_arch = "wasm32")]

use bitlens::api::{GgufFile, ModelRunner};
use js_sys::Reflect;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

#[path = "common/model_parity.rs"]
mod model_parity;

use model_parity::ids;

#[path = "common/web_fetch.rs"]
mod web_fetch;

use web_fetch::{fetch_bytes, SMOLLM2_MISSING, SMOLLM2_URL};

wasm_bindgen_test_configure!(run_in_browser);

/// The page streams files in 16 MiB slices; so does this test.
const CHUNK: u32 = 16 << 20;

/// Fetches the file and pushes it into a `GgufFile` chunk by chunk, as the page's worker does.
async fn load_smollm2() -> GgufFile {
    let all = fetch_bytes(SMOLLM2_URL, SMOLLM2_MISSING).await;
    let mut file = GgufFile::new(all.length() as f64).unwrap();
    let mut at = 0;
    while at < all.length() {
        let end = (at + CHUNK).min(all.length());
        file.push(&all.subarray(at, end)).unwrap();
        at = end;
    }
    file.finish().unwrap();
    file
}

fn runner(file: &GgufFile, isa: &str, max_tokens: usize) -> ModelRunner {
    let options = js_sys::Object::new();
    for (k, v) in [
        ("isa", JsValue::from(isa)),
        ("temperature", 0.0.into()),
        ("maxTokens", (max_tokens as f64).into()),
        ("ctx", 512.0.into()),
        ("ab", false.into()),
    ] {
        Reflect::set(&options, &k.into(), &v).unwrap();
    }
    ModelRunner::load(file, options.into()).unwrap()
}

/// Lets the page's event loop run (a `setTimeout(0)` round trip). The test runner's driver
/// gives up on a renderer that stays busy for 30 s, so the test yields between tokens, as the
/// page's worker does.
async fn yield_now() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let set_timeout =
            js_sys::Function::from(Reflect::get(&js_sys::global(), &"setTimeout".into()).unwrap());
        set_timeout
            .call2(&JsValue::NULL, &resolve, &0.into())
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

/// The prompt's ids (tokenized in wasm) and the greedy continuation of the baseline mode.
async fn generate(r: &mut ModelRunner, file: &GgufFile, prompt: &str) -> (Vec<u32>, Vec<u32>) {
    let prompt_ids = r.prompt(file, prompt, false).unwrap();
    let mut out = Vec::new();
    loop {
        yield_now().await;
        let step = r.next_token(file, "baseline").unwrap();
        if step.is_undefined() {
            break;
        }
        out.push(
            Reflect::get(&step, &"token".into())
                .unwrap()
                .as_f64()
                .unwrap() as u32,
        );
    }
    (prompt_ids, out)
}

#[wasm_bindgen_test]
async fn smollm2_greedy_continuations_match_llama_cpp_in_wasm() {
    let file = load_smollm2().await;
    let golden: Value = serde_json::from_str(include_str!("data/smollm2/greedy.json")).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    let mut r = runner(&file, "avx512", 24);
    let info = r.info().unwrap();
    assert_eq!(
        Reflect::get(&info, &"isa".into()).unwrap().as_string(),
        Some("avx512".into())
    );
    for case in cases {
        let want = ids(&case["greedy_ids"]);
        let (prompt_ids, got) = generate(&mut r, &file, case["prompt"].as_str().unwrap()).await;
        assert_eq!(prompt_ids, ids(&case["prompt_ids"]));
        let same = got.iter().zip(&want).take_while(|(a, b)| a == b).count();
        web_sys::console::log_1(
            &format!(
                "wasm SmolLM2 {:?}: {same} of {} tokens equal llama.cpp's",
                case["prompt"],
                want.len()
            )
            .into(),
        );
        assert_eq!(got, want, "{:?}", case["prompt"]);
    }
    // With an AVX2 build's roundings the last prompt parts from the AVX-512 golden, as it does
    // natively (tests/cli_run.rs): the option reaches the numerics.
    let last = cases.last().unwrap();
    let mut r = runner(&file, "avx2", 24);
    let (_, got) = generate(&mut r, &file, last["prompt"].as_str().unwrap()).await;
    assert_ne!(got, ids(&last["greedy_ids"]));
}
