//! Tensor types and their conversion to f32.

pub mod types;

pub use types::GgmlType;
