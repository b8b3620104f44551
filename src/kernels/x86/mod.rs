//! x86-64 AVX2 versions of the hot kernels, chosen at run time (`is_x86_feature_detected!`;
//! without the features the scalar references run). Each gives the scalar reference's bits,
//! checked natively by the tests below each kernel:
//! - the ternary (I2_S, TQ2_0) and 32-element block (Q4_0, Q4_1, Q8_0) products form the same
//!   exact integer sums (`_mm256_maddubs_epi16` pairs, `_mm256_madd_epi16` quads, which are
//!   exactly the reference's eight AVX2 lanes) and then run the reference's float epilogue in
//!   its order, each fused multiply-add an FMA instruction (rounded once, like `f32::mul_add`);
//! - the float products (F16/BF16/F32 weights) keep every lane of the mirrored order in a
//!   register lane and fuse each term with an FMA instruction, then finish with the reference's
//!   own reduction (`float::reduce`).

#![cfg(target_arch = "x86_64")]

pub mod attention;
pub mod float;
pub mod q8;
pub mod ternary;

pub use float::matvec_float;
pub use q8::matvec_q8;
pub use ternary::matvec_tq2;

use super::choice::Kernels;

/// The AVX2 kernels, where the CPU has AVX2, FMA and F16C (every entry relies on this check).
pub fn kernels() -> Option<Kernels> {
    has_avx2_fma_f16c().then_some(Kernels {
        name: "avx2",
        i2s: ternary::matmul_i2s_avx2,
        i2s_interleaved: None,
        i2s_q16: false,
        quantize_i8: crate::kernels::act::quantize_i8_row,
        f16_grid: None,
        f16_grid_finite: None,
        float: float::matvec_float,
        q8: q8::matvec_q8,
        tq2: ternary::matvec_tq2,
    })
}

/// AVX2 with FMA (every integer kernel's epilogue fuses).
#[inline]
pub fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// Runs `f` compiled for AVX2 and FMA when the CPU has them (else as is): the same code, so
/// the same results (Rust never contracts or reorders float operations; the features only
/// change which instructions compute them, e.g. a rounding instruction instead of a `rintf`
/// call, an FMA instruction instead of an `fmaf` call).
#[inline(always)]
pub fn with_avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    if has_avx2_fma() {
        // SAFETY: the CPU has the features (checked above).
        unsafe { avx2_fma(f) }
    } else {
        f()
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// The little-endian F16 value at `b[at..at + 2]` as f32, by F16C's instruction (exact; for
/// functions compiled with "f16c", where `half` would call its run-time-detected version).
#[inline(always)]
pub(crate) unsafe fn f16_at(b: &[u8], at: usize) -> f32 {
    use core::arch::x86_64::*;
    let bits = u16::from_le_bytes([b[at], b[at + 1]]);
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
}

/// AVX2, FMA and F16C (the float products convert F16 in registers).
#[inline]
pub fn has_avx2_fma_f16c() -> bool {
    has_avx2_fma() && std::is_x86_feature_detected!("f16c")
}
