//! Writes a model with BitNet b1.58 2B-4T's exact shapes and metadata keys (2560 wide, 30 layers,
//! n_ff 6912, 20 heads, 5 KV heads, head dim 128, vocab 128256; random ternary I2_S projections
//! with one f32 scale each, F16 embedding, F32 norms; about 1.2 GB) to a cache directory outside
//! git, for measuring decode speed at full size without the real file.
//!
//! cargo run --release --example make_2b4t_shaped [OUT]
//! (default OUT: ${BITLENS_CACHE:-$HOME/.cache/bitlens}/bitnet-2b4t-shaped-i2_s.gguf)
//!
//! The vocabulary is synthetic (256 byte tokens, the special tokens at the official ids, filler
//! tokens, no merges): the shapes and key set are the official file's, the text is not.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use bitlens::gguf::{layout, Array, TensorDesc, Value};
use half::f16;

const DIM: u64 = 2560;
const LAYERS: u64 = 30;
const FF: u64 = 6912;
const HEADS: u64 = 20;
const KV_HEADS: u64 = 5;
const VOCAB: u64 = 128256;
const ARCH: &str = "bitnet-b1.58";

/// xorshift64*: deterministic, fast enough to fill a gigabyte.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn metadata() -> Vec<(String, Value)> {
    let k = |s: &str| format!("{ARCH}.{s}");
    let mut tokens: Vec<String> = (0..256u32).map(|b| format!("<0x{b:02X}>")).collect();
    let mut types = vec![6i32; 256];
    for i in 256..VOCAB as u32 {
        let t = match i {
            128000 => "<|begin_of_text|>".to_string(),
            128001 => "<|end_of_text|>".to_string(),
            128009 => "<|eot_id|>".to_string(),
            i if i > 128000 => format!("<|reserved_special_token_{}|>", i - 128002),
            i => format!("tok{i}"),
        };
        types.push(if i >= 128000 { 3 } else { 1 });
        tokens.push(t);
    }
    vec![
        ("general.architecture".into(), Value::String(ARCH.into())),
        (
            "general.name".into(),
            Value::String("bitnet-2b4t-shaped (random weights)".into()),
        ),
        (k("vocab_size"), Value::U32(VOCAB as u32)),
        (k("context_length"), Value::U32(4096)),
        (k("embedding_length"), Value::U32(DIM as u32)),
        (k("block_count"), Value::U32(LAYERS as u32)),
        (k("feed_forward_length"), Value::U32(FF as u32)),
        (k("rope.dimension_count"), Value::U32(128)),
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
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(128000)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(128001)),
        ("tokenizer.ggml.padding_token_id".into(), Value::U32(128001)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
        ("general.quantization_version".into(), Value::U32(2)),
    ]
}

enum Kind {
    Embedding,
    Norm,
    /// A ternary projection; the value is its scale.
    I2s(f32),
}

fn tensors() -> Vec<(TensorDesc, Kind)> {
    let mut out = Vec::new();
    let f16 = 1u32;
    let f32t = 0u32;
    let i2s = 36u32;
    out.push((
        TensorDesc {
            name: "token_embd.weight".into(),
            dims: vec![DIM, VOCAB],
            type_id: f16,
            n_bytes: DIM * VOCAB * 2,
        },
        Kind::Embedding,
    ));
    out.push((
        TensorDesc {
            name: "output_norm.weight".into(),
            dims: vec![DIM],
            type_id: f32t,
            n_bytes: DIM * 4,
        },
        Kind::Norm,
    ));
    let kv = KV_HEADS * DIM / HEADS;
    for l in 0..LAYERS {
        for (n, len) in [
            ("attn_norm", DIM),
            ("attn_sub_norm", DIM),
            ("ffn_norm", DIM),
            ("ffn_sub_norm", FF),
        ] {
            out.push((
                TensorDesc {
                    name: format!("blk.{l}.{n}.weight"),
                    dims: vec![len],
                    type_id: f32t,
                    n_bytes: len * 4,
                },
                Kind::Norm,
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
            out.push((
                TensorDesc {
                    name: format!("blk.{l}.{n}.weight"),
                    dims: vec![cols, rows],
                    type_id: i2s,
                    n_bytes: cols * rows / 4 + 32,
                },
                Kind::I2s(1.5 + (l as f32) * 0.01),
            ));
        }
    }
    out
}

fn main() -> std::io::Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let dir = std::env::var_os("BITLENS_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/bitlens")
                });
            dir.join("bitnet-2b4t-shaped-i2_s.gguf")
        });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let meta = metadata();
    let list = tensors();
    let descs: Vec<TensorDesc> = list.iter().map(|(d, _)| d.clone()).collect();
    let lay = layout(&meta, &descs);
    let mut w = BufWriter::with_capacity(1 << 22, std::fs::File::create(&out)?);
    w.write_all(&lay.header)?;
    let mut rng = Rng(0x2b4f_1e55);
    let mut buf = Vec::new();
    for &(pad, i) in &lay.segments {
        w.write_all(&vec![0u8; pad as usize])?;
        let (d, kind) = &list[i];
        buf.clear();
        match kind {
            Kind::Embedding => {
                for _ in 0..d.n_bytes / 2 {
                    // Roughly normal, std about 0.02, from the sum of four uniforms.
                    let r = rng.next();
                    let s: f32 = (0..4)
                        .map(|j| ((r >> (16 * j)) & 0xffff) as f32 / 65536.0)
                        .sum::<f32>()
                        - 2.0;
                    buf.extend_from_slice(&f16::from_f32(s * 0.035).to_le_bytes());
                }
            }
            Kind::Norm => {
                let n = d.n_bytes / 4;
                for _ in 0..n {
                    let r = (rng.next() >> 40) as f32 / (1u64 << 24) as f32;
                    // Gammas near 1/sqrt(n), as the official attn_norm (RMS about 0.018).
                    buf.extend_from_slice(&((0.5 + r) / (n as f32).sqrt()).to_le_bytes());
                }
            }
            Kind::I2s(scale) => {
                let packed = d.n_bytes - 32;
                for _ in 0..packed / 8 {
                    let r = rng.next();
                    for b in 0..8 {
                        let mut byte = 0u8;
                        for c in 0..4 {
                            // Codes 0, 1, 2 (-1, 0, +1) from two bits each, 3 folded onto 1.
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
        assert_eq!(buf.len() as u64, d.n_bytes, "{}", d.name);
        w.write_all(&buf)?;
    }
    w.flush()?;
    println!("{} ({} bytes)", out.display(), lay.total_len);
    Ok(())
}
