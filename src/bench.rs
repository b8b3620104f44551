//! Kernel figures on a loaded model's real tensors, for `npm run bench` (the page's
//! `GgufFile.benchKernels`) and `bitlens bench`: one pass of every layer's projections (the
//! ternary product at 2B-4T's shapes), one head product (the F16 head), and a bandwidth probe
//! that sums the file's bytes with 128-bit loads, so the products' GB/s can be read against what
//! the same thread can read in the same run. Timing only: nothing here is asserted.

use serde::Serialize;

use crate::kernels::matrix::{FloatInput, Matrix};
use crate::kernels::par::on_pool;
use crate::kernels::{matvec, ActScratch};
use crate::model::generator::Clock;
use crate::model::Model;

/// The fastest of a few passes over `bytes` bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timed {
    pub bytes: f64,
    pub ms: f64,
    pub gb_per_s: f64,
}

impl Timed {
    fn new(bytes: usize, ms: f64) -> Timed {
        let bytes = bytes as f64;
        Timed {
            bytes,
            ms,
            gb_per_s: if ms > 0.0 { bytes / ms / 1e6 } else { 0.0 },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KernelReport {
    /// Every layer's seven projections, one `matvec` each (I2_S for BitNet b1.58 files).
    pub projections: Timed,
    /// The output head (the tied F16 embedding for 2B-4T).
    pub head: Timed,
    /// The whole file summed with 128-bit loads, four independent accumulators, one thread.
    pub probe: Timed,
    pub passes: usize,
    pub threads: usize,
    /// Folds every output in, so no pass can be optimised away.
    pub checksum: f64,
}

/// Times `passes` (at least 1) passes of each part and keeps the fastest. The products run on
/// `model.threads` threads (natively), the probe on the calling thread.
pub fn kernels(model: &Model, file: &[u8], passes: usize, clock: Clock) -> KernelReport {
    let passes = passes.max(1);
    let w = &model.weights;
    let fi = FloatInput::VEC_DOT;
    let max_cols = w
        .layers
        .iter()
        .flat_map(|l| [l.wo.weight.cols, l.w_down.weight.cols])
        .chain([w.output.cols, model.config.dim])
        .max()
        .unwrap_or(0);
    let max_rows = w
        .layers
        .iter()
        .flat_map(|l| [l.wq.weight.rows, l.w_gate.weight.rows, l.w_up.weight.rows])
        .chain([w.output.rows])
        .max()
        .unwrap_or(0);
    // A fixed activation with both signs and a spread of magnitudes.
    let x: Vec<f32> = (0..max_cols)
        .map(|i| ((i * 7919 % 1013) as f32 - 506.0) / 97.0)
        .collect();
    let mut out = vec![0f32; max_rows];
    let mut act = ActScratch::default();
    act.threads = model.threads;
    let mut checksum = 0f64;
    let product = |m: &Matrix, out: &mut [f32], act: &mut ActScratch| {
        let out = &mut out[..m.rows];
        matvec(m, &x[..m.cols], act, fi, out);
        out[0] as f64 + out[m.rows - 1] as f64
    };

    let projections: Vec<Matrix> = w
        .layers
        .iter()
        .flat_map(|l| [l.wq, l.wk, l.wv, l.wo, l.w_gate, l.w_up, l.w_down])
        .map(|p| p.weight.matrix(file))
        .collect();
    let proj_bytes = projections.iter().map(|m| m.data.len()).sum();
    let head = w.output.matrix(file);

    let mut best = [f64::INFINITY; 3];
    for _ in 0..passes {
        // On the pool's thread, as a forward pass runs them (`par::on_pool`).
        let t0 = clock();
        checksum += on_pool(model.threads, || {
            let each = projections.iter().map(|m| product(m, &mut out, &mut act));
            each.sum::<f64>()
        });
        let t1 = clock();
        checksum += on_pool(model.threads, || product(&head, &mut out, &mut act));
        let t2 = clock();
        checksum += sum_bytes(file) as f64;
        let t3 = clock();
        for (b, ms) in best.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2]) {
            *b = b.min(ms);
        }
    }
    KernelReport {
        projections: Timed::new(proj_bytes, best[0]),
        head: Timed::new(head.data.len(), best[1]),
        probe: Timed::new(file.len(), best[2]),
        passes,
        threads: model.threads.max(1),
        checksum,
    }
}

/// The wrapping sum of `data` read as little-endian u32 lanes (the tail bytes added one by
/// one): the cheapest pass that must load every byte. Four independent 128-bit accumulators so
/// that the adds never wait on each other.
pub fn sum_bytes(data: &[u8]) -> u32 {
    let (blocks, tail) = data.split_at(data.len() / 64 * 64);
    let mut lanes = sum_blocks(blocks);
    for (i, &b) in tail.iter().enumerate() {
        lanes[i % 4] = lanes[i % 4].wrapping_add(b as u32);
    }
    lanes.iter().fold(0u32, |a, &l| a.wrapping_add(l))
}

/// Four lanes of u32 sums over 64-byte blocks (`blocks.len()` is a multiple of 64).
#[cfg(target_arch = "wasm32")]
fn sum_blocks(blocks: &[u8]) -> [u32; 4] {
    use core::arch::wasm32::*;
    let mut acc = [u32x4_splat(0); 4];
    for block in blocks.chunks_exact(64) {
        for (j, a) in acc.iter_mut().enumerate() {
            // SAFETY: 16 bytes at 16 * j < 64 lie inside the block; v128_load is unaligned.
            let v = unsafe { v128_load(block.as_ptr().add(16 * j) as *const v128) };
            *a = i32x4_add(*a, v);
        }
    }
    let s = i32x4_add(i32x4_add(acc[0], acc[1]), i32x4_add(acc[2], acc[3]));
    [0, 1, 2, 3].map(|i| u32x4_extract_lane_dyn(s, i))
}

#[cfg(target_arch = "wasm32")]
fn u32x4_extract_lane_dyn(v: core::arch::wasm32::v128, i: usize) -> u32 {
    use core::arch::wasm32::u32x4_extract_lane;
    match i {
        0 => u32x4_extract_lane::<0>(v),
        1 => u32x4_extract_lane::<1>(v),
        2 => u32x4_extract_lane::<2>(v),
        _ => u32x4_extract_lane::<3>(v),
    }
}

/// The same with SSE2 (every x86-64 CPU has it).
#[cfg(target_arch = "x86_64")]
fn sum_blocks(blocks: &[u8]) -> [u32; 4] {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of x86-64; loads are unaligned and inside the block (16 * j < 64).
    unsafe {
        let mut acc = [_mm_setzero_si128(); 4];
        for block in blocks.chunks_exact(64) {
            for (j, a) in acc.iter_mut().enumerate() {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * j) as *const __m128i);
                *a = _mm_add_epi32(*a, v);
            }
        }
        let s = _mm_add_epi32(_mm_add_epi32(acc[0], acc[1]), _mm_add_epi32(acc[2], acc[3]));
        let mut lanes = [0u32; 4];
        _mm_storeu_si128(lanes.as_mut_ptr() as *mut __m128i, s);
        lanes
    }
}

/// Plain Rust elsewhere.
#[cfg(not(any(target_arch = "wasm32", target_arch = "x86_64")))]
fn sum_blocks(blocks: &[u8]) -> [u32; 4] {
    let mut acc = [[0u32; 4]; 4];
    for block in blocks.chunks_exact(64) {
        for (j, a) in acc.iter_mut().enumerate() {
            for (k, l) in a.iter_mut().enumerate() {
                let at = 16 * j + 4 * k;
                *l = l.wrapping_add(u32::from_le_bytes(block[at..at + 4].try_into().unwrap()));
            }
        }
    }
    [0, 1, 2, 3].map(|k| acc.iter().fold(0u32, |s, a| s.wrapping_add(a[k])))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::sum_bytes;

    #[test]
    fn sum_bytes_is_the_u32_lane_sum() {
        for len in [0usize, 1, 63, 64, 65, 200, 1000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut lanes = [0u32; 4];
            let blocks = len / 64 * 64;
            for (i, c) in data[..blocks].chunks_exact(4).enumerate() {
                let v = u32::from_le_bytes(c.try_into().unwrap());
                lanes[i % 4] = lanes[i % 4].wrapping_add(v);
            }
            for (i, &b) in data[blocks..].iter().enumerate() {
                lanes[i % 4] = lanes[i % 4].wrapping_add(b as u32);
            }
            let want = lanes.iter().fold(0u32, |a, &l| a.wrapping_add(l));
            assert_eq!(sum_bytes(&data), want, "len {len}");
        }
    }
}
