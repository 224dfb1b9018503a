//! Baseline NEON tier (Cortex-A53/A72: Raspberry Pi 3/4): integer dots with `smull` +
//! `sadalp` ([`super::simd::Smull`]), exact for every input. Also the activation quantizers,
//! f32 dots, f32 vector operations and RoPE, which the dotprod tier shares.

use half::{bf16, f16};

pub use super::attention::attn_scores;
pub use super::float_ops::{
    add, axpy, gelu_mul, rmsnorm, rope_neox, rope_norm, scale, silu_mul, softmax, weighted_sum,
    weighted_sums,
};

use super::simd::Smull;
use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K};
use crate::blocks::{BlockQ8_0, BlockQ8_1, BlockQ8K};

super::tier_kernels! {
    features = "neon", dot = Smull;
    vec_dot_q4_0_q8_0, gemm_q4_0_q8_0: BlockQ4_0, BlockQ8_0;
    vec_dot_q4_1_q8_1, gemm_q4_1_q8_1: BlockQ4_1, BlockQ8_1;
    vec_dot_q5_0_q8_0, gemm_q5_0_q8_0: BlockQ5_0, BlockQ8_0;
    vec_dot_q8_0_q8_0, gemm_q8_0_q8_0: BlockQ8_0, BlockQ8_0;
    vec_dot_q4_k_q8_k, gemm_q4_k_q8_k: BlockQ4K, BlockQ8K;
    vec_dot_q5_k_q8_k, gemm_q5_k_q8_k: BlockQ5K, BlockQ8K;
    vec_dot_q6_k_q8_k, gemm_q6_k_q8_k: BlockQ6K, BlockQ8K;
}

/// `vec_dot_f32` (bit-identical to the reference).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != y.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn vec_dot_f32(x: &[f32], y: &[f32]) -> f32 {
    // SAFETY: NEON is the caller's promise.
    unsafe { super::float::vec_dot_f32(x, y) }
}

/// `vec_dot_f16_f32` (bit-identical to the reference; `fcvtl` widening needs no FEAT_FP16).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != y.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn vec_dot_f16_f32(x: &[f16], y: &[f32]) -> f32 {
    // SAFETY: NEON is the caller's promise.
    unsafe { super::float::vec_dot_f16_f32(x, y) }
}

/// `vec_dot_bf16_f32` (bit-identical to the reference).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != y.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn vec_dot_bf16_f32(x: &[bf16], y: &[f32]) -> f32 {
    // SAFETY: NEON is the caller's promise.
    unsafe { super::float::vec_dot_bf16_f32(x, y) }
}

/// `quantize_row_q8_0` (same bytes as the reference).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != y.len() * 32`.
#[target_feature(enable = "neon")]
pub unsafe fn quantize_row_q8_0(x: &[f32], y: &mut [BlockQ8_0]) {
    // SAFETY: NEON is the caller's promise.
    unsafe { super::quant::quantize_row_q8_0(x, y) }
}

/// `quantize_row_q8_1` (same bytes as the reference).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != y.len() * 32`.
#[target_feature(enable = "neon")]
pub unsafe fn quantize_row_q8_1(x: &[f32], y: &mut [BlockQ8_1]) {
    // SAFETY: NEON is the caller's promise.
    unsafe { super::quant::quantize_row_q8_1(x, y) }
}

/// `quantize_row_q8_k` (same bytes as the reference).
///
/// # Safety
/// The CPU must support NEON.
///
/// # Panics
/// If `x.len() != y.len() * 256`.
#[target_feature(enable = "neon")]
pub unsafe fn quantize_row_q8_k(x: &[f32], y: &mut [BlockQ8K]) {
    // SAFETY: NEON is the caller's promise.
    unsafe { super::quant::quantize_row_q8_k(x, y) }
}

super::rows8::tier_rows8!(
    features = "neon",
    dot = super::rows8::SmullLane,
    offset = super::rows8::gemm::<super::rows8::SmullLane, _>
);

/// This tier's complete kernel table.
///
/// # Safety
/// The CPU must support the tier ([`crate::dispatch::CpuFeatures::supports`]): the table's
/// safe `fn`s run its instructions unchecked.
pub(crate) unsafe fn table() -> crate::dispatch::Kernels {
    use crate::dispatch::{Kernels, rows8_lanes, simd_tier};
    let mut k = Kernels::TIER_BASE;
    simd_tier!(k, aarch64::neon);
    rows8_lanes!(k, aarch64::neon);
    k
}
