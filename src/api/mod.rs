//! The wasm-bindgen surface: a thin layer over the core. Each feature adds its own file with an
//! `impl` block on the exported types.
//!
//! `GgufFile` is the one place the page's model file lives: a buffer the crate allocates at the
//! file's size, filled front to back by chunks that JS reads with `File.slice` (so a 1.2 GB file
//! is never held twice and `File.arrayBuffer`'s 2 GiB limit never applies). The header is parsed
//! while the bytes stream in, so metadata and the tensor table are available before the data
//! has finished loading.
//!
//! Everything handed to JS is a plain object (serde-wasm-bindgen). 64-bit integers are numbers
//! when a JS number holds them exactly and BigInts otherwise, never rounded. Errors are JS
//! `Error`s whose `message` is the Rust error's text (which names the offset, key or tensor) and
//! whose `kind` is `GgufError::kind()` (or one of this module's own kinds: `too_large`,
//! `out_of_memory`, `overflow`, `incomplete`, `not_ready`, `no_such_key`, `not_an_array`,
//! `bad_argument`).

mod bench;
mod js;
mod logger;
mod memory;
mod model;
mod norms;
mod tokenizer;

pub use tokenizer::GgufTokenizer;

pub use model::ModelRunner;

/// The threaded build only (`+atomics`): `initThreadPool(n)` starts the products' pool on `n`
/// Web Workers sharing this module's memory (a Promise; once, before the first run). Runs then
/// ask for up to `n` threads (`ModelRunner` option `threads`): a run's forward pass goes to the
/// pool and the calling thread waits (`kernels::par::on_pool`).
#[cfg(target_feature = "atomics")]
pub use wasm_bindgen_rayon::init_thread_pool;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use crate::gguf::{Gguf, GgufError, HeaderStream};
use crate::quant::layout::arrange_for_this_build;
use crate::quant::I2sLayout;
use js::{gguf_error, js_error, to_js, ArrayJs, EntryJs, InfoJs, TensorJs, ARRAY_SUMMARY_LEN};

use js::MAX_SAFE_INTEGER;

/// Installs the panic hook and the console logger; runs once, whoever calls first.
#[wasm_bindgen]
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        console_error_panic_hook::set_once();
        logger::install();
    });
}

/// `"error"`, `"warn"`, `"info"`, `"debug"`, `"trace"` or `"off"`: what reaches the console.
#[wasm_bindgen(js_name = setLogLevel)]
pub fn set_log_level(level: &str) -> Result<(), JsValue> {
    init();
    let filter: log::LevelFilter = level.parse().map_err(|_| {
        js_error(
            "bad_argument",
            &format!("unknown log level '{level}' (error, warn, info, debug, trace or off)"),
        )
    })?;
    log::set_max_level(filter);
    Ok(())
}

/// A GGUF file being streamed into (or fully held in) wasm memory.
#[wasm_bindgen]
pub struct GgufFile {
    /// Capacity is the file's size, allocated once; `len()` is how much has been loaded.
    buf: Vec<u8>,
    file_len: u64,
    /// Present until the header's fate is known.
    stream: Option<HeaderStream>,
    gguf: Option<Gguf>,
    /// The header's error, repeated to every later call.
    failed: Option<GgufError>,
    /// How `buf`'s I2_S tensors are laid out: rearranged for this build's kernel
    /// (`quant::layout`) the moment the last byte arrives, before anything reads the whole file.
    i2s_layout: Option<I2sLayout>,
}

/// The buffer for a file of `file_len` bytes is one allocation, so at most `isize::MAX` bytes
/// (2 GiB - 1 in wasm32); a larger file is a `too_large` error naming both numbers. The one place
/// this limit is decided: `GgufFile::new` and `estimateMemory` (the page's refusal before it
/// reads more than the header) both ask here.
pub(crate) fn file_capacity(file_len: u64) -> Result<usize, JsValue> {
    usize::try_from(file_len)
        .ok()
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| {
            js_error(
                "too_large",
                &format!(
                    "the file has {file_len} bytes; one wasm32 allocation holds at most {} bytes",
                    isize::MAX
                ),
            )
        })
}

#[wasm_bindgen]
impl GgufFile {
    /// Allocates the buffer for a file of `size` bytes. A size that does not fit this wasm
    /// memory is an `Error` (`too_large` / `out_of_memory`), not an abort.
    #[wasm_bindgen(constructor)]
    pub fn new(size: f64) -> Result<GgufFile, JsValue> {
        init();
        if !(size.is_finite() && size >= 0.0 && size.fract() == 0.0 && size <= MAX_SAFE_INTEGER) {
            return Err(js_error(
                "bad_argument",
                &format!("file size {size} is not a whole number of bytes"),
            ));
        }
        let file_len = size as u64;
        let cap = file_capacity(file_len)?;
        let mut buf = Vec::new();
        buf.try_reserve_exact(cap).map_err(|_| {
            js_error(
                "out_of_memory",
                &format!("cannot allocate {file_len} bytes of wasm memory for the file"),
            )
        })?;
        log::debug!("GgufFile: allocated {file_len} bytes");
        Ok(GgufFile {
            buf,
            file_len,
            stream: Some(HeaderStream::new(file_len)),
            gguf: None,
            failed: None,
            i2s_layout: None,
        })
    }

    /// Appends the next bytes of the file (copied straight into the buffer) and parses the
    /// header as soon as it is complete. Throws the header's error as soon as it is known.
    pub fn push(&mut self, chunk: &Uint8Array) -> Result<(), JsValue> {
        if let Some(e) = &self.failed {
            return Err(gguf_error(e));
        }
        let n = chunk.length() as usize;
        let at = self.buf.len();
        if n > self.buf.capacity() - at {
            return Err(js_error(
                "overflow",
                &format!(
                    "a chunk of {n} bytes at offset {at} runs past the declared file size {}",
                    self.file_len
                ),
            ));
        }
        let spare = &mut self.buf.spare_capacity_mut()[..n];
        chunk.copy_to_uninit(spare);
        // SAFETY: copy_to_uninit initialised exactly these n bytes (it checks the lengths).
        unsafe { self.buf.set_len(at + n) };
        self.poll_header()?;
        self.arrange_when_whole();
        Ok(())
    }

    /// Call once all bytes are pushed: throws if bytes are missing or the header is invalid.
    pub fn finish(&mut self) -> Result<(), JsValue> {
        self.poll_header()?;
        if (self.buf.len() as u64) < self.file_len {
            return Err(js_error(
                "incomplete",
                &format!(
                    "only {} of the file's {} bytes were loaded",
                    self.buf.len(),
                    self.file_len
                ),
            ));
        }
        match self.gguf {
            Some(ref g) => {
                log::info!(
                    "GGUF v{} loaded: {} bytes, {} metadata keys, {} tensors",
                    g.version,
                    self.file_len,
                    g.metadata.len(),
                    g.tensors.len()
                );
                Ok(())
            }
            None => Err(self.not_ready()),
        }
    }

    /// Bytes loaded so far.
    #[wasm_bindgen(getter)]
    pub fn loaded(&self) -> f64 {
        self.buf.len() as f64
    }

    /// The file's size.
    #[wasm_bindgen(getter)]
    pub fn total(&self) -> f64 {
        self.file_len as f64
    }

    /// True once metadata and the tensor table are parsed (usually long before `complete`).
    #[wasm_bindgen(getter, js_name = headerReady)]
    pub fn header_ready(&self) -> bool {
        self.gguf.is_some()
    }

    /// True once every byte is loaded.
    #[wasm_bindgen(getter)]
    pub fn complete(&self) -> bool {
        self.buf.len() as u64 == self.file_len
    }

    /// Version, alignment, offsets, counts, architecture and layout notes.
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let g = self.header()?;
        to_js(&InfoJs::new(g, self.buf.len() as u64))
    }

    /// Every metadata entry `{key, type, offset, value}`; arrays carry `elem_type`, `count`,
    /// the first `ARRAY_SUMMARY_LEN` values and `truncated` instead (see `array`).
    pub fn metadata(&self) -> Result<JsValue, JsValue> {
        let g = self.header()?;
        let entries: Vec<EntryJs> = g.metadata.iter().map(EntryJs).collect();
        to_js(&entries)
    }

    /// One metadata array in full: `{key, elem_type, count, values}`.
    pub fn array(&self, key: &str) -> Result<JsValue, JsValue> {
        let g = self.header()?;
        let value = g
            .get(key)
            .ok_or_else(|| js_error("no_such_key", &format!("no metadata key '{key}'")))?;
        let array = value.as_array().ok_or_else(|| {
            js_error(
                "not_an_array",
                &format!(
                    "metadata key '{key}' is a {}, not an array",
                    value.value_type().name()
                ),
            )
        })?;
        to_js(&ArrayJs::full(key, array))
    }

    /// The tensor table in file order: name, type, dims, offsets and sizes.
    pub fn tensors(&self) -> Result<JsValue, JsValue> {
        let g = self.header()?;
        let tensors: Vec<TensorJs> = g.tensors.iter().map(TensorJs::new).collect();
        to_js(&tensors)
    }

    /// How many values of an array the metadata summary shows.
    #[wasm_bindgen(js_name = arraySummaryLength)]
    pub fn array_summary_length() -> u32 {
        ARRAY_SUMMARY_LEN as u32
    }
}

/// For the other api modules.
#[allow(dead_code)]
impl GgufFile {
    /// The bytes loaded so far, from the file's start (all of it once `complete`).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The parsed header. Panics before `headerReady`: exported methods use `header()` instead,
    /// or are only reachable once the page has the header.
    pub(crate) fn gguf(&self) -> &Gguf {
        self.gguf
            .as_ref()
            .expect("GgufFile::gguf called before the header was parsed")
    }

    /// The parsed header, or the JS error to throw while it is not (yet) available.
    pub(crate) fn header(&self) -> Result<&Gguf, JsValue> {
        match (&self.gguf, &self.failed) {
            (Some(g), _) => Ok(g),
            (None, Some(e)) => Err(gguf_error(e)),
            (None, None) => Err(self.not_ready()),
        }
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.complete()
    }

    /// How the whole file's I2_S tensors are laid out in `bytes()` (plain until it is whole).
    pub(crate) fn i2s_layout(&self) -> I2sLayout {
        self.i2s_layout.unwrap_or_default()
    }

    /// Once the file is whole and its header parsed (only a `push` completes it): rearranges
    /// the I2_S tensors in place where this build's kernel reads another layout.
    fn arrange_when_whole(&mut self) {
        if self.i2s_layout.is_some() || !self.complete() {
            return;
        }
        let Some(g) = &self.gguf else { return };
        let layout = arrange_for_this_build(g, &mut self.buf);
        log::debug!("GgufFile: I2_S tensors {layout:?}");
        self.i2s_layout = Some(layout);
    }

    fn not_ready(&self) -> JsValue {
        js_error(
            "not_ready",
            &format!(
                "the GGUF header is not parsed yet ({} of {} bytes loaded)",
                self.buf.len(),
                self.file_len
            ),
        )
    }

    fn poll_header(&mut self) -> Result<(), JsValue> {
        if let Some(e) = &self.failed {
            return Err(gguf_error(e));
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        if stream.poll(&self.buf).is_none() {
            return Ok(());
        }
        let stream = self.stream.take().expect("checked above");
        match stream.take().expect("poll returned a result") {
            Ok(g) => {
                log::debug!(
                    "GGUF header parsed after {} of {} bytes",
                    self.buf.len(),
                    self.file_len
                );
                self.gguf = Some(g);
                Ok(())
            }
            Err(e) => {
                log::warn!("GGUF rejected: {e}");
                let err = gguf_error(&e);
                self.failed = Some(e);
                Err(err)
            }
        }
    }
}
