//! Norm statistics of a real file nobody here wrote: SmolLM2-135M-Instruct.Q4_1.gguf (llama
//! arch, 61 F32 norms of 576). Values from tools/norm_stats.py (numpy), full output in
//! tools/norm_stats.smollm2.txt. The 98 MB file lives outside git: `scripts/fetch-smollm2.sh`
//! puts it in `${BITLENS_CACHE:-$HOME/.cache/bitlens}`; without it this test fails and says so.

mod common;

use bitlens::gguf::Gguf;
use bitlens::norms::norm_report;

#[test]
fn smollm2_norm_statistics_match_numpy() {
    let file = common::read_smollm2();
    let g = Gguf::parse(&file).unwrap();
    let r = norm_report(&g, &file);
    assert_eq!(r.architecture.as_deref(), Some("llama"));
    assert_eq!((r.n_norms, r.n_prescaled, r.n_quantized), (61, 1, 0));
    assert_eq!(r.layers.len(), 30);
    // (tensor, mean, std, rms, min, max, rms*sqrt(n)), n = 576 for all.
    let expected = [
        (
            "blk.0.attn_norm.weight",
            0.0010641382800208197,
            0.03990943053978545,
            0.039923615020298016,
            -0.3046875,
            0.314453125,
            0.9581667604871524,
        ),
        (
            "blk.29.ffn_norm.weight",
            0.3407694498697917,
            0.07624668064496642,
            0.34919532395771846,
            0.291015625,
            1.375,
            8.380687774985244,
        ),
        (
            "output_norm.weight",
            1.8026597764756944,
            0.2945575854084647,
            1.8265668454357387,
            -2.125,
            3.34375,
            43.837604290457726,
        ),
    ];
    for (name, mean, std, rms, min, max, rms_sqrt_n) in expected {
        let s = r.get(name).unwrap();
        let m = &s.moments;
        assert_eq!(m.n, 576);
        for (got, want) in [
            (m.mean, mean),
            (m.std, std),
            (m.rms, rms),
            (m.min, min),
            (m.max, max),
            (s.rms_sqrt_n, rms_sqrt_n),
        ] {
            assert!(
                (got - want).abs() <= 1e-12 * want.abs(),
                "{name}: {got} vs {want}"
            );
        }
    }
    // The one gamma whose RMS sits within 15% of 1/sqrt(576): the verdict is a pattern, not proof.
    let pre: Vec<&str> = r
        .all()
        .filter(|s| s.prescaled)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(pre, ["blk.0.attn_norm.weight"]);
}
