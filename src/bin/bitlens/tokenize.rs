//! `bitlens tokenize FILE TEXT [--json] [--decode] [--no-special]`: the token ids of TEXT under the
//! GGUF's tokenizer, as llama.cpp's `llama_tokenize(add_special=true, parse_special=true)` gives
//! them. `--decode` reads TEXT as ids (comma or space separated) and prints the text instead.

use bitlens::gguf::{Gguf, GgufError};
use bitlens::tokenizer::Tokenizer;
use std::io::Read;

const USAGE: &str = "usage: bitlens tokenize FILE TEXT [--json] [--decode] [--no-special]";

/// Parses only the header: the tokenizer lives in the metadata, so a 1.2 GB model needs a few MB.
fn read_header(path: &str) -> Result<Gguf, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let file_len = f.metadata().map_err(|e| format!("{path}: {e}"))?.len();
    let mut buf = Vec::new();
    let mut want: u64 = 8 << 20;
    loop {
        let have = buf.len() as u64;
        let target = want.min(file_len);
        (&mut f)
            .take(target - have)
            .read_to_end(&mut buf)
            .map_err(|e| format!("{path}: {e}"))?;
        match Gguf::parse_prefix(&buf, file_len) {
            Err(GgufError::NeedMore { needed }) if (buf.len() as u64) < file_len => {
                want = needed.max(want * 2);
            }
            r => return r.map_err(|e| format!("{path}: {e}")),
        }
    }
}

pub fn main(args: &[String]) -> Result<(), String> {
    let mut pos = Vec::new();
    let (mut json, mut decode, mut special) = (false, false, true);
    for a in args {
        match a.as_str() {
            "--json" => json = true,
            "--decode" => decode = true,
            "--no-special" => special = false,
            _ => pos.push(a.as_str()),
        }
    }
    let [path, text] = pos[..] else {
        return Err(USAGE.to_string());
    };
    let g = read_header(path)?;
    let tok = Tokenizer::from_gguf(&g).map_err(|e| format!("{path}: {e}"))?;
    if decode {
        let ids: Vec<u32> = text
            .split(|c: char| c == ',' || c.is_whitespace() || c == '[' || c == ']')
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<u32>()
                    .map_err(|_| format!("not a token id: {s:?}"))
            })
            .collect::<Result<_, _>>()?;
        let out = tok.decode(&ids).map_err(|e| e.to_string())?;
        if json {
            println!("{}", serde_json::json!({ "ids": ids, "text": out }));
        } else {
            println!("{out}");
        }
        return Ok(());
    }
    let ids = tok.encode(text, special, special);
    if json {
        let pieces: Vec<String> = ids
            .iter()
            .map(|&id| {
                let mut p = Vec::new();
                tok.token_to_piece(id, true, &mut p)
                    .map(|_| String::from_utf8_lossy(&p).into_owned())
            })
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        println!("{}", serde_json::json!({ "ids": ids, "pieces": pieces }));
    } else {
        let s: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        println!("{}", s.join(" "));
    }
    Ok(())
}
