//! Row-parallel products give the same bits for any thread count: greedy ids, every step's
//! logits and the prompt's per-token NLLs with 1, 2 and 3 threads, on both fixtures (whose
//! products are split from 4096 weights on) and on the real SmolLM2 file; and
//! `matvec` of every weight type with 1 to 4 threads on random weights.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use bitlens::kernels::matrix::{FloatInput, MATVEC_TYPES};
use bitlens::kernels::{matvec, ActScratch, Matrix};
use bitlens::model::Isa;
use bitlens::quant::GgmlType;
use serde_json::Value;

#[path = "common/model_parity.rs"]
mod model_parity;

#[path = "common/thread_parity.rs"]
mod thread_parity;

use thread_parity::{same_for_thread_counts, SPLIT_FROM};

fn same_for_any_thread_count(file: &[u8], isa: Isa, prompt: &[u32], steps: usize) {
    same_for_thread_counts(file, isa, prompt, steps, &[2, 3]);
}

fn fixture_case(name: &str) -> (Vec<u8>, Vec<u32>) {
    let file = common::read_fixture(&format!("fixtures/{name}.gguf"));
    let golden: Value = serde_json::from_slice(&common::read_fixture(&format!(
        "fixtures/{name}.golden.json"
    )))
    .unwrap();
    let prompt = model_parity::ids(&golden["cases"][0]["prompt_ids"]);
    (file, prompt)
}

#[test]
fn i2s_fixture_same_bits_for_any_thread_count() {
    let (file, prompt) = fixture_case("bitnet-b158-tiny-i2_s");
    same_for_any_thread_count(&file, Isa::Avx2, &prompt, 12);
}

#[test]
fn tq2_fixture_same_bits_for_any_thread_count() {
    let (file, prompt) = fixture_case("bitnet-tiny-tq2_0");
    same_for_any_thread_count(&file, Isa::Avx2, &prompt, 12);
}

#[test]
fn smollm2_same_bits_for_any_thread_count() {
    let file = common::read_smollm2();
    let prompt = thread_parity::smollm2_prompt(&file);
    same_for_any_thread_count(&file, Isa::Avx512, &prompt, 8);
}

#[test]
fn every_weight_type_same_bits_for_any_thread_count() {
    let (rows, cols) = (300, 512);
    let mut rng = common::Rng(0x2545_f491_4f6c_dd1d);
    let mut next = move || rng.next();
    let x: Vec<f32> = (0..cols)
        .map(|_| (next() % 20001) as f32 / 1000.0 - 10.0)
        .collect();
    for &ty in MATVEC_TYPES {
        let bytes = match ty {
            GgmlType::I2_S => rows * cols / 4, // without the scale tail, as `Matrix` holds it
            _ => ty.tensor_bytes(cols as u64, (rows * cols) as u64).unwrap() as usize,
        };
        let mut data: Vec<u8> = (0..bytes).map(|_| next() as u8).collect();
        // Finite scales and values: every 16-bit float field set to a small F16 value where the
        // type has block scales, small F16/BF16/F32 weights elsewhere.
        let small_f16 =
            |r: u64| half::f16::from_f32((r % 2000) as f32 / 4000.0 - 0.25).to_le_bytes();
        match ty {
            GgmlType::F16 => data
                .chunks_exact_mut(2)
                .for_each(|c| c.copy_from_slice(&small_f16(next()))),
            GgmlType::BF16 => data.chunks_exact_mut(2).for_each(|c| {
                c.copy_from_slice(
                    &half::bf16::from_f32((next() % 2000) as f32 / 4000.0).to_le_bytes(),
                )
            }),
            GgmlType::F32 => data
                .chunks_exact_mut(4)
                .for_each(|c| c.copy_from_slice(&((next() % 2000) as f32 / 4000.0).to_le_bytes())),
            _ => {
                let (bb, at): (usize, &[usize]) = match ty {
                    GgmlType::TQ1_0 => (54, &[52]),
                    GgmlType::TQ2_0 => (66, &[64]),
                    GgmlType::Q4_0 => (18, &[0]),
                    GgmlType::Q4_1 => (20, &[0, 2]),
                    GgmlType::Q8_0 => (34, &[0]),
                    GgmlType::Q4_K => (144, &[0, 2]),
                    GgmlType::Q6_K => (210, &[208]),
                    _ => (0, &[]),
                };
                if bb > 0 {
                    for blk in data.chunks_exact_mut(bb) {
                        for &a in at {
                            blk[a..a + 2].copy_from_slice(&small_f16(next()));
                        }
                    }
                }
            }
        }
        let w = Matrix {
            ty,
            data: &data,
            rows,
            cols,
            scale: 0.75,
            finite: false,
            layout: bitlens::quant::I2sLayout::Plain,
        };
        let mut want = vec![0f32; rows];
        matvec(
            &w,
            &x,
            &mut ActScratch::default(),
            FloatInput::VEC_DOT,
            &mut want,
        );
        assert!(want.iter().all(|v| v.is_finite()), "{ty}");
        assert!(
            want.iter().filter(|&&v| v != 0.0).count() > rows / 2,
            "{ty}"
        );
        for threads in 2..=4 {
            let mut s = ActScratch::default();
            s.threads = threads;
            s.min_parallel_weights = SPLIT_FROM;
            let mut got = vec![0f32; rows];
            matvec(&w, &x, &mut s, FloatInput::VEC_DOT, &mut got);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{ty}, {threads} threads");
        }
    }
}
