//! Benchmarks in Chromium, not tests: they print figures and assert nothing about time. Ignored
//! by default so `npm test` skips them; `npm run bench:decode` runs them (release build):
//!   wasm-pack test --release --headless --chrome -- --no-default-features --test web_bench \
//!     -- --include-ignored --nocapture
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

use bitlens::kernels::act::quantize_i8_row;
use bitlens::kernels::float::{self, DotOrder, FloatType};
use bitlens::kernels::{simd128, ternary};
use bitlens::model::synthetic::{DIM, FF, LAYERS, VOCAB};

fn now() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| {
            let f = js_sys::Function::from(js_sys::Reflect::get(&p, &"now".into()).ok()?);
            f.call0(&p).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

fn say(line: &str) {
    console_log!("bench: {line}");
}

/// Milliseconds per call of `f`: the best of `reps` timed calls after one warm-up call.
fn best_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = now();
            f();
            now() - t
        })
        .fold(f64::INFINITY, f64::min)
}

/// Deterministic pseudo-random bytes (xorshift64).
fn bytes(n: usize, seed: u64) -> Vec<u8> {
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

fn activations(n: usize, seed: u64) -> Vec<f32> {
    bytes(n, seed)
        .iter()
        .map(|&b| (b as f32 - 127.5) / 13.0)
        .collect()
}

/// F16 weights of about 0.02, like a trained head.
fn f16_weights(n: usize, seed: u64) -> Vec<u8> {
    activations(n, seed)
        .iter()
        .flat_map(|&v| half::f16::from_f32(v * 0.002).to_le_bytes())
        .collect()
}

/// The F16 head (scalar and simd128, both `vec_dot` widths and tinyBLAS) on 4096 of the
/// 128256 rows, scaled to the full head; the I2_S projections of one layer.
#[wasm_bindgen_test]
#[ignore = "benchmark: npm run bench:decode"]
fn bench_2b4t_kernels() {
    let (dim, ff) = (DIM as usize, FF as usize);
    const ROWS: usize = 4096;
    let scale = VOCAB as f64 / ROWS as f64;
    let w = f16_weights(ROWS * dim, 1);
    let x: Vec<f32> = activations(dim, 2)
        .iter()
        .map(|&v| half::f16::from_f32(v).to_f32())
        .collect();
    let mut row = Vec::new();
    let mut out = vec![0f32; ROWS];
    for order in [
        DotOrder::GgmlVecDot,
        DotOrder::GgmlVecDotAvx512,
        DotOrder::TinyBlas,
    ] {
        let scalar = best_ms(2, || {
            float::matvec_float(&w, FloatType::F16, &x, order, &mut row, &mut out)
        });
        let simd = best_ms(3, || {
            simd128::matvec_float(&w, FloatType::F16, &x, order, &mut row, &mut out)
        });
        say(&format!(
            "F16 head {VOCAB}x{dim} {order:?}: scalar {:.0} ms, simd128 {:.0} ms ({:.1}x)",
            scalar * scale,
            simd * scale,
            scalar / simd
        ));
    }

    // One layer's I2_S projections: q, k, v, o, gate, up, down.
    let kv = dim / 4;
    let shapes = [
        (dim, dim),
        (kv, dim),
        (kv, dim),
        (dim, dim),
        (ff, dim),
        (ff, dim),
        (dim, ff),
    ];
    let (mut scalar, mut simd) = (0.0, 0.0);
    for (i, &(rows, cols)) in shapes.iter().enumerate() {
        let packed = bytes(rows * cols / 4, 10 + i as u64);
        let x = activations(cols, 20 + i as u64);
        let mut q = vec![0i8; cols];
        let s = quantize_i8_row(&x, &mut q);
        let mut out = vec![0f32; rows];
        scalar += best_ms(3, || ternary::matvec_i2s(&packed, 0.5, &q, s, &mut out));
        simd += best_ms(5, || simd128::matvec_i2s(&packed, 0.5, &q, s, &mut out));
    }
    say(&format!(
        "I2_S projections of one layer (q k v o gate up down): scalar {scalar:.1} ms, simd128 {simd:.1} ms; x {LAYERS} layers: {:.0} ms",
        simd * LAYERS as f64
    ));
}

/// Decode at 2B-4T's shapes through `Generator` (the page's path). The full 1.2 GB model does
/// not fit a test bundle, so one- and two-layer models with a 4096-token vocabulary are timed
/// and the result is extrapolated to 30 layers and the 128256-token head (both scale linearly).
#[wasm_bindgen_test]
#[ignore = "benchmark: npm run bench:decode"]
fn bench_decode_at_2b4t_shapes() {
    use bitlens::gguf::Gguf;
    use bitlens::model::synthetic::write_2b4t_shaped;
    use bitlens::model::{Generator, Model, SamplerConfig};
    const V: u64 = 4096;
    const STEPS: usize = 8;
    let mut per_token = Vec::new();
    for layers in [1u64, 2] {
        let mut bytes = Vec::new();
        write_2b4t_shaped(&mut bytes, layers, V).unwrap();
        let g = Gguf::parse(&bytes).unwrap();
        let m = Model::load(&g, &bytes).unwrap();
        let mut gen =
            Generator::new(&m, m.norms.clone(), 64, SamplerConfig::greedy(), STEPS + 1).unwrap();
        gen.clock = now;
        gen.prefill(&m, &bytes, &[1, 2]).unwrap();
        let n = gen.tokens_iter(&m, &bytes).count();
        assert_eq!(n, STEPS + 1);
        assert_eq!(gen.timings.decode_tokens, STEPS);
        per_token.push(gen.timings.decode_ms / STEPS as f64);
    }
    let layer_ms = (per_token[1] - per_token[0]).max(0.0);
    let rest_ms = per_token[0] - layer_ms; // head over 4096 rows, embedding, final norm
    let head_ms = rest_ms * (VOCAB / V) as f64;
    let full_ms = LAYERS as f64 * layer_ms + head_ms;
    say(&format!(
        "decode at 2B-4T shapes: {layer_ms:.1} ms per layer, head {head_ms:.0} ms \
         ({rest_ms:.1} ms for 4096 rows); {full_ms:.0} ms/token = {:.2} tokens/s",
        1000.0 / full_ms
    ));
}
