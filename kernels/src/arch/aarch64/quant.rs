//! Activation quantizers (f32 → Q8_0 / Q8_1 / Q8_K) with NEON, bit-identical to
//! `reference::q8`.
//!
//! The reference rounds with `roundf` (ties away from zero) for Q8_0/Q8_1 — that is `fcvtas`
//! (`vcvtaq_s32_f32`) — and with ggml's `nearest_int` (ties to even) for Q8_K — that is
//! `fcvtns` (`vcvtnq_s32_f32`). Both agree with the reference for every finite product with
//! `|v| < 2^22`, which holds whenever the block's inverse scale is finite (then
//! `|x * id| <= 127.00002`). Blocks with a NaN or infinity in the input, or whose inverse scale
//! overflows (subnormal maxima), take the reference path for that one block: ggml's bit
//! tricks give payload-dependent bytes there that no vector rounding reproduces.
//!
//! Every function here needs NEON only, so both tiers share them.

use core::arch::aarch64::*;

use half::f16;

use super::simd::load_f32;
use crate::blocks::{BlockQ8_0, BlockQ8_1, BlockQ8K};
use crate::reference;
use crate::types::{QK_K, QK8_0};

/// Largest `|x|` of `N*4` floats; NaN if any input is NaN (`fmax` propagates NaN).
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
unsafe fn abs_max<const N: usize>(v: &[float32x4_t; N]) -> f32 {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe {
        let mut m = vabsq_f32(v[0]);
        for &x in &v[1..] {
            m = vmaxq_f32(m, vabsq_f32(x));
        }
        vmaxvq_f32(m)
    }
}

/// Load a block of `N*4` floats.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
unsafe fn load_block<const N: usize>(x: &[f32]) -> [float32x4_t; N] {
    let (chunks, _) = x.as_chunks::<4>();
    // SAFETY: NEON is the caller's promise; each chunk is 4 readable floats. The index
    // panics (never reads out of bounds) if `x` is shorter than `N*4`, which callers exclude.
    core::array::from_fn(|i| unsafe { load_f32(&chunks[i]) })
}

/// `round_away(v * id)` for 32 floats into 32 i8 (ties away from zero, saturating).
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
unsafe fn round_q8_32(v: &[float32x4_t; 8], id: f32, qs: &mut [i8; 32]) -> i32 {
    // SAFETY: NEON is the caller's promise; stores write inside `qs` (two 16-byte halves).
    unsafe {
        let mut sum = vdupq_n_s32(0);
        let (out, _) = qs.as_chunks_mut::<16>();
        for (h, o) in out.iter_mut().enumerate() {
            let q = [0, 1, 2, 3].map(|k| vcvtaq_s32_f32(vmulq_n_f32(v[4 * h + k], id)));
            for &qk in &q {
                sum = vaddq_s32(sum, qk);
            }
            let lo = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
            let hi = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
            vst1q_s8(o.as_mut_ptr(), vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi)));
        }
        vaddvq_s32(sum)
    }
}

/// `d = amax/127`, `id = 1/d` (0 for `d == 0`) for a block with finite maximum, or `None`
/// when the block must take the reference path (non-finite input or overflowing `id`).
#[inline(always)]
fn q8_scale(amax: f32) -> Option<(f32, f32)> {
    if !amax.is_finite() {
        return None;
    }
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    id.is_finite().then_some((d, id))
}

/// NEON `quantize_row_q8_0` (same contract and bytes as the reference).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != y.len() * 32`.
#[inline(always)]
pub(super) unsafe fn quantize_row_q8_0(x: &[f32], y: &mut [BlockQ8_0]) {
    assert_eq!(
        x.len(),
        y.len() * QK8_0,
        "quantize_row_q8_0: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK8_0)) {
        // SAFETY: NEON is the caller's promise; `x` has exactly 32 floats.
        unsafe {
            let v = load_block::<8>(x);
            match q8_scale(abs_max(&v)) {
                Some((d, id)) => {
                    b.d = f16::from_f32(d);
                    round_q8_32(&v, id, &mut b.qs);
                }
                None => reference::quantize_row_q8_0(x, core::slice::from_mut(b)),
            }
        }
    }
}

/// NEON `quantize_row_q8_1` (same contract and bytes as the reference).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != y.len() * 32`.
#[inline(always)]
pub(super) unsafe fn quantize_row_q8_1(x: &[f32], y: &mut [BlockQ8_1]) {
    assert_eq!(
        x.len(),
        y.len() * QK8_0,
        "quantize_row_q8_1: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK8_0)) {
        // SAFETY: NEON is the caller's promise; `x` has exactly 32 floats.
        unsafe {
            let v = load_block::<8>(x);
            match q8_scale(abs_max(&v)) {
                Some((d, id)) => {
                    b.d = f16::from_f32(d);
                    let sum = round_q8_32(&v, id, &mut b.qs);
                    b.s = f16::from_f32(sum as f32 * d);
                }
                None => reference::quantize_row_q8_1(x, core::slice::from_mut(b)),
            }
        }
    }
}

/// NEON `quantize_row_q8_k` (same contract and bytes as the reference).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != y.len() * 256`.
#[inline(always)]
pub(super) unsafe fn quantize_row_q8_k(x: &[f32], y: &mut [BlockQ8K]) {
    assert_eq!(
        x.len(),
        y.len() * QK_K,
        "quantize_row_q8_k: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK_K)) {
        // SAFETY: NEON is the caller's promise; `x` has exactly 256 floats, every store
        // writes inside `b`.
        unsafe {
            // Two passes over memory (max, then quantize) rather than 64 vectors on the stack.
            let (xc, _) = x.as_chunks::<16>();
            let mut m = vdupq_n_f32(0.0);
            for c in xc {
                for &v in &load_block::<4>(c) {
                    m = vmaxq_f32(m, vabsq_f32(v));
                }
            }
            let amax = vmaxvq_f32(m);
            if amax == 0.0 {
                b.d = 0.0;
                b.qs = [0; QK_K];
                b.bsums = [0; QK_K / 16];
                continue;
            }
            // The signed value of the first element of largest magnitude (the reference's
            // first-wins rule); a NaN `amax` finds none and falls back below.
            let max = x.iter().copied().find(|v| v.abs() == amax);
            let iscale = max
                .map(|m| -127.0 / m)
                .filter(|s| amax.is_finite() && s.is_finite());
            let Some(iscale) = iscale else {
                reference::quantize_row_q8_k(x, core::slice::from_mut(b));
                continue;
            };
            let (out, _) = b.qs.as_chunks_mut::<16>();
            let max127 = vdupq_n_s32(127);
            for (j, (o, c)) in out.iter_mut().zip(xc).enumerate() {
                let v = load_block::<4>(c);
                let q = v.map(|v| vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(v, iscale)), max127));
                let lo = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
                let hi = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
                let q8 = vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi));
                vst1q_s8(o.as_mut_ptr(), q8);
                b.bsums[j] = vaddlvq_s8(q8);
            }
            b.d = 1.0 / iscale;
        }
    }
}
