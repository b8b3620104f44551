//! `bitlens stats FILE [--json]`: statistics of every norm gamma, per layer and per kind, and
//! what the experimental rescale does when the environment asks for it.
//!
//! Reads the header and then only the norm tensors (a seek and a read each): a few megabytes
//! of a 1.2 GB model.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use bitlens::gguf::{Gguf, TensorInfo};
use bitlens::norms::{
    correct_norm, norm_report_from, CorrectionPipeline, CorrectionRecord, NormError, NormReport,
    NormStats, RescaleOutcome, RescalePolicy, ENV_RESCALE,
};
use serde::Serialize;

use crate::inspect::read_header;

#[derive(Serialize)]
struct StatsOutput<'a> {
    file: &'a str,
    report: &'a NormReport,
    policy: &'a RescalePolicy,
    outcome: RescaleOutcome,
    records: &'a [CorrectionRecord],
}

pub fn main(args: &[String]) -> Result<(), String> {
    let (path, json) = match args {
        [p] => (p, false),
        [p, j] if j == "--json" => (p, true),
        _ => return Err("usage: bitlens stats FILE [--json]".into()),
    };
    let gguf = read_header(path).map_err(|e| format!("{path}: {e}"))?;
    let mut file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let report = norm_report_from(&gguf, |t| read_tensor(&mut file, t));
    let policy = RescalePolicy::from_env();
    let records = if policy.applies() {
        rescale_all(&gguf, &mut file, &report, &policy).map_err(|e| format!("{path}: {e}"))?
    } else {
        Vec::new()
    };
    if json {
        let out = StatsOutput {
            file: path,
            report: &report,
            policy: &policy,
            outcome: policy.outcome(),
            records: &records,
        };
        let text = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }
    print_report(path, &report);
    println!();
    print_outcome(&policy);
    print_records(&records);
    Ok(())
}

/// The data of tensor `t` (the header checked that it lies within the file).
pub fn read_tensor(file: &mut File, t: &TensorInfo) -> Result<Vec<u8>, NormError> {
    let io = |e: std::io::Error| NormError::Read {
        tensor: t.name.clone(),
        detail: e.to_string(),
    };
    let mut buf = vec![0u8; t.n_bytes as usize];
    file.seek(SeekFrom::Start(t.data_start)).map_err(io)?;
    file.read_exact(&mut buf).map_err(io)?;
    Ok(buf)
}

/// Loads every norm through the correction pipeline, as the model would, collecting records.
fn rescale_all(
    gguf: &Gguf,
    file: &mut File,
    report: &NormReport,
    policy: &RescalePolicy,
) -> Result<Vec<CorrectionRecord>, NormError> {
    let pipeline = CorrectionPipeline::new(gguf, policy);
    let mut records = Vec::new();
    for s in report.all() {
        let t = gguf
            .tensor(&s.name)
            .expect("the report lists the file's tensors");
        correct_norm(t, &read_tensor(file, t)?, &pipeline, &mut records)?;
    }
    Ok(records)
}

fn print_report(path: &str, r: &NormReport) {
    println!(
        "{path}: architecture {}, {} norm tensors, {} look pre-scaled by 1/sqrt(n), {} stored quantized",
        r.architecture.as_deref().unwrap_or("?"),
        r.n_norms,
        r.n_prescaled,
        r.n_quantized
    );
    println!();
    println!(
        "{:>5}  {:<14} {:<5} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>11} {:>9}  verdict",
        "layer",
        "kind",
        "type",
        "n",
        "mean",
        "std",
        "rms",
        "min",
        "max",
        "rms*sqrt(n)",
        "1/sqrt(n)"
    );
    for s in r.all() {
        print_row(s);
    }
    if !r.kinds.is_empty() {
        println!();
        println!(
            "{:<14} {:>5} {:>6} {:>10} {:>10} {:>10} {:>10}",
            "kind", "count", "n", "rms min", "rms mean", "rms max", "pre-scaled"
        );
        for k in &r.kinds {
            println!(
                "{:<14} {:>5} {:>6} {:>10.6} {:>10.6} {:>10.6} {:>10}",
                k.kind, k.count, k.n, k.rms_min, k.rms_mean, k.rms_max, k.prescaled
            );
        }
    }
    for p in &r.problems {
        println!("problem: {p}");
    }
}

fn print_row(s: &NormStats) {
    let m = &s.moments;
    let layer = s.layer.map_or("-".to_string(), |l| l.to_string());
    let mut verdict = s.verdict.clone();
    for n in &s.notes {
        verdict.push_str("; ");
        verdict.push_str(n);
    }
    println!(
        "{layer:>5}  {:<14} {:<5} {:>6} {:>10.6} {:>10.6} {:>10.6} {:>10.6} {:>10.6} {:>11.4} {:>9.6}  {verdict}",
        s.kind, s.storage, m.n, m.mean, m.std, m.rms, m.min, m.max, s.rms_sqrt_n, s.inv_sqrt_n
    );
}

/// One line on what the rescale policy decided, with any notes about the variables.
pub fn print_outcome(policy: &RescalePolicy) {
    for n in &policy.notes {
        println!("note: {n}");
    }
    match policy.outcome() {
        RescaleOutcome::Off => {
            println!(
                "gamma rescale: off (set {ENV_RESCALE}=1 to try the experimental sqrt(n) rescale)"
            )
        }
        RescaleOutcome::Applied => {
            println!("gamma rescale: applied (EXPERIMENTAL, {})", policy.source)
        }
        RescaleOutcome::RefusedByStrict { reason } => println!("{reason}"),
    }
}

pub fn print_records(records: &[CorrectionRecord]) {
    if records.is_empty() {
        return;
    }
    println!(
        "{:<32} {:>6} {:>8} {:>12} {:>12}  reason",
        "tensor", "n", "factor", "rms before", "rms after"
    );
    for r in records {
        println!(
            "{:<32} {:>6} {:>8.4} {:>12.6} {:>12.6}  {}",
            r.name, r.n, r.factor, r.rms_before, r.rms_after, r.reason
        );
    }
}
