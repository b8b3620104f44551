//! Tensor types and their conversion to f32.

pub mod dequant;
pub mod layout;
pub mod types;

pub use dequant::{dequantize_rows, DequantError, TensorRowsError};
pub use layout::I2sLayout;
pub use types::GgmlType;
