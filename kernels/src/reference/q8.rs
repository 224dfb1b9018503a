//! Q8_0, Q8_1 and Q8_K: the 8-bit formats. Q8_0 is also a weight format; all three are the
//! activation formats the weight types are multiplied with (ggml `vec_dot_type`).
//!
//! Quantizers follow ggml's `quantize_row_q8_{0,1,K}_ref` exactly (same float operations,
//! same rounding), so their bytes equal ggml's.

use half::f16;

use super::round::{abs_max, abs_max_signed, nearest_int, round_away};
use crate::blocks::{BlockQ8_0, BlockQ8_1, BlockQ8K};
use crate::types::{QK_K, QK8_0, QK8_1};

/// ggml `quantize_row_q8_0_ref`: per block of 32, `d = amax/127`, `q = roundf(x * (1/d))`
/// (ties away from zero; all-zero blocks give `d = 0, q = 0`).
///
/// # Panics
/// If `x.len() != y.len() * 32`.
pub fn quantize_row_q8_0(x: &[f32], y: &mut [BlockQ8_0]) {
    assert_eq!(
        x.len(),
        y.len() * QK8_0,
        "quantize_row_q8_0: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK8_0)) {
        let d = abs_max(x) / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        for (q, &v) in b.qs.iter_mut().zip(x) {
            *q = round_away(v * id) as i8;
        }
    }
}

/// ggml `quantize_row_q8_1_ref`: as Q8_0, plus `s = f16(sum(q) * d)` with the f32 `d`
/// (not the rounded f16 one).
///
/// # Panics
/// If `x.len() != y.len() * 32`.
pub fn quantize_row_q8_1(x: &[f32], y: &mut [BlockQ8_1]) {
    assert_eq!(
        x.len(),
        y.len() * QK8_1,
        "quantize_row_q8_1: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK8_1)) {
        let d = abs_max(x) / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        let mut sum = 0i32;
        for (q, &v) in b.qs.iter_mut().zip(x) {
            *q = round_away(v * id) as i8;
            sum += *q as i32;
        }
        b.s = f16::from_f32(sum as f32 * d);
    }
}

/// ggml `quantize_row_q8_K_ref`: per super-block of 256, `max` = the signed value of largest
/// magnitude, `iscale = -127/max`, `q = min(127, nearest_int(iscale * x))` (ties to even),
/// `d = 1/iscale` (f32, may be negative), `bsums[j]` = sum of quants `16j..16j+16`.
/// All-zero blocks give `d = 0` and zero quants and sums (ggml leaves `bsums` stale there;
/// zero is the only value consistent with the quants).
///
/// # Panics
/// If `x.len() != y.len() * 256`.
pub fn quantize_row_q8_k(x: &[f32], y: &mut [BlockQ8K]) {
    assert_eq!(
        x.len(),
        y.len() * QK_K,
        "quantize_row_q8_k: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK_K)) {
        // ggml's loop here uses `if (ax > amax)`: same first-wins rule as abs_max_signed.
        let (amax, max) = abs_max_signed(x);
        if amax == 0.0 {
            b.d = 0.0;
            b.qs = [0; QK_K];
            b.bsums = [0; QK_K / 16];
            continue;
        }
        let iscale = -127.0 / max;
        for (q, &v) in b.qs.iter_mut().zip(x) {
            *q = nearest_int(iscale * v).min(127) as i8;
        }
        for (s, q) in b.bsums.iter_mut().zip(b.qs.chunks_exact(16)) {
            *s = q.iter().map(|&v| v as i16).sum();
        }
        b.d = 1.0 / iscale;
    }
}

/// `y = d * q` per block (ggml `dequantize_row_q8_0`).
///
/// # Panics
/// If `y.len() != x.len() * 32`.
pub fn dequantize_row_q8_0(x: &[BlockQ8_0], y: &mut [f32]) {
    assert_eq!(
        y.len(),
        x.len() * QK8_0,
        "dequantize_row_q8_0: length mismatch"
    );
    for (b, y) in x.iter().zip(y.chunks_exact_mut(QK8_0)) {
        let d = b.d.to_f32();
        for (o, &q) in y.iter_mut().zip(&b.qs) {
            *o = q as f32 * d;
        }
    }
}

/// `y = d * q` per super-block (Q8_K is an activation format; used by tests).
///
/// # Panics
/// If `y.len() != x.len() * 256`.
pub fn dequantize_row_q8_k(x: &[BlockQ8K], y: &mut [f32]) {
    assert_eq!(
        y.len(),
        x.len() * QK_K,
        "dequantize_row_q8_k: length mismatch"
    );
    for (b, y) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        for (o, &q) in y.iter_mut().zip(&b.qs) {
            *o = b.d * q as f32;
        }
    }
}
