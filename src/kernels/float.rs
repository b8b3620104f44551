//! Float dot products and matrix-vector products (F32, F16, BF16 weights).
//!
//! The reference engines sum float dot products in SIMD lanes, so the order of the additions is
//! part of the result at the last-ulp level. Two orders occur in bitnet.cpp (both checked
//! bit-exact against its trace by `tests/trace_i2s.rs`):
//! - `dot_ggml_f16`: ggml's own `vec_dot_f16`, used whenever the activation is first converted
//!   to F16 (KQ always, KQV in a single-token decode, the head when one logits row is wanted);
//! - `dot8_fma`: llamafile's tinyBLAS (one eight-lane fused accumulator), used for F16 weights
//!   times F32 activations with two or more token columns (KQV during a prompt decode).

#[cfg(not(target_arch = "wasm32"))]
use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};

/// Reduces eight lane sums the way an AVX `hsum` does: (l0+l4, l1+l5, l2+l6, l3+l7), then
/// (a0+a2, a1+a3), then their sum.
#[inline]
pub fn hsum8(l: &[f32; 8]) -> f32 {
    let a = [l[0] + l[4], l[1] + l[5], l[2] + l[6], l[3] + l[7]];
    let b = [a[0] + a[2], a[1] + a[3]];
    b[0] + b[1]
}

/// A fused multiply-add `a·b + c` rounded once. Natively `f32::mul_add` (an instruction where the
/// CPU has FMA); on wasm32, which has no fused multiply-add, through f64: `a·b` is exact there,
/// and rounding the f64 sum to f32 gives the fused result except when that sum lies exactly on
/// an f32 rounding midpoint (or in the subnormal range), where the exact library routine runs.
/// A zero sum is exact (f32 products cannot underflow f64) and has the fused result's sign.
#[inline(always)]
pub fn fma(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(target_arch = "wasm32")]
    {
        fma_via_f64(a, b, c)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        a.mul_add(b, c)
    }
}

/// The wasm32 path of `fma`, public so native tests can check it against `f32::mul_add`.
#[inline(always)]
pub fn fma_via_f64(a: f32, b: f32, c: f32) -> f32 {
    let s = a as f64 * b as f64 + c as f64;
    // An f32 midpoint, seen as f64, has bit 28 set and bits 0..28 clear.
    let midpoint = s.to_bits() & 0x1fff_ffff == 0x1000_0000;
    // (Zero sums are common in padded attention, and the library routine is slow.)
    if midpoint || (s != 0.0 && s.abs() < f32::MIN_POSITIVE as f64) {
        return a.mul_add(b, c);
    }
    s as f32
}

/// Eight-lane fused dot product of `n` terms `a(i) * b(i)` (tinyBLAS order).
#[inline(always)]
pub fn dot8_fma(n: usize, a: impl Fn(usize) -> f32, b: impl Fn(usize) -> f32) -> f32 {
    hsum8(&fused_lanes::<8>(n, a, b))
}

/// Sixteen-lane fused dot product (tinyBLAS order in an AVX-512 build).
#[inline(always)]
pub fn dot16_fma(n: usize, a: impl Fn(usize) -> f32, b: impl Fn(usize) -> f32) -> f32 {
    hsum16(&fused_lanes::<16>(n, a, b))
}

/// `L` independent fused accumulators over the first `m` terms: term k goes to lane `k % L`
/// (every order below is this, with its own `L`, `m` and reduction).
#[inline(always)]
pub fn fused_lanes<const L: usize>(
    m: usize,
    a: impl Fn(usize) -> f32,
    b: impl Fn(usize) -> f32,
) -> [f32; L] {
    let mut acc = [0f32; L];
    fused_lanes_from(&mut acc, 0, m, a, b);
    acc
}

/// Continues `fused_lanes` over terms `from..m` (`from` a multiple of the lane count), for a
/// SIMD version that leaves the last partial step to the scalar code.
#[inline(always)]
pub fn fused_lanes_from(
    acc: &mut [f32],
    from: usize,
    m: usize,
    a: impl Fn(usize) -> f32,
    b: impl Fn(usize) -> f32,
) {
    let lanes = acc.len();
    let full = from + (m - from) / lanes * lanes;
    for i in (from..full).step_by(lanes) {
        for (l, al) in acc.iter_mut().enumerate() {
            *al = fma(a(i + l), b(i + l), *al);
        }
    }
    for k in full..m {
        acc[k - full] = fma(a(k), b(k), acc[k - full]);
    }
}

/// `_mm512_reduce_add_ps`: the upper eight lanes added to the lower eight, then `hsum8`.
#[inline(always)]
pub fn hsum16(l: &[f32; 16]) -> f32 {
    let mut h = [0f32; 8];
    for (i, hi) in h.iter_mut().enumerate() {
        *hi = l[i] + l[i + 8];
    }
    hsum8(&h)
}

/// Eight-lane dot product without fusing (vectorizes everywhere, including wasm32 where a fused
/// multiply-add is a slow library call). Differs from `dot8_fma` only in the last bits.
#[inline]
pub fn dot8(n: usize, a: impl Fn(usize) -> f32, b: impl Fn(usize) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let full = n / 8 * 8;
    let mut i = 0;
    while i < full {
        for (l, al) in acc.iter_mut().enumerate() {
            *al += a(i + l) * b(i + l);
        }
        i += 8;
    }
    for j in full..n {
        acc[j % 8] += a(j) * b(j);
    }
    hsum8(&acc)
}

/// 2^56: the simd128 F16 kernels take an F16 activation also times this (exact), so that a
/// weight's bits moved into f32 position multiply it without a rebiasing step.
pub const X_UP: f32 = 72057594037927936.0;

/// `xs` times 2^56 (`X_UP`) into `x_up`.
pub fn scale_up(xs: &[f32], x_up: &mut Vec<f32>) {
    x_up.clear();
    x_up.extend(xs.iter().map(|&v| v * X_UP));
}

/// Rounds every element through F16 (round to nearest even), as ggml does when it converts an
/// F32 activation to the F16 "vec_dot_type".
pub fn round_to_f16(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = f16::from_f32(v).to_f32();
    }
}

/// Rounds every element through BF16 (round to nearest even), ggml's BF16 vec_dot type.
pub fn round_to_bf16(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = bf16::from_f32(v).to_f32();
    }
}

/// Whether every F16 value of `bytes` is finite (no exponent of all ones): one pass at load,
/// so that a kernel may skip its per-row check (`Matrix::finite`). A max over the values with
/// the sign shifted out, which vectorizes.
pub fn f16_all_finite(bytes: &[u8]) -> bool {
    let top = bytes
        .chunks_exact(2)
        .map(|h| u16::from_le_bytes([h[0], h[1]]) << 1)
        .fold(0u16, u16::max);
    top < 0xf800
}

#[inline]
pub fn f16_at(bytes: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]).to_f32()
}

#[inline]
pub fn bf16_at(bytes: &[u8], i: usize) -> f32 {
    bf16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]).to_f32()
}

#[inline]
pub fn f32_at(bytes: &[u8], i: usize) -> f32 {
    f32::from_le_bytes([
        bytes[4 * i],
        bytes[4 * i + 1],
        bytes[4 * i + 2],
        bytes[4 * i + 3],
    ])
}

/// The summation order of a float dot product: `lanes()` fused accumulators over the first
/// `fused_len(n)` terms (term k in lane `k % lanes`), reduced in the order's tree (`reduce`),
/// then ggml's `vec_dot` adds the remaining terms one by one in f64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DotOrder {
    /// ggml's `vec_dot_f16`/`vec_dot_f32` (`dot_ggml_f16`).
    GgmlVecDot,
    /// llamafile's tinyBLAS (`dot8_fma`).
    TinyBlas,
    /// `vec_dot_f16` in an AVX-512 build (`dot_ggml_f16_avx512`).
    GgmlVecDotAvx512,
    /// tinyBLAS in an AVX-512 build (`dot16_fma`).
    TinyBlasAvx512,
}

impl DotOrder {
    /// The number of independent fused accumulators.
    pub const fn lanes(self) -> usize {
        match self {
            DotOrder::GgmlVecDot => 32,
            DotOrder::TinyBlas => 8,
            DotOrder::GgmlVecDotAvx512 => 64,
            DotOrder::TinyBlasAvx512 => 16,
        }
    }

    /// How many of `n` terms go through the fused lanes (`vec_dot` only whole steps).
    pub const fn fused_len(self, n: usize) -> usize {
        match self {
            DotOrder::GgmlVecDot | DotOrder::GgmlVecDotAvx512 => n / self.lanes() * self.lanes(),
            DotOrder::TinyBlas | DotOrder::TinyBlasAvx512 => n,
        }
    }
}

/// `Σ a(i)·b(i)` in the given order.
#[inline(always)]
pub fn dot(order: DotOrder, n: usize, a: impl Fn(usize) -> f32, b: impl Fn(usize) -> f32) -> f32 {
    match order {
        DotOrder::GgmlVecDot => dot_ggml_f16(n, a, b),
        DotOrder::TinyBlas => dot8_fma(n, a, b),
        DotOrder::GgmlVecDotAvx512 => dot_ggml_f16_avx512(n, a, b),
        DotOrder::TinyBlasAvx512 => dot16_fma(n, a, b),
    }
}

/// The end of a dot product in `order`: the lane sums `acc` (`order.lanes()` of them, after
/// `order.fused_len(n)` terms) reduced, plus the remaining terms `a(k)·b(k)`.
#[inline(always)]
pub fn reduce(
    order: DotOrder,
    acc: &[f32],
    n: usize,
    a: impl Fn(usize) -> f32,
    b: impl Fn(usize) -> f32,
) -> f32 {
    let mut sum = match order {
        DotOrder::TinyBlas => return hsum8(acc.try_into().expect("8 lanes")),
        DotOrder::TinyBlasAvx512 => return hsum16(acc.try_into().expect("16 lanes")),
        // Four eight-lane registers (acc0..acc3 = lanes 0..8, 8..16, ...) reduced acc0+acc2,
        // acc1+acc3, then together; the eight lanes folded (l_i + l_{i+4}) and summed with two
        // horizontal adds.
        DotOrder::GgmlVecDot => {
            let x: [f32; 8] =
                std::array::from_fn(|l| (acc[l] + acc[16 + l]) + (acc[8 + l] + acc[24 + l]));
            let t0 = [x[0] + x[4], x[1] + x[5], x[2] + x[6], x[3] + x[7]];
            ((t0[0] + t0[1]) + (t0[2] + t0[3])) as f64
        }
        // Four sixteen-lane registers reduced the same way, then `hsum16`.
        DotOrder::GgmlVecDotAvx512 => {
            let x: [f32; 16] =
                std::array::from_fn(|l| (acc[l] + acc[32 + l]) + (acc[16 + l] + acc[48 + l]));
            hsum16(&x) as f64
        }
    };
    for k in order.fused_len(n)..n {
        sum += (a(k) * b(k)) as f64;
    }
    sum as f32
}

/// Float weight storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatType {
    F32,
    F16,
    BF16,
}

/// Reads element `i` of a flat little-endian array.
pub type ElemAt = fn(&[u8], usize) -> f32;

impl FloatType {
    /// Bytes per element.
    pub const fn bytes(self) -> usize {
        match self {
            FloatType::F32 => 4,
            FloatType::F16 | FloatType::BF16 => 2,
        }
    }

    /// The element reader of this storage.
    pub fn elem_at(self) -> ElemAt {
        match self {
            FloatType::F32 => f32_at,
            FloatType::F16 => f16_at,
            FloatType::BF16 => bf16_at,
        }
    }
}

/// Matrix-vector product of row-major float weights with `x`, each row summed in `order`.
/// Each row is first converted to f32 in `row` (F16 rows in bulk), then summed by
/// `dot_slices`. The scalar reference; on wasm32 `matrix::matvec` uses the simd128 version,
/// which gives the same bits.
pub fn matvec_float(
    data: &[u8],
    ty: FloatType,
    x: &[f32],
    order: DotOrder,
    row: &mut Vec<f32>,
    out: &mut [f32],
) {
    let cols = x.len();
    row.resize(cols, 0.0);
    let elem_at = ty.elem_at();
    // F16 data viewed as `f16` when the bytes are 2-aligned (GGUF tensor data is, within an
    // allocation). SAFETY: every bit pattern is a valid `f16`.
    let (pre, halves, _) = unsafe { data.align_to::<f16>() };
    let bulk_f16 = ty == FloatType::F16 && pre.is_empty();
    for (r, o) in out.iter_mut().enumerate() {
        let base = r * cols;
        if bulk_f16 {
            f16_row_to_f32(&halves[base..base + cols], row);
        } else {
            for (i, v) in row.iter_mut().enumerate() {
                *v = elem_at(data, base + i);
            }
        }
        *o = dot_slices(order, row, x);
    }
}

/// Converts F16 values to f32: natively with `half` (F16C where the CPU has it); on wasm32 with
/// bit operations, which are exact and several times faster than `half`'s portable path.
fn f16_row_to_f32(src: &[f16], dst: &mut [f32]) {
    #[cfg(not(target_arch = "wasm32"))]
    src.convert_to_f32_slice(dst);
    #[cfg(target_arch = "wasm32")]
    for (d, h) in dst.iter_mut().zip(src) {
        *d = f16_bits_to_f32(h.to_bits());
    }
}

/// IEEE half to single by bit manipulation (exact for every input, NaN payloads kept).
#[inline(always)]
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = h & 0x7c00;
    let mant = (h & 0x03ff) as u32;
    let bits = if exp == 0x7c00 {
        0x7f80_0000 | (mant << 13)
    } else if exp == 0 {
        // Zero or subnormal: mant · 2^-24, exact in f32.
        (mant as f32 * f32::from_bits(0x3380_0000)).to_bits()
    } else {
        (((h & 0x7fff) as u32) << 13) + 0x3800_0000
    };
    f32::from_bits(sign | bits)
}

/// `Σ a[i]·b[i]` in `order`, over slices. On x86-64 with FMA the fused multiply-adds are
/// instructions rather than library calls (same results: a fused multiply-add is exact).
pub fn dot_slices(order: DotOrder, a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has FMA (checked above).
            return unsafe { dot_slices_fma(order, a, b) };
        }
    }
    dot_slices_any(order, a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn dot_slices_fma(order: DotOrder, a: &[f32], b: &[f32]) -> f32 {
    dot_slices_any(order, a, b)
}

#[inline(always)]
fn dot_slices_any(order: DotOrder, a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    dot(order, n, |i| a[i], |i| b[i])
}

/// ggml's `ggml_vec_dot_f16` order on AVX2: four eight-lane accumulators over steps of 32
/// (fused), reduced acc0+acc2, acc1+acc3, then together; the eight lanes are folded
/// (l_i + l_{i+4}) and summed with two horizontal adds; the tail (n % 32) is added in order.
#[inline(always)]
pub fn dot_ggml_f16(n: usize, a: impl Fn(usize) -> f32, b: impl Fn(usize) -> f32) -> f32 {
    let order = DotOrder::GgmlVecDot;
    let acc = fused_lanes::<32>(order.fused_len(n), &a, &b);
    reduce(order, &acc, n, a, b)
}

/// `ggml_vec_dot_f16` in an AVX-512 build: four sixteen-lane accumulators over steps of 64
/// (fused), reduced acc0+acc2, acc1+acc3, then together, then `hsum16`; the tail (n % 64) is
/// added in order in f64.
#[inline(always)]
pub fn dot_ggml_f16_avx512(n: usize, a: impl Fn(usize) -> f32, b: impl Fn(usize) -> f32) -> f32 {
    let order = DotOrder::GgmlVecDotAvx512;
    let acc = fused_lanes::<64>(order.fused_len(n), &a, &b);
    reduce(order, &acc, n, a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn f16_all_finite_finds_every_infinity_and_nan() {
        let bytes = |hs: &[u16]| -> Vec<u8> { hs.iter().flat_map(|h| h.to_le_bytes()).collect() };
        // ±65504, ±0, subnormals: finite.
        assert!(f16_all_finite(&bytes(&[
            0x7bff, 0xfbff, 0, 0x8000, 1, 0x83ff
        ])));
        assert!(f16_all_finite(&[]));
        for bad in [0x7c00, 0xfc00, 0x7c01, 0xfe00, 0xffff, 0x7fff] {
            let mut hs = vec![0x3c00u16; 37];
            hs[29] = bad;
            assert!(!f16_all_finite(&bytes(&hs)), "{bad:#06x}");
        }
    }

    #[test]
    fn avx512_orders_differ_from_avx2_only_in_rounding() {
        // 256 terms whose sum depends on the order: both widths stay close to the f64 sum,
        // and zeros appended (padding cells) change neither.
        let a: Vec<f32> = (0..256)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013)
            .collect();
        let b: Vec<f32> = (0..256)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) * 0.007)
            .collect();
        let exact: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
        for order in [
            DotOrder::GgmlVecDot,
            DotOrder::TinyBlas,
            DotOrder::GgmlVecDotAvx512,
            DotOrder::TinyBlasAvx512,
        ] {
            let got = dot(order, 256, |i| a[i], |i| b[i]);
            assert!(
                (got as f64 - exact).abs() < 1e-4,
                "{order:?}: {got} vs {exact}"
            );
            let padded = dot(
                order,
                320,
                |i| if i < 256 { a[i] } else { 0.0 },
                |i| {
                    if i < 256 {
                        b[i]
                    } else {
                        0.0
                    }
                },
            );
            assert_eq!(padded, got, "{order:?}");
        }
        // Sixteen lanes of 1..16: folded (l_i + l_{i+8}) then the eight-lane tree.
        let l: [f32; 16] = std::array::from_fn(|i| (i + 1) as f32);
        assert_eq!(hsum16(&l), 136.0);
    }

    #[test]
    fn fma_via_f64_equals_fused() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Finite floats over a wide range, both signs.
            let m = (x >> 41) as u32 | 0x3f80_0000;
            let e = ((x >> 20) % 40) as i32 - 20;
            let v = f32::from_bits(m) * 2f32.powi(e);
            if x & 1 == 0 {
                v
            } else {
                -v
            }
        };
        for _ in 0..200_000 {
            let (a, b, c) = (next(), next(), next());
            assert_eq!(
                fma_via_f64(a, b, c).to_bits(),
                a.mul_add(b, c).to_bits(),
                "{a} {b} {c}"
            );
        }
        // A sum that lands on an f32 midpoint in f64 takes the exact path.
        let (a, b, c) = (1.0 + f32::EPSILON, 1.0 + f32::EPSILON, -1.0);
        assert_eq!(fma_via_f64(a, b, c), a.mul_add(b, c));
        assert_eq!(fma_via_f64(1e-30, 1e-10, 0.0), 1e-30f32.mul_add(1e-10, 0.0));
        // Zero sums: the sign follows the fused rules (exact cancellation gives +0).
        for (a, b, c) in [
            (0.0f32, 1.0f32, 0.0f32),
            (-0.0, 1.0, 0.0),
            (-0.0, 1.0, -0.0),
            (0.0, -1.0, -0.0),
            (1.0, 1.0, -1.0),
            (-1.0, 1.0, 1.0),
            (-1.5, -2.0, -3.0),
            (0.0, 0.0, -0.0),
        ] {
            assert_eq!(
                fma_via_f64(a, b, c).to_bits(),
                a.mul_add(b, c).to_bits(),
                "{a} {b} {c}"
            );
        }
    }

    #[test]
    fn f16_bits_conversion_is_exact() {
        for h in 0..=u16::MAX {
            let want = f16::from_bits(h).to_f32();
            let got = f16_bits_to_f32(h);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{h:#x}"
            );
        }
    }

    #[test]
    fn hsum_order() {
        // Values chosen so that a different association gives a different f32.
        let l = [1e8f32, 1.0, -1e8, 1.0, 1.0, 0.0, 0.0, 0.0];
        // (1e8+1) + (1+0) -> lanes a = [1e8+1 (=1e8), 1, -1e8, 1]; b = [0, 2]; sum 2.
        assert_eq!(hsum8(&l), 2.0);
    }

    #[test]
    fn f16_matvec() {
        let w: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 0.5, 0.25, 0.125, 1.0]
            .iter()
            .flat_map(|&v| f16::from_f32(v).to_le_bytes())
            .collect();
        let mut out = [0f32; 2];
        let x = [1.0, 1.0, 2.0, 0.0];
        let mut row = Vec::new();
        matvec_float(
            &w,
            FloatType::F16,
            &x,
            DotOrder::GgmlVecDot,
            &mut row,
            &mut out,
        );
        assert_eq!(out, [9.0, 1.0]);
        // Unaligned bytes take the per-element path and give the same.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&w);
        matvec_float(
            &shifted[1..],
            FloatType::F16,
            &x,
            DotOrder::TinyBlas,
            &mut row,
            &mut out,
        );
        assert_eq!(out, [9.0, 1.0]);
        assert_eq!(dot8_fma(3, |i| [1.0, 2.0, 3.0][i], |_| 2.0), 12.0);
    }
}
