//! AVX-VNNI tier (VEX-encoded `vpdpbusd` on 256-bit registers, without AVX-512: Intel
//! Alder Lake and later client cores, Zen 5). The same kernels as the AVX-512 VNNI tier
//! (see [`super::vnni`]), built with `_mm256_dpbusd_avx_epi32` and only `avxvnni` on top of
//! AVX2, so they run on CPUs that have VNNI but no AVX-512.

pub use super::avx2::attn_scores;

super::vnni::vnni_tier!(
    features = "avx2,fma,f16c,avxvnni",
    dpbusd = _mm256_dpbusd_avx_epi32,
    high5 = crate::arch::x86_64::avx2::high5_bits
);

/// This tier's complete kernel table.
///
/// # Safety
/// The CPU must support the tier ([`crate::dispatch::CpuFeatures::supports`]): the table's
/// safe `fn`s run its instructions unchecked.
pub(crate) unsafe fn table() -> crate::dispatch::Kernels {
    use crate::dispatch::{Kernels, simd_tier};
    let mut k = Kernels::TIER_BASE;
    use crate::dispatch::{rows8_k_avx2, rows8_vnni};
    simd_tier!(k, x86_64::avxvnni);
    rows8_vnni!(k, x86_64::avxvnni);
    rows8_k_avx2!(k);
    k
}
