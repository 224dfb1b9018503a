//! The interleaved "rows8" weight layout: 8 consecutive weight rows stored block by block.
//!
//! In the ggml layout a matrix is row after row, each row `nb` blocks. A GEMV over it gets one
//! output per row, so every block's scale is converted, multiplied and reduced for one output
//! at a time. In the rows8 layout the matrix is cut into groups of 8 rows and group `g` is
//! `nb` x8-blocks, x8-block `b` holding block `b` of each of the group's rows:
//!
//! - the 8 rows' `d` (then, for Q4_1, the 8 `m`) side by side: one 128-bit load and one F16C
//!   conversion give the scales of 8 outputs;
//! - the quants in 4-byte chunks, chunk `c` of row `i` at bytes `32c + 4i .. 32c + 4i + 4`
//!   (chunk `c` = bytes `4c..4c+4` of the ggml block's `qs`): one 32-byte load holds chunk `c`
//!   of all 8 rows, so an integer dot instruction whose i32 lane `i` sums 4 byte products
//!   (`vpdpbusd`, or `vpmaddubsw` + `vpmaddwd`) computes lane `i` = row `i` with the 4
//!   matching activation bytes broadcast to every lane. The 8 outputs come out in the 8
//!   lanes of one register: no horizontal sums, one scale multiply for 8 rows.
//!
//! For Q4_0/Q4_1/Q5_0 the low nibbles of chunk `c` are weights `4c..4c+4` and the high
//! nibbles weights `16+4c..16+4c+4` (ggml's nibble order is unchanged); for Q8_0 chunk `c` is
//! weights `4c..4c+4`. Q5_0's fifth bits are regrouped the same way: little-endian word `g`
//! of `qh` holds, at bit `4i + j`, the fifth bit of row `i`'s weight `4g + j` — the 32 bits
//! one 32-byte quant vector of group `g` needs, in its byte order.
//!
//! The K-quants Q4_K and Q6_K have their own x8 layouts of 256-weight super-blocks in
//! [`k_quants`] (same idea: 4-byte quant chunks of 8 rows side by side, scales transposed so
//! that one load gives a scale of all 8 rows).
//!
//! An x8-block is exactly as large as the 8 blocks it holds, so a matrix is rewritten in
//! place ([`interleave_matrix`]): the loader turns a private, copy-on-write mapping of the
//! model file into this layout at load time and never keeps a second copy. Only matrices
//! whose row count is a multiple of 8 are interleaved, and only for tiers with SIMD kernels
//! for it ([`crate::KernelTable::interleaves`]); the scalar functions here are the
//! specification (each output equals the reference `vec_dot` of its de-interleaved row,
//! bit for bit) and the fallback of every other tier.

use bytemuck::{Pod, Zeroable};
use half::f16;

pub mod k_quants;
pub use k_quants::{BlockQ4Kx8, BlockQ6Kx8, gemm_q4_kx8_q8_k, gemm_q6_kx8_q8_k};

use crate::GgmlType;
use crate::blocks::{Block, BlockQ4_0, BlockQ4_1, BlockQ5_0, BlockQ8_0, BlockQ8_1};
use crate::parts::ColumnsMut;
use crate::reference;

/// Rows per interleaved group.
pub const ROWS8: usize = 8;

/// 8 Q4_0 blocks (one per row) interleaved; see the module docs.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ4_0x8 {
    pub d: [f16; 8],
    pub qs: [u8; 128],
}
const _: () = assert!(size_of::<BlockQ4_0x8>() == 8 * size_of::<BlockQ4_0>());

/// 8 Q4_1 blocks (one per row) interleaved; see the module docs.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ4_1x8 {
    pub d: [f16; 8],
    pub m: [f16; 8],
    pub qs: [u8; 128],
}
const _: () = assert!(size_of::<BlockQ4_1x8>() == 8 * size_of::<BlockQ4_1>());

/// 8 Q5_0 blocks (one per row) interleaved; see the module docs for `qh`.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ5_0x8 {
    pub d: [f16; 8],
    pub qh: [u8; 32],
    pub qs: [u8; 128],
}
const _: () = assert!(size_of::<BlockQ5_0x8>() == 8 * size_of::<BlockQ5_0>());

/// 8 Q8_0 blocks (one per row) interleaved; see the module docs.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ8_0x8 {
    pub d: [f16; 8],
    pub qs: [i8; 256],
}
const _: () = assert!(size_of::<BlockQ8_0x8>() == 8 * size_of::<BlockQ8_0>());

/// An x8-block type: the ggml block it interleaves, and the way back to one row's block.
pub trait Interleaved: Pod {
    /// The ggml block of one row.
    type Row: Block;
    /// Row `i`'s block (`i < 8`).
    fn lane(&self, i: usize) -> Self::Row;
}

/// Scale fields (f16 each, stored before the quants) of a block type, in struct order.
const fn header_fields(ty: GgmlType) -> Option<usize> {
    match ty {
        GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 => Some(1),
        GgmlType::Q4_1 => Some(2),
        _ => None,
    }
}

/// Bytes of fifth bits per row block (Q5_0's `qh`).
const fn qh_bytes(ty: GgmlType) -> usize {
    match ty {
        GgmlType::Q5_0 => 4,
        _ => 0,
    }
}

/// Word `g` of an x8 `qh`: bit `4i + j` = bit `4g + j` of row `i`'s `qh` word.
fn regroup_qh(rows: [u32; 8], g: usize) -> u32 {
    rows.iter()
        .enumerate()
        .map(|(i, &h)| ((h >> (4 * g)) & 0xF) << (4 * i))
        .fold(0, |a, b| a | b)
}

/// Byte `k` of chunk-interleaved quants: row `i`'s chunk `c` lives at `32c + 4i`.
const fn chunk_pos(c: usize, i: usize) -> usize {
    32 * c + 4 * i
}

macro_rules! lane_of {
    ($x8:ty => $row:ty { $($f:ident),* }) => {
        impl Interleaved for $x8 {
            type Row = $row;
            fn lane(&self, i: usize) -> $row {
                let mut b = <$row>::zeroed();
                $( b.$f = self.$f[i]; )*
                for c in 0..b.qs.len() / 4 {
                    b.qs[4 * c..4 * c + 4]
                        .copy_from_slice(&self.qs[chunk_pos(c, i)..chunk_pos(c, i) + 4]);
                }
                b
            }
        }
    };
}
lane_of!(BlockQ4_0x8 => BlockQ4_0 { d });
lane_of!(BlockQ4_1x8 => BlockQ4_1 { d, m });
lane_of!(BlockQ8_0x8 => BlockQ8_0 { d });

impl Interleaved for BlockQ5_0x8 {
    type Row = BlockQ5_0;
    fn lane(&self, i: usize) -> BlockQ5_0 {
        let mut b = BlockQ5_0::zeroed();
        b.d = self.d[i];
        let words: [u32; 8] = bytemuck::cast(self.qh);
        let qh = (0..8).fold(0u32, |a, g| a | ((words[g] >> (4 * i)) & 0xF) << (4 * g));
        b.qh = qh.to_le_bytes();
        for c in 0..b.qs.len() / 4 {
            b.qs[4 * c..4 * c + 4].copy_from_slice(&self.qs[chunk_pos(c, i)..chunk_pos(c, i) + 4]);
        }
        b
    }
}

/// Whether rows8 exists for `ty` (Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q6_K).
pub const fn supports(ty: GgmlType) -> bool {
    header_fields(ty).is_some() || matches!(ty, GgmlType::Q4_K | GgmlType::Q6_K)
}

/// Why a matrix cannot be interleaved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterleaveError {
    /// The type has no rows8 layout.
    Type { ty: GgmlType },
    /// `cols` is not a whole number of blocks.
    Cols { ty: GgmlType, cols: usize },
    /// `data` is not a whole number of 8-row groups.
    Rows { row_bytes: usize, len: usize },
    /// `scratch` is shorter than one group (8 rows).
    Scratch { need: usize, have: usize },
}

impl core::fmt::Display for InterleaveError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            InterleaveError::Type { ty } => write!(f, "no interleaved layout for {ty}"),
            InterleaveError::Cols { ty, cols } => {
                write!(f, "{cols} columns is not a whole number of {ty} blocks")
            }
            InterleaveError::Rows { row_bytes, len } => write!(
                f,
                "{len} bytes is not a whole number of 8-row groups of {row_bytes}-byte rows"
            ),
            InterleaveError::Scratch { need, have } => {
                write!(f, "scratch of {have} bytes, need {need}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for InterleaveError {}

/// Rewrite `data`, a matrix of `ty` with `cols` columns in the ggml layout (row after row,
/// row count a multiple of 8), into the rows8 layout in place. `scratch` holds one group
/// while it is rewritten: at least `8 * row_bytes` bytes. Works on bytes, so `data` and
/// `scratch` may have any alignment.
pub fn interleave_matrix(
    ty: GgmlType,
    cols: usize,
    data: &mut [u8],
    scratch: &mut [u8],
) -> Result<(), InterleaveError> {
    if !supports(ty) {
        return Err(InterleaveError::Type { ty });
    }
    let row_bytes = ty
        .row_bytes(cols)
        .ok_or(InterleaveError::Cols { ty, cols })?;
    let group = ROWS8 * row_bytes;
    if group == 0 || !data.len().is_multiple_of(group) {
        return Err(InterleaveError::Rows {
            row_bytes,
            len: data.len(),
        });
    }
    if scratch.len() < group {
        return Err(InterleaveError::Scratch {
            need: group,
            have: scratch.len(),
        });
    }
    let bs = ty.type_size();
    let nb = row_bytes / bs;
    match ty {
        GgmlType::Q4_K => {
            k_quants::interleave_groups::<BlockQ4Kx8>(nb, data, scratch);
            return Ok(());
        }
        GgmlType::Q6_K => {
            k_quants::interleave_groups::<BlockQ6Kx8>(nb, data, scratch);
            return Ok(());
        }
        _ => {}
    }
    let fields = header_fields(ty).ok_or(InterleaveError::Type { ty })?;
    let qh = qh_bytes(ty);
    // Row block: f16 fields, then `qh`, then quants; x8-block: 8× each, in that order.
    let head = 2 * fields + qh;
    let chunks = (bs - head) / 4;
    let quants_at = 16 * fields + ROWS8 * qh;
    let src = &mut scratch[..group];
    for dst in data.chunks_exact_mut(group) {
        src.copy_from_slice(dst);
        for b in 0..nb {
            let out = &mut dst[b * ROWS8 * bs..(b + 1) * ROWS8 * bs];
            for i in 0..ROWS8 {
                let blk = &src[(i * nb + b) * bs..(i * nb + b + 1) * bs];
                for f in 0..fields {
                    let at = 16 * f + 2 * i;
                    out[at..at + 2].copy_from_slice(&blk[2 * f..2 * f + 2]);
                }
                for c in 0..chunks {
                    let at = quants_at + chunk_pos(c, i);
                    out[at..at + 4].copy_from_slice(&blk[head + 4 * c..head + 4 * c + 4]);
                }
            }
            if qh > 0 {
                let h = 2 * fields;
                let rows: [u32; 8] = core::array::from_fn(|i| {
                    let at = (i * nb + b) * bs + h;
                    u32::from_le_bytes([src[at], src[at + 1], src[at + 2], src[at + 3]])
                });
                for g in 0..ROWS8 {
                    let at = 16 * fields + 4 * g;
                    out[at..at + 4].copy_from_slice(&regroup_qh(rows, g).to_le_bytes());
                }
            }
        }
    }
    Ok(())
}

/// Row `row` (of `cols` columns) of an interleaved matrix as its ggml blocks, written to
/// `out` (`cols / 32` blocks): the embedding lookup of a tied output matrix.
///
/// # Panics
/// If `row` is out of `w`'s rows or `out.len() * ROWS8` blocks per group do not fit `w`.
pub fn row_blocks<B: Interleaved>(w: &[B], row: usize, out: &mut [B::Row]) {
    let nb = out.len();
    let (g, i) = (row / ROWS8, row % ROWS8);
    for (o, x8) in out.iter_mut().zip(&w[g * nb..(g + 1) * nb]) {
        *o = x8.lane(i);
    }
}

/// The geometry of a rows8 GEMM call, checked: `(groups, tokens, mr)` for `w_len` x8-blocks
/// and `x_len` activation blocks of `nb` blocks per row, writing `out.row_mut(t)[r]` for
/// `r < mr`, `t < tokens` ([`crate::dispatch::Rows8GemmFn`]).
///
/// # Panics
/// If the rows are ragged (`nb == 0`, or a length not a multiple of `nb`), or `out` is not
/// `mr` columns wide or has fewer than `tokens` rows: caller bugs.
pub(crate) fn gemm_geometry(
    w_len: usize,
    x_len: usize,
    nb: usize,
    out: &ColumnsMut<'_>,
) -> (usize, usize, usize) {
    assert!(
        nb > 0 && w_len.is_multiple_of(nb) && x_len.is_multiple_of(nb),
        "rows8 gemm: ragged rows"
    );
    let (groups, nt) = (w_len / nb, x_len / nb);
    let mr = ROWS8 * groups;
    assert!(
        out.cols().len() == mr && out.n_tokens() >= nt,
        "rows8 gemm: output part {:?} × {} rows for {mr} rows × {nt} tokens",
        out.cols(),
        out.n_tokens()
    );
    (groups, nt, mr)
}

/// The scalar rows8 GEMM: `out.row_mut(t)[r] = dot(row r, x row t)` for `mr = 8 * w.len() /
/// nb` rows and `nt = x.len() / nb` tokens, each output exactly the reference `vec_dot` of
/// the de-interleaved row (same terms, same order).
pub(crate) fn gemm_rows8<B: Interleaved, A: Copy>(
    w: &[B],
    x: &[A],
    nb: usize,
    out: &mut ColumnsMut<'_>,
    step: fn(f32, &B::Row, &A) -> f32,
) {
    gemm_geometry(w.len(), x.len(), nb, out);
    for (g, wg) in w.chunks_exact(nb).enumerate() {
        for (t, xt) in x.chunks_exact(nb).enumerate() {
            let row = &mut out.row_mut(t)[g * ROWS8..(g + 1) * ROWS8];
            for (i, o) in row.iter_mut().enumerate() {
                *o = wg
                    .iter()
                    .zip(xt)
                    .fold(0.0, |acc, (x8, y)| step(acc, &x8.lane(i), y));
            }
        }
    }
}

/// Scalar rows8 GEMM for Q4_0 (see [`gemm_rows8`]'s contract).
pub fn gemm_q4_0x8_q8_0(w: &[BlockQ4_0x8], x: &[BlockQ8_0], nb: usize, out: &mut ColumnsMut<'_>) {
    gemm_rows8(w, x, nb, out, reference::vec_dot::step_q4_0_q8_0);
}

/// Scalar rows8 GEMM for Q4_1.
pub fn gemm_q4_1x8_q8_1(w: &[BlockQ4_1x8], x: &[BlockQ8_1], nb: usize, out: &mut ColumnsMut<'_>) {
    gemm_rows8(w, x, nb, out, reference::vec_dot::step_q4_1_q8_1);
}

/// Scalar rows8 GEMM for Q5_0.
pub fn gemm_q5_0x8_q8_0(w: &[BlockQ5_0x8], x: &[BlockQ8_0], nb: usize, out: &mut ColumnsMut<'_>) {
    gemm_rows8(w, x, nb, out, reference::vec_dot::step_q5_0_q8_0);
}

/// Scalar rows8 GEMM for Q8_0.
pub fn gemm_q8_0x8_q8_0(w: &[BlockQ8_0x8], x: &[BlockQ8_0], nb: usize, out: &mut ColumnsMut<'_>) {
    gemm_rows8(w, x, nb, out, reference::vec_dot::step_q8_0_q8_0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(n: usize) -> [u8; 4096] {
        let mut b = [0u8; 4096];
        for (i, v) in b.iter_mut().enumerate().take(n) {
            *v = (i * 7 + i / 13) as u8;
        }
        b
    }

    /// Interleaving then reading each lane back gives every row's original blocks.
    #[test]
    fn lanes_give_back_the_rows() {
        fn check<B: Interleaved>(ty: GgmlType) {
            let cols = 64;
            let row_bytes = ty.row_bytes(cols).unwrap();
            let n = 16 * row_bytes; // two groups
            let orig = pattern(n);
            let mut data = orig;
            let mut scratch = [0u8; 4096];
            interleave_matrix(ty, cols, &mut data[..n], &mut scratch).unwrap();
            assert_ne!(data[..n], orig[..n]);
            let w: &[B] = bytemuck::cast_slice(&data[..n]);
            let mut row = [<B::Row>::zeroed(); 2];
            for r in 0..16 {
                row_blocks(w, r, &mut row);
                assert_eq!(
                    bytemuck::cast_slice::<_, u8>(&row),
                    &orig[r * row_bytes..(r + 1) * row_bytes],
                    "{ty} row {r}"
                );
            }
        }
        check::<BlockQ4_0x8>(GgmlType::Q4_0);
        check::<BlockQ4_1x8>(GgmlType::Q4_1);
        check::<BlockQ5_0x8>(GgmlType::Q5_0);
        check::<BlockQ8_0x8>(GgmlType::Q8_0);
    }

    /// The same for the K-quants (one super-block per row: 256 columns).
    #[test]
    fn k_quant_lanes_give_back_the_rows() {
        fn check<B: Interleaved>(ty: GgmlType) {
            let cols = 256;
            let row_bytes = ty.row_bytes(cols).unwrap();
            let n = 8 * row_bytes;
            let mut orig = [0u8; 2048];
            for (i, v) in orig.iter_mut().enumerate().take(n) {
                *v = (i * 31 + i / 7) as u8;
            }
            let mut data = orig;
            let mut scratch = [0u8; 2048];
            interleave_matrix(ty, cols, &mut data[..n], &mut scratch).unwrap();
            assert_ne!(data[..n], orig[..n]);
            let w: &[B] = bytemuck::cast_slice(&data[..n]);
            let mut row = [<B::Row>::zeroed(); 1];
            for r in 0..8 {
                row_blocks(w, r, &mut row);
                assert_eq!(
                    bytemuck::cast_slice::<_, u8>(&row),
                    &orig[r * row_bytes..(r + 1) * row_bytes],
                    "{ty} row {r}"
                );
            }
        }
        check::<BlockQ4Kx8>(GgmlType::Q4_K);
        check::<BlockQ6Kx8>(GgmlType::Q6_K);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let mut d = [0u8; 18 * 8];
        let mut s = [0u8; 18 * 8];
        assert_eq!(
            interleave_matrix(GgmlType::Q5_K, 256, &mut d, &mut s),
            Err(InterleaveError::Type { ty: GgmlType::Q5_K })
        );
        assert!(matches!(
            interleave_matrix(GgmlType::Q4_0, 33, &mut d, &mut s),
            Err(InterleaveError::Cols { .. })
        ));
        assert!(matches!(
            interleave_matrix(GgmlType::Q4_0, 32, &mut d[..18 * 7], &mut s),
            Err(InterleaveError::Rows { .. })
        ));
        assert!(matches!(
            interleave_matrix(GgmlType::Q4_0, 32, &mut d, &mut s[..10]),
            Err(InterleaveError::Scratch { .. })
        ));
    }
}
