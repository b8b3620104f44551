//! bitlens: look inside BitNet b1.58 GGUF models and run them, natively and in the browser.
//!
//! The core (container, quant types, kernels, model, tokenizer, norm statistics) is plain Rust;
//! `api` is the thin wasm-bindgen layer.

pub mod gguf;
pub mod quant;
pub mod tokenizer;

#[cfg(target_arch = "wasm32")]
pub mod api;
