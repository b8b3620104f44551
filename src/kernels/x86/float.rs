//! AVX2 float matrix-vector products (F16/BF16/F32 weights) in any `DotOrder`: lane k of the
//! order (term i in lane `i % lanes`) is lane `k % 8` of register `k / 8`, each term fused in
//! with an FMA instruction, exactly as the scalar `fused_lanes` does with `f32::mul_add`; the
//! order's partial last step, its reduction and its f64 tail are the scalar code itself.

use core::arch::x86_64::*;

use crate::kernels::float::{fused_lanes_from, reduce, DotOrder, FloatType};

const F16: u8 = 0;
const BF16: u8 = 1;
const F32: u8 = 2;

/// Eight weights from `p` as f32 (all three conversions are exact).
#[inline(always)]
unsafe fn load8<const T: u8>(p: *const u8) -> __m256 {
    match T {
        F16 => _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)),
        BF16 => {
            let h = _mm256_cvtepu16_epi32(_mm_loadu_si128(p as *const __m128i));
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(h))
        }
        _ => _mm256_loadu_ps(p as *const f32),
    }
}

/// Row r (`x.len()` weights at byte `r · stride`) dotted with `x` in `order` into `out[r]`, with
/// `K` registers of eight lanes (`8K = order.lanes()`).
#[inline(always)]
unsafe fn rows<const T: u8, const K: usize>(
    data: &[u8],
    ty: FloatType,
    stride: usize,
    x: &[f32],
    order: DotOrder,
    out: &mut [f32],
) {
    let n = x.len();
    let eb = ty.bytes();
    let row_bytes = n * eb;
    assert!(out.is_empty() || data.len() >= (out.len() - 1) * stride + row_bytes);
    let fused = order.fused_len(n);
    let whole = fused / (8 * K) * (8 * K);
    let elem_at = ty.elem_at();
    for (r, o) in out.iter_mut().enumerate() {
        let row = &data[r * stride..r * stride + row_bytes];
        let (w, xp) = (row.as_ptr(), x.as_ptr());
        let mut acc = [_mm256_setzero_ps(); K];
        let mut i = 0;
        while i < whole {
            for (g, a) in acc.iter_mut().enumerate() {
                let at = i + 8 * g;
                *a = _mm256_fmadd_ps(load8::<T>(w.add(at * eb)), _mm256_loadu_ps(xp.add(at)), *a);
            }
            i += 8 * K;
        }
        let mut lanes = [0f32; 64];
        for (g, a) in acc.iter().enumerate() {
            _mm256_storeu_ps(lanes.as_mut_ptr().add(8 * g), *a);
        }
        let lanes = &mut lanes[..8 * K];
        let wk = |k: usize| elem_at(row, k);
        let xk = |k: usize| x[k];
        fused_lanes_from(lanes, whole, fused, wk, xk);
        *o = reduce(order, lanes, n, wk, xk);
    }
}

/// `rows` for any weight type and order. The caller checks the CPU's features.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn dot_rows_avx2(
    data: &[u8],
    ty: FloatType,
    stride: usize,
    x: &[f32],
    order: DotOrder,
    out: &mut [f32],
) {
    macro_rules! by_lanes {
        ($t:expr) => {
            match order.lanes() {
                8 => rows::<$t, 1>(data, ty, stride, x, order, out),
                16 => rows::<$t, 2>(data, ty, stride, x, order, out),
                32 => rows::<$t, 4>(data, ty, stride, x, order, out),
                64 => rows::<$t, 8>(data, ty, stride, x, order, out),
                l => unreachable!("{l} lanes"),
            }
        };
    }
    match ty {
        FloatType::F16 => by_lanes!(F16),
        FloatType::BF16 => by_lanes!(BF16),
        FloatType::F32 => by_lanes!(F32),
    }
}

/// Same contract as `float::matvec_float` (`row` unused), in AVX2. Only reachable through
/// `super::kernels()` (and tests that check first), which checked AVX2, FMA and F16C.
pub fn matvec_float(
    data: &[u8],
    ty: FloatType,
    x: &[f32],
    order: DotOrder,
    row: &mut Vec<f32>,
    out: &mut [f32],
) {
    let _ = row;
    // SAFETY: see above; bounds are checked inside.
    unsafe { dot_rows_avx2(data, ty, x.len() * ty.bytes(), x, order, out) }
}

#[cfg(test)]
mod tests {
    use super::super::has_avx2_fma_f16c;
    use super::*;
    use crate::kernels::float as scalar;
    use crate::kernels::float::{round_to_bf16, round_to_f16};
    use crate::kernels::testdata::{Rng, ORDERS};
    use half::{bf16, f16};

    #[test]
    fn float_rows_equal_scalar_in_every_order() {
        if !has_avx2_fma_f16c() {
            return;
        }
        let mut rng = Rng(0xdead_beef_cafe);
        // Lengths with and without partial steps of 8, 16, 32 and 64 lanes.
        for cols in [5, 8, 40, 64, 100, 256, 333, 2560] {
            let rows = 4;
            let vals = rng.f32s(rows * cols);
            let x = rng.f32s(cols);
            for ty in [FloatType::F16, FloatType::BF16, FloatType::F32] {
                let mut w = vec![0u8]; // one byte ahead: the scalar path's unaligned case too
                for &v in &vals {
                    match ty {
                        FloatType::F16 => w.extend(f16::from_f32(v).to_le_bytes()),
                        FloatType::BF16 => w.extend(bf16::from_f32(v).to_le_bytes()),
                        FloatType::F32 => w.extend(v.to_le_bytes()),
                    }
                }
                // Both the raw F32 activation and one rounded to the weight type (where each
                // product is exact).
                let mut xr = vec![0f32; cols];
                match ty {
                    FloatType::BF16 => round_to_bf16(&x, &mut xr),
                    _ => round_to_f16(&x, &mut xr),
                }
                for xs in [&x, &xr] {
                    for order in ORDERS {
                        let (mut want, mut got) = (vec![0f32; rows], vec![0f32; rows]);
                        let mut row = Vec::new();
                        scalar::matvec_float(&w[1..], ty, xs, order, &mut row, &mut want);
                        matvec_float(&w[1..], ty, xs, order, &mut row, &mut got);
                        assert_eq!(
                            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                            got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                            "{ty:?} {order:?} cols {cols}"
                        );
                    }
                }
            }
        }
    }
}
