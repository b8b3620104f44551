//! Q4_K and Q6_K rows (llama-quantize's embedding types for TQ files) dequantize as gguf-py
//! does (tests/data/kquants/reference.json, made by tools/kquants_reference.py), and a Q4_K
//! tied head multiplies like its dequantized rows.

use bitlens::kernels::matrix::FloatInput;
use bitlens::kernels::{matvec, ActScratch, Matrix};
use bitlens::quant::dequant::dequantize_rows;
use bitlens::quant::GgmlType;
use serde_json::Value;

fn reference(name: &str) -> (Vec<u8>, Vec<f32>) {
    let v: Value = serde_json::from_str(include_str!("data/kquants/reference.json")).unwrap();
    let hex = v[name]["hex"].as_str().unwrap();
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let values = v[name]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    (bytes, values)
}

#[test]
fn q4_k_and_q6_k_rows_equal_gguf_py() {
    for (name, ty) in [("Q4_K", GgmlType::Q4_K), ("Q6_K", GgmlType::Q6_K)] {
        let (bytes, want) = reference(name);
        // Three blocks: one row of 768 and three rows of 256 decode alike.
        let mut got = vec![0f32; want.len()];
        dequantize_rows(ty, &bytes, 768, 0..1, &mut got).unwrap();
        assert_eq!(got, want, "{name}");
        let mut row = vec![0f32; 256];
        dequantize_rows(ty, &bytes, 256, 2..3, &mut row).unwrap();
        assert_eq!(row, want[512..], "{name} row 2");
    }
}

#[test]
fn k_quant_matvec_equals_dequantized_rows() {
    for (name, ty) in [("Q4_K", GgmlType::Q4_K), ("Q6_K", GgmlType::Q6_K)] {
        let (bytes, w) = reference(name);
        let m = Matrix {
            ty,
            data: &bytes,
            rows: 3,
            cols: 256,
            scale: 1.0,
            finite: false,
            layout: bitlens::quant::I2sLayout::Plain,
        };
        let x: Vec<f32> = (0..256)
            .map(|i| ((i * 29 % 97) as f32 - 48.0) / 31.0)
            .collect();
        let mut out = [0f32; 3];
        matvec(
            &m,
            &x,
            &mut ActScratch::default(),
            FloatInput::VEC_DOT,
            &mut out,
        );
        for r in 0..3 {
            let f: f32 = w[r * 256..(r + 1) * 256]
                .iter()
                .zip(&x)
                .map(|(a, b)| a * b)
                .sum();
            // The activation is quantized to Q8_K as mainline does: about 1% of the row's scale.
            let scale: f32 = w[r * 256..(r + 1) * 256]
                .iter()
                .zip(&x)
                .map(|(a, b)| (a * b).abs())
                .sum();
            assert!(
                (out[r] - f).abs() <= 0.01 * scale,
                "{name} row {r}: {} vs {f}",
                out[r]
            );
        }
    }
}
