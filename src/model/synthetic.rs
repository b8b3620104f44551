//! Synthetic models with BitNet b1.58 2B-4T's shapes and metadata keys (2560 wide, n_ff 6912,
//! 20 heads, 5 KV heads, head dim 128; random ternary I2_S projections with one f32 scale each,
//! F16 embedding, F32 norms near 1/sqrt(n) like the official attn_norm). The full model (30
//! layers, vocabulary 128256, about 1.2 GB) is written by `examples/make_2b4t_shaped.rs` for
//! speed measurements; smaller layer counts and vocabularies serve tests and the browser
//! benchmark. The vocabulary is synthetic (byte tokens, the special tokens at the official ids,
//! filler tokens, no merges): the shapes and key set are the official file's, the text is not.

use std::io::{self, Write};

use half::f16;

use crate::gguf::{layout, Array, TensorDesc, Value};

pub const DIM: u64 = 2560;
pub const FF: u64 = 6912;
pub const HEADS: u64 = 20;
pub const KV_HEADS: u64 = 5;
pub const LAYERS: u64 = 30;
pub const VOCAB: u64 = 128256;
const ARCH: &str = "bitnet-b1.58";

/// xorshift64*: deterministic and fast enough to fill a gigabyte.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn metadata(layers: u64, vocab: u64) -> Vec<(String, Value)> {
    let k = |s: &str| format!("{ARCH}.{s}");
    let mut tokens: Vec<String> = (0..256u32).map(|b| format!("<0x{b:02X}>")).collect();
    let mut types = vec![6i32; 256];
    let special_base = vocab.saturating_sub(256).max(256) as u32;
    for i in 256..vocab as u32 {
        let t = match i.checked_sub(special_base) {
            Some(0) => "<|begin_of_text|>".to_string(),
            Some(1) => "<|end_of_text|>".to_string(),
            Some(9) => "<|eot_id|>".to_string(),
            Some(k) => format!("<|reserved_special_token_{k}|>"),
            None => format!("tok{i}"),
        };
        types.push(if i >= special_base { 3 } else { 1 });
        tokens.push(t);
    }
    vec![
        ("general.architecture".into(), Value::String(ARCH.into())),
        (
            "general.name".into(),
            Value::String("bitnet-2b4t-shaped (random weights)".into()),
        ),
        (k("vocab_size"), Value::U32(vocab as u32)),
        (k("context_length"), Value::U32(4096)),
        (k("embedding_length"), Value::U32(DIM as u32)),
        (k("block_count"), Value::U32(layers as u32)),
        (k("feed_forward_length"), Value::U32(FF as u32)),
        (k("rope.dimension_count"), Value::U32((DIM / HEADS) as u32)),
        (k("attention.head_count"), Value::U32(HEADS as u32)),
        (k("attention.head_count_kv"), Value::U32(KV_HEADS as u32)),
        (k("attention.layer_norm_rms_epsilon"), Value::F32(1e-5)),
        (k("rope.freq_base"), Value::F32(500000.0)),
        ("general.file_type".into(), Value::U32(40)),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(Array::String(tokens)),
        ),
        (
            "tokenizer.ggml.token_type".into(),
            Value::Array(Array::I32(types)),
        ),
        (
            "tokenizer.ggml.merges".into(),
            Value::Array(Array::String(Vec::new())),
        ),
        (
            "tokenizer.ggml.bos_token_id".into(),
            Value::U32(special_base),
        ),
        (
            "tokenizer.ggml.eos_token_id".into(),
            Value::U32(special_base + 1),
        ),
        (
            "tokenizer.ggml.padding_token_id".into(),
            Value::U32(special_base + 1),
        ),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
        ("general.quantization_version".into(), Value::U32(2)),
    ]
}

enum Fill {
    Embedding,
    Norm,
    /// A ternary projection with this scale.
    I2s(f32),
}

fn tensors(layers: u64, vocab: u64) -> Vec<(TensorDesc, Fill)> {
    let desc = |name: String, dims: Vec<u64>, type_id: u32, n_bytes: u64| TensorDesc {
        name,
        dims,
        type_id,
        n_bytes,
    };
    let mut out = vec![
        (
            desc(
                "token_embd.weight".into(),
                vec![DIM, vocab],
                1,
                DIM * vocab * 2,
            ),
            Fill::Embedding,
        ),
        (
            desc("output_norm.weight".into(), vec![DIM], 0, DIM * 4),
            Fill::Norm,
        ),
    ];
    let kv = KV_HEADS * DIM / HEADS;
    for l in 0..layers {
        for (n, len) in [
            ("attn_norm", DIM),
            ("attn_sub_norm", DIM),
            ("ffn_norm", DIM),
            ("ffn_sub_norm", FF),
        ] {
            out.push((
                desc(format!("blk.{l}.{n}.weight"), vec![len], 0, len * 4),
                Fill::Norm,
            ));
        }
        for (n, cols, rows) in [
            ("attn_q", DIM, DIM),
            ("attn_k", DIM, kv),
            ("attn_v", DIM, kv),
            ("attn_output", DIM, DIM),
            ("ffn_gate", DIM, FF),
            ("ffn_up", DIM, FF),
            ("ffn_down", FF, DIM),
        ] {
            let d = desc(
                format!("blk.{l}.{n}.weight"),
                vec![cols, rows],
                36,
                cols * rows / 4 + 32,
            );
            out.push((d, Fill::I2s(1.5 + l as f32 * 0.01)));
        }
    }
    out
}

fn fill(kind: &Fill, n_bytes: u64, rng: &mut Rng, buf: &mut Vec<u8>) {
    buf.clear();
    match kind {
        Fill::Embedding => {
            for _ in 0..n_bytes / 2 {
                // Roughly normal (sum of four uniforms), std about 0.02.
                let r = rng.next();
                let s: f32 = (0..4)
                    .map(|j| ((r >> (16 * j)) & 0xffff) as f32 / 65536.0)
                    .sum::<f32>()
                    - 2.0;
                buf.extend_from_slice(&f16::from_f32(s * 0.035).to_le_bytes());
            }
        }
        Fill::Norm => {
            let n = n_bytes / 4;
            for _ in 0..n {
                let r = (rng.next() >> 40) as f32 / (1u64 << 24) as f32;
                buf.extend_from_slice(&((0.5 + r) / (n as f32).sqrt()).to_le_bytes());
            }
        }
        Fill::I2s(scale) => {
            for _ in 0..(n_bytes - 32) / 8 {
                let r = rng.next();
                for b in 0..8 {
                    let mut byte = 0u8;
                    for c in 0..4 {
                        // Codes 0, 1, 2 (-1, 0, +1); the unused code 3 is folded onto 1.
                        let code = ((r >> (8 * b + 2 * c)) & 3) as u8;
                        byte |= (if code == 3 { 1 } else { code }) << (6 - 2 * c);
                    }
                    buf.push(byte);
                }
            }
            buf.extend_from_slice(&scale.to_le_bytes());
            buf.extend_from_slice(&[0u8; 28]);
        }
    }
}

/// Streams a 2B-4T-shaped GGUF with `layers` blocks and a vocabulary of `vocab` (at least 512)
/// to `w`; returns its size.
pub fn write_2b4t_shaped<W: Write>(w: &mut W, layers: u64, vocab: u64) -> io::Result<u64> {
    let meta = metadata(layers, vocab);
    let list = tensors(layers, vocab);
    let descs: Vec<TensorDesc> = list.iter().map(|(d, _)| d.clone()).collect();
    let lay = layout(&meta, &descs);
    w.write_all(&lay.header)?;
    let mut rng = Rng(0x2b4f_1e55);
    let mut buf = Vec::new();
    for &(pad, i) in &lay.segments {
        w.write_all(&vec![0u8; pad as usize])?;
        let (d, kind) = &list[i];
        fill(kind, d.n_bytes, &mut rng, &mut buf);
        debug_assert_eq!(buf.len() as u64, d.n_bytes, "{}", d.name);
        w.write_all(&buf)?;
    }
    Ok(lay.total_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::Gguf;
    use crate::model::Model;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn small_shaped_model_loads_with_2b4t_shapes() {
        let mut bytes = Vec::new();
        let n = write_2b4t_shaped(&mut bytes, 1, 512).unwrap();
        assert_eq!(n, bytes.len() as u64);
        let g = Gguf::parse(&bytes).unwrap();
        let m = Model::load(&g, &bytes).unwrap();
        let c = &m.config;
        assert_eq!(
            (c.dim, c.hidden_dim, c.n_heads, c.n_kv_heads, c.head_dim),
            (2560, 6912, 20, 5, 128)
        );
        assert_eq!(g.tensors.len(), 2 + 11);
        assert_eq!(m.weights.layers[0].wk.weight.rows, 640);
    }
}
