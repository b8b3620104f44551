//! Benchmarks in Chromium, not tests: they print figures and assert nothing about time. Ignored
//! by default so `npm test` skips them; `npm run bench:decode` runs them (release build):
//!   wasm-pack test --release --headless --chrome -- --no-default-features --test web_bench \
//!     -- --include-ignored --nocapture
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/pseudo_random.rs"]
mod pseudo_random;
use pseudo_random::{activations, bytes};

use bitlens::kernels::attention;
use bitlens::kernels::float::{self, DotOrder, FloatType};
use bitlens::kernels::matrix::FloatInput;
use bitlens::kernels::q8::{self, quantize_q8, Block32, QK8};
use bitlens::kernels::{matmul, matvec, simd128, ActScratch, Kernels, Matrix};
use bitlens::model::synthetic::{DIM, FF, LAYERS, VOCAB};
use bitlens::quant::GgmlType;

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

/// (rows, cols) of one layer's projections: q, k, v, o, gate, up, down.
fn projections(dim: usize, kv: usize, ff: usize) -> [(usize, usize); 7] {
    [
        (dim, dim),
        (kv, dim),
        (kv, dim),
        (dim, dim),
        (ff, dim),
        (ff, dim),
        (dim, ff),
    ]
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
    // The head of one step for one column and for the A/B pair's two (rows checked finite).
    let mut up = Vec::new();
    for n in [1, 2] {
        let xs: Vec<f32> = x.iter().cycle().take(n * dim).copied().collect();
        float::scale_up(&xs, &mut up);
        let mut out = vec![0f32; n * ROWS];
        let ms = best_ms(5, || {
            let order = DotOrder::GgmlVecDot;
            simd128::float::matmul_f16_grid::<false>(&w, &xs, &up, dim, order, &mut out)
        });
        say(&format!(
            "F16 head {VOCAB}x{dim} GgmlVecDot, rows checked finite, {n} column(s): simd128 {:.0} ms",
            ms * scale
        ));
    }
    // A BF16 head, or an activation not converted to F16, takes the exact f64 path.
    let wide: Vec<f32> = activations(dim, 3);
    let simd = best_ms(2, || {
        simd128::matvec_float(
            &w,
            FloatType::F16,
            &wide,
            DotOrder::GgmlVecDot,
            &mut row,
            &mut out,
        )
    });
    say(&format!(
        "F16 head {VOCAB}x{dim} GgmlVecDot, F32 activation (f64 fused path): simd128 {:.0} ms",
        simd * scale
    ));

    let (mut scalar, mut simd) = (0.0, 0.0);
    // One column (a decode step), the A/B pair's two, and prefill batches of 8 and 128.
    let mut batches = [(2, 0.0), (8, 0.0), (128, 0.0)];
    for (i, &(rows, cols)) in projections(dim, dim / 4, ff).iter().enumerate() {
        let packed = bytes(rows * cols / 4, 10 + i as u64);
        let x = activations(cols, 20 + i as u64);
        let w = Matrix {
            ty: GgmlType::I2_S,
            data: &packed,
            rows,
            cols,
            scale: 0.5,
            finite: false,
            layout: bitlens::quant::I2sLayout::Plain,
        };
        let mut out = vec![0f32; rows];
        let mut time = |kernels: Kernels, reps: usize| {
            let mut s = ActScratch::with_kernels(kernels);
            best_ms(reps, || {
                matvec(&w, &x, &mut s, FloatInput::VEC_DOT, &mut out)
            })
        };
        scalar += time(Kernels::SCALAR, 3);
        simd += time(Kernels::best(), 5);
        for (n, ms) in batches.iter_mut() {
            let xs: Vec<f32> = x.iter().cycle().take(*n * cols).copied().collect();
            let mut out = vec![0f32; *n * rows];
            let mut s = ActScratch::with_kernels(Kernels::best());
            *ms += best_ms(5, || matmul(&w, &xs, &mut s, FloatInput::VEC_DOT, &mut out));
        }
    }
    say(&format!(
        "I2_S projections of one layer (q k v o gate up down): scalar {scalar:.1} ms, {} {simd:.2} ms; x {LAYERS} layers: {:.0} ms",
        Kernels::best().name,
        simd * LAYERS as f64
    ));
    for (n, ms) in batches {
        say(&format!(
            "I2_S projections of one layer, {n} columns: {} {ms:.2} ms ({:.2} ms per column)",
            Kernels::best().name,
            ms / n as f64
        ));
    }
}

/// The I2_S products of eight layers (139 MB, past the caches) streamed from memory as a decode
/// step reads them, for one column and the A/B pair's two: the figure that counts (a layer's
/// products alone sit in the L3 cache and flatter a kernel).
#[wasm_bindgen_test]
#[ignore]
fn bench_i2s_stream() {
    const STREAMED_LAYERS: u64 = 8;
    let (dim, ff) = (DIM as usize, FF as usize);
    let projs = projections(dim, dim / 4, ff);
    let packed: Vec<Vec<u8>> = (0..STREAMED_LAYERS)
        .flat_map(|l| {
            (0..projs.len()).map(move |i| {
                let (rows, cols) = projs[i];
                bytes(rows * cols / 4, 100 * l + i as u64)
            })
        })
        .collect();
    let bytes_total: usize = packed.iter().map(Vec::len).sum();
    for n in [1, 2] {
        let xs: Vec<Vec<f32>> = projs
            .iter()
            .enumerate()
            .map(|(i, &(_, cols))| activations(n * cols, 20 + i as u64))
            .collect();
        let mut s = ActScratch::with_kernels(Kernels::best());
        let ms = best_ms(5, || {
            for (j, data) in packed.iter().enumerate() {
                let (rows, cols) = projs[j % projs.len()];
                let w = Matrix {
                    ty: GgmlType::I2_S,
                    data,
                    rows,
                    cols,
                    scale: 0.5,
                    finite: false,
                    layout: bitlens::quant::I2sLayout::Plain,
                };
                let mut out = vec![0f32; n * rows];
                matmul(
                    &w,
                    &xs[j % projs.len()],
                    &mut s,
                    FloatInput::VEC_DOT,
                    &mut out,
                );
            }
        });
        say(&format!(
            "I2_S projections of {STREAMED_LAYERS} layers streamed from memory ({:.0} MB), {n} column(s): {} {ms:.1} ms, {:.2} GB/s",
            bytes_total as f64 / 1e6,
            Kernels::best().name,
            bytes_total as f64 / ms / 1e6
        ));
    }
    // The same products on rows interleaved by groups (`ternary::interleave_i2s_rows`): each
    // group read as one stream.
    #[cfg(target_feature = "relaxed-simd")]
    {
        use bitlens::kernels::ternary::{i8_sum, interleave_i2s_rows, I8Cols, I2S_ROW_GROUP};
        let mut packed = packed;
        for (j, data) in packed.iter_mut().enumerate() {
            interleave_i2s_rows(data, projs[j % projs.len()].1 / 4);
        }
        for n in [1, 2] {
            let qs: Vec<Vec<i8>> = projs
                .iter()
                .enumerate()
                .map(|(i, &(_, cols))| {
                    bytes(n * cols, 30 + i as u64)
                        .iter()
                        .map(|&b| b as i8)
                        .collect()
                })
                .collect();
            let sums: Vec<Vec<i32>> = projs
                .iter()
                .zip(&qs)
                .map(|(&(_, cols), q)| q.chunks_exact(cols).map(i8_sum).collect())
                .collect();
            let scales = vec![1f32; n];
            let ms = best_ms(5, || {
                for (j, data) in packed.iter().enumerate() {
                    let i = j % projs.len();
                    let (rows, cols) = projs[i];
                    let act = I8Cols {
                        q: &qs[i],
                        scales: &scales,
                        sums: &sums[i],
                        cols,
                        q16: &[],
                    };
                    let mut out = vec![0f32; n * rows];
                    simd128::ternary::matmul_i2s_relaxed_interleaved(data, 0.5, &act, &mut out);
                }
            });
            say(&format!(
                "I2_S projections of {STREAMED_LAYERS} layers streamed from memory, rows interleaved by {I2S_ROW_GROUP}, {n} column(s): {ms:.1} ms, {:.2} GB/s",
                bytes_total as f64 / ms / 1e6
            ));
        }
    }
}

/// The int8 quantization of one activation (2560 values), as every I2_S product does it:
/// scalar against this build's kernel.
#[wasm_bindgen_test]
#[ignore]
fn bench_quantize_i8() {
    let x = activations(DIM as usize, 5);
    let mut q = vec![0i8; x.len()];
    let mut acc = 0f32;
    let mut time = |kernels: Kernels| {
        // 1000 rows a pass: microseconds per row.
        best_ms(5, || {
            for _ in 0..1000 {
                acc += (kernels.quantize_i8)(&x, &mut q);
            }
        })
    };
    let (scalar, simd) = (time(Kernels::SCALAR), time(Kernels::best()));
    say(&format!(
        "int8 quantization of {DIM} values: scalar {scalar:.2} us, {} {simd:.2} us",
        Kernels::best().name
    ));
}

/// One layer's attention products at 2B-4T's shapes (20 heads of 128, 5 KV heads) over 1024
/// cached positions, in a decode step's orders: q·k per cell, p·V over the cells.
#[wasm_bindgen_test]
#[ignore = "benchmark: npm run bench:decode"]
fn bench_2b4t_attention() {
    const N: usize = 1024;
    let (heads, kv_heads, hd) = (20usize, 5usize, 128usize);
    let kv_dim = kv_heads * hd;
    let f16s = |n: usize, seed: u64| -> Vec<half::f16> {
        activations(n, seed)
            .iter()
            .map(|&v| half::f16::from_f32(v * 0.1))
            .collect()
    };
    let (k, v) = (f16s(N * kv_dim, 60), f16s(N * kv_dim, 61));
    let q: Vec<f32> = f16s(hd, 62).iter().map(|h| h.to_f32()).collect();
    // Probabilities rounded to F16, as in a decode step.
    let p: Vec<f32> = f16s(N, 63)
        .iter()
        .map(|h| half::f16::from_f32(h.to_f32().abs() * 0.01).to_f32())
        .collect();
    let order = DotOrder::GgmlVecDot;
    let mut att = vec![0f32; N];
    let mut out = vec![0f32; hd];
    let scalar = best_ms(2, || {
        for h in 0..heads {
            let base = h / (heads / kv_heads) * hd;
            attention::kq_scores(order, &k, kv_dim, base, &q, 1.0, &mut att);
            attention::kqv(order, &v, kv_dim, base, &p, &mut out);
        }
    });
    let kq = best_ms(12, || {
        for h in 0..heads {
            let base = h / (heads / kv_heads) * hd;
            simd128::attention::kq_scores(order, &k, kv_dim, base, &q, 1.0, &mut att);
        }
    });
    let kqv = best_ms(12, || {
        for h in 0..heads {
            let base = h / (heads / kv_heads) * hd;
            simd128::attention::kqv(order, &v, kv_dim, base, &p, &mut out);
        }
    });
    let simd = kq + kqv;
    // The four query heads of a KV head together, as `attend` takes them on one thread.
    let group = heads / kv_heads;
    let qs: Vec<f32> = q.iter().cycle().take(group * hd).copied().collect();
    let ps: Vec<f32> = p.iter().cycle().take(group * N).copied().collect();
    let (mut atts, mut outs) = (vec![0f32; group * N], vec![0f32; group * hd]);
    let kq4 = best_ms(12, || {
        for kvh in 0..kv_heads {
            let base = kvh * hd;
            simd128::attention::kq_scores_heads(order, &k, kv_dim, base, &qs, hd, 1.0, &mut atts);
        }
    });
    let kqv4 = best_ms(12, || {
        for kvh in 0..kv_heads {
            let base = kvh * hd;
            attention::kqv_heads(order, &v, kv_dim, base, group, &ps, &mut outs);
        }
    });
    // A prompt's tokens (a multi-token decode): bitnet.cpp multiplies V by F32 probabilities.
    let p32: Vec<f32> = p.iter().map(|&v| v * (1.0 + 1e-4)).collect();
    let kqv32 = best_ms(4, || {
        for h in 0..heads {
            let base = h / (heads / kv_heads) * hd;
            simd128::attention::kqv(DotOrder::TinyBlas, &v, kv_dim, base, &p32, &mut out);
        }
    });
    say(&format!(
        "p·V of one layer at {N} positions with F32 probabilities (a prompt's, tinyBLAS order): simd128 {kqv32:.2} ms"
    ));
    say(&format!(
        "attention products of one layer at {N} positions (q·k, p·V): scalar {scalar:.1} ms, simd128 head by head {simd:.1} ms (q·k {kq:.2}, p·V {kqv:.2}), {group} heads at a time {:.1} ms (q·k {kq4:.2}, p·V {kqv4:.2}); x {LAYERS} layers: {:.0} ms",
        kq4 + kqv4,
        (kq4 + kqv4) * LAYERS as f64
    ));
}

/// SmolLM2-135M's matrices (30 layers of Q4_1 projections, 576 wide, n_ff 1536, 3 KV heads
/// of 64; the tied 49152-row Q8_0 head), scalar against simd128.
#[wasm_bindgen_test]
#[ignore = "benchmark: npm run bench:decode"]
fn bench_smollm2_kernels() {
    let (dim, ff, kv, vocab, layers) = (576usize, 1536usize, 192usize, 49152usize, 30.0);
    let time = |kind: Block32, rows: usize, cols: usize, seed: u64| {
        let nb = cols / QK8;
        let mut w = bytes(rows * nb * kind.bytes(), seed);
        // Sane F16 block scales (random bytes would give infinities and NaNs).
        for blk in w.chunks_exact_mut(kind.bytes()) {
            blk[..2].copy_from_slice(&half::f16::from_f32(0.001).to_le_bytes());
            blk[2..4].copy_from_slice(&half::f16::from_f32(-0.01).to_le_bytes());
        }
        let x = activations(cols, seed + 1);
        let (mut q, mut d, mut s) = (vec![0i8; cols], vec![0f32; nb], vec![0f32; nb]);
        quantize_q8(&x, &mut q, &mut d, &mut s);
        let mut out = vec![0f32; rows];
        let scalar = best_ms(3, || q8::matvec_q8(kind, &w, &q, &d, &s, &mut out));
        let simd = best_ms(5, || simd128::matvec_q8(kind, &w, &q, &d, &s, &mut out));
        (scalar, simd)
    };
    let (mut scalar, mut simd) = (0.0, 0.0);
    for (i, &(rows, cols)) in projections(dim, kv, ff).iter().enumerate() {
        let (a, b) = time(Block32::Q4_1, rows, cols, 40 + i as u64);
        scalar += a;
        simd += b;
    }
    say(&format!(
        "SmolLM2 Q4_1 projections x {layers} layers: scalar {:.1} ms, simd128 {:.1} ms ({:.1}x)",
        scalar * layers,
        simd * layers,
        scalar / simd
    ));
    let (a, b) = time(Block32::Q8_0, vocab, dim, 50);
    say(&format!(
        "SmolLM2 Q8_0 head {vocab}x{dim}: scalar {a:.1} ms, simd128 {b:.1} ms ({:.1}x)",
        a / b
    ));
}

/// Decode at 2B-4T's shapes through `Generator` (the page's path). The full 1.2 GB model does
/// not fit a test bundle, so one- and two-layer models with a 4096-token vocabulary are timed
/// and the result is extrapolated to 30 layers and the 128256-token head (both scale linearly).
/// At a short context, as the page's first tokens.
#[wasm_bindgen_test]
#[ignore = "benchmark: npm run bench:decode"]
fn bench_decode_at_2b4t_shapes() {
    use bitlens::model::synthetic::write_2b4t_shaped;
    use bitlens::model::{Generator, Model, SamplerConfig};
    const V: u64 = 4096;
    const STEPS: usize = 8;
    // The fastest token of each model, the two models' steps interleaved: on a shared machine
    // the other tokens carry other jobs' time.
    let (files, models): (Vec<Vec<u8>>, Vec<Model>) = [1u64, 2]
        .iter()
        .map(|&layers| {
            let mut bytes = Vec::new();
            write_2b4t_shaped(&mut bytes, layers, V).unwrap();
            let model = load_as_the_page_does(&mut bytes);
            (bytes, model)
        })
        .unzip();
    let mut gens: Vec<Generator> = models
        .iter()
        .zip(&files)
        .map(|(m, b)| {
            let mut gen =
                Generator::new(m, m.norms.clone(), 64, SamplerConfig::greedy(), STEPS + 1).unwrap();
            gen.prefill(m, b, &[1, 2]).unwrap();
            // The first token is sampled from the prompt's logits; later ones are decode steps.
            assert!(gen.next_token(m, b).unwrap().is_some());
            gen
        })
        .collect();
    let mut per_token = [f64::INFINITY; 2];
    for _ in 0..STEPS {
        for (i, gen) in gens.iter_mut().enumerate() {
            let t = now();
            let step = gen.next_token(&models[i], &files[i]).unwrap();
            per_token[i] = per_token[i].min(now() - t);
            assert!(step.is_some());
        }
    }
    let layer_ms = (per_token[1] - per_token[0]).max(0.0);
    let rest_ms = per_token[0] - layer_ms; // head over 4096 rows, embedding, final norm
    let head_ms = rest_ms * (VOCAB / V) as f64;
    let full_ms = LAYERS as f64 * layer_ms + head_ms;
    say(&format!(
        "decode at 2B-4T shapes: {layer_ms:.1} ms per layer, head {head_ms:.0} ms \
         ({rest_ms:.1} ms for 4096 rows); {full_ms:.0} ms/token = {:.2} tokens/s \
         (fastest token of 1 and 2 layers: {:.1} and {:.1} ms)",
        1000.0 / full_ms,
        per_token[0],
        per_token[1]
    ));
}

/// A 128-token prompt through one layer at 2B-4T's shapes (the difference between a one- and a
/// two-layer model's prefill, best of three each): what a prompt costs beyond the I2_S products
/// (`bench_2b4t_kernels`' 128-column line) is attention with F32 probabilities, norms, RoPE.
#[wasm_bindgen_test]
#[ignore = "benchmark: npm run bench:decode"]
fn bench_prefill_at_2b4t_shapes() {
    use bitlens::model::synthetic::write_2b4t_shaped;
    use bitlens::model::{Generator, SamplerConfig};
    const V: u64 = 4096;
    const PROMPT: usize = 128;
    let prompt: Vec<u32> = (0..PROMPT as u32)
        .map(|i| 1 + (i * 37) % (V as u32 - 1))
        .collect();
    let mut best = [f64::INFINITY; 2];
    for (i, layers) in [1u64, 2].into_iter().enumerate() {
        let mut bytes = Vec::new();
        write_2b4t_shaped(&mut bytes, layers, V).unwrap();
        let m = load_as_the_page_does(&mut bytes);
        for _ in 0..3 {
            let mut gen =
                Generator::new(&m, m.norms.clone(), PROMPT + 8, SamplerConfig::greedy(), 1)
                    .unwrap();
            let t = now();
            gen.prefill(&m, &bytes, &prompt).unwrap();
            best[i] = best[i].min(now() - t);
        }
    }
    let layer_ms = best[1] - best[0];
    say(&format!(
        "prefill of {PROMPT} tokens at 2B-4T shapes: {layer_ms:.0} ms per layer ({:.2} ms per token-layer; x {LAYERS} layers: {:.1} ms per token); 1 and 2 layers: {:.0} and {:.0} ms",
        layer_ms / PROMPT as f64,
        layer_ms / PROMPT as f64 * LAYERS as f64,
        best[0],
        best[1]
    ));
}

/// The model of a whole file in `bytes`, with its I2_S tensors in the layout the page's buffer
/// holds them in for this build (`quant::layout`).
fn load_as_the_page_does(bytes: &mut [u8]) -> bitlens::model::Model {
    let g = bitlens::gguf::Gguf::parse(bytes).unwrap();
    let layout = bitlens::quant::layout::arrange_for_this_build(&g, bytes);
    bitlens::model::Model::load_in(&g, bytes, layout).unwrap()
}
