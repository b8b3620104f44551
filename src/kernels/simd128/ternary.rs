//! simd128 ternary kernels (I2_S rows, TQ2_0 block lanes): exact integer sums, then the scalar
//! float epilogue, so bit-identical to `kernels::ternary`.

use core::arch::wasm32::*;

use super::{load, load_i8};
use crate::kernels::ternary::matvec_i2s_with;

#[inline]
fn hsum_i32x4(v: v128) -> i32 {
    i32x4_extract_lane::<0>(v)
        .wrapping_add(i32x4_extract_lane::<1>(v))
        .wrapping_add(i32x4_extract_lane::<2>(v))
        .wrapping_add(i32x4_extract_lane::<3>(v))
}

/// Codes (0..3) at bit offset `shift` of 16 packed bytes.
#[inline]
fn codes(b: v128, shift: u32) -> v128 {
    v128_and(u8x16_shr(b, shift), u8x16_splat(3))
}

/// `Σ code·q` over one I2_S row, 16 lanes at a time.
pub fn i2s_row_dot(row: &[u8], q: &[i8]) -> i32 {
    let mut acc = i32x4_splat(0);
    for (blk, base) in (0..row.len()).step_by(32).zip((0..q.len()).step_by(128)) {
        let b = [load(row, blk), load(row, blk + 16)];
        // Products are at most 3*128 in magnitude; four of them fit an i16 lane.
        let mut lo = i16x8_splat(0);
        let mut hi = i16x8_splat(0);
        for plane in 0..4 {
            let shift = 6 - 2 * plane as u32;
            for (half, &bh) in b.iter().enumerate() {
                let c = codes(bh, shift);
                let qv = load_i8(q, base + 32 * plane + 16 * half);
                lo = i16x8_add(lo, i16x8_extmul_low_i8x16(c, qv));
                hi = i16x8_add(hi, i16x8_extmul_high_i8x16(c, qv));
            }
        }
        acc = i32x4_add(acc, i32x4_extadd_pairwise_i16x8(lo));
        acc = i32x4_add(acc, i32x4_extadd_pairwise_i16x8(hi));
    }
    hsum_i32x4(acc)
}

/// Same contract as `ternary::matvec_i2s`.
pub fn matvec_i2s(packed: &[u8], w_scale: f32, q: &[i8], s: f32, out: &mut [f32]) {
    matvec_i2s_with(i2s_row_dot, packed, w_scale, q, s, out);
}

/// Same contract as `ternary::tq2_block_lanes`: per byte position k of the 32-byte chunks, the
/// products of all four planes of both chunks are summed in i16 lanes (at most 8 · 3 · 128),
/// then adjacent groups of four positions are added into the eight i32 lanes.
pub fn tq2_block_lanes(blk: &[u8], q: &[i8], bsums: &[i16]) -> [i32; 8] {
    // p[0]: k 0..8, p[1]: k 8..16, p[2]: k 16..24, p[3]: k 24..32.
    let mut p = [i16x8_splat(0); 4];
    for j in 0..2 {
        let b = [load(blk, 32 * j), load(blk, 32 * j + 16)];
        for l in 0..4 {
            for (half, &bh) in b.iter().enumerate() {
                let c = codes(bh, 2 * l as u32);
                let qv = load_i8(q, 128 * j + 32 * l + 16 * half);
                p[2 * half] = i16x8_add(p[2 * half], i16x8_extmul_low_i8x16(c, qv));
                p[2 * half + 1] = i16x8_add(p[2 * half + 1], i16x8_extmul_high_i8x16(c, qv));
            }
        }
    }
    let quads = |lo: v128, hi: v128| {
        let a = i32x4_extadd_pairwise_i16x8(lo);
        let b = i32x4_extadd_pairwise_i16x8(hi);
        i32x4_add(
            i32x4_shuffle::<0, 2, 4, 6>(a, b),
            i32x4_shuffle::<1, 3, 5, 7>(a, b),
        )
    };
    let first = quads(p[0], p[1]);
    let second = quads(p[2], p[3]);
    let mut lanes = [
        i32x4_extract_lane::<0>(first),
        i32x4_extract_lane::<1>(first),
        i32x4_extract_lane::<2>(first),
        i32x4_extract_lane::<3>(first),
        i32x4_extract_lane::<0>(second),
        i32x4_extract_lane::<1>(second),
        i32x4_extract_lane::<2>(second),
        i32x4_extract_lane::<3>(second),
    ];
    for (n, lane) in lanes.iter_mut().enumerate() {
        *lane -= bsums[2 * n] as i32 + bsums[2 * n + 1] as i32;
    }
    lanes
}
