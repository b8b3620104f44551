//! Writer -> reader round trips exactly: every value type, tensors of several types and
//! alignments, and files written by gguf-py re-written by us.

mod common;

use bitlens::gguf::{layout, to_bytes, write_gguf, Array, Gguf, TensorDesc, Value};
use common::{fingerprint, read_fixture};

fn all_values() -> Vec<(String, Value)> {
    let v = |k: &str, v: Value| (k.to_string(), v);
    vec![
        v("general.architecture", Value::String("llama".into())),
        v("u8", Value::U8(200)),
        v("i8", Value::I8(-7)),
        v("u16", Value::U16(60000)),
        v("i16", Value::I16(-30000)),
        v("u32", Value::U32(4_000_000_000)),
        v("i32", Value::I32(-2_000_000_000)),
        v("f32", Value::F32(-1.5e-7)),
        v("bool", Value::Bool(true)),
        v("string", Value::String("žluťoučký kůň".into())),
        v("u64", Value::U64(u64::MAX - 1)),
        v("i64", Value::I64(i64::MIN + 1)),
        v("f64", Value::F64(std::f64::consts::E)),
        v("a.u8", Value::Array(Array::U8(vec![1, 2, 3]))),
        v("a.i8", Value::Array(Array::I8(vec![-1]))),
        v("a.u16", Value::Array(Array::U16(vec![]))),
        v("a.i16", Value::Array(Array::I16(vec![-2, 2]))),
        v("a.u32", Value::Array(Array::U32(vec![7; 10]))),
        v("a.i32", Value::Array(Array::I32(vec![i32::MIN]))),
        v("a.f32", Value::Array(Array::F32(vec![0.5, -0.0]))),
        v("a.bool", Value::Array(Array::Bool(vec![true, false]))),
        v(
            "a.string",
            Value::Array(Array::String(vec!["".into(), "x".into()])),
        ),
        v("a.u64", Value::Array(Array::U64(vec![u64::MAX]))),
        v("a.i64", Value::Array(Array::I64(vec![-1, 1]))),
        v("a.f64", Value::Array(Array::F64(vec![1e300]))),
    ]
}

fn tensor(name: &str, dims: &[u64], type_id: u32, n_bytes: u64, fill: u8) -> (TensorDesc, Vec<u8>) {
    let desc = TensorDesc {
        name: name.into(),
        dims: dims.to_vec(),
        type_id,
        n_bytes,
    };
    (desc, vec![fill; n_bytes as usize])
}

#[test]
fn round_trip_every_value_type_and_tensors() {
    for alignment in [None, Some(1u32), Some(64), Some(4096)] {
        let mut meta = all_values();
        if let Some(a) = alignment {
            meta.push(("general.alignment".into(), Value::U32(a)));
        }
        let tensors = vec![
            tensor("f32", &[3, 2], 0, 24, 1),
            tensor("q8", &[64], 8, 68, 2),
            tensor("tq2", &[256, 2], 35, 132, 3),
            tensor("bf16", &[5], 30, 10, 4),
        ];
        let bytes = to_bytes(&meta, &tensors);
        let g = Gguf::parse(&bytes).unwrap();
        assert_eq!(g.version, 3);
        assert_eq!(g.alignment, alignment.unwrap_or(32) as u64);
        assert_eq!(g.metadata.len(), meta.len());
        for (e, (k, v)) in g.metadata.iter().zip(&meta) {
            assert_eq!((&e.key, &e.value), (k, v));
        }
        for (t, (d, data)) in g.tensors.iter().zip(&tensors) {
            assert_eq!(
                (&t.name, &t.dims, t.type_id, t.n_bytes),
                (&d.name, &d.dims, d.type_id, d.n_bytes)
            );
            assert_eq!(g.tensor_data(&bytes, t).unwrap(), &data[..]);
        }
        assert!(g.notes.is_empty(), "{:?}", g.notes);
        // The layout agrees with what was written and what was read.
        let lay = layout(
            &meta,
            &tensors.iter().map(|t| t.0.clone()).collect::<Vec<_>>(),
        );
        assert_eq!(lay.total_len, bytes.len() as u64);
        assert_eq!(lay.header.len() as u64, g.header_len);
        let offsets: Vec<u64> = g.tensors.iter().map(|t| t.offset).collect();
        assert_eq!(lay.offsets, offsets);
    }
}

#[test]
fn rewriting_gguf_py_files_gives_the_same_reading() {
    for name in ["values", "types", "align1", "align64", "no-tensors"] {
        let file = read_fixture(&format!("data/gguf-py/{name}.gguf"));
        let g = Gguf::parse(&file).unwrap();
        let meta: Vec<(String, Value)> = g
            .metadata
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect();
        let tensors: Vec<(TensorDesc, Vec<u8>)> = g
            .tensors
            .iter()
            .map(|t| {
                let d = TensorDesc {
                    name: t.name.clone(),
                    dims: t.dims.clone(),
                    type_id: t.type_id,
                    n_bytes: t.n_bytes,
                };
                (d, g.tensor_data(&file, t).unwrap().to_vec())
            })
            .collect();
        let ours = to_bytes(&meta, &tensors);
        // gguf-py pads the end of the file (and after a header without tensors); ggml and we
        // do not. Everything up to our end is byte-identical.
        assert_eq!(ours[..], file[..ours.len()], "{name}");
        let again = Gguf::parse(&ours).unwrap();
        let strip = |s: String| s.split(" len ").next().unwrap().to_string();
        assert_eq!(
            strip(fingerprint(&Ok(again))),
            strip(fingerprint(&Ok(g))),
            "{name}"
        );
    }
}

#[test]
fn write_gguf_refuses_wrong_data_lengths() {
    let (d, _) = tensor("t", &[4], 0, 16, 0);
    let mut out = Vec::new();
    let e = write_gguf(&mut out, &[], &[d], |_| &[0u8; 15][..]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        e.to_string(),
        "tensor 't': 15 data bytes given, 16 declared"
    );
}
