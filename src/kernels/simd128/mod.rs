//! wasm32 `simd128` versions of the hot kernels, each giving the scalar reference's bits
//! (checked in Chromium by `tests/web_model.rs` and `tests/web_kernels.rs`): the ternary and
//! 32-element block products because their integer sums are exact and the float epilogue keeps
//! the scalar order; the float products because each lane's fused multiply-add is computed
//! exactly (`float::fma_f64x2`).

#![cfg(target_arch = "wasm32")]

use core::arch::wasm32::*;

pub mod act;
pub mod attention;
pub mod float;
pub mod q8;
pub mod ternary;

pub use float::matvec_float;
pub use q8::matvec_q8;
pub use ternary::{matmul_i2s, tq2_block_lanes};

use super::choice::Kernels;

/// This build's kernels: with relaxed SIMD where the module was compiled for it (the page
/// loads that build only where the browser validates it).
#[cfg(target_feature = "relaxed-simd")]
pub const KERNELS: Kernels = Kernels {
    name: "simd128+relaxed",
    i2s: ternary::matmul_i2s_relaxed,
    i2s_interleaved: Some(ternary::matmul_i2s_relaxed_interleaved),
    i2s_q16: false,
    quantize_i8: act::quantize_i8_row,
    f16_grid: Some(float::matmul_f16_grid::<true>),
    f16_grid_finite: Some(float::matmul_f16_grid::<false>),
    float: float::matvec_float,
    q8: q8::matvec_q8,
    tq2: ternary::matvec_tq2,
};
#[cfg(not(target_feature = "relaxed-simd"))]
pub const KERNELS: Kernels = Kernels {
    name: "simd128",
    i2s: ternary::matmul_i2s,
    i2s_interleaved: None,
    i2s_q16: true,
    quantize_i8: act::quantize_i8_row,
    f16_grid: Some(float::matmul_f16_grid::<true>),
    f16_grid_finite: Some(float::matmul_f16_grid::<false>),
    float: float::matvec_float,
    q8: q8::matvec_q8,
    tq2: ternary::matvec_tq2,
};

/// 16 bytes at `at` (bounds checked; `v128_load` has no alignment requirement).
#[inline(always)]
fn load(b: &[u8], at: usize) -> v128 {
    assert!(at + 16 <= b.len());
    // SAFETY: bounds checked above.
    unsafe { v128_load(b.as_ptr().add(at) as *const v128) }
}

#[inline(always)]
fn load_i8(q: &[i8], at: usize) -> v128 {
    assert!(at + 16 <= q.len());
    // SAFETY: bounds checked above.
    unsafe { v128_load(q.as_ptr().add(at) as *const v128) }
}
