#![allow(dead_code)] // each test binary uses part of these helpers
                     // Small GGUF files built in memory for the norm tests.

use bitlens::gguf::{to_bytes, TensorDesc, Value};
use half::{bf16, f16};

#[path = "pseudo_random.rs"]
mod pseudo_random;
use pseudo_random::Rng;

/// Storage of a synthetic norm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Store {
    F32,
    F16,
    BF16,
}

impl Store {
    pub fn type_id(self) -> u32 {
        match self {
            Store::F32 => 0,
            Store::F16 => 1,
            Store::BF16 => 30,
        }
    }

    pub fn encode(self, values: &[f32]) -> Vec<u8> {
        match self {
            Store::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            Store::F16 => values
                .iter()
                .flat_map(|&v| f16::from_f32(v).to_le_bytes())
                .collect(),
            Store::BF16 => values
                .iter()
                .flat_map(|&v| bf16::from_f32(v).to_le_bytes())
                .collect(),
        }
    }

    /// What reading the stored values back gives.
    pub fn round_trip(self, values: &[f32]) -> Vec<f32> {
        match self {
            Store::F32 => values.to_vec(),
            Store::F16 => values.iter().map(|&v| f16::from_f32(v).to_f32()).collect(),
            Store::BF16 => values.iter().map(|&v| bf16::from_f32(v).to_f32()).collect(),
        }
    }
}

/// A deterministic spread of values in [0.5, 1.5) (the tests' one generator), scaled to RMS
/// `target` in f64.
pub fn gamma_with_rms(n: usize, target: f64, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let raw: Vec<f64> = (0..n).map(|_| 0.5 + rng.unit()).collect();
    let rms = (raw.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
    raw.iter().map(|v| (v * target / rms) as f32).collect()
}

pub fn rms(v: &[f32]) -> f64 {
    (v.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() / v.len() as f64).sqrt()
}

/// A tensor for `file`: name, dims, type id, bytes.
pub type Tensor = (String, Vec<u64>, u32, Vec<u8>);

pub fn norm(name: &str, store: Store, values: &[f32]) -> Tensor {
    (
        name.to_string(),
        vec![values.len() as u64],
        store.type_id(),
        store.encode(values),
    )
}

/// A raw tensor (e.g. a projection) with arbitrary bytes.
pub fn raw(name: &str, dims: &[u64], type_id: u32, bytes: Vec<u8>) -> Tensor {
    (name.to_string(), dims.to_vec(), type_id, bytes)
}

pub fn file(tensors: Vec<Tensor>) -> Vec<u8> {
    let md = vec![
        (
            "general.architecture".to_string(),
            Value::String("bitnet-b1.58".into()),
        ),
        ("general.alignment".to_string(), Value::U32(32)),
    ];
    let t: Vec<(TensorDesc, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, dims, type_id, bytes)| {
            (
                TensorDesc {
                    name,
                    dims,
                    type_id,
                    n_bytes: bytes.len() as u64,
                },
                bytes,
            )
        })
        .collect();
    to_bytes(&md, &t)
}
