//! The 32-element block formats of mainline llama.cpp (Q4_0, Q4_1, Q8_0) multiplied against
//! activations quantized to Q8_0 / Q8_1, as its x86 AVX2 build does it:
//! - activation blocks of 32: `d = amax/127` (kept as F16), `q = round_half_even(x · 127/amax)`;
//!   Q8_1 also keeps `s = F16(d · Σq)`;
//! - per weight block, eight exact integer lane sums over groups of four consecutive elements,
//!   each added to its own f32 accumulator as `fma(d_w·d_a, lane, acc)`; the accumulators are
//!   reduced pairwise at the end (Q4_1 adds `Σ m_w·s_a`, summed separately in block order).

use half::f16;

use super::float::{fma, hsum8};

pub const QK8: usize = 32;

/// Q8_0/Q8_1 activations: `q` (32 per block), `d` and `s` per block (as the F16 values stored).
pub fn quantize_q8(x: &[f32], q: &mut [i8], d: &mut [f32], s: &mut [f32]) {
    // With AVX2 where the CPU has it: a rounding instruction instead of a `rintf` call.
    super::with_cpu_features(
        #[inline(always)]
        || quantize_q8_blocks(x, q, d, s),
    )
}

#[inline(always)]
fn quantize_q8_blocks(x: &[f32], q: &mut [i8], d: &mut [f32], s: &mut [f32]) {
    for (b, xb) in x.chunks_exact(QK8).enumerate() {
        let amax = xb.iter().fold(0f32, |m, &v| m.max(v.abs()));
        let db = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        let mut sum = 0i32;
        for (qi, &v) in q[b * QK8..(b + 1) * QK8].iter_mut().zip(xb) {
            let r = (v * id).round_ties_even().clamp(-128.0, 127.0) as i32;
            *qi = r as i8;
            sum += r;
        }
        d[b] = f16::from_f32(db).to_f32();
        s[b] = f16::from_f32(db * sum as f32).to_f32();
    }
}

#[inline]
fn f16_le(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// Eight lanes: lane n sums `w[k]·q[k]` for k in 4n..4n+4.
#[inline]
fn lanes(w: impl Fn(usize) -> i32, q: &[i8]) -> [i32; 8] {
    let mut l = [0i32; 8];
    for (k, &qk) in q.iter().enumerate().take(QK8) {
        l[k / 4] += w(k) * qk as i32;
    }
    l
}

/// The 32-element weight formats `matvec_q8` handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block32 {
    Q4_0,
    Q4_1,
    Q8_0,
}

impl Block32 {
    pub fn bytes(self) -> usize {
        match self {
            Block32::Q4_0 => 18,
            Block32::Q4_1 => 20,
            Block32::Q8_0 => 34,
        }
    }
}

/// `out = W x` for `W` of 32-element blocks, against Q8_0/Q8_1 activations from `quantize_q8`.
pub fn matvec_q8(kind: Block32, packed: &[u8], q: &[i8], d: &[f32], s: &[f32], out: &mut [f32]) {
    let nb = q.len() / QK8;
    let bb = kind.bytes();
    for (r, o) in out.iter_mut().enumerate() {
        let row = &packed[r * nb * bb..(r + 1) * nb * bb];
        let mut acc = [0f32; 8];
        let mut summs = 0f32;
        for (b, blk) in row.chunks_exact(bb).enumerate() {
            let qb = &q[b * QK8..(b + 1) * QK8];
            let dw = f16_le(blk, 0);
            let l = match kind {
                Block32::Q4_0 => {
                    let qs = &blk[2..18];
                    lanes(|k| ((qs[k % 16] >> (4 * (k / 16))) & 15) as i32 - 8, qb)
                }
                Block32::Q4_1 => {
                    let qs = &blk[4..20];
                    summs += f16_le(blk, 2) * s[b];
                    lanes(|k| ((qs[k % 16] >> (4 * (k / 16))) & 15) as i32, qb)
                }
                Block32::Q8_0 => {
                    let qs = &blk[2..34];
                    lanes(|k| qs[k] as i8 as i32, qb)
                }
            };
            let dd = dw * d[b];
            for (a, &lane) in acc.iter_mut().zip(&l) {
                *a = fma(dd, lane as f32, *a);
            }
        }
        *o = hsum8(&acc) + summs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn blocks_dequantize_consistently() {
        // One block of each format against x = 1..32 / 8.
        let x: Vec<f32> = (0..32).map(|i| (i as f32 - 15.5) / 8.0).collect();
        let (mut q, mut d, mut s) = (vec![0i8; 32], [0f32], [0f32]);
        quantize_q8(&x, &mut q, &mut d, &mut s);
        assert_eq!(d[0], f16::from_f32(15.5 / 8.0 / 127.0).to_f32());
        assert_eq!(q[31], 127);
        assert_eq!(q[0], -127);
        // Q8_0 weight = 2 * index-ish values; compare with the float dot of the dequantized
        // weights and activations.
        let mut w8 = vec![0u8; 34];
        w8[..2].copy_from_slice(&f16::from_f32(0.5).to_le_bytes());
        for k in 0..32 {
            w8[2 + k] = (k as i8 - 16) as u8;
        }
        let mut w4 = vec![0u8; 20];
        w4[..2].copy_from_slice(&f16::from_f32(0.25).to_le_bytes());
        w4[2..4].copy_from_slice(&f16::from_f32(-1.0).to_le_bytes());
        for j in 0..16 {
            w4[4 + j] = (j as u8) | ((15 - j as u8) << 4);
        }
        let deq8: Vec<f32> = (0..32).map(|k| 0.5 * (k as f32 - 16.0)).collect();
        let deq41: Vec<f32> = (0..32)
            .map(|k| {
                if k < 16 {
                    0.25 * k as f32 - 1.0
                } else {
                    0.25 * (31 - k) as f32 - 1.0
                }
            })
            .collect();
        let xa: Vec<f32> = q.iter().map(|&v| v as f32 * d[0]).collect();
        let dot = |w: &[f32]| w.iter().zip(&xa).map(|(a, b)| a * b).sum::<f32>();
        let mut out = [0f32];
        matvec_q8(Block32::Q8_0, &w8, &q, &d, &s, &mut out);
        assert!(
            (out[0] - dot(&deq8)).abs() < 1e-3,
            "{} {}",
            out[0],
            dot(&deq8)
        );
        matvec_q8(Block32::Q4_1, &w4, &q, &d, &s, &mut out);
        assert!(
            (out[0] - dot(&deq41)).abs() < 2e-2,
            "{} {}",
            out[0],
            dot(&deq41)
        );
        let mut w40 = w4.clone();
        w40.remove(2);
        w40.remove(2);
        matvec_q8(Block32::Q4_0, &w40, &q, &d, &s, &mut out);
        let deq40: Vec<f32> = (0..32)
            .map(|k| {
                if k < 16 {
                    0.25 * (k as f32 - 8.0)
                } else {
                    0.25 * (23 - k) as f32
                }
            })
            .collect();
        assert!(
            (out[0] - dot(&deq40)).abs() < 1e-3,
            "{} {}",
            out[0],
            dot(&deq40)
        );
    }
}
