// Norm statistics of the shared fixtures, computed independently by tools/norm_stats.py (numpy,
// float64; its full output is tools/norm_stats.fixtures.txt). Used by the native test
// (tests/norms_fixtures.rs) and by the same check in Chromium (tests/web_norms.rs).

/// (tensor, n, mean, std, rms, min, max, rms*sqrt(n))
pub type Expected = (&'static str, u64, f64, f64, f64, f64, f64, f64);

pub const I2S_FILE: &[u8] = include_bytes!("../fixtures/bitnet-b158-tiny-i2_s.gguf");
pub const TQ2_FILE: &[u8] = include_bytes!("../fixtures/bitnet-tiny-tq2_0.gguf");

pub const I2S_NORMS: &[Expected] = &[
    (
        "output_norm.weight",
        256,
        -1.0106592262163758,
        0.10686738250869114,
        1.016293613568708,
        -1.301425814628601,
        -0.6818971037864685,
        16.260697817099327,
    ),
    (
        "blk.0.attn_norm.weight",
        256,
        -0.9941449631005526,
        0.1069955867086707,
        0.9998861251329232,
        -1.251416802406311,
        -0.6877925992012024,
        15.998178002126771,
    ),
    (
        "blk.1.ffn_sub_norm.weight",
        512,
        -0.9970190832391381,
        0.09731058870811399,
        1.001756658584175,
        -1.337514877319336,
        -0.693091869354248,
        22.667165644276714,
    ),
];

pub const TQ2_NORMS: &[Expected] = &[
    (
        "output_norm.weight",
        256,
        0.9740604602266103,
        0.286451830075449,
        1.0153070624842762,
        0.500167727470398,
        1.4874191284179688,
        16.24491299974842,
    ),
    (
        "blk.0.attn_norm.weight",
        256,
        0.9816902440506965,
        0.29742944762701023,
        1.0257582617654242,
        0.5012346506118774,
        1.4994367361068726,
        16.412132188246787,
    ),
    (
        "blk.1.ffn_sub_norm.weight",
        512,
        0.9919582527363673,
        0.28790590091197915,
        1.0328944684486043,
        0.5059333443641663,
        1.4915615320205688,
        23.371733852482645,
    ),
];

/// Both fixtures: 2 layers x 4 norms + output_norm, none pre-scaled.
pub const NORMS_PER_FIXTURE: u64 = 9;

/// Relative tolerance: only the summation order differs from numpy.
pub const REL_TOL: f64 = 1e-12;

/// Checks `report` against `expected`; returns the first mismatch.
pub fn check_report(
    report: &bitlens::norms::NormReport,
    expected: &[Expected],
) -> Result<(), String> {
    if report.n_norms != NORMS_PER_FIXTURE || report.n_prescaled != 0 {
        return Err(format!(
            "{} norms, {} pre-scaled",
            report.n_norms, report.n_prescaled
        ));
    }
    for &(name, n, mean, std, rms, min, max, rms_sqrt_n) in expected {
        let s = report.get(name).ok_or(format!("{name} missing"))?;
        if s.moments.n != n {
            return Err(format!("{name}: n {} != {n}", s.moments.n));
        }
        let m = &s.moments;
        for (what, got, want) in [
            ("mean", m.mean, mean),
            ("std", m.std, std),
            ("rms", m.rms, rms),
            ("min", m.min, min),
            ("max", m.max, max),
            ("rms*sqrt(n)", s.rms_sqrt_n, rms_sqrt_n),
        ] {
            if (got - want).abs() > REL_TOL * want.abs() {
                return Err(format!("{name}: {what} {got} != {want}"));
            }
        }
        if s.prescaled || s.verdict != "not pre-scaled" {
            return Err(format!("{name}: verdict {}", s.verdict));
        }
    }
    Ok(())
}
