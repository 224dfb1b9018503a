//! The integer dot products shared by the two `vpdpbusd` tiers, AVX-512 VNNI (EVEX,
//! `_mm256_dpbusd_epi32` with AVX512VL) and AVX-VNNI (VEX, `_mm256_dpbusd_avx_epi32`): the
//! same instruction semantics, so one body instantiated per tier with its feature string and
//! intrinsic.
//!
//! `vpdpbusd` multiplies 32 unsigned bytes by 32 signed bytes and adds each group of four
//! products to an i32 lane with no intermediate saturation. Weight quants are the unsigned
//! operand (0..15 / 0..31 / 0..63, Q8_0 weights biased by +128) and the offset is removed with
//! the activation sum: `sum (q - o) * y = dpbusd(q, y) - dpbusd(o, y)`, the second term
//! computed once per activation block and tile (`prep_*`) and reused for every weight row.
//! Every integer block sum is exact for all inputs. Blocks are unpacked by the AVX2 code
//! (a subset of both tiers' features); the float dots, f32 ops and activation quantizers are
//! the AVX2 ones, re-exported so each tier module is complete.

/// Define a `vpdpbusd` tier in the invoking module: `features` is its `target_feature`
/// string, `dpbusd` the intrinsic (`fn(acc, u8x32, i8x32) -> i32x8`), `high5` the rows8
/// Q5_0 fifth-bit expansion (`fn(u32) -> __m256i`, path from the tier's `rows8_tiles`).
macro_rules! vnni_tier {
    (features = $features:literal, dpbusd = $dpbusd:ident, high5 = $high5:path) => {
        use core::arch::x86_64::*;

        use super::avx2::{
            Prepared32, Unpacked32, UnpackedK4, UnpackedQ6K, prep_q8_0, prep_q8_1, prep_q8_k, q8k_sub,
            step32, step_k4, step_q4_1, step_q6_k, unpack_q4_0, unpack_q4_1, unpack_q4_k, unpack_q5_0,
            unpack_q5_k, unpack_q6_k, unpack_q8_0,
        };
        use crate::blocks::{
            BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K, BlockQ8_0, BlockQ8_1, BlockQ8K,
        };

        pub use super::avx2::{
            add, axpy, gelu_mul, gemm_bf16_f32, gemm_f16_f32, gemm_f32, quantize_row_q8_0,
            quantize_row_q8_1, quantize_row_q8_k, rmsnorm, rope_neox, rope_norm, scale, silu_mul,
            softmax, vec_dot_bf16_f32, vec_dot_f16_f32, vec_dot_f32, weighted_sum,
        };

        /// `sum (q[i] - offset) * y[i]` in 8 i32 lanes (lane `i`: weights `4i..4i+4`), `q` unsigned.
        #[inline]
        #[target_feature(enable = $features)]
        fn dot_u8_i8_offset(q: __m256i, y: __m256i, offset: u8) -> __m256i {
            let zero = _mm256_setzero_si256();
            let p = $dpbusd(zero, q, y);
            let o = $dpbusd(zero, _mm256_set1_epi8(offset as i8), y);
            _mm256_sub_epi32(p, o)
        }

        /// A Q8_0 block prepared for weights whose quants are stored `+offset`: `o` holds
        /// `dpbusd(offset, q)`, subtracted once per dot instead of recomputed per weight row.
        #[inline]
        #[target_feature(enable = $features)]
        fn prep_offset<const OFFSET: u8>(y: &BlockQ8_0) -> Prepared32 {
            let mut p = prep_q8_0(y);
            p.o = $dpbusd(_mm256_setzero_si256(), _mm256_set1_epi8(OFFSET as i8), p.q);
            p
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn prep_q4_0(y: &BlockQ8_0) -> Prepared32 {
            prep_offset::<8>(y)
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn prep_q5_0(y: &BlockQ8_0) -> Prepared32 {
            prep_offset::<16>(y)
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn prep_q8_0w(y: &BlockQ8_0) -> Prepared32 {
            prep_offset::<128>(y)
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn dot_q4_0(x: &Unpacked32, y: Prepared32, acc: f32) -> f32 {
            let s = _mm256_sub_epi32($dpbusd(_mm256_setzero_si256(), x.q, y.q), y.o);
            step32(acc, x, &y, s)
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn dot_q4_1(x: &Unpacked32, y: Prepared32, acc: f32) -> f32 {
            step_q4_1(acc, x, &y, $dpbusd(_mm256_setzero_si256(), x.q, y.q))
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn dot_q5_0(x: &Unpacked32, y: Prepared32, acc: f32) -> f32 {
            let s = _mm256_sub_epi32($dpbusd(_mm256_setzero_si256(), x.q, y.q), y.o);
            step32(acc, x, &y, s)
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn dot_q8_0(x: &Unpacked32, y: Prepared32, acc: f32) -> f32 {
            // x + 128 is unsigned 0..=255 for every i8 x (flip the sign bit).
            let biased = _mm256_xor_si256(x.q, _mm256_set1_epi8(i8::MIN));
            let s = _mm256_sub_epi32(
                $dpbusd(_mm256_setzero_si256(), biased, y.q),
                y.o,
            );
            step32(acc, x, &y, s)
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn dot_q4_k(x: &UnpackedK4, y: &BlockQ8K, acc: f32) -> f32 {
            let zero = _mm256_setzero_si256();
            let mut sumi = zero;
            for j in 0..8 {
                // |dpbusd lane| <= 4 * 31 * 128; times a 6-bit scale it stays far inside i32.
                let s = $dpbusd(zero, x.q[j], q8k_sub(y, j));
                sumi = _mm256_add_epi32(
                    sumi,
                    _mm256_mullo_epi32(s, _mm256_set1_epi32(i32::from(x.sc[j]))),
                );
            }
            step_k4(acc, x, y, sumi)
        }

        #[inline]
        #[target_feature(enable = $features)]
        fn dot_q6_k(x: &UnpackedQ6K, y: &BlockQ8K, acc: f32) -> f32 {
            let mut sumi = _mm256_setzero_si256();
            for j in 0..8 {
                // Vector j holds sub-blocks 2j (lanes 0..4) and 2j+1 (lanes 4..8). The -32 offset
                // is taken from the quants themselves, not from `bsums`, as the reference does.
                let s = dot_u8_i8_offset(x.q[j], q8k_sub(y, j), 32);
                let sc = _mm256_set_m128i(
                    _mm_set1_epi32(i32::from(x.scales[2 * j + 1])),
                    _mm_set1_epi32(i32::from(x.scales[2 * j])),
                );
                sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(s, sc));
            }
            step_q6_k(acc, x, y, sumi)
        }

        /// Rows8 integer dots: lane `i` = `Σ_g Σ_j q[g][4i + j] * y[4g + j]` by `vpdpbusd` with
        /// group `g`'s 4 activation bytes broadcast (two chains for latency); exact for any
        /// unsigned weight bytes.
        #[inline]
        #[target_feature(enable = $features)]
        fn dot_groups(q: &[__m256i; 8], y: &[i8; 32]) -> __m256i {
            let y: [i32; 8] = bytemuck::cast(*y);
            let (mut a, mut b) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for g in (0..8).step_by(2) {
                a = $dpbusd(a, q[g], _mm256_set1_epi32(y[g]));
                b = $dpbusd(b, q[g + 1], _mm256_set1_epi32(y[g + 1]));
            }
            _mm256_add_epi32(a, b)
        }

        super::rows8::rows8_kernels!(
            features = $features,
            dot_u4 = dot_groups,
            dot_u5 = dot_groups,
            high5 = $high5,
            dot_u8 = dot_groups
        );

        super::tiles! {
            features = $features, rows = 4;
            vec_dot_q4_0_q8_0, gemm_q4_0_q8_0, tile_q4_0: BlockQ4_0, BlockQ8_0, unpack_q4_0, prep_q4_0, dot_q4_0;
            vec_dot_q4_1_q8_1, gemm_q4_1_q8_1, tile_q4_1: BlockQ4_1, BlockQ8_1, unpack_q4_1, prep_q8_1, dot_q4_1;
            vec_dot_q5_0_q8_0, gemm_q5_0_q8_0, tile_q5_0: BlockQ5_0, BlockQ8_0, unpack_q5_0, prep_q5_0, dot_q5_0;
            vec_dot_q8_0_q8_0, gemm_q8_0_q8_0, tile_q8_0: BlockQ8_0, BlockQ8_0, unpack_q8_0, prep_q8_0w, dot_q8_0;
            vec_dot_q4_k_q8_k, gemm_q4_k_q8_k, tile_q4_k: BlockQ4K, BlockQ8K, unpack_q4_k, prep_q8_k, dot_q4_k;
            vec_dot_q5_k_q8_k, gemm_q5_k_q8_k, tile_q5_k: BlockQ5K, BlockQ8K, unpack_q5_k, prep_q8_k, dot_q4_k;
            vec_dot_q6_k_q8_k, gemm_q6_k_q8_k, tile_q6_k: BlockQ6K, BlockQ8K, unpack_q6_k, prep_q8_k, dot_q6_k;
        }
    };
}

pub(crate) use vnni_tier;
