//! The kernels this build runs on this CPU, chosen once: a table of functions resolved when the
//! first product runs (per process natively, where the CPU's features are detected once; per
//! build on wasm32, where the baseline and relaxed-SIMD builds are separate modules and the page
//! loads the one the browser validates).

use super::act::{self, QuantizeI8};
use super::float::{self, DotOrder, FloatType};
use super::q8::{self, Block32};
use super::ternary::{self, I2sMatmul};

/// F16/BF16/F32 rows times one activation (`row` is scratch).
pub type FloatMatvec = fn(&[u8], FloatType, &[f32], DotOrder, row: &mut Vec<f32>, &mut [f32]);
/// Q4_0/Q4_1/Q8_0 rows times Q8_0/Q8_1 activations (values, block scales, block sums).
pub type Q8Matvec = fn(Block32, &[u8], &[i8], &[f32], &[f32], &mut [f32]);
/// TQ2_0 rows times Q8_K activations (values, block scales, 16-value sums).
pub type Tq2Matvec = fn(&[u8], &[i8], &[f32], &[i16], &mut [f32]);

/// F16 rows times a batch of columns of F16 values (`xs`, `n` columns of `cols`; `x_up` the
/// same times 2^56): `out[r * n + c]`, each `matvec`'s bits.
pub type F16GridMatmul =
    fn(rows: &[u8], xs: &[f32], x_up: &[f32], cols: usize, order: DotOrder, out: &mut [f32]);

#[derive(Clone, Copy)]
pub struct Kernels {
    /// What was chosen, for status lines and benchmarks: "scalar", "avx2", "simd128",
    /// "simd128+relaxed".
    pub name: &'static str,
    pub i2s: I2sMatmul,
    /// `i2s` for rows in the row-interleaved layout (`ternary::interleave_i2s_rows`), where
    /// this build has a kernel that gains from it; the file's I2_S tensors are rearranged so
    /// only then (`quant::layout`).
    pub i2s_interleaved: Option<I2sMatmul>,
    /// `i2s` reads the plane-scaled i16 activations (`ternary::I8Cols::q16`).
    pub i2s_q16: bool,
    /// The int8 quantization of `i2s`'s activations.
    pub quantize_i8: QuantizeI8,
    /// A batch kernel for F16 weights times F16 activations, where one shares work between
    /// columns (else the float products run a block of rows per column in turn).
    pub f16_grid: Option<F16GridMatmul>,
    /// `f16_grid` for rows known to hold no infinity or NaN (`Matrix::finite`): no per-row
    /// check.
    pub f16_grid_finite: Option<F16GridMatmul>,
    pub float: FloatMatvec,
    pub q8: Q8Matvec,
    pub tq2: Tq2Matvec,
}

impl core::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name)
    }
}

impl Kernels {
    /// The scalar references (every build has them; the SIMD kernels are tested against them).
    pub const SCALAR: Kernels = Kernels {
        name: "scalar",
        i2s: ternary::matmul_i2s,
        i2s_interleaved: None,
        i2s_q16: false,
        quantize_i8: act::quantize_i8_row,
        f16_grid: None,
        f16_grid_finite: None,
        float: float::matvec_float,
        q8: q8::matvec_q8,
        tq2: ternary::matvec_tq2,
    };

    /// The fastest kernels of this build on this CPU.
    pub fn best() -> Kernels {
        #[cfg(target_arch = "x86_64")]
        {
            use std::sync::OnceLock;
            static BEST: OnceLock<Kernels> = OnceLock::new();
            *BEST.get_or_init(|| super::x86::kernels().unwrap_or(Kernels::SCALAR))
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        {
            super::simd128::KERNELS
        }
        #[cfg(not(any(
            target_arch = "x86_64",
            all(target_arch = "wasm32", target_feature = "simd128")
        )))]
        {
            Kernels::SCALAR
        }
    }
}

impl Default for Kernels {
    fn default() -> Kernels {
        Kernels::best()
    }
}
