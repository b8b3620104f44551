//! Parses a GGUF header (metadata and tensor table) from the first bytes of a file.
//!
//! Follows ggml's `gguf.cpp` rules (see shared spec section 1). Every count is bounded by the
//! bytes the file still has before anything is allocated or looped over, all size arithmetic is
//! u64 and checked, and parsing works on a prefix of the file so that a stream can be inspected
//! while it arrives.

use std::collections::HashMap;

use serde::Serialize;

use super::cursor::Cursor;
use super::error::GgufError;
use super::value::{Array, Value, ValueType};
use crate::quant::types::{GgmlType, FORK_ARCHS};

pub const MAGIC: &[u8; 4] = b"GGUF";
pub const DEFAULT_ALIGNMENT: u64 = 32;
pub const MAX_DIMS: u32 = 4;
/// ggml's GGML_MAX_NAME is 64 including the terminating NUL.
pub const MAX_NAME_LEN: u64 = 63;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetadataEntry {
    pub key: String,
    pub value: Value,
    /// Offset of the key in the file.
    pub offset: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    /// `ne`, innermost (row length) first.
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// The id as stored (36 means I2_S only in fork files).
    pub type_id: u32,
    /// Offset relative to the start of the data section, as stored.
    pub offset: u64,
    /// Absolute offset of the data in the file.
    pub data_start: u64,
    pub n_elements: u64,
    pub n_bytes: u64,
    /// True when the byte size could not be computed from the type and was taken as the room up
    /// to the next tensor (the fork's TL1/TL2 layouts).
    pub size_inferred: bool,
    /// Offset of this entry in the tensor table.
    pub info_offset: u64,
}

impl TensorInfo {
    pub fn ne0(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Number of rows: the product of all dims but the first.
    pub fn n_rows(&self) -> u64 {
        self.dims.iter().skip(1).product()
    }

    pub fn data_end(&self) -> u64 {
        self.data_start + self.n_bytes
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gguf {
    pub version: u32,
    pub metadata: Vec<MetadataEntry>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    /// Absolute offset where tensor data begins.
    pub data_offset: u64,
    /// End of the tensor table (before padding).
    pub header_len: u64,
    pub file_len: u64,
    /// Layout remarks that are not errors: gaps, out-of-order tensors, ambiguous type ids.
    pub notes: Vec<String>,
    #[serde(skip)]
    key_index: HashMap<String, usize>,
    #[serde(skip)]
    tensor_index: HashMap<String, usize>,
}

impl Gguf {
    /// Parses a complete file held in memory.
    pub fn parse(bytes: &[u8]) -> Result<Gguf, GgufError> {
        Gguf::parse_prefix(bytes, bytes.len() as u64)
    }

    /// Parses from the first `prefix.len()` bytes of a file of `file_len` bytes. Returns
    /// `NeedMore` while the header runs past the prefix and the prefix is not the whole file.
    pub fn parse_prefix(prefix: &[u8], file_len: u64) -> Result<Gguf, GgufError> {
        let mut c = Cursor::new(prefix, file_len);
        let magic = c.array::<4>(|| "magic".into())?;
        if &magic != MAGIC {
            return Err(GgufError::BadMagic { found: magic });
        }
        let raw_version = c.u32(|| "version".into())?;
        if raw_version & 0xFFFF == 0 && raw_version != 0 {
            return Err(GgufError::BigEndian { raw_version });
        }
        if raw_version != 2 && raw_version != 3 {
            return Err(GgufError::UnsupportedVersion {
                version: raw_version,
            });
        }
        let n_tensors_at = c.pos();
        let n_tensors = c.u64(|| "tensor count".into())?;
        let n_kv_at = c.pos();
        let n_kv = c.u64(|| "metadata count".into())?;
        // A key/value takes at least 8 (key length) + 4 (type) + 1 bytes... use 12 as ggml does.
        bound(n_kv, 12, c.remaining_in_file(), n_kv_at, "metadata count")?;

        let cap = prealloc(n_kv, 12, &c);
        let mut metadata = Vec::with_capacity(cap);
        let mut key_index = HashMap::with_capacity(cap);
        for i in 0..n_kv {
            let at = c.pos();
            let key = c.string(|| format!("key of metadata entry {i}"))?;
            if key.is_empty() {
                return Err(GgufError::EmptyKey { offset: at });
            }
            if key_index.contains_key(&key) {
                return Err(GgufError::DuplicateKey { offset: at, key });
            }
            let value = read_value(&mut c, &key)?;
            key_index.insert(key.clone(), metadata.len());
            metadata.push(MetadataEntry {
                key,
                value,
                offset: at,
            });
        }

        let alignment = match key_index.get("general.alignment").map(|&i| &metadata[i]) {
            None => DEFAULT_ALIGNMENT,
            Some(e) => match e.value {
                Value::U32(a) if a != 0 && a.is_power_of_two() => a as u64,
                Value::U32(a) => {
                    return Err(GgufError::BadAlignment {
                        offset: e.offset,
                        detail: format!("{a} is not a non-zero power of two"),
                    })
                }
                ref v => {
                    return Err(GgufError::BadAlignment {
                        offset: e.offset,
                        detail: format!("stored as {}, must be u32", v.value_type().name()),
                    })
                }
            },
        };
        let arch = key_index
            .get("general.architecture")
            .and_then(|&i| metadata[i].value.as_str())
            .unwrap_or("");
        let fork = FORK_ARCHS.contains(&arch);

        // name length (8) + n_dims (4) + type (4) + offset (8).
        bound(
            n_tensors,
            24,
            c.remaining_in_file(),
            n_tensors_at,
            "tensor count",
        )?;
        let cap = prealloc(n_tensors, 24, &c);
        let mut raw = Vec::with_capacity(cap);
        let mut tensor_index = HashMap::with_capacity(cap);
        for i in 0..n_tensors {
            let t = read_tensor_info(&mut c, i)?;
            if tensor_index.contains_key(&t.name) {
                return Err(GgufError::DuplicateTensor {
                    offset: t.info_offset,
                    tensor: t.name,
                });
            }
            tensor_index.insert(t.name.clone(), raw.len());
            raw.push(t);
        }
        let header_len = c.pos();
        // ggml pads to the alignment only when there are tensors.
        let data_offset = if n_tensors == 0 {
            header_len
        } else {
            align_up(header_len, alignment)
        };

        let mut notes = Vec::new();
        let tensors = resolve_tensors(raw, fork, alignment, data_offset, file_len, &mut notes)?;
        Ok(Gguf {
            version: raw_version,
            metadata,
            tensors,
            alignment,
            data_offset,
            header_len,
            file_len,
            notes,
            key_index,
            tensor_index,
        })
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.key_index.get(key).map(|&i| &self.metadata[i].value)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(Value::as_u64)
    }

    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }

    pub fn get_array(&self, key: &str) -> Option<&Array> {
        self.get(key).and_then(Value::as_array)
    }

    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// True when ids 36..39 were read with bitnet.cpp's meaning.
    pub fn is_fork_arch(&self) -> bool {
        self.architecture().is_some_and(|a| FORK_ARCHS.contains(&a))
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The bytes of a tensor within `file`, which holds the file from its start (possibly only
    /// partly loaded).
    pub fn tensor_data<'a>(&self, file: &'a [u8], t: &TensorInfo) -> Result<&'a [u8], GgufError> {
        let end = t.data_end();
        if end > file.len() as u64 {
            return Err(GgufError::DataNotLoaded {
                tensor: t.name.clone(),
                end,
                available: file.len() as u64,
            });
        }
        Ok(&file[t.data_start as usize..end as usize])
    }

    /// The bytes of the tensor called `name`.
    pub fn tensor_data_by_name<'a>(
        &self,
        file: &'a [u8],
        name: &str,
    ) -> Result<&'a [u8], GgufError> {
        let t = self.tensor(name).ok_or_else(|| GgufError::NoSuchTensor {
            tensor: name.to_string(),
        })?;
        self.tensor_data(file, t)
    }
}

pub fn align_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

/// Rejects a count whose elements of at least `min_size` bytes cannot fit in `remaining`.
fn bound(
    count: u64,
    min_size: u64,
    remaining: u64,
    offset: u64,
    what: &str,
) -> Result<(), GgufError> {
    let max = remaining / min_size;
    if count > max {
        return Err(GgufError::CountTooLarge {
            offset,
            what: what.into(),
            count,
            max,
        });
    }
    Ok(())
}

/// How many elements of at least `min_size` bytes to reserve room for: no more than the bytes
/// actually present can hold. `bound` checks counts against the whole file, but a streaming
/// prefix (or a big file whose header lies about its counts) must not make us reserve memory for
/// entries we have not seen; past this the vectors grow with the entries really parsed.
fn prealloc(count: u64, min_size: u64, c: &Cursor) -> usize {
    count.min(c.remaining_in_buf() / min_size) as usize
}

fn read_value(c: &mut Cursor, key: &str) -> Result<Value, GgufError> {
    let at = c.pos();
    let type_id = c.u32(|| format!("value type of key '{key}'"))?;
    let vt = ValueType::from_id(type_id).ok_or_else(|| GgufError::UnknownValueType {
        offset: at,
        key: key.into(),
        type_id,
    })?;
    if vt == ValueType::Array {
        return read_array(c, key).map(Value::Array);
    }
    read_scalar(c, vt, key)
}

fn read_scalar(c: &mut Cursor, vt: ValueType, key: &str) -> Result<Value, GgufError> {
    let what = || format!("value of key '{key}'");
    Ok(match vt {
        ValueType::U8 => Value::U8(c.array::<1>(what)?[0]),
        ValueType::I8 => Value::I8(c.array::<1>(what)?[0] as i8),
        ValueType::U16 => Value::U16(u16::from_le_bytes(c.array(what)?)),
        ValueType::I16 => Value::I16(i16::from_le_bytes(c.array(what)?)),
        ValueType::U32 => Value::U32(u32::from_le_bytes(c.array(what)?)),
        ValueType::I32 => Value::I32(i32::from_le_bytes(c.array(what)?)),
        ValueType::F32 => Value::F32(f32::from_le_bytes(c.array(what)?)),
        ValueType::Bool => Value::Bool(c.array::<1>(what)?[0] != 0),
        ValueType::String => Value::String(c.string(what)?),
        ValueType::U64 => Value::U64(u64::from_le_bytes(c.array(what)?)),
        ValueType::I64 => Value::I64(i64::from_le_bytes(c.array(what)?)),
        ValueType::F64 => Value::F64(f64::from_le_bytes(c.array(what)?)),
        ValueType::Array => unreachable!("arrays are read by read_array"),
    })
}

/// Reads `count` fixed-size elements in one bounded take.
fn fixed<const N: usize, T>(
    c: &mut Cursor,
    count: u64,
    key: &str,
    conv: impl Fn([u8; N]) -> T,
) -> Result<Vec<T>, GgufError> {
    let bytes = c.take(count * N as u64, || {
        format!("array elements of key '{key}'")
    })?;
    Ok(bytes
        .chunks_exact(N)
        .map(|ch| conv(ch.try_into().expect("chunks_exact gives N bytes")))
        .collect())
}

fn read_array(c: &mut Cursor, key: &str) -> Result<Array, GgufError> {
    let at = c.pos();
    let type_id = c.u32(|| format!("array element type of key '{key}'"))?;
    let et = ValueType::from_id(type_id).ok_or_else(|| GgufError::UnknownValueType {
        offset: at,
        key: key.into(),
        type_id,
    })?;
    if et == ValueType::Array {
        return Err(GgufError::NestedArray {
            offset: at,
            key: key.into(),
        });
    }
    let count_at = c.pos();
    let count = c.u64(|| format!("array count of key '{key}'"))?;
    bound(
        count,
        et.min_size(),
        c.remaining_in_file(),
        count_at,
        &format!("array count of key '{key}'"),
    )?;
    Ok(match et {
        ValueType::U8 => Array::U8(fixed(c, count, key, |b: [u8; 1]| b[0])?),
        ValueType::I8 => Array::I8(fixed(c, count, key, |b: [u8; 1]| b[0] as i8)?),
        ValueType::Bool => Array::Bool(fixed(c, count, key, |b: [u8; 1]| b[0] != 0)?),
        ValueType::U16 => Array::U16(fixed(c, count, key, u16::from_le_bytes)?),
        ValueType::I16 => Array::I16(fixed(c, count, key, i16::from_le_bytes)?),
        ValueType::U32 => Array::U32(fixed(c, count, key, u32::from_le_bytes)?),
        ValueType::I32 => Array::I32(fixed(c, count, key, i32::from_le_bytes)?),
        ValueType::F32 => Array::F32(fixed(c, count, key, f32::from_le_bytes)?),
        ValueType::U64 => Array::U64(fixed(c, count, key, u64::from_le_bytes)?),
        ValueType::I64 => Array::I64(fixed(c, count, key, i64::from_le_bytes)?),
        ValueType::F64 => Array::F64(fixed(c, count, key, f64::from_le_bytes)?),
        ValueType::String => {
            let mut v = Vec::with_capacity(prealloc(count, 8, c));
            for i in 0..count {
                v.push(c.string(|| format!("element {i} of key '{key}'"))?);
            }
            Array::String(v)
        }
        ValueType::Array => unreachable!("checked above"),
    })
}

/// A tensor table entry before its type and size are resolved.
struct RawTensor {
    name: String,
    dims: Vec<u64>,
    n_elements: u64,
    type_id: u32,
    offset: u64,
    info_offset: u64,
}

fn read_tensor_info(c: &mut Cursor, i: u64) -> Result<RawTensor, GgufError> {
    let info_offset = c.pos();
    let name = c.string(|| format!("name of tensor {i}"))?;
    if name.is_empty() {
        return Err(GgufError::EmptyTensorName {
            offset: info_offset,
        });
    }
    if name.len() as u64 > MAX_NAME_LEN {
        return Err(GgufError::TensorNameTooLong {
            offset: info_offset,
            len: name.len() as u64,
            name,
        });
    }
    let n_dims = c.u32(|| format!("n_dims of tensor '{name}'"))?;
    if n_dims > MAX_DIMS {
        return Err(GgufError::TooManyDims {
            offset: info_offset,
            tensor: name,
            n_dims,
        });
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    let mut n_elements: u64 = 1;
    for d in 0..n_dims as usize {
        let v = c.u64(|| format!("ne[{d}] of tensor '{name}'"))?;
        if v > i64::MAX as u64 {
            return Err(GgufError::NegativeDim {
                offset: info_offset,
                tensor: name,
                dim: d,
                value: v as i64,
            });
        }
        n_elements = n_elements
            .checked_mul(v)
            .filter(|&n| n <= i64::MAX as u64)
            .ok_or_else(|| GgufError::ElementCountOverflow {
                offset: info_offset,
                tensor: name.clone(),
            })?;
        dims.push(v);
    }
    let type_id = c.u32(|| format!("type of tensor '{name}'"))?;
    let offset = c.u64(|| format!("data offset of tensor '{name}'"))?;
    Ok(RawTensor {
        name,
        dims,
        n_elements,
        type_id,
        offset,
        info_offset,
    })
}

fn resolve_tensors(
    raw: Vec<RawTensor>,
    fork: bool,
    alignment: u64,
    data_offset: u64,
    file_len: u64,
    notes: &mut Vec<String>,
) -> Result<Vec<TensorInfo>, GgufError> {
    let data_len = file_len.saturating_sub(data_offset);
    // Start offsets, sorted, to infer the extent of types whose size is unknown.
    let mut starts: Vec<u64> = raw.iter().map(|t| t.offset).collect();
    starts.sort_unstable();
    let mut out = Vec::with_capacity(raw.len());
    let mut fork_ids_seen = false;
    for t in raw {
        let ggml_type = resolve_type(&t, fork, data_offset, file_len, notes)?;
        fork_ids_seen |= ggml_type.is_fork_only();
        let ne0 = t.dims.first().copied().unwrap_or(1);
        if ne0 % ggml_type.block_size() != 0 {
            return Err(GgufError::RowNotBlockMultiple {
                tensor: t.name,
                ne0,
                block: ggml_type.block_size(),
                type_name: ggml_type.name(),
            });
        }
        if t.offset % alignment != 0 {
            return Err(GgufError::UnalignedOffset {
                tensor: t.name,
                offset: t.offset,
                alignment,
            });
        }
        let (n_bytes, size_inferred) = if ggml_type.has_fixed_size() {
            let n = ggml_type.tensor_bytes(ne0, t.n_elements).ok_or_else(|| {
                GgufError::SizeOverflow {
                    offset: t.info_offset,
                    tensor: t.name.clone(),
                }
            })?;
            (n, false)
        } else {
            // Sorted starts: the first one after ours bounds our extent (binary search, so a
            // table of many such tensors stays O(n log n)).
            let i = starts.partition_point(|&s| s <= t.offset);
            let next = starts.get(i).copied().unwrap_or(data_len).min(data_len);
            let n = next.saturating_sub(t.offset);
            notes.push(format!(
                "tensor '{}': {} has no fixed size; its extent is taken as the {} bytes up to the next tensor",
                t.name,
                ggml_type.name(),
                n
            ));
            (n, true)
        };
        let start = data_offset.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(n_bytes));
        match (start, end) {
            (Some(s), Some(e)) if e <= file_len => out.push(TensorInfo {
                name: t.name,
                dims: t.dims,
                ggml_type,
                type_id: t.type_id,
                offset: t.offset,
                data_start: s,
                n_elements: t.n_elements,
                n_bytes,
                size_inferred,
                info_offset: t.info_offset,
            }),
            _ => {
                return Err(GgufError::TensorPastEnd {
                    tensor: t.name,
                    start: start.unwrap_or(u64::MAX),
                    end: end.unwrap_or(u64::MAX),
                    file_len,
                })
            }
        }
    }
    if fork_ids_seen {
        notes.push(
            "type ids 36..39 are read as bitnet.cpp's I2_S, I8_S, TL1, TL2 (fork architecture)"
                .to_string(),
        );
    }
    layout_notes(&out, alignment, notes);
    Ok(out)
}

/// The ggml type of a tensor. Ids 36..39 take bitnet.cpp's meaning in a fork-architecture file
/// when the tensor's bytes fit in the file under that meaning; otherwise the mainline meaning
/// (39 = MXFP4; 36..38 were removed) applies, and if there is none the fork meaning is kept so
/// that the error says the fork tensor runs past the end.
fn resolve_type(
    t: &RawTensor,
    fork: bool,
    data_offset: u64,
    file_len: u64,
    notes: &mut Vec<String>,
) -> Result<GgmlType, GgufError> {
    let mainline = GgmlType::from_id(t.type_id, false);
    let fork_type = GgmlType::from_id(t.type_id, fork).filter(|ty| ty.is_fork_only());
    match (fork_type, mainline) {
        (Some(f), Some(m)) => {
            let ne0 = t.dims.first().copied().unwrap_or(1);
            let fits = !f.has_fixed_size()
                || f.tensor_bytes(ne0, t.n_elements)
                    .and_then(|n| data_offset.checked_add(t.offset)?.checked_add(n))
                    .is_some_and(|end| end <= file_len);
            if fits {
                Ok(f)
            } else {
                notes.push(format!(
                    "tensor '{}': type id {} does not fit as {}; read with its mainline meaning {}",
                    t.name,
                    t.type_id,
                    f.name(),
                    m.name()
                ));
                Ok(m)
            }
        }
        (Some(f), None) => Ok(f),
        (None, Some(m)) => Ok(m),
        (None, None) => Err(GgufError::UnknownTensorType {
            offset: t.info_offset,
            tensor: t.name.clone(),
            type_id: t.type_id,
        }),
    }
}

/// ggml's strict reader wants tensors back to back in declaration order; llama.cpp does not.
/// We locate tensors by offset and only remark on gaps and reordering.
fn layout_notes(tensors: &[TensorInfo], alignment: u64, notes: &mut Vec<String>) {
    let mut expected = 0u64;
    for t in tensors {
        if t.offset < expected {
            notes.push(format!(
                "tensor '{}' at data offset {} is out of declaration order",
                t.name, t.offset
            ));
        } else if t.offset > expected {
            notes.push(format!(
                "gap of {} bytes before tensor '{}' (data offset {})",
                t.offset - expected,
                t.name,
                t.offset
            ));
        }
        expected = align_up(t.offset + t.n_bytes, alignment);
    }
}
