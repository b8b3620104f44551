//! `bitlens export FILE OUT`: writes a GGUF with the experimental gamma rescale applied when
//! `BITNET_RESCALE_GAMMA_ON_LOAD=1` (and strict mode is off); otherwise a copy with identical
//! tensor data. Tensor bytes are streamed from the input file; only the header and the rescaled
//! norms are held in memory.

use std::fs::File;
use std::io::{BufWriter, Write};

use bitlens::norms::{plan_export_from, write_export_from, RescalePolicy, SegmentSource};

use crate::inspect::read_header;
use crate::stats::{print_outcome, print_records, read_tensor};

pub fn main(args: &[String]) -> Result<(), String> {
    let [path, out_path] = args else {
        return Err("usage: bitlens export FILE OUT".into());
    };
    let gguf = read_header(path).map_err(|e| format!("{path}: {e}"))?;
    let mut input = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let policy = RescalePolicy::from_env();
    let plan = plan_export_from(&gguf, &policy, |t| read_tensor(&mut input, t))
        .map_err(|e| format!("{path}: {e}"))?;
    print_outcome(&policy);
    print_records(&plan.records);

    // Write next to the target and rename, so a failed export never leaves a half file at OUT.
    let partial = format!("{out_path}.partial");
    let written = (|| -> std::io::Result<u64> {
        let mut w = BufWriter::new(File::create(&partial)?);
        let n = write_export_from(&mut w, &mut input, &plan)?;
        w.flush()?;
        Ok(n)
    })()
    .map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        format!("{partial}: {e}")
    })?;
    std::fs::rename(&partial, out_path).map_err(|e| format!("{out_path}: {e}"))?;

    let copied = plan
        .sources
        .iter()
        .filter(|s| matches!(s, SegmentSource::Original { .. }))
        .count();
    println!(
        "wrote {out_path}: {written} bytes (input {} bytes); {copied} tensors copied byte for byte, {} norms rewritten as F32",
        gguf.file_len,
        plan.corrected.len()
    );
    Ok(())
}
