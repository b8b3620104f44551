//! The experimental gamma rescale: policy from the environment, the numbers, the records, the
//! pipeline order (the test list).

#[path = "common/env_guard.rs"]
mod env_guard;
#[path = "common/synth.rs"]
mod synth;

use bitlens::gguf::Gguf;
use bitlens::norms::policy::STRICT_REFUSAL;
use bitlens::norms::{
    load_norm, load_norm_with, rescale_factor, CorrectionPipeline, CorrectionRecord,
    LoadCorrection, NormError, RescaleOutcome, RescalePolicy, ENV_RESCALE, ENV_STRICT,
};
use env_guard::EnvGuard;
use synth::*;

const NAME: &str = "blk.0.attn_norm.weight";

fn one_norm(n: usize, rms: f64, store: Store) -> (Vec<u8>, Vec<f32>) {
    let g = gamma_with_rms(n, rms, n as u64);
    (file(vec![norm(NAME, store, &g)]), store.round_trip(&g))
}

fn load(bytes: &[u8], policy: &RescalePolicy) -> (Vec<f32>, Vec<CorrectionRecord>) {
    let g = Gguf::parse(bytes).unwrap();
    let mut records = Vec::new();
    let v = load_norm(&g, bytes, NAME, policy, &mut records).unwrap();
    (v, records)
}

fn rel(a: f64, b: f64) -> f64 {
    ((a - b) / b).abs()
}

#[test]
fn disabled_by_default() {
    let _env = EnvGuard::set(&[(ENV_RESCALE, None), (ENV_STRICT, None)]);
    let policy = RescalePolicy::from_env();
    assert_eq!(policy.outcome(), RescaleOutcome::Off);
    let (bytes, stored) = one_norm(2560, 0.018, Store::F32);
    let (v, records) = load(&bytes, &policy);
    assert_eq!(v, stored);
    assert!(records.is_empty());
}

#[test]
fn other_values_leave_it_off_and_say_so() {
    let _env = EnvGuard::set(&[(ENV_RESCALE, Some("true")), (ENV_STRICT, None)]);
    let policy = RescalePolicy::from_env();
    assert_eq!(policy.outcome(), RescaleOutcome::Off);
    assert_eq!(policy.notes.len(), 1);
    assert!(policy.notes[0].starts_with("BITNET_RESCALE_GAMMA_ON_LOAD=\"true\" is not \"1\""));
    let (bytes, stored) = one_norm(256, 0.0625, Store::F32);
    let (v, records) = load(&bytes, &policy);
    assert_eq!(v, stored);
    assert!(records.is_empty());
}

#[test]
fn enabled_multiplies_rms_by_sqrt_n_with_one_record() {
    let _env = EnvGuard::set(&[(ENV_RESCALE, Some("1")), (ENV_STRICT, None)]);
    let policy = RescalePolicy::from_env();
    assert_eq!(policy.outcome(), RescaleOutcome::Applied);
    let (bytes, _) = one_norm(2560, 0.018, Store::F32);
    let (v, records) = load(&bytes, &policy);
    let want = 0.018 * 2560f64.sqrt();
    assert!(rel(rms(&v), want) < 1e-6, "{} vs {want}", rms(&v));
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.name, NAME);
    assert_eq!(r.n, 2560);
    assert_eq!(r.factor, 2560f64.sqrt());
    assert!(rel(r.rms_before, 0.018) < 1e-6);
    assert!(rel(r.rms_after, want) < 1e-6);
    assert_eq!(r.rms_after, rms(&v));
    assert_eq!(
        r.reason,
        "experimental gamma rescale by sqrt(n) (BITNET_RESCALE_GAMMA_ON_LOAD=1)"
    );
}

#[test]
fn produces_target_rms_one() {
    for n in [768usize, 2048, 2560, 4096, 6912] {
        let (bytes, _) = one_norm(n, 1.0 / (n as f64).sqrt(), Store::F32);
        let (v, records) = load(&bytes, &RescalePolicy::new(true, false));
        assert!(rel(rms(&v), 1.0) < 1e-6, "n={n}: {}", rms(&v));
        assert_eq!(records[0].n, n as u64);
    }
}

#[test]
fn strict_mode_refuses_and_reports() {
    let _env = EnvGuard::set(&[(ENV_RESCALE, Some("1")), (ENV_STRICT, Some("1"))]);
    let policy = RescalePolicy::from_env();
    assert_eq!(
        policy.outcome(),
        RescaleOutcome::RefusedByStrict {
            reason: STRICT_REFUSAL.to_string()
        }
    );
    assert!(STRICT_REFUSAL.contains("strict mode"));
    let (bytes, stored) = one_norm(2560, 0.018, Store::F32);
    let (v, records) = load(&bytes, &policy);
    assert_eq!(v, stored);
    assert!(records.is_empty());
}

#[test]
fn env_guard_restores_variables() {
    let before = {
        let _env = EnvGuard::set(&[]);
        std::env::var(ENV_RESCALE).ok()
    };
    {
        let _env = EnvGuard::set(&[(ENV_RESCALE, Some("marker"))]);
        assert_eq!(std::env::var(ENV_RESCALE).unwrap(), "marker");
    }
    let _env = EnvGuard::set(&[]);
    assert_eq!(std::env::var(ENV_RESCALE).ok(), before);
}

#[test]
fn sqrt_n_for_common_sizes() {
    assert!((rescale_factor(2048) - 45.2548).abs() < 5e-5);
    assert!((rescale_factor(2560) - 50.5964).abs() < 5e-5);
    assert_eq!(rescale_factor(4096), 64.0);
    assert_eq!(rescale_factor(6912), 6912f64.sqrt());
}

#[test]
fn exact_per_element_for_f32_f16_bf16() {
    for store in [Store::F32, Store::F16, Store::BF16] {
        let (bytes, stored) = one_norm(2560, 0.018, store);
        let (v, records) = load(&bytes, &RescalePolicy::new(true, false));
        let factor = rescale_factor(2560);
        for (i, (&after, &before)) in v.iter().zip(&stored).enumerate() {
            assert_eq!(after, (before as f64 * factor) as f32, "{store:?} [{i}]");
        }
        let r = &records[0];
        assert_eq!(r.rms_before, rms(&stored), "{store:?}");
        // RMS' = factor * RMS up to the f32 rounding of each element.
        assert!(rel(r.rms_after, factor * r.rms_before) < 1e-7, "{store:?}");
    }
}

/// A stand-in for an earlier load-time correction: adds 1 to every gamma.
struct AddOne;

impl LoadCorrection for AddOne {
    fn apply(&self, name: &str, _dims: &[u64], values: &mut [f32]) -> Option<CorrectionRecord> {
        let before = rms(values);
        values.iter_mut().for_each(|v| *v += 1.0);
        Some(CorrectionRecord {
            name: name.to_string(),
            n: values.len() as u64,
            factor: 1.0,
            rms_before: before,
            rms_after: rms(values),
            reason: "add one".into(),
        })
    }
}

#[test]
fn rescale_runs_after_earlier_corrections() {
    let (bytes, stored) = one_norm(4096, 0.5, Store::F32);
    let g = Gguf::parse(&bytes).unwrap();
    let policy = RescalePolicy::new(true, false);
    let pipeline = CorrectionPipeline::with_steps(&g, &policy, vec![Box::new(AddOne)]);
    let mut records = Vec::new();
    let v = load_norm_with(&g, &bytes, NAME, &pipeline, &mut records).unwrap();
    for (a, s) in v.iter().zip(&stored) {
        assert_eq!(*a, ((s + 1.0) as f64 * 64.0) as f32);
    }
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].reason, "add one");
    assert_eq!(records[1].factor, 64.0);
    // The rescale saw the earlier step's output.
    assert_eq!(records[1].rms_before, records[0].rms_after);

    // With the rescale off the earlier step still runs.
    let pipeline = CorrectionPipeline::with_steps(
        &g,
        &RescalePolicy::new(false, false),
        vec![Box::new(AddOne)],
    );
    let mut records = Vec::new();
    let v = load_norm_with(&g, &bytes, NAME, &pipeline, &mut records).unwrap();
    assert_eq!(v[0], stored[0] + 1.0);
    assert_eq!(records.len(), 1);
}

#[test]
fn load_norm_errors_name_the_tensor() {
    let bytes = file(vec![
        norm(NAME, Store::F32, &[1.0; 4]),
        raw("blk.0.attn_q.weight", &[4, 4], 0, vec![0; 64]),
        // Q5_K: 256 elements in 176 bytes, a type the dequantizer does not read.
        raw("blk.0.ffn_norm.weight", &[256], 13, vec![0; 176]),
    ]);
    let g = Gguf::parse(&bytes).unwrap();
    let p = RescalePolicy::new(true, false);
    let mut rec = Vec::new();
    assert_eq!(
        load_norm(&g, &bytes, "nope", &p, &mut rec),
        Err(NormError::NoSuchTensor {
            tensor: "nope".into()
        })
    );
    assert_eq!(
        load_norm(&g, &bytes, "blk.0.attn_q.weight", &p, &mut rec),
        Err(NormError::NotANorm {
            tensor: "blk.0.attn_q.weight".into(),
            dims: vec![4, 4]
        })
    );
    let e = load_norm(&g, &bytes, "blk.0.ffn_norm.weight", &p, &mut rec).unwrap_err();
    assert!(
        e.to_string()
            .contains("quantized norm weights; regenerate the GGUF with F32 norms"),
        "{e}"
    );
    // A file cut short before the data is a GGUF error naming the tensor.
    let g = Gguf::parse(&bytes).unwrap();
    let e = load_norm(
        &g,
        &bytes[..(g.data_offset as usize + 8)],
        NAME,
        &p,
        &mut rec,
    )
    .unwrap_err();
    assert!(e.to_string().contains(NAME), "{e}");
    assert!(rec.is_empty());
}

#[test]
fn oversized_norm_is_refused_before_reading() {
    use bitlens::norms::norm_report_from;
    // A 1-D "norm" of 2^24 + 1 F32 values: larger than any hidden size.
    let n = (1usize << 24) + 1;
    let bytes = file(vec![raw("big_norm.weight", &[n as u64], 0, vec![0; n * 4])]);
    let g = Gguf::parse(&bytes).unwrap();
    let mut reads = 0;
    let r = norm_report_from(&g, |_| {
        reads += 1;
        Ok(Vec::new())
    });
    assert_eq!(reads, 0);
    assert_eq!(
        r.problems,
        ["tensor 'big_norm.weight': 16777217 elements is too many for a norm vector"]
    );
    assert_eq!(r.n_norms, 0);
}
