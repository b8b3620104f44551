//! simd128 float matrix-vector product, bit for bit `kernels::float::matvec_float`.
//!
//! wasm has no fused multiply-add, so each lane's `fma(w, x, acc)` is done in f64: the product
//! of two f32 values is exact there and the sum is rounded once; its rounding error (Knuth's
//! TwoSum, exact) then turns the f64 sum into the round-to-odd one, and rounding that to f32
//! gives the correctly rounded fused result (f64 has at least 24 + 2 bits; Boldo and Melquiond,
//! "Emulation of FMA and correctly rounded sums", 2008). So no lane needs the scalar fallback
//! that `float::fma_via_f64` takes on an f32 rounding midpoint, which F16 × F16 products hit
//! often. When both operands are F16 values (an F16 weight times the activation converted to
//! F16, as the engines do) plain f32 arithmetic is already exact enough (`f16_grid_lanes`).
//! The lanes, the reduction tree and the f64 tail are the scalar order's (`DotOrder`).

use core::arch::wasm32::*;

use half::f16;

use super::load;
use crate::kernels::float::{
    f16_at, fused_lanes_from, reduce, scale_up, DotOrder, FloatType, X_UP,
};

/// `fma(a, b, c)` rounded to f32 in each f64 lane, for f32 values `a`, `b`, `c` held as f64;
/// the result is returned as f64 (exactly the f32 value).
#[inline(always)]
pub fn fma_f64x2(a: v128, b: v128, c: v128) -> v128 {
    let p = f64x2_mul(a, b);
    let s = f64x2_add(p, c);
    let bb = f64x2_sub(s, p);
    let err = f64x2_add(f64x2_sub(p, f64x2_sub(s, bb)), f64x2_sub(c, bb));
    // err is NaN only for an infinite or NaN sum, which must stay as it is.
    let inexact = f64x2_gt(f64x2_abs(err), f64x2_splat(0.0));
    // Round to odd: truncate toward zero (one step down in magnitude where the exact sum lies
    // below |s|, i.e. err and s differ in sign), then set the last bit.
    let toward_zero = v128_and(i64x2_shr(v128_xor(s, err), 63), inexact);
    let odd = v128_or(i64x2_add(s, toward_zero), v128_and(inexact, i64x2_splat(1)));
    f64x2_promote_low_f32x4(f32x4_demote_f64x2_zero(odd))
}

/// Eight 16-bit values (16 bytes) each in the upper half of a 32-bit lane (two vectors): a
/// BF16 value is then its f32, an F16 value has its sign in place.
#[inline(always)]
fn halves_up(h: v128) -> [v128; 2] {
    let zero = i32x4_splat(0);
    [
        i8x16_shuffle::<16, 17, 0, 1, 16, 17, 2, 3, 16, 17, 4, 5, 16, 17, 6, 7>(h, zero),
        i8x16_shuffle::<16, 17, 8, 9, 16, 17, 10, 11, 16, 17, 12, 13, 16, 17, 14, 15>(h, zero),
    ]
}

/// Eight F16 values (16 bytes) to two f32x4, exactly (subnormals, infinities, NaN payloads;
/// the same bits as `float::f16_bits_to_f32`).
#[inline(always)]
fn f16x8_to_f32(h: v128) -> [v128; 2] {
    halves_up(h).map(|x| {
        let sign = v128_and(x, u32x4_splat(0x8000_0000));
        // Exponent and mantissa at the f32 positions: the value times 2^-112 (also for
        // subnormals, which land on f32 subnormals), so a multiplication by 2^112 rebiases.
        let em = u32x4_shr(v128_and(x, u32x4_splat(0x7fff_0000)), 3);
        let v = f32x4_mul(em, f32x4_splat(f32::from_bits(0x7780_0000)));
        // Infinity and NaN: all exponent bits set, the mantissa (payload) kept.
        let inf_nan = i32x4_ge(em, i32x4_splat(0x0f80_0000));
        v128_or(
            v128_or(v, v128_and(inf_nan, u32x4_splat(0x7f80_0000))),
            sign,
        )
    })
}

#[inline(always)]
fn store(dst: &mut [f32], at: usize, v: v128) {
    assert!(at + 4 <= dst.len());
    // SAFETY: bounds checked above; v128_store has no alignment requirement.
    unsafe { v128_store(dst.as_mut_ptr().add(at) as *mut v128, v) }
}

/// One row of `ty` values (the first `dst.len()` of `src`) to f32.
pub fn row_to_f32(ty: FloatType, src: &[u8], dst: &mut [f32]) {
    let n = dst.len();
    let (width, elem_at) = (ty.bytes(), ty.elem_at());
    let per_load = 16 / width;
    let mut i = 0;
    while i + per_load <= n {
        let b = load(src, i * width);
        let [lo, hi] = match ty {
            FloatType::F32 => {
                store(dst, i, b);
                i += 4;
                continue;
            }
            FloatType::F16 => f16x8_to_f32(b),
            FloatType::BF16 => halves_up(b),
        };
        store(dst, i, lo);
        store(dst, i + 4, hi);
        i += 8;
    }
    for (k, d) in dst.iter_mut().enumerate().skip(i) {
        *d = elem_at(src, k);
    }
}

/// The lane sums of `P` f64x2 registers (`2P` lanes) over the first `full` terms of `w·x`
/// (`full` a multiple of `2P`), with `x` widened to f64 once per matrix; every step is
/// `fma_f64x2`.
#[inline(always)]
fn fused_pairs<const P: usize>(w: &[f32], xd: &[f64], full: usize, lanes: &mut [f32]) {
    assert!(full.is_multiple_of(2 * P) && full <= w.len() && full <= xd.len());
    assert_eq!(lanes.len(), 2 * P);
    // Each group of eight independent lanes runs over the whole row in turn (four
    // accumulators in registers rather than all `P` spilled).
    for (g, group) in lanes.chunks_exact_mut(8).enumerate() {
        let mut acc = [f64x2_splat(0.0); 4];
        for i in (0..full).step_by(2 * P) {
            for (q, pair) in acc.chunks_exact_mut(2).enumerate() {
                let at = i + 8 * g + 4 * q;
                // SAFETY: at + 4 <= full, within both slices (asserted above).
                let (wv, xl, xh) = unsafe {
                    (
                        v128_load(w.as_ptr().add(at) as *const v128),
                        v128_load(xd.as_ptr().add(at) as *const v128),
                        v128_load(xd.as_ptr().add(at + 2) as *const v128),
                    )
                };
                let wl = f64x2_promote_low_f32x4(wv);
                let wh = f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 2, 3>(wv, wv));
                pair[0] = fma_f64x2(wl, xl, pair[0]);
                pair[1] = fma_f64x2(wh, xh, pair[1]);
            }
        }
        for (l, a) in group.chunks_exact_mut(2).zip(acc) {
            l[0] = f64x2_extract_lane::<0>(a) as f32;
            l[1] = f64x2_extract_lane::<1>(a) as f32;
        }
    }
}

/// `Σ w[i]·x[i]` in `order` (`xd` is `x` widened to f64): `float::dot_slices`'s bits.
pub fn dot_slices(order: DotOrder, w: &[f32], x: &[f32], xd: &[f64]) -> f32 {
    let n = w.len().min(x.len());
    let whole_steps = |full, lanes: &mut [f32]| match order {
        DotOrder::GgmlVecDot => fused_pairs::<16>(w, xd, full, lanes),
        DotOrder::TinyBlas => fused_pairs::<4>(w, xd, full, lanes),
        DotOrder::GgmlVecDotAvx512 => fused_pairs::<32>(w, xd, full, lanes),
        DotOrder::TinyBlasAvx512 => fused_pairs::<8>(w, xd, full, lanes),
    };
    dot_with(order, whole_steps, |k| w[k], &x[..n])
}

/// A dot product in `order` over `x.len()` terms: `whole_steps(full, lanes)` fills the lanes
/// over the first `full` terms (the fused part's whole steps, SIMD), then tinyBLAS's last
/// partial step runs lane by lane and the order's reduction and tail follow.
#[inline(always)]
fn dot_with(
    order: DotOrder,
    whole_steps: impl FnOnce(usize, &mut [f32]),
    w: impl Fn(usize) -> f32,
    x: &[f32],
) -> f32 {
    let m = order.fused_len(x.len());
    let full = m / order.lanes() * order.lanes();
    let mut acc = [0f32; 64];
    let lanes = &mut acc[..order.lanes()];
    whole_steps(full, lanes);
    fused_lanes_from(lanes, full, m, &w, |k| x[k]);
    reduce(order, lanes, x.len(), w, |k| x[k])
}

/// The lane sums of `Q` f32x4 registers (`4Q` lanes) over the first `full` terms of `w·x`, for
/// F16 weights `src` and an `x` of F16 values (the engines convert the activation to F16 for
/// an F16 weight). Then a product is exact in f32 (at most 22 significant bits, between 2^-48
/// and 2^32), so the plain f32 multiply and add round once, as the fused multiply-add does.
/// With `FINITE` the weights are converted as finite values and `false` returned (the lanes
/// then unusable) if the row holds an infinity or NaN.
#[inline(always)]
fn f16_grid_lanes<const Q: usize, const FINITE: bool>(
    src: &[u8],
    x: &[f32],
    full: usize,
    lanes: &mut [f32],
) -> bool {
    assert!(full.is_multiple_of(4 * Q) && Q.is_multiple_of(2) && full <= x.len());
    assert!(2 * full <= src.len() && lanes.len() == 4 * Q);
    let all_ones = i16x8_splat(0x7c00);
    let mut inf_nan = i16x8_splat(0);
    // The lanes are independent, so each group of eight runs over the whole row in turn: two
    // accumulators stay in registers (all `Q` at once would spill).
    for (j, group) in lanes.chunks_exact_mut(8).enumerate() {
        let mut acc = [f32x4_splat(0.0); 2];
        for i in (0..full).step_by(4 * Q) {
            let at = i + 8 * j;
            let h = load(src, 2 * at);
            let w = if FINITE {
                // Checked once per row instead of corrected per value.
                inf_nan = v128_or(inf_nan, i16x8_eq(v128_and(h, all_ones), all_ones));
                f16x8_finite_to_f32(h)
            } else {
                f16x8_to_f32(h)
            };
            // SAFETY: at + 8 <= full <= x.len() (asserted above).
            let xv = unsafe {
                [
                    v128_load(x.as_ptr().add(at) as *const v128),
                    v128_load(x.as_ptr().add(at + 4) as *const v128),
                ]
            };
            acc[0] = exact_product_add(w[0], xv[0], acc[0]);
            acc[1] = exact_product_add(w[1], xv[1], acc[1]);
        }
        for (l, a) in group.chunks_exact_mut(4).zip(acc) {
            // SAFETY: four f32 slots.
            unsafe { v128_store(l.as_mut_ptr() as *mut v128, a) };
        }
    }
    !v128_any_true(inf_nan)
}

/// `f16x8_to_f32` for finite values (an infinity or NaN comes out as a finite number): the
/// arithmetic shift puts sign, exponent and mantissa in place and the mask clears the sign's
/// copies, then the multiplication by 2^112 rebiases as there.
#[inline(always)]
fn f16x8_finite_to_f32(h: v128) -> [v128; 2] {
    halves_up(h).map(|x| {
        let em = v128_and(i32x4_shr(x, 3), u32x4_splat(0x8fff_e000));
        f32x4_mul(em, f32x4_splat(f32::from_bits(0x7780_0000)))
    })
}

/// `f16_grid_lanes`, with the finite-value conversion unless the row holds an infinity or NaN.
fn f16_row_lanes<const Q: usize>(src: &[u8], x: &[f32], full: usize, lanes: &mut [f32]) {
    if !f16_grid_lanes::<Q, true>(src, x, full, lanes) {
        f16_grid_lanes::<Q, false>(src, x, full, lanes);
    }
}

/// Eight F16 values `h` as the f32 `w · 2^-112` each (two vectors, lanes in order): the bits
/// put in place, `(h << 16) >> 3` with the sign's copies cleared by `sign_mask`
/// (`SIGN_MASK` in every i16 lane); exact for finite values (`f16_scaled_lanes`).
#[inline(always)]
fn f16x8_scaled(h: v128, sign_mask: v128) -> [v128; 2] {
    let low = i16x8_shl(h, 13);
    let high = v128_and(i16x8_shr(h, 3), sign_mask);
    [
        i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(low, high),
        i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(low, high),
    ]
}

/// The upper half of `f16x8_scaled`'s mask: the sign bit and the exponent's top bit kept,
/// the arithmetic shift's three sign copies cleared.
const SIGN_MASK: i16 = 0x8fffu16 as i16;

/// `f16_grid_lanes` with two fewer operations per value: a weight's bits put in place
/// (`(h << 16) >> 3` with the sign's copies cleared) are the f32 `w · 2^-112`, which times
/// `x_up = x · 2^56` is `w·x·2^-56`, exactly (22 significant bits; a nonzero product of F16
/// values is at least 2^-48, so its scaled value and every partial sum stay far above the
/// subnormal range, and at most 2^-13). Scaling by a power of two commutes with every rounding
/// there, so the lanes times 2^56 are `f16_grid_lanes`'s. With `CHECK`, returns false (the
/// lanes unusable) if the row holds an infinity or NaN; without, the caller knows it holds none
/// (two operations fewer per eight weights).
#[inline(always)]
fn f16_scaled_lanes<const Q: usize, const G: usize, const CHECK: bool>(
    src: &[u8],
    x_up: &[f32],
    full: usize,
    lanes: &mut [f32; 64],
) -> bool {
    assert!(full.is_multiple_of(4 * Q) && Q.is_multiple_of(2 * G) && 4 * Q <= 64);
    assert!(2 * full <= src.len() && full <= x_up.len());
    // The largest `h << 1` (the sign shifted out): 0xf800 or more means exponent 31.
    let mut top = u16x8_splat(0);
    // Opaque to the compiler, so it is made once, not rematerialised inside the loop.
    let sign_mask = core::hint::black_box(i16x8_splat(SIGN_MASK));
    // `G` groups of eight lanes run over the whole row together, then the next `G`: two
    // accumulators per group in registers (all `Q` at once spill in V8's code), and `2·G`
    // independent sums so the adds do not wait on each other.
    for j0 in (0..Q / 2).step_by(G) {
        let mut acc = [[f32x4_splat(0.0); 2]; G];
        for i in (0..full).step_by(4 * Q) {
            for (g, a) in acc.iter_mut().enumerate() {
                let at = i + 8 * (j0 + g);
                // SAFETY: 2(at + 8) <= 2 full <= src.len() (asserted above).
                let h = unsafe { v128_load(src.as_ptr().add(2 * at) as *const v128) };
                if CHECK {
                    top = u16x8_max(top, i16x8_shl(h, 1));
                }
                let w = f16x8_scaled(h, sign_mask);
                // SAFETY: at + 8 <= full <= x_up.len() (asserted above).
                let xv = unsafe {
                    let x = x_up.as_ptr().add(at);
                    [
                        v128_load(x as *const v128),
                        v128_load(x.add(4) as *const v128),
                    ]
                };
                a[0] = exact_product_add(w[0], xv[0], a[0]);
                a[1] = exact_product_add(w[1], xv[1], a[1]);
            }
        }
        for (g, a) in acc.into_iter().enumerate() {
            for (k, v) in a.into_iter().enumerate() {
                let v = f32x4_mul(v, f32x4_splat(X_UP));
                // SAFETY: four f32 slots at 8(j0 + g) + 4k < 4Q <= 64.
                unsafe { v128_store(lanes.as_mut_ptr().add(8 * (j0 + g) + 4 * k) as *mut v128, v) };
            }
        }
    }
    !CHECK || u16x8_all_true(u16x8_lt(top, u16x8_splat(0xf800)))
}

/// `dot_f16_grid` for an activation `x` (F16 values), also given times 2^56 (`x_up`,
/// `X_UP`): the head's path, and attention's q·k (each cached key a row). A function of its
/// own: inlined into the loops over rows and columns, its accumulators left V8's registers.
#[inline(never)]
pub fn dot_f16_grid_up<const CHECK: bool>(
    order: DotOrder,
    src: &[u8],
    x: &[f32],
    x_up: &[f32],
) -> f32 {
    let n = x.len();
    let m = order.fused_len(n);
    let full = m / order.lanes() * order.lanes();
    let mut lanes = [0f32; 64];
    // Two or four groups of lanes per pass: four or eight sums in flight.
    let finite = match order {
        DotOrder::GgmlVecDot => f16_scaled_lanes::<8, 4, CHECK>(src, x_up, full, &mut lanes),
        DotOrder::TinyBlas => f16_scaled_lanes::<2, 1, CHECK>(src, x_up, full, &mut lanes),
        DotOrder::GgmlVecDotAvx512 => f16_scaled_lanes::<16, 2, CHECK>(src, x_up, full, &mut lanes),
        DotOrder::TinyBlasAvx512 => f16_scaled_lanes::<4, 2, CHECK>(src, x_up, full, &mut lanes),
    };
    let w = |k| f16_at(src, k);
    let l = &mut lanes[..order.lanes()];
    if !finite {
        match order {
            DotOrder::GgmlVecDot => f16_grid_lanes::<8, false>(src, x, full, l),
            DotOrder::TinyBlas => f16_grid_lanes::<2, false>(src, x, full, l),
            DotOrder::GgmlVecDotAvx512 => f16_grid_lanes::<16, false>(src, x, full, l),
            DotOrder::TinyBlasAvx512 => f16_grid_lanes::<4, false>(src, x, full, l),
        };
    }
    fused_lanes_from(l, full, m, w, |k| x[k]);
    reduce(order, l, n, w, |k| x[k])
}

/// `f16_scaled_lanes::<Q, 1, true>` for `S` activations (attention's query heads that share a
/// KV head) against one row: each weight is converted once for all of them. One group of
/// eight lanes at a time, so the `2·S` accumulators stay in V8's registers.
#[inline(always)]
fn f16_scaled_lanes_heads<const Q: usize, const S: usize>(
    src: &[u8],
    x_ups: [&[f32]; S],
    full: usize,
    lanes: &mut [[f32; 64]; S],
) -> bool {
    assert!(full.is_multiple_of(4 * Q) && Q.is_multiple_of(2) && 4 * Q <= 64);
    assert!(2 * full <= src.len() && x_ups.iter().all(|x| full <= x.len()));
    let mut top = u16x8_splat(0);
    // Opaque to the compiler, so it is made once, not rematerialised inside the loop.
    let sign_mask = core::hint::black_box(i16x8_splat(SIGN_MASK));
    for j in 0..Q / 2 {
        let mut acc = [[f32x4_splat(0.0); 2]; S];
        for i in (0..full).step_by(4 * Q) {
            let at = i + 8 * j;
            // SAFETY: 2(at + 8) <= 2 full <= src.len() (asserted above).
            let h = unsafe { v128_load(src.as_ptr().add(2 * at) as *const v128) };
            top = u16x8_max(top, i16x8_shl(h, 1));
            let w = f16x8_scaled(h, sign_mask);
            for (a, x) in acc.iter_mut().zip(x_ups) {
                // SAFETY: at + 8 <= full <= x.len() (asserted above).
                let xv = unsafe {
                    let x = x.as_ptr().add(at);
                    [
                        v128_load(x as *const v128),
                        v128_load(x.add(4) as *const v128),
                    ]
                };
                a[0] = exact_product_add(w[0], xv[0], a[0]);
                a[1] = exact_product_add(w[1], xv[1], a[1]);
            }
        }
        for (lane, a) in lanes.iter_mut().zip(acc) {
            for (k, v) in a.into_iter().enumerate() {
                let v = f32x4_mul(v, f32x4_splat(X_UP));
                // SAFETY: four f32 slots at 8j + 4k < 4Q <= 64.
                unsafe { v128_store(lane.as_mut_ptr().add(8 * j + 4 * k) as *mut v128, v) };
            }
        }
    }
    u16x8_all_true(u16x8_lt(top, u16x8_splat(0xf800)))
}

/// `dot_f16_grid_up::<true>` of one row for `S` activations `xs` (F16 values; `x_ups` the same
/// times 2^56): attention's q·k for the query heads that share a KV head, each key converted
/// once. The same bits as `S` calls of `dot_f16_grid_up`.
#[inline(never)]
pub fn dot_f16_grid_up_heads<const S: usize>(
    order: DotOrder,
    src: &[u8],
    xs: [&[f32]; S],
    x_ups: [&[f32]; S],
) -> [f32; S] {
    let n = xs[0].len();
    let m = order.fused_len(n);
    let full = m / order.lanes() * order.lanes();
    let mut lanes = [[0f32; 64]; S];
    let finite = match order {
        DotOrder::GgmlVecDot => f16_scaled_lanes_heads::<8, S>(src, x_ups, full, &mut lanes),
        DotOrder::TinyBlas => f16_scaled_lanes_heads::<2, S>(src, x_ups, full, &mut lanes),
        DotOrder::GgmlVecDotAvx512 => f16_scaled_lanes_heads::<16, S>(src, x_ups, full, &mut lanes),
        DotOrder::TinyBlasAvx512 => f16_scaled_lanes_heads::<4, S>(src, x_ups, full, &mut lanes),
    };
    if !finite {
        // An infinity or NaN in the key: each head by the path that handles it.
        return core::array::from_fn(|h| dot_f16_grid_up::<true>(order, src, xs[h], x_ups[h]));
    }
    let w = |k| f16_at(src, k);
    core::array::from_fn(|h| {
        let (l, x) = (&mut lanes[h][..order.lanes()], xs[h]);
        fused_lanes_from(l, full, m, w, |k| x[k]);
        reduce(order, l, n, w, |k| x[k])
    })
}

/// Column `c` of a batch of columns of `cols` values.
fn column(v: &[f32], cols: usize, c: usize) -> &[f32] {
    &v[c * cols..(c + 1) * cols]
}

/// F16 rows times a batch of activation columns of F16 values (`xs`, `n` columns of
/// `cols`; `x_up` the same times 2^56, `scale_up`): `out[r * n + c]`, each the bits of
/// `matvec_float` for that row and column. `CHECK`: look for infinities and NaNs in each row
/// (and take the exact path for such a row); without, the rows are known to hold none
/// (checked at load: `Matrix::finite`).
pub fn matmul_f16_grid<const CHECK: bool>(
    data: &[u8],
    xs: &[f32],
    x_up: &[f32],
    cols: usize,
    order: DotOrder,
    out: &mut [f32],
) {
    let n = xs.len() / cols;
    // A block of rows for each column in turn: the block stays in L2 for the next column, and
    // only one column's activations (10 KB for 2B-4T) sit in L1 beside the row being read.
    // Every column of a row before the next row took 1.5 times as long; a kernel converting
    // each weight once for two columns took three times one column's time in V8.
    let block = (F16_GRID_BLOCK_BYTES / (2 * cols)).max(1);
    for (rows, o) in data.chunks(block * 2 * cols).zip(out.chunks_mut(block * n)) {
        for c in 0..n {
            let (x, up) = (column(xs, cols, c), column(x_up, cols, c));
            for (r, row) in rows.chunks_exact(2 * cols).enumerate() {
                o[r * n + c] = dot_f16_grid_up::<CHECK>(order, row, x, up);
            }
        }
    }
}

/// Bytes of F16 rows that every column of a batch runs over in turn (within L2).
const F16_GRID_BLOCK_BYTES: usize = 64 * 1024;

/// `a·b + c` per lane where every product `a·b` is exact in f32 (so fused or not, the sum is
/// rounded once): one instruction with relaxed SIMD (`f32x4.relaxed_madd` may or may not fuse,
/// which here gives the same bits), a multiply and an add without.
#[inline(always)]
fn exact_product_add(a: v128, b: v128, c: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    {
        f32x4_relaxed_madd(a, b, c)
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    {
        f32x4_add(f32x4_mul(a, b), c)
    }
}

/// `Σ w[i]·x[i]` in `order` for an F16 row `src` and an `x` of F16 values (`f16_grid_lanes`):
/// `float::dot_slices`'s bits for that row.
pub fn dot_f16_grid(order: DotOrder, src: &[u8], x: &[f32]) -> f32 {
    let whole_steps = |full, lanes: &mut [f32]| match order {
        DotOrder::GgmlVecDot => f16_row_lanes::<8>(src, x, full, lanes),
        DotOrder::TinyBlas => f16_row_lanes::<2>(src, x, full, lanes),
        DotOrder::GgmlVecDotAvx512 => f16_row_lanes::<16>(src, x, full, lanes),
        DotOrder::TinyBlasAvx512 => f16_row_lanes::<4>(src, x, full, lanes),
    };
    dot_with(order, whole_steps, |k| f16_at(src, k), x)
}

/// Same contract as `float::matvec_float`.
pub fn matvec_float(
    data: &[u8],
    ty: FloatType,
    x: &[f32],
    order: DotOrder,
    row: &mut Vec<f32>,
    out: &mut [f32],
) {
    let cols = x.len();
    let row_bytes = cols * ty.bytes();
    // The engines convert x to F16 before an F16 weight's product (`FloatInput::convert`).
    if ty == FloatType::F16 && x.iter().all(|&v| f16::from_f32(v).to_f32() == v) {
        scale_up(x, row);
        return matmul_f16_grid::<true>(data, x, row, cols, order, out);
    }
    row.resize(cols, 0.0);
    let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    for (r, o) in out.iter_mut().enumerate() {
        row_to_f32(ty, &data[r * row_bytes..(r + 1) * row_bytes], row);
        *o = dot_slices(order, row, x, &xd);
    }
}

/// The bytes of F16 values (little-endian, as wasm stores them).
pub fn f16_bytes(h: &[f16]) -> &[u8] {
    // SAFETY: `f16` is a plain 16-bit value (`repr(transparent)` over u16), any byte is valid
    // to read, and the length covers exactly the slice.
    unsafe { core::slice::from_raw_parts(h.as_ptr() as *const u8, 2 * h.len()) }
}

/// `$f::<L>(args)` for `order`'s number of lanes `L` (a const generic, so each order's loop is
/// compiled for its own lane count).
macro_rules! with_lanes {
    ($order:expr, $f:ident($($arg:expr),*)) => {
        match $order {
            DotOrder::GgmlVecDot => $f::<32>($($arg),*),
            DotOrder::TinyBlas => $f::<8>($($arg),*),
            DotOrder::GgmlVecDotAvx512 => $f::<64>($($arg),*),
            DotOrder::TinyBlasAvx512 => $f::<16>($($arg),*),
        }
    };
}

/// Attention's `out[d] = Σ_t v[t·stride + d]·p[t]` for `d < out.len()` over `n_pad` cells
/// (cells `t >= p.len()` are 0), each sum in `order` as `float::dot` forms it, for F16 values
/// `v` and probabilities `p` rounded to F16 (exact f32 products, as in `f16_grid_lanes`): four
/// `d` at a time, the lanes running over `t`.
pub fn kqv_f16_grid(
    order: DotOrder,
    v: &[f16],
    stride: usize,
    p: &[f32],
    n_pad: usize,
    out: &mut [f32],
) {
    with_lanes!(order, kqv_lanes(order, v, stride, p, n_pad, out))
}

fn kqv_lanes<const L: usize>(
    order: DotOrder,
    v: &[f16],
    stride: usize,
    p: &[f32],
    n_pad: usize,
    out: &mut [f32],
) {
    if !kqv_scaled::<L>(order, v, stride, p, n_pad, out) {
        kqv_lanes_exact::<L>(order, v, stride, p, n_pad, out);
    }
}

/// Eight d's of the value-sum lanes per group, `G` groups at once (`8G` accumulators over d,
/// for one lane `l`): `lanes[l][8g..8g+8]` gets `Σ v[t·stride + d]·p[t]` over the cells `t ≡ l
/// (mod L)` below `n_vec`, in order of t, with the F16 values put in place as in
/// `f16_scaled_lanes` (`w·2^-112`) and `p` times 2^56, so every product is exact and every
/// partial sum the true one times 2^-56, far from the subnormal range (all are multiples of
/// 2^-104). Returns the largest `h << 1` seen (an infinity or NaN is 0xf800 or more).
#[inline(always)]
fn kqv_scaled_group<const L: usize, const G: usize>(
    vb: &[u8],
    stride: usize,
    d0: usize,
    p: &[f32],
    n_vec: usize,
    lanes: &mut [[f32; 32]; L],
    top: v128,
) -> v128 {
    let mut top = top;
    assert!(8 * G <= 32 && (n_vec == 0 || 2 * ((n_vec - 1) * stride + d0 + 8 * G) <= vb.len()));
    assert!(n_vec <= p.len());
    for (l, lane) in lanes.iter_mut().enumerate() {
        let mut acc = [[f32x4_splat(0.0); 2]; G];
        for t in (l..n_vec).step_by(L) {
            let pt = f32x4_splat(p[t] * X_UP);
            for (g, a) in acc.iter_mut().enumerate() {
                // SAFETY: 2(t·stride + d0 + 8g) + 16 <= vb.len() (asserted above).
                let h = unsafe {
                    v128_load(vb.as_ptr().add(2 * (t * stride + d0 + 8 * g)) as *const v128)
                };
                top = u16x8_max(top, i16x8_shl(h, 1));
                let w = f16x8_scaled(h, i16x8_splat(SIGN_MASK));
                a[0] = exact_product_add(w[0], pt, a[0]);
                a[1] = exact_product_add(w[1], pt, a[1]);
            }
        }
        for (g, a) in acc.into_iter().enumerate() {
            for (k, v) in a.into_iter().enumerate() {
                let v = f32x4_mul(v, f32x4_splat(X_UP));
                // SAFETY: four f32 slots at 8g + 4k < 8G <= 32.
                unsafe { v128_store(lane.as_mut_ptr().add(8 * g + 4 * k) as *mut v128, v) };
            }
        }
    }
    top
}

/// `kqv_lanes` with the lanes running over d (eight values per load) and the cells of one lane
/// in turn, each F16 value converted as in `f16_scaled_lanes`; the cells past `p.len()` (value
/// and probability 0) add +0 to a lane, which never changes it, so they are skipped. Returns
/// false (nothing written) if a value is an infinity or NaN.
fn kqv_scaled<const L: usize>(
    order: DotOrder,
    v: &[f16],
    stride: usize,
    p: &[f32],
    n_pad: usize,
    out: &mut [f32],
) -> bool {
    let n = p.len();
    let hd = out.len();
    assert!(n <= n_pad && (n == 0 || (n - 1) * stride + hd <= v.len()));
    let m = order.fused_len(n_pad);
    let full = m / L * L;
    let n_vec = n.min(full);
    let vb = f16_bytes(v);
    let mut top = u16x8_splat(0);
    let mut lanes = [[0f32; 32]; L];
    let mut results = [0f32; 32];
    let mut d0 = 0;
    while d0 + 8 <= hd {
        let width = if d0 + 16 <= hd { 16 } else { 8 };
        top = if width == 16 {
            kqv_scaled_group::<L, 2>(vb, stride, d0, p, n_vec, &mut lanes, top)
        } else {
            kqv_scaled_group::<L, 1>(vb, stride, d0, p, n_vec, &mut lanes, top)
        };
        for (j, r) in results.iter_mut().enumerate().take(width) {
            let lj = std::array::from_fn(|l| lanes[l][j]);
            *r = finish_column::<L>(order, lj, v, stride, d0 + j, p, n_pad);
        }
        out[d0..d0 + width].copy_from_slice(&results[..width]);
        d0 += width;
    }
    if !u16x8_all_true(u16x8_lt(top, u16x8_splat(0xf800))) {
        return false;
    }
    column_dots(order, v, stride, p, n_pad, d0, out);
    true
}

/// Column `d` of p·V from its lane sums `lj` over the whole steps below `min(p.len(), full)`
/// (`full`: the order's fused terms of `n_pad`, in whole steps of `L`): the scalar order's
/// last partial step, reduction and tail.
fn finish_column<const L: usize>(
    order: DotOrder,
    mut lj: [f32; L],
    v: &[f16],
    stride: usize,
    d: usize,
    p: &[f32],
    n_pad: usize,
) -> f32 {
    let n = p.len();
    let m = order.fused_len(n_pad);
    let vd = |t: usize| {
        if t < n {
            v[t * stride + d].to_f32()
        } else {
            0.0
        }
    };
    let pd = |t: usize| if t < n { p[t] } else { 0.0 };
    fused_lanes_from(&mut lj, m / L * L, m, vd, pd);
    reduce(order, &lj, n_pad, vd, pd)
}

/// Columns `from..out.len()` of p·V by the scalar reference (the few past the last whole
/// group of a vector loop).
fn column_dots(
    order: DotOrder,
    v: &[f16],
    stride: usize,
    p: &[f32],
    n_pad: usize,
    from: usize,
    out: &mut [f32],
) {
    let n = p.len();
    for (d, o) in out.iter_mut().enumerate().skip(from) {
        let vd = |t: usize| {
            if t < n {
                v[t * stride + d].to_f32()
            } else {
                0.0
            }
        };
        *o = crate::kernels::float::dot(order, n_pad, vd, |t| if t < n { p[t] } else { 0.0 });
    }
}

/// `kqv_lanes` for any values (infinities and NaN included): four d at a time, the lanes
/// running over t, each value converted exactly.
fn kqv_lanes_exact<const L: usize>(
    order: DotOrder,
    v: &[f16],
    stride: usize,
    p: &[f32],
    n_pad: usize,
    out: &mut [f32],
) {
    let n = p.len();
    assert!(n <= n_pad && (n == 0 || (n - 1) * stride + out.len() <= v.len()));
    let m = order.fused_len(n_pad);
    let full = m / L * L;
    let vb = f16_bytes(v);
    let mut d = 0;
    while d + 4 <= out.len() {
        let mut acc = [f32x4_splat(0.0); L];
        for c in (0..full).step_by(L) {
            for (l, a) in acc.iter_mut().enumerate() {
                let t = c + l;
                let term = if t < n {
                    let at = 2 * (t * stride + d);
                    assert!(at + 8 <= vb.len());
                    // SAFETY: eight bytes at `at`, bounds checked above.
                    let h = unsafe { v128_load64_zero(vb.as_ptr().add(at) as *const u64) };
                    f32x4_mul(f16x8_to_f32(h)[0], f32x4_splat(p[t]))
                } else {
                    f32x4_splat(0.0)
                };
                *a = f32x4_add(term, *a);
            }
        }
        let mut lanes = [[0f32; 4]; L];
        for (l, a) in lanes.iter_mut().zip(acc) {
            // SAFETY: four f32 slots.
            unsafe { v128_store(l.as_mut_ptr() as *mut v128, a) };
        }
        for j in 0..4 {
            let lj = std::array::from_fn(|l| lanes[l][j]);
            out[d + j] = finish_column::<L>(order, lj, v, stride, d + j, p, n_pad);
        }
        d += 4;
    }
    column_dots(order, v, stride, p, n_pad, d, out);
}

/// `kqv_f16_grid`'s sums for any probabilities `p` (bitnet.cpp keeps them F32 in a multi-token
/// decode, so a product is not exact in f32): every lane step is the fused multiply-add done
/// exactly in f64 (`fma_f64x2`), eight d per load, the lanes running over t. Infinities and
/// NaN (in `v` or `p`) come out as the fused steps give them.
pub fn kqv_fused(
    order: DotOrder,
    v: &[f16],
    stride: usize,
    p: &[f32],
    n_pad: usize,
    out: &mut [f32],
) {
    with_lanes!(order, kqv_fused_lanes(order, v, stride, p, n_pad, out))
}

fn kqv_fused_lanes<const L: usize>(
    order: DotOrder,
    v: &[f16],
    stride: usize,
    p: &[f32],
    n_pad: usize,
    out: &mut [f32],
) {
    if !kqv_fused_rounded::<L>(order, v, stride, p, n_pad, out) {
        kqv_fused_exact::<L>(order, v, stride, p, n_pad, out);
    }
}

/// The smallest nonzero probability magnitude `kqv_fused_rounded` takes: every product
/// `v·p` (an F16 value, a multiple of 2^-24, times an f32 of at least 2^-79, a multiple of
/// 2^-102) is then a multiple of 2^-126, and so is every lane sum (rounding to f32 keeps a
/// multiple of a power of two at or above 2^-149 one), so a nonzero sum is never below f32's
/// normal range, where rounding to f32 would not happen at the 24th bit.
const MIN_ROUNDED_P: f32 = 1.0 / (1u128 << 79) as f32;

/// `kqv_fused_exact`'s sums, each fused step `fl32(v·p + acc)` as the f64 sum `s` (the product
/// is exact there: 11 times 24 significant bits) rounded to f32. Rounding twice gives the
/// fused result unless `s` is a rounding midpoint of f32 that the f64 sum had rounded onto
/// (f32's midpoints are f64 values, so a sum cannot round across one). Such a step is seen
/// (`s`'s 29 bits below f32's mantissa are 1000…0 and the sum was inexact; exact midpoints,
/// which round correctly, are common: a product has at most 35 significant bits) and false
/// returned, nothing usable written; so it is for a sum past f32's range, a value that is an
/// infinity or NaN, and a probability that is not finite or a nonzero one below
/// `MIN_ROUNDED_P`. The values are converted as in `f16_scaled_lanes` (`w·2^-112`, times
/// `p·2^112`). A prompt's p·V in Chromium: 7.0-9.4 ms -> 4.4-5.1 ms for 20 heads at 1024
/// positions (`bench_2b4t_attention`).
fn kqv_fused_rounded<const L: usize>(
    order: DotOrder,
    v: &[f16],
    stride: usize,
    p: &[f32],
    n_pad: usize,
    out: &mut [f32],
) -> bool {
    if !p
        .iter()
        .all(|&x| x == 0.0 || (x.abs() >= MIN_ROUNDED_P && x.is_finite()))
    {
        return false;
    }
    // Opaque to the compiler, so they are made once, not rematerialised inside the loop.
    let sign_mask = core::hint::black_box(i16x8_splat(SIGN_MASK));
    let below = core::hint::black_box(i64x2_splat((1 << 29) - 1));
    let midpoint = core::hint::black_box(i64x2_splat(1 << 28));
    let one = core::hint::black_box(i64x2_splat(1));
    let half_unit = core::hint::black_box(i64x2_splat((1 << 28) - 1));
    let magnitude = core::hint::black_box(i64x2_splat(i64::MAX));
    // f32::MAX's f64 bits: a rounded sum above it is past f32's range.
    let f32_limit = core::hint::black_box(i64x2_splat((f32::MAX as f64).to_bits() as i64));
    let mut top = u16x8_splat(0);
    let mut on_midpoint = i64x2_splat(0);
    kqv_fused_lanes_with::<L>(order, v, stride, p, n_pad, out, |h, p_t, acc| {
        top = u16x8_max(top, i16x8_shl(h, 1));
        let pt = f64x2_splat(p_t as f64 * P_UP);
        for (k, half) in f16x8_scaled(h, sign_mask).into_iter().enumerate() {
            let high = i32x4_shuffle::<2, 3, 2, 3>(half, half);
            for (j, w) in [half, high].into_iter().enumerate() {
                let a = &mut acc[2 * k + j];
                let prod = f64x2_mul(f64x2_promote_low_f32x4(w), pt);
                let s = f64x2_add(prod, *a);
                // The sum was exact if taking either term off gives the other (for the
                // larger term that difference is exact, so it tells: Fast2Sum).
                let exact = v128_and(
                    f64x2_eq(f64x2_sub(s, prod), *a),
                    f64x2_eq(f64x2_sub(s, *a), prod),
                );
                let mid = i64x2_eq(v128_and(s, below), midpoint);
                // Rounded to f32's 24 bits on the f64 bits, to nearest, ties to even (add half
                // an f32 unit less one, plus the last kept bit; clear the rest):
                // f32x4.demote and f64x2.promote come out of LLVM as a scalar round trip per
                // lane. A sum past f32's range is flagged like a midpoint.
                let kept_lsb = v128_and(u64x2_shr(s, 29), one);
                let r = v128_andnot(i64x2_add(i64x2_add(s, half_unit), kept_lsb), below);
                let over = i64x2_gt(v128_and(r, magnitude), f32_limit);
                on_midpoint = v128_or(on_midpoint, v128_or(v128_andnot(mid, exact), over));
                *a = r;
            }
        }
    });
    // Nothing written is usable then; the caller starts again with the exact steps.
    !v128_any_true(on_midpoint) && u16x8_all_true(u16x8_lt(top, u16x8_splat(0xf800)))
}

/// 2^112: `f16_scaled_lanes`' values `w·2^-112` times `p·2^112` are `w·p` (in f64, exactly).
const P_UP: f64 = (1u128 << 112) as f64;

/// `kqv_fused`'s sums for any values, every fused step exact by round-to-odd (`fma_f64x2`).
fn kqv_fused_exact<const L: usize>(
    order: DotOrder,
    v: &[f16],
    stride: usize,
    p: &[f32],
    n_pad: usize,
    out: &mut [f32],
) {
    kqv_fused_lanes_with::<L>(order, v, stride, p, n_pad, out, |h, p_t, acc| {
        let pt = f64x2_splat(p_t as f64);
        for (k, half) in f16x8_to_f32(h).into_iter().enumerate() {
            let high = i32x4_shuffle::<2, 3, 2, 3>(half, half);
            acc[2 * k] = fma_f64x2(f64x2_promote_low_f32x4(half), pt, acc[2 * k]);
            acc[2 * k + 1] = fma_f64x2(f64x2_promote_low_f32x4(high), pt, acc[2 * k + 1]);
        }
    });
}

/// The fused p·V sums' frame: for each eight d and each of the order's `L` lanes, `step(h,
/// p[t], acc)` adds one cell t of the lane (`h`: the cell's eight F16 values) into four f64x2
/// accumulators (each lane's value, an f32, held as f64), the cells of a lane in order; then
/// per d the scalar order's last partial step, reduction and tail; the d past the last whole
/// eight by the scalar reference. Cells past `p.len()` add +0 to a lane (no change: a lane is
/// never -0), so they are skipped.
#[inline(always)]
fn kqv_fused_lanes_with<const L: usize>(
    order: DotOrder,
    v: &[f16],
    stride: usize,
    p: &[f32],
    n_pad: usize,
    out: &mut [f32],
    mut step: impl FnMut(v128, f32, &mut [v128; 4]),
) {
    let n = p.len();
    let hd = out.len();
    assert!(n <= n_pad && (n == 0 || (n - 1) * stride + hd <= v.len()));
    let full = order.fused_len(n_pad) / L * L;
    let n_vec = n.min(full);
    let vb = f16_bytes(v);
    let mut lanes = [[0f32; 8]; L];
    let mut d0 = 0;
    while d0 + 8 <= hd {
        for (l, lane) in lanes.iter_mut().enumerate() {
            let mut acc = [f64x2_splat(0.0); 4];
            for t in (l..n_vec).step_by(L) {
                // SAFETY: t < n and d0 + 8 <= hd, so 2(t·stride + d0) + 16 <= 2((n - 1)·stride +
                // hd) <= vb.len() (asserted above).
                let h = unsafe { v128_load(vb.as_ptr().add(2 * (t * stride + d0)) as *const v128) };
                step(h, p[t], &mut acc);
            }
            for (pair, a) in lane.chunks_exact_mut(2).zip(acc) {
                pair[0] = f64x2_extract_lane::<0>(a) as f32;
                pair[1] = f64x2_extract_lane::<1>(a) as f32;
            }
        }
        for (j, o) in out[d0..d0 + 8].iter_mut().enumerate() {
            let lj = std::array::from_fn(|l| lanes[l][j]);
            *o = finish_column::<L>(order, lj, v, stride, d0 + j, p, n_pad);
        }
        d0 += 8;
    }
    column_dots(order, v, stride, p, n_pad, d0, out);
}
