//! simd128 ternary kernels (I2_S rows, TQ2_0 block lanes): exact integer sums, then the scalar
//! float epilogue, so bit-identical to `kernels::ternary`.

use core::arch::wasm32::*;

use super::{load, load_i8};
#[cfg(target_feature = "relaxed-simd")]
use crate::kernels::ternary::I2S_ROW_GROUP;
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
/// four columns.
pub fn matmul_i2s(rows: &[u8], w_scale: f32, act: &I8Cols, out: &mut [f32]) {
    if act.cols > MAX_COLS || act.q16.len() != act.q.len() {
        return ternary::matmul_i2s(rows, w_scale, act, out);
    }
    matmul_by_column_groups(rows, w_scale, act, out, |row, c0, group| {
        let col = |c: usize| &act.q16[c * act.cols..(c + 1) * act.cols];
        match group {
            1 => widen(row_dots_i16::<1>(row, [col(c0)])),
            2 => widen(row_dots_i16::<2>(row, [col(c0), col(c0 + 1)])),
            3 => widen(row_dots_i16::<3>(row, [col(c0), col(c0 + 1), col(c0 + 2)])),
            _ => row_dots_i16::<4>(row, [col(c0), col(c0 + 1), col(c0 + 2), col(c0 + 3)]),
        }
    });
}

/// `Σ code·q` of one row with `C` columns (relaxed SIMD): each plane's codes (0..3, shifted
/// down and masked once for all columns) are the 7-bit operand of
/// `i16x8.relaxed_dot_i8x16_i7x16` (one `pmaddubsw` on x86): every lowering agrees on codes
/// below 128, and a lane's pair sum is at most 2·3·128 = 768. The four planes of a 16-byte
/// group add up to at most 3072 per i16 lane, so eight groups (four blocks) fit an i16 lane
/// before they are widened into the i32 accumulator.
///
/// One row at a time, for rows as stored. Blocks of rows sharing the activation loads read the
/// rows side by side at half the speed streamed from memory (`bench_i2s_stream`: 4.6-4.9 GB/s
/// against 8.6-8.9 one row at a time): the model's matrices go through `group_dots_relaxed` on
/// rows interleaved at load instead, one stream per group.
#[cfg(target_feature = "relaxed-simd")]
#[inline(always)]
fn row_dots_relaxed<const C: usize>(row: &[u8], q: [&[i8]; C]) -> [i32; C] {
    let [dots] = group_dots_relaxed::<1, C>(row, q);
    dots
}

/// `ternary::matmul_i2s`'s results with relaxed SIMD, reading each weight byte once for up to
/// four columns.
#[cfg(target_feature = "relaxed-simd")]
pub fn matmul_i2s_relaxed(rows: &[u8], w_scale: f32, act: &I8Cols, out: &mut [f32]) {
    if act.cols > MAX_COLS {
        return ternary::matmul_i2s(rows, w_scale, act, out);
    }
    matmul_by_column_groups(rows, w_scale, act, out, |row, c0, group| {
        let col = |c: usize| act.col(c);
        match group {
            1 => widen(row_dots_relaxed::<1>(row, [col(c0)])),
            2 => widen(row_dots_relaxed::<2>(row, [col(c0), col(c0 + 1)])),
            3 => widen(row_dots_relaxed::<3>(
                row,
                [col(c0), col(c0 + 1), col(c0 + 2)],
            )),
            _ => row_dots_relaxed::<4>(row, [col(c0), col(c0 + 1), col(c0 + 2), col(c0 + 3)]),
        }
    });
}

/// `Σ code·q` of a group of `R` rows whose 32-byte blocks alternate between them (block b of
/// row k at `(b·R + k)·32`: the row-interleaved layout of `ternary::interleave_i2s_rows` for
/// `R = I2S_ROW_GROUP`, so the group is read as one sequential stream; one plain row for `R =
/// 1`) with `C` columns, each formed as `row_dots_relaxed` describes.
#[cfg(target_feature = "relaxed-simd")]
#[inline(always)]
fn group_dots_relaxed<const R: usize, const C: usize>(
    group: &[u8],
    q: [&[i8]; C],
) -> [[i32; C]; R] {
    const BLOCKS_PER_WIDENING: usize = 4;
    let blocks = group.len() / (R * 32);
    // Every load below is within these bounds: checked once here, not per load.
    assert!(blocks * R * 32 <= group.len());
    assert!(q.iter().all(|q| 128 * blocks <= q.len()));
    let ld = |p: *const u8, at: usize| -> v128 {
        // SAFETY: offsets of 16 bytes within the bounds asserted above.
        unsafe { v128_load(p.add(at) as *const v128) }
    };
    let mut acc = [[i32x4_splat(0); C]; R];
    // Opaque to the compiler, so it is made once, not rematerialised inside the loop.
    let three = core::hint::black_box(u8x16_splat(3));
    let mut first = 0;
    while first < blocks {
        let last = (first + BLOCKS_PER_WIDENING).min(blocks);
        let mut acc16 = [[i16x8_splat(0); C]; R];
        for blk in first..last {
            for half in 0..2 {
                let at = 128 * blk + 16 * half;
                for (k, a) in acc16.iter_mut().enumerate() {
                    let b = ld(group.as_ptr(), 32 * (R * blk + k) + 16 * half);
                    let planes = [
                        v128_and(u16x8_shr(b, 6), three),
                        v128_and(u16x8_shr(b, 4), three),
                        v128_and(u16x8_shr(b, 2), three),
                        v128_and(b, three),
                    ];
                    for (a, q) in a.iter_mut().zip(q) {
                        let dot = |k: usize| {
                            let x = ld(q.as_ptr() as *const u8, at + 32 * k);
                            i16x8_relaxed_dot_i8x16_i7x16(x, planes[k])
                        };
                        let sum = i16x8_add(i16x8_add(dot(0), dot(1)), i16x8_add(dot(2), dot(3)));
                        *a = i16x8_add(*a, sum);
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

/// `ternary::matmul_i2s_interleaved`'s results with relaxed SIMD: each group of rows read once
/// for one or two columns at a time; a last partial group one row at a time.
#[cfg(target_feature = "relaxed-simd")]
pub fn matmul_i2s_relaxed_interleaved(rows: &[u8], w_scale: f32, act: &I8Cols, out: &mut [f32]) {
    if act.cols > MAX_COLS || !act.cols.is_multiple_of(128) {
        return ternary::matmul_i2s_interleaved(rows, w_scale, act, out);
    }
    let (n, row_bytes) = (act.n(), act.cols / 4);
    let group_bytes = I2S_ROW_GROUP * row_bytes;
    let whole = rows.len() / group_bytes * group_bytes;
    let (head, tail) = out.split_at_mut(whole / row_bytes * n);
    for (group, o) in rows[..whole]
        .chunks_exact(group_bytes)
        .zip(head.chunks_exact_mut(I2S_ROW_GROUP * n))
    {
        let mut c0 = 0;
        while c0 < n {
            let take = (n - c0).min(2);
            let dots: [[i32; 2]; I2S_ROW_GROUP] = if take == 2 {
                group_dots_relaxed::<I2S_ROW_GROUP, 2>(group, [act.col(c0), act.col(c0 + 1)])
            } else {
                group_dots_relaxed::<I2S_ROW_GROUP, 1>(group, [act.col(c0)]).map(|[d]| [d, 0])
            };
            for (k, d) in dots.iter().enumerate() {
                for (j, &dj) in d.iter().enumerate().take(take) {
                    let c = c0 + j;
                    o[k * n + c] = ternary::i2s_output(dj, act.sums[c], act.scales[c], w_scale);
                }
            }
            c0 += take;
        }
    }
    matmul_i2s_relaxed(&rows[whole..], w_scale, act, tail);
}

/// The dots of a group of up to four columns (the unused ones 0).
fn widen<const C: usize>(d: [i32; C]) -> [i32; 4] {
    let mut out = [0; 4];
    out[..C].copy_from_slice(&d);
    out
}

/// Runs `row_dots(row, first column, columns)` over every row and groups of up to four
/// columns, and applies the I2_S epilogue.
#[inline(always)]
fn matmul_by_column_groups(
    rows: &[u8],
    w_scale: f32,
    act: &I8Cols,
    out: &mut [f32],
    row_dots: impl Fn(&[u8], usize, usize) -> [i32; 4],
) {
    let (n, row_bytes) = (act.n(), act.cols / 4);
    for (row, o) in rows.chunks_exact(row_bytes).zip(out.chunks_exact_mut(n)) {
        let mut c0 = 0;
        while c0 < n {
            let group = (n - c0).min(4);
            let dots = row_dots(row, c0, group);
            for (k, &d) in dots.iter().enumerate().take(group) {
                let c = c0 + k;
                o[c] = ternary::i2s_output(d, act.sums[c], act.scales[c], w_scale);
            }
            c0 += group;
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

    #[cfg(target_feature = "relaxed-simd")]
    #[test]
    fn matmul_i2s_relaxed_interleaved_equals_scalar() {
        ternary::tests::check_matmul_i2s_interleaved(matmul_i2s_relaxed_interleaved);
    }
}
