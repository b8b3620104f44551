//! The one seeded generator of the tests: a xorshift64 stream (shifts 13, 7, 17), the same
//! natively and in Chromium. Native tests reach it as `common::Rng` (tests/common/mod.rs), the
//! browser tests `#[path]`-include this file. Plain Rust, no dependency: a seed gives the same
//! values on every platform and build.
#![allow(dead_code)]

/// xorshift64. `Rng(state)` starts from a state as given (nonzero: zero stays zero);
/// `Rng::new(seed)` takes any seed.
pub struct Rng(pub u64);

impl Rng {
    /// From any seed, 0 and small ones included: the seed is first spread over the 64 bits (a
    /// multiply by 2^64/phi, odd, so distinct seeds give distinct states) and made nonzero.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next state (never 0 for a nonzero seed).
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform enough in 0..n for test inputs (`next() % n`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// In [0, 1), from the top 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `n` bytes, the low byte of each state.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// int8 values with the extremes -128 and 127 often.
    pub fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n)
            .map(|_| match self.next() % 8 {
                0 => -128,
                1 => 127,
                _ => self.next() as i8,
            })
            .collect()
    }

    /// Floats over a wide range (2^-8..2^8), both signs.
    pub fn f32s(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let x = self.next();
                let v =
                    f32::from_bits((x >> 41) as u32 | 0x3f80_0000) * 2f32.powi((x % 16) as i32 - 8);
                if x & (1 << 20) == 0 {
                    v
                } else {
                    -v
                }
            })
            .collect()
    }

    /// Activations spread evenly over about ±10.
    pub fn activations(&mut self, n: usize) -> Vec<f32> {
        self.bytes(n)
            .iter()
            .map(|&b| (b as f32 - 127.5) / 13.0)
            .collect()
    }
}

/// `n` bytes from the stream seeded with `seed`.
pub fn bytes(n: usize, seed: u64) -> Vec<u8> {
    Rng::new(seed).bytes(n)
}

/// `n` activations (about ±10) from the stream seeded with `seed`.
pub fn activations(n: usize, seed: u64) -> Vec<f32> {
    Rng::new(seed).activations(n)
}
