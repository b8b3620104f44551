//! AVX2 products of the 32-element block formats (Q4_0, Q4_1, Q8_0) with Q8_0/Q8_1
//! activations: the reference's eight exact lane sums (elements 4n..4n+4 in lane n), then its
//! fused per-lane accumulation and reduction.

use core::arch::x86_64::*;

use super::f16_at as f16_le;
use crate::kernels::float::hsum8;
use crate::kernels::q8::{Block32, QK8};

/// 4-bit codes of 16 bytes as 32 bytes: elements 0..16 the low nibbles, 16..32 the high ones.
#[inline(always)]
unsafe fn nibbles(qs: *const u8) -> __m256i {
    let b = _mm_loadu_si128(qs as *const __m128i);
    let m = _mm_set1_epi8(15);
    let lo = _mm_and_si128(b, m);
    let hi = _mm_and_si128(_mm_srli_epi16::<4>(b), m);
    _mm256_set_m128i(hi, lo)
}

/// Lane n = `Σ u[k]·q[k]` over k in 4n..4n+4, `u` unsigned (at most 2·255·128 per pair).
#[inline(always)]
unsafe fn quads_unsigned(u: __m256i, q: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(u, q), _mm256_set1_epi16(1))
}

/// Lane n = `Σ w[k]·q[k]` over k in 4n..4n+4, both signed (widened to i16, so -128·-128 is
/// exact): pairs by `madd`, then adjacent pairs by `hadd` and the 64-bit halves put back in
/// order.
#[inline(always)]
unsafe fn quads_signed(w: __m256i, q: __m256i) -> __m256i {
    let (w_lo, w_hi) = (_mm256_castsi256_si128(w), _mm256_extracti128_si256::<1>(w));
    let (q_lo, q_hi) = (_mm256_castsi256_si128(q), _mm256_extracti128_si256::<1>(q));
    let a = _mm256_madd_epi16(_mm256_cvtepi8_epi16(w_lo), _mm256_cvtepi8_epi16(q_lo));
    let b = _mm256_madd_epi16(_mm256_cvtepi8_epi16(w_hi), _mm256_cvtepi8_epi16(q_hi));
    _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(a, b))
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn matvec_q8_avx2(
    kind: Block32,
    packed: &[u8],
    q: &[i8],
    d: &[f32],
    s: &[f32],
    out: &mut [f32],
) {
    let nb = q.len() / QK8;
    let bb = kind.bytes();
    assert!(packed.len() >= out.len() * nb * bb && d.len() >= nb && s.len() >= nb);
    for (r, o) in out.iter_mut().enumerate() {
        let row = &packed[r * nb * bb..(r + 1) * nb * bb];
        let mut acc = _mm256_setzero_ps();
        let mut summs = 0f32;
        for (b, blk) in row.chunks_exact(bb).enumerate() {
            let qv = _mm256_loadu_si256(q.as_ptr().add(b * QK8) as *const __m256i);
            let lanes = match kind {
                Block32::Q4_0 => {
                    // (code - 8)·q summed as code·q - 8·q, both exact.
                    let cq = quads_unsigned(nibbles(blk.as_ptr().add(2)), qv);
                    let sq = quads_unsigned(_mm256_set1_epi8(1), qv);
                    _mm256_sub_epi32(cq, _mm256_slli_epi32::<3>(sq))
                }
                Block32::Q4_1 => {
                    summs += f16_le(blk, 2) * s[b];
                    quads_unsigned(nibbles(blk.as_ptr().add(4)), qv)
                }
                Block32::Q8_0 => quads_signed(
                    _mm256_loadu_si256(blk.as_ptr().add(2) as *const __m256i),
                    qv,
                ),
            };
            let dd = f16_le(blk, 0) * d[b];
            acc = _mm256_fmadd_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(lanes), acc);
        }
        let mut l = [0f32; 8];
        _mm256_storeu_ps(l.as_mut_ptr(), acc);
        *o = hsum8(&l) + summs;
    }
}

/// Same contract as `q8::matvec_q8`, in AVX2. Only reachable through `super::kernels()` (and
/// tests that check first), which checked AVX2, FMA and F16C.
pub fn matvec_q8(kind: Block32, packed: &[u8], q: &[i8], d: &[f32], s: &[f32], out: &mut [f32]) {
    // SAFETY: see above; bounds are checked inside.
    unsafe { matvec_q8_avx2(kind, packed, q, d, s, out) }
}

#[cfg(test)]
mod tests {
    use super::super::has_avx2_fma_f16c;
    use super::*;
    use crate::kernels::q8 as scalar;
    use crate::kernels::testdata::Rng;
    use half::f16;

    #[test]
    fn block32_rows_equal_scalar() {
        if !has_avx2_fma_f16c() {
            return;
        }
        let mut rng = Rng(0x51_7cc1_b727);
        for kind in [Block32::Q4_0, Block32::Q4_1, Block32::Q8_0] {
            for nb in [1, 3, 18] {
                let (rows, cols) = (6, nb * QK8);
                let mut packed = rng.bytes(rows * nb * kind.bytes());
                for blk in packed.chunks_exact_mut(kind.bytes()) {
                    let dw = f16::from_f32((rng.next() % 2000) as f32 / 9000.0 - 0.1);
                    blk[..2].copy_from_slice(&dw.to_le_bytes());
                    if kind == Block32::Q4_1 {
                        let m = f16::from_f32((rng.next() % 2000) as f32 / 3000.0 - 0.3);
                        blk[2..4].copy_from_slice(&m.to_le_bytes());
                    }
                }
                let x = rng.f32s(cols);
                let (mut q, mut d, mut s) = (vec![0i8; cols], vec![0f32; nb], vec![0f32; nb]);
                scalar::quantize_q8(&x, &mut q, &mut d, &mut s);
                // Extremes the quantizer never makes, to show the lanes cannot overflow.
                q[0] = -128;
                q[1] = 127;
                let mut want = vec![0f32; rows];
                let mut got = vec![0f32; rows];
                scalar::matvec_q8(kind, &packed, &q, &d, &s, &mut want);
                matvec_q8(kind, &packed, &q, &d, &s, &mut got);
                assert_eq!(
                    want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{kind:?}, {nb} blocks"
                );
            }
        }
    }
}
