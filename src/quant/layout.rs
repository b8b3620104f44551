//! Where the file's I2_S rows may be rearranged in memory for a kernel: the row-interleaved
//! layout (`kernels::ternary::interleave_i2s_rows`) is the same bytes permuted within groups of
//! rows, done in place in the file's buffer once it is whole, and undone wherever the original
//! bytes leave (the export). This module decides which tensors it applies to, for the buffer
//! and for the model that reads it.

use crate::gguf::{Gguf, TensorInfo};
use crate::kernels::ternary::{deinterleave_i2s_rows, interleave_i2s_rows, I2S_ROW_GROUP};
use crate::kernels::Kernels;
use crate::quant::GgmlType;

/// How a buffer's I2_S tensors are laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum I2sLayout {
    /// As stored in the file.
    #[default]
    Plain,
    /// Every tensor `interleaved_part` accepts in the row-interleaved layout.
    RowInterleaved,
}

/// The packed bytes of `t` that the row-interleaved layout rearranges, as (row bytes, packed
/// length), or None for a tensor it leaves as it is: all but I2_S matrices whose rows are whole
/// 128-element blocks and whose row count is a multiple of the row group (every 2B-4T matrix),
/// so a group never straddles a thread's share of the rows.
pub fn interleaved_part(t: &TensorInfo) -> Option<(usize, usize)> {
    if t.ggml_type != GgmlType::I2_S || t.dims.len() < 2 || t.dims[2..].iter().any(|&d| d != 1) {
        return None;
    }
    let (cols, rows) = (t.dims[0], t.dims[1]);
    if cols == 0
        || !cols.is_multiple_of(128)
        || rows == 0
        || !rows.is_multiple_of(I2S_ROW_GROUP as u64)
    {
        return None;
    }
    let packed = cols.checked_mul(rows)? / 4;
    // The I2_S data is the packed rows and a scale tail: never past the tensor's bytes.
    if packed > t.n_bytes {
        return None;
    }
    Some((
        usize::try_from(cols / 4).ok()?,
        usize::try_from(packed).ok()?,
    ))
}

/// Puts the I2_S tensors of `file` (the whole file `g` was parsed from) in the layout this
/// build's I2_S kernel reads best (`Kernels::i2s_interleaved`) and returns the layout: the one
/// place that decides it, for the page's buffer and the benchmarks.
pub fn arrange_for_this_build(g: &Gguf, file: &mut [u8]) -> I2sLayout {
    if Kernels::best().i2s_interleaved.is_some() {
        interleave_i2s_tensors(g, file)
    } else {
        I2sLayout::Plain
    }
}

/// Puts every tensor `interleaved_part` accepts in the row-interleaved layout, in place in
/// `file` (the whole file `g` was parsed from), and returns the layout the buffer is then in; a
/// tensor whose bytes are not all in `file` is left as it is (the model refuses it anyway). A
/// file in which any two tensors' bytes overlap (a GGUF may place tensors anywhere; no real
/// file does) is left as it is: rearranging shared bytes would change the other tensor, or
/// rearrange them twice.
pub fn interleave_i2s_tensors(g: &Gguf, file: &mut [u8]) -> I2sLayout {
    if tensors_overlap(g, file.len() as u64) {
        log::warn!("tensors share bytes: I2_S tensors kept in the file's layout");
        return I2sLayout::Plain;
    }
    for t in &g.tensors {
        if let Some((row_bytes, range)) = packed_range(t, file.len()) {
            interleave_i2s_rows(&mut file[range], row_bytes);
        }
    }
    I2sLayout::RowInterleaved
}

/// Whether two tensors' byte ranges (within a file of `len` bytes) overlap: sorted by start,
/// one sweep (a header may list very many tensors).
fn tensors_overlap(g: &Gguf, len: u64) -> bool {
    let mut extents: Vec<(u64, u64)> = g
        .tensors
        .iter()
        .map(|t| {
            let start = t.data_start.min(len);
            (start, t.data_start.saturating_add(t.n_bytes).min(len))
        })
        .filter(|(start, end)| start < end)
        .collect();
    extents.sort_unstable();
    let mut end_so_far = 0;
    extents.iter().any(|&(start, end)| {
        let overlaps = start < end_so_far;
        end_so_far = end_so_far.max(end);
        overlaps
    })
}

/// `bytes` (tensor `t`'s data, from its start) back in the file's layout, if the
/// row-interleaved layout rearranged them.
pub fn deinterleave_tensor(t: &TensorInfo, bytes: &mut [u8]) {
    if let Some((row_bytes, packed)) = interleaved_part(t) {
        if packed <= bytes.len() {
            deinterleave_i2s_rows(&mut bytes[..packed], row_bytes);
        }
    }
}

/// The row bytes and the absolute byte range of `t`'s rearranged part in a file of `file_len`
/// bytes.
fn packed_range(t: &TensorInfo, file_len: usize) -> Option<(usize, core::ops::Range<usize>)> {
    let (row_bytes, packed) = interleaved_part(t)?;
    let start = usize::try_from(t.data_start).ok()?;
    let end = start.checked_add(packed)?;
    (end <= file_len).then_some((row_bytes, start..end))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn info(ty: GgmlType, dims: &[u64], data_start: u64, n_bytes: u64) -> TensorInfo {
        TensorInfo {
            name: "t".into(),
            dims: dims.to_vec(),
            ggml_type: ty,
            type_id: 0,
            offset: 0,
            data_start,
            n_elements: dims.iter().product(),
            n_bytes,
            size_inferred: false,
            info_offset: 0,
        }
    }

    #[test]
    fn only_whole_i2s_row_groups_are_rearranged() {
        let i2s = |dims: &[u64]| {
            info(
                GgmlType::I2_S,
                dims,
                0,
                dims.iter().product::<u64>() / 4 + 32,
            )
        };
        assert_eq!(interleaved_part(&i2s(&[2560, 640])), Some((640, 640 * 640)));
        assert_eq!(
            interleaved_part(&i2s(&[2560, 640, 1])),
            Some((640, 640 * 640))
        );
        assert_eq!(
            interleaved_part(&i2s(&[2560, 642])),
            None,
            "rows not a multiple of 4"
        );
        assert_eq!(interleaved_part(&i2s(&[2500, 640])), None, "partial block");
        assert_eq!(interleaved_part(&i2s(&[2560, 4, 2])), None, "3-D");
        assert_eq!(interleaved_part(&i2s(&[2560])), None);
        assert_eq!(
            interleaved_part(&info(GgmlType::F16, &[2560, 640], 0, 1 << 30)),
            None
        );
        // A declared size too small for the packed rows (a hostile header) is left alone.
        assert_eq!(
            interleaved_part(&info(GgmlType::I2_S, &[2560, 640], 0, 100)),
            None
        );
    }

    #[test]
    fn tensors_sharing_bytes_are_left_as_stored() {
        use crate::gguf::writer::{to_bytes, TensorDesc};
        let data: Vec<u8> = (0..8 * 64 + 32).map(|i| (i * 13 % 251) as u8).collect();
        let desc = |name: &str| TensorDesc {
            name: name.into(),
            dims: vec![256, 8],
            type_id: 36,
            n_bytes: 8 * 64 + 32,
        };
        // Type 36 is I2_S in the fork's architectures.
        let arch = vec![(
            "general.architecture".to_string(),
            crate::gguf::Value::String("bitnet-b1.58".into()),
        )];
        let plain = to_bytes(&arch, &[(desc("a"), data.clone()), (desc("b"), data)]);
        let g = Gguf::parse(&plain).unwrap();
        let mut file = plain.clone();
        assert_eq!(
            interleave_i2s_tensors(&g, &mut file),
            I2sLayout::RowInterleaved
        );
        assert_ne!(file, plain);
        // The same header with b's bytes moved onto a's.
        let mut shared = g.clone();
        shared.tensors[1].data_start = shared.tensors[0].data_start + 64;
        let mut file = plain.clone();
        assert_eq!(interleave_i2s_tensors(&shared, &mut file), I2sLayout::Plain);
        assert_eq!(file, plain);
    }

    #[test]
    fn deinterleave_tensor_undoes_the_buffer_layout() {
        let t = info(GgmlType::I2_S, &[256, 8], 3, 8 * 64 + 32);
        let plain: Vec<u8> = (0..3 + 8 * 64 + 32).map(|i| (i * 7 % 251) as u8).collect();
        let mut file = plain.clone();
        let (row_bytes, packed) = interleaved_part(&t).unwrap();
        interleave_i2s_rows(&mut file[3..3 + packed], row_bytes);
        assert_ne!(file, plain);
        let mut bytes = file[3..].to_vec();
        deinterleave_tensor(&t, &mut bytes);
        assert_eq!(bytes, plain[3..]);
        // Past the end of the buffer: nothing is touched.
        let mut short = file[3..40].to_vec();
        deinterleave_tensor(&t, &mut short);
        assert_eq!(short, file[3..40]);
        assert_eq!(packed_range(&t, 3 + 100), None);
    }
}
