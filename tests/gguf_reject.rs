//! One test per rejection rule of the GGUF reader (spec section 1, issue 2), each asserting the
//! exact error and where it points; then the edge cases that must be accepted.

mod common;

use std::time::{Duration, Instant};

use bitlens::gguf::{to_bytes, Array, Gguf, GgufError, TensorDesc, Value, ValueType};
use bitlens::quant::GgmlType;
use common::{allocated_by, Bytes};

#[global_allocator]
static ALLOC: common::CountingAlloc = common::CountingAlloc;

fn err(bytes: &[u8]) -> GgufError {
    match Gguf::parse(bytes) {
        Ok(g) => panic!("accepted a bad file: {g:?}"),
        Err(e) => e,
    }
}

/// A v3 file with `kvs` then one F32 tensor of `n` elements, correctly laid out.
fn f32_file(meta: &[(&str, Value)], n: u64) -> Vec<u8> {
    let meta: Vec<(String, Value)> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let desc = TensorDesc {
        name: "t".into(),
        dims: vec![n],
        type_id: 0,
        n_bytes: 4 * n,
    };
    to_bytes(&meta, &[(desc, vec![0u8; 4 * n as usize])])
}

// ---- header ----

#[test]
fn bad_magic() {
    let mut b = Bytes::header(3, 0, 0);
    b.0[..4].copy_from_slice(b"GGML");
    assert_eq!(err(&b.0), GgufError::BadMagic { found: *b"GGML" });
}

#[test]
fn version_0() {
    assert_eq!(
        err(&Bytes::header(0, 0, 0).0),
        GgufError::UnsupportedVersion { version: 0 }
    );
}

#[test]
fn version_1() {
    let e = err(&Bytes::header(1, 0, 0).0);
    assert_eq!(e, GgufError::UnsupportedVersion { version: 1 });
    assert!(e.to_string().contains("version 1"), "{e}");
}

#[test]
fn version_above_3() {
    for v in [4, 0xFFFF, 0x1_0001] {
        assert_eq!(
            err(&Bytes::header(v, 0, 0).0),
            GgufError::UnsupportedVersion { version: v }
        );
    }
}

#[test]
fn big_endian() {
    // A big-endian v3 file: same magic, version bytes 00 00 00 03.
    let mut b = Bytes::default();
    b.raw(b"GGUF")
        .raw(&3u32.to_be_bytes())
        .raw(&0u64.to_be_bytes())
        .raw(&0u64.to_be_bytes());
    assert_eq!(
        err(&b.0),
        GgufError::BigEndian {
            raw_version: 0x0300_0000
        }
    );
}

// ---- metadata ----

#[test]
fn unknown_value_type() {
    let mut b = Bytes::header(3, 0, 1);
    b.str("a.key");
    let at = b.pos();
    b.u32(13).u32(0);
    assert_eq!(at, 24 + 8 + 5);
    assert_eq!(
        err(&b.0),
        GgufError::UnknownValueType {
            offset: at,
            key: "a.key".into(),
            type_id: 13
        }
    );
}

#[test]
fn unknown_array_element_type() {
    let mut b = Bytes::header(3, 0, 1);
    b.str("arr").u32(9);
    let at = b.pos();
    b.u32(99).u64(0);
    assert_eq!(
        err(&b.0),
        GgufError::UnknownValueType {
            offset: at,
            key: "arr".into(),
            type_id: 99
        }
    );
}

#[test]
fn nested_array() {
    let mut b = Bytes::header(3, 0, 1);
    b.str("nest").u32(9);
    let at = b.pos();
    b.u32(9).u64(1).u32(4).u64(1).u32(7);
    assert_eq!(
        err(&b.0),
        GgufError::NestedArray {
            offset: at,
            key: "nest".into()
        }
    );
}

#[test]
fn duplicate_key() {
    let mut b = Bytes::header(3, 0, 3);
    b.kv_u32("x", 1).kv_u32("y", 2);
    let at = b.pos();
    b.kv_u32("x", 3);
    assert_eq!(
        err(&b.0),
        GgufError::DuplicateKey {
            offset: at,
            key: "x".into()
        }
    );
}

#[test]
fn empty_key() {
    let mut b = Bytes::header(3, 0, 2);
    b.kv_u32("x", 1);
    let at = b.pos();
    b.kv_u32("", 2);
    assert_eq!(err(&b.0), GgufError::EmptyKey { offset: at });
}

#[test]
fn invalid_utf8_key() {
    let mut b = Bytes::header(3, 0, 1);
    let at = b.pos();
    b.u64(2).raw(&[0xC3, 0x28]).u32(4).u32(0);
    assert_eq!(
        err(&b.0),
        GgufError::InvalidUtf8 {
            offset: at + 8,
            what: "key of metadata entry 0".into()
        }
    );
}

// ---- general.alignment ----

fn alignment_err(v: Value) -> GgufError {
    // The writer falls back to 32 for a bad alignment, so the rest of the file is well formed.
    err(&f32_file(&[("general.alignment", v)], 4))
}

#[test]
fn alignment_zero() {
    assert_eq!(
        alignment_err(Value::U32(0)),
        GgufError::BadAlignment {
            offset: 24,
            detail: "0 is not a non-zero power of two".into()
        }
    );
}

#[test]
fn alignment_not_power_of_two() {
    assert_eq!(
        alignment_err(Value::U32(48)),
        GgufError::BadAlignment {
            offset: 24,
            detail: "48 is not a non-zero power of two".into()
        }
    );
}

#[test]
fn alignment_wrong_type() {
    assert_eq!(
        alignment_err(Value::U64(32)),
        GgufError::BadAlignment {
            offset: 24,
            detail: "stored as u64, must be u32".into()
        }
    );
    assert!(matches!(
        alignment_err(Value::I32(32)),
        GgufError::BadAlignment { offset: 24, .. }
    ));
    assert!(matches!(
        alignment_err(Value::String("32".into())),
        GgufError::BadAlignment { offset: 24, .. }
    ));
}

// ---- tensor table ----

/// One tensor entry (after no metadata), then padding and `data` zero bytes.
fn one_tensor(name: &str, dims: &[u64], type_id: u32, offset: u64, data: usize) -> Vec<u8> {
    let mut b = Bytes::header(3, 1, 0);
    b.tensor(name, dims, type_id, offset).pad_to(32).zeros(data);
    b.done()
}

#[test]
fn tensor_name_64_bytes() {
    let name = "n".repeat(64);
    assert_eq!(
        err(&one_tensor(&name, &[4], 0, 0, 16)),
        GgufError::TensorNameTooLong {
            offset: 24,
            name: name.clone(),
            len: 64
        }
    );
    // 63 bytes is the longest allowed.
    let ok = Gguf::parse(&one_tensor(&name[..63], &[4], 0, 0, 16)).unwrap();
    assert_eq!(ok.tensors[0].name.len(), 63);
}

#[test]
fn empty_tensor_name() {
    assert_eq!(
        err(&one_tensor("", &[4], 0, 0, 16)),
        GgufError::EmptyTensorName { offset: 24 }
    );
}

#[test]
fn duplicate_tensor_name() {
    let mut b = Bytes::header(3, 2, 0);
    b.tensor("w", &[4], 0, 0);
    let at = b.pos();
    b.tensor("w", &[4], 0, 32).pad_to(32).zeros(64);
    assert_eq!(
        err(&b.0),
        GgufError::DuplicateTensor {
            offset: at,
            tensor: "w".into()
        }
    );
}

#[test]
fn more_than_4_dims() {
    assert_eq!(
        err(&one_tensor("t", &[1, 1, 1, 1, 1], 0, 0, 4)),
        GgufError::TooManyDims {
            offset: 24,
            tensor: "t".into(),
            n_dims: 5
        }
    );
}

#[test]
fn negative_dim() {
    assert_eq!(
        err(&one_tensor("t", &[4, u64::MAX], 0, 0, 16)),
        GgufError::NegativeDim {
            offset: 24,
            tensor: "t".into(),
            dim: 1,
            value: -1
        }
    );
}

#[test]
fn overflowing_element_count() {
    // Each dim is a valid i64, their product is not.
    assert_eq!(
        err(&one_tensor("t", &[1 << 32, 1 << 32], 0, 0, 16)),
        GgufError::ElementCountOverflow {
            offset: 24,
            tensor: "t".into()
        }
    );
}

#[test]
fn overflowing_byte_size() {
    // 2^62 F64 elements is a legal count but 2^65 bytes.
    assert_eq!(
        err(&one_tensor("t", &[1 << 62], 28, 0, 16)),
        GgufError::SizeOverflow {
            offset: 24,
            tensor: "t".into()
        }
    );
}

#[test]
fn unknown_tensor_type() {
    for id in [4, 5, 31, 33, 43, 1000] {
        assert_eq!(
            err(&one_tensor("t", &[32], id, 0, 1024)),
            GgufError::UnknownTensorType {
                offset: 24,
                tensor: "t".into(),
                type_id: id
            },
            "id {id}"
        );
    }
}

#[test]
fn row_not_block_multiple() {
    assert_eq!(
        err(&one_tensor("q", &[33, 2], 8, 0, 1024)),
        GgufError::RowNotBlockMultiple {
            tensor: "q".into(),
            ne0: 33,
            block: 32,
            type_name: "Q8_0"
        }
    );
    assert_eq!(
        err(&one_tensor("q", &[128], 35, 0, 1024)),
        GgufError::RowNotBlockMultiple {
            tensor: "q".into(),
            ne0: 128,
            block: 256,
            type_name: "TQ2_0"
        }
    );
}

#[test]
fn unaligned_offset() {
    let mut b = Bytes::header(3, 2, 0);
    b.tensor("a", &[4], 0, 0)
        .tensor("b", &[4], 0, 16)
        .pad_to(32)
        .zeros(64);
    assert_eq!(
        err(&b.0),
        GgufError::UnalignedOffset {
            tensor: "b".into(),
            offset: 16,
            alignment: 32
        }
    );
}

#[test]
fn tensor_past_end() {
    // 8 F32 = 32 bytes, only 31 present.
    let bytes = one_tensor("t", &[8], 0, 0, 31);
    let data_start = bytes.len() as u64 - 31;
    assert_eq!(
        err(&bytes),
        GgufError::TensorPastEnd {
            tensor: "t".into(),
            start: data_start,
            end: data_start + 32,
            file_len: bytes.len() as u64
        }
    );
    // An offset that overflows when added to the data start.
    let bytes = one_tensor("t", &[8], 0, u64::MAX - 31, 32);
    assert!(matches!(err(&bytes), GgufError::TensorPastEnd { ref tensor, .. } if tensor == "t"));
}

#[test]
fn truncated_header_names_the_field() {
    let mut b = Bytes::header(3, 0, 1);
    b.str("k").u32(4).raw(&[1, 2]);
    assert_eq!(
        err(&b.0),
        GgufError::Truncated {
            offset: 37,
            what: "value of key 'k'".into(),
            needed: 4,
            file_len: 39
        }
    );
}

// ---- huge counts: rejected at once, before allocating or looping ----

fn assert_quick_and_small(bytes: &[u8]) -> GgufError {
    let t = Instant::now();
    let (r, alloc) = allocated_by(|| Gguf::parse(bytes));
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
    assert!(alloc < 4096, "allocated {alloc} bytes");
    r.expect_err("huge count accepted")
}

#[test]
fn huge_kv_count() {
    let mut b = Bytes::header(3, 0, 1 << 40);
    b.kv_u32("a", 1);
    assert_eq!(
        assert_quick_and_small(&b.0),
        GgufError::CountTooLarge {
            offset: 16,
            what: "metadata count".into(),
            count: 1 << 40,
            max: 17 / 12
        }
    );
}

#[test]
fn huge_tensor_count() {
    let mut b = Bytes::header(3, 1 << 40, 0);
    b.zeros(100);
    assert_eq!(
        assert_quick_and_small(&b.0),
        GgufError::CountTooLarge {
            offset: 8,
            what: "tensor count".into(),
            count: 1 << 40,
            max: 100 / 24
        }
    );
}

#[test]
fn huge_array_count() {
    for (elem, size) in [(0u32, 1u64), (8, 8), (12, 8)] {
        let mut b = Bytes::header(3, 0, 1);
        b.str("arr").u32(9).u32(elem);
        let at = b.pos();
        b.u64(1 << 40).zeros(64);
        assert_eq!(
            assert_quick_and_small(&b.0),
            GgufError::CountTooLarge {
                offset: at,
                what: "array count of key 'arr'".into(),
                count: 1 << 40,
                max: 64 / size
            },
            "element type {elem}"
        );
    }
}

#[test]
fn huge_string_length() {
    let mut b = Bytes::header(3, 0, 1);
    b.str("s").u32(8);
    let at = b.pos();
    b.u64(1 << 40).raw(b"short");
    assert_eq!(
        assert_quick_and_small(&b.0),
        GgufError::CountTooLarge {
            offset: at,
            what: "length of value of key 's'".into(),
            count: 1 << 40,
            max: 5
        }
    );
    // A key length, too.
    let mut b = Bytes::header(3, 0, 1);
    b.u64(u64::MAX).zeros(20);
    assert!(matches!(
        assert_quick_and_small(&b.0),
        GgufError::CountTooLarge { offset: 24, .. }
    ));
}

/// The bug this guards against: counts were bounded by the whole file's length, so the first
/// kilobyte of a 64 MiB stream claiming 5 million keys reserved hundreds of megabytes up front
/// (gigabytes for a real model's size: an abort in wasm).
#[test]
fn streaming_prefix_with_huge_counts_reserves_little() {
    let file_len = 1u64 << 26;
    let mut b = Bytes::header(3, 0, file_len / 12 - 10);
    b.kv_u32("a", 1);
    let (r, alloc) = allocated_by(|| Gguf::parse_prefix(&b.0, file_len));
    assert!(matches!(r, Err(GgufError::NeedMore { .. })), "{r:?}");
    assert!(
        alloc < 64 * 1024,
        "reserved {alloc} bytes for a 1 KiB prefix"
    );
    // Same for a string array.
    let mut b = Bytes::header(3, 0, 1);
    b.str("arr")
        .u32(9)
        .u32(8)
        .u64(file_len / 8 - 10)
        .zeros(1000);
    let (r, alloc) = allocated_by(|| Gguf::parse_prefix(&b.0, file_len));
    assert!(matches!(r, Err(GgufError::NeedMore { .. })), "{r:?}");
    assert!(
        alloc < 64 * 1024,
        "reserved {alloc} bytes for a 1 KiB prefix"
    );
}

// ---- accepted edge cases ----

#[test]
fn empty_arrays_of_every_type() {
    let ids = [0u32, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12];
    let mut b = Bytes::header(3, 0, ids.len() as u64);
    for id in ids {
        b.str(&format!("empty.{id}")).u32(9).u32(id).u64(0);
    }
    let g = Gguf::parse(&b.0).unwrap();
    for id in ids {
        let a = g.get_array(&format!("empty.{id}")).unwrap();
        assert!(a.is_empty());
        assert_eq!(a.elem_type(), ValueType::from_id(id).unwrap());
    }
}

#[test]
fn bool_is_any_nonzero_byte() {
    let mut b = Bytes::header(3, 0, 2);
    b.str("b").u32(7).u8(2);
    b.str("bs").u32(9).u32(7).u64(3).raw(&[0, 1, 255]);
    let g = Gguf::parse(&b.0).unwrap();
    assert_eq!(g.get("b"), Some(&Value::Bool(true)));
    assert_eq!(
        g.get_array("bs"),
        Some(&Array::Bool(vec![false, true, true]))
    );
}

#[test]
fn zero_tensors_have_no_padding() {
    let b = to_bytes(&[("general.name".into(), Value::String("x".into()))], &[]);
    let g = Gguf::parse(&b).unwrap();
    assert_eq!(b.len(), 24 + 8 + 12 + 4 + 8 + 1);
    assert_eq!(g.header_len, b.len() as u64);
    assert_eq!(g.data_offset, b.len() as u64);
    assert!(g.tensors.is_empty());
}

#[test]
fn version_2() {
    let mut b = f32_file(&[("general.name", Value::String("v2".into()))], 4);
    b[4..8].copy_from_slice(&2u32.to_le_bytes());
    let g = Gguf::parse(&b).unwrap();
    assert_eq!(g.version, 2);
    assert_eq!(g.get_str("general.name"), Some("v2"));
    assert_eq!(g.tensors[0].n_bytes, 16);
}

#[test]
fn zero_dims_and_zero_elements() {
    let mut b = Bytes::header(3, 2, 0);
    b.tensor("scalar", &[], 0, 0)
        .tensor("empty", &[0, 7], 0, 32)
        .pad_to(32)
        .zeros(32);
    let g = Gguf::parse(&b.0).unwrap();
    assert_eq!(g.tensors[0].n_elements, 1);
    assert_eq!(g.tensors[0].n_bytes, 4);
    assert_eq!(g.tensors[1].n_elements, 0);
    assert_eq!(g.tensors[1].n_bytes, 0);
}

#[test]
fn alignment_1_32_64() {
    for a in [1u32, 32, 64] {
        let meta = vec![("general.alignment".to_string(), Value::U32(a))];
        let t = |name: &str, n: u64| {
            (
                TensorDesc {
                    name: name.into(),
                    dims: vec![n],
                    type_id: 1,
                    n_bytes: 2 * n,
                },
                vec![7u8; 2 * n as usize],
            )
        };
        let bytes = to_bytes(&meta, &[t("a", 3), t("b", 5)]);
        let g = Gguf::parse(&bytes).unwrap();
        let a = a as u64;
        assert_eq!(g.alignment, a);
        assert_eq!(g.data_offset % a, 0);
        assert_eq!(g.data_offset, g.header_len.div_ceil(a) * a);
        assert_eq!(g.tensors[1].offset, 6u64.div_ceil(a) * a);
        assert_eq!(g.tensors[1].data_end(), bytes.len() as u64);
        assert!(g.notes.is_empty(), "{:?}", g.notes);
    }
    // With alignment 1 there is no padding at all.
    let bytes = to_bytes(
        &[("general.alignment".into(), Value::U32(1))],
        &[(
            TensorDesc {
                name: "x".into(),
                dims: vec![3],
                type_id: 24,
                n_bytes: 3,
            },
            vec![1, 2, 3],
        )],
    );
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.data_offset, g.header_len);
}

fn fork_file(arch: &str, type_id: u32, dims: &[u64], n_bytes: u64) -> Vec<u8> {
    let meta = vec![(
        "general.architecture".to_string(),
        Value::String(arch.into()),
    )];
    let desc = TensorDesc {
        name: "w".into(),
        dims: dims.to_vec(),
        type_id,
        n_bytes,
    };
    to_bytes(&meta, &[(desc, vec![0u8; n_bytes as usize])])
}

#[test]
fn i2_s_in_fork_arch_is_n_over_4_plus_32() {
    for arch in ["bitnet", "bitnet-25", "bitnet-b1.58"] {
        let b = fork_file(arch, 36, &[256, 3], 256 * 3 / 4 + 32);
        let g = Gguf::parse(&b).unwrap();
        let t = &g.tensors[0];
        assert_eq!(t.ggml_type, GgmlType::I2_S, "{arch}");
        assert_eq!(t.type_id, 36);
        assert_eq!(t.n_bytes, 192 + 32);
        assert!(!t.size_inferred);
        assert!(g.is_fork_arch());
    }
}

#[test]
fn i2_s_that_does_not_fit_is_past_end() {
    let mut b = fork_file("bitnet-b1.58", 36, &[256, 3], 256 * 3 / 4 + 32);
    b.pop();
    assert!(matches!(
        err(&b),
        GgufError::TensorPastEnd { ref tensor, file_len, .. } if tensor == "w" && file_len == b.len() as u64
    ));
}

#[test]
fn id_36_rejected_and_39_is_mxfp4_outside_the_fork() {
    let b = fork_file("llama", 36, &[256], 256 / 4 + 32);
    assert_eq!(
        err(&b),
        GgufError::UnknownTensorType {
            offset: Gguf::parse(&fork_file("llama", 0, &[256], 1024))
                .unwrap()
                .tensors[0]
                .info_offset,
            tensor: "w".into(),
            type_id: 36
        }
    );
    let g = Gguf::parse(&fork_file("llama", 39, &[64, 2], 4 * 17)).unwrap();
    assert_eq!(g.tensors[0].ggml_type, GgmlType::MXFP4);
    assert_eq!(g.tensors[0].n_bytes, 68);
    // No architecture at all is not the fork either.
    let b = to_bytes(
        &[],
        &[(
            TensorDesc {
                name: "w".into(),
                dims: vec![128],
                type_id: 36,
                n_bytes: 64,
            },
            vec![0; 64],
        )],
    );
    assert!(matches!(
        err(&b),
        GgufError::UnknownTensorType { type_id: 36, .. }
    ));
}

#[test]
fn id_39_in_fork_arch_is_tl2_listed_with_inferred_size() {
    let g = Gguf::parse(&fork_file("bitnet", 39, &[256, 4], 100)).unwrap();
    let t = &g.tensors[0];
    assert_eq!(t.ggml_type, GgmlType::TL2);
    assert!(t.size_inferred);
    assert_eq!(t.n_bytes, 100);
    assert!(g.notes.iter().any(|n| n.contains("TL2")), "{:?}", g.notes);
}

#[test]
fn gaps_and_reordering_are_notes_not_errors() {
    let mut b = Bytes::header(3, 2, 0);
    b.tensor("late", &[8], 0, 64)
        .tensor("early", &[8], 0, 0)
        .pad_to(32)
        .zeros(96);
    let g = Gguf::parse(&b.0).unwrap();
    assert_eq!(g.tensor("late").unwrap().offset, 64);
    assert_eq!(g.tensor("early").unwrap().offset, 0);
    assert_eq!(g.notes.len(), 2, "{:?}", g.notes);
    assert!(g.notes[0].contains("gap of 64 bytes before tensor 'late'"));
    assert!(g.notes[1].contains("'early'") && g.notes[1].contains("out of declaration order"));
}
