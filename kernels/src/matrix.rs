//! Weight matrices viewed in place, and the activations they are multiplied with.

use core::fmt;

use bytemuck::Pod;
use half::f16;

use crate::GgmlType;
use crate::blocks::{BlockQ8_0, BlockQ8_1, BlockQ8K};

/// Why bytes cannot be viewed as a weight matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatrixError {
    /// edgellm has no kernels for this weight type ([`GgmlType::has_kernels`]).
    NoKernels { ty: GgmlType },
    /// `cols` is not a multiple of the type's block size.
    ColsNotBlockMultiple {
        ty: GgmlType,
        cols: usize,
        block_size: usize,
    },
    /// `rows × row_bytes` does not fit in `usize`.
    TooLarge { rows: usize, cols: usize },
    /// `data.len()` differs from `rows × row_bytes`.
    DataLength { expected: usize, actual: usize },
    /// `data` does not start at the alignment the type's blocks need.
    Misaligned { ty: GgmlType, align: usize },
    /// The interleaved rows8 layout was asked for a type without it or a row count that is
    /// not a multiple of 8.
    NotInterleavable { ty: GgmlType, rows: usize },
}

impl fmt::Display for MatrixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MatrixError::NoKernels { ty } => write!(f, "no kernels for weight type {ty}"),
            MatrixError::ColsNotBlockMultiple {
                ty,
                cols,
                block_size,
            } => write!(
                f,
                "{cols} columns is not a multiple of the {ty} block size {block_size}"
            ),
            MatrixError::TooLarge { rows, cols } => {
                write!(f, "matrix of {rows} × {cols} is too large to address")
            }
            MatrixError::DataLength { expected, actual } => {
                write!(f, "matrix data is {actual} bytes, expected {expected}")
            }
            MatrixError::Misaligned { ty, align } => {
                write!(f, "{ty} matrix data is not {align}-byte aligned")
            }
            MatrixError::NotInterleavable { ty, rows } => write!(
                f,
                "a {ty} matrix of {rows} rows has no interleaved rows8 layout"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for MatrixError {}

/// Alignment the element/block struct of a type with kernels needs.
const fn type_align(ty: GgmlType) -> usize {
    use GgmlType::*;
    match ty {
        F32 => align_of::<f32>(),
        Q4_K | Q5_K | Q6_K | Q4_0 | Q4_1 | Q5_0 | Q8_0 | F16 | BF16 => align_of::<f16>(),
        _ => 1,
    }
}

/// How a matrix's blocks are arranged in its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Row after row, as GGUF stores a tensor of shape `[cols, rows]`.
    Ggml,
    /// Groups of 8 rows interleaved block by block ([`crate::rows8`]), made at load time.
    Rows8,
}

/// A weight matrix of `rows` output features × `cols` inputs, viewed in place. In the
/// [`Layout::Ggml`] layout row `r` is bytes `r*row_bytes .. (r+1)*row_bytes` of `data`, in
/// the ggml layout of `ty` (as a GGUF tensor of shape `[cols, rows]` stores it); in the
/// [`Layout::Rows8`] layout the same bytes hold groups of 8 rows interleaved.
#[derive(Clone, Copy, Debug)]
pub struct WeightMatrix<'a> {
    ty: GgmlType,
    rows: usize,
    cols: usize,
    row_bytes: usize,
    layout: Layout,
    data: &'a [u8],
}

impl<'a> WeightMatrix<'a> {
    /// View `data` as a `rows × cols` matrix of type `ty`, checking that `ty` has kernels,
    /// `cols` is a whole number of blocks, `data.len() == rows × row_bytes` and `data` is
    /// aligned for the type's blocks.
    pub fn new(
        ty: GgmlType,
        rows: usize,
        cols: usize,
        data: &'a [u8],
    ) -> Result<Self, MatrixError> {
        if !ty.has_kernels() {
            return Err(MatrixError::NoKernels { ty });
        }
        let row_bytes = ty
            .row_bytes(cols)
            .ok_or(MatrixError::ColsNotBlockMultiple {
                ty,
                cols,
                block_size: ty.block_size(),
            })?;
        let expected = rows
            .checked_mul(row_bytes)
            .ok_or(MatrixError::TooLarge { rows, cols })?;
        if data.len() != expected {
            return Err(MatrixError::DataLength {
                expected,
                actual: data.len(),
            });
        }
        let align = type_align(ty);
        if !(data.as_ptr() as usize).is_multiple_of(align) {
            return Err(MatrixError::Misaligned { ty, align });
        }
        Ok(WeightMatrix {
            ty,
            rows,
            cols,
            row_bytes,
            layout: Layout::Ggml,
            data,
        })
    }

    /// View `data` as a `rows × cols` matrix of type `ty` already rewritten into the rows8
    /// layout by [`crate::rows8::interleave_matrix`]: the checks of [`WeightMatrix::new`],
    /// and the type must have the layout and `rows` be a multiple of 8. (Bytes that were not
    /// interleaved give wrong products, never undefined behaviour.)
    pub fn interleaved(
        ty: GgmlType,
        rows: usize,
        cols: usize,
        data: &'a [u8],
    ) -> Result<Self, MatrixError> {
        if !crate::rows8::supports(ty) || !rows.is_multiple_of(crate::rows8::ROWS8) {
            return Err(MatrixError::NotInterleavable { ty, rows });
        }
        Ok(WeightMatrix {
            layout: Layout::Rows8,
            ..WeightMatrix::new(ty, rows, cols, data)?
        })
    }

    /// How the blocks are arranged.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn ty(&self) -> GgmlType {
        self.ty
    }

    /// Output features (the length of `matmul`'s output rows).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Inputs per row (the length of each activation row, in values).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> usize {
        self.row_bytes
    }

    /// Blocks (or elements, for float types) per row.
    pub fn blocks_per_row(&self) -> usize {
        self.cols / self.ty.block_size()
    }

    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The bytes of row `r` (ggml layout only: a rows8 row is spread over its group).
    ///
    /// # Panics
    /// If `r >= rows` or the layout is not [`Layout::Ggml`].
    pub fn row_data(&self, r: usize) -> &'a [u8] {
        assert!(r < self.rows, "row {r} out of {} rows", self.rows);
        assert_eq!(
            self.layout,
            Layout::Ggml,
            "row_data of an interleaved matrix"
        );
        &self.data[r * self.row_bytes..(r + 1) * self.row_bytes]
    }

    /// The whole matrix as blocks of `B`. Only called with the block type of `self.ty` (or,
    /// for rows8, its x8-block, 8 times as large), whose size and alignment `new` checked.
    pub(crate) fn blocks<B: Pod>(&self) -> &'a [B] {
        let n = match self.layout {
            Layout::Ggml => 1,
            Layout::Rows8 => crate::rows8::ROWS8,
        };
        debug_assert_eq!(size_of::<B>(), n * self.ty.type_size());
        bytemuck::cast_slice(self.data)
    }
}

/// Activations already converted to the weight type's `vec_dot_type`: `n_tokens` rows of
/// `cols` values each, row after row.
#[derive(Clone, Copy, Debug)]
pub enum Activations<'a> {
    /// For F32 / F16 / BF16 weights.
    F32(&'a [f32]),
    /// For Q4_0 / Q5_0 / Q8_0 weights.
    Q8_0(&'a [BlockQ8_0]),
    /// For Q4_1 weights.
    Q8_1(&'a [BlockQ8_1]),
    /// For Q4_K / Q5_K / Q6_K weights.
    Q8K(&'a [BlockQ8K]),
}

impl Activations<'_> {
    /// The ggml type of the activations (what [`GgmlType::vec_dot_type`] names).
    pub fn ty(&self) -> GgmlType {
        match self {
            Activations::F32(_) => GgmlType::F32,
            Activations::Q8_0(_) => GgmlType::Q8_0,
            Activations::Q8_1(_) => GgmlType::Q8_1,
            Activations::Q8K(_) => GgmlType::Q8_K,
        }
    }

    /// Number of values (tokens × cols).
    pub fn len(&self) -> usize {
        match self {
            Activations::F32(x) => x.len(),
            Activations::Q8_0(x) => x.len() * GgmlType::Q8_0.block_size(),
            Activations::Q8_1(x) => x.len() * GgmlType::Q8_1.block_size(),
            Activations::Q8K(x) => x.len() * GgmlType::Q8_K.block_size(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
