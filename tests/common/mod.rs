//! Helpers shared by the integration tests: a byte-level GGUF builder (for files the crate's
//! writer refuses to make), a per-thread allocation counter, fixture paths (paths.rs), the one
//! seeded generator (pseudo_random.rs) and the one way to run the CLI (cli.rs).
#![allow(dead_code)]

pub mod cli;
pub mod gguf_py;
pub mod paths;
pub mod pseudo_random;

#[allow(unused_imports)] // each test binary uses part of these
pub use paths::*;
#[allow(unused_imports)]
pub use pseudo_random::Rng;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Writes GGUF fields little-endian, one call per field, so a test can put anything anywhere.
#[derive(Default)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// "GGUF", version, n_tensors, n_kv.
    pub fn header(version: u32, n_tensors: u64, n_kv: u64) -> Bytes {
        let mut b = Bytes::default();
        b.raw(b"GGUF").u32(version).u64(n_tensors).u64(n_kv);
        b
    }
    pub fn raw(&mut self, x: &[u8]) -> &mut Self {
        self.0.extend_from_slice(x);
        self
    }
    pub fn u8(&mut self, x: u8) -> &mut Self {
        self.raw(&[x])
    }
    pub fn u32(&mut self, x: u32) -> &mut Self {
        self.raw(&x.to_le_bytes())
    }
    pub fn u64(&mut self, x: u64) -> &mut Self {
        self.raw(&x.to_le_bytes())
    }
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64).raw(s.as_bytes())
    }
    /// A key with a u32 value.
    pub fn kv_u32(&mut self, key: &str, v: u32) -> &mut Self {
        self.str(key).u32(4).u32(v)
    }
    pub fn kv_str(&mut self, key: &str, v: &str) -> &mut Self {
        self.str(key).u32(8).str(v)
    }
    /// A tensor-table entry.
    pub fn tensor(&mut self, name: &str, dims: &[u64], type_id: u32, offset: u64) -> &mut Self {
        self.str(name).u32(dims.len() as u32);
        for &d in dims {
            self.u64(d);
        }
        self.u32(type_id).u64(offset)
    }
    /// Zero bytes up to a multiple of `a`.
    pub fn pad_to(&mut self, a: usize) -> &mut Self {
        while !self.0.len().is_multiple_of(a) {
            self.0.push(0);
        }
        self
    }
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
    pub fn pos(&self) -> u64 {
        self.0.len() as u64
    }
    pub fn done(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

/// Counts the bytes the *current thread* allocates (tests run in parallel threads). Install with
/// `#[global_allocator] static A: common::CountingAlloc = common::CountingAlloc;`.
pub struct CountingAlloc;

thread_local! {
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + layout.size() as u64));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + new_size as u64));
        System.realloc(ptr, layout, new_size)
    }
}

/// Bytes allocated by this thread while running `f` (a sum, not a peak: an upper bound).
pub fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATED.with(|a| a.get());
    let r = f();
    (r, ALLOCATED.with(|a| a.get()) - before)
}

/// Everything a parse produced, as text: equal for equal parses even with NaN metadata values
/// (`Gguf: PartialEq` follows f32, where NaN != NaN) and independent of hash-map order.
pub fn fingerprint(r: &Result<bitlens::gguf::Gguf, bitlens::gguf::GgufError>) -> String {
    match r {
        Ok(g) => format!(
            "v{} {:?} {:?} align {} data {} header {} len {} {:?}",
            g.version,
            g.metadata,
            g.tensors,
            g.alignment,
            g.data_offset,
            g.header_len,
            g.file_len,
            g.notes
        ),
        Err(e) => format!("{e:?}"),
    }
}

/// The real SmolLM2 file; without it the test fails and says how to fetch it (never skipped).
pub fn read_smollm2() -> Vec<u8> {
    let path = smollm2_path();
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\nThe real-file tests need it. Run: bash scripts/fetch-smollm2.sh",
            path.display()
        )
    })
}
