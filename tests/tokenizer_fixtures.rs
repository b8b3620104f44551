//! Parity with the reference engines on the fixture models: prompt ids from bitnet.cpp (no `pre`
//! key: the 'default' pre-tokenizer) and mainline llama.cpp (`pre = llama-bpe`), and token
//! pieces of the greedy continuations.

mod tokenizer_support;

use bitlens::gguf::Gguf;
use bitlens::tokenizer::{PreTokenizer, Tokenizer};
use serde_json::Value;
use tokenizer_support::{fixture, hex, ids};

fn load(name: &str) -> (Tokenizer, Value) {
    let read = |ext: &str| std::fs::read(fixture(&format!("fixtures/{name}.{ext}"))).unwrap();
    let bytes = read("gguf");
    let g = Gguf::parse(&bytes).unwrap();
    let golden: Value = serde_json::from_slice(&read("golden.json")).unwrap();
    (Tokenizer::from_gguf(&g).unwrap(), golden)
}

fn check(name: &str, pre: PreTokenizer, bos: u32) {
    let (tok, golden) = load(name);
    assert_eq!(tok.pre_tokenizer(), pre);
    assert_eq!(tok.bos(), Some(bos));
    let cases = golden["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for (i, case) in cases.iter().enumerate() {
        let prompt = String::from_utf8(hex(case["prompt_hex"].as_str().unwrap())).unwrap();
        let want = ids(&case["prompt_ids"]);
        assert_eq!(
            tok.encode(&prompt, true, true),
            want,
            "{name} case {i}: {prompt:?}"
        );
        // Round trip without the BOS.
        assert_eq!(tok.decode(&want[1..]).unwrap(), prompt, "{name} case {i}");
        // Every greedy token's piece equals the engine's.
        let greedy = ids(&case["greedy_ids"]);
        let pieces = case["greedy_pieces_hex"].as_array().unwrap();
        assert_eq!(greedy.len(), pieces.len());
        for (&id, p) in greedy.iter().zip(pieces) {
            let mut piece = Vec::new();
            tok.token_to_piece(id, true, &mut piece).unwrap();
            assert_eq!(
                piece,
                hex(p.as_str().unwrap()),
                "{name} case {i} token {id}"
            );
        }
        // Streaming the greedy ids gives the engine's text, with no broken characters on the way.
        let mut dec = tok.stream_decoder(false); // the engine text omits control tokens
        let mut text = Vec::new();
        for &id in &greedy {
            text.extend_from_slice(dec.push(&tok, id).unwrap().as_bytes());
        }
        text.extend_from_slice(dec.flush().as_bytes());
        let engine = hex(case["greedy_text_hex"].as_str().unwrap());
        assert_eq!(
            text,
            String::from_utf8_lossy(&engine).as_bytes(),
            "{name} case {i} stream"
        );
    }
}

#[test]
fn bitnet_cpp_default_pre_tokenizer_ids() {
    check("bitnet-b158-tiny-i2_s", PreTokenizer::Default, 395);
}

#[test]
fn mainline_llama_bpe_ids() {
    check("bitnet-tiny-tq2_0", PreTokenizer::Llama3, 266);
}
