//! Activation quantization, exactly as the reference engines do it before their integer dot
//! products.

/// bitnet.cpp's per-row int8 quantization for I2_S matmuls. Returns the scale `s`
/// (`q ≈ x * s`): `s = (float)(127 / max(max|x|, 1e-5))` with the max taken in f64, then
/// `q = round_half_even(x * s)` in f32, clamped to [-128, 127].
pub fn quantize_i8_row(x: &[f32], q: &mut [i8]) -> f32 {
    debug_assert_eq!(x.len(), q.len());
    let s = i8_scale(abs_max(x));
    // With AVX2 where the CPU has it: a rounding instruction instead of a `rintf` call.
    super::with_cpu_features(
        #[inline(always)]
        || {
            for (qi, &v) in q.iter_mut().zip(x) {
                *qi = i8_value(v, s);
            }
        },
    );
    s
}

/// The largest `|x|` that is not NaN (0 if none): the max bitnet.cpp takes in f64, the same
/// value, since widening to f64 is exact and keeps the order. Compared as bits (a non-negative
/// float's order is its bits' order, and NaN's bits are above infinity's): float compares let
/// LLVM use relaxed SIMD's max in the relaxed build, whose result for NaN is left to the CPU.
#[inline(always)]
pub fn abs_max(x: &[f32]) -> f32 {
    const INFINITY_BITS: u32 = 0x7f80_0000;
    let mut max = 0u32;
    for &v in x {
        let bits = v.to_bits() & 0x7fff_ffff;
        if bits <= INFINITY_BITS && bits > max {
            max = bits;
        }
    }
    f32::from_bits(max)
}

/// `quantize_i8_row`'s scale for a row whose largest magnitude is `abs_max`.
#[inline(always)]
pub fn i8_scale(abs_max: f32) -> f32 {
    (127.0 / (abs_max as f64).max(1e-5)) as f32
}

/// `quantize_i8_row`'s value for `v` at scale `s` (0 for NaN). Clamped as an integer: a float
/// clamp let LLVM use relaxed SIMD's min and max in the relaxed build, whose result for NaN is
/// left to the CPU (it gave -128).
#[inline(always)]
pub fn i8_value(v: f32, s: f32) -> i8 {
    ((v * s).round_ties_even() as i32).clamp(-128, 127) as i8
}

/// A row's int8 quantization (`quantize_i8_row`'s contract): values into `q`, returns the scale.
pub type QuantizeI8 = fn(x: &[f32], q: &mut [i8]) -> f32;

/// Elements per Q8_K block (llama.cpp's `QK_K`).
pub const Q8K_BLOCK: usize = 256;

/// llama.cpp's Q8_K quantization (`quantize_row_q8_K_ref`), used for the activations of the
/// TQ1_0/TQ2_0 (and K-quant) dot products. Per 256-element block: `mx` is the first element of
/// largest magnitude, `iscale = -127/mx`, `q = min(127, round_half_even(iscale*x))`,
/// `d = 1/iscale`; an all-zero block gets `d = 0`. `bsums` holds the sums of each 16 q's.
/// `x.len()` must be a multiple of 256.
pub fn quantize_q8k(x: &[f32], q: &mut [i8], d: &mut [f32], bsums: &mut [i16]) {
    debug_assert_eq!(x.len() % Q8K_BLOCK, 0);
    for (b, xb) in x.chunks_exact(Q8K_BLOCK).enumerate() {
        let qb = &mut q[b * Q8K_BLOCK..(b + 1) * Q8K_BLOCK];
        let mut amax = 0f32;
        let mut mx = 0f32;
        for &v in xb {
            if v.abs() > amax {
                amax = v.abs();
                mx = v;
            }
        }
        if amax == 0.0 {
            d[b] = 0.0;
            qb.fill(0);
        } else {
            let iscale = -127.0f32 / mx;
            super::with_cpu_features(
                #[inline(always)]
                || {
                    for (qi, &v) in qb.iter_mut().zip(xb) {
                        *qi = (iscale * v).round_ties_even().min(127.0) as i8;
                    }
                },
            );
            d[b] = 1.0 / iscale;
        }
        for (j, s) in bsums[b * 16..(b + 1) * 16].iter_mut().enumerate() {
            *s = qb[j * 16..(j + 1) * 16].iter().map(|&v| v as i16).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn i8_row_rounds_half_even_and_clamps() {
        // max |x| = 127 -> s = 1, so the products are the values themselves.
        let x = [127.0f32, -127.0, 0.5, 1.5, 2.5, -2.5];
        let mut q = [0i8; 6];
        let s = quantize_i8_row(&x, &mut q);
        assert_eq!(s, 1.0);
        assert_eq!(q, [127, -127, 0, 2, 2, -2]);
        // A tiny row uses the 1e-5 floor.
        let s = quantize_i8_row(&[1e-7, 0.0, 0.0, 0.0, 0.0, 0.0], &mut q);
        assert_eq!(s, (127.0f64 / 1e-5) as f32);
        assert_eq!(q[0], 1);
    }

    #[test]
    fn q8k_uses_first_largest_and_caps_at_127() {
        let mut x = vec![0f32; 256];
        x[3] = -4.0;
        x[7] = 4.0; // same magnitude, later: mx stays -4
        x[10] = 1.0;
        let mut q = vec![0i8; 256];
        let mut d = [0f32; 1];
        let mut bs = [0i16; 16];
        quantize_q8k(&x, &mut q, &mut d, &mut bs);
        // iscale = -127/-4 = 31.75
        assert_eq!(d[0], 1.0 / 31.75);
        assert_eq!((q[3], q[7], q[10]), (-127, 127, 32));
        assert_eq!(bs[0], 32);
        // Largest positive: iscale negative, -(-127) would be 127 anyway; the -128 side can't occur
        // but +128 from the negative-mx sign flip is capped.
        let mut x2 = vec![0f32; 256];
        x2[0] = 2.0;
        quantize_q8k(&x2, &mut q, &mut d, &mut bs);
        assert_eq!(q[0], -127);
        let zeros = vec![0f32; 256];
        quantize_q8k(&zeros, &mut q, &mut d, &mut bs);
        assert_eq!(d[0], 0.0);
    }
}
