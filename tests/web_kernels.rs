//! In Chromium (wasm-pack test): every simd128 float and 32-element block kernel gives the
//! scalar reference's bits, on random data, odd lengths and tails, f32 rounding midpoints,
//! subnormal results and ±0/inf/NaN/subnormal weights. (The ternary kernels are checked in
//! tests/web_model.rs.)
//!
//! Run: wasm-pack test --headless --chrome -- --no-default-features --test web_kernels
#![cfg(target_arch = "wasm32")]

use core::arch::wasm32::*;

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

use bitlens::kernels::float::{self, f16_bits_to_f32, fma_via_f64, DotOrder, FloatType};
use bitlens::kernels::q8::{self, quantize_q8, Block32, QK8};
use bitlens::kernels::simd128;

const ORDERS: [DotOrder; 4] = [
    DotOrder::GgmlVecDot,
    DotOrder::TinyBlas,
    DotOrder::GgmlVecDotAvx512,
    DotOrder::TinyBlasAvx512,
];

#[path = "common/pseudo_random.rs"]
mod pseudo_random;
use pseudo_random::Rng;

/// Test values drawn from the shared stream.
trait Draw {
    fn wide(&mut self) -> f32;
    fn f16ish(&mut self) -> f32;
}

impl Draw for Rng {
    /// A finite f32 with a 24-bit mantissa and an exponent in 2^-20..2^20, either sign.
    fn wide(&mut self) -> f32 {
        let r = self.next();
        let v = f32::from_bits((r >> 41) as u32 | 0x3f80_0000) * 2f32.powi((r % 41) as i32 - 20);
        if r & 1 << 20 == 0 {
            v
        } else {
            -v
        }
    }

    /// An F16 value as f32 (about 0.05 in size): its products with other F16 values have at
    /// most 22 significant bits, so f32 sums of them land on rounding midpoints often.
    fn f16ish(&mut self) -> f32 {
        half::f16::from_f32(self.wide() * 0.05).to_f32()
    }
}

/// Equal bits, or both NaN (wasm leaves a NaN's sign and payload open).
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn assert_same(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            same(g, w),
            "{what}: [{i}] {g:e} ({:#x}) vs {w:e} ({:#x})",
            g.to_bits(),
            w.to_bits()
        );
    }
}

/// `fma_f64x2` on two lanes against the scalar `fma_via_f64` (which is the fused result).
fn check_fma(a: [f32; 2], b: [f32; 2], c: [f32; 2]) -> [f32; 2] {
    let v = |x: [f32; 2]| f64x2(x[0] as f64, x[1] as f64);
    let r = simd128::float::fma_f64x2(v(a), v(b), v(c));
    let wide = [f64x2_extract_lane::<0>(r), f64x2_extract_lane::<1>(r)];
    let got = wide.map(|v| v as f32);
    for l in 0..2 {
        // The result is an f32 value held in f64.
        assert!(wide[l].is_nan() || got[l] as f64 == wide[l]);
        let want = fma_via_f64(a[l], b[l], c[l]);
        assert!(
            same(got[l], want),
            "fma({:e}, {:e}, {:e}) = {:e}, want {want:e}",
            a[l],
            b[l],
            c[l],
            got[l]
        );
    }
    got
}

#[wasm_bindgen_test]
fn fma_f64x2_is_the_fused_result() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut midpoints = 0;
    for i in 0..400_000 {
        let (a, b, c) = if i % 2 == 0 {
            (
                [rng.wide(), rng.wide()],
                [rng.wide(), rng.wide()],
                [rng.wide(), rng.wide()],
            )
        } else {
            let acc = [rng.f16ish() * 40.0, rng.wide() * 1e-3];
            (
                [rng.f16ish(), rng.f16ish()],
                [rng.f16ish(), rng.f16ish()],
                acc,
            )
        };
        check_fma(a, b, c);
        for l in 0..2 {
            let s = a[l] as f64 * b[l] as f64 + c[l] as f64;
            midpoints += (s.to_bits() & 0x1fff_ffff == 0x1000_0000) as usize;
        }
    }
    // The data must exercise the case where rounding the f64 sum to f32 is a tie.
    assert!(midpoints > 1000, "{midpoints} midpoints");

    let eps = f32::EPSILON;
    let tiny = f32::from_bits(1); // the smallest subnormal
    let cases: &[(f32, f32, f32)] = &[
        // (1+e)^2 - 1 = 2e + e^2: an f32 midpoint in f64 only after rounding (inexact tie).
        (1.0 + eps, 1.0 + eps, -1.0),
        (1.0 + eps, 1.0 - eps / 2.0, 1.0),
        (1.0 + eps, -(1.0 + eps), 1.0),
        // Exact ties (rounded to even) and sums far below the accumulator's last bit.
        (1.0, eps / 2.0, 1.0),
        (1.0, eps / 2.0, 1.0 + eps),
        (3.0, 1e-30, 1.0),
        (-3.0, 1e-30, 1.0),
        (1e-20, 1e-20, -1.0),
        // Subnormal results, exact and rounded, and underflow to ±0.
        (tiny, 0.5, 0.0),
        (tiny, 1.5, 0.0),
        (tiny, 2.5, -tiny),
        (1e-30, 1e-10, 0.0),
        (-1e-30, 1e-10, 0.0),
        (f32::MIN_POSITIVE, 0.75, -f32::MIN_POSITIVE),
        (1e-25, 1e-20, 0.0),
        (-1e-25, 1e-20, 0.0),
        // Signed zeros.
        (0.0, 1.0, 0.0),
        (-0.0, 1.0, 0.0),
        (-0.0, 1.0, -0.0),
        (0.0, -1.0, -0.0),
        (1.0, 1.0, -1.0),
        (-1.0, 1.0, 1.0),
        // Overflow, infinities and NaN.
        (f32::MAX, 2.0, 0.0),
        (f32::MAX, 1.0, f32::MAX),
        (f32::MAX, -2.0, f32::MAX),
        (f32::INFINITY, 1.0, 5.0),
        (f32::INFINITY, -1.0, 5.0),
        (1.0, 5.0, f32::NEG_INFINITY),
        (f32::INFINITY, 1.0, f32::NEG_INFINITY),
        (f32::INFINITY, 0.0, 1.0),
        (f32::NAN, 1.0, 1.0),
        (1.0, 1.0, f32::NAN),
    ];
    for &(a, b, c) in cases {
        let got = check_fma([a, -a], [b, b], [c, -c]);
        assert!(same(got[0], a.mul_add(b, c)));
    }
}

#[wasm_bindgen_test]
fn f16_and_bf16_rows_convert_exactly() {
    // Every F16 bit pattern (zeros, subnormals, infinities, NaNs), at an odd byte offset.
    let mut bytes = vec![0u8];
    bytes.extend((0..=u16::MAX).flat_map(|h| h.to_le_bytes()));
    for len in [65536usize, 65533, 7, 1, 0] {
        let mut got = vec![0f32; len];
        simd128::float::row_to_f32(FloatType::F16, &bytes[1..], &mut got);
        for (h, g) in got.iter().enumerate() {
            let want = f16_bits_to_f32(h as u16);
            assert_eq!(g.to_bits(), want.to_bits(), "F16 {h:#x} of a row of {len}");
        }
        let mut got = vec![0f32; len];
        simd128::float::row_to_f32(FloatType::BF16, &bytes[1..], &mut got);
        for (i, g) in got.iter().enumerate() {
            assert_eq!(g.to_bits(), (i as u32) << 16, "BF16 {i}");
        }
    }
    let mut rng = Rng(7);
    let f32s: Vec<u8> = (0..4 * 1001).map(|_| rng.next() as u8).collect();
    let mut got = vec![0f32; 1001];
    simd128::float::row_to_f32(FloatType::F32, &f32s, &mut got);
    for (i, g) in got.iter().enumerate() {
        assert_eq!(
            g.to_bits(),
            u32::from_le_bytes(f32s[4 * i..4 * i + 4].try_into().unwrap())
        );
    }
}

/// Weights of `ty` for `rows × cols`: F16-like values, with every `special`-th one replaced by
/// a random bit pattern (NaN, infinities, subnormals, ±0 among them) when `special > 0`.
fn weights(ty: FloatType, n: usize, special: u64, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 * n + 1);
    out.push(0xa5); // the matrix starts at offset 1: unaligned for every type
    for _ in 0..n {
        let r = rng.next();
        let v = rng.f16ish();
        let raw = special > 0 && r.is_multiple_of(special);
        match ty {
            FloatType::F32 => {
                out.extend(if raw { (r >> 32) as u32 } else { v.to_bits() }.to_le_bytes())
            }
            FloatType::F16 => out.extend(
                if raw {
                    (r >> 48) as u16
                } else {
                    half::f16::from_f32(v).to_bits()
                }
                .to_le_bytes(),
            ),
            FloatType::BF16 => out.extend(
                if raw {
                    (r >> 48) as u16
                } else {
                    half::bf16::from_f32(v).to_bits()
                }
                .to_le_bytes(),
            ),
        }
    }
    out
}

#[wasm_bindgen_test]
fn simd128_float_matvec_equals_scalar() {
    let mut rng = Rng(42);
    let mut row = Vec::new();
    for ty in [FloatType::F16, FloatType::BF16, FloatType::F32] {
        for cols in [
            1usize, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 100, 127, 129, 257, 2560,
        ] {
            for special in [0u64, 3, 50] {
                let rows = 5;
                let w = weights(ty, rows * cols, special, &mut rng);
                // x as the engines feed it (F16-rounded), then wide f32 values.
                let mut x: Vec<f32> = (0..cols).map(|_| rng.f16ish()).collect();
                if special == 50 {
                    x.iter_mut().for_each(|v| *v = rng.wide());
                }
                for order in ORDERS {
                    let mut want = vec![0f32; rows];
                    let mut got = vec![0f32; rows];
                    float::matvec_float(&w[1..], ty, &x, order, &mut row, &mut want);
                    simd128::matvec_float(&w[1..], ty, &x, order, &mut row, &mut got);
                    assert_same(
                        &got,
                        &want,
                        &format!("{ty:?} {order:?} cols {cols} special {special}"),
                    );
                }
            }
        }
    }
}

/// A head-sized row count at 2B-4T's width, with F16 weights and an F16 x as in a decode step
/// (the "F16 grid" path: plain f64 sums, many of them on f32 rounding midpoints), plus rows
/// with a large lane sum (also only for a while) and an infinity; every row equal to the
/// scalar reference.
/// `rows` F16 rows (`bytes`) times `x` in `order`, simd128 against scalar bit for bit; returns
/// the scalar result.
fn f16_matvec_equals_scalar(
    bytes: &[u8],
    x: &[f32],
    rows: usize,
    order: DotOrder,
    row: &mut Vec<f32>,
) -> Vec<f32> {
    let (mut want, mut got) = (vec![0f32; rows], vec![0f32; rows]);
    float::matvec_float(bytes, FloatType::F16, x, order, row, &mut want);
    simd128::matvec_float(bytes, FloatType::F16, x, order, row, &mut got);
    assert_same(&got, &want, &format!("{order:?}"));
    want
}

#[wasm_bindgen_test]
fn simd128_f16_matvec_on_the_f16_grid() {
    let mut rng = Rng(2560);
    let (rows, cols) = (64, 2560 + 37);
    let f16 = |v: f32| half::f16::from_f32(v);
    let mut w: Vec<half::f16> = (0..rows * cols)
        .map(|_| f16(((rng.next() % 2001) as f32 / 1000.0 - 1.0) * 0.05))
        .collect();
    let x: Vec<f32> = (0..cols)
        .map(|_| f16((rng.next() % 2001) as f32 / 250.0 - 4.0).to_f32())
        .collect();
    // Row 1: one lane's sum passes 32 and comes back; row 2: a large weight stays; row 3: inf.
    let big = |x: f32| f16(40.0 / x);
    w[cols + 64] = big(x[64]);
    w[cols + 128] = f16(-40.0 / x[128]);
    w[2 * cols + 5] = big(x[5]);
    w[3 * cols + 7] = half::f16::INFINITY;
    let bytes: Vec<u8> = w.iter().flat_map(|h| h.to_le_bytes()).collect();
    let mut row = Vec::new();
    for order in ORDERS {
        let want = f16_matvec_equals_scalar(&bytes, &x, rows, order, &mut row);
        assert!(want[3].is_infinite() || want[3].is_nan());
        // Both simd128 paths, called directly on the first rows.
        let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        for r in 0..4 {
            let src = &bytes[2 * r * cols..2 * (r + 1) * cols];
            let grid = simd128::float::dot_f16_grid(order, src, &x);
            let wr: Vec<f32> = w[r * cols..(r + 1) * cols]
                .iter()
                .map(|h| h.to_f32())
                .collect();
            let exact = simd128::float::dot_slices(order, &wr, &x, &xd);
            assert_same(&[grid, exact], &[want[r]; 2], &format!("{order:?} row {r}"));
        }
    }
    // Every F16 value alone in a row of eight, times 1 (the conversion the F16 path uses for
    // rows without infinities and NaNs, and the one for rows with them).
    let one_hot: Vec<u8> = (0..=u16::MAX)
        .flat_map(|h| {
            let mut r = [0u16; 8];
            r[h as usize % 8] = h;
            r.into_iter().flat_map(|v| v.to_le_bytes())
        })
        .collect();
    let ones = [1f32; 8];
    // (Only tinyBLAS's eight lanes take a row of eight through the SIMD loop.)
    let mut want = vec![0f32; 65536];
    let mut got = vec![0f32; 65536];
    let order = DotOrder::TinyBlas;
    float::matvec_float(&one_hot, FloatType::F16, &ones, order, &mut row, &mut want);
    simd128::matvec_float(&one_hot, FloatType::F16, &ones, order, &mut row, &mut got);
    assert_same(&got, &want, "every F16 value");
    // Every finite F16 exponent on both sides (subnormals, 65504, cancellations).
    let finite = |r: u64| {
        let h = r as u16;
        if h & 0x7c00 == 0x7c00 {
            h & 0x83ff
        } else {
            h
        }
    };
    let bytes: Vec<u8> = (0..rows * cols)
        .flat_map(|_| finite(rng.next() >> 20).to_le_bytes())
        .collect();
    let x: Vec<f32> = (0..cols)
        .map(|_| half::f16::from_bits(finite(rng.next() >> 30)).to_f32())
        .collect();
    for order in ORDERS {
        let mut want = vec![0f32; rows];
        let mut got = vec![0f32; rows];
        float::matvec_float(&bytes, FloatType::F16, &x, order, &mut row, &mut want);
        simd128::matvec_float(&bytes, FloatType::F16, &x, order, &mut row, &mut got);
        assert_same(&got, &want, &format!("{order:?}, random F16 bits"));
    }
    // The head's kernel for rows checked finite at load (no per-row check), one and three
    // columns: each column's scalar bits.
    assert!(float::f16_all_finite(&bytes));
    let x2: Vec<f32> = x.iter().rev().copied().collect();
    for order in ORDERS {
        for xs in [x.clone(), [&x[..], &x2, &x].concat()] {
            let n = xs.len() / cols;
            let mut want = vec![0f32; rows * n];
            let mut col = vec![0f32; rows];
            for (c, xc) in xs.chunks_exact(cols).enumerate() {
                float::matvec_float(&bytes, FloatType::F16, xc, order, &mut row, &mut col);
                for (r, &v) in col.iter().enumerate() {
                    want[r * n + c] = v;
                }
            }
            let mut x_up = Vec::new();
            float::scale_up(&xs, &mut x_up);
            let mut got = vec![0f32; rows * n];
            simd128::float::matmul_f16_grid::<false>(&bytes, &xs, &x_up, cols, order, &mut got);
            assert_same(&got, &want, &format!("{order:?}, {n} columns, finite rows"));
        }
    }
}

/// The head's path scales the activation by 2^56 (`simd128::float::X_UP`): the smallest
/// products (subnormal weights times subnormal activations, down to 2^-48) and sums that
/// cancel must still come out as the scalar order's.
#[wasm_bindgen_test]
fn simd128_f16_matvec_smallest_products() {
    let mut rng = Rng(48);
    let (rows, cols) = (16, 512 + 24);
    let small = |rng: &mut Rng| {
        let h = (rng.next() % 0x0c00) as u16
            | if rng.next().is_multiple_of(2) {
                0x8000
            } else {
                0
            };
        half::f16::from_bits(h)
    };
    let bytes: Vec<u8> = (0..rows * cols)
        .flat_map(|_| small(&mut rng).to_le_bytes())
        .collect();
    let x: Vec<f32> = (0..cols).map(|_| small(&mut rng).to_f32()).collect();
    let mut row = Vec::new();
    for order in ORDERS {
        let want = f16_matvec_equals_scalar(&bytes, &x, rows, order, &mut row);
        assert!(want.iter().any(|&v| v != 0.0 && v.abs() < 1e-8), "{want:?}");
    }
}

/// Random blocks of `kind` (every byte random, so the F16 scales include zeros, subnormals,
/// infinities and NaNs now and then) with realistic scales in all but every 16th block.
fn blocks(kind: Block32, n_blocks: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(n_blocks * kind.bytes());
    for b in 0..n_blocks {
        let mut blk: Vec<u8> = (0..kind.bytes()).map(|_| rng.next() as u8).collect();
        if b % 16 != 0 {
            let d = half::f16::from_f32(rng.wide() * 1e-3).to_le_bytes();
            blk[..2].copy_from_slice(&d);
            if kind == Block32::Q4_1 {
                let m = half::f16::from_f32(rng.wide() * 1e-3).to_le_bytes();
                blk[2..4].copy_from_slice(&m);
            }
        }
        out.extend(blk);
    }
    out
}

#[wasm_bindgen_test]
fn simd128_q8_block_matvec_equals_scalar() {
    let mut rng = Rng(32);
    for kind in [Block32::Q8_0, Block32::Q4_0, Block32::Q4_1] {
        for cols in [32usize, 64, 96, 576, 1536, 2560] {
            let rows = 9;
            let nb = cols / QK8;
            let w = blocks(kind, rows * nb, &mut rng);
            let x: Vec<f32> = (0..cols).map(|_| rng.wide()).collect();
            let (mut q, mut d, mut s) = (vec![0i8; cols], vec![0f32; nb], vec![0f32; nb]);
            quantize_q8(&x, &mut q, &mut d, &mut s);
            let mut want = vec![0f32; rows];
            let mut got = vec![0f32; rows];
            q8::matvec_q8(kind, &w, &q, &d, &s, &mut want);
            simd128::matvec_q8(kind, &w, &q, &d, &s, &mut got);
            assert_same(&got, &want, &format!("{kind:?} cols {cols}"));
            // Extremes of the integer lanes: -128 weights (Q8_0) and activations.
            let extreme = vec![-128i8; cols];
            let mut w8 = w.clone();
            if kind == Block32::Q8_0 {
                w8.chunks_exact_mut(kind.bytes())
                    .for_each(|b| b[2..].fill(0x80));
            } else {
                let at = kind.bytes() - 16;
                w8.chunks_exact_mut(kind.bytes())
                    .for_each(|b| b[at..].fill(0xff));
            }
            q8::matvec_q8(kind, &w8, &extreme, &d, &s, &mut want);
            simd128::matvec_q8(kind, &w8, &extreme, &d, &s, &mut got);
            assert_same(&got, &want, &format!("{kind:?} cols {cols}, extremes"));
        }
    }
}

/// A KV cache of `n` positions of F16 values; at 70 positions with an infinity and a NaN (the
/// exact conversion's path).
fn kv_cache(rng: &mut Rng, n: usize, kv_dim: usize) -> Vec<half::f16> {
    let mut cache: Vec<half::f16> = (0..n * kv_dim)
        .map(|_| half::f16::from_f32(rng.f16ish()))
        .collect();
    if n == 70 {
        cache[5 * kv_dim + 17] = half::f16::INFINITY;
        cache[40 * kv_dim + 3] = half::f16::NAN;
    }
    cache
}

/// p·V with F32 probabilities where a fused step's f64 sum lands on an f32 rounding midpoint
/// it was rounded onto (1 + 2^-24 + 2^-54 is 1 + 2^-24 in f64, which ties to 1 in f32, while
/// the fused step gives 1 + 2^-23): the simd128 kernel must see it and give the scalar bits.
#[wasm_bindgen_test]
fn simd128_kqv_f32_probabilities_on_a_midpoint_equal_scalar() {
    use bitlens::kernels::attention;
    let (n, head_dim) = (40usize, 16usize);
    let v_step = half::f16::from_f32(1.0 + 2f32.powi(-10));
    // (1 + 2^-10)(1 - 2^-10 + 2^-20) = 1 + 2^-30: the product is 2^-24 + 2^-54.
    let p_step = 2f32.powi(-24) * (1.0 - 2f32.powi(-10) + 2f32.powi(-20));
    let mut cache = vec![half::f16::ZERO; n * head_dim];
    let mut p = vec![0f32; n];
    // Lane 0 of every order: cell 0, then cell 8 (tinyBLAS's eight lanes) and 32 (vec_dot's).
    cache[..head_dim].fill(half::f16::ONE);
    p[0] = 1.0;
    for t in [8, 32] {
        cache[t * head_dim..(t + 1) * head_dim].fill(v_step);
        p[t] = p_step;
    }
    for order in ORDERS {
        let mut want = vec![0f32; head_dim];
        let mut got = vec![0f32; head_dim];
        attention::kqv(order, &cache, head_dim, 0, &p, &mut want);
        simd128::attention::kqv(order, &cache, head_dim, 0, &p, &mut got);
        assert_same(&got, &want, &format!("p·V on a midpoint {order:?}"));
        // vec_dot at AVX-512 widths adds these few cells in its f64 tail.
        assert!(
            order == DotOrder::GgmlVecDotAvx512 || want[0] > 1.0,
            "{order:?}: {want:?}"
        );
    }
}

/// Attention's products on the F16 KV cache against the scalar `attention::kq_scores` and
/// `attention::kqv`: q·k per cell, p·V over the cells padded to 256 (sixteen, eight and single
/// dimensions at a time), with F16 probabilities (some ±0) and F32 ones (the fused steps in
/// f64; subnormal, near-1 and wide ones too); a cache with an infinity and a NaN takes the
/// exact conversion.
#[wasm_bindgen_test]
fn simd128_attention_products_equal_scalar() {
    use bitlens::kernels::attention;
    let mut rng = Rng(128);
    for (n, head_dim, kv_heads) in [
        (1usize, 128usize, 5usize),
        (3, 128, 5),
        (33, 64, 3),
        (300, 66, 2),
        (300, 128, 2),
        (70, 120, 1),
    ] {
        let kv_dim = head_dim * kv_heads;
        let cache = kv_cache(&mut rng, n, kv_dim);
        let p16: Vec<f32> = (0..n)
            .map(|t| match t % 7 {
                0 => 0.0,
                1 => -0.0,
                _ => half::f16::from_f32((rng.next() % 1000) as f32 / 1000.0).to_f32(),
            })
            .collect();
        let p32: Vec<f32> = (0..n).map(|_| (rng.next() % 1000) as f32 / 999.0).collect();
        // F32 probabilities that are hard for a fused step done in f64: subnormal, just below
        // 1, full 24-bit mantissas over a wide range (either sign), zeros.
        let p_hard: Vec<f32> = (0..n)
            .map(|t| {
                let r = rng.next();
                match t % 5 {
                    0 => f32::from_bits(r as u32 & 0x007f_ffff),
                    1 => f32::from_bits(0x3f7f_ffff - (r % 1000) as u32),
                    2 => rng.wide() * 2f32.powi(-21),
                    3 => 0.0,
                    _ => (r % 1000) as f32 / 999.0,
                }
            })
            .collect();
        let qh: Vec<f32> = (0..head_dim).map(|_| rng.f16ish()).collect();
        for order in ORDERS {
            for base in [0, (kv_heads - 1) * head_dim] {
                let what = format!("{order:?} n {n} head_dim {head_dim} base {base}");
                for p in [&p16, &p32, &p_hard] {
                    let mut want = vec![0f32; head_dim];
                    let mut got = vec![0f32; head_dim];
                    attention::kqv(order, &cache, kv_dim, base, p, &mut want);
                    simd128::attention::kqv(order, &cache, kv_dim, base, p, &mut got);
                    assert_same(&got, &want, &format!("p·V {what}"));
                }
                let mut want = vec![0f32; n];
                let mut got = vec![0f32; n];
                attention::kq_scores(order, &cache, kv_dim, base, &qh, 0.125, &mut want);
                simd128::attention::kq_scores(order, &cache, kv_dim, base, &qh, 0.125, &mut got);
                assert_same(&got, &want, &format!("q·k {what}"));
            }
        }
    }
}

/// The query heads that share a KV head taken together (`kq_scores_heads`: each key converted
/// once for two or four heads; `kqv_heads`) give each head's one-head scalar bits: one to four
/// heads, F16 probabilities and F32 ones, a cache with an infinity and a NaN, a query off the
/// F16 grid.
#[wasm_bindgen_test]
fn simd128_attention_heads_equal_scalar() {
    use bitlens::kernels::attention;
    let mut rng = Rng(129);
    for (n, head_dim, kv_heads) in [
        (1usize, 128usize, 5usize),
        (33, 64, 3),
        (300, 128, 2),
        (70, 120, 1),
    ] {
        let kv_dim = head_dim * kv_heads;
        let cache = kv_cache(&mut rng, n, kv_dim);
        for heads in 1..=4 {
            let mut qs: Vec<f32> = (0..heads * head_dim).map(|_| rng.f16ish()).collect();
            let p16: Vec<f32> = (0..heads * n)
                .map(|t| match t % 7 {
                    0 => 0.0,
                    _ => half::f16::from_f32((rng.next() % 1000) as f32 / 1000.0).to_f32(),
                })
                .collect();
            let p32: Vec<f32> = (0..heads * n)
                .map(|_| (rng.next() % 1000) as f32 / 999.0)
                .collect();
            for order in ORDERS {
                for base in [0, (kv_heads - 1) * head_dim] {
                    let what =
                        format!("{order:?} n {n} head_dim {head_dim} base {base} heads {heads}");
                    for p in [&p16, &p32] {
                        let mut want = vec![0f32; heads * head_dim];
                        let mut got = vec![0f32; heads * head_dim];
                        for (ph, w) in p.chunks_exact(n).zip(want.chunks_exact_mut(head_dim)) {
                            attention::kqv(order, &cache, kv_dim, base, ph, w);
                        }
                        attention::kqv_heads(order, &cache, kv_dim, base, heads, p, &mut got);
                        assert_same(&got, &want, &format!("p·V {what}"));
                    }
                    for off_grid in [false, true] {
                        if off_grid {
                            qs[head_dim / 2] = 0.1;
                        }
                        let mut want = vec![0f32; heads * n];
                        let mut got = vec![0f32; heads * n];
                        for (qh, w) in qs.chunks_exact(head_dim).zip(want.chunks_exact_mut(n)) {
                            attention::kq_scores(order, &cache, kv_dim, base, qh, 0.125, w);
                        }
                        simd128::attention::kq_scores_heads(
                            order, &cache, kv_dim, base, &qs, head_dim, 0.125, &mut got,
                        );
                        assert_same(&got, &want, &format!("q·k {what} off grid {off_grid}"));
                    }
                }
            }
        }
    }
}
