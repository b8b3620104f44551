//! Scalar reference kernels for the ternary weight types (shared spec section 3).
//!
//! All three produce exact integer sums per row (I2_S) or per 256-block (TQ*), so any SIMD
//! version must give bit-identical results.

use half::f16;

use super::act::Q8K_BLOCK;
use super::float::{fma, hsum8};

/// Bytes of I2_S packed data per 128-element block.
pub const I2S_BLOCK_BYTES: usize = 32;
/// Elements per I2_S block.
pub const I2S_BLOCK: usize = 128;

/// Sum of the int8 activations: the I2_S codes are stored offset by one (0 = -1, 1 = 0, 2 = +1),
/// so `Σ (code-1)·q = Σ code·q − Σ q`.
pub fn i8_sum(q: &[i8]) -> i32 {
    q.iter().map(|&v| v as i32).sum()
}

/// `Σ code·q` over one I2_S row (`q.len()` elements, a multiple of 128).
pub fn i2s_row_dot(row: &[u8], q: &[i8]) -> i32 {
    let mut sum = 0i32;
    for (blk, qb) in row
        .chunks_exact(I2S_BLOCK_BYTES)
        .zip(q.chunks_exact(I2S_BLOCK))
    {
        for p in 0..32 {
            let b = blk[p] as i32;
            sum += (b >> 6) * qb[p] as i32
                + ((b >> 4) & 3) * qb[32 + p] as i32
                + ((b >> 2) & 3) * qb[64 + p] as i32
                + (b & 3) * qb[96 + p] as i32;
        }
    }
    sum
}

/// I2_S matrix-vector product: `out[r] = (float)(Σ (code-1)·q) / s * w_scale` for each of
/// `out.len()` rows of `q.len()` elements. `packed` is the tensor's packed data (without the
/// scale tail); `s` is the activation scale from `quantize_i8_row`.
pub fn matvec_i2s(packed: &[u8], w_scale: f32, q: &[i8], s: f32, out: &mut [f32]) {
    matvec_i2s_with(i2s_row_dot, packed, w_scale, q, s, out);
}

/// `matvec_i2s` with the row's `Σ code·q` computed by `row_dot` (scalar or SIMD: exact either
/// way, so the float epilogue here gives identical results).
#[inline(always)]
pub fn matvec_i2s_with(
    row_dot: impl Fn(&[u8], &[i8]) -> i32,
    packed: &[u8],
    w_scale: f32,
    q: &[i8],
    s: f32,
    out: &mut [f32],
) {
    let row_bytes = q.len() / 4;
    let qsum = i8_sum(q);
    for (r, o) in out.iter_mut().enumerate() {
        let row = &packed[r * row_bytes..(r + 1) * row_bytes];
        let sumi = row_dot(row, q) - qsum;
        *o = sumi as f32 / s * w_scale;
    }
}

/// The int8 activations of a batch of `n` columns for I2_S products (bitnet.cpp quantizes each
/// token's activation row on its own): `q` holds the columns one after the other, `cols`
/// values each, with each column's scale (`quantize_i8_row`) and `Σ q`.
#[derive(Clone, Copy, Debug)]
pub struct I8Cols<'a> {
    pub q: &'a [i8],
    pub scales: &'a [f32],
    pub sums: &'a [i32],
    pub cols: usize,
    /// `q` widened to i16 and multiplied by `4^plane` (the element's 32-wide plane in its
    /// 128-element block), for the kernels that mask the codes in place (`plane_scaled_i16`);
    /// empty when the chosen kernel does not use it.
    pub q16: &'a [i16],
}

impl I8Cols<'_> {
    pub fn n(&self) -> usize {
        self.scales.len()
    }

    /// Column `c`'s int8 values.
    pub fn col(&self, c: usize) -> &[i8] {
        &self.q[c * self.cols..(c + 1) * self.cols]
    }
}

/// I2_S rows times a batch of columns: `out[r * n + c]` for row `r` of `rows` (the packed bytes
/// of `out.len() / n` whole rows) and column `c` of `act`, each `matvec_i2s`'s value.
pub type I2sMatmul = fn(rows: &[u8], w_scale: f32, act: &I8Cols, out: &mut [f32]);

/// The float epilogue of one I2_S dot product (bitnet.cpp's): the exact `Σ (code-1)·q` as f32,
/// divided by the activation scale, times the weight scale.
#[inline(always)]
pub fn i2s_output(code_dot: i32, q_sum: i32, act_scale: f32, w_scale: f32) -> f32 {
    (code_dot - q_sum) as f32 / act_scale * w_scale
}

/// `I2sMatmul` through a one-row `Σ code·q` function: each row is read from memory once and
/// stays in cache for the other columns.
#[inline(always)]
pub fn i2s_matmul_by_row(
    row_dot: impl Fn(&[u8], &[i8]) -> i32,
    rows: &[u8],
    w_scale: f32,
    act: &I8Cols,
    out: &mut [f32],
) {
    let (n, row_bytes) = (act.n(), act.cols / 4);
    for (row, o) in rows.chunks_exact(row_bytes).zip(out.chunks_exact_mut(n)) {
        for (c, oc) in o.iter_mut().enumerate() {
            *oc = i2s_output(
                row_dot(row, act.col(c)),
                act.sums[c],
                act.scales[c],
                w_scale,
            );
        }
    }
}

/// The scalar reference `I2sMatmul`.
pub fn matmul_i2s(rows: &[u8], w_scale: f32, act: &I8Cols, out: &mut [f32]) {
    i2s_matmul_by_row(i2s_row_dot, rows, w_scale, act, out);
}

/// Rows of an I2_S matrix that the row-interleaved layout takes together.
pub const I2S_ROW_GROUP: usize = 4;

/// Rearranges each whole group of `I2S_ROW_GROUP` I2_S rows (`row_bytes` each) of `data` in
/// place so that the group's 32-byte blocks alternate between its rows: block b of the group's
/// row k lands at `(b·G + k)·32` within the group. A kernel taking a group's rows together then
/// reads one sequential stream: the same rows read side by side ran at half the speed streamed
/// from memory in Chromium (4.4-4.8 GB/s), interleaved at 10.8-12.3 against one row at a time's
/// 9.4-9.9 (`bench_i2s_stream`). A last partial group stays as it is. `deinterleave_i2s_rows`
/// undoes it.
pub fn interleave_i2s_rows(data: &mut [u8], row_bytes: usize) {
    permute_i2s_groups(data, row_bytes, |row, blk, blocks| {
        (blk * I2S_ROW_GROUP + row, row * blocks + blk)
    });
}

/// The inverse of `interleave_i2s_rows`.
pub fn deinterleave_i2s_rows(data: &mut [u8], row_bytes: usize) {
    permute_i2s_groups(data, row_bytes, |row, blk, blocks| {
        (row * blocks + blk, blk * I2S_ROW_GROUP + row)
    });
}

/// Moves every 32-byte block of each whole row group of `data`: `to_from(row, block, blocks)`
/// gives the block's (new, old) index within its group.
fn permute_i2s_groups(
    data: &mut [u8],
    row_bytes: usize,
    to_from: impl Fn(usize, usize, usize) -> (usize, usize),
) {
    if row_bytes == 0 || !row_bytes.is_multiple_of(I2S_BLOCK_BYTES) {
        return;
    }
    let blocks = row_bytes / I2S_BLOCK_BYTES;
    let group_bytes = I2S_ROW_GROUP * row_bytes;
    let mut scratch = vec![0u8; group_bytes];
    for group in data.chunks_exact_mut(group_bytes) {
        scratch.copy_from_slice(group);
        for row in 0..I2S_ROW_GROUP {
            for blk in 0..blocks {
                let (to, from) = to_from(row, blk, blocks);
                group[to * I2S_BLOCK_BYTES..][..I2S_BLOCK_BYTES]
                    .copy_from_slice(&scratch[from * I2S_BLOCK_BYTES..][..I2S_BLOCK_BYTES]);
            }
        }
    }
}

/// `matmul_i2s` for rows in the row-interleaved layout (`interleave_i2s_rows`; whole rows
/// from a group boundary): the reference, each group put back in row order first.
pub fn matmul_i2s_interleaved(rows: &[u8], w_scale: f32, act: &I8Cols, out: &mut [f32]) {
    let (n, row_bytes) = (act.n(), act.cols / 4);
    let group_bytes = I2S_ROW_GROUP * row_bytes;
    let whole = rows.len() / group_bytes * group_bytes;
    let mut plain = rows[..whole].to_vec();
    deinterleave_i2s_rows(&mut plain, row_bytes);
    let (head, tail) = out.split_at_mut(whole / row_bytes * n);
    matmul_i2s(&plain, w_scale, act, head);
    matmul_i2s(&rows[whole..], w_scale, act, tail);
}

/// `q` widened to i16 with each element multiplied by `4^plane` (`I8Cols::q16`): an I2_S byte
/// masked in place holds plane k's code times `4^(3-k)`, so every product is `64·code·q`.
pub fn plane_scaled_i16(q: &[i8], out: &mut [i16]) {
    for (e, (o, &v)) in out.iter_mut().zip(q).enumerate() {
        *o = (v as i16) << (2 * ((e % I2S_BLOCK) / 32));
    }
}

/// Decodes element `e` (0..256) of a TQ2_0 block's `qs` to its code (0..3).
#[inline]
fn tq2_code(qs: &[u8], e: usize) -> i32 {
    ((qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3) as i32
}

pub const TQ2_BLOCK_BYTES: usize = 66;
pub const TQ1_BLOCK_BYTES: usize = 54;

/// The eight integer lane sums of one TQ2_0 block, as mainline's AVX2 `ggml_vec_dot_tq2_0_q8_K`
/// forms them: lane n holds `Σ code·q` over the bytes `4n..4n+4` of each 32-byte chunk of `qs`
/// (all four 2-bit planes, both chunks) minus the sum of `q[32n..32n+32]` (two Q8_K `bsums`).
/// Their total is the block's `Σ (code-1)·q`; the split decides the float rounding after it.
pub fn tq2_block_lanes(blk: &[u8], q: &[i8], bsums: &[i16]) -> [i32; 8] {
    let mut lanes = [0i32; 8];
    for j in 0..2 {
        for l in 0..4 {
            for k in 0..32 {
                let code = ((blk[32 * j + k] >> (2 * l)) & 3) as i32;
                lanes[k / 4] += code * q[128 * j + 32 * l + k] as i32;
            }
        }
    }
    for (n, lane) in lanes.iter_mut().enumerate() {
        *lane -= bsums[2 * n] as i32 + bsums[2 * n + 1] as i32;
    }
    lanes
}

/// A TQ2_0 block's eight integer lane sums (scalar or SIMD).
pub type Tq2LanesFn = fn(&[u8], &[i8], &[i16]) -> [i32; 8];

/// TQ2_0 matrix-vector product against Q8_K activations, in mainline's AVX2 float order: per
/// block each lane adds `(float)lane * (d_a * d_w)` to its own accumulator (fused), then the
/// eight accumulators are reduced pairwise.
pub fn matvec_tq2_lanes(
    packed: &[u8],
    block_lanes: Tq2LanesFn,
    q: &[i8],
    d: &[f32],
    bsums: &[i16],
    out: &mut [f32],
) {
    let n_blocks = q.len() / Q8K_BLOCK;
    let row_bytes = n_blocks * TQ2_BLOCK_BYTES;
    for (r, o) in out.iter_mut().enumerate() {
        let row = &packed[r * row_bytes..(r + 1) * row_bytes];
        let mut acc = [0f32; 8];
        for (b, blk) in row.chunks_exact(TQ2_BLOCK_BYTES).enumerate() {
            let lanes = block_lanes(
                blk,
                &q[b * Q8K_BLOCK..(b + 1) * Q8K_BLOCK],
                &bsums[16 * b..16 * (b + 1)],
            );
            let dw = f16::from_le_bytes([blk[64], blk[65]]).to_f32();
            let dd = d[b] * dw;
            for (a, &lane) in acc.iter_mut().zip(&lanes) {
                *a = fma(lane as f32, dd, *a);
            }
        }
        *o = hsum8(&acc);
    }
}

/// The scalar reference TQ2_0 product in mainline's AVX2 lane order.
pub fn matvec_tq2(packed: &[u8], q: &[i8], d: &[f32], bsums: &[i16], out: &mut [f32]) {
    matvec_tq2_lanes(packed, tq2_block_lanes, q, d, bsums, out);
}

/// `Σ (code-1)·q` over one TQ2_0 block (mainline's generic `ggml_vec_dot_tq2_0_q8_K`).
pub fn tq2_block_dot(blk: &[u8], q: &[i8]) -> i32 {
    let qs = &blk[..64];
    let mut sum = 0i32;
    for (e, &qe) in q.iter().enumerate().take(Q8K_BLOCK) {
        sum += (tq2_code(qs, e) - 1) * qe as i32;
    }
    sum
}

/// The ternary digit `n` (0..5) of a TQ1_0 byte: `((x * 3^n) mod 256 * 3) >> 8`.
#[inline]
fn trit(x: u8, n: u32) -> i32 {
    let q = x.wrapping_mul(3u8.pow(n)) as u16;
    ((q * 3) >> 8) as i32
}

/// `Σ (code-1)·q` over one TQ1_0 block.
pub fn tq1_block_dot(blk: &[u8], q: &[i8]) -> i32 {
    let qs = &blk[..48];
    let qh = &blk[48..52];
    let mut sum = 0i32;
    for (e, &qe) in q.iter().enumerate().take(Q8K_BLOCK) {
        let code = if e < 160 {
            trit(qs[e % 32], (e / 32) as u32)
        } else if e < 240 {
            trit(qs[32 + (e - 160) % 16], ((e - 160) / 16) as u32)
        } else {
            trit(qh[(e - 240) % 4], ((e - 240) / 4) as u32)
        };
        sum += (code - 1) * qe as i32;
    }
    sum
}

/// TQ2_0 / TQ1_0 matrix-vector product against Q8_K activations (`q`, per-block `d`), as
/// mainline does it: per block `sumf += (float)sumi * (d_a * d_w)`, in f32, in block order.
pub fn matvec_tq(
    packed: &[u8],
    block_bytes: usize,
    block_dot: fn(&[u8], &[i8]) -> i32,
    q: &[i8],
    d: &[f32],
    out: &mut [f32],
) {
    let n_blocks = q.len() / Q8K_BLOCK;
    let row_bytes = n_blocks * block_bytes;
    for (r, o) in out.iter_mut().enumerate() {
        let row = &packed[r * row_bytes..(r + 1) * row_bytes];
        let mut sumf = 0f32;
        for (b, blk) in row.chunks_exact(block_bytes).enumerate() {
            let sumi = block_dot(blk, &q[b * Q8K_BLOCK..(b + 1) * Q8K_BLOCK]);
            let dw = f16::from_le_bytes([blk[block_bytes - 2], blk[block_bytes - 1]]).to_f32();
            sumf += sumi as f32 * (d[b] * dw);
        }
        *o = sumf;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Packs codes (0..3) into I2_S layout, 128-element blocks.
    pub(crate) fn pack_i2s(codes: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; codes.len() / 4];
        for (n, &c) in codes.iter().enumerate() {
            let (b, r) = (n / 128, n % 128);
            let (plane, p) = (r / 32, r % 32);
            out[32 * b + p] |= c << (6 - 2 * plane);
        }
        out
    }

    #[test]
    fn i2s_matches_unpacked_dot() {
        let cols = 256;
        let rows = 3;
        let codes: Vec<u8> = (0..rows * cols)
            .map(|i| ((i * 7 + i / 5) % 3) as u8)
            .collect();
        let packed = pack_i2s(&codes);
        let q: Vec<i8> = (0..cols)
            .map(|i| ((i * 37) % 255) as i32 - 127)
            .map(|v| v as i8)
            .collect();
        let mut out = vec![0f32; rows];
        matvec_i2s(&packed, 0.5, &q, 2.0, &mut out);
        for r in 0..rows {
            let want: i32 = (0..cols)
                .map(|c| (codes[r * cols + c] as i32 - 1) * q[c] as i32)
                .sum();
            assert_eq!(out[r], want as f32 / 2.0 * 0.5, "row {r}");
        }
    }

    /// Checks an `I2sMatmul` against the scalar reference bit for bit: rows of every byte
    /// (code 3 included, which never occurs in a valid file but must not overflow), batches of
    /// 1 to 6 columns with extreme activations, several row lengths.
    #[test]
    fn interleaving_i2s_rows_round_trips() {
        let mut rng = crate::kernels::testdata::Rng(77);
        for (rows, cols) in [(4, 128), (9, 256), (8, 2560), (3, 128), (13, 6912)] {
            let row_bytes = cols / 4;
            let plain: Vec<u8> = (0..rows * row_bytes).map(|_| rng.next() as u8).collect();
            let mut data = plain.clone();
            interleave_i2s_rows(&mut data, row_bytes);
            // Block b of a group's row k at (b·4 + k)·32; the last partial group unchanged.
            let blocks = row_bytes / 32;
            for r in 0..rows / 4 * 4 {
                let (g, k) = (r / 4, r % 4);
                for b in 0..blocks {
                    let at = g * 4 * row_bytes + (b * 4 + k) * 32;
                    assert_eq!(data[at..at + 32], plain[r * row_bytes + b * 32..][..32]);
                }
            }
            let tail = rows / 4 * 4 * row_bytes;
            assert_eq!(data[tail..], plain[tail..]);
            deinterleave_i2s_rows(&mut data, row_bytes);
            assert_eq!(data, plain, "{rows} x {cols}");
        }
    }

    #[test]
    fn interleaved_reference_equals_plain() {
        check_matmul_i2s_interleaved(matmul_i2s_interleaved);
    }

    /// `kernel` on interleaved rows gives `matmul_i2s`'s bits on the plain rows (row counts
    /// with and without a partial last group).
    pub(crate) fn check_matmul_i2s_interleaved(kernel: I2sMatmul) {
        let mut rng = crate::kernels::testdata::Rng(0x1234_5678);
        for (rows, cols, n) in [
            (8, 128, 1),
            (4, 2560, 2),
            (11, 2560, 3),
            (12, 6912, 1),
            (6, 384, 5),
        ] {
            let packed: Vec<u8> = (0..rows * cols / 4).map(|_| rng.next() as u8).collect();
            let q: Vec<i8> = (0..n * cols).map(|_| rng.next() as i8).collect();
            let scales: Vec<f32> = (0..n).map(|c| 0.5 + c as f32).collect();
            let sums: Vec<i32> = q.chunks_exact(cols).map(i8_sum).collect();
            let act = I8Cols {
                q: &q,
                scales: &scales,
                sums: &sums,
                cols,
                q16: &[],
            };
            let mut want = vec![0f32; rows * n];
            matmul_i2s(&packed, 0.731, &act, &mut want);
            let mut interleaved = packed.clone();
            interleave_i2s_rows(&mut interleaved, cols / 4);
            let mut got = vec![1f32; rows * n];
            kernel(&interleaved, 0.731, &act, &mut got);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{rows} x {cols}, {n} columns");
        }
    }

    pub(crate) fn check_matmul_i2s(kernel: I2sMatmul) {
        let mut rng = crate::kernels::testdata::Rng(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.next();
        for (cols, n) in [
            (128, 1),
            (256, 2),
            (384, 3),
            (2560, 4),
            (2560, 5),
            (6912, 6),
            (6912, 1),
        ] {
            let rows = 5;
            let packed: Vec<u8> = (0..rows * cols / 4).map(|_| next() as u8).collect();
            let q: Vec<i8> = (0..n * cols)
                .map(|i| match (i / cols, next() % 6) {
                    (1, _) => -128,
                    (2, _) => 127,
                    (_, 0) => -128,
                    (_, 1) => 127,
                    _ => next() as i8,
                })
                .collect();
            let scales: Vec<f32> = (0..n).map(|c| 0.75 + c as f32 * 1.5).collect();
            let sums: Vec<i32> = q.chunks_exact(cols).map(i8_sum).collect();
            let mut q16 = vec![0i16; q.len()];
            for (qc, oc) in q.chunks_exact(cols).zip(q16.chunks_exact_mut(cols)) {
                plane_scaled_i16(qc, oc);
            }
            let act = I8Cols {
                q: &q,
                scales: &scales,
                sums: &sums,
                cols,
                q16: &q16,
            };
            let (mut want, mut got) = (vec![0f32; rows * n], vec![1f32; rows * n]);
            matmul_i2s(&packed, 0.731, &act, &mut want);
            kernel(&packed, 0.731, &act, &mut got);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&want), bits(&got), "cols {cols}, {n} columns");
            // And the reference against the plain definition, one column at a time.
            for (r, row) in packed.chunks_exact(cols / 4).enumerate() {
                for c in 0..n {
                    let mut one = [0f32];
                    matvec_i2s(row, 0.731, act.col(c), scales[c], &mut one);
                    assert_eq!(one[0].to_bits(), want[r * n + c].to_bits());
                }
            }
        }
    }

    #[test]
    fn matmul_i2s_is_matvec_per_column() {
        check_matmul_i2s(matmul_i2s);
    }

    #[test]
    fn tq2_and_tq1_decode_per_spec() {
        // TQ2_0: element e=33 lives in qs[1] bits 2..3; e=200 in qs[32+8] bits 4..5.
        let mut blk = vec![0u8; 66];
        blk[1] = 2 << 2;
        blk[40] = 0x55; // code 1 (weight 0) in all four planes
        let mut q = vec![0i8; 256];
        q[33] = 10;
        q[200] = 3;
        q[8] = 5; // qs[8] = 0 -> code 0 -> -1
                  // e=8: code (qs[8]>>0)&3 = 0 -> -5. e=33: +10. e=200 ((200%128)/32 = 2 -> bits 4..5 of qs[40]) = 1 -> 0.
        assert_eq!(tq2_block_dot(&blk, &q), -5 + 10);
        // TQ1_0: byte for trits (2,1,0,0,0) -> v = 2*81 + 1*27 = 189; byte = (189*256+242)/243.
        let byte = (189u32 * 256).div_ceil(243) as u8;
        assert_eq!((trit(byte, 0), trit(byte, 1), trit(byte, 2)), (2, 1, 0));
        let mut blk1 = vec![0u8; 54];
        // all-ones code would need byte for (1,1,1,1,1) = 121.
        let ones = (121u32 * 256).div_ceil(243) as u8;
        blk1[..52].fill(ones);
        blk1[5] = byte; // elements 5 (trit 0 -> +1), 37 (trit 1 -> 0), 69 (trit 2 -> -1)
        let mut q1 = vec![1i8; 256];
        q1[5] = 7;
        q1[69] = 11;
        // Trits 3 and 4 of that byte (elements 101 and 133) are 0 -> code -1, times q = 1.
        assert_eq!(tq1_block_dot(&blk1, &q1), 7 - 11 - 2);
    }
}
