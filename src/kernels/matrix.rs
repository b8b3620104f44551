//! The one matrix-vector interface: a `Matrix` is a view of a weight tensor's packed bytes in
//! the file, `matvec` quantizes the activation the way the reference engine does for that weight
//! type and calls the type's kernel.

use crate::quant::GgmlType;

use super::act::{quantize_i8_row, quantize_q8k, Q8K_BLOCK};
use super::float::{round_to_bf16, round_to_f16, DotOrder, FloatType};
use super::par::{split_rows, MIN_PARALLEL_WEIGHTS};
use super::q8::{quantize_q8, Block32, QK8};
use super::ternary::{self, TQ1_BLOCK_BYTES};
use crate::quant::dequant::dequantize_rows;

/// A weight matrix of `rows` outputs by `cols` inputs (`ne = [cols, rows]`), borrowed from the
/// file's bytes, still packed.
#[derive(Clone, Copy, Debug)]
pub struct Matrix<'a> {
    pub ty: GgmlType,
    /// The packed data (for I2_S without the 32-byte scale tail).
    pub data: &'a [u8],
    pub rows: usize,
    pub cols: usize,
    /// The per-tensor scale of an I2_S tensor (1 for other types).
    pub scale: f32,
}

/// Weight types `matvec` can multiply.
pub const MATVEC_TYPES: &[GgmlType] = &[
    GgmlType::I2_S,
    GgmlType::TQ1_0,
    GgmlType::TQ2_0,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::F32,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q8_0,
    GgmlType::Q4_K,
    GgmlType::Q6_K,
];

/// Reusable buffers for quantized activations (sized on first use, then reused).
#[derive(Default, Debug)]
pub struct ActScratch {
    /// Threads for the row-parallel products (0 or 1: the calling thread only; natively only).
    pub threads: usize,
    /// Products of fewer weights run on the calling thread (0: `par::MIN_PARALLEL_WEIGHTS`).
    pub min_parallel_weights: usize,
    q: Vec<i8>,
    d: Vec<f32>,
    s: Vec<f32>,
    bsums: Vec<i16>,
    xf: Vec<f32>,
    row: Vec<f32>,
}

impl ActScratch {
    /// `x` quantized to Q8_K (values, block scales, block sums) in the reused buffers.
    fn q8k(&mut self, x: &[f32]) -> (&[i8], &[f32], &[i16]) {
        let (n, nb) = (x.len(), x.len() / Q8K_BLOCK);
        grow(&mut self.q, n);
        grow(&mut self.d, nb);
        grow(&mut self.bsums, nb * 16);
        let (q, d, b) = (
            &mut self.q[..n],
            &mut self.d[..nb],
            &mut self.bsums[..nb * 16],
        );
        quantize_q8k(x, q, d, b);
        (q, d, b)
    }

    /// Bytes held, for memory reports.
    pub fn bytes(&self) -> usize {
        self.q.capacity()
            + 4 * self.d.capacity()
            + 2 * self.bsums.capacity()
            + 4 * (self.xf.capacity() + self.row.capacity())
    }
}

fn grow<T: Default + Clone>(v: &mut Vec<T>, n: usize) {
    if v.len() < n {
        v.resize(n, T::default());
    }
}

/// How F16/BF16/F32 weights meet the activation in the engine being mirrored (fixtures README
/// item 2): ggml either converts the activation to the weight's "vec_dot type" (F16 or BF16)
/// or, in tinyBLAS's multi-column products on bitnet.cpp, keeps it F32; and it sums in
/// ggml's own or in tinyBLAS's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloatInput {
    pub convert: bool,
    pub order: DotOrder,
}

impl FloatInput {
    /// ggml's own `vec_dot` on a converted activation (bitnet.cpp, one token column).
    pub const VEC_DOT: FloatInput = FloatInput {
        convert: true,
        order: DotOrder::GgmlVecDot,
    };
    /// tinyBLAS on a converted activation (mainline x86).
    pub const TINYBLAS_CONVERTED: FloatInput = FloatInput {
        convert: true,
        order: DotOrder::TinyBlas,
    };
    /// tinyBLAS on the F32 activation (bitnet.cpp, two or more token columns).
    pub const TINYBLAS_F32: FloatInput = FloatInput {
        convert: false,
        order: DotOrder::TinyBlas,
    };
}

/// `out = W x` for a weight of any supported type. `x.len() == w.cols`, `out.len() == w.rows`.
pub fn matvec(w: &Matrix, x: &[f32], s: &mut ActScratch, float_input: FloatInput, out: &mut [f32]) {
    assert_eq!(x.len(), w.cols, "matvec input length");
    assert_eq!(out.len(), w.rows, "matvec output length");
    let min_weights = match s.min_parallel_weights {
        0 => MIN_PARALLEL_WEIGHTS,
        n => n,
    };
    let threads = if w.rows * w.cols < min_weights {
        1
    } else {
        s.threads
    };
    let rows = |f: &(dyn Fn(&[u8], &mut [f32]) + Sync), out: &mut [f32]| {
        split_rows(threads, w.data, out, f)
    };
    match w.ty {
        GgmlType::I2_S => {
            grow(&mut s.q, w.cols);
            let q = &mut s.q[..w.cols];
            let scale = quantize_i8_row(x, q);
            let q = &*q;
            rows(&|d, o| i2s_kernel(d, w.scale, q, scale, o), out);
        }
        GgmlType::TQ1_0 | GgmlType::TQ2_0 => {
            let (q, d, bsums) = s.q8k(x);
            if w.ty == GgmlType::TQ2_0 {
                rows(&|data, o| tq2_kernel(data, q, d, bsums, o), out);
            } else {
                let tq1 = ternary::tq1_block_dot;
                rows(
                    &|data, o| ternary::matvec_tq(data, TQ1_BLOCK_BYTES, tq1, q, d, o),
                    out,
                );
            }
        }
        GgmlType::F16 | GgmlType::BF16 | GgmlType::F32 => {
            let elem = match w.ty {
                GgmlType::F16 => FloatType::F16,
                GgmlType::BF16 => FloatType::BF16,
                _ => FloatType::F32,
            };
            let xs = match (float_input.convert, w.ty) {
                (false, _) | (_, GgmlType::F32) => x,
                (true, ty) => {
                    grow(&mut s.xf, w.cols);
                    let round = if ty == GgmlType::F16 {
                        round_to_f16
                    } else {
                        round_to_bf16
                    };
                    round(x, &mut s.xf[..w.cols]);
                    &s.xf[..w.cols]
                }
            };
            let order = float_input.order;
            if threads <= 1 {
                float_kernel(w.data, elem, xs, order, &mut s.row, out);
            } else {
                rows(
                    &|d, o| float_kernel(d, elem, xs, order, &mut Vec::new(), o),
                    out,
                );
            }
        }
        GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0 => {
            let nb = w.cols / QK8;
            grow(&mut s.q, w.cols);
            grow(&mut s.d, nb);
            grow(&mut s.s, nb);
            let (q, d, sums) = (&mut s.q[..w.cols], &mut s.d[..nb], &mut s.s[..nb]);
            quantize_q8(x, q, d, sums);
            let kind = match w.ty {
                GgmlType::Q4_0 => Block32::Q4_0,
                GgmlType::Q4_1 => Block32::Q4_1,
                _ => Block32::Q8_0,
            };
            let (q, d, sums) = (&*q, &*d, &*sums);
            rows(&|data, o| q8_kernel(kind, data, q, d, sums, o), out);
        }
        GgmlType::Q4_K | GgmlType::Q6_K => {
            // Against Q8_K activations as mainline does, but through dequantized weight rows:
            // right to float rounding, not mainline's exact lane order (these types only occur
            // as llama-quantize's embedding/head of TQ files).
            let mut row = std::mem::take(&mut s.row);
            row.resize(w.cols, 0.0);
            let (q, d, _) = s.q8k(x);
            for (r, o) in out.iter_mut().enumerate() {
                dequantize_rows(w.ty, w.data, w.cols, r..r + 1, &mut row)
                    .expect("the loader checked the tensor's size");
                let mut sum = 0f32;
                for (b, (wb, qb)) in row
                    .chunks_exact(Q8K_BLOCK)
                    .zip(q.chunks_exact(Q8K_BLOCK))
                    .enumerate()
                {
                    let part: f32 = wb.iter().zip(qb).map(|(&a, &b)| a * b as f32).sum();
                    sum += part * d[b];
                }
                *o = sum;
            }
            s.row = row;
        }
        other => panic!("matvec: no kernel for {other} (the model loader checks types)"),
    }
}

/// `W x` for a batch of columns: `x` holds `n` activations of `w.cols` values one after the
/// other, `out` their `n` results of `w.rows` values. Each column gets exactly `matvec`'s bits;
/// the point of the batch is that a kernel can read each weight byte once for all columns (the
/// A/B pair's two modes, a prompt's tokens).
pub fn matmul(w: &Matrix, x: &[f32], s: &mut ActScratch, float_input: FloatInput, out: &mut [f32]) {
    assert!(w.cols > 0 && x.len().is_multiple_of(w.cols), "matmul input length");
    let n = x.len() / w.cols;
    assert_eq!(out.len(), n * w.rows, "matmul output length");
    for (xc, oc) in x.chunks_exact(w.cols).zip(out.chunks_exact_mut(w.rows)) {
        matvec(w, xc, s, float_input, oc);
    }
}

// The kernels: simd128 on wasm32 (chosen at compile time), AVX2 on x86-64 (chosen at run time
// inside `x86`), else the scalar references.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use super::simd128::{
    matvec_float as float_kernel, matvec_i2s as i2s_kernel, matvec_q8 as q8_kernel,
    tq2_block_lanes as tq2_lanes,
};
#[cfg(target_arch = "x86_64")]
use super::x86::{
    matvec_float as float_kernel, matvec_i2s as i2s_kernel, matvec_q8 as q8_kernel,
    matvec_tq2 as tq2_kernel,
};

#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
use super::float::matvec_float as float_kernel;
#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
use super::q8::matvec_q8 as q8_kernel;
#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
use ternary::{matvec_i2s as i2s_kernel, tq2_block_lanes as tq2_lanes};

/// TQ2_0 rows through the reference lane order with this target's lane kernel.
#[cfg(not(target_arch = "x86_64"))]
fn tq2_kernel(packed: &[u8], q: &[i8], d: &[f32], bsums: &[i16], out: &mut [f32]) {
    ternary::matvec_tq2_lanes(packed, tq2_lanes, q, d, bsums, out);
}
