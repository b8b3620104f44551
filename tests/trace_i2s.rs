//! Op-by-op check of the kernels against bitnet.cpp's own intermediate tensors
//! (`tests/fixtures/bitnet-b158-tiny-i2_s.trace.json`): each op is fed bitnet.cpp's inputs, so a
//! mismatch points at one op.

use bitlens::gguf::Gguf;
use bitlens::kernels::attention::{attend, attend_scratch, softmax, AttnNumerics, KvLayer};
use bitlens::kernels::float::{dot8_fma, dot_ggml_f16, f16_at, f32_at, DotOrder};
use bitlens::kernels::math::Isa;
use bitlens::kernels::matrix::FloatInput;
use bitlens::kernels::rope::{rope_cache, rope_neox, theta_scale};
use bitlens::kernels::{matvec, rmsnorm, ActScratch, Matrix};
use bitlens::quant::GgmlType;
use half::f16;
use serde_json::Value;

mod common;

#[path = "common/model_parity.rs"]
mod model_parity;
use model_parity::max_abs_diff;

const GGUF: &[u8] = include_bytes!("fixtures/bitnet-b158-tiny-i2_s.gguf");

struct Trace {
    entries: Vec<(String, Vec<usize>, Vec<f32>)>,
}

impl Trace {
    fn load(part: &str) -> Trace {
        let text = common::read_fixture("fixtures/bitnet-b158-tiny-i2_s.trace.json");
        let v: Value = serde_json::from_slice(&text).unwrap();
        let entries = v[part]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let ne = e["ne"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap() as usize)
                    .collect();
                let vals = e["values"]
                    .as_array()
                    .map(|a| a.iter().map(|x| x.as_f64().unwrap() as f32).collect())
                    .unwrap_or_default();
                (e["name"].as_str().unwrap().to_string(), ne, vals)
            })
            .collect();
        Trace { entries }
    }

    /// The `nth` entry (0-based) called `name` that carries values.
    fn get(&self, name: &str, nth: usize) -> (&[usize], &[f32]) {
        let e = self
            .entries
            .iter()
            .filter(|e| e.0 == name && !e.2.is_empty())
            .nth(nth)
            .unwrap_or_else(|| panic!("trace has no {name} #{nth}"));
        (&e.1, &e.2)
    }
}

/// The tiny model's shapes: 5 prompt tokens, 4 query heads of 64 sharing 2 KV heads, KV cells
/// padded to 32 in ggml's attention tensors.
const DIM: usize = 256;
const KV_DIM: usize = 128;
const HEADS: usize = 4;
const HEAD_DIM: usize = 64;
const TOKENS: usize = 5;
const CELLS: usize = 32;

/// Index of element `i` of token `t`'s row in head `h`, in ggml's per-head tensors with rows
/// of `inner`: `kq` and the softmax (`inner` = `CELLS`), `kqv` (`inner` = `HEAD_DIM`).
fn at(inner: usize, i: usize, t: usize, h: usize) -> usize {
    i + inner * (t + TOKENS * h)
}

/// Every (head, token) pair, heads outer as ggml lays them out.
fn heads_tokens() -> impl Iterator<Item = (usize, usize)> {
    (0..HEADS).flat_map(|h| (0..TOKENS).map(move |t| (h, t)))
}

/// `x` rounded through F16 (the engines' F16 q, K and V).
fn f16r(x: f32) -> f32 {
    f16::from_f32(x).to_f32()
}

fn matrix<'a>(g: &Gguf, name: &str) -> Matrix<'a> {
    let t = g.tensor(name).unwrap();
    let data = g.tensor_data(GGUF, t).unwrap();
    let (data, scale) = if t.ggml_type == GgmlType::I2_S {
        let n = (t.n_elements / 4) as usize;
        (
            &data[..n],
            f32::from_le_bytes(data[n..n + 4].try_into().unwrap()),
        )
    } else {
        (data, 1.0)
    };
    Matrix {
        ty: t.ggml_type,
        data,
        rows: t.dims[1] as usize,
        cols: t.dims[0] as usize,
        scale,
        finite: false,
        layout: bitlens::quant::I2sLayout::Plain,
    }
}

fn vector(g: &Gguf, name: &str) -> Vec<f32> {
    let t = g.tensor(name).unwrap();
    let d = g.tensor_data(GGUF, t).unwrap();
    (0..t.n_elements as usize).map(|i| f32_at(d, i)).collect()
}

/// Applies `f` to each row of `input` (rows of `n_in`) and returns the concatenated outputs.
fn per_row(
    input: &[f32],
    n_in: usize,
    n_out: usize,
    mut f: impl FnMut(&[f32], &mut [f32]),
) -> Vec<f32> {
    let rows = input.len() / n_in;
    let mut out = vec![0f32; rows * n_out];
    for r in 0..rows {
        f(
            &input[r * n_in..(r + 1) * n_in],
            &mut out[r * n_out..(r + 1) * n_out],
        );
    }
    out
}

/// Prints the largest difference of `ours` from `theirs` under `label` and returns it.
fn report(label: &str, ours: &[f32], theirs: &[f32]) -> f32 {
    let d = max_abs_diff(ours, theirs);
    println!("{label:24} max|Δ| = {d:e}");
    d
}

/// Asserts `ours` equals the trace's first `name` bit for bit.
fn exact(tr: &Trace, name: &str, ours: &[f32]) {
    assert_eq!(report(name, ours, tr.get(name, 0).1), 0.0, "{name}");
}

#[test]
fn prompt_decode_ops_match_bitnet_cpp() {
    let g = Gguf::parse(GGUF).unwrap();
    let tr = Trace::load("prompt_decode");
    let ids = [395usize, 267, 288, 293, 294];
    let eps = 1e-5f32;
    let mut s = ActScratch::default();

    // Embedding rows.
    let emb = g
        .tensor_data(GGUF, g.tensor("token_embd.weight").unwrap())
        .unwrap();
    let x: Vec<f32> = ids
        .iter()
        .flat_map(|&id| (0..DIM).map(move |i| f16_at(emb, id * DIM + i)))
        .collect();
    assert_eq!(tr.get("inp_embd", 0).1, &x[..], "inp_embd");

    // RMSNorm, then gamma, each on bitnet.cpp's own input (the first on our embedding rows).
    for (out, input, gamma) in [
        ("attn_norm-0", &x[..], "blk.0.attn_norm.weight"),
        (
            "attn_sub_norm-0",
            tr.get("kqv_out-0", 0).1,
            "blk.0.attn_sub_norm.weight",
        ),
        (
            "ffn_norm-0",
            tr.get("ffn_inp-0", 0).1,
            "blk.0.ffn_norm.weight",
        ),
        (
            "ffn_sub_norm-0",
            tr.get("ffn_out-0", 0).1,
            "blk.0.ffn_sub_norm.weight",
        ),
    ] {
        let gamma = vector(&g, gamma);
        let n = gamma.len();
        exact(
            &tr,
            out,
            &per_row(input, n, n, |r, o| rmsnorm(r, &gamma, eps, o)),
        );
    }

    // Every projection (I2_S, and the tied F16 head on the last token with its input rounded
    // to F16) on bitnet.cpp's own input.
    for (out, input, tensor) in [
        ("Qcur-0", "attn_norm-0", "blk.0.attn_q.weight"),
        ("Kcur-0", "attn_norm-0", "blk.0.attn_k.weight"),
        ("Vcur-0", "attn_norm-0", "blk.0.attn_v.weight"),
        (
            "attn_o_out-0",
            "attn_sub_norm-0",
            "blk.0.attn_output.weight",
        ),
        ("ffn_gate-0", "ffn_norm-0", "blk.0.ffn_gate.weight"),
        ("ffn_up-0", "ffn_norm-0", "blk.0.ffn_up.weight"),
        ("ffn_down-0", "ffn_sub_norm-0", "blk.0.ffn_down.weight"),
        ("result_output", "result_norm", "token_embd.weight"),
    ] {
        let w = matrix(&g, tensor);
        let ours = per_row(tr.get(input, 0).1, w.cols, w.rows, |r, o| {
            matvec(&w, r, &mut s, FloatInput::VEC_DOT, o)
        });
        exact(&tr, out, &ours);
    }
    let sqr: Vec<f32> = tr
        .get("ffn_gate-0", 0)
        .1
        .iter()
        .map(|&v| v.max(0.0) * v.max(0.0))
        .collect();
    exact(&tr, "ffn_sqr(relu)-0", &sqr);

    // RoPE (NEOX, base 500000), per position; the trace's second Qcur/Kcur is the rotated one.
    let ts = theta_scale(500000.0, HEAD_DIM);
    let mut cs = vec![(0f32, 0f32); HEAD_DIM / 2];
    for (name, width) in [("Qcur-0", DIM), ("Kcur-0", KV_DIM)] {
        let mut ours = tr.get(name, 0).1.to_vec();
        for (p, row) in ours.chunks_exact_mut(width).enumerate() {
            rope_cache(p, HEAD_DIM, ts, &mut cs);
            rope_neox(row, HEAD_DIM, HEAD_DIM, &cs);
        }
        let d = report(&format!("{name} rope"), &ours, tr.get(name, 1).1);
        assert_eq!(d, 0.0, "{name} rope");
    }
    let q = tr.get("Qcur-0", 1).1;
    let k = tr.get("Kcur-0", 1).1;
    let v = tr.get("Vcur-0", 0).1;
    // Query head h reads KV head h / 2.
    let q_at = |t: usize, h: usize, i: usize| q[t * DIM + h * HEAD_DIM + i];
    let kv_at = |x: &[f32], c: usize, h: usize, i: usize| x[c * KV_DIM + (h / 2) * HEAD_DIM + i];

    // KQ with F16 K and F16-rounded q. Cells past the causal limit are computed by ggml too
    // (then masked): compare the visible ones.
    let kq_ref = tr.get("kq-0", 0).1;
    let mut dk = 0f32;
    for (h, t) in heads_tokens() {
        for c in 0..=t {
            let kq = dot_ggml_f16(
                HEAD_DIM,
                |i| f16r(kv_at(k, c, h, i)),
                |i| f16r(q_at(t, h, i)),
            );
            dk = dk.max((kq - kq_ref[at(CELLS, c, t, h)]).abs());
        }
    }
    println!("{:24} max|Δ| = {dk:e}", "kq-0");
    assert_eq!(dk, 0.0, "kq-0");

    // Softmax with scale 1/8 and the causal mask, on bitnet.cpp's KQ.
    let sm_ref = tr.get("kq_soft_max_ext-0", 0).1;
    let mut sm = vec![0f32; sm_ref.len()];
    for (h, t) in heads_tokens() {
        let row = &mut sm[at(CELLS, 0, t, h)..at(CELLS, CELLS, t, h)];
        for (c, p) in row.iter_mut().enumerate() {
            *p = if c <= t {
                kq_ref[at(CELLS, c, t, h)] * 0.125
            } else {
                f32::NEG_INFINITY
            };
        }
        softmax(row, Isa::Avx2);
    }
    // ggml's AVX2 softmax uses its own vectorized expf: one-ulp differences remain.
    let d = report("kq_soft_max_ext-0", &sm, sm_ref);
    assert!(d <= 6e-8, "softmax {d}");

    // KQV from bitnet.cpp's own probabilities (F32, multi-token): eight lanes over the cells.
    let mut kqv = vec![0f32; HEADS * TOKENS * HEAD_DIM];
    for (h, t) in heads_tokens() {
        for d in 0..HEAD_DIM {
            let vv = |c: usize| {
                if c < TOKENS {
                    f16r(kv_at(v, c, h, d))
                } else {
                    0.0
                }
            };
            let pp = |c: usize| sm_ref[at(CELLS, c, t, h)];
            kqv[at(HEAD_DIM, d, t, h)] = dot8_fma(CELLS, vv, pp);
        }
    }
    exact(&tr, "kqv-0", &kqv);

    // Whole attention on bitnet.cpp's q/k/v, F32 probs (multi-token prompt).
    let layer = KvLayer {
        k: k.iter().map(|&x| f16::from_f32(x)).collect(),
        v: v.iter().map(|&x| f16::from_f32(x)).collect(),
    };
    let numerics = AttnNumerics {
        kq_order: DotOrder::GgmlVecDot,
        probs_f16: false,
        kqv_order: DotOrder::TinyBlas,
        isa: Isa::Avx2,
    };
    // Two threads' scratch: the heads split between them give the same bits as one.
    let mut scratch = vec![0f32; 2 * attend_scratch(CELLS - 1, HEAD_DIM)];
    let mut out = vec![0f32; TOKENS * DIM];
    for (t, (q, out)) in q
        .chunks_exact(DIM)
        .zip(out.chunks_exact_mut(DIM))
        .enumerate()
    {
        attend(
            q,
            &layer,
            t,
            HEADS,
            HEADS / 2,
            HEAD_DIM,
            numerics,
            2,
            &mut scratch,
            out,
        );
    }
    let d = report("kqv_out-0", &out, tr.get("kqv_out-0", 0).1);
    assert!(d < 1e-6, "kqv_out-0 {d}");
}
