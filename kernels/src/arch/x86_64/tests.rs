//! The x86-64 tiers against the scalar reference, through [`KernelTable::with_tier`]: a tier
//! this CPU lacks is skipped (reported on stderr), never run into SIGILL.
//!
//! - Integer block sums: with unit scales a one-block dot is exactly the reference's integer
//!   block sum, for every bit pattern of the quants (including `-128` activations and, for
//!   Q8_0, `-128` weights). K-quant activations are bounded there so the sum fits in 24 bits.
//! - Dots with random scales (zero, f16 subnormal, ±65504), odd block counts and slices that
//!   start at any block: the reference's bits (every tier does the reference's block steps
//!   in its order; `mag`, the sum of the magnitudes of the terms, is reported on failure).
//! - GEMM tiles of every shape (1..=4 rows × 1..=4 tokens, so every register-tile size and
//!   remainder path) against the reference tile, bitwise too; no write past the tile;
//!   and each value bit-identical to a 1×1 tile and to the `vec_dot` of the same row and
//!   token, so results depend neither on the batch size nor on how rows are cut into tiles
//!   and threads.
//! - Activation quantizers: bytes identical to the reference (ties, zeros, subnormals,
//!   huge values, inf and NaN).

use bytemuck::Pod;
use half::{bf16, f16};
use proptest::prelude::*;

use crate::blocks::{
    BlockQ4_0, BlockQ4_1, BlockQ4K, BlockQ5_0, BlockQ5K, BlockQ6K, BlockQ8_0, BlockQ8_1, BlockQ8K,
};
use crate::dispatch::{KernelTable, Kernels, Tier};
use crate::reference as r;
use crate::reference::k_quants::{q4_k_quant, q5_k_quant, q6_k_quant, scales_mins_k4};
use crate::reference::q5::q5_0_quant;

/// The x86 tiers this CPU runs, with their kernels.
fn tiers() -> Vec<(Tier, Kernels)> {
    [Tier::Avx2, Tier::AvxVnni, Tier::Avx512Vnni]
        .into_iter()
        .filter_map(|t| match KernelTable::with_tier(t) {
            Ok(k) => Some((t, *k.kernels())),
            Err(e) => {
                eprintln!("skipping tier {t}: {e}");
                None
            }
        })
        .collect()
}

fn blocks<B: Pod>(bytes: &[u8]) -> Vec<B> {
    bytes
        .chunks_exact(size_of::<B>())
        .map(bytemuck::pod_read_unaligned)
        .collect()
}

fn f16_scale() -> impl Strategy<Value = f16> {
    prop_oneof![
        Just(0.0f32),
        Just(-0.0),
        Just(6.0e-8), // f16 subnormal
        Just(65504.0),
        Just(-65504.0),
        -2.0f32..2.0,
        1e-5f32..1e-2,
    ]
    .prop_map(f16::from_f32)
}

fn f32_scale() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(0.0f32),
        Just(1e-40), // f32 subnormal
        Just(-1e3),
        -2.0f32..2.0,
        1e-6f32..1e-3,
    ]
}

fn check(tier: Tier, what: &str, got: f32, want: f32, nb: usize, mag: f64) {
    assert!(
        got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
        "{tier} {what}: got {got:e}, reference {want:e}: not the same bits (nb {nb}, magnitude {mag:e})"
    );
}

fn q8(q: i8) -> f64 {
    f64::from(q)
}

// Magnitudes `sum |terms|` of each dot, for the tolerance.
fn mag_q4_0(x: &[BlockQ4_0], y: &[BlockQ8_0]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(x, y)| {
            let s: f64 = (0..32)
                .map(|j| {
                    let q = if j < 16 {
                        x.qs[j] & 15
                    } else {
                        x.qs[j - 16] >> 4
                    };
                    (f64::from(q) - 8.0).abs() * q8(y.qs[j]).abs()
                })
                .sum();
            (x.d.to_f64() * y.d.to_f64()).abs() * s
        })
        .sum()
}

fn mag_q4_1(x: &[BlockQ4_1], y: &[BlockQ8_1]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(x, y)| {
            let s: f64 = (0..32)
                .map(|j| {
                    let q = if j < 16 {
                        x.qs[j] & 15
                    } else {
                        x.qs[j - 16] >> 4
                    };
                    f64::from(q) * q8(y.qs[j]).abs()
                })
                .sum();
            (x.d.to_f64() * y.d.to_f64()).abs() * s + (x.m.to_f64() * y.s.to_f64()).abs()
        })
        .sum()
}

fn mag_q5_0(x: &[BlockQ5_0], y: &[BlockQ8_0]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(x, y)| {
            let s: f64 = (0..32)
                .map(|j| (f64::from(q5_0_quant(x, j)) - 16.0).abs() * q8(y.qs[j]).abs())
                .sum();
            (x.d.to_f64() * y.d.to_f64()).abs() * s
        })
        .sum()
}

fn mag_q8_0(x: &[BlockQ8_0], y: &[BlockQ8_0]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(x, y)| {
            let s: f64 = (0..32).map(|j| (q8(x.qs[j]) * q8(y.qs[j])).abs()).sum();
            (x.d.to_f64() * y.d.to_f64()).abs() * s
        })
        .sum()
}

fn mag_k4(d: f16, dmin: f16, scales: &[u8; 12], q: impl Fn(usize) -> u8, y: &BlockQ8K) -> f64 {
    let (sc, m) = scales_mins_k4(scales);
    let s: f64 = (0..256)
        .map(|i| f64::from(sc[i / 32]) * f64::from(q(i)) * q8(y.qs[i]).abs())
        .sum();
    let mins: f64 = (0..8)
        .map(|j| {
            f64::from(m[j]) * (f64::from(y.bsums[2 * j]) + f64::from(y.bsums[2 * j + 1])).abs()
        })
        .sum();
    (d.to_f64() * f64::from(y.d)).abs() * s + (dmin.to_f64() * f64::from(y.d)).abs() * mins
}

fn mag_q4_k(x: &[BlockQ4K], y: &[BlockQ8K]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(x, y)| mag_k4(x.d, x.dmin, &x.scales, |i| q4_k_quant(x, i), y))
        .sum()
}

fn mag_q5_k(x: &[BlockQ5K], y: &[BlockQ8K]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(x, y)| mag_k4(x.d, x.dmin, &x.scales, |i| q5_k_quant(x, i), y))
        .sum()
}

fn mag_q6_k(x: &[BlockQ6K], y: &[BlockQ8K]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(x, y)| {
            let s: f64 = (0..256)
                .map(|i| {
                    f64::from(x.scales[i / 16]).abs()
                        * (f64::from(q6_k_quant(x, i)) - 32.0).abs()
                        * q8(y.qs[i]).abs()
                })
                .sum();
            (x.d.to_f64() * f64::from(y.d)).abs() * s
        })
        .sum()
}

/// Bytes for `n` blocks of `B` plus up to 3 leading blocks (so slices start at any block).
fn bytes_for<B>(max_blocks: usize) -> impl Strategy<Value = (usize, usize, Vec<u8>)> {
    (1..=max_blocks, 0usize..3).prop_flat_map(|(n, skip)| {
        (
            Just(n),
            Just(skip),
            prop::collection::vec(any::<u8>(), (n + skip) * size_of::<B>()),
        )
    })
}

/// Property tests of one quantized format: exact block sums, dot vs reference, GEMM tile vs
/// dot. `$set_unit` makes a (weight, activation) block pair have unit scales and bounded
/// activations; `$set_scales` writes random scales.
macro_rules! quant_format_tests {
    (
        $name:ident: $W:ty, $A:ty, max_blocks = $maxb:literal,
        dot = $dot:ident, gemm = $gemm:ident, sum = $sum:expr, mag = $mag:ident,
        wscale = $wscale:expr, ascale = $ascale:expr,
        unit = |$uw:ident, $ua:ident| $unit:block,
        scales = |$sw:ident, $sa:ident, $s1:ident, $s2:ident, $s3:ident| $scales:block
    ) => {
        mod $name {
            use super::*;

            proptest! {
                #![proptest_config(ProptestConfig::with_cases(48))]

                #[test]
                fn integer_block_sums_are_exact(
                    w in prop::collection::vec(any::<u8>(), size_of::<$W>()),
                    a in prop::collection::vec(any::<u8>(), size_of::<$A>()),
                ) {
                    let mut w: Vec<$W> = blocks(&w);
                    let mut a: Vec<$A> = blocks(&a);
                    {
                        let ($uw, $ua) = (&mut w[0], &mut a[0]);
                        $unit
                    }
                    let want = ($sum)(&w[0], &a[0]) as f32;
                    for (tier, k) in tiers() {
                        let got = (k.$name.dot)(&w, &a);
                        prop_assert_eq!(got, want, "{} {}", tier, stringify!($dot));
                    }
                }

                #[test]
                fn dot_matches_reference(
                    (n, skip, wb) in bytes_for::<$W>($maxb),
                    ab in prop::collection::vec(any::<u8>(), $maxb * 3 * size_of::<$A>()),
                    $s1 in prop::collection::vec($wscale, $maxb + 2),
                    $s2 in prop::collection::vec($wscale, $maxb + 2),
                    $s3 in prop::collection::vec($ascale, $maxb * 3),
                ) {
                    let mut w: Vec<$W> = blocks(&wb);
                    let mut a: Vec<$A> = blocks(&ab);
                    for i in 0..n + skip {
                        let ($sw, $sa) = (&mut w[i], &mut a[i]);
                        let ($s1, $s2, $s3) = ($s1[i], $s2[i], $s3[i]);
                        $scales
                    }
                    let (w, a) = (&w[skip..], &a[skip..skip + n]);
                    let want = r::$dot(w, a);
                    for (tier, k) in tiers() {
                        check(tier, stringify!($dot), (k.$name.dot)(w, a), want, n, $mag(w, a));
                    }
                }

                #[test]
                fn gemm_tiles_match_reference(
                    (nb, mr, nt) in (1usize..=$maxb, 1usize..=4, 1usize..=4),
                    skip in 0usize..3,
                    seed in prop::collection::vec(any::<u8>(), 4 * size_of::<$W>() + 4 * size_of::<$A>()),
                    $s1 in $wscale, $s2 in $wscale, $s3 in $ascale,
                ) {
                    // Pseudo-random bytes derived from the seed (scales are overwritten below).
                    let wlen = (skip + mr * nb) * size_of::<$W>();
                    let alen = (skip + nt * nb) * size_of::<$A>();
                    let fill = |len: usize, off: usize| -> Vec<u8> {
                        (0..len).map(|i| seed[(i * 7 + off + i / 97) % seed.len()] ^ (i as u8)).collect()
                    };
                    let mut w: Vec<$W> = blocks(&fill(wlen, 0));
                    let mut a: Vec<$A> = blocks(&fill(alen, 13));
                    for i in 0..w.len().max(a.len()) {
                        let (wl, al) = (w.len(), a.len());
                        let ($sw, $sa) = (&mut w[i % wl], &mut a[i % al]);
                        $scales
                    }
                    let (w, a) = (&w[skip..], &a[skip..]);
                    let mut out = [f32::NAN; 17];
                    let mut want = [0f32; 16];
                    r::$gemm(w, a, nb, &mut want);
                    for (tier, k) in tiers() {
                        let gemm = k.$name.gemm.expect("x86 tiers provide every GEMM tile");
                        out.fill(f32::NAN);
                        gemm(w, a, nb, &mut out);
                        prop_assert!(out[mr * nt].is_nan(), "{} wrote past the tile", tier);
                        for t in 0..nt {
                            for rr in 0..mr {
                                let wr = &w[rr * nb..(rr + 1) * nb];
                                let ar = &a[t * nb..(t + 1) * nb];
                                let got = out[t * mr + rr];
                                check(tier, stringify!($gemm), got, want[t * mr + rr], nb, $mag(wr, ar));
                                // Batch and thread-count independence: the same bits from a
                                // 1×1 tile and from the `vec_dot` (the GEMV path).
                                let mut one = [f32::NAN; 1];
                                gemm(wr, ar, nb, &mut one);
                                let dot = (k.$name.dot)(wr, ar);
                                for alone in [one[0], dot] {
                                    prop_assert!(
                                        alone.to_bits() == got.to_bits() || (got.is_nan() && alone.is_nan()),
                                        "{} {} ({}, {}) of a {}x{} tile: {} but alone {}",
                                        tier, stringify!($gemm), rr, t, mr, nt, got, alone
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    };
}

quant_format_tests! {
    q4_0: BlockQ4_0, BlockQ8_0, max_blocks = 9,
    dot = vec_dot_q4_0_q8_0, gemm = gemm_q4_0_q8_0, sum = r::vec_dot::block_sum_q4_0_q8_0,
    mag = mag_q4_0, wscale = f16_scale(), ascale = f16_scale(),
    unit = |w, a| { w.d = f16::ONE; a.d = f16::ONE; },
    scales = |w, a, s1, _s2, s3| { w.d = s1; a.d = s3; }
}

quant_format_tests! {
    q4_1: BlockQ4_1, BlockQ8_1, max_blocks = 9,
    dot = vec_dot_q4_1_q8_1, gemm = gemm_q4_1_q8_1, sum = r::vec_dot::block_sum_q4_1_q8_1,
    mag = mag_q4_1, wscale = f16_scale(), ascale = f16_scale(),
    unit = |w, a| { w.d = f16::ONE; w.m = f16::ZERO; a.d = f16::ONE; a.s = f16::ZERO; },
    scales = |w, a, s1, s2, s3| { w.d = s1; w.m = s2; a.d = s3; a.s = s2; }
}

quant_format_tests! {
    q5_0: BlockQ5_0, BlockQ8_0, max_blocks = 9,
    dot = vec_dot_q5_0_q8_0, gemm = gemm_q5_0_q8_0, sum = r::vec_dot::block_sum_q5_0_q8_0,
    mag = mag_q5_0, wscale = f16_scale(), ascale = f16_scale(),
    unit = |w, a| { w.d = f16::ONE; a.d = f16::ONE; },
    scales = |w, a, s1, _s2, s3| { w.d = s1; a.d = s3; }
}

quant_format_tests! {
    q8_0: BlockQ8_0, BlockQ8_0, max_blocks = 9,
    dot = vec_dot_q8_0_q8_0, gemm = gemm_q8_0_q8_0, sum = r::vec_dot::block_sum_q8_0_q8_0,
    mag = mag_q8_0, wscale = f16_scale(), ascale = f16_scale(),
    unit = |w, a| { w.d = f16::ONE; a.d = f16::ONE; },
    scales = |w, a, s1, _s2, s3| { w.d = s1; a.d = s3; }
}

/// Clamp Q8_K activation quants to `-lim..lim` (keeps unit-scale K-quant sums below 2^24).
fn bound_q8k(a: &mut BlockQ8K, lim: i8) {
    for q in a.qs.iter_mut() {
        *q = (*q).clamp(-lim, lim - 1);
    }
}

quant_format_tests! {
    q4_k: BlockQ4K, BlockQ8K, max_blocks = 3,
    dot = vec_dot_q4_k_q8_k, gemm = gemm_q4_k_q8_k,
    sum = |w: &BlockQ4K, a: &BlockQ8K| r::vec_dot::block_sums_q4_k_q8_k(w, a).0,
    mag = mag_q4_k, wscale = f16_scale(), ascale = f32_scale(),
    unit = |w, a| { w.d = f16::ONE; w.dmin = f16::ZERO; a.d = 1.0; bound_q8k(a, 64); },
    scales = |w, a, s1, s2, s3| { w.d = s1; w.dmin = s2; a.d = s3; }
}

quant_format_tests! {
    q5_k: BlockQ5K, BlockQ8K, max_blocks = 3,
    dot = vec_dot_q5_k_q8_k, gemm = gemm_q5_k_q8_k,
    sum = |w: &BlockQ5K, a: &BlockQ8K| r::vec_dot::block_sums_q5_k_q8_k(w, a).0,
    mag = mag_q5_k, wscale = f16_scale(), ascale = f32_scale(),
    unit = |w, a| { w.d = f16::ONE; w.dmin = f16::ZERO; a.d = 1.0; bound_q8k(a, 32); },
    scales = |w, a, s1, s2, s3| { w.d = s1; w.dmin = s2; a.d = s3; }
}

quant_format_tests! {
    q6_k: BlockQ6K, BlockQ8K, max_blocks = 3,
    dot = vec_dot_q6_k_q8_k, gemm = gemm_q6_k_q8_k, sum = r::vec_dot::block_sum_q6_k_q8_k,
    mag = mag_q6_k, wscale = f16_scale(), ascale = f32_scale(),
    unit = |w, a| { w.d = f16::ONE; a.d = 1.0; bound_q8k(a, 8); },
    scales = |w, a, s1, _s2, s3| { w.d = s1; a.d = s3; }
}

/// The Q8_0 sign trick `abs(x) * sign(y, x)` fails on -128; these kernels must not.
#[test]
fn q8_0_minus_128_everywhere() {
    let w = [BlockQ8_0 {
        d: f16::ONE,
        qs: [-128; 32],
    }; 3];
    let a = [BlockQ8_0 {
        d: f16::ONE,
        qs: [-128; 32],
    }; 3];
    for (tier, k) in tiers() {
        assert_eq!((k.q8_0.dot)(&w, &a), 3.0 * 32.0 * 16384.0, "{tier}");
    }
    // Activations without -128 (the AVX2 sign-trick path) against -128 weights, at the
    // largest pair sums: 2 * 128 * 127 per i16 lane.
    for y in [-127i8, 127] {
        let a = [BlockQ8_0 {
            d: f16::ONE,
            qs: [y; 32],
        }; 3];
        for (tier, k) in tiers() {
            let want = 3.0 * 32.0 * -128.0 * f32::from(y);
            assert_eq!((k.q8_0.dot)(&w, &a), want, "{tier} y {y}");
        }
    }
}

fn activation_value() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -3.0f32..3.0,
        2 => (-127i32..127).prop_map(|k| k as f32 + 0.5), // ties when the scale is 1
        1 => Just(0.0f32),
        1 => Just(-0.0f32),
        1 => Just(1e-40f32), // subnormal
        1 => Just(127.0f32),
        1 => Just(-127.0f32),
        1 => -1e30f32..1e30,
    ]
}

fn activations(blocks: usize, block: usize) -> impl Strategy<Value = Vec<f32>> {
    (1..=blocks).prop_flat_map(move |n| prop::collection::vec(activation_value(), n * block))
}

fn same_bytes<T: Pod>(a: &[T], b: &[T]) -> bool {
    bytemuck::cast_slice::<T, u8>(a) == bytemuck::cast_slice::<T, u8>(b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn quantize_q8_0_and_q8_1_are_bit_identical(x in activations(6, 32)) {
        let n = x.len() / 32;
        let mut want0 = vec![BlockQ8_0 { d: f16::ZERO, qs: [0; 32] }; n];
        let mut want1 = vec![BlockQ8_1 { d: f16::ZERO, s: f16::ZERO, qs: [0; 32] }; n];
        r::quantize_row_q8_0(&x, &mut want0);
        r::quantize_row_q8_1(&x, &mut want1);
        for (tier, k) in tiers() {
            let mut got0 = want0.clone();
            got0.iter_mut().for_each(|b| b.qs = [99; 32]);
            let mut got1 = want1.clone();
            got1.iter_mut().for_each(|b| b.qs = [99; 32]);
            (k.quantize_row_q8_0)(&x, &mut got0);
            (k.quantize_row_q8_1)(&x, &mut got1);
            prop_assert!(same_bytes(&got0, &want0), "{} q8_0: {:?} vs {:?}", tier, got0, want0);
            prop_assert!(same_bytes(&got1, &want1), "{} q8_1: {:?} vs {:?}", tier, got1, want1);
        }
    }

    #[test]
    fn quantize_q8_k_is_bit_identical(x in activations(2, 256)) {
        let n = x.len() / 256;
        let zero = BlockQ8K { d: 0.0, qs: [0; 256], bsums: [0; 16] };
        let mut want = vec![zero; n];
        r::quantize_row_q8_k(&x, &mut want);
        for (tier, k) in tiers() {
            let mut got = vec![BlockQ8K { d: 7.0, qs: [99; 256], bsums: [5; 16] }; n];
            (k.quantize_row_q8_k)(&x, &mut got);
            prop_assert!(same_bytes(&got, &want), "{} q8_k", tier);
        }
    }

    #[test]
    fn float_dots_match_reference(
        v in prop::collection::vec((-4.0f32..4.0, -4.0f32..4.0), 0..200),
    ) {
        let x: Vec<f32> = v.iter().map(|p| p.0).collect();
        let y: Vec<f32> = v.iter().map(|p| p.1).collect();
        let xh: Vec<f16> = x.iter().map(|&a| f16::from_f32(a)).collect();
        let xb: Vec<bf16> = x.iter().map(|&a| bf16::from_f32(a)).collect();
        let mag: f64 = x.iter().zip(&y).map(|(a, b)| f64::from(a * b).abs()).sum();
        let n = x.len();
        for (tier, k) in tiers() {
            check(tier, "vec_dot_f32", (k.f32.dot)(&x, &y), r::vec_dot_f32(&x, &y), n, mag);
            check(tier, "vec_dot_f16_f32", (k.f16.dot)(&xh, &y), r::vec_dot_f16_f32(&xh, &y), n, mag * 1.01);
            check(tier, "vec_dot_bf16_f32", (k.bf16.dot)(&xb, &y), r::vec_dot_bf16_f32(&xb, &y), n, mag * 1.01);
        }
    }
}

/// Non-finite activations quantize as the reference does (NaN → quant 0, inf → NaN scale
/// handling identical), including a NaN that is not the block's last element.
#[test]
fn quantizers_non_finite() {
    let mut x = [0.5f32; 256];
    x[3] = f32::NAN;
    x[40] = f32::INFINITY;
    x[100] = -7.0;
    x[70] = f32::NEG_INFINITY;
    for (tier, k) in tiers() {
        let mut a = vec![
            BlockQ8_0 {
                d: f16::ZERO,
                qs: [0; 32]
            };
            8
        ];
        let mut b = a.clone();
        r::quantize_row_q8_0(&x, &mut a);
        (k.quantize_row_q8_0)(&x, &mut b);
        assert!(same_bytes(&a, &b), "{tier} q8_0");
        let mut a = vec![
            BlockQ8K {
                d: 0.0,
                qs: [0; 256],
                bsums: [0; 16]
            };
            1
        ];
        let mut b = a.clone();
        r::quantize_row_q8_k(&x, &mut a);
        (k.quantize_row_q8_k)(&x, &mut b);
        assert!(same_bytes(&a, &b), "{tier} q8_k");
    }
}

/// The float GEMM tiles (F32 / F16 / BF16 weights): every tile shape, any row length
/// (tails), against the reference dot within the float tolerance, and bit-identical to a
/// 1×1 tile and to the tier's `vec_dot` of the same row and token.
macro_rules! float_gemm_test {
    ($name:ident, $W:ty, $field:ident, $gemm:ident, $dot:ident, $conv:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            #[test]
            fn $name(
                (n, mr, nt) in (1usize..70, 1usize..=4, 1usize..=4),
                v in prop::collection::vec(-4.0f32..4.0, 8 * 70),
            ) {
                let w: Vec<$W> = (0..mr * n).map(|i| $conv(v[i % v.len()])).collect();
                let x: Vec<f32> = (0..nt * n).map(|i| v[(i * 7 + 3) % v.len()]).collect();
                for (tier, k) in tiers() {
                    let gemm = k.$field.gemm.expect("x86 tiers provide the float GEMM tiles");
                    let mut out = [f32::NAN; 17];
                    gemm(&w, &x, n, &mut out);
                    prop_assert!(out[mr * nt].is_nan(), "{} wrote past the tile", tier);
                    for t in 0..nt {
                        for r in 0..mr {
                            let (wr, xr) = (&w[r * n..(r + 1) * n], &x[t * n..(t + 1) * n]);
                            let got = out[t * mr + r];
                            let mag: f64 = wr
                                .iter()
                                .zip(xr)
                                .map(|(a, b)| (f64::from(a.to_f32()) * f64::from(*b)).abs())
                                .sum();
                            check(tier, stringify!($gemm), got, r::$dot(wr, xr), n, mag);
                            let mut one = [f32::NAN; 1];
                            gemm(wr, xr, n, &mut one);
                            prop_assert_eq!(one[0].to_bits(), got.to_bits(), "{} tile shape", tier);
                            let dot = (k.$field.dot)(wr, xr);
                            prop_assert_eq!(dot.to_bits(), got.to_bits(), "{} tile vs vec_dot", tier);
                        }
                    }
                }
            }
        }
    };
}

trait ToF32 {
    fn to_f32(&self) -> f32;
}
impl ToF32 for f32 {
    fn to_f32(&self) -> f32 {
        *self
    }
}
impl ToF32 for f16 {
    fn to_f32(&self) -> f32 {
        f16::to_f32(*self)
    }
}
impl ToF32 for bf16 {
    fn to_f32(&self) -> f32 {
        bf16::to_f32(*self)
    }
}

float_gemm_test!(gemm_f32_tiles, f32, f32, gemm_f32, vec_dot_f32, |v: f32| v);
float_gemm_test!(
    gemm_f16_tiles,
    f16,
    f16,
    gemm_f16_f32,
    vec_dot_f16_f32,
    f16::from_f32
);
float_gemm_test!(
    gemm_bf16_tiles,
    bf16,
    bf16,
    gemm_bf16_f32,
    vec_dot_bf16_f32,
    bf16::from_f32
);
