//! AVX-512 VNNI tier (AVX-512 F/BW/VL + VNNI; Ice Lake, Zen 4).
//!
//! `vpdpbusd` (`_mm256_dpbusd_epi32`, the 256-bit EVEX form from AVX512VL) multiplies 32
//! unsigned bytes by 32 signed bytes and adds each group of four products to an i32 lane with
//! no intermediate saturation. Weight quants are the unsigned operand (0..15 / 0..31 / 0..63,
//! Q8_0 weights biased by +128) and the offset is removed with the activation sum:
//! `sum (q - o) * y = dpbusd(q, y) - dpbusd(o, y)`, the second term computed once per
//! activation block and tile (`prep_*`) and reused for every weight row.
//! Every integer block sum is exact for all inputs. Blocks are unpacked by the AVX2 code
//! (a subset of this tier's features); the float dots and activation quantizers are the AVX2
//! ones, re-exported so this module is a complete tier.

pub use super::attention::attn_scores_avx512 as attn_scores;

super::vnni::vnni_tier!(
    features = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
    dpbusd = _mm256_dpbusd_epi32,
    high5 = super::high5_bits
);

/// The rows8 GEMMs with two 8-row groups per 512-bit register (registered for this tier in
/// place of the 256-bit ones, which they use for an odd last group).
#[path = "rows16.rs"]
pub(crate) mod rows16;
#[path = "rows16_k.rs"]
pub(crate) mod rows16_k;

/// Byte `k` = `0x10` if bit `k` of `bits` is set: one masked move (AVX-512BW/VL).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
fn high5_bits(bits: u32) -> __m256i {
    _mm256_maskz_mov_epi8(bits, _mm256_set1_epi8(0x10))
}

/// This tier's complete kernel table.
///
/// # Safety
/// The CPU must support the tier ([`crate::dispatch::CpuFeatures::supports`]): the table's
/// safe `fn`s run its instructions unchecked.
pub(crate) unsafe fn table() -> crate::dispatch::Kernels {
    use crate::dispatch::{Kernels, override_kernels, simd_tier, type_kernels};
    let mut k = Kernels::TIER_BASE;
    use crate::dispatch::rows8_vnni;
    simd_tier!(k, x86_64::avx512vnni);
    rows8_vnni!(k, x86_64::avx512vnni::rows16);
    // K-quant rows8 with 16 rows per 512-bit register (the ARM tiers keep Q4_K / Q6_K in the
    // file's layout: `interleaves` says no for them).
    type_kernels!(k, crate::arch::x86_64::avx512vnni::rows16_k {
        q4_k: rows8 = gemm_q4_kx8_q8_k; q6_k: rows8 = gemm_q6_kx8_q8_k;
    });
    // 16-lane activations and weighted sums (the AVX2 kernels' bits) and softmax.
    override_kernels!(k, crate::arch::x86_64::float_ops512 {
        silu_mul(g, u), gelu_mul(g, u), weighted_sum(o, a, v), softmax(x),
    } gemm {
        weighted_sums(o, a, v, d),
    });
    // 16-block activation quantizers (the reference's bits).
    override_kernels!(k, crate::arch::x86_64::quant512 {
        quantize_row_q8_0(x, y), quantize_row_q8_1(x, y),
    });
    k
}
