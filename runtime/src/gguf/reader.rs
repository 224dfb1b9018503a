//! [`Gguf`]: the parsed header, metadata and tensor table of a GGUF v2/v3 file, borrowing the
//! file bytes.
//!
//! Layout (little-endian):
//! ```text
//! magic "GGUF" | version: u32 | n_tensors: u64 | n_kv: u64
//! n_kv x   { key: string, type: u32, value }
//! n_tensors x { name: string, n_dims: u32, dims: [u64; n_dims], type: u32, offset: u64 }
//! padding to `general.alignment` (default 32) | data section (tensor bytes at their offsets)
//! ```
//! `string` is a `u64` byte length then UTF-8 bytes; an array value is `type: u32, count:
//! u64` then the elements.

use alloc::vec::Vec;
use core::fmt;

use super::cursor::{Cursor, Loc};
use super::error::{GgufError, Limit, clip};
use super::limits::{MAX_KEY_LEN, MAX_KV_COUNT, MAX_TENSOR_COUNT};
use super::tensor::{TensorInfo, read_tensor_info};
use super::value::{Array, Value, read_type, read_value};

/// The 4 magic bytes at offset 0.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Tensor data alignment when `general.alignment` is absent.
pub const GGUF_DEFAULT_ALIGNMENT: usize = 32;
/// The metadata key that overrides the alignment.
pub const ALIGNMENT_KEY: &str = "general.alignment";

/// Smallest encoded metadata entry: empty key (8), type (4), one-byte value.
const MIN_KV_SIZE: u64 = 8 + 4 + 1;
/// Smallest encoded tensor entry: empty name (8), n_dims (4), type (4), offset (8).
const MIN_TENSOR_INFO_SIZE: u64 = 8 + 4 + 4 + 8;

/// Where each metadata entry is in the file, for messages.
#[derive(Clone, Copy, Debug)]
struct EntryOffsets {
    key: u64,
    value: u64,
}

/// A parsed GGUF file borrowing its bytes. Building it validates everything: afterwards no
/// accessor can fail except the typed getters (missing key, wrong type).
pub struct Gguf<'a> {
    bytes: &'a [u8],
    version: u32,
    alignment: usize,
    data_offset: usize,
    metadata: Vec<(&'a str, Value<'a>)>,
    offsets: Vec<EntryOffsets>,
    /// Indices into `metadata`, sorted by key.
    key_order: Vec<u32>,
    tensors: Vec<TensorInfo<'a>>,
    /// Indices into `tensors`, sorted by name.
    tensor_order: Vec<u32>,
    parameter_count: u64,
}

impl fmt::Debug for Gguf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gguf")
            .field("file_len", &self.bytes.len())
            .field("version", &self.version)
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .field("n_kv", &self.metadata.len())
            .field("n_tensors", &self.tensors.len())
            .finish()
    }
}

impl<'a> Gguf<'a> {
    /// Parse and validate a whole GGUF v2/v3 file. See [`super::limits`] for the caps.
    pub fn parse(bytes: &'a [u8]) -> Result<Gguf<'a>, GgufError> {
        let mut cur = Cursor::new(bytes);
        let magic: [u8; 4] = cur.array(Loc::Header, "magic")?;
        if magic != GGUF_MAGIC {
            return Err(GgufError::BadMagic { found: magic });
        }
        let version = cur.u32(Loc::Header, "version")?;
        if version != 2 && version != 3 {
            return Err(GgufError::UnsupportedVersion { version });
        }
        let n_tensors = read_count(&mut cur, "tensor count", MAX_TENSOR_COUNT)?;
        let n_kv = read_count(&mut cur, "metadata key-value count", MAX_KV_COUNT)?;

        // Metadata.
        cur.ensure_room(Loc::Header, "metadata entries", n_kv, MIN_KV_SIZE)?;
        let n_kv = n_kv as usize; // <= MAX_KV_COUNT
        let mut metadata = Vec::with_capacity(n_kv);
        let mut offsets = Vec::with_capacity(n_kv);
        for i in 0..n_kv {
            let key_at = cur.offset();
            let key = cur.string(Loc::KeyIndex(i as u64), "key", MAX_KEY_LEN)?;
            let ty = read_type(&mut cur, Loc::Key(key), "value type")?;
            let value_at = cur.offset();
            let value = read_value(&mut cur, ty, Loc::Key(key), 0)?;
            metadata.push((key, value));
            offsets.push(EntryOffsets {
                key: key_at,
                value: value_at,
            });
        }
        let key_order = sorted_order(&metadata, |e| e.0);
        if let Some((a, b)) = first_duplicate(&key_order, |i| metadata[i].0) {
            let (first, second) = (
                offsets[a].key.min(offsets[b].key),
                offsets[a].key.max(offsets[b].key),
            );
            return Err(GgufError::DuplicateKey {
                offset: second,
                key: clip(metadata[a].0),
                first,
            });
        }

        let mut gguf = Gguf {
            bytes,
            version,
            alignment: GGUF_DEFAULT_ALIGNMENT,
            data_offset: 0,
            metadata,
            offsets,
            key_order,
            tensors: Vec::new(),
            tensor_order: Vec::new(),
            parameter_count: 0,
        };
        gguf.alignment = gguf.read_alignment()?;

        // Tensor table.
        cur.ensure_room(Loc::Header, "tensor table", n_tensors, MIN_TENSOR_INFO_SIZE)?;
        let mut tensors = Vec::with_capacity(n_tensors as usize); // <= MAX_TENSOR_COUNT
        for i in 0..n_tensors {
            tensors.push(read_tensor_info(&mut cur, i)?);
        }
        let tensor_order = sorted_order(&tensors, |t| t.name);
        if let Some((a, b)) = first_duplicate(&tensor_order, |i| tensors[i].name) {
            let (ta, tb) = (&tensors[a], &tensors[b]);
            return Err(GgufError::DuplicateTensor {
                offset: ta.info_offset().max(tb.info_offset()),
                name: clip(ta.name),
                first: ta.info_offset().min(tb.info_offset()),
            });
        }

        // Data section: starts at the end of the table rounded up to the alignment.
        let table_end = cur.pos();
        let pad = (gguf.alignment - table_end % gguf.alignment) % gguf.alignment;
        let data_offset = table_end.saturating_add(pad);
        for t in &mut tensors {
            t.set_data_offset(data_offset);
        }
        check_placement(&tensors, data_offset, bytes.len(), gguf.alignment)?;

        gguf.parameter_count = tensors
            .iter()
            .fold(0u64, |acc, t| acc.saturating_add(t.n_elements()));
        gguf.data_offset = data_offset;
        gguf.tensors = tensors;
        gguf.tensor_order = tensor_order;
        Ok(gguf)
    }

    /// `general.alignment` if present (an integer power of two that fits u32), else 32.
    fn read_alignment(&self) -> Result<usize, GgufError> {
        let Some(i) = self.index_of(ALIGNMENT_KEY) else {
            return Ok(GGUF_DEFAULT_ALIGNMENT);
        };
        let (_, v) = &self.metadata[i];
        let offset = self.offsets[i].value;
        let n = v.as_i128().ok_or_else(|| GgufError::WrongType {
            offset,
            key: ALIGNMENT_KEY.into(),
            expected: "an unsigned integer",
            found: v.value_type(),
        })?;
        match u32::try_from(n) {
            Ok(a) if a.is_power_of_two() => Ok(a as usize),
            _ => Err(GgufError::InvalidAlignment { offset, value: n }),
        }
    }

    /// GGUF version: 2 or 3.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Tensor data alignment in bytes (`general.alignment`, default 32).
    pub fn alignment(&self) -> usize {
        self.alignment
    }

    /// Absolute offset of the data section (end of the tensor table, aligned). Exceeds the
    /// file length only for a file without tensors.
    pub fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Metadata entries in file order.
    pub fn metadata(&self) -> &[(&'a str, Value<'a>)] {
        &self.metadata
    }

    fn index_of(&self, key: &str) -> Option<usize> {
        self.key_order
            .binary_search_by(|&i| self.metadata[i as usize].0.cmp(key))
            .ok()
            .map(|j| self.key_order[j] as usize)
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.index_of(key).map(|i| &self.metadata[i].1)
    }

    /// Absolute offset of the value of `key` (after its key and type), if present.
    pub fn value_offset(&self, key: &str) -> Option<u64> {
        self.index_of(key).map(|i| self.offsets[i].value)
    }

    fn require(&self, key: &str) -> Result<(Value<'a>, u64), GgufError> {
        let i = self
            .index_of(key)
            .ok_or_else(|| GgufError::MissingKey { key: clip(key) })?;
        Ok((self.metadata[i].1, self.offsets[i].value))
    }

    fn int(&self, key: &str, expected: &'static str) -> Result<(i128, u64), GgufError> {
        let (v, offset) = self.require(key)?;
        let n = v.as_i128().ok_or_else(|| GgufError::WrongType {
            offset,
            key: clip(key),
            expected,
            found: v.value_type(),
        })?;
        Ok((n, offset))
    }

    /// An integer value of any width that fits `u32`.
    pub fn u32(&self, key: &str) -> Result<u32, GgufError> {
        let (n, offset) = self.int(key, "an integer")?;
        u32::try_from(n).map_err(|_| GgufError::OutOfRange {
            offset,
            key: clip(key),
            value: n,
            expected: "u32",
        })
    }

    /// An integer value of any width that fits `u64`.
    pub fn u64(&self, key: &str) -> Result<u64, GgufError> {
        let (n, offset) = self.int(key, "an integer")?;
        u64::try_from(n).map_err(|_| GgufError::OutOfRange {
            offset,
            key: clip(key),
            value: n,
            expected: "u64",
        })
    }

    /// An integer value of any width that fits `i64`.
    pub fn i64(&self, key: &str) -> Result<i64, GgufError> {
        let (n, offset) = self.int(key, "an integer")?;
        i64::try_from(n).map_err(|_| GgufError::OutOfRange {
            offset,
            key: clip(key),
            value: n,
            expected: "i64",
        })
    }

    fn typed<T>(
        &self,
        key: &str,
        expected: &'static str,
        f: impl FnOnce(&Value<'a>) -> Option<T>,
    ) -> Result<T, GgufError> {
        let (v, offset) = self.require(key)?;
        f(&v).ok_or_else(|| GgufError::WrongType {
            offset,
            key: clip(key),
            expected,
            found: v.value_type(),
        })
    }

    /// An `f32` value, or an `f64` rounded to `f32`.
    pub fn f32(&self, key: &str) -> Result<f32, GgufError> {
        self.typed(key, "f32 or f64", Value::as_f32)
    }

    pub fn bool(&self, key: &str) -> Result<bool, GgufError> {
        self.typed(key, "bool", Value::as_bool)
    }

    pub fn str(&self, key: &str) -> Result<&'a str, GgufError> {
        self.typed(key, "string", Value::as_str)
    }

    pub fn array(&self, key: &str) -> Result<Array<'a>, GgufError> {
        self.typed(key, "array", Value::as_array)
    }

    /// Tensor-table entries in file order.
    pub fn tensors(&self) -> &[TensorInfo<'a>] {
        &self.tensors
    }

    /// The tensor called `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo<'a>> {
        self.tensor_order
            .binary_search_by(|&i| self.tensors[i as usize].name.cmp(name))
            .ok()
            .map(|j| &self.tensors[self.tensor_order[j] as usize])
    }

    /// The bytes of tensor `t` (empty if `t` does not describe bytes of this file).
    pub fn tensor_data(&self, t: &TensorInfo<'a>) -> &'a [u8] {
        self.bytes.get(t.byte_range()).unwrap_or(&[])
    }

    /// The data section (from [`Gguf::data_offset`] to the end of the file).
    pub fn data(&self) -> &'a [u8] {
        self.bytes.get(self.data_offset..).unwrap_or(&[])
    }

    /// Sum of the element counts of all tensors.
    pub fn parameter_count(&self) -> u64 {
        self.parameter_count
    }
}

/// Read a `u64` count from the header and check it against `cap`.
fn read_count(cur: &mut Cursor<'_>, what: &'static str, cap: u64) -> Result<u64, GgufError> {
    let at = cur.offset();
    let n = cur.u64(Loc::Header, what)?;
    if n > cap {
        return Err(GgufError::LimitExceeded {
            offset: at,
            context: Loc::Header.context(),
            what,
            value: n,
            limit: Limit::Count(cap),
        });
    }
    Ok(n)
}

/// Indices `0..items.len()` sorted by `key` (stable, so equal keys keep file order).
fn sorted_order<T>(items: &[T], key: impl Fn(&T) -> &str) -> Vec<u32> {
    let mut order: Vec<u32> = (0..items.len() as u32).collect();
    order.sort_by(|&a, &b| key(&items[a as usize]).cmp(key(&items[b as usize])));
    order
}

/// The first pair of indices (in sorted order) with equal keys.
fn first_duplicate<'k>(order: &[u32], key: impl Fn(usize) -> &'k str) -> Option<(usize, usize)> {
    order
        .windows(2)
        .map(|w| (w[0] as usize, w[1] as usize))
        .find(|&(a, b)| key(a) == key(b))
}

/// Every tensor must be aligned, lie inside the data section and not overlap another.
fn check_placement(
    tensors: &[TensorInfo<'_>],
    data_offset: usize,
    file_len: usize,
    alignment: usize,
) -> Result<(), GgufError> {
    let data_len = file_len.saturating_sub(data_offset) as u64;
    // Even empty tensors need the data section to start inside the file, so that every
    // `byte_range` lies inside the file.
    let missing_data = data_offset > file_len;
    for t in tensors {
        if t.offset % alignment as u64 != 0 {
            return Err(GgufError::MisalignedTensor {
                offset: t.info_offset(),
                name: clip(t.name),
                start: t.offset,
                alignment: alignment as u64,
            });
        }
        match t.rel_end() {
            Some(end) if end <= data_len && !missing_data => {}
            end => {
                return Err(GgufError::TensorOutOfBounds {
                    offset: t.info_offset(),
                    name: clip(t.name),
                    start: t.offset,
                    end: end.unwrap_or(u64::MAX),
                    data_offset: data_offset as u64,
                    data_len,
                });
            }
        }
    }
    // Overlap: sort the non-empty tensors by start; each must end before the next starts.
    let mut order: Vec<u32> = (0..tensors.len() as u32)
        .filter(|&i| tensors[i as usize].n_bytes() > 0)
        .collect();
    order.sort_by_key(|&i| tensors[i as usize].offset);
    for w in order.windows(2) {
        let (a, b) = (&tensors[w[0] as usize], &tensors[w[1] as usize]);
        // Both ends were checked above to fit the data section.
        let a_end = a.offset + a.n_bytes() as u64;
        if a_end > b.offset {
            return Err(GgufError::OverlappingTensors {
                offset: b.info_offset(),
                name: clip(b.name),
                start: b.offset,
                end: b.offset + b.n_bytes() as u64,
                other: clip(a.name),
                other_start: a.offset,
                other_end: a_end,
            });
        }
    }
    Ok(())
}
