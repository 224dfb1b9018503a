//! Metadata values borrowed from the file: [`ValueType`], [`Value`] and the lazy [`Array`].
//!
//! Arrays are validated once at parse time (lengths, bool bytes, UTF-8, nesting) and then kept
//! as a slice of the file, so a 49 152-entry vocabulary costs one pass and no allocation.

use core::fmt;

use super::cursor::{Cursor, Loc};
use super::error::{GgufError, Limit};
use super::limits::{MAX_ARRAY_DEPTH, MAX_ARRAY_LEN, MAX_STRING_LEN};

/// GGUF metadata value type ids (`enum gguf_type` in ggml, `GGUFValueType` in Python).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ValueType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl ValueType {
    /// The type with this id, or `None` outside 0..=12.
    pub const fn from_id(id: u32) -> Option<ValueType> {
        use ValueType::*;
        Some(match id {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    pub const fn id(self) -> u32 {
        self as u32
    }

    /// Encoded size of one value, or `None` for the variable-size `String` and `Array`.
    pub const fn fixed_size(self) -> Option<usize> {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => Some(1),
            U16 | I16 => Some(2),
            U32 | I32 | F32 => Some(4),
            U64 | I64 | F64 => Some(8),
            String | Array => None,
        }
    }

    /// Smallest encoded size of one value: a string is at least its `u64` length, an array
    /// its `u32` type and `u64` count.
    pub const fn min_size(self) -> u64 {
        match self.fixed_size() {
            Some(n) => n as u64,
            None if matches!(self, ValueType::String) => 8,
            None => 12,
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ValueType::*;
        f.write_str(match self {
            U8 => "u8",
            I8 => "i8",
            U16 => "u16",
            I16 => "i16",
            U32 => "u32",
            I32 => "i32",
            F32 => "f32",
            Bool => "bool",
            String => "string",
            Array => "array",
            U64 => "u64",
            I64 => "i64",
            F64 => "f64",
        })
    }
}

/// One metadata value, borrowing strings and arrays from the file.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Value<'a> {
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
    String(&'a str),
    Array(Array<'a>),
}

impl<'a> Value<'a> {
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F32(_) => ValueType::F32,
            Value::F64(_) => ValueType::F64,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
        }
    }

    /// Any integer value, widened; `None` for floats, bools, strings and arrays.
    pub fn as_i128(&self) -> Option<i128> {
        Some(match *self {
            Value::U8(v) => v.into(),
            Value::I8(v) => v.into(),
            Value::U16(v) => v.into(),
            Value::I16(v) => v.into(),
            Value::U32(v) => v.into(),
            Value::I32(v) => v.into(),
            Value::U64(v) => v.into(),
            Value::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// Any integer value that fits `u32`.
    pub fn as_u32(&self) -> Option<u32> {
        self.as_i128().and_then(|v| u32::try_from(v).ok())
    }

    /// Any integer value that fits `u64` (not negative).
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i128().and_then(|v| u64::try_from(v).ok())
    }

    /// Any integer value that fits `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_i128().and_then(|v| i64::try_from(v).ok())
    }

    /// An `f32`, or an `f64` rounded to `f32`.
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            Value::F32(v) => Some(v),
            Value::F64(v) => Some(v as f32),
            _ => None,
        }
    }

    /// An `f64`, or an `f32` widened.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            Value::String(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<Array<'a>> {
        match *self {
            Value::Array(v) => Some(v),
            _ => None,
        }
    }
}

/// A metadata array: element type, length and the encoded elements, borrowed from the file.
///
/// Every element was validated when the file was parsed, so iteration cannot fail. Elements
/// of fixed size are indexed in O(1); strings and nested arrays are walked.
#[derive(Copy, Clone, PartialEq)]
pub struct Array<'a> {
    elem_type: ValueType,
    len: usize,
    /// Exactly the encoded elements (without the array's own type and count).
    bytes: &'a [u8],
}

impl fmt::Debug for Array<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Array<{}>[{}; {} bytes]",
            self.elem_type,
            self.len,
            self.bytes.len()
        )
    }
}

impl<'a> Array<'a> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn elem_type(&self) -> ValueType {
        self.elem_type
    }

    /// The encoded elements as stored in the file (little-endian; strings with their `u64`
    /// length prefixes).
    pub fn raw_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn iter(&self) -> ArrayIter<'a> {
        ArrayIter {
            elem_type: self.elem_type,
            left: self.len,
            bytes: self.bytes,
        }
    }

    /// Element `i`: O(1) for fixed-size elements, O(i) for strings and arrays.
    pub fn get(&self, i: usize) -> Option<Value<'a>> {
        if i >= self.len {
            return None;
        }
        match self.elem_type.fixed_size() {
            Some(size) => {
                let start = i.checked_mul(size)?;
                let b = self.bytes.get(start..start.checked_add(size)?)?;
                decode_element(self.elem_type, &mut &b[..])
            }
            None => self.iter().nth(i),
        }
    }

    /// The elements as strings, if this is an array of strings.
    pub fn strings(&self) -> Option<impl Iterator<Item = &'a str> + 'a> {
        (self.elem_type == ValueType::String).then(|| self.iter().filter_map(|v| v.as_str()))
    }

    /// The elements as `f32`, if this is an array of `f32`.
    pub fn f32s(&self) -> Option<impl Iterator<Item = f32> + 'a> {
        (self.elem_type == ValueType::F32).then(|| {
            self.bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        })
    }

    /// The elements as `i32`, if this is an array of `i32`.
    pub fn i32s(&self) -> Option<impl Iterator<Item = i32> + 'a> {
        (self.elem_type == ValueType::I32).then(|| {
            self.bytes
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        })
    }

    /// The elements as `u32`, if this is an array of `u32`.
    pub fn u32s(&self) -> Option<impl Iterator<Item = u32> + 'a> {
        (self.elem_type == ValueType::U32).then(|| {
            self.bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        })
    }
}

impl<'a> IntoIterator for Array<'a> {
    type Item = Value<'a>;
    type IntoIter = ArrayIter<'a>;
    fn into_iter(self) -> ArrayIter<'a> {
        self.iter()
    }
}

/// Iterator over the elements of an [`Array`].
#[derive(Clone, Debug)]
pub struct ArrayIter<'a> {
    elem_type: ValueType,
    left: usize,
    bytes: &'a [u8],
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let v = decode_element(self.elem_type, &mut self.bytes);
        if v.is_none() {
            // Unreachable for arrays built by the parser (elements were validated); stop
            // rather than panic if that invariant were ever broken.
            self.left = 0;
        }
        v
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// Split `n` bytes off the front of `b`.
fn split<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if n > b.len() {
        return None;
    }
    let (head, tail) = b.split_at(n);
    *b = tail;
    Some(head)
}

fn split_array<const N: usize>(b: &mut &[u8]) -> Option<[u8; N]> {
    let head = split(b, N)?;
    let mut out = [0u8; N];
    out.copy_from_slice(head);
    Some(out)
}

/// Decode one already-validated element from the front of `b`, advancing it.
fn decode_element<'a>(ty: ValueType, b: &mut &'a [u8]) -> Option<Value<'a>> {
    Some(match ty {
        ValueType::U8 => Value::U8(u8::from_le_bytes(split_array(b)?)),
        ValueType::I8 => Value::I8(i8::from_le_bytes(split_array(b)?)),
        ValueType::U16 => Value::U16(u16::from_le_bytes(split_array(b)?)),
        ValueType::I16 => Value::I16(i16::from_le_bytes(split_array(b)?)),
        ValueType::U32 => Value::U32(u32::from_le_bytes(split_array(b)?)),
        ValueType::I32 => Value::I32(i32::from_le_bytes(split_array(b)?)),
        ValueType::U64 => Value::U64(u64::from_le_bytes(split_array(b)?)),
        ValueType::I64 => Value::I64(i64::from_le_bytes(split_array(b)?)),
        ValueType::F32 => Value::F32(f32::from_le_bytes(split_array(b)?)),
        ValueType::F64 => Value::F64(f64::from_le_bytes(split_array(b)?)),
        ValueType::Bool => Value::Bool(split_array::<1>(b)?[0] != 0),
        ValueType::String => {
            let len = usize::try_from(u64::from_le_bytes(split_array(b)?)).ok()?;
            Value::String(core::str::from_utf8(split(b, len)?).ok()?)
        }
        ValueType::Array => {
            let elem_type = ValueType::from_id(u32::from_le_bytes(split_array(b)?))?;
            let len = usize::try_from(u64::from_le_bytes(split_array(b)?)).ok()?;
            let start = *b;
            // Walk the elements to find where this array ends.
            let mut probe = ArrayIter {
                elem_type,
                left: len,
                bytes: start,
            };
            for _ in 0..len {
                decode_element(elem_type, &mut probe.bytes)?;
            }
            let used = start.len() - probe.bytes.len();
            *b = probe.bytes;
            Value::Array(Array {
                elem_type,
                len,
                bytes: &start[..used],
            })
        }
    })
}

/// Read a value type id.
pub(crate) fn read_type(
    cur: &mut Cursor<'_>,
    loc: Loc<'_>,
    what: &'static str,
) -> Result<ValueType, GgufError> {
    let at = cur.offset();
    let id = cur.u32(loc, what)?;
    ValueType::from_id(id).ok_or(GgufError::UnknownValueType {
        offset: at,
        context: loc.context(),
        id,
    })
}

/// Read and validate one value of type `ty`. `depth` is the number of arrays around it.
pub(crate) fn read_value<'a>(
    cur: &mut Cursor<'a>,
    ty: ValueType,
    loc: Loc<'_>,
    depth: usize,
) -> Result<Value<'a>, GgufError> {
    let at = cur.offset();
    if let Some(size) = ty.fixed_size() {
        let mut b = cur.take(size as u64, loc, "value")?;
        if ty == ValueType::Bool && b[0] > 1 {
            return Err(GgufError::InvalidBool {
                offset: at,
                context: loc.context(),
                byte: b[0],
            });
        }
        return decode_element(ty, &mut b).ok_or_else(|| cur.truncated(loc, "value", size as u64));
    }
    match ty {
        ValueType::String => Ok(Value::String(cur.string(
            loc,
            "string value",
            MAX_STRING_LEN,
        )?)),
        _ => read_array(cur, loc, depth + 1).map(Value::Array),
    }
}

/// Read and validate an array (type, count, elements) at nesting `depth` (1 = top level).
fn read_array<'a>(
    cur: &mut Cursor<'a>,
    loc: Loc<'_>,
    depth: usize,
) -> Result<Array<'a>, GgufError> {
    let at = cur.offset();
    if depth > MAX_ARRAY_DEPTH {
        return Err(GgufError::LimitExceeded {
            offset: at,
            context: loc.context(),
            what: "array nesting depth",
            value: depth as u64,
            limit: Limit::Count(MAX_ARRAY_DEPTH as u64),
        });
    }
    let elem_type = read_type(cur, loc, "array element type")?;
    let count_at = cur.offset();
    let count = cur.u64(loc, "array length")?;
    if count > MAX_ARRAY_LEN {
        return Err(GgufError::LimitExceeded {
            offset: count_at,
            context: loc.context(),
            what: "array length",
            value: count,
            limit: Limit::Count(MAX_ARRAY_LEN),
        });
    }
    cur.ensure_room(loc, "array elements", count, elem_type.min_size())?;
    // count <= MAX_ARRAY_LEN < 2^32 and fits in the file, so it fits usize.
    let len = count as usize;
    let start = cur.pos();
    match elem_type.fixed_size() {
        Some(size) => {
            let b = cur.take(count * size as u64, loc, "array elements")?;
            let bad_bool = (elem_type == ValueType::Bool)
                .then(|| b.iter().position(|&x| x > 1))
                .flatten();
            if let Some(i) = bad_bool {
                return Err(GgufError::InvalidBool {
                    offset: (start + i) as u64,
                    context: loc.context(),
                    byte: b[i],
                });
            }
        }
        None => {
            for _ in 0..count {
                read_value(cur, elem_type, loc, depth)?;
            }
        }
    }
    let bytes = cur.slice_from(start);
    Ok(Array {
        elem_type,
        len,
        bytes,
    })
}
