//! The rows8 layout of the K-quants Q4_K and Q6_K: 8 rows' 256-weight super-blocks side by
//! side, for the same reason as the legacy formats (see the parent module): one integer dot
//! instruction with 4 activation bytes broadcast advances 8 rows, whose sums land in the 8
//! lanes of one register.
//!
//! Q4_K (`BlockQ4Kx8`, 1152 bytes = 8 × 144):
//! - `d`, `dmin`: the 8 rows' f16 super-block scales;
//! - `scales[k][i]`: byte `k` of row `i`'s 12 packed 6-bit scales and mins (ggml's
//!   `get_scale_min_k4` packing, unchanged), so byte `k` of all 8 rows is one 8-byte load;
//! - `qs`: row `i`'s quant bytes in 4-byte chunks, chunk `c` (bytes `4c..4c+4` of its `qs`)
//!   at `32c + 4i`. Chunk `c = 8g + r` holds in its low nibbles weights `64g + 4r..+4`
//!   (sub-block `2g`) and in its high nibbles weights `64g + 32 + 4r..+4` (sub-block
//!   `2g + 1`), ggml's nibble order.
//!
//! Q6_K (`BlockQ6Kx8`, 1680 bytes = 8 × 210):
//! - `d`: the 8 rows' f16 scales;
//! - `scales[j][i]`: row `i`'s signed scale of sub-block `j` (16 weights);
//! - `ql`, `qh`: row `i`'s `ql` (32 chunks) and `qh` (16 chunks) in 4-byte chunks at
//!   `32c + 4i`. Weights `128h + 32s + l .. +4` (`l` a multiple of 4 below 32) take their low
//!   4 bits from `ql` chunk `16h + 8(s % 2) + l/4` (high nibbles when `s >= 2`) and their top
//!   2 bits from bits `2s, 2s+1` of `qh` chunk `8h + l/4` — ggml's bit layout, regrouped by
//!   chunk only.
//!
//! Both rewrite in place at load time like the legacy formats; the scalar GEMMs here are the
//! specification: each output is the reference `vec_dot` of its de-interleaved row.

use bytemuck::{Pod, Zeroable};
use half::f16;

use super::{Interleaved, ROWS8, chunk_pos};
use crate::blocks::{BlockQ4K, BlockQ6K, BlockQ8K};
use crate::parts::ColumnsMut;
use crate::reference;

/// 8 Q4_K super-blocks (one per row) interleaved; see the module docs.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ4Kx8 {
    pub d: [f16; 8],
    pub dmin: [f16; 8],
    pub scales: [[u8; 8]; 12],
    pub qs: [u8; 1024],
}
const _: () = assert!(size_of::<BlockQ4Kx8>() == 8 * size_of::<BlockQ4K>());

/// 8 Q6_K super-blocks (one per row) interleaved; see the module docs.
#[repr(C)]
#[derive(Copy, Clone, Debug, Pod, Zeroable)]
pub struct BlockQ6Kx8 {
    pub d: [f16; 8],
    pub scales: [[i8; 8]; 16],
    pub ql: [u8; 1024],
    pub qh: [u8; 512],
}
const _: () = assert!(size_of::<BlockQ6Kx8>() == 8 * size_of::<BlockQ6K>());

/// Copy 4-byte chunks between a row's array (`row[4c..]`) and the interleaved one
/// (`x8[chunk_pos(c, i)..]`), in the direction `to_x8` says.
fn chunks(row: &mut [u8], x8: &mut [u8], i: usize, to_x8: bool) {
    for c in 0..row.len() / 4 {
        let (r, x) = (&mut row[4 * c..4 * c + 4], &mut x8[chunk_pos(c, i)..][..4]);
        if to_x8 {
            x.copy_from_slice(r);
        } else {
            r.copy_from_slice(x);
        }
    }
}

/// The way into an x8-block: 8 rows' blocks to their interleaved form (the inverse of
/// [`Interleaved::lane`]).
pub(super) trait FromRows: Interleaved {
    fn from_rows(rows: &[Self::Row; ROWS8]) -> Self;
}

/// Rewrite `data` (8-row groups of `nb` blocks of `X::Row`, ggml layout) into x8-blocks in
/// place, one group at a time through `scratch` (at least one group long; the caller checks
/// the geometry). Byte-wise, so any alignment works.
pub(super) fn interleave_groups<X: FromRows>(nb: usize, data: &mut [u8], scratch: &mut [u8]) {
    let bs = size_of::<X::Row>();
    let group = ROWS8 * nb * bs;
    let src = &mut scratch[..group];
    for dst in data.chunks_exact_mut(group) {
        src.copy_from_slice(dst);
        for b in 0..nb {
            let rows: [X::Row; ROWS8] = core::array::from_fn(|i| {
                bytemuck::pod_read_unaligned(&src[(i * nb + b) * bs..][..bs])
            });
            let x8 = X::from_rows(&rows);
            dst[b * ROWS8 * bs..][..ROWS8 * bs].copy_from_slice(bytemuck::bytes_of(&x8));
        }
    }
}

impl Interleaved for BlockQ4Kx8 {
    type Row = BlockQ4K;

    fn lane(&self, i: usize) -> BlockQ4K {
        let mut b = BlockQ4K::zeroed();
        b.d = self.d[i];
        b.dmin = self.dmin[i];
        for (k, s) in b.scales.iter_mut().enumerate() {
            *s = self.scales[k][i];
        }
        let mut qs = self.qs;
        chunks(&mut b.qs, &mut qs, i, false);
        b
    }
}

impl FromRows for BlockQ4Kx8 {
    fn from_rows(rows: &[BlockQ4K; ROWS8]) -> Self {
        let mut x = Self::zeroed();
        for (i, r) in rows.iter().enumerate() {
            x.d[i] = r.d;
            x.dmin[i] = r.dmin;
            for (k, &s) in r.scales.iter().enumerate() {
                x.scales[k][i] = s;
            }
            chunks(&mut r.qs.clone(), &mut x.qs, i, true);
        }
        x
    }
}

impl Interleaved for BlockQ6Kx8 {
    type Row = BlockQ6K;

    fn lane(&self, i: usize) -> BlockQ6K {
        let mut b = BlockQ6K::zeroed();
        b.d = self.d[i];
        for (j, s) in b.scales.iter_mut().enumerate() {
            *s = self.scales[j][i];
        }
        let (mut ql, mut qh) = (self.ql, self.qh);
        chunks(&mut b.ql, &mut ql, i, false);
        chunks(&mut b.qh, &mut qh, i, false);
        b
    }
}

impl FromRows for BlockQ6Kx8 {
    fn from_rows(rows: &[BlockQ6K; ROWS8]) -> Self {
        let mut x = Self::zeroed();
        for (i, r) in rows.iter().enumerate() {
            x.d[i] = r.d;
            for (j, &s) in r.scales.iter().enumerate() {
                x.scales[j][i] = s;
            }
            chunks(&mut r.ql.clone(), &mut x.ql, i, true);
            chunks(&mut r.qh.clone(), &mut x.qh, i, true);
        }
        x
    }
}

/// Scalar rows8 GEMM for Q4_K (contract of the parent module's `gemm_rows8`: every output the
/// reference `vec_dot_q4_k_q8_k` of its row, bit for bit).
pub fn gemm_q4_kx8_q8_k(w: &[BlockQ4Kx8], x: &[BlockQ8K], nb: usize, out: &mut ColumnsMut<'_>) {
    super::gemm_rows8(w, x, nb, out, reference::vec_dot::step_q4_k_q8_k);
}

/// Scalar rows8 GEMM for Q6_K.
pub fn gemm_q6_kx8_q8_k(w: &[BlockQ6Kx8], x: &[BlockQ8K], nb: usize, out: &mut ColumnsMut<'_>) {
    super::gemm_rows8(w, x, nb, out, reference::vec_dot::step_q6_k_q8_k);
}
