//! AVX2 ternary kernels: I2_S rows and TQ2_0 blocks, exact integer sums, then the scalar
//! reference's float epilogue.

use core::arch::x86_64::*;

use super::f16_at;
use crate::kernels::act::Q8K_BLOCK;
use crate::kernels::float::hsum8;
use crate::kernels::ternary::{
    self as scalar, I8Cols, I2S_BLOCK, I2S_BLOCK_BYTES, TQ2_BLOCK_BYTES,
};

/// The 2-bit codes at bit offset `shift` of each byte of `w` (a 16-bit shift leaks the next
/// byte's low bits into bits 2..7, which the mask clears).
#[inline(always)]
unsafe fn codes(w: __m256i, shift: i32) -> __m256i {
    let shifted = match shift {
        0 => w,
        2 => _mm256_srli_epi16::<2>(w),
        4 => _mm256_srli_epi16::<4>(w),
        _ => _mm256_srli_epi16::<6>(w),
    };
    _mm256_and_si256(shifted, _mm256_set1_epi8(3))
}

#[inline(always)]
unsafe fn load(p: *const u8) -> __m256i {
    _mm256_loadu_si256(p as *const __m256i)
}

#[inline(always)]
unsafe fn hsum_i32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// `Σ code·q` over one I2_S row: per 128-element block the four planes' `maddubs` products
/// (each pair at most 2·3·128 in magnitude, so four fit an i16) widened to i32 by `madd`.
#[target_feature(enable = "avx2")]
unsafe fn i2s_row_dot_avx2(row: &[u8], q: &[i8]) -> i32 {
    let blocks = row.len() / I2S_BLOCK_BYTES;
    assert!(q.len() >= blocks * I2S_BLOCK);
    let ones = _mm256_set1_epi16(1);
    let mut acc = _mm256_setzero_si256();
    for b in 0..blocks {
        let w = load(row.as_ptr().add(b * I2S_BLOCK_BYTES));
        let qp = q.as_ptr().add(b * I2S_BLOCK) as *const u8;
        let mut s16 = _mm256_setzero_si256();
        for plane in 0..4 {
            let c = codes(w, 6 - 2 * plane as i32);
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(c, load(qp.add(32 * plane))));
        }
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s16, ones));
    }
    hsum_i32(acc)
}

/// `ternary::i2s_row_dot` with AVX2 when the CPU has it.
pub fn i2s_row_dot(row: &[u8], q: &[i8]) -> i32 {
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above); the function checks its bounds.
        unsafe { i2s_row_dot_avx2(row, q) }
    } else {
        scalar::i2s_row_dot(row, q)
    }
}

#[target_feature(enable = "avx2")]
unsafe fn matmul_i2s_avx2_inner(rows: &[u8], w_scale: f32, act: &I8Cols, out: &mut [f32]) {
    // SAFETY (closure): inside this function the CPU has AVX2.
    let row_dot = |row: &[u8], q: &[i8]| unsafe { i2s_row_dot_avx2(row, q) };
    scalar::i2s_matmul_by_row(row_dot, rows, w_scale, act, out);
}

/// `ternary::matmul_i2s` in AVX2. Only reachable through `super::kernels()`, which checked
/// that the CPU has AVX2.
pub(super) fn matmul_i2s_avx2(rows: &[u8], w_scale: f32, act: &I8Cols, out: &mut [f32]) {
    // SAFETY: see above.
    unsafe { matmul_i2s_avx2_inner(rows, w_scale, act, out) }
}

/// The eight lane sums of `ternary::tq2_block_lanes` in one register: per byte position the
/// `maddubs` pairs of all four planes of both 32-byte chunks (at most 8·2·3·128 per i16), then
/// `madd` adds the pairs of bytes 4n..4n+4 into lane n, and the two `bsums` of lane n go off.
#[inline(always)]
unsafe fn tq2_lanes(blk: *const u8, q: *const u8, bsums: *const i16) -> __m256i {
    let mut s16 = _mm256_setzero_si256();
    for j in 0..2 {
        let w = load(blk.add(32 * j));
        for l in 0..4 {
            let c = codes(w, 2 * l as i32);
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(c, load(q.add(128 * j + 32 * l))));
        }
    }
    let ones = _mm256_set1_epi16(1);
    let lanes = _mm256_madd_epi16(s16, ones);
    let bs = _mm256_madd_epi16(load(bsums as *const u8), ones);
    _mm256_sub_epi32(lanes, bs)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn matvec_tq2_avx2(packed: &[u8], q: &[i8], d: &[f32], bsums: &[i16], out: &mut [f32]) {
    let n_blocks = q.len() / Q8K_BLOCK;
    let row_bytes = n_blocks * TQ2_BLOCK_BYTES;
    assert!(packed.len() >= out.len() * row_bytes);
    assert!(d.len() >= n_blocks && bsums.len() >= 16 * n_blocks);
    for (r, o) in out.iter_mut().enumerate() {
        let row = &packed[r * row_bytes..(r + 1) * row_bytes];
        let mut acc = _mm256_setzero_ps();
        for (b, blk) in row.chunks_exact(TQ2_BLOCK_BYTES).enumerate() {
            let lanes = tq2_lanes(
                blk.as_ptr(),
                q.as_ptr().add(b * Q8K_BLOCK) as *const u8,
                bsums.as_ptr().add(16 * b),
            );
            let dd = d[b] * f16_at(blk, 64);
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), _mm256_set1_ps(dd), acc);
        }
        let mut l = [0f32; 8];
        _mm256_storeu_ps(l.as_mut_ptr(), acc);
        *o = hsum8(&l);
    }
}

/// `ternary::matvec_tq2` in AVX2: same lanes, same fused per-lane accumulation, same
/// reduction. Only reachable through `super::kernels()` (and tests that check first), which
/// checked AVX2, FMA and F16C.
pub fn matvec_tq2(packed: &[u8], q: &[i8], d: &[f32], bsums: &[i16], out: &mut [f32]) {
    // SAFETY: see above; bounds are checked inside.
    unsafe { matvec_tq2_avx2(packed, q, d, bsums, out) }
}

#[cfg(test)]
mod tests {
    use super::super::has_avx2_fma_f16c;
    use super::*;
    use crate::kernels::quantize_q8k;
    use crate::kernels::testdata::Rng;
    use half::f16;

    #[test]
    fn i2s_rows_equal_scalar() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        crate::kernels::ternary::tests::check_matmul_i2s(matmul_i2s_avx2);
        let mut rng = Rng(0x1234_5678);
        for cols in [128, 256, 2560] {
            let packed = rng.bytes(7 * cols / 4);
            let q = rng.i8s(cols);
            for row in packed.chunks_exact(cols / 4) {
                assert_eq!(i2s_row_dot(row, &q), scalar::i2s_row_dot(row, &q));
            }
        }
        // Extremes: all codes 3 against all -128 and all 127.
        let row = vec![0xffu8; 64];
        for v in [-128i8, 127] {
            let q = vec![v; 256];
            assert_eq!(i2s_row_dot(&row, &q), 3 * 256 * v as i32);
        }
    }

    #[test]
    fn tq2_rows_equal_scalar() {
        if !has_avx2_fma_f16c() {
            return;
        }
        let mut rng = Rng(0x9e37_79b9);
        for n_blocks in [1, 2, 10] {
            let (rows, cols) = (5, n_blocks * Q8K_BLOCK);
            let mut packed = rng.bytes(rows * n_blocks * TQ2_BLOCK_BYTES);
            // Finite block scales (random bytes could make NaN/Inf, which also must match).
            for blk in packed.chunks_exact_mut(TQ2_BLOCK_BYTES) {
                let dw = f16::from_f32((rng.next() % 1000) as f32 / 7000.0);
                blk[64..].copy_from_slice(&dw.to_le_bytes());
            }
            let x = rng.f32s(cols);
            let (mut q, mut d, mut bs) = (
                vec![0i8; cols],
                vec![0f32; n_blocks],
                vec![0; 16 * n_blocks],
            );
            quantize_q8k(&x, &mut q, &mut d, &mut bs);
            let mut want = vec![0f32; rows];
            let mut got = vec![0f32; rows];
            scalar::matvec_tq2_lanes(&packed, scalar::tq2_block_lanes, &q, &d, &bs, &mut want);
            matvec_tq2(&packed, &q, &d, &bs, &mut got);
            assert_eq!(
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{n_blocks} blocks"
            );
        }
        // Codes 3 everywhere against extreme activations: the i16 sums must not saturate.
        let mut blk = vec![0xffu8; TQ2_BLOCK_BYTES];
        blk[64..].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
        for v in [-128i8, 127] {
            let q = vec![v; 256];
            let bs = vec![16 * v as i16; 16];
            let d = [1.0f32];
            let (mut want, mut got) = ([0f32], [0f32]);
            scalar::matvec_tq2_lanes(&blk, scalar::tq2_block_lanes, &q, &d, &bs, &mut want);
            matvec_tq2(&blk, &q, &d, &bs, &mut got);
            assert_eq!(want, got);
            assert_eq!(got[0], 2.0 * 256.0 * v as f32);
        }
    }
}
