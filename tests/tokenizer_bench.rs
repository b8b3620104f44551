//! Timing, not a test (ignored): vocabulary load and 100 KB encodes on the LLaMA-3 vocabulary
//! (128256 tokens, 280147 merges), both pre-tokenizers. Run:
//!   bash scripts/fetch-llama3-vocab.sh
//!   cargo test --release --test tokenizer_bench -- --ignored --nocapture

mod tokenizer_support;

use bitlens::gguf::Gguf;
use bitlens::tokenizer::Tokenizer;
use std::time::Instant;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// 100 KB inputs: prose with code and digits, one 100 KB "word" of letters, 100 KB of digits,
/// CJK without spaces.
fn inputs() -> Vec<(&'static str, String)> {
    let prose = "The quick brown fox jumps over the lazy dog; it's 1234.5 times faster!\n\tfn f(x) { x + 1 }  ";
    let letters: String = (0..100_000u32)
        .map(|i| (b'a' + ((i * 7 + i / 13) % 26) as u8) as char)
        .collect();
    let digits: String = (0..100_000u32)
        .map(|i| (b'0' + ((i * 3 + i / 7) % 10) as u8) as char)
        .collect();
    let cjk: String = (0..33_334u32)
        .map(|i| char::from_u32(0x4e00 + (i * 37) % 20000).unwrap())
        .collect();
    let cut = |s: String| {
        s.chars()
            .scan(0, |n, c| {
                *n += c.len_utf8();
                (*n <= 100_000).then_some(c)
            })
            .collect::<String>()
    };
    vec![
        ("prose", cut(prose.repeat(100_000 / prose.len() + 1))),
        ("letters, no spaces", letters),
        ("digits, no spaces", digits),
        ("CJK, no spaces", cut(cjk)),
    ]
}

#[test]
#[ignore]
fn llama3_timing() {
    for pre in [None, Some("llama-bpe")] {
        let bytes = tokenizer_support::llama3_vocab(pre);
        let t = Instant::now();
        let g = Gguf::parse(&bytes).unwrap();
        let parse = ms(t);
        let t = Instant::now();
        let tok = Tokenizer::from_gguf(&g).unwrap();
        let build = ms(t);
        println!(
            "llama3 pre={:?}: parse GGUF {parse:.1} ms, build tokenizer {build:.1} ms",
            pre.unwrap_or("(none)")
        );
        for (name, text) in inputs() {
            let t = Instant::now();
            let n = tok.encode(&text, true, true).len();
            println!(
                "  encode {} bytes {name}: {:.1} ms, {n} ids",
                text.len(),
                ms(t)
            );
        }
    }
}
