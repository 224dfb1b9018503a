//! Dot product and register-tiled matrix product for any [`QuantBlock`] format, generic over
//! the 8-bit dot instruction. The tier modules instantiate these inside their
//! `#[target_feature]` functions (everything here is `#[inline(always)]`).
//!
//! A tile computes `R` weight rows × `T` token rows: each weight block is unpacked once and
//! dotted with the `T` activation blocks of the same column range, so weight bytes (the
//! memory-bound stream in decode and prefill) are read and decoded once per `T` tokens.
//! Every output steps through its blocks in order with the reference's block step
//! ([`QuantBlock::step`]), exactly as the reference dot.

use core::arch::aarch64::*;

use super::formats::QuantBlock;
use super::simd::I8Dot;

/// `out[t][r] = Σ_b w[r][b] · x[t][b]` for `R` weight rows and `T` activation rows of `nb`
/// blocks each.
///
/// # Safety
/// NEON and `D`'s features.
#[inline(always)]
unsafe fn tile<D: I8Dot, W: QuantBlock, const R: usize, const T: usize>(
    w: [&[W]; R],
    x: [&[W::Act]; T],
    nb: usize,
) -> [[f32; R]; T] {
    let mut acc = [[0.0f32; R]; T];
    for b in 0..nb {
        for r in 0..R {
            let wb = &w[r][b];
            // SAFETY: forwarded contract.
            let u = unsafe { wb.unpack() };
            for t in 0..T {
                // SAFETY: forwarded contract.
                acc[t][r] = unsafe { wb.step::<D>(acc[t][r], &u, &x[t][b]) };
            }
        }
    }
    acc
}

/// `out[t] = Σ_b w[b] · x[t][b]` for one weight row and 4 activation rows: each weight
/// block is unpacked once and [`QuantBlock::step4`] adds its four terms, lane `t`
/// accumulating token `t`'s terms in block order.
///
/// # Safety
/// NEON and `D`'s features.
#[inline(always)]
unsafe fn row_x4<D: I8Dot, W: QuantBlock>(w: &[W], x: [&[W::Act]; 4], nb: usize) -> [f32; 4] {
    let (w, x) = (&w[..nb], x.map(|x| &x[..nb]));
    // SAFETY: forwarded contract; the lane store writes into a local 4-float array.
    unsafe {
        let mut acc = vdupq_n_f32(0.0);
        for b in 0..nb {
            let u = w[b].unpack();
            acc = w[b].step4::<D>(acc, &u, x.map(|x| &x[b]));
        }
        let mut out = [0.0f32; 4];
        vst1q_f32(out.as_mut_ptr(), acc);
        out
    }
}

/// One dot product with the reference's contract.
///
/// # Safety
/// NEON and `D`'s features.
///
/// # Panics
/// If `x.len() != y.len()`.
#[inline(always)]
pub(super) unsafe fn vec_dot<D: I8Dot, W: QuantBlock>(x: &[W], y: &[W::Act]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot: block count mismatch");
    // SAFETY: forwarded contract.
    unsafe { tile::<D, W, 1, 1>([x], [y], x.len())[0][0] }
}

/// A GEMM tile with `dispatch::GemmFn`'s contract: `out[t * mr + r] = dot(w row r, x row t)`
/// for `mr = w.len() / nb` weight rows and `nt = x.len() / nb` activation rows of `nb`
/// blocks each (`1 <= mr, nt <= 4`). Each weight row runs as a `1 × nt` tile: its blocks
/// are unpacked once for all `nt` tokens.
///
/// # Safety
/// NEON and `D`'s features.
///
/// # Panics
/// If `nb == 0`, the slices are not whole rows of `nb` blocks, `nt` is not in `1..=4`, or
/// `out` is shorter than `mr * nt`.
#[inline(always)]
pub(super) unsafe fn gemm_tile<D: I8Dot, W: QuantBlock>(
    w: &[W],
    x: &[W::Act],
    nb: usize,
    out: &mut [f32],
) {
    assert!(
        nb > 0 && w.len().is_multiple_of(nb) && x.len().is_multiple_of(nb),
        "gemm tile: ragged rows"
    );
    let (mr, nt) = (w.len() / nb, x.len() / nb);
    assert!(out.len() >= mr * nt, "gemm tile: output too short");
    let xrow = |t: usize| &x[t * nb..(t + 1) * nb];
    for r in 0..mr {
        let wr = [&w[r * nb..(r + 1) * nb]];
        let col: [f32; 4] = match nt {
            1 => {
                // SAFETY: forwarded contract.
                let o = unsafe { tile::<D, W, 1, 1>(wr, [xrow(0)], nb) };
                [o[0][0], 0.0, 0.0, 0.0]
            }
            2 => {
                // SAFETY: forwarded contract.
                let o = unsafe { tile::<D, W, 1, 2>(wr, [xrow(0), xrow(1)], nb) };
                [o[0][0], o[1][0], 0.0, 0.0]
            }
            3 => {
                // SAFETY: forwarded contract.
                let o = unsafe { tile::<D, W, 1, 3>(wr, [xrow(0), xrow(1), xrow(2)], nb) };
                [o[0][0], o[1][0], o[2][0], 0.0]
            }
            4 => {
                // SAFETY: forwarded contract.
                unsafe { row_x4::<D, W>(wr[0], [xrow(0), xrow(1), xrow(2), xrow(3)], nb) }
            }
            _ => panic!("gemm tile: {nt} tokens, at most 4"),
        };
        for t in 0..nt {
            out[t * mr + r] = col[t];
        }
    }
}
