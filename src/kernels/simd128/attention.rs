//! simd128 attention products on the F16 KV cache, bit for bit `kernels::attention`'s
//! `kq_scores` and `kqv`: when the other operand holds F16 values (q and, in a decode step, the
//! probabilities are rounded to F16 before the products), every product is exact in f32 and
//! the float kernels' F16 path applies; otherwise the scalar reference runs.

use half::f16;

use super::float::{dot_f16_grid, f16_bytes, kqv_f16_grid};
use crate::kernels::attention::{self, KV_PAD};
use crate::kernels::float::DotOrder;

fn on_f16_grid(x: &[f32]) -> bool {
    x.iter().all(|&v| f16::from_f32(v).to_f32() == v)
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
    if !on_f16_grid(qh) {
        return attention::kq_scores(order, k, kv_dim, base, qh, scale, att);
    }
    let hd = qh.len();
    for (t, a) in att.iter_mut().enumerate() {
        let kt = &k[t * kv_dim + base..][..hd];
        *a = dot_f16_grid(order, f16_bytes(kt), qh) * scale;
    }
}

/// Same contract as `attention::kqv`.
pub fn kqv(order: DotOrder, v: &[f16], kv_dim: usize, base: usize, p: &[f32], out: &mut [f32]) {
    if !on_f16_grid(p) {
        return attention::kqv(order, v, kv_dim, base, p, out);
    }
    let n_pad = p.len().div_ceil(KV_PAD) * KV_PAD;
    kqv_f16_grid(order, &v[base..], kv_dim, p, n_pad, out);
}
