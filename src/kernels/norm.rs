//! RMSNorm as ggml computes it (fixtures README item 5): squares in f32 summed in f64,
//! `mean = (float)(sum/n)`, `scale = 1/sqrtf(mean + eps)`, output `(x*scale)*gamma` in f32.

/// `out = rmsnorm(x) * gamma`.
pub fn rmsnorm(x: &[f32], gamma: &[f32], eps: f32, out: &mut [f32]) {
    let scale = rms_scale(x, eps);
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(gamma) {
        *o = (v * scale) * g;
    }
}

/// In-place variant: `x = rmsnorm(x) * gamma`.
pub fn rmsnorm_inplace(x: &mut [f32], gamma: &[f32], eps: f32) {
    let scale = rms_scale(x, eps);
    for (v, &g) in x.iter_mut().zip(gamma) {
        *v = (*v * scale) * g;
    }
}

/// `1/sqrt(mean(x^2) + eps)` with ggml's precision.
pub fn rms_scale(x: &[f32], eps: f32) -> f32 {
    let mut sum = 0f64;
    for &v in x {
        sum += (v * v) as f64;
    }
    let mean = (sum / x.len() as f64) as f32;
    1.0 / (mean + eps).sqrt()
}

/// Root mean square of `x` (for the activation probe; plain f64).
pub fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    let sum: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    (sum / x.len() as f64).sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn rmsnorm_values() {
        let x = [3.0f32, -4.0];
        let mut out = [0f32; 2];
        rmsnorm(&x, &[1.0, 2.0], 0.0, &mut out);
        // mean(x^2) = 12.5
        let s = 1.0 / 12.5f32.sqrt();
        assert_eq!(out, [3.0 * s, -4.0 * s * 2.0]);
        assert!((rms(&x) - 12.5f32.sqrt()).abs() < 1e-6);
    }
}
