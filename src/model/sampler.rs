//! Choosing the next token from the logits: greedy (first maximum wins, as llama.cpp), or
//! temperature with top-k and top-p, after an optional repetition penalty. Seeded, so a run can
//! be repeated; the seed is random (getrandom) when none is given and reported either way.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SamplerConfig {
    /// 0 means greedy.
    pub temperature: f32,
    /// Keep the k most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the smallest set whose probability reaches p (1: all).
    pub top_p: f32,
    /// llama.cpp's repetition penalty (1: off): a recent token's positive logit is divided by
    /// it, a negative one multiplied.
    pub repeat_penalty: f32,
    /// How many recent tokens the penalty looks at.
    pub repeat_last_n: usize,
    /// None: draw one from the OS.
    pub seed: Option<u64>,
}

impl SamplerConfig {
    pub fn greedy() -> SamplerConfig {
        SamplerConfig {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: Some(0),
        }
    }
}

impl Default for SamplerConfig {
    fn default() -> SamplerConfig {
        SamplerConfig {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: None,
        }
    }
}

/// xoshiro256** seeded through SplitMix64: small, fast and the same on every platform.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A random seed from the OS (0 if the OS has none to give, which getrandom reports).
pub fn random_seed() -> u64 {
    getrandom::u64().unwrap_or(0)
}

/// First maximum wins (llama.cpp's greedy sampler).
pub fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best as u32
}

#[derive(Clone, Debug)]
pub struct Sampler {
    pub config: SamplerConfig,
    /// The seed in use (drawn when the config had none).
    pub seed: u64,
    rng: Rng,
    candidates: Vec<(u32, f32)>,
}

impl Sampler {
    pub fn new(config: SamplerConfig) -> Sampler {
        let seed = config.seed.unwrap_or_else(random_seed);
        Sampler {
            config,
            seed,
            rng: Rng::new(seed),
            candidates: Vec::new(),
        }
    }

    /// Starts the random stream again from the seed.
    pub fn reseed(&mut self) {
        self.rng = Rng::new(self.seed);
    }

    /// Picks a token from `logits` (modified in place by the penalty); `history` holds the
    /// tokens so far (prompt and generated).
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        let c = &self.config;
        if c.repeat_penalty != 1.0 && c.repeat_penalty > 0.0 {
            let recent = &history[history.len().saturating_sub(c.repeat_last_n)..];
            let mut seen = std::collections::HashSet::new();
            for &t in recent {
                if (t as usize) < logits.len() && seen.insert(t) {
                    let l = &mut logits[t as usize];
                    *l = if *l > 0.0 {
                        *l / c.repeat_penalty
                    } else {
                        *l * c.repeat_penalty
                    };
                }
            }
        }
        if c.temperature <= 0.0 {
            return argmax(logits);
        }
        let cand = &mut self.candidates;
        cand.clear();
        cand.extend(
            logits
                .iter()
                .enumerate()
                .map(|(i, &l)| (i as u32, l / c.temperature)),
        );
        // Highest first; ties keep the lower id first.
        cand.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if c.top_k > 0 && c.top_k < cand.len() {
            cand.truncate(c.top_k);
        }
        let max = cand[0].1;
        let mut sum = 0f64;
        for x in cand.iter_mut() {
            x.1 = (x.1 - max).exp();
            sum += x.1 as f64;
        }
        for x in cand.iter_mut() {
            x.1 = (x.1 as f64 / sum) as f32;
        }
        if c.top_p < 1.0 {
            let mut cum = 0f32;
            let mut keep = cand.len();
            for (i, x) in cand.iter().enumerate() {
                cum += x.1;
                if cum >= c.top_p {
                    keep = i + 1;
                    break;
                }
            }
            cand.truncate(keep);
        }
        let total: f32 = cand.iter().map(|x| x.1).sum();
        let r = self.rng.next_f32() * total;
        let mut cum = 0f32;
        for x in cand.iter() {
            cum += x.1;
            if r < cum {
                return x.0;
            }
        }
        cand.last().map(|x| x.0).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn greedy_first_max_and_penalty() {
        let mut s = Sampler::new(SamplerConfig::greedy());
        assert_eq!(s.sample(&mut [1.0, 3.0, 3.0, 2.0], &[]), 1);
        let mut c = SamplerConfig::greedy();
        c.repeat_penalty = 2.0;
        let mut s = Sampler::new(c);
        // 3.0 -> 1.5 for the recent token 1; token 2 wins.
        assert_eq!(s.sample(&mut [1.0, 3.0, 2.0], &[1]), 2);
        let mut l = [-1.0f32, 0.5];
        s.sample(&mut l, &[0, 0]);
        assert_eq!(l[0], -2.0);
    }

    #[test]
    fn seeded_sampling_repeats_and_respects_top_k_top_p() {
        let cfg = SamplerConfig {
            temperature: 1.0,
            top_k: 2,
            top_p: 1.0,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: Some(42),
        };
        let logits = [0.0f32, 5.0, 4.9, -3.0, 4.8];
        let draw = |cfg: &SamplerConfig| {
            let mut s = Sampler::new(cfg.clone());
            (0..200)
                .map(|_| s.sample(&mut logits.clone(), &[]))
                .collect::<Vec<_>>()
        };
        let a = draw(&cfg);
        assert_eq!(a, draw(&cfg));
        assert!(a.iter().all(|&t| t == 1 || t == 2));
        assert!(a.contains(&1) && a.contains(&2));
        let mut p = cfg.clone();
        p.top_k = 0;
        p.top_p = 0.3; // token 1 alone has p ~ 0.36
        assert!(draw(&p).iter().all(|&t| t == 1));
        let mut r = Rng::new(7);
        assert!((0..1000)
            .map(|_| r.next_f32())
            .all(|x| (0.0..1.0).contains(&x)));
    }
}
