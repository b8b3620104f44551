//! `norm_report` on the shared fixtures equals an independent numpy computation.

#[path = "common/norm_fixture_values.rs"]
mod values;

use bitlens::gguf::Gguf;
use bitlens::norms::norm_report;
use values::*;

#[test]
fn i2s_fixture_statistics_match_numpy() {
    let g = Gguf::parse(I2S_FILE).unwrap();
    let r = norm_report(&g, I2S_FILE);
    check_report(&r, I2S_NORMS).unwrap();
    assert_eq!(r.architecture.as_deref(), Some("bitnet-b1.58"));
    assert_eq!(r.layers.len(), 2);
    let kinds: Vec<&str> = r.layers[1].norms.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["attn_norm", "attn_sub_norm", "ffn_norm", "ffn_sub_norm"]
    );
    assert_eq!(r.global.len(), 1);
    assert_eq!(r.global[0].name, "output_norm.weight");
    assert_eq!(r.kinds.len(), 5);
    assert_eq!(r.kinds[3].kind, "ffn_sub_norm");
    assert_eq!(r.kinds[3].count, 2);
    assert_eq!(r.kinds[3].n, 512);
    assert!(r.problems.is_empty());
}

#[test]
fn tq2_fixture_statistics_match_numpy() {
    let g = Gguf::parse(TQ2_FILE).unwrap();
    let r = norm_report(&g, TQ2_FILE);
    check_report(&r, TQ2_NORMS).unwrap();
    assert_eq!(r.architecture.as_deref(), Some("bitnet"));
    // 1/sqrt(256) for the 256-wide norms.
    assert_eq!(r.get("blk.0.attn_norm.weight").unwrap().inv_sqrt_n, 0.0625);
}

#[test]
fn check_report_catches_a_wrong_value() {
    let g = Gguf::parse(TQ2_FILE).unwrap();
    let r = norm_report(&g, TQ2_FILE);
    let mut wrong = TQ2_NORMS[0];
    wrong.4 *= 1.0 + 1e-9;
    let err = check_report(&r, &[wrong]).unwrap_err();
    assert!(err.starts_with("output_norm.weight: rms"), "{err}");
}
