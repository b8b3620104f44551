//! The kernels this build runs on this CPU, chosen once: a table of functions resolved when the
//! first product runs (per process natively, where the CPU's features are detected once; per
//! build on wasm32, where the baseline and relaxed-SIMD builds are separate modules and the page
//! loads the one the browser validates).

use super::ternary::{self, I2sMatmul};

#[derive(Clone, Copy)]
pub struct Kernels {
    /// What was chosen, for status lines and benchmarks: "scalar", "avx2", "simd128",
    /// "simd128+relaxed".
    pub name: &'static str,
    pub i2s: I2sMatmul,
    /// `i2s` reads the plane-scaled i16 activations (`ternary::I8Cols::q16`).
    pub i2s_q16: bool,
}

impl core::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name)
    }
}

impl Kernels {
    /// The scalar references (every build has them; the SIMD kernels are tested against them).
    pub const SCALAR: Kernels = Kernels {
        name: "scalar",
        i2s: ternary::matmul_i2s,
        i2s_q16: false,
    };

    /// The fastest kernels of this build on this CPU.
    pub fn best() -> Kernels {
        #[cfg(target_arch = "x86_64")]
        {
            use std::sync::OnceLock;
            static BEST: OnceLock<Kernels> = OnceLock::new();
            *BEST.get_or_init(|| super::x86::kernels().unwrap_or(Kernels::SCALAR))
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        {
            super::simd128::KERNELS
        }
        #[cfg(not(any(
            target_arch = "x86_64",
            all(target_arch = "wasm32", target_feature = "simd128")
        )))]
        {
            Kernels::SCALAR
        }
    }
}

impl Default for Kernels {
    fn default() -> Kernels {
        Kernels::best()
    }
}
