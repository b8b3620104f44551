//! simd128 int8 quantization of activations: `act::quantize_i8_row`'s bits.

use core::arch::wasm32::*;

use crate::kernels::act::{self, i8_scale, i8_value};

/// `act::quantize_i8_row` sixteen values at a time. The max on the bits, as the scalar code
/// takes it (the max does not depend on the order). The values: multiply and round to nearest
/// even as the scalar code; the saturating conversion to i32 and the two saturating narrowings
/// give its clamp to [-128, 127] (and 0 for NaN).
pub fn quantize_i8_row(x: &[f32], q: &mut [i8]) -> f32 {
    assert_eq!(x.len(), q.len(), "quantize_i8_row lengths");
    let whole = x.len() / 16 * 16;
    let (body, tail) = x.split_at(whole);
    // The max as `act::abs_max` takes it, on the bits: NaN lanes (above infinity's bits)
    // count as 0.
    let (magnitude, infinity) = (u32x4_splat(0x7fff_ffff), u32x4_splat(0x7f80_0000));
    let mut acc = [u32x4_splat(0); 4];
    for c in body.chunks_exact(16) {
        for (k, a) in acc.iter_mut().enumerate() {
            let bits = v128_and(load4(c, 4 * k), magnitude);
            let finite_or_inf = v128_andnot(bits, u32x4_gt(bits, infinity));
            *a = u32x4_max(*a, finite_or_inf);
        }
    }
    let lanes = u32x4_max(u32x4_max(acc[0], acc[1]), u32x4_max(acc[2], acc[3]));
    let lanes_max = [
        u32x4_extract_lane::<0>(lanes),
        u32x4_extract_lane::<1>(lanes),
        u32x4_extract_lane::<2>(lanes),
        u32x4_extract_lane::<3>(lanes),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let max = f32::from_bits(act::abs_max(tail).to_bits().max(lanes_max));
    let s = i8_scale(max);
    let sv = f32x4_splat(s);
    let (q_body, q_tail) = q.split_at_mut(whole);
    for (c, out) in body.chunks_exact(16).zip(q_body.chunks_exact_mut(16)) {
        let i = [0, 1, 2, 3]
            .map(|k| i32x4_trunc_sat_f32x4(f32x4_nearest(f32x4_mul(load4(c, 4 * k), sv))));
        let v = i8x16_narrow_i16x8(
            i16x8_narrow_i32x4(i[0], i[1]),
            i16x8_narrow_i32x4(i[2], i[3]),
        );
        // SAFETY: `out` holds 16 bytes.
        unsafe { v128_store(out.as_mut_ptr() as *mut v128, v) };
    }
    for (o, &v) in q_tail.iter_mut().zip(tail) {
        *o = i8_value(v, s);
    }
    s
}

/// Four f32 values of `c` from `at` (bounds checked).
#[inline(always)]
fn load4(c: &[f32], at: usize) -> v128 {
    assert!(at + 4 <= c.len());
    // SAFETY: bounds checked above.
    unsafe { v128_load(c.as_ptr().add(at) as *const v128) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// Bit for bit against the scalar reference: lengths with and without a tail, values that
    /// round half to even, saturate, are NaN, infinite or zero.
    #[wasm_bindgen_test]
    fn quantize_i8_row_equals_scalar() {
        let mut rng = crate::kernels::testdata::Rng(0x9e37_79b9_7f4a_7c15);
        for n in [1usize, 15, 16, 17, 100, 2560, 6912] {
            for case in 0..5 {
                let x: Vec<f32> = (0..n)
                    .map(|i| {
                        let r = rng.next();
                        match (case, i % 9) {
                            (1, 0) => f32::NAN,
                            (2, 3) => f32::INFINITY,
                            (2, 4) => f32::NEG_INFINITY,
                            (3, _) => 0.0,
                            (4, _) => (r % 255) as f32 - 127.0 + 0.5,
                            _ => (r as i32 as f32) * 1e-9,
                        }
                    })
                    .collect();
                let (mut want, mut got) = (vec![0i8; n], vec![1i8; n]);
                let s_want = act::quantize_i8_row(&x, &mut want);
                let s_got = quantize_i8_row(&x, &mut got);
                assert_eq!(
                    s_want.to_bits(),
                    s_got.to_bits(),
                    "scale, n {n} case {case}"
                );
                assert_eq!(want, got, "values, n {n} case {case}");
            }
        }
    }
}
