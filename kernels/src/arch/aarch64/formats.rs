//! Each quantized weight format as "unpack once, dot with many activation blocks":
//! [`QuantBlock::unpack`] turns one weight block into registers, [`QuantBlock::dot`] returns
//! that block's f32 contribution against one activation block.
//!
//! The contribution is the reference's per-block expression (`reference::vec_dot`) with the
//! same float operations in the same order, on an exactly equal integer sum, so any kernel
//! that adds contributions in block order (the dots and every GEMM tile) equals the
//! reference bit for bit.

use super::simd::{I8Dot, f16_to_f32};
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

    /// This block's term of the dot product: `scales × Σ w·y` as the reference computes it.
    ///
    /// # Safety
    /// NEON and `D`'s features.
    unsafe fn dot<D: I8Dot>(&self, u: &Self::Unpacked, y: &Self::Act) -> f32;
}

impl QuantBlock for BlockQ4_0 {
    type Act = BlockQ8_0;
    type Unpacked = Unpacked32;

    #[inline(always)]
    unsafe fn unpack(&self) -> Unpacked32 {
        // SAFETY: forwarded contract.
        unsafe { unpack::q4_0(self) }
    }

    #[inline(always)]
    unsafe fn dot<D: I8Dot>(&self, u: &Unpacked32, y: &BlockQ8_0) -> f32 {
        // SAFETY: forwarded contract; Q4_0 weights are in -8..=7.
        unsafe {
            let sumi = unpack::isum32_bounded::<D>(u, &y.qs);
            sumi as f32 * f16_to_f32(self.d) * f16_to_f32(y.d)
        }
    }
}

impl QuantBlock for BlockQ4_1 {
    type Act = BlockQ8_1;
    type Unpacked = Unpacked32;

    #[inline(always)]
    unsafe fn unpack(&self) -> Unpacked32 {
        // SAFETY: forwarded contract.
        unsafe { unpack::q4_1(self) }
    }

    #[inline(always)]
    unsafe fn dot<D: I8Dot>(&self, u: &Unpacked32, y: &BlockQ8_1) -> f32 {
        // SAFETY: forwarded contract; Q4_1 weights are in 0..=15.
        unsafe {
            let sumi = unpack::isum32_bounded::<D>(u, &y.qs);
            (f16_to_f32(self.d) * f16_to_f32(y.d)) * sumi as f32
                + f16_to_f32(self.m) * f16_to_f32(y.s)
        }
    }
}

impl QuantBlock for BlockQ5_0 {
    type Act = BlockQ8_0;
    type Unpacked = Unpacked32;

    #[inline(always)]
    unsafe fn unpack(&self) -> Unpacked32 {
        // SAFETY: forwarded contract.
        unsafe { unpack::q5_0(self) }
    }

    #[inline(always)]
    unsafe fn dot<D: I8Dot>(&self, u: &Unpacked32, y: &BlockQ8_0) -> f32 {
        // SAFETY: forwarded contract; Q5_0 weights are in -16..=15.
        unsafe {
            let sumi = unpack::isum32_bounded::<D>(u, &y.qs);
            (f16_to_f32(self.d) * f16_to_f32(y.d)) * sumi as f32
        }
    }
}

impl QuantBlock for BlockQ8_0 {
    type Act = BlockQ8_0;
    type Unpacked = Unpacked32;

    #[inline(always)]
    unsafe fn unpack(&self) -> Unpacked32 {
        // SAFETY: forwarded contract.
        unsafe { unpack::q8_0(self) }
    }

    #[inline(always)]
    unsafe fn dot<D: I8Dot>(&self, u: &Unpacked32, y: &BlockQ8_0) -> f32 {
        // SAFETY: forwarded contract; `isum32` takes any i8, -128 included.
        unsafe {
            let sumi = unpack::isum32::<D>(u, &y.qs);
            sumi as f32 * (f16_to_f32(self.d) * f16_to_f32(y.d))
        }
    }
}

/// A Q4_K/Q5_K super-block in registers with its decoded sub-block scales and mins.
pub(super) type UnpackedKMin = (Unpacked256, [u8; 8], [u8; 8]);

impl QuantBlock for BlockQ4K {
    type Act = BlockQ8K;
    type Unpacked = UnpackedKMin;

    #[inline(always)]
    unsafe fn unpack(&self) -> UnpackedKMin {
        let (sc, m) = scales_mins_k4(&self.scales);
        // SAFETY: forwarded contract.
        (unsafe { unpack::q4_k(self) }, sc, m)
    }

    #[inline(always)]
    unsafe fn dot<D: I8Dot>(&self, u: &UnpackedKMin, y: &BlockQ8K) -> f32 {
        // SAFETY: forwarded contract.
        unsafe { k_min_term::<D>(u, y, self.d, self.dmin) }
    }
}

impl QuantBlock for BlockQ5K {
    type Act = BlockQ8K;
    type Unpacked = UnpackedKMin;

    #[inline(always)]
    unsafe fn unpack(&self) -> UnpackedKMin {
        let (sc, m) = scales_mins_k4(&self.scales);
        // SAFETY: forwarded contract.
        (unsafe { unpack::q5_k(self) }, sc, m)
    }

    #[inline(always)]
    unsafe fn dot<D: I8Dot>(&self, u: &UnpackedKMin, y: &BlockQ8K) -> f32 {
        // SAFETY: forwarded contract.
        unsafe { k_min_term::<D>(u, y, self.d, self.dmin) }
    }
}

/// Q4_K/Q5_K term: `(d_x*d_y) * sumi - (dmin_x*d_y) * summ`.
///
/// # Safety
/// NEON and `D`'s features.
#[inline(always)]
unsafe fn k_min_term<D: I8Dot>(
    u: &UnpackedKMin,
    y: &BlockQ8K,
    d: half::f16,
    dmin: half::f16,
) -> f32 {
    // SAFETY: forwarded contract; Q4_K/Q5_K weights are in 0..=31.
    unsafe {
        let sumi = unpack::isum256_scaled32::<D>(&u.0, &u.1, y);
        let summ = unpack::mins_dot_bsums(&u.2, &y.bsums);
        (f16_to_f32(d) * y.d) * sumi as f32 - (f16_to_f32(dmin) * y.d) * summ as f32
    }
}

impl QuantBlock for BlockQ6K {
    type Act = BlockQ8K;
    type Unpacked = Unpacked256;

    #[inline(always)]
    unsafe fn unpack(&self) -> Unpacked256 {
        // SAFETY: forwarded contract.
        unsafe { unpack::q6_k(self) }
    }

    #[inline(always)]
    unsafe fn dot<D: I8Dot>(&self, u: &Unpacked256, y: &BlockQ8K) -> f32 {
        // SAFETY: forwarded contract; Q6_K weights are in -32..=31.
        unsafe {
            let sumi = unpack::isum256_scaled16::<D>(u, &self.scales, y);
            (f16_to_f32(self.d) * y.d) * sumi as f32
        }
    }
}
