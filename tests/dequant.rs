//! Rows to f32: hand-built blocks encoded independently from the spec's formulas, every error,
//! and the shared fixtures (checked against bitnet.cpp's own trace).
// Native only: `wasm-pack test` builds every test target for wasm32, where usize is 32 bits.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use bitlens::gguf::Gguf;
use bitlens::quant::dequant::{dequantize_rows, row_count, DequantError, TensorRowsError};
use bitlens::quant::GgmlType;
use common::{read_fixture, Rng};
use half::f16;

fn rows(ty: GgmlType, data: &[u8], ne0: usize, r: std::ops::Range<usize>) -> Vec<f32> {
    let mut out = vec![f32::NAN; r.len() * ne0];
    dequantize_rows(ty, data, ne0, r, &mut out).unwrap();
    out
}

fn f16_bytes(x: f32) -> [u8; 2] {
    f16::from_f32(x).to_bits().to_le_bytes()
}

#[test]
fn f32_f16_bf16() {
    let vals = [1.5f32, -2.25, 0.0, 65504.0, -0.000_061_035_156];
    let f32b: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(rows(GgmlType::F32, &f32b, 5, 0..1), vals);
    let f16b: Vec<u8> = vals.iter().flat_map(|&v| f16_bytes(v)).collect();
    assert_eq!(rows(GgmlType::F16, &f16b, 5, 0..1), vals);
    // bf16 keeps the top 16 bits of an f32.
    let bf: Vec<u8> = [0x3FC0u16, 0xC010, 0x0000, 0x7F80, 0x8001]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let got = rows(GgmlType::BF16, &bf, 1, 0..5);
    assert_eq!(got[..4], [1.5, -2.25, 0.0, f32::INFINITY]);
    assert_eq!(got[4].to_bits(), 0x8001_0000);
    // Row selection: 3 rows of 2, rows 1..3.
    let six: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    assert_eq!(rows(GgmlType::F32, &six, 2, 1..3), [2.0, 3.0, 4.0, 5.0]);
}

#[test]
fn q8_0_block() {
    let mut b = f16_bytes(0.5).to_vec();
    b.extend((0..32).map(|i| (i as i8 * 4 - 64) as u8));
    let got = rows(GgmlType::Q8_0, &b, 32, 0..1);
    for (i, v) in got.iter().enumerate() {
        assert_eq!(*v, 0.5 * (i as f32 * 4.0 - 64.0));
    }
    assert_eq!(got[0], -32.0);
}

#[test]
fn q4_0_and_q4_1_blocks() {
    let qs: Vec<u8> = (0..16).map(|j| (j as u8) | ((15 - j as u8) << 4)).collect();
    let mut b = f16_bytes(2.0).to_vec();
    b.extend(&qs);
    let got = rows(GgmlType::Q4_0, &b, 32, 0..1);
    for j in 0..16 {
        assert_eq!(got[j], 2.0 * (j as f32 - 8.0));
        assert_eq!(got[j + 16], 2.0 * (15.0 - j as f32 - 8.0));
    }
    let mut b = f16_bytes(0.25).to_vec();
    b.extend(f16_bytes(-1.0));
    b.extend(&qs);
    let got = rows(GgmlType::Q4_1, &b, 32, 0..1);
    for j in 0..16 {
        assert_eq!(got[j], 0.25 * j as f32 - 1.0);
        assert_eq!(got[j + 16], 0.25 * (15 - j) as f32 - 1.0);
    }
}

/// Encodes 256 codes (0..=3) into a TQ2_0 block by the spec's formula.
fn tq2_0_block(codes: &[u8; 256], d: f32) -> Vec<u8> {
    let mut qs = [0u8; 64];
    for (e, &c) in codes.iter().enumerate() {
        qs[(e / 128) * 32 + e % 32] |= c << (2 * ((e % 128) / 32));
    }
    let mut b = qs.to_vec();
    b.extend(f16_bytes(d));
    b
}

#[test]
fn tq2_0_blocks_including_code_3() {
    let mut rng = Rng::new(7);
    let mut data = Vec::new();
    let mut want = Vec::new();
    for (blk, d) in [0.5f32, -0.125, 3.0].into_iter().enumerate() {
        let mut codes = [0u8; 256];
        for c in codes.iter_mut() {
            *c = rng.below(4) as u8;
        }
        codes[blk] = 3;
        data.extend(tq2_0_block(&codes, d));
        want.extend(codes.iter().map(|&c| (c as f32 - 1.0) * d));
    }
    // 3 blocks = 3 rows of 256, or 1 row of 768.
    assert_eq!(rows(GgmlType::TQ2_0, &data, 256, 0..3), want);
    assert_eq!(rows(GgmlType::TQ2_0, &data, 768, 0..1), want);
    assert_eq!(rows(GgmlType::TQ2_0, &data, 256, 1..2), want[256..512]);
    // Code 3 decodes as +2d.
    assert_eq!(want[0], 2.0 * 0.5);
    assert_eq!(rows(GgmlType::TQ2_0, &data, 256, 0..1)[0], 1.0);
}

/// Packs up to 5 base-3 digits (first = most significant) as the spec says.
fn pack_trits(digits: &[u8]) -> u8 {
    let mut v = 0u32;
    for n in 0..5 {
        v = v * 3 + *digits.get(n).unwrap_or(&0) as u32;
    }
    // The spec's formula verbatim (it is a ceiling division).
    #[allow(clippy::manual_div_ceil)]
    let byte = (v * 256 + 242) / 243;
    byte as u8
}

/// Encodes 256 codes (0..=2) into a TQ1_0 block by the spec's element-to-(byte, trit) map.
fn tq1_0_block(codes: &[u8; 256], d: f32) -> Vec<u8> {
    let mut digits = [[0u8; 5]; 52]; // 48 qs + 4 qh bytes
    for (e, &c) in codes.iter().enumerate() {
        let (byte, trit) = match e {
            0..=159 => (e % 32, e / 32),
            160..=239 => (32 + (e - 160) % 16, (e - 160) / 16),
            _ => (48 + (e - 240) % 4, (e - 240) / 4),
        };
        digits[byte][trit] = c;
    }
    let mut b: Vec<u8> = digits.iter().map(|d| pack_trits(d)).collect();
    b.extend(f16_bytes(d));
    b
}

#[test]
fn tq1_0_blocks_by_the_packing_formula() {
    let mut rng = Rng::new(11);
    let mut data = Vec::new();
    let mut want = Vec::new();
    for d in [1.0f32, -0.75] {
        let mut codes = [0u8; 256];
        for c in codes.iter_mut() {
            *c = rng.below(3) as u8;
        }
        data.extend(tq1_0_block(&codes, d));
        want.extend(codes.iter().map(|&c| (c as f32 - 1.0) * d));
    }
    assert_eq!(data.len(), 108);
    assert_eq!(rows(GgmlType::TQ1_0, &data, 256, 0..2), want);
    assert_eq!(rows(GgmlType::TQ1_0, &data, 512, 0..1), want);
    // Every 5-digit combination survives the round trip.
    for v in 0..243u32 {
        let digits: Vec<u8> = (0..5).map(|n| (v / 3u32.pow(4 - n) % 3) as u8).collect();
        let x = pack_trits(&digits);
        let mut codes = [1u8; 256];
        codes[..5].copy_from_slice(&digits); // elements 0, 1, .. sit in bytes 0..4, trit 0
        let got = rows(GgmlType::TQ1_0, &tq1_0_block(&codes, 1.0), 256, 0..1);
        for (e, &c) in digits.iter().enumerate() {
            assert_eq!(got[e], c as f32 - 1.0, "v={v} byte={x}");
        }
    }
}

/// Packs ternary codes (0, 1, 2) as I2_S by the spec, with a scale and 28 garbage tail bytes.
fn i2_s_tensor(codes: &[u8], scale: f32) -> Vec<u8> {
    assert_eq!(codes.len() % 128, 0);
    let mut b = vec![0u8; codes.len() / 4];
    for (i, &c) in codes.iter().enumerate() {
        let (blk, p) = (i / 128, i % 128);
        b[32 * blk + p % 32] |= c << (6 - 2 * (p / 32));
    }
    b.extend(scale.to_le_bytes());
    b.extend([0xA5u8; 28]);
    b
}

#[test]
fn i2_s_layout_and_tail_scale() {
    let mut rng = Rng::new(3);
    let codes: Vec<u8> = (0..384).map(|_| rng.below(3) as u8).collect();
    let data = i2_s_tensor(&codes, 0.75);
    assert_eq!(data.len(), 384 / 4 + 32);
    let want: Vec<f32> = codes.iter().map(|&c| (c as f32 - 1.0) * 0.75).collect();
    assert_eq!(rows(GgmlType::I2_S, &data, 128, 0..3), want);
    // Rows of 192 straddle the 128-element blocks.
    assert_eq!(rows(GgmlType::I2_S, &data, 192, 1..2), want[192..]);
    assert_eq!(rows(GgmlType::I2_S, &data, 64, 3..5), want[192..320]);
    // Element 128b+32+p lives in bits 5..4 of byte 32b+p.
    let mut one = vec![1u8; 256];
    one[128 + 32 + 5] = 2;
    let d = i2_s_tensor(&one, 2.0);
    assert_eq!(d[32 + 5], 0b01_10_01_01);
    let got = rows(GgmlType::I2_S, &d, 256, 0..1);
    assert_eq!(got.iter().filter(|&&v| v != 0.0).count(), 1);
    assert_eq!(got[165], 2.0);
}

#[test]
fn errors() {
    let q = vec![0u8; 34 * 4];
    let mut out = vec![0.0; 64];
    let e = |ty, data: &[u8], ne0, r: std::ops::Range<usize>, out: &mut [f32]| {
        dequantize_rows(ty, data, ne0, r, out).unwrap_err()
    };
    assert_eq!(
        e(GgmlType::Q5_K, &q, 256, 0..1, &mut out),
        DequantError::Unsupported { type_name: "Q5_K" }
    );
    assert_eq!(
        e(GgmlType::Q8_0, &q, 48, 0..1, &mut out),
        DequantError::BadRowLength {
            type_name: "Q8_0",
            ne0: 48
        }
    );
    assert_eq!(
        e(GgmlType::Q8_0, &q, 0, 0..1, &mut out),
        DequantError::BadRowLength {
            type_name: "Q8_0",
            ne0: 0
        }
    );
    assert_eq!(
        e(GgmlType::Q8_0, &q[..100], 32, 0..1, &mut out),
        DequantError::BadDataLength {
            type_name: "Q8_0",
            ne0: 32,
            len: 100
        }
    );
    assert_eq!(
        e(GgmlType::Q8_0, &q, 64, 1..3, &mut out),
        DequantError::RowsOutOfRange {
            start: 1,
            end: 3,
            n_rows: 2
        }
    );
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 2..1;
    assert!(matches!(
        e(GgmlType::Q8_0, &q, 32, backwards, &mut out),
        DequantError::RowsOutOfRange { .. }
    ));
    assert_eq!(
        e(GgmlType::Q8_0, &q, 32, 0..1, &mut out),
        DequantError::OutputLength {
            expected: 32,
            got: 64
        }
    );
    // I2_S: the tail must be there and the codes a whole number of 128-blocks and of rows.
    for len in [0, 31, 32 + 16] {
        assert!(matches!(
            row_count(GgmlType::I2_S, len, 128),
            Err(DequantError::BadDataLength { .. })
        ));
    }
    assert!(matches!(
        row_count(GgmlType::I2_S, 32 + 96, 256),
        Err(DequantError::BadDataLength { .. })
    ));
    assert_eq!(row_count(GgmlType::I2_S, 32 + 96, 192), Ok(2));
    // Found by fuzzing: a zero-row tensor whose row is too big for usize (2^62 F64 = 2^65 bytes
    // on 64-bit, 2^30 F64 = 2^33 on wasm32) made the row size wrap to 0 and divided by it.
    assert_eq!(
        row_count(GgmlType::F64, 0, 1usize << (usize::BITS - 2)),
        Err(DequantError::Unsupported { type_name: "F64" })
    );
    assert_eq!(
        row_count(GgmlType::F32, 0, 1usize << (usize::BITS - 2)),
        Ok(0)
    );
    assert_eq!(row_count(GgmlType::Q8_0, 0, usize::MAX / 32 * 32), Ok(0));
    assert!(matches!(
        row_count(GgmlType::F32, 4, 1usize << (usize::BITS - 2)),
        Err(DequantError::BadDataLength { .. })
    ));
    assert_eq!(row_count(GgmlType::I2_S, 32, 128), Ok(0));
}

// ---- the fixtures ----

const I2S: &str = "fixtures/bitnet-b158-tiny-i2_s.gguf";

fn trace_entry(name: &str, op: &str) -> Vec<f32> {
    let trace: serde_json::Value =
        serde_json::from_slice(&read_fixture("fixtures/bitnet-b158-tiny-i2_s.trace.json")).unwrap();
    let e = trace["prompt_decode"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name && e["op"] == op)
        .unwrap_or_else(|| panic!("{name} {op} not in the trace"));
    e["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn token_embd_rows_match_bitnet_cpp_get_rows() {
    let file = read_fixture(I2S);
    let g = Gguf::parse(&file).unwrap();
    let want = trace_entry("inp_embd", "GET_ROWS");
    let ids = [395usize, 267, 288, 293, 294];
    assert_eq!(want.len(), ids.len() * 256);
    for (k, &id) in ids.iter().enumerate() {
        let row = g
            .tensor_rows_f32(&file, "token_embd.weight", id..id + 1)
            .unwrap();
        assert_eq!(row, want[k * 256..(k + 1) * 256], "token {id}");
    }
}

#[test]
fn i2_s_values_are_minus_zero_plus_scale() {
    let file = read_fixture(I2S);
    let g = Gguf::parse(&file).unwrap();
    let mut n = 0;
    for t in g.tensors.iter().filter(|t| t.ggml_type == GgmlType::I2_S) {
        let data = g.tensor_data(&file, t).unwrap();
        let s = f32::from_le_bytes(data[data.len() - 32..][..4].try_into().unwrap());
        assert!(s > 0.0 && s.is_finite(), "{}: scale {s}", t.name);
        let v = g
            .tensor_rows_f32(&file, &t.name, 0..t.n_rows() as usize)
            .unwrap();
        let count = |x: f32| v.iter().filter(|&&y| y == x).count();
        let (neg, zero, pos) = (count(-s), count(0.0), count(s));
        assert_eq!(neg + zero + pos, v.len(), "{}", t.name);
        // A ternary quantization of random weights uses all three values plenty.
        for c in [neg, zero, pos] {
            assert!(c > v.len() / 8, "{}: {neg} {zero} {pos}", t.name);
        }
        n += 1;
    }
    assert_eq!(n, 14);
}

/// bitnet.cpp's `Qcur-0` is attn_q times the int8-quantized `attn_norm-0` (fixtures README,
/// rule 1). Rebuilding it from our dequantized weights proves the I2_S layout, not just the
/// value set: any misplaced code changes the dot products.
#[test]
fn i2_s_rows_reproduce_bitnet_cpp_qcur() {
    let file = read_fixture(I2S);
    let g = Gguf::parse(&file).unwrap();
    let x = trace_entry("attn_norm-0", "MUL");
    let want = trace_entry("Qcur-0", "MUL_MAT");
    let w = g
        .tensor_rows_f32(&file, "blk.0.attn_q.weight", 0..256)
        .unwrap();
    let t = g.tensor("blk.0.attn_q.weight").unwrap();
    let data = g.tensor_data(&file, t).unwrap();
    let scale = f32::from_le_bytes(data[data.len() - 32..][..4].try_into().unwrap());
    for tok in 0..5 {
        let xs = &x[tok * 256..(tok + 1) * 256];
        let amax = xs.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
        let s = (127.0 / amax.max(1e-5)) as f32;
        let q: Vec<i32> = xs
            .iter()
            .map(|&v| ((v * s).round_ties_even() as i32).clamp(-128, 127))
            .collect();
        for row in 0..256 {
            let dot: i32 = (0..256)
                .map(|k| q[k] * (w[row * 256 + k] / scale).round() as i32)
                .sum();
            let y = dot as f32 / s * scale;
            let r = want[tok * 256 + row];
            assert!(
                (y - r).abs() <= 1e-5 * r.abs().max(1.0),
                "token {tok} row {row}: {y} vs {r}"
            );
        }
    }
}

#[test]
fn tq2_0_fixture_rows() {
    let file = read_fixture("fixtures/bitnet-tiny-tq2_0.gguf");
    let g = Gguf::parse(&file).unwrap();
    let t = g
        .tensors
        .iter()
        .find(|t| t.ggml_type == GgmlType::TQ2_0)
        .unwrap();
    let data = g.tensor_data(&file, t).unwrap();
    let v = g
        .tensor_rows_f32(&file, &t.name, 0..t.n_rows() as usize)
        .unwrap();
    // Each 256-block is (code - 1) * d with its own d from the block's last two bytes.
    for (b, chunk) in v.chunks(256).enumerate() {
        let d = f16::from_le_bytes([data[b * 66 + 64], data[b * 66 + 65]]).to_f32();
        for &x in chunk {
            let c = x / d;
            assert!([-1.0, 0.0, 1.0, 2.0].contains(&c), "block {b}: {x} / {d}");
        }
    }
}

#[test]
fn tensor_level_errors_name_the_tensor() {
    let file = read_fixture(I2S);
    let g = Gguf::parse(&file).unwrap();
    assert_eq!(
        g.tensor_rows_f32(&file, "nope", 0..1),
        Err(TensorRowsError::File(
            bitlens::gguf::GgufError::NoSuchTensor {
                tensor: "nope".into()
            }
        ))
    );
    let e = g
        .tensor_rows_f32(&file, "token_embd.weight", 511..513)
        .unwrap_err();
    assert_eq!(
        e,
        TensorRowsError::Dequant {
            tensor: "token_embd.weight".into(),
            error: DequantError::RowsOutOfRange {
                start: 511,
                end: 513,
                n_rows: 512
            }
        }
    );
    assert_eq!(
        e.to_string(),
        "tensor 'token_embd.weight': rows 511..513 out of range (the tensor has 512 rows)"
    );
    // Data not loaded yet (a streaming prefix).
    assert!(matches!(
        g.tensor_rows_f32(&file[..1000], "output_norm.weight", 0..1),
        Err(TensorRowsError::File(
            bitlens::gguf::GgufError::DataNotLoaded { .. }
        ))
    ));
}

#[test]
fn zero_row_tensor_with_a_huge_row() {
    // The fuzzer's file, reduced: dims [2^62, 0] F32 has no bytes and no rows.
    let mut b = common::Bytes::header(3, 1, 0);
    b.tensor("t", &[1 << 62, 0], 0, 0).pad_to(32);
    let g = Gguf::parse(&b.0).unwrap();
    assert_eq!(g.tensors[0].n_bytes, 0);
    assert_eq!(g.tensor_rows_f32(&b.0, "t", 0..0), Ok(vec![]));
    assert!(matches!(
        g.tensor_rows_f32(&b.0, "t", 0..1),
        Err(TensorRowsError::Dequant {
            error: DequantError::RowsOutOfRange { n_rows: 0, .. },
            ..
        })
    ));
}
