//! `bitlens tokenize` on the fixture models: ids as llama.cpp gives them, JSON, and --decode.

mod common;

/// `bitlens tokenize ARGS...`: (success, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    common::cli::bitlens(&[&["tokenize"], args].concat(), &[]).parts()
}

/// The I2_S fixture's path.
fn i2s() -> String {
    common::fixture_arg("fixtures/bitnet-b158-tiny-i2_s.gguf")
}

#[test]
fn prints_ids_json_and_decodes() {
    // bitnet.cpp's ids for the fixture's first prompt start like this (BOS 395, default pre).
    let (ok, out, _) = run(&[&i2s(), "The quick brown fox"]);
    assert!(ok);
    assert_eq!(out.trim(), "395 267 288 293 294");
    let (ok, out, _) = run(&[&i2s(), "Hi<|eot_id|>", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ids"][0], 395);
    assert_eq!(v["ids"].as_array().unwrap().last().unwrap(), 397);
    assert_eq!(
        v["pieces"].as_array().unwrap().last().unwrap(),
        "<|eot_id|>"
    );
    let (ok, out, _) = run(&[&i2s(), "267 288 293 294", "--decode"]);
    assert!(ok);
    assert_eq!(out, "The quick brown fox\n");
}

#[test]
fn errors_name_the_problem() {
    let (ok, _, err) = run(&[&i2s(), "1 x", "--decode"]);
    assert!(!ok);
    assert!(err.contains("not a token id: \"x\""), "{err}");
    let (ok, _, err) = run(&[&i2s(), "99999", "--decode"]);
    assert!(!ok);
    assert!(
        err.contains("token id 99999 is not in the vocabulary of 512"),
        "{err}"
    );
    let (ok, _, err) = run(&["/nonexistent.gguf", "x"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent.gguf"), "{err}");
}
