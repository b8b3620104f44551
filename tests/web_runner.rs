//! In Chromium: `ModelRunner`'s rescale decision comes from the core's `RescalePolicy`
//! (`{rescale, strict}`; the older `ab` still works), a context past the file's is allowed, a
//! prompt longer than the context is refused naming both lengths, and the pair stepped together
//! gives each mode the tokens and probes of a runner with that mode alone; the batched prefill
//! equals token-by-token `forward` in wasm too.
//!
//! Run: wasm-pack test --headless --chrome -- --no-default-features --test web_runner
#![cfg(target_arch = "wasm32")]

use bitlens::api::{GgufFile, ModelRunner};
use bitlens::gguf::Gguf;
use bitlens::model::{forward, Generator, Model, Pass, SamplerConfig};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const I2S: &[u8] = include_bytes!("fixtures/bitnet-b158-tiny-i2_s.gguf");
const TQ2: &[u8] = include_bytes!("fixtures/bitnet-tiny-tq2_0.gguf");

fn get(v: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(v, &key.into()).unwrap()
}

fn file(bytes: &[u8]) -> GgufFile {
    let mut f = GgufFile::new(bytes.len() as f64).unwrap();
    f.push(&js_sys::Uint8Array::from(bytes)).unwrap();
    f
}

fn load(f: &GgufFile, json: &str) -> Result<ModelRunner, JsValue> {
    ModelRunner::load(f, js_sys::JSON::parse(json).unwrap())
}

fn modes(info: &JsValue) -> Vec<String> {
    js_sys::Array::from(&get(info, "modes"))
        .iter()
        .map(|m| m.as_string().unwrap())
        .collect()
}

#[wasm_bindgen_test]
fn rescale_and_strict_options_report_the_policys_outcome() {
    let f = file(I2S);
    let base = r#""temperature": 0, "ctx": 64"#;
    let info = |json: &str| {
        load(&f, &format!("{{{base}{json}}}"))
            .unwrap()
            .info()
            .unwrap()
    };

    let applied = info(r#", "rescale": true"#);
    assert_eq!(get(&get(&applied, "rescale"), "status"), "applied");
    assert_eq!(modes(&applied), ["baseline", "rescaled"]);
    assert_eq!(
        js_sys::Array::from(&get(&applied, "rescaleRecords")).length(),
        9
    );

    let refused = info(r#", "rescale": true, "strict": true"#);
    let r = get(&refused, "rescale");
    assert_eq!(get(&r, "status"), "refused_by_strict");
    let reason = get(&r, "reason").as_string().unwrap();
    assert!(
        reason.starts_with("gamma rescale refused: strict mode"),
        "{reason}"
    );
    assert_eq!(modes(&refused), ["baseline"]);
    assert_eq!(get(&refused, "ab"), false);
    assert_eq!(
        js_sys::Array::from(&get(&refused, "rescaleRecords")).length(),
        0
    );

    let off = info(r#", "rescale": false"#);
    assert_eq!(get(&get(&off, "rescale"), "status"), "off");
    assert_eq!(modes(&off), ["baseline"]);
    // Defaults: rescale on, not strict (as `ab: true` was). The older `ab` still works.
    assert_eq!(modes(&info("")), ["baseline", "rescaled"]);
    assert_eq!(modes(&info(r#", "ab": false"#)), ["baseline"]);
    assert_eq!(modes(&info(r#", "strict": true"#)), ["baseline"]);

    // A mode that does not run is an error naming why.
    let mut r = load(&f, &format!("{{{base}, \"strict\": true}}")).unwrap();
    r.prompt(&f, "The quick brown fox", false).unwrap();
    let err = r.next_token(&f, "rescaled").err().unwrap();
    let msg = get(&err, "message").as_string().unwrap();
    assert!(
        msg.contains("no rescaled mode (rescale: refused by strict mode)"),
        "{msg}"
    );
}

#[wasm_bindgen_test]
fn context_past_the_file_and_prompt_too_long() {
    let f = file(TQ2);
    let mut r = load(&f, r#"{"temperature": 0, "ctx": 512, "maxTokens": 200}"#).unwrap();
    assert_eq!(get(&r.info().unwrap(), "nCtx").as_f64(), Some(512.0));
    // Generation goes past the file's 128 positions.
    r.prompt_ids(&f, vec![266, 1, 2, 3]).unwrap();
    let mut last = JsValue::UNDEFINED;
    for _ in 0..140 {
        last = r.next_token(&f, "baseline").unwrap();
        r.next_token(&f, "rescaled").unwrap();
    }
    assert!(get(&last, "pos").as_f64().unwrap() > 128.0);

    let mut r = load(&f, r#"{"ctx": 8}"#).unwrap();
    let err = r.prompt_ids(&f, (0..10).collect()).err().unwrap();
    let msg = get(&err, "message").as_string().unwrap();
    assert_eq!(msg, "the prompt has 10 tokens, more than the context of 8");
    assert!(load(&f, r#"{"ctx": 0}"#).is_err());
}

/// Each mode of a runner with both equals a runner with that mode alone (tokens, text,
/// positions and probes), the modes asked in turn as the page does.
#[wasm_bindgen_test]
fn pair_together_equals_each_mode_alone() {
    let f = file(I2S);
    let opts = r#""temperature": 0.8, "seed": 5, "ctx": 128, "maxTokens": 12"#;
    let steps = |r: &mut ModelRunner, mode: &str| -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let s = r.next_token(&f, mode).unwrap();
            if s.is_undefined() {
                return out;
            }
            out.push(js_sys::JSON::stringify(&s).unwrap().as_string().unwrap());
        }
    };
    let mut both = load(&f, &format!("{{{opts}}}")).unwrap();
    both.prompt(&f, "The quick brown fox", false).unwrap();
    let mut got = [Vec::new(), Vec::new()];
    loop {
        let b = both.next_token(&f, "baseline").unwrap();
        let r = both.next_token(&f, "rescaled").unwrap();
        if b.is_undefined() && r.is_undefined() {
            break;
        }
        for (out, s) in got.iter_mut().zip([b, r]) {
            if !s.is_undefined() {
                out.push(js_sys::JSON::stringify(&s).unwrap().as_string().unwrap());
            }
        }
    }
    let mut alone = load(&f, &format!("{{{opts}, \"rescale\": false}}")).unwrap();
    alone.prompt(&f, "The quick brown fox", false).unwrap();
    assert_eq!(got[0], steps(&mut alone, "baseline"));
    assert_eq!(got[0].len(), 12);
    // The rescaled mode alone: the same generator in a pair whose baseline is never asked.
    let mut solo = load(&f, &format!("{{{opts}}}")).unwrap();
    solo.prompt(&f, "The quick brown fox", false).unwrap();
    assert_eq!(got[1], steps(&mut solo, "rescaled"));
}

#[wasm_bindgen_test]
fn batched_prefill_equals_token_by_token_in_wasm() {
    for bytes in [I2S, TQ2] {
        let g = Gguf::parse(bytes).unwrap();
        let m = Model::load(&g, bytes).unwrap();
        let prompt: Vec<u32> = (0..80u32).map(|i| (i * 37 + 11) % 256).collect();
        let mut s = m.new_state(128).unwrap();
        let pass = Pass {
            in_batch: true,
            logits: true,
        };
        for (p, &t) in prompt.iter().enumerate() {
            forward(&m, &m.norms, bytes, &mut s, t, p, pass).unwrap();
        }
        let mut gen = Generator::new(&m, m.norms.clone(), 128, SamplerConfig::greedy(), 1).unwrap();
        gen.prefill(&m, bytes, &prompt).unwrap();
        assert!(gen.state.logits == s.logits);
        assert_eq!(gen.state.probe, s.probe);
    }
}
