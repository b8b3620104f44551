//! `bitlens inspect FILE [--json]`: the metadata and tensor table of a GGUF file.
//!
//! Reads only the header: the file is read front to back in growing chunks until the streaming
//! parser has it, so inspecting a 1.2 GB model reads a few megabytes. The JSON form is stable
//! and documented in the README ("`bitlens inspect --json` format").

use std::fs::File;
use std::io::Read;

use bitlens::gguf::{Array, Gguf, GgufError, HeaderStream, Value};
use serde::Serialize;
use serde_json::{json, Value as J};

const USAGE: &str = "usage: bitlens inspect FILE [--json]";
/// Arrays longer than this are summarized in the table (never in the JSON).
const SHOWN_ITEMS: usize = 6;
const SHOWN_CHARS: usize = 72;

pub fn main(args: &[String]) -> Result<(), String> {
    let (path, json) = match args {
        [p] if !p.starts_with("--") => (p, false),
        [p, j] | [j, p] if j == "--json" => (p, true),
        _ => return Err(format!("inspect: {USAGE}")),
    };
    let g = read_header(path).map_err(|e| format!("{path}: {e}"))?;
    if json {
        println!("{}", to_json(path, &g));
    } else {
        print!("{}", table(path, &g));
    }
    Ok(())
}

/// Reads from the start of the file until the header parses (or fails).
pub(crate) fn read_header(path: &str) -> Result<Gguf, String> {
    let mut f = File::open(path).map_err(|e| e.to_string())?;
    let file_len = f.metadata().map_err(|e| e.to_string())?.len();
    let mut stream = HeaderStream::new(file_len);
    let mut buf = Vec::new();
    let mut chunk = 1 << 16;
    loop {
        if let Some(r) = stream.poll(&buf) {
            return r.clone().map_err(|e: GgufError| e.to_string());
        }
        let want = (chunk as u64).min(file_len - buf.len() as u64) as usize;
        let start = buf.len();
        buf.resize(start + want, 0);
        f.read_exact(&mut buf[start..])
            .map_err(|e| format!("reading at offset {start}: {e}"))?;
        chunk = (chunk * 2).min(1 << 24);
    }
}

// ---- JSON ----

#[derive(Serialize)]
struct TensorJson<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    ty: &'a str,
    type_id: u32,
    shape: &'a [u64],
    n_elements: u64,
    offset: u64,
    data_offset: u64,
    n_bytes: u64,
    size_inferred: bool,
}

fn to_json(path: &str, g: &Gguf) -> J {
    let metadata: Vec<J> = g
        .metadata
        .iter()
        .map(|e| match &e.value {
            Value::Array(a) => json!({
                "key": e.key,
                "type": "array",
                "elem_type": a.elem_type().name(),
                "len": a.len(),
                "value": array_json(a),
            }),
            v => json!({"key": e.key, "type": v.value_type().name(), "value": scalar_json(v)}),
        })
        .collect();
    let tensors: Vec<TensorJson> = g
        .tensors
        .iter()
        .map(|t| TensorJson {
            name: &t.name,
            ty: t.ggml_type.name(),
            type_id: t.type_id,
            shape: &t.dims,
            n_elements: t.n_elements,
            offset: t.offset,
            data_offset: t.data_start,
            n_bytes: t.n_bytes,
            size_inferred: t.size_inferred,
        })
        .collect();
    json!({
        "format": "bitlens-inspect-1",
        "file": path,
        "file_size": g.file_len,
        "version": g.version,
        "alignment": g.alignment,
        "header_len": g.header_len,
        "data_offset": g.data_offset,
        "architecture": g.architecture(),
        "fork_types": g.is_fork_arch(),
        "metadata": metadata,
        "tensors": tensors,
        "notes": g.notes,
    })
}

fn float_json(x: f64) -> J {
    if x.is_nan() {
        json!("nan")
    } else if x.is_infinite() {
        json!(if x > 0.0 { "inf" } else { "-inf" })
    } else {
        json!(x)
    }
}

/// f32 as its shortest decimal (0.1, not 0.10000000149011612): the number that reads back as
/// the same f32.
fn f32_json(x: f32) -> J {
    if x.is_finite() {
        json!(x
            .to_string()
            .parse::<f64>()
            .expect("a finite f32 prints as a number"))
    } else {
        float_json(x as f64)
    }
}

fn scalar_json(v: &Value) -> J {
    match v {
        Value::U8(x) => json!(x),
        Value::I8(x) => json!(x),
        Value::U16(x) => json!(x),
        Value::I16(x) => json!(x),
        Value::U32(x) => json!(x),
        Value::I32(x) => json!(x),
        Value::F32(x) => f32_json(*x),
        Value::Bool(x) => json!(x),
        Value::String(x) => json!(x),
        Value::U64(x) => json!(x),
        Value::I64(x) => json!(x),
        Value::F64(x) => float_json(*x),
        Value::Array(a) => array_json(a),
    }
}

fn array_json(a: &Array) -> J {
    match a {
        Array::U8(v) => json!(v),
        Array::I8(v) => json!(v),
        Array::U16(v) => json!(v),
        Array::I16(v) => json!(v),
        Array::U32(v) => json!(v),
        Array::I32(v) => json!(v),
        Array::F32(v) => J::Array(v.iter().map(|&x| f32_json(x)).collect()),
        Array::Bool(v) => json!(v),
        Array::String(v) => json!(v),
        Array::U64(v) => json!(v),
        Array::I64(v) => json!(v),
        Array::F64(v) => J::Array(v.iter().map(|&x| float_json(x)).collect()),
    }
}

// ---- table ----

fn table(path: &str, g: &Gguf) -> String {
    let mut s = String::new();
    let arch = g.architecture().unwrap_or("(none)");
    s += &format!(
        "{path}: GGUF v{}, {} bytes, {} metadata keys, {} tensors\n",
        g.version,
        g.file_len,
        g.metadata.len(),
        g.tensors.len()
    );
    s += &format!(
        "architecture {}{}, alignment {}, header {} bytes, data at offset {}\n",
        one_line(arch),
        if g.is_fork_arch() {
            " (bitnet.cpp fork: type ids 36..39 are I2_S, I8_S, TL1, TL2)"
        } else {
            ""
        },
        g.alignment,
        g.header_len,
        g.data_offset
    );

    s += "\nmetadata:\n";
    let rows: Vec<[String; 3]> = g
        .metadata
        .iter()
        .map(|e| {
            let ty = match &e.value {
                Value::Array(a) => format!("{}[{}]", a.elem_type().name(), a.len()),
                v => v.value_type().name().to_string(),
            };
            [one_line(&e.key), ty, value_text(&e.value)]
        })
        .collect();
    s += &columns(&["key", "type", "value"], &rows, &[false, false, false]);

    s += "\ntensors:\n";
    let rows: Vec<[String; 5]> = g
        .tensors
        .iter()
        .map(|t| {
            let dims: Vec<String> = t.dims.iter().map(u64::to_string).collect();
            [
                one_line(&t.name),
                t.ggml_type.name().to_string(),
                format!("[{}]", dims.join(", ")),
                t.data_start.to_string(),
                format!("{}{}", t.n_bytes, if t.size_inferred { "*" } else { "" }),
            ]
        })
        .collect();
    s += &columns(
        &["name", "type", "shape", "file offset", "bytes"],
        &rows,
        &[false, false, false, true, true],
    );
    let total: u64 = g.tensors.iter().map(|t| t.n_bytes).sum();
    s += &format!("{} tensors, {} bytes of data\n", g.tensors.len(), total);

    if !g.notes.is_empty() {
        s += "\nnotes:\n";
        for n in &g.notes {
            s += &format!("  {}\n", one_line(n));
        }
    }
    s
}

/// Left- or right-aligned columns under a header.
fn columns<const N: usize>(head: &[&str; N], rows: &[[String; N]], right: &[bool; N]) -> String {
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut l = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            let pad = " ".repeat(width[i] - c.chars().count());
            let last = i + 1 == N;
            if right[i] {
                l += &format!(" {pad}{c}");
            } else if last {
                l += &format!(" {c}");
            } else {
                l += &format!(" {c}{pad}");
            }
        }
        l + "\n"
    };
    let mut s = line(head.to_vec());
    for r in rows {
        s += &line(r.iter().map(String::as_str).collect());
    }
    s
}

/// A value in one short line: long strings cut, long arrays summarized by their first items.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(x) => short_str(x),
        Value::Array(a) => {
            let items = array_items(a, SHOWN_ITEMS);
            let more = a.len().saturating_sub(SHOWN_ITEMS);
            if more > 0 {
                format!("[{}, ... {more} more]", items.join(", "))
            } else {
                format!("[{}]", items.join(", "))
            }
        }
        Value::F32(x) => x.to_string(),
        Value::F64(x) => x.to_string(),
        v => scalar_json(v).to_string(),
    }
}

fn array_items(a: &Array, n: usize) -> Vec<String> {
    fn first<T>(v: &[T], n: usize, f: impl Fn(&T) -> String) -> Vec<String> {
        v.iter().take(n).map(f).collect()
    }
    match a {
        Array::U8(v) => first(v, n, u8::to_string),
        Array::I8(v) => first(v, n, i8::to_string),
        Array::U16(v) => first(v, n, u16::to_string),
        Array::I16(v) => first(v, n, i16::to_string),
        Array::U32(v) => first(v, n, u32::to_string),
        Array::I32(v) => first(v, n, i32::to_string),
        Array::F32(v) => first(v, n, f32::to_string),
        Array::Bool(v) => first(v, n, bool::to_string),
        Array::String(v) => first(v, n, |x| short_str(x)),
        Array::U64(v) => first(v, n, u64::to_string),
        Array::I64(v) => first(v, n, i64::to_string),
        Array::F64(v) => first(v, n, f64::to_string),
    }
}

/// Quoted, control characters escaped, cut after SHOWN_CHARS characters.
fn short_str(x: &str) -> String {
    let n = x.chars().count();
    if n <= SHOWN_CHARS {
        format!("{x:?}")
    } else {
        let head: String = x.chars().take(SHOWN_CHARS).collect();
        format!("{head:?}... ({} bytes)", x.len())
    }
}

/// Names come from the file: keep the table one line per entry.
fn one_line(x: &str) -> String {
    x.chars()
        .flat_map(|c| {
            let e: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            e
        })
        .collect()
}
