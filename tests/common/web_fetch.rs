//! The browser tests' fetch: a file from the test runner's server (which serves the crate root,
//! `.web-test-assets/` included) as a `Uint8Array`.
#![allow(dead_code)]

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Fetches `url`; panics with `missing` when the server does not have it.
pub async fn fetch_bytes(url: &str, missing: &str) -> Uint8Array {
    let fetch = js_sys::Function::from(Reflect::get(&js_sys::global(), &"fetch".into()).unwrap());
    let resp = JsFuture::from(js_sys::Promise::from(
        fetch.call1(&JsValue::NULL, &url.into()).unwrap(),
    ))
    .await
    .unwrap();
    let ok = Reflect::get(&resp, &"ok".into()).unwrap().as_bool() == Some(true);
    assert!(ok, "{url} is missing: {missing}");
    let array_buffer = js_sys::Function::from(Reflect::get(&resp, &"arrayBuffer".into()).unwrap());
    let buf = JsFuture::from(js_sys::Promise::from(array_buffer.call0(&resp).unwrap()))
        .await
        .unwrap();
    Uint8Array::new(&buf)
}

/// Where scripts/test.sh puts the real SmolLM2 file for the browser tests.
pub const SMOLLM2_URL: &str = "/.web-test-assets/SmolLM2-135M-Instruct.Q4_1.gguf";
pub const SMOLLM2_MISSING: &str = "run scripts/test.sh (it links the cached SmolLM2 file there)";
