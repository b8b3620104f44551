//! The wasm API in Chromium (`wasm-pack test --headless --chrome`): fixtures streamed into a
//! `GgufFile` in chunks of 1, 7 and 4096 bytes give exactly what one whole-file push gives and
//! what the native reader says; 64-bit integers come back as BigInt when a number would round;
//! errors are JS Errors with the reader's message and kind.
#![cfg(target_arch = "wasm32")]

use bitlens::api::GgufFile;
use bitlens::gguf::{to_bytes, Array, Gguf, Value};
use js_sys::{BigInt, Reflect, Uint8Array};
use serde_json::Value as Json;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test as test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const I2S: &[u8] = include_bytes!("fixtures/bitnet-b158-tiny-i2_s.gguf");
const TQ2: &[u8] = include_bytes!("fixtures/bitnet-tiny-tq2_0.gguf");

/// Streams `bytes` in chunks of `chunk`; returns the file and how many bytes were loaded when
/// the header became available.
fn stream(bytes: &[u8], chunk: usize) -> (GgufFile, usize) {
    let js = Uint8Array::from(bytes);
    let mut f = GgufFile::new(bytes.len() as f64).unwrap();
    let mut at = 0;
    let mut ready_at = None;
    while at < bytes.len() {
        let end = (at + chunk).min(bytes.len());
        f.push(&js.subarray(at as u32, end as u32)).unwrap();
        at = end;
        assert_eq!(f.loaded(), at as f64);
        if ready_at.is_none() && f.header_ready() {
            ready_at = Some(at);
        }
    }
    f.finish().unwrap();
    assert!(f.complete());
    (f, ready_at.expect("header parsed"))
}

fn json(v: JsValue) -> Json {
    serde_wasm_bindgen::from_value(v).unwrap()
}

/// Everything the API shows about a file, with every array fetched in full.
fn snapshot(f: &GgufFile) -> Json {
    let metadata = json(f.metadata().unwrap());
    let arrays: Vec<Json> = metadata
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "array")
        .map(|e| json(f.array(e["key"].as_str().unwrap()).unwrap()))
        .collect();
    serde_json::json!({
        "info": json(f.info().unwrap()),
        "metadata": metadata,
        "tensors": json(f.tensors().unwrap()),
        "arrays": arrays,
    })
}

/// The API's view agrees with the native reader on every key, type, tensor and offset.
fn assert_matches_native(snap: &Json, bytes: &[u8]) {
    let g = Gguf::parse(bytes).unwrap();
    let info = &snap["info"];
    assert_eq!(info["version"], g.version);
    assert_eq!(info["tensor_count"], g.tensors.len());
    assert_eq!(info["metadata_count"], g.metadata.len());
    assert_eq!(info["data_offset"], g.data_offset);
    assert_eq!(info["alignment"], g.alignment);
    assert_eq!(info["file_len"], bytes.len());
    let meta = snap["metadata"].as_array().unwrap();
    assert_eq!(meta.len(), g.metadata.len());
    for (m, e) in meta.iter().zip(&g.metadata) {
        assert_eq!(m["key"], e.key);
        assert_eq!(m["type"], e.value.value_type().name());
        assert_eq!(m["offset"], e.offset);
        match &e.value {
            Value::Array(a) => assert_eq!(m["count"], a.len(), "{}", e.key),
            Value::String(s) => assert_eq!(m["value"], s.as_str()),
            v => {
                if let Some(x) = v.as_u64() {
                    assert_eq!(m["value"], x, "{}", e.key);
                }
            }
        }
    }
    let tensors = snap["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), g.tensors.len());
    for (t, n) in tensors.iter().zip(&g.tensors) {
        assert_eq!(t["name"], n.name);
        assert_eq!(t["type"], n.ggml_type.name());
        assert_eq!(t["type_id"], n.type_id);
        assert_eq!(t["dims"], serde_json::json!(n.dims));
        assert_eq!(t["offset"], n.offset);
        assert_eq!(t["data_start"], n.data_start);
        assert_eq!(t["n_bytes"], n.n_bytes);
        assert_eq!(t["n_elements"], n.n_elements);
    }
}

fn tensor<'a>(snap: &'a Json, name: &str) -> &'a Json {
    snap["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
}

fn chunked_equals_whole(bytes: &[u8]) -> Json {
    let (whole, _) = stream(bytes, bytes.len());
    let expected = snapshot(&whole);
    assert_matches_native(&expected, bytes);
    for chunk in [1, 7, 4096] {
        let (f, ready_at) = stream(bytes, chunk);
        assert_eq!(snapshot(&f), expected, "chunks of {chunk} bytes");
        // The header was usable long before the data finished.
        let header_len = expected["info"]["header_len"].as_u64().unwrap() as usize;
        // Re-parsing waits for twice the bytes of the last attempt (see HeaderStream).
        assert!(ready_at >= header_len, "{ready_at} < {header_len}");
        assert!(
            ready_at <= (2 * header_len).max(header_len + chunk),
            "{ready_at}"
        );
        assert!(ready_at < bytes.len(), "header only at the end ({chunk})");
    }
    expected
}

#[test]
fn i2s_fixture_streams_like_a_whole_file() {
    let snap = chunked_equals_whole(I2S);
    assert_eq!(snap["info"]["architecture"], "bitnet-b1.58");
    assert_eq!(snap["info"]["fork_types"], true);
    let q = tensor(&snap, "blk.0.attn_q.weight");
    assert_eq!(q["type"], "I2_S");
    assert_eq!(q["type_id"], 36);
    assert_eq!(q["dims"], serde_json::json!([256, 256]));
    assert_eq!(q["n_bytes"], 256 * 256 / 4 + 32);
    assert_eq!(q["n_bytes"], 16416);
    let emb = tensor(&snap, "token_embd.weight");
    assert_eq!(emb["type"], "F16");
    assert_eq!(emb["n_bytes"], 262144);
}

#[test]
fn tq2_fixture_streams_like_a_whole_file() {
    let snap = chunked_equals_whole(TQ2);
    assert_eq!(snap["info"]["architecture"], "bitnet");
    let q = tensor(&snap, "blk.0.attn_q.weight");
    assert_eq!(q["type"], "TQ2_0");
    assert_eq!(q["dims"], serde_json::json!([256, 256]));
    assert_eq!(q["n_bytes"], 16896);
}

fn writer_file() -> Vec<u8> {
    let m = |k: &str, v: Value| (k.to_string(), v);
    let tokens: Vec<String> = (0..1000).map(|i| format!("tok{i}")).collect();
    to_bytes(
        &[
            m("general.architecture", Value::String("llama".into())),
            m("big.u64", Value::U64((1 << 53) + 1)),
            m("edge.u64", Value::U64(1 << 53)),
            m("safe.u64", Value::U64((1 << 53) - 1)),
            m("max.u64", Value::U64(u64::MAX)),
            m("big.i64", Value::I64(-(1 << 53) - 1)),
            m("safe.i64", Value::I64(-(1 << 53) + 1)),
            m("min.i64", Value::I64(i64::MIN)),
            m("small.i64", Value::I64(-5)),
            m(
                "arr.u64",
                Value::Array(Array::U64(vec![1, (1 << 53) - 1, u64::MAX])),
            ),
            m("arr.i64", Value::Array(Array::I64(vec![-1, i64::MIN]))),
            m("tokens", Value::Array(Array::String(tokens))),
            m("empty", Value::Array(Array::F32(vec![]))),
        ],
        &[],
    )
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &key.into()).unwrap()
}

/// The metadata entry `key` as a JS object.
fn entry(f: &GgufFile, key: &str) -> JsValue {
    let list: js_sys::Array = f.metadata().unwrap().unchecked_into();
    list.iter()
        .find(|e| get(e, "key").as_string().as_deref() == Some(key))
        .unwrap_or_else(|| panic!("no entry {key}"))
}

fn assert_bigint(v: &JsValue, digits: &str) {
    assert!(v.is_bigint(), "{v:?} should be a BigInt");
    let s: String = v
        .clone()
        .unchecked_into::<BigInt>()
        .to_string(10)
        .unwrap()
        .into();
    assert_eq!(s, digits);
}

#[test]
fn wide_integers_are_bigint_only_when_a_number_would_round() {
    let (f, _) = stream(&writer_file(), 7);
    let value = |k: &str| get(&entry(&f, k), "value");
    assert_bigint(&value("big.u64"), "9007199254740993");
    assert_bigint(&value("edge.u64"), "9007199254740992");
    assert_bigint(&value("max.u64"), "18446744073709551615");
    assert_bigint(&value("big.i64"), "-9007199254740993");
    assert_bigint(&value("min.i64"), "-9223372036854775808");
    assert_eq!(value("safe.u64").as_f64(), Some(9007199254740991.0));
    assert_eq!(value("safe.i64").as_f64(), Some(-9007199254740991.0));
    assert_eq!(value("small.i64").as_f64(), Some(-5.0));

    let arr: js_sys::Array = get(&f.array("arr.u64").unwrap(), "values").unchecked_into();
    assert_eq!(arr.length(), 3);
    assert_eq!(arr.get(0).as_f64(), Some(1.0));
    assert_eq!(arr.get(1).as_f64(), Some(9007199254740991.0));
    assert_bigint(&arr.get(2), "18446744073709551615");
    let arr: js_sys::Array = get(&entry(&f, "arr.i64"), "values").unchecked_into();
    assert_eq!(arr.get(0).as_f64(), Some(-1.0));
    assert_bigint(&arr.get(1), "-9223372036854775808");
}

#[test]
fn big_arrays_are_summarised_and_fetched_whole() {
    let (f, _) = stream(&writer_file(), 4096);
    let e = json(entry(&f, "tokens"));
    assert_eq!(e["type"], "array");
    assert_eq!(e["elem_type"], "string");
    assert_eq!(e["count"], 1000);
    assert_eq!(e["truncated"], true);
    let head = e["values"].as_array().unwrap();
    assert_eq!(head.len(), GgufFile::array_summary_length() as usize);
    assert_eq!(head[15], "tok15");
    let full = json(f.array("tokens").unwrap());
    assert_eq!(full["count"], 1000);
    assert_eq!(full["values"].as_array().unwrap().len(), 1000);
    assert_eq!(full["values"][999], "tok999");
    let empty = json(entry(&f, "empty"));
    assert_eq!(empty["count"], 0);
    assert_eq!(empty["truncated"], false);
    assert_eq!(empty["values"], serde_json::json!([]));

    let err = f.array("nope").unwrap_err();
    assert_error(&err, "no_such_key", "no metadata key 'nope'");
    let err = f.array("big.u64").unwrap_err();
    assert_error(
        &err,
        "not_an_array",
        "metadata key 'big.u64' is a u64, not an array",
    );
}

fn assert_error(err: &JsValue, kind: &str, message: &str) {
    assert!(
        err.is_instance_of::<js_sys::Error>(),
        "{err:?} is not an Error"
    );
    assert_eq!(get(err, "kind").as_string().as_deref(), Some(kind));
    let got: String = err
        .clone()
        .unchecked_into::<js_sys::Error>()
        .message()
        .into();
    assert_eq!(got, message);
}

fn push_all(f: &mut GgufFile, bytes: &[u8]) -> Result<(), JsValue> {
    f.push(&Uint8Array::from(bytes))
}

#[test]
fn header_errors_are_js_errors_with_the_readers_message_and_kind() {
    let mut bad = I2S[..4096].to_vec();
    bad[3] = b'X';
    let mut f = GgufFile::new(I2S.len() as f64).unwrap();
    let err = push_all(&mut f, &bad).unwrap_err();
    let native = Gguf::parse(&bad).unwrap_err();
    assert_eq!(native.kind(), "bad_magic");
    assert_error(&err, "bad_magic", &native.to_string());
    assert!(native.to_string().contains("offset 0"));
    // The error sticks: later calls repeat it.
    assert_error(
        &push_all(&mut f, &[0; 8]).unwrap_err(),
        "bad_magic",
        &native.to_string(),
    );
    assert_error(&f.metadata().unwrap_err(), "bad_magic", &native.to_string());

    // A file cut short inside its header: the error names what and where.
    let cut = &I2S[..1000];
    let native = Gguf::parse(cut).unwrap_err();
    let mut f = GgufFile::new(cut.len() as f64).unwrap();
    let err = push_all(&mut f, cut).unwrap_err();
    assert_error(&err, native.kind(), &native.to_string());
    assert!(native.to_string().contains("offset"), "{native}");
}

/// wasm32's one-allocation limit is isize::MAX = 2 GiB - 1 bytes: a file of 2^31 bytes, and
/// every larger size up to and past the 4 GiB a tab's memory holds, is refused as `too_large`
/// with its size and the limit; a file of exactly 2^31 - 1 bytes is allocated, or refused as
/// `out_of_memory` when the browser will not grow the memory that far, never an abort. The module
/// still loads files afterwards.
#[test]
fn one_allocation_holds_at_most_2_gib_minus_1() {
    assert_eq!(isize::MAX as u64, (1 << 31) - 1);
    for size in [
        1u64 << 31,
        (1 << 31) + 1,
        3 << 30,
        (1 << 32) - 1,
        1 << 32,
        (1 << 32) + 1,
    ] {
        assert_error(
            &GgufFile::new(size as f64).err().unwrap(),
            "too_large",
            &format!(
                "the file has {size} bytes; one wasm32 allocation holds at most 2147483647 bytes"
            ),
        );
    }
    let largest = (1u64 << 31) - 1;
    match GgufFile::new(largest as f64) {
        Ok(mut f) => {
            wasm_bindgen_test::console_log!("{largest} bytes: allocated");
            // Allocated, not yet filled: a first chunk goes in like any other.
            push_all(&mut f, &I2S[..4096]).unwrap();
            assert_eq!(f.loaded(), 4096.0);
            assert!(!f.complete());
        }
        Err(e) => {
            wasm_bindgen_test::console_log!("{largest} bytes: out of memory");
            assert_error(
                &e,
                "out_of_memory",
                &format!("cannot allocate {largest} bytes of wasm memory for the file"),
            )
        }
    }
    let (f, _) = stream(I2S, 4096);
    assert_eq!(
        json(f.info().unwrap()),
        json(stream(I2S, 7).0.info().unwrap())
    );
}

#[test]
fn misuse_is_reported_not_aborted() {
    assert_error(
        &GgufFile::new(2f64.powi(40)).err().unwrap(),
        "too_large",
        "the file has 1099511627776 bytes; one wasm32 allocation holds at most 2147483647 bytes",
    );
    assert_error(
        &GgufFile::new(1.5).err().unwrap(),
        "bad_argument",
        "file size 1.5 is not a whole number of bytes",
    );
    assert_error(
        &GgufFile::new(-1.0).err().unwrap(),
        "bad_argument",
        "file size -1 is not a whole number of bytes",
    );

    let mut f = GgufFile::new(8.0).unwrap();
    assert_error(
        &push_all(&mut f, &[0; 16]).unwrap_err(),
        "overflow",
        "a chunk of 16 bytes at offset 0 runs past the declared file size 8",
    );

    let mut f = GgufFile::new(I2S.len() as f64).unwrap();
    push_all(&mut f, &I2S[..10]).unwrap();
    assert!(!f.header_ready());
    assert_error(
        &f.tensors().unwrap_err(),
        "not_ready",
        "the GGUF header is not parsed yet (10 of 586176 bytes loaded)",
    );
    push_all(&mut f, &I2S[10..300_000]).unwrap();
    assert!(f.header_ready());
    assert!(!f.complete());
    assert_eq!(f.total(), 586176.0);
    assert_error(
        &f.finish().unwrap_err(),
        "incomplete",
        "only 300000 of the file's 586176 bytes were loaded",
    );
    // The header is already usable while the data is still missing.
    let tensors = json(f.tensors().unwrap());
    assert_eq!(tensors[3]["name"], "blk.0.attn_q.weight");
}
