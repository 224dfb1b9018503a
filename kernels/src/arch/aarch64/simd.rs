//! NEON building blocks shared by the aarch64 tiers: loads from block arrays, nibble
//! unpacking, half-float conversion, and the one operation the tiers differ in — the signed
//! 8-bit dot product [`I8Dot`].
//!
//! Everything here is `#[inline(always)]` and carries no `#[target_feature]` of its own, so
//! it is compiled inside the tier function that calls it (`neon.rs`, `dotprod.rs`) with that
//! function's features. Callers promise NEON (and, for [`Sdot`], FEAT_DotProd).

use core::arch::aarch64::*;

/// Signed 8-bit dot product into four i32 lanes.
///
/// `dot(acc, a, b)` adds all 16 products `a[i]*b[i]` into `acc`, spread over its lanes in a
/// tier-specific way: callers only ever reduce the whole vector (`vaddvq_s32`), so the lane
/// layout never matters, and the integer sum is exact.
pub(super) trait I8Dot {
    /// `acc + Σ a[i]*b[i]` for any `a`, `b` (including `-128 * -128`).
    ///
    /// # Safety
    /// The CPU must support NEON and the implementor's extra features.
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t;

    /// As [`I8Dot::dot`], for `a` known to lie in `-127..=127` (unpacked 4/5/6-bit weights).
    ///
    /// # Safety
    /// As [`I8Dot::dot`]; additionally no lane of `a` is `-128`.
    unsafe fn dot_bounded(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t;
}

/// Baseline NEON: `smull` (8×8 → 16 bit) then `sadalp` (pairwise add-accumulate into 32 bit).
///
/// i16 overflow is the classic bug here: `-128 * -128 = 16384`, and two such products summed
/// in an i16 lane (`smlal`) wrap to `-32768`. [`I8Dot::dot`] therefore widens every single
/// product to 32 bit. [`I8Dot::dot_bounded`] may pair two products per i16 lane, since with
/// `|a| <= 127` each product is at most `127 * 128 = 16256` in magnitude and two sum to at most
/// 32512.
#[derive(Debug)]
pub(super) struct Smull;

impl I8Dot for Smull {
    #[inline(always)]
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        // SAFETY: the caller guarantees NEON; register-only operations.
        unsafe {
            let lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
            let hi = vmull_high_s8(a, b);
            vpadalq_s16(vpadalq_s16(acc, lo), hi)
        }
    }

    #[inline(always)]
    unsafe fn dot_bounded(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        // SAFETY: the caller guarantees NEON and |a| <= 127, so the two products per i16 lane
        // stay within ±32512 (see the type's docs); register-only operations.
        unsafe {
            let p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
            let p = vmlal_high_s8(p, a, b);
            vpadalq_s16(acc, p)
        }
    }
}

/// FEAT_DotProd (Cortex-A76 and later): `sdot` sums four 8-bit products straight into each
/// 32-bit lane, so there is no 16-bit intermediate to overflow.
#[derive(Debug)]
pub(super) struct Sdot;

impl I8Dot for Sdot {
    #[inline(always)]
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        let mut acc = acc;
        // SAFETY: the caller guarantees FEAT_DotProd, so `sdot` is a valid instruction; it
        // reads and writes only the named vector registers (no memory, no flags, no stack).
        // `vdotq_s32` is still unstable on Rust 1.95, hence the inline assembly.
        unsafe {
            core::arch::asm!(
                "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
                acc = inout(vreg) acc,
                a = in(vreg) a,
                b = in(vreg) b,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        acc
    }

    #[inline(always)]
    unsafe fn dot_bounded(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        // SAFETY: forwarded contract (FEAT_DotProd).
        unsafe { Self::dot(acc, a, b) }
    }
}

/// Load 16 signed bytes.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn load_i8(a: &[i8; 16]) -> int8x16_t {
    // SAFETY: `a` covers 16 readable bytes; `ld1` has no alignment requirement beyond a byte
    // (it is split into byte loads under +strict-align); NEON is the caller's promise.
    unsafe { vld1q_s8(a.as_ptr()) }
}

/// Load 16 unsigned bytes.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn load_u8(a: &[u8; 16]) -> uint8x16_t {
    // SAFETY: as `load_i8`.
    unsafe { vld1q_u8(a.as_ptr()) }
}

/// The 16-byte chunk `i` of a byte array.
#[inline(always)]
pub(super) fn chunk<T, const N: usize>(a: &[T; N], i: usize) -> &[T; 16] {
    let (chunks, _) = a.as_chunks::<16>();
    &chunks[i]
}

/// Load 4 f32.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn load_f32(a: &[f32; 4]) -> float32x4_t {
    // SAFETY: `a` covers 16 readable bytes; NEON is the caller's promise.
    unsafe { vld1q_f32(a.as_ptr()) }
}

/// Split 16 packed bytes into their low and high nibbles (each lane 0..16).
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn nibbles(q: uint8x16_t) -> (uint8x16_t, uint8x16_t) {
    // SAFETY: the caller guarantees NEON; register-only operations.
    unsafe { (vandq_u8(q, vdupq_n_u8(0x0f)), vshrq_n_u8::<4>(q)) }
}

/// One IEEE half (as its bits) to f32 with the `fcvt` instruction, exact like
/// `half::f16::to_f32`. Half-to-single conversion is part of base ARMv8 floating point (no
/// FEAT_FP16 needed).
///
/// # Safety
/// The CPU must support FP/SIMD (always true where NEON is).
#[inline(always)]
pub(super) unsafe fn f16_to_f32(h: half::f16) -> f32 {
    let out: f32;
    // SAFETY: `fcvt s, h` reads the low 16 bits of the input register (the f32 bit pattern
    // we pass has the half in its low 16 bits) and writes one register; no memory access.
    unsafe {
        core::arch::asm!(
            "fcvt {o:s}, {i:h}",
            o = lateout(vreg) out,
            i = in(vreg) f32::from_bits(u32::from(h.to_bits())),
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}

/// Four halves (as bits) to four f32 with `fcvtl` (base ARMv8 AdvSIMD), exact.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn f16x4_to_f32(h: uint16x4_t) -> float32x4_t {
    let out: float32x4_t;
    // SAFETY: register-only conversion instruction available with NEON.
    unsafe {
        core::arch::asm!(
            "fcvtl {o:v}.4s, {i:v}.4h",
            o = lateout(vreg) out,
            i = in(vreg) h,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}

/// The upper four of eight halves (as bits) to four f32 with `fcvtl2`, exact.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn f16x8_high_to_f32(h: uint16x8_t) -> float32x4_t {
    let out: float32x4_t;
    // SAFETY: register-only conversion instruction available with NEON.
    unsafe {
        core::arch::asm!(
            "fcvtl2 {o:v}.4s, {i:v}.8h",
            o = lateout(vreg) out,
            i = in(vreg) h,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}

/// Four lane-vectors reduced at once: lane `t` of the result is the sum of `p[t]`'s lanes
/// (two rounds of pairwise adds instead of four `addv`).
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn hsum4(p: [int32x4_t; 4]) -> int32x4_t {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe { vpaddq_s32(vpaddq_s32(p[0], p[1]), vpaddq_s32(p[2], p[3])) }
}

/// `fma(a, b, c)` with one rounding (`fmadd`: the reference's `fmaf`).
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn fma_s(a: f32, b: f32, c: f32) -> f32 {
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe { vget_lane_f32::<0>(vfma_n_f32(vdup_n_f32(c), vdup_n_f32(a), b)) }
}

/// Four halves (from four blocks) widened to one f32 vector, exactly.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn f16x4_from(h: [half::f16; 4]) -> float32x4_t {
    let bits = h
        .iter()
        .rev()
        .fold(0u64, |acc, v| (acc << 16) | u64::from(v.to_bits()));
    // SAFETY: NEON is the caller's promise; register-only operations.
    unsafe { f16x4_to_f32(vcreate_u16(bits)) }
}

/// Four f32 (from four blocks) as one vector.
///
/// # Safety
/// The CPU must support NEON.
#[inline(always)]
pub(super) unsafe fn f32x4_from(v: [f32; 4]) -> float32x4_t {
    // SAFETY: NEON is the caller's promise; the array holds 4 readable floats.
    unsafe { load_f32(&v) }
}
