//! Deterministic test data for the browser tests (`#[path]`-included): xorshift bytes and
//! activations spread over about ±10.
#![allow(dead_code)]

/// Deterministic pseudo-random bytes (xorshift).
pub fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

pub fn activations(n: usize, seed: u64) -> Vec<f32> {
    bytes(n, seed)
        .iter()
        .map(|&b| (b as f32 - 127.5) / 13.0)
        .collect()
}
