//! A closed stdout (`bitlens inspect FILE | head -1`) ends the process quietly, never a panic.
#![cfg(unix)]

mod common;

use std::io::Read;
use std::process::Stdio;

#[test]
fn closed_pipe_is_not_a_panic() {
    // About 1.2 MB of JSON: far more than a pipe buffer holds, so writes hit the closed pipe.
    let vocab = common::fixture_arg("data/tokenizer/smollm2-135m.vocab.gguf");
    let mut child = common::cli::command(&["inspect", &vocab, "--json"], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bitlens");
    // Read one byte, then close the pipe while the table is still being written.
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    out.read_exact(&mut first).unwrap();
    drop(out);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "stderr: {err}");
    assert_ne!(status.code(), Some(101), "panic exit code; stderr: {err}");
}
