//! Block structs, byte-for-byte the ggml layouts (ggml-common.h).
//!
//! Every struct is `#[repr(C)]`, `Pod`, and has a compile-time size check, so a slice of
//! GGUF tensor bytes can be viewed as `&[BlockQ4_0]` without copying ([`cast_blocks`]).
//! Scales are IEEE half floats (`half::f16`) stored little-endian, as on every target we run.

use bytemuck::{Pod, Zeroable};
use half::f16;

use crate::types::{QK_K, QK4_0, QK4_1, QK5_0, QK8_0, QK8_1};

/// Bytes of packed 6-bit scales and mins in Q4_K / Q5_K super-blocks.
pub const K_SCALE_SIZE: usize = 12;

/// Q4_0: 32 weights `w = d * (q - 8)`, `q` in 0..16; low nibbles hold weights 0..16,
/// high nibbles weights 16..32.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ4_0 {
    pub d: f16,
    pub qs: [u8; QK4_0 / 2],
}
const _: () = assert!(size_of::<BlockQ4_0>() == 18);

/// Q4_1: 32 weights `w = d * q + m`, `q` in 0..16; nibble order as Q4_0.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ4_1 {
    pub d: f16,
    pub m: f16,
    pub qs: [u8; QK4_1 / 2],
}
const _: () = assert!(size_of::<BlockQ4_1>() == 20);

/// Q5_0: 32 weights `w = d * (q - 16)`, `q` in 0..32; low 4 bits as Q4_0, bit 4 of weight
/// `j` is bit `j` of the little-endian `qh`.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ5_0 {
    pub d: f16,
    pub qh: [u8; 4],
    pub qs: [u8; QK5_0 / 2],
}
const _: () = assert!(size_of::<BlockQ5_0>() == 22);

/// Q8_0: 32 weights `w = d * q`, `q` in -127..=127 (the reference quantizer never makes -128).
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ8_0 {
    pub d: f16,
    pub qs: [i8; QK8_0],
}
const _: () = assert!(size_of::<BlockQ8_0>() == 34);

/// Q8_1 (activations paired with Q4_1): as Q8_0 plus `s = d * sum(qs)`.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ8_1 {
    pub d: f16,
    pub s: f16,
    pub qs: [i8; QK8_1],
}
const _: () = assert!(size_of::<BlockQ8_1>() == 36);

/// Q4_K: 256 weights in 8 sub-blocks of 32; sub-block `j` has a 6-bit scale `sc` and min
/// `m` packed in `scales` (see ggml `get_scale_min_k4`): `w = d*sc*q - dmin*m`, `q` in 0..16.
/// `qs` holds 4 groups of 32 bytes; group `g` holds sub-block `2g` in low nibbles and
/// `2g+1` in high nibbles.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ4K {
    pub d: f16,
    pub dmin: f16,
    pub scales: [u8; K_SCALE_SIZE],
    pub qs: [u8; QK_K / 2],
}
const _: () = assert!(size_of::<BlockQ4K>() == 144);

/// Q5_K: as Q4_K with a fifth bit per weight in `qh` (bit `j` of `qh[i]` is the high bit of
/// weight `32*j + i`), `q` in 0..32.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ5K {
    pub d: f16,
    pub dmin: f16,
    pub scales: [u8; K_SCALE_SIZE],
    pub qh: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 2],
}
const _: () = assert!(size_of::<BlockQ5K>() == 176);

/// Q6_K: 256 weights in 16 sub-blocks of 16 with signed 8-bit scales:
/// `w = d * scales[j] * (q - 32)`, `q` in 0..64 from 4 low bits in `ql` and 2 high bits in `qh`.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ6K {
    pub ql: [u8; QK_K / 2],
    pub qh: [u8; QK_K / 4],
    pub scales: [i8; QK_K / 16],
    pub d: f16,
}
const _: () = assert!(size_of::<BlockQ6K>() == 210);

/// Q8_K (activations paired with the K-quants): f32 scale, 256 quants, and the sum of each
/// group of 16 quants in `bsums` (used to apply Q4_K/Q5_K mins without touching the quants).
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ8K {
    pub d: f32,
    pub qs: [i8; QK_K],
    pub bsums: [i16; QK_K / 16],
}
const _: () = assert!(size_of::<BlockQ8K>() == 292);

/// A block format: its ggml type and geometry. Implemented by every block struct.
pub trait Block: Pod {
    /// The ggml type this block belongs to.
    const TYPE: crate::GgmlType;
    /// Weights per block.
    const SIZE: usize;
}

macro_rules! impl_block {
    ($($t:ty => $g:ident, $n:expr;)*) => {$(
        impl Block for $t {
            const TYPE: crate::GgmlType = crate::GgmlType::$g;
            const SIZE: usize = $n;
        }
        const _: () = assert!(size_of::<$t>() == crate::GgmlType::$g.type_size());
        const _: () = assert!($n == crate::GgmlType::$g.block_size());
    )*};
}

impl_block! {
    BlockQ4_0 => Q4_0, QK4_0;
    BlockQ4_1 => Q4_1, QK4_1;
    BlockQ5_0 => Q5_0, QK5_0;
    BlockQ8_0 => Q8_0, QK8_0;
    BlockQ8_1 => Q8_1, QK8_1;
    BlockQ4K => Q4_K, QK_K;
    BlockQ5K => Q5_K, QK_K;
    BlockQ6K => Q6_K, QK_K;
    BlockQ8K => Q8_K, QK_K;
}

/// Why bytes could not be viewed as blocks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CastError {
    /// The byte length is not a multiple of the block size.
    Length { bytes: usize, block: usize },
    /// The slice does not start at the block struct's alignment.
    Misaligned { align: usize },
}

/// View `bytes` as a slice of blocks without copying.
pub fn cast_blocks<B: Block>(bytes: &[u8]) -> Result<&[B], CastError> {
    bytemuck::try_cast_slice(bytes).map_err(|e| match e {
        bytemuck::PodCastError::TargetAlignmentGreaterAndInputNotAligned => CastError::Misaligned {
            align: align_of::<B>(),
        },
        _ => CastError::Length {
            bytes: bytes.len(),
            block: size_of::<B>(),
        },
    })
}
