//! Hostile input: every truncation of real files, thousands of seeded random corruptions, and
//! huge values written over every length and count field. Never a panic, never a hang, and
//! memory bounded by the size of the input.

mod common;

use std::time::{Duration, Instant};

use bitlens::gguf::{Gguf, GgufError, HeaderStream};
use bitlens::quant::dequant::can_dequantize;
use common::{allocated_by, fingerprint, read_fixture, Rng};

#[global_allocator]
static ALLOC: common::CountingAlloc = common::CountingAlloc;

const SMALL: [&str; 4] = [
    "data/gguf-py/values.gguf",
    "data/gguf-py/types.gguf",
    "data/gguf-py/align1.gguf",
    "data/gguf-py/no-tensors.gguf",
];

/// What an accepted file must satisfy, exercised the way a user of the reader would.
fn check_accepted(g: &Gguf, file: &[u8]) {
    for t in &g.tensors {
        assert!(t.data_end() <= file.len() as u64, "{}", t.name);
        let data = g.tensor_data(file, t).unwrap();
        assert_eq!(data.len() as u64, t.n_bytes);
        if can_dequantize(t.ggml_type) && t.n_rows() > 0 && t.ne0() <= 1 << 16 {
            // May fail (e.g. a garbled I2_S length), must not panic. First and last row.
            let last = t.n_rows() as usize - 1;
            let _ = g.tensor_rows_f32(file, &t.name, 0..1);
            let _ = g.tensor_rows_f32(file, &t.name, last..last + 1);
        }
    }
}

#[test]
fn every_truncation() {
    for name in SMALL.iter().chain(&["fixtures/bitnet-tiny-tq2_0.gguf"]) {
        let file = read_fixture(name);
        let full = Gguf::parse(&file).unwrap();
        let data_end = full.tensors.iter().map(|t| t.data_end()).max().unwrap_or(0);
        let full_fp = fingerprint(&Ok(full.clone()));
        // The header region byte by byte; the data region sampled.
        let dense_until = full.data_offset as usize + 64;
        let step = |k: usize| if k > dense_until { 61 } else { 1 };
        let mut k = 0;
        while k < file.len() {
            let cut = &file[..k];
            let kk = k as u64;
            match Gguf::parse(cut) {
                Ok(g) => {
                    assert!(kk >= full.header_len && kk >= data_end, "{name} at {k}");
                    assert_eq!(g.metadata.len(), full.metadata.len());
                    assert_eq!(g.tensors.len(), full.tensors.len());
                }
                Err(GgufError::Truncated { offset, .. }) => {
                    assert!(kk < full.header_len && offset <= kk, "{name} at {k}")
                }
                Err(GgufError::CountTooLarge { .. }) => assert!(kk < full.header_len),
                Err(GgufError::TensorPastEnd { .. }) => {
                    assert!(kk >= full.header_len && kk < data_end, "{name} at {k}")
                }
                Err(e) => panic!("{name} cut at {k}: unexpected {e:?}"),
            }
            // The same prefix of a stream of the full length: only ever "need more".
            match Gguf::parse_prefix(cut, file.len() as u64) {
                Ok(g) => {
                    assert!(kk >= full.header_len);
                    // Full comparison where the header first fits and now and then after.
                    if kk == full.header_len || k % 1009 == 0 {
                        assert_eq!(fingerprint(&Ok(g)), full_fp, "{name} prefix {k}");
                    }
                }
                Err(GgufError::NeedMore { needed }) => {
                    assert!(kk < full.header_len && needed > kk && needed <= full.header_len)
                }
                Err(e) => panic!("{name} prefix {k}: unexpected {e:?}"),
            }
            k += step(k);
        }
    }
}

#[test]
fn streaming_in_chunks_of_1_7_4096() {
    for name in SMALL.iter().chain(&["fixtures/bitnet-b158-tiny-i2_s.gguf"]) {
        let file = read_fixture(name);
        let whole = Gguf::parse(&file);
        for chunk in [1, 7, 4096] {
            let mut s = HeaderStream::new(file.len() as u64);
            let mut loaded = 0;
            while s.poll(&file[..loaded]).is_none() {
                assert!(loaded < file.len());
                loaded = (loaded + chunk).min(file.len());
            }
            assert_eq!(
                fingerprint(&s.take().unwrap()),
                fingerprint(&whole),
                "{name} in chunks of {chunk}"
            );
        }
    }
}

#[test]
fn seeded_random_corruption() {
    let started = Instant::now();
    let mut rng = Rng(0x5EED_0001);
    let mut accepted = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for name in SMALL.iter().chain(&["fixtures/bitnet-b158-tiny-i2_s.gguf"]) {
        let orig = read_fixture(name);
        let header_len = Gguf::parse(&orig).unwrap().header_len as usize;
        for _ in 0..2000 {
            let mut file = orig.clone();
            for _ in 0..1 + rng.below(4) {
                // Mostly the header, where the structure is; sometimes anywhere.
                let span = if rng.below(8) == 0 {
                    file.len()
                } else {
                    header_len
                };
                let at = rng.below(span as u64) as usize;
                file[at] = match rng.below(4) {
                    0 => file[at] ^ (1 << rng.below(8)),
                    1 => 0xFF,
                    2 => 0,
                    _ => rng.below(256) as u8,
                };
            }
            if rng.below(4) == 0 {
                file.truncate(rng.below(file.len() as u64) as usize);
            }
            let (r, alloc) = allocated_by(|| Gguf::parse(&file));
            assert!(
                alloc <= 64 * file.len() as u64 + (1 << 16),
                "{name}: {alloc} bytes allocated for a {}-byte file",
                file.len()
            );
            match r {
                Ok(g) => {
                    accepted += 1;
                    check_accepted(&g, &file);
                }
                Err(e) => {
                    kinds.insert(e.kind());
                    // Every error renders to one line that says where.
                    let msg = e.to_string();
                    assert!(!msg.contains('\n') && !msg.is_empty());
                }
            }
        }
    }
    // The corruption reached many different checks, and some files still parse.
    assert!(kinds.len() >= 8, "{kinds:?}");
    assert!(accepted > 100, "{accepted}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn huge_values_in_every_field() {
    // Overwrite each 8-byte window of the header with huge numbers: counts, lengths, dims,
    // offsets, type ids all get hit.
    for name in ["data/gguf-py/values.gguf", "data/gguf-py/types.gguf"] {
        let orig = read_fixture(name);
        let header_len = Gguf::parse(&orig).unwrap().header_len as usize;
        for at in 4..header_len.saturating_sub(8) {
            for v in [1u64 << 40, u64::MAX, 1 << 62, u32::MAX as u64] {
                let mut file = orig.clone();
                file[at..at + 8].copy_from_slice(&v.to_le_bytes());
                let t = Instant::now();
                let (r, alloc) = allocated_by(|| Gguf::parse(&file));
                assert!(t.elapsed() < Duration::from_millis(200), "{name} @{at}");
                assert!(
                    alloc <= 64 * file.len() as u64 + (1 << 16),
                    "{name} @{at} = {v}: {alloc} bytes"
                );
                if let Ok(g) = r {
                    check_accepted(&g, &file);
                }
            }
        }
    }
}
