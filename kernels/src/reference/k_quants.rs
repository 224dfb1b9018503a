//! The K-quants Q4_K, Q5_K and Q6_K: super-blocks of 256 weights with per-sub-block scales.
//!
//! Quantizers follow ggml's `quantize_row_q{4,5,6}_K_ref` (which call `make_qkx2_quants` /
//! `make_qx_quants` without importance weights) operation for operation in f32, without fused
//! multiply-add. (ggml built with FMA contraction may differ in rare last-bit ties.)

use half::f16;

use super::round::nearest_int;
use crate::blocks::{BlockQ4K, BlockQ5K, BlockQ6K, K_SCALE_SIZE};
use crate::types::QK_K;

/// ggml `GROUP_MAX_EPS`: groups whose largest magnitude is below this quantize to zero.
const GROUP_MAX_EPS: f32 = 1e-15;

/// ggml `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` (0..8) of a Q4_K/Q5_K
/// super-block. Sub-blocks 0..4 use the low 6 bits of bytes `j` and `j+4`; 4..8 combine the
/// nibbles of byte `j+4` with the top 2 bits of bytes `j-4` and `j`.
#[inline(always)]
pub fn get_scale_min_k4(j: usize, q: &[u8; K_SCALE_SIZE]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// All 8 (scale, min) pairs of a Q4_K/Q5_K super-block.
#[inline(always)]
pub fn scales_mins_k4(q: &[u8; K_SCALE_SIZE]) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0u8; 8];
    let mut m = [0u8; 8];
    for j in 0..8 {
        (sc[j], m[j]) = get_scale_min_k4(j, q);
    }
    (sc, m)
}

/// Pack 8 6-bit scales and mins (each `< 64`) the way [`get_scale_min_k4`] reads them.
pub fn pack_scale_min_k4(ls: &[u8; 8], lm: &[u8; 8]) -> [u8; K_SCALE_SIZE] {
    let mut s = [0u8; K_SCALE_SIZE];
    for j in 0..8 {
        if j < 4 {
            s[j] = ls[j];
            s[j + 4] = lm[j];
        } else {
            s[j + 4] = (ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4);
            s[j - 4] |= (ls[j] >> 4) << 6;
            s[j] |= (lm[j] >> 4) << 6;
        }
    }
    s
}

/// The 4-bit quant of weight `i` (0..256) of a Q4_K super-block.
#[inline(always)]
pub fn q4_k_quant(b: &BlockQ4K, i: usize) -> u8 {
    let (group, l) = (i / 64, i % 64);
    let byte = b.qs[group * 32 + l % 32];
    if l < 32 { byte & 0x0f } else { byte >> 4 }
}

/// The 5-bit quant of weight `i` (0..256) of a Q5_K super-block.
#[inline(always)]
pub fn q5_k_quant(b: &BlockQ5K, i: usize) -> u8 {
    let (group, l) = (i / 64, i % 64);
    let byte = b.qs[group * 32 + l % 32];
    let lo = if l < 32 { byte & 0x0f } else { byte >> 4 };
    // Sub-block `i / 32` takes its fifth bit from bit `i / 32` of qh[i % 32].
    let hi = (b.qh[l % 32] >> (i / 32)) & 1;
    lo | (hi << 4)
}

/// The 6-bit quant of weight `i` (0..256) of a Q6_K super-block, in 0..64 (weight = q - 32).
#[inline(always)]
pub fn q6_k_quant(b: &BlockQ6K, i: usize) -> u8 {
    // Halves of 128; within a half, 4 rows of 32: rows 0/1 in the low nibbles of ql[0..32] /
    // ql[32..64], rows 2/3 in their high nibbles; qh[l] holds the 2 high bits of row r at 2r.
    let (half, l) = (i / 128, i % 128);
    let (row, l) = (l / 32, l % 32);
    let ql = &b.ql[half * 64..];
    let qh = b.qh[half * 32 + l];
    let lo = match row {
        0 => ql[l] & 0x0f,
        1 => ql[l + 32] & 0x0f,
        2 => ql[l] >> 4,
        _ => ql[l + 32] >> 4,
    };
    lo | (((qh >> (2 * row)) & 3) << 4)
}

/// ggml `dequantize_row_q4_K`: `y = (d*sc) * q - (dmin*m)` per sub-block of 32.
///
/// # Panics
/// If `y.len() != x.len() * 256`.
pub fn dequantize_row_q4_k(x: &[BlockQ4K], y: &mut [f32]) {
    assert_eq!(
        y.len(),
        x.len() * QK_K,
        "dequantize_row_q4_k: length mismatch"
    );
    for (b, y) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        let min = b.dmin.to_f32();
        let (sc, m) = scales_mins_k4(&b.scales);
        for (i, o) in y.iter_mut().enumerate() {
            let j = i / 32;
            *o = (d * sc[j] as f32) * q4_k_quant(b, i) as f32 - min * m[j] as f32;
        }
    }
}

/// ggml `dequantize_row_q5_K`: `y = (d*sc) * q - (dmin*m)` per sub-block of 32.
///
/// # Panics
/// If `y.len() != x.len() * 256`.
pub fn dequantize_row_q5_k(x: &[BlockQ5K], y: &mut [f32]) {
    assert_eq!(
        y.len(),
        x.len() * QK_K,
        "dequantize_row_q5_k: length mismatch"
    );
    for (b, y) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        let min = b.dmin.to_f32();
        let (sc, m) = scales_mins_k4(&b.scales);
        for (i, o) in y.iter_mut().enumerate() {
            let j = i / 32;
            *o = (d * sc[j] as f32) * q5_k_quant(b, i) as f32 - min * m[j] as f32;
        }
    }
}

/// ggml `dequantize_row_q6_K`: `y = (d*scale) * (q - 32)` per sub-block of 16.
///
/// # Panics
/// If `y.len() != x.len() * 256`.
pub fn dequantize_row_q6_k(x: &[BlockQ6K], y: &mut [f32]) {
    assert_eq!(
        y.len(),
        x.len() * QK_K,
        "dequantize_row_q6_k: length mismatch"
    );
    for (b, y) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        for (i, o) in y.iter_mut().enumerate() {
            *o = (d * b.scales[i / 16] as f32) * (q6_k_quant(b, i) as i32 - 32) as f32;
        }
    }
}

/// ggml `make_qkx2_quants`: fit `x ≈ scale * L + min` (`min <= 0`, `L` in `0..=nmax`)
/// minimising the `weights`-weighted squared error over `nstep + 1` trial scales. Returns
/// `(scale, -min)`.
#[allow(clippy::too_many_arguments)]
fn make_qkx2_quants(
    nmax: i32,
    x: &[f32],
    weights: &[f32],
    l_out: &mut [u8],
    laux: &mut [u8],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
) -> (f32, f32) {
    let n = x.len();
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        l_out.fill(0);
        return (0.0, -min);
    }
    let mut iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0.0f32;
    for i in 0..n {
        let l = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
        l_out[i] = l as u8;
        let diff = scale * l as f32 + min - x[i];
        best_error += weights[i] * (diff * diff);
    }
    for is in 0..=nstep {
        iscale = (rmin + rdelta * is as f32 + nmax as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0.0f32, 0.0f32, 0.0f32);
        for i in 0..n {
            let l = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
            laux[i] = l as u8;
            let w = weights[i];
            let lf = l as f32;
            sum_l += w * lf;
            sum_l2 += w * lf * lf;
            sum_xl += w * lf * x[i];
        }
        let det = sum_w * sum_l2 - sum_l * sum_l;
        if det > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0.0f32;
            for i in 0..n {
                let diff = this_scale * laux[i] as f32 + this_min - x[i];
                cur_error += weights[i] * (diff * diff);
            }
            if cur_error < best_error {
                l_out[..n].copy_from_slice(&laux[..n]);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// ggml `make_qx_quants` with `rmse_type = 1` and no importance weights (the Q6_K path):
/// symmetric `x ≈ scale * (L - nmax)`, `L` in `0..2*nmax`, searching 18 trial scales around
/// `-nmax/max` for the best `x²`-weighted fit. Returns the scale.
fn make_qx_quants(nmax: i32, x: &[f32], l_out: &mut [i8]) -> f32 {
    let mut max = 0.0f32;
    let mut amax = 0.0f32;
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        l_out.fill(0);
        return 0.0;
    }
    let mut iscale = -(nmax as f32) / max;
    let mut sumlx = 0.0f32;
    let mut suml2 = 0.0f32;
    for (o, &v) in l_out.iter_mut().zip(x) {
        let l = nearest_int(iscale * v).clamp(-nmax, nmax - 1);
        *o = (l + nmax) as i8;
        let w = v * v;
        let lf = l as f32;
        sumlx += w * v * lf;
        suml2 += w * lf * lf;
    }
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in -9..=9 {
        if is == 0 {
            continue;
        }
        iscale = -(nmax as f32 + 0.1 * is as f32) / max;
        sumlx = 0.0;
        suml2 = 0.0;
        for &v in x {
            let l = nearest_int(iscale * v).clamp(-nmax, nmax - 1);
            let w = v * v;
            let lf = l as f32;
            sumlx += w * v * lf;
            suml2 += w * lf * lf;
        }
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (o, &v) in l_out.iter_mut().zip(x) {
                let l = nearest_int(iscale * v).clamp(-nmax, nmax - 1);
                *o = (l + nmax) as i8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// The shared first half of the Q4_K / Q5_K quantizers: per sub-block of 32 a
/// `make_qkx2_quants` fit weighted by `sqrt(mean(x²)) + |x|`, then the 6-bit scales/mins
/// relative to the largest ones, then the final quants against the rounded scales.
/// Returns `(d, dmin, packed scales, quants in 0..=nmax)`.
fn quantize_k_scales_mins(
    x: &[f32],
    nmax: i32,
    rmin: f32,
    nstep: i32,
) -> (f16, f16, [u8; K_SCALE_SIZE], [u8; QK_K]) {
    let mut l = [0u8; QK_K];
    let mut laux = [0u8; 32];
    let mut weights = [0f32; 32];
    let mut scales = [0f32; QK_K / 32];
    let mut mins = [0f32; QK_K / 32];
    let mut max_scale = 0.0f32;
    let mut max_min = 0.0f32;
    for j in 0..QK_K / 32 {
        let xs = &x[32 * j..32 * j + 32];
        let mut sum_x2 = 0.0f32;
        for &v in xs {
            sum_x2 += v * v;
        }
        let av_x = libm::sqrtf(sum_x2 / 32.0);
        for (w, &v) in weights.iter_mut().zip(xs) {
            *w = av_x + v.abs();
        }
        (scales[j], mins[j]) = make_qkx2_quants(
            nmax,
            xs,
            &weights,
            &mut l[32 * j..32 * j + 32],
            &mut laux,
            rmin,
            0.1,
            nstep,
        );
        if scales[j] > max_scale {
            max_scale = scales[j];
        }
        if mins[j] > max_min {
            max_min = mins[j];
        }
    }
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let mut ls = [0u8; 8];
    let mut lm = [0u8; 8];
    for j in 0..QK_K / 32 {
        // C stores nearest_int into a uint8_t before MIN(63, .): keep the same truncation.
        ls[j] = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        lm[j] = (nearest_int(inv_min * mins[j]) as u8).min(63);
    }
    let packed = pack_scale_min_k4(&ls, &lm);
    let d = f16::from_f32(max_scale / 63.0);
    let dmin = f16::from_f32(max_min / 63.0);
    for j in 0..QK_K / 32 {
        let (sc, m) = get_scale_min_k4(j, &packed);
        let dj = d.to_f32() * sc as f32;
        if dj == 0.0 {
            continue;
        }
        let dm = dmin.to_f32() * m as f32;
        for ii in 0..32 {
            let q = nearest_int((x[32 * j + ii] + dm) / dj).clamp(0, nmax);
            l[32 * j + ii] = q as u8;
        }
    }
    (d, dmin, packed, l)
}

/// ggml `quantize_row_q4_K_ref`.
///
/// # Panics
/// If `x.len() != y.len() * 256`.
pub fn quantize_row_q4_k(x: &[f32], y: &mut [BlockQ4K]) {
    assert_eq!(
        x.len(),
        y.len() * QK_K,
        "quantize_row_q4_k: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK_K)) {
        let (d, dmin, scales, l) = quantize_k_scales_mins(x, 15, -1.0, 20);
        b.d = d;
        b.dmin = dmin;
        b.scales = scales;
        for g in 0..QK_K / 64 {
            for i in 0..32 {
                b.qs[32 * g + i] = l[64 * g + i] | (l[64 * g + i + 32] << 4);
            }
        }
    }
}

/// ggml `quantize_row_q5_K_ref`.
///
/// # Panics
/// If `x.len() != y.len() * 256`.
pub fn quantize_row_q5_k(x: &[f32], y: &mut [BlockQ5K]) {
    assert_eq!(
        x.len(),
        y.len() * QK_K,
        "quantize_row_q5_k: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK_K)) {
        let (d, dmin, scales, l) = quantize_k_scales_mins(x, 31, -0.5, 15);
        b.d = d;
        b.dmin = dmin;
        b.scales = scales;
        b.qh = [0; QK_K / 8];
        for g in 0..QK_K / 64 {
            let (m1, m2) = (1u8 << (2 * g), 2u8 << (2 * g));
            for i in 0..32 {
                let mut l1 = l[64 * g + i];
                if l1 > 15 {
                    l1 -= 16;
                    b.qh[i] |= m1;
                }
                let mut l2 = l[64 * g + i + 32];
                if l2 > 15 {
                    l2 -= 16;
                    b.qh[i] |= m2;
                }
                b.qs[32 * g + i] = l1 | (l2 << 4);
            }
        }
    }
}

/// ggml `quantize_row_q6_K_ref`.
///
/// # Panics
/// If `x.len() != y.len() * 256`.
pub fn quantize_row_q6_k(x: &[f32], y: &mut [BlockQ6K]) {
    assert_eq!(
        x.len(),
        y.len() * QK_K,
        "quantize_row_q6_k: length mismatch"
    );
    for (b, x) in y.iter_mut().zip(x.chunks_exact(QK_K)) {
        let mut l = [0i8; QK_K];
        let mut scales = [0f32; QK_K / 16];
        let mut max_scale = 0.0f32;
        let mut max_abs_scale = 0.0f32;
        for ib in 0..QK_K / 16 {
            let s = make_qx_quants(32, &x[16 * ib..16 * ib + 16], &mut l[16 * ib..16 * ib + 16]);
            scales[ib] = s;
            if s.abs() > max_abs_scale {
                max_abs_scale = s.abs();
                max_scale = s;
            }
        }
        if max_abs_scale < GROUP_MAX_EPS {
            *b = bytemuck::Zeroable::zeroed();
            continue;
        }
        let iscale = -128.0 / max_scale;
        b.d = f16::from_f32(1.0 / iscale);
        for (s, &v) in b.scales.iter_mut().zip(&scales) {
            *s = nearest_int(iscale * v).min(127) as i8;
        }
        for j in 0..QK_K / 16 {
            let d = b.d.to_f32() * b.scales[j] as f32;
            if d == 0.0 {
                continue;
            }
            for ii in 0..16 {
                let q = nearest_int(x[16 * j + ii] / d).clamp(-32, 31);
                l[16 * j + ii] = (q + 32) as i8;
            }
        }
        for h in 0..QK_K / 128 {
            let (l, ql, qh) = (&l[128 * h..], &mut b.ql[64 * h..], &mut b.qh[32 * h..]);
            for i in 0..32 {
                let q1 = l[i] as u8;
                let q2 = l[i + 32] as u8;
                let q3 = l[i + 64] as u8;
                let q4 = l[i + 96] as u8;
                ql[i] = (q1 & 0x0f) | ((q3 & 0x0f) << 4);
                ql[i + 32] = (q2 & 0x0f) | ((q4 & 0x0f) << 4);
                qh[i] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
            }
        }
    }
}
