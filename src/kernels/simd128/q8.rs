//! simd128 Q4_0 / Q4_1 / Q8_0 × Q8_0/Q8_1 matrix-vector product, bit for bit `q8::matvec_q8`:
//! the eight integer lane sums of a block are exact in i32 lanes, and the float epilogue is the
//! scalar one (per lane `fma(d_w·d_a, lane, acc)`, done exactly in f64 by `fma_f64x2`; the
//! Q4_1 `m·s` terms summed in block order; `hsum8` at the end).

use core::arch::wasm32::*;

use super::float::fma_f64x2;
use super::{load, load_i8};
use crate::kernels::float::{f16_bits_to_f32, hsum8};
use crate::kernels::q8::{Block32, QK8};

#[inline(always)]
fn f16_le(b: &[u8], at: usize) -> f32 {
    f16_bits_to_f32(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// A block's 32 weights as two i8x16 (elements 0..16 and 16..32).
#[inline(always)]
fn weights(kind: Block32, blk: &[u8]) -> [v128; 2] {
    match kind {
        Block32::Q8_0 => [load(blk, 2), load(blk, 18)],
        Block32::Q4_0 | Block32::Q4_1 => {
            let qs = load(blk, if kind == Block32::Q4_0 { 2 } else { 4 });
            let lo = v128_and(qs, u8x16_splat(15));
            let hi = u8x16_shr(qs, 4);
            if kind == Block32::Q4_0 {
                [i8x16_sub(lo, i8x16_splat(8)), i8x16_sub(hi, i8x16_splat(8))]
            } else {
                [lo, hi]
            }
        }
    }
}

/// The eight lane sums (lane n: elements 4n..4n+4) of one block as two i32x4 (lanes 0..4, 4..8).
#[inline(always)]
fn block_lanes(w: [v128; 2], q: &[i8], at: usize) -> [v128; 2] {
    [0, 1].map(|h| {
        let qv = load_i8(q, at + 16 * h);
        // i8 × i8 fits i16; pairs of them are summed in i32.
        let a = i32x4_extadd_pairwise_i16x8(i16x8_extmul_low_i8x16(w[h], qv));
        let b = i32x4_extadd_pairwise_i16x8(i16x8_extmul_high_i8x16(w[h], qv));
        i32x4_add(
            i32x4_shuffle::<0, 2, 4, 6>(a, b),
            i32x4_shuffle::<1, 3, 5, 7>(a, b),
        )
    })
}

/// Same contract as `q8::matvec_q8`.
pub fn matvec_q8(kind: Block32, packed: &[u8], q: &[i8], d: &[f32], s: &[f32], out: &mut [f32]) {
    let nb = q.len() / QK8;
    let bb = kind.bytes();
    for (r, o) in out.iter_mut().enumerate() {
        let row = &packed[r * nb * bb..(r + 1) * nb * bb];
        // Lanes 0..8 as f32 values held in four f64x2.
        let mut acc = [f64x2_splat(0.0); 4];
        let mut summs = 0f32;
        for (b, blk) in row.chunks_exact(bb).enumerate() {
            let lanes = block_lanes(weights(kind, blk), q, b * QK8);
            if kind == Block32::Q4_1 {
                summs += f16_le(blk, 2) * s[b];
            }
            // |lane| <= 4 · 128 · 128, exact in f32 as in f64.
            let dd = f64x2_splat((f16_le(blk, 0) * d[b]) as f64);
            for (pair, &l) in acc.chunks_exact_mut(2).zip(&lanes) {
                let lo = f64x2_convert_low_i32x4(l);
                let hi = f64x2_convert_low_i32x4(i32x4_shuffle::<2, 3, 2, 3>(l, l));
                pair[0] = fma_f64x2(dd, lo, pair[0]);
                pair[1] = fma_f64x2(dd, hi, pair[1]);
            }
        }
        let mut l = [0f32; 8];
        for (two, a) in l.chunks_exact_mut(2).zip(acc) {
            two[0] = f64x2_extract_lane::<0>(a) as f32;
            two[1] = f64x2_extract_lane::<1>(a) as f32;
        }
        *o = hsum8(&l) + summs;
    }
}
