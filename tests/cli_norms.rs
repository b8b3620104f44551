//! `bitlens stats` and `bitlens export` as a user runs them (variables set per child process).

mod common;

use bitlens::gguf::Gguf;
use bitlens::norms::export::KEY_TENSORS;

use common::cli::bitlens;

/// The TQ2_0 fixture's path.
fn tq2() -> String {
    common::fixture_arg("fixtures/bitnet-tiny-tq2_0.gguf")
}

#[test]
fn stats_table_and_records() {
    let (ok, out, _) = bitlens(&["stats", &tq2()], &[]).parts();
    assert!(ok);
    assert!(out.contains(
        "    0  attn_norm      F32      256   0.981690   0.297429   1.025758   0.501235   1.499437     16.4121  0.062500  not pre-scaled"
    ), "{out}");
    assert!(out.contains("gamma rescale: off"));
    assert!(!out.contains("rms before"));

    let env = [("BITNET_RESCALE_GAMMA_ON_LOAD", "1"), ("RUST_LOG", "info")];
    let (ok, out, err) = bitlens(&["stats", &tq2()], &env).parts();
    assert!(ok);
    assert!(out.contains("gamma rescale: applied"));
    assert!(
        out.contains("blk.0.attn_norm.weight              256  16.0000     1.025758    16.412132"),
        "{out}"
    );
    assert!(err.contains(
        "EXPERIMENTAL: Rescaled 'blk.0.attn_norm.weight': RMS 1.025758 → 16.412132 (factor: 16.00×)"
    ), "{err}");

    let env = [
        ("BITNET_RESCALE_GAMMA_ON_LOAD", "1"),
        ("BITNET_STRICT_MODE", "1"),
    ];
    let (ok, out, _) = bitlens(&["stats", &tq2()], &env).parts();
    assert!(ok);
    assert!(out.contains("gamma rescale refused: strict mode"), "{out}");
    assert!(!out.contains("rms before"));
}

#[test]
fn stats_json() {
    let (ok, out, _) = bitlens(
        &["stats", &tq2(), "--json"],
        &[("BITNET_RESCALE_GAMMA_ON_LOAD", "1")],
    )
    .parts();
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outcome"]["status"], "applied");
    assert_eq!(v["records"].as_array().unwrap().len(), 9);
    assert_eq!(v["records"][0]["name"], "blk.0.attn_norm.weight");
    assert_eq!(v["records"][0]["factor"], 16.0);
    assert_eq!(v["report"]["n_norms"], 9);
    assert_eq!(v["report"]["layers"][1]["norms"][3]["kind"], "ffn_sub_norm");
    assert_eq!(v["report"]["global"][0]["n"], 256);
}

#[test]
fn export_writes_the_corrected_file() {
    let dir = std::env::temp_dir().join(format!("bitlens-cli-norms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("out.gguf");
    let out_s = out_path.to_str().unwrap();
    let (ok, out, _) = bitlens(
        &["export", &tq2(), out_s],
        &[("BITNET_RESCALE_GAMMA_ON_LOAD", "1")],
    )
    .parts();
    assert!(ok, "{out}");
    assert!(
        out.contains("15 tensors copied byte for byte, 9 norms rewritten as F32"),
        "{out}"
    );
    let bytes = std::fs::read(&out_path).unwrap();
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.get_array(KEY_TENSORS).unwrap().len(), 9);

    let (ok, out, _) = bitlens(
        &["export", &tq2(), out_s],
        &[("BITNET_RESCALE_GAMMA_ON_LOAD", "0")],
    )
    .parts();
    assert!(ok);
    assert!(out.contains("is not \"1\""), "{out}");
    assert_eq!(
        std::fs::read(&out_path).unwrap(),
        std::fs::read(tq2()).unwrap()
    );
    assert!(!dir.join("out.gguf.partial").exists());
    std::fs::remove_dir_all(&dir).unwrap();

    let (ok, _, err) = bitlens(&["export", &tq2()], &[]).parts();
    assert!(!ok);
    assert!(err.contains("usage: bitlens export FILE OUT"));
}
