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

    /// A xorshift stream for test inputs (deterministic).
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        pub fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }

        /// int8 values with the extremes -128 and 127 often.
        pub fn i8s(&mut self, n: usize) -> Vec<i8> {
            (0..n)
                .map(|_| match self.next() % 8 {
                    0 => -128,
                    1 => 127,
                    _ => self.next() as i8,
                })
                .collect()
        }

        /// Floats over a wide range, both signs.
        pub fn f32s(&mut self, n: usize) -> Vec<f32> {
            (0..n)
                .map(|_| {
                    let x = self.next();
                    let v = f32::from_bits((x >> 41) as u32 | 0x3f80_0000)
                        * 2f32.powi((x % 16) as i32 - 8);
                    if x & (1 << 20) == 0 {
                        v
                    } else {
                        -v
                    }
                })
                .collect()
        }
    }
}
