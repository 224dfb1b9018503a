//! GEMMs over the K-quant rows8 layouts (Q4_K, Q6_K; `crate::rows8::k_quants`) on the
//! aarch64 tiers, with the legacy formats' [`LaneDot`] (`sdot` by element, or `smlal` against
//! a broadcast): chunk `c` of the 8 rows is 32 bytes, rows 0–3 then rows 4–7, so it loads as
//! two weight registers whose lane `i` is row `4h + i`, and the integer sums of 8 rows come
//! out in the lanes of two registers.
//!
//! - **Q4_K.** Group `g` (64 weights) is 8 chunks = 16 registers; their low nibbles are
//!   sub-block `2g` and their high nibbles sub-block `2g + 1`, each against 32 activation
//!   bytes — exactly the 16-register block of the legacy formats ([`LaneDot::sums_u5`]).
//!   Each sub-block's sum times its 6-bit scale (`mla`), the mins against the `bsums` pairs
//!   (`smlal` by lane).
//! - **Q6_K.** Sub-block `j` (16 weights) is 4 chunks = 8 registers: the `ql` nibble with the
//!   two `qh` bits inserted above it (`bsl`), unsigned `0..=63`, against 16 activation bytes
//!   ([`LaneDot::sums16_u6`]) from the start value `-32 Σ y` (computed once per GEMM call,
//!   token and super-block from the quants, as the reference does), times the signed scale.
//!
//! Then the reference's float step (`add_k_min_block` / `step_q6_k_q8_k`: multiplies, a
//! subtraction and an addition, nothing fused) on the exact integer sums, super-block after
//! super-block, so every output equals the reference `vec_dot` of its row bit for bit, as the
//! x86-64 tiers' K-quant rows8 kernels do.

use core::arch::aarch64::*;

use super::rows8::{LaneDot, act, scales8, store8};
use crate::blocks::BlockQ8K;
use crate::parts::ColumnsMut;
use crate::rows8::{BlockQ4Kx8, BlockQ6Kx8, ROWS8, gemm_geometry};

/// Tokens per pass (each weight register serves up to 4 tokens).
const TOKENS: usize = 4;

/// Activation super-blocks per Q6_K prep buffer: rows of up to `32 · 256 = 8192` columns
/// are prepared once per GEMM call and token, longer ones once per group and span.
const PREP_BLOCKS: usize = 32;

/// Accumulators of one group: rows 0–3 and 4–7, per token.
type Acc = [[float32x4_t; 2]; TOKENS];

/// 8 unsigned bytes (one per row) as two i32 vectors (rows 0–3, 4–7).
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn widen_u8(v: uint8x8_t) -> [int32x4_t; 2] {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe {
        let w = vmovl_u8(v);
        [
            vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w))),
            vreinterpretq_s32_u32(vmovl_high_u16(w)),
        ]
    }
}

/// `acc[h] += s[h] · sc[h]` (exact: `|sum| < 2^28`).
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn mla2(acc: [int32x4_t; 2], s: [int32x4_t; 2], sc: &[int32x4_t; 2]) -> [int32x4_t; 2] {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe {
        [
            vmlaq_s32(acc[0], s[0], sc[0]),
            vmlaq_s32(acc[1], s[1], sc[1]),
        ]
    }
}

// ------------------------------------------------------------------------------------ Q4_K

/// The 8 rows' 6-bit scales `sc[j]` and mins `m[j]` (one byte per row), decoded from the
/// transposed packed bytes as ggml's `get_scale_min_k4` does.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn scales_mins8(x: &BlockQ4Kx8) -> ([uint8x8_t; 8], [uint8x8_t; 8]) {
    // SAFETY: each `scales[k]` is 8 readable bytes; NEON is the caller's promise.
    unsafe {
        let b = |k: usize| vld1_u8(x.scales[k].as_ptr());
        let (m63, m15) = (vdup_n_u8(63), vdup_n_u8(15));
        let top2 = |v: uint8x8_t| vshl_n_u8::<4>(vshr_n_u8::<6>(v));
        let mut sc = [vdup_n_u8(0); 8];
        let mut m = [vdup_n_u8(0); 8];
        for j in 0..4 {
            sc[j] = vand_u8(b(j), m63);
            m[j] = vand_u8(b(j + 4), m63);
        }
        for j in 4..8 {
            let low = b(j + 4);
            sc[j] = vorr_u8(vand_u8(low, m15), top2(b(j - 4)));
            m[j] = vorr_u8(vshr_n_u8::<4>(low), top2(b(j)));
        }
        (sc, m)
    }
}

/// `Σ_j m[j] · (bsums[2j] + bsums[2j + 1])` for the 8 rows (two i32 vectors), exactly: the
/// pair sums are at most `2 · 16 · 128` and fit i16.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn mins_dot_bsums(m: &[int16x8_t; 8], bsums: &[i16; 16]) -> [int32x4_t; 2] {
    // SAFETY: `bsums` is 32 readable bytes; NEON is the caller's promise.
    unsafe {
        let pairs = vpaddq_s16(vld1q_s16(bsums.as_ptr()), vld1q_s16(bsums.as_ptr().add(8)));
        let (mut lo, mut hi) = (vdupq_n_s32(0), vdupq_n_s32(0));
        macro_rules! pair {
            ($($j:literal)*) => {$(
                lo = vmlal_laneq_s16::<$j>(lo, vget_low_s16(m[$j]), pairs);
                hi = vmlal_high_laneq_s16::<$j>(hi, m[$j], pairs);
            )*};
        }
        pair!(0 1 2 3 4 5 6 7);
        [lo, hi]
    }
}

/// `acc[t]` += every super-block of one group's span `w` against token `t`.
///
/// # Safety
/// NEON and `D`'s features.
#[inline(always)]
unsafe fn tile_q4_k<D: LaneDot, const T: usize>(
    w: &[BlockQ4Kx8],
    x: [&[BlockQ8K]; T],
    acc: &mut Acc,
) {
    let x = x.map(|x| &x[..w.len()]);
    // SAFETY: NEON and `D`'s features are the caller's promise; every load is from a
    // reference of the loaded size.
    unsafe {
        let nib = vdupq_n_u8(0x0f);
        for (b, x8) in w.iter().enumerate() {
            let (sc, m) = scales_mins8(x8);
            let zero = vdupq_n_s32(0);
            let mut sumi = [[zero; 2]; T];
            let (groups, _) = x8.qs.as_chunks::<256>();
            for (g, qs) in groups.iter().enumerate() {
                let (regs, _) = qs.as_chunks::<16>();
                for half in 0..2 {
                    let j = 2 * g + half;
                    // Plain loops over the registers: `array::from_fn`/`map` closures are
                    // not always inlined into kernels this size.
                    let mut q = [vdupq_n_s8(0); 16];
                    for (q, r) in q.iter_mut().zip(regs) {
                        let v = vld1q_u8(r.as_ptr());
                        *q = vreinterpretq_s8_u8(if half == 0 {
                            vandq_u8(v, nib)
                        } else {
                            vshrq_n_u8::<4>(v)
                        });
                    }
                    let scj = widen_u8(sc[j]);
                    for (t, sumi) in sumi.iter_mut().enumerate() {
                        let (ys, _) = x[t][b].qs.as_chunks::<32>();
                        let s = D::sums_u5(zero, &q, act(&ys[j]));
                        *sumi = mla2(*sumi, s, &scj);
                    }
                }
            }
            let (d, dmin) = (scales8(&x8.d), scales8(&x8.dmin));
            let mut mw = [vdupq_n_s16(0); 8];
            for (mw, m) in mw.iter_mut().zip(m) {
                *mw = vreinterpretq_s16_u16(vmovl_u8(m));
            }
            for (t, sumi) in sumi.iter().enumerate() {
                let y = &x[t][b];
                let summ = mins_dot_bsums(&mw, &y.bsums);
                for h in 0..2 {
                    let a = vmulq_f32(vmulq_n_f32(d[h], y.d), vcvtq_f32_s32(sumi[h]));
                    let mm = vmulq_f32(vmulq_n_f32(dmin[h], y.d), vcvtq_f32_s32(summ[h]));
                    acc[t][h] = vaddq_f32(acc[t][h], vsubq_f32(a, mm));
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------ Q6_K

/// `-32 Σ y` of each 16-quant sub-block of a Q8_K block, from the quants.
#[derive(Clone, Copy)]
struct PrepQ6 {
    neg_off: [i32; 16],
}

/// [`PrepQ6`] of one activation super-block.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn prep_q6(y: &BlockQ8K) -> PrepQ6 {
    let (q, _) = y.qs.as_chunks::<16>();
    PrepQ6 {
        // SAFETY: each chunk is 16 readable bytes; NEON is the caller's promise.
        neg_off: core::array::from_fn(|j| unsafe {
            -32 * i32::from(vaddlvq_s8(vld1q_s8(q[j].as_ptr())))
        }),
    }
}

/// Sub-block `J` (16 weights) of a Q6_K x8-block as 8 weight registers `w[2r + h]` (chunk
/// `r`, rows `4h..4h+4`), unsigned 6-bit quants: weights `128·half + 32s + l0 + 4r` with
/// `half = J / 8`, `s = J % 8 / 2`, `l0 = 16 (J % 2)` take their low 4 bits from `ql` chunk
/// `16·half + 8 (s % 2) + l0/4 + r` (high nibbles when `s >= 2`) and bits 4–5 from bits
/// `2s, 2s+1` of `qh` chunk `8·half + l0/4 + r` (the layout docs).
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn q6_sub8<const J: usize>(x: &BlockQ6Kx8) -> [int8x16_t; 8] {
    let (half, s, c0) = (J / 8, J % 8 / 2, 4 * (J % 2));
    let (ql, _) = x.ql.as_chunks::<16>();
    let (qh, _) = x.qh.as_chunks::<16>();
    // SAFETY: each chunk is 16 readable bytes; NEON is the caller's promise.
    unsafe {
        let (nib, top) = (vdupq_n_u8(0x0f), vdupq_n_u8(0x30));
        let mut w = [vdupq_n_s8(0); 8];
        for (i, w) in w.iter_mut().enumerate() {
            let (c, h) = (c0 + i / 2, i % 2);
            let v = vld1q_u8(ql[2 * (16 * half + 8 * (s % 2) + c) + h].as_ptr());
            let lo = if s >= 2 {
                vshrq_n_u8::<4>(v)
            } else {
                vandq_u8(v, nib)
            };
            let hb = vld1q_u8(qh[2 * (8 * half + c) + h].as_ptr());
            // Bits `2s, 2s+1` of `qh` to bits 4, 5.
            let hb = match s {
                0 => vshlq_n_u8::<4>(hb),
                1 => vshlq_n_u8::<2>(hb),
                2 => hb,
                _ => vshrq_n_u8::<2>(hb),
            };
            *w = vreinterpretq_s8_u8(vbslq_u8(top, hb, lo));
        }
        w
    }
}

/// `acc[t]` += every super-block of one group's span `w` against token `t`, whose
/// super-blocks' [`PrepQ6`] are `p[t]`.
///
/// # Safety
/// NEON and `D`'s features.
#[inline(always)]
unsafe fn tile_q6_k<D: LaneDot, const T: usize>(
    w: &[BlockQ6Kx8],
    x: [&[BlockQ8K]; T],
    p: [&[PrepQ6]; T],
    acc: &mut Acc,
) {
    let (x, p) = (x.map(|x| &x[..w.len()]), p.map(|p| &p[..w.len()]));
    // SAFETY: NEON and `D`'s features are the caller's promise; every load is from a
    // reference of the loaded size.
    unsafe {
        for (b, x8) in w.iter().enumerate() {
            let mut sumi = [[vdupq_n_s32(0); 2]; T];
            macro_rules! sub_block {
                ($($j:literal)*) => {$({
                    let q = q6_sub8::<$j>(x8);
                    let sc = vmovl_s8(vld1_s8(x8.scales[$j].as_ptr()));
                    let sc = [vmovl_s16(vget_low_s16(sc)), vmovl_high_s16(sc)];
                    for (t, sumi) in sumi.iter_mut().enumerate() {
                        let (ys, _) = x[t][b].qs.as_chunks::<16>();
                        let start = vld1q_dup_s32(&p[t][b].neg_off[$j]);
                        let s = D::sums16_u6(start, &q, vld1q_s8(ys[$j].as_ptr()));
                        *sumi = mla2(*sumi, s, &sc);
                    }
                })*};
            }
            sub_block!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
            let d = scales8(&x8.d);
            for (t, sumi) in sumi.iter().enumerate() {
                for h in 0..2 {
                    let dd = vmulq_n_f32(d[h], x[t][b].d);
                    acc[t][h] = vaddq_f32(acc[t][h], vmulq_f32(dd, vcvtq_f32_s32(sumi[h])));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------- driver

/// The first `T` of `a` (`T <= TOKENS`).
#[inline(always)]
fn first<X: Copy, const T: usize>(a: &[X; TOKENS]) -> [X; T] {
    core::array::from_fn(|t| a[t])
}

/// The rows8 GEMM contract (`crate::dispatch::Rows8GemmFn`) for a K-quant: tokens in chunks
/// of up to [`TOKENS`], each chunk walking every group once in spans of [`PREP_BLOCKS`]
/// super-blocks; `tile(ws, xs, tt, span, g, acc)` adds the span `ws` of group `g` against
/// the first `tt` token slices `xs` (the others empty) to `acc`.
///
/// # Panics
/// On a geometry that breaks the contract ([`gemm_geometry`]).
#[inline(always)]
fn drive<W>(
    w: &[W],
    x: &[BlockQ8K],
    nb: usize,
    out: &mut ColumnsMut<'_>,
    mut tile: impl FnMut(&[W], [&[BlockQ8K]; TOKENS], usize, usize, &mut Acc),
) {
    let (groups, nt, _) = gemm_geometry(w.len(), x.len(), nb, out);
    let mut t0 = 0;
    while t0 < nt {
        let tt = (nt - t0).min(TOKENS);
        for g in 0..groups {
            let wg = &w[g * nb..(g + 1) * nb];
            // SAFETY: this module's functions run on NEON tiers only.
            let mut acc = [[unsafe { vdupq_n_f32(0.0) }; 2]; TOKENS];
            let mut b0 = 0;
            while b0 < nb {
                let b1 = (b0 + PREP_BLOCKS).min(nb);
                let xs: [&[BlockQ8K]; TOKENS] = core::array::from_fn(|t| {
                    if t < tt {
                        &x[(t0 + t) * nb + b0..(t0 + t) * nb + b1]
                    } else {
                        &[]
                    }
                });
                tile(&wg[b0..b1], xs, tt, g, &mut acc);
                b0 = b1;
            }
            for (t, v) in acc.iter().enumerate().take(tt) {
                // SAFETY: as above.
                unsafe { store8(&mut out.row_mut(t0 + t)[g * ROWS8..], v) };
            }
        }
        t0 += tt;
    }
}

// The tile closures are `#[inline(always)]`, like everything between a tier's
// `#[target_feature]` entry point and the `sdot` assembly: a closure does not inherit the
// features of the function it is inlined into, and an out-of-line copy could not hold `sdot`.

/// Rows8 Q4_K × Q8_K GEMM with the lane dot `D` (contract of
/// [`crate::rows8::gemm_q4_kx8_q8_k`]; the reference's bits).
///
/// # Safety
/// NEON and `D`'s features.
#[inline(always)]
pub(super) unsafe fn gemm_q4_k<D: LaneDot>(
    w: &[BlockQ4Kx8],
    x: &[BlockQ8K],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
    drive(
        w,
        x,
        nb,
        out,
        #[inline(always)]
        |ws, xs, tt, _, acc| {
            // SAFETY: the caller's promise.
            unsafe {
                match tt {
                    1 => tile_q4_k::<D, 1>(ws, first(&xs), acc),
                    2 => tile_q4_k::<D, 2>(ws, first(&xs), acc),
                    3 => tile_q4_k::<D, 3>(ws, first(&xs), acc),
                    _ => tile_q4_k::<D, TOKENS>(ws, xs, acc),
                }
            }
        },
    )
}

/// Rows8 Q6_K × Q8_K GEMM with the lane dot `D` (contract of
/// [`crate::rows8::gemm_q6_kx8_q8_k`]; the reference's bits).
///
/// # Safety
/// NEON and `D`'s features.
#[inline(always)]
pub(super) unsafe fn gemm_q6_k<D: LaneDot>(
    w: &[BlockQ6Kx8],
    x: &[BlockQ8K],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
    let mut prep = [[PrepQ6 { neg_off: [0; 16] }; PREP_BLOCKS]; TOKENS];
    drive(
        w,
        x,
        nb,
        out,
        #[inline(always)]
        |ws, xs, tt, g, acc| {
            // SAFETY: the caller's promise.
            unsafe {
                if g == 0 || nb > PREP_BLOCKS {
                    for (row, xs) in prep.iter_mut().zip(xs).take(tt) {
                        for (p, y) in row.iter_mut().zip(xs) {
                            *p = prep_q6(y);
                        }
                    }
                }
                let n = ws.len();
                let ps: [&[PrepQ6]; TOKENS] = core::array::from_fn(|t| &prep[t][..n]);
                match tt {
                    1 => tile_q6_k::<D, 1>(ws, first(&xs), first(&ps), acc),
                    2 => tile_q6_k::<D, 2>(ws, first(&xs), first(&ps), acc),
                    3 => tile_q6_k::<D, 3>(ws, first(&xs), first(&ps), acc),
                    _ => tile_q6_k::<D, TOKENS>(ws, xs, ps, acc),
                }
            }
        },
    )
}
