//! In Chromium (wasm-pack test), in a dedicated worker as the page runs the model: the I2_S
//! fixture and the real SmolLM2 file give the same greedy ids, every step's logits and the
//! prompt's NLLs with 1 and with 2 threads (products split from 4096 weights on, so the tiny
//! model's are split too).
//!
//! In the threaded build (`+atomics`; scripts/test.sh runs `browser_tests threads`) the test
//! starts a pool of two Web Workers first (`initThreadPool(2)`, as the page's worker does for
//! two threads: a forward pass runs on the pool while the calling thread waits) and checks that
//! a product split from a pool thread really runs on two threads. The one-thread builds run the same
//! comparison, where `threads` must change nothing.
//!
//! SmolLM2 is not in git: see tests/web_smollm2.rs for `.web-test-assets/`.
#![cfg(target_arch = "wasm32")]

use bitlens::model::Isa;
use serde_json::Value;
use wasm_bindgen_test::*;

#[path = "common/model_parity.rs"]
mod model_parity;

#[path = "common/thread_parity.rs"]
mod thread_parity;

#[path = "common/web_fetch.rs"]
mod web_fetch;

use thread_parity::same_for_thread_counts;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

/// Starts the pool once (the threaded build), and checks that a product's chunks run
/// on two threads.
async fn two_threads() {
    #[cfg(target_feature = "atomics")]
    {
        use std::collections::HashSet;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Mutex;

        static STARTED: AtomicBool = AtomicBool::new(false);
        if STARTED.swap(true, Ordering::SeqCst) {
            return;
        }
        wasm_bindgen_futures::JsFuture::from(bitlens::api::init_thread_pool(2))
            .await
            .expect("initThreadPool(2)");
        // Every chunk waits (up to 20 s) until two threads have taken one.
        let seen = Mutex::new(HashSet::new());
        let mut out = vec![0f32; 64];
        let split = || {
            bitlens::kernels::par::split_rows(2, &[0u8; 64], &mut out, |_, o| {
                seen.lock().unwrap().insert(std::thread::current().id());
                let t0 = js_sys::Date::now();
                while seen.lock().unwrap().len() < 2 && js_sys::Date::now() - t0 < 20_000.0 {
                    std::hint::spin_loop();
                }
                o.fill(1.0);
            })
        };
        // As a forward pass splits it: from a pool thread.
        bitlens::kernels::par::on_pool(2, split);
        assert_eq!(out, vec![1.0; 64]);
        assert_eq!(seen.lock().unwrap().len(), 2, "a product ran on one thread");
    }
}

#[wasm_bindgen_test]
async fn i2s_fixture_same_bits_with_1_and_2_threads() {
    two_threads().await;
    let golden: Value =
        serde_json::from_str(include_str!("fixtures/bitnet-b158-tiny-i2_s.golden.json")).unwrap();
    let prompt = model_parity::ids(&golden["cases"][0]["prompt_ids"]);
    let file = include_bytes!("fixtures/bitnet-b158-tiny-i2_s.gguf");
    same_for_thread_counts(file, Isa::Avx2, &prompt, 12, &[2]);
}

#[wasm_bindgen_test]
async fn smollm2_same_bits_with_1_and_2_threads() {
    two_threads().await;
    let file = web_fetch::fetch_bytes(web_fetch::SMOLLM2_URL, web_fetch::SMOLLM2_MISSING)
        .await
        .to_vec();
    let prompt = thread_parity::smollm2_prompt(&file);
    same_for_thread_counts(&file, Isa::Avx512, &prompt, 8, &[2]);
}
