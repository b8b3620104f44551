//! `bitlens tokenize` on the fixture models: ids as llama.cpp gives them, JSON, and --decode.

use std::process::Command;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bitlens"))
        .arg("tokenize")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const I2S: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/bitnet-b158-tiny-i2_s.gguf"
);

#[test]
fn prints_ids_json_and_decodes() {
    // bitnet.cpp's ids for the fixture's first prompt start like this (BOS 395, default pre).
    let (ok, out, _) = run(&[I2S, "The quick brown fox"]);
    assert!(ok);
    assert_eq!(out.trim(), "395 267 288 293 294");
    let (ok, out, _) = run(&[I2S, "Hi<|eot_id|>", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ids"][0], 395);
    assert_eq!(v["ids"].as_array().unwrap().last().unwrap(), 397);
    assert_eq!(
        v["pieces"].as_array().unwrap().last().unwrap(),
        "<|eot_id|>"
    );
    let (ok, out, _) = run(&[I2S, "267 288 293 294", "--decode"]);
    assert!(ok);
    assert_eq!(out, "The quick brown fox\n");
}

#[test]
fn errors_name_the_problem() {
    let (ok, _, err) = run(&[I2S, "1 x", "--decode"]);
    assert!(!ok);
    assert!(err.contains("not a token id: \"x\""), "{err}");
    let (ok, _, err) = run(&[I2S, "99999", "--decode"]);
    assert!(!ok);
    assert!(
        err.contains("token id 99999 is not in the vocabulary of 512"),
        "{err}"
    );
    let (ok, _, err) = run(&["/nonexistent.gguf", "x"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent.gguf"), "{err}");
}
