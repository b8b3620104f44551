//! The GGUF container: reading (complete or streaming), writing.

pub(crate) mod cursor;
pub mod error;
pub mod reader;
pub mod stream;
pub mod value;
pub mod writer;

pub use error::GgufError;
pub use reader::{align_up, Gguf, MetadataEntry, TensorInfo};
pub use stream::HeaderStream;
pub use value::{Array, Value, ValueType};
pub use writer::{layout, to_bytes, write_gguf, GgufLayout, TensorDesc};
