//! Op-by-op check of the kernels against bitnet.cpp's own intermediate tensors
//! (`tests/fixtures/bitnet-b158-tiny-i2_s.trace.json`): each op is fed bitnet.cpp's inputs, so a
//! mismatch points at one op.

use bitlens::gguf::Gguf;
use bitlens::kernels::attention::{attend, softmax, AttnNumerics, KvLayer};
use bitlens::kernels::float::{dot8_fma, dot_ggml_f16, f16_at, f32_at, DotOrder};
use bitlens::kernels::math::Isa;
use bitlens::kernels::matrix::FloatInput;
use bitlens::kernels::rope::{rope_cache, rope_neox, theta_scale};
use bitlens::kernels::{matvec, rmsnorm, ActScratch, Matrix};
use bitlens::quant::GgmlType;
use half::f16;
use serde_json::Value;

const GGUF: &[u8] = include_bytes!("fixtures/bitnet-b158-tiny-i2_s.gguf");

struct Trace {
    entries: Vec<(String, Vec<usize>, Vec<f32>)>,
}

impl Trace {
    fn load(part: &str) -> Trace {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bitnet-b158-tiny-i2_s.trace.json"
        ))
        .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
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

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
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
        .flat_map(|&id| (0..256).map(move |i| f16_at(emb, id * 256 + i)))
        .collect();
    assert_eq!(tr.get("inp_embd", 0).1, &x[..], "inp_embd");

    // RMSNorm, then gamma.
    let gamma = vector(&g, "blk.0.attn_norm.weight");
    let normed = per_row(&x, 256, 256, |r, o| rmsnorm(r, &gamma, eps, o));
    let report = |name: &str, ours: &[f32], theirs: &[f32]| {
        let d = max_diff(ours, theirs);
        println!("{name:24} max|Δ| = {d:e}");
        d
    };
    assert_eq!(
        report("attn_norm-0", &normed, tr.get("attn_norm-0", 0).1),
        0.0
    );

    // I2_S projections on bitnet.cpp's own normed input.
    let an = tr.get("attn_norm-0", 0).1;
    for (name, tensor, n_out) in [
        ("Qcur-0", "blk.0.attn_q.weight", 256),
        ("Kcur-0", "blk.0.attn_k.weight", 128),
        ("Vcur-0", "blk.0.attn_v.weight", 128),
    ] {
        let w = matrix(&g, tensor);
        let ours = per_row(an, 256, n_out, |r, o| {
            matvec(&w, r, &mut s, FloatInput::VEC_DOT, o)
        });
        assert_eq!(report(name, &ours, tr.get(name, 0).1), 0.0, "{name}");
    }

    // RoPE (NEOX, base 500000), per position.
    let ts = theta_scale(500000.0, 64);
    let mut cs = vec![(0f32, 0f32); 32];
    let rope_all = |input: &[f32], width: usize, cs: &mut Vec<(f32, f32)>| {
        let mut out = input.to_vec();
        for (p, row) in out.chunks_exact_mut(width).enumerate() {
            rope_cache(p, 64, ts, cs);
            rope_neox(row, 64, 64, cs);
        }
        out
    };
    let q = rope_all(tr.get("Qcur-0", 0).1, 256, &mut cs);
    assert_eq!(report("Qcur-0 rope", &q, tr.get("Qcur-0", 1).1), 0.0);
    let k = rope_all(tr.get("Kcur-0", 0).1, 128, &mut cs);
    assert_eq!(report("Kcur-0 rope", &k, tr.get("Kcur-0", 1).1), 0.0);

    // KQ with F16 K and F16-rounded q: kq[cell + 32*(token + 5*head)].
    let q = tr.get("Qcur-0", 1).1;
    let k = tr.get("Kcur-0", 1).1;
    let (_, kq_ref) = tr.get("kq-0", 0);
    let mut kq = vec![0f32; kq_ref.len()];
    for h in 0..4 {
        for t in 0..5 {
            for c in 0..5 {
                let qv = |i: usize| f16::from_f32(q[t * 256 + h * 64 + i]).to_f32();
                let kv = |i: usize| f16::from_f32(k[c * 128 + (h / 2) * 64 + i]).to_f32();
                kq[c + 32 * (t + 5 * h)] = dot_ggml_f16(64, kv, qv);
            }
        }
    }
    // Cells past the causal limit are computed by ggml too (then masked): compare visible ones.
    let mut dk = 0f32;
    for h in 0..4 {
        for t in 0..5 {
            for c in 0..=t {
                let i = c + 32 * (t + 5 * h);
                dk = dk.max((kq[i] - kq_ref[i]).abs());
            }
        }
    }
    println!("{:24} max|Δ| = {dk:e}", "kq-0");
    assert_eq!(dk, 0.0, "kq-0");

    // Softmax with scale 1/8 and the causal mask.
    let (_, sm_ref) = tr.get("kq_soft_max_ext-0", 0);
    let mut sm = vec![0f32; sm_ref.len()];
    for h in 0..4 {
        for t in 0..5 {
            let row = &mut sm[32 * (t + 5 * h)..32 * (t + 5 * h + 1)];
            for c in 0..32 {
                row[c] = if c <= t {
                    kq_ref[c + 32 * (t + 5 * h)] * 0.125
                } else {
                    f32::NEG_INFINITY
                };
            }
            softmax(row, Isa::Avx2);
        }
    }
    // ggml's AVX2 softmax uses its own vectorized expf: one-ulp differences remain.
    let d = report("kq_soft_max_ext-0", &sm, sm_ref);
    assert!(d <= 6e-8, "softmax {d}");
    // KQV from bitnet.cpp's own probabilities (F32, multi-token): eight lanes over the cells.
    {
        let v = tr.get("Vcur-0", 0).1;
        let (_, kqv_ref) = tr.get("kqv-0", 0);
        let mut kqv = vec![0f32; kqv_ref.len()];
        for h in 0..4 {
            for t in 0..5 {
                for d in 0..64 {
                    let vv = |c: usize| {
                        if c < 5 {
                            f16::from_f32(v[c * 128 + (h / 2) * 64 + d]).to_f32()
                        } else {
                            0.0
                        }
                    };
                    let pp = |c: usize| sm_ref[c + 32 * (t + 5 * h)];
                    kqv[d + 64 * (t + 5 * h)] = dot8_fma(32, vv, pp);
                }
            }
        }
        assert_eq!(report("kqv-0 (their probs)", &kqv, kqv_ref), 0.0);
    }

    // Whole attention on bitnet.cpp's q/k/v, F32 probs (multi-token prompt).
    let v = tr.get("Vcur-0", 0).1;
    let layer = KvLayer {
        k: k.iter().map(|&x| f16::from_f32(x)).collect(),
        v: v.iter().map(|&x| f16::from_f32(x)).collect(),
    };
    let mut att = vec![0f32; 32];
    let mut qh = vec![0f32; 64];
    let mut out = vec![0f32; 5 * 256];
    for t in 0..5 {
        attend(
            &q[t * 256..(t + 1) * 256],
            &layer,
            t,
            4,
            2,
            64,
            AttnNumerics {
                kq_order: DotOrder::GgmlVecDot,
                probs_f16: false,
                kqv_order: DotOrder::TinyBlas,
                isa: Isa::Avx2,
            },
            &mut att,
            &mut qh,
            &mut out[t * 256..(t + 1) * 256],
        );
    }
    let d = report("kqv_out-0", &out, tr.get("kqv_out-0", 0).1);
    assert!(d < 1e-6, "kqv_out-0 {d}");

    // Sub-norm + output projection, FFN.
    let sub = vector(&g, "blk.0.attn_sub_norm.weight");
    let ours = per_row(tr.get("kqv_out-0", 0).1, 256, 256, |r, o| {
        rmsnorm(r, &sub, eps, o)
    });
    assert_eq!(
        report("attn_sub_norm-0", &ours, tr.get("attn_sub_norm-0", 0).1),
        0.0
    );
    let wo = matrix(&g, "blk.0.attn_output.weight");
    let ours = per_row(tr.get("attn_sub_norm-0", 0).1, 256, 256, |r, o| {
        matvec(&wo, r, &mut s, FloatInput::VEC_DOT, o)
    });
    assert_eq!(
        report("attn_o_out-0", &ours, tr.get("attn_o_out-0", 0).1),
        0.0
    );
    let wg = matrix(&g, "blk.0.ffn_gate.weight");
    let fin = tr.get("ffn_norm-0", 0).1;
    let ours = per_row(fin, 256, 512, |r, o| {
        matvec(&wg, r, &mut s, FloatInput::VEC_DOT, o)
    });
    assert_eq!(report("ffn_gate-0", &ours, tr.get("ffn_gate-0", 0).1), 0.0);
    let sqr: Vec<f32> = ours.iter().map(|&v| v.max(0.0) * v.max(0.0)).collect();
    assert_eq!(
        report("ffn_sqr(relu)-0", &sqr, tr.get("ffn_sqr(relu)-0", 0).1),
        0.0
    );
    let wd = matrix(&g, "blk.0.ffn_down.weight");
    let ours = per_row(tr.get("ffn_sub_norm-0", 0).1, 512, 256, |r, o| {
        matvec(&wd, r, &mut s, FloatInput::VEC_DOT, o)
    });
    assert_eq!(report("ffn_down-0", &ours, tr.get("ffn_down-0", 0).1), 0.0);

    // Tied F16 head on the last token, input rounded to F16 (last-only output).
    let head = matrix(&g, "token_embd.weight");
    let mut logits = vec![0f32; 512];
    matvec(
        &head,
        tr.get("result_norm", 0).1,
        &mut s,
        FloatInput::VEC_DOT,
        &mut logits,
    );

    assert_eq!(
        report("result_output", &logits, tr.get("result_output", 0).1),
        0.0
    );
}
