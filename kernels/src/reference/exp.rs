//! `e^x` as every tier computes it: Cephes' polynomial with its range reduction, written once
//! here as the specification and followed step for step (same constants, same fused
//! multiply-adds, same order) by the SIMD tiers (`exp_ps` on AVX2 and NEON, `exp16` on
//! AVX-512), so softmax, SiLU and GELU give the same bits on every CPU.
//!
//! Within 2 ulp of a correctly rounded `e^x` for results in the normal range. Arguments below
//! [`LO`] give 0 (a correctly rounded exp gives subnormals there), above [`OVERFLOW`] `+inf`;
//! arguments in between are clamped to [`HI`] first (only SiLU's `e^-x` at `x ~ -88` gets
//! there; its result is ~1e-37 either way). NaN stays NaN.

/// `log2(e)`.
pub const LOG2E: f32 = core::f32::consts::LOG2_E;
/// `ln 2` in two parts, for an exact-enough `x - n ln 2`.
pub const LN2_HI: f32 = 0.693_359_4;
pub const LN2_LO: f32 = -2.121_944_4e-4;
/// Cephes' polynomial for `e^r`, highest power first.
pub const C: [f32; 6] = [
    1.987_569_2e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];
/// Clamp bounds of the argument, and where the result is `+inf`.
pub const LO: f32 = -87.33;
pub const HI: f32 = 88.3;
pub const OVERFLOW: f32 = 88.722_84;

/// `e^x`, the steps of the SIMD `exp_ps` on one lane (`fmaf` is the fused multiply-add the
/// SIMD code uses, `rintf` its round-to-nearest-even).
pub fn exp(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x < LO {
        return 0.0;
    }
    if x > OVERFLOW {
        return f32::INFINITY;
    }
    let xc = x.min(HI);
    // x = n ln2 + r, |r| <= ln2 / 2.
    let n = libm::rintf(xc * LOG2E);
    let r = libm::fmaf(-n, LN2_HI, xc);
    let r = libm::fmaf(-n, LN2_LO, r);
    let mut p = C[0];
    for &c in &C[1..] {
        p = libm::fmaf(p, r, c);
    }
    let p = libm::fmaf(p, r * r, r) + 1.0;
    // 2^n from the exponent bits: n is integral and in -126..=127 after the clamp.
    let pow2 = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * pow2
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Within 2 ulp of `libm::expf` over the range the forward pass uses, and the edges.
    #[test]
    fn close_to_libm() {
        let mut x = -87.0f32;
        while x < 88.0 {
            let (got, want) = (exp(x), libm::expf(x));
            let ulp = (got.to_bits() as i64 - want.to_bits() as i64).abs();
            assert!(ulp <= 2, "exp({x}) = {got}, libm {want} ({ulp} ulp)");
            x += 0.013_7;
        }
        assert_eq!(exp(-100.0), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(89.0), f32::INFINITY);
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(exp(0.0), 1.0);
    }
}
