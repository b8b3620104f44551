//! Compares our reader with a JSON dump of gguf-py's GGUFReader (tools/gguf-py/dump_json.py
//! documents the format): every key, value type and value; every tensor's name, type, shape,
//! element and byte counts and offsets; and gguf-py's dequantized values where it gave some.

use bitlens::gguf::{Array, Gguf, Value};
use bitlens::quant::GgmlType;
use serde_json::Value as J;
use sha2::{Digest, Sha256};

/// Compares `g` (parsed from `file`) with dump `d`; panics naming the first difference.
/// Returns the number of individual checks made, so callers can assert it is not trivially 0.
pub fn compare(g: &Gguf, file: &[u8], d: &J) -> usize {
    let mut n = 0;
    n += eq("version".into(), g.version.into(), &d["version"]);
    n += eq("kv_count".into(), g.metadata.len().into(), &d["kv_count"]);
    n += eq(
        "tensor_count".into(),
        g.tensors.len().into(),
        &d["tensor_count"],
    );
    n += eq("alignment".into(), g.alignment.into(), &d["alignment"]);
    n += eq(
        "file_size".into(),
        (file.len() as u64).into(),
        &d["file_size"],
    );
    if g.tensors.is_empty() {
        // ggml does not pad a file without tensors, gguf-py's reader does.
        assert_eq!(g.data_offset, g.header_len);
        let theirs = d["data_offset"].as_u64().unwrap();
        assert_eq!(theirs, g.header_len.div_ceil(g.alignment) * g.alignment);
    } else {
        n += eq(
            "data_offset".into(),
            g.data_offset.into(),
            &d["data_offset"],
        );
    }

    let meta = d["metadata"].as_array().unwrap();
    assert_eq!(g.metadata.len(), meta.len());
    for (ours, theirs) in g.metadata.iter().zip(meta) {
        let key = &ours.key;
        n += eq("key".into(), key.as_str().into(), &theirs["key"]);
        let ty = ours.value.value_type().name();
        n += eq(format!("type of {key}"), ty.into(), &theirs["type"]);
        match &ours.value {
            Value::Array(a) => {
                n += compare_array(key, a, theirs);
            }
            v => {
                assert!(
                    scalar_eq(v, &theirs["value"]),
                    "value of {key}: ours {v:?}, gguf-py {}",
                    theirs["value"]
                );
                n += 1;
            }
        }
    }

    let tensors = d["tensors"].as_array().unwrap();
    assert_eq!(g.tensors.len(), tensors.len());
    for (t, theirs) in g.tensors.iter().zip(tensors) {
        let name = &t.name;
        n += eq("tensor name".into(), name.as_str().into(), &theirs["name"]);
        n += eq(
            format!("type id of {name}"),
            t.type_id.into(),
            &theirs["type_id"],
        );
        n += eq(
            format!("shape of {name}"),
            t.dims.clone().into(),
            &theirs["shape"],
        );
        n += eq(
            format!("n_elements of {name}"),
            t.n_elements.into(),
            &theirs["n_elements"],
        );
        n += eq(
            format!("offset of {name}"),
            t.offset.into(),
            &theirs["offset"],
        );
        n += eq(
            format!("data offset of {name}"),
            t.data_start.into(),
            &theirs["data_offset"],
        );
        if theirs["type"].is_null() {
            // gguf-py cannot name the fork's types: we must, with the fork's size.
            assert_eq!(t.type_id, 36, "{name}: gguf-py named every other type");
            assert_eq!(t.ggml_type, GgmlType::I2_S, "{name}");
            assert_eq!(t.n_bytes, t.n_elements / 4 + 32, "{name}");
        } else {
            n += eq(
                format!("type of {name}"),
                t.ggml_type.name().into(),
                &theirs["type"],
            );
            n += eq(
                format!("n_bytes of {name}"),
                t.n_bytes.into(),
                &theirs["n_bytes"],
            );
        }
    }

    for (name, values) in d["dequant"].as_object().unwrap() {
        let t = g.tensor(name).unwrap();
        let ours = g
            .tensor_rows_f32(file, name, 0..t.n_rows() as usize)
            .unwrap_or_else(|e| panic!("{e}"));
        let theirs = values.as_array().unwrap();
        assert_eq!(ours.len(), theirs.len(), "{name}");
        for (i, (&x, y)) in ours.iter().zip(theirs).enumerate() {
            assert!(float_eq(x as f64, y), "{name}[{i}]: ours {x}, gguf-py {y}");
        }
        n += ours.len();
    }
    n
}

fn eq(what: String, ours: J, theirs: &J) -> usize {
    assert_eq!(&ours, theirs, "{what}");
    1
}

fn compare_array(key: &str, a: &Array, theirs: &J) -> usize {
    assert_eq!(
        a.len() as u64,
        theirs["len"].as_u64().unwrap(),
        "length of {key}"
    );
    match &theirs["elem_type"] {
        // gguf-py's reader loses the element type of an empty array.
        J::Null => assert!(a.is_empty(), "{key}"),
        t => assert_eq!(
            a.elem_type().name(),
            t.as_str().unwrap(),
            "element type of {key}"
        ),
    }
    let elems = elements(a);
    if let Some(values) = theirs.get("value") {
        let values = values.as_array().unwrap();
        for (i, (v, j)) in elems.iter().zip(values).enumerate() {
            assert!(scalar_eq(v, j), "{key}[{i}]: ours {v:?}, gguf-py {j}");
        }
        return 1 + elems.len();
    }
    let head = theirs["head"].as_array().unwrap();
    for (i, (v, j)) in elems.iter().zip(head).enumerate() {
        assert!(scalar_eq(v, j), "{key}[{i}]: ours {v:?}, gguf-py {j}");
    }
    let digest = hex(&Sha256::digest(canonical_json(a).as_bytes()));
    assert_eq!(
        digest,
        theirs["sha256"].as_str().unwrap(),
        "sha256 of {key}"
    );
    2 + head.len()
}

/// The dump's canonical JSON of an array: compact, strings as UTF-8, floats as bit patterns.
pub fn canonical_json(a: &Array) -> String {
    fn ints<T: ToString>(v: &[T]) -> String {
        let parts: Vec<String> = v.iter().map(T::to_string).collect();
        format!("[{}]", parts.join(","))
    }
    match a {
        Array::U8(v) => ints(v),
        Array::I8(v) => ints(v),
        Array::U16(v) => ints(v),
        Array::I16(v) => ints(v),
        Array::U32(v) => ints(v),
        Array::I32(v) => ints(v),
        Array::U64(v) => ints(v),
        Array::I64(v) => ints(v),
        Array::Bool(v) => ints(v),
        Array::F32(v) => ints(&v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()),
        Array::F64(v) => ints(&v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()),
        Array::String(v) => serde_json::to_string(v).unwrap(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Each element of an array as a scalar Value, to compare with one comparison function.
fn elements(a: &Array) -> Vec<Value> {
    match a {
        Array::U8(v) => v.iter().map(|&x| Value::U8(x)).collect(),
        Array::I8(v) => v.iter().map(|&x| Value::I8(x)).collect(),
        Array::U16(v) => v.iter().map(|&x| Value::U16(x)).collect(),
        Array::I16(v) => v.iter().map(|&x| Value::I16(x)).collect(),
        Array::U32(v) => v.iter().map(|&x| Value::U32(x)).collect(),
        Array::I32(v) => v.iter().map(|&x| Value::I32(x)).collect(),
        Array::F32(v) => v.iter().map(|&x| Value::F32(x)).collect(),
        Array::Bool(v) => v.iter().map(|&x| Value::Bool(x)).collect(),
        Array::String(v) => v.iter().map(|x| Value::String(x.clone())).collect(),
        Array::U64(v) => v.iter().map(|&x| Value::U64(x)).collect(),
        Array::I64(v) => v.iter().map(|&x| Value::I64(x)).collect(),
        Array::F64(v) => v.iter().map(|&x| Value::F64(x)).collect(),
    }
}

fn scalar_eq(v: &Value, j: &J) -> bool {
    match *v {
        Value::U8(x) => j.as_u64() == Some(x as u64),
        Value::U16(x) => j.as_u64() == Some(x as u64),
        Value::U32(x) => j.as_u64() == Some(x as u64),
        Value::U64(x) => j.as_u64() == Some(x),
        Value::I8(x) => j.as_i64() == Some(x as i64),
        Value::I16(x) => j.as_i64() == Some(x as i64),
        Value::I32(x) => j.as_i64() == Some(x as i64),
        Value::I64(x) => j.as_i64() == Some(x),
        Value::F32(x) => float_eq(x as f64, j),
        Value::F64(x) => float_eq(x, j),
        Value::Bool(x) => j.as_bool() == Some(x),
        Value::String(ref s) => j.as_str() == Some(s),
        Value::Array(_) => false,
    }
}

/// Exact, sign of zero included; NaN and infinities are strings in the dump.
fn float_eq(x: f64, j: &J) -> bool {
    match j {
        J::String(s) => match s.as_str() {
            "nan" => x.is_nan(),
            "inf" => x == f64::INFINITY,
            "-inf" => x == f64::NEG_INFINITY,
            _ => false,
        },
        _ => j.as_f64().is_some_and(|y| y.to_bits() == x.to_bits()),
    }
}
