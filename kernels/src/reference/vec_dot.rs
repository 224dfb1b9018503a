//! Dot products of one weight row with one activation row: the specification every SIMD
//! tier is tested against.
//!
//! Each quantized dot splits into an **exact integer part** — per block, sums of
//! `quant × quant` products in `i32` (no overflow is possible for any bit pattern) — and a
//! **float part** that scales each block's integer sums and adds the block results in block
//! order into one `f32`. Every tier reproduces both exactly: the integer part is exact by
//! construction, and the float part is written down here operation by operation (which
//! products, which are fused) so that a SIMD tier, holding one output per lane, can do the
//! same operations in the same order and give the same bits.
//!
//! The 32-weight formats (Q4_0, Q4_1, Q5_0, Q8_0) add each block with one fused
//! multiply-add of the scale product: `acc = fma(d_x·d_y, sumi, acc)` ([`add_block`]) —
//! the cheapest form on every SIMD ISA (one `vfmadd` / `fmla` per lane of outputs, the
//! `d_x·d_y` product shared by its operands' lanes). The K-quants keep ggml's unfused
//! `acc + ((d_x·d_y)·sumi - (dmin_x·d_y)·summ)`.
//!
//! ggml's `ggml_vec_dot_*_generic` use the same integer sums; for the K-quants they spread
//! the float part over 8 partial sums, which we do not (the result differs in rounding only).

use half::{bf16, f16};

use super::k_quants::{q4_k_quant, q5_k_quant, q6_k_quant, scales_mins_k4};
use super::q5::q5_0_quant;
use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K, BlockQ8_0};
use crate::blocks::{BlockQ8_1, BlockQ8K};
use crate::types::QK_K;

/// Integer part of Q4_0·Q8_0 for one block: `Σ (q_x - 8) * q_y` (|sum| ≤ 32·8·128).
#[inline(always)]
pub fn block_sum_q4_0_q8_0(x: &BlockQ4_0, y: &BlockQ8_0) -> i32 {
    let mut sumi = 0i32;
    for j in 0..16 {
        let v0 = (x.qs[j] & 0x0f) as i32 - 8;
        let v1 = (x.qs[j] >> 4) as i32 - 8;
        sumi += v0 * y.qs[j] as i32 + v1 * y.qs[j + 16] as i32;
    }
    sumi
}

/// One block's contribution in the 32-weight formats: `fma(d_x·d_y, sumi, acc)`, one
/// rounding for the product and the sum (the scale product `dd = d_x·d_y` rounded first).
#[inline(always)]
pub fn add_block(acc: f32, dd: f32, sumi: i32) -> f32 {
    libm::fmaf(dd, sumi as f32, acc)
}

/// Q4_0 weights · Q8_0 activations: `Σ_blocks d_x·d_y·sumi`, each block added by
/// [`add_block`] (ggml `ggml_vec_dot_q4_0_q8_0`; integer `sumi` from [`block_sum_q4_0_q8_0`]).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn vec_dot_q4_0_q8_0(x: &[BlockQ4_0], y: &[BlockQ8_0]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_q4_0_q8_0: block count mismatch");
    x.iter()
        .zip(y)
        .fold(0.0, |acc, (x, y)| step_q4_0_q8_0(acc, x, y))
}

/// One block of [`vec_dot_q4_0_q8_0`]: `acc` plus the block's value, in the reference's operations.
#[inline(always)]
pub fn step_q4_0_q8_0(acc: f32, x: &BlockQ4_0, y: &BlockQ8_0) -> f32 {
    add_block(acc, x.d.to_f32() * y.d.to_f32(), block_sum_q4_0_q8_0(x, y))
}

/// Integer part of Q4_1·Q8_1 for one block: `Σ q_x * q_y` with `q_x` in 0..16.
#[inline(always)]
pub fn block_sum_q4_1_q8_1(x: &BlockQ4_1, y: &BlockQ8_1) -> i32 {
    let mut sumi = 0i32;
    for j in 0..16 {
        sumi +=
            (x.qs[j] & 0x0f) as i32 * y.qs[j] as i32 + (x.qs[j] >> 4) as i32 * y.qs[j + 16] as i32;
    }
    sumi
}

/// Q4_1 weights · Q8_1 activations: `Σ_blocks (d_x*d_y) * sumi + m_x*s_y` — the min term uses
/// the activation block's precomputed `s = d_y * Σ q_y` (ggml `ggml_vec_dot_q4_1_q8_1`).
/// Per block: `acc = fma(m_x, s_y, fma(d_x·d_y, sumi, acc))`.
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn vec_dot_q4_1_q8_1(x: &[BlockQ4_1], y: &[BlockQ8_1]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_q4_1_q8_1: block count mismatch");
    x.iter()
        .zip(y)
        .fold(0.0, |acc, (x, y)| step_q4_1_q8_1(acc, x, y))
}

/// One block of [`vec_dot_q4_1_q8_1`]: `acc` plus the block's value, in the reference's operations.
#[inline(always)]
pub fn step_q4_1_q8_1(acc: f32, x: &BlockQ4_1, y: &BlockQ8_1) -> f32 {
    let sumi = block_sum_q4_1_q8_1(x, y);
    let a = add_block(acc, x.d.to_f32() * y.d.to_f32(), sumi);
    libm::fmaf(x.m.to_f32(), y.s.to_f32(), a)
}

/// Integer part of Q5_0·Q8_0 for one block: `Σ (q_x - 16) * q_y` with `q_x` in 0..32.
#[inline(always)]
pub fn block_sum_q5_0_q8_0(x: &BlockQ5_0, y: &BlockQ8_0) -> i32 {
    let mut sumi = 0i32;
    for j in 0..32 {
        sumi += (q5_0_quant(x, j) as i32 - 16) * y.qs[j] as i32;
    }
    sumi
}

/// Q5_0 weights · Q8_0 activations: `Σ_blocks (d_x*d_y) * sumi`, each block by [`add_block`]
/// (ggml `ggml_vec_dot_q5_0_q8_0`).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn vec_dot_q5_0_q8_0(x: &[BlockQ5_0], y: &[BlockQ8_0]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_q5_0_q8_0: block count mismatch");
    x.iter()
        .zip(y)
        .fold(0.0, |acc, (x, y)| step_q5_0_q8_0(acc, x, y))
}

/// One block of [`vec_dot_q5_0_q8_0`]: `acc` plus the block's value, in the reference's operations.
#[inline(always)]
pub fn step_q5_0_q8_0(acc: f32, x: &BlockQ5_0, y: &BlockQ8_0) -> f32 {
    add_block(acc, x.d.to_f32() * y.d.to_f32(), block_sum_q5_0_q8_0(x, y))
}

/// Integer part of Q8_0·Q8_0 for one block: `Σ q_x * q_y` (any i8, including -128).
#[inline(always)]
pub fn block_sum_q8_0_q8_0(x: &BlockQ8_0, y: &BlockQ8_0) -> i32 {
    x.qs.iter()
        .zip(&y.qs)
        .map(|(&a, &b)| a as i32 * b as i32)
        .sum()
}

/// Q8_0 weights · Q8_0 activations: `Σ_blocks sumi * (d_x*d_y)`, each block by [`add_block`]
/// (ggml `ggml_vec_dot_q8_0_q8_0`).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn vec_dot_q8_0_q8_0(x: &[BlockQ8_0], y: &[BlockQ8_0]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_q8_0_q8_0: block count mismatch");
    x.iter()
        .zip(y)
        .fold(0.0, |acc, (x, y)| step_q8_0_q8_0(acc, x, y))
}

/// One block of [`vec_dot_q8_0_q8_0`]: `acc` plus the block's value, in the reference's operations.
#[inline(always)]
pub fn step_q8_0_q8_0(acc: f32, x: &BlockQ8_0, y: &BlockQ8_0) -> f32 {
    add_block(acc, x.d.to_f32() * y.d.to_f32(), block_sum_q8_0_q8_0(x, y))
}

/// Integer parts of a Q4_K·Q8_K super-block: `(Σ_j sc_j * Σ_{i in sub-block j} q_x*q_y,
/// Σ_j m_j * (bsums[2j] + bsums[2j+1]))`. The min part reads the activation's `bsums`, not
/// its quants (as ggml does), so a block with inconsistent `bsums` gives ggml's answer.
#[inline(always)]
pub fn block_sums_q4_k_q8_k(x: &BlockQ4K, y: &BlockQ8K) -> (i32, i32) {
    let (sc, m) = scales_mins_k4(&x.scales);
    let mut sumi = 0i32;
    for (j, &scj) in sc.iter().enumerate() {
        let mut s = 0i32;
        for i in 32 * j..32 * j + 32 {
            s += q4_k_quant(x, i) as i32 * y.qs[i] as i32;
        }
        sumi += scj as i32 * s;
    }
    (sumi, mins_dot_bsums(&m, &y.bsums))
}

/// `Σ_j m_j * (bsums[2j] + bsums[2j+1])`: the min correction of Q4_K/Q5_K.
#[inline(always)]
fn mins_dot_bsums(m: &[u8; 8], bsums: &[i16; QK_K / 16]) -> i32 {
    let mut summ = 0i32;
    for j in 0..QK_K / 32 {
        summ += m[j] as i32 * (bsums[2 * j] as i32 + bsums[2 * j + 1] as i32);
    }
    summ
}

/// Q4_K weights · Q8_K activations:
/// `Σ_blocks (d_x*d_y) * sumi - (dmin_x*d_y) * summ` with the integer parts of
/// [`block_sums_q4_k_q8_k`] (ggml `ggml_vec_dot_q4_K_q8_K`).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn vec_dot_q4_k_q8_k(x: &[BlockQ4K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_q4_k_q8_k: block count mismatch");
    x.iter()
        .zip(y)
        .fold(0.0, |acc, (x, y)| step_q4_k_q8_k(acc, x, y))
}

/// One super-block's contribution in Q4_K and Q5_K, unfused as ggml writes it:
/// `acc + ((d·d_y)·sumi - (dmin·d_y)·summ)` (every tier's K-quant step calls this).
#[inline(always)]
pub fn add_k_min_block(acc: f32, d: f32, dmin: f32, dy: f32, sumi: i32, summ: i32) -> f32 {
    acc + ((d * dy) * sumi as f32 - (dmin * dy) * summ as f32)
}

/// One block of [`vec_dot_q4_k_q8_k`]: `acc` plus the block's value, in the reference's operations.
#[inline(always)]
pub fn step_q4_k_q8_k(acc: f32, x: &BlockQ4K, y: &BlockQ8K) -> f32 {
    let (sumi, summ) = block_sums_q4_k_q8_k(x, y);
    add_k_min_block(acc, x.d.to_f32(), x.dmin.to_f32(), y.d, sumi, summ)
}

/// Integer parts of a Q5_K·Q8_K super-block, as [`block_sums_q4_k_q8_k`] with 5-bit quants.
#[inline(always)]
pub fn block_sums_q5_k_q8_k(x: &BlockQ5K, y: &BlockQ8K) -> (i32, i32) {
    let (sc, m) = scales_mins_k4(&x.scales);
    let mut sumi = 0i32;
    for (j, &scj) in sc.iter().enumerate() {
        let mut s = 0i32;
        for i in 32 * j..32 * j + 32 {
            s += q5_k_quant(x, i) as i32 * y.qs[i] as i32;
        }
        sumi += scj as i32 * s;
    }
    (sumi, mins_dot_bsums(&m, &y.bsums))
}

/// Q5_K weights · Q8_K activations, same formula as [`vec_dot_q4_k_q8_k`]
/// (ggml `ggml_vec_dot_q5_K_q8_K`).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn vec_dot_q5_k_q8_k(x: &[BlockQ5K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_q5_k_q8_k: block count mismatch");
    x.iter()
        .zip(y)
        .fold(0.0, |acc, (x, y)| step_q5_k_q8_k(acc, x, y))
}

/// One block of [`vec_dot_q5_k_q8_k`]: `acc` plus the block's value, in the reference's operations.
#[inline(always)]
pub fn step_q5_k_q8_k(acc: f32, x: &BlockQ5K, y: &BlockQ8K) -> f32 {
    let (sumi, summ) = block_sums_q5_k_q8_k(x, y);
    add_k_min_block(acc, x.d.to_f32(), x.dmin.to_f32(), y.d, sumi, summ)
}

/// Integer part of a Q6_K·Q8_K super-block: `Σ_j scale_j * Σ_{i in sub-block j of 16}
/// (q_x - 32) * q_y` (|sum| < 2^28).
#[inline(always)]
pub fn block_sum_q6_k_q8_k(x: &BlockQ6K, y: &BlockQ8K) -> i32 {
    let mut sumi = 0i32;
    for j in 0..QK_K / 16 {
        let mut s = 0i32;
        for i in 16 * j..16 * j + 16 {
            s += (q6_k_quant(x, i) as i32 - 32) * y.qs[i] as i32;
        }
        sumi += x.scales[j] as i32 * s;
    }
    sumi
}

/// Q6_K weights · Q8_K activations: `Σ_blocks (d_x*d_y) * sumi` (ggml `ggml_vec_dot_q6_K_q8_K`).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn vec_dot_q6_k_q8_k(x: &[BlockQ6K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_q6_k_q8_k: block count mismatch");
    x.iter()
        .zip(y)
        .fold(0.0, |acc, (x, y)| step_q6_k_q8_k(acc, x, y))
}

/// One block of [`vec_dot_q6_k_q8_k`]: `acc` plus the block's value, in the reference's operations.
#[inline(always)]
pub fn step_q6_k_q8_k(acc: f32, x: &BlockQ6K, y: &BlockQ8K) -> f32 {
    acc + (x.d.to_f32() * y.d) * block_sum_q6_k_q8_k(x, y) as f32
}

/// Lanes of the f32 dot products' partial sums (one AVX2 register of f32).
pub const F32_LANES: usize = 8;

/// Float dot with [`F32_LANES`] interleaved partial sums (element `i` goes to lane `i % 8`),
/// then lanes added in order 0..8, then the tail. All f32, no fused multiply-add. This order
/// is the specification, and every tier follows it step for step.
#[inline(always)]
fn dot_lanes(n: usize, mut xy: impl FnMut(usize) -> f32) -> f32 {
    let mut acc = [0.0f32; F32_LANES];
    let full = n - n % F32_LANES;
    for i in (0..full).step_by(F32_LANES) {
        for (l, a) in acc.iter_mut().enumerate() {
            *a += xy(i + l);
        }
    }
    let mut sum = 0.0f32;
    for a in acc {
        sum += a;
    }
    for i in full..n {
        sum += xy(i);
    }
    sum
}

/// f32 · f32 (also used for F32 weights).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn vec_dot_f32(x: &[f32], y: &[f32]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_f32: length mismatch");
    dot_lanes(x.len(), |i| x[i] * y[i])
}

/// F16 weights · f32 activations (the weight is widened exactly, then as [`vec_dot_f32`]).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn vec_dot_f16_f32(x: &[f16], y: &[f32]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_f16_f32: length mismatch");
    dot_lanes(x.len(), |i| x[i].to_f32() * y[i])
}

/// BF16 weights · f32 activations (the weight is widened exactly, then as [`vec_dot_f32`]).
///
/// # Panics
/// If `x.len() != y.len()`.
pub fn vec_dot_bf16_f32(x: &[bf16], y: &[f32]) -> f32 {
    assert_eq!(x.len(), y.len(), "vec_dot_bf16_f32: length mismatch");
    dot_lanes(x.len(), |i| {
        f32::from_bits((x[i].to_bits() as u32) << 16) * y[i]
    })
}
