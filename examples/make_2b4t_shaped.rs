//! Writes a model with BitNet b1.58 2B-4T's exact shapes and metadata keys (30 layers, vocab
//! 128256; random ternary I2_S projections, F16 embedding, F32 norms; about 1.2 GB) to a cache
//! directory outside git, for measuring decode speed at full size without the real file.
//!
//! cargo run --release --example make_2b4t_shaped [OUT]
//! (default OUT: ${BITLENS_CACHE:-$HOME/.cache/bitlens}/bitnet-2b4t-shaped-i2_s.gguf)
//! Then: bitlens run OUT --prompt hi --greedy --max-tokens 16

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use bitlens::model::synthetic::{write_2b4t_shaped, LAYERS, VOCAB};

fn main() -> std::io::Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let dir = std::env::var_os("BITLENS_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/bitlens")
                });
            dir.join("bitnet-2b4t-shaped-i2_s.gguf")
        });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut w = BufWriter::with_capacity(1 << 22, std::fs::File::create(&out)?);
    let n = write_2b4t_shaped(&mut w, LAYERS, VOCAB)?;
    w.flush()?;
    println!("{} ({n} bytes)", out.display());
    Ok(())
}
