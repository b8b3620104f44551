//! Compute kernels: one interface, a scalar reference for every operation.
//!
//! The numerics follow the reference engines exactly where the shared fixtures' README says they
//! matter (int8 activation rounding, f64 sums in RMSNorm and softmax, f32 RoPE recurrence, F16
//! rounding of attention operands). `simd128` versions (wasm32) of the ternary and float
//! matrix-vector products give bit-identical results (exact integer sums; exactly rounded
//! fused multiply-adds); they are selected at compile time and tested against the scalar ones
//! in Chromium.

pub mod act;
pub mod attention;
pub mod choice;
pub mod float;
pub mod math;
pub mod matrix;
pub mod norm;
pub mod par;
pub mod q8;
pub mod rope;
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
mod team;
pub mod ternary;

#[cfg(target_arch = "wasm32")]
pub mod simd128;
#[cfg(target_arch = "x86_64")]
pub mod x86;

/// Runs `f` compiled with the x86-64 CPU's AVX2 and FMA where it has them (`x86::with_avx2_fma`;
/// elsewhere as is), for scalar code that rounds or fuses per element.
#[inline(always)]
pub(crate) fn with_cpu_features<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    return x86::with_avx2_fma(f);
    #[cfg(not(target_arch = "x86_64"))]
    f()
}

pub use act::{quantize_i8_row, quantize_q8k, Q8K_BLOCK};
pub use choice::Kernels;
pub use matrix::{matmul, matvec, ActScratch, Matrix};
pub use norm::rmsnorm;

/// The tests' one seeded generator (a xorshift stream), shared with the integration and browser
/// tests.
#[cfg(test)]
#[path = "../../tests/common/pseudo_random.rs"]
mod pseudo_random;

#[cfg(test)]
/// Deterministic test inputs shared by the kernels' tests (native and in Chromium; some only
/// the x86 ones use).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) mod testdata {
    use crate::kernels::float::DotOrder;

    /// Every summation order.
    pub const ORDERS: [DotOrder; 4] = [
        DotOrder::GgmlVecDot,
        DotOrder::TinyBlas,
        DotOrder::GgmlVecDotAvx512,
        DotOrder::TinyBlasAvx512,
    ];

    pub use super::pseudo_random::Rng;
}
