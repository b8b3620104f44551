//! Token ids equal llama.cpp's on real vocabularies: SmolLM2 (pre `smollm`) and LLaMA-3 (the
//! BitNet 2B-4T tokenizer) with no `pre` key ('default', as bitnet.cpp reads the official file)
//! and with `pre = llama-bpe`; and Gemma 3's SentencePiece vocabulary (byte fallback). Goldens: tests/data/tokenizer/goldens.json, made by
//! tools/tokenizer/make_goldens.py with llama-cpp-python. Plus decode(encode(s)) == s on every
//! vocabulary for those strings and for seeded random UTF-8.

mod tokenizer_support;

#[path = "common/pseudo_random.rs"]
mod pseudo_random;

use bitlens::gguf::Gguf;
use bitlens::tokenizer::{vocab_only_gguf, PreTokenizer, Tokenizer, VocabKind};
use serde_json::Value;
use tokenizer_support::*;

fn goldens() -> Value {
    serde_json::from_slice(&std::fs::read(data_dir().join("goldens.json")).unwrap()).unwrap()
}

fn strings(g: &Value) -> Vec<String> {
    g["strings_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| String::from_utf8(hex(h.as_str().unwrap())).unwrap())
        .collect()
}

fn tokenizer(bytes: &[u8]) -> Tokenizer {
    Tokenizer::from_gguf(&Gguf::parse(bytes).unwrap()).unwrap()
}

fn check_parity(name: &str, tok: &Tokenizer) {
    let g = goldens();
    let texts = strings(&g);
    assert!(texts.len() >= 60);
    let want = g["vocabs"][name]["ids"].as_array().unwrap();
    assert_eq!(want.len(), texts.len());
    let mut bad = Vec::new();
    for (text, ids) in texts.iter().zip(want) {
        let ids: Vec<u32> = ids
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        let got = tok.encode(text, true, true);
        if got != ids {
            bad.push(format!(
                "{text:?}\n  llama.cpp {ids:?}\n  ours      {got:?}"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{name}: {} of {} strings differ:\n{}",
        bad.len(),
        texts.len(),
        bad.join("\n")
    );
}

/// decode(encode(s)) == s, with specials parsed and rendered and no BOS.
fn check_round_trip(name: &str, tok: &Tokenizer, texts: &[String]) {
    for t in texts {
        let ids = tok.encode(t, false, true);
        assert_eq!(
            &tok.decode(&ids).unwrap(),
            t,
            "{name}: round trip of {t:?} via {ids:?}"
        );
    }
}

/// Seeded random valid UTF-8 drawn from ASCII, whitespace, Latin-1, combining marks, CJK, emoji
/// and other planes.
fn random_strings(seed: u64, n: usize) -> Vec<String> {
    let mut rng = pseudo_random::Rng(seed);
    let mut next = move || rng.next();
    let ranges: &[(u32, u32)] = &[
        (0x20, 0x7e),
        (0x20, 0x7e),
        (0x30, 0x39),
        (0x09, 0x0d),
        (0x80, 0xff),
        (0x300, 0x36f),
        (0x400, 0x4ff),
        (0x3000, 0x303f),
        (0x4e00, 0x9fff),
        (0xac00, 0xd7a3),
        (0x1f300, 0x1faff),
        (0x2000, 0x206f),
        (0xe000, 0xe0ff),
        (0x10000, 0x10ffff),
    ];
    (0..n)
        .map(|_| {
            let len = (next() % 40) as usize;
            (0..len)
                .filter_map(|_| {
                    let (lo, hi) = ranges[(next() % ranges.len() as u64) as usize];
                    char::from_u32(lo + (next() % (hi - lo + 1) as u64) as u32)
                })
                .collect()
        })
        .collect()
}

/// Round trips of the hard strings and of random strings. Characters with a UTF-8 byte the
/// vocabulary has no token for cannot survive (llama.cpp drops the byte), so they are left out.
fn check_all_round_trips(name: &str, tok: &Tokenizer) {
    let encodable = |s: &String| s.bytes().all(|b| tok.byte_token(b).is_some());
    let hard: Vec<String> = strings(&goldens()).into_iter().filter(encodable).collect();
    check_round_trip(name, tok, &hard);
    let random: Vec<String> = random_strings(0x5eed_0001, 400)
        .into_iter()
        .map(|s| s.chars().filter(|c| encodable(&c.to_string())).collect())
        .collect();
    check_round_trip(name, tok, &random);
}

#[test]
fn smollm2_matches_llama_cpp() {
    let tok = tokenizer(&smollm2_vocab());
    assert_eq!(tok.pre_tokenizer(), PreTokenizer::Smollm);
    // SmolLM2 has no token for these bytes (so e.g. U+40000..U+BFFFF, lead byte F1/F2, cannot be
    // encoded); every other vocabulary here has all 256.
    let missing: Vec<u8> = (0..=255).filter(|&b| tok.byte_token(b).is_none()).collect();
    assert_eq!(
        missing,
        [
            0x04, 0x06, 0x13, 0x14, 0x16, 0x1d, 0xc0, 0xc1, 0xf1, 0xf2, 0xf5, 0xf6, 0xf7, 0xf8,
            0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff
        ]
    );
    check_parity("smollm2", &tok);
    check_all_round_trips("smollm2", &tok);
}

#[test]
fn llama3_without_pre_matches_llama_cpp_default() {
    let tok = tokenizer(&llama3_vocab(None));
    assert_eq!(tok.pre_tokenizer(), PreTokenizer::Default);
    assert!((0..=255).all(|b| tok.byte_token(b).is_some()));
    assert_eq!(
        (tok.n_vocab(), tok.bos(), tok.eos(), tok.eot()),
        (128256, Some(128000), Some(128001), Some(128009))
    );
    assert!(tok.is_eog(128001) && tok.is_eog(128009) && !tok.is_eog(128000));
    check_parity("llama3-nopre", &tok);
    check_all_round_trips("llama3-nopre", &tok);
}

#[test]
fn llama3_llama_bpe_matches_llama_cpp() {
    let tok = tokenizer(&llama3_vocab(Some("llama-bpe")));
    assert_eq!(tok.pre_tokenizer(), PreTokenizer::Llama3);
    check_parity("llama3-llama-bpe", &tok);
    check_all_round_trips("llama3-llama-bpe", &tok);
}

#[test]
fn gemma3_sentencepiece_matches_llama_cpp() {
    let tok = tokenizer(&gemma3_vocab());
    assert_eq!(tok.kind(), VocabKind::Spm);
    assert_eq!(tok.n_vocab(), 262144);
    check_parity("gemma3", &tok);
    check_all_round_trips("gemma3", &tok);
}

#[test]
fn fixture_vocabularies_round_trip() {
    for name in ["bitnet-b158-tiny-i2_s", "bitnet-tiny-tq2_0"] {
        let tok = tokenizer(&std::fs::read(fixture(&format!("fixtures/{name}.gguf"))).unwrap());
        check_all_round_trips(name, &tok);
    }
}

#[test]
fn committed_goldens_match_the_vocabulary_files() {
    // The goldens were made from exactly these files (sha256 recorded by the generator).
    let g = goldens();
    let smol = vocab_only_gguf(&Gguf::parse(&smollm2_vocab()).unwrap());
    assert_eq!(
        smol,
        smollm2_vocab(),
        "the committed vocabulary is what vocab_only_gguf writes"
    );
    assert_eq!(g["vocabs"]["smollm2"]["file"], "smollm2-135m.vocab.gguf");
}

/// Re-extracts the committed SmolLM2 vocabulary from the real 98 MB GGUF
/// (`bash scripts/fetch-smollm2.sh`, then `cargo test --test tokenizer_parity -- --ignored`).
#[test]
#[ignore]
fn regenerate_smollm2_vocab() {
    let src = cache_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let bytes = std::fs::read(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let out = vocab_only_gguf(&Gguf::parse(&bytes).unwrap());
    std::fs::create_dir_all(data_dir()).unwrap();
    std::fs::write(data_dir().join("smollm2-135m.vocab.gguf"), out).unwrap();
}
