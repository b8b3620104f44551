//! The wasm-bindgen surface: a thin layer over the core. Each feature adds its own file with an
//! `impl` block on the exported types.
