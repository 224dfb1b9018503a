//! F16 / BF16 rows: conversion to and from f32, as ggml does it.
//!
//! - F16: IEEE binary16, round-to-nearest-even (`GGML_FP32_TO_FP16`, F16C `vcvtps2ph`).
//! - BF16: the top 16 bits of an f32 with round-to-nearest-even; NaN is kept NaN and made quiet
//!   (`ggml_compute_fp32_to_bf16`). Dequantization of either is exact.

use half::{bf16, f16};

/// `y[i] = f16(x[i])` (round to nearest even; overflow gives ±inf as in ggml).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn quantize_row_f16(x: &[f32], y: &mut [f16]) {
    assert_eq!(x.len(), y.len(), "quantize_row_f16: length mismatch");
    for (o, &v) in y.iter_mut().zip(x) {
        *o = f16::from_f32(v);
    }
}

/// `y[i] = f32(x[i])` (exact).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn dequantize_row_f16(x: &[f16], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "dequantize_row_f16: length mismatch");
    for (o, &v) in y.iter_mut().zip(x) {
        *o = v.to_f32();
    }
}

/// ggml `ggml_compute_fp32_to_bf16`: NaN becomes a quiet NaN with the same sign and top
/// mantissa bits; everything else rounds to nearest even (overflow gives ±inf).
#[inline]
pub fn f32_to_bf16(x: f32) -> bf16 {
    let u = x.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return bf16::from_bits(((u >> 16) | 64) as u16);
    }
    let rounded = (u as u64 + (0x7fff + ((u >> 16) & 1)) as u64) >> 16;
    bf16::from_bits(rounded as u16)
}

/// `y[i] = bf16(x[i])` with ggml's rounding ([`f32_to_bf16`]).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn quantize_row_bf16(x: &[f32], y: &mut [bf16]) {
    assert_eq!(x.len(), y.len(), "quantize_row_bf16: length mismatch");
    for (o, &v) in y.iter_mut().zip(x) {
        *o = f32_to_bf16(v);
    }
}

/// `y[i] = f32(x[i])` (exact: the bits shifted up by 16).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn dequantize_row_bf16(x: &[bf16], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "dequantize_row_bf16: length mismatch");
    for (o, &v) in y.iter_mut().zip(x) {
        *o = f32::from_bits((v.to_bits() as u32) << 16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even_and_keeps_nan() {
        // 1 + 2^-8 is exactly halfway between two bf16 values: ties to even (down).
        assert_eq!(f32_to_bf16(1.0 + 1.0 / 256.0).to_bits(), 0x3f80);
        // 1 + 3*2^-8 ties up to the even neighbour.
        assert_eq!(f32_to_bf16(1.0 + 3.0 / 256.0).to_bits(), 0x3f82);
        assert!(f32_to_bf16(f32::NAN).to_f32().is_nan());
        // A signalling NaN whose payload is only in the low bits must stay NaN.
        assert!(f32_to_bf16(f32::from_bits(0x7f80_0001)).to_f32().is_nan());
        assert_eq!(f32_to_bf16(f32::MAX).to_f32(), f32::INFINITY);
    }

    #[test]
    fn f16_round_trip_is_exact_for_representable_values() {
        // 2^-24 is the smallest f16 subnormal.
        let x = [0.0f32, -0.0, 1.0, -2.5, 65504.0, 5.960_464_5e-8];
        let mut h = [f16::ZERO; 6];
        let mut back = [0f32; 6];
        quantize_row_f16(&x, &mut h);
        dequantize_row_f16(&h, &mut back);
        for (a, b) in x.iter().zip(&back) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }
}
