//! NEON + FEAT_DotProd + FEAT_I8MM tier (Cortex-A510/A710/X2 and later, Neoverse N2/V2):
//! the dotprod tier, with the Q4_1 and Q8_0 rows8 prompt GEMMs taking two tokens per `smmla`
//! ([`super::rows8_mmla`]). Decode, the Q4_0 and Q5_0 rows8 GEMMs (the tall tile,
//! [`super::rows8_tall`]: fewer instructions than `smmla` in an 8 × 4 tile), the Q4_K and
//! Q6_K rows8 GEMMs, the non-interleaved formats and everything else are the dotprod tier's
//! kernels: a single token gains nothing from `smmla`'s second slot.

pub use super::dotprod::{
    add, attn_scores, axpy, gelu_mul, gemm_q4_0_q8_0, gemm_q4_1_q8_1, gemm_q4_k_q8_k,
    gemm_q5_0_q8_0, gemm_q5_k_q8_k, gemm_q6_k_q8_k, gemm_q8_0_q8_0, quantize_row_q8_0,
    quantize_row_q8_1, quantize_row_q8_k, rmsnorm, rope_neox, rope_norm, scale, silu_mul, softmax,
    vec_dot_bf16_f32, vec_dot_f16_f32, vec_dot_f32, vec_dot_q4_0_q8_0, vec_dot_q4_1_q8_1,
    vec_dot_q4_k_q8_k, vec_dot_q5_0_q8_0, vec_dot_q5_k_q8_k, vec_dot_q6_k_q8_k, vec_dot_q8_0_q8_0,
    weighted_sum, weighted_sums,
};
pub use super::dotprod::{gemm_q4_0x8_q8_0, gemm_q4_kx8_q8_k, gemm_q5_0x8_q8_0, gemm_q6_kx8_q8_k};
pub use super::rows8_mmla::{gemm_q4_1x8_q8_1, gemm_q8_0x8_q8_0};

/// This tier's complete kernel table.
///
/// # Safety
/// The CPU must support the tier ([`crate::dispatch::CpuFeatures::supports`]): the table's
/// safe `fn`s run its instructions unchecked.
pub(crate) unsafe fn table() -> crate::dispatch::Kernels {
    use crate::dispatch::{Kernels, rows8_lanes, simd_tier};
    let mut k = Kernels::TIER_BASE;
    simd_tier!(k, aarch64::i8mm);
    rows8_lanes!(k, aarch64::i8mm);
    k
}
