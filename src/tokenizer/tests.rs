//! Unit tests on small synthetic vocabularies written with our GGUF writer.

use super::*;
use crate::gguf::{to_bytes, Array, Gguf, Value};

/// A GGUF holding only tokenizer metadata.
pub(crate) fn vocab_gguf(
    model: &str,
    tokens: &[&str],
    types: &[i32],
    extra: Vec<(&str, Value)>,
) -> Gguf {
    let mut md: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String("llama".into())),
        ("tokenizer.ggml.model".into(), Value::String(model.into())),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(Array::String(
                tokens.iter().map(|s| s.to_string()).collect(),
            )),
        ),
        (
            "tokenizer.ggml.token_type".into(),
            Value::Array(Array::I32(types.to_vec())),
        ),
    ];
    md.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
    Gguf::parse(&to_bytes(&md, &[])).expect("parse synthetic gguf")
}

fn strings(v: &[&str]) -> Value {
    Value::Array(Array::String(v.iter().map(|s| s.to_string()).collect()))
}

/// 256 byte tokens in GPT-2 form, then merges' results, then specials.
fn small_bpe(merges: &[&str], pre: Option<&str>) -> Tokenizer {
    let mut tokens: Vec<String> = (0..=255u8)
        .map(|b| unicode::BYTE_TO_CHAR[b as usize].to_string())
        .collect();
    for m in merges {
        tokens.push(m.replace(' ', ""));
    }
    tokens.push("<|bos|>".into());
    tokens.push("<|eot_id|>".into());
    let n = tokens.len();
    let mut types = vec![1; n];
    types[n - 2] = 3;
    types[n - 1] = 1; // NORMAL in the file: llama.cpp forces it to control by its text
    let refs: Vec<&str> = tokens.iter().map(|s| s.as_str()).collect();
    let mut extra = vec![
        ("tokenizer.ggml.merges", strings(merges)),
        ("tokenizer.ggml.bos_token_id", Value::U32(n as u32 - 2)),
        ("tokenizer.ggml.add_bos_token", Value::Bool(true)),
    ];
    if let Some(p) = pre {
        extra.push(("tokenizer.ggml.pre", Value::String(p.into())));
    }
    Tokenizer::from_gguf(&vocab_gguf("gpt2", &refs, &types, extra)).unwrap()
}

#[test]
fn bpe_merges_lowest_rank_first() {
    // "abc": pairs ab (rank 1) and bc (rank 0): bc wins, then a+bc.
    let t = small_bpe(&["b c", "a b", "a bc"], Some("gpt-2"));
    let (bc, ab, abc) = (256, 257, 258);
    assert_eq!(t.encode("abc", false, false), vec![abc]);
    assert_eq!(t.encode("ab", false, false), vec![ab]);
    assert_eq!(t.encode("bcab", false, false), vec![bc, ab]);
    assert_eq!(t.encode("x", true, false), vec![259, b'x' as u32]);
}

#[test]
fn specials_and_eog() {
    let t = small_bpe(&["a b"], Some("gpt-2"));
    let eot = 258;
    assert_eq!(t.encode("ab<|eot_id|>ab", false, true), vec![256, eot, 256]);
    assert!(t.is_eog(eot));
    assert_eq!(t.eot(), Some(eot));
    // Without parse_special the control token is plain text.
    assert!(!t.encode("<|eot_id|>", false, false).contains(&eot));
}

#[test]
fn unknown_pre_is_an_error() {
    let tokens = ["a"];
    let g = vocab_gguf(
        "gpt2",
        &tokens,
        &[1],
        vec![
            ("tokenizer.ggml.merges", strings(&[])),
            ("tokenizer.ggml.pre", Value::String("martian".into())),
        ],
    );
    assert_eq!(
        Tokenizer::from_gguf(&g).err(),
        Some(TokenizerError::UnknownPre("martian".into()))
    );
    let g = vocab_gguf(
        "gpt2",
        &["a", "a"],
        &[1, 1],
        vec![("tokenizer.ggml.merges", strings(&[]))],
    );
    assert!(matches!(
        Tokenizer::from_gguf(&g),
        Err(TokenizerError::DuplicateToken {
            id: 1,
            first: 0,
            ..
        })
    ));
    let g = vocab_gguf(
        "gpt2",
        &["a", "b"],
        &[1],
        vec![("tokenizer.ggml.merges", strings(&[]))],
    );
    assert_eq!(
        Tokenizer::from_gguf(&g).err(),
        Some(TokenizerError::TooShort {
            key: "tokenizer.ggml.token_type",
            len: 1,
            need: 2
        })
    );
}
