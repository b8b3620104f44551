//! The tokenizer in Chromium (`wasm-pack test --headless --chrome`): the same parity checks as the
//! native tests on the small vocabularies (both fixtures and the committed SmolLM2 vocabulary),
//! through the page's API (`GgufFile.tokenizer()`) and the core directly, plus round trips and a
//! printed (not asserted) load/encode timing.
#![cfg(target_arch = "wasm32")]

mod tokenizer_support;

use bitlens::api::GgufFile;
use bitlens::gguf::Gguf;
use bitlens::tokenizer::Tokenizer;
use js_sys::{Date, Uint8Array};
use serde_json::Value as Json;
use tokenizer_support::{hex, ids};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test as test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const I2S: &[u8] = include_bytes!("fixtures/bitnet-b158-tiny-i2_s.gguf");
const I2S_GOLDEN: &str = include_str!("fixtures/bitnet-b158-tiny-i2_s.golden.json");
const TQ2: &[u8] = include_bytes!("fixtures/bitnet-tiny-tq2_0.gguf");
const TQ2_GOLDEN: &str = include_str!("fixtures/bitnet-tiny-tq2_0.golden.json");
const SMOLLM2: &[u8] = include_bytes!("data/tokenizer/smollm2-135m.vocab.gguf");
const GOLDENS: &str = include_str!("data/tokenizer/goldens.json");

fn file(bytes: &[u8]) -> GgufFile {
    let mut f = GgufFile::new(bytes.len() as f64).unwrap();
    f.push(&Uint8Array::from(bytes)).unwrap();
    f.finish().unwrap();
    f
}

/// (text, llama.cpp ids) pairs of a fixture golden file.
fn fixture_cases(golden: &str) -> Vec<(String, Vec<u32>)> {
    let g: Json = serde_json::from_str(golden).unwrap();
    g["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                String::from_utf8(hex(c["prompt_hex"].as_str().unwrap())).unwrap(),
                ids(&c["prompt_ids"]),
            )
        })
        .collect()
}

fn smollm2_cases() -> Vec<(String, Vec<u32>)> {
    let g: Json = serde_json::from_str(GOLDENS).unwrap();
    let texts = g["strings_hex"].as_array().unwrap();
    let want = g["vocabs"]["smollm2"]["ids"].as_array().unwrap();
    assert!(texts.len() >= 60);
    texts
        .iter()
        .zip(want)
        .map(|(t, w)| (String::from_utf8(hex(t.as_str().unwrap())).unwrap(), ids(w)))
        .collect()
}

fn check(bytes: &[u8], cases: &[(String, Vec<u32>)]) {
    let api = file(bytes).tokenizer().unwrap();
    let core = Tokenizer::from_gguf(&Gguf::parse(bytes).unwrap()).unwrap();
    for (text, want) in cases {
        assert_eq!(&core.encode(text, true, true), want, "{text:?}");
        assert_eq!(
            &api.tokenize(text, None, None).to_vec(),
            want,
            "{text:?} (api)"
        );
        let no_bos = core.encode(text, false, true);
        if text.bytes().all(|b| core.byte_token(b).is_some()) {
            assert_eq!(&api.detokenize(&no_bos).unwrap(), text);
        }
    }
}

#[test]
fn bitnet_cpp_default_pre_tokenizer() {
    check(I2S, &fixture_cases(I2S_GOLDEN));
}

#[test]
fn mainline_llama_bpe() {
    check(TQ2, &fixture_cases(TQ2_GOLDEN));
}

#[test]
fn smollm2_hard_strings() {
    check(SMOLLM2, &smollm2_cases());
}

#[test]
fn api_info_pieces_and_chat() {
    let t = file(I2S).tokenizer().unwrap();
    let info = t.info().unwrap();
    let get = |k: &str| js_sys::Reflect::get(&info, &JsValue::from_str(k)).unwrap();
    assert_eq!(get("pre").as_string().unwrap(), "default");
    assert_eq!(get("nVocab").as_f64(), Some(512.0));
    assert_eq!(get("bos").as_f64(), Some(395.0));
    assert!(t.is_eog(397) && t.is_eog(396) && !t.is_eog(395));
    // A plain JS array of plain objects, as the page passes it.
    let messages = js_sys::JSON::parse(r#"[{"role": "user", "content": "Hi"}]"#).unwrap();
    assert_eq!(
        t.chat_prompt(messages, None).unwrap(),
        "User: Hi<|eot_id|>Assistant: "
    );
    let ids = t.tokenize("Hi<|eot_id|>", None, None).to_vec();
    assert_eq!(*ids.last().unwrap(), 397);
    let pieces = t.pieces(&ids).unwrap();
    let last = js_sys::Array::from(&pieces).get(ids.len() as u32 - 1);
    let text = js_sys::Reflect::get(&last, &JsValue::from_str("text")).unwrap();
    assert_eq!(text.as_string().unwrap(), "<|eot_id|>");
    assert!(t.detokenize(&[512]).is_err());
}

/// Not an assertion: the time to build the SmolLM2 tokenizer (49152 tokens, 48900 merges) and to
/// encode 100 KB, printed to the test log.
#[test]
fn timing_smollm2() {
    let t0 = Date::now();
    let g = Gguf::parse(SMOLLM2).unwrap();
    let t1 = Date::now();
    let tok = Tokenizer::from_gguf(&g).unwrap();
    let t2 = Date::now();
    let prose = "The quick brown fox jumps over the lazy dog, 1234 times! ".repeat(1800);
    let n_prose = tok.encode(&prose[..100_000], true, true).len();
    let t3 = Date::now();
    let nospace: String = (0..100_000u32)
        .map(|i| (b'a' + ((i * 7 + i / 13) % 26) as u8) as char)
        .collect();
    let n_nospace = tok.encode(&nospace, true, true).len();
    let t4 = Date::now();
    web_sys::console::log_1(
        &format!(
            "smollm2 in wasm: parse {:.0} ms, build {:.0} ms, 100 KB prose {:.0} ms ({n_prose} ids), 100 KB no spaces {:.0} ms ({n_nospace} ids)",
            t1 - t0,
            t2 - t1,
            t3 - t2,
            t4 - t3
        )
        .into(),
    );
}
