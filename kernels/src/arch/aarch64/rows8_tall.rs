//! The tall prompt tile of the FEAT_DotProd tiers: 4 rows × [`TALL`] tokens over the rows8
//! layout ([`crate::rows8`]), for the formats stored as unsigned `q + off` with one scale per
//! block (Q4_0, Q5_0).
//!
//! **Why 4 × 12 and not 8 × 4** ([`super::rows8::gemm`]'s tile). Per 4 rows, token and
//! block the reference's step costs 8 `sdot`, the integer sum's start value, `scvtf`, the
//! `d_x · d_y` multiply and the fused `fmla`: 12 instructions that nothing can share. The
//! rest can be shared: a block's weight loads and nibble unpacking (14 instructions per 4
//! rows) by a tile's tokens, an activation block's load (one `ldp`) by a tile's rows. With 8
//! rows × 4 tokens, 16 weight registers and 8 accumulators fill the register file and LLVM
//! spills (147 instructions per 8 rows × 4 tokens × block, 4.6 per row, token and block);
//! 4 rows × 12 tokens holds 8 weight registers and 12 accumulators, shares the weight work
//! by 12 tokens, and takes 171 instructions per 4 rows × 12 tokens × block (3.56). The
//! activation blocks of a tile's tokens are laid out block by block ([`TallPrep`], once per
//! call, token chunk and span), so one pointer with immediate offsets reaches them all.
//!
//! **Bits.** Each lane takes the reference's fused block step on an exact integer sum, block
//! after block, exactly as [`super::rows8`]: the outputs equal the reference `vec_dot` bit for
//! bit.

use core::arch::aarch64::*;
use core::mem::MaybeUninit;

use super::rows8::{
    FifthConsts, Rows8Block, SdotLane, fifth_bits, gemm as gemm8, load_qh, or_bits,
};
use super::simd::f16x4_to_f32;
use crate::blocks::BlockQ8_0;
use crate::parts::ColumnsMut;
use crate::rows8::{BlockQ4_0x8, BlockQ5_0x8, ROWS8, gemm_geometry};

/// Tokens per tall tile: [`QUADS`] × 4.
pub(super) const TALL: usize = 4 * QUADS;

/// Four-token steps per tall tile ([`quad`]; [`tile`] spells the three out).
const QUADS: usize = 3;

/// One activation block of a tile's [`TALL`] tokens (624 bytes): quants, the integer sums'
/// start value in every lane (`-off Σ y`) and the scale `d`, token by token.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct TallPrep {
    qs: [[i8; 32]; TALL],
    start: [[i32; 4]; TALL],
    d: [f32; TALL],
}

impl TallPrep {
    const QS: usize = core::mem::offset_of!(TallPrep, qs);
    const START: usize = core::mem::offset_of!(TallPrep, start);
    const D: usize = core::mem::offset_of!(TallPrep, d);
}

/// Rows `4H..4H+4` of an x8-block (`H` 0 or 1): its 8 weight registers (`w[k]`: chunk `k`,
/// columns `4k..4k+4` of the block, as [`super::rows8`]'s `w[2k + H]`) and 4 scales.
pub(super) trait HalfBlock: Rows8Block<Act = BlockQ8_0> {
    /// # Safety
    /// NEON.
    unsafe fn half<const H: usize>(&self) -> ([int8x16_t; 8], float32x4_t);
}

/// Rows `4H..4H+4`'s nibble registers of a 4-bit x8-block's quants, unsigned: quant
/// register `2c + H` gives chunk `c` (low nibbles) and chunk `4 + c` (high nibbles).
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn nibbles_half<const H: usize>(qs: &[u8; 128]) -> [int8x16_t; 8] {
    let (q, _) = qs.as_chunks::<16>();
    // SAFETY: each chunk is 16 readable bytes; NEON is the caller's promise.
    unsafe {
        let m = vdupq_n_u8(0x0f);
        let v = [
            vld1q_u8(q[H].as_ptr()),
            vld1q_u8(q[2 + H].as_ptr()),
            vld1q_u8(q[4 + H].as_ptr()),
            vld1q_u8(q[6 + H].as_ptr()),
        ];
        let lo = |v: uint8x16_t| vreinterpretq_s8_u8(vandq_u8(v, m));
        let hi = |v: uint8x16_t| vreinterpretq_s8_u8(vshrq_n_u8::<4>(v));
        [
            lo(v[0]),
            lo(v[1]),
            lo(v[2]),
            lo(v[3]),
            hi(v[0]),
            hi(v[1]),
            hi(v[2]),
            hi(v[3]),
        ]
    }
}

/// 4 of 8 rows' f16 scales (rows `4H..4H+4`) as f32, exactly.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn scales_half<const H: usize>(d: &[half::f16; 8]) -> float32x4_t {
    // SAFETY: 4 readable halves at `4H`; NEON is the caller's promise.
    unsafe { f16x4_to_f32(vld1_u16(d[4 * H..].as_ptr().cast())) }
}

impl HalfBlock for BlockQ4_0x8 {
    #[inline(always)]
    unsafe fn half<const H: usize>(&self) -> ([int8x16_t; 8], float32x4_t) {
        // SAFETY: NEON is the caller's promise.
        unsafe { (nibbles_half::<H>(&self.qs), scales_half::<H>(&self.d)) }
    }
}

impl HalfBlock for BlockQ5_0x8 {
    /// The nibbles with the fifth bits of registers `2k + H` added.
    #[inline(always)]
    unsafe fn half<const H: usize>(&self) -> ([int8x16_t; 8], float32x4_t) {
        // SAFETY: NEON is the caller's promise.
        unsafe {
            let mut w = nibbles_half::<H>(&self.qs);
            let (qh, k) = (load_qh(&self.qh), FifthConsts::new());
            macro_rules! fifth {
                ($($k:literal)*) => {$(
                    w[$k] = or_bits(w[$k], fifth_bits(&qh, 2 * $k + H, &k));
                )*};
            }
            fifth!(0 1 2 3 4 5 6 7);
            (w, scales_half::<H>(&self.d))
        }
    }
}

/// One token's step in [`quad`]'s assembly, its quants already in `x0`, `x1` and its start
/// value in register `$s`: 8 `sdot` into `$s`, `scvtf`, `x0 = d_x · d_y[$lane]`, and the
/// fused `$acc += x0 · $s`.
macro_rules! token_step {
    ($s:literal, $acc:literal, $lane:literal) => {
        concat!(
            "sdot {",
            $s,
            ":v}.4s, {w0:v}.16b, {x0:v}.4b[0]\n",
            "sdot {",
            $s,
            ":v}.4s, {w1:v}.16b, {x0:v}.4b[1]\n",
            "sdot {",
            $s,
            ":v}.4s, {w2:v}.16b, {x0:v}.4b[2]\n",
            "sdot {",
            $s,
            ":v}.4s, {w3:v}.16b, {x0:v}.4b[3]\n",
            "sdot {",
            $s,
            ":v}.4s, {w4:v}.16b, {x1:v}.4b[0]\n",
            "sdot {",
            $s,
            ":v}.4s, {w5:v}.16b, {x1:v}.4b[1]\n",
            "sdot {",
            $s,
            ":v}.4s, {w6:v}.16b, {x1:v}.4b[2]\n",
            "sdot {",
            $s,
            ":v}.4s, {w7:v}.16b, {x1:v}.4b[3]\n",
            "scvtf {",
            $s,
            ":v}.4s, {",
            $s,
            ":v}.4s\n",
            "fmul {x0:v}.4s, {dx:v}.4s, {dy:v}.s[",
            $lane,
            "]\n",
            "fmla {",
            $acc,
            ":v}.4s, {",
            $s,
            ":v}.4s, {x0:v}.4s",
        )
    };
}

/// Four tokens' block steps, tokens `4Q..4Q+4` of the block `p`, for 4 rows: per token one
/// `ldp` of its quants, 8 `sdot` from its start value (two tokens' starts per `ldp`),
/// `scvtf`, the `d_x · d_y` multiply and the reference's fused `fmla` into `acc[j]`.
///
/// One assembly block per 4 tokens, so that its transients are 5 registers: LLVM, left to
/// schedule the loads itself, hoists every token's loads to the top of the block loop and
/// spills (an 8-token tile written with intrinsics took 124 instructions per block, 15.5 per
/// token; this takes 14.25, and leaves the registers for 12 tokens).
///
/// # Safety
/// FEAT_DotProd.
#[inline(always)]
unsafe fn quad<const Q: usize>(
    acc: &mut [float32x4_t; 4],
    w: &[int8x16_t; 8],
    dx: float32x4_t,
    p: &TallPrep,
) {
    // The loads below stay inside `*p`: tokens `4Q..4Q+4` of each field.
    const {
        assert!(Q < QUADS);
        assert!(TallPrep::QS + 128 * (Q + 1) <= TallPrep::START);
        assert!(TallPrep::START + 64 * (Q + 1) <= TallPrep::D);
        assert!(TallPrep::D + 16 * (Q + 1) <= size_of::<TallPrep>());
    }
    let [mut a0, mut a1, mut a2, mut a3] = *acc;
    // SAFETY: the caller guarantees FEAT_DotProd; every load lies inside `*p` (the offsets
    // are those of `TallPrep`'s fields for tokens `4Q..4Q+4`, asserted above); no stack, no
    // flags.
    unsafe {
        core::arch::asm!(
            ".arch_extension dotprod",
            "ldr {dy:q}, [{p}, #{d}]",
            "ldp {s0:q}, {s1:q}, [{p}, #{st}]",
            "ldp {x0:q}, {x1:q}, [{p}, #{q0}]",
            token_step!("s0", "a0", "0"),
            "ldp {x0:q}, {x1:q}, [{p}, #{q1}]",
            token_step!("s1", "a1", "1"),
            "ldp {s0:q}, {s1:q}, [{p}, #{st2}]",
            "ldp {x0:q}, {x1:q}, [{p}, #{q2}]",
            token_step!("s0", "a2", "2"),
            "ldp {x0:q}, {x1:q}, [{p}, #{q3}]",
            token_step!("s1", "a3", "3"),
            p = in(reg) p,
            d = const TallPrep::D + 16 * Q,
            st = const TallPrep::START + 64 * Q,
            st2 = const TallPrep::START + 64 * Q + 32,
            q0 = const TallPrep::QS + 128 * Q,
            q1 = const TallPrep::QS + 128 * Q + 32,
            q2 = const TallPrep::QS + 128 * Q + 64,
            q3 = const TallPrep::QS + 128 * Q + 96,
            w0 = in(vreg) w[0],
            w1 = in(vreg) w[1],
            w2 = in(vreg) w[2],
            w3 = in(vreg) w[3],
            w4 = in(vreg) w[4],
            w5 = in(vreg) w[5],
            w6 = in(vreg) w[6],
            w7 = in(vreg) w[7],
            dx = in(vreg) dx,
            a0 = inout(vreg) a0,
            a1 = inout(vreg) a1,
            a2 = inout(vreg) a2,
            a3 = inout(vreg) a3,
            dy = out(vreg) _,
            s0 = out(vreg) _,
            s1 = out(vreg) _,
            x0 = out(vreg) _,
            x1 = out(vreg) _,
            options(readonly, nostack, preserves_flags),
        );
    }
    *acc = [a0, a1, a2, a3];
}

/// `acc[t]` += every block of one group's span `w` (rows `4H..4H+4`) against token `t`'s
/// prepared blocks `p`.
///
/// # Safety
/// FEAT_DotProd.
#[inline(always)]
unsafe fn tile<W: HalfBlock, const H: usize>(
    w: &[W],
    p: &[TallPrep],
    acc: &mut [[float32x4_t; 4]; QUADS],
) {
    let n = w.len();
    let p = &p[..n];
    let mut a = *acc;
    for b in 0..n {
        // SAFETY: forwarded contract.
        unsafe {
            let (q, dx) = w[b].half::<H>();
            let [a0, a1, a2] = &mut a;
            quad::<0>(a0, &q, dx, &p[b]);
            quad::<1>(a1, &q, dx, &p[b]);
            quad::<2>(a2, &q, dx, &p[b]);
        }
    }
    *acc = a;
}

/// Activation blocks per [`TallPrep`] buffer (20 KiB on the stack): a row of up to
/// `32 * 32 = 1024` columns is one span; longer rows are walked span by span, each span
/// prepared once per call and token chunk and the partial sums kept in `out` between spans.
const TALL_BLOCKS: usize = 32;

/// The [`TallPrep`] of blocks `b0..b0 + p.len()` of tokens `t0..t0 + TALL` (`nb` blocks per
/// token in `x`).
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn prepare<W: HalfBlock>(
    p: &mut [MaybeUninit<TallPrep>],
    x: &[BlockQ8_0],
    nb: usize,
    t0: usize,
    b0: usize,
) {
    for (b, p) in (b0..).zip(p.iter_mut()) {
        let v = p.as_mut_ptr();
        for t in 0..TALL {
            let y = &x[(t0 + t) * nb + b];
            // SAFETY: NEON is the caller's promise. `v` is a writable `TallPrep`; its fields
            // are written through raw pointers (no reference to uninitialised memory), every
            // field of every token by the end of this loop.
            unsafe {
                let q = W::prep(y);
                (&raw mut (*v).qs[t]).write(*W::act_qs(y));
                (&raw mut (*v).start[t]).write(q.start);
                (&raw mut (*v).d[t]).write(q.d);
            }
        }
    }
}

/// The rows8 GEMM for the offset formats on FEAT_DotProd (contract of
/// `crate::dispatch::Rows8GemmFn`): tokens in chunks of [`TALL`] through the tall tile
/// ([`tall_chunks`]), the last `< TALL` tokens (decode: all of them) through
/// [`super::rows8::gemm`] ([`short_chunk`]). Two functions, not inlined into one: inlined
/// together, LLVM compiled the decode loop 2 instructions longer per block (SmolLM2 Q4_0
/// decode on cortex-a76: 30.8 → 31.6 M instructions per token).
///
/// # Safety
/// FEAT_DotProd.
///
/// # Panics
/// On a geometry that breaks the contract ([`gemm_geometry`]).
#[inline(always)]
pub(super) unsafe fn gemm<W: HalfBlock>(
    w: &[W],
    x: &[BlockQ8_0],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
    let (_, nt, mr) = gemm_geometry(w.len(), x.len(), nb, out);
    let tall = nt / TALL * TALL;
    // SAFETY: forwarded contract.
    unsafe {
        if tall > 0 {
            tall_chunks(w, &x[..tall * nb], nb, &mut out.sub(0..tall, 0..mr));
        }
        if tall < nt {
            short_chunk(w, &x[tall * nb..], nb, &mut out.sub(tall..nt, 0..mr));
        }
    }
}

/// [`super::rows8::gemm`] in a function of its own (see [`gemm`]). Without
/// `#[target_feature]`, which makes rustc 1.95 inline a function whatever its
/// `#[inline(never)]`: the `sdot`s are assembled by their own `.arch_extension dotprod`.
///
/// # Safety
/// FEAT_DotProd.
#[inline(never)]
unsafe fn short_chunk<W: HalfBlock>(w: &[W], x: &[BlockQ8_0], nb: usize, out: &mut ColumnsMut<'_>) {
    // SAFETY: forwarded contract.
    unsafe { gemm8::<SdotLane, W>(w, x, nb, out) }
}

/// The tall tile over a multiple of [`TALL`] tokens: each chunk of [`TALL`] tokens walks
/// every group's two halves span by span.
///
/// # Safety
/// FEAT_DotProd.
///
/// # Panics
/// If the token count is not a multiple of [`TALL`], or on a geometry that breaks the
/// contract ([`gemm_geometry`]).
#[inline(never)]
unsafe fn tall_chunks<W: HalfBlock>(w: &[W], x: &[BlockQ8_0], nb: usize, out: &mut ColumnsMut<'_>) {
    let (groups, nt, _) = gemm_geometry(w.len(), x.len(), nb, out);
    assert!(nt.is_multiple_of(TALL), "tall tile: {nt} tokens");
    // Not zeroed: a span's entries are written before anything reads them.
    let mut prep = [MaybeUninit::<TallPrep>::uninit(); TALL_BLOCKS];
    for t0 in (0..nt).step_by(TALL) {
        for b0 in (0..nb).step_by(TALL_BLOCKS) {
            let b1 = (b0 + TALL_BLOCKS).min(nb);
            // SAFETY: NEON is the caller's promise.
            unsafe { prepare::<W>(&mut prep[..b1 - b0], x, nb, t0, b0) };
            // SAFETY: entries `0..b1 - b0` were written just above.
            let ps =
                unsafe { core::slice::from_raw_parts(prep.as_ptr().cast::<TallPrep>(), b1 - b0) };
            for g in 0..groups {
                // Each output's terms in block order: from zero at the first span, from
                // the partial sum this loop stored at the span before.
                // SAFETY: NEON is the caller's promise.
                let mut v = [[[unsafe { vdupq_n_f32(0.0) }; 4]; QUADS]; 2];
                if b0 > 0 {
                    for t in 0..TALL {
                        let o = &out.row_mut(t0 + t)[g * ROWS8..(g + 1) * ROWS8];
                        let (o, _) = o.as_chunks::<4>();
                        // SAFETY: each chunk is 4 readable f32s; NEON is the caller's promise.
                        unsafe {
                            v[0][t / 4][t % 4] = vld1q_f32(o[0].as_ptr());
                            v[1][t / 4][t % 4] = vld1q_f32(o[1].as_ptr());
                        }
                    }
                }
                let ws = &w[g * nb + b0..g * nb + b1];
                // SAFETY: forwarded contract.
                unsafe {
                    let [v0, v1] = &mut v;
                    tile::<W, 0>(ws, ps, v0);
                    tile::<W, 1>(ws, ps, v1);
                }
                for t in 0..TALL {
                    let o = &mut out.row_mut(t0 + t)[g * ROWS8..(g + 1) * ROWS8];
                    let (o, _) = o.as_chunks_mut::<4>();
                    // SAFETY: each chunk is 4 writable f32s; NEON is the caller's promise.
                    unsafe {
                        vst1q_f32(o[0].as_mut_ptr(), v[0][t / 4][t % 4]);
                        vst1q_f32(o[1].as_mut_ptr(), v[1][t / 4][t % 4]);
                    }
                }
            }
        }
    }
}
