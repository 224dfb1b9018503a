//! GGUF: the file format of ggml / llama.cpp models, read zero-copy and written streaming.
//!
//! - [`Gguf::parse`] reads a GGUF v2 or v3 file from `&[u8]` (an mmap on the host, a RAM image
//!   on the firmware) without copying: keys, strings, arrays and tensor data are borrowed.
//!   The file is untrusted. Every read is bounds-checked, every size uses checked
//!   arithmetic, every declared count or length is checked against a cap ([`limits`]) and
//!   against the bytes left before anything is allocated or looped over, so a hostile file
//!   cannot make the parser allocate more than the file size or recurse more than
//!   [`limits::MAX_ARRAY_DEPTH`] levels. Every tensor must lie inside the data section, be
//!   aligned to `general.alignment` and not overlap another. Each failure is one
//!   [`GgufError`] naming the byte offset, the key or tensor, and what was expected.
//! - [`GgufWriter`] plans a v3 file from [`MetadataValue`]s and tensor shapes, emits the
//!   header, and lets the caller stream tensor data with padding (see [`writer`]).
//!
//! Module map: [`cursor`] checked little-endian reads; [`value`] borrowed values and lazy
//! arrays; [`tensor`] tensor-table entries; [`reader`] the parsed file; [`metadata`] owned
//! values; [`writer`] the writer; [`error`] the error type; [`limits`] the caps.

pub(crate) mod cursor;
pub mod error;
pub mod limits;
pub mod metadata;
pub mod reader;
pub mod tensor;
pub mod value;
pub mod writer;

pub use error::{Context, GgufError, Limit};
pub use metadata::MetadataValue;
pub use reader::{GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, Gguf};
pub use tensor::TensorInfo;
pub use value::{Array, ArrayIter, Value, ValueType};
pub use writer::{GgufLayout, GgufWriter, PlannedTensor, TensorSpec};
