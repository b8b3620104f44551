//! The ggml tensor types: id, name, block size and bytes per block.
//!
//! Ids 36..39 are ambiguous: mainline ggml removed 36..38 and gave 39 to MXFP4, while Microsoft's
//! bitnet.cpp fork uses 36 = I2_S, 37 = I8_S, 38 = TL1, 39 = TL2. Which meaning applies depends on
//! the file's architecture (see `GgmlType::from_id`).

use serde::Serialize;

#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    IQ2_XXS,
    IQ2_XS,
    IQ3_XXS,
    IQ1_S,
    IQ4_NL,
    IQ3_S,
    IQ2_S,
    IQ4_XS,
    I8,
    I16,
    I32,
    I64,
    F64,
    IQ1_M,
    BF16,
    TQ1_0,
    TQ2_0,
    MXFP4,
    NVFP4,
    Q1_0,
    Q2_0,
    /// bitnet.cpp fork: 2-bit ternary, 128-element blocks of 32 bytes, one f32 scale per tensor.
    I2_S,
    /// bitnet.cpp fork: int8 activations (never stored in files).
    I8_S,
    /// bitnet.cpp fork: lookup-table kernel layouts; their byte size depends on the kernel build.
    TL1,
    TL2,
}

/// (type, id, name, block size, bytes per block). Fork types come after the mainline ones.
const TABLE: &[(GgmlType, u32, &str, u64, u64)] = &[
    (GgmlType::F32, 0, "F32", 1, 4),
    (GgmlType::F16, 1, "F16", 1, 2),
    (GgmlType::Q4_0, 2, "Q4_0", 32, 18),
    (GgmlType::Q4_1, 3, "Q4_1", 32, 20),
    (GgmlType::Q5_0, 6, "Q5_0", 32, 22),
    (GgmlType::Q5_1, 7, "Q5_1", 32, 24),
    (GgmlType::Q8_0, 8, "Q8_0", 32, 34),
    (GgmlType::Q8_1, 9, "Q8_1", 32, 36),
    (GgmlType::Q2_K, 10, "Q2_K", 256, 84),
    (GgmlType::Q3_K, 11, "Q3_K", 256, 110),
    (GgmlType::Q4_K, 12, "Q4_K", 256, 144),
    (GgmlType::Q5_K, 13, "Q5_K", 256, 176),
    (GgmlType::Q6_K, 14, "Q6_K", 256, 210),
    (GgmlType::Q8_K, 15, "Q8_K", 256, 292),
    (GgmlType::IQ2_XXS, 16, "IQ2_XXS", 256, 66),
    (GgmlType::IQ2_XS, 17, "IQ2_XS", 256, 74),
    (GgmlType::IQ3_XXS, 18, "IQ3_XXS", 256, 98),
    (GgmlType::IQ1_S, 19, "IQ1_S", 256, 50),
    (GgmlType::IQ4_NL, 20, "IQ4_NL", 32, 18),
    (GgmlType::IQ3_S, 21, "IQ3_S", 256, 110),
    (GgmlType::IQ2_S, 22, "IQ2_S", 256, 82),
    (GgmlType::IQ4_XS, 23, "IQ4_XS", 256, 136),
    (GgmlType::I8, 24, "I8", 1, 1),
    (GgmlType::I16, 25, "I16", 1, 2),
    (GgmlType::I32, 26, "I32", 1, 4),
    (GgmlType::I64, 27, "I64", 1, 8),
    (GgmlType::F64, 28, "F64", 1, 8),
    (GgmlType::IQ1_M, 29, "IQ1_M", 256, 56),
    (GgmlType::BF16, 30, "BF16", 1, 2),
    (GgmlType::TQ1_0, 34, "TQ1_0", 256, 54),
    (GgmlType::TQ2_0, 35, "TQ2_0", 256, 66),
    (GgmlType::MXFP4, 39, "MXFP4", 32, 17),
    (GgmlType::NVFP4, 40, "NVFP4", 64, 36),
    (GgmlType::Q1_0, 41, "Q1_0", 128, 18),
    (GgmlType::Q2_0, 42, "Q2_0", 64, 18),
    // Fork types: sizes are special (see `tensor_bytes`); block/bytes here are nominal.
    (GgmlType::I2_S, 36, "I2_S", 1, 1),
    (GgmlType::I8_S, 37, "I8_S", 1, 1),
    (GgmlType::TL1, 38, "TL1", 1, 1),
    (GgmlType::TL2, 39, "TL2", 1, 1),
];

/// Architectures written by Microsoft's bitnet.cpp fork, whose type ids 36..39 differ from mainline.
pub const FORK_ARCHS: &[&str] = &["bitnet", "bitnet-25", "bitnet-b1.58"];

impl GgmlType {
    fn row(self) -> &'static (GgmlType, u32, &'static str, u64, u64) {
        TABLE
            .iter()
            .find(|r| r.0 == self)
            .expect("every variant is in TABLE")
    }

    /// The type for a stored id. `fork` selects bitnet.cpp's meaning of ids 36..39.
    pub fn from_id(id: u32, fork: bool) -> Option<GgmlType> {
        if fork && (36..=39).contains(&id) {
            return Some(match id {
                36 => GgmlType::I2_S,
                37 => GgmlType::I8_S,
                38 => GgmlType::TL1,
                _ => GgmlType::TL2,
            });
        }
        TABLE
            .iter()
            .find(|r| r.1 == id && !r.0.is_fork_only())
            .map(|r| r.0)
    }

    pub fn is_fork_only(self) -> bool {
        matches!(
            self,
            GgmlType::I2_S | GgmlType::I8_S | GgmlType::TL1 | GgmlType::TL2
        )
    }

    pub fn id(self) -> u32 {
        self.row().1
    }

    pub fn name(self) -> &'static str {
        self.row().2
    }

    /// Elements per block (`ne0` must be a multiple of it).
    pub fn block_size(self) -> u64 {
        self.row().3
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> u64 {
        self.row().4
    }

    /// Bytes a tensor of this type takes, or `None` when it cannot be computed (overflow, or a
    /// fork LUT type whose size depends on the kernel build). I2_S is `n/4 + 32`: 2 bits an
    /// element plus a 32-byte tail whose first 4 bytes are the tensor's f32 scale.
    pub fn tensor_bytes(self, ne0: u64, n_elements: u64) -> Option<u64> {
        match self {
            GgmlType::I2_S => Some(n_elements / 4 + 32),
            GgmlType::I8_S => Some(n_elements),
            GgmlType::TL1 | GgmlType::TL2 => None,
            _ => {
                let block = self.block_size();
                if !ne0.is_multiple_of(block) {
                    return None;
                }
                (n_elements / block).checked_mul(self.block_bytes())
            }
        }
    }

    /// False for the fork's TL1/TL2, whose byte size depends on the kernel build.
    pub fn has_fixed_size(self) -> bool {
        !matches!(self, GgmlType::TL1 | GgmlType::TL2)
    }

    /// Names of every known type, for help texts and the page.
    pub fn all() -> impl Iterator<Item = GgmlType> {
        TABLE.iter().map(|r| r.0)
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn fork_ids_depend_on_arch() {
        assert_eq!(GgmlType::from_id(36, true), Some(GgmlType::I2_S));
        assert_eq!(GgmlType::from_id(36, false), None);
        assert_eq!(GgmlType::from_id(39, false), Some(GgmlType::MXFP4));
        assert_eq!(GgmlType::from_id(39, true), Some(GgmlType::TL2));
        assert_eq!(GgmlType::from_id(4, false), None);
        assert_eq!(GgmlType::from_id(35, true), Some(GgmlType::TQ2_0));
    }

    #[test]
    fn sizes() {
        assert_eq!(
            GgmlType::I2_S.tensor_bytes(2560, 2560 * 2560),
            Some(2560 * 2560 / 4 + 32)
        );
        assert_eq!(GgmlType::TQ2_0.tensor_bytes(256, 512), Some(132));
        assert_eq!(GgmlType::Q4_0.tensor_bytes(33, 33), None);
        assert_eq!(GgmlType::F16.tensor_bytes(3, 6), Some(12));
        for t in GgmlType::all() {
            assert_eq!(GgmlType::from_id(t.id(), t.is_fork_only()), Some(t), "{t}");
        }
    }
}
