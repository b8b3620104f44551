//! simd128 attention products on the F16 KV cache, bit for bit `kernels::attention`'s
//! `kq_scores` and `kqv`: when the other operand holds F16 values (q and, in a decode step, the
//! probabilities are rounded to F16 before the products), every product is exact in f32 and
//! the float kernels' F16 path applies; otherwise (F32 probabilities, in a multi-token decode)
//! each fused step is done exactly in f64, and an F32 query takes the scalar reference.

use half::f16;

use super::float::{
    dot_f16_grid, dot_f16_grid_up, dot_f16_grid_up_heads, f16_bytes, kqv_f16_grid, kqv_fused,
};
use crate::kernels::attention::{self, KV_PAD};
use crate::kernels::float::{DotOrder, X_UP};

/// Whether every value is an F16 value (`f16::from_f32(v).to_f32() == v`, which is a software
/// conversion per value in wasm), from the bits: ±0 and ±infinity; a normal F16 exponent with
/// the 13 low mantissa bits clear; or an F16 subnormal, a multiple of 2^-24.
pub fn on_f16_grid(x: &[f32]) -> bool {
    x.iter().all(|&v| {
        let b = v.to_bits() & 0x7fff_ffff;
        let e = (b >> 23) as i32 - 127;
        match e {
            _ if b == 0 || b == 0x7f80_0000 => true,
            -14..=15 => b & 0x1fff == 0,
            // 1.m·2^e is a multiple of 2^-24 when its mantissa bits below 2^-24 are clear.
            -24..=-15 => b & ((1 << (-1 - e)) - 1) == 0,
            _ => false,
        }
    })
}

/// The longest head whose q·2^56 is kept on the stack (longer heads take the plain path).
const MAX_HEAD_DIM: usize = 256;

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
    let hd = qh.len();
    if !on_f16_grid(qh) {
        return attention::kq_scores(order, k, kv_dim, base, qh, scale, att);
    }
    if hd > MAX_HEAD_DIM {
        for (t, a) in att.iter_mut().enumerate() {
            let kt = &k[t * kv_dim + base..][..hd];
            *a = dot_f16_grid(order, f16_bytes(kt), qh) * scale;
        }
        return;
    }
    let mut up = [0f32; MAX_HEAD_DIM];
    for (u, &q) in up.iter_mut().zip(qh) {
        *u = q * X_UP;
    }
    for (t, a) in att.iter_mut().enumerate() {
        let kt = &k[t * kv_dim + base..][..hd];
        *a = dot_f16_grid_up::<true>(order, f16_bytes(kt), qh, &up[..hd]) * scale;
    }
}

/// Same contract as `attention::kqv`.
pub fn kqv(order: DotOrder, v: &[f16], kv_dim: usize, base: usize, p: &[f32], out: &mut [f32]) {
    let n_pad = p.len().div_ceil(KV_PAD) * KV_PAD;
    if on_f16_grid(p) {
        kqv_f16_grid(order, &v[base..], kv_dim, p, n_pad, out);
    } else {
        kqv_fused(order, &v[base..], kv_dim, p, n_pad, out);
    }
}

/// Same contract as `attention::kq_scores_heads`: two or four query heads that share a KV head
/// convert each cached key once for all of them; other counts, and queries off the F16 grid,
/// go head by head. (p·V stays head by head: taking two or four heads' probabilities at once
/// was not reliably faster in Chromium, 0.38 to 1.07 ms against 0.43 for 20 heads at 1024
/// positions.)
#[allow(clippy::too_many_arguments)]
pub fn kq_scores_heads(
    order: DotOrder,
    k: &[f16],
    kv_dim: usize,
    base: usize,
    qs: &[f32],
    head_dim: usize,
    scale: f32,
    att: &mut [f32],
) {
    let heads = qs.len() / head_dim;
    let grid = head_dim <= MAX_HEAD_DIM && on_f16_grid(qs);
    match heads {
        2 if grid => kq_heads::<2>(order, k, kv_dim, base, qs, head_dim, scale, att),
        4 if grid => kq_heads::<4>(order, k, kv_dim, base, qs, head_dim, scale, att),
        _ => attention::kq_scores_heads(order, k, kv_dim, base, qs, head_dim, scale, att),
    }
}

#[allow(clippy::too_many_arguments)]
fn kq_heads<const S: usize>(
    order: DotOrder,
    k: &[f16],
    kv_dim: usize,
    base: usize,
    qs: &[f32],
    hd: usize,
    scale: f32,
    att: &mut [f32],
) {
    let n = att.len() / S;
    let mut up = [[0f32; MAX_HEAD_DIM]; S];
    for (u, q) in up.iter_mut().zip(qs.chunks_exact(hd)) {
        for (u, &q) in u.iter_mut().zip(q) {
            *u = q * X_UP;
        }
    }
    let xs: [&[f32]; S] = core::array::from_fn(|h| &qs[h * hd..][..hd]);
    let ups: [&[f32]; S] = core::array::from_fn(|h| &up[h][..hd]);
    for t in 0..n {
        let kt = &k[t * kv_dim + base..][..hd];
        let dots = dot_f16_grid_up_heads::<S>(order, f16_bytes(kt), xs, ups);
        for (h, d) in dots.into_iter().enumerate() {
            att[h * n + t] = d * scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn on_f16_grid_is_the_round_trip() {
        let round_trip = |v: f32| f16::from_f32(v).to_f32() == v;
        let mut rng = crate::kernels::testdata::Rng(16);
        // Every F16 value, its neighbours in f32, and random f32 bits.
        let mut values: Vec<f32> = (0..=u16::MAX)
            .map(|h| f16::from_bits(h).to_f32())
            .flat_map(|v| {
                [
                    v,
                    f32::from_bits(v.to_bits() + 1),
                    f32::from_bits(v.to_bits().wrapping_sub(1)),
                ]
            })
            .collect();
        values.extend((0..200_000).map(|_| f32::from_bits(rng.next() as u32)));
        values.extend([
            f32::MIN_POSITIVE,
            1e-30,
            65520.0,
            65504.0,
            2f32.powi(-24),
            2f32.powi(-25),
        ]);
        for v in values {
            assert_eq!(
                on_f16_grid(&[v]),
                round_trip(v),
                "{v:e} ({:#010x})",
                v.to_bits()
            );
        }
    }
}
