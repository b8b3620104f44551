//! Everything that can be wrong with a GGUF file, each naming where.

use std::fmt::{self, Write as _};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GgufError {
    /// The bytes seen so far end inside the header; more of the stream is needed. Only returned
    /// while fewer bytes than the file's length are available: at the end it becomes `Truncated`.
    NeedMore {
        needed: u64,
    },
    Truncated {
        offset: u64,
        what: String,
        needed: u64,
        file_len: u64,
    },
    BadMagic {
        found: [u8; 4],
    },
    /// Version 1 used 32-bit counts; 0 and > 3 were never valid.
    UnsupportedVersion {
        version: u32,
    },
    BigEndian {
        raw_version: u32,
    },
    UnknownValueType {
        offset: u64,
        key: String,
        type_id: u32,
    },
    NestedArray {
        offset: u64,
        key: String,
    },
    DuplicateKey {
        offset: u64,
        key: String,
    },
    EmptyKey {
        offset: u64,
    },
    InvalidUtf8 {
        offset: u64,
        what: String,
    },
    /// A count that the remaining bytes of the file cannot possibly hold.
    CountTooLarge {
        offset: u64,
        what: String,
        count: u64,
        max: u64,
    },
    BadAlignment {
        offset: u64,
        detail: String,
    },
    EmptyTensorName {
        offset: u64,
    },
    TensorNameTooLong {
        offset: u64,
        name: String,
        len: u64,
    },
    DuplicateTensor {
        offset: u64,
        tensor: String,
    },
    TooManyDims {
        offset: u64,
        tensor: String,
        n_dims: u32,
    },
    NegativeDim {
        offset: u64,
        tensor: String,
        dim: usize,
        value: i64,
    },
    ElementCountOverflow {
        offset: u64,
        tensor: String,
    },
    /// The tensor's byte size does not fit in 64 bits.
    SizeOverflow {
        offset: u64,
        tensor: String,
    },
    UnknownTensorType {
        offset: u64,
        tensor: String,
        type_id: u32,
    },
    RowNotBlockMultiple {
        tensor: String,
        ne0: u64,
        block: u64,
        type_name: &'static str,
    },
    UnalignedOffset {
        tensor: String,
        offset: u64,
        alignment: u64,
    },
    TensorPastEnd {
        tensor: String,
        start: u64,
        end: u64,
        file_len: u64,
    },
    /// A name asked for that the file does not have.
    NoSuchTensor {
        tensor: String,
    },
    /// The tensor's bytes are not (yet) in the buffer given.
    DataNotLoaded {
        tensor: String,
        end: u64,
        available: u64,
    },
}

impl GgufError {
    /// A short machine-readable name, stable for the CLI's JSON and the page.
    pub fn kind(&self) -> &'static str {
        use GgufError::*;
        match self {
            NeedMore { .. } => "need_more",
            Truncated { .. } => "truncated",
            BadMagic { .. } => "bad_magic",
            UnsupportedVersion { .. } => "unsupported_version",
            BigEndian { .. } => "big_endian",
            UnknownValueType { .. } => "unknown_value_type",
            NestedArray { .. } => "nested_array",
            DuplicateKey { .. } => "duplicate_key",
            EmptyKey { .. } => "empty_key",
            InvalidUtf8 { .. } => "invalid_utf8",
            CountTooLarge { .. } => "count_too_large",
            BadAlignment { .. } => "bad_alignment",
            EmptyTensorName { .. } => "empty_tensor_name",
            TensorNameTooLong { .. } => "tensor_name_too_long",
            DuplicateTensor { .. } => "duplicate_tensor",
            TooManyDims { .. } => "too_many_dims",
            NegativeDim { .. } => "negative_dim",
            ElementCountOverflow { .. } => "element_count_overflow",
            SizeOverflow { .. } => "size_overflow",
            UnknownTensorType { .. } => "unknown_tensor_type",
            RowNotBlockMultiple { .. } => "row_not_block_multiple",
            UnalignedOffset { .. } => "unaligned_offset",
            TensorPastEnd { .. } => "tensor_past_end",
            NoSuchTensor { .. } => "no_such_tensor",
            DataNotLoaded { .. } => "data_not_loaded",
        }
    }
}

/// One line whatever the file holds: names and keys come from the file and may contain control
/// characters (a newline in a key must not split the CLI's one-line error).
impl fmt::Display for GgufError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut msg = String::new();
        self.write_message(&mut msg)?;
        for c in msg.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

impl GgufError {
    fn write_message(&self, f: &mut impl fmt::Write) -> fmt::Result {
        use GgufError::*;
        match self {
            NeedMore { needed } => write!(f, "need more bytes: the header continues past byte {needed}"),
            Truncated { offset, what, needed, file_len } => write!(
                f,
                "truncated at offset {offset}: {what} needs {needed} bytes but the file ends at {file_len}"
            ),
            BadMagic { found } => write!(
                f,
                "bad magic at offset 0: expected \"GGUF\", found {:02x} {:02x} {:02x} {:02x}",
                found[0], found[1], found[2], found[3]
            ),
            UnsupportedVersion { version: 1 } => write!(
                f,
                "unsupported GGUF version 1 at offset 4 (32-bit counts; re-convert with a current tool)"
            ),
            UnsupportedVersion { version } => {
                write!(f, "invalid GGUF version {version} at offset 4 (only 2 and 3 exist)")
            }
            BigEndian { raw_version } => write!(
                f,
                "big-endian GGUF at offset 4 (version field reads {raw_version:#010x}); only little-endian files are supported"
            ),
            UnknownValueType { offset, key, type_id } => {
                write!(f, "unknown value type {type_id} at offset {offset} (key '{key}')")
            }
            NestedArray { offset, key } => {
                write!(f, "array of arrays at offset {offset} (key '{key}'); GGUF does not allow nested arrays")
            }
            DuplicateKey { offset, key } => write!(f, "duplicate key '{key}' at offset {offset}"),
            EmptyKey { offset } => write!(f, "empty key at offset {offset}"),
            InvalidUtf8 { offset, what } => write!(f, "invalid UTF-8 in {what} at offset {offset}"),
            CountTooLarge { offset, what, count, max } => write!(
                f,
                "{what} at offset {offset} is {count}, but the rest of the file can hold at most {max}"
            ),
            BadAlignment { offset, detail } => {
                write!(f, "bad general.alignment at offset {offset}: {detail}")
            }
            EmptyTensorName { offset } => write!(f, "empty tensor name at offset {offset}"),
            TensorNameTooLong { offset, name, len } => write!(
                f,
                "tensor name of {len} bytes at offset {offset} (at most 63 allowed): '{name}'"
            ),
            DuplicateTensor { offset, tensor } => {
                write!(f, "duplicate tensor name '{tensor}' at offset {offset}")
            }
            TooManyDims { offset, tensor, n_dims } => write!(
                f,
                "tensor '{tensor}' at offset {offset} has {n_dims} dimensions (at most 4)"
            ),
            NegativeDim { offset, tensor, dim, value } => {
                write!(f, "tensor '{tensor}' at offset {offset}: ne[{dim}] = {value} is negative")
            }
            ElementCountOverflow { offset, tensor } => write!(
                f,
                "tensor '{tensor}' at offset {offset}: element count overflows 63 bits"
            ),
            SizeOverflow { offset, tensor } => write!(
                f,
                "tensor '{tensor}' at offset {offset}: byte size overflows 64 bits"
            ),
            UnknownTensorType { offset, tensor, type_id } => write!(
                f,
                "tensor '{tensor}' at offset {offset} has unknown ggml type {type_id}"
            ),
            RowNotBlockMultiple { tensor, ne0, block, type_name } => write!(
                f,
                "tensor '{tensor}': ne[0] = {ne0} is not a multiple of the {type_name} block size {block}"
            ),
            UnalignedOffset { tensor, offset, alignment } => write!(
                f,
                "tensor '{tensor}': data offset {offset} is not a multiple of the alignment {alignment}"
            ),
            TensorPastEnd { tensor, start, end, file_len } => write!(
                f,
                "tensor '{tensor}': data spans bytes {start}..{end} but the file has {file_len} bytes"
            ),
            NoSuchTensor { tensor } => write!(f, "no tensor named '{tensor}'"),
            DataNotLoaded { tensor, end, available } => write!(
                f,
                "tensor '{tensor}': data ends at byte {end} but only {available} bytes are loaded"
            ),
        }
    }
}

impl std::error::Error for GgufError {}
