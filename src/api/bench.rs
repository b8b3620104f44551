//! `GgufFile.benchKernels({passes?})`: the kernel figures of `npm run bench` in the page's
//! worker (see `crate::bench`), on the file's own tensors: `{projections, head, probe, passes,
//! threads, checksum}`, each part `{bytes, ms, gbPerS}` (fastest pass). A model view is made for
//! the call (views into the file's one buffer, nothing copied).

use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::js::js_error;
use super::model::{now_ms, to_js};
use super::GgufFile;
use crate::model::Model;

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct BenchOptions {
    passes: Option<usize>,
}

#[wasm_bindgen]
impl GgufFile {
    #[wasm_bindgen(js_name = benchKernels)]
    pub fn bench_kernels(&self, options: JsValue) -> Result<JsValue, JsValue> {
        let o: BenchOptions = if options.is_undefined() || options.is_null() {
            BenchOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| js_error("bad_argument", &format!("bench options: {e}")))?
        };
        if !self.is_complete() {
            return Err(js_error("incomplete", "the file has not finished loading"));
        }
        let model = Model::load(self.header()?, self.bytes())
            .map_err(|e| js_error("model", &e.to_string()))?;
        let r = crate::bench::kernels(&model, self.bytes(), o.passes.unwrap_or(3), now_ms);
        to_js(&r)
    }
}
