//! The rescale's log lines, exactly as the issue gives them, through the `log` facade.

use std::sync::Mutex;

use bitlens::gguf::Gguf;
use bitlens::norms::{load_norm, RescalePolicy};

#[path = "common/synth.rs"]
mod synth;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        LINES
            .lock()
            .unwrap()
            .push(format!("{} {}", r.level(), r.args()));
    }
    fn flush(&self) {}
}

#[test]
fn rescale_logs_the_two_lines() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    // RMS exactly 0.018: every element 0.018 (as f32).
    let bytes = synth::file(vec![synth::norm(
        "blk.0.attn_norm.weight",
        synth::Store::F32,
        &[0.018; 2560],
    )]);
    let g = Gguf::parse(&bytes).unwrap();
    let policy = RescalePolicy::new(true, false);
    policy.log_decision();
    let mut records = Vec::new();
    load_norm(&g, &bytes, "blk.0.attn_norm.weight", &policy, &mut records).unwrap();
    let lines = LINES.lock().unwrap().clone();
    assert_eq!(
        lines,
        [
            "WARN EXPERIMENTAL: norm gammas will be rescaled by sqrt(n) on load (loader option)",
            "INFO EXPERIMENTAL: Rescaling 'blk.0.attn_norm.weight' gamma by √2560 = 50.60× (RMS 0.018000 → expected 0.910736)",
            "INFO EXPERIMENTAL: Rescaled 'blk.0.attn_norm.weight': RMS 0.018000 → 0.910736 (factor: 50.60×)",
        ]
    );
}
