//! [`MetadataValue`]: owned metadata values for the writer, one variant per GGUF type.

use alloc::string::String;
use alloc::vec::Vec;

use super::limits::{MAX_ARRAY_DEPTH, MAX_ARRAY_LEN, MAX_STRING_LEN};
use super::value::{Value, ValueType};

/// An owned metadata value. `Array(elem_type, items)`: every item must have type `elem_type`
/// (checked by the writer), which also types an empty array.
#[derive(Clone, Debug, PartialEq)]
pub enum MetadataValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(ValueType, Vec<MetadataValue>),
}

impl MetadataValue {
    pub fn value_type(&self) -> ValueType {
        use MetadataValue as M;
        match self {
            M::U8(_) => ValueType::U8,
            M::I8(_) => ValueType::I8,
            M::U16(_) => ValueType::U16,
            M::I16(_) => ValueType::I16,
            M::U32(_) => ValueType::U32,
            M::I32(_) => ValueType::I32,
            M::U64(_) => ValueType::U64,
            M::I64(_) => ValueType::I64,
            M::F32(_) => ValueType::F32,
            M::F64(_) => ValueType::F64,
            M::Bool(_) => ValueType::Bool,
            M::String(_) => ValueType::String,
            M::Array(..) => ValueType::Array,
        }
    }

    /// An array of strings (e.g. `tokenizer.ggml.tokens`).
    pub fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Self {
        MetadataValue::Array(
            ValueType::String,
            items
                .into_iter()
                .map(|s| MetadataValue::String(s.into()))
                .collect(),
        )
    }

    /// An array of `f32` (e.g. `tokenizer.ggml.scores`).
    pub fn f32s(items: impl IntoIterator<Item = f32>) -> Self {
        MetadataValue::Array(
            ValueType::F32,
            items.into_iter().map(MetadataValue::F32).collect(),
        )
    }

    /// An array of `i32` (e.g. `tokenizer.ggml.token_type`).
    pub fn i32s(items: impl IntoIterator<Item = i32>) -> Self {
        MetadataValue::Array(
            ValueType::I32,
            items.into_iter().map(MetadataValue::I32).collect(),
        )
    }

    /// An array of `u32`.
    pub fn u32s(items: impl IntoIterator<Item = u32>) -> Self {
        MetadataValue::Array(
            ValueType::U32,
            items.into_iter().map(MetadataValue::U32).collect(),
        )
    }

    /// A deep copy of a value read from a file (to carry metadata into a new file).
    pub fn from_value(v: &Value<'_>) -> Self {
        use MetadataValue as M;
        match *v {
            Value::U8(x) => M::U8(x),
            Value::I8(x) => M::I8(x),
            Value::U16(x) => M::U16(x),
            Value::I16(x) => M::I16(x),
            Value::U32(x) => M::U32(x),
            Value::I32(x) => M::I32(x),
            Value::U64(x) => M::U64(x),
            Value::I64(x) => M::I64(x),
            Value::F32(x) => M::F32(x),
            Value::F64(x) => M::F64(x),
            Value::Bool(x) => M::Bool(x),
            Value::String(s) => M::String(s.into()),
            Value::Array(a) => {
                M::Array(a.elem_type(), a.iter().map(|e| M::from_value(&e)).collect())
            }
        }
    }

    /// Why this value cannot be written, if it cannot: element type mismatch, a length above
    /// a cap, or nesting deeper than [`MAX_ARRAY_DEPTH`] (`depth` arrays already around it).
    pub(crate) fn problem(&self, depth: usize) -> Option<String> {
        use alloc::format;
        match self {
            MetadataValue::String(s) if s.len() as u64 > MAX_STRING_LEN => Some(format!(
                "string length {} exceeds the cap {MAX_STRING_LEN}",
                s.len()
            )),
            MetadataValue::Array(ty, items) => {
                if depth + 1 > MAX_ARRAY_DEPTH {
                    return Some(format!("arrays nested deeper than {MAX_ARRAY_DEPTH}"));
                }
                if items.len() as u64 > MAX_ARRAY_LEN {
                    return Some(format!(
                        "array length {} exceeds the cap {MAX_ARRAY_LEN}",
                        items.len()
                    ));
                }
                items.iter().enumerate().find_map(|(i, item)| {
                    if item.value_type() != *ty {
                        Some(format!(
                            "array of {ty} has a {} at index {i}",
                            item.value_type()
                        ))
                    } else {
                        item.problem(depth + 1)
                    }
                })
            }
            _ => None,
        }
    }

    /// Append the encoding of the value (without its type id) to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        use MetadataValue as M;
        match self {
            M::U8(x) => out.extend_from_slice(&x.to_le_bytes()),
            M::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
            M::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
            M::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
            M::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
            M::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
            M::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
            M::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
            M::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
            M::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
            M::Bool(x) => out.push(u8::from(*x)),
            M::String(s) => encode_str(s, out),
            M::Array(ty, items) => {
                out.extend_from_slice(&ty.id().to_le_bytes());
                out.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }
}

/// A GGUF string: `u64` length then the bytes.
pub(crate) fn encode_str(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

macro_rules! from_scalar {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for MetadataValue {
            fn from(x: $t) -> Self {
                MetadataValue::$v(x)
            }
        }
    )*};
}
from_scalar!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, u64 => U64,
    i64 => I64, f32 => F32, f64 => F64, bool => Bool, String => String);

impl From<&str> for MetadataValue {
    fn from(s: &str) -> Self {
        MetadataValue::String(s.into())
    }
}

impl From<&Value<'_>> for MetadataValue {
    fn from(v: &Value<'_>) -> Self {
        MetadataValue::from_value(v)
    }
}
