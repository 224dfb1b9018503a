//! Weight blocks unpacked to signed 8-bit lanes, and their exact integer dot products with
//! one activation block: the integer half of "unpack the weight block once, dot it with one
//! or more activation blocks, scale in f32" (`formats.rs` adds the scaling, `tiles.rs` the
//! loops).
//!
//! The integer results are vectors whose four i32 lanes sum to the block's integer sum
//! (reduce one with `vaddvq_s32`, four at once with `simd::hsum4`). Every such sum is exactly
//! the reference's integer block sum: products are formed
//! by [`I8Dot`], which never overflows, and all sums stay within i32 (largest: Q6_K,
//! `16 sub-blocks × |scale| 128 × 16 × 32 × 128 < 2^27`).

use core::arch::aarch64::*;

use super::simd::{I8Dot, chunk, load_i8, load_u8, nibbles};
use crate::blocks::{
    BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K, BlockQ8_0, BlockQ8K,
};

/// 32 weights of a Q4_0/Q4_1/Q5_0/Q8_0 block as i8 lanes: `[w0..16, w16..32]`.
pub(super) type Unpacked32 = [int8x16_t; 2];

/// 256 weights of a K-quant super-block as i8 lanes, 16 per vector, in weight order.
pub(super) type Unpacked256 = [int8x16_t; 16];

/// Q4_0 weights `q - 8` (in -8..=7).
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn q4_0(b: &BlockQ4_0) -> Unpacked32 {
    // SAFETY: NEON is the caller's promise; loads read whole arrays.
    unsafe {
        let (lo, hi) = nibbles(load_u8(&b.qs));
        let eight = vdupq_n_s8(8);
        [
            vsubq_s8(vreinterpretq_s8_u8(lo), eight),
            vsubq_s8(vreinterpretq_s8_u8(hi), eight),
        ]
    }
}

/// Q4_1 weights `q` (in 0..=15); the block minimum is applied in f32 through `Q8_1::s`.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn q4_1(b: &BlockQ4_1) -> Unpacked32 {
    // SAFETY: NEON is the caller's promise; loads read whole arrays.
    unsafe {
        let (lo, hi) = nibbles(load_u8(&b.qs));
        [vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi)]
    }
}

/// Q5_0 weights `q - 16` (in -16..=15): bit 4 of weight `j` is bit `j` of `qh` (little endian).
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn q5_0(b: &BlockQ5_0) -> Unpacked32 {
    // SAFETY: NEON is the caller's promise; loads read whole arrays.
    unsafe {
        let (lo, hi) = nibbles(load_u8(&b.qs));
        // Lane i of a 16-lane group tests bit (i % 8) of qh byte (group*2 + i / 8).
        const BITS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
        let bits = load_u8(&BITS);
        let qh = b.qh;
        let h0 = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
        let h1 = vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3]));
        let sixteen = vdupq_n_u8(0x10);
        let w0 = vorrq_u8(lo, vandq_u8(vtstq_u8(h0, bits), sixteen));
        let w1 = vorrq_u8(hi, vandq_u8(vtstq_u8(h1, bits), sixteen));
        let off = vdupq_n_s8(16);
        [
            vsubq_s8(vreinterpretq_s8_u8(w0), off),
            vsubq_s8(vreinterpretq_s8_u8(w1), off),
        ]
    }
}

/// Q8_0 weights as stored (any i8, `-128` included).
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn q8_0(b: &BlockQ8_0) -> Unpacked32 {
    // SAFETY: NEON is the caller's promise; loads read whole arrays.
    unsafe { [load_i8(chunk(&b.qs, 0)), load_i8(chunk(&b.qs, 1))] }
}

/// `Σ w[i] * y[i]` (as lanes) over one 32-weight block whose weights are all in -127..=127.
///
/// # Safety
/// NEON and `D`'s features; no lane of `w` is -128.
#[inline(always)]
pub(super) unsafe fn isum32_bounded<D: I8Dot>(w: &Unpacked32, y: &[i8; 32]) -> int32x4_t {
    // SAFETY: the caller's promises, forwarded.
    unsafe {
        let acc = D::dot_bounded(vdupq_n_s32(0), w[0], load_i8(chunk(y, 0)));
        D::dot_bounded(acc, w[1], load_i8(chunk(y, 1)))
    }
}

/// `Σ w[i] * y[i]` (as lanes) over one 32-weight block, any i8 weights.
///
/// # Safety
/// NEON and `D`'s features.
#[inline(always)]
pub(super) unsafe fn isum32<D: I8Dot>(w: &Unpacked32, y: &[i8; 32]) -> int32x4_t {
    // SAFETY: the caller's promises, forwarded.
    unsafe {
        let acc = D::dot(vdupq_n_s32(0), w[0], load_i8(chunk(y, 0)));
        D::dot(acc, w[1], load_i8(chunk(y, 1)))
    }
}

/// `Σ_j mins[j] * (bsums[2j] + bsums[2j+1])` (as lanes): the integer part of a Q4_K/Q5_K block's
/// minimum term, from the activation's precomputed 16-quant sums (widened to i32 before any
/// addition, since `bsums` is arbitrary i16 data).
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn mins_dot_bsums(mins: &[u8; 8], bsums: &[i16; 16]) -> int32x4_t {
    // SAFETY: NEON is the caller's promise; loads read whole arrays.
    unsafe {
        let (b, _) = bsums.as_chunks::<8>();
        let s0 = vpaddlq_s16(vld1q_s16(b[0].as_ptr()));
        let s1 = vpaddlq_s16(vld1q_s16(b[1].as_ptr()));
        let m = vmovl_u8(vld1_u8(mins.as_ptr()));
        let m0 = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(m)));
        let m1 = vreinterpretq_s32_u32(vmovl_high_u16(m));
        vmlaq_s32(vmulq_s32(s0, m0), s1, m1)
    }
}

/// Q4_K weights `q` (0..=15) in weight order: 32-byte group `g` of `qs` holds sub-block `2g`
/// in its low nibbles and `2g+1` in its high nibbles.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn q4_k(b: &BlockQ4K) -> Unpacked256 {
    // SAFETY: NEON is the caller's promise; loads read whole arrays.
    unsafe {
        let mut w = [vdupq_n_s8(0); 16];
        for g in 0..4 {
            let (l0, h0) = nibbles(load_u8(chunk(&b.qs, 2 * g)));
            let (l1, h1) = nibbles(load_u8(chunk(&b.qs, 2 * g + 1)));
            w[4 * g] = vreinterpretq_s8_u8(l0);
            w[4 * g + 1] = vreinterpretq_s8_u8(l1);
            w[4 * g + 2] = vreinterpretq_s8_u8(h0);
            w[4 * g + 3] = vreinterpretq_s8_u8(h1);
        }
        w
    }
}

/// Q5_K weights `q` (0..=31) in weight order: as Q4_K plus bit 4 of weight `32*j + i` from
/// bit `j` of `qh[i]`.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn q5_k(b: &BlockQ5K) -> Unpacked256 {
    // SAFETY: NEON is the caller's promise; loads read whole arrays.
    unsafe {
        let qh = [load_u8(chunk(&b.qh, 0)), load_u8(chunk(&b.qh, 1))];
        let sixteen = vdupq_n_u8(0x10);
        let mut w = [vdupq_n_s8(0); 16];
        for g in 0..4 {
            let (l0, h0) = nibbles(load_u8(chunk(&b.qs, 2 * g)));
            let (l1, h1) = nibbles(load_u8(chunk(&b.qs, 2 * g + 1)));
            let lo_bit = vdupq_n_u8(1 << (2 * g));
            let hi_bit = vdupq_n_u8(2 << (2 * g));
            let high = |q: uint8x16_t, bit: uint8x16_t| vandq_u8(vtstq_u8(q, bit), sixteen);
            w[4 * g] = vreinterpretq_s8_u8(vorrq_u8(l0, high(qh[0], lo_bit)));
            w[4 * g + 1] = vreinterpretq_s8_u8(vorrq_u8(l1, high(qh[1], lo_bit)));
            w[4 * g + 2] = vreinterpretq_s8_u8(vorrq_u8(h0, high(qh[0], hi_bit)));
            w[4 * g + 3] = vreinterpretq_s8_u8(vorrq_u8(h1, high(qh[1], hi_bit)));
        }
        w
    }
}

/// Q6_K weights `q - 32` (-32..=31) in weight order. Each 128-weight half `h` reads 64 bytes
/// of `ql` (low 4 bits) and 32 bytes of `qh` (2 high bits, four weights per byte) as ggml's
/// `dequantize_row_q6_K` does.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn q6_k(b: &BlockQ6K) -> Unpacked256 {
    // SAFETY: NEON is the caller's promise; loads read whole arrays.
    unsafe {
        let mask4 = vdupq_n_u8(0x0f);
        let mask2 = vdupq_n_u8(0x30);
        let off = vdupq_n_s8(32);
        let mut w = [vdupq_n_s8(0); 16];
        for h in 0..2 {
            let c = [0, 1, 2, 3].map(|i| load_u8(chunk(&b.ql, 4 * h + i)));
            let q = [0, 1].map(|i| load_u8(chunk(&b.qh, 2 * h + i)));
            // The two high bits for each of the four 32-weight rows of this half, at bits 4..6.
            let hb = [
                [
                    vandq_u8(vshlq_n_u8::<4>(q[0]), mask2),
                    vandq_u8(vshlq_n_u8::<4>(q[1]), mask2),
                ],
                [
                    vandq_u8(vshlq_n_u8::<2>(q[0]), mask2),
                    vandq_u8(vshlq_n_u8::<2>(q[1]), mask2),
                ],
                [vandq_u8(q[0], mask2), vandq_u8(q[1], mask2)],
                [
                    vandq_u8(vshrq_n_u8::<2>(q[0]), mask2),
                    vandq_u8(vshrq_n_u8::<2>(q[1]), mask2),
                ],
            ];
            let low = [
                [vandq_u8(c[0], mask4), vandq_u8(c[1], mask4)],
                [vandq_u8(c[2], mask4), vandq_u8(c[3], mask4)],
                [vshrq_n_u8::<4>(c[0]), vshrq_n_u8::<4>(c[1])],
                [vshrq_n_u8::<4>(c[2]), vshrq_n_u8::<4>(c[3])],
            ];
            for r in 0..4 {
                for k in 0..2 {
                    let v = vorrq_u8(low[r][k], hb[r][k]);
                    w[8 * h + 2 * r + k] = vsubq_s8(vreinterpretq_s8_u8(v), off);
                }
            }
        }
        w
    }
}

/// `Σ_j scale[j] * Σ_{i in sub-block j} w[i] * y[i]` (as lanes) over a super-block with 8 sub-blocks of
/// 32 (Q4_K, Q5_K; scales 0..=63, weights 0..=31).
///
/// # Safety
/// NEON and `D`'s features.
#[inline(always)]
pub(super) unsafe fn isum256_scaled32<D: I8Dot>(
    w: &Unpacked256,
    scales: &[u8; 8],
    y: &BlockQ8K,
) -> int32x4_t {
    // SAFETY: the caller's promises, forwarded; weights are in 0..=31, so bounded.
    unsafe {
        let mut acc = vdupq_n_s32(0);
        for j in 0..8 {
            let p = D::dot_bounded(vdupq_n_s32(0), w[2 * j], load_i8(chunk(&y.qs, 2 * j)));
            let p = D::dot_bounded(p, w[2 * j + 1], load_i8(chunk(&y.qs, 2 * j + 1)));
            acc = vmlaq_n_s32(acc, p, i32::from(scales[j]));
        }
        acc
    }
}

/// `Σ_j scale[j] * Σ_{i in sub-block j} w[i] * y[i]` (as lanes) over a super-block with 16 sub-blocks of
/// 16 (Q6_K; signed scales, weights -32..=31).
///
/// # Safety
/// NEON and `D`'s features.
#[inline(always)]
pub(super) unsafe fn isum256_scaled16<D: I8Dot>(
    w: &Unpacked256,
    scales: &[i8; 16],
    y: &BlockQ8K,
) -> int32x4_t {
    // SAFETY: the caller's promises, forwarded; weights are in -32..=31, so bounded.
    unsafe {
        let mut acc = vdupq_n_s32(0);
        for j in 0..16 {
            let p = D::dot_bounded(vdupq_n_s32(0), w[j], load_i8(chunk(&y.qs, j)));
            acc = vmlaq_n_s32(acc, p, i32::from(scales[j]));
        }
        acc
    }
}
