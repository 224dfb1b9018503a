//! GEMMs over the interleaved rows8 layout ([`crate::rows8`]) on the aarch64 tiers.
//!
//! In an x8-block, chunk `c` (4 quant bytes) of the 8 rows sits side by side: 16 bytes for
//! rows 0–3 and 16 for rows 4–7. One 128-bit register of weights is therefore 4 rows × 4
//! columns, and the by-element dot `sdot v.4s, w.16b, a.4b[L]` sums lane `i` = row `i`'s
//! 4 products with activation bytes `4L..4L+4`: a block's 8 integer sums come out in the
//! lanes of two registers, with no horizontal reduction ([`LaneDot`]; the NEON tier without
//! FEAT_DotProd does the same with `smlal` against a broadcast of the 4 bytes).
//!
//! A block's weights are 16 registers `w[2k + h]`: weight chunk `k` (columns `4k..4k+4` of
//! the block) of rows `4h..4h+4`. For Q8_0 that is the quant chunk `k`; for the 4-bit formats
//! chunk `k < 4` is the low nibbles of quant chunk `k` and chunk `4 + k` the high nibbles,
//! ggml's nibble order; Q5_0 adds its fifth bits to those nibbles ([`add_fifth_bits`]).
//! Weights stay unsigned (0..=15, Q5_0 0..=31); Q4_0's `- 8` and Q5_0's `- 16` are folded
//! into the integer sum's start value `-8 Σ y` / `-16 Σ y`, computed once per activation
//! block and GEMM call ([`Prep`]).
//!
//! **Bits.** Each lane then takes the reference's block step (`reference::vec_dot::step_*`,
//! `fmla` where it fuses) on an exactly equal integer sum, block after block: every output
//! equals the reference
//! `vec_dot` of its de-interleaved row bit for bit, whatever the tokens per tile, the
//! groups per call or the thread split — like every other aarch64 kernel.

use core::arch::aarch64::*;
use core::mem::MaybeUninit;

use half::f16;

use super::simd::{f16_to_f32, f16x4_to_f32, f16x8_high_to_f32, load_i8};
use crate::blocks::{BlockQ8_0, BlockQ8_1};
use crate::parts::ColumnsMut;
use crate::rows8::{BlockQ4_0x8, BlockQ4_1x8, BlockQ5_0x8, BlockQ8_0x8, ROWS8, gemm_geometry};

/// A block's 8 integer sums from its 16 weight registers (see the module docs) and the
/// activation block's two quant registers `a[0]` (columns 0..16) and `a[1]` (16..32): lane
/// `i` of result `h` is `start` + row `4h + i`'s `Σ w·y`. Exact for every input the method
/// admits.
pub(super) trait LaneDot {
    /// Whether one-token passes over unpacked (4-bit) weights take two groups at once
    /// ([`tile_pair`]; loaded-as-is Q8_0 weights always do). With `sdot` they do not: LLVM
    /// hoists both groups' nibble unpacking and spills, and a paired pass costs more than
    /// two single ones (SmolLM2 Q4_0 decode on cortex-a76, per token: Q4_0 GEMMs 25.7 M
    /// instructions paired, 24.2 M single). With `smlal` pairing wins (cortex-a53: 49.0 M
    /// per token paired, 51.0 M single).
    const PAIRS_UNPACKED: bool;

    /// For weights in `0..=31` (unsigned nibbles, or Q5_0's nibble plus fifth bit).
    ///
    /// # Safety
    /// NEON and the implementor's features.
    unsafe fn sums_u5(start: int32x4_t, w: &[int8x16_t; 16], a: [int8x16_t; 2]) -> [int32x4_t; 2];

    /// For any i8 weights, `-128` included.
    ///
    /// # Safety
    /// NEON and the implementor's features.
    unsafe fn sums_i8(start: int32x4_t, w: &[int8x16_t; 16], a: [int8x16_t; 2]) -> [int32x4_t; 2];

    /// As [`sums_u5`](Self::sums_u5) over 16 columns: 8 weight registers `w[2k + h]` (chunk
    /// `k` = columns `4k..4k+4` of rows `4h..4h+4`) against one activation register, for
    /// weights in `0..=63` (Q6_K's 16-weight sub-blocks).
    ///
    /// # Safety
    /// NEON and the implementor's features.
    unsafe fn sums16_u6(start: int32x4_t, w: &[int8x16_t; 8], a: int8x16_t) -> [int32x4_t; 2];
}

/// Calls `$step::<L>(acc, w[2k], w[2k + 1], a[k / 4])` for the 8 weight chunks `k`, with the
/// activation lane `L = k % 4` as a constant (the instructions take it as an immediate).
macro_rules! each_chunk {
    ($acc:ident, $w:ident, $a:ident, $step:ident) => {
        $acc = $step::<0>($acc, $w[0], $w[1], $a[0]);
        $acc = $step::<1>($acc, $w[2], $w[3], $a[0]);
        $acc = $step::<2>($acc, $w[4], $w[5], $a[0]);
        $acc = $step::<3>($acc, $w[6], $w[7], $a[0]);
        $acc = $step::<0>($acc, $w[8], $w[9], $a[1]);
        $acc = $step::<1>($acc, $w[10], $w[11], $a[1]);
        $acc = $step::<2>($acc, $w[12], $w[13], $a[1]);
        $acc = $step::<3>($acc, $w[14], $w[15], $a[1]);
    };
}

/// FEAT_DotProd: one by-element `sdot` per weight register, into one accumulator per half
/// (the fewest instructions; a block's two chains of 8 `sdot` are independent).
#[derive(Debug)]
pub(super) struct SdotLane;

/// `acc + Σ_j w[4i + j] · a[4L + j]` in lane `i`.
///
/// # Safety
/// FEAT_DotProd.
#[inline(always)]
unsafe fn sdot_lane<const L: i32>(acc: int32x4_t, w: int8x16_t, a: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: the caller guarantees FEAT_DotProd; register-only instruction (no memory, no
    // flags, no stack). `vdotq_laneq_s32` is unstable on Rust 1.95, hence the assembly; the
    // directive lets it assemble in functions without `#[target_feature]` too
    // (`rows8_tall`'s non-inlined halves).
    unsafe {
        core::arch::asm!(
            ".arch_extension dotprod",
            "sdot {acc:v}.4s, {w:v}.16b, {a:v}.4b[{l}]",
            acc = inout(vreg) acc,
            w = in(vreg) w,
            a = in(vreg) a,
            l = const L,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// One weight chunk of 8 rows (registers `w0`: rows 0–3, `w1`: rows 4–7) against
/// activation bytes `4L..4L+4`, by `sdot`.
///
/// # Safety
/// FEAT_DotProd.
#[inline(always)]
unsafe fn sdot_step<const L: i32>(
    acc: [int32x4_t; 2],
    w0: int8x16_t,
    w1: int8x16_t,
    a: int8x16_t,
) -> [int32x4_t; 2] {
    // SAFETY: forwarded contract (FEAT_DotProd).
    unsafe { [sdot_lane::<L>(acc[0], w0, a), sdot_lane::<L>(acc[1], w1, a)] }
}

impl LaneDot for SdotLane {
    const PAIRS_UNPACKED: bool = false;

    #[inline(always)]
    unsafe fn sums_u5(start: int32x4_t, w: &[int8x16_t; 16], a: [int8x16_t; 2]) -> [int32x4_t; 2] {
        // SAFETY: forwarded contract.
        unsafe { Self::sums_i8(start, w, a) }
    }

    #[inline(always)]
    unsafe fn sums_i8(start: int32x4_t, w: &[int8x16_t; 16], a: [int8x16_t; 2]) -> [int32x4_t; 2] {
        let mut acc = [start, start];
        // SAFETY: forwarded contract.
        unsafe {
            each_chunk!(acc, w, a, sdot_step);
        }
        acc
    }

    #[inline(always)]
    unsafe fn sums16_u6(start: int32x4_t, w: &[int8x16_t; 8], a: int8x16_t) -> [int32x4_t; 2] {
        // SAFETY: forwarded contract.
        unsafe {
            let acc = sdot_step::<0>([start, start], w[0], w[1], a);
            let acc = sdot_step::<1>(acc, w[2], w[3], a);
            let acc = sdot_step::<2>(acc, w[4], w[5], a);
            sdot_step::<3>(acc, w[6], w[7], a)
        }
    }
}

/// Baseline NEON: each weight register times the 4 activation bytes broadcast to every lane
/// (`dup v.4s, a.s[L]`), `smull`/`smlal` into 16-bit lanes holding single products of one
/// row, pairwise-widened to 32 bit at the end of the block.
#[derive(Debug)]
pub(super) struct SmullLane;

/// Activation bytes `4L..4L+4` repeated in every 32-bit lane (`dup v.4s, a.s[L]`). Times a
/// weight register with `smull`/`smull2`, lanes `0..4` of the low product are row 0's 4
/// products and `4..8` row 1's; the high product holds rows 2 and 3.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn bcast<const L: i32>(a: int8x16_t) -> int8x16_t {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe { vreinterpretq_s8_s32(vdupq_laneq_s32::<L>(vreinterpretq_s32_s8(a))) }
}

/// Lanes of two pairwise-widened product vectors to one per row: `[r0, r1]` and `[r2, r3]`
/// pairs (two i32 lanes per row) to `[r0, r1, r2, r3]`, added to `start`.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn rows_of(start: int32x4_t, lo: int32x4_t, hi: int32x4_t) -> int32x4_t {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe { vaddq_s32(start, vpaddq_s32(lo, hi)) }
}

/// One weight chunk of 8 rows against activation bytes `4L..4L+4` broadcast: `smlal` into
/// 16-bit lanes, each lane one row's product of one column (the caller bounds the sums).
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn smlal_step<const L: i32>(
    acc: [int16x8_t; 4],
    w0: int8x16_t,
    w1: int8x16_t,
    a: int8x16_t,
) -> [int16x8_t; 4] {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe {
        let b = bcast::<L>(a);
        let b8 = vget_low_s8(b);
        [
            vmlal_s8(acc[0], vget_low_s8(w0), b8),
            vmlal_high_s8(acc[1], w0, b),
            vmlal_s8(acc[2], vget_low_s8(w1), b8),
            vmlal_high_s8(acc[3], w1, b),
        ]
    }
}

/// The 16-bit products of [`smlal_step`] to one i32 lane per row, added to `start`.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn smlal_rows(start: int32x4_t, acc: [int16x8_t; 4]) -> [int32x4_t; 2] {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe {
        let p = acc.map(|v| vpaddlq_s16(v));
        [rows_of(start, p[0], p[1]), rows_of(start, p[2], p[3])]
    }
}

impl LaneDot for SmullLane {
    const PAIRS_UNPACKED: bool = true;

    /// Products of a 5-bit weight (0..=31) and an i8 are at most `31 · 128 = 3968` in
    /// magnitude, so a block's 8 products per 16-bit lane stay within ±31744: accumulate with
    /// `smlal` and widen once per block.
    #[inline(always)]
    unsafe fn sums_u5(start: int32x4_t, w: &[int8x16_t; 16], a: [int8x16_t; 2]) -> [int32x4_t; 2] {
        // SAFETY: NEON is the caller's promise; register-only operations.
        unsafe {
            let mut acc = [vdupq_n_s16(0); 4];
            each_chunk!(acc, w, a, smlal_step);
            smlal_rows(start, acc)
        }
    }

    /// 4 products of a 6-bit weight (0..=63) and an i8 per 16-bit lane: at most
    /// `4 · 63 · 128 = 32256` in magnitude.
    #[inline(always)]
    unsafe fn sums16_u6(start: int32x4_t, w: &[int8x16_t; 8], a: int8x16_t) -> [int32x4_t; 2] {
        // SAFETY: NEON is the caller's promise; register-only operations.
        unsafe {
            let acc = smlal_step::<0>([vdupq_n_s16(0); 4], w[0], w[1], a);
            let acc = smlal_step::<1>(acc, w[2], w[3], a);
            let acc = smlal_step::<2>(acc, w[4], w[5], a);
            smlal_rows(start, smlal_step::<3>(acc, w[6], w[7], a))
        }
    }

    /// Full i8 products reach `128 · 128 = 16384`: each 16-bit product is widened right away
    /// (`sadalp`).
    #[inline(always)]
    unsafe fn sums_i8(start: int32x4_t, w: &[int8x16_t; 16], a: [int8x16_t; 2]) -> [int32x4_t; 2] {
        #[inline(always)]
        unsafe fn step<const L: i32>(
            acc: [int32x4_t; 4],
            w0: int8x16_t,
            w1: int8x16_t,
            a: int8x16_t,
        ) -> [int32x4_t; 4] {
            // SAFETY: NEON is the caller's promise; register-only operations.
            unsafe {
                let b = bcast::<L>(a);
                let b8 = vget_low_s8(b);
                [
                    vpadalq_s16(acc[0], vmull_s8(vget_low_s8(w0), b8)),
                    vpadalq_s16(acc[1], vmull_high_s8(w0, b)),
                    vpadalq_s16(acc[2], vmull_s8(vget_low_s8(w1), b8)),
                    vpadalq_s16(acc[3], vmull_high_s8(w1, b)),
                ]
            }
        }
        // SAFETY: NEON is the caller's promise; register-only operations.
        unsafe {
            let mut acc = [vdupq_n_s32(0); 4];
            each_chunk!(acc, w, a, step);
            [
                rows_of(start, acc[0], acc[1]),
                rows_of(start, acc[2], acc[3]),
            ]
        }
    }
}

/// What a tile needs of one activation block besides its quants, computed once per GEMM
/// call, token and block for all groups: its scale `d`, Q8_1's `s`, and the integer sums'
/// start value in every lane (Q4_0: `-8 Σ y`; one `ldr q` each, no broadcast).
#[derive(Clone, Copy)]
pub(super) struct Prep {
    pub(super) start: [i32; 4],
    pub(super) d: f32,
    pub(super) s: f32,
}

impl Prep {
    /// The start value as a vector.
    ///
    /// # Safety
    /// NEON.
    #[inline(always)]
    unsafe fn start(&self) -> int32x4_t {
        // SAFETY: 4 readable i32; NEON is the caller's promise.
        unsafe { vld1q_s32(self.start.as_ptr()) }
    }
}

/// 8 rows' f16 scales as two f32 vectors (rows 0–3, rows 4–7), exactly.
///
/// # Safety
/// NEON.
#[inline(always)]
pub(super) unsafe fn scales8(d: &[f16; 8]) -> [float32x4_t; 2] {
    // SAFETY: `d` is 16 readable bytes; NEON is the caller's promise.
    unsafe {
        let v = vld1q_u16(d.as_ptr().cast());
        [f16x4_to_f32(vget_low_u16(v)), f16x8_high_to_f32(v)]
    }
}

/// A 4-bit x8-block's quants as 16 weight registers (module docs): nibbles, unsigned.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn nibbles(qs: &[u8; 128]) -> [int8x16_t; 16] {
    // SAFETY: each chunk is 16 readable bytes; NEON is the caller's promise.
    unsafe {
        let (q, _) = qs.as_chunks::<16>();
        let m = vdupq_n_u8(0x0f);
        let mut w = [vdupq_n_s8(0); 16];
        for c in 0..4 {
            for h in 0..2 {
                let v = vld1q_u8(q[2 * c + h].as_ptr());
                w[2 * c + h] = vreinterpretq_s8_u8(vandq_u8(v, m));
                w[2 * (4 + c) + h] = vreinterpretq_s8_u8(vshrq_n_u8::<4>(v));
            }
        }
        w
    }
}

/// Store one group's 8 outputs (rows 0–3, 4–7) at the start of `o`.
///
/// # Safety
/// NEON.
///
/// # Panics
/// If `o` is shorter than 8.
#[inline(always)]
pub(super) unsafe fn store8(o: &mut [f32], v: &[float32x4_t; 2]) {
    let (o, _) = o[..ROWS8].as_chunks_mut::<4>();
    // SAFETY: each chunk is 4 writable f32s; NEON is the caller's promise.
    unsafe {
        vst1q_f32(o[0].as_mut_ptr(), v[0]);
        vst1q_f32(o[1].as_mut_ptr(), v[1]);
    }
}

/// An activation block's 32 quants as two registers.
///
/// # Safety
/// NEON.
#[inline(always)]
pub(super) unsafe fn act(qs: &[i8; 32]) -> [int8x16_t; 2] {
    let (q, _) = qs.as_chunks::<16>();
    // SAFETY: NEON is the caller's promise.
    unsafe { [load_i8(&q[0]), load_i8(&q[1])] }
}

/// The [`Prep`] of an activation block for weights stored as `q + off` (Q4_0: 8, Q5_0: 16):
/// the integer sums start at `-off Σ y`.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn offset_prep(y: &BlockQ8_0, off: i32) -> Prep {
    // SAFETY: NEON is the caller's promise.
    unsafe {
        let a = act(&y.qs);
        let sum = i32::from(vaddlvq_s8(a[0])) + i32::from(vaddlvq_s8(a[1]));
        Prep {
            d: f16_to_f32(y.d),
            s: 0.0,
            start: [-off * sum; 4],
        }
    }
}

/// The reference's one-scale block step (`add_block`: `fma(d_x * d_y, sumi as f32, acc)`)
/// for 8 rows: `acc[h] + (dx[h] · d) · s[h]`, fused like the reference.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn one_scale_term(
    acc: [float32x4_t; 2],
    dx: &[float32x4_t; 2],
    d: f32,
    s: [int32x4_t; 2],
) -> [float32x4_t; 2] {
    // SAFETY: NEON is the caller's promise; register-only operations.
    core::array::from_fn(|h| unsafe {
        vfmaq_f32(acc[h], vmulq_n_f32(dx[h], d), vcvtq_f32_s32(s[h]))
    })
}

/// Register byte `p`'s shift that brings bit `p % 8` of its `qh` byte to bit 4, for
/// [`add_fifth_bits`] (`ushl`: negative is right).
const FIFTH_SHIFT: [i8; 16] = [4, 3, 2, 1, 0, -1, -2, -3, 4, 3, 2, 1, 0, -1, -2, -3];

/// `tbl` indices that spread bytes 0 and 1 of a register over bytes 0..8 and 8..16.
const PAIR_SPREAD: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];

/// The constants of [`fifth_bits`]: `ushl` shifts, `tbl` spread indices, the bit-4 mask.
#[derive(Clone, Copy)]
pub(super) struct FifthConsts {
    shift: int8x16_t,
    spread: uint8x16_t,
    bit4: uint8x16_t,
}

impl FifthConsts {
    /// # Safety
    /// NEON.
    #[inline(always)]
    pub(super) unsafe fn new() -> FifthConsts {
        // SAFETY: the constants are 16 readable bytes each; NEON is the caller's promise.
        unsafe {
            FifthConsts {
                shift: vld1q_s8(FIFTH_SHIFT.as_ptr()),
                spread: vld1q_u8(PAIR_SPREAD.as_ptr()),
                bit4: vdupq_n_u8(0x10),
            }
        }
    }
}

/// Q5_0's fifth bits of weight register `r = 2k + h` (chunk `k`, rows `4h..4h+4`) as `0x10`
/// or `0` per byte, from the x8 `qh` in two registers (`crate::rows8`): its bytes `2r`
/// (register bytes 0..8) and `2r + 1` (bytes 8..16), bit `p % 8` for register byte `p`.
/// `tbl` spreads the two bytes, `ushl` moves each byte's bit to bit 4, `and` keeps it. `r`
/// must be a constant after inlining (callers spell the registers out: no loop, so that
/// everything stays in registers).
///
/// # Safety
/// NEON.
#[inline(always)]
pub(super) unsafe fn fifth_bits(qh: &[uint8x16_t; 2], r: usize, k: &FifthConsts) -> uint8x16_t {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe {
        let idx = vaddq_u8(k.spread, vdupq_n_u8(2 * (r % 8) as u8));
        let b = vqtbl1q_u8(qh[r / 8], idx);
        vandq_u8(vshlq_u8(b, k.shift), k.bit4)
    }
}

/// An x8-block's `qh` as two registers.
///
/// # Safety
/// NEON.
#[inline(always)]
pub(super) unsafe fn load_qh(qh: &[u8; 32]) -> [uint8x16_t; 2] {
    let (q, _) = qh.as_chunks::<16>();
    // SAFETY: each chunk is 16 readable bytes; NEON is the caller's promise.
    unsafe { [vld1q_u8(q[0].as_ptr()), vld1q_u8(q[1].as_ptr())] }
}

/// `w | bits`, bytewise.
///
/// # Safety
/// NEON.
#[inline(always)]
pub(super) unsafe fn or_bits(w: int8x16_t, bits: uint8x16_t) -> int8x16_t {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe { vreinterpretq_s8_u8(vorrq_u8(vreinterpretq_u8_s8(w), bits)) }
}

/// Q5_0's fifth bits added to its 16 nibble registers (`w[r] |= 16` where the bit is set,
/// [`fifth_bits`]).
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn add_fifth_bits(w: &mut [int8x16_t; 16], qh: &[u8; 32]) {
    // SAFETY: NEON is the caller's promise.
    unsafe {
        let (qh, k) = (load_qh(qh), FifthConsts::new());
        macro_rules! fifth {
            ($($r:literal)*) => {$(
                w[$r] = or_bits(w[$r], fifth_bits(&qh, $r, &k));
            )*};
        }
        fifth!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
    }
}

/// An x8-block format and its activation block: how to unpack it and the reference's
/// per-block float term, lane-wise.
pub(super) trait Rows8Block: Copy {
    type Act: Copy;
    /// Per-block weight scales in registers.
    type Scales: Copy;
    /// Whether the weights are unpacked (nibbles) rather than loaded as they are: see
    /// [`LaneDot::PAIRS_UNPACKED`].
    const UNPACKS: bool;

    /// # Safety
    /// NEON.
    unsafe fn prep(y: &Self::Act) -> Prep;

    /// # Safety
    /// NEON.
    unsafe fn unpack(&self) -> ([int8x16_t; 16], Self::Scales);

    fn act_qs(y: &Self::Act) -> &[i8; 32];

    /// `acc[h] + term` for this block's 8 rows against one activation block.
    ///
    /// # Safety
    /// NEON and `D`'s features.
    unsafe fn add_term<D: LaneDot>(
        acc: [float32x4_t; 2],
        w: &[int8x16_t; 16],
        sc: &Self::Scales,
        a: [int8x16_t; 2],
        p: &Prep,
    ) -> [float32x4_t; 2];
}

/// The formats stored as unsigned `q + off` with one scale per block (Q4_0: nibbles,
/// `off` 8; Q5_0: nibbles and fifth bits, `off` 16): the start value `-off Σ y`
/// ([`offset_prep`]) and the reference's fused step (`add_block`: `fma(d_x * d_y, sumi as
/// f32, acc)`, `sumi = Σ (q - off) y`). `$unpack` gives the 16 weight registers.
macro_rules! offset_block {
    ($W:ty, off = $off:literal, |$x:ident| $unpack:expr) => {
        impl Rows8Block for $W {
            type Act = BlockQ8_0;
            type Scales = [float32x4_t; 2];
            const UNPACKS: bool = true;

            #[inline(always)]
            unsafe fn prep(y: &BlockQ8_0) -> Prep {
                // SAFETY: NEON is the caller's promise.
                unsafe { offset_prep(y, $off) }
            }

            #[inline(always)]
            unsafe fn unpack(&self) -> ([int8x16_t; 16], [float32x4_t; 2]) {
                let $x = self;
                // SAFETY: NEON is the caller's promise.
                unsafe { ($unpack, scales8(&self.d)) }
            }

            fn act_qs(y: &BlockQ8_0) -> &[i8; 32] {
                &y.qs
            }

            #[inline(always)]
            unsafe fn add_term<D: LaneDot>(
                acc: [float32x4_t; 2],
                w: &[int8x16_t; 16],
                dx: &[float32x4_t; 2],
                a: [int8x16_t; 2],
                p: &Prep,
            ) -> [float32x4_t; 2] {
                // SAFETY: forwarded contract; the weights are 0..=31.
                unsafe {
                    let s = D::sums_u5(p.start(), w, a);
                    one_scale_term(acc, dx, p.d, s)
                }
            }
        }
    };
}

offset_block!(BlockQ4_0x8, off = 8, |x| nibbles(&x.qs));
offset_block!(BlockQ5_0x8, off = 16, |x| {
    let mut w = nibbles(&x.qs);
    add_fifth_bits(&mut w, &x.qh);
    w
});

impl Rows8Block for BlockQ4_1x8 {
    type Act = BlockQ8_1;
    /// `d` then `m`, each rows 0–3 and 4–7.
    type Scales = [[float32x4_t; 2]; 2];
    const UNPACKS: bool = true;

    #[inline(always)]
    unsafe fn prep(y: &BlockQ8_1) -> Prep {
        // SAFETY: NEON is the caller's promise.
        unsafe {
            Prep {
                d: f16_to_f32(y.d),
                s: f16_to_f32(y.s),
                start: [0; 4],
            }
        }
    }

    #[inline(always)]
    unsafe fn unpack(&self) -> ([int8x16_t; 16], Self::Scales) {
        // SAFETY: NEON is the caller's promise.
        unsafe { (nibbles(&self.qs), [scales8(&self.d), scales8(&self.m)]) }
    }

    fn act_qs(y: &BlockQ8_1) -> &[i8; 32] {
        &y.qs
    }

    /// Reference: `fma(m_x, s_y, fma(d_x * d_y, sumi as f32, acc))`.
    #[inline(always)]
    unsafe fn add_term<D: LaneDot>(
        acc: [float32x4_t; 2],
        w: &[int8x16_t; 16],
        sc: &Self::Scales,
        a: [int8x16_t; 2],
        p: &Prep,
    ) -> [float32x4_t; 2] {
        // SAFETY: forwarded contract; nibbles are 0..=15.
        unsafe {
            let s = D::sums_u5(vdupq_n_s32(0), w, a);
            core::array::from_fn(|h| {
                let a = vfmaq_f32(acc[h], vmulq_n_f32(sc[0][h], p.d), vcvtq_f32_s32(s[h]));
                vfmaq_n_f32(a, sc[1][h], p.s)
            })
        }
    }
}

impl Rows8Block for BlockQ8_0x8 {
    type Act = BlockQ8_0;
    type Scales = [float32x4_t; 2];
    const UNPACKS: bool = false;

    #[inline(always)]
    unsafe fn prep(y: &BlockQ8_0) -> Prep {
        // SAFETY: NEON is the caller's promise.
        unsafe {
            Prep {
                d: f16_to_f32(y.d),
                s: 0.0,
                start: [0; 4],
            }
        }
    }

    #[inline(always)]
    unsafe fn unpack(&self) -> ([int8x16_t; 16], [float32x4_t; 2]) {
        let (q, _) = self.qs.as_chunks::<16>();
        // SAFETY: NEON is the caller's promise.
        unsafe { (core::array::from_fn(|i| load_i8(&q[i])), scales8(&self.d)) }
    }

    fn act_qs(y: &BlockQ8_0) -> &[i8; 32] {
        &y.qs
    }

    /// Reference (`add_block`): `fma(d_x * d_y, sumi as f32, acc)`.
    #[inline(always)]
    unsafe fn add_term<D: LaneDot>(
        acc: [float32x4_t; 2],
        w: &[int8x16_t; 16],
        dx: &[float32x4_t; 2],
        a: [int8x16_t; 2],
        p: &Prep,
    ) -> [float32x4_t; 2] {
        // SAFETY: forwarded contract.
        unsafe {
            let s = D::sums_i8(vdupq_n_s32(0), w, a);
            one_scale_term(acc, dx, p.d, s)
        }
    }
}

/// Activation blocks per [`Prep`] buffer: a row of up to `64 * 32 = 2048` columns is
/// prepared once per GEMM call and token; longer rows once per group and span.
pub(super) const PREP_BLOCKS: usize = 64;

/// `acc[t]` += every block of one group's span `w` against token `t`'s blocks.
///
/// # Safety
/// NEON and `D`'s features.
#[inline(always)]
unsafe fn tile<D: LaneDot, W: Rows8Block, const T: usize>(
    w: &[W],
    x: [&[W::Act]; T],
    p: [&[Prep]; T],
    acc: &mut [[float32x4_t; 2]; 4],
) {
    let n = w.len();
    let (x, p) = (x.map(|x| &x[..n]), p.map(|p| &p[..n]));
    let mut a4 = [acc[0], acc[1], acc[2], acc[3]];
    /// Token `$t`'s term, spelled out per token (`T` is a constant, so the branches fold
    /// away): a loop over tokens is not unrolled by LLVM and keeps the accumulators and
    /// slices in memory.
    macro_rules! token {
        ($t:literal, $q:ident, $sc:ident, $b:ident) => {
            if $t < T {
                let a = act(W::act_qs(&x[$t][$b]));
                a4[$t] = W::add_term::<D>(a4[$t], &$q, &$sc, a, &p[$t][$b]);
            }
        };
    }
    for b in 0..n {
        // SAFETY: forwarded contract.
        unsafe {
            let (q, sc) = w[b].unpack();
            token!(0, q, sc, b);
            token!(1, q, sc, b);
            token!(2, q, sc, b);
            token!(3, q, sc, b);
        }
    }
    *acc = a4;
}

/// One token against two groups' spans `w0`, `w1` (decode): the activation block, its
/// [`Prep`] and the loop's own instructions serve 16 rows instead of 8.
///
/// # Safety
/// NEON and `D`'s features.
#[inline(always)]
unsafe fn tile_pair<D: LaneDot, W: Rows8Block>(
    w0: &[W],
    w1: &[W],
    x: &[W::Act],
    p: &[Prep],
    acc0: &mut [float32x4_t; 2],
    acc1: &mut [float32x4_t; 2],
) {
    let n = w0.len();
    let (w1, x, p) = (&w1[..n], &x[..n], &p[..n]);
    let (mut a0, mut a1) = (*acc0, *acc1);
    for b in 0..n {
        // SAFETY: forwarded contract.
        unsafe {
            let a = act(W::act_qs(&x[b]));
            let (q, sc) = w0[b].unpack();
            a0 = W::add_term::<D>(a0, &q, &sc, a, &p[b]);
            let (q, sc) = w1[b].unpack();
            a1 = W::add_term::<D>(a1, &q, &sc, a, &p[b]);
        }
    }
    *acc0 = a0;
    *acc1 = a1;
}

/// The rows8 GEMM (contract of `crate::dispatch::Rows8GemmFn`): tokens in chunks of up to 4,
/// each chunk walking every group once; outputs add their blocks' terms in block order.
///
/// # Safety
/// NEON and `D`'s features.
///
/// # Panics
/// On a geometry that breaks the contract ([`gemm_geometry`]).
#[inline(always)]
pub(super) unsafe fn gemm<D: LaneDot, W: Rows8Block>(
    w: &[W],
    x: &[W::Act],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
    let (groups, nt, _) = gemm_geometry(w.len(), x.len(), nb, out);
    // Not zeroed first: 6 KiB of stores per call would cost ~2 % of a decoded token. A row's
    // first `b1 - b0` entries are written below before anything reads them.
    let mut prep = [[MaybeUninit::<Prep>::uninit(); PREP_BLOCKS]; 4];
    let mut t0 = 0;
    while t0 < nt {
        let tt = (nt - t0).min(4);
        let mut g = 0;
        while g < groups {
            // One token: groups in pairs ([`tile_pair`]) where the format allows it.
            let pair = tt == 1 && g + 1 < groups && (!W::UNPACKS || D::PAIRS_UNPACKED);
            let wg = &w[g * nb..(g + 1) * nb];
            let wg2 = if pair {
                &w[(g + 1) * nb..(g + 2) * nb]
            } else {
                wg
            };
            // SAFETY: NEON is the caller's promise.
            let zero = unsafe { vdupq_n_f32(0.0) };
            let mut acc = [[zero; 2]; 4];
            let mut acc2 = [zero; 2];
            let mut b0 = 0;
            while b0 < nb {
                let b1 = (b0 + PREP_BLOCKS).min(nb);
                let xs = |t: usize| &x[(t0 + t) * nb + b0..(t0 + t) * nb + b1];
                if g == 0 || nb > PREP_BLOCKS {
                    for (t, row) in prep.iter_mut().enumerate().take(tt) {
                        for (p, y) in row.iter_mut().zip(xs(t)) {
                            // SAFETY: forwarded contract.
                            p.write(unsafe { W::prep(y) });
                        }
                    }
                }
                let ws = &wg[b0..b1];
                // SAFETY: rows `t < tt` hold `b1 - b0` written entries: filled just above
                // (first group, or every span of a long row), or at the first group of this
                // token chunk with the same span (a short row is one span, `0..nb`).
                let ps = |t: usize| unsafe {
                    core::slice::from_raw_parts(prep[t].as_ptr().cast::<Prep>(), b1 - b0)
                };
                // SAFETY: forwarded contract.
                unsafe {
                    match tt {
                        1 if pair => {
                            let [a, ..] = &mut acc;
                            tile_pair::<D, W>(ws, &wg2[b0..b1], xs(0), ps(0), a, &mut acc2);
                        }
                        1 => tile::<D, W, 1>(ws, [xs(0)], [ps(0)], &mut acc),
                        2 => tile::<D, W, 2>(ws, [xs(0), xs(1)], [ps(0), ps(1)], &mut acc),
                        3 => tile::<D, W, 3>(
                            ws,
                            [xs(0), xs(1), xs(2)],
                            [ps(0), ps(1), ps(2)],
                            &mut acc,
                        ),
                        _ => tile::<D, W, 4>(
                            ws,
                            core::array::from_fn(xs),
                            core::array::from_fn(ps),
                            &mut acc,
                        ),
                    }
                }
                b0 = b1;
            }
            // SAFETY: NEON is the caller's promise.
            unsafe {
                for (t, v) in acc.iter().enumerate().take(tt) {
                    store8(&mut out.row_mut(t0 + t)[g * ROWS8..], v);
                }
                if pair {
                    store8(&mut out.row_mut(t0)[(g + 1) * ROWS8..], &acc2);
                }
            }
            g += if pair { 2 } else { 1 };
        }
        t0 += tt;
    }
}

/// Stamps out a tier's rows8 GEMM entry points (Q4_0, Q4_1, Q5_0, Q8_0 here; Q4_K, Q6_K in
/// `rows8_k.rs`) with its [`LaneDot`].
macro_rules! tier_rows8 {
    (features = $features:literal, dot = $dot:ty, offset = $offset:expr) => {
        super::rows8::tier_rows8!(@each $features, $dot;
            gemm_q4_0x8_q8_0: BlockQ4_0x8, BlockQ8_0 => $offset;
            gemm_q4_1x8_q8_1: BlockQ4_1x8, BlockQ8_1 => super::rows8::gemm::<$dot, _>;
            gemm_q5_0x8_q8_0: BlockQ5_0x8, BlockQ8_0 => $offset;
            gemm_q8_0x8_q8_0: BlockQ8_0x8, BlockQ8_0 => super::rows8::gemm::<$dot, _>;
            gemm_q4_kx8_q8_k: BlockQ4Kx8, BlockQ8K => super::rows8_k::gemm_q4_k::<$dot>;
            gemm_q6_kx8_q8_k: BlockQ6Kx8, BlockQ8K => super::rows8_k::gemm_q6_k::<$dot>;
        );
    };
    (@each $features:literal, $dot:ty; $($name:ident: $W:ident, $A:ident => $gemm:expr;)*) => {$(
        #[doc = concat!("Rows8 GEMM (contract of [`crate::rows8::", stringify!($name),
            "`]; the reference's bits).")]
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn $name(
            w: &[crate::rows8::$W],
            x: &[crate::blocks::$A],
            nb: usize,
            out: &mut crate::parts::ColumnsMut<'_>,
        ) {
            // SAFETY: this function's features are the caller's promise.
            unsafe { ($gemm)(w, x, nb, out) }
        }
    )*};
}
pub(super) use tier_rows8;
