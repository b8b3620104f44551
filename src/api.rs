//! The wasm-bindgen surface: a thin layer over the core.
