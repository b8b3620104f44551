//! `bitlens inspect FILE [--json]`: placeholder listing; the foundation work makes it complete.

pub fn main(args: &[String]) -> Result<(), String> {
    let path = args.first().ok_or("inspect: missing FILE")?;
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let g = bitlens::gguf::Gguf::parse(&bytes).map_err(|e| format!("{path}: {e}"))?;
    for t in &g.tensors {
        println!(
            "{} {:?} {} {} {}",
            t.name, t.dims, t.ggml_type, t.offset, t.n_bytes
        );
    }
    Ok(())
}
