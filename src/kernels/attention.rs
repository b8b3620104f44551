//! Softmax and single-query attention over an F16 KV cache, with the reference engines' F16
//! rounding of the operands (fixtures README items 2, 3, 6).

use half::f16;

use super::float::{dot, hsum16, hsum8, DotOrder};
use super::math::{expf_ggml, expf_ggml_avx512, Isa};
use super::par::for_each_item;

/// ggml's softmax over the (padded) KV cells on x86: `e_i = expf_ggml(x_i - max)`; each group
/// of eight (sixteen in an AVX-512 build, with that build's `expf`) is summed in f32 as the
/// vector reduction does and the group sums are accumulated in f64; then each `e_i` is
/// multiplied by `(float)(1/sum)`. Cells past `x.len()` count as masked (probability 0), which
/// leaves the groups as ggml forms them.
pub fn softmax(x: &mut [f32], isa: Isa) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has FMA (checked above).
        return unsafe { softmax_fma(x, isa) };
    }
    softmax_any(x, isa)
}

/// `softmax` with its fused multiply-adds (in `expf`) as instructions rather than library calls
/// (same results: both are exactly rounded).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn softmax_fma(x: &mut [f32], isa: Isa) {
    softmax_any(x, isa)
}

#[inline(always)]
fn softmax_any(x: &mut [f32], isa: Isa) {
    // A compare, not `f32::max`: wasm has no scalar instruction with `max`'s NaN rule, so
    // it becomes a call per cell. Same result: a NaN never wins either way, and the first of
    // equal values (±0) is kept, which `v - max` cannot tell apart.
    let max = x
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    let mut sum = 0f64;
    match isa {
        Isa::Avx2 => {
            for group in x.chunks_mut(8) {
                let mut lanes = [0f32; 8];
                for (v, l) in group.iter_mut().zip(lanes.iter_mut()) {
                    *v = expf_ggml(*v - max);
                    *l = *v;
                }
                sum += hsum8(&lanes) as f64;
            }
        }
        Isa::Avx512 => {
            for group in x.chunks_mut(16) {
                let mut lanes = [0f32; 16];
                for (v, l) in group.iter_mut().zip(lanes.iter_mut()) {
                    *v = expf_ggml_avx512(*v - max);
                    *l = *v;
                }
                sum += hsum16(&lanes) as f64;
            }
        }
    }
    let inv = (1.0 / sum) as f32;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

/// How the engine being mirrored computes the two attention products (fixtures README item 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnNumerics {
    /// Summation order of q·k (q is always rounded to F16: it reaches the product as a view).
    pub kq_order: DotOrder,
    /// Round the softmax probabilities to F16 before multiplying by V (both engines in a
    /// single-token decode, mainline always; bitnet.cpp keeps them F32 in a multi-token
    /// prompt decode).
    pub probs_f16: bool,
    /// Summation order of p·V, over the cache length padded to `KV_PAD` cells.
    pub kqv_order: DotOrder,
    /// The build's vector width, for the softmax.
    pub isa: Isa,
}

/// llama.cpp pads the number of KV cells it attends over to a multiple of 256; the padding
/// cells have probability 0 but decide which SIMD lane each cell's product lands in (and, in
/// an AVX-512 build's `vec_dot_f16`, which steps of 64 are vectorized and which summed in
/// f64). For the AVX2 orders any multiple of 32 gives the same sums.
pub const KV_PAD: usize = 256;

/// One layer's KV cache: `n_ctx` positions of `kv_dim` F16 values each for K and for V.
#[derive(Debug)]
pub struct KvLayer {
    pub k: Vec<f16>,
    pub v: Vec<f16>,
}

/// Attention of one query position over cached positions `0..=pos`, all heads.
///
/// `q` is the roped query (`n_head * head_dim`), the cache holds roped keys and values, `out`
/// gets `n_head * head_dim`. Query head h reads KV head `h / (n_head / n_head_kv)`. The query
/// heads that share a KV head go through the products together (`heads_per_item` of them),
/// so each cached key and value is converted once for them. The items run on up to `threads`
/// threads (each head's result is its own, so the bits depend neither on the count nor on the
/// grouping), each thread with its part of `scratch`: at least `threads · attend_scratch(pos,
/// head_dim)` values.
#[allow(clippy::too_many_arguments)]
pub fn attend(
    q: &[f32],
    layer: &KvLayer,
    pos: usize,
    n_head: usize,
    n_head_kv: usize,
    head_dim: usize,
    numerics: AttnNumerics,
    threads: usize,
    scratch: &mut [f32],
    out: &mut [f32],
) {
    let kv_dim = n_head_kv * head_dim;
    let group = n_head / n_head_kv;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let n = pos + 1;
    // A short cache is not worth waking another thread for.
    let threads = if n_head * n * head_dim >= MIN_PARALLEL_ATTENTION {
        threads
    } else {
        1
    };
    let s = heads_per_item(group, n_head, threads);
    let out = &mut out[..n_head * head_dim];
    for_each_item(threads, out, s * head_dim, scratch, |i, o, scratch| {
        let (att, qs) = scratch[..s * (n + head_dim)].split_at_mut(s * n);
        let h0 = i * s;
        // q reaches the KQ product as a permuted view, so ggml rounds it to F16 first.
        for (v, &x) in qs.iter_mut().zip(&q[h0 * head_dim..]) {
            *v = f16::from_f32(x).to_f32();
        }
        let base = h0 / group * head_dim;
        kq_heads_kernel(
            numerics.kq_order,
            &layer.k,
            kv_dim,
            base,
            qs,
            head_dim,
            scale,
            att,
        );
        for head in att.chunks_exact_mut(n) {
            softmax(head, numerics.isa);
        }
        if numerics.probs_f16 {
            for a in att.iter_mut() {
                *a = f16::from_f32(*a).to_f32();
            }
        }
        kqv_heads(numerics.kqv_order, &layer.v, kv_dim, base, s, att, o);
    });
}

/// The query heads `attend` takes together: four, two or one of the `group` heads that share a
/// KV head, the most that still gives every thread the same number of items.
fn heads_per_item(group: usize, n_head: usize, threads: usize) -> usize {
    [MAX_HEADS_PER_ITEM, 2, 1]
        .into_iter()
        .find(|&s| group.is_multiple_of(s) && (n_head / s).is_multiple_of(threads))
        .unwrap_or(1)
}

/// The most query heads `attend` takes together.
const MAX_HEADS_PER_ITEM: usize = 4;

/// The scratch one thread of `attend` needs at position `pos`: the scores and the query of up
/// to `MAX_HEADS_PER_ITEM` heads.
pub const fn attend_scratch(pos: usize, head_dim: usize) -> usize {
    MAX_HEADS_PER_ITEM * (pos + 1 + head_dim)
}

/// `kq_scores` for the `qs.len() / head_dim` query heads that share the KV head at `base`, head
/// by head through this build's one-head kernel: head h's scores in `att[h·n..][..n]` (`n`
/// cached positions). simd128's version takes two or four heads at once, and this for the rest.
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
    let n = att.len() / (qs.len() / head_dim);
    for (qh, a) in qs.chunks_exact(head_dim).zip(att.chunks_exact_mut(n)) {
        kq_kernel(order, k, kv_dim, base, qh, scale, a);
    }
}

/// `kqv` for `heads` heads that share the KV head at `base`, one after the other: head h's
/// probabilities in `ps[h·n..][..n]`, its output in `out[h·head_dim..][..head_dim]`.
pub fn kqv_heads(
    order: DotOrder,
    v: &[f16],
    kv_dim: usize,
    base: usize,
    heads: usize,
    ps: &[f32],
    out: &mut [f32],
) {
    let (n, hd) = (ps.len() / heads, out.len() / heads);
    for (p, o) in ps.chunks_exact(n).zip(out.chunks_exact_mut(hd)) {
        kqv_kernel(order, v, kv_dim, base, p, o);
    }
}

/// Heads × positions × head_dim (p·V's multiply-adds) from which `attend` uses several threads:
/// at 2B-4T's 20 heads of 128 from position 26 on.
pub const MIN_PARALLEL_ATTENTION: usize = 1 << 16;

/// `att[t] = (qh·k_t)·scale` for the cached keys `k_t = k[t·kv_dim + base..][..qh.len()]`, each
/// dot product in `order` (the scalar reference).
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
    for (t, a) in att.iter_mut().enumerate() {
        let k = &k[t * kv_dim + base..][..hd];
        let kq = dot(order, hd, |i| k[i].to_f32(), |i| qh[i]);
        *a = kq * scale;
    }
}

/// `out[d] = Σ_t v[t·kv_dim + base + d]·p[t]` over the `p.len()` cached positions, each sum in
/// `order` over the cache length padded to `KV_PAD` cells (value and probability 0 there): the
/// scalar reference.
pub fn kqv(order: DotOrder, v: &[f16], kv_dim: usize, base: usize, p: &[f32], out: &mut [f32]) {
    let n = p.len();
    let n_pad = n.div_ceil(KV_PAD) * KV_PAD;
    for (d, od) in out.iter_mut().enumerate() {
        let vd = |t: usize| {
            if t < n {
                v[t * kv_dim + base + d].to_f32()
            } else {
                0.0
            }
        };
        let pt = |t: usize| if t < n { p[t] } else { 0.0 };
        *od = dot(order, n_pad, vd, pt);
    }
}

// The two attention products: AVX2 on x86-64 (chosen at run time inside `x86`), simd128 on
// wasm32 (compile time), else scalar. q·k for the heads of an item: simd128 takes two or four
// at once; elsewhere they go one by one through the one-head kernel.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use super::simd128::attention::{
    kq_scores as kq_kernel, kq_scores_heads as kq_heads_kernel, kqv as kqv_kernel,
};
#[cfg(target_arch = "x86_64")]
use super::x86::attention::{kq_scores as kq_kernel, kqv as kqv_kernel};
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
use kq_scores_heads as kq_heads_kernel;
#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
use {kq_scores as kq_kernel, kqv as kqv_kernel};

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn softmax_sums_to_one_and_masks() {
        let mut x = [1.0f32, 2.0, f32::NEG_INFINITY];
        softmax(&mut x, Isa::Avx2);
        assert_eq!(x[2], 0.0);
        assert!((x[0] + x[1] - 1.0).abs() < 1e-7);
        assert!((x[1] / x[0] - std::f32::consts::E).abs() < 1e-5);
    }

    #[test]
    fn heads_on_threads_give_the_same_bits() {
        // Long enough for several threads (MIN_PARALLEL_ATTENTION), both probability kinds.
        let (n_head, n_head_kv, head_dim, pos) = (8, 2, 64, 200);
        assert!(n_head * (pos + 1) * head_dim >= MIN_PARALLEL_ATTENTION);
        let mut rng = crate::kernels::testdata::Rng(7);
        let mut value = || f16::from_f32((rng.next() % 2001) as f32 / 1000.0 - 1.0);
        let cells = (pos + 1) * n_head_kv * head_dim;
        let layer = KvLayer {
            k: (0..cells).map(|_| value()).collect(),
            v: (0..cells).map(|_| value()).collect(),
        };
        let q: Vec<f32> = (0..n_head * head_dim)
            .map(|_| value().to_f32() * 3.0)
            .collect();
        for probs_f16 in [false, true] {
            let r = AttnNumerics {
                kq_order: DotOrder::GgmlVecDot,
                probs_f16,
                kqv_order: DotOrder::TinyBlas,
                isa: Isa::Avx2,
            };
            let run = |threads: usize| {
                let mut scratch = vec![0f32; threads * attend_scratch(pos, head_dim)];
                let mut out = vec![0f32; n_head * head_dim];
                attend(
                    &q,
                    &layer,
                    pos,
                    n_head,
                    n_head_kv,
                    head_dim,
                    r,
                    threads,
                    &mut scratch,
                    &mut out,
                );
                out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            };
            let one = run(1);
            assert!(one.iter().any(|&b| b != 0));
            for threads in [2, 3] {
                assert_eq!(
                    run(threads),
                    one,
                    "{threads} threads, probs_f16 {probs_f16}"
                );
            }
        }
    }

    #[test]
    fn attention_picks_gqa_head_and_weights_values() {
        // 2 query heads sharing 1 KV head of dim 2; two cached positions.
        let f = |v: f32| f16::from_f32(v);
        let layer = KvLayer {
            k: vec![f(1.0), f(0.0), f(0.0), f(1.0)],
            v: vec![f(10.0), f(0.0), f(0.0), f(20.0)],
        };
        let q = [100.0f32, 0.0, 0.0, 100.0]; // head 0 looks at pos 0, head 1 at pos 1
        let mut scratch = [0f32; attend_scratch(1, 2)];
        let mut out = [0f32; 4];
        let r = AttnNumerics {
            kq_order: DotOrder::GgmlVecDot,
            probs_f16: false,
            kqv_order: DotOrder::TinyBlas,
            isa: Isa::Avx2,
        };
        attend(&q, &layer, 1, 2, 1, 2, r, 1, &mut scratch, &mut out);
        assert!(
            (out[0] - 10.0).abs() < 1e-3 && out[1].abs() < 1e-3,
            "{out:?}"
        );
        assert!(
            out[2].abs() < 1e-3 && (out[3] - 20.0).abs() < 1e-3,
            "{out:?}"
        );
        // At pos 0 only the first cell is visible.
        attend(&q, &layer, 0, 2, 1, 2, r, 1, &mut scratch, &mut out);
        assert_eq!(&out[2..], &[10.0, 0.0]);
    }
}
