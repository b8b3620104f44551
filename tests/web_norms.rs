//! The norm statistics, the rescale and the export plan computed in Chromium (wasm-pack test)
//! equal the native ones: the same numpy constants as tests/norms_fixtures.rs.
//!
//! Run: wasm-pack test --headless --chrome -- --test web_norms
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/norm_fixture_values.rs"]
mod values;

use bitlens::gguf::Gguf;
use bitlens::norms::{
    load_norm, norm_report, plan_export, rescale_factor, write_export, RescaleOutcome,
    RescalePolicy,
};
use values::*;

#[wasm_bindgen_test]
fn i2s_statistics_in_the_browser_equal_native() {
    let g = Gguf::parse(I2S_FILE).unwrap();
    check_report(&norm_report(&g, I2S_FILE), I2S_NORMS).unwrap();
}

#[wasm_bindgen_test]
fn tq2_statistics_in_the_browser_equal_native() {
    let g = Gguf::parse(TQ2_FILE).unwrap();
    check_report(&norm_report(&g, TQ2_FILE), TQ2_NORMS).unwrap();
}

#[wasm_bindgen_test]
fn rescale_and_strict_in_the_browser() {
    let g = Gguf::parse(TQ2_FILE).unwrap();
    let (name, n, _, _, rms, ..) = TQ2_NORMS[1];
    let mut records = Vec::new();
    let on = RescalePolicy::new(true, false);
    load_norm(&g, TQ2_FILE, name, &on, &mut records).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].factor, rescale_factor(n));
    assert!((records[0].rms_before - rms).abs() < REL_TOL * rms);
    assert!((records[0].rms_after - rms * 16.0).abs() < 1e-7 * rms * 16.0);

    let strict = RescalePolicy::new(true, true);
    assert!(matches!(
        strict.outcome(),
        RescaleOutcome::RefusedByStrict { .. }
    ));
    let mut records = Vec::new();
    load_norm(&g, TQ2_FILE, name, &strict, &mut records).unwrap();
    assert!(records.is_empty());
}

#[wasm_bindgen_test]
fn export_plan_in_the_browser() {
    let g = Gguf::parse(TQ2_FILE).unwrap();
    let plan = plan_export(&g, TQ2_FILE, &RescalePolicy::new(false, false)).unwrap();
    let mut out = Vec::new();
    write_export(&mut out, TQ2_FILE, &plan).unwrap();
    assert_eq!(out, TQ2_FILE);
    let plan = plan_export(&g, TQ2_FILE, &RescalePolicy::new(true, false)).unwrap();
    assert_eq!(plan.records.len(), NORMS_PER_FIXTURE as usize);
    assert_eq!(plan.corrected.len(), NORMS_PER_FIXTURE as usize);
}
