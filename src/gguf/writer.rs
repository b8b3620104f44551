//! Writes GGUF v3 files: any metadata, any tensors, aligned.
//!
//! The header is built in memory; tensor data is streamed after it from the caller's slices, so
//! an export never holds a second copy of the model. `GgufLayout` says what to write in order,
//! which lets the browser build a Blob from slices of wasm memory.

use std::io::{self, Write};

use super::reader::{align_up, DEFAULT_ALIGNMENT};
use super::value::{Array, Value};

/// A tensor to write: its header entry and the number of data bytes that will follow.
#[derive(Clone, Debug)]
pub struct TensorDesc {
    pub name: String,
    pub dims: Vec<u64>,
    pub type_id: u32,
    pub n_bytes: u64,
}

/// What a GGUF file consists of, in order: the header bytes, then for each tensor some zero
/// padding and that tensor's data.
#[derive(Clone, Debug)]
pub struct GgufLayout {
    pub header: Vec<u8>,
    /// (zero bytes before the tensor, tensor index) in file order.
    pub segments: Vec<(u64, usize)>,
    /// Offsets of each tensor relative to the data section.
    pub offsets: Vec<u64>,
    pub total_len: u64,
}

/// Lays out a v3 file. `general.alignment`, if present in `metadata`, must be a u32 power of two;
/// otherwise 32 is used.
pub fn layout(metadata: &[(String, Value)], tensors: &[TensorDesc]) -> GgufLayout {
    let alignment = metadata
        .iter()
        .find(|(k, _)| k == "general.alignment")
        .and_then(|(_, v)| match v {
            Value::U32(a) if *a != 0 && a.is_power_of_two() => Some(*a as u64),
            _ => None,
        })
        .unwrap_or(DEFAULT_ALIGNMENT);
    let mut h = Vec::new();
    h.extend_from_slice(b"GGUF");
    h.extend_from_slice(&3u32.to_le_bytes());
    h.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    h.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    for (k, v) in metadata {
        put_str(&mut h, k);
        put_value(&mut h, v);
    }
    let mut offsets = Vec::with_capacity(tensors.len());
    let mut off = 0u64;
    for t in tensors {
        put_str(&mut h, &t.name);
        h.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            h.extend_from_slice(&d.to_le_bytes());
        }
        h.extend_from_slice(&t.type_id.to_le_bytes());
        h.extend_from_slice(&off.to_le_bytes());
        offsets.push(off);
        off = align_up(off + t.n_bytes, alignment);
    }
    let mut segments = Vec::with_capacity(tensors.len());
    let mut pos = h.len() as u64;
    if !tensors.is_empty() {
        let data_start = align_up(pos, alignment);
        for (i, t) in tensors.iter().enumerate() {
            let at = data_start + offsets[i];
            segments.push((at - pos, i));
            pos = at + t.n_bytes;
        }
    }
    GgufLayout {
        header: h,
        segments,
        offsets,
        total_len: pos,
    }
}

/// Writes a whole file: header, then each tensor's bytes from `data(i)`.
pub fn write_gguf<'a, W: Write>(
    w: &mut W,
    metadata: &[(String, Value)],
    tensors: &[TensorDesc],
    mut data: impl FnMut(usize) -> &'a [u8],
) -> io::Result<u64> {
    let lay = layout(metadata, tensors);
    w.write_all(&lay.header)?;
    let zeros = [0u8; 256];
    for &(pad, i) in &lay.segments {
        let mut left = pad;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            w.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        let d = data(i);
        if d.len() as u64 != tensors[i].n_bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "tensor '{}': {} data bytes given, {} declared",
                    tensors[i].name,
                    d.len(),
                    tensors[i].n_bytes
                ),
            ));
        }
        w.write_all(d)?;
    }
    Ok(lay.total_len)
}

/// Convenience: a whole file in memory (tests and small fixtures).
pub fn to_bytes(metadata: &[(String, Value)], tensors: &[(TensorDesc, Vec<u8>)]) -> Vec<u8> {
    let descs: Vec<TensorDesc> = tensors.iter().map(|(d, _)| d.clone()).collect();
    let mut out = Vec::new();
    write_gguf(&mut out, metadata, &descs, |i| &tensors[i].1)
        .expect("writing to a Vec cannot fail");
    out
}

fn put_str(h: &mut Vec<u8>, s: &str) {
    h.extend_from_slice(&(s.len() as u64).to_le_bytes());
    h.extend_from_slice(s.as_bytes());
}

fn put_value(h: &mut Vec<u8>, v: &Value) {
    h.extend_from_slice(&(v.value_type() as u32).to_le_bytes());
    match v {
        Value::Array(a) => {
            h.extend_from_slice(&(a.elem_type() as u32).to_le_bytes());
            h.extend_from_slice(&(a.len() as u64).to_le_bytes());
            put_array(h, a);
        }
        _ => put_scalar(h, v),
    }
}

fn put_scalar(h: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => h.push(*x),
        Value::I8(x) => h.push(*x as u8),
        Value::U16(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => h.push(*x as u8),
        Value::String(s) => put_str(h, s),
        Value::U64(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => h.extend_from_slice(&x.to_le_bytes()),
        Value::Array(_) => unreachable!("arrays are written by put_array"),
    }
}

fn put_array(h: &mut Vec<u8>, a: &Array) {
    match a {
        Array::U8(v) => h.extend_from_slice(v),
        Array::I8(v) => h.extend(v.iter().map(|&x| x as u8)),
        Array::Bool(v) => h.extend(v.iter().map(|&x| x as u8)),
        Array::U16(v) => v.iter().for_each(|x| h.extend_from_slice(&x.to_le_bytes())),
        Array::I16(v) => v.iter().for_each(|x| h.extend_from_slice(&x.to_le_bytes())),
        Array::U32(v) => v.iter().for_each(|x| h.extend_from_slice(&x.to_le_bytes())),
        Array::I32(v) => v.iter().for_each(|x| h.extend_from_slice(&x.to_le_bytes())),
        Array::F32(v) => v.iter().for_each(|x| h.extend_from_slice(&x.to_le_bytes())),
        Array::U64(v) => v.iter().for_each(|x| h.extend_from_slice(&x.to_le_bytes())),
        Array::I64(v) => v.iter().for_each(|x| h.extend_from_slice(&x.to_le_bytes())),
        Array::F64(v) => v.iter().for_each(|x| h.extend_from_slice(&x.to_le_bytes())),
        Array::String(v) => v.iter().for_each(|s| put_str(h, s)),
    }
}
