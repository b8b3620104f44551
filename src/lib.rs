//! bitlens: look inside BitNet b1.58 GGUF models and run them, natively and in the browser.
//!
//! The core (container, quant types, kernels, model, tokenizer, norm statistics) is plain Rust;
//! `api` is the thin wasm-bindgen layer.

pub mod bench;
pub mod gguf;
pub mod kernels;
pub mod model;
pub mod norms;
pub mod quant;
pub mod tokenizer;

#[cfg(target_arch = "wasm32")]
pub mod api;

// The lib's unit tests also run in Chromium (`wasm-pack test --headless --chrome -- --lib`).
// A test module opts in with
//     #[cfg(target_arch = "wasm32")]
//     use wasm_bindgen_test::wasm_bindgen_test as test;
// (plain `#[test]` does not run on wasm32), and must not read files from disk there.
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
