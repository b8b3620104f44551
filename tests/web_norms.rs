//! The norm statistics, the rescale and the export plan computed in Chromium (wasm-pack test)
//! equal the native ones: the same numpy constants as tests/norms_fixtures.rs.
//!
//! The `api` tests drive the page's `GgufFile` methods (normReport, normCorrections, exportBlob).
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

mod api {
    //! The same numbers through the page's API (`GgufFile`), as JS objects.

    use super::values::*;
    use bitlens::api::GgufFile;
    use bitlens::gguf::Gguf;
    use bitlens::norms::{plan_export, write_export, RescalePolicy};
    use js_sys::{Reflect, Uint8Array};
    use serde_json::Value as Json;
    use wasm_bindgen::JsValue;
    use wasm_bindgen_futures::JsFuture;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn load(bytes: &[u8]) -> GgufFile {
        let mut f = GgufFile::new(bytes.len() as f64).unwrap();
        f.push(&Uint8Array::from(bytes)).unwrap();
        f.finish().unwrap();
        f
    }

    fn json(v: JsValue) -> Json {
        serde_wasm_bindgen::from_value(v).unwrap()
    }

    fn options(rescale: bool, strict: bool) -> JsValue {
        let o = js_sys::Object::new();
        Reflect::set(&o, &"rescale".into(), &rescale.into()).unwrap();
        Reflect::set(&o, &"strict".into(), &strict.into()).unwrap();
        o.into()
    }

    #[wasm_bindgen_test]
    fn report_as_js_object_equals_native() {
        let f = load(I2S_FILE);
        let r = json(f.norm_report().unwrap());
        assert_eq!(r["n_norms"], NORMS_PER_FIXTURE);
        for &(name, n, mean, _, rms, ..) in I2S_NORMS {
            let all: Vec<&Json> = r["layers"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|l| l["norms"].as_array().unwrap())
                .chain(r["global"].as_array().unwrap())
                .collect();
            let s = all.iter().find(|s| s["name"] == name).unwrap();
            assert_eq!(s["n"], n);
            assert!((s["rms"].as_f64().unwrap() - rms).abs() <= REL_TOL * rms);
            assert!((s["mean"].as_f64().unwrap() - mean).abs() <= REL_TOL * mean.abs());
            assert_eq!(s["verdict"], "not pre-scaled");
        }
    }

    #[wasm_bindgen_test]
    fn corrections_follow_the_options() {
        let f = load(TQ2_FILE);
        let off = json(f.norm_corrections(JsValue::UNDEFINED).unwrap());
        assert_eq!(off["outcome"]["status"], "off");
        assert_eq!(off["records"].as_array().unwrap().len(), 0);

        let on = json(f.norm_corrections(options(true, false)).unwrap());
        assert_eq!(on["outcome"]["status"], "applied");
        let records = on["records"].as_array().unwrap();
        assert_eq!(records.len(), NORMS_PER_FIXTURE as usize);
        let r = records
            .iter()
            .find(|r| r["name"] == TQ2_NORMS[1].0)
            .unwrap();
        assert_eq!(r["factor"], 16.0);
        let rms = TQ2_NORMS[1].4;
        assert!((r["rms_before"].as_f64().unwrap() - rms).abs() <= REL_TOL * rms);
        assert_eq!(
            r["reason"],
            "experimental gamma rescale by sqrt(n) (loader option)"
        );

        let strict = json(f.norm_corrections(options(true, true)).unwrap());
        assert_eq!(strict["outcome"]["status"], "refused_by_strict");
        assert!(strict["outcome"]["reason"]
            .as_str()
            .unwrap()
            .contains("strict mode"));
        assert_eq!(strict["records"].as_array().unwrap().len(), 0);

        let bad = js_sys::Object::new();
        Reflect::set(&bad, &"rescale".into(), &"yes".into()).unwrap();
        let e = f.norm_corrections(bad.into()).unwrap_err();
        assert_eq!(Reflect::get(&e, &"kind".into()).unwrap(), "bad_argument");
    }

    async fn blob_bytes(b: web_sys::Blob) -> Vec<u8> {
        let buf = JsFuture::from(b.array_buffer()).await.unwrap();
        Uint8Array::new(&buf).to_vec()
    }

    /// The export equals the native one, for the TQ2_0 fixture and for the I2_S one, whose
    /// matrices the relaxed-SIMD build holds in the row-interleaved layout (the export puts
    /// them back as stored).
    #[wasm_bindgen_test]
    async fn export_blob_equals_native_export() {
        for file in [TQ2_FILE, I2S_FILE] {
            let f = load(file);
            let off = blob_bytes(f.export_blob(JsValue::UNDEFINED).unwrap()).await;
            assert!(off == file, "the export without the rescale is the file");

            let on = blob_bytes(f.export_blob(options(true, false)).unwrap()).await;
            let g = Gguf::parse(file).unwrap();
            let plan = plan_export(&g, file, &RescalePolicy::new(true, false)).unwrap();
            let mut native = Vec::new();
            write_export(&mut native, file, &plan).unwrap();
            assert!(on == native, "the rescaled export is the native one");
            let summary = json(f.export_summary(options(true, false)).unwrap());
            assert_eq!(summary["size"], native.len());
            assert_eq!(summary["rescaled"], NORMS_PER_FIXTURE);
            assert_eq!(summary["outcome"]["status"], "applied");
        }
    }

    #[wasm_bindgen_test]
    fn export_needs_the_whole_file() {
        let mut f = GgufFile::new(TQ2_FILE.len() as f64).unwrap();
        f.push(&Uint8Array::from(&TQ2_FILE[..TQ2_FILE.len() - 1]))
            .unwrap();
        let e = f.export_blob(JsValue::UNDEFINED).unwrap_err();
        assert_eq!(Reflect::get(&e, &"kind".into()).unwrap(), "incomplete");
    }
}
