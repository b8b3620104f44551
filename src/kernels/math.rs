//! The exponential the reference engines use on x86 (AVX2+FMA builds) for softmax and SiLU.
//!
//! ggml does not call libm's `expf` there: it evaluates a vectorized approximation (the Arm
//! optimized-routines algorithm: range reduction by `n = round(x·log2 e)`, a degree-5
//! polynomial in the remainder, scaling by 2^n; about 1.5 ulp). Computing the same steps in the
//! same order with fused multiply-adds gives the engines' values bit for bit, which matters
//! because a one-ulp difference in a softmax probability can flip an int8 rounding downstream.

use super::float::fma;

/// The steps both builds' vector `expf` share: `z = x·log2(e) + shift` (its low bits hold
/// `n = round(x·log2 e)`), the remainder `b = x − n·ln2` (ln2 split in a high and a low part),
/// `u = b²`, and the polynomial above its linear term, `p = (c5·b + c4)·u + (c3·b + c2)`, so
/// that `exp(x) ≈ 2^n · (1 + c1·b + p·u)`.
struct ExpSteps {
    z: f32,
    n: f32,
    b: f32,
    u: f32,
    p: f32,
}

/// The polynomial's linear coefficient (the others are folded into `ExpSteps::p`).
const EXP_C1: u32 = 0x3f7f_fff6;

#[inline(always)]
fn exp_steps(x: f32) -> ExpSteps {
    let shift = f32::from_bits(0x4b40_0000); // 0x1.8p23: adding it rounds to an integer
    let z = fma(x, f32::from_bits(0x3fb8_aa3b), shift); // log2(e)
    let n = z - shift;
    let b = fma(
        -n,
        f32::from_bits(0x35bf_be8e),
        fma(-n, f32::from_bits(0x3f31_7200), x),
    );
    let u = b * b;
    let c5 = f32::from_bits(0x3c07_2010);
    let c4 = f32::from_bits(0x3d2b_9f17);
    let c3 = f32::from_bits(0x3e2a_af33);
    let c2 = f32::from_bits(0x3eff_fedb);
    let p = fma(fma(c5, b, c4), u, fma(c3, b, c2));
    ExpSteps { z, n, b, u, p }
}

/// ggml's vector `expf` (AVX2 `ggml_v_expf`), one lane at a time.
#[inline]
pub fn expf_ggml(x: f32) -> f32 {
    let ExpSteps { z, n, b, u, p } = exp_steps(x);
    let e = z.to_bits() << 23;
    let k = f32::from_bits(e.wrapping_add(1f32.to_bits())); // 2^n
    let j = fma(p, u, f32::from_bits(EXP_C1) * b);
    if n.abs() <= 126.0 {
        return fma(j, k, k);
    }
    // |n| > 126: 2^n is built from two factors to avoid overflow/underflow in between.
    let g: u32 = if n <= 0.0 { 0x8200_0000 } else { 0 };
    let s1 = f32::from_bits(g.wrapping_add(0x7f00_0000));
    if n.abs() > 192.0 {
        return s1 * s1;
    }
    let s2 = f32::from_bits(e.wrapping_sub(g));
    fma(s2, j, s2) * s1
}

/// SiLU as ggml's AVX2 `ggml_v_silu`: `x / (1 + exp(-x))`.
pub fn silu_ggml(x: f32) -> f32 {
    x / (1.0 + expf_ggml(-x))
}

/// The x86 vector width of the mirrored engine's build. ggml picks its vector `expf`, softmax
/// and float dot products by it at compile time, with different roundings: an AVX-512 build
/// (what llama-cpp-python compiles on an AVX-512 CPU) differs from an AVX2 one in the last bits,
/// enough to flip int8 roundings downstream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Isa {
    #[default]
    Avx2,
    Avx512,
}

impl Isa {
    pub const ALL: [Isa; 2] = [Isa::Avx2, Isa::Avx512];

    /// The name the CLI (`--isa`) and the page use.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The ISA called `name` ("avx2" or "avx512"); the error says what is accepted.
    pub fn from_name(name: &str) -> Result<Isa, String> {
        Isa::ALL
            .into_iter()
            .find(|i| i.name() == name)
            .ok_or_else(|| format!("isa takes avx2 or avx512, not {name:?}"))
    }
}

/// ggml's AVX-512 `ggml_v_expf`, one lane at a time: the same reduction and polynomial as
/// `expf_ggml`, but the 1 is added inside the polynomial and 2^n applied by `scalef` (one
/// rounding, also in the subnormal range); |n| > 192 gives 0 or infinity.
#[inline]
pub fn expf_ggml_avx512(x: f32) -> f32 {
    let ExpSteps { n, b, u, p, .. } = exp_steps(x);
    let j = fma(p, u, fma(f32::from_bits(EXP_C1), b, 1.0));
    if n.abs() > 192.0 {
        return if n <= 0.0 { 0.0 } else { f32::INFINITY };
    }
    // j·2^n is exact in f64 (|n| <= 192); the cast rounds once, as scalef does.
    let pow2 = f64::from_bits(((n as i64 + 1023) as u64) << 52);
    (j as f64 * pow2) as f32
}

/// ggml's vector SiLU in the given build.
pub fn silu_isa(isa: Isa, x: f32) -> f32 {
    match isa {
        Isa::Avx2 => silu_ggml(x),
        Isa::Avx512 => x / (1.0 + expf_ggml_avx512(-x)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn constants_are_the_published_ones() {
        assert_eq!(f32::from_bits(0x4b40_0000), 12582912.0); // 0x1.8p23
        assert_eq!(f32::from_bits(0x3fb8_aa3b), std::f32::consts::LOG2_E); // 0x1.715476p+0
        assert_eq!(f32::from_bits(0x3f31_7200), 0.693_145_75); // 0x1.62e4p-1
    }

    #[test]
    fn close_to_exp_and_handles_extremes() {
        for i in -2000..2000 {
            let x = i as f32 * 0.043;
            let want = (x as f64).exp();
            let got = expf_ggml(x) as f64;
            assert!(
                ((got - want) / want).abs() < 3e-7,
                "x = {x}: {got} vs {want}"
            );
        }
        assert_eq!(expf_ggml(0.0), 1.0);
        assert_eq!(expf_ggml(f32::NEG_INFINITY), 0.0);
        assert_eq!(expf_ggml(-200.0), 0.0);
        assert_eq!(expf_ggml(100.0), f32::INFINITY);
        assert!((silu_ggml(1.0) - 0.731_058_6).abs() < 1e-6);
    }

    #[test]
    fn avx512_expf_is_close_and_differs_from_avx2_in_the_last_bit() {
        let mut differ = 0;
        for i in -2000..2000 {
            let x = i as f32 * 0.043;
            let want = (x as f64).exp();
            let got = expf_ggml_avx512(x);
            assert!(((got as f64 - want) / want).abs() < 3e-7, "x = {x}");
            differ += (got != expf_ggml(x)) as usize;
        }
        assert!(differ > 0, "the two builds' expf should differ somewhere");
        assert_eq!(expf_ggml_avx512(0.0), 1.0);
        assert_eq!(expf_ggml_avx512(-200.0), 0.0);
        assert_eq!(expf_ggml_avx512(f32::NEG_INFINITY), 0.0);
        assert_eq!(expf_ggml_avx512(100.0), f32::INFINITY);
        assert_eq!(silu_isa(Isa::Avx2, 1.5), silu_ggml(1.5));
    }
}
