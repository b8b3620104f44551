//! Turning core values into plain JS values: errors with a `kind`, 64-bit integers as numbers
//! or BigInts, metadata entries with big arrays summarised.

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};
use wasm_bindgen::prelude::*;

use crate::gguf::{Array, Gguf, GgufError, MetadataEntry, TensorInfo, Value};

/// 2^53 - 1: the largest integer below which every integer is an exact JS number.
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
const MAX_SAFE_U64: u64 = 9_007_199_254_740_991;

/// Arrays longer than this are shown as their first values plus a count (a 128k-token
/// vocabulary would otherwise be copied into JS with every metadata listing).
pub const ARRAY_SUMMARY_LEN: usize = 16;

/// A JS `Error` with `name`, `message` and `kind`.
pub fn js_error(kind: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("BitlensError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&e, &"kind".into(), &kind.into());
    e.into()
}

pub fn gguf_error(e: &GgufError) -> JsValue {
    let v = js_error(e.kind(), &e.to_string());
    js_sys::Error::from(v.clone()).set_name("GgufError");
    v
}

/// Serializes with u64/i64 as BigInt: only `U64Js`/`I64Js` emit those, and only when a number
/// would round.
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    let ser = serde_wasm_bindgen::Serializer::new().serialize_large_number_types_as_bigints(true);
    value
        .serialize(&ser)
        .map_err(|e| js_error("internal", &format!("cannot convert to JS: {e}")))
}

/// A u64 for JS: a number when exact, a BigInt above 2^53 - 1.
pub struct U64Js(pub u64);

impl Serialize for U64Js {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 <= MAX_SAFE_U64 {
            s.serialize_f64(self.0 as f64)
        } else {
            s.serialize_u64(self.0)
        }
    }
}

/// An i64 for JS: a number when exact, a BigInt beyond ±(2^53 - 1).
pub struct I64Js(pub i64);

impl Serialize for I64Js {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.unsigned_abs() <= MAX_SAFE_U64 {
            s.serialize_f64(self.0 as f64)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

/// A scalar metadata value as the JS value it stands for.
struct ScalarJs<'a>(&'a Value);

impl Serialize for ScalarJs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self.0 {
            Value::U8(v) => s.serialize_u8(v),
            Value::I8(v) => s.serialize_i8(v),
            Value::U16(v) => s.serialize_u16(v),
            Value::I16(v) => s.serialize_i16(v),
            Value::U32(v) => s.serialize_u32(v),
            Value::I32(v) => s.serialize_i32(v),
            Value::F32(v) => s.serialize_f32(v),
            Value::Bool(v) => s.serialize_bool(v),
            Value::String(ref v) => s.serialize_str(v),
            Value::U64(v) => U64Js(v).serialize(s),
            Value::I64(v) => I64Js(v).serialize(s),
            Value::F64(v) => s.serialize_f64(v),
            Value::Array(ref a) => ArrayValues(a, a.len()).serialize(s),
        }
    }
}

/// The first `.1` values of an array, as a JS array.
struct ArrayValues<'a>(&'a Array, usize);

impl Serialize for ArrayValues<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.1;
        match self.0 {
            Array::U8(v) => head(v, n).serialize(s),
            Array::I8(v) => head(v, n).serialize(s),
            Array::U16(v) => head(v, n).serialize(s),
            Array::I16(v) => head(v, n).serialize(s),
            Array::U32(v) => head(v, n).serialize(s),
            Array::I32(v) => head(v, n).serialize(s),
            Array::F32(v) => head(v, n).serialize(s),
            Array::Bool(v) => head(v, n).serialize(s),
            Array::String(v) => head(v, n).serialize(s),
            Array::F64(v) => head(v, n).serialize(s),
            Array::U64(v) => wide(s, head(v, n), |&x| U64Js(x)),
            Array::I64(v) => wide(s, head(v, n), |&x| I64Js(x)),
        }
    }
}

fn head<T>(v: &[T], n: usize) -> &[T] {
    &v[..n.min(v.len())]
}

/// 64-bit elements, each a number or a BigInt.
fn wide<S: Serializer, T, U: Serialize>(
    s: S,
    items: &[T],
    conv: impl Fn(&T) -> U,
) -> Result<S::Ok, S::Error> {
    let mut q = s.serialize_seq(Some(items.len()))?;
    for x in items {
        q.serialize_element(&conv(x))?;
    }
    q.end()
}

/// `{key, elem_type, count, values}`: a whole array, for `GgufFile.array(key)`.
pub struct ArrayJs<'a> {
    key: &'a str,
    array: &'a Array,
}

impl<'a> ArrayJs<'a> {
    pub fn full(key: &'a str, array: &'a Array) -> Self {
        ArrayJs { key, array }
    }
}

impl Serialize for ArrayJs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Array", 4)?;
        st.serialize_field("key", self.key)?;
        st.serialize_field("elem_type", self.array.elem_type().name())?;
        st.serialize_field("count", &self.array.len())?;
        st.serialize_field("values", &ArrayValues(self.array, self.array.len()))?;
        st.end()
    }
}

/// A metadata entry: `{key, type, offset, value}` for scalars; arrays have `elem_type`,
/// `count`, `values` (the first `ARRAY_SUMMARY_LEN`) and `truncated` instead of `value`.
pub struct EntryJs<'a>(pub &'a MetadataEntry);

impl Serialize for EntryJs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut st = s.serialize_struct("Entry", 6)?;
        st.serialize_field("key", &e.key)?;
        st.serialize_field("type", e.value.value_type().name())?;
        st.serialize_field("offset", &U64Js(e.offset))?;
        match &e.value {
            Value::Array(a) => {
                st.serialize_field("elem_type", a.elem_type().name())?;
                st.serialize_field("count", &a.len())?;
                st.serialize_field("values", &ArrayValues(a, ARRAY_SUMMARY_LEN))?;
                st.serialize_field("truncated", &(a.len() > ARRAY_SUMMARY_LEN))?;
            }
            v => st.serialize_field("value", &ScalarJs(v))?,
        }
        st.end()
    }
}

/// A tensor table row.
#[derive(Serialize)]
pub struct TensorJs<'a> {
    name: &'a str,
    /// The ggml type's name ("I2_S", "TQ2_0", ...).
    #[serde(rename = "type")]
    type_name: &'static str,
    type_id: u32,
    dims: Vec<U64Js>,
    /// Relative to the data section, as stored.
    offset: U64Js,
    data_start: U64Js,
    data_end: U64Js,
    n_elements: U64Js,
    n_bytes: U64Js,
    size_inferred: bool,
    info_offset: U64Js,
}

impl<'a> TensorJs<'a> {
    pub fn new(t: &'a TensorInfo) -> Self {
        TensorJs {
            name: &t.name,
            type_name: t.ggml_type.name(),
            type_id: t.type_id,
            dims: t.dims.iter().map(|&d| U64Js(d)).collect(),
            offset: U64Js(t.offset),
            data_start: U64Js(t.data_start),
            data_end: U64Js(t.data_end()),
            n_elements: U64Js(t.n_elements),
            n_bytes: U64Js(t.n_bytes),
            size_inferred: t.size_inferred,
            info_offset: U64Js(t.info_offset),
        }
    }
}

/// The file as a whole.
#[derive(Serialize)]
pub struct InfoJs<'a> {
    version: u32,
    architecture: Option<&'a str>,
    /// Ids 36..39 read as bitnet.cpp's I2_S, I8_S, TL1, TL2.
    fork_types: bool,
    alignment: U64Js,
    header_len: U64Js,
    data_offset: U64Js,
    file_len: U64Js,
    loaded: U64Js,
    metadata_count: usize,
    tensor_count: usize,
    /// Sum of the tensors' sizes.
    tensor_bytes: U64Js,
    notes: &'a [String],
}

impl<'a> InfoJs<'a> {
    pub fn new(g: &'a Gguf, loaded: u64) -> Self {
        InfoJs {
            version: g.version,
            architecture: g.architecture(),
            fork_types: g.is_fork_arch(),
            alignment: U64Js(g.alignment),
            header_len: U64Js(g.header_len),
            data_offset: U64Js(g.data_offset),
            file_len: U64Js(g.file_len),
            loaded: U64Js(loaded),
            metadata_count: g.metadata.len(),
            tensor_count: g.tensors.len(),
            tensor_bytes: U64Js(g.tensors.iter().map(|t| t.n_bytes).sum()),
            notes: &g.notes,
        }
    }
}
