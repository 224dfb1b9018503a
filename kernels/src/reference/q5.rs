//! Q5_0: 32 weights per block, 5-bit quants: the low 4 bits packed as in Q4_0, bit 4 of
//! weight `j` is bit `j` of the little-endian u32 `qh`.

use half::f16;

use super::round::abs_max_signed;
use crate::blocks::BlockQ5_0;
use crate::types::QK5_0;

/// ggml `quantize_row_q5_0_ref`: `d = max / -16`, `q = min(31, trunc(x * (1/d) + 16.5))`.
///
/// # Panics
/// If `x.len() != y.len() * 32`.
pub fn quantize_row_q5_0(x: &[f32], y: &mut [BlockQ5_0]) {
    assert_eq!(
        x.len(),
        y.len() * QK5_0,
        "quantize_row_q5_0: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK5_0)) {
        let (_, max) = abs_max_signed(x);
        let d = max / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        let mut qh = 0u32;
        for j in 0..QK5_0 / 2 {
            let x0 = ((x[j] * id + 16.5) as i8).min(31) as u8;
            let x1 = ((x[j + QK5_0 / 2] * id + 16.5) as i8).min(31) as u8;
            b.qs[j] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
            qh |= ((x0 as u32 & 0x10) >> 4) << j;
            qh |= ((x1 as u32 & 0x10) >> 4) << (j + QK5_0 / 2);
        }
        b.qh = qh.to_le_bytes();
    }
}

/// The 5-bit quant of weight `j` (0..32) of a Q5_0 block, in 0..32.
#[inline(always)]
pub fn q5_0_quant(b: &BlockQ5_0, j: usize) -> u8 {
    let qh = u32::from_le_bytes(b.qh);
    let lo = if j < QK5_0 / 2 {
        b.qs[j] & 0x0f
    } else {
        b.qs[j - QK5_0 / 2] >> 4
    };
    lo | ((((qh >> j) & 1) as u8) << 4)
}

/// ggml `dequantize_row_q5_0`: `y = (q - 16) * d`.
///
/// # Panics
/// If `y.len() != x.len() * 32`.
pub fn dequantize_row_q5_0(x: &[BlockQ5_0], y: &mut [f32]) {
    assert_eq!(
        y.len(),
        x.len() * QK5_0,
        "dequantize_row_q5_0: length mismatch"
    );
    for (b, y) in x.iter().zip(y.chunks_exact_mut(QK5_0)) {
        let d = b.d.to_f32();
        for (j, o) in y.iter_mut().enumerate() {
            *o = (q5_0_quant(b, j) as i32 - 16) as f32 * d;
        }
    }
}
