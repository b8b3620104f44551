//! `bitlens stats` and `bitlens export` as a user runs them (variables set per child process).

use std::process::Command;

use bitlens::gguf::Gguf;
use bitlens::norms::export::KEY_TENSORS;

const TQ2: &str = "tests/fixtures/bitnet-tiny-tq2_0.gguf";

fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bitlens"));
    c.args(args)
        .env_remove("BITNET_RESCALE_GAMMA_ON_LOAD")
        .env_remove("BITNET_STRICT_MODE")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    (
        o.status.success(),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

#[test]
fn stats_table_and_records() {
    let (ok, out, _) = run(&["stats", TQ2], &[]);
    assert!(ok);
    assert!(out.contains(
        "    0  attn_norm      F32      256   0.981690   0.297429   1.025758   0.501235   1.499437     16.4121  0.062500  not pre-scaled"
    ), "{out}");
    assert!(out.contains("gamma rescale: off"));
    assert!(!out.contains("rms before"));

    let env = [("BITNET_RESCALE_GAMMA_ON_LOAD", "1"), ("RUST_LOG", "info")];
    let (ok, out, err) = run(&["stats", TQ2], &env);
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
    let (ok, out, _) = run(&["stats", TQ2], &env);
    assert!(ok);
    assert!(out.contains("gamma rescale refused: strict mode"), "{out}");
    assert!(!out.contains("rms before"));
}

#[test]
fn stats_json() {
    let (ok, out, _) = run(
        &["stats", TQ2, "--json"],
        &[("BITNET_RESCALE_GAMMA_ON_LOAD", "1")],
    );
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
    let (ok, out, _) = run(
        &["export", TQ2, out_s],
        &[("BITNET_RESCALE_GAMMA_ON_LOAD", "1")],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("15 tensors copied byte for byte, 9 norms rewritten as F32"),
        "{out}"
    );
    let bytes = std::fs::read(&out_path).unwrap();
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.get_array(KEY_TENSORS).unwrap().len(), 9);

    let (ok, out, _) = run(
        &["export", TQ2, out_s],
        &[("BITNET_RESCALE_GAMMA_ON_LOAD", "0")],
    );
    assert!(ok);
    assert!(out.contains("is not \"1\""), "{out}");
    assert_eq!(
        std::fs::read(&out_path).unwrap(),
        std::fs::read(TQ2).unwrap()
    );
    assert!(!dir.join("out.gguf.partial").exists());
    std::fs::remove_dir_all(&dir).unwrap();

    let (ok, _, err) = run(&["export", TQ2], &[]);
    assert!(!ok);
    assert!(err.contains("usage: bitlens export FILE OUT"));
}
