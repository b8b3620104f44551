//! AVX2 attention products over the F16 KV cache, bit-identical to `attention::kq_scores` and
//! `attention::kqv`:
//! - q·k: each cached key is a row of F16 weights, so `float::dot_rows_avx2` with the cache's
//!   row stride;
//! - p·V: the reference sums, for each output dimension d, the terms `v_t[d]·p_t` over the
//!   padded cache in the order's lanes (term t in lane `t % lanes`). Here the lanes of all
//!   dimensions advance together: for each t, lane `t % lanes` of 8·4 dimensions at once takes
//!   `fma(v_t[d..d+32], p_t)` (one F16 row segment, contiguous in d), then each dimension's
//!   lanes go through the reference reduction.

use core::arch::x86_64::*;

use half::f16;

use super::float::dot_rows_avx2;
use super::has_avx2_fma_f16c;
use crate::kernels::attention::{self as scalar, KV_PAD};
use crate::kernels::float::{reduce, DotOrder, FloatType};

/// The cache's F16 values as little-endian bytes (x86 is little-endian; `f16` is a `u16`).
fn f16_bytes(v: &[f16]) -> &[u8] {
    // SAFETY: same memory, `u8` has no alignment or validity requirement, length in bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, 2 * v.len()) }
}

/// Same contract as `attention::kq_scores`.
pub fn kq_scores(
    order: DotOrder,
    k: &[f16],
    kv_dim: usize,
    base: usize,
    qh: &[f32],
    scale: f32,
    att: &mut [f32],
) {
    if !has_avx2_fma_f16c() || att.is_empty() {
        return scalar::kq_scores(order, k, kv_dim, base, qh, scale, att);
    }
    let rows = &f16_bytes(k)[2 * base..];
    // SAFETY: the CPU has the features (checked above); bounds are checked inside.
    unsafe { dot_rows_avx2(rows, FloatType::F16, 2 * kv_dim, qh, order, att) };
    for a in att.iter_mut() {
        *a *= scale;
    }
}

/// Same contract as `attention::kqv`.
pub fn kqv(order: DotOrder, v: &[f16], kv_dim: usize, base: usize, p: &[f32], out: &mut [f32]) {
    let n = p.len();
    let fits = n == 0 || (n - 1) * kv_dim + base + out.len() <= v.len();
    if !has_avx2_fma_f16c() || !out.len().is_multiple_of(8) || !fits {
        return scalar::kqv(order, v, kv_dim, base, p, out);
    }
    // SAFETY: the CPU has the features, every row segment read is inside `v` (checked above).
    unsafe { kqv_avx2(order, v, kv_dim, base, p, out) }
}

/// Dimensions per pass: four registers in each of up to 64 lanes (8 KiB of accumulators).
const DIMS: usize = 32;

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn kqv_avx2(
    order: DotOrder,
    v: &[f16],
    kv_dim: usize,
    base: usize,
    p: &[f32],
    out: &mut [f32],
) {
    let n = p.len();
    let n_pad = n.div_ceil(KV_PAD) * KV_PAD;
    let lanes = order.lanes();
    let fused = order.fused_len(n_pad);
    let vp = v.as_ptr() as *const u8;
    for d0 in (0..out.len()).step_by(DIMS) {
        let regs = (out.len() - d0).min(DIMS) / 8;
        let mut acc = [[_mm256_setzero_ps(); DIMS / 8]; 64];
        for (t, &pt) in p.iter().enumerate().take(fused) {
            let row = vp.add(2 * (t * kv_dim + base + d0));
            let (a, pv) = (&mut acc[t % lanes], _mm256_set1_ps(pt));
            for (g, ag) in a.iter_mut().enumerate().take(regs) {
                let vv = _mm256_cvtph_ps(_mm_loadu_si128(row.add(16 * g) as *const __m128i));
                *ag = _mm256_fmadd_ps(vv, pv, *ag);
            }
        }
        // A padding cell adds fma(0, 0, acc) = acc + 0 to its lane: only a -0 changes (to +0),
        // so once per lane is the same as every time.
        for t in n.min(fused)..fused.min(n + lanes) {
            for ag in acc[t % lanes].iter_mut().take(regs) {
                *ag = _mm256_add_ps(*ag, _mm256_setzero_ps());
            }
        }
        let mut sums = [[0f32; DIMS]; 64];
        for (s, a) in sums.iter_mut().zip(&acc).take(lanes) {
            for (g, ag) in a.iter().enumerate().take(regs) {
                _mm256_storeu_ps(s.as_mut_ptr().add(8 * g), *ag);
            }
        }
        for j in 0..8 * regs {
            let d = d0 + j;
            let mut l = [0f32; 64];
            for (lane, s) in l.iter_mut().zip(&sums).take(lanes) {
                *lane = s[j];
            }
            let vd = |t: usize| {
                if t < n {
                    v[t * kv_dim + base + d].to_f32()
                } else {
                    0.0
                }
            };
            let pt = |t: usize| if t < n { p[t] } else { 0.0 };
            out[d] = reduce(order, &l[..lanes], n_pad, vd, pt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testdata::{Rng, ORDERS};

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn attention_products_equal_scalar() {
        if !has_avx2_fma_f16c() {
            return;
        }
        let mut rng = Rng(0x0123_4567_89ab);
        // (head_dim, kv heads, positions): partial steps, one and several KV_PAD blocks,
        // a head_dim that is no multiple of 8 (scalar fallback) or of 32.
        for (hd, n_kv, n) in [
            (64, 2, 1),
            (128, 1, 17),
            (40, 3, 300),
            (12, 2, 5),
            (8, 1, 513),
        ] {
            let kv_dim = n_kv * hd;
            let k: Vec<f16> = rng
                .f32s(n * kv_dim)
                .into_iter()
                .map(f16::from_f32)
                .collect();
            let v: Vec<f16> = rng
                .f32s(n * kv_dim)
                .into_iter()
                .map(f16::from_f32)
                .collect();
            let q: Vec<f32> = rng
                .f32s(hd)
                .into_iter()
                .map(|x| f16::from_f32(x).to_f32())
                .collect();
            // Probabilities with exact zeros and negative zeros (masked cells, -0 sums).
            let mut p: Vec<f32> = rng.f32s(n).into_iter().map(|x| x.abs() / 4.0).collect();
            p[0] = 0.0;
            if n > 2 {
                p[2] = -0.0;
            }
            for order in ORDERS {
                for base in [0, kv_dim - hd] {
                    let (mut want, mut got) = (vec![0f32; n], vec![0f32; n]);
                    scalar::kq_scores(order, &k, kv_dim, base, &q, 0.125, &mut want);
                    kq_scores(order, &k, kv_dim, base, &q, 0.125, &mut got);
                    assert_eq!(bits(&want), bits(&got), "kq {order:?} hd {hd} n {n}");
                    let (mut want, mut got) = (vec![0f32; hd], vec![0f32; hd]);
                    scalar::kqv(order, &v, kv_dim, base, &p, &mut want);
                    kqv(order, &v, kv_dim, base, &p, &mut got);
                    assert_eq!(bits(&want), bits(&got), "kqv {order:?} hd {hd} n {n}");
                }
            }
        }
        // Products that round to -0 make every lane -0 (8 cells, 8 lanes); the padding cells'
        // fused zero terms turn them +0, so the sum is +0 (it would be -0 without them).
        let v = vec![f16::from_f32(-0.5); 64];
        let p = [f32::from_bits(1); 8];
        let (mut want, mut got) = ([1f32; 8], [1f32; 8]);
        scalar::kqv(DotOrder::TinyBlas, &v, 8, 0, &p, &mut want);
        kqv(DotOrder::TinyBlas, &v, 8, 0, &p, &mut got);
        assert_eq!(bits(&want), bits(&got));
        assert_eq!(bits(&got), [0; 8]);
    }
}
