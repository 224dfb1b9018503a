//! The one error type of the GGUF reader and writer.
//!
//! Every reader error names the absolute byte offset of the offending field, where it sits
//! (header, a metadata key, a tensor) and what was expected, so a user can open the file in a
//! hex editor and see the problem. Names and keys are copied into the error (truncated to
//! [`MAX_NAME_IN_ERROR`] bytes) only when an error is built: the happy path never allocates
//! for them.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use edgellm_kernels::GgmlType;

use super::value::ValueType;

/// Longest key or tensor name copied into an error message, in bytes.
pub const MAX_NAME_IN_ERROR: usize = 256;

/// Where in the file an error happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Context {
    /// The fixed header: magic, version, tensor and key-value counts.
    Header,
    /// The value of a metadata key whose name was read.
    Key(String),
    /// The `index`-th metadata entry, before (or without) a readable key name.
    KeyIndex(u64),
    /// A tensor-table entry whose name was read.
    Tensor(String),
    /// The `index`-th tensor-table entry, before (or without) a readable name.
    TensorIndex(u64),
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Context::Header => f.write_str("header"),
            Context::Key(k) => write!(f, "metadata key {k:?}"),
            Context::KeyIndex(i) => write!(f, "metadata entry #{i}"),
            Context::Tensor(t) => write!(f, "tensor {t:?}"),
            Context::TensorIndex(i) => write!(f, "tensor entry #{i}"),
        }
    }
}

/// A cap the reader or writer enforces, printed as a size ("16 MiB") or a count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Bytes(u64),
    Count(u64),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MIB: u64 = 1 << 20;
        const KIB: u64 = 1 << 10;
        match *self {
            Limit::Bytes(n) if n >= MIB && n % MIB == 0 => write!(f, "{} MiB", n / MIB),
            Limit::Bytes(n) if n >= KIB && n % KIB == 0 => write!(f, "{} KiB", n / KIB),
            Limit::Bytes(n) => write!(f, "{n}-byte"),
            Limit::Count(n) => write!(f, "{n}"),
        }
    }
}

/// Shape of a tensor as read, for messages (`[576, 49152]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape(pub Vec<u64>);

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Everything that can go wrong reading or writing a GGUF file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// The file ends inside a field.
    #[error(
        "at offset {offset}: {context}: {what} needs {needed} bytes but only {available} remain in the file"
    )]
    Truncated {
        offset: u64,
        context: Context,
        what: &'static str,
        needed: u64,
        available: u64,
    },

    /// The first four bytes are not `GGUF`.
    #[error("at offset 0: header: magic {found:02x?} is not \"GGUF\" [47, 47, 55, 46]")]
    BadMagic { found: [u8; 4] },

    /// Only GGUF v2 and v3 are read (v1 used 32-bit counts; big-endian files are rejected).
    #[error(
        "at offset 4: header: GGUF version {version} is not supported (expected 2 or 3, little-endian)"
    )]
    UnsupportedVersion { version: u32 },

    /// A count, length, dimension count or nesting depth above one of the caps in
    /// [`crate::gguf::limits`].
    #[error("at offset {offset}: {context}: {what} {value} exceeds the {limit} cap")]
    LimitExceeded {
        offset: u64,
        context: Context,
        what: &'static str,
        value: u64,
        limit: Limit,
    },

    /// A key, string value or tensor name that is not UTF-8.
    #[error(
        "at offset {offset}: {context}: {what} is not valid UTF-8 (bad byte at position {valid_up_to})"
    )]
    InvalidUtf8 {
        offset: u64,
        context: Context,
        what: &'static str,
        valid_up_to: usize,
    },

    /// A metadata value type id outside 0..=12.
    #[error("at offset {offset}: {context}: unknown metadata value type {id} (expected 0..=12)")]
    UnknownValueType {
        offset: u64,
        context: Context,
        id: u32,
    },

    /// A bool byte other than 0 or 1 (the spec calls anything else invalid).
    #[error("at offset {offset}: {context}: bool byte is {byte}, expected 0 or 1")]
    InvalidBool {
        offset: u64,
        context: Context,
        byte: u8,
    },

    /// The same metadata key twice.
    #[error("at offset {offset}: metadata key {key:?} appears twice (first at offset {first})")]
    DuplicateKey {
        offset: u64,
        key: String,
        first: u64,
    },

    /// The same tensor name twice.
    #[error("at offset {offset}: tensor {name:?} appears twice (first at offset {first})")]
    DuplicateTensor {
        offset: u64,
        name: String,
        first: u64,
    },

    /// A ggml type id that ggml does not define.
    #[error("at offset {offset}: tensor {name:?}: unknown ggml type id {id}")]
    UnknownGgmlType { offset: u64, name: String, id: u32 },

    /// The product of the dimensions (or the byte size) does not fit in 64 bits / `usize`.
    #[error("at offset {offset}: tensor {name:?}: {what} of shape {shape} overflows")]
    ShapeOverflow {
        offset: u64,
        name: String,
        what: &'static str,
        shape: Shape,
    },

    /// The row length (`dims[0]`) is not a whole number of blocks of the tensor's type.
    #[error(
        "at offset {offset}: tensor {name:?}: row length {row} is not a multiple of the {ty} block size {block_size}"
    )]
    PartialBlock {
        offset: u64,
        name: String,
        ty: GgmlType,
        row: u64,
        block_size: usize,
    },

    /// A tensor's bytes do not lie inside the data section.
    #[error(
        "at offset {offset}: tensor {name:?}: data bytes {start}..{end} (relative to the data section at offset {data_offset}) are outside the {data_len}-byte data section"
    )]
    TensorOutOfBounds {
        offset: u64,
        name: String,
        start: u64,
        end: u64,
        data_offset: u64,
        data_len: u64,
    },

    /// A tensor's data offset is not a multiple of the file's alignment.
    #[error(
        "at offset {offset}: tensor {name:?}: data offset {start} is not a multiple of the alignment {alignment}"
    )]
    MisalignedTensor {
        offset: u64,
        name: String,
        start: u64,
        alignment: u64,
    },

    /// Two tensors share bytes of the data section.
    #[error(
        "at offset {offset}: tensor {name:?}: data bytes {start}..{end} overlap tensor {other:?} at {other_start}..{other_end} (offsets relative to the data section)"
    )]
    OverlappingTensors {
        offset: u64,
        name: String,
        start: u64,
        end: u64,
        other: String,
        other_start: u64,
        other_end: u64,
    },

    /// `general.alignment` is zero, not a power of two, or not a `u32`-sized integer.
    #[error(
        "at offset {offset}: metadata key \"general.alignment\": alignment {value} is not a power of two that fits u32"
    )]
    InvalidAlignment { offset: u64, value: i128 },

    /// A typed getter asked for a key the file does not have.
    #[error("metadata key {key:?} is missing")]
    MissingKey { key: String },

    /// A typed getter found a value of another type.
    #[error("at offset {offset}: metadata key {key:?}: expected {expected}, found {found}")]
    WrongType {
        offset: u64,
        key: String,
        expected: &'static str,
        found: ValueType,
    },

    /// A typed getter found an integer that does not fit the requested type.
    #[error("at offset {offset}: metadata key {key:?}: value {value} does not fit {expected}")]
    OutOfRange {
        offset: u64,
        key: String,
        value: i128,
        expected: &'static str,
    },

    /// The writer was given something it cannot encode as a GGUF file llama.cpp accepts.
    #[error("writing GGUF: {context}: {problem}")]
    InvalidInput { context: Context, problem: String },
}

/// `name` cut to [`MAX_NAME_IN_ERROR`] bytes (at a char boundary) for an error message.
pub(crate) fn clip(name: &str) -> String {
    if name.len() <= MAX_NAME_IN_ERROR {
        return String::from(name);
    }
    let mut end = MAX_NAME_IN_ERROR;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let mut s = String::from(&name[..end]);
    s.push('…');
    s
}
