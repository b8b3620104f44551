//! Rows of a tensor, converted to f32.
//!
//! `dequantize_rows` takes the tensor's whole byte slice as stored in the file (I2_S needs it:
//! its one f32 scale sits in the 32-byte tail after the packed codes), the row length `ne0`, and
//! a range of rows (row = `ne0` contiguous elements; all dims past the first count as rows). It
//! checks every size before touching a byte and writes into the caller's buffer: nothing is
//! allocated, so the model can pull embedding rows straight out of the packed file.
//!
//! Decoding rules are spec section 3 and ggml's `dequantize_row_*`:
//! - Q8_0 (34 bytes): f16 d, 32 x i8. x = d * q.
//! - Q4_0 (18): f16 d, 16 bytes; byte j holds element j (low nibble) and j+16 (high). x = d * (q - 8).
//! - Q4_1 (20): f16 d, f16 m, 16 bytes as Q4_0. x = d * q + m.
//! - TQ2_0 (66): qs[64], f16 d last. x = (code - 1) * d; code 3 gives +2d, as in ggml.
//! - TQ1_0 (54): qs[48], qh[4], f16 d last; base-3 digits packed 5 (4 in qh) per byte.
//! - I2_S (fork): n/4 + 32 bytes; 128-element blocks of 32 bytes, byte 32b+p holds elements
//!   128b+p, +32, +64, +96 in bits 7..6, 5..4, 3..2, 1..0. x = (code - 1) * scale, scale = the
//!   f32 in the tail's first 4 bytes (codes 0, 1, 2 = -1, 0, +1; 3 is never written and, as
//!   in the fork's integer kernels, would act as +2).

use std::fmt;
use std::ops::Range;

use half::f16;

use super::types::GgmlType;
use crate::gguf::{Gguf, GgufError};

/// Elements per I2_S block, and its bytes.
const I2S_BLOCK: usize = 128;
const I2S_BLOCK_BYTES: usize = 32;
const I2S_TAIL: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DequantError {
    /// A type we list but cannot convert (yet).
    Unsupported { type_name: &'static str },
    /// `ne0` is zero or not a multiple of the type's block.
    BadRowLength { type_name: &'static str, ne0: usize },
    /// The byte slice is not a whole number of rows of this type and row length.
    BadDataLength {
        type_name: &'static str,
        ne0: usize,
        len: usize,
    },
    RowsOutOfRange {
        start: usize,
        end: usize,
        n_rows: usize,
    },
    /// `out` must hold exactly `rows.len() * ne0` values.
    OutputLength { expected: usize, got: usize },
}

impl fmt::Display for DequantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DequantError::Unsupported { type_name } => {
                write!(f, "cannot convert {type_name} to f32")
            }
            DequantError::BadRowLength { type_name, ne0 } => {
                write!(
                    f,
                    "row length {ne0} is not a positive multiple of the {type_name} block"
                )
            }
            DequantError::BadDataLength {
                type_name,
                ne0,
                len,
            } => write!(
                f,
                "{len} bytes are not a whole number of {type_name} rows of {ne0} elements"
            ),
            DequantError::RowsOutOfRange { start, end, n_rows } => {
                write!(
                    f,
                    "rows {start}..{end} out of range (the tensor has {n_rows} rows)"
                )
            }
            DequantError::OutputLength { expected, got } => {
                write!(f, "output buffer holds {got} values, {expected} needed")
            }
        }
    }
}

impl std::error::Error for DequantError {}

/// True for the types `dequantize_rows` converts.
pub fn can_dequantize(ty: GgmlType) -> bool {
    use GgmlType::*;
    matches!(
        ty,
        F32 | F16 | BF16 | Q8_0 | Q4_0 | Q4_1 | Q4_K | Q6_K | TQ1_0 | TQ2_0 | I2_S
    )
}

/// Number of rows of `ne0` elements a tensor of `len` bytes holds, checking that the bytes are an
/// exact fit.
pub fn row_count(ty: GgmlType, len: usize, ne0: usize) -> Result<usize, DequantError> {
    let type_name = ty.name();
    if !can_dequantize(ty) {
        return Err(DequantError::Unsupported { type_name });
    }
    let block = ty.block_size() as usize;
    if ne0 == 0 || !ne0.is_multiple_of(block) {
        return Err(DequantError::BadRowLength { type_name, ne0 });
    }
    let bad_len = DequantError::BadDataLength {
        type_name,
        ne0,
        len,
    };
    if ty == GgmlType::I2_S {
        // n/4 + 32 bytes, n a whole number of 128-element blocks and of rows.
        let packed = len.checked_sub(I2S_TAIL).ok_or(bad_len.clone())?;
        if !packed.is_multiple_of(I2S_BLOCK_BYTES) {
            return Err(bad_len);
        }
        let n = packed.checked_mul(4).ok_or(bad_len.clone())?;
        return if n.is_multiple_of(ne0) {
            Ok(n / ne0)
        } else {
            Err(bad_len)
        };
    }
    // A row too big for usize cannot be in memory: only an empty tensor (no rows) fits.
    match (ne0 / block).checked_mul(ty.block_bytes() as usize) {
        Some(row_bytes) if len.is_multiple_of(row_bytes) => Ok(len / row_bytes),
        None if len == 0 => Ok(0),
        _ => Err(bad_len),
    }
}

/// Converts rows `rows` of a tensor of type `ty` (all of its bytes in `data`, rows of `ne0`
/// elements) into `out`, which must hold exactly `rows.len() * ne0` values.
pub fn dequantize_rows(
    ty: GgmlType,
    data: &[u8],
    ne0: usize,
    rows: Range<usize>,
    out: &mut [f32],
) -> Result<(), DequantError> {
    let n_rows = row_count(ty, data.len(), ne0)?;
    if rows.start > rows.end || rows.end > n_rows {
        return Err(DequantError::RowsOutOfRange {
            start: rows.start,
            end: rows.end,
            n_rows,
        });
    }
    // rows.end * ne0 elements exist in `data`, so this cannot overflow.
    let expected = rows.len() * ne0;
    if out.len() != expected {
        return Err(DequantError::OutputLength {
            expected,
            got: out.len(),
        });
    }
    if ty == GgmlType::I2_S {
        let n = (data.len() - I2S_TAIL) * 4;
        let scale = f32::from_le_bytes(data[n / 4..n / 4 + 4].try_into().expect("4 bytes"));
        i2_s(&data[..n / 4], scale, rows.start * ne0, out);
        return Ok(());
    }
    let block = ty.block_size() as usize;
    let bb = ty.block_bytes() as usize;
    let first = rows.start * ne0 / block * bb;
    let bytes = &data[first..first + expected / block * bb];
    match ty {
        GgmlType::F32 => blocks::<4, 1>(bytes, out, |b, o| o[0] = f32::from_le_bytes(*b)),
        GgmlType::F16 => blocks::<2, 1>(bytes, out, |b, o| o[0] = f16_at(b, 0)),
        GgmlType::BF16 => blocks::<2, 1>(bytes, out, |b, o| {
            o[0] = f32::from_bits((u16::from_le_bytes(*b) as u32) << 16)
        }),
        GgmlType::Q8_0 => blocks::<34, 32>(bytes, out, q8_0),
        GgmlType::Q4_0 => blocks::<18, 32>(bytes, out, q4_0),
        GgmlType::Q4_1 => blocks::<20, 32>(bytes, out, q4_1),
        GgmlType::Q4_K => blocks::<144, 256>(bytes, out, q4_k),
        GgmlType::Q6_K => blocks::<210, 256>(bytes, out, q6_k),
        GgmlType::TQ2_0 => blocks::<66, 256>(bytes, out, tq2_0),
        GgmlType::TQ1_0 => blocks::<54, 256>(bytes, out, tq1_0),
        _ => unreachable!("row_count rejected {}", ty.name()),
    }
    Ok(())
}

/// Runs `f` on each `B`-byte block and the `N` outputs it decodes to.
#[inline(always)]
fn blocks<const B: usize, const N: usize>(
    bytes: &[u8],
    out: &mut [f32],
    f: impl Fn(&[u8; B], &mut [f32; N]),
) {
    for (b, o) in bytes.chunks_exact(B).zip(out.chunks_exact_mut(N)) {
        f(
            b.try_into().expect("B bytes"),
            o.try_into().expect("N values"),
        );
    }
}

#[inline(always)]
fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[at], b[at + 1]])).to_f32()
}

fn q8_0(b: &[u8; 34], o: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (x, &q) in o.iter_mut().zip(&b[2..]) {
        *x = d * (q as i8) as f32;
    }
}

fn q4_0(b: &[u8; 18], o: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (j, &q) in b[2..].iter().enumerate() {
        o[j] = d * ((q & 0xF) as i32 - 8) as f32;
        o[j + 16] = d * ((q >> 4) as i32 - 8) as f32;
    }
}

fn q4_1(b: &[u8; 20], o: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    for (j, &q) in b[4..].iter().enumerate() {
        o[j] = d * (q & 0xF) as f32 + m;
        o[j + 16] = d * (q >> 4) as f32 + m;
    }
}

/// Q4_K: `d`, `dmin` (f16), 12 bytes of 6-bit scales and mins for eight 32-element sub-blocks,
/// 128 bytes of nibbles (each 32 bytes: low nibbles for one sub-block, high for the next).
fn q4_k(b: &[u8; 144], o: &mut [f32; 256]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let sc = &b[4..16];
    let scale_min = |j: usize| -> (u8, u8) {
        if j < 4 {
            (sc[j] & 63, sc[j + 4] & 63)
        } else {
            (
                (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4),
                (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4),
            )
        }
    };
    for j in 0..4 {
        let q = &b[16 + 32 * j..16 + 32 * (j + 1)];
        let (s1, m1) = scale_min(2 * j);
        let (s2, m2) = scale_min(2 * j + 1);
        let (d1, m1) = (d * s1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * s2 as f32, dmin * m2 as f32);
        for l in 0..32 {
            o[64 * j + l] = d1 * (q[l] & 0xF) as f32 - m1;
            o[64 * j + 32 + l] = d2 * (q[l] >> 4) as f32 - m2;
        }
    }
}

/// Q6_K: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 signed 8-bit scales (one per
/// 16 elements), `d` (f16) last; value = d · scale · (q - 32).
fn q6_k(b: &[u8; 210], o: &mut [f32; 256]) {
    let d = f16_at(b, 208);
    for n in 0..2 {
        let ql = &b[64 * n..64 * n + 64];
        let qh = &b[128 + 32 * n..128 + 32 * n + 32];
        let sc = &b[192 + 8 * n..192 + 8 * n + 8];
        let y = &mut o[128 * n..128 * n + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
            y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
            y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
            y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
        }
    }
}

fn tq2_0(b: &[u8; 66], o: &mut [f32; 256]) {
    let d = f16_at(b, 64);
    for half in 0..2 {
        let qs = &b[half * 32..half * 32 + 32];
        for shift in 0..4 {
            let dst = &mut o[half * 128 + shift * 32..][..32];
            for (x, &q) in dst.iter_mut().zip(qs) {
                *x = (((q >> (2 * shift)) & 3) as i32 - 1) as f32 * d;
            }
        }
    }
}

/// Trit `n` (0 = most significant) of a TQ1_0 byte: the byte is a fixed-point fraction of 3^5.
#[inline(always)]
fn trit(x: u8, pow3: u8) -> i32 {
    let q = x.wrapping_mul(pow3);
    ((q as u16 * 3) >> 8) as i32
}

const POW3: [u8; 5] = [1, 3, 9, 27, 81];

fn tq1_0(b: &[u8; 54], o: &mut [f32; 256]) {
    let d = f16_at(b, 52);
    let mut put = |at: usize, bytes: &[u8], n_trits: usize| {
        let w = bytes.len();
        for (n, &p) in POW3.iter().enumerate().take(n_trits) {
            for (m, &x) in bytes.iter().enumerate() {
                o[at + n * w + m] = (trit(x, p) - 1) as f32 * d;
            }
        }
    };
    put(0, &b[0..32], 5); // elements 0..160
    put(160, &b[32..48], 5); // 160..240
    put(240, &b[48..52], 4); // 240..256
}

/// Decodes I2_S elements `first..first + out.len()` (flattened) from the packed codes.
fn i2_s(packed: &[u8], scale: f32, first: usize, out: &mut [f32]) {
    let lut = [-scale, 0.0, scale, 2.0 * scale];
    let mut i = first;
    let mut o = 0;
    while o < out.len() {
        let b = i / I2S_BLOCK;
        let p = i % I2S_BLOCK;
        let block = &packed[b * I2S_BLOCK_BYTES..][..I2S_BLOCK_BYTES];
        // Within a block, elements go by group (bits 7..6 first), then byte.
        let take = (I2S_BLOCK - p).min(out.len() - o);
        if take == I2S_BLOCK {
            // A whole block: four groups of 32, one shift each.
            let dst = &mut out[o..o + I2S_BLOCK];
            for (g, group) in dst.chunks_exact_mut(32).enumerate() {
                let shift = 6 - 2 * g;
                for (x, &byte) in group.iter_mut().zip(block) {
                    *x = lut[((byte >> shift) & 3) as usize];
                }
            }
        } else {
            for k in 0..take {
                let e = p + k;
                let shift = 6 - 2 * (e / 32);
                out[o + k] = lut[((block[e % 32] >> shift) & 3) as usize];
            }
        }
        i += take;
        o += take;
    }
}

/// A dequantization error for a named tensor of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TensorRowsError {
    /// Missing tensor or data not (yet) loaded.
    File(GgufError),
    Dequant {
        tensor: String,
        error: DequantError,
    },
}

impl fmt::Display for TensorRowsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorRowsError::File(e) => e.fmt(f),
            TensorRowsError::Dequant { tensor, error } => write!(f, "tensor '{tensor}': {error}"),
        }
    }
}

impl std::error::Error for TensorRowsError {}

impl Gguf {
    /// Rows `rows` of tensor `name` as f32, into `out` (exactly `rows.len() * ne0` values).
    /// `file` holds the file from its first byte.
    pub fn tensor_rows_f32_into(
        &self,
        file: &[u8],
        name: &str,
        rows: Range<usize>,
        out: &mut [f32],
    ) -> Result<(), TensorRowsError> {
        let t = self.tensor(name).ok_or_else(|| {
            TensorRowsError::File(GgufError::NoSuchTensor {
                tensor: name.into(),
            })
        })?;
        let data = self.tensor_data(file, t).map_err(TensorRowsError::File)?;
        let named = |error| TensorRowsError::Dequant {
            tensor: name.into(),
            error,
        };
        let ne0 = usize::try_from(t.ne0()).map_err(|_| {
            named(DequantError::BadRowLength {
                type_name: t.ggml_type.name(),
                ne0: usize::MAX,
            })
        })?;
        dequantize_rows(t.ggml_type, data, ne0, rows, out).map_err(named)
    }

    /// Rows `rows` of tensor `name` as a new f32 vector.
    pub fn tensor_rows_f32(
        &self,
        file: &[u8],
        name: &str,
        rows: Range<usize>,
    ) -> Result<Vec<f32>, TensorRowsError> {
        // Bound the allocation by the rows the tensor really has before allocating; anything
        // out of range is reported by `tensor_rows_f32_into`.
        let len = self
            .tensor(name)
            .filter(|t| rows.start <= rows.end && rows.end as u64 <= t.n_rows())
            .and_then(|t| usize::try_from(t.ne0()).ok()?.checked_mul(rows.len()))
            .unwrap_or(0);
        let mut out = vec![0.0; len];
        self.tensor_rows_f32_into(file, name, rows, &mut out)?;
        Ok(out)
    }
}
