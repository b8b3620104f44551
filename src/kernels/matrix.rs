//! The one matrix-vector interface: a `Matrix` is a view of a weight tensor's packed bytes in
//! the file, `matvec` quantizes the activation the way the reference engine does for that weight
//! type and calls the type's kernel.

use crate::quant::{GgmlType, I2sLayout};

use super::act::{quantize_q8k, Q8K_BLOCK};
use super::choice::Kernels;
use super::float::{round_to_bf16, round_to_f16, scale_up, DotOrder, FloatType};
use super::par::{split_rows, split_rows_by, MIN_PARALLEL_WEIGHTS};
use super::q8::{quantize_q8, Block32, QK8};
use super::ternary::{self, I8Cols, TQ1_BLOCK_BYTES};
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
    /// F16 data known to hold no infinity or NaN (checked once at load), so the F16 kernel
    /// need not check each row; false when unknown.
    pub finite: bool,
    /// I2_S rows in the row-interleaved layout (`quant::layout`); plain for every other type.
    pub layout: I2sLayout,
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

/// The kernels a model's products run with, and reusable buffers for quantized activations
/// (sized on first use, then reused).
#[derive(Default, Debug)]
pub struct ActScratch {
    /// The kernel table (chosen once: `Kernels::best()` unless a caller picks another).
    pub kernels: Kernels,
    /// Threads for the row-parallel products (0 or 1: the calling thread only; natively only).
    pub threads: usize,
    /// Products of fewer weights run on the calling thread (0: `par::MIN_PARALLEL_WEIGHTS`).
    pub min_parallel_weights: usize,
    q: Vec<i8>,
    /// A batch's I2_S activations.
    i2s: I8Buffers,
    /// A batch's outputs row after row, before they are laid out column after column.
    by_row: Vec<f32>,
    d: Vec<f32>,
    s: Vec<f32>,
    bsums: Vec<i16>,
    xf: Vec<f32>,
    row: Vec<f32>,
}

impl ActScratch {
    /// Buffers for products run with `kernels` (tests and benchmarks compare tables).
    pub fn with_kernels(kernels: Kernels) -> ActScratch {
        ActScratch {
            kernels,
            ..ActScratch::default()
        }
    }

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
            + self.i2s.bytes()
            + 4 * self.by_row.capacity()
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
    matmul(w, x, s, float_input, out);
}

/// `W x` for a batch of columns: `x` holds `n` activations of `w.cols` values one after the
/// other, `out` their `n` results of `w.rows` values. Each column gets exactly `matvec`'s bits;
/// the ternary kernels read each weight byte once for all columns (the A/B pair's two modes, a
/// prompt's tokens), the others one column at a time.
pub fn matmul(w: &Matrix, x: &[f32], s: &mut ActScratch, float_input: FloatInput, out: &mut [f32]) {
    assert!(
        w.cols > 0 && x.len().is_multiple_of(w.cols),
        "matmul input length"
    );
    let n = x.len() / w.cols;
    assert_eq!(out.len(), n * w.rows, "matmul output length");
    let threads = threads_for(w, s);
    let by_column = |s: &mut ActScratch, out: &mut [f32]| {
        for (xc, oc) in x.chunks_exact(w.cols).zip(out.chunks_exact_mut(w.rows)) {
            matvec_one(w, xc, s, float_input, threads, oc);
        }
    };
    match w.ty {
        GgmlType::I2_S => {
            // A group of interleaved rows is one unit of a thread's share.
            let (kernel, group) = match w.layout {
                I2sLayout::Plain => (s.kernels.i2s, 1),
                I2sLayout::RowInterleaved => (
                    s.kernels
                        .i2s_interleaved
                        .unwrap_or(ternary::matmul_i2s_interleaved),
                    ternary::I2S_ROW_GROUP,
                ),
            };
            let act = s.i2s.quantize(x, w.cols, &s.kernels);
            let f = |d: &[u8], o: &mut [f32]| kernel(d, w.scale, &act, o);
            in_row_runs(threads, w, n, group, &mut s.by_row, out, f);
        }
        // One column too where a grid kernel takes F16 (the head of a decode step).
        GgmlType::F16 | GgmlType::BF16 | GgmlType::F32
            if n > 1 || (w.ty == GgmlType::F16 && s.kernels.f16_grid.is_some()) =>
        {
            let elem = float_type(w.ty);
            let xs = float_activation(w.ty, float_input, x, &mut s.xf);
            let order = float_input.order;
            let grid = match w.finite {
                true => s.kernels.f16_grid_finite.or(s.kernels.f16_grid),
                false => s.kernels.f16_grid,
            };
            if let (Some(kernel), FloatType::F16, true) = (grid, elem, float_input.convert) {
                // The columns were rounded to F16 above: the kernel's precondition.
                scale_up(xs, &mut s.row);
                let x_up = &s.row[..];
                let f = |d: &[u8], o: &mut [f32]| kernel(d, xs, x_up, w.cols, order, o);
                return in_row_runs(threads, w, n, 1, &mut s.by_row, out, f);
            }
            // Rows in blocks small enough to stay in cache while every column passes over
            // them: the weights are read from memory once for the batch.
            let float = s.kernels.float;
            let block = (FLOAT_BLOCK_BYTES / (w.cols * elem.bytes())).clamp(1, 64);
            let f = |d: &[u8], o: &mut [f32]| {
                let (mut scratch, mut part) = (Vec::new(), [0f32; 64]);
                let row_bytes = w.cols * elem.bytes();
                for (b, rows) in d.chunks(block * row_bytes).enumerate() {
                    let k = rows.len() / row_bytes;
                    for (c, xc) in xs.chunks_exact(w.cols).enumerate() {
                        float(rows, elem, xc, order, &mut scratch, &mut part[..k]);
                        for (r, &v) in part[..k].iter().enumerate() {
                            o[(b * block + r) * n + c] = v;
                        }
                    }
                }
            };
            in_row_runs(threads, w, n, 1, &mut s.by_row, out, f);
        }
        _ => by_column(s, out),
    }
}

/// Bytes of a block of float rows that every column of a batch runs over in turn (well within
/// a core's L2 cache).
const FLOAT_BLOCK_BYTES: usize = 128 * 1024;

/// Runs `f(rows_data, outputs_by_row)` over runs of `w`'s rows (whole groups of `group` rows,
/// on up to `threads` threads) for a batch of `n` columns, and lays the results out column
/// after column in `out`.
fn in_row_runs(
    threads: usize,
    w: &Matrix,
    n: usize,
    group: usize,
    by_row: &mut Vec<f32>,
    out: &mut [f32],
    f: impl Fn(&[u8], &mut [f32]) + Sync,
) {
    if n == 1 {
        return split_rows_by(threads, w.data, group, out, f);
    }
    grow(by_row, n * w.rows);
    let by_row = &mut by_row[..n * w.rows];
    split_rows_by(threads, w.data, n * group, by_row, f);
    for (r, row) in by_row.chunks_exact(n).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * w.rows + r] = v;
        }
    }
}

fn float_type(ty: GgmlType) -> FloatType {
    match ty {
        GgmlType::F16 => FloatType::F16,
        GgmlType::BF16 => FloatType::BF16,
        _ => FloatType::F32,
    }
}

/// The activation columns `x` as a float weight of type `ty` meets them: converted to F16 or
/// BF16 (into `buf`) where the engine converts, else as they are.
fn float_activation<'a>(
    ty: GgmlType,
    float_input: FloatInput,
    x: &'a [f32],
    buf: &'a mut Vec<f32>,
) -> &'a [f32] {
    match (float_input.convert, ty) {
        (false, _) | (_, GgmlType::F32) => x,
        (true, ty) => {
            grow(buf, x.len());
            let round = if ty == GgmlType::F16 {
                round_to_f16
            } else {
                round_to_bf16
            };
            round(x, &mut buf[..x.len()]);
            &buf[..x.len()]
        }
    }
}

/// Threads for a product of `w` (small products stay on the calling thread).
fn threads_for(w: &Matrix, s: &ActScratch) -> usize {
    let min_weights = match s.min_parallel_weights {
        0 => MIN_PARALLEL_WEIGHTS,
        n => n,
    };
    if w.rows * w.cols < min_weights {
        1
    } else {
        s.threads
    }
}

/// The int8 activations of a batch for I2_S products (`ternary::I8Cols`), reused.
#[derive(Default, Debug)]
struct I8Buffers {
    q: Vec<i8>,
    scales: Vec<f32>,
    sums: Vec<i32>,
    q16: Vec<i16>,
}

impl I8Buffers {
    /// The columns of `x` (`cols` values each) quantized each on its own by `kernels`' int8
    /// quantization (values, scale, sum; the plane-scaled i16 form when its I2_S kernel wants
    /// it).
    fn quantize(&mut self, x: &[f32], cols: usize, kernels: &Kernels) -> I8Cols<'_> {
        let wants_q16 = kernels.i2s_q16;
        let n = x.len() / cols;
        grow(&mut self.q, n * cols);
        grow(&mut self.scales, n);
        grow(&mut self.sums, n);
        if wants_q16 {
            grow(&mut self.q16, n * cols);
        }
        for (c, xc) in x.chunks_exact(cols).enumerate() {
            let q = &mut self.q[c * cols..(c + 1) * cols];
            self.scales[c] = (kernels.quantize_i8)(xc, q);
            self.sums[c] = ternary::i8_sum(q);
            if wants_q16 {
                ternary::plane_scaled_i16(q, &mut self.q16[c * cols..(c + 1) * cols]);
            }
        }
        I8Cols {
            q: &self.q[..n * cols],
            scales: &self.scales[..n],
            sums: &self.sums[..n],
            cols,
            q16: if wants_q16 {
                &self.q16[..n * cols]
            } else {
                &[]
            },
        }
    }

    fn bytes(&self) -> usize {
        self.q.capacity()
            + 4 * (self.scales.capacity() + self.sums.capacity())
            + 2 * self.q16.capacity()
    }
}

/// `out = W x` for one column of a weight of any type but I2_S.
fn matvec_one(
    w: &Matrix,
    x: &[f32],
    s: &mut ActScratch,
    float_input: FloatInput,
    threads: usize,
    out: &mut [f32],
) {
    let rows = |f: &(dyn Fn(&[u8], &mut [f32]) + Sync), out: &mut [f32]| {
        split_rows(threads, w.data, out, f)
    };
    let k = s.kernels;
    match w.ty {
        GgmlType::TQ1_0 | GgmlType::TQ2_0 => {
            let (q, d, bsums) = s.q8k(x);
            if w.ty == GgmlType::TQ2_0 {
                rows(&|data, o| (k.tq2)(data, q, d, bsums, o), out);
            } else {
                let tq1 = ternary::tq1_block_dot;
                rows(
                    &|data, o| ternary::matvec_tq(data, TQ1_BLOCK_BYTES, tq1, q, d, o),
                    out,
                );
            }
        }
        GgmlType::F16 | GgmlType::BF16 | GgmlType::F32 => {
            let elem = float_type(w.ty);
            let xs = float_activation(w.ty, float_input, x, &mut s.xf);
            let order = float_input.order;
            if threads <= 1 {
                (k.float)(w.data, elem, xs, order, &mut s.row, out);
            } else {
                rows(
                    &|d, o| (k.float)(d, elem, xs, order, &mut Vec::new(), o),
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
            rows(&|data, o| (k.q8)(kind, data, q, d, sums, o), out);
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

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A batch gives each column exactly the bits of its own `matvec`, for every weight type
    /// and with the rows split over threads (natively).
    #[test]
    fn matmul_is_matvec_per_column() {
        let mut rng = crate::kernels::testdata::Rng(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next();
        let (rows, cols, n) = (70, 512, 3);
        let x: Vec<f32> = (0..n * cols)
            .map(|_| (next() % 20001) as f32 / 5000.0 - 2.0)
            .collect();
        for ty in [
            GgmlType::I2_S,
            GgmlType::F16,
            GgmlType::BF16,
            GgmlType::F32,
            GgmlType::Q8_0,
            GgmlType::TQ2_0,
        ] {
            let bytes = match ty {
                GgmlType::I2_S => rows * cols / 4,
                _ => ty.tensor_bytes(cols as u64, (rows * cols) as u64).unwrap() as usize,
            };
            // Every I2_S byte; finite values elsewhere (bytes below 0x3c keep F16, BF16 and
            // F32 exponents and the blocks' F16 scales away from all ones).
            let data: Vec<u8> = (0..bytes)
                .map(|_| match ty {
                    GgmlType::I2_S => next() as u8,
                    _ => (next() % 0x3c) as u8,
                })
                .collect();
            let w = Matrix {
                ty,
                data: &data,
                rows,
                cols,
                scale: 0.25,
                finite: false,
                layout: I2sLayout::Plain,
            };
            for (threads, fi) in [(1, FloatInput::VEC_DOT), (3, FloatInput::TINYBLAS_F32)] {
                let mut s = ActScratch {
                    threads,
                    min_parallel_weights: 1,
                    ..ActScratch::default()
                };
                let mut batch = vec![0f32; n * rows];
                matmul(&w, &x, &mut s, fi, &mut batch);
                for (c, xc) in x.chunks_exact(cols).enumerate() {
                    let mut one = vec![0f32; rows];
                    matvec(&w, xc, &mut ActScratch::default(), fi, &mut one);
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&batch[c * rows..(c + 1) * rows]),
                        bits(&one),
                        "{ty} column {c}, {threads} threads"
                    );
                }
            }
        }
    }

    /// I2_S rows in the row-interleaved layout give the plain rows' bits, for one to five
    /// columns and with the row groups split over threads (natively).
    #[test]
    fn interleaved_i2s_matmul_is_the_plain_one() {
        let mut rng = crate::kernels::testdata::Rng(0x5bd1_e995);
        let mut next = move || rng.next();
        let (rows, cols) = (72, 2560);
        let plain: Vec<u8> = (0..rows * cols / 4).map(|_| next() as u8).collect();
        let mut interleaved = plain.clone();
        ternary::interleave_i2s_rows(&mut interleaved, cols / 4);
        let matrix = |data, layout| Matrix {
            ty: GgmlType::I2_S,
            data,
            rows,
            cols,
            scale: 0.25,
            finite: false,
            layout,
        };
        for n in 1..=5 {
            let x: Vec<f32> = (0..n * cols)
                .map(|_| (next() % 20001) as f32 / 5000.0 - 2.0)
                .collect();
            for threads in [1, 3] {
                let mut s = ActScratch {
                    threads,
                    min_parallel_weights: 1,
                    ..ActScratch::default()
                };
                let (mut want, mut got) = (vec![0f32; n * rows], vec![0f32; n * rows]);
                let fi = FloatInput::VEC_DOT;
                matmul(&matrix(&plain, I2sLayout::Plain), &x, &mut s, fi, &mut want);
                let w = matrix(&interleaved, I2sLayout::RowInterleaved);
                matmul(&w, &x, &mut s, fi, &mut got);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{n} columns, {threads} threads");
            }
        }
    }
}
