//! Prompt GEMMs over the rows8 layout ([`crate::rows8`]) with FEAT_I8MM's `smmla`: two
//! tokens per instruction. For Q4_1 and Q8_0: Q4_0 and Q5_0 prompts take the dotprod tier's
//! tall tile ([`super::rows8_tall`]), which executes fewer instructions (SmolLM2 Q4_0 on
//! neoverse-n2: 14.2 M per prompt token against this module's 16.1 M; 4 rows × 12 tokens
//! share more than 8 rows × 4 tokens, whatever the instruction that multiplies).
//!
//! `smmla v.4s, w.16b, a.16b` multiplies a 2×8 matrix of i8 (`w`: two rows' 8 columns) by
//! the transpose of another (`a`: two tokens' same 8 columns) and adds the 2×2 product to
//! `v`: lanes `[r t, r u, r' t, r' u]` for rows `r, r'` and tokens `t, u`. One instruction
//! thus does the work of two by-element `sdot`s; the price is the operand shapes.
//!
//! - **Weights.** The rows8 registers hold 4 columns of 4 rows ([`super::rows8`]'s `w[2k + h]`:
//!   chunk `k`, rows `4h..4h+4`). Zipping the 32-bit lanes of chunks `2g` and `2g + 1` gives
//!   rows `4h, 4h+1` (`zip1`) and `4h+2, 4h+3` (`zip2`), 8 columns each: 16 zips per block,
//!   shared by every token of the tile ([`row_pairs`]; row pair `rp` = rows `2rp, 2rp+1`).
//! - **Activations.** A token pair's 8-column groups and its scales are laid out for the
//!   instruction once per GEMM call ([`PairPrep`]), not once per group.
//! - **Float step.** The lanes keep the mixed order through the block loop: the weight scales
//!   are widened to `[d_r, d_r, d_r', d_r']`, the activation's to `[d_t, d_u, d_t, d_u]`, and
//!   each lane takes the reference's block step (`fma(d_x · d_y, sumi, acc)`, Q4_1 then
//!   `fma(m_x, s_y, acc)`) on its exact integer sum, block after block. `uzp1`/`uzp2` sort the
//!   lanes into rows once, at the end. Every output therefore equals the reference `vec_dot`
//!   of its row bit for bit, like the dotprod tier's.
//!
//! Tiles take two token pairs (4 tokens) per pass over a group's weights; one pair when only
//! two or three tokens are left. A last odd token, and decode's single token, take the dotprod
//! GEMM: half of every `smmla` would be wasted on it.

use core::arch::aarch64::*;
use core::mem::MaybeUninit;

use super::rows8::{PREP_BLOCKS, Prep, Rows8Block, SdotLane, store8};
use crate::blocks::{BlockQ8_0, BlockQ8_1};
use crate::parts::ColumnsMut;
use crate::rows8::{BlockQ4_1x8, BlockQ8_0x8, ROWS8, gemm_geometry};

/// `acc + w · aᵀ` for `w` = 2 rows × 8 i8, `a` = 2 tokens × 8 i8: lanes `[w0·a0, w0·a1,
/// w1·a0, w1·a1]`, exact.
///
/// # Safety
/// FEAT_I8MM.
#[inline(always)]
unsafe fn smmla(acc: int32x4_t, w: int8x16_t, a: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: the caller guarantees FEAT_I8MM; register-only instruction (no memory, no
    // flags, no stack). `vmmlaq_s32` is unstable on Rust 1.95, hence the assembly.
    unsafe {
        core::arch::asm!(
            "smmla {acc:v}.4s, {w:v}.16b, {a:v}.16b",
            acc = inout(vreg) acc,
            w = in(vreg) w,
            a = in(vreg) a,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// What a tile needs of one activation block of a token pair `(t, u)`, laid out for `smmla`
/// and the mixed lane order: `qs[g]` = token `t`'s columns `8g..8g+8`, then `u`'s; `d`, `s`
/// = `[t, u, t, u]` of [`Prep`]'s values.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub(super) struct PairPrep {
    qs: [[i8; 16]; 4],
    d: [f32; 4],
    s: [f32; 4],
}

impl PairPrep {
    fn new(t: (&Prep, &[i8; 32]), u: (&Prep, &[i8; 32])) -> PairPrep {
        let mut qs = [[0i8; 16]; 4];
        for (g, q) in qs.iter_mut().enumerate() {
            q[..8].copy_from_slice(&t.1[8 * g..8 * g + 8]);
            q[8..].copy_from_slice(&u.1[8 * g..8 * g + 8]);
        }
        let (t, u) = (t.0, u.0);
        PairPrep {
            qs,
            d: [t.d, u.d, t.d, u.d],
            s: [t.s, u.s, t.s, u.s],
        }
    }

    /// # Safety
    /// NEON.
    #[inline(always)]
    unsafe fn qs(&self) -> [int8x16_t; 4] {
        // SAFETY: 16 readable bytes each; NEON is the caller's promise.
        unsafe { core::array::from_fn(|g| vld1q_s8(self.qs[g].as_ptr())) }
    }

    /// # Safety
    /// NEON.
    #[inline(always)]
    unsafe fn d(&self) -> float32x4_t {
        // SAFETY: 4 readable f32; NEON is the caller's promise.
        unsafe { vld1q_f32(self.d.as_ptr()) }
    }

    /// # Safety
    /// NEON.
    #[inline(always)]
    unsafe fn s(&self) -> float32x4_t {
        // SAFETY: 4 readable f32; NEON is the caller's promise.
        unsafe { vld1q_f32(self.s.as_ptr()) }
    }
}

/// A block's 16 weight registers (`w[2k + h]`) as `m[rp][g]`: rows `2rp, 2rp+1`, columns
/// `8g..8g+8` (module docs).
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn row_pairs(w: &[int8x16_t; 16]) -> [[int8x16_t; 4]; 4] {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe {
        let s = |i: usize| vreinterpretq_s32_s8(w[i]);
        core::array::from_fn(|rp| {
            let h = rp / 2;
            core::array::from_fn(|g| {
                let (a, b) = (s(4 * g + h), s(4 * g + 2 + h));
                vreinterpretq_s8_s32(if rp % 2 == 0 {
                    vzip1q_s32(a, b)
                } else {
                    vzip2q_s32(a, b)
                })
            })
        })
    }
}

/// Per-row scales (rows 0–3, 4–7) widened to the mixed order: `[d_r, d_r, d_r', d_r']` for
/// row pair `rp` (rows `r = 2rp`, `r' = 2rp + 1`).
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn pair_scales(v: &[float32x4_t; 2]) -> [float32x4_t; 4] {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe {
        [
            vzip1q_f32(v[0], v[0]),
            vzip2q_f32(v[0], v[0]),
            vzip1q_f32(v[1], v[1]),
            vzip2q_f32(v[1], v[1]),
        ]
    }
}

/// A rows8 format's block step in the mixed lane order.
pub(super) trait MmlaBlock: Rows8Block {
    /// `acc[rp] + term` for the block's 4 row pairs against one token pair's block, lanes
    /// in the mixed order, the reference's step in each lane.
    ///
    /// # Safety
    /// NEON.
    unsafe fn add_pair_terms(
        acc: [float32x4_t; 4],
        s: [int32x4_t; 4],
        sc: &Self::Scales,
        p: &PairPrep,
    ) -> [float32x4_t; 4];
}

/// `fma(d_x · d_y, sumi, acc)` lane-wise, for the formats with one scale per block.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn add_scaled(
    acc: [float32x4_t; 4],
    s: [int32x4_t; 4],
    d: &[float32x4_t; 2],
    p: &PairPrep,
) -> [float32x4_t; 4] {
    // SAFETY: NEON is the caller's promise; register-only operations and PairPrep loads.
    unsafe {
        let (dx, dy) = (pair_scales(d), p.d());
        core::array::from_fn(|rp| vfmaq_f32(acc[rp], vmulq_f32(dx[rp], dy), vcvtq_f32_s32(s[rp])))
    }
}

/// Reference (`add_block`): `fma(d_x * d_y, sumi as f32, acc)` ([`add_scaled`]).
impl MmlaBlock for BlockQ8_0x8 {
    #[inline(always)]
    unsafe fn add_pair_terms(
        acc: [float32x4_t; 4],
        s: [int32x4_t; 4],
        d: &[float32x4_t; 2],
        p: &PairPrep,
    ) -> [float32x4_t; 4] {
        // SAFETY: forwarded contract.
        unsafe { add_scaled(acc, s, d, p) }
    }
}

impl MmlaBlock for BlockQ4_1x8 {
    /// Reference: `fma(m_x, s_y, fma(d_x * d_y, sumi as f32, acc))`.
    #[inline(always)]
    unsafe fn add_pair_terms(
        acc: [float32x4_t; 4],
        s: [int32x4_t; 4],
        sc: &[[float32x4_t; 2]; 2],
        p: &PairPrep,
    ) -> [float32x4_t; 4] {
        // SAFETY: NEON is the caller's promise.
        unsafe {
            let (mx, sy) = (pair_scales(&sc[1]), p.s());
            let acc = add_scaled(acc, s, &sc[0], p);
            core::array::from_fn(|rp| vfmaq_f32(acc[rp], mx[rp], sy))
        }
    }
}

/// `acc[i]` (pair `i`, mixed order) += every block of one group's span `w` against pair `i`'s
/// prepared blocks `p[i]`.
///
/// # Safety
/// NEON, FEAT_I8MM.
#[inline(always)]
unsafe fn tile<W: MmlaBlock, const P: usize>(
    w: &[W],
    p: [&[PairPrep]; P],
    acc: &mut [[float32x4_t; 4]; 2],
) {
    let n = w.len();
    let p = p.map(|p| &p[..n]);
    let mut f = *acc;
    /// Pair `$i`'s term (`P` is a constant, so the branch folds away).
    macro_rules! pair {
        ($i:literal, $m:ident, $sc:ident, $b:ident) => {
            if $i < P {
                let pp = &p[$i][$b];
                let a = pp.qs();
                let mut s = [vdupq_n_s32(0); 4];
                for g in 0..4 {
                    for rp in 0..4 {
                        s[rp] = smmla(s[rp], $m[rp][g], a[g]);
                    }
                }
                f[$i] = W::add_pair_terms(f[$i], s, &$sc, pp);
            }
        };
    }
    for b in 0..n {
        // SAFETY: forwarded contract.
        unsafe {
            let (q, sc) = w[b].unpack();
            let m = row_pairs(&q);
            pair!(0, m, sc, b);
            pair!(1, m, sc, b);
        }
    }
    *acc = f;
}

/// A pair's accumulators (mixed order) as its two tokens' rows 0–3 and 4–7.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn unmix(f: &[float32x4_t; 4]) -> [[float32x4_t; 2]; 2] {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe {
        [
            [vuzp1q_f32(f[0], f[1]), vuzp1q_f32(f[2], f[3])],
            [vuzp2q_f32(f[0], f[1]), vuzp2q_f32(f[2], f[3])],
        ]
    }
}

/// The rows8 GEMM (contract of `crate::dispatch::Rows8GemmFn`) with `smmla`: tokens in
/// chunks of two pairs, each chunk walking every group once; a last odd token through the
/// dotprod GEMM. Outputs add their blocks' terms in block order.
///
/// # Safety
/// NEON, FEAT_DotProd and FEAT_I8MM.
///
/// # Panics
/// On a geometry that breaks the contract ([`gemm_geometry`]).
#[inline(always)]
pub(super) unsafe fn gemm<W: MmlaBlock>(
    w: &[W],
    x: &[W::Act],
    nb: usize,
    out: &mut ColumnsMut<'_>,
) {
    let (groups, nt, mr) = gemm_geometry(w.len(), x.len(), nb, out);
    // Not zeroed first (see `rows8::gemm`): a row's first `b1 - b0` entries are written
    // below before anything reads them.
    let mut prep = [[MaybeUninit::<PairPrep>::uninit(); PREP_BLOCKS]; 2];
    let mut t0 = 0;
    while t0 + 2 <= nt {
        let np = ((nt - t0) / 2).min(2);
        for g in 0..groups {
            let wg = &w[g * nb..(g + 1) * nb];
            // SAFETY: NEON is the caller's promise.
            let zero = unsafe { vdupq_n_f32(0.0) };
            let mut acc = [[zero; 4]; 2];
            let mut b0 = 0;
            while b0 < nb {
                let b1 = (b0 + PREP_BLOCKS).min(nb);
                if g == 0 || nb > PREP_BLOCKS {
                    let xs = |t: usize| &x[(t0 + t) * nb + b0..(t0 + t) * nb + b1];
                    for (i, row) in prep.iter_mut().enumerate().take(np) {
                        let (xt, xu) = (xs(2 * i), xs(2 * i + 1));
                        for ((p, yt), yu) in row.iter_mut().zip(xt).zip(xu) {
                            // SAFETY: NEON is the caller's promise.
                            let (pt, pu) = unsafe { (W::prep(yt), W::prep(yu)) };
                            p.write(PairPrep::new((&pt, W::act_qs(yt)), (&pu, W::act_qs(yu))));
                        }
                    }
                }
                // SAFETY: rows `i < np` hold `b1 - b0` written entries: filled just above
                // (first group, or every span of a long row), or at the first group of this
                // token chunk with the same span (a short row is one span, `0..nb`).
                let ps = |i: usize| unsafe {
                    core::slice::from_raw_parts(prep[i].as_ptr().cast::<PairPrep>(), b1 - b0)
                };
                let ws = &wg[b0..b1];
                // SAFETY: forwarded contract.
                unsafe {
                    if np == 1 {
                        tile::<W, 1>(ws, [ps(0)], &mut acc);
                    } else {
                        tile::<W, 2>(ws, [ps(0), ps(1)], &mut acc);
                    }
                }
                b0 = b1;
            }
            for (i, f) in acc.iter().enumerate().take(np) {
                // SAFETY: NEON is the caller's promise.
                unsafe {
                    let [vt, vu] = unmix(f);
                    store8(&mut out.row_mut(t0 + 2 * i)[g * ROWS8..], &vt);
                    store8(&mut out.row_mut(t0 + 2 * i + 1)[g * ROWS8..], &vu);
                }
            }
        }
        t0 += 2 * np;
    }
    if t0 < nt {
        let mut last = out.sub(t0..nt, 0..mr);
        // SAFETY: forwarded contract (FEAT_DotProd).
        unsafe { super::rows8::gemm::<SdotLane, W>(w, &x[t0 * nb..], nb, &mut last) };
    }
}

/// The i8mm tier's rows8 GEMM entry points (Q4_1, Q8_0).
macro_rules! tier_rows8_mmla {
    ($($name:ident: $W:ident, $A:ident;)*) => {$(
        #[doc = concat!("Rows8 GEMM with `smmla` (contract of [`crate::rows8::",
            stringify!($name), "`]; the reference's bits).")]
        ///
        /// # Safety
        /// The CPU must support NEON, FEAT_DotProd and FEAT_I8MM.
        #[target_feature(enable = "neon,dotprod,i8mm")]
        pub unsafe fn $name(
            w: &[$W],
            x: &[$A],
            nb: usize,
            out: &mut ColumnsMut<'_>,
        ) {
            // SAFETY: this function's features are the caller's promise.
            unsafe { gemm::<$W>(w, x, nb, out) }
        }
    )*};
}

tier_rows8_mmla! {
    gemm_q4_1x8_q8_1: BlockQ4_1x8, BlockQ8_1;
    gemm_q8_0x8_q8_0: BlockQ8_0x8, BlockQ8_0;
}
