//! `GgufFile.benchKernels(passes)`: the kernel figures of `npm run bench` in the page's worker
//! (see `crate::bench`), on the file's own tensors: `{projections, head, probe, passes, threads,
//! checksum}`, each part `{bytes, ms, gbPerS}` (the fastest of `passes` passes). A model view
//! is made for the call (views into the file's one buffer, nothing copied).

use wasm_bindgen::prelude::*;

use super::js::js_error;
use super::model::{now_ms, to_js};
use super::GgufFile;
use crate::model::Model;

#[wasm_bindgen]
impl GgufFile {
    #[wasm_bindgen(js_name = benchKernels)]
    pub fn bench_kernels(&self, passes: u32) -> Result<JsValue, JsValue> {
        if !self.is_complete() {
            return Err(js_error("incomplete", "the file has not finished loading"));
        }
        let model = Model::load_in(self.header()?, self.bytes(), self.i2s_layout())
            .map_err(|e| js_error("model", &e.to_string()))?;
        let r = crate::bench::kernels(&model, self.bytes(), passes as usize, now_ms);
        to_js(&r)
    }
}
