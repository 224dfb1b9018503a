//! Each quantized weight format as "unpack once, dot with many activation blocks":
//! [`QuantBlock::unpack`] turns one weight block into registers, [`QuantBlock::step`] adds
//! that block's term against one activation block to an accumulator, [`QuantBlock::step4`]
//! the four terms against four activation blocks (four tokens of a GEMM tile) to four
//! accumulator lanes.
//!
//! A step is the reference's block step (`reference::vec_dot::step_*`) with the same float
//! operations in the same order, fused where the reference fuses, on an exactly equal
//! integer sum; `step4` does the very same operations lane-wise (IEEE operations are per
//! lane, and multiplication and addition are commutative, so `dy * dx` is `dx * dy`). So any
//! kernel that steps through the blocks in order — the dots and every GEMM tile — equals the
//! reference bit for bit.

use core::arch::aarch64::*;

use super::simd::{I8Dot, f16_to_f32, f16x4_from, f32x4_from, fma_s, hsum4};
use super::unpack::{self, Unpacked32, Unpacked256};
use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K};
use crate::blocks::{BlockQ8_0, BlockQ8_1, BlockQ8K};
use crate::reference::k_quants::scales_mins_k4;

/// A weight block format with an integer dot kernel against its activation format.
pub(super) trait QuantBlock: Copy {
    /// The activation block it is multiplied with (ggml `vec_dot_type`).
    type Act: Copy;
    /// The block in registers, plus whatever per-block scales the dot needs.
    type Unpacked: Copy;

    /// # Safety
    /// The CPU must support NEON.
    unsafe fn unpack(&self) -> Self::Unpacked;

    /// `acc` plus this block's term of the dot product (`scales × Σ w·y`), as the
    /// reference's block step computes it.
    ///
    /// # Safety
    /// NEON and `D`'s features.
    unsafe fn step<D: I8Dot>(&self, acc: f32, u: &Self::Unpacked, y: &Self::Act) -> f32;

    /// Lane `t` = `self.step(acc[t], u, y[t])`, bit for bit.
    ///
    /// # Safety
    /// NEON and `D`'s features.
    unsafe fn step4<D: I8Dot>(
        &self,
        acc: float32x4_t,
        u: &Self::Unpacked,
        y: [&Self::Act; 4],
    ) -> float32x4_t;
}

/// `isums4!(y, |v| isum)`: the integer sums `isum` (lane vectors) for `v = y[0..4]`, reduced
/// to lane `t` for `y[t]` and converted to f32. A macro, not a closure: a closure is its own
/// function without the tier's `#[target_feature]`, and `sdot` would not assemble in it.
macro_rules! isums4 {
    ($y:expr, |$v:ident| $isum:expr) => {{
        let y = $y;
        let sums = [
            {
                let $v = y[0];
                $isum
            },
            {
                let $v = y[1];
                $isum
            },
            {
                let $v = y[2];
                $isum
            },
            {
                let $v = y[3];
                $isum
            },
        ];
        vcvtq_f32_s32(hsum4(sums))
    }};
}

/// Q4_0, Q5_0 and Q8_0 share Q8_0 activations and the reference's block step
/// (`add_block`: `fma(d_x · d_y, sumi, acc)`), and differ in unpacking and weight range.
macro_rules! q8_0_act_format {
    ($W:ty, $unpack:path, $isum:ident) => {
        impl QuantBlock for $W {
            type Act = BlockQ8_0;
            type Unpacked = Unpacked32;

            #[inline(always)]
            unsafe fn unpack(&self) -> Unpacked32 {
                // SAFETY: forwarded contract.
                unsafe { $unpack(self) }
            }

            #[inline(always)]
            unsafe fn step<D: I8Dot>(&self, acc: f32, u: &Unpacked32, y: &BlockQ8_0) -> f32 {
                // SAFETY: forwarded contract; `$isum` is the bounded variant only for weights
                // in -127..=127 (Q4_0, Q5_0).
                unsafe {
                    let s = vaddvq_s32(unpack::$isum::<D>(u, &y.qs)) as f32;
                    fma_s(f16_to_f32(self.d) * f16_to_f32(y.d), s, acc)
                }
            }

            #[inline(always)]
            unsafe fn step4<D: I8Dot>(
                &self,
                acc: float32x4_t,
                u: &Unpacked32,
                y: [&BlockQ8_0; 4],
            ) -> float32x4_t {
                // SAFETY: as `step`.
                unsafe {
                    let s = isums4!(y, |y| unpack::$isum::<D>(u, &y.qs));
                    let dd = vmulq_n_f32(f16x4_from(y.map(|y| y.d)), f16_to_f32(self.d));
                    vfmaq_f32(acc, dd, s)
                }
            }
        }
    };
}

q8_0_act_format!(BlockQ4_0, unpack::q4_0, isum32_bounded);
q8_0_act_format!(BlockQ5_0, unpack::q5_0, isum32_bounded);
// Q8_0 weights may be -128: the unbounded dot.
q8_0_act_format!(BlockQ8_0, unpack::q8_0, isum32);

impl QuantBlock for BlockQ4_1 {
    type Act = BlockQ8_1;
    type Unpacked = Unpacked32;

    #[inline(always)]
    unsafe fn unpack(&self) -> Unpacked32 {
        // SAFETY: forwarded contract.
        unsafe { unpack::q4_1(self) }
    }

    /// Reference: `fma(m_x, s_y, fma(d_x * d_y, sumi as f32, acc))`.
    #[inline(always)]
    unsafe fn step<D: I8Dot>(&self, acc: f32, u: &Unpacked32, y: &BlockQ8_1) -> f32 {
        // SAFETY: forwarded contract; Q4_1 weights are in 0..=15.
        unsafe {
            let s = vaddvq_s32(unpack::isum32_bounded::<D>(u, &y.qs)) as f32;
            let a = fma_s(f16_to_f32(self.d) * f16_to_f32(y.d), s, acc);
            fma_s(f16_to_f32(self.m), f16_to_f32(y.s), a)
        }
    }

    #[inline(always)]
    unsafe fn step4<D: I8Dot>(
        &self,
        acc: float32x4_t,
        u: &Unpacked32,
        y: [&BlockQ8_1; 4],
    ) -> float32x4_t {
        // SAFETY: as `step`.
        unsafe {
            let s = isums4!(y, |y| unpack::isum32_bounded::<D>(u, &y.qs));
            let dxdy = vmulq_n_f32(f16x4_from(y.map(|y| y.d)), f16_to_f32(self.d));
            let a = vfmaq_f32(acc, dxdy, s);
            vfmaq_n_f32(a, f16x4_from(y.map(|y| y.s)), f16_to_f32(self.m))
        }
    }
}

/// A Q4_K/Q5_K super-block in registers with its decoded sub-block scales and mins.
pub(super) type UnpackedKMin = (Unpacked256, [u8; 8], [u8; 8]);

/// Q4_K and Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins; the mins act through the
/// activation's `bsums`. Reference: `acc + ((d_x * d_y) * sumi - (dmin_x * d_y) * summ)`.
macro_rules! k_min_format {
    ($W:ty, $unpack:path) => {
        impl QuantBlock for $W {
            type Act = BlockQ8K;
            type Unpacked = UnpackedKMin;

            #[inline(always)]
            unsafe fn unpack(&self) -> UnpackedKMin {
                let (sc, m) = scales_mins_k4(&self.scales);
                // SAFETY: forwarded contract.
                (unsafe { $unpack(self) }, sc, m)
            }

            #[inline(always)]
            unsafe fn step<D: I8Dot>(&self, acc: f32, u: &UnpackedKMin, y: &BlockQ8K) -> f32 {
                // SAFETY: forwarded contract; Q4_K/Q5_K weights are in 0..=31.
                unsafe {
                    let s = vaddvq_s32(unpack::isum256_scaled32::<D>(&u.0, &u.1, y));
                    let m = vaddvq_s32(unpack::mins_dot_bsums(&u.2, &y.bsums));
                    let (d, dmin) = (f16_to_f32(self.d), f16_to_f32(self.dmin));
                    crate::reference::vec_dot::add_k_min_block(acc, d, dmin, y.d, s, m)
                }
            }

            #[inline(always)]
            unsafe fn step4<D: I8Dot>(
                &self,
                acc: float32x4_t,
                u: &UnpackedKMin,
                y: [&BlockQ8K; 4],
            ) -> float32x4_t {
                // SAFETY: as `step`.
                unsafe {
                    let s = isums4!(y, |y| unpack::isum256_scaled32::<D>(&u.0, &u.1, y));
                    let m = isums4!(y, |y| unpack::mins_dot_bsums(&u.2, &y.bsums));
                    let dy = f32x4_from(y.map(|y| y.d));
                    let d = vmulq_n_f32(dy, f16_to_f32(self.d));
                    let dmin = vmulq_n_f32(dy, f16_to_f32(self.dmin));
                    vaddq_f32(acc, vsubq_f32(vmulq_f32(d, s), vmulq_f32(dmin, m)))
                }
            }
        }
    };
}

k_min_format!(BlockQ4K, unpack::q4_k);
k_min_format!(BlockQ5K, unpack::q5_k);

impl QuantBlock for BlockQ6K {
    type Act = BlockQ8K;
    type Unpacked = Unpacked256;

    #[inline(always)]
    unsafe fn unpack(&self) -> Unpacked256 {
        // SAFETY: forwarded contract.
        unsafe { unpack::q6_k(self) }
    }

    /// Reference: `acc + (d_x * d_y) * sumi as f32`.
    #[inline(always)]
    unsafe fn step<D: I8Dot>(&self, acc: f32, u: &Unpacked256, y: &BlockQ8K) -> f32 {
        // SAFETY: forwarded contract; Q6_K weights are in -32..=31.
        unsafe {
            let s = vaddvq_s32(unpack::isum256_scaled16::<D>(u, &self.scales, y)) as f32;
            acc + (f16_to_f32(self.d) * y.d) * s
        }
    }

    #[inline(always)]
    unsafe fn step4<D: I8Dot>(
        &self,
        acc: float32x4_t,
        u: &Unpacked256,
        y: [&BlockQ8K; 4],
    ) -> float32x4_t {
        // SAFETY: as `step`.
        unsafe {
            let s = isums4!(y, |y| unpack::isum256_scaled16::<D>(u, &self.scales, y));
            let dd = vmulq_n_f32(f32x4_from(y.map(|y| y.d)), f16_to_f32(self.d));
            vaddq_f32(acc, vmulq_f32(dd, s))
        }
    }
}
