//! Unit tests on small synthetic vocabularies written with our GGUF writer.

use super::*;
use crate::gguf::{to_bytes, Array, Gguf, Value};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

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

/// A small SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens, then scored pieces.
fn small_spm() -> Tokenizer {
    let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    let mut types = vec![2, 3, 3];
    let mut scores = vec![0f32; 3];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
        scores.push(0.0);
    }
    let pieces: [(&str, f32); 11] = [
        ("▁", -1.0),
        ("h", -2.0),
        ("e", -2.0),
        ("l", -2.0),
        ("o", -2.0),
        ("▁h", -3.0),
        ("el", -5.0),
        ("ll", -1.5),
        ("lo", -4.0),
        ("▁he", -3.5),
        ("llo", -2.5),
    ];
    for (p, s) in pieces {
        tokens.push(p.into());
        types.push(1);
        scores.push(s);
    }
    let refs: Vec<&str> = tokens.iter().map(|s| s.as_str()).collect();
    let g = vocab_gguf(
        "llama",
        &refs,
        &types,
        vec![("tokenizer.ggml.scores", Value::Array(Array::F32(scores)))],
    );
    Tokenizer::from_gguf(&g).unwrap()
}

#[test]
fn spm_merges_by_score_with_space_prefix_and_byte_fallback() {
    let t = small_spm();
    let (sp, l, sp_h, ll, sp_he, llo) = (259, 262, 264, 266, 268, 269);
    // ▁hello: ll (-1.5), then llo (-2.5), then ▁h (-3), then ▁he (-3.5).
    assert_eq!(t.encode("hello", true, false), vec![1, sp_he, llo]);
    // é is no piece: its two UTF-8 bytes as <0xC3> <0xA9>.
    assert_eq!(t.encode("hé", false, false), vec![sp_h, 3 + 0xC3, 3 + 0xA9]);
    // Equal scores: the leftmost pair merges first.
    assert_eq!(t.encode("lll", false, false), vec![sp, ll, l]);
    // A space is prefixed again after a special token.
    assert_eq!(t.encode("<s>hello", false, true), vec![1, sp_he, llo]);
    assert_eq!(t.encode("h<s>h", false, true), vec![sp_h, 1, sp_h]);
    // Decoding drops the prefix space of the first token and joins byte tokens.
    assert_eq!(t.decode(&[sp_he, llo]).unwrap(), "hello");
    assert_eq!(t.decode(&[sp_h, 3 + 0xC3, 3 + 0xA9]).unwrap(), "hé");
    assert_eq!(t.decode(&[1, sp_he, llo]).unwrap(), "<s> hello");
    assert_eq!(t.byte_token(0x41), Some(3 + 0x41));
}

#[test]
fn stream_decoder_holds_partial_characters() {
    // Byte-level tokens for 🙂 (F0 9F 99 82): nothing comes out until the last byte.
    let t = small_bpe(&[], Some("gpt-2"));
    let ids = t.encode("a🙂b", false, false);
    assert_eq!(ids, vec![b'a' as u32, 0xF0, 0x9F, 0x99, 0x82, b'b' as u32]);
    let mut d = t.stream_decoder(false);
    let out: Vec<String> = ids.iter().map(|&id| d.push(&t, id).unwrap()).collect();
    assert_eq!(out, ["a", "", "", "", "🙂", "b"]);
    assert_eq!(d.flush(), "");
    // An incomplete character at the end becomes U+FFFD on flush; invalid bytes at once.
    assert_eq!(d.push(&t, 0xE6).unwrap(), "");
    assert_eq!(d.pending(), [0xE6]);
    assert_eq!(d.flush(), "\u{FFFD}");
    assert_eq!(d.push(&t, 0xFF).unwrap(), "\u{FFFD}");
    // Control tokens are silent unless asked for; unknown ids are errors.
    let eot = 257;
    assert_eq!(d.push(&t, eot).unwrap(), "");
    assert_eq!(t.stream_decoder(true).push(&t, eot).unwrap(), "<|eot_id|>");
    assert_eq!(
        d.push(&t, 9999),
        Err(TokenizerError::UnknownTokenId {
            id: 9999,
            n_vocab: 258
        })
    );
}

#[test]
fn long_unbroken_input_is_not_quadratic() {
    // 200k bytes in one piece with a merge chain: the heap-based merge finishes at once (a
    // rescan-per-merge implementation needs ~10^10 steps here). Checks the result, not time.
    let t = small_bpe(&["a a", "aa aa"], Some("gpt-2"));
    let text = "a".repeat(200_001);
    let ids = t.encode(&text, false, false);
    assert_eq!(ids.len(), 50_001);
    assert!(ids[..50_000].iter().all(|&id| id == 257));
    assert_eq!(ids[50_000], b'a' as u32);
}

#[test]
fn odd_vocabularies_load_and_encode_without_panicking() {
    // Merges without a separating space, with empty sides, repeated, or naming strings that are
    // not tokens; no byte tokens at all; an empty token (llama.cpp renames it "[EMPTY_i]").
    let tokens = ["a", "b", "ab", "", "<|x|>"];
    let merges = [
        "a b", "a b", "nospace", " ", "  ", "a  b", "q r", "ab ab", "é è",
    ];
    let g = vocab_gguf(
        "gpt2",
        &tokens,
        &[1, 1, 1, 1, 4],
        vec![
            ("tokenizer.ggml.merges", strings(&merges)),
            ("tokenizer.ggml.bos_token_id", Value::U32(99)), // out of range: ignored
        ],
    );
    let t = Tokenizer::from_gguf(&g).unwrap();
    assert_eq!(t.bos(), None);
    assert_eq!(t.token_text(3), Some("[EMPTY_3]"));
    // Bytes with no token vanish, as in llama.cpp; the user-defined token is split out even
    // without parse_special.
    assert_eq!(t.encode("ab", true, false), vec![2]);
    assert_eq!(t.encode("abzab", false, false), vec![2, 2]);
    assert_eq!(t.encode("a<|x|>é😀 b", false, false), vec![0, 4, 1]);
    assert_eq!(t.encode("", true, true), Vec::<u32>::new());
    // Wrong types are errors that name the key.
    let g = vocab_gguf(
        "gpt2",
        &["a"],
        &[1],
        vec![("tokenizer.ggml.merges", Value::U32(3))],
    );
    assert_eq!(
        Tokenizer::from_gguf(&g).err(),
        Some(TokenizerError::MissingKey("tokenizer.ggml.merges"))
            .filter(|_| false)
            .or(Some(TokenizerError::WrongType {
                key: "tokenizer.ggml.merges",
                expected: "array of strings"
            }))
    );
    let g = vocab_gguf("bert", &["a"], &[1], vec![]);
    assert_eq!(
        Tokenizer::from_gguf(&g).err(),
        Some(TokenizerError::UnknownModel("bert".into()))
    );
}
