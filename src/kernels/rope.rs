//! Rotary position embedding with ggml's numerics (fixtures README item 4): `theta_scale =
//! powf(base, -2/n_rot)` in f32; each pair's angle is the previous one times `theta_scale`
//! starting from `(float)pos`; `cosf`/`sinf`; the rotation is fused:
//! `out0 = fma(x0, cos, -(x1*sin))`, `out1 = fma(x0, sin, x1*cos)`.
//!
//! Natively `f32::cos`/`sin` call the platform libm (glibc `cosf`/`sinf` on Linux, as the
//! reference engines use). On wasm32 they are Rust's port of musl's libm, which can differ from
//! glibc by one ulp for some angles; that moves a rotated value by one ulp at most.

use super::float::fma;

/// The per-pair cosines and sines for position `pos`: `cs[j] = (cos θ_j, sin θ_j)`,
/// `θ_j = pos · theta_scale^j` accumulated in f32.
pub fn rope_cache(pos: usize, n_rot: usize, theta_scale: f32, cs: &mut [(f32, f32)]) {
    let mut theta = pos as f32;
    for c in cs.iter_mut().take(n_rot / 2) {
        *c = (theta.cos(), theta.sin());
        theta *= theta_scale;
    }
}

pub fn theta_scale(base: f32, n_rot: usize) -> f32 {
    base.powf(-2.0 / n_rot as f32)
}

#[inline]
fn rotate(x0: f32, x1: f32, (cos, sin): (f32, f32)) -> (f32, f32) {
    (fma(x0, cos, -(x1 * sin)), fma(x0, sin, x1 * cos))
}

/// NEOX style: in each head of `head_dim`, element i pairs with i + n_rot/2 (i < n_rot/2).
/// Elements from n_rot on are left alone.
pub fn rope_neox(x: &mut [f32], head_dim: usize, n_rot: usize, cs: &[(f32, f32)]) {
    let half = n_rot / 2;
    for head in x.chunks_exact_mut(head_dim) {
        for j in 0..half {
            let (a, b) = rotate(head[j], head[j + half], cs[j]);
            head[j] = a;
            head[j + half] = b;
        }
    }
}

/// Normal (GPT-J / LLaMA GGUF) style: adjacent elements (2j, 2j+1) form a pair.
pub fn rope_norm(x: &mut [f32], head_dim: usize, n_rot: usize, cs: &[(f32, f32)]) {
    for head in x.chunks_exact_mut(head_dim) {
        for j in 0..n_rot / 2 {
            let (a, b) = rotate(head[2 * j], head[2 * j + 1], cs[j]);
            head[2 * j] = a;
            head[2 * j + 1] = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn position_zero_is_identity_and_pairs_are_right() {
        let mut cs = vec![(0f32, 0f32); 2];
        rope_cache(0, 4, theta_scale(10000.0, 4), &mut cs);
        let mut x = [1.0f32, 2.0, 3.0, 4.0];
        rope_neox(&mut x, 4, 4, &cs);
        assert_eq!(x, [1.0, 2.0, 3.0, 4.0]);
        rope_cache(1, 4, theta_scale(10000.0, 4), &mut cs);
        // Pair 0 rotates by 1 radian: NEOX pairs (0, 2).
        let mut x = [1.0f32, 0.0, 0.0, 0.0];
        rope_neox(&mut x, 4, 4, &cs);
        assert_eq!((x[0], x[2]), (1f32.cos(), 1f32.sin()));
        let mut y = [1.0f32, 0.0, 0.0, 0.0];
        rope_norm(&mut y, 4, 4, &cs);
        assert_eq!((y[0], y[1]), (1f32.cos(), 1f32.sin()));
        assert_eq!(theta_scale(10000.0, 4), 0.01);
    }
}
