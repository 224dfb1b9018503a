//! aarch64 tiers.
//!
//! - [`neon`]: baseline AdvSIMD (Cortex-A53/A72: Raspberry Pi 3/4). Integer dots with `smull`
//!   (i8 × i8 → i16) and `sadalp` (pairwise add-accumulate i16 → i32).
//! - [`dotprod`]: NEON + FEAT_DotProd (Cortex-A76: Raspberry Pi 5). Integer dots with `sdot`
//!   (four i8 products summed into an i32 lane), written with `asm!` because `vdotq_s32` is
//!   unstable on Rust 1.95.
//! - [`i8mm`]: dotprod + FEAT_I8MM (Cortex-A510/A710, Neoverse N2). The dotprod tier with
//!   the Q4_1 and Q8_0 prompt GEMMs over the rows8 layout taking two tokens per `smmla`
//!   (`rows8_mmla.rs`).
//!
//! The kernels are written once, generic over the 8-bit dot ([`simd::I8Dot`]): `formats.rs`
//! unpacks each weight format and scales its integer block sums, `tiles.rs` builds the dot
//! product and the register-tiled GEMM from that, `float.rs` and `quant.rs` hold the f32 dots
//! and the activation quantizers, `float_ops.rs` the f32 vector operations and RoPE (NEON
//! only, shared by both tiers). `rows8.rs` (Q4_0, Q4_1, Q5_0, Q8_0) and `rows8_k.rs` (Q4_K,
//! Q6_K) hold the GEMMs over the interleaved rows8 layout, generic over the lane dot (`sdot`
//! by element, or `smlal` against a broadcast); `rows8_tall.rs` the dotprod tiers' Q4_0 and
//! Q5_0 prompt GEMM (4 rows × 12 tokens). The tier modules only stamp out
//! `#[target_feature]` entry points ([`tier_kernels`]).
//!
//! Every entry point returns exactly the scalar reference's bits: integer block sums are exact
//! for every input (`-128` included), and the f32 operations are the reference's, in its
//! order, fused where it fuses (`softmax`, `silu_mul` and `gelu_mul` take the reference's
//! `exp` steps, `float_ops.rs`).

pub(crate) mod dotprod;
pub(crate) mod i8mm;
pub(crate) mod id_regs;
pub(crate) mod neon;

mod attention;
mod float;
mod float_ops;
mod formats;
mod quant;
mod rows8;
mod rows8_k;
mod rows8_mmla;
mod rows8_tall;
mod simd;
#[cfg(test)]
mod tests;
mod tiles;
mod unpack;

/// Stamps out a tier's entry points: for each quantized weight format `$vec_dot(x, y)` (the
/// reference's signature) and `$gemm(w, x, nb, out)` (a GEMM tile with
/// `dispatch::GemmFn`'s contract, see [`tiles::gemm_tile`]), all
/// `#[target_feature(enable = $features)]` and instantiated with the 8-bit dot `$dot`.
macro_rules! tier_kernels {
    (
        features = $features:literal, dot = $dot:ty;
        $($vec_dot:ident, $gemm:ident: $W:ty, $A:ty;)*
    ) => {$(
        #[doc = concat!("`", stringify!($vec_dot), "` (same contract and result as the reference).")]
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        ///
        /// # Panics
        /// If `x.len() != y.len()`.
        #[target_feature(enable = $features)]
        pub unsafe fn $vec_dot(x: &[$W], y: &[$A]) -> f32 {
            // SAFETY: this function's features are the caller's promise.
            unsafe { super::tiles::vec_dot::<$dot, $W>(x, y) }
        }

        /// GEMM tile: `out[t * mr + r] = dot(w row r, x row t)` for `mr = w.len() / nb`
        /// weight rows and `nt = x.len() / nb` activation rows (`1 <= mr, nt <= 4`); results
        /// equal the reference tile's.
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        ///
        /// # Panics
        /// If `nb == 0`, the slices are not whole rows, `nt > 4`, or `out` is too short.
        #[target_feature(enable = $features)]
        pub unsafe fn $gemm(w: &[$W], x: &[$A], nb: usize, out: &mut [f32]) {
            // SAFETY: this function's features are the caller's promise.
            unsafe { super::tiles::gemm_tile::<$dot, $W>(w, x, nb, out) }
        }
    )*};
}
use tier_kernels;
