//! Our reader against gguf-py's (the llama.cpp project's own Python reader) on files gguf-py
//! wrote (tools/gguf-py/gen_fixtures.py) and on the two shared fixtures. The JSON dumps are
//! committed, so this needs no Python.

mod common;

use bitlens::gguf::{Gguf, ValueType};
use common::{gguf_py::compare, read_fixture};

fn check(gguf: &str, dump: &str) -> Gguf {
    let file = read_fixture(gguf);
    let d: serde_json::Value = serde_json::from_slice(&read_fixture(dump)).unwrap();
    let g = Gguf::parse(&file).unwrap_or_else(|e| panic!("{gguf}: {e}"));
    let n = compare(&g, &file, &d);
    assert!(n > 10, "{gguf}: only {n} checks");
    g
}

fn generated(name: &str) -> Gguf {
    check(
        &format!("data/gguf-py/{name}.gguf"),
        &format!("data/gguf-py/{name}.json"),
    )
}

#[test]
fn all_value_types_and_arrays() {
    let g = generated("values");
    // All 13 value types appear, and an empty array of each of the 12 element types.
    let mut seen: Vec<&str> = g
        .metadata
        .iter()
        .map(|e| e.value.value_type().name())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 13, "{seen:?}");
    for e in g
        .metadata
        .iter()
        .filter(|e| e.key.starts_with("test.empty."))
    {
        let a = e.value.as_array().unwrap();
        assert!(a.is_empty());
        // gguf-py's reader cannot tell the element type of an empty array; we can, and the
        // generator named each key after it.
        assert_eq!(
            Some(a.elem_type().name()),
            e.key.strip_prefix("test.empty.")
        );
    }
    assert_eq!(
        g.metadata
            .iter()
            .filter(|e| e.key.starts_with("test.empty."))
            .count(),
        12
    );
    assert_eq!(g.get_u64("test.u64.1"), Some(u64::MAX));
    assert_eq!(g.get_str("test.string.2"), Some("ünïcødé ✓ 😀"));
    assert!(g.get_f64("test.f32.5").unwrap().is_nan());
    let _ = ValueType::Array;
}

#[test]
fn many_tensor_types() {
    let g = generated("types");
    let mut types: Vec<&str> = g.tensors.iter().map(|t| t.ggml_type.name()).collect();
    types.sort();
    types.dedup();
    assert!(types.len() >= 25, "{types:?}");
}

#[test]
fn alignment_1_32_64() {
    for a in [1, 32, 64] {
        let g = generated(&format!("align{a}"));
        assert_eq!(g.alignment, a);
        assert!(g.tensors.iter().all(|t| t.offset % a == 0));
    }
}

#[test]
fn zero_tensors() {
    let g = generated("no-tensors");
    assert!(g.tensors.is_empty());
    assert_eq!(g.data_offset, g.header_len);
}

#[test]
fn version_2() {
    let g = generated("v2");
    assert_eq!(g.version, 2);
}

#[test]
fn shared_fixture_i2_s() {
    let g = check(
        "fixtures/bitnet-b158-tiny-i2_s.gguf",
        "data/gguf-py/fixture-bitnet-b158-tiny-i2_s.json",
    );
    assert_eq!(g.architecture(), Some("bitnet-b1.58"));
    let q = g.tensor("blk.0.attn_q.weight").unwrap();
    assert_eq!(q.ggml_type.name(), "I2_S");
    assert_eq!(q.n_bytes, 256 * 256 / 4 + 32);
    assert_eq!(g.tensors.iter().filter(|t| t.type_id == 36).count(), 14);
}

#[test]
fn shared_fixture_tq2_0() {
    let g = check(
        "fixtures/bitnet-tiny-tq2_0.gguf",
        "data/gguf-py/fixture-bitnet-tiny-tq2_0.json",
    );
    assert_eq!(g.architecture(), Some("bitnet"));
}
