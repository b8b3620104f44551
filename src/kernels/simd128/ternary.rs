//! simd128 ternary kernels (I2_S rows, TQ2_0 block lanes): exact integer sums, then the scalar
//! float epilogue, so bit-identical to `kernels::ternary`.

use core::arch::wasm32::*;

use super::{load, load_i8};
use crate::kernels::ternary::{self, I8Cols};

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

/// Rows longer than this take the scalar path: the in-place masks below scale products by up
/// to 64, and `64 · 3 · 128 · cols` must stay within an i32 lane for any bytes (a hostile file
/// may hold code 3). Real models have rows of at most a few ten thousand.
const MAX_COLS: usize = 65536;

/// 16 bytes at byte offset `at` of `p`.
///
/// # Safety
/// `p + at .. p + at + 16` must be readable.
#[cfg(target_feature = "relaxed-simd")]
#[inline(always)]
unsafe fn load_at(p: *const u8, at: usize) -> v128 {
    unsafe { v128_load(p.add(at) as *const v128) }
}

/// The number of 32-byte (128-weight) blocks of the `R` rows, checked to be whole and the same
/// for every row, with every column long enough: every load of the kernels below is within
/// these bounds, checked once here, not per load.
#[cfg(target_feature = "relaxed-simd")]
#[inline(always)]
fn checked_blocks<T, const R: usize, const C: usize>(rows: [&[u8]; R], q: [&[T]; C]) -> usize {
    let blocks = rows[0].len() / 32;
    assert!(rows.iter().all(|r| r.len() == 32 * blocks));
    assert!(q.iter().all(|q| 128 * blocks <= q.len()));
    blocks
}

/// Eight i16 values of `q16` at `at` (bounds checked).
#[inline(always)]
fn load_i16(q: &[i16], at: usize) -> v128 {
    assert!(at + 8 <= q.len());
    // SAFETY: bounds checked above.
    unsafe { v128_load(q.as_ptr().add(at) as *const v128) }
}

/// `Σ code·q` of one row with `C` columns (baseline simd128): each weight byte, widened to an
/// i16 lane, is masked in place once per plane (plane k's code times `4^(3-k)`) and multiplied
/// by the plane-scaled activations `q16` (`ternary::plane_scaled_i16`) with `i32x4.dot_i16x8`,
/// so every product is `64·code·q`, exactly; the sums are divided by 64 at the end.
#[inline(always)]
fn row_dots_i16<const C: usize>(row: &[u8], q16: [&[i16]; C]) -> [i32; C] {
    const MASKS: [u16; 4] = [0xc0, 0x30, 0x0c, 0x03];
    let mut acc = [i32x4_splat(0); C];
    for (blk, base) in (0..row.len()).step_by(32).zip((0..).step_by(128)) {
        for half in 0..2 {
            let b = load(row, blk + 16 * half);
            for (part, w) in [u16x8_extend_low_u8x16(b), u16x8_extend_high_u8x16(b)]
                .into_iter()
                .enumerate()
            {
                let at = base + 16 * half + 8 * part;
                let m: [v128; 4] = MASKS.map(|mask| v128_and(w, u16x8_splat(mask)));
                for (a, q) in acc.iter_mut().zip(q16) {
                    // A tree, so the accumulator's dependency chain is one add per step.
                    let p = |k: usize| i32x4_dot_i16x8(m[k], load_i16(q, at + 32 * k));
                    *a = i32x4_add(*a, i32x4_add(i32x4_add(p(0), p(1)), i32x4_add(p(2), p(3))));
                }
            }
        }
    }
    acc.map(|a| hsum_i32x4(a) / 64)
}

/// `ternary::matmul_i2s`'s results (baseline simd128), reading each weight byte once for up to
/// four columns (`matmul_by_blocks`).
pub fn matmul_i2s(rows: &[u8], w_scale: f32, act: &I8Cols, out: &mut [f32]) {
    if act.cols > MAX_COLS || act.q16.len() != act.q.len() {
        return ternary::matmul_i2s(rows, w_scale, act, out);
    }
    matmul_by_blocks::<Baseline>(rows, w_scale, act, out);
}

/// The baseline build's block kernel.
struct Baseline;

impl BlockDots for Baseline {
    #[inline(always)]
    fn dots<const R: usize, const C: usize>(
        rows: [&[u8]; R],
        act: &I8Cols,
        c0: usize,
    ) -> [[i32; C]; R] {
        // One row at a time: taken together, rows ran slower here (V8 spills the i16 kernel's
        // masked planes).
        let col = |c: usize| &act.q16[(c0 + c) * act.cols..][..act.cols];
        rows.map(|row| row_dots_i16::<C>(row, core::array::from_fn(col)))
    }
}

/// `Σ code·q` of `R` rows with `C` columns (relaxed SIMD): each plane's codes (0..3, shifted
/// down and masked once for all columns) are the 7-bit operand of
/// `i16x8.relaxed_dot_i8x16_i7x16` (one `pmaddubsw` on x86): every lowering agrees on codes
/// below 128, and a lane's pair sum is at most 2·3·128 = 768. The four planes of a 16-byte
/// group add up to at most 3072 per i16 lane, so eight groups (four blocks) fit an i16 lane
/// before they are widened into the i32 accumulator.
#[cfg(target_feature = "relaxed-simd")]
#[inline(always)]
fn row_dots_relaxed<const R: usize, const C: usize>(
    rows: [&[u8]; R],
    q: [&[i8]; C],
) -> [[i32; C]; R] {
    const BLOCKS_PER_WIDENING: usize = 4;
    let blocks = checked_blocks(rows, q);
    let mut acc = [[i32x4_splat(0); C]; R];
    // Opaque to the compiler, so it is made once, not rematerialised inside the loop.
    let three = core::hint::black_box(u8x16_splat(3));
    let mut first = 0;
    while first < blocks {
        let last = (first + BLOCKS_PER_WIDENING).min(blocks);
        let mut acc16 = [[i16x8_splat(0); C]; R];
        for blk in first..last {
            for half in 0..2 {
                let planes = rows.map(|row| {
                    // SAFETY: within the rows (`checked_blocks`).
                    let b = unsafe { load_at(row.as_ptr(), 32 * blk + 16 * half) };
                    [
                        v128_and(u16x8_shr(b, 6), three),
                        v128_and(u16x8_shr(b, 4), three),
                        v128_and(u16x8_shr(b, 2), three),
                        v128_and(b, three),
                    ]
                });
                let at = 128 * blk + 16 * half;
                for (c, q) in q.iter().enumerate() {
                    // SAFETY: within the column (`checked_blocks`).
                    let x = [0, 1, 2, 3]
                        .map(|k| unsafe { load_at(q.as_ptr() as *const u8, at + 32 * k) });
                    for (a, p) in acc16.iter_mut().zip(&planes) {
                        let dot = |k: usize| i16x8_relaxed_dot_i8x16_i7x16(x[k], p[k]);
                        let sum = i16x8_add(i16x8_add(dot(0), dot(1)), i16x8_add(dot(2), dot(3)));
                        a[c] = i16x8_add(a[c], sum);
                    }
                }
            }
        }
        for (a, a16) in acc.iter_mut().zip(acc16) {
            for (a, a16) in a.iter_mut().zip(a16) {
                *a = i32x4_add(*a, i32x4_extadd_pairwise_i16x8(a16));
            }
        }
        first = last;
    }
    acc.map(|a| a.map(hsum_i32x4))
}

/// `ternary::matmul_i2s`'s results with relaxed SIMD (`matmul_by_blocks`).
#[cfg(target_feature = "relaxed-simd")]
pub fn matmul_i2s_relaxed(rows: &[u8], w_scale: f32, act: &I8Cols, out: &mut [f32]) {
    if act.cols > MAX_COLS {
        return ternary::matmul_i2s(rows, w_scale, act, out);
    }
    matmul_by_blocks::<Relaxed>(rows, w_scale, act, out);
}

/// The relaxed build's block kernel.
#[cfg(target_feature = "relaxed-simd")]
struct Relaxed;

#[cfg(target_feature = "relaxed-simd")]
impl BlockDots for Relaxed {
    #[inline(always)]
    fn dots<const R: usize, const C: usize>(
        rows: [&[u8]; R],
        act: &I8Cols,
        c0: usize,
    ) -> [[i32; C]; R] {
        row_dots_relaxed::<R, C>(rows, core::array::from_fn(|c| act.col(c0 + c)))
    }
}

/// `Σ code·q` of a block of `R` rows (whole I2_S rows) with the `C` columns from `c0`.
trait BlockDots {
    fn dots<const R: usize, const C: usize>(
        rows: [&[u8]; R],
        act: &I8Cols,
        c0: usize,
    ) -> [[i32; C]; R];
}

/// Runs a block kernel over every row and every group of up to four columns, and applies the
/// I2_S epilogue. With one or two columns, blocks of two rows go to the kernel: V8's code is
/// bound by its operation count, not by memory, and rows taken together share the activation
/// loads (and V8's address arithmetic for them). Measured in Chromium on a 2B-4T layer's
/// products (`npm run bench:decode`), relaxed, one column: 1.63-1.8 ms against 2.4-3.0 one row
/// at a time (four rows at a time: no faster); the A/B pair's two columns 3.25 against 3.35.
#[inline(always)]
fn matmul_by_blocks<K: BlockDots>(rows: &[u8], w_scale: f32, act: &I8Cols, out: &mut [f32]) {
    let (n, row_bytes) = (act.n(), act.cols / 4);
    let block = if n <= 2 { 2 } else { 1 };
    for (rows, out) in rows
        .chunks(block * row_bytes)
        .zip(out.chunks_mut(block * n))
    {
        for c0 in (0..n).step_by(4) {
            match ((n - c0).min(4), rows.len() / row_bytes) {
                (1, 2) => block_outputs::<K, 2, 1>(rows, act, c0, w_scale, out),
                (2, 2) => block_outputs::<K, 2, 2>(rows, act, c0, w_scale, out),
                (group, _) => {
                    let per_row = rows.chunks_exact(row_bytes).zip(out.chunks_exact_mut(n));
                    for (row, out) in per_row {
                        match group {
                            1 => block_outputs::<K, 1, 1>(row, act, c0, w_scale, out),
                            2 => block_outputs::<K, 1, 2>(row, act, c0, w_scale, out),
                            3 => block_outputs::<K, 1, 3>(row, act, c0, w_scale, out),
                            _ => block_outputs::<K, 1, 4>(row, act, c0, w_scale, out),
                        }
                    }
                }
            }
        }
    }
}

/// The I2_S outputs of the `R` rows in `rows` for columns `c0..c0 + C`: `out[i·n + c]`.
#[inline(always)]
fn block_outputs<K: BlockDots, const R: usize, const C: usize>(
    rows: &[u8],
    act: &I8Cols,
    c0: usize,
    w_scale: f32,
    out: &mut [f32],
) {
    let row_bytes = rows.len() / R;
    let block: [&[u8]; R] = core::array::from_fn(|i| &rows[i * row_bytes..][..row_bytes]);
    let n = act.n();
    for (i, dots) in K::dots::<R, C>(block, act, c0).iter().enumerate() {
        for (k, &d) in dots.iter().enumerate() {
            let c = c0 + k;
            out[i * n + c] = ternary::i2s_output(d, act.sums[c], act.scales[c], w_scale);
        }
    }
}

/// `ternary::matvec_tq2` through this module's lanes.
pub fn matvec_tq2(packed: &[u8], q: &[i8], d: &[f32], bsums: &[i16], out: &mut [f32]) {
    ternary::matvec_tq2_lanes(packed, tq2_block_lanes, q, d, bsums, out);
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

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn matmul_i2s_equals_scalar() {
        ternary::tests::check_matmul_i2s(matmul_i2s);
    }

    #[cfg(target_feature = "relaxed-simd")]
    #[test]
    fn matmul_i2s_relaxed_equals_scalar() {
        ternary::tests::check_matmul_i2s(matmul_i2s_relaxed);
    }
}
