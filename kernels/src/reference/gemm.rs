//! Reference GEMM tiles: a few weight rows times a few activation rows, block by block.
//!
//! A tile kernel computes `out[t * mr + r] = dot(w row r, x row t)` for `mr = w.len() / nb`
//! weight rows and `nt = x.len() / nb` token rows of `nb` blocks each (both at most
//! [`crate::dispatch::GEMM_TILE_ROWS`] / [`crate::dispatch::GEMM_TILE_TOKENS`]). The reference
//! walks blocks in the outer loop, so each weight block is loaded once for all `nt` tokens,
//! and adds block results in block order exactly as the `vec_dot` does: its results are
//! bit-identical to calling the reference `vec_dot` per (row, token).

use super::vec_dot::*;
use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K, BlockQ8_0};
use crate::blocks::{BlockQ8_1, BlockQ8K};

/// Shared body of the reference tiles; `step` is the matching reference `vec_dot`'s block
/// step (`acc` plus one block).
#[inline(always)]
fn gemm_tile<W, A>(w: &[W], x: &[A], nb: usize, out: &mut [f32], step: fn(f32, &W, &A) -> f32) {
    assert!(
        nb > 0 && w.len().is_multiple_of(nb) && x.len().is_multiple_of(nb),
        "gemm tile: ragged rows"
    );
    let (mr, nt) = (w.len() / nb, x.len() / nb);
    let out = &mut out[..mr * nt];
    out.fill(0.0);
    for b in 0..nb {
        for t in 0..nt {
            let xb = &x[t * nb + b];
            for r in 0..mr {
                let o = &mut out[t * mr + r];
                *o = step(*o, &w[r * nb + b], xb);
            }
        }
    }
}

macro_rules! reference_gemm {
    ($($name:ident = $dot:ident / $step:ident($w:ty, $a:ty);)*) => {$(
        #[doc = concat!("Reference GEMM tile built on [`", stringify!($dot), "`] (see the module docs).")]
        ///
        /// # Panics
        /// If `nb == 0`, the slices are not whole rows of `nb` blocks, or `out` is too short.
        pub fn $name(w: &[$w], x: &[$a], nb: usize, out: &mut [f32]) {
            gemm_tile(w, x, nb, out, $step)
        }
    )*};
}

reference_gemm! {
    gemm_q4_0_q8_0 = vec_dot_q4_0_q8_0 / step_q4_0_q8_0(BlockQ4_0, BlockQ8_0);
    gemm_q4_1_q8_1 = vec_dot_q4_1_q8_1 / step_q4_1_q8_1(BlockQ4_1, BlockQ8_1);
    gemm_q5_0_q8_0 = vec_dot_q5_0_q8_0 / step_q5_0_q8_0(BlockQ5_0, BlockQ8_0);
    gemm_q8_0_q8_0 = vec_dot_q8_0_q8_0 / step_q8_0_q8_0(BlockQ8_0, BlockQ8_0);
    gemm_q4_k_q8_k = vec_dot_q4_k_q8_k / step_q4_k_q8_k(BlockQ4K, BlockQ8K);
    gemm_q5_k_q8_k = vec_dot_q5_k_q8_k / step_q5_k_q8_k(BlockQ5K, BlockQ8K);
    gemm_q6_k_q8_k = vec_dot_q6_k_q8_k / step_q6_k_q8_k(BlockQ6K, BlockQ8K);
}
