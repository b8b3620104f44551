//! `bitlens inspect`: the built binary on fixtures and on broken files.

mod common;

use common::cli::{bitlens, Run};
use common::{fixture_arg as path, read_fixture, Bytes};

fn inspect(args: &[&str]) -> Run {
    bitlens(&[&["inspect"], args].concat(), &[])
}

/// Exit status 1, nothing on stdout, exactly one line on stderr; returns that line.
fn one_line_error(o: &Run) -> String {
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(o.stdout.is_empty());
    let err = &o.stderr;
    assert_eq!(err.matches('\n').count(), 1, "{err:?}");
    assert!(err.ends_with('\n'));
    err.trim_end().to_string()
}

#[test]
fn table_of_the_i2_s_fixture() {
    let o = inspect(&[&path("fixtures/bitnet-b158-tiny-i2_s.gguf")]);
    assert!(o.status.success());
    assert!(o.stderr.is_empty());
    let out = o.stdout;
    assert!(
        out.contains("GGUF v3, 586176 bytes, 24 metadata keys, 24 tensors"),
        "{out}"
    );
    assert!(out.contains("architecture bitnet-b1.58 (bitnet.cpp fork"));
    let q = out
        .lines()
        .find(|l| l.trim_start().starts_with("blk.0.attn_q.weight "))
        .unwrap();
    let cols: Vec<&str> = q.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "blk.0.attn_q.weight",
            "I2_S",
            "[256,",
            "256]",
            "281600",
            "16416"
        ]
    );
    // Long arrays are summarized, not dumped.
    let tokens = out
        .lines()
        .find(|l| l.contains("tokenizer.ggml.tokens"))
        .unwrap();
    assert!(
        tokens.contains("string[512]") && tokens.contains("... 506 more]"),
        "{tokens}"
    );
    assert!(out.contains("24 tensors, 568768 bytes of data"));
}

#[test]
fn json_of_the_i2_s_fixture() {
    let o = inspect(&[&path("fixtures/bitnet-b158-tiny-i2_s.gguf"), "--json"]);
    assert!(o.status.success());
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(j["format"], "bitlens-inspect-1");
    assert_eq!(j["version"], 3);
    assert_eq!(j["file_size"], 586176);
    assert_eq!(j["data_offset"], 17408);
    assert_eq!(j["architecture"], "bitnet-b1.58");
    assert_eq!(j["fork_types"], true);
    assert_eq!(j["metadata"].as_array().unwrap().len(), 24);
    let tokens = &j["metadata"][15];
    assert_eq!(tokens["key"], "tokenizer.ggml.tokens");
    assert_eq!(tokens["elem_type"], "string");
    assert_eq!(tokens["len"], 512);
    assert_eq!(tokens["value"][395], "<|begin_of_text|>");
    assert_eq!(j["metadata"][11]["value"], serde_json::json!(1e-5));
    let t = &j["tensors"][3];
    assert_eq!(
        *t,
        serde_json::json!({
            "name": "blk.0.attn_q.weight", "type": "I2_S", "type_id": 36, "shape": [256, 256],
            "n_elements": 65536, "offset": 264192, "data_offset": 281600, "n_bytes": 16416,
            "size_inferred": false
        })
    );
}

#[test]
fn json_keeps_u64_exact_and_odd_floats() {
    let o = inspect(&["--json", &path("data/gguf-py/values.gguf")]);
    assert!(o.status.success());
    let text = o.stdout;
    assert!(text.contains(r#""key":"test.u64.1","type":"u64","value":18446744073709551615"#));
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    let get = |k: &str| {
        j["metadata"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == k)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(get("test.u64.2"), serde_json::json!(9007199254740993u64));
    assert_eq!(get("test.i64.0"), serde_json::json!(i64::MIN));
    assert_eq!(get("test.f32.0"), serde_json::json!(0.1));
    assert_eq!(get("test.f32.5"), "nan");
    assert_eq!(get("test.f64.3"), "-inf");
    assert_eq!(get("test.empty.f64"), serde_json::json!([]));
}

#[test]
fn corrupt_file_is_one_line_on_stderr() {
    // The fixture cut inside its data: the header is fine, a tensor runs past the end.
    let dir = std::env::temp_dir().join(format!("bitlens-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let full = read_fixture("fixtures/bitnet-b158-tiny-i2_s.gguf");
    let cut = dir.join("cut.gguf");
    std::fs::write(&cut, &full[..290_000]).unwrap();
    let cut = cut.to_str().unwrap();
    let err = one_line_error(&inspect(&[cut]));
    assert_eq!(
        err,
        format!(
            "bitlens: {cut}: tensor 'blk.0.attn_q.weight': data spans bytes 281600..298016 but the file has 290000 bytes"
        )
    );
    // A key holding a newline, then a duplicate of it: still one line, and --json fails the same.
    let mut b = Bytes::header(3, 0, 2);
    b.kv_u32("a\nb", 1).kv_u32("a\nb", 2);
    let dup = dir.join("dup.gguf");
    std::fs::write(&dup, &b.0).unwrap();
    let dup = dup.to_str().unwrap();
    let err = one_line_error(&inspect(&[dup, "--json"]));
    assert_eq!(
        err,
        format!("bitlens: {dup}: duplicate key 'a\\nb' at offset 43")
    );
    // Bad magic.
    let txt = dir.join("notes.txt");
    std::fs::write(&txt, "hello world, not a model").unwrap();
    let err = one_line_error(&inspect(&[txt.to_str().unwrap()]));
    assert!(
        err.ends_with("bad magic at offset 0: expected \"GGUF\", found 68 65 6c 6c"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_file_and_bad_usage() {
    let err = one_line_error(&inspect(&["/nonexistent/x.gguf"]));
    assert!(err.starts_with("bitlens: /nonexistent/x.gguf: "), "{err}");
    let err = one_line_error(&inspect(&[]));
    assert_eq!(
        err,
        "bitlens: inspect: usage: bitlens inspect FILE [--json]"
    );
    one_line_error(&inspect(&["a", "b", "c"]));
}
