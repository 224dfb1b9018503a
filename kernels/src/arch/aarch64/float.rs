//! f32 / f16 / bf16 dot products with NEON, bit-identical to `reference::vec_dot_f32` and
//! friends: the reference specifies 8 interleaved partial sums (element `i` into lane
//! `i % 8`), products and sums unfused, lanes then added in order 0..8, then the tail in
//! order. Two `float32x4_t` accumulators are exactly those 8 lanes.
//!
//! Widening f16 (`fcvtl`, base ARMv8 AdvSIMD; no FEAT_FP16 needed) and bf16 (shift left by
//! 16) is exact, so these equal the reference for every input. Needs NEON only.

use core::arch::aarch64::*;

use half::{bf16, f16};

use super::simd::{f16x4_to_f32, load_f32};

/// The reference's 8-lane sum over `n8` full groups of 8 (`lanes(g)` = products of group `g`,
/// lanes 0..4 and 4..8), then the tail products `tail(i)` for `i` in `8*n8..n`.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
unsafe fn dot8(
    n: usize,
    mut lanes: impl FnMut(usize) -> (float32x4_t, float32x4_t),
    mut tail: impl FnMut(usize) -> f32,
) -> f32 {
    let n8 = n / 8;
    // SAFETY: NEON is the caller's promise; register-only operations and lane stores into a
    // local array.
    let acc = unsafe {
        let mut a0 = vdupq_n_f32(0.0);
        let mut a1 = vdupq_n_f32(0.0);
        for g in 0..n8 {
            let (p0, p1) = lanes(g);
            a0 = vaddq_f32(a0, p0);
            a1 = vaddq_f32(a1, p1);
        }
        let mut acc = [0.0f32; 8];
        vst1q_f32(acc.as_mut_ptr(), a0);
        vst1q_f32(acc.as_mut_ptr().add(4), a1);
        acc
    };
    let mut sum = 0.0f32;
    for a in acc {
        sum += a;
    }
    for i in 8 * n8..n {
        sum += tail(i);
    }
    sum
}

/// NEON `vec_dot_f32` (bit-identical to the reference).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != y.len()`.
#[inline(always)]
pub(super) unsafe fn vec_dot_f32(x: &[f32], y: &[f32]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_f32: length mismatch");
    let (xc, _) = x.as_chunks::<4>();
    let (yc, _) = y.as_chunks::<4>();
    // SAFETY: NEON is the caller's promise; group `g < n/8` reads chunks `2g, 2g+1 < n/4`.
    unsafe {
        dot8(
            x.len(),
            |g| {
                let p0 = vmulq_f32(load_f32(&xc[2 * g]), load_f32(&yc[2 * g]));
                let p1 = vmulq_f32(load_f32(&xc[2 * g + 1]), load_f32(&yc[2 * g + 1]));
                (p0, p1)
            },
            |i| x[i] * y[i],
        )
    }
}

/// NEON `vec_dot_f16_f32` (bit-identical to the reference).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != y.len()`.
#[inline(always)]
pub(super) unsafe fn vec_dot_f16_f32(x: &[f16], y: &[f32]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_f16_f32: length mismatch");
    let (xc, _) = x.as_chunks::<8>();
    let (yc, _) = y.as_chunks::<4>();
    // SAFETY: NEON is the caller's promise; `f16` is a `#[repr(transparent)]` u16, so an
    // 8-half chunk is 8 readable u16; group `g` reads x chunk `g` and y chunks `2g, 2g+1`.
    unsafe {
        dot8(
            x.len(),
            |g| {
                let h = vld1q_u16(xc[g].as_ptr().cast::<u16>());
                let p0 = vmulq_f32(f16x4_to_f32(vget_low_u16(h)), load_f32(&yc[2 * g]));
                let p1 = vmulq_f32(f16x4_to_f32(vget_high_u16(h)), load_f32(&yc[2 * g + 1]));
                (p0, p1)
            },
            |i| x[i].to_f32() * y[i],
        )
    }
}

/// NEON `vec_dot_bf16_f32` (bit-identical to the reference).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != y.len()`.
#[inline(always)]
pub(super) unsafe fn vec_dot_bf16_f32(x: &[bf16], y: &[f32]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_bf16_f32: length mismatch");
    let (xc, _) = x.as_chunks::<8>();
    let (yc, _) = y.as_chunks::<4>();
    // SAFETY: NEON is the caller's promise; `bf16` is a `#[repr(transparent)]` u16, so an
    // 8-value chunk is 8 readable u16; group `g` reads x chunk `g` and y chunks `2g, 2g+1`.
    unsafe {
        dot8(
            x.len(),
            |g| {
                let h = vld1q_u16(xc[g].as_ptr().cast::<u16>());
                let lo = vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_low_u16(h)));
                let hi = vreinterpretq_f32_u32(vshll_high_n_u16::<16>(h));
                (
                    vmulq_f32(lo, load_f32(&yc[2 * g])),
                    vmulq_f32(hi, load_f32(&yc[2 * g + 1])),
                )
            },
            |i| f32::from_bits(u32::from(x[i].to_bits()) << 16) * y[i],
        )
    }
}
