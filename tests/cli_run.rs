//! `bitlens run` end to end on the tiny I2_S fixture: the tokenizer's prompt ids and the greedy
//! continuation equal bitnet.cpp's golden ones; the JSON carries seed and timings; the rescale
//! switch is honored; bad input fails with a message.

mod common;

use serde_json::Value;

const GOLDEN: &str = include_str!("fixtures/bitnet-b158-tiny-i2_s.golden.json");

/// The I2_S fixture's path.
fn i2s() -> String {
    common::fixture_arg("fixtures/bitnet-b158-tiny-i2_s.gguf")
}

/// `bitlens run ARGS...` with `env`: (success, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    common::cli::bitlens(&[&["run"], args].concat(), env).parts()
}

#[test]
fn greedy_json_matches_golden() {
    let golden: Value = serde_json::from_str(GOLDEN).unwrap();
    let case = &golden["cases"][1];
    let prompt = case["prompt"].as_str().unwrap();
    let (ok, stdout, stderr) = run(
        &[
            &i2s(),
            "--prompt",
            prompt,
            "--greedy",
            "--max-tokens",
            "12",
            "--json",
        ],
        &[],
    );
    assert!(ok, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["prompt_ids"], case["prompt_ids"]);
    let want: Vec<Value> = case["greedy_ids"].as_array().unwrap()[..12].to_vec();
    assert_eq!(v["generated_ids"].as_array().unwrap(), &want);
    assert_eq!(v["stop_reason"], "MaxTokens");
    assert_eq!(
        v["timings"]["prefill_tokens"],
        case["prompt_ids"].as_array().unwrap().len()
    );
    assert_eq!(v["timings"]["decode_tokens"], 11);
    assert_eq!(v["rescale"], "off");
    assert!(v["seed"].is_u64());
}

#[test]
fn seed_is_reported_and_repeats() {
    let args = [
        &i2s(),
        "--prompt",
        "Hello",
        "--temp",
        "0.9",
        "--top-k",
        "20",
        "--seed",
        "7",
        "--max-tokens",
        "10",
        "--json",
    ];
    let (ok, a, e) = run(&args, &[]);
    assert!(ok, "{e}");
    let (_, b, _) = run(&args, &[]);
    let (a, b): (Value, Value) = (
        serde_json::from_str(&a).unwrap(),
        serde_json::from_str(&b).unwrap(),
    );
    assert_eq!(a["seed"], 7);
    assert_eq!(a["generated_ids"], b["generated_ids"]);
}

#[test]
fn rescale_switch_and_errors() {
    // Four greedy tokens of "Hello" as JSON under the environment `env`.
    let hello = |env: &[(&str, &str)]| {
        let args = [
            &i2s(),
            "--prompt",
            "Hello",
            "--greedy",
            "--max-tokens",
            "4",
            "--json",
        ];
        let (ok, out, err) = run(&args, env);
        assert!(ok, "{err}");
        (serde_json::from_str::<Value>(&out).unwrap(), err)
    };
    let (v, err) = hello(&[("BITNET_RESCALE_GAMMA_ON_LOAD", "1")]);
    assert_eq!(v["rescale"], "applied");
    assert!(err.contains("9 corrected"), "{err}");
    let (v, _) = hello(&[
        ("BITNET_RESCALE_GAMMA_ON_LOAD", "1"),
        ("BITNET_STRICT_MODE", "1"),
    ]);
    assert_eq!(v["rescale"], "refused by strict mode");
    let (ok, _, err) = run(&[&i2s(), "--greedy", "--temp", "1"], &[]);
    assert!(!ok && err.contains("--greedy excludes"), "{err}");
    // A context past the file's is allowed with a warning (as llama.cpp does); memory bounds it.
    let (ok, _, err) = run(&[&i2s(), "--prompt", "x", "--ctx", "0"], &[]);
    assert!(
        !ok && err.contains("a context of 0 positions cannot be used"),
        "{err}"
    );
    let (ok, _, err) = run(&[&i2s(), "--prompt", "x", "--ctx", "100000000000"], &[]);
    assert!(
        !ok && err.contains("over the bound of 17179869184"),
        "{err}"
    );
    let (ok, _, err) = run(&["/nonexistent.gguf", "--prompt", "x"], &[]);
    assert!(!ok && err.contains("/nonexistent.gguf"), "{err}");
}

/// `--isa avx512` mirrors the AVX-512 llama.cpp build that made the SmolLM2 goldens: case 4's
/// continuation equals it, while the default AVX2 numerics part from it (they round expf and
/// the F16 dot products differently). Needs the real file (`bash scripts/fetch-smollm2.sh`).
#[test]
fn isa_flag_selects_the_reference_build() {
    let file = common::smollm2_path();
    assert!(
        file.exists(),
        "{} missing: run bash scripts/fetch-smollm2.sh",
        file.display()
    );
    let file = file.to_str().unwrap();
    let golden: Value = serde_json::from_str(include_str!("data/smollm2/greedy.json")).unwrap();
    let case = &golden["cases"][4];
    let want: Vec<u64> = case["greedy_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let n = want.len().to_string();
    let ids = |isa: &str| -> Vec<u64> {
        let prompt = case["prompt"].as_str().unwrap();
        let args = [
            file,
            "--prompt",
            prompt,
            "--greedy",
            "--max-tokens",
            &n,
            "--isa",
            isa,
            "--json",
        ];
        let (ok, stdout, stderr) = run(&args, &[]);
        assert!(ok, "{stderr}");
        let v: Value = serde_json::from_str(&stdout).unwrap();
        v["generated_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids("avx512"), want);
    assert_ne!(ids("avx2"), want);
    let (ok, _, stderr) = run(&[file, "--prompt", "x", "--isa", "sse"], &[]);
    assert!(!ok);
    assert!(stderr.contains("--isa takes avx2 or avx512"), "{stderr}");
}

/// `--score`: the prompt's perplexity under the mode the switches select. On the prescaled twin
/// of the built-in model the rescaled gammas predict a Shakespeare line far better than the
/// stored ones, and equal the faithful file's score.
#[test]
fn score_flag_reports_prompt_perplexity() {
    let models = common::repo_path("www/models");
    let prompt = "ROMEO: But soft, what light through yonder window breaks?";
    // Two greedy tokens of `prompt` from `file`, with `extra` flags.
    let greedy = |file: &str, extra: &[&str], rescale: &str| {
        let path = models.join(file).to_str().unwrap().to_string();
        let mut args = vec![
            path.as_str(),
            "--prompt",
            prompt,
            "--greedy",
            "--max-tokens",
            "2",
        ];
        args.extend_from_slice(extra);
        let (ok, out, err) = run(&args, &[("BITNET_RESCALE_GAMMA_ON_LOAD", rescale)]);
        assert!(ok, "{err}");
        (out, err)
    };
    let score = |file: &str, rescale: &str| {
        let (out, _) = greedy(file, &["--score", "--json"], rescale);
        let v: Value = serde_json::from_str(&out).unwrap();
        let sc = &v["prompt_score"];
        let n = v["prompt_ids"].as_array().unwrap().len() as u64;
        assert_eq!(sc["tokens"].as_u64(), Some(n - 1));
        assert_eq!(sc["nll"].as_array().unwrap().len() as u64, n - 1);
        sc["perplexity"].as_f64().unwrap()
    };
    let faithful = score("shakespeare-bitnet.gguf", "0");
    let twin = score("shakespeare-bitnet-prescaled.gguf", "0");
    let twin_rescaled = score("shakespeare-bitnet-prescaled.gguf", "1");
    assert!(twin_rescaled * 3.0 < twin, "{twin_rescaled} vs {twin}");
    assert_eq!(twin_rescaled, faithful);
    // Without --score the JSON field is null and the text report has no score line.
    let (out, _) = greedy("shakespeare-bitnet.gguf", &["--json"], "0");
    assert!(serde_json::from_str::<Value>(&out).unwrap()["prompt_score"].is_null());
    let (_, err) = greedy("shakespeare-bitnet.gguf", &[], "0");
    assert!(!err.contains("prompt score"), "{err}");
    let (_, err) = greedy("shakespeare-bitnet.gguf", &["--score"], "0");
    assert!(err.contains("bitlens: prompt score: mean NLL"), "{err}");
}

/// `--ab` on the prescaled twin: both modes from one load, each the reference's greedy ids
/// (tools/train/export.py recorded them), prompt scores, probes, and the verdict for the
/// rescaled gammas; strict mode runs the baseline only and says why.
#[test]
fn ab_flag_runs_both_modes() {
    let golden: Value =
        serde_json::from_str(include_str!("../www/models/shakespeare-bitnet.golden.json")).unwrap();
    let c = &golden["cases"][1];
    let twin = common::repo_path("www/models/shakespeare-bitnet-prescaled.gguf");
    let twin = twin.to_str().unwrap();
    let args = [
        twin,
        "--prompt",
        c["prompt"].as_str().unwrap(),
        "--greedy",
        "--max-tokens",
        "8",
        "--ab",
        "--json",
    ];
    let first8 = |v: &Value| -> Vec<Value> { v.as_array().unwrap()[..8].to_vec() };

    let (ok, out, err) = run(&args, &[]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["prompt_ids"], c["prompt_ids"]);
    let m = &v["modes"];
    assert_eq!(
        m["baseline"]["generated_ids"].as_array().unwrap(),
        &first8(&c["twin_baseline_greedy_ids"])
    );
    assert_eq!(
        m["rescaled"]["generated_ids"].as_array().unwrap(),
        &first8(&c["twin_rescaled_greedy_ids"])
    );
    assert_eq!(v["rescale_records"].as_array().unwrap().len(), 17);
    assert!(v["rescaled_refused"].is_null());
    for mode in ["baseline", "rescaled"] {
        assert_eq!(m[mode]["probe"]["layers"].as_array().unwrap().len(), 4);
        assert!(m[mode]["prompt_score"]["perplexity"].as_f64().unwrap() > 1.0);
    }
    let verdict = v["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with("On this prompt the rescaled gammas predict"),
        "{verdict}"
    );

    let (ok, out, err) = run(&args, &[("BITNET_STRICT_MODE", "1")]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["modes"]["rescaled"].is_null());
    assert_eq!(
        v["modes"]["baseline"]["generated_ids"].as_array().unwrap(),
        &first8(&c["twin_baseline_greedy_ids"])
    );
    assert!(v["rescaled_refused"]
        .as_str()
        .unwrap()
        .contains("strict mode"));
    assert!(v["rescale_records"].as_array().unwrap().is_empty());
    assert!(v["verdict"].is_null());
}

#[test]
fn threads_flag_is_reported_and_changes_nothing() {
    let golden: Value = serde_json::from_str(GOLDEN).unwrap();
    let case = &golden["cases"][0];
    let prompt = case["prompt"].as_str().unwrap();
    let mut texts = Vec::new();
    for threads in ["1", "3"] {
        let args = [&i2s(), "--prompt", prompt, "--greedy", "--max-tokens", "8"];
        let (ok, stdout, stderr) = run(&[&args[..], &["--threads", threads]].concat(), &[]);
        assert!(ok, "{stderr}");
        let want = if threads == "1" {
            "1 thread,"
        } else {
            "3 threads,"
        };
        assert!(stderr.contains(want), "{stderr}");
        texts.push(stdout);
    }
    assert_eq!(texts[0], texts[1]);
    let (ok, _, stderr) = run(&[&i2s(), "--prompt", "a", "--threads", "0"], &[]);
    assert!(
        !ok && stderr.contains("--threads must be at least 1"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&[&i2s(), "--prompt", "a", "--threads", "many"], &[]);
    assert!(
        !ok && stderr.contains("--threads: not a valid number"),
        "{stderr}"
    );
}
