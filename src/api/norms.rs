//! Norm statistics, the experimental gamma rescale and the corrected export, for the page.
//!
//! Options are a JS object `{rescale?: boolean, strict?: boolean}` (the page maps `?rescale=1`
//! and `?strict=1` onto it); `undefined` means both off. Log lines go to the console logger.

use js_sys::{Array, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::js::{js_error, to_js};
use super::GgufFile;
use crate::gguf::TensorInfo;
use crate::norms::export::SegmentSource;
use crate::norms::{
    load_norm_with, norm_report, plan_export, CorrectionPipeline, CorrectionRecord, ExportPlan,
    RescaleOutcome, RescalePolicy,
};
use crate::quant::layout::{deinterleave_tensor, interleaved_part};
use crate::quant::I2sLayout;

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct NormOptions {
    rescale: bool,
    strict: bool,
}

fn policy(options: JsValue) -> Result<RescalePolicy, JsValue> {
    if options.is_undefined() || options.is_null() {
        return Ok(RescalePolicy::new(false, false));
    }
    let o: NormOptions = serde_wasm_bindgen::from_value(options).map_err(|e| {
        js_error(
            "bad_argument",
            &format!("norm options: {e} (expected {{rescale?: boolean, strict?: boolean}})"),
        )
    })?;
    Ok(RescalePolicy::new(o.rescale, o.strict))
}

/// What loading the norms under some options does: `{policy, outcome, records}`.
#[derive(Serialize)]
struct CorrectionsJs<'a> {
    policy: &'a RescalePolicy,
    outcome: RescaleOutcome,
    records: &'a [CorrectionRecord],
}

/// The export besides its bytes: `{size, outcome, records, rescaled}`.
#[derive(Serialize)]
struct ExportJs<'a> {
    size: f64,
    outcome: &'a RescaleOutcome,
    records: &'a [CorrectionRecord],
    /// Number of norms rewritten as F32.
    rescaled: usize,
}

#[wasm_bindgen]
impl GgufFile {
    /// Statistics of every norm gamma, grouped by layer and kind (`NormReport` as a JS object).
    /// Norms whose bytes are not loaded yet are listed in `problems`.
    #[wasm_bindgen(js_name = normReport)]
    pub fn norm_report(&self) -> Result<JsValue, JsValue> {
        let g = self.header()?;
        to_js(&norm_report(g, self.bytes()))
    }

    /// Loads every norm as the model would under `options` and returns
    /// `{policy, outcome: {status: "off" | "applied" | "refused_by_strict", reason?}, records}`.
    #[wasm_bindgen(js_name = normCorrections)]
    pub fn norm_corrections(&self, options: JsValue) -> Result<JsValue, JsValue> {
        let policy = policy(options)?;
        policy.log_decision();
        let records = self.corrections(&policy)?;
        to_js(&CorrectionsJs {
            policy: &policy,
            outcome: policy.outcome(),
            records: &records,
        })
    }

    /// The corrected GGUF under `options` as a `Blob`, built from slices: the header and the
    /// rescaled norms are copied, every other tensor is handed to the Blob straight from wasm
    /// memory (the Blob copies it; no second copy of the model is made in wasm).
    #[wasm_bindgen(js_name = exportBlob)]
    pub fn export_blob(&self, options: JsValue) -> Result<web_sys::Blob, JsValue> {
        let plan = self.export_plan(options)?;
        // Views into wasm memory are valid only until the next allocation: nothing allocates
        // in wasm between `parts` and the Blob constructor, which copies them.
        let parts = self.parts(&plan)?;
        web_sys::Blob::new_with_u8_array_sequence(&parts)
    }

    /// What `exportBlob` would write: `{size, outcome, records, rescaled}`.
    #[wasm_bindgen(js_name = exportSummary)]
    pub fn export_summary(&self, options: JsValue) -> Result<JsValue, JsValue> {
        let plan = self.export_plan(options)?;
        let (lay, _) = plan.layout();
        to_js(&ExportJs {
            size: lay.total_len as f64,
            outcome: &plan.outcome,
            records: &plan.records,
            rescaled: plan.corrected.len(),
        })
    }
}

impl GgufFile {
    fn corrections(&self, policy: &RescalePolicy) -> Result<Vec<CorrectionRecord>, JsValue> {
        let g = self.header()?;
        let pipeline = CorrectionPipeline::new(g, policy);
        let mut records = Vec::new();
        for t in g
            .tensors
            .iter()
            .filter(|t| crate::norms::is_layernorm_weight(&t.name, &t.dims))
        {
            load_norm_with(g, self.bytes(), &t.name, &pipeline, &mut records)
                .map_err(|e| js_error("norm", &e.to_string()))?;
        }
        Ok(records)
    }

    fn export_plan(&self, options: JsValue) -> Result<ExportPlan, JsValue> {
        let g = self.header()?;
        if !self.is_complete() {
            return Err(js_error(
                "incomplete",
                "the export needs the whole file: wait until it has finished loading",
            ));
        }
        let policy = policy(options)?;
        policy.log_decision();
        plan_export(g, self.bytes(), &policy).map_err(|e| js_error("norm", &e.to_string()))
    }

    /// The Blob parts of `plan`, in file order. Original tensors are views into wasm memory:
    /// consume the array before anything else runs in this module.
    fn parts(&self, plan: &ExportPlan) -> Result<Array, JsValue> {
        let (lay, segments) = plan.layout();
        // The tensors the buffer holds rearranged (`quant::layout`) go out in the file's layout,
        // each through one scratch buffer allocated here, before any view into wasm memory is
        // taken.
        let g = self.header()?;
        let interleaved = self.i2s_layout() == I2sLayout::RowInterleaved;
        let rearranged: Vec<Option<&TensorInfo>> = segments
            .iter()
            .map(|s| match s.source {
                SegmentSource::Original { .. } if interleaved => g
                    .tensor(&plan.tensors[s.tensor].name)
                    .filter(|t| interleaved_part(t).is_some()),
                _ => None,
            })
            .collect();
        let most = segments
            .iter()
            .zip(&rearranged)
            .filter(|(_, t)| t.is_some())
            .map(|(s, _)| plan.bytes(self.bytes(), &s.source).len())
            .max();
        let mut scratch = Vec::with_capacity(most.unwrap_or(0));
        let parts = Array::new();
        parts.push(&Uint8Array::from(&lay.header[..]));
        for (s, t) in segments.iter().zip(&rearranged) {
            if s.pad > 0 {
                parts.push(&Uint8Array::new_with_length(s.pad as u32));
            }
            let bytes = plan.bytes(self.bytes(), &s.source);
            if let Some(t) = t {
                scratch.clear();
                scratch.extend_from_slice(bytes);
                deinterleave_tensor(t, &mut scratch);
                // Copied into a JS array: the scratch is reused for the next one.
                parts.push(&Uint8Array::from(&scratch[..]));
                continue;
            }
            // SAFETY: `bytes` lives in this GgufFile's buffer or in `plan`, both alive until
            // the Blob has copied them; see `export_blob`.
            let view = unsafe { Uint8Array::view(bytes) };
            // The threaded build's memory is a SharedArrayBuffer, which the Blob constructor
            // refuses: each part goes in as a Blob of its own copy (one part copied at a time).
            #[cfg(target_feature = "atomics")]
            let view =
                web_sys::Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::new(&view)))?;
            parts.push(&view);
        }
        Ok(parts)
    }
}
