//! Tensor-table entries: [`TensorInfo`] and the checks on one entry.
//!
//! An entry is `name: string, n_dims: u32, dims: [u64; n_dims], type: u32, offset: u64`, with
//! `dims[0]` the contiguous row length (ggml `ne[0]`) and `offset` relative to the data
//! section. Sizes are computed with checked arithmetic: the element count must fit `i64`
//! (ggml's `int64_t ne`) and the byte size `usize`.

use core::ops::Range;

use edgellm_kernels::GgmlType;

use super::cursor::{Cursor, Loc};
use super::error::{GgufError, Limit, Shape, clip};
use super::limits::{MAX_DIMS, MAX_TENSOR_NAME_LEN};

/// One tensor of the file: name, shape, ggml type and where its bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo<'a> {
    pub name: &'a str,
    pub ty: GgmlType,
    /// Start of the tensor's bytes relative to the data section ([`super::Gguf::data_offset`]).
    pub offset: u64,
    dims: [u64; MAX_DIMS],
    n_dims: u8,
    n_elements: u64,
    n_bytes: usize,
    /// Absolute offset of the data section, so the range can be given in file offsets.
    data_offset: usize,
    /// Absolute offset of this entry in the tensor table (for error messages).
    info_offset: u64,
}

impl<'a> TensorInfo<'a> {
    /// Shape in ggml order: `dims()[0]` is the contiguous row length, `dims()[1]` the number
    /// of rows of a matrix. At most [`MAX_DIMS`] entries; empty for a scalar.
    pub fn dims(&self) -> &[u64] {
        &self.dims[..usize::from(self.n_dims).min(MAX_DIMS)]
    }

    /// Number of dimensions as stored (0..=4).
    pub fn n_dims(&self) -> usize {
        usize::from(self.n_dims)
    }

    /// Product of the dimensions (1 for a scalar).
    pub fn n_elements(&self) -> u64 {
        self.n_elements
    }

    /// Size of the tensor's data in bytes (ggml `ggml_nbytes`).
    pub fn n_bytes(&self) -> usize {
        self.n_bytes
    }

    /// Absolute byte range of the tensor's data in the file. Checked at parse time to lie
    /// inside the data section, to be aligned and not to overlap any other tensor.
    pub fn byte_range(&self) -> Range<usize> {
        let start = (self.data_offset as u64).saturating_add(self.offset);
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        start..start.saturating_add(self.n_bytes)
    }

    /// Absolute offset of this entry in the tensor table.
    pub fn info_offset(&self) -> u64 {
        self.info_offset
    }

    /// End of the data relative to the data section (offset + size), checked at parse time.
    pub(crate) fn rel_end(&self) -> Option<u64> {
        self.offset.checked_add(self.n_bytes as u64)
    }

    pub(crate) fn set_data_offset(&mut self, data_offset: usize) {
        self.data_offset = data_offset;
    }
}

/// Read and check the `index`-th tensor-table entry (everything but its place in the data
/// section, which needs the whole table).
pub(crate) fn read_tensor_info<'a>(
    cur: &mut Cursor<'a>,
    index: u64,
) -> Result<TensorInfo<'a>, GgufError> {
    let info_offset = cur.offset();
    let name = cur.string(Loc::TensorIndex(index), "tensor name", MAX_TENSOR_NAME_LEN)?;
    let loc = Loc::Tensor(name);

    let dims_at = cur.offset();
    let n_dims = cur.u32(loc, "number of dimensions")?;
    if n_dims as usize > MAX_DIMS {
        return Err(GgufError::LimitExceeded {
            offset: dims_at,
            context: loc.context(),
            what: "number of dimensions",
            value: n_dims.into(),
            limit: Limit::Count(MAX_DIMS as u64),
        });
    }
    let mut dims = [1u64; MAX_DIMS];
    for d in dims.iter_mut().take(n_dims as usize) {
        *d = cur.u64(loc, "dimension")?;
    }
    let type_at = cur.offset();
    let type_id = cur.u32(loc, "ggml type id")?;
    let ty = GgmlType::from_id(type_id).ok_or_else(|| GgufError::UnknownGgmlType {
        offset: type_at,
        name: clip(name),
        id: type_id,
    })?;
    let offset = cur.u64(loc, "data offset")?;

    let shape = &dims[..n_dims as usize];
    let overflow = |what| GgufError::ShapeOverflow {
        offset: dims_at,
        name: clip(name),
        what,
        shape: Shape(shape.to_vec()),
    };
    let n_elements = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= i64::MAX as u64)
        .ok_or_else(|| overflow("element count"))?;
    let block_size = ty.block_size() as u64;
    let row = shape.first().copied().unwrap_or(1);
    if row % block_size != 0 {
        return Err(GgufError::PartialBlock {
            offset: dims_at,
            name: clip(name),
            ty,
            row,
            block_size: ty.block_size(),
        });
    }
    // row is a block multiple, so n_elements is too.
    let n_bytes = (n_elements / block_size)
        .checked_mul(ty.type_size() as u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| overflow("byte size"))?;

    Ok(TensorInfo {
        name,
        ty,
        offset,
        dims,
        n_dims: n_dims as u8,
        n_elements,
        n_bytes,
        data_offset: 0,
        info_offset,
    })
}
