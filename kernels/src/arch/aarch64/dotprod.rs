//! NEON + FEAT_DotProd tier (Cortex-A76: Raspberry Pi 5): integer dots with `sdot`
//! ([`super::simd::Sdot`]). The activation quantizers, f32 dots, f32 vector operations and
//! RoPE need no dot product instruction and are the NEON tier's ([`super::neon`]).

use super::simd::Sdot;
use crate::blocks::{BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K};
use crate::blocks::{BlockQ8_0, BlockQ8_1, BlockQ8K};

pub use super::neon::{
    add, attn_scores, axpy, gelu_mul, quantize_row_q8_0, quantize_row_q8_1, quantize_row_q8_k,
    rmsnorm, rope_neox, rope_norm, scale, silu_mul, softmax, vec_dot_bf16_f32, vec_dot_f16_f32,
    vec_dot_f32, weighted_sum, weighted_sums,
};

super::tier_kernels! {
    features = "neon,dotprod", dot = Sdot;
    vec_dot_q4_0_q8_0, gemm_q4_0_q8_0: BlockQ4_0, BlockQ8_0;
    vec_dot_q4_1_q8_1, gemm_q4_1_q8_1: BlockQ4_1, BlockQ8_1;
    vec_dot_q5_0_q8_0, gemm_q5_0_q8_0: BlockQ5_0, BlockQ8_0;
    vec_dot_q8_0_q8_0, gemm_q8_0_q8_0: BlockQ8_0, BlockQ8_0;
    vec_dot_q4_k_q8_k, gemm_q4_k_q8_k: BlockQ4K, BlockQ8K;
    vec_dot_q5_k_q8_k, gemm_q5_k_q8_k: BlockQ5K, BlockQ8K;
    vec_dot_q6_k_q8_k, gemm_q6_k_q8_k: BlockQ6K, BlockQ8K;
}

super::rows8::tier_rows8!(
    features = "neon,dotprod",
    dot = super::rows8::SdotLane,
    offset = super::rows8_tall::gemm::<_>
);

/// This tier's complete kernel table.
///
/// # Safety
/// The CPU must support the tier ([`crate::dispatch::CpuFeatures::supports`]): the table's
/// safe `fn`s run its instructions unchecked.
pub(crate) unsafe fn table() -> crate::dispatch::Kernels {
    use crate::dispatch::{Kernels, rows8_lanes, simd_tier};
    let mut k = Kernels::TIER_BASE;
    simd_tier!(k, aarch64::dotprod);
    rows8_lanes!(k, aarch64::dotprod);
    k
}
