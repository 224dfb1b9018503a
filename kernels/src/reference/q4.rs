//! Q4_0 and Q4_1: 32 weights per block, 4-bit quants; weight `j < 16` in the low nibble of
//! `qs[j]`, weight `j + 16` in its high nibble.
//!
//! Quantizers follow ggml's `quantize_row_q4_{0,1}_ref` operation for operation (f32
//! arithmetic, no fused multiply-add, truncation of `x*id + 8.5`), so their bytes equal
//! ggml's and gguf-py's.

use half::f16;

use super::round::abs_max_signed;
use crate::blocks::{BlockQ4_0, BlockQ4_1};
use crate::types::{QK4_0, QK4_1};

/// ggml `quantize_row_q4_0_ref`: `d = max / -8` where `max` is the signed value of largest
/// magnitude, `q = min(15, trunc(x * (1/d) + 8.5))`.
///
/// # Panics
/// If `x.len() != y.len() * 32`.
pub fn quantize_row_q4_0(x: &[f32], y: &mut [BlockQ4_0]) {
    assert_eq!(
        x.len(),
        y.len() * QK4_0,
        "quantize_row_q4_0: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK4_0)) {
        let (_, max) = abs_max_signed(x);
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        for j in 0..QK4_0 / 2 {
            // `as i8` truncates toward zero like C's `(int8_t)` (and saturates instead of UB).
            let x0 = ((x[j] * id + 8.5) as i8).min(15) as u8;
            let x1 = ((x[j + QK4_0 / 2] * id + 8.5) as i8).min(15) as u8;
            b.qs[j] = x0 | (x1 << 4);
        }
    }
}

/// ggml `dequantize_row_q4_0`: `y = (q - 8) * d`.
///
/// # Panics
/// If `y.len() != x.len() * 32`.
pub fn dequantize_row_q4_0(x: &[BlockQ4_0], y: &mut [f32]) {
    assert_eq!(
        y.len(),
        x.len() * QK4_0,
        "dequantize_row_q4_0: length mismatch"
    );
    for (b, y) in x.iter().zip(y.chunks_exact_mut(QK4_0)) {
        let d = b.d.to_f32();
        for (j, &q) in b.qs.iter().enumerate() {
            y[j] = ((q & 0x0f) as i32 - 8) as f32 * d;
            y[j + QK4_0 / 2] = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }
}

/// ggml `quantize_row_q4_1_ref`: `d = (max - min) / 15`, `m = min`,
/// `q = min(15, trunc((x - min) * (1/d) + 0.5))`.
///
/// # Panics
/// If `x.len() != y.len() * 32`.
pub fn quantize_row_q4_1(x: &[f32], y: &mut [BlockQ4_1]) {
    assert_eq!(
        x.len(),
        y.len() * QK4_1,
        "quantize_row_q4_1: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK4_1)) {
        let mut min = f32::MAX;
        let mut max = -f32::MAX;
        for &v in x {
            if v < min {
                min = v;
            }
            if v > max {
                max = v;
            }
        }
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        b.m = f16::from_f32(min);
        for j in 0..QK4_1 / 2 {
            let x0 = (((x[j] - min) * id + 0.5) as i8).min(15) as u8;
            let x1 = (((x[j + QK4_1 / 2] - min) * id + 0.5) as i8).min(15) as u8;
            b.qs[j] = x0 | (x1 << 4);
        }
    }
}

/// ggml `dequantize_row_q4_1`: `y = q * d + m`.
///
/// # Panics
/// If `y.len() != x.len() * 32`.
pub fn dequantize_row_q4_1(x: &[BlockQ4_1], y: &mut [f32]) {
    assert_eq!(
        y.len(),
        x.len() * QK4_1,
        "dequantize_row_q4_1: length mismatch"
    );
    for (b, y) in x.iter().zip(y.chunks_exact_mut(QK4_1)) {
        let d = b.d.to_f32();
        let m = b.m.to_f32();
        for (j, &q) in b.qs.iter().enumerate() {
            y[j] = (q & 0x0f) as f32 * d + m;
            y[j + QK4_1 / 2] = (q >> 4) as f32 * d + m;
        }
    }
}
