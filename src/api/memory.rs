//! The memory a file will need, estimated from its header before anything is allocated, so the
//! page can refuse a file that cannot fit instead of crashing the tab.
//!
//! ```js
//! const e = estimateMemory(firstBytes, file.size, 2);  // null: the header needs more bytes
//! ```
//! Returns `{needMore}` (the prefix ends inside the header: bytes it needs) or
//! `{fileBytes, runnable, reason?, nCtx, kvCache, activations, normBytes, perMode, modes, total}`:
//! `total` = the file + `modes` × (KV cache + activations + norm vectors). A file that is not a
//! runnable model (`runnable: false`, with the reason) needs only its own bytes. A file larger
//! than one allocation holds throws `too_large` as `new GgufFile` would, whatever the prefix;
//! header errors throw as `GgufFile.push` would (same message and `kind`).

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::js::{gguf_error, js_error, MAX_SAFE_INTEGER};
use crate::gguf::{Gguf, GgufError};
use crate::model::{Config, MemoryPlan, DEFAULT_MAX_CTX};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NeedMore {
    need_more: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Estimate {
    file_bytes: f64,
    runnable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    n_ctx: usize,
    kv_cache: f64,
    activations: f64,
    norm_bytes: f64,
    per_mode: f64,
    modes: u32,
    total: f64,
}

/// Bytes of every 1-D `*norm.weight` tensor as f32 (each mode keeps its own norm vectors).
fn norm_bytes(g: &Gguf) -> u64 {
    g.tensors
        .iter()
        .filter(|t| t.dims.len() == 1 && t.name.ends_with("norm.weight"))
        .map(|t| 4 * t.dims[0])
        .sum()
}

#[wasm_bindgen(js_name = estimateMemory)]
pub fn estimate_memory(prefix: &[u8], file_size: f64, modes: u32) -> Result<JsValue, JsValue> {
    super::init();
    if !(file_size.is_finite() && file_size >= 0.0 && file_size.fract() == 0.0)
        || file_size > MAX_SAFE_INTEGER
    {
        return Err(js_error(
            "bad_argument",
            &format!("file size {file_size} is not a whole number of bytes"),
        ));
    }
    let file_len = file_size as u64;
    super::file_capacity(file_len)?;
    let g = match Gguf::parse_prefix(prefix, file_len) {
        Ok(g) => g,
        Err(GgufError::NeedMore { needed }) => {
            return plain(&NeedMore {
                need_more: needed as f64,
            })
        }
        Err(e) => return Err(gguf_error(&e)),
    };
    let (plan, runnable, reason) = match Config::from_gguf(&g) {
        Ok(c) => (
            MemoryPlan::new(&c, c.train_ctx.min(DEFAULT_MAX_CTX)),
            true,
            None,
        ),
        Err(e) => (
            MemoryPlan {
                n_ctx: 0,
                kv_cache: 0,
                activations: 0,
            },
            false,
            Some(e.to_string()),
        ),
    };
    let norms = if runnable { norm_bytes(&g) } else { 0 };
    let modes = if runnable { modes } else { 0 };
    let per_mode = plan.total() + norms;
    plain(&Estimate {
        file_bytes: file_size,
        runnable,
        reason,
        n_ctx: plan.n_ctx,
        kv_cache: plan.kv_cache as f64,
        activations: plan.activations as f64,
        norm_bytes: norms as f64,
        per_mode: per_mode as f64,
        modes,
        total: file_size + modes as f64 * per_mode as f64,
    })
}

/// Plain JS numbers (every size here is below 2^53) and no `undefined` fields.
fn plain<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error("internal", &format!("cannot convert to JS: {e}")))
}
